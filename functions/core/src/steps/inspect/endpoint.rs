//! One endpoint's pieces, found with the provisioning steps' own rules: the service
//! (`service::live_service`), its remote regions (`remote_regions::serves_region`), our
//! security group (`Ec2::find_security_group` by tag, then name) and the rules
//! configure-security-groups wants (`security_groups::wanted_sources`), the VPC endpoint
//! (`Ec2::find_vpc_endpoints`, ours first), the zone rule of a new endpoint
//! (`vpc_endpoint::choose_subnets`) and the link (one interface read).

use atlas_api::models::{ConnectionStatus, EndpointService};

use super::{Action, Check, CheckName, Item, Resource};
use crate::aws::ec2::missing_sources;
use crate::error::StepError;
use crate::ports::{Atlas, Ec2};
use crate::state::{
    EndpointPlan, EndpointResult, LinkOut, Plan, SecurityGroupsOut, ServiceNameOut, ServiceRef,
    VerifyOut, VpcEndpointOut,
};
use crate::steps::atlas_error;
use crate::steps::remote_regions::serves_region;
use crate::steps::security_groups::{group_name, wanted_sources};
use crate::steps::service::{blocking_service, live_service};
use crate::steps::vpc_endpoint::{Skip, choose_subnets};

/// What [`inspect_endpoint`] found for one endpoint.
#[derive(Debug)]
pub(super) struct Found {
    /// Its items, in workflow order.
    pub items: Vec<Item>,
    /// Its checks.
    pub checks: Vec<Check>,
    /// The found state, as the provisioning steps would have answered (nothing created).
    pub result: EndpointResult,
    /// The live (not dead) interface endpoints of its VPC.
    pub live_vpc_endpoints: Vec<String>,
    /// The live endpoint service it links to, if there is one.
    pub service_id: Option<String>,
}

