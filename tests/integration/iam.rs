//! IAM proven, not only linted (`infra/` lints the policies' shape; this evaluates them).
//!
//! 1. End-to-end scenarios run with every AWS call recorded (`devstack::recorder`: an SDK
//!    interceptor on every client, the function known from the local invoker): a provision and
//!    its teardown, a provision rolled back (Atlas rejects the endpoint), and a provision and
//!    teardown through a role in the target account (the request's `aws.roleArn`). The state
//!    machines' own calls are recorded too, as their roles': each Task's
//!    `lambda:InvokeFunction` of its step's function, and the `events:PutEvents` of the
//!    `events:putEvents` integration (the completion events), made with an EventBridge client
//!    under the recorder as `state-machine:<name>`.
//! 2. Each function's policy is taken from `infra/template.yaml` after the SAM transform
//!    (samtranslator, offline), with the intrinsics resolved to the local world (account
//!    123456789012, partition aws, us-east-1, the parameters' defaults, the world's Atlas
//!    credentials secret); the target-account role's from `infra/target-account-role.yaml`.
//! 3. `tests/iam/evaluate.mjs` evaluates every call with `@cloud-copilot/iam-simulate` (npm; a
//!    test tool under AGPL-3.0, installed by scripts/install-tools.sh, never shipped): calls
//!    made as the function against its own role's policy, calls made through `aws.roleArn`
//!    against the target-account role's, and each function's `sts:AssumeRole` on that role
//!    against its own. Every call must be allowed. Allow statements no call used are reported;
//!    the test fails on any not in [`UNUSED_LOCALLY`], each of which says why.
//! 4. `parliament` (PyPI) lints every inline policy of the transformed template and the
//!    target-account role; every finding must be in [`PARLIAMENT_ALLOWED`], with its reason.
//!
//! The report (calls, decisions, unused statements, findings) is written to
//! `$CARGO_TARGET_TMPDIR/iam-report.json` and summarized on stderr.
//! Without the tools the test says so and passes, except under `CI=true`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use atlas_privatelink::local::{STATE_MACHINE_FUNCTION_PREFIX, put_events, state_machine_function};
use atlas_privatelink::machines::{Machine, PUT_EVENTS};
use atlas_sim::Outcome;
use clock::Clock;
use devstack::recorder::{Call, LOCAL_ACCOUNT, Recorder, in_function};
use integration_tests::tools::{repo_root, require_tools, run_with_limit, tools_dir};
use integration_tests::world::{World, assert_succeeded, failure};
use privatelink_core::aws::clients::{AwsClients, ClientScope};
use privatelink_core::context::Context;
use privatelink_core::steps::Step;
use serde_json::{Map, Value, json};

const REGION: &str = "us-east-1";
const TARGET_ROLE_NAME: &str = "atlas-privatelink-target";
/// Name of the target-account role's policy in the evaluation.
const TARGET_POLICY: &str = "TargetRole";

/// Allow statements that no locally recorded call uses, and why that is right. Keyed by
/// (role logical id or `*` for every role, Sid).
const UNUSED_LOCALLY: &[(&str, &str, &str)] = &[
    (
        "*",
        "AllowCrossRegionEndpoints",
        "vpce:AllowMultiRegion is a permission-only action that AWS checks on a cross-region \
         CreateVpcEndpoint (Service Authorization Reference, AWS PrivateLink); no API call \
         names it, so no recorded call can use it",
    ),
    (
        "*",
        "WriteOwnLogs",
        "Lambda writes the function's stdout to its log group with the execution role; the \
         function's code makes no CloudWatch Logs call, so nothing local records one",
    ),
    (
        "ProvisionStateMachineRole",
        "DeliverLogs",
        "Step Functions calls the logs:*LogDelivery and resource-policy actions with the state \
         machine's role when the state machine is created or updated with logging, not during \
         an execution; the local runner has no deployment",
    ),
    (
        "TeardownStateMachineRole",
        "DeliverLogs",
        "as for ProvisionStateMachineRole: log delivery is set up at deployment, not by an \
         execution",
    ),
    (
        "GetServiceNameRole",
        "LeaseRemoteRegionsAndRegisterUsers",
        "get-service-name uses the claims table for cross-region endpoints only (the lease on \
         a service's remote regions, their users); the scenarios here are same-region, and \
         tests/integration/cross_region.rs runs the cross-region steps",
    ),
    (
        "DispatcherRole",
        "SendFailedEventsToDeadLetterQueue",
        "Lambda sends an asynchronous invocation that failed every retry to the function's \
         dead-letter queue with the function's role (Lambda Developer Guide, \"Dead-letter \
         queues\"); the dispatcher's code makes no SQS call, so nothing local records one",
    ),
];

fn unused_reason(policy: &str, sid: &str) -> Option<&'static str> {
    UNUSED_LOCALLY
        .iter()
        .find(|(p, s, _)| (*p == "*" || *p == policy) && *s == sid)
        .map(|(_, _, reason)| *reason)
}

