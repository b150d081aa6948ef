//! Owner-only operations: invites and node status.

use super::UserId;
use serde::{Deserialize, Serialize};
use std::fmt;

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
    /// The box's last automatic update of OnionChat, as its updater
    /// reported it (absent when there was none, and from older nodes).
    #[serde(default)]
    pub last_update: Option<UpdateReport>,
    /// How many bridges the node reaches Tor through (0: directly).
    #[serde(default)]
    pub bridges: u32,
}

/// What the box's updater (`onionchat-update`) did last time it installed
/// a new version of OnionChat.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateReport {
    /// Whether the new version stayed or was rolled back.
    pub outcome: UpdateOutcome,
    /// The version before the update.
    pub from: String,
    /// The version the update tried to install.
    pub to: String,
    /// When it finished (seconds since the Unix epoch).
    pub at_secs: u64,
}

/// How an update ended.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateOutcome {
    /// The new version started and reported ready; it is running.
    Updated,
    /// The new version did not report ready in time; the previous one was
    /// reinstalled and is running again.
    RolledBack,
}

impl UpdateReport {
    /// Read the updater's report: `key=value` lines (`outcome`, `from`,
    /// `to`, `at`), as the shell script writes them. `None` for anything
    /// that is not a complete report (the file is the updater's, not ours
    /// to trust blindly; a half-written one is ignored).
    pub fn parse(text: &str) -> Option<UpdateReport> {
        let mut outcome = None;
        let (mut from, mut to, mut at) = (None, None, None);
        for line in text.lines().take(16) {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim();
            // Versions are short; anything else is not a report.
            if v.len() > 64 {
                return None;
            }
            match k.trim() {
                "outcome" => {
                    outcome = match v {
                        "updated" => Some(UpdateOutcome::Updated),
                        "rolled-back" => Some(UpdateOutcome::RolledBack),
                        _ => return None,
                    }
                }
                "from" => from = Some(v.to_string()),
                "to" => to = Some(v.to_string()),
                "at" => at = v.parse().ok(),
                _ => {}
            }
        }
        Some(UpdateReport {
            outcome: outcome?,
            from: from?,
            to: to?,
            at_secs: at?,
        })
    }
}

impl fmt::Display for UpdateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.outcome {
            UpdateOutcome::Updated => write!(f, "updated from {} to {}", self.from, self.to),
            UpdateOutcome::RolledBack => write!(
                f,
                "{} did not start, so {} was put back",
                self.to, self.from
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_report_is_read_whole_or_not_at_all() {
        let r = UpdateReport::parse("outcome=rolled-back\nfrom=0.4.0\nto=0.4.1\nat=1765000000\n")
            .expect("a complete report");
        assert_eq!(r.outcome, UpdateOutcome::RolledBack);
        assert_eq!((r.from.as_str(), r.to.as_str()), ("0.4.0", "0.4.1"));
        assert_eq!(r.at_secs, 1_765_000_000);
        assert_eq!(r.to_string(), "0.4.1 did not start, so 0.4.0 was put back");
        // Half written, unknown outcomes and absurd values are no report.
        assert_eq!(UpdateReport::parse("outcome=updated\nfrom=0.4.0\n"), None);
        assert_eq!(
            UpdateReport::parse("outcome=maybe\nfrom=a\nto=b\nat=1\n"),
            None
        );
        let long = format!("outcome=updated\nfrom={}\nto=b\nat=1\n", "x".repeat(65));
        assert_eq!(UpdateReport::parse(&long), None);
        assert_eq!(UpdateReport::parse("\u{0}\u{ff}garbage"), None);
    }
}
