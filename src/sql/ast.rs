//! Syntax tree of the SQL subset, and its printer (the "normalised SQL" of DDL row changes).

use std::fmt::{self, Display, Formatter, Write as _};

use super::value::{format_real, Affinity, Value};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Stmt {
    Select(Box<Select>),
    Insert(Insert),
    Update(Update),
    Delete(Delete),
    CreateTable(CreateTable),
    CreateTrigger(CreateTrigger),
    /// `immediate`: BEGIN IMMEDIATE / EXCLUSIVE take the write lock at once.
    Begin {
        immediate: bool,
    },
    Commit,
    Rollback,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Select {
    pub(crate) distinct: bool,
    pub(crate) items: Vec<SelectItem>,
    pub(crate) from: Option<TableRef>,
    pub(crate) filter: Option<Expr>,
    /// (`desc` is always false for GROUP BY terms.)
    pub(crate) group_by: Vec<OrderTerm>,
    pub(crate) having: Option<Expr>,
    pub(crate) order_by: Vec<OrderTerm>,
    pub(crate) limit: Option<Expr>,
    pub(crate) offset: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SelectItem {
    /// `*`, or `t.*` with the qualifier.
    Star(Option<String>),
    /// `text` is the expression as written: the column name when there is no alias (as SQLite).
    Expr { expr: Expr, alias: Option<String>, text: String },
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TableRef {
    pub(crate) name: String,
    pub(crate) alias: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OrderTerm {
    pub(crate) expr: Expr,
    pub(crate) desc: bool,
    /// `ORDER BY 2` names the second result column. Only an integer literal does this, not
    /// an expression such as `FALSE` that happens to be an integer.
    pub(crate) position: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Insert {
    pub(crate) table: String,
    pub(crate) columns: Option<Vec<String>>,
    pub(crate) source: InsertSource,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum InsertSource {
    Values(Vec<Vec<Expr>>),
    Select(Box<Select>),
    DefaultValues,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Update {
    pub(crate) table: String,
    pub(crate) sets: Vec<(String, Expr)>,
    pub(crate) filter: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Delete {
    pub(crate) table: String,
    pub(crate) filter: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CreateTable {
    pub(crate) if_not_exists: bool,
    pub(crate) name: String,
    pub(crate) columns: Vec<ColumnDef>,
    /// Table-level `UNIQUE (a, b)` constraints (a table-level single-column PRIMARY KEY is
    /// folded into its column by the parser).
    pub(crate) unique: Vec<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ColumnDef {
    pub(crate) name: String,
    pub(crate) type_name: String,
    pub(crate) primary_key: bool,
    pub(crate) autoincrement: bool,
    pub(crate) not_null: bool,
    pub(crate) unique: bool,
    pub(crate) default: Option<Expr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TriggerEvent {
    Insert,
    Update,
    Delete,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CreateTrigger {
    pub(crate) if_not_exists: bool,
    pub(crate) name: String,
    pub(crate) event: TriggerEvent,
    /// `AFTER UPDATE OF a, b`: fire only when one of these columns is assigned.
    pub(crate) update_of: Vec<String>,
    pub(crate) table: String,
    pub(crate) when: Option<Expr>,
    pub(crate) body: Vec<Stmt>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnaryOp {
    Neg,
    Plus,
    Not,
    BitNot,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Is,
    IsNot,
    Lt,
    Le,
    Gt,
    Ge,
    BitAnd,
    BitOr,
    Shl,
    Shr,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Concat,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "OR",
            BinOp::And => "AND",
            BinOp::Eq => "=",
            BinOp::Ne => "<>",
            BinOp::Is => "IS",
            BinOp::IsNot => "IS NOT",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
            BinOp::Concat => "||",
        }
    }

    /// Binding strength, as in SQLite's grammar (higher binds tighter).
    pub(crate) fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Is | BinOp::IsNot => 4,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 5,
            BinOp::BitAnd | BinOp::BitOr | BinOp::Shl | BinOp::Shr => 6,
            BinOp::Add | BinOp::Sub => 7,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 8,
            BinOp::Concat => 9,
        }
    }
}

/// Precedence of NOT, and of IN / LIKE / BETWEEN / IS NULL (which sit with `=`).
pub(crate) const PREC_NOT: u8 = 3;
pub(crate) const PREC_EQUALITY: u8 = 4;
const PREC_UNARY: u8 = 10;
const PREC_PRIMARY: u8 = 11;

/// Where a column reference reads its value from, filled in by the binder before evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Unbound,
    /// Column `i` of the row being scanned, and that column's affinity.
    Row(usize, Affinity),
    /// The hidden or aliased rowid of the row being scanned.
    Rowid,
    /// `NEW.col` / `OLD.col` in a trigger body: column `i` of the trigger's row.
    New(usize, Affinity),
    Old(usize, Affinity),
    /// `NEW.rowid` / `OLD.rowid` of a table without an INTEGER PRIMARY KEY.
    NewRowid,
    OldRowid,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ColumnRef {
    pub(crate) qualifier: Option<String>,
    pub(crate) name: String,
    pub(crate) slot: Slot,
}

#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// Lower-cased function name.
    pub(crate) name: String,
    pub(crate) args: Vec<Expr>,
    /// `count(*)`.
    pub(crate) star: bool,
    pub(crate) distinct: bool,
    /// Byte range of the whole call in the statement text (for nondeterminism substitution).
    pub(crate) span: (usize, usize),
}

/// Calls are equal whatever their position in the source text.
impl PartialEq for Call {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, &self.args, self.star, self.distinct) == (&other.name, &other.args, other.star, other.distinct)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    Literal(Value),
    /// The keywords TRUE and FALSE (the integers 1 and 0, but `IS TRUE` treats them apart).
    Bool(bool),
    Column(ColumnRef),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        negated: bool,
    },
    /// `expr IS [NOT] TRUE` / `IS [NOT] FALSE`: a truth test that is never NULL.
    Truth {
        expr: Box<Expr>,
        value: bool,
        negated: bool,
    },
    Call(Call),
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Cast {
        expr: Box<Expr>,
        type_name: String,
    },
    /// The result of the i-th aggregate of the query (placed by aggregate extraction).
    Aggregate(usize),
}

impl Expr {
    /// Direct sub-expressions, in source order.
    pub(crate) fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Literal(_) | Expr::Bool(_) | Expr::Column(_) | Expr::Aggregate(_) => Vec::new(),
            Expr::Unary(_, e) | Expr::Cast { expr: e, .. } | Expr::Truth { expr: e, .. } => vec![e],
            Expr::Binary(_, l, r) | Expr::Like { expr: l, pattern: r, .. } => vec![l, r],
            Expr::InList { expr, list, .. } => std::iter::once(&**expr).chain(list).collect(),
            Expr::Between { expr, low, high, .. } => vec![expr, low, high],
            Expr::Call(c) => c.args.iter().collect(),
            Expr::Case { operand, whens, otherwise } => {
                let mut out: Vec<&Expr> = operand.iter().map(|e| &**e).collect();
                for (w, t) in whens {
                    out.push(w);
                    out.push(t);
                }
                out.extend(otherwise.iter().map(|e| &**e));
                out
            }
        }
    }

    /// Direct sub-expressions, mutable (for binding column references in place).
    pub(crate) fn children_mut(&mut self) -> Vec<&mut Expr> {
        match self {
            Expr::Literal(_) | Expr::Bool(_) | Expr::Column(_) | Expr::Aggregate(_) => Vec::new(),
            Expr::Unary(_, e) | Expr::Cast { expr: e, .. } | Expr::Truth { expr: e, .. } => vec![e],
            Expr::Binary(_, l, r) | Expr::Like { expr: l, pattern: r, .. } => vec![l, r],
            Expr::InList { expr, list, .. } => std::iter::once(&mut **expr).chain(list.iter_mut()).collect(),
            Expr::Between { expr, low, high, .. } => vec![expr, low, high],
            Expr::Call(c) => c.args.iter_mut().collect(),
            Expr::Case { operand, whens, otherwise } => {
                let mut out: Vec<&mut Expr> = operand.iter_mut().map(|e| &mut **e).collect();
                for (w, t) in whens {
                    out.push(w);
                    out.push(t);
                }
                out.extend(otherwise.iter_mut().map(|e| &mut **e));
                out
            }
        }
    }

    /// Visit this expression and every sub-expression (pre-order). Trees are at most
    /// `MAX_EXPR_DEPTH` deep (the parser enforces it), so recursion is bounded.
    pub(crate) fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        for child in self.children() {
            child.walk(f);
        }
    }

    fn precedence(&self) -> u8 {
        match self {
            Expr::Binary(op, ..) => op.precedence(),
            Expr::Unary(UnaryOp::Not, _) => PREC_NOT,
            Expr::Unary(..) => PREC_UNARY,
            Expr::InList { .. } | Expr::Between { .. } | Expr::Like { .. } | Expr::Truth { .. } => PREC_EQUALITY,
            // Negative literals print as `-x`, which must be parenthesised like a unary minus.
            Expr::Literal(Value::Integer(i)) if *i < 0 => PREC_UNARY,
            Expr::Literal(Value::Real(r)) if r.is_sign_negative() => PREC_UNARY,
            _ => PREC_PRIMARY,
        }
    }
}

impl Stmt {
    /// Visit every expression of the statement, including trigger bodies and column defaults.
    pub(crate) fn walk_exprs(&self, f: &mut dyn FnMut(&Expr)) {
        let opt = |e: &Option<Expr>, f: &mut dyn FnMut(&Expr)| {
            if let Some(e) = e {
                e.walk(f);
            }
        };
        match self {
            Stmt::Select(s) => walk_select(s, f),
            Stmt::Insert(i) => match &i.source {
                InsertSource::Values(rows) => rows.iter().flatten().for_each(|e| e.walk(f)),
                InsertSource::Select(s) => walk_select(s, f),
                InsertSource::DefaultValues => {}
            },
            Stmt::Update(u) => {
                u.sets.iter().for_each(|(_, e)| e.walk(f));
                opt(&u.filter, f);
            }
            Stmt::Delete(d) => opt(&d.filter, f),
            Stmt::CreateTable(t) => t.columns.iter().for_each(|c| opt(&c.default, f)),
            Stmt::CreateTrigger(t) => {
                opt(&t.when, f);
                t.body.iter().for_each(|s| s.walk_exprs(f));
            }
            Stmt::Begin { .. } | Stmt::Commit | Stmt::Rollback => {}
        }
    }
}

fn walk_select(s: &Select, f: &mut dyn FnMut(&Expr)) {
    for item in &s.items {
        if let SelectItem::Expr { expr, .. } = item {
            expr.walk(f);
        }
    }
    let singles = [&s.filter, &s.having, &s.limit, &s.offset];
    singles.into_iter().flatten().for_each(|e| e.walk(f));
    s.group_by.iter().for_each(|o| o.expr.walk(f));
    s.order_by.iter().for_each(|o| o.expr.walk(f));
}

/// Words that cannot be a bare identifier (in expressions, as aliases) and are quoted when
/// printing an identifier.
pub(crate) const RESERVED: &[&str] = &[
    "ALL",
    "AND",
    "AS",
    "ASC",
    "AUTOINCREMENT",
    "BEGIN",
    "BETWEEN",
    "BY",
    "CASE",
    "CAST",
    "CHECK",
    "COLLATE",
    "COMMIT",
    "CONSTRAINT",
    "CREATE",
    "CROSS",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "DEFAULT",
    "DELETE",
    "DESC",
    "DISTINCT",
    "DROP",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "EXISTS",
    "FALSE",
    "FOR",
    "FROM",
    "GLOB",
    "GROUP",
    "HAVING",
    "IN",
    "INNER",
    "INSERT",
    "INTERSECT",
    "INTO",
    "IS",
    "ISNULL",
    "JOIN",
    "LEFT",
    "LIKE",
    "LIMIT",
    "NATURAL",
    "NOT",
    "NOTNULL",
    "NULL",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "PRIMARY",
    "REFERENCES",
    "REGEXP",
    "ROLLBACK",
    "SELECT",
    "SET",
    "TABLE",
    "THEN",
    "TRIGGER",
    "TRUE",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VALUES",
    "WHEN",
    "WHERE",
];

pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// An identifier as it must be written to parse back to itself.
pub(crate) fn ident(name: &str) -> String {
    let plain = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if plain && !is_reserved(name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A value as a SQL literal that parses back to exactly the same value.
pub(crate) fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) if r.is_infinite() => if *r > 0.0 { "1e999" } else { "-1e999" }.into(),
        Value::Real(r) if r.is_nan() => "NULL".into(),
        Value::Real(r) => {
            // `{:?}` is the shortest text that reads back as the same double.
            let s = format!("{r:?}");
            if s.contains(['.', 'e', 'E']) {
                s
            } else {
                format!("{s}.0")
            }
        }
        Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

/// Used only for display purposes in errors and docs: the SQLite text form of a value.
pub(crate) fn display_value(v: &Value) -> String {
    match v {
        Value::Real(r) => format_real(*r),
        other => literal(other),
    }
}

fn comma_list<T>(
    f: &mut Formatter<'_>,
    items: &[T],
    each: impl Fn(&mut Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        each(f, item)?;
    }
    Ok(())
}

/// Print `e`, parenthesised when it binds less tightly than `min` requires.
fn operand(f: &mut Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if e.precedence() < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(v) => f.write_str(&literal(v)),
            Expr::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Expr::Column(c) => match &c.qualifier {
                Some(q) => write!(f, "{}.{}", ident(q), ident(&c.name)),
                None => f.write_str(&ident(&c.name)),
            },
            Expr::Unary(op, e) => {
                let (text, min) = match op {
                    UnaryOp::Neg => ("-", PREC_UNARY),
                    UnaryOp::Plus => ("+", PREC_UNARY),
                    UnaryOp::BitNot => ("~", PREC_UNARY),
                    UnaryOp::Not => ("NOT ", PREC_NOT),
                };
                f.write_str(text)?;
                // `- -1` must not print as `--1`, which would start a comment.
                if matches!(op, UnaryOp::Neg) && e.precedence() == PREC_UNARY {
                    return write!(f, "({e})");
                }
                operand(f, e, min)
            }
            Expr::Binary(op, l, r) => {
                let p = op.precedence();
                operand(f, l, p)?;
                write!(f, " {} ", op.symbol())?;
                operand(f, r, p + 1)
            }
            Expr::InList { expr, list, negated } => {
                operand(f, expr, PREC_EQUALITY + 1)?;
                f.write_str(if *negated { " NOT IN (" } else { " IN (" })?;
                comma_list(f, list, |f, e| write!(f, "{e}"))?;
                f.write_str(")")
            }
            Expr::Between { expr, low, high, negated } => {
                operand(f, expr, PREC_EQUALITY + 1)?;
                f.write_str(if *negated { " NOT BETWEEN " } else { " BETWEEN " })?;
                operand(f, low, PREC_EQUALITY + 1)?;
                f.write_str(" AND ")?;
                operand(f, high, PREC_EQUALITY + 1)
            }
            Expr::Truth { expr, value, negated } => {
                operand(f, expr, PREC_EQUALITY)?;
                let not = if *negated { "NOT " } else { "" };
                write!(f, " IS {not}{}", if *value { "TRUE" } else { "FALSE" })
            }
            Expr::Like { expr, pattern, negated } => {
                operand(f, expr, PREC_EQUALITY + 1)?;
                f.write_str(if *negated { " NOT LIKE " } else { " LIKE " })?;
                operand(f, pattern, PREC_EQUALITY + 1)
            }
            Expr::Call(c) => {
                let keyword = c.name.starts_with("current_") && c.args.is_empty() && !c.star;
                if keyword {
                    return f.write_str(&c.name.to_ascii_uppercase());
                }
                write!(f, "{}(", c.name.to_ascii_uppercase())?;
                if c.distinct {
                    f.write_str("DISTINCT ")?;
                }
                if c.star {
                    f.write_str("*")?;
                }
                comma_list(f, &c.args, |f, e| write!(f, "{e}"))?;
                f.write_str(")")
            }
            Expr::Case { operand: subject, whens, otherwise } => {
                f.write_str("CASE")?;
                if let Some(s) = subject {
                    write!(f, " {s}")?;
                }
                for (w, t) in whens {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(e) = otherwise {
                    write!(f, " ELSE {e}")?;
                }
                f.write_str(" END")
            }
            Expr::Cast { expr, type_name } => write!(f, "CAST({expr} AS {type_name})"),
            Expr::Aggregate(i) => write!(f, "<aggregate {i}>"),
        }
    }
}

impl Display for Select {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(if self.distinct { "SELECT DISTINCT " } else { "SELECT " })?;
        comma_list(f, &self.items, |f, item| match item {
            SelectItem::Star(None) => f.write_str("*"),
            SelectItem::Star(Some(q)) => write!(f, "{}.*", ident(q)),
            SelectItem::Expr { expr, alias: Some(a), .. } => write!(f, "{expr} AS {}", ident(a)),
            SelectItem::Expr { expr, alias: None, .. } => write!(f, "{expr}"),
        })?;
        if let Some(t) = &self.from {
            write!(f, " FROM {}", ident(&t.name))?;
            if let Some(a) = &t.alias {
                write!(f, " AS {}", ident(a))?;
            }
        }
        if let Some(w) = &self.filter {
            write!(f, " WHERE {w}")?;
        }
        if !self.group_by.is_empty() {
            f.write_str(" GROUP BY ")?;
            comma_list(f, &self.group_by, |f, o| write!(f, "{o}"))?;
        }
        if let Some(h) = &self.having {
            write!(f, " HAVING {h}")?;
        }
        if !self.order_by.is_empty() {
            f.write_str(" ORDER BY ")?;
            comma_list(f, &self.order_by, |f, o| write!(f, "{o}{}", if o.desc { " DESC" } else { "" }))?;
        }
        if let Some(l) = &self.limit {
            write!(f, " LIMIT {l}")?;
        }
        if let Some(o) = &self.offset {
            write!(f, " OFFSET {o}")?;
        }
        Ok(())
    }
}

impl Display for OrderTerm {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match (&self.expr, self.position) {
            (_, Some(k)) => write!(f, "{k}"),
            (e, None) => write!(f, "{e}"),
        }
    }
}

impl Display for ColumnDef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&ident(&self.name))?;
        if !self.type_name.is_empty() {
            write!(f, " {}", self.type_name)?;
        }
        if self.primary_key {
            f.write_str(" PRIMARY KEY")?;
        }
        if self.autoincrement {
            f.write_str(" AUTOINCREMENT")?;
        }
        if self.not_null {
            f.write_str(" NOT NULL")?;
        }
        if self.unique {
            f.write_str(" UNIQUE")?;
        }
        match &self.default {
            Some(e @ Expr::Literal(v)) if !matches!(e.precedence(), PREC_UNARY) && !v.is_null() => {
                write!(f, " DEFAULT {e}")
            }
            Some(Expr::Literal(Value::Null)) => f.write_str(" DEFAULT NULL"),
            Some(e) => write!(f, " DEFAULT ({e})"),
            None => Ok(()),
        }
    }
}

