//! `cargo xtask kernel [--print-path]`: Debian's linux-source-6.12 tree under `target/kernel/`.
//!
//! The tree is extracted once from `/usr/src/linux-source-6.12.tar.xz` (or the tarball
//! named by `LOCKWARDEN_KERNEL_TARBALL`), installing the `linux-source-6.12` package first
//! when the tarball is missing and we can. Extraction goes into a partial directory that
//! is renamed into place only once tar has succeeded and the marker file is written, so an
//! interrupted run never leaves a tree that looks complete.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

use crate::workspace_root;

const PACKAGE: &str = "linux-source-6.12";
const DEFAULT_TARBALL: &str = "/usr/src/linux-source-6.12.tar.xz";
const TARBALL_ENV: &str = "LOCKWARDEN_KERNEL_TARBALL";
/// Written inside the tree after a successful extraction.
const MARKER: &str = ".lockwarden-extracted";

pub(crate) fn run(print_path: bool) -> Result<()> {
    let tree = kernel_tree()?;
    if print_path {
        println!("{}", tree.display());
    } else {
        println!("kernel tree ready: {}", tree.display());
    }
    Ok(())
}

/// The extracted kernel tree, extracting it first if needed; progress goes to stderr.
pub(crate) fn kernel_tree() -> Result<PathBuf> {
    let kernel_dir = workspace_root().join("target").join("kernel");
    let tree = kernel_dir.join(PACKAGE);
    if tree.join(MARKER).is_file() {
        return Ok(tree);
    }

    let tarball = tarball()?;
    let partial = kernel_dir.join(format!(".{PACKAGE}.partial"));
    remove_dir_if_exists(&partial)?;
    fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    eprintln!(
        "extracting {} into {}",
        tarball.display(),
        kernel_dir.display()
    );
    let mut tar = Command::new("tar");
    tar.arg("-xJf").arg(&tarball).arg("-C").arg(&partial);
    run_command(&mut tar)?;

    let extracted = partial.join(PACKAGE);
    ensure!(
        extracted.is_dir(),
        "{} has no top-level {PACKAGE}/",
        tarball.display()
    );
    fs::write(extracted.join(MARKER), format!("{}\n", tarball.display()))
        .context("writing the extraction marker")?;
    // A tree without a marker is left over from an interrupted or foreign extraction.
    remove_dir_if_exists(&tree)?;
    fs::rename(&extracted, &tree)
        .with_context(|| format!("renaming {} to {}", extracted.display(), tree.display()))?;
    remove_dir_if_exists(&partial)?;
    Ok(tree)
}

/// The tarball to extract, installing the Debian package if it is missing and we can.
fn tarball() -> Result<PathBuf> {
    if let Some(path) = env::var_os(TARBALL_ENV) {
        let path = PathBuf::from(path);
        ensure!(
            path.is_file(),
            "{TARBALL_ENV}={} is not a file",
            path.display()
        );
        return Ok(path);
    }
    let path = PathBuf::from(DEFAULT_TARBALL);
    if !path.is_file() {
        install_package()?;
        ensure!(
            path.is_file(),
            "installing {PACKAGE} did not provide {DEFAULT_TARBALL}"
        );
    }
    Ok(path)
}

fn install_package() -> Result<()> {
    if !(on_path("apt-get") && is_root()) {
        bail!(
            "{DEFAULT_TARBALL} is missing; install it with `apt-get install {PACKAGE}` \
             (as root), or point {TARBALL_ENV} at a kernel source tarball"
        );
    }
    let apt_get = |args: &[&str]| {
        let mut command = Command::new("apt-get");
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run_command(&mut command)
    };
    eprintln!("{DEFAULT_TARBALL} is missing; installing {PACKAGE}");
    if let Err(err) = apt_get(&["install", "-y", PACKAGE]) {
        eprintln!("{err:#}; running `apt-get update` and retrying");
        apt_get(&["update"])?;
        apt_get(&["install", "-y", PACKAGE])?;
    }
    Ok(())
}

/// Runs `command` with its stdout sent to our stderr, so that `--print-path` stays clean.
fn run_command(command: &mut Command) -> Result<()> {
    let status = command
        .stdout(std::io::stderr())
        .status()
        .with_context(|| format!("running {command:?}"))?;
    ensure!(status.success(), "{command:?} failed ({status})");
    Ok(())
}

fn remove_dir_if_exists(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn on_path(program: &str) -> bool {
    env::var_os("PATH")
        .is_some_and(|path| env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout.trim_ascii() == b"0")
}
