//! Issue 8, bypass attempts against meshward's protections in a real Envoy
//! (`--concurrency 2`, `mode: enforce`). Each trick is either handled (asserted) or a
//! documented known limit (its current behaviour asserted, listed in
//! docs/threat-model.md):
//!
//! - path normalisation tricks against `deny /admin/*`: `%2e%2e`, `//`, `;jsessionid`,
//!   trailing dots, overlong UTF-8, backslashes, `%00`, encoded letters (handled);
//!   case (`/ADMIN`) and `%2F` (known limits, with the mitigations shown);
//! - header case and duplication (handled);
//! - JSON duplicate keys and `\u` escapes hiding PII or injections (handled); PII used
//!   as an object key (known limit);
//! - values split across body chunks, down to one byte per chunk (handled);
//! - GraphQL batching, variables and aliases (handled); aliases renaming key-based
//!   fields and alias amplification against rate limits (known limits);
//! - parameter pollution (handled); inspection bounds (known limits: the 257th query
//!   parameter, the 4097th JSON string, bytes past 16 KiB of one value, values
//!   nested deeper than 128).
//!
//! The upstream here is deliberately lenient, like the worst real servers: it decodes
//! `%XX` once (also `%2F`), reads `\` as `/`, drops `;params`, resolves dot segments,
//! drops trailing dots and ignores case. It answers `{"admin":true}` for anything that
//! ends up under `/admin`, so a bypass is visible as that answer reaching the client.

use meshward_e2e::client::{get, post_json, send};
use meshward_e2e::envoy::{Envoy, EnvoyOptions};
use meshward_e2e::paths;
use meshward_e2e::raw::{self, RawUpstream, Step};
use meshward_e2e::sink::Sink;
use meshward_e2e::upstream::{Answer, Upstream};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

const PHONE: &str = "13812345678";
const MASKED_PHONE: &str = "138****5678";
const SQLI: &str = "1' OR '1'='1";
const SQLI_Q: &str = "1%27%20OR%20%271%27%3D%271";

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn pct_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// How the most lenient server reads a path (see the module documentation).
fn lenient(raw_path: &str) -> String {
    let decoded = String::from_utf8_lossy(&pct_decode(raw_path)).to_lowercase();
    let decoded = decoded.replace('\\', "/");
    let mut out: Vec<String> = Vec::new();
    for seg in decoded.split('/') {
        let seg = seg.split(';').next().unwrap_or("");
        let seg = if seg.chars().all(|c| c == '.') && seg.len() <= 2 {
            seg.to_string()
        } else {
            seg.trim_end_matches('.').to_string()
        };
        match seg.as_str() {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s.to_string()),
        }
    }
    format!("/{}", out.join("/"))
}

