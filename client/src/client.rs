//! The client: an unlocked profile plus a connection to its node.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use hyper::Method;
use onionchat_proto::crypto::{IdentityKey, PublicIdentity, SignContext};
use onionchat_proto::wire::{
    Challenge, ChallengeRequest, Fingerprint, InviteLink, LoginBody, RosterMember, ServerInfo,
    Session, SignupBody, SignupResponse, UserId, UserInfo,
};
use onionchat_proto::{PROTOCOL_VERSION, now_ms};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

use crate::api::{Api, is_unauthorized};
use crate::error::{ClientError, Result};
use crate::events::ClientEvent;
use crate::live::LiveLink;
use crate::profile::{Pin, Profile, VaultData};
use crate::transport::Connector;

/// A contact as the client knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Account.
    pub user_id: UserId,
    /// Name.
    pub username: String,
    /// Pinned key fingerprint.
    pub fingerprint: Fingerprint,
    /// Compared in person.
    pub verified: bool,
    /// In the contact book (false: a stranger the node showed, not pinned).
    pub known: bool,
}

/// A user record checked against the contact book.
#[derive(Debug, Clone)]
pub(crate) enum Known {
    /// A contact, and the node agrees with the contact book.
    Contact,
    /// Not a contact (and not using a contact's name or id).
    Stranger(PublicIdentity),
}

/// A client session. Share it as `Arc<Client>`.
pub struct Client {
    pub(crate) api: Api,
    pub(crate) profile: Mutex<Profile>,
    pub(crate) events: broadcast::Sender<ClientEvent>,
    pub(crate) live: LiveLink,
    /// Last known state of each room (epoch, membership), to send without
    /// asking the node first; refreshed when the node says it moved on.
    pub(crate) rooms_seen: Mutex<
        std::collections::HashMap<onionchat_proto::wire::RoomId, onionchat_proto::wire::Room>,
    >,
    /// One send at a time per room (counters leave in order).
    pub(crate) send_locks: Mutex<
        std::collections::HashMap<onionchat_proto::wire::RoomId, Arc<tokio::sync::Mutex<()>>>,
    >,
    /// Where each sender's messages were seen in each room this session.
    pub(crate) seen:
        Mutex<std::collections::HashMap<onionchat_proto::wire::RoomId, crate::seen::SeenOrder>>,
    /// The search index, loaded on first use ([`crate::search`]).
    pub(crate) search: Mutex<Option<crate::search::SearchIndex>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("user", &self.me())
            .finish_non_exhaustive()
    }
}

impl Client {
    fn from_profile(profile: Profile, connector: Arc<dyn Connector>) -> Client {
        let api = Api::new(connector);
        if profile.data.token_expires > now_ms() + 60_000 {
            api.set_token(profile.data.token.clone());
        }
        let (events, _) = broadcast::channel(4096);
        Client {
            api,
            profile: Mutex::new(profile),
            events,
            live: LiveLink::default(),
            rooms_seen: Mutex::default(),
            send_locks: Mutex::default(),
            seen: Mutex::default(),
            search: Mutex::default(),
        }
    }

    pub(crate) fn profile(&self) -> MutexGuard<'_, Profile> {
        self.profile.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Create a local profile with a fresh identity key (no node contact).
    pub async fn init(
        dir: &Path,
        passphrase: &[u8],
        username: &str,
        progress: impl Fn(&str),
    ) -> Result<()> {
        onionchat_proto::wire::validate_username(username)
            .map_err(|e| ClientError::Profile(e.into()))?;
        if Profile::exists(dir) {
            return Err(ClientError::Profile(format!(
                "a profile already exists in {}",
                dir.display()
            )));
        }
        Profile::check_new_passphrase(passphrase)?;
        progress("Generating your identity key (RSA-3072)…");
        let identity = tokio::task::spawn_blocking(IdentityKey::generate)
            .await
            .map_err(|e| ClientError::Profile(e.to_string()))??;
        progress("Saving your encrypted profile…");
        let mut data = VaultData::default();
        data.username = username.to_string();
        Profile::create(dir, passphrase, identity, data)?;
        Ok(())
    }

