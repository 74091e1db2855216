//! A process being told to stop (SIGTERM, Ctrl-C). Whoever holds work that another process
//! could finish watches this: the HTTP server stops accepting, answers being written end with
//! their text kept, and ingestion workers give their jobs back to the queue.

use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        let (tx, rx) = watch::channel(false);
        Self { tx: Arc::new(tx), rx }
    }
}

impl Shutdown {
    pub fn begin(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_requested(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown has begun (at once if it already has).
    pub async fn requested(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|begun| *begun).await;
    }
}
