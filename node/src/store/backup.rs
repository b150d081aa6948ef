//! Backup and restore.
//!
//! A backup is one file, encrypted under a passphrase (see
//! [`super::backup_crypt`]): every table row taken from a single read
//! transaction (so it is consistent while the node runs and writes), the
//! blobs those rows reference, and the other files of the data dir that
//! matter (the onion service's keys, the access secrets), so a restored box
//! keeps its `.onion` address. It is streamed a chunk at a time in both
//! directions and written owner-only (0600), then renamed into place.

use onionchat_fs::{create_private, private_dir as create_private_dir, sync_parent};
use std::io::Write;
use std::path::{Path, PathBuf};

use redb::{Database, Key, ReadTransaction, ReadableTable, TableDefinition, TableHandle, Value};

use super::backup_crypt::{BackupError, Opener, Record, Sealer, read_up_to};
use super::schema::*;
use super::{Store, db_path, dec};
use crate::error::Failure;

/// Bytes of a blob per record.
const BLOB_PIECE: usize = 1024 * 1024;
/// Rows restored per commit (bounded transactions and memory).
const RESTORE_BATCH: u64 = 20_000;
/// Page cache while restoring.
const RESTORE_CACHE: usize = 16 * 1024 * 1024;

impl From<BackupError> for Failure {
    fn from(e: BackupError) -> Self {
        use onionchat_proto::wire::ErrorCode;
        match e {
            BackupError::Io(e) => Failure::Io(e),
            BackupError::WeakPassphrase => Failure::reject(ErrorCode::Invalid, e.to_string()),
            other => Failure::reject(ErrorCode::Invalid, other.to_string()),
        }
    }
}

/// What a backup or restore copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupSummary {
    /// Table rows copied.
    pub rows: u64,
    /// Blobs copied.
    pub blobs: u64,
    /// Other data-dir files copied.
    pub files: u64,
}

fn write_table<K: Key + 'static, V: Value + 'static, W: Write>(
    r: &ReadTransaction,
    def: TableDefinition<'_, K, V>,
    out: &mut Sealer<W>,
) -> Result<u64, Failure> {
    let table = def.name().to_string();
    let mut n = 0;
    for entry in r.open_table(def)?.iter()? {
        let (k, v) = entry?;
        out.record(&Record::Row {
            table: table.clone(),
            key: K::as_bytes(&k.value()).as_ref().to_vec(),
            value: V::as_bytes(&v.value()).as_ref().to_vec(),
        })?;
        n += 1;
    }
    Ok(n)
}

fn insert_row<K: Key + 'static, V: Value + 'static>(
    w: &redb::WriteTransaction,
    def: TableDefinition<'_, K, V>,
    key: &[u8],
    value: &[u8],
) -> Result<(), Failure> {
    w.open_table(def)?
        .insert(K::from_bytes(key), V::from_bytes(value))?;
    Ok(())
}

/// Every table, once: `$f!(DEF)` for each (backup and restore list the
/// same tables by construction).
macro_rules! for_each_table {
    ($f:ident) => {
        $f!(META);
        $f!(USERS);
        $f!(USERNAMES);
        $f!(FINGERPRINTS);
        $f!(SESSIONS);
        $f!(INVITES);
        $f!(FRIEND_REQUESTS);
        $f!(PENDING_PAIRS);
        $f!(FRIENDSHIPS);
        $f!(ROOMS);
        $f!(ROOM_SEQ);
        $f!(MEMBERSHIPS);
        $f!(GRANTS);
        $f!(ROSTERS);
        $f!(MESSAGES);
        $f!(MSG_IDS);
        $f!(MARKERS);
        $f!(FILES);
        $f!(USAGE);
        $f!(MSG_USAGE);
        $f!(ROOM_USAGE);
    };
}

