//! `--cache DIR` / `--no-cache`: where lowered files and check results are
//! kept between runs (issue 10). The default is `$XDG_CACHE_HOME/lockwarden`
//! (else `~/.cache/lockwarden`); the cache is never inside the analysed tree,
//! which lockwarden does not write to.
//!
//! A generation of the cache is stamped with this build of the program (the
//! hash of its executable) and the rule files, so an entry written by another
//! build or configuration is never read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use lockwarden_cache::{DiskCache, Key};
use lockwarden_rules::Checker;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct CacheArgs {
    /// Keep lowered files and results in DIR between runs (default:
    /// $XDG_CACHE_HOME/lockwarden, else ~/.cache/lockwarden). Not inside
    /// the analysed tree.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache: Option<PathBuf>,
    /// Keep nothing between runs.
    #[arg(long)]
    no_cache: bool,
}

impl CacheArgs {
    /// `checker`, keeping its work in the cache these flags name, for an
    /// analysis of `tree`. An explicit `--cache` inside `tree` is an error;
    /// a cache that cannot be opened is a warning, and the run goes on
    /// without it.
    pub fn attach(&self, checker: Checker, tree: &Path) -> Result<Checker> {
        if self.no_cache {
            return Ok(checker);
        }
        let (dir, explicit) = match &self.cache {
            Some(dir) => (dir.clone(), true),
            None => match default_dir() {
                Some(dir) => (dir, false),
                None => return Ok(checker),
            },
        };
        if is_inside(&dir, tree) {
            if explicit {
                bail!(
                    "--cache {} is inside the analysed tree {}: lockwarden does not write there",
                    dir.display(),
                    tree.display()
                );
            }
            return Ok(checker);
        }
        let stamp = checker.cache_stamp(&build_key());
        match DiskCache::open(&dir, &stamp) {
            Ok(store) => Ok(checker.with_cache(Arc::new(store), stamp)),
            Err(e) => {
                eprintln!(
                    "warning: cannot use the cache in {}: {e}; going on without it",
                    dir.display()
                );
                Ok(checker)
            }
        }
    }
}

/// `$XDG_CACHE_HOME/lockwarden`, else `$HOME/.cache/lockwarden`.
fn default_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    non_empty("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| non_empty("HOME").map(|home| Path::new(&home).join(".cache")))
        .map(|base| base.join("lockwarden"))
}

/// Whether `dir` (which may not exist yet) is `tree` or below it.
fn is_inside(dir: &Path, tree: &Path) -> bool {
    let Ok(tree) = tree.canonicalize() else {
        return false;
    };
    let absolute = if dir.is_absolute() {
        dir.to_owned()
    } else {
        std::env::current_dir().unwrap_or_default().join(dir)
    };
    // The nearest existing ancestor, resolved, with the rest appended.
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut resolved = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_owned());
    resolved.extend(rest.iter().rev());
    resolved.starts_with(&tree)
}

/// The identity of this build: the hash of the running executable (a
/// rebuilt program may lower or judge differently, under the same version).
fn build_key() -> Key {
    let exe = std::env::current_exe()
        .and_then(std::fs::File::open)
        .and_then(|file| lockwarden_cache::key_of_reader("build", file));
    match exe {
        Ok(key) => key,
        // Unreadable: a key no other run shares, so nothing is reused.
        Err(_) => lockwarden_cache::key_of(
            "build",
            format!("{}-{:?}", std::process::id(), std::time::SystemTime::now()).as_bytes(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::is_inside;

    #[test]
    fn a_cache_below_the_tree_is_inside_it_even_before_it_exists() {
        let tree = std::env::temp_dir().join(format!("lw-inside-{}", std::process::id()));
        std::fs::create_dir_all(tree.join("sub")).unwrap();
        assert!(is_inside(&tree.join("sub/.cache/lw"), &tree));
        assert!(is_inside(&tree.join("sub/../x"), &tree));
        assert!(is_inside(&tree, &tree));
        assert!(!is_inside(&tree.join("../elsewhere"), &tree));
        std::fs::remove_dir_all(&tree).unwrap();
    }
}
