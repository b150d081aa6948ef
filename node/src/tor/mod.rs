//! The onion service (filled in by the Tor work).

use crate::state::AppState;

/// Start the onion service; returns the `.onion` address.
pub async fn start(
    _state: &AppState,
    _app: axum::Router,
    _tasks: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<String> {
    anyhow::bail!("the onion transport is not wired yet; use --transport tcp")
}
