//! The check of Atlas API exchanges against a description of the API, as the simulator sees
//! it: a small trait, so that the simulator does not depend on how the check is made.
//!
//! The OpenAPI checker (the `openapi-contract` crate) pulls in JSON Schema validation and YAML
//! parsing, which the product's CLI demo (it links the simulator) must not carry. The
//! simulator only calls [`ExchangeCheck`]; the implementation for
//! `openapi_contract::Contract` lives in this crate behind the default `contract` feature (see
//! `contract.rs` for why there rather than in `openapi-contract`).

use std::fmt;

use serde_json::Value;

/// Checks the requests the simulator receives and the responses it sends; set in
/// [`SimConfig::contract`](crate::SimConfig::contract).
///
/// A request with violations is refused (422 `CONTRACT_VIOLATION`) before it is processed; a
/// response with violations is replaced by a 500 `CONTRACT_VIOLATION`. Both are recorded
/// ([`SimHandle::contract_violations`](crate::SimHandle::contract_violations)).
pub trait ExchangeCheck: Send + Sync + fmt::Debug {
    /// The violations of a request: `path` without query string, the `Content-Type` and
    /// `Accept` headers as sent, the body parsed as JSON (`None`: no or empty body).
    fn check_request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        accept: Option<&str>,
        body: Option<&Value>,
    ) -> Vec<Violation>;

    /// The violations of the response to a request (`method`, `path`, `accept` as in
    /// [`ExchangeCheck::check_request`]): its status, `Content-Type` header and body parsed as
    /// JSON (`None`: no or empty body).
    fn check_response(
        &self,
        method: &str,
        path: &str,
        accept: Option<&str>,
        status: u16,
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Vec<Violation>;
}

/// One way a request or a response breaks the API description.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The operation (the spec's `operationId`), or `"METHOD path"` when none matched.
    pub operation: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.operation, self.message)
    }
}
