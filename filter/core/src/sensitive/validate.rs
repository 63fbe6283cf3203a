//! Validators of the built-in sensitive types (checksums, prefix tables, shapes), and
//! the small civil [`Date`] they need. Pure functions over ASCII bytes: no allocation,
//! no clock reads (the caller passes "today").

use sha2::{Digest, Sha256};

/// A proleptic Gregorian calendar date (UTC), used for birth dates and "not in the
/// future" checks. Ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    /// A far-future date: with it no birth date is "in the future".
    pub const MAX: Date = Date {
        year: 9999,
        month: 12,
        day: 31,
    };

    /// A valid calendar date, or `None`.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// The UTC date of a Unix time in milliseconds.
    pub fn from_unix_ms(ms: u64) -> Date {
        Date::from_days((ms / 86_400_000) as i64)
    }

    /// The date `days` days after 1970-01-01 (H. Hinnant's `civil_from_days`).
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Year.
    pub fn year(self) -> i32 {
        self.year
    }
    /// Month, 1..=12.
    pub fn month(self) -> u8 {
        self.month
    }
    /// Day of month, 1..=31.
    pub fn day(self) -> u8 {
        self.day
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Value of ASCII digits (no sign); `None` when a byte is not a digit or on overflow.
pub fn num(d: &[u8]) -> Option<u32> {
    if d.is_empty() || d.len() > 9 {
        return None;
    }
    d.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn all_digits(d: &[u8]) -> bool {
    !d.is_empty() && d.iter().all(u8::is_ascii_digit)
}

/// Luhn check over ASCII digits (at least 2).
pub fn luhn(d: &[u8]) -> bool {
    if d.len() < 2 || !all_digits(d) {
        return false;
    }
    let mut sum = 0u32;
    for (i, &b) in d.iter().rev().enumerate() {
        let mut x = u32::from(b - b'0');
        if i % 2 == 1 {
            x *= 2;
            if x > 9 {
                x -= 9;
            }
        }
        sum += x;
    }
    sum % 10 == 0
}

/// The Luhn check digit that completes `d` (ASCII digits).
pub fn luhn_check_digit(d: &[u8]) -> u8 {
    let mut sum = 0u32;
    for (i, &b) in d.iter().rev().enumerate() {
        let mut x = u32::from(b.wrapping_sub(b'0') % 10);
        if i % 2 == 0 {
            x *= 2;
            if x > 9 {
                x -= 9;
            }
        }
        sum += x;
    }
    b'0' + ((10 - sum % 10) % 10) as u8
}

// ---------------------------------------------------------------- Chinese resident ID

/// Province-level prefixes of GB/T 2260 used by resident ids (11–15, 21–23, 31–37,
/// 41–46, 50–54, 61–65, 71, 81–83).
pub fn cn_province(two: &[u8]) -> bool {
    matches!(
        num(two),
        Some(11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81..=83)
    ) && two.len() == 2
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// The ISO 7064 MOD 11-2 check character of the first 17 digits of a resident id.
pub fn cn_resident_id_check(d17: &[u8]) -> Option<u8> {
    if d17.len() != 17 || !all_digits(d17) {
        return None;
    }
    let s: u32 = d17
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(&b, w)| u32::from(b - b'0') * w)
        .sum();
    ID_CHECK.get((s % 11) as usize).copied()
}

/// An 18-character resident id: province prefix, a valid birth date not after `today`
/// (and not before 1900), and the MOD 11-2 check character (`X` or `x`).
pub fn cn_resident_id(s: &[u8], today: Date) -> bool {
    if s.len() != 18 {
        return false;
    }
    let (body, check) = s.split_at(17);
    let Some(c) = cn_resident_id_check(body) else {
        return false;
    };
    let last = check.first().map_or(0, u8::to_ascii_uppercase);
    if c != last || !cn_province(&s[..2]) {
        return false;
    }
    match ymd(&s[6..14]) {
        Some(d) => d.year >= 1900 && d <= today,
        None => false,
    }
}

/// A 15-digit legacy resident id: province prefix and a valid `19YYMMDD` birth date.
/// Only meaningful with context (the caller checks it).
pub fn cn_resident_id_legacy(s: &[u8], today: Date) -> bool {
    if s.len() != 15 || !all_digits(s) || !cn_province(&s[..2]) {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (num(&s[6..8]), num(&s[8..10]), num(&s[10..12])) else {
        return false;
    };
    match Date::new(1900 + y as i32, m as u8, d as u8) {
        Some(date) => date <= today,
        None => false,
    }
}

/// `YYYYMMDD` as a date.
fn ymd(d: &[u8]) -> Option<Date> {
    if d.len() != 8 {
        return None;
    }
    Date::new(
        num(&d[..4])? as i32,
        num(&d[4..6])? as u8,
        num(&d[6..8])? as u8,
    )
}

// ---------------------------------------------------------------- phones

/// An 11-digit mainland mobile number of a current segment (13x, 145–149, 15x but 154,
/// 162/165–167, 170–173/175–178, 18x, 19x but 194).
pub fn cn_mobile(d: &[u8]) -> bool {
    if d.len() != 11 || !all_digits(d) {
        return false;
    }
    matches!(
        num(&d[..3]),
        Some(
            130..=139
            | 145..=149
            | 150..=153
            | 155..=159
            | 162
            | 165..=167
            | 170..=173
            | 175..=178
            | 180..=189
            | 190..=193
            | 195..=199,
        )
    )
}

/// Length of the area code at the start of a landline number (`010`, `02x`: 3;
/// `0[3-9]xx`: 4), or `None`.
pub fn cn_area_code_len(d: &[u8]) -> Option<usize> {
    match d {
        [b'0', b'1', b'0', ..] => Some(3),
        [b'0', b'2', b'0'..=b'9', ..] => Some(3),
        [b'0', b'3'..=b'9', b'0'..=b'9', b'0'..=b'9', ..] => Some(4),
        _ => None,
    }
}

/// A mainland landline given as area code and subscriber number (digits only):
/// area code `010`/`02x`/`0[3-9]xx`, subscriber 7–8 digits not starting with 0 or 1.
pub fn cn_landline(area: &[u8], sub: &[u8]) -> bool {
    cn_area_code_len(area) == Some(area.len())
        && all_digits(sub)
        && (7..=8).contains(&sub.len())
        && !matches!(sub.first(), Some(b'0' | b'1'))
}

// ---------------------------------------------------------------- cards

/// Whether the digits carry a known issuer prefix with a length that issuer uses
/// (UnionPay 62/81, Visa 4, Mastercard 51–55 and 2221–2720, Amex 34/37, JCB 3528–3589,
/// Discover 6011/65, Diners 36/38).
pub fn card_issuer(d: &[u8]) -> bool {
    let n = d.len();
    let (Some(p2), Some(p4)) = (d.get(..2).and_then(num), d.get(..4).and_then(num)) else {
        return false;
    };
    match p2 {
        40..=49 => matches!(n, 13 | 16 | 19),
        51..=55 => n == 16,
        22..=27 => (2221..=2720).contains(&p4) && n == 16,
        34 | 37 => n == 15,
        35 => (3528..=3589).contains(&p4) && (16..=19).contains(&n),
        60 => p4 == 6011 && (16..=19).contains(&n),
        65 | 62 | 81 => (16..=19).contains(&n),
        36 | 38 => (14..=19).contains(&n),
        _ => false,
    }
}

/// A payment card number (digits only, 13–19): Luhn and, when `issuer`, a known issuer
/// prefix and length.
pub fn bank_card(d: &[u8], issuer: bool) -> bool {
    (13..=19).contains(&d.len()) && luhn(d) && (!issuer || card_issuer(d))
}

/// An IMEI: 15 digits with a valid Luhn check digit.
pub fn imei(d: &[u8]) -> bool {
    d.len() == 15 && luhn(d)
}

// ---------------------------------------------------------------- travel documents

/// A mainland passport number: `[EGDSPHK]\d{8}` or `E[A-HJ-NP-Z]\d{7}`.
pub fn cn_passport(s: &[u8]) -> bool {
    match s {
        [b'E' | b'G' | b'D' | b'S' | b'P' | b'H' | b'K', rest @ ..]
            if rest.len() == 8 && all_digits(rest) =>
        {
            true
        }
        [b'E', l, rest @ ..] if rest.len() == 7 => {
            l.is_ascii_uppercase() && *l != b'I' && *l != b'O' && all_digits(rest)
        }
        _ => false,
    }
}

/// A Mainland travel permit for Hong Kong and Macau: `[HM]\d{8}` or `[HM]\d{10}`.
pub fn cn_hk_macau_permit(s: &[u8]) -> bool {
    match s {
        [b'H' | b'M', rest @ ..] => (rest.len() == 8 || rest.len() == 10) && all_digits(rest),
        _ => false,
    }
}

// ---------------------------------------------------------------- organisations

const USCC_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn uscc_value(b: u8) -> Option<u32> {
    USCC_CHARS.iter().position(|&c| c == b).map(|p| p as u32)
}

/// The GB 32100-2015 check character of the first 17 characters of a USCC.
pub fn cn_uscc_check(s17: &[u8]) -> Option<u8> {
    if s17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (&b, w) in s17.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(b)? * w;
    }
    USCC_CHARS.get(((31 - sum % 31) % 31) as usize).copied()
}

/// The GB 11714 check character of an 8-character organisation code body.
pub fn cn_org_code_check(s8: &[u8]) -> Option<u8> {
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    if s8.len() != 8 {
        return None;
    }
    let mut sum = 0;
    for (&b, w) in s8.iter().zip(W) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return None,
        };
        sum += v * w;
    }
    Some(match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        c => b'0' + c as u8,
    })
}

