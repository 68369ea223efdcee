//! The link gate: an interface endpoint linked while AWS is still creating the VPC endpoint
//! fails at once and is never accepted; once removed, the VPC endpoint can be linked again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use clock::Clock;
use reqwest::Method;
use serde_json::json;

use super::{Env, GROUP, start, vpce};
use crate::{ClusterSeed, LinkGate, Outcome, SimConfig};

/// The message of issue 590, as the AWS front would give it.
fn busy(vpce_id: &str) -> String {
    format!(
        "Failed to accept interface endpoint due to an unexpected error with code={{InvalidParameter}} \
         and message={{Cannot modify VPC Endpoint {vpce_id} at this time because there is an \
         idempotent operation going on}} from AWS API. Click 'Edit' to fix the problem."
    )
}

/// VPC endpoints AWS is still creating, each until a time; records every question.
#[derive(Debug, Default)]
struct CreatingUntil {
    until: Mutex<HashMap<String, SystemTime>>,
    asked: Mutex<Vec<String>>,
}

impl CreatingUntil {
    fn creating(&self, vpce_id: &str, until: SystemTime) {
        crate::shared::lock(&self.until).insert(vpce_id.to_owned(), until);
    }

    fn asked(&self) -> Vec<String> {
        crate::shared::lock(&self.asked).clone()
    }
}

impl LinkGate for CreatingUntil {
    fn admit(&self, vpce_id: &str, now: SystemTime) -> Result<(), String> {
        crate::shared::lock(&self.asked).push(vpce_id.to_owned());
        match crate::shared::lock(&self.until).get(vpce_id) {
            Some(until) if now < *until => Err(busy(vpce_id)),
            _ => Ok(()),
        }
    }
}

/// A simulator with default delays and `gate`.
async fn start_gated(gate: &Arc<CreatingUntil>) -> Env {
    start(SimConfig {
        link_gate: Some(gate.clone()),
        ..SimConfig::default()
    })
    .await
}

#[tokio::test]
async fn gate_refusal_fails_the_interface_at_once() {
    let gate = Arc::new(CreatingUntil::default());
    let env = start_gated(&gate).await;
    env.sim
        .seed_cluster(ClusterSeed::new(GROUP, "Cluster0", &["us-east-1"]))
        .expect("seeded");
    let id = env.ready_service("us-east-1").await;
    gate.creating(&vpce(1), env.clock.now() + Duration::from_secs(60));
    let linked = env.link(&id, &vpce(1)).await;
    assert_eq!(
        linked.status, 200,
        "Atlas takes the request: {}",
        linked.body
    );
    assert_eq!(linked.body["connectionStatus"], "FAILED");
    assert_eq!(linked.body["errorMessage"], busy(&vpce(1)));
    let view = env.sim.interface(&vpce(1)).expect("recorded");
    assert_eq!(view.connection_status, "FAILED");
    assert_eq!(view.error_message.as_deref(), Some(busy(&vpce(1)).as_str()));
    assert!(!view.accepted);
    // AWS finishing the endpoint later changes nothing: Atlas does not retry the acceptance.
    env.advance(600);
    let later = env.interface(Method::GET, &id, &vpce(1)).await;
    assert_eq!(later.body["connectionStatus"], "FAILED");
    assert_eq!(later.body["errorMessage"], busy(&vpce(1)));
    assert!(!env.sim.interface(&vpce(1)).is_some_and(|i| i.accepted));
    // No cluster update window: the cluster never goes UPDATING and gets no private string.
    let cluster = env.get_cluster("Cluster0").await;
    assert_eq!(cluster.body["stateName"], "IDLE");
    assert!(cluster.body["connectionStrings"]["privateEndpoint"].is_null());
    assert_eq!(env.sim.state()["settings"]["linkGate"], true);
}

#[tokio::test]
async fn gate_is_asked_only_for_links_atlas_would_make() {
    let gate = Arc::new(CreatingUntil::default());
    let env = start_gated(&gate).await;
    let created = env.create_service("us-east-1").await;
    let id = created.body["id"].as_str().unwrap_or("").to_owned();
    let early = env.link(&id, &vpce(1)).await;
    assert_eq!(
        (early.status, early.code()),
        (400, "PRIVATE_ENDPOINT_SERVICE_NOT_READY")
    );
    assert!(gate.asked().is_empty());
    env.advance(150);
    let linked = env.link(&id, &vpce(1)).await;
    assert_eq!(linked.body["connectionStatus"], "PENDING_ACCEPTANCE");
    assert_eq!(env.link(&id, &vpce(1)).await.status, 409);
    assert_eq!(gate.asked(), vec![vpce(1)]);
}

