//! Every `onionchat` subcommand against the real node binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use onionchat_tests::{Node, bin_path, make_file, sha256_file};

struct User {
    dir: PathBuf,
}

impl User {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin_path("onionchat"));
        c.arg("--profile-dir")
            .arg(&self.dir)
            .args(args)
            .env("ONIONCHAT_PASSPHRASE", "correct horse battery staple");
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().expect("run onionchat");
        assert!(
            out.status.success(),
            "onionchat {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }

    fn fail(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().expect("run onionchat");
        assert!(
            !out.status.success(),
            "onionchat {args:?} should have failed"
        );
        assert!(!out.stderr.is_empty(), "a failure says why");
        out
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        serde_json::from_str(self.run(&a).trim()).expect("json output")
    }
}

fn user(tmp: &Path, name: &str) -> User {
    User {
        dir: tmp.join(name),
    }
}

/// The invite link in what `onionchat invite` printed.
fn link_in(out: &str) -> &str {
    out.lines()
        .map(str::trim)
        .find(|l| l.starts_with("onionchat://"))
        .unwrap_or_else(|| panic!("no link in {out}"))
}

/// The file id in what `onionchat file send` printed ("Sent x (file id ID)").
fn file_id_in(out: &str) -> &str {
    out.trim()
        .rsplit(' ')
        .next()
        .expect("id")
        .trim_end_matches(')')
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// What people read: words, not numbers and codes; errors that name the
/// thing and the next step; a join that fails can be retried.
#[test]
fn the_cli_speaks_to_people() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob) = (user(tmp.path(), "ann"), user(tmp.path(), "bob"));
    ann.run(&[
        "join",
        node.owner_invite.as_deref().expect("invite"),
        "--username",
        "ann",
    ]);

    // The invite: a QR code, the link, and when it stops working.
    let inv = ann.run(&["invite", "--hours", "48"]);
    assert!(inv.contains('█') || inv.contains('▀'), "a QR code: {inv}");
    assert!(
        inv.contains("It works once, until") && inv.contains("(in 2 days)"),
        "{inv}"
    );

    // A name that is taken: the join fails, and works with another name.
    let e = bob.fail(&["join", link_in(&inv), "--username", "ann"]);
    assert!(stderr(&e).contains("Pick another name"), "{}", stderr(&e));
    assert!(!bob.dir.exists(), "a failed join leaves no profile behind");
    bob.run(&["join", link_in(&inv), "--username", "bob"]);

    // A too-short passphrase is refused before any key is made.
    let shorty = user(tmp.path(), "shorty");
    let e = shorty
        .cmd(&["init", "--username", "shorty"])
        .env("ONIONCHAT_PASSPHRASE", "short")
        .output()
        .expect("run");
    assert!(!e.status.success() && stderr(&e).contains("at least 8 characters"));
    assert!(!shorty.dir.exists());

    let login = ann.run(&["login"]);
    assert!(
        login.contains("The session lasts until") && !login.contains("unix time"),
        "{login}"
    );
    let e = ann.fail(&["friends", "add", "nobody"]);
    assert!(
        stderr(&e).contains("nobody") && stderr(&e).contains("Check the spelling"),
        "{}",
        stderr(&e)
    );
    ann.run(&["friends", "add", "bob"]);
    bob.run(&["friends", "accept", "ann"]);

    // send reads standard input; an empty message is not sent.
    let mut child = ann
        .cmd(&["send", "bob"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("send");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), b"from a pipe\n")
        .expect("write");
    assert!(child.wait_with_output().expect("send").status.success());
    let e = ann.fail(&["send", "bob", "   "]);
    assert!(
        stderr(&e).contains("the message is empty"),
        "{}",
        stderr(&e)
    );
    let hist = bob.run(&["history", "ann"]);
    assert!(hist.contains("ann: from a pipe"), "{hist}");
    assert_eq!(hist.lines().count(), 1, "{hist}");

    // Files: errors name the file; sizes in words; no silent overwrite.
    let e = ann.fail(&["file", "send", "bob", "nothere.jpg"]);
    assert!(
        stderr(&e).contains("cannot send nothere.jpg: there is no such file"),
        "{}",
        stderr(&e)
    );
    let e = ann.fail(&["file", "send", "bob", tmp.path().to_str().expect("path")]);
    assert!(stderr(&e).contains("it is a folder"), "{}", stderr(&e));
    let src = tmp.path().join("photo.jpg");
    make_file(&src, 1_500_000, 3);
    let sent = ann.run(&["file", "send", "bob", src.to_str().expect("path")]);
    let id = file_id_in(&sent);
    let hist = bob.run(&["history", "ann"]);
    assert!(hist.contains("sent a file: photo.jpg (1.5 MB;"), "{hist}");
    let dest = tmp.path().join("saved.jpg");
    std::fs::write(&dest, b"keep me").expect("write");
    let d = dest.to_str().expect("path");
    let e = bob.fail(&["file", "get", "ann", id, d]);
    assert!(stderr(&e).contains("already exists") && stderr(&e).contains("--force"));
    assert_eq!(std::fs::read(&dest).expect("read"), b"keep me");
    let got = bob.run(&["file", "get", "ann", id, d, "--force"]);
    assert!(got.contains("(1.5 MB, SHA-256 verified"), "{got}");
    assert_eq!(sha256_file(&dest), sha256_file(&src));

    let status = ann.run(&["status"]);
    assert!(
        status.contains("2 users") && status.contains("1 room,"),
        "{status}"
    );
}

