//! Reading git repositories, read-only, through the `git` command-line client.
//!
//! `series` and `check --staged` need commits, trees, the index and blobs.
//! They get them from the ordinary `git` client with plumbing commands
//! (`rev-parse`, `rev-list`, `cat-file --batch`, `ls-tree`, `ls-files
//! --stage`, `diff --cached`) run through [`std::process::Command`] with an
//! explicit `-C DIR`, instead of linking a git implementation such as gix:
//! that keeps the build small on a 2-core machine, and every kernel developer
//! has `git` installed anyway.
//!
//! Invariant: nothing here writes to the repository. No command run here
//! updates the work tree, the index or a ref; `GIT_OPTIONAL_LOCKS=0` stops git
//! from opportunistically refreshing the index. `GIT_INDEX_FILE` is honoured
//! (pre-commit hooks set it); a relative value is made absolute first, since
//! the commands run in another directory.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};

/// An error that is lockwarden's or git's fault, not the user's: exit 3.
#[derive(Debug)]
pub struct Internal(pub String);

impl std::fmt::Display for Internal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Internal {}

/// The exit status for `error`: [`Internal`] errors are 3, the rest 2.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<Internal>().is_some() {
        crate::EXIT_INTERNAL
    } else {
        crate::EXIT_USAGE
    }
}

/// File contents: a git blob not read yet, or bytes made in memory (a patch
/// applied to a blob).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blob {
    /// A blob in the object database, by object id.
    Git(String),
    /// Contents held in memory.
    Mem(Arc<Vec<u8>>),
}

/// One file of a tree: its mode (`100644`, `100755`, `120000`) and contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub mode: String,
    pub blob: Blob,
}

impl Entry {
    /// A blob of the object database.
    fn git(mode: &str, oid: &str) -> Entry {
        Entry {
            mode: mode.to_owned(),
            blob: Blob::Git(oid.to_owned()),
        }
    }

    /// Whether this is a regular file (not a symlink).
    pub fn is_regular(&self) -> bool {
        self.mode.starts_with("100")
    }
}

/// A snapshot of a tree: every file (blobs only, no submodules), by path
/// relative to the repository root with `/` separators.
pub type Tree = BTreeMap<String, Entry>;

/// The NUL-terminated records of `ls-tree -z` and `ls-files --stage -z`.
/// A path that is not UTF-8 is read lossily, as every git path here is.
fn records(out: &[u8]) -> impl Iterator<Item = std::borrow::Cow<'_, str>> {
    out.split(|&b| b == 0)
        .filter(|r| !r.is_empty())
        .map(String::from_utf8_lossy)
}

/// A record's three space-separated meta fields and its path
/// (`<meta>\t<path>`).
fn fields<'r>(record: &'r str, command: &str) -> Result<([&'r str; 3], &'r str), Internal> {
    let bad = || Internal(format!("unexpected `git {command}` output: {record}"));
    let (meta, path) = record.split_once('\t').ok_or_else(bad)?;
    let mut parts = meta.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), Some(c)) => Ok(([a, b, c], path)),
        _ => Err(bad()),
    }
}

/// A commit as `series` shows it.
#[derive(Clone, Debug)]
pub struct CommitInfo {
    pub parents: Vec<String>,
    /// The first paragraph of the message, on one line (git's `%s`).
    pub subject: String,
}

/// A repository, reached with `git -C DIR`.
pub struct Git {
    dir: PathBuf,
    index_file: Option<PathBuf>,
    blobs: HashMap<String, Arc<Vec<u8>>>,
}

