//! The per-project token bucket: its setting ([`RateLimit`]) and the limiter that admits or
//! refuses each request on the simulator's clock.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// A token bucket per project: `capacity` requests at once, refilled at `refill_per_second`
/// on the simulator's clock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateLimit {
    /// Bucket size (the `RateLimit-Limit` header).
    pub capacity: u32,
    /// Tokens added per second.
    pub refill_per_second: f64,
    /// Leave `Retry-After` out of 429 answers, as Atlas sometimes does.
    #[serde(default)]
    pub omit_retry_after: bool,
}

impl RateLimit {
    /// A bucket of `capacity` refilled at `refill_per_second`, with `Retry-After` headers.
    pub fn new(capacity: u32, refill_per_second: f64) -> Self {
        Self {
            capacity,
            refill_per_second,
            omit_retry_after: false,
        }
    }
}

/// The verdict of the rate limiter for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Admission {
    /// Let through; `remaining` tokens left.
    Allowed { limit: u32, remaining: u32 },
    /// Refused; a token is back after `retry_after`.
    Limited { limit: u32, retry_after: Duration },
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: SystemTime,
}

/// Token buckets per project.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    buckets: HashMap<String, Bucket>,
}

impl RateLimiter {
    pub fn admit(&mut self, limit: &RateLimit, key: &str, now: SystemTime) -> Admission {
        let capacity = f64::from(limit.capacity);
        let bucket = self.buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.duration_since(bucket.at).unwrap_or_default();
        let refill = limit.refill_per_second.max(0.0);
        bucket.tokens = (bucket.tokens + elapsed.as_secs_f64() * refill).min(capacity);
        bucket.at = now.max(bucket.at);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Admission::Allowed {
                limit: limit.capacity,
                // Truncation is the point: whole tokens left.
                remaining: bucket.tokens.floor() as u32,
            }
        } else {
            let wait = if refill > 0.0 {
                Duration::try_from_secs_f64((1.0 - bucket.tokens) / refill)
                    .unwrap_or(Duration::from_secs(3600))
            } else {
                Duration::from_secs(3600)
            };
            Admission::Limited {
                limit: limit.capacity,
                retry_after: wait,
            }
        }
    }

    pub fn clear(&mut self) {
        self.buckets.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_on_the_given_clock() {
        let mut limiter = RateLimiter::default();
        let limit = RateLimit::new(2, 0.5);
        let t0 = SystemTime::UNIX_EPOCH;
        assert!(matches!(
            limiter.admit(&limit, "g", t0),
            Admission::Allowed { remaining: 1, .. }
        ));
        assert!(matches!(
            limiter.admit(&limit, "g", t0),
            Admission::Allowed { remaining: 0, .. }
        ));
        let Admission::Limited { retry_after, .. } = limiter.admit(&limit, "g", t0) else {
            panic!("expected a refusal");
        };
        assert_eq!(retry_after, Duration::from_secs(2));
        let later = t0 + Duration::from_secs(2);
        assert!(matches!(
            limiter.admit(&limit, "g", later),
            Admission::Allowed { .. }
        ));
        assert!(matches!(
            limiter.admit(&limit, "other", t0),
            Admission::Allowed { .. }
        ));
    }
}
