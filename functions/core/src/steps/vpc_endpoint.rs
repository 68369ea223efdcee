//! Step 5: the VPC interface endpoint.

use super::{needs, plan, region_clients, resource_tags};
use crate::aws::ec2;
use crate::context::Context;
use crate::error::StepError;
use crate::state::{EndpointWork, VpcEndpointOut};

/// Finds the VPC's interface endpoint to the Atlas service (ours by tag first, else one made
/// by other means), else creates one: all subnets, the security groups, private DNS off, tags,
/// and a client token derived from the request key.
///
/// The find comes first because the client token alone does not make a re-run safe: AWS
/// honours it only for a while, and moto not at all.
pub async fn create_vpc_endpoint(
    ctx: &Context,
    work: EndpointWork,
) -> Result<VpcEndpointOut, StepError> {
    let service_name = &needs(&work.service_name, "serviceName")?.endpoint_service_name;
    let groups = &needs(&work.security_groups, "securityGroups")?.security_group_ids;
    let p = plan(&work);
    let clients = region_clients(ctx, &work).await;
    let existing =
        ec2::find_vpc_endpoints(&clients.ec2, &p.vpc_id, service_name, &p.request_key).await?;
    if let Some(found) = existing.first() {
        let created = found.created_by.as_deref() == Some(work.execution.as_str());
        tracing::info!(execution = %work.execution, vpc_endpoint_id = %found.id, created, "found the VPC endpoint");
        return Ok(VpcEndpointOut {
            vpc_endpoint_id: found.id.clone(),
            created,
        });
    }
    let name = format!(
        "atlas-privatelink-{}-{}",
        work.request.atlas.cluster_name, p.region
    );
    let token = format!("atlas-privatelink-{}", p.request_key);
    let made = ec2::create_vpc_endpoint(
        &clients.ec2,
        &p.vpc_id,
        service_name,
        &p.subnet_ids,
        groups,
        &token,
        &resource_tags(&work, &name),
    )
    .await?;
    tracing::info!(execution = %work.execution, vpc_endpoint_id = %made.id, vpc_id = %p.vpc_id, "created the VPC endpoint");
    Ok(VpcEndpointOut {
        vpc_endpoint_id: made.id,
        created: true,
    })
}
