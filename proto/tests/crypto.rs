//! Round trips and tamper tests of the end-to-end crypto.

use std::sync::OnceLock;

use onionchat_proto::codec::{decode, encode};
use onionchat_proto::crypto::file_stream::{FileOpener, FileSealer, ciphertext_len};
use onionchat_proto::crypto::room_key::{make_grant, open_grant};
use onionchat_proto::crypto::{
    IdentityKey, OpenError, PublicIdentity, RoomKey, SignContext, at_rest, message,
};
use onionchat_proto::wire::{
    FileId, MessageBody, MessageContent, MsgId, RoomId, RosterHash, Signed, UserId,
};
use proptest::prelude::*;

/// Three identities, generated once (RSA-3072 keygen is slow).
fn keys() -> &'static [IdentityKey; 3] {
    static KEYS: OnceLock<[IdentityKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let gen_key = || IdentityKey::generate().expect("keygen");
        [gen_key(), gen_key(), gen_key()]
    })
}

const ROOM: RoomId = RoomId([7; 16]);

fn text(s: &str) -> MessageContent {
    MessageContent::Text { text: s.into() }
}

fn sealed(sender: &IdentityKey, key: &RoomKey, epoch: u32, msg: &str) -> Signed {
    let at = message::Position {
        stream: 5,
        counter: 1,
        roster: onionchat_proto::wire::RosterRef {
            version: 1,
            hash: onionchat_proto::wire::RosterHash([7; 32]),
        },
    };
    message::seal(
        sender,
        ROOM,
        epoch,
        key,
        MsgId([9; 16]),
        at,
        1234,
        &text(msg),
    )
    .expect("seal")
}

fn open_as(
    env: &Signed,
    sender: &PublicIdentity,
    key: &RoomKey,
) -> Result<MessageContent, OpenError> {
    let key = key.clone();
    message::open(env, sender, ROOM, move |_| Some(key)).map(|(_, c)| c)
}

/// Re-sign a modified body as `signer`: what a malicious member could do.
fn resign(signer: &IdentityKey, body: &MessageBody) -> Signed {
    signer.sign_body(SignContext::Message, body).expect("sign")
}

#[test]
fn public_keys_are_canonical_and_checked() {
    let k = &keys()[0];
    let der = k.public().spki_der();
    let back = PublicIdentity::from_spki_der(der).expect("parse");
    assert_eq!(back.fingerprint(), k.fingerprint());
    assert!(PublicIdentity::from_spki_der(&der[..der.len() - 1]).is_err());
    assert!(PublicIdentity::from_spki_der(b"not a key").is_err());
}

#[test]
fn signatures_are_bound_to_their_context() {
    let k = &keys()[0];
    let sig = k.sign(SignContext::Login, b"hello").expect("sign");
    k.public()
        .verify(SignContext::Login, b"hello", &sig)
        .expect("verify");
    assert!(
        k.public()
            .verify(SignContext::Message, b"hello", &sig)
            .is_err()
    );
    assert!(
        k.public()
            .verify(SignContext::Login, b"hellp", &sig)
            .is_err()
    );
    assert!(
        keys()[1]
            .public()
            .verify(SignContext::Login, b"hello", &sig)
            .is_err()
    );
}

/// Signing (`rsa`) and verifying (`ring`) are two implementations of one
/// profile: PSS, SHA-256, MGF1-SHA-256, a 32-byte salt. Each must accept what
/// the other makes, and a PSS signature with another salt length — valid
/// RFC 8017, but not our profile — must be refused.
#[test]
fn signing_and_verifying_implementations_agree_on_the_profile() {
    use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
    let private = rsa::PrivateKey::new(&mut getrandom::SysRng, 3072).expect("keygen");
    let ours = IdentityKey::from_rsa(private.clone()).expect("identity");
    let signed = SignContext::Message.signed_bytes(b"body");

    // Ours signs, `rsa`'s own PSS verifier (the other implementation) accepts.
    let sig = ours.sign(SignContext::Message, b"body").expect("sign");
    let verifier = rsa::pss::VerifyingKey::<rsa::sha2::Sha256>::new(private.to_public_key());
    let parsed = rsa::pss::Signature::try_from(&sig[..]).expect("signature");
    verifier.verify(&signed, &parsed).expect("rsa accepts ours");

    // `rsa` signs with the profile's salt length: ours accepts.
    let theirs = rsa::pss::SigningKey::<rsa::sha2::Sha256>::new_with_salt_len(private.clone(), 32)
        .try_sign_with_rng(&mut getrandom::SysRng, &signed)
        .expect("sign")
        .to_vec();
    ours.public()
        .verify(SignContext::Message, b"body", &theirs)
        .expect("ours accepts rsa's");

    // Other salt lengths are refused, as is a flipped bit.
    for salt in [0, 20, 64] {
        let other =
            rsa::pss::SigningKey::<rsa::sha2::Sha256>::new_with_salt_len(private.clone(), salt)
                .try_sign_with_rng(&mut getrandom::SysRng, &signed)
                .expect("sign")
                .to_vec();
        assert!(
            ours.public()
                .verify(SignContext::Message, b"body", &other)
                .is_err(),
            "salt length {salt} accepted"
        );
    }
    let mut flipped = theirs.clone();
    flipped[100] ^= 1;
    assert!(
        ours.public()
            .verify(SignContext::Message, b"body", &flipped)
            .is_err()
    );
}

