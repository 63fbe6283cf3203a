//! SQL injection, in the manner of libinjection: the value is tokenized as SQL in the
//! three quote contexts (as if it followed `... = `, `... = '`, `... = "`), tokens are
//! folded (`UNION ALL`, `ORDER BY`, `IS NOT`, `NOT LIKE`, versioned comments, inline
//! comments) and the token stream that follows the breakout point must parse as a SQL
//! continuation (logic operators, `UNION SELECT`, stacked statements, `ORDER BY`,
//! `HAVING`, comments) that carries injection evidence: a tautology, a subquery, a
//! time/error/file function, a stacked statement, or a comment truncating the query.
//!
//! The breakout is anchored: at the start of the value (no quote) or right after the
//! first unescaped quote. Prose, names (O'Brien) and code rarely parse as a SQL
//! continuation from there, which is what keeps false positives low. At most
//! [`MAX_TOKENS`] tokens are looked at per context.

/// Tokens looked at per quote context.
pub const MAX_TOKENS: usize = 48;
/// Nesting bound of the parser.
const MAX_DEPTH: u8 = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kw {
    Select,
    From,
    Where,
    Insert,
    Into,
    Update,
    Set,
    Delete,
    Drop,
    Create,
    Alter,
    Truncate,
    Exec,
    Declare,
    Waitfor,
    Shutdown,
    Having,
    Limit,
    Offset,
    Null,
    True,
    Not,
    In,
    Between,
    Case,
    End,
    As,
    Outfile,
    Procedure,
    Values,
    Join,
    On,
    Exists,
    Order, // asc / desc
    Distinct,
    Top,
    Escape,
    Collate,
    Grant,
    Using,
    /// table, database, schema, view, index, user, ... (also usable as a name)
    Object,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fc {
    /// Time, error, file and exec functions (`sleep`, `extractvalue`, ...).
    Strong,
    /// Ordinary SQL functions (`char`, `ascii`, `if`, `concat`, ...).
    Known,
    /// A word directly followed by `(`.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tk {
    Str { empty: bool },
    Num,
    Var,
    Bare,
    Func(Fc),
    Kw(Kw),
    Union,
    GroupBy,
    Logic,
    Cmp,
    Arith,
    Star,
    Bang,
    LParen,
    RParen,
    Comma,
    Semi,
    Comment { bare: bool },
    Other,
}

const STRONG_FUNCS: &[&[u8]] = &[
    b"sleep",
    b"benchmark",
    b"pg_sleep",
    b"pg_sleep_for",
    b"extractvalue",
    b"updatexml",
    b"load_file",
    b"randomblob",
    b"dbms_pipe.receive_message",
    b"dbms_lock.sleep",
    b"dbms_xmlgen.getxml",
    b"utl_inaddr.get_host_address",
    b"utl_inaddr.get_host_name",
    b"utl_http.request",
    b"ctxsys.drithsx.sn",
    b"xp_cmdshell",
    b"xp_dirtree",
    b"master..xp_cmdshell",
    b"master..xp_dirtree",
    b"sys_eval",
    b"sys_exec",
    b"geometrycollection",
    b"multipoint",
    b"multipolygon",
    b"multilinestring",
    b"linestring",
    b"polygon",
    b"name_const",
    b"gtid_subset",
    b"json_keys",
    b"pg_read_file",
    b"pg_ls_dir",
    b"lo_import",
    b"openrowset",
    b"opendatasource",
    b"xmltype",
    b"make_set",
    b"exp",
];

const KNOWN_FUNCS: &[&[u8]] = &[
    b"if",
    b"iif",
    b"ifnull",
    b"isnull",
    b"nullif",
    b"coalesce",
    b"nvl",
    b"char",
    b"chr",
    b"nchar",
    b"concat",
    b"concat_ws",
    b"group_concat",
    b"string_agg",
    b"listagg",
    b"ascii",
    b"unicode",
    b"ord",
    b"hex",
    b"unhex",
    b"bin",
    b"substring",
    b"substr",
    b"mid",
    b"left",
    b"right",
    b"length",
    b"len",
    b"char_length",
    b"lower",
    b"upper",
    b"reverse",
    b"replace",
    b"cast",
    b"convert",
    b"version",
    b"database",
    b"schema",
    b"user",
    b"current_user",
    b"system_user",
    b"session_user",
    b"user_name",
    b"db_name",
    b"current_database",
    b"count",
    b"sum",
    b"min",
    b"max",
    b"avg",
    b"rand",
    b"random",
    b"floor",
    b"ceil",
    b"round",
    b"md5",
    b"sha1",
    b"sha2",
    b"pow",
    b"abs",
    b"now",
    b"sysdate",
    b"instr",
    b"locate",
    b"position",
    b"strcmp",
    b"elt",
    b"field",
    b"lpad",
    b"rpad",
    b"trim",
    b"space",
    b"repeat",
    b"json_extract",
    b"to_char",
    b"to_number",
    b"quote",
    b"typeof",
    b"sqlite_version",
    b"regexp_substr",
    b"bit_length",
    b"crc32",
    b"connection_id",
    b"last_insert_id",
    b"row_count",
    b"found_rows",
];

fn keyword(w: &[u8]) -> Option<Tk> {
    let k = match w {
        b"select" => Kw::Select,
        b"from" => Kw::From,
        b"where" => Kw::Where,
        b"insert" => Kw::Insert,
        b"into" => Kw::Into,
        b"update" => Kw::Update,
        b"set" => Kw::Set,
        b"delete" => Kw::Delete,
        b"drop" => Kw::Drop,
        b"create" => Kw::Create,
        b"alter" => Kw::Alter,
        b"truncate" => Kw::Truncate,
        b"exec" | b"execute" => Kw::Exec,
        b"declare" => Kw::Declare,
        b"waitfor" => Kw::Waitfor,
        b"shutdown" => Kw::Shutdown,
        b"having" => Kw::Having,
        b"limit" => Kw::Limit,
        b"offset" => Kw::Offset,
        b"null" => Kw::Null,
        b"true" | b"false" => Kw::True,
        b"not" => Kw::Not,
        b"in" => Kw::In,
        b"between" => Kw::Between,
        b"case" => Kw::Case,
        b"end" => Kw::End,
        b"as" => Kw::As,
        b"outfile" | b"dumpfile" => Kw::Outfile,
        b"procedure" => Kw::Procedure,
        b"values" => Kw::Values,
        b"join" => Kw::Join,
        b"on" => Kw::On,
        b"exists" => Kw::Exists,
        b"asc" | b"desc" => Kw::Order,
        b"distinct" | b"all" => Kw::Distinct,
        b"top" => Kw::Top,
        b"escape" => Kw::Escape,
        b"collate" => Kw::Collate,
        b"grant" => Kw::Grant,
        b"using" => Kw::Using,
        b"table" | b"database" | b"schema" | b"view" | b"index" | b"trigger" | b"function"
        | b"user" | b"login" | b"tables" | b"databases" => Kw::Object,
        b"and" | b"or" | b"xor" => return Some(Tk::Logic),
        b"like" | b"rlike" | b"regexp" | b"glob" | b"ilike" | b"is" | b"sounds" => {
            return Some(Tk::Cmp)
        }
        b"div" | b"mod" => return Some(Tk::Arith),
        b"union" => return Some(Tk::Union),
        _ => return None,
    };
    Some(Tk::Kw(k))
}

/// Whether a value made only of words (lower-case ASCII letters and digits) separated
/// by spaces, commas and full stops could be an injection at all: only when one of its
/// words (split at all three, and any tail of a word that starts with a digit: `1or`)
/// is a keyword
/// (or `order`/`group`, which fold with `by`). Without one, every token is a bare word
/// or a number (functions need `(`, strings a quote, comments and operators their
/// punctuation), and no rule takes evidence from those alone. Lets the caller skip
/// [`detect`] for prose such as `standard delivery` (`words_without_keywords_never_fire`
/// checks the claim against [`detect`]).
pub fn words_may_inject(t: &[u8]) -> bool {
    let kw = |w: &[u8]| keyword(w).is_some() || w == b"order" || w == b"group";
    t.split(|&b| matches!(b, b' ' | b',' | b'.')).any(|w| {
        // The lexer ends a number where a letter follows (`1or`, `1.5and`,
        // `0x1fxor`): the tail of a word starting with a digit may be a keyword.
        kw(w) || (w.first().is_some_and(u8::is_ascii_digit) && (1..w.len()).any(|i| kw(&w[i..])))
    })
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'.' || b >= 0x80
}

/// Tokens of one value in one quote context.
struct Tokens {
    t: [Tk; MAX_TOKENS],
    n: usize,
    /// Lexing stopped at the token bound.
    truncated: bool,
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
    versioned: bool,
}

impl<'a> Lexer<'a> {
    fn at(&self, i: usize) -> u8 {
        self.s.get(i).copied().unwrap_or(0)
    }

    /// Skips whitespace and inline comments; returns a comment token when a block
    /// comment is left open.
    fn skip_ws(&mut self) -> Option<Tk> {
        loop {
            let b = self.at(self.i);
            if self.i >= self.s.len() {
                return None;
            }
            if b <= b' ' || (b == 0xA0 && (self.i == 0 || self.at(self.i - 1) < 0x80)) {
                self.i += 1;
            } else if b == b'/' && self.at(self.i + 1) == b'*' {
                if self.at(self.i + 2) == b'!' {
                    // MySQL versioned comment: its content is code.
                    self.i += 3;
                    while self.at(self.i).is_ascii_digit() {
                        self.i += 1;
                    }
                    self.versioned = true;
                    continue;
                }
                let body = self.s.get(self.i + 2..).unwrap_or_default();
                match body.windows(2).position(|w| w == b"*/") {
                    Some(p) => self.i += 2 + p + 2,
                    None => {
                        let bare = !body.iter().any(|b| b.is_ascii_alphanumeric());
                        self.i = self.s.len();
                        return Some(Tk::Comment { bare });
                    }
                }
            } else if b == b'*' && self.at(self.i + 1) == b'/' && self.versioned {
                self.i += 2;
            } else {
                return None;
            }
        }
    }

    /// The next word (letters) after whitespace from `i`, and its end.
    fn peek_word(&self, mut i: usize) -> (&'a [u8], usize) {
        while i < self.s.len() && self.at(i) <= b' ' {
            i += 1;
        }
        let start = i;
        while self.at(i).is_ascii_alphabetic() || self.at(i) == b'_' {
            i += 1;
        }
        (self.s.get(start..i).unwrap_or_default(), i)
    }

    fn next_non_ws(&self, mut i: usize) -> u8 {
        while i < self.s.len() && self.at(i) <= b' ' {
            i += 1;
        }
        self.at(i)
    }

    /// Quoted string from `self.i` (on the quote); escapes `\x` and doubled quotes.
    fn string(&mut self, q: u8) -> Tk {
        let start = self.i + 1;
        let mut j = start;
        while j < self.s.len() {
            let b = self.at(j);
            if b == b'\\' {
                j += 2;
                continue;
            }
            if b == q {
                if self.at(j + 1) == q {
                    j += 2;
                    continue;
                }
                self.i = j + 1;
                return Tk::Str { empty: j == start };
            }
            j += 1;
        }
        self.i = self.s.len();
        Tk::Str {
            empty: start >= self.s.len(),
        }
    }

    fn line_comment(&mut self, from: usize) -> Tk {
        let rest = self.s.get(from..).unwrap_or_default();
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let bare = !rest
            .get(..end)
            .unwrap_or_default()
            .iter()
            .any(|b| b.is_ascii_alphanumeric());
        self.i = from + end;
        Tk::Comment { bare }
    }

    fn word(&mut self) -> Tk {
        let start = self.i;
        let mut j = self.i;
        while is_word_byte(self.at(j)) && !(self.at(j) == 0xA0 && self.at(j.wrapping_sub(1)) < 0x80)
        {
            j += 1;
        }
        let w = self.s.get(start..j).unwrap_or_default();
        self.i = j;
        self.classify(w, j)
    }

    fn classify(&mut self, w: &[u8], end: usize) -> Tk {
        let paren_next = self.next_non_ws(end) == b'(';
        if paren_next {
            let is = |list: &[&[u8]]| {
                list.iter()
                    .any(|f| f.len() == w.len() && f.first() == w.first() && *f == w)
            };
            if is(STRONG_FUNCS) {
                return Tk::Func(Fc::Strong);
            }
            if is(KNOWN_FUNCS) {
                return Tk::Func(Fc::Known);
            }
        }
        if let Some(tk) = keyword(w) {
            match tk {
                Tk::Union => {
                    let (nw, e) = self.peek_word(end);
                    if nw == b"all" || nw == b"distinct" {
                        self.i = e;
                    }
                }
                Tk::Kw(Kw::Not) => {
                    let (nw, e) = self.peek_word(end);
                    match nw {
                        b"like" | b"rlike" | b"regexp" | b"ilike" => {
                            self.i = e;
                            return Tk::Cmp;
                        }
                        b"in" => {
                            self.i = e;
                            return Tk::Kw(Kw::In);
                        }
                        b"between" => {
                            self.i = e;
                            return Tk::Kw(Kw::Between);
                        }
                        b"exists" => {
                            self.i = e;
                            return Tk::Kw(Kw::Exists);
                        }
                        _ => {}
                    }
                }
                Tk::Cmp => {
                    // `is not`, `sounds like`
                    let (nw, e) = self.peek_word(end);
                    if (w == b"is" && nw == b"not") || (w == b"sounds" && nw == b"like") {
                        self.i = e;
                    }
                }
                _ => {}
            }
            return tk;
        }
        if w == b"order" || w == b"group" {
            let (nw, e) = self.peek_word(end);
            if nw == b"by" {
                self.i = e;
                return Tk::GroupBy;
            }
        }
        if self.at(end) == b'('
            && w.first()
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        {
            return Tk::Func(Fc::Unknown);
        }
        Tk::Bare
    }

    fn number(&mut self) -> Tk {
        let mut j = self.i;
        if self.at(j) == b'0' && matches!(self.at(j + 1), b'x' | b'b') {
            j += 2;
            while self.at(j).is_ascii_hexdigit() {
                j += 1;
            }
        } else {
            while self.at(j).is_ascii_digit() {
                j += 1;
            }
            if self.at(j) == b'.' {
                j += 1;
                while self.at(j).is_ascii_digit() {
                    j += 1;
                }
            }
            if self.at(j) == b'e'
                && (self.at(j + 1).is_ascii_digit() || matches!(self.at(j + 1), b'+' | b'-'))
            {
                j += 2;
                while self.at(j).is_ascii_digit() {
                    j += 1;
                }
            }
        }
        if is_word_byte(self.at(j)) && self.at(j) != b'.' {
            // `1union` is a number then a keyword; `1st`, `5px` are words.
            let mut k = j;
            while is_word_byte(self.at(k)) {
                k += 1;
            }
            let w = self.s.get(j..k).unwrap_or_default();
            if matches!(
                w,
                b"union"
                    | b"or"
                    | b"and"
                    | b"xor"
                    | b"order"
                    | b"group"
                    | b"from"
                    | b"limit"
                    | b"having"
                    | b"like"
            ) {
                self.i = j;
                return Tk::Num;
            }
            self.i = k;
            return Tk::Bare;
        }
        self.i = j;
        Tk::Num
    }

    fn next(&mut self) -> Option<Tk> {
        if let Some(c) = self.skip_ws() {
            return Some(c);
        }
        if self.i >= self.s.len() {
            return None;
        }
        let b = self.at(self.i);
        let b1 = self.at(self.i + 1);
        let tk = match b {
            b'\'' | b'"' => return Some(self.string(b)),
            b'`' => {
                let rest = self.s.get(self.i + 1..).unwrap_or_default();
                let e = rest
                    .iter()
                    .position(|&c| c == b'`')
                    .map_or(rest.len(), |p| p + 1);
                self.i += 1 + e;
                return Some(Tk::Bare);
            }
            b'0'..=b'9' => return Some(self.number()),
            b'.' if b1.is_ascii_digit() => return Some(self.number()),
            b'@' => {
                let mut j = self.i + 1;
                if self.at(j) == b'@' {
                    j += 1;
                }
                while is_word_byte(self.at(j)) {
                    j += 1;
                }
                self.i = j;
                return Some(Tk::Var);
            }
            b'-' if b1 == b'-' => return Some(self.line_comment(self.i + 2)),
            b'#' => return Some(self.line_comment(self.i + 1)),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' | 0x80..=0xFF => return Some(self.word()),
            b'=' => Tk::Cmp,
            b'<' | b'>' => {
                let mut j = self.i + 1;
                while matches!(self.at(j), b'=' | b'>' | b'<') && j < self.i + 3 {
                    j += 1;
                }
                self.i = j;
                return Some(Tk::Cmp);
            }
            b'!' if matches!(b1, b'=' | b'<' | b'>') => {
                self.i += 2;
                return Some(Tk::Cmp);
            }
            b'!' => Tk::Bang,
            b':' if b1 == b'=' => {
                self.i += 2;
                return Some(Tk::Cmp);
            }
            b'|' if b1 == b'|' => {
                self.i += 2;
                return Some(Tk::Logic);
            }
            b'&' if b1 == b'&' => {
                self.i += 2;
                return Some(Tk::Logic);
            }
            b'*' => Tk::Star,
            b'+' | b'-' | b'/' | b'%' | b'^' | b'~' | b'|' | b'&' => Tk::Arith,
            b'(' => Tk::LParen,
            b')' => Tk::RParen,
            b',' => Tk::Comma,
            b';' => Tk::Semi,
            _ => Tk::Other,
        };
        self.i += 1;
        Some(tk)
    }
}

/// Tokenizes `s` in context `quote` (0, `'` or `"`). In a quote context the first
/// token is the string closed by the first unescaped quote; `None` when there is none.
fn tokenize(s: &[u8], quote: u8) -> Option<Tokens> {
    let mut out = Tokens {
        t: [Tk::Other; MAX_TOKENS],
        n: 0,
        truncated: false,
    };
    let mut lx = Lexer {
        s,
        i: 0,
        versioned: false,
    };
    if quote != 0 {
        let mut j = 0;
        let close = loop {
            match s.get(j) {
                None => return None,
                Some(b'\\') => j += 2,
                Some(&b) if b == quote => {
                    if s.get(j + 1) == Some(&quote) {
                        j += 2;
                    } else {
                        break j;
                    }
                }
                Some(_) => j += 1,
            }
        };
        out.t[0] = Tk::Str { empty: close == 0 };
        out.n = 1;
        lx.i = close + 1;
    }
    while out.n < MAX_TOKENS {
        match lx.next() {
            Some(tk) => {
                if let Some(slot) = out.t.get_mut(out.n) {
                    *slot = tk;
                }
                out.n += 1;
            }
            None => return Some(out),
        }
    }
    out.truncated = lx.next().is_some();
    Some(out)
}

/// What the last operand was, for tautology detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operand {
    Const,
    Name,
    Call,
    Sub,
    None,
}

