//! The benchmark's calibration filter: what any Proxy-Wasm filter pays in Envoy before
//! it does anything of its own, measured in the same run as meshward (`calib-*`
//! setups of `scripts/bench.sh`, docs/performance.md). Not shipped.
//!
//! The plugin configuration is one word:
//! - `noop`: reads one request header and bumps one counter (the spec's "filter that
//!   only reads one header and bumps one counter");
//! - `body`: `noop`, and the response body buffered, copied into the VM, every byte
//!   read once and the body written back (the spec's second calibration filter), with
//!   `content-length` removed from the response headers as a filter that may rewrite
//!   the body must;
//! - `bodies`: `body`, and the request body copied into the VM and read once too: the
//!   body traffic of meshward's `full` (which reads both), without its work.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType};

/// What the filter does beyond the no-op.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mode {
    #[default]
    Noop,
    Body,
    Bodies,
}

#[derive(Default)]
struct Root {
    mode: Mode,
    /// The counter bumped once per request.
    counter: u32,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default();
        self.mode = match config.as_slice() {
            b"" | b"noop" => Mode::Noop,
            b"body" => Mode::Body,
            b"bodies" => Mode::Bodies,
            _ => {
                proxy_wasm::hostcalls::log(
                    LogLevel::Error,
                    "calib: configuration must be `noop`, `body` or `bodies`",
                )
                .ok();
                return false;
            }
        };
        match hostcalls::define_metric(MetricType::Counter, "calib_requests_total") {
            Ok(id) => {
                self.counter = id;
                true
            }
            Err(_) => false,
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream {
            mode: self.mode,
            counter: self.counter,
            sum: 0,
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Stream {
    mode: Mode,
    counter: u32,
    /// A value that depends on every byte read, so that the read is not optimised away.
    sum: u64,
}

impl Context for Stream {}

/// Reads every byte of `b` once.
fn touch(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |h, &c| h.rotate_left(5) ^ u64::from(c))
}

impl Stream {
    /// The whole body of `buffer` once the stream ended, every byte read; `None`:
    /// wait for more.
    fn read(&mut self, buffer: BufferType, size: usize, end: bool) -> Option<Vec<u8>> {
        if !end {
            return None;
        }
        let body = hostcalls::get_buffer(buffer, 0, size).ok().flatten()?;
        self.sum ^= touch(&body);
        Some(body)
    }
}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let Ok(Some(v)) = hostcalls::get_map_value(MapType::HttpRequestHeaders, "x-tenant") {
            self.sum ^= v.len() as u64;
        }
        hostcalls::increment_metric(self.counter, 1).ok();
        Action::Continue
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if self.mode != Mode::Bodies {
            return Action::Continue;
        }
        match self.read(BufferType::HttpRequestBody, size, end_of_stream) {
            Some(_) => Action::Continue,
            None => Action::Pause,
        }
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.mode != Mode::Noop {
            hostcalls::set_map_value(MapType::HttpResponseHeaders, "content-length", None).ok();
        }
        Action::Continue
    }

    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if self.mode == Mode::Noop {
            return Action::Continue;
        }
        match self.read(BufferType::HttpResponseBody, size, end_of_stream) {
            Some(body) => {
                hostcalls::set_buffer(BufferType::HttpResponseBody, 0, size, &body).ok();
                Action::Continue
            }
            None => Action::Pause,
        }
    }

    fn on_log(&mut self) {
        // Keeps `sum` alive: a request whose bytes hash to this value logs once.
        if self.sum == 0x5eed_5eed_5eed_5eed {
            hostcalls::log(LogLevel::Trace, "calib").ok();
        }
    }
}

// `proxy_wasm::main!` exports `_start`, which needs `#[no_mangle]`.
#[allow(unsafe_code)]
mod entry {
    proxy_wasm::main! {{
        proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
            Box::new(super::Root::default())
        });
    }}
}
