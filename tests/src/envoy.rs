//! A real Envoy process running meshward.wasm, configured from `envoy/meshward.yaml`
//! the way istiod configures a WasmPlugin. Stopped when dropped, also on test failure.

use crate::paths;
use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static INSTANCE: AtomicU32 = AtomicU32::new(0);

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// How to start Envoy.
#[derive(Debug, Clone)]
pub struct EnvoyOptions {
    /// The pluginConfig as JSON text (Istio hands the filter JSON).
    pub plugin_config: String,
    /// Worker threads.
    pub concurrency: u32,
    /// Port of the upstream (`inbound|8080||`).
    pub upstream_port: u16,
    /// Port of the collector sink (`outbound|4318||collector.local`).
    pub sink_port: u16,
    /// Listener's `per_connection_buffer_limit_bytes`.
    pub buffer_limit: u64,
    /// Template to render (default `envoy/meshward.yaml`).
    pub template: PathBuf,
    /// Extra template substitutions.
    pub vars: Vec<(String, String)>,
    /// HTTP filters before meshward, as `- {json}` list items.
    pub pre_filters: String,
    /// Envoy's `allow_on_headers_stop_iteration` on the Wasm filter.
    pub allow_stop_iteration: bool,
    /// Extra keys of the listener's filter chain (one line of YAML).
    pub filter_chain_extra: String,
}

impl EnvoyOptions {
    /// Options for a pluginConfig given as JSON text.
    pub fn new(plugin_config: &str, upstream_port: u16, sink_port: u16) -> Self {
        Self {
            plugin_config: plugin_config.to_string(),
            concurrency: 1,
            upstream_port,
            sink_port,
            buffer_limit: 1 << 20,
            template: paths::root().join("envoy/meshward.yaml"),
            vars: Vec::new(),
            pre_filters: String::new(),
            allow_stop_iteration: false,
            filter_chain_extra: String::new(),
        }
    }

    /// Terminates mTLS on the listener the way an Istio inbound chain does: the client
    /// must present a certificate signed by `ca` (its URI SAN is the SPIFFE id).
    pub fn mtls(
        mut self,
        cert: &std::path::Path,
        key: &std::path::Path,
        ca: &std::path::Path,
    ) -> Self {
        let ts = serde_json::json!({
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                "require_client_certificate": true,
                "common_tls_context": {
                    "tls_certificates": [{"certificate_chain": {"filename": cert},
                                          "private_key": {"filename": key}}],
                    "validation_context": {"trusted_ca": {"filename": ca}}
                }
            }
        });
        self.filter_chain_extra = format!("transport_socket: {ts}");
        self
    }

    /// Sets Envoy's `allow_on_headers_stop_iteration` (for `inspection.hold_headers`).
    pub fn allow_stop_iteration(mut self) -> Self {
        self.allow_stop_iteration = true;
        self
    }

    /// Puts Envoy's jwt_authn in front of meshward the way an Istio
    /// `RequestAuthentication` does: local JWKS, payload in metadata under the issuer.
    pub fn jwt_authn(mut self, issuer: &str, jwks: &str) -> Self {
        let filter = serde_json::json!({
            "name": "envoy.filters.http.jwt_authn",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
                "providers": {"origins-0": {
                    "issuer": issuer,
                    "local_jwks": {"inline_string": jwks},
                    "payload_in_metadata": issuer,
                    "forward": true
                }},
                "rules": [{"match": {"prefix": "/"}, "requires": {"requires_any": {"requirements": [
                    {"provider_name": "origins-0"}, {"allow_missing": {}}]}}}]
            }
        });
        self.pre_filters = format!("- {filter}");
        self
    }
    /// Sets the worker count.
    pub fn concurrency(mut self, n: u32) -> Self {
        self.concurrency = n;
        self
    }
    /// Adds a template substitution.
    pub fn var(mut self, k: &str, v: &str) -> Self {
        self.vars.push((k.to_string(), v.to_string()));
        self
    }
}

/// A running Envoy.
#[derive(Debug)]
pub struct Envoy {
    child: Child,
    /// Listener port (send traffic here).
    pub port: u16,
    /// Admin port.
    pub admin: u16,
    /// Directory with the rendered config and the log.
    pub dir: tempfile::TempDir,
    /// Envoy came up: from then on a Wasm VM failure in its log fails the test (a
    /// refused configuration, which fails the VM on purpose, never gets here).
    started: bool,
}

/// Envoy did not come up; its log says why.
#[derive(Debug)]
pub struct StartError {
    /// Everything Envoy logged.
    pub log: String,
    /// Exit status, when it exited.
    pub exited: Option<i32>,
}

/// Renders `template` with `${NAME}` substitutions.
pub fn render(template: &str, vars: &[(String, String)]) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("${{{k}}}"), v);
    }
    out
}

