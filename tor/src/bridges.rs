//! Bridges: how the box and the apps reach Tor where Tor is blocked.
//!
//! A bridge is a Tor relay that is not in the public list, so a censor
//! cannot block it by that list; an obfs4 bridge also hides that the
//! connection is Tor at all, through a pluggable transport program
//! (`obfs4proxy` or its successor `lyrebird`) that Arti starts when it
//! needs it. People get bridge lines from <https://bridges.torproject.org>,
//! by e-mail (bridges@torproject.org) or from a friend whose Tor works.

use std::path::{Path, PathBuf};

use arti_client::config::pt::TransportConfigBuilder;
use arti_client::config::{BridgeConfigBuilder, CfgPath, TorClientConfigBuilder};

use crate::config::ConfigError;

/// Where to find the bridges and the transport program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bridges {
    /// Bridge lines as Tor Browser and bridges.torproject.org give them:
    /// `obfs4 IP:PORT FINGERPRINT cert=… iat-mode=0`, or `IP:PORT
    /// FINGERPRINT` for a plain bridge; a leading `Bridge` is allowed.
    /// Empty: connect to Tor directly.
    pub lines: Vec<String>,
    /// The obfs4 program; when not given it is looked for on `PATH`
    /// (`lyrebird`, then `obfs4proxy`).
    pub transport_program: Option<PathBuf>,
}

/// The transport every bridge line with a transport must use: the only
/// one whose program Debian ships and we test.
pub const OBFS4: &str = "obfs4";

/// Programs that speak obfs4, newest name first.
const OBFS4_PROGRAMS: [&str; 2] = ["lyrebird", "obfs4proxy"];

impl Bridges {
    /// Whether any bridge is configured.
    pub fn enabled(&self) -> bool {
        !self.lines.is_empty()
    }

    /// Bridge lines from text: one per line; blank lines and `#` comments
    /// are skipped (what people paste from a web page or an e-mail).
    pub fn lines_from_text(text: &str) -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    }

    /// Check every line, and find the transport program if a line needs
    /// one; the first problem, in words.
    pub fn check(&self) -> Result<(), ConfigError> {
        let mut b = TorClientConfigBuilder::default();
        self.apply(&mut b)
    }

    /// Add the bridges (and the transport) to Arti's configuration.
    pub(crate) fn apply(&self, builder: &mut TorClientConfigBuilder) -> Result<(), ConfigError> {
        if !self.enabled() {
            return Ok(());
        }
        let mut needs_obfs4 = false;
        for line in &self.lines {
            let text = line.trim();
            let text = text.strip_prefix("Bridge ").unwrap_or(text).trim();
            let bridge: BridgeConfigBuilder = text.parse().map_err(|e| ConfigError::BadBridge {
                line: short(text),
                reason: format!("{e}"),
            })?;
            match bridge.get_transport() {
                None | Some("" | "-" | "bridge") => {}
                Some(OBFS4) => needs_obfs4 = true,
                Some(other) => {
                    return Err(ConfigError::UnsupportedTransport {
                        transport: other.to_string(),
                    });
                }
            }
            builder.bridges().bridges().push(bridge);
        }
        builder
            .bridges()
            .enabled(arti_client::config::BoolOrAuto::Explicit(true));
        if needs_obfs4 {
            let program = match &self.transport_program {
                Some(p) if p.is_file() => p.clone(),
                Some(p) => {
                    return Err(ConfigError::NoTransportProgram {
                        given: Some(p.clone()),
                    });
                }
                None => find_on_path(&OBFS4_PROGRAMS)
                    .ok_or(ConfigError::NoTransportProgram { given: None })?,
            };
            let mut transport = TransportConfigBuilder::default();
            transport
                .protocols(vec![OBFS4.parse().map_err(|e| ConfigError::BadBridge {
                    line: OBFS4.into(),
                    reason: format!("{e}"),
                })?])
                .path(CfgPath::new_literal(program))
                .run_on_startup(false);
            builder.bridges().transports().push(transport);
        }
        Ok(())
    }
}

