#![cfg(feature = "local-world")]
//! The README's "Running it → Locally" sequence, as written: `local up` → `run --local` →
//! `teardown --local` → `local down`, with the binary a user runs.

mod common;

use common::{Down, cli, local_up};

#[test]
fn the_documented_local_sequence_works_as_written() {
    let (dir, env) = local_up("local");
    let _down = Down(&dir);
    for key in [
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "ATLAS_BASE_URL",
        "CLAIMS_TABLE",
    ] {
        assert!(env.iter().any(|(k, _)| k == key), "no {key} in {env:?}");
    }
    assert!(dir.join("local-request.json").exists());
    let status = cli(&dir, &["local", "status"], &[]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("running"));

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
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "run --local: {stderr}");
    let output: serde_json::Value =
        serde_json::from_slice(&run.stdout).expect("the execution output is JSON");
    assert!(output["secretName"].is_string(), "{output}");
    assert!(stderr.contains("-> LinkEndpoint"), "{stderr}");
    // The timeline counts from the execution's start, not from the stack's start-up (which
    // was seconds of real time ago: minutes at this time scale). Validate is entered a few
    // milliseconds of real time after the start, so up to a second or so at this scale on a
    // busy machine.
    assert!(
        stderr.contains("[      0.0s] execution started\n"),
        "{stderr}"
    );
    let validate_at: f64 = stderr
        .lines()
        .find(|l| l.ends_with("] -> Validate"))
        .and_then(|l| l.trim_start_matches('[').split('s').next())
        .and_then(|t| t.trim().parse().ok())
        .expect("a timed Validate line");
    assert!(validate_at < 30.0, "Validate at {validate_at} s: {stderr}");

    let teardown = cli(
        &dir,
        &[
            "teardown",
            "--local",
            "local-request.json",
            "--time-scale",
            "200",
        ],
        &env,
    );
    assert!(
        teardown.status.success(),
        "teardown --local: {}",
        String::from_utf8_lossy(&teardown.stderr)
    );
    let removed: serde_json::Value =
        serde_json::from_slice(&teardown.stdout).expect("the teardown output is JSON");
    assert_eq!(
        removed["removed"][0]["vpcEndpoints"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // A request of one's own, naming things the local world does not have: `local seed`
    // makes it runnable. Its second VPC is in a region without cluster nodes (cross-region).
    let own = serde_json::json!({
        "atlas": {"projectId": "0123456789abcdef01234567", "clusterName": "Orders",
                  "credentialsSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/atlas-api-AbCdEf"},
        "endpoints": [{"region": "us-east-1", "vpcTag": {"key": "Name", "value": "orders-vpc"}},
                      {"region": "us-west-2", "serviceRegion": "us-east-1",
                       "vpcTag": {"key": "Name", "value": "orders-west"}}],
        "secret": {"databaseUserSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/orders-user-AbCdEf"}
    });
    std::fs::write(dir.join("orders.json"), own.to_string()).expect("write request");
    let seeded = cli(&dir, &["local", "seed", "orders.json"], &[]);
    assert!(
        seeded.status.success(),
        "local seed: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&seeded.stdout).trim_end(),
        "orders.local.json"
    );
    let run = cli(
        &dir,
        &["run", "--local", "orders.local.json", "--time-scale", "200"],
        &env,
    );
    assert!(
        run.status.success(),
        "run --local on a seeded request: {}",
        String::from_utf8_lossy(&run.stderr)
    );

    let down = cli(&dir, &["local", "down"], &[]);
    assert!(down.status.success());
    assert!(!dir.join(".local/state.json").exists());
    let status = cli(&dir, &["local", "status"], &[]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("no local stack"));
    let _ = std::fs::remove_dir_all(&dir);
}
