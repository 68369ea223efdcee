//! `atlas-privatelink scenarios --all`: every realism and fault scenario, end to end on the
//! local world, ends as expected, leaves nothing behind and makes nothing twice.

use atlas_privatelink::scenarios::{self, Row};

/// The ids issue 10 requires, besides one `crash-after-<step>` per step.
const REQUIRED: [&str; 19] = [
    "eventual-consistency",
    "client-token-reprovision",
    "rollback-reprovision",
    "unsupported-az",
    "link-while-pending",
    "link-failed-busy-relinked",
    "link-failed",
    "access-list-denied",
    "execution-name-reuse",
    "vending-account-late",
    "secret-aba",
    "shared-cluster-teardown",
    "largest-request",
    "racing-executions",
    "duplicate-event",
    "assume-role-denied",
    "atlas-429-storm",
    "atlas-5xx",
    "service-answer-lost",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_ends_as_expected_and_leaves_nothing() {
    let rows = scenarios::run_all(true, |_| {})
        .await
        .expect("the scenarios run");
    let table = scenarios::table(&rows);
    // Every endpoint step and the store, from the catalogue (not from the scenarios' own list).
    let crash_ids = privatelink_core::steps::Step::ENDPOINT
        .into_iter()
        .chain([privatelink_core::steps::Step::StoreConnectionStrings])
        .map(|step| format!("crash-after-{step}"));
    for id in REQUIRED.map(str::to_owned).into_iter().chain(crash_ids) {
        assert!(rows.iter().any(|r| r.id == id), "no row {id}\n{table}");
    }
    assert!(rows.iter().all(Row::passed), "rows differ:\n{table}");
}
