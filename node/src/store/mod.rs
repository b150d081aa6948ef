//! Storage: one redb database in the data dir, written by one thread.
//!
//! All writes go through [`Store::write`]: the closure runs on the writer
//! thread, inside a transaction shared with whatever other writes are
//! queued at that moment (group commit), and its caller hears back only
//! after that transaction is durably committed (`Durability::Immediate`,
//! i.e. fsync). Events a write produces are published to live connections
//! from the writer thread right after the commit, so they go out in commit
//! order.
//!
//! **Convention for write closures:** check everything first, write last.
//! A closure that returns `Failure::Rejected` must not have written
//! anything, because its transaction is shared with other requests. A
//! storage error aborts the whole batch and every request in it fails.

pub mod accounts;
pub mod backup;
pub mod backup_crypt;
pub mod check;
pub mod files;
pub mod friends;
pub mod messages;
mod quota;
pub mod rooms;
pub mod schema;
pub mod space;
#[cfg(test)]
mod tests;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use onionchat_proto::wire::{ErrorCode, RoomId, UserId};
use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction};
use serde::{Serialize, de::DeserializeOwned};

use crate::error::{Failure, reject};
use crate::hub::{Event, Hub};
use schema::*;

pub use writer::WriteStats;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    writer: writer::WriterHandle,
    data_dir: PathBuf,
    node_id: String,
    uploads: files::Uploads,
    space: Arc<space::DiskSpace>,
    /// Each member's quota in bytes (files, messages, rosters and grants).
    user_quota: Arc<std::sync::atomic::AtomicU64>,
}

/// CBOR-encode a record.
pub(crate) fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, Failure> {
    Ok(onionchat_proto::encode(v)?)
}

/// CBOR-decode a record (records are trusted but still size-checked).
pub(crate) fn dec<T: DeserializeOwned>(b: &[u8]) -> Result<T, Failure> {
    Ok(onionchat_proto::decode_with(
        b,
        onionchat_proto::Limits::with_max_len(64 * 1024 * 1024),
    )?)
}

/// Default redb page cache: small enough for a Pi Zero 2 W (512 MiB RAM).
pub const DEFAULT_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Path of the database file inside a data dir.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("onionchat.redb")
}

impl Store {
    /// Open (or create) the database in `data_dir`, migrate it, clean up
    /// interrupted uploads, and start the writer thread.
    pub fn open(data_dir: &Path, hub: Arc<Hub>) -> Result<Store, Failure> {
        Self::open_with_cache(data_dir, hub, DEFAULT_CACHE_BYTES)
    }

