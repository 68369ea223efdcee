//! Steps 6 and 7: link the VPC endpoint in Atlas, and verify both sides see it up.

use std::sync::Mutex;
use std::time::SystemTime;

use atlas_api::AtlasError;
use atlas_api::models::{ConnectionStatus, InterfaceEndpoint};

use super::poll::{NotYet, not_yet, poll};
use super::{atlas_error, needs, region_clients};
use crate::context::Context;
use crate::error::{ErrorName, StepError};
use crate::ports::{Atlas, Ec2, HttpAtlas, SdkEc2};
use crate::state::{EndpointWork, LinkOut, VerifyOut};

/// How many times one verify invocation removes and re-links an interface endpoint that
/// Atlas could not accept because AWS was busy with it.
const MAX_RELINKS: u32 = 3;

/// What Atlas's `errorMessage` says when it could not accept the endpoint because AWS was
/// still modifying it (terraform-provider-mongodbatlas#590, fixed by linking again).
const AWS_BUSY: &str = "idempotent operation";

fn rejected(message: String) -> StepError {
    StepError::new(ErrorName::InterfaceEndpointRejected, message)
}

/// Links the VPC endpoint to the Atlas service, once AWS has finished creating it.
///
/// Atlas accepts the endpoint on the AWS side when it is linked; while AWS is still creating
/// the endpoint (EC2 `pending`) that acceptance fails and the interface ends `FAILED`
/// (terraform-provider-mongodbatlas#590). So the step first waits, asking EC2 only, until
/// the endpoint has left `pending`. Then it creates the link (one call on the usual path) and
/// reads back only when Atlas refuses: a 409, or any other 4xx (what Atlas answers to a
/// duplicate link is not documented), found by the read → success with `created: false`.
pub async fn link_endpoint(ctx: &Context, work: EndpointWork) -> Result<LinkOut, StepError> {
    let service = needs(&work.service, "service")?;
    let vpce = &needs(&work.vpc_endpoint, "vpcEndpoint")?.vpc_endpoint_id;
    let clients = region_clients(ctx, &work).await?;
    let ec2 = SdkEc2::new(clients.ec2, ctx.clock.clone());
    wait_until_created(ctx, &ec2, vpce).await?;
    // Atlas is asked (and its credentials read) only once EC2 is done.
    let atlas = HttpAtlas::new(ctx.atlas(&work.request).await?);
    link(ctx, &atlas, &work, &service.service_id, vpce).await
}

/// Waits, asking EC2 only, until the VPC endpoint `vpce` has left `pending`; a dead or missing
/// endpoint is `InterfaceEndpointRejected`.
async fn wait_until_created(ctx: &Context, ec2: &impl Ec2, vpce: &str) -> Result<(), StepError> {
    poll(ctx, "VPC endpoint creation", || async {
        match ec2.describe_vpc_endpoint(vpce).await? {
            None => Err(rejected(format!("VPC endpoint {vpce} no longer exists"))),
            Some(info) if info.is_dead() => {
                Err(rejected(format!("VPC endpoint {vpce} is {}", info.state)))
            }
            Some(info) if info.state.eq_ignore_ascii_case("pending") => {
                Ok(Err(NotYet::ec2(StepError::new(
                    ErrorName::InterfaceEndpointNotReady,
                    format!(
                        "{vpce}: EC2 is still creating it (pending); Atlas cannot accept it yet"
                    ),
                ))))
            }
            Some(_) => Ok(Ok(())),
        }
    })
    .await
}

/// The link half of [`link_endpoint`] over any [`Atlas`]: create the link, and adopt one that
/// exists (`created: false`).
async fn link(
    ctx: &Context,
    atlas: &impl Atlas,
    work: &EndpointWork,
    service_id: &str,
    vpce: &str,
) -> Result<LinkOut, StepError> {
    let group = &work.request.atlas.project_id;
    let refused = match atlas
        .create_interface_endpoint(group, service_id, vpce)
        .await
    {
        Ok(linked) => {
            tracing::info!(execution = %work.execution, vpc_endpoint_id = %vpce, service_id = %service_id, "linked the VPC endpoint in Atlas");
            return Ok(LinkOut {
                connection_status: linked.connection_status.to_string(),
                created: true,
                first_poll_after_seconds: ctx.settings.polling.interface_min.as_secs(),
            });
        }
        Err(e @ (AtlasError::Conflict { .. } | AtlasError::Rejected { .. })) => e,
        Err(e) => return Err(atlas_error(e)),
    };
    match atlas.get_interface_endpoint(group, service_id, vpce).await {
        Ok(existing) => {
            tracing::info!(execution = %work.execution, vpc_endpoint_id = %vpce, status = %existing.connection_status, "the VPC endpoint was linked already");
            Ok(LinkOut {
                connection_status: existing.connection_status.to_string(),
                created: false,
                first_poll_after_seconds: 0,
            })
        }
        Err(e) if e.is_not_found() => Err(atlas_error(refused)),
        Err(e) => Err(atlas_error(e)),
    }
}

