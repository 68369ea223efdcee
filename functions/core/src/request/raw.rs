//! The request as written: what serde reads before the cross-field rules and the defaults.
//!
//! Every struct denies unknown fields, so a typo is an error that names the field. Optional
//! fields accept `null` as "not given" (Step Functions paths often produce `null`). Field
//! shapes are checked here by the identifier types. Objects must be JSON objects: serde would
//! otherwise also read a struct from an array of its fields in order.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{
    AccountId, AwsRegion, Cidr, ClusterName, KmsKeyId, ProjectId, RoleArn, SecretArn, SecretName,
    SecurityGroupId, SubnetId, VpcId,
};

/// A struct read from a JSON object only (never from an array).
#[derive(Debug, Default)]
pub(super) struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = Obj<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Obj)
            }
        }

        deserializer.deserialize_map(ObjVisitor(PhantomData))
    }
}

#[derive(Debug, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    expecting = "a JSON object"
)]
pub(super) struct RawRequest {
    pub atlas: Obj<RawAtlas>,
    pub aws: Option<Obj<RawAws>>,
    pub endpoints: Vec<Obj<RawEndpoint>>,
    pub secret: Option<Obj<RawSecret>>,
    pub tags: Option<BTreeMap<String, String>>,
    pub mode: Option<super::model::Mode>,
    pub force: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    expecting = "a JSON object"
)]
pub(super) struct RawAtlas {
    pub project_id: ProjectId,
    pub cluster_name: ClusterName,
    pub provider: Option<String>,
    pub credentials_secret_arn: Option<SecretArn>,
    pub enable_regional_mode: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    expecting = "a JSON object"
)]
pub(super) struct RawAws {
    pub account_id: Option<AccountId>,
    pub role_arn: Option<RoleArn>,
    pub wait_for_account_seconds: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    expecting = "a JSON object"
)]
pub(super) struct RawEndpoint {
    pub region: AwsRegion,
    pub service_region: Option<AwsRegion>,
    pub vpc_id: Option<VpcId>,
    pub subnet_ids: Option<Vec<SubnetId>>,
    pub vpc_tag: Option<Obj<RawVpcTag>>,
    pub security_groups: Option<Obj<RawSecurityGroups>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a JSON object")]
pub(super) struct RawVpcTag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    expecting = "a JSON object"
)]
pub(super) struct RawSecurityGroups {
    pub create: Option<bool>,
    pub allow_from_security_group_ids: Option<Vec<SecurityGroupId>>,
    pub allow_from_cidrs: Option<Vec<Cidr>>,
    pub attach_security_group_ids: Option<Vec<SecurityGroupId>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    expecting = "a JSON object"
)]
pub(super) struct RawSecret {
    pub name: Option<SecretName>,
    pub kms_key_id: Option<KmsKeyId>,
    pub database_user_secret_arn: Option<SecretArn>,
}
