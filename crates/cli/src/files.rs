//! Finding the tree root and the C files named on the command line (the
//! directories among them walked as git lists them), and reading them.

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

/// Every `.c` and `.h` file under `paths`, as paths relative to `root`,
/// sorted. A file named directly is taken whatever its name; a path that is
/// neither a file nor a directory (a FIFO) is an error, as is a run that
/// finds no C file. Directories are walked as git would list them
/// ([`walk`]); what is skipped there is said on stderr.
pub fn collect_c_files(root: &Path, paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let (out, ignored) = find_c_files(root, paths)?;
    if out.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let shown = if shown.is_empty() {
            ".".to_owned()
        } else {
            shown.join(", ")
        };
        let why = match ignored {
            0 => String::new(),
            1 => "; 1 is ignored by .gitignore (name it to analyse it)".to_owned(),
            n => format!("; {n} are ignored by .gitignore (name them to analyse them)"),
        };
        bail!("no C files (.c or .h) to analyse in {shown}{why}");
    }
    Ok(out)
}

/// The `.c` and `.h` files under `paths`, as [`collect_c_files`] finds
/// them, none being no error (a survey of every top-level directory), and
/// how many the ignore files left out.
pub fn find_c_files(root: &Path, paths: &[PathBuf]) -> Result<(Vec<PathBuf>, usize)> {
    let defaults = [PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &defaults[..]
    } else {
        paths
    };
    let mut out = Vec::new();
    let mut ignored = 0;
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        let abs = path
            .canonicalize()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_file() {
            out.push(relative(root, &abs)?);
        } else if meta.is_dir() {
            ignored += walk(root, &abs, &mut out)?;
        } else {
            bail!(
                "{} is not a regular file or a directory ({})",
                path.display(),
                kind(&meta.file_type())
            );
        }
    }
    out.sort();
    out.dedup();
    Ok((out, ignored))
}

/// Adds the `.c` and `.h` files under the directory `dir` to `out`. When
/// there are none, returns how many the ignore files left out (else 0).
///
/// What git ignores is left out: `.gitignore` files, `.git/info/exclude`
/// and the global excludes file, honoured only inside a git work tree (as
/// git does: Debian's linux-source tree ignores `/*` at its top for its own
/// packaging repository, and is no repository once extracted), and none of
/// them when git ignores `dir` itself (a tree extracted under a project's
/// `target/`). Hidden entries are left out. Symbolic links to files are
/// those files; links to directories are not followed, so a loop cannot
/// be. A directory named `x.c` is walked like any other; a FIFO, socket or
/// device, or a link that leads nowhere, is skipped with a warning. A
/// subdirectory that cannot be read is an error on stderr, and the rest is
/// walked.
fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<usize> {
    let honour = !crate::git::Git::ignores_dir(dir);
    let found = walk_with(root, dir, honour, out, true)?;
    if !honour || found > 0 {
        return Ok(0);
    }
    // Nothing found: count what the ignore files left out, to say so.
    walk_with(root, dir, false, &mut Vec::new(), false)
}

/// [`walk`]'s walk, with the ignore files honoured or not, saying what it
/// skips on stderr when `tell`; how many files it found.
fn walk_with(
    root: &Path,
    dir: &Path,
    honour: bool,
    out: &mut Vec<PathBuf>,
    tell: bool,
) -> Result<usize> {
    let before = out.len();
    let walker = ignore::WalkBuilder::new(dir)
        .standard_filters(false)
        .hidden(true)
        .parents(honour)
        .git_ignore(honour)
        .git_exclude(honour)
        .git_global(honour)
        .require_git(true)
        .follow_links(false)
        .build();
    let shown = |path: &Path| relative(root, path).unwrap_or_else(|_| path.to_path_buf());
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(_) if !tell => continue,
            Err(e) if e.io_error().is_some() => {
                eprintln!("error: {e}; analysing the other files");
                continue;
            }
            // A bad line in an ignore file: that line is left out.
            Err(e) => {
                eprintln!("warning: {e}");
                continue;
            }
        };
        let path = entry.path();
        let is_c = matches!(path.extension().and_then(|e| e.to_str()), Some("c" | "h"));
        let Some(file_type) = entry.file_type() else {
            continue;
        };
        if entry.depth() == 0 || !is_c || file_type.is_dir() {
            continue;
        }
        if file_type.is_file() {
            out.push(relative(root, path)?);
            continue;
        }
        let skipped = if file_type.is_symlink() {
            match std::fs::metadata(path) {
                Ok(meta) if meta.is_file() => {
                    out.push(relative(root, path)?);
                    continue;
                }
                // Links to directories are not followed.
                Ok(meta) if meta.is_dir() => continue,
                Ok(meta) => format!("a link to {}", kind(&meta.file_type())),
                Err(e) => format!("a link that cannot be followed: {e}"),
            }
        } else {
            format!("not a regular file ({})", kind(&file_type))
        };
        if tell {
            eprintln!("warning: skipping {}: {skipped}", shown(path).display());
        }
    }
    Ok(out.len() - before)
}

/// What a file that is not a regular file or a directory is, in words.
fn kind(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "a device";
        }
    }
    if file_type.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// The bytes of the regular file at `path`. Opened without waiting, so a
/// FIFO or device put in a file's place is an error, never a hang.
pub fn read_source(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let mut file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file ({})", kind(&meta.file_type())),
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Whether `bytes` are not text: a NUL among the first 8 KiB, and control
/// characters other than whitespace more than 1 in 64 of them (an object
/// file, an image, UTF-16). A stray NUL in C source is not enough: gcc
/// warns and ignores it, and so the file is analysed.
pub fn is_binary(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(8192)];
    if !head.contains(&0) {
        return false;
    }
    let control = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1b))
        .count();
    control * 64 > head.len()
}

