//! Conformance of our Step Functions runner with an independent implementation, and lint of the
//! state machine files.
//!
//! Each scenario runs `statemachine/provision.asl.json` or `teardown.asl.json` (with the same
//! `${…FunctionArn}` substitutions, input and scripted task outcomes) twice: in our runner
//! (`asl-runner`, on virtual time) and in aws-local-stepfunctions 3 (npm, through
//! `tests/conformance/run-aws-local.mjs` on the local Node 22). Both must enter the same states
//! in the same order (per Map iteration when iterations interleave), call each task the same
//! number of times, and end with the same status, output, error and cause.
//!
//! The lint tests run statelint (PyPI) and asl-validator (npm) on both files.
//!
//! The tools come from `scripts/install-tools.sh`, found in `$TOOLS_DIR` or `<repo>/.tools`.
//! Without them the tests say so and pass, except under `CI=true`, where that is a failure.
//!
//! aws-local-stepfunctions differs from AWS in places (`shared/BUILD-NOTES.md`). What these
//! scenarios could meet of that is kept out of the comparison, each where it applies:
//! - it never sets `$$.Execution.Name` (Validate's Parameters read it): the driver passes the
//!   execution name in the context object it gives the library, like AWS's context would have;
//! - it never fills `$$.State.*`, `$$.StateMachine.*`, `$$.Task.*`, and inside a Map
//!   `$$.Execution.Input` is the iteration input: our definitions read none of these, and the
//!   Map's `ItemSelector` reads only `$$.Map.Item.Value`, which it does set;
//! - a wildcard path matching nothing raises `States.Runtime` there (AWS gives `[]`): the
//!   wildcards in `CheckOutcomes`, `Summarize` and `TornDown` always have a Map result to match
//!   here, and no scenario makes the Map itself fail (which would reach `NoResults`);
//! - its built-in validator (asl-validator 3) rejects the JSONPath filter in
//!   `FindFailedEndpoints` that AWS accepts: the driver turns path checks off, and the lint test
//!   below reports the filter;
//! - queued Map iterations still start there after one fails: our iterations catch every
//!   error, so an iteration never fails, and two endpoints are far below `MaxConcurrency`;
//! - `Retry` intervals and `Wait` states are overridden to zero there (the real durations run
//!   on our runner's virtual clock), so only the number of attempts is compared, not timing or
//!   `JitterStrategy`.

use integration_tests::tools::{repo_root, require_tools, run_with_limit, tools_dir};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asl_runner::{
    EventType, ExecutionOptions, ExecutionResult, ExecutionStatus, FnInvoker, Runner, RunnerConfig,
    TaskFailure, load_definition,
};
use clock::VirtualClock;
use futures::FutureExt;
use serde::Deserialize;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Tools

/// The local Node 22 that `npm i node@22` installed.
fn node_bin() -> PathBuf {
    tools_dir().join("node/node_modules/node/bin/node")
}

fn node_modules() -> PathBuf {
    tools_dir().join("node/node_modules")
}

