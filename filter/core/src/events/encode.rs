//! Wire encoding of records: NDJSON lines, or OTLP/HTTP JSON `logRecords` wrapped in an
//! `ExportLogsServiceRequest`. Each record is encoded once, when it is queued, straight
//! into the queue's buffer; a batch is the encoded entries joined inside the format's
//! frame.

use super::record::Record;
use crate::config::raw::EventFormat;
use std::io::Write as _;

/// Encodes one record as a queue entry in `format` (tests and benchmarks; the filter
/// appends to its queue's buffer with [`entry_into`]).
pub fn entry<R: Record>(format: EventFormat, record: &R) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    entry_into(format, record, &mut out, &mut Vec::new())?;
    Ok(out)
}

/// Appends one record's entry in `format` to `out`. `scratch` holds the record JSON
/// of an OTLP entry on the way (kept by the caller between records, so that it does
/// not allocate once warm). On an error `out` may end with a partial entry: the caller
/// truncates it (`EventQueue::push_record` does).
pub fn entry_into<R: Record>(
    format: EventFormat,
    record: &R,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    match format {
        EventFormat::Ndjson => serde_json::to_writer(out, record),
        EventFormat::Otlp => otlp_log_record(record, out, scratch),
    }
}

/// Appends `json` (serde_json output: valid UTF-8, control characters already escaped)
/// as the inside of a JSON string: only `"` and `\\` need escaping.
fn escape_json_text(mut json: &[u8], out: &mut Vec<u8>) {
    while let Some(p) = json.iter().position(|&b| b == b'"' || b == b'\\') {
        out.extend_from_slice(&json[..p]);
        out.push(b'\\');
        out.push(json[p]);
        json = &json[p + 1..];
    }
    out.extend_from_slice(json);
}

/// One OTLP `logRecord` (JSON mapping of `opentelemetry.proto.logs.v1.LogRecord`): the
/// record JSON is the string `body`, escaped in one pass over it (not serialised again
/// as a string). The record JSON is written to `scratch` first: one escaping pass over
/// it costs fewer instructions than escaping each of serde_json's small writes.
fn otlp_log_record<R: Record>(
    record: &R,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    let meta = record.meta();
    let nanos = meta.ts.saturating_mul(1_000_000);
    let _ = write!(
        out,
        "{{\"timeUnixNano\":\"{nanos}\",\"observedTimeUnixNano\":\"{nanos}\",\"severityNumber\":{},\"severityText\":",
        meta.severity.number()
    );
    serde_json::to_writer(&mut *out, meta.severity.text())?;
    out.extend_from_slice(b",\"body\":{\"stringValue\":\"");
    scratch.clear();
    serde_json::to_writer(&mut *scratch, record)?;
    escape_json_text(scratch, out);
    out.extend_from_slice(b"\"},\"attributes\":[");
    let attr = |out: &mut Vec<u8>, key: &str, v: &str| -> Result<(), serde_json::Error> {
        if out.last() == Some(&b'}') {
            out.push(b',');
        }
        let _ = write!(out, "{{\"key\":\"{key}\",\"value\":{{\"stringValue\":");
        serde_json::to_writer(&mut *out, v)?;
        out.extend_from_slice(b"}}");
        Ok(())
    };
    attr(out, "meshward.kind", meta.kind)?;
    if let Some(a) = meta.action {
        attr(out, "meshward.action", a)?;
    }
    if let Some(m) = meta.method {
        attr(out, "http.request.method", m)?;
    }
    if let Some(t) = meta.template {
        attr(out, "url.template", t)?;
    }
    if let Some(st) = meta.status {
        let _ = write!(
            out,
            ",{{\"key\":\"http.response.status_code\",\"value\":{{\"intValue\":\"{st}\"}}}}"
        );
    }
    out.extend_from_slice(b"]}");
    Ok(())
}

/// The frame of a batch: bytes before, between and after entries.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The wire format of the entries.
    pub format: EventFormat,
    head: Vec<u8>,
    sep: &'static [u8],
    tail: Vec<u8>,
    /// `content-type` of the POST.
    pub content_type: &'static str,
}

impl Frame {
    /// The frame of `format` for records of `service`.
    pub fn new(format: EventFormat, service: &str, version: &str) -> Self {
        match format {
            EventFormat::Ndjson => Self {
                format,
                head: Vec::new(),
                sep: b"\n",
                tail: b"\n".to_vec(),
                content_type: "application/x-ndjson",
            },
            EventFormat::Otlp => {
                let svc = serde_json::to_string(service).unwrap_or_else(|_| "\"\"".into());
                let ver = serde_json::to_string(version).unwrap_or_else(|_| "\"\"".into());
                let head = format!(
                    "{{\"resourceLogs\":[{{\"resource\":{{\"attributes\":[{{\"key\":\"service.name\",\"value\":{{\"stringValue\":{svc}}}}}]}},\"scopeLogs\":[{{\"scope\":{{\"name\":\"meshward\",\"version\":{ver}}},\"logRecords\":["
                );
                Self {
                    format,
                    head: head.into_bytes(),
                    sep: b",",
                    tail: b"]}]}]}".to_vec(),
                    content_type: "application/json",
                }
            }
        }
    }

