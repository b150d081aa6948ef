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

use std::path::PathBuf;

use onionchat_proto::crypto::file_stream::{ciphertext_len, decode_header};
use onionchat_proto::crypto::{PublicIdentity, SignContext};
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

/// Limits that apply to one upload.
#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    /// Largest ciphertext accepted.
    pub max_file_bytes: u64,
    /// Total bytes per user.
    pub user_quota_bytes: u64,
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
        let body = decode_header(&header)
            .map_err(|e| Failure::reject(ErrorCode::Invalid, e.to_string()))?;
        let user_fp = user_key.fingerprint().0;
        // Checked before it is stored, so members never get a header that
        // does not verify (one RSA verify, outside the writer).
        if body.sender_fp.0 == user_fp {
            user_key
                .verify_signed(SignContext::FileHeader, &header)
                .map_err(|e| Failure::reject(ErrorCode::BadSignature, e.to_string()))?;
        }
        let len = ciphertext_len(body.plaintext_len, body.chunk_size);
        if len > limits.max_file_bytes {
            return reject(
                ErrorCode::TooLarge,
                format!(
                    "files on this node are at most {} bytes",
                    limits.max_file_bytes
                ),
            );
        }
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
            let used = txn
                .open_table(USAGE)?
                .get(user.0)?
                .map(|g| g.value())
                .unwrap_or(0);
            if used.saturating_add(len) > limits.user_quota_bytes {
                return reject(
                    ErrorCode::QuotaExceeded,
                    format!(
                        "your storage quota of {} bytes would be exceeded",
                        limits.user_quota_bytes
                    ),
                );
            }
            let rec = FileRecord {
                room_id: room_id.0,
                uploader: user.0,
                ciphertext_len: len,
                header,
                created_at: now_ms(),
                complete: false,
            };
            txn.open_table(FILES)?
                .insert(body.file_id.0, enc(&rec)?.as_slice())?;
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

    /// Mark an upload complete once its blob is durably in place.
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
            drop(files);
            let mut usage = txn.open_table(USAGE)?;
            let used = usage.get(user.0)?.map(|g| g.value()).unwrap_or(0);
            usage.insert(user.0, used + rec.ciphertext_len)?;
            let info = file_info(id.0, &rec);
            let to = room.members.iter().copied().map(UserId).collect();
            Ok((info.clone(), vec![Event::new(to, ServerFrame::File(info))]))
        })
        .await
    }

    /// Forget an announced upload that failed (its bytes are already gone).
    pub async fn abandon_file(&self, user: UserId, id: FileId) -> Result<(), Failure> {
        self.write(move |txn| {
            let mut files = txn.open_table(FILES)?;
            let rec: Option<FileRecord> = files.get(id.0)?.map(|g| dec(g.value())).transpose()?;
            if let Some(rec) = rec
                && rec.uploader == user.0
                && !rec.complete
            {
                files.remove(id.0)?;
            }
            Ok(((), vec![]))
        })
        .await
    }

    /// Total bytes of completed blobs.
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
        let mut complete = std::collections::HashSet::new();
        {
            let mut files = txn.open_table(FILES)?;
            let before = files.len()?;
            files.retain(|_, v| dec::<FileRecord>(v).map(|r| r.complete).unwrap_or(false))?;
            let dropped = before - files.len()?;
            if dropped > 0 {
                tracing::info!(dropped, "removed interrupted uploads");
            }
            for entry in files.iter()? {
                complete.insert(hex::encode(entry?.0.value()));
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
