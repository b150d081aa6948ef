//! The key store: one directory per profile.
//!
//! - `identity.pem`: the RSA private key as encrypted PKCS#8 (scrypt +
//!   AES-256-CBC), openable with `openssl pkey` and the passphrase;
//! - `vault.bin`: everything else that is secret or private — node address
//!   and access key, session token, room keys, pinned contact keys,
//!   verification state, sync cursors — as CBOR encrypted with AES-256-GCM
//!   under a key derived from the passphrase with Argon2id.
//!
//! Files are 0600 in a 0700 directory and replaced atomically (write,
//! fsync, rename), so a crash or a wrong passphrase never damages them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use onionchat_proto::crypto::{IdentityKey, aead, at_rest, random_array};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{ClientError, Result};

const MAGIC: &[u8; 8] = b"OCVAULT1";
const HEADER_LEN: usize = 8 + 16 + 12 + 12;
/// Argon2id cost: 32 MiB, 3 passes, 1 lane (≈ 0.1–0.5 s on a desktop).
const ARGON_M_KIB: u32 = 32 * 1024;
const ARGON_T: u32 = 3;
const ARGON_P: u32 = 1;

/// A contact: one username, one key, learned once — from a friend request
/// the user accepted, from the first roster of a 1:1 room the person signed
/// after we asked them, or from comparing safety numbers — never from a
/// node's list or lookup. The user id is the node's index for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// Their username.
    pub username: String,
    /// SPKI DER.
    #[serde(with = "serde_bytes")]
    pub spki_der: Vec<u8>,
    /// SHA-256 of `spki_der`.
    pub fingerprint: [u8; 32],
    /// Compared in person (safety number).
    pub verified: bool,
    /// Our 1:1 room with them, once we verified its roster (the node's
    /// friend list is only an index to it).
    #[serde(default)]
    pub room: Option<[u8; 16]>,
}

/// One room key.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct RoomKeyEntry {
    /// Room.
    pub room: [u8; 16],
    /// Epoch.
    pub epoch: u32,
    /// Key.
    pub key: [u8; 32],
}

/// The vault's contents.
#[derive(Clone, Serialize, Deserialize, Default)]
pub struct VaultData {
    /// Node address (`xxx.onion` or `host:port`).
    pub address: String,
    /// Restricted-discovery key for the node (base32), if needed.
    pub auth_key: Option<String>,
    /// Our username.
    pub username: String,
    /// Our account id, once signed up.
    pub user_id: Option<u64>,
    /// Session token.
    pub token: Option<String>,
    /// When the token expires (node ms).
    pub token_expires: u64,
    /// Pinned contact keys by user id.
    pub pins: BTreeMap<u64, Pin>,
    /// Room keys.
    pub room_keys: Vec<RoomKeyEntry>,
    /// Highest seq seen per room (hex room id).
    pub cursors: BTreeMap<String, u64>,
    /// The node as signed sign-ups and logins name it (its onion address,
    /// or `id:…` pinned at sign-up over TCP).
    #[serde(default)]
    pub node: String,
    /// This device's send stream (random; a new one after an import, so
    /// two computers sharing an account never reuse a counter).
    #[serde(default)]
    pub stream: u64,
    /// What was verified about each room (hex room id).
    #[serde(default)]
    pub rooms: crate::trust::Rooms,
    /// Usernames we sent a friend request to: a 1:1 room signed by one of
    /// them is how we learn their key (the node cannot make us a contact
    /// we never asked for).
    #[serde(default)]
    pub requested: std::collections::BTreeSet<String>,
    /// Key of the search index (`search.bin`, see [`crate::search`]):
    /// made on first use, kept only here.
    #[serde(default)]
    pub index_key: Option<[u8; 32]>,
}

impl VaultData {
    /// The contact with this username: (user id, pin).
    pub fn pin_named(&self, username: &str) -> Option<(u64, &Pin)> {
        self.pins
            .iter()
            .find(|(_, p)| p.username == username)
            .map(|(id, p)| (*id, p))
    }
}

impl Drop for VaultData {
    fn drop(&mut self) {
        if let Some(t) = self.token.as_mut() {
            t.zeroize();
        }
        if let Some(k) = self.auth_key.as_mut() {
            k.zeroize();
        }
        if let Some(k) = self.index_key.as_mut() {
            k.zeroize();
        }
    }
}

impl std::fmt::Debug for VaultData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultData")
            .field("address", &self.address)
            .field("username", &self.username)
            .field("user_id", &self.user_id)
            .field("pins", &self.pins.len())
            .field("room_keys", &self.room_keys.len())
            .finish_non_exhaustive()
    }
}

