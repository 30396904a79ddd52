//! Values, type affinity, and SQLite's rules for converting and comparing values.
//!
//! SQLite is dynamically typed: a column's declared type only gives it an *affinity*, a preference
//! applied when a value is stored or compared. Everything here follows `datatype3.html` of SQLite.

use std::cmp::Ordering;

use serde::Serialize;

/// A SQL value. Serialises as plain JSON: `null`, a number, or a string.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

impl Value {
    /// The value as JSON (non-finite reals, which JSON cannot carry, become `null`).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Integer(i) => serde_json::Value::from(*i),
            Value::Real(r) => {
                serde_json::Number::from_f64(*r).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
            Value::Text(s) => serde_json::Value::String(s.clone()),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// SQLite's `typeof()` name.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Integer(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
        }
    }

    /// The text form of a value, as `CAST(x AS TEXT)` renders it; `None` for NULL.
    pub(crate) fn to_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Integer(i) => Some(i.to_string()),
            Value::Real(r) => Some(format_real(*r)),
            Value::Text(s) => Some(s.clone()),
        }
    }

    /// The numeric value used by arithmetic: text is read by its longest numeric prefix
    /// (`'12abc'` is 12, `'abc'` is 0), NULL stays NULL.
    pub(crate) fn to_numeric(&self) -> Value {
        match self {
            Value::Text(s) => numeric_prefix(s),
            other => other.clone(),
        }
    }

    /// `sqlite3VdbeRealValue`: the value as a double (NULL is 0.0).
    pub(crate) fn to_f64(&self) -> f64 {
        match self.to_numeric() {
            Value::Integer(i) => i as f64,
            Value::Real(r) => r,
            _ => 0.0,
        }
    }

    /// `sqlite3VdbeIntValue`: the value as an integer, reals truncated and saturated, text
    /// read by its integer prefix (`'1e3'` is 1, `'2.9'` is 2).
    pub(crate) fn to_i64(&self) -> i64 {
        match self {
            Value::Integer(i) => *i,
            // `as` saturates and maps NaN to 0, exactly what SQLite's doubleToInt64 does.
            Value::Real(r) => *r as i64,
            Value::Text(s) => integer_prefix(s),
            Value::Null => 0,
        }
    }

    /// Truth value for WHERE, AND, OR, NOT: `None` is SQL's unknown.
    pub(crate) fn truth(&self) -> Option<bool> {
        match self {
            Value::Null => None,
            Value::Integer(i) => Some(*i != 0),
            other => Some(other.to_f64() != 0.0),
        }
    }
}

/// Type affinity of a column (or of an expression that is a column reference or a CAST).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Affinity {
    Integer,
    Real,
    Numeric,
    Text,
    /// Declared type BLOB or no declared type: values are stored as given.
    Blob,
}

impl Affinity {
    /// SQLite's rules of section 3.1 of datatype3, applied in order to the declared type name.
    pub(crate) fn of_type(declared: &str) -> Affinity {
        let upper = declared.to_ascii_uppercase();
        let has = |s: &str| upper.contains(s);
        if has("INT") {
            Affinity::Integer
        } else if has("CHAR") || has("CLOB") || has("TEXT") {
            Affinity::Text
        } else if has("BLOB") || upper.trim().is_empty() {
            Affinity::Blob
        } else if has("REAL") || has("FLOA") || has("DOUB") {
            Affinity::Real
        } else {
            Affinity::Numeric
        }
    }

    pub(crate) fn is_numeric(self) -> bool {
        matches!(self, Affinity::Integer | Affinity::Real | Affinity::Numeric)
    }

    /// Convert a value as it is stored into a column of this affinity.
    pub(crate) fn apply(self, value: Value) -> Value {
        match (self, value) {
            (Affinity::Text, v @ (Value::Integer(_) | Value::Real(_))) => Value::Text(v.to_text().unwrap_or_default()),
            (Affinity::Integer | Affinity::Numeric, Value::Text(s)) => match strict_numeric(&s) {
                Some(n) => integer_if_exact(n),
                None => Value::Text(s),
            },
            (Affinity::Integer | Affinity::Numeric, v @ Value::Real(_)) => integer_if_exact(v),
            (Affinity::Real, Value::Text(s)) => match strict_numeric(&s) {
                Some(n) => Value::Real(n.to_f64()),
                None => Value::Text(s),
            },
            (Affinity::Real, Value::Integer(i)) => Value::Real(i as f64),
            (_, v) => v,
        }
    }

    /// Affinity applied before comparing: text that looks numeric becomes a number, numbers
    /// compared with a TEXT column become text.
    pub(crate) fn apply_for_comparison(self, value: Value) -> Value {
        match (self, value) {
            (a, Value::Text(s)) if a.is_numeric() => strict_numeric(&s).unwrap_or(Value::Text(s)),
            (Affinity::Text, v @ (Value::Integer(_) | Value::Real(_))) => Value::Text(v.to_text().unwrap_or_default()),
            (_, v) => v,
        }
    }
}