#[tokio::test]
async fn accepted_follows_the_aws_side() {
    let env = start(SimConfig::default()).await;
    env.sim.set_outcome(Outcome::InterfaceRejected {
        vpce_id: Some(vpce(2)),
    });
    env.sim.set_outcome(Outcome::InterfaceFailed {
        vpce_id: Some(vpce(3)),
    });
    let id = env.ready_service("us-east-1").await;
    for n in 1..=4 {
        assert_eq!(env.link(&id, &vpce(n)).await.status, 200);
    }
    let accepted = |n: u64| env.sim.interface(&vpce(n)).is_some_and(|i| i.accepted);
    assert!(!accepted(1), "PENDING_ACCEPTANCE is not accepted yet");
    // vpce 4 is removed before Atlas accepts it; a removal never counts as acceptance.
    env.advance(10);
    assert_eq!(
        env.interface(Method::DELETE, &id, &vpce(4)).await.status,
        204
    );
    env.advance(20);
    assert!(accepted(1), "PENDING");
    assert!(!accepted(2), "REJECTED");
    assert!(accepted(3), "accepted, fails later");
    env.advance(90);
    assert_eq!(
        env.sim.interface(&vpce(3)).map(|i| i.connection_status),
        Some("FAILED".to_owned())
    );
    assert!(accepted(3), "a later failure does not undo the acceptance");
    assert!(accepted(1), "AVAILABLE");
    assert_eq!(env.sim.interface(&vpce(4)), None);
    assert_eq!(env.sim.state()["interfaces"][0]["accepted"], json!(true));
}

#[tokio::test]
async fn refused_endpoint_can_be_linked_again_once_removed() {
    let gate = Arc::new(CreatingUntil::default());
    let env = start_gated(&gate).await;
    let id = env.ready_service("us-east-1").await;
    // Another endpoint keeps the service alive through the removal.
    assert_eq!(env.link(&id, &vpce(2)).await.status, 200);
    gate.creating(&vpce(1), env.clock.now() + Duration::from_secs(5));
    assert_eq!(
        env.link(&id, &vpce(1)).await.body["connectionStatus"],
        "FAILED"
    );
    let delete = env.interface(Method::DELETE, &id, &vpce(1)).await;
    assert_eq!(delete.status, 204);
    assert_eq!(
        env.interface(Method::GET, &id, &vpce(1)).await.body["connectionStatus"],
        "DELETING"
    );
    env.advance(10);
    let while_deleting = env.link(&id, &vpce(1)).await;
    assert_eq!(
        (while_deleting.status, while_deleting.code()),
        (409, "PRIVATE_ENDPOINT_ALREADY_EXISTS")
    );
    env.advance(10);
    assert_eq!(env.interface(Method::GET, &id, &vpce(1)).await.status, 404);
    let relinked = env.link(&id, &vpce(1)).await;
    assert_eq!(relinked.status, 200, "{}", relinked.body);
    assert_eq!(relinked.body["connectionStatus"], "PENDING_ACCEPTANCE");
    assert!(relinked.body.get("errorMessage").is_none());
    env.advance(120);
    let view = env.sim.interface(&vpce(1)).expect("linked again");
    assert_eq!(
        (view.connection_status.as_str(), view.accepted),
        ("AVAILABLE", true)
    );
}

#[tokio::test]
async fn removing_the_only_refused_endpoint_removes_the_service() {
    let gate = Arc::new(CreatingUntil::default());
    let env = start_gated(&gate).await;
    let id = env.ready_service("us-east-1").await;
    gate.creating(&vpce(1), env.clock.now() + Duration::from_secs(5));
    assert_eq!(
        env.link(&id, &vpce(1)).await.body["connectionStatus"],
        "FAILED"
    );
    assert_eq!(
        env.interface(Method::DELETE, &id, &vpce(1)).await.status,
        204
    );
    env.advance(20);
    // The last interface endpoint is gone, and the service with it (the documented rule).
    let old = env.link(&id, &vpce(1)).await;
    assert_eq!(
        (old.status, old.code()),
        (404, "PRIVATE_ENDPOINT_SERVICE_NOT_FOUND")
    );
    assert!(env.sim.services(GROUP).is_empty());
    let again = env.ready_service("us-east-1").await;
    let relinked = env.link(&again, &vpce(1)).await;
    assert_eq!(relinked.body["connectionStatus"], "PENDING_ACCEPTANCE");
}
