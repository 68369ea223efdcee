//! EC2's view of PrivateLink acceptance, for the local stack.
//!
//! In AWS, an interface endpoint to a provider's service stays `pendingAcceptance` until the
//! provider (Atlas) accepts it, then `pending` while the connection is set up, then
//! `available`. moto has no provider and reports every endpoint `available` at once. This EC2
//! interceptor rewrites the state in `DescribeVpcEndpoints` answers from the simulator's view of
//! the link, so the workflow sees what it would see in AWS (endpoints to services other than a
//! provider's `com.amazonaws.vpce.…` keep moto's state):
//!
//! | Atlas `connectionStatus` | EC2 `State` |
//! |---|---|
//! | not linked yet, `PENDING_ACCEPTANCE` | `pendingAcceptance` |
//! | `PENDING` | `pending` |
//! | `AVAILABLE` | `available` |
//! | `REJECTED` | `rejected` |
//! | `FAILED` | `failed` |
//!
//! The mapping is a model: Atlas does not document when the EC2 side turns `available`. If in
//! AWS it turns `available` at acceptance, verify-endpoint still confirms with Atlas, at the
//! cost of more Atlas reads.

use atlas_sim::SimHandle;
use aws_config::SdkConfig;
use aws_sdk_ec2::config::interceptors::FinalizerInterceptorContextMut;
use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ec2::error::BoxError;
use aws_sdk_ec2::operation::describe_vpc_endpoints::DescribeVpcEndpointsOutput;
use aws_sdk_ec2::types::State;
use privatelink_core::aws::clients::AwsClients;

/// AWS clients on `config` (moto) whose EC2 reports acceptance from `sim`: what the demo, the
/// tests and the benchmark give the steps.
pub fn aws_clients(config: SdkConfig, sim: &SimHandle) -> AwsClients {
    AwsClients::from_config(config).with_ec2_interceptor(AcceptanceFromSimulator::new(sim.clone()))
}

/// The interceptor; see the module documentation.
#[derive(Debug, Clone)]
pub struct AcceptanceFromSimulator {
    sim: SimHandle,
}

impl AcceptanceFromSimulator {
    /// EC2 states from `sim`'s links.
    pub fn new(sim: SimHandle) -> Self {
        Self { sim }
    }

    /// The EC2 state for a VPC endpoint to `service_name`, or `None` to keep moto's: endpoints
    /// to a provider's service (`com.amazonaws.vpce.…`, as Atlas's are) that the simulator has
    /// not linked yet wait for acceptance.
    fn state_of(&self, vpce_id: &str, service_name: &str) -> Option<State> {
        let status = match self.sim.interface(vpce_id) {
            Some(interface) => interface.connection_status,
            None if service_name.starts_with("com.amazonaws.vpce.") => {
                "PENDING_ACCEPTANCE".to_owned()
            }
            None => return None,
        };
        // AWS's wire spelling, which is what real answers carry.
        Some(State::from(match status.as_str() {
            "PENDING" => "pending",
            "AVAILABLE" => "available",
            "REJECTED" => "rejected",
            "FAILED" => "failed",
            "DELETING" => "deleting",
            _ => "pendingAcceptance",
        }))
    }
}

impl Intercept for AcceptanceFromSimulator {
    fn name(&self) -> &'static str {
        "AcceptanceFromSimulator"
    }

    fn modify_before_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Ok(output)) = context.output_or_error_mut() else {
            return Ok(());
        };
        let Some(described) = output.downcast_mut::<DescribeVpcEndpointsOutput>() else {
            return Ok(());
        };
        for endpoint in described.vpc_endpoints.iter_mut().flatten() {
            let (Some(id), Some(service)) = (&endpoint.vpc_endpoint_id, &endpoint.service_name)
            else {
                continue;
            };
            // moto, like AWS, sends `available`, which the SDK's model spells `Available`
            // (aws-sdk-rust#619): compare the wire text.
            let available = endpoint
                .state
                .as_ref()
                .is_some_and(|s| s.as_str().eq_ignore_ascii_case("available"));
            if available && let Some(state) = self.state_of(id, service) {
                endpoint.state = Some(state);
            }
        }
        Ok(())
    }
}
