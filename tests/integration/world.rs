//! A world for the workflow steps: Atlas simulator + moto, a VPC with subnets, a cluster, the
//! Atlas credentials in Secrets Manager, and a [`Context`] wired to all of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clock::{Clock, VirtualClock};
use devstack::{DevStack, Realism, create_credentials_secret, create_network};
use privatelink_core::aws::clients::AwsClients;
use privatelink_core::context::{Context, Polling, Settings};
use privatelink_core::state::{EndpointWork, ExecutionState, Plan};
use privatelink_core::steps::{ENDPOINT_STEPS, run_step};
use privatelink_core::{ErrorName, StepError};
use serde_json::{Value, json};

use crate::AtlasHarness;
use crate::moto::moto;
use atlas_sim::{ClusterSeed, SimConfig};

/// A unique 24-hex project id per world, so worlds sharing one moto never collide.
pub fn unique_project_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:08x}{:08x}{:08x}", std::process::id(), nanos, n as u32)
}

pub use devstack::Network;

/// Everything a step test needs.
pub struct World {
    /// The Atlas simulator and the virtual clock.
    pub atlas: AtlasHarness,
    /// The steps' context (the AWS front before moto, the simulator, the virtual clock).
    pub ctx: Arc<Context>,
    /// The simulator and the AWS front.
    pub stack: Arc<DevStack>,
    /// The project.
    pub project_id: String,
    /// The cluster name.
    pub cluster: String,
    /// One VPC per region of the cluster.
    pub networks: Vec<Network>,
    /// ARN of the Atlas credentials secret.
    pub credentials_arn: String,
}

/// EC2 client on moto itself in `region` (no AWS front: to seed and to look at what exists).
pub async fn ec2(region: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&moto().sdk_config(region).await)
}

/// Secrets Manager client on moto itself in `region`.
pub async fn secrets(region: &str) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&moto().sdk_config(region).await)
}

/// Creates a VPC (10.42.0.0/16) with two subnets, tagged `team=<tag>`.
pub async fn make_network(region: &str, tag: &str) -> Network {
    create_network(&ec2(region).await, region, tag)
        .await
        .expect("network")
}

/// A context on the stack's AWS front (moto behaving like AWS: eventual consistency, client
/// tokens, zones, acceptance states following the simulator's links) and the harness's clock.
async fn context(atlas: &AtlasHarness, stack: &DevStack, settings: Settings) -> Arc<Context> {
    let home = stack.sdk_config("us-east-1").await;
    Arc::new(Context::new(
        Arc::new(atlas.clock.clone()),
        AwsClients::from_config(home),
        settings,
    ))
}

impl World {
    /// A world with a replica set in `regions` (AWS names) and a VPC in each.
    pub async fn new(regions: &[&str]) -> Self {
        Self::with_sim(SimConfig::default(), regions).await
    }

    /// The same with a given simulator configuration.
    pub async fn with_sim(config: SimConfig, regions: &[&str]) -> Self {
        Self::with_realism(config, Realism::realistic(), regions).await
    }

    /// The same with given rules of the AWS front.
    pub async fn with_realism(mut config: SimConfig, realism: Realism, regions: &[&str]) -> Self {
        config.contract = crate::contract();
        let clock = VirtualClock::new();
        let stack = DevStack::start(moto(), Arc::new(clock.clone()), config, realism)
            .await
            .expect("local stack starts");
        let atlas = AtlasHarness {
            clock,
            sim: stack.sim.clone(),
        };
        let project_id = unique_project_id();
        let cluster = "Cluster0".to_owned();
        let atlas_regions: Vec<String> = regions
            .iter()
            .map(|r| atlas_api::models::to_atlas_region(r))
            .collect();
        let atlas_regions: Vec<&str> = atlas_regions.iter().map(String::as_str).collect();
        atlas
            .sim
            .seed_cluster(ClusterSeed::new(&project_id, &cluster, &atlas_regions))
            .expect("seed cluster");
        let mut networks = Vec::new();
        for region in regions {
            networks.push(make_network(region, &project_id).await);
        }
        let home = moto().sdk_config("us-east-1").await;
        let sm = aws_sdk_secretsmanager::Client::new(&home);
        let credentials_arn = create_credentials_secret(
            &sm,
            &format!("atlas-credentials-{project_id}"),
            "sim-client-id",
            "sim-client-secret",
            &atlas.sim.base_url(),
        )
        .await
        .expect("credentials secret");
        // The stack's claims table (who creates a region's endpoint service), as deployed.
        let dynamodb = aws_sdk_dynamodb::Client::new(&home);
        devstack::create_claims_table(&dynamodb, devstack::CLAIMS_TABLE)
            .await
            .expect("claims table");
        let settings = Settings {
            secret_recovery_days: 7,
            atlas_request_timeout: Duration::from_secs(5),
            claims_table: Some(devstack::CLAIMS_TABLE.to_owned()),
            ..Settings::default()
        };
        let ctx = context(&atlas, &stack, settings).await;
        Self {
            atlas,
            ctx,
            stack: Arc::new(stack),
            project_id,
            cluster,
            networks,
            credentials_arn,
        }
    }

