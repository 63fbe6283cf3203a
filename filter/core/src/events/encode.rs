//! Wire encoding of records: NDJSON lines, or OTLP/HTTP JSON `logRecords` wrapped in an
//! `ExportLogsServiceRequest`. Each record is serialised once, when it is queued,
//! straight into the queue's buffer; a batch is the entries joined inside the format's
//! frame. An OTLP entry is queued compact (the record JSON, already escaped as the inside
//! of a JSON string, behind a few bytes of its attributes) and gets its `logRecord`
//! envelope when its batch is built: the envelope is ~40 % of an OTLP entry (the
//! bench's traffic), so a backlog (a slow or absent collector) holds that much less.
//! The record is written escaped as it is queued (a call record by hand,
//! [`super::call_json`]; the others by serde_json through [`Escaped`]), so a batch only
//! checks and copies each entry's text.

use super::call_json::json_str;
use super::record::{Meta, Record, Severity};
use crate::config::raw::EventFormat;

/// Encodes one record as it appears in a batch, in `format` (tests and benchmarks; the
/// filter appends compact entries to its queue's buffer with [`entry_into`]).
pub fn entry<R: Record>(format: EventFormat, record: &R) -> Result<Vec<u8>, serde_json::Error> {
    let mut queued = Vec::new();
    entry_into(format, record, &mut queued)?;
    match format {
        EventFormat::Ndjson => Ok(queued),
        EventFormat::Otlp => {
            let mut out = Vec::new();
            expand_otlp(&queued, &mut out);
            Ok(out)
        }
    }
}

/// Appends one record's queue entry in `format` to `out`: an NDJSON line's JSON, or a
/// compact OTLP entry ([`Frame::body`] expands it). On an error `out` may end with a
/// partial entry: the caller truncates it (`EventQueue::push_record` does).
pub fn entry_into<R: Record>(
    format: EventFormat,
    record: &R,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    if format == EventFormat::Otlp {
        compact_meta(&record.meta(), out);
        return record.write_json(out, true);
    }
    record.write_json(out, false)
}

/// Appends `record`'s JSON as serde_json writes it, through [`Escaped`] when `escaped`
/// ([`Record::write_json`] of the records that do not write themselves).
pub(super) fn serde_json_into<R: serde::Serialize + ?Sized>(
    record: &R,
    out: &mut Vec<u8>,
    escaped: bool,
) -> Result<(), serde_json::Error> {
    if escaped {
        record.serialize(&mut serde_json::Serializer::with_formatter(out, Escaped))
    } else {
        serde_json::to_writer(out, record)
    }
}

/// serde_json's compact output written as the inside of a JSON string: the quotes and
/// backslashes serde_json writes come out escaped once more, so the record JSON of an
/// OTLP entry is queued ready to be the `stringValue` of its `logRecord` (the same bytes
/// as escaping serde_json's output, tested). Every `"` and `\\` serde_json writes goes
/// through these three methods; what it writes between them (string fragments,
/// numbers, punctuation) holds neither.
struct Escaped;

impl serde_json::ser::Formatter for Escaped {
    fn begin_string<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b"\\\"")
    }

    fn end_string<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b"\\\"")
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        use serde_json::ser::CharEscape as E;
        // serde_json's escape with its own backslash escaped: `\\n`, `\\\"`, `\\u001f`.
        let c = match escape {
            E::Quote => return w.write_all(b"\\\\\\\""),
            E::ReverseSolidus => return w.write_all(b"\\\\\\\\"),
            E::Solidus => b'/',
            E::Backspace => b'b',
            E::FormFeed => b'f',
            E::LineFeed => b'n',
            E::CarriageReturn => b'r',
            E::Tab => b't',
            E::AsciiControl(byte) => {
                let [hi, lo] = hex2(byte);
                return w.write_all(&[b'\\', b'\\', b'u', b'0', b'0', hi, lo]);
            }
        };
        w.write_all(&[b'\\', b'\\', c])
    }

    /// A raw JSON fragment (serde_json's `raw_value` feature, not enabled here): written
    /// escaped too, so that enabling it could never make the queued text invalid.
    fn write_raw_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        for &b in fragment.as_bytes() {
            match b {
                b'"' | b'\\' => w.write_all(&[b'\\', b])?,
                // Whitespace between tokens (the only control characters raw JSON holds).
                0..=0x1f => {
                    let [hi, lo] = hex2(b);
                    w.write_all(&[b'\\', b'u', b'0', b'0', hi, lo])?;
                }
                _ => w.write_all(&[b])?,
            }
        }
        Ok(())
    }
}

