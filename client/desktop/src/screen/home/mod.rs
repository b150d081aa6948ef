//! The signed-in window: the sidebar (connection state, the owner's box,
//! friend requests, friends and groups) and the main pane (a chat, or a
//! panel: verification, the owner's view, adding a friend, a new group).
//!
//! This file holds the state, the messages and `update`; the rest is by
//! part of the window: [`events`] (what the client core reports),
//! [`chat_pane`] (the open chat), [`transfers`] (files), [`panels`]
//! (verification and the owner's view), [`sidebar`] and [`view`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use iced::futures::stream::{self, StreamExt};
use iced::widget::{button, column, container, scrollable, text, text_editor, text_input};
use iced::{Center, Element, Fill, Task};
use jiff::tz::TimeZone;
use onionchat_client::live::LiveHandle;
use onionchat_client::{Client, ClientEvent, ConnectionState, Contact, Incoming};
use onionchat_proto::wire::{
    FileId, Friend, FriendRequest, FriendRequestState, Invite, MessageContent, MsgId, NodeStatus,
    ReadMarkers, RequestId, Room, RoomId, RoomKind, UserId,
};

use super::chat::{self, ChatView, Timeline};
use super::owner::{self, Owner};
use super::verify::{self, KeyChange, Verify};
use crate::session::{self, Opened};
use crate::style;

mod chat_pane;
mod events;
mod family;
mod panels;
mod settings;
mod sidebar;
mod transfers;
mod view;

use transfers::Transfer;
pub use transfers::TransferFailed;

/// What the owner's view shows: status, invites, members.
pub type OwnerData = (
    NodeStatus,
    Vec<Invite>,
    Vec<onionchat_proto::wire::UserInfo>,
);

/// Where the box connection stands, as the window shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    /// Tor is bootstrapping (percent, what it does).
    Tor(u8, String),
    /// Connecting to the box.
    Connecting,
    /// Live.
    Connected,
    /// Lost; the core retries on its own.
    Offline,
}

/// What the main pane shows.
enum Pane {
    Welcome,
    Chat(RoomId),
    Verify(Box<Verify>),
    Owner,
    AddFriend,
    NewGroup,
    Members(RoomId),
    Jump,
    Settings,
    Search,
    Photo(Box<family::Photo>),
}

/// Friends, requests and rooms, loaded together.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    friends: Vec<(Friend, bool)>,
    incoming: Vec<FriendRequest>,
    outgoing: Vec<FriendRequest>,
    rooms: Vec<Room>,
}

