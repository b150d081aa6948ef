//! `fuzz-seeds DIR`: write each target's seed inputs into `DIR/<target>/`
//! (the corpus `cargo fuzz run` starts from; scripts/fuzz calls this).

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "fuzz/corpus".into());
    for (i, (target, bytes)) in onionchat_fuzz::seeds().into_iter().enumerate() {
        let d = dir.join(target);
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join(format!("seed-{i:02}")), bytes)?;
    }
    println!("seeds written to {}", dir.display());
    Ok(())
}
