//! Labelled corpus generator for the sensitive-data quality test and the scanner
//! benchmark: realistic JSON API payloads with valid sensitive values (checksums
//! computed properly) among realistic non-sensitive fields and look-alike identifiers,
//! and a look-alike-only corpus. Deterministic (own PRNG, no extra crate).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sha2::{Digest, Sha256};

/// SplitMix64.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| (b'0' + self.below(10) as u8) as char)
            .collect()
    }
    pub fn chars_from(&mut self, set: &[u8], n: usize) -> String {
        (0..n).map(|_| *self.pick(set) as char).collect()
    }
    pub fn hex(&mut self, n: usize) -> String {
        self.chars_from(b"0123456789abcdef", n)
    }
    pub fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            xs.swap(i, j);
        }
    }
}

// ------------------------------------------------------------------ JSON building

/// A JSON value of the generator (keeps number literals exact).
#[derive(Clone, Debug)]
pub enum J {
    S(String),
    /// A string written with `\uXXXX` escapes for ASCII digits and letters.
    Esc(String),
    N(String),
    B(bool),
    Null,
    A(Vec<J>),
    O(Vec<(String, J)>),
}

fn escape(s: &str, unicode: bool, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if unicode && c.is_ascii_alphanumeric() => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
}

impl J {
    pub fn write(&self, out: &mut String) {
        match self {
            J::S(s) => {
                out.push('"');
                escape(s, false, out);
                out.push('"');
            }
            J::Esc(s) => {
                out.push('"');
                escape(s, true, out);
                out.push('"');
            }
            J::N(n) => out.push_str(n),
            J::B(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Null => out.push_str("null"),
            J::A(xs) => {
                out.push('[');
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write(out);
                }
                out.push(']');
            }
            J::O(kv) => {
                out.push('{');
                for (i, (k, v)) in kv.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('"');
                    escape(k, false, out);
                    out.push_str("\":");
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

fn s(x: impl Into<String>) -> J {
    J::S(x.into())
}
fn n(x: impl ToString) -> J {
    J::N(x.to_string())
}

// ------------------------------------------------------------------ valid values

const PROVINCES: &[&str] = &[
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

fn luhn_complete(body: &str) -> String {
    let mut sum = 0;
    for (i, c) in body.bytes().rev().enumerate() {
        let mut x = (c - b'0') as u32;
        if i % 2 == 0 {
            x *= 2;
            if x > 9 {
                x -= 9;
            }
        }
        sum += x;
    }
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn date_parts(rng: &mut Rng, y0: u64, y1: u64) -> (u64, u64, u64) {
    let y = rng.range(y0, y1);
    let m = rng.range(1, 12);
    let d = rng.range(1, 28);
    (y, m, d)
}

pub fn resident_id(rng: &mut Rng) -> String {
    let (y, m, d) = date_parts(rng, 1950, 2006);
    let body = format!(
        "{}{}{y:04}{m:02}{d:02}{}",
        rng.pick(PROVINCES),
        rng.digits(4),
        rng.digits(3)
    );
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let s: u32 = body
        .bytes()
        .zip(W)
        .map(|(b, w)| (b - b'0') as u32 * w)
        .sum();
    let c = b"10X98765432"[(s % 11) as usize] as char;
    format!("{body}{c}")
}

const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "145", "147", "150", "151",
    "152", "153", "155", "156", "157", "158", "159", "166", "170", "171", "173", "175", "176",
    "177", "178", "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "193",
    "195", "198", "199",
];

pub fn mobile(rng: &mut Rng) -> String {
    format!("{}{}", rng.pick(MOBILE_PREFIXES), rng.digits(8))
}

pub fn landline(rng: &mut Rng) -> String {
    let area = *rng.pick(&[
        "010", "021", "022", "023", "024", "025", "027", "028", "029", "0755", "0571", "0512",
        "0532", "0731", "0991", "0871",
    ]);
    let len = if area.len() == 3 {
        8
    } else {
        *rng.pick(&[7usize, 8])
    };
    format!("{area}-{}{}", rng.range(2, 9), rng.digits(len - 1))
}

pub fn bank_card(rng: &mut Rng) -> String {
    let (prefix, len): (String, usize) = match rng.below(7) {
        0 | 1 => (format!("62{}", rng.digits(4)), *rng.pick(&[16usize, 19])),
        2 => ("4".into(), 16),
        3 => (format!("5{}", rng.range(1, 5)), 16),
        4 => (rng.pick(&["34", "37"]).to_string(), 15),
        5 => (format!("{}", rng.range(3528, 3589)), 16),
        _ => ("6011".into(), 16),
    };
    let body = format!("{prefix}{}", rng.digits(len - 1 - prefix.len()));
    luhn_complete(&body)
}

fn group_card(card: &str, sep: char) -> String {
    let b = card.as_bytes();
    let cuts: Vec<usize> = if b.len() == 15 {
        vec![4, 10]
    } else {
        (4..b.len()).step_by(4).collect()
    };
    let mut out = String::new();
    for (i, c) in card.chars().enumerate() {
        if cuts.contains(&i) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

const USCC: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

pub fn uscc(rng: &mut Rng) -> String {
    // Registration authority + entity category pairs of GB 32100 annex A.
    let pair = *rng.pick(&[
        "91", "91", "91", "92", "93", "11", "12", "51", "52", "53", "Y1", "N2", "31",
    ]);
    let head = format!("{pair}{}{}", rng.pick(PROVINCES), rng.digits(4));
    let org_body = rng.chars_from(b"0123456789ABCDEFGHJKLMNPQRTUWXY", 8);
    const OW: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = org_body
        .bytes()
        .zip(OW)
        .map(|(b, w)| {
            (if b.is_ascii_digit() {
                b - b'0'
            } else {
                b - b'A' + 10
            }) as u32
                * w
        })
        .sum();
    let oc = match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        c => (b'0' + c as u8) as char,
    };
    if oc == 'X' {
        // X is not in the USCC alphabet: draw again.
        return uscc(rng);
    }
    let s17 = format!("{head}{org_body}{oc}");
    const W: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let sum: u32 = s17
        .bytes()
        .zip(W)
        .map(|(b, w)| USCC.iter().position(|&c| c == b).unwrap() as u32 * w)
        .sum();
    let c = USCC[((31 - sum % 31) % 31) as usize] as char;
    format!("{s17}{c}")
}

pub fn plate(rng: &mut Rng) -> String {
    let prov = rng
        .pick(&["京", "沪", "粤", "浙", "苏", "川", "鄂", "湘", "鲁", "豫"])
        .to_string();
    let letter = *rng.pick(b"ABCDEFGHJK") as char;
    match rng.below(4) {
        0 => format!("{prov}{letter}D{}", rng.digits(5)),
        1 => format!("{prov}{letter}·{}", rng.digits(5)),
        2 => format!(
            "{prov}{letter}{}{}",
            *rng.pick(b"ABCDEFGHJK") as char,
            rng.digits(4)
        ),
        _ => format!("{prov}{letter}{}", rng.digits(5)),
    }
}

const HAN_SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "欧阳",
];
const HAN_GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "建华", "志强", "晓明", "思远",
];
const EN_GIVEN: &[&str] = &[
    "John", "Mary", "James", "Linda", "Robert", "Emily", "David", "Sarah", "Michael", "Emma",
    "Wei", "Lei", "Fang",
];
const EN_FAMILY: &[&str] = &[
    "Smith", "Johnson", "Brown", "Taylor", "Miller", "Wang", "Li", "Zhang", "Chen", "Liu",
    "Garcia", "O'Brien",
];

pub fn person_name(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 | 1 => format!("{}{}", rng.pick(HAN_SURNAMES), rng.pick(HAN_GIVEN)),
        _ => format!("{} {}", rng.pick(EN_GIVEN), rng.pick(EN_FAMILY)),
    }
}

pub fn address(rng: &mut Rng) -> String {
    if rng.chance(70) {
        let city = rng.pick(&[
            "北京市朝阳区",
            "上海市浦东新区",
            "广东省深圳市南山区",
            "浙江省杭州市西湖区",
            "四川省成都市武侯区",
        ]);
        let road = rng.pick(&["建国路", "世纪大道", "科技园南路", "文三路", "人民南路"]);
        format!(
            "{city}{road}{}号{}栋{}室",
            rng.range(1, 300),
            rng.range(1, 20),
            rng.range(101, 2808)
        )
    } else {
        format!(
            "{} {} {}, {}",
            rng.range(1, 9999),
            rng.pick(&["Main", "Oak", "Maple", "Park", "Elm", "Market"]),
            rng.pick(&["Street", "Avenue", "Road", "Blvd", "Lane", "Drive"]),
            rng.pick(&["Springfield", "Seattle", "Austin", "Boston"])
        )
    }
}

pub fn dob(rng: &mut Rng) -> String {
    let (y, m, d) = date_parts(rng, 1940, 2010);
    match rng.below(4) {
        0 => format!("{y}-{m:02}-{d:02}"),
        1 => format!("{y}/{m}/{d}"),
        2 => format!("{y}{m:02}{d:02}"),
        _ => format!("{y}年{m}月{d}日"),
    }
}

pub fn email(rng: &mut Rng) -> String {
    let local = match rng.below(4) {
        0 => format!(
            "{}.{}",
            rng.pick(&["alice", "bob", "wei", "zhang", "li.na", "john"]),
            rng.pick(&["smith", "wang", "chen", "lee"])
        ),
        1 => format!(
            "{}{}",
            rng.pick(&["user", "test", "dev", "hr"]),
            rng.digits(3)
        ),
        2 => mobile(rng),
        _ => format!(
            "{}+{}",
            rng.pick(&["alice", "ops"]),
            rng.pick(&["news", "billing"])
        ),
    };
    let domain = rng.pick(&[
        "example.com",
        "qq.com",
        "163.com",
        "gmail.com",
        "corp.example.cn",
        "mail.example.co.uk",
        "outlook.com",
    ]);
    format!("{local}@{domain}")
}

pub fn ssn(rng: &mut Rng) -> String {
    let area = loop {
        let a = rng.range(1, 899);
        if a != 666 {
            break a;
        }
    };
    format!(
        "{area:03}-{:02}-{:04}",
        rng.range(1, 99),
        rng.range(1, 9999)
    )
}

pub fn iban(rng: &mut Rng) -> String {
    let (cc, bban) = match rng.below(5) {
        0 => ("DE", rng.digits(18)),
        1 => (
            "GB",
            format!(
                "{}{}",
                rng.chars_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4),
                rng.digits(14)
            ),
        ),
        2 => (
            "FR",
            format!(
                "{}{}{}",
                rng.digits(10),
                rng.chars_from(b"0123456789ABCDEFGHIJK", 11),
                rng.digits(2)
            ),
        ),
        3 => (
            "NL",
            format!(
                "{}{}",
                rng.chars_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4),
                rng.digits(10)
            ),
        ),
        _ => ("ES", rng.digits(20)),
    };
    // check digits: 98 - mod97(bban + cc + "00")
    let rearranged = format!("{bban}{cc}00");
    let mut r: u64 = 0;
    for c in rearranged.bytes() {
        if c.is_ascii_digit() {
            r = (r * 10 + (c - b'0') as u64) % 97;
        } else {
            r = (r * 100 + (c - b'A' + 10) as u64) % 97;
        }
    }
    format!("{cc}{:02}{bban}", 98 - r)
}

fn group4(s: &str) -> String {
    s.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn ipv4(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!(
            "10.{}.{}.{}",
            rng.below(256),
            rng.below(256),
            rng.range(1, 254)
        ),
        1 => format!("192.168.{}.{}", rng.below(256), rng.range(1, 254)),
        _ => format!(
            "{}.{}.{}.{}",
            rng.range(11, 223),
            rng.below(256),
            rng.below(256),
            rng.range(1, 254)
        ),
    }
}

pub fn ipv6(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => (0..8).map(|_| rng.hex(4)).collect::<Vec<_>>().join(":"),
        1 => format!("2001:db8:{}::{}", rng.hex(4), rng.hex(3)),
        _ => format!(
            "fe80::{}:{}:{}:{}",
            rng.hex(4),
            rng.hex(4),
            rng.hex(4),
            rng.hex(4)
        ),
    }
}

