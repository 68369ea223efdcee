//! Day two (issue 13): plans, completion events, drift found and repaired by a `verify`
//! execution, a rotated database user, and deletion protection. Every scenario runs the state
//! machine files with the real steps and reads the events back from moto's EventBridge.

use asl_runner::ExecutionResult;
use atlas_sim::Outcome as SimOutcome;
use devstack::events::PublishedEvent;
use serde_json::{Value, json};

use super::harness::Trial;
use super::{Env, Expected, Run, Scenario};
use crate::machines::Machine;

/// The tag that protects a request's secret from teardown.
const PROTECT: &str = "atlas-privatelink:protect";

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "plan-fresh",
            Expected::Succeeds,
            "a plan of a new request lists every piece to create, creates nothing and publishes nothing",
            plan_fresh,
        ),
        Scenario::new(
            "plan-nothing-to-do",
            Expected::Succeeds,
            "a plan of a provisioned request says nothing to do",
            plan_nothing_to_do,
        ),
        Scenario::new(
            "events-ready",
            Expected::Succeeds,
            "a provisioning publishes one PrivateEndpointReady naming the secret, the VPC endpoint and the phases' durations",
            events_ready,
        ),
        Scenario::new(
            "events-failed",
            Expected::Fails("InterfaceEndpointFailed"),
            "Atlas fails the link: one PrivateEndpointFailed with the error and what rollback removed",
            events_failed,
        ),
        Scenario::new(
            "drift-repair-sg-rule",
            Expected::Succeeds,
            "the endpoint's ingress rule is deleted by hand; verify finds it, adds it back, publishes Drifted and Repaired",
            drift_repair_sg_rule,
        ),
        Scenario::new(
            "drift-repair-vpc-endpoint",
            Expected::Succeeds,
            "the VPC endpoint is deleted by hand; verify makes and links a new one, unlinks the old, updates the secret",
            drift_repair_vpc_endpoint,
        ),
        Scenario::new(
            "drift-repair-secret",
            Expected::Succeeds,
            "the connection-string secret is deleted by hand (recovery window); verify restores it with the strings",
            drift_repair_secret,
        ),
        Scenario::new(
            "db-user-rotation",
            Expected::Succeeds,
            "the database user's password rotates; verify rewrites the secret without running an endpoint step",
            db_user_rotation,
        ),
        Scenario::new(
            "deletion-protection",
            Expected::Succeeds,
            "teardown of a secret tagged protect=true fails DeletionProtected and removes nothing; with force it goes",
            deletion_protection,
        ),
    ]
}

/// `request` in another mode (`plan`, `verify`).
fn in_mode(request: &Value, mode: &str) -> Value {
    let mut request = request.clone();
    request["mode"] = json!(mode);
    request
}

/// An execution name of its own for this world: scenarios run side by side on one moto and
/// one EventBridge bus, and the events are told apart by the execution's ARN.
fn unique(t: &Trial<'_>, name: &str) -> String {
    format!("{name}-{}", &t.world.project_id[..8])
}

/// Provisions the world's request under a name of its own, and checks that it succeeded.
async fn provisioned(t: &mut Trial<'_>) -> Result<ExecutionResult, String> {
    let (request, name) = (t.world.request(), unique(t, "up"));
    let up = t.execute(Machine::Provision, &request, &name).await?;
    t.expect_success(&up, "the provisioning");
    Ok(up)
}

