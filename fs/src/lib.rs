//! # onionchat-fs
//!
//! Every file OnionChat writes that holds something private (Tor keys and
//! state, access secrets, backups, a profile, the status screen's picture —
//! it can show an invite) goes through these few functions, so the rules
//! are the same everywhere:
//!
//! - directories are created owner-only (0700), and an existing one is
//!   made so;
//! - files are created owner-only (0600) *before* anything is written
//!   into them (never written with the umask and fixed afterwards);
//! - a replaced file is written to a temporary name next to it, synced,
//!   renamed over the old one, and the directory synced, so a crash
//!   leaves either the old or the new file, whole, and the rename is
//!   durable when the call returns.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Create `dir` (and its parents) and make it owner-only.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Create a new owner-only file at `path` for writing (an existing file is
/// replaced: removed first, so its old permissions do not carry over).
pub fn create_private(path: &Path) -> std::io::Result<File> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Make a rename or creation in the directory holding `path` durable.
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    File::open(parent_of(path))?.sync_all()
}

/// Where [`write_private`] stages `path`: next to it, so the rename stays
/// on one filesystem.
fn staging_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    parent_of(path).join(name)
}

/// Replace `path` with `bytes`, owner-only, atomically and durably.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = staging_path(path);
    let result = (|| {
        let mut f = create_private(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_parent(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Replace `path` with a file another function writes (given the staging
/// path), then make it owner-only, atomically and durably — for writers
/// that insist on opening the file themselves (an image encoder).
pub fn replace_private_with(
    path: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = staging_path(path);
    // Created owner-only first; the writer reopens and truncates it, which
    // keeps the mode.
    drop(create_private(&tmp)?);
    let result = (|| {
        write(&tmp)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_parent(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
    }

    #[test]
    fn files_and_dirs_are_owner_only_and_replaced_whole() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("a/b");
        private_dir(&dir).expect("dir");
        assert_eq!(mode(&dir), 0o700);
        // An existing, too-open directory is tightened.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        private_dir(&dir).expect("again");
        assert_eq!(mode(&dir), 0o700);

        let f = dir.join("secret");
        std::fs::write(&f, b"old").expect("old");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_private(&f, b"new").expect("write");
        assert_eq!(std::fs::read(&f).expect("read"), b"new");
        assert_eq!(
            mode(&f),
            0o600,
            "a replaced file does not keep the old mode"
        );
        assert!(!staging_path(&f).exists(), "nothing staged is left");

        replace_private_with(&f, |p| std::fs::write(p, b"picture")).expect("replace");
        assert_eq!(std::fs::read(&f).expect("read"), b"picture");
        assert_eq!(mode(&f), 0o600);
        // A failing writer leaves the old file and no staging file.
        let err = replace_private_with(&f, |_| Err(std::io::Error::other("encoder failed")));
        assert!(err.is_err());
        assert_eq!(std::fs::read(&f).expect("read"), b"picture");
        assert!(!staging_path(&f).exists());

        let c = dir.join("created");
        drop(create_private(&c).expect("create"));
        assert_eq!(mode(&c), 0o600);
    }
}
