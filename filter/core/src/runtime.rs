//! What one VM holds for its configuration: the compiled policy, its stats layout, the
//! resolved service name, and every engine compiled from the policy (templater,
//! identifier, classifier, detector, limiters, behaviour, shared sets). Built once in
//! `on_configure`; immutable afterwards except for the sampler and per-VM caches.

use crate::api::Templater;
use crate::behavior::Behavior;
use crate::config::de::Switch;
use crate::config::Policy;
use crate::detect::{Detector, Family, FamilySet};
use crate::identity::Identifier;
use crate::inventory::SharedSet;
use crate::protect::limits::{DataLimiter, RateLimiter};
use crate::sensitive::{Classifier, Hits};
use crate::stats::Layout;
use std::cell::{Cell, RefCell};

/// The per-VM runtime of one configuration.
#[derive(Debug)]
pub struct Runtime {
    /// The compiled policy.
    pub policy: Policy,
    /// Every metric of this policy.
    pub layout: Layout,
    /// Service name used in events.
    pub service: String,
    /// Plugin name: prefix of every shared-data key (other plugins share the map).
    pub plugin: String,
    /// HMAC key for hashed values, accounts and masking `hash`, from
    /// `events.hash_key_env` (empty when unset: hashes are then unkeyed SHA-256).
    pub hash_key: Vec<u8>,
    /// Endpoint templating.
    pub templater: Templater,
    /// Account identification.
    pub identifier: Identifier,
    /// Sensitive data classification and masking.
    pub classifier: Classifier,
    /// Payload attack detection (enabled families only).
    pub detector: Detector,
    /// One limiter per `rate_limits` entry.
    pub rate_limiters: Vec<RateLimiter>,
    /// One limiter per `data_limits` entry.
    pub data_limiters: Vec<DataLimiter>,
    /// Behavioural detections.
    pub behavior: Behavior,
    /// The endpoint inventory of this pod and config.
    pub endpoints: SharedSet,
    /// Findings already reported on this pod and config.
    pub findings: SharedSet,
    /// Levels of data each endpoint has carried on this pod and config
    /// (endpoint, level) pairs: at most 4 per inventoried endpoint.
    pub levels: SharedSet,
    /// Problems met while building the engines (logged by the adapter as warnings).
    pub warnings: Vec<String>,
    /// For each `masking` rule, the sensitive types (by classifier index) it names:
    /// resolved once here, not by name on every response.
    pub masking_types: Vec<Vec<bool>>,
    rng: Cell<u64>,
    hs256_issuers: std::cell::RefCell<Vec<String>>,
    /// Scan results and scratch buffers reused by every exchange of this VM: the JSON
    /// walker's stack, value buffers and the key-classification cache (JSON keys repeat
    /// across the requests of an API) are allocated once, not per body.
    scratch: RefCell<Hits>,
    /// The limit key of the request in progress (`Subject::key`), reused.
    key: RefCell<Vec<u8>>,
    /// The template of the request in progress, before the exchange keeps it.
    template: RefCell<String>,
}

/// Facts about the proxy the adapter reads once per configuration.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    /// Istio's `WORKLOAD_NAME` node metadata.
    pub workload_name: Option<String>,
    /// Istio's `NAMESPACE` node metadata.
    pub namespace: Option<String>,
    /// The plugin name (`<namespace>.<name>` under Istio).
    pub plugin_name: String,
    /// Seed for the sampler.
    pub seed: u64,
    /// VM environment variables the policy names (`hash_key_env`,
    /// `hs256_secret_env`), as read by the adapter.
    pub env: Vec<(String, String)>,
}

