//! Pages: the byte-level, durable form of a database and the unit of physical (WAL) replication.
//!
//! The decoded tables (`Table::rows`) are the working set; the page store is kept in step with
//! them. [`Table::put`] / [`Table::take`] mark rows dirty, DDL and AUTOINCREMENT changes mark the
//! catalog dirty, and [`Database::take_page_writes`] writes the dirty rows and the catalog to
//! their pages and returns the byte ranges that actually changed (so a rolled-back transaction
//! ships nothing). A follower applies them with [`Database::apply_page_writes`] and re-decodes
//! the touched pages, so its tables come from the bytes alone.
//!
//! # Layout
//!
//! Pages are `page_size` bytes (128..=65536, default 256). Every page starts with a 10-byte
//! header, its integers in the format's byte order (big-endian in format 1, little-endian in 2):
//!
//! | bytes | field |
//! |---|---|
//! | 0 | storage format (1 or 2; 0 on a free page, which is all zeros) |
//! | 1 | kind: 0 free, 1 catalog, 2 table data |
//! | 2..6 | data: owning table id; catalog: next catalog page (0 = last) |
//! | 6..8 | data: slot count; catalog: bytes of catalog stream in this page |
//! | 8..10 | data: size of the record area (the free-space pointer, counted from the page end) |
//!
//! Page 0 heads the catalog (as `sqlite_master`): a byte stream continued over chained pages,
//! holding one record per table (kind, id, AUTOINCREMENT sequence as a fixed 8-byte integer,
//! normalised CREATE TABLE text) in id order, then one per trigger (kind, CREATE TRIGGER text).
//! Data pages are slotted: after the header a directory of 4-byte slots (record offset, length;
//! 0, 0 = empty) grows forwards, records grow backwards from the page end, one row per record.
//! A row goes to the table's page with the least room that still fits it (ties: lowest page),
//! else to the lowest free page, else a new one; an update rewrites in place when it is no
//! longer, else within its page when that has room (compacting it), else moves. Deleted bytes
//! are zeroed; a page whose last row goes becomes free (all zeros).
//!
//! # Row formats
//!
//! - Format 1: rowid as i64 big-endian, u16 column count, then per column a type byte (0 NULL,
//!   1 integer, 2 real, 3 text) and the value: i64 / f64 bits big-endian, u16 length + UTF-8.
//!   Catalog: kind 1 = table (u32 id, i64 sequence, u32 length, text), 2 = trigger (length, text).
//! - Format 2: a record header of the zig-zag varint rowid, varint column count and one type
//!   nibble per column (0 NULL, 1 integer, 2 real, 3 text, 4 the integer 0, 5 the integer 1; low
//!   nibble first), then the values: zig-zag varints, little-endian f64, varint length + UTF-8.
//!   Catalog: kind `T` (varint id, i64 sequence little-endian, varint length, text), `G` (trigger).
//!
//! A page of one format does not decode in the other (the format byte is checked first).

use std::collections::{BTreeMap, BTreeSet};

use crate::vecmap::VecMap;
use std::sync::Arc;

use super::ast::Stmt;
use super::engine::{Database, TxLog};
use super::exec::{build_table, Trigger};
use super::parser::parse_statement;
use super::table::Table;
use super::value::Value;
use super::SqlError;

const HEADER: usize = 10;
const SLOT: usize = 4;
const KIND_FREE: u8 = 0;
const KIND_CATALOG: u8 = 1;
const KIND_TABLE: u8 = 2;
pub(crate) const DEFAULT_PAGE_SIZE: usize = 256;

/// Bytes a node wrote to one page: the unit a WAL record carries (with its LSN).
#[derive(Clone, Debug, PartialEq)]
pub struct PageWrite {
    pub page: u32,
    pub offset: u16,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageKind {
    Catalog,
    /// A data page of the named table.
    Table(String),
    Free,
}

/// One page as the UI shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageSummary {
    pub page: u32,
    pub kind: PageKind,
    /// Bytes in use: header, slot directory and live records (catalog: header and stream).
    pub used: usize,
    pub rows: usize,
}

/// Cumulative work counters ("apply work" figures). Not part of a database's content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StorageStats {
    /// Rows the scans of statements visited.
    pub rows_read: u64,
    /// Row puts and takes (an update is both).
    pub rows_written: u64,
    /// Pages changed by `take_page_writes` / `apply_page_writes`.
    pub pages_written: u64,
    pub bytes_written: u64,
    /// Statements executed.
    pub statements: u64,
}

// ---- byte helpers ----

/// An unsigned integer of `width` bytes in the format's byte order.
fn get_uint(b: &[u8], at: usize, width: usize, f: u8) -> Option<u64> {
    let s = b.get(at..at.checked_add(width)?)?;
    let fold = |a: u64, x: &u8| a << 8 | u64::from(*x);
    Some(if f == 1 { s.iter().fold(0, fold) } else { s.iter().rev().fold(0, fold) })
}

fn put_uint(b: &mut [u8], at: usize, width: usize, v: u64, f: u8) {
    for i in 0..width {
        let shift = 8 * if f == 1 { width - 1 - i } else { i };
        if let Some(x) = b.get_mut(at + i) {
            *x = (v >> shift) as u8;
        }
    }
}