/// Which affinity a comparison applies to both operands (`sqlite3CompareAffinity`), given each
/// operand's affinity (`None` for an expression that is not a column).
pub(crate) fn comparison_affinity(left: Option<Affinity>, right: Option<Affinity>) -> Option<Affinity> {
    match (left, right) {
        (Some(l), Some(r)) if l.is_numeric() || r.is_numeric() => Some(Affinity::Numeric),
        // Two non-numeric columns are compared as stored.
        (Some(_), Some(_)) => None,
        (Some(a), None) | (None, Some(a)) => Some(a),
        (None, None) => None,
    }
}

/// A real that is exactly an integer (and not one of the two extreme integers) becomes one.
fn integer_if_exact(v: Value) -> Value {
    match v {
        Value::Real(r) => {
            let i = r as i64;
            if i as f64 == r && i > i64::MIN && i < i64::MAX {
                Value::Integer(i)
            } else {
                Value::Real(r)
            }
        }
        other => other,
    }
}

/// Length of the numeric literal at the start of `b` (after no whitespace): sign, digits,
/// fraction, exponent. Returns (length, saw a digit, is integer-only).
fn scan_number(b: &[u8]) -> (usize, bool, bool) {
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut digits = i > digits_start;
    let mut integer = true;
    if b.get(i) == Some(&b'.') {
        let frac_start = i + 1;
        let mut j = frac_start;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if digits || j > frac_start {
            digits = true;
            integer = false;
            i = j;
        }
    }
    if digits && matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_start = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j > exp_start {
            integer = false;
            i = j;
        }
    }
    (i, digits, integer)
}

/// Parse a complete numeric literal (integer preferred, too-large integers become reals).
fn number_from_literal(text: &str, integer: bool) -> Value {
    if integer {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Integer(i);
        }
    }
    Value::Real(text.parse::<f64>().unwrap_or(0.0))
}

/// The longest integer prefix of a text (CAST AS INTEGER), saturating at the i64 bounds.
pub(crate) fn integer_prefix(s: &str) -> i64 {
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..).unwrap_or("")),
        Some(b'+') => (false, t.get(1..).unwrap_or("")),
        _ => (false, t),
    };
    let mut value: i64 = 0;
    for d in digits.bytes().take_while(u8::is_ascii_digit) {
        let digit = i64::from(d - b'0');
        let next =
            value.checked_mul(10).and_then(|v| if negative { v.checked_sub(digit) } else { v.checked_add(digit) });
        match next {
            Some(v) => value = v,
            None => return if negative { i64::MIN } else { i64::MAX },
        }
    }
    value
}

/// The whole text (surrounding whitespace allowed) is a well-formed number: `None` otherwise.
pub(crate) fn strict_numeric(s: &str) -> Option<Value> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let (len, digits, integer) = scan_number(t.as_bytes());
    (digits && len == t.len()).then(|| number_from_literal(t, integer))
}

/// The numeric value of the longest numeric prefix of the text, 0 when there is none.
pub(crate) fn numeric_prefix(s: &str) -> Value {
    let t = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (len, digits, integer) = scan_number(t.as_bytes());
    if !digits {
        return Value::Integer(0);
    }
    number_from_literal(t.get(..len).unwrap_or("0"), integer)
}

/// Multiply the double-double `x` by `y + yy` (SQLite's `dekkerMul2`).
fn dekker_mul2(x: &mut (f64, f64), y: f64, yy: f64) {
    const SPLIT: u64 = 0xffff_ffff_fc00_0000;
    let hx = f64::from_bits(x.0.to_bits() & SPLIT);
    let tx = x.0 - hx;
    let hy = f64::from_bits(y.to_bits() & SPLIT);
    let ty = y - hy;
    let p = hx * hy;
    let q = hx * ty + tx * hy;
    let c = p + q;
    let cc = p - c + q + tx * ty;
    let cc = x.0 * yy + x.1 * y + cc;
    x.0 = c + cc;
    x.1 = c - x.0 + cc;
}

