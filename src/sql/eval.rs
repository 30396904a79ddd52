//! Expression evaluation: SQLite's arithmetic, three-valued logic, comparisons with affinity,
//! scalar functions, the nondeterministic functions (which read the node's [`Env`]) and
//! aggregate functions.

use std::cmp::Ordering;

use super::ast::{BinOp, Call, Expr, Slot, UnaryOp};
use super::value::{compare, comparison_affinity, Affinity, SortKey, Value};
use super::{Env, SqlError};

/// Names of the functions whose result depends on the executing node (clock or RNG).
pub(crate) const NONDETERMINISTIC: [&str; 7] =
    ["now", "rand", "random", "uuid", "current_timestamp", "current_date", "current_time"];

/// The row an expression is evaluated against.
#[derive(Clone, Copy, Default)]
pub(crate) struct RowCtx<'a> {
    pub(crate) values: &'a [Value],
    pub(crate) rowid: i64,
    /// `NEW` and `OLD` rows inside a trigger body.
    pub(crate) new: &'a [Value],
    pub(crate) old: &'a [Value],
    pub(crate) new_rowid: i64,
    pub(crate) old_rowid: i64,
    /// Aggregate results of the current group.
    pub(crate) aggs: &'a [Value],
}

/// The work one statement may do, its triggers' statements included, counted in steps: a row
/// visited by a scan or an expression evaluated is one step, a row inserted, updated or deleted is
/// [`CHANGE_STEPS`]. Past it the statement fails and is undone, as PostgreSQL cancels a statement
/// at its `statement_timeout`; counted rather than timed, so that a run stays deterministic. It
/// stops runaway trigger cascades, which would otherwise freeze the page: a statement at the limit
/// takes about 10 ms.
pub(crate) const MAX_STEPS: u64 = 400_000;
/// Why a statement over [`MAX_STEPS`] stopped (kept out of line: `step` runs for every expression).
#[cold]
#[inline(never)]
fn canceled() -> SqlError {
    SqlError::new(format!(
        "statement canceled: it did more than {MAX_STEPS_TEXT} steps of work (a row read or an expression evaluated \
         is a step, a row changed {CHANGE_STEPS}; its triggers' statements count too). This playground stops a \
         statement there so that the page stays responsive"
    ))
}

/// [`MAX_STEPS`] as a person reads it.
const MAX_STEPS_TEXT: &str = "400,000";

/// Steps a row change counts (what it costs beside an expression: constraint checks, an undo
/// entry, a row change to log, page writes).
pub(crate) const CHANGE_STEPS: u64 = 80;

/// Evaluates expressions for one statement. The clock is read once per statement (as MySQL's
/// `NOW()` and SQLite's `CURRENT_TIMESTAMP` do), the RNG once per call.
pub(crate) struct Evaluator<'e> {
    env: &'e mut dyn Env,
    now_us: Option<i64>,
    /// Rows the statement's scans visited (a work counter).
    pub(crate) rows_read: u64,
    /// Work done so far, and where the statement is canceled ([`MAX_STEPS`], or never).
    steps: u64,
    limit: u64,
}

fn boolean(b: bool) -> Value {
    Value::Integer(i64::from(b))
}

/// The comparison affinity of an operand: a column's own, a CAST's type, else none.
pub(crate) fn expr_affinity(e: &Expr) -> Option<Affinity> {
    match e {
        Expr::Column(c) => match c.slot {
            Slot::Row(_, a) | Slot::New(_, a) | Slot::Old(_, a) => Some(a),
            Slot::Rowid | Slot::NewRowid | Slot::OldRowid => Some(Affinity::Integer),
            Slot::Unbound => None,
        },
        Expr::Cast { type_name, .. } => Some(Affinity::of_type(type_name)),
        _ => None,
    }
}

impl<'e> Evaluator<'e> {
    pub(crate) fn new(env: &'e mut dyn Env) -> Self {
        Evaluator { env, now_us: None, rows_read: 0, steps: 0, limit: MAX_STEPS }
    }

    /// With `unlimited`, no work limit (see `Database::without_work_limit`).
    pub(crate) fn unlimited(mut self, unlimited: bool) -> Self {
        if unlimited {
            self.limit = u64::MAX;
        }
        self
    }

    /// Count `n` more rows visited by the statement's scans.
    pub(crate) fn read_rows(&mut self, n: u64) -> Result<(), SqlError> {
        self.rows_read = self.rows_read.saturating_add(n);
        self.step(n)
    }

