//! The Atlas client against the simulator: both auth schemes, token reuse, throttling, faults,
//! conflicts, and no secret in any log line. Every exchange is checked against the spec.

use std::time::Duration;

use atlas_api::models::{ClusterState, ConnectionStatus, ServiceStatus};
use atlas_api::{ClientConfig, Credentials, RetryPolicy, Secret};
use atlas_sim::{ClusterSeed, Fault};
use clock::Clock;
use integration_tests::{AtlasHarness, SECRET_VALUES, api_key, capture_logs, service_account};

const GROUP: &str = "5f0c0c0c0c0c0c0c0c0c0c0c";
const VPCE: &str = "vpce-0123456789abcdef0";

/// Provisions a service and links an endpoint, checking each state on the way.
async fn full_lifecycle(h: &AtlasHarness, credentials: Credentials) {
    let client = h.client(credentials);
    let created = client
        .create_endpoint_service(GROUP, "us-east-1")
        .await
        .expect("create");
    assert_eq!(created.status, ServiceStatus::Initiating);
    assert_eq!(created.endpoint_service_name, None);

    let listed = client.list_endpoint_services(GROUP).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, created.id);

    h.clock.sleep(Duration::from_secs(151)).await;
    let ready = client
        .get_endpoint_service(GROUP, &created.id)
        .await
        .expect("get");
    assert_eq!(ready.status, ServiceStatus::Available);
    let name = ready
        .endpoint_service_name
        .expect("service name once available");
    assert!(
        name.starts_with("com.amazonaws.vpce.us-east-1.vpce-svc-"),
        "{name}"
    );

    let linked = client
        .create_interface_endpoint(GROUP, &created.id, VPCE)
        .await
        .expect("link");
    assert_eq!(
        linked.connection_status,
        ConnectionStatus::PendingAcceptance
    );
    h.clock.sleep(Duration::from_secs(300)).await;
    let available = client
        .get_interface_endpoint(GROUP, &created.id, VPCE)
        .await
        .expect("get interface");
    assert_eq!(available.connection_status, ConnectionStatus::Available);

    client
        .delete_interface_endpoint(GROUP, &created.id, VPCE)
        .await
        .expect("unlink");
    h.clock.sleep(Duration::from_secs(600)).await;
    let after = client.list_endpoint_services(GROUP).await.expect("list");
    assert!(
        after.is_empty(),
        "the last interface took the service with it: {after:?}"
    );
    h.assert_contract_clean();
}

#[tokio::test]
async fn service_account_full_lifecycle() {
    let h = AtlasHarness::default_sim().await;
    full_lifecycle(&h, service_account()).await;
}

#[tokio::test]
async fn api_key_digest_full_lifecycle() {
    let h = AtlasHarness::default_sim().await;
    full_lifecycle(&h, api_key()).await;
    assert!(
        h.sim.counters().digest_challenges >= 1,
        "a real challenge was answered"
    );
}

#[tokio::test]
async fn wrong_credentials_are_auth_failures() {
    let h = AtlasHarness::default_sim().await;
    let wrong_secret = Credentials::ServiceAccount {
        client_id: "sim-client-id".into(),
        client_secret: Secret::new("not-the-secret"),
    };
    let wrong_key = Credentials::ApiKey {
        public_key: "simpublickey".into(),
        private_key: Secret::new("not-the-key"),
    };
    let unknown_key = Credentials::ApiKey {
        public_key: "nobody".into(),
        private_key: Secret::new("x"),
    };
    for creds in [wrong_secret, wrong_key, unknown_key] {
        let err = h
            .client(creds.clone())
            .list_endpoint_services(GROUP)
            .await
            .expect_err("must be refused");
        assert_eq!(err.error_name(), "AtlasAuthFailed", "{creds:?}: {err}");
        assert!(
            !err.to_string().contains("not-the"),
            "secret in error: {err}"
        );
    }
    h.assert_contract_clean();
}

#[tokio::test]
async fn one_token_serves_many_calls_and_is_refreshed_before_expiry() {
    let h = AtlasHarness::default_sim().await;
    let client = h.client(service_account());
    for _ in 0..25 {
        client.list_endpoint_services(GROUP).await.expect("list");
    }
    assert_eq!(h.sim.counters().tokens_issued, 1, "25 calls, one token");
    assert_eq!(h.sim.counters().requests("listEndpointServices"), 25);

    // 56 minutes on: inside the refresh margin of a one-hour token, so a new one is fetched
    // before the old one can expire in flight.
    h.clock.sleep(Duration::from_secs(56 * 60)).await;
    client.list_endpoint_services(GROUP).await.expect("list");
    assert_eq!(h.sim.counters().tokens_issued, 2);
    h.assert_contract_clean();
}