/// A Unified Social Credit Code (GB 32100-2015): 18 characters over
/// `0-9A-HJ-NPQRTUWXY`, a registration authority and entity category, a 6-digit
/// division code with a valid province, the organisation code with its GB 11714 check,
/// and the final check character.
pub fn cn_uscc(s: &[u8]) -> bool {
    if s.len() != 18 {
        return false;
    }
    // Registration authority and the entity categories it issues (GB 32100 annex A).
    let category_ok = match s[0] {
        b'1' | b'5' | b'N' => matches!(s[1], b'1' | b'2' | b'3' | b'9'),
        b'2' | b'4' | b'8' | b'A' => matches!(s[1], b'1' | b'9'),
        b'3' => matches!(s[1], b'1'..=b'5' | b'9'),
        b'6' | b'7' => matches!(s[1], b'1' | b'2' | b'9'),
        b'9' => matches!(s[1], b'1'..=b'3'),
        b'Y' => s[1] == b'1',
        _ => false,
    };
    if !category_ok || !all_digits(&s[2..8]) || !cn_province(&s[2..4]) {
        return false;
    }
    cn_org_code_check(&s[8..16]) == Some(s[16]) && cn_uscc_check(&s[..17]) == Some(s[17])
}

// ---------------------------------------------------------------- vehicles

/// Province abbreviations that start a Chinese licence plate.
pub const PLATE_PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

fn plate_char(b: u8) -> bool {
    (b.is_ascii_uppercase() && b != b'I' && b != b'O') || b.is_ascii_digit()
}

/// The ASCII tail of a licence plate after the province character: a letter, an
/// optional separator (`·` or space), then 5 characters (at least 2 digits) or, for
/// new-energy plates, 6 characters starting or ending with `D`/`F`. Returns the length
/// in bytes of the tail, or `None`.
pub fn cn_license_plate_tail(s: &[u8]) -> Option<usize> {
    let first = *s.first()?;
    if !first.is_ascii_uppercase() || first == b'I' || first == b'O' {
        return None;
    }
    let mut i = 1;
    if s.get(1) == Some(&b' ') {
        i = 2;
    } else if s.get(1..3) == Some("·".as_bytes()) {
        i = 3;
    }
    let rest = s.get(i..).unwrap_or_default();
    let run = rest
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric())
        .count();
    let chars = rest.get(..run).unwrap_or_default();
    if !chars.iter().all(|&b| plate_char(b)) {
        return None;
    }
    let digits = chars.iter().filter(|b| b.is_ascii_digit()).count();
    match run {
        5 if digits >= 2 => Some(i + 5),
        6 if (matches!(chars[0], b'D' | b'F') && digits >= 4)
            || (matches!(chars[5], b'D' | b'F') && digits == 5) =>
        {
            Some(i + 6)
        }
        _ => None,
    }
}

/// A whole licence plate (`京A12345`, `粤B·D12345`).
pub fn cn_license_plate(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if PLATE_PROVINCES.contains(c) => {
            let tail = chars.as_str().as_bytes();
            cn_license_plate_tail(tail) == Some(tail.len())
        }
        _ => false,
    }
}

// ---------------------------------------------------------------- internet

/// Common file extensions that are not e-mail top-level domains (`icon@2x.png`).
const FILE_EXTENSIONS: &[&[u8]] = &[
    b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"bmp", b"ico", b"js", b"css", b"html",
    b"htm", b"json", b"xml", b"pdf", b"txt", b"tif", b"tiff", b"mp3", b"mp4", b"wav", b"avif",
    b"heic", b"map", b"ts", b"tsx", b"jsx", b"md", b"yaml", b"yml", b"toml", b"lock", b"tgz",
    b"gz", b"rs", b"py", b"go", b"rb", b"php", b"java", b"kt", b"swift", b"csv", b"log",
];

/// The longest of [`FILE_EXTENSIONS`], in bytes.
const FILE_EXTENSION_MAX: usize = 5;

/// Up to [`FILE_EXTENSION_MAX`] bytes and their length as one integer.
const fn extension_key(e: &[u8]) -> u64 {
    let mut k = (e.len() as u64) << 56;
    let mut i = 0;
    while i < e.len() && i < FILE_EXTENSION_MAX {
        k |= (e[i].to_ascii_lowercase() as u64) << (8 * i);
        i += 1;
    }
    k
}

