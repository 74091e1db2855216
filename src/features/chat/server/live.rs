//! Answers being written right now, so Stop can reach the task writing one. Each entry is
//! owned by one user; stopping someone else's answer finds nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use uuid::Uuid;

#[derive(Clone, Default)]
pub struct LiveAnswers {
    inner: Arc<Mutex<HashMap<Uuid, (Uuid, watch::Sender<bool>)>>>,
}

/// Held by the task writing an answer; the entry goes when it is dropped.
pub struct LiveAnswer {
    answers: LiveAnswers,
    id: Uuid,
    pub stop: watch::Receiver<bool>,
}

impl Drop for LiveAnswer {
    fn drop(&mut self) {
        self.answers.inner.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.id);
    }
}

impl LiveAnswers {
    pub fn start(&self, answer: Uuid, owner: Uuid) -> LiveAnswer {
        let (tx, rx) = watch::channel(false);
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).insert(answer, (owner, tx));
        LiveAnswer { answers: self.clone(), id: answer, stop: rx }
    }

    /// Asks the answer's task to stop; false when `owner` has no such answer in flight.
    pub fn stop(&self, answer: Uuid, owner: Uuid) -> bool {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&answer) {
            Some((o, tx)) if *o == owner => tx.send(true).is_ok(),
            _ => false,
        }
    }

    pub fn is_live(&self, answer: Uuid) -> bool {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&answer)
    }
}
