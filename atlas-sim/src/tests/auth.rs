//! Service-account tokens and HTTP Digest.

use std::collections::HashMap;

use diqwest::{DigestAuthSession, WithDigestAuth};
use md5::{Digest, Md5};

use super::{Answer, Env, answer, start, start_instant};
use crate::SimConfig;
use crate::reply::V2023;

fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// `name="value"` pairs of a challenge.
fn challenge_params(header: &str) -> HashMap<String, String> {
    header
        .trim_start_matches("Digest ")
        .split(", ")
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect()
}

fn list_path() -> String {
    format!(
        "/api/atlas/v2/groups/{}/privateEndpoint/AWS/endpointService",
        super::GROUP
    )
}

async fn get_with(env: &Env, authorization: Option<String>) -> Answer {
    let mut request = env
        .http
        .get(format!("{}{}", env.sim.base_url(), list_path()))
        .header("accept", V2023);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    answer(request.send().await.expect("request")).await
}

fn digest_authorization(nonce: &str, nc: &str, private_key: &str) -> String {
    let uri = list_path();
    let ha1 = md5_hex(&format!("simpublickey:MMS Public API:{private_key}"));
    let ha2 = md5_hex(&format!("GET:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:c0ffee:auth:{ha2}"));
    format!(
        r#"Digest username="simpublickey", realm="MMS Public API", nonce="{nonce}", uri="{uri}", qop=auth, nc={nc}, cnonce="c0ffee", response="{response}", algorithm=MD5"#
    )
}

#[tokio::test]
async fn wrong_bearer_is_unauthorized() {
    let env = start_instant().await;
    let refused = get_with(&env, Some("Bearer not-a-token".into())).await;
    assert_eq!((refused.status, refused.code()), (401, "UNAUTHORIZED"));
    assert_eq!(refused.body["error"], 401);
    assert_eq!(env.sim.counters().unauthorized, 1);
}

#[tokio::test]
async fn token_expires_on_the_sim_clock() {
    let env = start_instant().await;
    assert_eq!(
        get_with(&env, Some(format!("Bearer {}", env.token)))
            .await
            .status,
        200
    );
    env.advance(3599);
    assert_eq!(
        get_with(&env, Some(format!("Bearer {}", env.token)))
            .await
            .status,
        200
    );
    env.advance(1);
    let expired = get_with(&env, Some(format!("Bearer {}", env.token))).await;
    assert_eq!(expired.status, 401);
    assert!(
        expired.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("expired")
    );
}

#[tokio::test]
async fn token_endpoint_checks_credentials_and_counts() {
    let env = start_instant().await;
    let refused = env.fetch_token("sim-client-id", "wrong").await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body, serde_json::json!({"error": "invalid_client"}));
    let issued = env.fetch_token("sim-client-id", "sim-client-secret").await;
    assert_eq!(issued.body["token_type"], "Bearer");
    assert_eq!(issued.body["expires_in"], 3600);
    assert_eq!(env.sim.counters().tokens_issued, 2);
    assert_eq!(env.sim.counters().requests("token"), 3);
}

#[tokio::test]
async fn token_limit_per_client() {
    let env = start(SimConfig {
        max_tokens_per_client: 2,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(
        env.fetch_token("sim-client-id", "sim-client-secret")
            .await
            .status,
        200
    );
    let refused = env.fetch_token("sim-client-id", "sim-client-secret").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("retry-after"), Some("3600"));
    env.advance(3600);
    assert_eq!(
        env.fetch_token("sim-client-id", "sim-client-secret")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn digest_challenge_has_the_atlas_shape() {
    let env = start_instant().await;
    let challenged = get_with(&env, None).await;
    assert_eq!(challenged.status, 401);
    let header = challenged.header("www-authenticate").unwrap_or("");
    let nonce = challenge_params(header).remove("nonce").unwrap_or_default();
    assert_eq!(
        header,
        format!(
            r#"Digest realm="MMS Public API", domain="", nonce="{nonce}", algorithm=MD5, qop="auth", stale=false"#
        )
    );
    assert_eq!(env.sim.counters().digest_challenges, 1);
}

#[tokio::test]
async fn digest_exchange_with_diqwest() {
    let env = start_instant().await;
    let url = format!("{}{}", env.sim.base_url(), list_path());
    let request = env.http.get(&url).header("accept", V2023);
    let response = request
        .send_digest_auth(("simpublickey", "sim-private-key-0000"))
        .await
        .expect("digest exchange");
    assert_eq!(response.status().as_u16(), 200);
    let wrong = request
        .send_digest_auth(("simpublickey", "wrong-key"))
        .await
        .expect("digest exchange");
    assert_eq!(wrong.status().as_u16(), 401);
    // A session reuses the nonce with increasing nonce counts.
    let session = DigestAuthSession::new("simpublickey", "sim-private-key-0000");
    for _ in 0..3 {
        let ok = request
            .send_digest_auth(&session)
            .await
            .expect("digest exchange");
        assert_eq!(ok.status().as_u16(), 200);
    }
    assert_eq!(env.sim.counters().digest_challenges, 4);
}

#[tokio::test]
async fn expired_nonce_is_stale() {
    let env = start_instant().await;
    let challenged = get_with(&env, None).await;
    let nonce = challenge_params(challenged.header("www-authenticate").unwrap_or(""))
        .remove("nonce")
        .unwrap_or_default();
    let ok = get_with(
        &env,
        Some(digest_authorization(
            &nonce,
            "00000001",
            "sim-private-key-0000",
        )),
    )
    .await;
    assert_eq!(ok.status, 200);
    let replay = get_with(
        &env,
        Some(digest_authorization(
            &nonce,
            "00000001",
            "sim-private-key-0000",
        )),
    )
    .await;
    assert_eq!(replay.status, 401);
    let wrong = get_with(&env, Some(digest_authorization(&nonce, "00000002", "bad"))).await;
    assert!(
        wrong
            .header("www-authenticate")
            .unwrap_or("")
            .ends_with("stale=false")
    );
    env.advance(60);
    let stale = get_with(
        &env,
        Some(digest_authorization(
            &nonce,
            "00000003",
            "sim-private-key-0000",
        )),
    )
    .await;
    assert_eq!(stale.status, 401);
    assert!(
        stale
            .header("www-authenticate")
            .unwrap_or("")
            .ends_with("stale=true")
    );
}