/// An unlocked profile.
pub struct Profile {
    dir: PathBuf,
    key: Zeroizing<[u8; 32]>,
    salt: [u8; 16],
    /// Our identity key.
    pub identity: IdentityKey,
    /// Vault contents.
    pub data: VaultData,
}

/// A whole profile in one file (`export`/`import`). Both parts stay
/// encrypted under the passphrase.
#[derive(Serialize, Deserialize)]
struct ExportFile {
    v: u16,
    identity_pem: String,
    #[serde(with = "serde_bytes")]
    vault: Vec<u8>,
}

fn derive_key(
    passphrase: &[u8],
    salt: &[u8; 16],
    m: u32,
    t: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>> {
    let params =
        argon2::Params::new(m, t, p, Some(32)).map_err(|_| ClientError::WrongPassphrase)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase, salt, &mut key[..])
        .map_err(|_| ClientError::WrongPassphrase)?;
    Ok(key)
}

fn set_private(path: &Path, dir: bool) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(
        path,
        std::fs::Permissions::from_mode(if dir { 0o700 } else { 0o600 }),
    );
}

/// Write `bytes` to `path` atomically with mode 0600.
/// Orders snapshots: a higher number holds newer state.
static SNAPSHOTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// One vault write at a time, and per file the newest generation written,
/// so an older snapshot finishing late never replaces a newer one.
static VAULT_WRITES: std::sync::Mutex<BTreeMap<PathBuf, u64>> =
    std::sync::Mutex::new(BTreeMap::new());

/// An encrypted vault waiting to be written (see [`Profile::snapshot`]).
pub struct VaultSnapshot {
    path: PathBuf,
    generation: u64,
    bytes: Vec<u8>,
}

impl VaultSnapshot {
    /// Write it atomically (temp file, fsync, rename), unless a newer
    /// snapshot of the same vault is already on disk.
    pub fn write(self) -> Result<()> {
        let mut written = VAULT_WRITES.lock().unwrap_or_else(|p| p.into_inner());
        let last = written.entry(self.path.clone()).or_insert(0);
        if *last > self.generation {
            return Ok(());
        }
        write_atomic(&self.path, &self.bytes)?;
        *last = self.generation;
        Ok(())
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    onionchat_fs::write_private(path, bytes).map_err(ClientError::io(format!(
        "cannot save the profile to {}",
        path.display()
    )))
}

fn seal_vault(key: &[u8; 32], salt: &[u8; 16], data: &VaultData) -> Result<Vec<u8>> {
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(salt);
    header.extend_from_slice(&ARGON_M_KIB.to_be_bytes());
    header.extend_from_slice(&ARGON_T.to_be_bytes());
    header.extend_from_slice(&ARGON_P.to_be_bytes());
    let nonce: [u8; 12] = random_array();
    header.extend_from_slice(&nonce);
    let plain = Zeroizing::new(onionchat_proto::encode(data)?);
    let ct = aead::seal(key, &nonce, &header, &plain)?;
    header.extend_from_slice(&ct);
    Ok(header)
}

/// Why a vault did not open: only a failed decryption can be the
/// passphrase; a damaged or oversized vault says so (a user told "wrong
/// passphrase" might delete a profile that only needed repair).
fn damaged(why: impl std::fmt::Display) -> ClientError {
    ClientError::Profile(format!(
        "vault.bin is damaged ({why}); your key in identity.pem is not affected — restore the vault from an export, or import your profile again"
    ))
}

/// The largest vault this client opens (what it writes stays far below:
/// every piece of per-peer state is capped, see `trust`).
pub const MAX_VAULT_BYTES: usize = 64 * 1024 * 1024;

fn open_vault(
    bytes: &[u8],
    passphrase: &[u8],
) -> Result<(Zeroizing<[u8; 32]>, [u8; 16], VaultData)> {
    if bytes.len() < HEADER_LEN + 16 || &bytes[..8] != MAGIC {
        return Err(damaged("it does not start like an OnionChat vault"));
    }
    if bytes.len() > MAX_VAULT_BYTES + HEADER_LEN + 16 {
        return Err(damaged(format_args!(
            "{} MiB, more than the {} MiB a vault may have",
            bytes.len() >> 20,
            MAX_VAULT_BYTES >> 20
        )));
    }
    let mut salt = [0u8; 16];
    salt.copy_from_slice(&bytes[8..24]);
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let (m, t, p) = (word(24), word(28), word(32));
    if m > 1024 * 1024 || t > 16 || p > 8 {
        return Err(damaged("its key-derivation settings are out of range"));
    }
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&bytes[36..48]);
    let key = derive_key(passphrase, &salt, m, t, p)?;
    // The identity key opened with this passphrase already, so a vault
    // that does not decrypt was changed on disk.
    let plain = Zeroizing::new(
        aead::open(&key, &nonce, &bytes[..HEADER_LEN], &bytes[HEADER_LEN..]).ok_or_else(|| {
            damaged("it does not decrypt with the passphrase that opens your key")
        })?,
    );
    let data = onionchat_proto::decode_with(
        &plain,
        onionchat_proto::Limits::with_max_len(MAX_VAULT_BYTES),
    )
    .map_err(|e| damaged(format_args!("it decrypted but cannot be read: {e}")))?;
    Ok((key, salt, data))
}