    /// The same world with other polling settings (e.g. [`Polling::single_probe`], so a step
    /// answers `…NotReady` at once instead of waiting inside the call).
    pub async fn with_polling(mut self, polling: Polling) -> Self {
        let settings = Settings {
            polling,
            ..self.ctx.settings.clone()
        };
        self.ctx = context(&self.atlas, &self.stack, settings).await;
        self
    }

    /// A valid request for this world: one endpoint per network, by ids.
    pub fn request(&self) -> Value {
        json!({
            "atlas": {"projectId": self.project_id, "clusterName": self.cluster,
                      "credentialsSecretArn": self.credentials_arn},
            "endpoints": self.networks.iter().map(|n| json!({
                "region": n.region, "vpcId": n.vpc_id, "subnetIds": n.subnet_ids
            })).collect::<Vec<_>>(),
            "tags": {"team": "platform"}
        })
    }

    /// Runs one step.
    pub async fn step(&self, name: &str, input: Value) -> Result<Value, StepError> {
        run_step(&self.ctx, name, input).await
    }

    /// Runs one step, retrying `…NotReady` every `interval` of virtual time (as the state
    /// machine's Retry does) up to `budget`.
    pub async fn step_until_ready(
        &self,
        name: &str,
        input: Value,
        interval: Duration,
        budget: Duration,
    ) -> Result<Value, StepError> {
        let started = self.atlas.clock.now();
        loop {
            match self.step(name, input.clone()).await {
                Err(e) if is_not_ready(e.name) && self.atlas.clock.since(started) < budget => {
                    self.atlas.clock.sleep(interval).await;
                }
                other => return other,
            }
        }
    }

    /// Runs the per-endpoint step `name` once on `work`; on success records its output in
    /// `work` (as the Map iteration's ResultPath does) and returns it.
    pub async fn step_on(&self, name: &str, work: &mut EndpointWork) -> Result<Value, StepError> {
        let out = self
            .step(name, serde_json::to_value(&*work).expect("work"))
            .await?;
        apply(work, name, out.clone());
        Ok(out)
    }

    /// Runs the per-endpoint step `name` on `work` as the state machine would (retrying
    /// `…NotReady`), records its output, and panics if it fails.
    pub async fn step_until_ready_on(&self, name: &str, work: &mut EndpointWork) {
        let input = serde_json::to_value(&*work).expect("work");
        let out = self
            .step_until_ready(
                name,
                input,
                Duration::from_secs(10),
                Duration::from_secs(3600),
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        apply(work, name, out);
    }

    /// Validates `request` under `execution`.
    pub async fn validate(&self, execution: &str, request: Value) -> Result<Plan, StepError> {
        let out = self
            .step(
                "validate",
                json!({"execution": execution, "request": request}),
            )
            .await?;
        Ok(serde_json::from_value(out).expect("plan"))
    }

    /// Runs the per-endpoint steps of one Map iteration, stopping at the first error; returns
    /// the work item as far as it got.
    pub async fn provision_endpoint(
        &self,
        mut work: EndpointWork,
    ) -> (EndpointWork, Result<(), StepError>) {
        let long = Duration::from_secs(3600);
        for step in ENDPOINT_STEPS {
            let input = serde_json::to_value(&work).expect("work");
            match self
                .step_until_ready(step, input, Duration::from_secs(10), long)
                .await
            {
                Ok(out) => apply(&mut work, step, out),
                Err(e) => return (work, Err(e)),
            }
        }
        (work, Ok(()))
    }

    /// The whole provisioning, as the state machine runs it: validate → each endpoint →
    /// store. Returns the execution state (as far as it got) and the outcome.
    pub async fn provision(
        &self,
        execution: &str,
    ) -> (Option<ExecutionState>, Result<(), StepError>) {
        let plan = match self.validate(execution, self.request()).await {
            Ok(plan) => plan,
            Err(e) => return (None, Err(e)),
        };
        let mut state = plan.state(Vec::new());
        for work in (0..plan.endpoints.len()).filter_map(|i| plan.work(i)) {
            let (work, outcome) = self.provision_endpoint(work).await;
            state.endpoints.push(work.result);
            if let Err(e) = outcome {
                return (Some(state), Err(e));
            }
        }
        let input = serde_json::to_value(&state).expect("state");
        match self
            .step_until_ready(
                "store-connection-strings",
                input,
                Duration::from_secs(30),
                Duration::from_secs(7200),
            )
            .await
        {
            Ok(out) => {
                state.secret = Some(serde_json::from_value(out).expect("secret out"));
                (Some(state), Ok(()))
            }
            Err(e) => (Some(state), Err(e)),
        }
    }

    /// Live (not deleted) VPC endpoints in a network's VPC.
    pub async fn vpc_endpoints(&self, network: &Network) -> Vec<String> {
        let out = ec2(&network.region)
            .await
            .describe_vpc_endpoints()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(&network.vpc_id)
                    .build(),
            )
            .send()
            .await
            .expect("describe endpoints");
        out.vpc_endpoints()
            .iter()
            .filter(|e| {
                !e.state()
                    .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"))
            })
            .filter_map(|e| e.vpc_endpoint_id().map(str::to_owned))
            .collect()
    }

