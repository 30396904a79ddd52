//! Statement execution: binding a statement against the schema ("prepare"), then running it.
//!
//! Every row change goes through [`Database::insert_row`], [`Database::update_row`] or
//! [`Database::delete_row`], which check constraints, record an undo entry and a
//! [`RowChange`]; client statements, trigger bodies and replicated row changes share them.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::ast::{
    BinOp, ColumnRef, CreateTable, CreateTrigger, Delete, Expr, Insert, InsertSource, OrderTerm, Select, SelectItem,
    Slot, Stmt, TriggerEvent, Update,
};
use super::bind::{bind, contains_aggregate, extract_aggregates, is_constant, Scope, TriggerScope};
use super::engine::{Database, TxLog, Undo};
use super::eval::{finish_aggregate, AggCall, AggFunc, Evaluator, RowCtx, CHANGE_STEPS, NONDETERMINISTIC};
use super::table::{Column, Table, UniqueIndex};
use super::value::{compare, Affinity, SortKey, Value};
use super::{RowChange, SqlError};

/// Triggers nest at most this deep (a trigger never re-fires itself, so this is rarely hit).
const MAX_TRIGGER_DEPTH: usize = 32;

#[derive(Clone, Debug)]
pub(crate) struct Trigger {
    pub(crate) name: String,
    /// Lower-cased name of the table it watches.
    pub(crate) table: String,
    pub(crate) event: TriggerEvent,
    pub(crate) update_of: Vec<String>,
    pub(crate) when: Option<Expr>,
    pub(crate) body: Vec<Stmt>,
    /// Normalised `CREATE TRIGGER` text.
    pub(crate) sql: String,
}

/// Triggers are equal when their normalised definitions are (whatever text created them).
impl PartialEq for Trigger {
    fn eq(&self, other: &Self) -> bool {
        self.sql == other.sql
    }
}

/// Per-statement execution state.
pub(crate) struct Ctx<'a, 'e> {
    pub(crate) log: &'a mut TxLog,
    pub(crate) ev: Evaluator<'e>,
    /// Names of the triggers currently running (SQLite's recursive_triggers=OFF: a trigger on
    /// this stack does not fire again).
    pub(crate) trigger_stack: Vec<String>,
}

impl Ctx<'_, '_> {
    /// Count one more row change (see [`CHANGE_STEPS`]).
    fn change_row(&mut self) -> Result<(), SqlError> {
        self.ev.step(CHANGE_STEPS)
    }
}

/// The trigger row a body statement runs for (`None` fields outside triggers). For checking a
/// trigger body at creation, `new` / `old` are empty rows that only say which exist.
#[derive(Clone, Copy, Default)]
pub(crate) struct TriggerRow<'a> {
    pub(crate) table: Option<&'a str>,
    pub(crate) new: Option<&'a [Value]>,
    pub(crate) old: Option<&'a [Value]>,
    pub(crate) new_rowid: i64,
    pub(crate) old_rowid: i64,
}

impl<'a> TriggerRow<'a> {
    fn ctx(self) -> RowCtx<'a> {
        RowCtx {
            new: self.new.unwrap_or(&[]),
            old: self.old.unwrap_or(&[]),
            new_rowid: self.new_rowid,
            old_rowid: self.old_rowid,
            ..RowCtx::default()
        }
    }
}

enum OrderKey {
    /// The i-th result column (`ORDER BY 2`, or an alias).
    Output(usize),
    Expr(Expr),
}

/// A row being scanned: its rowid and values.
type RowRef<'r> = (i64, &'r Vec<Value>);

struct AggPlan {
    calls: Vec<AggCall>,
    group_by: Vec<Expr>,
    having: Option<Expr>,
}

pub(crate) struct BoundSelect {
    table: Option<String>,
    pub(crate) columns: Vec<String>,
    exprs: Vec<Expr>,
    filter: Option<Expr>,
    aggregate: Option<AggPlan>,
    order: Vec<(OrderKey, bool)>,
    /// `Some(descending)` when rows come out in rowid order (no ORDER BY, or ORDER BY the
    /// rowid): then, as in SQLite, rows stream and the scan stops at the LIMIT.
    rowid_order: Option<bool>,
    distinct: bool,
    limit: Option<Expr>,
    offset: Option<Expr>,
}

enum BoundSource {
    Values(Vec<Vec<Expr>>),
    Select(Box<BoundSelect>),
    DefaultValues,
}

struct BoundInsert {
    table: String,
    targets: Vec<usize>,
    source: BoundSource,
}

