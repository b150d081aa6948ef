//! The encrypted backup stream: a passphrase-sealed sequence of records.
//!
//! A backup holds the onion service's private key and the access secrets,
//! so it is never written in the clear: the file starts with a header
//! (magic, Argon2id parameters and salt, a nonce prefix) and continues with
//! AES-256-GCM chunks of [`CHUNK`] plaintext bytes under a key derived from
//! the passphrase. Each chunk's nonce is the prefix, its index and a
//! last-chunk flag, and the header is every chunk's associated data, so
//! reordering, truncating, extending or editing the file — or its header —
//! fails authentication. The writer always ends with a short (possibly
//! empty) chunk flagged last.
//!
//! Inside, records are `u32` big-endian length + CBOR [`Record`]; they are
//! written and read a chunk at a time, so neither side holds the backup in
//! memory.

use std::io::{Read, Write};

use onionchat_proto::crypto::aead::{Gcm, TAG_LEN};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
/// First bytes of every backup (format version 1).
pub const MAGIC: &[u8; 8] = b"OCBACKU1";
/// Largest record (a blob piece or a data-dir file is at most this).
pub const MAX_RECORD: usize = 2 * 1024 * 1024;
/// Shortest passphrase accepted for a new backup.
pub const MIN_PASSPHRASE: usize = 8;

/// Argon2id cost for backups: 64 MiB, 3 passes (about a second on a Pi 4;
/// a backup is made rarely and guards the box's identity).
const ARGON_M_KIB: u32 = 64 * 1024;
const ARGON_T: u32 = 3;
const ARGON_P: u32 = 1;
/// Most memory a backup header may ask of the restoring machine.
const MAX_ARGON_M_KIB: u32 = 1024 * 1024;
const HEADER_LEN: usize = 8 + 12 + 16 + 7;

