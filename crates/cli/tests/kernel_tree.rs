//! Acceptance on the real kernel: Debian's linux-source-6.12, made available by
//! `cargo xtask kernel` (found through `LOCKWARDEN_KERNEL`, which `cargo xtask test`
//! sets, or at its default place under `target/kernel/`).

use std::path::PathBuf;
use std::process::Command;

fn kernel_tree() -> PathBuf {
    let tree = std::env::var_os("LOCKWARDEN_KERNEL").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/kernel/linux-source-6.12"),
        PathBuf::from,
    );
    assert!(
        tree.join("include/linux").is_dir(),
        "no kernel tree at {}: run `cargo xtask kernel` (or `cargo xtask test`)",
        tree.display()
    );
    tree
}

fn parse_stats(dir: &str) -> serde_json::Value {
    let tree = kernel_tree();
    let out = Command::new(env!("CARGO_BIN_EXE_lockwarden"))
        .args(["parse-stats", "--format", "json", "--no-compare"])
        .arg(tree.join(dir))
        .output()
        .expect("run lockwarden");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("parse-stats prints JSON")
}

fn assert_clean_at_least(dir: &str, min_percent: f64, min_functions: u64) {
    let stats = parse_stats(dir);
    let functions = stats["functions"].as_u64().unwrap();
    let broken = stats["functions_with_parse_errors"].as_u64().unwrap();
    let clean = 100.0 * (functions - broken) as f64 / functions as f64;
    assert!(
        functions >= min_functions,
        "{dir}: only {functions} functions found"
    );
    assert!(
        clean >= min_percent,
        "{dir}: {clean:.2}% of function bodies parse cleanly, want {min_percent}%"
    );
    assert_eq!(
        stats["failed_files"], 0,
        "{dir}: tree-sitter gave up on a file"
    );
}

#[test]
fn mm_function_bodies_parse_cleanly() {
    assert_clean_at_least("mm", 99.0, 6000);
}

#[test]
fn include_function_bodies_parse_cleanly() {
    assert_clean_at_least("include", 99.0, 20000);
}