impl Git {
    /// The repository containing `dir` (a work tree or a bare repository).
    pub fn open(dir: &Path) -> Result<Git> {
        let index_file = match std::env::var_os("GIT_INDEX_FILE") {
            Some(f) if !f.is_empty() => {
                let f = PathBuf::from(f);
                Some(if f.is_absolute() {
                    f
                } else {
                    std::env::current_dir()
                        .context("cannot read the current directory")?
                        .join(f)
                })
            }
            _ => None,
        };
        let git = Git {
            dir: dir.to_path_buf(),
            index_file,
            blobs: HashMap::new(),
        };
        let out = git
            .command()
            .args(["rev-parse", "--absolute-git-dir"])
            .output()
            .map_err(|e| anyhow!("cannot run `git` (is it installed?): {e}"))?;
        if !out.status.success() {
            bail!(
                "{} is not in a git repository: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(git)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C")
            .arg(&self.dir)
            .args(["-c", "core.quotePath=false", "--literal-pathspecs"])
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        match &self.index_file {
            Some(f) => cmd.env("GIT_INDEX_FILE", f),
            None => cmd.env_remove("GIT_INDEX_FILE"),
        };
        cmd
    }

    /// Whether git ignores the directory `dir` of a work tree (a project's
    /// `target/`, and a kernel tree extracted under it): false outside a
    /// work tree, for a directory git tracks or does not ignore, and when
    /// git cannot tell or is not installed. The repository is found from
    /// `dir` alone, whatever `GIT_DIR` a hook may have set.
    pub fn ignores_dir(dir: &Path) -> bool {
        if !dir.ancestors().any(|a| a.join(".git").exists()) {
            return false;
        }
        // Not `command()`: check-ignore takes no `--literal-pathspecs`.
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["check-ignore", "-q", "."])
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Runs git with `args`; a failure is the user's (exit 2) and quotes git.
    fn run(&self, args: &[&str]) -> Result<Vec<u8>> {
        let out = self
            .command()
            .args(args)
            .output()
            .map_err(|e| Internal(format!("cannot run `git`: {e}")))?;
        if !out.status.success() {
            bail!(
                "`git {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out.stdout)
    }

    /// The top directory of the work tree.
    pub fn toplevel(&self) -> Result<PathBuf> {
        let out = self
            .run(&["rev-parse", "--show-toplevel"])
            .context("`check --staged` needs a work tree")?;
        let text = String::from_utf8(out).map_err(|_| anyhow!("work tree path is not UTF-8"))?;
        let path = PathBuf::from(text.trim_end_matches('\n'));
        if path.as_os_str().is_empty() {
            bail!("this git repository has no work tree");
        }
        Ok(path)
    }

    /// The path of `name` inside the git directory (`git rev-parse --git-path`).
    pub fn git_path(&self, name: &str) -> Result<PathBuf> {
        let out = self.run(&["rev-parse", "--git-path", name])?;
        let text = String::from_utf8(out).map_err(|_| anyhow!("git path is not UTF-8"))?;
        let path = PathBuf::from(text.trim_end_matches('\n'));
        Ok(if path.is_absolute() {
            path
        } else {
            self.dir.join(path)
        })
    }

    /// The commit `rev` names; a clear error when it names none.
    pub fn resolve_commit(&self, rev: &str) -> Result<String> {
        if rev.is_empty() || rev.starts_with('-') {
            bail!("`{rev}` is not a revision");
        }
        let spec = format!("{rev}^{{commit}}");
        let out = self
            .command()
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ])
            .output()
            .map_err(|e| Internal(format!("cannot run `git`: {e}")))?;
        if !out.status.success() {
            bail!("`{rev}` does not name a commit in this repository");
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// HEAD's commit, or `None` on an unborn branch.
    pub fn head(&self) -> Result<Option<String>> {
        let out = self
            .command()
            .args(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
            .output()
            .map_err(|e| Internal(format!("cannot run `git`: {e}")))?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()))
    }

    /// The commits of `base..head`, oldest first (topological order).
    pub fn rev_list(&self, base: &str, head: &str) -> Result<Vec<String>> {
        let range = format!("{base}..{head}");
        let out = self.run(&["rev-list", "--reverse", "--topo-order", &range])?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// Parents and subject of commit `id`.
    pub fn commit(&mut self, id: &str) -> Result<CommitInfo> {
        let raw = self.object(id, "commit")?;
        let text = String::from_utf8_lossy(&raw);
        let (header, message) = text.split_once("\n\n").unwrap_or((&text, ""));
        let parents = header
            .lines()
            .filter_map(|l| l.strip_prefix("parent "))
            .map(str::to_owned)
            .collect();
        let subject = message
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(" ");
        Ok(CommitInfo { parents, subject })
    }

    /// Every blob of the tree of commit (or tree) `rev`, recursively.
    pub fn tree(&self, rev: &str) -> Result<Tree> {
        let out = self.run(&["ls-tree", "-r", "-z", "--full-tree", rev])?;
        let mut entries = Vec::new();
        for record in records(&out) {
            let ([mode, kind, oid], path) = fields(&record, "ls-tree")?;
            if kind == "blob" {
                entries.push((path.to_owned(), Entry::git(mode, oid)));
            }
        }
        // git lists paths in byte order, so collecting them (a sort, then
        // a bulk build) costs one pass.
        Ok(entries.into_iter().collect())
    }

    /// The files of the index (`GIT_INDEX_FILE` when set).
    pub fn index(&self) -> Result<Tree> {
        let out = self.run(&["ls-files", "--stage", "-z"])?;
        let mut entries = Vec::new();
        for record in records(&out) {
            let ([mode, oid, stage], path) = fields(&record, "ls-files")?;
            if stage != "0" {
                bail!("the index has unmerged paths ({path}); resolve the conflict first");
            }
            if mode == "160000" {
                continue; // a submodule
            }
            entries.push((path.to_owned(), Entry::git(mode, oid)));
        }
        Ok(entries.into_iter().collect())
    }

    /// The files of commit `commit` that use any of `names` as a word
    /// (`git grep`).
    pub fn files_using(&self, commit: &str, names: &[String]) -> Result<Vec<String>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = self.command();
        cmd.args(["grep", "-l", "-w", "-F", "--no-color"]);
        for name in names {
            cmd.arg("-e").arg(name);
        }
        // No pathspec: the command reads pathspecs literally.
        cmd.arg(commit);
        let out = cmd
            .output()
            .map_err(|e| Internal(format!("cannot run `git`: {e}")))?;
        // Status 1: no file uses them.
        match out.status.code() {
            Some(0) | Some(1) => {}
            _ => bail!(
                "`git grep` in {commit} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }
        let prefix = format!("{commit}:");
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| line.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect())
    }

    /// The new-side line ranges (1-based, inclusive) that the index changes
    /// in `path` relative to `head` (`None`: everything is new).
    pub fn staged_changed_lines(&self, head: Option<&str>, path: &str) -> Result<Vec<(u32, u32)>> {
        let Some(head) = head else {
            return Ok(vec![(1, u32::MAX)]);
        };
        let out = self.run(&[
            "diff",
            "--cached",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--no-renames",
            "-U0",
            head,
            "--",
            path,
        ])?;
        Ok(changed_ranges(&String::from_utf8_lossy(&out)))
    }

    fn object(&mut self, id: &str, kind: &str) -> Result<Arc<Vec<u8>>> {
        let out = self.run(&["cat-file", kind, id])?;
        Ok(Arc::new(out))
    }

    /// Reads every blob of `oids` not read yet, in one `git cat-file --batch`.
    pub fn prefetch<'a>(&mut self, oids: impl IntoIterator<Item = &'a str>) -> Result<()> {
        let mut wanted: Vec<String> = oids
            .into_iter()
            .filter(|o| !self.blobs.contains_key(*o))
            .map(str::to_owned)
            .collect();
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(());
        }
        let mut child = self
            .command()
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Internal(format!("cannot run `git cat-file`: {e}")))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input: String = wanted.iter().map(|o| format!("{o}\n")).collect();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut failure = None;
        for oid in &wanted {
            let mut header = String::new();
            reader
                .read_line(&mut header)
                .map_err(|e| Internal(format!("reading `git cat-file`: {e}")))?;
            let fields: Vec<&str> = header.split_whitespace().collect();
            let size = match fields.as_slice() {
                [_, "blob", size] => size.parse::<usize>().ok(),
                _ => None,
            };
            let Some(size) = size else {
                failure = Some(format!(
                    "object {oid} is not a readable blob: {}",
                    header.trim()
                ));
                break;
            };
            let mut data = vec![0; size + 1];
            reader
                .read_exact(&mut data)
                .map_err(|e| Internal(format!("reading `git cat-file`: {e}")))?;
            data.pop();
            self.blobs.insert(oid.clone(), Arc::new(data));
        }
        drop(reader);
        let _ = writer.join();
        let _ = child.kill();
        let _ = child.wait();
        if let Some(f) = failure {
            return Err(Internal(f).into());
        }
        Ok(())
    }