#[test]
fn private_key_at_rest_round_trip_and_wrong_passphrase() {
    let k = &keys()[0];
    let pem = at_rest::encrypt_pem(k, b"correct horse").expect("encrypt");
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let back = at_rest::decrypt_pem(&pem, b"correct horse").expect("decrypt");
    assert_eq!(back.fingerprint(), k.fingerprint());
    assert!(at_rest::decrypt_pem(&pem, b"wrong").is_err());
    assert!(at_rest::decrypt_pem(&pem[..pem.len() / 2], b"correct horse").is_err());
}

#[test]
fn grants_open_only_for_the_recipient_from_the_real_granter() {
    let [a, b, c] = keys();
    let key = RoomKey::generate();
    let grant =
        make_grant(a, ROOM, 1, RosterHash([3; 32]), UserId(2), b.public(), &key).expect("grant");
    let (body, got) = open_grant(b, &grant, a.public(), ROOM).expect("open");
    assert_eq!(got, key);
    assert_eq!(body.epoch, 1);
    // c cannot open it, a grant checked against the wrong granter fails, and
    // it cannot be moved to another room.
    assert!(open_grant(c, &grant, a.public(), ROOM).is_err());
    assert!(matches!(
        open_grant(b, &grant, c.public(), ROOM),
        Err(OpenError::SenderMismatch { .. })
    ));
    assert!(matches!(
        open_grant(b, &grant, a.public(), RoomId([1; 16])),
        Err(OpenError::WrongRoom { .. })
    ));
    // A node that swaps in a key it wrapped itself cannot sign as a member.
    let mut forged = grant.clone();
    let mut fb: onionchat_proto::wire::KeyGrantBody = decode(&forged.body).expect("decode");
    fb.wrapped_key = b.public().wrap(&[0u8; 32]).expect("wrap");
    forged.body = encode(&fb).expect("encode");
    assert!(matches!(
        open_grant(b, &forged, a.public(), ROOM),
        Err(OpenError::BadSignature { .. })
    ));
}

#[test]
fn message_replays_and_swaps_are_rejected() {
    let [a, b, _] = keys();
    let key = RoomKey::generate();
    let env = sealed(a, &key, 1, "hi");
    assert_eq!(open_as(&env, a.public(), &key).expect("open"), text("hi"));

    // Replay into another room.
    let k2 = key.clone();
    assert!(matches!(
        message::open(&env, a.public(), RoomId([8; 16]), move |_| Some(k2)),
        Err(OpenError::WrongRoom { .. })
    ));
    // Attributed to another sender.
    assert!(matches!(
        open_as(&env, b.public(), &key),
        Err(OpenError::SenderMismatch { .. })
    ));
    // A member (b) takes a's ciphertext and re-signs it as their own, or
    // moves it to another epoch, message id or room: the AAD no longer matches.
    let body: MessageBody = decode(&env.body).expect("decode");
    let mut as_b = body.clone();
    as_b.sender_fp = b.fingerprint();
    assert!(matches!(
        open_as(&resign(b, &as_b), b.public(), &key),
        Err(OpenError::Decrypt { .. })
    ));
    let mut other_epoch = body.clone();
    other_epoch.epoch = 2;
    assert!(matches!(
        open_as(&resign(a, &other_epoch), a.public(), &key),
        Err(OpenError::Decrypt { .. })
    ));
    let mut other_id = body.clone();
    other_id.msg_id = MsgId([1; 16]);
    assert!(matches!(
        open_as(&resign(a, &other_id), a.public(), &key),
        Err(OpenError::Decrypt { .. })
    ));
    let mut other_room = body.clone();
    other_room.room_id = RoomId([8; 16]);
    let k3 = key.clone();
    assert!(matches!(
        message::open(
            &resign(a, &other_room),
            a.public(),
            RoomId([8; 16]),
            move |_| Some(k3)
        ),
        Err(OpenError::Decrypt { .. })
    ));
    // Wrong key / unknown epoch.
    assert!(open_as(&env, a.public(), &RoomKey::generate()).is_err());
    assert!(matches!(
        message::open(&env, a.public(), ROOM, |_| None),
        Err(OpenError::UnknownEpoch(1))
    ));
}