fn conformance_tools() -> Option<()> {
    require_tools(
        "aws-local-stepfunctions conformance",
        &[
            node_bin(),
            node_modules().join("aws-local-stepfunctions/package.json"),
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// Scenarios

const PROJECT_ID: &str = "6566f0a1b2c3d4e5f6a7b8c9";
const CLUSTER: &str = "Cluster0";

/// The same stand-in Lambda ARNs the CLI uses for local runs.
fn substitutions() -> HashMap<String, String> {
    atlas_privatelink::machines::local_substitutions()
}

/// The step a Task resource names (the driver derives it the same way): the completion
/// events' `events:putEvents` integration is the step `putEvents`.
fn step_of(resource: &str) -> &str {
    if resource == atlas_privatelink::machines::PUT_EVENTS {
        return "putEvents";
    }
    resource
        .split(":function:")
        .nth(1)
        .and_then(|f| f.strip_prefix("atlas-privatelink-"))
        .unwrap_or_else(|| panic!("Task resource {resource} is not one of our functions"))
}

#[derive(Clone, Copy, Debug)]
enum Machine {
    Provision,
    Teardown,
}

impl Machine {
    fn path(self) -> PathBuf {
        let file = match self {
            Machine::Provision => "provision.asl.json",
            Machine::Teardown => "teardown.asl.json",
        };
        repo_root().join("statemachine").join(file)
    }
}

/// A task succeeds with `output`.
fn ok(output: Value) -> Value {
    json!({ "output": output })
}

/// A task fails with `error`, its cause shaped as a Lambda function error reports it.
fn err(error: &str, message: &str) -> Value {
    let cause = json!({ "errorType": error, "errorMessage": message }).to_string();
    json!({ "error": error, "cause": cause })
}

fn atlas_region(region: &str) -> String {
    region.to_uppercase().replace('-', "_")
}

/// A short, stable hex string standing in for AWS and Atlas ids.
fn hex_id(seed: &str, len: usize) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}{h:016x}")[..len].to_string()
}

/// The execution input: a request for one endpoint per region.
fn request(regions: &[&str]) -> Value {
    let endpoints: Vec<Value> = regions
        .iter()
        .map(|r| {
            json!({
                "region": r,
                "vpcId": format!("vpc-{}", hex_id(r, 17)),
                "subnetIds": [format!("subnet-{}", hex_id(&format!("{r}a"), 17))],
                "securityGroups": {"create": true, "allowFromSecurityGroupIds": [],
                                   "allowFromCidrs": [], "attachSecurityGroupIds": []}
            })
        })
        .collect();
    json!({
        "atlas": {"projectId": PROJECT_ID, "clusterName": CLUSTER, "provider": "AWS"},
        "endpoints": endpoints,
        "tags": {"team": "platform"}
    })
}

/// Validate's output: a Plan {execution, request, endpoints: [EndpointPlan]}.
fn plan(execution: &str, regions: &[&str]) -> Value {
    let endpoints: Vec<Value> = regions
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({
                "index": i,
                "region": r,
                "atlasRegion": atlas_region(r),
                "vpcId": format!("vpc-{}", hex_id(r, 17)),
                "vpcCidrs": [format!("10.{i}.0.0/16")],
                "subnetIds": [format!("subnet-{}", hex_id(&format!("{r}a"), 17))],
                "securityGroups": {"create": true, "allowFromSecurityGroupIds": [],
                                   "allowFromCidrs": [], "attachSecurityGroupIds": []},
                "requestKey": hex_id(&format!("{PROJECT_ID}/{CLUSTER}/{r}"), 16)
            })
        })
        .collect();
    let mut request = request(regions);
    request["secret"] = json!({"name": format!("atlas/{PROJECT_ID}/{CLUSTER}/privatelink")});
    request["mode"] = json!("provision");
    json!({
        "execution": execution,
        "request": request,
        "endpoints": endpoints,
        "requestKey": hex_id(&format!("{PROJECT_ID}/{CLUSTER}"), 16),
        "validatedAt": "2026-12-01T12:00:00Z"
    })
}

fn service(region: &str, created: bool) -> Value {
    json!({
        "serviceId": hex_id(&format!("svc/{region}"), 24),
        "created": created,
        "firstPollAfterSeconds": if created { 150 } else { 0 }
    })
}

fn service_name(region: &str) -> Value {
    json!({
        "endpointServiceName": format!("com.amazonaws.vpce.{region}.vpce-svc-{}", hex_id(region, 17)),
        "status": "AVAILABLE"
    })
}

fn security_groups(region: &str) -> Value {
    let sg = format!("sg-{}", hex_id(&format!("sg/{region}"), 17));
    json!({ "securityGroupIds": [sg], "ownGroupId": sg, "created": true })
}

fn vpce_id(region: &str) -> String {
    format!("vpce-{}", hex_id(&format!("vpce/{region}"), 17))
}

fn vpc_endpoint(region: &str) -> Value {
    json!({ "vpcEndpointId": vpce_id(region), "created": true })
}

fn link(created: bool) -> Value {
    json!({
        "connectionStatus": "PENDING_ACCEPTANCE",
        "created": created,
        "firstPollAfterSeconds": if created { 120 } else { 0 }
    })
}

fn verified() -> Value {
    json!({
        "connectionStatus": "AVAILABLE",
        "vpcEndpointState": "available",
        "clusterPollAfterSeconds": 60
    })
}

fn secret(regions: &[&str]) -> Value {
    let name = format!("atlas/{PROJECT_ID}/{CLUSTER}/privatelink");
    json!({
        "secretArn": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf"),
        "secretName": name,
        "versionId": "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f",
        "vpcEndpointIds": regions.iter().map(|r| vpce_id(r)).collect::<Vec<_>>(),
        "connectionStringSets": 1,
        "created": true,
        // Fractions: a whole number read back from JavaScript would lose its `.0`.
        "durations": {"validateSeconds": 1.5, "endpointsSeconds": 400.25,
                      "connectionStringsSeconds": 60.5, "totalSeconds": 462.25}
    })
}