/// Messages of the home screen.
#[derive(Debug, Clone)]
pub enum Message {
    /// Something the client core reported.
    Event(ClientEvent),
    /// Tor bootstrap progress.
    Tor(u8, String),
    /// Friends, requests and rooms arrived.
    Loaded(Result<Overview, String>),
    /// The owner's status, invites and members arrived; `Err(true)` when
    /// the box says we are not its owner, `Err(false)` when it could not
    /// be asked.
    OwnerLoaded(Result<Box<OwnerData>, bool>),
    /// Reload everything now.
    Retry,
    /// Open a room.
    OpenRoom(RoomId),
    /// Open the owner's view.
    OpenOwner,
    /// Open "add a friend".
    OpenAddFriend,
    /// Open "new group".
    OpenNewGroup,
    /// Open a group's members.
    OpenMembers(RoomId),
    /// Open verification for a contact.
    OpenVerify(String),
    /// Jump to a chat by name (Ctrl+K).
    OpenJump,
    /// The jump box's text.
    JumpQuery(String),
    /// Enter in the jump box: open the first match.
    JumpGo,
    /// A page of history arrived (room, `after`).
    History(RoomId, u64, Result<Vec<Incoming>, String>),
    /// Read markers arrived.
    Markers(Result<ReadMarkers, String>),
    /// The chat view.
    Chat(chat::Message),
    /// A send finished.
    Sent(RoomId, Result<u64, String>),
    /// "Add a friend" name typed.
    FriendName(String),
    /// Send the friend request.
    SendRequest,
    /// Accept a request.
    Accept(Box<FriendRequest>),
    /// Decline a request.
    Decline(RequestId),
    /// Group member names typed.
    GroupNames(String),
    /// Create the group.
    CreateGroup,
    /// Members to add/remove typed.
    MemberNames(String),
    /// Add the typed members to the group.
    AddMembers(RoomId),
    /// Remove the typed members from the group.
    RemoveMembers(RoomId),
    /// Leave the group.
    Leave(RoomId),
    /// An action finished: `Ok(text)` is shown as a note, `Err` as an error.
    Done(Result<String, String>),
    /// A friend request went out (the typed name is cleared) or was
    /// refused (the name stays, to be corrected).
    RequestSent(Result<String, String>),
    /// A room action finished: open the room.
    RoomDone(Result<Room, String>),
    /// The verification data arrived; a changed key comes back as the
    /// change itself.
    VerifyLoaded(Result<(Contact, String, String), VerifyRefused>),
    /// The verification panel.
    Verify(verify::Message),
    /// A new key was accepted.
    KeyAccepted(Result<Contact, String>),
    /// After a refused "accept the new key": whether the box now serves
    /// the key the contact book has for this user again.
    KeyRechecked(UserId, bool),
    /// The owner panel.
    Owner(owner::Message),
    /// An invite was made (its link).
    InviteMade(Result<String, String>),
    /// Path for a file to send typed.
    FilePath(String),
    /// Send the file at the typed path.
    SendFile,
    /// Upload/download progress (done, total).
    Transfer(u64, u64),
    /// A file transfer ended.
    TransferDone(Result<String, TransferFailed>),
    /// Stop the file transfer under way.
    CancelTransfer,
    /// Dismiss the note or error.
    Dismiss,
    /// A file was dropped on the window: send it to the open chat.
    Dropped(PathBuf),
    /// Choose a file to send with the system's file dialog.
    PickFile,
    /// What the file dialog returned.
    FilePicked(Option<PathBuf>),
    /// Choose where to export the profile with the system's file dialog.
    PickExport,
    /// What the save dialog returned.
    ExportPicked(Option<PathBuf>),
    /// Put text on the clipboard (an invite link, a safety number).
    Copy(String, &'static str),
    /// Open the settings page.
    OpenSettings,
    /// A setting was changed there.
    ChangeSettings(crate::settings::Settings),
    /// Close the settings page.
    CloseSettings,
    /// The bridges panel (on the settings page).
    Bridges(crate::screen::bridges::Message),
    /// The bridges changed, and Tor was told (or could not be).
    BridgesApplied(Result<(), String>),
    /// A reaction, deletion or rename finished: `Ok` with words to show
    /// (or none), `Err` in words.
    Acted(Result<String, String>),
    /// A photo for the viewer arrived.
    PhotoReady(Result<Box<family::Photo>, String>),
    /// Save the photo in the viewer.
    SavePhoto,
    /// Open the search pane (Ctrl+F).
    OpenSearch,
    /// What is typed in the search box.
    SearchQuery(String),
    /// Enter in the search box.
    SearchGo,
    /// Search results (with what the box had not shown yet).
    SearchFound(Result<Vec<onionchat_client::search::Found>, String>),
    /// A group's new name typed.
    GroupName(String),
    /// Rename the group to what is typed.
    RenameGroup(RoomId),
    /// Lock the profile (back to the start screen).
    Lock,
    /// Export path typed.
    ExportPath(String),
    /// Export the profile to the typed path.
    Export,
}

/// Why the safety number could not be shown.
#[derive(Debug, Clone)]
pub enum VerifyRefused {
    /// Their key changed (account, what changed).
    KeyChanged(UserId, KeyChange),
    /// Anything else, in words.
    Other(String),
}

/// What the app must do after an update.
pub enum Outcome {
    /// Nothing.
    None,
    /// Lock: back to the start screen.
    Lock,
    /// The user changed the settings: apply and keep them.
    Settings(crate::settings::Settings),
    /// Show a desktop notification (title, body).
    Notify(String, String),
}

/// The home screen's state.
pub struct Home {
    profile: String,
    client: Arc<Client>,
    me: UserId,
    username: String,
    live: Option<LiveHandle>,
    link: Link,
    overview: Overview,
    loaded: bool,
    online: HashSet<UserId>,
    timelines: HashMap<RoomId, Timeline>,
    pane: Pane,
    composer: text_editor::Content,
    sending: bool,
    friend_name: String,
    group_names: String,
    member_names: String,
    jump: String,
    file_path: String,
    /// The file transfer under way: (done, total) and its cancel switch.
    transfer: Option<(u64, u64)>,
    cancel: Arc<std::sync::atomic::AtomicBool>,
    /// The transfer under way, and one the lost connection interrupted.
    current_transfer: Option<Transfer>,
    interrupted: Option<Transfer>,
    export_path: String,
    key_changes: BTreeMap<u64, KeyChange>,
    owner: Option<Owner>,
    /// The box said we are not its owner: stop asking for its status.
    not_owner: bool,
    note: Option<Result<String, String>>,
    /// The note is a failed refresh's error (the next good one clears it;
    /// every other error stays until dismissed).
    note_from_load: bool,
    downloads_dir: PathBuf,
    tz: TimeZone,
    /// Shown for a room whose timeline is not there yet.
    no_timeline: Timeline,
    /// The app's settings as the settings page shows them.
    settings: crate::settings::Settings,
    /// "Tor is blocked here": the app's bridges, on the settings page.
    bridges: crate::screen::bridges::BridgesPanel,
    places: session::Places,
    /// The message whose actions are shown.
    selected: Option<u64>,
    /// The message being answered.
    replying: Option<chat::Replying>,
    /// What is typed in the search box, and what it found.
    search: String,
    found: Vec<onionchat_client::search::Found>,
    /// A group's new name, as typed in its members pane.
    group_name: String,
}

/// A core result with its error in words (the CLI says the same).
fn err<T>(r: onionchat_client::Result<T>) -> Result<T, String> {
    r.map_err(|e| onionchat_client::words::explain(&e))
}

impl Home {
    /// Go online with an unlocked profile: start the live session and load
    /// friends, requests and rooms.
    pub fn start(
        opened: Opened,
        places: session::Places,
        downloads_dir: PathBuf,
        settings: crate::settings::Settings,
    ) -> (Home, Task<Message>) {
        let Opened {
            profile,
            client,
            tor_progress,
        } = opened;
        // Subscribe before the live session starts, so its first
        // "connecting" is not missed.
        let events = session::events(&client).map(Message::Event);
        let live = client.start_live();
        let mut feeds = vec![events.boxed()];
        let tor_progress = tor_progress.lock().ok().and_then(|mut p| p.take());
        if let Some(rx) = tor_progress {
            feeds.push(
                session::receiver_stream(rx)
                    .map(|(p, w)| Message::Tor(p, w))
                    .boxed(),
            );
        }
        let home = Home {
            profile,
            me: client.me(),
            username: client.username(),
            client,
            live: Some(live),
            link: Link::Connecting,
            overview: Overview::default(),
            loaded: false,
            online: HashSet::new(),
            timelines: HashMap::new(),
            pane: Pane::Welcome,
            composer: text_editor::Content::new(),
            sending: false,
            friend_name: String::new(),
            group_names: String::new(),
            member_names: String::new(),
            jump: String::new(),
            file_path: String::new(),
            transfer: None,
            cancel: Arc::default(),
            current_transfer: None,
            interrupted: None,
            export_path: String::new(),
            key_changes: BTreeMap::new(),
            owner: None,
            not_owner: false,
            note: None,
            note_from_load: false,
            downloads_dir,
            tz: TimeZone::try_system().unwrap_or(TimeZone::UTC),
            no_timeline: Timeline::default(),
            settings,
            bridges: crate::screen::bridges::BridgesPanel::new(places.clone()),
            places,
            selected: None,
            replying: None,
            search: String::new(),
            found: Vec::new(),
            group_name: String::new(),
        };
        let task = Task::batch([Task::run(stream::select_all(feeds), |m| m), home.load()]);
        (home, task)
    }

