//! Shared state of a running node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use onionchat_proto::wire::{RoomId, UserId};

use crate::challenge::Challenges;
use crate::config::Config;
use crate::hub::Hub;
use crate::ratelimit::RateLimiter;
use crate::status::StatusModel;
use crate::store::Store;

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Database.
    pub store: Store,
    /// Live connections.
    pub hub: Arc<Hub>,
    /// Settings.
    pub config: Arc<Config>,
    /// Status model.
    pub status: Arc<StatusModel>,
    /// Login challenges (stateless until answered).
    pub challenges: Arc<Challenges>,
    /// Per-user message limit.
    pub message_limit: Arc<RateLimiter>,
    /// Per-user request limit.
    pub request_limit: Arc<RateLimiter>,
    /// Node-wide sign-up limit (loose: a flood from many names).
    pub auth_limit: Arc<RateLimiter>,
    /// Per-username limit on sign-ups, and on logins that proved the key
    /// (so only the account's own key can use up its login budget).
    pub auth_user_limit: Arc<RateLimiter>,
    /// Node-wide limit on requests with an unknown or expired token (each
    /// costs a database lookup; there are no client addresses to key on).
    pub bad_token_limit: Arc<RateLimiter>,
    /// Cancelled when the node shuts down (closes WebSockets).
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Restricted-discovery keys handed out with invites (onion transport).
    #[cfg(feature = "onion")]
    pub access: Arc<Mutex<Option<crate::tor::access::AccessKeys>>>,
    /// Delivery markers seen by connection writers, flushed in batches.
    pub delivered: Arc<Mutex<HashMap<(RoomId, UserId), u64>>>,
    /// Requests and frames served, for giving memory back after bursts.
    pub activity: Arc<crate::memory::Activity>,
}

impl AppState {
    /// Build the state around an opened store.
    pub fn new(store: Store, hub: Arc<Hub>, config: Config) -> Self {
        let r = config.rate.clone();
        AppState {
            store,
            hub,
            status: Arc::new(StatusModel::default()),
            challenges: Arc::default(),
            message_limit: Arc::new(RateLimiter::new(r.messages_per_sec, r.message_burst)),
            request_limit: Arc::new(RateLimiter::new(r.requests_per_sec, r.request_burst)),
            auth_limit: Arc::new(RateLimiter::new(r.auth_per_min / 60.0, r.auth_per_min)),
            auth_user_limit: Arc::new(RateLimiter::new(
                r.auth_per_user_per_min / 60.0,
                r.auth_per_user_per_min,
            )),
            bad_token_limit: Arc::new(RateLimiter::new(
                r.bad_tokens_per_sec,
                r.bad_tokens_per_sec * 5.0,
            )),
            delivered: Arc::default(),
            activity: Arc::default(),
            #[cfg(feature = "onion")]
            access: Arc::default(),
            shutdown: tokio_util::sync::CancellationToken::new(),
            config: Arc::new(config),
        }
    }

    /// A status snapshot.
    pub fn status_snapshot(&self) -> onionchat_proto::wire::NodeStatus {
        let mut s =
            self.status
                .snapshot(&self.store, &self.hub, self.config.update_report.as_deref());
        // Bridges matter only to the onion service (TCP is for development).
        if self.config.transport == crate::config::TransportKind::Onion {
            s.bridges = u32::try_from(self.config.tor.bridges.len()).unwrap_or(u32::MAX);
        }
        s
    }
}
