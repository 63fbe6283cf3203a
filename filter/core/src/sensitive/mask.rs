//! Masking: rewrites sensitive values in a JSON or text body with the catalog's partial
//! masks, `full` (`*` per character) or `hash` (`sha256:` + 12 hex of an HMAC), leaving
//! every other byte identical; plus keyed value hashes for events.

use super::catalog::Builtin as B;
use super::scan::{tally, Classifier, Counts, Hits, Match, Scratch, Src};
use super::validate::Date;
use crate::config::raw::MaskStyle;
use crate::json::{escape_into, Kind, Step};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a masking pass changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaskStats {
    /// Values masked per type index.
    pub masked: Vec<u32>,
    /// Values masked in all.
    pub total: u32,
}

impl MaskStats {
    fn add(&mut self, idx: usize, types: usize) {
        if self.masked.len() < types {
            self.masked.resize(types, 0);
        }
        if let Some(n) = self.masked.get_mut(idx) {
            *n = n.saturating_add(1);
        }
        self.total = self.total.saturating_add(1);
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Separators that carry no information (`138-1234-5678` and `13812345678` hash alike).
fn canonical_into(t: Option<B>, value: &[u8], out: &mut Vec<u8>) {
    out.clear();
    match t {
        Some(
            B::CnResidentId
            | B::CnMobile
            | B::CnLandline
            | B::BankCard
            | B::UsSsn
            | B::Iban
            | B::Imei
            | B::CnUscc
            | B::MacAddress,
        ) => out.extend(
            value
                .iter()
                .filter(|b| !matches!(b, b' ' | b'-' | b':'))
                .map(u8::to_ascii_uppercase),
        ),
        Some(B::Email) => out.extend(value.iter().map(u8::to_ascii_lowercase)),
        _ => out.extend_from_slice(value),
    }
}

fn hmac12(key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    let digest: [u8; 32] = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(value);
            m.finalize().into_bytes().into()
        }
        Err(_) => {
            use sha2::Digest;
            Sha256::digest(value).into()
        }
    };
    for b in digest.iter().take(6) {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 15) as usize]);
    }
}

/// Keyed hash of a sensitive value for events: `"<type_id>:<12 hex>"`, the first 12
/// hex digits of HMAC-SHA256(`key`, value), separators of number-like types removed
/// (so the same value in different formats correlates; same digits as the `hash` mask).
pub fn value_hash(key: &[u8], type_id: &str, value: &[u8]) -> String {
    let mut canon = Vec::with_capacity(value.len());
    canonical_into(B::from_id(type_id), value, &mut canon);
    let mut out = Vec::with_capacity(type_id.len() + 13);
    out.extend_from_slice(type_id.as_bytes());
    out.push(b':');
    hmac12(key, &canon, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Characters of `s` with their byte ranges (invalid UTF-8 bytes one by one).
fn chars(s: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let b = *s.get(i)?;
        if b < 0x80 {
            // ASCII (most masked values): no decoding.
            i += 1;
            return Some((i - 1, i));
        }
        let n = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        // A sequence cut by the end of `s` is invalid too (fuzz: `EMP123456\xe5`).
        let n = if s
            .get(i..i + n)
            .is_some_and(|c| std::str::from_utf8(c).is_ok())
        {
            n
        } else {
            1
        };
        let r = (i, i + n);
        i += n;
        Some(r)
    })
}

fn significant(c: &[u8]) -> bool {
    match c {
        [b] => b.is_ascii_alphanumeric(),
        _ => c != "·".as_bytes(),
    }
}

/// Keeps the first `first` and last `last` significant characters, masks the other
/// significant ones; separators stay. Too short to keep anything: masks them all.
fn keep_ends(v: &[u8], first: usize, last: usize, out: &mut Vec<u8>) {
    if v.is_ascii() {
        // Most masked values (ids, numbers, emails): one byte per character.
        let total = v.iter().filter(|b| b.is_ascii_alphanumeric()).count();
        let (first, last) = if total <= first + last {
            (0, 0)
        } else {
            (first, last)
        };
        if total == v.len() {
            // Letters and digits only (ids, phone and card numbers): the masked
            // characters are one run.
            let start = out.len();
            out.extend_from_slice(v);
            if let Some(run) = out.get_mut(start + first..start + total - last) {
                run.fill(b'*');
            }
            return;
        }
        let mut k = 0;
        out.extend(v.iter().map(|&b| {
            if !b.is_ascii_alphanumeric() {
                return b;
            }
            k += 1;
            if k <= first || k > total - last {
                b
            } else {
                b'*'
            }
        }));
        return;
    }
    let total = chars(v).filter(|&(s, e)| significant(&v[s..e])).count();
    let (first, last) = if total <= first + last {
        (0, 0)
    } else {
        (first, last)
    };
    let mut k = 0;
    for (s, e) in chars(v) {
        let c = &v[s..e];
        if significant(c) {
            if k < first || k >= total - last {
                out.extend_from_slice(c);
            } else {
                out.push(b'*');
            }
            k += 1;
        } else {
            out.extend_from_slice(c);
        }
    }
}

