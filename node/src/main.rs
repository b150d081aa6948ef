//! `onionchat-node`: run the server, and manage it from the box.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use onionchat_node::config::{Config, TransportKind};
use onionchat_node::control::{self, BackupDone, BackupRequest, InviteWithLink};
use onionchat_proto::wire::{CreateInvite, Invite, InviteList, NodeStatus};

/// Print a line; a closed stdout (e.g. `| head`) is not worth a panic.
macro_rules! println {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// The OnionChat box: keeps your family's encrypted chat and serves it over
/// Tor.
///
/// With no command (or `run`) it serves; the other commands look after the
/// box: invites, status, backups, checks.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// TOML config file [default: /etc/onionchat/node.toml when it exists,
    /// as the package installs it, so that `sudo onionchat-node status` on a
    /// box finds the running node; built-in defaults otherwise].
    #[arg(long, global = true, env = "ONIONCHAT_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (database, files, Tor state).
    #[arg(long, global = true, env = "ONIONCHAT_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node (the default).
    Run(RunArgs),
    /// Manage invites of the running node.
    Invite {
        #[command(subcommand)]
        action: InviteAction,
    },
    /// Restricted-discovery access keys (who can find the onion service).
    Access {
        #[command(subcommand)]
        action: AccessAction,
    },
    /// Show the running node's status.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Check the running node's database and files against each other
    /// (exits 1 when anything is wrong).
    Check {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write a consistent backup of the running node, encrypted with a
    /// passphrase (it holds the box's onion key).
    Backup {
        /// Backup file to write (created readable by its owner only).
        file: PathBuf,
        /// Read the passphrase from this file's first line instead of
        /// asking (or set ONIONCHAT_BACKUP_PASSPHRASE).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Restore a backup into the data dir (the node must be stopped).
    Restore {
        /// Backup file to read.
        file: PathBuf,
        /// Replace an existing database.
        #[arg(long)]
        force: bool,
        /// Read the passphrase from this file's first line instead of
        /// asking (or set ONIONCHAT_BACKUP_PASSPHRASE).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
}

#[derive(clap::Args, Default)]
struct RunArgs {
    /// How to serve: an onion service (default) or TCP for development.
    #[arg(long, env = "ONIONCHAT_TRANSPORT")]
    transport: Option<TransportKind>,
    /// TCP address for --transport tcp.
    #[arg(long, env = "ONIONCHAT_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// Allow TCP on a non-loopback address (exposes the node; not recommended).
    #[arg(long, env = "ONIONCHAT_ALLOW_NON_LOOPBACK")]
    allow_non_loopback: bool,
    /// Let anyone sign up without an invite.
    #[arg(long)]
    open_registration: bool,
    /// Turn off restricted discovery (anyone with the address can connect).
    #[arg(long)]
    no_restricted_discovery: bool,
    /// Arti configuration for a private Tor network (tests, demo).
    #[arg(long, env = "ONIONCHAT_TOR_NETWORK")]
    tor_network: Option<PathBuf>,
    /// Status display: auto, none, png:FILE[@WxH], ssd1306:/dev/i2c-1[@0x3d],
    /// sh1106:/dev/i2c-1, st7789:/dev/spidev0.0,dc=25,rst=27, ili9341:…, fb:/dev/fb0.
    #[arg(long, env = "ONIONCHAT_DISPLAY")]
    display: Option<String>,
    /// Display buttons on GPIO lines, e.g. /dev/gpiochip0:17 or /dev/gpiochip0:17,27.
    #[arg(long, env = "ONIONCHAT_BUTTONS")]
    buttons: Option<String>,
}

#[derive(Subcommand)]
enum AccessAction {
    /// List authorized client keys and the invites they went out with.
    List,
    /// Revoke a key (effective at the next descriptor upload, about a minute;
    /// the account's login still works from an already-connected client
    /// until the owner also removes the person).
    Revoke {
        /// Key id from `access list`.
        id: String,
    },
}

#[derive(Subcommand)]
enum InviteAction {
    /// Create a single-use invite and print its link (and a QR code).
    Create {
        /// Lifetime in hours.
        #[arg(long, default_value_t = 168)]
        hours: u64,
        /// Note for yourself.
        #[arg(long)]
        note: Option<String>,
        /// Also show it on the box's screen for 5 minutes.
        #[arg(long)]
        show: bool,
    },
    /// List invites.
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an unused invite.
    Revoke {
        /// The invite code.
        code: String,
    },
    /// Show the owner invite, while nobody owns the node yet (it is not
    /// written to the log).
    Owner,
}

/// The package's configuration file (and the box's).
const SYSTEM_CONFIG: &str = "/etc/onionchat/node.toml";

fn load_config(cli: &Cli, run: &RunArgs) -> anyhow::Result<Config> {
    let system = Path::new(SYSTEM_CONFIG);
    let mut config = match &cli.config {
        Some(path) => Config::from_file(path)?,
        None if system.exists() => Config::from_file(system)?,
        None => Config::default(),
    };
    if let Some(d) = &cli.data_dir {
        config.data_dir = d.clone();
    }
    if let Some(t) = run.transport {
        config.transport = t;
    }
    if let Some(l) = run.listen {
        config.listen = l;
    }
    config.allow_non_loopback |= run.allow_non_loopback;
    config.open_registration |= run.open_registration;
    if run.no_restricted_discovery {
        config.tor.restricted_discovery = false;
    }
    if let Some(d) = &run.display {
        config.display = d.clone();
    }
    if let Some(b) = &run.buttons {
        config.buttons = Some(b.clone());
    }
    if let Some(n) = &run.tor_network {
        config.tor.network_config = Some(n.clone());
    }
    Ok(config)
}

/// Print a QR code of `text` to the terminal.
pub fn print_qr(text: &str) {
    if let Ok(code) =
        qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::L)
    {
        let art = code
            .render::<qrcode::render::unicode::Dense1x2>()
            .dark_color(qrcode::render::unicode::Dense1x2::Light)
            .light_color(qrcode::render::unicode::Dense1x2::Dark)
            .build();
        println!("{art}");
    }
}

fn print_invite(inv: &Invite, link: Option<&str>) {
    let when = inv.expires_at / 1000;
    match link {
        Some(l) => {
            println!("Invite link (single use, expires at unix time {when}):\n\n  {l}\n");
            print_qr(&l.to_ascii_uppercase());
        }
        None => println!(
            "Invite code {} (the node's address is not known yet)",
            inv.code
        ),
    }
}

async fn run_node(cli: &Cli, args: &RunArgs) -> anyhow::Result<()> {
    let config = load_config(cli, args)?;
    let data_dir = config.data_dir.clone();
    onionchat_node::run(config, |ready| {
        println!("Data directory: {}", data_dir.display());
        // The owner invite makes whoever uses it the box's owner: shown on
        // a terminal, never written where logs go (the journal).
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
        if ready.owner_invite.is_some() && !terminal {
            println!(
                "Nobody owns this node yet. Its owner invite is on the box's screen; \
                 or run `onionchat-node invite owner` on the box."
            );
        }
        if let Some(link) = ready.owner_invite.as_ref().filter(|_| terminal) {
            println!("\nNobody owns this node yet. The first person to use this invite becomes its owner:\n\n  Owner invite: {link}\n");
            print_qr(&link.to_ascii_uppercase());
            if ready.url.ends_with(".onion") {
                println!("The invite works as soon as Tor is connected (progress below).\n");
            }
        }
        // Printed last: scripts wait for this line.
        println!("OnionChat node listening on {}", ready.url);
    })
    .await
}

fn data_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    Ok(load_config(cli, &RunArgs::default())?.data_dir)
}

/// Bytes in the units people read: "512 B", "72 KiB", "1.5 GiB".
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

/// Seconds as "3 days 4 h", "5 h 12 min", "7 min", "12 s".
fn human_duration(s: u64) -> String {
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} days {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

fn print_status(s: &NodeStatus) {
    println!(
        "OnionChat node {}, up {}",
        s.version,
        human_duration(s.uptime_secs)
    );
    match s.bridges {
        0 => println!("Tor:         {}", s.transport),
        1 => println!("Tor:         {} (through a bridge)", s.transport),
        n => println!("Tor:         {} (through {n} bridges)", s.transport),
    }
    if let Some(a) = &s.onion_address {
        println!("address:     {a}");
    }
    println!(
        "users:       {} ({} online, {} sessions)",
        s.users, s.online_users, s.online_sessions
    );
    println!("rooms:       {}", s.rooms);
    println!(
        "messages:    {} total, {} today",
        s.messages_total, s.messages_today
    );
    println!("storage:     {}", human_bytes(s.storage_bytes));
    if let Some(f) = s.disk_free_bytes {
        println!("disk free:   {}", human_bytes(f));
    }
    if let Some(m) = s.memory_bytes {
        println!("memory:      {}", human_bytes(m));
    }
    if let Some(e) = &s.last_error {
        println!("last error:  {e}");
    }
    if let Some(u) = &s.last_update {
        let ago = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs().saturating_sub(u.at_secs))
            .unwrap_or(0);
        println!("last update: {u} ({} ago)", human_duration(ago));
    }
}

async fn main_inner(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        None => run_node(&cli, &RunArgs::default()).await,
        Some(Command::Run(args)) => run_node(&cli, args).await,
        Some(Command::Invite { action }) => {
            let dir = data_dir(&cli)?;
            match action {
                InviteAction::Create { hours, note, show } => {
                    let req = CreateInvite {
                        ttl_secs: Some(hours * 3600),
                        note: note.clone(),
                    };
                    let r: InviteWithLink =
                        control::call(&dir, "POST", "/control/invites", Some(&req)).await?;
                    print_invite(&r.invite, r.link.as_deref());
                    if *show {
                        let _: InviteWithLink =
                            control::call(&dir, "POST", "/control/show-invite", Some(&r)).await?;
                        println!("Shown on the box's screen for 5 minutes.");
                    }
                }
                InviteAction::List { json } => {
                    let r: InviteList =
                        control::call::<(), _>(&dir, "GET", "/control/invites", None).await?;
                    if *json {
                        println!("{}", serde_json::to_string_pretty(&r.invites)?);
                    } else {
                        for i in &r.invites {
                            let state = if i.revoked {
                                "revoked".to_string()
                            } else if let Some(u) = i.used_by {
                                format!("used by user {u}")
                            } else if i.expires_at < onionchat_proto::now_ms() {
                                "expired".to_string()
                            } else {
                                "open".to_string()
                            };
                            println!(
                                "{}  {:<14} {}",
                                i.code,
                                state,
                                i.note.as_deref().unwrap_or("")
                            );
                        }
                    }
                }
                InviteAction::Revoke { code } => {
                    let _: Invite = control::call::<(), _>(
                        &dir,
                        "POST",
                        &format!("/control/invites/{code}/revoke"),
                        None,
                    )
                    .await?;
                    println!("Revoked {code}");
                }
                InviteAction::Owner => {
                    let r: Option<InviteWithLink> =
                        control::call::<(), _>(&dir, "GET", "/control/owner-invite", None).await?;
                    match r {
                        Some(InviteWithLink {
                            link: Some(link), ..
                        }) => {
                            println!(
                                "The first person to use this invite becomes the node's owner:\n\n  Owner invite: {link}\n"
                            );
                            print_qr(&link.to_ascii_uppercase());
                        }
                        Some(InviteWithLink { invite, .. }) => println!(
                            "Owner invite code {} (the node's address is not known yet; try again when Tor is up)",
                            invite.code
                        ),
                        None => println!("This node has an owner; invites come from them."),
                    }
                }
            }
            Ok(())
        }
        Some(Command::Access { action }) => {
            let dir = data_dir(&cli)?;
            let list: control::AccessList = match action {
                AccessAction::List => {
                    control::call::<(), _>(&dir, "GET", "/control/access", None).await?
                }
                AccessAction::Revoke { id } => {
                    let l = control::call::<(), _>(
                        &dir,
                        "POST",
                        &format!("/control/access/{id}/revoke"),
                        None,
                    )
                    .await?;
                    println!(
                        "Revoked {id}; it stops working at the next descriptor upload (about a minute)."
                    );
                    l
                }
            };
            for (id, invite) in &list.keys {
                println!(
                    "{id}  {}",
                    invite
                        .as_deref()
                        .map(|c| format!("invite {c}"))
                        .unwrap_or_else(|| "spare".into())
                );
            }
            Ok(())
        }
        Some(Command::Status { json }) => {
            let s: NodeStatus =
                control::call::<(), _>(&data_dir(&cli)?, "GET", "/control/status", None).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                print_status(&s);
            }
            Ok(())
        }
        Some(Command::Check { json }) => {
            let r: onionchat_node::store::check::CheckReport =
                control::call::<(), _>(&data_dir(&cli)?, "GET", "/control/check", None).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "{} rooms, {} messages, {} files ({} bytes), {} uploads in flight",
                    r.rooms, r.messages, r.files, r.file_bytes, r.uploads_in_flight
                );
                for p in &r.problems {
                    println!("problem: {p}");
                }
                println!(
                    "{}",
                    if r.is_healthy() {
                        "healthy"
                    } else {
                        "NOT healthy"
                    }
                );
            }
            if !r.is_healthy() {
                std::process::exit(1);
            }
            Ok(())
        }
        Some(Command::Backup {
            file,
            passphrase_file,
        }) => {
            let path = std::path::absolute(file)?;
            let passphrase = backup_passphrase(passphrase_file.as_deref(), true)?;
            eprintln!("Writing the backup (the node keeps running)…");
            let r: BackupDone = control::call(
                &data_dir(&cli)?,
                "POST",
                "/control/backup",
                Some(&BackupRequest {
                    path: path.clone(),
                    passphrase,
                }),
            )
            .await?;
            println!(
                "Backup written to {}: {} rows, {} files, {} other files",
                path.display(),
                r.rows,
                r.blobs,
                r.files
            );
            Ok(())
        }
        Some(Command::Restore {
            file,
            force,
            passphrase_file,
        }) => {
            let dir = data_dir(&cli)?;
            if tokio::net::UnixStream::connect(control::socket_path(&dir))
                .await
                .is_ok()
            {
                anyhow::bail!(
                    "a node is running with {}; stop it before restoring",
                    dir.display()
                );
            }
            let passphrase = backup_passphrase(passphrase_file.as_deref(), false)?;
            eprintln!("Checking the passphrase and restoring…");
            let s =
                onionchat_node::store::backup::restore(file, &dir, *force, passphrase.as_bytes())
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "Restored into {}: {} accounts, {} files, {} other files",
                dir.display(),
                s.rows,
                s.blobs,
                s.files
            );
            Ok(())
        }
    }
}

