//! The execution input of the provision workflow, and its offline validation.
//!
//! [`parse_request`] turns the JSON input into a [`ProvisionRequest`] or a
//! [`StepError`](crate::StepError) whose message starts with the JSON path of the field at
//! fault, e.g. `endpoints[0].subnetIds: at least one subnet is required: …`. It runs first, so
//! a rejected request has created nothing.
//!
//! ```json
//! {
//!   "atlas": { "projectId": "5f1d3a2b4c6e8f0a1b2c3d4e", "clusterName": "Cluster0" },
//!   "endpoints": [ { "region": "us-east-1", "vpcId": "vpc-0a1b2c3d",
//!                    "subnetIds": ["subnet-0a1b2c3d"] } ]
//! }
//! ```
//!
//! The rules, by field:
//! * Everywhere: unknown fields are rejected by name (with a suggestion for near misses);
//!   `null` counts as "not given" for optional fields.
//! * `atlas.projectId`: 24 lowercase hex characters. `atlas.clusterName`: letters, digits and
//!   hyphens, not starting with a hyphen, at most 64. `atlas.serverlessInstanceName`:
//!   [`ServerlessRetired`](crate::ErrorName::ServerlessRetired). `atlas.provider`: `AWS` (the
//!   default, any case); `AZURE`/`GCP` →
//!   [`UnsupportedProvider`](crate::ErrorName::UnsupportedProvider); anything else is invalid.
//!   `atlas.credentialsSecretArn`, `secret.databaseUserSecretArn`: Secrets Manager ARNs.
//! * `aws.accountId`: 12 digits. `aws.roleArn`: an IAM role ARN, in `aws.accountId` if both
//!   are given.
//! * `endpoints`: 1 to [`MAX_ENDPOINTS`], regions distinct and supported ([`AwsRegion`]),
//!   given by AWS name. Each has `vpcId` with 1 to [`MAX_SUBNETS`] distinct `subnetIds`, or
//!   `vpcTag` (non-empty key ≤ 128, value ≤ 256), not both. `securityGroups` (default: create
//!   one) must leave the endpoint with a security group (`create`, or `attachSecurityGroupIds`);
//!   `allowFrom*` only with `create`; CIDRs have zero host bits; ids are well formed, lists
//!   have no duplicates.
//! * `secret.name`: Secrets Manager naming rules (default
//!   `atlas/<projectId>/<clusterName>/privatelink`). `secret.kmsKeyId`: key id, key ARN, alias
//!   or alias ARN.
//! * `tags`: at most [`MAX_USER_TAGS`]; AWS tag characters and lengths; keys starting with
//!   `aws:` or [`RESERVED_TAG_PREFIX`] (any case) are reserved.

mod ids;
mod model;
mod path;
mod raw;
mod regions;
mod scope;
mod tags;
mod validate;

pub use ids::{
    AccountId, Cidr, ClusterName, InvalidValue, KmsKeyId, ProjectId, RoleArn, SecretArn,
    SecretName, SecurityGroupId, SubnetId, VpcId,
};
pub use model::{
    AtlasTarget, AwsTarget, Endpoint, Mode, Provider, ProvisionRequest, SecretSpec,
    SecurityGroupSpec, Tags, VpcSelector, VpcTag,
};
pub use regions::AwsRegion;
pub use scope::IamScope;
pub use tags::{MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, MAX_USER_TAGS, RESERVED_TAG_PREFIX};
pub use validate::{
    MAX_ALLOW_FROM, MAX_ENDPOINTS, MAX_SECURITY_GROUPS, MAX_SUBNETS, parse_request,
};
