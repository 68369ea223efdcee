//! An in-memory [`Ec2`] for the steps' unit tests: a few VPCs, groups, endpoints and subnets
//! (with tags where validate looks them up by tag), every call recorded, and the two ways EC2 surprises a step scripted (lists that do not show a new
//! resource yet, and a create whose answer is lost). It keeps EC2's rules the steps rely on
//! (duplicate group names, client tokens) and nothing else; moto covers the rest.

use std::sync::Mutex;

use super::Ec2;
use super::fixture::{KEY, SERVICE, VPC, lock};
use crate::aws::ec2::{
    SubnetInfo, TAG_CREATED_BY, TAG_REQUEST_KEY, Tagged, VpcEndpointDetail, VpcEndpointInfo,
    VpcInfo,
};
use crate::error::{ErrorName, StepError};

/// One call the step made, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    DescribeVpc {
        id: String,
    },
    FindVpcsByTag {
        key: String,
        value: String,
    },
    FindSubnetsByTag {
        vpc_id: String,
        key: String,
        value: String,
    },
    DescribeSecurityGroups {
        ids: Vec<String>,
    },
    FindSecurityGroup {
        group_name: String,
    },
    CreateSecurityGroup {
        group_name: String,
        description: String,
        tags: Vec<(String, String)>,
    },
    AllowAtlasPorts {
        group_id: String,
        groups: Vec<String>,
        cidrs: Vec<String>,
    },
    AtlasPortSources {
        group_id: String,
    },
    VpcInterfaceEndpoints,
    FindVpcEndpoints {
        service_name: String,
    },
    ServiceZones,
    DescribeSubnets {
        ids: Vec<String>,
    },
    CreateVpcEndpoint {
        service_region: Option<String>,
        subnet_ids: Vec<String>,
        security_group_ids: Vec<String>,
        client_token: String,
        tags: Vec<(String, String)>,
    },
    DescribeVpcEndpoint {
        id: String,
    },
    FindVpcEndpointsByKey,
    AddVpcEndpointSecurityGroups {
        id: String,
        groups: Vec<String>,
    },
    DeleteVpcEndpoint {
        id: String,
    },
    DeleteSecurityGroup {
        id: String,
    },
}

impl Call {
    /// Whether the call changes something.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Call::CreateSecurityGroup { .. }
                | Call::AllowAtlasPorts { .. }
                | Call::CreateVpcEndpoint { .. }
                | Call::AddVpcEndpointSecurityGroups { .. }
                | Call::DeleteVpcEndpoint { .. }
                | Call::DeleteSecurityGroup { .. }
        )
    }
}

/// A security group of the fake.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub request_key: Option<String>,
    pub created_by: Option<String>,
    /// Listed by finds (false: made a moment ago, EC2 does not list it yet).
    pub listed: bool,
}

/// A VPC endpoint of the fake (all in [`VPC`], to [`SERVICE`] unless said otherwise).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub service_name: String,
    pub state: String,
    pub request_key: Option<String>,
    pub created_by: Option<String>,
    /// The client token that made it.
    pub token: Option<String>,
    /// Finds that still do not list it (EC2's lists are eventually consistent).
    pub unlisted_for: usize,
    /// The security groups attached to it.
    pub security_group_ids: Vec<String>,
}

impl Endpoint {
    /// A live endpoint to [`SERVICE`].
    pub fn new(id: &str, created_by: Option<&str>) -> Self {
        Endpoint {
            id: id.into(),
            service_name: SERVICE.into(),
            state: "available".into(),
            request_key: created_by.map(|_| KEY.into()),
            created_by: created_by.map(str::to_owned),
            token: None,
            unlisted_for: 0,
            security_group_ids: Vec::new(),
        }
    }
}

/// A VPC and its tags (key, value).
pub type TaggedVpc = (VpcInfo, Vec<(String, String)>);

