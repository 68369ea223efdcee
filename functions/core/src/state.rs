//! The JSON documents that travel between the steps through Step Functions.
//!
//! Validate produces a [`Plan`]; the state machine maps over its endpoints, and each iteration
//! carries an [`EndpointWork`] that every step reads and extends with its own output
//! (`ResultPath`). Every output that can make something records `created: true|false`, so
//! rollback removes exactly what this execution made.

use serde::{Deserialize, Serialize};

use crate::request::{AwsRegion, ProvisionRequest, SecurityGroupSpec};

/// What the workflow works from, once the request is validated and VPCs are discovered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The execution name: written into the `created-by` tag of what this execution makes.
    pub execution: String,
    /// The validated request, defaults applied.
    pub request: ProvisionRequest,
    /// One entry per region, with VPC and subnets resolved.
    pub endpoints: Vec<EndpointPlan>,
    /// The request's key ([`ProvisionRequest::owner_key`]: project, cluster, regions, VPCs):
    /// what the completion events name the request by, and the secret's owner tag.
    #[serde(default)]
    pub request_key: String,
    /// When validation ended (RFC 3339, on the functions' clock): the end of the first phase
    /// of the completion event's durations.
    #[serde(default)]
    pub validated_at: Option<String>,
}

/// One endpoint (one region) of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPlan {
    /// Position in `request.endpoints`.
    pub index: usize,
    /// The VPC's region (`us-east-1` in JSON; [`AwsRegion::atlas_name`] gives `US_EAST_1`):
    /// where the security group and the VPC endpoint are made.
    pub region: AwsRegion,
    /// The cluster region whose Atlas endpoint service the endpoint links to (its claim, its
    /// lookup, the link). Equal to `region` unless the endpoint is cross-region.
    pub service_region: AwsRegion,
    /// The VPC.
    pub vpc_id: String,
    /// Its CIDR blocks (the default ingress source).
    pub vpc_cidrs: Vec<String>,
    /// Subnets for the interface endpoint.
    pub subnet_ids: Vec<String>,
    /// How to secure it.
    pub security_groups: SecurityGroupSpec,
    /// Deterministic key of (project, cluster, region, VPC): tags and client tokens use it.
    pub request_key: String,
}

impl EndpointPlan {
    /// Whether the VPC is in another region than the service it links to (cross-region
    /// PrivateLink: the VPC endpoint names `ServiceRegion`, the service lists the VPC's region).
    pub fn is_cross_region(&self) -> bool {
        self.region != self.service_region
    }
}

/// The state of one Map iteration: its inputs, and under `result` its endpoint and the
/// outputs of the steps so far.
///
/// Only `result` leaves the iteration (the state machine's `OutputPath`): the request is
/// already in the execution's state, and carrying it once per endpoint would take the Map's
/// output past Step Functions' 256 KiB for the largest requests. The fields of `result` read
/// as the work item's own (`work.service`, `work.endpoint`) through `Deref`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointWork {
    /// Execution name.
    pub execution: String,
    /// The validated request.
    pub request: ProvisionRequest,
    /// What the iteration hands back: its endpoint and what the steps found or made.
    pub result: EndpointResult,
}

impl std::ops::Deref for EndpointWork {
    type Target = EndpointResult;

    fn deref(&self) -> &EndpointResult {
        &self.result
    }
}

impl std::ops::DerefMut for EndpointWork {
    fn deref_mut(&mut self) -> &mut EndpointResult {
        &mut self.result
    }
}

/// One endpoint's part of the execution: its plan and the outputs of its steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointResult {
    /// The endpoint this iteration provisions.
    pub endpoint: EndpointPlan,
    /// Output of ensure-endpoint-service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceRef>,
    /// Output of get-service-name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<ServiceNameOut>,
    /// Output of configure-security-groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<SecurityGroupsOut>,
    /// Output of create-vpc-endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint: Option<VpcEndpointOut>,
    /// Output of link-endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkOut>,
    /// Output of verify-endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<VerifyOut>,
    /// The error a Catch recorded, if this iteration failed (`{Error, Cause}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
}

impl EndpointResult {
    /// A result with nothing done yet.
    pub fn new(endpoint: EndpointPlan) -> Self {
        Self {
            endpoint,
            service: None,
            service_name: None,
            security_groups: None,
            vpc_endpoint: None,
            link: None,
            verified: None,
            error: None,
        }
    }
}

/// The Atlas endpoint service of a region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRef {
    /// 24-hex id.
    pub service_id: String,
    /// This execution created it (false: adopted).
    pub created: bool,
    /// Seconds the state machine waits before the first read of the service name (the known
    /// minimum time of a new service; 0 when it is ready).
    #[serde(default)]
    pub first_poll_after_seconds: u64,
}

/// The AWS service name of an available endpoint service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceNameOut {
    /// `com.amazonaws.vpce.<region>.vpce-svc-…`.
    pub endpoint_service_name: String,
    /// `AVAILABLE` or `WAITING_FOR_USER`.
    pub status: String,
    /// Cross-region only: this execution added the VPC's region to the service's
    /// `supportedRemoteRegions` (rollback takes it out again when no other endpoint uses it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remote_region_added: bool,
}

