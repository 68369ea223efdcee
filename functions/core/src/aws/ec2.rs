//! The EC2 calls of the workflow: VPC and subnet discovery, the endpoint's security group,
//! and the VPC interface endpoint. Every lookup that could adopt something existing comes
//! before any create, so a re-run after a crash finds what the first run made.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, ResourceType, Tag, TagSpecification, UserIdGroupPair,
    VpcEndpointType,
};

use aws_sdk_ec2::operation::RequestId;
use clock::Clock;

use super::consistency::{is_not_found, until_visible};
use super::errors::{classify, error_code};
use crate::error::{ErrorName, StepError};

/// A VPC and the CIDR blocks it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcInfo {
    /// `vpc-…`.
    pub vpc_id: String,
    /// IPv4 and IPv6 CIDR blocks associated with the VPC.
    pub cidrs: Vec<String>,
}

/// A subnet, its VPC and its availability zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetInfo {
    /// `subnet-…`.
    pub subnet_id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its availability zone (`us-east-1a`).
    pub zone: String,
}

/// A resource found by our tags, with who created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    /// Resource id.
    pub id: String,
    /// Execution that created it (`atlas-privatelink:created-by`), if it carries our tags.
    pub created_by: Option<String>,
}

/// A VPC interface endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcEndpointInfo {
    /// `vpce-…`.
    pub id: String,
    /// State as AWS spells it on the wire (`pendingAcceptance`, `available`, …).
    pub state: String,
    /// Execution that created it, when it carries our tags.
    pub created_by: Option<String>,
    /// The security groups attached to it.
    pub security_group_ids: Vec<String>,
}

impl VpcEndpointInfo {
    /// Whether the endpoint is `available`. Compared case-insensitively: aws-sdk-rust parses
    /// the camel-case wire value as `Unknown("available")` (aws-sdk-rust#619).
    pub fn is_available(&self) -> bool {
        self.state.eq_ignore_ascii_case("available")
    }

    /// Whether the endpoint can never become available.
    pub fn is_dead(&self) -> bool {
        ["rejected", "failed", "deleted", "deleting", "expired"]
            .iter()
            .any(|s| self.state.eq_ignore_ascii_case(s))
    }
}

/// Tag key holding the idempotency key of one endpoint of one request.
pub const TAG_REQUEST_KEY: &str = "atlas-privatelink:request-key";
/// Tag key holding the execution that created the resource.
pub const TAG_CREATED_BY: &str = "atlas-privatelink:created-by";

fn filter(name: &str, value: impl Into<String>) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

fn tag_spec(resource: ResourceType, tags: &[(String, String)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

/// Reads one VPC; `None` when it does not exist (a filter, not `VpcIds`, so a missing id is
/// an empty answer rather than an error code to interpret).
pub async fn describe_vpc(client: &Client, vpc_id: &str) -> Result<Option<VpcInfo>, StepError> {
    let out = client
        .describe_vpcs()
        .filters(filter("vpc-id", vpc_id))
        .send()
        .await
        .map_err(|e| classify("DescribeVpcs", e))?;
    Ok(out.vpcs().first().map(vpc_info))
}

fn vpc_info(vpc: &aws_sdk_ec2::types::Vpc) -> VpcInfo {
    let mut cidrs: Vec<String> = vpc
        .cidr_block_association_set()
        .iter()
        .filter_map(|a| a.cidr_block().map(str::to_owned))
        .collect();
    if cidrs.is_empty()
        && let Some(primary) = vpc.cidr_block()
    {
        cidrs.push(primary.to_owned());
    }
    cidrs.extend(
        vpc.ipv6_cidr_block_association_set()
            .iter()
            .filter_map(|a| a.ipv6_cidr_block().map(str::to_owned)),
    );
    VpcInfo {
        vpc_id: vpc.vpc_id().unwrap_or_default().to_owned(),
        cidrs,
    }
}

/// VPCs carrying the tag `key=value`.
pub async fn find_vpcs_by_tag(
    client: &Client,
    key: &str,
    value: &str,
) -> Result<Vec<VpcInfo>, StepError> {
    let out = client
        .describe_vpcs()
        .filters(filter(&format!("tag:{key}"), value))
        .send()
        .await
        .map_err(|e| classify("DescribeVpcs", e))?;
    Ok(out.vpcs().iter().map(vpc_info).collect())
}

/// Subnets by id (missing ones are simply absent from the result).
pub async fn describe_subnets(
    client: &Client,
    ids: &[String],
) -> Result<Vec<SubnetInfo>, StepError> {
    let out = client
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("subnet-id")
                .set_values(Some(ids.to_vec()))
                .build(),
        )
        .send()
        .await
        .map_err(|e| classify("DescribeSubnets", e))?;
    Ok(out.subnets().iter().map(subnet_info).collect())
}

fn subnet_info(s: &aws_sdk_ec2::types::Subnet) -> SubnetInfo {
    SubnetInfo {
        subnet_id: s.subnet_id().unwrap_or_default().to_owned(),
        vpc_id: s.vpc_id().unwrap_or_default().to_owned(),
        zone: s.availability_zone().unwrap_or_default().to_owned(),
    }
}

/// Subnets of `vpc_id` carrying the tag `key=value`.
pub async fn find_subnets_by_tag(
    client: &Client,
    vpc_id: &str,
    key: &str,
    value: &str,
) -> Result<Vec<SubnetInfo>, StepError> {
    let out = client
        .describe_subnets()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter(&format!("tag:{key}"), value))
        .send()
        .await
        .map_err(|e| classify("DescribeSubnets", e))?;
    let mut subnets: Vec<SubnetInfo> = out.subnets().iter().map(subnet_info).collect();
    subnets.sort_by(|a, b| a.subnet_id.cmp(&b.subnet_id));
    Ok(subnets)
}

