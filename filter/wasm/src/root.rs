//! The root context of one VM (main thread or a worker): loads the configuration,
//! defines metrics, creates HTTP contexts, and ships this worker's event buffer to the
//! collector from `on_tick`: never from a stream, never on the request path.

use crate::envoy::{self, log, EnvoyHost};
use crate::http::Stream;
use meshward_core::config::{self, EventsPolicy};
use meshward_core::events::{EventQueue, Frame, QueueConfig, Record, SendResult};
use meshward_core::host::Host;
use meshward_core::identity::{parse_spiffe, Workload};
use meshward_core::peer::{self, Source};
use meshward_core::runtime::{NodeInfo, Runtime};
use meshward_core::stats::{DropCause, ErrorSite};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel, MapType, Status};
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::time::Duration;

/// Facts of a downstream connection that stay the same for all its requests.
#[derive(Debug, Default)]
pub struct ConnFacts {
    /// Envoy's `connection.id` (`None`: unknown, the facts were read for one request).
    pub id: Option<u64>,
    /// `xds.listener_direction`.
    pub direction: i64,
    /// `connection.uri_san_peer_certificate` parsed as a SPIFFE id (once per
    /// connection; its requests share it).
    pub workload: Option<Rc<Workload>>,
    /// `connection.mtls`.
    pub mtls: bool,
    /// `source.address` as read for a request of this connection that carried no
    /// forwarded address (`meshward_core::peer`): the TCP peer, read and parsed once.
    peer: OnceCell<Rc<Source>>,
}

impl ConnFacts {
    fn read(id: Option<u64>) -> Self {
        Self {
            id,
            direction: envoy::property_i64(&["xds", "listener_direction"]).unwrap_or(0),
            workload: envoy::property_str(&["connection", "uri_san_peer_certificate"])
                .as_deref()
                .and_then(parse_spiffe)
                .map(Rc::new),
            mtls: envoy::property(&["connection", "mtls"])
                .is_some_and(|b| b.first().copied().unwrap_or(0) != 0),
            peer: OnceCell::new(),
        }
    }

    /// This request's `source.address`, parsed. When `per_connection`
    /// (`meshward_core::peer::per_connection`), the connection's TCP peer: read and
    /// parsed for its first such request and kept, which saves the later requests a
    /// property read (~10k instructions in Envoy each) and the parsing; otherwise read
    /// for this request.
    pub fn source(&self, per_connection: bool) -> Option<Rc<Source>> {
        let read = || envoy::property_str(&["source", "address"]);
        if !per_connection || self.id.is_none() {
            return read().map(|a| Rc::new(Source::parse(&a)));
        }
        if let Some(s) = self.peer.get() {
            return Some(Rc::clone(s));
        }
        let a = read()?;
        let s = Rc::new(Source::parse(&a));
        if peer::cacheable(&a) {
            let _ = self.peer.set(Rc::clone(&s));
        }
        Some(s)
    }
}

/// Slots of the per-VM connection cache (direct-mapped by connection id).
const CONN_SLOTS: usize = 64;

/// What streams share with the root context of their VM.
#[derive(Debug)]
pub struct Active {
    /// The configuration in force.
    pub rt: Rc<Runtime>,
    /// Metrics and shared data.
    pub host: EnvoyHost,
    /// This worker's event buffer, when events are exported.
    pub queue: Option<RefCell<EventQueue>>,
    /// An `envoy_jwt` source needs jwt_authn's metadata on each request.
    pub wants_jwt_authn: bool,
    /// Connection facts of recent connections (keep-alive: one read per connection
    /// instead of three property reads per request). Bounded.
    conns: RefCell<Vec<Option<Rc<ConnFacts>>>>,
}

impl Active {
    /// The facts of the current stream's connection, from the cache when this VM has
    /// seen the connection before (Envoy connection ids are unique per process).
    pub fn connection(&self) -> Rc<ConnFacts> {
        let id = envoy::property_u64(&["connection", "id"]);
        let Some(id) = id else {
            return Rc::new(ConnFacts::read(None));
        };
        let slot = usize::try_from(id % CONN_SLOTS as u64).unwrap_or(0);
        if let Ok(conns) = self.conns.try_borrow() {
            if let Some(Some(c)) = conns.get(slot) {
                if c.id == Some(id) {
                    return Rc::clone(c);
                }
            }
        }
        let facts = Rc::new(ConnFacts::read(Some(id)));
        if let Ok(mut conns) = self.conns.try_borrow_mut() {
            if conns.is_empty() {
                conns.resize(CONN_SLOTS, None);
            }
            if let Some(s) = conns.get_mut(slot) {
                *s = Some(Rc::clone(&facts));
            }
        }
        facts
    }