/// Facts about one parsed expression.
#[derive(Debug, Clone, Copy, Default)]
struct ExprFacts {
    cmp: bool,
    /// A comparison between constants, calls or subqueries (`1=1`, `'a'='a'`).
    taut: bool,
    known_func: bool,
    any_func: bool,
    subquery: bool,
    /// Operands seen.
    operands: u8,
    /// A `true`/`false` literal.
    boolean: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Evidence {
    /// Immediately conclusive (time/error functions, stacked statements, UNION SELECT,
    /// subqueries, WAITFOR, INTO OUTFILE).
    strong: bool,
    logic_quote: bool,
    logic_taut: bool,
    logic_const: bool,
    order_num: bool,
    having: bool,
    op: bool,
    union_weak: bool,
    semi_end: bool,
    comment: bool,
    bare_comment: bool,
    clauses: u8,
}

struct Parser<'t> {
    t: &'t [Tk],
    p: usize,
    depth: u8,
    truncated: bool,
    f: ExprFacts,
    ev: Evidence,
    last: Operand,
    /// Select list facts of the last SELECT parsed.
    sel_strong: bool,
    sel_from: bool,
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<Tk> {
        self.t.get(self.p).copied()
    }

    fn bump(&mut self) {
        self.p += 1;
    }

    fn eat(&mut self, tk: Tk) -> bool {
        if self.peek() == Some(tk) {
            self.p += 1;
            true
        } else {
            false
        }
    }

