//! How created records turn out: the scripted [`Outcome`]s, the [`ReadyStatus`] a ready
//! service shows, and the [`LinkGate`] that may refuse a link on the AWS side.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Decides, when Atlas is asked to link a VPC endpoint, whether Atlas can accept it on the AWS
/// side now.
///
/// Real Atlas accepts the link request (200) and then fails to accept the endpoint on the AWS
/// side when AWS is still creating it: the interface endpoint goes `FAILED` with an
/// `errorMessage` such as "Failed to accept interface endpoint due to an unexpected error with
/// code={InvalidParameter} and message={Cannot modify VPC Endpoint vpce-… at this time because
/// there is an idempotent operation going on} from AWS API.", and the AWS endpoint stays
/// `pendingAcceptance` (terraform-provider-mongodbatlas issue 590). The simulator cannot know
/// the AWS side, so it asks whoever simulates AWS.
///
/// The gate is called while the simulator holds its state locked: it must answer from its own
/// state and never call back into the simulator.
pub trait LinkGate: Send + Sync + std::fmt::Debug {
    /// `Ok(())`: the link proceeds as usual. `Err(message)`: the link is recorded, but FAILED
    /// at once with `message` as its `errorMessage`; Atlas never accepted it on the AWS side.
    fn admit(&self, vpce_id: &str, now: SystemTime) -> Result<(), String>;
}

/// The status a ready endpoint service shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReadyStatus {
    /// `AVAILABLE` (what AWS services show).
    #[default]
    Available,
    /// `WAITING_FOR_USER`.
    WaitingForUser,
}

impl ReadyStatus {
    /// Atlas's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadyStatus::Available => "AVAILABLE",
            ReadyStatus::WaitingForUser => "WAITING_FOR_USER",
        }
    }
}

/// A scripted outcome. It applies to services created, or interfaces linked, after it is set,
/// and stays until the outcomes are replaced or the simulator is reset.
///
/// JSON: `{"kind":"serviceFailed","region":"us-east-1","message":"…"}`,
/// `{"kind":"interfaceRejected","vpceId":"vpce-…"}` (no `vpceId`: every interface),
/// `{"kind":"interfaceFailed"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Outcome {
    /// The service for `region` (either spelling) ends `FAILED` instead of `AVAILABLE`.
    ServiceFailed {
        /// Region, `us-east-1` or `US_EAST_1`.
        region: String,
        /// The `errorMessage` to show; a default one if absent.
        #[serde(default)]
        message: Option<String>,
    },
    /// The interface (or every interface) is `REJECTED` after the pending delay.
    InterfaceRejected {
        /// Which interface; `None` for all.
        #[serde(default)]
        vpce_id: Option<String>,
    },
    /// The interface (or every interface) is `FAILED` instead of `AVAILABLE`.
    InterfaceFailed {
        /// Which interface; `None` for all.
        #[serde(default)]
        vpce_id: Option<String>,
    },
}
