//! The target accounts of a row, as account vending makes them: one VPC per account, reached
//! through [`ROLE_NAME`]; the clients the workflow uses in them, and what a run left there.

use std::collections::HashSet;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_ec2::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ec2::error::BoxError;
use devstack::seed::assume_role_config;
use devstack::{DevStack, Network, create_network};
use privatelink_core::aws::clients::AwsClients;
use privatelink_core::context::Context;
use serde_json::{Value, json};

use super::{REGION, ROLE_NAME};

/// One target account of a row, seeded: its project, role, network and clients (through the
/// role, straight to moto) to look at what the run left there.
pub(super) struct Target {
    pub(super) project: String,
    pub(super) account: String,
    pub(super) role_arn: String,
    pub(super) network: Network,
    pub(super) ec2: aws_sdk_ec2::Client,
    pub(super) secrets: aws_sdk_secretsmanager::Client,
}

/// Seeds target accounts: AssumeRole through the stack's front, everything else straight in
/// moto.
pub(super) struct Seeder {
    pub(super) moto: SdkConfig,
    pub(super) front: SdkConfig,
}

impl Seeder {
    /// Assumes [`ROLE_NAME`] in `account` through the front and makes a VPC with two subnets
    /// there, straight in moto (seeding is not the workflow: no eventual consistency).
    pub(super) async fn target(&self, project: String, account: String) -> Result<Target, String> {
        let role_arn = format!("arn:aws:iam::{account}:role/{ROLE_NAME}");
        let config = assume_role_config(&self.front, &self.moto, &role_arn).await?;
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let network = create_network(&ec2, REGION, &project).await?;
        Ok(Target {
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            project,
            account,
            role_arn,
            network,
            ec2,
        })
    }
}

/// moto's account when none is assumed (the stack's own account).
pub(super) const MOTO_DEFAULT_ACCOUNT: &str = "123456789012";

/// `ctx` with AWS clients that tell moto their account in its `x-moto-account-id` header: the
/// role's account for clients acting through a role, moto's default account for the
/// function's own; its clock and settings are kept. It is the account moto would find from the
/// access key anyway (STS filed the assumed role's keys under the role's account), but moto
/// finds it by scanning every account's keys, about 8 ms more a call at 1,000 accounts, which
/// would make the fleet row measure moto's lookup instead of the workflow. The account is the
/// one the step asked its clients for (`ctx.aws.for_region(role, …)`), so a step that used the
/// wrong clients still lands in the wrong account and the secret check sees it. The seeding and
/// the checks do without the header: they go by the credentials alone. (Credentials are cached
/// per role by `AwsClients` itself, so 1,000 roles in one process assume each once.)
pub(super) async fn fleet_context(stack: &DevStack, ctx: Arc<Context>) -> Arc<Context> {
    let aws = AwsClients::from_config(stack.sdk_config(REGION).await).with_interceptor(|scope| {
        MotoAccount(
            scope
                .role_arn
                .and_then(|role| role.split(':').nth(4))
                .filter(|account| !account.is_empty())
                .unwrap_or(MOTO_DEFAULT_ACCOUNT)
                .to_owned(),
        )
    });
    Arc::new(Context::new(ctx.clock.clone(), aws, ctx.settings.clone()))
}

/// Sets `x-moto-account-id` on every request; see [`fleet_context`].
#[derive(Debug)]
pub(super) struct MotoAccount(String);

impl Intercept for MotoAccount {
    fn name(&self) -> &'static str {
        "MotoAccount"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert("x-moto-account-id", self.0.clone());
        Ok(())
    }
}

pub(super) fn request(target: &Target, credentials: &str) -> Value {
    let network = &target.network;
    json!({
        "atlas": {"projectId": target.project, "clusterName": "Cluster0", "credentialsSecretArn": credentials},
        "aws": {"roleArn": target.role_arn},
        "endpoints": [{"region": network.region, "vpcId": network.vpc_id, "subnetIds": network.subnet_ids}],
        "tags": {"team": "bench-scale"}
    })
}

