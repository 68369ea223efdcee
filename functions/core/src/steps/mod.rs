//! The workflow steps. Each takes the execution state it needs and returns what it found or
//! made; each is idempotent (re-running it after a crash at any point creates nothing twice).
//!
//! [`run_step`] dispatches by step name: the Lambda binaries and the local runner both call it,
//! so what runs locally is what runs in AWS.

mod link;
pub mod poll;
mod rollback;
mod security_groups;
mod service;
mod store;
mod teardown;
mod validate;
mod vpc_endpoint;

use std::pin::Pin;
use std::time::Instant;

use atlas_api::AtlasError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::context::Context;
use crate::error::{ErrorName, StepError};
use crate::state::{EndpointPlan, EndpointWork};

pub use link::{link_endpoint, verify_endpoint};
pub use rollback::rollback;
pub use security_groups::configure_security_groups;
pub use service::{ensure_endpoint_service, get_service_name};
pub use store::{secret_content, store_connection_strings};
pub use teardown::{teardown_endpoint, teardown_secret};
pub use validate::validate;
pub use vpc_endpoint::create_vpc_endpoint;

/// The steps of one Map iteration (one endpoint), in order.
pub const ENDPOINT_STEPS: [&str; 6] = [
    "ensure-endpoint-service",
    "get-service-name",
    "configure-security-groups",
    "create-vpc-endpoint",
    "link-endpoint",
    "verify-endpoint",
];

/// Every step name, as the Lambda functions and the state machines know them.
pub const STEP_NAMES: [&str; 11] = [
    "validate",
    "ensure-endpoint-service",
    "get-service-name",
    "configure-security-groups",
    "create-vpc-endpoint",
    "link-endpoint",
    "verify-endpoint",
    "store-connection-strings",
    "rollback",
    "teardown-endpoint",
    "teardown-secret",
];

/// Runs the step called `name` on `input` and returns its JSON output.
pub async fn run_step(ctx: &Context, name: &str, input: Value) -> Result<Value, StepError> {
    let started = Instant::now();
    let execution = input
        .get("execution")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    // Each arm is boxed: one future type for all steps keeps the state machine of this
    // function (and of every Lambda binary around it) small.
    let step: StepFuture<'_> = match name {
        "validate" => Box::pin(async move { to_json(validate(ctx, input).await) }),
        "ensure-endpoint-service" => on_work(input, move |w| ensure_endpoint_service(ctx, w)),
        "get-service-name" => on_work(input, move |w| get_service_name(ctx, w)),
        "configure-security-groups" => on_work(input, move |w| configure_security_groups(ctx, w)),
        "create-vpc-endpoint" => on_work(input, move |w| create_vpc_endpoint(ctx, w)),
        "link-endpoint" => on_work(input, move |w| link_endpoint(ctx, w)),
        "verify-endpoint" => on_work(input, move |w| verify_endpoint(ctx, w)),
        "teardown-endpoint" => on_work(input, move |w| teardown_endpoint(ctx, w)),
        "store-connection-strings" => Box::pin(async move {
            let state = parse(input)?;
            to_json(store_connection_strings(ctx, &state).await)
        }),
        "rollback" => Box::pin(async move {
            let state = parse(input)?;
            to_json(rollback(ctx, &state).await)
        }),
        "teardown-secret" => Box::pin(async move {
            let state = parse(input)?;
            to_json(teardown_secret(ctx, &state).await)
        }),
        other => {
            let message = format!("unknown step {other:?}; known: {}", STEP_NAMES.join(", "));
            Box::pin(async move { Err(StepError::invalid("step", message)) })
        }
    };
    let result = step.await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(_) => tracing::info!(step = name, execution, elapsed_ms, "step done"),
        Err(e) => {
            tracing::warn!(step = name, execution, elapsed_ms, error = e.name.as_str(), cause = %e.message, "step failed")
        }
    }
    result
}

type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, StepError>> + Send + 'a>>;

fn on_work<'a, T, F, Fut>(input: Value, step: F) -> StepFuture<'a>
where
    T: Serialize,
    F: FnOnce(EndpointWork) -> Fut + Send + 'a,
    Fut: Future<Output = Result<T, StepError>> + Send + 'a,
{
    Box::pin(async move {
        let work: EndpointWork = parse(input)?;
        to_json(step(work).await)
    })
}

