//! Ports: the small interfaces the steps talk to, with the SDK adapters behind them.
//!
//! A step keeps every decision (adopt or create, the `created` flag, what goes into a call) in
//! a function generic over its ports, and its public entry point only builds the adapters from
//! the [`Context`](crate::context::Context). The decisions are then unit-tested against
//! in-memory fakes, in milliseconds and without moto; the adapters keep AWS's and Atlas's own
//! rules (eventual-consistency retries, error mapping, the Atlas client's retry policy) and
//! are tested against moto and the Atlas simulator.
//!
//! Ports are native async traits (no boxing, no `dyn`, no macro crate): steps take
//! `&impl Port`, and implementations write `async fn`. The trait spells its methods as
//! `fn … -> impl Future<…> + Send` only so that `Send` is part of the contract (see [`Ec2`]).

pub mod atlas;
pub mod claims;
pub mod ec2;
pub mod read_cache;
pub mod secrets;
pub mod shared_reads;

#[cfg(test)]
pub(crate) mod fake_atlas;
#[cfg(test)]
pub(crate) mod fake_claims;
#[cfg(test)]
pub(crate) mod fake_ec2;
#[cfg(test)]
pub(crate) mod fake_secrets;
#[cfg(test)]
pub(crate) mod fixture;

pub use atlas::{Atlas, HttpAtlas};
pub use claims::{Claims, DynamoClaims};
pub use ec2::{Ec2, SdkEc2};
pub use secrets::{SdkSecrets, Secrets};