/// The two lower-case hexadecimal digits of `b` (the `XX` of `\u00XX`).
pub(super) fn hex2(b: u8) -> [u8; 2] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digit = |n: u8| HEX.get(usize::from(n)).copied().unwrap_or(b'0');
    [digit(b >> 4), digit(b & 15)]
}

/// Whether `t` may stand between the quotes of a JSON string as it is: UTF-8, no control
/// character, no bare `"`, and every `\\` the start of a JSON escape (`\\u` only as
/// `\\u00XX`, so never a surrogate). What a compact entry's text must be: the queue only
/// ever holds [`Escaped`] output (whose escapes are `\\"` and `\\\\`); this keeps a batch
/// valid JSON whatever the bytes. Eight bytes at a time to the next `"`, `\\` or control
/// character; UTF-8 is validated only when a byte is not ASCII (records rarely hold one).
fn is_string_inside(t: &[u8]) -> bool {
    use crate::text::swar::{json_special, word, HIGH};
    let mut high = 0;
    let mut i = 0;
    while i < t.len() {
        let rest = t.get(i..).unwrap_or_default();
        let chunk = rest.get(..8).unwrap_or(rest);
        let x = word(chunk);
        // The lowest marked byte is exact; the zero padding of a short word reads as a
        // control character, so only the bytes that are there count.
        let present = HIGH >> (8 * (8 - chunk.len()));
        high |= x;
        let marks = json_special(x) & present;
        if marks == 0 {
            i += chunk.len();
            continue;
        }
        let at = i + (marks.trailing_zeros() / 8) as usize;
        if t.get(at) != Some(&b'\\') {
            return false;
        }
        i = match t.get(at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at + 2,
            // Only `\\u00XX`, the one `\\u` escape serde_json writes: never a surrogate.
            Some(b'u')
                if t.get(at + 2..at + 4) == Some(b"00")
                    && t.get(at + 4..at + 6)
                        .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
            {
                at + 6
            }
            _ => return false,
        };
    }
    high & HIGH == 0 || std::str::from_utf8(t).is_ok()
}

/// Marks an absent string attribute in a compact entry.
const ABSENT: u16 = u16::MAX;

/// The attributes of a compact OTLP entry: `ts` (u64), severity (u8), whether there is
/// a status (u8, 0 or 1) and the status (u16), then `kind`, `action`, `method`,
/// `template` each as a u16 length
/// ([`ABSENT`] = none) and the bytes; all little-endian. Strings longer than 64 KiB - 2
/// are cut at a character boundary (templates are bounded far below that).
fn compact_meta(m: &Meta<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(&m.ts.to_le_bytes());
    out.push(m.severity.number());
    out.push(u8::from(m.status.is_some()));
    out.extend_from_slice(&m.status.unwrap_or(0).to_le_bytes());
    for v in [Some(m.kind), m.action, m.method, m.template] {
        match v {
            Some(v) => {
                let mut n = v.len().min(usize::from(ABSENT - 1));
                while !v.is_char_boundary(n) {
                    n -= 1;
                }
                out.extend_from_slice(&(n as u16).to_le_bytes());
                out.extend_from_slice(v.as_bytes().get(..n).unwrap_or_default());
            }
            None => out.extend_from_slice(&ABSENT.to_le_bytes()),
        }
    }
}

