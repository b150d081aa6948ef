//! The app's own settings (not secret, so not in a profile's vault): a
//! small TOML file beside the profiles, read at start and written when the
//! user changes something on the settings page.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What the settings page changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Show a desktop notification for a new message while the window is
    /// in the background.
    pub notifications: bool,
    /// The dark theme instead of the light one.
    pub dark: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            notifications: true,
            dark: false,
        }
    }
}

impl Settings {
    /// Where they live: `settings.toml` in the profiles folder.
    pub fn path(profiles_dir: &std::path::Path) -> PathBuf {
        profiles_dir.join("settings.toml")
    }

    /// Read them (defaults when there is no file or it does not parse: a
    /// broken settings file must never keep anyone from their chats).
    pub fn load(profiles_dir: &std::path::Path) -> Settings {
        std::fs::read_to_string(Self::path(profiles_dir))
            .ok()
            .and_then(|s| toml::from_str(&s).ok())
            .unwrap_or_default()
    }

    /// Write them.
    pub fn save(&self, profiles_dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(profiles_dir)?;
        let text = toml::to_string(self).map_err(std::io::Error::other)?;
        std::fs::write(Self::path(profiles_dir), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_a_broken_file_gives_the_defaults() {
        let tmp = tempfile::tempdir().expect("tmp");
        assert_eq!(Settings::load(tmp.path()), Settings::default());
        let s = Settings {
            notifications: false,
            dark: true,
        };
        s.save(tmp.path()).expect("save");
        assert_eq!(Settings::load(tmp.path()), s);
        std::fs::write(Settings::path(tmp.path()), "dark = \"very\"").expect("write");
        assert_eq!(Settings::load(tmp.path()), Settings::default());
    }
}
