//! Accounts, invites and sessions.

use onionchat_proto::crypto::sha256;
use onionchat_proto::wire::{ErrorCode, Fingerprint, Invite, SignupBody, UserId, UserInfo};
use onionchat_proto::{now_ms, wire::validate_username};
use redb::{ReadableTable, ReadableTableMetadata};

use super::schema::*;
use super::{Store, dec, enc, next_id};
use crate::error::{Failure, reject};
use crate::hub::Event;

/// Public view of a stored user.
pub fn user_info(id: u64, rec: &UserRecord) -> UserInfo {
    UserInfo {
        user_id: UserId(id),
        username: rec.username.clone(),
        public_key: rec.public_key.clone(),
        fingerprint: Fingerprint(rec.fingerprint),
        is_owner: rec.is_owner,
        created_at: rec.created_at,
        removed: rec.removed_at.is_some(),
    }
}

/// Public view of a stored invite.
pub fn invite_info(code: &str, rec: &InviteRecord) -> Invite {
    Invite {
        code: code.to_string(),
        created_at: rec.created_at,
        expires_at: rec.expires_at,
        used_by: rec.used_by.map(UserId),
        revoked: rec.revoked,
        note: rec.note.clone(),
        owner: rec.owner,
    }
}

/// A fresh invite code: 16 random bytes in unpadded base32 (26 characters,
/// upper case, so it also fits a QR code's alphanumeric mode).
pub fn new_invite_code() -> String {
    data_encoding::BASE32_NOPAD.encode(&onionchat_proto::crypto::random_array::<16>())
}

/// Sessions one user may have at once (devices and logins); a new login
/// past it ends the oldest.
pub const MAX_SESSIONS_PER_USER: usize = 16;

/// Hash under which a session token is stored. The token must be exactly
/// as issued — 64 lower-case hex characters — so each session has one
/// spelling (an upper-case copy is not the same token).
pub fn token_hash(token: &str) -> Option<[u8; 32]> {
    if token.len() != 64
        || !token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut raw = [0u8; 32];
    hex::decode_to_slice(token, &mut raw).ok()?;
    Some(sha256(&raw))
}

impl Store {
    /// Register an account whose proof of possession was already verified.
    pub async fn signup(
        &self,
        body: SignupBody,
        fingerprint: Fingerprint,
        open_registration: bool,
    ) -> Result<UserInfo, Failure> {
        if let Err(why) = validate_username(&body.username) {
            return reject(ErrorCode::Invalid, why);
        }
        // Every write that grows the database needs the free-space floor.
        self.space().check(1024)?;
        self.write(move |txn| {
            let now = now_ms();
            let mut invite = None;
            match &body.invite {
                Some(code) => {
                    let rec: InviteRecord = match txn.open_table(INVITES)?.get(code.as_str())? {
                        Some(g) => dec(g.value())?,
                        None => {
                            return reject(ErrorCode::InviteInvalid, "this invite does not exist");
                        }
                    };
                    if rec.used_by.is_some() {
                        return reject(ErrorCode::InviteInvalid, "this invite was already used");
                    }
                    if rec.revoked {
                        return reject(ErrorCode::InviteInvalid, "this invite was revoked");
                    }
                    if rec.expires_at < now {
                        return reject(ErrorCode::InviteInvalid, "this invite has expired");
                    }
                    invite = Some((code.clone(), rec));
                }
                None if !open_registration => {
                    return reject(
                        ErrorCode::InviteInvalid,
                        "this node needs an invite to sign up",
                    );
                }
                None => {}
            }
            // Only someone holding a valid invite learns whether a name or
            // key is taken (no enumeration of accounts from outside).
            if txn
                .open_table(USERNAMES)?
                .get(body.username.as_str())?
                .is_some()
            {
                return reject(
                    ErrorCode::UsernameTaken,
                    format!("the username '{}' is taken", body.username),
                );
            }
            if txn.open_table(FINGERPRINTS)?.get(fingerprint.0)?.is_some() {
                return reject(ErrorCode::Conflict, "this key already has an account");
            }
            // All checks passed: write.
            let id = next_id(txn, "next_user_id")?;
            let is_owner = invite.as_ref().is_some_and(|(_, r)| r.owner);
            let rec = UserRecord {
                username: body.username.clone(),
                public_key: body.public_key.clone(),
                fingerprint: fingerprint.0,
                is_owner,
                created_at: now,
                removed_at: None,
            };
            txn.open_table(USERS)?.insert(id, enc(&rec)?.as_slice())?;
            txn.open_table(USERNAMES)?
                .insert(body.username.as_str(), id)?;
            txn.open_table(FINGERPRINTS)?.insert(fingerprint.0, id)?;
            if let Some((code, mut inv)) = invite {
                inv.used_by = Some(id);
                txn.open_table(INVITES)?
                    .insert(code.as_str(), enc(&inv)?.as_slice())?;
            }
            Ok((user_info(id, &rec), vec![]))
        })
        .await
    }

