//! Choice rules: parsing (with load-time checks of operand types) and evaluation.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;

use crate::context::parse_timestamp;
use crate::error::Diag;
use crate::fields::Obj;
use crate::paths::{Data, Path};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
    Matches,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Value(Value),
    Timestamp(OffsetDateTime),
    Path(Path),
}

/// A choice rule (boolean expression).
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test {
        variable: Path,
        kind: Kind,
        cmp: Cmp,
        operand: Operand,
    },
}

/// A top-level rule and the state it leads to.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    pub rule: Rule,
    pub next: String,
}

const COMPARISONS: [(&str, Cmp); 5] = [
    ("Equals", Cmp::Eq),
    ("LessThanEquals", Cmp::Le),
    ("GreaterThanEquals", Cmp::Ge),
    ("LessThan", Cmp::Lt),
    ("GreaterThan", Cmp::Gt),
];

/// Recognises an operator name: its kind, comparison and whether it is a `...Path` variant.
fn operator(name: &str) -> Option<(Kind, Cmp, bool)> {
    let simple = match name {
        "StringMatches" => Some(Kind::Matches),
        "IsNull" => Some(Kind::IsNull),
        "IsPresent" => Some(Kind::IsPresent),
        "IsNumeric" => Some(Kind::IsNumeric),
        "IsString" => Some(Kind::IsString),
        "IsBoolean" => Some(Kind::IsBoolean),
        "IsTimestamp" => Some(Kind::IsTimestamp),
        _ => None,
    };
    if let Some(kind) = simple {
        return Some((kind, Cmp::Eq, false));
    }
    let (base, path) = match name.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (name, false),
    };
    for (prefix, kind) in [
        ("String", Kind::String),
        ("Numeric", Kind::Numeric),
        ("Boolean", Kind::Boolean),
        ("Timestamp", Kind::Timestamp),
    ] {
        if let Some(rest) = base.strip_prefix(prefix) {
            let cmp = COMPARISONS.iter().find(|(n, _)| *n == rest)?.1;
            if kind == Kind::Boolean && cmp != Cmp::Eq {
                return None;
            }
            return Some((kind, cmp, path));
        }
    }
    None
}

/// Parses the `Choices` array of state `state`.
pub(crate) fn parse_choices(diag: &mut Diag, state: &str, value: &Value) -> Vec<Choice> {
    let Some(items) = value.as_array().filter(|a| !a.is_empty()) else {
        diag.err(
            Some(state),
            Some("Choices"),
            "must be a non-empty array of choice rules",
        );
        return Vec::new();
    };
    let mut choices = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = format!("Choices[{i}]");
        if let Some((rule, next)) = parse_rule(diag, state, &field, item, true) {
            match next {
                Some(next) => choices.push(Choice { rule, next }),
                None => diag.err(
                    Some(state),
                    Some(&field),
                    "a top-level choice rule needs 'Next'",
                ),
            }
        }
    }
    choices
}