    /// Count `n` steps of work; past [`MAX_STEPS`] the statement is canceled.
    pub(crate) fn step(&mut self, n: u64) -> Result<(), SqlError> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.limit {
            return Err(canceled());
        }
        Ok(())
    }

    fn now_us(&mut self) -> i64 {
        *self.now_us.get_or_insert_with(|| self.env.now_us())
    }

    pub(crate) fn eval(&mut self, e: &Expr, row: &RowCtx<'_>) -> Result<Value, SqlError> {
        self.step(1)?;
        Ok(match e {
            Expr::Literal(v) => v.clone(),
            Expr::Bool(b) => boolean(*b),
            Expr::Column(c) => {
                let pick = |values: &[Value], i: usize| values.get(i).cloned().unwrap_or(Value::Null);
                match c.slot {
                    Slot::Row(i, _) => pick(row.values, i),
                    Slot::New(i, _) => pick(row.new, i),
                    Slot::Old(i, _) => pick(row.old, i),
                    Slot::Rowid => Value::Integer(row.rowid),
                    Slot::NewRowid => Value::Integer(row.new_rowid),
                    Slot::OldRowid => Value::Integer(row.old_rowid),
                    Slot::Unbound => return Err(SqlError::new(format!("no such column: {}", c.name))),
                }
            }
            Expr::Aggregate(i) => row.aggs.get(*i).cloned().unwrap_or(Value::Null),
            Expr::Unary(op, inner) => unary(*op, self.eval(inner, row)?),
            Expr::Binary(BinOp::And, l, r) => self.and(l, r, row)?,
            Expr::Binary(BinOp::Or, l, r) => self.or(l, r, row)?,
            Expr::Binary(op, l, r) => {
                let (lv, rv) = (self.eval(l, row)?, self.eval(r, row)?);
                match op {
                    BinOp::Eq
                    | BinOp::Ne
                    | BinOp::Is
                    | BinOp::IsNot
                    | BinOp::Lt
                    | BinOp::Le
                    | BinOp::Gt
                    | BinOp::Ge => {
                        let aff = comparison_affinity(expr_affinity(l), expr_affinity(r));
                        compare_op(*op, lv, rv, aff)
                    }
                    BinOp::Concat => match (lv.to_text(), rv.to_text()) {
                        (Some(a), Some(b)) => Value::Text(a + &b),
                        _ => Value::Null,
                    },
                    BinOp::BitAnd | BinOp::BitOr | BinOp::Shl | BinOp::Shr => bitwise(*op, &lv, &rv),
                    _ => arithmetic(*op, &lv, &rv),
                }
            }
            Expr::InList { expr, list, negated } => self.in_list(expr, list, *negated, row)?,
            Expr::Between { expr, low, high, negated } => {
                let v = self.eval(expr, row)?;
                let (lo, hi) = (self.eval(low, row)?, self.eval(high, row)?);
                let aff = expr_affinity(expr);
                let ge = compare_op(BinOp::Ge, v.clone(), lo, comparison_affinity(aff, expr_affinity(low)));
                let le = compare_op(BinOp::Le, v, hi, comparison_affinity(aff, expr_affinity(high)));
                let both = and3(ge.truth(), le.truth());
                truth_value(if *negated { both.map(|b| !b) } else { both })
            }
            Expr::Truth { expr, value, negated } => {
                let is = self.eval(expr, row)?.truth() == Some(*value);
                boolean(is != *negated)
            }
            Expr::Like { expr, pattern, negated } => {
                let (text, pat) = (self.eval(expr, row)?, self.eval(pattern, row)?);
                match (text.to_text(), pat.to_text()) {
                    (Some(t), Some(p)) => boolean(like(&p, &t) != *negated),
                    _ => Value::Null,
                }
            }
            Expr::Call(c) => self.call(c, row)?,
            Expr::Case { operand, whens, otherwise } => {
                self.case(operand.as_deref(), whens, otherwise.as_deref(), row)?
            }
            Expr::Cast { expr, type_name } => cast(self.eval(expr, row)?, Affinity::of_type(type_name)),
        })
    }

    fn and(&mut self, l: &Expr, r: &Expr, row: &RowCtx<'_>) -> Result<Value, SqlError> {
        let left = self.eval(l, row)?.truth();
        if left == Some(false) {
            return Ok(boolean(false));
        }
        let right = self.eval(r, row)?.truth();
        Ok(truth_value(and3(left, right)))
    }

    fn or(&mut self, l: &Expr, r: &Expr, row: &RowCtx<'_>) -> Result<Value, SqlError> {
        let left = self.eval(l, row)?.truth();
        if left == Some(true) {
            return Ok(boolean(true));
        }
        let right = self.eval(r, row)?.truth();
        Ok(truth_value(match (left, right) {
            (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        }))
    }

    /// `x IN (a, b)`: the list values have no affinity of their own, so x's applies (SQLite).
    fn in_list(&mut self, expr: &Expr, list: &[Expr], negated: bool, row: &RowCtx<'_>) -> Result<Value, SqlError> {
        if list.is_empty() {
            return Ok(boolean(negated));
        }
        let v = self.eval(expr, row)?;
        if v.is_null() {
            return Ok(Value::Null);
        }
        let aff = expr_affinity(expr);
        let mut saw_null = false;
        for item in list {
            let candidate = self.eval(item, row)?;
            match compare_op(BinOp::Eq, v.clone(), candidate, aff).truth() {
                Some(true) => return Ok(boolean(!negated)),
                Some(false) => {}
                None => saw_null = true,
            }
        }
        Ok(if saw_null { Value::Null } else { boolean(negated) })
    }

    fn case(
        &mut self,
        operand: Option<&Expr>,
        whens: &[(Expr, Expr)],
        otherwise: Option<&Expr>,
        row: &RowCtx<'_>,
    ) -> Result<Value, SqlError> {
        let subject = operand.map(|e| self.eval(e, row)).transpose()?;
        for (when, then) in whens {
            let w = self.eval(when, row)?;
            let hit = match (&subject, operand) {
                (Some(s), Some(op)) => {
                    let aff = comparison_affinity(expr_affinity(op), expr_affinity(when));
                    compare_op(BinOp::Eq, s.clone(), w, aff).truth() == Some(true)
                }
                _ => w.truth() == Some(true),
            };
            if hit {
                return self.eval(then, row);
            }
        }
        otherwise.map_or(Ok(Value::Null), |e| self.eval(e, row))
    }

    /// Evaluate a nondeterministic function by name (the names of [`NONDETERMINISTIC`]).
    pub(crate) fn nondeterministic(&mut self, name: &str) -> Option<Value> {
        Some(match name {
            "now" => Value::Text(format_timestamp(self.now_us(), true)),
            "current_timestamp" => Value::Text(format_timestamp(self.now_us(), false)),
            "current_date" => Value::Text(format_timestamp(self.now_us(), false).chars().take(10).collect()),
            "current_time" => Value::Text(format_timestamp(self.now_us(), false).chars().skip(11).collect()),
            "rand" => Value::Real(unit_real(self.env.random_u64())),
            "random" => Value::Integer(self.env.random_u64() as i64),
            "uuid" => {
                let (hi, lo) = (self.env.random_u64(), self.env.random_u64());
                Value::Text(uuid_v4(hi, lo))
            }
            _ => return None,
        })
    }

    fn call(&mut self, c: &Call, row: &RowCtx<'_>) -> Result<Value, SqlError> {
        if let Some(v) = self.nondeterministic(&c.name) {
            return Ok(v);
        }
        // COALESCE and IFNULL stop at the first non-NULL argument, like SQLite.
        if matches!(c.name.as_str(), "coalesce" | "ifnull") {
            for arg in &c.args {
                let v = self.eval(arg, row)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            return Ok(Value::Null);
        }
        let args = c.args.iter().map(|a| self.eval(a, row)).collect::<Result<Vec<_>, _>>()?;
        scalar(&c.name, args)
    }
}

fn truth_value(t: Option<bool>) -> Value {
    t.map_or(Value::Null, boolean)
}

fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn unary(op: UnaryOp, v: Value) -> Value {
    match (op, v) {
        (_, Value::Null) => Value::Null,
        (UnaryOp::Plus, v) => v,
        (UnaryOp::Not, v) => truth_value(v.truth().map(|b| !b)),
        (UnaryOp::BitNot, v) => Value::Integer(!v.to_i64()),
        // SQLite computes `-x` as `0 - x`, so the overflow rules are those of subtraction.
        (UnaryOp::Neg, v) => arithmetic(BinOp::Sub, &Value::Integer(0), &v),
    }
}

/// `=`, `<`, `IS`, ...: NULL unless both sides are known (IS treats NULLs as equal).
fn compare_op(op: BinOp, l: Value, r: Value, affinity: Option<Affinity>) -> Value {
    if l.is_null() || r.is_null() {
        return match op {
            BinOp::Is => boolean(l.is_null() && r.is_null()),
            BinOp::IsNot => boolean(l.is_null() != r.is_null()),
            _ => Value::Null,
        };
    }
    let (l, r) = match affinity {
        Some(a) => (a.apply_for_comparison(l), a.apply_for_comparison(r)),
        None => (l, r),
    };
    let ord = compare(&l, &r);
    boolean(match op {
        BinOp::Eq | BinOp::Is => ord == Ordering::Equal,
        BinOp::Ne | BinOp::IsNot => ord != Ordering::Equal,
        BinOp::Lt => ord == Ordering::Less,
        BinOp::Le => ord != Ordering::Greater,
        BinOp::Gt => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    })
}

/// `+ - * / %`: integer arithmetic while it fits (overflow turns it into real arithmetic, as in
/// SQLite), integer division truncates, division by zero is NULL.
pub(crate) fn arithmetic(op: BinOp, l: &Value, r: &Value) -> Value {
    if l.is_null() || r.is_null() {
        return Value::Null;
    }
    let (ln, rn) = (l.to_numeric(), r.to_numeric());
    if let (Value::Integer(x), Value::Integer(y)) = (&ln, &rn) {
        let (x, y) = (*x, *y);
        let exact = match op {
            BinOp::Add => x.checked_add(y),
            BinOp::Sub => x.checked_sub(y),
            BinOp::Mul => x.checked_mul(y),
            BinOp::Div if y == 0 => return Value::Null,
            BinOp::Div => x.checked_div(y),
            BinOp::Rem if y == 0 => return Value::Null,
            BinOp::Rem => Some(x.wrapping_rem(y)),
            _ => None,
        };
        if let Some(v) = exact {
            return Value::Integer(v);
        }
    }
    if op == BinOp::Rem {
        // SQLite's real remainder reads each original operand as an integer (text by its
        // integer prefix: '1e3' is 1) and yields a real.
        let (a, b) = (l.to_i64(), r.to_i64());
        if b == 0 {
            return Value::Null;
        }
        return Value::Real(a.wrapping_rem(b) as f64);
    }
    real_arithmetic(op, ln.to_f64(), rn.to_f64())
}

fn real_arithmetic(op: BinOp, x: f64, y: f64) -> Value {
    let result = match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div if y == 0.0 => return Value::Null,
        BinOp::Div => x / y,
        _ => return Value::Null,
    };
    if result.is_nan() {
        Value::Null
    } else {
        Value::Real(result)
    }
}