    fn at_end(&self) -> bool {
        self.p >= self.t.len()
    }

    /// A closing parenthesis, or the end of input (the query's own text closes it).
    fn close(&mut self) -> bool {
        self.eat(Tk::RParen) || self.at_end()
    }

    fn enter(&mut self) -> bool {
        if self.depth >= MAX_DEPTH {
            return false;
        }
        self.depth += 1;
        true
    }

    fn expr(&mut self) -> bool {
        if !self.enter() {
            return false;
        }
        let ok = self.expr_inner();
        self.depth -= 1;
        ok
    }

    fn expr_inner(&mut self) -> bool {
        let mut cmp_left: Option<Operand> = None;
        loop {
            while matches!(self.peek(), Some(Tk::Arith | Tk::Bang | Tk::Kw(Kw::Not))) {
                self.bump();
            }
            if !self.primary() {
                return self.at_end() && self.truncated;
            }
            self.f.operands = self.f.operands.saturating_add(1);
            if let Some(l) = cmp_left.take() {
                let ok = |o: Operand| matches!(o, Operand::Const | Operand::Call | Operand::Sub);
                if ok(l) && ok(self.last) {
                    self.f.taut = true;
                }
            }
            loop {
                match self.peek() {
                    Some(Tk::Cmp) => {
                        self.bump();
                        self.f.cmp = true;
                        cmp_left = Some(self.last);
                        break;
                    }
                    Some(Tk::Arith | Tk::Star) => {
                        self.bump();
                        break;
                    }
                    Some(Tk::Kw(Kw::In)) => {
                        self.bump();
                        self.f.cmp = true;
                        if !self.eat(Tk::LParen) {
                            return false;
                        }
                        if self.peek() == Some(Tk::Kw(Kw::Select)) {
                            if !self.select() {
                                return false;
                            }
                            self.f.subquery = true;
                        } else if !self.list() {
                            return false;
                        }
                        if !self.close() {
                            return false;
                        }
                        self.f.taut = true;
                    }
                    Some(Tk::Kw(Kw::Between)) => {
                        self.bump();
                        self.f.cmp = true;
                        self.f.taut = true;
                        if !self.primary() || !self.eat(Tk::Logic) || !self.primary() {
                            return false;
                        }
                    }
                    Some(Tk::Kw(Kw::Collate | Kw::Escape)) => {
                        self.bump();
                        if !self.primary() {
                            return false;
                        }
                    }
                    _ => return true,
                }
            }
        }
    }

