//! Validate's AWS checks of one endpoint: its VPC and subnets (by id, or discovered by tag)
//! and its security groups, in the endpoint's account and region; the endpoint's plan.

use crate::error::StepError;
use crate::ports::Ec2;
use crate::request::{Endpoint, ProvisionRequest, VpcSelector};
use crate::state::EndpointPlan;
use crate::steps::request_key;

/// Resolves one endpoint's VPC and subnets (by id or by tag) and checks its security groups.
///
/// `ec2` is in the endpoint's account and region. The messages of a missing tagged VPC or
/// subnet are what `account_not_ready` recognises: keep them in step with it.
pub(super) async fn plan_endpoint(
    ec2: &impl Ec2,
    request: &ProvisionRequest,
    index: usize,
    endpoint: &Endpoint,
) -> Result<EndpointPlan, StepError> {
    let at = |field: &str| format!("endpoints[{index}].{field}");
    let region = endpoint.aws_region();
    let place = place(request, region);
    let (vpc, subnet_ids) = match &endpoint.vpc {
        VpcSelector::Ids { vpc_id, subnet_ids } => {
            let vpc = ec2.describe_vpc(vpc_id).await?.ok_or_else(|| {
                StepError::invalid(
                    at("vpcId"),
                    format!("VPC {vpc_id} does not exist in {place}"),
                )
            })?;
            let wanted: Vec<String> = subnet_ids.iter().map(|s| s.to_string()).collect();
            let found = ec2.describe_subnets(&wanted).await?;
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
            let vpcs = ec2.find_vpcs_by_tag(&vpc_tag.key, &vpc_tag.value).await?;
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
            let subnets = ec2
                .find_subnets_by_tag(&vpc.vpc_id, &vpc_tag.key, &vpc_tag.value)
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
    check_security_groups(ec2, endpoint, &vpc.vpc_id, &at, &place).await?;
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
    ec2: &impl Ec2,
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
        let found = ec2.describe_security_groups(&wanted).await?;
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
