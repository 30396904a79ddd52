//! Hand-written lexer, and the script splitter used by `replsim sql --file`.

use super::SqlError;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// A bare word: an identifier or a keyword (the parser decides, case-insensitively).
    Word(String),
    /// A `"quoted"`, `` `quoted` `` or `[quoted]` identifier: never a keyword.
    Quoted(String),
    /// A `'string'` literal, with `''` unescaped.
    Str(String),
    /// A numeric literal, as written; the parser turns it into an integer or a real.
    Num(String),
    /// Punctuation and operators.
    Sym(&'static str),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    /// Byte range in the source text.
    pub(crate) start: usize,
    pub(crate) end: usize,
}

const SYMBOLS: [&str; 24] = [
    "||", "==", "!=", "<>", "<=", ">=", "<<", ">>", "(", ")", ",", ";", ".", "*", "+", "-", "/", "%", "=", "<", ">",
    "&", "|", "~",
];

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn unrecognized(src: &str, start: usize, end: usize) -> SqlError {
    SqlError::new(format!("unrecognized token: \"{}\"", src.get(start..end).unwrap_or("")))
}

/// Index just past a quoted run starting at `start` (which holds the opening quote), where a
/// doubled closing quote is an escaped one; `None` when the quote is never closed.
fn quoted_end(b: &[u8], start: usize, close: u8) -> Option<usize> {
    let mut i = start + 1;
    loop {
        match b.get(i) {
            None => return None,
            Some(&c) if c == close => {
                if close != b']' && b.get(i + 1) == Some(&close) {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            Some(_) => i += 1,
        }
    }
}

/// Index just past a comment starting at `i`, or `None` if no comment starts there.
fn comment_end(b: &[u8], i: usize) -> Option<usize> {
    match (b.get(i), b.get(i + 1)) {
        (Some(b'-'), Some(b'-')) => {
            let rest = b.get(i..).unwrap_or(&[]);
            Some(rest.iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p + 1))
        }
        (Some(b'/'), Some(b'*')) => {
            let rest = b.get(i + 2..).unwrap_or(&[]);
            // An unterminated block comment runs to the end of the input, as in SQLite.
            Some(rest.windows(2).position(|w| w == b"*/").map_or(b.len(), |p| i + 2 + p + 2))
        }
        _ => None,
    }
}

fn number_end(b: &[u8], start: usize) -> usize {
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    if b.get(start) == Some(&b'0') && matches!(b.get(start + 1), Some(b'x' | b'X')) {
        let mut i = start + 2;
        while b.get(i).is_some_and(u8::is_ascii_hexdigit) {
            i += 1;
        }
        return i;
    }
    let mut i = digits(start);
    if b.get(i) == Some(&b'.') {
        i = digits(i + 1);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        if b.get(i + 1 + sign).is_some_and(u8::is_ascii_digit) {
            i = digits(i + 1 + sign);
        }
    }
    i
}

/// Split SQL text into tokens, skipping whitespace and comments.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, SqlError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if let Some(end) = comment_end(b, i) {
            i = end;
            continue;
        }
        let start = i;
        let tok = match c {
            b'\'' | b'"' | b'`' | b'[' => {
                let close = if c == b'[' { b']' } else { c };
                let end = quoted_end(b, i, close).ok_or_else(|| unrecognized(src, start, b.len()))?;
                i = end;
                let inner = src.get(start + 1..end - 1).unwrap_or("");
                match c {
                    b'\'' => Tok::Str(inner.replace("''", "'")),
                    b'"' => Tok::Quoted(inner.replace("\"\"", "\"")),
                    b'`' => Tok::Quoted(inner.replace("``", "`")),
                    _ => Tok::Quoted(inner.to_string()),
                }
            }
            b'0'..=b'9' => number_token(src, &mut i)?,
            b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => number_token(src, &mut i)?,
            _ if is_ident_byte(c) => {
                while b.get(i).is_some_and(|&c| is_ident_byte(c)) {
                    i += 1;
                }
                Tok::Word(src.get(start..i).unwrap_or("").to_string())
            }
            _ => {
                let rest = b.get(i..).unwrap_or(&[]);
                let sym = SYMBOLS.iter().find(|s| rest.starts_with(s.as_bytes()));
                match sym {
                    Some(s) => {
                        i += s.len();
                        Tok::Sym(s)
                    }
                    None => {
                        let width = src.get(i..).and_then(|r| r.chars().next()).map_or(1, char::len_utf8);
                        return Err(unrecognized(src, i, i + width));
                    }
                }
            }
        };
        out.push(Token { tok, start, end: i });
    }
    Ok(out)
}

/// A number literal; a number running straight into letters (`12abc`, `1e`) is one bad token.
fn number_token(src: &str, i: &mut usize) -> Result<Tok, SqlError> {
    let b = src.as_bytes();
    let start = *i;
    let end = number_end(b, start);
    if b.get(end).is_some_and(|&c| is_ident_byte(c)) {
        let mut bad = end;
        while b.get(bad).is_some_and(|&c| is_ident_byte(c)) {
            bad += 1;
        }
        return Err(unrecognized(src, start, bad));
    }
    *i = end;
    Ok(Tok::Num(src.get(start..end).unwrap_or("0").to_string()))
}

/// Split a script into statements on `;` outside string literals, quoted identifiers and
/// comments. A `CREATE TRIGGER` body holds `;`s of its own, so such a statement only ends at a
/// `;` that follows `END` (what SQLite's `sqlite3_complete` does). Statements are trimmed, keep
/// their comments, and lose the terminating `;`; statements that are empty or only comments are
/// dropped.
pub fn split_statements(src: &str) -> Vec<String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    // The words seen so far in the current statement (only the first three and the last matter).
    let mut words: Vec<String> = Vec::new();
    let mut last_word = String::new();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if let Some(end) = comment_end(b, i) {
            i = end;
            continue;
        }
        match c {
            b'\'' | b'"' | b'`' | b'[' => {
                let close = if c == b'[' { b']' } else { c };
                i = quoted_end(b, i, close).unwrap_or(b.len());
                last_word.clear();
            }
            b';' => {
                if !in_trigger_body(&words) || last_word.eq_ignore_ascii_case("END") {
                    push_statement(&mut out, src.get(start..i).unwrap_or(""));
                    start = i + 1;
                    words.clear();
                }
                last_word.clear();
                i += 1;
            }
            _ if is_ident_byte(c) => {
                let word_start = i;
                while b.get(i).is_some_and(|&c| is_ident_byte(c)) {
                    i += 1;
                }
                last_word = src.get(word_start..i).unwrap_or("").to_string();
                if words.len() < 3 {
                    words.push(last_word.clone());
                }
            }
            _ => {
                if !c.is_ascii_whitespace() {
                    last_word.clear();
                }
                i += 1;
            }
        }
    }
    push_statement(&mut out, src.get(start..).unwrap_or(""));
    out
}

fn in_trigger_body(words: &[String]) -> bool {
    let is = |i: usize, w: &str| words.get(i).is_some_and(|x| x.eq_ignore_ascii_case(w));
    is(0, "CREATE") && (is(1, "TRIGGER") || ((is(1, "TEMP") || is(1, "TEMPORARY")) && is(2, "TRIGGER")))
}

fn push_statement(out: &mut Vec<String>, text: &str) {
    let text = text.trim();
    // Drop statements made only of comments: they would be "empty statement" errors.
    if tokenize(text).is_ok_and(|t| t.is_empty()) {
        return;
    }
    out.push(text.to_string());
}