/// The fake. Tests seed its vectors, run a step, then read `calls` and the vectors.
#[derive(Debug, Default)]
pub struct FakeEc2 {
    /// VPCs with their tags.
    pub vpcs: Mutex<Vec<TaggedVpc>>,
    /// Subnet tags: (subnet id, key, value).
    pub subnet_tags: Mutex<Vec<(String, String, String)>>,
    /// Security groups describe answers besides `groups` (which are all in [`VPC`]): (id, VPC).
    pub other_groups: Mutex<Vec<(String, String)>>,
    pub groups: Mutex<Vec<Group>>,
    pub endpoints: Mutex<Vec<Endpoint>>,
    pub subnets: Mutex<Vec<SubnetInfo>>,
    pub zones: Mutex<Vec<String>>,
    pub calls: Mutex<Vec<Call>>,
    /// Sources already allowed, by group id.
    pub rules: Mutex<Vec<(String, String)>>,
    /// The next endpoint create makes the endpoint but its answer is lost.
    pub lose_next_create_answer: Mutex<bool>,
    /// Finds made after a create do not list the new endpoint for this many calls.
    pub new_endpoints_unlisted_for: Mutex<usize>,
    /// Deleted endpoints stay `deleting` (listed by key) instead of going `deleted` at once.
    pub deletes_linger: Mutex<bool>,
}

impl FakeEc2 {
    /// The calls so far.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// The calls so far that change something.
    pub fn writes(&self) -> Vec<Call> {
        self.calls().into_iter().filter(Call::writes).collect()
    }

    /// How many calls `pick` selects.
    pub fn count(&self, pick: impl Fn(&Call) -> bool) -> usize {
        self.calls().iter().filter(|c| pick(c)).count()
    }

    fn record(&self, call: Call) {
        lock(&self.calls).push(call);
    }

    /// Adds a group to the fake.
    pub fn seed_group(&self, id: &str, created_by: Option<&str>, listed: bool) {
        lock(&self.groups).push(Group {
            id: id.into(),
            name: format!("atlas-privatelink-{KEY}"),
            request_key: created_by.map(|_| KEY.into()),
            created_by: created_by.map(str::to_owned),
            listed,
        });
    }

    /// Adds a live endpoint to [`SERVICE`] (ours by key when `created_by` is given).
    pub fn seed_endpoint(&self, id: &str, created_by: Option<&str>) {
        lock(&self.endpoints).push(Endpoint::new(id, created_by));
    }

    /// The ids of the endpoints deleted so far.
    pub fn deleted_endpoints(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::DeleteVpcEndpoint { id } => Some(id),
                _ => None,
            })
            .collect()
    }

    /// The ids of the groups deleted so far.
    pub fn deleted_groups(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::DeleteSecurityGroup { id } => Some(id),
                _ => None,
            })
            .collect()
    }

    /// Adds a VPC with `cidrs`, tagged `tags`.
    pub fn seed_vpc(&self, id: &str, cidrs: &[&str], tags: &[(&str, &str)]) {
        lock(&self.vpcs).push((
            VpcInfo {
                vpc_id: id.into(),
                cidrs: cidrs.iter().map(|c| (*c).to_owned()).collect(),
            },
            tags.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ));
    }

    /// Adds a subnet of `vpc_id` in `zone`, tagged `key=value` when given.
    pub fn seed_subnet_in(&self, id: &str, vpc_id: &str, zone: &str, tag: Option<(&str, &str)>) {
        lock(&self.subnets).push(SubnetInfo {
            subnet_id: id.into(),
            vpc_id: vpc_id.into(),
            zone: zone.into(),
        });
        if let Some((k, v)) = tag {
            lock(&self.subnet_tags).push((id.into(), k.into(), v.into()));
        }
    }

    /// Adds a subnet of [`VPC`] in `zone`.
    pub fn seed_subnet(&self, id: &str, zone: &str) {
        lock(&self.subnets).push(SubnetInfo {
            subnet_id: id.into(),
            vpc_id: VPC.into(),
            zone: zone.into(),
        });
    }
}

fn tag(tags: &[(String, String)], key: &str) -> Option<String> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

