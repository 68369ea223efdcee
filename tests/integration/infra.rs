//! Offline checks of the deployment: `infra/template.yaml` (SAM), `infra/target-account-role.yaml`
//! (plain CloudFormation), the state machine files they deploy, and `examples/`.
//!
//! With the real tools (aws-sam-cli and cfn-lint from PyPI, in `$TOOLS_DIR/venv`, installed by
//! `scripts/install-tools.sh`):
//! - `sam validate --lint` on the SAM template;
//! - the SAM transform, done offline by samtranslator (`infra/tools/sam_transform.py`), then
//!   cfn-lint on the plain CloudFormation it gives, and on the target-account template: both
//!   `sam validate --lint` and cfn-lint check `AWS::Serverless::*` resources only against the SAM
//!   schema, so what SAM generates (IAM action names, the state machine definitions with their
//!   substitutions) is checked only after the transform.
//!
//! Without tools (always run):
//! - every `${…}` of both ASL files is in that state machine's `DefinitionSubstitutions`, every
//!   substitution is used, and each names the function built from the matching binary;
//! - no IAM statement anywhere has a wildcard action, and each role's permissions are exactly the
//!   AWS calls its function makes (`functions/core/src/aws`), each with the resource and
//!   condition limits it should have (tags on EC2 writes, the secret-name prefix, the role name);
//! - one role per function and per state machine; functions are the workspace's binaries;
//! - the EventBridge rules' patterns match the example events and not near misses (a small
//!   EventBridge matcher: exact values and nested objects, which is all our patterns use);
//! - the example requests are valid requests.
//!
//! Without the tools the tool-based tests say so and pass, except under `CI=true`, where that
//! is a failure. Nothing here uses the network.

use integration_tests::tools::{repo_root, require_tools, run_with_limit, tools_dir};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Files and tools

fn venv_bin(name: &str) -> PathBuf {
    tools_dir().join("venv/bin").join(name)
}

/// Runs `command` from the repository root, offline (no telemetry, no region lookups),
/// failing the test after `limit`. Returns (exit success, stdout + stderr).
fn run(mut command: Command, limit: Duration) -> (bool, String) {
    command
        .current_dir(repo_root())
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_DEFAULT_REGION", "us-east-1");
    let (success, stdout, stderr) = run_with_limit(command, b"", limit);
    (success, stdout + &stderr)
}

