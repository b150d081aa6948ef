//! # onionchat-node
//!
//! The server on the box. Read it top to bottom:
//!
//! - [`config`]: settings (TOML file, environment, flags);
//! - [`store`]: the redb database — schema, group commit, every operation;
//! - [`http`]: the API routes (one file per group) and the WebSocket;
//! - [`hub`]: live delivery to connected sessions;
//! - [`memory`]: giving memory back to the system after bursts;
//! - [`serve`]: one serve function for every transport (TCP, Tor, control socket);
//! - `tor`: the onion service (feature `onion`);
//! - [`control`]: the box-side control socket used by `onionchat-node invite|status|backup`;
//! - [`status`]: the status model shown on the display and to the owner;
//! - [`systemd`]: readiness and watchdog for the service manager;
//! - `display`: drives the status screen (feature `display`).

pub mod challenge;
pub mod config;
pub mod control;
pub mod delivery;
#[cfg(feature = "display")]
pub mod display;
pub mod error;
pub mod http;
pub mod hub;
pub mod memory;
pub mod presence;
pub mod ratelimit;
pub mod serve;
pub mod state;
pub mod status;
pub mod store;
pub mod systemd;
#[cfg(feature = "onion")]
pub mod tor;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use onionchat_proto::wire::{InviteLink, TransportState};

use config::{Config, TransportKind};
use hub::Hub;
use state::AppState;
use store::Store;

/// How long the owner invite stays on the screen at most (it goes as soon
/// as someone redeems it).
const OWNER_INVITE_ON_SCREEN_SECS: u64 = 30 * 86_400;

/// What a started node tells its caller.
#[derive(Debug, Clone)]
pub struct Ready {
    /// Base URL of the API (`http://127.0.0.1:PORT` or `http://xxx.onion`).
    pub url: String,
    /// The owner invite, while nobody owns the node yet.
    pub owner_invite: Option<String>,
}

/// The invite link for `code`, once the transport knows its address.
pub fn invite_link(state: &AppState, code: &str) -> Option<String> {
    #[cfg_attr(not(feature = "onion"), allow(unused_mut))]
    let (address, mut auth_key) = state.status.invite_base()?;
    #[cfg(feature = "onion")]
    if let Some(keys) = state
        .access
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
    {
        match keys.secret_for_invite(code) {
            Ok(k) => auth_key = Some(k),
            Err(e) => tracing::error!(error = %e, "cannot assign an access key to the invite"),
        }
    }
    Some(
        InviteLink {
            address,
            code: code.to_string(),
            auth_key,
        }
        .to_string(),
    )
}

/// Open the data dir and build the shared state (no transport yet).
pub fn open_state(config: Config) -> anyhow::Result<AppState> {
    config.validate()?;
    onionchat_fs::private_dir(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let hub = Arc::new(Hub::default());
    let store = Store::open_with_cache(
        &config.data_dir,
        hub.clone(),
        config.db_cache_mb.max(1) * 1024 * 1024,
    )
    .map_err(|e| match e {
        // Opening failed for a reason worth saying as it is.
        crate::error::Failure::Internal(why) => anyhow::anyhow!(why),
        e => anyhow::anyhow!("{e}"),
    })?;
    store.set_user_quota(config.user_quota_bytes);
    store.space().set_floor(
        config.min_free_mb.saturating_mul(1024 * 1024),
        config.min_free_percent,
    );
    Ok(AppState::new(store, hub, config))
}

/// Revoke the restricted-discovery keys of invites that were revoked or
/// expired unused (a redeemed invite's key is its member's way in and
/// stays). Called when an invite is revoked and every hour.
pub fn sweep_access_keys(state: &AppState) {
    #[cfg(feature = "onion")]
    {
        let keys = state
            .access
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(keys) = keys else { return };
        let invites = match state.store.list_invites() {
            Ok(i) => i,
            Err(e) => return tracing::warn!(error = %e, "cannot list invites for the access keys"),
        };
        let removed = match state.store.removed_users() {
            Ok(r) => r,
            Err(e) => return tracing::warn!(error = %e, "cannot list removed accounts"),
        };
        match keys.drop_dead_invites(&invites, &removed, onionchat_proto::now_ms()) {
            Ok(ids) if !ids.is_empty() => {
                tracing::info!(keys = ids.len(), "revoked the access keys of dead invites")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot revoke access keys"),
        }
    }
    #[cfg(not(feature = "onion"))]
    let _ = state;
}

/// Hourly housekeeping: expired sessions, message retention.
async fn maintenance(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = state.shutdown.cancelled() => return,
        }
        if let Err(e) = state.store.prune_sessions().await {
            tracing::warn!(error = %e, "session clean-up failed");
        }
        sweep_access_keys(&state);
        // Without retention, only day-old unfinished uploads go.
        let cutoff = state.config.retention_days.map_or(0, |days| {
            onionchat_proto::now_ms().saturating_sub(u64::from(days) * 86_400_000)
        });
        if cutoff > 0 {
            match state.store.prune_messages(cutoff).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "retention removed old messages"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention failed"),
            }
        }
        match state.store.prune_files(cutoff).await {
            Ok(n) if n > 0 => tracing::info!(removed = n, "removed old or unfinished files"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "file clean-up failed"),
        }
    }
}