    fn primary(&mut self) -> bool {
        let Some(tk) = self.peek() else {
            return false;
        };
        match tk {
            Tk::Str { .. } | Tk::Num | Tk::Var | Tk::Kw(Kw::Null | Kw::True) => {
                if tk == Tk::Kw(Kw::True) {
                    self.f.boolean = true;
                }
                self.bump();
                self.last = Operand::Const;
                true
            }
            Tk::Bare | Tk::Kw(Kw::Object) => {
                self.bump();
                self.last = Operand::Name;
                true
            }
            Tk::Star => {
                self.bump();
                self.last = Operand::Name;
                true
            }
            Tk::Func(c) => {
                self.bump();
                match c {
                    Fc::Strong => self.ev.strong = true,
                    Fc::Known => self.f.known_func = true,
                    Fc::Unknown => {}
                }
                self.f.any_func = true;
                if !self.eat(Tk::LParen) {
                    return false;
                }
                if !self.eat(Tk::RParen) {
                    if self.peek() == Some(Tk::Kw(Kw::Select)) {
                        if !self.select() {
                            return false;
                        }
                        self.f.subquery = true;
                    } else {
                        self.eat(Tk::Kw(Kw::Distinct));
                        if !self.list() {
                            return false;
                        }
                    }
                    if self.eat(Tk::Kw(Kw::As)) || self.eat(Tk::Kw(Kw::Using)) {
                        if !self.primary() {
                            return false;
                        }
                        if self.eat(Tk::LParen) {
                            self.list();
                            self.close();
                        }
                    }
                    if !self.close() {
                        return false;
                    }
                }
                self.last = Operand::Call;
                true
            }
            Tk::LParen | Tk::Kw(Kw::Exists) => {
                self.bump();
                if tk == Tk::Kw(Kw::Exists) && !self.eat(Tk::LParen) {
                    return false;
                }
                if self.peek() == Some(Tk::Kw(Kw::Select)) {
                    if !self.select() {
                        return false;
                    }
                    self.f.subquery = true;
                    if !self.close() {
                        return false;
                    }
                    self.last = Operand::Sub;
                    return true;
                }
                let outer = self.f;
                self.f = ExprFacts::default();
                if !self.list() {
                    return false;
                }
                let inner = self.f;
                self.f = merge(outer, inner);
                if !self.close() {
                    return false;
                }
                // `(1=1)` is a constant, `(1)` stays what it held.
                if inner.cmp {
                    self.last = Operand::Const;
                }
                true
            }
            Tk::Kw(Kw::Case) => {
                self.bump();
                let mut k = 0;
                while let Some(t) = self.peek() {
                    self.bump();
                    if t == Tk::Kw(Kw::End) {
                        break;
                    }
                    if let Tk::Func(Fc::Strong) = t {
                        self.ev.strong = true;
                    }
                    k += 1;
                    if k > 24 {
                        return false;
                    }
                }
                self.f.known_func = true;
                self.last = Operand::Call;
                true
            }
            _ => false,
        }
    }

