//! Table storage: rows keyed by rowid in a `BTreeMap`, unique indexes, constraint checks.
//!
//! Every mutation goes through [`Table::put`] and [`Table::take`], which keep the unique
//! indexes in step with the rows; undoing a transaction uses the same two operations, so the
//! indexes can never drift from the data. Both mark the row dirty for the page store.

use std::collections::BTreeMap;

use super::ast::Expr;
use super::value::{compare, Affinity, SortKey, Value};
use super::{SqlError, SqlErrorKind};

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) affinity: Affinity,
    pub(crate) not_null: bool,
    /// Bound default expression (no column references), evaluated at each insert.
    pub(crate) default: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct UniqueIndex {
    pub(crate) columns: Vec<usize>,
    pub(crate) entries: BTreeMap<Vec<SortKey>, i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Table {
    pub(crate) name: String,
    /// The name lower-cased: the table's key in the database's map, shared by its undo-log entries.
    pub(crate) key: std::sync::Arc<str>,
    pub(crate) columns: Vec<Column>,
    /// The `INTEGER PRIMARY KEY` column, which is the rowid under another name.
    pub(crate) rowid_alias: Option<usize>,
    /// The declared primary key column (the rowid alias, or a unique key of another type).
    pub(crate) primary_key: Option<usize>,
    pub(crate) autoincrement: bool,
    /// Largest rowid ever inserted (SQLite's `sqlite_sequence`), used with AUTOINCREMENT.
    pub(crate) sequence: i64,
    pub(crate) rows: crate::chunked::ChunkMap<i64, Vec<Value>>,
    pub(crate) uniques: Vec<UniqueIndex>,
    /// Normalised `CREATE TABLE` text.
    pub(crate) sql: String,
    pub(crate) meta: TableMeta,
}

/// Page-store bookkeeping (see `pages.rs`): not content, so equal tables may differ here.
#[derive(Clone, Debug, Default)]
pub(crate) struct TableMeta {
    /// The table's id on the pages (catalog entry and data page headers).
    pub(crate) id: u32,
    /// Rowids put or taken since the pages were last written, in the order they were (repeats allowed: a `Vec`
    /// push costs no allocation per write, unlike a set; `take_page_writes` sorts and dedups).
    pub(crate) dirty: Vec<i64>,
    /// Rows put or taken, ever (a work counter).
    pub(crate) writes: u64,
}

impl TableMeta {
    /// Forget the marks of the last writes to `rowid` (a follower that got the row from page bytes).
    pub(crate) fn undirty(&mut self, rowid: i64) {
        while self.dirty.last() == Some(&rowid) {
            self.dirty.pop();
        }
    }
}

impl PartialEq for TableMeta {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Names that denote the rowid when no column has them.
pub(crate) fn is_rowid_name(name: &str) -> bool {
    ["rowid", "oid", "_rowid_"].iter().any(|n| n.eq_ignore_ascii_case(name))
}

fn index_key(columns: &[usize], values: &[Value]) -> Option<Vec<SortKey>> {
    // NULLs are distinct from each other, so a key with a NULL never conflicts.
    columns.iter().map(|&i| values.get(i).filter(|v| !v.is_null()).map(|v| SortKey(v.clone()))).collect()
}

impl Table {
    pub(crate) fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name.eq_ignore_ascii_case(name))
    }

    pub(crate) fn column_names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// The row as (column, value) pairs, the shape of row changes and reports.
    pub(crate) fn pairs(&self, values: &[Value]) -> Vec<(String, Value)> {
        self.columns.iter().zip(values).map(|(c, v)| (c.name.clone(), v.clone())).collect()
    }

    /// Insert or overwrite a row, maintaining the unique indexes. Constraints are the caller's.
    pub(crate) fn put(&mut self, rowid: i64, values: Vec<Value>) {
        for index in &mut self.uniques {
            if let Some(key) = index_key(&index.columns, &values) {
                index.entries.insert(key, rowid);
            }
        }
        self.rows.insert(rowid, values);
        self.meta.dirty.push(rowid);
        self.meta.writes += 1;
    }

    /// Remove a row, maintaining the unique indexes.
    pub(crate) fn take(&mut self, rowid: i64) -> Option<Vec<Value>> {
        let values = self.rows.remove(&rowid)?;
        self.meta.dirty.push(rowid);
        self.meta.writes += 1;
        for index in &mut self.uniques {
            if let Some(key) = index_key(&index.columns, &values) {
                if index.entries.get(&key) == Some(&rowid) {
                    index.entries.remove(&key);
                }
            }
        }
        Some(values)
    }

    /// The rowid a new row gets when it names none: one past the largest rowid, or with
    /// AUTOINCREMENT one past the largest ever used, so deleted keys are never handed out again.
    /// When the largest rowid is already i64::MAX, SQLite tries random unused rowids (or fails
    /// with AUTOINCREMENT); this engine takes the smallest unused positive one, deterministically.
    pub(crate) fn next_rowid(&self) -> Result<i64, SqlError> {
        let max = self.rows.keys().next_back().copied().unwrap_or(0);
        let base = if self.autoincrement { max.max(self.sequence) } else { max };
        let full = || SqlError::new("database or disk is full");
        match base.checked_add(1) {
            Some(next) => Ok(next),
            None if self.autoincrement => Err(full()),
            None => (1..=i64::MAX).find(|r| !self.rows.contains_key(r)).ok_or_else(full),
        }
    }

    fn constraint_name(&self, columns: &[usize]) -> String {
        let names: Vec<String> = columns
            .iter()
            .map(|&i| format!("{}.{}", self.name, self.columns.get(i).map_or("rowid", |c| c.name.as_str())))
            .collect();
        names.join(", ")
    }

    /// NOT NULL, then rowid uniqueness, then the unique indexes, in SQLite's order.
    /// `replacing` is the rowid of the row being updated, which does not conflict with itself.
    pub(crate) fn check(&self, rowid: i64, values: &[Value], replacing: Option<i64>) -> Result<(), SqlError> {
        for (i, column) in self.columns.iter().enumerate() {
            if column.not_null && values.get(i).is_none_or(Value::is_null) {
                return Err(SqlError::of(
                    SqlErrorKind::Constraint,
                    format!("NOT NULL constraint failed: {}.{}", self.name, column.name),
                ));
            }
        }
        let conflict = |other: i64| Some(other) != replacing;
        if self.rows.contains_key(&rowid) && conflict(rowid) {
            let alias: Vec<usize> = self.rowid_alias.into_iter().collect();
            let name = if alias.is_empty() { format!("{}.rowid", self.name) } else { self.constraint_name(&alias) };
            return Err(SqlError::of(SqlErrorKind::Constraint, format!("UNIQUE constraint failed: {name}")));
        }
        // SQLite checks the most recently created index first.
        for index in self.uniques.iter().rev() {
            let hit = index_key(&index.columns, values).and_then(|k| index.entries.get(&k).copied());
            if hit.is_some_and(conflict) {
                return Err(SqlError::of(
                    SqlErrorKind::Constraint,
                    format!("UNIQUE constraint failed: {}", self.constraint_name(&index.columns)),
                ));
            }
        }
        Ok(())
    }

    /// The primary key value identifying a row in row changes: the declared key, or the
    /// hidden rowid for a table without one.
    pub(crate) fn key_of(&self, rowid: i64, values: &[Value]) -> Value {
        match self.primary_key {
            Some(i) => values.get(i).cloned().unwrap_or(Value::Null),
            None => Value::Integer(rowid),
        }
    }

    /// Find a row by the key of [`Table::key_of`].
    pub(crate) fn rowid_for_key(&self, key: &Value) -> Option<i64> {
        match self.primary_key {
            Some(pk) if Some(pk) != self.rowid_alias => {
                let column = self.columns.get(pk)?;
                let key = column.affinity.apply(key.clone());
                let index = self.uniques.iter().find(|u| u.columns == [pk])?;
                index.entries.get(&vec![SortKey(key)]).copied()
            }
            _ => match Affinity::Integer.apply(key.clone()) {
                Value::Integer(i) if self.rows.contains_key(&i) => Some(i),
                _ => None,
            },
        }
    }

    /// Rows in primary key order (rowid order when the key is the rowid or there is none).
    pub(crate) fn rows_in_key_order(&self) -> Vec<&Vec<Value>> {
        let mut rows: Vec<&Vec<Value>> = self.rows.values().collect();
        if let Some(pk) = self.primary_key.filter(|pk| Some(*pk) != self.rowid_alias) {
            let null = Value::Null;
            super::sort_stable_by(&mut rows, |a, b| compare(a.get(pk).unwrap_or(&null), b.get(pk).unwrap_or(&null)));
        }
        rows
    }
}
