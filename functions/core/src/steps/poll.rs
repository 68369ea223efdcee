//! Waiting inside one invocation: probe, sleep, probe again, until the thing is ready or the
//! invocation's polling budget is spent (then the `…NotReady` error goes to the state machine,
//! whose `Retry` starts a fresh invocation).

use std::time::Duration;

use crate::context::{Context, Polling};
use crate::error::{ErrorName, StepError};

/// What a probe found when the thing is not ready yet.
#[derive(Debug)]
pub struct NotYet {
    /// The `…NotReady` (or `AtlasRateLimited`) error to report if the budget runs out.
    pub error: StepError,
    /// Which cadence the next probe follows.
    pub next: Cadence,
}

/// Which cadence the next probe follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cadence {
    /// An EC2 read: no Atlas call, cheap to repeat.
    Ec2,
    /// An Atlas read: counts against the project's rate limit.
    Atlas,
}

impl NotYet {
    /// Not ready; probe Atlas again.
    pub fn atlas(error: StepError) -> Self {
        Self {
            error,
            next: Cadence::Atlas,
        }
    }

    /// Not ready; only EC2 needs asking again.
    pub fn ec2(error: StepError) -> Self {
        Self {
            error,
            next: Cadence::Ec2,
        }
    }
}

/// What one probe returns: ready, not yet, or a failure that ends the step.
pub type Probe<T> = Result<Result<T, NotYet>, StepError>;

/// Sorts a step error: `…NotReady` and `AtlasRateLimited` mean "not yet" (the latter also
/// slows the cadence down); anything else ends the step.
pub fn not_yet(error: StepError) -> Result<NotYet, StepError> {
    match error.name {
        ErrorName::EndpointServiceNotReady
        | ErrorName::InterfaceEndpointNotReady
        | ErrorName::ConnectionStringsNotReady
        | ErrorName::AtlasRateLimited => Ok(NotYet::atlas(error)),
        _ => Err(error),
    }
}

/// Probes until ready, within `ctx.settings.polling.budget` of the clock. Between probes it
/// sleeps the cadence the probe asked for; after an `AtlasRateLimited` the Atlas cadence
/// doubles (up to `max_every`, with jitter so many executions spread out), and each answered
/// probe halves it back towards the configured one.
pub async fn poll<T, F, Fut>(ctx: &Context, what: &str, mut probe: F) -> Result<T, StepError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Probe<T>>,
{
    let polling = &ctx.settings.polling;
    let started = ctx.clock.now();
    let mut atlas_every = polling.atlas_every;
    let mut probes = 0u32;
    loop {
        probes += 1;
        let not_yet = match probe().await? {
            Ok(ready) => {
                if probes > 1 {
                    tracing::info!(what, probes, "ready after polling");
                }
                return Ok(ready);
            }
            Err(not_yet) => not_yet,
        };
        atlas_every = next_atlas_cadence(polling, atlas_every, &not_yet.error);
        let wait = match not_yet.next {
            Cadence::Ec2 => polling.ec2_every,
            Cadence::Atlas => jittered(polling, atlas_every),
        };
        let spent = ctx.clock.now().duration_since(started).unwrap_or_default();
        if spent + wait > polling.budget {
            tracing::info!(what, probes, spent_s = spent.as_secs_f64(), reason = %not_yet.error, "polling budget spent; the state machine retries");
            return Err(not_yet.error);
        }
        ctx.clock.sleep(wait).await;
    }
}

/// The Atlas cadence after a probe that ended in `error`.
fn next_atlas_cadence(polling: &Polling, current: Duration, error: &StepError) -> Duration {
    if error.name == ErrorName::AtlasRateLimited {
        (current * 2).min(polling.max_every)
    } else {
        (current / 2).max(polling.atlas_every)
    }
}

/// `every`, spread by up to ±20 % once it has been slowed down by 429s (executions backing off
/// together would otherwise come back together); the configured cadence is kept exact.
fn jittered(polling: &Polling, every: Duration) -> Duration {
    if every <= polling.atlas_every {
        return every;
    }
    every.mul_f64(0.8 + 0.4 * rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(name: ErrorName) -> StepError {
        StepError::new(name, "x")
    }

    #[test]
    fn rate_limits_double_the_cadence_and_answers_halve_it() {
        let p = Polling::default();
        let limited = err(ErrorName::AtlasRateLimited);
        let pending = err(ErrorName::ConnectionStringsNotReady);
        let mut every = p.atlas_every;
        for _ in 0..10 {
            every = next_atlas_cadence(&p, every, &limited);
        }
        assert_eq!(every, p.max_every);
        every = next_atlas_cadence(&p, every, &pending);
        assert_eq!(every, p.max_every / 2);
        for _ in 0..10 {
            every = next_atlas_cadence(&p, every, &pending);
        }
        assert_eq!(every, p.atlas_every);
    }

    #[test]
    fn jitter_only_when_slowed_down() {
        let p = Polling::default();
        assert_eq!(jittered(&p, p.atlas_every), p.atlas_every);
        for _ in 0..100 {
            let j = jittered(&p, Duration::from_secs(30));
            assert!(j >= Duration::from_secs(24) && j <= Duration::from_secs(36));
        }
    }

    #[test]
    fn only_not_ready_and_rate_limits_are_waited_on() {
        assert!(not_yet(err(ErrorName::InterfaceEndpointNotReady)).is_ok());
        assert!(not_yet(err(ErrorName::AtlasRateLimited)).is_ok());
        assert!(not_yet(err(ErrorName::AtlasUnavailable)).is_err());
        assert!(not_yet(err(ErrorName::InterfaceEndpointRejected)).is_err());
    }
}
