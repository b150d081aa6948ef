//! Test vectors cross-checked with an independent implementation (Python's
//! `cryptography` + `cbor2`, see tests/vectors/crosscheck.py), both ways.

use std::path::{Path, PathBuf};
use std::process::Command;

use onionchat_tests::bin_path;

fn vectors_dir() -> PathBuf {
    // Cargo sets this when it runs the test; prefer it to the compile-time
    // value, which names another checkout when a shared target dir hands
    // this one a binary built elsewhere.
    let root = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf());
    root.join("vectors")
}

fn python(args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .arg(vectors_dir().join("crosscheck.py"))
        .args(args)
        .output()
        .expect("python3 must be installed (the README test command installs it with cryptography and cbor2)")
}

fn rust(args: &[&str]) -> std::process::Output {
    Command::new(bin_path("onionchat-vectors"))
        .args(args)
        .output()
        .expect("vectors tool")
}

fn ok(out: std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn committed_rust_vectors_verify_in_rust_and_python() {
    let committed = vectors_dir().join("rust-made.json");
    let p = committed.to_str().expect("path");
    ok(rust(&["verify", p]), "Rust verifying the committed vectors");
    ok(
        python(&["verify", p]),
        "Python verifying the committed vectors",
    );
}

#[test]
fn fresh_vectors_cross_check_both_ways() {
    let tmp = tempfile::tempdir().expect("tmp");
    let ours = tmp.path().join("rust.json");
    let theirs = tmp.path().join("python.json");
    ok(
        rust(&["generate", ours.to_str().expect("path")]),
        "Rust generating",
    );
    ok(
        python(&["verify", ours.to_str().expect("path")]),
        "Python verifying fresh Rust vectors",
    );
    ok(
        python(&["generate", theirs.to_str().expect("path")]),
        "Python generating",
    );
    ok(
        rust(&["verify", theirs.to_str().expect("path")]),
        "Rust verifying Python vectors",
    );
}

#[test]
fn both_verifiers_reject_a_tampered_vector() {
    let tmp = tempfile::tempdir().expect("tmp");
    let text = std::fs::read_to_string(vectors_dir().join("rust-made.json")).expect("vectors");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    // Flip one bit of the message body (inside the signed bytes).
    let body = v["message"]["body"].as_str().expect("body").to_string();
    let mut bytes = hex::decode(&body).expect("hex");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    v["message"]["body"] = serde_json::Value::String(hex::encode(bytes));
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_string(&v).expect("json")).expect("write");
    assert!(
        !rust(&["verify", bad.to_str().expect("path")])
            .status
            .success(),
        "Rust accepted a tampered message"
    );
    assert!(
        !python(&["verify", bad.to_str().expect("path")])
            .status
            .success(),
        "Python accepted a tampered message"
    );
}
