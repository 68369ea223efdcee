//! Ports: the small interfaces the steps talk to, with the SDK adapters behind them.
//!
//! A step keeps every decision (adopt or create, the `created` flag, what goes into a call) in
//! a function generic over its port, and its public entry point only builds the adapter from
//! the [`Context`](crate::context::Context). The decisions are then unit-tested against an
//! in-memory fake, in milliseconds and without moto; the adapters keep AWS's own rules
//! (eventual-consistency retries, error mapping) and are tested against moto.
//!
//! Ports are native async traits (no boxing, no `dyn`, no macro crate): steps take
//! `&impl Port`, and implementations write `async fn`. The trait spells its methods as
//! `fn … -> impl Future<…> + Send` only so that `Send` is part of the contract (see [`Ec2`]).

pub mod ec2;

#[cfg(test)]
pub(crate) mod fake_ec2;

pub use ec2::{Ec2, SdkEc2};