/// [`FILE_EXTENSIONS`] as [`extension_key`]s.
const FILE_EXTENSION_KEYS: [u64; FILE_EXTENSIONS.len()] = {
    let mut out = [0; FILE_EXTENSIONS.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = extension_key(FILE_EXTENSIONS[i]);
        i += 1;
    }
    out
};

/// `tld` (any case) is one of [`FILE_EXTENSIONS`]: integer comparisons instead of 44
/// case-insensitive slice comparisons (those cost ~660 instructions per e-mail).
fn is_file_extension(tld: &[u8]) -> bool {
    (2..=FILE_EXTENSION_MAX).contains(&tld.len())
        && FILE_EXTENSION_KEYS.contains(&extension_key(tld))
}

fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// An e-mail address (RFC 5322-lite): local part of `[A-Za-z0-9._%+-]` (1–64, no
/// leading, trailing or doubled dot), a dotted domain of LDH labels (1–63, not starting
/// or ending with `-`), and an alphabetic top-level domain of 2–24 letters (or `xn--`)
/// that is not a file extension.
pub fn email(s: &[u8]) -> bool {
    let Some(at) = s.iter().position(|&b| b == b'@') else {
        return false;
    };
    email_parts(&s[..at], &s[at + 1..])
}

/// [`email`] with the local part and the domain apart.
pub fn email_parts(local: &[u8], domain: &[u8]) -> bool {
    if local.is_empty()
        || local.len() > 64
        || !local.iter().all(|&b| local_char(b))
        || local.first() == Some(&b'.')
        || local.last() == Some(&b'.')
        || local.windows(2).any(|w| w == b"..")
    {
        return false;
    }
    if domain.len() < 4 || domain.len() > 253 {
        return false;
    }
    let mut labels = 0;
    let mut tld: &[u8] = &[];
    for label in domain.split(|&b| b == b'.') {
        if label.is_empty()
            || label.len() > 63
            || label.first() == Some(&b'-')
            || label.last() == Some(&b'-')
            || !label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return false;
        }
        labels += 1;
        tld = label;
    }
    let tld_ok = (tld.len() >= 2 && tld.len() <= 24 && tld.iter().all(u8::is_ascii_alphabetic))
        || (tld.len() > 4 && tld.starts_with(b"xn--"));
    labels >= 2 && tld_ok && !is_file_extension(tld)
}

/// A dotted-quad IPv4 address, each octet 0–255 (1–3 digits).
pub fn ipv4(s: &[u8]) -> bool {
    let mut parts = 0;
    for p in s.split(|&b| b == b'.') {
        parts += 1;
        if p.is_empty() || p.len() > 3 || !matches!(num(p), Some(0..=255)) {
            return false;
        }
    }
    parts == 4
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// An IPv6 address in RFC 4291 text form: eight hextets, `::` compression (once), an
/// optional trailing dotted IPv4. Zone ids and prefixes are not part of the address.
pub fn ipv6(s: &[u8]) -> bool {
    if s.len() < 2 || s.len() > 45 {
        return false;
    }
    let (head, tail, compressed) = match find2(s, b"::") {
        Some(p) => (&s[..p], &s[p + 2..], true),
        None => (s, &s[..0], false),
    };
    if compressed && find2(tail, b"::").is_some() {
        return false;
    }
    let count = |part: &[u8], allow_v4: bool| -> Option<usize> {
        if part.is_empty() {
            return Some(0);
        }
        let mut n = 0;
        let pieces = part.split(|&b| b == b':');
        let total = part.split(|&b| b == b':').count();
        for (i, g) in pieces.enumerate() {
            if allow_v4 && i + 1 == total && g.contains(&b'.') {
                if !ipv4(g) {
                    return None;
                }
                n += 2;
            } else if g.is_empty() || g.len() > 4 || !g.iter().all(|&b| is_hex(b)) {
                return None;
            } else {
                n += 1;
            }
        }
        Some(n)
    };
    let Some(h) = count(head, !compressed) else {
        return false;
    };
    let Some(t) = count(tail, true) else {
        return false;
    };
    if compressed {
        h + t <= 7
    } else {
        h == 8
    }
}

fn find2(s: &[u8], pat: &[u8; 2]) -> Option<usize> {
    s.windows(2).position(|w| w == pat)
}

/// A MAC address: six pairs of hex digits separated by `:` or `-` (one kind).
pub fn mac_address(s: &[u8]) -> bool {
    if s.len() != 17 {
        return false;
    }
    let sep = s[2];
    if sep != b':' && sep != b'-' {
        return false;
    }
    s.iter()
        .enumerate()
        .all(|(i, &b)| if i % 3 == 2 { b == sep } else { is_hex(b) })
}

// ---------------------------------------------------------------- US / international

/// A US Social Security number given as its 9 digits: area not 000, 666 or 9xx, group
/// not 00, serial not 0000, and not one of the advertising numbers (078-05-1120,
/// 219-09-9999).
pub fn us_ssn(d: &[u8]) -> bool {
    if d.len() != 9 || !all_digits(d) {
        return false;
    }
    let (Some(area), Some(group), Some(serial)) = (num(&d[..3]), num(&d[3..5]), num(&d[5..]))
    else {
        return false;
    };
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && d != b"078051120"
        && d != b"219099999"
}

/// IBAN length per ISO 13616 country code.
pub fn iban_length(cc: &[u8]) -> Option<usize> {
    const T: &[(&[u8; 2], usize)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BI", 27),
        (b"BR", 29),
        (b"BY", 28),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DJ", 27),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FK", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"LY", 25),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MN", 20),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NI", 28),
        (b"NL", 18),
        (b"NO", 15),
        (b"OM", 23),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"RU", 33),
        (b"SA", 24),
        (b"SC", 31),
        (b"SD", 18),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"SO", 23),
        (b"ST", 25),
        (b"SV", 28),
        (b"TL", 23),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
        (b"YE", 30),
    ];
    T.iter().find(|(c, _)| c.as_slice() == cc).map(|(_, n)| *n)
}

