//! The EC2 rules moto does not follow (see [`Realism`](crate::Realism) for each one's source):
//! eventual consistency of new ids, client tokens, availability zones of a provider's
//! service, the creation and acceptance states of a VPC endpoint to Atlas, and duplicate
//! ingress rules.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::http::StatusCode;
use xmltree::{Element, XMLNode};

use super::Upstream;
use super::models::{AwsModels, EndpointRec};
use super::query::{
    Params, XmlReply, child_text, ec2_error, items, items_mut, parse, retain_items, set_child_text,
    text_element, text_list, write,
};
use crate::realism::Acceptance;

/// Who is calling, from the request's signature: the access key and the region.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The `Authorization` header as sent (moto reads account and region from it).
    pub authorization: String,
    /// Access key id.
    pub access_key: String,
    /// Region of the credential scope.
    pub region: String,
}

/// Whether `name` is a provider's endpoint service in `region`'s naming
/// (`com.amazonaws.vpce.<region>.vpce-svc-…`), as Atlas's are.
fn is_provider_service(name: &str) -> bool {
    name.starts_with("com.amazonaws.vpce.") && name.contains(".vpce-svc-")
}

/// Parameters naming security groups, which must exist (be visible).
fn named_groups(params: &Params) -> Vec<String> {
    params
        .0
        .iter()
        .filter(|(k, _)| {
            *k == "GroupId"
                || k.starts_with("GroupId.")
                || k.starts_with("SecurityGroupId.")
                || (k.starts_with("IpPermissions.") && k.ends_with(".GroupId"))
        })
        .map(|(_, v)| v.clone())
        .collect()
}

impl AwsModels {
    /// Runs before an EC2 request reaches moto: an answer of the front's own, or `None` to
    /// forward it.
    pub(crate) async fn before_ec2(
        &self,
        upstream: &Upstream,
        caller: &Caller,
        params: &Params,
    ) -> Option<XmlReply> {
        let action = params.get("Action").unwrap_or("");
        if let Some(reply) = self.not_visible_yet(action, params) {
            return Some(reply);
        }
        match action {
            "CreateVpcEndpoint" => {
                if let Some(reply) = self.replay_client_token(caller, params) {
                    return Some(reply);
                }
                match self.check_service_region(caller, params) {
                    Some(Err(reply)) => Some(reply),
                    // Across regions the zone rule does not apply.
                    Some(Ok(())) => None,
                    None => self.check_zones(upstream, caller, params).await,
                }
            }
            "DescribeVpcEndpointServices" => self.describe_provider_services(params),
            "AuthorizeSecurityGroupIngress" if self.realism.duplicate_rules_refused => {
                self.refuse_duplicate_rules(upstream, caller, params).await
            }
            _ => None,
        }
    }

    /// Runs on moto's answer to an EC2 request: the answer the caller gets.
    pub(crate) fn after_ec2(
        &self,
        caller: &Caller,
        params: &Params,
        status: StatusCode,
        body: Bytes,
    ) -> Bytes {
        if !status.is_success() {
            return body;
        }
        let action = params.get("Action").unwrap_or("");
        let Some(mut doc) = parse(&body) else {
            return body;
        };
        match action {
            "CreateSecurityGroup" => {
                if let Some(id) = child_text(&doc, "groupId") {
                    self.hide(&id);
                }
                return body;
            }
            "CreateVpcEndpoint" => self.created_endpoint(caller, params, &mut doc),
            "DescribeVpcEndpoints" => {
                retain_items(&mut doc, "vpcEndpointSet", |item| {
                    child_text(item, "vpcEndpointId").is_none_or(|id| !self.is_hidden(&id))
                });
                for item in items_mut(&mut doc, "vpcEndpointSet") {
                    self.rewrite_state(item);
                }
            }
            "DescribeSecurityGroups" => retain_items(&mut doc, "securityGroupInfo", |item| {
                child_text(item, "groupId").is_none_or(|id| !self.is_hidden(&id))
            }),
            _ => return body,
        }
        write(&doc).unwrap_or(body)
    }

