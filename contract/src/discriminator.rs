//! Reading the spec's `discriminator`s: which property selects which component schema. Read
//! once, before the conversion, because converting any schema may need to know whether a
//! `$ref` points at a discriminated parent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::model::Discriminator;
use crate::refs::COMPONENT_SCHEMA_REF;

/// The discriminators of the component schemas, with the targets that exist.
pub(crate) fn collect_discriminators(
    schemas: &Map<String, Value>,
) -> Result<HashMap<String, Arc<Discriminator>>, String> {
    let mut out = HashMap::new();
    for (name, schema) in schemas {
        let Some(discriminator) = schema.get("discriminator") else {
            continue;
        };
        let property = discriminator
            .get("propertyName")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("schema {name}: discriminator without propertyName"))?;
        let mut targets = BTreeMap::new();
        let mut values = BTreeSet::new();
        let mut missing = Vec::new();
        if let Some(mapping) = discriminator.get("mapping").and_then(Value::as_object) {
            for (value, target) in mapping {
                let target = target
                    .as_str()
                    .ok_or_else(|| format!("schema {name}: mapping {value} is not a string"))?;
                let target = target.strip_prefix(COMPONENT_SCHEMA_REF).unwrap_or(target);
                values.insert(value.clone());
                if schemas.contains_key(target) {
                    targets.insert(value.clone(), target.to_owned());
                } else {
                    missing.push(format!("{value} → {target}"));
                }
            }
        }
        let one_of = schema.get("oneOf").and_then(Value::as_array);
        // Alternatives of the oneOf the mapping leaves out are mapped by their schema name.
        for alternative in one_of.into_iter().flatten() {
            let Some(target) = alternative
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(COMPONENT_SCHEMA_REF))
            else {
                continue;
            };
            if schemas.contains_key(target) && !targets.values().any(|t| t == target) {
                values.insert(target.to_owned());
                targets.insert(target.to_owned(), target.to_owned());
            }
        }
        if !missing.is_empty() {
            tracing::debug!(
                schema = %name,
                missing = %missing.join(", "),
                "contract: discriminator targets absent from the spec; the base schema applies"
            );
        }
        out.insert(
            name.clone(),
            Arc::new(Discriminator {
                property: property.to_owned(),
                targets,
                values,
                closed: one_of.is_some(),
            }),
        );
    }
    Ok(out)
}
