//! The onion service: an embedded Arti client publishes the node as a v3
//! onion service and hands each incoming stream to the same serve function
//! as TCP. Its identity key lives in `<data_dir>/tor/state` (Arti's
//! keystore), so the `.onion` address survives restarts and backups.

pub mod access;

use std::sync::Arc;

use anyhow::Context;
use arti_client::TorClient;
use arti_client::config::CfgPath;
use futures_util::StreamExt;
use onionchat_proto::wire::TransportState;
use safelog::DisplayRedacted;
use tor_hsservice::config::restricted_discovery::DirectoryKeyProviderBuilder;
use tor_hsservice::config::{OnionServiceConfigBuilder, TokenBucketConfig};
use tor_hsservice::status::State;
use tor_hsservice::{RunningOnionService, StreamRequest};

use crate::state::AppState;
use access::AccessKeys;

/// The virtual port the API is served on.
pub const PORT: u16 = 80;

/// How long to wait before connecting to Tor again after Arti gave up
/// (doubling each time, up to [`LAST_BOOTSTRAP_RETRY`]).
const FIRST_BOOTSTRAP_RETRY: std::time::Duration = std::time::Duration::from_secs(5);
/// The longest wait between two tries at connecting to Tor.
const LAST_BOOTSTRAP_RETRY: std::time::Duration = std::time::Duration::from_secs(300);

/// Bootstrap Arti, launch the onion service, and serve the API on it.
/// Returns the `.onion` address.
pub async fn start(
    state: &AppState,
    app: axum::Router,
    tasks: &mut tokio::task::JoinSet<()>,
) -> anyhow::Result<String> {
    let cfg = &state.config.tor;
    let data_dir = state.store.data_dir().to_path_buf();
    let bridges = onionchat_tor::Bridges {
        lines: cfg.bridges.clone(),
        transport_program: cfg.transport_program.clone(),
    };
    let config = onionchat_tor::arti_config(
        &data_dir.join("tor"),
        cfg.network_config.as_deref(),
        &bridges,
    )?;
    let client = TorClient::with_runtime(onionchat_tor::runtime::current()?)
        .config(config)
        .create_unbootstrapped()
        .context("cannot start Arti")?;

    let mut svc = OnionServiceConfigBuilder::default();
    svc.nickname("onionchat".parse()?);
    svc.max_concurrent_streams_per_circuit(cfg.max_streams_per_circuit.max(1));
    svc.enable_pow(cfg.pow);
    if cfg.intro_rate_per_sec > 0 {
        svc.rate_limit_at_intro(Some(TokenBucketConfig::new(
            cfg.intro_rate_per_sec,
            cfg.intro_burst.max(cfg.intro_rate_per_sec),
        )));
    }
    let access = if cfg.restricted_discovery {
        let keys = AccessKeys::open(&data_dir)?;
        keys.top_up()?;
        let mut dir = DirectoryKeyProviderBuilder::default();
        dir.path(CfgPath::new_literal(keys.auth_dir()));
        let rd = svc.restricted_discovery();
        rd.enabled(true).watch_configuration(true);
        rd.key_dirs().access().push(dir);
        Some(keys)
    } else {
        None
    };
    // Launching starts Tor's bootstrap in the background: the address (from
    // the key in the data dir) is known at once, so the owner invite can be
    // shown while Tor connects, and works as soon as it has.
    let (service, rend_requests) = client
        .launch_onion_service(svc.build()?)
        .context("cannot launch the onion service")?
        .context("the onion service is disabled")?;
    let onion = service
        .onion_address()
        .context("the onion service has no address")?
        .display_unredacted()
        .to_string();
    state.status.set_onion_address(onion.clone());
    state.status.set_transport(TransportState::Bootstrapping {
        percent: 0,
        detail: "starting".into(),
    });
    *state.access.lock().unwrap_or_else(|p| p.into_inner()) = access;
    state.status.set_invite_base(onion.clone(), None);
    tracing::info!(address = %onion, "onion service launched");

    {
        // Launching does not bootstrap Arti by itself: connect to Tor in
        // the background, and tell the person at the box how it goes.
        let (client, state) = (client.clone(), state.clone());
        tasks.spawn(async move {
            // Arti gives up after its own round of attempts (128, over an
            // hour or more): a box whose router was off all night must not
            // stay disconnected until someone restarts it. Try again, less
            // often the longer it fails.
            let mut pause = FIRST_BOOTSTRAP_RETRY;
            loop {
                // On a filtered network this may never end: a stop must
                // not wait for it.
                let bootstrapped = tokio::select! {
                    r = client.bootstrap() => r,
                    _ = state.shutdown.cancelled() => return,
                };
                let Err(e) = bootstrapped else { return };
                let secs = pause.as_secs();
                tracing::error!(error = %e, retry_in_secs = secs, "Tor bootstrap failed");
                state.status.set_error(format!("Tor: {e}"));
                state.status.set_transport(TransportState::Stopped {
                    reason: format!("cannot connect to Tor: {e}; trying again in {secs} s"),
                });
                eprintln!("Tor: cannot connect: {e}; trying again in {secs} s");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = state.shutdown.cancelled() => return,
                }
                pause = (pause * 2).min(LAST_BOOTSTRAP_RETRY);
            }
        });
    }
    {
        let (client, service, state) = (client.clone(), service.clone(), state.clone());
        tasks.spawn(async move {
            report_bootstrap(&client, &state).await;
            watch_service(service, state).await;
        });
    }
    let shutdown = state.shutdown.clone();
    let streams = Arc::new(tokio::sync::Mutex::new(Box::pin(
        tor_hsservice::handle_rend_requests(rend_requests),
    )));
    let header_timeout = state.config.header_timeout();
    tasks.spawn(async move {
        // Keep the client and service alive while serving.
        let _client = client;
        let _service = service;
        crate::serve::serve_incoming(
            move || {
                let streams = streams.clone();
                async move {
                    let mut streams = streams.lock().await;
                    loop {
                        let req: StreamRequest = streams.next().await?;
                        if let Some(s) = accept(req).await {
                            return Some(s);
                        }
                    }
                }
            },
            app,
            shutdown,
            header_timeout,
        )
        .await;
    });
    Ok(onion)
}