fn push_uint(out: &mut Vec<u8>, width: usize, v: u64, f: u8) {
    let at = out.len();
    out.resize(at + width, 0);
    put_uint(out, at, width, v, f);
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn zig(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzig(u: u64) -> i64 {
    (u >> 1) as i64 ^ -((u & 1) as i64)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn uint(&mut self, width: usize, f: u8) -> Option<u64> {
        let v = get_uint(self.b, self.at, width, f)?;
        self.at += width;
        Some(v)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn len(&mut self, f: u8, width: usize) -> Option<usize> {
        usize::try_from(if f == 1 { self.uint(width, 1)? } else { self.varint()? }).ok()
    }

    fn text(&mut self, f: u8, width: usize) -> Option<&'a str> {
        let n = self.len(f, width)?;
        std::str::from_utf8(self.take(n)?).ok()
    }

    fn done(&self) -> bool {
        self.at == self.b.len()
    }
}

fn push_text(out: &mut Vec<u8>, f: u8, width: usize, s: &str) {
    if f == 1 {
        push_uint(out, width, s.len() as u64, 1);
    } else {
        push_varint(out, s.len() as u64);
    }
    out.extend_from_slice(s.as_bytes());
}

// ---- records ----

/// Encoded size of a row record (computed without encoding it).
fn row_size(f: u8, rowid: i64, values: &[Value]) -> usize {
    let body: usize = values
        .iter()
        .map(|v| match (f, v) {
            (1, Value::Null) => 1,
            (1, Value::Integer(_) | Value::Real(_)) => 9,
            (1, Value::Text(s)) => 3 + s.len(),
            (_, Value::Null | Value::Integer(0 | 1)) => 0,
            (_, Value::Integer(i)) => varint_len(zig(*i)),
            (_, Value::Real(_)) => 8,
            (_, Value::Text(s)) => varint_len(s.len() as u64) + s.len(),
        })
        .sum();
    let head =
        if f == 1 { 10 } else { varint_len(zig(rowid)) + varint_len(values.len() as u64) + values.len().div_ceil(2) };
    head + body
}

/// Encode a row into `out` (cleared first), so a flush can reuse one buffer for every row.
fn encode_row_into(f: u8, rowid: i64, values: &[Value], out: &mut Vec<u8>) {
    out.clear();
    if f == 1 {
        push_uint(out, 8, rowid as u64, 1);
        push_uint(out, 2, values.len() as u64, 1);
        for v in values {
            match v {
                Value::Null => out.push(0),
                Value::Integer(i) => {
                    out.push(1);
                    push_uint(out, 8, *i as u64, 1);
                }
                Value::Real(r) => {
                    out.push(2);
                    push_uint(out, 8, r.to_bits(), 1);
                }
                Value::Text(s) => {
                    out.push(3);
                    push_text(out, 1, 2, s);
                }
            }
        }
        return;
    }
    push_varint(out, zig(rowid));
    push_varint(out, values.len() as u64);
    let nibbles = out.len();
    out.resize(nibbles + values.len().div_ceil(2), 0);
    for (i, v) in values.iter().enumerate() {
        let code = match v {
            Value::Null => 0,
            Value::Integer(0) => 4,
            Value::Integer(1) => 5,
            Value::Integer(n) => {
                push_varint(out, zig(*n));
                1
            }
            Value::Real(r) => {
                out.extend_from_slice(&r.to_bits().to_le_bytes());
                2
            }
            Value::Text(s) => {
                push_text(out, 2, 0, s);
                3
            }
        };
        if let Some(b) = out.get_mut(nibbles + i / 2) {
            *b |= code << (4 * (i % 2));
        }
    }
}

/// The rowid of a record: its first field in both formats.
fn record_rowid(f: u8, rec: &[u8]) -> Option<i64> {
    let mut r = Reader { b: rec, at: 0 };
    if f == 1 {
        r.uint(8, 1).map(|v| v as i64)
    } else {
        r.varint().map(unzig)
    }
}

fn decode_row(f: u8, rec: &[u8]) -> Option<(i64, Vec<Value>)> {
    let mut r = Reader { b: rec, at: 0 };
    let rowid = record_rowid(f, rec)?;
    let mut values = Vec::new();
    if f == 1 {
        r.at = 8;
        for _ in 0..r.uint(2, 1)? {
            values.push(match r.byte()? {
                0 => Value::Null,
                1 => Value::Integer(r.uint(8, 1)? as i64),
                2 => Value::Real(f64::from_bits(r.uint(8, 1)?)),
                3 => Value::Text(r.text(1, 2)?.to_string()),
                _ => return None,
            });
        }
    } else {
        r.varint()?;
        let n = usize::try_from(r.varint()?).ok()?;
        let nibbles = r.take(n.div_ceil(2))?;
        for i in 0..n {
            values.push(match (nibbles.get(i / 2)? >> (4 * (i % 2))) & 0xf {
                0 => Value::Null,
                1 => Value::Integer(unzig(r.varint()?)),
                2 => Value::Real(f64::from_bits(r.uint(8, 2)?)),
                3 => Value::Text(r.text(2, 0)?.to_string()),
                4 => Value::Integer(0),
                5 => Value::Integer(1),
                _ => return None,
            });
        }
    }
    r.done().then_some((rowid, values))
}

enum Entry<'a> {
    Table { id: u32, sequence: i64, sql: &'a str },
    Trigger(&'a str),
}

fn encode_catalog(f: u8, tables: &[&Table], triggers: &[Arc<Trigger>]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in tables {
        if f == 1 {
            out.push(1);
            push_uint(&mut out, 4, u64::from(t.meta.id), 1);
        } else {
            out.push(b'T');
            push_varint(&mut out, u64::from(t.meta.id));
        }
        push_uint(&mut out, 8, t.sequence as u64, f);
        push_text(&mut out, f, 4, &t.sql);
    }
    for t in triggers {
        out.push(if f == 1 { 2 } else { b'G' });
        push_text(&mut out, f, 4, &t.sql);
    }
    out
}

fn decode_catalog(f: u8, stream: &[u8]) -> Option<Vec<Entry<'_>>> {
    let mut r = Reader { b: stream, at: 0 };
    let mut entries = Vec::new();
    let (table, trigger) = if f == 1 { (1, 2) } else { (b'T', b'G') };
    while !r.done() {
        let kind = r.byte()?;
        entries.push(if kind == table {
            let id = u32::try_from(if f == 1 { r.uint(4, 1)? } else { r.varint()? }).ok()?;
            Entry::Table { id, sequence: r.uint(8, f)? as i64, sql: r.text(f, 4)? }
        } else if kind == trigger {
            Entry::Trigger(r.text(f, 4)?)
        } else {
            return None;
        });
    }
    Some(entries)
}

// ---- pages ----

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Owner {
    #[default]
    Free,
    Catalog,
    Table(u32),
}

/// What a page holds, derived from its bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Info {
    owner: Owner,
    slots: u32,
    rows: u32,
    /// Bytes of live records (catalog: of stream).
    live: u32,
}

/// A page decoded (and checked) from its bytes. Table rows are (slot, rowid, values); values
/// are `None` for a record unchanged since the page's previous image (not decoded again).
enum Parsed {
    Free,
    Catalog { next: u32, used: usize },
    Table { id: u32, info: Info, rows: Vec<(u32, i64, Option<Vec<Value>>)> },
}

fn parse_page(f: u8, ps: usize, b: &[u8], old: Option<&[u8]>) -> Result<Parsed, &'static str> {
    if b.len() != ps {
        return Err("wrong page size");
    }
    let (format, kind) = (b.first().copied().unwrap_or(0), b.get(1).copied().unwrap_or(0));
    if format == 0 && kind == KIND_FREE {
        return Ok(Parsed::Free);
    }
    if format != f {
        return Err("written in another storage format");
    }
    let field = |at: usize, w: usize| get_uint(b, at, w, f).unwrap_or(0) as usize;
    match kind {
        KIND_CATALOG if HEADER + field(6, 2) > ps => Err("catalog length out of range"),
        KIND_CATALOG => Ok(Parsed::Catalog { next: field(2, 4) as u32, used: field(6, 2) }),
        KIND_TABLE => {
            let (slots, content) = (field(6, 2), field(8, 2));
            if HEADER + SLOT * slots + content > ps {
                return Err("slot directory overlaps the records");
            }
            // Same owner as before: records whose slot and bytes did not change are kept as they are.
            let same_owner = old.filter(|o| o.get(..6) == b.get(..6));
            let mut info = Info { owner: Owner::Table(field(2, 4) as u32), slots: slots as u32, ..Info::default() };
            let mut rows = Vec::new();
            for s in 0..slots {
                let at = HEADER + SLOT * s;
                let (off, len) = (field(at, 2), field(at + 2, 2));
                if len == 0 {
                    continue;
                }
                let rec = b.get(off..off + len).filter(|_| off >= ps - content).ok_or("record out of range")?;
                let kept = same_owner.is_some_and(|o| {
                    o.get(at..at + SLOT) == b.get(at..at + SLOT) && o.get(off..off + len) == Some(rec)
                });
                let row = if kept {
                    (s as u32, record_rowid(f, rec).ok_or("malformed record")?, None)
                } else {
                    let (rowid, values) = decode_row(f, rec).ok_or("malformed record")?;
                    (s as u32, rowid, Some(values))
                };
                rows.push(row);
                info.rows += 1;
                info.live += len as u32;
            }
            if HEADER + SLOT * slots + info.live as usize > ps {
                return Err("records overlap");
            }
            Ok(Parsed::Table { id: field(2, 4) as u32, info, rows })
        }
        _ => Err("unknown page kind"),
    }
}