/// What a plan or a Drifted event says is not in place (`resource action id`), for messages.
fn work_in(doc: &Value) -> Vec<String> {
    let mut work: Vec<String> = doc["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["items"].as_array().into_iter().flatten())
        .filter(|item| item["action"] != "none" && item["action"] != "adopt")
        .map(|item| format!("{} {} {}", item["resource"], item["action"], item["id"]))
        .collect();
    if doc["secret"]["action"] != "none" {
        work.push(format!(
            "secret {} {}",
            doc["secret"]["action"], doc["secret"]["keys"]
        ));
    }
    work
}

/// The events `result` published, or a problem recorded and none.
async fn published(t: &mut Trial<'_>, result: &ExecutionResult) -> Vec<PublishedEvent> {
    match t.world.events_of(&result.execution_arn).await {
        Ok(events) => events,
        Err(e) => {
            t.check(false, || format!("reading the events: {e}"));
            Vec::new()
        }
    }
}

/// Records a problem unless `result` published exactly the detail types `expected`, in order.
async fn expect_events(
    t: &mut Trial<'_>,
    result: &ExecutionResult,
    expected: &[&str],
) -> Vec<PublishedEvent> {
    let events = published(t, result).await;
    let types: Vec<&str> = events.iter().map(|e| e.detail_type.as_str()).collect();
    t.check(types == expected, || {
        format!("{} published {types:?}, expected {expected:?}", result.name)
    });
    events
}

/// The actions of the plan's items for `resource`, over every endpoint.
fn actions(plan: &Value, resource: &str) -> Vec<String> {
    plan["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["items"].as_array().into_iter().flatten())
        .filter(|item| item["resource"] == resource)
        .filter_map(|item| item["action"].as_str().map(str::to_owned))
        .collect()
}

/// Runs a verify of the world's request (not recorded: it is the same request) and checks
/// it succeeded, published Drifted then Repaired, and that `drifted` is among the drifted
/// resources.
async fn verify_repairs(
    t: &mut Trial<'_>,
    name: &str,
    drifted: &str,
) -> Result<ExecutionResult, String> {
    let request = in_mode(&t.world.request(), "verify");
    let result = t
        .run(Machine::Provision, &request, &unique(t, name))
        .await?;
    t.expect_success(&result, name);
    let events = expect_events(
        t,
        &result,
        &["PrivateEndpointDrifted", "PrivateEndpointRepaired"],
    )
    .await;
    if let Some(drift) = events.first() {
        let found = drift.detail.to_string().contains(&format!("\"{drifted}\""));
        t.check(found, || {
            format!(
                "the Drifted event does not name {drifted}: {}",
                drift.summary()
            )
        });
    }
    // A second verify finds everything in place and says nothing.
    let again = t
        .run(
            Machine::Provision,
            &request,
            &unique(t, &format!("{name}-again")),
        )
        .await?;
    t.expect_success(&again, "the verify after the repair");
    let in_sync = again.output.as_ref().map(|o| o["inSync"] == true);
    let again_events = published(t, &again).await;
    t.check(in_sync == Some(true) && again_events.is_empty(), || {
        let drift = again_events.first().map(|e| work_in(&e.detail));
        format!("the verify after the repair found drift again: {drift:?}")
    });
    Ok(result)
}

fn plan_fresh<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let request = in_mode(&t.world.request(), "plan");
        let plan = t
            .run(Machine::Provision, &request, &unique(&t, "plan"))
            .await?;
        t.expect_success(&plan, "the plan");
        let output = plan.output.clone().unwrap_or_default();
        t.check(output["inSync"] == false, || {
            "a plan of a new request says in sync".to_owned()
        });
        for resource in ["endpointService", "securityGroup", "vpcEndpoint", "link"] {
            let acts = actions(&output, resource);
            t.check(acts == ["create"], || {
                format!("{resource}: {acts:?}, expected [\"create\"]")
            });
        }
        t.check(output["secret"]["action"] == "create", || {
            format!("secret: {}", output["secret"])
        });
        let inventory = t.world.inventory().await?;
        let left = inventory.leftovers();
        t.check(left.is_empty(), || format!("the plan made {left:?}"));
        expect_events(&mut t, &plan, &[]).await;
        t.finish(&plan).await
    })
}

fn plan_nothing_to_do<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        provisioned(&mut t).await?;
        let request = in_mode(&t.world.request(), "plan");
        let plan = t
            .run(Machine::Provision, &request, &unique(&t, "plan"))
            .await?;
        t.expect_success(&plan, "the plan");
        let output = plan.output.clone().unwrap_or_default();
        t.check(output["inSync"] == true, || {
            format!(
                "a plan of a provisioned request has work: {:?}",
                work_in(&output)
            )
        });
        let acts = actions(&output, "vpcEndpoint");
        t.check(acts == ["none"], || format!("vpcEndpoint: {acts:?}"));
        expect_events(&mut t, &plan, &[]).await;
        t.finish(&plan).await
    })
}