struct BoundUpdate {
    table: String,
    sets: Vec<(usize, Expr)>,
    filter: Option<Expr>,
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn lower(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn bind_opt(e: &Option<Expr>, scope: &Scope<'_>) -> Result<Option<Expr>, SqlError> {
    let mut e = e.clone();
    if let Some(x) = &mut e {
        bind(x, scope)?;
    }
    Ok(e)
}

/// LIMIT / OFFSET must be integers (SQLite's "datatype mismatch" otherwise).
fn integer_operand(ev: &mut Evaluator<'_>, e: &Option<Expr>, ctx: &RowCtx<'_>) -> Result<Option<i64>, SqlError> {
    let Some(e) = e else { return Ok(None) };
    match Affinity::Integer.apply(ev.eval(e, ctx)?) {
        Value::Integer(i) => Ok(Some(i)),
        _ => Err(SqlError::new("datatype mismatch")),
    }
}

impl Database {
    pub(crate) fn table(&self, name: &str) -> Result<&Table, SqlError> {
        self.tables.get(&lower(name)).ok_or_else(|| SqlError::new(format!("no such table: {name}")))
    }

    fn scope<'a>(&'a self, table: Option<(&'a Table, &'a str)>, row: TriggerRow<'_>) -> Scope<'a> {
        let trigger = row.table.and_then(|k| self.tables.get(k)).map(|t| TriggerScope {
            table: t,
            new: row.new.is_some(),
            old: row.old.is_some(),
        });
        Scope { table, trigger }
    }

    // ---- SELECT ----

    pub(crate) fn bind_select(&self, sel: &Select, row: TriggerRow<'_>) -> Result<BoundSelect, SqlError> {
        let table = sel.from.as_ref().map(|t| self.table(&t.name)).transpose()?;
        let qualifier = sel.from.as_ref().map_or("", |t| t.alias.as_deref().unwrap_or(&t.name));
        let scope = self.scope(table.map(|t| (t, qualifier)), row);

        let mut columns = Vec::new();
        let mut aliases = Vec::new();
        let mut exprs = Vec::new();
        for item in &sel.items {
            match item {
                SelectItem::Star(q) => {
                    let t = table.ok_or_else(|| SqlError::new("no tables specified"))?;
                    if let Some(q) = q.as_ref().filter(|q| !q.eq_ignore_ascii_case(qualifier)) {
                        return Err(SqlError::new(format!("no such table: {q}")));
                    }
                    for (i, c) in t.columns.iter().enumerate() {
                        columns.push(c.name.clone());
                        aliases.push(None);
                        let slot = Slot::Row(i, c.affinity);
                        exprs.push(Expr::Column(ColumnRef { qualifier: None, name: c.name.clone(), slot }));
                    }
                }
                SelectItem::Expr { expr, alias, text } => {
                    columns.push(alias.clone().unwrap_or_else(|| text.clone()));
                    aliases.push(alias.clone());
                    exprs.push(expr.clone());
                }
            }
        }

        // ORDER BY / GROUP BY terms that are result column numbers or aliases.
        let output_ref = |term: &OrderTerm, clause: &str, n: usize| -> Result<Option<usize>, SqlError> {
            match (&term.expr, term.position) {
                (_, Some(k)) => {
                    let k = usize::try_from(k).ok().filter(|k| (1..=exprs.len()).contains(k)).ok_or_else(|| {
                        SqlError::new(format!(
                            "{} {clause} term out of range - should be between 1 and {}",
                            ordinal(n),
                            exprs.len()
                        ))
                    })?;
                    Ok(Some(k - 1))
                }
                (Expr::Column(c), None) if c.qualifier.is_none() => {
                    Ok(aliases.iter().position(|a| a.as_ref().is_some_and(|a| a.eq_ignore_ascii_case(&c.name))))
                }
                _ => Ok(None),
            }
        };
        let mut order = Vec::new();
        for (n, term) in sel.order_by.iter().enumerate() {
            let key = match output_ref(term, "ORDER BY", n + 1)? {
                Some(i) => OrderKey::Output(i),
                None => OrderKey::Expr(term.expr.clone()),
            };
            order.push((key, term.desc));
        }
        let mut group_by = Vec::new();
        for (n, g) in sel.group_by.iter().enumerate() {
            let e = match output_ref(g, "GROUP BY", n + 1)? {
                Some(i) => exprs.get(i).cloned().unwrap_or(Expr::Literal(Value::Null)),
                None => g.expr.clone(),
            };
            if contains_aggregate(&e) {
                return Err(SqlError::new("aggregate functions are not allowed in the GROUP BY clause"));
            }
            group_by.push(e);
        }

        // Result aliases may be used in WHERE, GROUP BY, HAVING and ORDER BY (SQLite).
        let named: Vec<(String, Expr)> =
            aliases.iter().zip(&exprs).filter_map(|(a, e)| Some((a.clone()?, e.clone()))).collect();
        let with_aliases = |e: &Option<Expr>| {
            let mut e = e.clone();
            if let Some(x) = &mut e {
                substitute_aliases(x, &named, table);
            }
            e
        };
        for g in &mut group_by {
            substitute_aliases(g, &named, table);
        }
        for (key, _) in &mut order {
            if let OrderKey::Expr(e) = key {
                substitute_aliases(e, &named, table);
            }
        }
        let filter = bind_opt(&with_aliases(&sel.filter), &scope)?;
        let is_aggregate = !group_by.is_empty()
            || sel.having.is_some()
            || exprs.iter().any(contains_aggregate)
            || order.iter().any(|(k, _)| matches!(k, OrderKey::Expr(e) if contains_aggregate(e)));
        let aggregate = if is_aggregate {
            let mut calls = Vec::new();
            for e in &mut exprs {
                extract_aggregates(e, &scope, &mut calls)?;
            }
            for (key, _) in &mut order {
                if let OrderKey::Expr(e) = key {
                    extract_aggregates(e, &scope, &mut calls)?;
                }
            }
            let mut having = with_aliases(&sel.having);
            if let Some(h) = &mut having {
                extract_aggregates(h, &scope, &mut calls)?;
            }
            for g in &mut group_by {
                bind(g, &scope)?;
            }
            Some(AggPlan { calls, group_by, having })
        } else {
            for e in &mut exprs {
                bind(e, &scope)?;
            }
            for (key, _) in &mut order {
                if let OrderKey::Expr(e) = key {
                    bind(e, &scope)?;
                }
            }
            None
        };
        // A plain column reference is named after the column as declared, as in SQLite.
        for ((name, alias), e) in columns.iter_mut().zip(&aliases).zip(&exprs) {
            if let (None, Expr::Column(ColumnRef { slot: Slot::Row(i, _), .. }), Some(t)) = (alias, e, table) {
                if let Some(c) = t.columns.get(*i) {
                    name.clone_from(&c.name);
                }
            }
        }
        let is_rowid = |key: &OrderKey| {
            let e = match key {
                OrderKey::Output(i) => exprs.get(*i),
                OrderKey::Expr(e) => Some(e),
            };
            match e {
                Some(Expr::Column(ColumnRef { slot: Slot::Rowid, .. })) => true,
                Some(Expr::Column(ColumnRef { slot: Slot::Row(i, _), .. })) => {
                    table.is_some_and(|t| t.rowid_alias == Some(*i))
                }
                _ => false,
            }
        };
        let rowid_order = match order.as_slice() {
            _ if aggregate.is_some() || sel.distinct => None,
            [] => Some(false),
            // Terms after the rowid change nothing: rowids are unique.
            [(key, desc), ..] if is_rowid(key) => Some(*desc),
            _ => None,
        };
        let constant_scope = self.scope(None, row);
        Ok(BoundSelect {
            rowid_order,
            table: table.map(|t| lower(&t.name)),
            columns,
            exprs,
            filter,
            aggregate,
            order,
            distinct: sel.distinct,
            limit: bind_opt(&sel.limit, &constant_scope)?,
            offset: bind_opt(&sel.offset, &constant_scope)?,
        })
    }

    pub(crate) fn run_select(
        &self,
        q: &BoundSelect,
        ev: &mut Evaluator<'_>,
        row: TriggerRow<'_>,
    ) -> Result<Vec<Vec<Value>>, SqlError> {
        match self.select_rows(q, ev, row)? {
            (_, Some(e)) => Err(e),
            (rows, None) => Ok(rows),
        }
    }

    /// The result rows; when rows stream out (rowid order), an error in a later row comes
    /// with the rows produced before it, which a streaming INSERT ... SELECT inserts first.
    fn select_rows(
        &self,
        q: &BoundSelect,
        ev: &mut Evaluator<'_>,
        row: TriggerRow<'_>,
    ) -> Result<(Vec<Vec<Value>>, Option<SqlError>), SqlError> {
        let base = row.ctx();
        // LIMIT and OFFSET are computed first; LIMIT 0 reads nothing (SQLite).
        let limit = integer_operand(ev, &q.limit, &base)?.filter(|l| *l >= 0);
        if limit == Some(0) {
            return Ok((Vec::new(), None));
        }
        let offset = integer_operand(ev, &q.offset, &base)?.unwrap_or(0).max(0);
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let empty = Vec::new();
        let table = q.table.as_ref().and_then(|k| self.tables.get(k));
        let mut source: Vec<RowRef<'_>> = match table {
            Some(t) => candidates(t, q.filter.as_ref(), ev, &base)?,
            // SELECT without FROM evaluates its expressions once.
            None => vec![(0, &empty)],
        };
        if !constant_terms_hold(q.filter.as_ref(), ev, &base)? {
            source.clear();
        }
        if q.rowid_order.is_none() && table.is_some() {
            ev.read_rows(source.len() as u64)?;
        }
        if let Some(descending) = q.rowid_order {
            if descending {
                source.reverse();
            }
            return Ok(stream(q, ev, base, source, skip, take));
        }
        let mut matched = Vec::new();
        for (rowid, values) in source {
            let ctx = RowCtx { values, rowid, ..base };
            if q.filter.as_ref().map_or(Ok(true), |f| ev.eval(f, &ctx).map(|v| v.truth() == Some(true)))? {
                matched.push((rowid, values));
            }
        }

        // Each output row with its sort keys.
        let mut out: Vec<(Vec<Value>, Vec<Value>)> = Vec::new();
        let mut emit = |ev: &mut Evaluator<'_>, ctx: &RowCtx<'_>| -> Result<(), SqlError> {
            let values = q.exprs.iter().map(|e| ev.eval(e, ctx)).collect::<Result<Vec<_>, _>>()?;
            let mut keys = Vec::new();
            for (key, _) in &q.order {
                keys.push(match key {
                    OrderKey::Output(i) => values.get(*i).cloned().unwrap_or(Value::Null),
                    OrderKey::Expr(e) => ev.eval(e, ctx)?,
                });
            }
            out.push((values, keys));
            Ok(())
        };
        match &q.aggregate {
            None => {
                for (rowid, values) in matched {
                    emit(ev, &RowCtx { values, rowid, ..base })?;
                }
            }
            Some(plan) => {
                let width = table.map_or(0, |t| t.columns.len());
                let null_row = vec![Value::Null; width];
                // The last min() / max() decides which row bare columns come from.
                let magnet = plan.calls.iter().rposition(|c| matches!(c.func, AggFunc::Min | AggFunc::Max));
                for members in group(plan, matched, ev, base)? {
                    let mut aggs = Vec::new();
                    let mut representative = 0;
                    for (i, call) in plan.calls.iter().enumerate() {
                        let mut args = Vec::new();
                        for (rowid, values) in &members {
                            let ctx = RowCtx { values, rowid: *rowid, ..base };
                            args.push(call.arg.as_ref().map_or(Ok(Value::Integer(1)), |a| ev.eval(a, &ctx))?);
                        }
                        if magnet == Some(i) {
                            representative = extreme_row(call.func == AggFunc::Max, &args);
                        }
                        aggs.push(finish_aggregate(call, args)?);
                    }
                    let (rowid, values) = members.get(representative).copied().unwrap_or((0, &null_row));
                    let ctx = RowCtx { values, rowid, aggs: &aggs, ..base };
                    if let Some(h) = &plan.having {
                        if ev.eval(h, &ctx)?.truth() != Some(true) {
                            continue;
                        }
                    }
                    emit(ev, &ctx)?;
                }
            }
        }
        if q.distinct {
            let mut seen = std::collections::BTreeSet::new();
            out.retain(|(values, _)| seen.insert(values.iter().cloned().map(SortKey).collect::<Vec<_>>()));
        }
        super::sort_stable_by(&mut out, |(_, a), (_, b)| {
            let pairs = a.iter().zip(b).zip(&q.order);
            pairs
                .map(|((x, y), (_, desc))| if *desc { compare(y, x) } else { compare(x, y) })
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        Ok((out.into_iter().skip(skip).take(take).map(|(values, _)| values).collect(), None))
    }

    // ---- INSERT ----

    fn bind_insert(&self, ins: &Insert, row: TriggerRow<'_>) -> Result<BoundInsert, SqlError> {
        let table = self.table(&ins.table)?;
        let targets = match &ins.columns {
            Some(cols) => cols
                .iter()
                .map(|c| {
                    table
                        .column_index(c)
                        .ok_or_else(|| SqlError::new(format!("table {} has no column named {c}", table.name)))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => (0..table.columns.len()).collect(),
        };
        let width_error = |supplied: usize| {
            SqlError::new(match &ins.columns {
                Some(_) => format!("{supplied} values for {} columns", targets.len()),
                None => format!(
                    "wrong number of values: table {} has {} columns but {supplied} values were supplied",
                    table.name,
                    targets.len()
                ),
            })
        };
        let scope = self.scope(None, row);
        let source = match &ins.source {
            InsertSource::Values(rows) => {
                let width = rows.first().map_or(0, Vec::len);
                if rows.iter().any(|r| r.len() != width) {
                    return Err(SqlError::new("all VALUES must have the same number of terms"));
                }
                if width != targets.len() {
                    return Err(width_error(width));
                }
                let mut bound = rows.clone();
                for e in bound.iter_mut().flatten() {
                    bind(e, &scope)?;
                }
                BoundSource::Values(bound)
            }
            InsertSource::Select(sel) => {
                let q = self.bind_select(sel, row)?;
                if q.columns.len() != targets.len() {
                    return Err(width_error(q.columns.len()));
                }
                BoundSource::Select(Box::new(q))
            }
            InsertSource::DefaultValues => BoundSource::DefaultValues,
        };
        Ok(BoundInsert { table: lower(&table.name), targets, source })
    }

    fn exec_insert(
        &mut self,
        ins: &Insert,
        cx: &mut Ctx<'_, '_>,
        row: TriggerRow<'_>,
    ) -> Result<(u64, Option<i64>), SqlError> {
        let b = self.bind_insert(ins, row)?;
        let ctx = row.ctx();
        // INSERT ... SELECT, and any INSERT into a table with INSERT triggers, reads its whole
        // input before writing (SQLite's temporary table): it never sees its own rows, and an
        // error in a late VALUES row comes before the constraints of earlier rows.
        let has_triggers = self.triggers.iter().any(|t| t.table == b.table && t.event == TriggerEvent::Insert);
        let mut deferred = None;
        let materialized: Option<Vec<Vec<Value>>> = match &b.source {
            // Reading another table and firing no trigger, SQLite streams the SELECT into the
            // table: an error in a later source row comes after earlier rows were inserted.
            BoundSource::Select(q) if !has_triggers && q.table.as_ref() != Some(&b.table) => {
                let (rows, error) = self.select_rows(q, &mut cx.ev, row)?;
                deferred = error;
                Some(rows)
            }
            BoundSource::Select(q) => Some(self.run_select(q, &mut cx.ev, row)?),
            BoundSource::Values(rows) if has_triggers => Some(
                rows.iter()
                    .map(|r| r.iter().map(|e| cx.ev.eval(e, &ctx)).collect::<Result<Vec<_>, _>>())
                    .collect::<Result<_, _>>()?,
            ),
            _ => None,
        };
        let count = match (&b.source, &materialized) {
            (_, Some(rows)) => rows.len(),
            (BoundSource::Values(rows), None) => rows.len(),
            _ => 1,
        };
        let mut last_rowid = None;
        for n in 0..count {
            let supplied = match (&b.source, &materialized) {
                (_, Some(rows)) => rows.get(n).cloned().unwrap_or_default(),
                (BoundSource::Values(rows), None) => {
                    let exprs = rows.get(n).map_or(&[][..], Vec::as_slice);
                    exprs.iter().map(|e| cx.ev.eval(e, &ctx)).collect::<Result<Vec<_>, _>>()?
                }
                _ => Vec::new(),
            };
            let values = self.complete_row(&b.table, &b.targets, supplied, &mut cx.ev, &ctx)?;
            cx.change_row()?;
            let (rowid, stored) = self.insert_row(&b.table, values, cx.log)?;
            last_rowid = Some(rowid);
            self.fire(&b.table, TriggerEvent::Insert, None, Some((rowid, &stored)), &[], cx)?;
        }
        match deferred {
            Some(error) => Err(error),
            None => Ok((count as u64, last_rowid)),
        }
    }

    /// A full row from the supplied values: the other columns get their defaults.
    fn complete_row(
        &self,
        key: &str,
        targets: &[usize],
        supplied: Vec<Value>,
        ev: &mut Evaluator<'_>,
        ctx: &RowCtx<'_>,
    ) -> Result<Vec<Value>, SqlError> {
        let table = self.table(key)?;
        let mut values: Vec<Option<Value>> = vec![None; table.columns.len()];
        for (&i, v) in targets.iter().zip(supplied) {
            if let Some(slot) = values.get_mut(i) {
                *slot = Some(v);
            }
        }
        values
            .into_iter()
            .zip(&table.columns)
            .map(|(v, c)| match (v, &c.default) {
                (Some(v), _) => Ok(v),
                (None, Some(d)) => ev.eval(d, ctx),
                (None, None) => Ok(Value::Null),
            })
            .collect()
    }

    /// Store a new row: affinity, rowid assignment, constraints, undo entry, row change.
    pub(crate) fn insert_row(
        &mut self,
        key: &str,
        mut values: Vec<Value>,
        log: &mut TxLog,
    ) -> Result<(i64, Vec<Value>), SqlError> {
        let table = self.tables.get_mut(key).ok_or_else(|| SqlError::new(format!("no such table: {key}")))?;
        for (v, c) in values.iter_mut().zip(&table.columns) {
            *v = c.affinity.apply(std::mem::replace(v, Value::Null));
        }
        let rowid = match table.rowid_alias.map(|i| values.get(i)) {
            None | Some(None | Some(Value::Null)) => table.next_rowid()?,
            Some(Some(Value::Integer(r))) => *r,
            Some(Some(_)) => return Err(SqlError::new("datatype mismatch")),
        };
        if let Some(slot) = table.rowid_alias.and_then(|i| values.get_mut(i)) {
            *slot = Value::Integer(rowid);
        }
        table.check(rowid, &values, None)?;
        self.store.check_row(rowid, &values)?;
        table.put(rowid, values.clone());
        log.undo.push(Undo::Insert { table: table.key.clone(), rowid });
        if table.autoincrement && rowid > table.sequence {
            log.undo.push(Undo::Sequence { table: table.key.clone(), old: table.sequence });
            table.sequence = rowid;
            self.store.catalog_dirty = true;
        }
        log.change(|| RowChange::Insert { table: table.name.clone(), row: table.pairs(&values) });
        Ok((rowid, values))
    }

    // ---- UPDATE ----

    fn bind_update(&self, upd: &Update, row: TriggerRow<'_>) -> Result<BoundUpdate, SqlError> {
        let table = self.table(&upd.table)?;
        let scope = self.scope(Some((table, &table.name)), row);
        let mut sets = Vec::new();
        for (name, e) in &upd.sets {
            let i = table
                .column_index(name)
                .ok_or_else(|| SqlError::new(format!("no such column: {name} in {}", table.name)))?;
            let mut e = e.clone();
            bind(&mut e, &scope)?;
            // `SET a = 1, a = 2`: only the rightmost assignment counts (and is evaluated).
            sets.retain(|(column, _)| *column != i);
            sets.push((i, e));
        }
        Ok(BoundUpdate { table: lower(&table.name), sets, filter: bind_opt(&upd.filter, &scope)? })
    }

    fn matching_rowids(
        &self,
        key: &str,
        filter: Option<&Expr>,
        ev: &mut Evaluator<'_>,
        row: TriggerRow<'_>,
    ) -> Result<Vec<i64>, SqlError> {
        let table = self.table(key)?;
        let Some(filter) = filter else {
            ev.read_rows(table.rows.len() as u64)?;
            return Ok(table.rows.keys().copied().collect());
        };
        let mut out = Vec::new();
        if !constant_terms_hold(Some(filter), ev, &row.ctx())? {
            return Ok(out);
        }
        let candidates = candidates(table, Some(filter), ev, &row.ctx())?;
        ev.read_rows(candidates.len() as u64)?;
        for (rowid, values) in candidates {
            let ctx = RowCtx { values, rowid, ..row.ctx() };
            if ev.eval(filter, &ctx)?.truth() == Some(true) {
                out.push(rowid);
            }
        }
        Ok(out)
    }

    fn exec_update(&mut self, upd: &Update, cx: &mut Ctx<'_, '_>, row: TriggerRow<'_>) -> Result<u64, SqlError> {
        let b = self.bind_update(upd, row)?;
        let assigned: Vec<usize> = b.sets.iter().map(|(i, _)| *i).collect();
        let mut count = 0;
        // Rows are chosen first and then updated in rowid order, one at a time, each checked
        // against the constraints as it is written (so `SET id = id + 1` can fail, as in SQLite).
        for rowid in self.matching_rowids(&b.table, b.filter.as_ref(), &mut cx.ev, row)? {
            let Some(old) = self.tables.get(&b.table).and_then(|t| t.rows.get(&rowid)).cloned() else {
                continue; // deleted by a trigger meanwhile
            };
            let mut new = old.clone();
            let ctx = RowCtx { values: &old, rowid, ..row.ctx() };
            for (i, e) in &b.sets {
                let v = cx.ev.eval(e, &ctx)?;
                if let Some(slot) = new.get_mut(*i) {
                    *slot = v;
                }
            }
            cx.change_row()?;
            let (new_rowid, new) = self.update_row(&b.table, rowid, new, &assigned, cx.log)?;
            count += 1;
            self.fire(&b.table, TriggerEvent::Update, Some((rowid, &old)), Some((new_rowid, &new)), &assigned, cx)?;
        }
        Ok(count)
    }

    /// Overwrite a row; `assigned` columns get the column affinity (and may move the rowid).
    pub(crate) fn update_row(
        &mut self,
        key: &str,
        rowid: i64,
        mut values: Vec<Value>,
        assigned: &[usize],
        log: &mut TxLog,
    ) -> Result<(i64, Vec<Value>), SqlError> {
        let table = self.tables.get_mut(key).ok_or_else(|| SqlError::new(format!("no such table: {key}")))?;
        for &i in assigned {
            if let (Some(v), Some(c)) = (values.get_mut(i), table.columns.get(i)) {
                *v = c.affinity.apply(std::mem::replace(v, Value::Null));
            }
        }
        let new_rowid = match table.rowid_alias.filter(|i| assigned.contains(i)) {
            Some(i) => match values.get(i) {
                Some(Value::Integer(r)) => *r,
                _ => return Err(SqlError::new("datatype mismatch")),
            },
            None => rowid,
        };
        table.check(new_rowid, &values, Some(rowid))?;
        self.store.check_row(new_rowid, &values)?;
        let old = table.take(rowid).ok_or_else(|| SqlError::new("row vanished during update"))?;
        table.put(new_rowid, values.clone());
        log.change(|| RowChange::Update {
            table: table.name.clone(),
            key: table.key_of(rowid, &old),
            row: table.pairs(&values),
        });
        log.undo.push(Undo::Update { table: table.key.clone(), old_rowid: rowid, new_rowid, old });
        Ok((new_rowid, values))
    }

    // ---- DELETE ----

    fn bind_delete(&self, del: &Delete, row: TriggerRow<'_>) -> Result<(String, Option<Expr>), SqlError> {
        let table = self.table(&del.table)?;
        let scope = self.scope(Some((table, &table.name)), row);
        Ok((lower(&table.name), bind_opt(&del.filter, &scope)?))
    }

    fn exec_delete(&mut self, del: &Delete, cx: &mut Ctx<'_, '_>, row: TriggerRow<'_>) -> Result<u64, SqlError> {
        let (key, filter) = self.bind_delete(del, row)?;
        let mut count = 0;
        for rowid in self.matching_rowids(&key, filter.as_ref(), &mut cx.ev, row)? {
            if let Some(old) = self.delete_row(&key, rowid, cx.log) {
                cx.change_row()?;
                count += 1;
                self.fire(&key, TriggerEvent::Delete, Some((rowid, &old)), None, &[], cx)?;
            }
        }
        Ok(count)
    }

    pub(crate) fn delete_row(&mut self, key: &str, rowid: i64, log: &mut TxLog) -> Option<Vec<Value>> {
        let table = self.tables.get_mut(key)?;
        let old = table.take(rowid)?;
        log.change(|| RowChange::Delete { table: table.name.clone(), key: table.key_of(rowid, &old) });
        log.undo.push(Undo::Delete { table: table.key.clone(), rowid, old: old.clone() });
        Some(old)
    }

    /// Run INSERT / UPDATE / DELETE: rows affected and, for INSERT, the last rowid.
    pub(crate) fn exec_dml(
        &mut self,
        stmt: &Stmt,
        cx: &mut Ctx<'_, '_>,
        row: TriggerRow<'_>,
    ) -> Result<(u64, Option<i64>), SqlError> {
        match stmt {
            Stmt::Insert(i) => self.exec_insert(i, cx, row),
            Stmt::Update(u) => self.exec_update(u, cx, row).map(|n| (n, None)),
            Stmt::Delete(d) => self.exec_delete(d, cx, row).map(|n| (n, None)),
            _ => Err(SqlError::new("only INSERT, UPDATE and DELETE are supported in trigger bodies")),
        }
    }

    // ---- triggers ----

    /// Fire the AFTER triggers of one row change, newest trigger first (SQLite's order).
    fn fire(
        &mut self,
        key: &str,
        event: TriggerEvent,
        old: Option<(i64, &[Value])>,
        new: Option<(i64, &[Value])>,
        assigned: &[usize],
        cx: &mut Ctx<'_, '_>,
    ) -> Result<(), SqlError> {
        let Some(table) = self.tables.get(key) else { return Ok(()) };
        let assigned_column = |name: &String| {
            assigned.iter().filter_map(|&i| table.columns.get(i)).any(|c| c.name.eq_ignore_ascii_case(name))
        };
        let due: Vec<Arc<Trigger>> = self
            .triggers
            .iter()
            .rev()
            .filter(|t| t.table == key && t.event == event && !cx.trigger_stack.contains(&t.name))
            .filter(|t| t.update_of.is_empty() || t.update_of.iter().any(assigned_column))
            .cloned()
            .collect();
        let row = TriggerRow {
            table: Some(key),
            new: new.map(|(_, v)| v),
            old: old.map(|(_, v)| v),
            new_rowid: new.map_or(0, |(r, _)| r),
            old_rowid: old.map_or(0, |(r, _)| r),
        };
        for trigger in due {
            if cx.trigger_stack.len() >= MAX_TRIGGER_DEPTH {
                return Err(SqlError::new("too many levels of trigger recursion"));
            }
            if let Some(when) = &trigger.when {
                let mut when = when.clone();
                bind(&mut when, &self.scope(None, row))?;
                if cx.ev.eval(&when, &row.ctx())?.truth() != Some(true) {
                    continue;
                }
            }
            cx.trigger_stack.push(trigger.name.clone());
            let result = trigger.body.iter().try_for_each(|s| self.exec_dml(s, cx, row).map(drop));
            cx.trigger_stack.pop();
            result?;
        }
        Ok(())
    }

    // ---- DDL ----

    /// CREATE TABLE; `Ok(false)` when IF NOT EXISTS found the table already there.
    pub(crate) fn create_table(&mut self, ct: &CreateTable, log: &mut TxLog) -> Result<bool, SqlError> {
        let key = lower(&ct.name);
        if self.tables.contains_key(&key) {
            return if ct.if_not_exists {
                Ok(false)
            } else {
                Err(SqlError::new(format!("table {} already exists", ct.name)))
            };
        }
        if key.starts_with("sqlite_") {
            return Err(SqlError::new(format!("object name reserved for internal use: {}", ct.name)));
        }
        let mut table = build_table(ct)?;
        // A new id, also unlike any table still on the pages (not yet written without it).
        let ids = self.tables.values().map(|t| t.meta.id).chain(self.store.table_ids());
        table.meta.id = ids.max().map_or(0, |m| m.saturating_add(1));
        let sql = table.sql.clone();
        self.tables.insert(key.clone(), table);
        self.store.catalog_dirty = true;
        log.undo.push(Undo::CreateTable { table: key });
        log.changes.push(RowChange::Ddl { sql });
        Ok(true)
    }

    /// CREATE TRIGGER; the body is checked against the schema now, so that a typo is reported
    /// when the trigger is created rather than when it first fires.
    pub(crate) fn create_trigger(&mut self, ct: &CreateTrigger, log: &mut TxLog) -> Result<bool, SqlError> {
        if self.triggers.iter().any(|t| t.name.eq_ignore_ascii_case(&ct.name)) {
            return if ct.if_not_exists {
                Ok(false)
            } else {
                Err(SqlError::new(format!("trigger {} already exists", ct.name)))
            };
        }
        let key = lower(&self.table(&ct.table)?.name);
        let row = TriggerRow {
            table: Some(&key),
            new: (ct.event != TriggerEvent::Delete).then_some(&[]),
            old: (ct.event != TriggerEvent::Insert).then_some(&[]),
            ..TriggerRow::default()
        };
        bind_opt(&ct.when, &self.scope(None, row))?;
        for stmt in &ct.body {
            match stmt {
                Stmt::Insert(i) => self.bind_insert(i, row).map(drop)?,
                Stmt::Update(u) => self.bind_update(u, row).map(drop)?,
                Stmt::Delete(d) => self.bind_delete(d, row).map(drop)?,
                _ => return Err(SqlError::new("only INSERT, UPDATE and DELETE are supported in trigger bodies")),
            }
        }
        let sql = Stmt::CreateTrigger(ct.clone()).to_string();
        self.triggers.push(Arc::new(Trigger {
            sql: sql.clone(),
            name: ct.name.clone(),
            table: key.clone(),
            event: ct.event,
            update_of: ct.update_of.clone(),
            when: ct.when.clone(),
            body: ct.body.clone(),
        }));
        log.undo.push(Undo::CreateTrigger { name: ct.name.clone() });
        self.store.catalog_dirty = true;
        log.changes.push(RowChange::Ddl { sql });
        Ok(true)
    }
}

/// Replace references to result aliases (`SELECT a + 1 AS x ... WHERE x > 2`) by the aliased
/// expression, unless the table has a column of that name, which wins (as in SQLite).
fn substitute_aliases(e: &mut Expr, named: &[(String, Expr)], table: Option<&Table>) {
    if let Expr::Column(c) = e {
        let is_column = table.is_some_and(|t| t.column_index(&c.name).is_some());
        if c.qualifier.is_none() && !is_column {
            if let Some((_, aliased)) = named.iter().find(|(a, _)| a.eq_ignore_ascii_case(&c.name)) {
                *e = aliased.clone();
            }
        }
        return;
    }
    for child in e.children_mut() {
        substitute_aliases(child, named, table);
    }
}

/// Rows already in output order: filter, skip OFFSET rows without computing their columns,
/// stop after LIMIT rows; rows past the limit are never evaluated (as in SQLite).
fn stream(
    q: &BoundSelect,
    ev: &mut Evaluator<'_>,
    base: RowCtx<'_>,
    source: Vec<RowRef<'_>>,
    mut skip: usize,
    take: usize,
) -> (Vec<Vec<Value>>, Option<SqlError>) {
    let mut out = Vec::new();
    for (rowid, values) in source {
        if out.len() >= take {
            break;
        }
        if let Err(e) = ev.read_rows(u64::from(q.table.is_some())) {
            return (out, Some(e));
        }
        let ctx = RowCtx { values, rowid, ..base };
        let produced = match q.filter.as_ref().map_or(Ok(true), |f| ev.eval(f, &ctx).map(|v| v.truth() == Some(true))) {
            Ok(false) => continue,
            Ok(true) if skip > 0 => {
                skip -= 1;
                continue;
            }
            Ok(true) => q.exprs.iter().map(|e| ev.eval(e, &ctx)).collect::<Result<Vec<_>, _>>(),
            Err(e) => Err(e),
        };
        match produced {
            Ok(values) => out.push(values),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

/// The rows a scan must visit: all of them, or only the one a `rowid = <expression that does
/// not read the row>` term of the filter pins (evaluated once, as SQLite's rowid lookup does).
/// The whole filter is still applied to what comes back, so this only narrows the search.
fn candidates<'t>(
    table: &'t Table,
    filter: Option<&Expr>,
    ev: &mut Evaluator<'_>,
    ctx: &RowCtx<'_>,
) -> Result<Vec<RowRef<'t>>, SqlError> {
    let all = || table.rows.iter().map(|(k, v)| (*k, v)).collect();
    let Some(key) = pinned_key(table, filter) else { return Ok(all()) };
    let rowid = match Affinity::Numeric.apply_for_comparison(ev.eval(key, ctx)?) {
        Value::Integer(k) => Some(k),
        Value::Real(r) if r.fract() == 0.0 && (-9.2e18..9.2e18).contains(&r) => Some(r as i64),
        // A real with a fraction, text or NULL equals no integer rowid.
        _ => None,
    };
    Ok(rowid.and_then(|k| table.rows.get(&k).map(|v| (k, v))).into_iter().collect())
}

/// The expression a top-level AND-term `rowid = expr` (or `expr = rowid`) compares the rowid
/// with, when that expression reads nothing from the row and is deterministic.
fn pinned_key<'e>(table: &Table, filter: Option<&'e Expr>) -> Option<&'e Expr> {
    let is_rowid = |e: &Expr| match e {
        Expr::Column(c) => match c.slot {
            Slot::Rowid => true,
            Slot::Row(i, _) => table.rowid_alias == Some(i),
            _ => false,
        },
        _ => false,
    };
    let row_free = |e: &Expr| {
        let mut free = true;
        e.walk(&mut |x| {
            free &= match x {
                Expr::Column(c) => !matches!(c.slot, Slot::Row(..) | Slot::Rowid | Slot::Unbound),
                Expr::Aggregate(_) => false,
                Expr::Call(c) => !NONDETERMINISTIC.contains(&c.name.as_str()),
                _ => true,
            }
        });
        free
    };
    match filter? {
        Expr::Binary(BinOp::And, l, r) => pinned_key(table, Some(l)).or_else(|| pinned_key(table, Some(r))),
        Expr::Binary(BinOp::Eq, l, r) if is_rowid(l) && row_free(r) => Some(r),
        Expr::Binary(BinOp::Eq, l, r) if is_rowid(r) && row_free(l) => Some(l),
        _ => None,
    }
}

/// SQLite tests the constant AND-terms of a WHERE clause once, before scanning: so
/// `WHERE ABS(-9223372036854775808) = 1` fails even on an empty table, and `WHERE 0 AND ...`
/// visits no row. Everything else is evaluated row by row, lazily.
fn constant_terms_hold(filter: Option<&Expr>, ev: &mut Evaluator<'_>, ctx: &RowCtx<'_>) -> Result<bool, SqlError> {
    match filter {
        Some(Expr::Binary(BinOp::And, l, r)) => {
            Ok(constant_terms_hold(Some(l), ev, ctx)? && constant_terms_hold(Some(r), ev, ctx)?)
        }
        Some(term) if is_constant(term) => Ok(ev.eval(term, ctx)?.truth() == Some(true)),
        _ => Ok(true),
    }
}

/// Which row of a group the bare columns of an aggregate query read (SQLite 3.50's rule):
/// the first row, or with a min() / max() the last row at which it took a new value.
/// `values` are that aggregate's argument per row.
fn extreme_row(max: bool, values: &[Value]) -> usize {
    let mut best: Option<&Value> = None;
    let mut row = 0;
    for (i, v) in values.iter().enumerate() {
        let improved = match best {
            None => true,
            Some(_) if v.is_null() => false,
            Some(b) => {
                let ord = compare(b, v);
                if max {
                    ord == Ordering::Less
                } else {
                    ord == Ordering::Greater
                }
            }
        };
        if improved {
            row = i;
            if !v.is_null() {
                best = Some(v);
            }
        }
    }
    row
}

/// Group the matched rows of an aggregate query by the GROUP BY values (one group, possibly
/// empty, without GROUP BY). Groups come out in key order, as SQLite's sorter produces them.
fn group<'r>(
    plan: &AggPlan,
    rows: Vec<RowRef<'r>>,
    ev: &mut Evaluator<'_>,
    base: RowCtx<'_>,
) -> Result<Vec<Vec<RowRef<'r>>>, SqlError> {
    if plan.group_by.is_empty() {
        return Ok(vec![rows]);
    }
    let mut groups: BTreeMap<Vec<SortKey>, Vec<RowRef<'_>>> = BTreeMap::new();
    for (rowid, values) in rows {
        let ctx = RowCtx { values, rowid, ..base };
        let key = plan.group_by.iter().map(|g| ev.eval(g, &ctx).map(SortKey)).collect::<Result<Vec<_>, _>>()?;
        groups.entry(key).or_default().push((rowid, values));
    }
    Ok(groups.into_values().collect())
}

/// The storage for a CREATE TABLE statement, after SQLite's checks.
pub(crate) fn build_table(ct: &CreateTable) -> Result<Table, SqlError> {
    let mut columns: Vec<Column> = Vec::new();
    let mut primary_key = None;
    let mut rowid_alias = None;
    let mut autoincrement = false;
    let mut uniques = Vec::new();
    for (i, def) in ct.columns.iter().enumerate() {
        if columns.iter().any(|c| c.name.eq_ignore_ascii_case(&def.name)) {
            return Err(SqlError::new(format!("duplicate column name: {}", def.name)));
        }
        let is_alias = def.primary_key && def.type_name.eq_ignore_ascii_case("INTEGER");
        if def.primary_key {
            if primary_key.is_some() {
                return Err(SqlError::new(format!("table \"{}\" has more than one primary key", ct.name)));
            }
            primary_key = Some(i);
            if is_alias {
                rowid_alias = Some(i);
            } else {
                uniques.push(vec![i]);
            }
        }
        if def.autoincrement {
            if !is_alias {
                return Err(SqlError::new("AUTOINCREMENT is only allowed on an INTEGER PRIMARY KEY"));
            }
            autoincrement = true;
        }
        if def.unique && !is_alias {
            uniques.push(vec![i]);
        }
        let mut default = def.default.clone();
        if let Some(d) = &mut default {
            bind(d, &Scope::default())?;
        }
        columns.push(Column {
            name: def.name.clone(),
            affinity: Affinity::of_type(&def.type_name),
            // Deviation: a non-integer primary key is NOT NULL (SQLite allows NULLs there, a
            // legacy bug), so every row has a key for row-based replication.
            not_null: def.not_null || (def.primary_key && !is_alias),
            default,
        });
    }
    for names in &ct.unique {
        let cols = names
            .iter()
            .map(|n| {
                columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(n))
                    .ok_or_else(|| SqlError::new(format!("no such column: {n}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        uniques.push(cols);
    }
    uniques.dedup();
    Ok(Table {
        name: ct.name.clone(),
        key: lower(&ct.name).into(),
        columns,
        rowid_alias,
        primary_key,
        autoincrement,
        sequence: 0,
        rows: crate::chunked::ChunkMap::new(),
        uniques: uniques.into_iter().map(|columns| UniqueIndex { columns, entries: BTreeMap::new() }).collect(),
        sql: Stmt::CreateTable(ct.clone()).to_string(),
        meta: Default::default(),
    })
}