#[tokio::test]
async fn concurrent_calls_share_one_token_fetch() {
    let h = AtlasHarness::default_sim().await;
    let client = h.client(service_account());
    let calls = (0..10).map(|_| client.list_endpoint_services(GROUP));
    for result in futures::future::join_all(calls).await {
        result.expect("list");
    }
    assert_eq!(h.sim.counters().tokens_issued, 1);
}

#[tokio::test]
async fn rate_limited_call_waits_retry_after_then_succeeds() {
    let h = AtlasHarness::default_sim().await;
    let client = h.client(service_account());
    client.list_endpoint_services(GROUP).await.expect("warm-up");
    h.sim
        .inject(Fault::rate_limited("listEndpointServices", Some(7)));
    let before = h.clock.now();
    client.list_endpoint_services(GROUP).await.expect("retried");
    let waited = h.clock.since(before);
    assert!(waited >= Duration::from_secs(7), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(9), "waited {waited:?}");
    assert_eq!(h.sim.counters().rate_limited, 1);
    h.assert_contract_clean();
}

#[tokio::test]
async fn rate_limit_storm_ends_in_named_error_within_budget() {
    let h = AtlasHarness::default_sim().await;
    let policy = RetryPolicy::default();
    let client = h.client(service_account());
    client.list_endpoint_services(GROUP).await.expect("warm-up");
    h.sim
        .inject(Fault::rate_limited("listEndpointServices", Some(5)).times(1000));
    let before = h.clock.now();
    let err = client
        .list_endpoint_services(GROUP)
        .await
        .expect_err("storm");
    assert_eq!(err.error_name(), "AtlasRateLimited", "{err}");
    assert!(
        h.clock.since(before) <= policy.max_total_wait,
        "budget respected"
    );
    assert_eq!(
        h.sim.counters().rate_limited,
        u64::from(policy.max_attempts),
        "one attempt per budgeted try"
    );
}

#[tokio::test]
async fn rate_limit_without_retry_after_backs_off() {
    let h = AtlasHarness::default_sim().await;
    let client = h.client(api_key());
    h.sim
        .inject(Fault::rate_limited("getCluster", None).times(2));
    h.sim
        .seed_cluster(ClusterSeed::new(GROUP, "Cluster0", &["US_EAST_1"]))
        .expect("seed");
    let before = h.clock.now();
    let cluster = client
        .get_cluster(GROUP, "Cluster0")
        .await
        .expect("retried");
    assert_eq!(cluster.state_name, ClusterState::Idle);
    assert!(
        h.clock.since(before) >= Duration::from_millis(500),
        "backed off"
    );
    h.assert_contract_clean();
}

#[tokio::test]
async fn server_errors_are_retried_then_named() {
    let h = AtlasHarness::default_sim().await;
    let client = h.client(service_account());
    h.sim
        .inject(Fault::error("listEndpointServices", 503).times(2));
    client
        .list_endpoint_services(GROUP)
        .await
        .expect("rode out two 503s");
    h.sim
        .inject(Fault::error("listEndpointServices", 500).times(1000));
    let err = client
        .list_endpoint_services(GROUP)
        .await
        .expect_err("persistent 500");
    assert_eq!(err.error_name(), "AtlasUnavailable", "{err}");
}

#[tokio::test]
async fn slow_response_times_out_and_is_retried() {
    let h = AtlasHarness::default_sim().await;
    let config = ClientConfig {
        request_timeout: Duration::from_millis(300),
        ..h.client_config()
    };
    let client = h.client_with(service_account(), config);
    client.list_endpoint_services(GROUP).await.expect("warm-up");
    h.sim.inject(Fault::slow(
        "listEndpointServices",
        Duration::from_millis(1500),
    ));
    client
        .list_endpoint_services(GROUP)
        .await
        .expect("the retry after the timeout succeeds");
    assert_eq!(h.sim.counters().requests("listEndpointServices"), 3);
}

