//! Intrinsic functions (`States.Format(...)` and friends): parsed when the definition is loaded,
//! evaluated when a payload template is built.

use base64::Engine as _;
use md5::Md5;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt as _, SeedableRng};
use serde_json::{Map, Number, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::paths::{Data, Path};

/// Largest string `States.Base64Encode`/`Decode` and `States.Hash` accept (AWS's limit).
const MAX_STRING: usize = 10_000;
/// Largest array `States.ArrayRange` may produce (AWS's limit).
const MAX_RANGE: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
    Base64Encode,
    Base64Decode,
    Hash,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "States.Format" => Func::Format,
            "States.StringToJson" => Func::StringToJson,
            "States.JsonToString" => Func::JsonToString,
            "States.Array" => Func::Array,
            "States.ArrayPartition" => Func::ArrayPartition,
            "States.ArrayContains" => Func::ArrayContains,
            "States.ArrayRange" => Func::ArrayRange,
            "States.ArrayGetItem" => Func::ArrayGetItem,
            "States.ArrayLength" => Func::ArrayLength,
            "States.ArrayUnique" => Func::ArrayUnique,
            "States.JsonMerge" => Func::JsonMerge,
            "States.MathRandom" => Func::MathRandom,
            "States.MathAdd" => Func::MathAdd,
            "States.StringSplit" => Func::StringSplit,
            "States.UUID" => Func::Uuid,
            "States.Base64Encode" => Func::Base64Encode,
            "States.Base64Decode" => Func::Base64Decode,
            "States.Hash" => Func::Hash,
            _ => return None,
        })
    }

    /// Allowed argument counts (inclusive).
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Format => (1, usize::MAX),
            Func::Array => (0, usize::MAX),
            Func::Uuid => (0, 0),
            Func::StringToJson
            | Func::JsonToString
            | Func::ArrayLength
            | Func::ArrayUnique
            | Func::Base64Encode
            | Func::Base64Decode => (1, 1),
            Func::ArrayPartition
            | Func::ArrayContains
            | Func::ArrayGetItem
            | Func::MathAdd
            | Func::StringSplit
            | Func::Hash => (2, 2),
            Func::MathRandom => (2, 3),
            Func::ArrayRange | Func::JsonMerge => (3, 3),
        }
    }
}

/// A piece of a string literal: text, or an unescaped `{}` placeholder.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Placeholder,
}

#[derive(Debug, Clone)]
enum Arg {
    Value(Value),
    /// A string literal, kept in pieces for `States.Format`.
    Str(Vec<Piece>),
    Path(Path),
    Call(Box<Intrinsic>),
}

/// A parsed intrinsic function call.
#[derive(Debug, Clone)]
pub(crate) struct Intrinsic {
    name: String,
    func: Func,
    args: Vec<Arg>,
}

struct Parser<'t> {
    chars: Vec<char>,
    pos: usize,
    text: &'t str,
}

