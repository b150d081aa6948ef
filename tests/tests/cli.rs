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
    cat.run(&["join", inv.trim(), "--username", "cat"]);
    ann.run(&["login"]);
    // A wrong passphrase fails without damage.
    let out = ann
        .cmd(&["login"])
        .env("ONIONCHAT_PASSPHRASE", "nope")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));
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
    ann.run(&["rooms", "add", &room, "cat"]);
    ann.run(&["send", &room, "group hi"]);
    assert!(cat.run(&["history", &room]).contains("group hi"));
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
    let file_id = out
        .trim()
        .rsplit(' ')
        .next()
        .expect("id")
        .trim_end_matches(')')
        .to_string();
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
        String::from_utf8_lossy(&e.stderr).contains("cannot reach the node"),
        "{}",
        String::from_utf8_lossy(&e.stderr)
    );
}