    /// Encodes a record straight into the event buffer, counting a drop when the
    /// buffer is full and an internal error when the record cannot be encoded.
    pub fn enqueue<R: Record>(&self, record: &R) {
        let Some(q) = &self.queue else {
            return;
        };
        let Ok(mut q) = q.try_borrow_mut() else {
            return;
        };
        match q.push_record(record) {
            Ok(true) => {}
            Ok(false) => {
                self.host
                    .incr(self.rt.layout.events_dropped(DropCause::BufferFull), 1);
                let _ = q.take_buffer_full_drops();
            }
            Err(_) => self
                .host
                .incr(self.rt.layout.internal_error(ErrorSite::Encode), 1),
        }
    }
}

/// The root context.
#[derive(Debug, Default)]
pub struct Root {
    active: Option<Rc<Active>>,
    in_flight: Option<(u32, u64)>,
    /// Header values from the VM environment (`events.headers_env`).
    extra_headers: Vec<(String, String)>,
}

fn node_info(env_names: &[String]) -> NodeInfo {
    NodeInfo {
        workload_name: envoy::property_str(&["node", "metadata", "WORKLOAD_NAME"]),
        namespace: envoy::property_str(&["node", "metadata", "NAMESPACE"]),
        plugin_name: envoy::property_str(&["plugin_name"]).unwrap_or_default(),
        seed: envoy::now_ms() ^ 0x9E37_79B9_7F4A_7C15,
        // The VM environment (vm_config.environment_variables / WasmPlugin vmConfig.env).
        env: env_names
            .iter()
            .filter_map(|n| std::env::var(n).ok().map(|v| (n.clone(), v)))
            .collect(),
    }
}

/// The queue settings of an `events` policy.
fn queue_config(e: &EventsPolicy) -> QueueConfig {
    QueueConfig {
        max_batch: e.max_batch,
        max_buffered: e.max_buffered,
        flush_interval_ms: e.flush_interval_ms,
        timeout_ms: e.timeout_ms,
    }
}

impl Root {
    fn events(&self) -> Option<(&Rc<Active>, &EventsPolicy)> {
        let a = self.active.as_ref()?;
        let e = a.rt.policy.events.as_ref()?;
        Some((a, e))
    }

    /// Sends the next batch if one is due.
    fn flush(&mut self, force: bool) {
        let now = envoy::now_ms();
        let Some((active, ev)) = self.events() else {
            return;
        };
        let active = Rc::clone(active);
        let ev = ev.clone();
        let Some(q) = &active.queue else {
            return;
        };
        let Ok(mut queue) = q.try_borrow_mut() else {
            return;
        };
        if self.in_flight.is_some() {
            if queue.overdue(now) {
                self.in_flight = None;
                let c = queue.complete(SendResult::TimedOut, now);
                drop(queue);
                self.count_completion(&active, c, false);
            }
            return;
        }
        let content_type = queue.content_type();
        let Some(batch) = queue.poll(now, force) else {
            count_damaged(&active, &mut queue);
            return;
        };
        let (records, attempt) = (batch.records, batch.attempt);
        let mut headers: Vec<(&str, &str)> = vec![
            (":method", "POST"),
            (":path", &ev.path),
            (":authority", &ev.authority),
            ("content-type", content_type),
            ("user-agent", "meshward"),
        ];
        for (k, v) in &self.extra_headers {
            headers.push((k, v));
        }
        let result = hostcalls::dispatch_http_call(
            &ev.cluster,
            headers,
            Some(batch.body),
            vec![],
            Duration::from_millis(ev.timeout_ms),
        );
        match result {
            Ok(token) => {
                self.in_flight = Some((token, now));
                count_damaged(&active, &mut queue);
            }
            Err(status) => {
                count_damaged(&active, &mut queue);
                let cause = if status == Status::BadArgument {
                    SendResult::NoCluster
                } else {
                    active
                        .host
                        .incr(active.rt.layout.internal_error(ErrorSite::Dispatch), 1);
                    SendResult::Failed
                };
                let c = queue.complete(cause, now);
                drop(queue);
                if cause == SendResult::NoCluster && attempt == 1 {
                    log(
                        LogLevel::Warn,
                        &format!(
                            "meshward: events.cluster \"{}\" does not exist on this proxy; {} records dropped",
                            ev.cluster, records
                        ),
                    );
                }
                self.count_completion(&active, c, false);
            }
        }
    }

