//! Binding: resolve column names to slots and check function calls before a statement runs,
//! so that errors such as `no such column` are reported even when no row is visited (SQLite
//! reports them when preparing the statement).

use super::ast::{Call, ColumnRef, Expr, Slot};
use super::eval::{AggCall, AggFunc, NONDETERMINISTIC};
use super::table::{is_rowid_name, Table};
use super::SqlError;

/// The trigger row visible as `NEW` / `OLD` in a trigger body.
#[derive(Clone, Copy)]
pub(crate) struct TriggerScope<'a> {
    pub(crate) table: &'a Table,
    pub(crate) new: bool,
    pub(crate) old: bool,
}

/// What names an expression can see.
#[derive(Clone, Copy, Default)]
pub(crate) struct Scope<'a> {
    /// The table being scanned or changed, and the name it is referred to by (alias or name).
    pub(crate) table: Option<(&'a Table, &'a str)>,
    pub(crate) trigger: Option<TriggerScope<'a>>,
}

fn lookup(table: &Table, name: &str) -> Option<Slot> {
    if let Some(i) = table.column_index(name) {
        let affinity = table.columns.get(i).map(|c| c.affinity)?;
        return Some(Slot::Row(i, affinity));
    }
    if is_rowid_name(name) {
        return Some(match table.rowid_alias.and_then(|i| Some((i, table.columns.get(i)?.affinity))) {
            Some((i, affinity)) => Slot::Row(i, affinity),
            None => Slot::Rowid,
        });
    }
    None
}

fn resolve(c: &ColumnRef, scope: &Scope<'_>) -> Result<Slot, SqlError> {
    let Some(q) = &c.qualifier else {
        return match scope.table {
            Some((table, _)) => lookup(table, &c.name)
                .ok_or_else(|| SqlError::new(format!("no such column: {} in {}", c.name, table.name))),
            None => Err(SqlError::new(format!("no such column: {}", c.name))),
        };
    };
    let missing = || SqlError::new(format!("no such column: {q}.{}", c.name));
    if let Some(t) = scope.trigger {
        let is_new = q.eq_ignore_ascii_case("new") && t.new;
        if is_new || (q.eq_ignore_ascii_case("old") && t.old) {
            return match lookup(t.table, &c.name).ok_or_else(missing)? {
                Slot::Row(i, affinity) if is_new => Ok(Slot::New(i, affinity)),
                Slot::Row(i, affinity) => Ok(Slot::Old(i, affinity)),
                _ if is_new => Ok(Slot::NewRowid),
                _ => Ok(Slot::OldRowid),
            };
        }
    }
    match scope.table {
        Some((table, name)) if name.eq_ignore_ascii_case(q) => lookup(table, &c.name).ok_or_else(missing),
        _ => Err(missing()),
    }
}

/// Check a call's function name and argument count.
pub(crate) fn check_call(c: &Call) -> Result<(), SqlError> {
    let (min, max) = match c.name.as_str() {
        n if NONDETERMINISTIC.contains(&n) => (0, 0),
        "lower" | "upper" | "length" | "abs" | "typeof" | "sum" | "total" | "avg" => (1, 1),
        "count" => (0, 1),
        "ifnull" | "nullif" => (2, 2),
        "coalesce" => (2, usize::MAX),
        "round" => (1, 2),
        "min" | "max" => (1, usize::MAX),
        _ => return Err(SqlError::new(format!("no such function: {}", c.name))),
    };
    let n = c.args.len();
    let bad_star = c.star && c.name != "count";
    let bad_distinct = c.distinct && (AggFunc::of(c).is_none() || n != 1);
    if n < min || n > max || bad_star || bad_distinct {
        return Err(SqlError::new(format!("wrong number of arguments to function {}()", c.name)));
    }
    Ok(())
}

/// Resolve every column reference of `e` and check its calls; aggregates are errors here
/// (aggregate queries extract them first with [`extract_aggregates`]).
pub(crate) fn bind(e: &mut Expr, scope: &Scope<'_>) -> Result<(), SqlError> {
    match e {
        Expr::Column(c) => {
            c.slot = resolve(c, scope)?;
            Ok(())
        }
        Expr::Call(c) => {
            check_call(c)?;
            if AggFunc::of(c).is_some() {
                return Err(SqlError::new(format!("misuse of aggregate function {}()", c.name)));
            }
            c.args.iter_mut().try_for_each(|a| bind(a, scope))
        }
        other => other.children_mut().into_iter().try_for_each(|c| bind(c, scope)),
    }
}

/// An expression with the same value for every row and every node.
pub(crate) fn is_constant(e: &Expr) -> bool {
    let mut constant = true;
    e.walk(&mut |x| {
        constant &= match x {
            Expr::Column(_) | Expr::Aggregate(_) => false,
            Expr::Call(c) => !NONDETERMINISTIC.contains(&c.name.as_str()),
            _ => true,
        }
    });
    constant
}

pub(crate) fn contains_aggregate(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| found |= matches!(x, Expr::Call(c) if AggFunc::of(c).is_some()));
    found
}

/// Replace each aggregate call in `e` by a slot holding its result, binding its argument,
/// then bind the rest of the expression (column references read the group's last row).
pub(crate) fn extract_aggregates(e: &mut Expr, scope: &Scope<'_>, out: &mut Vec<AggCall>) -> Result<(), SqlError> {
    if let Expr::Call(c) = e {
        if let Some(func) = AggFunc::of(c) {
            check_call(c)?;
            let mut arg = c.args.first().cloned();
            if let Some(a) = &mut arg {
                bind(a, scope)?;
            }
            // Identical aggregates are computed once, as in SQLite (this matters for which
            // min()/max() picks the row of the bare columns).
            let call = AggCall { func, arg, distinct: c.distinct };
            let index = out.iter().position(|a| *a == call).unwrap_or_else(|| {
                out.push(call);
                out.len() - 1
            });
            *e = Expr::Aggregate(index);
            return Ok(());
        }
        check_call(c)?;
    }
    match e {
        Expr::Column(c) => {
            c.slot = resolve(c, scope)?;
            Ok(())
        }
        other => other.children_mut().into_iter().try_for_each(|c| extract_aggregates(c, scope, out)),
    }
}
