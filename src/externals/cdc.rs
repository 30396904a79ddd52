//! Change data capture (DDIA 5.1 "Logical (row-based) log replication"): a consumer outside the database.
//!
//! A consumer node (role `cdc`) reads the leader's log like a follower, but keeps a search index over one text
//! column instead of a copy of the database. It can decode row images only: a statement-based or WAL log halts it
//! with an error that says why.

use std::collections::{BTreeMap, BTreeSet};

use crate::log_methods::{value_text, LogRecord, MixedPart};
use crate::protocol::single_leader::Node;
use crate::sql::{RowChange, SqlError, Value};

/// A CDC consumer's store: a search index over one text column (documents by primary key, and an inverted index).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchIndex {
    pub table: String,
    pub column: String,
    /// Primary key (as text) -> document text.
    pub docs: BTreeMap<String, String>,
    /// Lower-cased word -> keys of the documents containing it.
    pub terms: BTreeMap<String, BTreeSet<String>>,
}

fn words(text: &str) -> BTreeSet<String> {
    // extend, not collect: collecting into a set sorts first, one more sort instance in the wasm.
    let mut set = BTreeSet::new();
    set.extend(text.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_ascii_lowercase));
    set
}

fn plain_text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Null => String::new(),
        other => value_text(other),
    }
}

impl SearchIndex {
    pub fn new(table: &str, column: &str) -> Self {
        SearchIndex { table: table.to_string(), column: column.to_string(), ..SearchIndex::default() }
    }

    pub(crate) fn remove(&mut self, key: &str) {
        if let Some(text) = self.docs.remove(key) {
            for w in words(&text) {
                if let Some(keys) = self.terms.get_mut(&w) {
                    keys.remove(key);
                    if keys.is_empty() {
                        self.terms.remove(&w);
                    }
                }
            }
        }
    }

    pub(crate) fn put(&mut self, key: String, text: String) {
        self.remove(&key);
        for w in words(&text) {
            self.terms.entry(w).or_default().insert(key.clone());
        }
        self.docs.insert(key, text);
    }

    /// Put a row (as column/value pairs) under `key`, indexing this index's column.
    pub(crate) fn put_row(&mut self, key: &Value, row: &[(String, Value)]) {
        let text = row
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(&self.column))
            .map_or(String::new(), |(_, v)| plain_text(v));
        self.put(value_text(key), text);
    }

    /// Keys of the documents containing `word`.
    pub fn search(&self, word: &str) -> Vec<String> {
        self.terms.get(&word.to_ascii_lowercase()).map_or_else(Vec::new, |k| k.iter().cloned().collect())
    }

    pub(crate) fn covers(&self, table: &str) -> bool {
        table.eq_ignore_ascii_case(&self.table)
    }
}

impl Node {
    /// A CDC consumer decodes one log record into its search index.
    pub(crate) fn cdc_apply(&mut self, record: &LogRecord) -> Result<(), SqlError> {
        let changes = match record {
            LogRecord::Statement { .. } => {
                return Err(SqlError::new(
                    "change data capture needs row changes, but this log ships SQL statements: which rows a \
                     statement changed is only known by running it on a full copy of the data (row-based logging \
                     is what CDC tools read)",
                ))
            }
            LogRecord::Wal { format, .. } => {
                return Err(SqlError::new(format!(
                    "change data capture needs row changes, but this log ships page bytes in storage format \
                     {format}: only the database's own engine can decode them (logical decoding turns them into rows)"
                )))
            }
            LogRecord::Logical { changes } => changes.iter().collect::<Vec<_>>(),
            // A MIXED transaction decodes only when every statement in it went as rows.
            LogRecord::Mixed { parts } => {
                let mut all = Vec::new();
                for p in parts {
                    match p {
                        MixedPart::Rows { changes, .. } => all.extend(changes),
                        MixedPart::Statement(_) => {
                            return self.cdc_apply(&LogRecord::Statement { statements: Vec::new() })
                        }
                    }
                }
                all
            }
        };
        for c in changes {
            match c {
                RowChange::Ddl { .. } => {
                    // Keep the schema, to know each table's primary key.
                    let _ = self.db.apply_change(c);
                }
                RowChange::Insert { table, row } => {
                    let key = self.db.primary_key_of(table, row).or_else(|| row.first().map(|(_, v)| v.clone()));
                    if let (Some(index), Some(key)) = (self.search.as_mut().filter(|i| i.covers(table)), key) {
                        index.put_row(&key, row);
                    }
                }
                RowChange::Update { table, key, row } => {
                    let new_key = self.db.primary_key_of(table, row).unwrap_or_else(|| key.clone());
                    if let Some(index) = self.search.as_mut().filter(|i| i.covers(table)) {
                        index.remove(&value_text(key));
                        index.put_row(&new_key, row);
                    }
                }
                RowChange::Delete { table, key } => {
                    if let Some(index) = self.search.as_mut().filter(|i| i.covers(table)) {
                        index.remove(&value_text(key));
                    }
                }
            }
        }
        Ok(())
    }

    /// Rebuild a CDC consumer's index from its database copy (after a snapshot).
    pub(crate) fn rebuild_search(&mut self) {
        let Some(index) = self.search.as_ref() else { return };
        let table = index.table.clone();
        let mut fresh = SearchIndex::new(&table, &index.column);
        for row in self.db.rows(&table) {
            let key = self.db.primary_key_of(&table, &row).or_else(|| row.first().map(|(_, v)| v.clone()));
            if let Some(k) = key {
                fresh.put_row(&k, &row);
            }
        }
        self.search = Some(fresh);
    }
}
