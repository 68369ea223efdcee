//! Errors of the Atlas client, each with the name Step Functions sees.

use std::time::Duration;

use serde::Deserialize;

/// The error body Atlas returns: `{error, errorCode, detail, reason, parameters}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiErrorBody {
    /// The HTTP status again.
    pub error: Option<u16>,
    /// Atlas's application error code, e.g. `PRIVATE_ENDPOINT_SERVICE_ALREADY_EXISTS_FOR_REGION`.
    pub error_code: Option<String>,
    /// What went wrong, in words.
    pub detail: Option<String>,
    /// The HTTP reason phrase.
    pub reason: Option<String>,
}

impl ApiErrorBody {
    /// Parses an error body, tolerating anything that is not one.
    pub fn parse(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    fn code(&self) -> &str {
        self.error_code.as_deref().unwrap_or("")
    }

    fn detail(&self) -> &str {
        self.detail
            .as_deref()
            .or(self.reason.as_deref())
            .unwrap_or("")
    }
}

/// The error code of Atlas's 403 for a caller whose IP is not on the organization's API access
/// list (Atlas Admin API error codes; the detail reads "IP address … is not allowed to access
/// this resource.").
pub const IP_NOT_ON_ACCESS_LIST: &str = "IP_ADDRESS_NOT_ON_ACCESS_LIST";

/// The error code Atlas answers when a region already has a private endpoint service.
pub const ALREADY_EXISTS_FOR_REGION: &str = "PRIVATE_ENDPOINT_SERVICE_ALREADY_EXISTS_FOR_REGION";

/// An Atlas Admin API call failed.
#[derive(Debug, thiserror::Error)]
pub enum AtlasError {
    /// 401 or 403: wrong credentials, an expired key, a missing role, or an IP access list
    /// that does not include the caller.
    #[error("{operation}: Atlas did not authenticate the call (HTTP {status} {code}): {detail}")]
    Auth {
        /// The operation that failed.
        operation: &'static str,
        /// HTTP status.
        status: u16,
        /// Atlas error code.
        code: String,
        /// Atlas's explanation.
        detail: String,
    },
    /// 403 `IP_ADDRESS_NOT_ON_ACCESS_LIST`: the caller's IP is not on the organization's API
    /// access list.
    #[error(
        "{operation}: Atlas refused the call from IP {ip}, which is not on the organization's API \
         access list: add it there (in AWS, the Elastic IP of the NAT gateway the functions leave \
         through; see the template's LambdaSubnetIds) ({detail})"
    )]
    AccessList {
        /// The operation that failed.
        operation: &'static str,
        /// The caller's IP as Atlas saw it (`unknown` if Atlas did not say).
        ip: String,
        /// Atlas's explanation.
        detail: String,
    },
    /// Still rate limited (429) after the client's retry budget.
    #[error("{operation}: Atlas rate limit still exceeded after {attempts} attempts ({code})")]
    RateLimited {
        /// The operation that failed.
        operation: &'static str,
        /// Attempts made.
        attempts: u32,
        /// Atlas error code.
        code: String,
        /// The last `Retry-After` Atlas sent, if any.
        retry_after: Option<Duration>,
    },
    /// 5xx, a timeout, or no connection, still after the client's retry budget.
    #[error("{operation}: Atlas unavailable after {attempts} attempts: {detail}")]
    Unavailable {
        /// The operation that failed.
        operation: &'static str,
        /// Attempts made.
        attempts: u32,
        /// The last HTTP status, when there was a response.
        status: Option<u16>,
        /// What happened last.
        detail: String,
    },
    /// 404: the resource does not exist (or no longer exists).
    #[error("{operation}: not found ({code}): {detail}")]
    NotFound {
        /// The operation that failed.
        operation: &'static str,
        /// Atlas error code.
        code: String,
        /// Atlas's explanation.
        detail: String,
    },
    /// 409: a conflicting resource exists.
    #[error("{operation}: conflict ({code}): {detail}")]
    Conflict {
        /// The operation that failed.
        operation: &'static str,
        /// Atlas error code.
        code: String,
        /// Atlas's explanation.
        detail: String,
    },
    /// Another 4xx: Atlas rejected the request itself (an unsupported region, say).
    #[error("{operation}: Atlas rejected the request (HTTP {status} {code}): {detail}")]
    Rejected {
        /// The operation that failed.
        operation: &'static str,
        /// HTTP status.
        status: u16,
        /// Atlas error code.
        code: String,
        /// Atlas's explanation.
        detail: String,
    },
    /// A success status with a body that is not what the API promises.
    #[error("{operation}: unexpected response body: {detail}")]
    Decode {
        /// The operation that failed.
        operation: &'static str,
        /// What could not be decoded.
        detail: String,
    },
    /// The client could not be built (bad base URL, TLS set-up).
    #[error("Atlas client configuration: {0}")]
    Config(String),
}

