//! Cross-region PrivateLink: the VPC's region in the `supportedRemoteRegions` of the cluster
//! region's endpoint service. get-service-name adds it; rollback and teardown-endpoint take it
//! out again once no request uses it.
//!
//! Atlas replaces the list wholesale on PATCH and offers no ETag or If-Match (research notes
//! issue 12, §1 "PATCH replaces the whole list"; Admin API spec,
//! `ApiAtlasModifyEndpointServiceRequestView`), so two writers that read, merge and write can
//! drop each other's regions. Our writers therefore take a short lease on the service in the
//! claims table, read the service under it, write the whole list (merged: never a region
//! dropped that someone else added) and release it; and the reader that decides "our region
//! is listed" reads under the lease too, so a removal cannot slip between its read and its
//! answer. Which requests use a region is a string set per (project, service, region), so the
//! last user takes the region out. A writer outside this product can still overwrite the
//! list: get-service-name re-reads on every probe and adds the region again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use atlas_api::models::{EndpointService, ServiceStatus};

use super::atlas_error;
use super::poll::{NotYet, Probe, not_yet};
use crate::error::{ErrorName, StepError};
use crate::ports::{Atlas, Claims};
use crate::state::{EndpointPlan, Removed};

/// At most this many remote regions per service (Atlas Admin API spec,
/// `ApiAtlasModifyEndpointServiceRequestView.supportedRemoteRegions`: `maxItems: 35`;
/// research notes issue 12, §1).
pub const MAX_REMOTE_REGIONS: usize = 35;

/// Who holds a lease: one endpoint (request key) of one execution, since the Map runs the
/// endpoints of an execution side by side.
pub fn lease_holder(execution: &str, request_key: &str) -> String {
    format!("{execution}/{request_key}")
}

/// What get-service-name's probes remember between them within one invocation.
#[derive(Debug, Default)]
pub struct Progress {
    /// The request is registered as a user of the region.
    registered: AtomicBool,
    /// This invocation's PATCH added the region.
    added: AtomicBool,
}

impl Progress {
    /// Whether this invocation's PATCH added the region.
    pub fn added(&self) -> bool {
        self.added.load(Ordering::SeqCst)
    }
}

fn not_ready(message: String) -> NotYet {
    NotYet::atlas(StepError::new(ErrorName::EndpointServiceNotReady, message))
}

/// One probe of get-service-name for a cross-region endpoint whose service (`current`, read
/// just now without the lease) is ready and named: ready once the service is ready with the
/// VPC's region listed; adds the region when it is missing (then not yet: Atlas applies the
/// change for a while, during which the region is not served).
///
/// Without a claims table there is no lease: two executions adding different regions to one
/// service at the same moment can then lose one of them (the PATCH replaces the whole list);
/// the loser's next probe sees its region missing and adds it again, but a region of a request
/// that already finished is not restored. There is no registry of users either, so rollback
/// and teardown leave the region listed.
#[allow(clippy::too_many_arguments)]
pub async fn ensure_listed(
    atlas: &impl Atlas,
    claims: Option<&impl Claims>,
    now: SystemTime,
    execution: &str,
    group: &str,
    plan: &EndpointPlan,
    current: &EndpointService,
    progress: &Progress,
) -> Probe<()> {
    let region = plan.region.atlas_name();
    let Some(claims) = claims else {
        return merge(atlas, group, plan, current, progress).await;
    };
    if !progress.registered.swap(true, Ordering::SeqCst) {
        claims
            .add_region_user(group, &current.id, region, &plan.request_key)
            .await?;
    }
    let holder = lease_holder(execution, &plan.request_key);
    if let Err(other) = claims.take_lease(group, &current.id, &holder, now).await? {
        return Ok(Err(not_ready(format!(
            "{other} is changing the remote regions of endpoint service {}; {region} is added \
             once its lease is released",
            current.id
        ))));
    }
    let outcome = async {
        let fresh = match atlas.get_endpoint_service(group, &current.id).await {
            Ok(fresh) => fresh,
            Err(e) => return not_yet(atlas_error(e)).map(Err),
        };
        merge(atlas, group, plan, &fresh, progress).await
    }
    .await;
    let released = claims.release_lease(group, &current.id, &holder).await;
    let outcome = outcome?;
    released?;
    Ok(outcome)
}

/// Whether `service` lists the VPC's region of `plan` in its `supportedRemoteRegions`.
pub(crate) fn serves_region(service: &EndpointService, plan: &EndpointPlan) -> bool {
    let region = plan.region.atlas_name();
    service.supported_remote_regions.iter().any(|r| r == region)
}

