//! Test vectors for independent implementations.
//!
//! `onionchat-vectors generate FILE` writes vectors made by this code;
//! `onionchat-vectors verify FILE` checks vectors made elsewhere (the Python
//! cross-check in `tests/vectors/crosscheck.py`), using only the public
//! proto API, and exits non-zero on the first mismatch.

use std::process::ExitCode;

use anyhow::{Context, bail, ensure};
use onionchat_proto::crypto::erase;
use onionchat_proto::crypto::file_stream::{FileOpener, FileSealer};
use onionchat_proto::crypto::identity::fingerprint_of;
use onionchat_proto::crypto::message::{self, message_aad};
use onionchat_proto::crypto::room_key::{make_grant, open_grant};
use onionchat_proto::crypto::roster::{
    VerifiedRoster, first_roster, roster_hash, sign_roster, verify_roster,
};
use onionchat_proto::crypto::safety::safety_number;
use onionchat_proto::crypto::{IdentityKey, PublicIdentity, RoomKey, SignContext, at_rest};
use onionchat_proto::wire::{
    FileId, MessageContent, MsgId, Preview, RoomId, RoomKind, RosterMember, Signed, UserId,
};
use serde_json::{Value, json};

fn h(b: &[u8]) -> String {
    hex::encode(b)
}

fn unh(v: &Value, what: &str) -> anyhow::Result<Vec<u8>> {
    hex::decode(v.as_str().with_context(|| format!("{what} missing"))?)
        .with_context(|| format!("{what} is not hex"))
}

fn signed(v: &Value) -> anyhow::Result<Signed> {
    Ok(Signed {
        body: unh(&v["body"], "body")?,
        signature: unh(&v["signature"], "signature")?,
    })
}

/// A decrypted content as JSON, bytes as hex: what both implementations
/// compare (`tests/vectors/crosscheck.py` builds the same from CBOR).
fn content_json(c: &MessageContent) -> Value {
    match c {
        MessageContent::Text { text } => json!({"type": "text", "text": text}),
        MessageContent::File {
            file_id,
            name,
            mime,
            size,
            sha256,
            preview,
        } => {
            let mut v = json!({"type": "file", "file_id": h(&file_id.0), "name": name, "mime": mime, "size": size, "sha256": h(sha256)});
            if let Some(p) = preview {
                v["preview"] = json!({"mime": p.mime, "width": p.width, "height": p.height, "bytes": h(&p.bytes), "full_width": p.full_width, "full_height": p.full_height});
            }
            v
        }
        MessageContent::Reply { to, excerpt, text } => {
            json!({"type": "reply", "to": h(&to.0), "excerpt": excerpt, "text": text})
        }
        MessageContent::Reaction { to, emoji, on } => {
            json!({"type": "reaction", "to": h(&to.0), "emoji": emoji, "on": on})
        }
        MessageContent::Delete { to } => json!({"type": "delete", "to": h(&to.0)}),
        MessageContent::Rename { name } => json!({"type": "rename", "name": name}),
    }
}

/// One message of each content kind beyond plain text (protocol §5),
/// sealed by `alice`: (envelope, content).
fn kinds(
    alice: &IdentityKey,
    room: RoomId,
    key: &RoomKey,
    roster: onionchat_proto::wire::RosterRef,
    first: MsgId,
) -> anyhow::Result<Vec<(Signed, MessageContent)>> {
    let contents = vec![
        MessageContent::Reply {
            to: first,
            excerpt: "Hello, Bob! Grüße 👋".into(),
            text: "Replying ↩".into(),
        },
        MessageContent::Reaction {
            to: first,
            emoji: "👍🏽".into(),
            on: true,
        },
        MessageContent::Reaction {
            to: first,
            emoji: "👍🏽".into(),
            on: false,
        },
        MessageContent::Delete { to: first },
        MessageContent::Rename {
            name: "Familie Müller".into(),
        },
        MessageContent::File {
            file_id: FileId::random(),
            name: "photo.jpg".into(),
            mime: Some("image/jpeg".into()),
            size: 123_456,
            sha256: vec![7; 32],
            preview: Some(Box::new(Preview {
                mime: "image/jpeg".into(),
                width: 4,
                height: 3,
                bytes: vec![0xff, 0xd8, 0xff, 0xd9],
                full_width: 4000,
                full_height: 3000,
            })),
        },
    ];
    let mut out = Vec::new();
    for (i, c) in contents.into_iter().enumerate() {
        let env = message::seal(
            alice,
            room,
            1,
            key,
            MsgId::random(),
            message::Position {
                stream: 0x0123_4567_89ab_cdef,
                counter: 8 + i as u64,
                roster,
            },
            1_700_000_000_000,
            &c,
        )?;
        out.push((env, c));
    }
    Ok(out)
}

