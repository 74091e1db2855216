//! The retry rules the cloud services publish, in one place: which failures are worth another
//! try, how long to wait (exponential backoff with full jitter, or the delay the service asked
//! for, unless that is longer than anyone should wait), and the deadline of one try. Every
//! client (Gemini, OpenAI-compatible, Pinecone, streamed or not) retries through
//! [`Backoff::run`]. A request is only ever retried before anything of its answer reached the
//! user; deciding that is the caller's part.

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
    /// A service that asks for a longer pause than this is not waited for: the caller is told
    /// at once instead of hanging on a rate limit.
    pub max_wait: Duration,
}

/// The deadline of a try unless configuration says otherwise.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

impl Backoff {
    pub fn new(attempts: u32, base_ms: u64, cap_ms: u64) -> Self {
        let cap = Duration::from_millis(cap_ms.max(base_ms));
        Self { attempts: attempts.max(1), base: Duration::from_millis(base_ms), cap, deadline: DEFAULT_DEADLINE, max_wait: cap }
    }

    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
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

    /// Runs tries (numbered from 1) until one is done or fails for good, the tries run out, or
    /// the service asks for a pause longer than `max_wait`; then the last failure is returned.
    /// `what` names the service in the log.
    pub async fn run<T, E, F: std::future::Future<Output = Outcome<T, E>>>(&self, what: &'static str, mut attempt: impl FnMut(u32) -> F) -> Result<T, E> {
        let mut tries = 0;
        loop {
            tries += 1;
            let (asked, failure) = match attempt(tries).await {
                Outcome::Done(value) => return Ok(value),
                Outcome::Final(failure) => return Err(failure),
                Outcome::Again { asked, failure } => (asked, failure),
            };
            let wait = asked.unwrap_or_else(|| self.delay(tries));
            if !self.has_more(tries) || wait > self.max_wait {
                tracing::debug!(what, tries, wait_ms = wait.as_millis() as u64, "no further try");
                return Err(failure);
            }
            tracing::info!(what, attempt = tries, wait_ms = wait.as_millis() as u64, "trying again");
            tokio::time::sleep(wait).await;
        }
    }
}

/// What one try came to.
pub enum Outcome<T, E> {
    Done(T),
    /// Worth another try, after the pause the service `asked` for (None: the backoff's own);
    /// `failure` is the result when no try is left.
    Again { asked: Option<Duration>, failure: E },
    /// Another try cannot help (a refusal, or an answer already under way).
    Final(E),
}

impl<T, E> Outcome<T, E> {
    /// A failure that is retried when `transient`, after the pause the service asked for.
    pub fn failed(transient: bool, asked: Option<Duration>, failure: E) -> Self {
        if transient {
            Self::Again { asked, failure }
        } else {
            Self::Final(failure)
        }
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

    #[tokio::test]
    async fn run_retries_transient_failures_until_done_or_out_of_tries() {
        let b = Backoff::new(3, 1, 2);
        let mut seen = Vec::new();
        let done: Result<u32, &str> = b
            .run("test", |n| {
                seen.push(n);
                async move { if n < 3 { Outcome::Again { asked: None, failure: "busy" } } else { Outcome::Done(n) } }
            })
            .await;
        assert_eq!((done, seen), (Ok(3), vec![1, 2, 3]));

        let mut tries = 0;
        let out: Result<(), &str> = b.run("test", |_| { tries += 1; async { Outcome::Again { asked: None, failure: "still busy" } } }).await;
        assert_eq!((out, tries), (Err("still busy"), 3), "three tries in all, then the last failure");

        let mut tries = 0;
        let out: Result<(), &str> = b.run("test", |_| { tries += 1; async { Outcome::Final("refused") } }).await;
        assert_eq!((out, tries), (Err("refused"), 1), "a refusal is not retried");

        let mut tries = 0;
        let patient = Backoff::new(5, 1, 2).with_max_wait(Duration::from_secs(10));
        let out: Result<(), &str> = patient.run("test", |_| { tries += 1; async { Outcome::Again { asked: Some(Duration::from_secs(60)), failure: "come back in a minute" } } }).await;
        assert_eq!((out, tries), (Err("come back in a minute"), 1), "a pause longer than max_wait is not waited for");
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
