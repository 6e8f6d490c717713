//! `lockwarden hook install [--force]`: a git pre-commit hook that runs
//! `lockwarden check --staged` (SPEC.md §1).
//!
//! The hook is a small POSIX shell script carrying [`MARKER`]; a hook file
//! without it was written by someone else and is only replaced with
//! `--force`. The script runs the lockwarden binary that installed it, or
//! `lockwarden` from `PATH` if that binary has gone. The hooks directory is
//! git's (`git rev-parse --git-path hooks`), so linked work trees work.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::config::print_error;
use crate::git::Git;

/// The line that marks a hook as written by lockwarden.
pub const MARKER: &str = "# lockwarden pre-commit hook (written by `lockwarden hook install`)";

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Write .git/hooks/pre-commit running `lockwarden check --staged`.
    Install {
        /// Replace a pre-commit hook that lockwarden did not write.
        #[arg(long)]
        force: bool,
        /// A directory of the repository (default: the current one).
        #[arg(long)]
        root: Option<PathBuf>,
    },
}

pub fn run(args: Args) -> ExitCode {
    let Action::Install { force, root } = args.action;
    match install(root.unwrap_or_else(|| PathBuf::from(".")), force) {
        Ok(path) => {
            crate::outln!("installed {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            print_error(&e);
            ExitCode::from(crate::git::exit_code(&e))
        }
    }
}

/// The hook script.
fn script() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok())
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(
        "#!/bin/sh\n\
         {MARKER}\n\
         # It checks the staged C changes for lock-discipline findings.\n\
         # Skip it once with `git commit --no-verify`.\n\
         lw={}\n\
         [ -x \"$lw\" ] || lw=lockwarden\n\
         exec \"$lw\" check --staged\n",
        shell_quote(&exe)
    )
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn install(dir: PathBuf, force: bool) -> Result<PathBuf> {
    let git = Git::open(&dir)?;
    let path = git.git_path("hooks/pre-commit")?;
    match std::fs::read(&path) {
        Ok(old) => {
            let ours = String::from_utf8_lossy(&old).contains(MARKER);
            if !ours && !force {
                bail!(
                    "{} exists and was not written by lockwarden; not replacing it (use --force to replace it)",
                    path.display()
                );
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    // Replace atomically: write beside it, then rename over it.
    let tmp = path.with_extension("lockwarden-tmp");
    std::fs::write(&tmp, script()).with_context(|| format!("cannot write {}", tmp.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make {} executable", tmp.display()))?;
    }
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_marked_and_quoted() {
        let s = script();
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains(MARKER));
        assert!(s.contains("check --staged"));
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
    }
}
