//! Smoke test of the real window: the app binary under Xvfb (an X server
//! without a screen), drawn by the CPU renderer, saves a screenshot of
//! itself and exits. The test command installs Xvfb; without it this test
//! fails rather than skipping.

use std::process::Command;

#[test]
fn the_window_opens_under_xvfb_and_draws() {
    let tmp = tempfile::tempdir().expect("tmp");
    let shot = tmp.path().join("window.png");
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24"])
        .arg(env!("CARGO_BIN_EXE_onionchat-desktop"))
        .arg("--profiles")
        .arg(tmp.path().join("profiles"))
        .arg("--screenshot")
        .arg(&shot)
        .arg("--no-notifications")
        .env("HOME", tmp.path())
        .output()
        .expect("xvfb-run (apt-get install xvfb xauth) runs");
    assert!(
        out.status.success(),
        "the app failed under Xvfb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&shot).expect("a PNG screenshot").to_rgba8();
    assert_eq!(img.dimensions(), (1000, 700), "the window's size");
    // Not a blank frame: a light background with dark text on it.
    let dark = img
        .pixels()
        .filter(|p| p[0] < 80 && p[1] < 80 && p[2] < 80)
        .count();
    let light = img
        .pixels()
        .filter(|p| p[0] > 230 && p[1] > 230 && p[2] > 230)
        .count();
    let total = (img.width() * img.height()) as usize;
    assert!(light > total / 2, "mostly background: {light} of {total}");
    assert!(dark > 500, "text was drawn: {dark} dark pixels");
    if let Some(dir) = std::env::var_os("ONIONCHAT_SCREENSHOTS") {
        std::fs::copy(&shot, std::path::Path::new(&dir).join("window.png")).expect("copy");
    }
}

#[test]
fn the_launcher_names_the_binary_the_icon_and_the_window_it_ships_with() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let desktop = std::fs::read_to_string(dir.join("assets/onionchat.desktop")).expect("launcher");
    let field = |key: &str| {
        desktop
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}= in the launcher"))
            .to_string()
    };
    assert_eq!(desktop.lines().next(), Some("[Desktop Entry]"));
    assert_eq!(field("Type"), "Application");
    // Exec runs the binary the package installs in /usr/bin.
    let exec = field("Exec");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_onionchat-desktop"));
    assert_eq!(
        exec,
        bin.file_name().and_then(|n| n.to_str()).expect("name")
    );
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
    assert!(manifest.contains(&format!(
        "[\"target/release/{exec}\", \"usr/bin/\", \"755\"]"
    )));
    // The icon it names is the one the package installs.
    let icon = field("Icon");
    assert!(dir.join(format!("assets/{icon}.svg")).is_file());
    assert!(manifest.contains(&format!(
        "[\"assets/{icon}.svg\", \"usr/share/icons/hicolor/scalable/apps/\", \"644\"]"
    )));
    // The window's app id (main.rs) is the launcher's StartupWMClass.
    let main = std::fs::read_to_string(dir.join("src/main.rs")).expect("main.rs");
    assert!(main.contains(&format!(
        "application_id: \"{}\".into()",
        field("StartupWMClass")
    )));
    // An SVG that parses as XML with a root <svg> element.
    let svg = std::fs::read_to_string(dir.join(format!("assets/{icon}.svg"))).expect("svg");
    assert!(svg.trim_start().starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
}
