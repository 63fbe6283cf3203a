//! gRPC methods: `/pkg.Service/Method` → service and method, and the operation text
//! `pkg.Service/Method` used in events.
//!
//! A request is gRPC when its content type is `application/grpc` or starts with
//! `application/grpc` (`+proto`, `+json`, `-web`, `-web+proto`, ...). Its API template
//! is the path itself when it has the gRPC shape: exactly two segments, the service a
//! dotted name of identifiers (`[A-Za-z_][A-Za-z0-9_]*`; the package is optional), the
//! method an identifier, each at most [`MAX_NAME_LEN`] bytes. Other paths on a gRPC
//! content type are templated like REST paths.

/// Bound of the service and method names.
pub const MAX_NAME_LEN: usize = 256;

/// A gRPC method named by a request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Method<'a> {
    /// Fully qualified service, `pkg.Service`.
    pub service: &'a str,
    /// Method, `Method`.
    pub method: &'a str,
}

impl Method<'_> {
    /// The package part of the service (`pkg` of `pkg.Service`), if any.
    pub fn package(&self) -> Option<&str> {
        self.service.rsplit_once('.').map(|(p, _)| p)
    }

    /// The operation text of events: `pkg.Service/Method`.
    pub fn operation(&self) -> String {
        let mut s = String::with_capacity(self.service.len() + 1 + self.method.len());
        self.write_operation(&mut s);
        s
    }

    /// Appends the operation text to `out` (no allocation when capacity suffices).
    pub fn write_operation(&self, out: &mut String) {
        out.push_str(self.service);
        out.push('/');
        out.push_str(self.method);
    }
}

/// Whether a content type is gRPC (`application/grpc*`, case-insensitive).
pub fn is_grpc_content_type(content_type: &str) -> bool {
    content_type
        .trim_start()
        .get(..16)
        .is_some_and(|p| p.eq_ignore_ascii_case("application/grpc"))
}

/// Parses `/pkg.Service/Method`; `None` when the path does not have the gRPC shape.
pub fn parse_path(path: &str) -> Option<Method<'_>> {
    let rest = path.strip_prefix('/')?;
    let (service, method) = rest.split_once('/')?;
    if !is_ident(method) || service.len() > MAX_NAME_LEN {
        return None;
    }
    if service.is_empty() || !service.split('.').all(is_ident) {
        return None;
    }
    Some(Method { service, method })
}

/// `[A-Za-z_][A-Za-z0-9_]*`, at most [`MAX_NAME_LEN`] bytes.
fn is_ident(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() <= MAX_NAME_LEN
        && b.first()
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// The operation text of a gRPC path, `pkg.Service/Method`, or `None`.
pub fn operation(path: &str) -> Option<String> {
    parse_path(path).map(|m| m.operation())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn parses_methods() {
        let m = parse_path("/shop.orders.v1.OrderService/GetOrder").unwrap();
        assert_eq!(m.service, "shop.orders.v1.OrderService");
        assert_eq!(m.method, "GetOrder");
        assert_eq!(m.package(), Some("shop.orders.v1"));
        assert_eq!(m.operation(), "shop.orders.v1.OrderService/GetOrder");
        let m = parse_path("/Greeter/SayHello").unwrap();
        assert_eq!(m.package(), None);
        assert_eq!(
            operation("/grpc.health.v1.Health/Check").as_deref(),
            Some("grpc.health.v1.Health/Check")
        );
    }

    #[test]
    fn rejects_other_shapes() {
        for p in [
            "",
            "/",
            "/a",
            "/a/",
            "//m",
            "/a/b/c",
            "/a..b/M",
            "/.a/M",
            "/a./M",
            "/1pkg.S/M",
            "/pkg.S/M-x",
            "/pkg S/M",
            "a/b",
            "/pkg.S/{int}",
        ] {
            assert!(parse_path(p).is_none(), "{p}");
        }
        let long = format!("/{}/M", "s".repeat(300));
        assert!(parse_path(&long).is_none());
    }

    #[test]
    fn content_types() {
        assert!(is_grpc_content_type("application/grpc"));
        assert!(is_grpc_content_type("application/grpc+proto"));
        assert!(is_grpc_content_type("Application/GRPC-web+proto"));
        assert!(!is_grpc_content_type("application/json"));
        assert!(!is_grpc_content_type("application/grp"));
        assert!(!is_grpc_content_type("é"));
    }
}
