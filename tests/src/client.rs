//! A plain HTTP client for tests: never treats a status as an error.

use std::time::Duration;

/// An agent that returns every status as a response.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(
            std::env::var("MESHWARD_HTTP_TIMEOUT")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(15),
        )))
        .build()
        .into()
}

/// A response reduced to what tests look at.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl Reply {
    /// First value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

fn reply(mut r: ureq::http::Response<ureq::Body>) -> Reply {
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .unwrap_or_default();
    Reply {
        status: r.status().as_u16(),
        headers,
        body,
    }
}

/// Sends a request; panics only when no response arrives at all.
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Reply {
    try_send(method, url, headers, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// Sends a request; an error when the connection fails.
pub fn try_send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Reply, ureq::Error> {
    send_on(&agent(), method, url, headers, body)
}

/// Sends a request on `agent` (reuse one agent to keep connections alive).
pub fn send_on(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Reply, ureq::Error> {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b
        .body(body.map(<[u8]>::to_vec).unwrap_or_default())
        .expect("request");
    agent.run(req).map(reply)
}

/// GET.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    send("GET", url, headers, None)
}

/// POST with a JSON body.
pub fn post_json(url: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut h = headers.to_vec();
    h.push(("content-type", "application/json"));
    send("POST", url, &h, Some(body.as_bytes()))
}
