//! What Tor is doing while it connects, in one plain line for a person,
//! and when that line is worth saying again — shared by the box (its log
//! and screen) and the command line, so both say it the same way.

use std::time::{Duration, Instant};

use arti_client::status::{BlockageKind, BootstrapStatus};

/// Whose network a line about Tor is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The OnionChat box.
    Box,
    /// The computer the app runs on.
    Computer,
}

/// What to check when Tor is stuck, for the person at `place`.
pub fn advice(kind: &BlockageKind, place: Place) -> &'static str {
    use BlockageKind as K;
    match (kind, place) {
        (K::Offline, Place::Box) => "check the box's network cable or Wi-Fi",
        (K::Offline, Place::Computer) => "check that this computer is online",
        (K::Filtering, _) => {
            "this network seems to block Tor (some workplaces, hotels and countries do)"
        }
        (K::ClockSkewed, Place::Box) => "the box's clock is wrong; check its date and time",
        (K::ClockSkewed, Place::Computer) => {
            "this computer's clock is wrong; check its date and time"
        }
        _ => "check the internet connection; Tor may be blocked on this network",
    }
}

/// One bootstrap event, read for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 0–100.
    pub percent: u8,
    /// Ready to connect.
    pub ready: bool,
    /// Stuck, and why (Arti's reason and what to check).
    pub stuck: Option<String>,
    /// "Tor: connecting, 40 % (…)" or "Tor: stuck at 8 % — …".
    pub line: String,
}

/// Read a bootstrap status event.
pub fn step(ev: &BootstrapStatus, place: Place) -> Step {
    let ready = ev.ready_for_traffic();
    let percent = if ready {
        100
    } else {
        (ev.as_frac() * 100.0).round().clamp(0.0, 99.0) as u8
    };
    let stuck = ev.blocked().map(|b| {
        // The kind says it once ("our internet connection seems
        // filtered"); Arti's message often says the same again.
        let kind = b.kind().to_string();
        let mut why = kind.clone();
        let message = b.message().to_string();
        if !similar(&kind, &message) {
            why = format!("{why} ({message})");
        }
        format!("{} — {}", lower_first(&why), advice(&b.kind(), place))
    });
    let line = if ready {
        "Tor: connected".to_string()
    } else if let Some(why) = &stuck {
        format!("Tor: stuck at {percent} % — {why}")
    } else {
        // Arti's own words, without its leading "N%: ".
        let text = ev.to_string();
        let what = text.split_once(": ").map_or(text.as_str(), |(_, w)| w);
        format!("Tor: connecting, {percent} % ({what})")
    };
    Step {
        percent,
        ready,
        stuck,
        line,
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Whether two phrases say the same (ignoring case, spaces and "to be").
fn similar(a: &str, b: &str) -> bool {
    let squash = |s: &str| {
        s.to_lowercase()
            .replace(" to be", "")
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
    };
    let (a, b) = (squash(a), squash(b));
    a == b || a.contains(&b) || b.contains(&a)
}

/// How often an unchanged line is said again.
pub const REPEAT: Duration = Duration::from_secs(30);

/// Decides which lines to say: the first, progress of 10 % or more, a
/// change between connecting and stuck, and the same line again after
/// [`REPEAT`] without news.
#[derive(Debug, Default)]
pub struct Teller {
    last: Option<(u8, bool, Instant)>,
}

impl Teller {
    /// Whether `step` is worth a line now.
    pub fn news(&mut self, step: &Step) -> bool {
        let stuck = step.stuck.is_some();
        let say = match self.last {
            None => true,
            Some((p, was_stuck, _)) => {
                step.ready || step.percent >= p.saturating_add(10) || was_stuck != stuck
            }
        };
        if say {
            self.last = Some((step.percent, stuck, Instant::now()));
        }
        say
    }

    /// Whether the last line is due again (nothing new for [`REPEAT`]).
    pub fn again(&mut self) -> bool {
        match self.last {
            Some((p, s, at)) if at.elapsed() >= REPEAT => {
                self.last = Some((p, s, Instant::now()));
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_reason_is_said_once() {
        assert!(similar(
            "Our internet connection seems filtered",
            "our internet connection seems to be filtered"
        ));
        assert!(!similar(
            "Can't reach the Tor network",
            "clock skew of 3 hours"
        ));
        assert_eq!(lower_first("Our net"), "our net");
    }

    #[test]
    fn lines_are_said_on_news_not_on_every_event() {
        let s = |percent, stuck: bool| Step {
            percent,
            ready: false,
            stuck: stuck.then(|| "x".into()),
            line: String::new(),
        };
        let mut t = Teller::default();
        assert!(t.news(&s(0, false)));
        assert!(!t.news(&s(5, false)));
        assert!(t.news(&s(10, false)));
        assert!(t.news(&s(10, true)));
        assert!(!t.news(&s(12, true)));
        assert!(!t.again(), "not yet due");
    }
}