impl Display for Stmt {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stmt::Select(s) => write!(f, "{s}"),
            Stmt::Insert(i) => {
                write!(f, "INSERT INTO {}", ident(&i.table))?;
                if let Some(cols) = &i.columns {
                    f.write_str(" (")?;
                    comma_list(f, cols, |f, c| f.write_str(&ident(c)))?;
                    f.write_str(")")?;
                }
                match &i.source {
                    InsertSource::Values(rows) => {
                        f.write_str(" VALUES ")?;
                        comma_list(f, rows, |f, row| {
                            f.write_str("(")?;
                            comma_list(f, row, |f, e| write!(f, "{e}"))?;
                            f.write_str(")")
                        })
                    }
                    InsertSource::Select(s) => write!(f, " {s}"),
                    InsertSource::DefaultValues => f.write_str(" DEFAULT VALUES"),
                }
            }
            Stmt::Update(u) => {
                write!(f, "UPDATE {} SET ", ident(&u.table))?;
                comma_list(f, &u.sets, |f, (c, e)| write!(f, "{} = {e}", ident(c)))?;
                match &u.filter {
                    Some(w) => write!(f, " WHERE {w}"),
                    None => Ok(()),
                }
            }
            Stmt::Delete(d) => {
                write!(f, "DELETE FROM {}", ident(&d.table))?;
                match &d.filter {
                    Some(w) => write!(f, " WHERE {w}"),
                    None => Ok(()),
                }
            }
            Stmt::CreateTable(t) => {
                f.write_str("CREATE TABLE ")?;
                if t.if_not_exists {
                    f.write_str("IF NOT EXISTS ")?;
                }
                write!(f, "{} (", ident(&t.name))?;
                comma_list(f, &t.columns, |f, c| write!(f, "{c}"))?;
                for cols in &t.unique {
                    f.write_str(", UNIQUE (")?;
                    comma_list(f, cols, |f, c| f.write_str(&ident(c)))?;
                    f.write_str(")")?;
                }
                f.write_str(")")
            }
            Stmt::CreateTrigger(t) => {
                f.write_str("CREATE TRIGGER ")?;
                if t.if_not_exists {
                    f.write_str("IF NOT EXISTS ")?;
                }
                let event = match t.event {
                    TriggerEvent::Insert => "INSERT",
                    TriggerEvent::Update => "UPDATE",
                    TriggerEvent::Delete => "DELETE",
                };
                write!(f, "{} AFTER {event}", ident(&t.name))?;
                if !t.update_of.is_empty() {
                    f.write_str(" OF ")?;
                    comma_list(f, &t.update_of, |f, c| f.write_str(&ident(c)))?;
                }
                write!(f, " ON {} FOR EACH ROW", ident(&t.table))?;
                if let Some(w) = &t.when {
                    write!(f, " WHEN {w}")?;
                }
                f.write_str(" BEGIN")?;
                let mut body = String::new();
                for s in &t.body {
                    let _ = write!(body, " {s};");
                }
                write!(f, "{body} END")
            }
            Stmt::Begin { immediate } => f.write_str(if *immediate { "BEGIN IMMEDIATE" } else { "BEGIN" }),
            Stmt::Commit => f.write_str("COMMIT"),
            Stmt::Rollback => f.write_str("ROLLBACK"),
        }
    }
}
