//! Files: metadata in redb, bytes in `blobs/` next to the database.
//!
//! Why files and not redb values: uploads stream to disk without holding a
//! write transaction (which would stall every chat message behind a slow
//! upload), `Range` reads are a seek, and deleting a file frees its space
//! at once. The order makes it crash-safe: bytes go to `blobs/tmp/<id>`,
//! are fsynced, renamed to `blobs/<id>`, the directory is fsynced, and only
//! then is the metadata marked complete in a durable commit. On start,
//! `tmp/` is emptied, incomplete metadata is dropped and blobs without
//! complete metadata are deleted, so an interrupted upload leaves nothing.
//!
//! Quota: an announced file reserves its size in the uploader's `USAGE`
//! at once (so announcing many large files cannot overrun it), and the
//! reservation goes when the file is deleted, expires unfinished, or is
//! removed by retention. On start the usage is recounted from the files
//! present, so it always equals them.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use onionchat_proto::crypto::file_stream::{ciphertext_len, decode_header};
use onionchat_proto::crypto::{OpenError, PublicIdentity, SignContext};
use onionchat_proto::now_ms;
use onionchat_proto::wire::{ErrorCode, FileId, FileInfo, RoomId, ServerFrame, Signed, UserId};
use redb::{ReadableTable, ReadableTableMetadata};

use super::rooms::load_room;
use super::schema::*;
use super::{Store, dec, enc};
use crate::error::{Failure, reject};
use crate::hub::Event;

/// Public view of a file record.
pub fn file_info(id: [u8; 16], rec: &FileRecord) -> FileInfo {
    FileInfo {
        file_id: FileId(id),
        room_id: RoomId(rec.room_id),
        uploader: UserId(rec.uploader),
        ciphertext_len: rec.ciphertext_len,
        header: rec.header.clone(),
        created_at: rec.created_at,
        complete: rec.complete,
    }
}

/// How long an announced upload may stay unfinished before its record and
/// quota reservation are dropped.
pub const UNFINISHED_UPLOAD_TTL_MS: u64 = 24 * 3600 * 1000;

/// Files whose bytes are being received right now (one upload per file).
#[derive(Default, Clone)]
pub(crate) struct Uploads(Arc<Mutex<HashSet<[u8; 16]>>>);

/// The right to receive one file's bytes; released when dropped.
pub struct UploadClaim {
    uploads: Uploads,
    id: [u8; 16],
}

impl Drop for UploadClaim {
    fn drop(&mut self) {
        self.uploads
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// Limits that apply to one upload.
#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    /// Largest ciphertext accepted.
    pub max_file_bytes: u64,
}

impl Store {
    /// Directory of completed blobs.
    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir().join("blobs")
    }

    /// Where a completed blob lives.
    pub fn blob_path(&self, id: FileId) -> PathBuf {
        self.blob_dir().join(id.to_hex())
    }

    /// Where an upload in progress is written.
    pub fn upload_path(&self, id: FileId) -> PathBuf {
        self.blob_dir()
            .join("tmp")
            .join(format!("{}.part", id.to_hex()))
    }

    /// Record an announced upload (not visible to others until complete).
    pub async fn announce_file(
        &self,
        user: UserId,
        user_key: &PublicIdentity,
        room_id: RoomId,
        header: Signed,
        limits: FileLimits,
    ) -> Result<FileInfo, Failure> {
        let body = decode_header(&header).map_err(|e| match e {
            OpenError::Malformed { .. } => Failure::reject(ErrorCode::Malformed, e.to_string()),
            _ => Failure::reject(ErrorCode::Invalid, e.to_string()),
        })?;
        let user_fp = user_key.fingerprint().0;
        // Checked before it is stored, so members never get a header that
        // does not verify (one RSA verify, outside the writer).
        if body.sender_fp.0 == user_fp {
            user_key
                .verify_signed(SignContext::FileHeader, &header)
                .map_err(|e| Failure::reject(ErrorCode::BadSignature, e.to_string()))?;
        }
        let len = ciphertext_len(body.plaintext_len, body.chunk_size);
        self.space().check(len)?;
        if len > limits.max_file_bytes {
            return reject(
                ErrorCode::TooLarge,
                format!(
                    "files on this node are at most {} bytes",
                    limits.max_file_bytes
                ),
            );
        }
        let quota = self.user_quota();
        self.write(move |txn| {
            let room = load_room(txn, room_id)?;
            if !room.members.contains(&user.0) {
                return reject(ErrorCode::Forbidden, "you are not a member of this room");
            }
            if body.room_id != room_id {
                return reject(ErrorCode::Invalid, "the file header names another room");
            }
            if body.sender_fp.0 != user_fp {
                return reject(
                    ErrorCode::Forbidden,
                    "the file header is signed for another account's key",
                );
            }
            super::rooms::check_epoch(&room, body.epoch, "file")?;
            if txn.open_table(FILES)?.get(body.file_id.0)?.is_some() {
                return reject(ErrorCode::Conflict, "a file with this id exists");
            }
            let rec = FileRecord {
                room_id: room_id.0,
                uploader: user.0,
                ciphertext_len: len,
                header,
                created_at: now_ms(),
                complete: false,
            };
            let record = enc(&rec)?;
            // Reserved now, not at completion: what is announced counts.
            super::quota::charge(txn, USAGE, user.0, len, quota)?;
            txn.open_table(FILES)?
                .insert(body.file_id.0, record.as_slice())?;
            Ok((file_info(body.file_id.0, &rec), vec![]))
        })
        .await
    }

