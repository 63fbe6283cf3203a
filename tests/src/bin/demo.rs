//! The meshward demo: a real Envoy with meshward.wasm in front of a sample shop API,
//! a local collector sink, scripted traffic, and a summary of what meshward saw.
//!
//! Run it with `scripts/demo.sh` (which installs Envoy and builds the module first).

use meshward_e2e::client::{send, Reply};
use meshward_e2e::envoy::{Envoy, EnvoyOptions};
use meshward_e2e::paths;
use meshward_e2e::sink::Sink;
use meshward_e2e::upstream::Upstream;
use std::collections::BTreeMap;
use std::time::Duration;

struct Step {
    what: &'static str,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
}

fn step(what: &'static str, method: &'static str, path: &str) -> Step {
    Step {
        what,
        method,
        path: path.to_string(),
        headers: Vec::new(),
        body: None,
    }
}

impl Step {
    fn header(mut self, k: &'static str, v: &str) -> Self {
        self.headers.push((k, v.to_string()));
        self
    }
    fn json(mut self, body: &str) -> Self {
        self.headers
            .push(("content-type", "application/json".into()));
        self.body = Some(body.to_string());
        self
    }
}

fn traffic() -> Vec<Step> {
    let mut steps = vec![
        step("health check (inspection skipped)", "GET", "/healthz"),
        step(
            "discovery + PII: read a user (masked for a normal caller)",
            "GET",
            "/users/1001",
        )
        .header("x-user-id", "u-1001"),
        step(
            "same template /users/{id}: another user",
            "GET",
            "/users/1002",
        )
        .header("x-user-id", "u-1002"),
        step(
            "trusted admin (API key): exempt from masking",
            "GET",
            "/users/1001",
        )
        .header("x-api-key", "demo-admin-key"),
        step(
            "order ids and timestamps are not PII",
            "GET",
            "/orders/20231129143055123456",
        ),
        step(
            "login with a password (Basic auth: weak_auth finding)",
            "POST",
            "/login",
        )
        .header("authorization", "Basic emhhbmcud2VpOmh1bnRlcjI=")
        .json(r#"{"username":"zhang.wei","password":"hunter2"}"#),
        step("GraphQL operation named from the body", "POST", "/graphql").json(
            r#"{"query":"query GetUser { user(id: 1) { id name } }","operationName":"GetUser"}"#,
        ),
        step("gRPC method as the API", "POST", "/shop.Users/GetUser")
            .header("content-type", "application/grpc"),
        step(
            "DELETE: a dry-run deny rule records, changes nothing",
            "DELETE",
            "/orders/7",
        ),
        step(
            "SQL injection in a query parameter: blocked",
            "GET",
            "/orders/1?sort=id%27%20OR%20%271%27=%271",
        ),
        step(
            "path traversal: blocked",
            "GET",
            "/files/..%2f..%2fetc%2fpasswd",
        ),
        step("XSS in a JSON body: blocked", "POST", "/graphql")
            .json(r#"{"query":"{ search(q: \"<svg/onload=alert(1)>\") { id } }"}"#),
        step("scanner user-agent: blocked", "GET", "/search")
            .header("user-agent", "sqlmap/1.7.2#stable"),
        step(
            "undeclared (shadow) endpoint: alert + finding",
            "GET",
            "/internal/debug/vars",
        ),
        step(
            "5xx with a stack trace: verbose_errors finding",
            "GET",
            "/debug/crash",
        ),
        step(
            "60 mobiles in one answer: excessive_exposure finding",
            "GET",
            "/export/customers",
        )
        .header("x-api-key", "demo-admin-key"),
        step(
            "an ID number in the query: sensitive_in_url finding",
            "GET",
            "/lookup?id_card=11010519491231002X",
        ),
    ];
    for i in 0..5 {
        steps.push(
            step("search: 3 per minute per caller", "GET", "/search?q=mug")
                .header("x-user-id", &format!("s{i}")),
        );
    }
    for i in 0..6 {
        steps.push(step(
            "probing for old APIs (404s): not_found_burst",
            "GET",
            &format!("/old-api/v{i}/export"),
        ));
    }
    steps
}

fn short(body: &str, n: usize) -> String {
    let one_line: String = body.chars().filter(|c| *c != '\n').collect();
    if one_line.chars().count() > n {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    } else {
        one_line
    }
}

fn main() {
    let cfg_path = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| paths::root().join("examples/demo-config.yaml"));
    let yaml = std::fs::read_to_string(&cfg_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", cfg_path.display()));
    let doc: serde_json::Value = serde_yaml_ng::from_str(&yaml).expect("demo config is YAML");
    let plugin_config = serde_json::to_string(&doc).expect("JSON");

    println!("== meshward demo ==");
    println!("config:   {}", cfg_path.display());
    println!("module:   {}", paths::wasm().display());
    println!("envoy:    {}", paths::envoy().display());

    let upstream = Upstream::sample();
    let sink = Sink::start();
    let envoy = match Envoy::start(
        &EnvoyOptions::new(&plugin_config, upstream.port, sink.port).concurrency(2),
    ) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("Envoy refused to start:\n{}", e.log);
            std::process::exit(1);
        }
    };
    println!(
        "Envoy ready: listener 127.0.0.1:{}, admin 127.0.0.1:{}; upstream :{}, collector sink :{}\n",
        envoy.port, envoy.admin, upstream.port, sink.port
    );

    println!("-- traffic --");
    let mut statuses: BTreeMap<u16, u32> = BTreeMap::new();
    let mut samples: Vec<(String, Reply)> = Vec::new();
    for s in traffic() {
        let headers: Vec<(&str, &str)> = s.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = send(
            s.method,
            &envoy.url(&s.path),
            &headers,
            s.body.as_deref().map(str::as_bytes),
        );
        *statuses.entry(r.status).or_default() += 1;
        println!(
            "{:>3}  {:<6} {:<42} {}",
            r.status,
            s.method,
            short(&s.path, 42),
            s.what
        );
        if s.path.starts_with("/users/1001") || r.status == 403 || r.status == 429 {
            samples.push((format!("{} {}", s.method, s.path), r));
        }
    }

    println!("\n-- what the callers got (selected bodies) --");
    for (what, r) in samples.iter().take(8) {
        println!("{what} -> {}\n    {}", r.status, short(&r.body, 200));
    }

    let recs = sink.wait_records(Duration::from_secs(5), |r| {
        r.iter().filter(|x| x["kind"] == "call").count() >= traffic().len()
    });
    std::thread::sleep(Duration::from_millis(800));
    let recs = if recs.len() < sink.records().len() {
        sink.records()
    } else {
        recs
    };

    println!(
        "\n-- event records at the collector sink: {} --",
        recs.len()
    );
    let mut by_kind: BTreeMap<String, u32> = BTreeMap::new();
    let mut actions: BTreeMap<String, u32> = BTreeMap::new();
    let mut endpoints: BTreeMap<String, String> = BTreeMap::new();
    let mut sensitive: BTreeMap<String, u64> = BTreeMap::new();
    for r in &recs {
        let kind = r["kind"].as_str().unwrap_or("?").to_string();
        *by_kind.entry(kind.clone()).or_default() += 1;
        if kind == "call" {
            *actions
                .entry(r["action"].as_str().unwrap_or("?").into())
                .or_default() += 1;
            let ep = format!(
                "{} {}",
                r["api"]["method"].as_str().unwrap_or(""),
                r["api"]["path"].as_str().unwrap_or("")
            );
            endpoints.insert(ep, r["api"]["protocol"].as_str().unwrap_or("").into());
            for dir in ["request", "response"] {
                if let Some(m) = r["sensitive"][dir].as_object() {
                    for (t, n) in m {
                        *sensitive.entry(format!("{t} ({dir})")).or_default() +=
                            n.as_u64().unwrap_or(0);
                    }
                }
            }
        }
    }
    println!("by kind:   {by_kind:?}");
    println!("by action: {actions:?}");
    println!("endpoints seen ({}):", endpoints.len());
    for (ep, proto) in &endpoints {
        println!("    {ep:<48} {proto}");
    }
    if sensitive.is_empty() {
        println!("sensitive values: none recorded");
    } else {
        println!("sensitive values (types and counts only, never values):");
        for (t, n) in &sensitive {
            println!("    {t:<36} {n}");
        }
    }
    let findings: Vec<String> = recs
        .iter()
        .filter(|r| r["kind"] == "finding")
        .map(|r| {
            format!(
                "{:<26} {} {}  evidence {}",
                r["finding"].as_str().unwrap_or(""),
                r["api"]["method"].as_str().unwrap_or(""),
                r["api"]["path"].as_str().unwrap_or(""),
                r["evidence"]
            )
        })
        .collect();
    println!("findings ({}):", findings.len());
    for f in &findings {
        println!("    {f}");
    }
    for a in recs.iter().filter(|r| r["kind"] == "alert") {
        println!(
            "alert: {} by {} (count {}, window {})",
            a["alert"].as_str().unwrap_or(""),
            a["actor"],
            a["count"],
            a["window"].as_str().unwrap_or("")
        );
    }
    let posts = sink.posts();
    let valid_otlp = posts
        .iter()
        .filter(|p| meshward_e2e::otlp::parse_export_logs(&p.body).is_ok())
        .count();
    println!(
        "OTLP batches that parse as ExportLogsServiceRequest (opentelemetry-proto): {valid_otlp}/{}",
        posts.len()
    );
    if let Some(r) = recs.iter().find(|r| {
        r["kind"] == "call"
            && r["api"]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/users"))
    }) {
        println!(
            "\none call record, as the collector receives it:\n{}",
            serde_json::to_string_pretty(r).unwrap_or_default()
        );
    }

    println!("\n-- Envoy stats (/stats/prometheus, meshward_* non-zero) --");
    let prom = envoy.prometheus();
    for l in prom.lines() {
        if l.starts_with("meshward_") && !l.ends_with(" 0") && !l.contains("_bucket{") {
            println!("    {l}");
        }
    }

    println!("\n-- summary --");
    println!(
        "requests sent: {}, answers by status: {statuses:?}",
        traffic().len()
    );
    println!(
        "records at the sink: {} in {} POSTs",
        recs.len(),
        sink.posts().len()
    );
    let failures = envoy.vm_failures();
    println!("Wasm VM failures in the Envoy log: {}", failures.len());
    let blocked = statuses.get(&403).copied().unwrap_or(0);
    let limited = statuses.get(&429).copied().unwrap_or(0);
    let masked = actions.get("masked").copied().unwrap_or(0);
    if recs.is_empty()
        || !failures.is_empty()
        || blocked == 0
        || limited == 0
        || masked == 0
        || valid_otlp != posts.len()
    {
        eprintln!("demo FAILED: expected records, blocks, a rate limit, masking, valid OTLP and no VM failure");
        std::process::exit(1);
    }
    println!("demo OK");
}