/// Security groups by id, with their VPC: `(group id, vpc id)`.
pub async fn describe_security_groups(
    client: &Client,
    ids: &[String],
) -> Result<Vec<(String, String)>, StepError> {
    let out = client
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name("group-id")
                .set_values(Some(ids.to_vec()))
                .build(),
        )
        .send()
        .await
        .map_err(|e| classify("DescribeSecurityGroups", e))?;
    Ok(out
        .security_groups()
        .iter()
        .map(|g| {
            (
                g.group_id().unwrap_or_default().to_owned(),
                g.vpc_id().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// Our security group for `request_key` in `vpc_id`, found by tag, else by its deterministic
/// name (a group made by a run that crashed between create and tag).
pub async fn find_security_group(
    client: &Client,
    vpc_id: &str,
    request_key: &str,
    group_name: &str,
) -> Result<Option<Tagged>, StepError> {
    for f in [
        filter(&format!("tag:{TAG_REQUEST_KEY}"), request_key),
        filter("group-name", group_name),
    ] {
        let out = client
            .describe_security_groups()
            .filters(filter("vpc-id", vpc_id))
            .filters(f)
            .send()
            .await
            .map_err(|e| classify("DescribeSecurityGroups", e))?;
        if let Some(g) = out.security_groups().first() {
            return Ok(Some(Tagged {
                id: g.group_id().unwrap_or_default().to_owned(),
                created_by: tag_value(g.tags(), TAG_CREATED_BY).map(str::to_owned),
            }));
        }
    }
    Ok(None)
}

/// Creates a security group with tags and returns it. A group of the same name made
/// meanwhile (a racing run) is returned instead, with its `created-by` tag, so the caller
/// knows whether it is its own.
pub async fn create_security_group(
    client: &Client,
    vpc_id: &str,
    group_name: &str,
    description: &str,
    tags: &[(String, String)],
    execution: &str,
) -> Result<Tagged, StepError> {
    let created = client
        .create_security_group()
        .vpc_id(vpc_id)
        .group_name(group_name)
        .description(description)
        .tag_specifications(tag_spec(ResourceType::SecurityGroup, tags))
        .send()
        .await;
    match created {
        Ok(out) => {
            tracing::info!(
                aws_request_id = out.request_id().unwrap_or("none"),
                group_id = out.group_id().unwrap_or_default(),
                "CreateSecurityGroup"
            );
            Ok(Tagged {
                id: out.group_id().unwrap_or_default().to_owned(),
                created_by: Some(execution.to_owned()),
            })
        }
        Err(e) if error_code(&e) == Some("InvalidGroup.Duplicate") => {
            let out = client
                .describe_security_groups()
                .filters(filter("vpc-id", vpc_id))
                .filters(filter("group-name", group_name))
                .send()
                .await
                .map_err(|e| classify("DescribeSecurityGroups", e))?;
            out.security_groups()
                .first()
                .map(|g| Tagged {
                    id: g.group_id().unwrap_or_default().to_owned(),
                    created_by: tag_value(g.tags(), TAG_CREATED_BY).map(str::to_owned),
                })
                .ok_or_else(|| {
                    // EC2 lists it once it is visible (eventual consistency).
                    StepError::new(
                        ErrorName::AwsUnavailable,
                        format!(
                            "security group {group_name} reported as duplicate but not listed yet"
                        ),
                    )
                })
        }
        Err(e) => Err(classify("CreateSecurityGroup", e)),
    }
}

/// The ingress sources of `group_id` for TCP 1024–65535: (security groups, CIDRs).
pub async fn atlas_port_sources(
    client: &Client,
    clock: &dyn Clock,
    group_id: &str,
) -> Result<(Vec<String>, Vec<String>), StepError> {
    let out = until_visible(clock, group_id, || {
        client.describe_security_groups().group_ids(group_id).send()
    })
    .await
    .map_err(|e| classify("DescribeSecurityGroups", e))?;
    let mut groups = Vec::new();
    let mut cidrs = Vec::new();
    for permission in out
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions())
        .filter(|p| {
            p.ip_protocol() == Some("tcp")
                && p.from_port() == Some(1024)
                && p.to_port() == Some(65535)
        })
    {
        groups.extend(
            permission
                .user_id_group_pairs()
                .iter()
                .filter_map(|p| p.group_id().map(str::to_owned)),
        );
        cidrs.extend(
            permission
                .ip_ranges()
                .iter()
                .filter_map(|r| r.cidr_ip().map(str::to_owned)),
        );
        cidrs.extend(
            permission
                .ipv6_ranges()
                .iter()
                .filter_map(|r| r.cidr_ipv6().map(str::to_owned)),
        );
    }
    Ok((groups, cidrs))
}

/// The sources among `from_groups` and `from_cidrs` that the rules `have_groups` and
/// `have_cidrs` (as [`atlas_port_sources`] reads them) do not allow yet: what
/// [`allow_atlas_ports`] adds, and what inspect reports as missing. CIDRs compare as networks
/// (`10.0.0.1/16` is `10.0.0.0/16`; EC2 stores the network).
pub fn missing_sources<'a>(
    have_groups: &[String],
    have_cidrs: &[String],
    from_groups: &'a [String],
    from_cidrs: &'a [String],
) -> (Vec<&'a String>, Vec<&'a String>) {
    let same_cidr = |a: &str, b: &str| match (a.parse::<ipnet::IpNet>(), b.parse::<ipnet::IpNet>())
    {
        (Ok(a), Ok(b)) => a.trunc() == b.trunc(),
        _ => a == b,
    };
    let groups = from_groups
        .iter()
        .filter(|g| !have_groups.contains(g))
        .collect();
    let cidrs = from_cidrs
        .iter()
        .filter(|c| !have_cidrs.iter().any(|h| same_cidr(h, c)))
        .collect();
    (groups, cidrs)
}

/// Allows TCP 1024–65535 (the ports Atlas's PrivateLink load balancer maps nodes to) from the
/// given security groups and CIDRs. The group's rules are read first and only the missing
/// ones are added: AWS refuses the whole call when one rule exists already
/// (`InvalidPermission.Duplicate`), so adding a source to a request later still takes effect.
/// Returns the sources added.
pub async fn allow_atlas_ports(
    client: &Client,
    clock: &dyn Clock,
    group_id: &str,
    from_groups: &[String],
    from_cidrs: &[String],
) -> Result<Vec<String>, StepError> {
    let (have_groups, have_cidrs) = atlas_port_sources(client, clock, group_id).await?;
    let (groups, cidrs) = missing_sources(&have_groups, &have_cidrs, from_groups, from_cidrs);
    if groups.is_empty() && cidrs.is_empty() {
        return Ok(Vec::new());
    }
    let mut permission = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(1024)
        .to_port(65535);
    for g in &groups {
        permission = permission.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(*g)
                .description("atlas-privatelink: clients of the Atlas cluster")
                .build(),
        );
    }
    for cidr in &cidrs {
        permission = if cidr.contains(':') {
            permission.ipv6_ranges(
                Ipv6Range::builder()
                    .cidr_ipv6(*cidr)
                    .description("atlas-privatelink")
                    .build(),
            )
        } else {
            permission.ip_ranges(
                IpRange::builder()
                    .cidr_ip(*cidr)
                    .description("atlas-privatelink")
                    .build(),
            )
        };
    }
    let permission = permission.build();
    let result = until_visible(clock, group_id, || {
        client
            .authorize_security_group_ingress()
            .group_id(group_id)
            .ip_permissions(permission.clone())
            .send()
    })
    .await;
    match result {
        Ok(_) => {}
        // A racing run added the same rule between our read and our write.
        Err(e) if error_code(&e) == Some("InvalidPermission.Duplicate") => {}
        Err(e) => return Err(classify("AuthorizeSecurityGroupIngress", e)),
    }
    Ok(groups.into_iter().chain(cidrs).cloned().collect())
}

/// Deletes a security group. Gone already is fine (after the visibility budget: a group made
/// moments ago may not be visible yet); still in use (the endpoint's network interfaces are
/// being removed) is `InterfaceEndpointNotReady`, to be retried.
pub async fn delete_security_group(
    client: &Client,
    clock: &dyn Clock,
    group_id: &str,
) -> Result<(), StepError> {
    match until_visible(clock, group_id, || {
        client.delete_security_group().group_id(group_id).send()
    })
    .await
    {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e) == Some("InvalidGroup.NotFound") => Ok(()),
        Err(e) if error_code(&e) == Some("DependencyViolation") => Err(StepError::new(
            ErrorName::InterfaceEndpointNotReady,
            format!("security group {group_id} is still in use by the endpoint being deleted"),
        )),
        Err(e) => Err(classify("DeleteSecurityGroup", e)),
    }
}

