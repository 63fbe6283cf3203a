//! GraphQL operations of a request: type and name of each operation, read from a
//! GraphQL-over-HTTP body (`{"query": ..., "operationName": ...}`, a batched array of
//! those, `application/graphql` raw text, or a form body) or from the query string
//! (`?query=...&operationName=...`).
//!
//! The document is not parsed, only lexed (strings, block strings and `#` comments are
//! skipped) far enough to see its top-level definitions: `query`/`mutation`/
//! `subscription` headers and the `{ ... }` shorthand (an anonymous query). Fragments
//! and anything else are skipped.
//!
//! Choices where the GraphQL-over-HTTP spec leaves the server to refuse:
//! - with `operationName`, the operation of that name is reported; when the document
//!   has no such operation, every operation of the document is reported (the server
//!   will refuse the request; the event shows what was sent);
//! - a document with several operations and no `operationName` reports all of them;
//! - a query string with `operationName` but no `query` (persisted queries over GET)
//!   reports a `query` of that name: GET only carries queries. A JSON body without
//!   `query` (persisted query over POST) reports nothing: its type is unknown.
//!
//! Bounds: at most [`MAX_OPERATIONS`] operations per request, names cut to
//! [`MAX_NAME_LEN`] bytes. Never panics on garbage: garbage yields no operation.

use crate::text::{form_pairs, percent_decode};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// At most this many operations are reported per request (batches included).
pub const MAX_OPERATIONS: usize = 16;
/// Operation names are cut to this many bytes (names are ASCII).
pub const MAX_NAME_LEN: usize = 128;

/// The operation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `query` (also the `{ ... }` shorthand).
    Query,
    /// `mutation`.
    Mutation,
    /// `subscription`.
    Subscription,
}

impl OpKind {
    /// `query`, `mutation`, `subscription`.
    pub const fn as_str(self) -> &'static str {
        match self {
            OpKind::Query => "query",
            OpKind::Mutation => "mutation",
            OpKind::Subscription => "subscription",
        }
    }
}

/// One GraphQL operation of a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Operation {
    /// Its type.
    pub kind: OpKind,
    /// Its name; `None` for anonymous operations.
    pub name: Option<String>,
}

impl Operation {
    /// The text used in events (`api.operation`): `"query GetUser"`, `"mutation"`.
    pub fn text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        if let Some(n) = &self.name {
            f.write_str(" ")?;
            f.write_str(n)?;
        }
        Ok(())
    }
}

/// The operations of a GraphQL request, from its body (by content type) and, for GET
/// requests or `application/graphql` bodies, its query string (without `?`).
pub fn operations(content_type: Option<&str>, body: &[u8], query: Option<&str>) -> Vec<Operation> {
    let mime = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    let trimmed = body.trim_ascii_start();
    let ops = if trimmed.is_empty() {
        Vec::new()
    } else if mime.eq_ignore_ascii_case("application/graphql") {
        let name = query.and_then(|q| param(q.as_bytes(), b"operationName"));
        from_document(&String::from_utf8_lossy(body), name.as_deref())
    } else if mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        from_form(body, false)
    } else if trimmed.starts_with(b"{") || trimmed.starts_with(b"[") || mime.contains("json") {
        from_json(body)
    } else {
        Vec::new()
    };
    match (ops.is_empty(), query) {
        (true, Some(q)) => from_query_string(q),
        _ => ops,
    }
}

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow, default)]
    query: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "operationName")]
    operation_name: Option<Cow<'a, str>>,
}

enum Body<'a> {
    One(Request<'a>),
    Batch(Vec<Request<'a>>),
}

/// The operations of a JSON body: one request object or a batch (array) of them.
pub fn from_json(body: &[u8]) -> Vec<Operation> {
    let trimmed = body.trim_ascii_start();
    let parsed: Result<Body<'_>, _> = if trimmed.starts_with(b"[") {
        serde_json::from_slice::<Vec<Request<'_>>>(body).map(Body::Batch)
    } else {
        serde_json::from_slice::<Request<'_>>(body).map(Body::One)
    };
    let mut out = Vec::new();
    match parsed {
        Ok(Body::One(r)) => push_request(&mut out, &r),
        Ok(Body::Batch(rs)) => {
            for r in &rs {
                if out.len() >= MAX_OPERATIONS {
                    break;
                }
                push_request(&mut out, r);
            }
        }
        Err(_) => {}
    }
    out
}

