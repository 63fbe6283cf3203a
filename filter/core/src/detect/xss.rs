//! Cross-site scripting: an HTML tokenizer over the normalised value (tags, attribute
//! names and values as a browser splits them, including `/` as a separator and
//! unterminated tags), plus the contexts a value can break out of without a tag:
//! an attribute (`" onmouseover=...`), a JS string (`';alert(1)//`), a URL
//! (`javascript:...`), and client-side templates (`{{constructor.constructor(...)}}`).

use super::{find, is_word, PatSet};

/// `<` positions examined per value.
const MAX_TAGS: usize = 256;
/// Bytes examined per tag.
const MAX_TAG_LEN: usize = 512;
/// Quote positions examined for attribute and JS-string breakouts.
const MAX_QUOTES: usize = 32;

/// Tags that execute or load content by themselves.
const EXEC_TAGS: &[&[u8]] = &[
    b"script",
    b"iframe",
    b"frame",
    b"frameset",
    b"object",
    b"embed",
    b"applet",
    b"base",
    b"import",
    b"portal",
    b"xss",
];

/// Attributes whose value is a URL that may be navigated to or loaded.
const URL_ATTRS: &[&[u8]] = &[
    b"href",
    b"src",
    b"action",
    b"formaction",
    b"data",
    b"xlink:href",
    b"background",
    b"poster",
    b"lowsrc",
    b"dynsrc",
    b"to",
    b"from",
    b"values",
    b"by",
    b"codebase",
    b"code",
    b"srcset",
    b"ping",
    b"cite",
    b"longdesc",
    b"archive",
    b"xmlns",
    b"folder",
];

/// JS calls and properties an exploit reaches for.
const SINKS_LIST: &[&[u8]] = &[
    b"alert",
    b"prompt",
    b"confirm",
    b"eval",
    b"print",
    b"settimeout",
    b"setinterval",
    b"function",
    b"fetch",
    b"import",
    b"atob",
    b"string.fromcharcode",
    b"document.cookie",
    b"document.domain",
    b"document.location",
    b"document.write",
    b"window.location",
    b"location.href",
    b"location",
    b"top",
    b"self",
    b"parent",
    b"window",
    b"constructor",
    b"new function",
    b"xmlhttprequest",
    b"navigator.sendbeacon",
];

static SINKS: PatSet = PatSet::new(SINKS_LIST);