/// A file named `.c` that is not analysed, and why (it goes into the
/// report's `summary.incomplete`).
pub struct Skipped {
    pub file: PathBuf,
    pub reason: String,
}

/// What [`read_inputs`] read: each file's bytes, and the files skipped.
pub struct Inputs {
    pub contents: Vec<(PathBuf, Vec<u8>)>,
    pub skipped: Vec<Skipped>,
}

/// The bytes of every file to analyse, and the files skipped. A file that
/// cannot be read is an error on stderr and the rest are analysed; it stops
/// the run only when it was named on the command line or nothing could be
/// read. A binary file ([`is_binary`]) is skipped with a warning.
pub fn read_inputs(root: &Path, files: Vec<PathBuf>, named: &[PathBuf]) -> Result<Inputs> {
    use rayon::prelude::*;
    let named: Vec<PathBuf> = named
        .iter()
        .filter(|p| !p.is_dir())
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    let read: Vec<(PathBuf, std::io::Result<Vec<u8>>)> = files
        .into_par_iter()
        .map(|rel| {
            let bytes = read_source(&root.join(&rel));
            (rel, bytes)
        })
        .collect();
    let mut contents = Vec::with_capacity(read.len());
    let mut skipped = Vec::new();
    for (rel, bytes) in read {
        match bytes {
            Ok(bytes) if is_binary(&bytes) => {
                eprintln!("warning: skipping {}: not a text file", rel.display());
                skipped.push(Skipped {
                    file: rel,
                    reason: "not a text file".to_owned(),
                });
            }
            Ok(bytes) => contents.push((rel, bytes)),
            Err(e) => {
                let abs = root.join(&rel).canonicalize().ok();
                if abs.is_some_and(|a| named.contains(&a)) {
                    bail!("cannot read {}: {e}", rel.display());
                }
                eprintln!(
                    "error: cannot read {}: {e}; analysing the other files",
                    rel.display()
                );
                skipped.push(Skipped {
                    file: rel,
                    reason: format!("cannot be read: {e}"),
                });
            }
        }
    }
    if contents.is_empty() {
        bail!("none of the files could be read as C");
    }
    Ok(Inputs { contents, skipped })
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
    use rayon::prelude::*;
    let texts: Vec<(PathBuf, Vec<u8>)> = named
        .par_iter()
        .filter_map(|file| Some((file.clone(), read_source(&root.join(file)).ok()?)))
        .collect();
    include_context_of(root, &texts)
}

/// [`include_context`] of files already read (root-relative path, text).
pub fn include_context_of(root: &Path, named: &[(PathBuf, Vec<u8>)]) -> Vec<PathBuf> {
    use rayon::prelude::*;
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
    let named_set: std::collections::HashSet<&PathBuf> = named.iter().map(|(p, _)| p).collect();
    // Context is only ever a header not named: a whole tree names them all,
    // and its files' includes need not be read.
    if headers.iter().all(|h| named_set.contains(h)) {
        return Vec::new();
    }
    let resolver =
        lockwarden_syntax::index::IncludeResolver::new(headers.iter().filter_map(|h| h.to_str()));
    let mut seen: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    let mut context = Vec::new();
    // The named files' includes, in parallel (a whole tree names every
    // file); then the headers they reach, one at a time.
    let mut work: Vec<(PathBuf, Vec<(String, bool)>)> = named
        .par_iter()
        .map(|(file, text)| (file.clone(), includes(text)))
        .collect();
    while let Some((file, included)) = work.pop() {
        for (path, system) in included {
            for found in resolver.resolve(&file, &path, system) {
                let other_arch = found.starts_with("arch") && !found.starts_with("arch/x86");
                if other_arch || named_set.contains(&found) || !seen.insert(found.clone()) {
                    continue;
                }
                context.push(found.clone());
                if let Ok(text) = read_source(&root.join(&found)) {
                    work.push((found, includes(&text)));
                }
            }
        }
    }
    context.sort();
    context
}

/// The `#include` lines of a file: the name and whether it is `<…>`.
pub(crate) fn includes(text: &[u8]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let Some(rest) = line.trim_ascii_start().strip_prefix(b"#") else {
            continue;
        };
        let Some(rest) = rest.trim_ascii_start().strip_prefix(b"include") else {
            continue;
        };
        let rest = rest.trim_ascii_start();
        let (close, system) = match rest.first() {
            Some(b'<') => (b'>', true),
            Some(b'"') => (b'"', false),
            _ => continue,
        };
        if let Some(end) = rest[1..].iter().position(|&b| b == close) {
            if end > 0 {
                out.push((
                    String::from_utf8_lossy(&rest[1..1 + end]).into_owned(),
                    system,
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_means_many_control_bytes_not_one_stray_nul() {
        let mut c = b"int f(void)\n{\n\treturn 0;\n}\n".repeat(20);
        c.extend(b"/* \0\0 */\n");
        assert!(!is_binary(&c), "stray NULs in C");
        assert!(!is_binary(b"int x;\r\n\x0c\x1b[0m\n"), "no NUL at all");
        let mut object = b"\x7fELF\x02\x01\x01\x00".to_vec();
        object.extend(std::iter::repeat_n(0u8, 56));
        object.extend(b"int main(void) { return 0; }\n".repeat(10));
        assert!(is_binary(&object), "an object file's header");
        let utf16: Vec<u8> = "int x;\n".bytes().flat_map(|b| [b, 0]).collect();
        assert!(is_binary(&utf16), "UTF-16");
        assert!(!is_binary(b""));
    }
}