fn bitwise(op: BinOp, l: &Value, r: &Value) -> Value {
    if l.is_null() || r.is_null() {
        return Value::Null;
    }
    let (a, b) = (l.to_i64(), r.to_i64());
    let shift = |left: bool, amount: i64| -> i64 {
        // A negative shift goes the other way; 64 or more shifts everything out.
        let (left, amount) = if amount < 0 { (!left, amount.checked_neg().unwrap_or(64)) } else { (left, amount) };
        if amount >= 64 {
            return if left || a >= 0 { 0 } else { -1 };
        }
        if left {
            ((a as u64) << amount) as i64
        } else {
            a >> amount
        }
    };
    Value::Integer(match op {
        BinOp::BitAnd => a & b,
        BinOp::BitOr => a | b,
        BinOp::Shl => shift(true, b),
        _ => shift(false, b),
    })
}

/// `CAST(v AS type)`.
fn cast(v: Value, affinity: Affinity) -> Value {
    match (affinity, v) {
        (_, Value::Null) => Value::Null,
        (Affinity::Text, v) => Value::Text(v.to_text().unwrap_or_default()),
        (Affinity::Real, v) => Value::Real(v.to_f64()),
        (Affinity::Integer, v) => Value::Integer(v.to_i64()),
        // Only text converts; a text real that is an integer of at most 51 bits becomes one.
        (Affinity::Numeric, Value::Text(s)) => match super::value::numeric_prefix(&s) {
            Value::Real(r) if r.fract() == 0.0 && (-2_251_799_813_685_248.0..2_251_799_813_685_248.0).contains(&r) => {
                Value::Integer(r as i64)
            }
            n => n,
        },
        (Affinity::Numeric, v) => v,
        (Affinity::Blob, v) => v,
    }
}

