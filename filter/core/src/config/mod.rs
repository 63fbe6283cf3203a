//! Configuration: parse the pluginConfig (collecting every problem with its path) and
//! compile it into the immutable runtime `Policy`.

pub mod compile;
pub mod de;
mod parse;
pub mod raw;

pub use compile::*;
pub use parse::{parse_json, parse_value, Parsed};

use std::fmt;

/// One problem of a configuration, with the path of the offending key
/// (`access.rules[2].when.paths[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path into the document; empty for the document itself.
    pub path: String,
    /// What is wrong, in operator terms.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// A refused configuration: every problem found, in document order of discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// All problems.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "meshward: invalid pluginConfig, {} problem{}: ",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A configuration that compiled, with the warnings worth showing an operator.
#[derive(Debug)]
pub struct Loaded {
    /// The runtime policy.
    pub policy: Policy,
    /// Ignored keys of a newer version, risky choices.
    pub warnings: Vec<Problem>,
}

/// Parses and compiles a pluginConfig given as JSON bytes (what Envoy hands the
/// filter). Every problem is reported at once.
pub fn load(bytes: &[u8]) -> Result<Loaded, ConfigError> {
    let parsed = parse_json(bytes);
    finish(parsed, bytes)
}

/// Parses and compiles a pluginConfig already in tree form; `source` is hashed into
/// the config id (the same bytes Envoy would see give the same id).
pub fn load_value(doc: serde_json::Value) -> Result<Loaded, ConfigError> {
    let bytes = serde_json::to_vec(&doc).unwrap_or_default();
    let parsed = parse_value(doc);
    finish(parsed, &bytes)
}

fn finish(parsed: Parsed, bytes: &[u8]) -> Result<Loaded, ConfigError> {
    let Parsed {
        raw,
        mut errors,
        mut warnings,
    } = parsed;
    let mut cx = compile::Cx::default();
    let policy = compile::compile(&raw, bytes, &mut cx);
    errors.extend(cx.errors);
    warnings.extend(cx.warnings);
    if errors.is_empty() {
        Ok(Loaded { policy, warnings })
    } else {
        Err(ConfigError { problems: errors })
    }
}
