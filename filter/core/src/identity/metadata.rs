//! Decoding of Envoy's dynamic metadata as proxy-wasm hands it to a filter: the
//! `metadata` property is an `envoy.config.core.v3.Metadata` protobuf. meshward reads
//! the payloads that jwt_authn verified (`filter_metadata["envoy.filters.http.jwt_authn"]`,
//! issuer → payload, Istio's `payload_in_metadata` layout).
//!
//! The narrower property `metadata.filter_metadata.<filter>` comes in the proxy-wasm
//! pairs encoding, which cannot tell an 8-character string from a number; the protobuf
//! is typed, so meshward reads that. A small hand-written reader covers the five
//! message types involved (Metadata, Struct, Value, ListValue, map entries); depth and
//! sizes are bounded.

use serde_json::{Map, Number, Value};

/// The filter whose metadata holds verified JWT payloads.
pub const JWT_AUTHN: &str = "envoy.filters.http.jwt_authn";

const MAX_DEPTH: usize = 32;

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self { b, at: 0 }
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.at)?;
            self.at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// The next field, or `None` at the end (or on malformed input).
    fn next(&mut self) -> Option<(u64, Field<'a>)> {
        if self.at >= self.b.len() {
            return None;
        }
        let key = self.varint()?;
        let field = key >> 3;
        let f = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                let s = self.b.get(self.at..self.at + 8)?;
                self.at += 8;
                Field::Fixed64(u64::from_le_bytes(s.try_into().ok()?))
            }
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                let end = self.at.checked_add(len)?;
                let s = self.b.get(self.at..end)?;
                self.at = end;
                Field::Bytes(s)
            }
            5 => {
                self.b.get(self.at..self.at + 4)?;
                self.at += 4;
                Field::Fixed32
            }
            _ => return None,
        };
        Some((field, f))
    }
}

/// A map entry `{1: key, 2: value bytes}`.
fn map_entry(b: &[u8]) -> Option<(String, &[u8])> {
    let mut r = Reader::new(b);
    let (mut key, mut value) = (None, &[][..]);
    while let Some((n, f)) = r.next() {
        match (n, f) {
            (1, Field::Bytes(k)) => key = Some(String::from_utf8_lossy(k).into_owned()),
            (2, Field::Bytes(v)) => value = v,
            _ => {}
        }
    }
    Some((key?, value))
}

fn decode_struct_fields(b: &[u8], depth: usize) -> Option<Map<String, Value>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut out = Map::new();
    let mut r = Reader::new(b);
    while let Some((n, f)) = r.next() {
        if let (1, Field::Bytes(entry)) = (n, f) {
            let (k, v) = map_entry(entry)?;
            out.insert(k, decode_value(v, depth + 1)?);
        }
    }
    Some(out)
}

fn decode_value(b: &[u8], depth: usize) -> Option<Value> {
    if depth > MAX_DEPTH {
        return None;
    }
    let mut r = Reader::new(b);
    let mut v = Value::Null;
    while let Some((n, f)) = r.next() {
        v = match (n, f) {
            (1, _) => Value::Null,
            (2, Field::Fixed64(bits)) => {
                let d = f64::from_bits(bits);
                // Whole numbers (timestamps, counts) as integers, like the JWT had them.
                if d.fract() == 0.0 && d.abs() < 9.007_199_254_740_992e15 {
                    #[allow(clippy::cast_possible_truncation)]
                    Value::Number(Number::from(d as i64))
                } else {
                    Number::from_f64(d).map_or(Value::Null, Value::Number)
                }
            }
            (3, Field::Bytes(s)) => Value::String(String::from_utf8_lossy(s).into_owned()),
            (4, Field::Varint(x)) => Value::Bool(x != 0),
            (5, Field::Bytes(s)) => Value::Object(decode_struct_fields(s, depth + 1)?),
            (6, Field::Bytes(s)) => {
                let mut items = Vec::new();
                let mut lr = Reader::new(s);
                while let Some((ln, lf)) = lr.next() {
                    if let (1, Field::Bytes(item)) = (ln, lf) {
                        items.push(decode_value(item, depth + 1)?);
                    }
                }
                Value::Array(items)
            }
            (_, Field::Fixed32 | Field::Varint(_) | Field::Fixed64(_) | Field::Bytes(_)) => v,
        };
    }
    Some(v)
}

/// Reads the `filter_metadata` of `filter` from a serialized
/// `envoy.config.core.v3.Metadata` (the `metadata` property).
pub fn filter_metadata(metadata: &[u8], filter: &str) -> Option<Map<String, Value>> {
    let mut r = Reader::new(metadata);
    while let Some((n, f)) = r.next() {
        if let (1, Field::Bytes(entry)) = (n, f) {
            let (k, v) = map_entry(entry)?;
            if k == filter {
                return decode_struct_fields(v, 0);
            }
        }
    }
    None
}

/// The jwt_authn payloads (issuer → payload) in the `metadata` property.
pub fn jwt_authn_payloads(metadata: &[u8]) -> Option<Map<String, Value>> {
    filter_metadata(metadata, JWT_AUTHN).filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The `metadata` property Envoy 1.40 returned behind jwt_authn for a token with
    /// `{"iss","sub":"u-1001","aud":"orders","exp","iat","role":["ops","dev"],"n":7,
    /// "nested":{"a":"b"}}` (captured from a real Envoy).
    const CAPTURED: &str = include_str!("testdata/jwt_authn_metadata.hex");

    #[test]
    fn reads_the_verified_payload_from_real_envoy_metadata() {
        let m = jwt_authn_payloads(&hex(CAPTURED.trim())).unwrap();
        let p = &m["https://idp.example.com"];
        assert_eq!(p["sub"], "u-1001");
        assert_eq!(p["aud"], "orders");
        assert_eq!(p["iss"], "https://idp.example.com");
        assert_eq!(p["n"], 7);
        assert_eq!(p["role"], serde_json::json!(["ops", "dev"]));
        assert_eq!(p["nested"]["a"], "b");
        assert!(p["exp"].as_i64().unwrap() > 1_700_000_000);
    }

    #[test]
    fn other_filters_and_garbage_yield_nothing() {
        assert!(jwt_authn_payloads(&[]).is_none());
        assert!(jwt_authn_payloads(&[0xff, 0xff, 0xff]).is_none());
        assert!(filter_metadata(&hex(CAPTURED.trim()), "envoy.lb").is_none());
        // Truncated input never panics.
        let full = hex(CAPTURED.trim());
        for cut in 0..full.len() {
            let _ = jwt_authn_payloads(&full[..cut]);
        }
    }
}
