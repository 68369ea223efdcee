//! The dispatcher: turns an EventBridge event into a provisioning execution.
//!
//! * `source: atlas-privatelink`, `detail-type: PrivateEndpointRequested`: the detail is the
//!   request.
//! * Control Tower `CreateManagedAccount` (`SUCCEEDED`): the request for the new account is
//!   built from the stack's settings: the role to assume there, and VPCs found by tag.
//!
//! The request is validated first; a bad event is logged and starts nothing. The execution
//! name is derived from the request, so a duplicated event starts one execution.
//!
//! Day-two events start `verify` executions of requests provisioned before ([`sweep`]):
//!
//! * the drift schedule's `{"action": "verify-all", "scheduledTime": "…"}`: every request
//!   found in the product's secrets;
//! * Secrets Manager's `RotationSucceeded` ([`rotation`]): the requests whose database-user
//!   secret was rotated.
//!
//! [`handle`] routes an event to the one that handles it; anything else gets the dispatch
//! above (and is rejected there, as before).
#![warn(missing_docs)]

pub mod busy;
pub mod rotation;
pub mod sweep;

use privatelink_core::aws::clients::AwsClients;
use privatelink_core::aws::errors::classify;
use privatelink_core::steps::execution_name;
use privatelink_core::{ErrorName, StepError, parse_request};
use serde_json::{Value, json};

pub use sweep::{DriftSettings, Summary, Trigger};

/// How long a request for a new account waits for its role and VPC (30 minutes).
pub const VENDED_ACCOUNT_WAIT_SECONDS: u32 = 1800;

/// Settings for requests built for new accounts (from the function's environment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VendingSettings {
    /// `VENDING_PROJECT_ID`.
    pub project_id: String,
    /// `VENDING_CLUSTER_NAME`.
    pub cluster_name: String,
    /// `VENDING_REGIONS`, comma-separated AWS region names.
    pub regions: Vec<String>,
    /// `VENDING_VPC_TAG_KEY` / `VENDING_VPC_TAG_VALUE`: how to find the VPC and subnets.
    pub vpc_tag: (String, String),
    /// `CROSS_ACCOUNT_ROLE_NAME`: the role to assume in the new account.
    pub role_name: String,
}

impl VendingSettings {
    /// Reads the settings from the environment (empty when unset).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).unwrap_or_default().trim().to_owned();
        Self {
            project_id: var("VENDING_PROJECT_ID"),
            cluster_name: var("VENDING_CLUSTER_NAME"),
            regions: var("VENDING_REGIONS")
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            vpc_tag: (var("VENDING_VPC_TAG_KEY"), var("VENDING_VPC_TAG_VALUE")),
            role_name: var("CROSS_ACCOUNT_ROLE_NAME"),
        }
    }

    /// The provisioning request for a new account. The role's ARN uses the partition of the
    /// account's regions (`aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`).
    pub fn request_for(&self, account_id: &str) -> Value {
        let partition = partition_of(self.regions.first().map(String::as_str).unwrap_or(""));
        json!({
            "atlas": {"projectId": self.project_id, "clusterName": self.cluster_name},
            "aws": {
                "accountId": account_id,
                "roleArn": format!("arn:{partition}:iam::{account_id}:role/{}", self.role_name),
                // Control Tower reports the account before its baseline (the role, the
                // tagged VPC) exists: validation waits for them.
                "waitForAccountSeconds": VENDED_ACCOUNT_WAIT_SECONDS
            },
            "endpoints": self.regions.iter().map(|region| json!({
                "region": region,
                "vpcTag": {"key": self.vpc_tag.0, "value": self.vpc_tag.1}
            })).collect::<Vec<_>>(),
            "tags": {"provisioned-for": "account-vending"}
        })
    }
}

