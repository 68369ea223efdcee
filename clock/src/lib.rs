//! Time for atlas-privatelink: the real clock in Lambda, and clocks that run faster than real
//! time for tests, the local runner, the demo and the benchmarks.
//!
//! Everything that waits (client back-off, the simulator's state changes, Step Functions `Wait`
//! and `Retry` intervals in the local runner) asks a [`Clock`] instead of calling
//! `tokio::time` directly, so one shared clock can replay a twenty-minute provisioning in
//! seconds.
//!
//! * [`SystemClock`]: real time.
//! * [`ScaledClock`]: real time multiplied by a factor (for a simulator in its own process).
//! * [`VirtualClock`]: discrete-event time. It stands still while any participant is working
//!   and jumps straight to the next wake-up once every participant is asleep, so the order of
//!   events is the order they would have in real time, whatever the machine's speed.

mod virtual_clock;

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub use virtual_clock::VirtualClock;

/// A boxed future, so [`Clock`] stays object safe.
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A source of the current time and of sleeps.
pub trait Clock: Send + Sync + Debug {
    /// The current time on this clock.
    fn now(&self) -> SystemTime;

    /// Waits until `duration` has passed on this clock.
    ///
    /// On a [`VirtualClock`], a participant that calls this counts as asleep from the call on:
    /// await the sleep directly, never race it against real work (use real-time timeouts).
    fn sleep(&self, duration: Duration) -> Sleep<'_>;

    /// Time elapsed on this clock since `earlier` (zero if `earlier` is in the future).
    fn since(&self, earlier: SystemTime) -> Duration {
        self.now().duration_since(earlier).unwrap_or_default()
    }
}

/// A clock shared between components.
pub type SharedClock = Arc<dyn Clock>;

/// Real time: `SystemTime::now()` and `tokio::time::sleep`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl SystemClock {
    /// The real clock as a [`SharedClock`].
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Real time running `factor` times faster, starting from the real time of its creation.
///
/// Used by the stand-alone simulator, whose clients live in other processes and cannot share a
/// [`VirtualClock`]: with a factor of 100, a 150-second state change takes 1.5 s.
#[derive(Debug, Clone)]
pub struct ScaledClock {
    origin_wall: SystemTime,
    origin: Instant,
    factor: f64,
}

impl ScaledClock {
    /// A clock that runs `factor` times faster than real time. Factors at or below zero, or not
    /// finite, are treated as 1.
    pub fn new(factor: f64) -> Self {
        let factor = if factor.is_finite() && factor > 0.0 {
            factor
        } else {
            1.0
        };
        Self {
            origin_wall: SystemTime::now(),
            origin: Instant::now(),
            factor,
        }
    }

    /// The speed-up factor.
    pub fn factor(&self) -> f64 {
        self.factor
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> SystemTime {
        self.origin_wall + self.origin.elapsed().mul_f64(self.factor)
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        Box::pin(tokio::time::sleep(duration.div_f64(self.factor)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scaled_clock_runs_faster() {
        let clock = ScaledClock::new(1000.0);
        let start = clock.now();
        clock.sleep(Duration::from_secs(2)).await;
        assert!(clock.since(start) >= Duration::from_secs(2));
    }

    #[test]
    fn scaled_clock_rejects_nonsense_factors() {
        assert_eq!(ScaledClock::new(0.0).factor(), 1.0);
        assert_eq!(ScaledClock::new(f64::NAN).factor(), 1.0);
        assert_eq!(ScaledClock::new(-5.0).factor(), 1.0);
    }
}
