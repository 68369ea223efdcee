//! Retriers and catchers at run time: matching error names, and the back-off between attempts.
//! Their parsed form (`Retrier`, `Catcher`) is in `definition`, with the rest of the definition.

use std::time::Duration;

use crate::definition::{Catcher, Jitter, Retrier};
use crate::error::{Failure, names};

/// Whether `patterns` (an `ErrorEquals` list) matches `failure`.
///
/// `States.ALL` matches every error except `States.Runtime` and `States.DataLimitExceeded`;
/// `States.TaskFailed` matches the same except `States.Timeout`; other names match exactly.
/// Failures raised by data processing (`States.Runtime`) match nothing: AWS never retries or
/// catches them.
pub(crate) fn matches(patterns: &[String], failure: &Failure) -> bool {
    if !failure.catchable {
        return false;
    }
    let name = failure.error.as_deref().unwrap_or("");
    let terminal = name == names::RUNTIME || name == names::DATA_LIMIT;
    patterns.iter().any(|pattern| match pattern.as_str() {
        names::ALL => !terminal,
        names::TASK_FAILED => !terminal && name != names::TIMEOUT,
        exact => exact == name,
    })
}

/// The delay before the next attempt, or `None` if no retrier applies (any more).
///
/// Only the first retrier whose `ErrorEquals` matches is considered; `attempts[i]` counts the
/// retries retrier `i` has made during this visit of the state. `random` gives a number in
/// `[0, 1)` for `FULL` jitter.
pub(crate) fn next_delay(
    retriers: &[Retrier],
    attempts: &mut [u64],
    failure: &Failure,
    random: &mut dyn FnMut() -> f64,
) -> Option<Duration> {
    let index = retriers.iter().position(|r| matches(&r.errors, failure))?;
    let retrier = &retriers[index];
    let made = attempts.get_mut(index)?;
    if *made >= retrier.max_attempts {
        return None;
    }
    let exponent = i32::try_from(*made).unwrap_or(i32::MAX);
    *made += 1;
    let mut seconds = retrier.interval_seconds as f64 * retrier.backoff_rate.powi(exponent);
    if let Some(max) = retrier.max_delay_seconds {
        seconds = seconds.min(max as f64);
    }
    if retrier.jitter == Jitter::Full {
        seconds *= random();
    }
    // Keep the delay representable whatever the back-off does (AWS caps intervals anyway).
    let seconds = if seconds.is_finite() {
        seconds.clamp(0.0, 1.0e9)
    } else {
        1.0e9
    };
    Some(Duration::from_secs_f64(seconds))
}

/// The first catcher whose `ErrorEquals` matches.
pub(crate) fn find_catcher<'c>(catchers: &'c [Catcher], failure: &Failure) -> Option<&'c Catcher> {
    catchers.iter().find(|c| matches(&c.errors, failure))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrier(
        errors: &[&str],
        interval: u64,
        max: u64,
        rate: f64,
        max_delay: Option<u64>,
    ) -> Retrier {
        Retrier {
            errors: errors.iter().map(|e| e.to_string()).collect(),
            interval_seconds: interval,
            max_attempts: max,
            backoff_rate: rate,
            max_delay_seconds: max_delay,
            jitter: Jitter::None,
        }
    }

    #[test]
    fn wildcards_follow_aws_rules() {
        let all = vec!["States.ALL".to_string()];
        let task = vec!["States.TaskFailed".to_string()];
        let custom = Failure::new("EndpointServiceNotReady", "");
        let timeout = Failure::new("States.Timeout", "");
        let runtime = Failure::runtime("bad path");
        assert!(matches(&all, &custom) && matches(&all, &timeout));
        assert!(matches(&task, &custom) && !matches(&task, &timeout));
        assert!(!matches(&all, &runtime));
        assert!(!matches(&["States.Runtime".to_string()], &runtime));
        assert!(matches(&["EndpointServiceNotReady".to_string()], &custom));
        assert!(!matches(&["Other".to_string()], &custom));
    }

    #[test]
    fn backoff_follows_the_documented_example() {
        // AWS's example: ErrorA, ErrorB, ErrorC, ErrorB, ErrorB → waits 1, 2, 5, 4, then give up.
        let retriers = [
            retrier(&["ErrorA", "ErrorB"], 1, 2, 2.0, None),
            retrier(&["ErrorC"], 5, 3, 2.0, None),
        ];
        let mut attempts = [0, 0];
        let mut random = || 0.5;
        let mut delay = |name: &str| {
            next_delay(
                &retriers,
                &mut attempts,
                &Failure::new(name, ""),
                &mut random,
            )
        };
        assert_eq!(delay("ErrorA"), Some(Duration::from_secs(1)));
        assert_eq!(delay("ErrorB"), Some(Duration::from_secs(2)));
        assert_eq!(delay("ErrorC"), Some(Duration::from_secs(5)));
        assert_eq!(
            delay("ErrorB"),
            None,
            "the first retrier has used its two attempts"
        );
    }

    #[test]
    fn max_delay_caps_and_jitter_scales() {
        let mut r = retrier(&["States.ALL"], 2, 5, 3.0, Some(10));
        let mut attempts = [0];
        let failure = Failure::new("X", "");
        let mut half = || 0.5;
        let delays: Vec<_> = (0..5)
            .map(|_| next_delay(std::slice::from_ref(&r), &mut attempts, &failure, &mut half))
            .collect();
        let secs: Vec<f64> = delays
            .iter()
            .map(|d| d.expect("retry").as_secs_f64())
            .collect();
        assert_eq!(secs, vec![2.0, 6.0, 10.0, 10.0, 10.0]);
        r.jitter = Jitter::Full;
        let mut attempts = [0];
        let d = next_delay(std::slice::from_ref(&r), &mut attempts, &failure, &mut half);
        assert_eq!(d, Some(Duration::from_secs(1)));
        let never = retrier(&["States.ALL"], 1, 0, 2.0, None);
        assert_eq!(next_delay(&[never], &mut [0], &failure, &mut half), None);
    }
}