/// Reads a compact entry: the attributes, and the escaped record JSON after them. `None` for
/// bytes [`compact_meta`] did not write.
fn parse_compact(e: &[u8]) -> Option<(CompactMeta<'_>, &[u8])> {
    let (ts, e) = e.split_first_chunk::<8>()?;
    let (&sev, e) = e.split_first()?;
    let (&has_status, e) = e.split_first()?;
    let (status, mut e) = e.split_first_chunk::<2>()?;
    let mut strs: [Option<&str>; 4] = [None; 4];
    for v in &mut strs {
        let (len, rest) = e.split_first_chunk::<2>()?;
        let len = u16::from_le_bytes(*len);
        e = rest;
        if len != ABSENT {
            let (s, rest) = e.split_at_checked(usize::from(len))?;
            *v = Some(std::str::from_utf8(s).ok()?);
            e = rest;
        }
    }
    let severity = [Severity::Info, Severity::Warn, Severity::Error]
        .into_iter()
        .find(|s| s.number() == sev)?;
    let status = u16::from_le_bytes(*status);
    let [kind, action, method, template] = strs;
    let meta = CompactMeta {
        ts: u64::from_le_bytes(*ts),
        severity,
        status: match has_status {
            0 => None,
            1 => Some(status),
            _ => return None,
        },
        kind: kind?,
        action,
        method,
        template,
    };
    Some((meta, e))
}

/// [`Meta`] as read back from a compact entry.
struct CompactMeta<'a> {
    ts: u64,
    severity: Severity,
    status: Option<u16>,
    kind: &'a str,
    action: Option<&'a str>,
    method: Option<&'a str>,
    template: Option<&'a str>,
}

/// Appends `json` (serde_json output) as the inside of a JSON string: `"` and `\\`
/// escaped; `false` for a control character, which serde_json never writes raw. The
/// reference [`Escaped`] output is tested against.
#[cfg(test)]
fn escape_json_text(json: &[u8], out: &mut Vec<u8>) -> bool {
    let mut escapes = 0;
    for &b in json {
        if b < 0x20 {
            return false;
        }
        escapes += usize::from(b == b'"' || b == b'\\');
    }
    let start = out.len();
    out.resize(start + json.len() + escapes, 0);
    let Some(room) = out.get_mut(start..) else {
        out.truncate(start);
        return false;
    };
    let mut n = 0;
    for &b in json {
        if b == b'"' || b == b'\\' {
            if let Some(r) = room.get_mut(n) {
                *r = b'\\';
            }
            n += 1;
        }
        if let Some(r) = room.get_mut(n) {
            *r = b;
        }
        n += 1;
    }
    true
}

