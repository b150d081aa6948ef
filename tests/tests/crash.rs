//! The short form of the crash harness (`onionchat_tests::crash`): the node
//! is killed with SIGKILL at random moments under concurrent sends and
//! uploads, and nothing acknowledged may be lost, doubled or damaged. The
//! long form is `onionchat-crash --kills 100` (docs/benchmark-history.md).

use onionchat_tests::crash::{CrashOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().expect("tmp");
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(onionchat_proto::now_ms);
    eprintln!("crash harness seed {seed} (CRASH_SEED={seed} repeats it)");
    let report = run(&CrashOptions {
        kills: 8,
        seed,
        max_run_ms: 1500,
        dir: tmp.path().to_path_buf(),
        progress: false,
        pace: None,
    })
    .await;
    eprintln!("{report:#?}");
    assert_eq!(report.kills, 8);
    assert!(
        report.anomalies.is_empty(),
        "seed {seed}: {:#?}",
        report.anomalies
    );
    // The run did what it claims: messages and files went through and were
    // checked again after the kills.
    assert!(report.acked_messages >= 8, "{report:#?}");
    assert!(
        report.unacked_sends >= 1,
        "no send was ever cut off: {report:#?}"
    );
    // Every text in the rooms is one that was acknowledged, or one whose
    // acknowledgement a kill cut off: nothing else appears.
    assert_eq!(
        report.texts_in_final_read,
        report.acked_messages + report.unacked_stored,
        "{report:#?}"
    );
    assert!(report.files_verified >= report.acked_files, "{report:#?}");
}