/// Deterministic scalar functions, arguments already evaluated.
fn scalar(name: &str, args: Vec<Value>) -> Result<Value, SqlError> {
    let mut args = args.into_iter();
    let first = args.next().unwrap_or(Value::Null);
    Ok(match name {
        "lower" | "upper" => match first.to_text() {
            Some(t) if name == "lower" => Value::Text(t.to_ascii_lowercase()),
            Some(t) => Value::Text(t.to_ascii_uppercase()),
            None => Value::Null,
        },
        "length" => match first.to_text() {
            Some(t) => Value::Integer(t.chars().count() as i64),
            None => Value::Null,
        },
        "abs" => match first {
            Value::Null => Value::Null,
            Value::Integer(i) => Value::Integer(i.checked_abs().ok_or_else(|| SqlError::new("integer overflow"))?),
            other => Value::Real(other.to_f64().abs()),
        },
        "typeof" => Value::Text(first.type_name().into()),
        "nullif" => {
            let second = args.next().unwrap_or(Value::Null);
            if !first.is_null() && !second.is_null() && compare(&first, &second) == Ordering::Equal {
                Value::Null
            } else {
                first
            }
        }
        "round" => round(&first, args.next()),
        "min" | "max" => {
            let mut best = first;
            for v in args {
                if best.is_null() || v.is_null() {
                    return Ok(Value::Null);
                }
                // As SQLite's minmaxFunc: among equals, min() keeps the last, max() the first.
                let ord = compare(&v, &best);
                if (name == "min" && ord != Ordering::Greater) || (name == "max" && ord == Ordering::Greater) {
                    best = v;
                }
            }
            best
        }
        _ => return Err(SqlError::new(format!("no such function: {name}"))),
    })
}

