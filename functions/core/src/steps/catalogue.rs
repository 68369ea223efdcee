//! The step catalogue: every step of the workflow, once. A [`Step`] knows its name (the Lambda
//! function's `ATLAS_PRIVATELINK_FUNCTION`, the runner's stand-in ARN), what it reads, the names
//! the template and the state machines give its function, the settings its function needs, and
//! how to run it. The Lambda entry point, the local runner, the CLI's function table and the
//! infra checks all read this file, so adding a step touches it, the ASL and the template
//! (docs/CONTRIBUTING.md, "How to add a step").

use std::pin::Pin;
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::context::Context;
use crate::error::{ErrorName, StepError};
use crate::state::EndpointWork;

use super::{
    configure_security_groups, create_vpc_endpoint, ensure_endpoint_service, get_service_name,
    inspect, link_endpoint, rollback, store_connection_strings, teardown_endpoint, teardown_secret,
    validate, verify_endpoint,
};

/// Defines [`Step`], [`Step::ALL`] and [`Step::name`] from one list, so a step added to the
/// enum cannot be missing from `ALL` or lack a name.
macro_rules! catalogue {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// One step of the workflow, run by its own Lambda function (with its own role).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Step {
            $($(#[$doc])* $variant,)*
        }

        impl Step {
            /// Every step, in workflow order.
            pub const ALL: [Step; [$(Step::$variant),*].len()] = [$(Step::$variant),*];

            /// The step's name: `link-endpoint`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Step::$variant => $name,)*
                }
            }
        }
    };
}

catalogue! {
    /// Reads the request, checks it against Atlas and AWS, and plans the endpoints.
    Validate => "validate",
    /// Reads every piece of the plan and writes nothing: what a provisioning would create,
    /// adopt or change, the secret's changed keys, and the pre-checks (plan, drift).
    Inspect => "inspect",
    /// Creates or adopts the region's Atlas endpoint service.
    EnsureEndpointService => "ensure-endpoint-service",
    /// Waits for the endpoint service's AWS service name.
    GetServiceName => "get-service-name",
    /// Creates or adopts the endpoint's security group and its ingress rules.
    ConfigureSecurityGroups => "configure-security-groups",
    /// Creates or adopts the VPC interface endpoint.
    CreateVpcEndpoint => "create-vpc-endpoint",
    /// Registers the VPC endpoint with Atlas and waits for Atlas to accept it.
    LinkEndpoint => "link-endpoint",
    /// Checks that the link works and waits for the cluster to publish its private strings.
    VerifyEndpoint => "verify-endpoint",
    /// Writes the private connection strings to the request's secret.
    StoreConnectionStrings => "store-connection-strings",
    /// Removes what a failed execution created.
    Rollback => "rollback",
    /// Removes one endpoint of a request (teardown).
    TeardownEndpoint => "teardown-endpoint",
    /// Removes the request's secret (teardown).
    TeardownSecret => "teardown-secret",
}

/// What a step reads from the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The request as the user sent it (`{"execution", "request"}`).
    Request,
    /// One endpoint of the plan (a Map iteration's [`EndpointWork`]).
    Endpoint,
    /// The whole execution state ([`ExecutionState`](crate::state::ExecutionState)).
    Execution,
    /// The whole validate output ([`Plan`](crate::state::Plan)).
    Plan,
}

/// What a step's Lambda function needs besides the shared defaults (template `Globals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionSettings {
    /// The function timeout in seconds (the template's `Globals` are 120 s).
    pub timeout_seconds: u32,
    /// The environment variables the template sets on the function, besides
    /// `ATLAS_PRIVATELINK_FUNCTION` (which every function has) and the globals.
    pub environment: &'static [&'static str],
    /// The AWS actions its role allows, besides writing its own logs: the calls the step makes
    /// (`aws/`, through the ports). The infra tests hold the template's role to exactly these,
    /// so a widened policy never passes unnoticed, and the IAM evaluation test checks that
    /// every call a run records is allowed.
    pub role_actions: &'static [&'static str],
}

/// The environment every step function has: where the Atlas credentials are, and how long a
/// secret deleted by a rollback stays recoverable.
const BASE_ENVIRONMENT: &[&str] = &["ATLAS_CREDENTIALS_SECRET_ARN", "SECRET_RECOVERY_DAYS"];

/// The template's default timeout (`Globals`): room for bounded Atlas retries on 429.
const DEFAULT_TIMEOUT: u32 = 120;

/// The timeout of the steps that poll (POLL_BUDGET_SECONDS of 300 plus a last call).
const POLLING_TIMEOUT: u32 = 420;

