//! The `lockwarden` command line: argument parsing and dispatch. The binary
//! itself is the workspace's root package, so that `cargo install --path .`
//! (and pre-commit's `language: rust`) builds it from a checkout.

mod cache;
mod check;
mod config;
mod explain;
pub mod files;
mod git;
mod hook;
pub mod mbox;
mod parse_stats;
pub mod patch;
mod progress;
mod rules_cmd;
mod series;
mod staged;
mod terminal;
mod tree_state;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status when findings were reported (SPEC.md §1).
const EXIT_FINDINGS: u8 = 1;
/// Exit status for a usage error or unreadable input (SPEC.md §1).
const EXIT_USAGE: u8 = 2;
/// Exit status for an internal error.
const EXIT_INTERNAL: u8 = 3;

#[derive(Parser)]
#[command(
    name = "lockwarden",
    version,
    about = "Lock discipline checker for Linux kernel C"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse files and directories for lock-discipline findings.
    Check(check::Args),
    /// Frontend coverage: files, functions, functions whose body has parse errors, time.
    ParseStats(parse_stats::Args),
    /// Per-commit findings of a git range, or of a `git format-patch` mbox applied in memory.
    Series(series::Args),
    /// Install a git pre-commit hook that runs `lockwarden check --staged`.
    Hook(hook::Args),
    /// List the loaded rules (id, severity, summary), or explain one: `rules ID`.
    Rules(rules_cmd::Args),
    /// Show a function's lines with the locks held after each, the summaries
    /// of its callees, its exit facts and its own summary.
    Explain(explain::Args),
}

/// The command line's definition, for generated shell completions and man
/// pages (`cargo xtask manpages`).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Runs the command line; the binary's `main`.
pub fn main() -> ExitCode {
    no_huge_pages();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::ParseStats(args) => parse_stats::run(args),
        Command::Series(args) => series::run(args),
        Command::Hook(args) => hook::run(args),
        Command::Rules(args) => rules_cmd::run(args),
        Command::Explain(args) => explain::run(args),
    }
}

/// Turns transparent huge pages off for this process. The allocator asks
/// for them on its arenas, and the kernel then zeroes a whole 2 MiB page at
/// the first touch of any byte of it: a sixth of a warm `check --staged`
/// went there (0.68 s against 0.55 s without), while a cold check of `fs/`
/// and `drivers/net/` ran no faster with them (2026-12-02).
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integers and reads or writes no
    // memory of the process; its failure (an old kernel) changes nothing.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// `print!` that a closed pipe (`| head`) ends quietly instead of a panic.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::print_stdout(&format!($($arg)*))
    };
}

/// `println!` that a closed pipe ends quietly.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::print_stdout(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use {out, outln};

/// Writes `text` to stdout; a closed pipe (`| head`) ends the output quietly.
pub(crate) fn print_stdout(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}
