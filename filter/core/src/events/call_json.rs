//! The call record written as JSON by hand: byte for byte what serde_json writes for it
//! (property-tested against serde_json for any record), plain for an NDJSON line, or
//! escaped once more as the inside of a JSON string for an OTLP entry (what serde_json
//! writes through [`super::encode`]'s `Escaped` formatter). `full` queues one call
//! record per request; serde's field-by-field dispatch, its byte-by-byte escape loop and
//! its formatter calls were most of the cost of queueing one. The other records are
//! rare (first sights, alerts, findings) and stay with serde.

use super::record::{CallRecord, DecisionInfo, ThreatInfo};
use crate::text::swar;
use std::collections::BTreeMap;

/// `,"name":` as one constant piece, its quotes escaped when the writer's `E` is.
macro_rules! key {
    ($w:expr, $name:literal) => {
        $w.piece(
            concat!(",\"", $name, "\":"),
            concat!(",\\\"", $name, "\\\":"),
        )
    };
}

/// `"name":`, the first key of an object.
macro_rules! first_key {
    ($w:expr, $name:literal) => {
        $w.piece(concat!("\"", $name, "\":"), concat!("\\\"", $name, "\\\":"))
    };
}

/// The key of an object's next field ([`Obj::field`]): its comma only after a field.
macro_rules! field {
    ($o:expr, $name:literal) => {
        $o.field(
            concat!(",\"", $name, "\":"),
            concat!(",\\\"", $name, "\\\":"),
        )
    };
}

/// Appends `c` as JSON to `out`: the inside of a JSON string when `ESCAPED` (every `"`
/// and `\\` of the JSON escaped once more), else plain JSON. Field order, the fields
/// left out and every escape are serde_json's for the `Serialize` derive of
/// [`CallRecord`].
// Out of line: the two forms are two functions of ~8 KB rather than one of 16 KB in
// `write_json` (the module's largest function sets TurboFan's scratch memory at load).
#[inline(never)]
pub(super) fn write_call<const ESCAPED: bool>(c: &CallRecord, out: &mut Vec<u8>) {
    // Every field named (no `..`): a field added to `CallRecord` fails to compile here.
    let CallRecord {
        v,
        kind,
        ts,
        config,
        request_id,
        service,
        direction,
        source,
        account,
        api,
        status,
        duration_ms,
        bytes,
        sensitive,
        level,
        action,
        decisions,
        threats,
        truncated,
        skipped,
        value_hashes,
    } = c;
    let mut w = Writer::<ESCAPED> { out };
    // The bench's records are ~700 bytes: one reservation instead of growing.
    w.out.reserve(1024);
    w.out.push(b'{');
    first_key!(w, "v");
    w.int(*v);
    key!(w, "kind");
    w.str(kind);
    key!(w, "ts");
    w.int(*ts);
    key!(w, "config");
    w.str(config);
    if let Some(id) = request_id {
        key!(w, "request_id");
        w.str(id);
    }
    key!(w, "service");
    w.str(service);
    key!(w, "direction");
    w.str(direction);
    let s = source;
    if !s.is_empty() {
        key!(w, "source");
        let mut o = w.open();
        if let Some(ip) = &s.ip {
            field!(o, "ip").str(ip);
        }
        if s.ip_forwarded {
            field!(o, "ip_forwarded").lit(b"true");
        }
        if let Some(p) = &s.principal {
            field!(o, "principal").str(p);
        }
        o.close();
    }
    if let Some(a) = account {
        key!(w, "account");
        let mut o = w.open();
        if !a.id.is_empty() {
            field!(o, "id").str(&a.id);
        }
        field!(o, "via").str(a.via);
        if a.trusted {
            field!(o, "trusted").lit(b"true");
        }
        if a.authn_failed {
            field!(o, "authn_failed").lit(b"true");
        }
        o.close();
    }
    key!(w, "api");
    let mut o = w.open();
    field!(o, "method").str(&api.method);
    if !api.host.is_empty() {
        field!(o, "host").str(&api.host);
    }
    field!(o, "path").str(&api.path);
    field!(o, "protocol").str(api.protocol);
    if let Some(op) = &api.operation {
        field!(o, "operation").str(op);
    }
    o.close();
    key!(w, "status");
    w.int(*status);
    key!(w, "duration_ms");
    w.int(*duration_ms);
    if !bytes.is_empty() {
        key!(w, "bytes");
        let mut o = w.open();
        if bytes.request != 0 {
            field!(o, "request").int(bytes.request);
        }
        if bytes.response != 0 {
            field!(o, "response").int(bytes.response);
        }
        o.close();
    }
    if !sensitive.is_empty() {
        key!(w, "sensitive");
        let mut o = w.open();
        if !sensitive.request.is_empty() {
            field!(o, "request").counts(&sensitive.request);
        }
        if !sensitive.response.is_empty() {
            field!(o, "response").counts(&sensitive.response);
        }
        o.close();
    }
    if *level != 0 {
        key!(w, "level");
        w.int(*level);
    }
    key!(w, "action");
    w.str(action);
    if !decisions.is_empty() {
        key!(w, "decisions");
        w.list(decisions, Writer::decision);
    }
    if !threats.is_empty() {
        key!(w, "threats");
        w.list(threats, Writer::threat);
    }
    if *truncated {
        key!(w, "truncated");
        w.lit(b"true");
    }
    if let Some(sk) = skipped {
        key!(w, "skipped");
        w.str(sk);
    }
    if !value_hashes.is_empty() {
        key!(w, "value_hashes");
        w.list(value_hashes, |w, h| w.str(h));
    }
    w.out.push(b'}');
}