impl Profile {
    /// The default directory of profile `name`.
    pub fn default_dir(name: &str) -> PathBuf {
        directories::ProjectDirs::from("org", "OnionChat", "onionchat")
            .map(|d| d.data_dir().join("profiles").join(name))
            .unwrap_or_else(|| PathBuf::from(".onionchat").join(name))
    }

    fn identity_path(dir: &Path) -> PathBuf {
        dir.join("identity.pem")
    }

    fn vault_path(dir: &Path) -> PathBuf {
        dir.join("vault.bin")
    }

    /// Whether a profile exists in `dir`.
    pub fn exists(dir: &Path) -> bool {
        Self::identity_path(dir).exists()
    }

    /// Whether `passphrase` may protect a new profile (at least 8
    /// characters): asked before anything slow is done with it.
    pub fn check_new_passphrase(passphrase: &[u8]) -> Result<()> {
        if passphrase.len() < 8 {
            return Err(ClientError::Profile(
                "choose a passphrase of at least 8 characters".into(),
            ));
        }
        Ok(())
    }

    /// Create a new profile; refuses to overwrite one.
    pub fn create(
        dir: &Path,
        passphrase: &[u8],
        identity: IdentityKey,
        data: VaultData,
    ) -> Result<Profile> {
        if Self::exists(dir) {
            return Err(ClientError::Profile(format!(
                "a profile already exists in {}",
                dir.display()
            )));
        }
        Self::check_new_passphrase(passphrase)?;
        std::fs::create_dir_all(dir)
            .map_err(ClientError::io(format!("cannot create {}", dir.display())))?;
        set_private(dir, true);
        let salt: [u8; 16] = random_array();
        let key = derive_key(passphrase, &salt, ARGON_M_KIB, ARGON_T, ARGON_P)?;
        let pem = at_rest::encrypt_pem(&identity, passphrase)?;
        let mut profile = Profile {
            dir: dir.to_path_buf(),
            key,
            salt,
            identity,
            data,
        };
        profile.new_stream();
        profile.save()?;
        write_atomic(&Self::identity_path(dir), pem.as_bytes())?;
        Ok(profile)
    }

    /// Unlock an existing profile.
    pub fn open(dir: &Path, passphrase: &[u8]) -> Result<Profile> {
        if !Self::exists(dir) {
            return Err(ClientError::Profile(format!(
                "no profile in {}; run `onionchat join` first",
                dir.display()
            )));
        }
        let pem = Zeroizing::new(
            std::fs::read_to_string(Self::identity_path(dir))
                .map_err(ClientError::io("cannot read identity.pem"))?,
        );
        let identity =
            at_rest::decrypt_pem(&pem, passphrase).map_err(|_| ClientError::WrongPassphrase)?;
        let vault = std::fs::read(Self::vault_path(dir))
            .map_err(ClientError::io("cannot read vault.bin"))?;
        let (key, salt, data) = open_vault(&vault, passphrase)?;
        Ok(Profile {
            dir: dir.to_path_buf(),
            key,
            salt,
            identity,
            data,
        })
    }

    /// Write the vault (atomically).
    pub fn save(&self) -> Result<()> {
        self.snapshot()?.write()
    }

    /// The vault as it is now, encrypted, ready to be written — taken under
    /// the profile lock (fast), written without it ([`VaultSnapshot::write`],
    /// the slow fsync part), so sending never waits for the disk.
    pub fn snapshot(&self) -> Result<VaultSnapshot> {
        Ok(VaultSnapshot {
            path: Self::vault_path(&self.dir),
            generation: SNAPSHOTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1,
            bytes: seal_vault(&self.key, &self.salt, &self.data)?,
        })
    }

    /// The profile's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Write the whole profile to one passphrase-protected file.
    pub fn export(&self, path: &Path) -> Result<()> {
        let identity_pem = std::fs::read_to_string(Self::identity_path(&self.dir))
            .map_err(ClientError::io("cannot read identity.pem"))?;
        let file = ExportFile {
            v: 1,
            identity_pem,
            vault: seal_vault(&self.key, &self.salt, &self.data)?,
        };
        write_atomic(path, &onionchat_proto::encode(&file)?)
    }

