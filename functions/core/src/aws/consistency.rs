//! EC2 is eventually consistent: for a while after a resource is created, other calls that
//! name it may answer "not found" (EC2 API reference, "Eventual consistency in the Amazon EC2
//! API", which recommends retrying with exponential back-off). The workflow names its own
//! new security groups and VPC endpoints right after creating them, so those calls go through
//! [`until_visible`].

use std::time::Duration;

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use clock::Clock;

use super::errors::error_code;
use crate::error::StepError;

/// How long a new id may stay invisible before "not found" is believed. AWS gives no bound;
/// its guidance is back-off for up to a few minutes, and ids of ours show up within seconds.
pub const VISIBILITY_BUDGET: Duration = Duration::from_secs(60);

/// The "not found" codes EC2 answers for ids it does not see (yet).
pub const NOT_FOUND_CODES: &[&str] = &[
    "InvalidGroup.NotFound",
    "InvalidGroupId.NotFound",
    "InvalidVpcEndpointId.NotFound",
    "InvalidVpcEndpoint.NotFound",
];

/// Whether `code` is one of [`NOT_FOUND_CODES`].
pub fn is_not_found(code: &str) -> bool {
    NOT_FOUND_CODES.contains(&code)
}

/// Runs `call`, retrying a "not found" answer with exponential back-off (0.5 s doubling to
/// 8 s) on `clock` for up to [`VISIBILITY_BUDGET`]; then the last answer stands.
pub async fn until_visible<T, E, F, Fut>(
    clock: &dyn Clock,
    what: &str,
    mut call: F,
) -> Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let started = clock.now();
    let mut wait = Duration::from_millis(500);
    loop {
        let result = call().await;
        let code = match &result {
            Err(e) => error_code(e).filter(|c| is_not_found(c)).map(str::to_owned),
            Ok(_) => None,
        };
        match code {
            Some(code) if clock.since(started) + wait <= VISIBILITY_BUDGET => {
                tracing::info!(
                    what,
                    code,
                    wait_ms = wait.as_millis() as u64,
                    "not visible yet; retrying (EC2 is eventually consistent)"
                );
                clock.sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(8));
            }
            _ => return result,
        }
    }
}

/// A list that EC2 may not show a new resource in yet: `fetch` again (1 s doubling to 8 s) while
/// `missing` says the resource is not there and the visibility budget lasts; then the last
/// answer stands. Used where something may have been made moments ago by a step whose output
/// was lost, so an empty list is believed only after the budget.
pub async fn list_until_shown<T, F, Fut>(
    clock: &dyn Clock,
    missing: impl Fn(&T) -> bool,
    mut fetch: F,
) -> Result<T, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StepError>>,
{
    let started = clock.now();
    let mut wait = Duration::from_secs(1);
    let mut listed = fetch().await?;
    while missing(&listed) && clock.since(started) + wait <= VISIBILITY_BUDGET {
        clock.sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(8));
        listed = fetch().await?;
    }
    Ok(listed)
}
