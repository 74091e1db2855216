//! Questions → vectors, the embedding work every question pays for. Two savings, both pure
//! (a vector depends only on the model and the text, so no process can hold a stale one):
//! - a bounded cache: the same suggested questions are asked again and again;
//! - coalescing: questions arriving while the model is busy wait for the running pass and are
//!   then embedded together in one, instead of each its own pass. One short question alone
//!   keeps the model's weights in use for a handful of tokens; a batch of them shares that.
//!   A question that arrives when the model is idle is embedded at once, alone.

use super::{EmbedError, Embedder, Purpose};
use crate::providers::cache::VersionedCache;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Questions embedded in one pass at most (the local model's gain flattens past this).
const MAX_BATCH: usize = 32;
/// Questions waiting per model before new ones are refused as busy.
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<Vec<f32>, EmbedError>>;

pub struct QueryEmbeddings {
    cache: VersionedCache<(String, String), Vec<f32>>,
    /// One coalescing queue per model, started on first use.
    queues: Mutex<HashMap<String, mpsc::Sender<(String, Reply)>>>,
}

impl QueryEmbeddings {
    /// `budget_bytes` of vectors are kept (a 384-dimension vector and its question weigh ~2 KB).
    pub fn new(budget_bytes: usize) -> Self {
        Self { cache: VersionedCache::new(budget_bytes, |v: &Vec<f32>| v.len() * 4 + 256), queues: Mutex::new(HashMap::new()) }
    }

    /// The vector of `question` in `embedder`'s space.
    pub async fn embed(&self, embedder: &Arc<dyn Embedder>, question: &str) -> Result<Arc<Vec<f32>>, EmbedError> {
        let key = (embedder.id().to_owned(), question.to_owned());
        // The cache's single flight makes concurrent askers of one question share one pass.
        self.cache.get_or_fill(key, 0, || self.coalesced(embedder, question)).await
    }

    async fn coalesced(&self, embedder: &Arc<dyn Embedder>, question: &str) -> Result<Vec<f32>, EmbedError> {
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            let queue = queues.entry(embedder.id().to_owned()).or_insert_with(|| start(embedder.clone()));
            if queue.is_closed() {
                *queue = start(embedder.clone());
            }
            queue.clone()
        };
        let (reply, answer) = oneshot::channel();
        queue
            .try_send((question.to_owned(), reply))
            .map_err(|_| EmbedError::Transient("too many questions are waiting for the embedding model".into()))?;
        answer.await.map_err(|_| EmbedError::Transient("the embedding queue stopped".into()))?
    }
}

