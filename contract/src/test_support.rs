//! Test fixtures shared by the unit tests of several modules: the real spec (loaded once, with
//! the CI rule), made-up specs, the Atlas paths and media types the tests use, and assertions
//! that print every violation when they fail.

use std::sync::OnceLock;

use crate::error::ContractError;
use crate::model::Contract;
use crate::violation::Violation;

pub(crate) const G: &str = "32b6e34b3d91647abb20e7b8";
pub(crate) const SID: &str = "5f4d3c2b1a0f9e8d7c6b5a49";
pub(crate) const VPCE: &str = "vpce-0123456789abcdef0";
pub(crate) const V2023: &str = "application/vnd.atlas.2023-01-01+json";
pub(crate) const V2024: &str = "application/vnd.atlas.2024-08-05+json";
pub(crate) const JSON: &str = "application/json";

/// The real spec, loaded once; `None` (skip) when it is absent outside CI.
pub(crate) fn contract() -> Option<&'static Contract> {
    static CONTRACT: OnceLock<Option<Contract>> = OnceLock::new();
    CONTRACT
        .get_or_init(|| match Contract::locate() {
            Some(path) => match Contract::load(&path) {
                Ok(contract) => Some(contract),
                Err(e) => panic!("the spec at {} does not load: {e}", path.display()),
            },
            None => {
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!(
                        "the Atlas OpenAPI spec was not found (set ATLAS_OPENAPI_SPEC or put it at \
                         ../shared/atlas/openapi-privatelink.yaml); under CI=true it is required"
                    );
                }
                None
            }
        })
        .as_ref()
        .or_else(|| {
            println!("spec not found, skipping");
            None
        })
}

pub(crate) fn services() -> String {
    format!("/api/atlas/v2/groups/{G}/privateEndpoint/endpointService")
}
pub(crate) fn aws_services() -> String {
    format!("/api/atlas/v2/groups/{G}/privateEndpoint/AWS/endpointService")
}
pub(crate) fn service() -> String {
    format!("{}/{SID}", aws_services())
}
pub(crate) fn endpoints() -> String {
    format!("{}/endpoint", service())
}
pub(crate) fn cluster() -> String {
    format!("/api/atlas/v2/groups/{G}/clusters/Cluster0")
}

pub(crate) fn messages(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("\n  {v}")).collect()
}
pub(crate) fn assert_ok(violations: Vec<Violation>) {
    assert!(
        violations.is_empty(),
        "unexpected violations:{}",
        messages(&violations)
    );
}
pub(crate) fn assert_violates(violations: Vec<Violation>, needle: &str) {
    assert!(
        violations.iter().any(|v| v.message.contains(needle)),
        "expected a violation mentioning `{needle}`, got:{}",
        messages(&violations)
    );
}

/// A made-up spec (not MongoDB's), written to a temporary file.
pub(crate) fn synthetic(name: &str, yaml: &str) -> Result<Contract, ContractError> {
    let path = std::env::temp_dir().join(format!(
        "openapi-contract-{}-{name}.yaml",
        std::process::id()
    ));
    std::fs::write(&path, yaml).expect("write the synthetic spec");
    let loaded = Contract::load(&path);
    let _ = std::fs::remove_file(&path);
    loaded
}
