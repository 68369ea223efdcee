//! IAM roles and their actions: no IAM statement anywhere has a wildcard action; one role per
//! function and per state machine (no shared role, no managed policy); each role may take
//! exactly the AWS actions its function calls (`functions/core/src/aws`), and each state
//! machine's role may invoke exactly the functions it runs. A widened or shared role would
//! pass every functional test, so only this catches it.

use std::collections::{BTreeMap, BTreeSet};

use privatelink_core::steps::Step;
use serde_json::json;

use super::{
    STATES_LOGS, TARGET_TEMPLATE, TEMPLATE, XRAY, cfn_json, load_template, of_type, render,
    resource, role_statements, target_of, wildcard_actions,
};

#[test]
fn no_iam_statement_has_a_wildcard_action() {
    for file in [TEMPLATE, TARGET_TEMPLATE] {
        let (count, bad) = wildcard_actions(&load_template(file));
        assert!(count >= 10, "{file}: only {count} IAM statements found");
        assert!(bad.is_empty(), "{file}: wildcard actions: {bad:#?}");
    }
    // The detector itself: a wildcard behind !If, a service wildcard, a NotAction.
    let sample = cfn_json(
        serde_yaml_ng::from_str(
            "Statement:\n\
             - {Effect: Allow, Action: [ec2:DescribeVpcs], Resource: '*'}\n\
             - !If [C, {Effect: Allow, Action: 'ec2:Describe*', Resource: '*'}, !Ref AWS::NoValue]\n\
             - {Effect: Allow, Action: '*', Resource: x}\n\
             - {Effect: Allow, NotAction: iam:PassRole, Resource: '*'}\n",
        )
        .expect("yaml"),
    );
    let (count, bad) = wildcard_actions(&sample);
    assert_eq!(count, 4);
    assert_eq!(bad.len(), 4, "{bad:#?}");
}

