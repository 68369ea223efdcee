//! The conversion of OpenAPI 3.0 schemas to JSON Schema (draft 2020-12), once per direction
//! (request, response), because the `jsonschema` crate validates JSON Schema, not OpenAPI's
//! dialect of it. The rules:
//! - `$ref: '#/components/schemas/X'` → `$ref: '#/$defs/X'` in one document holding the
//!   (reachable) converted components; other keywords next to a `$ref` are ignored (OAS 3.0);
//! - `nullable: true` → `null` is also accepted (added to `type` and `enum`, or an `anyOf`
//!   with `{"type": "null"}` around composed schemas);
//! - a `discriminator` on a component: `X` is the base schema (its own keywords, without
//!   `oneOf`) plus, per mapping entry whose target exists, `if <property> == value then
//!   <target>`; a mapping target's `allOf` reference back to the discriminated parent means the
//!   parent's base only (`X__base`), which breaks the parent ⇄ variant cycle. Without the
//!   property the base alone applies; for a top-level body the value may instead come from the
//!   path parameter of the same name (`cloudProvider`, see `validate`). Mapping targets missing
//!   from the spec are skipped (the base applies);
//! - a `oneOf` without discriminator → `anyOf`: the spec's alternatives overlap (regions and
//!   instance sizes valid for several providers, hardware specs without required properties),
//!   so a strict `oneOf` would reject every real document; when the schema's own `type`
//!   contradicts every alternative's `type`, the own `type` is dropped (the alternatives are
//!   the intent);
//! - `required` leaves out `readOnly` properties in requests and `writeOnly` ones in responses;
//! - boolean `exclusiveMinimum`/`exclusiveMaximum` (draft 4 style) → numeric ones;
//! - annotations and OpenAPI-only keywords are dropped: `description`, `title`, `example(s)`,
//!   `externalDocs`, `readOnly`, `writeOnly`, `deprecated`, `xml`, `default`, `format`,
//!   `discriminator`, `x-*`.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::model::{Direction, Discriminator};
use crate::refs::{COMPONENT_SCHEMA_REF, def_ref};

/// Suffix of the base (non-dispatching) part of a discriminated schema.
const BASE_SUFFIX: &str = "__base";
/// Depth bound for walks that follow `$ref`/`allOf` through the raw spec.
const MAX_DEPTH: usize = 32;
/// Keywords dropped by the conversion (annotations and OpenAPI-only keywords).
const DROPPED: [&str; 12] = [
    "description",
    "title",
    "example",
    "examples",
    "externalDocs",
    "readOnly",
    "writeOnly",
    "deprecated",
    "xml",
    "default",
    "format",
    "discriminator",
];

/// The converter of OpenAPI 3.0 schemas to JSON Schema 2020-12, for one direction.
pub(crate) struct Converter<'a> {
    pub schemas: &'a Map<String, Value>,
    pub discriminators: &'a HashMap<String, Arc<Discriminator>>,
    pub direction: Direction,
}

