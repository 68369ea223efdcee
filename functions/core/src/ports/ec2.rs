//! The EC2 port: the EC2 operations of the steps (what validate reads of VPCs, subnets and
//! security groups; security groups, the VPC endpoint, and what link, verify, rollback and
//! teardown read and delete), at the level of our operations (find, create, allow, delete),
//! not of the SDK's calls.

use std::future::Future;

use clock::SharedClock;

use crate::aws::ec2::{self, SubnetInfo, Tagged, VpcEndpointDetail, VpcEndpointInfo, VpcInfo};
use crate::error::StepError;

/// The EC2 operations the steps decide with. Each method means what the function of the same
/// name in [`crate::aws::ec2`] does; [`SdkEc2`] is that implementation.
///
/// The methods return `Send` futures: the step catalogue runs steps as `Send` futures (Lambda
/// and the local runner spawn them), and saying so here lets a step generic over the port be
/// `Send` for every implementation, not only for the ones the compiler can see through.
/// Implementations still write `async fn`.
pub trait Ec2: Sync {
    /// One VPC with its CIDR blocks; `None` when it does not exist.
    fn describe_vpc(
        &self,
        vpc_id: &str,
    ) -> impl Future<Output = Result<Option<VpcInfo>, StepError>> + Send;

    /// The VPCs carrying the tag `key=value`.
    fn find_vpcs_by_tag(
        &self,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<Vec<VpcInfo>, StepError>> + Send;

    /// The subnets of `vpc_id` carrying the tag `key=value`, by id.
    fn find_subnets_by_tag(
        &self,
        vpc_id: &str,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<Vec<SubnetInfo>, StepError>> + Send;

    /// Security groups by id, as `(group id, vpc id)`; missing ones are absent from the
    /// answer.
    fn describe_security_groups(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<(String, String)>, StepError>> + Send;

    /// Our security group for `request_key` in `vpc_id`: by tag, else by its deterministic
    /// name; with its `created-by` tag.
    fn find_security_group(
        &self,
        vpc_id: &str,
        request_key: &str,
        group_name: &str,
    ) -> impl Future<Output = Result<Option<Tagged>, StepError>> + Send;

    /// Creates a tagged security group. A group of that name made meanwhile (a racing run) is
    /// answered instead, with its own `created-by` tag.
    fn create_security_group(
        &self,
        vpc_id: &str,
        group_name: &str,
        description: &str,
        tags: &[(String, String)],
        execution: &str,
    ) -> impl Future<Output = Result<Tagged, StepError>> + Send;

    /// Allows TCP 1024–65535 into `group_id` from the given groups and CIDRs, adding only the
    /// rules it lacks; returns the sources added.
    fn allow_atlas_ports(
        &self,
        group_id: &str,
        from_groups: &[String],
        from_cidrs: &[String],
    ) -> impl Future<Output = Result<Vec<String>, StepError>> + Send;

    /// The sources TCP 1024–65535 into `group_id` is allowed from: (security groups, CIDRs).
    /// Read only (inspect compares them with what configure-security-groups would add).
    fn atlas_port_sources(
        &self,
        group_id: &str,
    ) -> impl Future<Output = Result<(Vec<String>, Vec<String>), StepError>> + Send;

    /// Every interface endpoint of `vpc_id` except `deleted` ones, whatever its service, with
    /// its groups (inspect: the VPC's endpoint quota, the groups of ours).
    fn vpc_interface_endpoints(
        &self,
        vpc_id: &str,
    ) -> impl Future<Output = Result<Vec<VpcEndpointDetail>, StepError>> + Send;

    /// Live interface endpoints of `vpc_id` to `service_name`: those carrying `request_key`
    /// first, then any other.
    fn find_vpc_endpoints(
        &self,
        vpc_id: &str,
        service_name: &str,
        request_key: &str,
    ) -> impl Future<Output = Result<Vec<VpcEndpointInfo>, StepError>> + Send;

    /// The availability zones an endpoint service supports (empty: it does not say).
    fn service_zones(
        &self,
        service_name: &str,
    ) -> impl Future<Output = Result<Vec<String>, StepError>> + Send;

    /// Subnets by id; missing ones are absent from the answer.
    fn describe_subnets(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<SubnetInfo>, StepError>> + Send;

    /// Creates an interface endpoint (private DNS off) under `client_token`, to a service in
    /// `service_region` when that is another region than the VPC's (cross-region). A token
    /// EC2 has seen answers the endpoint it made then, whatever its state now.
    #[allow(clippy::too_many_arguments)]
    fn create_vpc_endpoint(
        &self,
        vpc_id: &str,
        service_name: &str,
        service_region: Option<&str>,
        subnet_ids: &[String],
        security_group_ids: &[String],
        client_token: &str,
        tags: &[(String, String)],
    ) -> impl Future<Output = Result<VpcEndpointInfo, StepError>> + Send;

    /// One VPC endpoint by id, retried while EC2 does not show a new id yet; `None` when it
    /// does not exist (or is `deleted`).
    fn describe_vpc_endpoint(
        &self,
        vpce_id: &str,
    ) -> impl Future<Output = Result<Option<VpcEndpointInfo>, StepError>> + Send;

    /// Every VPC endpoint of `vpc_id` carrying `request_key`, whatever its service, except
    /// `deleted` ones (`deleting` ones included).
    fn find_vpc_endpoints_by_key(
        &self,
        vpc_id: &str,
        request_key: &str,
    ) -> impl Future<Output = Result<Vec<VpcEndpointInfo>, StepError>> + Send;

    /// Attaches `groups` to the VPC endpoint `vpce_id` (a repair: someone detached ours).
    fn add_vpc_endpoint_security_groups(
        &self,
        vpce_id: &str,
        groups: &[String],
    ) -> impl Future<Output = Result<(), StepError>> + Send;

    /// Deletes a VPC endpoint; gone already is fine (after the visibility budget).
    fn delete_vpc_endpoint(
        &self,
        vpce_id: &str,
    ) -> impl Future<Output = Result<(), StepError>> + Send;

    /// Deletes a security group; gone already is fine, still in use is
    /// `InterfaceEndpointNotReady`.
    fn delete_security_group(
        &self,
        group_id: &str,
    ) -> impl Future<Output = Result<(), StepError>> + Send;
}

/// [`Ec2`] through the AWS SDK: one account and region's client, and the clock its
/// eventual-consistency retries wait on.
#[derive(Debug, Clone)]
pub struct SdkEc2 {
    client: aws_sdk_ec2::Client,
    clock: SharedClock,
}

impl SdkEc2 {
    /// The port over `client`, waiting on `clock`.
    pub fn new(client: aws_sdk_ec2::Client, clock: SharedClock) -> Self {
        Self { client, clock }
    }
}

impl Ec2 for SdkEc2 {
    async fn describe_vpc(&self, vpc_id: &str) -> Result<Option<VpcInfo>, StepError> {
        ec2::describe_vpc(&self.client, vpc_id).await
    }

    async fn find_vpcs_by_tag(&self, key: &str, value: &str) -> Result<Vec<VpcInfo>, StepError> {
        ec2::find_vpcs_by_tag(&self.client, key, value).await
    }

    async fn find_subnets_by_tag(
        &self,
        vpc_id: &str,
        key: &str,
        value: &str,
    ) -> Result<Vec<SubnetInfo>, StepError> {
        ec2::find_subnets_by_tag(&self.client, vpc_id, key, value).await
    }

    async fn describe_security_groups(
        &self,
        ids: &[String],
    ) -> Result<Vec<(String, String)>, StepError> {
        ec2::describe_security_groups(&self.client, ids).await
    }

    async fn find_security_group(
        &self,
        vpc_id: &str,
        request_key: &str,
        group_name: &str,
    ) -> Result<Option<Tagged>, StepError> {
        ec2::find_security_group(&self.client, vpc_id, request_key, group_name).await
    }

    async fn create_security_group(
        &self,
        vpc_id: &str,
        group_name: &str,
        description: &str,
        tags: &[(String, String)],
        execution: &str,
    ) -> Result<Tagged, StepError> {
        ec2::create_security_group(
            &self.client,
            vpc_id,
            group_name,
            description,
            tags,
            execution,
        )
        .await
    }

    async fn allow_atlas_ports(
        &self,
        group_id: &str,
        from_groups: &[String],
        from_cidrs: &[String],
    ) -> Result<Vec<String>, StepError> {
        ec2::allow_atlas_ports(
            &self.client,
            self.clock.as_ref(),
            group_id,
            from_groups,
            from_cidrs,
        )
        .await
    }

    async fn atlas_port_sources(
        &self,
        group_id: &str,
    ) -> Result<(Vec<String>, Vec<String>), StepError> {
        ec2::atlas_port_sources(&self.client, self.clock.as_ref(), group_id).await
    }

    async fn vpc_interface_endpoints(
        &self,
        vpc_id: &str,
    ) -> Result<Vec<VpcEndpointDetail>, StepError> {
        ec2::vpc_interface_endpoints(&self.client, vpc_id).await
    }

    async fn find_vpc_endpoints(
        &self,
        vpc_id: &str,
        service_name: &str,
        request_key: &str,
    ) -> Result<Vec<VpcEndpointInfo>, StepError> {
        ec2::find_vpc_endpoints(&self.client, vpc_id, service_name, request_key).await
    }

    async fn service_zones(&self, service_name: &str) -> Result<Vec<String>, StepError> {
        ec2::service_zones(&self.client, service_name).await
    }

    async fn describe_subnets(&self, ids: &[String]) -> Result<Vec<SubnetInfo>, StepError> {
        ec2::describe_subnets(&self.client, ids).await
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
        ec2::create_vpc_endpoint(
            &self.client,
            self.clock.as_ref(),
            vpc_id,
            service_name,
            service_region,
            subnet_ids,
            security_group_ids,
            client_token,
            tags,
        )
        .await
    }

    async fn describe_vpc_endpoint(
        &self,
        vpce_id: &str,
    ) -> Result<Option<VpcEndpointInfo>, StepError> {
        ec2::describe_vpc_endpoint(&self.client, self.clock.as_ref(), vpce_id).await
    }

    async fn find_vpc_endpoints_by_key(
        &self,
        vpc_id: &str,
        request_key: &str,
    ) -> Result<Vec<VpcEndpointInfo>, StepError> {
        ec2::find_vpc_endpoints_by_key(&self.client, vpc_id, request_key).await
    }

    async fn add_vpc_endpoint_security_groups(
        &self,
        vpce_id: &str,
        groups: &[String],
    ) -> Result<(), StepError> {
        ec2::add_vpc_endpoint_security_groups(&self.client, vpce_id, groups).await
    }

    async fn delete_vpc_endpoint(&self, vpce_id: &str) -> Result<(), StepError> {
        ec2::delete_vpc_endpoint(&self.client, self.clock.as_ref(), vpce_id).await
    }

    async fn delete_security_group(&self, group_id: &str) -> Result<(), StepError> {
        ec2::delete_security_group(&self.client, self.clock.as_ref(), group_id).await
    }
}
