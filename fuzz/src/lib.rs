//! # onionchat-fuzz
//!
//! One function per fuzz target. Each takes arbitrary bytes, feeds them to
//! a decoder (or to the node's whole HTTP API, in-process) and panics only
//! when a property breaks:
//!
//! - a decoder panics (they must return errors);
//! - something decodes, is encoded again, and no longer decodes to the same
//!   value (what the node stores must read back as what it accepted);
//! - tampered ciphertext or an unsigned header opens;
//! - the API answers with a 500, or with an error that is not the spec's
//!   `{code, message}` matching its HTTP status.
//!
//! `fuzz_targets/` wraps each for libFuzzer (`scripts/fuzz`); the regression
//! test (`tests/regressions.rs`) runs every input in `regressions/` through
//! the same functions on stable, so a crash once found stays fixed.

mod http_api;
mod setup;

pub use http_api::http_api;

use onionchat_proto::crypto::file_stream::{FileOpener, decode_header};
use onionchat_proto::crypto::{PublicIdentity, at_rest, message, room_key, roster};
use onionchat_proto::wire::{self, ClientFrame, InviteLink, ServerFrame, Signed};
use onionchat_proto::{decode, encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target, by name (the regression test walks these).
pub const TARGETS: &[(&str, Target)] = &[
    ("client_frame", client_frame),
    ("server_frame", server_frame),
    ("request_body", request_body),
    ("invite_link", invite_link),
    ("key_blob", key_blob),
    ("signed_object", signed_object),
    ("file_stream", file_stream),
    ("http_api", http_api),
    ("picture", picture),
];

/// Decode `data` as `T`; when it decodes, it must survive encode → decode.
fn round_trip<T>(data: &[u8])
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let Ok(value) = decode::<T>(data) else { return };
    let again = encode(&value).expect("a decoded value encodes");
    let back: T = decode(&again).expect("what we encode decodes");
    assert_eq!(back, value, "CBOR round trip changed the value");
}

/// WebSocket frames from clients (what the node reads off every socket).
pub fn client_frame(data: &[u8]) {
    round_trip::<ClientFrame>(data);
}

/// WebSocket frames from the node (what clients read).
pub fn server_frame(data: &[u8]) {
    round_trip::<ServerFrame>(data);
}

/// Every HTTP request and response body; the first byte picks the type.
pub fn request_body(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 26 {
        0 => round_trip::<wire::SignupBody>(body),
        1 => round_trip::<wire::ChallengeRequest>(body),
        2 => round_trip::<wire::Challenge>(body),
        3 => round_trip::<Signed>(body),
        4 => round_trip::<wire::Session>(body),
        5 => round_trip::<wire::UserInfo>(body),
        6 => round_trip::<wire::CreateInvite>(body),
        7 => round_trip::<wire::InviteList>(body),
        8 => round_trip::<wire::NodeStatus>(body),
        9 => round_trip::<wire::FriendRequestCreate>(body),
        10 => round_trip::<wire::FriendRequestList>(body),
        11 => round_trip::<wire::AcceptFriendRequest>(body),
        12 => round_trip::<wire::FriendList>(body),
        13 => round_trip::<wire::CreateRoom>(body),
        14 => round_trip::<wire::Rekey>(body),
        15 => round_trip::<wire::LeaveRoom>(body),
        16 => round_trip::<wire::Room>(body),
        17 => round_trip::<wire::RosterChain>(body),
        18 => round_trip::<wire::SendMessage>(body),
        19 => round_trip::<wire::History>(body),
        20 => round_trip::<wire::SetReadMarker>(body),
        21 => round_trip::<wire::ReadMarkers>(body),
        22 => round_trip::<wire::FileUploadStart>(body),
        23 => round_trip::<wire::EraseMessage>(body),
        // Not an HTTP body: what another member put inside a message's
        // ciphertext, which every receiver decodes and bounds.
        24 => {
            if let Ok(content) = decode::<wire::MessageContent>(body) {
                let _ = content.check();
                let _ = content.summary();
            }
            round_trip::<wire::MessageContent>(body)
        }
        _ => round_trip::<wire::ApiError>(body),
    }
}

/// Invite links, typed or pasted or read from a QR code.
pub fn invite_link(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(link) = InviteLink::parse(text) else {
        return;
    };
    let again = InviteLink::parse(&link.to_string()).expect("a printed link parses");
    assert!(again == link, "invite link round trip changed it");
}

/// Public keys from the node (SPKI DER) and private-key files (PKCS#8 PEM,
/// plain and passphrase-encrypted).
pub fn key_blob(data: &[u8]) {
    if let Ok(key) = PublicIdentity::from_spki_der(data) {
        let again = PublicIdentity::from_spki_der(key.spki_der()).expect("re-parse");
        assert_eq!(again.fingerprint(), key.fingerprint());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = at_rest::from_plain_pem(text);
        let _ = at_rest::decrypt_pem(text, b"correct horse battery staple");
    }
}