/// SQLite's `sqlite3FpDecode` for a positive finite `r`: its decimal digits rounded to
/// `round` significant ones (trailing zeros dropped), and the position of the decimal point.
/// Reproduced operation for operation, so that text renderings match SQLite's exactly.
#[allow(clippy::excessive_precision)] // The constants are SQLite's, digit for digit.
fn fp_decode(r: f64, round: usize) -> (Vec<u8>, i32) {
    let mut rr = (r, 0.0);
    let mut exp = 0;
    if rr.0 > 9.223_372_036_854_774_784e18 {
        while rr.0 > 9.223_372_036_854_774_784e118 {
            exp += 100;
            dekker_mul2(&mut rr, 1.0e-100, -1.999_189_980_260_288_361_96e-117);
        }
        while rr.0 > 9.223_372_036_854_774_784e28 {
            exp += 10;
            dekker_mul2(&mut rr, 1.0e-10, -3.643_219_731_549_774_157_9e-27);
        }
        while rr.0 > 9.223_372_036_854_774_784e18 {
            exp += 1;
            dekker_mul2(&mut rr, 1.0e-01, -5.551_115_123_125_782_702_1e-18);
        }
    } else {
        while rr.0 < 9.223_372_036_854_774_784e-83 {
            exp -= 100;
            dekker_mul2(&mut rr, 1.0e100, -1.590_289_110_975_991_804_6e83);
        }
        while rr.0 < 9.223_372_036_854_774_784e7 {
            exp -= 10;
            dekker_mul2(&mut rr, 1.0e10, 0.0);
        }
        while rr.0 < 9.223_372_036_854_774_78e17 {
            exp -= 1;
            dekker_mul2(&mut rr, 1.0e1, 0.0);
        }
    }
    let v =
        if rr.1 < 0.0 { (rr.0 as u64).wrapping_sub((-rr.1) as u64) } else { (rr.0 as u64).wrapping_add(rr.1 as u64) };
    let mut digits = v.to_string().into_bytes();
    let mut point = digits.len() as i32 + exp;
    if let Some(&next) = digits.get(round) {
        digits.truncate(round);
        if next >= b'5' {
            // Round up, carrying through nines (999.. becomes 1000..).
            let carried = digits.iter_mut().rev().try_for_each(|d| {
                if *d == b'9' {
                    *d = b'0';
                    Ok(())
                } else {
                    *d += 1;
                    Err(())
                }
            });
            if carried.is_ok() {
                digits.insert(0, b'1');
                point += 1;
            }
        }
    }
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, point)
}

/// Render a real the way SQLite's `%!.15g` does: 15 significant digits, at least one digit
/// after the decimal point, exponent form outside [1e-4, 1e15).
pub(crate) fn format_real(r: f64) -> String {
    if r.is_nan() {
        return "NaN".into();
    }
    if r.is_infinite() {
        return if r > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if r == 0.0 {
        return "0.0".into();
    }
    let (digits, point) = fp_decode(r.abs(), 15);
    let digits = String::from_utf8(digits).unwrap_or_default();
    let exp = point - 1;
    let sign = if r < 0.0 { "-" } else { "" };
    if !(-4..15).contains(&exp) {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let rest = if rest.is_empty() { "0" } else { rest };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}.{rest}e{exp_sign}{:02}", exp.abs());
    }
    let out = if exp < 0 {
        format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else {
        let int_len = exp as usize + 1;
        if digits.len() > int_len {
            let (int_part, frac) = digits.split_at(int_len);
            format!("{int_part}.{frac}")
        } else {
            format!("{digits}{}.0", "0".repeat(int_len - digits.len()))
        }
    };
    format!("{sign}{out}")
}

/// SQLite's `sqlite3IntFloatCompare`: exact comparison of an integer with a double.
fn compare_int_real(i: i64, r: f64) -> Ordering {
    if r.is_nan() {
        return Ordering::Greater;
    }
    if r < -9_223_372_036_854_775_808.0 {
        return Ordering::Greater;
    }
    if r >= 9_223_372_036_854_775_808.0 {
        return Ordering::Less;
    }
    let truncated = r as i64;
    match i.cmp(&truncated) {
        Ordering::Equal => (i as f64).partial_cmp(&r).unwrap_or(Ordering::Equal),
        other => other,
    }
}

fn storage_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Integer(_) | Value::Real(_) => 1,
        Value::Text(_) => 2,
    }
}

/// SQLite's total order of values: NULL < numbers (compared by value) < text (by bytes).
pub(crate) fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Real(x), Value::Real(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Integer(x), Value::Real(y)) => compare_int_real(*x, *y),
        (Value::Real(x), Value::Integer(y)) => compare_int_real(*y, *x).reverse(),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => storage_rank(a).cmp(&storage_rank(b)),
    }
}

/// A value ordered by [`compare`] (SQLite's order: NULL, numbers, text), usable as a `BTreeMap` key (unique
/// indexes, GROUP BY, a multi-leader row's primary key).
#[derive(Clone, Debug)]
pub struct SortKey(pub Value);

impl PartialEq for SortKey {
    fn eq(&self, other: &Self) -> bool {
        compare(&self.0, &other.0) == Ordering::Equal
    }
}
impl Eq for SortKey {}
impl PartialOrd for SortKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for SortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0)
    }
}