    /// Name of the open profile.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// The connection as shown.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The client (tests look behind the window with it).
    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// The open room, if a chat is open.
    pub fn current_room(&self) -> Option<RoomId> {
        match self.pane {
            Pane::Chat(r) => Some(r),
            _ => None,
        }
    }

    /// The timeline of a room, if loaded.
    pub fn timeline(&self, room: RoomId) -> Option<&Timeline> {
        self.timelines.get(&room)
    }

    /// Whether the overview (friends, rooms) has loaded.
    pub fn loaded(&self) -> bool {
        self.loaded
    }

    fn load(&self) -> Task<Message> {
        let c = self.client.clone();
        let overview = Task::perform(
            async move {
                let friends = err(c.friends_checked().await)?;
                let requests = err(c.friend_requests().await)?;
                let rooms = err(c.rooms().await)?;
                let pending = |r: &FriendRequest| r.state == FriendRequestState::Pending;
                Ok(Overview {
                    friends,
                    incoming: requests.incoming.into_iter().filter(pending).collect(),
                    outgoing: requests.outgoing.into_iter().filter(pending).collect(),
                    rooms,
                })
            },
            Message::Loaded,
        );
        if self.not_owner {
            return overview;
        }
        let c = self.client.clone();
        let owner = Task::perform(
            async move {
                let forbidden = |e: onionchat_client::ClientError| {
                    e.code() == Some(onionchat_proto::wire::ErrorCode::Forbidden)
                };
                let status = c.node_status().await.map_err(forbidden)?;
                let mut invites = c.invites().await.map_err(forbidden)?;
                invites.sort_by_key(|i| std::cmp::Reverse(i.created_at));
                let members = c.members().await.map_err(forbidden)?;
                Ok(Box::new((status, invites, members)))
            },
            Message::OwnerLoaded,
        );
        Task::batch([overview, owner])
    }

