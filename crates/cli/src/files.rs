//! Finding the tree root and the C files named on the command line.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The tree root per SPEC.md §1: `--root`, else the nearest ancestor of the
/// first path that looks like a kernel tree, else the current directory.
pub fn find_root(explicit: Option<&Path>, paths: &[PathBuf]) -> Result<PathBuf> {
    if let Some(root) = explicit {
        return root
            .canonicalize()
            .with_context(|| format!("cannot read --root {}", root.display()));
    }
    let first = paths
        .first()
        .map_or_else(|| PathBuf::from("."), Clone::clone);
    let first = first
        .canonicalize()
        .with_context(|| format!("cannot read {}", first.display()))?;
    let is_kernel_root = |dir: &Path| {
        dir.join("include/linux").is_dir()
            && (dir.join("Kbuild").exists() || dir.join("MAINTAINERS").exists())
    };
    let found = first.ancestors().find(|dir| is_kernel_root(dir));
    if let Some(dir) = found {
        return Ok(dir.to_path_buf());
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let cwd = cwd.canonicalize().unwrap_or(cwd);
    if first.starts_with(&cwd) {
        return Ok(cwd);
    }
    // A path outside the current directory: its own directory is the root.
    Ok(if first.is_dir() {
        first
    } else {
        first.parent().map_or(first.clone(), Path::to_path_buf)
    })
}

/// Every `.c` and `.h` file under `paths` (files named directly are taken
/// whatever their extension), as paths relative to `root`, sorted.
pub fn collect_c_files(root: &Path, paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let defaults = [PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &defaults[..]
    } else {
        paths
    };
    let mut out = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        let abs = path
            .canonicalize()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_file() {
            out.push(relative(root, &abs)?);
            continue;
        }
        let walk = walkdir::WalkDir::new(&abs)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walk {
            let entry = entry.with_context(|| format!("cannot read under {}", path.display()))?;
            // A symlink to a file is that file; links to directories are not
            // followed (no loops).
            let is_file = entry.file_type().is_file()
                || (entry.path_is_symlink()
                    && std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file()));
            let is_c = is_file
                && matches!(
                    entry.path().extension().and_then(|e| e.to_str()),
                    Some("c" | "h")
                );
            if is_c {
                out.push(relative(root, entry.path())?);
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn relative(root: &Path, abs: &Path) -> Result<PathBuf> {
    match abs.strip_prefix(root) {
        Ok(rel) => Ok(rel.to_path_buf()),
        Err(_) => bail!(
            "{} is outside the tree root {}",
            abs.display(),
            root.display()
        ),
    }
}

/// The headers `named` files include, transitively, resolved inside the tree
/// (`include/`, `include/uapi/`, quotes relative to the file; for `asm/`
/// headers only x86's, so one architecture's view is analysed). They are
/// analysed as context — their inline helpers summarised — and not reported.
pub fn include_context(root: &Path, named: &[PathBuf]) -> Vec<PathBuf> {
    if !root.join("include/linux").is_dir() {
        return Vec::new();
    }
    let headers: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "h"))
        .filter_map(|e| e.path().strip_prefix(root).ok().map(Path::to_path_buf))
        .collect();
    let resolver = lockwarden_syntax::index::IncludeResolver::new(headers);
    let named_set: std::collections::HashSet<&PathBuf> = named.iter().collect();
    let mut seen: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    let mut work: Vec<PathBuf> = named.to_vec();
    let mut context = Vec::new();
    while let Some(file) = work.pop() {
        let Ok(text) = std::fs::read(root.join(&file)) else {
            continue;
        };
        for (path, system) in includes(&text) {
            for found in resolver.resolve(&file, &path, system) {
                let other_arch = found.starts_with("arch") && !found.starts_with("arch/x86");
                if other_arch || named_set.contains(&found) || !seen.insert(found.clone()) {
                    continue;
                }
                context.push(found.clone());
                work.push(found);
            }
        }
    }
    context.sort();
    context
}

/// The `#include` lines of a file: path and whether it is `<…>`.
fn includes(text: &[u8]) -> Vec<(String, bool)> {
    let text = String::from_utf8_lossy(text);
    text.lines()
        .filter_map(|line| {
            let rest = line
                .trim_start()
                .strip_prefix('#')?
                .trim_start()
                .strip_prefix("include")?
                .trim();
            let (open, close, system) = match rest.chars().next()? {
                '<' => ('<', '>', true),
                '"' => ('"', '"', false),
                _ => return None,
            };
            let inner = rest.strip_prefix(open)?;
            let end = inner.find(close)?;
            Some((inner[..end].to_owned(), system))
        })
        .collect()
}