    /// EC2 eventual consistency: a call naming a new id too early is answered "not found".
    fn not_visible_yet(&self, action: &str, params: &Params) -> Option<XmlReply> {
        self.realism.ec2_visibility_delay?;
        if let Some(group) = named_groups(params).into_iter().find(|g| self.is_hidden(g)) {
            return Some(ec2_error(
                "InvalidGroup.NotFound",
                &format!("The security group '{group}' does not exist"),
            ));
        }
        let vpces = params.list("VpcEndpointId");
        let hidden = vpces.iter().find(|v| self.is_hidden(v))?;
        if action == "DeleteVpcEndpoints" {
            // DeleteVpcEndpoints reports per endpoint, not as an error.
            return Some(XmlReply {
                status: StatusCode::OK,
                code: "InvalidVpcEndpoint.NotFound".to_owned(),
                body: Bytes::from(format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DeleteVpcEndpointsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>front</requestId><unsuccessful><item><error><code>InvalidVpcEndpoint.NotFound</code><message>The VpcEndpoint Id '{hidden}' does not exist</message></error><resourceId>{hidden}</resourceId></item></unsuccessful></DeleteVpcEndpointsResponse>"
                )),
            });
        }
        Some(ec2_error(
            "InvalidVpcEndpointId.NotFound",
            &format!("The VpcEndPoint ID '{hidden}' does not exist"),
        ))
    }

    fn token_key(caller: &Caller, params: &Params) -> Option<(String, String, String)> {
        let token = params.get("ClientToken")?;
        Some((
            caller.access_key.clone(),
            caller.region.clone(),
            token.to_owned(),
        ))
    }

    /// EC2 idempotency: a token seen before answers the original result for the same
    /// parameters, `IdempotentParameterMismatch` for others.
    fn replay_client_token(&self, caller: &Caller, params: &Params) -> Option<XmlReply> {
        if !self.realism.ec2_client_tokens {
            return None;
        }
        let key = Self::token_key(caller, params)?;
        let state = self.lock();
        let (fingerprint, answer) = state.tokens.get(&key)?;
        if *fingerprint == params.fingerprint(&["ClientToken"]) {
            Some(XmlReply {
                status: StatusCode::OK,
                body: answer.clone(),
                code: "replay".to_owned(),
            })
        } else {
            Some(ec2_error(
                "IdempotentParameterMismatch",
                &format!(
                    "The client token {} was already used with different parameters",
                    key.2
                ),
            ))
        }
    }

    /// Cross-region PrivateLink ([`Realism::cross_region_rules`](crate::Realism)): `None` for
    /// a same-region endpoint (the zone rule applies), `Some(Ok)` for an allowed cross-region
    /// one, `Some(Err)` with AWS's refusal otherwise.
    fn check_service_region(
        &self,
        caller: &Caller,
        params: &Params,
    ) -> Option<Result<(), XmlReply>> {
        if !self.realism.cross_region_rules {
            return None;
        }
        let service = params.get("ServiceName")?;
        if !is_provider_service(service) {
            return None;
        }
        // com.amazonaws.vpce.<region>.vpce-svc-…
        let home = service.split('.').nth(3).unwrap_or("");
        let asked = params
            .get("ServiceRegion")
            .unwrap_or(caller.region.as_str());
        let missing = || {
            Some(Err(ec2_error(
                "InvalidServiceName",
                &format!("The Vpc Endpoint Service '{service}' does not exist"),
            )))
        };
        if asked != home {
            return missing();
        }
        if home == caller.region {
            return None;
        }
        match self
            .simulator()
            .and_then(|sim| sim.service_regions(service))
        {
            Some(view) if view.serves(&caller.region) => Some(Ok(())),
            _ => missing(),
        }
    }

    /// A provider's service supports only some zones; one subnet per zone.
    async fn check_zones(
        &self,
        upstream: &Upstream,
        caller: &Caller,
        params: &Params,
    ) -> Option<XmlReply> {
        let zones = self.realism.service_zones.as_deref()?;
        let service = params.get("ServiceName")?;
        if !is_provider_service(service) {
            return None;
        }
        let subnets = params.list("SubnetId");
        let mut query = vec![("Action".to_owned(), "DescribeSubnets".to_owned())];
        for (i, s) in subnets.iter().enumerate() {
            query.push((format!("SubnetId.{}", i + 1), s.clone()));
        }
        let doc = upstream.ec2(caller, &query).await?;
        let mut seen = BTreeSet::new();
        for subnet in &subnets {
            let Some(zone) = items(&doc, "subnetSet")
                .into_iter()
                .find(|i| child_text(i, "subnetId").as_deref() == Some(subnet))
                .and_then(|i| child_text(i, "availabilityZone"))
            else {
                continue;
            };
            let letter = zone.chars().last().unwrap_or(' ');
            if !zones.contains(letter) {
                return Some(ec2_error(
                    "InvalidParameter",
                    &format!(
                        "The VPC endpoint service {service} does not support the availability zone of the subnet: {subnet}."
                    ),
                ));
            }
            if !seen.insert(zone.clone()) {
                return Some(ec2_error(
                    "DuplicateSubnetsInSameZone",
                    &format!(
                        "Found another VPC endpoint subnet in the availability zone of {subnet}. VPC endpoint subnets should be in different availability zones supported by the VPC endpoint service."
                    ),
                ));
            }
        }
        None
    }

    /// DescribeVpcEndpointServices for provider services (moto knows none): their zones and
    /// that they require acceptance.
    fn describe_provider_services(&self, params: &Params) -> Option<XmlReply> {
        let names = params.list("ServiceName");
        if names.is_empty() || !names.iter().all(|n| is_provider_service(n)) {
            return None;
        }
        let mut root = Element::new("DescribeVpcEndpointServicesResponse");
        root.namespace = Some("http://ec2.amazonaws.com/doc/2016-11-15/".to_owned());
        root.children
            .push(XMLNode::Element(text_element("requestId", "front")));
        root.children
            .push(XMLNode::Element(text_list("serviceNameSet", &names)));
        let mut details = Element::new("serviceDetailSet");
        for name in &names {
            // com.amazonaws.vpce.<region>.vpce-svc-…
            let region = name.split('.').nth(3).unwrap_or("us-east-1");
            let letters = self
                .realism
                .service_zones
                .clone()
                .unwrap_or_else(|| "abcdef".to_owned());
            let zones: Vec<String> = letters.chars().map(|c| format!("{region}{c}")).collect();
            let mut item = Element::new("item");
            item.children
                .push(XMLNode::Element(text_element("serviceName", name)));
            item.children.push(XMLNode::Element(text_element(
                "serviceId",
                name.rsplit('.').next().unwrap_or(name),
            )));
            let mut kind = Element::new("serviceType");
            let mut kind_item = Element::new("item");
            kind_item
                .children
                .push(XMLNode::Element(text_element("serviceType", "Interface")));
            kind.children.push(XMLNode::Element(kind_item));
            item.children.push(XMLNode::Element(kind));
            item.children
                .push(XMLNode::Element(text_list("availabilityZoneSet", &zones)));
            item.children
                .push(XMLNode::Element(text_element("acceptanceRequired", "true")));
            item.children.push(XMLNode::Element(text_element(
                "managesVpcEndpoints",
                "false",
            )));
            details.children.push(XMLNode::Element(item));
        }
        root.children.push(XMLNode::Element(details));
        Some(XmlReply {
            status: StatusCode::OK,
            body: write(&root)?,
            code: "DescribeVpcEndpointServices".to_owned(),
        })
    }

    /// AuthorizeSecurityGroupIngress fails whole when one of its rules exists already.
    async fn refuse_duplicate_rules(
        &self,
        upstream: &Upstream,
        caller: &Caller,
        params: &Params,
    ) -> Option<XmlReply> {
        let group = params.get("GroupId")?;
        let query = vec![
            ("Action".to_owned(), "DescribeSecurityGroups".to_owned()),
            ("GroupId.1".to_owned(), group.to_owned()),
        ];
        let doc = upstream.ec2(caller, &query).await?;
        let existing: BTreeSet<Rule> = items(&doc, "securityGroupInfo")
            .into_iter()
            .flat_map(|g| items(g, "ipPermissions"))
            .flat_map(rules_of_permission)
            .collect();
        requested_rules(params)
            .into_iter()
            .find(|r| existing.contains(r))
            .map(|r| {
                ec2_error(
                    "InvalidPermission.Duplicate",
                    &format!(
                        "the specified rule \"peer: {}, {}, from port: {}, to port: {}, ALLOW\" already exists",
                        r.peer,
                        r.protocol.to_uppercase(),
                        r.from,
                        r.to
                    ),
                )
            })
    }

    /// After CreateVpcEndpoint: the new id is hidden for a while, an endpoint to a provider's
    /// service starts `pending` (being created), and the answer is kept for its client token.
    fn created_endpoint(&self, caller: &Caller, params: &Params, doc: &mut Element) {
        let service = params.get("ServiceName").unwrap_or("");
        let Some(endpoint) = doc.get_mut_child("vpcEndpoint") else {
            return;
        };
        let Some(id) = child_text(endpoint, "vpcEndpointId") else {
            return;
        };
        if is_provider_service(service) {
            let now = self.now();
            let mut state = self.lock();
            let creating = match self.realism.endpoint_creation {
                Some((low, high)) => AwsModels::draw(&mut state, low, high),
                None => std::time::Duration::ZERO,
            };
            state.endpoints.insert(
                id.clone(),
                EndpointRec {
                    creating_until: now + creating,
                    ever_accepted: false,
                },
            );
            drop(state);
            set_child_text(
                endpoint,
                "state",
                if creating.is_zero() {
                    "pendingAcceptance"
                } else {
                    "pending"
                },
            );
        }
        self.hide(&id);
        if self.realism.ec2_client_tokens
            && let Some(key) = Self::token_key(caller, params)
            && let Some(answer) = write(doc)
        {
            self.lock()
                .tokens
                .insert(key, (params.fingerprint(&["ClientToken"]), answer));
        }
    }

    /// EC2's state of an endpoint to a provider's service: `pending` while AWS creates it,
    /// `pendingAcceptance` until Atlas accepts it, then from Atlas's view of the link (moto
    /// says `available` at once).
    fn rewrite_state(&self, item: &mut Element) {
        let (Some(id), Some(service), Some(moto_state)) = (
            child_text(item, "vpcEndpointId"),
            child_text(item, "serviceName"),
            child_text(item, "state"),
        ) else {
            return;
        };
        if !is_provider_service(&service) || !moto_state.eq_ignore_ascii_case("available") {
            return;
        }
        let now = self.now();
        let interface = self.simulator().and_then(|sim| sim.interface(&id));
        let mut state = self.lock();
        let rec = state.endpoints.entry(id).or_insert(EndpointRec {
            creating_until: now,
            ever_accepted: false,
        });
        let shown = if now < rec.creating_until {
            "pending"
        } else {
            match interface {
                None if rec.ever_accepted => "rejected",
                None => "pendingAcceptance",
                Some(link) => {
                    if link.accepted {
                        rec.ever_accepted = true;
                    }
                    match link.connection_status.as_str() {
                        "PENDING" => match self.realism.acceptance {
                            Acceptance::AtAcceptance => "available",
                            Acceptance::WhenAtlasAvailable => "pending",
                        },
                        "AVAILABLE" => "available",
                        "REJECTED" => "rejected",
                        "FAILED" | "DELETING" if link.accepted => {
                            if link.connection_status == "FAILED" {
                                "failed"
                            } else {
                                "rejected"
                            }
                        }
                        _ => "pendingAcceptance",
                    }
                }
            }
        };
        set_child_text(item, "state", shown);
    }
}

