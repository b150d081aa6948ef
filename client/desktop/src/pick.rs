//! The system's own file dialogs (through the desktop portal, so they look
//! like the rest of the desktop and work inside a sandbox). Each returns
//! `None` when the user closes the dialog, or when there is no portal to
//! ask — the typed path and drag and drop still work then.

use std::path::PathBuf;

/// Ask for a file to open, showing `filter`'s extensions first if given.
pub async fn open_file(
    title: String,
    filter: Option<(&'static str, &'static [&'static str])>,
) -> Option<PathBuf> {
    let mut dialog = rfd::AsyncFileDialog::new().set_title(title);
    if let Some((name, extensions)) = filter {
        dialog = dialog.add_filter(name, extensions);
    }
    dialog.pick_file().await.map(|f| f.path().to_path_buf())
}

/// Ask where to save a file, suggesting `name`.
pub async fn save_file(title: String, name: String) -> Option<PathBuf> {
    rfd::AsyncFileDialog::new()
        .set_title(title)
        .set_file_name(name)
        .save_file()
        .await
        .map(|f| f.path().to_path_buf())
}
