//! Records every AWS call the workflow's functions make, with what IAM would authorize it on:
//! the function that made it, the operation, the resource ARNs and the condition keys AWS
//! evaluates (`aws:RequestTag/…`, `aws:TagKeys`, `ec2:CreateAction`, `ec2:ResourceTag/…`,
//! `aws:ResourceTag/…`, `kms:ViaService`). `tests/integration/iam.rs` evaluates the log against
//! each function's policy with `@cloud-copilot/iam-simulate`.
//!
//! * [`in_function`] marks the function (step) whose code runs inside a future; the local
//!   invoker (`cli/src/local.rs`) wraps every step in it, as Lambda runs each step in its own
//!   function with its own role, and the state machine's own calls (the `events:putEvents`
//!   integration, made with the state machine's role) in `state-machine:<name>`.
//! * [`Recorder::interceptor`] makes the SDK interceptor of the clients of one role and region
//!   (`AwsClients::with_interceptor`); calls made outside [`in_function`] (a test looking at
//!   what exists) are not recorded.
//! * [`Recorder::calls`] turns the log into calls to evaluate, one resource ARN each leg.
//!   Calls AWS authorizes without the caller asking are derived: `ec2:CreateTags` for tags given
//!   at creation, `sts:AssumeRole` by each function on each role it acted as (the SDK's
//!   credentials provider calls STS outside the clients, and the local world caches assumed
//!   roles across steps while each Lambda function assumes the role itself), and the KMS calls
//!   Secrets Manager makes with a customer managed key.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use aws_sdk_ec2::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde::Serialize;
use serde_json::{Value, json};

use aws_sdk_dynamodb::operation as ddbop;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ec2::operation as ec2op;
use aws_sdk_eventbridge::operation as ebop;
use aws_sdk_secretsmanager::operation as smop;
use aws_sdk_sfn::operation as sfnop;

/// The account of the local world's own credentials (moto's default account).
pub const LOCAL_ACCOUNT: &str = "123456789012";

tokio::task_local! {
    static FUNCTION: String;
}

/// Runs `future` as the function `name` (a step name such as `create-vpc-endpoint`): the AWS
/// calls it makes are recorded as that function's.
pub async fn in_function<F: Future>(name: &str, future: F) -> F::Output {
    FUNCTION.scope(name.to_owned(), future).await
}

/// The function whose code is running, if any.
pub fn current_function() -> Option<String> {
    FUNCTION.try_with(String::clone).ok()
}

/// A resource as recorded; its ARN and tags are resolved when the log is read, from what the
/// recorder saw in the answers (creation outputs and `Describe*` results carry the tags).
#[derive(Clone, Debug)]
enum Resource {
    /// `*`: actions without resource-level permissions (`Describe*`).
    Any,
    /// An EC2 resource made by this call; the id comes from the answer.
    Ec2New {
        kind: &'static str,
        id: Option<String>,
        tags: Vec<(String, String)>,
    },
    /// An existing EC2 resource (its tags become `ec2:ResourceTag/…` keys).
    Ec2 { kind: &'static str, id: String },
    /// A secret, by name or ARN (its tags become `aws:ResourceTag/…` keys).
    Secret { id: String },
    /// A secret made by this call.
    SecretNew {
        name: String,
        arn: Option<String>,
        tags: Vec<(String, String)>,
    },
    /// A DynamoDB table, by name (in the caller's account and region), and the partition key
    /// of the item the call touches (the condition key `dynamodb:LeadingKeys`).
    Table {
        name: String,
        leading_key: Option<String>,
    },
    /// An EventBridge event bus, by name or ARN (`PutEvents` without one: `default`).
    EventBus { id: String },
    /// A resource named by its ARN in the call (a state machine, an execution).
    Arn { arn: String },
}

#[derive(Clone, Debug)]
struct Raw {
    function: String,
    service: String,
    operation: String,
    region: String,
    account: String,
    role_arn: Option<String>,
    resources: Vec<Resource>,
    kms_key_id: Option<String>,
    error: Option<String>,
}

#[derive(Default, Debug)]
struct Log {
    calls: Vec<Raw>,
    /// Tags by EC2 id or secret ARN, as the answers showed them (tags are set only at
    /// creation here, so what an answer shows held when any call was made).
    tags: HashMap<String, Vec<(String, String)>>,
    /// Secret ARN by name.
    secret_arns: HashMap<String, String>,
}

/// One leg of a call: one resource ARN and the condition keys that hold for it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Leg {
    /// Resource ARN, or `*`.
    pub resource: String,
    /// Condition keys of this leg (string or list of strings).
    pub context: BTreeMap<String, Value>,
}

