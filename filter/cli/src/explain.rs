//! `meshward explain CONFIG [options]`: runs one sample request (and optionally its
//! response) through the compiled policy with the filter's own code, in memory, and
//! prints the decision and why: template, identity, every rule that matched, threats,
//! sensitive data, the answer or the masked body.

use meshward_core::config::load_value;
use meshward_core::exchange::{
    BodyResult, Direction, Exchange, Header, OutRecord, RequestInfo, ResponseInfo, StreamEnd,
};
use meshward_core::host::MemHost;
use meshward_core::identity::parse_spiffe;
use meshward_core::peer::Source;
use meshward_core::runtime::{NodeInfo, Runtime};
use std::process::ExitCode;
use std::rc::Rc;

const USAGE: &str = "usage: meshward explain CONFIG [--method M] [--path P] [--header 'name: value']...
                        [--body JSON|@FILE] [--source IP] [--principal SPIFFE-ID]
                        [--response-status N] [--response-header 'name: value']... [--response-body TEXT|@FILE]";

#[derive(Debug, Default)]
struct Args {
    config: String,
    method: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
    source: String,
    principal: Option<String>,
    status: u16,
    response_headers: Vec<(String, Vec<u8>)>,
    response_body: Option<Vec<u8>>,
}

fn text_or_file(v: &str) -> Result<Vec<u8>, String> {
    match v.strip_prefix('@') {
        Some(f) => std::fs::read(f).map_err(|e| format!("{f}: {e}")),
        None => Ok(v.as_bytes().to_vec()),
    }
}

fn header(v: &str) -> Result<(String, Vec<u8>), String> {
    let (k, val) = v
        .split_once(':')
        .ok_or_else(|| format!("header \"{v}\" is not `name: value`"))?;
    Ok((
        k.trim().to_ascii_lowercase(),
        val.trim().as_bytes().to_vec(),
    ))
}

fn parse(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        method: "GET".into(),
        path: "/".into(),
        source: "10.0.0.1:5000".into(),
        status: 200,
        ..Default::default()
    };
    let mut it = argv.iter();
    a.config = it.next().ok_or(USAGE)?.clone();
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--method" => a.method = val()?.to_ascii_uppercase(),
            "--path" => a.path = val()?,
            "--header" => a.headers.push(header(&val()?)?),
            "--body" => a.body = Some(text_or_file(&val()?)?),
            "--source" => a.source = format!("{}:5000", val()?),
            "--principal" => a.principal = Some(val()?),
            "--response-status" => {
                a.status = val()?
                    .parse()
                    .map_err(|_| "--response-status takes a number")?
            }
            "--response-header" => a.response_headers.push(header(&val()?)?),
            "--response-body" => a.response_body = Some(text_or_file(&val()?)?),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn load_config(path: &str) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let found = crate::check::configs_in(path, &text)?;
    found
        .into_iter()
        .next()
        .map(|f| f.config)
        .ok_or_else(|| format!("{path}: no pluginConfig found"))
}