fn endpoint_info(e: &aws_sdk_ec2::types::VpcEndpoint) -> VpcEndpointInfo {
    VpcEndpointInfo {
        id: e.vpc_endpoint_id().unwrap_or_default().to_owned(),
        state: e.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        created_by: tag_value(e.tags(), TAG_CREATED_BY).map(str::to_owned),
        security_group_ids: e
            .groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_owned))
            .collect(),
    }
}

/// Attaches `groups` to the VPC endpoint `vpce_id` (ModifyVpcEndpoint `AddSecurityGroupIds`;
/// groups attached already stay as they are).
pub async fn add_vpc_endpoint_security_groups(
    client: &Client,
    vpce_id: &str,
    groups: &[String],
) -> Result<(), StepError> {
    client
        .modify_vpc_endpoint()
        .vpc_endpoint_id(vpce_id)
        .set_add_security_group_ids(Some(groups.to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| classify("ModifyVpcEndpoint", e))
}

/// Live interface endpoints of `vpc_id` to `service_name`: ours (by request key) first, then
/// any other (made by hand, say), which we adopt rather than duplicate.
pub async fn find_vpc_endpoints(
    client: &Client,
    vpc_id: &str,
    service_name: &str,
    request_key: &str,
) -> Result<Vec<VpcEndpointInfo>, StepError> {
    let out = client
        .describe_vpc_endpoints()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("service-name", service_name))
        .send()
        .await
        .map_err(|e| classify("DescribeVpcEndpoints", e))?;
    let mut found: Vec<(bool, VpcEndpointInfo)> = out
        .vpc_endpoints()
        .iter()
        .map(|e| {
            (
                tag_value(e.tags(), TAG_REQUEST_KEY) == Some(request_key),
                endpoint_info(e),
            )
        })
        .filter(|(_, info)| !info.is_dead())
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
    Ok(found.into_iter().map(|(_, info)| info).collect())
}

