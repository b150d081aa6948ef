//! `onionchat`: the OnionChat command-line client.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use onionchat_client::transport::{TorOptions, connector_for};
use onionchat_client::{Client, ClientEvent, ConnectionState, Incoming, Received, words};
use onionchat_proto::wire::{
    FileId, FriendRequest, InviteLink, MessageContent, RequestId, Room, RoomId, RoomKind,
};
use serde_json::json;

/// Chat with family and friends through your OnionChat box.
///
/// Messages and files are encrypted on this computer and reach the box over
/// Tor: the box keeps only what it cannot read. Start with
/// `onionchat join <invite link> --username <name>`.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Profile name (one per node account).
    #[arg(
        long,
        global = true,
        env = "ONIONCHAT_PROFILE",
        default_value = "default"
    )]
    profile: String,
    /// Profile directory (overrides --profile).
    #[arg(long, global = true, env = "ONIONCHAT_PROFILE_DIR")]
    profile_dir: Option<PathBuf>,
    /// Read the passphrase from this file instead of asking.
    #[arg(long, global = true)]
    passphrase_file: Option<PathBuf>,
    /// Arti configuration for a private Tor network (tests, demo).
    #[arg(long, global = true, env = "ONIONCHAT_TOR_NETWORK")]
    tor_network: Option<PathBuf>,
    /// JSON output.
    #[arg(long, global = true)]
    json: bool,
    /// Give up connecting to Tor after this many seconds.
    #[arg(
        long,
        global = true,
        env = "ONIONCHAT_TOR_TIMEOUT",
        default_value_t = 180
    )]
    tor_timeout: u64,
    /// Reach Tor through this bridge where Tor is blocked (repeat for
    /// several): a line from bridges.torproject.org, e.g. `obfs4
    /// 192.0.2.1:443 FINGERPRINT cert=… iat-mode=0`. Bridges given to
    /// `join` are kept in the profile; `onionchat bridges` changes them.
    #[arg(long = "bridge", global = true, value_name = "LINE")]
    bridges: Vec<String>,
    /// The obfs4 program for obfs4 bridges (default: lyrebird or
    /// obfs4proxy on PATH).
    #[arg(long, global = true, env = "ONIONCHAT_TRANSPORT_PROGRAM")]
    transport_program: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// The profile's bridge lines, one per line (what `join --bridge` and
/// `onionchat bridges set` keep).
const BRIDGES_FILE: &str = "bridges.txt";