/// Appends `v` as a plain JSON string, quotes included, byte for byte as serde_json
/// writes it (the OTLP attributes).
pub(super) fn json_str(v: &str, out: &mut Vec<u8>) {
    Writer::<false> { out }.str(v);
}

/// Appends JSON to a buffer, every `"` and `\\` escaped once more when `E`.
struct Writer<'a, const E: bool> {
    out: &'a mut Vec<u8>,
}

/// An object being written: whether a field was written yet (for the commas).
struct Obj<'w, 'a, const E: bool> {
    w: &'w mut Writer<'a, E>,
    first: bool,
}

impl<'a, const E: bool> Obj<'_, 'a, E> {
    /// Writes the key of the next field from its two `,"name":` pieces (the comma left
    /// out for the first field); the value follows through the writer returned.
    #[inline(always)]
    fn field(&mut self, plain: &'static str, escaped: &'static str) -> &mut Writer<'a, E> {
        let piece = if E { escaped } else { plain }.as_bytes();
        let piece = if std::mem::take(&mut self.first) {
            piece.get(1..).unwrap_or_default()
        } else {
            piece
        };
        self.w.out.extend_from_slice(piece);
        self.w
    }

    fn close(self) {
        self.w.out.push(b'}');
    }
}

impl<'a, const E: bool> Writer<'a, E> {
    /// A quote of the JSON: `"`, or `\"` inside a string.
    #[inline]
    fn quote(&mut self) {
        if E {
            self.out.extend_from_slice(b"\\\"");
        } else {
            self.out.push(b'"');
        }
    }

    /// A constant piece of JSON given plain and escaped (a key: ASCII letters and `_`
    /// between quotes).
    #[inline(always)]
    fn piece(&mut self, plain: &'static str, escaped: &'static str) {
        self.out
            .extend_from_slice(if E { escaped } else { plain }.as_bytes());
    }

    fn open(&mut self) -> Obj<'_, 'a, E> {
        self.out.push(b'{');
        Obj {
            w: self,
            first: true,
        }
    }

    /// JSON text with neither quotes nor backslashes (`true`).
    fn lit(&mut self, text: &[u8]) {
        self.out.extend_from_slice(text);
    }

    fn int(&mut self, n: impl itoa::Integer) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    /// A JSON string: copied as it is unless a byte needs an escape (the usual text: a
    /// template, a service, a rule name), eight bytes at a time.
    fn str(&mut self, s: &str) {
        self.quote();
        let b = s.as_bytes();
        if swar::any(b, swar::json_special) {
            self.escape(b);
        } else {
            self.out.extend_from_slice(b);
        }
        self.quote();
    }

    /// The inside of a string with serde_json's escapes: `\"`, `\\`, `\b`, `\f`, `\n`,
    /// `\r`, `\t`, and `\u00XX` for the other control characters (their backslash
    /// doubled when `E`).
    #[cold]
    fn escape(&mut self, b: &[u8]) {
        let mut start = 0;
        for (i, &c) in b.iter().enumerate() {
            let short = match c {
                b'"' => b'"',
                b'\\' => b'\\',
                0x08 => b'b',
                0x0c => b'f',
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                0..=0x1f => 0,
                _ => continue,
            };
            self.out
                .extend_from_slice(b.get(start..i).unwrap_or_default());
            start = i + 1;
            if E {
                self.out.push(b'\\');
            }
            self.out.push(b'\\');
            match short {
                0 => {
                    let [hi, lo] = super::encode::hex2(c);
                    self.out.extend_from_slice(&[b'u', b'0', b'0', hi, lo]);
                }
                // The escaped character is itself escaped once more when `E`.
                b'"' | b'\\' if E => self.out.extend_from_slice(&[b'\\', short]),
                _ => self.out.push(short),
            }
        }
        self.out
            .extend_from_slice(b.get(start..).unwrap_or_default());
    }

