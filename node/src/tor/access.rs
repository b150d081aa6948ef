//! Restricted-discovery access keys: which clients may even find the
//! onion service.
//!
//! Each invite carries its own x25519 client-authorization secret; the
//! public half sits in `tor/authorized_clients/<id>.auth`, a directory the
//! onion service watches. Arti only uploads a new descriptor up to about a
//! minute after a key is added, so keys are made ahead of time: a small pool
//! of spares is always authorized and published, and an invite takes one
//! (then a new spare is made). Removing a `.auth` file revokes the key at the
//! next descriptor upload — the app's own login still protects the node.

use onionchat_fs::{private_dir as mkdir_private, write_private};
use std::path::{Path, PathBuf};

use tor_llcrypto::pk::curve25519::{PublicKey, StaticSecret};

/// Spare keys kept authorized and unassigned.
pub const SPARES: usize = 4;

/// The key pool in a data dir.
#[derive(Debug, Clone)]
pub struct AccessKeys {
    auth_dir: PathBuf,
    secret_dir: PathBuf,
}

/// One authorized client key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AccessKey {
    /// Short id (the `.auth` file name).
    pub id: String,
    /// The invite code it was handed out with, if any.
    pub invite: Option<String>,
}

fn b32(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(bytes)
}

impl AccessKeys {
    /// The pool under `<data_dir>/tor`.
    pub fn open(data_dir: &Path) -> std::io::Result<AccessKeys> {
        let keys = AccessKeys {
            auth_dir: data_dir.join("tor").join("authorized_clients"),
            secret_dir: data_dir.join("tor").join("access_secrets"),
        };
        mkdir_private(&keys.auth_dir)?;
        mkdir_private(&keys.secret_dir)?;
        Ok(keys)
    }

    /// The directory the onion service reads `.auth` files from.
    pub fn auth_dir(&self) -> &Path {
        &self.auth_dir
    }

    fn new_key(&self) -> std::io::Result<String> {
        let id = format!(
            "c{}",
            hex::encode(onionchat_proto::crypto::random_array::<6>())
        );
        let secret = StaticSecret::from(onionchat_proto::crypto::random_array::<32>());
        let public = PublicKey::from(&secret);
        write_private(
            &self.secret_dir.join(format!("{id}.secret")),
            b32(secret.as_bytes()).as_bytes(),
        )?;
        write_private(
            &self.auth_dir.join(format!("{id}.auth")),
            format!("descriptor:x25519:{}\n", b32(public.as_bytes())).as_bytes(),
        )?;
        Ok(id)
    }

    /// All keys, with the invite each was given to.
    pub fn list(&self) -> std::io::Result<Vec<AccessKey>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.auth_dir)? {
            let name = entry?.file_name().to_string_lossy().to_string();
            if let Some(id) = name.strip_suffix(".auth") {
                let invite =
                    std::fs::read_to_string(self.secret_dir.join(format!("{id}.invite"))).ok();
                out.push(AccessKey {
                    id: id.to_string(),
                    invite: invite.map(|s| s.trim().to_string()),
                });
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Make spares until there are [`SPARES`] unassigned keys.
    pub fn top_up(&self) -> std::io::Result<()> {
        let spare = self.list()?.iter().filter(|k| k.invite.is_none()).count();
        for _ in spare..SPARES {
            self.new_key()?;
        }
        Ok(())
    }

    /// The secret (base32) for an invite: its assigned key, or a spare
    /// assigned to it now.
    pub fn secret_for_invite(&self, code: &str) -> std::io::Result<String> {
        let keys = self.list()?;
        let id = match keys.iter().find(|k| k.invite.as_deref() == Some(code)) {
            Some(k) => k.id.clone(),
            None => {
                let id = match keys.iter().find(|k| k.invite.is_none()) {
                    Some(k) => k.id.clone(),
                    None => self.new_key()?,
                };
                write_private(
                    &self.secret_dir.join(format!("{id}.invite")),
                    code.as_bytes(),
                )?;
                self.top_up()?;
                id
            }
        };
        Ok(
            std::fs::read_to_string(self.secret_dir.join(format!("{id}.secret")))?
                .trim()
                .to_string(),
        )
    }

    /// Revoke a key (takes effect at the next descriptor upload).
    pub fn revoke(&self, id: &str) -> std::io::Result<bool> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(false);
        }
        let auth = self.auth_dir.join(format!("{id}.auth"));
        if !auth.exists() {
            return Ok(false);
        }
        // Never leave the list empty: an empty list breaks the service.
        if self.list()?.len() <= 1 {
            self.new_key()?;
        }
        std::fs::remove_file(auth)?;
        let _ = std::fs::remove_file(self.secret_dir.join(format!("{id}.secret")));
        let _ = std::fs::remove_file(self.secret_dir.join(format!("{id}.invite")));
        Ok(true)
    }
}