/// One ingress rule: protocol, ports, and one peer (`sg-…` or a CIDR).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rule {
    protocol: String,
    from: String,
    to: String,
    peer: String,
}

fn rules_of_permission(permission: &Element) -> Vec<Rule> {
    let base = |peer: String| Rule {
        protocol: child_text(permission, "ipProtocol").unwrap_or_default(),
        from: child_text(permission, "fromPort").unwrap_or_default(),
        to: child_text(permission, "toPort").unwrap_or_default(),
        peer,
    };
    let mut rules: Vec<Rule> = items(permission, "groups")
        .into_iter()
        .filter_map(|g| child_text(g, "groupId"))
        .map(base)
        .collect();
    rules.extend(
        items(permission, "ipRanges")
            .into_iter()
            .filter_map(|r| child_text(r, "cidrIp"))
            .map(base),
    );
    rules.extend(
        items(permission, "ipv6Ranges")
            .into_iter()
            .filter_map(|r| child_text(r, "cidrIpv6"))
            .map(base),
    );
    rules
}

fn requested_rules(params: &Params) -> Vec<Rule> {
    let mut rules = Vec::new();
    for n in 1.. {
        let at = format!("IpPermissions.{n}");
        let Some(protocol) = params.get(&format!("{at}.IpProtocol")) else {
            break;
        };
        let base = |peer: String| Rule {
            protocol: protocol.to_owned(),
            from: params
                .get(&format!("{at}.FromPort"))
                .unwrap_or("")
                .to_owned(),
            to: params.get(&format!("{at}.ToPort")).unwrap_or("").to_owned(),
            peer,
        };
        for m in 1.. {
            let Some(group) = params.get(&format!("{at}.Groups.{m}.GroupId")) else {
                break;
            };
            rules.push(base(group.to_owned()));
        }
        for m in 1.. {
            let Some(cidr) = params.get(&format!("{at}.IpRanges.{m}.CidrIp")) else {
                break;
            };
            rules.push(base(cidr.to_owned()));
        }
        for m in 1.. {
            let Some(cidr) = params.get(&format!("{at}.Ipv6Ranges.{m}.CidrIpv6")) else {
                break;
            };
            rules.push(base(cidr.to_owned()));
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_rules_are_read_from_the_query() {
        let p = Params::parse(
            b"Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=1024&IpPermissions.1.ToPort=65535&IpPermissions.1.Groups.1.GroupId=sg-2&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0%2F16&IpPermissions.1.IpRanges.1.Description=x",
        );
        let rules = requested_rules(&p);
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].peer, "sg-2");
        assert_eq!(rules[1].peer, "10.0.0.0/16");
        assert_eq!(
            (rules[1].from.as_str(), rules[1].to.as_str()),
            ("1024", "65535")
        );
        assert_eq!(named_groups(&p), ["sg-1", "sg-2"]);
    }

    #[test]
    fn provider_services_are_recognised_by_name() {
        assert!(is_provider_service(
            "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
        ));
        assert!(!is_provider_service("com.amazonaws.us-east-1.s3"));
    }
}
