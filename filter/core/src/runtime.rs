//! What one VM holds for its configuration: the compiled policy, its stats layout, the
//! resolved service name, and small per-VM state (the sampler).

use crate::config::Policy;
use crate::stats::Layout;
use std::cell::Cell;

/// The per-VM runtime of one configuration. Immutable except for the sampler.
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
    /// HMAC key for hashed values and accounts, from `events.hash_key_env`.
    pub hash_key: Option<Vec<u8>>,
    rng: Cell<u64>,
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
    /// Value of `events.hash_key_env`, when set.
    pub hash_key: Option<Vec<u8>>,
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
        Self {
            policy,
            layout,
            service,
            plugin,
            hash_key: node.hash_key.clone(),
            rng: Cell::new(node.seed | 1),
        }
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
}
