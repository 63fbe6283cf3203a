//! Path traversal and local file inclusion, on the normalised value (so `%2e%2e`,
//! `..%2f`, `%252e`, overlong `%c0%ae`, `%u2215` and full-width dots are already
//! `../`): dot-dot segments (with `/`, `\`, `;` or the end after them), absolute paths
//! of system files (`/etc/passwd`, `c:\windows\win.ini`, `/proc/self/environ`), UNC
//! paths and PHP stream wrappers. NUL bytes are reported by the caller.

use super::{find, PatSet};

/// System files and directories an attacker reads (after a `/` or `\`, or at the
/// start of the value); `/` stands for either separator.
const SENSITIVE_A: &[&[u8]] = &[
    b"etc/passwd",
    b"etc/shadow",
    b"etc/group",
    b"etc/hosts",
    b"etc/issue",
    b"etc/motd",
    b"etc/crontab",
    b"etc/sudoers",
    b"etc/hostname",
    b"etc/resolv.conf",
    b"etc/fstab",
    b"etc/master.passwd",
    b"etc/security/",
    b"etc/httpd/",
    b"etc/apache2/",
    b"etc/nginx/",
    b"etc/mysql/",
    b"etc/ssh/",
    b"etc/profile",
    b"etc/environment",
    b"etc/os-release",
    b"etc/inittab",
    b"etc/pam.d",
    b"proc/self/",
    b"proc/version",
    b"proc/cpuinfo",
    b"proc/meminfo",
    b"proc/mounts",
    b"proc/net/",
    b"proc/sched_debug",
    b"var/log/",
    b"var/run/secrets",
    b"var/lib/mysql",
    b"root/.",
    b".ssh/id_rsa",
];
const SENSITIVE_B: &[&[u8]] = &[
    b".ssh/id_dsa",
    b".ssh/id_ecdsa",
    b".ssh/id_ed25519",
    b".ssh/authorized_keys",
    b".ssh/known_hosts",
    b".bash_history",
    b".bashrc",
    b".htpasswd",
    b".htaccess",
    b".aws/credentials",
    b".docker/config.json",
    b".kube/config",
    b".git/config",
    b".env",
    b"boot.ini",
    b"win.ini",
    b"system.ini",
    b"windows/system32",
    b"winnt/system32",
    b"windows/repair",
    b"windows/debug",
    b"windows/panther",
    b"windows/system.ini",
    b"winnt/",
    b"inetpub/",
    b"web-inf/",
    b"meta-inf/",
    b"wp-config.php",
    b"config/database.yml",
    b"usr/local/apache",
    b"usr/local/etc",
    b"opt/lampp",
    b"xampp/",
    b"php.ini",
    b"httpd.conf",
    b"ntds.dit",
];

/// Stream wrappers of PHP file inclusion.
const WRAPPERS_LIST: &[&[u8]] = &[
    b"php://filter",
    b"php://input",
    b"php://fd",
    b"zip://",
    b"phar://",
    b"expect://",
    b"glob://",
    b"compress.zlib://",
    b"data://text/plain",
];

static SENSITIVE: [PatSet; 2] = [PatSet::new(SENSITIVE_A), PatSet::new(SENSITIVE_B)];
static WRAPPERS: PatSet = PatSet::new(WRAPPERS_LIST);

fn at(t: &[u8], i: usize) -> u8 {
    t.get(i).copied().unwrap_or(0)
}

fn sep(b: u8) -> bool {
    b == b'/' || b == b'\\'
}

/// Whether `t[i..]` starts with `pat`, `/` in `pat` matching `/` or `\`.
fn starts_with_path(t: &[u8], i: usize, pat: &[u8]) -> bool {
    t.get(i..i + pat.len()).is_some_and(|s| {
        s.iter()
            .zip(pat)
            .all(|(&a, &b)| a == b || (b == b'/' && sep(a)))
    })
}

/// A sensitive system path starting right after a separator or at `i == 0`.
fn sensitive_at(t: &[u8], i: usize) -> bool {
    let Some(&first) = t.get(i) else {
        return false;
    };
    SENSITIVE.iter().any(|set| {
        let mut cands = set.starting_with(first);
        while cands != 0 {
            let k = cands.trailing_zeros() as usize;
            cands &= cands - 1;
            let p = set.pattern(k);
            if starts_with_path(t, i, p) {
                let end = at(t, i + p.len());
                // whole names: `etc/passwd` but not `etc/passwdx`; directories match
                if p.ends_with(b"/")
                    || p.ends_with(b".")
                    || !(end.is_ascii_alphanumeric() || end == b'_' || end == b'-')
                {
                    return true;
                }
            }
        }
        false
    })
}

