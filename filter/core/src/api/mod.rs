//! API discovery: path normalisation, endpoint templates (declared and heuristic), and
//! protocol details (GraphQL operations, gRPC methods).
//!
//! Per request (config.md, "Order of evaluation", step 2): [`normalize()`] the raw path
//! (query split off first with [`crate::text::split_query`]), pick the [`Protocol`],
//! then [`Templater::template`] the normalised path. gRPC calls are named by
//! [`grpc::parse_path`], GraphQL calls by [`graphql::operations`] once the body is read.
//! [`openapi::templates_from_openapi`] turns an OpenAPI document into `apis.templates`
//! (for `meshward` tooling).

pub mod graphql;
pub mod grpc;
pub mod normalize;
pub mod openapi;
pub mod template;

pub use normalize::{normalize, normalize_into, Normalized, PathFlags};
pub use template::{classify, Match, Param, ParamKind, Templater};

use crate::config::ApisPolicy;

/// The API protocol of a call (`api.protocol` of events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Plain HTTP API.
    Rest,
    /// GraphQL over HTTP.
    Graphql,
    /// gRPC (including gRPC-Web).
    Grpc,
}

impl Protocol {
    /// `rest`, `graphql`, `grpc`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Rest => "rest",
            Protocol::Graphql => "graphql",
            Protocol::Grpc => "grpc",
        }
    }
}

/// The protocol of a request: `grpc` for `application/grpc*` content types, `graphql`
/// on `apis.graphql_paths` (compared with the normalised path, a trailing `/` ignored)
/// or for `application/graphql` bodies, otherwise `rest`.
pub fn protocol(apis: &ApisPolicy, content_type: Option<&str>, normalized_path: &str) -> Protocol {
    if let Some(ct) = content_type {
        if grpc::is_grpc_content_type(ct) {
            return Protocol::Grpc;
        }
        let mime = ct.split(';').next().unwrap_or("").trim();
        if mime.eq_ignore_ascii_case("application/graphql") {
            return Protocol::Graphql;
        }
    }
    let trim = |p: &str| -> usize {
        if p.len() > 1 && p.ends_with('/') {
            p.len() - 1
        } else {
            p.len()
        }
    };
    let path = normalized_path
        .get(..trim(normalized_path))
        .unwrap_or(normalized_path);
    if apis
        .graphql_paths
        .iter()
        .any(|g| g.get(..trim(g)).unwrap_or(g) == path)
    {
        return Protocol::Graphql;
    }
    Protocol::Rest
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn protocols() {
        let policy = crate::config::load_value(serde_json::json!({
            "apis": { "graphql_paths": ["/graphql", "/api/gql/"] }
        }))
        .unwrap()
        .policy;
        let apis = &policy.apis;
        assert_eq!(
            protocol(apis, Some("application/grpc"), "/a.B/C"),
            Protocol::Grpc
        );
        assert_eq!(
            protocol(apis, Some("application/json"), "/graphql"),
            Protocol::Graphql
        );
        assert_eq!(protocol(apis, None, "/graphql/"), Protocol::Graphql);
        assert_eq!(protocol(apis, None, "/api/gql"), Protocol::Graphql);
        assert_eq!(
            protocol(apis, Some("application/graphql; charset=utf-8"), "/x"),
            Protocol::Graphql
        );
        assert_eq!(protocol(apis, None, "/graphqlx"), Protocol::Rest);
        assert_eq!(Protocol::Grpc.as_str(), "grpc");
    }

    #[test]
    fn end_to_end() {
        let policy = crate::config::load_value(serde_json::json!({
            "apis": { "templates": ["GET /users/{id}"] }
        }))
        .unwrap()
        .policy;
        let t = Templater::new(&policy.apis);
        let mut out = String::new();
        for (raw, want, declared) in [
            ("/users/123", "/users/{id}", true),
            ("/users/456", "/users/{id}", true),
            ("//users/./9;jsessionid=1", "/users/{id}", true),
            ("/admin/%2e%2e/users/7", "/users/{id}", true),
            ("/orders/123/items/", "/orders/{int}/items", false),
            ("/v1/orders/a1b2c3d4", "/v1/orders/{id}", false),
        ] {
            let n = normalize(raw);
            let m = t.template("GET", &n.path, &mut out);
            assert_eq!((out.as_str(), m.declared), (want, declared), "{raw}");
        }
    }
}