/// Runs the explanation; prints to stdout.
pub fn run(argv: &[String]) -> ExitCode {
    match explain(argv) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// The explanation as text.
pub fn explain(argv: &[String]) -> Result<String, String> {
    use std::fmt::Write;
    let a = parse(argv)?;
    let loaded = load_value(load_config(&a.config)?).map_err(|e| e.to_string())?;
    let node = NodeInfo {
        plugin_name: "explain.meshward".into(),
        seed: 1,
        env: std::env::vars().collect(),
        ..Default::default()
    };
    let rt = Runtime::new(loaded.policy, &node);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    let host = MemHost::at(now);
    let mut headers = a.headers.clone();
    if !headers.iter().any(|(k, _)| k == "x-request-id") {
        headers.push(("x-request-id".into(), b"explain-1".to_vec()));
    }
    let mut out = String::new();
    let request_headers = view(&headers);
    let source = Rc::new(Source::parse(&a.source));
    let workload = a.principal.as_deref().and_then(parse_spiffe).map(Rc::new);
    let req = RequestInfo {
        method: &a.method,
        path: &a.path,
        authority: "service.local",
        headers: &request_headers,
        direction: Direction::Inbound,
        source: Some(&source),
        workload: workload.as_ref(),
        mtls: a.principal.is_some(),
        jwt_authn: None,
        end_of_stream: a.body.is_none(),
    };
    let _ = writeln!(out, "request:  {} {}", a.method, a.path);
    let (ex, plan) = Exchange::start(&rt, &host, &req);
    let Some(mut ex) = ex else {
        let _ = writeln!(
            out,
            "decision: pass untouched (disabled, or direction not listed)"
        );
        return Ok(out);
    };
    let mut status = a.status;
    let mut answered = plan.answer.clone();
    if answered.is_none() {
        if let Some(body) = &a.body {
            answered = ex.request_body(&rt, &host, body, body.len() > plan.body_limit.max(1));
        }
    }
    if !plan.remove_headers.is_empty() {
        let _ = writeln!(out, "removes:  request headers {:?}", plan.remove_headers);
    }
    let mut masked_body = None;
    if let Some(ans) = &answered {
        status = ans.status;
        let _ = writeln!(
            out,
            "decision: meshward answers {} {}",
            ans.status,
            String::from_utf8_lossy(&ans.body)
        );
    } else {
        let _ = writeln!(out, "decision: forwarded to the upstream");
        if let Some(body) = &a.response_body {
            let mut rh = a.response_headers.clone();
            if !rh.iter().any(|(k, _)| k == "content-type") {
                rh.push(("content-type".into(), b"application/json".to_vec()));
            }
            let rh = view(&rh);
            let rplan = ex.response_headers(
                &rt,
                &host,
                &ResponseInfo {
                    status: a.status,
                    headers: &rh,
                    end_of_stream: false,
                },
            );
            match ex.response_body(&rt, &host, &rh, body, body.len() > rplan.body_limit.max(1)) {
                BodyResult::Continue => {}
                BodyResult::Replace { body, .. } => masked_body = Some(body),
                BodyResult::Answer(ans) => {
                    status = ans.status;
                    let _ = writeln!(
                        out,
                        "response: replaced by {} {}",
                        ans.status,
                        String::from_utf8_lossy(&ans.body)
                    );
                }
            }
        }
    }
    if let Some(b) = masked_body {
        let _ = writeln!(out, "response: masked body {}", String::from_utf8_lossy(&b));
    }
    let records = ex.finish(
        &rt,
        &host,
        &StreamEnd {
            status,
            ..Default::default()
        },
    );
    for r in records {
        match r {
            OutRecord::Call(c) => {
                let v = serde_json::to_value(&*c).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "template: {} ({})",
                    v["api"]["path"], v["api"]["protocol"]
                );
                if let Some(acc) = v.get("account") {
                    let _ = writeln!(out, "account:  {acc}");
                }
                let _ = writeln!(out, "action:   {}", v["action"]);
                if let Some(d) = v.get("decisions") {
                    let _ = writeln!(out, "rules:    {d}");
                }
                if let Some(t) = v.get("threats") {
                    let _ = writeln!(out, "threats:  {t}");
                }
                if let Some(s) = v.get("sensitive") {
                    let _ = writeln!(out, "data:     {s} (level {})", v["level"]);
                }
            }
            OutRecord::Finding(f) => {
                let _ = writeln!(
                    out,
                    "finding:  {} {}",
                    f.finding,
                    serde_json::to_string(&f.evidence).unwrap_or_default()
                );
            }
            OutRecord::Alert(al) => {
                let _ = writeln!(out, "alert:    {}", al.alert);
            }
            OutRecord::Endpoint(_) => {}
        }
    }
    Ok(out)
}

/// The core's borrowed view of owned headers.
fn view(headers: &[(String, Vec<u8>)]) -> Vec<Header<'_>> {
    headers
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_slice()))
        .collect()
}