/// Appends the OTLP `logRecord` (JSON mapping of `opentelemetry.proto.logs.v1.LogRecord`)
/// of a compact entry: the record JSON, queued escaped, is copied as the string `body`.
/// Returns `false` (`out` as it was) for bytes that are not a compact entry: a damaged
/// header, or text that is not a JSON string's inside ([`is_string_inside`]).
/// Written piece by piece (no `format!` machinery: this runs for every record).
fn expand_otlp(entry: &[u8], out: &mut Vec<u8>) -> bool {
    let Some((m, json)) = parse_compact(entry) else {
        return false;
    };
    if !is_string_inside(json) {
        return false;
    }
    let mut num = itoa::Buffer::new();
    let nanos = num.format(m.ts.saturating_mul(1_000_000)).as_bytes();
    out.extend_from_slice(b"{\"timeUnixNano\":\"");
    out.extend_from_slice(nanos);
    out.extend_from_slice(b"\",\"observedTimeUnixNano\":\"");
    out.extend_from_slice(nanos);
    out.extend_from_slice(b"\",\"severityNumber\":");
    out.extend_from_slice(itoa::Buffer::new().format(m.severity.number()).as_bytes());
    out.extend_from_slice(b",\"severityText\":\"");
    out.extend_from_slice(m.severity.text().as_bytes());
    out.extend_from_slice(b"\",\"body\":{\"stringValue\":\"");
    out.extend_from_slice(json);
    out.extend_from_slice(b"\"},\"attributes\":[");
    let attr = |out: &mut Vec<u8>, key: &str, v: &str| {
        if out.last() == Some(&b'}') {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\",\"value\":{\"stringValue\":");
        json_str(v, out);
        out.extend_from_slice(b"}}");
    };
    attr(out, "meshward.kind", m.kind);
    if let Some(a) = m.action {
        attr(out, "meshward.action", a);
    }
    if let Some(v) = m.method {
        attr(out, "http.request.method", v);
    }
    if let Some(t) = m.template {
        attr(out, "url.template", t);
    }
    if let Some(st) = m.status {
        out.extend_from_slice(
            b",{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"",
        );
        out.extend_from_slice(itoa::Buffer::new().format(st).as_bytes());
        out.extend_from_slice(b"\"}}");
    }
    out.extend_from_slice(b"]}");
    true
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

    /// Joins queue entries ([`entry_into`]) into one POST body; `size` is their total
    /// length. OTLP entries get their envelope here; one that is not a compact entry
    /// (cannot happen: the queue holds what `entry_into` wrote) is left out.
    pub fn body<'a>(&self, entries: impl Iterator<Item = &'a [u8]>, size: usize) -> Vec<u8> {
        self.body_counted(entries, size).0
    }

    /// [`Frame::body`], and how many entries it carries (those not left out).
    pub fn body_counted<'a>(
        &self,
        entries: impl Iterator<Item = &'a [u8]>,
        size: usize,
    ) -> (Vec<u8>, usize) {
        let (n, _) = entries.size_hint();
        let envelopes = match self.format {
            EventFormat::Ndjson => 0,
            // The envelope (~330 bytes); the record text is queued escaped.
            EventFormat::Otlp => n.saturating_mul(352),
        };
        let mut out = Vec::with_capacity(
            (self.head.len() + self.tail.len())
                .saturating_add(size)
                .saturating_add(envelopes),
        );
        out.extend_from_slice(&self.head);
        let mut first = true;
        let mut carried = 0;
        for e in entries {
            let mark = out.len();
            if !first {
                out.extend_from_slice(self.sep);
            }
            match self.format {
                EventFormat::Ndjson => out.extend_from_slice(e),
                EventFormat::Otlp => {
                    if !expand_otlp(e, &mut out) {
                        out.truncate(mark);
                        continue;
                    }
                }
            }
            first = false;
            carried += 1;
        }
        out.extend_from_slice(&self.tail);
        (out, carried)
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::*;
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// An endpoint record (no status) at `ts`.
    fn endpoint(ts: u64) -> EndpointRecord {
        EndpointRecord {
            v: 1,
            kind: "endpoint",
            ts,
            config: "c".into(),
            service: "s".into(),
            api: ApiInfo::default(),
            declared: true,
            level: 3,
            first_seen_by: FirstSeenBy::default(),
        }
    }

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
        let (mut a, mut b) = (Vec::new(), Vec::new());
        entry_into(EventFormat::Otlp, &call(), &mut a).unwrap();
        entry_into(EventFormat::Otlp, &denied, &mut b).unwrap();
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

    /// The wire form of a `logRecord`, byte for byte, is what serde_json writes for the
    /// OTLP JSON mapping built from the record's facts (an encoder independent of the
    /// compact entry and its expansion).
    #[test]
    fn otlp_entries_are_what_serde_json_writes() {
        fn reference<R: Record>(r: &R) -> Vec<u8> {
            let m = r.meta();
            let nanos = m.ts.saturating_mul(1_000_000).to_string();
            let mut attrs =
                vec![serde_json::json!({"key": "meshward.kind", "value": {"stringValue": m.kind}})];
            for (k, v) in [
                ("meshward.action", m.action),
                ("http.request.method", m.method),
                ("url.template", m.template),
            ] {
                if let Some(v) = v {
                    attrs.push(serde_json::json!({"key": k, "value": {"stringValue": v}}));
                }
            }
            if let Some(st) = m.status {
                attrs.push(serde_json::json!({"key": "http.response.status_code", "value": {"intValue": st.to_string()}}));
            }
            let body = String::from_utf8(serde_json::to_vec(r).unwrap()).unwrap();
            serde_json::to_vec(&serde_json::json!({
                "timeUnixNano": nanos,
                "observedTimeUnixNano": nanos,
                "severityNumber": m.severity.number(),
                "severityText": m.severity.text(),
                "body": {"stringValue": body},
                "attributes": attrs,
            }))
            .unwrap()
        }
        let mut odd = call();
        odd.service = "a\"b\\c\n\u{1}é\u{2028}\u{7f}".into();
        odd.api.path = "/x/\"{int}\"\\".into();
        odd.api.method = "GÉT\t".into();
        odd.action = "denied";
        odd.status = 0;
        for c in [call(), odd] {
            assert_eq!(
                String::from_utf8(entry(EventFormat::Otlp, &c).unwrap()).unwrap(),
                String::from_utf8(reference(&c)).unwrap()
            );
        }
        let ep = endpoint(u64::MAX);
        assert_eq!(entry(EventFormat::Otlp, &ep).unwrap(), reference(&ep));
    }

    /// Entries appended to one buffer (as the queue holds them) join into the same body
    /// as the wire entries of [`entry`] inside the frame.
    #[test]
    fn queued_entries_join_into_the_wire_entries() {
        let mut denied = call();
        denied.action = "denied";
        denied.status = 403;
        for format in [EventFormat::Otlp, EventFormat::Ndjson] {
            let f = Frame::new(format, "svc", "v");
            let mut buf = b"earlier entry}".to_vec();
            entry_into(format, &call(), &mut buf).unwrap();
            let mid = buf.len();
            entry_into(format, &denied, &mut buf).unwrap();
            let body = f.body([&buf[14..mid], &buf[mid..]].into_iter(), buf.len() - 14);
            let mut want = f.head.clone();
            want.extend(entry(format, &call()).unwrap());
            want.extend_from_slice(f.sep);
            want.extend(entry(format, &denied).unwrap());
            want.extend_from_slice(&f.tail);
            assert_eq!(
                String::from_utf8(body).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
    }

    /// The point of compact entries: a queued OTLP record is its record JSON and a few
    /// bytes of attributes, about a third less than its `logRecord`.
    #[test]
    fn queued_otlp_entries_are_compact() {
        let mut c = call();
        c.action = "masked";
        c.source = SourceInfo {
            ip: Some("10.1.2.3".into()),
            ip_forwarded: false,
            principal: Some("spiffe://cluster.local/ns/shop/sa/web".into()),
        };
        let mut queued = Vec::new();
        entry_into(EventFormat::Otlp, &c, &mut queued).unwrap();
        let wire = entry(EventFormat::Otlp, &c).unwrap();
        let mut json = Vec::new();
        assert!(escape_json_text(
            &entry(EventFormat::Ndjson, &c).unwrap(),
            &mut json
        ));
        assert!(queued.ends_with(&json), "the record JSON, escaped");
        assert!(
            queued.len() < json.len() + 64,
            "{} vs {}",
            queued.len(),
            json.len()
        );
        assert!(
            queued.len() * 10 < wire.len() * 7,
            "queued {} bytes, wire {}",
            queued.len(),
            wire.len()
        );
    }

    #[test]
    fn only_escaped_text_is_carried() {
        for ok in [
            &b""[..],
            b"plain",
            b"{\\\"k\\\":\\\"a\\\\\\\"b\\\"}",
            b"\\n\\t\\/\\b\\f\\r\\u001f",
            "é中\u{2028}\u{7f}".as_bytes(),
        ] {
            assert!(is_string_inside(ok), "{}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b"a\"b"[..],
            b"trailing\\",
            b"\\x",
            b"\\u12",
            b"\\ud800",
            b"\\u00g0",
            b"line\nbreak",
            b"\x01",
            b"\xff",
            b"\xe4\xb8",
            // Cut UTF-8 after an escape, past the first eight bytes, and before one.
            b"0123456789\\n\xc3(",
            b"01234567\xc3(\\n",
        ] {
            assert!(!is_string_inside(bad), "{}", String::from_utf8_lossy(bad));
        }
    }

    /// Raw fragments (serde_json's `raw_value`, not enabled) would be escaped too.
    #[test]
    fn raw_fragments_are_escaped() {
        use serde_json::ser::Formatter as _;
        let raw = "{\"a\": [\"b\\\\c\",\n\t1]}";
        let mut out = Vec::new();
        Escaped.write_raw_fragment(&mut out, raw).unwrap();
        assert!(is_string_inside(&out), "{}", String::from_utf8_lossy(&out));
        let quoted = [b"\"".as_slice(), &out, b"\""].concat();
        let back: String = serde_json::from_slice(&quoted).unwrap();
        assert_eq!(back, raw);
    }

    #[test]
    fn a_status_of_zero_is_a_status() {
        // A call that got no response (a reset) has status 0, which OTLP still carries.
        let mut c = call();
        c.status = 0;
        let v: serde_json::Value =
            serde_json::from_slice(&entry(EventFormat::Otlp, &c).unwrap()).unwrap();
        assert!(v["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "http.response.status_code" && a["value"]["intValue"] == "0"));
        // Endpoint records have none.
        let ep = endpoint(1);
        let v: serde_json::Value =
            serde_json::from_slice(&entry(EventFormat::Otlp, &ep).unwrap()).unwrap();
        assert!(!v["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "http.response.status_code"));
    }

    #[test]
    fn a_damaged_entry_is_left_out_and_the_body_stays_valid() {
        let f = Frame::new(EventFormat::Otlp, "svc", "v");
        let mut good = Vec::new();
        entry_into(EventFormat::Otlp, &call(), &mut good).unwrap();
        let cut = &good[..20];
        let mut bad_severity = good.clone();
        bad_severity[8] = 42;
        let mut bad_flag = good.clone();
        bad_flag[9] = 7;
        let entries = [
            &good[..],
            b"",
            cut,
            &bad_severity[..],
            &bad_flag[..],
            &good[..],
        ];
        let body = f.body(entries.into_iter(), 0);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let recs = v["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
            .as_array()
            .unwrap();
        assert_eq!(recs.len(), 2);
    }

    #[test]
    fn attributes_longer_than_64_kib_are_cut_at_a_character() {
        let mut c = call();
        c.api.path = "中".repeat(30_000);
        let e = entry(EventFormat::Otlp, &c).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&e).unwrap();
        let t = v["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == "url.template")
            .unwrap()["value"]["stringValue"]
            .as_str()
            .unwrap()
            .to_string();
        // 65,534 bytes at most; 3-byte characters end at 65,532.
        assert_eq!(t.len(), 65_532);
        assert!(t.chars().all(|ch| ch == '中'));
        // The record itself is whole.
        let inner: serde_json::Value =
            serde_json::from_str(v["body"]["stringValue"].as_str().unwrap()).unwrap();
        assert_eq!(inner["api"]["path"].as_str().unwrap().len(), 90_000);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::super::record::*;
    use super::*;
    use proptest::prelude::*;

    /// The byte-by-byte definition [`is_string_inside`] is tested against.
    fn string_inside_by_bytes(t: &[u8]) -> bool {
        if std::str::from_utf8(t).is_err() {
            return false;
        }
        let mut i = 0;
        while let Some(&b) = t.get(i) {
            i += match b {
                b'"' | 0..=0x1f => return false,
                b'\\' => match t.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => 2,
                    Some(b'u')
                        if t.get(i + 2..i + 4) == Some(b"00")
                            && t.get(i + 4..i + 6)
                                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                    {
                        6
                    }
                    _ => return false,
                },
                _ => 1,
            };
        }
        true
    }

    proptest! {
        /// The check agrees with the byte-by-byte definition on strings of escapes,
        /// broken escapes, quotes, control characters, `]` and `#` right after an escape
        /// (bytes a borrowing SWAR test marks too), runs that cross the eight-byte words,
        /// and bytes that are not UTF-8.
        #[test]
        fn the_check_is_the_byte_by_byte_one(
            pieces in proptest::collection::vec(
                prop::sample::select(vec![
                    &b"a"[..], b"]", b"#", b"0123456", b"01234567", "é".as_bytes(), b"\\\"",
                    b"\\\\", b"\\n", b"\\/", b"\\u001f", b"\\u00e9", b"\\u00E9", b"\\ud800",
                    b"\\u12", b"\\x", b"\\", b"\"", b"\x01", b"\x1f", b"\x7f", b"\xff", b"\xc3",
                ]),
                0..24,
            ),
        ) {
            let t = pieces.concat();
            prop_assert_eq!(is_string_inside(&t), string_inside_by_bytes(&t), "{:?}", String::from_utf8_lossy(&t));
        }

        /// Any bytes as queue entries: the batch is built without a panic and is valid
        /// JSON holding one `logRecord` per entry that parses as a compact entry.
        #[test]
        fn any_entries_give_a_valid_batch(
            entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
        ) {
            let f = Frame::new(EventFormat::Otlp, "svc", "v");
            let body = f.body(entries.iter().map(Vec::as_slice), 0);
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let n = v["resourceLogs"][0]["scopeLogs"][0]["logRecords"].as_array().unwrap().len();
            let parsed = entries.iter().filter(|e| parse_compact(e).is_some()).count();
            prop_assert_eq!(n, parsed);
        }

        /// A well-formed header with any bytes as the record (damaged text, control
        /// characters, cut UTF-8): the batch is still valid JSON, holding exactly the
        /// entries whose record is UTF-8 text without control characters.
        #[test]
        fn any_record_bytes_give_a_valid_batch(
            tails in proptest::collection::vec(
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..24),
                    "\\PC{0,12}".prop_map(String::into_bytes),
                    proptest::collection::vec(
                        prop::sample::select(vec![
                            "a", "é", "\\\"", "\\\\", "\\n", "\\/", "\\u001f", "\\u00e9",
                            "\\ud800", "\\u12", "\\x", "\\", "\"", "\u{1}", "\u{7f}",
                        ]),
                        0..8,
                    )
                    .prop_map(|p| p.concat().into_bytes()),
                ],
                0..6,
            ),
        ) {
            let m = Meta {
                kind: "call",
                ts: 7,
                severity: Severity::Warn,
                action: Some("masked"),
                method: Some("GET"),
                template: Some("/x"),
                status: Some(200),
            };
            let entries: Vec<Vec<u8>> = tails
                .iter()
                .map(|t| {
                    let mut e = Vec::new();
                    compact_meta(&m, &mut e);
                    e.extend_from_slice(t);
                    e
                })
                .collect();
            let f = Frame::new(EventFormat::Otlp, "svc", "v");
            let body = f.body(entries.iter().map(Vec::as_slice), 0);
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let recs = v["resourceLogs"][0]["scopeLogs"][0]["logRecords"].as_array().unwrap();
            // Entries whose text is a JSON string's inside are carried (the batch parsed,
            // so they were valid), with the string serde_json reads from them; the
            // others are left out.
            let kept: Vec<&Vec<u8>> = tails.iter().filter(|t| is_string_inside(t)).collect();
            prop_assert_eq!(recs.len(), kept.len());
            for (r, t) in recs.iter().zip(kept) {
                let quoted = [b"\"".as_slice(), t, b"\""].concat();
                let want: String = serde_json::from_slice(&quoted).unwrap();
                prop_assert_eq!(r["body"]["stringValue"].as_str().unwrap(), want);
            }
        }

        /// A queued OTLP entry ends with its NDJSON line escaped, whatever the record's
        /// texts, map keys and lists hold, and that text passes the batch's check.
        #[test]
        fn queued_text_is_the_escaped_record(
            texts in proptest::collection::vec("(\\PC|[\"\\\\\u{1}\n\u{7f}])*", 6),
        ) {
            let mut c = CallRecord {
                v: 1,
                kind: "call",
                service: texts[0].clone(),
                request_id: Some(texts[1].clone()),
                source: SourceInfo {
                    ip: Some(texts[2].clone()),
                    ip_forwarded: true,
                    principal: Some(texts[3].clone()),
                },
                ..Default::default()
            };
            c.sensitive.request.insert(texts[4].clone(), 3);
            c.value_hashes.push(texts[5].clone());
            let mut queued = Vec::new();
            entry_into(EventFormat::Otlp, &c, &mut queued).unwrap();
            let mut want = Vec::new();
            prop_assert!(escape_json_text(&entry(EventFormat::Ndjson, &c).unwrap(), &mut want));
            prop_assert!(queued.ends_with(&want));
            prop_assert!(is_string_inside(&want));
        }

        /// Whatever the texts (quotes, backslashes, control and non-ASCII characters),
        /// a queued record's `logRecord` carries the record JSON and the attributes.
        #[test]
        fn records_round_trip(
            method in "\\PC{0,12}",
            path in "\\PC{0,40}",
            action in "[a-z_]{1,12}",
            status in proptest::option::of(any::<u16>()),
            ts in any::<u64>(),
        ) {
            let c = CallRecord {
                v: 1,
                kind: "call",
                ts,
                api: ApiInfo { method: method.clone(), path: path.clone(), ..Default::default() },
                status: status.unwrap_or(0),
                action: Box::leak(action.into_boxed_str()),
                ..Default::default()
            };
            let mut queued = Vec::new();
            entry_into(EventFormat::Otlp, &c, &mut queued).unwrap();
            let f = Frame::new(EventFormat::Otlp, "svc", "v");
            let body = f.body(std::iter::once(queued.as_slice()), queued.len());
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let rec = &v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
            let inner = rec["body"]["stringValue"].as_str().unwrap().to_string();
            let ndjson = entry(EventFormat::Ndjson, &c).unwrap();
            prop_assert_eq!(inner.as_bytes(), ndjson.as_slice());
            let attr = |k: &str| -> String {
                let a = rec["attributes"].as_array().unwrap().iter().find(|a| a["key"] == k);
                let v = &a.unwrap()["value"];
                v["stringValue"].as_str().or(v["intValue"].as_str()).unwrap().to_string()
            };
            prop_assert_eq!(attr("http.request.method"), method);
            prop_assert_eq!(attr("url.template"), path);
            prop_assert_eq!(attr("http.response.status_code"), c.status.to_string());
            let nanos = ts.saturating_mul(1_000_000).to_string();
            prop_assert_eq!(rec["timeUnixNano"].as_str(), Some(nanos.as_str()));
        }

        /// The record JSON is escaped as serde_json escapes a string, and a string
        /// attribute is written as serde_json writes it, byte for byte; raw control
        /// characters are refused and leave `out` as it was.
        #[test]
        fn escaping_is_serde_jsons(v in "(\\PC|[\"\\\\\u{1}\n\u{7f}é])*", raw in any::<bool>()) {
            let json = serde_json::to_string(&v).unwrap();
            let mut out = b"before".to_vec();
            prop_assert!(escape_json_text(json.as_bytes(), &mut out));
            let want = serde_json::to_string(&json).unwrap();
            prop_assert_eq!(&out[6..], &want.as_bytes()[1..want.len() - 1]);
            let mut out = Vec::new();
            json_str(&v, &mut out);
            prop_assert_eq!(out, json.as_bytes());
            // serde_json through `Escaped` writes what escaping its output gives, for
            // strings as values and as keys, next to numbers, literals and arrays; and
            // the batch accepts it as it is.
            let value = serde_json::json!({ v.clone(): [v.clone(), 1.5, -7, u64::MAX, null, true, {}] });
            let mut direct = Vec::new();
            serde::Serialize::serialize(&value, &mut serde_json::Serializer::with_formatter(&mut direct, Escaped)).unwrap();
            let mut want = Vec::new();
            prop_assert!(escape_json_text(&serde_json::to_vec(&value).unwrap(), &mut want));
            prop_assert_eq!(&direct, &want);
            prop_assert!(is_string_inside(&direct));
            if raw && !v.is_empty() {
                let mut cut = v.clone().into_bytes();
                let at = cut.len() / 2;
                cut.insert(at, b'\n');
                let mut out = b"before".to_vec();
                prop_assert!(!escape_json_text(&cut, &mut out));
                prop_assert_eq!(out, b"before");
            }
        }
    }
}
