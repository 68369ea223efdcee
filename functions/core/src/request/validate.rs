//! From JSON to a [`ProvisionRequest`]: shapes (serde), then the rules between fields, then the
//! defaults. The first rule broken is the error; nothing has been created at this point.

use std::collections::HashMap;
use std::hash::Hash;

use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::Value;

use super::SecretName;
use super::ids::shown;
use super::model::{
    AtlasTarget, AwsTarget, Endpoint, Provider, ProvisionRequest, SecretSpec, SecurityGroupSpec,
    VpcSelector, VpcTag,
};
use super::path::{FieldPath, from_serde};
use super::raw::{Obj, RawAws, RawEndpoint, RawRequest, RawSecret, RawSecurityGroups, RawVpcTag};
use super::tags::check_tags;
use crate::error::StepError;

/// At most this many endpoints (regions) in one request.
pub const MAX_ENDPOINTS: usize = 10;

/// Longest `aws.waitForAccountSeconds`: two hours.
pub const MAX_WAIT_FOR_ACCOUNT_SECONDS: u32 = 7200;

/// At most this many subnets in one endpoint.
pub const MAX_SUBNETS: usize = 16;

/// At most this many security groups on one endpoint (attached plus created): the hard limit
/// per network interface (the default quota is 5).
pub const MAX_SECURITY_GROUPS: usize = 16;

/// At most this many `allowFrom*` entries together: the default quota of inbound rules per
/// security group.
pub const MAX_ALLOW_FROM: usize = 60;

const SUBNET_REQUIRED: &str =
    "at least one subnet is required: AWS provisions no interface endpoint without a subnet";

/// Validates an execution input and returns it typed, with defaults applied.
///
/// Runs offline, before anything is created. Every error is a [`StepError`] whose message
/// starts with the JSON path of the field at fault (`endpoints[0].subnetIds: …`):
/// [`ErrorName::ServerlessRetired`](crate::ErrorName::ServerlessRetired) for a Serverless
/// instance, [`ErrorName::UnsupportedProvider`](crate::ErrorName::UnsupportedProvider) for
/// Azure or Google Cloud, [`ErrorName::InvalidRequest`](crate::ErrorName::InvalidRequest)
/// for everything else, including unknown fields.
pub fn parse_request(input: &Value) -> Result<ProvisionRequest, StepError> {
    precheck(input)?;
    let Obj(raw) =
        serde_path_to_error::deserialize::<_, Obj<RawRequest>>(input).map_err(from_serde)?;
    build(raw)
}

/// Errors with their own names, found before the shape check: a Serverless request has no
/// `clusterName`, and an Azure or GCP one may carry fields of its own; the named error says
/// more than "missing field" or "unknown field" would.
fn precheck(input: &Value) -> Result<(), StepError> {
    let path = FieldPath::root().key("atlas");
    let Some(atlas) = input.get("atlas").and_then(Value::as_object) else {
        return Ok(());
    };
    if atlas.contains_key("serverlessInstanceName") {
        return Err(StepError::serverless_retired(
            path.key("serverlessInstanceName"),
        ));
    }
    if let Some(Value::String(provider)) = atlas.get("provider") {
        check_provider(&path.key("provider"), provider)?;
    }
    Ok(())
}

fn check_provider(path: &FieldPath, provider: &str) -> Result<Provider, StepError> {
    if provider.eq_ignore_ascii_case("AWS") {
        Ok(Provider::Aws)
    } else if provider.eq_ignore_ascii_case("AZURE") || provider.eq_ignore_ascii_case("GCP") {
        Err(StepError::unsupported_provider(
            path,
            &provider.to_ascii_uppercase(),
        ))
    } else {
        Err(StepError::invalid(
            path,
            format!(
                "{} is not a cloud provider Atlas knows; the only one supported here is \"AWS\" \
                 (the default)",
                shown(provider)
            ),
        ))
    }
}

