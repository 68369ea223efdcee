//! The state machine definitions (the very files in `statemachine/`, compiled in) and the
//! substitutions that stand in for the deployed Lambda ARNs (and the stack's event bus) when
//! they run locally.

use std::collections::HashMap;

use asl_runner::{DefinitionErrors, StateMachine, load_definition};
use privatelink_core::steps::Step;

/// `statemachine/provision.asl.json`.
pub const PROVISION: &str = include_str!("../../statemachine/provision.asl.json");
/// `statemachine/teardown.asl.json`.
pub const TEARDOWN: &str = include_str!("../../statemachine/teardown.asl.json");

/// Prefix of the local stand-in function ARNs.
const LOCAL_ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:000000000000:function:atlas-privatelink-";

/// The Step Functions optimized integration that publishes the completion events to
/// EventBridge (the only Task resource of the state machines that is not a step's function).
pub const PUT_EVENTS: &str = "arn:aws:states:::events:putEvents";

/// The event bus the state machines publish to locally (the template's `EventBusName`
/// parameter defaults to it too).
pub const LOCAL_EVENT_BUS: &str = "default";

/// Substitutions naming a local stand-in ARN for every step's function (the catalogue's
/// `${…FunctionArn}` placeholders), and the local event bus (`${EventBusName}`).
pub fn local_substitutions() -> HashMap<String, String> {
    Step::ALL
        .into_iter()
        .map(|step| (step.asl_placeholder(), local_arn(step)))
        .chain([("EventBusName".to_owned(), LOCAL_EVENT_BUS.to_owned())])
        .collect()
}

/// The local stand-in ARN of `step`'s function.
pub fn local_arn(step: Step) -> String {
    format!("{LOCAL_ARN_PREFIX}{}", step.name())
}

/// The step a local stand-in ARN runs.
pub fn step_of(resource: &str) -> Option<Step> {
    resource
        .strip_prefix(LOCAL_ARN_PREFIX)
        .and_then(Step::from_name)
}

/// Which state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    /// `provision.asl.json`.
    Provision,
    /// `teardown.asl.json`.
    Teardown,
}

impl Machine {
    /// The definition text.
    pub fn definition(self) -> &'static str {
        match self {
            Machine::Provision => PROVISION,
            Machine::Teardown => TEARDOWN,
        }
    }

    /// The state machine's name.
    pub fn name(self) -> &'static str {
        match self {
            Machine::Provision => "atlas-privatelink-provision",
            Machine::Teardown => "atlas-privatelink-teardown",
        }
    }

    /// The state machine's logical id in `infra/template.yaml`.
    pub fn logical_id(self) -> &'static str {
        match self {
            Machine::Provision => "ProvisionStateMachine",
            Machine::Teardown => "TeardownStateMachine",
        }
    }

    /// The machine named `name` ([`Machine::name`]).
    pub fn from_name(name: &str) -> Option<Machine> {
        [Machine::Provision, Machine::Teardown]
            .into_iter()
            .find(|m| m.name() == name)
    }

    /// Parses the definition with the local substitutions.
    pub fn load(self) -> Result<StateMachine, DefinitionErrors> {
        load_definition(self.definition(), &local_substitutions())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_definitions_load_and_use_every_function_they_name() {
        for machine in [Machine::Provision, Machine::Teardown] {
            let loaded = machine
                .load()
                .unwrap_or_else(|e| panic!("{machine:?}: {e}"));
            for resource in loaded.task_resources() {
                assert!(
                    step_of(&resource).is_some() || resource == PUT_EVENTS,
                    "{machine:?}: {resource} is neither a step's function nor events:putEvents"
                );
            }
            // Both publish completion events, to the bus the substitution names.
            assert!(
                loaded.task_resources().contains(&PUT_EVENTS.to_owned()),
                "{machine:?} publishes no event"
            );
            assert!(
                machine
                    .definition()
                    .contains("\"EventBusName\": \"${EventBusName}\"")
            );
        }
    }

    /// Every `ErrorEquals` name in `value` (any depth), with whether it is in a `Retry`.
    fn error_names(value: &serde_json::Value, in_retry: bool, out: &mut Vec<(String, bool)>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    if key == "ErrorEquals" {
                        for name in v.as_array().into_iter().flatten() {
                            out.push((name.as_str().unwrap_or("").to_owned(), in_retry));
                        }
                    } else {
                        error_names(v, in_retry || key == "Retry", out);
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for v in items {
                    error_names(v, in_retry, out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn the_state_machines_match_on_our_error_names_and_retry_only_retryable_ones() {
        use privatelink_core::ErrorName;
        // Names that come from Step Functions, Lambda or the EventBridge integration
        // (`EventBridge.FailedEntry`, …) rather than from our steps.
        let foreign = |name: &str| {
            name.starts_with("States.")
                || name.starts_with("Lambda.")
                || name.starts_with("Sandbox.")
                || name.starts_with("EventBridge.")
        };
        for machine in [Machine::Provision, Machine::Teardown] {
            let definition: serde_json::Value =
                serde_json::from_str(machine.definition()).expect("JSON");
            let mut names = Vec::new();
            error_names(&definition, false, &mut names);
            assert!(!names.is_empty(), "{machine:?}");
            for (name, retried) in names {
                if foreign(&name) {
                    continue;
                }
                let ours: ErrorName = name
                    .parse()
                    .unwrap_or_else(|_| panic!("{machine:?}: {name} is not an ErrorName"));
                assert!(
                    !retried || ours.is_retryable(),
                    "{machine:?} retries {name}, which ErrorName::is_retryable says is terminal"
                );
            }
        }
    }

    #[test]
    fn machines_are_found_by_name() {
        for machine in [Machine::Provision, Machine::Teardown] {
            assert_eq!(Machine::from_name(machine.name()), Some(machine));
        }
        assert_eq!(Machine::from_name("StateMachine"), None);
    }

    #[test]
    fn every_step_is_used_by_a_state_machine() {
        for step in Step::ALL {
            let placeholder = format!("${{{}}}", step.asl_placeholder());
            assert!(
                PROVISION.contains(&placeholder) || TEARDOWN.contains(&placeholder),
                "{step} is in the catalogue but no state machine calls {placeholder}"
            );
        }
    }
}
