//! Well-known shapes that are never sensitive, recognised whole so the token pass of
//! the scanner steps over them: UUIDs and ISO-8601 dates and date-times.
//!
//! The catalog's false-positive list names UUIDs; a date is only ever sensitive as a
//! `date_of_birth`, which needs its key and is decided before the token pass. Both
//! are among the most common values of JSON APIs (ids, `created_at`), and through the
//! token pass each cost about as much as a validated card number: five or seven
//! tokens, with the group, dotted-number and colon-chain checks on their way. Here
//! they cost one bounded look at their bytes.
//!
//! A shape is taken only when it stands alone: neither side touches a letter, digit
//! or a byte that joins tokens into longer patterns (`-`, `_`, `.`, `:`, `@`, `+`,
//! non-ASCII), and no digit follows after one space (the token pass groups digits
//! across spaces). Anything else goes through the token pass as before
//! (`shapes_change_no_result` checks that the shortcut drops no match).

/// Whether `b` next to a shape makes it part of something longer.
fn joins(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || matches!(b, b'-' | b'_' | b'.' | b':' | b'@' | b'+')
}

/// The end of the UUID or ISO-8601 date(-time) at `v[i..]`, whose first run of letters
/// and digits is `v[i..j]` and whose preceding byte is `prev` (`b' '` at the start),
/// when it stands alone; `None` when there is none (the token pass takes over).
/// Inline: the test of the first group's length and the `-` after it rules out most
/// tokens before any call.
#[inline]
pub(super) fn skip(v: &[u8], i: usize, j: usize, prev: u8) -> Option<usize> {
    #[cfg(test)]
    if OFF.with(std::cell::Cell::get) {
        return None;
    }
    if !matches!(j - i, 4 | 8) || v.get(j) != Some(&b'-') || joins(prev) {
        return None;
    }
    shape_end(v, i, j - i)
}

/// [`skip`] past its first test. Out of line: rarely reached.
///
/// A space and a digit after the shape also refuse it: the token pass groups digits
/// across a space (cards `4111 1111 …`, landlines, IMEIs), so its last digits (a zone's
/// `+4111`, a time's seconds) could start a group that goes on after it.
#[inline(never)]
fn shape_end(v: &[u8], i: usize, first: usize) -> Option<usize> {
    let e = if first == 8 {
        uuid_end(v, i)?
    } else {
        iso_end(v, i)?
    };
    let next = byte(v, e);
    let grouped = next == b' ' && byte(v, e + 1).is_ascii_digit();
    (!joins(next) && !grouped).then_some(e)
}

/// A UUID ([`crate::text::is_uuid`]) at `v[i..]`: the end.
fn uuid_end(v: &[u8], i: usize) -> Option<usize> {
    v.get(i..i + 36)
        .is_some_and(crate::text::is_uuid)
        .then_some(i + 36)
}

/// Whether `v[at..at + n]` is `n` ASCII digits.
fn digits(v: &[u8], at: usize, n: usize) -> bool {
    v.get(at..at + n)
        .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
}

/// The byte at `at`, or 0 past the end (0 joins nothing).
fn byte(v: &[u8], at: usize) -> u8 {
    v.get(at).copied().unwrap_or(0)
}

/// `YYYY-MM-DD`, optionally followed by a time (`T` or a space, `hh:mm`, `:ss`,
/// `.` and up to nine digits of fraction) and a zone (`Z`, `±hh`, `±hh:mm`, `±hhmm`):
/// the end of what is there. Digits only, not a calendar check: no sensitive type has
/// a `4-2-2` digit shape (cards, phones and SSNs group otherwise).
fn iso_end(v: &[u8], i: usize) -> Option<usize> {
    if !(digits(v, i, 4)
        && byte(v, i + 4) == b'-'
        && digits(v, i + 5, 2)
        && byte(v, i + 7) == b'-'
        && digits(v, i + 8, 2))
    {
        return None;
    }
    let mut e = i + 10;
    if !(matches!(byte(v, e), b'T' | b' ')
        && digits(v, e + 1, 2)
        && byte(v, e + 3) == b':'
        && digits(v, e + 4, 2))
    {
        return Some(e);
    }
    e += 6;
    if byte(v, e) == b':' && digits(v, e + 1, 2) {
        e += 3;
        if byte(v, e) == b'.' && byte(v, e + 1).is_ascii_digit() {
            e += 1;
            let mut n = 0;
            while n < 9 && byte(v, e).is_ascii_digit() {
                e += 1;
                n += 1;
            }
        }
    }
    match byte(v, e) {
        b'Z' => e += 1,
        b'+' | b'-' if digits(v, e + 1, 2) => {
            e += 3;
            if byte(v, e) == b':' && digits(v, e + 1, 2) {
                e += 3;
            } else if digits(v, e, 2) {
                e += 2;
            }
        }
        _ => {}
    }
    Some(e)
}