impl NodeInfo {
    /// The value of an environment variable, if the adapter read it.
    pub fn env(&self, name: &str) -> Option<String> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

/// Environment variables a policy reads (the adapter fetches exactly these).
pub fn env_names(policy: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(e) = &policy.records.hash_key_env {
        out.push(e.clone());
    }
    for s in &policy.identity.sources {
        if let crate::config::SourcePolicy::Jwt {
            verify: Some(v), ..
        } = s
        {
            if let Some(e) = &v.hs256_secret_env {
                out.push(e.clone());
            }
        }
    }
    out
}

fn enabled_families(policy: &Policy) -> FamilySet {
    let mut set = FamilySet::EMPTY;
    for f in Family::ALL {
        if policy.detection.family(f.as_str()) != Switch::Off {
            set.insert(f);
        }
    }
    set
}

impl Runtime {
    /// Builds the runtime of `policy` on a node.
    pub fn new(policy: Policy, node: &NodeInfo) -> Self {
        let service = match (&policy.service, &node.workload_name, &node.namespace) {
            (Some(s), _, _) => s.clone(),
            (None, Some(w), Some(ns)) if !w.is_empty() && !ns.is_empty() => format!("{w}.{ns}"),
            _ => node.plugin_name.clone(),
        };
        let layout = Layout::new(&policy, crate::VERSION);
        let plugin = if node.plugin_name.is_empty() {
            "meshward".to_string()
        } else {
            node.plugin_name.clone()
        };
        let (identifier, mut warnings) =
            Identifier::new(&policy.identity, &|name: &str| node.env(name));
        let hash_key = match &policy.records.hash_key_env {
            Some(env) => match node.env(env) {
                Some(k) if !k.is_empty() => k.into_bytes(),
                _ => {
                    warnings.push(format!(
                        "events.hash_key_env: environment variable `{env}` is not set; hashes are unkeyed"
                    ));
                    Vec::new()
                }
            },
            None => Vec::new(),
        };
        let max_endpoints = usize::try_from(policy.apis.max_endpoints).unwrap_or(5000);
        let classifier = Classifier::new(&policy.sensitive);
        let masking_types = policy
            .masking
            .iter()
            .map(|rule| {
                (0..classifier.type_count())
                    .map(|ti| {
                        rule.types.is_empty()
                            || rule.types.iter().any(|t| t == classifier.type_id(ti))
                    })
                    .collect()
            })
            .collect();
        Self {
            templater: Templater::new(&policy.apis),
            identifier,
            classifier,
            masking_types,
            detector: Detector::new(enabled_families(&policy)),
            rate_limiters: policy
                .rate_limits
                .iter()
                .map(|r| RateLimiter::new(&plugin, r))
                .collect(),
            data_limiters: policy
                .data_limits
                .iter()
                .map(|d| DataLimiter::new(&plugin, d))
                .collect(),
            behavior: Behavior::new(&plugin, &policy.detection),
            endpoints: SharedSet::new(format!("{plugin}|mw|ep|{}", policy.hash), max_endpoints),
            findings: SharedSet::new(
                format!("{plugin}|mw|fd|{}", policy.hash),
                max_endpoints.saturating_mul(crate::config::FINDINGS.len()),
            ),
            levels: SharedSet::new(
                format!("{plugin}|mw|lv|{}", policy.hash),
                max_endpoints.saturating_mul(4),
            ),
            warnings,
            policy,
            layout,
            service,
            plugin,
            hash_key,
            rng: Cell::new(node.seed | 1),
            hs256_issuers: std::cell::RefCell::new(Vec::new()),
            scratch: RefCell::new(Hits::new()),
            key: RefCell::new(Vec::with_capacity(64)),
            template: RefCell::new(String::with_capacity(512)),
        }
    }

    /// Runs `f` with this VM's cleared scan results (a fresh `Hits` if they are in use
    /// already, which the exchange never does). The counts are cleared, the buffers
    /// and caches kept.
    pub fn with_hits<R>(&self, f: impl FnOnce(&mut Hits) -> R) -> R {
        match self.scratch.try_borrow_mut() {
            Ok(mut h) => {
                h.clear();
                f(&mut h)
            }
            Err(_) => f(&mut Hits::new()),
        }
    }

    /// This VM's limit-key buffer (`None` while it is in use already, which the
    /// exchange never does).
    pub fn key_buf(&self) -> Option<std::cell::RefMut<'_, Vec<u8>>> {
        self.key.try_borrow_mut().ok()
    }

