//! Raw-TCP peers for fault tests, where a well-behaved HTTP server cannot misbehave
//! on purpose: an upstream that answers with headers and part of a body and then
//! closes or resets the connection, or drips its body slowly; and a client that
//! sends part of a request or reads part of a response and then goes away.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One step of a scripted answer.
#[derive(Debug, Clone)]
pub enum Step {
    /// Write these bytes.
    Write(Vec<u8>),
    /// Wait.
    Sleep(Duration),
    /// Half-close (FIN) after reading the whole request: a premature end of the
    /// answer when the declared length was not sent.
    Close,
    /// Close without reading the request: the unread bytes make the kernel send a
    /// TCP reset instead of a FIN.
    Reset,
}

/// A scripted raw upstream. Every connection gets the same script; the request
/// head is peeked (left unread) so that [`Step::Reset`] really resets.
pub struct RawUpstream {
    /// Listening port.
    pub port: u16,
    accepted: Arc<AtomicU64>,
    heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

/// The head of a response with a declared `content-length`.
pub fn head(
    status: u16,
    content_type: &str,
    content_length: usize,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {content_length}\r\n"
    );
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h.into_bytes()
}

/// The head of a chunked response.
pub fn chunked_head(status: u16, content_type: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    .into_bytes()
}

/// One chunk of a chunked body (an empty `data` is the last chunk).
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut c = format!("{:x}\r\n", data.len()).into_bytes();
    c.extend_from_slice(data);
    c.extend_from_slice(b"\r\n");
    c
}