/// Files of the data dir worth keeping besides the database and blobs
/// (the Tor state with the onion service key; not caches or sockets).
fn extra_files(data_dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let mut out = Vec::new();
    let mut stack = vec![data_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let rel = path.strip_prefix(data_dir).unwrap_or(&path).to_path_buf();
            let rel_s = rel.to_string_lossy();
            let skip = rel_s.starts_with("onionchat.redb")
                || rel_s.starts_with("restoring")
                || rel_s.starts_with("blobs")
                || rel_s.starts_with("tor/cache")
                || rel_s.ends_with(".sock")
                || rel_s.ends_with(".lock");
            if skip {
                continue;
            }
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                out.push(rel);
            }
        }
    }
    Ok(out)
}

impl Store {
    /// Write a consistent, encrypted backup of the running node to `dest`.
    pub fn backup_to(&self, dest: &Path, passphrase: &[u8]) -> Result<BackupSummary, Failure> {
        let tmp = dest.with_extension("partial");
        let file = create_private(&tmp)?;
        let result = self.write_backup(std::io::BufWriter::new(file), passphrase);
        match result {
            Ok((summary, out)) => {
                let file = out.into_inner().map_err(|e| Failure::Io(e.into_error()))?;
                file.sync_all()?;
                std::fs::rename(&tmp, dest)?;
                sync_parent(dest)?;
                Ok(summary)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    fn write_backup<W: Write>(
        &self,
        out: W,
        passphrase: &[u8],
    ) -> Result<(BackupSummary, W), Failure> {
        let mut out = Sealer::new(out, passphrase)?;
        let snapshot = self.read()?;
        let mut summary = BackupSummary::default();
        macro_rules! backup_table {
            ($def:ident) => {
                summary.rows += write_table(&snapshot, $def, &mut out)?;
            };
        }
        for_each_table!(backup_table);
        let mut buf = vec![0u8; BLOB_PIECE];
        for entry in snapshot.open_table(FILES)?.iter()? {
            let (k, v) = entry?;
            let rec: FileRecord = dec(v.value())?;
            if !rec.complete {
                continue;
            }
            let id = k.value();
            let mut f = std::fs::File::open(self.blob_dir().join(hex::encode(id)))?;
            loop {
                let n = read_up_to(&mut f, &mut buf)?;
                if n == 0 {
                    break;
                }
                out.record(&Record::Blob {
                    id,
                    data: buf[..n].to_vec(),
                })?;
            }
            summary.blobs += 1;
        }
        for rel in extra_files(self.data_dir())? {
            let data = zeroize::Zeroizing::new(std::fs::read(self.data_dir().join(&rel))?);
            out.record(&Record::File {
                path: rel.to_string_lossy().into_owned(),
                data: data.to_vec(),
            })?;
            summary.files += 1;
        }
        out.record(&Record::End {
            rows: summary.rows,
            blobs: summary.blobs,
            files: summary.files,
        })?;
        Ok((summary, out.finish()?))
    }
}

/// A relative path inside the data dir, or `None` for anything that could
/// escape it.
fn safe_relative(path: &str) -> Option<&Path> {
    let rel = Path::new(path);
    let ok = !rel.is_absolute()
        && rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    ok.then_some(rel)
}

/// Restore `backup` into `data_dir` (the node must not be running). Refuses
/// to overwrite an existing database unless `force`. Nothing replaces the
/// existing data until the whole backup has been read and checked.
pub fn restore(
    backup: &Path,
    data_dir: &Path,
    force: bool,
    passphrase: &[u8],
) -> Result<BackupSummary, Failure> {
    let target = db_path(data_dir);
    if target.exists() && !force {
        return Err(Failure::Internal(format!(
            "{} already has a database; pass --force to replace it",
            data_dir.display()
        )));
    }
    create_private_dir(data_dir)?;
    let work_dir = data_dir.join("restoring");
    if work_dir.exists() {
        std::fs::remove_dir_all(&work_dir)?;
    }
    create_private_dir(&work_dir.join("blobs"))?;
    create_private_dir(&work_dir)?;
    let result = read_backup(backup, &work_dir, passphrase);
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&work_dir);
            return Err(e);
        }
    };
    // Everything read and checked: move it into place.
    let blobs = data_dir.join("blobs");
    if blobs.exists() {
        std::fs::remove_dir_all(&blobs)?;
    }
    std::fs::rename(work_dir.join("blobs"), &blobs)?;
    let files = work_dir.join("files");
    if files.exists() {
        move_tree(&files, data_dir)?;
    }
    std::fs::rename(work_dir.join("onionchat.redb"), &target)?;
    std::fs::remove_dir_all(&work_dir)?;
    std::fs::File::open(data_dir)?.sync_all()?;
    Ok(summary)
}

