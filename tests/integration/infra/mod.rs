//! Offline checks of the deployment: `infra/template.yaml` (SAM), `infra/target-account-role.yaml`
//! (plain CloudFormation), the state machine files they deploy, and `examples/`. One file per
//! topic, so a failure points at what broke:
//!
//! - [`linters`]: the real tools (aws-sam-cli and cfn-lint) on both templates;
//! - [`state_machines`]: the ASL files' placeholders against `DefinitionSubstitutions`;
//! - [`functions`]: the functions are the workspace's binaries, with their settings;
//! - [`logging`]: log groups, their retention, one per function and state machine;
//! - [`roles`]: one role per function and state machine, each allowed exactly its calls;
//! - [`least_privilege`]: the resource, tag and name limits of every permission;
//! - [`event_rules`]: the EventBridge rules against the example events and near misses;
//! - [`examples`]: the example requests are valid requests;
//! - [`parameters_and_outputs`]: parameters, outputs and the failure alarm.
//!
//! This file holds what several topics share: reading the repository's files, loading a
//! CloudFormation YAML template as the JSON CloudFormation sees, and reading resources and IAM
//! statements out of it. Without the tools the tool-based tests say so and pass, except under
//! `CI=true`, where that is a failure. Nothing here uses the network.

mod event_rules;
mod examples;
mod functions;
mod least_privilege;
mod linters;
mod logging;
mod parameters_and_outputs;
mod roles;
mod state_machines;

use std::collections::BTreeMap;

use integration_tests::tools::repo_root;
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Files

fn read(relative: &str) -> String {
    let path = repo_root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn read_json(relative: &str) -> Value {
    serde_json::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

const TEMPLATE: &str = "infra/template.yaml";
const TARGET_TEMPLATE: &str = "infra/target-account-role.yaml";

// ---------------------------------------------------------------------------------------------
// CloudFormation YAML → JSON

/// Loads a CloudFormation YAML template as the JSON CloudFormation itself would see: the short
/// forms of intrinsic functions (`!Ref x`, `!GetAtt a.b`, `!Sub …`, `!If […]`) become their long
/// forms (`{"Ref": x}`, `{"Fn::GetAtt": [a, b]}`, `{"Fn::Sub": …}`, `{"Fn::If": […]}`).
fn load_template(relative: &str) -> Value {
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    cfn_json(yaml)
}

fn cfn_json(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).expect("a YAML number is a JSON number"),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(cfn_json).collect()),
        Y::Mapping(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_yaml_ng::to_string(&other)
                            .expect("a scalar key")
                            .trim()
                            .to_owned(),
                    };
                    (key, cfn_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = cfn_json(tagged.value);
            match (name, inner) {
                ("Ref", inner) => json!({ "Ref": inner }),
                ("Condition", inner) => json!({ "Condition": inner }),
                ("GetAtt", Value::String(s)) => {
                    let (resource, attribute) = s
                        .split_once('.')
                        .unwrap_or_else(|| panic!("!GetAtt {s}: expected Resource.Attribute"));
                    json!({ "Fn::GetAtt": [resource, attribute] })
                }
                (name, inner) => json!({ format!("Fn::{name}"): inner }),
            }
        }
    }
}

#[test]
fn short_form_intrinsics_become_their_long_forms() {
    let yaml = "a: !Ref P\nb: !GetAtt R.Arn\nc: !Sub 'x-${P}'\nd: !If [C, 1, !Ref AWS::NoValue]\n\
                e: !Not [!Equals [!Ref P, '']]\nf: {\"Null\": {k: \"false\"}}\n";
    let value = cfn_json(serde_yaml_ng::from_str(yaml).expect("yaml"));
    assert_eq!(
        value,
        json!({
            "a": {"Ref": "P"},
            "b": {"Fn::GetAtt": ["R", "Arn"]},
            "c": {"Fn::Sub": "x-${P}"},
            "d": {"Fn::If": ["C", 1, {"Ref": "AWS::NoValue"}]},
            "e": {"Fn::Not": [{"Fn::Equals": [{"Ref": "P"}, ""]}]},
            "f": {"Null": {"k": "false"}}
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Template helpers

fn resources(template: &Value) -> &Map<String, Value> {
    template["Resources"]
        .as_object()
        .expect("the template has Resources")
}

/// `(logical id, resource)` of every resource of `kind`, in name order.
fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    resources(template)
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(name, r)| (name.as_str(), r))
        .collect()
}

fn resource<'a>(template: &'a Value, name: &str) -> &'a Value {
    resources(template)
        .get(name)
        .unwrap_or_else(|| panic!("no resource {name}"))
}