/// Keeps everything up to and including the `n`-th `sep`, masks significant
/// characters after it.
fn keep_until(v: &[u8], sep: u8, n: usize, out: &mut Vec<u8>) {
    let mut seen = 0;
    for (s, e) in chars(v) {
        let c = &v[s..e];
        if seen >= n && significant(c) {
            out.push(b'*');
        } else {
            out.extend_from_slice(c);
        }
        if c == [sep] {
            seen += 1;
        }
    }
}

fn full(v: &[u8], out: &mut Vec<u8>) {
    out.extend(chars(v).map(|_| b'*'));
}

/// Writes the masked form of `value` (of built-in `t`, or a custom type when `None`).
pub(crate) fn write_masked(
    t: Option<B>,
    style: MaskStyle,
    value: &[u8],
    hash_key: &[u8],
    tmp: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    match style {
        MaskStyle::Full => full(value, out),
        MaskStyle::Hash => {
            canonical_into(t, value, tmp);
            out.extend_from_slice(b"sha256:");
            hmac12(hash_key, tmp, out);
        }
        MaskStyle::Partial => partial(t, value, out),
    }
}

fn partial(t: Option<B>, v: &[u8], out: &mut Vec<u8>) {
    let Some(t) = t else {
        // Custom types: the last 4 of long values, else everything.
        return keep_ends(v, 0, if chars(v).count() >= 10 { 4 } else { 0 }, out);
    };
    match t {
        B::CnResidentId | B::CnMobile => keep_ends(v, 3, 4, out),
        B::CnLandline => {
            let d0 = v.iter().filter(|b| b.is_ascii_digit()).take(4).copied();
            let mut head = [0u8; 4];
            for (slot, d) in head.iter_mut().zip(d0) {
                *slot = d;
            }
            let area = super::validate::cn_area_code_len(&head).unwrap_or(3);
            keep_ends(v, area, 2, out);
        }
        B::BankCard => keep_ends(v, 6, 4, out),
        B::CnPassport | B::CnHkMacauPermit => keep_ends(v, 1, 3, out),
        B::CnUscc => keep_ends(v, 8, 2, out),
        B::CnLicensePlate => keep_ends(v, 2, 2, out),
        B::CnName => keep_ends(v, 1, 0, out),
        B::Address => {
            let n = chars(v).count();
            for (k, (s, e)) in chars(v).enumerate() {
                if k + 8 >= n {
                    out.push(b'*');
                } else {
                    out.extend_from_slice(&v[s..e]);
                }
            }
        }
        B::DateOfBirth => {
            // Keep the year: the first run of four digits.
            let mut kept = false;
            let mut i = 0;
            while i < v.len() {
                let run = v[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                if run == 0 {
                    out.push(v[i]);
                    i += 1;
                    continue;
                }
                if !kept && run >= 4 {
                    out.extend_from_slice(&v[i..i + 4]);
                    out.extend(std::iter::repeat_n(b'*', run - 4));
                    kept = true;
                } else {
                    out.extend(std::iter::repeat_n(b'*', run));
                }
                i += run;
            }
        }
        B::Email => match v.iter().position(|&b| b == b'@') {
            Some(at) => {
                out.extend_from_slice(v.get(..1).unwrap_or_default());
                out.extend_from_slice(b"***");
                out.extend_from_slice(&v[at..]);
            }
            None => full(v, out),
        },
        B::UsSsn | B::Imei => keep_ends(v, 0, 4, out),
        B::Iban | B::BitcoinAddress => keep_ends(v, 4, 4, out),
        B::Ipv4 => keep_until(v, b'.', 1, out),
        B::Ipv6 => keep_until(v, b':', 1, out),
        B::MacAddress => keep_ends(v, 6, 0, out),
        B::Jwt => keep_until(v, b'.', 1, out),
        B::AwsAccessKey | B::CloudSecret => keep_ends(v, 4, 0, out),
        B::CardSecurityCode | B::PrivateKey | B::Password => full(v, out),
    }
}

/// The matches to mask: planned, non-overlapping (earliest, then longest, wins).
fn planned<'m>(
    matches: &'m [Match],
    plan: &'m [Option<MaskStyle>],
) -> impl Iterator<Item = (Match, MaskStyle)> + 'm {
    let mut last_end = 0u32;
    matches.iter().filter_map(move |m| {
        let style = plan.get(m.idx as usize).copied().flatten()?;
        if m.start < last_end {
            return None;
        }
        last_end = m.end;
        Some((*m, style))
    })
}

