//! Leaf value parsers for the pluginConfig: Envoy-style durations, integers that may
//! arrive as integral doubles, and `off | alert | block` switches that YAML 1.1 may have
//! turned into booleans.

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// A duration written the way Envoy and Istio write them: `"500ms"`, `"1s"`, `"5m"`,
/// `"1h"`, `"1h30m"`, `"1.5s"`. Units: `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct EnvoyDuration(pub Duration);

impl EnvoyDuration {
    /// Builds a duration from whole seconds.
    pub const fn secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }
    /// Builds a duration from milliseconds.
    pub const fn millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }
    /// The duration in milliseconds, saturating.
    pub fn as_millis(&self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for EnvoyDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.as_millis();
        if ms % 3_600_000 == 0 && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms % 60_000 == 0 && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms % 1000 == 0 {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// Parses an Envoy/Istio duration string. The error says what is wrong with it.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if t.starts_with('-') {
        return Err(format!("invalid duration \"{s}\": negative"));
    }
    let mut rest = t;
    let mut total_ns: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!(
                "invalid duration \"{s}\": expected a number before the unit, like \"5s\""
            ));
        }
        let (num, after) = rest.split_at(num_len);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration \"{s}\": bad number \"{num}\""))?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => {
                return Err(format!(
                    "invalid duration \"{s}\": missing unit (ms, s, m or h)"
                ))
            }
            other => {
                return Err(format!(
                    "invalid duration \"{s}\": unknown unit \"{other}\""
                ))
            }
        };
        total_ns += value * scale;
        rest = next;
    }
    if !total_ns.is_finite() || total_ns > 1e18 {
        return Err(format!("invalid duration \"{s}\": too large"));
    }
    // Truncation to whole nanoseconds is intended.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Duration::from_nanos(total_ns as u64))
}

impl<'de> Deserialize<'de> for EnvoyDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EnvoyDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string like \"500ms\", \"1s\", \"5m\" or \"1h\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                parse_duration(v).map(EnvoyDuration).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Integers in the config may arrive as JSON doubles (`100.0`) after Istio's YAML to
/// JSON conversion; accept them when integral.
fn integral<'de, D: Deserializer<'de>>(d: D, max: u64) -> Result<u64, D::Error> {
    struct V(u64);
    impl Visitor<'_> for V {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a whole number from 0 to {}", self.0)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            if v > self.0 {
                return Err(E::invalid_value(Unexpected::Unsigned(v), &self));
            }
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v)
                .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
                .and_then(|u| self.visit_u64(u))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
            // 2^53: beyond it a double no longer holds every integer exactly.
            if v.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&v) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                return self.visit_u64(v as u64);
            }
            Err(E::invalid_value(Unexpected::Float(v), &self))
        }
    }
    d.deserialize_any(V(max))
}

/// `deserialize_with` helper: a `u64` that may be written as an integral double.
pub fn u64_int<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    integral(d, u64::MAX)
}

/// `deserialize_with` helper: a `u32` that may be written as an integral double.
pub fn u32_int<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    integral(d, u64::from(u32::MAX)).map(|v| u32::try_from(v).unwrap_or(u32::MAX))
}

/// `deserialize_with` helper: an optional `u32` (absent or null means none).
pub fn opt_u32_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    u32_int(d).map(Some)
}

/// `deserialize_with` helper: a sensitivity level `1..=4`.
pub fn level<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let v = integral(d, 4)?;
    if v == 0 {
        return Err(de::Error::custom("level must be 1, 2, 3 or 4"));
    }
    Ok(u8::try_from(v).unwrap_or(4))
}

/// `deserialize_with` helper: an optional level.
pub fn opt_level<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    level(d).map(Some)
}

/// A three-way switch: `off | alert | block`. YAML 1.1 tools turn a bare `off` into
/// `false`, so `false` means `off` (and `true` means the entry's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Switch {
    /// Not evaluated.
    Off,
    /// Detected, counted and recorded; the request goes on.
    Alert,
    /// Detected and answered by meshward (403 or 429).
    Block,
}

impl Switch {
    /// The name used in config, events and stats.
    pub fn as_str(self) -> &'static str {
        match self {
            Switch::Off => "off",
            Switch::Alert => "alert",
            Switch::Block => "block",
        }
    }
}

