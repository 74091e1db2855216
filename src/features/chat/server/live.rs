//! Answers being written by this process, so a Stop can reach the task writing one at once.
//! Who may stop an answer is decided in SQL (`store::request_stop`); a Stop made through another
//! process arrives by `NOTIFY answer_stop` (see `stop_listener`) or, if that notification was
//! lost, by the flag the writer reads at its next checkpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use uuid::Uuid;

/// Why an answer's writer should stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Halt {
    /// Keep writing.
    No,
    /// Its reader asked to stop: the text so far is the answer.
    Stop,
    /// This process is shutting down: the text so far is kept, marked interrupted.
    Shutdown,
}

#[derive(Clone, Default)]
pub struct LiveAnswers {
    inner: Arc<Mutex<HashMap<Uuid, watch::Sender<Halt>>>>,
}

/// Held by the task writing an answer; the entry goes when it is dropped.
pub struct LiveAnswer {
    answers: LiveAnswers,
    id: Uuid,
    pub halt: watch::Receiver<Halt>,
}

impl Drop for LiveAnswer {
    fn drop(&mut self) {
        self.answers.map().remove(&self.id);
    }
}

impl LiveAnswers {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, watch::Sender<Halt>>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn start(&self, answer: Uuid) -> LiveAnswer {
        let (tx, rx) = watch::channel(Halt::No);
        self.map().insert(answer, tx);
        LiveAnswer { answers: self.clone(), id: answer, halt: rx }
    }

    /// Tells the answer's writer to stop, if this process is writing it.
    pub fn halt(&self, answer: Uuid, why: Halt) {
        if let Some(tx) = self.map().get(&answer) {
            tx.send_if_modified(|h| std::mem::replace(h, why) != why);
        }
    }

    /// Every answer this process is writing (on shutdown); how many there were.
    pub fn halt_all(&self, why: Halt) -> usize {
        let map = self.map();
        for tx in map.values() {
            tx.send_if_modified(|h| std::mem::replace(h, why) != why);
        }
        map.len()
    }

    pub fn count(&self) -> usize {
        self.map().len()
    }
}

/// Delivers Stops made through other processes: `NOTIFY answer_stop, '<answer id>'`. The
/// connection is re-made after a database outage; Stops notified meanwhile still arrive through
/// the flag each writer reads at its checkpoints.
pub async fn stop_listener(db: sqlx::PgPool, live: LiveAnswers) {
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&db).await {
            Ok(l) => l,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for Stops yet; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(super::store::STOP_CHANNEL).await {
            tracing::warn!(%error, "cannot listen for Stops yet; retrying");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(n) => {
                    if let Ok(id) = Uuid::parse_str(n.payload()) {
                        live.halt(id, Halt::Stop);
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "lost the Stop listener's connection; reconnecting");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}
