//! Step 9: undo what this execution created, in the order link → VPC endpoint → security
//! group → endpoint service → secret. Adopted resources are left alone. Idempotent: safe to
//! retry, and a retry continues where the last attempt stopped.

use atlas_api::AtlasError;

use super::{atlas_error, region_clients};
use crate::aws::{ec2, secrets};
use crate::context::Context;
use crate::error::StepError;
use crate::state::{ExecutionState, Removed};

/// Removes what the execution created, as recorded by each step's `created` flag.
pub async fn rollback(ctx: &Context, state: &ExecutionState) -> Result<Removed, StepError> {
    let mut removed = Removed::default();
    let atlas = ctx.atlas(&state.request).await?;
    let group = &state.request.atlas.project_id;
    for work in state.endpoints.iter().rev() {
        let service = work.service.as_ref();
        let vpce = work.vpc_endpoint.as_ref();
        if let (Some(service), Some(vpce), Some(link)) = (service, vpce, work.link.as_ref())
            && link.created
        {
            atlas
                .delete_interface_endpoint(group, &service.service_id, &vpce.vpc_endpoint_id)
                .await
                .map_err(atlas_error)?;
            removed.links.push(vpce.vpc_endpoint_id.clone());
        }
        let clients = region_clients(ctx, work).await;
        if let Some(vpce) = vpce.filter(|v| v.created) {
            ec2::delete_vpc_endpoint(&clients.ec2, &vpce.vpc_endpoint_id).await?;
            removed.vpc_endpoints.push(vpce.vpc_endpoint_id.clone());
        }
        if let Some(sg) = work.security_groups.as_ref().filter(|s| s.created)
            && let Some(id) = &sg.own_group_id
        {
            ec2::delete_security_group(&clients.ec2, id).await?;
            removed.security_groups.push(id.clone());
        }
        if let Some(service) = service.filter(|s| s.created)
            && delete_service_if_unused(&atlas, group, &service.service_id).await?
        {
            removed.endpoint_services.push(service.service_id.clone());
        }
    }
    if let Some(secret) = state.secret.as_ref().filter(|s| s.created) {
        let (role, region) = super::store::secret_location(&state.request);
        let clients = ctx.aws.for_region(role, region).await;
        secrets::delete_secret(
            &clients.secrets,
            &secret.secret_arn,
            ctx.settings.secret_recovery_days,
        )
        .await?;
        removed.secrets.push(secret.secret_arn.clone());
    }
    tracing::info!(execution = %state.execution, ?removed, "rolled back");
    Ok(removed)
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
