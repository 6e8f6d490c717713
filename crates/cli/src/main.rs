//! The `lockwarden` command line: argument parsing and dispatch.

mod files;
mod parse_stats;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status for a usage error or unreadable input (SPEC.md §1).
const EXIT_USAGE: u8 = 2;

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
    /// Frontend coverage: files, functions, functions whose body has parse errors, time.
    ParseStats(parse_stats::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::ParseStats(args) => parse_stats::run(args),
    }
}

/// The built-in rule files, embedded in the binary.
const BUILTIN_SYNTAX: &str = include_str!("../../../rules/syntax.toml");

/// The kernel-macro vocabulary from the built-in rules.
fn builtin_macros() -> anyhow::Result<lockwarden_syntax::MacroConfig> {
    #[derive(serde::Deserialize)]
    struct File {
        syntax: lockwarden_syntax::MacroConfig,
    }
    let file: File = toml::from_str(BUILTIN_SYNTAX)?;
    Ok(file.syntax)
}
