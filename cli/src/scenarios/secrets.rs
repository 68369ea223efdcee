//! The stored connection strings: content that goes A → B → A, and two requests on one
//! cluster, each with its own secret.

use serde_json::json;

use super::harness::Trial;
use super::realism::in_network;
use super::{Env, Expected, Run, Scenario};
use crate::machines::Machine;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "secret-aba",
            Expected::Succeeds,
            "the database password changes A → B → A between re-runs; the secret ends with A current",
            secret_aba,
        ),
        Scenario::new(
            "shared-cluster-teardown",
            Expected::Succeeds,
            "two requests on one cluster; tearing one down leaves the other's endpoint and secret",
            shared_cluster_teardown,
        ),
    ]
}

const PASSWORDS: [&str; 3] = ["password-A", "password-B", "password-A"];

fn secret_aba<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let spec = devstack::WorldSpec::new(&["us-east-1"])
            .realism(env.realism(|r| r))
            .database_user("app", PASSWORDS[0]);
        let mut t = Trial::start(env, spec).await?;
        let request = t.world.request();
        let name = Trial::secret_name(&request).ok_or("the world's request is invalid")?;
        let user = t
            .world
            .database_user_arn
            .clone()
            .ok_or("no database-user secret")?;
        let secrets = t.world.secrets(devstack::world::HOME_REGION).await;
        let mut last = None;
        for (i, password) in PASSWORDS.iter().enumerate() {
            secrets
                .put_secret_value()
                .secret_id(&user)
                .secret_string(json!({"username": "app", "password": password}).to_string())
                .send()
                .await
                .map_err(|e| format!("PutSecretValue: {e}"))?;
            let run = t
                .execute(Machine::Provision, &request, &format!("aba-{i}"))
                .await?;
            t.expect_success(&run, &format!("run {i} ({password})"));
            last = Some(run);
        }
        let stored = t.secret_json(&name).await;
        let current = stored.as_ref().and_then(|s| s["password"].as_str());
        t.check(current == Some(PASSWORDS[2]), || {
            format!("the current secret holds {current:?}, not the last content")
        });
        let versions = |secrets: aws_sdk_secretsmanager::Client, name: String| async move {
            secrets
                .list_secret_version_ids()
                .secret_id(name)
                .send()
                .await
                .map(|o| o.versions().len())
                .unwrap_or(0)
        };
        let before = versions(secrets.clone(), name.clone()).await;
        let unchanged = t.execute(Machine::Provision, &request, "aba-again").await?;
        let after = versions(secrets, name).await;
        t.check(before == after, || {
            format!("the same content again made a version ({before} → {after})")
        });
        let last = last.unwrap_or(unchanged);
        t.finish(&last).await
    })
}

fn shared_cluster_teardown<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let network = t.world.add_network("us-east-1", &['a', 'b']).await?;
        let first = t.world.request();
        let second = in_network(&t, &network);
        let one = t.execute(Machine::Provision, &first, "one").await?;
        t.expect_success(&one, "the first request");
        let two = t.execute(Machine::Provision, &second, "two").await?;
        let (a, b) = (
            Trial::secret_name(&first).unwrap_or_default(),
            Trial::secret_name(&second).unwrap_or_default(),
        );
        t.check(a != b, || format!("both requests write {a}"));
        let b_before = t.secret_json(&b).await;
        // The second's secret named by a third request is refused, naming the field.
        let mut third = first.clone();
        third["secret"] = json!({"name": b});
        let refused = t.execute(Machine::Provision, &third, "three").await?;
        let cause = t.expect_failure(&refused, "InvalidRequest", "a third request on its secret");
        t.check(cause.starts_with("secret.name: "), || {
            format!("the refusal does not name secret.name: {cause}")
        });
        let down = t.execute(Machine::Teardown, &first, "one-down").await?;
        t.expect_success(&down, "the first request's teardown");
        let b_after = t.secret_json(&b).await;
        t.check(b_after.is_some() && b_after == b_before, || {
            "the second request's secret changed with the first's teardown".to_owned()
        });
        let endpoints = t.vpc_endpoints(&network).await;
        for vpce in &endpoints {
            let status = t
                .world
                .stack
                .sim
                .interface(vpce)
                .map(|i| i.connection_status);
            t.check(status.as_deref() == Some("AVAILABLE"), || {
                format!("the second request's {vpce} is {status:?} after the first's teardown")
            });
        }
        t.check(endpoints.len() == 1, || {
            format!("{} VPC endpoints of the second request", endpoints.len())
        });
        t.finish(&two).await
    })
}
