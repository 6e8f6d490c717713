//! Developer tasks for lockwarden, run as `cargo xtask <command>`.
//!
//! Commands:
//! - `codegen [--check]`: regenerate `crates/syntax/src/generated.rs` from tree-sitter-c,
//!   or check that the checked-in file is fresh.
//! - `kernel [--print-path]`: make Debian's linux-source-6.12 tree available under
//!   `target/kernel/`.
//! - `test`: the whole test suite, as CI runs it (kernel tree, fresh codegen, tests).
//! - `demo`: run lockwarden on the real kernel tree.
//! - `recall`: recall of the `lock/*` rules on seeded lock bugs in the kernel tree.
//! - `noise`: findings per 100k lines on the unmutated kernel tree.
//! - `sample`: the precision sample: seeded findings of the untuned directories.
//! - `bench`: wall time and peak memory of the whole-tree jobs, with their
//!   ratio to a plain tree-sitter parse of the same files.
//! - `edits`: seeded edits of one `.c` file after another, each checked
//!   (alone when it can be), against a check without the cache.

mod bench;
mod codegen;
mod edits;
mod kernel;
mod manpages;
mod noise;
mod recall;
mod sample;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  codegen [--check]     regenerate crates/syntax/src/generated.rs from tree-sitter-c;
                        with --check, fail if the checked-in file is stale
  kernel [--print-path] extract linux-source-6.12 into target/kernel/ (idempotent);
                        with --print-path, print only the tree's path
  test                  everything CI runs: the kernel tree, codegen --check,
                        cargo test --workspace --release
  demo                  build lockwarden and run the balloon rules on the real kernel tree
  recall [--seed N] [--per-op N] [--dirs a,b,...] [--json FILE] [--list missed|all]
                        seed lock bugs (5 mutation operators) into kernel functions and
                        count those the lock/* rules report in the mutated function;
                        default: 6 sites per top-level directory and operator, topped
                        up to 60 per operator, seed 1
  noise [--dirs a,b,...] [--only-lock] [--split a,b,...] [--json FILE]
                        findings per 100k lines of .c/.h on the unmutated tree, each
                        top-level directory analysed on its own (--split: per
                        second-level directory, summed)
  sample --seed N [--count N] [--dirs a,b,...] [--pool FILE]
                        the precision sample: COUNT (25) lock/* warnings and errors
                        drawn with a seeded shuffle from each directory checked on its
                        own (default: those outside mm/, kernel/ and fs/)
  bench [--dirs a,b,...] [--json FILE]
                        wall time and peak RSS of parse-stats and of cold checks (balloon
                        rules, all rules) on the kernel tree, each against the plain
                        tree-sitter-c parse timed in the same run; JSON to target/bench.json
  edits [--seed N] [--count N]
                        on a copy of the kernel tree, COUNT (40) seeded edits of one .c
                        file after another, each followed by a cached check (the file
                        checked alone when it can be); the last report must equal a
                        check without the cache
  manpages [DIR]        shell completions (bash, zsh, fish) and man pages (one per
                        command) generated from the command line's definition, into
                        DIR (default target/dist)
  help                  show this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> anyhow::Result<()> {
    let (command, flags) = match args.split_first() {
        Some((command, flags)) => (command.as_str(), flags),
        None => ("help", &[][..]),
    };
    match command {
        "codegen" => codegen::run(flag(flags, "--check")?),
        "kernel" => kernel::run(flag(flags, "--print-path")?),
        "test" if flags.is_empty() => test(),
        "demo" if flags.is_empty() => demo(),
        "recall" => recall::run(flags),
        "noise" => noise::run(flags),
        "sample" => sample::run(flags),
        "bench" => bench::run(flags),
        "edits" => edits::run(flags),
        "manpages" if flags.len() <= 1 => manpages::run(flags.first().map(String::as_str)),
        "help" | "-h" | "--help" if flags.is_empty() => {
            println!("{USAGE}");
            Ok(())
        }
        _ => bail!("unknown command `{}`\n\n{USAGE}", args.join(" ")),
    }
}

/// Builds the release binary and returns its path.
fn release_binary() -> anyhow::Result<PathBuf> {
    cargo(
        &["build", "--release", "--quiet", "--package", "lockwarden"],
        &[],
    )?;
    Ok(workspace_root().join("target/release/lockwarden"))
}

/// Runs a command in the workspace root, failing when it fails.
fn cargo(args: &[&str], env: &[(&str, &std::path::Path)]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.args(args).current_dir(workspace_root());
    for (key, value) in env {
        command.env(key, value);
    }
    let status = command.status()?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// The test suite: kernel-tree tests need the tree, so it is made available first.
fn test() -> anyhow::Result<()> {
    let tree = kernel::kernel_tree()?;
    codegen::run(true)?;
    cargo(
        &["test", "--workspace", "--release"],
        &[("LOCKWARDEN_KERNEL", tree.as_path())],
    )
}

/// The main job on the default input: the balloon rules on the real kernel
/// tree's balloon code (and the headers and callees they need).
fn demo() -> anyhow::Result<()> {
    let tree = kernel::kernel_tree()?;
    let files = [
        "mm/balloon_compaction.c",
        "include/linux/balloon_compaction.h",
        "drivers/virtio/virtio_balloon.c",
        "drivers/misc/vmw_balloon.c",
        "arch/powerpc/platforms/pseries/cmm.c",
    ];
    let paths: Vec<String> = files
        .iter()
        .map(|f| tree.join(f).to_string_lossy().into_owned())
        .collect();
    let mut args = vec![
        "run",
        "--release",
        "--quiet",
        "--package",
        "lockwarden",
        "--",
        "check",
        "--only",
        "balloon/*",
    ];
    args.extend(paths.iter().map(String::as_str));
    // Findings make lockwarden exit 1, which is the point of the demo.
    match cargo(&args, &[]) {
        Ok(()) => Ok(()),
        Err(e) if e.to_string().contains("exit status: 1") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Accepts either no flags or exactly `name`; anything else is a usage error.
fn flag(flags: &[String], name: &str) -> anyhow::Result<bool> {
    match flags {
        [] => Ok(false),
        [only] if only == name => Ok(true),
        _ => bail!("unexpected arguments `{}`\n\n{USAGE}", flags.join(" ")),
    }
}

/// The workspace root: the parent of the xtask crate's directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}
