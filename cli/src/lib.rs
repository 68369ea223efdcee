//! The atlas-privatelink command line as a library: the state machines and their local
//! execution with the real step code, the live timeline, and the local stack (moto and the
//! Atlas simulator) behind the demo and the end-to-end tests.
#![warn(missing_docs)]

pub mod acceptance;
pub mod demo;
pub mod local;
pub mod local_stack;
pub mod machines;
pub mod timeline;
pub mod watch;