fn build(raw: RawRequest) -> Result<ProvisionRequest, StepError> {
    let root = FieldPath::root();
    let Obj(raw_atlas) = raw.atlas;
    let atlas_path = root.key("atlas");
    let provider = match raw_atlas.provider.as_deref() {
        Some(provider) => check_provider(&atlas_path.key("provider"), provider)?,
        None => Provider::default(),
    };
    let atlas = AtlasTarget {
        project_id: raw_atlas.project_id,
        cluster_name: raw_atlas.cluster_name,
        provider,
        credentials_secret_arn: raw_atlas.credentials_secret_arn,
        enable_regional_mode: raw_atlas.enable_regional_mode.unwrap_or(false),
    };
    let aws = build_aws(&root.key("aws"), raw.aws.map(|Obj(aws)| aws))?;
    let endpoints = build_endpoints(&root.key("endpoints"), raw.endpoints)?;
    let secret = build_secret(raw.secret.map(|Obj(secret)| secret), &atlas, &endpoints);
    let tags = check_tags(&root.key("tags"), raw.tags.unwrap_or_default())?;
    Ok(ProvisionRequest {
        atlas,
        aws,
        endpoints,
        secret,
        tags,
        mode: raw.mode.unwrap_or_default(),
        force: raw.force.unwrap_or(false),
    })
}

fn build_aws(path: &FieldPath, raw: Option<RawAws>) -> Result<AwsTarget, StepError> {
    let Some(raw) = raw else {
        return Ok(AwsTarget::default());
    };
    // The functions reach another account only through a role; an account alone would
    // silently work in the functions' own account instead.
    if let (Some(account), None) = (&raw.account_id, &raw.role_arn) {
        return Err(StepError::invalid(
            path.key("accountId"),
            format!(
                "account {account} can only be reached through a role: give aws.roleArn too                  (the role deployed there from infra/target-account-role.yaml), or leave                  aws.accountId out to work in the functions' own account"
            ),
        ));
    }
    if let (Some(account), Some(role)) = (&raw.account_id, &raw.role_arn)
        && role.account_id() != account.as_str()
    {
        return Err(StepError::invalid(
            path.key("roleArn"),
            format!(
                "the role is in account {} but aws.accountId is {account}; give a role in the \
                 target account",
                role.account_id()
            ),
        ));
    }
    let wait = raw.wait_for_account_seconds.unwrap_or(0);
    if wait > MAX_WAIT_FOR_ACCOUNT_SECONDS {
        return Err(StepError::invalid(
            path.key("waitForAccountSeconds"),
            format!("at most {MAX_WAIT_FOR_ACCOUNT_SECONDS} seconds (two hours)"),
        ));
    }
    Ok(AwsTarget {
        account_id: raw.account_id,
        role_arn: raw.role_arn,
        wait_for_account_seconds: wait,
    })
}

fn build_endpoints(
    path: &FieldPath,
    raw: Vec<Obj<RawEndpoint>>,
) -> Result<Vec<Endpoint>, StepError> {
    if raw.is_empty() {
        return Err(StepError::invalid(
            path,
            "at least one endpoint is required: one per AWS region the cluster has nodes in",
        ));
    }
    if raw.len() > MAX_ENDPOINTS {
        return Err(StepError::invalid(
            path,
            format!(
                "has {} endpoints; at most {MAX_ENDPOINTS} are supported (one per AWS region the \
                 cluster has nodes in)",
                raw.len()
            ),
        ));
    }
    let mut first_index = HashMap::new();
    let mut endpoints = Vec::with_capacity(raw.len());
    for (index, Obj(endpoint)) in raw.into_iter().enumerate() {
        let endpoint_path = path.index(index);
        if let Some(first) = first_index.insert(endpoint.region, index) {
            return Err(StepError::invalid(
                endpoint_path.key("region"),
                format!(
                    "{} is also the region of endpoints[{first}]; give one endpoint per region \
                     (endpoints[{first}] and endpoints[{index}] collide)",
                    endpoint.region
                ),
            ));
        }
        endpoints.push(build_endpoint(&endpoint_path, endpoint)?);
    }
    Ok(endpoints)
}

