//! Maps AWS SDK errors to the workflow's error names.

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::operation::RequestId;

use crate::error::{ErrorName, StepError};

/// Error codes AWS uses for throttling, across services.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "SlowDown",
];

/// Error codes that mean "AWS had a problem", worth retrying.
const UNAVAILABLE_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServiceError",
    "ServiceUnavailable",
    "Unavailable",
];

/// The AWS error code of an SDK error, when the service sent one.
pub fn error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

/// Turns an SDK error into a [`StepError`]: throttling → `AwsThrottled`, timeouts, transport
/// failures and 5xx → `AwsUnavailable`, anything else (access denied, a bad parameter) →
/// `InvalidRequest` with AWS's code and message.
pub fn classify<E>(operation: &str, err: SdkError<E, HttpResponse>) -> StepError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let request_id = err.request_id().unwrap_or("none").to_owned();
    let (name, detail) = match &err {
        SdkError::TimeoutError(_) => (ErrorName::AwsUnavailable, "timed out".to_owned()),
        SdkError::DispatchFailure(failure) => (
            ErrorName::AwsUnavailable,
            format!("no response: {failure:?}"),
        ),
        SdkError::ResponseError(_) => (ErrorName::AwsUnavailable, "unreadable response".to_owned()),
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown");
            let message = service.err().message().unwrap_or("");
            let name = if THROTTLING_CODES.contains(&code) {
                ErrorName::AwsThrottled
            } else if UNAVAILABLE_CODES.contains(&code) {
                ErrorName::AwsUnavailable
            } else {
                ErrorName::InvalidRequest
            };
            (name, format!("{code}: {message}"))
        }
        _ => (ErrorName::InvalidRequest, format!("{err}")),
    };
    tracing::warn!(operation, aws_request_id = %request_id, error = name.as_str(), %detail, "AWS call failed");
    StepError::new(
        name,
        format!("AWS {operation} failed: {detail} (request id {request_id})"),
    )
}