    /// Security groups of a network's VPC created by the workflow.
    pub async fn our_security_groups(&self, network: &Network) -> Vec<String> {
        let out = ec2(&network.region)
            .await
            .describe_security_groups()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(&network.vpc_id)
                    .build(),
            )
            .send()
            .await
            .expect("describe groups");
        out.security_groups()
            .iter()
            .filter(|g| {
                g.group_name()
                    .is_some_and(|n| n.starts_with("atlas-privatelink-"))
            })
            .filter_map(|g| g.group_id().map(str::to_owned))
            .collect()
    }

    /// The default secret name of this world's request.
    pub fn secret_name(&self) -> String {
        privatelink_core::parse_request(&self.request())
            .expect("the world's request is valid")
            .secret
            .name
            .to_string()
    }

    /// The stored secret's JSON, if it exists.
    pub async fn secret_json(&self) -> Option<Value> {
        let region = &self.networks[0].region;
        let out = secrets(region)
            .await
            .get_secret_value()
            .secret_id(self.secret_name())
            .send()
            .await
            .ok()?;
        serde_json::from_str(out.secret_string()?).ok()
    }

    /// Number of versions of the stored secret.
    pub async fn secret_versions(&self) -> usize {
        let region = &self.networks[0].region;
        secrets(region)
            .await
            .list_secret_version_ids()
            .secret_id(self.secret_name())
            .send()
            .await
            .map(|o| o.versions().len())
            .unwrap_or(0)
    }
}

/// The error name and cause of a failed execution.
pub fn failure(result: &asl_runner::ExecutionResult) -> Option<(&str, &str)> {
    match &result.status {
        asl_runner::ExecutionStatus::Failed { error, cause } => Some((
            error.as_deref().unwrap_or(""),
            cause.as_deref().unwrap_or(""),
        )),
        _ => None,
    }
}

/// Fails the test, with the states entered, unless the execution succeeded.
pub fn assert_succeeded(result: &asl_runner::ExecutionResult) {
    assert!(
        result.succeeded(),
        "execution failed: {:?}\nstates: {:?}",
        result.status,
        result.entered_states()
    );
}

/// Records a step's output in the work item, as the state machine's ResultPath does.
pub fn apply(work: &mut EndpointWork, step: &str, out: Value) {
    fn parse<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).expect("step output shape")
    }
    match step {
        "ensure-endpoint-service" => work.service = Some(parse(out)),
        "get-service-name" => work.service_name = Some(parse(out)),
        "configure-security-groups" => work.security_groups = Some(parse(out)),
        "create-vpc-endpoint" => work.vpc_endpoint = Some(parse(out)),
        "link-endpoint" => work.link = Some(parse(out)),
        "verify-endpoint" => work.verified = Some(parse(out)),
        other => panic!("not a per-endpoint step: {other}"),
    }
}

fn is_not_ready(name: ErrorName) -> bool {
    matches!(
        name,
        ErrorName::EndpointServiceNotReady
            | ErrorName::InterfaceEndpointNotReady
            | ErrorName::ConnectionStringsNotReady
    )
}

impl World {
    /// Runs a state machine file on this world with the real steps, on the virtual clock.
    pub async fn execute(
        &self,
        machine: atlas_privatelink::machines::Machine,
        request: Value,
        name: &str,
    ) -> asl_runner::ExecutionResult {
        self.execute_with(
            Arc::new(atlas_privatelink::local::StepInvoker::new(self.ctx.clone())),
            machine,
            request,
            name,
        )
        .await
    }

    /// The same with a given task invoker (to inject failures).
    pub async fn execute_with(
        &self,
        invoker: Arc<dyn asl_runner::TaskInvoker>,
        machine: atlas_privatelink::machines::Machine,
        request: Value,
        name: &str,
    ) -> asl_runner::ExecutionResult {
        let definition = machine.load().expect("definition loads");
        let runner = asl_runner::Runner::new(
            definition,
            invoker,
            asl_runner::RunnerConfig::virtual_time(self.atlas.clock.clone()),
        );
        runner
            .run_with(
                request,
                asl_runner::ExecutionOptions {
                    name: Some(name.to_owned()),
                },
            )
            .await
    }
}
