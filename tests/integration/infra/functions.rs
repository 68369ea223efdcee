//! The functions are the catalogue's steps and the dispatcher, all running the one binary of
//! `functions/lambdas` (built once by cargo-lambda: every function has the same `Metadata`),
//! each selected by its `ATLAS_PRIVATELINK_FUNCTION`, on the runtime, architecture and limits
//! the steps need, with exactly the timeout and environment its catalogue entry names. A
//! missing function or a forgotten setting would otherwise show only in a deployment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use integration_tests::tools::repo_root;
use serde_json::{Value, json};

use privatelink_core::steps::Step;
use privatelink_lambdas::{BINARY, FUNCTION_ENV, Function};

use super::{TEMPLATE, load_template, of_type, read, resource};

/// The effective value of a function property: its own, else the `Globals` one.
fn function_property<'a>(template: &'a Value, function: &'a Value, key: &str) -> &'a Value {
    let own = &function["Properties"][key];
    if own.is_null() {
        &template["Globals"]["Function"][key]
    } else {
        own
    }
}

/// `[package] name` and the `[[bin]]` names of a crate directory.
fn crate_binaries(dir: &Path) -> (String, BTreeSet<String>) {
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let manifest: Manifest =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let bins = manifest.bin.into_iter().map(|b| b.name).collect();
    (manifest.package.name, bins)
}

/// The parts of a Cargo manifest the checks need: the package name and `[[bin]]` names.
#[derive(serde::Deserialize)]
struct Manifest {
    package: NamedItem,
    #[serde(default)]
    bin: Vec<NamedItem>,
}

#[derive(serde::Deserialize)]
struct NamedItem {
    name: String,
}

/// The function's own environment variables plus the `Globals` ones.
fn environment(template: &Value, function: &Value) -> BTreeMap<String, Value> {
    let mut env: BTreeMap<String, Value> =
        template["Globals"]["Function"]["Environment"]["Variables"]
            .as_object()
            .map(|v| v.clone().into_iter().collect())
            .unwrap_or_default();
    if let Some(own) = function["Properties"]["Environment"]["Variables"].as_object() {
        env.extend(own.clone());
    }
    env
}

#[test]
fn every_function_runs_the_one_binary_built_once() {
    let template = load_template(TEMPLATE);
    let root = repo_root();
    let workspace = read("Cargo.toml");
    let (package, bins) = crate_binaries(&root.join("functions/lambdas"));
    assert_eq!(package, "privatelink-lambdas");
    assert_eq!(bins, BTreeSet::from([BINARY.to_owned()]));
    assert!(workspace.contains("\"functions/lambdas\""));
    let functions = of_type(&template, "AWS::Serverless::Function");
    let mut metadata = BTreeSet::new();
    for (name, function) in &functions {
        let at = |key: &str| function_property(&template, function, key);
        assert_eq!(at("Runtime"), "provided.al2023", "{name}");
        assert_eq!(at("Architectures"), &json!(["arm64"]), "{name}");
        assert_eq!(at("Handler"), "bootstrap", "{name}");
        let memory = at("MemorySize").as_u64().unwrap_or(128);
        assert!(
            (128..=1024).contains(&memory),
            "{name}: MemorySize {memory}"
        );
        assert_eq!(at("CodeUri"), "../functions/lambdas", "{name}");
        assert_eq!(
            function["Metadata"],
            json!({"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": BINARY}}),
            "{name}: every function has the same Metadata, so SAM builds the binary once"
        );
        metadata.insert(function["Metadata"].to_string());
        // The function the binary serves is the one the template names.
        let selected = environment(&template, function)
            .get(FUNCTION_ENV)
            .and_then(Value::as_str)
            .map(Function::parse)
            .unwrap_or_else(|| panic!("{name}: no {FUNCTION_ENV}"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected_name = match selected {
            Function::Step(step) => step.function_logical_id(),
            Function::Dispatcher => "DispatcherFunction".to_owned(),
        };
        assert_eq!(
            *name, expected_name,
            "{FUNCTION_ENV} names another function"
        );
    }
    assert_eq!(metadata.len(), 1);
    // One function per catalogue step, plus the dispatcher: nothing missing, nothing extra.
    let mut expected: BTreeSet<String> =
        Step::ALL.iter().map(|s| s.function_logical_id()).collect();
    expected.insert("DispatcherFunction".to_owned());
    let deployed: BTreeSet<String> = functions.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(deployed, expected);
}

#[test]
fn each_function_has_the_settings_its_catalogue_entry_names() {
    let template = load_template(TEMPLATE);
    for step in Step::ALL {
        let name = step.function_logical_id();
        let function = resource(&template, &name);
        let settings = step.settings();
        let timeout = function_property(&template, function, "Timeout")
            .as_u64()
            .unwrap_or(3);
        assert_eq!(
            timeout,
            u64::from(settings.timeout_seconds),
            "{name}: Timeout"
        );
        let env: BTreeSet<String> = environment(&template, function).into_keys().collect();
        let mut expected: BTreeSet<String> = settings
            .environment
            .iter()
            .map(|v| (*v).to_owned())
            .collect();
        expected.extend(["RUST_LOG".to_owned(), FUNCTION_ENV.to_owned()]);
        assert_eq!(env, expected, "{name}: environment variables");
    }
    let dispatcher = resource(&template, "DispatcherFunction");
    let env: BTreeSet<String> = environment(&template, dispatcher).into_keys().collect();
    let expected: BTreeSet<String> = [
        "RUST_LOG",
        FUNCTION_ENV,
        "PROVISION_STATE_MACHINE_ARN",
        "TEARDOWN_STATE_MACHINE_ARN",
        "VENDING_PROJECT_ID",
        "VENDING_CLUSTER_NAME",
        "VENDING_REGIONS",
        "VENDING_VPC_TAG_KEY",
        "VENDING_VPC_TAG_VALUE",
        "CROSS_ACCOUNT_ROLE_NAME",
        "DRIFT_REGIONS",
        "DRIFT_ACCOUNT_IDS",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(env, expected, "DispatcherFunction: environment variables");
}