/// The ARN partition of an AWS region.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The request an event asks for, or why it asks for none.
pub fn request_from_event(event: &Value, vending: &VendingSettings) -> Result<Value, StepError> {
    let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
    match (text("/source"), text("/detail-type")) {
        (Some("atlas-privatelink"), Some("PrivateEndpointRequested")) => event
            .get("detail")
            .filter(|d| d.is_object())
            .cloned()
            .ok_or_else(|| StepError::invalid("detail", "the event carries no request object")),
        (Some("aws.controltower"), Some("AWS Service Event via CloudTrail")) => {
            if text("/detail/eventName") != Some("CreateManagedAccount") {
                return Err(StepError::invalid(
                    "detail.eventName",
                    "only CreateManagedAccount events start a provisioning",
                ));
            }
            let status = "/detail/serviceEventDetails/createManagedAccountStatus";
            if text(&format!("{status}/state")) != Some("SUCCEEDED") {
                return Err(StepError::invalid(
                    "detail.serviceEventDetails.createManagedAccountStatus.state",
                    "the account was not created successfully",
                ));
            }
            let account = text(&format!("{status}/account/accountId")).ok_or_else(|| {
                StepError::invalid(
                    "detail.serviceEventDetails.createManagedAccountStatus.account.accountId",
                    "is required",
                )
            })?;
            Ok(vending.request_for(account))
        }
        (source, kind) => Err(StepError::invalid(
            "source",
            format!(
                "not an event this function handles (source {:?}, detail-type {:?})",
                source.unwrap_or(""),
                kind.unwrap_or("")
            ),
        )),
    }
}

/// What the dispatcher did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The execution's ARN.
    pub execution_arn: String,
    /// Its name: derived from the request, with `-2`, `-3`, … for later attempts.
    pub name: String,
    /// The request already had an execution running, so nothing new was started.
    pub duplicate: bool,
}

/// At most this many executions of one request (Step Functions keeps a closed execution's
/// name for 90 days, so each re-trigger within that time takes the next suffix).
pub const MAX_ATTEMPTS: u32 = 50;

/// The execution name of the `attempt`-th execution of a request (1: no suffix). At most 80
/// characters, as Step Functions allows.
pub fn attempt_name(base: &str, attempt: u32) -> String {
    if attempt <= 1 {
        return base.chars().take(80).collect();
    }
    let suffix = format!("-{attempt}");
    let head: String = base.chars().take(80 - suffix.len()).collect();
    format!("{head}{suffix}")
}

/// The ARN of execution `name` of `state_machine_arn`
/// (`…:stateMachine:M` → `…:execution:M:name`).
pub(crate) fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// Validates `request` and starts the provisioning execution for it.
///
/// The name is derived from the request, so a duplicated event finds the execution already
/// running (same name and input: Step Functions answers with it) and starts nothing. Step
/// Functions keeps a closed execution's name for 90 days (`ExecutionAlreadyExists`, Step
/// Functions API reference, StartExecution), so an event for a request whose last execution
/// has ended (failed, aborted, torn down since) starts the next attempt, `<name>-2`, `-3`, …
pub async fn start(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    request: &Value,
) -> Result<Started, StepError> {
    parse_request(request)?;
    let base = execution_name("provision", request);
    for attempt in 1..=MAX_ATTEMPTS {
        let name = attempt_name(&base, attempt);
        let arn = execution_arn(state_machine_arn, &name);
        match describe_status(sfn, &arn, &name).await? {
            Some(status) if status == "RUNNING" => {
                return Ok(Started {
                    execution_arn: arn,
                    name,
                    duplicate: true,
                });
            }
            Some(status) => {
                tracing::info!(name = %name, status = %status, "the request's last execution has ended; trying the next attempt");
                continue;
            }
            None => {}
        }
        let started = sfn
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(&name)
            .input(request.to_string())
            .send()
            .await;
        match started {
            Ok(out) => {
                return Ok(Started {
                    execution_arn: out.execution_arn().to_owned(),
                    name,
                    duplicate: false,
                });
            }
            // A duplicate event handled at the same moment started it: it runs.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_already_exists()) =>
            {
                return Ok(Started {
                    execution_arn: arn,
                    name,
                    duplicate: true,
                });
            }
            Err(e) => return Err(classify(&format!("StartExecution {name}"), e)),
        }
    }
    Err(StepError::invalid(
        "request",
        format!(
            "{MAX_ATTEMPTS} executions of this request exist already (Step Functions keeps \
             their names for 90 days)"
        ),
    ))
}