fn build_endpoint(path: &FieldPath, raw: RawEndpoint) -> Result<Endpoint, StepError> {
    let vpc = match (raw.vpc_id, raw.subnet_ids, raw.vpc_tag) {
        (None, None, Some(Obj(tag))) => VpcSelector::Tag {
            vpc_tag: build_vpc_tag(&path.key("vpcTag"), tag)?,
        },
        (_, _, Some(_)) => {
            return Err(StepError::invalid(
                path.key("vpcTag"),
                "give either vpcTag (to find the VPC and its subnets by tag) or vpcId with \
                 subnetIds, not both",
            ));
        }
        (Some(vpc_id), Some(subnet_ids), None) => {
            let subnets_path = path.key("subnetIds");
            if subnet_ids.is_empty() {
                return Err(StepError::invalid(subnets_path, SUBNET_REQUIRED));
            }
            if subnet_ids.len() > MAX_SUBNETS {
                return Err(StepError::invalid(
                    subnets_path,
                    format!(
                        "has {} subnets; at most {MAX_SUBNETS} are supported",
                        subnet_ids.len()
                    ),
                ));
            }
            check_unique(&subnets_path, &subnet_ids)?;
            VpcSelector::Ids { vpc_id, subnet_ids }
        }
        (Some(_), None, None) => {
            return Err(StepError::invalid(path.key("subnetIds"), SUBNET_REQUIRED));
        }
        (None, Some(_), None) => {
            return Err(StepError::invalid(
                path.key("vpcId"),
                "is required with subnetIds (or give vpcTag instead of both)",
            ));
        }
        (None, None, None) => {
            return Err(StepError::invalid(
                path.key("vpcId"),
                "is required: give vpcId and subnetIds, or vpcTag to find the VPC and its \
                 subnets by tag",
            ));
        }
    };
    let security_groups = build_security_groups(
        &path.key("securityGroups"),
        raw.security_groups.map(|Obj(sg)| sg).unwrap_or_default(),
    )?;
    Ok(Endpoint {
        region: raw.region,
        service_region: raw.service_region,
        vpc,
        security_groups,
    })
}

fn build_vpc_tag(path: &FieldPath, raw: RawVpcTag) -> Result<VpcTag, StepError> {
    let key_len = raw.key.chars().count();
    if key_len == 0 {
        return Err(StepError::invalid(path.key("key"), "must not be empty"));
    }
    if key_len > 128 {
        return Err(StepError::invalid(
            path.key("key"),
            format!("is {key_len} characters long; tag keys have at most 128"),
        ));
    }
    let value_len = raw.value.chars().count();
    if value_len == 0 {
        return Err(StepError::invalid(
            path.key("value"),
            "must not be empty: the VPC is found by key and value",
        ));
    }
    if value_len > 256 {
        return Err(StepError::invalid(
            path.key("value"),
            format!("is {value_len} characters long; tag values have at most 256"),
        ));
    }
    Ok(VpcTag {
        key: raw.key,
        value: raw.value,
    })
}

