//! The streaming loop the cloud chat providers share. A provider describes its protocol (how
//! to build the request, read an error, read one server-sent event); this drives it on its
//! own task: retries before the answer starts, never after text reached the user, a stream
//! that ends without a finish reason reported as interrupted, and cancellation by drop —
//! when the returned stream is dropped the task ends and its HTTP response (the upstream
//! request) is dropped with it.

use super::{LlmError, LlmEvent, LlmStream};
use crate::features::chat::FinishReason;
use crate::providers::retry::Backoff;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::mpsc;

/// A failed call or a failure reported inside the stream.
pub struct Failure {
    /// What the user is told when no retry is left.
    pub message: String,
    /// Try again after this long (None: do not).
    pub retry_in: Option<Duration>,
}

pub trait Protocol: Send + 'static {
    /// A fresh request for each try.
    fn request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder;
    /// A non-2xx answer; `attempt` counts tries so far, from 1.
    fn error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &str, attempt: u32) -> Failure;
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

async fn drive<P: Protocol>(client: reqwest::Client, mut protocol: P, backoff: Backoff, provider: &'static str, tx: &mpsc::Sender<Result<LlmEvent, LlmError>>) {
    let send = |event| async move { tx.send(event).await.is_ok() };
    let mut attempt = 0;
    'tries: loop {
        attempt += 1;
        protocol.reset();
        // The try's deadline runs until the first words: a model that accepts the request and
        // then says nothing ends the answer with a message (and the page offers Retry). After
        // that, the client's read-idle deadline ends an answer that stalls mid-way.
        let first_words_by = tokio::time::Instant::now() + backoff.deadline;
        let silent = || LlmError::Unavailable(format!("{provider} did not start answering within {} s; try again.", backoff.deadline.as_secs().max(1)));
        let response = match tokio::time::timeout_at(first_words_by, protocol.request(&client).send()).await {
            Err(_) => {
                tracing::warn!(provider, attempt, "no answer before the deadline");
                send(Err(silent())).await;
                return;
            }
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::warn!(provider, attempt, error = %e, "request failed");
                if backoff.has_more(attempt) {
                    tokio::time::sleep(backoff.delay(attempt)).await;
                    continue;
                }
                send(Err(LlmError::Unavailable(format!("Could not reach {provider}; try again in a minute.")))).await;
                return;
            }
        };
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let headers = response.headers().clone();
            let body = response.text().await.unwrap_or_default();
            let failure = protocol.error(status, &headers, &body, attempt);
            tracing::warn!(provider, attempt, status, message = %failure.message, "provider refused");
            match failure.retry_in {
                Some(wait) => {
                    tokio::time::sleep(wait).await;
                    continue;
                }
                None => {
                    send(Err(LlmError::Unavailable(failure.message))).await;
                    return;
                }
            }
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
                        send(Err(silent())).await;
                        return;
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
                        if !send(Ok(e)).await || finish {
                            return;
                        }
                    }
                }
                // Tries are counted here too: a service that keeps failing inside the stream
                // must not be retried for ever.
                Err(failure) => match failure.retry_in.filter(|_| !delivered && backoff.has_more(attempt)) {
                    Some(wait) => {
                        tokio::time::sleep(wait).await;
                        continue 'tries;
                    }
                    None => {
                        send(Err(LlmError::Unavailable(failure.message))).await;
                        return;
                    }
                },
            }
        }
        if let Some(last) = protocol.end() {
            for e in last {
                if !send(Ok(e)).await {
                    return;
                }
            }
            return;
        }
        // Cut off before it finished. Nothing shown yet: a fresh try is invisible to the user.
        if !delivered && backoff.has_more(attempt) {
            tokio::time::sleep(backoff.delay(attempt)).await;
            continue;
        }
        send(Ok(LlmEvent::Finish(FinishReason::Interrupted))).await;
        return;
    }
}