/// A call as IAM authorizes it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Call {
    /// The function (step) that made it.
    pub function: String,
    /// `service:Operation`, the IAM action.
    pub action: String,
    /// Region of the client.
    pub region: String,
    /// Account the call acts in.
    pub account: String,
    /// The role whose permissions apply: `None` for the function's own role, else the role
    /// the function assumed (the request's `aws.roleArn`).
    pub as_role: Option<String>,
    /// One leg per resource ARN IAM authorizes the call on.
    pub legs: Vec<Leg>,
    /// Derived (not a request of ours, but authorized as part of one), and why.
    pub derived: Option<String>,
    /// The service's error code, if the call failed (IAM is evaluated before most errors).
    pub error: Option<String>,
    /// Resources whose tags the recorder never saw (their `ResourceTag` keys are missing).
    pub tags_unknown: Vec<String>,
}

/// The call log of a local world; see the module documentation.
#[derive(Clone, Default, Debug)]
pub struct Recorder {
    log: Arc<Mutex<Log>>,
}

/// The interceptor of the clients of one role and region.
#[derive(Debug)]
pub struct RecordingInterceptor {
    log: Arc<Mutex<Log>>,
    role_arn: Option<String>,
    region: String,
    account: String,
}

/// Index of the call being made, kept in the operation's config bag between the hooks.
#[derive(Clone, Debug)]
struct Pending(usize);

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

fn lock(log: &Mutex<Log>) -> MutexGuard<'_, Log> {
    // A panicking test thread must not hide the log from the report.
    log.lock().unwrap_or_else(|e| e.into_inner())
}

fn account_of(role_arn: Option<&str>) -> String {
    role_arn
        .and_then(|arn| arn.split(':').nth(4))
        .filter(|a| !a.is_empty())
        .unwrap_or(LOCAL_ACCOUNT)
        .to_owned()
}

impl Recorder {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// The interceptor for clients acting as `role_arn` (`None`: own credentials) in `region`.
    pub fn interceptor(&self, role_arn: Option<&str>, region: &str) -> RecordingInterceptor {
        RecordingInterceptor {
            log: self.log.clone(),
            role_arn: role_arn.map(str::to_owned),
            region: region.to_owned(),
            account: account_of(role_arn),
        }
    }

