//! Step 5: the VPC interface endpoint.

use clock::Clock;

use super::{needs, plan, region_clients, resource_tags, vpc_endpoint_client_token};
use crate::aws::consistency::list_until_shown;
use crate::aws::ec2::SubnetInfo;
use crate::context::Context;
use crate::error::{ErrorName, StepError};
use crate::ports::{Ec2, SdkEc2};
use crate::state::{EndpointWork, VpcEndpointOut};

/// Finds the VPC's interface endpoint to the Atlas service (ours by tag first, else one made
/// by other means), else creates one: one subnet per availability zone the service supports,
/// the security groups, private DNS off, tags, and a client token unique to this execution
/// and endpoint. A cross-region endpoint names the service's region (`ServiceRegion`) and
/// takes one subnet per zone of the VPC, whatever zones the service has in its own region.
///
/// The find comes first because the client token alone does not make a re-run safe: a token
/// is per execution, and lists are eventually consistent.
pub async fn create_vpc_endpoint(
    ctx: &Context,
    work: EndpointWork,
) -> Result<VpcEndpointOut, StepError> {
    // The inputs are checked before the role is assumed: a state machine that skipped a step
    // is named as such, whatever the state of the target account.
    let service_name = &needs(&work.service_name, "serviceName")?.endpoint_service_name;
    let groups = &needs(&work.security_groups, "securityGroups")?.security_group_ids;
    let clients = region_clients(ctx, &work).await?;
    let ec2 = SdkEc2::new(clients.ec2, ctx.clock.clone());
    find_or_create(&ec2, ctx.clock.as_ref(), &work, service_name, groups).await
}

/// [`create_vpc_endpoint`] over any [`Ec2`], given the service name and the groups to attach:
/// every decision of the step is here. `clock` paces the re-reads of an empty list.
async fn find_or_create(
    ec2: &impl Ec2,
    clock: &dyn Clock,
    work: &EndpointWork,
    service_name: &str,
    groups: &[String],
) -> Result<VpcEndpointOut, StepError> {
    let p = plan(work);
    // Our security group made by an earlier execution means an earlier attempt got this far
    // and may have made the endpoint moments ago; EC2's lists are eventually consistent, so an
    // empty list is believed only after the visibility budget.
    let earlier_attempt = work
        .security_groups
        .as_ref()
        .is_some_and(|g| g.own_group_id.is_some() && !g.created);
    let existing = list_until_shown(
        clock,
        |found: &Vec<_>| earlier_attempt && found.is_empty(),
        || ec2.find_vpc_endpoints(&p.vpc_id, service_name, &p.request_key),
    )
    .await?;
    if let Some(found) = existing.first() {
        let created = found.created_by.as_deref() == Some(work.execution.as_str());
        tracing::info!(execution = %work.execution, vpc_endpoint_id = %found.id, created, "found the VPC endpoint");
        reattach_groups(ec2, work, found, groups).await?;
        return Ok(VpcEndpointOut {
            vpc_endpoint_id: found.id.clone(),
            created,
            subnet_ids: Vec::new(),
        });
    }
    let subnets = usable_subnets(ec2, work, service_name).await?;
    let name = format!(
        "atlas-privatelink-{}-{}",
        work.request.atlas.cluster_name, p.region
    );
    let tags = resource_tags(work, &name);
    // Cross-region: EC2 finds the service only in the region it names (EC2 API,
    // `CreateVpcEndpoint` `ServiceRegion`, which defaults to the caller's region; research
    // notes issue 12, §3).
    let service_region = p.is_cross_region().then(|| p.service_region.as_str());
    // A replayed token can answer an endpoint that was deleted since (by hand, mid-execution):
    // then one more attempt under a fresh token.
    for attempt in 0..2 {
        let token = vpc_endpoint_client_token(&work.execution, &p.request_key, attempt);
        let made = ec2
            .create_vpc_endpoint(
                &p.vpc_id,
                service_name,
                service_region,
                &subnets,
                groups,
                &token,
                &tags,
            )
            .await?;
        if made.is_dead() {
            tracing::warn!(execution = %work.execution, vpc_endpoint_id = %made.id, state = %made.state, "the client token answered an endpoint that is gone; creating another");
            continue;
        }
        tracing::info!(execution = %work.execution, vpc_endpoint_id = %made.id, vpc_id = %p.vpc_id, ?subnets, ?service_region, "created the VPC endpoint");
        return Ok(VpcEndpointOut {
            vpc_endpoint_id: made.id,
            created: true,
            subnet_ids: subnets,
        });
    }
    Err(StepError::new(
        ErrorName::AwsUnavailable,
        format!("EC2 kept answering a deleted VPC endpoint for {}", p.vpc_id),
    ))
}

