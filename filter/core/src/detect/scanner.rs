//! Attack-tool fingerprints: user-agents of scanners and exploitation tools, their
//! probe paths (`/.git/config`, `/.env`, `/wp-admin`, `/phpmyadmin`, `/actuator/env`,
//! ...), and the out-of-band callback domains they plant in values (`*.oastify.com`,
//! `*.interact.sh`, `*.burpcollaborator.net`, ...).

use super::{find, PatSet};

/// Words (split on non-alphanumerics) that name attack tools in a user-agent.
const UA_WORDS: &[&[u8]] = &[
    b"sqlmap",
    b"nikto",
    b"nuclei",
    b"acunetix",
    b"masscan",
    b"zgrab",
    b"zgrab2",
    b"dirbuster",
    b"gobuster",
    b"wfuzz",
    b"ffuf",
    b"nmap",
    b"hydra",
    b"w3af",
    b"arachni",
    b"openvas",
    b"nessus",
    b"netsparker",
    b"invicti",
    b"appscan",
    b"wpscan",
    b"whatweb",
    b"skipfish",
    b"paros",
    b"webinspect",
    b"jaeles",
    b"xray",
    b"feroxbuster",
    b"dirb",
    b"havij",
    b"commix",
    b"fimap",
    b"sqlninja",
    b"bbqsql",
    b"joomscan",
    b"droopescan",
    b"metasploit",
    b"zmeu",
    b"morfeus",
    b"zap",
    b"burpsuite",
    b"burpcollaborator",
    b"qualys",
    b"nessusagent",
    b"wapiti",
    b"vega",
    b"grabber",
    b"webshag",
    b"nsauditor",
    b"brutus",
    b"medusa",
    b"crowdstrike",
    b"dotdotpwn",
    b"xsstrike",
    b"dalfox",
    b"tplmap",
    b"ghauri",
    b"katana",
    b"zgrab",
    b"l9explore",
    b"l9tcpid",
    b"censysinspect",
    b"internetmeasurement",
    b"netsystemsresearch",
    b"expanseinc",
    b"paloaltonetworks",
    b"masscan-ng",
    b"httpx",
    b"naabu",
    b"subfinder",
    b"gospider",
    b"hakrawler",
    b"photon",
    b"cariddi",
    b"kiterunner",
    b"arjun",
    b"beef",
    b"struts-pwn",
    b"log4j-scan",
];

/// Phrases in user-agents of tools with no distinctive word.
const UA_PHRASES: &[&[u8]] = &[
    b"fuzz faster u fool",
    b"nmap scripting engine",
    b"owasp zap",
    b"(hydra)",
    b"morfeus fucking scanner",
    b"mozilla/5.0 sf/",
    b"nessus soap",
    b"wpscan v",
    b"sqlmap/",
    b"(nikto/",
    b"projectdiscovery",
];

/// Whether a user-agent names an attack tool.
pub fn user_agent(ua: &[u8]) -> bool {
    let ua = ua.get(..1024).unwrap_or(ua);
    let lower: Vec<u8> = ua.iter().map(u8::to_ascii_lowercase).collect();
    if UA_PHRASES.iter().any(|p| find(&lower, p).is_some()) {
        return true;
    }
    let hit = lower
        .split(|b| !b.is_ascii_alphanumeric() && *b != b'-')
        .any(|w| {
            // `DirBuster-1.0-RC1`: the word before a version dash counts too.
            let head = w.split(|&b| b == b'-').next().unwrap_or(w);
            let known = |x: &[u8]| {
                (2..=20).contains(&x.len())
                    && x.first().is_some_and(u8::is_ascii_alphabetic)
                    && UA_WORDS
                        .iter()
                        .any(|k| k.len() == x.len() && k.first() == x.first() && *k == x)
            };
            known(w) || (head.len() < w.len() && known(head))
        });
    hit
}

/// Out-of-band interaction domains used by scanners (Burp Collaborator, interactsh,
/// Acunetix, DNS loggers).
const OAST_LIST: &[&[u8]] = &[
    b".oastify.com",
    b".burpcollaborator.net",
    b".interact.sh",
    b".interactsh.com",
    b".oast.fun",
    b".oast.pro",
    b".oast.live",
    b".oast.site",
    b".oast.online",
    b".oast.me",
    b".bxss.me",
    b"bxss.me/",
    b".dnslog.cn",
    b".ceye.io",
    b".dnslog.link",
    b".requestrepo.com",
    b".canarytokens.com",
    b".xss.ht",
    b".r87.me",
];

