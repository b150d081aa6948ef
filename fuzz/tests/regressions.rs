//! Every input in `fuzz/regressions/<target>/` — crashes the fuzzers found
//! (kept after the fix) and hand-made edge cases — through its target, on
//! stable, as part of the test suite.

use std::path::Path;

#[test]
fn every_saved_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut ran = 0;
    for (name, target) in onionchat_fuzz::TARGETS {
        let dir = root.join(name);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{name} has no saved inputs");
        for input in inputs {
            let data = std::fs::read(&input).expect("read input");
            eprintln!("{name}: {}", input.display());
            target(&data);
            ran += 1;
        }
    }
    eprintln!("{ran} saved inputs passed");
}

/// The seeds the decoders' fuzzers start from (valid frames, bodies,
/// signed objects, message contents) go through their targets cleanly too.
/// (A `file_stream` seed is the genuine header, which that target's
/// "forged header" mode rightly refuses to see open: not replayed here.)
#[test]
fn every_decoder_seed_passes_its_target() {
    let mut ran = 0;
    for (name, data) in onionchat_fuzz::seeds() {
        if name == "file_stream" {
            continue;
        }
        let (_, target) = onionchat_fuzz::TARGETS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("a seed for {name}, which is no target"));
        target(&data);
        ran += 1;
    }
    assert!(ran >= 20, "only {ran} seeds");
}