fn parse_rule(
    diag: &mut Diag,
    state: &str,
    field: &str,
    value: &Value,
    top: bool,
) -> Option<(Rule, Option<String>)> {
    let Some(map) = value.as_object() else {
        diag.err(Some(state), Some(field), "a choice rule must be an object");
        return None;
    };
    let obj = Obj::new(map);
    obj.get("Comment");
    let next = obj.get("Next").map(|n| match n.as_str() {
        Some(s) => s.to_string(),
        None => {
            diag.err(
                Some(state),
                Some(&format!("{field}.Next")),
                "must be a string",
            );
            String::new()
        }
    });
    if next.is_some() && !top {
        diag.err(
            Some(state),
            Some(&format!("{field}.Next")),
            "only top-level choice rules may have 'Next'",
        );
    }
    for unsupported in ["Condition", "Assign", "Output"] {
        if obj.get(unsupported).is_some() {
            diag.err(
                Some(state),
                Some(&format!("{field}.{unsupported}")),
                "is a JSONata or variables feature, which asl-runner does not support",
            );
        }
    }
    let operators: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| matches!(*k, "And" | "Or" | "Not") || operator(k).is_some())
        .collect();
    if operators.len() != 1 {
        diag.err(
            Some(state),
            Some(field),
            format!(
                "a choice rule needs exactly one operator (And, Or, Not or a comparison), found {}",
                if operators.is_empty() {
                    "none".to_string()
                } else {
                    operators.join(", ")
                }
            ),
        );
        report_unknown(diag, state, field, &obj, map);
        return None;
    }
    let op = operators[0];
    let operand = obj.get(op)?;
    let rule = match op {
        "And" | "Or" => {
            let Some(items) = operand.as_array().filter(|a| !a.is_empty()) else {
                diag.err(
                    Some(state),
                    Some(&format!("{field}.{op}")),
                    "must be a non-empty array of rules",
                );
                return None;
            };
            let mut rules = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if let Some((rule, _)) =
                    parse_rule(diag, state, &format!("{field}.{op}[{i}]"), item, false)
                {
                    rules.push(rule);
                }
            }
            if obj.get("Variable").is_some() {
                diag.err(
                    Some(state),
                    Some(&format!("{field}.Variable")),
                    format!("is not allowed with '{op}'"),
                );
            }
            if op == "And" {
                Rule::And(rules)
            } else {
                Rule::Or(rules)
            }
        }
        "Not" => {
            let (rule, _) = parse_rule(diag, state, &format!("{field}.Not"), operand, false)?;
            if obj.get("Variable").is_some() {
                diag.err(
                    Some(state),
                    Some(&format!("{field}.Variable")),
                    "is not allowed with 'Not'",
                );
            }
            Rule::Not(Box::new(rule))
        }
        name => {
            let (kind, cmp, is_path) = operator(name)?;
            let variable = match obj.get("Variable").map(|v| v.as_str()) {
                Some(Some(text)) => match Path::parse(text) {
                    Ok(path) => Some(path),
                    Err(e) => {
                        diag.err(Some(state), Some(&format!("{field}.Variable")), e);
                        None
                    }
                },
                Some(None) => {
                    diag.err(
                        Some(state),
                        Some(&format!("{field}.Variable")),
                        "must be a string holding a path",
                    );
                    None
                }
                None => {
                    diag.err(
                        Some(state),
                        Some(&format!("{field}.Variable")),
                        format!("is required with '{name}'"),
                    );
                    None
                }
            };
            let operand = parse_operand(kind, is_path, operand)
                .map_err(|e| diag.err(Some(state), Some(&format!("{field}.{name}")), e))
                .ok();
            report_unknown(diag, state, field, &obj, map);
            return Some((
                Rule::Test {
                    variable: variable?,
                    kind,
                    cmp,
                    operand: operand?,
                },
                next,
            ));
        }
    };
    report_unknown(diag, state, field, &obj, map);
    Some((rule, next))
}

fn report_unknown(
    diag: &mut Diag,
    state: &str,
    field: &str,
    obj: &Obj<'_>,
    map: &serde_json::Map<String, Value>,
) {
    for key in map.keys() {
        let known = matches!(key.as_str(), "And" | "Or" | "Not") || operator(key).is_some();
        if !known && !obj.seen(key) {
            diag.err(
                Some(state),
                Some(&format!("{field}.{key}")),
                "unknown field in a choice rule",
            );
        }
    }
}

fn parse_operand(kind: Kind, is_path: bool, value: &Value) -> Result<Operand, String> {
    if is_path {
        let text = value.as_str().ok_or("must be a string holding a path")?;
        return Path::parse(text).map(Operand::Path);
    }
    match kind {
        Kind::String | Kind::Matches => value
            .is_string()
            .then(|| Operand::Value(value.clone()))
            .ok_or_else(|| "must be a string".to_string()),
        Kind::Numeric => value
            .is_number()
            .then(|| Operand::Value(value.clone()))
            .ok_or_else(|| "must be a number".to_string()),
        Kind::Timestamp => value
            .as_str()
            .and_then(parse_timestamp)
            .map(Operand::Timestamp)
            .ok_or_else(|| {
                "must be an RFC 3339 timestamp such as 2016-03-14T01:59:00Z".to_string()
            }),
        _ => value
            .is_boolean()
            .then(|| Operand::Value(value.clone()))
            .ok_or_else(|| "must be true or false".to_string()),
    }
}

