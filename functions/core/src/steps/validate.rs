//! Step 1: validate the request, then check it against Atlas and AWS (the cluster and its
//! regions, VPCs, subnets, security groups) and discover VPCs and subnets by tag. Nothing is
//! created here, so a bad request leaves nothing behind.

use serde::Deserialize;
use serde_json::Value;

use super::{atlas_error, request_key};
use crate::aws::ec2;
use crate::context::Context;
use crate::error::{ErrorName, StepError};
use crate::request::{AwsRegion, Endpoint, ProvisionRequest, VpcSelector, parse_request};
use crate::state::{EndpointPlan, Plan};
use atlas_api::AtlasClient;

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
        check_cluster(ctx, &request).await?;
    }
    let mut endpoints = Vec::with_capacity(request.endpoints.len());
    for (index, endpoint) in request.endpoints.iter().enumerate() {
        match plan_endpoint(ctx, &request, index, endpoint).await {
            Ok(plan) => endpoints.push(plan),
            Err(e) => {
                return Err(account_not_ready(
                    ctx,
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
    Ok(Plan {
        execution: input.execution,
        request,
        endpoints,
    })
}

/// A missing role or tagged VPC, while the request still waits for its account
/// (`aws.waitForAccountSeconds` since the execution started), is `TargetNotReady`, which the
/// state machine retries: Control Tower reports a new account before the account's baseline
/// (the role, the VPC) exists. Anything else, or after the wait, stays as it is.
fn account_not_ready(
    ctx: &Context,
    request: &ProvisionRequest,
    started_at: Option<&str>,
    e: StepError,
) -> StepError {
    let wait = std::time::Duration::from_secs(u64::from(request.aws.wait_for_account_seconds));
    // The errors of an account whose baseline is not there yet: the role cannot be assumed
    // (clients.rs), no VPC or subnet carries the tag (plan_endpoint below).
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
    let waited = started.map(|s| ctx.clock.since(s));
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

/// The cluster must exist, and the request must cover exactly the AWS regions it has nodes in
/// (Atlas publishes private connection strings only when every region has an endpoint).
async fn check_cluster(ctx: &Context, request: &ProvisionRequest) -> Result<(), StepError> {
    let atlas = ctx.atlas(request).await?;
    let cluster = match atlas
        .get_cluster(&request.atlas.project_id, &request.atlas.cluster_name)
        .await
    {
        Ok(cluster) => cluster,
        Err(e) if e.is_not_found() => {
            return Err(StepError::invalid(
                "atlas.clusterName",
                format!(
                    "no cluster {} in project {}",
                    request.atlas.cluster_name, request.atlas.project_id
                ),
            ));
        }
        Err(e) => return Err(atlas_error(e)),
    };
    let cluster_regions = cluster.aws_regions();
    if cluster_regions.is_empty() {
        return Err(StepError::new(
            ErrorName::UnsupportedProvider,
            format!(
                "atlas.clusterName: cluster {} has no nodes on AWS; only AWS PrivateLink is supported",
                cluster.name
            ),
        ));
    }
    let listing = || {
        cluster_regions
            .iter()
            .map(|r| AwsRegion::from_atlas_name(r).map_or(r.clone(), |a| a.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Each endpoint links to the endpoint service of a region the cluster has nodes in: the
    // VPC's own, or the one `serviceRegion` names (cross-region PrivateLink).
    for (i, endpoint) in request.endpoints.iter().enumerate() {
        let service_region = endpoint.service_region.unwrap_or(endpoint.region);
        if cluster_regions
            .iter()
            .any(|r| r == service_region.atlas_name())
        {
            continue;
        }
        let (field, message) = match endpoint.service_region {
            Some(named) => (
                "serviceRegion",
                format!(
                    "cluster {} has no nodes in {named}; its AWS regions are {}",
                    cluster.name,
                    listing()
                ),
            ),
            None => (
                "region",
                format!(
                    "cluster {} has no nodes in {} (the VPC's region); its AWS regions are {}: \
                     set serviceRegion to one of them to connect across regions",
                    cluster.name,
                    endpoint.region,
                    listing()
                ),
            ),
        };
        return Err(StepError::invalid(
            format!("endpoints[{i}].{field}"),
            message,
        ));
    }
    // Atlas publishes private connection strings only when every region has an endpoint (a
    // cross-region one counts for the region of the service it links to).
    let missing: Vec<&String> = cluster_regions
        .iter()
        .filter(|r| {
            !request
                .endpoints
                .iter()
                .any(|e| e.service_region.unwrap_or(e.region).atlas_name() == r.as_str())
        })
        .collect();
    if !missing.is_empty() {
        return Err(StepError::invalid(
            "endpoints",
            format!(
                "cluster {} also has nodes in {}: add an endpoint for each region, since Atlas \
                 publishes private connection strings only when every region is covered",
                cluster.name,
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if needs_regional_mode(cluster.cluster_type.as_deref(), cluster_regions.len()) {
        ensure_regional_mode(&atlas, request, &cluster.name).await?;
    }
    Ok(())
}

/// Whether the cluster's private endpoints need the project's regionalized private endpoint
/// mode: a sharded or global cluster with nodes in more than one region (Atlas Admin API,
/// "Toggle Regionalized Private Endpoint Status": the mode is what lets each region's
/// endpoint reach that region's mongos; replica sets are connected without it).
fn needs_regional_mode(cluster_type: Option<&str>, regions: usize) -> bool {
    regions > 1 && matches!(cluster_type, Some("SHARDED" | "GEOSHARDED"))
}

/// The project's regionalized private endpoint mode is on, or this request turns it on with
/// the user's consent (`atlas.enableRegionalMode`); never switched silently, because turning
/// it on changes the connection strings of the project's existing multi-region sharded
/// clusters and forbids replica sets (Admin API, the toggle's description). The clusters
/// update afterwards; store-connection-strings waits for them to be `IDLE` and reads the new
/// strings. Rollback does not turn it off again: other clusters may rely on it by then.
async fn ensure_regional_mode(
    atlas: &AtlasClient,
    request: &ProvisionRequest,
    cluster: &str,
) -> Result<(), StepError> {
    let project = request.atlas.project_id.as_str();
    if atlas
        .get_regional_mode(project)
        .await
        .map_err(atlas_error)?
    {
        return Ok(());
    }
    if !request.atlas.enable_regional_mode {
        return Err(StepError::new(
            ErrorName::RegionalModeRequired,
            format!(
                "cluster {cluster} is a multi-region sharded cluster, whose private endpoints \
                 need project {project}'s regionalized private endpoint mode, which is off. \
                 Turning it on changes the connection strings of every multi-region sharded \
                 cluster in the project (applications must move to the new ones) and forbids \
                 replica sets in the project. Set atlas.enableRegionalMode: true in the request \
                 to let this run turn it on, or turn it on in Atlas yourself"
            ),
        ));
    }
    match atlas.set_regional_mode(project, true).await {
        Ok(true) => {
            tracing::info!(
                project,
                cluster,
                "turned on the regionalized private endpoint mode, as the request allows"
            );
            Ok(())
        }
        Ok(false) => Err(StepError::new(
            ErrorName::AtlasUnavailable,
            format!(
                "Atlas still reports project {project}'s regional mode off after turning it on"
            ),
        )),
        Err(e @ atlas_api::AtlasError::Conflict { .. }) => Err(StepError::invalid(
            "atlas.enableRegionalMode",
            format!("Atlas refused to turn on the regionalized private endpoint mode: {e}"),
        )),
        Err(e) => Err(atlas_error(e)),
    }
}

/// Resolves one endpoint's VPC and subnets (by id or by tag) and checks its security groups.
async fn plan_endpoint(
    ctx: &Context,
    request: &ProvisionRequest,
    index: usize,
    endpoint: &Endpoint,
) -> Result<EndpointPlan, StepError> {
    let at = |field: &str| format!("endpoints[{index}].{field}");
    let region = endpoint.aws_region();
    let clients = ctx
        .aws
        .for_region(request.aws.role_arn.as_deref(), region)
        .await?;
    let place = place(request, region);
    let (vpc, subnet_ids) = match &endpoint.vpc {
        VpcSelector::Ids { vpc_id, subnet_ids } => {
            let vpc = ec2::describe_vpc(&clients.ec2, vpc_id, &at("vpcId"), &place).await?;
            let wanted: Vec<String> = subnet_ids.iter().map(|s| s.to_string()).collect();
            let found = ec2::describe_subnets(&clients.ec2, &wanted).await?;
            for (j, id) in wanted.iter().enumerate() {
                match found.iter().find(|s| &s.subnet_id == id) {
                    None => {
                        return Err(StepError::invalid(
                            at(&format!("subnetIds[{j}]")),
                            format!("subnet {id} does not exist in {place}"),
                        ));
                    }
                    Some(s) if s.vpc_id != vpc.vpc_id => {
                        return Err(StepError::invalid(
                            at(&format!("subnetIds[{j}]")),
                            format!("subnet {id} is in {}, not in {}", s.vpc_id, vpc.vpc_id),
                        ));
                    }
                    Some(_) => {}
                }
            }
            (vpc, wanted)
        }
        VpcSelector::Tag { vpc_tag } => {
            let vpcs = ec2::find_vpcs_by_tag(&clients.ec2, &vpc_tag.key, &vpc_tag.value).await?;
            let vpc = match vpcs.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(StepError::invalid(
                        at("vpcTag"),
                        format!(
                            "no VPC in {place} is tagged {}={}",
                            vpc_tag.key, vpc_tag.value
                        ),
                    ));
                }
                many => {
                    return Err(StepError::invalid(
                        at("vpcTag"),
                        format!(
                            "{} VPCs in {region} are tagged {}={} ({}); the tag must name one",
                            many.len(),
                            vpc_tag.key,
                            vpc_tag.value,
                            many.iter()
                                .map(|v| v.vpc_id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            };
            let subnets =
                ec2::find_subnets_by_tag(&clients.ec2, &vpc.vpc_id, &vpc_tag.key, &vpc_tag.value)
                    .await?;
            if subnets.is_empty() {
                return Err(StepError::invalid(
                    at("vpcTag"),
                    format!(
                        "VPC {} has no subnet tagged {}={}; AWS needs at least one subnet for an interface endpoint",
                        vpc.vpc_id, vpc_tag.key, vpc_tag.value
                    ),
                ));
            }
            (vpc, subnets.into_iter().map(|s| s.subnet_id).collect())
        }
    };
    check_security_groups(&clients.ec2, endpoint, &vpc.vpc_id, &at, &place).await?;
    Ok(EndpointPlan {
        index,
        region: endpoint.region,
        service_region: endpoint.service_region.unwrap_or(endpoint.region),
        request_key: request_key(
            &request.atlas.project_id,
            &request.atlas.cluster_name,
            region,
            &vpc.vpc_id,
        ),
        vpc_id: vpc.vpc_id,
        vpc_cidrs: vpc.cidrs,
        subnet_ids,
        security_groups: endpoint.security_groups.clone(),
    })
}

/// Where the endpoint's resources are looked for, for error messages: the account (through
/// the request's role, or the functions' own) and the region.
fn place(request: &ProvisionRequest, region: &str) -> String {
    match &request.aws.role_arn {
        Some(role) => format!(
            "account {} (through role {role}), region {region}",
            role.account_id()
        ),
        None => format!("the functions' own account, region {region}"),
    }
}

/// Groups to attach must exist in the endpoint's VPC; groups to allow from must exist.
async fn check_security_groups(
    client: &aws_sdk_ec2::Client,
    endpoint: &Endpoint,
    vpc_id: &str,
    at: &(dyn Fn(&str) -> String + Sync),
    place: &str,
) -> Result<(), StepError> {
    let spec = &endpoint.security_groups;
    let lists = [
        (
            "securityGroups.attachSecurityGroupIds",
            &spec.attach_security_group_ids,
            true,
        ),
        (
            "securityGroups.allowFromSecurityGroupIds",
            &spec.allow_from_security_group_ids,
            false,
        ),
    ];
    for (field, ids, same_vpc) in lists {
        if ids.is_empty() {
            continue;
        }
        let wanted: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        let found = ec2::describe_security_groups(client, &wanted).await?;
        for (j, id) in wanted.iter().enumerate() {
            match found.iter().find(|(g, _)| g == id) {
                None => {
                    return Err(StepError::invalid(
                        at(&format!("{field}[{j}]")),
                        format!("security group {id} does not exist in {place}"),
                    ));
                }
                Some((_, vpc)) if same_vpc && vpc != vpc_id => {
                    return Err(StepError::invalid(
                        at(&format!("{field}[{j}]")),
                        format!(
                            "security group {id} is in {vpc}; an endpoint in {vpc_id} can only use groups of its VPC"
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}