    /// Create a profile in `dir` from an export file; checks the passphrase.
    pub fn import(file: &Path, dir: &Path, passphrase: &[u8]) -> Result<Profile> {
        if Self::exists(dir) {
            return Err(ClientError::Profile(format!(
                "a profile already exists in {}",
                dir.display()
            )));
        }
        let bytes = std::fs::read(file)
            .map_err(ClientError::io(format!("cannot read {}", file.display())))?;
        let ex: ExportFile = onionchat_proto::decode_with(
            &bytes,
            onionchat_proto::Limits::with_max_len(128 * 1024 * 1024),
        )
        .map_err(|_| ClientError::Profile("not an OnionChat profile export".into()))?;
        at_rest::decrypt_pem(&ex.identity_pem, passphrase)
            .map_err(|_| ClientError::WrongPassphrase)?;
        open_vault(&ex.vault, passphrase)?;
        std::fs::create_dir_all(dir)
            .map_err(ClientError::io(format!("cannot create {}", dir.display())))?;
        set_private(dir, true);
        write_atomic(&Self::vault_path(dir), &ex.vault)?;
        write_atomic(&Self::identity_path(dir), ex.identity_pem.as_bytes())?;
        let mut profile = Self::open(dir, passphrase)?;
        // This is another computer: its messages form a stream of their own.
        profile.new_stream();
        profile.save()?;
        Ok(profile)
    }

    /// Start a new send stream (a new device): counters start again at 1.
    pub fn new_stream(&mut self) {
        self.data.stream = u64::from_be_bytes(random_array());
        for r in self.data.rooms.values_mut() {
            r.sent = 0;
        }
    }

    /// The room key of an epoch, if we have it.
    pub fn room_key(&self, room: [u8; 16], epoch: u32) -> Option<[u8; 32]> {
        self.data
            .room_keys
            .iter()
            .find(|e| e.room == room && e.epoch == epoch)
            .map(|e| e.key)
    }

    /// Remember a room key.
    pub fn put_room_key(&mut self, room: [u8; 16], epoch: u32, key: [u8; 32]) {
        if self.room_key(room, epoch).is_none() {
            self.data.room_keys.push(RoomKeyEntry { room, epoch, key });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_round_trip_and_wrong_passphrase() {
        let salt = [1u8; 16];
        let key = derive_key(b"passphrase!", &salt, ARGON_M_KIB, ARGON_T, ARGON_P).expect("kdf");
        let mut data = VaultData::default();
        data.address = "x.onion".into();
        data.username = "ann".into();
        let sealed = seal_vault(&key, &salt, &data).expect("seal");
        let (_, _, back) = open_vault(&sealed, b"passphrase!").expect("right passphrase opens");
        assert_eq!(back.username, "ann");
        // open_vault runs after identity.pem opened with the passphrase:
        // a vault that then fails is damaged, and says so — never "wrong
        // passphrase", which a user might answer by deleting the profile.
        let damaged = |r: Result<(Zeroizing<[u8; 32]>, [u8; 16], VaultData)>, why: &str| match r {
            Err(ClientError::Profile(m)) => {
                assert!(m.contains("damaged") && m.contains(why), "{m}")
            }
            Err(e) => panic!("expected a damaged vault ({why}), got {e}"),
            Ok(_) => panic!("a damaged vault opened ({why})"),
        };
        damaged(open_vault(&sealed, b"wrong"), "does not decrypt");
        damaged(
            open_vault(&sealed[..20], b"passphrase!"),
            "does not start like",
        );
        let mut huge = sealed.clone();
        huge.resize(MAX_VAULT_BYTES + HEADER_LEN + 17, 0);
        damaged(open_vault(&huge, b"passphrase!"), "MiB");
        // The header (KDF parameters) is authenticated: changing it fails.
        let mut tampered = sealed.clone();
        tampered[31] ^= 1;
        assert!(open_vault(&tampered, b"passphrase!").is_err());
    }

    #[test]
    fn an_older_snapshot_written_late_never_replaces_a_newer_one() {
        let salt = [2u8; 16];
        let key = derive_key(b"passphrase!", &salt, ARGON_M_KIB, ARGON_T, ARGON_P).expect("kdf");
        let tmp = tempfile::tempdir().expect("tmp");
        let mut p = Profile {
            dir: tmp.path().to_path_buf(),
            key,
            salt,
            identity: IdentityKey::generate().expect("key"),
            data: VaultData::default(),
        };
        p.data.username = "old".into();
        let older = p.snapshot().expect("snapshot");
        p.data.username = "new".into();
        let newer = p.snapshot().expect("snapshot");
        newer.write().expect("write newer");
        older.write().expect("late older write is skipped");
        let bytes = std::fs::read(Profile::vault_path(tmp.path())).expect("read");
        let (_, _, data) = open_vault(&bytes, b"passphrase!").expect("open");
        assert_eq!(data.username, "new");
    }
}