/// Default log filter: our own info, Arti's errors only (its warnings come
/// in walls of retries that would bury the one line that matters; set
/// RUST_LOG to see them).
const ARTI_QUIET: &str = "info,arti_client=error,tor_=error";

/// The backup passphrase: from a file, the environment, or asked for on
/// the terminal (twice for a new backup).
fn backup_passphrase(
    file: Option<&std::path::Path>,
    new: bool,
) -> anyhow::Result<zeroize::Zeroizing<String>> {
    if let Some(path) = file {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
        );
        return Ok(zeroize::Zeroizing::new(
            text.lines().next().unwrap_or("").to_string(),
        ));
    }
    if let Ok(p) = std::env::var("ONIONCHAT_BACKUP_PASSPHRASE") {
        return Ok(zeroize::Zeroizing::new(p));
    }
    let first = zeroize::Zeroizing::new(rpassword::prompt_password(
        "Backup passphrase (it protects the box's keys; keep it safe): ",
    )?);
    if new {
        let again = zeroize::Zeroizing::new(rpassword::prompt_password("Again: ")?);
        if *first != *again {
            anyhow::bail!("the passphrases differ; nothing was written");
        }
    }
    Ok(first)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // Arti retries quietly; its warnings are for the log, and
                // the node says in one line what Tor is doing.
                .unwrap_or_else(|_| ARTI_QUIET.into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, not the journal or a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(main_inner(cli));
    // Dropping a runtime waits for its blocking tasks without end (Arti's
    // among them); the node has said goodbye, so bound that wait.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_as_words() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(72 * 1024), "72 KiB");
        assert_eq!(human_bytes(1536 * 1024 * 1024), "1.5 GiB");
        assert_eq!(human_bytes(64 * 1024 * 1024 * 1024), "64 GiB");
        assert_eq!(human_duration(5), "5 s");
        assert_eq!(human_duration(3 * 86_400 + 4 * 3600), "3 days 4 h");
    }
}