/// Attaches the endpoint's security groups that someone detached from an endpoint of ours
/// (one carrying our tags): the repair of a `verify` (inspect reports it as
/// `vpcEndpointSecurityGroup`). An endpoint made by hand and adopted is left as it is.
async fn reattach_groups(
    ec2: &impl Ec2,
    work: &EndpointWork,
    found: &crate::aws::ec2::VpcEndpointInfo,
    groups: &[String],
) -> Result<(), StepError> {
    let missing: Vec<String> = groups
        .iter()
        .filter(|g| !found.security_group_ids.contains(g))
        .cloned()
        .collect();
    if missing.is_empty() || found.created_by.is_none() {
        return Ok(());
    }
    ec2.add_vpc_endpoint_security_groups(&found.id, &missing)
        .await?;
    tracing::info!(execution = %work.execution, vpc_endpoint_id = %found.id, ?missing, "attached the endpoint's security groups again");
    Ok(())
}

/// The request's subnets that AWS can use for an endpoint to `service_name`: in a zone the
/// service supports, one per zone (AWS refuses the call otherwise; PrivateLink guide,
/// "Availability Zones"), in the request's order. None usable is the request's fault.
///
/// Across regions the zone rule does not apply: the VPC endpoint's zones need not match the
/// service's (research notes issue 12, §3 "Private DNS, availability zones", after Elastic's
/// AWS PrivateLink guide), and the service's zones are those of its own region anyway. One
/// subnet per zone still holds there.
async fn usable_subnets(
    ec2: &impl Ec2,
    work: &EndpointWork,
    service_name: &str,
) -> Result<Vec<String>, StepError> {
    let p = plan(work);
    let zones = if p.is_cross_region() {
        None
    } else {
        let zones = ec2.service_zones(service_name).await?;
        if zones.is_empty() {
            // The service does not say; let AWS decide.
            return Ok(p.subnet_ids.clone());
        }
        Some(zones)
    };
    let subnets = ec2.describe_subnets(&p.subnet_ids).await?;
    let (chosen, skipped) = choose_subnets(&p.subnet_ids, &subnets, zones.as_deref());
    for (subnet, why) in skipped {
        let (id, zone) = (&subnet.subnet_id, &subnet.zone);
        match why {
            Skip::UnsupportedZone => {
                tracing::info!(execution = %work.execution, subnet_id = %id, zone = %zone, "skipping a subnet in a zone the Atlas service does not support")
            }
            Skip::SecondInZone => {
                tracing::info!(execution = %work.execution, subnet_id = %id, zone = %zone, "skipping a second subnet in one zone")
            }
        }
    }
    if chosen.is_empty() {
        let theirs: Vec<String> = subnets
            .iter()
            .map(|s| format!("{} in {}", s.subnet_id, s.zone))
            .collect();
        let why = match &zones {
            Some(zones) => format!(
                "no subnet is in an availability zone the Atlas endpoint service supports ({}); \
                 the subnets are {}: add a subnet in one of the service's zones",
                zones.join(", "),
                theirs.join(", ")
            ),
            None => format!(
                "none of the subnets {} was found in {}",
                p.subnet_ids.join(", "),
                p.vpc_id
            ),
        };
        return Err(StepError::invalid(
            format!("endpoints[{}].subnetIds", p.index),
            why,
        ));
    }
    Ok(chosen.into_iter().map(|s| s.subnet_id.clone()).collect())
}

/// Why [`choose_subnets`] leaves a subnet of the request out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// Its zone is not one the service supports.
    UnsupportedZone,
    /// An earlier subnet of the request is in its zone.
    SecondInZone,
}

/// The zone rule of a new endpoint: of the request's subnets `wanted` (in its order), as
/// described in `subnets` (missing ones are left out), those in a zone of `zones` (`None`:
/// any zone, as across regions), one per zone; and the others with why.
pub(crate) fn choose_subnets<'a>(
    wanted: &[String],
    subnets: &'a [SubnetInfo],
    zones: Option<&[String]>,
) -> (Vec<&'a SubnetInfo>, Vec<(&'a SubnetInfo, Skip)>) {
    let mut chosen: Vec<&SubnetInfo> = Vec::new();
    let mut skipped = Vec::new();
    for id in wanted {
        let Some(subnet) = subnets.iter().find(|s| &s.subnet_id == id) else {
            continue;
        };
        if zones.is_some_and(|z| !z.contains(&subnet.zone)) {
            skipped.push((subnet, Skip::UnsupportedZone));
        } else if chosen.iter().any(|c| c.zone == subnet.zone) {
            skipped.push((subnet, Skip::SecondInZone));
        } else {
            chosen.push(subnet);
        }
    }
    (chosen, skipped)
}

#[cfg(test)]
mod tests;