    /// Joins entries into one POST body.
    pub fn body<'a>(&self, entries: impl Iterator<Item = &'a [u8]>, size_hint: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.head.len() + size_hint + self.tail.len());
        out.extend_from_slice(&self.head);
        for (i, e) in entries.enumerate() {
            if i > 0 {
                out.extend_from_slice(self.sep);
            }
            out.extend_from_slice(e);
        }
        out.extend_from_slice(&self.tail);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::*;
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn call() -> CallRecord {
        CallRecord {
            v: 1,
            kind: "call",
            ts: 1_764_375_000_123,
            config: "3f9a1c2e".into(),
            service: "orders.shop".into(),
            direction: "inbound",
            api: ApiInfo {
                method: "GET".into(),
                path: "/users/{int}".into(),
                protocol: "rest",
                ..Default::default()
            },
            status: 200,
            action: "allowed",
            ..Default::default()
        }
    }

    #[test]
    fn plain_call_is_small() {
        let e = entry(EventFormat::Ndjson, &call()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&e).unwrap();
        assert_eq!(v["v"], 1);
        assert_eq!(v["api"]["path"], "/users/{int}");
        assert!(v.get("source").is_none());
        assert!(v.get("sensitive").is_none());
        assert!(v.get("decisions").is_none());
        assert!(e.len() < 240, "{}", String::from_utf8_lossy(&e));
    }

    #[test]
    fn otlp_batch_is_an_export_logs_request() {
        let f = Frame::new(EventFormat::Otlp, "orders.\"shop\"", "0.1.0");
        let mut denied = call();
        denied.action = "denied";
        denied.status = 403;
        let a = entry(EventFormat::Otlp, &call()).unwrap();
        let b = entry(EventFormat::Otlp, &denied).unwrap();
        let body = f.body([a.as_slice(), b.as_slice()].into_iter(), a.len() + b.len());
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let rl = &v["resourceLogs"][0];
        assert_eq!(
            rl["resource"]["attributes"][0]["value"]["stringValue"],
            "orders.\"shop\""
        );
        let recs = &rl["scopeLogs"][0]["logRecords"];
        assert_eq!(rl["scopeLogs"][0]["scope"]["name"], "meshward");
        assert_eq!(recs.as_array().unwrap().len(), 2);
        assert_eq!(recs[0]["severityText"], "INFO");
        assert_eq!(recs[1]["severityText"], "ERROR");
        assert_eq!(recs[0]["timeUnixNano"], "1764375000123000000");
        let inner: serde_json::Value =
            serde_json::from_str(recs[1]["body"]["stringValue"].as_str().unwrap()).unwrap();
        assert_eq!(inner["action"], "denied");
        let attrs = recs[1]["attributes"].as_array().unwrap();
        assert!(attrs
            .iter()
            .any(|a| a["key"] == "url.template" && a["value"]["stringValue"] == "/users/{int}"));
        assert!(attrs
            .iter()
            .any(|a| a["key"] == "http.response.status_code" && a["value"]["intValue"] == "403"));
    }

    #[test]
    fn otlp_body_is_the_record_json_whatever_its_text() {
        let mut c = call();
        c.service = "a\"b\\c\n\u{1}é\u{2028}\"\"\\\\".into();
        c.api.path = "/x/\"{int}\"\\".into();
        let e = entry(EventFormat::Otlp, &c).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&e).unwrap();
        let body = v["body"]["stringValue"].as_str().unwrap();
        assert_eq!(body.as_bytes(), entry(EventFormat::Ndjson, &c).unwrap());
        let attrs = v["attributes"].as_array().unwrap();
        assert_eq!(attrs[0]["key"], "meshward.kind");
        assert!(attrs
            .iter()
            .any(|a| a["key"] == "url.template" && a["value"]["stringValue"] == "/x/\"{int}\"\\"));
        assert_eq!(v["severityNumber"], 9);
        assert_eq!(v["observedTimeUnixNano"], v["timeUnixNano"]);
    }

    #[test]
    fn ndjson_batch_is_lines() {
        let f = Frame::new(EventFormat::Ndjson, "s", "v");
        let a = entry(EventFormat::Ndjson, &call()).unwrap();
        let body = f.body([a.as_slice(), a.as_slice()].into_iter(), 0);
        let text = String::from_utf8(body).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
        for l in text.lines() {
            serde_json::from_str::<serde_json::Value>(l).unwrap();
        }
    }

    #[test]
    fn entries_appended_to_a_shared_buffer_are_the_same_bytes() {
        let mut denied = call();
        denied.action = "denied";
        for format in [EventFormat::Otlp, EventFormat::Ndjson] {
            let mut buf = b"earlier entry}".to_vec();
            let mut scratch = b"left over".to_vec();
            entry_into(format, &call(), &mut buf, &mut scratch).unwrap();
            let mid = buf.len();
            entry_into(format, &denied, &mut buf, &mut scratch).unwrap();
            assert_eq!(&buf[14..mid], entry(format, &call()).unwrap().as_slice());
            assert_eq!(&buf[mid..], entry(format, &denied).unwrap().as_slice());
        }
    }
}