/// Whether a normalised value holds a traversal or a system path. `in_path`: the value
/// is (part of) a URL path, where any dot-dot segment counts.
pub fn detect(t: &[u8], in_path: bool) -> bool {
    let mut dotdots = 0usize;
    let mut strong_dotdot = false;
    let mut i = 0;
    let n = t.len();
    while i < n {
        let b = at(t, i);
        if b == b'.' && at(t, i + 1) == b'.' {
            let start = i;
            while at(t, i) == b'.' {
                i += 1;
            }
            let before = if start == 0 { b'/' } else { at(t, start - 1) };
            let after = at(t, i);
            let ends_segment = i >= n || sep(after) || after == b';';
            let dots = i - start;
            // `..`, `...` (Windows), `....//` (naive filter bypass)
            if ends_segment && dots <= 4 {
                let seg_start = sep(before)
                    || matches!(
                        before,
                        b'=' | b':' | b' ' | b'\t' | b'"' | b'\'' | b'(' | b'|' | b',' | b'\n'
                    )
                    || start == 0;
                if seg_start {
                    dotdots += 1;
                    if (sep(before) || start == 0 || matches!(before, b'=' | b':')) && i < n {
                        strong_dotdot = true;
                    }
                    if in_path && sep(before) {
                        strong_dotdot = true;
                    }
                    // A system path right after the traversal.
                    let mut k = i;
                    while sep(at(t, k)) || at(t, k) == b';' {
                        k += 1;
                    }
                    if sensitive_at(t, k) {
                        return true;
                    }
                }
            }
            continue;
        }
        if sep(b) {
            // `/proc/1/cmdline`, `/proc/self/...`
            if starts_with_path(t, i + 1, b"proc/") && at(t, i + 6).is_ascii_digit() {
                return true;
            }
            // `/etc/passwd`, `\windows\win.ini`, `c:\boot.ini`
            if sensitive_at(t, i + 1) {
                return true;
            }
            // UNC `\\host\share`
            if i == 0 && b == b'\\' && at(t, 1) == b'\\' && (at(t, 2).is_ascii_alphanumeric()) {
                let rest = t.get(2..).unwrap_or_default();
                if rest.iter().take(64).any(|&c| c == b'\\') {
                    return true;
                }
            }
        }
        i += 1;
    }
    // One dot-dot segment inside an absolute http(s) URL is normalised away by the
    // client (`https://example.com/a/../b`).
    let web_url = t.starts_with(b"http://") || t.starts_with(b"https://");
    if dotdots >= 2 || (dotdots == 1 && strong_dotdot && !web_url) || t == b".." {
        return true;
    }
    // Drive paths: `c:\windows\...`, `c:/boot.ini`
    let mut k = 0;
    while let Some(p) = t.get(k..).and_then(|r| find(r, b":")) {
        let c = k + p;
        k = c + 1;
        if c >= 1
            && at(t, c - 1).is_ascii_alphabetic()
            && (c < 2 || !at(t, c - 2).is_ascii_alphanumeric())
            && sep(at(t, c + 1))
        {
            let mut j = c + 1;
            while sep(at(t, j)) {
                j += 1;
            }
            if sensitive_at(t, j) {
                return true;
            }
        }
    }
    // Value starting with a sensitive path without its leading slash (`etc/passwd`).
    if sensitive_at(t, 0) && t.len() > 4 && t.contains(&b'/') {
        return true;
    }
    WRAPPERS.occurs(t) || (t.starts_with(b"file:") && file_url_sensitive(t))
}

/// `file:` URLs pointing at system files are traversal too (SSRF reports the scheme).
fn file_url_sensitive(t: &[u8]) -> bool {
    let rest = t.get(5..).unwrap_or_default();
    let skip = rest.iter().take_while(|&&b| sep(b)).count();
    let path = rest.get(skip..).unwrap_or_default();
    // `file:///etc/passwd`, `file://localhost/etc/passwd`
    sensitive_at(path, 0)
        || path
            .iter()
            .position(|&b| b == b'/')
            .is_some_and(|p| sensitive_at(path, p + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_pattern_holds_a_needed_byte() {
        // `Detector` skips this detector on values without `.`, `/` and `\\`.
        for p in SENSITIVE_A.iter().chain(SENSITIVE_B).chain(WRAPPERS_LIST) {
            assert!(
                super::super::needs_present(p) & super::super::NEEDS_TRAVERSAL != 0,
                "{}",
                String::from_utf8_lossy(p)
            );
        }
    }

    fn d(s: &str) -> bool {
        let n = crate::detect::decode::normalize(s.as_bytes(), false);
        n.nul || detect(&n.text, false)
    }

    #[test]
    fn traversals() {
        let bad = [
            "../../../etc/passwd",
            "..\\..\\..\\windows\\win.ini",
            "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "..%2f..%2f..%2fetc%2fpasswd",
            "%252e%252e%252fetc%252fpasswd",
            "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
            "..%c0%af..%c0%afetc%c0%afpasswd",
            "%uff0e%uff0e%u2215%uff0e%uff0e%u2215etc%u2215passwd",
            "....//....//etc/passwd",
            "../",
            "..;/..;/admin",
            "/etc/passwd",
            "/etc/shadow",
            "/proc/self/environ",
            "c:\\windows\\win.ini",
            "C:/boot.ini",
            "file:///etc/passwd",
            "php://filter/convert.base64-encode/resource=index.php",
            "images/../../../../etc/hosts",
            "..\\/..\\/etc/passwd",
            "/var/www/html/../../../etc/passwd",
            "\\\\attacker.example\\share\\x",
            "index.php%00.jpg",
            "etc/passwd",
            "~/.ssh/id_rsa",
        ];
        let bad = crate::test_util::wrong(&bad, true, d);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn benign_near_misses() {
        let bad = [
            "report.final.pdf",
            "Loading...",
            "Wait.../yes",
            "etc. and so on",
            "see [docs](../README.md)",
            "/home/user/projects/app",
            "C:\\Users\\bob\\Documents\\report.docx",
            "1...2",
            "v1.2.3",
            "https://example.com/etc/x",
            "the passwd file",
            "/api/v1/users",
            "a/b/c.txt",
            "Samuel",
            "we use .env files for config",
        ];
        let bad = crate::test_util::wrong(&bad, false, d);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn any_dotdot_segment_in_a_path() {
        assert!(detect(b"/a/../b", true));
        assert!(!detect(b"/a/b..c/d", true));
        assert!(!detect(b"/a/b/c", true));
    }
}
