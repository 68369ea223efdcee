//! Step 1: validate the request, then check it against Atlas and AWS (the cluster and its
//! regions, VPCs, subnets, security groups) and discover VPCs and subnets by tag. Nothing is
//! created here, so a bad request leaves nothing behind.
//!
//! The decisions are in [`cluster`] (the cluster, its regions, the regional mode) and
//! [`endpoint`] (one endpoint's VPC, subnets and groups), over the ports; this module reads
//! the input, builds the adapters in the order the checks run, and turns a missing baseline of
//! a new account into `TargetNotReady`.

mod cluster;
mod endpoint;
mod protection;

pub(crate) use cluster::needs_regional_mode;

use clock::Clock;
use serde::Deserialize;
use serde_json::Value;

use crate::context::Context;
use crate::error::{ErrorName, StepError};
use crate::ports::{HttpAtlas, SdkEc2, SdkSecrets};
use crate::request::{Endpoint, ProvisionRequest, parse_request};
use crate::state::{EndpointPlan, Plan};

/// The input of the validate step: the execution name, the request as given, and what the
/// plan is for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidateInput {
    execution: String,
    request: Value,
    #[serde(default)]
    purpose: Purpose,
    /// `$$.Execution.StartTime` (RFC 3339): how long the account has been waited for.
    #[serde(default, rename = "startedAt")]
    started_at: Option<String>,
}

/// Provisioning checks the cluster's regions; teardown must work even when the cluster is
/// gone, so it checks only the request and the AWS side.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Purpose {
    #[default]
    Provision,
    Teardown,
}

/// Validates `{execution, request, purpose?}` and produces the [`Plan`] the rest of the workflow uses.
pub async fn validate(ctx: &Context, input: Value) -> Result<Plan, StepError> {
    let input: ValidateInput = serde_json::from_value(input).map_err(|e| {
        StepError::invalid(
            "(step input)",
            format!(
                "validate takes {{\"execution\": name, \"request\": {{…}}, \"purpose\": \"provision\"|\"teardown\"}}: {e}"
            ),
        )
    })?;
    let request = parse_request(&input.request)?;
    // Before any call: a field the stack's IAM would refuse later is named now.
    ctx.settings.scope.check(&request)?;
    if input.purpose == Purpose::Provision {
        let atlas = HttpAtlas::new(ctx.atlas(&request).await?);
        cluster::check_cluster(&atlas, &request).await?;
    }
    let mut endpoints = Vec::with_capacity(request.endpoints.len());
    for (index, endpoint) in request.endpoints.iter().enumerate() {
        match plan_in_account(ctx, &request, index, endpoint).await {
            Ok(plan) => endpoints.push(plan),
            Err(e) => {
                return Err(account_not_ready(
                    ctx.clock.as_ref(),
                    &request,
                    input.started_at.as_deref(),
                    e,
                ));
            }
        }
    }
    // The database-user secret is needed only at the end (store-connection-strings); read it
    // now, so a missing secret or key fails before anything is created.
    if input.purpose == Purpose::Provision {
        super::store::database_user(ctx, &request).await?;
    }
    // Teardown of a protected request stops here, before the teardown Map removes anything.
    if input.purpose == Purpose::Teardown && !request.force {
        let (role, region) = super::store::secret_location(&request);
        let secrets = SdkSecrets::new(ctx.aws.for_region(role, region).await?.secrets);
        protection::check_deletion_protection(&secrets, &request).await?;
    }
    Ok(Plan {
        execution: input.execution,
        request_key: request.owner_key(),
        request,
        endpoints,
        validated_at: Some(rfc3339(ctx.clock.now())),
    })
}

/// `at` as RFC 3339 (UTC), the form Step Functions gives its own times in.
pub(crate) fn rfc3339(at: std::time::SystemTime) -> String {
    time::OffsetDateTime::from(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// One endpoint's plan, with EC2 in its account and region: the role is assumed here (once per
/// account and region, cached), so a role that cannot be assumed fails this endpoint.
async fn plan_in_account(
    ctx: &Context,
    request: &ProvisionRequest,
    index: usize,
    endpoint: &Endpoint,
) -> Result<EndpointPlan, StepError> {
    let clients = ctx
        .aws
        .for_region(request.aws.role_arn.as_deref(), endpoint.aws_region())
        .await?;
    let ec2 = SdkEc2::new(clients.ec2, ctx.clock.clone());
    endpoint::plan_endpoint(&ec2, request, index, endpoint).await
}

/// A missing role or tagged VPC, while the request still waits for its account
/// (`aws.waitForAccountSeconds` since the execution started), is `TargetNotReady`, which the
/// state machine retries: Control Tower reports a new account before the account's baseline
/// (the role, the VPC) exists. Anything else, or after the wait, stays as it is.
fn account_not_ready(
    clock: &dyn Clock,
    request: &ProvisionRequest,
    started_at: Option<&str>,
    e: StepError,
) -> StepError {
    let wait = std::time::Duration::from_secs(u64::from(request.aws.wait_for_account_seconds));
    // The errors of an account whose baseline is not there yet: the role cannot be assumed
    // (clients.rs), no VPC or subnet carries the tag (endpoint.rs).
    let missing = e.name == ErrorName::InvalidRequest
        && (e.message.starts_with("aws.roleArn: AWS refused")
            || (e.message.contains(".vpcTag: ")
                && (e.message.contains("no VPC in")
                    || e.message.contains("has no subnet tagged"))));
    let started = started_at.and_then(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(std::time::SystemTime::from)
    });
    let waited = started.map(|s| clock.since(s));
    match waited {
        Some(waited) if missing && waited < wait => StepError::new(
            ErrorName::TargetNotReady,
            format!(
                "{} (waited {} s of the {} s the request allows for a new account)",
                e.message,
                waited.as_secs(),
                wait.as_secs()
            ),
        ),
        _ => e,
    }
}

#[cfg(test)]
mod tests;
