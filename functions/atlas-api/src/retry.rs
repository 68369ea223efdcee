//! How the client retries 429 and 5xx: bounded attempts and total wait, `Retry-After` honoured,
//! exponential back-off with jitter.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use clock::Clock;
use rand::RngExt;

use crate::error::{ApiErrorBody, AtlasError};

/// The client's retry budget for throttling and transient faults.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First back-off step.
    pub base_delay: Duration,
    /// Largest single back-off step (a larger `Retry-After` is still honoured, within budget).
    pub max_delay: Duration,
    /// Most time spent waiting between attempts of one call.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    /// Six attempts, 1 s doubling to 20 s, at most 60 s of waiting: short enough for a Lambda
    /// timeout, long enough to ride out a token-bucket refill. Longer outages are the state
    /// machine's to retry (`AtlasRateLimited`, `AtlasUnavailable`).
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(20),
            max_total_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// For reads that a poller repeats anyway: one retry (after `Retry-After`), then the error
    /// goes back to the poller, which slows its own cadence down. Fewer requests pile onto a
    /// project that is already over its rate limit.
    pub fn polling() -> Self {
        Self {
            max_attempts: 2,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (1-based), given Atlas's `Retry-After`: at least
    /// `Retry-After`, and at least a jittered exponential step ("equal jitter": half fixed, half
    /// random), so that many clients throttled together do not come back together.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
            .min(self.max_delay);
        let half = exp / 2;
        let jitter = if half.is_zero() {
            Duration::ZERO
        } else {
            let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
            Duration::from_nanos(rand::rng().random_range(0..=nanos))
        };
        let backoff = half + jitter;
        match retry_after {
            // Waiting exactly Retry-After puts every throttled caller back at the same instant;
            // add a little jitter on top of it.
            Some(after) => after + jitter.min(Duration::from_secs(1)),
            None => backoff,
        }
        .max(retry_after.unwrap_or_default())
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// A response read in full: what the retry loop and the callers need of it.
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// A failure before any response arrived (timeout, refused connection, TLS).
pub(crate) struct TransportError(pub(crate) String);

impl RawResponse {
    /// Reads a response from `reqwest`, turning transport failures into [`TransportError`].
    pub(crate) async fn from_send(
        sent: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<RawResponse, TransportError> {
        let response = sent.map_err(transport_error)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(transport_error)?.to_vec();
        Ok(RawResponse {
            status,
            retry_after,
            body,
        })
    }
}

/// Describes a reqwest failure without its URL's query or any header (no secrets in there,
/// but keep the message short and stable).
pub(crate) fn transport_error(e: reqwest::Error) -> TransportError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    TransportError(format!("{kind}: {}", e.without_url()))
}

/// Why an attempt did not succeed.
enum Failure {
    /// 429 or 5xx.
    Status(RawResponse),
    /// No response at all.
    Transport(TransportError),
}

fn is_transient(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// Runs `attempt` until it gets a response that is not 429/5xx, or the budget is spent.
///
/// Waits go through `clock`, so virtual time makes them free in tests. Returns the final
/// response (any non-transient status, for the caller to map), or the named error.
pub(crate) async fn send_with_retries<F, Fut>(
    policy: &RetryPolicy,
    clock: &dyn Clock,
    operation: &'static str,
    mut attempt: F,
) -> Result<RawResponse, AtlasError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<RawResponse, TransportError>>,
{
    let mut waited = Duration::ZERO;
    let max_attempts = policy.max_attempts.max(1);
    for number in 1..=max_attempts {
        let started = Instant::now();
        let outcome = attempt(number).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let (retry_after, failure) = match outcome {
            Ok(raw) if !is_transient(raw.status) => {
                tracing::debug!(
                    operation,
                    status = raw.status,
                    attempt = number,
                    elapsed_ms,
                    "atlas call"
                );
                return Ok(raw);
            }
            Ok(raw) => {
                let retry_after = raw
                    .retry_after
                    .as_deref()
                    .and_then(|v| parse_retry_after(v, clock.now()));
                (retry_after, Failure::Status(raw))
            }
            Err(transport) => (None, Failure::Transport(transport)),
        };
        let delay = policy.delay(number, retry_after);
        let out_of_budget = number == max_attempts || waited + delay > policy.max_total_wait;
        match &failure {
            Failure::Status(raw) => tracing::warn!(
                operation,
                status = raw.status,
                attempt = number,
                retry_after_s = retry_after.map(|d| d.as_secs()),
                wait_ms = if out_of_budget {
                    0
                } else {
                    delay.as_millis() as u64
                },
                "atlas call throttled or failed"
            ),
            Failure::Transport(transport) => tracing::warn!(
                operation,
                error = %transport.0,
                attempt = number,
                elapsed_ms,
                "atlas call got no response"
            ),
        }
        if out_of_budget {
            return Err(final_error(operation, number, retry_after, failure));
        }
        clock.sleep(delay).await;
        waited += delay;
    }
    // The loop returns on its last attempt; this is only reached with max_attempts == 0,
    // which `max(1)` rules out.
    Err(AtlasError::Unavailable {
        operation,
        attempts: 0,
        status: None,
        detail: "no attempt was made".into(),
    })
}

fn final_error(
    operation: &'static str,
    attempts: u32,
    retry_after: Option<Duration>,
    failure: Failure,
) -> AtlasError {
    match failure {
        Failure::Status(raw) if raw.status == 429 => AtlasError::RateLimited {
            operation,
            attempts,
            code: ApiErrorBody::parse(&raw.body)
                .error_code
                .unwrap_or_else(|| "RATE_LIMITED".into()),
            retry_after,
        },
        Failure::Status(raw) => {
            let body = ApiErrorBody::parse(&raw.body);
            AtlasError::Unavailable {
                operation,
                attempts,
                status: Some(raw.status),
                detail: format!(
                    "HTTP {} {}",
                    raw.status,
                    body.error_code.unwrap_or_default()
                )
                .trim_end()
                .to_owned(),
            }
        }
        Failure::Transport(transport) => AtlasError::Unavailable {
            operation,
            attempts,
            status: None,
            detail: transport.0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_honours_retry_after_and_grows() {
        let p = RetryPolicy::default();
        for retry in 1..=6 {
            let d = p.delay(retry, Some(Duration::from_secs(7)));
            assert!(d >= Duration::from_secs(7), "{d:?}");
            assert!(d <= Duration::from_secs(8), "{d:?}");
        }
        let first = p.delay(1, None);
        assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
        let late = p.delay(10, None);
        assert!(late >= Duration::from_secs(10) && late <= Duration::from_secs(20));
    }

    #[test]
    fn parses_retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("5", now), Some(Duration::from_secs(5)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
