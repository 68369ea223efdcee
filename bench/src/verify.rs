//! Section 4: what one `verify` execution costs (the drift check the schedule starts for every
//! provisioned request, every `DriftCheckIntervalHours`): Atlas calls, state transitions,
//! Lambda invocations and dollars, when all is well and when something drifted.

use std::fmt::Write as _;
use std::sync::Arc;

use atlas_sim::{ClusterSeed, SimConfig};
use clock::VirtualClock;
use devstack::{
    DevStack, Moto, Realism, create_credentials_secret, create_database_user_secret, create_network,
};
use serde_json::{Value, json};

use crate::common::{RecordingInvoker, context, events, execute, failure, project_id};
use crate::lag::{DynamoCalls, cost, gb_seconds};

/// One verify's figures.
#[derive(Debug, Clone)]
pub struct VerifyFigures {
    /// What was drifted before it ran.
    pub case: &'static str,
    /// The states it went through that say what it did (`NothingDrifted`, `UseFoundEndpoints`,
    /// `ProvisionEndpoints`, `PublishRepaired`).
    pub path: Vec<String>,
    /// Atlas API requests.
    pub atlas_calls: u64,
    /// State transitions.
    pub transitions: u64,
    /// Lambda invocations.
    pub invocations: usize,
    /// Lambda GB-seconds.
    pub gb_s: f64,
    /// USD.
    pub cost: f64,
}

/// Provisions one request, then runs a verify in sync, one after a rotated database password
/// and one after an ingress rule was revoked, measuring each.
pub async fn run(moto: &Moto) -> Result<Vec<VerifyFigures>, String> {
    let clock = VirtualClock::new();
    let stack = Arc::new(
        DevStack::start(
            moto,
            Arc::new(clock.clone()),
            SimConfig::default(),
            Realism::realistic(),
        )
        .await?,
    );
    let result = measure(moto, &stack, &clock).await;
    stack.shutdown().await;
    result
}

async fn measure(
    moto: &Moto,
    stack: &Arc<DevStack>,
    clock: &VirtualClock,
) -> Result<Vec<VerifyFigures>, String> {
    let sdk = moto.sdk_config("us-east-1").await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let project = project_id(0xd21f, 0);
    let credentials = create_credentials_secret(
        &secrets,
        &format!("bench/verify/{project}/atlas-credentials"),
        "sim-client-id",
        "sim-client-secret",
        &stack.sim.base_url(),
    )
    .await?;
    let user_secret = format!("bench/verify/{project}/db-user");
    let user = create_database_user_secret(&secrets, &user_secret, "app", "before").await?;
    let network = create_network(&ec2, "us-east-1", &project).await?;
    stack
        .sim
        .seed_cluster(ClusterSeed::new(&project, "Cluster0", &["US_EAST_1"]))
        .map_err(|e| format!("seed cluster: {e}"))?;
    let request = json!({
        "atlas": {"projectId": project, "clusterName": "Cluster0", "credentialsSecretArn": credentials},
        "endpoints": [{"region": "us-east-1", "vpcId": network.vpc_id, "subnetIds": network.subnet_ids}],
        "secret": {"databaseUserSecretArn": user},
        "tags": {"team": "bench"}
    });
    let invoker = Arc::new(RecordingInvoker::new(
        context(stack, clock).await,
        events(stack).await,
    ));
    let runner = crate::common::provision_runner(invoker.clone(), clock)?;
    let up = execute(&runner, request.clone(), "bench-verify-up").await;
    if let Some(why) = failure(&up) {
        return Err(format!("provisioning failed: {why}"));
    }
    invoker.take();
    let mut verify = request.clone();
    verify["mode"] = json!("verify");
    let mut figures = Vec::new();
    for case in [
        "nothing drifted",
        "database password rotated",
        "ingress rule revoked",
    ] {
        match case {
            "database password rotated" => {
                secrets
                    .put_secret_value()
                    .secret_id(&user)
                    .secret_string(json!({"username": "app", "password": "after"}).to_string())
                    .send()
                    .await
                    .map_err(|e| format!("PutSecretValue: {e}"))?;
            }
            "ingress rule revoked" => revoke_rules(&ec2, &network.vpc_id).await?,
            _ => {}
        }
        let before = stack.sim.counters();
        let dynamo_before = DynamoCalls::of(stack);
        let result = execute(
            &runner,
            verify.clone(),
            &format!("bench-verify-{}", figures.len()),
        )
        .await;
        let after = stack.sim.counters();
        let dynamo = DynamoCalls::of(stack).since(dynamo_before);
        if let Some(why) = failure(&result) {
            return Err(format!("verify ({case}) failed: {why}"));
        }
        let invocations = invoker.take();
        let gb_s = gb_seconds(&invocations);
        let path = result
            .entered_states()
            .into_iter()
            .filter(|s| {
                [
                    "NothingDrifted",
                    "UseFoundEndpoints",
                    "ProvisionEndpoints",
                    "PublishRepaired",
                ]
                .contains(s)
            })
            .map(str::to_owned)
            .collect();
        figures.push(VerifyFigures {
            case,
            path,
            atlas_calls: after.total_requests() - before.total_requests(),
            transitions: result.state_transitions,
            invocations: invocations.len(),
            gb_s,
            cost: cost(
                result.state_transitions as f64,
                invocations.len() as f64,
                gb_s,
                dynamo,
            ),
        });
    }
    Ok(figures)
}

/// Revokes every ingress rule of our security group in `vpc_id` (what a hand edit does).
async fn revoke_rules(ec2: &aws_sdk_ec2::Client, vpc_id: &str) -> Result<(), String> {
    let filter = |name: &str, value: &str| {
        aws_sdk_ec2::types::Filter::builder()
            .name(name)
            .values(value)
            .build()
    };
    let groups = ec2
        .describe_security_groups()
        .filters(filter("vpc-id", vpc_id))
        .filters(filter("tag-key", "atlas-privatelink:request-key"))
        .send()
        .await
        .map_err(|e| format!("DescribeSecurityGroups: {e}"))?;
    for group in groups.security_groups() {
        ec2.revoke_security_group_ingress()
            .set_group_id(group.group_id().map(str::to_owned))
            .set_ip_permissions(Some(group.ip_permissions().to_vec()))
            .send()
            .await
            .map_err(|e| format!("RevokeSecurityGroupIngress: {e}"))?;
    }
    Ok(())
}

/// The section's Markdown table, with the daily cost of the schedule's default (every 6 h).
pub fn table(figures: &[VerifyFigures]) -> String {
    let mut out = String::from(
        "## 4. One verify (the drift check)\n\n| drifted | path | Atlas calls | transitions | Lambda invocations | GB-s | $/verify |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for f in figures {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.4} | {:.6} |",
            f.case,
            f.path.join(" → "),
            f.atlas_calls,
            f.transitions,
            f.invocations,
            f.gb_s,
            f.cost
        );
    }
    if let Some(quiet) = figures.first() {
        let _ = writeln!(
            out,
            "\nAt the default schedule (every 6 h) a request in sync costs {} Atlas calls and ${:.5} a day.",
            quiet.atlas_calls * 4,
            quiet.cost * 4.0
        );
    }
    out
}

/// The figures as JSON (stderr, for scripts).
pub fn to_json(figures: &[VerifyFigures]) -> Value {
    Value::Array(
        figures
            .iter()
            .map(|f| {
                json!({
                    "case": f.case, "path": f.path, "atlasCalls": f.atlas_calls,
                    "transitions": f.transitions, "invocations": f.invocations,
                    "gbSeconds": f.gb_s, "cost": f.cost
                })
            })
            .collect(),
    )
}
