//! The shape of a single-row statement, for stores that address rows by primary key only (leaderless
//! replication): which table, what kind of statement, and the key literal of `WHERE pk = literal`. The statement
//! itself still runs on the ordinary engine (on a scratch database holding the one row); this only says whether it
//! is single-row, and why not.

use super::ast::{BinOp, Expr, InsertSource, Stmt, UnaryOp};
use super::parser::parse_statement;
use super::value::Value;
use super::StatementKind;

/// A statement that touches one row, found by its primary key.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyedShape {
    pub kind: StatementKind,
    pub table: String,
    /// `WHERE column = literal` (UPDATE, DELETE, SELECT): the column and the literal. `None` for INSERT.
    pub filter: Option<(String, Value)>,
    /// INSERT: the listed columns (`None`: every column, in order).
    pub columns: Option<Vec<String>>,
}

/// Parse `sql` and say whether it is a single-row statement by key; the error says why not.
pub fn keyed_shape(sql: &str) -> Result<KeyedShape, String> {
    let parsed = parse_statement(sql).map_err(|e| e.message)?;
    let (kind, table, filter, columns) = match parsed.stmt {
        Stmt::Insert(i) => {
            match &i.source {
                InsertSource::Values(rows) if rows.len() == 1 => {}
                InsertSource::Values(_) => return Err("insert one row per statement (each row is its own key)".into()),
                InsertSource::Select(_) => {
                    return Err("INSERT ... SELECT reads many rows; insert one row by key".into())
                }
                InsertSource::DefaultValues => return Err("DEFAULT VALUES gives no primary key; insert the key".into()),
            }
            (StatementKind::Insert, i.table, None, i.columns)
        }
        Stmt::Update(u) => (StatementKind::Update, u.table, u.filter, None),
        Stmt::Delete(d) => (StatementKind::Delete, d.table, d.filter, None),
        Stmt::Select(s) => {
            let Some(from) = &s.from else {
                return Err("a read names its table: SELECT ... FROM t WHERE pk = ...".into());
            };
            if !s.group_by.is_empty() || s.having.is_some() {
                return Err("GROUP BY needs many rows; a read here fetches one key".into());
            }
            (StatementKind::Select, from.name.clone(), s.filter.clone(), None)
        }
        Stmt::CreateTable(_) | Stmt::CreateTrigger(_) => {
            return Err("schema changes go in the scenario's schema, not in the workload".into())
        }
        Stmt::Begin { .. } | Stmt::Commit | Stmt::Rollback => {
            return Err("there are no transactions across replicas: each statement is one put or get of a key".into())
        }
    };
    let filter = match (kind, filter) {
        (StatementKind::Insert, _) => None,
        (_, None) => return Err("no WHERE clause: name the row by its primary key (WHERE pk = literal)".into()),
        (_, Some(f)) => Some(key_equality(&f).ok_or_else(|| {
            "the WHERE clause must be exactly `pk = literal`: rows are found by key, there is no scan or index"
                .to_string()
        })?),
    };
    Ok(KeyedShape { kind, table, filter, columns })
}

/// `column = literal` or `literal = column`.
fn key_equality(e: &Expr) -> Option<(String, Value)> {
    let Expr::Binary(BinOp::Eq, l, r) = e else { return None };
    match (&**l, &**r) {
        (Expr::Column(c), lit) | (lit, Expr::Column(c)) => literal(lit).map(|v| (c.name.clone(), v)),
        _ => None,
    }
}

fn literal(e: &Expr) -> Option<Value> {
    match e {
        Expr::Literal(v) => Some(v.clone()),
        Expr::Bool(b) => Some(Value::Integer(i64::from(*b))),
        Expr::Unary(UnaryOp::Neg, inner) => match literal(inner)? {
            Value::Integer(i) => i.checked_neg().map(Value::Integer),
            Value::Real(r) => Some(Value::Real(-r)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_refusals() {
        let s = keyed_shape("SELECT v FROM kv WHERE k = 'a'").unwrap();
        assert_eq!(s.filter, Some(("k".into(), Value::Text("a".into()))));
        assert!(keyed_shape("SELECT * FROM kv").unwrap_err().contains("WHERE"));
        assert!(keyed_shape("UPDATE kv SET v = 1 WHERE v > 2").unwrap_err().contains("pk = literal"));
        assert!(keyed_shape("INSERT INTO kv VALUES (1, 2), (3, 4)").unwrap_err().contains("one row"));
        assert!(keyed_shape("BEGIN").unwrap_err().contains("transactions"));
        assert_eq!(keyed_shape("DELETE FROM kv WHERE -3 = k").unwrap().filter, Some(("k".into(), Value::Integer(-3))));
    }
}