/// Given the service as read (under the lease when there is one): ready when it is ready with
/// the VPC's region listed; else adds the region to the whole list it read.
async fn merge(
    atlas: &impl Atlas,
    group: &str,
    plan: &EndpointPlan,
    service: &EndpointService,
    progress: &Progress,
) -> Probe<()> {
    let region = plan.region.atlas_name();
    if !service.status.is_ready() {
        return Ok(Err(not_ready(format!(
            "endpoint service {} is {}; its remote regions are changed once it is ready",
            service.id, service.status
        ))));
    }
    if serves_region(service, plan) {
        return Ok(Ok(()));
    }
    // Union: every region listed stays, whoever added it.
    let mut regions = service.supported_remote_regions.clone();
    regions.push(region.to_owned());
    if regions.len() > MAX_REMOTE_REGIONS {
        return Err(StepError::invalid(
            format!("endpoints[{}].serviceRegion", plan.index),
            format!(
                "the endpoint service in {} serves {} remote regions already; adding {region} \
                 would make {}, and Atlas allows at most {MAX_REMOTE_REGIONS} \
                 (supportedRemoteRegions maxItems)",
                plan.service_region,
                service.supported_remote_regions.len(),
                regions.len()
            ),
        ));
    }
    if let Err(e) = atlas
        .update_endpoint_service_remote_regions(group, &service.id, &regions)
        .await
    {
        return not_yet(atlas_error(e)).map(Err);
    }
    progress.added.store(true, Ordering::SeqCst);
    tracing::info!(service_id = %service.id, region, ?regions, "added the VPC's region to the service's remote regions");
    Ok(Err(not_ready(format!(
        "added {region} to the remote regions of endpoint service {}; Atlas is applying it",
        service.id
    ))))
}

/// What [`release_region`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Other requests still use the region, or it was not this request's to remove: kept.
    Kept,
    /// The region was listed and is now taken out.
    Removed,
    /// Nothing to take out: the service is gone, being deleted or failed, or does not list
    /// the region.
    NothingListed,
}

/// Removes `plan`'s request from the users of its VPC's region on `service_id` and, when no
/// request uses the region any more, takes the region out of the service's list (re-read
/// under the lease; every other region kept). `added` (rollback) limits the removal to a
/// region this execution added or this request was registered for; teardown passes `None`.
///
/// A lease held by someone else is `InterfaceEndpointNotReady`, before anything changed, for
/// the state machine to retry.
#[allow(clippy::too_many_arguments)]
pub async fn release_region(
    atlas: &impl Atlas,
    claims: &impl Claims,
    now: SystemTime,
    execution: &str,
    group: &str,
    service_id: &str,
    plan: &EndpointPlan,
    added: Option<bool>,
    removed: &mut Removed,
) -> Result<Released, StepError> {
    let region = plan.region.atlas_name();
    let holder = lease_holder(execution, &plan.request_key);
    if let Err(other) = claims.take_lease(group, service_id, &holder, now).await? {
        return Err(StepError::new(
            ErrorName::InterfaceEndpointNotReady,
            format!(
                "{other} is changing the remote regions of endpoint service {service_id}; \
                 {region} is taken out once its lease is released"
            ),
        ));
    }
    let outcome = async {
        let users = claims
            .remove_region_user(group, service_id, region, &plan.request_key)
            .await?;
        if users.remaining > 0 || added.is_some_and(|added| !added && !users.was_user) {
            tracing::info!(
                service_id,
                region,
                remaining = users.remaining,
                was_user = users.was_user,
                "the remote region stays"
            );
            return Ok(Released::Kept);
        }
        let service = match atlas.get_endpoint_service(group, service_id).await {
            Ok(service) => service,
            Err(e) if e.is_not_found() => return Ok(Released::NothingListed),
            Err(e) => return Err(atlas_error(e)),
        };
        if matches!(
            service.status,
            ServiceStatus::Deleting | ServiceStatus::Failed
        ) || !service.supported_remote_regions.iter().any(|r| r == region)
        {
            return Ok(Released::NothingListed);
        }
        let regions: Vec<String> = service
            .supported_remote_regions
            .iter()
            .filter(|r| *r != region)
            .cloned()
            .collect();
        atlas
            .update_endpoint_service_remote_regions(group, service_id, &regions)
            .await
            .map_err(atlas_error)?;
        tracing::info!(
            service_id,
            region,
            ?regions,
            "took the VPC's region out of the service's remote regions"
        );
        Ok(Released::Removed)
    }
    .await;
    let released = claims.release_lease(group, service_id, &holder).await;
    let outcome = outcome?;
    released?;
    if outcome == Released::Removed {
        removed
            .remote_regions
            .push(format!("{service_id}/{}", plan.region));
    }
    Ok(outcome)
}
