//! Fixtures made once per fuzzing process: a sender's key and one real,
//! encrypted file (RSA key generation is far too slow per input).

use std::sync::OnceLock;

use onionchat_proto::crypto::file_stream::{FileOpener, FileSealer};
use onionchat_proto::crypto::{IdentityKey, RoomKey};
use onionchat_proto::wire::{FileId, RoomId, Signed};

/// A member whose key signs the fixtures.
pub struct Sender {
    /// Identity key.
    pub key: IdentityKey,
}

/// A small file sealed by [`sender`] in a fixed room.
pub struct File {
    /// Its room.
    pub room_id: RoomId,
    /// The room key of epoch 1.
    pub room_key: RoomKey,
    /// The signed header.
    pub header: Signed,
    /// Every ciphertext chunk, concatenated.
    pub ciphertext: Vec<u8>,
    /// What it opens to.
    pub plaintext: Vec<u8>,
    /// An opener past the header check (cloned per input: RSA
    /// verification per input would starve the fuzzer).
    pub opener: FileOpener,
}

/// The fixture sender.
pub fn sender() -> &'static Sender {
    static S: OnceLock<Sender> = OnceLock::new();
    S.get_or_init(|| Sender {
        key: IdentityKey::generate().expect("key generation"),
    })
}

/// The fixture file: three chunks of 1 KiB and a short last one, so cuts
/// and swaps at chunk borders are reachable.
pub fn file() -> &'static File {
    static F: OnceLock<File> = OnceLock::new();
    F.get_or_init(|| {
        let room_id = RoomId([7; 16]);
        let room_key = RoomKey::generate();
        let plaintext: Vec<u8> = (0..3 * 1024 + 100).map(|i| (i % 251) as u8).collect();
        let (header, mut sealer) = FileSealer::start(
            &sender().key,
            room_id,
            1,
            &room_key,
            FileId([9; 16]),
            plaintext.len() as u64,
            1024,
        )
        .expect("sealer");
        let mut ciphertext = sealer.push(&plaintext).expect("seal");
        ciphertext.extend(sealer.finish().expect("finish"));
        let key = room_key.clone();
        let (_, opener) = FileOpener::start(&header, sender().key.public(), room_id, |e| {
            (e == 1).then_some(key)
        })
        .expect("the fixture opens");
        File {
            opener,
            room_id,
            room_key,
            header,
            ciphertext,
            plaintext,
        }
    })
}