fn events_ready<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        let up = provisioned(&mut t).await?;
        let events = expect_events(&mut t, &up, &["PrivateEndpointReady"]).await;
        if let Some(ready) = events.first() {
            let secret = up
                .output
                .as_ref()
                .and_then(|o| o["secretArn"].as_str())
                .unwrap_or_default()
                .to_owned();
            t.check(
                !secret.is_empty() && ready.field("secretArn") == secret,
                || {
                    format!(
                        "the event names {}, the output {secret}",
                        ready.field("secretArn")
                    )
                },
            );
            let network = t.world.networks[0].clone();
            let endpoints = t.vpc_endpoints(&network).await;
            t.check(ready.detail["vpcEndpointIds"] == json!(endpoints), || {
                format!(
                    "the event names {}, EC2 has {endpoints:?}",
                    ready.detail["vpcEndpointIds"]
                )
            });
            let total = ready.detail["durations"]["totalSeconds"].as_f64();
            t.check(total.is_some_and(|s| s > 0.0), || {
                format!("durations: {}", ready.detail["durations"])
            });
        }
        t.finish(&up).await
    })
}

fn events_failed<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        t.world
            .stack
            .sim
            .set_outcome(SimOutcome::InterfaceFailed { vpce_id: None });
        let failed = t
            .execute(
                Machine::Provision,
                &t.world.request(),
                &unique(&t, "failed"),
            )
            .await?;
        let events = expect_events(&mut t, &failed, &["PrivateEndpointFailed"]).await;
        if let Some(event) = events.first() {
            t.check(event.field("error") == "InterfaceEndpointFailed", || {
                format!("the event's error: {}", event.summary())
            });
            let removed = &event.detail["rolledBack"]["vpcEndpoints"];
            t.check(removed.as_array().is_some_and(|a| a.len() == 1), || {
                format!("the event's rolledBack.vpcEndpoints: {removed}")
            });
        }
        t.finish(&failed).await
    })
}

fn drift_repair_sg_rule<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        provisioned(&mut t).await?;
        let network = t.world.networks[0].clone();
        let groups = t.world.our_security_groups(&network).await?;
        let group = groups.first().cloned().ok_or("no security group of ours")?;
        let ec2 = t.world.ec2(&network.region).await;
        let rules = ec2
            .describe_security_groups()
            .group_ids(&group)
            .send()
            .await
            .map_err(|e| format!("DescribeSecurityGroups: {e}"))?
            .security_groups()
            .first()
            .map(|g| g.ip_permissions().to_vec())
            .unwrap_or_default();
        ec2.revoke_security_group_ingress()
            .group_id(&group)
            .set_ip_permissions(Some(rules.clone()))
            .send()
            .await
            .map_err(|e| format!("RevokeSecurityGroupIngress: {e}"))?;
        let repaired = verify_repairs(&mut t, "verify", "ingressRule").await?;
        let after = ec2
            .describe_security_groups()
            .group_ids(&group)
            .send()
            .await
            .map_err(|e| format!("DescribeSecurityGroups: {e}"))?
            .security_groups()
            .first()
            .map(|g| g.ip_permissions().len())
            .unwrap_or_default();
        t.check(after == rules.len() && after > 0, || {
            format!(
                "{after} ingress rules after the repair, {} before",
                rules.len()
            )
        });
        t.finish(&repaired).await
    })
}

fn drift_repair_vpc_endpoint<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        provisioned(&mut t).await?;
        let network = t.world.networks[0].clone();
        let before = t.vpc_endpoints(&network).await;
        let old = before.first().cloned().ok_or("no VPC endpoint")?;
        t.world
            .ec2(&network.region)
            .await
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(&old)
            .send()
            .await
            .map_err(|e| format!("DeleteVpcEndpoints: {e}"))?;
        let repaired = verify_repairs(&mut t, "verify", "vpcEndpoint").await?;
        let after = t.vpc_endpoints(&network).await;
        t.check(after.len() == 1 && after[0] != old, || {
            format!("VPC endpoints after the repair: {after:?} (the deleted one was {old})")
        });
        let linked: Vec<String> = t
            .world
            .interfaces()
            .into_iter()
            // A removed link is DELETING for a while before Atlas drops it.
            .filter(|i| i.connection_status != "DELETING")
            .map(|i| i.interface_endpoint_id)
            .collect();
        t.check(linked == after, || {
            format!("Atlas links {linked:?}, EC2 has {after:?} (the old link must go)")
        });
        let name = Trial::secret_name(&t.world.request()).unwrap_or_default();
        let stored = t.secret_json(&name).await.unwrap_or_default();
        t.check(stored["vpcEndpointIds"] == json!(after.join(",")), || {
            format!("the secret lists {}", stored["vpcEndpointIds"])
        });
        t.finish(&repaired).await
    })
}

