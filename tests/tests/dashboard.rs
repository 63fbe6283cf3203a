//! `examples/grafana/meshward-dashboard.json`: it parses as a Grafana dashboard, and
//! every PromQL expression in it uses only `meshward_*` metric names, label names and
//! label values that a real Envoy running meshward (with the full example config, after
//! some traffic and a stats flush) exposes in `/stats/prometheus`; and it covers every
//! meshward metric family.

use meshward_e2e::client::{get, post_json};
use meshward_e2e::envoy::{Envoy, EnvoyOptions};
use meshward_e2e::paths;
use meshward_e2e::upstream::Upstream;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const FUNCTIONS: &[&str] = &[
    "sum",
    "count",
    "max",
    "min",
    "avg",
    "rate",
    "irate",
    "increase",
    "histogram_quantile",
    "topk",
    "bottomk",
    "and",
    "or",
    "unless",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "clamp_min",
    "label_values",
];

/// What one PromQL expression uses.
#[derive(Debug, Default)]
struct Uses {
    metrics: BTreeSet<String>,
    /// label → values it is compared to with `=` (empty: only named, e.g. in `by`)
    labels: BTreeMap<String, BTreeSet<String>>,
}

/// A small PromQL reader: label matchers in `{}`, `by`/`without` lists, range
/// selectors, Grafana `$variables`, numbers and function names are told apart from
/// metric names.
fn analyse(expr: &str) -> Uses {
    let mut uses = Uses::default();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let mut rest = String::new();
    while i < chars.len() {
        match chars[i] {
            '{' => {
                let mut j = i + 1;
                let mut body = String::new();
                let mut quoted = false;
                while j < chars.len() && (quoted || chars[j] != '}') {
                    if chars[j] == '"' {
                        quoted = !quoted;
                    }
                    body.push(chars[j]);
                    j += 1;
                }
                for m in body.split(',').filter(|m| !m.trim().is_empty()) {
                    let op_at = m.find(['=', '!']).expect("matcher operator");
                    let name = m[..op_at].trim().to_string();
                    let rest_m = &m[op_at..];
                    let value = rest_m
                        .trim_start_matches(['=', '!', '~'])
                        .trim()
                        .trim_matches('"')
                        .to_string();
                    let entry = uses.labels.entry(name).or_default();
                    if rest_m.starts_with('=') && !rest_m.starts_with("=~") {
                        entry.insert(value);
                    }
                }
                rest.push(' ');
                i = j + 1;
            }
            '[' => {
                while i < chars.len() && chars[i] != ']' {
                    i += 1;
                }
                i += 1;
                rest.push(' ');
            }
            '"' => panic!("string literal outside a matcher in {expr}"),
            c => {
                rest.push(c);
                i += 1;
            }
        }
    }
    // Tokens of what is left.
    let mut tokens = Vec::new();
    let rc: Vec<char> = rest.chars().collect();
    let mut k = 0;
    while k < rc.len() {
        let c = rc[k];
        if c == '$' {
            k += 1;
            while k < rc.len() && (rc[k].is_alphanumeric() || rc[k] == '_') {
                k += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = k;
            while k < rc.len() && (rc[k].is_ascii_alphanumeric() || rc[k] == '_' || rc[k] == ':') {
                k += 1;
            }
            tokens.push(rc[start..k].iter().collect::<String>());
        } else if c.is_ascii_digit() || c == '.' {
            while k < rc.len() && (rc[k].is_ascii_alphanumeric() || rc[k] == '.') {
                k += 1;
            }
        } else {
            if c == '(' || c == ')' {
                tokens.push(c.to_string());
            }
            k += 1;
        }
    }
    let mut t = 0;
    while t < tokens.len() {
        let tok = &tokens[t];
        if tok == "by" || tok == "without" {
            assert_eq!(tokens.get(t + 1).map(String::as_str), Some("("), "{expr}");
            t += 2;
            while t < tokens.len() && tokens[t] != ")" {
                uses.labels.entry(tokens[t].clone()).or_default();
                t += 1;
            }
        } else if tok != "(" && tok != ")" && !FUNCTIONS.contains(&tok.as_str()) {
            uses.metrics.insert(tok.clone());
        }
        t += 1;
    }
    uses
}

/// Prometheus exposition text → series name → label → values.
fn exposed(text: &str) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, _) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        let entry = out.entry(name.to_string()).or_default();
        let mut rest = labels;
        while let Some(eq) = rest.find("=\"") {
            let label = rest[..eq].trim_start_matches(',').to_string();
            let after = &rest[eq + 2..];
            let end = after.find('"').unwrap();
            entry
                .entry(label)
                .or_default()
                .insert(after[..end].to_string());
            rest = &after[end + 1..];
        }
    }
    out
}