    fn count_completion(
        &self,
        active: &Active,
        c: meshward_core::events::Completion,
        answered: bool,
    ) {
        let l = &active.rt.layout;
        if c.sent > 0 {
            active.host.incr(l.events_sent(), c.sent as u64);
        }
        if answered {
            active.host.incr(l.event_batches(c.sent > 0), 1);
        } else if c.sent == 0 {
            active.host.incr(l.event_batches(false), 1);
        }
        if let Some((cause, n)) = c.dropped {
            active.host.incr(l.events_dropped(cause), n as u64);
        }
    }
}

/// Counts the queue's damaged entries (left out of their batch) as encoding errors.
fn count_damaged(active: &Active, queue: &mut EventQueue) {
    let n = queue.take_damaged();
    if n > 0 {
        active
            .host
            .incr(active.rt.layout.internal_error(ErrorSite::Encode), n);
    }
}

impl Context for Root {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        num_headers: usize,
        _body_size: usize,
        _num_trailers: usize,
    ) {
        let Some((token, started)) = self.in_flight else {
            return;
        };
        if token != token_id {
            return;
        }
        self.in_flight = None;
        let now = envoy::now_ms();
        let status = crate::host_read::map_value(MapType::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten()
            .and_then(|s| String::from_utf8(s).ok())
            .and_then(|s| s.parse::<u16>().ok());
        let Some((active, ev)) = self.events() else {
            return;
        };
        let active = Rc::clone(active);
        let timeout_ms = ev.timeout_ms;
        // Envoy answers a timed-out call with its own 504 (or, on older hosts, with no
        // headers at all); a 504 after the timeout has run out is a timeout.
        let timed_out = now.saturating_sub(started) + 50 >= timeout_ms;
        let result = match status {
            Some(s) if (200..300).contains(&s) => SendResult::Ok,
            Some(504) if timed_out => SendResult::TimedOut,
            None if num_headers == 0 && timed_out => SendResult::TimedOut,
            _ => SendResult::Failed,
        };
        let c = match &active.queue {
            Some(q) => match q.try_borrow_mut() {
                Ok(mut q) => q.complete(result, now),
                Err(_) => return,
            },
            None => return,
        };
        self.count_completion(&active, c, true);
        // A full batch may be waiting: do not wait for the next tick.
        self.flush(false);
    }

    fn on_done(&mut self) -> bool {
        // Flush what the host lets us before the context goes away.
        self.flush(true);
        true
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default();
        let loaded = match config::load(&bytes) {
            Ok(l) => l,
            Err(e) => {
                log(LogLevel::Error, &e.to_string());
                return false;
            }
        };
        for w in &loaded.warnings {
            log(LogLevel::Warn, &format!("meshward: pluginConfig: {w}"));
        }
        let node = node_info(&meshward_core::runtime::env_names(&loaded.policy));
        let rt = Runtime::new(loaded.policy, &node);
        for w in &rt.warnings {
            log(LogLevel::Warn, &format!("meshward: {w}"));
        }
        let wants_jwt_authn = rt
            .policy
            .identity
            .sources
            .iter()
            .any(|s| matches!(s, meshward_core::config::SourcePolicy::EnvoyJwt { .. }));
        let host = EnvoyHost::define(&rt.layout);
        host.set_gauge(rt.layout.config_info(), 1);
        if rt.prepare(&host).is_err() {
            host.incr(rt.layout.internal_error(ErrorSite::SharedData), 1);
        }
        let now = envoy::now_ms();
        let queue = rt.policy.events.as_ref().map(|e| {
            RefCell::new(EventQueue::new(
                queue_config(e),
                Frame::new(e.format, &rt.service, meshward_core::VERSION),
                now,
            ))
        });
        self.extra_headers = rt
            .policy
            .events
            .as_ref()
            .map(|e| {
                e.headers_env
                    .iter()
                    .filter_map(|(h, env)| std::env::var(env).ok().map(|v| (h.clone(), v)))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(e) = &rt.policy.events {
            // At most 100 ms apart: a full batch does not wait for `flush_interval`.
            let tick = queue_config(e).tick_ms();
            if hostcalls::set_tick_period(Duration::from_millis(tick)).is_err() {
                host.incr(rt.layout.internal_error(ErrorSite::HostCall), 1);
            }
        }
        // Streams of the previous configuration keep their own `Active` until they end;
        // its unsent records are flushed now.
        self.flush(true);
        self.active = Some(Rc::new(Active {
            rt: Rc::new(rt),
            host,
            queue,
            wants_jwt_authn,
            conns: RefCell::new(Vec::new()),
        }));
        true
    }

    fn on_tick(&mut self) {
        self.flush(false);
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream::new(self.active.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