    /// Number of calls recorded so far (without derived ones).
    pub fn len(&self) -> usize {
        lock(&self.log).calls.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The calls to evaluate: every recorded call with its resources resolved to ARNs, plus
    /// the derived ones (see the module documentation).
    pub fn calls(&self) -> Vec<Call> {
        let log = lock(&self.log);
        let mut out = Vec::new();
        let mut assumed = BTreeSet::new();
        for raw in &log.calls {
            let mut call = Call {
                function: raw.function.clone(),
                action: format!("{}:{}", raw.service, raw.operation),
                region: raw.region.clone(),
                account: raw.account.clone(),
                as_role: raw.role_arn.clone(),
                legs: Vec::new(),
                derived: None,
                error: raw.error.clone(),
                tags_unknown: Vec::new(),
            };
            let mut derived = Vec::new();
            for resource in &raw.resources {
                match resource {
                    Resource::Any => call.legs.push(Leg {
                        resource: "*".to_owned(),
                        context: BTreeMap::new(),
                    }),
                    Resource::Ec2New { kind, id, tags } => {
                        // A create that failed has no id; IAM still authorized it on the ARN
                        // of the resource it would have made.
                        let id = id.clone().unwrap_or_else(|| placeholder_id(kind));
                        let arn = ec2_arn(raw, kind, &id);
                        let context = request_tags(tags);
                        if !tags.is_empty() {
                            // EC2 authorizes tags given at creation as ec2:CreateTags with
                            // ec2:CreateAction (EC2 User Guide, "Grant permission to tag
                            // resources during creation").
                            let mut tag_context = context.clone();
                            tag_context.insert("ec2:CreateAction".to_owned(), json!(raw.operation));
                            derived.push(Call {
                                action: "ec2:CreateTags".to_owned(),
                                legs: vec![Leg {
                                    resource: arn.clone(),
                                    context: tag_context,
                                }],
                                derived: Some(format!("tags given to {}", raw.operation)),
                                ..call.clone()
                            });
                        }
                        call.legs.push(Leg {
                            resource: arn,
                            context,
                        });
                    }
                    Resource::Ec2 { kind, id } => {
                        let arn = ec2_arn(raw, kind, id);
                        let context = match log.tags.get(id) {
                            Some(tags) => resource_tags(tags, &["ec2", "aws"]),
                            None => {
                                call.tags_unknown.push(arn.clone());
                                BTreeMap::new()
                            }
                        };
                        call.legs.push(Leg {
                            resource: arn,
                            context,
                        });
                    }
                    Resource::Secret { id } => {
                        let arn = secret_arn(&log, raw, id);
                        let context = match log.tags.get(&arn) {
                            Some(tags) => resource_tags(tags, &["aws"]),
                            None => BTreeMap::new(),
                        };
                        call.legs.push(Leg {
                            resource: arn,
                            context,
                        });
                    }
                    Resource::Table { name, leading_key } => {
                        // `dynamodb:LeadingKeys` is multivalued: the item's partition key
                        // (Service Authorization Reference, "Condition keys for Amazon
                        // DynamoDB").
                        let context = leading_key
                            .iter()
                            .map(|k| ("dynamodb:LeadingKeys".to_owned(), json!([k])))
                            .collect();
                        call.legs.push(Leg {
                            resource: format!(
                                "arn:aws:dynamodb:{}:{}:table/{name}",
                                raw.region, raw.account
                            ),
                            context,
                        });
                    }
                    Resource::EventBus { id } => {
                        let resource = if id.starts_with("arn:") {
                            id.clone()
                        } else {
                            format!(
                                "arn:aws:events:{}:{}:event-bus/{id}",
                                raw.region, raw.account
                            )
                        };
                        call.legs.push(Leg {
                            resource,
                            context: BTreeMap::new(),
                        });
                    }
                    Resource::Arn { arn } => {
                        call.legs.push(Leg {
                            resource: arn.clone(),
                            context: BTreeMap::new(),
                        });
                    }
                    Resource::SecretNew { name, arn, tags } => {
                        let arn = arn.clone().unwrap_or_else(|| secret_arn(&log, raw, name));
                        call.legs.push(Leg {
                            resource: arn,
                            context: request_tags(tags),
                        });
                    }
                }
            }
            if let Some(key) = &raw.kms_key_id {
                // Secrets Manager encrypts a new version with the key, on the caller's behalf
                // (Secrets Manager User Guide, "Secret encryption and decryption").
                derived.push(Call {
                    action: "kms:GenerateDataKey".to_owned(),
                    legs: vec![Leg {
                        resource: kms_arn(raw, key),
                        context: BTreeMap::from([(
                            "kms:ViaService".to_owned(),
                            json!(format!("secretsmanager.{}.amazonaws.com", raw.region)),
                        )]),
                    }],
                    derived: Some(format!("{} with a customer managed key", raw.operation)),
                    ..call.clone()
                });
            }
            if let Some(role) = &raw.role_arn
                && assumed.insert((raw.function.clone(), role.clone()))
            {
                out.push(Call {
                    function: raw.function.clone(),
                    action: "sts:AssumeRole".to_owned(),
                    region: raw.region.clone(),
                    account: LOCAL_ACCOUNT.to_owned(),
                    as_role: None,
                    legs: vec![Leg {
                        resource: role.clone(),
                        context: BTreeMap::new(),
                    }],
                    derived: Some(format!("{} acts as {role}", raw.function)),
                    error: None,
                    tags_unknown: Vec::new(),
                });
            }
            out.push(call);
            out.extend(derived);
        }
        out
    }
}

fn placeholder_id(kind: &str) -> String {
    let prefix = match kind {
        "security-group" => "sg",
        "vpc-endpoint" => "vpce",
        "security-group-rule" => "sgr",
        other => other,
    };
    format!("{prefix}-0recorded0placeholder")
}

fn ec2_arn(raw: &Raw, kind: &str, id: &str) -> String {
    format!("arn:aws:ec2:{}:{}:{kind}/{id}", raw.region, raw.account)
}

fn kms_arn(raw: &Raw, key: &str) -> String {
    if key.starts_with("arn:") {
        key.to_owned()
    } else if key.starts_with("alias/") {
        format!("arn:aws:kms:{}:{}:{key}", raw.region, raw.account)
    } else {
        format!("arn:aws:kms:{}:{}:key/{key}", raw.region, raw.account)
    }
}

/// The ARN of a secret named or ARNed `id`: as an answer gave it, else with a placeholder
/// suffix (a secret that does not exist has none; IAM still sees the name in the ARN).
fn secret_arn(log: &Log, raw: &Raw, id: &str) -> String {
    if id.starts_with("arn:") {
        return id.to_owned();
    }
    log.secret_arns.get(id).cloned().unwrap_or_else(|| {
        format!(
            "arn:aws:secretsmanager:{}:{}:secret:{id}-XXXXXX",
            raw.region, raw.account
        )
    })
}

fn request_tags(tags: &[(String, String)]) -> BTreeMap<String, Value> {
    let mut context = BTreeMap::new();
    if tags.is_empty() {
        return context;
    }
    for (k, v) in tags {
        context.insert(format!("aws:RequestTag/{k}"), json!(v));
    }
    context.insert(
        "aws:TagKeys".to_owned(),
        json!(tags.iter().map(|(k, _)| k).collect::<Vec<_>>()),
    );
    context
}

fn resource_tags(tags: &[(String, String)], prefixes: &[&str]) -> BTreeMap<String, Value> {
    let mut context = BTreeMap::new();
    for (k, v) in tags {
        for prefix in prefixes {
            context.insert(format!("{prefix}:ResourceTag/{k}"), json!(v));
        }
    }
    context
}

fn ec2_tags(specs: &[aws_sdk_ec2::types::TagSpecification]) -> Vec<(String, String)> {
    specs
        .iter()
        .flat_map(|s| s.tags())
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn ec2_tag_list(tags: &[aws_sdk_ec2::types::Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn secret_tag_list(tags: &[aws_sdk_secretsmanager::types::Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The resources IAM authorizes an operation on, from its input (Service Authorization
/// Reference, "Actions defined by Amazon EC2" / "by AWS Secrets Manager"). Operations not
/// listed are recorded on `*`, so an unexpected one shows up in the evaluation instead of
/// passing unseen.
fn resources_of(input: &Input) -> (Vec<Resource>, Option<String>) {
    let ec2 = |kind: &'static str, id: &str| Resource::Ec2 {
        kind,
        id: id.to_owned(),
    };
    if let Some(i) = input.downcast_ref::<ec2op::create_security_group::CreateSecurityGroupInput>()
    {
        let mut out = vec![Resource::Ec2New {
            kind: "security-group",
            id: None,
            tags: ec2_tags(i.tag_specifications()),
        }];
        out.extend(i.vpc_id().map(|v| ec2("vpc", v)));
        return (out, None);
    }
    if let Some(i) = input
        .downcast_ref::<ec2op::authorize_security_group_ingress::AuthorizeSecurityGroupIngressInput>()
    {
        let mut out: Vec<Resource> = i.group_id().map(|g| ec2("security-group", g)).into_iter().collect();
        out.push(Resource::Ec2New {
            kind: "security-group-rule",
            id: None,
            tags: ec2_tags(i.tag_specifications()),
        });
        return (out, None);
    }
    if let Some(i) = input.downcast_ref::<ec2op::delete_security_group::DeleteSecurityGroupInput>()
    {
        return (
            i.group_id()
                .map(|g| ec2("security-group", g))
                .into_iter()
                .collect(),
            None,
        );
    }
    if let Some(i) = input.downcast_ref::<ec2op::create_vpc_endpoint::CreateVpcEndpointInput>() {
        // The service (vpc-endpoint-service, in Atlas's account) is not a resource type of
        // ec2:CreateVpcEndpoint in the Service Authorization Reference: not a leg.
        let mut out = vec![Resource::Ec2New {
            kind: "vpc-endpoint",
            id: None,
            tags: ec2_tags(i.tag_specifications()),
        }];
        out.extend(i.vpc_id().map(|v| ec2("vpc", v)));
        out.extend(i.subnet_ids().iter().map(|s| ec2("subnet", s)));
        out.extend(
            i.security_group_ids()
                .iter()
                .map(|g| ec2("security-group", g)),
        );
        return (out, None);
    }
    if let Some(i) = input.downcast_ref::<ec2op::modify_vpc_endpoint::ModifyVpcEndpointInput>() {
        let mut out: Vec<Resource> = i
            .vpc_endpoint_id()
            .map(|e| ec2("vpc-endpoint", e))
            .into_iter()
            .collect();
        out.extend(
            i.add_security_group_ids()
                .iter()
                .map(|g| ec2("security-group", g)),
        );
        return (out, None);
    }
    if let Some(i) = input.downcast_ref::<ec2op::delete_vpc_endpoints::DeleteVpcEndpointsInput>() {
        return (
            i.vpc_endpoint_ids()
                .iter()
                .map(|e| ec2("vpc-endpoint", e))
                .collect(),
            None,
        );
    }
    // The claims table's item calls (Service Authorization Reference, "Actions defined by
    // Amazon DynamoDB": the table).
    let table = |name: Option<&str>, key: Option<&HashMap<String, AttributeValue>>| {
        let leading_key = key
            .and_then(|k| k.get("pk"))
            .and_then(|v| v.as_s().ok())
            .cloned();
        (
            name.map(|n| Resource::Table {
                name: n.to_owned(),
                leading_key,
            })
            .into_iter()
            .collect::<Vec<_>>(),
            None,
        )
    };
    if let Some(i) = input.downcast_ref::<ddbop::put_item::PutItemInput>() {
        return table(i.table_name(), i.item());
    }
    if let Some(i) = input.downcast_ref::<ddbop::get_item::GetItemInput>() {
        return table(i.table_name(), i.key());
    }
    if let Some(i) = input.downcast_ref::<ddbop::update_item::UpdateItemInput>() {
        return table(i.table_name(), i.key());
    }
    if let Some(i) = input.downcast_ref::<ddbop::delete_item::DeleteItemInput>() {
        return table(i.table_name(), i.key());
    }
    let secret = |id: Option<&str>| {
        id.map(|id| Resource::Secret { id: id.to_owned() })
            .into_iter()
            .collect::<Vec<_>>()
    };
    // events:PutEvents is authorized on each entry's event bus (Service Authorization
    // Reference, "Actions defined by Amazon EventBridge": event-bus); one leg per bus.
    if let Some(i) = input.downcast_ref::<ebop::put_events::PutEventsInput>() {
        let buses: BTreeSet<String> = i
            .entries()
            .iter()
            .map(|e| e.event_bus_name().unwrap_or("default").to_owned())
            .collect();
        return (
            buses
                .into_iter()
                .map(|id| Resource::EventBus { id })
                .collect(),
            None,
        );
    }
    // Step Functions (the dispatcher): StartExecution on the state machine, DescribeExecution
    // on the execution (Service Authorization Reference, "Actions defined by AWS Step
    // Functions").
    let arn = |arn: Option<&str>| {
        (
            arn.map(|arn| Resource::Arn {
                arn: arn.to_owned(),
            })
            .into_iter()
            .collect::<Vec<_>>(),
            None,
        )
    };
    if let Some(i) = input.downcast_ref::<sfnop::start_execution::StartExecutionInput>() {
        return arn(i.state_machine_arn());
    }
    if let Some(i) = input.downcast_ref::<sfnop::describe_execution::DescribeExecutionInput>() {
        return arn(i.execution_arn());
    }
    if let Some(i) = input.downcast_ref::<sfnop::list_executions::ListExecutionsInput>() {
        return arn(i.state_machine_arn());
    }
    if let Some(i) = input.downcast_ref::<smop::create_secret::CreateSecretInput>() {
        return (
            vec![Resource::SecretNew {
                name: i.name().unwrap_or_default().to_owned(),
                arn: None,
                tags: secret_tag_list(i.tags()),
            }],
            i.kms_key_id().map(str::to_owned),
        );
    }
    if let Some(i) = input.downcast_ref::<smop::get_secret_value::GetSecretValueInput>() {
        return (secret(i.secret_id()), None);
    }
    if let Some(i) = input.downcast_ref::<smop::describe_secret::DescribeSecretInput>() {
        return (secret(i.secret_id()), None);
    }
    if let Some(i) = input.downcast_ref::<smop::put_secret_value::PutSecretValueInput>() {
        return (secret(i.secret_id()), None);
    }
    if let Some(i) = input.downcast_ref::<smop::restore_secret::RestoreSecretInput>() {
        return (secret(i.secret_id()), None);
    }
    if let Some(i) = input.downcast_ref::<smop::delete_secret::DeleteSecretInput>() {
        return (secret(i.secret_id()), None);
    }
    if let Some(i) = input.downcast_ref::<smop::tag_resource::TagResourceInput>() {
        return (secret(i.secret_id()), None);
    }
    if let Some(i) =
        input.downcast_ref::<smop::list_secret_version_ids::ListSecretVersionIdsInput>()
    {
        return (secret(i.secret_id()), None);
    }
    if let Some(i) = input.downcast_ref::<smop::update_secret::UpdateSecretInput>() {
        return (secret(i.secret_id()), i.kms_key_id().map(str::to_owned));
    }
    (vec![Resource::Any], None)
}

/// Learns ids, ARNs and tags from an answer.
fn learn(log: &mut Log, index: usize, output: &Output) {
    let mut created: Option<String> = None;
    let mut created_rules: Vec<String> = Vec::new();
    if let Some(o) = output.downcast_ref::<ec2op::create_security_group::CreateSecurityGroupOutput>() {
        created = o.group_id().map(str::to_owned);
        if let Some(id) = &created
            && !o.tags().is_empty()
        {
            log.tags.insert(id.clone(), ec2_tag_list(o.tags()));
        }
    } else if let Some(o) = output.downcast_ref::<ec2op::create_vpc_endpoint::CreateVpcEndpointOutput>() {
        if let Some(e) = o.vpc_endpoint() {
            created = e.vpc_endpoint_id().map(str::to_owned);
            if let Some(id) = &created
                && !e.tags().is_empty()
            {
                log.tags.insert(id.clone(), ec2_tag_list(e.tags()));
            }
        }
    } else if let Some(o) = output
        .downcast_ref::<ec2op::authorize_security_group_ingress::AuthorizeSecurityGroupIngressOutput>()
    {
        created_rules = o
            .security_group_rules()
            .iter()
            .filter_map(|r| r.security_group_rule_id().map(str::to_owned))
            .collect();
    } else if let Some(o) = output.downcast_ref::<ec2op::describe_security_groups::DescribeSecurityGroupsOutput>() {
        for g in o.security_groups() {
            if let Some(id) = g.group_id() {
                log.tags.insert(id.to_owned(), ec2_tag_list(g.tags()));
            }
        }
    } else if let Some(o) = output.downcast_ref::<ec2op::describe_vpc_endpoints::DescribeVpcEndpointsOutput>() {
        for e in o.vpc_endpoints() {
            if let Some(id) = e.vpc_endpoint_id() {
                log.tags.insert(id.to_owned(), ec2_tag_list(e.tags()));
            }
        }
    } else if let Some(o) = output.downcast_ref::<ec2op::describe_vpcs::DescribeVpcsOutput>() {
        for v in o.vpcs() {
            if let Some(id) = v.vpc_id() {
                log.tags.insert(id.to_owned(), ec2_tag_list(v.tags()));
            }
        }
    } else if let Some(o) = output.downcast_ref::<ec2op::describe_subnets::DescribeSubnetsOutput>() {
        for s in o.subnets() {
            if let Some(id) = s.subnet_id() {
                log.tags.insert(id.to_owned(), ec2_tag_list(s.tags()));
            }
        }
    } else if let Some(o) = output.downcast_ref::<smop::describe_secret::DescribeSecretOutput>() {
        if let (Some(name), Some(arn)) = (o.name(), o.arn()) {
            log.secret_arns.insert(name.to_owned(), arn.to_owned());
            log.tags.insert(arn.to_owned(), secret_tag_list(o.tags()));
        }
    } else if let Some(o) = output.downcast_ref::<smop::create_secret::CreateSecretOutput>() {
        if let (Some(name), Some(arn)) = (o.name(), o.arn()) {
            log.secret_arns.insert(name.to_owned(), arn.to_owned());
            if let Some(Resource::SecretNew { arn: a, tags, .. }) = log
                .calls
                .get_mut(index)
                .and_then(|c| c.resources.first_mut())
            {
                *a = Some(arn.to_owned());
                let tags = tags.clone();
                log.tags.insert(arn.to_owned(), tags);
            }
        }
    } else if let Some(o) = output.downcast_ref::<smop::get_secret_value::GetSecretValueOutput>()
        && let (Some(name), Some(arn)) = (o.name(), o.arn())
    {
        log.secret_arns.insert(name.to_owned(), arn.to_owned());
    }
    let Some(call) = log.calls.get_mut(index) else {
        return;
    };
    let mut rules = created_rules.into_iter();
    let mut extra = Vec::new();
    for resource in call.resources.iter_mut() {
        if let Resource::Ec2New { kind, id, tags } = resource {
            if *kind == "security-group-rule" {
                *id = rules.next();
                // One leg per rule made (each is authorized).
                for rule in rules.by_ref() {
                    extra.push(Resource::Ec2New {
                        kind,
                        id: Some(rule),
                        tags: tags.clone(),
                    });
                }
            } else if let Some(made) = created.take() {
                *id = Some(made);
            }
        }
    }
    call.resources.extend(extra);
}

impl Intercept for RecordingInterceptor {
    fn name(&self) -> &'static str {
        "devstack::recorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Calls outside a function (a test looking at what exists) are no function's.
        let Some(function) = current_function() else {
            return Ok(());
        };
        // The operation's name is in the config bag only once the operation's own settings
        // are layered in, after this hook: read_after_execution fills it in.
        let (service, operation) = names(cfg).unwrap_or_default();
        let (resources, kms_key_id) = resources_of(context.input());
        let mut log = lock(&self.log);
        let index = log.calls.len();
        log.calls.push(Raw {
            function,
            service,
            operation,
            region: self.region.clone(),
            account: self.account.clone(),
            role_arn: self.role_arn.clone(),
            resources,
            kms_key_id,
            error: None,
        });
        cfg.interceptor_state().store_put(Pending(index));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Pending(index)) = cfg.load::<Pending>().cloned() else {
            return Ok(());
        };
        let mut log = lock(&self.log);
        if let (Some((service, operation)), Some(call)) = (names(cfg), log.calls.get_mut(index)) {
            call.service = service;
            call.operation = operation;
        }
        match context.output_or_error() {
            Some(Ok(output)) => learn(&mut log, index, output),
            Some(Err(error)) => {
                let code = error
                    .as_operation_error()
                    .map(|e| format!("{e:?}"))
                    .unwrap_or_else(|| "transport or timeout".to_owned());
                if let Some(call) = log.calls.get_mut(index) {
                    call.error = Some(short(&code));
                }
            }
            None => {}
        }
        Ok(())
    }
}

/// The IAM service prefix and the operation name of the call being made.
fn names(cfg: &ConfigBag) -> Option<(String, String)> {
    let metadata = cfg.load::<Metadata>()?;
    // Metadata names the service by its model name; IAM by its prefix.
    let service = match metadata.service().to_ascii_lowercase().as_str() {
        s if s.contains("ec2") => "ec2".to_owned(),
        s if s.contains("secrets") => "secretsmanager".to_owned(),
        s if s.contains("dynamo") => "dynamodb".to_owned(),
        s if s.contains("eventbridge") || s == "events" => "events".to_owned(),
        // Step Functions: the SDK's `sfn`, IAM's `states`.
        "sfn" | "states" | "awsstepfunctions" => "states".to_owned(),
        other => other.to_owned(),
    };
    Some((service, metadata.name().to_owned()))
}

/// The first words of an error's debug text (its code), not the whole of it.
fn short(text: &str) -> String {
    text.chars().take(120).collect()
}