    /// The record of a file, for its uploader (any state) or a member of its
    /// room (complete files only).
    pub fn file_for(&self, user: UserId, id: FileId) -> Result<FileRecord, Failure> {
        let r = self.read()?;
        let rec: FileRecord = match r.open_table(FILES)?.get(id.0)? {
            Some(g) => dec(g.value())?,
            None => return reject(ErrorCode::NotFound, "no such file"),
        };
        if rec.uploader == user.0 && !rec.complete {
            return Ok(rec);
        }
        let room = super::get_room_read(&r, RoomId(rec.room_id))?;
        if !room.members.contains(&user.0) {
            return reject(
                ErrorCode::Forbidden,
                "you are not a member of this file's room",
            );
        }
        if !rec.complete {
            return reject(ErrorCode::NotFound, "this file is still being uploaded");
        }
        Ok(rec)
    }

    /// Take the right to receive `id`'s bytes: a second upload of the same
    /// file while one runs gets `conflict` (it would otherwise rename over
    /// the first one's blob, or delete it on its way out).
    pub fn claim_upload(&self, id: FileId) -> Result<UploadClaim, Failure> {
        let mut set = self.uploads.0.lock().unwrap_or_else(|p| p.into_inner());
        if !set.insert(id.0) {
            return reject(
                ErrorCode::Conflict,
                "this file is being uploaded on another connection",
            );
        }
        Ok(UploadClaim {
            uploads: self.uploads.clone(),
            id: id.0,
        })
    }

    /// Mark an upload complete once its blob is durably in place (its
    /// quota was reserved when it was announced).
    pub async fn complete_file(&self, user: UserId, id: FileId) -> Result<FileInfo, Failure> {
        self.write(move |txn| {
            let mut files = txn.open_table(FILES)?;
            let mut rec: FileRecord = match files.get(id.0)? {
                Some(g) => dec(g.value())?,
                None => return reject(ErrorCode::NotFound, "no such file"),
            };
            if rec.uploader != user.0 {
                return reject(
                    ErrorCode::Forbidden,
                    "only the uploader can upload this file",
                );
            }
            if rec.complete {
                return reject(ErrorCode::Conflict, "this file is already uploaded");
            }
            let room = load_room(txn, RoomId(rec.room_id))?;
            rec.complete = true;
            files.insert(id.0, enc(&rec)?.as_slice())?;
            let info = file_info(id.0, &rec);
            let to = room.members.iter().copied().map(UserId).collect();
            Ok((info.clone(), vec![Event::new(to, ServerFrame::File(info))]))
        })
        .await
    }

    /// Delete a file (its uploader only, finished or not): the record and
    /// quota go in one commit, then the blob. Members get `file_deleted`.
    pub async fn delete_file(&self, user: UserId, id: FileId) -> Result<(), Failure> {
        self.write(move |txn| {
            let rec: FileRecord = match txn.open_table(FILES)?.get(id.0)? {
                Some(g) => dec(g.value())?,
                None => return reject(ErrorCode::NotFound, "no such file"),
            };
            if rec.uploader != user.0 {
                return reject(ErrorCode::Forbidden, "only its uploader can delete a file");
            }
            let events = forget_files(txn, &[(id.0, rec)])?;
            Ok(((), events))
        })
        .await?;
        self.remove_blobs(&[id.0]);
        Ok(())
    }

