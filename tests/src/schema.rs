//! Checks event records against the project's JSON Schema
//! (`docs/schema/event-record.schema.json`) with the PyPI `jsonschema` package.

use crate::paths;
use std::io::Write;
use std::process::{Command, Stdio};

const CHECK: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
bad = []
for i, rec in enumerate(json.load(sys.stdin)):
    for e in v.iter_errors(rec):
        bad.append(f"record {i}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
if bad:
    print("\n".join(bad[:20]), file=sys.stderr)
    sys.exit(1)
"#;

/// Validates every record; the error lists the first violations.
pub fn validate_records(records: &[serde_json::Value]) -> Result<(), String> {
    let schema = paths::root().join("docs/schema/event-record.schema.json");
    let mut child = Command::new(paths::python())
        .arg("-c")
        .arg(CHECK)
        .arg(&schema)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", paths::python().display()))?;
    let input = serde_json::to_vec(records).map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "records violate the schema:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
