//! The service manager's view of the node (systemd `Type=notify`): READY=1
//! once the node serves — over Tor, once the onion service is launched and
//! its address is known — a STATUS= line a person can read in
//! `systemctl status`, and WATCHDOG=1 pings from the node's own runtime
//! while its database answers, so a node that hangs is restarted. Outside
//! systemd (no `NOTIFY_SOCKET`) all of this does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::state::AppState;

/// Tell the service manager the node is up.
pub fn ready(status: &str) {
    if let Err(e) = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(status)]) {
        tracing::warn!(error = %e, "cannot notify the service manager");
    }
}

/// Tell the service manager the node is stopping.
pub fn stopping() {
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
}

/// Ping the watchdog at half its interval while the runtime runs and the
/// database can be read. Returns at once when no watchdog is set.
pub async fn watchdog(state: AppState) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let period = (interval / 2).max(Duration::from_millis(100));
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = state.shutdown.cancelled() => return,
        }
        // A read that cannot start means storage is wedged: stop pinging
        // and let the service manager restart the node.
        match state.store.read() {
            Ok(_) => {
                let _ = sd_notify::notify(&[NotifyState::Watchdog]);
            }
            Err(e) => tracing::error!(error = %e, "database unreadable; not pinging the watchdog"),
        }
    }
}