fn info(e: &Endpoint) -> VpcEndpointInfo {
    VpcEndpointInfo {
        id: e.id.clone(),
        state: e.state.clone(),
        created_by: e.created_by.clone(),
        security_group_ids: e.security_group_ids.clone(),
    }
}

impl Ec2 for FakeEc2 {
    async fn describe_vpc(&self, vpc_id: &str) -> Result<Option<VpcInfo>, StepError> {
        self.record(Call::DescribeVpc { id: vpc_id.into() });
        Ok(lock(&self.vpcs)
            .iter()
            .find(|(v, _)| v.vpc_id == vpc_id)
            .map(|(v, _)| v.clone()))
    }

    async fn find_vpcs_by_tag(&self, key: &str, value: &str) -> Result<Vec<VpcInfo>, StepError> {
        self.record(Call::FindVpcsByTag {
            key: key.into(),
            value: value.into(),
        });
        Ok(lock(&self.vpcs)
            .iter()
            .filter(|(_, tags)| tags.iter().any(|(k, v)| k == key && v == value))
            .map(|(v, _)| v.clone())
            .collect())
    }

    async fn find_subnets_by_tag(
        &self,
        vpc_id: &str,
        key: &str,
        value: &str,
    ) -> Result<Vec<SubnetInfo>, StepError> {
        self.record(Call::FindSubnetsByTag {
            vpc_id: vpc_id.into(),
            key: key.into(),
            value: value.into(),
        });
        let tags = lock(&self.subnet_tags);
        let mut found: Vec<SubnetInfo> = lock(&self.subnets)
            .iter()
            .filter(|s| s.vpc_id == vpc_id)
            .filter(|s| {
                tags.iter()
                    .any(|(id, k, v)| *id == s.subnet_id && k == key && v == value)
            })
            .cloned()
            .collect();
        // By id, as the adapter answers.
        found.sort_by(|a, b| a.subnet_id.cmp(&b.subnet_id));
        Ok(found)
    }

    async fn describe_security_groups(
        &self,
        ids: &[String],
    ) -> Result<Vec<(String, String)>, StepError> {
        self.record(Call::DescribeSecurityGroups { ids: ids.to_vec() });
        let ours = lock(&self.groups)
            .iter()
            .map(|g| (g.id.clone(), VPC.to_owned()))
            .collect::<Vec<_>>();
        Ok(ours
            .into_iter()
            .chain(lock(&self.other_groups).iter().cloned())
            .filter(|(id, _)| ids.contains(id))
            .collect())
    }

    async fn find_security_group(
        &self,
        vpc_id: &str,
        request_key: &str,
        group_name: &str,
    ) -> Result<Option<Tagged>, StepError> {
        assert_eq!(vpc_id, VPC);
        self.record(Call::FindSecurityGroup {
            group_name: group_name.into(),
        });
        let groups = lock(&self.groups);
        let listed = || groups.iter().filter(|g| g.listed);
        Ok(listed()
            .find(|g| g.request_key.as_deref() == Some(request_key))
            .or_else(|| listed().find(|g| g.name == group_name))
            .map(|g| Tagged {
                id: g.id.clone(),
                created_by: g.created_by.clone(),
            }))
    }

    async fn create_security_group(
        &self,
        vpc_id: &str,
        group_name: &str,
        description: &str,
        tags: &[(String, String)],
        execution: &str,
    ) -> Result<Tagged, StepError> {
        assert_eq!(vpc_id, VPC);
        self.record(Call::CreateSecurityGroup {
            group_name: group_name.into(),
            description: description.into(),
            tags: tags.to_vec(),
        });
        let mut groups = lock(&self.groups);
        // Names are unique per VPC: a duplicate answers the group that has it (as the adapter
        // does after InvalidGroup.Duplicate), listed or not.
        if let Some(g) = groups.iter().find(|g| g.name == group_name) {
            return Ok(Tagged {
                id: g.id.clone(),
                created_by: g.created_by.clone(),
            });
        }
        let id = format!("sg-fake{}", groups.len());
        groups.push(Group {
            id: id.clone(),
            name: group_name.into(),
            request_key: tag(tags, TAG_REQUEST_KEY),
            created_by: tag(tags, TAG_CREATED_BY),
            listed: true,
        });
        Ok(Tagged {
            id,
            created_by: Some(execution.into()),
        })
    }