    /// Redeem `invite` with the profile in `dir` (created with `username`
    /// first if it does not exist), then log in.
    ///
    /// A join that fails before the box made the account leaves nothing
    /// behind it made: a profile it created is removed again (once the
    /// account exists, the profile holds its key and is kept, to log in
    /// later). A profile that exists without an account (made by `init`)
    /// takes `username` if one is given, so a name the box refused can be
    /// replaced by another.
    pub async fn join(
        dir: &Path,
        passphrase: &[u8],
        invite: &InviteLink,
        username: &str,
        connector: Arc<dyn Connector>,
        progress: impl Fn(&str),
    ) -> Result<Client> {
        let created = !Profile::exists(dir);
        if created {
            // Only what this join makes is removed on failure: the folder
            // must be new, or hold nothing but Tor's state (a cache the
            // command line keeps beside the profile).
            let ours = std::fs::read_dir(dir)
                .map_or(true, |d| d.flatten().all(|e| e.file_name() == "tor"));
            Self::init(dir, passphrase, username, &progress).await?;
            let joined =
                Self::join_with_profile(dir, passphrase, invite, "", connector, progress).await;
            let has_account =
                || Profile::open(dir, passphrase).is_ok_and(|p| p.data.user_id.is_some());
            if joined.is_err() && ours && !has_account() {
                let _ = std::fs::remove_dir_all(dir);
            }
            return joined;
        }
        Self::join_with_profile(dir, passphrase, invite, username, connector, progress).await
    }

    async fn join_with_profile(
        dir: &Path,
        passphrase: &[u8],
        invite: &InviteLink,
        username: &str,
        connector: Arc<dyn Connector>,
        progress: impl Fn(&str),
    ) -> Result<Client> {
        let mut profile = Profile::open(dir, passphrase)?;
        if profile.data.user_id.is_some() {
            return Err(ClientError::Profile(format!(
                "this profile already has an account on {}; use another profile to join another node",
                profile.data.address
            )));
        }
        if !username.is_empty() && username != profile.data.username {
            onionchat_proto::wire::validate_username(username)
                .map_err(|e| ClientError::Profile(e.into()))?;
            profile.data.username = username.to_string();
        }
        progress("Contacting the node…");
        let api = Api::new(connector.clone());
        // What our signatures name as the node: the onion address we were
        // given, or (over TCP, for development) the id it says it has now,
        // pinned from here on.
        let node = if invite.address.ends_with(".onion") {
            invite.address.to_ascii_lowercase()
        } else {
            let info: ServerInfo = api.get("/v1/info").await?;
            info.node_id
        };
        let body = SignupBody {
            v: PROTOCOL_VERSION,
            username: profile.data.username.clone(),
            public_key: profile.identity.public().spki_der().to_vec(),
            invite: Some(invite.code.clone()),
            node: node.clone(),
        };
        let signed = profile.identity.sign_body(SignContext::Signup, &body)?;
        let resp: SignupResponse = api.post("/v1/signup", &signed).await?;
        profile.data.address = invite.address.clone();
        profile.data.node = node;
        profile.data.auth_key = invite.auth_key.clone();
        profile.data.user_id = Some(resp.user.user_id.0);
        profile.save()?;
        let client = Client::from_profile(profile, connector);
        progress("Logging in…");
        client.login().await?;
        Ok(client)
    }

    /// Unlock the profile in `dir`; `connector_for` builds the transport
    /// from the profile's node address and access key.
    pub fn open(
        dir: &Path,
        passphrase: &[u8],
        connector_for: impl FnOnce(&VaultData) -> Result<Arc<dyn Connector>>,
    ) -> Result<Client> {
        let profile = Profile::open(dir, passphrase)?;
        let connector = connector_for(&profile.data)?;
        Ok(Client::from_profile(profile, connector))
    }

    /// Our account id.
    pub fn me(&self) -> UserId {
        UserId(self.profile().data.user_id.unwrap_or(0))
    }

    /// The current session token (for tools and tests that speak raw HTTP).
    pub fn session_token(&self) -> Option<String> {
        self.api.token()
    }

    /// The address of the box this profile belongs to (an onion address,
    /// or `host:port` in development).
    pub fn box_address(&self) -> String {
        self.profile().data.address.clone()
    }

    /// Our username.
    pub fn username(&self) -> String {
        self.profile().data.username.clone()
    }

