//! The read-only inspect step: what a provisioning of the plan would create, adopt or change
//! (plan, dry run), and what drifted since one (drift detection). It reads every piece the
//! provisioning steps make, with their discovery rules, and writes nothing.
//!
//! Per endpoint: the region's Atlas endpoint service (the project's list, by region), the
//! VPC's region in its remote regions (cross-region), our security group (by tag, then by its
//! deterministic name) and its ingress rules (those configure-security-groups adds), the VPC
//! endpoint (by tag, or any live endpoint of the VPC to the service) and our group on it, and
//! its link in Atlas. Then the secret: the content store-connection-strings would write now,
//! compared key by key with the current value (key names only, never values). And the checks
//! a provisioning would fail on: the VPC's interface endpoint quota, the service's zones, one
//! service per region, the regional mode.
//!
//! Atlas calls: one list of the project's services, one cluster read, one link read per
//! endpoint (and the regional mode for a multi-region sharded cluster).

mod endpoint;
mod secret;

use serde::{Deserialize, Serialize};

use super::atlas_error;
use super::store::{database_user_home, read_database_user, secret_location};
use crate::context::Context;
use crate::error::StepError;
use crate::ports::{Atlas, Ec2, HttpAtlas, SdkEc2, SdkSecrets, Secrets};
use crate::request::AwsRegion;
use crate::state::{EndpointResult, Plan};

/// What inspect found: the output of the step, and what `atlas-privatelink plan` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    /// Nothing to create or change anywhere (every item `none` or `adopt`, the secret `none`)
    /// and every check passed.
    pub in_sync: bool,
    /// Every endpoint piece is in place (`none` or `adopt`); only the secret differs (it is
    /// to be created or updated). The state machine can then store the secret from `results`
    /// without running the endpoint steps.
    pub secret_only: bool,
    /// One entry per endpoint of the plan, in its order.
    pub endpoints: Vec<EndpointInspection>,
    /// The connection-string secret.
    pub secret: SecretInspection,
    /// The checks a provisioning would fail on.
    pub checks: Vec<Check>,
    /// The found state of each endpoint, in the shape store-connection-strings reads (every
    /// `created` false): the Map's results when nothing but the secret is to be done.
    pub results: Vec<EndpointResult>,
}

impl Inspection {
    /// The actions of endpoint `index`'s items about `resource` (none when there is no such
    /// endpoint).
    pub fn actions(&self, index: usize, resource: Resource) -> Vec<Action> {
        self.endpoints
            .get(index)
            .into_iter()
            .flat_map(|e| &e.items)
            .filter(|i| i.resource == resource)
            .map(|i| i.action)
            .collect()
    }
}

/// One endpoint's pieces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointInspection {
    /// Position in `request.endpoints`.
    pub index: usize,
    /// The VPC's region (where the security group and the VPC endpoint are).
    pub region: AwsRegion,
    /// The region of the Atlas endpoint service it links to.
    pub service_region: AwsRegion,
    /// The VPC.
    pub vpc_id: String,
    /// The endpoint's request key (its tags).
    pub request_key: String,
    /// Each piece, in workflow order.
    pub items: Vec<Item>,
}

/// One piece of an endpoint and what a provisioning would do with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// Which piece.
    pub resource: Resource,
    /// What a provisioning would do.
    pub action: Action,
    /// Its id when it exists (or, for an ingress rule, its source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What was found, in words (ids and states, never secret values).
    pub detail: String,
}

/// The pieces of an endpoint (and the secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Resource {
    /// The Atlas endpoint service of the service region.
    EndpointService,
    /// The VPC's region in the service's `supportedRemoteRegions` (cross-region only).
    RemoteRegion,
    /// Our security group.
    SecurityGroup,
    /// One source our group allows TCP 1024–65535 from.
    IngressRule,
    /// The VPC interface endpoint.
    VpcEndpoint,
    /// Our security group attached to the VPC endpoint.
    VpcEndpointSecurityGroup,
    /// The Atlas interface endpoint (link) of the VPC endpoint.
    Link,
    /// An Atlas interface endpoint on our service for a VPC endpoint that the current secret
    /// lists but EC2 no longer has.
    StaleLink,
    /// The connection-string secret ([`Inspection::secret`], not an endpoint item).
    Secret,
}