    async fn allow_atlas_ports(
        &self,
        group_id: &str,
        from_groups: &[String],
        from_cidrs: &[String],
    ) -> Result<Vec<String>, StepError> {
        self.record(Call::AllowAtlasPorts {
            group_id: group_id.into(),
            groups: from_groups.to_vec(),
            cidrs: from_cidrs.to_vec(),
        });
        let mut rules = lock(&self.rules);
        let mut added = Vec::new();
        for source in from_groups.iter().chain(from_cidrs) {
            let rule = (group_id.to_owned(), source.clone());
            if !rules.contains(&rule) {
                rules.push(rule);
                added.push(source.clone());
            }
        }
        Ok(added)
    }

    async fn atlas_port_sources(
        &self,
        group_id: &str,
    ) -> Result<(Vec<String>, Vec<String>), StepError> {
        self.record(Call::AtlasPortSources {
            group_id: group_id.into(),
        });
        let (groups, cidrs): (Vec<String>, Vec<String>) = lock(&self.rules)
            .iter()
            .filter(|(g, _)| g == group_id)
            .map(|(_, source)| source.clone())
            .partition(|source| source.starts_with("sg-"));
        Ok((groups, cidrs))
    }

    async fn vpc_interface_endpoints(
        &self,
        vpc_id: &str,
    ) -> Result<Vec<VpcEndpointDetail>, StepError> {
        assert_eq!(vpc_id, VPC);
        self.record(Call::VpcInterfaceEndpoints);
        Ok(lock(&self.endpoints)
            .iter()
            .filter(|e| !e.state.eq_ignore_ascii_case("deleted"))
            .map(|e| VpcEndpointDetail {
                info: info(e),
                service_name: e.service_name.clone(),
                security_group_ids: e.security_group_ids.clone(),
                request_key: e.request_key.clone(),
            })
            .collect())
    }

    async fn find_vpc_endpoints(
        &self,
        vpc_id: &str,
        service_name: &str,
        request_key: &str,
    ) -> Result<Vec<VpcEndpointInfo>, StepError> {
        assert_eq!(vpc_id, VPC);
        self.record(Call::FindVpcEndpoints {
            service_name: service_name.into(),
        });
        let mut endpoints = lock(&self.endpoints);
        let mut found: Vec<&Endpoint> = Vec::new();
        for e in endpoints.iter_mut() {
            if e.service_name != service_name {
                continue;
            }
            if e.unlisted_for > 0 {
                e.unlisted_for -= 1;
            } else if !info(e).is_dead() {
                found.push(e);
            }
        }
        // Ours (by key) first, as the adapter answers.
        found.sort_by_key(|e| e.request_key.as_deref() != Some(request_key));
        Ok(found.into_iter().map(info).collect())
    }

    async fn service_zones(&self, service_name: &str) -> Result<Vec<String>, StepError> {
        assert_eq!(service_name, SERVICE);
        self.record(Call::ServiceZones);
        Ok(lock(&self.zones).clone())
    }

    async fn describe_subnets(&self, ids: &[String]) -> Result<Vec<SubnetInfo>, StepError> {
        self.record(Call::DescribeSubnets { ids: ids.to_vec() });
        Ok(lock(&self.subnets)
            .iter()
            .filter(|s| ids.contains(&s.subnet_id))
            .cloned()
            .collect())
    }

