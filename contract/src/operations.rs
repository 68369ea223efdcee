//! Reading the operations of an OpenAPI 3.0 document: path templates, path parameters (with
//! their validators compiled at once, since they are few and shared), request bodies and
//! responses with their converted schemas. This is where the document becomes a [`Contract`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use jsonschema::Validator;
use serde_json::{Map, Value, json};

use crate::compile::{check_cycles, compile};
use crate::convert::Converter;
use crate::discriminator::collect_discriminators;
use crate::media::essence;
use crate::model::{
    Contract, Direction, Discriminator, Media, Operation, ParamCheck, ParamKind, RequestBody,
    ResponseSpec, Segment,
};
use crate::refs::COMPONENT_SCHEMA_REF;

/// HTTP methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl Contract {
    /// Reads the operations and converts the schemas of an OpenAPI 3.0 document.
    pub(crate) fn from_spec(source: &Path, spec: &Value) -> Result<Contract, String> {
        let version = spec.get("openapi").and_then(Value::as_str).unwrap_or("");
        if !version.starts_with("3.0") {
            return Err(format!(
                "OpenAPI version `{version}` is not 3.0.x (the conversion rules are for 3.0)"
            ));
        }
        let empty = Map::new();
        let components = spec.get("components").and_then(Value::as_object);
        let schemas = components
            .and_then(|c| c.get("schemas"))
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let discriminators = collect_discriminators(schemas)?;
        let converter = |direction| Converter {
            schemas,
            discriminators: &discriminators,
            direction,
        };
        let mut defs = [Map::new(), Map::new()];
        for direction in [Direction::Request, Direction::Response] {
            defs[direction as usize] = converter(direction).convert_components()?;
        }
        check_cycles(&defs[0])?;
        check_cycles(&defs[1])?;
        let paths = spec
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("the spec has no `paths`")?;
        let mut reader = Reader {
            spec,
            request: converter(Direction::Request),
            response: converter(Direction::Response),
            discriminators: &discriminators,
            request_defs: &defs[Direction::Request as usize],
            param_validators: HashMap::new(),
        };
        let mut operations = Vec::new();
        for (template, item) in paths {
            let item = item
                .as_object()
                .ok_or_else(|| format!("path item {template} is not an object"))?;
            let segments = parse_template(template)?;
            for method in METHODS {
                let Some(op) = item.get(method) else {
                    continue;
                };
                let method = method.to_ascii_uppercase();
                let id = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("{method} {template}"), str::to_owned);
                let where_ = format!("{id} ({method} {template})");
                let params = [item.get("parameters"), op.get("parameters")];
                let path_params = reader.path_params(params, &where_)?;
                let request_body = reader.request_body(op, &where_)?;
                let (responses, success_media) = reader.responses(op, &where_)?;
                operations.push(Operation {
                    id,
                    method,
                    template: template.clone(),
                    segments: segments.clone(),
                    path_params,
                    request_body,
                    responses,
                    success_media,
                });
            }
        }
        if operations.is_empty() {
            return Err("the spec has no operations".to_owned());
        }
        Ok(Contract {
            source: source.to_owned(),
            operations,
            defs,
            validators: Mutex::new(HashMap::new()),
        })
    }
}

/// What reading one operation needs from the whole document. Errors name the operation
/// (`where_`) so a bad spec says where it is bad.
struct Reader<'a> {
    spec: &'a Value,
    request: Converter<'a>,
    response: Converter<'a>,
    discriminators: &'a HashMap<String, Arc<Discriminator>>,
    request_defs: &'a Map<String, Value>,
    /// Path parameter validators by converted schema: the spec repeats the same few
    /// (`groupId`, `cloudProvider`, …) on every operation, so each compiles once.
    param_validators: HashMap<String, Arc<Validator>>,
}

