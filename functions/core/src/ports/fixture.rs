//! What the fakes and the steps' unit tests share: one execution of one request for one VPC,
//! its work item and execution state, and a context on a virtual clock.

use std::sync::{Arc, Mutex, MutexGuard};

use clock::VirtualClock;
use serde_json::json;

use crate::aws::clients::AwsClients;
use crate::context::{Context, Polling, Settings};
use crate::request::SecurityGroupSpec;
use crate::state::{EndpointPlan, EndpointResult, EndpointWork, ExecutionState};

/// The execution the work items of [`work`] belong to.
pub const EXECUTION: &str = "provision-this";
/// Their VPC.
pub const VPC: &str = "vpc-0a1b2c3d";
/// Their request key.
pub const KEY: &str = "0123456789abcdef0123";
/// Their Atlas project.
pub const PROJECT: &str = "5f1d3a2b4c6e8f0a1b2c3d4e";
/// Their cluster.
pub const CLUSTER: &str = "Cluster0";
/// Their region, as Atlas spells it.
pub const REGION: &str = "US_EAST_1";
/// The Atlas endpoint service name tests give the VPC-endpoint step.
pub const SERVICE: &str = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0";

/// The lock, even if a failed assertion in another test poisoned it (each test has its own
/// fake, so the data is still that test's).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A work item of [`EXECUTION`] for endpoint 0 in [`VPC`] (CIDR `10.0.0.0/16`, subnets
/// `subnet-a1`, `subnet-b1` as given), with the request tag `team=platform`.
pub fn work(security_groups: SecurityGroupSpec, subnet_ids: &[&str]) -> EndpointWork {
    let request = crate::request::parse_request(&json!({
        "atlas": { "projectId": PROJECT, "clusterName": CLUSTER },
        "aws": {},
        "endpoints": [{ "region": "us-east-1", "vpcId": VPC, "subnetIds": subnet_ids }],
        "tags": { "team": "platform" }
    }))
    .expect("the test request is valid");
    EndpointWork {
        execution: EXECUTION.into(),
        request,
        result: EndpointResult::new(EndpointPlan {
            index: 0,
            region: "us-east-1".parse().expect("a region"),
            service_region: "us-east-1".parse().expect("a region"),
            vpc_id: VPC.into(),
            vpc_cidrs: vec!["10.0.0.0/16".into()],
            subnet_ids: subnet_ids.iter().map(|s| (*s).to_owned()).collect(),
            security_groups,
            request_key: KEY.into(),
        }),
    }
}

/// The VPC region of [`cross_region`] work items, as Atlas spells it.
pub const REMOTE_REGION: &str = "US_WEST_2";

/// `w` for a VPC in us-west-2 whose endpoint links to the us-east-1 service (cross-region).
pub fn cross_region(mut w: EndpointWork) -> EndpointWork {
    w.result.endpoint.region = "us-west-2".parse().expect("a region");
    w
}

/// The work item of [`work`] with default security groups and one subnet: for the steps
/// that do not look at them.
pub fn plain_work() -> EndpointWork {
    work(SecurityGroupSpec::default(), &["subnet-0a000001"])
}

/// The execution state of [`EXECUTION`] after its one endpoint got as far as `result`.
pub fn state(result: EndpointResult) -> ExecutionState {
    let w = plain_work();
    ExecutionState {
        execution: w.execution,
        request: w.request,
        endpoints: vec![result],
        secret: None,
        times: None,
    }
}

/// A context on a virtual clock with default settings, except that polling steps probe once
/// (a `…NotReady` goes straight back to the test). Its AWS clients are never used: the steps
/// under test get fakes.
pub fn context() -> Context {
    context_with(Polling::single_probe())
}

/// [`context`] with the given polling settings.
pub fn context_with(polling: Polling) -> Context {
    Context::new(
        Arc::new(VirtualClock::new()),
        AwsClients::from_config(aws_config::SdkConfig::builder().build()),
        Settings {
            polling,
            ..Settings::default()
        },
    )
}