impl Resource {
    /// The JSON name: `vpcEndpointSecurityGroup`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Resource::EndpointService => "endpointService",
            Resource::RemoteRegion => "remoteRegion",
            Resource::SecurityGroup => "securityGroup",
            Resource::IngressRule => "ingressRule",
            Resource::VpcEndpoint => "vpcEndpoint",
            Resource::VpcEndpointSecurityGroup => "vpcEndpointSecurityGroup",
            Resource::Link => "link",
            Resource::StaleLink => "staleLink",
            Resource::Secret => "secret",
        }
    }
}

/// What a provisioning would do with a piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// It is missing (or dead) and would be made.
    Create,
    /// It exists but was not made by the workflow (no `created-by` tag); it would be used as
    /// it is.
    Adopt,
    /// It exists and would be changed.
    Update,
    /// It is left over and would be removed.
    Remove,
    /// It is as a provisioning would leave it.
    None,
}

impl Action {
    /// The JSON name: `create`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Adopt => "adopt",
            Action::Update => "update",
            Action::Remove => "remove",
            Action::None => "none",
        }
    }

    /// Whether a provisioning would write something for it (`create`, `update`, `remove`).
    pub const fn changes(self) -> bool {
        matches!(self, Action::Create | Action::Update | Action::Remove)
    }
}

/// The connection-string secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretInspection {
    /// The secret's name.
    pub name: String,
    /// `create` (missing, or scheduled for deletion), `update` (its content differs, or
    /// cannot be compared yet) or `none`.
    pub action: Action,
    /// The keys that would change (added, changed or removed), sorted: names only.
    pub keys: Vec<String>,
    /// What was found, in words (why it cannot be compared yet, e.g. the cluster is not IDLE).
    pub detail: String,
}

/// A check a provisioning would fail on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// Which check.
    pub name: CheckName,
    /// Whether it passed.
    pub passed: bool,
    /// The numbers and ids it compared.
    pub detail: String,
    /// The endpoint (its index) the check is about; absent for the request's own checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<usize>,
}

/// The checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CheckName {
    /// The VPC's interface endpoints, plus the one to create, within the quota.
    InterfaceEndpointQuota,
    /// A subnet of the endpoint in a zone the service supports (same region only).
    AvailabilityZones,
    /// No FAILED or DELETING service in the region keeps a new one from being created.
    OneServicePerRegion,
    /// The regionalized private endpoint mode of a multi-region sharded cluster.
    RegionalMode,
    /// The secret is not another request's.
    SecretOwner,
}

impl CheckName {
    /// The JSON name: `interfaceEndpointQuota`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CheckName::InterfaceEndpointQuota => "interfaceEndpointQuota",
            CheckName::AvailabilityZones => "availabilityZones",
            CheckName::OneServicePerRegion => "oneServicePerRegion",
            CheckName::RegionalMode => "regionalMode",
            CheckName::SecretOwner => "secretOwner",
        }
    }
}

impl Item {
    fn new(resource: Resource, action: Action, id: Option<&str>, detail: String) -> Self {
        Self {
            resource,
            action,
            id: id.map(str::to_owned),
            detail,
        }
    }
}

/// Inspects the plan validate made: reads every piece a provisioning makes, writes nothing.
/// See [`Inspection`].
pub async fn inspect(ctx: &Context, plan: Plan) -> Result<Inspection, StepError> {
    let request = &plan.request;
    let atlas = ctx.sharing(HttpAtlas::new(ctx.atlas(request).await?), false);
    let role = request.aws.role_arn.as_deref();
    let mut ec2s = Vec::with_capacity(plan.endpoints.len());
    for endpoint in &plan.endpoints {
        let clients = ctx.aws.for_region(role, endpoint.region.as_str()).await?;
        ec2s.push(SdkEc2::new(clients.ec2, ctx.clock.clone()));
    }
    let (secret_role, secret_region) = secret_location(request);
    let secrets = SdkSecrets::new(
        ctx.aws
            .for_region(secret_role, secret_region)
            .await?
            .secrets,
    );
    let db_user_secrets = match database_user_home(request) {
        Some((_, role, region)) => Some(SdkSecrets::new(
            ctx.aws.for_region(role, region).await?.secrets,
        )),
        None => None,
    };
    let ports = Ports {
        atlas: &atlas,
        ec2s: &ec2s,
        secrets: &secrets,
        db_user_secrets: db_user_secrets.as_ref(),
    };
    inspect_with(&ports, &plan, ctx.settings.interface_endpoint_quota).await
}

