//! How times, sizes and fingerprints read in the window.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Local calendar day of a node time in milliseconds (for day separators).
pub fn day_of(ms: u64, tz: &TimeZone) -> jiff::civil::Date {
    to_zoned(ms, tz).date()
}

fn to_zoned(ms: u64, tz: &TimeZone) -> jiff::Zoned {
    let ts = Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    ts.to_zoned(tz.clone())
}

/// "Today", "Yesterday" or "Monday, 3 March 2026" for a day separator.
pub fn day_label(day: jiff::civil::Date, today: jiff::civil::Date) -> String {
    if day == today {
        "Today".into()
    } else if today.yesterday().ok() == Some(day) {
        "Yesterday".into()
    } else {
        day.strftime("%A, %-d %B %Y").to_string()
    }
}

/// "14:05" for a message time.
pub fn clock(ms: u64, tz: &TimeZone) -> String {
    to_zoned(ms, tz).strftime("%H:%M").to_string()
}

/// "1.5 MB" for a file size (the CLI says it the same way).
pub use onionchat_client::words::size;

/// A safety number in lines of four groups, as people read it aloud.
pub fn safety_lines(number: &str) -> Vec<String> {
    let groups: Vec<&str> = number.split_whitespace().collect();
    groups.chunks(4).map(|c| c.join(" ")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_named_relative_to_today() {
        let tz = TimeZone::UTC;
        // 2026-03-02 12:00 UTC and the day before.
        let noon = 1_772_452_800_000u64;
        let today = day_of(noon, &tz);
        assert_eq!(day_label(today, today), "Today");
        assert_eq!(
            day_label(day_of(noon - 86_400_000, &tz), today),
            "Yesterday"
        );
        assert_eq!(
            day_label(day_of(noon - 3 * 86_400_000, &tz), today),
            "Friday, 27 February 2026"
        );
        assert_eq!(clock(noon + 5 * 60_000, &tz), "12:05");
    }

    #[test]
    fn sizes_and_safety_numbers_read_well() {
        assert_eq!(size(999), "999 bytes");
        assert_eq!(size(1_500_000), "1.5 MB");
        let lines = safety_lines("11111 22222 33333 44444 55555 66666");
        assert_eq!(lines, vec!["11111 22222 33333 44444", "55555 66666"]);
    }
}