/// (table id, rowid) of the rows on a table page.
fn page_rowids(f: u8, b: &[u8]) -> Vec<(u32, i64)> {
    if b.get(1) != Some(&KIND_TABLE) || b.first() != Some(&f) {
        return Vec::new();
    }
    let field = |at: usize, w: usize| get_uint(b, at, w, f).unwrap_or(0) as usize;
    let id = field(2, 4) as u32;
    (0..field(6, 2))
        .filter_map(|s| {
            let (off, len) = (field(HEADER + SLOT * s, 2), field(HEADER + SLOT * s + 2, 2));
            (len > 0).then(|| b.get(off..off + len).and_then(|rec| record_rowid(f, rec))).flatten()
        })
        .map(|rowid| (id, rowid))
        .collect()
}

fn bad(page: u32, what: &str) -> SqlError {
    SqlError::new(format!("malformed page {page}: {what}"))
}

fn check_storage(format: u8, page_size: usize) -> Result<(), SqlError> {
    if !(1..=2).contains(&format) {
        return Err(SqlError::new(format!("unsupported storage format {format} (1 or 2)")));
    }
    if !(128..=65536).contains(&page_size) {
        return Err(SqlError::new(format!("unsupported page size {page_size} (128 to 65536 bytes)")));
    }
    Ok(())
}

/// The page store of a database. Pages are shared between clones until written (copy on write).
#[derive(Clone, Debug)]
pub(crate) struct Store {
    format: u8,
    page_size: usize,
    pages: crate::chunked::Chunked<Arc<Vec<u8>>>,
    info: crate::chunked::Chunked<Info>,
    free: VecMap<u32, ()>,
    /// Data pages with room: (table id, bytes a new record may take, page).
    space: crate::chunked::ChunkMap<(u32, u32, u32), ()>,
    /// For each table id on the pages: rowid -> (page, slot).
    locs: VecMap<u32, crate::chunked::ChunkMap<i64, (u32, u32)>>,
    /// The catalog's pages, page 0 first.
    catalog: Vec<u32>,
    pub(crate) catalog_dirty: bool,
    /// Pages written since the last flush, with their previous image (`None`: a new page).
    before: VecMap<u32, Option<Arc<Vec<u8>>>>,
    /// The page last recorded in `before` (a row's several small writes hit one page: skip the map lookups).
    last_before: Option<u32>,
    /// A reusable buffer for encoding rows.
    scratch: Vec<u8>,
    pub(crate) stats: StorageStats,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(1, DEFAULT_PAGE_SIZE)
    }
}

