//! Nondeterminism and statement-based replication (DDIA 5.1, "Statement-based replication").
//!
//! A statement that calls `NOW()`, `RAND()`, `RANDOM()`, `UUID()` or `CURRENT_TIMESTAMP`
//! evaluates differently on every node, because each node reads its own clock and RNG. MySQL's
//! statement-based binlog works around this by logging the values the leader used; this module
//! does the same by rewriting the statement text.

use super::ast::{literal, Expr, Stmt};
use super::eval::{Evaluator, NONDETERMINISTIC};
use super::parser::parse_statement;
use super::value::Value;
use super::{Env, SqlError};

/// Byte ranges and names of the nondeterministic calls in a statement, in text order.
fn nondeterministic_calls(stmt: &Stmt) -> Vec<(usize, usize, String)> {
    let mut calls = Vec::new();
    stmt.walk_exprs(&mut |e| {
        if let Expr::Call(c) = e {
            if NONDETERMINISTIC.contains(&c.name.as_str()) {
                calls.push((c.span.0, c.span.1, c.name.clone()));
            }
        }
    });
    super::sort_values(&mut calls);
    calls
}

/// Does executing this statement give the same result on every node that runs it on the same
/// data? `false` if its text calls NOW / RAND / RANDOM / UUID / CURRENT_TIMESTAMP anywhere,
/// including in a trigger body or a column DEFAULT it defines (whose later use is
/// nondeterministic).
///
/// Only the text is inspected, so the other hazards of statement-based replication are not
/// detected: an INSERT that relies on a column DEFAULT (NOW()) or on a trigger that calls
/// RAND(), and autoincrement keys or `UPDATE ... LIMIT`-style data-dependent statements, which
/// are deterministic only when every replica executes the statements in the same order.
pub fn is_deterministic(sql: &str) -> Result<bool, SqlError> {
    Ok(nondeterministic_calls(&parse_statement(sql)?.stmt).is_empty())
}

/// Replace each nondeterministic call in a SELECT / INSERT / UPDATE / DELETE by the literal
/// value it evaluates to on this node (MySQL's binlog does this for `NOW()`). Other statements
/// (CREATE TRIGGER bodies, DEFAULTs) are returned unchanged: their calls run later, when fired.
///
/// Contract: the leader calls this *first*, then executes the returned text and ships that same
/// text. Each call consumes the `env` (RNG draws, clock read), so executing the original text
/// afterwards would draw different values than the ones written into the log.
/// `NOW()` and `CURRENT_TIMESTAMP` read the clock once per statement, so all their occurrences
/// get the same instant, as when the statement runs.
pub fn substitute_nondeterministic(sql: &str, env: &mut dyn Env) -> Result<String, SqlError> {
    let parsed = parse_statement(sql)?;
    let dml = matches!(parsed.stmt, Stmt::Select(_) | Stmt::Insert(_) | Stmt::Update(_) | Stmt::Delete(_));
    if !dml {
        return Ok(sql.to_string());
    }
    let mut ev = Evaluator::new(env);
    let mut out = String::with_capacity(sql.len());
    let mut pos = 0;
    for (start, end, name) in nondeterministic_calls(&parsed.stmt) {
        let value = ev.nondeterministic(&name).unwrap_or(Value::Null);
        out.push_str(sql.get(pos..start).unwrap_or(""));
        let text = literal(&value);
        // `5 -RANDOM()` must not become `5 --42`, which would start a comment.
        if text.starts_with('-') {
            out.push_str(&format!("({text})"));
        } else {
            out.push_str(&text);
        }
        pos = end;
    }
    out.push_str(sql.get(pos..).unwrap_or(""));
    Ok(out)
}