#[cfg(test)]
thread_local! {
    /// Tests turn the shortcut off to compare with the token pass.
    pub(super) static OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// The end `skip` finds for a shape at the start of `v`.
    fn at_start(v: &str) -> Option<usize> {
        let b = v.as_bytes();
        let j = b.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
        skip(b, 0, j, b' ')
    }

    #[test]
    fn recognises_uuids_and_iso_dates() {
        let uuid = "2a7730e5-7cb8-4af0-aaf2-83496ed9d029";
        assert_eq!(at_start(uuid), Some(36));
        assert_eq!(
            at_start("2A7730E5-7CB8-4AF0-AAF2-83496ED9D029/orders"),
            Some(36)
        );
        for (v, end) in [
            ("2024-03-15", 10),
            ("2024-03-15 and", 10),
            ("2024-03-15T12:30", 16),
            ("2024-03-15T12:30:45", 19),
            ("2024-03-15T12:30:45.123Z", 24),
            ("2024-03-15 12:30:45.123456789+08:00", 35),
            ("2024-03-15T12:30:45+0800", 24),
            ("2024-03-15T12:30:45-05", 22),
        ] {
            assert_eq!(at_start(v), Some(end), "{v}");
        }
    }

    #[test]
    fn leaves_what_does_not_stand_alone() {
        for v in [
            "2a7730e5-7cb8-4af0-aaf2-83496ed9d029a",   // a longer run
            "2a7730e5-7cb8-4af0-aaf2-83496ed9d029-1",  // a longer chain
            "2a7730e5-7cb8-4af0-aaf2-83496ed9d02",     // a group short
            "2a7730g5-7cb8-4af0-aaf2-83496ed9d029",    // not hex
            "2024-03-15.",                             // a dotted run
            "2024-03-15T",                             // a letter after
            "2024-03-150",                             // a longer group
            "2024-3-15",                               // not 4-2-2
            "2024-03-15 12:30:45.1234567890",          // a fraction over nine digits
            "2024-03-15T12:30:45Z0",                   // a digit after the zone
            "1386-13-8000",                            // 4-2-4
            "2024-03-15T12:30:45+4111 1111 1111 1111", // a group may go on
            "2024-03-15 12:30:ab:cd:ef:01",            // a MAC goes on
        ] {
            assert_eq!(at_start(v), None, "{v}");
        }
        let b = b"x2024-03-15";
        assert_eq!(skip(b, 1, 5, b'x'), None, "after a letter");
        assert_eq!(skip(b, 1, 5, b'+'), None, "after a plus");
        assert_eq!(skip(b, 1, 5, b'/'), Some(11), "after a slash");
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::sensitive::keys::classify;
    use crate::sensitive::scan::Src;
    use crate::sensitive::{Classifier, Date};
    use proptest::prelude::*;

    fn shape() -> impl Strategy<Value = String> {
        let re = |r: &str| proptest::string::string_regex(r).unwrap();
        let h = "[0-9a-fA-F]";
        prop_oneof![
            re(&format!("{h}{{8}}-{h}{{4}}-{h}{{4}}-{h}{{4}}-{h}{{12}}")),
            re("[0-9]{8}-[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{12}"),
            re("[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,10})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?"),
            re("(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9])"),
            re("[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?"),
            // Zones whose digits could start a card, a landline or an IMEI.
            re("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?[+-](4111|3782|0755|49|86|08)"),
        ]
    }

    fn context() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "",
            " ",
            "x",
            "1",
            "-",
            "_",
            ".",
            ":",
            "@",
            "+",
            "/",
            "=",
            "\"",
            "T",
            "Z",
            "0",
            "-1",
            ".5",
            ":00",
            "@example.com",
            " 13812345678",
            "13812345678 ",
            " 4111 1111 1111 1111",
            "4111-1111-1111-",
            "id ",
            "born ",
            "身份证",
            "110101199003077777 ",
            " 192.168.1.1",
            "00:1A:2B:",
            "+86 ",
            // Digits after a space continue a group; a colon continues a MAC.
            " 1111 1111 1111",
            " 1111 1111 1111 1111",
            " 822463 10005",
            " 23456789",
            " 2345 6789",
            " 015420 323751 8",
            ":ab:cd:ef:01",
            "%x@a.cn",
        ])
        .prop_map(str::to_string)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The shortcut changes no result: for UUID- and date-shaped values (digits
        /// only, hex of both cases, dates with and without times and zones) between
        /// any of a set of neighbours that join, validate or start other patterns, under
        /// any key, the scanner finds what the token pass alone finds.
        #[test]
        fn shapes_change_no_result(
            before in context(),
            s in shape(),
            after in context(),
            key in prop::sample::select(vec![
                "", "id", "uuid", "request_id", "created_at", "birthday", "dob", "phone",
                "card_no", "ip", "mac", "version", "note", "ssn", "imei", "tel",
            ]),
        ) {
            let c = Classifier::new(
                &crate::config::load(br#"{"sensitive":{"types":"all"}}"#).unwrap().policy.sensitive,
            );
            let value = format!("{before}{s}{after}");
            let kb = (!key.is_empty()).then_some(key.as_bytes());
            let kc = kb.map(|k| classify(k, None)).unwrap_or_default();
            let t = Date::new(2025, 6, 1).unwrap();
            for src in [Src::Text, Src::Number] {
                let (mut fast, mut slow) = (Vec::new(), Vec::new());
                c.detect(&kc, kb, src, value.as_bytes(), t, &mut fast);
                OFF.with(|o| o.set(true));
                c.detect(&kc, kb, src, value.as_bytes(), t, &mut slow);
                OFF.with(|o| o.set(false));
                prop_assert_eq!(&fast, &slow, "key {:?} value {:?}", key, value);
            }
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            c.detect_text(value.as_bytes(), t, &mut fast);
            OFF.with(|o| o.set(true));
            c.detect_text(value.as_bytes(), t, &mut slow);
            OFF.with(|o| o.set(false));
            prop_assert_eq!(&fast, &slow, "text {:?}", value);
        }
    }
}