/// Whether a normalised value plants an out-of-band callback domain.
pub fn oast_domain(t: &[u8]) -> bool {
    static OAST: PatSet = PatSet::new(OAST_LIST);
    t.contains(&b'.') && OAST.occurs(t)
}

/// Probe paths: `(segment prefix, whole segment?)` matched on each segment of a
/// normalised path.
const PROBE_SEGMENTS: &[(&[u8], bool)] = &[
    (b".git", true),
    (b".svn", true),
    (b".hg", true),
    (b".bzr", true),
    (b".env", false),
    (b".aws", true),
    (b".ssh", true),
    (b".docker", true),
    (b".kube", true),
    (b".vscode", true),
    (b".idea", true),
    (b".ds_store", true),
    (b".htaccess", true),
    (b".htpasswd", true),
    (b".npmrc", true),
    (b".bash_history", true),
    (b".git-credentials", true),
    (b"wp-admin", true),
    (b"wp-login.php", true),
    (b"wp-config.php", false),
    (b"wp-content", true),
    (b"wp-includes", true),
    (b"xmlrpc.php", true),
    (b"phpmyadmin", false),
    (b"pma", true),
    (b"myadmin", true),
    (b"phpinfo.php", true),
    (b"info.php", true),
    (b"adminer.php", true),
    (b"server-status", true),
    (b"server-info", true),
    (b"cgi-bin", true),
    (b"jmx-console", true),
    (b"web-console", true),
    (b"invoker", true),
    (b"hnap1", true),
    (b"boaform", true),
    (b"solr", true),
    (b"_ignition", true),
    (b"telescope", true),
    (b"eval-stdin.php", true),
    (b"sftp-config.json", true),
    (b"web.config", true),
    (b"config.php.bak", true),
    (b"backup.sql", true),
    (b"dump.sql", true),
    (b"database.sql", true),
    (b"shell.php", true),
    (b"c99.php", true),
    (b"r57.php", true),
    (b"cmd.php", true),
    (b"webshell.php", true),
    (b"owa", true),
    (b"ecp", true),
    (b"autodiscover", true),
    (b"vpn", true),
    (b"remote", true),
    (b"druid", true),
    (b"nacos", true),
    (b"jenkins", true),
    (b"manager", true),
    (b"console", true),
    (b"setup.cgi", true),
    (b"login.cgi", true),
    (b"administrator", true),
    (b"id_rsa", true),
    (b"docker-compose.yml", true),
    (b".travis.yml", true),
    (b"composer.lock", true),
    (b"package-lock.json", true),
    (b"trace.axd", true),
    (b"elmah.axd", true),
    (b"actuator", true),
];

/// Probe segments that only count when the next segment matches too
/// (`/actuator/env`, `/manager/html`, `/console/login`, ...).
const PROBE_PAIRS: &[(&[u8], &[&[u8]])] = &[
    (
        b"actuator",
        &[
            b"env",
            b"heapdump",
            b"threaddump",
            b"configprops",
            b"mappings",
            b"beans",
            b"jolokia",
            b"gateway",
            b"logfile",
            b"httptrace",
            b"trace",
            b"shutdown",
            b"restart",
            b"loggers",
            b"conditions",
            b"scheduledtasks",
            b"auditevents",
            b"sessions",
            b"caches",
            b"dump",
        ],
    ),
    (b"manager", &[b"html", b"text", b"status"]),
    (b"console", &[b"login", b"css", b"j_security_check"]),
    (b"solr", &[b"admin"]),
    (b"jenkins", &[b"script", b"login"]),
    (b"owa", &[b"auth", b"auth.owa"]),
    (b"ecp", &[b"default.flt", b"y.js"]),
    (b"remote", &[b"login", b"fgt_lang"]),
    (b"vpn", &[b"..", b"user", b"index.html"]),
    (
        b"druid",
        &[b"index.html", b"login.html", b"websession.html"],
    ),
    (b"nacos", &[b"v1"]),
    (b"telescope", &[b"requests"]),
    (
        b"invoker",
        &[b"jmxinvokerservlet", b"ejbinvokerservlet", b"readonly"],
    ),
    (b"autodiscover", &[b"autodiscover.xml"]),
    (b"administrator", &[b"index.php"]),
];