/// What rollback or teardown removed (`Removed`).
fn removed(regions: &[&str], secret: bool) -> Value {
    let secrets: Vec<String> = if secret {
        vec![format!("atlas/{PROJECT_ID}/{CLUSTER}/privatelink")]
    } else {
        vec![]
    };
    json!({
        "links": regions.iter().map(|r| vpce_id(r)).collect::<Vec<_>>(),
        "vpcEndpoints": regions.iter().map(|r| vpce_id(r)).collect::<Vec<_>>(),
        "securityGroups": regions.iter().map(|r| security_groups(r)["ownGroupId"].clone()).collect::<Vec<_>>(),
        "endpointServices": regions.iter().map(|r| service(r, true)["serviceId"].clone()).collect::<Vec<_>>(),
        "secrets": secrets
    })
}

/// One conformance scenario: the machine, the regions of the request, each script key's task
/// outcomes in call order (a key is a step, or `<step>@<region>` for one Map iteration), and
/// what the run must come to (checked on both sides, so a script that does not drive the
/// machine where it is meant to is caught even when both implementations agree).
struct Scenario {
    name: &'static str,
    machine: Machine,
    regions: Vec<&'static str>,
    tasks: Vec<(String, Vec<Value>)>,
    expect_status: &'static str,
    expect_error: Option<&'static str>,
    expect_top_level: Vec<&'static str>,
    expect_iterations: Vec<Vec<&'static str>>,
}

impl Scenario {
    fn execution_name(&self) -> String {
        format!("conformance-{}", self.name)
    }

    fn input(&self) -> Value {
        request(&self.regions)
    }

    fn tasks_json(&self) -> Value {
        let mut map = Map::new();
        for (key, outcomes) in &self.tasks {
            map.insert(key.clone(), Value::Array(outcomes.clone()));
        }
        Value::Object(map)
    }

    /// The document `run-aws-local.mjs` reads.
    fn driver_input(&self) -> Value {
        json!({
            "definition": self.machine.path(),
            "substitutions": substitutions(),
            "executionName": self.execution_name(),
            "input": self.input(),
            "tasks": self.tasks_json(),
        })
    }
}

const PROVISION_OK: [&str; 10] = [
    "Validate",
    "ChooseMode",
    "ProvisionEndpoints",
    "CheckOutcomes",
    "AnyEndpointFailed",
    "EndpointsOk",
    "StoreConnectionStrings",
    "Summarize",
    "Completed",
    "PublishReady",
];
const PROVISION_ROLLED_BACK: [&str; 11] = [
    "Validate",
    "ChooseMode",
    "ProvisionEndpoints",
    "CheckOutcomes",
    "AnyEndpointFailed",
    "EndpointsOk",
    "FindFailedEndpoints",
    "PickFailure",
    "Rollback",
    "PublishFailed",
    "ProvisioningFailed",
];
/// An iteration that creates the service and the link (the Wait states wait their known
/// minimum times).
const ITERATION_NEW: [&str; 9] = [
    "EnsureEndpointService",
    "AwaitServiceProvisioning",
    "GetServiceName",
    "ConfigureSecurityGroups",
    "CreateVpcEndpoint",
    "LinkEndpoint",
    "AwaitLinkAcceptance",
    "VerifyEndpoint",
    "AwaitClusterUpdate",
];

/// The task script of a provisioning that goes well for every region (one call per step),
/// with the service and the link created by this execution.
fn happy_tasks(execution: &str, regions: &[&str]) -> Vec<(String, Vec<Value>)> {
    let mut tasks = vec![("validate".to_string(), vec![ok(plan(execution, regions))])];
    for r in regions {
        let per = |step: &str, outcomes: Vec<Value>| (format!("{step}@{r}"), outcomes);
        tasks.push(per("ensure-endpoint-service", vec![ok(service(r, true))]));
        tasks.push(per("get-service-name", vec![ok(service_name(r))]));
        tasks.push(per(
            "configure-security-groups",
            vec![ok(security_groups(r))],
        ));
        tasks.push(per("create-vpc-endpoint", vec![ok(vpc_endpoint(r))]));
        tasks.push(per("link-endpoint", vec![ok(link(true))]));
        tasks.push(per("verify-endpoint", vec![ok(verified())]));
    }
    tasks.push((
        "store-connection-strings".to_string(),
        vec![ok(secret(regions))],
    ));
    tasks
}