/// A switch as written in config: `true` is kept apart so each entry can pick its own
/// default for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchValue {
    /// `off`, `alert`, `block` or `false`.
    Set(Switch),
    /// `true`: the entry's default when switched on.
    On,
}

impl SwitchValue {
    /// Resolves `true` to `on_default`.
    pub fn resolve(self, on_default: Switch) -> Switch {
        match self {
            SwitchValue::Set(s) => s,
            SwitchValue::On => on_default,
        }
    }
}

impl<'de> Deserialize<'de> for SwitchValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SwitchValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("one of `off`, `alert`, `block` (or false)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(if v {
                    SwitchValue::On
                } else {
                    SwitchValue::Set(Switch::Off)
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "off" => Ok(SwitchValue::Set(Switch::Off)),
                    "alert" => Ok(SwitchValue::Set(Switch::Alert)),
                    "block" => Ok(SwitchValue::Set(Switch::Block)),
                    _ => Err(E::unknown_variant(v, &["off", "alert", "block"])),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// An entry that may be switched off with `false` (YAML `off`), switched on with its
/// defaults with `true`, or given as a table of settings.
#[derive(Debug, Clone, PartialEq)]
pub enum Toggle<T> {
    /// `false`: the entry is off.
    Off,
    /// `true` or a table: the entry is on with these settings.
    On(T),
}

impl<T: Default> Default for Toggle<T> {
    fn default() -> Self {
        Toggle::On(T::default())
    }
}

impl<T> Toggle<T> {
    /// The settings when on.
    pub fn on(&self) -> Option<&T> {
        match self {
            Toggle::Off => None,
            Toggle::On(t) => Some(t),
        }
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Toggle<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<T> {
            type Value = Toggle<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or a table of settings")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(if v {
                    Toggle::On(T::default())
                } else {
                    Toggle::Off
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "off" => Ok(Toggle::Off),
                    "on" => Ok(Toggle::On(T::default())),
                    _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
                }
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                // Deserialize the table through the same map access, so paths of
                // errors inside it stay exact.
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Toggle::On)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A short description of a JSON value's type, for error messages.
pub fn value_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn durations_in_envoy_form() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("5").unwrap_err().contains("missing unit"));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5d").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn duration_display_round_trips() {
        for s in ["500ms", "1s", "5m", "1h", "90s"] {
            let d = EnvoyDuration(parse_duration(s).unwrap());
            assert_eq!(parse_duration(&d.to_string()).unwrap(), d.0);
        }
    }

    #[derive(Deserialize)]
    struct Ints {
        #[serde(deserialize_with = "u32_int")]
        a: u32,
        #[serde(deserialize_with = "level")]
        l: u8,
    }

    #[test]
    fn integral_doubles_accepted() {
        let v: Ints = serde_json::from_str(r#"{"a": 100.0, "l": 3.0}"#).unwrap();
        assert_eq!((v.a, v.l), (100, 3));
        assert!(serde_json::from_str::<Ints>(r#"{"a": 1.5, "l": 3}"#).is_err());
        assert!(serde_json::from_str::<Ints>(r#"{"a": -1, "l": 3}"#).is_err());
        assert!(serde_json::from_str::<Ints>(r#"{"a": 1, "l": 5}"#).is_err());
        assert!(serde_json::from_str::<Ints>(r#"{"a": 1, "l": 0}"#).is_err());
        assert!(serde_json::from_str::<Ints>(r#"{"a": 4294967296, "l": 1}"#).is_err());
    }

    #[test]
    fn switches_accept_yaml_booleans() {
        let off: SwitchValue = serde_json::from_str("false").unwrap();
        assert_eq!(off.resolve(Switch::Block), Switch::Off);
        let on: SwitchValue = serde_json::from_str("true").unwrap();
        assert_eq!(on.resolve(Switch::Alert), Switch::Alert);
        let b: SwitchValue = serde_json::from_str("\"block\"").unwrap();
        assert_eq!(b.resolve(Switch::Alert), Switch::Block);
        assert!(serde_json::from_str::<SwitchValue>("\"deny\"").is_err());
    }
}