fn generate(path: &str) -> anyhow::Result<()> {
    let alice = IdentityKey::generate()?;
    let bob = IdentityKey::generate()?;
    let room = RoomId::random();
    let key = RoomKey::generate();
    let login_body = b"example login body".to_vec();
    let login_sig = alice.sign(SignContext::Login, &login_body)?;
    let member = |user, username: &str, k: &IdentityKey| RosterMember {
        user: UserId(user),
        username: username.into(),
        fp: k.fingerprint(),
    };
    let roster_body = first_roster(
        room,
        RoomKind::Group,
        UserId(1),
        alice.fingerprint(),
        vec![member(1, "alice", &alice), member(2, "bob", &bob)],
        1_700_000_000_000,
    );
    let roster = sign_roster(&alice, &roster_body)?;
    let hash = roster_hash(&roster);
    let grant = make_grant(&alice, room, 1, hash, UserId(2), bob.public(), &key)?;
    let msg_id = MsgId::random();
    let text = "Hello, Bob! Grüße 👋";
    let envelope = message::seal(
        &alice,
        room,
        1,
        &key,
        msg_id,
        message::Position {
            stream: 0x0123_4567_89ab_cdef,
            counter: 7,
            roster: onionchat_proto::wire::RosterRef { version: 1, hash },
        },
        1_700_000_000_000,
        &MessageContent::Text { text: text.into() },
    )?;
    let body = message::decode(&envelope)?;
    let aad = message_aad(body.v, &room, 1, &alice.fingerprint(), &msg_id);
    let plaintext: Vec<u8> = (0..2500u32).map(|i| (i * 7 % 256) as u8).collect();
    let (header, mut sealer) = FileSealer::start(
        &alice,
        room,
        1,
        &key,
        FileId::random(),
        plaintext.len() as u64,
        1024,
    )?;
    let mut ct = sealer.push(&plaintext)?;
    ct.extend(sealer.finish()?);
    let kinds = kinds(
        &alice,
        room,
        &key,
        onionchat_proto::wire::RosterRef { version: 1, hash },
        msg_id,
    )?;
    let contents: Vec<Value> = kinds
        .iter()
        .map(|(env, c)| json!({"body": h(&env.body), "signature": h(&env.signature), "content": content_json(c)}))
        .collect();
    let erase_req = erase::sign(&alice, &body, 42, 1_700_000_000_500)?;
    let passphrase = "vector passphrase";
    let out = json!({
        "version": 3,
        "made_by": "onionchat-proto (Rust)",
        "alice": {
            "private_pkcs8_pem": *at_rest::plain_pem_for_tests(&alice)?,
            "spki_der": h(alice.public().spki_der()),
            "fingerprint": h(&alice.fingerprint().0),
            "encrypted_pkcs8_pem": *at_rest::encrypt_pem(&alice, passphrase.as_bytes())?,
            "passphrase": passphrase,
        },
        "bob": {
            "private_pkcs8_pem": *at_rest::plain_pem_for_tests(&bob)?,
            "spki_der": h(bob.public().spki_der()),
            "fingerprint": h(&bob.fingerprint().0),
        },
        "safety_number": safety_number(&alice.fingerprint(), &bob.fingerprint()),
        "signature": {"context": "login", "body": h(&login_body), "signature": h(&login_sig), "signer": "alice"},
        "room_id": h(&room.0),
        "room_key": h(key.as_bytes()),
        "roster": {"body": h(&roster.body), "signature": h(&roster.signature), "signer": "alice", "hash": h(&hash.0)},
        "grant": {"body": h(&grant.body), "signature": h(&grant.signature), "granter": "alice", "recipient": "bob", "recipient_id": 2, "epoch": 1},
        "message": {"body": h(&envelope.body), "signature": h(&envelope.signature), "sender": "alice", "aad": h(&aad), "text": text, "msg_id": h(&msg_id.0), "stream": 0x0123_4567_89ab_cdef_u64, "counter": 7},
        "file": {"header_body": h(&header.body), "header_signature": h(&header.signature), "sender": "alice", "ciphertext": h(&ct), "plaintext": h(&plaintext), "chunk_size": 1024},
        "contents": contents,
        "erase": {"body": h(&erase_req.body), "signature": h(&erase_req.signature), "seq": 42, "erased_at": 1_700_000_000_500_u64},
    });
    std::fs::write(path, serde_json::to_string_pretty(&out)?)?;
    Ok(())
}