/// A value as CloudFormation would write it in a `!Sub`: strings as they are, `Ref x` as
/// `${x}`, `GetAtt a.b` as `${a.b}`.
fn render(value: &Value) -> String {
    if let Value::String(s) = value {
        return s.clone();
    }
    if let Some((key, inner)) = value
        .as_object()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
    {
        match (key.as_str(), inner) {
            ("Ref", Value::String(name)) => return format!("${{{name}}}"),
            ("Fn::GetAtt", Value::Array(parts)) => {
                let parts: Vec<String> = parts.iter().map(render).collect();
                return format!("${{{}}}", parts.join("."));
            }
            ("Fn::Sub", Value::String(s)) => return s.clone(),
            _ => {}
        }
    }
    value.to_string()
}

/// The logical id a `!GetAtt X.Arn` or `!Ref X` names.
fn target_of(value: &Value) -> Option<&str> {
    value
        .get("Fn::GetAtt")
        .and_then(|parts| parts.get(0))
        .or_else(|| value.get("Ref"))
        .and_then(Value::as_str)
}

/// A list, a single value as a list of one, and `Fn::If` branches flattened (a `Ref
/// AWS::NoValue` branch drops out).
fn flatten(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().flat_map(flatten).collect(),
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::If") => m["Fn::If"]
            .as_array()
            .map(|branches| branches.iter().skip(1).flat_map(flatten).collect())
            .unwrap_or_default(),
        Value::Object(m) if m.get("Ref") == Some(&json!("AWS::NoValue")) => vec![],
        other => vec![other],
    }
}

/// The account-level calls a state machine's role makes for Step Functions log delivery: its
/// role must allow them, on `"*"` since they support no resource-level permissions.
const STATES_LOGS: [&str; 8] = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
];

/// The X-Ray calls of a traced state machine, also on `"*"` only.
const XRAY: [&str; 4] = [
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
];

/// One IAM statement, flattened for checking.
#[derive(Debug, Clone)]
struct Statement {
    /// `Role/PolicyName/Sid`, for messages.
    at: String,
    allow: bool,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Value,
}

/// The identity-policy statements of every `AWS::IAM::Role`, by role name.
fn role_statements(template: &Value) -> BTreeMap<String, Vec<Statement>> {
    let mut roles = BTreeMap::new();
    for (name, role) in of_type(template, "AWS::IAM::Role") {
        let mut statements = Vec::new();
        for policy in flatten(&role["Properties"]["Policies"]) {
            let policy_name = render(&policy["PolicyName"]);
            for s in flatten(&policy["PolicyDocument"]["Statement"]) {
                let sid = s["Sid"].as_str().unwrap_or("(no Sid)");
                statements.push(Statement {
                    at: format!("{name}/{policy_name}/{sid}"),
                    allow: s["Effect"] == "Allow",
                    actions: flatten(&s["Action"]).into_iter().map(render).collect(),
                    resources: flatten(&s["Resource"]).into_iter().map(render).collect(),
                    condition: s.get("Condition").cloned().unwrap_or(Value::Null),
                });
            }
        }
        roles.insert(name.to_owned(), statements);
    }
    roles
}

/// Every object anywhere in `value` that is an IAM statement (has `Effect`), with its path.
fn all_statements<'a>(value: &'a Value, path: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(m) => {
            if m.contains_key("Effect") {
                out.push((path.clone(), value));
            }
            for (k, v) in m {
                all_statements(v, format!("{path}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                all_statements(v, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Every string inside `value` (an `Action` with its `Fn::If` branches, say).
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(m) => m.values().flat_map(strings).collect(),
        _ => vec![],
    }
}

/// Statements with a wildcard action (`*`, `ec2:*`, `ec2:Describe*`, …) or with `NotAction`.
fn wildcard_actions(template: &Value) -> (usize, Vec<String>) {
    let mut statements = Vec::new();
    all_statements(template, String::new(), &mut statements);
    let mut bad = Vec::new();
    for (path, s) in &statements {
        if s.get("NotAction").is_some() {
            bad.push(format!("{path}: NotAction"));
        }
        let actions = strings(s.get("Action").unwrap_or(&Value::Null));
        if actions.is_empty() {
            bad.push(format!("{path}: no Action"));
        }
        for action in actions.into_iter().filter(|a| a.contains('*')) {
            bad.push(format!("{path}: {action}"));
        }
    }
    (statements.len(), bad)
}
