//! Backup and restore.
//!
//! A backup is one redb file. It holds a copy of every table taken from a
//! single read transaction (so it is consistent while the node runs and
//! writes), plus the blobs those tables reference, plus the other files of
//! the data dir that matter (the onion service's keys), so a restored box
//! keeps its `.onion` address.

use std::io::Read;
use std::path::{Path, PathBuf};

use redb::{
    Database, Key, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, Value,
    WriteTransaction,
};

use super::schema::*;
use super::{Store, db_path, dec};
use crate::error::Failure;

const BLOB_CHUNKS: TableDefinition<'static, ([u8; 16], u32), &[u8]> =
    TableDefinition::new("backup_blob_chunks");
const EXTRA_FILES: TableDefinition<'static, &str, &[u8]> =
    TableDefinition::new("backup_extra_files");
const BLOB_CHUNK: usize = 1024 * 1024;

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

fn copy_table<K: Key + 'static, V: Value + 'static>(
    r: &ReadTransaction,
    w: &WriteTransaction,
    def: TableDefinition<'_, K, V>,
) -> Result<u64, Failure> {
    let src = r.open_table(def)?;
    let mut dst = w.open_table(def)?;
    let mut n = 0;
    for entry in src.iter()? {
        let (k, v) = entry?;
        dst.insert(k.value(), v.value())?;
        n += 1;
    }
    Ok(n)
}

fn copy_all(r: &ReadTransaction, w: &WriteTransaction) -> Result<u64, Failure> {
    Ok(copy_table(r, w, META)?
        + copy_table(r, w, USERS)?
        + copy_table(r, w, USERNAMES)?
        + copy_table(r, w, FINGERPRINTS)?
        + copy_table(r, w, SESSIONS)?
        + copy_table(r, w, INVITES)?
        + copy_table(r, w, FRIEND_REQUESTS)?
        + copy_table(r, w, FRIENDSHIPS)?
        + copy_table(r, w, ROOMS)?
        + copy_table(r, w, ROOM_SEQ)?
        + copy_table(r, w, MEMBERSHIPS)?
        + copy_table(r, w, GRANTS)?
        + copy_table(r, w, ROSTERS)?
        + copy_table(r, w, MESSAGES)?
        + copy_table(r, w, MSG_IDS)?
        + copy_table(r, w, MARKERS)?
        + copy_table(r, w, FILES)?
        + copy_table(r, w, USAGE)?)
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
    /// Write a consistent backup of the running node to `dest`.
    pub fn backup_to(&self, dest: &Path) -> Result<BackupSummary, Failure> {
        let tmp = dest.with_extension("partial");
        let _ = std::fs::remove_file(&tmp);
        let snapshot = self.read()?;
        let out = Database::create(&tmp)?;
        let w = out.begin_write()?;
        let mut summary = BackupSummary {
            rows: copy_all(&snapshot, &w)?,
            ..Default::default()
        };
        {
            let files = snapshot.open_table(FILES)?;
            let mut chunks = w.open_table(BLOB_CHUNKS)?;
            for entry in files.iter()? {
                let (k, v) = entry?;
                let rec: FileRecord = dec(v.value())?;
                if !rec.complete {
                    continue;
                }
                let mut f = std::fs::File::open(self.blob_dir().join(hex::encode(k.value())))?;
                let mut buf = vec![0u8; BLOB_CHUNK];
                let mut i = 0u32;
                loop {
                    let n = read_full(&mut f, &mut buf)?;
                    if n == 0 {
                        break;
                    }
                    chunks.insert((k.value(), i), &buf[..n])?;
                    i += 1;
                }
                summary.blobs += 1;
            }
            let mut extra = w.open_table(EXTRA_FILES)?;
            for rel in extra_files(self.data_dir())? {
                let bytes = std::fs::read(self.data_dir().join(&rel))?;
                extra.insert(rel.to_string_lossy().as_ref(), bytes.as_slice())?;
                summary.files += 1;
            }
        }
        w.commit()?;
        drop(out);
        std::fs::rename(&tmp, dest)?;
        Ok(summary)
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let m = f.read(&mut buf[n..])?;
        if m == 0 {
            break;
        }
        n += m;
    }
    Ok(n)
}

/// Restore `backup` into `data_dir` (the node must not be running). Refuses
/// to overwrite an existing database unless `force`.
pub fn restore(backup: &Path, data_dir: &Path, force: bool) -> Result<BackupSummary, Failure> {
    let target = db_path(data_dir);
    if target.exists() && !force {
        return Err(Failure::Internal(format!(
            "{} already has a database; pass --force to replace it",
            data_dir.display()
        )));
    }
    std::fs::create_dir_all(data_dir)?;
    set_mode(data_dir, 0o700);
    let work = data_dir.join("onionchat.redb.restoring");
    std::fs::copy(backup, &work)?;
    let db = Database::open(&work)
        .map_err(|e| Failure::Internal(format!("not a readable backup: {e}")))?;
    let mut summary = BackupSummary::default();
    let blobs = data_dir.join("blobs");
    if blobs.exists() {
        std::fs::remove_dir_all(&blobs)?;
    }
    std::fs::create_dir_all(&blobs)?;
    {
        let r = db.begin_read()?;
        summary.rows = r.open_table(USERS)?.len_rows()?;
        let chunks = r.open_table(BLOB_CHUNKS)?;
        let mut current: Option<([u8; 16], std::fs::File)> = None;
        for entry in chunks.iter()? {
            let (k, v) = entry?;
            let (id, _) = k.value();
            if current.as_ref().is_none_or(|(cid, _)| *cid != id) {
                if let Some((_, f)) = current.take() {
                    f.sync_all()?;
                }
                current = Some((id, std::fs::File::create(blobs.join(hex::encode(id)))?));
                summary.blobs += 1;
            }
            if let Some((_, f)) = current.as_mut() {
                std::io::Write::write_all(f, v.value())?;
            }
        }
        if let Some((_, f)) = current.take() {
            f.sync_all()?;
        }
        for entry in r.open_table(EXTRA_FILES)?.iter()? {
            let (k, v) = entry?;
            let rel = Path::new(k.value());
            if rel.is_absolute()
                || rel
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                continue;
            }
            let path = data_dir.join(rel);
            // Every directory restored is private (Arti refuses a keystore
            // that others can read, and so should we).
            let mut dir = data_dir.to_path_buf();
            for part in rel.parent().into_iter().flat_map(|p| p.components()) {
                dir.push(part);
                std::fs::create_dir_all(&dir)?;
                set_mode(&dir, 0o700);
            }
            std::fs::write(&path, v.value())?;
            set_mode(&path, 0o600);
            summary.files += 1;
        }
    }
    let w = db.begin_write()?;
    w.delete_table(BLOB_CHUNKS)?;
    w.delete_table(EXTRA_FILES)?;
    w.commit()?;
    drop(db);
    std::fs::rename(&work, &target)?;
    Ok(summary)
}

trait LenRows {
    fn len_rows(&self) -> Result<u64, Failure>;
}
impl<T: redb::ReadableTableMetadata> LenRows for T {
    fn len_rows(&self) -> Result<u64, Failure> {
        Ok(self.len()?)
    }
}

fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
}