impl Converter<'_> {
    /// Every component schema, plus `X__base` for the discriminated ones.
    pub(crate) fn convert_components(&self) -> Result<Map<String, Value>, String> {
        let mut defs = Map::new();
        for (name, raw) in self.schemas {
            let Some(d) = self.discriminators.get(name) else {
                defs.insert(name.clone(), self.convert(raw, Some(name))?);
                continue;
            };
            let base_name = format!("{name}{BASE_SUFFIX}");
            if self.schemas.contains_key(&base_name) {
                return Err(format!(
                    "schema name {base_name} clashes with a generated one"
                ));
            }
            let mut base = raw.clone();
            if let Some(object) = base.as_object_mut() {
                object.remove("oneOf");
                object.remove("discriminator");
            }
            defs.insert(base_name.clone(), self.convert(&base, Some(name))?);
            let mut parts = vec![json!({ "$ref": def_ref(&base_name) })];
            if d.closed {
                parts.push(json!({
                    "if": { "required": [d.property] },
                    "then": { "properties": single_property(&d.property, json!({ "enum": d.values })) }
                }));
            }
            for (value, target) in &d.targets {
                parts.push(json!({
                    "if": {
                        "properties": single_property(&d.property, json!({ "const": value })),
                        "required": [d.property]
                    },
                    "then": { "$ref": def_ref(target) }
                }));
            }
            defs.insert(name.clone(), json!({ "allOf": parts }));
        }
        Ok(defs)
    }

    /// Converts one schema; `component` is the component schema it belongs to, if any.
    pub(crate) fn convert(&self, raw: &Value, component: Option<&str>) -> Result<Value, String> {
        self.convert_node(raw, component, 0)
    }

    fn convert_node(
        &self,
        raw: &Value,
        component: Option<&str>,
        depth: usize,
    ) -> Result<Value, String> {
        if depth > 64 {
            return Err("a schema is nested more than 64 levels deep".to_owned());
        }
        let Some(node) = raw.as_object() else {
            return Ok(raw.clone()); // boolean schemas
        };
        if let Some(reference) = node.get("$ref") {
            // OpenAPI 3.0: keywords next to a $ref are ignored.
            let name = self.schema_name(reference)?;
            return Ok(json!({ "$ref": def_ref(name) }));
        }
        let next = depth + 1;
        let convert = |v: &Value| self.convert_node(v, component, next);
        let mut out = Map::new();
        for (key, value) in node {
            if key.starts_with("x-") || DROPPED.contains(&key.as_str()) || key == "nullable" {
                continue;
            }
            match key.as_str() {
                "properties" | "patternProperties" => {
                    let props = value
                        .as_object()
                        .ok_or_else(|| format!("`{key}` is not an object"))?;
                    let mut converted = Map::new();
                    for (name, schema) in props {
                        converted.insert(name.clone(), convert(schema)?);
                    }
                    out.insert(key.clone(), Value::Object(converted));
                }
                "items" | "additionalProperties" | "not" => {
                    out.insert(key.clone(), convert(value)?);
                }
                "allOf" | "anyOf" | "oneOf" => {
                    let items = value
                        .as_array()
                        .ok_or_else(|| format!("`{key}` is not an array"))?;
                    let mut converted = Vec::new();
                    for item in items {
                        converted.push(self.convert_member(key, item, component, next)?);
                    }
                    // oneOf → anyOf: the spec's alternatives overlap (see the module docs).
                    let key = if key == "oneOf" {
                        "anyOf"
                    } else {
                        key.as_str()
                    };
                    match out.get_mut(key).and_then(Value::as_array_mut) {
                        Some(existing) => existing.extend(converted),
                        None => {
                            out.insert(key.to_owned(), Value::Array(converted));
                        }
                    }
                }
                "required" => {
                    let names: Vec<Value> = value
                        .as_array()
                        .ok_or("`required` is not an array")?
                        .iter()
                        .filter(|name| {
                            name.as_str()
                                .is_none_or(|name| !self.excluded_property(raw, name, 0))
                        })
                        .cloned()
                        .collect();
                    if !names.is_empty() {
                        out.insert(key.clone(), Value::Array(names));
                    }
                }
                "exclusiveMinimum" | "exclusiveMaximum" if value.is_boolean() => {
                    let bound = if key == "exclusiveMinimum" {
                        "minimum"
                    } else {
                        "maximum"
                    };
                    if value.as_bool() == Some(true)
                        && let Some(limit) = node.get(bound)
                    {
                        out.insert(key.clone(), limit.clone());
                    }
                }
                "minimum" | "maximum" => {
                    let exclusive = if key == "minimum" {
                        "exclusiveMinimum"
                    } else {
                        "exclusiveMaximum"
                    };
                    if node.get(exclusive).and_then(Value::as_bool) != Some(true) {
                        out.insert(key.clone(), value.clone());
                    }
                }
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        // A `type` that contradicts every `oneOf` alternative (BaseCloudProviderInstanceSize:
        // `type: object` over string enums): the alternatives are the intent.
        if let (Some(own), Some(alternatives)) = (
            node.get("type").and_then(Value::as_str),
            node.get("oneOf").and_then(Value::as_array),
        ) {
            let types: Vec<Option<&str>> = alternatives
                .iter()
                .map(|a| self.resolve(a).get("type").and_then(Value::as_str))
                .collect();
            if !types.is_empty() && types.iter().all(|t| t.is_some_and(|t| t != own)) {
                out.remove("type");
            }
        }
        if node.get("nullable").and_then(Value::as_bool) == Some(true) {
            return Ok(nullable(out));
        }
        Ok(Value::Object(out))
    }

    /// Converts an `allOf`/`oneOf`/`anyOf` member: in a discriminator's target, the `allOf`
    /// reference back to the discriminated parent means the parent's base.
    fn convert_member(
        &self,
        keyword: &str,
        item: &Value,
        component: Option<&str>,
        depth: usize,
    ) -> Result<Value, String> {
        if keyword == "allOf"
            && let (Some(component), Some(reference)) = (component, item.get("$ref"))
        {
            let parent = self.schema_name(reference)?;
            let is_parent = self
                .discriminators
                .get(parent)
                .is_some_and(|d| d.targets.values().any(|t| t == component));
            if is_parent {
                return Ok(json!({ "$ref": def_ref(&format!("{parent}{BASE_SUFFIX}")) }));
            }
        }
        self.convert_node(item, component, depth)
    }

    /// Whether `required` must leave out `property` in this direction (`readOnly` properties in
    /// requests, `writeOnly` ones in responses), looking through `$ref` and `allOf`.
    fn excluded_property(&self, node: &Value, property: &str, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        let flag = match self.direction {
            Direction::Request => "readOnly",
            Direction::Response => "writeOnly",
        };
        let node = self.resolve(node);
        if let Some(schema) = node.get("properties").and_then(|p| p.get(property)) {
            let flagged = |s: &Value| s.get(flag).and_then(Value::as_bool) == Some(true);
            return flagged(schema) || flagged(self.resolve(schema));
        }
        node.get("allOf")
            .and_then(Value::as_array)
            .is_some_and(|items| {
                items
                    .iter()
                    .any(|i| self.excluded_property(i, property, depth + 1))
            })
    }

    /// The raw component schema a `$ref` names (the node itself otherwise).
    fn resolve<'v>(&'v self, node: &'v Value) -> &'v Value {
        let mut node = node;
        for _ in 0..MAX_DEPTH {
            let Some(target) = node
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(COMPONENT_SCHEMA_REF))
                .and_then(|name| self.schemas.get(name))
            else {
                break;
            };
            node = target;
        }
        node
    }

    /// The component name of a schema `$ref`, which must exist.
    fn schema_name<'v>(&self, reference: &'v Value) -> Result<&'v str, String> {
        let text = reference.as_str().ok_or("a `$ref` is not a string")?;
        let name = text.strip_prefix(COMPONENT_SCHEMA_REF).ok_or_else(|| {
            format!("unsupported schema reference `{text}` (only local component schemas)")
        })?;
        if !self.schemas.contains_key(name) {
            return Err(format!("`{text}` names no schema of the spec"));
        }
        Ok(name)
    }
}