    /// The contents of `blob`.
    pub fn contents(&mut self, blob: &Blob) -> Result<Arc<Vec<u8>>> {
        match blob {
            Blob::Mem(bytes) => Ok(bytes.clone()),
            Blob::Git(oid) => {
                if !self.blobs.contains_key(oid) {
                    self.prefetch([oid.as_str()])?;
                }
                Ok(self.blobs[oid].clone())
            }
        }
    }
}

/// The new-side ranges of the `@@ -a,b +c,d @@` lines of a `-U0` diff. A pure
/// deletion (`d == 0`) marks the lines on both sides of the cut.
pub fn changed_ranges(diff: &str) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for line in diff.lines() {
        let Some(rest) = line.strip_prefix("@@ ") else {
            continue;
        };
        let Some(new) = rest.split(' ').find_map(|w| w.strip_prefix('+')) else {
            continue;
        };
        let (start, len) = match new.split_once(',') {
            Some((s, l)) => (s.parse().unwrap_or(0), l.parse().unwrap_or(1)),
            None => (new.parse().unwrap_or(0), 1u32),
        };
        if len == 0 {
            out.push((start.max(1), start + 1));
        } else {
            out.push((start, start + len - 1));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunk_headers_give_new_side_ranges() {
        let diff = "diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -3 +3 @@ f\n-a\n+b\n@@ -10,0 +11,2 @@\n+c\n+d\n@@ -20,2 +21,0 @@\n-e\n-f\n";
        assert_eq!(changed_ranges(diff), vec![(3, 3), (11, 12), (21, 22)]);
    }
}
