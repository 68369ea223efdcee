//! Compiling converted schemas into validators: each schema with only the definitions it
//! reaches, as one JSON Schema 2020-12 document. Also the load-time refusal of definitions
//! that refer to themselves without consuming input, which would make validation recurse
//! forever instead of failing.

use std::collections::HashMap;

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

use crate::refs::{DEFS_REF, unescape_pointer};

/// Compiles `schema` with the definitions it reaches, as JSON Schema 2020-12.
pub(crate) fn compile(defs: &Map<String, Value>, schema: &Value) -> Result<Validator, String> {
    let mut reachable = Map::new();
    let mut pending = Vec::new();
    collect_refs(schema, &mut pending);
    while let Some(name) = pending.pop() {
        if reachable.contains_key(&name) {
            continue;
        }
        let def = defs
            .get(&name)
            .ok_or_else(|| format!("reference to the unknown definition {name}"))?;
        collect_refs(def, &mut pending);
        reachable.insert(name, def.clone());
    }
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": reachable,
        "allOf": [schema],
    });
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .build(&root)
        .map_err(|e| e.to_string())
}

/// The definition names `schema` refers to.
fn collect_refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref" {
                    if let Some(name) = value.as_str().and_then(|r| r.strip_prefix(DEFS_REF)) {
                        out.push(unescape_pointer(name));
                    }
                } else if key != "enum" && key != "const" {
                    collect_refs(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Refuses definitions that refer to themselves without consuming any of the instance (they
/// would recurse forever): walks `$ref`, `allOf`/`anyOf`/`oneOf`, `if`/`then`/`else`, `not`.
pub(crate) fn check_cycles(defs: &Map<String, Value>) -> Result<(), String> {
    fn same_instance_refs(schema: &Value, out: &mut Vec<String>) {
        let Some(map) = schema.as_object() else {
            return;
        };
        if let Some(name) = map
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(DEFS_REF))
        {
            out.push(unescape_pointer(name));
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for item in map.get(key).and_then(Value::as_array).into_iter().flatten() {
                same_instance_refs(item, out);
            }
        }
        for key in ["if", "then", "else", "not"] {
            if let Some(item) = map.get(key) {
                same_instance_refs(item, out);
            }
        }
    }
    let graph: HashMap<&str, Vec<String>> = defs
        .iter()
        .map(|(name, schema)| {
            let mut refs = Vec::new();
            same_instance_refs(schema, &mut refs);
            (name.as_str(), refs)
        })
        .collect();
    // Iterative depth-first search with colours: 1 = on the stack, 2 = done.
    let mut colour: HashMap<&str, u8> = HashMap::new();
    for start in graph.keys() {
        if colour.contains_key(start) {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(*start, 0)];
        colour.insert(*start, 1);
        while let Some((node, next)) = stack.pop() {
            let edges = graph.get(node).map(Vec::as_slice).unwrap_or_default();
            let Some(target) = edges.get(next) else {
                colour.insert(node, 2);
                continue;
            };
            stack.push((node, next + 1));
            let Some((&target, _)) = graph.get_key_value(target.as_str()) else {
                continue;
            };
            match colour.get(target) {
                Some(1) => {
                    let mut cycle: Vec<&str> = stack.iter().map(|(n, _)| *n).collect();
                    cycle.push(target);
                    return Err(format!(
                        "schemas refer to themselves without consuming input: {}",
                        cycle.join(" → ")
                    ));
                }
                Some(_) => {}
                None => {
                    colour.insert(target, 1);
                    stack.push((target, 0));
                }
            }
        }
    }
    Ok(())
}
