//! `onionchat-desktop`: the OnionChat desktop app.

use std::path::PathBuf;

use clap::Parser;
use onionchat_desktop::{App, Options};

/// OnionChat — private chat through your own box at home.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Keep profiles here instead of the standard place.
    #[arg(long, env = "ONIONCHAT_PROFILES")]
    profiles: Option<PathBuf>,
    /// Arti state directory (default: your cache dir).
    #[arg(long)]
    tor_state: Option<PathBuf>,
    /// Arti configuration of a private Tor network (tests and demos).
    #[arg(long, env = "ONIONCHAT_TOR_NETWORK")]
    tor_network: Option<PathBuf>,
    /// Save received files here (default: your Downloads folder).
    #[arg(long)]
    downloads: Option<PathBuf>,
    /// No desktop notifications.
    #[arg(long)]
    no_notifications: bool,
    /// Take a screenshot of the window once it has drawn, save it as PNG
    /// here and exit (used by the smoke test).
    #[arg(long)]
    screenshot: Option<PathBuf>,
}

fn main() -> iced::Result {
    // Arti's and the core's warnings go to
    // ~/.cache/onionchat/onionchat-desktop.log; the window says what matters.
    onionchat_client::logging::init("onionchat-desktop.log", "off,onionchat_desktop=warn");
    let args = Args::parse();
    let mut options = Options::standard();
    if let Some(p) = args.profiles {
        options.places.profiles_dir = p;
    }
    options.places.tor_state_dir = args.tor_state;
    options.places.tor_network = args.tor_network;
    if let Some(d) = args.downloads {
        options.downloads_dir = d;
    }
    options.notifications = !args.no_notifications;
    let screenshot = args.screenshot;
    iced::application(
        move || {
            let (app, task) = App::new(options.clone());
            let task = match &screenshot {
                Some(path) => {
                    task.chain(onionchat_desktop::app::screenshot_then_exit(path.clone()))
                }
                None => task,
            };
            (app, task)
        },
        App::update,
        App::view,
    )
    .title(App::title)
    .subscription(App::subscription)
    .theme(App::theme)
    .window(iced::window::Settings {
        size: iced::Size::new(1000.0, 700.0),
        min_size: Some(iced::Size::new(720.0, 480.0)),
        // Matches StartupWMClass in onionchat.desktop, so the launcher's
        // icon is the window's.
        platform_specific: iced::window::settings::PlatformSpecific {
            application_id: "onionchat".into(),
            ..Default::default()
        },
        ..Default::default()
    })
    .run()
}
