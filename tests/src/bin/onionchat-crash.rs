//! The long crash run (not part of the test suite):
//! `onionchat-crash [--kills N] [--seed S] [--max-run-ms MS]`.
//! Kills the node with SIGKILL N times under concurrent sends and uploads
//! and checks that nothing acknowledged is lost, doubled or damaged (see
//! `onionchat_tests::crash`). Exits 1 on any anomaly.

use onionchat_tests::crash::{CrashOptions, run};

fn arg(args: &[String], name: &str) -> Option<u64> {
    let i = args.iter().position(|a| a == name)?;
    let v = args.get(i + 1)?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name} needs a number, not {v:?}")),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: onionchat-crash [--kills N (100)] [--seed S] [--max-run-ms MS (1500)]");
        return;
    }
    let tmp = tempfile::tempdir().expect("scratch dir");
    let opts = CrashOptions {
        kills: arg(&args, "--kills").unwrap_or(100) as u32,
        seed: arg(&args, "--seed").unwrap_or_else(onionchat_proto::now_ms),
        max_run_ms: arg(&args, "--max-run-ms").unwrap_or(1500),
        dir: tmp.path().to_path_buf(),
        progress: true,
    };
    eprintln!(
        "killing the node {} times (seed {}, load phases up to {} ms)",
        opts.kills, opts.seed, opts.max_run_ms
    );
    let started = std::time::Instant::now();
    let report = run(&opts).await;
    println!(
        "| kills | acked messages | cut-off sends (stored whole) | acked files | file downloads verified | messages in final read | anomalies | time |"
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
        started.elapsed().as_secs_f64()
    );
    for a in &report.anomalies {
        println!("anomaly: {a}");
    }
    if !report.anomalies.is_empty() {
        std::process::exit(1);
    }
}