    /// Remove files shared before `cutoff_ms` (retention) and announcements
    /// left unfinished for a day. Returns how many went.
    pub async fn prune_files(&self, cutoff_ms: u64) -> Result<u64, Failure> {
        let unfinished_cutoff = now_ms().saturating_sub(UNFINISHED_UPLOAD_TTL_MS);
        let mut doomed = Vec::new();
        {
            let r = self.read()?;
            for entry in r.open_table(FILES)?.iter()? {
                let (k, v) = entry?;
                let rec: FileRecord = dec(v.value())?;
                if rec.created_at < cutoff_ms
                    || (!rec.complete && rec.created_at < unfinished_cutoff)
                {
                    doomed.push(k.value());
                }
            }
        }
        let mut removed = 0;
        // In slices, so one sweep never holds the writer for long.
        for slice in doomed.chunks(256) {
            let ids = slice.to_vec();
            let gone = self
                .write(move |txn| {
                    let mut recs = Vec::new();
                    {
                        let files = txn.open_table(FILES)?;
                        for id in ids {
                            if let Some(g) = files.get(id)? {
                                recs.push((id, dec::<FileRecord>(g.value())?));
                            }
                        }
                    }
                    let events = forget_files(txn, &recs)?;
                    Ok((
                        recs.into_iter().map(|(id, _)| id).collect::<Vec<_>>(),
                        events,
                    ))
                })
                .await?;
            self.remove_blobs(&gone);
            removed += gone.len() as u64;
        }
        Ok(removed)
    }

    /// Delete blobs whose records are gone (a failure here leaves an orphan
    /// that the next start removes).
    fn remove_blobs(&self, ids: &[[u8; 16]]) {
        for id in ids {
            match std::fs::remove_file(self.blob_path(FileId(*id))) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(error = %e, "cannot delete a blob; the next start will"),
            }
        }
    }

    /// Bytes of files stored or reserved by announced uploads.
    pub fn blob_bytes(&self) -> Result<u64, Failure> {
        let r = self.read()?;
        let mut total = 0;
        for entry in r.open_table(USAGE)?.iter()? {
            total += entry?.1.value();
        }
        Ok(total)
    }

    /// Start-up clean-up: nothing of an interrupted upload survives.
    pub(super) fn cleanup_interrupted_uploads(&self) -> Result<(), Failure> {
        let tmp = self.blob_dir().join("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        // Drop incomplete records directly (the writer has no work queued yet).
        let txn = self.db.begin_write()?;
        let mut complete = HashSet::new();
        {
            let mut files = txn.open_table(FILES)?;
            let before = files.len()?;
            files.retain(|_, v| dec::<FileRecord>(v).map(|r| r.complete).unwrap_or(false))?;
            let dropped = before - files.len()?;
            if dropped > 0 {
                tracing::info!(dropped, "removed interrupted uploads");
            }
            // Usage is recounted from what is there, so it always equals it.
            let mut used: HashMap<u64, u64> = HashMap::new();
            for entry in files.iter()? {
                let (k, v) = entry?;
                complete.insert(hex::encode(k.value()));
                let rec: FileRecord = dec(v.value())?;
                *used.entry(rec.uploader).or_default() += rec.ciphertext_len;
            }
            let mut usage = txn.open_table(USAGE)?;
            usage.retain(|_, _| false)?;
            for (user, bytes) in used {
                usage.insert(user, bytes)?;
            }
        }
        txn.commit()?;
        for entry in std::fs::read_dir(self.blob_dir())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if entry.file_type()?.is_file() && !complete.contains(&name) {
                tracing::info!(blob = %name, "removing orphan blob");
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }
}

/// Drop file records and their quota; the `file_deleted` events for the
/// members of finished files' rooms.
fn forget_files(
    txn: &redb::WriteTransaction,
    recs: &[([u8; 16], FileRecord)],
) -> Result<Vec<Event>, Failure> {
    let mut files = txn.open_table(FILES)?;
    let mut events = Vec::new();
    for (id, rec) in recs {
        files.remove(*id)?;
        super::quota::take(txn, USAGE, rec.uploader, rec.ciphertext_len)?;
        if rec.complete
            && let Some(g) = txn.open_table(ROOMS)?.get(rec.room_id)?
        {
            let room: RoomRecord = dec(g.value())?;
            events.push(Event::new(
                room.members.iter().copied().map(UserId).collect(),
                ServerFrame::FileDeleted {
                    room_id: RoomId(rec.room_id),
                    file_id: FileId(*id),
                },
            ));
        }
    }
    Ok(events)
}