/// What a masking pass applies.
struct Plan<'p> {
    styles: &'p [Option<MaskStyle>],
    hash_key: &'p [u8],
    types: usize,
}

/// Writes `value` with its planned matches masked (unescaped form).
fn rewrite(
    value: &[u8],
    matches: &[Match],
    plan: &Plan<'_>,
    tmp: &mut Vec<u8>,
    out: &mut Vec<u8>,
    stats: &mut MaskStats,
) {
    let mut pos = 0usize;
    for (m, style) in planned(matches, plan.styles) {
        let (s, e) = (m.start as usize, m.end as usize);
        out.extend_from_slice(value.get(pos..s).unwrap_or_default());
        write_masked(
            m.builtin,
            style,
            value.get(s..e).unwrap_or_default(),
            plan.hash_key,
            tmp,
            out,
        );
        stats.add(m.idx as usize, plan.types);
        pos = e;
    }
    out.extend_from_slice(value.get(pos..).unwrap_or_default());
}

impl Classifier {
    /// Masks a JSON body: `plan[type_idx] = Some(style)` masks values of that type.
    /// A string with a match is replaced by a valid JSON string with only the matched
    /// parts masked (a masked number becomes a string); all other bytes stay as they
    /// are. Returns `None` (and leaves `out` as it was) when the body is not complete,
    /// valid JSON.
    pub fn mask_json(
        &self,
        body: &[u8],
        plan: &[Option<MaskStyle>],
        hash_key: &[u8],
        today: Date,
        out: &mut Vec<u8>,
    ) -> Option<MaskStats> {
        let mut hits = Hits::new();
        self.mask_json_with(body, plan, hash_key, today, out, &mut hits)
    }

    /// [`Classifier::mask_json`] that also counts what it finds into `hits` (one pass
    /// classifies and masks a response).
    pub fn mask_json_with(
        &self,
        body: &[u8],
        plan: &[Option<MaskStyle>],
        hash_key: &[u8],
        today: Date,
        out: &mut Vec<u8>,
        hits: &mut Hits,
    ) -> Option<MaskStats> {
        let mark = out.len();
        let p = Plan {
            styles: plan,
            hash_key,
            types: self.type_count(),
        };
        let mut stats = MaskStats::default();
        let any_planned = plan.iter().any(Option::is_some);
        let mut last = 0usize;
        let outcome = hits.with_split(|counts: &mut Counts, s: &mut Scratch| {
            let Scratch {
                walker,
                matches,
                tmp,
                value,
                keys,
                ..
            } = s;
            walker.walk(body, |val| {
                if val.kind == Kind::Key && self.ignored(val.text) {
                    return Step::Skip;
                }
                if val.kind == Kind::Key && !super::scan::worth_scanning_key(val.text) {
                    return Step::Continue;
                }
                let src = match val.kind {
                    Kind::String => Src::Text,
                    Kind::Number => Src::Number,
                    Kind::Key => Src::Text,
                    _ => return Step::Continue,
                };
                let kc = match (val.kind, val.key) {
                    (Kind::Key, k) => k.map(|k| keys.get(k, None)).unwrap_or_default(),
                    (_, Some(k)) => keys.get(k, val.parent_key),
                    _ => Default::default(),
                };
                let key = if val.kind == Kind::Key { None } else { val.key };
                self.detect(&kc, key, src, val.text, today, matches);
                tally(self, counts, matches);
                // Keys are counted, never rewritten.
                if !any_planned || val.kind == Kind::Key || planned(matches, plan).next().is_none()
                {
                    return Step::Continue;
                }
                out.extend_from_slice(body.get(last..val.start).unwrap_or_default());
                if val.kind == Kind::String && !val.escaped {
                    // Raw bytes equal the text: splice, keep the rest byte-identical.
                    out.push(b'"');
                    rewrite(val.text, matches, &p, tmp, out, &mut stats);
                    out.push(b'"');
                } else {
                    value.clear();
                    rewrite(val.text, matches, &p, tmp, value, &mut stats);
                    out.push(b'"');
                    escape_into(value, out);
                    out.push(b'"');
                }
                last = val.end;
                Step::Continue
            })
        });
        if !outcome.is_complete() {
            out.truncate(mark);
            return None;
        }
        out.extend_from_slice(body.get(last..).unwrap_or_default());
        Some(stats)
    }