fn build_security_groups(
    path: &FieldPath,
    raw: RawSecurityGroups,
) -> Result<SecurityGroupSpec, StepError> {
    let create = raw.create.unwrap_or(true);
    let allow_sgs = raw.allow_from_security_group_ids.unwrap_or_default();
    let allow_cidrs = raw.allow_from_cidrs.unwrap_or_default();
    let attach = raw.attach_security_group_ids.unwrap_or_default();
    let allow_sgs_path = path.key("allowFromSecurityGroupIds");
    let allow_cidrs_path = path.key("allowFromCidrs");
    let attach_path = path.key("attachSecurityGroupIds");

    check_unique(&allow_sgs_path, &allow_sgs)?;
    check_unique(&allow_cidrs_path, &allow_cidrs)?;
    check_unique(&attach_path, &attach)?;

    if !create && attach.is_empty() {
        return Err(StepError::invalid(
            attach_path,
            "with create: false, give at least one security group to attach: an endpoint must \
             end up with a security group",
        ));
    }
    let only_with_create = "is only used when create is true (it opens the security group this \
                            workflow creates); with create: false, manage the rules of the \
                            attached groups yourself";
    if !create && !allow_sgs.is_empty() {
        return Err(StepError::invalid(allow_sgs_path, only_with_create));
    }
    if !create && !allow_cidrs.is_empty() {
        return Err(StepError::invalid(allow_cidrs_path, only_with_create));
    }
    if allow_sgs.len() + allow_cidrs.len() > MAX_ALLOW_FROM {
        return Err(StepError::invalid(
            path,
            format!(
                "allowFromSecurityGroupIds and allowFromCidrs have {} entries together; a \
                 security group holds at most {MAX_ALLOW_FROM} inbound rules by default",
                allow_sgs.len() + allow_cidrs.len()
            ),
        ));
    }
    let total = attach.len() + usize::from(create);
    if total > MAX_SECURITY_GROUPS {
        return Err(StepError::invalid(
            attach_path,
            format!(
                "the endpoint would have {total} security groups; a network interface has at \
                 most {MAX_SECURITY_GROUPS}"
            ),
        ));
    }
    Ok(SecurityGroupSpec {
        create,
        allow_from_security_group_ids: allow_sgs,
        allow_from_cidrs: allow_cidrs,
        attach_security_group_ids: attach,
    })
}

fn build_secret(raw: Option<RawSecret>, atlas: &AtlasTarget, endpoints: &[Endpoint]) -> SecretSpec {
    let raw = raw.unwrap_or_default();
    let key = super::model::owner_key(
        atlas.project_id.as_str(),
        atlas.cluster_name.as_str(),
        endpoints,
    );
    SecretSpec {
        name: raw.name.unwrap_or_else(|| {
            SecretName::default_for(&atlas.project_id, &atlas.cluster_name, &key)
        }),
        kms_key_id: raw.kms_key_id,
        database_user_secret_arn: raw.database_user_secret_arn,
    }
}

/// The second occurrence of a repeated item is an error naming both positions.
fn check_unique<T: Eq + Hash + std::fmt::Display>(
    path: &FieldPath,
    items: &[T],
) -> Result<(), StepError> {
    let mut first_index = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        if let Some(first) = first_index.insert(item, index) {
            return Err(StepError::invalid(
                path.index(index),
                format!("{item} is listed twice (also at index {first})"),
            ));
        }
    }
    Ok(())
}

/// Deserialized alone (a Map iteration's item, say), an endpoint is validated like one in a
/// request; error messages name it `endpoint`.
impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Obj(raw) = Obj::<RawEndpoint>::deserialize(deserializer)?;
        build_endpoint(&FieldPath::root().key("endpoint"), raw)
            .map_err(|err| D::Error::custom(err.message))
    }
}

/// Deserialized alone, the security groups of an endpoint are validated and get their defaults;
/// error messages name them `securityGroups`.
impl<'de> Deserialize<'de> for SecurityGroupSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Obj(raw) = Obj::<RawSecurityGroups>::deserialize(deserializer)?;
        build_security_groups(&FieldPath::root().key("securityGroups"), raw)
            .map_err(|err| D::Error::custom(err.message))
    }
}

/// Deserialized alone, a VPC tag is validated; error messages name it `vpcTag`.
impl<'de> Deserialize<'de> for VpcTag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Obj(raw) = Obj::<RawVpcTag>::deserialize(deserializer)?;
        build_vpc_tag(&FieldPath::root().key("vpcTag"), raw)
            .map_err(|err| D::Error::custom(err.message))
    }
}

#[cfg(test)]
mod tests;