fn push_request(out: &mut Vec<Operation>, r: &Request<'_>) {
    if let Some(q) = &r.query {
        for op in from_document(q, r.operation_name.as_deref()) {
            if out.len() >= MAX_OPERATIONS {
                return;
            }
            out.push(op);
        }
    }
}

/// The operations of a query string (`query=...&operationName=...`, form encoded).
pub fn from_query_string(query: &str) -> Vec<Operation> {
    from_form(query.as_bytes(), true)
}

fn from_form(form: &[u8], get: bool) -> Vec<Operation> {
    let name = param(form, b"operationName");
    match param(form, b"query") {
        Some(doc) => from_document(&doc, name.as_deref()),
        None => match name {
            Some(n) if get && is_name(n.as_bytes()) => vec![Operation {
                kind: OpKind::Query,
                name: Some(cut(&n)),
            }],
            _ => Vec::new(),
        },
    }
}

/// The first value of a form parameter, decoded.
fn param(form: &[u8], key: &[u8]) -> Option<String> {
    form_pairs(form)
        .find(|(k, _)| percent_decode(k, true).as_ref() == key)
        .map(|(_, v)| String::from_utf8_lossy(&percent_decode(v, true)).into_owned())
        .filter(|v| !v.is_empty())
}

fn is_name(b: &[u8]) -> bool {
    b.first()
        .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_')
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

fn cut(name: &str) -> String {
    // Names are ASCII ([_A-Za-z][_0-9A-Za-z]*), so any byte index is a boundary; `get`
    // keeps it safe regardless.
    name.get(..MAX_NAME_LEN.min(name.len()))
        .unwrap_or("")
        .to_string()
}

/// The operations of a GraphQL document; with `operation_name`, the one of that name
/// when the document has it (see the module documentation).
pub fn from_document(doc: &str, operation_name: Option<&str>) -> Vec<Operation> {
    let all = scan(doc);
    if let Some(wanted) = operation_name {
        if let Some(op) = all
            .iter()
            .find(|o| o.name.as_deref() == Some(cut(wanted).as_str()))
        {
            return vec![op.clone()];
        }
    }
    all
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Name(&'a str),
    Punct(u8),
    Other,
}

struct Lexer<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Lexer<'a> {
    fn byte(&self, i: usize) -> Option<u8> {
        self.s.as_bytes().get(i).copied()
    }

    fn next_token(&mut self) -> Option<Tok<'a>> {
        loop {
            let c = self.byte(self.i)?;
            match c {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => self.i += 1,
                0xEF if self.byte(self.i + 1) == Some(0xBB)
                    && self.byte(self.i + 2) == Some(0xBF) =>
                {
                    self.i += 3
                }
                b'#' => {
                    while let Some(c) = self.byte(self.i) {
                        if c == b'\n' || c == b'\r' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
        let start = self.i;
        let c = self.byte(start)?;
        if c == b'"' {
            if self.byte(start + 1) == Some(b'"') && self.byte(start + 2) == Some(b'"') {
                self.block_string();
            } else {
                self.string();
            }
            return Some(Tok::Other);
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while self
                .byte(self.i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                self.i += 1;
            }
            return Some(self.s.get(start..self.i).map_or(Tok::Other, Tok::Name));
        }
        if c.is_ascii_digit() || c == b'-' {
            self.i += 1;
            while self
                .byte(self.i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'+' || c == b'-')
            {
                self.i += 1;
            }
            return Some(Tok::Other);
        }
        self.i += 1;
        if b"{}()[]:=@$!|&".contains(&c) {
            return Some(Tok::Punct(c));
        }
        Some(Tok::Other)
    }

    /// `"..."` with `\` escapes; ends at the closing quote, a line end, or the end.
    fn string(&mut self) {
        self.i += 1;
        while let Some(c) = self.byte(self.i) {
            self.i += 1;
            match c {
                b'\\' => self.i += 1,
                b'"' | b'\n' | b'\r' => return,
                _ => {}
            }
        }
    }

    /// `"""..."""`, where `\"""` does not close.
    fn block_string(&mut self) {
        self.i += 3;
        while let Some(c) = self.byte(self.i) {
            if c == b'\\'
                && self.byte(self.i + 1) == Some(b'"')
                && self.byte(self.i + 2) == Some(b'"')
                && self.byte(self.i + 3) == Some(b'"')
            {
                self.i += 4;
                continue;
            }
            if c == b'"'
                && self.byte(self.i + 1) == Some(b'"')
                && self.byte(self.i + 2) == Some(b'"')
            {
                self.i += 3;
                return;
            }
            self.i += 1;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between definitions.
    Top,
    /// After `query`/`mutation`/`subscription`: the next name is the operation's.
    ExpectName,
    /// In a definition's header (variables, directives, type condition) or body.
    Inside,
}

/// Every operation of a document, in order, bounded.
fn scan(doc: &str) -> Vec<Operation> {
    let mut lx = Lexer { s: doc, i: 0 };
    let mut ops: Vec<Operation> = Vec::new();
    let mut state = State::Top;
    let mut depth = 0usize;
    let mut parens = 0usize;
    while let Some(tok) = lx.next_token() {
        match tok {
            Tok::Punct(b'{') => {
                if depth == 0 && parens == 0 && state == State::Top {
                    if ops.len() >= MAX_OPERATIONS {
                        break;
                    }
                    ops.push(Operation {
                        kind: OpKind::Query,
                        name: None,
                    });
                }
                if depth == 0 && state == State::ExpectName {
                    state = State::Inside;
                }
                depth += 1;
            }
            Tok::Punct(b'}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    state = State::Top;
                    parens = 0;
                }
            }
            Tok::Punct(b'(') => {
                parens += 1;
                if state == State::ExpectName {
                    state = State::Inside;
                }
            }
            Tok::Punct(b')') => parens = parens.saturating_sub(1),
            Tok::Name(n) if depth == 0 && parens == 0 => match state {
                State::Top => {
                    let kind = match n {
                        "query" => Some(OpKind::Query),
                        "mutation" => Some(OpKind::Mutation),
                        "subscription" => Some(OpKind::Subscription),
                        _ => None,
                    };
                    state = State::Inside;
                    if let Some(kind) = kind {
                        if ops.len() >= MAX_OPERATIONS {
                            break;
                        }
                        ops.push(Operation { kind, name: None });
                        state = State::ExpectName;
                    }
                }
                State::ExpectName => {
                    if let Some(last) = ops.last_mut() {
                        last.name = Some(cut(n));
                    }
                    state = State::Inside;
                }
                State::Inside => {}
            },
            _ => {
                if state == State::ExpectName {
                    state = State::Inside;
                }
            }
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn texts(ops: &[Operation]) -> Vec<String> {
        ops.iter().map(Operation::text).collect()
    }

    #[test]
    fn documents() {
        assert_eq!(
            texts(&from_document(
                "query GetUser($id: ID!) { user(id: $id) { name } }",
                None
            )),
            ["query GetUser"]
        );
        assert_eq!(texts(&from_document("{ me { id } }", None)), ["query"]);
        assert_eq!(
            texts(&from_document("mutation { deleteUser(id: 1) }", None)),
            ["mutation"]
        );
        assert_eq!(
            texts(&from_document("subscription OnEvent @live { e }", None)),
            ["subscription OnEvent"]
        );
        assert_eq!(
            texts(&from_document("mutation @tag { x }", None)),
            ["mutation"]
        );
        assert_eq!(
            texts(&from_document(
                "query A { a } fragment F on User { id } mutation B { b(x: \"mutation C { }\") }",
                None
            )),
            ["query A", "mutation B"]
        );
    }

    #[test]
    fn strings_comments_and_block_strings_are_skipped() {
        let doc = r#"
            # mutation Hidden { x }
            query Q { a(s: "} mutation X {", t: """ block } "quoted" \""" mutation Y { """) { b } }
        "#;
        assert_eq!(texts(&from_document(doc, None)), ["query Q"]);
        assert_eq!(
            texts(&from_document("query query { query }", None)),
            ["query query"]
        );
        assert_eq!(
            texts(&from_document("query($q: mutation) { f(query: 1) }", None)),
            ["query"]
        );
    }

    #[test]
    fn operation_name_picks_one() {
        let doc = "query A { a } mutation B { b }";
        assert_eq!(texts(&from_document(doc, Some("B"))), ["mutation B"]);
        assert_eq!(
            texts(&from_document(doc, Some("Nope"))),
            ["query A", "mutation B"]
        );
        assert_eq!(texts(&from_document(doc, None)), ["query A", "mutation B"]);
    }

    #[test]
    fn json_bodies() {
        let one = br#"{"query":"query GetUser { user { id } }","operationName":"GetUser","variables":{"a":[1,{"b":"}"}]}}"#;
        assert_eq!(
            texts(&operations(Some("application/json"), one, None)),
            ["query GetUser"]
        );
        let batch = br#"[{"query":"mutation M1 { a }"},{"query":"{ b }"},{"operationName":"x"}]"#;
        assert_eq!(
            texts(&operations(
                Some("application/json; charset=utf-8"),
                batch,
                None
            )),
            ["mutation M1", "query"]
        );
        let escaped = br#"{"query":"mutation \u0044o { a }"}"#;
        assert_eq!(texts(&from_json(escaped)), ["mutation Do"]);
        assert!(from_json(br#"{"query": 5}"#).is_empty());
        assert!(from_json(b"{\"query\": \"").is_empty());
        assert!(from_json(b"[[[[").is_empty());
        assert!(
            from_json(br#"{"extensions":{"persistedQuery":{}},"operationName":"P"}"#).is_empty()
        );
    }

    #[test]
    fn raw_and_query_string() {
        assert_eq!(
            texts(&operations(
                Some("application/graphql"),
                b"query A { a } mutation B { b }",
                Some("operationName=B")
            )),
            ["mutation B"]
        );
        assert_eq!(
            texts(&operations(
                None,
                b"",
                Some("query=query%20GetUser%7Bme%7D&operationName=GetUser")
            )),
            ["query GetUser"]
        );
        assert_eq!(texts(&from_query_string("query={+me+}")), ["query"]);
        assert_eq!(
            texts(&from_query_string(
                "operationName=Persisted&extensions=%7B%7D"
            )),
            ["query Persisted"]
        );
        assert!(from_query_string("operationName=bad%20name").is_empty());
        assert_eq!(
            texts(&operations(
                Some("application/x-www-form-urlencoded"),
                b"query=mutation+M+%7B+a+%7D",
                None
            )),
            ["mutation M"]
        );
    }

    #[test]
    fn bounds() {
        let doc: String = (0..40).map(|i| format!("query Q{i} {{ a }} ")).collect();
        assert_eq!(from_document(&doc, None).len(), MAX_OPERATIONS);
        let long = format!("query {} {{ a }}", "N".repeat(500));
        let ops = from_document(&long, None);
        assert_eq!(ops[0].name.as_ref().map(String::len), Some(MAX_NAME_LEN));
        let batch = format!("[{}]", [r#"{"query":"{ a } { b }"}"#; 20].join(","));
        assert_eq!(from_json(batch.as_bytes()).len(), MAX_OPERATIONS);
    }

    #[test]
    fn garbage() {
        for g in [
            "",
            "}}}}",
            "{{{{",
            "\"",
            "\"\"\"",
            "#",
            "query",
            "query (",
            "))))) {",
            "mutation\u{0}X",
            "\u{feff}query Z { a }",
            "\"\\",
            "-",
            "@@@",
        ] {
            let _ = from_document(g, Some("Z"));
        }
        assert_eq!(
            texts(&from_document("\u{feff}query Z { a }", None)),
            ["query Z"]
        );
        assert!(operations(Some("text/plain"), b"\xff\xfe", None).is_empty());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(doc in any::<String>(), name in proptest::option::of("[A-Za-z]{0,4}")) {
            let ops = from_document(&doc, name.as_deref());
            prop_assert!(ops.len() <= MAX_OPERATIONS);
        }

        #[test]
        fn never_panics_on_tokens(parts in prop::collection::vec(prop_oneof![
            Just("query"), Just("mutation"), Just("{"), Just("}"), Just("("), Just(")"),
            Just("\""), Just("\"\"\""), Just("\\"), Just("#"), Just("\n"), Just("@"), Just("X"),
        ], 0..40)) {
            let doc = parts.join(" ");
            let ops = from_document(&doc, None);
            prop_assert!(ops.len() <= MAX_OPERATIONS);
            let _ = from_json(doc.as_bytes());
        }

        #[test]
        fn bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = operations(Some("application/json"), &body, Some("query=%7B"));
            let _ = operations(Some("application/graphql"), &body, None);
        }
    }
}