    /// Masks free text (text/plain, XML, form bodies as text): matched parts replaced,
    /// everything else byte-identical.
    pub fn mask_text(
        &self,
        body: &[u8],
        plan: &[Option<MaskStyle>],
        hash_key: &[u8],
        today: Date,
        out: &mut Vec<u8>,
    ) -> MaskStats {
        let mut hits = Hits::new();
        self.mask_text_with(body, plan, hash_key, today, out, &mut hits)
    }

    /// [`Classifier::mask_text`] that also counts what it finds into `hits`.
    pub fn mask_text_with(
        &self,
        body: &[u8],
        plan: &[Option<MaskStyle>],
        hash_key: &[u8],
        today: Date,
        out: &mut Vec<u8>,
        hits: &mut Hits,
    ) -> MaskStats {
        let p = Plan {
            styles: plan,
            hash_key,
            types: self.type_count(),
        };
        let mut stats = MaskStats::default();
        hits.with_split(|counts, s| {
            self.detect_text(body, today, &mut s.matches);
            tally(self, counts, &s.matches);
            rewrite(body, &s.matches, &p, &mut s.tmp, out, &mut stats);
        });
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn p(t: B, v: &str) -> String {
        let mut out = Vec::new();
        partial(Some(t), v.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    /// The general (per-character) path of `keep_ends`, as the ASCII path must behave.
    fn keep_ends_by_chars(v: &[u8], first: usize, last: usize) -> Vec<u8> {
        let total = chars(v).filter(|&(s, e)| significant(&v[s..e])).count();
        let (first, last) = if total <= first + last {
            (0, 0)
        } else {
            (first, last)
        };
        let (mut k, mut out) = (0, Vec::new());
        for (s, e) in chars(v) {
            let c = &v[s..e];
            if significant(c) {
                let keep = k < first || k >= total - last;
                out.extend_from_slice(if keep { c } else { b"*" });
                k += 1;
            } else {
                out.extend_from_slice(c);
            }
        }
        out
    }

    #[test]
    fn ascii_keep_ends_agrees_with_the_per_character_path() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..8000 {
            // Half the values have separators, half are letters and digits only.
            let alphabet: &[u8] = if round % 2 == 0 {
                b"0123456789abcXYZ-_ .@+()"
            } else {
                b"0123456789abcXYZ"
            };
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            let v: Vec<u8> = (0..len)
                .map(|i| alphabet[((seed >> (i % 8 * 8)) as usize + i * 7) % alphabet.len()])
                .collect();
            for (first, last) in [
                (0, 0),
                (3, 4),
                (6, 4),
                (0, 4),
                (1, 3),
                (8, 2),
                (2, 2),
                (1, 0),
            ] {
                let mut out = Vec::new();
                keep_ends(&v, first, last, &mut out);
                assert_eq!(
                    out,
                    keep_ends_by_chars(&v, first, last),
                    "{:?} {first} {last}",
                    String::from_utf8_lossy(&v)
                );
            }
        }
    }

    #[test]
    fn partial_masks_follow_the_catalog() {
        assert_eq!(
            p(B::CnResidentId, "11010519491231002X"),
            "110***********002X"
        );
        assert_eq!(p(B::CnMobile, "13812345678"), "138****5678");
        assert_eq!(p(B::CnMobile, "138-1234-5678"), "138-****-5678");
        assert_eq!(p(B::CnLandline, "010-62345678"), "010-******78");
        assert_eq!(p(B::CnLandline, "0755-8600123"), "0755-*****23");
        assert_eq!(p(B::BankCard, "6222021234567890123"), "622202*********0123");
        assert_eq!(p(B::BankCard, "4111 1111 1111 1111"), "4111 11** **** 1111");
        assert_eq!(p(B::CardSecurityCode, "123"), "***");
        assert_eq!(p(B::CnPassport, "E12345678"), "E*****678");
        assert_eq!(p(B::CnHkMacauPermit, "H12345678"), "H*****678");
        assert_eq!(p(B::CnUscc, "91350100M000100Y43"), "91350100********43");
        assert_eq!(p(B::CnLicensePlate, "京A12345"), "京A***45");
        assert_eq!(p(B::CnName, "张三丰"), "张**");
        assert_eq!(p(B::CnName, "Zhang Wei"), "Z**** ***");
        assert_eq!(p(B::Address, "北京市朝阳区建国路88号"), "北京市朝********");
        assert_eq!(p(B::DateOfBirth, "1990-03-07"), "1990-**-**");
        assert_eq!(p(B::DateOfBirth, "07/03/1990"), "**/**/1990");
        assert_eq!(p(B::Email, "alice@example.com"), "a***@example.com");
        assert_eq!(p(B::UsSsn, "123-45-6789"), "***-**-6789");
        assert_eq!(
            p(B::Iban, "DE89370400440532013000"),
            "DE89**************3000"
        );
        assert_eq!(p(B::Ipv4, "192.168.1.10"), "192.***.*.**");
        assert_eq!(p(B::Ipv6, "2001:db8::1"), "2001:***::*");
        assert_eq!(p(B::MacAddress, "00:1A:2B:3C:4D:5E"), "00:1A:2B:**:**:**");
        assert_eq!(p(B::Imei, "490154203237518"), "***********7518");
        assert_eq!(
            p(B::Jwt, "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.sig"),
            "eyJhbGciOiJub25lIn0.***************.***"
        );
        assert_eq!(p(B::PrivateKey, "-----BEGIN"), "**********");
        assert_eq!(
            p(B::AwsAccessKey, "AKIAIOSFODNN7EXAMPLE"),
            "AKIA****************"
        );
        assert_eq!(p(B::CloudSecret, "sk_live_abc"), "sk_li**_***");
        assert_eq!(p(B::Password, "pässword"), "********");
        assert_eq!(
            p(B::BitcoinAddress, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
            format!("1A1z{}vfNa", "*".repeat(26))
        );
    }

    #[test]
    fn hashes_are_keyed_and_canonical() {
        let a = value_hash(b"k", "cn_mobile", b"138-1234-5678");
        assert_eq!(a, value_hash(b"k", "cn_mobile", b"13812345678"));
        assert_ne!(a, value_hash(b"other", "cn_mobile", b"13812345678"));
        assert!(a.starts_with("cn_mobile:") && a.len() == "cn_mobile:".len() + 12);
        let mut out = Vec::new();
        write_masked(
            Some(B::CnMobile),
            MaskStyle::Hash,
            b"13812345678",
            b"k",
            &mut Vec::new(),
            &mut out,
        );
        assert_eq!(&out[7..], &a.as_bytes()[10..]);
        assert!(out.starts_with(b"sha256:"));
    }

    fn classifier() -> Classifier {
        Classifier::new(&crate::config::load(b"").unwrap().policy.sensitive)
    }

    fn plan_all(c: &Classifier, style: MaskStyle) -> Vec<Option<MaskStyle>> {
        vec![Some(style); c.type_count()]
    }

    #[test]
    fn masks_json_in_place() {
        let c = classifier();
        let t = Date::new(2025, 6, 1).unwrap();
        let body = br#"{"id": 7, "mobile":13812345678, "note":"call 13912345678 or mail a@b.com \"now\"", "e":"\u0061\u0040example.com", "ok":true}"#;
        let mut out = Vec::new();
        let stats = c
            .mask_json(body, &plan_all(&c, MaskStyle::Partial), b"k", t, &mut out)
            .unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(
            text,
            r#"{"id": 7, "mobile":"138****5678", "note":"call 139****5678 or mail a***@b.com \"now\"", "e":"a***@example.com", "ok":true}"#
        );
        assert_eq!(stats.total, 4);
        assert_eq!(stats.masked[1], 2);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["ok"], true);
        // Only the planned types.
        let mut plan = vec![None; c.type_count()];
        plan[12] = Some(MaskStyle::Full);
        out.clear();
        c.mask_json(body, &plan, b"k", t, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["mobile"], 13812345678u64);
        assert_eq!(v["e"], "*************");
        // Not valid JSON: untouched, None.
        out.clear();
        out.extend_from_slice(b"prefix");
        assert!(c
            .mask_json(
                b"{\"m\":\"13812345678\"",
                &plan_all(&c, MaskStyle::Full),
                b"k",
                t,
                &mut out
            )
            .is_none());
        assert_eq!(out, b"prefix");
    }

    /// Fuzz regression (classify_mask, minimised): a custom-type match in a text body
    /// whose last byte starts a UTF-8 sequence cut by the end of the body indexed past
    /// the end in `keep_ends` (a VM trap on Latin-1 text such as `Jos\xe9`).
    #[test]
    fn text_ending_in_a_cut_utf8_sequence_masks_without_panicking() {
        let cfg = br#"{"sensitive": {"custom": [{"id": "employee_id", "pattern": "EMP\\d{6}", "level": 3}]}}"#;
        let c = Classifier::new(&crate::config::load(cfg).unwrap().policy.sensitive);
        let t = Date::new(2025, 6, 1).unwrap();
        for style in [MaskStyle::Partial, MaskStyle::Full, MaskStyle::Hash] {
            for body in [
                &b"EMP123456\xe5"[..],
                b"EMP123456 Jos\xe9",
                b"\xe5\x8cEMP123456\xe5\x8c",
            ] {
                let mut out = Vec::new();
                let stats = c.mask_text(body, &plan_all(&c, style), b"k", t, &mut out);
                assert_eq!(stats.total, 1, "{style:?} {body:?}");
                // Only the id is rewritten; the invalid bytes around it stay as they were.
                let id = body.windows(9).position(|w| w == b"EMP123456").unwrap();
                assert_eq!(&out[..id], &body[..id]);
                assert_eq!(&out[out.len() - (body.len() - id - 9)..], &body[id + 9..]);
            }
        }
        let mut out = Vec::new();
        keep_ends(b"ab\xe5", 1, 1, &mut out);
        assert_eq!(
            out, b"**\xe5",
            "too short to keep anything; the cut byte stays"
        );
        let mut out = Vec::new();
        partial(
            Some(B::Address),
            "北京市朝阳区建国路88号\u{fffd}".as_bytes(),
            &mut out,
        );
        let mut out2 = Vec::new();
        partial(Some(B::Address), b"\xe5\x8c", &mut out2);
        assert_eq!(out2, b"**");
    }

    #[test]
    fn masks_text() {
        let c = classifier();
        let t = Date::new(2025, 6, 1).unwrap();
        let mut out = Vec::new();
        let stats = c.mask_text(
            b"tel 13812345678, password=hunter2&x=1",
            &plan_all(&c, MaskStyle::Partial),
            b"k",
            t,
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "tel 138****5678, password=*******&x=1"
        );
        assert_eq!(stats.total, 2);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn pii() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("13812345678".to_string()),
            Just("11010519491231002X".to_string()),
            Just("a.b@example.com".to_string()),
            Just("4111 1111 1111 1111".to_string()),
            Just("张三".to_string()),
            "\\PC{0,10}",
        ]
    }

    proptest! {
        #[test]
        fn masking_keeps_json_valid(
            entries in proptest::collection::vec(("[a-z_]{1,8}", pii(), any::<bool>()), 0..8),
            style in prop_oneof![Just(MaskStyle::Partial), Just(MaskStyle::Full), Just(MaskStyle::Hash)],
        ) {
            let mut obj = serde_json::Map::new();
            for (k, v, nested) in entries {
                let val = if nested { serde_json::json!([{"name": v}]) } else { serde_json::Value::String(v) };
                obj.insert(k, val);
            }
            let body = serde_json::to_vec(&serde_json::Value::Object(obj)).unwrap();
            let c = Classifier::new(&crate::config::load(b"").unwrap().policy.sensitive);
            let plan = vec![Some(style); c.type_count()];
            let mut out = Vec::new();
            let stats = c.mask_json(&body, &plan, b"key", Date::new(2025, 1, 1).unwrap(), &mut out);
            prop_assert!(stats.is_some());
            let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&out);
            prop_assert!(parsed.is_ok(), "{}", String::from_utf8_lossy(&out));
            if stats.map(|s| s.total) == Some(0) {
                prop_assert_eq!(out, body);
            }
        }
    }
}