#[tokio::test]
async fn region_conflict_is_recognised() {
    let h = AtlasHarness::default_sim().await;
    let client = h.client(service_account());
    client
        .create_endpoint_service(GROUP, "eu-west-1")
        .await
        .expect("first");
    let err = client
        .create_endpoint_service(GROUP, "EU_WEST_1")
        .await
        .expect_err("second in the same region");
    assert!(err.is_service_already_exists_for_region(), "{err}");
    h.assert_contract_clean();
}

#[tokio::test]
async fn missing_resources_are_not_found_and_deletes_are_idempotent() {
    let h = AtlasHarness::default_sim().await;
    let client = h.client(service_account());
    let missing = "0123456789abcdef01234567";
    let err = client
        .get_endpoint_service(GROUP, missing)
        .await
        .expect_err("unknown service");
    assert!(err.is_not_found(), "{err}");
    client
        .delete_endpoint_service(GROUP, missing)
        .await
        .expect("deleting what is gone is fine");
    h.assert_contract_clean();
}

#[tokio::test]
async fn private_strings_appear_once_the_cluster_is_idle_again() {
    let h = AtlasHarness::default_sim().await;
    h.sim
        .seed_cluster(ClusterSeed::new(GROUP, "Cluster0", &["US_EAST_1"]))
        .expect("seed");
    let client = h.client(service_account());
    let service = client
        .create_endpoint_service(GROUP, "us-east-1")
        .await
        .expect("create");
    h.clock.sleep(Duration::from_secs(200)).await;
    client
        .create_interface_endpoint(GROUP, &service.id, VPCE)
        .await
        .expect("link");
    let early = client
        .get_cluster(GROUP, "Cluster0")
        .await
        .expect("cluster");
    assert!(early.private_endpoint_strings().is_empty());
    h.clock.sleep(Duration::from_secs(3600)).await;
    let late = client
        .get_cluster(GROUP, "Cluster0")
        .await
        .expect("cluster");
    assert_eq!(late.state_name, ClusterState::Idle);
    let sets = late.private_endpoint_strings();
    assert_eq!(sets.len(), 1, "{late:?}");
    assert!(sets[0].srv_connection_string.is_some());
    assert_eq!(sets[0].endpoints[0].endpoint_id.as_deref(), Some(VPCE));
    h.assert_contract_clean();
}

#[test]
fn logs_never_contain_secrets_or_tokens() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (guard, logs) = capture_logs();
    runtime.block_on(async {
        let h = AtlasHarness::default_sim().await;
        full_lifecycle(&h, service_account()).await;
        full_lifecycle(&h, api_key()).await;
        let wrong = Credentials::ServiceAccount {
            client_id: "sim-client-id".into(),
            client_secret: Secret::new("sim-client-secret-but-wrong"),
        };
        let _ = h.client(wrong).list_endpoint_services(GROUP).await;
    });
    drop(guard);
    let text = logs.text();
    assert!(
        text.contains("fetched a service account token"),
        "logs were captured"
    );
    assert!(
        text.contains("createEndpointService"),
        "operations are logged"
    );
    for secret in SECRET_VALUES {
        assert!(!text.contains(secret), "secret {secret} logged");
    }
    assert!(!text.contains("Bearer "), "a token was logged");
    assert!(!text.contains("Digest "), "a digest header was logged");
}

#[tokio::test]
async fn a_request_that_breaks_the_spec_is_refused_and_recorded() {
    let h = AtlasHarness::default_sim().await;
    if integration_tests::contract().is_none() {
        return; // contract() already said why (and fails under CI=true).
    }
    let token: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/oauth/token", h.sim.base_url()))
        .basic_auth("sim-client-id", Some("sim-client-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let token = token["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    // The cluster media type on a private-endpoint call: a drift the spec catches.
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/atlas/v2/groups/{GROUP}/privateEndpoint/endpointService",
            h.sim.base_url()
        ))
        .bearer_auth(token)
        .header("Accept", "application/vnd.atlas.2024-08-05+json")
        .header("Content-Type", "application/vnd.atlas.2024-08-05+json")
        .body(r#"{"providerName":"AWS","region":"US_EAST_1"}"#)
        .send()
        .await
        .expect("response");
    assert_eq!(response.status().as_u16(), 422);
    let violations = h.sim.contract_violations();
    assert!(!violations.is_empty());
    assert_eq!(
        violations[0].operation,
        "createGroupPrivateEndpointEndpointService"
    );
    assert!(
        h.sim.services(GROUP).is_empty(),
        "nothing created by a refused request"
    );
}
