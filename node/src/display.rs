//! Drives the status screen from the status model, on its own thread:
//! panel I/O is blocking (I2C), and a slow or broken panel must never slow
//! the chat server. Failures are logged and the panel is reopened with
//! exponential backoff (1 s … 5 min).

use std::time::{Duration, Instant};

use onionchat_hw::runner::Runner;
use onionchat_hw::{DisplayStatus, display};

use crate::state::AppState;

const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Start the display thread (returns at once; the thread ends at shutdown).
pub fn spawn(state: AppState) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("onionchat-display".into())
        .spawn(move || run(state))
        .unwrap_or_else(|e| panic!("cannot start the display thread: {e}"))
}

fn run(state: AppState) {
    let spec = state.config.display.clone();
    let started = Instant::now();
    let mut runner: Option<Runner> = None;
    let mut backoff = Duration::from_secs(1);
    let mut retry_at = Instant::now();
    let mut announced_none = false;
    while !state.shutdown.is_cancelled() {
        if runner.is_none() && Instant::now() >= retry_at {
            match display::open(&spec) {
                Ok(Some(d)) => {
                    tracing::info!(display = %d.name(), "status display ready");
                    runner = Some(Runner::new(d));
                }
                Ok(None) => {
                    if !announced_none {
                        tracing::info!(spec = %spec, "no status display");
                        announced_none = true;
                    }
                    if spec != "auto" {
                        return;
                    }
                    // Someone may plug a panel in later: probe again now and then.
                    retry_at = Instant::now() + MAX_BACKOFF;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "status display unavailable");
                    state.status.set_error(format!("display: {e}"));
                    retry_at = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        if let Some(r) = runner.as_mut() {
            let (cpu_temp_c, load1) = onionchat_hw::status::read_system();
            let status = DisplayStatus {
                node: state.status_snapshot(),
                cpu_temp_c,
                load1,
                invite: state.status.invite_on_screen(),
                now_ms: onionchat_proto::now_ms(),
            };
            match r.refresh(&status, started.elapsed().as_secs()) {
                Ok(_) => backoff = Duration::from_secs(1),
                Err(e) => {
                    tracing::warn!(display = %r.name(), error = %e, retry_in = ?backoff, "status display failed");
                    state.status.set_error(format!("display: {e}"));
                    runner = None;
                    retry_at = Instant::now() + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
