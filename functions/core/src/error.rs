//! Error names shared with the state machine, and the error every step returns.
//!
//! The Step Functions definitions match on [`ErrorName::as_str`] in `Retry` and `Catch`, so the
//! names are a contract: renaming a variant breaks the state machine.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The name of a step failure, as the state machine sees it (the Lambda error type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ErrorName {
    /// The request is malformed or breaks a rule; nothing was created. Terminal.
    InvalidRequest,
    /// The request targets an Atlas Serverless instance; Atlas retired them. Terminal.
    ServerlessRetired,
    /// The request names a cloud provider other than AWS. Terminal.
    UnsupportedProvider,
    /// Atlas rejected the credentials (401/403). Terminal.
    AtlasAuthFailed,
    /// Atlas refused the call because the caller's IP is not on the organization's API access
    /// list (403 `IP_ADDRESS_NOT_ON_ACCESS_LIST`); the message names the IP to allow. Terminal.
    AtlasAccessListDenied,
    /// Atlas answered 429 beyond the client's own retry budget. Retryable.
    AtlasRateLimited,
    /// Atlas answered 5xx or could not be reached. Retryable.
    AtlasUnavailable,
    /// An AWS API throttled the call. Retryable.
    AwsThrottled,
    /// An AWS API failed on its side or could not be reached. Retryable.
    AwsUnavailable,
    /// The target account is not ready yet: its role cannot be assumed or its tagged VPC does
    /// not exist, within the request's `aws.waitForAccountSeconds` (an account just vended).
    /// Retryable.
    TargetNotReady,
    /// The Atlas endpoint service has no service name yet. Retryable.
    EndpointServiceNotReady,
    /// The Atlas endpoint service is `FAILED`. Terminal.
    EndpointServiceFailed,
    /// The interface endpoint is not yet `AVAILABLE` in Atlas or `available` in EC2. Retryable.
    InterfaceEndpointNotReady,
    /// Atlas reports the interface endpoint `REJECTED`, or EC2 reports the VPC endpoint
    /// rejected or gone. Terminal.
    InterfaceEndpointRejected,
    /// Atlas reports the interface endpoint `FAILED` (its `errorMessage` says why) and it could
    /// not be repaired by linking it again. Terminal.
    InterfaceEndpointFailed,
    /// The cluster is not `IDLE` or has no private connection strings for our endpoints yet.
    /// Retryable.
    ConnectionStringsNotReady,
    /// A multi-region sharded cluster needs the project's regionalized private endpoint mode,
    /// which is off, and the request did not opt in (`atlas.enableRegionalMode`): turning it on
    /// changes the connection strings of the project's existing multi-region sharded clusters
    /// and forbids replica sets in the project, so it is never switched silently. Terminal.
    RegionalModeRequired,
    /// Teardown of a request whose secret carries `atlas-privatelink:protect=true`, without
    /// `"force": true` in the teardown input. Nothing is removed. Terminal.
    DeletionProtected,
}

impl ErrorName {
    /// Every error name, in declaration order.
    pub const ALL: [ErrorName; 18] = [
        ErrorName::InvalidRequest,
        ErrorName::ServerlessRetired,
        ErrorName::UnsupportedProvider,
        ErrorName::AtlasAuthFailed,
        ErrorName::AtlasAccessListDenied,
        ErrorName::AtlasRateLimited,
        ErrorName::AtlasUnavailable,
        ErrorName::AwsThrottled,
        ErrorName::AwsUnavailable,
        ErrorName::TargetNotReady,
        ErrorName::EndpointServiceNotReady,
        ErrorName::EndpointServiceFailed,
        ErrorName::InterfaceEndpointNotReady,
        ErrorName::InterfaceEndpointRejected,
        ErrorName::InterfaceEndpointFailed,
        ErrorName::ConnectionStringsNotReady,
        ErrorName::RegionalModeRequired,
        ErrorName::DeletionProtected,
    ];