/// An interface endpoint of a VPC with what inspect compares: its service, its security
/// groups and our request key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcEndpointDetail {
    /// `vpce-…`, its state and who created it.
    pub info: VpcEndpointInfo,
    /// The service it connects to (`com.amazonaws.vpce.…`).
    pub service_name: String,
    /// The security groups attached to its network interfaces.
    pub security_group_ids: Vec<String>,
    /// Its `atlas-privatelink:request-key` tag.
    pub request_key: Option<String>,
}

/// Every interface endpoint of `vpc_id` except `deleted` ones, whatever its service: what
/// counts against the VPC's quota of interface endpoints, with the groups of each.
pub async fn vpc_interface_endpoints(
    client: &Client,
    vpc_id: &str,
) -> Result<Vec<VpcEndpointDetail>, StepError> {
    let mut found = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = client
            .describe_vpc_endpoints()
            .filters(filter("vpc-id", vpc_id))
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| classify("DescribeVpcEndpoints", e))?;
        found.extend(
            out.vpc_endpoints()
                .iter()
                .filter(|e| {
                    e.vpc_endpoint_type()
                        .is_none_or(|t| *t == VpcEndpointType::Interface)
                })
                .map(|e| VpcEndpointDetail {
                    info: endpoint_info(e),
                    service_name: e.service_name().unwrap_or_default().to_owned(),
                    security_group_ids: e
                        .groups()
                        .iter()
                        .filter_map(|g| g.group_id().map(str::to_owned))
                        .collect(),
                    request_key: tag_value(e.tags(), TAG_REQUEST_KEY).map(str::to_owned),
                })
                .filter(|e| !e.info.state.eq_ignore_ascii_case("deleted")),
        );
        match out.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => return Ok(found),
        }
    }
}

