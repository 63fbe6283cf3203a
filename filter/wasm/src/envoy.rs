//! Envoy through proxy-wasm host calls: logging, properties, and the core's `Host`
//! (metrics by layout index, shared data with CAS, wall-clock time). Every host call
//! goes through `proxy_wasm::hostcalls`, whose errors are values, never traps.

use meshward_core::clock::Clock;
use meshward_core::host::{CasOutcome, Host, HostError};
use meshward_core::stats::{ErrorSite, Layout, MetricIdx, MetricKind};
use proxy_wasm::hostcalls;
use proxy_wasm::types::{LogLevel, MetricType, Status};

/// Logs at `level`; a failing log call is ignored (nowhere else to report it).
pub fn log(level: LogLevel, msg: &str) {
    let _ = hostcalls::log(level, msg);
}

/// A property as raw bytes (`None` when absent or unreadable).
pub fn property(path: &[&str]) -> Option<Vec<u8>> {
    crate::host_read::property(path).ok().flatten()
}

/// A string property.
pub fn property_str(path: &[&str]) -> Option<String> {
    property(path).and_then(|b| String::from_utf8(b).ok())
}

/// An integer property (Envoy serialises integers as 8 little-endian bytes).
pub fn property_i64(path: &[&str]) -> Option<i64> {
    let b = property(path)?;
    let arr: [u8; 8] = b.get(..8)?.try_into().ok()?;
    Some(i64::from_le_bytes(arr))
}

/// An unsigned integer property (8 little-endian bytes), e.g. `connection.id`.
pub fn property_u64(path: &[&str]) -> Option<u64> {
    let b = property(path)?;
    let arr: [u8; 8] = b.get(..8)?.try_into().ok()?;
    Some(u64::from_le_bytes(arr))
}

/// Wall-clock milliseconds from the host.
pub fn now_ms() -> u64 {
    crate::host_read::now_ms()
}

/// The core's host on this VM: metric ids of the current layout, and the shared data
/// of the proxy.
#[derive(Debug)]
pub struct EnvoyHost {
    ids: Vec<u32>,
    internal_host_call: Option<u32>,
}

impl EnvoyHost {
    /// Defines every metric of `layout` (on_configure). A metric Envoy refuses is
    /// logged once and left out; bumping it is then a no-op.
    pub fn define(layout: &Layout) -> Self {
        let mut ids = Vec::with_capacity(layout.defs().len());
        let mut refused = 0usize;
        for d in layout.defs() {
            let t = match d.kind {
                MetricKind::Counter => MetricType::Counter,
                MetricKind::Gauge => MetricType::Gauge,
                MetricKind::Histogram => MetricType::Histogram,
            };
            match hostcalls::define_metric(t, &d.name) {
                Ok(id) => ids.push(id),
                Err(_) => {
                    refused += 1;
                    ids.push(u32::MAX);
                }
            }
        }
        if refused > 0 {
            log(
                LogLevel::Warn,
                &format!("meshward: Envoy refused {refused} metric definitions"),
            );
        }
        let internal_host_call = ids
            .get(layout.internal_error(ErrorSite::HostCall).0 as usize)
            .copied();
        Self {
            ids,
            internal_host_call,
        }
    }

    fn id(&self, m: MetricIdx) -> Option<u32> {
        self.ids
            .get(m.0 as usize)
            .copied()
            .filter(|i| *i != u32::MAX)
    }

    fn host_call_failed(&self) {
        if let Some(id) = self.internal_host_call {
            let _ = hostcalls::increment_metric(id, 1);
        }
    }
}

impl Clock for EnvoyHost {
    fn now_ms(&self) -> u64 {
        now_ms()
    }
}

impl Host for EnvoyHost {
    fn incr(&self, m: MetricIdx, n: u64) {
        if let Some(id) = self.id(m) {
            let _ = hostcalls::increment_metric(id, i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    fn set_gauge(&self, m: MetricIdx, v: u64) {
        if let Some(id) = self.id(m) {
            let _ = hostcalls::record_metric(id, v);
        }
    }

    fn record(&self, m: MetricIdx, v: u64) {
        if let Some(id) = self.id(m) {
            let _ = hostcalls::record_metric(id, v);
        }
    }

    fn shared_get(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
        match hostcalls::get_shared_data(key) {
            Ok((Some(v), cas)) => Ok(Some((v, cas.unwrap_or(0)))),
            Ok((None, _)) => Ok(None),
            Err(_) => {
                self.host_call_failed();
                Err(HostError)
            }
        }
    }

    fn shared_set(&self, key: &str, value: &[u8], cas: u32) -> Result<CasOutcome, HostError> {
        let cas = if cas == 0 { None } else { Some(cas) };
        match hostcalls::set_shared_data(key, Some(value), cas) {
            Ok(()) => Ok(CasOutcome::Stored),
            Err(Status::CasMismatch) => Ok(CasOutcome::Conflict),
            Err(_) => {
                self.host_call_failed();
                Err(HostError)
            }
        }
    }
}
