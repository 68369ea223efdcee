//! Steps 2 and 3: the Atlas endpoint service of the region, and its AWS service name.

use atlas_api::models::{EndpointService, ServiceStatus, same_region};

use super::poll::{NotYet, not_yet, poll};
use super::remote_regions::{Progress, ensure_listed};
use super::{atlas_error, needs};
use crate::context::Context;
use crate::error::{ErrorName, StepError};
use crate::ports::{Atlas, Claims, DynamoClaims, HttpAtlas};
use crate::state::{EndpointWork, ServiceNameOut, ServiceRef};

/// The region's live service among `services`, if any (a DELETING or FAILED one is not reused).
pub(crate) fn live_service<'a>(
    services: &'a [EndpointService],
    region: &str,
) -> Option<&'a EndpointService> {
    services.iter().find(|s| {
        s.region_name
            .as_deref()
            .is_some_and(|r| same_region(r, region))
            && !matches!(s.status, ServiceStatus::Deleting | ServiceStatus::Failed)
    })
}

/// The region's service that keeps a new one from being created when there is no live one
/// (Atlas allows one service per region and provider, whatever its status: Admin API, "Create
/// One Private Endpoint Service for One Provider"): a DELETING one first, else a FAILED one.
pub(crate) fn blocking_service<'a>(
    services: &'a [EndpointService],
    region: &str,
) -> Option<&'a EndpointService> {
    let in_region = |status: ServiceStatus| {
        services.iter().find(move |s| {
            s.region_name
                .as_deref()
                .is_some_and(|r| same_region(r, region))
                && s.status == status
        })
    };
    in_region(ServiceStatus::Deleting).or_else(|| in_region(ServiceStatus::Failed))
}

/// Whether every interface endpoint of `service` is being removed (or gone): Atlas removes a
/// service with its last interface endpoint (Admin API, "Remove One Private Endpoint for One
/// Provider"), so such a service is about to disappear and must not be adopted. Reads the
/// interfaces until it finds one that stays: one read in the usual case.
async fn is_dying(
    atlas: &impl Atlas,
    group: &str,
    service: &EndpointService,
) -> Result<bool, StepError> {
    if service.interface_endpoints.is_empty() {
        return Ok(false);
    }
    for vpce in &service.interface_endpoints {
        match atlas.get_interface_endpoint(group, &service.id, vpce).await {
            Ok(interface) if !interface.delete_requested => return Ok(false),
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(atlas_error(e)),
        }
    }
    Ok(true)
}

/// How long the state machine waits before asking for the service name: nothing for a ready
/// service; the full known minimum for one still initiating, because Atlas does not say when
/// it started (a racing run created it moments ago, in the common case).
fn first_poll_after(ctx: &Context, service: &EndpointService) -> u64 {
    if service.status.is_ready() && service.endpoint_service_name.is_some() {
        0
    } else {
        ctx.settings.polling.service_min.as_secs()
    }
}

/// Ensures the project has an AWS endpoint service in the endpoint's region: adopts the
/// existing one, else creates it. A 409 "already exists for region" (a racing run created it
/// between our list and our create) is answered by listing again and adopting. While the
/// region's service is being deleted (a rollback, a teardown), `EndpointServiceNotReady`.
pub async fn ensure_endpoint_service(
    ctx: &Context,
    work: EndpointWork,
) -> Result<ServiceRef, StepError> {
    let atlas = HttpAtlas::new(ctx.atlas(&work.request).await?);
    let claims = ctx.claims().map(DynamoClaims::new);
    ensure(ctx, &atlas, claims.as_ref(), &work).await
}