/// Accepts `null` too: in `type` and `enum` for plain schemas, else `anyOf` with null.
fn nullable(mut schema: Map<String, Value>) -> Value {
    let composed = ["allOf", "anyOf", "oneOf", "$ref", "not"]
        .iter()
        .any(|k| schema.contains_key(*k));
    if composed {
        return json!({ "anyOf": [{ "type": "null" }, Value::Object(schema)] });
    }
    if let Some(Value::String(t)) = schema.get("type") {
        let t = t.clone();
        schema.insert("type".to_owned(), json!([t, "null"]));
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    Value::Object(schema)
}

/// `{name: schema}`.
fn single_property(name: &str, schema: Value) -> Value {
    let mut map = Map::new();
    map.insert(name.to_owned(), schema);
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::test_support::*;

    const THINGS: &str = r#"
openapi: 3.0.3
info: { title: things, version: "1" }
paths:
  /things/{n}:
    parameters:
      - { name: n, in: path, required: true, schema: { type: integer, minimum: 0, exclusiveMinimum: true } }
    put:
      operationId: putThing
      requestBody:
        content:
          application/json:
            schema: { $ref: '#/components/schemas/Thing' }
      responses:
        200:
          content:
            application/json:
              schema: { $ref: '#/components/schemas/Thing' }
        4XX:
          content:
            application/json:
              schema: { type: object, required: [code] }
components:
  schemas:
    Thing:
      type: object
      required: [id, name, secret]
      properties:
        id: { type: string, readOnly: true }
        secret: { type: string, writeOnly: true }
        name: { type: string, nullable: true, enum: [a, b] }
        x-extension: { type: integer }
"#;

    #[test]
    fn synthetic_conversion_rules() {
        let c = synthetic("things", THINGS).expect("the synthetic spec loads");
        let j = Some("application/json");
        // readOnly properties are not required in requests, writeOnly ones not in responses.
        assert_ok(c.check_request(
            "PUT",
            "/things/1",
            j,
            j,
            Some(&json!({"name": "a", "secret": "s"})),
        ));
        assert_violates(
            c.check_request("PUT", "/things/1", j, j, Some(&json!({"name": "a"}))),
            "secret",
        );
        assert_ok(c.check_response(
            "PUT",
            "/things/1",
            j,
            200,
            j,
            Some(&json!({"id": "1", "name": null})),
        ));
        assert_violates(
            c.check_response("PUT", "/things/1", j, 200, j, Some(&json!({"name": "a"}))),
            "id",
        );
        assert_violates(
            c.check_response(
                "PUT",
                "/things/1",
                j,
                200,
                j,
                Some(&json!({"id": "1", "name": "c"})),
            ),
            "name",
        );
        // A property named like an extension keyword is a property, not dropped.
        let odd = json!({"id": "1", "name": "a", "x-extension": "one"});
        assert_violates(
            c.check_response("PUT", "/things/1", j, 200, j, Some(&odd)),
            "x-extension",
        );
        // An optional request body may be left out; integer path parameters, exclusive minimum.
        assert_ok(c.check_request("PUT", "/things/2", None, j, None));
        assert_violates(
            c.check_request("PUT", "/things/0", None, j, None),
            "path parameter n",
        );
        assert_violates(
            c.check_request("PUT", "/things/x", None, j, None),
            "not an integer",
        );
        // Status ranges.
        assert_ok(c.check_response("PUT", "/things/1", j, 404, j, Some(&json!({"code": 1}))));
        assert_violates(
            c.check_response("PUT", "/things/1", j, 404, j, Some(&json!({}))),
            "code",
        );
        assert_violates(
            c.check_response("PUT", "/things/1", j, 500, j, Some(&json!({}))),
            "500",
        );
    }
}
