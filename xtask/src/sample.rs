//! `cargo xtask sample`: the precision sample, drawn the same way every time.
//!
//! The pool is every warning and error of the `lock/*` rules that the
//! release binary reports on each of the given top-level directories of the
//! kernel tree, each checked on its own with the tree as root (gcc format,
//! tree-relative paths), sorted. The sample is `--count` findings of the
//! pool drawn with a seeded shuffle: the same binary, directories and seed
//! give the same sample. The default directories are those outside mm/,
//! kernel/ and fs/, where the rules were first tuned.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::recall::{split_list, Flags, SplitMix64};

const USAGE: &str = "usage: cargo xtask sample --seed N [--count N] [--dirs a,b,...] [--pool FILE]";

/// The directories sampled by default.
const DEFAULT_DIRS: &[&str] = &[
    "arch", "virt", "samples", "tools", "init", "certs", "scripts", "usr", "rust", "drivers",
];

struct Options {
    seed: u64,
    count: usize,
    dirs: Vec<String>,
    pool: Option<std::path::PathBuf>,
}

fn parse_options(flags: &[String]) -> Result<Options> {
    let mut seed = None;
    let mut options = Options {
        seed: 0,
        count: 25,
        dirs: DEFAULT_DIRS.iter().map(|d| (*d).to_owned()).collect(),
        pool: None,
    };
    let mut flags = Flags::new(flags, USAGE);
    while let Some(flag) = flags.next_flag() {
        match flag {
            "--seed" => seed = Some(flags.number(flag)?),
            "--count" => options.count = flags.number(flag)?,
            "--dirs" => options.dirs = split_list(flags.value(flag)?),
            "--pool" => options.pool = Some(flags.value(flag)?.into()),
            other => return Err(flags.unexpected(other)),
        }
    }
    options.seed = seed.with_context(|| format!("a seed is needed\n{USAGE}"))?;
    Ok(options)
}

pub fn run(flags: &[String]) -> Result<()> {
    let options = parse_options(flags)?;
    let tree = crate::kernel::kernel_tree()?;
    let binary = crate::release_binary()?;
    let mut pool = Vec::new();
    for dir in &options.dirs {
        pool.extend(findings(&binary, &tree, dir)?);
        eprintln!("sample: {dir}/: pool {}", pool.len());
    }
    pool.sort();
    if let Some(path) = &options.pool {
        std::fs::write(path, pool.join("\n") + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let sample = draw(&pool, options.seed, options.count);
    println!(
        "# seed {}, {} of a pool of {} (lock/* warnings and errors in {})",
        options.seed,
        sample.len(),
        pool.len(),
        options.dirs.join(" ")
    );
    for (i, finding) in sample.iter().enumerate() {
        println!("{}\t{finding}", i + 1);
    }
    Ok(())
}

/// The `lock/*` warnings and errors of one directory, checked on its own.
fn findings(binary: &Path, tree: &Path, dir: &str) -> Result<Vec<String>> {
    let out = Command::new(binary)
        .current_dir(tree)
        .args(["check", dir, "--root", ".", "--only", "lock/*"])
        .args(["--format", "gcc", "-q"])
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    // Findings make it exit 1; 2 is a usage error.
    if out.status.code() == Some(2) {
        bail!(
            "lockwarden check {dir} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(": warning: ") || l.contains(": error: "))
        .map(str::to_owned)
        .collect())
}

/// `count` items of `pool` in a seeded order.
fn draw(pool: &[String], seed: u64, count: usize) -> Vec<String> {
    let mut order: Vec<&String> = pool.iter().collect();
    SplitMix64::new(seed).shuffle(&mut order);
    order.into_iter().take(count).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_draws_the_same_sample_and_another_seed_another() {
        let pool: Vec<String> = (0..100).map(|i| format!("f.c:{i}:1: warning: x")).collect();
        let a = draw(&pool, 20261210, 25);
        assert_eq!(a, draw(&pool, 20261210, 25));
        assert_ne!(a, draw(&pool, 20261211, 25));
        assert_eq!(a.len(), 25);
        let mut unique = a.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 25, "a sample has no finding twice");
        assert_eq!(
            draw(&pool[..3], 1, 25).len(),
            3,
            "a small pool is drawn whole"
        );
    }
}
