//! The local world of atlas-privatelink, for the demo, the benchmark and the tests (never
//! linked into a Lambda function):
//!
//! * [`moto`]: the moto server (PyPI) that stores the AWS resources;
//! * [`front`]: the AWS front, which clients use as their AWS endpoint: it forwards to moto
//!   and applies the rules of AWS that moto does not follow ([`Realism`]);
//! * [`stack`]: [`DevStack`], the Atlas simulator and the front wired together on one clock;
//! * [`seed`]: what exists before a request arrives (a network, credentials, a database user);
//! * [`world`]: [`LocalWorld`], a stack seeded for a request (cluster, VPCs, credentials),
//!   and the [`Inventory`] of what the workflow left in AWS and Atlas;
//! * [`recorder`]: every AWS call each function makes, for the IAM test;
//! * [`events`]: the event tap, which reads back the completion events the state machines
//!   publish to EventBridge.
#![warn(missing_docs)]

pub mod events;
pub mod front;
pub mod moto;
pub mod realism;
pub mod recorder;
pub mod seed;
pub mod stack;
pub mod world;

pub use events::{EventTap, PublishedEvent};
pub use front::{AwsFront, AwsModels};
pub use moto::Moto;
pub use realism::{Acceptance, Realism};
pub use seed::{
    CLAIMS_TABLE, Network, SEEDED_ZONES, create_claims_table, create_credentials_secret,
    create_database_user_secret, create_network, create_network_in_zones, create_subnet,
};
pub use stack::DevStack;
pub use world::{Inventory, LocalWorld, WorldSpec};
