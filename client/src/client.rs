//! The client: an unlocked profile plus a connection to its node.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use hyper::Method;
use onionchat_proto::crypto::{IdentityKey, PublicIdentity, SignContext};
use onionchat_proto::wire::{
    Challenge, ChallengeRequest, Fingerprint, InviteLink, LoginBody, ServerInfo, Session,
    SignupBody, SignupResponse, UserId, UserInfo,
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
    pub async fn join(
        dir: &Path,
        passphrase: &[u8],
        invite: &InviteLink,
        username: &str,
        connector: Arc<dyn Connector>,
        progress: impl Fn(&str),
    ) -> Result<Client> {
        if !Profile::exists(dir) {
            Self::init(dir, passphrase, username, &progress).await?;
        }
        let mut profile = Profile::open(dir, passphrase)?;
        if profile.data.user_id.is_some() {
            return Err(ClientError::Profile(format!(
                "this profile already has an account on {}; use another profile to join another node",
                profile.data.address
            )));
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

    /// Write the profile (vault) now.
    pub fn save(&self) -> Result<()> {
        self.profile().save()
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

    /// Check a user record against our pins (pinning it the first time).
    /// A different key for a pinned user is refused with `KeyChanged`.
    pub(crate) fn check_pin(&self, info: &UserInfo) -> Result<PublicIdentity> {
        let key = PublicIdentity::from_spki_der(&info.public_key)?;
        if key.fingerprint() != info.fingerprint {
            return Err(ClientError::Protocol(
                "the node sent a fingerprint that does not match the key".into(),
            ));
        }
        let mut p = self.profile();
        if info.user_id.0 == p.data.user_id.unwrap_or(0) {
            if key.fingerprint() != p.identity.fingerprint() {
                return Err(ClientError::Protocol(
                    "the node returned a different key for our own account".into(),
                ));
            }
            return Ok(key);
        }
        match p.data.pins.get(&info.user_id.0) {
            Some(pin) if pin.fingerprint != key.fingerprint().0 => {
                let err = ClientError::KeyChanged {
                    user: info.user_id,
                    username: pin.username.clone(),
                    pinned: Fingerprint(pin.fingerprint),
                    seen: key.fingerprint(),
                };
                let ev = ClientEvent::KeyChanged {
                    user: info.user_id,
                    username: pin.username.clone(),
                    pinned: Fingerprint(pin.fingerprint),
                    seen: key.fingerprint(),
                };
                drop(p);
                self.emit(ev);
                Err(err)
            }
            Some(_) => Ok(key),
            // Someone a member signed into a group with another key: the
            // node is not believed over that signature.
            None if p
                .data
                .introduced
                .get(&info.user_id.0)
                .is_some_and(|i| i.fingerprint != key.fingerprint().0) =>
            {
                Err(ClientError::Untrusted(format!(
                    "the node sent a key for {} that is not the one signed into your group",
                    info.username
                )))
            }
            None => {
                p.data.pins.insert(
                    info.user_id.0,
                    Pin {
                        username: info.username.clone(),
                        spki_der: info.public_key.clone(),
                        fingerprint: key.fingerprint().0,
                        verified: false,
                    },
                );
                p.save()?;
                Ok(key)
            }
        }
    }

    /// Look up a user by name (pinning their key on first sight).
    pub async fn user(&self, username: &str) -> Result<Contact> {
        let info: UserInfo = self
            .call::<(), _>(Method::GET, &format!("/v1/users/{username}"), None)
            .await?;
        self.check_pin(&info)?;
        Ok(self.contact(info.user_id).unwrap_or(Contact {
            user_id: info.user_id,
            username: info.username,
            fingerprint: info.fingerprint,
            verified: false,
        }))
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
        if let Some(i) = p.data.introduced.get(&user.0) {
            return i.username.clone();
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
        })
    }

    /// Every pinned contact.
    pub fn contacts(&self) -> Vec<Contact> {
        let ids: Vec<u64> = self.profile().data.pins.keys().copied().collect();
        ids.into_iter()
            .filter_map(|id| self.contact(UserId(id)))
            .collect()
    }

    /// The safety number to compare with `user` in person.
    pub async fn safety_number(&self, username: &str) -> Result<(Contact, String, String)> {
        let c = self.user(username).await?;
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

    /// Accept a changed key for a contact (after verifying it in person):
    /// re-pins it from the node.
    pub async fn accept_new_key(&self, username: &str) -> Result<Contact> {
        let info: UserInfo = self
            .call::<(), _>(Method::GET, &format!("/v1/users/{username}"), None)
            .await?;
        self.profile().data.pins.remove(&info.user_id.0);
        self.check_pin(&info)?;
        self.contact(info.user_id)
            .ok_or_else(|| ClientError::NotFound(username.into()))
    }
}
