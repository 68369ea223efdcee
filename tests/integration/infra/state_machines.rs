//! The state machines and the template agree: every `${…}` of both ASL files is in that state
//! machine's `DefinitionSubstitutions`, every substitution is used, and each names the function
//! built from the matching binary. A placeholder SAM cannot fill would only fail at deploy time.

use std::collections::BTreeSet;

use privatelink_core::steps::Step;
use serde_json::{Value, json};

use super::{TEMPLATE, load_template, of_type, read, resource};

/// The `${name}` placeholders of a text.
fn placeholders(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .unwrap_or_else(|| panic!("unclosed ${{ in {}", &rest[start..]));
        found.insert(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    found
}

#[test]
fn asl_placeholders_and_definition_substitutions_match() {
    let template = load_template(TEMPLATE);
    let machines = of_type(&template, "AWS::Serverless::StateMachine");
    let uris: BTreeSet<&str> = machines
        .iter()
        .map(|(_, m)| {
            m["Properties"]["DefinitionUri"]
                .as_str()
                .expect("DefinitionUri")
        })
        .collect();
    assert_eq!(
        uris,
        BTreeSet::from([
            "../statemachine/provision.asl.json",
            "../statemachine/teardown.asl.json"
        ]),
        "both state machine files, by DefinitionUri relative to infra/"
    );
    for (name, machine) in machines {
        let props = &machine["Properties"];
        assert_eq!(props["Type"], "STANDARD", "{name}");
        let uri = props["DefinitionUri"].as_str().expect("DefinitionUri");
        let text = read(&format!("infra/{uri}"));
        serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{uri}: {e}"));
        let used = placeholders(&text);
        let substitutions = props["DefinitionSubstitutions"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: no DefinitionSubstitutions"));
        let given: BTreeSet<String> = substitutions.keys().cloned().collect();
        let missing: Vec<&String> = used.difference(&given).collect();
        let unused: Vec<&String> = given.difference(&used).collect();
        assert!(
            missing.is_empty() && unused.is_empty(),
            "{name} ({uri}): placeholders without substitution {missing:?}, substitutions \
             the definition does not use {unused:?}"
        );
        // The bus of the completion events is the stack's parameter.
        assert_eq!(
            substitutions.get("EventBusName"),
            Some(&json!({"Ref": "EventBusName"})),
            "{name}: EventBusName"
        );
        // Every other substitution is a catalogue step's placeholder, the ARN of that step's
        // function.
        for (key, value) in substitutions.iter().filter(|(k, _)| *k != "EventBusName") {
            let step = Step::ALL
                .into_iter()
                .find(|s| s.asl_placeholder() == *key)
                .unwrap_or_else(|| panic!("{name}: substitution {key} is no catalogue step's"));
            let function = step.function_logical_id();
            assert_eq!(
                value,
                &json!({"Fn::GetAtt": [function, "Arn"]}),
                "{name}: {key}"
            );
            assert_eq!(
                resource(&template, &function)["Type"],
                "AWS::Serverless::Function",
                "{function}"
            );
        }
    }
}

#[test]
fn placeholders_are_found() {
    assert_eq!(
        placeholders(r#"{"Resource": "${AFunctionArn}", "x": "$.y", "z": "${B}"}"#),
        BTreeSet::from(["AFunctionArn".to_owned(), "B".to_owned()])
    );
}
