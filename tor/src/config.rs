//! Arti's configuration for one OnionChat data directory.

use crate::bridges::Bridges;
use onionchat_fs::private_dir;
use std::path::{Path, PathBuf};

use arti_client::TorClientConfig;
use arti_client::config::{CfgPath, ConfigBuildError, TorClientConfigBuilder};

/// Why Arti's configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The private-network file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file named in the configuration.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The private-network file is not Arti TOML.
    #[error("{} is not an Arti configuration: {source}", path.display())]
    Parse {
        /// The file named in the configuration.
        path: PathBuf,
        /// Where the TOML went wrong.
        source: toml::de::Error,
    },
    /// Arti's state or cache directory could not be made private.
    #[error("cannot prepare the Tor directory {}: {source}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A bridge line that is not one.
    #[error(
        "'{line}' is not a bridge line ({reason}); a bridge line looks like 'obfs4 192.0.2.1:443 FINGERPRINT cert=… iat-mode=0'"
    )]
    BadBridge {
        /// The start of the line.
        line: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A bridge line for a transport we cannot run.
    #[error(
        "bridges of the '{transport}' kind are not supported here; use obfs4 bridges (or plain ones)"
    )]
    UnsupportedTransport {
        /// The transport named in the line.
        transport: String,
    },
    /// obfs4 bridges need a program that is not there.
    #[error("obfs4 bridges need the obfs4proxy program, {}", match given {
        Some(p) => format!("and {} is not there", p.display()),
        None => "which is not installed: sudo apt install obfs4proxy (or name the program with transport_program)".into(),
    })]
    NoTransportProgram {
        /// The path configured, if one was.
        given: Option<PathBuf>,
    },
    /// Arti rejected the resulting configuration.
    #[error("bad Tor configuration: {0}")]
    Build(#[from] ConfigBuildError),
}

/// Arti's configuration with its state (keys, guards) in `dir/state` and its
/// directory cache in `dir/cache`, both created `0700` (Arti refuses
/// directories others can read).
///
/// `network` names an Arti TOML file that points at a private Tor network
/// (its authorities and fallback caches); without it Arti uses the public
/// Tor network. With `bridges`, Arti reaches that network only through
/// them.
pub fn arti_config(
    dir: &Path,
    network: Option<&Path>,
    bridges: &Bridges,
) -> Result<TorClientConfig, ConfigError> {
    let mut builder: TorClientConfigBuilder = match network {
        Some(file) => {
            let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
                path: file.to_path_buf(),
                source,
            })?;
            toml::from_str(&text).map_err(|source| ConfigError::Parse {
                path: file.to_path_buf(),
                source,
            })?
        }
        None => TorClientConfigBuilder::default(),
    };
    for sub in ["state", "cache"] {
        let path = dir.join(sub);
        private_dir(&path).map_err(|source| ConfigError::Dir { path, source })?;
    }
    builder
        .storage()
        .state_dir(CfgPath::new_literal(dir.join("state")))
        .cache_dir(CfgPath::new_literal(dir.join("cache")));
    bridges.apply(&mut builder)?;
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn public_network_with_private_dirs() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("tor");
        arti_config(&dir, None, &Bridges::default()).expect("config");
        for sub in ["state", "cache"] {
            let mode = std::fs::metadata(dir.join(sub))
                .expect("dir")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700, "{sub}");
        }
    }

    #[test]
    fn reports_a_missing_network_file() {
        let tmp = tempfile::tempdir().expect("tmp");
        let missing = tmp.path().join("net.toml");
        let err =
            arti_config(tmp.path(), Some(&missing), &Bridges::default()).expect_err("missing");
        assert!(matches!(err, ConfigError::Read { ref path, .. } if *path == missing));
        assert!(err.to_string().contains("net.toml"), "{err}");
    }

    #[test]
    fn reports_a_file_that_is_not_arti_toml() {
        let tmp = tempfile::tempdir().expect("tmp");
        let file = tmp.path().join("net.toml");
        std::fs::write(&file, "tor_network = [unclosed").expect("write");
        let err = arti_config(&tmp.path().join("tor"), Some(&file), &Bridges::default())
            .expect_err("bad");
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
    }

    #[test]
    fn reads_a_private_network() {
        let tmp = tempfile::tempdir().expect("tmp");
        let file = tmp.path().join("net.toml");
        std::fs::write(
            &file,
            "[address_filter]\nallow_local_addrs = true\n[path_rules]\nipv4_subnet_family_prefix = 33\n",
        )
        .expect("write");
        let config =
            arti_config(&tmp.path().join("tor"), Some(&file), &Bridges::default()).expect("config");
        // The file's settings survive next to our storage paths.
        let text = format!("{config:?}");
        assert!(text.contains("allow_local_addrs: true"), "{text}");
    }
}
