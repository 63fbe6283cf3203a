//! A scriptable upstream service: a small HTTP server whose answers come from a
//! handler function, with the demo's sample API as the default handler.

use std::sync::{Arc, Mutex};

use crate::serve::Server;
pub use crate::serve::{Request as Seen, Response as Answer};

impl Seen {
    /// First value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Answer {
    /// A JSON answer.
    pub fn json(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }
    /// A plain-text answer.
    pub fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
        }
    }
}

/// The handler type.
pub type Handler = Arc<dyn Fn(&Seen) -> Answer + Send + Sync>;

/// A running upstream.
pub struct Upstream {
    /// Port.
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    _server: Server,
}

impl Upstream {
    /// Starts an upstream answering with `handler`.
    pub fn start(handler: Handler) -> Upstream {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let server = Server::start(Arc::new(move |req: Seen| {
            let answer = handler(&req);
            let mut l = log.lock().unwrap();
            if l.len() < 10_000 {
                l.push(req);
            }
            answer
        }));
        Upstream {
            port: server.port,
            seen,
            _server: server,
        }
    }

    /// Starts the demo's sample API.
    pub fn sample() -> Upstream {
        Upstream::start(Arc::new(crate::upstream::sample_api))
    }

    /// Requests seen so far (at most 10000 kept).
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// The sample API of the demo: a small shop with users, orders and a login.
pub fn sample_api(req: &Seen) -> Answer {
    let path = req.url.split('?').next().unwrap_or("");
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (req.method.as_str(), parts.as_slice()) {
        ("GET", ["healthz"]) => Answer::text(200, "ok"),
        ("GET", ["users", id]) => Answer::json(
            200,
            &format!(
                r#"{{"id":"{id}","name":"张伟","mobile":"13812345678","id_card":"11010519491231002X","email":"zhang.wei@example.com","card_no":"6222021234567890128","order_id":"20231129143055123456","created_at":1764375000123}}"#
            ),
        ),
        ("GET", ["orders", id]) => Answer::json(
            200,
            &format!(
                r#"{{"order_id":"{id}","sku":"A-100","amount":1999,"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}}"#
            ),
        ),
        ("POST", ["login"]) => Answer::json(200, r#"{"ok":true}"#),
        ("GET", ["export", "customers"]) => {
            // A deliberately over-exposing endpoint: 60 mobile numbers in one answer.
            let rows: Vec<String> = (0..60)
                .map(|i| format!(r#"{{"n":{i},"mobile":"1391234{:04}"}}"#, 1000 + i))
                .collect();
            Answer::json(200, &format!("[{}]", rows.join(",")))
        }
        ("GET", ["lookup"]) => Answer::json(200, r#"{"found":true}"#),
        ("GET", ["search"]) => Answer::json(200, r#"{"results":[{"sku":"A-100","title":"Blue mug"}]}"#),
        ("GET", ["debug", "crash"]) => Answer::text(
            500,
            "java.lang.IllegalStateException: pool exhausted\n\tat com.shop.db.Pool.get(Pool.java:88)\n\tat com.shop.api.Users.find(Users.java:41)\n",
        ),
        ("POST", ["graphql"]) => Answer::json(200, r#"{"data":{"user":{"id":"1"}}}"#),
        _ => Answer::json(404, r#"{"error":"not found"}"#),
    }
}