/// parliament findings accepted, and why: (issue, policy name or "*", text in the finding's
/// detail, reason).
const PARLIAMENT_ALLOWED: &[(&str, &str, &str, &str)] = &[
    (
        "RESOURCE_MISMATCH",
        "DispatcherRole",
        "\"action\":\"states:ListExecutions\"",
        "states:ListExecutions is authorized on the state machine, or on a Distributed Map's \
         mapRun; neither state machine has a Distributed Map, so only the two state machines \
         are named",
    ),
    (
        "RESOURCE_MISMATCH",
        "*",
        "\"action\":\"ec2:ModifyVpcEndpoint\"",
        "split on purpose, as for CreateSecurityGroup: the endpoint must carry our tag \
         (ec2:ResourceTag), the groups added to it (security-group) need not",
    ),
    (
        "RESOURCE_MISMATCH",
        "*",
        "\"action\":\"vpce:AllowMultiRegion\"",
        "parliament 1.6.4's definitions give vpce:AllowMultiRegion no resource type (\"*\"); the \
         Service Authorization Reference (AWS PrivateLink, vpce) defines the vpc-endpoint resource \
         type for the service, and we scope the action to the account's endpoints rather than \
         to \"*\". If AWS evaluates it only on \"*\", a cross-region CreateVpcEndpoint is refused: \
         unverified here, as no local tool evaluates permission-only actions",
    ),
    (
        "RESOURCE_MISMATCH",
        "*",
        "\"action\":\"ec2:CreateSecurityGroup\"",
        "parliament wants every resource type of ec2:CreateSecurityGroup (vpc, security-group) \
         in one statement; they are split on purpose: the new group must carry our tag \
         (aws:RequestTag), the VPC it goes into need not",
    ),
    (
        "RESOURCE_MISMATCH",
        "*",
        "\"action\":\"ec2:AuthorizeSecurityGroupIngress\"",
        "split on purpose: the group must carry our tag (ec2:ResourceTag); the rules it makes \
         (security-group-rule) exist only by this call and carry no tag",
    ),
    (
        "RESOURCE_MISMATCH",
        "*",
        "\"action\":\"ec2:CreateVpcEndpoint\"",
        "split on purpose: the new endpoint must carry our tag (aws:RequestTag); the VPC, \
         subnets and groups it goes into need not",
    ),
    (
        "RESOURCE_MISMATCH",
        "DispatcherRole",
        "\"action\":\"states:DescribeExecution\"",
        "parliament's data lists both execution ARN forms of states:DescribeExecution and wants \
         the Express one (express:…) too; the provisioning state machine is STANDARD (checked \
         in infra/), whose executions are execution:<machine>:<name>",
    ),
];

fn node() -> PathBuf {
    tools_dir().join("node/node_modules/node/bin/node")
}

fn venv_bin(name: &str) -> PathBuf {
    tools_dir().join("venv/bin").join(name)
}

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("iam-{}-{name}", std::process::id()))
}

/// Runs a tool from the repository root; its stdout, or a failure with its stderr.
fn tool(mut command: Command, what: &str) -> String {
    command
        .current_dir(repo_root())
        .env("AWS_DEFAULT_REGION", REGION)
        .env("TOOLS_DIR", tools_dir());
    let (ok, stdout, stderr) = run_with_limit(command, b"", Duration::from_secs(300));
    assert!(ok, "{what} failed:\n{stderr}\n{stdout}");
    stdout
}

// ---------------------------------------------------------------------------------------------
// Templates and their policies

/// `infra/template.yaml` after the SAM transform (the roles SAM deploys, as CloudFormation).
fn transformed_template() -> Value {
    let out = tmp("transformed.json");
    let mut command = Command::new(venv_bin("python"));
    command
        .arg("infra/tools/sam_transform.py")
        .arg("infra/template.yaml")
        .arg(&out);
    tool(command, "the SAM transform");
    let text = std::fs::read_to_string(&out).expect("transform output");
    let _ = std::fs::remove_file(&out);
    serde_json::from_str(&text).expect("the transform writes JSON")
}

/// A plain CloudFormation YAML template as JSON, short-form intrinsics in their long forms
/// (samtranslator's parser, the one the transform uses).
fn plain_template(relative: &str) -> Value {
    let mut command = Command::new(venv_bin("python"));
    command.arg("-c").arg(
        "import json, sys\nfrom samtranslator.yaml_helper import yaml_parse\n\
         print(json.dumps(yaml_parse(open(sys.argv[1]).read())))",
    );
    command.arg(relative);
    serde_json::from_str(&tool(command, "parsing a template")).expect("JSON")
}

/// What the intrinsics of one template resolve to in the local world.
struct Env<'a> {
    template: &'a Value,
    parameters: BTreeMap<String, String>,
}

