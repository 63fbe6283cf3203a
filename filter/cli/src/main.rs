//! `meshward`: the offline companion of the filter. `check` validates a pluginConfig or
//! WasmPlugin manifests with the filter's own config code.

mod check;

use std::process::ExitCode;

const USAGE: &str = "usage:
  meshward check FILE...     validate pluginConfigs (YAML/JSON) or WasmPlugin manifests
  meshward version           print the module version";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check") if args.len() > 1 => check::run(&args[1..]),
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
