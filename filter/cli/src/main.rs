//! `meshward`: the offline companion of the filter. `check` validates a pluginConfig or
//! WasmPlugin manifests with the filter's own config code.

mod check;
mod explain;
mod templates;

use std::process::ExitCode;

const USAGE: &str = "usage:
  meshward check FILE...           validate pluginConfigs (YAML/JSON) or WasmPlugin manifests
  meshward explain CONFIG [opts]   run a sample request through the policy and say why
  meshward templates OPENAPI       print `apis.templates` for an OpenAPI 3 (or Swagger 2) file
  meshward version                 print the module version";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check") if args.len() > 1 => check::run(&args[1..]),
        Some("explain") if args.len() > 1 => explain::run(&args[1..]),
        Some("templates") if args.len() == 2 => templates::run(&args[1]),
        Some("version") => {
            println!("meshward {}", meshward_core::VERSION);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
