//! The atlas-privatelink command line as a library: the state machines and their local
//! execution with the real step code, the live timeline, and the demo and the realism and
//! fault scenarios on the local world (`devstack`).
#![warn(missing_docs)]

#[cfg(feature = "local-world")]
pub mod demo;
pub mod local;
#[cfg(feature = "local-world")]
pub mod localstack;
pub mod machines;
pub mod plan;
#[cfg(feature = "local-world")]
pub mod scenarios;
pub mod timeline;
pub mod watch;