impl Store {
    fn new(format: u8, page_size: usize) -> Self {
        let mut s = Store {
            format,
            page_size,
            pages: crate::chunked::Chunked::new(),
            info: crate::chunked::Chunked::new(),
            free: VecMap::new(),
            space: crate::chunked::ChunkMap::new(),
            locs: VecMap::new(),
            catalog: vec![0],
            catalog_dirty: false,
            before: VecMap::new(),
            last_before: None,
            scratch: Vec::new(),
            stats: StorageStats::default(),
        };
        s.write_catalog(&[]);
        s.take_before();
        s
    }

    /// The largest record a page can hold.
    fn capacity(&self) -> usize {
        self.page_size - HEADER - SLOT
    }

    /// `row too big for a page` unless the row's record fits in an empty page.
    pub(crate) fn check_row(&self, rowid: i64, values: &[Value]) -> Result<(), SqlError> {
        let n = row_size(self.format, rowid, values);
        if n > self.capacity() {
            return Err(SqlError::new(format!("row too big for a page ({n} bytes, page size {})", self.page_size)));
        }
        Ok(())
    }

    /// Table ids that have a catalog entry on the pages.
    pub(crate) fn table_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.locs.keys().copied()
    }

    fn info(&self, page: u32) -> Info {
        self.info.get(page as usize).copied().unwrap_or_default()
    }

    fn avail(&self, i: &Info) -> u32 {
        (self.page_size as u32).saturating_sub((HEADER + SLOT) as u32 + SLOT as u32 * i.slots + i.live)
    }

    fn set_info(&mut self, page: u32, new: Info) {
        let old = self.info(page);
        if old == new && new.owner != Owner::Free {
            return;
        }
        if let Owner::Table(id) = old.owner {
            self.space.remove(&(id, self.avail(&old), page));
        }
        if let Owner::Table(id) = new.owner {
            self.space.insert((id, self.avail(&new), page), ());
        }
        if new.owner == Owner::Free {
            self.free.insert(page, ());
        } else if old.owner == Owner::Free {
            self.free.remove(&page);
        }
        if let Some(slot) = self.info.get_mut(page as usize) {
            *slot = new;
        }
    }

    /// The page for writing, its previous image kept for the diff; grows the store as needed.
    /// The pages written since the last flush, with their images before (and forget them).
    fn take_before(&mut self) -> VecMap<u32, Option<Arc<Vec<u8>>>> {
        self.last_before = None;
        std::mem::take(&mut self.before)
    }

    fn page_mut(&mut self, page: u32) -> &mut [u8] {
        let i = page as usize;
        while self.pages.len() <= i {
            self.before.insert(self.pages.len() as u32, None);
            self.pages.push(Arc::new(vec![0; self.page_size]));
            self.info.push(Info::default());
        }
        if self.last_before != Some(page) {
            if !self.before.contains_key(&page) {
                self.before.insert(page, Some(self.pages[i].clone()));
            }
            self.last_before = Some(page);
        }
        Arc::make_mut(&mut self.pages[i]).as_mut_slice()
    }

    fn bytes(&self, page: u32) -> &[u8] {
        self.pages.get(page as usize).map_or(&[], |p| p.as_slice())
    }

    fn field(&self, page: u32, at: usize, width: usize) -> usize {
        get_uint(self.bytes(page), at, width, self.format).unwrap_or(0) as usize
    }

    fn set_field(&mut self, page: u32, at: usize, width: usize, v: usize) {
        let f = self.format;
        put_uint(self.page_mut(page), at, width, v as u64, f);
    }

    fn slot(&self, page: u32, slot: u32) -> (usize, usize) {
        let at = HEADER + SLOT * slot as usize;
        (self.field(page, at, 2), self.field(page, at + 2, 2))
    }

    fn set_slot(&mut self, page: u32, slot: u32, off: usize, len: usize) {
        let at = HEADER + SLOT * slot as usize;
        self.set_field(page, at, 2, off);
        self.set_field(page, at + 2, 2, len);
    }

    fn write(&mut self, page: u32, at: usize, bytes: &[u8]) {
        if let Some(dst) = self.page_mut(page).get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    }

    fn zero(&mut self, page: u32, from: usize, to: usize) {
        if let Some(dst) = self.page_mut(page).get_mut(from..to) {
            dst.fill(0);
        }
    }

    /// A free page (the lowest) or a new one, initialised for `owner`.
    fn alloc(&mut self, owner: Owner) -> u32 {
        let page = self.free.first().map_or(self.pages.len() as u32, |(p, _)| *p);
        let (kind, id) = match owner {
            Owner::Table(id) => (KIND_TABLE, id),
            _ => (KIND_CATALOG, 0),
        };
        let f = self.format;
        let p = self.page_mut(page);
        p.fill(0);
        if let Some(h) = p.get_mut(..2) {
            h.copy_from_slice(&[f, kind]);
        }
        self.set_field(page, 2, 4, id as usize);
        self.set_info(page, Info { owner, ..Info::default() });
        page
    }

    fn release(&mut self, page: u32) {
        self.page_mut(page).fill(0);
        self.set_info(page, Info::default());
    }

    /// Does a record of `len` bytes fit in the page (after compaction)?
    fn fits(&self, page: u32, len: usize) -> bool {
        let i = self.info(page);
        let slot = if i.slots > i.rows { 0 } else { SLOT };
        HEADER + SLOT * i.slots as usize + i.live as usize + slot + len <= self.page_size
    }

    fn insert_record(&mut self, page: u32, rec: &[u8]) -> u32 {
        let mut info = self.info(page);
        // A free slot exists only when some row left the page.
        let slot = if info.slots > info.rows {
            (0..info.slots).find(|&s| self.slot(page, s).1 == 0).unwrap_or(info.slots)
        } else {
            info.slots
        };
        let slots = info.slots.max(slot + 1);
        let mut content = self.field(page, 8, 2);
        if self.page_size.saturating_sub(content) < HEADER + SLOT * slots as usize + rec.len() {
            self.compact(page, info.slots);
            content = info.live as usize;
        }
        let off = self.page_size.saturating_sub(content + rec.len());
        self.write(page, off, rec);
        self.set_field(page, 6, 2, slots as usize);
        self.set_field(page, 8, 2, content + rec.len());
        self.set_slot(page, slot, off, rec.len());
        info.slots = slots;
        info.rows += 1;
        info.live += rec.len() as u32;
        self.set_info(page, info);
        slot
    }

    /// Move the live records together at the end of the page (slots keep their numbers).
    fn compact(&mut self, page: u32, slots: u32) {
        let records: Vec<(u32, Vec<u8>)> = (0..slots)
            .filter_map(|s| {
                let (off, len) = self.slot(page, s);
                let rec = self.bytes(page).get(off..off + len)?;
                (len > 0).then(|| (s, rec.to_vec()))
            })
            .collect();
        self.zero(page, HEADER + SLOT * slots as usize, self.page_size);
        let mut end = self.page_size;
        for (s, rec) in records {
            end = end.saturating_sub(rec.len());
            self.write(page, end, &rec);
            self.set_slot(page, s, end, rec.len());
        }
        self.set_field(page, 8, 2, self.page_size - end);
    }

    fn remove_record(&mut self, page: u32, slot: u32) {
        let (off, len) = self.slot(page, slot);
        self.zero(page, off, off + len);
        self.set_slot(page, slot, 0, 0);
        let content = self.field(page, 8, 2);
        if off == self.page_size.saturating_sub(content) {
            self.set_field(page, 8, 2, content.saturating_sub(len));
        }
        let mut info = self.info(page);
        info.rows = info.rows.saturating_sub(1);
        info.live = info.live.saturating_sub(len as u32);
        while info.slots > 0 && self.slot(page, info.slots - 1).1 == 0 {
            info.slots -= 1;
        }
        self.set_field(page, 6, 2, info.slots as usize);
        self.set_info(page, info);
    }

    fn set_loc(&mut self, id: u32, rowid: i64, loc: Option<(u32, u32)>) {
        let rows = self.locs.or_default(id);
        match loc {
            Some(l) => rows.insert(rowid, l),
            None => rows.remove(&rowid),
        };
    }

    /// Bring one row's record in line with the table (`current` is None once it is deleted).
    fn sync_row(&mut self, id: u32, rowid: i64, current: Option<&[Value]>) {
        let mut buf = std::mem::take(&mut self.scratch);
        let rec = current.map(|v| {
            encode_row_into(self.format, rowid, v, &mut buf);
            buf.as_slice()
        });
        self.sync_record(id, rowid, rec);
        self.scratch = buf;
    }

    fn sync_record(&mut self, id: u32, rowid: i64, rec: Option<&[u8]>) {
        if let Some((page, slot)) = self.locs.get(&id).and_then(|rows| rows.get(&rowid)).copied() {
            let (off, len) = self.slot(page, slot);
            match rec {
                Some(r) if self.bytes(page).get(off..off + len) == Some(r) => return,
                Some(r) if r.len() <= len => {
                    self.write(page, off, r);
                    self.zero(page, off + r.len(), off + len);
                    self.set_slot(page, slot, off, r.len());
                    let mut info = self.info(page);
                    info.live = info.live.saturating_sub((len - r.len()) as u32);
                    return self.set_info(page, info);
                }
                _ => self.remove_record(page, slot),
            }
            if let Some(r) = rec.filter(|r| self.fits(page, r.len())) {
                let slot = self.insert_record(page, r);
                return self.set_loc(id, rowid, Some((page, slot)));
            }
            if self.info(page).rows == 0 {
                self.release(page);
            }
            self.set_loc(id, rowid, None);
        }
        if let Some(r) = rec {
            let best =
                self.space.range_from(&(id, r.len() as u32, 0)).next().filter(|(k, _)| k.0 == id).map(|(k, _)| k.2);
            let page = match best {
                Some(page) => page,
                None => self.alloc(Owner::Table(id)),
            };
            let slot = self.insert_record(page, r);
            self.set_loc(id, rowid, Some((page, slot)));
        }
    }

    /// Free the pages of a table that is no longer in the schema.
    fn drop_table(&mut self, id: u32) {
        let mut pages = BTreeSet::new();
        pages.extend(self.locs.remove(&id).unwrap_or_default().values().map(|l| l.0));
        for page in pages {
            self.release(page);
        }
    }

    /// Write the catalog stream over the catalog pages, growing or shrinking the chain.
    fn write_catalog(&mut self, stream: &[u8]) {
        let cap = self.page_size - HEADER;
        let need = stream.len().div_ceil(cap).max(1);
        while self.catalog.len() < need {
            let page = self.alloc(Owner::Catalog);
            self.catalog.push(page);
        }
        while self.catalog.len() > need {
            if let Some(page) = self.catalog.pop() {
                self.release(page);
            }
        }
        for i in 0..need {
            let (page, next) = (self.catalog[i], self.catalog.get(i + 1).copied().unwrap_or(0));
            let chunk = stream.get(i * cap..stream.len().min((i + 1) * cap)).unwrap_or(&[]);
            let mut header = [self.format, KIND_CATALOG, 0, 0, 0, 0, 0, 0, 0, 0];
            put_uint(&mut header, 2, 4, u64::from(next), self.format);
            put_uint(&mut header, 6, 2, chunk.len() as u64, self.format);
            let old = self.bytes(page);
            let used = HEADER + self.field(page, 6, 2);
            if old.get(..HEADER) != Some(&header[..]) || old.get(HEADER..HEADER + chunk.len()) != Some(chunk) {
                self.zero(page, HEADER + chunk.len(), used.max(HEADER + chunk.len()));
                self.write(page, 0, &header);
                self.write(page, HEADER, chunk);
            }
            self.set_info(page, Info { owner: Owner::Catalog, live: chunk.len() as u32, ..Info::default() });
        }
    }

    /// Count what `diff` would return (pages and bytes written) without building it: a checkpoint whose page
    /// writes nobody ships. Differing bytes are counted eight at a time.
    fn count_changes(&mut self) {
        for (page, before) in self.take_before() {
            let Some(now) = self.pages.get(page as usize) else { continue };
            let mut changed = 0u64;
            match before.as_deref() {
                Some(old) => {
                    for (a, b) in old.chunks(8).zip(now.chunks(8)) {
                        if a != b {
                            changed += a.iter().zip(b).filter(|(x, y)| x != y).count() as u64;
                        }
                    }
                }
                None => changed = now.iter().filter(|b| **b != 0).count() as u64,
            }
            self.stats.bytes_written += changed;
            self.stats.pages_written += u64::from(changed > 0);
        }
    }

    /// The changed byte ranges of the pages written since the last call, in page order.
    fn diff(&mut self) -> Vec<PageWrite> {
        let mut out = Vec::new();
        let zeros = vec![0; self.page_size];
        for (page, before) in self.take_before() {
            let Some(now) = self.pages.get(page as usize) else { continue };
            let old = before.as_deref().map_or(zeros.as_slice(), Vec::as_slice);
            let (n, count) = (now.len(), out.len());
            let same = |i: usize| old.get(i) == now.get(i);
            let mut i = 0;
            while i < n {
                let block = i..n.min(i + 16);
                if old.get(block.clone()) == now.get(block.clone()) {
                    i = block.end;
                } else if same(i) {
                    i += 1;
                } else {
                    let start = i;
                    while i < n && !same(i) {
                        i += 1;
                    }
                    let bytes = now.get(start..i).unwrap_or(&[]).to_vec();
                    self.stats.bytes_written += bytes.len() as u64;
                    out.push(PageWrite { page, offset: start as u16, bytes });
                }
            }
            self.stats.pages_written += u64::from(out.len() > count);
        }
        out
    }

    /// Read the catalog chain from page 0: its pages and the stream.
    fn read_catalog(&self) -> Result<(Vec<u32>, Vec<u8>), SqlError> {
        let (mut chain, mut stream, mut page) = (Vec::new(), Vec::new(), 0u32);
        loop {
            if chain.len() >= self.pages.len() {
                return Err(bad(page, "the catalog chain loops or is missing"));
            }
            match parse_page(self.format, self.page_size, self.bytes(page), None).map_err(|m| bad(page, m))? {
                Parsed::Catalog { next, used } => {
                    stream.extend_from_slice(self.bytes(page).get(HEADER..HEADER + used).unwrap_or(&[]));
                    chain.push(page);
                    if next == 0 {
                        break;
                    }
                    page = next;
                }
                _ => return Err(bad(page, "not a catalog page")),
            }
        }
        Ok((chain, stream))
    }
}

