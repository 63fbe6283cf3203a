//! Server-side request forgery: URL-valued parameters (a value that is a URL, or a
//! protocol-relative `//host`) whose host is loopback, unspecified, link-local (cloud
//! metadata `169.254.169.254`), private or CGNAT, in any IPv4 spelling (`2130706433`,
//! `0x7f.1`, `0177.0.0.1`, `127.1`) or IPv6 (`[::1]`, `[::ffff:127.0.0.1]`,
//! `[fd00:ec2::254]`), or a metadata/loopback name (`metadata.google.internal`,
//! `localhost`, `127.0.0.1.nip.io`); and non-HTTP schemes that reach internal services
//! (`file://`, `gopher://`, `dict://`, `ldap://`, `tftp://`, ...). A URL later in the
//! value (prose, XML entities) counts only for dangerous schemes or metadata hosts.

use super::find;

/// Schemes that fetch local files or speak raw protocols.
const DANGEROUS_SCHEMES: &[&[u8]] = &[
    b"file",
    b"gopher",
    b"dict",
    b"tftp",
    b"ldap",
    b"ldaps",
    b"jar",
    b"netdoc",
    b"phar",
    b"expect",
    b"sftp",
    b"smb",
    b"rmi",
    b"jdbc",
    b"ogg",
    b"ssh2.exec",
    b"ssh2.shell",
];

/// Host names that resolve to internal or metadata addresses.
const INTERNAL_NAMES: &[&[u8]] = &[
    b"localhost",
    b"localhost.localdomain",
    b"ip6-localhost",
    b"ip6-loopback",
    b"metadata",
    b"metadata.google.internal",
    b"metadata.goog",
    b"instance-data",
    b"instance-data.ec2.internal",
    b"metadata.azure.com",
    b"metadata.tencentyun.com",
    b"100-100-100-200.metadata",
    b"kubernetes.default",
    b"kubernetes.default.svc",
    b"localtest.me",
    b"lvh.me",
    b"vcap.me",
    b"lacolhost.com",
    b"burpcollaborator.net",
];

/// DNS names that resolve to the IP written in them (`127.0.0.1.nip.io`).
const WILDCARD_DNS: &[&[u8]] = &[
    b".nip.io",
    b".xip.io",
    b".sslip.io",
    b".xip.name",
    b".nip.direct",
];

/// Domains whose every subdomain resolves to loopback.
const LOOPBACK_DOMAINS: &[&[u8]] = &[b".localtest.me", b".lvh.me", b".vcap.me", b".lacolhost.com"];

fn at(t: &[u8], i: usize) -> u8 {
    t.get(i).copied().unwrap_or(0)
}

/// How serious an internal host is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Internal {
    No,
    /// Private ranges, loopback, unspecified.
    Private,
    /// Cloud metadata (link-local, metadata names).
    Metadata,
}

/// Parses one IPv4 part in C `inet_aton` style (decimal, `0x` hex, `0` octal).
fn v4_part(p: &[u8]) -> Option<u64> {
    if p.is_empty() || p.len() > 12 {
        return None;
    }
    let (digits, radix) = if p.len() > 2 && (p.starts_with(b"0x")) {
        (p.get(2..)?, 16)
    } else if p.len() > 1 && p.starts_with(b"0") {
        (p.get(1..)?, 8)
    } else {
        (p, 10)
    };
    let mut v: u64 = 0;
    for &b in digits {
        let d = match b {
            b'0'..=b'9' => u64::from(b - b'0'),
            b'a'..=b'f' => u64::from(b - b'a' + 10),
            _ => return None,
        };
        if d >= radix {
            return None;
        }
        v = v.checked_mul(radix)?.checked_add(d)?;
    }
    Some(v)
}

/// IPv4 in any `inet_aton` spelling: `127.0.0.1`, `127.1`, `2130706433`, `0x7f000001`,
/// `0177.0.0.01`.
fn parse_v4(h: &[u8]) -> Option<u32> {
    let h = h.strip_suffix(b".").unwrap_or(h);
    let mut parts = [0u64; 4];
    let mut n = 0;
    for p in h.split(|&b| b == b'.') {
        *parts.get_mut(n)? = v4_part(p)?;
        n += 1;
    }
    let v = match n {
        1 => parts[0],
        2 if parts[0] < 256 && parts[1] < (1 << 24) => parts[0] << 24 | parts[1],
        3 if parts[0] < 256 && parts[1] < 256 && parts[2] < (1 << 16) => {
            parts[0] << 24 | parts[1] << 16 | parts[2]
        }
        4 if parts.iter().all(|&x| x < 256) => {
            parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3]
        }
        _ => return None,
    };
    u32::try_from(v).ok()
}

