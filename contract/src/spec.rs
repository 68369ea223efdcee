//! Finding the spec file and loading it: YAML (or JSON) text to a JSON document, then to a
//! [`Contract`] (see `operations`). The spec is MongoDB's text, read at run time and never
//! copied into the project, so where it is looked for is part of the contract.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::ContractError;
use crate::model::Contract;

impl Contract {
    /// Loads and converts the OpenAPI 3.0 spec at `path` (YAML or JSON).
    pub fn load(path: &Path) -> Result<Contract, ContractError> {
        let text = std::fs::read_to_string(path).map_err(|source| ContractError::Io {
            path: path.to_owned(),
            source,
        })?;
        let yaml: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).map_err(|source| ContractError::Yaml {
                path: path.to_owned(),
                source,
            })?;
        let bad = |reason: String| ContractError::BadSpec {
            path: path.to_owned(),
            reason,
        };
        let spec = yaml_to_json(yaml).map_err(bad)?;
        Contract::from_spec(path, &spec).map_err(bad)
    }

    /// The spec to use: `$ATLAS_OPENAPI_SPEC` if set, else the default
    /// `<CARGO_MANIFEST_DIR>/../../shared/atlas/openapi-privatelink.yaml`, i.e.
    /// `../shared/atlas` next to the repository (this crate is one level below its root);
    /// `None` when neither file exists. Whether a missing spec is acceptable (it is not under
    /// `CI=true`) is for the caller to decide.
    pub fn locate() -> Option<PathBuf> {
        if let Some(value) = std::env::var_os("ATLAS_OPENAPI_SPEC").filter(|v| !v.is_empty()) {
            let path = PathBuf::from(value);
            if path.is_file() {
                return Some(path);
            }
            tracing::warn!(path = %path.display(), "ATLAS_OPENAPI_SPEC names no file; trying the default");
        }
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/atlas/openapi-privatelink.yaml");
        path.is_file()
            .then(|| std::fs::canonicalize(&path).unwrap_or(path))
    }
}

/// Converts parsed YAML to JSON; mapping keys become strings (YAML allows `200:`).
fn yaml_to_json(value: serde_yaml_ng::Value) -> Result<Value, String> {
    use serde_yaml_ng::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| format!("the number {n} has no JSON form"))?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(mapping) => {
            let mut map = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                map.insert(key, yaml_to_json(value)?);
            }
            Value::Object(map)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::error::ContractError;
    use crate::model::Contract;
    use crate::test_support::synthetic;

    #[test]
    fn synthetic_bad_specs() {
        let cycle = r#"
openapi: 3.0.1
info: { title: loop, version: "1" }
paths:
  /a:
    get:
      responses:
        '200': { content: { application/json: { schema: { $ref: '#/components/schemas/A' } } } }
components:
  schemas:
    A: { allOf: [ { $ref: '#/components/schemas/B' } ] }
    B: { allOf: [ { $ref: '#/components/schemas/A' } ] }
"#;
        let error = synthetic("cycle", cycle).expect_err("a cycle must be refused");
        assert!(error.to_string().contains("refer to themselves"), "{error}");
        let dangling = cycle.replace(
            "#/components/schemas/A' } ] }\n",
            "#/components/schemas/C' } ] }\n",
        );
        let error = synthetic("dangling", &dangling).expect_err("a dangling $ref must be refused");
        assert!(error.to_string().contains("names no schema"), "{error}");
        let v31 = cycle.replace("3.0.1", "3.1.0");
        assert!(matches!(
            synthetic("v31", &v31),
            Err(ContractError::BadSpec { .. })
        ));
        assert!(matches!(
            synthetic("yaml", "paths: [\n"),
            Err(ContractError::Yaml { .. })
        ));
        let missing = Contract::load(Path::new("/nonexistent/openapi.yaml"));
        assert!(matches!(missing, Err(ContractError::Io { .. })));
    }
}