impl Step {
    /// The steps of one provisioning Map iteration (one endpoint), in order.
    pub const ENDPOINT: [Step; 6] = [
        Step::EnsureEndpointService,
        Step::GetServiceName,
        Step::ConfigureSecurityGroups,
        Step::CreateVpcEndpoint,
        Step::LinkEndpoint,
        Step::VerifyEndpoint,
    ];

    /// The step called `name`, if there is one.
    pub fn from_name(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|step| step.name() == name)
    }

    /// The stem of the template's names for this step: `LinkEndpoint` gives the resources
    /// `LinkEndpointFunction`, `LinkEndpointRole`, `LinkEndpointLogGroup` and the ASL
    /// placeholder `${LinkEndpointFunctionArn}`.
    pub fn resource_stem(self) -> String {
        self.name()
            .split('-')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            })
            .collect()
    }

    /// The template's logical id of the step's function's role: `LinkEndpointRole`.
    pub fn role_logical_id(self) -> String {
        format!("{}Role", self.resource_stem())
    }

    /// The template's logical id of the step's function: `LinkEndpointFunction`.
    pub fn function_logical_id(self) -> String {
        format!("{}Function", self.resource_stem())
    }

    /// The state machines' substitution variable for the function's ARN:
    /// `LinkEndpointFunctionArn` (written `${LinkEndpointFunctionArn}` in the ASL).
    pub fn asl_placeholder(self) -> String {
        format!("{}FunctionArn", self.resource_stem())
    }

    /// What the step reads.
    pub const fn input(self) -> Input {
        match self {
            Step::Validate => Input::Request,
            Step::Inspect => Input::Plan,
            Step::EnsureEndpointService
            | Step::GetServiceName
            | Step::ConfigureSecurityGroups
            | Step::CreateVpcEndpoint
            | Step::LinkEndpoint
            | Step::VerifyEndpoint
            | Step::TeardownEndpoint => Input::Endpoint,
            Step::StoreConnectionStrings | Step::Rollback | Step::TeardownSecret => {
                Input::Execution
            }
        }
    }

    /// What the step's function needs in the template (checked by the infra tests).
    pub const fn settings(self) -> FunctionSettings {
        let (timeout_seconds, environment): (u32, &'static [&'static str]) = match self {
            // The IAM scope of the stack, so validate refuses what IAM would refuse later.
            Step::Validate => (
                DEFAULT_TIMEOUT,
                &[
                    "ATLAS_CREDENTIALS_SECRET_ARN",
                    "SECRET_RECOVERY_DAYS",
                    "SECRET_NAME_PREFIX",
                    "CROSS_ACCOUNT_ROLE_NAME",
                    "KMS_KEY_ARN",
                ],
            ),
            Step::EnsureEndpointService => (
                DEFAULT_TIMEOUT,
                &[
                    "ATLAS_CREDENTIALS_SECRET_ARN",
                    "SECRET_RECOVERY_DAYS",
                    "CLAIMS_TABLE",
                    "SERVICE_MIN_SECONDS",
                ],
            ),
            // The claims table: the lease on a service's remote regions and their users.
            Step::GetServiceName => (
                POLLING_TIMEOUT,
                &[
                    "ATLAS_CREDENTIALS_SECRET_ARN",
                    "SECRET_RECOVERY_DAYS",
                    "CLAIMS_TABLE",
                    "POLL_BUDGET_SECONDS",
                    "ATLAS_POLL_SECONDS",
                    "ATLAS_POLL_MAX_SECONDS",
                ],
            ),
            // The claims table keeps the shared Atlas reads (ports::shared_reads).
            Step::StoreConnectionStrings => (
                POLLING_TIMEOUT,
                &[
                    "ATLAS_CREDENTIALS_SECRET_ARN",
                    "SECRET_RECOVERY_DAYS",
                    "CLAIMS_TABLE",
                    "POLL_BUDGET_SECONDS",
                    "ATLAS_POLL_SECONDS",
                    "ATLAS_POLL_MAX_SECONDS",
                ],
            ),
            Step::LinkEndpoint => (
                POLLING_TIMEOUT,
                &[
                    "ATLAS_CREDENTIALS_SECRET_ARN",
                    "SECRET_RECOVERY_DAYS",
                    "INTERFACE_MIN_SECONDS",
                    "POLL_BUDGET_SECONDS",
                    "EC2_POLL_SECONDS",
                ],
            ),
            Step::VerifyEndpoint => (
                POLLING_TIMEOUT,
                &[
                    "ATLAS_CREDENTIALS_SECRET_ARN",
                    "SECRET_RECOVERY_DAYS",
                    "POLL_BUDGET_SECONDS",
                    "ATLAS_POLL_SECONDS",
                    "ATLAS_POLL_MAX_SECONDS",
                    "EC2_POLL_SECONDS",
                    "ATLAS_SLOW_POLL_SECONDS",
                    "CLUSTER_UPDATE_MIN_SECONDS",
                ],
            ),
            Step::Rollback | Step::TeardownEndpoint => (
                DEFAULT_TIMEOUT,
                &[
                    "ATLAS_CREDENTIALS_SECRET_ARN",
                    "SECRET_RECOVERY_DAYS",
                    "CLAIMS_TABLE",
                ],
            ),
            Step::ConfigureSecurityGroups | Step::CreateVpcEndpoint | Step::TeardownSecret => {
                (DEFAULT_TIMEOUT, BASE_ENVIRONMENT)
            }
            // The VPC's interface endpoint quota its check compares with; the claims table
            // keeps the shared Atlas reads.
            Step::Inspect => (
                DEFAULT_TIMEOUT,
                &[
                    "ATLAS_CREDENTIALS_SECRET_ARN",
                    "SECRET_RECOVERY_DAYS",
                    "CLAIMS_TABLE",
                    "INTERFACE_ENDPOINT_QUOTA",
                ],
            ),
        };
        FunctionSettings {
            timeout_seconds,
            environment,
            role_actions: self.role_actions(),
        }
    }

    /// See [`FunctionSettings::role_actions`]. `sts:AssumeRole` for steps that work in a
    /// target account; the Atlas credentials secret (and its KMS key) for steps that call Atlas.
    const fn role_actions(self) -> &'static [&'static str] {
        match self {
            // DescribeSecret: a teardown reads the secret's protect tag first.
            Step::Validate => &[
                "secretsmanager:GetSecretValue",
                "secretsmanager:DescribeSecret",
                "kms:Decrypt",
                "ec2:DescribeVpcs",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "sts:AssumeRole",
            ],
            // Read only: the Atlas credentials, the database user and the secret's value;
            // the group and its rules, the VPC's endpoints, the service's zones, the subnets'.
            Step::Inspect => &[
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
                "secretsmanager:DescribeSecret",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeVpcEndpoints",
                "ec2:DescribeVpcEndpointServices",
                "ec2:DescribeSubnets",
                "sts:AssumeRole",
                // The shared cluster read (atlas-read# items only).
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
            ],
            Step::EnsureEndpointService => &[
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ],
            // Cross-region endpoints: the lease on a service's remote regions and their users.
            Step::GetServiceName => &[
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            ],
            Step::ConfigureSecurityGroups => &[
                "ec2:DescribeSecurityGroups",
                "ec2:CreateSecurityGroup",
                "ec2:CreateTags",
                "ec2:AuthorizeSecurityGroupIngress",
                "sts:AssumeRole",
            ],
            Step::CreateVpcEndpoint => &[
                "ec2:DescribeVpcEndpoints",
                "ec2:DescribeVpcEndpointServices",
                "ec2:DescribeSubnets",
                "ec2:CreateVpcEndpoint",
                "ec2:CreateTags",
                "vpce:AllowMultiRegion",
                // A verify attaches our group again to our endpoint when it was detached.
                "ec2:ModifyVpcEndpoint",
                "sts:AssumeRole",
            ],
            Step::LinkEndpoint | Step::VerifyEndpoint => &[
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
                "ec2:DescribeVpcEndpoints",
                "sts:AssumeRole",
            ],
            Step::StoreConnectionStrings => &[
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
                "secretsmanager:DescribeSecret",
                "secretsmanager:CreateSecret",
                "secretsmanager:PutSecretValue",
                "secretsmanager:RestoreSecret",
                "secretsmanager:TagResource",
                "kms:GenerateDataKey",
                "sts:AssumeRole",
                // The shared cluster polls (atlas-read# items only).
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
            ],
            Step::Rollback => &[
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
                "ec2:DescribeVpcEndpoints",
                "ec2:DescribeSecurityGroups",
                "ec2:DeleteVpcEndpoints",
                "ec2:DeleteSecurityGroup",
                "secretsmanager:DescribeSecret",
                "secretsmanager:DeleteSecret",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "sts:AssumeRole",
            ],
            Step::TeardownEndpoint => &[
                "secretsmanager:GetSecretValue",
                "kms:Decrypt",
                "ec2:DescribeVpcEndpoints",
                "ec2:DescribeSecurityGroups",
                "ec2:DeleteVpcEndpoints",
                "ec2:DeleteSecurityGroup",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "sts:AssumeRole",
            ],
            Step::TeardownSecret => &[
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
                "sts:AssumeRole",
            ],
        }
    }

    /// Runs the step on `input` and returns its JSON output. The Lambda entry point and the
    /// local runner both call this, so what runs locally is what runs in AWS.
    pub async fn run(self, ctx: &Context, input: Value) -> Result<Value, StepError> {
        let started = Instant::now();
        let execution = input
            .get("execution")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        // Each arm is boxed: one future type for all steps keeps the state machine of this
        // function (and of the Lambda binary around it) small.
        let step: StepFuture<'_> = match self {
            Step::Validate => Box::pin(async move { to_json(validate(ctx, input).await) }),
            Step::Inspect => Box::pin(async move {
                let plan = parse(input)?;
                to_json(inspect(ctx, plan).await)
            }),
            Step::EnsureEndpointService => on_work(input, move |w| ensure_endpoint_service(ctx, w)),
            Step::GetServiceName => on_work(input, move |w| get_service_name(ctx, w)),
            Step::ConfigureSecurityGroups => {
                on_work(input, move |w| configure_security_groups(ctx, w))
            }
            Step::CreateVpcEndpoint => on_work(input, move |w| create_vpc_endpoint(ctx, w)),
            Step::LinkEndpoint => on_work(input, move |w| link_endpoint(ctx, w)),
            Step::VerifyEndpoint => on_work(input, move |w| verify_endpoint(ctx, w)),
            Step::TeardownEndpoint => on_work(input, move |w| teardown_endpoint(ctx, w)),
            Step::StoreConnectionStrings => Box::pin(async move {
                let state = parse(input)?;
                to_json(store_connection_strings(ctx, &state).await)
            }),
            Step::Rollback => Box::pin(async move {
                let state = parse(input)?;
                to_json(rollback(ctx, &state).await)
            }),
            Step::TeardownSecret => Box::pin(async move {
                let state = parse(input)?;
                to_json(teardown_secret(ctx, &state).await)
            }),
        };
        let result = step.await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let name = self.name();
        match &result {
            Ok(_) => tracing::info!(step = name, execution, elapsed_ms, "step done"),
            Err(e) => {
                tracing::warn!(step = name, execution, elapsed_ms, error = e.name.as_str(), cause = %e.message, "step failed")
            }
        }
        result
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Step {
    type Err = StepError;

    fn from_str(name: &str) -> Result<Step, StepError> {
        Step::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
            StepError::invalid(
                "step",
                format!("unknown step {name:?}; known: {}", known.join(", ")),
            )
        })
    }
}