    /// The exact name the state machine matches on.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorName::InvalidRequest => "InvalidRequest",
            ErrorName::ServerlessRetired => "ServerlessRetired",
            ErrorName::UnsupportedProvider => "UnsupportedProvider",
            ErrorName::AtlasAuthFailed => "AtlasAuthFailed",
            ErrorName::AtlasAccessListDenied => "AtlasAccessListDenied",
            ErrorName::AtlasRateLimited => "AtlasRateLimited",
            ErrorName::AtlasUnavailable => "AtlasUnavailable",
            ErrorName::AwsThrottled => "AwsThrottled",
            ErrorName::AwsUnavailable => "AwsUnavailable",
            ErrorName::TargetNotReady => "TargetNotReady",
            ErrorName::EndpointServiceNotReady => "EndpointServiceNotReady",
            ErrorName::EndpointServiceFailed => "EndpointServiceFailed",
            ErrorName::InterfaceEndpointNotReady => "InterfaceEndpointNotReady",
            ErrorName::InterfaceEndpointRejected => "InterfaceEndpointRejected",
            ErrorName::InterfaceEndpointFailed => "InterfaceEndpointFailed",
            ErrorName::ConnectionStringsNotReady => "ConnectionStringsNotReady",
            ErrorName::RegionalModeRequired => "RegionalModeRequired",
            ErrorName::DeletionProtected => "DeletionProtected",
        }
    }

    /// Whether the state machine retries this error (with a bounded budget) instead of rolling
    /// back.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorName::AtlasRateLimited
                | ErrorName::AtlasUnavailable
                | ErrorName::AwsThrottled
                | ErrorName::AwsUnavailable
                | ErrorName::TargetNotReady
                | ErrorName::EndpointServiceNotReady
                | ErrorName::InterfaceEndpointNotReady
                | ErrorName::ConnectionStringsNotReady
        )
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of an Atlas client error: one mapping, no string round trip.
impl From<&atlas_api::AtlasError> for ErrorName {
    fn from(e: &atlas_api::AtlasError) -> Self {
        use atlas_api::AtlasError as A;
        match e {
            A::Auth { .. } => ErrorName::AtlasAuthFailed,
            A::AccessList { .. } => ErrorName::AtlasAccessListDenied,
            A::RateLimited { .. } => ErrorName::AtlasRateLimited,
            A::Unavailable { .. } | A::Decode { .. } => ErrorName::AtlasUnavailable,
            A::NotFound { .. } | A::Conflict { .. } | A::Rejected { .. } | A::Config(_) => {
                ErrorName::InvalidRequest
            }
        }
    }
}

/// The string is not one of [`ErrorName::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error name")]
pub struct UnknownErrorName;

impl FromStr for ErrorName {
    type Err = UnknownErrorName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorName::ALL
            .into_iter()
            .find(|name| name.as_str() == s)
            .ok_or(UnknownErrorName)
    }
}

/// A step failure: the name the state machine matches on and a message for people.
///
/// Messages never contain secret values (credentials, passwords, tokens); validation messages
/// start with the JSON path of the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{name}: {message}")]
pub struct StepError {
    /// The error name (the Lambda error type).
    pub name: ErrorName,
    /// What went wrong, for people.
    pub message: String,
}

impl StepError {
    /// An error with the given name and message.
    pub fn new(name: ErrorName, message: impl Into<String>) -> Self {
        StepError {
            name,
            message: message.into(),
        }
    }

    /// An [`ErrorName::InvalidRequest`] whose message starts with the field path, e.g.
    /// `endpoints[0].subnetIds: at least one subnet is required`.
    pub fn invalid(field: impl fmt::Display, message: impl fmt::Display) -> Self {
        StepError::new(ErrorName::InvalidRequest, format!("{field}: {message}"))
    }

    /// An [`ErrorName::ServerlessRetired`] for the field that named a Serverless instance.
    pub fn serverless_retired(field: impl fmt::Display) -> Self {
        StepError::new(
            ErrorName::ServerlessRetired,
            format!(
                "{field}: Atlas retired Serverless instances on 2026-01-22, so there is no \
                 Serverless instance to connect to. Migrate to a dedicated cluster (M10 or larger) \
                 and give its name as atlas.clusterName; Flex clusters are no alternative here, \
                 because they do not support private endpoints"
            ),
        )
    }