fn at(t: &[u8], i: usize) -> u8 {
    t.get(i).copied().unwrap_or(0)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Whether `t` is a URL whose scheme runs script: `javascript:`, `vbscript:`,
/// `livescript:`, `data:text/html`, `data:image/svg+xml`, ... Control characters and
/// spaces inside the scheme are ignored, as browsers do.
pub fn script_url(t: &[u8]) -> bool {
    let mut buf = [0u8; 24];
    let mut n = 0;
    for &b in t.iter().take(64) {
        if b <= b' ' {
            continue;
        }
        if let Some(slot) = buf.get_mut(n) {
            *slot = b;
            n += 1;
        } else {
            break;
        }
    }
    let s = buf.get(..n).unwrap_or_default();
    s.starts_with(b"javascript:")
        || s.starts_with(b"vbscript:")
        || s.starts_with(b"livescript:")
        || s.starts_with(b"mocha:")
        || s.starts_with(b"data:text/html")
        || s.starts_with(b"data:image/svg")
        || s.starts_with(b"data:application/x")
        || s.starts_with(b"data:text/javascript")
        || s.starts_with(b"data:application/javascript")
        || s.starts_with(b"data:text/xml")
        || s.starts_with(b"data:,")
}

/// Parses the attributes of a tag from `i` (after the tag name or a breakout quote);
/// returns `(dangerous, end)`. `tag` is the tag name (empty for a breakout).
fn attributes(t: &[u8], mut i: usize, tag: &[u8]) -> (bool, usize) {
    let limit = (i + MAX_TAG_LEN).min(t.len());
    let mut equiv_refresh = false;
    let mut count = 0;
    while i < limit {
        // Separators: whitespace, `/`, stray quotes.
        while i < limit && (is_space(at(t, i)) || matches!(at(t, i), b'/' | b'"' | b'\'' | b',')) {
            i += 1;
        }
        if i >= limit {
            break;
        }
        if at(t, i) == b'>' {
            return (false, i + 1);
        }
        if at(t, i) == b'<' {
            return (false, i);
        }
        let ns = i;
        while i < limit && !is_space(at(t, i)) && !matches!(at(t, i), b'/' | b'>' | b'=') {
            i += 1;
        }
        let name = t.get(ns..i).unwrap_or_default();
        while i < limit && is_space(at(t, i)) {
            i += 1;
        }
        let mut value: &[u8] = &[];
        let has_value = at(t, i) == b'=';
        if has_value {
            i += 1;
            while i < limit && is_space(at(t, i)) {
                i += 1;
            }
            let q = at(t, i);
            if matches!(q, b'"' | b'\'' | b'`') {
                let vs = i + 1;
                let rest = t.get(vs..).unwrap_or_default();
                let ve = rest
                    .iter()
                    .position(|&b| b == q)
                    .map_or(t.len(), |p| vs + p);
                value = t.get(vs..ve).unwrap_or_default();
                i = (ve + 1).min(t.len());
            } else {
                let vs = i;
                while i < t.len() && !is_space(at(t, i)) && at(t, i) != b'>' {
                    i += 1;
                }
                value = t.get(vs..i).unwrap_or_default();
            }
        }
        count += 1;
        if count > 48 {
            break;
        }
        if name.is_empty() || !has_value {
            continue;
        }
        // Event handlers: `onload`, `onerror`, `onpointerenter`, ...
        if name.len() > 3
            && name.starts_with(b"on")
            && name.iter().skip(2).all(|b| b.is_ascii_alphabetic())
        {
            return (true, i);
        }
        if name == b"rel" && value == b"import" {
            return (true, i);
        }
        // `<img/src=x/onerror=alert(1)>` as old parsers split it.
        if !value.is_empty() && value.windows(3).any(|w| w == b"/on") {
            if let Some(p) = find(value, b"/on") {
                let rest = value.get(p + 3..).unwrap_or_default();
                let letters = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
                if letters > 1 && rest.get(letters) == Some(&b'=') {
                    return (true, i);
                }
            }
        }
        if name == b"srcdoc" || name == b"dangerouslysetinnerhtml" {
            return (true, i);
        }
        if URL_ATTRS.contains(&name) && script_url(value) {
            return (true, i);
        }
        if name == b"style" && css_exec(value) {
            return (true, i);
        }
        if name == b"http-equiv" && value.starts_with(b"refresh") {
            equiv_refresh = true;
        }
        if name == b"content" && (find(value, b"url=").is_some() || equiv_refresh) && tag == b"meta"
        {
            let after =
                find(value, b"url=").map_or(value, |p| value.get(p + 4..).unwrap_or_default());
            if equiv_refresh || script_url(after) {
                return (true, i);
            }
        }
        if name == b"attributename"
            && matches!(value, b"href" | b"xlink:href" | b"onload" | b"onbegin")
        {
            return (true, i);
        }
    }
    (equiv_refresh, i)
}

/// CSS that runs script (old IE `expression()`, `behavior`, `-moz-binding`,
/// `url(javascript:...)`).
fn css_exec(v: &[u8]) -> bool {
    find(v, b"expression(").is_some()
        || find(v, b"behavior:").is_some()
        || find(v, b"-moz-binding").is_some()
        || find(v, b"javascript:").is_some()
        || find(v, b"vbscript:").is_some()
}

/// A tag at `t[i] == '<'`: whether it executes, and where scanning resumes.
fn tag_at(t: &[u8], i: usize) -> (bool, usize) {
    let mut j = i + 1;
    // `</script>` closing tags only matter as the start of a new tag after them.
    let closing = at(t, j) == b'/';
    if closing {
        j += 1;
    }
    let ns = j;
    if !at(t, j).is_ascii_alphabetic() {
        return (false, i + 1);
    }
    while at(t, j).is_ascii_alphanumeric() || matches!(at(t, j), b':' | b'-' | b'_') {
        j += 1;
    }
    let raw_name = t.get(ns..j).unwrap_or_default();
    let after = at(t, j);
    if !(j >= t.len() || is_space(after) || matches!(after, b'/' | b'>' | b'<' | b'"' | b'\'')) {
        return (false, i + 1);
    }
    // `<x:script>`: namespace prefixes.
    let name = raw_name.rsplit(|&b| b == b':').next().unwrap_or(raw_name);
    if closing {
        return (false, j);
    }
    if EXEC_TAGS.contains(&name) {
        return (true, j);
    }
    if name == b"style" {
        let body = t.get(j..(j + MAX_TAG_LEN).min(t.len())).unwrap_or_default();
        if css_exec(body) || find(body, b"@import").is_some() {
            return (true, j);
        }
    }
    let (bad, end) = attributes(t, j, name);
    if bad {
        return (true, end);
    }
    if name == b"meta" && find(t.get(j..end).unwrap_or_default(), b"refresh").is_some() {
        return (true, end);
    }
    (false, end.max(i + 1))
}

/// A JS sink call at `t[i..]`: `alert(1)`, ``alert`1` ``, `window['alert']`,
/// `document.cookie`.
fn sink_at(t: &[u8], i: usize) -> bool {
    let rest = t.get(i..).unwrap_or_default();
    let mut hits = SINKS.at(t, i);
    while hits != 0 {
        let k = hits.trailing_zeros() as usize;
        hits &= hits - 1;
        let s = &SINKS.pattern(k);
        let mut j = s.len();
        if rest.get(j).is_some_and(|&b| is_word(b)) {
            continue;
        }
        if s.contains(&b'.') && !matches!(*s, b"string.fromcharcode") {
            return true;
        }
        while rest.get(j).is_some_and(|&b| is_space(b)) {
            j += 1;
        }
        match rest.get(j) {
            Some(b'(' | b'`') => return true,
            Some(b'[') if matches!(*s, b"top" | b"self" | b"parent" | b"window") => return true,
            Some(b'.') if matches!(*s, b"constructor") => return true,
            Some(b'=') if matches!(*s, b"location") => return true,
            _ => {}
        }
    }
    false
}

/// `';alert(1)//`, `"-alert(1)-"`, `'+prompt(1)+'`, `\";alert(1);//`: a quote, an
/// optional closer, an operator, and a sink.
fn js_breakout(t: &[u8], q: usize) -> bool {
    let mut j = q + 1;
    let mut k = 0;
    while k < 6 && matches!(at(t, j), b')' | b']' | b'}' | b' ' | b'\t' | b'\n') {
        j += 1;
        k += 1;
    }
    if !matches!(
        at(t, j),
        b';' | b'+'
            | b'-'
            | b'*'
            | b'/'
            | b'|'
            | b'&'
            | b','
            | b'^'
            | b'%'
            | b'<'
            | b'>'
            | b'?'
            | b':'
            | b'='
            | b'\n'
    ) {
        return false;
    }
    // `==`, `||`, `&&`: one or two operator bytes.
    j += 1;
    if matches!(at(t, j), b'|' | b'&' | b'=' | b'/') {
        j += 1;
    }
    while matches!(
        at(t, j),
        b' ' | b'\t' | b'\n' | b'(' | b'!' | b'~' | b'-' | b'+' | b'['
    ) {
        j += 1;
    }
    sink_at(t, j)
}

/// `javascript:` (with spaces or controls inside the scheme) at the end of `t[..=colon]`
/// followed by code, outside a tag: markdown links, bare values.
fn free_script_url(t: &[u8]) -> bool {
    let mut start = 0;
    let mut seen = 0;
    while let Some(p) = t
        .get(start..)
        .and_then(|r| r.iter().position(|&b| b == b':'))
    {
        let colon = start + p;
        start = colon + 1;
        seen += 1;
        if seen > 64 {
            break;
        }
        // Walk back over letters and controls.
        let mut k = colon;
        let mut letters = 0;
        while k > 0 && letters < 12 {
            let b = at(t, k - 1);
            if b.is_ascii_alphabetic() {
                letters += 1;
            } else if b > b' ' || b == b' ' && letters == 0 {
                break;
            }
            k -= 1;
        }
        let before = if k == 0 { b' ' } else { at(t, k - 1) };
        if !(is_space(before)
            || matches!(
                before,
                b'(' | b'[' | b'=' | b'"' | b'\'' | b'`' | b'<' | b'>' | b'{' | b',' | b':'
            ))
        {
            continue;
        }
        let cand = t.get(k..).unwrap_or_default();
        if !script_url(cand) {
            continue;
        }
        // `data:text/html` always; `javascript:` only when code follows.
        let mut j = colon + 1;
        if cand
            .iter()
            .filter(|b| **b > b' ')
            .take(4)
            .eq(b"data".iter())
        {
            return true;
        }
        while is_space(at(t, j)) {
            j += 1;
        }
        let code = t.get(j..).unwrap_or_default();
        if code.starts_with(b"//") || code.starts_with(b"void") {
            return true;
        }
        let w = code
            .iter()
            .take_while(|&&b| is_word(b) || b == b'.' || b == b'$')
            .count();
        if w > 0 && matches!(code.get(w), Some(b'(' | b'`' | b'[' | b'=')) {
            return true;
        }
        if w > 0 && code.get(..w).is_some_and(|x| x.contains(&b'.')) {
            return true;
        }
    }
    false
}

/// Client-side template injection: `{{constructor.constructor('alert(1)')()}}`,
/// `{{$on.constructor(...)}}`, `${alert(1)}`.
fn template(t: &[u8]) -> bool {
    let mut start = 0;
    let mut seen = 0;
    while let Some(p) = t.get(start..).and_then(|r| find(r, b"{{")) {
        let s = start + p + 2;
        start = s;
        seen += 1;
        if seen > 16 {
            break;
        }
        let body = t.get(s..(s + 256).min(t.len())).unwrap_or_default();
        let body = find(body, b"}}").map_or(body, |e| body.get(..e).unwrap_or_default());
        if find(body, b"constructor").is_some()
            || find(body, b"$eval").is_some()
            || find(body, b"$on.").is_some()
            || find(body, b"$emit").is_some()
            || find(body, b"__proto__").is_some()
            || find(body, b"tostring().").is_some()
            || (0..body.len()).any(|k| sink_at(body, k) && (k == 0 || !is_word(at(body, k - 1))))
        {
            return true;
        }
    }
    start = 0;
    seen = 0;
    while let Some(p) = t.get(start..).and_then(|r| find(r, b"${")) {
        let s = start + p + 2;
        start = s;
        seen += 1;
        if seen > 16 {
            break;
        }
        let mut j = s;
        while is_space(at(t, j)) {
            j += 1;
        }
        if sink_at(t, j) {
            return true;
        }
    }
    false
}

/// Whether a normalised (decoded, lower-cased) value carries an XSS payload.
pub fn detect(t: &[u8]) -> bool {
    // Tags.
    let mut i = 0;
    let mut tags = 0;
    while let Some(p) = t.get(i..).and_then(|r| r.iter().position(|&b| b == b'<')) {
        let at_lt = i + p;
        let (bad, next) = tag_at(t, at_lt);
        if bad {
            return true;
        }
        tags += 1;
        if tags >= MAX_TAGS {
            break;
        }
        // Resume right after `<`: markup inside attribute values (`<p title="<img
        // onerror=...>">`) is parsed again by browsers in mutation XSS.
        let _ = next;
        i = at_lt + 1;
    }
    // Attribute and JS-string breakouts after a quote.
    let mut quotes = 0;
    let mut k = 0;
    while let Some(p) = t
        .get(k..)
        .and_then(|r| r.iter().position(|&b| b == b'"' || b == b'\'' || b == b'`'))
    {
        let q = k + p;
        k = q + 1;
        quotes += 1;
        if quotes > MAX_QUOTES {
            break;
        }
        if js_breakout(t, q) {
            return true;
        }
        // `" onmouseover="alert(1)`, `' autofocus onfocus=alert(1) x='`
        let nb = at(t, q + 1);
        if is_space(nb) || nb == b'/' || nb.is_ascii_alphabetic() {
            let (bad, _) = attributes(t, q + 1, b"");
            if bad {
                return true;
            }
        }
    }
    // URL context.
    if free_script_url(t) {
        return true;
    }
    // A value that is a bare sink call: `alert(1)`, `prompt(document.domain)`.
    let lead = t.iter().take_while(|b| is_space(**b)).count();
    let rest = t.get(lead..).unwrap_or_default();
    if (rest.starts_with(b"alert") || rest.starts_with(b"prompt") || rest.starts_with(b"confirm"))
        && sink_at(t, lead)
    {
        return true;
    }
    if t.contains(&b'{') && template(t) {
        return true;
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
    fn tags_and_handlers() {
        let bad = [
            "<script>alert(1)</script>",
            "<ScRiPt>alert(1)</sCrIpT>",
            "<script src=//evil.example/x.js>",
            "<svg/onload=alert(1)>",
            "<svg onload=alert(1)",
            "<img src=x onerror=alert(1)>",
            "<img src=\"x\" onerror=\"alert(1)\">",
            "<body onload=alert(1)>",
            "<iframe src=\"javascript:alert(1)\">",
            "<iframe srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\">",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
            "<a href=\" &#14; javascript:alert(1)\">x</a>",
            "<object data=\"data:text/html;base64,PHNjcmlwdD4=\">",
            "<embed src=x.swf>",
            "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
            "<details open ontoggle=alert(1)>",
            "<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">alert(1)</x:script>",
            "<div style=\"width:expression(alert(1))\">",
            "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
            "<svg><set attributeName=href to=javascript:alert(1)>",
            "<form><button formaction=javascript:alert(1)>x",
            "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "&lt;img src=x onerror=alert(1)&gt;",
            "<scr<script>ipt>alert(1)</script>",
            "<IMG \"\"\"><SCRIPT>alert(\"XSS\")</SCRIPT>\">",
            "\"><script>alert(1)</script>",
            "'><img src=x onerror=prompt(1)>",
        ];
        let bad = crate::test_util::wrong(&bad, true, d);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn contexts_without_tags() {
        let bad = [
            "\" onmouseover=\"alert(1)",
            "' autofocus onfocus=alert(1) x='",
            "\" onfocus=alert(1) autofocus=\"",
            "';alert(1)//",
            "\";alert(document.cookie);//",
            "'-alert(1)-'",
            "\"+prompt(1)+\"",
            "');alert(1);//",
            "javascript:alert(1)",
            " JaVaScRiPt:alert(document.domain)",
            "javascript://%0aalert(1)",
            "java\tscript:alert(1)",
            "[click](javascript:alert(1))",
            "data:text/html,<b>x</b>",
            "{{constructor.constructor('alert(1)')()}}",
            "{{$on.constructor('alert(1)')()}}",
            "${alert(1)}",
            "alert(1)",
            "alert`1`",
        ];
        let bad = crate::test_util::wrong(&bad, true, d);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn benign_near_misses() {
        let bad = [
            "a < b and c > d",
            "I <3 this",
            "<b>bold</b> and <i>italic</i>",
            "<a href=\"https://example.com\">link</a>",
            "<img src=\"cat.png\" alt=\"cat\">",
            "<div class=\"online\">",
            "JavaScript: The Good Parts (2008)",
            "javascript: the good parts",
            "Hello {{name}}, your order {{order.id}} shipped",
            "if (a < b && c > d) { return x; }",
            "List<String> names = new ArrayList<>();",
            "He said \"hello\" and left",
            "it's 5 o'clock",
            "use ${HOME}/bin",
            "time: 10:30",
            "see https://example.com/a?b=c",
            "<p>Price: 5 < 10</p>",
            "The user said 'ok' - then left",
            "console.log('done');",
            "email me at a@b.com",
        ];
        let bad = crate::test_util::wrong(&bad, false, d);
        assert!(bad.is_empty(), "{bad:?}");
    }
}