#[derive(Subcommand)]
enum Command {
    /// Create a profile with a new key (before joining a node).
    Init {
        /// Your username on the node.
        #[arg(long)]
        username: String,
    },
    /// Bridges for networks where Tor is blocked: list, set or clear the
    /// ones this profile uses.
    Bridges {
        #[command(subcommand)]
        action: BridgesAction,
    },
    /// Join a node with an invite link.
    Join {
        /// The invite link (onionchat://…).
        invite: String,
        /// Your username (needed if the profile does not exist yet).
        #[arg(long)]
        username: Option<String>,
    },
    /// Log in again (checks the passphrase and the connection).
    Login,
    /// Friends and friend requests.
    Friends {
        #[command(subcommand)]
        action: FriendsAction,
    },
    /// Rooms and groups.
    Rooms {
        #[command(subcommand)]
        action: RoomsAction,
    },
    /// Send a message to a friend (username) or a room (id).
    Send {
        /// Username or room id.
        to: String,
        /// The text; without it (or with `-`), what comes on standard input.
        text: Option<String>,
    },
    /// Answer a message (its number in `history`), quoting it.
    Reply {
        /// Username or room id.
        room: String,
        /// The message's number, as `history` shows it: [12].
        seq: u64,
        /// The answer.
        text: String,
    },
    /// React to a message with an emoji (or take it back).
    React {
        /// Username or room id.
        room: String,
        /// The message's number, as `history` shows it.
        seq: u64,
        /// The emoji, e.g. 👍.
        emoji: String,
        /// Take the reaction back.
        #[arg(long)]
        remove: bool,
    },
    /// Delete one of your messages for everyone (the box erases it), or
    /// any message for yourself only.
    Delete {
        /// Username or room id.
        room: String,
        /// The message's number, as `history` shows it.
        seq: u64,
        /// Only on this profile: the others keep it.
        #[arg(long)]
        for_me: bool,
    },
    /// Search messages (on this computer: the box cannot read them).
    Search {
        /// Words to find (case does not matter).
        query: String,
        /// Only in this chat (username or room id).
        #[arg(long)]
        room: Option<String>,
        /// Show at most this many (the newest).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Follow new messages live.
    Tail {
        /// Stop after this many messages (for scripts).
        #[arg(long)]
        count: Option<usize>,
    },
    /// Show a room's history.
    History {
        /// Username or room id.
        room: String,
        /// Only messages after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
    },
    /// Send and fetch files.
    File {
        #[command(subcommand)]
        action: FileAction,
    },
    /// Show the safety number to compare with a contact in person.
    Verify {
        /// The contact.
        username: String,
        /// Record that you compared it and it matched.
        #[arg(long)]
        confirm: bool,
    },
    /// Export the whole profile to one passphrase-protected file.
    Export {
        /// File to write.
        file: PathBuf,
    },
    /// Import a profile export (into --profile / --profile-dir).
    Import {
        /// Export file.
        file: PathBuf,
    },
    /// Profile and node status.
    Status,
    /// Create an invite (node owner only).
    Invite {
        /// Lifetime in hours.
        #[arg(long, default_value_t = 168)]
        hours: u64,
    },
}

#[derive(Subcommand)]
enum BridgesAction {
    /// The bridges this profile uses.
    List,
    /// Use these bridges from now on: bridge lines, one per line, from a
    /// file or (without one, or `-`) pasted on standard input. Get them at
    /// https://bridges.torproject.org or by mail to bridges@torproject.org.
    Set {
        /// A file with bridge lines (`-`: standard input).
        file: Option<String>,
    },
    /// Connect to Tor directly again.
    Clear,
}

#[derive(Subcommand)]
enum FriendsAction {
    /// Send a friend request.
    Add {
        /// Their username.
        username: String,
    },
    /// Accept a request (by username or request id).
    Accept {
        /// Username or request id.
        who: String,
    },
    /// Decline a request.
    Decline {
        /// Username or request id.
        who: String,
    },
    /// List friends and pending requests.
    List,
}

#[derive(Subcommand)]
enum RoomsAction {
    /// List rooms.
    List,
    /// Create a group with friends.
    Create {
        /// Usernames.
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Add friends to a group.
    Add {
        /// Room id.
        room: String,
        /// Usernames.
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Remove members from a group.
    Remove {
        /// Room id.
        room: String,
        /// Usernames.
        #[arg(required = true)]
        members: Vec<String>,
    },
    /// Leave a group.
    Leave {
        /// Room id.
        room: String,
    },
    /// Name a group (admins only; the box never sees the name).
    Rename {
        /// Room id.
        room: String,
        /// The new name.
        name: String,
    },
}

#[derive(Subcommand)]
enum FileAction {
    /// Encrypt and send a file.
    Send {
        /// Username or room id.
        to: String,
        /// The file.
        path: PathBuf,
    },
    /// Download, decrypt and verify a file.
    Get {
        /// Username or room id the file was shared in.
        room: String,
        /// File id.
        file_id: String,
        /// Where to save it: a file name, or a folder to save it in under
        /// its own name (default: the current folder).
        dest: Option<PathBuf>,
        /// Replace the file at the destination if there is one.
        #[arg(long)]
        force: bool,
    },
}

mod actions;
mod show;

use show::{Shown, print_incoming};

/// Print a line; a closed stdout (e.g. `| head`) is not an error worth a panic.
macro_rules! out {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

impl Cli {
    fn dir(&self) -> PathBuf {
        self.profile_dir
            .clone()
            .unwrap_or_else(|| onionchat_client::profile::Profile::default_dir(&self.profile))
    }

    fn tor(&self) -> TorOptions {
        TorOptions {
            state_dir: Some(self.dir().join("tor")),
            network_config: self.tor_network.clone(),
            progress: !self.json,
            on_bootstrap: None,
            bootstrap_timeout: Some(std::time::Duration::from_secs(self.tor_timeout)),
            bridges: self.bridge_lines(),
            transport_program: self.transport_program.clone(),
        }
    }

    /// The bridges for this run: those on the command line, else the
    /// profile's.
    fn bridge_lines(&self) -> Vec<String> {
        if !self.bridges.is_empty() {
            return self.bridges.clone();
        }
        onionchat_tor::bridges::read_file(&self.dir().join(BRIDGES_FILE))
    }

    /// Keep `lines` as the profile's bridges (none: remove the file).
    fn save_bridges(&self, lines: &[String]) -> anyhow::Result<()> {
        onionchat_tor::Bridges {
            lines: lines.to_vec(),
            transport_program: self.transport_program.clone(),
        }
        .check()?;
        onionchat_tor::bridges::write_file(&self.dir().join(BRIDGES_FILE), lines)?;
        Ok(())
    }

    fn passphrase(&self, confirm: bool) -> anyhow::Result<zeroize::Zeroizing<String>> {
        let p = self.read_passphrase(confirm)?;
        if confirm {
            // Checked before minutes of key generation, not after.
            onionchat_client::profile::Profile::check_new_passphrase(p.as_bytes())?;
        }
        Ok(p)
    }

    fn read_passphrase(&self, confirm: bool) -> anyhow::Result<zeroize::Zeroizing<String>> {
        if let Some(f) = &self.passphrase_file {
            let s = std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?;
            return Ok(zeroize::Zeroizing::new(
                s.trim_end_matches(['\n', '\r']).to_string(),
            ));
        }
        if let Ok(p) = std::env::var("ONIONCHAT_PASSPHRASE") {
            return Ok(zeroize::Zeroizing::new(p));
        }
        let ask = |prompt: &str| {
            rpassword::prompt_password(prompt)
                .map(zeroize::Zeroizing::new)
                .map_err(|e| {
                    anyhow::anyhow!(
                        "cannot ask for your passphrase here ({e}): there is no terminal. \
                     Set ONIONCHAT_PASSPHRASE, or pass --passphrase-file FILE"
                    )
                })
        };
        let p = ask("Passphrase: ")?;
        if confirm {
            let again = ask("Repeat passphrase: ")?;
            if *again != *p {
                anyhow::bail!("the passphrases do not match");
            }
        }
        Ok(p)
    }

    fn open(&self) -> anyhow::Result<Arc<Client>> {
        let pass = self.passphrase(false)?;
        let tor = self.tor();
        let c = Arc::new(Client::open(&self.dir(), pass.as_bytes(), |data| {
            connector_for(data, &tor)
        })?);
        *warnings().lock().unwrap_or_else(|p| p.into_inner()) = Some(c.subscribe());
        Ok(c)
    }
}

/// What the client refused while a command ran (a box that lied), told to
/// the user when the command ends — `tail` tells them as they happen.
fn warnings() -> &'static std::sync::Mutex<Option<tokio::sync::broadcast::Receiver<ClientEvent>>> {
    static W: std::sync::OnceLock<
        std::sync::Mutex<Option<tokio::sync::broadcast::Receiver<ClientEvent>>>,
    > = std::sync::OnceLock::new();
    W.get_or_init(Default::default)
}

/// The refusals and key changes seen during the command, in words.
fn warn_user() {
    let Some(mut rx) = warnings().lock().unwrap_or_else(|p| p.into_inner()).take() else {
        return;
    };
    let mut said = std::collections::BTreeSet::new();
    while let Ok(ev) = rx.try_recv() {
        let line = match ev {
            ClientEvent::Security { what, .. } => format!("⚠ refused: {what}"),
            ClientEvent::KeyChanged { username, .. } => format!(
                "⚠ {username}'s key changed! Their messages are not trusted until you verify them (onionchat verify {username})."
            ),
            _ => continue,
        };
        if said.insert(line.clone()) {
            eprintln!("{line}");
        }
    }
}

async fn resolve_room(c: &Client, s: &str) -> anyhow::Result<RoomId> {
    if let Some(id) = RoomId::from_hex(s) {
        return Ok(id);
    }
    Ok(c.direct_room(s).await?)
}

fn room_json(r: &Room, name: Option<String>) -> serde_json::Value {
    json!({
        "id": r.id.to_hex(),
        "name": name,
        "kind": match r.kind { RoomKind::Direct => "direct", RoomKind::Group => "group" },
        "members": r.members.iter().map(|m| m.0).collect::<Vec<_>>(),
        "epoch": r.epoch,
        "last_seq": r.last_seq,
        "rekey_required": r.rekey_required,
    })
}

fn bar(total: u64, what: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(total);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// The pending request from `who` (a name, or the number `friends list`
/// shows), as the user names it now.
async fn pending_request(c: &Client, who: &str) -> anyhow::Result<FriendRequest> {
    let list = c.friend_requests().await?;
    let id = who.parse::<u64>().ok().map(RequestId);
    list.incoming
        .into_iter()
        .find(|r| Some(r.id) == id || r.from.username == who)
        .ok_or_else(|| anyhow::anyhow!("no pending friend request from {who}"))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let json_out = cli.json;
    match &cli.command {
        Command::Init { username } => cmd_init(&cli, username).await,
        Command::Join { invite, username } => cmd_join(&cli, invite, username.as_deref()).await,
        Command::Bridges { action } => cmd_bridges(&cli, json_out, action),
        Command::Login => cmd_login(&cli).await,
        Command::Friends { action } => cmd_friends(&cli, json_out, action).await,
        Command::Rooms { action } => cmd_rooms(&cli, json_out, action).await,
        Command::Send { to, text } => cmd_send(&cli, json_out, to, text.as_deref()).await,
        Command::Reply { room, seq, text } => {
            actions::reply(&cli, json_out, room, *seq, text).await
        }
        Command::React {
            room,
            seq,
            emoji,
            remove,
        } => actions::react(&cli, json_out, room, *seq, emoji, *remove).await,
        Command::Delete { room, seq, for_me } => {
            actions::delete(&cli, json_out, room, *seq, *for_me).await
        }
        Command::Search { query, room, limit } => {
            actions::search(&cli, json_out, query, room.as_deref(), *limit).await
        }
        Command::Tail { count } => cmd_tail(&cli, json_out, *count).await,
        Command::History { room, after } => cmd_history(&cli, json_out, room, *after).await,
        Command::File { action } => cmd_file(&cli, action).await,
        Command::Verify { username, confirm } => {
            cmd_verify(&cli, json_out, username, *confirm).await
        }
        Command::Export { file } => cmd_export(&cli, file).await,
        Command::Import { file } => cmd_import(&cli, file).await,
        Command::Status => cmd_status(&cli, json_out).await,
        Command::Invite { hours } => cmd_invite(&cli, json_out, *hours).await,
    }
}

/// `onionchat init`.
async fn cmd_init(cli: &Cli, username: &str) -> anyhow::Result<()> {
    let pass = cli.passphrase(true)?;
    Client::init(&cli.dir(), pass.as_bytes(), username, |m| eprintln!("{m}")).await?;
    out!("Profile created in {}", cli.dir().display());
    Ok(())
}

/// `onionchat join`.
async fn cmd_join(cli: &Cli, invite: &str, username: Option<&str>) -> anyhow::Result<()> {
    let link = InviteLink::parse(invite)?;
    let dir = cli.dir();
    let exists = onionchat_client::profile::Profile::exists(&dir);
    let username = match (username, exists) {
        (Some(u), _) => u.to_string(),
        (None, true) => String::new(),
        (None, false) => anyhow::bail!("pass --username to create a profile while joining"),
    };
    let pass = cli.passphrase(!exists)?;
    let mut data = onionchat_client::profile::VaultData::default();
    data.address = link.address.clone();
    data.auth_key = link.auth_key.clone();
    let connector = connector_for(&data, &cli.tor())?;
    let c = Client::join(&dir, pass.as_bytes(), &link, &username, connector, |m| {
        eprintln!("{m}")
    })
    .await?;
    if !cli.bridges.is_empty() {
        cli.save_bridges(&cli.bridges)?;
    }
    out!(
        "Joined {} as {} (your fingerprint: {})",
        link.address,
        c.username(),
        c.fingerprint()
    );
    Ok(())
}

/// `onionchat bridges`.
fn cmd_bridges(cli: &Cli, json_out: bool, action: &BridgesAction) -> anyhow::Result<()> {
    match action {
        BridgesAction::List => {
            let lines = cli.bridge_lines();
            if json_out {
                println!("{}", serde_json::to_string_pretty(&lines)?);
            } else if lines.is_empty() {
                println!("No bridges: this profile connects to Tor directly.");
            } else {
                for l in lines {
                    println!("{l}");
                }
            }
        }
        BridgesAction::Set { file } => {
            let text = match file.as_deref() {
                None | Some("-") => std::io::read_to_string(std::io::stdin())?,
                Some(f) => std::fs::read_to_string(f)?,
            };
            let lines = onionchat_tor::Bridges::lines_from_text(&text);
            anyhow::ensure!(
                !lines.is_empty(),
                "no bridge lines given (to connect directly again: onionchat bridges clear)"
            );
            cli.save_bridges(&lines)?;
            out!(
                "This profile now reaches Tor through {}.",
                words::count(lines.len() as u64, "bridge", "bridges")
            );
        }
        BridgesAction::Clear => {
            cli.save_bridges(&[])?;
            out!("No bridges: this profile connects to Tor directly.");
        }
    }
    Ok(())
}

/// `onionchat login`.
async fn cmd_login(cli: &Cli) -> anyhow::Result<()> {
    let c = cli.open()?;
    let s = c.login().await?;
    out!(
        "Logged in as {}. The session lasts until {} (in {}); then this app logs in again by itself.",
        s.user.username,
        words::local_time(s.expires_at),
        words::duration(s.expires_at.saturating_sub(onionchat_proto::now_ms()))
    );
    Ok(())
}

/// `onionchat friends`.
async fn cmd_friends(cli: &Cli, json_out: bool, action: &FriendsAction) -> anyhow::Result<()> {
    let c = cli.open()?;
    match action {
        FriendsAction::Add { username } => {
            c.send_friend_request(username).await?;
            out!("Friend request sent to {username}");
        }
        FriendsAction::Accept { who } => {
            let req = pending_request(&c, who).await?;
            let room = c.accept_friend_request(&req).await?;
            out!(
                "You are now friends with {} (key {}; room {})",
                req.from.username,
                req.from.fingerprint.to_hex(),
                room.id
            );
        }
        FriendsAction::Decline { who } => {
            let req = pending_request(&c, who).await?;
            c.decline_friend_request(req.id).await?;
            out!("Declined");
        }
        FriendsAction::List => {
            let friends = c.friends().await?;
            let reqs = c.friend_requests().await?;
            if json_out {
                out!(
                    "{}",
                    json!({
                        "friends": friends.iter().map(|f| json!({"username": f.user.username, "user_id": f.user.user_id.0, "room": f.room_id.to_hex(), "verified": c.contact(f.user.user_id).is_some_and(|x| x.verified)})).collect::<Vec<_>>(),
                        "incoming": reqs.incoming.iter().map(|r| json!({"id": r.id.0, "from": r.from.username})).collect::<Vec<_>>(),
                        "outgoing": reqs.outgoing.iter().map(|r| json!({"id": r.id.0, "to": r.to.username})).collect::<Vec<_>>(),
                    })
                );
            } else {
                for f in &friends {
                    let v = if c.contact(f.user.user_id).is_some_and(|x| x.verified) {
                        "verified"
                    } else {
                        "not verified"
                    };
                    out!("{}  ({v}, room {})", f.user.username, f.room_id);
                }
                for r in &reqs.incoming {
                    out!(
                        "request #{} from {} — accept with: onionchat friends accept {}",
                        r.id,
                        r.from.username,
                        r.from.username
                    );
                }
                for r in &reqs.outgoing {
                    out!("request #{} to {} (waiting)", r.id, r.to.username);
                }
                if friends.is_empty() && reqs.incoming.is_empty() && reqs.outgoing.is_empty() {
                    out!("No friends yet. Add one with: onionchat friends add <username>");
                }
            }
        }
    }
    Ok(())
}

/// `onionchat rooms`.
async fn cmd_rooms(cli: &Cli, json_out: bool, action: &RoomsAction) -> anyhow::Result<()> {
    let c = cli.open()?;
    match action {
        RoomsAction::List => {
            let rooms = c.rooms().await?;
            if json_out {
                out!(
                    "{}",
                    serde_json::Value::Array(
                        rooms
                            .iter()
                            .map(|r| room_json(r, c.group_name(r.id)))
                            .collect()
                    )
                );
            } else {
                for r in &rooms {
                    let names: Vec<String> = r
                        .members
                        .iter()
                        .map(|m| {
                            c.contact(*m).map(|x| x.username).unwrap_or_else(|| {
                                if *m == c.me() {
                                    c.username()
                                } else {
                                    format!("user {m}")
                                }
                            })
                        })
                        .collect();
                    let kind = match c.group_name(r.id) {
                        Some(n) => format!("“{}”", show::clean(&n)),
                        None => format!("{:?}", r.kind),
                    };
                    out!(
                        "{}  {}  {}  (epoch {}, {} messages)",
                        r.id,
                        kind,
                        names.join(", "),
                        r.epoch,
                        r.last_seq
                    );
                }
            }
        }
        RoomsAction::Create { members } => {
            let names: Vec<&str> = members.iter().map(String::as_str).collect();
            let r = c.create_group(&names).await?;
            out!("Created group {}", r.id);
        }
        RoomsAction::Add { room, members } => {
            let names: Vec<&str> = members.iter().map(String::as_str).collect();
            let r = c.add_members(resolve_room(&c, room).await?, &names).await?;
            out!("Members updated; new key epoch {}", r.epoch);
        }
        RoomsAction::Remove { room, members } => {
            let names: Vec<&str> = members.iter().map(String::as_str).collect();
            let r = c
                .remove_members(resolve_room(&c, room).await?, &names)
                .await?;
            out!(
                "Removed; new key epoch {} (removed members cannot read new messages)",
                r.epoch
            );
        }
        RoomsAction::Leave { room } => {
            c.leave(resolve_room(&c, room).await?).await?;
            out!("You left the room");
        }
        RoomsAction::Rename { room, name } => {
            drop(c);
            actions::rename(cli, json_out, room, name).await?;
        }
    }
    Ok(())
}

/// `onionchat send`.
async fn cmd_send(cli: &Cli, json_out: bool, to: &str, text: Option<&str>) -> anyhow::Result<()> {
    let text = match text {
        Some(t) if t != "-" => t.to_string(),
        _ => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| anyhow::anyhow!("cannot read the message from standard input: {e}"))?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
    };
    let c = cli.open()?;
    let ack = c.send_text(resolve_room(&c, to).await?, &text).await?;
    if json_out {
        out!(
            "{}",
            json!({"seq": ack.seq, "server_time": ack.server_time})
        );
    } else {
        out!("Sent (#{})", ack.seq);
    }
    Ok(())
}

/// `onionchat tail`.
async fn cmd_tail(cli: &Cli, json_out: bool, count: Option<usize>) -> anyhow::Result<()> {
    let c = cli.open()?;
    // tail tells the user as things happen.
    warnings().lock().unwrap_or_else(|p| p.into_inner()).take();
    let mut events = c.subscribe();
    let _live = c.start_live();
    let mut seen = 0usize;
    let mut shown = Shown::default();
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ClientEvent::Message(item)) => {
                    print_incoming(json_out, &item, &mut shown);
                    seen += 1;
                    if count.is_some_and(|n| seen >= n) {
                        break;
                    }
                }
                Ok(ClientEvent::Connection(ConnectionState::Disconnected)) if !json_out => eprintln!("(connection lost; reconnecting…)"),
                Ok(ClientEvent::Membership { text, .. }) if !json_out => out!("— {text}"),
                Ok(ClientEvent::Security { what, .. }) => eprintln!("⚠ refused: {what}"),
                Ok(ClientEvent::KeyChanged { username, .. }) => eprintln!("⚠ {username}'s key changed! Their messages are not trusted until you verify them."),
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => eprintln!("(skipped {n} events)"),
                Err(_) => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(())
}

/// `onionchat history`.
async fn cmd_history(cli: &Cli, json_out: bool, room: &str, after: u64) -> anyhow::Result<()> {
    let c = cli.open()?;
    let mut shown = Shown::default();
    for item in c.history_all(resolve_room(&c, room).await?, after).await? {
        print_incoming(json_out, &item, &mut shown);
    }
    Ok(())
}

/// `onionchat file`.
async fn cmd_file(cli: &Cli, action: &FileAction) -> anyhow::Result<()> {
    let c = cli.open()?;
    match action {
        FileAction::Send { to, path } => {
            let size = file_to_send(path)?;
            let pb = bar(size, "encrypting + uploading");
            let pb2 = pb.clone();
            let (id, _) = c
                .send_file(
                    resolve_room(&c, to).await?,
                    path,
                    Box::new(move |d, _| {
                        pb2.set_position(d);
                        true
                    }),
                )
                .await?;
            pb.finish_and_clear();
            out!("Sent {} (file id {id})", path.display());
            if let Some(note) = onionchat_client::files::sent_as_is(path) {
                eprintln!("note: {note}");
            }
        }
        FileAction::Get {
            room,
            file_id,
            dest,
            force,
        } => {
            let room = resolve_room(&c, room).await?;
            let id = FileId::from_hex(file_id)
                .ok_or_else(|| anyhow::anyhow!("'{file_id}' is not a file id"))?;
            let (name, sha) = c
                .history_all(room, 0)
                .await?
                .into_iter()
                .find_map(|i| match i {
                    Incoming::Message(Received {
                        content:
                            MessageContent::File {
                                file_id,
                                name,
                                sha256,
                                ..
                            },
                        ..
                    }) if file_id == id => Some((name, sha256)),
                    _ => None,
                })
                .ok_or_else(|| anyhow::anyhow!("no file {id} was shared in that room"))?;
            // Never let a sender choose where the file lands.
            let safe = Path::new(&name)
                .file_name()
                .map(|n| n.to_owned())
                .unwrap_or_else(|| "download".into());
            let dest = match dest {
                Some(d) if d.is_dir() => d.join(safe),
                Some(d) => d.clone(),
                None => PathBuf::from(safe),
            };
            if dest.exists() && !force {
                anyhow::bail!(
                    "{} already exists; give another name to save it as, or add --force to replace it",
                    dest.display()
                );
            }
            let pb = bar(0, "downloading + decrypting");
            let pb2 = pb.clone();
            let d = c
                .download_file(
                    id,
                    &dest,
                    Some(&sha),
                    Box::new(move |done, total| {
                        pb2.set_length(total);
                        pb2.set_position(done);
                        true
                    }),
                )
                .await?;
            pb.finish_and_clear();
            let resumed = if d.resumed_from > 0 {
                format!(", picked up after {}", words::size(d.resumed_from))
            } else {
                String::new()
            };
            out!(
                "Saved {} ({}, SHA-256 verified{resumed})",
                dest.display(),
                words::size(d.size)
            );
        }
    }
    Ok(())
}

/// `onionchat verify`.
async fn cmd_verify(
    cli: &Cli,
    json_out: bool,
    username: &str,
    confirm: bool,
) -> anyhow::Result<()> {
    let c = cli.open()?;
    let (contact, number, qr) = c.safety_number(username).await?;
    if confirm {
        if contact.known {
            c.set_verified(contact.user_id, true)?;
        } else {
            // Not a contact yet: the key whose number was just shown.
            c.accept_new_key(username, contact.fingerprint).await?;
        }
    }
    let verified = confirm || contact.verified;
    if json_out {
        out!(
            "{}",
            json!({"username": contact.username, "safety_number": number, "qr": qr, "fingerprint": contact.fingerprint.to_hex(), "verified": verified})
        );
    } else {
        out!("Safety number with {}:\n\n  {number}\n", contact.username);
        out!(
            "Compare it with what {} sees (in person or on a call).",
            contact.username
        );
        out!(
            "{}",
            if verified {
                "Marked as verified."
            } else {
                "If it matches, run again with --confirm."
            }
        );
    }
    Ok(())
}

/// `onionchat export`.
async fn cmd_export(cli: &Cli, file: &std::path::Path) -> anyhow::Result<()> {
    let c = cli.open()?;
    c.export(file)?;
    out!(
        "Profile exported to {} (protected by your passphrase)",
        file.display()
    );
    Ok(())
}

/// `onionchat import`.
async fn cmd_import(cli: &Cli, file: &std::path::Path) -> anyhow::Result<()> {
    let pass = cli.passphrase(false)?;
    onionchat_client::profile::Profile::import(file, &cli.dir(), pass.as_bytes())?;
    out!("Profile imported into {}", cli.dir().display());
    Ok(())
}

/// `onionchat status`.
async fn cmd_status(cli: &Cli, json_out: bool) -> anyhow::Result<()> {
    let c = cli.open()?;
    let ok = c.login().await.is_ok();
    let node = c.node_status().await.ok();
    if json_out {
        out!(
            "{}",
            json!({"username": c.username(), "user_id": c.me().0, "fingerprint": c.fingerprint().to_hex(), "node_reachable": ok, "node": node.as_ref().map(|s| json!({"users": s.users, "online_users": s.online_users, "rooms": s.rooms, "messages_total": s.messages_total}))})
        );
    } else {
        out!("Profile:     {}", cli.dir().display());
        out!("Username:    {} (user {})", c.username(), c.me());
        out!("Fingerprint: {}", c.fingerprint());
        out!(
            "Node:        {}",
            if ok {
                "reachable, logged in"
            } else {
                "NOT reachable"
            }
        );
        if let Some(s) = node {
            out!(
                "Node status: {} ({} online), {}, {}",
                words::count(s.users, "user", "users"),
                s.online_users,
                words::count(s.rooms, "room", "rooms"),
                words::count(s.messages_total, "message", "messages")
            );
        }
    }
    Ok(())
}

/// `onionchat invite`.
async fn cmd_invite(cli: &Cli, json_out: bool, hours: u64) -> anyhow::Result<()> {
    let c = cli.open()?;
    let inv = c.create_invite(Some(hours * 3600), None).await?;
    let link = c.invite_link(&inv.code);
    if json_out {
        out!(
            "{}",
            json!({"code": inv.code, "link": link.to_string(), "expires_at": inv.expires_at})
        );
    } else {
        let link = link.to_string();
        if let Ok(qr) = qrcode::QrCode::new(link.as_bytes()) {
            out!(
                "{}",
                qr.render::<qrcode::render::unicode::Dense1x2>()
                    .quiet_zone(true)
                    .build()
            );
        }
        out!("{link}");
        out!(
            "It works once, until {} (in {}). Send the link, or show the code to scan.",
            words::local_time(inv.expires_at),
            words::duration(inv.expires_at.saturating_sub(onionchat_proto::now_ms()))
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    // The terminal: nothing from Arti, and errors only from the client
    // core (its refusals reach the user as "⚠ refused: …" lines at the end
    // of the command); the rest goes to ~/.cache/onionchat/onionchat-cli.log.
    onionchat_client::logging::init(
        "onionchat-cli.log",
        "off,onionchat=warn,onionchat_client=error",
    );
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(run(cli));
    warn_user();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", say(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error in words (see `onionchat_client::words::explain`).
fn say(e: &anyhow::Error) -> String {
    match e.downcast_ref::<onionchat_client::ClientError>() {
        Some(c) => words::explain(c),
        None => format!("{e:#}"),
    }
}

/// The size of the file at `path`, or why it cannot be sent, naming it.
fn file_to_send(path: &Path) -> anyhow::Result<u64> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "there is no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "you may not read it".to_string(),
            _ => e.to_string(),
        };
        anyhow::anyhow!("cannot send {}: {why}", path.display())
    })?;
    if meta.is_dir() {
        anyhow::bail!(
            "cannot send {}: it is a folder; send the files in it one by one, or zip it first",
            path.display()
        );
    }
    Ok(meta.len())
}

#[cfg(test)]
mod tests {
    use super::show::clean;

    #[test]
    fn terminal_control_and_bidi_characters_are_shown_not_obeyed() {
        assert_eq!(clean("hi\nthere\tok"), "hi\nthere\tok");
        assert_eq!(clean("\u{1b}[2Jgone"), "\\u{1b}[2Jgone");
        assert_eq!(clean("a\rb"), "a\\u{d}b");
        assert_eq!(clean("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(clean("abc\u{202e}gpj.exe"), "abc\\u{202e}gpj.exe");
        assert_eq!(clean("Grüße 👋"), "Grüße 👋");
    }
}
