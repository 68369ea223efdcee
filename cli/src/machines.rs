//! The state machine definitions (the very files in `statemachine/`, compiled in) and the
//! substitutions that stand in for the deployed Lambda ARNs when they run locally.

use std::collections::HashMap;

use asl_runner::{DefinitionErrors, StateMachine, load_definition};

/// `statemachine/provision.asl.json`.
pub const PROVISION: &str = include_str!("../../statemachine/provision.asl.json");
/// `statemachine/teardown.asl.json`.
pub const TEARDOWN: &str = include_str!("../../statemachine/teardown.asl.json");

/// Each `${…FunctionArn}` substitution and the step its function runs.
pub const FUNCTIONS: [(&str, &str); 11] = [
    ("ValidateFunctionArn", "validate"),
    (
        "EnsureEndpointServiceFunctionArn",
        "ensure-endpoint-service",
    ),
    ("GetServiceNameFunctionArn", "get-service-name"),
    (
        "ConfigureSecurityGroupsFunctionArn",
        "configure-security-groups",
    ),
    ("CreateVpcEndpointFunctionArn", "create-vpc-endpoint"),
    ("LinkEndpointFunctionArn", "link-endpoint"),
    ("VerifyEndpointFunctionArn", "verify-endpoint"),
    (
        "StoreConnectionStringsFunctionArn",
        "store-connection-strings",
    ),
    ("RollbackFunctionArn", "rollback"),
    ("TeardownEndpointFunctionArn", "teardown-endpoint"),
    ("TeardownSecretFunctionArn", "teardown-secret"),
];

/// Prefix of the local stand-in function ARNs.
const LOCAL_ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:000000000000:function:atlas-privatelink-";

/// Substitutions naming a local stand-in ARN for every function.
pub fn local_substitutions() -> HashMap<String, String> {
    FUNCTIONS
        .iter()
        .map(|(var, step)| ((*var).to_owned(), format!("{LOCAL_ARN_PREFIX}{step}")))
        .collect()
}

/// The step a local stand-in ARN runs.
pub fn step_of(resource: &str) -> Option<&str> {
    resource
        .strip_prefix(LOCAL_ARN_PREFIX)
        .filter(|step| privatelink_core::steps::STEP_NAMES.contains(step))
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
                assert!(step_of(&resource).is_some(), "{machine:?}: {resource}");
            }
        }
    }

    #[test]
    fn every_step_has_a_function_and_every_substitution_is_used() {
        for step in privatelink_core::steps::STEP_NAMES {
            assert!(FUNCTIONS.iter().any(|(_, s)| *s == step), "{step}");
        }
        for (var, _) in FUNCTIONS {
            let placeholder = format!("${{{var}}}");
            assert!(
                PROVISION.contains(&placeholder) || TEARDOWN.contains(&placeholder),
                "{var} is substituted but never used"
            );
        }
    }
}