impl<'a> Env<'a> {
    /// The template's parameter defaults, overridden by `values`.
    fn new(template: &'a Value, values: &[(&str, &str)]) -> Self {
        let mut parameters = BTreeMap::new();
        if let Some(params) = template["Parameters"].as_object() {
            for (name, p) in params {
                let default = match &p["Default"] {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                parameters.insert(name.clone(), default);
            }
        }
        for (k, v) in values {
            parameters.insert((*k).to_owned(), (*v).to_owned());
        }
        Self {
            template,
            parameters,
        }
    }

    fn reference(&self, name: &str) -> Option<Value> {
        Some(Value::String(match name {
            "AWS::Partition" => "aws".to_owned(),
            "AWS::AccountId" => LOCAL_ACCOUNT.to_owned(),
            "AWS::Region" => REGION.to_owned(),
            "AWS::StackName" => "atlas-privatelink".to_owned(),
            "AWS::NoValue" => return None,
            name => match self.parameters.get(name) {
                Some(v) => v.clone(),
                // A resource: what its Ref returns in CloudFormation.
                None => match self.template["Resources"][name]["Type"].as_str() {
                    Some("AWS::StepFunctions::StateMachine") => {
                        format!("arn:aws:states:{REGION}:{LOCAL_ACCOUNT}:stateMachine:{name}")
                    }
                    Some("AWS::SQS::Queue") => {
                        format!("https://sqs.{REGION}.amazonaws.com/{LOCAL_ACCOUNT}/{name}")
                    }
                    // The table's name; the local world's claims table stands for it.
                    Some("AWS::DynamoDB::Table") => devstack::CLAIMS_TABLE.to_owned(),
                    _ => name.to_owned(),
                },
            },
        }))
    }

    fn get_att(&self, resource: &str, attribute: &str) -> String {
        let kind = self.template["Resources"][resource]["Type"]
            .as_str()
            .unwrap_or("");
        match (kind, attribute) {
            ("AWS::Logs::LogGroup", "Arn") => {
                format!("arn:aws:logs:{REGION}:{LOCAL_ACCOUNT}:log-group:{resource}:*")
            }
            ("AWS::Lambda::Function", "Arn") => {
                format!("arn:aws:lambda:{REGION}:{LOCAL_ACCOUNT}:function:{resource}")
            }
            ("AWS::SQS::Queue", "Arn") => {
                format!("arn:aws:sqs:{REGION}:{LOCAL_ACCOUNT}:{resource}")
            }
            ("AWS::StepFunctions::StateMachine", "Name") => resource.to_owned(),
            ("AWS::IAM::Role", "Arn") => {
                format!("arn:aws:iam::{LOCAL_ACCOUNT}:role/atlas-privatelink/{resource}")
            }
            (_, attribute) => format!("{resource}.{attribute}"),
        }
    }

    fn condition(&self, name: &str) -> bool {
        let condition = &self.template["Conditions"][name];
        assert!(!condition.is_null(), "unknown condition {name}");
        self.truth(condition)
    }

    fn truth(&self, value: &Value) -> bool {
        let (key, args) = value
            .as_object()
            .and_then(|o| o.iter().next())
            .unwrap_or_else(|| panic!("not a condition: {value}"));
        match key.as_str() {
            "Fn::Equals" => self.resolve(&args[0]) == self.resolve(&args[1]),
            "Fn::Not" => !self.truth(&args[0]),
            "Fn::And" => args.as_array().expect("list").iter().all(|a| self.truth(a)),
            "Fn::Or" => args.as_array().expect("list").iter().any(|a| self.truth(a)),
            "Condition" => self.condition(args.as_str().expect("condition name")),
            other => panic!("condition function {other} not handled"),
        }
    }

    fn sub(&self, text: &str, vars: &Map<String, Value>) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("closed ${…}") + start;
            let name = &rest[start + 2..end];
            let value = if let Some(v) = vars.get(name) {
                self.resolve(v)
            } else if let Some((res, att)) = name.split_once('.') {
                Some(Value::String(self.get_att(res, att)))
            } else {
                self.reference(name)
            };
            match value {
                Some(Value::String(s)) => out.push_str(&s),
                other => panic!("${{{name}}} resolves to {other:?}"),
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// `value` with every intrinsic resolved; `None` for `AWS::NoValue`.
    fn resolve(&self, value: &Value) -> Option<Value> {
        match value {
            Value::Array(items) => Some(Value::Array(
                items.iter().filter_map(|i| self.resolve(i)).collect(),
            )),
            Value::Object(o) if o.len() == 1 => {
                let (key, args) = o.iter().next().expect("one entry");
                match key.as_str() {
                    "Ref" => self.reference(args.as_str().expect("Ref name")),
                    "Fn::GetAtt" => {
                        let (res, att) = match args {
                            Value::Array(a) => (
                                a[0].as_str().expect("resource").to_owned(),
                                a[1].as_str().expect("attribute").to_owned(),
                            ),
                            Value::String(s) => {
                                let (r, a) = s.split_once('.').expect("Res.Att");
                                (r.to_owned(), a.to_owned())
                            }
                            other => panic!("Fn::GetAtt {other}"),
                        };
                        Some(Value::String(self.get_att(&res, &att)))
                    }
                    "Fn::Sub" => Some(Value::String(match args {
                        Value::String(s) => self.sub(s, &Map::new()),
                        Value::Array(a) => self.sub(
                            a[0].as_str().expect("Sub text"),
                            a[1].as_object().expect("Sub variables"),
                        ),
                        other => panic!("Fn::Sub {other}"),
                    })),
                    "Fn::If" => {
                        let a = args.as_array().expect("Fn::If list");
                        let branch = if self.condition(a[0].as_str().expect("condition")) {
                            &a[1]
                        } else {
                            &a[2]
                        };
                        self.resolve(branch)
                    }
                    "Fn::Join" => {
                        let a = args.as_array().expect("Fn::Join list");
                        let parts = self.resolve(&a[1]).expect("parts");
                        let parts: Vec<String> = parts
                            .as_array()
                            .expect("list")
                            .iter()
                            .map(|p| p.as_str().expect("string part").to_owned())
                            .collect();
                        Some(Value::String(parts.join(a[0].as_str().expect("sep"))))
                    }
                    _ => Some(Value::Object(
                        o.iter()
                            .filter_map(|(k, v)| self.resolve(v).map(|v| (k.clone(), v)))
                            .collect(),
                    )),
                }
            }
            Value::Object(o) => Some(Value::Object(
                o.iter()
                    .filter_map(|(k, v)| self.resolve(v).map(|v| (k.clone(), v)))
                    .collect(),
            )),
            other => Some(other.clone()),
        }
    }

    /// The inline policy of each role, resolved: role logical id → policy document.
    fn role_policies(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for (name, resource) in self.template["Resources"].as_object().expect("Resources") {
            if resource["Type"] != "AWS::IAM::Role" {
                continue;
            }
            let policies = resource["Properties"]["Policies"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert!(
                policies.len() <= 1,
                "{name}: one inline policy per role is what this test evaluates"
            );
            if let Some(policy) = policies.first() {
                let document = self
                    .resolve(&policy["PolicyDocument"])
                    .expect("a policy document");
                out.insert(name.clone(), document);
            }
        }
        out
    }
}

/// The role whose policy a recorded call of `function` is evaluated against: a state
/// machine's (`state-machine:<name>`, its `RoleArn` after the SAM transform) or the role of the
/// Lambda function that runs the step `function`.
fn role_of(template: &Value, function: &str) -> String {
    let Some(name) = function.strip_prefix(STATE_MACHINE_FUNCTION_PREFIX) else {
        return role_of_step(template, function);
    };
    let machine = Machine::from_name(name)
        .unwrap_or_else(|| panic!("{function}: not one of our state machines"))
        .logical_id();
    let props = &template["Resources"][machine]["Properties"];
    let role = props
        .get("RoleArn")
        .or_else(|| props.get("Role"))
        .map(|r| &r["Fn::GetAtt"]);
    match role {
        Some(Value::Array(a)) => a[0].as_str().expect("role name").to_owned(),
        Some(Value::String(s)) => s.split('.').next().expect("role").to_owned(),
        other => panic!("{machine}: no role in the template ({other:?})"),
    }
}

/// The role of the Lambda function that runs `step` (from the function's `Role`).
fn role_of_step(template: &Value, step: &str) -> String {
    let camel: String = step
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    let function = &template["Resources"][format!("{camel}Function")];
    let role = &function["Properties"]["Role"]["Fn::GetAtt"];
    match role {
        Value::Array(a) => a[0].as_str().expect("role name").to_owned(),
        Value::String(s) => s.split('.').next().expect("role").to_owned(),
        other => panic!("{step}: no {camel}Function with a Role in the template ({other})"),
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/// Runs each step as Lambda does: every function with its own context (its own clients, its
/// own assumed roles, its own Atlas credentials read), kept warm across its invocations, its
/// AWS calls recorded as its own. (The world's shared context would let the first step's
/// cached credentials and clients hide the later functions' calls.) After the step named in
/// `lose_output_of` has run once, its output is lost (a crash before it reported), so the
/// state machine rolls back what that step made.
struct PerFunction {
    stack: Arc<devstack::DevStack>,
    clock: clock::VirtualClock,
    settings: privatelink_core::context::Settings,
    recorder: Recorder,
    contexts: tokio::sync::Mutex<BTreeMap<String, Arc<Context>>>,
    lose_output_of: std::sync::Mutex<Option<&'static str>>,
    /// The state machines' EventBridge client, recorded (its calls are the state machine's).
    eventbridge: aws_sdk_eventbridge::Client,
    /// Every Task invocation of a step's function: (state machine, step), in order.
    invoked: std::sync::Mutex<Vec<(String, &'static str)>>,
}

impl PerFunction {
    async fn new(w: &World, recorder: &Recorder) -> Arc<Self> {
        let config = w.stack.sdk_config(REGION).await;
        let eventbridge = aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(&config)
                .interceptor(recorder.interceptor(None, REGION))
                .build(),
        );
        Arc::new(Self {
            stack: w.stack.clone(),
            clock: w.atlas.clock.clone(),
            settings: w.ctx.settings.clone(),
            recorder: recorder.clone(),
            contexts: tokio::sync::Mutex::new(BTreeMap::new()),
            lose_output_of: std::sync::Mutex::new(None),
            eventbridge,
            invoked: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// The state machines' `lambda:InvokeFunction` calls, as IAM authorizes them: by the
    /// state machine's role, on the step's function (the template's logical id stands for its
    /// name, as in [`Env::get_att`]).
    fn invocations(&self) -> Vec<Call> {
        self.invoked
            .lock()
            .expect("lock")
            .iter()
            .map(|(machine, step)| {
                let step = Step::from_name(step).expect("a catalogue step");
                Call {
                    function: state_machine_function(machine),
                    action: "lambda:InvokeFunction".to_owned(),
                    region: REGION.to_owned(),
                    account: LOCAL_ACCOUNT.to_owned(),
                    as_role: None,
                    legs: vec![devstack::recorder::Leg {
                        resource: format!(
                            "arn:aws:lambda:{REGION}:{LOCAL_ACCOUNT}:function:{}",
                            step.function_logical_id()
                        ),
                        context: BTreeMap::new(),
                    }],
                    derived: Some("a Task state runs the step's function".to_owned()),
                    error: None,
                    tags_unknown: Vec::new(),
                }
            })
            .collect()
    }

    async fn context(&self, step: &str) -> Arc<Context> {
        let mut contexts = self.contexts.lock().await;
        if let Some(ctx) = contexts.get(step) {
            return ctx.clone();
        }
        let r = self.recorder.clone();
        let aws = AwsClients::from_config(self.stack.sdk_config(REGION).await).with_interceptor(
            move |scope: ClientScope<'_>| r.interceptor(scope.role_arn, scope.region),
        );
        let ctx = Arc::new(Context::new(
            Arc::new(self.clock.clone()),
            aws,
            self.settings.clone(),
        ));
        contexts.insert(step.to_owned(), ctx.clone());
        ctx
    }
}

impl asl_runner::TaskInvoker for PerFunction {
    fn invoke<'a>(
        &'a self,
        resource: &'a str,
        _input: Value,
    ) -> futures::future::BoxFuture<'a, Result<Value, asl_runner::TaskFailure>> {
        panic!("the runner calls invoke_in ({resource})")
    }

    fn invoke_in<'a>(
        &'a self,
        task: asl_runner::TaskContext<'a>,
        resource: &'a str,
        input: Value,
    ) -> futures::future::BoxFuture<'a, Result<Value, asl_runner::TaskFailure>> {
        Box::pin(async move {
            if resource == PUT_EVENTS {
                // The integration's call, with the state machine's role.
                return in_function(
                    &state_machine_function(task.state_machine_name),
                    put_events(&self.eventbridge, task, input),
                )
                .await;
            }
            let step = atlas_privatelink::machines::step_of(resource)
                .map(|s| s.name())
                .unwrap_or_else(|| panic!("no step for {resource}"));
            self.invoked
                .lock()
                .expect("lock")
                .push((task.state_machine_name.to_owned(), step));
            let ctx = self.context(step).await;
            let out = in_function(step, privatelink_core::steps::run_step(&ctx, step, input))
                .await
                .map_err(|e| asl_runner::TaskFailure::new(e.name.as_str(), e.message))?;
            let lose = {
                let mut armed = self.lose_output_of.lock().expect("lock");
                (*armed == Some(step)).then(|| armed.take())
            };
            match lose {
                Some(_) => Err(asl_runner::TaskFailure::new(
                    "States.TaskFailed",
                    format!("{step}: output lost (injected)"),
                )),
                None => Ok(out),
            }
        })
    }
}

async fn run(
    w: &World,
    invoker: &Arc<PerFunction>,
    machine: Machine,
    request: Value,
    name: &str,
) -> asl_runner::ExecutionResult {
    w.execute_with(invoker.clone(), machine, request, name)
        .await
}

/// The day-two paths of a provisioned `request`, with the functions' own roles: a plan; a
/// verify that repairs a group someone detached from the VPC endpoint (ModifyVpcEndpoint)
/// and a deleted ingress rule; a teardown refused by deletion protection (DescribeSecret).
async fn day_two(w: &World, invoker: &Arc<PerFunction>, request: &Value, prefix: &str) {
    let mut plan = request.clone();
    plan["mode"] = json!("plan");
    assert_succeeded(
        &run(
            w,
            invoker,
            Machine::Provision,
            plan,
            &format!("{prefix}-plan"),
        )
        .await,
    );

    let ec2 = integration_tests::world::ec2(REGION).await;
    let vpc = w.networks[0].vpc_id.clone();
    let endpoints = w.vpc_endpoints(&w.networks[0]).await;
    let ours = w.our_security_groups(&w.networks[0]).await;
    let default_group = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&vpc)
                .build(),
        )
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .send()
        .await
        .expect("DescribeSecurityGroups")
        .security_groups()
        .first()
        .and_then(|g| g.group_id().map(str::to_owned))
        .expect("the VPC's default group");
    // An endpoint keeps at least one group: the default one goes on as ours comes off.
    ec2.modify_vpc_endpoint()
        .vpc_endpoint_id(&endpoints[0])
        .add_security_group_ids(&default_group)
        .set_remove_security_group_ids(Some(ours.clone()))
        .send()
        .await
        .expect("ModifyVpcEndpoint");
    let mut verify = request.clone();
    verify["mode"] = json!("verify");
    let repaired = run(
        w,
        invoker,
        Machine::Provision,
        verify,
        &format!("{prefix}-verify"),
    )
    .await;
    assert_succeeded(&repaired);
    assert!(
        repaired.entered_states().contains(&"PublishRepaired"),
        "{:?}",
        repaired.entered_states()
    );
    let groups: Vec<String> = ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(&endpoints[0])
        .send()
        .await
        .expect("DescribeVpcEndpoints")
        .vpc_endpoints()
        .first()
        .map(|e| {
            e.groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        ours.iter().all(|g| groups.contains(g)),
        "{groups:?} after the repair"
    );

    let name = privatelink_core::parse_request(request)
        .expect("valid")
        .secret
        .name
        .to_string();
    let secrets = integration_tests::world::secrets(REGION).await;
    let protect = aws_sdk_secretsmanager::types::Tag::builder()
        .key("atlas-privatelink:protect")
        .value("true")
        .build();
    secrets
        .tag_resource()
        .secret_id(&name)
        .tags(protect)
        .send()
        .await
        .expect("TagResource");
    let refused = run(
        w,
        invoker,
        Machine::Teardown,
        request.clone(),
        &format!("{prefix}-protected"),
    )
    .await;
    assert_eq!(failure(&refused).map(|f| f.0), Some("DeletionProtected"));
    secrets
        .untag_resource()
        .secret_id(&name)
        .tag_keys("atlas-privatelink:protect")
        .send()
        .await
        .expect("UntagResource");
}

/// The state machine `name` on moto (the deployed one's logical id, so its ARN is the one the
/// roles name), made once.
async fn named_state_machine(sfn: &aws_sdk_sfn::Client, name: &str) -> String {
    if let Some(arn) = crate::dispatch::try_state_machine(sfn, name).await {
        return arn;
    }
    sfn.list_state_machines()
        .send()
        .await
        .expect("ListStateMachines")
        .state_machines()
        .iter()
        .find(|m| m.name() == name)
        .map(|m| m.state_machine_arn().to_owned())
        .unwrap_or_else(|| panic!("no state machine {name}"))
}

/// The dispatcher's day-two calls with its own role: a scheduled sweep (ListSecrets, each
/// request read from its secret, DescribeExecution, StartExecution of a verify) and a
/// rotation of the database user `db_user` (the same, for the requests that name it). The
/// executions start on moto's Step Functions under the deployed state machine's name, so
/// their ARNs are the ones the role names.
async fn dispatcher_day_two(recorder: &Recorder, db_user: &str) {
    let config = integration_tests::moto::moto().sdk_config(REGION).await;
    let plain = aws_sdk_sfn::Client::new(&config);
    let machine = named_state_machine(&plain, "ProvisionStateMachine").await;
    // A teardown running (of no valid request: it blocks none) makes the sweep read its input.
    let teardown = named_state_machine(&plain, "TeardownStateMachine").await;
    plain
        .start_execution()
        .state_machine_arn(&teardown)
        .name("iam-teardown-running")
        .input("{}")
        .send()
        .await
        .expect("StartExecution");
    let sfn = aws_sdk_sfn::Client::from_conf(
        aws_sdk_sfn::config::Builder::from(&config)
            .interceptor(recorder.interceptor(None, REGION))
            .build(),
    );
    let r = recorder.clone();
    let aws = AwsClients::from_config(config).with_interceptor(move |scope: ClientScope<'_>| {
        r.interceptor(scope.role_arn, scope.region)
    });
    // The stack's own account, and the same account again as a target account through the
    // target role (moto has one account), so the cross-account listing is evaluated too.
    let drift =
        privatelink_dispatcher::DriftSettings::parse("", LOCAL_ACCOUNT, TARGET_ROLE_NAME, REGION)
            .map(|d| d.with_teardown_state_machine(&teardown));
    let vending = privatelink_dispatcher::VendingSettings::default();
    let handle = |event: Value| {
        let (sfn, aws, machine, vending, drift) = (&sfn, &aws, &machine, &vending, &drift);
        async move {
            in_function(
                "dispatcher",
                privatelink_dispatcher::handle(sfn, aws, machine, vending, drift, &event),
            )
            .await
            .expect("handled")
        }
    };
    let swept =
        handle(json!({"action": "verify-all", "scheduledTime": "2026-12-01T12:00:00Z"})).await;
    assert!(swept["verifyStarted"].as_u64() >= Some(1), "{swept}");
    let rotated = handle(json!({
        "version": "0", "id": "iam-rotation", "detail-type": "AWS Service Event via CloudTrail",
        "source": "aws.secretsmanager", "account": LOCAL_ACCOUNT, "time": "2026-12-01T12:30:00Z",
        "region": REGION, "resources": [],
        "detail": {"eventSource": "secretsmanager.amazonaws.com", "eventName": "RotationSucceeded",
                   "additionalEventData": {"SecretId": db_user}, "eventType": "AwsServiceEvent"}
    }))
    .await;
    assert_eq!(rotated["verifyStarted"], 1, "{rotated}");
}

async fn run_scenarios(w: &World, recorder: &Recorder) -> Vec<Call> {
    let invoker = PerFunction::new(w, recorder).await;
    // A database-user secret below the prefix, merged into the connection-string secret.
    let db_user = devstack::create_database_user_secret(
        &integration_tests::world::secrets(REGION).await,
        &format!("atlas/{}/db-user", w.project_id),
        "app",
        "local-password",
    )
    .await
    .expect("database-user secret");

    // Provision and teardown, with the functions' own roles.
    let mut request = w.request();
    request["secret"] = json!({"databaseUserSecretArn": db_user});
    assert_succeeded(&run(w, &invoker, Machine::Provision, request.clone(), "iam-up").await);
    day_two(w, &invoker, &request, "iam").await;
    dispatcher_day_two(recorder, &db_user).await;
    assert_succeeded(&run(w, &invoker, Machine::Teardown, request, "iam-down").await);
    w.atlas.clock.sleep(Duration::from_secs(600)).await;

    // A provision Atlas rejects: the rollback deletes the endpoint and the group.
    w.atlas
        .sim
        .set_outcome(Outcome::InterfaceRejected { vpce_id: None });
    let rejected = run(w, &invoker, Machine::Provision, w.request(), "iam-rejected").await;
    assert_eq!(
        failure(&rejected).map(|f| f.0),
        Some("InterfaceEndpointRejected"),
        "{:?}",
        rejected.status
    );
    assert!(rejected.entered_states().contains(&"Rollback"));
    w.atlas.sim.clear_outcomes();
    w.atlas.clock.sleep(Duration::from_secs(600)).await;

    // A provision whose secret step loses its output: the rollback finds the secret by its
    // created-by tag and deletes it.
    let mut request = w.request();
    request["secret"] = json!({"name": format!("atlas/{}/lost", w.project_id)});
    *invoker.lose_output_of.lock().expect("lock") = Some("store-connection-strings");
    let lost = run(w, &invoker, Machine::Provision, request, "iam-lost").await;
    assert!(
        lost.entered_states().contains(&"Rollback"),
        "{:?}",
        lost.status
    );
    w.atlas.clock.sleep(Duration::from_secs(600)).await;

    // Through the target-account role (here in the same moto account, so the world's VPC is
    // the target account's), with a secret of its own: provision and teardown, then a
    // provision whose secret step loses its output, so the rollback deletes the secret too.
    let role = format!("arn:aws:iam::{LOCAL_ACCOUNT}:role/{TARGET_ROLE_NAME}");
    let mut request = w.request();
    request["aws"] = json!({"roleArn": role});
    request["secret"] = json!({"name": format!("atlas/{}/via-role", w.project_id)});
    assert_succeeded(
        &run(
            w,
            &invoker,
            Machine::Provision,
            request.clone(),
            "iam-role-up",
        )
        .await,
    );
    day_two(w, &invoker, &request, "iam-role").await;
    assert_succeeded(
        &run(
            w,
            &invoker,
            Machine::Teardown,
            request.clone(),
            "iam-role-down",
        )
        .await,
    );
    w.atlas.clock.sleep(Duration::from_secs(600)).await;
    request["secret"] = json!({"name": format!("atlas/{}/via-role-lost", w.project_id)});
    *invoker.lose_output_of.lock().expect("lock") = Some("store-connection-strings");
    let lost = run(w, &invoker, Machine::Provision, request, "iam-role-lost").await;
    assert!(
        lost.entered_states().contains(&"Rollback"),
        "{:?}",
        lost.status
    );
    invoker.invocations()
}

// ---------------------------------------------------------------------------------------------
// The test

#[tokio::test]
async fn every_recorded_aws_call_is_allowed_by_its_policy_and_parliament_finds_nothing_unexplained()
{
    let node_modules = tools_dir().join("node/node_modules");
    if require_tools(
        "IAM evaluation (iam-simulate, parliament, samtranslator)",
        &[
            node(),
            node_modules.join("@cloud-copilot/iam-simulate/package.json"),
            venv_bin("python"),
            venv_bin("parliament"),
        ],
    )
    .is_none()
    {
        return;
    }

    let recorder = Recorder::new();
    let w = World::new(&[REGION]).await;
    let invocations = run_scenarios(&w, &recorder).await;
    let mut calls = recorder.calls();
    let published = calls
        .iter()
        .filter(|c| c.action == "events:PutEvents")
        .count();
    // Each provision and teardown publishes one completion event (rolled back ones too).
    assert!(published >= 6, "only {published} events:PutEvents recorded");
    calls.extend(invocations);
    assert!(calls.len() > 30, "only {} calls recorded", calls.len());

    // Policies, resolved to this world.
    let template = transformed_template();
    let env = Env::new(
        &template,
        &[("AtlasCredentialsSecretArn", w.credentials_arn.as_str())],
    );
    let roles = env.role_policies();
    let target = plain_template("infra/target-account-role.yaml");
    let target_env = Env::new(&target, &[("AutomationAccountId", LOCAL_ACCOUNT)]);
    let target_policy = target_env
        .role_policies()
        .remove("TargetRole")
        .expect("the target-account template has TargetRole");

    // Which policy each call is evaluated against, as which principal.
    let mut policies = Map::new();
    let mut requests = Vec::new();
    for (id, call) in calls.iter().enumerate() {
        let (policy, principal) = match &call.as_role {
            Some(role) => {
                policies.insert(TARGET_POLICY.to_owned(), target_policy.clone());
                (TARGET_POLICY.to_owned(), role.clone())
            }
            None => {
                let role = role_of(&template, &call.function);
                let document = roles
                    .get(&role)
                    .unwrap_or_else(|| panic!("{role} has no inline policy"));
                policies.insert(role.clone(), document.clone());
                (
                    role.clone(),
                    format!("arn:aws:iam::{LOCAL_ACCOUNT}:role/atlas-privatelink/{role}"),
                )
            }
        };
        requests.push(json!({
            "id": id, "policy": policy, "principal": principal, "action": call.action,
            "account": call.account, "legs": call.legs,
        }));
    }
    let input = tmp("calls.json");
    std::fs::write(
        &input,
        serde_json::to_vec(&json!({"policies": policies, "calls": requests})).expect("JSON"),
    )
    .expect("write the calls");
    let mut command = Command::new(node());
    command.arg("tests/iam/evaluate.mjs").arg(&input);
    let evaluated: Value =
        serde_json::from_str(&tool(command, "tests/iam/evaluate.mjs")).expect("evaluator JSON");
    let _ = std::fs::remove_file(&input);

    // Denied calls, each with the simulator's reasons.
    let mut denied = Vec::new();
    let mut ignored = BTreeSet::new();
    for result in evaluated["calls"].as_array().expect("calls") {
        let id = result["id"].as_u64().expect("id") as usize;
        let call = &calls[id];
        for leg in result["legs"].as_array().expect("legs") {
            for key in leg["ignoredContextKeys"].as_array().into_iter().flatten() {
                ignored.insert(format!("{} {}", call.action, key.as_str().unwrap_or("")));
            }
        }
        if result["decision"] != "Allowed" {
            denied.push(describe_denial(call, result));
        }
    }

    // Allow statements no call used.
    let mut unused = Vec::new();
    for s in evaluated["statements"].as_array().expect("statements") {
        if s["effect"] == "Allow" && s["granted"] == 0 {
            unused.push((
                s["policy"].as_str().unwrap_or("").to_owned(),
                s["sid"].as_str().unwrap_or("(no Sid)").to_owned(),
            ));
        }
    }
    let unexplained_unused: Vec<&(String, String)> = unused
        .iter()
        .filter(|(p, sid)| unused_reason(p, sid).is_none())
        .collect();
    let never_evaluated: Vec<&String> = roles
        .keys()
        .filter(|r| !policies.contains_key(*r))
        .collect();

    // parliament on every inline policy of both templates.
    let mut all = Map::new();
    for (role, document) in &roles {
        all.insert(role.clone(), document.clone());
    }
    all.insert(TARGET_POLICY.to_owned(), target_policy.clone());
    let lint_input = tmp("policies.json");
    std::fs::write(&lint_input, serde_json::to_vec(&all).expect("JSON")).expect("write");
    let mut command = Command::new(venv_bin("python"));
    command
        .arg("tests/iam/parliament_check.py")
        .arg(&lint_input);
    let findings: Value =
        serde_json::from_str(&tool(command, "parliament")).expect("parliament JSON");
    let _ = std::fs::remove_file(&lint_input);
    let mut unexplained_findings = Vec::new();
    let mut explained_findings = Vec::new();
    for f in findings.as_array().expect("findings") {
        let policy = f["policy"].as_str().unwrap_or("");
        let issue = f["issue"].as_str().unwrap_or("");
        let detail = f["detail"].to_string();
        match PARLIAMENT_ALLOWED
            .iter()
            .find(|(i, p, d, _)| *i == issue && (*p == "*" || *p == policy) && detail.contains(d))
        {
            Some((_, _, _, reason)) => {
                explained_findings.push(format!("{policy}: {issue} {detail} — {reason}"))
            }
            None => unexplained_findings.push(format!(
                "{policy}: {issue} ({}) {detail}",
                f["severity"].as_str().unwrap_or("")
            )),
        }
    }

    // The report.
    let report = json!({
        "calls": calls, "evaluation": evaluated, "denied": denied,
        "unusedStatements": unused, "policiesNotExercised": never_evaluated,
        "ignoredContextKeys": ignored, "parliament": findings,
    });
    let report_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("iam-report.json");
    std::fs::write(
        &report_path,
        serde_json::to_vec_pretty(&report).expect("JSON"),
    )
    .expect("write the report");
    eprintln!(
        "IAM: {} calls evaluated ({} denied); report in {}",
        calls.len(),
        denied.len(),
        report_path.display()
    );
    for (policy, sid) in &unused {
        let reason = unused_reason(policy, sid).unwrap_or("NOT EXPLAINED");
        eprintln!("IAM: unused statement {policy}/{sid}: {reason}");
    }
    for role in &never_evaluated {
        eprintln!("IAM: {role}: no recorded call (not a workflow step, or no AWS call)");
    }
    for key in &ignored {
        eprintln!("IAM: context key not applicable (ignored by the simulator): {key}");
    }
    for f in &explained_findings {
        eprintln!("parliament: {f}");
    }
    for f in &unexplained_findings {
        eprintln!("parliament: NOT EXPLAINED {f}");
    }

    assert!(
        denied.is_empty(),
        "{} recorded calls are not allowed by their policy:\n{}",
        denied.len(),
        denied.join("\n")
    );
    assert!(
        unexplained_unused.is_empty(),
        "Allow statements no recorded call uses (remove them, or explain them in \
         UNUSED_LOCALLY): {unexplained_unused:#?}"
    );
    assert!(
        unexplained_findings.is_empty(),
        "parliament findings without an explanation in PARLIAMENT_ALLOWED:\n{}",
        unexplained_findings.join("\n")
    );
}

/// One line per denied leg: the call, the resource, and why (the statements whose action and
/// resource matched but whose condition did not, with the condition's explanation).
fn describe_denial(call: &Call, result: &Value) -> String {
    let mut lines = vec![format!(
        "- {} {} by {}{}{}: {}",
        call.action,
        call.region,
        call.function,
        call.as_role
            .as_ref()
            .map(|r| format!(" as {r}"))
            .unwrap_or_default(),
        call.derived
            .as_ref()
            .map(|d| format!(" (derived: {d})"))
            .unwrap_or_default(),
        result["decision"].as_str().unwrap_or("")
    )];
    for leg in result["legs"].as_array().into_iter().flatten() {
        if leg["result"] == "Allowed" {
            continue;
        }
        let mut why: Vec<String> = leg["nearMisses"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                format!(
                    "statement {} conditions {}",
                    m["sid"].as_str().unwrap_or("?"),
                    m["explain"]["conditions"]
                )
            })
            .collect();
        if let Some(error) = leg.get("error") {
            why.push(format!("simulator error {error}"));
        }
        for d in leg["denyStatements"].as_array().into_iter().flatten() {
            why.push(format!(
                "explicit deny {}",
                d["sid"].as_str().unwrap_or("?")
            ));
        }
        if why.is_empty() {
            why.push("no statement allows this action on this resource".to_owned());
        }
        let context = call
            .legs
            .iter()
            .find(|l| l.resource == leg["resource"].as_str().unwrap_or(""))
            .map(|l| serde_json::to_string(&l.context).unwrap_or_default())
            .unwrap_or_default();
        lines.push(format!(
            "    {} {} context {context}: {}",
            leg["resource"].as_str().unwrap_or(""),
            leg["result"].as_str().unwrap_or(""),
            why.join("; ")
        ));
    }
    if !call.tags_unknown.is_empty() {
        lines.push(format!(
            "    tags never seen (ResourceTag keys missing): {:?}",
            call.tags_unknown
        ));
    }
    lines.join("\n")
}
