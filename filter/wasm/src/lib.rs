//! meshward: the Proxy-Wasm adapter. Implements the proxy-wasm SDK traits over
//! `meshward-core`; reads only what the core needs and applies the core's decisions.

mod envoy;
mod host_read;
mod http;
mod root;

use proxy_wasm::types::LogLevel;

// `proxy_wasm::main!` exports `_start`, which needs `#[no_mangle]`.
#[allow(unsafe_code)]
mod entry {
    use super::{root::Root, LogLevel};
    proxy_wasm::main! {{
        proxy_wasm::set_log_level(LogLevel::Info);
        proxy_wasm::set_root_context(|_| -> Box<dyn proxy_wasm::traits::RootContext> {
            Box::new(Root::default())
        });
    }}
}