/// What [`inspect_with`] reads through: Atlas, EC2 per endpoint (in the plan's order), the
/// secret's Secrets Manager, and the database-user secret's (when the request names one).
struct Ports<'a, A, E, S> {
    atlas: &'a A,
    ec2s: &'a [E],
    secrets: &'a S,
    db_user_secrets: Option<&'a S>,
}

/// [`inspect`] over any ports: every decision of the step is here. `quota` is the VPC's
/// interface endpoint quota.
async fn inspect_with<A: Atlas, E: Ec2, S: Secrets>(
    ports: &Ports<'_, A, E, S>,
    plan: &Plan,
    quota: usize,
) -> Result<Inspection, StepError> {
    let request = &plan.request;
    let group = request.atlas.project_id.as_str();
    let services = ports
        .atlas
        .list_endpoint_services(group)
        .await
        .map_err(atlas_error)?;
    let mut found = Vec::with_capacity(plan.endpoints.len());
    let mut checks = Vec::new();
    for (i, endpoint) in plan.endpoints.iter().enumerate() {
        let ec2 = ports.ec2s.get(i).ok_or_else(|| {
            StepError::invalid("(step input)", format!("no EC2 client for endpoint {i}"))
        })?;
        let seen =
            endpoint::inspect_endpoint(ports.atlas, ec2, &services, plan, endpoint, quota).await?;
        for check in &seen.checks {
            // One service per region: once per service region, whichever endpoint found it.
            let repeated = check.name == CheckName::OneServicePerRegion
                && plan.endpoints[..i]
                    .iter()
                    .any(|e| e.service_region == endpoint.service_region);
            if !repeated {
                checks.push(check.clone());
            }
        }
        found.push(seen);
    }
    let cluster = ports
        .atlas
        .get_cluster_shared(group, request.atlas.cluster_name.as_str())
        .await
        .map_err(atlas_error)?;
    checks.push(secret::regional_mode(ports.atlas, request, &cluster).await?);
    // The database user as store reads it (its own account and region when it lives
    // elsewhere than the secret).
    let db_user = match database_user_home(request) {
        Some((arn, _, _)) => {
            let secrets = ports.db_user_secrets.unwrap_or(ports.secrets);
            Some(read_database_user(secrets, arn).await?)
        }
        None => None,
    };
    let secret = secret::inspect_secret(ports.secrets, request, &cluster, &found, db_user).await?;
    checks.push(secret.owner_check.clone());
    let mut endpoints: Vec<EndpointInspection> = found
        .iter()
        .map(|f| EndpointInspection {
            index: f.result.endpoint.index,
            region: f.result.endpoint.region,
            service_region: f.result.endpoint.service_region,
            vpc_id: f.result.endpoint.vpc_id.clone(),
            request_key: f.result.endpoint.request_key.clone(),
            items: f.items.clone(),
        })
        .collect();
    secret::stale_links(&mut endpoints, &found, &services, plan, &secret.listed);
    let endpoints_settled = endpoints
        .iter()
        .flat_map(|e| &e.items)
        .all(|item| !item.action.changes());
    let in_sync =
        endpoints_settled && !secret.inspection.action.changes() && checks.iter().all(|c| c.passed);
    let secret_only = endpoints_settled && secret.inspection.action.changes();
    let changes = endpoints
        .iter()
        .flat_map(|e| &e.items)
        .filter(|item| item.action.changes())
        .count();
    let failed_checks: Vec<&str> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    tracing::info!(
        execution = %plan.execution,
        in_sync,
        secret_only,
        endpoint_changes = changes,
        secret_action = secret.inspection.action.as_str(),
        secret_keys = ?secret.inspection.keys,
        ?failed_checks,
        "inspected the request"
    );
    Ok(Inspection {
        in_sync,
        secret_only,
        endpoints,
        secret: secret.inspection,
        checks,
        results: found.into_iter().map(|f| f.result).collect(),
    })
}

#[cfg(test)]
mod tests;
