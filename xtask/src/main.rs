//! Developer tasks for lockwarden, run as `cargo xtask <command>`.
//!
//! Commands:
//! - `codegen [--check]`: regenerate `crates/syntax/src/generated.rs` from tree-sitter-c,
//!   or check that the checked-in file is fresh.
//! - `kernel [--print-path]`: make Debian's linux-source-6.12 tree available under
//!   `target/kernel/`.

mod codegen;
mod kernel;

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
        "help" | "-h" | "--help" if flags.is_empty() => {
            println!("{USAGE}");
            Ok(())
        }
        _ => bail!("unknown command `{}`\n\n{USAGE}", args.join(" ")),
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
