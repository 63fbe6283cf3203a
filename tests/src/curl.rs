//! curl as a second client: HTTP/2 with prior knowledge (h2c) and decoding of
//! compressed answers. One curl process (one connection) per URL: curl 7.88 fails
//! transfers that reuse a prior-knowledge HTTP/2 connection (status 000), serially or
//! with `-Z`.

use std::process::Command;

/// One transfer as curl reports it.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Status code (0 when there was no answer).
    pub status: u16,
    /// HTTP version curl used (`2`, `1.1`).
    pub version: String,
    /// Body (decoded when `--compressed` was given).
    pub body: String,
}

const MARK: &str = "\n@@meshward-curl@@";

/// Runs curl with `args` on each of `urls`; one [`Transfer`] per URL, in order.
pub fn run(args: &[&str], urls: &[String]) -> Vec<Transfer> {
    urls.iter().flat_map(|u| run_one(args, u)).collect()
}

fn run_one(args: &[&str], url: &str) -> Vec<Transfer> {
    let write_out = format!("{MARK} %{{http_code}} %{{http_version}}\n");
    let out = Command::new("curl")
        .args(["-s", "--max-time", "20"])
        .args(args)
        .args(["-w", &write_out])
        .arg(url)
        .output()
        .expect("curl runs (Debian package curl)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut transfers = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find(MARK) {
        let body = &rest[..i];
        let after = &rest[i + MARK.len()..];
        let line_end = after.find('\n').unwrap_or(after.len());
        let mut f = after[..line_end].split_whitespace();
        let status = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let version = f.next().unwrap_or("").to_string();
        transfers.push(Transfer {
            status,
            version,
            body: body.to_string(),
        });
        rest = after.get(line_end + 1..).unwrap_or("");
    }
    transfers
}

/// HTTP/2 over cleartext with prior knowledge (what a sidecar sees from an h2c
/// client or another proxy).
pub fn h2c(args: &[&str], urls: &[String]) -> Vec<Transfer> {
    let mut a = vec!["--http2-prior-knowledge"];
    a.extend_from_slice(args);
    run(&a, urls)
}