/// For each byte, the entries of [`PROBE_SEGMENTS`] that start with it (bit `i`: entry
/// `i`), so a path segment is compared with those only (a handful instead of all). A
/// list of more than 128 entries, or an empty entry, fails to compile here.
static SEGMENTS_BY_FIRST_BYTE: [u128; 256] = {
    let mut t = [0u128; 256];
    let mut i = 0;
    while i < PROBE_SEGMENTS.len() {
        let p = PROBE_SEGMENTS[i].0;
        // An empty entry would match every segment: refused at compile time.
        assert!(!p.is_empty(), "an empty probe segment");
        t[p[0] as usize] |= 1 << i;
        i += 1;
    }
    t
};

/// Bytes that start a key of [`PROBE_PAIRS`].
static PAIR_FIRST_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < PROBE_PAIRS.len() {
        let p = PROBE_PAIRS[i].0;
        assert!(!p.is_empty(), "an empty probe pair key");
        t[p[0] as usize] = true;
        i += 1;
    }
    t
};

/// Whether a normalised path is a scanner probe.
pub fn probe_path(t: &[u8]) -> bool {
    let mut prev: &[u8] = &[];
    for seg in t
        .split(|&b| b == b'/' || b == b'\\')
        .filter(|s| !s.is_empty())
        .take(64)
    {
        let seg = seg.split(|&b| b == b';').next().unwrap_or(seg);
        let pair_key = prev
            .first()
            .is_some_and(|&b| PAIR_FIRST_BYTES[usize::from(b)]);
        if pair_key {
            if let Some((_, nexts)) = PROBE_PAIRS.iter().find(|(p, _)| *p == prev) {
                if nexts.contains(&seg) {
                    return true;
                }
            }
        }
        let mut candidates = seg
            .first()
            .map_or(0, |&b| SEGMENTS_BY_FIRST_BYTE[usize::from(b)]);
        while candidates != 0 {
            let i = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            let Some((p, whole)) = PROBE_SEGMENTS.get(i) else {
                break;
            };
            let hit = if *whole {
                seg == *p
            } else {
                seg.starts_with(p)
                    && !seg
                        .get(p.len()..)
                        .is_some_and(|r| r.first().is_some_and(|b| b.is_ascii_alphabetic()))
            };
            // A paired segment only counts with its next segment (above); looked up
            // on a hit only, not for every segment of the list.
            if hit && !PROBE_PAIRS.iter().any(|(q, _)| q == p) {
                return true;
            }
        }
        prev = seg;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn user_agents() {
        for ua in [
            &b"sqlmap/1.7.2#stable (https://sqlmap.org)"[..],
            b"Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:Productid)",
            b"Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
            b"Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
            b"masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
            b"Mozilla/5.0 zgrab/0.x",
            b"DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)",
            b"gobuster/3.6",
            b"Wfuzz/3.1.0",
            b"Fuzz Faster U Fool v2.1.0",
            b"Mozilla/4.0 (Hydra)",
            b"WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)",
            b"Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 acunetix-wvs",
        ] {
            assert!(user_agent(ua), "{}", String::from_utf8_lossy(ua));
        }
        for ua in [
            &b"curl/8.5.0"[..],
            b"python-requests/2.31.0",
            b"Go-http-client/1.1",
            b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
            b"okhttp/4.12.0",
            b"Zapier",
            b"grpc-go/1.60.1",
            b"Envoy/1.29",
        ] {
            assert!(!user_agent(ua), "{}", String::from_utf8_lossy(ua));
        }
    }

    #[test]
    fn probe_paths() {
        for p in [
            &b"/.git/config"[..],
            b"/.git/HEAD",
            b"/.env",
            b"/.env.production",
            b"/app/.env.local",
            b"/wp-admin/",
            b"/wp-login.php",
            b"/phpmyadmin/index.php",
            b"/phpMyAdmin4.8.5/",
            b"/actuator/env",
            b"/actuator/heapdump",
            b"/manager/html",
            b"/.aws/credentials",
            b"/server-status",
            b"/.DS_Store",
            b"/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
            b"/_ignition/execute-solution",
            b"/cgi-bin/luci",
        ] {
            let low = p.to_ascii_lowercase();
            assert!(probe_path(&low), "{}", String::from_utf8_lossy(p));
        }
        for p in [
            &b"/api/v1/users"[..],
            b"/actuator/health",
            b"/actuator/info",
            b"/environment",
            b"/envelopes/1",
            b"/docs/git-guide",
            b"/console-logs",
            b"/api/admin/users",
            b"/remote-config/v1",
            b"/static/app.js",
        ] {
            assert!(!probe_path(p), "{}", String::from_utf8_lossy(p));
        }
    }

    /// Each pair key once (the first would hide the others) and with followers (a key
    /// without any would only switch its own probe entry off).
    #[test]
    fn probe_pairs_are_unique_and_have_followers() {
        for (i, (k, nexts)) in PROBE_PAIRS.iter().enumerate() {
            assert!(!nexts.is_empty(), "{}", String::from_utf8_lossy(k));
            assert!(
                !PROBE_PAIRS[..i].iter().any(|(q, _)| q == k),
                "{}",
                String::from_utf8_lossy(k)
            );
        }
        // Generic words stay out: they are the names of ordinary APIs and files.
        for p in [
            &b"/api/v1/credentials"[..],
            b"/config.json",
            b"/admin.php",
            b"/install.php",
            b"/console",
            b"/remote/status",
        ] {
            assert!(!probe_path(p), "{}", String::from_utf8_lossy(p));
        }
    }

    #[test]
    fn oast() {
        assert!(oast_domain(b"http://abc123.oastify.com/x"));
        assert!(oast_domain(b"nslookup x.interact.sh"));
        assert!(!oast_domain(b"https://example.com"));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::*;
        use proptest::prelude::*;

        /// The probe test as it was before the index: every entry for every segment.
        fn probe_path_linear(t: &[u8]) -> bool {
            let mut prev: &[u8] = &[];
            for seg in t
                .split(|&b| b == b'/' || b == b'\\')
                .filter(|s| !s.is_empty())
                .take(64)
            {
                let seg = seg.split(|&b| b == b';').next().unwrap_or(seg);
                if let Some((_, nexts)) = PROBE_PAIRS.iter().find(|(p, _)| *p == prev) {
                    if nexts.contains(&seg) {
                        return true;
                    }
                }
                for (p, whole) in PROBE_SEGMENTS {
                    let hit = if *whole {
                        seg == *p
                    } else {
                        seg.starts_with(p)
                            && !seg
                                .get(p.len()..)
                                .is_some_and(|r| r.first().is_some_and(|b| b.is_ascii_alphabetic()))
                    };
                    if hit && !PROBE_PAIRS.iter().any(|(q, _)| q == p) {
                        return true;
                    }
                }
                prev = seg;
            }
            false
        }

        /// Path segments: every probe word, pair key and follower, with suffixes, and
        /// ordinary words.
        fn segment() -> impl Strategy<Value = Vec<u8>> {
            let mut words: Vec<Vec<u8>> = PROBE_SEGMENTS.iter().map(|(p, _)| p.to_vec()).collect();
            for (k, nexts) in PROBE_PAIRS {
                words.push(k.to_vec());
                words.extend(nexts.iter().map(|n| n.to_vec()));
            }
            prop_oneof![
                (prop::sample::select(words), "[a-z0-9.;_-]{0,3}").prop_map(|(mut w, tail)| {
                    w.extend_from_slice(tail.as_bytes());
                    w
                }),
                "[a-z0-9._-]{1,10}".prop_map(String::into_bytes),
            ]
        }

        proptest! {
            #[test]
            fn the_index_finds_what_every_entry_finds(
                segs in prop::collection::vec(segment(), 0..6),
                sep in prop::sample::select(vec![b'/', b'\\']),
            ) {
                let mut path = Vec::new();
                for s in &segs {
                    path.push(sep);
                    path.extend_from_slice(s);
                }
                prop_assert_eq!(probe_path(&path), probe_path_linear(&path));
            }
        }
    }
}