/// Peeks until the request head is complete (or 2 s pass); returns it.
fn peek_head(s: &TcpStream) -> String {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = s.peek(&mut buf).unwrap_or(0);
        if let Some(end) = buf[..n].windows(4).position(|w| w == b"\r\n\r\n") {
            return String::from_utf8_lossy(&buf[..end]).to_string();
        }
        if Instant::now() > deadline || n == buf.len() {
            return String::from_utf8_lossy(&buf[..n]).to_string();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads and discards the request (head, then a `content-length` or chunked body).
fn drain_request(s: &mut TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
    let mut data = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let body = &data[end + 4..];
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            let done = match len {
                Some(n) => body.len() >= n,
                None if head.contains("transfer-encoding: chunked") => body.ends_with(b"0\r\n\r\n"),
                None => true,
            };
            if done {
                return;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

impl RawUpstream {
    /// Starts an upstream that plays `script` on every connection.
    pub fn start(script: Vec<Step>) -> RawUpstream {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        l.set_nonblocking(true).expect("nonblocking");
        let accepted = Arc::new(AtomicU64::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, h, st) = (accepted.clone(), heads.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((sock, _)) => {
                        a.fetch_add(1, Ordering::Relaxed);
                        let script = script.clone();
                        let h = h.clone();
                        std::thread::spawn(move || play(sock, &script, &h));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        RawUpstream {
            port,
            accepted,
            heads,
            stop,
        }
    }

    /// Headers and `sent` bytes of a body declared `declared` bytes long, then a FIN.
    pub fn truncating(content_type: &str, declared: usize, sent: &[u8]) -> RawUpstream {
        let mut w = head(200, content_type, declared, &[]);
        w.extend_from_slice(sent);
        RawUpstream::start(vec![
            Step::Write(w),
            Step::Sleep(Duration::from_millis(100)),
            Step::Close,
        ])
    }

    /// Headers and `sent` bytes of a body declared `declared` bytes long, then a reset.
    pub fn resetting(content_type: &str, declared: usize, sent: &[u8]) -> RawUpstream {
        let mut w = head(200, content_type, declared, &[]);
        w.extend_from_slice(sent);
        RawUpstream::start(vec![
            Step::Write(w),
            Step::Sleep(Duration::from_millis(100)),
            Step::Reset,
        ])
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Request heads seen (request line and headers).
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

fn play(mut sock: TcpStream, script: &[Step], heads: &Mutex<Vec<String>>) {
    let head = peek_head(&sock);
    if let Ok(mut h) = heads.lock() {
        h.push(head);
    }
    let resets = script.iter().any(|s| matches!(s, Step::Reset));
    if !resets {
        drain_request(&mut sock);
    }
    for step in script {
        match step {
            Step::Write(b) => {
                if sock.write_all(b).is_err() {
                    return;
                }
                let _ = sock.flush();
            }
            Step::Sleep(d) => std::thread::sleep(*d),
            Step::Close => {
                let _ = sock.shutdown(Shutdown::Write);
                std::thread::sleep(Duration::from_millis(50));
                return;
            }
            Step::Reset => return, // dropped with the request unread: RST
        }
    }
    // Script ran out without closing: keep the connection until the peer goes.
    let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 1024];
    while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Sends `request` (raw bytes) to `127.0.0.1:port`, then closes at once without
/// reading: a client that goes away mid-request.
pub fn send_and_vanish(port: u16, request: &[u8]) {
    if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
        let _ = s.write_all(request);
        let _ = s.flush();
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends `request`, reads until `want` bytes of the answer arrived (or 5 s passed),
/// then closes: a client that goes away mid-response. Returns what it read.
pub fn read_some_and_vanish(port: u16, request: &[u8], want: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return got;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(request).is_err() {
        return got;
    }
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < want && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

/// Sends `request` and reads the whole answer until the peer closes (or 10 s pass).
pub fn exchange(port: u16, request: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return got;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    if s.write_all(request).is_err() {
        return got;
    }
    let _ = s.read_to_end(&mut got);
    got
}

/// A raw HTTP/1.1 answer taken apart.
#[derive(Debug, Clone)]
pub struct RawReply {
    /// Status code (0 when there was no status line).
    pub status: u16,
    /// Status line and headers.
    pub head: String,
    /// Body, de-chunked when it was chunked (a cut chunked body: what arrived).
    pub body: Vec<u8>,
}

impl RawReply {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

/// Parses what [`exchange`] returned.
pub fn parse(raw: &[u8]) -> RawReply {
    let (head, body) = match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (
            String::from_utf8_lossy(&raw[..i]).to_string(),
            raw[i + 4..].to_vec(),
        ),
        None => (String::from_utf8_lossy(raw).to_string(), Vec::new()),
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked { dechunk(&body) } else { body };
    RawReply { status, head, body }
}

/// The data of a chunked body (as much as arrived).
pub fn dechunk(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..i])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let data = rest.get(i + 2..).unwrap_or_default();
        out.extend_from_slice(data.get(..size).unwrap_or(data));
        rest = data.get(size + 2..).unwrap_or_default();
    }
    out
}

/// One client connection kept open for several requests (HTTP/1.1 keep-alive), for
/// what Envoy or meshward hold per connection.
pub struct KeepAlive(TcpStream);

impl KeepAlive {
    /// Connects to `127.0.0.1:port`.
    pub fn connect(port: u16) -> std::io::Result<KeepAlive> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(KeepAlive(s))
    }

    /// Sends one request (raw bytes, not closing the connection) and reads its answer:
    /// the head, then a `content-length` or chunked body.
    pub fn send(&mut self, request: &[u8]) -> std::io::Result<RawReply> {
        self.0.write_all(request)?;
        let mut got = Vec::new();
        loop {
            if let Some(n) = answer_len(&got) {
                return Ok(parse(&got[..n]));
            }
            let mut buf = [0u8; 4096];
            match self.0.read(&mut buf)? {
                0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                n => got.extend_from_slice(&buf[..n]),
            }
        }
    }
}

/// The length of the first complete HTTP/1.1 answer in `got` (`None`: not complete).
fn answer_len(got: &[u8]) -> Option<usize> {
    let end = got.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
    if head.contains("transfer-encoding: chunked") {
        let mut at = end;
        loop {
            let line = got.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&got[at..at + line]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            at += line + 2 + size + 2; // size line, data, CRLF (or the final empty line)
            if got.len() < at {
                return None;
            }
            if size == 0 {
                return Some(at);
            }
        }
    }
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (got.len() >= end + len).then_some(end + len)
}