/// `void` is signed, absent from the bytes when empty (bodies without it
/// are unchanged), and held to its rules by every decoder.
#[test]
fn void_counters_are_signed_bounded_and_below_the_counter() {
    let [ann, ..] = keys();
    let key = RoomKey::generate();
    let plain = sealed(ann, &key, 1, "hi");
    let body = message::decode(&plain).expect("decode");
    assert!(body.void.is_empty());
    let with = |void: Vec<u64>, counter: u64| {
        let mut b = body.clone();
        b.counter = counter;
        b.void = void;
        resign(ann, &b)
    };
    // Empty: the same bytes as a body that never had the field.
    assert_eq!(with(vec![], 1).body, plain.body);
    let ok = message::decode(&with(vec![2, 3], 4)).expect("valid void");
    assert_eq!(ok.void, vec![2, 3]);
    for (void, counter) in [
        (vec![4], 4),
        (vec![5], 4),
        (vec![0], 4),
        ((1..=65).collect(), 100),
    ] {
        assert!(
            matches!(
                message::decode(&with(void.clone(), counter)),
                Err(OpenError::Invalid { .. })
            ),
            "{void:?} at {counter}"
        );
    }
    // Changing it breaks the signature.
    let env = with(vec![2], 4);
    let mut b = message::decode(&env).expect("decode");
    b.void = vec![3];
    let forged = Signed {
        body: encode(&b).expect("enc"),
        signature: env.signature.clone(),
    };
    assert!(message::verify(&forged, ann.public(), ROOM).is_err());
}

fn file_round_trip(len: usize, chunk: u32, feed: usize) -> (Signed, Vec<u8>, Vec<u8>) {
    let a = &keys()[0];
    let key = RoomKey::generate();
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let (header, mut sealer) =
        FileSealer::start(a, ROOM, 1, &key, FileId([3; 16]), len as u64, chunk).expect("start");
    let mut ct = Vec::new();
    for piece in data.chunks(feed.max(1)) {
        ct.extend(sealer.push(piece).expect("push"));
    }
    ct.extend(sealer.finish().expect("finish"));
    assert_eq!(ct.len() as u64, ciphertext_len(len as u64, chunk));
    let k2 = key.clone();
    let (_, mut opener) =
        FileOpener::start(&header, a.public(), ROOM, move |_| Some(k2)).expect("open");
    let mut out = Vec::new();
    for piece in ct.chunks(feed.max(1) + 7) {
        out.extend(opener.push(piece).expect("push"));
    }
    out.extend(opener.finish().expect("finish"));
    assert_eq!(out, data);
    // keep the key for tamper tests
    (header, ct, key.as_bytes().to_vec())
}

fn open_file(header: &Signed, ct: &[u8], key: &[u8]) -> Result<Vec<u8>, OpenError> {
    let key = RoomKey::from_slice(key).expect("key");
    let (_, mut opener) = FileOpener::start(header, keys()[0].public(), ROOM, move |_| Some(key))?;
    let mut out = opener.push(ct)?;
    out.extend(opener.finish()?);
    Ok(out)
}

