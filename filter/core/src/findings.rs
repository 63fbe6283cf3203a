//! Passive discovery of API weaknesses from traffic (config `findings`): which
//! findings one call shows, and recognition of stack traces, debug pages and database
//! errors in 5xx bodies. Deduplication (once per endpoint and finding per pod and
//! config) is the exchange's, through a shared set.

use crate::config::FindingsPolicy;
use crate::identity::WeakAuth;

/// A finding id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// Data of `min_level` returned (2xx) to a call without a trusted account.
    UnauthenticatedSensitive,
    /// One response carrying at least `values` sensitive values.
    ExcessiveExposure,
    /// Sensitive values in the path or the query.
    SensitiveInUrl,
    /// Sensitive data on a connection without mTLS.
    PlaintextSensitive,
    /// Basic auth, or a weak JWT (alg none, no exp, lifetime > 24h, HS256 shared by
    /// several issuers).
    WeakAuth,
    /// A 5xx body with a stack trace, a database error or a framework debug page.
    VerboseErrors,
    /// An endpoint outside the declared templates.
    Undeclared,
}

impl Finding {
    /// The id used in config, records and stats.
    pub fn id(self) -> &'static str {
        match self {
            Finding::UnauthenticatedSensitive => "unauthenticated_sensitive",
            Finding::ExcessiveExposure => "excessive_exposure",
            Finding::SensitiveInUrl => "sensitive_in_url",
            Finding::PlaintextSensitive => "plaintext_sensitive",
            Finding::WeakAuth => "weak_auth",
            Finding::VerboseErrors => "verbose_errors",
            Finding::Undeclared => "undeclared",
        }
    }
}

/// What one call showed.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Status the caller got.
    pub status: u16,
    /// The answer was meshward's own.
    pub own_answer: bool,
    /// A trusted account made the call.
    pub trusted_account: bool,
    /// The connection was mTLS.
    pub mtls: bool,
    /// The endpoint matched a declared template.
    pub declared: bool,
    /// Templates are declared at all.
    pub has_declared: bool,
    /// Highest level of data in the response body.
    pub response_max_level: u8,
    /// Sensitive values in the response body.
    pub response_values: u32,
    /// Highest level of data in the path or query.
    pub url_max_level: u8,
    /// Highest level of data anywhere in the call.
    pub any_max_level: u8,
    /// Weak-authentication facts of the call.
    pub weak: &'a WeakAuth,
    /// The kind of verbose error found in a 5xx body, if any.
    pub verbose: Option<&'static str>,
    /// Several issuers were seen signing HS256 tokens on this VM.
    pub hs256_many_issuers: bool,
}

/// The findings `facts` show under `policy`.
pub fn evaluate(policy: &FindingsPolicy, f: &Facts<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let ok = (200..300).contains(&f.status) && !f.own_answer;
    if let Some(l) = policy.unauthenticated_sensitive {
        if ok && !f.trusted_account && f.response_max_level >= l {
            out.push(Finding::UnauthenticatedSensitive);
        }
    }
    if let Some(n) = policy.excessive_exposure {
        if !f.own_answer && f.response_values >= n {
            out.push(Finding::ExcessiveExposure);
        }
    }
    if let Some(l) = policy.sensitive_in_url {
        if f.url_max_level >= l {
            out.push(Finding::SensitiveInUrl);
        }
    }
    if let Some(l) = policy.plaintext_sensitive {
        if !f.mtls && f.any_max_level >= l {
            out.push(Finding::PlaintextSensitive);
        }
    }
    if policy.weak_auth && weak_detail(f).is_some() {
        out.push(Finding::WeakAuth);
    }
    if policy.verbose_errors && f.status >= 500 && f.verbose.is_some() {
        out.push(Finding::VerboseErrors);
    }
    if policy.undeclared && f.has_declared && !f.declared {
        out.push(Finding::Undeclared);
    }
    out
}

