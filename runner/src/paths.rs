//! Paths (`$.a.b`, `$$.Execution.Id`) and reference paths (single-node paths, walked here), and
//! the data they are evaluated against. Payload templates, which also hold intrinsic functions,
//! are in `template`, so this module depends on no other module of the crate.
//!
//! A path that names one node (fields and indexes only) is *definite*: it selects that node and
//! fails when it is missing. Any other path (wildcards, filters, slices, unions, descendant
//! segments) is evaluated with `serde_json_path` (RFC 9535) and yields the array of every match,
//! possibly empty — as AWS (Jayway JsonPath) does.

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

/// What a path is evaluated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    /// `$`: the data (state input, task result, …).
    Input,
    /// `$$`: the context object.
    Context,
}

/// One step of a definite path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Segment {
    Field(String),
    Index(i64),
}

#[derive(Debug, Clone)]
enum Body {
    Definite(Vec<Segment>),
    Query(JsonPath),
}

/// A parsed path.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    text: String,
    root: Root,
    body: Body,
}

/// What evaluation needs besides the data: the context object and randomness.
pub(crate) trait EvalEnv: Sync {
    /// The context object (`$$`).
    fn context(&self) -> &Value;
    /// A random number (from the execution's seeded generator).
    fn random_u64(&self) -> u64;
}

/// The data a path or template is evaluated against.
#[derive(Clone, Copy)]
pub(crate) struct Data<'a> {
    pub input: &'a Value,
    pub env: &'a dyn EvalEnv,
}

enum Shape {
    Definite(Root, Vec<Segment>),
    NotDefinite,
}

/// Characters that end a dot-notation name, or make a path more than a reference path.
fn is_special(c: char) -> bool {
    matches!(
        c,
        '.' | '[' | ']' | '*' | '?' | '@' | ',' | ':' | '(' | ')' | '\'' | '"'
    ) || c.is_whitespace()
}

/// Classifies `text`: a definite path (fields and indexes only), or something else.
fn shape(text: &str) -> Result<Shape, String> {
    let (root, rest) = if let Some(rest) = text.strip_prefix("$$") {
        (Root::Context, rest)
    } else if let Some(rest) = text.strip_prefix('$') {
        (Root::Input, rest)
    } else {
        return Err(format!(
            "'{text}' is not a path: a path starts with '$' or '$$'"
        ));
    };
    let chars: Vec<char> = rest.chars().collect();
    let mut segments = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && !is_special(chars[end]) {
                    end += 1;
                }
                if end == start || (end < chars.len() && !matches!(chars[end], '.' | '[')) {
                    return Ok(Shape::NotDefinite);
                }
                segments.push(Segment::Field(chars[start..end].iter().collect()));
                i = end;
            }
            '[' => match bracket(&chars, i + 1) {
                Some((segment, next)) => {
                    segments.push(segment);
                    i = next;
                }
                None => return Ok(Shape::NotDefinite),
            },
            _ => return Ok(Shape::NotDefinite),
        }
    }
    Ok(Shape::Definite(root, segments))
}