/// [`ensure_endpoint_service`] over any [`Atlas`] and [`Claims`] (none: the stack has no
/// claims table): every decision of the step is here. `ctx` gives the clock and settings.
async fn ensure(
    ctx: &Context,
    atlas: &impl Atlas,
    claims: Option<&impl Claims>,
    work: &EndpointWork,
) -> Result<ServiceRef, StepError> {
    let group = &work.request.atlas.project_id;
    let region = work.endpoint.service_region.atlas_name();
    let services = atlas
        .list_endpoint_services(group)
        .await
        .map_err(atlas_error)?;
    if let Some(existing) = live_service(&services, region) {
        if is_dying(atlas, group, existing).await? {
            return Err(StepError::new(
                ErrorName::EndpointServiceNotReady,
                format!(
                    "the region's endpoint service {} is losing its last interface endpoint, and \
                     Atlas removes it with it; a new one can be created once it is gone",
                    existing.id
                ),
            ));
        }
        // Ours if our claim says so: an earlier attempt of this execution created it and
        // lost the answer.
        let created = match claims {
            Some(claims) => claims.holder(group, region).await?.is_some_and(|h| {
                h.execution == work.execution
                    && h.service_id.as_deref().is_none_or(|s| s == existing.id)
            }),
            None => false,
        };
        if let (true, Some(claims)) = (created, claims) {
            claims
                .record(group, region, &work.execution, &existing.id)
                .await?;
        }
        tracing::info!(execution = %work.execution, service_id = %existing.id, region = %region, created, "adopted the region's endpoint service");
        return Ok(ServiceRef {
            service_id: existing.id.clone(),
            created,
            first_poll_after_seconds: first_poll_after(ctx, existing),
        });
    }
    if let Some(deleting) =
        blocking_service(&services, region).filter(|s| s.status == ServiceStatus::Deleting)
    {
        // Atlas allows one service per region, the one being deleted included.
        return Err(StepError::new(
            ErrorName::EndpointServiceNotReady,
            format!(
                "the region's endpoint service {} is being deleted; a new one can be created once it is gone",
                deleting.id
            ),
        ));
    }
    if let Some(failed) = blocking_service(&services, region) {
        return Err(StepError::new(
            ErrorName::EndpointServiceFailed,
            format!(
                "the project's endpoint service {} in {region} is FAILED ({}); delete it in Atlas and run again",
                failed.id,
                failed.error_message.as_deref().unwrap_or("no reason given")
            ),
        ));
    }
    // One creator per project and region, known even if the answer is lost.
    if let Some(claims) = claims
        && let Err(holder) = claims
            .take(group, region, &work.execution, ctx.clock.now())
            .await?
    {
        return Err(StepError::new(
            ErrorName::EndpointServiceNotReady,
            format!(
                "execution {} is creating the region's endpoint service; it is adopted once it exists",
                holder.execution
            ),
        ));
    }
    match atlas.create_endpoint_service(group, region).await {
        Ok(created) => {
            if let Some(claims) = claims {
                claims
                    .record(group, region, &work.execution, &created.id)
                    .await?;
            }
            tracing::info!(execution = %work.execution, service_id = %created.id, region = %region, "created the region's endpoint service");
            Ok(ServiceRef {
                service_id: created.id,
                created: true,
                first_poll_after_seconds: ctx.settings.polling.service_min.as_secs(),
            })
        }
        Err(e) if e.is_service_already_exists_for_region() => {
            let services = atlas
                .list_endpoint_services(group)
                .await
                .map_err(atlas_error)?;
            let existing = live_service(&services, region).ok_or_else(|| {
                StepError::new(
                    ErrorName::EndpointServiceNotReady,
                    format!("Atlas says a service exists in {region}, but none is live yet (being deleted, or not listed yet)"),
                )
            })?;
            // With our claim held, nobody else of the workflow created it: it is ours, made by
            // an earlier try of this very call whose answer was lost.
            let created = claims.is_some();
            if let Some(claims) = claims {
                claims
                    .record(group, region, &work.execution, &existing.id)
                    .await?;
            }
            tracing::info!(execution = %work.execution, service_id = %existing.id, region = %region, created, "the region's service exists already (a lost answer, or a racing run)");
            Ok(ServiceRef {
                service_id: existing.id.clone(),
                created,
                first_poll_after_seconds: first_poll_after(ctx, existing),
            })
        }
        Err(e) => Err(atlas_error(e)),
    }
}

/// Reads the service until Atlas has published its AWS service name: `AVAILABLE` or
/// `WAITING_FOR_USER` with a name → done; `INITIATING` (or no name yet) → polled within the
/// invocation's budget, then `EndpointServiceNotReady` for the state machine to retry;
/// `FAILED` → `EndpointServiceFailed`.
///
/// A cross-region endpoint also needs the VPC's region in the service's
/// `supportedRemoteRegions`: the step registers the request as a user of the region, adds the
/// region if it is missing (under the claims table's lease, merged into the whole list), and
/// is done once the service is ready again with the region listed (`remote_region_added`
/// when this invocation's PATCH added it). See `steps::remote_regions`.
pub async fn get_service_name(
    ctx: &Context,
    work: EndpointWork,
) -> Result<ServiceNameOut, StepError> {
    needs(&work.service, "service")?;
    let atlas = ctx.polling_atlas(&work.request).await?;
    let claims = ctx.claims().map(DynamoClaims::new);
    let named = service_name(ctx, &atlas, claims.as_ref(), &work).await;
    atlas.stop_sharing().await;
    named
}

/// [`get_service_name`] over any [`Atlas`] and [`Claims`] (none: the stack has no claims
/// table): every decision of the step is here. `ctx` gives the clock and the polling
/// settings.
async fn service_name(
    ctx: &Context,
    atlas: &impl Atlas,
    claims: Option<&impl Claims>,
    work: &EndpointWork,
) -> Result<ServiceNameOut, StepError> {
    let service = needs(&work.service, "service")?;
    let group = &work.request.atlas.project_id;
    let plan = &work.endpoint;
    let progress = Progress::default();
    poll(ctx, "endpoint service name", || async {
        let current = match atlas
            .get_endpoint_service_shared(group, &service.service_id)
            .await
        {
            Ok(current) => current,
            Err(e) => return not_yet(atlas_error(e)).map(Err),
        };
        match (&current.status, &current.endpoint_service_name) {
            (ServiceStatus::Failed, _) => Err(StepError::new(
                ErrorName::EndpointServiceFailed,
                format!(
                    "endpoint service {} failed: {}",
                    current.id,
                    current
                        .error_message
                        .as_deref()
                        .unwrap_or("no reason given")
                ),
            )),
            (status, Some(name)) if status.is_ready() && !name.is_empty() => {
                if plan.is_cross_region()
                    && let Err(not_yet) = ensure_listed(
                        atlas,
                        claims,
                        ctx.clock.now(),
                        &work.execution,
                        group,
                        plan,
                        &current,
                        &progress,
                    )
                    .await?
                {
                    return Ok(Err(not_yet));
                }
                Ok(Ok(ServiceNameOut {
                    remote_region_added: progress.added(),
                    endpoint_service_name: name.clone(),
                    status: status.to_string(),
                }))
            }
            (status, _) => Ok(Err(NotYet::atlas(StepError::new(
                ErrorName::EndpointServiceNotReady,
                format!(
                    "endpoint service {} is {status}, no service name yet",
                    current.id
                ),
            )))),
        }
    })
    .await
}

#[cfg(test)]
mod tests;