#[test]
fn every_subcommand() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob, cat) = (
        user(tmp.path(), "ann"),
        user(tmp.path(), "bob"),
        user(tmp.path(), "cat"),
    );

    // init + join; join with an existing profile; errors are plain and non-zero.
    ann.run(&["init", "--username", "ann"]);
    ann.fail(&["init", "--username", "ann"]);
    assert!(
        ann.run(&["join", node.owner_invite.as_deref().expect("invite")])
            .contains("Joined")
    );
    let e = ann.fail(&["join", "not-an-invite"]);
    assert!(String::from_utf8_lossy(&e.stderr).contains("not an OnionChat invite"));
    let inv = ann.json(&["invite"]);
    bob.run(&[
        "join",
        inv["link"].as_str().expect("link"),
        "--username",
        "bob",
    ]);
    let inv = ann.run(&["invite"]);
    cat.run(&["join", link_in(&inv), "--username", "cat"]);
    ann.run(&["login"]);
    // A wrong passphrase fails without damage.
    let out = ann
        .cmd(&["login"])
        .env("ONIONCHAT_PASSPHRASE", "nope")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("passphrase does not open this profile"));
    // ...and the passphrase can come from a file.
    let pf = tmp.path().join("pass.txt");
    std::fs::write(&pf, "correct horse battery staple\n").expect("write");
    let out = Command::new(bin_path("onionchat"))
        .arg("--profile-dir")
        .arg(&ann.dir)
        .arg("--passphrase-file")
        .arg(&pf)
        .arg("login")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // friends add/accept/decline/list
    ann.run(&["friends", "add", "bob"]);
    ann.run(&["friends", "add", "cat"]);
    let pending = bob.json(&["friends", "list"]);
    assert_eq!(pending["incoming"][0]["from"], "ann");
    bob.run(&["friends", "accept", "ann"]);
    cat.run(&["friends", "decline", "ann"]);
    cat.run(&["friends", "add", "ann"]);
    ann.run(&["friends", "accept", "cat"]);
    bob.run(&["friends", "add", "cat"]);
    cat.run(&["friends", "accept", "bob"]);
    let friends = ann.json(&["friends", "list"]);
    let names: Vec<&str> = friends["friends"]
        .as_array()
        .expect("array")
        .iter()
        .map(|f| f["username"].as_str().expect("name"))
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"bob") && names.contains(&"cat"));

    // send + history (1:1 by username); tail follows live.
    ann.run(&["send", "bob", "hello from the cli"]);
    let tail = bob
        .cmd(&["--json", "tail", "--count", "2"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("tail");
    std::thread::sleep(std::time::Duration::from_secs(2));
    ann.run(&["send", "bob", "live one"]);
    let out = tail.wait_with_output().expect("tail output");
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let texts: Vec<&str> = lines
        .iter()
        .map(|l| l["content"]["text"].as_str().expect("text"))
        .collect();
    assert_eq!(
        texts,
        vec!["hello from the cli", "live one"],
        "tail resumes history then follows live"
    );
    let hist = bob.run(&["history", "ann"]);
    assert!(
        hist.contains("ann: hello from the cli") && hist.contains("ann: live one"),
        "{hist}"
    );
    // Someone else's text cannot drive bob's terminal: escapes are shown.
    ann.run(&["send", "bob", "\u{1b}[2Jscreen wiped"]);
    let hist = bob.run(&["history", "ann"]);
    assert!(
        hist.contains("ann: \\u{1b}[2Jscreen wiped") && !hist.contains('\u{1b}'),
        "{hist}"
    );

    // rooms create/add/remove/leave/list
    let out = ann.run(&["rooms", "create", "bob"]);
    let room = out.trim().rsplit(' ').next().expect("room id").to_string();
    ann.run(&["send", &room, "before cat came"]);
    ann.run(&["rooms", "add", &room, "cat"]);
    ann.run(&["send", &room, "group hi"]);
    let hist = cat.run(&["history", &room]);
    assert!(hist.contains("group hi"), "{hist}");
    // What was said before she came is said to be that, not a failure.
    assert!(
        hist.contains("[1] · ann wrote this before you were in the group")
            && !hist.contains('⚠')
            && !hist.contains("before cat came"),
        "{hist}"
    );
    ann.run(&["rooms", "remove", &room, "cat"]);
    cat.fail(&["history", &room]);
    bob.run(&["rooms", "leave", &room]);
    let rooms = ann.json(&["rooms", "list"]);
    let g = rooms
        .as_array()
        .expect("rooms")
        .iter()
        .find(|r| r["id"] == room.as_str())
        .expect("group listed");
    assert_eq!(g["members"].as_array().expect("members").len(), 1);
    assert_eq!(g["rekey_required"], true);

    // file send/get, verified by hash
    let src = tmp.path().join("photo.jpg");
    make_file(&src, 1_000_000, 11);
    let out = ann.run(&["file", "send", "bob", src.to_str().expect("path")]);
    let file_id = file_id_in(&out).to_string();
    let dest = tmp.path().join("got.jpg");
    let got = bob.run(&["file", "get", "ann", &file_id, dest.to_str().expect("path")]);
    assert!(got.contains("SHA-256 verified"), "{got}");
    assert_eq!(sha256_file(&dest), sha256_file(&src));

    // verify: both sides see the same safety number
    let a = ann.json(&["verify", "bob"]);
    let b = bob.json(&["verify", "ann", "--confirm"]);
    assert_eq!(a["safety_number"], b["safety_number"]);
    assert_eq!(b["verified"], true);
    let bf = bob.json(&["friends", "list"]);
    assert_eq!(
        bf["friends"]
            .as_array()
            .expect("friends")
            .iter()
            .find(|f| f["username"] == "ann")
            .expect("ann")["verified"],
        true
    );

    // status, export/import
    let s = ann.json(&["status"]);
    assert_eq!(s["node_reachable"], true);
    assert_eq!(s["node"]["users"], 3);
    let export = tmp.path().join("bob.export");
    bob.run(&["export", export.to_str().expect("path")]);
    let bob2 = user(tmp.path(), "bob2");
    bob2.run(&["import", export.to_str().expect("path")]);
    assert!(bob2.run(&["history", "ann"]).contains("live one"));

    // The node being down is a plain error, not a panic.
    node.stop();
    let e = ann.fail(&["send", "bob", "anyone there?"]);
    assert!(
        String::from_utf8_lossy(&e.stderr).contains("Cannot reach the box"),
        "{}",
        String::from_utf8_lossy(&e.stderr)
    );
}

/// Replies, reactions, delete, group names, search and photos, as a
/// person types them, and as `--json` for scripts.
#[test]
fn what_families_do_from_the_command_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let (ann, bob) = (user(tmp.path(), "ann"), user(tmp.path(), "bob"));
    ann.run(&["init", "--username", "ann"]);
    ann.run(&["join", node.owner_invite.as_deref().expect("invite")]);
    let inv = ann.run(&["invite"]);
    bob.run(&["join", link_in(&inv), "--username", "bob"]);
    ann.run(&["friends", "add", "bob"]);
    bob.run(&["friends", "accept", "ann"]);

    assert!(
        ann.run(&["send", "bob", "Dinner on Sunday?"])
            .contains("#1")
    );
    let r = bob.json(&["reply", "ann", "1", "Yes! We bring cake"]);
    assert_eq!(r["seq"], 2);
    assert!(bob.run(&["react", "ann", "1", "👍"]).contains("Reacted"));
    assert!(
        bob.run(&["react", "ann", "1", "👍", "--remove"])
            .contains("taken back")
    );
    let e = bob.fail(&["reply", "ann", "99", "to nothing"]);
    assert!(
        stderr(&e).to_lowercase().contains("no message 99"),
        "{}",
        stderr(&e)
    );

    let hist = ann.run(&["history", "bob"]);
    assert!(
        hist.contains("bob ↪ “Dinner on Sunday?”: Yes! We bring cake"),
        "{hist}"
    );
    assert!(hist.contains("bob reacted 👍 to message [1]"), "{hist}");
    assert!(hist.contains("bob took back 👍 to message [1]"), "{hist}");
    let lines: Vec<serde_json::Value> = ann
        .run(&["--json", "history", "bob"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let first_id = lines[0]["msg_id"].as_str().expect("id").to_string();
    assert_eq!(lines[1]["content"]["type"], "reply");
    assert_eq!(lines[1]["content"]["to"], first_id.as_str());
    assert_eq!(lines[2]["content"]["type"], "reaction");
    assert_eq!(lines[2]["content"]["on"], true);
    assert_eq!(lines[3]["content"]["on"], false);

    // Search, here: the box has only ciphertext.
    let found = ann.json(&["search", "CAKE"]);
    assert_eq!(found.as_array().expect("array").len(), 1);
    assert_eq!(found[0]["seq"], 2);
    assert!(
        ann.run(&["search", "sunday", "--room", "bob"])
            .contains("Dinner on Sunday?")
    );
    assert!(
        ann.run(&["search", "no such words"])
            .contains("Nothing found")
    );

    // Delete: others' messages only for me; one's own for everyone.
    let e = bob.fail(&["delete", "ann", "1"]);
    assert!(
        stderr(&e).to_lowercase().contains("only your own"),
        "{}",
        stderr(&e)
    );
    assert!(
        bob.run(&["delete", "ann", "1", "--for-me"])
            .contains("for you")
    );
    assert!(
        bob.run(&["history", "ann"])
            .contains("ann: (deleted for me)")
    );
    assert!(ann.run(&["history", "bob"]).contains("Dinner on Sunday?"));
    let d = ann.json(&["delete", "bob", "1"]);
    assert_eq!(
        (d["deleted"].as_u64(), d["for"].as_str()),
        (Some(1), Some("everyone"))
    );
    let hist = bob.run(&["history", "ann"]);
    assert!(!hist.contains("Dinner"), "{hist}");
    assert!(
        hist.contains("ann deleted message [1] for everyone"),
        "{hist}"
    );
    assert!(hist.contains("bob ↪ (a deleted message): Yes!"), "{hist}");
    let e = ann.fail(&["delete", "bob", "1"]);
    assert!(
        stderr(&e).to_lowercase().contains("already deleted"),
        "{}",
        stderr(&e)
    );
    assert!(ann.run(&["search", "sunday"]).contains("Nothing found"));

    // Named groups: admins name them; the list shows the name.
    let out = ann.run(&["rooms", "create", "bob"]);
    let room = out.trim().rsplit(' ').next().expect("room id").to_string();
    assert!(
        ann.run(&["rooms", "rename", &room, "The Smiths"])
            .contains("now called “The Smiths”")
    );
    let rooms = bob.json(&["rooms", "list"]);
    let _ = bob.run(&["history", &room]);
    let rooms_after = bob.json(&["rooms", "list"]);
    let named = |rooms: &serde_json::Value| {
        rooms
            .as_array()
            .expect("rooms")
            .iter()
            .find(|r| r["id"] == room.as_str())
            .map(|r| r["name"].clone())
    };
    assert!(named(&rooms).is_some());
    assert_eq!(named(&rooms_after), Some(serde_json::json!("The Smiths")));
    assert!(bob.run(&["rooms", "list"]).contains("“The Smiths”"));
    let e = bob.fail(&["rooms", "rename", &room, "Bob's gang"]);
    assert!(
        stderr(&e).to_lowercase().contains("only an admin"),
        "{}",
        stderr(&e)
    );

    // A photo shows as a photo, with its preview in the JSON.
    let photo = tmp.path().join("beach.jpg");
    onionchat_tests::photo_with_gps(&photo);
    let sent = ann.run(&["file", "send", "bob", photo.to_str().expect("path")]);
    // What bob saves is the photo without where it was taken.
    let saved = tmp.path().join("beach-from-ann.jpg");
    bob.run(&[
        "file",
        "get",
        "ann",
        file_id_in(&sent),
        saved.to_str().expect("path"),
    ]);
    let saved = std::fs::read(&saved).expect("saved photo");
    assert!(saved.starts_with(&[0xff, 0xd8]) && saved.len() > 10_000);
    assert!(
        !saved.windows(8).any(|w| w == b"our-home"),
        "the GPS block went with the photo"
    );
    // A photo too damaged to clean is not sent as it is.
    let broken = tmp.path().join("broken.jpg");
    std::fs::write(&broken, [0xff, 0xd8, 0xff, 0xe1, 0x00]).expect("write");
    let e = ann.fail(&["file", "send", "bob", broken.to_str().expect("path")]);
    assert!(
        stderr(&e).contains("was not sent") && stderr(&e).contains("where it was taken"),
        "{}",
        stderr(&e)
    );
    // A photo kind it does not clean goes as it is, and the sender is told.
    let heic = tmp.path().join("IMG_0001.HEIC");
    let mut bytes = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    bytes.extend_from_slice(&[7; 4000]);
    std::fs::write(&heic, &bytes).expect("write");
    let out = ann
        .cmd(&["file", "send", "bob", heic.to_str().expect("path")])
        .output()
        .expect("run");
    assert!(out.status.success());
    let told = String::from_utf8_lossy(&out.stderr);
    assert!(
        told.contains("IMG_0001.HEIC went as it is") && told.contains("HEIC picture"),
        "{told}"
    );
    // A photo it cleans says nothing of the kind.
    let out = ann
        .cmd(&["file", "send", "bob", photo.to_str().expect("path")])
        .output()
        .expect("run");
    assert!(out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("as it is"));
    let hist = bob.run(&["history", "ann"]);
    assert!(
        hist.contains("ann sent a photo (1200 × 900): beach.jpg"),
        "{hist}"
    );
    let last: serde_json::Value = bob
        .run(&["--json", "history", "ann"])
        .lines()
        .last()
        .map(|l| serde_json::from_str(l).expect("json"))
        .expect("a line");
    assert_eq!(last["content"]["preview"]["full_width"], 1200);
    assert!(last["content"]["preview"]["bytes"].as_u64().expect("size") <= 24 * 1024);
}

/// The examples at the top of docs/usage.md, run as they stand (as ann,
/// in a folder of her own) against a real box; bob and cat do their part
/// where the comments say so.
#[test]
fn the_examples_in_usage_md_work() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/usage.md"))
            .expect("usage.md");
    let block = doc
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the first sh block");
    let tmp = tempfile::tempdir().expect("tmp");
    let node = Node::start(&tmp.path().join("node"), &[]);
    let home = tmp.path().join("ann-home");
    std::fs::create_dir_all(home.join("Downloads")).expect("dirs");
    make_file(&home.join("holiday.jpg"), 200_000, 5);
    let (ann, bob, cat) = (
        user(tmp.path(), "ann"),
        user(tmp.path(), "bob"),
        user(tmp.path(), "cat"),
    );
    let mut file_id = String::new();
    let mut ran = 0;
    for line in block.lines() {
        let command = line.split("  #").next().expect("command").trim();
        if command.is_empty() {
            continue;
        }
        // The shell's words, with the placeholders filled in.
        let (stdin, command) = match command.split_once(" | ") {
            Some((echo, rest)) => (
                Some(
                    echo.trim_start_matches("echo ")
                        .trim_matches('"')
                        .to_string(),
                ),
                rest,
            ),
            None => (None, command),
        };
        let mut words: Vec<String> = Vec::new();
        let mut rest = command.trim_start_matches("onionchat ");
        while !rest.is_empty() {
            rest = rest.trim_start();
            let (word, tail) = match rest.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let end = rest[1..].find(q).expect("closing quote") + 1;
                    (rest[1..end].to_string(), &rest[end + 1..])
                }
                _ => {
                    let end = rest.find(' ').unwrap_or(rest.len());
                    (rest[..end].to_string(), &rest[end..])
                }
            };
            words.push(match word.as_str() {
                "onionchat://…" => node.owner_invite.clone().expect("invite"),
                "<file-id>" => file_id.clone(),
                _ => word,
            });
            rest = tail;
        }
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        match args[0] {
            "friends" => {
                // bob and cat have accounts and cat is ann's friend
                // already; bob accepts ann's request.
                let inv = ann.run(&["invite"]);
                bob.run(&["join", link_in(&inv), "--username", "bob"]);
                let inv = ann.run(&["invite"]);
                cat.run(&["join", link_in(&inv), "--username", "cat"]);
                cat.run(&["friends", "add", "ann"]);
                ann.run(&["friends", "accept", "cat"]);
                let mut c = ann.cmd(&args);
                assert!(
                    c.current_dir(&home).status().expect("run").success(),
                    "{line}"
                );
                bob.run(&["friends", "accept", "ann"]);
            }
            "tail" => {
                // It follows until Ctrl-C.
                let tail = ann
                    .cmd(&args)
                    .current_dir(&home)
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("tail");
                std::thread::sleep(std::time::Duration::from_secs(2));
                bob.run(&["send", "ann", "hi ann"]);
                std::thread::sleep(std::time::Duration::from_secs(2));
                Command::new("kill")
                    .args(["-INT", &tail.id().to_string()])
                    .status()
                    .expect("kill");
                let out = tail.wait_with_output().expect("tail");
                assert!(out.status.success(), "{line}");
                assert!(
                    String::from_utf8_lossy(&out.stdout).contains("bob: hi ann"),
                    "{line}: {}",
                    String::from_utf8_lossy(&out.stdout)
                );
            }
            _ => {
                let mut c = ann.cmd(&args);
                c.current_dir(&home).stdin(if stdin.is_some() {
                    Stdio::piped()
                } else {
                    Stdio::null()
                });
                c.stdout(Stdio::piped()).stderr(Stdio::piped());
                let mut child = c.spawn().expect("run");
                if let Some(text) = &stdin {
                    std::io::Write::write_all(
                        child.stdin.as_mut().expect("stdin"),
                        text.as_bytes(),
                    )
                    .expect("stdin");
                }
                drop(child.stdin.take());
                let out = child.wait_with_output().expect("run");
                assert!(out.status.success(), "`{line}` failed: {}", stderr(&out));
                let said = String::from_utf8_lossy(&out.stdout).to_string();
                if args.starts_with(&["file", "send"]) {
                    file_id = file_id_in(&said).to_string();
                }
            }
        }
        ran += 1;
    }
    assert!(ran >= 10, "ran {ran} example lines");
    // What they did: bob has both messages, the file landed in Downloads
    // whole, the group exists, the backup was written.
    let hist = bob.run(&["history", "ann"]);
    assert!(
        hist.contains("ann: hello") && hist.contains("ann: a longer note"),
        "{hist}"
    );
    assert_eq!(
        sha256_file(&home.join("Downloads/holiday.jpg")),
        sha256_file(&home.join("holiday.jpg"))
    );
    let rooms = cat.json(&["rooms", "list"]);
    assert!(
        rooms
            .as_array()
            .expect("rooms")
            .iter()
            .any(|r| r["kind"] == "group")
    );
    assert!(home.join("ann.backup").exists());
}

