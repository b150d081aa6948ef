//! The long crash runs (not part of the test suite):
//!
//! - `onionchat-crash [--kills N] [--seed S] [--max-run-ms MS]` kills the
//!   node binary here with SIGKILL N times under concurrent sends and
//!   uploads;
//! - `onionchat-crash --power-cuts N --image dist/onionchat-pi-arm64.img`
//!   runs the same load against the appliance image booted under emulation
//!   and cuts its power (kills the emulator) N times.
//!
//! Both check that nothing acknowledged is lost, doubled or damaged (see
//! `onionchat_tests::crash`) and exit 1 on any anomaly.

use std::time::Duration;

use onionchat_tests::crash::{CrashOptions, CrashReport, run, run_on};
use onionchat_tests::guest::PoweredBox;

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == name)?;
    Some(args.get(i + 1)?.as_str())
}

fn number(args: &[String], name: &str) -> Option<u64> {
    arg(args, name).map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} needs a number, not {v:?}"))
    })
}

fn print(report: &CrashReport, what: &str, secs: f64) {
    println!(
        "| {what} | acked messages | cut-off sends (stored whole) | acked files | file downloads verified | messages in final read | anomalies | time |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} ({}) | {} | {} | {} | {} | {:.0} s |",
        report.kills,
        report.acked_messages,
        report.unacked_sends,
        report.unacked_stored,
        report.acked_files,
        report.files_verified,
        report.messages_in_final_read,
        report.anomalies.len(),
        secs
    );
    if let Some(m) = report.node_memory_bytes {
        println!(
            "\nNode RSS after the final read: {:.1} MiB.",
            m as f64 / 1048576.0
        );
    }
    for a in &report.anomalies {
        println!("anomaly: {a}");
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "usage: onionchat-crash [--kills N (100)] [--seed S] [--max-run-ms MS (1500)]\n       \
             onionchat-crash --power-cuts N --image IMG [--seed S] [--max-run-ms MS (8000)]"
        );
        return;
    }
    let tmp = tempfile::tempdir().expect("scratch dir");
    let power_cuts = number(&args, "--power-cuts");
    let opts = CrashOptions {
        kills: power_cuts
            .or_else(|| number(&args, "--kills"))
            .unwrap_or(100) as u32,
        seed: number(&args, "--seed").unwrap_or_else(onionchat_proto::now_ms),
        // Under full emulation a message takes tens of ms: longer phases,
        // paced below the box's default rate limit.
        max_run_ms: number(&args, "--max-run-ms").unwrap_or(if power_cuts.is_some() {
            8000
        } else {
            1500
        }),
        dir: tmp.path().to_path_buf(),
        progress: true,
        pace: power_cuts.map(|_| Duration::from_millis(60)),
    };
    let started = std::time::Instant::now();
    let report = if power_cuts.is_some() {
        let image = arg(&args, "--image").expect("--power-cuts needs --image FILE");
        eprintln!(
            "cutting the emulated box's power {} times (seed {}, load phases up to {} ms)",
            opts.kills, opts.seed, opts.max_run_ms
        );
        let (mut target, invite) =
            PoweredBox::start(std::path::Path::new(image), &tmp.path().join("box")).await;
        let report = run_on(&mut target, &invite, &opts).await;
        let boots = &target.boot_secs;
        let mean = boots.iter().sum::<f64>() / boots.len().max(1) as f64;
        let max = boots.iter().copied().fold(0.0, f64::max);
        eprintln!(
            "{} boots, boot → node ready: mean {mean:.1} s, max {max:.1} s",
            boots.len()
        );
        print(&report, "power cuts", started.elapsed().as_secs_f64());
        report
    } else {
        eprintln!(
            "killing the node {} times (seed {}, load phases up to {} ms)",
            opts.kills, opts.seed, opts.max_run_ms
        );
        let report = run(&opts).await;
        print(&report, "kills", started.elapsed().as_secs_f64());
        report
    };
    if !report.anomalies.is_empty() {
        std::process::exit(1);
    }
}
