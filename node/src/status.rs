//! The status model: one snapshot type ([`NodeStatus`]) for the owner's
//! endpoint, `onionchat-node status` and the status display.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use onionchat_proto::wire::{NodeStatus, TransportState, UpdateReport};

use crate::hub::Hub;
use crate::store::Store;

/// Live facts the store cannot know (transport, errors, uptime).
pub struct StatusModel {
    started: Instant,
    transport: Mutex<TransportState>,
    onion_address: Mutex<Option<String>>,
    last_error: Mutex<Option<String>>,
    invite_base: Mutex<Option<(String, Option<String>)>>,
    display_invite: Mutex<Option<(String, Instant)>>,
}

impl Default for StatusModel {
    fn default() -> Self {
        StatusModel {
            started: Instant::now(),
            transport: Mutex::new(TransportState::Starting),
            onion_address: Mutex::new(None),
            last_error: Mutex::new(None),
            invite_base: Mutex::new(None),
            display_invite: Mutex::new(None),
        }
    }
}

impl StatusModel {
    /// Record the transport's state.
    pub fn set_transport(&self, state: TransportState) {
        *self.transport.lock().unwrap_or_else(|p| p.into_inner()) = state;
    }

    /// Record the onion address once known.
    pub fn set_onion_address(&self, addr: String) {
        *self.onion_address.lock().unwrap_or_else(|p| p.into_inner()) = Some(addr);
    }

    /// The onion address, if known.
    pub fn onion_address(&self) -> Option<String> {
        self.onion_address
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Record the address (and restricted-discovery key) that invites carry.
    pub fn set_invite_base(&self, address: String, auth_key: Option<String>) {
        *self.invite_base.lock().unwrap_or_else(|p| p.into_inner()) = Some((address, auth_key));
    }

    /// The address and key that invites carry, once the transport is up.
    pub fn invite_base(&self) -> Option<(String, Option<String>)> {
        self.invite_base
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Show an invite on the box's screen for `secs` seconds.
    pub fn show_invite(&self, link: String, secs: u64) {
        *self
            .display_invite
            .lock()
            .unwrap_or_else(|p| p.into_inner()) =
            Some((link, Instant::now() + std::time::Duration::from_secs(secs)));
    }

    /// Take the invite off the screen.
    pub fn hide_invite(&self) {
        *self
            .display_invite
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The invite the screen should show now, if any.
    pub fn invite_on_screen(&self) -> Option<String> {
        let mut g = self
            .display_invite
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match &*g {
            Some((link, until)) if Instant::now() < *until => Some(link.clone()),
            _ => {
                *g = None;
                None
            }
        }
    }

    /// Record an error worth the owner's attention.
    pub fn set_error(&self, err: impl Into<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(err.into());
    }

    /// Build a snapshot.
    /// `update_report` is the updater's report file, if configured.
    pub fn snapshot(
        &self,
        store: &Store,
        hub: &Arc<Hub>,
        update_report: Option<&Path>,
    ) -> NodeStatus {
        let (total, today, last) = store.message_counters().unwrap_or((0, 0, None));
        NodeStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_secs: self.started.elapsed().as_secs(),
            users: store.user_count().unwrap_or(0),
            online_sessions: hub.sessions(),
            online_users: hub.online_users(),
            rooms: store.room_count().unwrap_or(0),
            messages_total: total,
            messages_today: today,
            last_message_at: last,
            storage_bytes: store.db_bytes() + store.blob_bytes().unwrap_or(0),
            disk_free_bytes: store.space().available(),
            transport: self
                .transport
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            onion_address: self.onion_address(),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            memory_bytes: resident_bytes(),
            last_update: update_report.and_then(read_update_report),
            // Known to the caller (the configuration): see
            // `AppState::status_snapshot`.
            bridges: 0,
        }
    }
}

/// The updater's report, if there is a whole one (at most 4 KiB is read:
/// the file is small, and not ours).
fn read_update_report(path: &Path) -> Option<UpdateReport> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(4096)
        .read_to_string(&mut text)
        .ok()?;
    UpdateReport::parse(&text)
}

/// This process's resident memory (`VmRSS` in `/proc/self/status`).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}