/// Reads one endpoint's pieces. `services` is the project's list of endpoint services.
pub(super) async fn inspect_endpoint(
    atlas: &impl Atlas,
    ec2: &impl Ec2,
    services: &[EndpointService],
    plan: &Plan,
    p: &EndpointPlan,
    quota: usize,
) -> Result<Found, StepError> {
    let group = plan.request.atlas.project_id.as_str();
    let mut items = Vec::new();
    let mut checks = Vec::new();
    let mut result = EndpointResult::new(p.clone());
    let check = |name, passed, detail: String| Check {
        name,
        passed,
        detail,
        endpoint: Some(p.index),
    };

    // The endpoint service of the service region.
    let region = p.service_region.atlas_name();
    let service = live_service(services, region);
    let blocking = blocking_service(services, region);
    match service {
        Some(s) => {
            items.push(Item::new(
                Resource::EndpointService,
                Action::None,
                Some(&s.id),
                format!(
                    "{} in {region}{}",
                    s.status,
                    s.endpoint_service_name
                        .as_deref()
                        .map(|n| format!(", {n}"))
                        .unwrap_or_else(|| ", no AWS service name yet".to_owned())
                ),
            ));
            result.service = Some(ServiceRef {
                service_id: s.id.clone(),
                created: false,
                first_poll_after_seconds: 0,
            });
        }
        None => items.push(Item::new(
            Resource::EndpointService,
            Action::Create,
            None,
            match blocking {
                Some(b) => format!(
                    "no live endpoint service in {region}: {} is {}, and Atlas allows one per region",
                    b.id, b.status
                ),
                None => format!("the project has no endpoint service in {region}"),
            },
        )),
    }
    checks.push(check(
        CheckName::OneServicePerRegion,
        service.is_some() || blocking.is_none(),
        match (service, blocking) {
            (Some(s), _) => format!("endpoint service {} ({}) serves {region}", s.id, s.status),
            (None, Some(b)) => format!(
                "endpoint service {} in {region} is {}{}: Atlas allows one per region per \
                 project, so no new one can be created until it is gone (delete a FAILED one in \
                 Atlas)",
                b.id,
                b.status,
                b.error_message
                    .as_deref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            ),
            (None, None) => format!("no endpoint service in {region}; one can be created"),
        },
    ));
    let service_name = service
        .filter(|s| s.status.is_ready())
        .and_then(|s| s.endpoint_service_name.as_deref())
        .filter(|n| !n.is_empty());
    if let (Some(s), Some(name)) = (service, service_name) {
        result.service_name = Some(ServiceNameOut {
            endpoint_service_name: name.to_owned(),
            status: s.status.to_string(),
            remote_region_added: false,
        });
    }

    // Cross-region: the VPC's region among the service's remote regions.
    if p.is_cross_region() {
        let vpc_region = p.region.atlas_name();
        let (action, detail) = match service {
            Some(s) if serves_region(s, p) => {
                (Action::None, format!("{} lists {vpc_region}", s.id))
            }
            Some(s) => (
                Action::Create,
                format!(
                    "{} does not list {vpc_region} in its supportedRemoteRegions ({})",
                    s.id,
                    if s.supported_remote_regions.is_empty() {
                        "none".to_owned()
                    } else {
                        s.supported_remote_regions.join(", ")
                    }
                ),
            ),
            None => (
                Action::Create,
                format!("{vpc_region} is added once the service exists"),
            ),
        };
        items.push(Item::new(
            Resource::RemoteRegion,
            action,
            Some(vpc_region),
            detail,
        ));
    }

    // Our security group and its rules.
    let spec = &p.security_groups;
    let attach: Vec<String> = spec
        .attach_security_group_ids
        .iter()
        .map(|g| g.to_string())
        .collect();
    let mut own_group: Option<String> = None;
    if spec.create {
        let name = group_name(&p.request_key);
        let (from_groups, from_cidrs) = wanted_sources(p);
        match ec2
            .find_security_group(&p.vpc_id, &p.request_key, &name)
            .await?
        {
            Some(found) => {
                let action = if found.created_by.is_some() {
                    Action::None
                } else {
                    Action::Adopt
                };
                items.push(Item::new(
                    Resource::SecurityGroup,
                    action,
                    Some(&found.id),
                    format!("{name} in {}", p.vpc_id),
                ));
                let (have_groups, have_cidrs) = ec2.atlas_port_sources(&found.id).await?;
                let (missing_groups, missing_cidrs) =
                    missing_sources(&have_groups, &have_cidrs, &from_groups, &from_cidrs);
                for source in from_groups.iter().chain(&from_cidrs) {
                    let missing =
                        missing_groups.contains(&source) || missing_cidrs.contains(&source);
                    items.push(Item::new(
                        Resource::IngressRule,
                        if missing {
                            Action::Create
                        } else {
                            Action::None
                        },
                        Some(source),
                        format!(
                            "TCP 1024-65535 from {source} into {}{}",
                            found.id,
                            if missing { ": missing" } else { "" }
                        ),
                    ));
                }
                own_group = Some(found.id);
            }
            None => {
                items.push(Item::new(
                    Resource::SecurityGroup,
                    Action::Create,
                    None,
                    format!(
                        "no group {name} (or tagged with the request key) in {}",
                        p.vpc_id
                    ),
                ));
                for source in from_groups.iter().chain(&from_cidrs) {
                    items.push(Item::new(
                        Resource::IngressRule,
                        Action::Create,
                        Some(source),
                        format!("TCP 1024-65535 from {source}, into the new group"),
                    ));
                }
            }
        }
    }
    if own_group.is_some() || !spec.create {
        let mut ids = attach.clone();
        if let Some(own) = &own_group {
            ids.insert(0, own.clone());
        }
        ids.dedup();
        result.security_groups = Some(SecurityGroupsOut {
            security_group_ids: ids,
            own_group_id: own_group.clone(),
            created: false,
        });
    }

    // The VPC endpoint, our group on it, and the VPC's quota.
    let all = ec2.vpc_interface_endpoints(&p.vpc_id).await?;
    let live_vpc_endpoints: Vec<String> = all
        .iter()
        .filter(|e| !e.info.is_dead())
        .map(|e| e.info.id.clone())
        .collect();
    let vpc_endpoint = match service_name {
        Some(name) => ec2
            .find_vpc_endpoints(&p.vpc_id, name, &p.request_key)
            .await?
            .into_iter()
            .next(),
        None => None,
    };
    match &vpc_endpoint {
        Some(found) => {
            let action = if found.created_by.is_some() {
                Action::None
            } else {
                Action::Adopt
            };
            items.push(Item::new(
                Resource::VpcEndpoint,
                action,
                Some(&found.id),
                format!("{} in {}", found.state, p.vpc_id),
            ));
            result.vpc_endpoint = Some(VpcEndpointOut {
                vpc_endpoint_id: found.id.clone(),
                created: false,
                subnet_ids: Vec::new(),
            });
            if spec.create {
                let groups: Vec<String> = all
                    .iter()
                    .find(|e| e.info.id == found.id)
                    .map(|e| e.security_group_ids.clone())
                    .unwrap_or_default();
                let item = match &own_group {
                    Some(own) if groups.contains(own) => Item::new(
                        Resource::VpcEndpointSecurityGroup,
                        Action::None,
                        Some(own),
                        format!("attached to {}", found.id),
                    ),
                    Some(own) => Item::new(
                        Resource::VpcEndpointSecurityGroup,
                        Action::Update,
                        Some(own),
                        format!("not attached to {} (it has {})", found.id, listing(&groups)),
                    ),
                    None => Item::new(
                        Resource::VpcEndpointSecurityGroup,
                        Action::Update,
                        None,
                        format!(
                            "the new group is to be attached to {} (it has {})",
                            found.id,
                            listing(&groups)
                        ),
                    ),
                };
                items.push(item);
            }
        }
        None => {
            // An endpoint of ours that is dead counts as missing; say which.
            let dead = all.iter().find(|e| {
                e.info.is_dead()
                    && e.request_key.as_deref() == Some(p.request_key.as_str())
                    && service_name.is_none_or(|n| e.service_name == n)
            });
            let detail = match (service_name, dead) {
                (_, Some(dead)) => format!(
                    "{} is {}; a new endpoint is created in {}",
                    dead.info.id, dead.info.state, p.vpc_id
                ),
                (Some(name), None) => {
                    format!("no live interface endpoint of {} to {name}", p.vpc_id)
                }
                (None, None) => format!(
                    "created in {} once the endpoint service has its AWS service name",
                    p.vpc_id
                ),
            };
            items.push(Item::new(
                Resource::VpcEndpoint,
                Action::Create,
                None,
                detail,
            ));
            if spec.create {
                items.push(Item::new(
                    Resource::VpcEndpointSecurityGroup,
                    Action::Create,
                    own_group.as_deref(),
                    "attached when the VPC endpoint is created".to_owned(),
                ));
            }
        }
    }
    let count = all.iter().filter(|e| !e.info.is_dead()).count();
    let to_create = usize::from(vpc_endpoint.is_none());
    checks.push(check(
        CheckName::InterfaceEndpointQuota,
        count + to_create <= quota,
        format!(
            "{} has {count} interface endpoint{}{}; the quota is {quota}",
            p.vpc_id,
            if count == 1 { "" } else { "s" },
            if to_create > 0 {
                format!(", {} with the one to create", count + to_create)
            } else {
                String::new()
            }
        ),
    ));
    checks.push(zones_check(ec2, p, service_name, vpc_endpoint.is_some()).await?);

    // The link in Atlas.
    match (service, &vpc_endpoint) {
        (Some(s), Some(vpce)) => {
            let (action, detail) = match atlas.get_interface_endpoint(group, &s.id, &vpce.id).await
            {
                Ok(link) if link.delete_requested => (
                    Action::Create,
                    format!("Atlas is removing the link of {} on {}", vpce.id, s.id),
                ),
                Ok(link) => {
                    let status = link.connection_status.to_string();
                    result.link = Some(LinkOut {
                        connection_status: status.clone(),
                        created: false,
                        first_poll_after_seconds: 0,
                    });
                    match link.connection_status {
                        ConnectionStatus::Available => {
                            if vpce.is_available() {
                                result.verified = Some(VerifyOut {
                                    connection_status: status.clone(),
                                    vpc_endpoint_state: vpce.state.clone(),
                                    cluster_poll_after_seconds: 0,
                                });
                            }
                            (Action::None, format!("{status} on {}", s.id))
                        }
                        ConnectionStatus::Rejected | ConnectionStatus::Failed => (
                            Action::Update,
                            format!(
                                "{status} on {}: {}",
                                s.id,
                                link.error_message.as_deref().unwrap_or("no reason given")
                            ),
                        ),
                        _ => (
                            Action::None,
                            format!("{status} on {}: Atlas has not accepted it yet", s.id),
                        ),
                    }
                }
                Err(e) if e.is_not_found() => (
                    Action::Create,
                    format!("{} is not linked to {}", vpce.id, s.id),
                ),
                Err(e) => return Err(atlas_error(e)),
            };
            items.push(Item::new(Resource::Link, action, Some(&vpce.id), detail));
        }
        _ => items.push(Item::new(
            Resource::Link,
            Action::Create,
            None,
            "linked once the VPC endpoint exists".to_owned(),
        )),
    }

    Ok(Found {
        items,
        checks,
        result,
        live_vpc_endpoints,
        service_id: service.map(|s| s.id.clone()),
    })
}