fn verify(path: &str) -> anyhow::Result<()> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let party = |name: &str| -> anyhow::Result<IdentityKey> {
        let pem = v[name]["private_pkcs8_pem"].as_str().context("pem")?;
        Ok(at_rest::from_plain_pem(pem)?)
    };
    let (alice, bob) = (party("alice")?, party("bob")?);
    for (name, key) in [("alice", &alice), ("bob", &bob)] {
        let spki = unh(&v[name]["spki_der"], "spki")?;
        ensure!(
            spki == key.public().spki_der(),
            "{name}: SPKI DER differs from the private key's"
        );
        ensure!(
            unh(&v[name]["fingerprint"], "fp")? == fingerprint_of(&spki).0,
            "{name}: fingerprint mismatch"
        );
        PublicIdentity::from_spki_der(&spki)
            .with_context(|| format!("{name}: SPKI not canonical"))?;
    }
    if let Some(pem) = v["alice"]["encrypted_pkcs8_pem"].as_str() {
        let pass = v["alice"]["passphrase"].as_str().context("passphrase")?;
        let k =
            at_rest::decrypt_pem(pem, pass.as_bytes()).context("encrypted PKCS#8 did not open")?;
        ensure!(
            k.fingerprint() == alice.fingerprint(),
            "encrypted key is not alice's"
        );
        ensure!(
            at_rest::decrypt_pem(pem, b"wrong").is_err(),
            "wrong passphrase accepted"
        );
    }
    let sn = safety_number(&alice.fingerprint(), &bob.fingerprint());
    ensure!(
        v["safety_number"] == sn.as_str(),
        "safety number: theirs {} ours {sn}",
        v["safety_number"]
    );
    let s = &v["signature"];
    alice
        .public()
        .verify(
            SignContext::Login,
            &unh(&s["body"], "body")?,
            &unh(&s["signature"], "sig")?,
        )
        .context("login signature")?;
    let room = RoomId(
        unh(&v["room_id"], "room")?
            .try_into()
            .map_err(|_| anyhow::anyhow!("room id length"))?,
    );
    let roster: VerifiedRoster =
        verify_roster(&signed(&v["roster"])?, None, alice.public()).context("roster")?;
    ensure!(
        h(&roster.hash.0) == v["roster"]["hash"].as_str().context("roster hash")?,
        "roster hash differs"
    );
    ensure!(
        roster.body.room_id == room
            && roster.body.member_ids() == vec![UserId(1), UserId(2)]
            && roster.body.members[1].fp == bob.fingerprint(),
        "roster members"
    );
    let key = unh(&v["room_key"], "room key")?;
    let (gb, got) =
        open_grant(&bob, &signed(&v["grant"])?, alice.public(), room).context("grant")?;
    ensure!(
        got.as_bytes()[..] == key[..],
        "grant unwrapped to another key"
    );
    ensure!(
        gb.recipient_fp == bob.fingerprint() && gb.granter_fp == alice.fingerprint(),
        "grant parties"
    );
    ensure!(gb.roster == roster.hash, "grant is bound to another roster");
    let m = &v["message"];
    let env = signed(m)?;
    let rk = RoomKey::from_slice(&key).context("key length")?;
    let (body, content) =
        message::open(&env, alice.public(), room, |_| Some(rk.clone())).context("message")?;
    let aad = message_aad(
        body.v,
        &body.room_id,
        body.epoch,
        &body.sender_fp,
        &body.msg_id,
    );
    ensure!(
        h(&aad) == m["aad"].as_str().context("aad")?,
        "AAD layout differs"
    );
    ensure!(
        Some(body.stream) == m["stream"].as_u64() && Some(body.counter) == m["counter"].as_u64(),
        "message stream/counter differ"
    );
    match content {
        MessageContent::Text { text } => {
            ensure!(text == m["text"].as_str().context("text")?, "text differs")
        }
        other => bail!("unexpected content {other:?}"),
    }
    // Every other content kind, and the bounds a receiver checks.
    let kinds = v["contents"].as_array().context("contents")?;
    ensure!(kinds.len() >= 5, "too few content kinds");
    for (i, k) in kinds.iter().enumerate() {
        let (_, c) = message::open(&signed(k)?, alice.public(), room, |_| Some(rk.clone()))
            .with_context(|| format!("content {i}"))?;
        ensure!(
            content_json(&c) == k["content"],
            "content {i}: ours {} theirs {}",
            content_json(&c),
            k["content"]
        );
    }
    // The erase request names the text message above (§5.1).
    let e = &v["erase"];
    let eb = erase::verify(&signed(e)?, alice.public(), room).context("erase request")?;
    ensure!(
        erase::names(&eb, &body, e["seq"].as_u64().context("erase seq")?),
        "the erase request does not name the message"
    );
    ensure!(
        Some(eb.erased_at) == e["erased_at"].as_u64(),
        "erase time differs"
    );
    ensure!(
        erase::verify(&signed(e)?, bob.public(), room).is_err(),
        "an erase request verified under another key"
    );
    let f = &v["file"];
    let header = Signed {
        body: unh(&f["header_body"], "header")?,
        signature: unh(&f["header_signature"], "header sig")?,
    };
    let (_, mut opener) = FileOpener::start(&header, alice.public(), room, |_| Some(rk.clone()))
        .context("file header")?;
    let mut pt = opener.push(&unh(&f["ciphertext"], "ct")?)?;
    pt.extend(opener.finish().context("file final chunk")?);
    ensure!(
        pt == unh(&f["plaintext"], "plaintext")?,
        "file plaintext differs"
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1..).unwrap_or_default() {
        [cmd, path] if cmd == "generate" => generate(path),
        [cmd, path] if cmd == "verify" => verify(path),
        _ => Err(anyhow::anyhow!(
            "usage: onionchat-vectors generate|verify FILE"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vectors: {e:#}");
            ExitCode::FAILURE
        }
    }
}