/// Signed objects a hostile node can hand a client: message envelopes,
/// file headers, key grants, rosters. Decoding must fail cleanly, and
/// nothing verifies under a key that did not sign it.
pub fn signed_object(data: &[u8]) {
    let Ok(signed) = decode::<Signed>(data) else {
        return;
    };
    let _ = message::decode(&signed);
    let _ = decode_header(&signed);
    let _ = room_key::decode_grant(&signed);
    let _ = roster::decode_roster(&signed);
    let _ = onionchat_proto::crypto::erase::decode(&signed);
    // RSA verification costs ~0.15 ms, a hundred decodes: check one input
    // in sixteen, so the decoders still get millions of runs.
    if !data.len().is_multiple_of(16) {
        return;
    }
    let who = setup::sender();
    for ctx in [
        onionchat_proto::crypto::SignContext::Message,
        onionchat_proto::crypto::SignContext::FileHeader,
        onionchat_proto::crypto::SignContext::KeyGrant,
        onionchat_proto::crypto::SignContext::Roster,
        onionchat_proto::crypto::SignContext::Erase,
    ] {
        assert!(
            who.key.public().verify_signed(ctx, &signed).is_err(),
            "a signature the fuzzer made up verified"
        );
    }
}

/// File streams: a forged header, or the real header with the ciphertext
/// cut, reordered or altered. Only the exact bytes the sender made may
/// open, and then to the exact plaintext.
pub fn file_stream(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let file = setup::file();
    match mode % 3 {
        // A header from the fuzzer: never opens (nobody signed it).
        0 => {
            if let Ok(header) = decode::<Signed>(rest) {
                let s = setup::sender();
                let key_for = |epoch: u32| (epoch == 1).then(|| file.room_key.clone());
                assert!(
                    FileOpener::start(&header, s.key.public(), file.room_id, key_for).is_err(),
                    "a forged file header opened"
                );
            }
        }
        // The real header, ciphertext from the fuzzer, fed in pieces.
        1 => {
            let mut opener = file.opener.clone();
            let mut plain = Vec::new();
            let mut ok = true;
            for piece in rest.chunks(rest.first().map_or(1, |&b| usize::from(b) + 1)) {
                match opener.push(piece) {
                    Ok(p) => plain.extend(p),
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok && let Ok(p) = opener.finish() {
                plain.extend(p);
                assert_eq!(
                    rest,
                    file.ciphertext.as_slice(),
                    "made-up ciphertext opened"
                );
                assert_eq!(plain, file.plaintext, "opened to other bytes");
            }
        }
        // The real ciphertext with one byte flipped (or cut short).
        _ => {
            let mut ct = file.ciphertext.clone();
            let at = rest
                .iter()
                .take(4)
                .fold(0usize, |a, &b| (a << 8) | usize::from(b));
            let flip = rest.get(4).copied().unwrap_or(0);
            let cut = rest.get(5).is_some_and(|b| b & 1 == 1);
            if cut {
                ct.truncate(at % (ct.len() + 1));
            } else {
                let i = at % ct.len();
                ct[i] ^= flip;
            }
            let mut opener = file.opener.clone();
            let opened = opener.push(&ct).and_then(|mut p| {
                opener.finish().map(|f| {
                    p.extend(f);
                    p
                })
            });
            if let Ok(p) = opened {
                assert_eq!(ct, file.ciphertext, "altered ciphertext opened");
                assert_eq!(p, file.plaintext);
            }
        }
    }
}

/// Pictures, on the client: a preview another member put in a message
/// (checked from its header, then decoded within bounds — a hostile
/// member's input) and a photo being cleaned of its metadata before it is
/// sent. Neither may panic; a decoded preview is never over the preview
/// bounds; a cleaned picture is never much larger than it was, and
/// cleaning it again changes nothing.
pub fn picture(data: &[u8]) {
    use onionchat_client::picture;
    use onionchat_proto::limits::MAX_PREVIEW_SIDE;
    let preview = wire::Preview {
        mime: "image/jpeg".into(),
        width: 1,
        height: 1,
        bytes: data.to_vec(),
        full_width: 1,
        full_height: 1,
    };
    if picture::check_preview(&preview).is_ok()
        && let Ok(img) = picture::decode_preview(&preview)
    {
        assert!(img.width() <= MAX_PREVIEW_SIDE && img.height() <= MAX_PREVIEW_SIDE);
    }
    if let Ok(clean) = picture::clean(data) {
        assert!(clean.len() <= data.len() + 64, "cleaning grew the picture");
        let again = picture::clean(&clean).expect("a cleaned picture cleans again");
        assert_eq!(again, clean, "cleaning twice changed the picture");
    }
}

/// Valid inputs for each target, to start its corpus from (written by
/// `fuzz-seeds`, see scripts/fuzz): the fuzzer mutates real frames,
/// bodies, links, keys and files instead of finding CBOR from nothing.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    use onionchat_proto::wire::{MessageContent, MsgId, RoomId};
    let s = setup::sender();
    let file = setup::file();
    let room = RoomId([3; 16]);
    let envelope = message::seal(
        &s.key,
        room,
        1,
        &file.room_key,
        MsgId([1; 16]),
        message::Position {
            stream: 1,
            counter: 1,
            roster: onionchat_proto::wire::RosterRef {
                version: 1,
                hash: onionchat_proto::wire::RosterHash([7; 32]),
            },
        },
        0,
        &MessageContent::Text { text: "hi".into() },
    )
    .expect("seal");
    let body = message::decode(&envelope).expect("body");
    let erase = onionchat_proto::crypto::erase::sign(&s.key, &body, 1, 0).expect("erase");
    let mut out: Vec<(&'static str, Vec<u8>)> = vec![
        ("signed_object", enc(&erase)),
        (
            "client_frame",
            enc(&ClientFrame::Send {
                envelope: envelope.clone(),
            }),
        ),
        ("client_frame", enc(&ClientFrame::Ping { nonce: 7 })),
        (
            "client_frame",
            enc(&ClientFrame::Read {
                room_id: room,
                seq: 3,
            }),
        ),
        ("server_frame", enc(&ServerFrame::Pong { nonce: 7 })),
        ("signed_object", enc(&envelope)),
        ("signed_object", enc(&file.header)),
        ("key_blob", s.key.public().spki_der().to_vec()),
        (
            "key_blob",
            at_rest::plain_pem_for_tests(&s.key)
                .expect("pem")
                .as_bytes()
                .to_vec(),
        ),
        (
            "invite_link",
            b"onionchat://127.0.0.1:8480/ABCDEFGHJKMNPQRS".to_vec(),
        ),
        (
            "invite_link",
            format!("onionchat://{}.onion/ABCDEFGHJKMNPQRS/KEY", "a".repeat(56)).into_bytes(),
        ),
    ];
    let mut with = |target, first: u8, body: Vec<u8>| {
        let mut v = vec![first];
        v.extend(body);
        out.push((target, v));
    };
    with("request_body", 23, enc(&wire::EraseMessage { erase }));
    for content in [
        MessageContent::Reply {
            to: MsgId([1; 16]),
            excerpt: "hi".into(),
            text: "hello".into(),
        },
        MessageContent::Reaction {
            to: MsgId([1; 16]),
            emoji: "👍".into(),
            on: true,
        },
        MessageContent::Delete { to: MsgId([1; 16]) },
        MessageContent::Rename {
            name: "The Smiths".into(),
        },
        MessageContent::File {
            file_id: wire::FileId([2; 16]),
            name: "beach.jpg".into(),
            mime: Some("image/jpeg".into()),
            size: 3,
            sha256: vec![0; 32],
            preview: Some(Box::new(wire::Preview {
                mime: "image/jpeg".into(),
                width: 1,
                height: 1,
                bytes: vec![0xff, 0xd8, 0xff, 0xd9],
                full_width: 1,
                full_height: 1,
            })),
        },
    ] {
        with("request_body", 24, enc(&content));
    }
    with("request_body", 18, enc(&wire::SendMessage { envelope }));
    with(
        "request_body",
        9,
        enc(&wire::FriendRequestCreate { to: "bob".into() }),
    );
    with("file_stream", 0, enc(&file.header));
    with("file_stream", 1, file.ciphertext.clone());
    with("file_stream", 2, vec![0, 0, 4, 0, 1, 0]);
    // http_api: method, route, who, parameter choice; then the body.
    with("http_api", 0, vec![0, 0, 0]); // GET /v1/info
    with("http_api", 0, vec![5, 1, 0]); // GET /v1/me as ann
    let mut req = vec![9, 1, 0]; // POST /v1/friends/requests as ann
    req.extend(enc(&wire::FriendRequestCreate { to: "carol".into() }));
    with("http_api", 1, req);
    with("http_api", 0, vec![29, 1, 0]); // GET /v1/ws as ann, no upgrade
    // picture: a small photo as a phone writes it (EXIF with an
    // orientation and a GPS pointer), the same as a PNG, and a preview.
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(24, 16, |x, y| {
        image::Rgb([(x * 10) as u8, (y * 15) as u8, 90])
    }));
    let mut jpeg = Vec::new();
    img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut jpeg, 80,
    ))
    .expect("a seed JPEG");
    let exif = b"Exif\0\0II*\0\x08\0\0\0\x02\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\
                 \x25\x88\x04\0\x01\0\0\0\x26\0\0\0\0\0\0\0GPS";
    let mut phone = jpeg[..2].to_vec();
    phone.extend_from_slice(&[0xff, 0xe1]);
    phone.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    phone.extend_from_slice(exif);
    phone.extend_from_slice(&jpeg[2..]);
    out.push(("picture", phone));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("a seed PNG");
    out.push(("picture", png));
    out.push(("picture", jpeg));
    out
}

/// A seed's bytes.
fn enc<T: Serialize>(value: &T) -> Vec<u8> {
    encode(value).expect("encode a seed")
}