/// The zone rule of a new endpoint (same region only): some subnet of the request is in a
/// zone the service supports. Subnets in other zones are named (create-vpc-endpoint skips
/// them).
async fn zones_check(
    ec2: &impl Ec2,
    p: &EndpointPlan,
    service_name: Option<&str>,
    endpoint_exists: bool,
) -> Result<Check, StepError> {
    let check = |passed, detail: String| Check {
        name: CheckName::AvailabilityZones,
        passed,
        detail,
        endpoint: Some(p.index),
    };
    if p.is_cross_region() {
        return Ok(check(
            true,
            "not checked: a cross-region endpoint's zones need not match the service's".into(),
        ));
    }
    let Some(name) = service_name else {
        return Ok(check(
            true,
            "not checked yet: the endpoint service has no AWS service name".into(),
        ));
    };
    let zones = ec2.service_zones(name).await?;
    if zones.is_empty() {
        return Ok(check(
            true,
            "the service does not list its zones; AWS decides".into(),
        ));
    }
    let subnets = ec2.describe_subnets(&p.subnet_ids).await?;
    let (chosen, skipped) = choose_subnets(&p.subnet_ids, &subnets, Some(&zones));
    let unsupported: Vec<String> = skipped
        .iter()
        .filter(|(_, why)| *why == Skip::UnsupportedZone)
        .map(|(s, _)| format!("{} in {}", s.subnet_id, s.zone))
        .collect();
    let usable: Vec<String> = chosen
        .iter()
        .map(|s| format!("{} in {}", s.subnet_id, s.zone))
        .collect();
    let mut detail = format!("the service supports {}", zones.join(", "));
    if !usable.is_empty() {
        detail += &format!("; usable: {}", usable.join(", "));
    }
    if !unsupported.is_empty() {
        detail += &format!(
            "; in a zone it does not support: {}",
            unsupported.join(", ")
        );
    }
    if usable.is_empty() && endpoint_exists {
        detail += " (the existing endpoint is kept)";
    }
    Ok(check(!usable.is_empty() || endpoint_exists, detail))
}

fn listing(ids: &[String]) -> String {
    if ids.is_empty() {
        "no group".to_owned()
    } else {
        ids.join(", ")
    }
}