    /// Our key fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.profile().identity.fingerprint()
    }

    /// Subscribe to events.
    pub fn subscribe(&self) -> broadcast::Receiver<ClientEvent> {
        self.events.subscribe()
    }

    pub(crate) fn emit(&self, e: ClientEvent) {
        let _ = self.events.send(e);
    }

    /// Write the profile (vault) and the search index now.
    pub fn save(&self) -> Result<()> {
        self.profile().save()?;
        self.save_search_index()
    }

    /// Export the whole profile to one passphrase-protected file.
    pub fn export(&self, path: &Path) -> Result<()> {
        self.profile().export(path)
    }

    /// Log in with a fresh challenge; stores the session token.
    pub async fn login(&self) -> Result<Session> {
        let username = self.username();
        let ch: Challenge = self
            .api
            .post(
                "/v1/auth/challenge",
                &ChallengeRequest {
                    username: username.clone(),
                },
            )
            .await?;
        let body = LoginBody {
            v: PROTOCOL_VERSION,
            username,
            challenge_id: ch.challenge_id,
            nonce: ch.nonce,
            issued_at: ch.issued_at,
            node: self.profile().data.node.clone(),
        };
        let signed = self
            .profile()
            .identity
            .sign_body(SignContext::Login, &body)?;
        let session: Session = self.api.post("/v1/auth/login", &signed).await?;
        self.api.set_token(Some(session.token.clone()));
        {
            let mut p = self.profile();
            p.data.token = Some(session.token.clone());
            p.data.token_expires = session.expires_at;
            p.data.user_id = Some(session.user.user_id.0);
            p.save()?;
        }
        Ok(session)
    }

    /// End the session on the node and forget the token.
    pub async fn logout(&self) -> Result<()> {
        self.call_empty::<()>(Method::POST, "/v1/auth/logout", None)
            .await?;
        self.api.set_token(None);
        let mut p = self.profile();
        p.data.token = None;
        p.save()
    }

    /// An authenticated call; logs in (again) when needed.
    pub(crate) async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Req>,
    ) -> Result<Resp> {
        if self.api.token().is_none() {
            self.login().await?;
        }
        match self.api.call(method.clone(), path, body).await {
            Err(e) if is_unauthorized(&e) => {
                self.login().await?;
                self.api.call(method, path, body).await
            }
            other => other,
        }
    }

    /// An authenticated call without an answer body.
    pub(crate) async fn call_empty<Req: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Req>,
    ) -> Result<()> {
        if self.api.token().is_none() {
            self.login().await?;
        }
        match self.api.call_empty(method.clone(), path, body).await {
            Err(e) if is_unauthorized(&e) => {
                self.login().await?;
                self.api.call_empty(method, path, body).await
            }
            other => other,
        }
    }

    /// Check a user record the node showed against the contact book. The
    /// node's answer is never a reason to pin anyone: a known contact must
    /// come back with exactly their id, name and key; a stranger is
    /// returned as such ([`Known::Stranger`]) and pinned only by
    /// [`Client::accept_friend_request`], a 1:1 room they signed after we
    /// asked them, or [`Client::accept_new_key`] after comparing safety
    /// numbers. A different key under a contact's id is `KeyChanged`; a
    /// different id or key under a contact's name, or another name under a
    /// contact's id, is refused as an impostor.
    pub(crate) fn check_user(&self, info: &UserInfo) -> Result<Known> {
        let key = PublicIdentity::from_spki_der(&info.public_key)?;
        if key.fingerprint() != info.fingerprint {
            return Err(ClientError::Protocol(
                "the node sent a fingerprint that does not match the key".into(),
            ));
        }
        if onionchat_proto::wire::validate_username(&info.username).is_err() {
            return Err(self.untrusted(
                None,
                format!(
                    "the box sent a user record with an invalid name ({:?})",
                    info.username.escape_debug().to_string()
                ),
            ));
        }
        let p = self.profile();
        if info.user_id.0 == p.data.user_id.unwrap_or(0) || info.username == p.data.username {
            if info.user_id.0 != p.data.user_id.unwrap_or(0)
                || info.username != p.data.username
                || key.fingerprint() != p.identity.fingerprint()
            {
                drop(p);
                return Err(self.untrusted(
                    None,
                    "the box presented someone else as you (another id, name or key)".into(),
                ));
            }
            return Ok(Known::Contact);
        }
        if let Some(pin) = p.data.pins.get(&info.user_id.0) {
            if pin.username != info.username {
                let known = pin.username.clone();
                drop(p);
                return Err(self.untrusted(
                    None,
                    format!(
                        "the box presented {known} under the name {:?}",
                        info.username
                    ),
                ));
            }
            if pin.fingerprint != key.fingerprint().0 {
                let (username, pinned) = (pin.username.clone(), Fingerprint(pin.fingerprint));
                drop(p);
                self.emit(ClientEvent::KeyChanged {
                    user: info.user_id,
                    username: username.clone(),
                    pinned,
                    seen: key.fingerprint(),
                });
                return Err(ClientError::KeyChanged {
                    user: info.user_id,
                    username,
                    pinned,
                    seen: key.fingerprint(),
                });
            }
            return Ok(Known::Contact);
        }
        if p.data.pin_named(&info.username).is_some() {
            drop(p);
            return Err(self.impostor(&info.username));
        }
        Ok(Known::Stranger(key))
    }

    /// Refuse, tell the user (a `Security` event) and log.
    pub(crate) fn untrusted(
        &self,
        room: Option<onionchat_proto::wire::RoomId>,
        what: String,
    ) -> ClientError {
        tracing::warn!(room = ?room, "{what}");
        self.emit(ClientEvent::Security {
            room_id: room,
            what: what.clone(),
        });
        ClientError::Untrusted(what)
    }

    /// "the box presented a different bob".
    pub(crate) fn impostor(&self, username: &str) -> ClientError {
        self.untrusted(
            None,
            format!(
                "the box presented a different {username} (another account or key than the {username} you know)"
            ),
        )
    }

    /// Make `member` (with their key) a contact. Refused if the name or
    /// the id already belongs to another contact.
    pub(crate) fn pin_contact(
        &self,
        member: &RosterMember,
        key: &PublicIdentity,
        room: Option<onionchat_proto::wire::RoomId>,
    ) -> Result<()> {
        if key.fingerprint() != member.fp
            || onionchat_proto::wire::validate_username(&member.username).is_err()
        {
            return Err(ClientError::Protocol(
                "a contact's key or name is invalid".into(),
            ));
        }
        let mut p = self.profile();
        if let Some(pin) = p.data.pin_named(&member.username)
            && pin.0 != member.user.0
        {
            drop(p);
            return Err(self.impostor(&member.username));
        }
        match p.data.pins.get_mut(&member.user.0) {
            Some(pin) if pin.username != member.username || pin.fingerprint != member.fp.0 => {
                drop(p);
                return Err(self.impostor(&member.username));
            }
            Some(pin) => {
                if pin.room.is_none() {
                    pin.room = room.map(|r| r.0);
                }
            }
            None => {
                p.data.pins.insert(
                    member.user.0,
                    Pin {
                        username: member.username.clone(),
                        spki_der: key.spki_der().to_vec(),
                        fingerprint: member.fp.0,
                        verified: false,
                        room: room.map(|r| r.0),
                    },
                );
            }
        }
        p.save()
    }

    /// Look up a user by name. A contact comes back as the contact book has
    /// them (the node's answer must agree); anyone else is looked up but
    /// not pinned (`Contact::known` is false).
    pub async fn user(&self, username: &str) -> Result<Contact> {
        onionchat_proto::wire::validate_username(username)
            .map_err(|e| ClientError::NotFound(format!("{username:?}: {e}")))?;
        let info: UserInfo = self
            .call::<(), _>(Method::GET, &format!("/v1/users/{username}"), None)
            .await?;
        if info.username != username {
            return Err(self.untrusted(
                None,
                format!(
                    "asked for {username}, the box answered with {:?}",
                    info.username
                ),
            ));
        }
        let mut known = self.check_user(&info)?;
        if matches!(known, Known::Stranger(_)) && self.profile().data.requested.contains(username) {
            // Someone we asked: perhaps they accepted since we last looked.
            self.friends_checked().await?;
            known = self.check_user(&info)?;
        }
        match known {
            Known::Contact => Ok(self.contact(info.user_id).unwrap_or(Contact {
                user_id: info.user_id,
                username: info.username,
                fingerprint: info.fingerprint,
                verified: false,
                known: true,
            })),
            Known::Stranger(_) => Ok(Contact {
                user_id: info.user_id,
                username: info.username,
                fingerprint: info.fingerprint,
                verified: false,
                known: false,
            }),
        }
    }

    /// A contact by name, from the contact book alone.
    pub fn contact_named(&self, username: &str) -> Option<Contact> {
        let id = self.profile().data.pin_named(username)?.0;
        self.contact(UserId(id))
    }

    /// How to call `user`: ourselves, a contact, a member introduced in a
    /// group, or just their number.
    pub fn name_of(&self, user: UserId) -> String {
        let p = self.profile();
        if user.0 == p.data.user_id.unwrap_or(0) {
            return p.data.username.clone();
        }
        if let Some(pin) = p.data.pins.get(&user.0) {
            return pin.username.clone();
        }
        // Someone a verified roster named (usernames in rosters are checked).
        for t in p.data.rooms.values() {
            if let Some(m) = t.member(user) {
                return m.username;
            }
        }
        format!("user {user}")
    }

    /// A pinned contact.
    pub fn contact(&self, user: UserId) -> Option<Contact> {
        let p = self.profile();
        p.data.pins.get(&user.0).map(|pin| Contact {
            user_id: user,
            username: pin.username.clone(),
            fingerprint: Fingerprint(pin.fingerprint),
            verified: pin.verified,
            known: true,
        })
    }

    /// Every pinned contact.
    pub fn contacts(&self) -> Vec<Contact> {
        let ids: Vec<u64> = self.profile().data.pins.keys().copied().collect();
        ids.into_iter()
            .filter_map(|id| self.contact(UserId(id)))
            .collect()
    }

    /// The safety number to compare with `username` in person: for a
    /// contact, from the key in the contact book (a box that serves another
    /// key for them gets `KeyChanged`); for anyone else, from
    /// the key the box shows now (compare it, then
    /// [`Client::accept_new_key`] with the fingerprint you compared).
    pub async fn safety_number(&self, username: &str) -> Result<(Contact, String, String)> {
        let c = match self.contact_named(username) {
            Some(c) => {
                // Ask the box too, to tell the user if it now serves another
                // key (`KeyChanged`); the number itself never depends on the
                // answer, so it also works offline or against a lying box.
                match self.user(username).await {
                    Err(e @ ClientError::KeyChanged { .. }) => return Err(e),
                    _ => c,
                }
            }
            None => self.user(username).await?,
        };
        let me = self.fingerprint();
        Ok((
            c.clone(),
            onionchat_proto::crypto::safety::safety_number(&me, &c.fingerprint),
            onionchat_proto::crypto::safety::qr_payload(&me, &c.fingerprint),
        ))
    }

    /// Mark a contact's key as verified in person.
    pub fn set_verified(&self, user: UserId, verified: bool) -> Result<()> {
        let mut p = self.profile();
        let pin = p
            .data
            .pins
            .get_mut(&user.0)
            .ok_or_else(|| ClientError::NotFound(format!("no pinned key for user {user}")))?;
        pin.verified = verified;
        p.save()
    }

    /// Take `fingerprint` — the one whose safety number was compared in
    /// person — as `username`'s key, and mark it verified. The box must
    /// serve exactly that key now; whatever it served when the number was
    /// shown does not matter. A new key under a contact's name must keep
    /// the contact's account: another account using the name stays refused.
    pub async fn accept_new_key(
        &self,
        username: &str,
        fingerprint: Fingerprint,
    ) -> Result<Contact> {
        let info: UserInfo = self
            .call::<(), _>(Method::GET, &format!("/v1/users/{username}"), None)
            .await?;
        let key = PublicIdentity::from_spki_der(&info.public_key)?;
        if info.username != username || key.fingerprint() != fingerprint {
            return Err(self.untrusted(
                None,
                format!(
                    "the box now shows a key for {username} that is not the one you compared: nothing changed"
                ),
            ));
        }
        {
            let mut p = self.profile();
            if let Some((id, _)) = p.data.pin_named(username)
                && id != info.user_id.0
            {
                drop(p);
                return Err(self.impostor(username));
            }
            let room = p.data.pins.remove(&info.user_id.0).and_then(|pin| pin.room);
            p.data.pins.insert(
                info.user_id.0,
                Pin {
                    username: info.username.clone(),
                    spki_der: info.public_key.clone(),
                    fingerprint: fingerprint.0,
                    verified: true,
                    room,
                },
            );
            p.save()?;
        }
        self.contact(info.user_id)
            .ok_or_else(|| ClientError::NotFound(username.into()))
    }
}
