//! Step 4: the security group of the interface endpoint.

use super::{plan, region_clients, resource_tags};
use crate::context::Context;
use crate::error::{ErrorName, StepError};
use crate::ports::{Ec2, SdkEc2};
use crate::state::{EndpointPlan, EndpointWork, SecurityGroupsOut};

/// The deterministic name of our group for an endpoint.
pub fn group_name(request_key: &str) -> String {
    format!("atlas-privatelink-{request_key}")
}

/// Creates (or finds, by tag or name) our security group allowing TCP 1024–65535 from the
/// given groups and CIDRs (default: the VPC's CIDRs), and adds the groups to attach.
pub async fn configure_security_groups(
    ctx: &Context,
    work: EndpointWork,
) -> Result<SecurityGroupsOut, StepError> {
    let clients = region_clients(ctx, &work).await?;
    configure(&SdkEc2::new(clients.ec2, ctx.clock.clone()), &work).await
}

/// [`configure_security_groups`] over any [`Ec2`]: every decision of the step is here.
async fn configure(ec2: &impl Ec2, work: &EndpointWork) -> Result<SecurityGroupsOut, StepError> {
    let spec = &work.endpoint.security_groups;
    let p = plan(work);
    let mut ids: Vec<String> = spec
        .attach_security_group_ids
        .iter()
        .map(|g| g.to_string())
        .collect();
    if !spec.create {
        if ids.is_empty() {
            return Err(StepError::invalid(
                format!("endpoints[{}].securityGroups", p.index),
                "no security group: set create, or attachSecurityGroupIds",
            ));
        }
        return Ok(SecurityGroupsOut {
            security_group_ids: ids,
            own_group_id: None,
            created: false,
        });
    }
    let name = group_name(&p.request_key);
    let (group_id, created) = match ec2
        .find_security_group(&p.vpc_id, &p.request_key, &name)
        .await?
    {
        Some(found) => {
            let created = found.created_by.as_deref() == Some(work.execution.as_str());
            (found.id, created)
        }
        None => {
            let description = format!(
                "atlas-privatelink: PrivateLink endpoint to Atlas cluster {} of project {}",
                work.request.atlas.cluster_name, work.request.atlas.project_id
            );
            let group = ec2
                .create_security_group(
                    &p.vpc_id,
                    &name,
                    &description,
                    &resource_tags(work, &name),
                    &work.execution,
                )
                .await?;
            // A group a racing run made (found through the duplicate name) is ours only if its
            // created-by tag says so.
            let created = group.created_by.as_deref() == Some(work.execution.as_str());
            tracing::info!(execution = %work.execution, security_group_id = %group.id, vpc_id = %p.vpc_id, created, "created the endpoint's security group");
            (group.id, created)
        }
    };
    if group_id.is_empty() {
        return Err(StepError::new(
            ErrorName::AwsUnavailable,
            "EC2 returned a security group without id",
        ));
    }
    let (from_groups, cidrs) = wanted_sources(p);
    let added = ec2
        .allow_atlas_ports(&group_id, &from_groups, &cidrs)
        .await?;
    if !added.is_empty() {
        tracing::info!(execution = %work.execution, security_group_id = %group_id, ?added, "allowed the Atlas ports from new sources");
    }
    ids.insert(0, group_id.clone());
    ids.dedup();
    Ok(SecurityGroupsOut {
        security_group_ids: ids,
        own_group_id: Some(group_id),
        created,
    })
}

/// The sources our group allows TCP 1024–65535 from: (security groups, CIDRs) as the request
/// gives them, or the VPC's CIDRs when it gives neither.
pub(crate) fn wanted_sources(p: &EndpointPlan) -> (Vec<String>, Vec<String>) {
    let spec = &p.security_groups;
    let from_groups: Vec<String> = spec
        .allow_from_security_group_ids
        .iter()
        .map(|g| g.to_string())
        .collect();
    let mut cidrs: Vec<String> = spec
        .allow_from_cidrs
        .iter()
        .map(|c| c.to_string())
        .collect();
    if cidrs.is_empty() && from_groups.is_empty() {
        cidrs = p.vpc_cidrs.clone();
    }
    (from_groups, cidrs)
}

#[cfg(test)]
mod tests;
