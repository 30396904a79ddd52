//! Recursive-descent parser for the SQL subset.
//!
//! Expression functions return the parsed expression with its depth, so that a tree deeper than
//! [`MAX_EXPR_DEPTH`] is refused while it is being built: evaluating, printing and dropping a
//! tree are recursive, and an unbounded one would overflow the (small, on wasm) stack.

use super::ast::{
    is_reserved, BinOp, Call, ColumnDef, ColumnRef, CreateTable, CreateTrigger, Delete, Expr, Insert, InsertSource,
    OrderTerm, Select, SelectItem, Slot, Stmt, TableRef, TriggerEvent, UnaryOp, Update, PREC_EQUALITY, PREC_NOT,
};
use super::lexer::{tokenize, Tok, Token};
use super::value::Value;
use super::SqlError;

/// Deepest expression tree accepted, and deepest nesting of parentheses / prefix operators.
pub(crate) const MAX_EXPR_DEPTH: usize = 100;

/// A parsed statement and the byte range of its text (without the trailing `;`).
pub(crate) struct Parsed {
    pub(crate) stmt: Stmt,
    pub(crate) span: (usize, usize),
}

/// Parse exactly one statement; a trailing `;` is allowed.
pub(crate) fn parse_statement(sql: &str) -> Result<Parsed, SqlError> {
    let mut p = Parser { src: sql, toks: tokenize(sql)?, pos: 0, nesting: 0 };
    while p.eat_sym(";") {}
    let start = p.toks.get(p.pos).map(|t| t.start).ok_or_else(|| SqlError::new("empty statement"))?;
    let stmt = p.statement()?;
    let end = p.pos.checked_sub(1).and_then(|i| p.toks.get(i)).map_or(start, |t| t.end);
    if !p.eat_sym(";") && !p.at_end() {
        return Err(p.error());
    }
    while p.eat_sym(";") {}
    if !p.at_end() {
        return Err(SqlError::new("only one statement may be executed at a time"));
    }
    Ok(Parsed { stmt, span: (start, end) })
}

type ExprResult = Result<(Expr, usize), SqlError>;

/// An operator that can follow an operand.
#[derive(Clone, Copy)]
enum Infix {
    Binary(BinOp),
    /// IS, IN, LIKE, BETWEEN, ISNULL, ... (see [`Parser::equality_suffix`]).
    Postfix,
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    nesting: usize,
}

fn too_deep() -> SqlError {
    SqlError::new(format!("expression tree is too large (maximum depth {MAX_EXPR_DEPTH})"))
}

fn checked_depth(depth: usize) -> Result<usize, SqlError> {
    if depth > MAX_EXPR_DEPTH {
        Err(too_deep())
    } else {
        Ok(depth)
    }
}

fn binary(op: BinOp, (l, dl): (Expr, usize), (r, dr): (Expr, usize)) -> ExprResult {
    let depth = checked_depth(dl.max(dr) + 1)?;
    Ok((Expr::Binary(op, Box::new(l), Box::new(r)), depth))
}