impl Envoy {
    /// Starts Envoy and waits until it is ready and its listener accepts connections.
    /// Ports come from the kernel's ephemeral range and are free when picked; another
    /// process can take one before Envoy binds it, so a start that lost its port is
    /// retried with new ports (up to three times).
    pub fn start(opts: &EnvoyOptions) -> Result<Envoy, StartError> {
        for _ in 0..3 {
            match Self::start_once(opts) {
                Ok(envoy) => {
                    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], envoy.port));
                    if std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok() {
                        return Ok(envoy);
                    }
                }
                Err(e) if e.log.contains("Address already in use") => {}
                Err(e) => return Err(e),
            }
        }
        Err(StartError {
            log: "the listener never accepted connections (ports taken three times)".to_string(),
            exited: None,
        })
    }

    fn start_once(opts: &EnvoyOptions) -> Result<Envoy, StartError> {
        let wasm = paths::wasm();
        assert!(
            wasm.exists(),
            "{} is missing: build it with `cargo build -p meshward --target wasm32-wasip1 --release` (scripts/test.sh does)",
            wasm.display()
        );
        let dir = tempfile::Builder::new()
            .prefix("meshward-envoy-")
            .tempdir()
            .expect("temp dir");
        let port = free_port();
        let admin = free_port();
        let template = fs::read_to_string(&opts.template).expect("envoy template");
        let mut vars = vec![
            ("ADMIN_PORT".to_string(), admin.to_string()),
            ("LISTEN_PORT".to_string(), port.to_string()),
            ("UPSTREAM_PORT".to_string(), opts.upstream_port.to_string()),
            ("SINK_PORT".to_string(), opts.sink_port.to_string()),
            ("WASM_PATH".to_string(), wasm.display().to_string()),
            ("BUFFER_LIMIT".to_string(), opts.buffer_limit.to_string()),
            ("PRE_FILTERS".to_string(), opts.pre_filters.clone()),
            (
                "FILTER_CHAIN_EXTRA".to_string(),
                opts.filter_chain_extra.clone(),
            ),
            (
                "ALLOW_STOP_ITERATION".to_string(),
                opts.allow_stop_iteration.to_string(),
            ),
            (
                "PLUGIN_CONFIG".to_string(),
                serde_json::to_string(&opts.plugin_config).expect("json string"),
            ),
        ];
        vars.extend(opts.vars.iter().cloned());
        let config = render(&template, &vars);
        let cfg_path = dir.path().join("envoy.yaml");
        fs::write(&cfg_path, config).expect("write envoy config");
        let log_path = dir.path().join("envoy.log");
        let log = fs::File::create(&log_path).expect("log file");
        let n = INSTANCE.fetch_add(1, Ordering::SeqCst);
        let base_id = (std::process::id() % 10_000) * 100 + n % 100;
        let child = Command::new(paths::envoy())
            .arg("-c")
            .arg(&cfg_path)
            .arg("--concurrency")
            .arg(opts.concurrency.to_string())
            .arg("--base-id")
            .arg(base_id.to_string())
            .arg("-l")
            .arg("warning")
            .arg("--component-log-level")
            .arg("wasm:info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log.try_clone().expect("log handle")))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run Envoy at {}: {e} (scripts/setup.sh installs it)",
                    paths::envoy().display()
                )
            });
        let mut envoy = Envoy {
            child,
            port,
            admin,
            dir,
            started: false,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = envoy.child.try_wait() {
                return Err(StartError {
                    log: envoy.log(),
                    exited: status.code(),
                });
            }
            if let Some(body) = envoy.admin_get("/ready") {
                if body.trim() == "LIVE" {
                    envoy.started = true;
                    return Ok(envoy);
                }
            }
            if Instant::now() > deadline {
                return Err(StartError {
                    log: envoy.log(),
                    exited: None,
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything Envoy logged so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = fs::File::open(self.dir.path().join("envoy.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// GET on the admin port; `None` when it does not answer 200.
    pub fn admin_get(&self, path: &str) -> Option<String> {
        let agent = crate::client::agent();
        let mut resp = agent
            .get(format!("http://127.0.0.1:{}{}", self.admin, path))
            .call()
            .ok()?;
        if resp.status() != 200 {
            return None;
        }
        resp.body_mut().read_to_string().ok()
    }

    /// POST on the admin port.
    pub fn admin_post(&self, path: &str) -> Option<String> {
        let agent = crate::client::agent();
        let mut resp = agent
            .post(format!("http://127.0.0.1:{}{}", self.admin, path))
            .send_empty()
            .ok()?;
        resp.body_mut().read_to_string().ok()
    }

    /// `/stats/prometheus` text.
    pub fn prometheus(&self) -> String {
        self.admin_get("/stats/prometheus").unwrap_or_default()
    }

    /// Value of one Prometheus sample, e.g. `meshward_requests_total{protocol="rest"}`
    /// (0 when absent).
    pub fn metric(&self, sample: &str) -> f64 {
        metric_in(&self.prometheus(), sample)
    }

    /// Process id of Envoy (for `/proc` readings).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Envoy's resident memory (`VmRSS` of `/proc/<pid>/status`), in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("/proc/<pid>/status of Envoy");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    /// Base URL of the listener.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Log lines that show the Wasm VM failed (a trap or a panic).
    pub fn vm_failures(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("panicked")
                    || l.contains("wasm vm failed")
                    || l.contains("runtime error")
                    || l.contains("unreachable")
                    || l.contains("failed to call")
            })
            .map(str::to_string)
            .collect()
    }
}

/// Value of a Prometheus sample in an exposition text (0 when absent). The sample is
/// the metric name with its labels exactly as Envoy prints them.
pub fn metric_in(text: &str, sample: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name == sample)
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .unwrap_or(0.0)
}

impl Drop for Envoy {
    /// Stops Envoy, and fails the test when its log shows a Wasm VM failure (a trap, a
    /// panic): no e2e test may leave one behind, whatever it asserted itself.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let failures = if self.started {
            self.vm_failures()
        } else {
            Vec::new()
        };
        if !failures.is_empty() && !std::thread::panicking() {
            panic!(
                "the Wasm VM failed in {}:\n{}",
                self.dir.path().display(),
                failures.join("\n")
            );
        }
    }
}