    /// `expr (logic expr)*`
    fn logic_expr(&mut self) -> bool {
        if !self.expr() {
            return false;
        }
        while self.eat(Tk::Logic) {
            if !self.expr() {
                return false;
            }
        }
        true
    }

    /// Comma-separated logic expressions.
    fn list(&mut self) -> bool {
        if !self.logic_expr() {
            return false;
        }
        while self.eat(Tk::Comma) {
            if !self.logic_expr() {
                return false;
            }
        }
        true
    }

    fn alias(&mut self) {
        if self.eat(Tk::Kw(Kw::As)) {
            if matches!(self.peek(), Some(Tk::Bare | Tk::Str { .. })) {
                self.bump();
            }
        } else if self.peek() == Some(Tk::Bare) {
            self.bump();
        }
    }

    /// A SELECT statement (at the SELECT keyword); sets `sel_strong` / `sel_from`.
    fn select(&mut self) -> bool {
        if !self.enter() {
            return false;
        }
        let ok = self.select_inner();
        self.depth -= 1;
        ok
    }

    fn select_inner(&mut self) -> bool {
        self.bump(); // select
        let saved = self.f;
        self.f = ExprFacts::default();
        let mut strong = false;
        while let Some(Tk::Kw(Kw::Distinct | Kw::Top)) = self.peek() {
            if self.peek() == Some(Tk::Kw(Kw::Top)) {
                self.bump();
                self.eat(Tk::Num);
            } else {
                self.bump();
            }
        }
        let mut items = 0;
        loop {
            if self.peek() == Some(Tk::Star) {
                self.bump();
                strong = true;
            } else {
                if !self.logic_expr() {
                    return false;
                }
                if matches!(self.last, Operand::Const | Operand::Call | Operand::Sub) {
                    strong = true;
                }
            }
            items += 1;
            self.alias();
            if !self.eat(Tk::Comma) {
                break;
            }
        }
        if items > 1 || self.f.any_func || self.f.subquery {
            strong = true;
        }
        let mut from = false;
        if self.eat(Tk::Kw(Kw::From)) {
            from = true;
            if !self.table_refs() {
                return false;
            }
        }
        if self.eat(Tk::Kw(Kw::Where)) && !self.logic_expr() {
            return false;
        }
        for _ in 0..2 {
            if self.eat(Tk::GroupBy) {
                if !self.list() {
                    return false;
                }
                self.eat(Tk::Kw(Kw::Order));
            }
            if self.eat(Tk::Kw(Kw::Having)) && !self.logic_expr() {
                return false;
            }
        }
        if self.eat(Tk::Kw(Kw::Limit)) {
            if !self.eat(Tk::Num) {
                return false;
            }
            if (self.eat(Tk::Comma) || self.eat(Tk::Kw(Kw::Offset))) && !self.eat(Tk::Num) {
                return false;
            }
        }
        if self.eat(Tk::Kw(Kw::Into)) {
            if self.eat(Tk::Kw(Kw::Outfile)) {
                self.ev.strong = true;
            }
            if !matches!(self.peek(), Some(Tk::Str { .. } | Tk::Bare | Tk::Var)) {
                return false;
            }
            self.bump();
        }
        // `select ... union select ...` inside a subquery
        if self.peek() == Some(Tk::Union) {
            self.bump();
            while self.eat(Tk::LParen) {}
            if self.peek() != Some(Tk::Kw(Kw::Select)) {
                return false;
            }
            let (s, f) = (strong, from);
            if !self.select() {
                return false;
            }
            strong |= s || self.sel_strong;
            from |= f;
        }
        let inner = self.f;
        self.f = merge(saved, inner);
        self.sel_strong = strong;
        self.sel_from = from;
        true
    }

    fn table_refs(&mut self) -> bool {
        loop {
            match self.peek() {
                Some(Tk::Bare | Tk::Kw(Kw::Object) | Tk::Str { .. }) => self.bump(),
                Some(Tk::Func(_)) => {
                    if !self.primary() {
                        return false;
                    }
                }
                Some(Tk::LParen) => {
                    self.bump();
                    if self.peek() == Some(Tk::Kw(Kw::Select)) {
                        if !self.select() {
                            return false;
                        }
                    } else if !self.table_refs() {
                        return false;
                    }
                    if !self.close() {
                        return false;
                    }
                }
                _ => return false,
            }
            self.alias();
            if self.eat(Tk::Kw(Kw::Join)) {
                continue;
            }
            if self.eat(Tk::Kw(Kw::On)) && !self.logic_expr() {
                return false;
            }
            if self.eat(Tk::Kw(Kw::Join)) || self.eat(Tk::Comma) {
                continue;
            }
            return true;
        }
    }

    /// A statement after `;` (or at the start of the value). Returns whether it is a
    /// complete enough statement to be an injection.
    fn statement(&mut self) -> bool {
        let Some(tk) = self.peek() else {
            return false;
        };
        self.bump();
        let next = self.peek();
        match tk {
            Tk::Kw(Kw::Select) => {
                self.p -= 1;
                self.select() && (self.sel_strong || self.sel_from)
            }
            Tk::Kw(Kw::Drop | Kw::Create | Kw::Alter | Kw::Truncate) => {
                matches!(next, Some(Tk::Kw(Kw::Object)))
                    && matches!(
                        self.t.get(self.p + 1),
                        Some(Tk::Bare | Tk::Kw(Kw::Object) | Tk::Str { .. } | Tk::Func(_))
                    )
            }
            Tk::Kw(Kw::Delete) => {
                next == Some(Tk::Kw(Kw::From))
                    && matches!(self.t.get(self.p + 1), Some(Tk::Bare | Tk::Kw(Kw::Object)))
            }
            Tk::Kw(Kw::Insert) => next == Some(Tk::Kw(Kw::Into)),
            Tk::Kw(Kw::Update) => {
                matches!(next, Some(Tk::Bare | Tk::Kw(Kw::Object)))
                    && self.t.get(self.p + 1) == Some(&Tk::Kw(Kw::Set))
            }
            Tk::Kw(Kw::Exec) => matches!(
                next,
                Some(Tk::Bare | Tk::Func(_) | Tk::Var | Tk::LParen | Tk::Str { .. })
            ),
            Tk::Kw(Kw::Declare) => next == Some(Tk::Var),
            Tk::Kw(Kw::Set) => next == Some(Tk::Var),
            Tk::Kw(Kw::Waitfor) | Tk::Kw(Kw::Shutdown) => true,
            Tk::Kw(Kw::Grant) => true,
            Tk::Func(Fc::Strong) => true,
            Tk::Func(Fc::Known) => {
                // `; if (1=1) waitfor delay ...`
                self.p -= 1;
                let ok = self.primary();
                ok && matches!(self.peek(), Some(Tk::Kw(Kw::Waitfor | Kw::Select)))
            }
            _ => false,
        }
    }