    async fn create_vpc_endpoint(
        &self,
        vpc_id: &str,
        service_name: &str,
        service_region: Option<&str>,
        subnet_ids: &[String],
        security_group_ids: &[String],
        client_token: &str,
        tags: &[(String, String)],
    ) -> Result<VpcEndpointInfo, StepError> {
        assert_eq!((vpc_id, service_name), (VPC, SERVICE));
        self.record(Call::CreateVpcEndpoint {
            service_region: service_region.map(str::to_owned),
            subnet_ids: subnet_ids.to_vec(),
            security_group_ids: security_group_ids.to_vec(),
            client_token: client_token.into(),
            tags: tags.to_vec(),
        });
        let mut endpoints = lock(&self.endpoints);
        // A token EC2 has seen answers what it made then (EC2 API reference, "Ensuring
        // idempotency"), even an endpoint deleted since.
        if let Some(e) = endpoints
            .iter()
            .find(|e| e.token.as_deref() == Some(client_token))
        {
            return Ok(info(e));
        }
        let made = Endpoint {
            id: format!("vpce-fake{}", endpoints.len()),
            service_name: service_name.into(),
            state: "pendingAcceptance".into(),
            request_key: tag(tags, TAG_REQUEST_KEY),
            created_by: tag(tags, TAG_CREATED_BY),
            token: Some(client_token.into()),
            unlisted_for: *lock(&self.new_endpoints_unlisted_for),
            security_group_ids: security_group_ids.to_vec(),
        };
        let answer = info(&made);
        endpoints.push(made);
        if std::mem::take(&mut *lock(&self.lose_next_create_answer)) {
            return Err(StepError::new(
                ErrorName::AwsUnavailable,
                "CreateVpcEndpoint: the connection closed before the answer",
            ));
        }
        Ok(answer)
    }

    async fn describe_vpc_endpoint(
        &self,
        vpce_id: &str,
    ) -> Result<Option<VpcEndpointInfo>, StepError> {
        self.record(Call::DescribeVpcEndpoint { id: vpce_id.into() });
        Ok(lock(&self.endpoints)
            .iter()
            .find(|e| e.id == vpce_id && !e.state.eq_ignore_ascii_case("deleted"))
            .map(info))
    }

    async fn find_vpc_endpoints_by_key(
        &self,
        vpc_id: &str,
        request_key: &str,
    ) -> Result<Vec<VpcEndpointInfo>, StepError> {
        assert_eq!(vpc_id, VPC);
        self.record(Call::FindVpcEndpointsByKey);
        let mut endpoints = lock(&self.endpoints);
        let mut found = Vec::new();
        for e in endpoints.iter_mut() {
            if e.request_key.as_deref() != Some(request_key) {
                continue;
            }
            if e.unlisted_for > 0 {
                e.unlisted_for -= 1;
            } else if !e.state.eq_ignore_ascii_case("deleted") {
                found.push(info(e));
            }
        }
        Ok(found)
    }

    async fn add_vpc_endpoint_security_groups(
        &self,
        vpce_id: &str,
        groups: &[String],
    ) -> Result<(), StepError> {
        self.record(Call::AddVpcEndpointSecurityGroups {
            id: vpce_id.into(),
            groups: groups.to_vec(),
        });
        if let Some(e) = lock(&self.endpoints).iter_mut().find(|e| e.id == vpce_id) {
            for group in groups {
                if !e.security_group_ids.contains(group) {
                    e.security_group_ids.push(group.clone());
                }
            }
        }
        Ok(())
    }

    async fn delete_vpc_endpoint(&self, vpce_id: &str) -> Result<(), StepError> {
        self.record(Call::DeleteVpcEndpoint { id: vpce_id.into() });
        let state = if *lock(&self.deletes_linger) {
            "deleting"
        } else {
            "deleted"
        };
        // Gone already is fine, as for the adapter.
        if let Some(e) = lock(&self.endpoints).iter_mut().find(|e| e.id == vpce_id) {
            e.state = state.into();
        }
        Ok(())
    }

    async fn delete_security_group(&self, group_id: &str) -> Result<(), StepError> {
        self.record(Call::DeleteSecurityGroup {
            id: group_id.into(),
        });
        lock(&self.groups).retain(|g| g.id != group_id);
        Ok(())
    }
}