pub fn mac(rng: &mut Rng) -> String {
    let sep = if rng.chance(50) { ":" } else { "-" };
    let m = (0..6).map(|_| rng.hex(2)).collect::<Vec<_>>().join(sep);
    if rng.chance(50) {
        m.to_uppercase()
    } else {
        m
    }
}

pub fn imei(rng: &mut Rng) -> String {
    luhn_complete(&format!(
        "{}{}",
        rng.pick(&["35", "86", "49", "01"]),
        rng.digits(12)
    ))
}

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64url(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

pub fn jwt(rng: &mut Rng) -> String {
    let alg = rng.pick(&["HS256", "RS256", "ES256"]);
    let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
    let payload = format!(
        r#"{{"sub":"u-{}","iat":{},"exp":{}}}"#,
        rng.digits(6),
        1_700_000_000 + rng.below(9_999_999),
        1_800_000_000u64
    );
    format!(
        "{}.{}.{}",
        b64url(header.as_bytes()),
        b64url(payload.as_bytes()),
        rng.chars_from(B64URL, 43)
    )
}

pub fn private_key(rng: &mut Rng) -> String {
    let label = rng.pick(&[
        "RSA PRIVATE KEY",
        "PRIVATE KEY",
        "EC PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
    ]);
    let lines: Vec<String> = (0..4).map(|_| rng.chars_from(B64, 64)).collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----",
        lines.join("\n")
    )
}