    /// Find a user by name.
    pub fn user_by_name(&self, name: &str) -> Result<(UserId, UserRecord), Failure> {
        let r = self.read()?;
        let Some(id) = r.open_table(USERNAMES)?.get(name)?.map(|g| g.value()) else {
            return reject(ErrorCode::NotFound, format!("no user named '{name}'"));
        };
        Ok((UserId(id), super::get_user(&r, UserId(id))?))
    }

    /// Number of accounts.
    pub fn user_count(&self) -> Result<u64, Failure> {
        Ok(self.read()?.open_table(USERS)?.len()?)
    }

    /// Whether an owner account exists.
    pub fn has_owner(&self) -> Result<bool, Failure> {
        let r = self.read()?;
        for entry in r.open_table(USERS)?.iter()? {
            let (_, v) = entry?;
            if dec::<UserRecord>(v.value())?.is_owner {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Start a session for `user`; returns the token (shown once), its
    /// expiry, and the sessions of `user` that ended to make room: a user
    /// has at most [`MAX_SESSIONS_PER_USER`] (the oldest go first), so
    /// logging in over and over cannot grow the table.
    pub async fn create_session(
        &self,
        user: UserId,
        ttl_ms: u64,
    ) -> Result<(String, u64, Vec<[u8; 32]>), Failure> {
        let raw = onionchat_proto::crypto::random_array::<32>();
        let token = hex::encode(raw);
        let hash = sha256(&raw);
        let now = now_ms();
        let rec = SessionRecord {
            user_id: user.0,
            created_at: now,
            expires_at: now.saturating_add(ttl_ms),
        };
        let expires = rec.expires_at;
        let ended = self
            .write(move |txn| {
                let mut theirs = Vec::new();
                for entry in txn.open_table(SESSIONS)?.iter()? {
                    let (k, v) = entry?;
                    let s = dec::<SessionRecord>(v.value())?;
                    if s.user_id == user.0 {
                        theirs.push((s.created_at, k.value()));
                    }
                }
                theirs.sort();
                let over = (theirs.len() + 1).saturating_sub(MAX_SESSIONS_PER_USER);
                let ended: Vec<[u8; 32]> = theirs.into_iter().take(over).map(|(_, h)| h).collect();
                let mut t = txn.open_table(SESSIONS)?;
                for h in &ended {
                    t.remove(*h)?;
                }
                t.insert(hash, enc(&rec)?.as_slice())?;
                Ok((ended, vec![]))
            })
            .await?;
        Ok((token, expires, ended))
    }

    /// Who a session token belongs to, if it is valid and unexpired.
    pub fn session_user(&self, hash: &[u8; 32]) -> Result<Option<(UserId, u64)>, Failure> {
        let r = self.read()?;
        let Some(g) = r.open_table(SESSIONS)?.get(*hash)? else {
            return Ok(None);
        };
        let rec: SessionRecord = dec(g.value())?;
        if rec.expires_at < now_ms() {
            return Ok(None);
        }
        Ok(Some((UserId(rec.user_id), rec.expires_at)))
    }

    /// Remove an account (the owner's decision): it can no longer log in,
    /// its sessions end, its pending friend requests are cancelled. Its
    /// messages stay, and rooms keep it in their signed rosters until a
    /// member removes it (the node cannot sign for them). Returns the
    /// session hashes that ended, to close their live connections.
    pub async fn remove_account(&self, by: UserId, user: UserId) -> Result<Vec<[u8; 32]>, Failure> {
        self.write(move |txn| {
            if by == user {
                return reject(
                    ErrorCode::Invalid,
                    "the owner cannot remove their own account",
                );
            }
            let mut rec = super::get_user(txn, user)?;
            if rec.removed_at.is_some() {
                return reject(ErrorCode::Conflict, "this account is already removed");
            }
            // Everything read first; then the writes.
            let mut ended = Vec::new();
            for entry in txn.open_table(SESSIONS)?.iter()? {
                let (k, v) = entry?;
                if dec::<SessionRecord>(v.value())?.user_id == user.0 {
                    ended.push(k.value());
                }
            }
            let mut cancelled = Vec::new();
            for entry in txn.open_table(PENDING_PAIRS)?.iter()? {
                let (k, v) = entry?;
                let (a, b) = k.value();
                if a == user.0 || b == user.0 {
                    cancelled.push(((a, b), v.value()));
                }
            }
            rec.removed_at = Some(now_ms());
            txn.open_table(USERS)?
                .insert(user.0, enc(&rec)?.as_slice())?;
            let mut sessions = txn.open_table(SESSIONS)?;
            for hash in &ended {
                sessions.remove(*hash)?;
            }
            let mut events = Vec::new();
            for (pair, id) in cancelled {
                txn.open_table(PENDING_PAIRS)?.remove(pair)?;
                let mut requests = txn.open_table(FRIEND_REQUESTS)?;
                let Some(mut req) = requests
                    .get(id)?
                    .map(|g| dec::<FriendRequestRecord>(g.value()))
                    .transpose()?
                else {
                    continue;
                };
                req.state = onionchat_proto::wire::FriendRequestState::Cancelled;
                requests.remove(id)?;
                drop(requests);
                let info = super::friends::request_info(txn, id, &req)?;
                events.push(Event::new(
                    vec![UserId(req.from), UserId(req.to)],
                    onionchat_proto::wire::ServerFrame::FriendRequest(info),
                ));
            }
            Ok((ended, events))
        })
        .await
    }

    /// Every account that is not removed, by user id.
    pub fn list_users(&self) -> Result<Vec<UserInfo>, Failure> {
        let r = self.read()?;
        let mut out = Vec::new();
        for entry in r.open_table(USERS)?.iter()? {
            let (k, v) = entry?;
            let rec = dec::<UserRecord>(v.value())?;
            if rec.removed_at.is_none() {
                out.push(user_info(k.value(), &rec));
            }
        }
        Ok(out)
    }

    /// Ids of removed accounts.
    pub fn removed_users(&self) -> Result<Vec<UserId>, Failure> {
        let r = self.read()?;
        let mut out = Vec::new();
        for entry in r.open_table(USERS)?.iter()? {
            let (k, v) = entry?;
            if dec::<UserRecord>(v.value())?.removed_at.is_some() {
                out.push(UserId(k.value()));
            }
        }
        Ok(out)
    }

    /// End a session (logout).
    pub async fn delete_session(&self, hash: [u8; 32]) -> Result<(), Failure> {
        self.write(move |txn| {
            txn.open_table(SESSIONS)?.remove(hash)?;
            Ok(((), vec![]))
        })
        .await
    }

    /// Remove expired sessions; returns how many.
    pub async fn prune_sessions(&self) -> Result<u64, Failure> {
        self.write(move |txn| {
            let now = now_ms();
            let mut t = txn.open_table(SESSIONS)?;
            let before = t.len()?;
            t.retain(|_, v| {
                dec::<SessionRecord>(v)
                    .map(|s| s.expires_at >= now)
                    .unwrap_or(false)
            })?;
            Ok((before - t.len()?, vec![]))
        })
        .await
    }

    /// Create an invite valid for `ttl_ms`.
    pub async fn create_invite(
        &self,
        ttl_ms: u64,
        note: Option<String>,
        owner: bool,
    ) -> Result<Invite, Failure> {
        if note.as_ref().is_some_and(|n| n.len() > 200) {
            return reject(
                ErrorCode::Invalid,
                "an invite note has at most 200 characters",
            );
        }
        let code = new_invite_code();
        let now = now_ms();
        let rec = InviteRecord {
            created_at: now,
            expires_at: now.saturating_add(ttl_ms),
            used_by: None,
            revoked: false,
            note,
            owner,
        };
        // Every write that grows the database needs the free-space floor.
        self.space().check(512)?;
        self.write(move |txn| {
            txn.open_table(INVITES)?
                .insert(code.as_str(), enc(&rec)?.as_slice())?;
            Ok((invite_info(&code, &rec), vec![]))
        })
        .await
    }

    /// All invites, newest first.
    pub fn list_invites(&self) -> Result<Vec<Invite>, Failure> {
        let r = self.read()?;
        let mut out = Vec::new();
        for entry in r.open_table(INVITES)?.iter()? {
            let (k, v) = entry?;
            out.push(invite_info(k.value(), &dec(v.value())?));
        }
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.code.cmp(&b.code)));
        Ok(out)
    }

    /// Revoke an unused invite.
    pub async fn revoke_invite(&self, code: String) -> Result<Invite, Failure> {
        self.write(move |txn| {
            let mut t = txn.open_table(INVITES)?;
            let mut rec: InviteRecord = match t.get(code.as_str())? {
                Some(g) => dec(g.value())?,
                None => return reject(ErrorCode::NotFound, "no such invite"),
            };
            if rec.used_by.is_some() {
                return reject(ErrorCode::Conflict, "this invite was already used");
            }
            rec.revoked = true;
            t.insert(code.as_str(), enc(&rec)?.as_slice())?;
            Ok((invite_info(&code, &rec), vec![]))
        })
        .await
    }

    /// If nobody owns the node yet, return a usable owner invite, creating
    /// one if none is left.
    pub async fn ensure_owner_invite(&self, ttl_ms: u64) -> Result<Option<Invite>, Failure> {
        if self.has_owner()? {
            return Ok(None);
        }
        let now = now_ms();
        if let Some(inv) = self
            .list_invites()?
            .into_iter()
            .find(|i| i.owner && !i.revoked && i.used_by.is_none() && i.expires_at > now)
        {
            return Ok(Some(inv));
        }
        self.create_invite(ttl_ms, Some("owner".into()), true)
            .await
            .map(Some)
    }
}
