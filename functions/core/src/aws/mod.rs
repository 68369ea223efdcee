//! AWS operations (EC2, Secrets Manager) and the clients for them, per account and region.

pub mod clients;
pub mod consistency;
pub mod ec2;
pub mod errors;
pub mod secrets;
