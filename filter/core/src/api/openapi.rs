//! `apis.templates` from an OpenAPI document: `"GET /users/{id}"` for every operation.
//!
//! - OpenAPI 3: paths are prefixed with the path of `servers[0].url` (`https://x/api/v1`
//!   and `/api/v1` both give `/api/v1`; server variables take their `default`).
//!   Swagger 2: `basePath`.
//! - Per path item, the operations `get`, `put`, `post`, `delete`, `options`, `head`,
//!   `patch`, `trace` give a method-qualified template; other keys (`parameters`,
//!   `summary`, `description`, `servers`, `x-*`) are skipped, and so are `x-*` keys of
//!   `paths`. A path item with no operation but a `$ref` gives an any-method template.
//! - A parameter that is not a whole segment (`/files/{name}.{ext}`,
//!   `/v1/{name}:cancel`) makes the whole segment one parameter named after the first
//!   one (`/files/{name}`), since meshward templates take whole segments; characters of
//!   parameter names outside `[A-Za-z0-9_-]` become `_`.
//! - Order: sorted by path, then by the method order above; duplicates removed. Order
//!   does not change matching (the most specific template wins), only readability.
//!
//! Every produced template is checked with [`crate::matcher::Template::parse`]; a path
//! that cannot be turned into a valid template is an error naming it.

use crate::matcher::Template;
use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Builds `apis.templates` entries from an OpenAPI 3 (or Swagger 2) document.
pub fn templates_from_openapi(doc: &Value) -> Result<Vec<String>, String> {
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| "not an OpenAPI document: no \"paths\" object".to_string())?;
    let base = base_path(doc)?;
    let mut items: Vec<(String, Vec<String>)> = Vec::new();
    for (raw_path, item) in paths {
        if raw_path.starts_with("x-") {
            continue;
        }
        if !raw_path.starts_with('/') {
            return Err(format!(
                "paths.\"{raw_path}\": a path must start with \"/\""
            ));
        }
        let template = join(&base, &convert_path(raw_path));
        Template::parse(&template).map_err(|e| format!("paths.\"{raw_path}\": {e}"))?;
        let Some(obj) = item.as_object() else {
            return Err(format!("paths.\"{raw_path}\": not a path item object"));
        };
        let mut methods: Vec<String> = METHODS
            .iter()
            .filter(|m| obj.get(**m).is_some_and(Value::is_object))
            .map(|m| m.to_ascii_uppercase())
            .collect();
        if methods.is_empty() && obj.contains_key("$ref") {
            methods.push(String::new());
        }
        items.push((template, methods));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<String> = Vec::new();
    for (template, methods) in items {
        for m in methods {
            let entry = if m.is_empty() {
                template.clone()
            } else {
                format!("{m} {template}")
            };
            if !out.contains(&entry) {
                out.push(entry);
            }
        }
    }
    Ok(out)
}

/// The base path: `servers[0].url` (OpenAPI 3) or `basePath` (Swagger 2), without a
/// trailing `/`; empty for the root.
fn base_path(doc: &Value) -> Result<String, String> {
    if let Some(server) = doc
        .get("servers")
        .and_then(Value::as_array)
        .and_then(|s| s.first())
    {
        let url = server.get("url").and_then(Value::as_str).unwrap_or("/");
        let url = substitute(url, server.get("variables"));
        let path = match url.find("://") {
            Some(i) => {
                let after = url.get(i + 3..).unwrap_or("");
                after.find('/').and_then(|j| after.get(j..)).unwrap_or("")
            }
            None => url.as_str(),
        };
        let path = path.split(['?', '#']).next().unwrap_or("");
        return clean_base(path, "servers[0].url");
    }
    match doc.get("basePath").and_then(Value::as_str) {
        Some(b) => clean_base(b, "basePath"),
        None => Ok(String::new()),
    }
}

fn clean_base(path: &str, what: &str) -> Result<String, String> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let with_slash = if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    };
    if with_slash.contains('{') || with_slash.contains('}') || with_slash.contains("//") {
        return Err(format!(
            "{what}: base path \"{path}\" must be literal segments"
        ));
    }
    Ok(with_slash)
}