/// The status of an execution (`RUNNING`, `SUCCEEDED`, …), or `None` when there is none.
pub(crate) async fn describe_status(
    sfn: &aws_sdk_sfn::Client,
    execution_arn: &str,
    name: &str,
) -> Result<Option<String>, StepError> {
    match sfn
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await
    {
        Ok(out) => Ok(Some(out.status().as_str().to_owned())),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_execution_does_not_exist()) =>
        {
            Ok(None)
        }
        Err(e) => Err(classify(&format!("DescribeExecution {name}"), e)),
    }
}

/// Handles one event: the execution started, or `None` when the event was rejected (logged).
pub async fn dispatch(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    vending: &VendingSettings,
    event: &Value,
) -> Result<Option<Started>, StepError> {
    let request = match request_from_event(event, vending) {
        Ok(request) => request,
        Err(e) => {
            tracing::error!(error = e.name.as_str(), cause = %e.message, "event rejected, nothing started");
            return Ok(None);
        }
    };
    match start(sfn, state_machine_arn, &request).await {
        Ok(started) if started.duplicate => {
            tracing::info!(execution_arn = %started.execution_arn, name = %started.name, "the request's execution is running already; nothing started");
            Ok(Some(started))
        }
        Ok(started) => {
            tracing::info!(execution_arn = %started.execution_arn, name = %started.name, "provisioning started");
            Ok(Some(started))
        }
        Err(e) if e.name == ErrorName::InvalidRequest => {
            tracing::error!(error = e.name.as_str(), cause = %e.message, "request rejected, nothing started");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Handles one event and says what was done (the Lambda function's answer).
///
/// * A day-two event ([`Trigger::from_event`]) runs a [`sweep::sweep`] in the locations of
///   `drift` (its error, if the settings are bad) and answers with its [`Summary`]
///   (`{"verifyStarted", "alreadyStarted", "skipped", "notAffected", "failed"}`); a day-two
///   event that cannot be acted on (a schedule payload without `scheduledTime`, a rotation
///   naming no secret) is logged and answered `{"started": false}`.
/// * Any other event is [`dispatch`]ed: `{"started": true, "executionArn", "name"}`, or
///   `{"started": false}` for an event rejected (logged).
pub async fn handle(
    sfn: &aws_sdk_sfn::Client,
    aws: &AwsClients,
    state_machine_arn: &str,
    vending: &VendingSettings,
    drift: &Result<DriftSettings, StepError>,
    event: &Value,
) -> Result<Value, StepError> {
    match Trigger::from_event(event) {
        Some(Ok(trigger)) => {
            let settings = drift.as_ref().map_err(Clone::clone)?;
            sweep::sweep(aws, sfn, state_machine_arn, settings, &trigger)
                .await
                .map(|summary| summary.to_json())
        }
        Some(Err(e)) => {
            tracing::error!(error = e.name.as_str(), cause = %e.message, "day-two event rejected, nothing started");
            Ok(json!({"started": false}))
        }
        None => Ok(
            match dispatch(sfn, state_machine_arn, vending, event).await? {
                Some(started) => {
                    json!({"started": true, "executionArn": started.execution_arn, "name": started.name})
                }
                None => json!({"started": false}),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_use_the_partition_of_the_region() {
        assert_eq!(partition_of("us-east-1"), "aws");
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        let vending = VendingSettings {
            project_id: "5f0c0c0c0c0c0c0c0c0c0c0c".into(),
            cluster_name: "Cluster0".into(),
            regions: vec!["us-gov-west-1".into()],
            vpc_tag: ("Name".into(), "workloads".into()),
            role_name: "atlas-privatelink-target".into(),
        };
        let request = vending.request_for("123456789012");
        assert_eq!(
            request["aws"]["roleArn"],
            "arn:aws-us-gov:iam::123456789012:role/atlas-privatelink-target"
        );
        assert_eq!(
            request["aws"]["waitForAccountSeconds"],
            VENDED_ACCOUNT_WAIT_SECONDS
        );
    }

    #[test]
    fn attempt_names_stay_within_80_characters() {
        let base = "p".repeat(80);
        assert_eq!(attempt_name(&base, 1), base);
        let second = attempt_name(&base, 2);
        assert_eq!(second.len(), 80);
        assert!(second.ends_with("-2"));
        assert!(attempt_name("provision-x", 12).ends_with("-12"));
    }
}