pub fn aws_key(rng: &mut Rng) -> String {
    format!(
        "{}{}",
        rng.pick(&["AKIA", "ASIA"]),
        rng.chars_from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    )
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub fn cloud_secret(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => format!("ghp_{}", rng.chars_from(ALNUM, 36)),
        1 => format!("gho_{}", rng.chars_from(ALNUM, 36)),
        2 => format!(
            "xoxb-{}-{}-{}",
            rng.digits(12),
            rng.digits(13),
            rng.chars_from(ALNUM, 24)
        ),
        3 => format!("sk_live_{}", rng.chars_from(ALNUM, 24)),
        4 => format!("AIza{}", rng.chars_from(B64URL, 35)),
        _ => format!("LTAI{}", rng.chars_from(ALNUM, 20)),
    }
}

pub fn password(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!(
            "{}{}!",
            rng.pick(&["Passw0rd", "Summer", "hunter", "Qwerty"]),
            rng.digits(3)
        ),
        1 => rng.chars_from(ALNUM, 12),
        _ => rng.digits(6),
    }
}

fn base58(data: &[u8]) -> String {
    const A: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut digits: Vec<u8> = Vec::new();
    for &b in data {
        let mut carry = b as u32;
        for d in digits.iter_mut() {
            carry += (*d as u32) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let zeros = data.iter().take_while(|&&b| b == 0).count();
    let mut s: String = std::iter::repeat_n('1', zeros).collect();
    s.extend(digits.iter().rev().map(|&d| A[d as usize] as char));
    s
}

fn bech32_polymod(values: &[u8]) -> u32 {
    const G: [u32; 5] = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
    let mut chk = 1u32;
    for &v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ v as u32;
        for (i, g) in G.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

fn segwit(version: u8, program: &[u8]) -> String {
    const CH: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let mut data = vec![version];
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in program {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            data.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        data.push(((acc << (5 - bits)) & 31) as u8);
    }
    let mut values = vec![3u8, 3, 0, 2, 3];
    values.extend(&data);
    values.extend([0u8; 6]);
    let c = if version == 0 { 1 } else { 0x2bc830a3 };
    let pm = bech32_polymod(&values) ^ c;
    for i in 0..6 {
        data.push(((pm >> (5 * (5 - i))) & 31) as u8);
    }
    format!(
        "bc1{}",
        data.iter()
            .map(|&d| CH[d as usize] as char)
            .collect::<String>()
    )
}

pub fn bitcoin(rng: &mut Rng) -> String {
    let choice = rng.below(4);
    let mut bytes = |n: usize| (0..n).map(|_| rng.below(256) as u8).collect::<Vec<u8>>();
    match choice {
        0 | 1 => {
            let version = if rng_bit(&mut bytes) { 0u8 } else { 5 };
            let mut payload = vec![version];
            payload.extend(bytes(20));
            let chk = Sha256::digest(Sha256::digest(&payload));
            payload.extend(&chk[..4]);
            base58(&payload)
        }
        2 => segwit(0, &bytes(20)),
        _ => segwit(1, &bytes(32)),
    }
}

fn rng_bit(bytes: &mut impl FnMut(usize) -> Vec<u8>) -> bool {
    bytes(1)[0] & 1 == 0
}

// ------------------------------------------------------------------ samples

/// One labelled sensitive value: where it goes and what must be found.
#[derive(Clone, Debug)]
pub struct Sample {
    pub ty: &'static str,
    pub key: String,
    pub value: J,
    /// The exact text the classifier should report.
    pub expect: String,
    /// Put inside a person-ish object (`user`, `customer`, ...).
    pub person: bool,
}

pub const TYPES: &[&str] = &[
    "cn_resident_id",
    "cn_mobile",
    "cn_landline",
    "bank_card",
    "card_security_code",
    "cn_passport",
    "cn_hk_macau_permit",
    "cn_uscc",
    "cn_license_plate",
    "cn_name",
    "address",
    "date_of_birth",
    "email",
    "us_ssn",
    "iban",
    "ipv4",
    "ipv6",
    "mac_address",
    "imei",
    "jwt",
    "private_key",
    "aws_access_key",
    "cloud_secret",
    "password",
    "bitcoin_address",
];

fn maybe_esc(rng: &mut Rng, v: String) -> J {
    if rng.chance(8) {
        J::Esc(v)
    } else {
        J::S(v)
    }
}

pub fn sample(rng: &mut Rng, ty: &'static str) -> Sample {
    let mut person = false;
    let (key, value, expect): (String, J, String) = match ty {
        "cn_resident_id" => {
            let mut id = resident_id(rng);
            if rng.chance(20) {
                id = id.replace('X', "x");
            }
            match rng.below(6) {
                0 => ("remark".into(), s(format!("身份证号：{id}，请核对")), id),
                1 if id.ends_with(|c: char| c.is_ascii_digit()) => ("id_card".into(), n(&id), id),
                _ => {
                    let k = rng
                        .pick(&[
                            "id_card",
                            "idNo",
                            "sfz",
                            "identity_no",
                            "certNo",
                            "value",
                            "holder_id_number",
                        ])
                        .to_string();
                    (k, maybe_esc(rng, id.clone()), id)
                }
            }
        }
        "cn_mobile" => {
            let m = mobile(rng);
            let key = rng
                .pick(&[
                    "mobile",
                    "phone",
                    "contact_phone",
                    "tel",
                    "value",
                    "receiver_mobile",
                    "phoneNumber",
                ])
                .to_string();
            match rng.below(7) {
                0 => (
                    key,
                    s(format!("+86 {} {} {}", &m[..3], &m[3..7], &m[7..])),
                    format!("{} {} {}", &m[..3], &m[3..7], &m[7..]),
                ),
                1 => (
                    key,
                    s(format!("{}-{}-{}", &m[..3], &m[3..7], &m[7..])),
                    format!("{}-{}-{}", &m[..3], &m[3..7], &m[7..]),
                ),
                2 => (key, s(format!("86{m}")), m),
                3 => (key, n(&m), m),
                4 => ("remark".into(), s(format!("请联系 {m} 谢谢")), m),
                _ => (key, maybe_esc(rng, m.clone()), m),
            }
        }
        "cn_landline" => {
            let l = landline(rng);
            match rng.below(4) {
                0 => {
                    let compact = l.replace('-', "");
                    (
                        rng.pick(&["tel", "telephone", "office_phone", "fax"])
                            .to_string(),
                        s(&compact),
                        compact,
                    )
                }
                1 => ("note".into(), s(format!("办公电话 {l} 工作日")), l),
                _ => (
                    rng.pick(&["tel", "landline", "value", "company_phone"])
                        .to_string(),
                    s(&l),
                    l,
                ),
            }
        }
        "bank_card" => {
            let c = bank_card(rng);
            match rng.below(6) {
                0 => {
                    let g = group_card(&c, ' ');
                    (
                        rng.pick(&["card_no", "value", "card"]).to_string(),
                        s(&g),
                        g,
                    )
                }
                1 => {
                    let g = group_card(&c, '-');
                    ("payment".into(), s(&g), g)
                }
                2 => ("card_no".into(), n(&c), c),
                3 => ("remark".into(), s(format!("卡号 {c} 已绑定")), c),
                _ => (
                    rng.pick(&[
                        "card_no",
                        "bankCard",
                        "cardNumber",
                        "pan",
                        "value",
                        "account",
                    ])
                    .to_string(),
                    maybe_esc(rng, c.clone()),
                    c,
                ),
            }
        }
        "card_security_code" => {
            let len = if rng.chance(20) { 4 } else { 3 };
            let v = rng.digits(len);
            let key = rng
                .pick(&["cvv", "cvc", "cvv2", "security_code", "cardCvv"])
                .to_string();
            if rng.chance(30) && !v.starts_with('0') {
                (key, n(&v), v)
            } else {
                (key, s(&v), v)
            }
        }
        "cn_passport" => {
            let p = if rng.chance(50) {
                format!("{}{}", *rng.pick(b"EGDSPK") as char, rng.digits(8))
            } else {
                format!(
                    "E{}{}",
                    *rng.pick(b"ABCDEFGHJKLMNPQRSTUVWXYZ") as char,
                    rng.digits(7)
                )
            };
            if rng.chance(25) {
                ("remark".into(), s(format!("护照号码 {p}")), p)
            } else {
                (
                    rng.pick(&["passport_no", "passportNumber", "passport"])
                        .to_string(),
                    s(&p),
                    p,
                )
            }
        }
        "cn_hk_macau_permit" => {
            let len = if rng.chance(50) { 8 } else { 10 };
            let p = format!("{}{}", *rng.pick(b"HM") as char, rng.digits(len));
            if rng.chance(25) {
                ("remark".into(), s(format!("港澳通行证 {p}")), p)
            } else {
                (
                    rng.pick(&["hk_macau_permit", "gangao_permit_no", "permit_no"])
                        .to_string(),
                    s(&p),
                    p,
                )
            }
        }
        "cn_uscc" => {
            let u = uscc(rng);
            if rng.chance(25) {
                ("remark".into(), s(format!("统一社会信用代码：{u}")), u)
            } else {
                (
                    rng.pick(&["uscc", "credit_code", "company_code", "value"])
                        .to_string(),
                    s(&u),
                    u,
                )
            }
        }
        "cn_license_plate" => {
            let p = plate(rng);
            if rng.chance(30) {
                ("remark".into(), s(format!("车辆 {p} 已入场")), p)
            } else {
                (
                    rng.pick(&["plate_no", "license_plate", "car_no", "value"])
                        .to_string(),
                    s(&p),
                    p,
                )
            }
        }
        "cn_name" => {
            let nm = person_name(rng);
            if rng.chance(40) {
                person = true;
                ("name".into(), s(&nm), nm)
            } else {
                (
                    rng.pick(&[
                        "real_name",
                        "full_name",
                        "contact_name",
                        "receiver_name",
                        "cardholder",
                    ])
                    .to_string(),
                    s(&nm),
                    nm,
                )
            }
        }
        "address" => {
            let a = address(rng);
            (
                rng.pick(&[
                    "address",
                    "shipping_address",
                    "addr",
                    "home_address",
                    "delivery_address",
                ])
                .to_string(),
                s(&a),
                a,
            )
        }
        "date_of_birth" => {
            let d = dob(rng);
            (
                rng.pick(&["birthday", "dob", "birth_date", "dateOfBirth"])
                    .to_string(),
                s(&d),
                d,
            )
        }
        "email" => {
            let e = email(rng);
            match rng.below(4) {
                0 => ("remark".into(), s(format!("mail me at {e}.")), e),
                _ => (
                    rng.pick(&["email", "contact", "value", "user_email"])
                        .to_string(),
                    maybe_esc(rng, e.clone()),
                    e,
                ),
            }
        }
        "us_ssn" => {
            let v = ssn(rng);
            if rng.chance(30) {
                let d = v.replace('-', "");
                ("ssn".into(), s(&d), d)
            } else {
                (
                    rng.pick(&["ssn", "value", "tax_info"]).to_string(),
                    s(&v),
                    v,
                )
            }
        }
        "iban" => {
            let i = iban(rng);
            if rng.chance(40) {
                let g = group4(&i);
                ("iban".into(), s(&g), g)
            } else {
                (
                    rng.pick(&["iban", "account", "value"]).to_string(),
                    s(&i),
                    i,
                )
            }
        }
        "ipv4" => {
            let ip = ipv4(rng);
            match rng.below(4) {
                0 => ("message".into(), s(format!("login from {ip}:443 ok")), ip),
                _ => (
                    rng.pick(&["client_ip", "ip", "remote_addr", "value", "x_forwarded_for"])
                        .to_string(),
                    s(&ip),
                    ip,
                ),
            }
        }
        "ipv6" => {
            let ip = ipv6(rng);
            (
                rng.pick(&["client_ip", "ipv6", "remote_addr", "value"])
                    .to_string(),
                s(&ip),
                ip,
            )
        }
        "mac_address" => {
            let m = mac(rng);
            (
                rng.pick(&["mac", "mac_address", "device_mac", "value"])
                    .to_string(),
                s(&m),
                m,
            )
        }
        "imei" => {
            let i = imei(rng);
            if rng.chance(30) {
                ("remark".into(), s(format!("IMEI: {i}")), i)
            } else {
                (
                    rng.pick(&["imei", "device_imei", "imei1"]).to_string(),
                    s(&i),
                    i,
                )
            }
        }
        "jwt" => {
            let t = jwt(rng);
            if rng.chance(30) {
                ("authorization".into(), s(format!("Bearer {t}")), t)
            } else {
                (
                    rng.pick(&["token", "access_token", "id_token", "value"])
                        .to_string(),
                    s(&t),
                    t,
                )
            }
        }
        "private_key" => {
            let k = private_key(rng);
            (
                rng.pick(&["private_key", "key_pem", "ssh_key", "value"])
                    .to_string(),
                s(&k),
                k,
            )
        }
        "aws_access_key" => {
            let k = aws_key(rng);
            (
                rng.pick(&["access_key_id", "aws_key", "value"]).to_string(),
                s(&k),
                k,
            )
        }
        "cloud_secret" => {
            let k = cloud_secret(rng);
            (
                rng.pick(&[
                    "github_token",
                    "slack_token",
                    "stripe_key",
                    "api_key",
                    "value",
                ])
                .to_string(),
                s(&k),
                k,
            )
        }
        "password" => {
            let p = password(rng);
            (
                rng.pick(&[
                    "password",
                    "pwd",
                    "new_password",
                    "passwd",
                    "login_password",
                ])
                .to_string(),
                s(&p),
                p,
            )
        }
        "bitcoin_address" => {
            let b = bitcoin(rng);
            (
                rng.pick(&["btc_address", "wallet", "value", "payout_address"])
                    .to_string(),
                s(&b),
                b,
            )
        }
        other => panic!("unknown type {other}"),
    };
    Sample {
        ty,
        key,
        value,
        expect,
        person,
    }
}

// ------------------------------------------------------------------ look-alikes

pub fn snowflake(rng: &mut Rng) -> String {
    let now = 1_700_000_000_000u64 + rng.below(60_000_000_000);
    let (epoch, shift) = *rng.pick(&[
        (1_288_834_974_657u64, 22u32),
        (1_420_070_400_000, 22),
        (1_577_836_800_000, 22),
    ]);
    (((now - epoch) << shift) | rng.below(1 << 22)).to_string()
}

pub fn order_no(rng: &mut Rng) -> String {
    let (y, m, d) = date_parts(rng, 2023, 2025);
    let tail = rng.range(2, 6) as usize;
    format!(
        "{y}{m:02}{d:02}{:02}{:02}{:02}{}",
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.digits(tail)
    )
}

pub fn uuid(rng: &mut Rng) -> String {
    format!(
        "{}-{}-4{}-{}{}-{}",
        rng.hex(8),
        rng.hex(4),
        rng.hex(3),
        rng.pick(&["8", "9", "a", "b"]),
        rng.hex(3),
        rng.hex(12)
    )
}

pub fn base64_blob(rng: &mut Rng) -> String {
    let n = rng.range(24, 90) as usize;
    let mut b = rng.chars_from(B64, n);
    while b.len() % 4 != 0 {
        b.push('=');
    }
    b
}

fn product(rng: &mut Rng) -> J {
    J::O(vec![
        ("sku".into(), s(format!("SKU-{}", rng.digits(6)))),
        (
            "name".into(),
            s(*rng.pick(&[
                "Wireless Mouse",
                "USB-C Hub",
                "Blue Widget",
                "无线鼠标",
                "机械键盘",
                "Standing Desk",
                "Noise Cancelling Headphones",
                "黄金手镯",
                "Apple iPhone 15",
            ])),
        ),
        (
            "price".into(),
            n(format!("{}.{}", rng.range(1, 999), rng.digits(2))),
        ),
        ("qty".into(), n(rng.range(1, 9))),
        (
            "barcode".into(),
            s(luhn_complete(&format!("69{}", rng.digits(10)))),
        ),
        (
            "image".into(),
            s(format!("https://cdn.example.com/img/{}@2x.png", rng.hex(8))),
        ),
    ])
}

/// Realistic non-sensitive fields full of look-alike identifiers.
pub fn lookalike_fields(rng: &mut Rng) -> Vec<(String, J)> {
    let ms = 1_700_000_000_000u64 + rng.below(60_000_000_000);
    let trace = rng.hex(32);
    let mut f: Vec<(String, J)> = vec![
        ("request_id".into(), s(uuid(rng))),
        ("trace_id".into(), s(&trace)),
        ("span_id".into(), s(rng.hex(16))),
        (
            "traceparent".into(),
            s(format!("00-{trace}-{}-01", rng.hex(16))),
        ),
        ("timestamp".into(), n(ms)),
        ("ts".into(), n(ms / 1000)),
        (
            "created_at".into(),
            s(format!(
                "2024-0{}-1{}T1{}:3{}:4{}.{}Z",
                rng.range(1, 9),
                rng.below(10),
                rng.below(10),
                rng.below(10),
                rng.below(10),
                rng.digits(3)
            )),
        ),
        ("id".into(), n(snowflake(rng))),
        ("order_id".into(), s(snowflake(rng))),
        ("order_no".into(), s(order_no(rng))),
        ("out_trade_no".into(), s(order_no(rng))),
        ("user_id".into(), n(snowflake(rng))),
        (
            "version".into(),
            s(format!(
                "{}.{}.{}.{}",
                rng.below(10),
                rng.below(20),
                rng.below(30),
                rng.below(300)
            )),
        ),
        (
            "user_agent".into(),
            s(format!(
                "MyApp/{}.{}.{}.{} (Linux; Android 14)",
                rng.below(10),
                rng.below(10),
                rng.below(10),
                rng.below(100)
            )),
        ),
        ("etag".into(), s(format!("\"{}\"", rng.hex(32)))),
        ("sha256".into(), s(rng.hex(64))),
        ("avatar_blob".into(), s(base64_blob(rng))),
        (
            "seq".into(),
            n(format!("{}", 9_007_199_254_740_993u64 + rng.below(1 << 60))),
        ),
        (
            "amount".into(),
            n(format!("{}.{}", rng.range(1, 99999), rng.digits(2))),
        ),
        ("currency".into(), s(*rng.pick(&["CNY", "USD", "EUR"]))),
        (
            "status".into(),
            s(*rng.pick(&["PAID", "pending", "shipped", "已支付"])),
        ),
        ("zip".into(), s(rng.digits(6))),
        (
            "items".into(),
            J::A((0..rng.range(1, 3)).map(|_| product(rng)).collect()),
        ),
        (
            "company_name".into(),
            s(*rng.pick(&["Acme Corp", "北京某某科技有限公司", "Example Ltd"])),
        ),
        (
            "city".into(),
            s(*rng.pick(&["Beijing", "Shanghai", "深圳", "Hangzhou"])),
        ),
        (
            "page".into(),
            J::O(vec![
                ("offset".into(), n(rng.below(1000))),
                ("limit".into(), n(20)),
                ("cursor".into(), s(base64_blob(rng))),
            ]),
        ),
        ("success".into(), J::B(true)),
        ("error".into(), J::Null),
        (
            "url".into(),
            s(format!(
                "https://api.example.com/v1/orders/{}?page=2",
                snowflake(rng)
            )),
        ),
        ("username".into(), s(format!("user_{}", rng.digits(5)))),
        ("duration_ms".into(), n(rng.range(1, 5000))),
        (
            "message".into(),
            s(format!(
                "order {} created at {} by worker-{}",
                order_no(rng),
                ms,
                rng.below(16)
            )),
        ),
        (
            "build".into(),
            s(format!(
                "{}.{}.{}.{}",
                rng.below(5),
                rng.below(10),
                rng.below(10),
                rng.below(1000)
            )),
        ),
        (
            "sdk_version".into(),
            s(format!(
                "{}.{}.{}",
                rng.below(5),
                rng.below(30),
                rng.below(30)
            )),
        ),
        ("checksum".into(), s(rng.hex(40))),
        ("nonce".into(), s(rng.digits(16))),
        (
            "coordinates".into(),
            s(format!(
                "{}.{},{}.{}",
                rng.range(20, 50),
                rng.digits(6),
                rng.range(100, 130),
                rng.digits(6)
            )),
        ),
        (
            "time".into(),
            s(format!(
                "{:02}:{:02}:{:02}",
                rng.below(24),
                rng.below(60),
                rng.below(60)
            )),
        ),
        ("password_policy".into(), s("min 8 chars")),
        ("password_updated_at".into(), s("2024-03-01")),
        ("file".into(), s(format!("report-{}.pdf", rng.digits(8)))),
    ];
    rng.shuffle(&mut f);
    let keep = rng.range(10, f.len() as u64) as usize;
    f.truncate(keep);
    f
}

/// A labelled payload: the JSON text and the values the classifier must find.
pub struct Payload {
    pub body: String,
    pub labels: Vec<(&'static str, String)>,
}

fn assemble(rng: &mut Rng, samples: Vec<Sample>) -> Payload {
    let mut data = lookalike_fields(rng);
    let mut user: Vec<(String, J)> = vec![("user_id".into(), n(snowflake(rng)))];
    let mut labels = Vec::new();
    for smp in samples {
        labels.push((smp.ty, smp.expect.clone()));
        if smp.person || rng.chance(30) {
            user.push((smp.key, smp.value));
        } else {
            let at = rng.below(data.len() as u64 + 1) as usize;
            data.insert(at, (smp.key, smp.value));
        }
    }
    let person_key = rng
        .pick(&["user", "customer", "contact", "member", "receiver"])
        .to_string();
    let doc = J::O(vec![
        ("code".into(), n(0)),
        ("msg".into(), s("ok")),
        (
            "data".into(),
            J::O({
                let mut d = data;
                d.push((person_key, J::O(user)));
                d
            }),
        ),
    ]);
    Payload {
        body: doc.render(),
        labels,
    }
}

/// Labelled payloads holding `per_type` values of every type, `per_payload` per body.
pub fn labelled_corpus(seed: u64, per_type: usize, per_payload: usize) -> Vec<Payload> {
    let mut rng = Rng::new(seed);
    let mut samples: Vec<Sample> = Vec::new();
    for &ty in TYPES {
        for _ in 0..per_type {
            samples.push(sample(&mut rng, ty));
        }
    }
    rng.shuffle(&mut samples);
    let mut out = Vec::new();
    let mut it = samples.into_iter().peekable();
    while it.peek().is_some() {
        let chunk: Vec<Sample> = it.by_ref().take(per_payload).collect();
        out.push(assemble(&mut rng, chunk));
    }
    out
}

/// Payloads with look-alikes only (nothing may be found).
pub fn lookalike_corpus(seed: u64, count: usize) -> Vec<String> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let mut fields = lookalike_fields(&mut rng);
            fields.push(("nested".into(), J::O(lookalike_fields(&mut rng))));
            J::O(vec![("code".into(), n(0)), ("data".into(), J::O(fields))]).render()
        })
        .collect()
}

/// The benchmark's response body: about 4 KiB of JSON with 20 sensitive values (IDs,
/// mobiles, cards, emails) among realistic fields.
pub fn bench_response(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut records = Vec::new();
    for i in 0..5 {
        let id = resident_id(&mut rng);
        let m = mobile(&mut rng);
        let c = bank_card(&mut rng);
        let e = email(&mut rng);
        records.push(J::O(vec![
            ("user_id".into(), n(snowflake(&mut rng))),
            ("nickname".into(), s(format!("player{i}"))),
            ("id_card".into(), s(id)),
            ("mobile".into(), s(m)),
            ("card_no".into(), s(c)),
            ("email".into(), s(e)),
            ("level".into(), n(rng.range(1, 60))),
            ("vip".into(), J::B(rng.chance(50))),
            ("created_at".into(), s("2024-03-15T12:30:45.123Z")),
            (
                "last_login_ms".into(),
                n(1_712_345_678_901u64 + rng.below(1_000_000)),
            ),
            ("order_no".into(), s(order_no(&mut rng))),
            (
                "tags".into(),
                J::A(vec![s("new"), s("promo"), s("cn-north")]),
            ),
            (
                "avatar".into(),
                s(format!(
                    "https://cdn.example.com/avatars/{}.png",
                    rng.hex(32)
                )),
            ),
            (
                "balance".into(),
                n(format!("{}.{}", rng.range(1, 99999), rng.digits(2))),
            ),
            ("status".into(), s("active")),
            ("request_id".into(), s(uuid(&mut rng))),
            ("address_verified".into(), J::B(true)),
            (
                "bio".into(),
                s("Loves hiking, coffee and distributed systems. 热爱生活。"),
            ),
        ]));
    }
    let mut body = J::O(vec![
        ("code".into(), n(0)),
        ("msg".into(), s("success")),
        ("trace_id".into(), s(rng.hex(32))),
        (
            "data".into(),
            J::O(vec![
                ("total".into(), n(5)),
                ("page".into(), n(1)),
                ("records".into(), J::A(records)),
            ]),
        ),
    ])
    .render();
    // Pad with realistic filler to ~4 KiB.
    while body.len() < 4000 {
        body.insert_str(
            body.len() - 1,
            &format!(
                ",\"note_{}\":\"{}\"",
                body.len(),
                "routine status update without personal data"
            ),
        );
    }
    body
}

/// The benchmark's request body: about 1 KiB of JSON.
pub fn bench_request(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut body = J::O(vec![
        ("order_no".into(), s(order_no(&mut rng))),
        ("user_id".into(), n(snowflake(&mut rng))),
        (
            "receiver".into(),
            J::O(vec![
                ("name".into(), s("张伟")),
                ("mobile".into(), s(mobile(&mut rng))),
                ("address".into(), s(address(&mut rng))),
            ]),
        ),
        (
            "items".into(),
            J::A((0..3).map(|_| product(&mut rng)).collect()),
        ),
        ("coupon".into(), s("SPRING2024")),
        ("client_ts".into(), n(1_712_345_678_901u64)),
        (
            "device".into(),
            J::O(vec![
                ("os".into(), s("Android 14")),
                ("app_version".into(), s("5.12.0.301")),
            ]),
        ),
    ])
    .render();
    while body.len() < 1000 {
        body.insert_str(
            body.len() - 1,
            &format!(",\"f{}\":\"{}\"", body.len(), "standard delivery"),
        );
    }
    body
}