type Backup = Option<(VecMap<String, Table>, Vec<Arc<Trigger>>)>;

impl Database {
    /// An empty database in storage `format` (1 or 2) with pages of `page_size` bytes (128..=65536).
    pub fn with_storage(format: u8, page_size: usize) -> Result<Database, SqlError> {
        check_storage(format, page_size)?;
        let mut db = Database::default();
        db.store = Store::new(format, page_size);
        Ok(db)
    }

    pub fn storage_format(&self) -> u8 {
        self.store.format
    }

    pub fn page_size(&self) -> usize {
        self.store.page_size
    }

    pub fn page_count(&self) -> usize {
        self.store.pages.len()
    }

    pub fn page_bytes(&self, page: u32) -> Option<&[u8]> {
        self.store.pages.get(page as usize).map(|p| p.as_slice())
    }

    /// Same page size and byte-identical pages (what physical replication promises).
    pub fn pages_equal(&self, other: &Database) -> bool {
        self.store.page_size == other.store.page_size && self.store.pages == other.store.pages
    }

    /// Cumulative work counters.
    pub fn stats(&self) -> StorageStats {
        let mut s = self.store.stats;
        s.rows_written += self.tables.values().map(|t| t.meta.writes).sum::<u64>();
        s
    }

    /// The pages as last written (by `take_page_writes`, `apply_page_writes` or an upgrade).
    pub fn page_summaries(&self) -> Vec<PageSummary> {
        // A handful of tables: a linear search (a map built by `collect` would cost a sort's code in the wasm).
        let name_of = |id: u32| self.tables.values().find(|t| t.meta.id == id).map(|t| t.name.as_str());
        let pages = self.store.info.iter().enumerate();
        pages
            .map(|(page, i)| {
                let (kind, used) = match i.owner {
                    Owner::Free => (PageKind::Free, 0),
                    Owner::Catalog => (PageKind::Catalog, HEADER + i.live as usize),
                    Owner::Table(id) => {
                        let name = name_of(id).map_or_else(|| format!("#{id}"), str::to_string);
                        (PageKind::Table(name), HEADER + SLOT * i.slots as usize + i.live as usize)
                    }
                };
                PageSummary { page: page as u32, kind, used, rows: i.rows as usize }
            })
            .collect()
    }

