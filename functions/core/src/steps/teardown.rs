//! Teardown: the reverse of provisioning for one request. Unlink in Atlas → wait until the
//! link is gone → delete the VPC endpoint → delete our security group → delete the endpoint
//! service if nothing else uses it; then the secret, with a recovery window.
//!
//! Each call goes as far as it can and answers `InterfaceEndpointNotReady` while something is
//! still being deleted, for the state machine to retry.

use atlas_api::models::same_region;

use super::remote_regions::release_region;
use super::rollback::delete_service_if_unused;
use super::security_groups::group_name;
use super::{atlas_error, region_clients};
use crate::context::Context;
use crate::error::{ErrorName, StepError};
use crate::ports::{Atlas, Claims, DynamoClaims, Ec2, HttpAtlas, SdkEc2, SdkSecrets, Secrets};
use crate::state::{EndpointWork, ExecutionState, Removed};

fn not_ready(message: String) -> StepError {
    StepError::new(ErrorName::InterfaceEndpointNotReady, message)
}

/// Tears down one endpoint of a request: only what carries this request's tags.
pub async fn teardown_endpoint(ctx: &Context, work: EndpointWork) -> Result<Removed, StepError> {
    let atlas = HttpAtlas::new(ctx.atlas(&work.request).await?);
    let clients = region_clients(ctx, &work).await?;
    let ec2 = SdkEc2::new(clients.ec2, ctx.clock.clone());
    let claims = ctx.claims().map(DynamoClaims::new);
    tear_down(ctx, &ec2, &atlas, claims.as_ref(), &work).await
}

/// [`teardown_endpoint`] over any ports: every decision of the step is here. `ctx` gives the
/// clock (the lease on a service's remote regions).
async fn tear_down(
    ctx: &Context,
    ec2: &impl Ec2,
    atlas: &impl Atlas,
    claims: Option<&impl Claims>,
    work: &EndpointWork,
) -> Result<Removed, StepError> {
    let mut removed = Removed::default();
    let p = &work.endpoint;
    let group = &work.request.atlas.project_id;
    let ours = ec2
        .find_vpc_endpoints_by_key(&p.vpc_id, &p.request_key)
        .await?;
    let services = atlas
        .list_endpoint_services(group)
        .await
        .map_err(atlas_error)?;
    let service = services.iter().find(|s| {
        s.region_name
            .as_deref()
            .is_some_and(|r| same_region(r, p.service_region.atlas_name()))
    });

    // 1. Unlink in Atlas and wait until the link is gone.
    if let Some(service) = service {
        for vpce in &ours {
            match atlas
                .get_interface_endpoint(group, &service.id, &vpce.id)
                .await
            {
                Ok(link) => {
                    if !link.delete_requested {
                        atlas
                            .delete_interface_endpoint(group, &service.id, &vpce.id)
                            .await
                            .map_err(atlas_error)?;
                        removed.links.push(vpce.id.clone());
                    }
                    return Err(not_ready(format!(
                        "Atlas is removing the link of {}",
                        vpce.id
                    )));
                }
                // Gone: removed by this teardown, in this attempt or an earlier one (whose
                // output the retry does not see), so reported here.
                Err(e) if e.is_not_found() => removed.links.push(vpce.id.clone()),
                Err(e) => return Err(atlas_error(e)),
            }
        }
    } else {
        // Atlas removed the service with its last link. An endpoint whose link the provider
        // removed shows `rejected` in EC2: those links were this teardown's.
        removed.links.extend(
            ours.iter()
                .filter(|v| v.state.eq_ignore_ascii_case("rejected"))
                .map(|v| v.id.clone()),
        );
    }
    // 2. Delete our VPC endpoints and wait until they are gone.
    for vpce in &ours {
        if !vpce.state.eq_ignore_ascii_case("deleting") {
            ec2.delete_vpc_endpoint(&vpce.id).await?;
            removed.vpc_endpoints.push(vpce.id.clone());
        }
    }
    if !ec2
        .find_vpc_endpoints_by_key(&p.vpc_id, &p.request_key)
        .await?
        .is_empty()
    {
        return Err(not_ready(format!(
            "VPC endpoints of {} are being deleted",
            p.vpc_id
        )));
    }
    // 3. Our security group (DependencyViolation while the endpoint's interfaces go away).
    if let Some(sg) = ec2
        .find_security_group(&p.vpc_id, &p.request_key, &group_name(&p.request_key))
        .await?
    {
        ec2.delete_security_group(&sg.id).await?;
        removed.security_groups.push(sg.id);
    }
    // 4. The service, when no interface endpoint uses it any more.
    let service_gone = match service {
        Some(service) => {
            let gone = delete_service_if_unused(atlas, group, &service.id).await?;
            if gone {
                removed.endpoint_services.push(service.id.clone());
            }
            gone
        }
        // Atlas removed it with its last interface endpoint.
        None => true,
    };
    // 5. Cross-region: the VPC's region on the service, taken out when no other request uses
    // it. A service that is gone or going takes the region with it; only the registry is
    // tidied then.
    if let (true, Some(claims), Some(service)) = (p.is_cross_region(), claims, service) {
        if service_gone {
            claims
                .remove_region_user(group, &service.id, p.region.atlas_name(), &p.request_key)
                .await?;
        } else {
            release_region(
                atlas,
                claims,
                ctx.clock.now(),
                &work.execution,
                group,
                &service.id,
                p,
                None,
                &mut removed,
            )
            .await?;
        }
    } else if p.is_cross_region() && claims.is_none() {
        // No registry of users without a claims table: other requests may still use it.
        tracing::warn!(execution = %work.execution, region = %p.region, "no claims table: the VPC's region stays among the service's remote regions");
    }
    // Whoever created the service, its claim is over with it.
    if service_gone && let Some(claims) = claims {
        claims
            .release(group, p.service_region.atlas_name(), None)
            .await?;
    }
    tracing::info!(execution = %work.execution, ?removed, "tore down endpoint");
    Ok(removed)
}

/// Schedules the connection-string secret for deletion (recovery window from the settings).
pub async fn teardown_secret(ctx: &Context, state: &ExecutionState) -> Result<Removed, StepError> {
    let (role, region) = super::store::secret_location(&state.request);
    let secrets = SdkSecrets::new(ctx.aws.for_region(role, region).await?.secrets);
    tear_down_secret(&secrets, state, ctx.settings.secret_recovery_days).await
}

/// [`teardown_secret`] over any [`Secrets`]: the secret is deleted unless another request
/// owns it (its owner tag differs from this request's owner key). An absent secret, or one
/// without owner tag, is deleted (gone already is fine for the delete).
async fn tear_down_secret(
    secrets: &impl Secrets,
    state: &ExecutionState,
    recovery_days: i64,
) -> Result<Removed, StepError> {
    let name = state.request.secret.name.as_str();
    let owner = state.request.owner_key();
    if let Some(theirs) = secrets
        .describe_secret(name)
        .await?
        .and_then(|found| found.owner)
        .filter(|theirs| *theirs != owner)
    {
        // Another request's strings (same name given twice): theirs to delete.
        tracing::warn!(execution = %state.execution, secret = name, owner = %theirs, "the secret belongs to another request; left in place");
        return Ok(Removed::default());
    }
    secrets.delete_secret(name, recovery_days).await?;
    Ok(Removed {
        secrets: vec![state.request.secret.name.to_string()],
        ..Removed::default()
    })
}

#[cfg(test)]
mod tests;