    /// Load the page of history after `after`: up to [`chat::PAGE`]
    /// messages, or up to the oldest one shown. The node may cut a page
    /// short (pages are capped in bytes): then the rest is fetched too, so
    /// no gap is left between this page and what is shown.
    fn load_history(&mut self, room: RoomId, after: u64) -> Task<Message> {
        let t = self.timelines.entry(room).or_default();
        t.loading = true;
        let until = if t.is_empty() {
            after + u64::from(chat::PAGE)
        } else {
            t.oldest_seq().saturating_sub(1)
        };
        let c = self.client.clone();
        Task::perform(
            async move {
                let mut out = Vec::new();
                let mut from = after;
                loop {
                    let (items, more) = err(c.history(room, from, chat::PAGE).await)?;
                    let last = items.iter().map(Incoming::seq).max();
                    out.extend(items);
                    match last {
                        Some(last) if more && last < until => from = last,
                        _ => return Ok(out),
                    }
                }
            },
            move |r| Message::History(room, after, r),
        )
    }

    fn room(&self, id: RoomId) -> Option<&Room> {
        self.overview.rooms.iter().find(|r| r.id == id)
    }

    /// The other person in a 1:1 room: the other member of its verified
    /// roster (the node's friend list only says where to look).
    fn peer(&self, room: RoomId) -> Option<&(Friend, bool)> {
        let roster = self.client.verified_roster(room)?;
        if roster.body.kind != onionchat_proto::wire::RoomKind::Direct {
            return None;
        }
        let me = self.client.me();
        let other = roster.body.members.iter().find(|m| m.user != me)?;
        self.overview.friends.iter().find(|(f, _)| {
            f.room_id == room && f.user.user_id == other.user && f.user.username == other.username
        })
    }

    /// Names of a room's members as its members signed them.
    fn member_names(&self, room: RoomId) -> Vec<String> {
        if let Some(r) = self.client.verified_roster(room) {
            return r.body.members.iter().map(|m| m.username.clone()).collect();
        }
        self.room(room)
            .map(|r| r.members.iter().map(|u| self.client.name_of(*u)).collect())
            .unwrap_or_default()
    }

    fn title(&self, room: RoomId) -> String {
        if let Some((f, _)) = self.peer(room) {
            return f.user.username.clone();
        }
        if let Some(name) = self.client.group_name(room) {
            return name;
        }
        let others: Vec<String> = self
            .member_names(room)
            .into_iter()
            .filter(|n| *n != self.username)
            .collect();
        if others.is_empty() {
            "Group (only you)".into()
        } else {
            format!("Group: {}", others.join(", "))
        }
    }