    /// Write every change since the last call to the pages and return the bytes that changed,
    /// in (page, offset) order. Work is proportional to the rows changed, not the database.
    pub fn take_page_writes(&mut self) -> Vec<PageWrite> {
        self.write_pages();
        self.store.diff()
    }

    /// A checkpoint: write every change since the last one to the pages, counting the bytes written but keeping
    /// no record of them (what nodes do when their page writes are not shipped).
    pub fn checkpoint(&mut self) {
        self.write_pages();
        self.store.count_changes();
    }

    fn write_pages(&mut self) {
        let store = &mut self.store;
        if store.catalog_dirty {
            let mut live = BTreeSet::new();
            live.extend(self.tables.values().map(|t| t.meta.id));
            let gone: Vec<u32> = store.table_ids().filter(|id| !live.contains(id)).collect();
            for id in gone {
                store.drop_table(id);
            }
        }
        for t in self.tables.values_mut().filter(|t| !t.meta.dirty.is_empty()) {
            let mut dirty = std::mem::take(&mut t.meta.dirty);
            super::sort_values(&mut dirty);
            dirty.dedup();
            for rowid in dirty {
                store.sync_row(t.meta.id, rowid, t.rows.get(&rowid).map(Vec::as_slice));
            }
        }
        if store.catalog_dirty {
            let mut tables: Vec<&Table> = self.tables.values().collect();
            super::sort_stable_by(&mut tables, |a, b| a.meta.id.cmp(&b.meta.id));
            for t in &tables {
                store.locs.or_default(t.meta.id);
            }
            store.write_catalog(&encode_catalog(store.format, &tables, &self.triggers));
            store.catalog_dirty = false;
        }
    }

