//! The `atlas-sim` binary's command line: `--help` exits 0 and documents how to drive the
//! simulator (its control endpoints and built-in credentials); bad arguments are refused.

use std::process::Command;

fn atlas_sim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_atlas-sim"))
        .args(args)
        .output()
        .expect("atlas-sim runs")
}

#[test]
fn help_documents_the_control_endpoints_and_the_built_in_credentials() {
    let out = atlas_sim(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--time-scale",
        "/__sim/scenario",
        "/__sim/faults",
        "/__sim/counters",
        "/__sim/state",
        "sim-client-id",
        "sim-client-secret",
        "simpublickey",
        "accessList",
        "regionalModeDefault",
        "remoteRegionsUpdate",
        "regionalModeToggle",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn bad_arguments_are_refused_naming_the_argument() {
    for (args, named) in [
        (&["--time-scale", "0"][..], "--time-scale"),
        (&["--port", "http"], "--port"),
        (&["--nonsense"], "--nonsense"),
    ] {
        let out = atlas_sim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}