fn dashboard() -> Value {
    let path = paths::root().join("examples/grafana/meshward-dashboard.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (panel title, expr, legendFormat) of every query, panels in rows included.
fn queries(d: &Value) -> Vec<(String, String, String)> {
    fn walk(panels: &[Value], out: &mut Vec<(String, String, String)>) {
        for p in panels {
            for t in p["targets"].as_array().into_iter().flatten() {
                out.push((
                    p["title"].as_str().unwrap_or("?").to_string(),
                    t["expr"].as_str().expect("expr").to_string(),
                    t["legendFormat"].as_str().unwrap_or("").to_string(),
                ));
            }
            if let Some(inner) = p["panels"].as_array() {
                walk(inner, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(d["panels"].as_array().expect("panels"), &mut out);
    out
}

#[test]
fn the_dashboard_is_a_grafana_dashboard() {
    let d = dashboard();
    assert_eq!(d["uid"], "meshward-overview");
    assert!(d["schemaVersion"].as_u64().unwrap() >= 30);
    assert!(d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["type"] == "datasource" && v["name"] == "datasource"));
    let panels = d["panels"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    for p in panels {
        assert!(ids.insert(p["id"].as_u64().unwrap()), "duplicate id: {p}");
        let g = &p["gridPos"];
        assert!(
            g["w"].as_u64().unwrap() + g["x"].as_u64().unwrap() <= 24,
            "{p}"
        );
        if p["type"] != "row" {
            assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{}", p["title"]);
            let refs: BTreeSet<&str> = targets
                .iter()
                .map(|t| t["refId"].as_str().unwrap())
                .collect();
            assert_eq!(refs.len(), targets.len(), "{}: refIds", p["title"]);
        }
    }
    assert!(queries(&d).len() >= 20);
}

#[test]
fn the_reader_finds_metrics_labels_and_values() {
    let u = analyse(
        r#"histogram_quantile(0.99, sum by (le, message) (rate(meshward_inspect_microseconds_bucket{dry_run="true",kind=~"a|b"}[$__rate_interval]))) / max(up)"#,
    );
    assert_eq!(
        u.metrics.iter().collect::<Vec<_>>(),
        ["meshward_inspect_microseconds_bucket", "up"]
    );
    assert_eq!(
        u.labels.keys().collect::<Vec<_>>(),
        ["dry_run", "kind", "le", "message"]
    );
    assert!(u.labels["dry_run"].contains("true"));
    assert!(u.labels["kind"].is_empty());
}

#[test]
fn every_query_uses_metrics_and_labels_a_real_envoy_exposes() {
    let cfg_yaml =
        std::fs::read_to_string(paths::root().join("examples/full-config.yaml")).unwrap();
    let cfg: Value = serde_yaml_ng::from_str(&cfg_yaml).unwrap();
    let up = Upstream::sample();
    let envoy = Envoy::start(&EnvoyOptions::new(&cfg.to_string(), up.port, 1))
        .unwrap_or_else(|e| panic!("Envoy refused the full example config:\n{}", e.log));

    // Some traffic: bodies with sensitive data both ways, a threat, a 404.
    for i in 0..5 {
        get(&envoy.url(&format!("/users/{}", 1000 + i)), &[]);
        post_json(
            &envoy.url("/login"),
            &[],
            r#"{"user":"zhang.wei@example.com","mobile":"13812345678","password":"hunter2"}"#,
        );
    }
    get(&envoy.url("/search?q=1%27%20OR%20%271%27%3D%271"), &[]);
    get(&envoy.url("/nowhere/at/all"), &[]);

    // Histograms appear after Envoy's stats flush (5 s by default).
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = envoy.prometheus();
        if text.contains("meshward_inspect_microseconds_bucket{") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let series = exposed(&text);
    assert!(
        series.contains_key("meshward_inspect_microseconds_bucket"),
        "no histogram after the stats flush"
    );
    assert!(envoy.vm_failures().is_empty(), "{:?}", envoy.vm_failures());
    let histograms: BTreeSet<String> = series
        .keys()
        .filter_map(|n| n.strip_suffix("_bucket").map(str::to_string))
        .collect();
    let family = |name: &str| -> String {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                if histograms.contains(base) {
                    return base.to_string();
                }
            }
        }
        name.to_string()
    };
    let exposed_families: BTreeSet<String> = series
        .keys()
        .filter(|n| n.starts_with("meshward_"))
        .map(|n| family(n))
        .collect();
    assert!(exposed_families.len() >= 18, "{exposed_families:?}");

    let mut used_families = BTreeSet::new();
    let mut problems = Vec::new();
    for (title, expr, legend) in queries(&dashboard()) {
        let u = analyse(&expr);
        if u.metrics.is_empty() {
            problems.push(format!("{title}: no metric in {expr}"));
        }
        for m in &u.metrics {
            if !m.starts_with("meshward_") {
                problems.push(format!("{title}: `{m}` is not a meshward metric"));
                continue;
            }
            let Some(labels) = series.get(m) else {
                problems.push(format!("{title}: `{m}` is not exposed by Envoy"));
                continue;
            };
            used_families.insert(family(m));
            for (label, values) in &u.labels {
                match labels.get(label) {
                    None => problems.push(format!("{title}: `{m}` has no label `{label}`")),
                    Some(have) => {
                        for v in values {
                            if !have.contains(v) {
                                problems.push(format!(
                                    "{title}: `{m}` never has {label}=\"{v}\" (has {have:?})"
                                ));
                            }
                        }
                    }
                }
            }
        }
        // Legends only name labels the query keeps.
        for part in legend.split("{{").skip(1) {
            let label = part.split("}}").next().unwrap().trim();
            if !u.labels.contains_key(label) {
                problems.push(format!("{title}: legend uses `{label}`, not in {expr}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    let missing: Vec<_> = exposed_families.difference(&used_families).collect();
    assert!(
        missing.is_empty(),
        "meshward metrics without a panel: {missing:?}"
    );
}
