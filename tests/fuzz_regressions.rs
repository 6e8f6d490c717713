//! The fuzz targets' inputs kept in `fuzz/regressions/<target>/`, run on the
//! stable toolchain as part of the test suite: each input goes through the
//! same entry point its cargo-fuzz target drives (`fuzz/fuzz_targets/`), and
//! must come back without a panic. A crash found by fuzzing is added here
//! before it is fixed; the directory also keeps a sample of each target's
//! corpus, inputs that reached new code when they were found.

use std::path::{Path, PathBuf};

use lockwarden_cli::{mbox, patch};
use lockwarden_rules::{builtin, Checker};

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files
}

/// Runs `entry` on every input of `target`, naming the inputs that panic.
fn run_all(target: &str, entry: impl Fn(&[u8])) {
    let mut panicked = Vec::new();
    for path in inputs(target) {
        let data = std::fs::read(&path).expect("read input");
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| entry(&data))).is_err() {
            panicked.push(path.display().to_string());
        }
    }
    assert!(panicked.is_empty(), "panicked on: {panicked:#?}");
}

#[test]
fn check_c() {
    let checker = Checker::new(builtin::config().expect("built-in rules load"));
    run_all("check_c", |data| {
        let _ = checker.check(vec![("fuzz.c".into(), data.to_vec())]);
    });
}

#[test]
fn rule_file() {
    run_all("rule_file", |data| {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = lockwarden_rules::file::parse("fuzz.toml", text);
        }
    });
}

#[test]
fn mbox_patch() {
    run_all("mbox_patch", |data| {
        let _ = mbox::parse(data);
        if let Ok(files) = patch::parse(data) {
            for fp in &files {
                let _ = patch::apply(data, fp);
            }
        }
    });
}