/// Runs the step called `name` (see [`Step::run`]); an unknown name is `InvalidRequest`.
pub async fn run_step(ctx: &Context, name: &str, input: Value) -> Result<Value, StepError> {
    name.parse::<Step>()?.run(ctx, input).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for step in Step::ALL {
            assert_eq!(Step::from_name(step.name()), Some(step));
            assert_eq!(step.to_string().parse::<Step>().ok(), Some(step));
        }
        let mut names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Step::ALL.len());
        let unknown = "make-coffee".parse::<Step>().expect_err("not a step");
        assert_eq!(unknown.name, ErrorName::InvalidRequest);
        assert!(
            unknown.message.contains("link-endpoint"),
            "{}",
            unknown.message
        );
    }

    #[test]
    fn template_names_come_from_the_step_name() {
        assert_eq!(
            Step::LinkEndpoint.function_logical_id(),
            "LinkEndpointFunction"
        );
        assert_eq!(
            Step::StoreConnectionStrings.asl_placeholder(),
            "StoreConnectionStringsFunctionArn"
        );
    }

    #[test]
    fn every_step_function_knows_where_the_atlas_credentials_are() {
        for step in Step::ALL {
            let settings = step.settings();
            for base in BASE_ENVIRONMENT {
                assert!(settings.environment.contains(base), "{step}: {base}");
            }
            // The polling steps get the longer timeout; the others the default.
            let polls = settings.environment.contains(&"POLL_BUDGET_SECONDS");
            assert_eq!(polls, settings.timeout_seconds == POLLING_TIMEOUT, "{step}");
        }
    }

    #[test]
    fn endpoint_steps_read_one_endpoint() {
        for step in Step::ENDPOINT {
            assert_eq!(step.input(), Input::Endpoint, "{step}");
        }
    }
}