/// Security groups for the interface endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityGroupsOut {
    /// All groups to attach (ours and the given ones).
    pub security_group_ids: Vec<String>,
    /// Our group, if the request asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_group_id: Option<String>,
    /// This execution created `own_group_id`.
    pub created: bool,
}

/// The VPC interface endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VpcEndpointOut {
    /// `vpce-…`.
    pub vpc_endpoint_id: String,
    /// This execution created it.
    pub created: bool,
    /// The subnets it was created in (one per zone the service supports); empty for an
    /// endpoint found rather than created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnet_ids: Vec<String>,
}

/// The link of the VPC endpoint in Atlas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkOut {
    /// Atlas connection status right after linking.
    pub connection_status: String,
    /// This execution made the link (false: it existed).
    pub created: bool,
    /// Seconds the state machine waits before verifying (the known minimum time of a new
    /// link; 0 for an existing one).
    #[serde(default)]
    pub first_poll_after_seconds: u64,
}

/// Both sides agree that the endpoint is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyOut {
    /// Atlas `connectionStatus`.
    pub connection_status: String,
    /// EC2 endpoint state.
    pub vpc_endpoint_state: String,
    /// Seconds the state machine waits before reading the cluster's strings: the cluster's
    /// known minimum update time when the interface has just become available, else 0.
    #[serde(default)]
    pub cluster_poll_after_seconds: u64,
}

/// Input of store-connection-strings and rollback: the plan's request and every iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionState {
    /// Execution name.
    pub execution: String,
    /// The validated request.
    pub request: ProvisionRequest,
    /// One entry per endpoint, as far as each got.
    #[serde(default)]
    pub endpoints: Vec<EndpointResult>,
    /// The secret, once written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretOut>,
    /// When the phases began (the state machine passes them to store-connection-strings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<PhaseTimes>,
}

/// When the execution's phases began (RFC 3339), as the state machine knows them:
/// `$$.Execution.StartTime` and the plan's `validatedAt`. Storing begins when
/// store-connection-strings starts (its own clock).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTimes {
    /// The execution's start.
    #[serde(default)]
    pub started_at: Option<String>,
    /// The end of validation.
    #[serde(default)]
    pub validated_at: Option<String>,
}

/// How long each phase of a provisioning (or repair) took, in seconds, for the completion
/// event: validation, the endpoints (service, security group, VPC endpoint, link, verify; in
/// parallel across endpoints), and storing the strings (waiting for the cluster to publish
/// them included).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseDurations {
    /// Execution start → validated.
    pub validate_seconds: f64,
    /// Validated → the start of store-connection-strings' invocation that wrote the secret
    /// (earlier attempts of it, retried on `ConnectionStringsNotReady`, count here).
    pub endpoints_seconds: f64,
    /// That invocation's start → secret written.
    pub connection_strings_seconds: f64,
    /// Execution start → secret written.
    pub total_seconds: f64,
}

/// The secret holding the connection strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretOut {
    /// Secret ARN.
    pub secret_arn: String,
    /// Secret name.
    pub secret_name: String,
    /// Version holding the current content.
    pub version_id: String,
    /// The VPC endpoints whose strings it holds.
    pub vpc_endpoint_ids: Vec<String>,
    /// Number of private-endpoint string sets stored.
    pub connection_string_sets: usize,
    /// This execution created the secret.
    pub created: bool,
    /// How long each phase took (`null` when the state machine passed no times).
    #[serde(default)]
    pub durations: Option<PhaseDurations>,
    /// Atlas links removed because a repair replaced their VPC endpoint (`vpce-…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlinked: Vec<String>,
}

/// What rollback or teardown removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    /// Interface links removed in Atlas (`vpce-…`).
    pub links: Vec<String>,
    /// VPC endpoints deleted.
    pub vpc_endpoints: Vec<String>,
    /// Security groups deleted.
    pub security_groups: Vec<String>,
    /// Atlas endpoint services deleted.
    pub endpoint_services: Vec<String>,
    /// Secrets scheduled for deletion.
    pub secrets: Vec<String>,
    /// Remote regions taken out of a service's `supportedRemoteRegions` (cross-region
    /// endpoints whose request was the region's last user): `<service id>/<region>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_regions: Vec<String>,
}

impl Plan {
    /// The Map iteration input for endpoint `index` (what the state machine's ItemSelector
    /// builds). `None` past the last endpoint.
    pub fn work(&self, index: usize) -> Option<EndpointWork> {
        Some(EndpointWork {
            execution: self.execution.clone(),
            request: self.request.clone(),
            result: EndpointResult::new(self.endpoints.get(index)?.clone()),
        })
    }

    /// The execution state after the Map, given each iteration's final work item.
    pub fn state(&self, endpoints: Vec<EndpointWork>) -> ExecutionState {
        ExecutionState {
            execution: self.execution.clone(),
            request: self.request.clone(),
            endpoints: endpoints.into_iter().map(|w| w.result).collect(),
            secret: None,
            times: None,
        }
    }
}

impl ExecutionState {
    /// The work item of one endpoint's result: the execution's name and request with it.
    pub fn work(&self, result: &EndpointResult) -> EndpointWork {
        EndpointWork {
            execution: self.execution.clone(),
            request: self.request.clone(),
            result: result.clone(),
        }
    }
}