/// Replaces the script of `key` (which must be there).
fn set(tasks: &mut [(String, Vec<Value>)], key: &str, outcomes: Vec<Value>) {
    let entry = tasks
        .iter_mut()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no script for {key}"));
    entry.1 = outcomes;
}

/// Removes the scripts of `keys` (steps that a failure keeps from running).
fn drop_keys(tasks: &mut Vec<(String, Vec<Value>)>, keys: &[&str]) {
    tasks.retain(|(k, _)| !keys.contains(&k.as_str()));
}

fn strs(s: &[&'static str]) -> Vec<&'static str> {
    s.to_vec()
}

fn scenario(name: &'static str) -> Scenario {
    let exec = format!("conformance-{name}");
    let one = vec!["us-east-1"];
    let happy = |regions: &[&str]| happy_tasks(&exec, regions);
    match name {
        // (a) Everything succeeds at the first attempt.
        "a-success" => Scenario {
            name,
            machine: Machine::Provision,
            regions: one.clone(),
            tasks: happy(&one),
            expect_status: "SUCCEEDED",
            expect_error: None,
            expect_top_level: strs(&PROVISION_OK),
            expect_iterations: vec![strs(&ITERATION_NEW)],
        },
        // (b) The endpoint service is not ready twice (Retry on GetServiceName), then is.
        "b-service-not-ready" => {
            let mut tasks = happy(&one);
            set(
                &mut tasks,
                "get-service-name@us-east-1",
                vec![
                    err("EndpointServiceNotReady", "endpoint service is INITIATING"),
                    err("EndpointServiceNotReady", "endpoint service is INITIATING"),
                    ok(service_name("us-east-1")),
                ],
            );
            Scenario {
                name,
                machine: Machine::Provision,
                regions: one.clone(),
                tasks,
                expect_status: "SUCCEEDED",
                expect_error: None,
                expect_top_level: strs(&PROVISION_OK),
                expect_iterations: vec![strs(&ITERATION_NEW)],
            }
        }
        // (c) The interface endpoint is not ready three times (Retry on VerifyEndpoint).
        "c-interface-not-ready" => {
            let mut tasks = happy(&one);
            let not_ready = || err("InterfaceEndpointNotReady", "connectionStatus PENDING");
            set(
                &mut tasks,
                "verify-endpoint@us-east-1",
                vec![not_ready(), not_ready(), not_ready(), ok(verified())],
            );
            Scenario {
                name,
                machine: Machine::Provision,
                regions: one.clone(),
                tasks,
                expect_status: "SUCCEEDED",
                expect_error: None,
                expect_top_level: strs(&PROVISION_OK),
                expect_iterations: vec![strs(&ITERATION_NEW)],
            }
        }
        // (d) Atlas rejects the interface endpoint: rollback, then Fail with that error.
        "d-rejected-rollback" => {
            let mut tasks = happy(&one);
            set(
                &mut tasks,
                "verify-endpoint@us-east-1",
                vec![err(
                    "InterfaceEndpointRejected",
                    "connectionStatus REJECTED: the endpoint was rejected",
                )],
            );
            drop_keys(&mut tasks, &["store-connection-strings"]);
            tasks.push(("rollback".into(), vec![ok(removed(&one, false))]));
            let mut iteration = strs(&ITERATION_NEW);
            *iteration.last_mut().expect("non-empty") = "EndpointFailed";
            Scenario {
                name,
                machine: Machine::Provision,
                regions: one.clone(),
                tasks,
                expect_status: "FAILED",
                expect_error: Some("InterfaceEndpointRejected"),
                expect_top_level: strs(&PROVISION_ROLLED_BACK),
                expect_iterations: vec![iteration],
            }
        }
        // (e) The request is invalid: Fail at once, nothing to roll back.
        "e-invalid-request" => Scenario {
            name,
            machine: Machine::Provision,
            regions: one.clone(),
            tasks: vec![(
                "validate".into(),
                vec![err(
                    "InvalidRequest",
                    "endpoints[0].subnetIds: at least one subnet is required",
                )],
            )],
            expect_status: "FAILED",
            expect_error: Some("InvalidRequest"),
            expect_top_level: vec![
                "Validate",
                "RejectedWhilePlanning",
                "PublishRejected",
                "RequestRejected",
            ],
            expect_iterations: vec![],
        },
        // (f) Atlas rate-limits once (Retry with FULL jitter), then succeeds; the service and
        // the link already existed, so their Wait states wait 0 s.
        "f-rate-limited" => {
            let mut tasks = happy(&one);
            set(
                &mut tasks,
                "ensure-endpoint-service@us-east-1",
                vec![
                    err("AtlasRateLimited", "429 RATE_LIMITED_TOKEN_BUCKET"),
                    ok(service("us-east-1", false)),
                ],
            );
            set(&mut tasks, "link-endpoint@us-east-1", vec![ok(link(false))]);
            Scenario {
                name,
                machine: Machine::Provision,
                regions: one.clone(),
                tasks,
                expect_status: "SUCCEEDED",
                expect_error: None,
                expect_top_level: strs(&PROVISION_OK),
                expect_iterations: vec![strs(&ITERATION_NEW)],
            }
        }
        // (g) The private connection strings are not published yet once.
        "g-strings-not-ready" => {
            let mut tasks = happy(&one);
            set(
                &mut tasks,
                "store-connection-strings",
                vec![
                    err(
                        "ConnectionStringsNotReady",
                        "cluster is UPDATING; no private endpoint strings yet",
                    ),
                    ok(secret(&one)),
                ],
            );
            Scenario {
                name,
                machine: Machine::Provision,
                regions: one.clone(),
                tasks,
                expect_status: "SUCCEEDED",
                expect_error: None,
                expect_top_level: strs(&PROVISION_OK),
                expect_iterations: vec![strs(&ITERATION_NEW)],
            }
        }
        // (h) Two endpoints; the second region's service fails. The iterations interleave, so
        // states are compared per iteration (and the top level in order).
        "h-second-endpoint-fails" => {
            let two = vec!["us-east-1", "us-west-2"];
            let mut tasks = happy(&two);
            set(
                &mut tasks,
                "get-service-name@us-west-2",
                vec![
                    err("EndpointServiceNotReady", "endpoint service is INITIATING"),
                    err("EndpointServiceFailed", "endpoint service status FAILED"),
                ],
            );
            drop_keys(
                &mut tasks,
                &[
                    "configure-security-groups@us-west-2",
                    "create-vpc-endpoint@us-west-2",
                    "link-endpoint@us-west-2",
                    "verify-endpoint@us-west-2",
                    "store-connection-strings",
                ],
            );
            tasks.push(("rollback".into(), vec![ok(removed(&two, false))]));
            Scenario {
                name,
                machine: Machine::Provision,
                regions: two,
                tasks,
                expect_status: "FAILED",
                expect_error: Some("EndpointServiceFailed"),
                expect_top_level: strs(&PROVISION_ROLLED_BACK),
                expect_iterations: vec![
                    strs(&ITERATION_NEW),
                    vec![
                        "EnsureEndpointService",
                        "AwaitServiceProvisioning",
                        "GetServiceName",
                        "EndpointFailed",
                    ],
                ],
            }
        }
        // (i) Teardown of two endpoints.
        "i-teardown" => {
            let two = vec!["us-east-1", "us-west-2"];
            let mut tasks = vec![("validate".to_string(), vec![ok(plan(&exec, &two))])];
            for r in &two {
                tasks.push((
                    format!("teardown-endpoint@{r}"),
                    vec![ok(removed(&[r], false))],
                ));
            }
            tasks.push(("teardown-secret".into(), vec![ok(removed(&[], true))]));
            Scenario {
                name,
                machine: Machine::Teardown,
                regions: two,
                tasks,
                expect_status: "SUCCEEDED",
                expect_error: None,
                expect_top_level: vec![
                    "Validate",
                    "TeardownEndpoints",
                    "TeardownSecret",
                    "TornDown",
                    "PublishTornDown",
                ],
                expect_iterations: vec![vec!["TeardownEndpoint"], vec!["TeardownEndpoint"]],
            }
        }
        // (i) Teardown while Atlas still deletes the interface endpoint (Retry), one endpoint.
        "i-teardown-not-ready" => {
            let not_ready = || err("InterfaceEndpointNotReady", "connectionStatus DELETING");
            let tasks = vec![
                ("validate".to_string(), vec![ok(plan(&exec, &one))]),
                (
                    "teardown-endpoint".to_string(),
                    vec![not_ready(), not_ready(), ok(removed(&one, false))],
                ),
                ("teardown-secret".to_string(), vec![ok(removed(&[], true))]),
            ];
            Scenario {
                name,
                machine: Machine::Teardown,
                regions: one.clone(),
                tasks,
                expect_status: "SUCCEEDED",
                expect_error: None,
                expect_top_level: vec![
                    "Validate",
                    "TeardownEndpoints",
                    "TeardownSecret",
                    "TornDown",
                    "PublishTornDown",
                ],
                expect_iterations: vec![vec!["TeardownEndpoint"]],
            }
        }
        // (j) Rollback itself fails (after a retried InterfaceEndpointNotReady): the execution
        // still fails with the original error.
        "j-rollback-fails" => {
            let mut tasks = happy(&one);
            set(
                &mut tasks,
                "create-vpc-endpoint@us-east-1",
                vec![err(
                    "InvalidRequest",
                    "subnet subnet-0abc is not in vpc-0def (InvalidParameter)",
                )],
            );
            drop_keys(
                &mut tasks,
                &[
                    "link-endpoint@us-east-1",
                    "verify-endpoint@us-east-1",
                    "store-connection-strings",
                ],
            );
            tasks.push((
                "rollback".into(),
                vec![
                    err("InterfaceEndpointNotReady", "connectionStatus DELETING"),
                    err(
                        "AtlasAuthFailed",
                        "401 UNAUTHORIZED: invalid service account",
                    ),
                ],
            ));
            Scenario {
                name,
                machine: Machine::Provision,
                regions: one.clone(),
                tasks,
                expect_status: "FAILED",
                expect_error: Some("InvalidRequest"),
                expect_top_level: {
                    // Rollback's own failure is reported in the event, then the original error.
                    let mut states = strs(&PROVISION_ROLLED_BACK);
                    states.insert(states.len() - 2, "RollbackFailed");
                    states
                },
                expect_iterations: vec![vec![
                    "EnsureEndpointService",
                    "AwaitServiceProvisioning",
                    "GetServiceName",
                    "ConfigureSecurityGroups",
                    "CreateVpcEndpoint",
                    "EndpointFailed",
                ]],
            }
        }
        other => panic!("no scenario {other}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Observations

/// What one implementation did with a scenario.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Observed {
    /// States entered, in the order the implementation reported them.
    states: Vec<String>,
    /// States entered outside Map iterations, in order.
    top_level: Vec<String>,
    /// States entered in each Map iteration, in order.
    iterations: BTreeMap<usize, Vec<String>>,
    status: String,
    output: Option<Value>,
    error: Option<String>,
    cause: Option<String>,
    /// Task calls per script key.
    calls: BTreeMap<String, usize>,
    /// Calls that had no scripted outcome.
    unscripted: Vec<String>,
}

/// The scripted invoker, keyed and counted exactly as the driver does.
#[derive(Default)]
struct ScriptState {
    calls: BTreeMap<String, usize>,
    unscripted: Vec<String>,
}

async fn run_ours(s: &Scenario) -> Observed {
    let text = std::fs::read_to_string(s.machine.path()).expect("definition readable");
    let machine = load_definition(&text, &substitutions()).unwrap_or_else(|e| panic!("{e}"));
    let tasks = s.tasks_json();
    let state = Arc::new(Mutex::new(ScriptState::default()));
    let script = state.clone();
    let invoker = FnInvoker::new(move |resource: String, input: Value| {
        let step = step_of(&resource).to_string();
        let specific = input
            .pointer("/result/endpoint/region")
            .and_then(Value::as_str)
            .map(|r| format!("{step}@{r}"));
        let key = match specific {
            Some(k) if tasks.get(&k).is_some() => k,
            _ => step,
        };
        if key == "putEvents" && tasks.get(&key).is_none() {
            // Unscripted events are sent (the driver answers the same).
            return async {
                Ok(json!({"Entries": [{"EventId": "conformance"}], "FailedEntryCount": 0}))
            }
            .boxed();
        }
        let outcome = {
            let mut st = script.lock().expect("script lock");
            let n = st.calls.get(&key).copied().unwrap_or(0);
            st.calls.insert(key.clone(), n + 1);
            let outcome = tasks.get(&key).and_then(|o| o.get(n)).cloned();
            if outcome.is_none() {
                st.unscripted.push(format!("{key} call {}", n + 1));
            }
            outcome
        };
        async move {
            match outcome {
                None => Err(TaskFailure::new("Unscripted", "no scripted outcome")),
                Some(o) => match o.get("error").and_then(Value::as_str) {
                    Some(error) => Err(TaskFailure::new(
                        error,
                        o.get("cause").and_then(Value::as_str).unwrap_or(""),
                    )),
                    None => Ok(o.get("output").cloned().unwrap_or(Value::Null)),
                },
            }
        }
        .boxed()
    });
    let runner = Runner::new(
        machine,
        Arc::new(invoker),
        RunnerConfig::virtual_time(VirtualClock::new()),
    );
    let result = runner
        .run_with(
            s.input(),
            ExecutionOptions {
                name: Some(s.execution_name()),
            },
        )
        .await;
    let (top_level, iterations) = split_by_iteration(&result);
    let (status, error, cause) = match &result.status {
        ExecutionStatus::Succeeded => ("SUCCEEDED", None, None),
        ExecutionStatus::Failed { error, cause } => ("FAILED", error.clone(), cause.clone()),
        ExecutionStatus::TimedOut => ("TIMED_OUT", None, None),
    };
    let st = state.lock().expect("script lock");
    Observed {
        states: result
            .entered_states()
            .into_iter()
            .map(str::to_string)
            .collect(),
        top_level,
        iterations,
        status: status.to_string(),
        output: result.output.clone(),
        error,
        cause,
        calls: st.calls.clone(),
        unscripted: st.unscripted.clone(),
    }
}

/// Splits the entered states into the top level and Map iterations, following each event's
/// `previous_event_id` (an iteration's events chain from its `MapIterationStarted`).
fn split_by_iteration(result: &ExecutionResult) -> (Vec<String>, BTreeMap<usize, Vec<String>>) {
    let mut iteration_of: HashMap<u64, usize> = HashMap::new();
    let mut top_level = Vec::new();
    let mut iterations: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for e in &result.events {
        let iteration = match e.event_type {
            EventType::MapIterationStarted => e.index,
            _ => iteration_of.get(&e.previous_event_id).copied(),
        };
        let ends_iteration = matches!(
            e.event_type,
            EventType::MapIterationSucceeded
                | EventType::MapIterationFailed
                | EventType::MapIterationAborted
        );
        if let (Some(i), false) = (iteration, ends_iteration) {
            iteration_of.insert(e.id, i);
        }
        if e.event_type.is_state_entered()
            && let Some(name) = &e.state_name
        {
            match iteration {
                Some(i) => iterations.entry(i).or_default().push(name.clone()),
                None => top_level.push(name.clone()),
            }
        }
    }
    (top_level, iterations)
}

fn run_aws_local(s: &Scenario) -> Observed {
    let driver = repo_root().join("tests/conformance/run-aws-local.mjs");
    let mut command = Command::new(node_bin());
    command
        .arg(&driver)
        .env("ASL_NODE_MODULES", node_modules())
        .current_dir(repo_root());
    let input = serde_json::to_vec(&s.driver_input()).expect("scenario serializes");
    let (success, stdout, stderr) = run_with_limit(command, &input, Duration::from_secs(60));
    assert!(
        success,
        "run-aws-local.mjs failed on scenario {}:\n{stderr}\n{stdout}",
        s.name
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "run-aws-local.mjs printed no result for {} ({e}):\n{stdout}\n{stderr}",
            s.name
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Comparison

fn sorted(states: &[String]) -> Vec<String> {
    let mut v = states.to_vec();
    v.sort();
    v
}

/// Checks one side against the scenario's own expectations.
fn check_expectations(side: &str, s: &Scenario, o: &Observed) {
    let context = format!("{side}, scenario {}: {o:#?}", s.name);
    assert!(
        o.unscripted.is_empty(),
        "calls without a scripted outcome ({context})"
    );
    for (key, outcomes) in &s.tasks {
        assert_eq!(
            o.calls.get(key).copied().unwrap_or(0),
            outcomes.len(),
            "every scripted outcome of {key} is used, once ({context})"
        );
    }
    assert_eq!(o.status, s.expect_status, "status ({context})");
    if o.status == "SUCCEEDED" {
        assert!(
            o.output.as_ref().is_some_and(Value::is_object),
            "a successful execution has an output object ({context})"
        );
    }
    assert_eq!(o.error.as_deref(), s.expect_error, "error ({context})");
    assert_eq!(o.top_level, s.expect_top_level, "top level ({context})");
    let iterations: Vec<Vec<String>> = o.iterations.values().cloned().collect();
    assert_eq!(iterations, s.expect_iterations, "iterations ({context})");
}

async fn conformance(name: &'static str) {
    if conformance_tools().is_none() {
        return;
    }
    let s = scenario(name);
    let ours = run_ours(&s).await;
    let theirs = run_aws_local(&s);
    let both = format!(
        "scenario {name}\n--- asl-runner:\n{ours:#?}\n--- aws-local-stepfunctions:\n{theirs:#?}"
    );
    assert_eq!(ours.top_level, theirs.top_level, "top-level states\n{both}");
    assert_eq!(ours.iterations, theirs.iterations, "Map iterations\n{both}");
    assert_eq!(
        sorted(&ours.states),
        sorted(&theirs.states),
        "all states entered\n{both}"
    );
    if s.regions.len() == 1 {
        // One iteration: nothing interleaves, so the whole order must agree.
        assert_eq!(ours.states, theirs.states, "states in order\n{both}");
    }
    assert_eq!(ours.calls, theirs.calls, "task calls per step\n{both}");
    assert_eq!(ours.status, theirs.status, "status\n{both}");
    assert_eq!(ours.error, theirs.error, "error\n{both}");
    assert_eq!(ours.cause, theirs.cause, "cause\n{both}");
    assert_eq!(ours.output, theirs.output, "output\n{both}");
    check_expectations("asl-runner", &s, &ours);
    check_expectations("aws-local-stepfunctions", &s, &theirs);
}

#[tokio::test]
async fn a_success_first_time() {
    conformance("a-success").await;
}

#[tokio::test]
async fn b_endpoint_service_not_ready_twice() {
    conformance("b-service-not-ready").await;
}

#[tokio::test]
async fn c_interface_endpoint_not_ready_three_times() {
    conformance("c-interface-not-ready").await;
}

#[tokio::test]
async fn d_rejected_endpoint_rolls_back_and_fails() {
    conformance("d-rejected-rollback").await;
}

#[tokio::test]
async fn e_invalid_request_fails_without_rollback() {
    conformance("e-invalid-request").await;
}

#[tokio::test]
async fn f_transient_rate_limit() {
    conformance("f-rate-limited").await;
}

#[tokio::test]
async fn g_connection_strings_not_ready() {
    conformance("g-strings-not-ready").await;
}

#[tokio::test]
async fn h_second_of_two_endpoints_fails() {
    conformance("h-second-endpoint-fails").await;
}

#[tokio::test]
async fn i_teardown() {
    conformance("i-teardown").await;
}

#[tokio::test]
async fn i_teardown_with_interface_endpoint_not_ready() {
    conformance("i-teardown-not-ready").await;
}

#[tokio::test]
async fn j_failing_rollback_still_fails_with_the_original_error() {
    conformance("j-rollback-fails").await;
}

// ---------------------------------------------------------------------------------------------
// Lint

fn definitions() -> [PathBuf; 2] {
    [Machine::Provision.path(), Machine::Teardown.path()]
}

/// statelint (PyPI) reports every ASL error of a file at once.
///
/// `URI` is ignored because Resources are `${…FunctionArn}` substitutions until deployment.
#[test]
fn lint_statelint() {
    let statelint = tools_dir().join("venv/bin/statelint");
    if require_tools("statelint lint", std::slice::from_ref(&statelint)).is_none() {
        return;
    }
    for file in definitions() {
        let mut command = Command::new(&statelint);
        command.arg("--ignore=URI").arg(&file);
        let (success, stdout, stderr) = run_with_limit(command, b"", Duration::from_secs(60));
        assert!(
            success,
            "statelint finds problems in {}:\n{stdout}{stderr}",
            file.display()
        );
    }
}

/// asl-validator (npm) checks the JSON schema, JSONPath and intrinsic syntax.
#[test]
fn lint_asl_validator() {
    let validator = node_modules().join(".bin/asl-validator");
    if require_tools("asl-validator lint", &[node_bin(), validator.clone()]).is_none() {
        return;
    }
    for file in definitions() {
        let mut command = Command::new(node_bin());
        command.arg(&validator).arg("--json-path").arg(&file);
        let (success, stdout, stderr) = run_with_limit(command, b"", Duration::from_secs(60));
        assert!(
            success,
            "asl-validator finds problems in {}:\n{stdout}{stderr}",
            file.display()
        );
    }
}
