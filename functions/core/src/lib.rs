//! The workflow steps of atlas-privatelink: everything a Lambda step does between parsing its
//! event and mapping its error.
//!
//! * [`request`]: the execution input ([`ProvisionRequest`]) and its offline validation, which
//!   runs before anything is created; every error names the JSON path of the field at fault.
//! * [`steps`]: the workflow steps and their catalogue ([`steps::Step`]).
//! * [`state`]: the JSON documents the steps pass each other through Step Functions.
//! * [`aws`], [`context`], [`settings`]: AWS operations, the clients shared by warm
//!   invocations, and what a function reads from its environment.
//! * [`error`]: [`ErrorName`], the error names the Step Functions state machine matches on in
//!   `Retry` and `Catch`, and [`StepError`], the error every step returns.
#![warn(missing_docs)]

pub mod aws;
pub mod context;
pub mod error;
pub mod ports;
pub mod request;
pub mod settings;
pub mod state;
pub mod steps;

pub use error::{ErrorName, StepError};
pub use request::{ProvisionRequest, parse_request};