    /// Like [`Store::open`] with an explicit page-cache size. redb's own
    /// default (1 GiB) would let a home box's memory grow with its database.
    pub fn open_with_cache(
        data_dir: &Path,
        hub: Arc<Hub>,
        cache_bytes: usize,
    ) -> Result<Store, Failure> {
        std::fs::create_dir_all(data_dir)?;
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(db_path(data_dir))
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => Failure::Internal(format!(
                    "another onionchat-node is already running with the data directory {} \
                     (stop it first: sudo systemctl stop onionchat-node)",
                    data_dir.display()
                )),
                e => Failure::Internal(format!("cannot open {}: {e}", db_path(data_dir).display())),
            })?;
        migrate(&db)?;
        let id = db
            .begin_read()?
            .open_table(META)?
            .get("node_id")?
            .map(|g| g.value())
            .unwrap_or(0);
        let db = Arc::new(db);
        let store = Store {
            writer: writer::spawn(db.clone(), hub),
            db,
            data_dir: data_dir.to_path_buf(),
            node_id: format!("id:{id:016x}"),
            uploads: files::Uploads::default(),
            space: Arc::new(space::DiskSpace::new(data_dir.to_path_buf())),
            user_quota: Arc::new(u64::MAX.into()),
        };
        store.cleanup_interrupted_uploads()?;
        Ok(store)
    }

    /// Free space of the data dir's filesystem and the floor below which
    /// new messages and uploads are refused.
    pub fn space(&self) -> &space::DiskSpace {
        &self.space
    }

    /// Set each member's quota (unlimited until set).
    pub fn set_user_quota(&self, bytes: u64) {
        self.user_quota
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Each member's quota in bytes (files, messages, rosters and grants).
    pub(crate) fn user_quota(&self) -> u64 {
        self.user_quota.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Who pays for a write of `user`'s rosters and grants.
    pub(crate) fn payer(&self, user: UserId) -> rooms::Payer {
        rooms::Payer {
            user,
            quota: self.user_quota(),
        }
    }

    /// Keep room for `bytes` of a file while they arrive (checked against
    /// a fresh measurement and other uploads in progress).
    pub fn reserve_space(&self, bytes: u64) -> Result<space::SpaceReservation, Failure> {
        self.space.reserve(bytes)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Run `f` in the next group commit; returns after the commit is durable.
    pub async fn write<T, F>(&self, f: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<(T, Vec<Event>), Failure> + Send + 'static,
    {
        self.writer.write(f).await
    }

    /// Counters of the writer (batches, commits) for benchmarks and status.
    pub fn write_stats(&self) -> WriteStats {
        self.writer.stats()
    }

    /// Resolves, with the reason, if the disk fails under a commit: the
    /// writer has stopped and the node must exit so its service manager
    /// restarts it with a freshly opened database (redb refuses every write
    /// after an I/O error until then). Never resolves otherwise.
    pub async fn storage_failed(&self) -> String {
        self.writer.stopped().await
    }

    /// A consistent read snapshot.
    pub fn read(&self) -> Result<ReadTransaction, Failure> {
        Ok(self.db.begin_read()?)
    }

    /// Size of the database file in bytes.
    pub fn db_bytes(&self) -> u64 {
        std::fs::metadata(db_path(&self.data_dir))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// This node's id, as sign-ups and logins over TCP name it (`id:` + 16
    /// hex digits); made once with the database.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Load a user, or `not_found`.
    pub fn user(&self, id: UserId) -> Result<UserRecord, Failure> {
        get_user(&self.read()?, id)
    }

    /// Load a room, or `not_found`.
    pub fn room(&self, id: RoomId) -> Result<RoomRecord, Failure> {
        get_room_read(&self.read()?, id)
    }

    /// Everyone who shares at least one room with `user` (excluding them).
    pub fn contacts_of(&self, user: UserId) -> Result<Vec<UserId>, Failure> {
        let r = self.read()?;
        let memberships = r.open_table(MEMBERSHIPS)?;
        let rooms = r.open_table(ROOMS)?;
        let mut out = std::collections::BTreeSet::new();
        for entry in memberships.range((user.0, [0u8; 16])..=(user.0, [0xffu8; 16]))? {
            let (k, _) = entry?;
            let room_id = k.value().1;
            if let Some(g) = rooms.get(room_id)? {
                let room: RoomRecord = dec(g.value())?;
                out.extend(room.members.into_iter().filter(|m| *m != user.0));
            }
        }
        Ok(out.into_iter().map(UserId).collect())
    }
}

/// Read a user in any transaction kind.
pub(crate) fn get_user(r: &impl ReadTables, id: UserId) -> Result<UserRecord, Failure> {
    match r.users_get(id.0)? {
        Some(bytes) => dec(&bytes),
        None => reject(ErrorCode::NotFound, format!("no user {id}")),
    }
}

pub(crate) fn get_room_read(r: &ReadTransaction, id: RoomId) -> Result<RoomRecord, Failure> {
    let t = r.open_table(ROOMS)?;
    match t.get(id.0)? {
        Some(g) => dec(g.value()),
        None => reject(ErrorCode::NotFound, "no such room"),
    }
}

/// Lets helpers read users from either a read or a write transaction.
pub(crate) trait ReadTables {
    fn users_get(&self, id: u64) -> Result<Option<Vec<u8>>, Failure>;
}
impl ReadTables for ReadTransaction {
    fn users_get(&self, id: u64) -> Result<Option<Vec<u8>>, Failure> {
        Ok(self.open_table(USERS)?.get(id)?.map(|g| g.value().to_vec()))
    }
}
impl ReadTables for WriteTransaction {
    fn users_get(&self, id: u64) -> Result<Option<Vec<u8>>, Failure> {
        Ok(self.open_table(USERS)?.get(id)?.map(|g| g.value().to_vec()))
    }
}

/// Take the next value of a META counter (starting at 1).
pub(crate) fn next_id(txn: &WriteTransaction, name: &str) -> Result<u64, Failure> {
    let mut meta = txn.open_table(META)?;
    let next = meta.get(name)?.map(|g| g.value()).unwrap_or(1);
    meta.insert(name, next + 1)?;
    Ok(next)
}

/// Create every table and bring the schema to [`SCHEMA_VERSION`].
fn migrate(db: &Database) -> Result<(), Failure> {
    let txn = db.begin_write()?;
    let found = {
        let meta = txn.open_table(META)?;
        meta.get("schema_version")?.map(|g| g.value())
    };
    match found {
        Some(v) if v > SCHEMA_VERSION => {
            return Err(Failure::Internal(format!(
                "the database has schema version {v}, newer than this node understands ({SCHEMA_VERSION}); \
                 run a newer onionchat-node or restore a backup"
            )));
        }
        Some(v) if v == SCHEMA_VERSION => {}
        Some(v @ (2 | 3)) => {
            // 2 → 3: the index of pending friend requests by pair.
            if v == 2 {
                let mut index = txn.open_table(PENDING_PAIRS)?;
                for entry in txn.open_table(FRIEND_REQUESTS)?.iter()? {
                    let (k, v) = entry?;
                    let r: FriendRequestRecord = dec(v.value())?;
                    if r.state == onionchat_proto::wire::FriendRequestState::Pending {
                        index.insert((r.from.min(r.to), r.from.max(r.to)), k.value())?;
                    }
                }
            }
            // 3 → 4: rosters and key grants count against the quota, and
            // messages are counted afresh (a schema-3 store may predate
            // the message count).
            let mut bad = None;
            let rooms = quota::room_sizes(
                &txn.open_table(ROSTERS)?,
                &txn.open_table(GRANTS)?,
                &txn.open_table(FINGERPRINTS)?,
                |p| bad = Some(p),
            )?;
            if let Some(what) = bad {
                return Err(Failure::Internal(format!(
                    "cannot upgrade the database: {what}"
                )));
            }
            let messages = quota::message_sizes(&txn.open_table(MESSAGES)?)
                .map_err(|e| Failure::Internal(format!("cannot upgrade the database: {e}")))?;
            for (table, sizes) in [(ROOM_USAGE, rooms), (MSG_USAGE, messages)] {
                let mut t = txn.open_table(table)?;
                t.retain(|_, _| false)?;
                for (user, bytes) in sizes {
                    t.insert(user, bytes)?;
                }
            }
            txn.open_table(META)?
                .insert("schema_version", SCHEMA_VERSION)?;
        }
        // Version 1 was the pre-release protocol 1 (rooms without signed
        // rosters); no box ran it, so there is nothing to carry over.
        Some(1) => {
            return Err(Failure::Internal(
                "the database was made by a pre-release node (protocol 1); \
                 move it away and start again"
                    .into(),
            ));
        }
        // Fresh database (None) or older versions: create/upgrade step by step.
        // Version 1 is the first layout, so creating the tables is its migration.
        _ => {
            txn.open_table(USERS)?;
            txn.open_table(USERNAMES)?;
            txn.open_table(FINGERPRINTS)?;
            txn.open_table(SESSIONS)?;
            txn.open_table(INVITES)?;
            txn.open_table(FRIEND_REQUESTS)?;
            txn.open_table(PENDING_PAIRS)?;
            txn.open_table(FRIENDSHIPS)?;
            txn.open_table(ROOMS)?;
            txn.open_table(ROOM_SEQ)?;
            txn.open_table(MEMBERSHIPS)?;
            txn.open_table(GRANTS)?;
            txn.open_table(ROSTERS)?;
            txn.open_table(MESSAGES)?;
            txn.open_table(MSG_IDS)?;
            txn.open_table(MARKERS)?;
            txn.open_table(FILES)?;
            txn.open_table(USAGE)?;
            txn.open_table(MSG_USAGE)?;
            txn.open_table(ROOM_USAGE)?;
            let mut meta = txn.open_table(META)?;
            meta.insert("schema_version", SCHEMA_VERSION)?;
            if meta.get("node_id")?.is_none() {
                let id = u64::from_be_bytes(onionchat_proto::crypto::random_array());
                meta.insert("node_id", id)?;
            }
        }
    }
    txn.commit()?;
    Ok(())
}