fn upstream() -> Upstream {
    Upstream::start(Arc::new(|req| {
        let (path, _) = req.url.split_once('?').unwrap_or((&req.url, ""));
        if lenient(path).starts_with("/admin") {
            return Answer::json(200, r#"{"admin":true}"#);
        }
        match path {
            "/json/escaped" => Answer::json(
                200,
                r#"{"mobile":"\u0031\u0033\u0038\u0031\u0032\u0033\u0034\u0035\u0036\u0037\u0038","email":"\u007a\u0040example.com"}"#,
            ),
            "/json/dupkeys" => Answer::json(
                200,
                &format!(r#"{{"mobile":"{PHONE}","mobile":"13912345678"}}"#),
            ),
            "/json/key" => Answer::json(200, &format!(r#"{{"{PHONE}":{{"x":1}}}}"#)),
            "/json/number" => Answer::json(200, &format!(r#"{{"mobile":{PHONE}}}"#)),
            "/json/fullwidth" => Answer::json(200, r#"{"mobile":"１３８１２３４５６７８"}"#),
            "/graphql" => Answer::json(
                200,
                &format!(
                    r#"{{"data":{{"a":{{"name":"张伟","mobile":"{PHONE}"}},"b":{{"n":"张伟","m":"{PHONE}"}}}}}}"#
                ),
            ),
            _ => Answer::json(200, r#"{"ok":true}"#),
        }
    }))
}

fn config() -> serde_json::Value {
    json!({
        "mode": "enforce",
        "identity": {"sources": [{"api_key": {"header": "x-api-key", "strip": true, "keys": [
            {"name": "admin-console", "sha256": sha256_hex("admin-key")},
            {"name": "batch", "sha256": sha256_hex("batch-key")}]}}]},
        "access": {"default": "allow", "rules": [
            {"name": "deny-admin", "action": "deny", "when": {"paths": ["/admin", "/admin/*"]}},
            {"name": "private-needs-key", "action": "authenticate", "when": {"paths": ["/private/*"]}},
            {"name": "deny-forged-role", "action": "deny", "when": {"headers": {"x-role": ["admin"]}}}
        ]},
        "masking": [{"name": "mask-pii", "types": ["cn_mobile", "email", "cn_name"], "style": "partial"}],
        "events": {"cluster": "outbound|4318||collector.local", "format": "ndjson",
                   "flush_interval": "200ms"}
    })
}

fn start_with(
    cfg: serde_json::Value,
    up_port: u16,
    sink: &Sink,
    template: Option<std::path::PathBuf>,
) -> Envoy {
    let mut opts = EnvoyOptions::new(&cfg.to_string(), up_port, sink.port).concurrency(2);
    if let Some(t) = template {
        opts.template = t;
    }
    Envoy::start(&opts).unwrap_or_else(|e| panic!("Envoy did not start: {}", e.log))
}

fn start(up: &Upstream, sink: &Sink) -> Envoy {
    start_with(config(), up.port, sink, None)
}

fn assert_healthy(envoy: &Envoy) {
    let f = envoy.vm_failures();
    assert!(f.is_empty(), "VM failures in the Envoy log: {f:#?}");
}

/// GET with the path exactly as given (no client-side normalisation): status, body.
fn raw_get(envoy: &Envoy, path: &str, headers: &str) -> (u16, String) {
    let req = format!("GET {path} HTTP/1.1\r\nhost: svc\r\n{headers}connection: close\r\n\r\n");
    let r = raw::parse(&raw::exchange(envoy.port, req.as_bytes()));
    (r.status, r.text())
}

fn records_with(sink: &Sink, ids: &[&str]) -> Vec<serde_json::Value> {
    sink.wait_records(Duration::from_secs(10), |r| {
        ids.iter()
            .all(|id| r.iter().any(|x| x["request_id"] == *id))
    })
}

fn record<'a>(recs: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    recs.iter()
        .find(|r| r["request_id"] == id)
        .unwrap_or_else(|| panic!("no record for {id}"))
}

/// Path tricks meshward's normaliser resolves to `/admin/...` (or flags as traversal).
const HANDLED_PATHS: &[&str] = &[
    "/admin/users",
    "/admin",
    "/admin/",
    "/public/../admin/users",
    "/public/%2e%2e/admin/users",
    "/public/%2E%2E/admin/users",
    "/public/.%2e/admin/users",
    "/public/%252e%252e/admin/users",
    "//admin/users",
    "/admin//users",
    "///admin///users",
    "/./admin/users",
    "/%2e/admin/users",
    "/admin;jsessionid=ABC123/users",
    "/admin;/users",
    "/public/..;/admin/users",
    "/admin%3bx=1/users",
    "/admin./users",
    "/admin.../users",
    "/admin..;/users",
    "/%61dmin/users",
    "/%61%64%6d%69%6e/users",
    "/public/%c0%ae%c0%ae/admin/users",
    "/public/%e0%80%ae%e0%80%ae/admin/users",
    "/public%5c..%5cadmin/users",
    "/admin%5cusers",
    "/public/..%5cadmin/users",
    "/public\\..\\admin/users",
    "/admin\\users",
    "/admin%00/users",
    "/admin/users?x=1",
    "/admin/users#frag",
];

#[test]
fn path_normalisation_tricks_never_reach_a_denied_path() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(&up, &sink);
    for (i, path) in HANDLED_PATHS.iter().enumerate() {
        let id = format!("p-{i}");
        let (status, body) = raw_get(&envoy, path, &format!("x-request-id: {id}\r\n"));
        assert!(
            !body.contains("\"admin\":true"),
            "{path} reached /admin: {status} {body}"
        );
        match status {
            403 => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                assert!(
                    v["reason"] == "access" || v["reason"] == "threat",
                    "{path}: a meshward decision: {body}"
                );
            }
            // Envoy's own refusal of a malformed request line.
            400 => assert!(!body.contains("\"reason\""), "{path}: {body}"),
            _ => panic!("{path}: {status} {body}"),
        }
    }
    // The plain neighbours still pass.
    for path in [
        "/public/users",
        "/administrator",
        "/public/admin",
        "/adminx/users",
    ] {
        let (status, body) = raw_get(&envoy, path, "");
        assert_eq!(status, 200, "{path}: {body}");
    }
    assert!(envoy.metric(r#"meshward_decisions_total{kind="access",outcome="denied",rule="deny-admin",dry_run="false"}"#) >= 20.0);
    assert_healthy(&envoy);
}

/// Istio's `meshConfig.pathNormalization: DECODE_AND_MERGE_SLASHES` on the listener, in
/// a temporary file that is removed when dropped.
fn template_with_envoy_normalisation() -> tempfile::TempPath {
    let base = std::fs::read_to_string(paths::root().join("envoy/meshward.yaml")).unwrap();
    let patched = base.replacen(
        "codec_type: AUTO",
        "codec_type: AUTO\n                normalize_path: true\n                merge_slashes: true\n                path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD",
        1,
    );
    assert_ne!(base, patched);
    let mut f = tempfile::Builder::new()
        .prefix("meshward-normalising-")
        .suffix(".yaml")
        .tempfile()
        .unwrap();
    std::io::Write::write_all(&mut f, patched.as_bytes()).unwrap();
    f.into_temp_path()
}

#[test]
fn case_and_encoded_slash_are_known_limits_with_mitigations() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(&up, &sink);
    // Known limit 1: paths are case-sensitive. A case-insensitive upstream serves
    // `/ADMIN` past a rule written for `/admin`.
    for path in ["/ADMIN/users", "/AdMiN/users"] {
        let (status, body) = raw_get(&envoy, path, "");
        assert_eq!(
            (status, body.as_str()),
            (200, r#"{"admin":true}"#),
            "{path}"
        );
    }
    // Known limit 2: `%2F` is not a separator (identifiers such as `group%2Fproject`
    // are legitimate); an upstream that decodes it before routing serves /admin.
    let (status, body) = raw_get(&envoy, "/admin%2fusers", "");
    assert_eq!((status, body.as_str()), (200, r#"{"admin":true}"#));
    drop(envoy);

    // Mitigation for case: default deny with allow rules fails closed for any
    // spelling the allow rules do not list.
    let mut cfg = config();
    cfg["access"] = json!({"default": "deny", "rules": [
        {"name": "public", "action": "allow", "when": {"paths": ["/public/*"]}}]});
    let envoy = start_with(cfg, up.port, &sink, None);
    for path in ["/ADMIN/users", "/AdMiN/users", "/Public/../ADMIN/x"] {
        let (status, body) = raw_get(&envoy, path, "");
        assert_eq!(status, 403, "{path}: {body}");
    }
    assert_eq!(raw_get(&envoy, "/public/x", "").0, 200);
    drop(envoy);

    // Mitigation for %2F: Envoy's path normalisation with escaped slashes unescaped
    // (Istio `pathNormalization: DECODE_AND_MERGE_SLASHES`) runs before meshward.
    let normalising = template_with_envoy_normalisation();
    let envoy = start_with(config(), up.port, &sink, Some(normalising.to_path_buf()));
    for path in [
        "/admin%2fusers",
        "/admin%2Fusers",
        "/public/..%2fadmin/users",
    ] {
        let (status, body) = raw_get(&envoy, path, "");
        assert_eq!(status, 403, "{path}: {body}");
    }
    assert_healthy(&envoy);
}

#[test]
fn header_case_and_duplicates() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(&up, &sink);
    // Header names are case-insensitive: Envoy hands meshward lower-case names.
    let (status, _) = raw_get(
        &envoy,
        "/private/x",
        "X-API-KEY: admin-key\r\nx-request-id: h-1\r\n",
    );
    assert_eq!(status, 200);
    assert!(
        up.seen().iter().all(|s| s.header("x-api-key").is_none()),
        "the key is stripped whatever its case"
    );
    let (status, body) = raw_get(&envoy, "/x", "X-Role: admin\r\n");
    assert_eq!(status, 403, "{body}");
    // A forged value next to a harmless one still matches a deny rule.
    let (status, _) = raw_get(&envoy, "/x", "x-role: user\r\nX-ROLE: admin\r\n");
    assert_eq!(status, 403);
    // Two different API keys: ambiguous (which one would the upstream use?), so no
    // trusted account and an authentication failure, whatever the order.
    for headers in [
        "x-api-key: admin-key\r\nx-api-key: wrong-key\r\nx-request-id: h-2\r\n",
        "x-api-key: wrong-key\r\nX-Api-Key: admin-key\r\n",
        "x-api-key: batch-key\r\nx-api-key: admin-key\r\n",
    ] {
        let (status, body) = raw_get(&envoy, "/private/x", headers);
        assert_eq!(status, 401, "{headers}: {body}");
    }
    assert!(envoy.metric(r#"meshward_authn_failures_total{via="api_key"}"#) >= 3.0);
    // The same valid key twice is not ambiguous.
    let (status, _) = raw_get(
        &envoy,
        "/private/x",
        "x-api-key: admin-key\r\nx-api-key: admin-key\r\n",
    );
    assert_eq!(status, 200);
    // Injections are looked for in user-agent, referer, cookie, x-forwarded-for,
    // x-forwarded-host and origin, whatever their case; other headers are not
    // inspected (known limit).
    // (Envoy drops a `referer` that is not a valid URL before any filter sees it.)
    let (status, _) = raw_get(
        &envoy,
        "/x",
        "Referer: http://shop.example/?q=1%27%20OR%20%271%27%3D%271\r\n",
    );
    assert_eq!(status, 403);
    let (status, _) = raw_get(&envoy, "/x", "COOKIE: q=1' OR '1'='1\r\n");
    assert_eq!(status, 403);
    let (status, _) = raw_get(&envoy, "/x", "x-search: 1' OR '1'='1\r\n");
    assert_eq!(status, 200, "known limit: other headers are not inspected");
    // Scanner fingerprints: header name and value case do not matter.
    let (status, _) = raw_get(
        &envoy,
        "/x",
        "USER-AGENT: SQLMap/1.7\r\nx-request-id: h-3\r\n",
    );
    assert_eq!(status, 200, "scanners: alert by default");
    let recs = records_with(&sink, &["h-1", "h-2", "h-3"]);
    assert_eq!(record(&recs, "h-1")["account"]["id"], "admin-console");
    assert_eq!(record(&recs, "h-1")["account"]["trusted"], true);
    assert_eq!(record(&recs, "h-2")["action"], "unauthenticated");
    assert_eq!(record(&recs, "h-3")["threats"][0]["type"], "scanner");
    assert_healthy(&envoy);
}

#[test]
fn json_escapes_and_duplicate_keys_hide_nothing() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(&up, &sink);
    // `\u0031\u0033...` is seen as the digits it encodes and masked; the output is
    // valid JSON whatever the escapes.
    let r = get(&envoy.url("/json/escaped"), &[("x-request-id", "j-1")]);
    assert_eq!(
        r.json(),
        json!({"mobile": MASKED_PHONE, "email": "z***@example.com"})
    );
    // Both values of a duplicated key are masked (parsers keep the first or the last).
    let r = get(&envoy.url("/json/dupkeys"), &[]);
    assert_eq!(r.body, r#"{"mobile":"138****5678","mobile":"139****5678"}"#);
    // Numbers are scanned as their literal and masked as strings.
    let r = get(&envoy.url("/json/number"), &[]);
    assert_eq!(r.json(), json!({"mobile": MASKED_PHONE}));
    // Known limit: a value used as an object key is counted but never rewritten
    // (masking keys would change the document's shape).
    let r = get(&envoy.url("/json/key"), &[("x-request-id", "j-key")]);
    assert_eq!(r.body, format!(r#"{{"{PHONE}":{{"x":1}}}}"#));
    // Known limit: full-width digits are not read as digits.
    let r = get(&envoy.url("/json/fullwidth"), &[]);
    assert_eq!(r.body, r#"{"mobile":"１３８１２３４５６７８"}"#);
    // Requests: escaped or duplicated injections are blocked, escaped PII is counted.
    for body in [
        r#"{"q":"1\u0027 OR \u00271\u0027=\u00271"}"#.to_string(),
        format!(r#"{{"q":"ok","q":"{SQLI}"}}"#),
        format!(r#"{{"q":"{SQLI}","q":"ok"}}"#),
        r#"{"\u0071":"\u0031\u0027\u0020\u004f\u0052\u0020\u0027\u0031\u0027\u003d\u0027\u0031"}"#
            .to_string(),
    ] {
        let r = post_json(&envoy.url("/notes"), &[], &body);
        assert_eq!(r.status, 403, "{body}: {}", r.body);
        assert_eq!(r.json()["threat"], "sqli");
    }
    let r = post_json(
        &envoy.url("/notes"),
        &[("x-request-id", "j-req")],
        r#"{"phone":"\u0031\u0033\u0038\u0031\u0032\u0033\u0034\u0035\u0036\u0037\u0038"}"#,
    );
    assert_eq!(r.status, 200);
    let recs = records_with(&sink, &["j-1", "j-key", "j-req"]);
    assert_eq!(
        record(&recs, "j-1")["sensitive"]["response"]["cn_mobile"],
        1
    );
    assert_eq!(
        record(&recs, "j-key")["sensitive"]["response"]["cn_mobile"],
        1
    );
    assert_eq!(
        record(&recs, "j-req")["sensitive"]["request"]["cn_mobile"],
        1
    );
    assert_healthy(&envoy);
}

#[test]
fn values_split_across_chunks_down_to_single_bytes() {
    // The response arrives one byte per chunk around the phone number and the email.
    let body = format!(r#"{{"note":"call {PHONE} now","email":"zhang.wei@example.com"}}"#);
    let mut steps = vec![Step::Write(raw::chunked_head(200, "application/json"))];
    for b in body.as_bytes().chunks(1) {
        steps.push(Step::Write(raw::chunk(b)));
        steps.push(Step::Sleep(Duration::from_millis(3)));
    }
    steps.push(Step::Write(raw::chunk(b"")));
    steps.push(Step::Close);
    let up = RawUpstream::start(steps);
    let sink = Sink::start();
    let envoy = start_with(config(), up.port, &sink, None);
    let r = get(&envoy.url("/split"), &[]);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        r#"{"note":"call 138****5678 now","email":"z***@example.com"}"#
    );
    // A request whose injection arrives one byte per chunk is blocked.
    let payload = format!(r#"{{"q":"{SQLI}"}}"#);
    let mut req = String::from("POST /notes HTTP/1.1\r\nhost: svc\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n");
    for b in payload.as_bytes().chunks(1) {
        req.push_str(&String::from_utf8_lossy(&raw::chunk(b)));
    }
    req.push_str("0\r\n\r\n");
    let got = String::from_utf8_lossy(&raw::exchange(envoy.port, req.as_bytes())).to_string();
    assert!(got.starts_with("HTTP/1.1 403"), "{got}");
    assert!(got.contains("\"threat\":\"sqli\""));
    assert_healthy(&envoy);
}

#[test]
fn graphql_batching_variables_and_aliases() {
    let up = upstream();
    let sink = Sink::start();
    let mut cfg = config();
    cfg["rate_limits"] = json!([{"name": "gql", "key": "header:x-client", "when": {"paths": ["/graphql"]},
                                 "limit": {"requests": 5, "per": "1m"}}]);
    let envoy = start_with(cfg, up.port, &sink, None);
    // Batched operations are each recorded.
    let r = post_json(
        &envoy.url("/graphql"),
        &[("x-request-id", "g-batch")],
        r#"[{"query":"query GetUser { user { id } }"},{"query":"mutation DeleteUser { del }"}]"#,
    );
    assert_eq!(r.status, 200);
    // Injections in variables are inspected like any JSON value: blocked.
    let r = post_json(
        &envoy.url("/graphql"),
        &[],
        &format!(
            r#"{{"query":"query Q($n: String) {{ user(name: $n) {{ id }} }}","variables":{{"n":"{SQLI}"}}}}"#
        ),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // Aliases: value-based types are masked whatever the alias (`m`), key-based ones
    // (`cn_name`) are recognised under their own key (`name`), not under an alias
    // (`n`): known limit.
    let r = post_json(
        &envoy.url("/graphql"),
        &[("x-request-id", "g-alias")],
        r#"{"query":"{ a: user { name mobile } b: user { n: name m: mobile } }"}"#,
    );
    assert_eq!(
        r.json(),
        json!({"data": {"a": {"name": "张*", "mobile": MASKED_PHONE}, "b": {"n": "张伟", "m": MASKED_PHONE}}})
    );
    // Known limit: rate limits count HTTP requests, not operations or aliased
    // fields: 50 aliased logins in one request spend one token. Client `a` sends
    // that request first, client `b` does not; both then send plain requests until
    // they are limited.
    let aliases: String = (0..50)
        .map(|i| format!("a{i}: login(pw: \\\"{i}\\\") "))
        .collect();
    let amplified = format!(r#"{{"query":"mutation {{ {aliases}}}"}}"#);
    let r = post_json(&envoy.url("/graphql"), &[("x-client", "a")], &amplified);
    assert_eq!(r.status, 200, "{}", r.body);
    let allowed = |client: &str| {
        (0..20)
            .take_while(|_| {
                post_json(
                    &envoy.url("/graphql"),
                    &[("x-client", client)],
                    r#"{"query":"{ me { id } }"}"#,
                )
                .status
                    == 200
            })
            .count()
    };
    let (a, b) = (allowed("a"), allowed("b"));
    assert!((5..20).contains(&b), "b was limited after its bucket: {b}");
    assert_eq!(a + 1, b, "the amplified request cost one token");
    let recs = records_with(&sink, &["g-batch", "g-alias"]);
    let op = record(&recs, "g-batch")["api"]["operation"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        op.contains("query GetUser") && op.contains("mutation DeleteUser"),
        "{op}"
    );
    assert_healthy(&envoy);
}

#[test]
fn parameter_pollution_and_inspection_bounds() {
    let up = upstream();
    let sink = Sink::start();
    let envoy = start(&up, &sink);
    // Every value of a repeated parameter is inspected, in any order.
    for q in [
        format!("q=ok&q={SQLI_Q}"),
        format!("q={SQLI_Q}&q=ok"),
        format!("q=ok&Q={SQLI_Q}"),
        format!("q[]=ok&q[]={SQLI_Q}"),
        format!("q=ok;q={SQLI_Q}"),
    ] {
        let r = get(&envoy.url(&format!("/search?{q}")), &[]);
        assert_eq!(r.status, 403, "{q}: {}", r.body);
    }
    // Every query parameter is inspected (up to `max_body_bytes` of values).
    let mut q: Vec<String> = (0..300).map(|i| format!("p{i}=v")).collect();
    q.push(format!("q={SQLI_Q}"));
    let r = get(&envoy.url(&format!("/search?{}", q.join("&"))), &[]);
    assert_eq!(r.status, 403, "the 301st parameter is inspected");
    // A value longer than one inspection window (16 KiB) is inspected to its end.
    let padded = format!(r#"{{"q":"{}{SQLI}"}}"#, " ".repeat(16 * 1024));
    assert_eq!(post_json(&envoy.url("/notes"), &[], &padded).status, 403);
    let padded = format!(r#"{{"q":"{}{SQLI}"}}"#, "ab ".repeat(15_000));
    assert_eq!(post_json(&envoy.url("/notes"), &[], &padded).status, 403);
    // Every string of a JSON body is inspected (the body is at most `max_body_bytes`).
    let many = format!(r#"{{"a":[{}"{SQLI}"]}}"#, "\"x\",".repeat(4097));
    assert_eq!(post_json(&envoy.url("/notes"), &[], &many).status, 403);
    // Nesting deeper than the walker's 128 levels: what it cannot parse is inspected as
    // text.
    let deep = format!("{}\"{SQLI}\"{}", "[".repeat(129), "]".repeat(129));
    assert_eq!(post_json(&envoy.url("/notes"), &[], &deep).status, 403);
    let shallow = format!("{}\"{SQLI}\"{}", "[".repeat(127), "]".repeat(127));
    assert_eq!(post_json(&envoy.url("/notes"), &[], &shallow).status, 403);
    // And benign bodies past every former bound still pass.
    let many = format!(r#"{{"a":[{}"fine"]}}"#, "\"x\",".repeat(5000));
    assert_eq!(post_json(&envoy.url("/notes"), &[], &many).status, 200);
    let deep = format!("{}\"fine\"{}", "[".repeat(129), "]".repeat(129));
    assert_eq!(post_json(&envoy.url("/notes"), &[], &deep).status, 200);
    let r = send("GET", &envoy.url("/search?q=fine"), &[], None);
    assert_eq!(r.status, 200);
    assert_healthy(&envoy);
}

#[test]
fn forwarded_addresses_and_meshward_headers_are_never_trusted() {
    let up = upstream();
    let sink = Sink::start();
    let mut cfg = config();
    cfg["access"] = json!({"default": "deny", "rules": [
        {"name": "from-loopback", "action": "allow", "when": {"source_ips": ["127.0.0.1/32"]}},
        {"name": "from-pods", "action": "allow", "when": {"source_ips": ["10.0.0.0/8"]}}]});
    let envoy = start_with(cfg, up.port, &sink, None);
    // The real peer (127.0.0.1) matches.
    assert_eq!(raw_get(&envoy, "/x", "x-request-id: f-0\r\n").0, 200);
    // Under `use_remote_address: false` (Istio's inbound) Envoy takes the address from
    // the last x-forwarded-for entry, which the caller writes: never matched.
    for xff in ["10.1.2.3", "127.0.0.1", "192.0.2.1, 10.1.2.3"] {
        let (status, body) = raw_get(
            &envoy,
            "/x",
            &format!("x-forwarded-for: {xff}\r\nx-request-id: f-1\r\n"),
        );
        assert_eq!(status, 403, "{xff}: {body}");
    }
    // Incoming x-meshward-* headers never reach the upstream.
    let (status, _) = raw_get(
        &envoy,
        "/x",
        "x-meshward-account: admin\r\nX-Meshward-Trusted: true\r\n",
    );
    assert_eq!(status, 200);
    assert!(up
        .seen()
        .iter()
        .all(|s| s.headers.iter().all(|(n, _)| !n.starts_with("x-meshward-"))));
    let recs = records_with(&sink, &["f-0", "f-1"]);
    let f1 = record(&recs, "f-1");
    assert_eq!(f1["source"]["ip_forwarded"], true, "{f1}");
    assert_eq!(f1["action"], "denied");
    assert_healthy(&envoy);
}

#[test]
fn a_connections_address_is_read_once_but_forwarding_is_seen_per_request() {
    // meshward reads `source.address` once per connection (the TCP peer) for requests
    // without x-forwarded-for, and per request when a request carries one: on a single
    // keep-alive connection, forwarded and plain requests alternate, and each is judged
    // by its own address.
    let up = upstream();
    let sink = Sink::start();
    let mut cfg = config();
    cfg["access"] = json!({"default": "deny", "rules": [
        {"name": "from-loopback", "action": "allow", "when": {"source_ips": ["127.0.0.1/32"]}}]});
    let envoy = start_with(cfg, up.port, &sink, None);
    let mut conn = raw::KeepAlive::connect(envoy.port).expect("connect");
    let steps = [
        ("k-0", Some("127.0.0.1"), 403),
        ("k-1", None, 200),
        ("k-2", Some("127.0.0.1"), 403),
        ("k-3", None, 200),
        ("k-4", None, 200),
        ("k-5", Some("10.1.2.3"), 403),
        ("k-6", None, 200),
    ];
    for (id, xff, want) in steps {
        let xff = xff
            .map(|a| format!("x-forwarded-for: {a}\r\n"))
            .unwrap_or_default();
        let req = format!("GET /x HTTP/1.1\r\nhost: svc\r\n{xff}x-request-id: {id}\r\n\r\n");
        let r = conn.send(req.as_bytes()).expect(id);
        assert_eq!(r.status, want, "{id}: {}", r.text());
    }
    let ids: Vec<&str> = steps.iter().map(|s| s.0).collect();
    let recs = records_with(&sink, &ids);
    for (id, xff, _) in steps {
        let r = record(&recs, id);
        assert_eq!(r["source"]["ip"], xff.unwrap_or("127.0.0.1"), "{id}: {r}");
        assert_eq!(
            r["source"]["ip_forwarded"] == true,
            xff.is_some(),
            "{id}: {r}"
        );
    }
    assert_healthy(&envoy);
}
