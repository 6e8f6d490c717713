//! `lockwarden hook install [--force]` / `hook uninstall`: a git pre-commit
//! hook that runs `lockwarden check --staged` (SPEC.md §1).
//!
//! The hook is a small POSIX shell script carrying [`MARKER`]; a hook file
//! without it was written by someone else and is only replaced with
//! `--force`, which keeps it beside ours as `pre-commit.lockwarden-backup`;
//! `uninstall` removes only our hook and puts that backup back. The script runs the lockwarden binary that installed it, or
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
    /// Remove the pre-commit hook lockwarden wrote, putting back the hook
    /// `install --force` kept.
    Uninstall {
        /// A directory of the repository (default: the current one).
        #[arg(long)]
        root: Option<PathBuf>,
    },
}

pub fn run(args: Args) -> ExitCode {
    let done = match args.action {
        Action::Install { force, root } => {
            install(root.unwrap_or_else(|| PathBuf::from(".")), force)
        }
        Action::Uninstall { root } => uninstall(root.unwrap_or_else(|| PathBuf::from("."))),
    };
    match done {
        Ok(message) => {
            crate::outln!("{message}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            print_error(&e);
            ExitCode::from(crate::git::exit_code(&e))
        }
    }
}

/// Where `install --force` keeps a hook that was not lockwarden's.
fn backup_path(hook: &std::path::Path) -> PathBuf {
    hook.with_extension("lockwarden-backup")
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

fn install(dir: PathBuf, force: bool) -> Result<String> {
    let git = Git::open(&dir)?;
    let path = git.git_path("hooks/pre-commit")?;
    let mut kept = None;
    match std::fs::read(&path) {
        Ok(old) => {
            let ours = String::from_utf8_lossy(&old).contains(MARKER);
            if !ours && !force {
                bail!(
                    "{} exists and was not written by lockwarden; not replacing it (use --force to replace it; it is kept as {})",
                    path.display(),
                    backup_path(&path).display()
                );
            }
            if !ours {
                let backup = backup_path(&path);
                if backup.exists() {
                    bail!(
                        "{} already holds a kept hook; move it away before replacing {}",
                        backup.display(),
                        path.display()
                    );
                }
                std::fs::copy(&path, &backup).with_context(|| {
                    format!("cannot keep {} as {}", path.display(), backup.display())
                })?;
                kept = Some(backup);
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
    Ok(match kept {
        Some(backup) => format!(
            "installed {} (the previous hook is kept as {})",
            path.display(),
            backup.display()
        ),
        None => format!("installed {}", path.display()),
    })
}

fn uninstall(dir: PathBuf) -> Result<String> {
    let git = Git::open(&dir)?;
    let path = git.git_path("hooks/pre-commit")?;
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(format!("no pre-commit hook at {}", path.display()));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if !String::from_utf8_lossy(&text).contains(MARKER) {
        bail!(
            "{} was not written by lockwarden; leaving it",
            path.display()
        );
    }
    let backup = backup_path(&path);
    if backup.exists() {
        std::fs::rename(&backup, &path)
            .with_context(|| format!("cannot put {} back", backup.display()))?;
        return Ok(format!(
            "removed lockwarden's hook; {} is the kept hook again",
            path.display()
        ));
    }
    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    Ok(format!("removed {}", path.display()))
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