/// Live VPC endpoints of `vpc_id` carrying our request key (whatever their service).
pub async fn find_vpc_endpoints_by_key(
    client: &Client,
    vpc_id: &str,
    request_key: &str,
) -> Result<Vec<VpcEndpointInfo>, StepError> {
    let out = client
        .describe_vpc_endpoints()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter(&format!("tag:{TAG_REQUEST_KEY}"), request_key))
        .send()
        .await
        .map_err(|e| classify("DescribeVpcEndpoints", e))?;
    Ok(out
        .vpc_endpoints()
        .iter()
        .map(endpoint_info)
        .filter(|e| !e.state.eq_ignore_ascii_case("deleted"))
        .collect())
}

/// Creates the interface endpoint: all subnets, the security groups, private DNS off (Atlas
/// clients connect by the PrivateLink host names Atlas publishes), tags, and a deterministic
/// client token so an AWS-side retry of the same call cannot make a second endpoint.
///
/// `service_region` is set for a cross-region endpoint only: the region the service is
/// hosted in (EC2 API, `CreateVpcEndpoint` `ServiceRegion`; without it EC2 looks for the
/// service in the client's region and answers `InvalidServiceName`: research notes issue 12,
/// §3 "CreateVpcEndpoint").
#[allow(clippy::too_many_arguments)]
pub async fn create_vpc_endpoint(
    client: &Client,
    clock: &dyn Clock,
    vpc_id: &str,
    service_name: &str,
    service_region: Option<&str>,
    subnet_ids: &[String],
    security_group_ids: &[String],
    client_token: &str,
    tags: &[(String, String)],
) -> Result<VpcEndpointInfo, StepError> {
    // The security group may have been created a moment ago (eventual consistency).
    let out = until_visible(clock, "the endpoint's security groups", || {
        client
            .create_vpc_endpoint()
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .vpc_id(vpc_id)
            .service_name(service_name)
            .set_service_region(service_region.map(str::to_owned))
            .set_subnet_ids(Some(subnet_ids.to_vec()))
            .set_security_group_ids(Some(security_group_ids.to_vec()))
            .private_dns_enabled(false)
            .client_token(client_token)
            .tag_specifications(tag_spec(ResourceType::VpcEndpoint, tags))
            .send()
    })
    .await
    .map_err(|e| classify("CreateVpcEndpoint", e))?;
    tracing::info!(
        aws_request_id = out.request_id().unwrap_or("none"),
        "CreateVpcEndpoint"
    );
    out.vpc_endpoint().map(endpoint_info).ok_or_else(|| {
        StepError::new(
            ErrorName::AwsUnavailable,
            "CreateVpcEndpoint returned no endpoint",
        )
    })
}