impl Intrinsic {
    /// Parses `text`, which must be one call (surrounding whitespace allowed).
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        let mut p = Parser {
            chars: text.chars().collect(),
            pos: 0,
            text,
        };
        p.skip_ws();
        let call = p.call()?;
        p.skip_ws();
        if p.pos < p.chars.len() {
            return Err(p.error("unexpected text after the closing ')'"));
        }
        Ok(call)
    }

    /// Evaluates the call; errors describe the problem (raised as `States.Runtime`).
    pub fn eval(&self, data: Data<'_>) -> Result<Value, String> {
        let mut args = Vec::with_capacity(self.args.len());
        for arg in &self.args {
            args.push(match arg {
                Arg::Value(v) => v.clone(),
                Arg::Str(pieces) => Value::String(join_pieces(pieces)),
                Arg::Path(path) => path.select(data).ok_or_else(|| {
                    format!(
                        "{}: the JSONPath '{}' could not be found in the input '{}'",
                        self.name,
                        path.text(),
                        crate::paths::abbreviate(data.input)
                    )
                })?,
                Arg::Call(call) => call.eval(data)?,
            });
        }
        self.apply(args, data)
            .map_err(|e| format!("{}: {e}", self.name))
    }

    fn apply(&self, args: Vec<Value>, data: Data<'_>) -> Result<Value, String> {
        let mut args = args.into_iter();
        let mut next = || args.next().unwrap_or(Value::Null);
        match self.func {
            Func::Format => {
                let template = next();
                let rest: Vec<Value> = std::iter::from_fn(|| Some(next()))
                    .take(self.args.len() - 1)
                    .collect();
                let pieces = match self.args.first() {
                    Some(Arg::Str(pieces)) => pieces.clone(),
                    _ => split_placeholders(as_str(&template, "the format string")?),
                };
                format(&pieces, &rest)
            }
            Func::StringToJson => {
                let text = next();
                let text = as_str(&text, "the argument")?;
                if text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                serde_json::from_str(text)
                    .map_err(|e| format!("the argument is not valid JSON: {e}"))
            }
            Func::JsonToString => Ok(Value::String(next().to_string())),
            Func::Array => Ok(Value::Array(
                std::iter::from_fn(|| Some(next()))
                    .take(self.args.len())
                    .collect(),
            )),
            Func::ArrayPartition => {
                let array = next();
                let array = as_array(&array, "the first argument")?;
                let size = as_int(&next(), "the chunk size")?;
                if size <= 0 {
                    return Err(format!(
                        "the chunk size must be a positive integer, not {size}"
                    ));
                }
                let size = usize::try_from(size).map_err(|e| e.to_string())?;
                Ok(Value::Array(
                    array
                        .chunks(size)
                        .map(|c| Value::Array(c.to_vec()))
                        .collect(),
                ))
            }
            Func::ArrayContains => {
                let array = next();
                let array = as_array(&array, "the first argument")?;
                let needle = next();
                Ok(Value::Bool(array.iter().any(|item| json_eq(item, &needle))))
            }
            Func::ArrayRange => {
                let start = as_int(&next(), "the start")?;
                let end = as_int(&next(), "the end")?;
                let step = as_int(&next(), "the step")?;
                range(start, end, step)
            }
            Func::ArrayGetItem => {
                let array = next();
                let array = as_array(&array, "the first argument")?;
                let index = as_int(&next(), "the index")?;
                usize::try_from(index)
                    .ok()
                    .and_then(|i| array.get(i))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "index {index} is out of bounds for an array of length {}",
                            array.len()
                        )
                    })
            }
            Func::ArrayLength => {
                let array = next();
                Ok(Value::from(as_array(&array, "the argument")?.len()))
            }
            Func::ArrayUnique => {
                let array = next();
                let mut unique: Vec<Value> = Vec::new();
                for item in as_array(&array, "the argument")? {
                    if !unique.iter().any(|u| json_eq(u, item)) {
                        unique.push(item.clone());
                    }
                }
                Ok(Value::Array(unique))
            }
            Func::JsonMerge => {
                let (left, right, deep) = (next(), next(), next());
                let (Value::Object(left), Value::Object(right)) = (left, right) else {
                    return Err("the first two arguments must be JSON objects".into());
                };
                match deep {
                    Value::Bool(false) => {}
                    Value::Bool(true) => {
                        return Err(
                            "deep merge (third argument true) is not supported: pass false".into(),
                        );
                    }
                    _ => return Err("the third argument must be the boolean false".into()),
                }
                let mut merged: Map<String, Value> = left;
                merged.extend(right);
                Ok(Value::Object(merged))
            }
            Func::MathRandom => {
                let start = as_int(&next(), "the start")?;
                let end = as_int(&next(), "the end")?;
                if start >= end {
                    return Err(format!(
                        "the start ({start}) must be less than the end ({end})"
                    ));
                }
                let seed = if self.args.len() == 3 {
                    as_int(&next(), "the seed")? as u64
                } else {
                    data.env.random_u64()
                };
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
                Ok(Value::from(rng.random_range(start..end)))
            }
            Func::MathAdd => {
                let (a, b) = (next(), next());
                let (a, b) = (
                    rounded(&a, "the first argument")?,
                    rounded(&b, "the second argument")?,
                );
                a.checked_add(b)
                    .map(Value::from)
                    .ok_or_else(|| "the sum overflows".to_string())
            }
            Func::StringSplit => {
                let (text, delimiters) = (next(), next());
                let text = as_str(&text, "the first argument")?;
                let delimiters: Vec<char> = as_str(&delimiters, "the delimiter")?.chars().collect();
                Ok(Value::Array(
                    text.split(|c| delimiters.contains(&c))
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                ))
            }
            Func::Uuid => Ok(Value::String(uuid_v4(
                data.env.random_u64(),
                data.env.random_u64(),
            ))),
            Func::Base64Encode => {
                let text = next();
                let text = limited(as_str(&text, "the argument")?)?;
                Ok(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(text),
                ))
            }
            Func::Base64Decode => {
                let text = next();
                let text = limited(as_str(&text, "the argument")?)?;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| format!("the argument is not valid base64: {e}"))?;
                String::from_utf8(bytes)
                    .map(Value::String)
                    .map_err(|_| "the decoded data is not UTF-8 text".to_string())
            }
            Func::Hash => {
                let (data_arg, algorithm) = (next(), next());
                let text = limited(as_str(&data_arg, "the data")?)?;
                let algorithm = as_str(&algorithm, "the algorithm")?;
                hash(text, algorithm).map(Value::String)
            }
        }
    }
}

