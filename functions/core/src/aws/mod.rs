//! AWS operations (EC2, Secrets Manager, the claims table in DynamoDB) and the clients for them, per account and region.

pub mod claims;
pub mod clients;
pub mod consistency;
pub mod ec2;
pub mod errors;
pub mod secrets;
