//! Free space on the data dir's filesystem, and the floor below which the
//! node stops taking new data.
//!
//! Why a floor: redb needs room to commit (and to reopen after a crash),
//! and a box whose card is 100 % full cannot even log. Below the floor,
//! uploads and new messages get `storage_full` while reads, logins and
//! deletions go on, so a household can still read and free space.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use onionchat_proto::wire::ErrorCode;

use crate::error::Failure;

/// How long a measurement is reused (a message burst must not cost one
/// `statvfs` per message, but space must show up again within a second).
const FRESH_FOR: Duration = Duration::from_secs(1);

/// The floor when nobody configured one: 256 MiB or 5 % of the filesystem
/// (counting at most [`PERCENT_SHARE_CAP`]), whichever is more.
pub const DEFAULT_FLOOR_BYTES: u64 = 256 * 1024 * 1024;
/// See [`DEFAULT_FLOOR_BYTES`].
pub const DEFAULT_FLOOR_PERCENT: u64 = 5;
/// The percentage share of the floor stops growing here: 5 % of a 32 GB
/// card is a sensible reserve, 5 % of a 2 TB disk is not.
pub const PERCENT_SHARE_CAP: u64 = 1024 * 1024 * 1024;

/// A filesystem's size and what an unprivileged process may still use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of the whole filesystem.
    pub total: u64,
    /// Bytes available to the node (`f_bavail`, not counting root's reserve).
    pub available: u64,
}

/// The floor in bytes for a filesystem of `total` bytes: `floor_bytes`,
/// or `floor_percent` of the filesystem up to [`PERCENT_SHARE_CAP`],
/// whichever is more.
pub fn floor_for(total: u64, floor_bytes: u64, floor_percent: u64) -> u64 {
    let share = u128::from(total) * u128::from(floor_percent.min(100)) / 100;
    floor_bytes.max((share as u64).min(PERCENT_SHARE_CAP))
}

/// Measures free space with a short cache.
pub struct DiskSpace {
    dir: PathBuf,
    floor_bytes: AtomicU64,
    floor_percent: AtomicU64,
    cached: Mutex<Option<(Instant, Usage)>>,
    /// Bytes promised to uploads whose bytes are still arriving: several
    /// uploads that each fit must not together overrun the floor.
    promised: AtomicU64,
    reserving: Mutex<()>,
}

/// Room kept for one upload's bytes while they arrive; given back when
/// dropped (the bytes are then on disk, or the upload failed).
pub struct SpaceReservation {
    space: std::sync::Arc<DiskSpace>,
    bytes: u64,
}

impl Drop for SpaceReservation {
    fn drop(&mut self) {
        self.space.promised.fetch_sub(self.bytes, Ordering::Relaxed);
        // The disk changed by up to `bytes`: measure again next time.
        self.space.invalidate();
    }
}

impl DiskSpace {
    /// Space of the filesystem holding `dir`, with the default floor.
    pub fn new(dir: PathBuf) -> Self {
        DiskSpace {
            dir,
            floor_bytes: AtomicU64::new(DEFAULT_FLOOR_BYTES),
            floor_percent: AtomicU64::new(DEFAULT_FLOOR_PERCENT),
            cached: Mutex::new(None),
            promised: AtomicU64::new(0),
            reserving: Mutex::new(()),
        }
    }

    /// Set the floor (the larger of `bytes` and `percent` of the filesystem).
    pub fn set_floor(&self, bytes: u64, percent: u64) {
        self.floor_bytes.store(bytes, Ordering::Relaxed);
        self.floor_percent.store(percent, Ordering::Relaxed);
    }

