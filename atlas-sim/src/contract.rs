//! [`ExchangeCheck`] for the OpenAPI checker (`openapi_contract::Contract`), compiled with the
//! `contract` feature (on by default; off for the crates that link the simulator through the
//! workspace dependency, such as the CLI).
//!
//! Why the implementation lives here and not in `openapi-contract`: the `atlas-sim` binary
//! builds a `Contract` for `--contract`, so this package needs `openapi-contract`; if
//! `openapi-contract` also depended on this package for the trait, cargo would refuse the
//! cycle. This way the checker stays a general OpenAPI library that knows nothing of the
//! simulator, and only the simulator knows both.

use openapi_contract::Contract;
use serde_json::Value;

use crate::exchange::{ExchangeCheck, Violation};

impl ExchangeCheck for Contract {
    fn check_request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        accept: Option<&str>,
        body: Option<&Value>,
    ) -> Vec<Violation> {
        // The inherent method (inherent methods take precedence over the trait's).
        let found = Contract::check_request(self, method, path, content_type, accept, body);
        found.into_iter().map(violation).collect()
    }

    fn check_response(
        &self,
        method: &str,
        path: &str,
        accept: Option<&str>,
        status: u16,
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Vec<Violation> {
        let found =
            Contract::check_response(self, method, path, accept, status, content_type, body);
        found.into_iter().map(violation).collect()
    }
}

fn violation(v: openapi_contract::Violation) -> Violation {
    Violation {
        operation: v.operation,
        message: v.message,
    }
}
