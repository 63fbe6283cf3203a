//! Checks an OTLP/HTTP JSON body against the OpenTelemetry protobuf definitions
//! (`opentelemetry-proto` in the project venv): it must parse as an
//! `ExportLogsServiceRequest` with the protobuf JSON mapping.

use crate::paths;
use std::io::Write;
use std::process::{Command, Stdio};

const CHECK: &str = r#"
import sys
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
req = ExportLogsServiceRequest()
json_format.Parse(sys.stdin.read(), req)
n = sum(len(sl.log_records) for rl in req.resource_logs for sl in rl.scope_logs)
print(n)
"#;

/// Parses `body` as an `ExportLogsServiceRequest`; returns the number of log records,
/// or the parser's complaint.
pub fn parse_export_logs(body: &[u8]) -> Result<usize, String> {
    let mut child = Command::new(paths::python())
        .arg("-c")
        .arg(CHECK)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", paths::python().display()))?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body)
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("{e}"))
}
