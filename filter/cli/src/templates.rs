//! `meshward templates OPENAPI`: turns a team's OpenAPI document (YAML or JSON) into the
//! `apis.templates` list, so the spec becomes the allow-list for `undeclared: block`.

use meshward_core::api::openapi::templates_from_openapi;
use serde::Deserialize;
use std::process::ExitCode;

/// Prints the templates as a YAML list under `apis.templates`.
pub fn run(file: &str) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::from(2);
        }
    };
    let doc = match serde_yaml_ng::Deserializer::from_str(&text)
        .next()
        .map(serde_json::Value::deserialize)
    {
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            eprintln!("{file}: not YAML/JSON: {e}");
            return ExitCode::from(2);
        }
        None => {
            eprintln!("{file}: empty");
            return ExitCode::from(2);
        }
    };
    match templates_from_openapi(&doc) {
        Ok(ts) => {
            println!("apis:\n  templates:");
            for t in ts {
                println!("    - {}", serde_json::to_string(&t).unwrap_or_default());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{file}: {e}");
            ExitCode::FAILURE
        }
    }
}