    /// Re-encode every page in `format` (an offline upgrade, or a downgrade): the rows stay,
    /// the bytes change. Pending page writes are dropped, as an upgrade is not replicated.
    /// Fails, changing nothing, when a row would not fit in a page in the new format.
    pub fn upgrade_storage(&mut self, format: u8) -> Result<(), SqlError> {
        check_storage(format, self.store.page_size)?;
        if format == self.store.format {
            return Ok(());
        }
        let mut store = Store::new(format, self.store.page_size);
        store.stats = self.store.stats;
        for t in self.tables.values() {
            t.rows.iter().try_for_each(|(rowid, values)| store.check_row(*rowid, values))?;
        }
        let mut tables: Vec<&mut Table> = self.tables.values_mut().collect();
        super::sort_stable_by(&mut tables, |a, b| a.meta.id.cmp(&b.meta.id));
        for t in &mut tables {
            t.meta.dirty.clear();
            store.locs.or_default(t.meta.id);
            for (rowid, values) in &t.rows {
                store.sync_row(t.meta.id, *rowid, Some(values));
            }
        }
        let tables: Vec<&Table> = tables.into_iter().map(|t| &*t).collect();
        store.write_catalog(&encode_catalog(format, &tables, &self.triggers));
        store.take_before();
        self.store = store;
        Ok(())
    }

    /// Put this database (for example a snapshot copied from a node of another storage
    /// format) into `format`; nothing to do when it is already in it.
    pub fn reencode_to(&mut self, format: u8) -> Result<(), SqlError> {
        self.upgrade_storage(format)
    }

    /// A database rebuilt from this one's pages alone (crash recovery).
    pub fn recover_from_pages(&self) -> Result<Database, SqlError> {
        let mut db = Database::with_storage(self.store.format, self.store.page_size)?;
        let pages = self.store.pages.iter().enumerate();
        let writes: Vec<PageWrite> =
            pages.map(|(i, p)| PageWrite { page: i as u32, offset: 0, bytes: p.to_vec() }).collect();
        db.apply_page_writes(self.store.format, &writes)?;
        db.store.stats = StorageStats::default();
        for t in db.tables.values_mut() {
            t.meta.writes = 0;
        }
        Ok(db)
    }

    /// The follower side of physical replication: write the bytes, then bring the tables up to
    /// date from the touched pages alone. Fails (changing nothing) when the bytes were written
    /// in another storage format, or are malformed.
    pub fn apply_page_writes(&mut self, format: u8, writes: &[PageWrite]) -> Result<(), SqlError> {
        let own = self.store.format;
        if format != own {
            return Err(SqlError::new(format!(
                "WAL record written in storage format {format} cannot be applied by a node running storage format {own}"
            )));
        }
        let count = self.store.pages.len();
        for w in writes {
            if w.page as usize >= count + writes.len() || usize::from(w.offset) + w.bytes.len() > self.store.page_size {
                return Err(bad(w.page, "write out of range"));
            }
        }
        let pending = self.store.take_before();
        for w in writes {
            self.store.write(w.page, usize::from(w.offset), &w.bytes);
        }
        let touched = self.store.take_before();
        self.store.before = pending;
        let mut backup = None;
        let result = self.reconcile(&touched, &mut backup);
        if result.is_err() {
            if let Some((tables, triggers)) = backup {
                self.tables = tables;
                self.triggers = triggers;
            }
            for (&page, image) in touched.iter().rev() {
                match image {
                    Some(image) => {
                        if let Some(p) = self.store.pages.get_mut(page as usize) {
                            *p = image.clone();
                        }
                    }
                    None => {
                        self.store.pages.truncate(page as usize);
                        self.store.info.truncate(page as usize);
                    }
                }
            }
            return result;
        }
        let mut pages = BTreeSet::new();
        pages.extend(writes.iter().map(|w| w.page));
        self.store.stats.pages_written += pages.len() as u64;
        self.store.stats.bytes_written += writes.iter().map(|w| w.bytes.len() as u64).sum::<u64>();
        Ok(())
    }