impl AtlasError {
    /// The error name of DESIGN.md that the state machine matches on.
    pub fn error_name(&self) -> &'static str {
        match self {
            AtlasError::Auth { .. } => "AtlasAuthFailed",
            AtlasError::AccessList { .. } => "AtlasAccessListDenied",
            AtlasError::RateLimited { .. } => "AtlasRateLimited",
            AtlasError::Unavailable { .. } | AtlasError::Decode { .. } => "AtlasUnavailable",
            AtlasError::NotFound { .. }
            | AtlasError::Conflict { .. }
            | AtlasError::Rejected { .. }
            | AtlasError::Config(_) => "InvalidRequest",
        }
    }

    /// True for 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, AtlasError::NotFound { .. })
    }

    /// True for any 409.
    pub fn is_conflict(&self) -> bool {
        matches!(self, AtlasError::Conflict { .. })
    }

    /// True for the 409 a racing run gets when the region's endpoint service exists already.
    pub fn is_service_already_exists_for_region(&self) -> bool {
        matches!(self, AtlasError::Conflict { code, .. } if code == ALREADY_EXISTS_FOR_REGION)
    }

    /// Builds the error for a final (non-retried) 4xx response.
    pub(crate) fn from_client_status(operation: &'static str, status: u16, body: &[u8]) -> Self {
        let api = ApiErrorBody::parse(body);
        let code = api.code().to_owned();
        let detail = api.detail().to_owned();
        match status {
            403 if code == IP_NOT_ON_ACCESS_LIST => AtlasError::AccessList {
                operation,
                ip: access_list_ip(&detail).unwrap_or_else(|| "unknown".to_owned()),
                detail,
            },
            401 | 403 => AtlasError::Auth {
                operation,
                status,
                code,
                detail,
            },
            404 => AtlasError::NotFound {
                operation,
                code,
                detail,
            },
            409 => AtlasError::Conflict {
                operation,
                code,
                detail,
            },
            _ => AtlasError::Rejected {
                operation,
                status,
                code,
                detail,
            },
        }
    }
}

/// The IP in Atlas's access-list detail ("IP address 203.0.113.7 is not allowed to access this
/// resource.").
fn access_list_ip(detail: &str) -> Option<String> {
    detail
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_ascii_hexdigit() && c != '.' && c != ':'))
        .find(|w| w.parse::<std::net::IpAddr>().is_ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_statuses_to_design_names() {
        let body = br#"{"error":409,"errorCode":"PRIVATE_ENDPOINT_SERVICE_ALREADY_EXISTS_FOR_REGION","detail":"exists","reason":"Conflict"}"#;
        let conflict = AtlasError::from_client_status("createEndpointService", 409, body);
        assert!(conflict.is_service_already_exists_for_region());
        assert_eq!(conflict.error_name(), "InvalidRequest");
        let other = AtlasError::from_client_status("x", 409, br#"{"errorCode":"OTHER"}"#);
        assert!(other.is_conflict() && !other.is_service_already_exists_for_region());
        assert_eq!(
            AtlasError::from_client_status("x", 401, b"").error_name(),
            "AtlasAuthFailed"
        );
        assert_eq!(
            AtlasError::from_client_status("x", 403, b"not json").error_name(),
            "AtlasAuthFailed"
        );
        assert!(AtlasError::from_client_status("x", 404, b"{}").is_not_found());
        let denied = AtlasError::from_client_status(
            "getCluster",
            403,
            br#"{"error":403,"errorCode":"IP_ADDRESS_NOT_ON_ACCESS_LIST","detail":"IP address 203.0.113.7 is not allowed to access this resource.","reason":"Forbidden"}"#,
        );
        assert_eq!(denied.error_name(), "AtlasAccessListDenied");
        assert!(
            denied.to_string().contains("from IP 203.0.113.7"),
            "{denied}"
        );
        assert_eq!(
            AtlasError::from_client_status("x", 400, b"{}").error_name(),
            "InvalidRequest"
        );
    }
}
