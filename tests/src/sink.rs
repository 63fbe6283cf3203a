//! A collector sink: an HTTP server that keeps every POST it receives, and can be told
//! to fail (5xx), hang, or (as `ResetSink`) reset every connection.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::serve::{Request, Response, Server};

/// How the sink answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 to everything.
    Ok,
    /// This status to everything (e.g. 503).
    Status(u16),
    /// No answer for this long, then 200.
    Hang(Duration),
}

/// One received POST.
#[derive(Debug, Clone)]
pub struct Post {
    /// Path.
    pub path: String,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Post {
    /// First value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The event records in this POST, from NDJSON lines or OTLP log bodies.
    pub fn records(&self) -> Vec<serde_json::Value> {
        let text = String::from_utf8_lossy(&self.body);
        if self.header("content-type") == Some("application/x-ndjson") {
            return text
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| serde_json::from_str(l).expect("NDJSON line is JSON"))
                .collect();
        }
        let v: serde_json::Value = serde_json::from_str(&text).expect("OTLP body is JSON");
        let mut out = Vec::new();
        for rl in v["resourceLogs"].as_array().into_iter().flatten() {
            for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                for lr in sl["logRecords"].as_array().into_iter().flatten() {
                    let body = lr["body"]["stringValue"].as_str().expect("string body");
                    out.push(serde_json::from_str(body).expect("record JSON"));
                }
            }
        }
        out
    }
}

/// A running sink.
pub struct Sink {
    /// Listening port.
    pub port: u16,
    posts: Arc<Mutex<Vec<Post>>>,
    mode: Arc<Mutex<Mode>>,
    hits: Arc<Mutex<u64>>,
    _server: Server,
}

impl Sink {
    /// Starts a sink answering 200.
    pub fn start() -> Sink {
        let posts = Arc::new(Mutex::new(Vec::new()));
        let mode = Arc::new(Mutex::new(Mode::Ok));
        let hits = Arc::new(Mutex::new(0));
        let (p, m, h) = (posts.clone(), mode.clone(), hits.clone());
        let server = Server::start(Arc::new(move |req: Request| {
            *h.lock().unwrap() += 1;
            let empty = |status| Response {
                status,
                headers: Vec::new(),
                body: Vec::new(),
            };
            let mode = *m.lock().unwrap();
            match mode {
                Mode::Ok => {
                    p.lock().unwrap().push(Post {
                        path: req.url,
                        headers: req.headers,
                        body: req.body,
                    });
                    empty(200)
                }
                Mode::Status(code) => empty(code),
                Mode::Hang(d) => {
                    std::thread::sleep(d);
                    empty(200)
                }
            }
        }));
        Sink {
            port: server.port,
            posts,
            mode,
            hits,
            _server: server,
        }
    }

    /// Changes how the sink answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// POSTs kept so far (only those answered 200).
    pub fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// Requests received, whatever the answer.
    pub fn hits(&self) -> u64 {
        *self.hits.lock().unwrap()
    }

    /// Every record received so far.
    pub fn records(&self) -> Vec<serde_json::Value> {
        self.posts().iter().flat_map(Post::records).collect()
    }

    /// Waits until `pred` holds for the records received, or the timeout passes;
    /// returns the records either way.
    pub fn wait_records(
        &self,
        timeout: Duration,
        pred: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let recs = self.records();
            if pred(&recs) || Instant::now() > deadline {
                return recs;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A "collector" that accepts connections and closes them at once (a reset).
pub struct ResetSink {
    /// Listening port.
    pub port: u16,
    accepted: Arc<Mutex<u64>>,
    stop: Arc<AtomicBool>,
}

impl ResetSink {
    /// Starts it.
    pub fn start() -> ResetSink {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        l.set_nonblocking(true).expect("nonblocking");
        let accepted = Arc::new(Mutex::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((sock, _)) => {
                        *a.lock().unwrap() += 1;
                        // Closing with the request unread makes the kernel send a reset.
                        std::thread::sleep(Duration::from_millis(20));
                        drop(sock);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        ResetSink {
            port,
            accepted,
            stop,
        }
    }
    /// Connections accepted and reset.
    pub fn accepted(&self) -> u64 {
        *self.accepted.lock().unwrap()
    }
}

impl Drop for ResetSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