/// The bridge lines kept in `path` (a `bridges.txt` of the CLI's profile or
/// the desktop app); none when there is no such file.
pub fn read_file(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| Bridges::lines_from_text(&t))
        .unwrap_or_default()
}

/// Keep `lines` in `path`, one per line (none: remove the file), for
/// [`read_file`]. Check them first ([`Bridges::check`]): this only writes.
pub fn write_file(path: &Path, lines: &[String]) -> std::io::Result<()> {
    if lines.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut text = String::from("# Bridges to Tor, one line each (see bridges.torproject.org).\n");
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(path, text)
}

/// The start of a line, for an error message (cert= values are long).
fn short(line: &str) -> String {
    let mut s: String = line.chars().take(60).collect();
    if s.len() < line.len() {
        s.push('…');
    }
    s
}

/// The first of `names` that is an executable file on `PATH`.
fn find_on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| is_executable(p))
    })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBFS4_LINE: &str = "obfs4 192.0.2.55:38114 316E643333645F6D79216558614D3931657A5F5F cert=YXJlIGZyZXF1ZW50bHkgZnVsbCBvZiBsaXR0bGUgbWVzc2FnZXMgeW91IGNhbiBmaW5kLg iat-mode=0";
    const PLAIN_LINE: &str = "192.0.2.66:443 316E643333645F6D79216558614D3931657A5F5F";

    #[test]
    fn kept_lines_read_back_and_none_removes_the_file() {
        let tmp = tempfile::tempdir().expect("tmp");
        let file = tmp.path().join("profile/bridges.txt");
        assert!(read_file(&file).is_empty(), "no file: directly");
        let lines = vec![format!("Bridge {OBFS4_LINE}"), PLAIN_LINE.to_string()];
        write_file(&file, &lines).expect("write");
        assert_eq!(read_file(&file), lines);
        write_file(&file, &[]).expect("clear");
        assert!(!file.exists());
        write_file(&file, &[]).expect("clearing twice is fine");
    }

    #[test]
    fn pasted_text_becomes_lines() {
        let text =
            format!("\n# from bridges.torproject.org\nBridge {OBFS4_LINE}\n\n  {PLAIN_LINE}  \n");
        assert_eq!(
            Bridges::lines_from_text(&text),
            [format!("Bridge {OBFS4_LINE}"), PLAIN_LINE.to_string()]
        );
    }

    #[test]
    fn plain_and_obfs4_lines_are_taken_with_a_transport_program() {
        let tmp = tempfile::tempdir().expect("tmp");
        let program = tmp.path().join("obfs4proxy");
        std::fs::write(&program, "#!/bin/sh\n").expect("program");
        let b = Bridges {
            lines: vec![format!("Bridge {OBFS4_LINE}"), PLAIN_LINE.into()],
            transport_program: Some(program),
        };
        b.check().expect("both lines are bridges");
        // Plain bridges need no program.
        Bridges {
            lines: vec![PLAIN_LINE.into()],
            transport_program: Some(tmp.path().join("missing")),
        }
        .check()
        .expect("a plain bridge");
    }

    #[test]
    fn a_bad_line_or_a_missing_program_is_said_plainly() {
        let bad = Bridges {
            lines: vec!["obfs4 not-an-address cert=x".into()],
            transport_program: None,
        };
        let e = bad.check().expect_err("not a bridge line").to_string();
        assert!(
            e.contains("not a bridge line") && e.contains("not-an-address"),
            "{e}"
        );

        let missing = Bridges {
            lines: vec![OBFS4_LINE.into()],
            transport_program: Some("/nonexistent/obfs4proxy".into()),
        };
        let e = missing.check().expect_err("no program").to_string();
        assert!(
            e.contains("/nonexistent/obfs4proxy") && e.contains("obfs4proxy"),
            "{e}"
        );

        let snowflake = Bridges {
            lines: vec![format!("snowflake {}", &OBFS4_LINE["obfs4 ".len()..])],
            transport_program: None,
        };
        let e = snowflake.check().expect_err("unsupported").to_string();
        assert!(e.contains("snowflake"), "{e}");
    }
}