/// Starts `embedder`'s queue: each pass takes every question waiting (up to `MAX_BATCH`), and
/// at most `embedder.concurrent_calls()` passes run at once.
fn start(embedder: Arc<dyn Embedder>) -> mpsc::Sender<(String, Reply)> {
    let (tx, mut rx) = mpsc::channel::<(String, Reply)>(QUEUE);
    let passes = Arc::new(Semaphore::new(embedder.concurrent_calls().max(1)));
    let max = MAX_BATCH.min(embedder.batch_size().max(1));
    tokio::spawn(async move {
        loop {
            // The permit first: while every pass is busy, new questions gather into the next batch.
            let Ok(permit) = passes.clone().acquire_owned().await else { return };
            let Some(first) = rx.recv().await else { return };
            let mut batch = vec![first];
            while batch.len() < max {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let embedder = embedder.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let (texts, replies): (Vec<String>, Vec<Reply>) = batch.into_iter().unzip();
                match embedder.embed(texts, Purpose::Query).await {
                    Ok(vectors) if vectors.len() == replies.len() => {
                        for (reply, vector) in replies.into_iter().zip(vectors) {
                            let _ = reply.send(Ok(vector));
                        }
                    }
                    Ok(vectors) => {
                        let message = format!("the embedding model returned {} vectors for {} questions", vectors.len(), replies.len());
                        for reply in replies {
                            let _ = reply.send(Err(EmbedError::Transient(message.clone())));
                        }
                    }
                    Err(error) => {
                        for reply in replies {
                            let _ = reply.send(Err(match &error {
                                EmbedError::Transient(m) => EmbedError::Transient(m.clone()),
                                EmbedError::Permanent(m) => EmbedError::Permanent(m.clone()),
                            }));
                        }
                    }
                }
            });
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::BoxFuture;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts passes and texts; each vector is [text length, pass number].
    struct Counting {
        passes: AtomicUsize,
        texts: AtomicUsize,
        gate: tokio::sync::Semaphore,
    }

    impl Embedder for Counting {
        fn id(&self) -> &str {
            "test/counting"
        }
        fn dimension(&self) -> usize {
            2
        }
        fn batch_size(&self) -> usize {
            64
        }
        fn embed<'a>(&'a self, texts: Vec<String>, _: Purpose) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
            Box::pin(async move {
                let pass = self.passes.fetch_add(1, Ordering::SeqCst) + 1;
                self.texts.fetch_add(texts.len(), Ordering::SeqCst);
                // Held until the test lets a pass finish.
                self.gate.acquire().await.unwrap().forget();
                Ok(texts.iter().map(|t| vec![t.len() as f32, pass as f32]).collect())
            })
        }
    }

    #[tokio::test]
    async fn questions_waiting_for_a_busy_model_share_the_next_pass_and_repeats_are_cached() {
        let model = Arc::new(Counting { passes: AtomicUsize::new(0), texts: AtomicUsize::new(0), gate: Semaphore::new(0) });
        let embedder: Arc<dyn Embedder> = model.clone();
        let queries = Arc::new(QueryEmbeddings::new(1 << 20));
        let ask = |q: &'static str| {
            let (queries, embedder) = (queries.clone(), embedder.clone());
            tokio::spawn(async move { queries.embed(&embedder, q).await.unwrap() })
        };
        let first = ask("a");
        while model.passes.load(Ordering::SeqCst) < 1 {
            tokio::task::yield_now().await;
        }
        // The model is busy with "a": these queue up, one of them twice.
        let waiting: Vec<_> = ["bb", "ccc", "bb", "dddd"].into_iter().map(ask).collect();
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        assert_eq!(model.passes.load(Ordering::SeqCst), 1, "nothing else starts while the only pass runs");
        model.gate.add_permits(2);
        assert_eq!(*first.await.unwrap(), vec![1.0, 1.0]);
        let mut vectors = Vec::new();
        for w in waiting {
            vectors.push(w.await.unwrap());
        }
        assert_eq!(vectors.iter().map(|v| v.as_ref().clone()).collect::<Vec<Vec<f32>>>(), vec![vec![2.0, 2.0], vec![3.0, 2.0], vec![2.0, 2.0], vec![4.0, 2.0]]);
        assert_eq!(model.passes.load(Ordering::SeqCst), 2, "the waiting questions went in one pass");
        assert_eq!(model.texts.load(Ordering::SeqCst), 4, "the repeated question was embedded once");
        // Asked again later: from the cache, no pass.
        assert_eq!(*queries.embed(&embedder, "ccc").await.unwrap(), vec![3.0, 2.0]);
        assert_eq!(model.passes.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_pass_fails_each_of_its_questions_with_the_models_error_and_is_not_cached() {
        struct Refusing(AtomicUsize);
        impl Embedder for Refusing {
            fn id(&self) -> &str {
                "test/refusing"
            }
            fn dimension(&self) -> usize {
                2
            }
            fn batch_size(&self) -> usize {
                8
            }
            fn embed<'a>(&'a self, _: Vec<String>, _: Purpose) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
                let n = self.0.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move { if n == 0 { Err(EmbedError::Permanent("bad key".into())) } else { Ok(vec![vec![1.0, 0.0]]) } })
            }
        }
        let embedder: Arc<dyn Embedder> = Arc::new(Refusing(AtomicUsize::new(0)));
        let queries = QueryEmbeddings::new(1 << 20);
        assert!(matches!(queries.embed(&embedder, "q").await, Err(EmbedError::Permanent(m)) if m == "bad key"));
        assert_eq!(*queries.embed(&embedder, "q").await.unwrap(), vec![1.0, 0.0], "a failure is not remembered");
    }
}
