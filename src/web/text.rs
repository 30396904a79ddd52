//! Small text helpers for the views (kept out of the components so tests can call them).

use crate::world::time::Micros;

/// At or past this moment a time reads as hours (`3:00:00.028`): "10800028.390 ms" is not something a person reads.
pub const HOURS_FROM: Micros = 3_600_000_000;

/// `123.456 ms`: the current time, as the transport shows it; from an hour on, `h:mm:ss.mmm`.
pub fn clock(t: Micros) -> String {
    if t >= HOURS_FROM {
        let ms = t / 1000;
        return format!("{}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    }
    let mut s = (t / 1000).to_string();
    s.push('.');
    let frac = t % 1000;
    if frac < 100 {
        s.push('0');
    }
    if frac < 10 {
        s.push('0');
    }
    s.push_str(&frac.to_string());
    s.push_str(" ms");
    s
}

/// Whole milliseconds, rounded down (`34 ms`).
pub fn ms(t: Micros) -> String {
    if t >= HOURS_FROM {
        let s = t / 1_000_000;
        return format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    }
    let mut s = (t / 1000).to_string();
    s.push_str(" ms");
    s
}

/// At most `max` characters, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `{:016x}` without pulling the formatting machinery into the per-frame path more than once.
pub fn hex16(v: u64) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(16);
    for i in (0..16).rev() {
        out.push(DIGITS[((v >> (i * 4)) & 15) as usize] as char);
    }
    out
}

/// A first statement to offer in the SQL box: an INSERT into the scenario's first table, on its first column
/// that is not the primary key (`INSERT INTO users (name) VALUES ('zoe')`).
pub fn default_sql(schema: &[String]) -> String {
    const FALLBACK: &str = "INSERT INTO users (name) VALUES ('zoe')";
    let Some(create) = schema.iter().find(|s| s.trim_start().to_ascii_uppercase().starts_with("CREATE TABLE")) else {
        return FALLBACK.to_string();
    };
    let Some(open) = create.find('(') else { return FALLBACK.to_string() };
    let head = &create[..open];
    let mut words = head.split_whitespace().skip(2).filter(|w| {
        let u = w.to_ascii_uppercase();
        u != "IF" && u != "NOT" && u != "EXISTS"
    });
    let Some(table) = words.next() else { return FALLBACK.to_string() };
    let body = create[open + 1..].trim_end().trim_end_matches(';').trim_end().trim_end_matches(')');
    // Split the column list on commas at depth 0.
    let mut cols = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in body.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                cols.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    cols.push(&body[start..]);
    for col in cols {
        let def = col.trim();
        let upper = def.to_ascii_uppercase();
        if upper.is_empty()
            || upper.contains("PRIMARY KEY")
            || ["PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "CONSTRAINT"].iter().any(|k| upper.starts_with(k))
        {
            continue;
        }
        let mut parts = def.split_whitespace();
        let Some(name) = parts.next() else { continue };
        let ty = parts.next().unwrap_or("").to_ascii_uppercase();
        let value = if ty.contains("INT") {
            "42"
        } else if ty.contains("REAL") || ty.contains("FLOA") || ty.contains("DOUB") || ty.contains("NUM") {
            "1.5"
        } else {
            "'zoe'"
        };
        return ["INSERT INTO ", table, " (", name, ") VALUES (", value, ")"].concat();
    }
    ["INSERT INTO ", table, " DEFAULT VALUES"].concat()
}

/// What a page and a storage format are (the inspector's Pages section).
pub const PAGES_HELP: &str = "The engine keeps rows in fixed-size pages, the unit it reads and writes on disk. \
The storage format is how a row is laid out in a page's bytes; another engine version may use another format.";

/// Why a WAL follower on another storage format halts.
pub const WAL_FORMAT_HELP: &str = "WAL shipping sends the leader's page bytes: its on-disk layout. A node on \
another storage format lays rows out differently, so those bytes mean nothing to it and it must stop. Logical \
(row-based) replication ships rows, not bytes, so it goes on across formats: that is why it allows rolling upgrades.";

/// What the trigger-based replicator is.
pub const REPLICATOR_HELP: &str = "A process outside the database. Triggers on the leader note every change in a \
_changes table; the replicator polls it, copies the chosen rows to its targets, and deletes the changes every \
target has confirmed.";

/// What a CDC consumer is.
pub const CDC_HELP: &str = "Change data capture: this consumer reads the stream of row changes and keeps something \
that is not a copy of the database: a search index (each word, and the keys of the rows that contain it).";

/// A hex dump of at most `max_rows` rows of 16 bytes, in 4-byte groups, with the bytes as text where printable:
/// `10 616e6e00 …  ann.…`. Offsets have as many hex digits as the last offset of a `size`-byte page needs.
pub fn hex_dump(bytes: &[u8], max_rows: usize, size: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let width = (usize::BITS - size.saturating_sub(1).leading_zeros()).div_ceil(4).max(2) as usize;
    let mut out = String::with_capacity(max_rows.min(bytes.len() / 16 + 1) * (width + 54));
    for (row, chunk) in bytes.chunks(16).take(max_rows).enumerate() {
        let off = row * 16;
        for k in (0..width).rev() {
            out.push(DIGITS[(off >> (4 * k)) & 15] as char);
        }
        for i in 0..16 {
            if i % 4 == 0 {
                out.push(' ');
            }
            match chunk.get(i) {
                Some(b) => {
                    out.push(DIGITS[(b >> 4) as usize] as char);
                    out.push(DIGITS[(b & 15) as usize] as char);
                }
                None => out.push_str("  "),
            }
        }
        out.push_str("  ");
        out.extend(chunk.iter().map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '·' }));
        out.push('\n');
    }
    out
}

/// Why `typed` is refused by a field with these bounds and `step`, if it is. (A number field gives "" for text that
/// is not a number.) A field without a step, or with a whole one, takes whole numbers only, as HTML's default step
/// of 1 says.
pub fn number_problem(typed: &str, min: Option<&str>, max: Option<&str>, step: Option<&str>) -> Option<String> {
    let bound = |b: Option<&str>| b.and_then(|b| b.parse::<f64>().ok());
    let (lo, hi) = (bound(min), bound(max));
    let range = match (min.filter(|_| lo.is_some()), max.filter(|_| hi.is_some())) {
        (Some(a), Some(b)) => ["a number from ", a, " to ", b].concat(),
        (Some(a), None) => ["a number of at least ", a].concat(),
        (None, Some(b)) => ["a number of at most ", b].concat(),
        (None, None) => "a number".to_string(),
    };
    let Some(v) = typed.trim().parse::<f64>().ok().filter(|v| v.is_finite()) else {
        return Some(["Not a number: enter ", &range, "."].concat());
    };
    let outside = lo.is_some_and(|lo| v < lo) || hi.is_some_and(|hi| v > hi);
    if outside {
        return Some([typed.trim(), " is out of range: enter ", &range, "."].concat());
    }
    let whole = step.is_none_or(|s| s != "any" && !s.contains('.'));
    (whole && v.fract() != 0.0).then(|| {
        [typed.trim(), " is not a whole number: enter ", &range.replacen("a number", "a whole number", 1), "."].concat()
    })
}
