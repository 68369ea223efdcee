//! Contract checks of HTTP exchanges against an OpenAPI 3.0 spec: MongoDB's Atlas Admin API
//! spec, for the Atlas simulator and the integration tests.
//!
//! The spec is MongoDB's text, not ours: it is read at run time (see [`Contract::locate`]) and
//! never copied into the project. [`Contract::load`] turns its OpenAPI 3.0 schemas into JSON
//! Schema (draft 2020-12) once; validators are compiled lazily, one per (operation, direction,
//! status, media type, discriminator variant), and cached, so checking an exchange is cheap.
//!
//! What is checked:
//! - the operation: method + path against the path templates, path parameters against their
//!   schemas (pattern, enum); a template with a literal segment wins over one with a parameter;
//! - a request ([`Contract::check_request`]): `Accept` names a media type of a 2xx response; a
//!   body only where the operation takes one (and present when it is required), its
//!   `Content-Type` one of the operation's media types, the body valid against that media
//!   type's schema;
//! - a response ([`Contract::check_response`]): the status is documented (or a `default`, or a
//!   [known gap](KNOWN_SPEC_GAPS) of the spec); the `Content-Type` is a media type of that
//!   response and, for a 2xx, the requested one when `Accept` named one of them; the body valid
//!   against the schema; a 204 without body.
//!
//! Not checked: query parameters, headers other than `Accept` and `Content-Type`, `format`.
//!
//! The crate is separate from the simulator so that the simulator (which the product's CLI
//! demo links) does not drag in JSON Schema validation and YAML parsing; the simulator only
//! knows a small check trait, which it implements for [`Contract`] behind a cargo feature.
//!
//! Modules, from the leaves up (each uses only modules listed before it):
//! `error`, `violation`, `gaps`, `refs`, `model` (the shared types), `media`,
//! `discriminator`, `convert` (OpenAPI 3.0 → JSON Schema), `compile`, `operations` (reading
//! the spec's operations), `spec` (locating and loading the file), `matching` (method + path →
//! operation), `validate` (bodies, the validator cache), `request`, `response`.
#![warn(missing_docs)]

mod compile;
mod convert;
mod discriminator;
mod error;
mod gaps;
mod matching;
mod media;
mod model;
mod operations;
mod refs;
mod request;
mod response;
mod spec;
mod validate;
mod violation;

#[cfg(test)]
mod test_support;

pub use error::ContractError;
pub use gaps::{KNOWN_SPEC_GAPS, known_spec_gap};
pub use model::Contract;
pub use violation::Violation;
