//! Where the apps' logs go: Arti's warnings (it retries quietly and the
//! apps say in one plain line what Tor is doing) and the core's, into a
//! file in the user's cache folder for when something needs looking into —
//! not onto the terminal, which gets only what `terminal` lets through
//! (or `RUST_LOG`, for developers).

use std::path::PathBuf;

use tracing_subscriber::prelude::*;
use tracing_subscriber::{EnvFilter, fmt};

/// The log file `name` in the user's cache folder
/// (`~/.cache/onionchat/<name>` on Linux), opened for appending.
fn log_file(name: &str) -> Option<(PathBuf, std::fs::File)> {
    let dir = directories::ProjectDirs::from("org", "OnionChat", "onionchat")?
        .cache_dir()
        .to_path_buf();
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    Some((path, file))
}

/// Log warnings and errors of everything to the file `name`, and to the
/// terminal what `terminal` (an `EnvFilter` directive) or `RUST_LOG` lets
/// through. Returns the file's path when there is one.
pub fn init(name: &str, terminal: &str) -> Option<PathBuf> {
    let terminal = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(terminal));
    let file = log_file(name);
    let path = file.as_ref().map(|(p, _)| p.clone());
    let to_file = file.map(|(_, file)| {
        fmt::layer()
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .with_filter(EnvFilter::new("warn"))
    });
    tracing_subscriber::registry()
        .with(
            fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(terminal),
        )
        .with(to_file)
        .init();
    path
}