/// Accept `BEGIN` to our port; refuse anything else.
async fn accept(req: StreamRequest) -> Option<arti_client::DataStream> {
    let ok = matches!(req.request(), tor_proto::stream::IncomingStreamRequest::Begin(b) if b.port() == PORT);
    if !ok {
        let _ = req.shutdown_circuit();
        return None;
    }
    match req
        .accept(tor_cell::relaycell::msg::Connected::new_empty())
        .await
    {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::debug!(error = %e, "could not accept an onion stream");
            None
        }
    }
}

/// Tell the person at the box, in one plain line at a time, what Tor is
/// doing until it is connected: on progress of 10 % or more, when it gets
/// stuck (with the reason Arti gives and what to check), and again every
/// 30 s while nothing changes. The status model (screen, `status`) follows
/// every event.
async fn report_bootstrap(client: &TorClient<onionchat_tor::runtime::Runtime>, state: &AppState) {
    use onionchat_tor::progress::{Place, Teller, step};
    let mut events = client.bootstrap_events();
    let mut tick = tokio::time::interval(onionchat_tor::progress::REPEAT);
    let mut teller = Teller::default();
    let mut line = String::from("Tor: starting");
    loop {
        tokio::select! {
            ev = events.next() => {
                let Some(ev) = ev else { return };
                let now = step(&ev, Place::Box);
                if now.ready {
                    eprintln!("Tor: connected. The onion service is being announced; invites work in a minute or so.");
                    state.status.set_transport(TransportState::Publishing);
                    return;
                }
                let detail = match &now.stuck {
                    Some(why) => format!("stuck: {why}"),
                    None => ev.to_string(),
                };
                state.status.set_transport(TransportState::Bootstrapping {
                    percent: now.percent,
                    detail,
                });
                line = now.line.clone();
                if teller.news(&now) {
                    eprintln!("{line}");
                }
            }
            _ = tick.tick() => {
                if teller.again() {
                    eprintln!("{line}");
                }
            }
            _ = state.shutdown.cancelled() => return,
        }
    }
}

/// Mirror the onion service's state into the status model and the log.
async fn watch_service(service: Arc<RunningOnionService>, state: AppState) {
    let mut events = service.status_events();
    let mut last = None;
    loop {
        let ev = tokio::select! {
            ev = events.next() => match ev { Some(ev) => ev, None => return },
            _ = state.shutdown.cancelled() => return,
        };
        let problem = ev.current_problem().map(|p| format!("{p:?}"));
        let transport = match ev.state() {
            State::Running => TransportState::Reachable,
            State::Bootstrapping => TransportState::Publishing,
            State::DegradedReachable | State::DegradedUnreachable | State::Recovering => {
                TransportState::Degraded {
                    reason: problem
                        .clone()
                        .unwrap_or_else(|| format!("{:?}", ev.state())),
                }
            }
            other => TransportState::Stopped {
                reason: problem.clone().unwrap_or_else(|| format!("{other:?}")),
            },
        };
        if last.as_ref() != Some(&transport) {
            tracing::info!(state = ?ev.state(), problem = ?problem, "onion service state");
            if let Some(p) = &problem {
                state.status.set_error(format!("onion service: {p}"));
            }
            state.status.set_transport(transport.clone());
            last = Some(transport);
        }
    }
}