/// SQLite's `round(x, n)`: always a real; halves round away from zero.
fn round(x: &Value, digits: Option<Value>) -> Value {
    let n = match digits {
        Some(Value::Null) => return Value::Null,
        Some(d) => d.to_i64().clamp(0, 30) as usize,
        None => 0,
    };
    if x.is_null() {
        return Value::Null;
    }
    let r = x.to_f64();
    if !(-4_503_599_627_370_496.0..=4_503_599_627_370_496.0).contains(&r) {
        return Value::Real(r);
    }
    if n == 0 {
        return Value::Real((r + if r < 0.0 { -0.5 } else { 0.5 }) as i64 as f64);
    }
    Value::Real(format!("{r:.n$}").parse().unwrap_or(r))
}

/// `LIKE`: `%` matches any run, `_` one character, ASCII letters match case-insensitively.
/// Greedy matching that backtracks only to the last `%`: linear in practice, never exponential.
pub(crate) fn like(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match (p.get(pi), t.get(ti)) {
            (Some('%'), _) => {
                star = Some((pi, ti));
                pi += 1;
            }
            (Some(pc), Some(tc)) if *pc == '_' || pc.eq_ignore_ascii_case(tc) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or(&[]).iter().all(|c| *c == '%')
}

/// A uniformly distributed real in [0, 1) from the top 53 bits.
pub(crate) fn unit_real(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A version-4 (random) UUID from 128 random bits.
pub(crate) fn uuid_v4(hi: u64, lo: u64) -> String {
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & !(0xC000 << 48)) | (0x8000 << 48);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD HH:MM:SS[.mmm]` (UTC) for microseconds since the Unix epoch.
pub(crate) fn format_timestamp(us: i64, millis: bool) -> String {
    const DAY_US: i64 = 86_400_000_000;
    let (year, month, day) = civil_from_days(us.div_euclid(DAY_US));
    let in_day = us.rem_euclid(DAY_US);
    let secs = in_day / 1_000_000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let date_time = format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}");
    if millis {
        format!("{date_time}.{:03}", in_day % 1_000_000 / 1000)
    } else {
        date_time
    }
}

// ---- aggregates ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AggFunc {
    CountStar,
    Count,
    Sum,
    Total,
    Avg,
    Min,
    Max,
}

impl AggFunc {
    /// The aggregate a call denotes, if it is one (`min`/`max` with one argument are).
    pub(crate) fn of(c: &Call) -> Option<AggFunc> {
        Some(match (c.name.as_str(), c.args.len()) {
            ("count", 0) => AggFunc::CountStar,
            ("count", _) => AggFunc::Count,
            ("sum", _) => AggFunc::Sum,
            ("total", _) => AggFunc::Total,
            ("avg", _) => AggFunc::Avg,
            ("min", 1) => AggFunc::Min,
            ("max", 1) => AggFunc::Max,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct AggCall {
    pub(crate) func: AggFunc,
    pub(crate) arg: Option<Expr>,
    pub(crate) distinct: bool,
}

/// SQLite's sum: exact integer sum while all inputs are integers, else Kahan-Babuska-Neumaier
/// summation of doubles (SQLite 3.43+), so results match SQLite to the last bit.
#[derive(Default)]
struct Sum {
    count: i64,
    int_sum: i64,
    approx: bool,
    overflow: bool,
    r_sum: f64,
    r_err: f64,
}

const EXACT_DOUBLE_INT: i64 = 4_503_599_627_370_496;

impl Sum {
    fn kbn(&mut self, r: f64) {
        let s = self.r_sum;
        let t = s + r;
        if s.abs() > r.abs() {
            self.r_err += (s - t) + r;
        } else {
            self.r_err += (r - t) + s;
        }
        self.r_sum = t;
    }

    fn kbn_int(&mut self, v: i64) {
        if !(-EXACT_DOUBLE_INT + 1..EXACT_DOUBLE_INT).contains(&v) {
            let small = v % 16384;
            self.kbn((v - small) as f64);
            self.kbn(small as f64);
        } else {
            self.kbn(v as f64);
        }
    }

    fn start_approx(&mut self) {
        self.approx = true;
        let v = self.int_sum;
        if !(-EXACT_DOUBLE_INT + 1..EXACT_DOUBLE_INT).contains(&v) {
            let small = v % 16384;
            self.r_sum = (v - small) as f64;
            self.r_err = small as f64;
        } else {
            self.r_sum = v as f64;
            self.r_err = 0.0;
        }
    }

    fn step(&mut self, v: &Value) {
        self.count += 1;
        match Affinity::Numeric.apply_for_comparison(v.clone()) {
            Value::Integer(i) if !self.approx => match self.int_sum.checked_add(i) {
                Some(s) => self.int_sum = s,
                None => {
                    self.overflow = true;
                    self.start_approx();
                    self.kbn_int(i);
                }
            },
            Value::Integer(i) => self.kbn_int(i),
            other => {
                if self.approx {
                    // SQLite forgets an earlier integer overflow once a real joins the sum.
                    self.overflow = false;
                } else {
                    self.start_approx();
                }
                self.kbn(other.to_f64());
            }
        }
    }

    fn real(&self) -> f64 {
        if !self.approx {
            self.int_sum as f64
        } else if self.r_err.is_finite() {
            self.r_sum + self.r_err
        } else {
            self.r_sum
        }
    }
}

/// Compute an aggregate over the argument values of one group.
pub(crate) fn finish_aggregate(call: &AggCall, mut values: Vec<Value>) -> Result<Value, SqlError> {
    if call.func != AggFunc::CountStar {
        values.retain(|v| !v.is_null());
    }
    if call.distinct {
        let mut seen = std::collections::BTreeSet::new();
        values.retain(|v| seen.insert(SortKey(v.clone())));
    }
    let pick = |want: Ordering| {
        let mut it = values.iter();
        let first = it.next().cloned().unwrap_or(Value::Null);
        it.fold(first, |best, v| if compare(v, &best) == want { v.clone() } else { best })
    };
    Ok(match call.func {
        AggFunc::CountStar | AggFunc::Count => Value::Integer(values.len() as i64),
        AggFunc::Min => pick(Ordering::Less),
        AggFunc::Max => pick(Ordering::Greater),
        AggFunc::Sum | AggFunc::Total | AggFunc::Avg => {
            let mut sum = Sum::default();
            values.iter().for_each(|v| sum.step(v));
            match call.func {
                AggFunc::Total => Value::Real(sum.real()),
                _ if sum.count == 0 => Value::Null,
                AggFunc::Avg => Value::Real(sum.real() / sum.count as f64),
                _ if sum.overflow => return Err(SqlError::new("integer overflow")),
                _ if sum.approx => Value::Real(sum.real()),
                _ => Value::Integer(sum.int_sum),
            }
        }
    })
}