    /// Under the title: "1:1 chat with bob — end-to-end encrypted" for a
    /// contact's chat, everyone in it for a group ("you, bob, carol").
    fn subtitle(&self, room: RoomId) -> String {
        if let Some((f, _)) = self.peer(room) {
            return format!("1:1 chat with {} — end-to-end encrypted", f.user.username);
        }
        let names: Vec<String> = self
            .member_names(room)
            .into_iter()
            .map(|n| if n == self.username { "you".into() } else { n })
            .collect();
        names.join(", ")
    }

    /// Why sending to `room` is blocked, if it is.
    fn blocked(&self, room: RoomId) -> Option<String> {
        if let Some(r) = self.client.verified_roster(room) {
            for m in &r.body.members {
                if let Some(change) = self.key_changes.get(&m.user.0) {
                    return Some(format!(
                        "⚠ {}'s key changed. Sending is paused until you check it: open Verify next to {} in the sidebar.",
                        change.username, change.username
                    ));
                }
            }
        }
        if let Some((f, ok)) = self.peer(room)
            && (!ok || self.key_changes.contains_key(&f.user.user_id.0))
        {
            let name = &f.user.username;
            return Some(format!(
                "⚠ {name}'s key changed. Sending is paused until you check it: open Verify next to {name} in the sidebar."
            ));
        }
        None
    }

    /// The name typed into "Add a friend".
    pub fn friend_name(&self) -> &str {
        &self.friend_name
    }

    fn note(&mut self, r: Result<String, String>) {
        self.note = Some(r);
        self.note_from_load = false;
    }

    fn open_room(&mut self, room: RoomId) -> Task<Message> {
        // Back from the photo viewer, the chat is as it was left.
        if self.current_room() != Some(room)
            && !matches!(&self.pane, Pane::Photo(p) if p.room == room)
        {
            self.composer = text_editor::Content::new();
            self.file_path.clear();
            self.selected = None;
            self.replying = None;
        }
        self.pane = Pane::Chat(room);
        let t = self.timelines.entry(room).or_default();
        t.unread = 0;
        let mut tasks = vec![];
        if !t.loaded && !t.loading {
            let last = self
                .overview
                .rooms
                .iter()
                .find(|r| r.id == room)
                .map(|r| r.last_seq)
                .unwrap_or(0)
                .max(t.last_seq());
            tasks.push(self.load_history(room, last.saturating_sub(u64::from(chat::PAGE))));
        }
        let c = self.client.clone();
        tasks.push(Task::perform(
            async move { err(c.markers(room).await) },
            Message::Markers,
        ));
        tasks.push(self.mark_read(room));
        Task::batch(tasks)
    }

    fn mark_read(&self, room: RoomId) -> Task<Message> {
        let Some(seq) = self
            .timelines
            .get(&room)
            .map(Timeline::last_seq)
            .filter(|s| *s > 0)
        else {
            return Task::none();
        };
        let c = self.client.clone();
        Task::future(async move {
            // Read markers are a courtesy to the sender: a failure is not
            // worth interrupting the user for.
            if let Err(e) = c.mark_read(room, seq).await {
                tracing::debug!(error = %e, "could not mark read");
            }
        })
        .discard()
    }