/// Parses a single-name or single-index bracket starting after `[`; returns the segment and the
/// position after `]`, or `None` if the bracket is anything else.
fn bracket(chars: &[char], mut i: usize) -> Option<(Segment, usize)> {
    let first = *chars.get(i)?;
    if first == '\'' || first == '"' {
        let mut name = String::new();
        i += 1;
        loop {
            let c = *chars.get(i)?;
            if c == '\\' {
                let escaped = *chars.get(i + 1)?;
                name.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
                i += 2;
            } else if c == first {
                i += 1;
                break;
            } else {
                name.push(c);
                i += 1;
            }
        }
        (*chars.get(i)? == ']').then(|| (Segment::Field(name), i + 1))
    } else {
        let start = i;
        if first == '-' {
            i += 1;
        }
        while chars.get(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        if *chars.get(i)? != ']' {
            return None;
        }
        let number: String = chars[start..i].iter().collect();
        number.parse().ok().map(|n| (Segment::Index(n), i + 1))
    }
}

impl Path {
    /// `$`: the whole input.
    pub fn whole_input() -> Path {
        Path {
            text: "$".to_string(),
            root: Root::Input,
            body: Body::Definite(Vec::new()),
        }
    }

    /// Parses any path: definite ones are walked here, others are RFC 9535 queries.
    pub fn parse(text: &str) -> Result<Path, String> {
        match shape(text)? {
            Shape::Definite(root, segments) => Ok(Path {
                text: text.to_string(),
                root,
                body: Body::Definite(segments),
            }),
            Shape::NotDefinite => {
                let (root, query) = match text.strip_prefix('$') {
                    Some(rest) if rest.starts_with('$') => (Root::Context, rest),
                    _ => (Root::Input, text),
                };
                let path = JsonPath::parse(query)
                    .map_err(|e| format!("'{text}' is not a valid JSONPath: {e}"))?;
                Ok(Path {
                    text: text.to_string(),
                    root,
                    body: Body::Query(path),
                })
            }
        }
    }

    /// Parses a reference path: one that can only name a single node.
    pub fn parse_reference(text: &str) -> Result<Path, String> {
        let path = Path::parse(text)?;
        if path.is_definite() {
            Ok(path)
        } else {
            Err(format!(
                "'{text}' must be a reference path (fields and indexes only: no wildcards, \
                 filters, slices, unions or '..')"
            ))
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn root(&self) -> Root {
        self.root
    }

    pub fn is_definite(&self) -> bool {
        matches!(self.body, Body::Definite(_))
    }

    /// The segments of a definite path.
    pub fn segments(&self) -> Option<&[Segment]> {
        match &self.body {
            Body::Definite(segments) => Some(segments),
            Body::Query(_) => None,
        }
    }

    /// Selects the node(s): a definite path's node (`None` if missing), or the array of every
    /// match of a query.
    pub fn select(&self, data: Data<'_>) -> Option<Value> {
        let root = match self.root {
            Root::Input => data.input,
            Root::Context => data.env.context(),
        };
        match &self.body {
            Body::Definite(segments) => walk(root, segments).cloned(),
            Body::Query(path) => Some(Value::Array(
                path.query(root).all().into_iter().cloned().collect(),
            )),
        }
    }

    /// Like [`Path::select`], failing with AWS's wording when the node is missing.
    pub fn select_or_err(&self, data: Data<'_>, field: &str) -> Result<Value, String> {
        self.select(data).ok_or_else(|| {
            let (what, value) = match self.root {
                Root::Input => ("input", data.input),
                Root::Context => ("context object", data.env.context()),
            };
            format!(
                "The JSONPath '{}' specified for the field '{field}' could not be found in the {what} '{}'",
                self.text,
                abbreviate(value)
            )
        })
    }
}

/// JSON text of `value`, cut to a readable length for error messages.
pub(crate) fn abbreviate(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 500 {
        let cut: String = text.chars().take(500).collect();
        format!("{cut}…")
    } else {
        text
    }
}

fn walk<'v>(mut value: &'v Value, segments: &[Segment]) -> Option<&'v Value> {
    for segment in segments {
        value = match (segment, value) {
            (Segment::Field(name), Value::Object(map)) => map.get(name)?,
            (Segment::Index(index), Value::Array(items)) => {
                items.get(resolve(*index, items.len())?)?
            }
            _ => return None,
        };
    }
    Some(value)
}

fn resolve(index: i64, len: usize) -> Option<usize> {
    if index >= 0 {
        usize::try_from(index).ok()
    } else {
        len.checked_sub(usize::try_from(index.unsigned_abs()).ok()?)
    }
}

/// Puts `value` at `segments` inside `target` (the `ResultPath` rule): missing objects on the
/// way are created; anything else in the way is an error.
pub(crate) fn write_at(target: Value, segments: &[Segment], value: Value) -> Result<Value, String> {
    let mut target = target;
    if segments.is_empty() {
        return Ok(value);
    }
    write_into(&mut target, segments, value)?;
    Ok(target)
}

fn write_into(target: &mut Value, segments: &[Segment], value: Value) -> Result<(), String> {
    let Some((first, rest)) = segments.split_first() else {
        *target = value;
        return Ok(());
    };
    match first {
        Segment::Field(name) => {
            let Value::Object(map) = target else {
                return Err(format!(
                    "cannot set field '{name}' on a value that is not an object: {}",
                    abbreviate(target)
                ));
            };
            if rest.is_empty() {
                map.insert(name.clone(), value);
                return Ok(());
            }
            let slot = map
                .entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            write_into(slot, rest, value)
        }
        Segment::Index(index) => {
            let Value::Array(items) = target else {
                return Err(format!(
                    "cannot set index [{index}] on a value that is not an array: {}",
                    abbreviate(target)
                ));
            };
            let len = items.len();
            let slot = resolve(*index, len)
                .and_then(|i| items.get_mut(i))
                .ok_or_else(|| format!("index [{index}] is outside the array (length {len})"))?;
            write_into(slot, rest, value)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) struct TestEnv(pub Value);

    impl EvalEnv for TestEnv {
        fn context(&self) -> &Value {
            &self.0
        }
        fn random_u64(&self) -> u64 {
            42
        }
    }

    fn select(path: &str, input: &Value) -> Option<Value> {
        let env = TestEnv(json!({"Execution": {"Id": "exec-1"}}));
        Path::parse(path)
            .expect("parses")
            .select(Data { input, env: &env })
    }

    #[test]
    fn definite_paths_select_one_node() {
        let input = json!({"a": {"b-c": [10, 20, {"d": true}]}, "x y": 1});
        assert_eq!(select("$", &input), Some(input.clone()));
        assert_eq!(select("$.a.b-c[1]", &input), Some(json!(20)));
        assert_eq!(select("$.a['b-c'][2].d", &input), Some(json!(true)));
        assert_eq!(select("$['x y']", &input), Some(json!(1)));
        assert_eq!(select("$.a.b-c[-1].d", &input), Some(json!(true)));
        assert_eq!(select("$.a.missing", &input), None);
        assert_eq!(select("$.a.b-c[9]", &input), None);
        assert_eq!(select("$$.Execution.Id", &input), Some(json!("exec-1")));
        assert!(Path::parse("$.a.b").expect("ok").is_definite());
    }

    #[test]
    fn queries_yield_arrays_even_when_empty() {
        let input = json!({"items": [{"id": 1, "ok": true}, {"id": 2, "ok": false}]});
        assert_eq!(select("$.items[*].id", &input), Some(json!([1, 2])));
        assert_eq!(
            select("$.items[?(@.ok == true)].id", &input),
            Some(json!([1]))
        );
        assert_eq!(select("$..id", &input), Some(json!([1, 2])));
        assert_eq!(select("$.items[0:1].id", &input), Some(json!([1])));
        assert_eq!(select("$.nothing[*]", &input), Some(json!([])));
    }

    #[test]
    fn reference_paths_reject_wildcards_and_filters() {
        for bad in [
            "$.a[*]",
            "$..a",
            "$.a[?(@.b)]",
            "$.a[0:2]",
            "$.a[0,1]",
            "$.*",
        ] {
            let err = Path::parse_reference(bad).expect_err(bad);
            assert!(err.contains("reference path"), "{bad}: {err}");
        }
        assert!(Path::parse("a.b").is_err());
        assert!(Path::parse("$.a.length()").is_err());
    }

    #[test]
    fn write_at_creates_objects_and_rejects_scalars() {
        let out = write_at(
            json!({"a": 1}),
            &[Segment::Field("b".into()), Segment::Field("c".into())],
            json!(2),
        )
        .expect("writes");
        assert_eq!(out, json!({"a": 1, "b": {"c": 2}}));
        let out = write_at(
            json!({"a": [1, 2]}),
            &[Segment::Field("a".into()), Segment::Index(1)],
            json!(9),
        )
        .expect("writes");
        assert_eq!(out, json!({"a": [1, 9]}));
        assert!(write_at(json!("text"), &[Segment::Field("a".into())], json!(1)).is_err());
        assert!(
            write_at(
                json!({"a": 1}),
                &[Segment::Field("a".into()), Segment::Field("b".into())],
                json!(1)
            )
            .is_err()
        );
        assert_eq!(
            write_at(json!({"a": 1}), &[], json!(5)).expect("root"),
            json!(5)
        );
    }
}