impl Parser<'_> {
    fn error(&self, what: &str) -> String {
        format!(
            "invalid intrinsic function '{}' at position {}: {what}",
            self.text, self.pos
        )
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(i, c)| self.chars.get(self.pos + i) == Some(&c))
    }

    fn call(&mut self) -> Result<Intrinsic, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let func = Func::from_name(&name)
            .ok_or_else(|| self.error(&format!("unknown intrinsic function '{name}'")))?;
        self.skip_ws();
        if self.peek() != Some('(') {
            return Err(self.error("expected '('"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                args.push(self.arg()?);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or ')'")),
                }
            }
        }
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            return Err(format!(
                "{name} takes {expected} argument(s), but {} were given",
                args.len()
            ));
        }
        let call = Intrinsic { name, func, args };
        call.check_literals()?;
        Ok(call)
    }

    fn arg(&mut self) -> Result<Arg, String> {
        match self.peek() {
            Some('\'') => self.string(),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(_) if self.starts_with("States.") => Ok(Arg::Call(Box::new(self.call()?))),
            Some(_) => {
                for (word, value) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if self.starts_with(word) {
                        self.pos += word.len();
                        return Ok(Arg::Value(value));
                    }
                }
                Err(self.error("expected an argument: a 'string', a number, true, false, null, a path or States.*()"))
            }
            None => Err(self.error("unexpected end")),
        }
    }

    fn string(&mut self) -> Result<Arg, String> {
        self.pos += 1;
        let mut pieces = Vec::new();
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string literal")),
                Some('\'') => {
                    self.pos += 1;
                    break;
                }
                Some('\\') => {
                    match self.chars.get(self.pos + 1) {
                        Some(c @ ('\'' | '{' | '}' | '\\')) => text.push(*c),
                        _ => return Err(self.error("a backslash must escape one of ' { } \\")),
                    }
                    self.pos += 2;
                }
                Some('{') if self.chars.get(self.pos + 1) == Some(&'}') => {
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Placeholder);
                    self.pos += 2;
                }
                Some('{' | '}') => {
                    return Err(self.error("'{' and '}' must be escaped unless they form '{}'"));
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Arg::Str(pieces))
    }

    /// A path argument runs to the next top-level ',' or ')'.
    fn path(&mut self) -> Result<Arg, String> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            if let Some(q) = quote {
                if c == '\\' {
                    self.pos += 1;
                } else if c == q {
                    quote = None;
                }
            } else {
                match c {
                    '\'' | '"' if depth > 0 => quote = Some(c),
                    '[' | '(' => depth += 1,
                    ']' | ')' if depth > 0 => depth -= 1,
                    ',' | ')' if depth == 0 => break,
                    _ => {}
                }
            }
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        Path::parse(text.trim_end())
            .map(Arg::Path)
            .map_err(|e| self.error(&e))
    }

    fn number(&mut self) -> Result<Arg, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        serde_json::from_str::<Number>(&text)
            .map(|n| Arg::Value(Value::Number(n)))
            .map_err(|_| self.error(&format!("'{text}' is not a number")))
    }
}

