//! Which files a walked directory gives (issue 11): what git ignores is
//! left out inside a git work tree only, files and directories named on the
//! command line are always analysed, and a run that finds no C file says so.

use std::path::Path;
use std::process::Command;

mod support;
use support::{lockwarden, scratch, write};

/// A function that returns with a spinlock held on one path: one
/// `lock/inconsistent-exit` finding in `function`.
fn bug(function: &str) -> String {
    format!(
        "#include <linux/spinlock.h>\n\nstruct dev {{ spinlock_t lock; int v; }};\n\n\
         int {function}(struct dev *d, int x)\n{{\n\tspin_lock(&d->lock);\n\tif (x)\n\
         \t\treturn -EINVAL;\n\td->v = x;\n\tspin_unlock(&d->lock);\n\treturn 0;\n}}\n"
    )
}

/// `git init` in `dir` (nothing is committed: ignore rules need only the
/// repository).
fn git_init(dir: &Path) {
    let status = Command::new("git")
        .args(["init", "-q"])
        .arg(dir)
        .status()
        .expect("run git");
    assert!(status.success(), "git init {}", dir.display());
}

/// The files with findings when `paths` are checked (JSON report, root
/// `root`), sorted, and the exit status.
fn reported(root: &Path, paths: &[&Path]) -> (Option<i32>, Vec<String>) {
    let out = lockwarden()
        .args(["check", "--format", "json", "--root"])
        .arg(root)
        .args(paths)
        .output()
        .expect("run lockwarden");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mut files: Vec<String> = v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["file"].as_str().map(str::to_owned))
        .collect();
    files.sort();
    files.dedup();
    (out.status.code(), files)
}

/// `kept.c`, `gen.c` and `build/out.c`, with a `.gitignore` of `ignore`.
fn tree(dir: &Path, ignore: &str) {
    write(&dir.join("kept.c"), &bug("kept"));
    write(&dir.join("gen.c"), &bug("generated"));
    write(&dir.join("build/out.c"), &bug("built"));
    write(&dir.join(".gitignore"), ignore);
}

#[test]
fn gitignore_is_honoured_in_a_git_repository() {
    let dir = scratch("walk", "repo");
    tree(&dir, "gen.c\nbuild/\n");
    git_init(&dir);
    assert_eq!(
        reported(&dir, &[&dir]),
        (Some(1), vec!["kept.c".to_owned()])
    );
    // From a subdirectory the repository's ignore files still apply.
    write(&dir.join("sub/a.c"), &bug("sub_a"));
    write(&dir.join("sub/gen.c"), &bug("sub_gen"));
    assert_eq!(
        reported(&dir, &[&dir.join("sub")]),
        (Some(1), vec!["sub/a.c".to_owned()])
    );
    // Named on the command line, an ignored file or directory is analysed.
    assert_eq!(
        reported(&dir, &[&dir.join("gen.c"), &dir.join("build")]),
        (Some(1), vec!["build/out.c".to_owned(), "gen.c".to_owned()])
    );
}

#[test]
fn gitignore_outside_a_git_repository_is_not_honoured() {
    // Debian's linux-source tree: a top-level `.gitignore` of `/*` (for
    // Debian's packaging repository), extracted where no repository is.
    let dir = scratch("walk", "plain");
    tree(&dir, "/*\n!/debian/\n");
    assert_eq!(
        reported(&dir, &[&dir]),
        (
            Some(1),
            vec![
                "build/out.c".to_owned(),
                "gen.c".to_owned(),
                "kept.c".to_owned()
            ]
        )
    );
}

#[test]
fn a_tree_under_a_directory_git_ignores_is_walked_whole() {
    // The same tree extracted under a project's ignored `target/`, as
    // `cargo xtask kernel` does: the project's repository ignores it, so
    // the tree's own `/*` is no repository's rule.
    let project = scratch("walk", "extracted");
    write(&project.join(".gitignore"), "target/\n");
    git_init(&project);
    let kernel = project.join("target/kernel/linux");
    tree(&kernel, "/*\n!/debian/\n");
    assert_eq!(
        reported(&kernel, &[&kernel]),
        (
            Some(1),
            vec![
                "build/out.c".to_owned(),
                "gen.c".to_owned(),
                "kept.c".to_owned()
            ]
        )
    );
}

#[test]
fn a_directory_with_no_c_files_is_an_error_that_says_why() {
    let dir = scratch("walk", "no-c");
    write(&dir.join("empty/README"), "no C here\n");
    let out = lockwarden()
        .args(["check"])
        .arg(dir.join("empty"))
        .output()
        .expect("run lockwarden");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: no C files (.c or .h) to analyse in"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    // Every C file ignored: the message counts them and says what to do.
    let repo = dir.join("repo");
    write(&repo.join("a.c"), &bug("a"));
    write(&repo.join(".gitignore"), "*.c\n");
    git_init(&repo);
    let out = lockwarden()
        .args(["check"])
        .arg(&repo)
        .output()
        .expect("run lockwarden");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("1 is ignored by .gitignore (name it to analyse it)"),
        "{stderr}"
    );
}