    fn reconcile(&mut self, touched: &VecMap<u32, Option<Arc<Vec<u8>>>>, backup: &mut Backup) -> Result<(), SqlError> {
        let (f, ps) = (self.store.format, self.store.page_size);
        let mut parsed = Vec::with_capacity(touched.len());
        for (&page, old) in touched {
            let old = old.as_deref().map(Vec::as_slice);
            parsed.push((page, parse_page(f, ps, self.store.bytes(page), old).map_err(|m| bad(page, m))?));
        }
        let catalog_touched = parsed.iter().any(|(_, p)| matches!(p, Parsed::Catalog { .. }))
            || self.store.catalog.iter().any(|p| touched.contains_key(p));
        let (chain, stream) = if catalog_touched { self.store.read_catalog()? } else { (Vec::new(), Vec::new()) };
        let entries = decode_catalog(f, &stream).ok_or_else(|| bad(0, "malformed catalog"))?;
        let dropped = if catalog_touched { self.apply_schema(&entries, backup)? } else { Vec::new() };
        // Check everything before changing anything.
        let mut kept = BTreeSet::new();
        let mut added = BTreeMap::new();
        for (page, p) in &mut parsed {
            let Parsed::Table { id, rows, .. } = p else { continue };
            let t = self
                .tables
                .values()
                .find(|t| t.meta.id == *id)
                .ok_or_else(|| bad(*page, "rows of an unknown table"))?;
            for (slot, rowid, values) in std::mem::take(rows) {
                let Some(values) = values else {
                    kept.insert((*page, *id, rowid));
                    continue;
                };
                if values.len() != t.columns.len() {
                    return Err(bad(*page, "a row does not match its table's columns"));
                }
                let at = self.store.locs.get(id).and_then(|rows| rows.get(&rowid));
                if at.is_some_and(|l| !touched.contains_key(&l.0))
                    || added.insert((*id, rowid), (*page, slot, values)).is_some()
                {
                    return Err(bad(*page, "a row is stored twice"));
                }
            }
        }
        for id in &dropped {
            if self.store.locs.get(id).is_some_and(|rows| rows.values().any(|l| !touched.contains_key(&l.0))) {
                return Err(bad(0, "a dropped table still has rows"));
            }
        }
        // Apply.
        for id in dropped {
            self.store.locs.remove(&id);
        }
        for e in entries {
            if let Entry::Table { id, sequence, .. } = e {
                self.store.locs.or_default(id);
                if let Some(t) = self.table_by_id(id) {
                    t.sequence = sequence;
                }
            }
        }
        if catalog_touched {
            self.store.catalog = chain;
        }
        for (&page, old) in touched {
            for (id, rowid) in old.as_deref().map(|b| page_rowids(f, b)).unwrap_or_default() {
                if kept.contains(&(page, id, rowid)) || added.contains_key(&(id, rowid)) {
                    continue;
                }
                if let Some(rows) = self.store.locs.get_mut(&id) {
                    rows.remove(&rowid);
                }
                if let Some(t) = self.table_by_id(id) {
                    t.take(rowid);
                    t.meta.undirty(rowid);
                }
            }
        }
        for ((id, rowid), (page, slot, values)) in added {
            self.store.set_loc(id, rowid, Some((page, slot)));
            if let Some(t) = self.table_by_id(id) {
                if t.rows.get(&rowid) != Some(&values) {
                    t.take(rowid);
                    t.put(rowid, values);
                    t.meta.undirty(rowid);
                }
            }
        }
        for (page, p) in parsed {
            let info = match p {
                Parsed::Free => Info::default(),
                Parsed::Catalog { used, .. } => Info { owner: Owner::Catalog, live: used as u32, ..Info::default() },
                Parsed::Table { info, .. } => info,
            };
            self.store.set_info(page, info);
        }
        Ok(())
    }

    fn table_by_id(&mut self, id: u32) -> Option<&mut Table> {
        self.tables.values_mut().find(|t| t.meta.id == id)
    }

    /// Make tables and triggers match the catalog; returns the ids of tables dropped. The first
    /// change saves the schema in `backup`, for the caller to restore on a later error.
    fn apply_schema(&mut self, entries: &[Entry], backup: &mut Backup) -> Result<Vec<u32>, SqlError> {
        // (id, sql) of the tables wanted and had, as sorted sets in `Vec`s (a set type would add a B-tree instance
        // to the wasm).
        let mut want = Vec::new();
        let mut triggers = Vec::new();
        for e in entries {
            match e {
                Entry::Table { id, sql, .. } => {
                    if want.iter().any(|(i, _)| i == id) {
                        return Err(bad(0, "a table is in the catalog twice"));
                    }
                    want.push((*id, *sql));
                }
                Entry::Trigger(sql) => triggers.push(*sql),
            }
        }
        super::sort_values(&mut want);
        let mut have: Vec<(u32, &str)> = self.tables.values().map(|t| (t.meta.id, t.sql.as_str())).collect();
        super::sort_values(&mut have);
        have.dedup();
        if have == want && self.triggers.iter().map(|t| t.sql.as_str()).eq(triggers.iter().copied()) {
            return Ok(Vec::new());
        }
        *backup = Some((self.tables.clone(), self.triggers.clone()));
        let dropped: Vec<u32> = have.iter().filter(|x| want.binary_search(x).is_err()).map(|(id, _)| *id).collect();
        self.tables.retain(|_, t| !dropped.contains(&t.meta.id));
        for (id, sql) in want {
            if self.tables.values().any(|t| t.meta.id == id) {
                continue;
            }
            let catalog = |e: SqlError| bad(0, &e.message);
            let Stmt::CreateTable(ct) = parse_statement(sql).map_err(catalog)?.stmt else {
                return Err(bad(0, "a catalog table is not a CREATE TABLE"));
            };
            let key = ct.name.to_ascii_lowercase();
            if self.tables.contains_key(&key) {
                return Err(bad(0, "a table is in the catalog twice"));
            }
            let mut t = build_table(&ct).map_err(catalog)?;
            t.meta.id = id;
            t.sql = sql.to_string();
            self.tables.insert(key, t);
        }
        let old = std::mem::take(&mut self.triggers);
        let dirty = self.store.catalog_dirty;
        for sql in triggers {
            if let Some(t) = old.iter().find(|t| t.sql == sql && !self.triggers.iter().any(|n| n.name == t.name)) {
                self.triggers.push(t.clone());
                continue;
            }
            let catalog = |e: SqlError| bad(0, &e.message);
            let Stmt::CreateTrigger(ct) = parse_statement(sql).map_err(catalog)?.stmt else {
                return Err(bad(0, "a catalog trigger is not a CREATE TRIGGER"));
            };
            self.create_trigger(&ct, &mut TxLog::default()).map_err(catalog)?;
            if let Some(t) = self.triggers.last_mut() {
                Arc::make_mut(t).sql = sql.to_string();
            }
        }
        self.store.catalog_dirty = dirty;
        Ok(dropped)
    }
}
