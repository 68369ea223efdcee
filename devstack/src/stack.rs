//! One builder for the whole local world: the Atlas simulator and the AWS front in front of
//! moto, on one clock, wired so that each sees the other (EC2's acceptance states follow
//! Atlas's links; Atlas's links fail while AWS is still creating the endpoint).

use std::sync::Arc;

use atlas_sim::{AtlasSim, SimConfig, SimHandle};
use aws_config::SdkConfig;
use clock::SharedClock;

use crate::front::{AwsFront, AwsModels};
use crate::moto::Moto;
use crate::realism::Realism;

/// The Atlas simulator and the AWS front of one local world.
#[derive(Debug)]
pub struct DevStack {
    /// The Atlas simulator.
    pub sim: SimHandle,
    /// The AWS front (what clients use as their AWS endpoint).
    pub front: AwsFront,
}

impl DevStack {
    /// Starts the simulator (with `sim_config`, its link gate set to the front's rules) and a
    /// front in front of `moto` under `realism`, both on `clock`.
    pub async fn start(
        moto: &Moto,
        clock: SharedClock,
        mut sim_config: SimConfig,
        realism: Realism,
    ) -> Result<Self, String> {
        let models = AwsModels::new(realism, clock.clone());
        sim_config.link_gate = Some(models.clone());
        let sim = AtlasSim::start(sim_config, clock)
            .await
            .map_err(|e| format!("Atlas simulator: {e}"))?;
        models.attach_simulator(sim.clone());
        let front = AwsFront::start(&moto.endpoint, models, None).await?;
        Ok(Self { sim, front })
    }

    /// SDK configuration for the workflow's clients: the AWS front, dummy credentials,
    /// `region`.
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        self.front.sdk_config(region).await
    }

    /// The front's rules (to deny a role, say).
    pub fn models(&self) -> &Arc<AwsModels> {
        self.front.models()
    }

    /// Stops the simulator and the front (moto is the caller's).
    pub async fn shutdown(&self) {
        self.front.shutdown();
        self.sim.shutdown().await;
    }
}
