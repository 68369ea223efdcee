//! Who may call what: the Atlas API access list, a target-account role that cannot be
//! assumed, and one that appears only after the request (account vending).

use std::time::Duration;

use clock::Clock;
use serde_json::json;

use super::harness::{Trial, failure};
use super::{Env, Expected, Run, Scenario};
use crate::machines::Machine;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "access-list-denied",
            Expected::Fails("AtlasAccessListDenied"),
            "the organization's API access list does not hold our address; the error names it",
            access_list_denied,
        ),
        Scenario::new(
            "assume-role-denied",
            Expected::Fails("InvalidRequest"),
            "the target account's role cannot be assumed: aws.roleArn is named at once",
            assume_role_denied,
        ),
        Scenario::new(
            "vending-account-late",
            Expected::Succeeds,
            "a vended account's role can be assumed only 10 min after the request; validation waits",
            vending_account_late,
        ),
    ]
}

fn access_list_denied<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let allowed = "198.51.100.7/32"
            .parse()
            .map_err(|e| format!("access list: {e}"))?;
        t.world.stack.sim.set_access_list(Some(vec![allowed]));
        let result = t.provision("denied").await?;
        let (_, cause) = failure(&result);
        t.check(cause.contains("127.0.0.1"), || {
            format!("the cause does not name the address to allow: {cause}")
        });
        t.finish(&result).await
    })
}

fn assume_role_denied<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let role = "arn:aws:iam::123456789012:role/AtlasPrivateLinkRole";
        t.world.stack.models().deny_role(role, None);
        let mut request = t.world.request();
        request["aws"] = json!({"roleArn": role});
        let started = t.world.clock.now();
        let result = t
            .execute(Machine::Provision, &request, "denied-role")
            .await?;
        let took = t.world.clock.since(started);
        let (_, cause) = failure(&result);
        t.check(
            cause.starts_with("aws.roleArn: ") && cause.contains(role),
            || format!("the cause does not name the role: {cause}"),
        );
        t.check(took < Duration::from_secs(60), || {
            format!("took {took:?}, not at once")
        });
        t.finish(&result).await
    })
}

fn vending_account_late<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let role = "arn:aws:iam::123456789012:role/atlas-privatelink-target";
        let ready_at = t.world.clock.now() + Duration::from_secs(600);
        t.world.stack.models().deny_role(role, Some(ready_at));
        let mut request = t.world.request();
        request["aws"] = json!({"roleArn": role, "waitForAccountSeconds": 1800});
        // What the dispatcher builds for a vended account: the VPC found by its tag.
        request["endpoints"][0] = json!({"region": "us-east-1",
                                         "vpcTag": {"key": "team", "value": t.world.label}});
        let started = t.world.clock.now();
        let result = t.execute(Machine::Provision, &request, "vended").await?;
        let took = t.world.clock.since(started);
        let validations = result
            .entered_states()
            .iter()
            .filter(|s| **s == "Validate")
            .count();
        t.check(validations == 1, || {
            format!("Validate entered {validations} times, not once (retried inside)")
        });
        t.check(took >= Duration::from_secs(500), || {
            format!("succeeded after {took:?}, before the role could be assumed")
        });
        t.finish(&result).await
    })
}
