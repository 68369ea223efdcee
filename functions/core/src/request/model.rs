//! The validated request: typed, with defaults applied.
//!
//! Every field holds a well-formed value (its type checks that). The rules that involve more
//! than one field hold for every value that [`parse_request`](super::parse_request) returns;
//! code that edits a request afterwards is responsible for keeping them.
//!
//! It serializes to a request that is itself valid input, with the defaults written out, so it
//! travels through Step Functions as JSON; deserializing runs the whole validation again. An
//! [`Endpoint`], its [`SecurityGroupSpec`] and a [`VpcTag`] can also be deserialized alone
//! (with the same rules); the other parts only as part of a request.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    AccountId, AwsRegion, Cidr, ClusterName, KmsKeyId, ProjectId, RoleArn, SecretArn, SecretName,
    SecurityGroupId, SubnetId, VpcId,
};
use crate::error::StepError;

/// Tags copied onto every AWS resource the workflow creates (key → value).
pub type Tags = BTreeMap<String, String>;

/// A validated provisioning request (the execution input of the provision state machine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "serde_json::Value")]
pub struct ProvisionRequest {
    /// The Atlas cluster to connect to.
    pub atlas: AtlasTarget,
    /// The AWS account to create the endpoints in.
    pub aws: AwsTarget,
    /// One endpoint per AWS region the cluster has nodes in; regions are distinct.
    pub endpoints: Vec<Endpoint>,
    /// Where the connection strings are stored.
    pub secret: SecretSpec,
    /// Tags for every AWS resource created (user tags only; the workflow adds its own).
    pub tags: Tags,
    /// What the provision state machine does with the request: provision it (the default),
    /// plan it (read everything, write nothing), or verify it (repair what drifted).
    /// Always in the JSON, so the state machines' `Choice` can read it.
    #[serde(default)]
    pub mode: Mode,
    /// Teardown only: remove the request even when its secret carries
    /// `atlas-privatelink:protect=true`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

/// What an execution of the provision state machine does (`"mode"` in its input).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Create or adopt every piece and store the strings.
    #[default]
    Provision,
    /// Read everything and write nothing: what a provisioning would create, adopt or change,
    /// and the pre-checks that would fail.
    Plan,
    /// Check every piece of an already provisioned request, and repair what drifted.
    Verify,
}

impl Mode {
    /// The name in the JSON: `plan`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Provision => "provision",
            Mode::Plan => "plan",
            Mode::Verify => "verify",
        }
    }
}

impl TryFrom<serde_json::Value> for ProvisionRequest {
    type Error = StepError;

    fn try_from(value: serde_json::Value) -> Result<Self, Self::Error> {
        super::parse_request(&value)
    }
}

/// The Atlas side: which cluster, and the credentials to use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AtlasTarget {
    /// The Atlas project (group) id.
    pub project_id: ProjectId,
    /// The dedicated cluster's name.
    pub cluster_name: ClusterName,
    /// The cloud provider of the private endpoint; always AWS.
    pub provider: Provider,
    /// The secret holding the Atlas API credentials; `None`: the function's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_secret_arn: Option<SecretArn>,
    /// Consent to turn on the project's regionalized private endpoint mode when the cluster
    /// needs it (multi-region sharded). Off by default: turning it on changes the connection
    /// strings of the project's other multi-region sharded clusters and forbids replica sets.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enable_regional_mode: bool,
}

/// The cloud provider of a private endpoint. Only AWS is supported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub enum Provider {
    /// Amazon Web Services (`"AWS"`).
    #[default]
    #[serde(rename = "AWS")]
    Aws,
}

impl Provider {
    /// The Atlas `providerName`: `"AWS"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aws => "AWS",
        }
    }
}

impl ProvisionRequest {
    /// What this request connects, as a key: a hash of its project, cluster, regions and VPCs
    /// (by id, or by tag), not of its subnets or security settings. Two requests for the same
    /// VPCs of one cluster have the same key; the connection-string secret carries it as its
    /// owner, so another request never overwrites or deletes it.
    pub fn owner_key(&self) -> String {
        owner_key(
            self.atlas.project_id.as_str(),
            self.atlas.cluster_name.as_str(),
            &self.endpoints,
        )
    }
}

/// See [`ProvisionRequest::owner_key`].
pub(super) fn owner_key(project: &str, cluster: &str, endpoints: &[Endpoint]) -> String {
    use sha2::{Digest, Sha256};
    let mut vpcs: Vec<String> = endpoints
        .iter()
        .map(|e| match &e.vpc {
            VpcSelector::Ids { vpc_id, .. } => format!("{}|{vpc_id}", e.region.as_str()),
            VpcSelector::Tag { vpc_tag } => {
                format!(
                    "{}|tag:{}={}",
                    e.region.as_str(),
                    vpc_tag.key,
                    vpc_tag.value
                )
            }
        })
        .collect();
    vpcs.sort();
    let digest = Sha256::digest(format!("{project}|{cluster}|{}", vpcs.join(",")).as_bytes());
    hex::encode(&digest[..8])
}

