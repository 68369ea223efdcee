#![cfg(feature = "local-world")]
//! `atlas-privatelink plan --local` on the stack of `local up`: a fresh request lists a create
//! for every piece; after `run --local` it says "nothing to do".

mod common;

use common::{Down, cli, local_up};

#[test]
fn plan_lists_creates_then_nothing_to_do_after_a_run() {
    let (dir, env) = local_up("plan");
    let _down = Down(&dir);

    let fresh = cli(&dir, &["plan", "--local", "local-request.json"], &[]);
    let table = String::from_utf8_lossy(&fresh.stdout);
    assert!(
        fresh.status.success(),
        "plan: {table}{}",
        String::from_utf8_lossy(&fresh.stderr)
    );
    for resource in [
        "endpointService",
        "securityGroup",
        "ingressRule",
        "vpcEndpoint",
        "vpcEndpointSecurityGroup",
        "link",
        "secret",
    ] {
        assert!(
            table
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{resource} "))
                    && l.contains(" create ")),
            "no create for {resource}:\n{table}"
        );
    }
    assert!(!table.contains("nothing to do"), "{table}");
    let json = cli(
        &dir,
        &["plan", "--local", "--json", "local-request.json"],
        &[],
    );
    let inspection: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("plan --json prints JSON");
    assert_eq!(inspection["inSync"], false);

    let run = cli(
        &dir,
        &[
            "run",
            "--local",
            "local-request.json",
            "--time-scale",
            "200",
        ],
        &env,
    );
    assert!(
        run.status.success(),
        "run --local: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let after = cli(&dir, &["plan", "--local", "local-request.json"], &[]);
    let table = String::from_utf8_lossy(&after.stdout);
    assert!(after.status.success(), "plan: {table}");
    assert_eq!(table.lines().last(), Some("nothing to do"), "{table}");

    let down = cli(&dir, &["local", "down"], &[]);
    assert!(down.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