    /// A complete statement at the start of the value (`drop table users`,
    /// `delete from users where ...`, `insert into t values ...`,
    /// `update t set c = ...`, `exec xp_cmdshell '...'`).
    fn statement_at_start(&self) -> bool {
        let t = |k: usize| self.t.get(self.p + k).copied();
        let name = |x: Option<Tk>| matches!(x, Some(Tk::Bare | Tk::Kw(Kw::Object)));
        let ends = |x: Option<Tk>| matches!(x, None | Some(Tk::Semi | Tk::Comment { .. }));
        match t(0) {
            Some(Tk::Kw(Kw::Drop | Kw::Create | Kw::Alter | Kw::Truncate)) => {
                t(1) == Some(Tk::Kw(Kw::Object))
                    && (name(t(2))
                        || matches!(t(2), Some(Tk::Str { .. })) && ends(t(3))
                        || matches!(t(2), Some(Tk::Func(_))))
                    && (ends(t(3)) || matches!(t(2), Some(Tk::Func(_))) || t(3) == Some(Tk::LParen))
            }
            Some(Tk::Kw(Kw::Delete)) => {
                t(1) == Some(Tk::Kw(Kw::From))
                    && name(t(2))
                    && (ends(t(3)) || t(3) == Some(Tk::Kw(Kw::Where)))
            }
            Some(Tk::Kw(Kw::Insert)) => {
                t(1) == Some(Tk::Kw(Kw::Into))
                    && (matches!(t(2), Some(Tk::Func(_)))
                        || name(t(2))
                            && matches!(t(3), Some(Tk::Kw(Kw::Values | Kw::Select) | Tk::LParen)))
            }
            Some(Tk::Kw(Kw::Update)) => {
                name(t(1)) && t(2) == Some(Tk::Kw(Kw::Set)) && name(t(3)) && t(4) == Some(Tk::Cmp)
            }
            Some(Tk::Kw(Kw::Exec)) => {
                matches!(t(1), Some(Tk::Bare | Tk::Func(_)))
                    && matches!(t(2), Some(Tk::Str { .. } | Tk::Var | Tk::LParen))
            }
            Some(Tk::Kw(Kw::Declare)) => t(1) == Some(Tk::Var),
            Some(Tk::Kw(Kw::Waitfor)) => {
                t(1) == Some(Tk::Bare) && matches!(t(2), Some(Tk::Str { .. }))
            }
            _ => false,
        }
    }

    /// The continuation after the breakout point. Returns whether everything up to the
    /// end parsed; evidence accumulates in `self.ev`.
    fn continuation(&mut self, quoted: bool) -> bool {
        loop {
            let Some(tk) = self.peek() else {
                return true;
            };
            match tk {
                Tk::Comment { bare } => {
                    self.bump();
                    self.ev.comment = true;
                    self.ev.bare_comment |= bare;
                }
                Tk::RParen => self.bump(),
                Tk::Logic => {
                    self.bump();
                    self.f = ExprFacts::default();
                    self.last = Operand::None;
                    if !self.expr() {
                        return false;
                    }
                    let f = self.f;
                    if f.subquery {
                        self.ev.strong = true;
                    }
                    if quoted && (f.cmp || f.known_func || f.any_func || f.operands >= 2) {
                        self.ev.logic_quote = true;
                    }
                    if f.taut || f.known_func || (f.boolean && f.operands == 1) {
                        self.ev.logic_taut = true;
                    }
                    if f.operands == 1 && !f.cmp {
                        self.ev.logic_const |= matches!(self.last, Operand::Const | Operand::Name);
                    }
                    self.ev.clauses += 1;
                }
                Tk::Cmp | Tk::Arith | Tk::Star => {
                    self.bump();
                    self.f = ExprFacts::default();
                    if !self.expr() {
                        return false;
                    }
                    if self.f.subquery {
                        self.ev.strong = true;
                    }
                    if self.f.known_func && quoted {
                        self.ev.logic_quote = true;
                    }
                    self.ev.op = true;
                    self.ev.clauses += 1;
                }
                Tk::Union => {
                    self.bump();
                    while self.eat(Tk::LParen) {}
                    if self.peek() != Some(Tk::Kw(Kw::Select)) {
                        return false;
                    }
                    if !self.select() {
                        return false;
                    }
                    if self.sel_strong || self.sel_from {
                        self.ev.strong = true;
                        return true;
                    }
                    self.ev.union_weak = true;
                    self.ev.clauses += 1;
                }
                Tk::GroupBy => {
                    self.bump();
                    let num = self.peek() == Some(Tk::Num);
                    self.f = ExprFacts::default();
                    if !self.list() {
                        return false;
                    }
                    self.eat(Tk::Kw(Kw::Order));
                    self.ev.order_num |= num;
                    self.ev.clauses += 1;
                }
                Tk::Kw(Kw::Having) => {
                    self.bump();
                    self.f = ExprFacts::default();
                    if !self.logic_expr() {
                        return false;
                    }
                    self.ev.having |= self.f.taut || (quoted && self.f.cmp);
                    self.ev.clauses += 1;
                }
                Tk::Kw(Kw::Limit) => {
                    self.bump();
                    if !self.eat(Tk::Num) {
                        return false;
                    }
                    if (self.eat(Tk::Comma) || self.eat(Tk::Kw(Kw::Offset))) && !self.eat(Tk::Num) {
                        return false;
                    }
                }
                Tk::Kw(Kw::Into) => {
                    self.bump();
                    match self.peek() {
                        Some(Tk::Kw(Kw::Outfile)) => {
                            self.ev.strong = true;
                            return true;
                        }
                        // `into @x`
                        Some(Tk::Var) => self.bump(),
                        _ => return false,
                    }
                }
                Tk::Kw(Kw::Waitfor) => {
                    self.bump();
                    if matches!(self.peek(), Some(Tk::Bare)) {
                        self.ev.strong = true;
                        return true;
                    }
                    return false;
                }
                Tk::Kw(Kw::Procedure) => {
                    self.bump();
                    if matches!(self.peek(), Some(Tk::Func(_))) {
                        self.ev.strong = true;
                        return true;
                    }
                    return false;
                }
                Tk::Semi => {
                    self.bump();
                    match self.peek() {
                        None | Some(Tk::Comment { .. }) => self.ev.semi_end = true,
                        Some(_) => {
                            if self.statement() {
                                self.ev.strong = true;
                                return true;
                            }
                            return false;
                        }
                    }
                }
                _ => return false,
            }
        }
    }
}