/// How many of the seeded VPCs the stack's own account (moto's default credentials) lists:
/// none, when each lives in its target account.
pub(super) async fn visible_in_own_account(
    own: &SdkConfig,
    fleet: &[Target],
) -> Result<usize, String> {
    let ours: HashSet<&str> = fleet.iter().map(|t| t.network.vpc_id.as_str()).collect();
    let ec2 = aws_sdk_ec2::Client::new(own);
    let mut visible = 0;
    let mut token = None;
    loop {
        let page = ec2
            .describe_vpcs()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| format!("DescribeVpcs (own account): {e}"))?;
        visible += page
            .vpcs()
            .iter()
            .filter(|v| v.vpc_id().is_some_and(|id| ours.contains(id)))
            .count();
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(visible);
        }
    }
}

/// The owner (account) of `vpc`, as its account sees it.
pub(super) async fn owner(ec2: &aws_sdk_ec2::Client, vpc: &str) -> Result<Option<String>, String> {
    let answer = ec2
        .describe_vpcs()
        .vpc_ids(vpc)
        .send()
        .await
        .map_err(|e| format!("DescribeVpcs {vpc} (target account): {e}"))?;
    Ok(answer
        .vpcs()
        .first()
        .and_then(|v| v.owner_id())
        .map(str::to_owned))
}

/// What a run left in its target account.
pub(super) struct Leftovers {
    /// Live VPC endpoints of the VPC.
    pub(super) endpoints: Vec<String>,
    /// Workflow security groups in the VPC.
    pub(super) groups: usize,
    /// Connection-string secrets of the target's project.
    pub(super) secrets: usize,
}

/// Live VPC endpoints and workflow security groups of a target's VPC, and its project's
/// connection-string secrets in its account.
pub(super) async fn leftovers(target: &Target) -> Result<Leftovers, String> {
    use aws_sdk_ec2::types::Filter;
    let vpc = &target.network.vpc_id;
    let filter = || Filter::builder().name("vpc-id").values(vpc).build();
    let endpoints = target
        .ec2
        .describe_vpc_endpoints()
        .filters(filter())
        .send()
        .await
        .map_err(|e| format!("DescribeVpcEndpoints in {}: {e}", target.account))?;
    let endpoints = endpoints
        .vpc_endpoints()
        .iter()
        .filter(|e| {
            !e.state()
                .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"))
        })
        .filter_map(|e| e.vpc_endpoint_id().map(str::to_owned))
        .collect();
    let groups = target
        .ec2
        .describe_security_groups()
        .filters(filter())
        .send()
        .await
        .map_err(|e| format!("DescribeSecurityGroups in {}: {e}", target.account))?;
    let groups = groups
        .security_groups()
        .iter()
        .filter(|g| {
            g.group_name()
                .is_some_and(|n| n.starts_with("atlas-privatelink-"))
        })
        .count();
    let secrets = secrets_of(&target.secrets, std::slice::from_ref(&target.project)).await?;
    Ok(Leftovers {
        endpoints,
        groups,
        secrets,
    })
}

/// Secrets under the default connection-string name of any of `projects`
/// (`atlas/<projectId>/…`) that `secrets`' account holds.
pub(super) async fn secrets_of(
    secrets: &aws_sdk_secretsmanager::Client,
    projects: &[String],
) -> Result<usize, String> {
    let prefixes: Vec<String> = projects.iter().map(|p| format!("atlas/{p}/")).collect();
    let mut count = 0;
    let mut token = None;
    loop {
        let page = secrets
            .list_secrets()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| format!("ListSecrets: {e}"))?;
        count += page
            .secret_list()
            .iter()
            .filter_map(|s| s.name())
            .filter(|name| prefixes.iter().any(|p| name.starts_with(p.as_str())))
            .count();
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(count);
        }
    }
}