    /// `{"type id":count,...}` in the map's (sorted) order.
    fn counts(&mut self, m: &BTreeMap<String, u32>) {
        self.out.push(b'{');
        for (i, (k, n)) in m.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.str(k);
            self.out.push(b':');
            self.int(*n);
        }
        self.out.push(b'}');
    }

    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) {
        self.out.push(b'[');
        for (i, t) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            each(self, t);
        }
        self.out.push(b']');
    }

    fn decision(&mut self, d: &DecisionInfo) {
        let mut o = self.open();
        field!(o, "rule").str(&d.rule);
        field!(o, "kind").str(d.kind);
        field!(o, "outcome").str(d.outcome);
        if d.dry_run {
            field!(o, "dry_run").lit(b"true");
        }
        o.close();
    }

    fn threat(&mut self, t: &ThreatInfo) {
        let mut o = self.open();
        field!(o, "type").str(t.family);
        field!(o, "where").str(t.place);
        field!(o, "action").str(t.action);
        o.close();
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::super::encode::serde_json_into;
    use super::super::record::*;
    use super::*;
    use proptest::option::of;
    use proptest::prelude::*;

    /// Text with every character class serde_json treats apart: quotes, backslashes,
    /// each short escape, other control characters, DEL, non-ASCII.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "(\\PC|[\"\\\\\u{0}-\u{1f}\u{7f}é\u{2028}/])*",
            // Long plain runs: the eight-byte steps of the check, then a special byte.
            "[a-z0-9/{}._-]{8,40}(\"|\\\\|\u{1}|\n)?",
        ]
    }

    fn word() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "call",
            "",
            "rest",
            "a\"b",
            "\\",
            "tab\there",
            "\u{1}",
            "é",
        ])
    }

    fn source() -> impl Strategy<Value = SourceInfo> {
        (of(text()), any::<bool>(), of(text())).prop_map(|(ip, ip_forwarded, principal)| {
            SourceInfo {
                ip,
                ip_forwarded,
                principal,
            }
        })
    }

    fn account() -> impl Strategy<Value = AccountInfo> {
        (
            prop_oneof![Just(String::new()), text()],
            word(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(id, via, trusted, authn_failed)| AccountInfo {
                id,
                via,
                trusted,
                authn_failed,
            })
    }

    fn api() -> impl Strategy<Value = ApiInfo> {
        (
            text(),
            prop_oneof![Just(String::new()), text()],
            text(),
            word(),
            of(text()),
        )
            .prop_map(|(method, host, path, protocol, operation)| ApiInfo {
                method,
                host,
                path,
                protocol,
                operation,
            })
    }

    fn counts() -> impl Strategy<Value = BTreeMap<String, u32>> {
        proptest::collection::btree_map(text(), any::<u32>(), 0..4)
    }

    fn decision() -> impl Strategy<Value = DecisionInfo> {
        (text(), word(), word(), any::<bool>()).prop_map(|(rule, kind, outcome, dry_run)| {
            DecisionInfo {
                rule,
                kind,
                outcome,
                dry_run,
            }
        })
    }

    fn threat() -> impl Strategy<Value = ThreatInfo> {
        (word(), word(), word()).prop_map(|(family, place, action)| ThreatInfo {
            family,
            place,
            action,
        })
    }

    fn call() -> impl Strategy<Value = CallRecord> {
        let head = (
            any::<u8>(),
            word(),
            any::<u64>(),
            text(),
            of(text()),
            text(),
            word(),
            source(),
            of(account()),
            api(),
        );
        let tail = (
            any::<u16>(),
            any::<u64>(),
            prop_oneof![Just(0u64), any::<u64>()],
            prop_oneof![Just(0u64), any::<u64>()],
            counts(),
            counts(),
            prop_oneof![Just(0u8), any::<u8>()],
            word(),
            proptest::collection::vec(decision(), 0..3),
            proptest::collection::vec(threat(), 0..3),
            (any::<bool>(), of(word())),
            proptest::collection::vec(text(), 0..3),
        );
        (head, tail).prop_map(
            |(
                (v, kind, ts, config, request_id, service, direction, source, account, api),
                (
                    status,
                    duration_ms,
                    request,
                    response,
                    req,
                    resp,
                    level,
                    action,
                    decisions,
                    threats,
                    (truncated, skipped),
                    value_hashes,
                ),
            )| CallRecord {
                v,
                kind,
                ts,
                config,
                request_id,
                service,
                direction,
                source,
                account,
                api,
                status,
                duration_ms,
                bytes: Bytes { request, response },
                sensitive: SensitiveCounts {
                    request: req,
                    response: resp,
                },
                level,
                action,
                decisions,
                threats,
                truncated,
                skipped,
                value_hashes,
            },
        )
    }

    proptest! {
        /// Any call record, every optional field present or not: the hand-written JSON
        /// is serde_json's, byte for byte, plain and escaped.
        #[test]
        fn the_call_record_is_serde_jsons(c in call()) {
            let mut plain = b"before".to_vec();
            write_call::<false>(&c, &mut plain);
            prop_assert_eq!(&plain[..6], b"before");
            prop_assert_eq!(
                String::from_utf8(plain[6..].to_vec()).unwrap(),
                serde_json::to_string(&c).unwrap()
            );
            let mut escaped = Vec::new();
            write_call::<true>(&c, &mut escaped);
            let mut want = Vec::new();
            serde_json_into(&c, &mut want, true).unwrap();
            prop_assert_eq!(String::from_utf8(escaped).unwrap(), String::from_utf8(want).unwrap());
        }
    }
}