/// The AWS side: which account, and how to get there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AwsTarget {
    /// The target account; `None`: the account the functions run in (or the role's account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<AccountId>,
    /// A role to assume in the target account; when `account_id` is also set, the role is in
    /// that account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<RoleArn>,
    /// How long validation waits for the role to become assumable and the tagged VPC to
    /// appear (an account just vended: Control Tower reports the account before its baseline
    /// has made them), in seconds; 0 (the default): not at all.
    #[serde(skip_serializing_if = "is_zero")]
    pub wait_for_account_seconds: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl AwsTarget {
    /// The target account when the request names one, directly or through the role.
    pub fn target_account_id(&self) -> Option<&str> {
        self.account_id
            .as_ref()
            .map(AccountId::as_str)
            .or_else(|| self.role_arn.as_ref().map(RoleArn::account_id))
    }
}

/// One interface endpoint to create: a region, the VPC and subnets, and its security groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// The VPC's AWS region (EC2 gets [`AwsRegion::as_str`], Atlas [`AwsRegion::atlas_name`]).
    pub region: AwsRegion,
    /// The cluster region whose Atlas endpoint service serves this VPC (cross-region
    /// PrivateLink when it differs from `region`). `None`: the VPC's own region, which the
    /// cluster must then have nodes in (checked by Validate against the cluster).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_region: Option<AwsRegion>,
    /// The VPC and subnets, given or to be found by tag.
    #[serde(flatten)]
    pub vpc: VpcSelector,
    /// The security groups of the endpoint.
    pub security_groups: SecurityGroupSpec,
}

impl Endpoint {
    /// The Atlas region name (`US_EAST_1`); never pass it to EC2.
    pub fn atlas_region(&self) -> &'static str {
        self.region.atlas_name()
    }

    /// The AWS region name (`us-east-1`), for EC2.
    pub fn aws_region(&self) -> &'static str {
        self.region.as_str()
    }

    /// Whether the request names a service region other than the VPC's (cross-region
    /// PrivateLink). Without `serviceRegion` Validate decides, from the cluster's regions.
    pub fn is_cross_region(&self) -> bool {
        self.service_region.is_some_and(|s| s != self.region)
    }
}

/// How the endpoint's VPC and subnets are chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum VpcSelector {
    /// Given by id.
    #[serde(rename_all = "camelCase")]
    Ids {
        /// The VPC.
        vpc_id: VpcId,
        /// Its subnets for the endpoint: at least one, no duplicates.
        subnet_ids: Vec<SubnetId>,
    },
    /// To be found by tag (the VPC with this tag, and its subnets).
    #[serde(rename_all = "camelCase")]
    Tag {
        /// The tag to look for.
        vpc_tag: VpcTag,
    },
}

impl VpcSelector {
    /// The VPC id, when given.
    pub fn vpc_id(&self) -> Option<&VpcId> {
        match self {
            VpcSelector::Ids { vpc_id, .. } => Some(vpc_id),
            VpcSelector::Tag { .. } => None,
        }
    }

    /// The subnet ids, when given (empty when they are to be found by tag).
    pub fn subnet_ids(&self) -> &[SubnetId] {
        match self {
            VpcSelector::Ids { subnet_ids, .. } => subnet_ids,
            VpcSelector::Tag { .. } => &[],
        }
    }

    /// The tag to find the VPC by, when asked.
    pub fn vpc_tag(&self) -> Option<&VpcTag> {
        match self {
            VpcSelector::Ids { .. } => None,
            VpcSelector::Tag { vpc_tag } => Some(vpc_tag),
        }
    }
}

/// A tag (key and value, both non-empty) that identifies a VPC.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct VpcTag {
    /// The tag key (1–128 characters).
    pub key: String,
    /// The tag value (1–256 characters).
    pub value: String,
}

/// The security groups of an endpoint. At least one of `create` and a non-empty
/// `attach_security_group_ids` holds; the `allow_from_*` lists are empty unless `create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupSpec {
    /// Create (or reuse, by tag) a security group for the endpoint. Default: `true`.
    pub create: bool,
    /// Security groups allowed in to the created group (TCP 1024–65535).
    pub allow_from_security_group_ids: Vec<SecurityGroupId>,
    /// CIDR blocks allowed in to the created group; with neither list, the VPC CIDR.
    pub allow_from_cidrs: Vec<Cidr>,
    /// Existing security groups to attach to the endpoint.
    pub attach_security_group_ids: Vec<SecurityGroupId>,
}

impl Default for SecurityGroupSpec {
    /// Create one security group, open to the VPC CIDR; attach nothing else.
    fn default() -> Self {
        SecurityGroupSpec {
            create: true,
            allow_from_security_group_ids: Vec::new(),
            allow_from_cidrs: Vec::new(),
            attach_security_group_ids: Vec::new(),
        }
    }
}

/// The secret the connection strings are written to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSpec {
    /// The secret name; default `atlas/<projectId>/<clusterName>/privatelink`.
    pub name: SecretName,
    /// The KMS key to encrypt it with; `None`: the account's `aws/secretsmanager` key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<KmsKeyId>,
    /// A secret with `username` and `password` to merge into the written secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_user_secret_arn: Option<SecretArn>,
}