    /// Handle a message.
    pub fn update(&mut self, message: Message) -> (Task<Message>, Outcome) {
        let task = match message {
            Message::Event(ev) => return self.on_event(ev),
            Message::Tor(p, what) => {
                if !matches!(self.link, Link::Connected) {
                    self.link = Link::Tor(p, what);
                }
                Task::none()
            }
            Message::Loaded(Ok(o)) => {
                self.overview = o;
                self.loaded = true;
                // A failed load's error is over now; any other error (a
                // refused request, what the client refused from the box)
                // stays until the user dismisses it or does it again.
                if self.note_from_load {
                    self.note = None;
                    self.note_from_load = false;
                }
                Task::none()
            }
            Message::Loaded(Err(e)) => {
                self.note(Err(e));
                self.note_from_load = true;
                Task::none()
            }
            Message::OwnerLoaded(Ok(data)) => {
                let (status, invites, members) = *data;
                let owner = self.owner.get_or_insert_with(Owner::default);
                owner.status = Some(status);
                owner.invites = invites;
                owner.members = members;
                owner.busy = false;
                Task::none()
            }
            Message::OwnerLoaded(Err(forbidden)) => {
                self.not_owner = forbidden;
                Task::none()
            }
            Message::Retry => self.load(),
            Message::OpenRoom(room) => self.open_room(room),
            Message::OpenOwner => {
                self.pane = Pane::Owner;
                self.load()
            }
            Message::OpenAddFriend => {
                self.pane = Pane::AddFriend;
                Task::none()
            }
            Message::OpenNewGroup => {
                self.pane = Pane::NewGroup;
                Task::none()
            }
            Message::OpenMembers(room) => {
                self.pane = Pane::Members(room);
                self.member_names.clear();
                self.group_name = self.client.group_name(room).unwrap_or_default();
                Task::none()
            }
            Message::OpenJump => {
                self.pane = Pane::Jump;
                self.jump.clear();
                iced::widget::operation::focus("jump")
            }
            Message::JumpQuery(q) => {
                self.jump = q;
                Task::none()
            }
            Message::JumpGo => match self.jump_matches().first() {
                Some((room, _)) => {
                    let room = *room;
                    self.open_room(room)
                }
                None => Task::none(),
            },
            Message::OpenVerify(name) => return self.open_verify(name),
            Message::VerifyLoaded(r) => self.verify_loaded(r),
            Message::Verify(m) => self.on_verify(m),
            Message::KeyAccepted(Ok(contact)) => {
                self.key_changes.remove(&contact.user_id.0);
                self.note(Ok(format!(
                    "You now trust {}'s new key. Compare the safety number when you can.",
                    contact.username
                )));
                let name = contact.username.clone();
                Task::batch([self.load(), Task::done(Message::OpenVerify(name))])
            }
            Message::KeyAccepted(Err(e)) => {
                self.note(Err(e));
                Task::none()
            }
            Message::KeyRechecked(user, fine) => {
                if fine {
                    self.key_changes.remove(&user.0);
                }
                Task::none()
            }
            Message::Owner(m) => self.on_owner(m),
            Message::InviteMade(Ok(link)) => {
                let owner = self.owner.get_or_insert_with(Owner::default);
                owner.busy = false;
                owner.show_invite(link);
                self.load()
            }
            Message::InviteMade(Err(e)) => {
                if let Some(o) = &mut self.owner {
                    o.busy = false;
                }
                self.note(Err(e));
                Task::none()
            }
            Message::History(room, after, Ok(items)) => {
                let t = self.timelines.entry(room).or_default();
                t.add_page(items, after);
                if self.current_room() == Some(room) {
                    self.mark_read(room)
                } else {
                    Task::none()
                }
            }
            Message::History(room, _, Err(e)) => {
                self.timelines.entry(room).or_default().loading = false;
                self.note(Err(e));
                Task::none()
            }
            Message::Markers(Ok(m)) => {
                let t = self.timelines.entry(m.room_id).or_default();
                for s in m.members {
                    t.read.insert(s.user, s.read_seq);
                    t.delivered.insert(s.user, s.delivered_seq);
                }
                Task::none()
            }
            Message::Markers(Err(_)) => Task::none(),
            Message::Chat(m) => self.on_chat(m),
            Message::Sent(room, r) => {
                self.sending = false;
                match r {
                    Ok(seq) => {
                        let t = self.timelines.entry(room).or_default();
                        // Our own message comes back through the live
                        // session; if it went over HTTP, fetch it.
                        if seq > t.last_seq() {
                            let c = self.client.clone();
                            let after = t.last_seq();
                            Task::perform(
                                async move {
                                    err(c.history(room, after, chat::PAGE).await.map(|(i, _)| i))
                                },
                                move |r| Message::History(room, after, r),
                            )
                        } else {
                            Task::none()
                        }
                    }
                    Err(e) => {
                        self.note(Err(format!("Not sent: {e}")));
                        Task::none()
                    }
                }
            }
            Message::FriendName(s) => {
                self.friend_name = s;
                Task::none()
            }
            Message::SendRequest => {
                let name = self.friend_name.trim().to_string();
                if name.is_empty() {
                    self.note(Err("Type the name of the person to add.".into()));
                    return (Task::none(), Outcome::None);
                }
                let c = self.client.clone();
                Task::perform(
                    async move {
                        err(c.send_friend_request(&name).await)
                            .map(|_| format!("Friend request sent to {name}."))
                    },
                    Message::RequestSent,
                )
            }
            Message::Accept(req) => {
                let c = self.client.clone();
                Task::perform(
                    async move { err(c.accept_friend_request(&req).await) },
                    Message::RoomDone,
                )
            }
            Message::Decline(id) => {
                let c = self.client.clone();
                Task::perform(
                    async move {
                        err(c.decline_friend_request(id).await)
                            .map(|_| "Request declined.".to_string())
                    },
                    Message::Done,
                )
            }
            Message::GroupNames(s) => {
                self.group_names = s;
                Task::none()
            }
            Message::CreateGroup => {
                let names = split_names(&self.group_names);
                if names.is_empty() {
                    self.note(Err("Name at least one friend for the group.".into()));
                    return (Task::none(), Outcome::None);
                }
                self.group_names.clear();
                let c = self.client.clone();
                Task::perform(
                    async move {
                        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                        err(c.create_group(&refs).await)
                    },
                    Message::RoomDone,
                )
            }
            Message::MemberNames(s) => {
                self.member_names = s;
                Task::none()
            }
            Message::AddMembers(_) | Message::RemoveMembers(_)
                if split_names(&self.member_names).is_empty() =>
            {
                self.note(Err("Type one or more names, separated by commas.".into()));
                Task::none()
            }
            Message::AddMembers(room) => self.change_members(room, true),
            Message::RemoveMembers(room) => self.change_members(room, false),
            Message::Leave(room) => {
                let c = self.client.clone();
                self.pane = Pane::Welcome;
                Task::perform(
                    async move { err(c.leave(room).await).map(|_| "You left the group.".to_string()) },
                    Message::Done,
                )
            }
            Message::Done(r) => {
                self.note(r);
                self.load()
            }
            Message::RequestSent(r) => {
                if r.is_ok() {
                    self.friend_name.clear();
                }
                self.note(r);
                self.load()
            }
            Message::RoomDone(Ok(room)) => {
                let id = room.id;
                if !self.overview.rooms.iter().any(|r| r.id == id) {
                    self.overview.rooms.push(room);
                }
                Task::batch([self.load(), self.open_room(id)])
            }
            Message::RoomDone(Err(e)) => {
                self.note(Err(e));
                self.load()
            }
            Message::FilePath(s) => {
                self.file_path = s;
                Task::none()
            }
            Message::SendFile => self.send_file(),
            Message::Dropped(path) | Message::FilePicked(Some(path)) => {
                if self.current_room().is_none() {
                    self.note(Err(
                        "Open a chat first, then drop the file on it to send it.".into(),
                    ));
                    return (Task::none(), Outcome::None);
                }
                self.file_path = path.display().to_string();
                self.send_file()
            }
            Message::PickFile => Task::perform(
                crate::pick::open_file("Send a file".into(), None),
                Message::FilePicked,
            ),
            Message::FilePicked(None) | Message::ExportPicked(None) => Task::none(),
            Message::PickExport => Task::perform(
                crate::pick::save_file(
                    "Export this profile".into(),
                    format!("{}.onionchat", self.profile),
                ),
                Message::ExportPicked,
            ),
            Message::ExportPicked(Some(path)) => {
                self.export_path = path.display().to_string();
                return self.update(Message::Export);
            }
            Message::OpenSettings => {
                self.pane = Pane::Settings;
                Task::none()
            }
            Message::CloseSettings => {
                self.pane = Pane::Welcome;
                Task::none()
            }
            Message::Bridges(m) => self.bridges_update(m),
            Message::BridgesApplied(r) => {
                self.note(r.map(|()| "Tor is connecting again with the new settings.".into()));
                Task::none()
            }
            Message::ChangeSettings(s) => {
                self.settings = s;
                return (Task::none(), Outcome::Settings(s));
            }
            Message::Copy(value, what) => {
                self.note(Ok(format!("{what} copied.")));
                iced::clipboard::write(value)
            }
            Message::Transfer(done, total) => {
                self.transfer = Some((done, total));
                Task::none()
            }
            Message::TransferDone(r) => {
                self.transfer = None;
                let cancelled = self.cancel.swap(false, std::sync::atomic::Ordering::SeqCst);
                let transfer = self.current_transfer.take();
                match r {
                    Ok(done) => self.note(Ok(done)),
                    Err(_) if cancelled => self.note(Ok("Transfer cancelled.".into())),
                    Err(f) if f.connection && transfer.is_some() => {
                        self.interrupted = transfer;
                        self.note(Err(
                            "The connection to the box was lost; the transfer goes on when it is back."
                                .into(),
                        ));
                    }
                    Err(f) => self.note(Err(f.why)),
                }
                Task::none()
            }
            Message::CancelTransfer => {
                self.cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                Task::none()
            }
            Message::Dismiss => {
                self.note = None;
                Task::none()
            }
            Message::Acted(Ok(words)) => {
                if !words.is_empty() {
                    self.note(Ok(words));
                }
                Task::none()
            }
            Message::Acted(Err(e)) => {
                self.note(Err(e));
                Task::none()
            }
            Message::PhotoReady(Ok(p)) => {
                self.pane = Pane::Photo(p);
                Task::none()
            }
            Message::PhotoReady(Err(e)) => {
                self.note(Err(e));
                Task::none()
            }
            Message::SavePhoto => match &self.pane {
                Pane::Photo(p) => {
                    let (room, file_id) = (p.room, p.file_id);
                    self.save_file(room, file_id)
                }
                _ => Task::none(),
            },
            m @ (Message::OpenSearch
            | Message::SearchQuery(_)
            | Message::SearchGo
            | Message::SearchFound(_)) => self.search_update(m),
            Message::GroupName(n) => {
                self.group_name = n;
                Task::none()
            }
            Message::RenameGroup(room) => self.rename(room),
            Message::Lock => return (Task::none(), Outcome::Lock),
            Message::ExportPath(s) => {
                self.export_path = s;
                Task::none()
            }
            Message::Export => {
                let path = PathBuf::from(self.export_path.trim());
                if path.as_os_str().is_empty() {
                    // No path typed: ask with the system's save dialog.
                    return self.update(Message::PickExport);
                } else {
                    let r = err(self.client.export(&path)).map(|_| {
                        format!(
                            "Profile exported to {} — it is protected by your passphrase. Import it on the other computer.",
                            path.display()
                        )
                    });
                    self.note(r);
                }
                Task::none()
            }
        };
        (task, Outcome::None)
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        // Stop the live session (it saves the sync cursors).
        self.live.take();
    }
}

fn panel<'a>(title: &'a str, body: impl Into<Element<'a, Message>>) -> Element<'a, Message> {
    container(column![text(title).size(20), body.into()].spacing(12))
        .padding(16)
        .width(Fill)
        .into()
}

/// A panel with one text field and its button (Enter in the field is the
/// button): the field's (placeholder, widget id, value).
fn one_field_form<'a>(
    title: &'a str,
    prompt: &'a str,
    (placeholder, id, value): (&'a str, &'static str, &'a str),
    on_input: fn(String) -> Message,
    (label, submit): (&'a str, Message),
) -> Element<'a, Message> {
    panel(
        title,
        column![
            text(prompt),
            text_input(placeholder, value)
                .id(id)
                .on_input(on_input)
                .on_submit(submit.clone()),
            button(label).on_press(submit),
        ]
        .spacing(8),
    )
}

/// After the chat's window slid by half its length, the line the reader
/// was at is in the middle of what is drawn: scroll there, so sliding does
/// not jump over anything.
fn keep_place(room: RoomId) -> Task<Message> {
    iced::widget::operation::snap_to(
        format!("timeline-{room}"),
        iced::widget::scrollable::RelativeOffset { x: 0.0, y: 0.5 },
    )
}

/// "bob, carol  dave" → ["bob", "carol", "dave"].
fn split_names(s: &str) -> Vec<String> {
    s.split([',', ' ', ';'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_split_on_commas_and_spaces() {
        assert_eq!(
            super::split_names(" bob, carol  dave;"),
            vec!["bob", "carol", "dave"]
        );
        assert!(super::split_names(" , ").is_empty());
    }
}
