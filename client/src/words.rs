//! Plain words for people, shared by the command line and the desktop app:
//! sizes, times, counts, and what went wrong with what to do next.
//!
//! Machine forms (`--json`, logs) keep raw numbers and error codes; what a
//! person reads goes through here, so the CLI and the app say the same
//! thing the same way.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use onionchat_proto::wire::ErrorCode;

use crate::error::ClientError;

/// "999 bytes", "1.5 MB", "2.0 GB" (powers of 1,000, as file managers show).
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    match (unit, bytes) {
        (0, 1) => "1 byte".into(),
        (0, _) => format!("{bytes} bytes"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

/// "Sun 6 Dec 2026, 14:02" for a time in ms since the Unix epoch, in `tz`.
pub fn time_in(ms: u64, tz: &TimeZone) -> String {
    let ts = Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    ts.to_zoned(tz.clone())
        .strftime("%a %-d %b %Y, %H:%M")
        .to_string()
}

/// [`time_in`] the computer's own time zone.
pub fn local_time(ms: u64) -> String {
    time_in(ms, &TimeZone::system())
}

/// "1 user", "3 users".
pub fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A span of time in the largest unit, rounded: "3 days", "1 hour",
/// "5 minutes", "less than a minute" (a span just short of two days, as
/// a new invite's is a moment later, reads "2 days").
pub fn duration(ms: u64) -> String {
    if ms < 60_000 {
        return "less than a minute".into();
    }
    match (ms + 30_000) / 60_000 {
        m if m < 60 => count(m, "minute", "minutes"),
        m if m < 48 * 60 => count((m + 30) / 60, "hour", "hours"),
        m => count((m + 720) / (24 * 60), "day", "days"),
    }
}

/// What an I/O failure means, for the thing named in the sentence.
fn io_words(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound => "it does not exist".into(),
        K::PermissionDenied => "you do not have permission".into(),
        K::IsADirectory => "it is a folder, not a file".into(),
        K::AlreadyExists => "it already exists".into(),
        K::StorageFull => "the disk is full".into(),
        K::ReadOnlyFilesystem => "the disk is read-only".into(),
        _ => e.to_string(),
    }
}

/// Upper-case the first letter (the node's messages start in lower case).
fn sentence(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// What went wrong and what to do next, in a sentence or two.
pub fn explain(e: &ClientError) -> String {
    match e {
        ClientError::Api(api) => {
            let said = sentence(api.message.trim_end_matches('.'));
            match api.code {
                ErrorCode::UsernameTaken => {
                    format!("{said}. Pick another name and try again.")
                }
                ErrorCode::InviteInvalid => "This invite does not work any more: it was used, \
                     withdrawn, or it expired. Ask for a new one."
                    .into(),
                ErrorCode::NotFound => format!("{said}. Check the spelling and try again."),
                ErrorCode::Unauthorized | ErrorCode::ChallengeInvalid => format!(
                    "The box did not let you in ({said}). Try again; if it keeps \
                     happening, the box's owner may have removed your account."
                ),
                ErrorCode::Forbidden | ErrorCode::Conflict | ErrorCode::Invalid => {
                    format!("{said}.")
                }
                ErrorCode::RateLimited => {
                    "You are doing that too often. Wait a minute and try again.".into()
                }
                ErrorCode::QuotaExceeded => "Your space on the box is used up. Delete some \
                     files you sent, or ask the box's owner for more space."
                    .into(),
                ErrorCode::StorageFull => "The box's memory card is full, so it takes nothing \
                     new; reading still works. Ask the box's owner to free space."
                    .into(),
                ErrorCode::TooLarge => format!("That is too big for the box ({said})."),
                ErrorCode::StaleEpoch | ErrorCode::RekeyRequired => {
                    "The room changed while you were sending. Try again.".into()
                }
                ErrorCode::Timeout | ErrorCode::Unavailable | ErrorCode::Internal => {
                    "The box could not do it just now (nothing was changed). Try again in \
                     a moment."
                        .into()
                }
                _ => format!("The box refused: {said}."),
            }
        }
        ClientError::Connect(why) => format!(
            "Cannot reach the box ({why}). Check that this computer is online and that \
             the box is plugged in; where Tor is blocked, it cannot connect at all."
        ),
        ClientError::WrongPassphrase => "That passphrase does not open this profile. Type it \
             again (it is case-sensitive)."
            .into(),
        ClientError::KeyChanged { username, .. } => format!(
            "{username}'s key has changed, so nothing goes to or comes from them until you \
             compare safety numbers with them."
        ),
        ClientError::Untrusted(what) => format!(
            "Refused what the box said: {what}. Nothing was sent. If this keeps happening, \
             tell the box's owner."
        ),
        ClientError::Io { context, source } => {
            format!("{}: {}.", sentence(context), io_words(source))
        }
        other => format!("{}.", sentence(other.to_string().trim_end_matches('.'))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onionchat_proto::wire::ApiError;

    #[test]
    fn sizes_times_and_counts_read_well() {
        assert_eq!(size(1), "1 byte");
        assert_eq!(size(999), "999 bytes");
        assert_eq!(size(3_000_000), "3.0 MB");
        // 2026-03-02 12:05 UTC.
        assert_eq!(
            time_in(1_772_453_100_000, &TimeZone::UTC),
            "Mon 2 Mar 2026, 12:05"
        );
        assert_eq!(count(1, "user", "users"), "1 user");
        assert_eq!(count(3, "user", "users"), "3 users");
        assert_eq!(duration(30_000), "less than a minute");
        assert_eq!(duration(5 * 60_000), "5 minutes");
        assert_eq!(duration(7 * 86_400_000), "7 days");
        assert_eq!(duration(3 * 3_600_000), "3 hours");
        assert_eq!(duration(48 * 3_600_000 - 5_000), "2 days");
    }

    #[test]
    fn errors_say_what_happened_and_what_to_do() {
        let api = |code, msg: &str| ClientError::Api(ApiError::new(code, msg));
        assert_eq!(
            explain(&api(ErrorCode::NotFound, "no user named 'nobody'")),
            "No user named 'nobody'. Check the spelling and try again."
        );
        assert!(
            explain(&api(
                ErrorCode::UsernameTaken,
                "the username 'ann' is taken"
            ))
            .contains("Pick another name")
        );
        assert!(!explain(&api(ErrorCode::RateLimited, "x")).contains("RateLimited"));
        let io = ClientError::io("cannot open holiday.jpg")(std::io::Error::from(
            std::io::ErrorKind::NotFound,
        ));
        assert_eq!(explain(&io), "Cannot open holiday.jpg: it does not exist.");
        assert!(explain(&ClientError::WrongPassphrase).contains("passphrase"));
    }
}
