//! Helpers shared by the integration tests: the binary under test, scratch
//! directories, files written for a case, and the kernel tree.
//!
//! Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `lockwarden` binary under test.
pub fn lockwarden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lockwarden"))
}

/// A scratch directory of one test, removed with everything in it when
/// the test is done (dropped), so runs leave nothing in the temporary
/// directory. It reads as the `Path` it is.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `bytes` to `name` under the directory, creating its
    /// directories; the file's path.
    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create directory");
        }
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::fs::remove_dir_all(&self.0).is_err() {
            // A test made part of it unreadable: readable again, then gone.
            let _ = Command::new("chmod")
                .arg("-R")
                .arg("u+rwx")
                .arg(&self.0)
                .status();
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A fresh scratch directory of its own for one test of one suite (a
/// counter keeps two of one test apart).
pub fn scratch(suite: &str, name: &str) -> Scratch {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!(
        "lockwarden-{suite}-{name}-{}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch directory");
    // As the tool prints it (no symlink between the temporary directory and
    // the tree).
    Scratch(dir.canonicalize().expect("canonical scratch directory"))
}

/// Writes `text` to `path`, creating its directory.
pub fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create directory");
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// The extracted Debian kernel tree (`LOCKWARDEN_KERNEL`, or the one `cargo
/// xtask kernel` extracts under the target directory).
pub fn kernel_tree() -> PathBuf {
    let tree = std::env::var_os("LOCKWARDEN_KERNEL").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/kernel/linux-source-6.12"),
        PathBuf::from,
    );
    assert!(
        tree.join("include/linux").is_dir(),
        "no kernel tree at {}: run `cargo xtask kernel` (or `cargo xtask test`)",
        tree.display()
    );
    tree
}
