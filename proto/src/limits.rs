//! Size caps on every input path. Both sides enforce them; the node answers
//! anything larger with `413 too_large`.

/// Largest CBOR request or response body of the HTTP API (not file data).
pub const MAX_API_BODY: usize = 256 * 1024;
/// Largest WebSocket frame, in either direction.
pub const MAX_WS_FRAME: usize = 160 * 1024;
/// Largest message ciphertext (the encrypted [`crate::wire::MessageContent`]).
pub const MAX_MESSAGE_CIPHERTEXT: usize = 128 * 1024;
/// Deepest CBOR nesting any decoder accepts.
pub const MAX_CBOR_DEPTH: usize = 16;
/// Longest username, in bytes.
pub const MAX_USERNAME: usize = 32;
/// Shortest username, in bytes.
pub const MIN_USERNAME: usize = 3;
/// Most members of one room.
pub const MAX_ROOM_MEMBERS: usize = 64;
/// Plaintext bytes per file chunk.
pub const FILE_CHUNK_SIZE: u32 = 64 * 1024;
/// Most messages one history page returns.
pub const MAX_HISTORY_PAGE: u32 = 500;
/// Most bytes of stored messages one history page carries (a page ends
/// early, with `has_more`, rather than grow past it; it always carries at
/// least one message). 500 maximum-size messages would be 63 MiB — one
/// such answer must not take a 512 MiB box's memory.
pub const MAX_HISTORY_BYTES: usize = 2 * 1024 * 1024;
/// Most void counters one message may declare ([`crate::wire::MessageBody::void`]).
pub const MAX_VOID_COUNTERS: usize = 64;
/// Longest reply excerpt, in bytes.
pub const MAX_EXCERPT: usize = 200;
/// Longest reaction, in bytes (one emoji, with its modifiers).
pub const MAX_REACTION: usize = 32;
/// Longest group name, in bytes.
pub const MAX_ROOM_NAME: usize = 64;
/// Largest picture preview carried in a message, in bytes.
pub const MAX_PREVIEW_BYTES: usize = 24 * 1024;
/// Longest side of a picture preview, in pixels.
pub const MAX_PREVIEW_SIDE: u32 = 480;