fn parse<T: DeserializeOwned>(input: Value) -> Result<T, StepError> {
    serde_json::from_value(input).map_err(|e| {
        StepError::invalid(
            "(step input)",
            format!("the state machine passed an input this step cannot read: {e}"),
        )
    })
}

fn to_json<T: Serialize>(result: Result<T, StepError>) -> Result<Value, StepError> {
    result.and_then(|out| {
        serde_json::to_value(out)
            .map_err(|e| StepError::new(ErrorName::InvalidRequest, format!("step output: {e}")))
    })
}

/// An Atlas client error as a step error with the same name.
pub(crate) fn atlas_error(e: AtlasError) -> StepError {
    StepError::new(ErrorName::from(&e), e.to_string())
}

/// The idempotency key of one endpoint of a request: the same project, cluster, region and VPC
/// always give the same key, whatever the execution.
pub fn request_key(project_id: &str, cluster_name: &str, region: &str, vpc_id: &str) -> String {
    let digest =
        Sha256::digest(format!("{project_id}|{cluster_name}|{region}|{vpc_id}").as_bytes());
    hex::encode(&digest[..10])
}

/// Tags for what the workflow creates in AWS: the request's tags plus ours.
pub(crate) fn resource_tags(work: &EndpointWork, name: &str) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = work
        .request
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !tags.iter().any(|(k, _)| k == "Name") {
        tags.push(("Name".into(), name.into()));
    }
    tags.extend(own_tags(work));
    tags
}

fn own_tags(work: &EndpointWork) -> Vec<(String, String)> {
    vec![
        (
            crate::aws::ec2::TAG_REQUEST_KEY.into(),
            work.endpoint.request_key.clone(),
        ),
        (
            crate::aws::ec2::TAG_CREATED_BY.into(),
            work.execution.clone(),
        ),
        (
            "atlas-privatelink:project".into(),
            work.request.atlas.project_id.to_string(),
        ),
        (
            "atlas-privatelink:cluster".into(),
            work.request.atlas.cluster_name.to_string(),
        ),
    ]
}

/// The per-endpoint plan of a work item (shorthand).
pub(crate) fn plan(work: &EndpointWork) -> &EndpointPlan {
    &work.endpoint
}

/// Clients in the endpoint's account and region.
pub(crate) async fn region_clients(
    ctx: &Context,
    work: &EndpointWork,
) -> Result<crate::aws::clients::RegionClients, StepError> {
    ctx.aws
        .for_region(work.request.aws.role_arn.as_deref(), &work.endpoint.region)
        .await
}

/// The client token of the VPC endpoint of one endpoint of one execution. Unique per
/// execution: AWS remembers a token (and its parameters) long after the endpoint is gone, so a
/// later execution for the same VPC (after a teardown or a rollback) must not reuse it, or it
/// gets `IdempotentParameterMismatch` or the old, deleted endpoint back (EC2 API reference,
/// "Ensuring idempotency"). A retry within the execution reuses it, which is the point.
pub fn vpc_endpoint_client_token(execution: &str, request_key: &str, attempt: u32) -> String {
    let digest = Sha256::digest(format!("{execution}|{request_key}|{attempt}").as_bytes());
    // At most 64 ASCII characters.
    format!("atlas-privatelink-{}", hex::encode(&digest[..20]))
}

/// A required output of an earlier step, or an error naming it.
pub(crate) fn needs<'a, T>(value: &'a Option<T>, what: &str) -> Result<&'a T, StepError> {
    value.as_ref().ok_or_else(|| {
        StepError::invalid(
            "(step input)",
            format!("this step needs `{what}` from an earlier step; check the state machine"),
        )
    })
}

/// A deterministic Step Functions execution name for `action` (`provision`, `teardown`) on a
/// request: the same request always gets the same name, so a duplicated event starts one
/// execution. At most 80 characters of `[A-Za-z0-9-_]`, readable at a glance.
pub fn execution_name(action: &str, request: &Value) -> String {
    let text = |pointer: &str| {
        request
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect::<String>()
    };
    // serde_json writes object keys sorted, so equal requests hash equally.
    let digest = Sha256::digest(request.to_string().as_bytes());
    let project: String = text("/atlas/projectId").chars().take(8).collect();
    let cluster: String = text("/atlas/clusterName").chars().take(32).collect();
    let mut name = format!("{action}-{project}-{cluster}-{}", hex::encode(&digest[..8]));
    name.truncate(80);
    name
}
