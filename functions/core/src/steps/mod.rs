//! The workflow steps. Each takes the execution state it needs and returns what it found or
//! made; each is idempotent (re-running it after a crash at any point creates nothing twice).
//!
//! [`Step`] (the catalogue) names every step and runs it: the Lambda entry point and the local
//! runner both call [`Step::run`], so what runs locally is what runs in AWS.

mod catalogue;
mod inspect;
mod link;
mod naming;
pub mod poll;
mod remote_regions;
mod rollback;
mod security_groups;
mod service;
mod store;
mod teardown;
mod validate;
mod vpc_endpoint;
mod work;

pub use catalogue::{FunctionSettings, Input, Step, run_step};
pub use inspect::{
    Action, Check, CheckName, EndpointInspection, Inspection, Item, Resource, SecretInspection,
    inspect,
};
pub use link::{link_endpoint, verify_endpoint};
pub use naming::{execution_name, request_key, vpc_endpoint_client_token};
pub use rollback::rollback;
pub use security_groups::configure_security_groups;
pub use service::{ensure_endpoint_service, get_service_name};
pub use store::{SecretTarget, secret_content, store_connection_strings, write_secret_to};
pub use teardown::{teardown_endpoint, teardown_secret};
pub use validate::validate;
pub use vpc_endpoint::create_vpc_endpoint;
pub(crate) use work::{atlas_error, needs, plan, region_clients, resource_tags};
