//! `meshward explain` and `meshward templates` as operators run them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn meshward(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meshward"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn demo_config() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/demo-config.yaml"
    )
    .to_string()
}

#[test]
fn explains_a_blocked_injection() {
    let (code, out) = meshward(&[
        "explain",
        &demo_config(),
        "--path",
        "/orders/1?sort=1%27%20OR%20%271%27%3D%271",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("decision: meshward answers 403"), "{out}");
    assert!(out.contains(r#""threat":"sqli""#), "{out}");
    assert!(out.contains(r#"template: "/orders/{order_id}""#), "{out}");
}

#[test]
fn explains_masking_and_the_exemption() {
    let body = r#"{"id":"1","mobile":"13812345678"}"#;
    let (_, out) = meshward(&[
        "explain",
        &demo_config(),
        "--path",
        "/users/1",
        "--response-body",
        body,
    ]);
    assert!(
        out.contains(r#"response: masked body {"id":"1","mobile":"138****5678"}"#),
        "{out}"
    );
    assert!(out.contains("mask-pii"), "{out}");
    let (_, out) = meshward(&[
        "explain",
        &demo_config(),
        "--path",
        "/users/1",
        "--header",
        "x-api-key: demo-admin-key",
        "--response-body",
        body,
    ]);
    assert!(
        !out.contains("masked body"),
        "the admin API key is exempt: {out}"
    );
    assert!(out.contains(r#""via":"api_key""#), "{out}");
}

#[test]
fn openapi_documents_become_templates() {
    let dir = std::env::temp_dir().join(format!("mw-oa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("api.yaml");
    std::fs::write(
        &f,
        "openapi: 3.0.0\nservers: [{url: https://x.example.com/api/v1}]\npaths:\n  /users/{id}:\n    get: {}\n    delete: {}\n  /orders:\n    post: {}\n",
    )
    .unwrap();
    let (code, out) = meshward(&["templates", f.to_str().unwrap()]);
    // Removed before the checks, so that a failing run leaves nothing in /tmp either.
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(r#"- "GET /api/v1/users/{id}""#), "{out}");
    assert!(out.contains(r#"- "DELETE /api/v1/users/{id}""#), "{out}");
    assert!(out.contains(r#"- "POST /api/v1/orders""#), "{out}");
}
