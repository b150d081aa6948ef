//! The single writer thread and its group commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redb::{Database, WriteTransaction};
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::Failure;
use crate::hub::{Event, Hub};

/// Most write requests folded into one transaction.
const MAX_BATCH: usize = 512;
/// Queue depth before callers wait (back-pressure instead of memory growth).
const QUEUE: usize = 1024;

type Completion = Box<dyn FnOnce(Result<(), &Failure>, &Hub) + Send>;
type Job = Box<dyn FnOnce(&WriteTransaction) -> (Completion, JobFailure) + Send>;

/// How a job's closure went, as far as its batch is concerned.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum JobFailure {
    /// It succeeded or was refused (and wrote nothing).
    None,
    /// It failed inside the node and may have written half: abort the batch.
    AbortBatch,
    /// The disk failed under it: abort, and stop the writer.
    Fatal,
}

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
    /// Set (once) to why the writer stopped for good.
    stopped: watch::Receiver<Option<String>>,
}

/// What the writer does after a batch.
enum Next {
    Continue,
    /// The disk failed under a commit: redb answers every later write with
    /// `PreviousIo` until the database is reopened, so serving on would
    /// only turn every send into an error. Stop; the node exits and its
    /// service manager starts it again (with a freshly opened database).
    Stop(String),
}

pub(super) fn spawn(db: Arc<Database>, hub: Arc<Hub>) -> WriterHandle {
    let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
    let commits = Arc::new(AtomicU64::new(0));
    let writes = Arc::new(AtomicU64::new(0));
    let (c2, w2) = (commits.clone(), writes.clone());
    let (stop_tx, stopped) = watch::channel(None);
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
                if let Next::Stop(why) = run_batch(&db, &hub, &mut batch, &c2, &w2) {
                    tracing::error!(error = %why, "storage failed; no more writes until the node restarts");
                    // Queued and later requests are dropped unanswered,
                    // which their callers report as `WriterStopped`.
                    rx.close();
                    let _ = stop_tx.send(Some(why));
                    break;
                }
            }
        })
        .unwrap_or_else(|e| panic!("cannot start the storage writer thread: {e}"));
    WriterHandle {
        tx,
        commits,
        writes,
        stopped,
    }
}

fn run_batch(
    db: &Database,
    hub: &Hub,
    batch: &mut Vec<Job>,
    commits: &AtomicU64,
    writes: &AtomicU64,
) -> Next {
    let txn = match db.begin_write() {
        Ok(t) => t,
        Err(e) => {
            let f = Failure::from(e);
            // Nothing ran: fail every job without running it (their
            // callers hear `WriterStopped` or an internal error).
            batch.clear();
            tracing::error!(error = %f, "cannot begin a write transaction");
            return if f.is_fatal_storage() {
                Next::Stop(f.to_string())
            } else {
                Next::Continue
            };
        }
    };
    let mut completions = Vec::with_capacity(batch.len());
    let mut failure = JobFailure::None;
    for job in batch.drain(..) {
        let (completion, failed) = job(&txn);
        failure = failure.max(failed);
        completions.push(completion);
    }
    let result = if failure == JobFailure::Fatal {
        txn.abort().ok();
        Err(Failure::Storage(redb::Error::PreviousIo))
    } else if failure == JobFailure::AbortBatch {
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
    let next = match &result {
        Err(e) if e.is_fatal_storage() => Next::Stop(e.to_string()),
        _ => Next::Continue,
    };
    for c in completions {
        c(result.as_ref().map(|_| ()), hub);
    }
    next
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
            // A refusal wrote nothing (the convention in store/mod.rs);
            // any other failure may have written half, so the batch goes.
            let failure = match &outcome {
                Err(e) if e.is_fatal_storage() => JobFailure::Fatal,
                Err(e) if e.is_internal() => JobFailure::AbortBatch,
                _ => JobFailure::None,
            };
            let completion: Completion = Box::new(move |commit, hub| {
                let result = match (outcome, commit) {
                    (Ok((value, events)), Ok(())) => {
                        hub.publish(events);
                        Ok(value)
                    }
                    (Err(e), _) if e.is_fatal_storage() => Err(Failure::WriterStopped),
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) if e.is_fatal_storage() => Err(Failure::WriterStopped),
                    (Ok(_), Err(e)) => Err(Failure::Internal(e.to_string())),
                };
                let _ = reply.send(result);
            });
            (completion, failure)
        });
        self.tx
            .send(job)
            .await
            .map_err(|_| Failure::WriterStopped)?;
        answer.await.unwrap_or(Err(Failure::WriterStopped))
    }

    /// Resolves (with the reason) once the writer has stopped for good
    /// after a storage failure; never resolves otherwise.
    pub(super) async fn stopped(&self) -> String {
        let mut rx = self.stopped.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(why) => why.clone().unwrap_or_default(),
            // The writer thread ended without a failure (every handle
            // dropped): nothing to report, ever.
            Err(_) => std::future::pending().await,
        }
    }
}