/// Every role: whom it serves (a function or a state machine), and the actions it may take:
/// for a step's role, its catalogue entry's `role_actions` (the calls the step makes), so a
/// change of calls is declared beside the step and a widened policy never passes unnoticed.
fn expected_actions() -> BTreeMap<String, BTreeSet<&'static str>> {
    const LOGS: [&str; 2] = ["logs:CreateLogStream", "logs:PutLogEvents"];
    let set = |parts: &[&[&'static str]]| -> BTreeSet<&'static str> {
        parts.iter().flat_map(|p| p.iter().copied()).collect()
    };
    // The steps' roles: what the catalogue says each step calls.
    let mut expected: BTreeMap<String, BTreeSet<&'static str>> = Step::ALL
        .into_iter()
        .map(|step| {
            (
                step.role_logical_id(),
                set(&[&LOGS, step.settings().role_actions]),
            )
        })
        .collect();
    expected.extend([
        (
            "DispatcherRole".to_owned(),
            set(&[
                &LOGS,
                &[
                    "states:StartExecution",
                    "states:DescribeExecution",
                    "states:ListExecutions",
                    "sqs:SendMessage",
                ],
                // The drift sweep and rotation events (functions/dispatcher/src/sweep.rs):
                // list the connection-string secrets, read their requests (decrypting with the
                // stack's key, if any), in DriftAccountIds through the target-account role.
                &[
                    "secretsmanager:ListSecrets",
                    "secretsmanager:GetSecretValue",
                    "kms:Decrypt",
                    "sts:AssumeRole",
                ],
            ]),
        ),
        // The drift schedule's role invokes the dispatcher, nothing else.
        (
            "DriftCheckSchedulerRole".to_owned(),
            set(&[&["lambda:InvokeFunction"]]),
        ),
        // The state machines run their steps and publish their completion events
        // (events:putEvents).
        (
            "ProvisionStateMachineRole".to_owned(),
            set(&[
                &["lambda:InvokeFunction", "events:PutEvents"],
                &STATES_LOGS,
                &XRAY,
            ]),
        ),
        (
            "TeardownStateMachineRole".to_owned(),
            set(&[
                &["lambda:InvokeFunction", "events:PutEvents"],
                &STATES_LOGS,
                &XRAY,
            ]),
        ),
    ]);
    expected
}

#[test]
fn each_function_and_state_machine_has_its_own_role() {
    let template = load_template(TEMPLATE);
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let users = of_type(&template, "AWS::Serverless::Function")
        .into_iter()
        .chain(of_type(&template, "AWS::Serverless::StateMachine"));
    // A schedule acts as its target's role (Target.RoleArn), one role per schedule too.
    for (name, schedule) in of_type(&template, "AWS::Scheduler::Schedule") {
        let role = target_of(&schedule["Properties"]["Target"]["RoleArn"])
            .unwrap_or_else(|| panic!("{name}: Target.RoleArn is not !GetAtt <Role>.Arn"));
        assert_eq!(
            resource(&template, role)["Condition"],
            schedule["Condition"],
            "{name}: its role exists exactly when it does"
        );
        if let Some(other) = owners.insert(role.to_owned(), name.to_owned()) {
            panic!("{name} and {other} share the role {role}");
        }
    }
    for (name, user) in users {
        let props = &user["Properties"];
        for key in ["Policies", "PermissionsBoundary"] {
            assert!(
                props.get(key).is_none(),
                "{name}: {key} (use its own role's inline policy)"
            );
        }
        let role = target_of(&props["Role"])
            .unwrap_or_else(|| panic!("{name}: Role is not !GetAtt <Role>.Arn"));
        assert_eq!(
            resource(&template, role)["Type"],
            "AWS::IAM::Role",
            "{name}"
        );
        if let Some(other) = owners.insert(role.to_owned(), name.to_owned()) {
            panic!("{name} and {other} share the role {role}");
        }
    }
    let roles: BTreeSet<String> = of_type(&template, "AWS::IAM::Role")
        .into_iter()
        .map(|(name, role)| {
            let props = &role["Properties"];
            assert!(
                props.get("ManagedPolicyArns").is_none(),
                "{name}: managed policies (inline policies only)"
            );
            assert_eq!(props["Path"], "/atlas-privatelink/", "{name}: Path");
            name.to_owned()
        })
        .collect();
    assert_eq!(
        roles,
        owners.keys().cloned().collect(),
        "every role serves exactly one function or state machine"
    );
    let expected: BTreeSet<String> = expected_actions().into_keys().collect();
    assert_eq!(roles, expected, "the roles of expected_actions()");
}

#[test]
fn each_role_may_do_exactly_what_its_function_does() {
    let template = load_template(TEMPLATE);
    let expected = expected_actions();
    for (role, statements) in role_statements(&template) {
        let allowed: BTreeSet<&str> = statements
            .iter()
            .filter(|s| s.allow)
            .flat_map(|s| s.actions.iter().map(String::as_str))
            .collect();
        let want = expected
            .get(&role)
            .unwrap_or_else(|| panic!("{role}: not in expected_actions()"));
        assert_eq!(&allowed, want, "{role}: allowed actions");
    }
}

#[test]
fn state_machine_roles_invoke_exactly_their_tasks() {
    let template = load_template(TEMPLATE);
    let roles = role_statements(&template);
    for (name, machine) in of_type(&template, "AWS::Serverless::StateMachine") {
        let props = &machine["Properties"];
        let tasks: BTreeSet<String> = props["DefinitionSubstitutions"]
            .as_object()
            .expect("DefinitionSubstitutions")
            .iter()
            .filter(|(key, _)| *key != "EventBusName")
            .map(|(_, value)| render(value))
            .collect();
        let role = target_of(&props["Role"]).expect("Role");
        let invoked: BTreeSet<String> = roles[role]
            .iter()
            .filter(|s| s.allow && s.actions.iter().any(|a| a == "lambda:InvokeFunction"))
            .flat_map(|s| s.resources.clone())
            .collect();
        assert_eq!(
            invoked, tasks,
            "{name}: {role} may invoke exactly the functions it runs"
        );
        // And publish to exactly the bus its definition names (`${EventBusName}`).
        assert_eq!(
            props["DefinitionSubstitutions"]["EventBusName"],
            json!({"Ref": "EventBusName"}),
            "{name}: EventBusName"
        );
        let published: BTreeSet<String> = roles[role]
            .iter()
            .filter(|s| s.allow && s.actions.iter().any(|a| a == "events:PutEvents"))
            .flat_map(|s| s.resources.clone())
            .collect();
        assert_eq!(
            published,
            BTreeSet::from([
                "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"
                    .to_owned()
            ]),
            "{name}: {role} may put events on the stack's bus only"
        );
    }
}
