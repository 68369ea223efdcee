//! Steps 6 and 7: link the VPC endpoint in Atlas, and verify both sides see it up.

use std::sync::atomic::{AtomicBool, Ordering};

use atlas_api::AtlasError;
use atlas_api::models::ConnectionStatus;

use atlas_api::RetryPolicy;

use super::poll::{NotYet, not_yet, poll};
use super::{atlas_error, needs, region_clients};
use crate::aws::ec2;
use crate::context::Context;
use crate::error::{ErrorName, StepError};
use crate::state::{EndpointWork, LinkOut, VerifyOut};

/// Links the VPC endpoint to the Atlas service. It creates first (one call on the usual path)
/// and reads back only when Atlas refuses: a 409, or any other 4xx (what Atlas answers to a
/// duplicate link is not documented), found by the read → success with `created: false`.
pub async fn link_endpoint(ctx: &Context, work: EndpointWork) -> Result<LinkOut, StepError> {
    let service = needs(&work.service, "service")?;
    let vpce = &needs(&work.vpc_endpoint, "vpcEndpoint")?.vpc_endpoint_id;
    let group = &work.request.atlas.project_id;
    let atlas = ctx.atlas(&work.request).await?;
    let refused = match atlas
        .create_interface_endpoint(group, &service.service_id, vpce)
        .await
    {
        Ok(linked) => {
            tracing::info!(execution = %work.execution, vpc_endpoint_id = %vpce, service_id = %service.service_id, "linked the VPC endpoint in Atlas");
            return Ok(LinkOut {
                connection_status: linked.connection_status.to_string(),
                created: true,
                first_poll_after_seconds: ctx.settings.polling.interface_min.as_secs(),
            });
        }
        Err(e @ (AtlasError::Conflict { .. } | AtlasError::Rejected { .. })) => e,
        Err(e) => return Err(atlas_error(e)),
    };
    match atlas
        .get_interface_endpoint(group, &service.service_id, vpce)
        .await
    {
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

/// Waits until EC2 reports the VPC endpoint `available` and Atlas reports it `AVAILABLE`.
/// While EC2 says it is pending, only EC2 is asked (no Atlas call); then Atlas confirms.
/// `REJECTED`/`FAILED` (Atlas) or `rejected`/`failed`/gone (EC2) are terminal
/// (`InterfaceEndpointRejected`); still pending when the polling budget is spent →
/// `InterfaceEndpointNotReady` for the state machine to retry.
pub async fn verify_endpoint(ctx: &Context, work: EndpointWork) -> Result<VerifyOut, StepError> {
    let service = needs(&work.service, "service")?;
    let vpce = &needs(&work.vpc_endpoint, "vpcEndpoint")?.vpc_endpoint_id;
    let atlas = ctx
        .atlas(&work.request)
        .await?
        .with_retry(RetryPolicy::polling());
    let clients = region_clients(ctx, &work).await;
    let group = &work.request.atlas.project_id;
    // Whether this execution saw the endpoint before it was up: the cluster then starts an
    // update, which takes at least `cluster_update_min`.
    let linked_now = work.link.as_ref().is_some_and(|l| l.created);
    let saw_pending = AtomicBool::new(false);
    let (connection_status, vpc_endpoint_state) = poll(ctx, "interface endpoint", || async {
        let ec2_state = match ec2::describe_vpc_endpoint(&clients.ec2, vpce).await? {
            Some(info) if info.is_dead() => {
                return Err(StepError::new(
                    ErrorName::InterfaceEndpointRejected,
                    format!("VPC endpoint {vpce} is {}", info.state),
                ));
            }
            Some(info) => info,
            None => {
                return Err(StepError::new(
                    ErrorName::InterfaceEndpointRejected,
                    format!("VPC endpoint {vpce} no longer exists"),
                ));
            }
        };
        if !ec2_state.is_available() {
            saw_pending.store(true, Ordering::Relaxed);
            return Ok(Err(NotYet::ec2(StepError::new(
                ErrorName::InterfaceEndpointNotReady,
                format!("{vpce}: EC2 {}", ec2_state.state),
            ))));
        }
        let interface = match atlas
            .get_interface_endpoint(group, &service.service_id, vpce)
            .await
        {
            Ok(interface) => interface,
            Err(e) => return not_yet(atlas_error(e)).map(Err),
        };
        if interface.connection_status.is_terminal_failure() {
            return Err(StepError::new(
                ErrorName::InterfaceEndpointRejected,
                format!(
                    "Atlas reports {vpce} as {}: {}",
                    interface.connection_status,
                    interface
                        .error_message
                        .as_deref()
                        .unwrap_or("no reason given")
                ),
            ));
        }
        if interface.connection_status != ConnectionStatus::Available {
            saw_pending.store(true, Ordering::Relaxed);
            return Ok(Err(NotYet::atlas(StepError::new(
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
    let cluster_poll_after_seconds = if linked_now || saw_pending.load(Ordering::Relaxed) {
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
