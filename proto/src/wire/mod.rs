//! Plain types for every HTTP body and WebSocket frame of the API.
//!
//! Encoding rules (see `docs/protocol.md`): structs are CBOR maps with text
//! keys named as the Rust fields; binary fields are CBOR byte strings; enums
//! that cross the wire as frames are maps with a `"type"` key.

mod account;
mod admin;
mod error;
mod files;
mod friends;
mod ids;
mod invite;
mod messages;
mod rooms;
mod ws;

pub use account::*;
pub use admin::*;
pub use error::*;
pub use files::*;
pub use friends::*;
pub use ids::*;
pub use invite::*;
pub use messages::*;
pub use rooms::*;
pub use ws::*;

/// A body plus a signature over exactly those bytes (with a domain prefix,
/// see [`crate::crypto::SignContext`]). The body is kept as bytes so the
/// signature never depends on re-serialization.
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Signed {
    /// CBOR encoding of the signed structure.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// RSA-PSS signature over `prefix || body`.
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode};
    use proptest::prelude::*;

    /// For each wire type: encode → decode gives the same value, and random
    /// bytes fed to its decoder give an error or a value, never a panic.
    macro_rules! wire_props {
        ($($name:ident: $t:ty),* $(,)?) => {
            proptest! {
                #![proptest_config(ProptestConfig::with_cases(64))]
                $(
                    #[test]
                    fn $name(v in any::<$t>(), junk in proptest::collection::vec(any::<u8>(), 0..256)) {
                        let bytes = encode(&v).expect("encode");
                        let back: $t = decode(&bytes).expect("decode");
                        prop_assert_eq!(back, v);
                        let _ = decode::<$t>(&junk);
                        // Every strict prefix is an error, not a panic or a different value.
                        if bytes.len() > 1 {
                            prop_assert!(decode::<$t>(&bytes[..bytes.len() / 2]).is_err());
                        }
                    }
                )*
            }
        };
    }

    wire_props! {
        signed: Signed,
        server_info: ServerInfo,
        signup_body: SignupBody,
        signup_response: SignupResponse,
        challenge_request: ChallengeRequest,
        challenge: Challenge,
        login_body: LoginBody,
        session: Session,
        user_info: UserInfo,
        friend_request_create: FriendRequestCreate,
        friend_request: FriendRequest,
        friend_request_list: FriendRequestList,
        accept_friend_request: AcceptFriendRequest,
        friend_list: FriendList,
        room: Room,
        key_grant_body: KeyGrantBody,
        roster_body: RosterBody,
        roster_chain: RosterChain,
        leave_room: LeaveRoom,
        create_room: CreateRoom,
        rekey: Rekey,
        room_list: RoomList,
        room_keys: RoomKeys,
        message_body: MessageBody,
        message_content: MessageContent,
        stored_message: StoredMessage,
        send_message: SendMessage,
        send_ack: SendAck,
        history: History,
        set_read_marker: SetReadMarker,
        read_markers: ReadMarkers,
        file_header_body: FileHeaderBody,
        file_upload_start: FileUploadStart,
        file_info: FileInfo,
        create_invite: CreateInvite,
        invite: Invite,
        invite_list: InviteList,
        member_list: MemberList,
        node_status: NodeStatus,
        api_error: ApiError,
        client_frame: ClientFrame,
        server_frame: ServerFrame,
    }

    #[test]
    fn error_codes_have_stable_names_and_statuses() {
        let e = ApiError::new(ErrorCode::StaleEpoch, "x");
        let v: serde_cbor::Value =
            serde_cbor::from_slice(&encode(&e).expect("encode")).expect("cbor");
        let text = format!("{v:?}");
        assert!(text.contains("stale_epoch"), "{text}");
        assert_eq!(ErrorCode::StaleEpoch.http_status(), 409);
        assert_eq!(ErrorCode::TooLarge.http_status(), 413);
        assert_eq!(ErrorCode::RateLimited.http_status(), 429);
    }

    #[test]
    fn frames_are_tagged_maps() {
        let f = ClientFrame::Ping { nonce: 7 };
        let v: serde_cbor::Value =
            serde_cbor::from_slice(&encode(&f).expect("encode")).expect("cbor");
        let text = format!("{v:?}");
        assert!(
            text.contains("\"type\"") && text.contains("\"ping\""),
            "{text}"
        );
    }
}
