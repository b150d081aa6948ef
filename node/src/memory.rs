//! Giving memory back to the system once a burst of traffic is over.
//!
//! glibc's malloc keeps what it frees inside its heaps and returns only the
//! free space at the very top of each; everything below a live allocation
//! stays resident. After the node benchmark's 256-sender run that was
//! ≈ 40 MiB on an idle node (92 MiB resident, 53 MiB after one
//! `malloc_trim(0)`; docs/benchmark-history.md). A box with 512 MiB that
//! runs for months would carry its worst burst for good.
//!
//! `malloc_trim(0)` hands every free page of every arena back
//! (`MADV_DONTNEED`), so the node calls it once traffic has gone quiet: after
//! a tick with requests or WebSocket frames, the first tick without any. It costs
//! a walk over the free lists, about a millisecond, and only after activity.
//!
//! Two other ways were measured and left: glibc tunables
//! (`arena_max`/`trim_threshold` only trim the top of the heap — no change),
//! and mimalloc (gave memory back, but raised idle RSS from 15 to 30 MiB and
//! the 256-sender peak from 97 to 125 MiB).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How long traffic must pause before the node trims.
pub const QUIET: Duration = Duration::from_secs(2);

/// Counts requests and WebSocket frames, so that the trimmer knows whether
/// the node has been busy.
#[derive(Debug, Default)]
pub struct Activity(AtomicU64);

impl Activity {
    /// Note one request or frame.
    pub fn note(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// When to trim: a tick of [`QUIET`] that saw activity arms it, the next
/// quiet tick fires it, once.
#[derive(Debug)]
pub struct Schedule {
    seen: u64,
    armed: bool,
}

impl Schedule {
    /// Start from the activity count now.
    pub fn new(count: u64) -> Self {
        Schedule {
            seen: count,
            armed: false,
        }
    }

    /// A tick with the activity count now; true if this is the time to trim.
    pub fn tick(&mut self, count: u64) -> bool {
        if count != self.seen {
            self.seen = count;
            self.armed = true;
            false
        } else {
            std::mem::take(&mut self.armed)
        }
    }
}

/// Trim after every burst until `shutdown`.
pub async fn give_back_after_bursts(
    activity: std::sync::Arc<Activity>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(QUIET);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut schedule = Schedule::new(activity.count());
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        if schedule.tick(activity.count()) {
            let started = std::time::Instant::now();
            let released = trim();
            tracing::debug!(released, took = ?started.elapsed(), "returned free memory after a burst");
        }
    }
}

/// Return free heap pages to the system; true if any were released.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn trim() -> bool {
    // SAFETY: malloc_trim takes no pointers and locks each arena itself; it
    // is safe to call from any thread at any time (glibc malloc_trim(3)).
    unsafe { libc::malloc_trim(0) != 0 }
}

/// Other C libraries (musl) return memory on their own; nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_after_each_burst_and_never_while_busy_or_idle() {
        let mut s = Schedule::new(5);
        // Idle from the start: never.
        assert!(!s.tick(5));
        assert!(!s.tick(5));
        // Busy: not while requests keep coming.
        assert!(!s.tick(9));
        assert!(!s.tick(30));
        // The first quiet tick trims, later quiet ticks do not.
        assert!(s.tick(30));
        assert!(!s.tick(30));
        assert!(!s.tick(30));
        // A second burst, a second trim.
        assert!(!s.tick(31));
        assert!(s.tick(31));
    }
}
