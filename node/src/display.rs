//! Drives the status screen from the status model, on its own thread:
//! panel I/O is blocking (I2C/SPI), and a slow or broken panel must never
//! slow the chat server. Failures are logged and the panel is reopened with
//! exponential backoff (1 s … 5 min). Buttons, when configured, are
//! sampled every 20 ms on the same thread; a press redraws at once.

use std::time::{Duration, Instant};

use onionchat_hw::buttons::ButtonEvent;
use onionchat_hw::runner::Runner;
use onionchat_hw::{DisplayStatus, display};
use onionchat_proto::wire::CreateInvite;

use crate::state::AppState;

const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often buttons are sampled.
const BUTTON_TICK: Duration = Duration::from_millis(20);
/// A button-made invite lives an hour (it is on a screen anyone nearby
/// can photograph), and stays on the screen five minutes.
const BUTTON_INVITE_TTL_SECS: u64 = 3600;
const SHOW_INVITE_SECS: u64 = 300;

/// Start the display thread (returns at once; the thread ends at shutdown).
/// Call from inside the tokio runtime: button-made invites are stored
/// through it.
pub fn spawn(state: AppState) -> std::thread::JoinHandle<()> {
    let rt = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("onionchat-display".into())
        .spawn(move || run(state, rt))
        .unwrap_or_else(|e| panic!("cannot start the display thread: {e}"))
}

/// The "show invite" button: hide the invite if one is showing, else make
/// one and show it.
fn show_invite_pressed(state: &AppState, rt: &tokio::runtime::Handle) {
    if state.status.invite_on_screen().is_some() {
        state.status.hide_invite();
        return;
    }
    if !state.config.button_invites {
        tracing::info!("invite button pressed, but button_invites is off");
        return;
    }
    let req = CreateInvite {
        ttl_secs: Some(BUTTON_INVITE_TTL_SECS),
        note: Some("made with the box's button".into()),
    };
    match rt.block_on(crate::http::make_invite_for_control(state, req)) {
        Ok(invite) => match crate::invite_link(state, &invite.code) {
            Some(link) => {
                tracing::info!(
                    expires_at = invite.expires_at,
                    "invite made with the button"
                );
                state.status.show_invite(link, SHOW_INVITE_SECS);
            }
            None => tracing::warn!("invite made, but the node has no address yet"),
        },
        Err(e) => tracing::warn!(error = ?e, "cannot make an invite for the button"),
    }
}

fn run(state: AppState, rt: tokio::runtime::Handle) {
    let spec = state.config.display.clone();
    let started = Instant::now();
    let mut runner: Option<Runner> = None;
    let mut backoff = Duration::from_secs(1);
    let mut retry_at = Instant::now();
    let mut announced_none = false;
    let mut buttons =
        state
            .config
            .buttons
            .as_deref()
            .and_then(|spec| match onionchat_hw::buttons::open(spec) {
                Ok(b) => {
                    tracing::info!(buttons = %spec, "display buttons ready");
                    Some(b)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "display buttons unavailable");
                    state.status.set_error(format!("buttons: {e}"));
                    None
                }
            });
    let mut next_refresh = Instant::now();
    while !state.shutdown.is_cancelled() {
        let now = Instant::now();
        let secs = started.elapsed().as_secs();
        if runner.is_none() && now >= retry_at {
            match display::open(&spec) {
                Ok(Some(d)) => {
                    tracing::info!(display = %d.name(), "status display ready");
                    runner = Some(Runner::new(d));
                    backoff = Duration::from_secs(1);
                }
                Ok(None) => {
                    if !announced_none {
                        tracing::info!(spec = %spec, "no status display");
                        announced_none = true;
                    }
                    if spec != "auto" && buttons.is_none() {
                        return;
                    }
                    // Someone may plug a panel in later: probe again now and then.
                    retry_at = now + MAX_BACKOFF;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "status display unavailable");
                    state.status.set_error(format!("display: {e}"));
                    retry_at = now + backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        let mut pressed = false;
        if let Some(b) = buttons.as_mut() {
            match b.poll(started.elapsed().as_millis() as u64) {
                Ok(events) => {
                    for ev in events {
                        pressed = true;
                        tracing::debug!(?ev, "display button");
                        match ev {
                            ButtonEvent::Next => {
                                if let Some(r) = runner.as_mut() {
                                    r.next_page(&snapshot(&state), secs);
                                }
                            }
                            ButtonEvent::ShowInvite => {
                                show_invite_pressed(&state, &rt);
                                if let Some(r) = runner.as_mut() {
                                    r.wake(secs);
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "display buttons failed; ignoring them");
                    state.status.set_error(format!("buttons: {e}"));
                    buttons = None;
                }
            }
        }
        if let Some(r) = runner.as_mut()
            && (pressed || now >= next_refresh)
        {
            next_refresh = now + Duration::from_secs(1);
            match r.refresh(&snapshot(&state), secs) {
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
        std::thread::sleep(if buttons.is_some() {
            BUTTON_TICK
        } else {
            Duration::from_secs(1)
        });
    }
}

/// What the screen shows now.
fn snapshot(state: &AppState) -> DisplayStatus {
    let (cpu_temp_c, load1) = onionchat_hw::status::read_system();
    DisplayStatus {
        node: state.status_snapshot(),
        cpu_temp_c,
        load1,
        invite: state.status.invite_on_screen(),
        now_ms: onionchat_proto::now_ms(),
    }
}
