//! Helpers shared by the unit tests.

use crate::config::{load_value, ConfigError, Loaded};

/// Loads a YAML pluginConfig the way Istio hands it over (as JSON).
pub fn load_yaml(doc: &str) -> Result<Loaded, ConfigError> {
    let v: serde_json::Value = serde_yaml_ng::from_str(doc).expect("test YAML parses");
    load_value(v)
}
