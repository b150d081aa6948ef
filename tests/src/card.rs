//! The appliance's SD card as the person flashing it sees it: the image's
//! FAT boot partition (label ONIONBOOT), where Raspberry Pi Imager and
//! people with `dd` leave settings (`firstrun.sh`, `cmdline.txt`,
//! `onionchat-setup.txt`). Read and written with mtools, without mounting.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A private copy of the image (the built one stays untouched), with the
/// kernel and initrd beside it where [`crate::guest::Guest`] looks.
pub struct Card {
    /// The raw card image.
    pub image: PathBuf,
}

/// Where the first (boot) partition of `image` starts and how long it is,
/// in bytes.
pub fn boot_partition(image: &Path) -> (u64, u64) {
    let out = Command::new("sfdisk")
        .arg("-J")
        .arg(image)
        .output()
        .expect("sfdisk");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("sfdisk -J");
    let sector = json["partitiontable"]["sectorsize"].as_u64().unwrap_or(512);
    let p = &json["partitiontable"]["partitions"][0];
    let start = p["start"].as_u64().expect("boot partition start");
    let size = p["size"].as_u64().expect("boot partition size");
    (start * sector, size * sector)
}

/// `name` from the FAT file system at byte `offset` of `fat` (None when it
/// is not there).
pub fn read_fat_file(fat: &Path, offset: u64, name: &str) -> Option<Vec<u8>> {
    let out = Command::new("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-n")
        .arg("-i")
        .arg(format!("{}@@{offset}", fat.display()))
        .arg(format!("::{name}"))
        .arg("-")
        .output()
        .expect("mcopy (apt-get install mtools)");
    out.status.success().then_some(out.stdout)
}

impl Card {
    /// Copy `image` into `dir` (sparse: seconds, not 1.6 GB of writes).
    pub fn copy_of(image: &Path, dir: &Path) -> Card {
        std::fs::create_dir_all(dir).expect("dir");
        let copy = dir.join("card.img");
        let ok = Command::new("cp")
            .arg("--sparse=always")
            .arg(image)
            .arg(&copy)
            .status()
            .expect("cp");
        assert!(ok.success(), "copying the image failed");
        for ext in ["vmlinuz", "initrd"] {
            let _ = std::fs::remove_file(copy.with_extension(ext));
            std::os::unix::fs::symlink(image.with_extension(ext), copy.with_extension(ext))
                .expect("symlink");
        }
        Card { image: copy }
    }

    /// Put `name` with `bytes` on the boot partition (replacing it).
    pub fn write_boot_file(&self, name: &str, bytes: &[u8]) {
        let (offset, _) = boot_partition(&self.image);
        let tmp = self.image.with_file_name(format!("upload-{name}"));
        std::fs::write(&tmp, bytes).expect("temp file");
        let ok = Command::new("mcopy")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-o", "-n", "-i"])
            .arg(format!("{}@@{offset}", self.image.display()))
            .arg(&tmp)
            .arg(format!("::{name}"))
            .status()
            .expect("mcopy");
        assert!(ok.success(), "mcopy {name} onto the card failed");
        let _ = std::fs::remove_file(tmp);
    }

    /// `name` on the boot partition as flashed.
    pub fn read_boot_file(&self, name: &str) -> Option<Vec<u8>> {
        let (offset, _) = boot_partition(&self.image);
        read_fat_file(&self.image, offset, name)
    }
}