fn read_backup(backup: &Path, work: &Path, passphrase: &[u8]) -> Result<BackupSummary, Failure> {
    let input = std::io::BufReader::new(std::fs::File::open(backup)?);
    let mut records = Opener::new(input, passphrase)?;
    let db = Database::builder()
        .set_cache_size(RESTORE_CACHE)
        .create(work.join("onionchat.redb"))?;
    let mut summary = BackupSummary::default();
    let mut w = db.begin_write()?;
    let mut in_txn = 0u64;
    let mut blob: Option<([u8; 16], std::fs::File)> = None;
    let mut ended = None;
    while let Some(record) = records.next_record()? {
        if ended.is_some() {
            return Err(BackupError::Malformed("records after the end".into()).into());
        }
        match record {
            Record::Row { table, key, value } => {
                let mut known = false;
                macro_rules! restore_row {
                    ($def:ident) => {
                        if !known && table == $def.name() {
                            insert_row(&w, $def, &key, &value)?;
                            known = true;
                        }
                    };
                }
                for_each_table!(restore_row);
                if !known {
                    return Err(BackupError::Malformed(format!("unknown table {table}")).into());
                }
                summary.rows += 1;
                in_txn += 1;
                if in_txn >= RESTORE_BATCH {
                    w.commit()?;
                    w = db.begin_write()?;
                    in_txn = 0;
                }
            }
            Record::Blob { id, data } => {
                if blob.as_ref().is_none_or(|(cur, _)| *cur != id) {
                    if let Some((_, f)) = blob.take() {
                        f.sync_all()?;
                    }
                    let f = create_private(&work.join("blobs").join(hex::encode(id)))?;
                    blob = Some((id, f));
                    summary.blobs += 1;
                }
                if let Some((_, f)) = blob.as_mut() {
                    f.write_all(&data)?;
                }
            }
            Record::File { path, data } => {
                let data = zeroize::Zeroizing::new(data);
                let Some(rel) = safe_relative(&path) else {
                    return Err(BackupError::Malformed(format!("unsafe path {path}")).into());
                };
                // Every directory restored is private (Arti refuses a
                // keystore that others can read, and so should we).
                let mut dir = work.join("files");
                create_private_dir(&dir)?;
                for part in rel.parent().into_iter().flat_map(|p| p.components()) {
                    dir.push(part);
                    create_private_dir(&dir)?;
                }
                let mut f = create_private(&work.join("files").join(rel))?;
                f.write_all(&data)?;
                f.sync_all()?;
                summary.files += 1;
            }
            Record::End { rows, blobs, files } => ended = Some((rows, blobs, files)),
        }
    }
    if let Some((_, f)) = blob.take() {
        f.sync_all()?;
    }
    w.commit()?;
    if ended != Some((summary.rows, summary.blobs, summary.files)) {
        return Err(BackupError::Malformed("the backup is incomplete".into()).into());
    }
    Ok(summary)
}

/// Move every file under `from` to the same relative place under `to`.
fn move_tree(from: &Path, to: &Path) -> Result<(), Failure> {
    let mut stack: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for entry in std::fs::read_dir(from.join(&rel))? {
            let entry = entry?;
            let rel = rel.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                create_private_dir(&to.join(&rel))?;
                stack.push(rel);
            } else {
                std::fs::rename(entry.path(), to.join(&rel))?;
            }
        }
    }
    Ok(())
}
