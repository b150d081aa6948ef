//! Owner-only operations: invites and node status.

use super::UserId;
use serde::{Deserialize, Serialize};

/// `POST /v1/admin/invites` body.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CreateInvite {
    /// Lifetime in seconds (default 7 days, at most 30 days).
    pub ttl_secs: Option<u64>,
    /// A note for the owner ("for grandma").
    pub note: Option<String>,
}

/// A single-use invite code.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// The code a new member redeems.
    pub code: String,
    /// Node time (ms).
    pub created_at: u64,
    /// Node time (ms) after which it no longer works.
    pub expires_at: u64,
    /// Who redeemed it.
    pub used_by: Option<UserId>,
    /// Revoked by the owner.
    pub revoked: bool,
    /// The owner's note.
    pub note: Option<String>,
    /// Redeeming it makes the account the owner (first start only).
    pub owner: bool,
}

/// `GET /v1/admin/invites` answer.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InviteList {
    /// All invites, newest first.
    pub invites: Vec<Invite>,
}

/// `GET /v1/admin/users` answer: the box's accounts (removed ones left out).
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MemberList {
    /// Every account, by user id.
    pub members: Vec<super::UserInfo>,
}

/// How the node is reachable.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TransportState {
    /// Not serving yet.
    Starting,
    /// Serving on a TCP listener (development).
    Tcp {
        /// Bound address.
        addr: String,
    },
    /// Tor is bootstrapping.
    Bootstrapping {
        /// 0–100.
        percent: u8,
        /// What it is doing.
        detail: String,
    },
    /// Onion service descriptors are being published.
    Publishing,
    /// The onion service is up.
    Reachable,
    /// Up but not fully healthy.
    Degraded {
        /// Why.
        reason: String,
    },
    /// Stopped or failed.
    Stopped {
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for TransportState {
    /// In words, for people: what `onionchat-node status` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportState::Starting => f.write_str("starting"),
            TransportState::Tcp { addr } => write!(
                f,
                "serving over plain TCP on {addr} (development; not reachable through Tor)"
            ),
            TransportState::Bootstrapping { percent, detail } => {
                write!(f, "connecting to Tor, {percent} %")?;
                if detail.is_empty() {
                    Ok(())
                } else {
                    write!(f, " — {detail}")
                }
            }
            TransportState::Publishing => {
                f.write_str("connected to Tor; announcing the onion service")
            }
            TransportState::Reachable => f.write_str("reachable as an onion service"),
            TransportState::Degraded { reason } => write!(f, "reachable with problems: {reason}"),
            TransportState::Stopped { reason } => write!(f, "stopped: {reason}"),
        }
    }
}

/// A snapshot of the node's state, for the owner and the status display.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Software version.
    pub version: String,
    /// Seconds since the node started.
    pub uptime_secs: u64,
    /// Registered accounts.
    pub users: u64,
    /// Open WebSocket sessions.
    pub online_sessions: u64,
    /// Distinct users with an open WebSocket.
    pub online_users: u64,
    /// Rooms.
    pub rooms: u64,
    /// Messages stored.
    pub messages_total: u64,
    /// Messages stored since local midnight (UTC).
    pub messages_today: u64,
    /// Node time (ms) of the latest message, if any.
    pub last_message_at: Option<u64>,
    /// Bytes used by the database and file blobs.
    pub storage_bytes: u64,
    /// Free bytes on the data dir's filesystem, if known.
    pub disk_free_bytes: Option<u64>,
    /// Transport state.
    pub transport: TransportState,
    /// The onion address, once known.
    pub onion_address: Option<String>,
    /// The last error worth the owner's attention.
    pub last_error: Option<String>,
    /// The node process's resident memory in bytes, if known (absent from
    /// nodes before it was added).
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}