/// One item of a backup.
#[derive(Debug, Serialize, Deserialize)]
pub enum Record {
    /// A database row, as redb stores the key and value.
    Row {
        /// Table name.
        table: String,
        /// Key bytes.
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
        /// Value bytes.
        #[serde(with = "serde_bytes")]
        value: Vec<u8>,
    },
    /// The next piece of a file's blob (pieces of one blob are consecutive).
    Blob {
        /// File id.
        id: [u8; 16],
        /// Bytes.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// A file of the data dir (the Tor keys), by relative path.
    File {
        /// Path relative to the data dir.
        path: String,
        /// Contents.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// The last record: what came before, for a completeness check.
    End {
        /// Rows.
        rows: u64,
        /// Blobs.
        blobs: u64,
        /// Files.
        files: u64,
    },
}

/// Why a backup could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Reading or writing the file failed.
    #[error("backup file I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// Not a backup of this kind (or version).
    #[error("this is not an OnionChat backup (or one from a newer version)")]
    NotABackup,
    /// Authentication failed: a wrong passphrase, or the file was changed
    /// or cut short.
    #[error("wrong passphrase, or the backup file is damaged or incomplete")]
    WrongPassphraseOrDamaged,
    /// The passphrase is too short to protect the box's keys.
    #[error("use a passphrase of at least {MIN_PASSPHRASE} characters")]
    WeakPassphrase,
    /// A record inside could not be decoded.
    #[error("the backup's contents are malformed: {0}")]
    Malformed(String),
}

fn derive_key(
    passphrase: &[u8],
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, BackupError> {
    if m > MAX_ARGON_M_KIB || t == 0 || t > 16 || p == 0 || p > 8 {
        return Err(BackupError::NotABackup);
    }
    let params = argon2::Params::new(m, t, p, Some(32)).map_err(|_| BackupError::NotABackup)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase, salt, &mut key[..])
        .map_err(|_| BackupError::NotABackup)?;
    Ok(key)
}

fn nonce(prefix: &[u8; 7], index: u32, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(prefix);
    n[7..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// Writes records, sealing a chunk at a time.
pub struct Sealer<W: Write> {
    out: W,
    cipher: Gcm,
    header: Vec<u8>,
    prefix: [u8; 7],
    index: u32,
    buf: Zeroizing<Vec<u8>>,
}

impl<W: Write> Sealer<W> {
    /// Start a backup on `out` under `passphrase` (writes the header).
    pub fn new(mut out: W, passphrase: &[u8]) -> Result<Self, BackupError> {
        if passphrase.len() < MIN_PASSPHRASE {
            return Err(BackupError::WeakPassphrase);
        }
        let salt: [u8; 16] = onionchat_proto::crypto::random_array();
        let prefix: [u8; 7] = onionchat_proto::crypto::random_array();
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        for v in [ARGON_M_KIB, ARGON_T, ARGON_P] {
            header.extend_from_slice(&v.to_be_bytes());
        }
        header.extend_from_slice(&salt);
        header.extend_from_slice(&prefix);
        let key = derive_key(passphrase, &salt, ARGON_M_KIB, ARGON_T, ARGON_P)?;
        out.write_all(&header)?;
        Ok(Sealer {
            out,
            cipher: Gcm::new(&key),
            header,
            prefix,
            index: 0,
            buf: Zeroizing::new(Vec::with_capacity(CHUNK)),
        })
    }

    fn seal(&mut self, len: usize, last: bool) -> Result<(), BackupError> {
        let mut ct = Vec::with_capacity(len + TAG_LEN);
        let n = nonce(&self.prefix, self.index, last);
        self.cipher
            .seal_append(&n, &self.header, &self.buf[..len], &mut ct)
            .map_err(|_| BackupError::Malformed("cannot encrypt".into()))?;
        self.out.write_all(&ct)?;
        self.buf.drain(..len);
        self.index = self
            .index
            .checked_add(1)
            .ok_or_else(|| BackupError::Malformed("backup too large".into()))?;
        Ok(())
    }

    /// Append one record.
    pub fn record(&mut self, r: &Record) -> Result<(), BackupError> {
        let bytes = Zeroizing::new(
            onionchat_proto::encode(r).map_err(|e| BackupError::Malformed(e.to_string()))?,
        );
        if bytes.len() > MAX_RECORD {
            return Err(BackupError::Malformed("record too large".into()));
        }
        self.buf
            .extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        self.buf.extend_from_slice(&bytes);
        while self.buf.len() >= CHUNK {
            self.seal(CHUNK, false)?;
        }
        Ok(())
    }

    /// Seal the last chunk; returns the writer (to fsync it).
    pub fn finish(mut self) -> Result<W, BackupError> {
        let len = self.buf.len();
        self.seal(len, true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Reads records, opening a chunk at a time.
pub struct Opener<R: Read> {
    input: R,
    cipher: Gcm,
    header: Vec<u8>,
    prefix: [u8; 7],
    index: u32,
    plain: Zeroizing<Vec<u8>>,
    pos: usize,
    done: bool,
}

/// Fill `buf` from `r` as far as it goes; fewer bytes only at the end.
pub(super) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            m => n += m,
        }
    }
    Ok(n)
}

impl<R: Read> Opener<R> {
    /// Read the header and derive the key (about a second).
    pub fn new(mut input: R, passphrase: &[u8]) -> Result<Self, BackupError> {
        let mut header = vec![0u8; HEADER_LEN];
        if read_up_to(&mut input, &mut header)? != HEADER_LEN || &header[..8] != MAGIC {
            return Err(BackupError::NotABackup);
        }
        let word = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&header[8 + 4 * i..12 + 4 * i]);
            u32::from_be_bytes(b)
        };
        let (m, t, p) = (word(0), word(1), word(2));
        let salt = &header[20..36];
        let mut prefix = [0u8; 7];
        prefix.copy_from_slice(&header[36..43]);
        let key = derive_key(passphrase, salt, m, t, p)?;
        Ok(Opener {
            input,
            cipher: Gcm::new(&key),
            header,
            prefix,
            index: 0,
            plain: Zeroizing::new(Vec::new()),
            pos: 0,
            done: false,
        })
    }

    /// Open the next chunk into the plaintext buffer; false at the end.
    fn next_chunk(&mut self) -> Result<bool, BackupError> {
        if self.done {
            return Ok(false);
        }
        let mut ct = vec![0u8; CHUNK + TAG_LEN];
        let n = read_up_to(&mut self.input, &mut ct)?;
        // A full chunk is never the last one (the writer ends short).
        let last = n < ct.len();
        self.plain.drain(..self.pos);
        self.pos = 0;
        let nonce = nonce(&self.prefix, self.index, last);
        if !self
            .cipher
            .open_append(&nonce, &self.header, &ct[..n], &mut self.plain)
        {
            return Err(BackupError::WrongPassphraseOrDamaged);
        }
        self.index = self.index.wrapping_add(1);
        self.done = last;
        Ok(true)
    }

    fn take(&mut self, n: usize) -> Result<Option<&[u8]>, BackupError> {
        while self.plain.len() - self.pos < n {
            if !self.next_chunk()? {
                return if self.plain.len() == self.pos {
                    Ok(None)
                } else {
                    Err(BackupError::Malformed("a record is cut short".into()))
                };
            }
        }
        let out = &self.plain[self.pos..self.pos + n];
        self.pos += n;
        Ok(Some(out))
    }

    /// The next record; `None` after the last chunk.
    pub fn next_record(&mut self) -> Result<Option<Record>, BackupError> {
        let Some(len) = self.take(4)? else {
            return Ok(None);
        };
        let mut b = [0u8; 4];
        b.copy_from_slice(len);
        let len = u32::from_be_bytes(b) as usize;
        if len > MAX_RECORD {
            return Err(BackupError::Malformed("record too large".into()));
        }
        let bytes = self
            .take(len)?
            .ok_or_else(|| BackupError::Malformed("a record is cut short".into()))?;
        onionchat_proto::decode_with(bytes, onionchat_proto::Limits::with_max_len(MAX_RECORD))
            .map(Some)
            .map_err(|e| BackupError::Malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pass: &[u8]) -> Vec<u8> {
        let mut s = Sealer::new(Vec::new(), pass).expect("sealer");
        for i in 0..200u32 {
            s.record(&Record::Row {
                table: "t".into(),
                key: i.to_be_bytes().to_vec(),
                value: vec![i as u8; 1000],
            })
            .expect("row");
        }
        s.record(&Record::File {
            path: "tor/keys/secret".into(),
            data: b"ONION-PRIVATE-KEY-MATERIAL".to_vec(),
        })
        .expect("file");
        s.record(&Record::End {
            rows: 200,
            blobs: 0,
            files: 1,
        })
        .expect("end");
        s.finish().expect("finish")
    }

    fn read_all(bytes: &[u8], pass: &[u8]) -> Result<Vec<Record>, BackupError> {
        let mut o = Opener::new(bytes, pass)?;
        let mut out = Vec::new();
        while let Some(r) = o.next_record()? {
            out.push(r);
        }
        Ok(out)
    }

    #[test]
    fn round_trip_and_nothing_readable_without_the_passphrase() {
        let bytes = sample(b"correct horse");
        assert!(bytes.len() > 3 * CHUNK, "spans several chunks");
        assert!(
            !bytes
                .windows(26)
                .any(|w| w == b"ONION-PRIVATE-KEY-MATERIAL"),
            "secrets are not in the file in the clear"
        );
        let records = read_all(&bytes, b"correct horse").expect("read");
        assert_eq!(records.len(), 202);
        assert!(matches!(records[201], Record::End { rows: 200, .. }));
        assert!(matches!(
            read_all(&bytes, b"wrong horse!"),
            Err(BackupError::WrongPassphraseOrDamaged)
        ));
    }

    #[test]
    fn tampering_truncation_and_reordering_are_caught() {
        let bytes = sample(b"correct horse");
        let pass = b"correct horse";
        // A flipped bit anywhere after the header.
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN + CHUNK + 40] ^= 1;
        assert!(read_all(&flipped, pass).is_err());
        // The header is authenticated too (a changed nonce prefix).
        let mut header = bytes.clone();
        header[40] ^= 1;
        assert!(read_all(&header, pass).is_err());
        // Cut at a chunk boundary: the now-last chunk is not flagged last.
        let cut = &bytes[..HEADER_LEN + 2 * (CHUNK + TAG_LEN)];
        assert!(matches!(
            read_all(cut, pass),
            Err(BackupError::WrongPassphraseOrDamaged)
        ));
        // Two whole chunks swapped.
        let mut swapped = bytes.clone();
        let a = HEADER_LEN..HEADER_LEN + CHUNK + TAG_LEN;
        let b = a.end..a.end + CHUNK + TAG_LEN;
        let (x, y) = (bytes[a.clone()].to_vec(), bytes[b.clone()].to_vec());
        swapped[a].copy_from_slice(&y);
        swapped[b].copy_from_slice(&x);
        assert!(read_all(&swapped, pass).is_err());
        // Garbage appended after the last chunk.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0u8; 100]);
        assert!(read_all(&longer, pass).is_err());
        // Not a backup at all.
        assert!(matches!(
            read_all(b"hello", pass),
            Err(BackupError::NotABackup)
        ));
    }

    #[test]
    fn short_passphrases_are_refused() {
        assert!(matches!(
            Sealer::new(Vec::new(), b"short"),
            Err(BackupError::WeakPassphrase)
        ));
    }
}
