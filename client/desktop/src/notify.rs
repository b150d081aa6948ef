//! Desktop notifications for new messages while the window is in the
//! background (notify-rust: the freedesktop notification service over
//! D-Bus). Where no notification service runs, nothing is shown and
//! nothing fails. Only the sender's name and the start of the message are
//! shown, on the user's own screen.

/// Show a notification off the UI thread; quietly gives up without a
/// notification service.
pub fn show(title: &str, body: &str) {
    let (title, body) = (title.to_string(), body.to_string());
    std::thread::spawn(move || {
        let shown = notify_rust::Notification::new()
            .appname("OnionChat")
            .summary(&title)
            .body(&body)
            .show();
        if let Err(e) = shown {
            tracing::debug!(error = %e, "no desktop notifications here");
        }
    });
}
