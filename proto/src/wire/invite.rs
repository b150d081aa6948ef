//! Invite links: everything a new member needs, in one string a person can
//! paste or scan.
//!
//! `onionchat://<address>/<code>[/<auth-key>]`
//!
//! - `address`: `<56 base32 chars>.onion` (or `host:port` for a development
//!   node on TCP);
//! - `code`: the invite code (base32, 26 characters);
//! - `auth-key`: for nodes with restricted discovery, the 32-byte x25519
//!   client-authorization secret in unpadded base32 (52 characters), the
//!   encoding C tor's `.auth_private` files use.
//!
//! Every character is in QR's alphanumeric set once upper-cased, so the
//! QR form ([`InviteLink::to_qr_text`]) is the same link in capitals;
//! parsing is case-insensitive.

use std::fmt;

/// A parsed invite link. Its `Debug` form leaves the code and access key
/// out (both are secrets until used).
#[derive(Clone, PartialEq, Eq)]
pub struct InviteLink {
    /// `xxx.onion` or `host:port` (lower case).
    pub address: String,
    /// Invite code (upper case).
    pub code: String,
    /// Restricted-discovery key (upper-case base32), if the node needs one.
    pub auth_key: Option<String>,
}

impl fmt::Debug for InviteLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InviteLink")
            .field("address", &self.address)
            .field("code", &"<redacted>")
            .field("auth_key", &self.auth_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Why a string is not an invite link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an OnionChat invite: {0}")]
pub struct InviteParseError(&'static str);

const SCHEME: &str = "onionchat://";

fn is_base32(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

impl InviteLink {
    /// Parse a link (any case, surrounding whitespace ignored).
    pub fn parse(s: &str) -> Result<Self, InviteParseError> {
        let s = s.trim();
        if s.len() > 512 {
            return Err(InviteParseError("too long"));
        }
        let lower = s.to_ascii_lowercase();
        let rest = lower
            .strip_prefix(SCHEME)
            .ok_or(InviteParseError("must start with onionchat://"))?;
        let start = s.len() - rest.len();
        let parts: Vec<&str> = s[start..].split('/').collect();
        let (address, code, auth) = match parts.as_slice() {
            [a, c] => (*a, *c, None),
            [a, c, k] => (*a, *c, Some(*k)),
            _ => return Err(InviteParseError("expected onionchat://ADDRESS/CODE[/KEY]")),
        };
        let address = address.to_ascii_lowercase();
        if let Some(host) = address.strip_suffix(".onion") {
            if host.len() != 56 || !is_base32(&host.to_ascii_uppercase()) {
                return Err(InviteParseError(
                    "the onion address is not 56 base32 characters",
                ));
            }
        } else if address
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok())
            .is_none()
        {
            return Err(InviteParseError(
                "the address is neither .onion nor host:port",
            ));
        }
        let code = code.to_ascii_uppercase();
        if !is_base32(&code) || code.len() > 64 {
            return Err(InviteParseError("the invite code is not base32"));
        }
        let auth_key = match auth {
            Some(k) => {
                let k = k.to_ascii_uppercase();
                if k.len() != 52 || !is_base32(&k) {
                    return Err(InviteParseError(
                        "the access key is not 52 base32 characters",
                    ));
                }
                Some(k)
            }
            None => None,
        };
        Ok(InviteLink {
            address,
            code,
            auth_key,
        })
    }

    /// The link in upper case, for a QR code's alphanumeric mode.
    pub fn to_qr_text(&self) -> String {
        self.to_string().to_ascii_uppercase()
    }

    /// Base URL of the node's API (`http://address`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl fmt::Display for InviteLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.address, self.code)?;
        if let Some(k) = &self.auth_key {
            write!(f, "/{k}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ONION: &str = "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion";

    #[test]
    fn round_trips_and_qr_form() {
        let l = InviteLink {
            address: ONION.into(),
            code: "ABCDEFGHIJKLMNOPQRSTUVWXYZ".into(),
            auth_key: Some("A".repeat(52)),
        };
        assert_eq!(InviteLink::parse(&l.to_string()), Ok(l.clone()));
        assert_eq!(InviteLink::parse(&l.to_qr_text()), Ok(l.clone()));
        assert!(
            l.to_qr_text()
                .bytes()
                .all(|b| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&b))
        );
        let tcp = InviteLink::parse("onionchat://127.0.0.1:8480/ABC234").expect("tcp");
        assert_eq!(tcp.base_url(), "http://127.0.0.1:8480");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "http://x.onion/ABC",
            "onionchat://short.onion/ABC",
            "onionchat://127.0.0.1/ABC",
            "onionchat://127.0.0.1:80/abc!",
            "onionchat://127.0.0.1:80/ABC/short",
            "onionchat://127.0.0.1:80",
        ] {
            assert!(InviteLink::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,600}") {
            let _ = InviteLink::parse(&s);
        }
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn debug_output_carries_no_secrets() {
        let link = InviteLink {
            address: "example.onion".into(),
            code: "SECRETCODE".into(),
            auth_key: Some("SECRETKEY".into()),
        };
        let shown = format!("{link:?}");
        assert!(shown.contains("example.onion"), "{shown}");
        assert!(!shown.contains("SECRET"), "{shown}");
        let session = crate::wire::Session {
            token: "deadbeefsecret".into(),
            user: crate::wire::UserInfo {
                user_id: crate::wire::UserId(1),
                username: "ann".into(),
                public_key: vec![],
                fingerprint: crate::wire::Fingerprint([0; 32]),
                is_owner: true,
                created_at: 0,
                removed: false,
            },
            expires_at: 1,
        };
        let shown = format!("{session:?}");
        assert!(
            shown.contains("ann") && !shown.contains("deadbeef"),
            "{shown}"
        );
    }
}