impl Rule {
    /// Evaluates the rule; an error is a `States.Runtime` cause.
    pub fn eval(&self, data: Data<'_>) -> Result<bool, String> {
        match self {
            Rule::And(rules) => {
                for rule in rules {
                    if !rule.eval(data)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if rule.eval(data)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.eval(data)?),
            Rule::Test {
                variable,
                kind,
                cmp,
                operand,
            } => test(data, variable, *kind, *cmp, operand),
        }
    }
}

fn invalid_path(path: &Path) -> String {
    format!(
        "Invalid path '{}': The choice state's condition path references an invalid value.",
        path.text()
    )
}

fn test(
    data: Data<'_>,
    variable: &Path,
    kind: Kind,
    cmp: Cmp,
    operand: &Operand,
) -> Result<bool, String> {
    let selected = variable.select(data);
    if kind == Kind::IsPresent {
        let present = match &selected {
            None => false,
            Some(Value::Array(items)) if !variable.is_definite() => !items.is_empty(),
            Some(_) => true,
        };
        return Ok(Operand::Value(Value::Bool(present)).same_bool(operand));
    }
    let value = selected.ok_or_else(|| invalid_path(variable))?;
    let type_test = match kind {
        Kind::IsNull => Some(value.is_null()),
        Kind::IsNumeric => Some(value.is_number()),
        Kind::IsString => Some(value.is_string()),
        Kind::IsBoolean => Some(value.is_boolean()),
        Kind::IsTimestamp => Some(value.as_str().and_then(parse_timestamp).is_some()),
        _ => None,
    };
    if let Some(result) = type_test {
        return Ok(Operand::Value(Value::Bool(result)).same_bool(operand));
    }
    let other = match operand {
        Operand::Path(path) => Operand::Value(path.select(data).ok_or_else(|| invalid_path(path))?),
        other => other.clone(),
    };
    let ordering = match (kind, &value, &other) {
        (Kind::String, Value::String(a), Operand::Value(Value::String(b))) => {
            Some(a.encode_utf16().cmp(b.encode_utf16()))
        }
        (Kind::Numeric, Value::Number(a), Operand::Value(Value::Number(b))) => {
            match (a.as_i64(), b.as_i64()) {
                (Some(a), Some(b)) => Some(a.cmp(&b)),
                _ => a
                    .as_f64()
                    .zip(b.as_f64())
                    .and_then(|(a, b)| a.partial_cmp(&b)),
            }
        }
        (Kind::Boolean, Value::Bool(a), Operand::Value(Value::Bool(b))) => {
            return Ok(a == b);
        }
        (Kind::Timestamp, Value::String(a), Operand::Timestamp(b)) => {
            parse_timestamp(a).map(|a| a.cmp(b))
        }
        (Kind::Timestamp, Value::String(a), Operand::Value(Value::String(b))) => parse_timestamp(a)
            .zip(parse_timestamp(b))
            .map(|(a, b)| a.cmp(&b)),
        (Kind::Matches, Value::String(a), Operand::Value(Value::String(pattern))) => {
            return Ok(matches_pattern(a, pattern));
        }
        _ => None,
    };
    Ok(match ordering {
        None => false,
        Some(o) => match cmp {
            Cmp::Eq => o == Ordering::Equal,
            Cmp::Lt => o == Ordering::Less,
            Cmp::Gt => o == Ordering::Greater,
            Cmp::Le => o != Ordering::Greater,
            Cmp::Ge => o != Ordering::Less,
        },
    })
}

impl Operand {
    fn same_bool(&self, other: &Operand) -> bool {
        matches!((self, other), (Operand::Value(Value::Bool(a)), Operand::Value(Value::Bool(b))) if a == b)
    }
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are a literal `*` and `\`.
pub(crate) fn matches_pattern(text: &str, pattern: &str) -> bool {
    #[derive(PartialEq)]
    enum P {
        Star,
        Char(char),
    }
    let mut parts = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => parts.push(P::Char(chars.next().unwrap_or('\\'))),
            '*' => parts.push(P::Star),
            c => parts.push(P::Char(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    let (mut t, mut p) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match parts.get(p) {
            Some(P::Star) => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(P::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match backtrack {
                Some((bp, bt)) => {
                    p = bp + 1;
                    t = bt + 1;
                    backtrack = Some((bp, bt + 1));
                }
                None => return false,
            },
        }
    }
    parts[p..].iter().all(|part| *part == P::Star)
}

#[cfg(test)]
mod tests;