    /// An [`ErrorName::UnsupportedProvider`] for the field that named the provider.
    pub fn unsupported_provider(field: impl fmt::Display, provider: &str) -> Self {
        StepError::new(
            ErrorName::UnsupportedProvider,
            format!(
                "{field}: provider {provider:?} is not supported: atlas-privatelink connects AWS \
                 VPCs over AWS PrivateLink only; use \"AWS\" (the default)"
            ),
        )
    }

    /// Whether the state machine retries this error; see [`ErrorName::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.name.is_retryable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_exact_and_round_trip() {
        let expected = [
            "InvalidRequest",
            "ServerlessRetired",
            "UnsupportedProvider",
            "AtlasAuthFailed",
            "AtlasAccessListDenied",
            "AtlasRateLimited",
            "AtlasUnavailable",
            "AwsThrottled",
            "AwsUnavailable",
            "TargetNotReady",
            "EndpointServiceNotReady",
            "EndpointServiceFailed",
            "InterfaceEndpointNotReady",
            "InterfaceEndpointRejected",
            "InterfaceEndpointFailed",
            "ConnectionStringsNotReady",
            "RegionalModeRequired",
            "DeletionProtected",
        ];
        let names: Vec<&str> = ErrorName::ALL.iter().map(|n| n.as_str()).collect();
        assert_eq!(names, expected);
        for name in ErrorName::ALL {
            assert_eq!(name.to_string(), name.as_str());
            assert_eq!(name.as_str().parse::<ErrorName>(), Ok(name));
            let json = serde_json::to_value(name).expect("serialize");
            assert_eq!(json, serde_json::Value::from(name.as_str()));
            let back: ErrorName = serde_json::from_value(json).expect("deserialize");
            assert_eq!(back, name);
        }
        assert_eq!("invalidrequest".parse::<ErrorName>(), Err(UnknownErrorName));
    }

    #[test]
    fn retryable_set() {
        let retryable: Vec<ErrorName> = ErrorName::ALL
            .into_iter()
            .filter(|n| n.is_retryable())
            .collect();
        assert_eq!(
            retryable,
            [
                ErrorName::AtlasRateLimited,
                ErrorName::AtlasUnavailable,
                ErrorName::AwsThrottled,
                ErrorName::AwsUnavailable,
                ErrorName::TargetNotReady,
                ErrorName::EndpointServiceNotReady,
                ErrorName::InterfaceEndpointNotReady,
                ErrorName::ConnectionStringsNotReady,
            ]
        );
    }

    #[test]
    fn step_error_display_and_constructors() {
        let err = StepError::invalid("endpoints[0].subnetIds", "at least one subnet is required");
        assert_eq!(err.name, ErrorName::InvalidRequest);
        assert_eq!(
            err.message,
            "endpoints[0].subnetIds: at least one subnet is required"
        );
        assert_eq!(
            err.to_string(),
            "InvalidRequest: endpoints[0].subnetIds: at least one subnet is required"
        );
        assert!(!err.is_retryable());

        let err = StepError::serverless_retired("atlas.serverlessInstanceName");
        assert_eq!(err.name, ErrorName::ServerlessRetired);
        assert!(err.message.starts_with("atlas.serverlessInstanceName: "));
        assert!(err.message.contains("2026-01-22"));
        assert!(err.message.contains("dedicated cluster"));

        let err = StepError::unsupported_provider("atlas.provider", "GCP");
        assert_eq!(err.name, ErrorName::UnsupportedProvider);
        assert!(err.message.starts_with("atlas.provider: "));

        assert!(StepError::new(ErrorName::AwsThrottled, "slow down").is_retryable());
    }

    #[test]
    fn step_error_serializes_name_as_string() {
        let err = StepError::new(ErrorName::AtlasUnavailable, "503");
        assert_eq!(
            serde_json::to_value(&err).expect("serialize"),
            serde_json::json!({"name": "AtlasUnavailable", "message": "503"})
        );
    }
}
