//! Steps 6 and 7: link the VPC endpoint in Atlas, and verify both sides see it up.

use atlas_api::models::ConnectionStatus;

use super::{atlas_error, needs, region_clients};
use crate::aws::ec2;
use crate::context::Context;
use crate::error::{ErrorName, StepError};
use crate::state::{EndpointWork, LinkOut, VerifyOut};

/// Links the VPC endpoint to the Atlas service. Linked already (a 409, or found by a read)
/// counts as success with `created: false`.
pub async fn link_endpoint(ctx: &Context, work: EndpointWork) -> Result<LinkOut, StepError> {
    let service = needs(&work.service, "service")?;
    let vpce = &needs(&work.vpc_endpoint, "vpcEndpoint")?.vpc_endpoint_id;
    let group = &work.request.atlas.project_id;
    let atlas = ctx.atlas(&work.request).await?;
    match atlas
        .get_interface_endpoint(group, &service.service_id, vpce)
        .await
    {
        Ok(existing) => {
            return Ok(LinkOut {
                connection_status: existing.connection_status.to_string(),
                created: false,
            });
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(atlas_error(e)),
    }
    match atlas
        .create_interface_endpoint(group, &service.service_id, vpce)
        .await
    {
        Ok(linked) => {
            tracing::info!(execution = %work.execution, vpc_endpoint_id = %vpce, service_id = %service.service_id, "linked the VPC endpoint in Atlas");
            Ok(LinkOut {
                connection_status: linked.connection_status.to_string(),
                created: true,
            })
        }
        Err(e) if e.is_conflict() => {
            let existing = atlas
                .get_interface_endpoint(group, &service.service_id, vpce)
                .await
                .map_err(atlas_error)?;
            Ok(LinkOut {
                connection_status: existing.connection_status.to_string(),
                created: false,
            })
        }
        Err(e) => Err(atlas_error(e)),
    }
}

/// Checks that Atlas reports the endpoint `AVAILABLE` and EC2 reports it `available`.
/// `REJECTED`/`FAILED` (Atlas) or `rejected`/`failed`/gone (EC2) are terminal
/// (`InterfaceEndpointRejected`); anything else is `InterfaceEndpointNotReady`.
pub async fn verify_endpoint(ctx: &Context, work: EndpointWork) -> Result<VerifyOut, StepError> {
    let service = needs(&work.service, "service")?;
    let vpce = &needs(&work.vpc_endpoint, "vpcEndpoint")?.vpc_endpoint_id;
    let atlas = ctx.atlas(&work.request).await?;
    let clients = region_clients(ctx, &work).await;
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
    let interface = atlas
        .get_interface_endpoint(&work.request.atlas.project_id, &service.service_id, vpce)
        .await
        .map_err(atlas_error)?;
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
    if interface.connection_status != ConnectionStatus::Available || !ec2_state.is_available() {
        return Err(StepError::new(
            ErrorName::InterfaceEndpointNotReady,
            format!(
                "{vpce}: Atlas {}, EC2 {}",
                interface.connection_status, ec2_state.state
            ),
        ));
    }
    Ok(VerifyOut {
        connection_status: interface.connection_status.to_string(),
        vpc_endpoint_state: ec2_state.state,
    })
}
