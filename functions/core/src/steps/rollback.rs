//! Step 9: undo what this execution created, in the order link → VPC endpoint → security
//! group → endpoint service → secret. Adopted resources are left alone. What this execution
//! made is known from the steps' `created` flags and, for AWS resources whose step crashed
//! before it could report, from their `created-by` tag. Idempotent: safe to retry, and a retry
//! continues where the last attempt stopped.

use atlas_api::AtlasError;

use super::remote_regions::release_region;
use super::security_groups::group_name;
use super::{atlas_error, region_clients};
use crate::aws::consistency::list_until_shown;
use crate::aws::ec2::{Tagged, VpcEndpointInfo};
use crate::context::Context;
use crate::error::StepError;
use crate::ports::{Atlas, Claims, DynamoClaims, Ec2, HttpAtlas, SdkEc2, SdkSecrets, Secrets};
use crate::state::{EndpointResult, ExecutionState, Removed};

/// Removes what the execution created, as recorded by each step's `created` flag.
pub async fn rollback(ctx: &Context, state: &ExecutionState) -> Result<Removed, StepError> {
    let mut removed = Removed::default();
    let atlas = HttpAtlas::new(ctx.atlas(&state.request).await?);
    let claims = ctx.claims().map(DynamoClaims::new);
    for result in state.endpoints.iter().rev() {
        let clients = region_clients(ctx, &state.work(result)).await?;
        let ec2 = SdkEc2::new(clients.ec2, ctx.clock.clone());
        undo_endpoint(
            ctx,
            &ec2,
            &atlas,
            claims.as_ref(),
            state,
            result,
            &mut removed,
        )
        .await?;
    }
    let (role, region) = super::store::secret_location(&state.request);
    let secrets = SdkSecrets::new(ctx.aws.for_region(role, region).await?.secrets);
    undo_secret(ctx, &secrets, state, &mut removed).await?;
    tracing::info!(execution = %state.execution, ?removed, "rolled back");
    Ok(removed)
}

/// Removes what the execution created for one endpoint (`result`), over any ports: every
/// decision of the step for an endpoint is here. `ctx` gives the clock.
async fn undo_endpoint(
    ctx: &Context,
    ec2: &impl Ec2,
    atlas: &impl Atlas,
    claims: Option<&impl Claims>,
    state: &ExecutionState,
    result: &EndpointResult,
    removed: &mut Removed,
) -> Result<(), StepError> {
    let group = &state.request.atlas.project_id;
    let service = result.service.as_ref();
    let vpce = result.vpc_endpoint.as_ref();
    let p = &result.endpoint;
    let mine =
        |created_by: &Option<String>| created_by.as_deref() == Some(state.execution.as_str());
    // What the outputs record, plus what carries this execution's created-by tag: a step
    // that crashed after its side effect left no output, but did leave its tags.
    let mut vpces: Vec<String> = vpce
        .filter(|v| v.created)
        .map(|v| v.vpc_endpoint_id.clone())
        .into_iter()
        .collect();
    // A step that crashed right after creating left no output, and EC2's lists are
    // eventually consistent: when the iteration got as far as creating an endpoint without
    // recording one, an empty list is believed only after the visibility budget.
    let maybe_unrecorded = result.security_groups.is_some() && vpce.is_none();
    let listed = list_until_shown(
        ctx.clock.as_ref(),
        |found: &Vec<VpcEndpointInfo>| {
            maybe_unrecorded && !found.iter().any(|e| mine(&e.created_by))
        },
        || ec2.find_vpc_endpoints_by_key(&p.vpc_id, &p.request_key),
    )
    .await?;
    // Cross-region: the request still reaches the service from its VPC's region through an
    // endpoint this execution did not make (an earlier execution's, or one made by other
    // means that was adopted), so the region stays whatever the registry says.
    let still_used = vpce.is_some_and(|v| !v.created)
        || listed.iter().any(|e| {
            !mine(&e.created_by) && !e.is_dead() && !e.state.eq_ignore_ascii_case("deleting")
        });
    for found in listed {
        if mine(&found.created_by) && !vpces.contains(&found.id) {
            vpces.push(found.id);
        }
    }
    // Links: the one the link step reports making, and any link to an endpoint this
    // execution made (the link step may have crashed before it could report).
    let mut links = vpces.clone();
    if let (Some(vpce), Some(link)) = (vpce, result.link.as_ref())
        && link.created
        && !links.contains(&vpce.vpc_endpoint_id)
    {
        links.push(vpce.vpc_endpoint_id.clone());
    }
    if let Some(service) = service {
        for id in links {
            unlink(atlas, group, &service.service_id, &id).await?;
            removed.links.push(id);
        }
    }
    for id in vpces {
        ec2.delete_vpc_endpoint(&id).await?;
        removed.vpc_endpoints.push(id);
    }
    let mut groups: Vec<String> = result
        .security_groups
        .as_ref()
        .filter(|s| s.created)
        .and_then(|s| s.own_group_id.clone())
        .into_iter()
        .collect();
    // The same for a group made by a step that crashed before reporting it.
    let maybe_unrecorded = result.service_name.is_some()
        && result.security_groups.is_none()
        && p.security_groups.create;
    let group_name = group_name(&p.request_key);
    let found_group = list_until_shown(
        ctx.clock.as_ref(),
        |found: &Option<Tagged>| maybe_unrecorded && found.is_none(),
        || ec2.find_security_group(&p.vpc_id, &p.request_key, &group_name),
    )
    .await?;
    if let Some(found) = found_group
        && mine(&found.created_by)
        && !groups.contains(&found.id)
    {
        groups.push(found.id);
    }
    for id in groups {
        ec2.delete_security_group(&id).await?;
        removed.security_groups.push(id);
    }
    // The service: recorded as created, or held by this execution's claim (the step
    // crashed, or its answer was lost, before it could report).
    let region = p.service_region.atlas_name();
    let mut service_id = service.filter(|s| s.created).map(|s| s.service_id.clone());
    if let Some(claims) = claims
        && let Some(holder) = claims.holder(group, region).await?
        && holder.execution == state.execution
    {
        service_id = service_id.or(holder.service_id);
    }
    let mut service_going = false;
    if let Some(id) = service_id
        && delete_service_if_unused(atlas, group, &id).await?
    {
        removed.endpoint_services.push(id);
        service_going = true;
    }
    // Cross-region: the VPC's region on the service, taken out when this request was its
    // last user and this execution added it (or registered the request for it: a step that
    // crashed after its PATCH left no output).
    if let (true, Some(claims), Some(service)) = (p.is_cross_region(), claims, service) {
        if service_going {
            // The region goes with the service; only the registry is tidied.
            claims
                .remove_region_user(
                    group,
                    &service.service_id,
                    p.region.atlas_name(),
                    &p.request_key,
                )
                .await?;
        } else if !still_used {
            let added = result
                .service_name
                .as_ref()
                .is_some_and(|s| s.remote_region_added);
            release_region(
                atlas,
                claims,
                ctx.clock.now(),
                &state.execution,
                group,
                &service.service_id,
                p,
                Some(added),
                removed,
            )
            .await?;
        }
    }
    if let Some(claims) = claims {
        claims
            .release(group, region, Some(&state.execution))
            .await?;
    }
    Ok(())
}

