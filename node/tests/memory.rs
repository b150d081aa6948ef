//! `memory::trim` really gives memory back (a test binary of its own: RSS is
//! process-wide, so no other test may allocate meanwhile).

/// Resident set size of this process in KiB, as the node reports its own.
fn rss_kib() -> u64 {
    onionchat_node::status::resident_bytes().expect("VmRSS") / 1024
}

/// A burst's pattern: many mid-sized buffers (WebSocket buffers, frames),
/// freed while something allocated after them stays, so that glibc cannot
/// shrink the heap from the top by itself.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn freed_memory_below_a_live_allocation_goes_back() {
    const MIB: u64 = 1024;
    let mut blocks: Vec<Vec<u8>> = (0..2048).map(|_| vec![1u8; 16 * 1024]).collect();
    let keep = vec![2u8; 16 * 1024];
    let before = rss_kib();
    blocks.clear();
    blocks.shrink_to_fit();
    let freed = rss_kib();
    // 32 MiB were freed, and glibc kept them: the situation the node is in
    // after a burst. (If glibc ever returns them by itself, this says so.)
    assert!(
        freed + 16 * MIB > before,
        "glibc returned the memory by itself ({before} → {freed} KiB)"
    );
    assert!(onionchat_node::memory::trim(), "nothing was released");
    let trimmed = rss_kib();
    assert!(
        trimmed + 24 * MIB < freed,
        "trim released too little: {freed} → {trimmed} KiB"
    );
    assert_eq!(keep[0], 2);
}
