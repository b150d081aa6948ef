//! The single writer thread and its group commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{Database, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use crate::error::Failure;
use crate::hub::{Event, Hub};

/// Most write requests folded into one transaction.
const MAX_BATCH: usize = 512;
/// Queue depth before callers wait (back-pressure instead of memory growth).
const QUEUE: usize = 1024;

type Completion = Box<dyn FnOnce(Result<(), &Failure>, &Hub) + Send>;
type Job = Box<dyn FnOnce(&WriteTransaction) -> (Completion, bool) + Send>;

/// Counters for benchmarks and the status screen.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteStats {
    /// Transactions committed.
    pub commits: u64,
    /// Write requests carried out.
    pub writes: u64,
}

#[derive(Clone)]
pub(super) struct WriterHandle {
    tx: mpsc::Sender<Job>,
    commits: Arc<AtomicU64>,
    writes: Arc<AtomicU64>,
}

pub(super) fn spawn(db: Arc<Database>, hub: Arc<Hub>) -> WriterHandle {
    let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
    let commits = Arc::new(AtomicU64::new(0));
    let writes = Arc::new(AtomicU64::new(0));
    let (c2, w2) = (commits.clone(), writes.clone());
    std::thread::Builder::new()
        .name("onionchat-writer".into())
        .spawn(move || {
            let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
            // Ends when every Store handle is dropped and the queue is drained,
            // so shutdown finishes in-flight commits.
            while let Some(first) = rx.blocking_recv() {
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                run_batch(&db, &hub, &mut batch, &c2, &w2);
            }
        })
        .unwrap_or_else(|e| panic!("cannot start the storage writer thread: {e}"));
    WriterHandle {
        tx,
        commits,
        writes,
    }
}

fn run_batch(
    db: &Database,
    hub: &Hub,
    batch: &mut Vec<Job>,
    commits: &AtomicU64,
    writes: &AtomicU64,
) {
    let txn = match db.begin_write() {
        Ok(t) => t,
        Err(e) => {
            let f = Failure::from(e);
            // Nothing ran: fail every job without running it.
            for job in batch.drain(..) {
                drop(job);
            }
            tracing::error!(error = %f, "cannot begin a write transaction");
            return;
        }
    };
    let mut completions = Vec::with_capacity(batch.len());
    let mut storage_failed = false;
    for job in batch.drain(..) {
        let (completion, failed) = job(&txn);
        storage_failed |= failed;
        completions.push(completion);
    }
    let result = if storage_failed {
        txn.abort().ok();
        Err(Failure::Internal(
            "a storage error aborted this batch".into(),
        ))
    } else {
        txn.commit().map_err(Failure::from)
    };
    if let Err(e) = &result {
        tracing::error!(error = %e, "group commit failed; nothing in it was stored");
    }
    // Counted before anyone is answered, so a caller that has its reply
    // also sees its write in the stats.
    commits.fetch_add(1, Ordering::Relaxed);
    writes.fetch_add(completions.len() as u64, Ordering::Relaxed);
    for c in completions {
        c(result.as_ref().map(|_| ()), hub);
    }
}

impl WriterHandle {
    pub(super) fn stats(&self) -> WriteStats {
        WriteStats {
            commits: self.commits.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }

    pub(super) async fn write<T, F>(&self, f: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<(T, Vec<Event>), Failure> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, Failure>>();
        let job: Job = Box::new(move |txn| {
            let outcome = f(txn);
            let storage_failed = matches!(outcome, Err(Failure::Internal(_)));
            let completion: Completion = Box::new(move |commit, hub| {
                let result = match (outcome, commit) {
                    (Ok((value, events)), Ok(())) => {
                        hub.publish(events);
                        Ok(value)
                    }
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(Failure::Internal(e.to_string())),
                };
                let _ = reply.send(result);
            });
            (completion, storage_failed)
        });
        self.tx
            .send(job)
            .await
            .map_err(|_| Failure::Internal("the storage writer has stopped".into()))?;
        answer.await.unwrap_or_else(|_| {
            Err(Failure::Internal(
                "the storage writer dropped a request".into(),
            ))
        })
    }
}