/// Removes the secret if this execution created it: recorded, or found by its created-by tag
/// (not scheduled for deletion) when the store step crashed before it could report.
async fn undo_secret(
    ctx: &Context,
    secrets: &impl Secrets,
    state: &ExecutionState,
    removed: &mut Removed,
) -> Result<(), StepError> {
    let recorded = state
        .secret
        .as_ref()
        .filter(|s| s.created)
        .map(|s| s.secret_arn.clone());
    let tagged = secrets
        .describe_secret(&state.request.secret.name)
        .await?
        .filter(|found| {
            !found.deleted && found.created_by.as_deref() == Some(state.execution.as_str())
        })
        .map(|found| found.arn);
    if let Some(arn) = recorded.or(tagged) {
        secrets
            .delete_secret(&arn, ctx.settings.secret_recovery_days)
            .await?;
        removed.secrets.push(arn);
    }
    Ok(())
}

/// Removes a link in Atlas (gone already is fine).
async fn unlink(
    atlas: &impl Atlas,
    group: &str,
    service_id: &str,
    vpce_id: &str,
) -> Result<(), StepError> {
    atlas
        .delete_interface_endpoint(group, service_id, vpce_id)
        .await
        .map_err(atlas_error)
}

/// Deletes an endpoint service that has no interface endpoints left (others' links keep it).
/// Returns whether it is gone or going.
pub(crate) async fn delete_service_if_unused(
    atlas: &impl Atlas,
    group: &str,
    service_id: &str,
) -> Result<bool, StepError> {
    match atlas.get_endpoint_service(group, service_id).await {
        Ok(service) if service.interface_endpoints.is_empty() => {
            atlas
                .delete_endpoint_service(group, service_id)
                .await
                .map_err(atlas_error)?;
            Ok(true)
        }
        // Links being deleted take the service with the last of them.
        Ok(_) => Ok(false),
        Err(AtlasError::NotFound { .. }) => Ok(true),
        Err(e) => Err(atlas_error(e)),
    }
}

#[cfg(test)]
mod tests;