/// Reads one VPC endpoint; `None` when it does not exist (or is gone). "Not found" is believed
/// only after the visibility budget: the endpoint may have been created a moment ago.
pub async fn describe_vpc_endpoint(
    client: &Client,
    clock: &dyn Clock,
    vpce_id: &str,
) -> Result<Option<VpcEndpointInfo>, StepError> {
    let out = until_visible(clock, vpce_id, || {
        client
            .describe_vpc_endpoints()
            .vpc_endpoint_ids(vpce_id)
            .send()
    })
    .await;
    match out {
        Ok(out) => Ok(out
            .vpc_endpoints()
            .first()
            .map(endpoint_info)
            .filter(|e| !e.state.eq_ignore_ascii_case("deleted"))),
        Err(e) if error_code(&e).is_some_and(|c| c.starts_with("InvalidVpcEndpointId")) => Ok(None),
        Err(e) => Err(classify("DescribeVpcEndpoints", e)),
    }
}

/// Deletes a VPC endpoint. Gone already is fine, but only after the visibility budget: an
/// endpoint created a moment ago may not be visible yet, and believing "not found" then would
/// leave it behind.
pub async fn delete_vpc_endpoint(
    client: &Client,
    clock: &dyn Clock,
    vpce_id: &str,
) -> Result<(), StepError> {
    let started = clock.now();
    let mut wait = std::time::Duration::from_millis(500);
    let out = loop {
        let out = client
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(vpce_id)
            .send()
            .await;
        // Failures come back per endpoint, not as an error.
        let not_found = out.as_ref().is_ok_and(|o| {
            o.unsuccessful()
                .iter()
                .filter_map(|u| u.error())
                .any(|e| e.code().is_some_and(is_not_found))
        });
        if not_found && clock.since(started) + wait <= super::consistency::VISIBILITY_BUDGET {
            clock.sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(8));
            continue;
        }
        break out;
    };
    match out {
        Ok(out) => match out.unsuccessful().iter().find_map(|u| u.error()) {
            Some(err)
                if err
                    .code()
                    .is_some_and(|c| c.starts_with("InvalidVpcEndpoint")) =>
            {
                Ok(())
            }
            Some(err) => Err(StepError::new(
                ErrorName::AwsUnavailable,
                format!(
                    "DeleteVpcEndpoints {vpce_id}: {}: {}",
                    err.code().unwrap_or("Unknown"),
                    err.message().unwrap_or("")
                ),
            )),
            None => Ok(()),
        },
        Err(e) if error_code(&e).is_some_and(|c| c.starts_with("InvalidVpcEndpointId")) => Ok(()),
        Err(e) => Err(classify("DeleteVpcEndpoints", e)),
    }
}

/// The availability zones an endpoint service supports (DescribeVpcEndpointServices).
pub async fn service_zones(client: &Client, service_name: &str) -> Result<Vec<String>, StepError> {
    let out = client
        .describe_vpc_endpoint_services()
        .service_names(service_name)
        .send()
        .await
        .map_err(|e| classify("DescribeVpcEndpointServices", e))?;
    Ok(out
        .service_details()
        .iter()
        .filter(|d| d.service_name() == Some(service_name))
        .flat_map(|d| d.availability_zones().iter().cloned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(state: &str) -> VpcEndpointInfo {
        VpcEndpointInfo {
            id: "vpce-0123456789abcdef0".into(),
            state: state.into(),
            created_by: None,
            security_group_ids: Vec::new(),
        }
    }

    #[test]
    fn endpoint_states_compare_case_insensitively() {
        // aws-sdk-rust#619: the camel-case wire value parses as Unknown("available").
        let unknown = aws_sdk_ec2::types::State::from("available");
        assert!(endpoint(unknown.as_str()).is_available());
        for s in ["available", "Available", "AVAILABLE"] {
            assert!(endpoint(s).is_available(), "{s}");
        }
        for s in ["pendingAcceptance", "PendingAcceptance", "pending"] {
            let e = endpoint(s);
            assert!(!e.is_available() && !e.is_dead(), "{s}");
        }
        for s in [
            "rejected", "Rejected", "failed", "Failed", "deleted", "Deleting", "expired",
        ] {
            assert!(endpoint(s).is_dead(), "{s}");
        }
    }
}
