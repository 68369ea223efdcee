//! The checker's data: the [`Contract`] and what it holds per operation (path segments, path
//! parameter checks, request body and response media types, discriminators), plus the keys of
//! the validator cache. Every other module reads or builds these types, so they live here,
//! below all of them, and carry no logic beyond `Debug`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use jsonschema::Validator;
use serde_json::{Map, Value};

/// The Atlas Admin API contract: the operations of the OpenAPI spec, with their schemas
/// converted to JSON Schema and compiled validators cached.
pub struct Contract {
    /// Where the spec was read from (for `Debug`).
    pub(crate) source: PathBuf,
    pub(crate) operations: Vec<Operation>,
    /// Converted component schemas, per [`Direction`].
    pub(crate) defs: [Map<String, Value>; 2],
    /// Compiled validators (or why they do not compile: the error is reported on every use,
    /// without compiling again).
    pub(crate) validators: Mutex<HashMap<CacheKey, Result<Arc<Validator>, String>>>,
}

impl fmt::Debug for Contract {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.validators.lock().map_or(0, |cache| cache.len());
        f.debug_struct("Contract")
            .field("source", &self.source)
            .field("operations", &self.operations.len())
            .field("cached_validators", &cached)
            .finish()
    }
}

/// Which side of the exchange a schema describes (`readOnly`/`writeOnly` differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Direction {
    Request = 0,
    Response = 1,
}

/// What a cached validator was compiled for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    /// Index into [`Contract::operations`].
    pub operation: usize,
    pub direction: Direction,
    /// The response status as written in the spec (`"200"`, `"default"`); empty for requests.
    pub status: String,
    /// Index into the request body's or the response's media types.
    pub media: usize,
    /// The discriminator target taken from the path, if any.
    pub variant: Option<String>,
}

/// One operation of the spec (a method of a path item).
pub(crate) struct Operation {
    /// The `operationId`, or `"METHOD template"` when the spec gives none.
    pub id: String,
    /// Upper case.
    pub method: String,
    pub template: String,
    pub segments: Vec<Segment>,
    pub path_params: HashMap<String, ParamCheck>,
    pub request_body: Option<RequestBody>,
    /// Status key as written in the spec (`"200"`, `"4XX"`, `"default"`) → response.
    pub responses: BTreeMap<String, ResponseSpec>,
    /// Media types of the 2xx responses.
    pub success_media: BTreeSet<String>,
}

/// A segment of a path template.
#[derive(Clone)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
}

/// How to check a path parameter: parse it as `kind`, then validate.
pub(crate) struct ParamCheck {
    pub kind: ParamKind,
    pub validator: Arc<Validator>,
}

/// The JSON type a path parameter's text is parsed into before validation.
#[derive(Clone, Copy)]
pub(crate) enum ParamKind {
    String,
    Integer,
    Number,
    Boolean,
}

/// An operation's request body.
pub(crate) struct RequestBody {
    pub required: bool,
    pub media: Vec<Media>,
}

/// One documented response of an operation.
pub(crate) struct ResponseSpec {
    pub media: Vec<Media>,
}

/// One media type of a request body or a response.
pub(crate) struct Media {
    /// Lower-case `type/subtype`, without parameters.
    pub name: String,
    /// The converted schema; `None` when the spec gives none.
    pub schema: Option<Value>,
    /// The discriminator of a top-level `$ref` schema, for the path fallback.
    pub discriminator: Option<Arc<Discriminator>>,
}

/// A component schema's `discriminator`, with the mapping targets the spec has.
#[derive(Debug)]
pub(crate) struct Discriminator {
    pub property: String,
    /// Discriminator value → name of an existing target schema.
    pub targets: BTreeMap<String, String>,
    /// Every value the spec maps (targets present or not).
    pub values: BTreeSet<String>,
    /// The schema also has a `oneOf` (an unmapped value then matches no alternative).
    pub closed: bool,
}

#[cfg(test)]
mod tests {
    use super::Contract;

    #[test]
    fn contract_is_shareable() {
        fn shareable<T: Send + Sync>() {}
        shareable::<Contract>();
    }
}
