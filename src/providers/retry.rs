//! The retry rules the cloud services publish, in one place: which failures are worth another
//! try, and how long to wait (exponential backoff with full jitter, or the delay the service
//! asked for). A request is only ever retried before anything of its answer reached the user.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Backoff {
    /// Tries in total, the first included.
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    /// Deadline of one try: a request whose answer is not complete by then (or, for a streamed
    /// answer, whose first words have not come) is abandoned.
    pub deadline: Duration,
}

/// The deadline of a try unless configuration says otherwise.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

impl Backoff {
    pub fn new(attempts: u32, base_ms: u64, cap_ms: u64) -> Self {
        Self { attempts: attempts.max(1), base: Duration::from_millis(base_ms), cap: Duration::from_millis(cap_ms.max(base_ms)), deadline: DEFAULT_DEADLINE }
    }

    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline.max(Duration::from_millis(1));
        self
    }

    /// The pause before try `attempt + 1` (attempt counts from 1): a random time up to
    /// base·2^(attempt-1), capped. Full jitter keeps many clients from retrying in step.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << (attempt.saturating_sub(1)).min(16)).min(self.cap);
        let ms = ceiling.as_millis() as u64;
        // Never less than a quarter of the ceiling: an instant retry of an overloaded service
        // is wasted.
        Duration::from_millis(ms / 4 + rand::random::<u64>() % (ms - ms / 4 + 1))
    }

    pub fn has_more(&self, attempt: u32) -> bool {
        attempt < self.attempts
    }
}

/// Why a try got no answer: the connection failed, or the try's deadline passed.
#[derive(Debug, thiserror::Error)]
pub enum TryFailed {
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("no complete answer within {0:?}")]
    Deadline(Duration),
}

/// Runs one try (the request and the reading of its answer) under the try's deadline.
pub async fn within<T>(deadline: Duration, attempt: impl std::future::Future<Output = Result<T, reqwest::Error>>) -> Result<T, TryFailed> {
    match tokio::time::timeout(deadline, attempt).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(TryFailed::Deadline(deadline)),
    }
}

/// Statuses both Google and Pinecone document as transient.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// A protobuf `Duration` in its JSON form: "47s", "45.837906927s".
pub fn parse_proto_duration(raw: &str) -> Option<Duration> {
    let secs: f64 = raw.trim().strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_under_the_cap_and_vary() {
        let b = Backoff::new(5, 100, 1000);
        for attempt in 1..=8 {
            let ceiling = (100u64 << (attempt - 1)).min(1000);
            for _ in 0..50 {
                let d = b.delay(attempt).as_millis() as u64;
                assert!(d >= ceiling / 4 && d <= ceiling, "attempt {attempt}: {d} ms outside {}..={ceiling}", ceiling / 4);
            }
        }
        let seen: std::collections::HashSet<u128> = (0..50).map(|_| b.delay(3).as_millis()).collect();
        assert!(seen.len() > 5, "jitter: {seen:?}");
        assert!(b.has_more(4) && !b.has_more(5));
    }

    #[test]
    fn proto_durations_whole_and_fractional() {
        assert_eq!(parse_proto_duration("47s"), Some(Duration::from_secs(47)));
        assert_eq!(parse_proto_duration("0.25s"), Some(Duration::from_millis(250)));
        assert!(parse_proto_duration("45.837906927s").unwrap() > Duration::from_secs(45));
        assert_eq!(parse_proto_duration("soon"), None);
        assert_eq!(parse_proto_duration("-1s"), None);
    }
}
