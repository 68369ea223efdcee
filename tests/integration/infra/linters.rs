//! The real tools on the templates (aws-sam-cli and cfn-lint from PyPI, in `$TOOLS_DIR/venv`,
//! installed by `scripts/install-tools.sh`):
//! - `sam validate --lint` on the SAM template;
//! - the SAM transform, done offline by samtranslator (`infra/tools/sam_transform.py`), then
//!   cfn-lint on the plain CloudFormation it gives, and on the target-account template: both
//!   `sam validate --lint` and cfn-lint check `AWS::Serverless::*` resources only against the SAM
//!   schema, so what SAM generates (IAM action names, the state machine definitions with their
//!   substitutions) is checked only after the transform.
//!
//! Without the tools these tests say so and pass, except under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use integration_tests::tools::{repo_root, require_tools, run_with_limit, tools_dir};
use serde_json::Value;

use super::{TARGET_TEMPLATE, TEMPLATE, of_type, wildcard_actions};

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
