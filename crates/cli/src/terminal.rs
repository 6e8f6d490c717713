//! How a report is printed for the person reading it
//! ([`RenderOptions`]): colour (`--color`, `NO_COLOR`), the width of the
//! human format, and paths from the directory the command was run in.
//!
//! The terminal is looked at here and only here, once per run, so that the
//! renderers stay deterministic. Output that is not a terminal (a pipe, a
//! file, `--output`) gets no colour unless asked for and a fixed width, so
//! scripts and tests see the same text wherever they run.

use std::io::IsTerminal;
use std::path::Path;

use lockwarden_report::{PathDisplay, RenderOptions};

/// `--color`: when the human format uses colour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// When writing to a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Also into pipes and files, whatever `NO_COLOR` says.
    Always,
    /// Plain text.
    Never,
}

/// The width of the human format when stdout is no terminal (and
/// `COLUMNS` does not say otherwise).
const FIXED_WIDTH: usize = 100;

/// How to print a report of the tree at `root` on stdout, or into
/// `output`: colour as `color` says, as wide as `COLUMNS` or the terminal,
/// paths from the current directory.
pub fn render_options(root: &Path, color: ColorChoice, output: Option<&Path>) -> RenderOptions {
    let terminal = output.is_none() && std::io::stdout().is_terminal();
    let color = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color(),
    };
    let terminal_width = || {
        let (_rows, columns) = console::Term::stdout().size_checked()?;
        Some(usize::from(columns))
    };
    let width = columns_variable()
        .or_else(|| terminal.then(terminal_width).flatten())
        .unwrap_or(FIXED_WIDTH);
    RenderOptions {
        width,
        color,
        paths: paths_from_current_dir(root),
    }
}

/// Paths printed from the current directory to the files of the tree at
/// `root`; root-relative when either cannot be resolved.
pub fn paths_from_current_dir(root: &Path) -> PathDisplay {
    let resolved = std::env::current_dir()
        .and_then(|dir| dir.canonicalize())
        .and_then(|dir| Ok((root.canonicalize()?, dir)));
    match resolved {
        Ok((root, dir)) => PathDisplay::from_dir(&root, &dir),
        Err(_) => PathDisplay::root_relative(),
    }
}

/// `NO_COLOR` set to anything but the empty string (no-color.org).
fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// `COLUMNS`, when the user set it to a number of columns.
fn columns_variable() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&n| n > 0)
}