/// Where Tor cannot connect, the command line says what Tor is doing in
/// a few plain lines (Arti's own warnings go to a log file), gives up
/// after the stated time, and says why.
#[test]
fn where_tor_is_blocked_the_cli_explains_and_gives_up() {
    let tmp = tempfile::tempdir().expect("tmp");
    let net = onionchat_tests::dead_network(tmp.path());
    let node = Node::start_onion(&tmp.path().join("node"), &net, &[]);
    let invite = node.owner_invite.clone().expect("owner invite");
    assert!(invite.contains(".onion"), "{invite}");
    let ann = user(tmp.path(), "ann");
    let started = std::time::Instant::now();
    let out = ann
        .cmd(&["join", &invite, "--username", "ann", "--tor-timeout", "10"])
        .env("ONIONCHAT_TOR_NETWORK", &net)
        .env("XDG_CACHE_HOME", tmp.path().join("cache"))
        .env_remove("RUST_LOG")
        .output()
        .expect("run");
    let err = stderr(&out);
    eprintln!("gave up after {:?}:\n{err}", started.elapsed());
    assert!(!out.status.success());
    assert!(err.contains("Tor could not connect within 10 s"), "{err}");
    assert!(err.lines().any(|l| l.starts_with("Tor: ")), "{err}");
    assert!(
        !err.contains("WARN"),
        "Arti's warnings stay off the terminal: {err}"
    );
    assert!(err.lines().count() < 15, "a few lines, not a flood: {err}");
    // Nothing is left behind for a retry to trip over.
    assert!(!ann.dir.join("identity.pem").exists());
}