/// Words that end a column's type name and start a column constraint.
const CONSTRAINT_WORDS: [&str; 11] =
    ["CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "DEFAULT", "CHECK", "REFERENCES", "COLLATE", "GENERATED", "AS"];

impl Parser<'_> {
    // ---- token helpers ----

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn is_kw_at(&self, offset: usize, kw: &str) -> bool {
        matches!(self.toks.get(self.pos + offset).map(|t| &t.tok), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn is_kw(&self, kw: &str) -> bool {
        self.is_kw_at(0, kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.is_kw(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), SqlError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Some(Tok::Sym(x)) if *x == s)
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        let hit = self.is_sym(s);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), SqlError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    /// SQLite's syntax error: names the token where parsing stopped.
    fn error(&self) -> SqlError {
        match self.toks.get(self.pos) {
            Some(t) => SqlError::new(format!("near \"{}\": syntax error", self.src.get(t.start..t.end).unwrap_or(""))),
            None => SqlError::new("incomplete input"),
        }
    }

    fn start_offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.src.len(), |t| t.start)
    }

    fn prev_end(&self) -> usize {
        self.pos.checked_sub(1).and_then(|i| self.toks.get(i)).map_or(0, |t| t.end)
    }

    /// An identifier: a bare word that is not reserved, or a quoted name.
    fn name(&mut self) -> Result<String, SqlError> {
        let name = match self.peek() {
            Some(Tok::Word(w)) if !is_reserved(w) => w.clone(),
            Some(Tok::Quoted(q)) => q.clone(),
            _ => return Err(self.error()),
        };
        self.pos += 1;
        Ok(name)
    }

    fn name_list(&mut self) -> Result<Vec<String>, SqlError> {
        self.expect_sym("(")?;
        let mut names = vec![self.name()?];
        while self.eat_sym(",") {
            names.push(self.name()?);
        }
        self.expect_sym(")")?;
        Ok(names)
    }

    /// Recursion guard for parentheses and prefix operators.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, SqlError>) -> Result<T, SqlError> {
        if self.nesting >= MAX_EXPR_DEPTH {
            return Err(too_deep());
        }
        self.nesting += 1;
        let result = f(self);
        self.nesting -= 1;
        result
    }

    // ---- statements ----

    fn statement(&mut self) -> Result<Stmt, SqlError> {
        let Some(Tok::Word(w)) = self.peek() else {
            return Err(self.error());
        };
        match w.to_ascii_uppercase().as_str() {
            "SELECT" => Ok(Stmt::Select(Box::new(self.select()?))),
            "INSERT" => self.insert(),
            "UPDATE" => self.update(),
            "DELETE" => self.delete(),
            "CREATE" => self.create(),
            "BEGIN" => {
                self.pos += 1;
                let immediate = self.eat_kw("IMMEDIATE") || self.eat_kw("EXCLUSIVE");
                if !immediate {
                    self.eat_kw("DEFERRED");
                }
                self.eat_kw("TRANSACTION");
                Ok(Stmt::Begin { immediate })
            }
            "START" => {
                self.pos += 1;
                self.expect_kw("TRANSACTION")?;
                Ok(Stmt::Begin { immediate: false })
            }
            "COMMIT" | "END" => {
                self.pos += 1;
                self.eat_kw("TRANSACTION");
                Ok(Stmt::Commit)
            }
            "ROLLBACK" => {
                self.pos += 1;
                self.eat_kw("TRANSACTION");
                Ok(Stmt::Rollback)
            }
            _ => Err(self.error()),
        }
    }

    fn select(&mut self) -> Result<Select, SqlError> {
        self.expect_kw("SELECT")?;
        let distinct = self.eat_kw("DISTINCT");
        if !distinct {
            self.eat_kw("ALL");
        }
        let mut items = vec![self.select_item()?];
        while self.eat_sym(",") {
            items.push(self.select_item()?);
        }
        let from = if self.eat_kw("FROM") {
            let name = self.name()?;
            let alias = if self.eat_kw("AS") { Some(self.name()?) } else { self.optional_bare_name() };
            Some(TableRef { name, alias })
        } else {
            None
        };
        let filter = self.optional_clause(&["WHERE"])?;
        let mut group_by = Vec::new();
        if self.eat_kw("GROUP") {
            self.expect_kw("BY")?;
            group_by.push(self.order_term()?);
            while self.eat_sym(",") {
                group_by.push(self.order_term()?);
            }
        }
        let having = self.optional_clause(&["HAVING"])?;
        let mut order_by = Vec::new();
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            loop {
                let mut term = self.order_term()?;
                term.desc = self.eat_kw("DESC");
                if !term.desc {
                    self.eat_kw("ASC");
                }
                order_by.push(term);
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        let (mut limit, mut offset) = (None, None);
        if self.eat_kw("LIMIT") {
            let first = self.expr()?;
            if self.eat_kw("OFFSET") {
                offset = Some(self.expr()?);
                limit = Some(first);
            } else if self.eat_sym(",") {
                // `LIMIT skip, count`
                limit = Some(self.expr()?);
                offset = Some(first);
            } else {
                limit = Some(first);
            }
        }
        Ok(Select { distinct, items, from, filter, group_by, having, order_by, limit, offset })
    }

    /// An ORDER BY / GROUP BY term. An integer literal (`2`, `-1`, `(+3)`) is a result column
    /// position, but only when it fits in 32 bits: SQLite's parser marks only those as integer
    /// values, so `ORDER BY 9223372036854775807` sorts by a constant.
    fn order_term(&mut self) -> Result<OrderTerm, SqlError> {
        let start = self.start_offset();
        let expr = self.expr()?;
        let text = self.src.get(start..self.prev_end()).unwrap_or("");
        let core = text.trim_matches(|c: char| matches!(c, '(' | ')' | '+' | '-') || c.is_ascii_whitespace());
        let mut e = &expr;
        while let Expr::Unary(UnaryOp::Plus, inner) = e {
            e = inner;
        }
        let small = match number_literal(core) {
            Ok(Value::Integer(v)) => i32::try_from(v).is_ok_and(|v| v >= 0),
            _ => false,
        };
        let position = match e {
            Expr::Literal(Value::Integer(k)) if small && core.starts_with(|c: char| c.is_ascii_digit()) => Some(*k),
            _ => None,
        };
        Ok(OrderTerm { expr, desc: false, position })
    }

    fn optional_clause(&mut self, kw: &[&str]) -> Result<Option<Expr>, SqlError> {
        if kw.iter().all(|k| self.eat_kw(k)) {
            Ok(Some(self.expr()?))
        } else {
            Ok(None)
        }
    }

    /// A bare alias: `SELECT a b FROM t u`.
    fn optional_bare_name(&mut self) -> Option<String> {
        match self.peek() {
            Some(Tok::Word(w)) if !is_reserved(w) => {
                let w = w.clone();
                self.pos += 1;
                Some(w)
            }
            Some(Tok::Quoted(q)) => {
                let q = q.clone();
                self.pos += 1;
                Some(q)
            }
            _ => None,
        }
    }

    fn select_item(&mut self) -> Result<SelectItem, SqlError> {
        if self.eat_sym("*") {
            return Ok(SelectItem::Star(None));
        }
        let qualified_star = matches!(self.peek(), Some(Tok::Word(_) | Tok::Quoted(_)))
            && matches!(self.toks.get(self.pos + 1).map(|t| &t.tok), Some(Tok::Sym(".")))
            && matches!(self.toks.get(self.pos + 2).map(|t| &t.tok), Some(Tok::Sym("*")));
        if qualified_star {
            let q = self.name()?;
            self.pos += 2;
            return Ok(SelectItem::Star(Some(q)));
        }
        let start = self.start_offset();
        let expr = self.expr()?;
        let text = self.src.get(start..self.prev_end()).unwrap_or("").to_string();
        let alias = if self.eat_kw("AS") {
            match self.peek() {
                Some(Tok::Str(s)) => {
                    let s = s.clone();
                    self.pos += 1;
                    Some(s)
                }
                _ => Some(self.name()?),
            }
        } else {
            self.optional_bare_name()
        };
        Ok(SelectItem::Expr { expr, alias, text })
    }

    fn insert(&mut self) -> Result<Stmt, SqlError> {
        self.expect_kw("INSERT")?;
        self.expect_kw("INTO")?;
        let table = self.name()?;
        let columns = if self.is_sym("(") { Some(self.name_list()?) } else { None };
        let source = if self.eat_kw("VALUES") {
            let mut rows = Vec::new();
            loop {
                self.expect_sym("(")?;
                rows.push(self.expr_list()?);
                self.expect_sym(")")?;
                if !self.eat_sym(",") {
                    break;
                }
            }
            InsertSource::Values(rows)
        } else if self.is_kw("SELECT") {
            InsertSource::Select(Box::new(self.select()?))
        } else {
            self.expect_kw("DEFAULT")?;
            self.expect_kw("VALUES")?;
            InsertSource::DefaultValues
        };
        Ok(Stmt::Insert(Insert { table, columns, source }))
    }

    fn update(&mut self) -> Result<Stmt, SqlError> {
        self.expect_kw("UPDATE")?;
        let table = self.name()?;
        self.expect_kw("SET")?;
        let mut sets = Vec::new();
        loop {
            let column = self.name()?;
            self.expect_sym("=")?;
            sets.push((column, self.expr()?));
            if !self.eat_sym(",") {
                break;
            }
        }
        let filter = self.optional_clause(&["WHERE"])?;
        Ok(Stmt::Update(Update { table, sets, filter }))
    }

    fn delete(&mut self) -> Result<Stmt, SqlError> {
        self.expect_kw("DELETE")?;
        self.expect_kw("FROM")?;
        let table = self.name()?;
        let filter = self.optional_clause(&["WHERE"])?;
        Ok(Stmt::Delete(Delete { table, filter }))
    }

    fn create(&mut self) -> Result<Stmt, SqlError> {
        self.expect_kw("CREATE")?;
        if self.eat_kw("TEMP") || self.eat_kw("TEMPORARY") {
            return Err(SqlError::new("temporary tables and triggers are not supported"));
        }
        if self.eat_kw("TABLE") {
            self.create_table()
        } else if self.eat_kw("TRIGGER") {
            self.create_trigger()
        } else {
            Err(self.error())
        }
    }

    fn if_not_exists(&mut self) -> Result<bool, SqlError> {
        if self.eat_kw("IF") {
            self.expect_kw("NOT")?;
            self.expect_kw("EXISTS")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn create_table(&mut self) -> Result<Stmt, SqlError> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.name()?;
        self.expect_sym("(")?;
        let mut columns: Vec<ColumnDef> = Vec::new();
        let mut unique = Vec::new();
        loop {
            if self.is_kw("PRIMARY") || self.is_kw("UNIQUE") || self.is_kw("CONSTRAINT") {
                self.table_constraint(&mut columns, &mut unique)?;
            } else if columns.is_empty() || unique.is_empty() {
                columns.push(self.column_def()?);
            } else {
                return Err(self.error());
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_sym(")")?;
        Ok(Stmt::CreateTable(CreateTable { if_not_exists, name, columns, unique }))
    }

    fn table_constraint(&mut self, columns: &mut [ColumnDef], unique: &mut Vec<Vec<String>>) -> Result<(), SqlError> {
        if self.eat_kw("CONSTRAINT") {
            self.name()?;
        }
        if self.eat_kw("UNIQUE") {
            unique.push(self.name_list()?);
            return Ok(());
        }
        self.expect_kw("PRIMARY")?;
        self.expect_kw("KEY")?;
        let names = self.name_list()?;
        let [only] = names.as_slice() else {
            return Err(SqlError::new("composite PRIMARY KEY is not supported"));
        };
        let column = columns.iter_mut().find(|c| c.name.eq_ignore_ascii_case(only));
        let column = column.ok_or_else(|| SqlError::new(format!("no such column: {only}")))?;
        column.primary_key = true;
        Ok(())
    }

    fn column_def(&mut self) -> Result<ColumnDef, SqlError> {
        let name = self.name()?;
        let type_name = self.type_name()?;
        let mut col = ColumnDef {
            name,
            type_name,
            primary_key: false,
            autoincrement: false,
            not_null: false,
            unique: false,
            default: None,
        };
        loop {
            if self.eat_kw("CONSTRAINT") {
                self.name()?;
            }
            if self.eat_kw("PRIMARY") {
                self.expect_kw("KEY")?;
                if !self.eat_kw("ASC") {
                    self.eat_kw("DESC");
                }
                col.primary_key = true;
                col.autoincrement = self.eat_kw("AUTOINCREMENT");
            } else if self.eat_kw("NOT") {
                self.expect_kw("NULL")?;
                col.not_null = true;
            } else if self.eat_kw("NULL") {
            } else if self.eat_kw("UNIQUE") {
                col.unique = true;
            } else if self.eat_kw("DEFAULT") {
                col.default = Some(self.default_value()?);
            } else if self.is_kw("CHECK") || self.is_kw("REFERENCES") || self.is_kw("COLLATE") {
                let word = self.src.get(self.start_offset()..).unwrap_or("");
                let word: String = word.chars().take_while(char::is_ascii_alphabetic).collect();
                return Err(SqlError::new(format!("{} constraints are not supported", word.to_ascii_uppercase())));
            } else {
                return Ok(col);
            }
        }
    }

    /// Type name: words, then an optional `(n)` or `(n, m)`; normalised to single spaces.
    fn type_name(&mut self) -> Result<String, SqlError> {
        let mut words = Vec::new();
        while let Some(Tok::Word(w)) = self.peek() {
            if CONSTRAINT_WORDS.iter().any(|k| k.eq_ignore_ascii_case(w)) {
                break;
            }
            words.push(w.clone());
            self.pos += 1;
        }
        let mut text = words.join(" ");
        if !words.is_empty() && self.eat_sym("(") {
            let mut args = Vec::new();
            loop {
                let sign = if self.eat_sym("-") {
                    "-"
                } else {
                    self.eat_sym("+");
                    ""
                };
                match self.peek() {
                    Some(Tok::Num(n)) => args.push(format!("{sign}{n}")),
                    _ => return Err(self.error()),
                }
                self.pos += 1;
                if !self.eat_sym(",") {
                    break;
                }
            }
            self.expect_sym(")")?;
            text = format!("{text}({})", args.join(", "));
        }
        Ok(text)
    }

    /// `DEFAULT` takes a literal, a signed number or a parenthesised expression.
    fn default_value(&mut self) -> Result<Expr, SqlError> {
        if self.is_sym("(") {
            return self.primary().map(|(e, _)| e);
        }
        if self.is_sym("-") || self.is_sym("+") {
            return self.prefix().map(|(e, _)| e);
        }
        match self.peek() {
            Some(Tok::Num(_) | Tok::Str(_) | Tok::Word(_)) => self.primary().map(|(e, _)| e),
            _ => Err(self.error()),
        }
    }

    fn create_trigger(&mut self) -> Result<Stmt, SqlError> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.name()?;
        if self.is_kw("BEFORE") || self.is_kw("INSTEAD") || !self.eat_kw("AFTER") {
            return Err(SqlError::new("only AFTER triggers are supported"));
        }
        let mut update_of = Vec::new();
        let event = if self.eat_kw("INSERT") {
            TriggerEvent::Insert
        } else if self.eat_kw("DELETE") {
            TriggerEvent::Delete
        } else {
            self.expect_kw("UPDATE")?;
            if self.eat_kw("OF") {
                update_of.push(self.name()?);
                while self.eat_sym(",") {
                    update_of.push(self.name()?);
                }
            }
            TriggerEvent::Update
        };
        self.expect_kw("ON")?;
        let table = self.name()?;
        if self.eat_kw("FOR") {
            self.expect_kw("EACH")?;
            self.expect_kw("ROW")?;
        }
        let when = self.optional_clause(&["WHEN"])?;
        self.expect_kw("BEGIN")?;
        let mut body = Vec::new();
        while !self.eat_kw("END") {
            let stmt = match self.peek() {
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("INSERT") => self.insert()?,
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("UPDATE") => self.update()?,
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("DELETE") => self.delete()?,
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("SELECT") => {
                    return Err(SqlError::new("only INSERT, UPDATE and DELETE are supported in trigger bodies"))
                }
                _ => return Err(self.error()),
            };
            body.push(stmt);
            self.expect_sym(";")?;
        }
        if body.is_empty() {
            return Err(SqlError::new("near \"END\": syntax error"));
        }
        Ok(Stmt::CreateTrigger(CreateTrigger { if_not_exists, name, event, update_of, table, when, body }))
    }

    // ---- expressions, loosest binding first ----

    fn expr(&mut self) -> Result<Expr, SqlError> {
        self.expr_depth().map(|(e, _)| e)
    }

    fn expr_list(&mut self) -> Result<Vec<Expr>, SqlError> {
        let mut list = vec![self.expr()?];
        while self.eat_sym(",") {
            list.push(self.expr()?);
        }
        Ok(list)
    }

    fn expr_depth(&mut self) -> ExprResult {
        self.nested(|p| p.binary_expr(1))
    }

    /// The infix operator at the cursor and its precedence (without consuming it).
    fn peek_infix(&self) -> Option<(Infix, u8)> {
        let word = |kw: &str| self.is_kw(kw);
        let infix = match self.peek()? {
            Tok::Sym(s) => Infix::Binary(match *s {
                "=" | "==" => BinOp::Eq,
                "!=" | "<>" => BinOp::Ne,
                "<" => BinOp::Lt,
                "<=" => BinOp::Le,
                ">" => BinOp::Gt,
                ">=" => BinOp::Ge,
                "&" => BinOp::BitAnd,
                "|" => BinOp::BitOr,
                "<<" => BinOp::Shl,
                ">>" => BinOp::Shr,
                "+" => BinOp::Add,
                "-" => BinOp::Sub,
                "*" => BinOp::Mul,
                "/" => BinOp::Div,
                "%" => BinOp::Rem,
                "||" => BinOp::Concat,
                _ => return None,
            }),
            Tok::Word(_) if word("OR") => Infix::Binary(BinOp::Or),
            Tok::Word(_) if word("AND") => Infix::Binary(BinOp::And),
            Tok::Word(_)
                if word("IS") || word("ISNULL") || word("NOTNULL") || word("IN") || word("LIKE") || word("BETWEEN") =>
            {
                Infix::Postfix
            }
            Tok::Word(_) if word("NOT") && ["NULL", "IN", "LIKE", "BETWEEN"].iter().any(|k| self.is_kw_at(1, k)) => {
                Infix::Postfix
            }
            _ => return None,
        };
        let precedence = match infix {
            Infix::Binary(op) => op.precedence(),
            Infix::Postfix => PREC_EQUALITY,
        };
        Some((infix, precedence))
    }

    /// Precedence climbing: operators binding at least as tightly as `min` extend `left`;
    /// a left-associative chain is built by the loop, not by recursion.
    fn binary_expr(&mut self, min: u8) -> ExprResult {
        let mut left = self.prefix()?;
        while let Some((infix, precedence)) = self.peek_infix() {
            if precedence < min {
                break;
            }
            left = match infix {
                Infix::Binary(op) => {
                    self.pos += 1;
                    let right = self.binary_expr(precedence + 1)?;
                    binary(op, left, right)?
                }
                Infix::Postfix => self.equality_suffix(left)?,
            };
        }
        Ok(left)
    }

    /// `NOT x` binds looser than comparisons; `-x`, `+x`, `~x` tighter than everything.
    fn prefix(&mut self) -> ExprResult {
        if self.eat_kw("NOT") {
            let (e, d) = self.nested(|p| p.binary_expr(PREC_NOT))?;
            return Ok((Expr::Unary(UnaryOp::Not, Box::new(e)), checked_depth(d + 1)?));
        }
        let op = match self.peek() {
            Some(Tok::Sym("-")) => UnaryOp::Neg,
            Some(Tok::Sym("+")) => UnaryOp::Plus,
            Some(Tok::Sym("~")) => UnaryOp::BitNot,
            _ => return self.primary(),
        };
        self.pos += 1;
        // -9223372036854775808 is the smallest integer, although 9223372036854775808 is a real.
        if op == UnaryOp::Neg {
            if let Some(Tok::Num(n)) = self.peek() {
                if n.parse::<u64>() == Ok(1 << 63) {
                    self.pos += 1;
                    return Ok((Expr::Literal(Value::Integer(i64::MIN)), 0));
                }
            }
        }
        let (e, d) = self.nested(Self::prefix)?;
        // Fold signs into numeric literals, so `-5` prints and re-parses as the same literal.
        Ok(match (op, e) {
            (UnaryOp::Neg, Expr::Literal(Value::Integer(i))) => {
                let v = i.checked_neg().map_or(Value::Real(-(i as f64)), Value::Integer);
                (Expr::Literal(v), 0)
            }
            (UnaryOp::Neg, Expr::Literal(Value::Real(r))) => (Expr::Literal(Value::Real(-r)), 0),
            (op, e) => (Expr::Unary(op, Box::new(e)), checked_depth(d + 1)?),
        })
    }

    /// The operators at the precedence of `=` that are not plain binary operators:
    /// `IS [NOT]`, `ISNULL`, `NOTNULL`, `NOT NULL`, `[NOT] IN`, `[NOT] LIKE`, `[NOT] BETWEEN`.
    fn equality_suffix(&mut self, left: (Expr, usize)) -> ExprResult {
        let operand = |p: &mut Self| p.binary_expr(PREC_EQUALITY + 1);
        if self.eat_kw("IS") {
            let negated = self.eat_kw("NOT");
            let right = operand(self)?;
            // `IS [NOT] TRUE / FALSE` tests truth (SQLite 3.23): '-4' IS TRUE, though '-4' IS 1
            // is false. Only a bare keyword does this (or `x IN ()`, which SQLite's parser turns
            // into FALSE), not an expression such as `FALSE % 2`.
            if let (Expr::Bool(value), _) = right {
                let (expr, depth) = left;
                let truth = Expr::Truth { expr: Box::new(expr), value, negated };
                return Ok((truth, checked_depth(depth + 1)?));
            }
            let op = if negated { BinOp::IsNot } else { BinOp::Is };
            return binary(op, left, right);
        }
        let null = (Expr::Literal(Value::Null), 0);
        if self.eat_kw("ISNULL") {
            return binary(BinOp::Is, left, null);
        }
        if self.eat_kw("NOTNULL") {
            return binary(BinOp::IsNot, left, null);
        }
        let negated = self.eat_kw("NOT");
        if self.eat_kw("NULL") {
            return binary(BinOp::IsNot, left, null);
        }
        let (expr, depth) = left;
        let expr = Box::new(expr);
        if self.eat_kw("IN") {
            return self.in_list((*expr, depth), negated);
        }
        if self.eat_kw("LIKE") {
            let (pattern, dp) = operand(self)?;
            let depth = checked_depth(depth.max(dp) + 1)?;
            return Ok((Expr::Like { expr, pattern: Box::new(pattern), negated }, depth));
        }
        self.expect_kw("BETWEEN")?;
        let (low, dl) = operand(self)?;
        self.expect_kw("AND")?;
        let (high, dh) = operand(self)?;
        let depth = checked_depth(depth.max(dl).max(dh) + 1)?;
        Ok((Expr::Between { expr, low: Box::new(low), high: Box::new(high), negated }, depth))
    }

    fn in_list(&mut self, (expr, depth): (Expr, usize), negated: bool) -> ExprResult {
        self.expect_sym("(")?;
        let mut list = Vec::new();
        let mut max = depth;
        if self.eat_sym(")") {
            // SQLite's parser replaces `x IN ()` by FALSE and `x NOT IN ()` by TRUE: x is never
            // evaluated, and the result is the keyword (so `c IS NOT (1 IN ())` is a truth test).
            return Ok((Expr::Bool(negated), 0));
        }
        loop {
            let (e, d) = self.expr_depth()?;
            max = max.max(d);
            list.push(e);
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_sym(")")?;
        Ok((Expr::InList { expr: Box::new(expr), list, negated }, checked_depth(max + 1)?))
    }

    fn primary(&mut self) -> ExprResult {
        let Some(token) = self.toks.get(self.pos) else {
            return Err(self.error());
        };
        let (start, end) = (token.start, token.end);
        let literal = match &token.tok {
            Tok::Num(n) => Some(number_literal(n)?),
            Tok::Str(s) => Some(Value::Text(s.clone())),
            Tok::Word(w) if w.eq_ignore_ascii_case("NULL") => Some(Value::Null),
            _ => None,
        };
        if let Some(v) = literal {
            self.pos += 1;
            return Ok((Expr::Literal(v), 0));
        }
        if let Tok::Word(w) = &token.tok {
            if let Some(i) = ["FALSE", "TRUE"].iter().position(|k| w.eq_ignore_ascii_case(k)) {
                self.pos += 1;
                return Ok((Expr::Bool(i == 1), 0));
            }
        }
        if let Tok::Word(w) = &token.tok {
            let upper = w.to_ascii_uppercase();
            if matches!(upper.as_str(), "CURRENT_TIMESTAMP" | "CURRENT_DATE" | "CURRENT_TIME") {
                self.pos += 1;
                let call = Call {
                    name: upper.to_ascii_lowercase(),
                    args: Vec::new(),
                    star: false,
                    distinct: false,
                    span: (start, end),
                };
                return Ok((Expr::Call(call), 0));
            }
            if upper == "CASE" {
                return self.nested(Self::case);
            }
            if upper == "CAST" {
                return self.nested(Self::cast);
            }
        }
        if self.eat_sym("(") {
            let inner = self.expr_depth()?;
            self.expect_sym(")")?;
            return Ok(inner);
        }
        let name = self.name()?;
        if self.is_sym("(") {
            return self.nested(|p| p.call(name, start));
        }
        if self.eat_sym(".") {
            let column = self.name()?;
            let col = ColumnRef { qualifier: Some(name), name: column, slot: Slot::Unbound };
            return Ok((Expr::Column(col), 0));
        }
        Ok((Expr::Column(ColumnRef { qualifier: None, name, slot: Slot::Unbound }), 0))
    }

    fn call(&mut self, name: String, start: usize) -> ExprResult {
        self.expect_sym("(")?;
        let distinct = self.eat_kw("DISTINCT");
        let mut args = Vec::new();
        let mut depth = 0;
        let star = !distinct && self.eat_sym("*");
        if !star && !self.is_sym(")") {
            loop {
                let (e, d) = self.expr_depth()?;
                depth = depth.max(d);
                args.push(e);
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        self.expect_sym(")")?;
        let call = Call { name: name.to_ascii_lowercase(), args, star, distinct, span: (start, self.prev_end()) };
        Ok((Expr::Call(call), checked_depth(depth + 1)?))
    }

    fn case(&mut self) -> ExprResult {
        self.expect_kw("CASE")?;
        let mut depth = 0;
        let mut sub = |p: &mut Self| -> Result<Expr, SqlError> {
            let (e, d) = p.expr_depth()?;
            depth = depth.max(d);
            Ok(e)
        };
        let operand = if self.is_kw("WHEN") { None } else { Some(Box::new(sub(self)?)) };
        let mut whens = Vec::new();
        while self.eat_kw("WHEN") {
            let when = sub(self)?;
            self.expect_kw("THEN")?;
            whens.push((when, sub(self)?));
        }
        if whens.is_empty() {
            return Err(self.error());
        }
        let otherwise = if self.eat_kw("ELSE") { Some(Box::new(sub(self)?)) } else { None };
        self.expect_kw("END")?;
        Ok((Expr::Case { operand, whens, otherwise }, checked_depth(depth + 1)?))
    }

    fn cast(&mut self) -> ExprResult {
        self.expect_kw("CAST")?;
        self.expect_sym("(")?;
        let (expr, depth) = self.expr_depth()?;
        self.expect_kw("AS")?;
        let type_name = self.type_name()?;
        self.expect_sym(")")?;
        Ok((Expr::Cast { expr: Box::new(expr), type_name }, checked_depth(depth + 1)?))
    }
}

/// A numeric token as a value: decimal integers that overflow become reals (as in SQLite),
/// hexadecimal literals are 64-bit two's complement.
fn number_literal(text: &str) -> Result<Value, SqlError> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16)
            .map(|u| Value::Integer(u as i64))
            .map_err(|_| SqlError::new(format!("hex literal too big: {text}")));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Value::Integer(i));
        }
    }
    text.parse::<f64>().map(Value::Real).map_err(|_| SqlError::new(format!("unrecognized token: \"{text}\"")))
}