/// What verify remembers between probes.
#[derive(Debug, Default)]
struct Seen {
    /// The endpoint was not up at some probe (the cluster then starts an update).
    pending: bool,
    /// When Atlas was last read while EC2 was still waiting.
    atlas_read_at: Option<SystemTime>,
    /// Relinks made.
    relinks: u32,
    /// A removed interface is waiting to be linked again.
    relinking: bool,
}

/// Waits until EC2 reports the VPC endpoint `available` and Atlas reports it `AVAILABLE`.
///
/// While EC2 says it is pending, EC2 is asked at its cadence and Atlas only at the slow
/// cadence (`ATLAS_SLOW_POLL_SECONDS`), which is enough to see a link that Atlas will never
/// accept: `REJECTED` → `InterfaceEndpointRejected`, `FAILED` → `InterfaceEndpointFailed`
/// with Atlas's `errorMessage`, within that cadence rather than after the whole budget. A
/// link that `FAILED` because AWS was busy with the endpoint is removed and made again (at
/// most `MAX_RELINKS` (3) times), when the service has other endpoints: Atlas removes a service
/// with its last interface endpoint, so the only endpoint of a service is not removed (the
/// execution fails and rolls back, and a new run links it properly). Once EC2 says
/// `available`, Atlas confirms. Still pending when the polling budget is spent →
/// `InterfaceEndpointNotReady` for the state machine to retry.
pub async fn verify_endpoint(ctx: &Context, work: EndpointWork) -> Result<VerifyOut, StepError> {
    let service = needs(&work.service, "service")?;
    let vpce = &needs(&work.vpc_endpoint, "vpcEndpoint")?.vpc_endpoint_id;
    let atlas = HttpAtlas::polling(&*ctx.atlas(&work.request).await?);
    let clients = region_clients(ctx, &work).await?;
    let ec2 = SdkEc2::new(clients.ec2, ctx.clock.clone());
    verify(ctx, &atlas, &ec2, &work, &service.service_id, vpce).await
}

/// [`verify_endpoint`] over any [`Atlas`] and [`Ec2`]: every decision of the step is here.
async fn verify(
    ctx: &Context,
    atlas: &impl Atlas,
    ec2: &impl Ec2,
    work: &EndpointWork,
    service_id: &str,
    vpce: &str,
) -> Result<VerifyOut, StepError> {
    let group = &work.request.atlas.project_id;
    // Whether this execution saw the endpoint before it was up: the cluster then starts an
    // update, which takes at least `cluster_update_min`.
    let linked_now = work.link.as_ref().is_some_and(|l| l.created);
    let seen = Mutex::new(Seen::default());
    let slow = ctx.settings.polling.atlas_slow_every;
    let (connection_status, vpc_endpoint_state) = poll(ctx, "interface endpoint", || async {
        let ec2_state = match ec2.describe_vpc_endpoint(vpce).await? {
            Some(info) if info.is_dead() => {
                return Err(dead_endpoint(atlas, group, service_id, vpce, &info.state).await);
            }
            Some(info) => info,
            None => return Err(rejected(format!("VPC endpoint {vpce} no longer exists"))),
        };
        let now = ctx.clock.now();
        let ec2_ready = ec2_state.is_available();
        {
            let mut seen = lock(&seen);
            let due = seen
                .atlas_read_at
                .is_none_or(|at| now.duration_since(at).unwrap_or_default() >= slow);
            if !ec2_ready {
                seen.pending = true;
                if !due && !seen.relinking {
                    return Ok(Err(NotYet::ec2(StepError::new(
                        ErrorName::InterfaceEndpointNotReady,
                        format!("{vpce}: EC2 {}", ec2_state.state),
                    ))));
                }
                seen.atlas_read_at = Some(now);
            }
        }
        let interface = match atlas.get_interface_endpoint(group, service_id, vpce).await {
            Ok(interface) => interface,
            Err(e) if e.is_not_found() && lock(&seen).relinking => {
                relink(atlas, group, service_id, vpce).await?;
                lock(&seen).relinking = false;
                return Ok(Err(NotYet::ec2(StepError::new(
                    ErrorName::InterfaceEndpointNotReady,
                    format!("{vpce}: linked again in Atlas"),
                ))));
            }
            Err(e) => return not_yet(atlas_error(e)).map(Err),
        };
        if let Some(failure) = failure_of(atlas, group, service_id, &interface, &seen).await? {
            return Err(failure);
        }
        if interface.delete_requested || lock(&seen).relinking {
            return Ok(Err(NotYet::ec2(StepError::new(
                ErrorName::InterfaceEndpointNotReady,
                format!("{vpce}: Atlas is removing the failed link before linking it again"),
            ))));
        }
        if !ec2_ready || interface.connection_status != ConnectionStatus::Available {
            lock(&seen).pending = true;
            let next = if ec2_ready {
                NotYet::atlas
            } else {
                NotYet::ec2
            };
            return Ok(Err(next(StepError::new(
                ErrorName::InterfaceEndpointNotReady,
                format!(
                    "{vpce}: Atlas {}, EC2 {}",
                    interface.connection_status, ec2_state.state
                ),
            ))));
        }
        Ok(Ok((
            interface.connection_status.to_string(),
            ec2_state.state,
        )))
    })
    .await?;
    let cluster_poll_after_seconds = if linked_now || lock(&seen).pending {
        ctx.settings.polling.cluster_update_min.as_secs()
    } else {
        0
    };
    Ok(VerifyOut {
        connection_status,
        vpc_endpoint_state,
        cluster_poll_after_seconds,
    })
}