    /// This VM's template buffer (`None` while it is in use already, which the
    /// exchange never does).
    pub fn template_buf(&self) -> Option<std::cell::RefMut<'_, String>> {
        self.template.try_borrow_mut().ok()
    }

    /// Notes an issuer of an accepted HS256 token; true once this VM has seen two or
    /// more (HMAC secrets shared across issuers: `weak_auth`). Bounded to 16 issuers.
    pub fn hs256_issuers(&self, issuer: Option<&str>) -> bool {
        let mut seen = self.hs256_issuers.borrow_mut();
        if let Some(i) = issuer {
            if !seen.iter().any(|s| s == i) && seen.len() < 16 {
                seen.push(i.to_string());
            }
        }
        seen.len() >= 2
    }

    /// Prepares shared state before traffic (configure time): creates the sets of every
    /// rate and data limit, the endpoint inventory and the findings set, where they do
    /// not exist yet. Returns the values created.
    pub fn prepare(
        &self,
        host: &dyn crate::host::Host,
    ) -> Result<u64, crate::protect::slots::SlotError> {
        let mut n = 0;
        for l in &self.rate_limiters {
            n += l.prepare(host)?;
        }
        for l in &self.data_limiters {
            n += l.prepare(host)?;
        }
        for set in [&self.endpoints, &self.findings, &self.levels] {
            n += u64::from(
                set.prepare(host)
                    .map_err(|_| crate::protect::slots::SlotError::Host)?,
            );
        }
        Ok(n)
    }

    /// A uniform random number in `[0, 1)` (xorshift64*; not for secrets).
    pub fn random_unit(&self) -> f64 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // 53 random bits into a double in [0, 1).
        #[allow(clippy::cast_precision_loss)]
        let f = (r >> 11) as f64 / (1u64 << 53) as f64;
        f
    }

    /// Whether a plain allowed call is recorded, per `events.sample`.
    pub fn sampled(&self) -> bool {
        let s = self.policy.records.sample;
        s >= 1.0 || (s > 0.0 && self.random_unit() < s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn service_name_resolution() {
        let p = load(b"").unwrap().policy;
        let mut node = NodeInfo {
            plugin_name: "shop.meshward".into(),
            ..Default::default()
        };
        assert_eq!(Runtime::new(p.clone(), &node).service, "shop.meshward");
        node.workload_name = Some("orders".into());
        node.namespace = Some("shop".into());
        assert_eq!(Runtime::new(p, &node).service, "orders.shop");
        let p = load(br#"{"service":"billing"}"#).unwrap().policy;
        assert_eq!(Runtime::new(p, &node).service, "billing");
    }

    #[test]
    fn sampling_follows_the_fraction() {
        let p = load(br#"{"events":{"sample":0.25}}"#).unwrap().policy;
        let rt = Runtime::new(
            p,
            &NodeInfo {
                seed: 42,
                ..Default::default()
            },
        );
        let hits = (0..20_000).filter(|_| rt.sampled()).count();
        assert!((4_500..5_500).contains(&hits), "{hits}");
        let p = load(br#"{"events":{"sample":0}}"#).unwrap().policy;
        let rt = Runtime::new(p, &NodeInfo::default());
        assert!(!(0..1000).any(|_| rt.sampled()));
    }

    #[test]
    fn env_names_and_missing_hash_key_warn() {
        let p = load(br#"{"events":{"hash_key_env":"K"},"identity":{"sources":[{"jwt":{"verify":{"hs256_secret_env":"S"}}}]}}"#)
            .unwrap()
            .policy;
        assert_eq!(env_names(&p), vec!["K".to_string(), "S".to_string()]);
        let rt = Runtime::new(p.clone(), &NodeInfo::default());
        assert!(rt.hash_key.is_empty());
        assert!(
            rt.warnings.iter().any(|w| w.contains("`K` is not set")),
            "{:?}",
            rt.warnings
        );
        let node = NodeInfo {
            env: vec![("K".into(), "secret".into()), ("S".into(), "x".repeat(32))],
            ..Default::default()
        };
        let rt = Runtime::new(p, &node);
        assert_eq!(rt.hash_key, b"secret");
    }
}