impl Reader<'_> {
    /// The path parameters of the path item and of the operation (other parameters are not
    /// checked), each with its validator.
    fn path_params(
        &mut self,
        lists: [Option<&Value>; 2],
        where_: &str,
    ) -> Result<HashMap<String, ParamCheck>, String> {
        let mut path_params = HashMap::new();
        for param in lists
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
        {
            let param = resolve_component(self.spec, param, "parameters")
                .map_err(|e| format!("{where_}: {e}"))?;
            if param.get("in").and_then(Value::as_str) != Some("path") {
                continue;
            }
            let name = param
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{where_}: a path parameter has no name"))?;
            let raw = param.get("schema").cloned().unwrap_or_else(|| json!({}));
            let kind = match raw.get("type").and_then(Value::as_str) {
                Some("integer") => ParamKind::Integer,
                Some("number") => ParamKind::Number,
                Some("boolean") => ParamKind::Boolean,
                _ => ParamKind::String,
            };
            let converted = self.request.convert(&raw, None)?;
            let text = converted.to_string();
            let validator = match self.param_validators.get(&text) {
                Some(v) => v.clone(),
                None => {
                    let v = Arc::new(
                        compile(self.request_defs, &converted)
                            .map_err(|e| format!("{where_}: parameter {name}: {e}"))?,
                    );
                    self.param_validators.insert(text, v.clone());
                    v
                }
            };
            path_params.insert(name.to_owned(), ParamCheck { kind, validator });
        }
        Ok(path_params)
    }

    /// The operation's request body, if it takes one.
    fn request_body(&self, op: &Value, where_: &str) -> Result<Option<RequestBody>, String> {
        let Some(rb) = op.get("requestBody") else {
            return Ok(None);
        };
        let rb = resolve_component(self.spec, rb, "requestBodies")
            .map_err(|e| format!("{where_}: {e}"))?;
        Ok(Some(RequestBody {
            required: rb.get("required").and_then(Value::as_bool).unwrap_or(false),
            media: read_media(rb, &self.request, self.discriminators)
                .map_err(|e| format!("{where_}: request body: {e}"))?,
        }))
    }

    /// The operation's responses by status key (upper case: `4XX`, `DEFAULT`), and the media
    /// types of its 2xx responses (what `Accept` must name).
    fn responses(
        &self,
        op: &Value,
        where_: &str,
    ) -> Result<(BTreeMap<String, ResponseSpec>, BTreeSet<String>), String> {
        let mut responses = BTreeMap::new();
        let mut success_media = BTreeSet::new();
        if let Some(map) = op.get("responses").and_then(Value::as_object) {
            for (status, r) in map {
                let r = resolve_component(self.spec, r, "responses")
                    .map_err(|e| format!("{where_}: response {status}: {e}"))?;
                let media = read_media(r, &self.response, self.discriminators)
                    .map_err(|e| format!("{where_}: response {status}: {e}"))?;
                if status.starts_with('2') {
                    success_media.extend(media.iter().map(|m| m.name.clone()));
                }
                responses.insert(status.to_ascii_uppercase(), ResponseSpec { media });
            }
        }
        Ok((responses, success_media))
    }
}

/// The media types of a request body or a response.
fn read_media(
    holder: &Value,
    converter: &Converter<'_>,
    discriminators: &HashMap<String, Arc<Discriminator>>,
) -> Result<Vec<Media>, String> {
    let Some(content) = holder.get("content").and_then(Value::as_object) else {
        return Ok(Vec::new());
    };
    let mut media = Vec::new();
    for (name, entry) in content {
        let raw = entry.get("schema");
        let schema = raw.map(|s| converter.convert(s, None)).transpose()?;
        let discriminator = raw
            .and_then(|s| s.get("$ref"))
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(COMPONENT_SCHEMA_REF))
            .and_then(|n| discriminators.get(n))
            .filter(|d| !d.targets.is_empty())
            .cloned();
        media.push(Media {
            name: essence(name),
            schema,
            discriminator,
        });
    }
    Ok(media)
}

/// Follows a `$ref` to `#/components/<section>/…` (one level, as OpenAPI allows).
fn resolve_component<'s>(
    spec: &'s Value,
    node: &'s Value,
    section: &str,
) -> Result<&'s Value, String> {
    let Some(reference) = node.get("$ref") else {
        return Ok(node);
    };
    let text = reference.as_str().ok_or("a `$ref` is not a string")?;
    let prefix = format!("#/components/{section}/");
    let name = text
        .strip_prefix(&prefix)
        .ok_or_else(|| format!("unsupported reference `{text}`"))?;
    spec.get("components")
        .and_then(|c| c.get(section))
        .and_then(|s| s.get(name))
        .ok_or_else(|| format!("`{text}` names nothing in the spec"))
}

/// Splits a path template into literal and `{parameter}` segments.
fn parse_template(template: &str) -> Result<Vec<Segment>, String> {
    template
        .split('/')
        .map(|segment| {
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if !name.is_empty() && !name.contains(['{', '}']) => {
                    Ok(Segment::Param(name.to_owned()))
                }
                Some(_) => Err(format!("path template {template}: bad parameter segment `{segment}`")),
                None if segment.contains(['{', '}']) => Err(format!(
                    "path template {template}: partial parameter segments like `{segment}` are not supported"
                )),
                None => Ok(Segment::Literal(segment.to_owned())),
            }
        })
        .collect()
}