fn lock(seen: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The terminal error for a `REJECTED` or `FAILED` interface, unless a `FAILED` one can be
/// repaired by linking it again (then the removal is started and `None` returned).
async fn failure_of(
    atlas: &impl Atlas,
    group: &str,
    service_id: &str,
    interface: &InterfaceEndpoint,
    seen: &Mutex<Seen>,
) -> Result<Option<StepError>, StepError> {
    let vpce = &interface.interface_endpoint_id;
    let reason = interface
        .error_message
        .as_deref()
        .unwrap_or("no reason given");
    match interface.connection_status {
        ConnectionStatus::Rejected => Ok(Some(rejected(format!(
            "Atlas reports {vpce} as REJECTED: {reason}"
        )))),
        ConnectionStatus::Failed if !interface.delete_requested => {
            let busy = reason.contains(AWS_BUSY);
            let relinks = lock(seen).relinks;
            if busy && relinks < MAX_RELINKS {
                let service = atlas
                    .get_endpoint_service(group, service_id)
                    .await
                    .map_err(atlas_error)?;
                if service
                    .interface_endpoints
                    .iter()
                    .any(|other| other != vpce)
                {
                    tracing::warn!(vpc_endpoint_id = %vpce, reason, relinks, "Atlas could not accept the endpoint while AWS was busy with it; removing the link to make it again");
                    atlas
                        .delete_interface_endpoint(group, service_id, vpce)
                        .await
                        .map_err(atlas_error)?;
                    let mut seen = lock(seen);
                    seen.relinks += 1;
                    seen.relinking = true;
                    return Ok(None);
                }
            }
            let advice = if busy {
                " AWS was still busy with the endpoint when Atlas tried to accept it, and it is \
                 the service's only endpoint (removing it would remove the service): the \
                 execution rolls back what it made; run it again"
            } else {
                ""
            };
            Ok(Some(StepError::new(
                ErrorName::InterfaceEndpointFailed,
                format!("Atlas reports {vpce} as FAILED: {reason}.{advice}"),
            )))
        }
        _ => Ok(None),
    }
}

/// The error for a VPC endpoint that EC2 reports dead (`rejected`, `failed`, …), with Atlas's
/// reason when Atlas has one.
async fn dead_endpoint(
    atlas: &impl Atlas,
    group: &str,
    service_id: &str,
    vpce: &str,
    ec2_state: &str,
) -> StepError {
    match atlas.get_interface_endpoint(group, service_id, vpce).await {
        Ok(interface) if interface.connection_status == ConnectionStatus::Failed => StepError::new(
            ErrorName::InterfaceEndpointFailed,
            format!(
                "Atlas reports {vpce} as FAILED (EC2: {ec2_state}): {}",
                interface
                    .error_message
                    .as_deref()
                    .unwrap_or("no reason given")
            ),
        ),
        Ok(interface) => rejected(format!(
            "VPC endpoint {vpce} is {ec2_state} in EC2; Atlas reports {}: {}",
            interface.connection_status,
            interface
                .error_message
                .as_deref()
                .unwrap_or("no reason given")
        )),
        Err(_) => rejected(format!("VPC endpoint {vpce} is {ec2_state}")),
    }
}

/// Links `vpce` again after its failed link is gone.
async fn relink(
    atlas: &impl Atlas,
    group: &str,
    service_id: &str,
    vpce: &str,
) -> Result<(), StepError> {
    match atlas
        .create_interface_endpoint(group, service_id, vpce)
        .await
    {
        Ok(_) => {
            tracing::info!(vpc_endpoint_id = %vpce, "linked the VPC endpoint in Atlas again");
            Ok(())
        }
        Err(e) => Err(atlas_error(e)),
    }
}

#[cfg(test)]
mod tests;