fn v4_internal(ip: u32) -> Internal {
    let [a, b, _, _] = ip.to_be_bytes();
    match (a, b) {
        (169, 254) => Internal::Metadata,
        (100, 100) if ip == u32::from_be_bytes([100, 100, 100, 200]) => Internal::Metadata,
        (192, 0) if ip == u32::from_be_bytes([192, 0, 0, 192]) => Internal::Metadata,
        (127, _) | (10, _) | (0, _) | (192, 168) => Internal::Private,
        (172, 16..=31) => Internal::Private,
        (100, 64..=127) => Internal::Private,
        (198, 18..=19) => Internal::Private,
        _ => Internal::No,
    }
}

/// IPv6 literal (without brackets); returns its 8 groups.
fn parse_v6(h: &[u8]) -> Option<[u16; 8]> {
    let h = h.split(|&b| b == b'%').next()?; // zone id
    let mut head: [u16; 8] = [0; 8];
    let mut tail: [u16; 8] = [0; 8];
    let (mut nh, mut nt) = (0usize, 0usize);
    let (left, right) = match find(h, b"::") {
        Some(p) => (h.get(..p)?, Some(h.get(p + 2..)?)),
        None => (h, None),
    };
    let fill = |s: &[u8], out: &mut [u16; 8], n: &mut usize| -> Option<()> {
        if s.is_empty() {
            return Some(());
        }
        for g in s.split(|&b| b == b':') {
            if g.contains(&b'.') {
                let v4 = parse_v4(g)?;
                *out.get_mut(*n)? = (v4 >> 16) as u16;
                *out.get_mut(*n + 1)? = v4 as u16;
                *n += 2;
                continue;
            }
            if g.is_empty() || g.len() > 4 {
                return None;
            }
            let mut v: u16 = 0;
            for &b in g {
                let d = match b {
                    b'0'..=b'9' => b - b'0',
                    b'a'..=b'f' => b - b'a' + 10,
                    _ => return None,
                };
                v = v << 4 | u16::from(d);
            }
            *out.get_mut(*n)? = v;
            *n += 1;
        }
        Some(())
    };
    fill(left, &mut head, &mut nh)?;
    if let Some(r) = right {
        fill(r, &mut tail, &mut nt)?;
        if nh + nt > 7 {
            return None;
        }
        let mut g = head;
        for k in 0..nt {
            *g.get_mut(8 - nt + k)? = *tail.get(k)?;
        }
        Some(g)
    } else if nh == 8 {
        Some(head)
    } else {
        None
    }
}

fn v6_internal(g: [u16; 8]) -> Internal {
    let zero6 = g.iter().take(6).all(|&x| x == 0);
    let v4 = u32::from(g[6]) << 16 | u32::from(g[7]);
    if zero6 && g[6] == 0 && g[7] <= 1 {
        return Internal::Private; // :: and ::1
    }
    // IPv4-mapped / compatible / NAT64
    if (g.iter().take(5).all(|&x| x == 0) && (g[5] == 0xffff || g[5] == 0))
        || (g[0] == 0x64 && g[1] == 0xff9b)
    {
        return v4_internal(v4);
    }
    if g[0] == 0xfd00 && g[1] == 0x0ec2 {
        return Internal::Metadata; // AWS IPv6 metadata
    }
    if g[0] & 0xffc0 == 0xfe80 {
        return Internal::Metadata;
    }
    if g[0] & 0xfe00 == 0xfc00 || g[0] & 0xffc0 == 0xfec0 {
        return Internal::Private;
    }
    Internal::No
}