/// How long a stopping node waits for work in flight (and Tor) before it
/// exits anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Run the node until SIGINT/SIGTERM. `on_ready` is called once it serves.
pub async fn run(config: Config, on_ready: impl FnOnce(&Ready)) -> anyhow::Result<()> {
    let state = open_state(config)?;
    let app = http::router(state.clone());
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(delivery::run(state.clone()));
    tasks.spawn(maintenance(state.clone()));
    tasks.spawn(memory::give_back_after_bursts(
        state.activity.clone(),
        state.shutdown.clone(),
    ));
    {
        let s = state.clone();
        tasks.spawn(async move {
            if let Err(e) = control::serve(s.clone()).await {
                tracing::warn!(error = %e, "control socket unavailable");
                s.status.set_error(format!("control socket: {e}"));
            }
        });
    }

    let url = match state.config.transport {
        TransportKind::Tcp => {
            let listener = tokio::net::TcpListener::bind(state.config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", state.config.listen))?;
            let addr = listener.local_addr()?;
            state.status.set_transport(TransportState::Tcp {
                addr: addr.to_string(),
            });
            state.status.set_invite_base(addr.to_string(), None);
            tasks.spawn(serve::serve_tcp(
                listener,
                app,
                state.shutdown.clone(),
                state.config.header_timeout(),
            ));
            format!("http://{addr}")
        }
        #[cfg(feature = "onion")]
        TransportKind::Onion => {
            let onion = tor::start(&state, app, &mut tasks).await?;
            format!("http://{onion}")
        }
        #[cfg(not(feature = "onion"))]
        TransportKind::Onion => {
            anyhow::bail!("this build has no Tor support (feature `onion`); use --transport tcp")
        }
    };

    #[cfg(feature = "display")]
    let display = display::spawn(state.clone());

    let owner_invite = state
        .store
        .ensure_owner_invite(state.config.invite_ttl_secs.max(30 * 86400) * 1000)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .and_then(|inv| invite_link(&state, &inv.code));
    // Until someone owns the box, its screen shows the owner invite (a
    // colour panel as a QR code) — what a new owner scans.
    if let Some(link) = &owner_invite {
        state
            .status
            .show_invite(link.clone(), OWNER_INVITE_ON_SCREEN_SECS);
    }
    on_ready(&Ready {
        url: url.clone(),
        owner_invite,
    });
    systemd::ready(&format!("serving at {url}"));
    tasks.spawn(systemd::watchdog(state.clone()));

    // A disk that fails under a commit stops the writer (see
    // store/writer.rs); the node then exits non-zero and its service
    // manager (Restart=on-failure) starts it again on a fresh database
    // handle. Everything acknowledged before is committed.
    let storage_failure = tokio::select! {
        _ = shutdown_signal() => None,
        why = state.store.storage_failed() => Some(why),
    };
    systemd::stopping();
    match &storage_failure {
        None => tracing::info!("shutting down: no new connections, finishing in-flight writes"),
        Some(why) => {
            state.status.set_error(format!("storage failed: {why}"));
            tracing::error!(error = %why, "storage failed: stopping so the service manager restarts the node");
        }
    }
    state.shutdown.cancel();
    // Everything acknowledged is already durable (an ack follows its
    // commit). What is left — requests in flight, Tor letting go — gets a
    // bounded wait: Arti may wait for a directory that never comes on a
    // filtered network, and a service manager's stop must not end in
    // SIGKILL. A second signal ends the wait at once.
    let drained = tokio::select! {
        done = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while tasks.join_next().await.is_some() {}
        }) => done.is_ok(),
        _ = shutdown_signal() => {
            tracing::warn!("second signal: stopping now");
            false
        }
    };
    if !drained {
        tracing::warn!(
            left = tasks.len(),
            "stopping without waiting longer for work in flight (nothing acknowledged is lost; \
             clients retry what was not)"
        );
        tasks.abort_all();
    }
    #[cfg(feature = "display")]
    {
        // The screen thread notices the shutdown within a frame; never
        // wait on it for long.
        let join = tokio::task::spawn_blocking(move || display.join());
        let _ = tokio::time::timeout(Duration::from_secs(1), join).await;
    }
    match storage_failure {
        None => Ok(()),
        Some(why) => Err(anyhow::anyhow!(
            "storage failed ({why}); nothing unacknowledged was stored — restart the node \
             (systemd does so by itself); if it keeps failing, check the disk and free space"
        )),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
