//! Crypto benchmark: our RSA-3072 and AES-256-GCM next to `openssl speed` /
//! `openssl genpkey` on the same machine, as ratios.
//!
//! Run: `cargo bench -p onionchat-proto --bench crypto`.
//! Mapping to OpenSSL: keygen ↔ `genpkey rsa_keygen_bits:3072`; sign and
//! unwrap (private-key operations) ↔ `speed rsa3072` sign; verify and wrap
//! (public-key operations) ↔ `speed rsa3072` verify; AES-GCM ↔
//! `speed -evp aes-256-gcm` at the same block size.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use onionchat_proto::crypto::file_stream::{FileOpener, FileSealer};
use onionchat_proto::crypto::{IdentityKey, RoomKey, SignContext, aead};
use onionchat_proto::wire::{FileId, RoomId};

/// Mean seconds per call of `f`, running for about `budget`.
fn time_per_op(budget: Duration, min_iters: u32, mut f: impl FnMut()) -> f64 {
    f(); // warm up
    let start = Instant::now();
    let mut n = 0u32;
    while n < min_iters || start.elapsed() < budget {
        f();
        n += 1;
    }
    start.elapsed().as_secs_f64() / f64::from(n)
}

fn openssl_rsa3072() -> Option<(f64, f64)> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", "3", "rsa3072"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("rsa 3072 bits"))?;
    let nums: Vec<f64> = line
        .split_whitespace()
        .filter_map(|w| w.trim_end_matches('s').parse().ok())
        .collect();
    // rsa 3072 bits <sign s> <verify s> <sign/s> <verify/s>
    Some((*nums.get(1)?, *nums.get(2)?))
}

fn openssl_keygen() -> Option<f64> {
    let n = 5;
    let start = Instant::now();
    for _ in 0..n {
        let ok = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:3072",
                "-out",
                "/dev/null",
            ])
            .status()
            .ok()?
            .success();
        if !ok {
            return None;
        }
    }
    Some(start.elapsed().as_secs_f64() / f64::from(n))
}

/// OpenSSL AES-256-GCM throughput in MB/s at `block` bytes.
fn openssl_gcm(block: usize) -> Option<f64> {
    let out = Command::new("openssl")
        .args([
            "speed",
            "-seconds",
            "2",
            "-evp",
            "aes-256-gcm",
            "-bytes",
            &block.to_string(),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.to_ascii_lowercase().starts_with("aes-256-gcm"))?;
    let last = line.split_whitespace().last()?.trim_end_matches('k');
    Some(last.parse::<f64>().ok()? * 1000.0 / 1e6)
}

fn row(op: &str, ours: f64, theirs: Option<f64>, unit: &str, lower_is_better: bool, target: f64) {
    match theirs {
        Some(t) => {
            let ratio = ours / t;
            let ok = if lower_is_better {
                ratio <= target
            } else {
                ratio >= target
            };
            let goal = if lower_is_better {
                format!("≤ {target}×")
            } else {
                format!("≥ {target}×")
            };
            println!(
                "{op:<28} {ours:>12.3} {unit:<6} {t:>12.3} {unit:<6} {ratio:>7.2}×  target {goal:<7} {}",
                if ok { "met" } else { "MISSED" }
            );
        }
        None => println!(
            "{op:<28} {ours:>12.3} {unit:<6} {:>12} (openssl unavailable)",
            "-"
        ),
    }
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let budget = Duration::from_secs(3);
    println!(
        "OnionChat crypto benchmark (release build), {} ",
        std::env::consts::ARCH
    );
    println!(
        "{:<28} {:>19} {:>19} {:>8}",
        "operation", "ours", "openssl", "ratio"
    );

    let keygen = time_per_op(Duration::from_secs(10), 3, || {
        black_box(IdentityKey::generate().expect("keygen"));
    });
    row(
        "RSA-3072 keygen",
        keygen * 1e3,
        openssl_keygen().map(|s| s * 1e3),
        "ms",
        true,
        3.0,
    );

    let key = IdentityKey::generate().expect("keygen");
    let body = vec![7u8; 512];
    let sig = key.sign(SignContext::Message, &body).expect("sign");
    let sign = time_per_op(budget, 20, || {
        black_box(key.sign(SignContext::Message, &body).expect("sign"));
    });
    let verify = time_per_op(budget, 200, || {
        key.public()
            .verify(SignContext::Message, &body, &sig)
            .expect("verify");
    });
    let secret = [9u8; 32];
    let wrapped = key.public().wrap(&secret).expect("wrap");
    let wrap = time_per_op(budget, 200, || {
        black_box(key.public().wrap(&secret).expect("wrap"));
    });
    let unwrap = time_per_op(budget, 20, || {
        black_box(key.unwrap_secret(&wrapped).expect("unwrap"));
    });
    let ossl = openssl_rsa3072();
    row(
        "RSA-PSS sign",
        sign * 1e3,
        ossl.map(|(s, _)| s * 1e3),
        "ms",
        true,
        3.0,
    );
    row(
        "RSA-PSS verify",
        verify * 1e3,
        ossl.map(|(_, v)| v * 1e3),
        "ms",
        true,
        3.0,
    );
    row(
        "RSA-OAEP wrap (public op)",
        wrap * 1e3,
        ossl.map(|(_, v)| v * 1e3),
        "ms",
        true,
        3.0,
    );
    row(
        "RSA-OAEP unwrap (private)",
        unwrap * 1e3,
        ossl.map(|(s, _)| s * 1e3),
        "ms",
        true,
        3.0,
    );

    let k = [3u8; 32];
    let nonce = [1u8; 12];
    for block in [1024usize, 16 * 1024] {
        let pt = vec![0u8; block];
        let t = time_per_op(budget, 1000, || {
            black_box(aead::seal(&k, &nonce, b"aad", &pt).expect("seal"));
        });
        row(
            &format!("AES-256-GCM message {} KiB", block / 1024),
            block as f64 / t / 1e6,
            openssl_gcm(block),
            "MB/s",
            false,
            0.5,
        );
    }

    // File stream: 64 MiB through the sealer and the opener.
    let room_key = RoomKey::generate();
    let len = 64 * 1024 * 1024usize;
    let data = vec![5u8; 1024 * 1024];
    // Pre-fault the output buffer so page faults are not charged to the cipher.
    let mut ct: Vec<u8> = vec![1u8; len + len / 1024];
    ct.clear();
    let start = Instant::now();
    let (header, mut sealer) = FileSealer::start(
        &key,
        RoomId([1; 16]),
        1,
        &room_key,
        FileId([2; 16]),
        len as u64,
        64 * 1024,
    )
    .expect("start");
    for _ in 0..64 {
        ct.extend(sealer.push(&data).expect("push"));
    }
    ct.extend(sealer.finish().expect("finish"));
    let seal_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let rk = room_key.clone();
    let (_, mut opener) =
        FileOpener::start(&header, key.public(), RoomId([1; 16]), move |_| Some(rk)).expect("open");
    let mut n = 0usize;
    for piece in ct.chunks(1024 * 1024) {
        n += opener.push(piece).expect("push").len();
    }
    n += opener.finish().expect("finish").len();
    assert_eq!(n, len);
    let open_s = start.elapsed().as_secs_f64();
    let gcm64 = openssl_gcm(64 * 1024);
    row(
        "file stream encrypt (64 KiB)",
        len as f64 / seal_s / 1e6,
        gcm64,
        "MB/s",
        false,
        0.5,
    );
    row(
        "file stream decrypt (64 KiB)",
        len as f64 / open_s / 1e6,
        gcm64,
        "MB/s",
        false,
        0.5,
    );
}