    /// The filesystem's usage now (at most a second old).
    pub fn usage(&self) -> Option<Usage> {
        let mut g = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, u)) = *g
            && at.elapsed() < FRESH_FOR
        {
            return Some(u);
        }
        let st = rustix::fs::statvfs(&self.dir).ok()?;
        let u = Usage {
            total: st.f_blocks.saturating_mul(st.f_frsize),
            available: st.f_bavail.saturating_mul(st.f_frsize),
        };
        *g = Some((Instant::now(), u));
        Some(u)
    }

    /// Check with a fresh measurement that `bytes` fit above the floor
    /// (besides what other uploads were promised), and keep them promised
    /// until the reservation is dropped.
    pub fn reserve(self: &std::sync::Arc<Self>, bytes: u64) -> Result<SpaceReservation, Failure> {
        // One at a time, so two uploads cannot both take the last room.
        let _one_at_a_time = self.reserving.lock().unwrap_or_else(|p| p.into_inner());
        self.invalidate();
        self.check(bytes)?;
        self.promised.fetch_add(bytes, Ordering::Relaxed);
        Ok(SpaceReservation {
            space: self.clone(),
            bytes,
        })
    }

    /// Forget the last measurement: a write just failed for lack of space,
    /// so the next check must look again rather than trust a second-old
    /// figure.
    fn invalidate(&self) {
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Bytes available to the node, if the filesystem answers.
    pub fn available(&self) -> Option<u64> {
        self.usage().map(|u| u.available)
    }

    /// Refuse with `storage_full` unless `extra` more bytes fit above the
    /// floor. A filesystem that cannot be measured is not refused (the
    /// commit itself will say so if it is really full).
    pub fn check(&self, extra: u64) -> Result<(), Failure> {
        let Some(mut u) = self.usage() else {
            return Ok(());
        };
        u.available = u
            .available
            .saturating_sub(self.promised.load(Ordering::Relaxed));
        let floor = floor_for(
            u.total,
            self.floor_bytes.load(Ordering::Relaxed),
            self.floor_percent.load(Ordering::Relaxed),
        );
        if u.available < floor.saturating_add(extra) {
            return Err(Failure::reject(
                ErrorCode::StorageFull,
                format!(
                    "the box's storage is nearly full ({} MiB free, {} MiB kept in reserve); \
                     reading still works — ask its owner to free space",
                    u.available / (1024 * 1024),
                    floor / (1024 * 1024)
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_the_larger_of_bytes_and_percent() {
        let gib = 1024 * 1024 * 1024;
        assert_eq!(floor_for(2 * gib, 256 << 20, 5), 256 << 20);
        assert_eq!(floor_for(16 * gib, 256 << 20, 5), 16 * gib * 5 / 100);
        assert_eq!(
            floor_for(2048 * gib, 256 << 20, 5),
            gib,
            "the share stops at 1 GiB"
        );
        assert_eq!(
            floor_for(2048 * gib, 4 * gib, 5),
            4 * gib,
            "bytes can ask for more"
        );
        assert_eq!(floor_for(64 * gib, 0, 0), 0);
    }

    #[test]
    fn refuses_below_the_floor_and_measures_the_real_filesystem() {
        let tmp = tempfile::tempdir().expect("tmp");
        let space = DiskSpace::new(tmp.path().to_path_buf());
        let u = space.usage().expect("statvfs works on a temp dir");
        assert!(u.total > 0 && u.available <= u.total);
        space.set_floor(0, 0);
        space.check(0).expect("no floor: fine");
        let err = space.check(u.available + 1).expect_err("more than is free");
        assert_eq!(err.to_api_error().code, ErrorCode::StorageFull);
        space.set_floor(u64::MAX, 0);
        assert!(space.check(0).is_err(), "a floor above the disk refuses");
        // Reservations count against what is free until they are dropped.
        // (Margins of 64 MiB: other programs use this disk meanwhile.)
        let space = std::sync::Arc::new(space);
        space.set_floor(0, 0);
        let mib = 1024 * 1024;
        let most = space
            .usage()
            .expect("usage")
            .available
            .saturating_sub(64 * mib);
        let first = space.reserve(most).expect("all but 64 MiB fits");
        let err = space
            .reserve(128 * mib)
            .err()
            .expect("128 MiB more does not");
        assert_eq!(err.to_api_error().code, ErrorCode::StorageFull);
        drop(first);
        space.reserve(128 * mib).expect("fits once given back");
        space.set_floor(0, 100);
        let whole = floor_for(u.total, 0, 100);
        assert_eq!(space.check(0).is_err(), u.available < whole);
    }
}