fn merge(a: ExprFacts, b: ExprFacts) -> ExprFacts {
    ExprFacts {
        cmp: a.cmp || b.cmp,
        taut: a.taut || b.taut,
        known_func: a.known_func || b.known_func,
        any_func: a.any_func || b.any_func,
        subquery: a.subquery || b.subquery,
        operands: a.operands.saturating_add(b.operands),
        boolean: a.boolean || b.boolean,
    }
}

fn parser(toks: &Tokens) -> Parser<'_> {
    Parser {
        t: toks.t.get(..toks.n).unwrap_or_default(),
        p: 0,
        depth: 0,
        truncated: toks.truncated,
        f: ExprFacts::default(),
        ev: Evidence::default(),
        last: Operand::None,
        sel_strong: false,
        sel_from: false,
    }
}

/// Injection in the quote context `quote` (`'` or `"`).
fn quoted(s: &[u8], quote: u8) -> bool {
    let Some(toks) = tokenize(s, quote) else {
        return false;
    };
    let mut p = parser(&toks);
    let first_empty = matches!(toks.t.first(), Some(Tk::Str { empty: true }));
    p.bump();
    let valid = p.continuation(true);
    let ev = p.ev;
    if ev.strong {
        return true;
    }
    if !valid {
        return false;
    }
    ev.logic_quote
        || ev.logic_taut
        || ev.having
        || ev.union_weak
        || ev.order_num
        // `admin'--`, `admin')#`, `x' or 1--`, `'; --`
        || (ev.comment && (ev.clauses == 0 || ev.logic_const || ev.semi_end))
        // `'='`, `'-'`, `'*'`
        || (first_empty && ev.op && ev.clauses == 1)
}

/// Injection with no quote: the value starts as a number/name/expression.
fn unquoted(s: &[u8]) -> bool {
    let Some(toks) = tokenize(s, 0) else {
        return false;
    };
    let mut p = parser(&toks);
    match p.peek() {
        None => return false,
        Some(Tk::Kw(
            Kw::Select
            | Kw::Insert
            | Kw::Update
            | Kw::Delete
            | Kw::Drop
            | Kw::Create
            | Kw::Alter
            | Kw::Truncate
            | Kw::Exec
            | Kw::Declare
            | Kw::Waitfor,
        )) => {
            // A whole statement at the start of the value: conclusive only if it
            // has the complete shape of one.
            if p.peek() == Some(Tk::Kw(Kw::Select)) {
                if !p.select() || !(p.sel_strong || p.sel_from) {
                    return false;
                }
                return p.continuation(false);
            }
            return p.statement_at_start();
        }
        Some(Tk::Logic | Tk::Union | Tk::GroupBy | Tk::Semi | Tk::RParen | Tk::Kw(Kw::Having)) => {}
        Some(_) => {
            if !p.expr() {
                return p.ev.strong;
            }
            // `sleep(5)#`, `if(now()=sysdate(),sleep(5),0)`, `1 rlike (select ...)`:
            // conclusive when nothing unrelated follows.
            if p.ev.strong || (p.f.subquery && p.f.cmp) {
                let mut q = parser(&toks);
                q.p = p.p;
                return q.continuation(false);
            }
            // A lone value (`42`, `hello`, `1+1=2`) is no injection.
            if p.at_end() {
                return false;
            }
        }
    }
    let valid = p.continuation(false);
    let ev = p.ev;
    if ev.strong {
        return true;
    }
    if !valid {
        return false;
    }
    ev.logic_taut
        || ev.having
        || (ev.order_num && ev.comment)
        || (ev.union_weak && ev.comment)
        || (ev.bare_comment && ev.logic_const)
}