fn drift_repair_secret<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        provisioned(&mut t).await?;
        let name = Trial::secret_name(&t.world.request()).ok_or("invalid request")?;
        let before = t.secret_json(&name).await;
        t.world
            .secrets(devstack::world::HOME_REGION)
            .await
            .delete_secret()
            .secret_id(&name)
            .recovery_window_in_days(7)
            .send()
            .await
            .map_err(|e| format!("DeleteSecret: {e}"))?;
        let repaired = verify_repairs(&mut t, "verify", "secret").await?;
        let after = t.secret_json(&name).await;
        t.check(after.is_some() && after == before, || {
            "the secret was not restored with its content".to_owned()
        });
        t.finish(&repaired).await
    })
}

fn db_user_rotation<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let spec = devstack::WorldSpec::new(&["us-east-1"])
            .realism(env.realism(|r| r))
            .database_user("app", "password-before");
        let mut t = Trial::start(env, spec).await?;
        provisioned(&mut t).await?;
        let user = t
            .world
            .database_user_arn
            .clone()
            .ok_or("no database-user secret")?;
        // What a rotation does: a new current version of the database user's secret.
        t.world
            .secrets(devstack::world::HOME_REGION)
            .await
            .put_secret_value()
            .secret_id(&user)
            .secret_string(json!({"username": "app", "password": "password-after"}).to_string())
            .send()
            .await
            .map_err(|e| format!("PutSecretValue: {e}"))?;
        let repaired = verify_repairs(&mut t, "verify", "secret").await?;
        let states = repaired.entered_states();
        t.check(
            states.contains(&"UseFoundEndpoints") && !states.contains(&"EnsureEndpointService"),
            || format!("the rotation ran the endpoint steps: {states:?}"),
        );
        let name = Trial::secret_name(&t.world.request()).unwrap_or_default();
        let stored = t.secret_json(&name).await.unwrap_or_default();
        t.check(stored["password"] == "password-after", || {
            "the secret does not hold the rotated password".to_owned()
        });
        t.finish(&repaired).await
    })
}

fn deletion_protection<'a>(env: &'a Env, _: &'static str) -> Run<'a> {
    Box::pin(async move {
        let mut t = Trial::us_east_1(env, |r| r).await?;
        provisioned(&mut t).await?;
        let request = t.world.request();
        let name = Trial::secret_name(&request).ok_or("invalid request")?;
        t.world
            .secrets(devstack::world::HOME_REGION)
            .await
            .tag_resource()
            .secret_id(&name)
            .tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key(PROTECT)
                    .value("true")
                    .build(),
            )
            .send()
            .await
            .map_err(|e| format!("TagResource: {e}"))?;
        let network = t.world.networks[0].clone();
        let refused = t
            .run(Machine::Teardown, &request, &unique(&t, "down"))
            .await?;
        let cause = t.expect_failure(&refused, "DeletionProtected", "the protected teardown");
        t.check(cause.contains(PROTECT), || format!("the cause: {cause}"));
        expect_events(&mut t, &refused, &["PrivateEndpointFailed"]).await;
        let endpoints = t.vpc_endpoints(&network).await;
        t.check(endpoints.len() == 1, || {
            format!(
                "the refused teardown left {} VPC endpoints",
                endpoints.len()
            )
        });
        t.check(t.secret_json(&name).await.is_some(), || {
            "the refused teardown removed the secret".to_owned()
        });
        let mut forced = request.clone();
        forced["force"] = json!(true);
        let down = t
            .run(Machine::Teardown, &forced, &unique(&t, "down-forced"))
            .await?;
        t.expect_success(&down, "the forced teardown");
        expect_events(&mut t, &down, &["PrivateEndpointTornDown"]).await;
        // The request is torn down: the final count must find nothing left.
        t.record(Machine::Teardown, &request, &down);
        t.finish(&down).await
    })
}