#[test]
fn file_stream_detects_truncation_reordering_and_extension() {
    let chunk = 1024u32;
    let (header, ct, key) = file_round_trip(3000, chunk, 500);
    let c = chunk as usize + 16;
    assert_eq!(open_file(&header, &ct, &key).expect("intact").len(), 3000);
    // Drop the last chunk: the stream ends early.
    assert!(open_file(&header, &ct[..2 * c], &key).is_err());
    // Drop bytes at the end.
    assert!(open_file(&header, &ct[..ct.len() - 1], &key).is_err());
    // Swap the first two chunks.
    let mut swapped = ct.clone();
    swapped[..c].copy_from_slice(&ct[c..2 * c]);
    swapped[c..2 * c].copy_from_slice(&ct[..c]);
    assert!(open_file(&header, &swapped, &key).is_err());
    // Extra data after the final chunk.
    let mut longer = ct.clone();
    longer.extend_from_slice(&[0; 40]);
    assert!(open_file(&header, &longer, &key).is_err());
    // A full-chunk file whose final chunk is marked non-final cannot be
    // made by truncating a longer one: 2 full chunks of a 3-chunk stream.
    let (h2, ct2, k2) = file_round_trip(2048, chunk, 2048);
    assert_eq!(open_file(&h2, &ct2, &k2).expect("intact").len(), 2048);
    // Header with a changed length fails its signature.
    let mut hb: onionchat_proto::wire::FileHeaderBody = decode(&header.body).expect("decode");
    hb.plaintext_len = 2048;
    let forged = Signed {
        body: encode(&hb).expect("encode"),
        signature: header.signature.clone(),
    };
    assert!(matches!(
        open_file(&forged, &ct[..2 * c], &key),
        Err(OpenError::BadSignature { .. })
    ));
}

#[test]
fn empty_file_and_resume() {
    let (h, ct, k) = file_round_trip(0, 1024, 1);
    assert_eq!(ct.len(), 16);
    assert!(open_file(&h, &ct, &k).expect("empty").is_empty());
    // Resume at chunk 2 of a 5-chunk file.
    let (h, ct, k) = file_round_trip(5000, 1024, 4096);
    let key = RoomKey::from_slice(&k).expect("key");
    let (_, mut opener) =
        FileOpener::start(&h, keys()[0].public(), ROOM, move |_| Some(key)).expect("start");
    opener.resume_at_chunk(2).expect("resume");
    let mut out = opener.push(&ct[2 * 1040..]).expect("push");
    out.extend(opener.finish().expect("finish"));
    let data: Vec<u8> = (0..5000usize).map(|i| (i * 31 % 251) as u8).collect();
    assert_eq!(out, data[2048..]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sign_verify_round_trip(body in proptest::collection::vec(any::<u8>(), 0..2000), who in 0usize..3) {
        let k = &keys()[who];
        let sig = k.sign(SignContext::Message, &body).expect("sign");
        prop_assert!(k.public().verify(SignContext::Message, &body, &sig).is_ok());
        prop_assert!(keys()[(who + 1) % 3].public().verify(SignContext::Message, &body, &sig).is_err());
    }

    #[test]
    fn wrap_unwrap_round_trip(secret in proptest::array::uniform32(any::<u8>()), who in 0usize..3) {
        let wrapped = keys()[who].public().wrap(&secret).expect("wrap");
        prop_assert_eq!(&keys()[who].unwrap_secret(&wrapped).expect("unwrap")[..], &secret[..]);
        prop_assert!(keys()[(who + 1) % 3].unwrap_secret(&wrapped).is_err());
    }

    #[test]
    fn seal_open_round_trip(msg in ".{0,300}", epoch in 1u32..5) {
        let key = RoomKey::generate();
        let env = sealed(&keys()[0], &key, epoch, &msg);
        prop_assert_eq!(open_as(&env, keys()[0].public(), &key).expect("open"), text(&msg));
    }

    #[test]
    fn any_bit_flip_is_rejected(bit in 0usize..4096, in_sig in any::<bool>()) {
        let key = RoomKey::generate();
        let mut env = sealed(&keys()[0], &key, 1, "tamper me");
        let target = if in_sig { &mut env.signature } else { &mut env.body };
        let i = bit % (target.len() * 8);
        target[i / 8] ^= 1 << (i % 8);
        prop_assert!(open_as(&env, keys()[0].public(), &key).is_err());
    }

    #[test]
    fn file_round_trip_any_size(len in 0usize..9000, chunk in 1024u32..3000, feed in 1usize..5000) {
        file_round_trip(len, chunk, feed);
    }

    #[test]
    fn decoders_never_panic(junk in proptest::collection::vec(any::<u8>(), 0..600)) {
        let s = Signed { body: junk.clone(), signature: junk.clone() };
        let _ = message::decode(&s);
        let _ = onionchat_proto::crypto::room_key::decode_grant(&s);
        let _ = onionchat_proto::crypto::file_stream::decode_header(&s);
        let _ = PublicIdentity::from_spki_der(&junk);
        let _ = at_rest::decrypt_pem(&String::from_utf8_lossy(&junk), b"x");
    }
}