/// Replaces `{var}` in a server URL with `variables.var.default`.
fn substitute(url: &str, vars: Option<&Value>) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest.get(open..).and_then(|r| r.find('}')) else {
            break;
        };
        out.push_str(rest.get(..open).unwrap_or(""));
        let name = rest.get(open + 1..open + close).unwrap_or("");
        match vars
            .and_then(|v| v.get(name))
            .and_then(|v| v.get("default"))
            .and_then(Value::as_str)
        {
            Some(d) => out.push_str(d),
            None => out.push_str(rest.get(open..=open + close).unwrap_or("")),
        }
        rest = rest.get(open + close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// Makes every segment holding a parameter one whole parameter with a valid name.
fn convert_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let body = path.strip_prefix('/').unwrap_or(path);
    if body.is_empty() {
        return "/".to_string();
    }
    for seg in body.split('/') {
        out.push('/');
        let param = seg
            .find('{')
            .and_then(|i| seg.get(i + 1..))
            .and_then(|r| r.find('}').and_then(|j| r.get(..j)));
        match param {
            Some(name) => {
                out.push('{');
                let mut any = false;
                for c in name.chars() {
                    any = true;
                    out.push(if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    });
                }
                if !any {
                    out.push_str("param");
                }
                out.push('}');
            }
            None => out.push_str(seg),
        }
    }
    out
}

fn join(base: &str, path: &str) -> String {
    match (base.is_empty(), path) {
        (true, p) => p.to_string(),
        (false, "/") => base.to_string(),
        (false, p) => format!("{base}{p}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn sample() -> Value {
        json!({
            "openapi": "3.0.3",
            "info": { "title": "shop", "version": "1" },
            "servers": [{ "url": "https://shop.example.com/api/v1/" }, { "url": "/other" }],
            "paths": {
                "/users/{id}": {
                    "summary": "a user",
                    "parameters": [{ "name": "id", "in": "path" }],
                    "get": { "responses": {} },
                    "delete": { "responses": {} },
                    "x-internal": true
                },
                "/users": { "post": {}, "get": {} },
                "/files/{name}.{ext}": { "get": {} },
                "/jobs/{job.id}:cancel": { "post": {} },
                "/": { "get": {} },
                "/shared": { "$ref": "#/components/pathItems/Shared" },
                "x-extension": { "get": {} }
            }
        })
    }

    #[test]
    fn builds_templates() {
        let t = templates_from_openapi(&sample()).unwrap();
        assert_eq!(
            t,
            vec![
                "GET /api/v1",
                "GET /api/v1/files/{name}",
                "POST /api/v1/jobs/{job_id}",
                "/api/v1/shared",
                "GET /api/v1/users",
                "POST /api/v1/users",
                "GET /api/v1/users/{id}",
                "DELETE /api/v1/users/{id}",
            ]
        );
        // The output is valid `apis.templates`.
        let loaded = crate::config::load_value(json!({ "apis": { "templates": t } }));
        assert!(loaded.is_ok());
    }

    #[test]
    fn base_paths() {
        let doc = |servers: Value| json!({ "servers": servers, "paths": { "/a": { "get": {} } } });
        let one = |d: Value| templates_from_openapi(&d).unwrap();
        assert_eq!(one(doc(json!([]))), ["GET /a"]);
        assert_eq!(one(doc(json!([{ "url": "/" }]))), ["GET /a"]);
        assert_eq!(one(doc(json!([{ "url": "http://h:8080" }]))), ["GET /a"]);
        assert_eq!(one(doc(json!([{ "url": "/base" }]))), ["GET /base/a"]);
        assert_eq!(
            one(doc(json!([{
                "url": "https://{region}.x.io/{stage}/api",
                "variables": { "region": { "default": "eu" }, "stage": { "default": "prod" } }
            }]))),
            ["GET /prod/api/a"]
        );
        assert!(templates_from_openapi(&doc(json!([{ "url": "/{v}" }]))).is_err());
        let swagger =
            json!({ "swagger": "2.0", "basePath": "/v2", "paths": { "/p": { "put": {} } } });
        assert_eq!(one(swagger), ["PUT /v2/p"]);
    }

    #[test]
    fn errors() {
        assert!(templates_from_openapi(&json!({})).is_err());
        assert!(templates_from_openapi(&json!({ "paths": [] })).is_err());
        assert!(templates_from_openapi(&json!({ "paths": { "nope": {} } })).is_err());
        assert!(templates_from_openapi(&json!({ "paths": { "/a//b": { "get": {} } } })).is_err());
        assert!(templates_from_openapi(&json!({ "paths": { "/a": 5 } })).is_err());
        assert_eq!(
            templates_from_openapi(&json!({ "paths": { "/a/{}": { "get": {} } } })).unwrap(),
            ["GET /a/{param}"]
        );
    }
}
