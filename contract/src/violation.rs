//! What a check reports: a [`Violation`] per way an exchange breaks the spec. A module of its
//! own because the request and the response checks both build them.

use std::fmt;

/// One way a request or a response breaks the spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The spec's `operationId`, or `"METHOD path"` when no operation matched.
    pub operation: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.operation, self.message)
    }
}

/// The violation of an exchange no operation of the spec matches: named after the method and
/// path, since there is no `operationId` to name it by.
pub(crate) fn unmatched(method: &str, path: &str, message: String) -> Violation {
    Violation {
        operation: format!("{} {path}", method.to_ascii_uppercase()),
        message,
    }
}
