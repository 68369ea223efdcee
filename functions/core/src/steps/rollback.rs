//! Step 9: undo what this execution created, in the order link → VPC endpoint → security
//! group → endpoint service → secret. Adopted resources are left alone. What this execution
//! made is known from the steps' `created` flags and, for AWS resources whose step crashed
//! before it could report, from their `created-by` tag. Idempotent: safe to retry, and a retry
//! continues where the last attempt stopped.

use atlas_api::AtlasError;

use super::security_groups::group_name;
use super::{atlas_error, region_clients};
use crate::aws::consistency::list_until_shown;
use crate::aws::{ec2, secrets};
use crate::context::Context;
use crate::error::StepError;
use crate::state::{ExecutionState, Removed};

/// Removes what the execution created, as recorded by each step's `created` flag.
pub async fn rollback(ctx: &Context, state: &ExecutionState) -> Result<Removed, StepError> {
    let mut removed = Removed::default();
    let atlas = ctx.atlas(&state.request).await?;
    let group = &state.request.atlas.project_id;
    for result in state.endpoints.iter().rev() {
        let work = &state.work(result);
        let service = work.service.as_ref();
        let vpce = work.vpc_endpoint.as_ref();
        let clients = region_clients(ctx, work).await?;
        let p = &work.endpoint;
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
        let maybe_unrecorded = work.security_groups.is_some() && vpce.is_none();
        let mine =
            |e: &ec2::VpcEndpointInfo| e.created_by.as_deref() == Some(state.execution.as_str());
        let listed = list_until_shown(
            ctx.clock.as_ref(),
            |found: &Vec<ec2::VpcEndpointInfo>| maybe_unrecorded && !found.iter().any(mine),
            || ec2::find_vpc_endpoints_by_key(&clients.ec2, &p.vpc_id, &p.request_key),
        )
        .await?;
        for found in listed {
            if found.created_by.as_deref() == Some(state.execution.as_str())
                && !vpces.contains(&found.id)
            {
                vpces.push(found.id);
            }
        }
        // Links: the one the link step reports making, and any link to an endpoint this
        // execution made (the link step may have crashed before it could report).
        let mut links = vpces.clone();
        if let (Some(vpce), Some(link)) = (vpce, work.link.as_ref())
            && link.created
            && !links.contains(&vpce.vpc_endpoint_id)
        {
            links.push(vpce.vpc_endpoint_id.clone());
        }
        if let Some(service) = service {
            for id in links {
                unlink(&atlas, group, &service.service_id, &id).await?;
                removed.links.push(id);
            }
        }
        for id in vpces {
            ec2::delete_vpc_endpoint(&clients.ec2, ctx.clock.as_ref(), &id).await?;
            removed.vpc_endpoints.push(id);
        }
        let mut groups: Vec<String> = work
            .security_groups
            .as_ref()
            .filter(|s| s.created)
            .and_then(|s| s.own_group_id.clone())
            .into_iter()
            .collect();
        // The same for a group made by a step that crashed before reporting it.
        let maybe_unrecorded = work.service_name.is_some()
            && work.security_groups.is_none()
            && p.security_groups.create;
        let group_name = group_name(&p.request_key);
        let found_group = list_until_shown(
            ctx.clock.as_ref(),
            |found: &Option<ec2::Tagged>| maybe_unrecorded && found.is_none(),
            || ec2::find_security_group(&clients.ec2, &p.vpc_id, &p.request_key, &group_name),
        )
        .await?;
        if let Some(found) = found_group
            && found.created_by.as_deref() == Some(state.execution.as_str())
            && !groups.contains(&found.id)
        {
            groups.push(found.id);
        }
        for id in groups {
            ec2::delete_security_group(&clients.ec2, ctx.clock.as_ref(), &id).await?;
            removed.security_groups.push(id);
        }
        // The service: recorded as created, or held by this execution's claim (the step
        // crashed, or its answer was lost, before it could report).
        let mut service_id = service.filter(|s| s.created).map(|s| s.service_id.clone());
        let claims = ctx.claims();
        if let Some(claims) = &claims
            && let Some(holder) = claims.holder(group, p.region.atlas_name()).await?
            && holder.execution == state.execution
        {
            service_id = service_id.or(holder.service_id);
        }
        if let Some(id) = service_id
            && delete_service_if_unused(&atlas, group, &id).await?
        {
            removed.endpoint_services.push(id);
        }
        if let Some(claims) = &claims {
            claims
                .release(group, p.region.atlas_name(), Some(&state.execution))
                .await?;
        }
    }
    // The secret, if this execution created it (recorded, or found by its created-by tag
    // when the store step crashed before it could report).
    let (role, region) = super::store::secret_location(&state.request);
    let clients = ctx.aws.for_region(role, region).await?;
    let recorded = state
        .secret
        .as_ref()
        .filter(|s| s.created)
        .map(|s| s.secret_arn.clone());
    let tagged = secrets::created_by(
        &clients.secrets,
        &state.request.secret.name,
        &state.execution,
    )
    .await?;
    if let Some(arn) = recorded.or(tagged) {
        secrets::delete_secret(&clients.secrets, &arn, ctx.settings.secret_recovery_days).await?;
        removed.secrets.push(arn);
    }
    tracing::info!(execution = %state.execution, ?removed, "rolled back");
    Ok(removed)
}

/// Removes a link in Atlas (gone already is fine).
async fn unlink(
    atlas: &atlas_api::AtlasClient,
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
    atlas: &atlas_api::AtlasClient,
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
