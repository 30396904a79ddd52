//! Partition routing for a partitioned (sharded) database: which partition a statement belongs to. Each partition
//! is its own replication group with its own leader, log and followers, replicating independently of the others
//! (DDIA 5.2 "Consistent Prefix Reads"). A table's rows are spread by a hash of its partition key column; tables
//! without a key live in the first partition.
//!
//! Like a real router (Vitess, a Citus coordinator), this looks at the statement's text, not at a full parse: it
//! finds the table and, when the statement pins the key to one literal (`INSERT ... VALUES`, or `WHERE key = v`
//! without OR), the partition; otherwise a read goes to every partition (scatter-gather) and a write is refused.

use std::collections::BTreeMap;

use crate::world::trace::Fnv64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    One(usize),
    /// A read that needs every partition.
    All,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Text(String),
    Num(String),
    Sym(char),
}

/// A character of a word (a keyword or a name), as the SQL lexer has it: ASCII letters, digits, `_` and `$`, and
/// every non-ASCII character.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$' || !c.is_ascii()
}

fn tokens(sql: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut it = sql.chars().peekable();
    while let Some(&c) = it.peek() {
        if c.is_whitespace() {
            it.next();
        } else if c == '\'' {
            it.next();
            let mut s = String::new();
            while let Some(c) = it.next() {
                if c == '\'' {
                    if it.peek() == Some(&'\'') {
                        it.next();
                        s.push('\'');
                    } else {
                        break;
                    }
                } else {
                    s.push(c);
                }
            }
            out.push(Tok::Text(s));
        } else if c == '"' {
            it.next();
            let s: String = it.by_ref().take_while(|c| *c != '"').collect();
            out.push(Tok::Word(s.to_ascii_lowercase()));
        } else if c.is_ascii_digit() || (c == '-' && out.last().is_some_and(|t| matches!(t, Tok::Sym(_)))) {
            let mut s = String::new();
            s.push(c);
            it.next();
            while let Some(&d) = it.peek() {
                if d.is_ascii_alphanumeric() || d == '.' {
                    s.push(d);
                    it.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Num(s));
        } else if is_word_char(c) {
            let mut s = String::new();
            while let Some(&d) = it.peek() {
                if is_word_char(d) || d == '.' {
                    s.push(d.to_ascii_lowercase());
                    it.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Word(s));
        } else {
            out.push(Tok::Sym(c));
            it.next();
        }
    }
    out
}

fn word(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Word(w)) => Some(w.as_str()),
        _ => None,
    }
}

/// The partition of a key value: FNV-1a of its text form, modulo the number of partitions.
pub fn partition_of_value(value: &str, partitions: usize) -> usize {
    let mut h = Fnv64::new();
    h.write_bytes(value.as_bytes());
    (h.finish() % partitions.max(1) as u64) as usize
}

fn literal(t: &Tok) -> Option<String> {
    match t {
        Tok::Text(s) | Tok::Num(s) => Some(s.clone()),
        _ => None,
    }
}