/// The first lines of a tool's output, each cut short (cfn-lint lists every valid IAM action
/// of a service when one is misspelled).
fn excerpt(output: &str) -> String {
    output
        .lines()
        .take(80)
        .map(|line| {
            if line.chars().count() > 400 {
                format!("{}…", line.chars().take(400).collect::<String>())
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

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

/// The effective value of a function property: its own, else the `Globals` one.
fn function_property<'a>(template: &'a Value, function: &'a Value, key: &str) -> &'a Value {
    let own = &function["Properties"][key];
    if own.is_null() {
        &template["Globals"]["Function"][key]
    } else {
        own
    }
}

// ---------------------------------------------------------------------------------------------
// The tools

#[test]
fn sam_validate_lint_accepts_the_template() {
    let sam = venv_bin("sam");
    if require_tools("sam validate --lint", std::slice::from_ref(&sam)).is_none() {
        return;
    }
    let mut command = Command::new(&sam);
    command.args(["validate", "--lint", "--template", TEMPLATE]);
    let (ok, output) = run(command, Duration::from_secs(300));
    assert!(
        ok,
        "sam validate --lint {TEMPLATE} failed:\n{}",
        excerpt(&output)
    );
    assert!(
        output.contains("is a valid SAM Template"),
        "unexpected sam output:\n{}",
        excerpt(&output)
    );
}

#[test]
fn cfn_lint_accepts_the_templates_after_the_sam_transform() {
    let (python, cfn_lint) = (venv_bin("python"), venv_bin("cfn-lint"));
    if require_tools(
        "SAM transform + cfn-lint",
        &[python.clone(), cfn_lint.clone()],
    )
    .is_none()
    {
        return;
    }
    let transformed = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("infra-transformed-{}.json", std::process::id()));
    let mut command = Command::new(&python);
    command
        .arg("infra/tools/sam_transform.py")
        .arg(TEMPLATE)
        .arg(&transformed);
    let (ok, output) = run(command, Duration::from_secs(120));
    assert!(
        ok,
        "the SAM transform of {TEMPLATE} failed:\n{}",
        excerpt(&output)
    );

    let mut command = Command::new(&cfn_lint);
    command.arg(&transformed).arg(TARGET_TEMPLATE);
    let (ok, output) = run(command, Duration::from_secs(300));
    assert!(
        ok,
        "cfn-lint found problems in {TEMPLATE} after the SAM transform ({}) or in \
         {TARGET_TEMPLATE}:\n{}",
        transformed.display(),
        excerpt(&output)
    );

    // What SAM generated holds no wildcard action either, and the state machines carry their
    // real definitions (inlined from the ASL files), which cfn-lint has now checked.
    let cfn: Value = serde_json::from_str(&std::fs::read_to_string(&transformed).expect("output"))
        .expect("the transform writes JSON");
    let (count, bad) = wildcard_actions(&cfn);
    assert!(
        count > 30,
        "only {count} IAM statements in the transformed template"
    );
    assert!(
        bad.is_empty(),
        "wildcard actions after the transform: {bad:#?}"
    );
    let machines = of_type(&cfn, "AWS::StepFunctions::StateMachine");
    assert_eq!(machines.len(), 2, "two state machines after the transform");
    for (name, machine) in machines {
        let definition = &machine["Properties"]["Definition"];
        assert!(
            definition["StartAt"].is_string(),
            "{name}: the transformed state machine has no inline Definition"
        );
        assert_eq!(
            machine["Properties"]["StateMachineType"], "STANDARD",
            "{name}"
        );
    }
    let _ = std::fs::remove_file(&transformed);
}

// ---------------------------------------------------------------------------------------------
// State machines and functions

/// `EnsureEndpointService` → `ensure-endpoint-service`.
fn kebab(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

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
        // `XxxFunctionArn` is the ARN of `XxxFunction`, built from the binary `xxx`.
        for (key, value) in substitutions {
            let stem = key
                .strip_suffix("FunctionArn")
                .unwrap_or_else(|| panic!("{name}: substitution {key} is not a …FunctionArn"));
            assert_eq!(
                value,
                &json!({"Fn::GetAtt": [format!("{stem}Function"), "Arn"]}),
                "{name}: {key}"
            );
            let function = resource(&template, &format!("{stem}Function"));
            assert_eq!(
                function["Type"], "AWS::Serverless::Function",
                "{stem}Function"
            );
            assert_eq!(
                function["Metadata"]["BuildProperties"]["Binary"],
                kebab(stem),
                "{key} must name the function built from the binary {}",
                kebab(stem)
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
    assert_eq!(kebab("EnsureEndpointService"), "ensure-endpoint-service");
}

/// `[package] name` and the `[[bin]]`/`src/bin` binaries of a crate directory.
fn crate_binaries(dir: &Path) -> (String, BTreeSet<String>) {
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let manifest: Manifest =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut bins: BTreeSet<String> = manifest.bin.into_iter().map(|b| b.name).collect();
    if let Ok(entries) = std::fs::read_dir(dir.join("src/bin")) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "rs") {
                bins.insert(
                    path.file_stem()
                        .expect("stem")
                        .to_string_lossy()
                        .into_owned(),
                );
            } else if path.join("main.rs").exists() {
                bins.insert(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    if dir.join("src/main.rs").exists() {
        bins.insert(manifest.package.name.clone());
    }
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

#[test]
fn functions_are_the_workspace_binaries_built_by_cargo_lambda() {
    let template = load_template(TEMPLATE);
    let root = repo_root();
    let workspace = read("Cargo.toml");
    let functions = of_type(&template, "AWS::Serverless::Function");
    let mut built: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, function) in &functions {
        let at = |key: &str| function_property(&template, function, key);
        assert_eq!(at("Runtime"), "provided.al2023", "{name}");
        assert_eq!(at("Architectures"), &json!(["arm64"]), "{name}");
        assert_eq!(at("Handler"), "bootstrap", "{name}");
        let timeout = at("Timeout").as_u64().unwrap_or(3);
        let memory = at("MemorySize").as_u64().unwrap_or(128);
        assert!(
            (128..=1024).contains(&memory),
            "{name}: MemorySize {memory}"
        );
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{name}"
        );
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no Metadata.BuildProperties.Binary"));
        if binary != "dispatcher" {
            // Steps wait up to ~90 s in bounded Atlas retries.
            assert!(timeout >= 120, "{name}: Timeout {timeout} s is below 120 s");
        }
        let code = function["Properties"]["CodeUri"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: CodeUri is not a path"));
        let crate_dir = root.join("infra").join(code);
        let member = code.trim_start_matches("../");
        assert!(
            workspace.contains(&format!("\"{member}\"")),
            "{name}: CodeUri {code} is not a member of the Cargo workspace"
        );
        let (package, bins) = crate_binaries(&crate_dir);
        assert!(
            bins.contains(binary),
            "{name}: crate {package} ({code}) has no binary {binary}; it has {bins:?}"
        );
        built
            .entry(code.to_owned())
            .or_default()
            .insert(binary.to_owned());
    }
    // Every step binary is deployed, and the dispatcher is the one of its crate.
    let (package, step_bins) = crate_binaries(&root.join("functions/lambdas"));
    assert_eq!(package, "privatelink-lambdas");
    assert_eq!(
        built.get("../functions/lambdas"),
        Some(&step_bins),
        "every binary of functions/lambdas is a function, and only those"
    );
    let (package, _) = crate_binaries(&root.join("functions/dispatcher"));
    assert_eq!(package, "privatelink-dispatcher");
    assert_eq!(
        built.get("../functions/dispatcher"),
        Some(&BTreeSet::from(["dispatcher".to_owned()]))
    );

    // The settings each function reads from its environment.
    for (name, function) in &functions {
        let mut env: BTreeSet<&str> = function["Properties"]["Environment"]["Variables"]
            .as_object()
            .map(|v| v.keys().map(String::as_str).collect())
            .unwrap_or_default();
        env.extend(
            template["Globals"]["Function"]["Environment"]["Variables"]
                .as_object()
                .map(|v| v.keys().map(String::as_str).collect::<Vec<_>>())
                .unwrap_or_default(),
        );
        let expected: BTreeSet<&str> = if *name == "DispatcherFunction" {
            BTreeSet::from([
                "RUST_LOG",
                "PROVISION_STATE_MACHINE_ARN",
                "VENDING_PROJECT_ID",
                "VENDING_CLUSTER_NAME",
                "VENDING_REGIONS",
                "VENDING_VPC_TAG_KEY",
                "VENDING_VPC_TAG_VALUE",
                "CROSS_ACCOUNT_ROLE_NAME",
            ])
        } else {
            let mut vars = BTreeSet::from([
                "RUST_LOG",
                "ATLAS_CREDENTIALS_SECRET_ARN",
                "SECRET_RECOVERY_DAYS",
            ]);
            // The polling settings, on the functions that read them.
            const POLLING: [&str; 3] = [
                "POLL_BUDGET_SECONDS",
                "ATLAS_POLL_SECONDS",
                "ATLAS_POLL_MAX_SECONDS",
            ];
            match *name {
                "ValidateFunction" => vars.extend([
                    "SECRET_NAME_PREFIX",
                    "CROSS_ACCOUNT_ROLE_NAME",
                    "KMS_KEY_ARN",
                ]),
                "EnsureEndpointServiceFunction" => {
                    vars.extend(["SERVICE_MIN_SECONDS", "CLAIMS_TABLE"])
                }
                "RollbackFunction" | "TeardownEndpointFunction" => vars.extend(["CLAIMS_TABLE"]),
                "LinkEndpointFunction" => vars.extend([
                    "INTERFACE_MIN_SECONDS",
                    "POLL_BUDGET_SECONDS",
                    "EC2_POLL_SECONDS",
                ]),
                "GetServiceNameFunction" | "StoreConnectionStringsFunction" => vars.extend(POLLING),
                "VerifyEndpointFunction" => {
                    vars.extend(POLLING);
                    vars.extend([
                        "EC2_POLL_SECONDS",
                        "ATLAS_SLOW_POLL_SECONDS",
                        "CLUSTER_UPDATE_MIN_SECONDS",
                    ]);
                }
                _ => {}
            }
            vars
        };
        assert_eq!(env, expected, "{name}: environment variables");
    }
}

#[test]
fn every_log_group_has_a_retention_and_every_function_its_own() {
    let template = load_template(TEMPLATE);
    let groups = of_type(&template, "AWS::Logs::LogGroup");
    for (name, group) in &groups {
        assert_eq!(
            group["Properties"]["RetentionInDays"],
            json!({"Ref": "LogRetentionDays"}),
            "{name}: RetentionInDays"
        );
    }
    let mut used = BTreeSet::new();
    for (name, function) in of_type(&template, "AWS::Serverless::Function") {
        let group = target_of(&function["Properties"]["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{name}: LoggingConfig.LogGroup is not a !Ref"));
        assert_eq!(
            resource(&template, group)["Type"],
            "AWS::Logs::LogGroup",
            "{name}"
        );
        assert!(
            used.insert(group.to_owned()),
            "{name} shares log group {group}"
        );
    }
    for (name, machine) in of_type(&template, "AWS::Serverless::StateMachine") {
        let logging = &machine["Properties"]["Logging"];
        assert!(logging["Level"].is_string(), "{name}: Logging.Level");
        let arn = &logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"];
        let group = target_of(arn).unwrap_or_else(|| panic!("{name}: log group ARN"));
        assert_eq!(
            resource(&template, group)["Type"],
            "AWS::Logs::LogGroup",
            "{name}"
        );
        assert!(
            used.insert(group.to_owned()),
            "{name} shares log group {group}"
        );
    }
    assert_eq!(used.len(), groups.len(), "every log group is used");
}

// ---------------------------------------------------------------------------------------------
// IAM

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

/// Every role: whom it serves (a function or a state machine), and the actions it may take.
/// These are the AWS calls each step makes (functions/core/src/aws/*.rs, steps/*.rs):
/// a change of calls needs a change here, so a widened policy never passes unnoticed.
fn expected_actions() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    const LOGS: [&str; 2] = ["logs:CreateLogStream", "logs:PutLogEvents"];
    // ctx.atlas(): the Atlas credentials secret, perhaps under a customer KMS key.
    const ATLAS: [&str; 2] = ["secretsmanager:GetSecretValue", "kms:Decrypt"];
    const ASSUME: &str = "sts:AssumeRole";
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
    const XRAY: [&str; 4] = [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    ];
    let set = |parts: &[&[&'static str]]| -> BTreeSet<&'static str> {
        parts.iter().flat_map(|p| p.iter().copied()).collect()
    };
    BTreeMap::from([
        (
            "ValidateRole",
            set(&[
                &LOGS,
                &ATLAS,
                &[
                    "ec2:DescribeVpcs",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                ],
                &[ASSUME],
            ]),
        ),
        (
            "EnsureEndpointServiceRole",
            set(&[
                &LOGS,
                &ATLAS,
                &[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                ],
            ]),
        ),
        ("GetServiceNameRole", set(&[&LOGS, &ATLAS])),
        (
            "ConfigureSecurityGroupsRole",
            set(&[
                &LOGS,
                &[
                    "ec2:DescribeSecurityGroups",
                    "ec2:CreateSecurityGroup",
                    "ec2:CreateTags",
                    "ec2:AuthorizeSecurityGroupIngress",
                ],
                &[ASSUME],
            ]),
        ),
        (
            "CreateVpcEndpointRole",
            set(&[
                &LOGS,
                &[
                    "ec2:DescribeVpcEndpoints",
                    "ec2:DescribeVpcEndpointServices",
                    "ec2:DescribeSubnets",
                    "ec2:CreateVpcEndpoint",
                    "ec2:CreateTags",
                ],
                &[ASSUME],
            ]),
        ),
        (
            "LinkEndpointRole",
            set(&[&LOGS, &ATLAS, &["ec2:DescribeVpcEndpoints"], &[ASSUME]]),
        ),
        (
            "VerifyEndpointRole",
            set(&[&LOGS, &ATLAS, &["ec2:DescribeVpcEndpoints"], &[ASSUME]]),
        ),
        (
            "StoreConnectionStringsRole",
            set(&[
                &LOGS,
                &ATLAS,
                &[
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:CreateSecret",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:RestoreSecret",
                    "secretsmanager:TagResource",
                    "kms:GenerateDataKey",
                ],
                &[ASSUME],
            ]),
        ),
        (
            "RollbackRole",
            set(&[
                &LOGS,
                &ATLAS,
                &[
                    "ec2:DescribeVpcEndpoints",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DeleteVpcEndpoints",
                    "ec2:DeleteSecurityGroup",
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:DeleteSecret",
                    "dynamodb:GetItem",
                    "dynamodb:DeleteItem",
                ],
                &[ASSUME],
            ]),
        ),
        (
            "TeardownEndpointRole",
            set(&[
                &LOGS,
                &ATLAS,
                &[
                    "ec2:DescribeVpcEndpoints",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DeleteVpcEndpoints",
                    "ec2:DeleteSecurityGroup",
                    "dynamodb:DeleteItem",
                ],
                &[ASSUME],
            ]),
        ),
        (
            "TeardownSecretRole",
            set(&[
                &LOGS,
                &[
                    "secretsmanager:DeleteSecret",
                    "secretsmanager:DescribeSecret",
                ],
                &[ASSUME],
            ]),
        ),
        (
            "DispatcherRole",
            set(&[
                &LOGS,
                &[
                    "states:StartExecution",
                    "states:DescribeExecution",
                    "sqs:SendMessage",
                ],
            ]),
        ),
        (
            "ProvisionStateMachineRole",
            set(&[&["lambda:InvokeFunction"], &STATES_LOGS, &XRAY]),
        ),
        (
            "TeardownStateMachineRole",
            set(&[&["lambda:InvokeFunction"], &STATES_LOGS, &XRAY]),
        ),
    ])
}

#[test]
fn each_function_and_state_machine_has_its_own_role() {
    let template = load_template(TEMPLATE);
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let users = of_type(&template, "AWS::Serverless::Function")
        .into_iter()
        .chain(of_type(&template, "AWS::Serverless::StateMachine"));
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
    let expected: BTreeSet<String> = expected_actions().keys().map(|k| k.to_string()).collect();
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
            .get(role.as_str())
            .unwrap_or_else(|| panic!("{role}: not in expected_actions()"));
        assert_eq!(&allowed, want, "{role}: allowed actions");
    }
}

/// Secrets Manager actions that change a secret.
const SECRET_WRITES: [&str; 6] = [
    "secretsmanager:CreateSecret",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecret",
    "secretsmanager:RestoreSecret",
    "secretsmanager:DeleteSecret",
    "secretsmanager:TagResource",
];

/// Actions that may have `Resource: "*"`: EC2's Describe calls and the account-level calls of
/// Step Functions log delivery and X-Ray, none of which supports resource-level permissions.
const UNSCOPABLE: [&str; 17] = [
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcEndpointServices",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
];

const SECRETS_BELOW_PREFIX: &str =
    "arn:${AWS::Partition}:secretsmanager:*:${AWS::AccountId}:secret:${SecretNamePrefix}*";

/// Why `statement` is broader than it should be, if it is. `own_log_group` is the log group of
/// the function the role serves.
fn least_privilege_faults(statement: &Statement, own_log_group: Option<&str>) -> Vec<String> {
    let mut faults = Vec::new();
    if !statement.allow {
        return faults;
    }
    let condition = &statement.condition;
    let tagged_request =
        condition["Null"]["aws:RequestTag/atlas-privatelink:request-key"] == "false";
    let tagged_resource =
        condition["Null"]["ec2:ResourceTag/atlas-privatelink:request-key"] == "false";
    let mut fault = |what: String| faults.push(format!("{}: {what}", statement.at));
    for action in &statement.actions {
        let action = action.as_str();
        for resource in &statement.resources {
            let resource = resource.as_str();
            if resource == "*" {
                if !UNSCOPABLE.contains(&action) {
                    fault(format!("{action} on \"*\""));
                }
                continue;
            }
            let ec2 = |kind: &str| {
                resource == format!("arn:${{AWS::Partition}}:ec2:*:${{AWS::AccountId}}:{kind}/*")
            };
            let ok = match action {
                "logs:CreateLogStream" | "logs:PutLogEvents" => {
                    own_log_group.is_some_and(|g| resource == format!("${{{g}.Arn}}"))
                }
                "secretsmanager:GetSecretValue" => {
                    resource == "${AtlasCredentialsSecretArn}" || resource == SECRETS_BELOW_PREFIX
                }
                "secretsmanager:DescribeSecret" => resource == SECRETS_BELOW_PREFIX,
                a if SECRET_WRITES.contains(&a) => {
                    resource == SECRETS_BELOW_PREFIX
                        && (a != "secretsmanager:CreateSecret"
                            || condition["Null"]["aws:RequestTag/atlas-privatelink:created-by"]
                                == "false")
                }
                "kms:Decrypt" | "kms:GenerateDataKey" => {
                    resource == "${KmsKeyArn}"
                        && condition["StringLike"]["kms:ViaService"]
                            == "secretsmanager.*.amazonaws.com"
                }
                "sts:AssumeRole" => {
                    resource == "arn:${AWS::Partition}:iam::*:role/${CrossAccountRoleName}"
                }
                "ec2:CreateSecurityGroup" => {
                    ec2("vpc") || (ec2("security-group") && tagged_request)
                }
                "ec2:CreateVpcEndpoint" => {
                    ec2("vpc")
                        || ec2("subnet")
                        || ec2("security-group")
                        || resource == "arn:${AWS::Partition}:ec2:*:*:vpc-endpoint-service/*"
                        || (ec2("vpc-endpoint") && tagged_request)
                }
                "ec2:CreateTags" => {
                    (ec2("security-group") || ec2("vpc-endpoint"))
                        && !strings(&condition["StringEquals"]["ec2:CreateAction"]).is_empty()
                }
                "ec2:AuthorizeSecurityGroupIngress" => {
                    (ec2("security-group") && tagged_resource) || ec2("security-group-rule")
                }
                "ec2:DeleteSecurityGroup" => ec2("security-group") && tagged_resource,
                "ec2:DeleteVpcEndpoints" => ec2("vpc-endpoint") && tagged_resource,
                "lambda:InvokeFunction" => {
                    resource.starts_with("${") && resource.ends_with("Function.Arn}")
                }
                "states:StartExecution" => resource == "${ProvisionStateMachine}",
                "dynamodb:GetItem"
                | "dynamodb:PutItem"
                | "dynamodb:UpdateItem"
                | "dynamodb:DeleteItem" => {
                    resource
                        == "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ClaimsTable}"
                }
                "states:DescribeExecution" => {
                    resource
                        == "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${ProvisionStateMachine.Name}:*"
                }
                "sqs:SendMessage" => resource == "${DispatchDeadLetterQueue.Arn}",
                _ => false,
            };
            if !ok {
                fault(format!(
                    "{action} on {resource} with condition {condition} is broader than the \
                     least-privilege rule for it (or has none: add one here)"
                ));
            }
        }
    }
    faults
}

#[test]
fn permissions_are_limited_by_resource_tag_and_name() {
    let template = load_template(TEMPLATE);
    // The log group of the function (or state machine) each role serves.
    let mut log_group_of_role: BTreeMap<String, String> = BTreeMap::new();
    for (_, function) in of_type(&template, "AWS::Serverless::Function") {
        let props = &function["Properties"];
        if let (Some(role), Some(group)) = (
            target_of(&props["Role"]),
            target_of(&props["LoggingConfig"]["LogGroup"]),
        ) {
            log_group_of_role.insert(role.to_owned(), group.to_owned());
        }
    }
    let mut faults = Vec::new();
    for (role, statements) in role_statements(&template) {
        for statement in &statements {
            faults.extend(least_privilege_faults(
                statement,
                log_group_of_role.get(&role).map(String::as_str),
            ));
        }
    }
    let target = load_template(TARGET_TEMPLATE);
    for statements in role_statements(&target).values() {
        for statement in statements {
            faults.extend(least_privilege_faults(statement, None));
        }
    }
    assert!(faults.is_empty(), "{faults:#?}");

    // The Atlas credentials secret is read-only wherever secrets are written.
    for (role, statements) in role_statements(&template) {
        let writes = statements.iter().any(|s| {
            s.allow
                && s.actions
                    .iter()
                    .any(|a| SECRET_WRITES.contains(&a.as_str()))
        });
        if writes {
            let guarded = statements.iter().any(|s| {
                !s.allow
                    && s.resources == ["${AtlasCredentialsSecretArn}"]
                    && SECRET_WRITES
                        .iter()
                        .filter(|w| **w != "secretsmanager:CreateSecret")
                        .all(|w| s.actions.iter().any(|a| a == w))
            });
            assert!(
                guarded,
                "{role} writes secrets but does not deny writing the Atlas credentials"
            );
        }
    }

    // The checker itself: an untagged EC2 delete, a secret write outside the prefix.
    let loose = Statement {
        at: "sample".into(),
        allow: true,
        actions: vec![
            "ec2:DeleteVpcEndpoints".into(),
            "secretsmanager:PutSecretValue".into(),
        ],
        resources: vec![
            "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:vpc-endpoint/*".into(),
            "arn:${AWS::Partition}:secretsmanager:*:${AWS::AccountId}:secret:*".into(),
        ],
        condition: Value::Null,
    };
    assert_eq!(least_privilege_faults(&loose, None).len(), 4);
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
            .values()
            .map(render)
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
    }
}

// ---------------------------------------------------------------------------------------------
// EventBridge

/// Whether `event` matches an EventBridge `pattern`, for the parts of the pattern language our
/// rules use: arrays of exact values (a match when the event's value, or one of the values of
/// an event array, is in the list) and nested objects. A pattern using anything else (`prefix`,
/// `anything-but`, `exists`, numeric ranges, …) panics rather than being half-understood.
fn matches(pattern: &Value, event: &Value) -> bool {
    let pattern = pattern
        .as_object()
        .unwrap_or_else(|| panic!("a pattern is an object: {pattern}"));
    pattern.iter().all(|(key, expected)| {
        let Some(actual) = event.get(key) else {
            return false;
        };
        match expected {
            Value::Object(_) => actual.is_object() && matches(expected, actual),
            Value::Array(values) => {
                if let Some(filter) = values.iter().find(|v| v.is_object() || v.is_array()) {
                    panic!("content filter {filter} in the pattern is not supported here");
                }
                match actual {
                    Value::Array(items) => items.iter().any(|item| values.contains(item)),
                    Value::Object(_) => false,
                    scalar => values.contains(scalar),
                }
            }
            other => {
                panic!("pattern value {other} for {key}: EventBridge wants an array or an object")
            }
        }
    })
}

#[test]
fn the_matcher_follows_eventbridge() {
    let pattern = json!({"source": ["a", "b"], "detail": {"x": ["1"], "y": [true]}});
    assert!(matches(
        &pattern,
        &json!({"source": "a", "detail": {"x": "1", "y": true, "z": 0}})
    ));
    assert!(matches(
        &pattern,
        &json!({"source": "b", "detail": {"x": ["0", "1"], "y": [true]}})
    ));
    assert!(!matches(
        &pattern,
        &json!({"source": "c", "detail": {"x": "1", "y": true}})
    ));
    assert!(!matches(
        &pattern,
        &json!({"source": "a", "detail": {"x": "1"}})
    ));
    assert!(!matches(
        &pattern,
        &json!({"source": "a", "detail": {"x": {"1": 1}, "y": true}})
    ));
    assert!(!matches(&pattern, &json!({"source": "a", "detail": "x"})));
    assert!(!matches(&pattern, &json!({"source": "a"})));
    let unsupported = std::panic::catch_unwind(|| {
        matches(
            &json!({"source": [{"prefix": "a"}]}),
            &json!({"source": "ab"}),
        )
    });
    assert!(
        unsupported.is_err(),
        "content filters are refused, not ignored"
    );
}

/// A copy of `event` with the value at `pointer` replaced (or removed, for `None`).
fn with(event: &Value, pointer: &str, value: Option<Value>) -> Value {
    let mut copy = event.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    let parent = copy
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {parent}"));
    assert!(parent.contains_key(key), "the example has {pointer}");
    match value {
        Some(v) => parent.insert(key.to_owned(), v),
        None => parent.remove(key),
    };
    copy
}

#[test]
fn event_rules_match_the_example_events_and_not_near_misses() {
    let template = load_template(TEMPLATE);
    let request_rule = resource(&template, "PrivateEndpointRequestedRule");
    let tower_rule = resource(&template, "ControlTowerAccountCreatedRule");
    let request_pattern = &request_rule["Properties"]["EventPattern"];
    let tower_pattern = &tower_rule["Properties"]["EventPattern"];
    let request_event = read_json("examples/eventbridge-event.json");
    let tower_event = read_json("examples/control-tower-event.json");

    assert!(
        matches(request_pattern, &request_event),
        "the request rule misses examples/eventbridge-event.json"
    );
    assert!(
        matches(tower_pattern, &tower_event),
        "the Control Tower rule misses examples/control-tower-event.json"
    );
    assert!(!matches(request_pattern, &tower_event));
    assert!(!matches(tower_pattern, &request_event));

    let request_misses = [
        (
            "another detail-type",
            with(
                &request_event,
                "/detail-type",
                Some(json!("PrivateEndpointRemoved")),
            ),
        ),
        (
            "detail-type in another case",
            with(
                &request_event,
                "/detail-type",
                Some(json!("privateendpointrequested")),
            ),
        ),
        (
            "another source",
            with(
                &request_event,
                "/source",
                Some(json!("atlas-privatelink.test")),
            ),
        ),
        ("no source", with(&request_event, "/source", None)),
    ];
    for (what, event) in &request_misses {
        assert!(
            !matches(request_pattern, event),
            "the request rule matches {what}"
        );
    }
    let status = "/detail/serviceEventDetails/createManagedAccountStatus";
    let tower_misses = [
        (
            "state FAILED",
            with(
                &tower_event,
                &format!("{status}/state"),
                Some(json!("FAILED")),
            ),
        ),
        (
            "state IN_PROGRESS",
            with(
                &tower_event,
                &format!("{status}/state"),
                Some(json!("IN_PROGRESS")),
            ),
        ),
        (
            "UpdateManagedAccount",
            with(
                &tower_event,
                "/detail/eventName",
                Some(json!("UpdateManagedAccount")),
            ),
        ),
        (
            "an API call, not a service event",
            with(
                &tower_event,
                "/detail-type",
                Some(json!("AWS API Call via CloudTrail")),
            ),
        ),
        (
            "another source",
            with(&tower_event, "/source", Some(json!("aws.organizations"))),
        ),
        ("no status", with(&tower_event, status, None)),
    ];
    for (what, event) in &tower_misses {
        assert!(
            !matches(tower_pattern, event),
            "the Control Tower rule matches {what}"
        );
    }

    // Both rules invoke the dispatcher, which lets EventBridge do so for exactly these rules.
    for (rule_name, rule) in [
        ("PrivateEndpointRequestedRule", request_rule),
        ("ControlTowerAccountCreatedRule", tower_rule),
    ] {
        let targets = rule["Properties"]["Targets"].as_array().expect("Targets");
        assert_eq!(targets.len(), 1, "{rule_name}: one target");
        assert_eq!(
            target_of(&targets[0]["Arn"]),
            Some("DispatcherFunction"),
            "{rule_name}"
        );
        assert!(
            targets[0]["DeadLetterConfig"]["Arn"].is_object(),
            "{rule_name}: dead-letter queue"
        );
        let permitted = of_type(&template, "AWS::Lambda::Permission")
            .into_iter()
            .any(|(_, permission)| {
                let p = &permission["Properties"];
                p["Action"] == "lambda:InvokeFunction"
                    && p["Principal"] == "events.amazonaws.com"
                    && target_of(&p["FunctionName"]) == Some("DispatcherFunction")
                    && p["SourceArn"] == json!({"Fn::GetAtt": [rule_name, "Arn"]})
                    // Created exactly when the rule is.
                    && permission.get("Condition") == rule.get("Condition")
            });
        assert!(
            permitted,
            "{rule_name}: no Lambda permission for EventBridge from this rule"
        );
    }
}

#[test]
fn example_requests_are_valid_requests() {
    let console = read_json("examples/console-input.json");
    privatelink_core::parse_request(&console)
        .unwrap_or_else(|e| panic!("examples/console-input.json: {}", e.message));
    let event = read_json("examples/eventbridge-event.json");
    privatelink_core::parse_request(&event["detail"])
        .unwrap_or_else(|e| panic!("examples/eventbridge-event.json detail: {}", e.message));
    let tower = read_json("examples/control-tower-event.json");
    let account = &tower["detail"]["serviceEventDetails"]["createManagedAccountStatus"]["account"];
    let id = account["accountId"].as_str().expect("accountId");
    assert!(
        id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()),
        "accountId {id}"
    );
    assert!(account["accountName"].is_string());
}

#[test]
fn parameters_outputs_and_alarm_are_in_place() {
    let template = load_template(TEMPLATE);
    let parameters: BTreeSet<&str> = template["Parameters"]
        .as_object()
        .expect("Parameters")
        .keys()
        .map(String::as_str)
        .collect();
    for wanted in [
        "AtlasCredentialsSecretArn",
        "KmsKeyArn",
        "CrossAccountRoleName",
        "VpcTagKey",
        "VpcTagValue",
        "SecretNamePrefix",
        "VendingAtlasProjectId",
        "VendingClusterName",
        "VendingRegions",
        "LogRetentionDays",
    ] {
        assert!(parameters.contains(wanted), "parameter {wanted}");
    }
    assert_eq!(template["Parameters"]["KmsKeyArn"]["Default"], "");
    assert_eq!(
        template["Parameters"]["SecretNamePrefix"]["Default"],
        "atlas/"
    );
    assert!(template["Conditions"]["HasKmsKey"].is_object());
    let outputs = template["Outputs"].as_object().expect("Outputs");
    for (output, value) in [
        (
            "ProvisionStateMachineArn",
            json!({"Ref": "ProvisionStateMachine"}),
        ),
        (
            "TeardownStateMachineArn",
            json!({"Ref": "TeardownStateMachine"}),
        ),
        (
            "PrivateEndpointRequestedRuleName",
            json!({"Ref": "PrivateEndpointRequestedRule"}),
        ),
        (
            "ControlTowerAccountCreatedRuleName",
            json!({"Ref": "ControlTowerAccountCreatedRule"}),
        ),
        (
            "DispatcherFunctionName",
            json!({"Ref": "DispatcherFunction"}),
        ),
    ] {
        assert_eq!(
            outputs.get(output).map(|o| &o["Value"]),
            Some(&value),
            "output {output}"
        );
    }
    let alarmed = of_type(&template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .any(|(_, a)| {
            let p = &a["Properties"];
            p["Namespace"] == "AWS/States"
                && p["MetricName"] == "ExecutionsFailed"
                && p["Dimensions"][0]["Value"] == json!({"Ref": "ProvisionStateMachine"})
        });
    assert!(
        alarmed,
        "an alarm on the provision state machine's ExecutionsFailed"
    );
}

#[test]
fn functions_in_vpc_subnets_get_only_the_network_interface_actions() {
    let template = load_template(TEMPLATE);
    // The functions run in the given subnets only when LambdaSubnetIds is set.
    let vpc = &template["Globals"]["Function"]["VpcConfig"];
    assert_eq!(vpc["Fn::If"][0], json!("InVpc"), "{vpc}");
    assert_eq!(vpc["Fn::If"][2], json!({"Ref": "AWS::NoValue"}), "{vpc}");
    let policy = resource(&template, "LambdaVpcAccessPolicy");
    assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy");
    assert_eq!(policy["Condition"], "InVpc");
    let statements = flatten(&policy["Properties"]["PolicyDocument"]["Statement"]);
    assert_eq!(statements.len(), 1);
    let actions: BTreeSet<String> = flatten(&statements[0]["Action"])
        .into_iter()
        .map(render)
        .collect();
    assert_eq!(
        actions,
        BTreeSet::from(
            [
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ]
            .map(String::from)
        )
    );
    // Every function's role, and no state machine's.
    let attached: BTreeSet<String> = flatten(&policy["Properties"]["Roles"])
        .into_iter()
        .filter_map(|r| target_of(r).map(str::to_owned))
        .collect();
    let function_roles: BTreeSet<String> = of_type(&template, "AWS::Serverless::Function")
        .into_iter()
        .filter_map(|(_, f)| target_of(&f["Properties"]["Role"]).map(str::to_owned))
        .collect();
    assert_eq!(attached, function_roles);
}
