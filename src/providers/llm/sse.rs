//! The streaming loop the cloud chat providers share. A provider describes its protocol (how
//! to build the request, read an error, read one server-sent event); this drives it on its
//! own task: retries before the answer starts, never after text reached the user, a stream
//! that ends without a finish reason reported as interrupted, and cancellation by drop —
//! when the returned stream is dropped the task ends and its HTTP response (the upstream
//! request) is dropped with it.

use super::{LlmError, LlmEvent, LlmStream};
use crate::domain::FinishReason;
use crate::providers::retry::{Backoff, Outcome};
use eventsource_stream::Eventsource;
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc;

/// A failed call or a failure reported inside the stream.
pub struct Failure {
    /// What the user is told when no retry is left.
    pub message: String,
    /// Whether another try could help (before anything reached the user).
    pub transient: bool,
    /// The pause the service asked for.
    pub asked: Option<Duration>,
}

impl Failure {
    pub fn permanent(message: String) -> Self {
        Self { message, transient: false, asked: None }
    }

    pub fn from_gemini(e: &crate::providers::gemini::ApiError) -> Self {
        Self { message: e.user_message(), transient: e.worth_retrying(), asked: e.retry_delay }
    }
}

pub trait Protocol: Send + 'static {
    /// A fresh request for each try.
    fn request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder;
    /// A non-2xx answer.
    fn error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &str) -> Failure;
    /// One event's data. A `Finish` among the events ends the answer.
    fn event(&mut self, data: &str) -> Result<Vec<LlmEvent>, Failure>;
    /// The body ended; a protocol that already knows how the answer finished returns its
    /// last events (usage, finish).
    fn end(&mut self) -> Option<Vec<LlmEvent>>;
    /// Forget what an abandoned try saw (usage, a pending finish) before the next one.
    fn reset(&mut self);
}

/// Starts `protocol` on its own task and returns its events.
pub fn spawn<P: Protocol>(client: reqwest::Client, protocol: P, backoff: Backoff, provider: &'static str) -> LlmStream {
    let (tx, mut rx) = mpsc::channel::<Result<LlmEvent, LlmError>>(32);
    tokio::spawn(async move {
        let closed = tx.clone();
        tokio::select! {
            _ = closed.closed() => tracing::debug!(provider, "answer stream dropped; upstream request closed"),
            _ = drive(client, protocol, backoff, provider, &tx) => {}
        }
    });
    Box::pin(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

async fn drive<P: Protocol>(client: reqwest::Client, protocol: P, backoff: Backoff, provider: &'static str, tx: &mpsc::Sender<Result<LlmEvent, LlmError>>) {
    // Each try borrows the protocol in turn; the lock is never contended.
    let protocol = tokio::sync::Mutex::new(protocol);
    let ended = backoff.run(provider, |attempt| one_try(&client, &protocol, backoff.deadline, provider, tx, attempt)).await;
    // The last event of an answer that ended without finishing: the reason, or "interrupted".
    if let Err(last) = ended {
        let _ = tx.send(last).await;
    }
}

/// One request and its stream. Done when the answer finished or nobody listens any more; a
/// failure carries the event that ends the answer if no further try is made.
async fn one_try<P: Protocol>(
    client: &reqwest::Client,
    protocol: &tokio::sync::Mutex<P>,
    deadline: Duration,
    provider: &'static str,
    tx: &mpsc::Sender<Result<LlmEvent, LlmError>>,
    attempt: u32,
) -> Outcome<(), Result<LlmEvent, LlmError>> {
    let unavailable = |message: String| Err(LlmError::Unavailable(message));
    let mut protocol = protocol.lock().await;
    protocol.reset();
    // The try's deadline runs until the first words: a model that accepts the request and then
    // says nothing ends the answer with a message (and the page offers Retry). After that, the
    // client's read-idle deadline ends an answer that stalls mid-way.
    let first_words_by = tokio::time::Instant::now() + deadline;
    let silent = || unavailable(format!("{provider} did not start answering within {} s; try again.", deadline.as_secs().max(1)));
    let response = match tokio::time::timeout_at(first_words_by, protocol.request(client).send()).await {
        Err(_) => {
            tracing::warn!(provider, attempt, "no answer before the deadline");
            return Outcome::Final(silent());
        }
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::warn!(provider, attempt, error = %e, "request failed");
            return Outcome::Again { asked: None, failure: unavailable(format!("Could not reach {provider}; try again in a minute.")) };
        }
    };
    let status = response.status().as_u16();
    if !response.status().is_success() {
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        let failure = protocol.error(status, &headers, &body);
        tracing::warn!(provider, attempt, status, message = %failure.message, "provider refused");
        return Outcome::failed(failure.transient, failure.asked, unavailable(failure.message));
    }
    let mut events = response.bytes_stream().eventsource();
    let mut delivered = false;
    loop {
        let next = if delivered {
            events.next().await
        } else {
            match tokio::time::timeout_at(first_words_by, events.next()).await {
                Ok(next) => next,
                Err(_) => {
                    tracing::warn!(provider, attempt, "no words before the deadline");
                    return Outcome::Final(silent());
                }
            }
        };
        let Some(event) = next else { break };
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!(provider, attempt, error = %e, delivered, "stream broke");
                break;
            }
        };
        match protocol.event(&event.data) {
            Ok(out) => {
                for e in out {
                    let finish = matches!(e, LlmEvent::Finish(_));
                    delivered |= matches!(e, LlmEvent::Text(_));
                    if tx.send(Ok(e)).await.is_err() || finish {
                        return Outcome::Done(());
                    }
                }
            }
            // A failure inside the stream is retried only while nothing reached the user, and
            // counts as a try: a service that keeps failing there is not retried for ever.
            Err(failure) => return Outcome::failed(failure.transient && !delivered, failure.asked, unavailable(failure.message)),
        }
    }
    if let Some(last) = protocol.end() {
        for e in last {
            if tx.send(Ok(e)).await.is_err() {
                break;
            }
        }
        return Outcome::Done(());
    }
    // Cut off before it finished. Nothing shown yet: a fresh try is invisible to the user.
    Outcome::failed(!delivered, None, Ok(LlmEvent::Finish(FinishReason::Interrupted)))
}