/// Whether an invite's access key should still open the service: the
/// invite was redeemed (the key is now its member's way in), or it can
/// still be redeemed. Revoked, expired-unused and vanished invites lose it.
fn invite_keeps_key(
    invite: Option<&onionchat_proto::wire::Invite>,
    removed: &[onionchat_proto::wire::UserId],
    now_ms: u64,
) -> bool {
    match invite {
        None => false,
        Some(i) => match i.used_by {
            // A member's way in, until the owner removes the member.
            Some(user) => !removed.contains(&user),
            None => !i.revoked && i.expires_at >= now_ms,
        },
    }
}

impl AccessKeys {
    /// Revoke the keys of invites that can no longer be redeemed and were
    /// not (revoked, expired, gone), and of those redeemed by accounts the
    /// owner removed. Returns the revoked key ids.
    pub fn drop_dead_invites(
        &self,
        invites: &[onionchat_proto::wire::Invite],
        removed: &[onionchat_proto::wire::UserId],
        now_ms: u64,
    ) -> std::io::Result<Vec<String>> {
        let mut revoked = Vec::new();
        for key in self.list()? {
            let Some(code) = key.invite.as_deref() else {
                continue;
            };
            let invite = invites.iter().find(|i| i.code == code);
            if !invite_keeps_key(invite, removed, now_ms) && self.revoke(&key.id)? {
                revoked.push(key.id);
            }
        }
        Ok(revoked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_dead_invites_are_revoked_and_members_keep_theirs() {
        use onionchat_proto::wire::{Invite, UserId};
        let tmp = tempfile::tempdir().expect("tmp");
        let keys = AccessKeys::open(tmp.path()).expect("open");
        keys.top_up().expect("top up");
        let now = 1_000_000;
        let invite = |code: &str, expires_at, used_by, revoked| Invite {
            code: code.into(),
            created_at: 0,
            expires_at,
            used_by,
            revoked,
            note: None,
            owner: false,
        };
        let invites = vec![
            invite("LIVE", now + 1, None, false),
            invite("USED", now - 1, Some(UserId(2)), false),
            invite("REVOKED", now + 1, None, true),
            invite("EXPIRED", now - 1, None, false),
            invite("REMOVED", now + 1, Some(UserId(3)), false),
        ];
        for code in ["LIVE", "USED", "REVOKED", "EXPIRED", "GONE", "REMOVED"] {
            keys.secret_for_invite(code).expect("assign");
        }
        let removed = [UserId(3)];
        let revoked = keys
            .drop_dead_invites(&invites, &removed, now)
            .expect("sweep");
        assert_eq!(revoked.len(), 4);
        let mut left: Vec<String> = keys
            .list()
            .expect("list")
            .into_iter()
            .filter_map(|k| k.invite)
            .collect();
        left.sort();
        assert_eq!(left, ["LIVE", "USED"]);
        // Revoked keys are gone from the directory the service reads.
        let auth_files = std::fs::read_dir(keys.auth_dir()).expect("dir").count();
        assert_eq!(auth_files, keys.list().expect("list").len());
        assert!(
            keys.drop_dead_invites(&invites, &removed, now)
                .expect("again")
                .is_empty()
        );
    }

    #[test]
    fn pool_assigns_tops_up_and_revokes() {
        let tmp = tempfile::tempdir().expect("tmp");
        let keys = AccessKeys::open(tmp.path()).expect("open");
        keys.top_up().expect("top up");
        assert_eq!(keys.list().expect("list").len(), SPARES);
        let s1 = keys.secret_for_invite("CODEA").expect("assign");
        assert_eq!(s1.len(), 52, "32 bytes in unpadded base32");
        assert_eq!(
            keys.secret_for_invite("CODEA").expect("again"),
            s1,
            "stable per invite"
        );
        let all = keys.list().expect("list");
        assert_eq!(
            all.len(),
            SPARES + 1,
            "a new spare replaces the assigned one"
        );
        let assigned = all
            .iter()
            .find(|k| k.invite.as_deref() == Some("CODEA"))
            .expect("assigned");
        let auth = std::fs::read_to_string(keys.auth_dir().join(format!("{}.auth", assigned.id)))
            .expect("auth");
        assert!(auth.starts_with("descriptor:x25519:") && auth.trim().len() == 18 + 52);
        // The .auth public key matches the secret handed out.
        let secret: [u8; 32] = data_encoding::BASE32_NOPAD
            .decode(s1.as_bytes())
            .expect("b32")
            .try_into()
            .expect("32");
        let public = PublicKey::from(&StaticSecret::from(secret));
        assert!(auth.contains(&b32(public.as_bytes())));
        assert!(keys.revoke(&assigned.id).expect("revoke"));
        assert!(!keys.revoke(&assigned.id).expect("again"));
        assert!(!keys.revoke("../etc").expect("bad id"));
        assert_eq!(keys.list().expect("list").len(), SPARES);
    }
}