/// Which partition(s) `sql` must go to, given `keys` (table -> partition key column) and the partition count.
pub fn target(sql: &str, keys: &BTreeMap<String, String>, partitions: usize) -> Result<Target, String> {
    if partitions <= 1 {
        return Ok(Target::One(0));
    }
    let t = tokens(sql);
    let first = word(t.first()).unwrap_or("");
    let table_after = |kw: &str| -> Option<(usize, String)> {
        let i = t.iter().position(|x| matches!(x, Tok::Word(w) if w == kw))?;
        word(t.get(i + 1)).map(|w| (i + 1, w.rsplit('.').next().unwrap_or(w).to_string()))
    };
    let (table_pos, table) = match first {
        "insert" => table_after("into"),
        "update" => word(t.get(1)).map(|w| (1, w.to_string())),
        "delete" | "select" => table_after("from"),
        _ => None,
    }
    .unwrap_or((0, String::new()));
    let Some(key) = keys.get(&table) else { return Ok(Target::One(0)) };
    let read = first == "select";
    if first == "insert" {
        // INSERT INTO t (c1, c2) VALUES (v1, v2), (...): the key's position in the column list.
        let cols_start = table_pos + 1;
        let Some(Tok::Sym('(')) = t.get(cols_start) else {
            return Err(format!(
                "INSERT into partitioned table {table} must list its columns (the router needs {key})"
            ));
        };
        let cols: Vec<&str> = t[cols_start + 1..]
            .iter()
            .take_while(|x| !matches!(x, Tok::Sym(')')))
            .filter_map(|x| word(Some(x)))
            .collect();
        let Some(k) = cols.iter().position(|c| c == key) else {
            return Err(format!("INSERT into partitioned table {table} must give its partition key {key}"));
        };
        let mut parts = Vec::new();
        let mut i = t.iter().position(|x| matches!(x, Tok::Word(w) if w == "values")).unwrap_or(t.len());
        while let Some(open) = t[i..].iter().position(|x| matches!(x, Tok::Sym('('))) {
            let start = i + open + 1;
            let end = t[start..].iter().position(|x| matches!(x, Tok::Sym(')'))).map_or(t.len(), |e| start + e);
            let values: Vec<&Tok> = t[start..end].iter().filter(|x| !matches!(x, Tok::Sym(','))).collect();
            let v =
                values.get(k).and_then(|v| literal(v)).ok_or_else(|| format!("the router needs a literal {key}"))?;
            parts.push(partition_of_value(&v, partitions));
            i = end.min(t.len());
            if i >= t.len() {
                break;
            }
        }
        parts.dedup();
        return match parts.as_slice() {
            [p] => Ok(Target::One(*p)),
            [] => Err(format!("the router found no {key} value in this INSERT")),
            _ => Err(format!("one INSERT cannot write rows of several partitions of {table}: split it")),
        };
    }
    // WHERE key = literal (and no OR): one partition.
    if let Some(w) = t.iter().position(|x| matches!(x, Tok::Word(w) if w == "where")) {
        let cond = &t[w + 1..];
        let has_or = cond.iter().any(|x| matches!(x, Tok::Word(w) if w == "or"));
        if !has_or {
            for i in 0..cond.len().saturating_sub(2) {
                let (a, eq, b) = (&cond[i], &cond[i + 1], &cond[i + 2]);
                if !matches!(eq, Tok::Sym('=')) {
                    continue;
                }
                let hit = match (a, b) {
                    (Tok::Word(c), v) if c.rsplit('.').next() == Some(key.as_str()) => literal(v),
                    (v, Tok::Word(c)) if c.rsplit('.').next() == Some(key.as_str()) => literal(v),
                    _ => None,
                };
                if let Some(v) = hit {
                    return Ok(Target::One(partition_of_value(&v, partitions)));
                }
            }
        }
    }
    if read {
        Ok(Target::All)
    } else {
        Err(format!("a write to partitioned table {table} must pin its partition key ({key} = value)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> BTreeMap<String, String> {
        BTreeMap::from([("messages".to_string(), "author".to_string())])
    }

    #[test]
    fn inserts_go_to_the_partition_of_their_key() {
        let p = partition_of_value("Poons", 2);
        assert_eq!(
            target("INSERT INTO messages (author, body) VALUES ('Poons', 'hi')", &keys(), 2),
            Ok(Target::One(p))
        );
        assert!(target("INSERT INTO messages (body) VALUES ('x')", &keys(), 2).is_err());
    }

    #[test]
    fn reads_pinned_to_a_key_go_to_one_partition_others_scatter() {
        let p = partition_of_value("Cake", 2);
        assert_eq!(target("SELECT * FROM messages WHERE author = 'Cake'", &keys(), 2), Ok(Target::One(p)));
        assert_eq!(target("SELECT * FROM messages", &keys(), 2), Ok(Target::All));
        assert_eq!(target("SELECT * FROM messages WHERE author = 'Cake' OR 1 = 1", &keys(), 2), Ok(Target::All));
        assert!(target("UPDATE messages SET body = 'x'", &keys(), 2).is_err());
        assert_eq!(target("SELECT 1", &keys(), 2), Ok(Target::One(0)));
        assert_eq!(target("SELECT * FROM other", &keys(), 2), Ok(Target::One(0)));
    }

    // Names as the SQL lexer reads them: non-ASCII letters and `$` belong to a name.
    #[test]
    fn names_with_non_ascii_letters_are_routed_like_others() {
        let keys = BTreeMap::from([("crème".to_string(), "année".to_string())]);
        let p = partition_of_value("x", 2);
        assert_eq!(target("SELECT * FROM crème WHERE année = 'x'", &keys, 2), Ok(Target::One(p)));
        assert_eq!(target("SELECT * FROM crème", &keys, 2), Ok(Target::All));
    }

    #[test]
    fn one_partition_routes_everything_to_it() {
        assert_eq!(target("garbage", &keys(), 1), Ok(Target::One(0)));
    }
}
