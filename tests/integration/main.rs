//! Integration and end-to-end tests, in one binary (one link of the AWS SDK, not one per file).

mod atlas_client;
mod conformance;
mod cross_region;
mod dispatch;
mod e2e;
mod events;
mod iam;
mod infra;
mod inspect;
mod layout;
mod realism;
mod remote_regions;
mod scenarios;
mod service_regions;
mod shared_reads;
mod steps;
mod sweep;