/// Classifies a host (lower-cased, no port).
fn host_internal(host: &[u8]) -> Internal {
    let host = host.strip_suffix(b".").unwrap_or(host);
    if host.is_empty() {
        return Internal::No;
    }
    if let Some(inner) = host.strip_prefix(b"[") {
        let inner = inner.strip_suffix(b"]").unwrap_or(inner);
        return parse_v6(inner).map_or(Internal::No, v6_internal);
    }
    if host.contains(&b':') {
        return parse_v6(host).map_or(Internal::No, v6_internal);
    }
    if let Some(ip) = parse_v4(host) {
        return v4_internal(ip);
    }
    if matches!(
        host,
        b"metadata"
            | b"metadata.google.internal"
            | b"metadata.goog"
            | b"instance-data"
            | b"instance-data.ec2.internal"
            | b"metadata.azure.com"
            | b"metadata.tencentyun.com"
            | b"100-100-100-200.metadata"
    ) {
        return Internal::Metadata;
    }
    if INTERNAL_NAMES.contains(&host)
        || host.ends_with(b".localhost")
        || LOOPBACK_DOMAINS.iter().any(|d| host.ends_with(d))
    {
        return Internal::Private;
    }
    for w in WILDCARD_DNS {
        if let Some(prefix) = host.strip_suffix(*w) {
            if prefix.is_empty() {
                return Internal::Private;
            }
            // `127.0.0.1.nip.io`, `a.127-0-0-1.sslip.io`, `7f000001.nip.io`
            let last = prefix.rsplit(|&b| b == b'.').next().unwrap_or(prefix);
            let mut buf = [0u8; 16];
            let l = last.len().min(16);
            for (d, s) in buf.iter_mut().zip(last.iter().take(l)) {
                *d = if *s == b'-' { b'.' } else { *s };
            }
            // the last four dot-separated labels
            let tail4 = prefix
                .iter()
                .enumerate()
                .rev()
                .filter(|(_, &b)| b == b'.')
                .nth(3)
                .map_or(prefix, |(p, _)| prefix.get(p + 1..).unwrap_or_default());
            let ip = parse_v4(prefix)
                .or_else(|| parse_v4(buf.get(..l).unwrap_or_default()))
                .or_else(|| parse_v4(tail4));
            return ip.map_or(Internal::No, v4_internal);
        }
    }
    Internal::No
}

/// The host of the authority starting at `t[i..]` (after `scheme:` and slashes),
/// with `stop` the bytes that end the authority.
fn authority_host(t: &[u8], i: usize, stop: &[u8]) -> Internal {
    let rest = t.get(i..).unwrap_or_default();
    let end = rest
        .iter()
        .position(|b| stop.contains(b) || *b <= b' ')
        .unwrap_or(rest.len())
        .min(256);
    let auth = rest.get(..end).unwrap_or_default();
    let hostport = match auth.iter().rposition(|&b| b == b'@') {
        Some(p) => auth.get(p + 1..).unwrap_or_default(),
        None => auth,
    };
    let host = if hostport.starts_with(b"[") {
        match hostport.iter().position(|&b| b == b']') {
            Some(p) => hostport.get(..=p).unwrap_or_default(),
            None => hostport,
        }
    } else if hostport.iter().filter(|&&b| b == b':').count() > 1 {
        hostport // bare IPv6
    } else {
        hostport.split(|&b| b == b':').next().unwrap_or_default()
    };
    // Also the host before a `@` that some parsers pick (`http://127.0.0.1\@evil`).
    let first = auth
        .iter()
        .position(|&b| b == b'@' || b == b':')
        .and_then(|p| auth.get(..p))
        .map_or(Internal::No, host_internal);
    host_internal(host).max(first)
}

/// The URL at `t[s..]`: `Some(level)` when it is a URL (scheme then `:`).
fn url_at(t: &[u8], s: usize) -> Option<(Internal, bool)> {
    let rest = t.get(s..)?;
    let n = rest
        .iter()
        .take(20)
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        .count();
    if n == 0 || rest.get(n) != Some(&b':') || !rest.first()?.is_ascii_alphabetic() {
        return None;
    }
    let scheme = rest.get(..n)?;
    let mut j = s + n + 1;
    let mut slashes = 0;
    while matches!(at(t, j), b'/' | b'\\') {
        j += 1;
        slashes += 1;
    }
    let dangerous = DANGEROUS_SCHEMES.contains(&scheme);
    if slashes == 0 && !dangerous {
        return None; // `mailto:`, `tel:`, `urn:`, `time: 10:30`
    }
    let strict = authority_host(t, j, b"/?#\\");
    let loose = authority_host(t, j, b"/?");
    Some((
        strict.max(loose),
        dangerous && (slashes > 0 || scheme == b"file" || scheme == b"jar"),
    ))
}