/// ISO 7064 MOD 97-10 remainder of an IBAN (compact, upper-case) after moving the
/// first four characters to the end; `None` on a character outside `[0-9A-Z]`.
pub fn iban_remainder(s: &[u8]) -> Option<u32> {
    let (head, rest) = (s.get(..4)?, s.get(4..)?);
    let mut r = 0u32;
    for &b in rest.iter().chain(head) {
        match b {
            b'0'..=b'9' => r = (r * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => r = (r * 100 + u32::from(b - b'A') + 10) % 97,
            _ => return None,
        }
    }
    Some(r)
}

/// A compact IBAN: known country, its length, digits as check digits, alphanumeric
/// upper-case BBAN, and the mod-97 check.
pub fn iban(s: &[u8]) -> bool {
    let Some(cc) = s.get(..2) else { return false };
    iban_length(cc) == Some(s.len())
        && cc.iter().all(u8::is_ascii_uppercase)
        && s[2..4].iter().all(u8::is_ascii_digit)
        && iban_remainder(s) == Some(1)
}

// ---------------------------------------------------------------- tokens and secrets

/// An AWS access key id: `(AKIA|ASIA)[A-Z0-9]{16}`.
pub fn aws_access_key(s: &[u8]) -> bool {
    s.len() == 20
        && (s.starts_with(b"AKIA") || s.starts_with(b"ASIA"))
        && s[4..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn alnum_all(s: &[u8]) -> bool {
    s.iter().all(u8::is_ascii_alphanumeric)
}

/// A well-known cloud / SaaS secret: GitHub (`ghp_`, `gho_` + 36, `github_pat_`),
/// Slack (`xox[abprs]-`), Stripe live keys (`sk_live_`), Google API keys (`AIza`, 39
/// characters), Alibaba Cloud access keys (`LTAI` + 12–20).
pub fn cloud_secret(s: &[u8]) -> bool {
    if let Some(r) = s.strip_prefix(b"ghp_").or_else(|| s.strip_prefix(b"gho_")) {
        return r.len() == 36 && alnum_all(r);
    }
    if let Some(r) = s.strip_prefix(b"github_pat_") {
        return (70..=100).contains(&r.len())
            && r.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_');
    }
    if let [b'x', b'o', b'x', b'a' | b'b' | b'p' | b'r' | b's', b'-', r @ ..] = s {
        return r.len() >= 10
            && r.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
            && r.iter().any(u8::is_ascii_digit)
            && r.contains(&b'-');
    }
    if let Some(r) = s.strip_prefix(b"sk_live_") {
        return (24..=99).contains(&r.len()) && alnum_all(r);
    }
    if let Some(r) = s.strip_prefix(b"AIza") {
        return r.len() == 35
            && r.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    }
    if let Some(r) = s.strip_prefix(b"LTAI") {
        return (12..=20).contains(&r.len()) && alnum_all(r);
    }
    false
}

const B64URL: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fn b64url_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A JWS compact token: three base64url parts (the signature may be empty for
/// `alg: none`), a non-empty payload, and a header that decodes to a JSON object
/// naming `alg`.
pub fn jwt(s: &[u8]) -> bool {
    let mut parts = s.split(|&b| b == b'.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if h.len() < 10 || p.is_empty() || !h.iter().chain(p).chain(sig).all(|&b| b64url_char(b)) {
        return false;
    }
    jwt_header(h)
}

/// Whether a base64url part decodes to a JSON object with an `alg` member.
pub fn jwt_header(h: &[u8]) -> bool {
    use base64::Engine;
    let mut buf = [0u8; 768];
    if h.len() > 1000 {
        return false;
    }
    let Ok(n) = B64URL.decode_slice(h, &mut buf) else {
        return false;
    };
    let json = buf.get(..n).unwrap_or_default().trim_ascii();
    json.first() == Some(&b'{')
        && json.last() == Some(&b'}')
        && json.windows(5).any(|w| w == b"\"alg\"")
}

/// The first line of a PEM private key block: `-----BEGIN [A-Z ]*PRIVATE KEY-----`.
/// Returns the length of that line's marker, or `None`.
pub fn private_key_begin(s: &[u8]) -> Option<usize> {
    let rest = s.strip_prefix(b"-----BEGIN ")?;
    let label_len = rest
        .iter()
        .take(48)
        .take_while(|&&b| b.is_ascii_uppercase() || b == b' ')
        .count();
    let label = &rest[..label_len];
    let after = rest.get(label_len..)?;
    (label.ends_with(b"PRIVATE KEY") && after.starts_with(b"-----")).then_some(11 + label_len + 5)
}

// ---------------------------------------------------------------- bitcoin

const B58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// A Base58Check P2PKH (`1...`) or P2SH (`3...`) address: 26–35 characters, decodes to
/// 25 bytes with version 0x00 or 0x05 and a double-SHA-256 checksum.
pub fn bitcoin_base58(s: &[u8]) -> bool {
    if !(26..=35).contains(&s.len()) {
        return false;
    }
    let mut out = [0u8; 25];
    for &c in s {
        let Some(v) = B58.iter().position(|&x| x == c) else {
            return false;
        };
        let mut carry = v as u32;
        for byte in out.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        if carry != 0 {
            return false;
        }
    }
    let ones = s.iter().take_while(|&&c| c == b'1').count();
    let zeros = out.iter().take_while(|&&b| b == 0).count();
    if ones != zeros.min(25) || !matches!(out[0], 0x00 | 0x05) {
        return false;
    }
    let first = Sha256::digest(&out[..21]);
    let second = Sha256::digest(first);
    second[..4] == out[21..]
}

const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn bech32_polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk = 1u32;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// A mainnet SegWit address (`bc1...`): Bech32 for witness version 0 (20- or 32-byte
/// program), Bech32m for versions 1–16; one case throughout.
pub fn bitcoin_bech32(s: &[u8]) -> bool {
    if !(14..=74).contains(&s.len()) {
        return false;
    }
    // The prefix first: most tokens that get here are hex or base64 ids.
    let Some(rest) = s
        .get(..3)
        .filter(|p| p.eq_ignore_ascii_case(b"bc1"))
        .and(s.get(3..))
    else {
        return false;
    };
    let lower = s.iter().any(u8::is_ascii_lowercase);
    let upper = s.iter().any(u8::is_ascii_uppercase);
    if lower && upper {
        return false;
    }
    let mut data = [0u8; 71];
    for (i, &c) in rest.iter().enumerate() {
        let c = c.to_ascii_lowercase();
        let Some(v) = BECH32.iter().position(|&x| x == c) else {
            return false;
        };
        if let Some(d) = data.get_mut(i) {
            *d = v as u8;
        }
    }
    let data = &data[..rest.len()];
    if data.len() < 7 {
        return false;
    }
    let hrp = [b'b', b'c'];
    let expanded = hrp
        .iter()
        .map(|c| c >> 5)
        .chain([0])
        .chain(hrp.iter().map(|c| c & 31))
        .chain(data.iter().copied());
    let chk = bech32_polymod(expanded);
    let version = data[0];
    let const_ok = match version {
        0 => chk == 1,
        1..=16 => chk == 0x2bc8_30a3,
        _ => false,
    };
    if !const_ok {
        return false;
    }
    // 5-bit groups to bytes
    let groups = &data[1..data.len() - 6];
    let bits = groups.len() * 5;
    let prog_len = bits / 8;
    if bits % 8 > 4 {
        return false;
    }
    let (mut acc, mut nbits) = (0u32, 0u32);
    for &g in groups {
        acc = (acc << 5) | u32::from(g);
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
        }
    }
    if acc & ((1 << nbits) - 1) != 0 {
        return false;
    }
    match version {
        0 => prog_len == 20 || prog_len == 32,
        _ => (2..=40).contains(&prog_len),
    }
}

/// A Bitcoin address (Base58Check or Bech32/Bech32m).
pub fn bitcoin_address(s: &[u8]) -> bool {
    match s.first() {
        Some(b'1' | b'3') => bitcoin_base58(s),
        Some(b'b' | b'B') => bitcoin_bech32(s),
        _ => false,
    }
}

// ---------------------------------------------------------------- dates

/// Parses a calendar date: `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYY.MM.DD`, `YYYYMMDD`,
/// `YYYY年M月D日`, `DD/MM/YYYY` or `MM/DD/YYYY` (either reading), optionally followed
/// by a time (`T...` or ` ...`). Single-digit months and days are accepted with
/// separators.
pub fn parse_date(s: &[u8]) -> Option<Date> {
    let s = s.trim_ascii();
    if s.len() == 8 && all_digits(s) {
        return ymd(s);
    }
    // Cut a time part.
    let s = match s.iter().position(|&b| b == b'T' || b == b' ') {
        Some(p) if p >= 8 => &s[..p],
        Some(_) => return None,
        None => s,
    };
    let mut nums = [0u32; 3];
    let mut lens = [0usize; 3];
    let mut n = 0;
    let mut i = 0;
    let mut sep: Option<&[u8]> = None;
    while i < s.len() {
        let run = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if run == 0 || n == 3 {
            return None;
        }
        nums[n] = num(&s[i..i + run])?;
        lens[n] = run;
        n += 1;
        i += run;
        if i >= s.len() {
            break;
        }
        // separator
        let rest = &s[i..];
        let this: &[u8] = if rest.starts_with("年".as_bytes())
            || rest.starts_with("月".as_bytes())
            || rest.starts_with("日".as_bytes())
        {
            &rest[..3]
        } else if matches!(rest[0], b'-' | b'/' | b'.') {
            &rest[..1]
        } else {
            return None;
        };
        if this.len() == 1 {
            match sep {
                Some(p) if p != this => return None,
                _ => sep = Some(this),
            }
        }
        i += this.len();
    }
    if n != 3 {
        return None;
    }
    if lens[0] == 4 && lens[1] <= 2 && lens[2] <= 2 {
        return Date::new(nums[0] as i32, nums[1] as u8, nums[2] as u8);
    }
    if lens[2] == 4 && lens[0] <= 2 && lens[1] <= 2 {
        let y = nums[2] as i32;
        return Date::new(y, nums[1] as u8, nums[0] as u8)
            .or_else(|| Date::new(y, nums[0] as u8, nums[1] as u8));
    }
    None
}

/// A birth date: parses, year ≥ 1900, not after `today`.
pub fn birth_date(s: &[u8], today: Date) -> bool {
    matches!(parse_date(s), Some(d) if d.year >= 1900 && d <= today)
}

/// Runs a validator by the name a custom type gives (`catalog::VALIDATORS`); `none` or
/// an unknown name accepts. Spaces and dashes are ignored by `luhn` and `iban`.
pub fn by_name(name: &str, value: &[u8], today: Date) -> bool {
    let mut buf = [0u8; 64];
    let compact = |buf: &mut [u8; 64]| -> Option<usize> {
        let mut n = 0;
        for &b in value {
            if b == b' ' || b == b'-' {
                continue;
            }
            *buf.get_mut(n)? = b;
            n += 1;
        }
        Some(n)
    };
    match name {
        "luhn" => compact(&mut buf).is_some_and(|n| luhn(&buf[..n])),
        "iban" => compact(&mut buf).is_some_and(|n| iban(&buf[..n])),
        "cn_resident_id" => cn_resident_id(value, today),
        "cn_uscc" => cn_uscc(value),
        "bitcoin_address" => bitcoin_address(value),
        "date" => parse_date(value).is_some(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn today() -> Date {
        Date::new(2025, 6, 1).unwrap()
    }

    #[test]
    fn dates() {
        assert_eq!(Date::from_unix_ms(0), Date::new(1970, 1, 1).unwrap());
        // 2024-02-29T12:00:00Z
        assert_eq!(
            Date::from_unix_ms(1_709_208_000_000),
            Date::new(2024, 2, 29).unwrap()
        );
        assert_eq!(Date::from_days(-1), Date::new(1969, 12, 31).unwrap());
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(2000, 2, 29).is_some());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2024, 13, 1).is_none());
        assert!(Date::new(2024, 4, 31).is_none());
        assert!(Date::new(1990, 3, 7).unwrap() < Date::new(1990, 3, 8).unwrap());
        assert_eq!(parse_date(b"1990-03-07"), Date::new(1990, 3, 7));
        assert_eq!(parse_date(b"1990/3/7"), Date::new(1990, 3, 7));
        assert_eq!(parse_date(b"19900307"), Date::new(1990, 3, 7));
        assert_eq!(parse_date("1990年3月7日".as_bytes()), Date::new(1990, 3, 7));
        assert_eq!(parse_date(b"07/03/1990"), Date::new(1990, 3, 7));
        assert_eq!(parse_date(b"12/31/1990"), Date::new(1990, 12, 31));
        assert_eq!(parse_date(b"1990-03-07T00:00:00Z"), Date::new(1990, 3, 7));
        assert_eq!(parse_date(b"1990-03/07"), None);
        assert_eq!(parse_date(b"1990-02-30"), None);
        assert_eq!(parse_date(b"1.2.3"), None);
        assert!(birth_date(b"1990-03-07", today()));
        assert!(!birth_date(b"2030-03-07", today()));
        assert!(!birth_date(b"1890-03-07", today()));
    }

    #[test]
    fn luhn_and_cards() {
        assert!(luhn(b"4111111111111111"));
        assert!(luhn(b"79927398713"));
        assert!(!luhn(b"79927398710"));
        assert!(!luhn(b"4111a11111111111"));
        assert_eq!(luhn_check_digit(b"7992739871"), b'3');
        assert!(bank_card(b"4111111111111111", true)); // Visa test card
        assert!(bank_card(b"5555555555554444", true)); // Mastercard
        assert!(bank_card(b"2223003122003222", true)); // Mastercard 2-series
        assert!(bank_card(b"378282246310005", true)); // Amex
        assert!(bank_card(b"6011111111111117", true)); // Discover
        assert!(bank_card(b"3530111333300000", true)); // JCB
        assert!(bank_card(b"36227206271667", true)); // Diners 14
        assert!(bank_card(b"6212345678901265", true)); // UnionPay-shaped
        assert!(!bank_card(b"4111111111111112", true));
        assert!(!bank_card(b"1234567812345670", true), "no issuer");
        assert!(bank_card(b"1234567812345670", false));
        assert!(
            !bank_card(b"411111111111111111", true),
            "Visa has no 18-digit numbers"
        );
        assert!(!card_issuer(b"2024031512304512"));
    }

    #[test]
    fn resident_ids() {
        // GB 11643 published example.
        assert!(cn_resident_id(b"11010519491231002X", today()));
        assert!(cn_resident_id(b"11010519491231002x", today()));
        assert!(
            !cn_resident_id(b"110105194912310021", today()),
            "check char"
        );
        assert_eq!(cn_resident_id_check(b"11010519491231002"), Some(b'X'));
        assert!(
            !cn_resident_id(b"440524188001010014", today()),
            "before 1900"
        );
        // valid checksum, bad province 20 (an order number shape)
        let mut id = *b"20240315123045123 ";
        id[17] = cn_resident_id_check(&id[..17]).unwrap();
        assert!(!cn_resident_id(&id, today()));
        // future birth date
        let mut f = *b"11010520300101002 ";
        f[17] = cn_resident_id_check(&f[..17]).unwrap();
        assert!(!cn_resident_id(&f, today()));
        assert!(cn_resident_id(&f, Date::MAX));
        // invalid date
        let mut d = *b"11010519900230002 ";
        d[17] = cn_resident_id_check(&d[..17]).unwrap();
        assert!(!cn_resident_id(&d, today()));
        assert!(cn_resident_id_legacy(b"110105491231002", today()));
        assert!(!cn_resident_id_legacy(b"990105491231002", today()));
        assert!(cn_province(b"11") && cn_province(b"71") && cn_province(b"83"));
        assert!(!cn_province(b"16") && !cn_province(b"70") && !cn_province(b"1"));
    }

    #[test]
    fn phones() {
        assert!(cn_mobile(b"13812345678"));
        assert!(cn_mobile(b"19912345678"));
        assert!(cn_mobile(b"16612345678"));
        assert!(cn_mobile(b"17012345678"));
        assert!(!cn_mobile(b"12812345678"));
        assert!(!cn_mobile(b"15412345678"));
        assert!(!cn_mobile(b"1381234567"));
        assert!(cn_landline(b"010", b"62345678"));
        assert!(
            !cn_landline(b"010", b"12345678"),
            "no subscriber number starts with 1"
        );
        assert!(cn_landline(b"0755", b"8600123"));
        assert!(cn_landline(b"021", b"87654321"));
        assert!(!cn_landline(b"010", b"02345678"));
        assert!(!cn_landline(b"0155", b"8600123"));
        assert!(!cn_landline(b"0755", b"860012"));
        assert_eq!(cn_area_code_len(b"01012345678"), Some(3));
        assert_eq!(cn_area_code_len(b"075512345678"), Some(4));
        assert_eq!(cn_area_code_len(b"0155"), None);
    }

    #[test]
    fn documents() {
        assert!(cn_passport(b"E12345678"));
        assert!(cn_passport(b"EA1234567"));
        assert!(cn_passport(b"G12345678"));
        assert!(!cn_passport(b"EI1234567"));
        assert!(!cn_passport(b"A12345678"));
        assert!(!cn_passport(b"E1234567"));
        assert!(cn_hk_macau_permit(b"H12345678"));
        assert!(cn_hk_macau_permit(b"M1234567890"));
        assert!(!cn_hk_macau_permit(b"H123456789"));
        assert!(!cn_hk_macau_permit(b"C12345678"));
        assert!(imei(b"490154203237518"));
        assert!(!imei(b"490154203237519"));
    }

    #[test]
    fn uscc() {
        // Published example (GB 32100 annex style) and a real-shaped code.
        assert!(cn_uscc(b"91350100M000100Y43"));
        assert_eq!(cn_org_code_check(b"M000100Y"), Some(b'4'));
        assert!(!cn_uscc(b"91350100M000100Y44"));
        assert!(!cn_uscc(b"91350100M000100Y4I"));
        let body = b"91110108MA01ABCD";
        let oc = cn_org_code_check(&body[8..]).unwrap();
        let mut s = body.to_vec();
        s.push(oc);
        let c = cn_uscc_check(&s).unwrap();
        s.push(c);
        assert!(cn_uscc(&s), "{}", String::from_utf8_lossy(&s));
    }

    #[test]
    fn plates() {
        assert!(cn_license_plate("京A12345"));
        assert!(cn_license_plate("粤B·D12345"));
        assert!(cn_license_plate("沪A 1B2C3"));
        assert!(cn_license_plate("浙A12345F"));
        assert!(!cn_license_plate("京ABCDEF"));
        assert!(!cn_license_plate("京A1234"));
        assert!(!cn_license_plate("美A12345"));
        assert!(!cn_license_plate("京I12345"));
    }

    #[test]
    fn emails() {
        assert!(email(b"alice@example.com"));
        assert!(email(b"first.last+tag@mail.example.co.uk"));
        assert!(email(b"x@xn--fiqs8s.xn--fiqs8s"));
        assert!(!email(b"alice@localhost"));
        assert!(!email(b"icon@2x.png"));
        assert!(!email(b"a..b@example.com"));
        assert!(!email(b".a@example.com"));
        assert!(!email(b"a@-example.com"));
        assert!(!email(b"a@example.c"));
        assert!(!email(b"a@example.123"));
        assert!(!email(b"pkg@1.2.3"));
        assert!(!email(b"logo@retina.PNG"));
        assert!(!email(b"bundle@v2.Tsx"));
        assert!(email(b"bob@example.pngs"));
        assert!(email(b"bob@example.yamlx"));
    }

    /// The packed lookup answers as the list does, case-insensitively: every extension
    /// (and each one-byte change of it, shortened and lengthened), and every two- and
    /// three-letter word in lower, upper and mixed case.
    #[test]
    fn file_extension_lookup_equals_the_list() {
        let reference = |t: &[u8]| FILE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(t));
        let check = |t: &[u8]| {
            assert_eq!(
                is_file_extension(t),
                reference(t),
                "{:?}",
                String::from_utf8_lossy(t)
            );
        };
        let mut n_ext = 0;
        for e in FILE_EXTENSIONS {
            assert!((2..=FILE_EXTENSION_MAX).contains(&e.len()), "{e:?}");
            assert!(is_file_extension(e) && is_file_extension(&e.to_ascii_uppercase()));
            n_ext += 1;
            for i in 0..e.len() {
                for c in [b'a', b'z', b'0', b'-', b'.', b'4', b'g', b's'] {
                    let mut m = e.to_vec();
                    m[i] = c;
                    check(&m);
                }
                check(&e[..i]);
            }
            check(&[*e, b"s".as_slice()].concat());
            check(&[*e, b"x1".as_slice()].concat());
        }
        assert_eq!(n_ext, FILE_EXTENSIONS.len());
        let mut hits = 0;
        for a in b'a'..=b'z' {
            for b in b'a'..=b'z' {
                for w in [vec![a, b], vec![a.to_ascii_uppercase(), b]] {
                    check(&w);
                    hits += usize::from(reference(&w));
                }
                for c in b'a'..=b'z' {
                    for w in [vec![a, b, c], vec![a, b.to_ascii_uppercase(), c]] {
                        check(&w);
                        hits += usize::from(reference(&w));
                    }
                }
            }
        }
        assert!(hits > 20, "the sweep met the extensions ({hits})");
    }

    #[test]
    fn ips_and_macs() {
        assert!(ipv4(b"192.168.1.1"));
        assert!(ipv4(b"0.0.0.0"));
        assert!(!ipv4(b"256.1.1.1"));
        assert!(!ipv4(b"1.2.3"));
        assert!(!ipv4(b"1.2.3.4.5"));
        assert!(!ipv4(b"1..3.4"));
        assert!(ipv6(b"2001:0db8:85a3:0000:0000:8a2e:0370:7334"));
        assert!(ipv6(b"2001:db8::1"));
        assert!(ipv6(b"::1"));
        assert!(ipv6(b"fe80::"));
        assert!(ipv6(b"::ffff:192.168.1.1"));
        assert!(ipv6(b"1:2:3:4:5:6:1.2.3.4"));
        assert!(!ipv6(b"1:2:3:4:5:6:7"));
        assert!(!ipv6(b"1::2::3"));
        assert!(!ipv6(b"12345::1"));
        assert!(!ipv6(b"1:2:3:4:5:6:7:8:9"));
        assert!(!ipv6(b"g::1"));
        assert!(mac_address(b"00:1A:2B:3C:4D:5E"));
        assert!(mac_address(b"00-1a-2b-3c-4d-5e"));
        assert!(!mac_address(b"00:1A-2B:3C:4D:5E"));
        assert!(!mac_address(b"00:1A:2B:3C:4D:5G"));
    }

    #[test]
    fn ssn_and_iban() {
        assert!(us_ssn(b"123456789"));
        assert!(!us_ssn(b"000456789"));
        assert!(!us_ssn(b"666456789"));
        assert!(!us_ssn(b"923456789"));
        assert!(!us_ssn(b"123006789"));
        assert!(!us_ssn(b"123450000"));
        assert!(!us_ssn(b"078051120"));
        assert!(iban(b"DE89370400440532013000"));
        assert!(iban(b"GB82WEST12345698765432"));
        assert!(iban(b"FR1420041010050500013M02606"));
        assert!(iban(b"NL91ABNA0417164300"));
        assert!(iban(b"NO9386011117947"));
        assert!(!iban(b"DE89370400440532013001"));
        assert!(!iban(b"DE8937040044053201300"), "length");
        assert!(!iban(b"XX89370400440532013000"));
    }

    #[test]
    fn secrets() {
        assert!(aws_access_key(b"AKIAIOSFODNN7EXAMPLE"));
        assert!(aws_access_key(b"ASIAIOSFODNN7EXAMPLE"));
        assert!(!aws_access_key(b"AKIAIOSFODNN7EXAMPL"));
        assert!(!aws_access_key(b"AKIAiosfodnn7example"));
        assert!(cloud_secret(
            b"ghp_1234567890abcdefghijklmnopqrstuvwxyz"[..40].as_ref()
        ));
        assert!(cloud_secret(b"gho_16C7e42F292c6912E7710c838347Ae178B4a"));
        assert!(cloud_secret(
            b"xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
        ));
        assert!(cloud_secret(b"sk_live_4eC39HqLyjWDarjtT1zdp7dc"));
        assert!(cloud_secret(b"AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI"));
        assert!(cloud_secret(b"LTAI4FoLmvQ9urWXgSRpDvh1"));
        assert!(!cloud_secret(b"ghp_short"));
        assert!(!cloud_secret(b"sk_test_4eC39HqLyjWDarjtT1zdp7dc"));
        assert!(!cloud_secret(b"AIzaSyDdI0hCZtE6vySjMm"));
        let t = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        assert!(jwt(t));
        assert!(jwt(b"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."));
        assert!(!jwt(b"eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.sig"), "no alg");
        assert!(!jwt(b"eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0"));
        assert!(!jwt(b"eyJhbGciOiJub25lIn0..sig"));
        assert_eq!(
            private_key_begin(b"-----BEGIN RSA PRIVATE KEY-----\nMII"),
            Some(31)
        );
        assert!(private_key_begin(b"-----BEGIN PRIVATE KEY-----").is_some());
        assert!(private_key_begin(b"-----BEGIN PUBLIC KEY-----").is_none());
        assert!(private_key_begin(b"-----BEGIN CERTIFICATE-----").is_none());
    }

    #[test]
    fn bitcoin() {
        assert!(bitcoin_address(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")); // genesis
        assert!(bitcoin_address(b"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy")); // BIP13 P2SH
        assert!(!bitcoin_address(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"));
        assert!(!bitcoin_address(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7Divf0a"));
        // BIP173 / BIP350 examples.
        assert!(bitcoin_address(
            b"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"
        ));
        assert!(bitcoin_address(
            b"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
        ));
        assert!(bitcoin_address(
            b"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
        ));
        assert!(!bitcoin_address(
            b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"
        ));
        assert!(
            !bitcoin_address(b"bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
            "mixed case"
        );
        // v0 with bech32m checksum is invalid (BIP350)
        assert!(!bitcoin_address(
            b"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdqx"
        ));
    }

    #[test]
    fn custom_validators_by_name() {
        assert!(by_name("luhn", b"4111 1111 1111 1111", today()));
        assert!(!by_name("luhn", b"4111 1111 1111 1112", today()));
        assert!(by_name("iban", b"DE89 3704 0044 0532 0130 00", today()));
        assert!(by_name("date", b"2020-01-01", today()));
        assert!(by_name("none", b"x", today()));
        assert!(by_name("cn_uscc", b"91350100M000100Y43", today()));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn luhn_completed_numbers_validate(body in proptest::collection::vec(0u8..10, 12..18)) {
            let mut d: Vec<u8> = body.iter().map(|x| b'0' + x).collect();
            let c = luhn_check_digit(&d);
            d.push(c);
            prop_assert!(luhn(&d));
        }

        #[test]
        fn mod11_completed_ids_validate(area in 0usize..6, days in 0i64..20000, seq in 0u32..1000) {
            let provinces = ["11", "31", "44", "51", "65", "82"];
            let b = Date::from_days(-7000 + days);
            let mut s = format!("{}0105{:04}{:02}{:02}{:03}", provinces[area], b.year(), b.month(), b.day(), seq).into_bytes();
            let c = cn_resident_id_check(&s).unwrap();
            s.push(c);
            prop_assert!(cn_resident_id(&s, Date::new(2025, 1, 1).unwrap()));
        }

        #[test]
        fn validators_never_panic(s in proptest::collection::vec(any::<u8>(), 0..80)) {
            let t = Date::new(2025, 1, 1).unwrap();
            let _ = (cn_resident_id(&s, t), ipv6(&s), ipv4(&s), email(&s), jwt(&s), bitcoin_address(&s),
                cn_uscc(&s), iban(&s), parse_date(&s), cloud_secret(&s), mac_address(&s), cn_license_plate_tail(&s));
        }
    }
}

/// Check-digit algorithms: generated valid values always validate, and every
/// single-character substitution is caught (Luhn, ISO 7064 MOD 11-2, ISO 13616
/// mod-97 over digits, GB 32100 mod 31).
#[cfg(all(test, not(target_arch = "wasm32")))]
#[allow(clippy::unwrap_used)] // test helpers: clippy sees `cfg(all(test, ..))` as non-test
mod checksum_props {
    use super::*;
    use proptest::prelude::*;

    fn today() -> Date {
        Date::new(2025, 1, 1).unwrap()
    }

    /// `s` with the character at `pos` replaced by the `pick`-th other character of
    /// `alphabet` (never the same character, ignoring ASCII case).
    fn substitute(s: &[u8], pos: usize, alphabet: &[u8], pick: usize) -> Vec<u8> {
        let pos = pos % s.len();
        let others: Vec<u8> = alphabet
            .iter()
            .copied()
            .filter(|c| !c.eq_ignore_ascii_case(&s[pos]))
            .collect();
        let mut t = s.to_vec();
        t[pos] = others[pick % others.len()];
        t
    }

    fn resident_id(area: usize, days: i64, seq: u32) -> Vec<u8> {
        let provinces = ["11", "15", "23", "37", "46", "54", "65", "71", "83"];
        let b = Date::from_days(-7000 + days);
        let mut s = format!(
            "{}0105{:04}{:02}{:02}{:03}",
            provinces[area % provinces.len()],
            b.year(),
            b.month(),
            b.day(),
            seq
        )
        .into_bytes();
        let c = cn_resident_id_check(&s).unwrap();
        s.push(c);
        s
    }

    /// A compact IBAN of `cc` with a numeric BBAN built from `digits`.
    fn iban_of(cc: &[u8; 2], digits: &[u8]) -> Vec<u8> {
        let len = iban_length(cc).unwrap();
        let bban: Vec<u8> = (0..len - 4)
            .map(|i| b'0' + digits[i % digits.len()])
            .collect();
        let mut s = cc.to_vec();
        s.extend_from_slice(b"00");
        s.extend_from_slice(&bban);
        let check = 98 - iban_remainder(&s).unwrap();
        s[2] = b'0' + (check / 10) as u8;
        s[3] = b'0' + (check % 10) as u8;
        s
    }

    fn uscc_of(head: usize, division: u32, org: &[u8]) -> Vec<u8> {
        let heads: [&[u8; 2]; 6] = [b"11", b"52", b"31", b"61", b"91", b"Y1"];
        let mut s = heads[head % heads.len()].to_vec();
        s.extend_from_slice(format!("{}", 110_000 + division % 540_000).as_bytes());
        let org_chars = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
        let mut body: Vec<u8> = org
            .iter()
            .map(|&i| org_chars[usize::from(i) % org_chars.len()])
            .collect();
        body.truncate(8);
        let oc = cn_org_code_check(&body).unwrap();
        s.extend_from_slice(&body);
        s.push(oc);
        let c = cn_uscc_check(&s).unwrap();
        s.push(c);
        s
    }

    proptest! {
        #[test]
        fn luhn_catches_every_single_digit_change(
            body in proptest::collection::vec(0u8..10, 12..19),
            pos in any::<usize>(),
            pick in any::<usize>(),
        ) {
            let mut d: Vec<u8> = body.iter().map(|x| b'0' + x).collect();
            d.push(luhn_check_digit(&d));
            prop_assert!(luhn(&d));
            let bad = substitute(&d, pos, b"0123456789", pick);
            prop_assert!(!luhn(&bad), "{} -> {}", String::from_utf8_lossy(&d), String::from_utf8_lossy(&bad));
        }

        #[test]
        fn mod11_catches_every_single_character_change(
            area in any::<usize>(), days in 0i64..20000, seq in 0u32..1000,
            pos in any::<usize>(), pick in any::<usize>(),
        ) {
            let id = resident_id(area, days, seq);
            prop_assert!(cn_resident_id(&id, today()), "{}", String::from_utf8_lossy(&id));
            let bad = substitute(&id, pos, b"0123456789X", pick);
            prop_assert!(!cn_resident_id(&bad, today()), "{} -> {}", String::from_utf8_lossy(&id), String::from_utf8_lossy(&bad));
            // The lower-case check character is the same id.
            prop_assert!(cn_resident_id(&id.to_ascii_lowercase(), today()));
        }

        #[test]
        fn mod97_catches_every_single_digit_change(
            country in 0usize..6,
            digits in proptest::collection::vec(0u8..10, 1..30),
            pos in any::<usize>(), pick in any::<usize>(),
        ) {
            let cc = [b"DE", b"GB", b"FR", b"NL", b"NO", b"SA"][country];
            let s = iban_of(cc, &digits);
            // GB and NL BBANs start with a bank code of letters in real life; a
            // numeric one still satisfies the checksum, which is what is tested here.
            prop_assert!(iban(&s), "{}", String::from_utf8_lossy(&s));
            let p = 2 + pos % (s.len() - 2);
            let bad = substitute(&s, p, b"0123456789", pick);
            prop_assert!(!iban(&bad), "{} -> {}", String::from_utf8_lossy(&s), String::from_utf8_lossy(&bad));
            // A changed country letter breaks the checksum or the length.
            let bad_cc = substitute(&s, pos % 2, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", pick);
            prop_assert!(!iban(&bad_cc));
        }

        #[test]
        fn gb32100_catches_every_single_character_change(
            head in any::<usize>(), division in any::<u32>(),
            org in proptest::collection::vec(any::<u8>(), 8),
            pos in any::<usize>(), pick in any::<usize>(),
        ) {
            let s = uscc_of(head, division, &org);
            prop_assert!(cn_uscc_check(&s[..17]) == Some(s[17]), "{}", String::from_utf8_lossy(&s));
            if cn_province(&s[2..4]) {
                prop_assert!(cn_uscc(&s), "{}", String::from_utf8_lossy(&s));
            }
            let bad = substitute(&s, pos, USCC_CHARS, pick);
            prop_assert!(cn_uscc_check(&bad[..17]) != Some(bad[17]), "{} -> {}", String::from_utf8_lossy(&s), String::from_utf8_lossy(&bad));
            prop_assert!(!cn_uscc(&bad));
        }
    }

    #[test]
    fn gb32100_generated_codes_validate_with_a_province() {
        // Division 110000..=650000 starts with a province prefix for these heads.
        for (div, org) in [
            (0u32, b"MA01ABCD"),
            (200_000, b"12345678"),
            (539_999, b"Y0Y0Y0Y0"),
        ] {
            let s = uscc_of(
                4,
                div,
                &org.map(|c| {
                    b"0123456789ABCDEFGHJKLMNPQRTUWXY"
                        .iter()
                        .position(|&x| x == c)
                        .unwrap() as u8
                }),
            );
            if cn_province(&s[2..4]) {
                assert!(cn_uscc(&s), "{}", String::from_utf8_lossy(&s));
            }
        }
        assert!(cn_uscc(b"91350100M000100Y43"));
    }
}