fn weak_detail(f: &Facts<'_>) -> Option<&'static str> {
    let w = f.weak;
    if w.basic {
        Some("basic_auth")
    } else if w.alg_none {
        Some("alg_none")
    } else if w.no_exp {
        Some("no_exp")
    } else if w.long_lived {
        Some("long_lived_token")
    } else if w.hs256 && f.hs256_many_issuers {
        Some("hs256_many_issuers")
    } else {
        None
    }
}

/// The evidence detail of a finding (a short fact, never a value).
pub fn detail(finding: Finding, f: &Facts<'_>) -> Option<&'static str> {
    match finding {
        Finding::WeakAuth => weak_detail(f),
        Finding::VerboseErrors => f.verbose,
        Finding::PlaintextSensitive => Some("no_mtls"),
        _ => None,
    }
}

/// Signatures of verbose errors: (detail id, needles that must all appear).
const SIGNS: &[(&str, &[&[u8]])] = &[
    ("java_stack_trace", &[b"exception", b"\tat "]),
    ("java_stack_trace", &[b"exception", b"\n    at "]),
    ("java_stack_trace", &[b"at java.", b"("]),
    ("java_stack_trace", &[b"at org.springframework.", b"("]),
    ("spring_whitelabel", &[b"whitelabel error page"]),
    ("python_traceback", &[b"traceback (most recent call last)"]),
    (
        "django_debug",
        &[b"you're seeing this error because you have <code>debug = true"],
    ),
    (
        "django_debug",
        &[b"django", b"request method:", b"exception value:"],
    ),
    ("go_panic", &[b"panic: ", b"goroutine "]),
    ("go_panic", &[b"goroutine ", b"[running]:"]),
    ("node_stack", &[b"error: ", b"\n    at ", b".js:"]),
    ("node_stack", &[b"at object.<anonymous>"]),
    ("node_stack", &[b"node_modules/", b".js:"]),
    ("dotnet_exception", &[b"system.", b"exception", b" at "]),
    ("dotnet_exception", &[b"server error in '", b"application"]),
    ("dotnet_exception", &[b"stack trace:", b".cs:line "]),
    ("php_error", &[b"fatal error: ", b" on line "]),
    ("php_error", &[b"warning: ", b".php on line "]),
    ("php_error", &[b"stack trace:", b"#0 /"]),
    ("ruby_backtrace", &[b".rb:", b":in `"]),
    ("rails_debug", &[b"action controller: exception caught"]),
    ("mysql_error", &[b"you have an error in your sql syntax"]),
    ("mysql_error", &[b"mysql_fetch"]),
    ("mysql_error", &[b"sqlstate[", b"mysql"]),
    ("mysql_error", &[b"com.mysql.jdbc"]),
    ("postgres_error", &[b"psql: error"]),
    ("postgres_error", &[b"org.postgresql.util.psqlexception"]),
    ("postgres_error", &[b"error:  syntax error at or near"]),
    ("postgres_error", &[b"pg::syntaxerror"]),
    (
        "postgres_error",
        &[b"unterminated quoted string at or near"],
    ),
    ("oracle_error", &[b"ora-0"]),
    ("oracle_error", &[b"ora-1"]),
    ("oracle_error", &[b"oracle.jdbc"]),
    (
        "mssql_error",
        &[b"unclosed quotation mark after the character string"],
    ),
    (
        "mssql_error",
        &[b"microsoft ole db provider for sql server"],
    ),
    ("mssql_error", &[b"system.data.sqlclient.sqlexception"]),
    ("mssql_error", &[b"[sql server]"]),
    ("sqlite_error", &[b"sqlite3::", b"error"]),
    ("sqlite_error", &[b"sqlite_error"]),
];

/// Bytes of a body examined for verbose errors.
pub const VERBOSE_SCAN_BYTES: usize = 64 * 1024;

fn find(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Recognises stack traces, framework debug pages and database error messages in an
/// error body (at most the first [`VERBOSE_SCAN_BYTES`]).
pub fn verbose_error(body: &[u8]) -> Option<&'static str> {
    let take = body.len().min(VERBOSE_SCAN_BYTES);
    let lower: Vec<u8> = body
        .get(..take)
        .unwrap_or_default()
        .iter()
        .map(u8::to_ascii_lowercase)
        .collect();
    // JSON error bodies escape newlines and tabs: look at them unescaped as well.
    let unescaped: Vec<u8>;
    let text: &[u8] = if find(&lower, b"\\n") || find(&lower, b"\\t") {
        let mut u = Vec::with_capacity(lower.len());
        let mut i = 0;
        while i < lower.len() {
            match (lower.get(i), lower.get(i + 1)) {
                (Some(b'\\'), Some(b'n')) => {
                    u.push(b'\n');
                    i += 2;
                }
                (Some(b'\\'), Some(b't')) => {
                    u.push(b'\t');
                    i += 2;
                }
                (Some(c), _) => {
                    u.push(*c);
                    i += 1;
                }
                _ => break,
            }
        }
        unescaped = u;
        &unescaped
    } else {
        &lower
    };
    SIGNS
        .iter()
        .find(|(_, needles)| needles.iter().all(|n| find(text, n)))
        .map(|(id, _)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_value;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn facts(weak: &WeakAuth) -> Facts<'_> {
        Facts {
            status: 200,
            own_answer: false,
            trusted_account: true,
            mtls: true,
            declared: true,
            has_declared: true,
            response_max_level: 0,
            response_values: 0,
            url_max_level: 0,
            any_max_level: 0,
            weak,
            verbose: None,
            hs256_many_issuers: false,
        }
    }

    fn policy() -> FindingsPolicy {
        load_value(json!({})).unwrap().policy.findings
    }

    #[test]
    fn a_well_behaved_call_shows_nothing() {
        let w = WeakAuth::default();
        assert!(evaluate(&policy(), &facts(&w)).is_empty());
    }

    #[test]
    fn each_finding_fires_on_its_fact() {
        let p = policy();
        let w = WeakAuth::default();
        let mut f = facts(&w);
        f.trusted_account = false;
        f.response_max_level = 4;
        assert!(evaluate(&p, &f).contains(&Finding::UnauthenticatedSensitive));
        f.status = 404;
        assert!(
            !evaluate(&p, &f).contains(&Finding::UnauthenticatedSensitive),
            "2xx only"
        );
        let mut f = facts(&w);
        f.response_values = 50;
        assert_eq!(evaluate(&p, &f), vec![Finding::ExcessiveExposure]);
        let mut f = facts(&w);
        f.url_max_level = 4;
        assert_eq!(evaluate(&p, &f), vec![Finding::SensitiveInUrl]);
        let mut f = facts(&w);
        f.mtls = false;
        f.any_max_level = 3;
        assert_eq!(evaluate(&p, &f), vec![Finding::PlaintextSensitive]);
        f.any_max_level = 2;
        assert!(evaluate(&p, &f).is_empty());
        let basic = WeakAuth {
            basic: true,
            ..Default::default()
        };
        assert_eq!(evaluate(&p, &facts(&basic)), vec![Finding::WeakAuth]);
        assert_eq!(
            detail(Finding::WeakAuth, &facts(&basic)),
            Some("basic_auth")
        );
        let mut f = facts(&w);
        f.status = 500;
        f.verbose = Some("java_stack_trace");
        assert_eq!(evaluate(&p, &f), vec![Finding::VerboseErrors]);
        let mut f = facts(&w);
        f.declared = false;
        assert_eq!(evaluate(&p, &f), vec![Finding::Undeclared]);
        f.has_declared = false;
        assert!(
            evaluate(&p, &f).is_empty(),
            "no templates: nothing is undeclared"
        );
    }

    #[test]
    fn findings_can_be_switched_off() {
        let p = load_value(json!({"findings": {"weak_auth": false, "excessive_exposure": false}}))
            .unwrap()
            .policy
            .findings;
        let basic = WeakAuth {
            basic: true,
            ..Default::default()
        };
        let mut f = facts(&basic);
        f.response_values = 1000;
        assert!(evaluate(&p, &f).is_empty());
    }

    #[test]
    fn hs256_alone_is_not_weak_but_shared_across_issuers_is() {
        let p = policy();
        let w = WeakAuth {
            hs256: true,
            ..Default::default()
        };
        let mut f = facts(&w);
        assert!(evaluate(&p, &f).is_empty());
        f.hs256_many_issuers = true;
        assert_eq!(evaluate(&p, &f), vec![Finding::WeakAuth]);
    }

    #[test]
    fn verbose_errors_of_common_stacks() {
        let cases: &[(&str, &str)] = &[
            ("java_stack_trace", "java.lang.NullPointerException: x\n\tat com.shop.Orders.get(Orders.java:42)\n\tat java.base/java.lang.Thread.run(Thread.java:829)"),
            ("python_traceback", "Traceback (most recent call last):\n  File \"app.py\", line 10, in get\nKeyError: 'id'"),
            ("go_panic", "panic: runtime error: index out of range\n\ngoroutine 1 [running]:\nmain.main()"),
            ("node_stack", "TypeError: Cannot read properties of undefined\n    at Object.<anonymous> (/app/server.js:10:5)"),
            ("dotnet_exception", "System.InvalidOperationException: boom\n   at Shop.Api.Get() in C:\\src\\Api.cs:line 12"),
            ("php_error", "PHP Fatal error: Uncaught Error in /var/www/index.php on line 3"),
            ("ruby_backtrace", "NoMethodError (undefined method `x')\napp/models/user.rb:12:in `name'"),
            ("mysql_error", "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version"),
            ("postgres_error", "ERROR:  syntax error at or near \"FROM\""),
            ("oracle_error", "ORA-00933: SQL command not properly ended"),
            ("mssql_error", "Unclosed quotation mark after the character string 'abc'."),
            ("django_debug", "<p>You're seeing this error because you have <code>DEBUG = True</code></p>"),
            ("spring_whitelabel", "<h1>Whitelabel Error Page</h1>"),
        ];
        for (want, body) in cases {
            assert_eq!(verbose_error(body.as_bytes()), Some(*want), "{body}");
        }
        // Escaped inside a JSON error body.
        let j = br#"{"error":"java.lang.IllegalStateException: x\n\tat com.a.B.c(B.java:1)"}"#;
        assert_eq!(verbose_error(j), Some("java_stack_trace"));
    }

    #[test]
    fn plain_error_bodies_are_not_verbose() {
        for body in [
            r#"{"error":"internal error","request_id":"abc"}"#,
            r#"{"code":500,"message":"Service temporarily unavailable, please retry"}"#,
            "upstream connect error or disconnect/reset before headers",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
            r#"{"error":"database unavailable","at":"2024-01-01T00:00:00Z"}"#,
        ] {
            assert_eq!(verbose_error(body.as_bytes()), None, "{body}");
        }
    }
}