/// Whether a normalised (decoded, lower-cased) value is an SSRF payload.
pub fn detect(t: &[u8]) -> bool {
    let lead = t
        .iter()
        .take_while(|&&b| b <= b' ' || b == b'"' || b == b'\'')
        .count();
    let v = t.get(lead..).unwrap_or_default();
    // The value is a URL.
    if let Some((level, dangerous)) = url_at(t, lead) {
        if dangerous || level != Internal::No {
            return true;
        }
    } else if v.starts_with(b"//") || v.starts_with(b"\\\\") {
        if authority_host(t, lead + 2, b"/?#\\") != Internal::No {
            return true;
        }
    } else {
        // A bare host: metadata anywhere; loopback/private with a port or a path.
        let end = v
            .iter()
            .position(|&b| matches!(b, b'/' | b'?' | b'#') || b <= b' ')
            .unwrap_or(v.len());
        let hp = v.get(..end).unwrap_or_default();
        // Both verdicts need a dotted host: the host is only classified then.
        let dotted = hp.iter().any(|&b| matches!(b, b'.' | b'[')) || hp.starts_with(b"localhost");
        if dotted {
            let level = authority_host(v, 0, b"/?#\\");
            if level == Internal::Metadata {
                return true;
            }
            let has_port = hp.iter().filter(|&&b| b == b':').count() == 1 && !hp.starts_with(b"[");
            if level == Internal::Private
                && (has_port || end < v.len() && v.get(end) == Some(&b'/'))
                && !v.contains(&b' ')
            {
                return true;
            }
        }
    }
    // URLs later in the value: dangerous schemes and metadata hosts only.
    if !t.contains(&b':') {
        return false;
    }
    let mut start = 0;
    let mut seen = 0;
    while let Some(p) = t.get(start..).and_then(|r| find(r, b"://")) {
        let c = start + p;
        start = c + 3;
        seen += 1;
        if seen > 16 {
            break;
        }
        let mut s = c;
        while s > 0
            && (at(t, s - 1).is_ascii_alphanumeric() || matches!(at(t, s - 1), b'+' | b'-' | b'.'))
            && c - s < 20
        {
            s -= 1;
        }
        if s == lead {
            continue;
        }
        // A URL quoted inside a raw text body (`{"callback":"http://127.0.0.1/"}`)
        // is a value of its own; prose mentions (`at http://localhost:3000`) are not.
        let quoted = s > 0 && matches!(at(t, s - 1), b'"' | b'\'');
        if let Some((level, dangerous)) = url_at(t, s) {
            if dangerous || level == Internal::Metadata || (quoted && level != Internal::No) {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn d(s: &str) -> bool {
        detect(&crate::detect::decode::normalize(s.as_bytes(), false).text)
    }

    #[test]
    fn internal_urls() {
        let bad = [
            "http://127.0.0.1/admin",
            "http://localhost:8080/",
            "http://LOCALHOST/",
            "https://[::1]/",
            "http://[0:0:0:0:0:0:0:1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://0.0.0.0:22",
            "http://0/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "http://[fd00:ec2::254]/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://100.100.100.200/latest/meta-data/",
            "http://10.0.0.5:8500/v1/agent/self",
            "http://192.168.1.1/",
            "http://172.16.0.1/",
            "file:///etc/passwd",
            "gopher://127.0.0.1:6379/_FLUSHALL",
            "dict://localhost:11211/stats",
            "ldap://127.0.0.1/",
            "http://evil.example@127.0.0.1/",
            "http://127.0.0.1#@evil.example/",
            "http://127.0.0.1.nip.io/",
            "http://foo.localhost/",
            "//169.254.169.254/",
            "169.254.169.254",
            "metadata.google.internal/computeMetadata/v1/",
            "127.0.0.1:6379",
            "http%3A%2F%2F169.254.169.254%2Flatest",
            "http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/",
            "<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
            "http://[fe80::1%25eth0]/",
        ];
        let bad = crate::test_util::wrong(&bad, true, d);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn benign_near_misses() {
        let bad = [
            "https://example.com/a?b=c",
            "https://api.github.com/repos/x/y",
            "http://8.8.8.8/",
            "https://1.1.1.1/dns-query",
            "10.0.0.5",
            "127.0.0.1",
            "192.168.1.10, 10.0.0.1",
            "mailto:bob@example.com",
            "tel:+15551234567",
            "time: 10:30",
            "my dev server at http://localhost:3000 crashed",
            "https://example.com/redirect?to=http://localhost/",
            "urn:isbn:0451450523",
            "https://www.google.com/maps/@37.42,-122.08,15z",
            "2001:db8::1",
            "10:30",
            "metadata",
            "https://[2001:db8::1]/",
            "v1.2.3",
        ];
        let bad = crate::test_util::wrong(&bad, false, d);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn ip_forms() {
        assert_eq!(parse_v4(b"127.0.0.1"), Some(0x7f000001));
        assert_eq!(parse_v4(b"127.1"), Some(0x7f000001));
        assert_eq!(parse_v4(b"0x7f.0.0.1"), Some(0x7f000001));
        assert_eq!(parse_v4(b"017700000001"), Some(0x7f000001));
        assert_eq!(parse_v4(b"256.1.1.1"), None);
        assert_eq!(parse_v4(b"1.2.3.4.5"), None);
        assert_eq!(parse_v6(b"::1"), Some([0, 0, 0, 0, 0, 0, 0, 1]));
        assert_eq!(parse_v6(b"1:2:3:4:5:6:7:8:9"), None);
        assert!(parse_v6(b"::ffff:127.0.0.1").is_some());
    }
}
