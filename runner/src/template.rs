//! Payload templates (`Parameters`, `ItemSelector`, `ResultSelector`): objects whose `.$` fields
//! are paths or intrinsic functions. Kept apart from `paths` because templates need both paths
//! and intrinsics, while intrinsics themselves take path arguments.

use serde_json::{Map, Value};

use crate::intrinsics::Intrinsic;
use crate::paths::{Data, Path};

/// A payload template (`Parameters`, `ItemSelector`, `ResultSelector`).
#[derive(Debug, Clone)]
pub(crate) enum Template {
    /// No `.$` field inside: copied as is.
    Literal(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    /// The value of a `name.$` field: a path…
    Path {
        field: String,
        path: Path,
    },
    /// …or an intrinsic function.
    Intrinsic {
        field: String,
        call: Box<Intrinsic>,
    },
}

impl Template {
    /// Parses a template; errors name the offending field.
    pub fn parse(value: &Value) -> Result<Template, String> {
        match value {
            Value::Object(map) => {
                let mut fields: Vec<(String, Template)> = Vec::with_capacity(map.len());
                let mut dynamic = false;
                for (key, value) in map {
                    let (name, template) = if let Some(name) = key.strip_suffix(".$") {
                        dynamic = true;
                        (name.to_string(), Self::dynamic(key, value)?)
                    } else {
                        let template = Self::parse(value)?;
                        dynamic |= !matches!(template, Template::Literal(_));
                        (key.clone(), template)
                    };
                    if fields.iter().any(|(existing, _)| *existing == name) {
                        return Err(format!(
                            "fields '{name}' and '{name}.$' collide: both would be named '{name}'"
                        ));
                    }
                    fields.push((name, template));
                }
                Ok(if dynamic {
                    Template::Object(fields)
                } else {
                    Template::Literal(value.clone())
                })
            }
            Value::Array(items) => {
                let items = items
                    .iter()
                    .map(Self::parse)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if items.iter().all(|t| matches!(t, Template::Literal(_))) {
                    Template::Literal(value.clone())
                } else {
                    Template::Array(items)
                })
            }
            other => Ok(Template::Literal(other.clone())),
        }
    }

    fn dynamic(key: &str, value: &Value) -> Result<Template, String> {
        let Value::String(text) = value else {
            return Err(format!(
                "the value of field '{key}' must be a string holding a path or an intrinsic function"
            ));
        };
        if text.starts_with('$') {
            let path = Path::parse(text).map_err(|e| format!("field '{key}': {e}"))?;
            Ok(Template::Path {
                field: key.to_string(),
                path,
            })
        } else if text.trim_start().starts_with("States.") {
            let call = Intrinsic::parse(text).map_err(|e| format!("field '{key}': {e}"))?;
            Ok(Template::Intrinsic {
                field: key.to_string(),
                call: Box::new(call),
            })
        } else {
            Err(format!(
                "the value of field '{key}' must be a path (starting with '$') or an intrinsic \
                 function (starting with 'States.'), not '{text}'"
            ))
        }
    }

    /// Builds the payload; errors are `States.Runtime` causes.
    pub fn eval(&self, data: Data<'_>) -> Result<Value, String> {
        match self {
            Template::Literal(value) => Ok(value.clone()),
            Template::Object(fields) => {
                let mut map = Map::new();
                for (name, template) in fields {
                    map.insert(name.clone(), template.eval(data)?);
                }
                Ok(Value::Object(map))
            }
            Template::Array(items) => items
                .iter()
                .map(|t| t.eval(data))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Template::Path { field, path } => path.select_or_err(data, field),
            Template::Intrinsic { field, call } => call.eval(data).map_err(|e| {
                format!("The value of the field '{field}' could not be computed: {e}")
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::tests::TestEnv;
    use serde_json::json;

    #[test]
    fn templates_rename_fields_and_reject_bad_values() {
        let t = Template::parse(&json!({
            "static": {"k": [1, 2]},
            "x.$": "$.a",
            "nested": {"y.$": "$$.Execution.Id", "list": [{"z.$": "$.a"}]},
            "f.$": "States.Format('{}-{}', $.a, 'b')"
        }))
        .expect("parses");
        let env = TestEnv(json!({"Execution": {"Id": "e"}}));
        let out = t
            .eval(Data {
                input: &json!({"a": "A"}),
                env: &env,
            })
            .expect("evaluates");
        assert_eq!(
            out,
            json!({"static": {"k": [1, 2]}, "x": "A", "nested": {"y": "e", "list": [{"z": "A"}]}, "f": "A-b"})
        );
        assert!(Template::parse(&json!({"x.$": 5})).is_err());
        assert!(Template::parse(&json!({"x.$": "a.b"})).is_err());
        assert!(Template::parse(&json!({"x.$": "$.a", "x": 1})).is_err());
        let err = t
            .eval(Data {
                input: &json!({}),
                env: &env,
            })
            .expect_err("missing");
        assert!(err.contains("'$.a'"), "{err}");
    }
}
