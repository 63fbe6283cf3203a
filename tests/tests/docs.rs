//! The docs point at tests (`file.rs::test_name`, as in the threat model's "shown by"
//! lines): every such reference names a test function that exists, so a renamed or
//! deleted test cannot leave a claim without its evidence.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Every `.rs` file under `dir` (skipping build output).
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if name != "target" && name != "corpus" && name != "artifacts" {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `(file, test)` pairs written as `name.rs::ident` in `text`.
fn references(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(at) = text[from..].find(".rs::") {
        let dot = from + at;
        let mut s = dot;
        while s > 0 && is_word(bytes[s - 1]) {
            s -= 1;
        }
        let mut e = dot + 5;
        while e < bytes.len() && is_word(bytes[e]) {
            e += 1;
        }
        if s < dot && e > dot + 5 {
            out.push((
                format!("{}.rs", &text[s..dot]),
                text[dot + 5..e].to_string(),
            ));
        }
        from = dot + 5;
    }
    out
}

#[test]
fn every_test_the_docs_cite_exists() {
    let root = root();
    let mut sources = Vec::new();
    for dir in ["tests", "filter", "fuzz/fuzz_targets"] {
        rust_files(&root.join(dir), &mut sources);
    }
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.push(root.join("README.md"));
    let mut checked = 0;
    let mut missing = Vec::new();
    for doc in &docs {
        let text = std::fs::read_to_string(doc).expect("doc");
        for (file, test) in references(&text) {
            let found = sources
                .iter()
                .filter(|p| p.file_name().is_some_and(|n| n == file.as_str()))
                .any(|p| {
                    std::fs::read_to_string(p).is_ok_and(|src| {
                        src.contains(&format!("fn {test}(")) || src.contains(&format!("fn {test}<"))
                    })
                });
            checked += 1;
            if !found {
                missing.push(format!("{}: {file}::{test}", doc.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "cited tests that do not exist:\n{}",
        missing.join("\n")
    );
    assert!(
        checked >= 20,
        "the threat model cites its tests ({checked} references found)"
    );
}

#[test]
fn references_are_parsed() {
    assert_eq!(
        references("shown by `bypass.rs::header_case`, and a.rs::b; not x.rs:: alone"),
        vec![
            ("bypass.rs".to_string(), "header_case".to_string()),
            ("a.rs".to_string(), "b".to_string())
        ]
    );
}