impl Intrinsic {
    /// Checks what can be checked before running: placeholder counts and hash algorithms.
    fn check_literals(&self) -> Result<(), String> {
        match (self.func, self.args.first(), self.args.get(1)) {
            (Func::Format, Some(Arg::Str(pieces)), _) => {
                let placeholders = pieces.iter().filter(|p| **p == Piece::Placeholder).count();
                if placeholders != self.args.len() - 1 {
                    return Err(format!(
                        "States.Format has {placeholders} '{{}}' placeholder(s) but {} value argument(s)",
                        self.args.len() - 1
                    ));
                }
            }
            (Func::Format, Some(Arg::Value(_)), _) => {
                return Err("States.Format's first argument must be a string".into());
            }
            (Func::Hash, _, Some(Arg::Str(pieces))) => {
                hash("", &join_pieces(pieces))?;
            }
            _ => {}
        }
        Ok(())
    }
}

fn join_pieces(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.as_str(),
            Piece::Placeholder => "{}",
        })
        .collect()
}

fn split_placeholders(text: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for (i, part) in text.split("{}").enumerate() {
        if i > 0 {
            pieces.push(Piece::Placeholder);
        }
        if !part.is_empty() {
            pieces.push(Piece::Text(part.to_string()));
        }
    }
    pieces
}

fn format(pieces: &[Piece], values: &[Value]) -> Result<Value, String> {
    let placeholders = pieces.iter().filter(|p| **p == Piece::Placeholder).count();
    if placeholders != values.len() {
        return Err(format!(
            "the format string has {placeholders} '{{}}' placeholder(s) but {} value(s) were given",
            values.len()
        ));
    }
    let mut values = values.iter();
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Placeholder => {
                match values.next() {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(v @ (Value::Number(_) | Value::Bool(_) | Value::Null)) => {
                        out.push_str(&v.to_string())
                    }
                    Some(_) => return Err(
                        "values must be strings, numbers, booleans or null, not objects or arrays"
                            .into(),
                    ),
                    None => {}
                }
            }
        }
    }
    Ok(Value::String(out))
}

fn as_str<'v>(value: &'v Value, what: &str) -> Result<&'v str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("{what} must be a string, not {value}"))
}

fn as_array<'v>(value: &'v Value, what: &str) -> Result<&'v Vec<Value>, String> {
    value.as_array().ok_or_else(|| {
        format!(
            "{what} must be an array, not {}",
            crate::paths::abbreviate(value)
        )
    })
}

fn as_int(value: &Value, what: &str) -> Result<i64, String> {
    if let Some(i) = value.as_i64() {
        return Ok(i);
    }
    match value.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(format!("{what} must be an integer, not {value}")),
    }
}

/// A number rounded to the nearest integer (halves away from zero), as AWS rounds
/// `States.MathAdd` arguments.
fn rounded(value: &Value, what: &str) -> Result<i64, String> {
    if let Some(i) = value.as_i64() {
        return Ok(i);
    }
    match value.as_f64() {
        Some(f) if f.is_finite() && f.abs() < 9.0e15 => Ok(f.round() as i64),
        _ => Err(format!("{what} must be a number, not {value}")),
    }
}

fn limited(text: &str) -> Result<&str, String> {
    if text.chars().count() > MAX_STRING {
        Err(format!("the input is longer than {MAX_STRING} characters"))
    } else {
        Ok(text)
    }
}

/// JSON equality where numbers compare by value (1 equals 1.0).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn range(start: i64, end: i64, step: i64) -> Result<Value, String> {
    if step == 0 {
        return Err("the step must not be 0".into());
    }
    let mut out = Vec::new();
    let mut current = start;
    while (step > 0 && current <= end) || (step < 0 && current >= end) {
        if out.len() == MAX_RANGE {
            return Err(format!("the range would have more than {MAX_RANGE} items"));
        }
        out.push(Value::from(current));
        match current.checked_add(step) {
            Some(next) => current = next,
            None => break,
        }
    }
    Ok(Value::Array(out))
}

fn hash(text: &str, algorithm: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    Ok(match algorithm {
        "MD5" => hex::encode(Md5::digest(bytes)),
        "SHA-1" => hex::encode(Sha1::digest(bytes)),
        "SHA-256" => hex::encode(Sha256::digest(bytes)),
        "SHA-384" => hex::encode(Sha384::digest(bytes)),
        "SHA-512" => hex::encode(Sha512::digest(bytes)),
        other => {
            return Err(format!(
                "unknown hash algorithm '{other}': use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"
            ));
        }
    })
}

pub(crate) fn uuid_v4(high: u64, low: u64) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high.to_be_bytes());
    bytes[8..].copy_from_slice(&low.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests;
