//! The answers meshward itself sends (401, 403, 429), exactly as the contract fixes
//! them: a JSON body `{"error","reason","rule","request_id"}`, or a trailers-only gRPC
//! error for gRPC calls.

use serde::Serialize;

/// Why meshward answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No trusted account where one is required (401).
    Authn,
    /// An access rule or the access default denied (403).
    Access,
    /// An undeclared endpoint under `apis.undeclared: block` (403).
    Undeclared,
    /// An injection or scanner in block mode (403), with its family.
    Threat(&'static str),
    /// A behavioural block in force (403).
    Behavior,
    /// A rate limit (429).
    RateLimit,
    /// A data limit (429).
    DataLimit,
    /// A request body over `max_body_bytes` under `oversize: block`, when body-based
    /// blocking needs all of it (413).
    OversizeRequest,
    /// A response body over `max_body_bytes` under `oversize: block`, when masking or
    /// a per-response data limit needs all of it (502).
    OversizeResponse,
    /// A compressed request body that body-based blocking needs, under
    /// `compressed: block` (415).
    CompressedRequest,
    /// A compressed response body that masking or a per-response data limit needs,
    /// under `compressed: block` (502).
    CompressedResponse,
}

impl Reason {
    /// HTTP status.
    pub fn status(self) -> u16 {
        match self {
            Reason::Authn => 401,
            Reason::Access | Reason::Undeclared | Reason::Threat(_) | Reason::Behavior => 403,
            Reason::RateLimit | Reason::DataLimit => 429,
            Reason::OversizeRequest => 413,
            Reason::CompressedRequest => 415,
            Reason::OversizeResponse | Reason::CompressedResponse => 502,
        }
    }
    /// The `error` field.
    pub fn error(self) -> &'static str {
        match self.status() {
            401 => "unauthorized",
            429 => "rate_limited",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            502 => "bad_gateway",
            _ => "forbidden",
        }
    }
    /// The `reason` field.
    pub fn reason(self) -> &'static str {
        match self {
            Reason::Authn => "authn",
            Reason::Access => "access",
            Reason::Undeclared => "undeclared",
            Reason::Threat(_) => "threat",
            Reason::Behavior => "behavior",
            Reason::RateLimit => "rate_limit",
            Reason::DataLimit => "data_limit",
            Reason::OversizeRequest | Reason::OversizeResponse => "oversize",
            Reason::CompressedRequest | Reason::CompressedResponse => "compressed",
        }
    }
    /// The record's `action` for this answer.
    pub fn action(self) -> &'static str {
        match self {
            Reason::Authn => "unauthenticated",
            Reason::Access => "denied",
            Reason::Undeclared => "undeclared",
            Reason::Threat(_)
            | Reason::Behavior
            | Reason::OversizeRequest
            | Reason::OversizeResponse
            | Reason::CompressedRequest
            | Reason::CompressedResponse => "blocked",
            Reason::RateLimit => "rate_limited",
            Reason::DataLimit => "data_limited",
        }
    }
    /// gRPC status code: UNAUTHENTICATED 16, PERMISSION_DENIED 7, RESOURCE_EXHAUSTED 8,
    /// INVALID_ARGUMENT 3.
    pub fn grpc_status(self) -> u32 {
        match self.status() {
            401 => 16,
            429 | 413 | 502 => 8,
            415 => 3,
            _ => 7,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'static str,
    reason: &'static str,
    rule: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    threat: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

/// A local answer, ready for the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Why.
    pub reason: Reason,
    /// HTTP status (200 for a gRPC trailers-only answer).
    pub status: u16,
    /// Headers to send.
    pub headers: Vec<(&'static str, String)>,
    /// Body (empty for gRPC).
    pub body: Vec<u8>,
    /// gRPC status, for gRPC calls.
    pub grpc_status: Option<u32>,
    /// gRPC message, for gRPC calls.
    pub grpc_message: String,
}

/// Builds the answer for `reason` decided by `rule`. `request_id` must already be
/// validated; `retry_after_s` is set for 429s; `ratelimit` adds `x-ratelimit-*`.
pub fn build(
    reason: Reason,
    rule: &str,
    request_id: Option<&str>,
    retry_after_s: Option<u64>,
    ratelimit: Option<(u64, u64, u64)>,
    grpc: bool,
) -> Answer {
    let mut headers = Vec::new();
    if reason == Reason::Authn {
        headers.push(("www-authenticate", "Bearer".to_string()));
    }
    if reason.status() == 429 {
        headers.push(("retry-after", retry_after_s.unwrap_or(1).max(1).to_string()));
    }
    if let Some((limit, remaining, reset)) = ratelimit {
        headers.push(("x-ratelimit-limit", limit.to_string()));
        headers.push(("x-ratelimit-remaining", remaining.to_string()));
        headers.push(("x-ratelimit-reset", reset.to_string()));
    }
    let threat = match reason {
        Reason::Threat(f) => Some(f),
        _ => None,
    };
    if grpc {
        return Answer {
            reason,
            status: 200,
            headers,
            body: Vec::new(),
            grpc_status: Some(reason.grpc_status()),
            grpc_message: format!("{}: rule {rule}", reason.reason()),
        };
    }
    headers.push(("content-type", "application/json".to_string()));
    let body = serde_json::to_vec(&Body {
        error: reason.error(),
        reason: reason.reason(),
        rule,
        threat,
        request_id,
    })
    .unwrap_or_default();
    Answer {
        reason,
        status: reason.status(),
        headers,
        body,
        grpc_status: None,
        grpc_message: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn json(a: &Answer) -> serde_json::Value {
        serde_json::from_slice(&a.body).unwrap()
    }

    #[test]
    fn answers_as_specified() {
        let a = build(
            Reason::Authn,
            "callers-must-authenticate",
            Some("r-1"),
            None,
            None,
            false,
        );
        assert_eq!(a.status, 401);
        assert_eq!(
            String::from_utf8(a.body.clone()).unwrap(),
            r#"{"error":"unauthorized","reason":"authn","rule":"callers-must-authenticate","request_id":"r-1"}"#
        );
        assert!(a.headers.contains(&("www-authenticate", "Bearer".into())));
        assert!(a
            .headers
            .contains(&("content-type", "application/json".into())));

        let d = build(Reason::Access, "deny-exports", None, None, None, false);
        assert_eq!(d.status, 403);
        assert_eq!(json(&d)["error"], "forbidden");
        assert!(json(&d).get("request_id").is_none());

        let t = build(Reason::Threat("sqli"), "sqli", Some("x"), None, None, false);
        assert_eq!(json(&t)["reason"], "threat");
        assert_eq!(json(&t)["threat"], "sqli");

        let r = build(
            Reason::RateLimit,
            "per-account",
            None,
            Some(7),
            Some((100, 0, 30)),
            false,
        );
        assert_eq!(r.status, 429);
        assert_eq!(json(&r)["error"], "rate_limited");
        assert!(r.headers.contains(&("retry-after", "7".into())));
        assert!(r.headers.contains(&("x-ratelimit-remaining", "0".into())));
        let dl = build(Reason::DataLimit, "pii", None, None, None, false);
        assert_eq!(json(&dl)["reason"], "data_limit");
        assert!(dl.headers.contains(&("retry-after", "1".into())));
    }

    #[test]
    fn grpc_answers_are_trailers_only() {
        let a = build(Reason::Access, "r", None, None, None, true);
        assert_eq!(a.grpc_status, Some(7));
        assert!(a.body.is_empty());
        assert_eq!(
            build(Reason::Authn, "r", None, None, None, true).grpc_status,
            Some(16)
        );
        assert_eq!(
            build(Reason::DataLimit, "r", None, None, None, true).grpc_status,
            Some(8)
        );
        assert_eq!(Reason::Behavior.action(), "blocked");
    }
}