/// Whether a normalised (decoded, lower-cased) value is a SQL injection.
pub fn detect(t: &[u8]) -> bool {
    // Cheap pre-filter: every shape needs a quote, a space-like separator, a
    // parenthesis, a comment or an operator.
    if !t.iter().any(|&b| {
        matches!(
            b,
            b'\''
                | b'"'
                | b' '
                | b'\t'
                | b'\n'
                | b'\r'
                | 0x0b
                | 0x0c
                | 0xa0
                | b'('
                | b')'
                | b'#'
                | b'-'
                | b';'
                | b'/'
                | b'='
                | b'|'
                | b'&'
                | b'`'
        )
    }) {
        return false;
    }
    if unquoted(t) {
        return true;
    }
    (t.contains(&b'\'') && quoted(t, b'\'')) || (t.contains(&b'"') && quoted(t, b'"'))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn d(s: &str) -> bool {
        detect(&crate::detect::decode::normalize(s.as_bytes(), true).text)
    }

    #[test]
    fn tautologies() {
        let bad = [
            "' or '1'='1",
            "1' or '1'='1",
            "admin' or 1=1--",
            "1 or 1=1",
            "1) or (1=1",
            "' or ''='",
            "\" or \"\"=\"",
            "' or 'x'='x",
            "' or true--",
            "' or 1#",
            "x' or a=a--",
            "') or ('a'='a",
            "or 1=1--",
            "1'or'1'='1",
            "' OR 1=1 LIMIT 1 -- -",
            "1 AND 1=2",
            "' and 1 in (1)--",
            "'='",
            "'-'",
            "' or username like '%",
            "-1 or 2%2b2=4",
            "1' and '1'='1",
        ];
        let bad = crate::test_util::wrong(&bad, true, d);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn union_stacked_blind() {
        let bad = [
            "1 union select 1,2,3",
            "-1 UNION ALL SELECT null,null--",
            "' union select username, password from users--",
            "1/**/union/**/select/**/1,2",
            "1 /*!50000union*/ /*!50000select*/ 1,2",
            "1 union(select(1),(2))",
            "'; drop table users--",
            "1; DROP TABLE users",
            "'; exec master..xp_cmdshell 'ping 1.2.3.4'--",
            "1; waitfor delay '0:0:5'--",
            "' waitfor delay '0:0:5'--",
            "1 and sleep(5)",
            "1' and sleep(5) and '1'='1",
            "sleep(5)#",
            "1 AND (SELECT * FROM (SELECT(SLEEP(5)))a)",
            "' || pg_sleep(10)--",
            "1;select pg_sleep(5)",
            "0'xor(if(now()=sysdate(),sleep(15),0))xor'z",
            "if(now()=sysdate(),sleep(15),0)",
            "' and extractvalue(1,concat(0x7e,version()))--",
            "1 and updatexml(1,concat(0x7e,(select user())),1)",
            "1 order by 5--",
            "1' ORDER BY 3--+",
            "' group by columnnames having 1=1 --",
            "' and ascii(substring((select password from users limit 1),1,1))>64--",
            "' AND 1=CONVERT(INT,(SELECT @@version))--",
            "' or exists(select * from users)--",
            "admin'--",
            "admin' #",
            "admin')--",
            "admin'/*",
            "'; --",
            "1 and benchmark(5000000,md5(1))",
            "' into outfile '/var/www/shell.php'--",
            "select * from users where id = 1",
            "%27%20or%201%3D1--",
            "1%2527%20or%20%25271%2527%3D%25271",
            "1 and char(65)=char(65)",
        ];
        let bad = crate::test_util::wrong(&bad, true, d);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn benign_near_misses() {
        let bad = [
            "O'Brien",
            "I don't know",
            "don't -- really",
            "rock 'n' roll",
            "Select one from the list below",
            "please select your plan or cancel",
            "union station",
            "order by date",
            "Delete my account",
            "drop table",
            "1 or 2",
            "yes or no",
            "terms and conditions",
            "1+1=2",
            "5 - 3 = 2",
            "price < 100 and rating > 4",
            "the Smiths' and the Joneses' house",
            "workers' or managers' approval",
            "it's -- wow",
            "issue #123",
            "\"quoted\" and more",
            "{\"a\":1,\"b\":\"x\"}",
            "query { user(id: 1) { name } }",
            "time.sleep(5)",
            "+1 (555) 123-4567",
            "2024-01-01",
            "color: red; font-size: 12px",
            "Tom & Jerry",
            "SELECT is a keyword; UNION too",
            "john.o'reilly@example.com",
            "You can't select 'all' or 'none' here",
            "我们的订单（测试）",
            "C'est la vie, n'est-ce pas?",
            "5 or 6 -- maybe",
            "L'Oréal and Dior",
        ];
        let bad = crate::test_util::wrong(&bad, false, d);
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[test]
    fn token_bound() {
        let long = "1 or ".repeat(10_000);
        let _ = d(&long);
        let nested = "(".repeat(5000);
        assert!(!d(&nested));
    }

    #[test]
    fn word_injections_pass_the_prefilter() {
        // Words-only values the detector flags: the prefilter must let each through.
        let samples = [
            "1 or 1",
            "1 or true",
            "1 and 1",
            "1 union select 1",
            "admin or 1",
            "1, union select a.b, c from d.e",
            "x. or 1",
            "1.5 or 1.5",
            // Found by review: keywords glued to numbers.
            "1or 1like 1",
            "2xor 1like 1e5",
            "1.5or 1like 1",
            "1and 1like 1.5",
            "1and 1like 1.",
            "1.0or 1.0like 1.0",
        ];
        let mut flagged = 0;
        for v in samples {
            if detect(v.as_bytes()) {
                flagged += 1;
                assert!(words_may_inject(v.as_bytes()), "{v}");
            }
        }
        assert!(
            flagged >= 2,
            "too few words-only samples flagged: {flagged}"
        );
        assert!(!words_may_inject(b"standard delivery"));
        assert!(!words_may_inject(b"apple iphone 15"));
        assert!(words_may_inject(b"sort order by 2"));
        // Commas and full stops separate words too.
        assert!(!words_may_inject(b"3863 oak avenue, boston"));
        assert!(words_may_inject(b"a,union"));
        assert!(words_may_inject(b"a.select"));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Words for [`words_without_keywords_never_fire`]: keywords, SQL names that are
    /// not keywords (functions without their parenthesis, schema names), numbers in
    /// every notation, prose.
    fn word() -> impl Strategy<Value = String> {
        let dict: Vec<&str> = vec![
            "select",
            "union",
            "all",
            "or",
            "and",
            "xor",
            "not",
            "like",
            "is",
            "null",
            "true",
            "order",
            "group",
            "by",
            "having",
            "limit",
            "offset",
            "from",
            "where",
            "in",
            "between",
            "case",
            "when",
            "then",
            "else",
            "end",
            "as",
            "exists",
            "waitfor",
            "delay",
            "sleep",
            "benchmark",
            "version",
            "char",
            "concat",
            "substring",
            "information",
            "schema",
            "sysobjects",
            "user",
            "database",
            "drop",
            "table",
            "exec",
            "xp",
            "cmdshell",
            "procedure",
            "analyse",
            "into",
            "outfile",
            "rlike",
            "regexp",
            "sounds",
            "div",
            "mod",
            "asc",
            "desc",
            "1",
            "0",
            "42",
            "0x41",
            "0b1",
            "1e5",
            "2e",
            "9a",
            "x",
            "admin",
            "standard",
            "delivery",
            "apple",
            "iphone",
            "1.5",
            ".5",
            "1.",
            "users.password",
            "information_schema.tables",
            "1e5.1",
            "1or",
            "1and",
            "2xor",
            "1like",
            "1.5or",
            "0x1fxor",
            "1e5union",
            "9order",
            "1group",
            "1from",
            "1limit",
            "1having",
        ];
        prop_oneof![
            4 => prop::sample::select(dict).prop_map(str::to_string),
            1 => "[a-z0-9]{1,7}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        /// The claim of [`words_may_inject`]: a words-only value it rules out is never
        /// flagged by [`detect`].
        #[test]
        fn words_without_keywords_never_fire(
            lead in "[ ,.]{0,2}",
            words in proptest::collection::vec((word(), "[ ,.]{1,2}|, |\\. "), 1..8),
        ) {
            let v = crate::test_util::joined(&lead, &words);
            if !words_may_inject(v.as_bytes()) {
                prop_assert!(!detect(v.as_bytes()), "{v:?}");
            }
        }
    }
}
