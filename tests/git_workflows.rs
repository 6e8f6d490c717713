//! Git workflows end to end: `series BASE..HEAD`, `series --mbox` on real
//! `git format-patch` output, `check --staged`, `hook install`, the
//! pre-commit framework with our `.pre-commit-hooks.yaml`, and SARIF checked
//! by Microsoft's validator. Every test builds real repositories in temporary
//! directories with small kernel-style C files of our own, and every
//! lockwarden run is checked to leave the work tree and the index
//! byte-identical.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;
use support::kernel_tree;

const LW: &str = env!("CARGO_BIN_EXE_lockwarden");

/// A temporary directory, removed on drop.
fn temp_dir(name: &str) -> support::Scratch {
    support::scratch("git", name)
}

/// Git isolated from the user's and the system's configuration.
fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
    cmd
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_command(dir).args(args).output().expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Commits everything in `dir`; returns the commit id.
fn commit_all(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

/// Everything lockwarden must not change: the index file, `git status`, and
/// the bytes of every work-tree file.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    index: Option<Vec<u8>>,
    status: String,
    files: Vec<(PathBuf, Vec<u8>)>,
}

fn snapshot(dir: &Path) -> Snapshot {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                files.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    Snapshot {
        index: std::fs::read(dir.join(".git/index")).ok(),
        status: git(
            dir,
            &[
                "--no-optional-locks",
                "status",
                "--porcelain=v1",
                "--untracked-files=all",
            ],
        ),
        files,
    }
}

/// Runs lockwarden in `dir` and checks that the work tree and index are
/// byte-identical afterwards.
fn lw_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let before = snapshot(dir);
    let mut cmd = Command::new(LW);
    cmd.current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_INDEX_FILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run lockwarden");
    let after = snapshot(dir);
    assert!(
        before == after,
        "`lockwarden {}` changed the work tree or the index",
        args.join(" ")
    );
    out
}

fn lw(dir: &Path, args: &[&str]) -> Output {
    lw_env(dir, args, &[])
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(out), stderr(out)))
}

const DEV_H: &str = "\
/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _DEV_H
#define _DEV_H
#include <linux/spinlock.h>

struct dev {
	spinlock_t lock;
	int count;
	int open;
};

void dev_bump(struct dev *d);
#endif
";

const CLEAN: &str = "\
// SPDX-License-Identifier: GPL-2.0
#include <linux/spinlock.h>
#include \"dev.h\"

void dev_bump(struct dev *d)
{
	spin_lock(&d->lock);
	d->count++;
	spin_unlock(&d->lock);
}
";

/// `dev_bump` returns early with the lock held: `lock/inconsistent-exit`.
const BUGGY: &str = "\
// SPDX-License-Identifier: GPL-2.0
#include <linux/spinlock.h>
#include \"dev.h\"

void dev_bump(struct dev *d)
{
	spin_lock(&d->lock);
	if (!d->open)
		return;
	d->count++;
	spin_unlock(&d->lock);
}
";

/// The same function below a new one: moved down, line text unchanged.
const BUGGY_MOVED: &str = "\
// SPDX-License-Identifier: GPL-2.0
#include <linux/spinlock.h>
#include \"dev.h\"

int dev_count(struct dev *d)
{
	int n;

	spin_lock(&d->lock);
	n = d->count;
	spin_unlock(&d->lock);
	return n;
}

void dev_bump(struct dev *d)
{
	spin_lock(&d->lock);
	if (!d->open)
		return;
	d->count++;
	spin_unlock(&d->lock);
}
";

/// Moved back up above `dev_count`, and the returning line's text changed.
const BUGGY_MOVED_EDITED: &str = "\
// SPDX-License-Identifier: GPL-2.0
#include <linux/spinlock.h>
#include \"dev.h\"

void dev_bump(struct dev *d)
{
	spin_lock(&d->lock);
	if (!d->open)
		return; /* closed */
	d->count++;
	spin_unlock(&d->lock);
}

int dev_count(struct dev *d)
{
	int n;

	spin_lock(&d->lock);
	n = d->count;
	spin_unlock(&d->lock);
	return n;
}
";

const FIXED: &str = "\
// SPDX-License-Identifier: GPL-2.0
#include <linux/spinlock.h>
#include \"dev.h\"

void dev_bump(struct dev *d)
{
	spin_lock(&d->lock);
	if (!d->open)
		goto out; /* closed */
	d->count++;
out:
	spin_unlock(&d->lock);
}

int dev_count(struct dev *d)
{
	int n;

	spin_lock(&d->lock);
	n = d->count;
	spin_unlock(&d->lock);
	return n;
}
";

const DEV_C: &str = "drivers/foo/dev.c";

/// A repository with a clean base and a series: introduce, move (text
/// unchanged), move with the line edited, fix. Returns (dir, base, commits).
fn series_repo() -> (support::Scratch, String, Vec<String>) {
    let repo = temp_dir("series");
    let dir = repo.path();
    git(dir, &["init", "-q"]);
    write(dir, "drivers/foo/dev.h", DEV_H);
    write(dir, DEV_C, CLEAN);
    write(dir, "README", "a tree\n");
    let base = commit_all(dir, "base");
    let mut commits = Vec::new();
    for (text, subject) in [
        (BUGGY, "dev: bail out early when closed"),
        (BUGGY_MOVED, "dev: add dev_count above dev_bump"),
        (BUGGY_MOVED_EDITED, "dev: move dev_bump up and note why"),
        (FIXED, "dev: release the lock when closed"),
    ] {
        write(dir, DEV_C, text);
        commits.push(commit_all(dir, subject));
    }
    (repo, base, commits)
}

/// (introduced, fixed) rule ids per commit of a `series --format json` array.
fn counts(report: &serde_json::Value) -> Vec<(String, Vec<String>, Vec<String>)> {
    let rules = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_owned())
            .collect()
    };
    report
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|c| {
            (
                c["subject"].as_str().unwrap().to_owned(),
                rules(&c["introduced"]),
                rules(&c["fixed"]),
            )
        })
        .collect()
}

const IE: &str = "lock/inconsistent-exit";

#[test]
fn series_reports_introduced_moved_and_fixed_by_fingerprint() {
    let (repo, base, commits) = series_repo();
    let dir = repo.path();
    let range = format!("{base}..HEAD");
    let out = lw(dir, &["series", "--format", "json", &range]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let s = |x: &str| x.to_owned();
    assert_eq!(
        counts(&report),
        vec![
            (s("dev: bail out early when closed"), vec![s(IE)], vec![]),
            // Moved down by new lines above: same fingerprint, nothing new.
            (s("dev: add dev_count above dev_bump"), vec![], vec![]),
            // Moved and the line text changed: a new fingerprint.
            (
                s("dev: move dev_bump up and note why"),
                vec![s(IE)],
                vec![s(IE)]
            ),
            (s("dev: release the lock when closed"), vec![], vec![s(IE)]),
        ]
    );
    let commits_out: Vec<&str> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["commit"].as_str().unwrap())
        .collect();
    assert_eq!(commits_out, commits);
    let first = &report[0]["introduced"][0];
    assert_eq!(first["file"], DEV_C);
    assert_eq!(first["line"], 9);
    assert_eq!(first["function"], "dev_bump");
    // The finding the move kept is the one the first commit introduced.
    assert_eq!(report[2]["fixed"][0]["fingerprint"], first["fingerprint"]);
    assert_eq!(report[2]["fixed"][0]["line"], 19, "reported where it was");

    let out = lw(dir, &["series", &range]);
    let text = stdout(&out);
    assert!(
        text.starts_with("[PATCH 1/4] dev: bail out early when closed: 1 introduced, 0 fixed\ndrivers/foo/dev.c:9:3: "),
        "{text}"
    );
    assert!(text.contains("[PATCH 2/4] dev: add dev_count above dev_bump: 0 introduced, 0 fixed\n"));
    assert!(text.contains("[PATCH 4/4] dev: release the lock when closed: 0 introduced, 1 fixed\nfixed: drivers/foo/dev.c:9:3: "));
    assert!(
        text.ends_with("4 patches: 2 introduced, 2 fixed\n"),
        "{text}"
    );

    // A range without findings introduced exits 0.
    let out = lw(dir, &["series", &format!("{}..HEAD", commits[2])]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn series_respects_suppressions_and_only() {
    let (repo, base, _) = series_repo();
    let dir = repo.path();
    let suppressed = BUGGY.replace(
        "\t\treturn;\n",
        "\t\treturn; /* lockwarden: ignore lock/inconsistent-exit */\n",
    );
    git(dir, &["checkout", "-q", "-b", "quiet", &base]);
    write(dir, DEV_C, &suppressed);
    commit_all(dir, "dev: bail out early, knowingly");
    let out = lw(
        dir,
        &["series", "--format", "json", &format!("{base}..HEAD")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        counts(&json(&out)),
        vec![("dev: bail out early, knowingly".to_owned(), vec![], vec![])]
    );
    let out = lw(
        dir,
        &[
            "series",
            "--only",
            "balloon/*",
            "--format",
            "json",
            &format!("{base}..main"),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(counts(&json(&out))
        .iter()
        .all(|(_, i, f)| i.is_empty() && f.is_empty()));
}

#[test]
fn mbox_from_format_patch_gives_the_same_as_the_range() {
    let (repo, base, _) = series_repo();
    let dir = repo.path();
    let mbox = dir.with_file_name(format!(
        "{}-series.mbox",
        dir.file_name().unwrap().to_string_lossy()
    ));
    let patches = git(
        dir,
        &[
            "format-patch",
            "--stdout",
            &format!("--base={base}"),
            &format!("{base}..HEAD"),
        ],
    );
    std::fs::write(&mbox, &patches).unwrap();
    let mbox_arg = mbox.to_string_lossy().into_owned();
    let range = lw(
        dir,
        &["series", "--format", "json", &format!("{base}..HEAD")],
    );
    let applied = lw(
        dir,
        &[
            "series", "--format", "json", "--mbox", &mbox_arg, "--base", &base,
        ],
    );
    assert_eq!(applied.status.code(), Some(1), "{}", stderr(&applied));
    assert_eq!(json(&applied), json(&range));
    // Without --base, the mbox's own base-commit: line is used.
    let by_trailer = lw(dir, &["series", "--format", "json", "--mbox", &mbox_arg]);
    assert_eq!(json(&by_trailer), json(&range), "{}", stderr(&by_trailer));
    // Human output numbers the patches as the mails do.
    let human = lw(dir, &["series", "--mbox", &mbox_arg, "--base", &base]);
    assert_eq!(
        stdout(&human),
        stdout(&lw(dir, &["series", &format!("{base}..HEAD")]))
    );
    let _ = std::fs::remove_file(&mbox);
}

/// Runs `series --mbox` on `text` and returns the output (exit 2 expected).
fn mbox_error(dir: &Path, base: &str, text: &str) -> String {
    let mbox = dir.with_file_name(format!(
        "{}-bad.mbox",
        dir.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&mbox, text).unwrap();
    let out = lw(
        dir,
        &["series", "--mbox", &mbox.to_string_lossy(), "--base", base],
    );
    let _ = std::fs::remove_file(&mbox);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn malformed_mboxes_and_patches_are_clear_errors() {
    let (repo, base, _) = series_repo();
    let dir = repo.path();
    let err = mbox_error(dir, &base, "this is not a mail\n");
    assert!(err.contains("not a git format-patch mbox"), "{err}");
    let err = mbox_error(dir, &base, "");
    assert!(err.contains("empty"), "{err}");
    let good = git(dir, &["format-patch", "--stdout", &format!("{base}..HEAD")]);
    // A hunk cut short.
    let cut = good
        .find("\tspin_lock(&d->lock);\n+\tif (!d->open)")
        .expect("the first patch's hunk");
    let truncated = format!("{}\n", &good[..cut]);
    let err = mbox_error(dir, &base, &truncated);
    assert!(err.contains("[PATCH 1/4]"), "{err}");
    assert!(err.contains("malformed patch"), "{err}");
    assert!(err.contains("hunk 1 of drivers/foo/dev.c"), "{err}");
    // A mail without a Subject.
    let no_subject = good.replacen("Subject: [PATCH 1/4]", "X-Subject: [PATCH 1/4]", 1);
    let err = mbox_error(dir, &base, &no_subject);
    assert!(err.contains("Subject"), "{err}");
}

#[test]
fn hunks_that_do_not_apply_name_the_patch_and_hunk() {
    let (repo, base, commits) = series_repo();
    let dir = repo.path();
    let good = git(dir, &["format-patch", "--stdout", &format!("{base}..HEAD")]);
    // Applied on top of its own result: the context of patch 1 is gone.
    let err = mbox_error(dir, "HEAD", &good);
    assert!(
        err.contains("[PATCH 1/4] `dev: bail out early when closed`"),
        "{err}"
    );
    assert!(err.contains("drivers/foo/dev.c: hunk 1 (@@ "), "{err}");
    assert!(err.contains("does not apply"), "{err}");
    // A context line changed by one byte does not apply at the base either.
    let first = git(dir, &["format-patch", "--stdout", "-1", &commits[0]]);
    let tampered = first.replacen(" \td->count++;", " \td->count += 1;", 1);
    assert_ne!(tampered, first);
    let err = mbox_error(dir, &format!("{}~1", commits[0]), &tampered);
    assert!(err.contains("[PATCH 1/1]"), "{err}");
    assert!(err.contains("hunk 1"), "{err}");
    assert!(
        err.contains("d->count += 1;"),
        "the mismatch is quoted: {err}"
    );
}

#[test]
fn patch_paths_that_leave_the_tree_are_refused() {
    let (repo, base, _) = series_repo();
    let dir = repo.path();
    for evil in [
        "../evil.c",
        "drivers/../../evil.c",
        "/tmp/lockwarden-evil.c",
        ".git/hooks/pre-commit",
    ] {
        let patch = format!(
            "From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001\n\
             From: t <t@t>\n\
             Subject: [PATCH 1/1] escape\n\
             \n\
             ---\n\
             diff --git a/{evil} b/{evil}\n\
             new file mode 100644\n\
             --- /dev/null\n\
             +++ b/{evil}\n\
             @@ -0,0 +1 @@\n\
             +int x;\n\
             -- \n\
             2.47.3\n"
        );
        let err = mbox_error(dir, &base, &patch);
        assert!(err.contains("refusing a path"), "{evil}: {err}");
        assert!(err.contains("[PATCH 1/1] `escape`"), "{err}");
    }
    assert!(!Path::new("/tmp/lockwarden-evil.c").exists());
    assert!(!dir.parent().unwrap().join("evil.c").exists());
}

#[test]
fn bad_ranges_are_usage_errors() {
    let (repo, _, _) = series_repo();
    let dir = repo.path();
    for range in ["nosuchrev..HEAD", "HEAD...HEAD~1", "--help-me"] {
        let out = lw(dir, &["series", range]);
        assert_eq!(out.status.code(), Some(2), "{range}: {}", stderr(&out));
    }
    let elsewhere = temp_dir("not-a-repo");
    let out = Command::new(LW)
        .current_dir(elsewhere.path())
        .env(
            "GIT_CEILING_DIRECTORIES",
            elsewhere.path().parent().unwrap(),
        )
        .args(["series", "HEAD~1..HEAD"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not in a git repository"),
        "{}",
        stderr(&out)
    );
}

/// A repository whose HEAD is clean, for the staged checks.
fn staged_repo() -> support::Scratch {
    let repo = temp_dir("staged");
    let dir = repo.path();
    git(dir, &["init", "-q"]);
    write(dir, "drivers/foo/dev.h", DEV_H);
    write(dir, DEV_C, CLEAN);
    commit_all(dir, "base");
    repo
}

#[test]
fn staged_violation_with_a_fix_only_in_the_work_tree_is_reported() {
    let repo = staged_repo();
    let dir = repo.path();
    write(dir, DEV_C, BUGGY);
    git(dir, &["add", DEV_C]);
    write(dir, DEV_C, FIXED); // the fix is not staged
    let out = lw(dir, &["check", "--staged", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report}");
    assert_eq!(findings[0]["rule"], IE);
    assert_eq!(findings[0]["file"], DEV_C);
    assert_eq!(
        findings[0]["line"], 9,
        "the staged line, not the work tree's"
    );
    // Human output shows the staged text.
    let out = lw(dir, &["check", "--staged"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("return;"), "{}", stdout(&out));
}

#[test]
fn staged_fix_with_a_violation_only_in_the_work_tree_reports_nothing() {
    let repo = staged_repo();
    let dir = repo.path();
    write(dir, DEV_C, FIXED);
    git(dir, &["add", DEV_C]);
    write(dir, DEV_C, BUGGY); // the violation is not staged
    let out = lw(dir, &["check", "--staged", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(json(&out)["findings"], serde_json::json!([]));
}

#[test]
fn staged_reports_only_what_the_change_introduces() {
    let repo = staged_repo();
    let dir = repo.path();
    write(dir, DEV_C, BUGGY);
    commit_all(dir, "an old violation");
    // An unrelated change in the same directory: the old finding is not new.
    write(
        dir,
        "drivers/foo/other.c",
        "#include \"dev.h\"\n\nint other(struct dev *d)\n{\n\treturn d->open;\n}\n",
    );
    git(dir, &["add", "drivers/foo/other.c"]);
    let out = lw(dir, &["check", "--staged", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // Nothing staged at all.
    git(dir, &["reset", "-q"]);
    let out = lw(dir, &["check", "--staged", "--format", "gcc"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "");
    // An edit inside the old finding's function, on its line: reported.
    let edited = BUGGY.replace("\t\treturn;\n", "\t\treturn; /* early */\n");
    write(dir, DEV_C, &edited);
    git(dir, &["add", DEV_C]);
    let out = lw(dir, &["check", "--staged", "--format", "gcc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("drivers/foo/dev.c:9:3: "),
        "{}",
        stdout(&out)
    );
}

/// A header in one directory whose function its users in another call
/// under their lock.
const GRAB_H: &str = "struct pool { spinlock_t lock; int n; };\n\nstatic inline void pool_add(struct pool *p)\n{\n\tp->n++;\n}\n\nstatic inline int pool_size(struct pool *p)\n{\n\treturn p->n;\n}\n";
const POOL_USER: &str = "#include <linux/pool.h>\n\nvoid fill(struct pool *p)\n{\n\tspin_lock(&p->lock);\n\tpool_add(p);\n\tspin_unlock(&p->lock);\n}\n";

#[test]
fn a_header_edit_is_checked_in_the_files_that_use_what_it_changed() {
    let repo = temp_dir("header-users");
    let dir = repo.path();
    git(dir, &["init", "-q"]);
    write(dir, "include/linux/pool.h", GRAB_H);
    write(dir, "drivers/pool/user.c", POOL_USER);
    // Uses only what the edit leaves alone: not analysed for it.
    write(
        dir,
        "drivers/size/size.c",
        "#include <linux/pool.h>\n\nint size(struct pool *p)\n{\n\treturn pool_size(p);\n}\n",
    );
    let base = commit_all(dir, "base");
    // `pool_add` now takes the lock its callers already hold, and keeps it.
    let edited = GRAB_H.replace("\tp->n++;", "\tspin_lock(&p->lock);\n\tp->n++;");
    write(dir, "include/linux/pool.h", &edited);
    git(dir, &["add", "include/linux/pool.h"]);
    let out = lw(dir, &["check", "--staged", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings[0]["rule"], "lock/double-acquire", "{report}");
    assert!(
        findings.iter().all(|f| f["file"] == "drivers/pool/user.c"),
        "{report}"
    );
    assert_eq!(
        report["summary"]["files"], 2,
        "the header and its user: {report}"
    );
    // The same commit in a series.
    commit_all(dir, "pool_add locks");
    let out = lw(
        dir,
        &["series", &format!("{base}..HEAD"), "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let series = json(&out);
    assert_eq!(
        series[0]["introduced"][0]["file"], "drivers/pool/user.c",
        "{series}"
    );
}

#[test]
fn staged_honours_git_index_file() {
    let repo = staged_repo();
    let dir = repo.path();
    let alt = dir.join(".git/alt-index");
    let alt_s = alt.to_string_lossy().into_owned();
    // An alternative index holding the violation; the default index is clean.
    let blob = {
        write(dir, "scratch.c", BUGGY);
        let oid = git(dir, &["hash-object", "-w", "scratch.c"]);
        std::fs::remove_file(dir.join("scratch.c")).unwrap();
        oid.trim().to_owned()
    };
    let mut cmd = git_command(dir);
    let ok = cmd
        .env("GIT_INDEX_FILE", &alt)
        .args(["read-tree", "HEAD"])
        .status()
        .unwrap();
    assert!(ok.success());
    let ok = git_command(dir)
        .env("GIT_INDEX_FILE", &alt)
        .args([
            "update-index",
            "--cacheinfo",
            &format!("100644,{blob},{DEV_C}"),
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    let alt_before = std::fs::read(&alt).unwrap();
    let out = lw_env(
        dir,
        &["check", "--staged", "--format", "gcc"],
        &[("GIT_INDEX_FILE", &alt_s)],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains(IE));
    assert_eq!(
        std::fs::read(&alt).unwrap(),
        alt_before,
        "the alternative index is untouched"
    );
    // A relative GIT_INDEX_FILE is relative to the current directory.
    let out = lw_env(
        dir,
        &["check", "--staged", "--format", "gcc"],
        &[("GIT_INDEX_FILE", ".git/alt-index")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = lw(dir, &["check", "--staged", "--format", "gcc"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn staged_outside_a_repository_is_a_usage_error() {
    let elsewhere = temp_dir("no-repo");
    let out = Command::new(LW)
        .current_dir(elsewhere.path())
        .env(
            "GIT_CEILING_DIRECTORIES",
            elsewhere.path().parent().unwrap(),
        )
        .args(["check", "--staged"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not in a git repository"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn hook_install_refuses_a_foreign_hook_unless_forced_and_the_hook_blocks() {
    let repo = staged_repo();
    let dir = repo.path();
    let hook = dir.join(".git/hooks/pre-commit");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::write(&hook, "#!/bin/sh\necho someone else's hook\n").unwrap();
    let out = lw(dir, &["hook", "install"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\necho someone else's hook\n"
    );
    let out = lw(dir, &["hook", "install", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The replaced hook is kept, not deleted.
    let backup = dir.join(".git/hooks/pre-commit.lockwarden-backup");
    assert_eq!(
        std::fs::read_to_string(&backup).unwrap(),
        "#!/bin/sh\necho someone else's hook\n"
    );
    assert!(stdout(&out).contains("kept"), "{}", stdout(&out));
    let text = std::fs::read_to_string(&hook).unwrap();
    assert!(text.contains("lockwarden pre-commit hook"), "{text}");
    assert!(text.contains("check --staged"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&hook).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "executable");
    }
    // Our own hook is replaced without --force.
    let out = lw(dir, &["hook", "install"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // The hook blocks a commit with a staged violation…
    write(dir, DEV_C, BUGGY);
    git(dir, &["add", DEV_C]);
    let out = git_command(dir)
        .args(["commit", "-q", "-m", "bad"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the commit went through");
    assert!(stdout(&out).contains(IE) || stderr(&out).contains(IE));
    // …and lets a clean one through.
    write(dir, DEV_C, FIXED);
    git(dir, &["add", DEV_C]);
    let out = git_command(dir)
        .args(["commit", "-q", "-m", "good"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // `git commit -a` hands the hook a temporary index (GIT_INDEX_FILE): a
    // violation only in the work tree is what it would record, and is blocked.
    write(dir, DEV_C, BUGGY);
    let out = git_command(dir)
        .args(["commit", "-q", "-a", "-m", "bad via -a"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "commit -a went through");
    assert_eq!(git(dir, &["log", "-1", "--format=%s"]).trim(), "good");
    // Uninstalling puts the kept hook back, and refuses to remove a foreign one.
    let out = lw(dir, &["hook", "uninstall"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        "#!/bin/sh\necho someone else's hook\n"
    );
    assert!(!backup.exists());
    let out = lw(dir, &["hook", "uninstall"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not written by lockwarden"));
}

/// The workspace's `target/` directory.
fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target")
}

fn skip(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// `target/pre-commit-venv/bin/pre-commit`, installed with pip if missing.
fn pre_commit() -> Option<PathBuf> {
    let venv = target_dir().join("pre-commit-venv");
    let bin = venv.join("bin/pre-commit");
    if !bin.exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "pre-commit"])
                .status()
                .is_ok_and(|s| s.success());
        if !made || !bin.exists() {
            return None;
        }
    }
    Some(bin)
}

#[test]
fn pre_commit_framework_runs_our_system_hook() {
    let Some(pre_commit) = pre_commit() else {
        if skip("LOCKWARDEN_SKIP_PRE_COMMIT") {
            eprintln!("skipped: pre-commit is not available (LOCKWARDEN_SKIP_PRE_COMMIT=1)");
            return;
        }
        panic!(
            "cannot install pre-commit into target/pre-commit-venv (python3 -m venv + pip install pre-commit); \
             install it, or set LOCKWARDEN_SKIP_PRE_COMMIT=1 to skip this test"
        );
    };
    // A hook repository holding our .pre-commit-hooks.yaml.
    let hooks = temp_dir("hook-repo");
    let hooks_dir = hooks.path();
    git(hooks_dir, &["init", "-q"]);
    let yaml = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .expect(".pre-commit-hooks.yaml at the repository root");
    write(hooks_dir, ".pre-commit-hooks.yaml", &yaml);
    let rev = commit_all(hooks_dir, "hooks");

    let repo = staged_repo();
    let dir = repo.path();
    write(
        dir,
        ".pre-commit-config.yaml",
        &format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: lockwarden-system\n",
            hooks_dir.display()
        ),
    );
    commit_all(dir, "pre-commit config");
    let home = temp_dir("pre-commit-home");
    let bin_dir = Path::new(LW).parent().unwrap();
    let path = format!(
        "{}:{}:{}",
        bin_dir.display(),
        pre_commit.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let with_env = |mut cmd: Command| {
        cmd.env("PATH", &path)
            .env("PRE_COMMIT_HOME", home.path())
            .env_remove("PRE_COMMIT_COLOR")
            .env("PRE_COMMIT_COLOR", "never");
        cmd
    };
    let mut install = with_env(Command::new(&pre_commit));
    let out = install
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .arg("install")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pre-commit install: {}{}",
        stdout(&out),
        stderr(&out)
    );

    write(dir, DEV_C, BUGGY);
    git(dir, &["add", DEV_C]);
    let out = with_env(git_command(dir))
        .args(["commit", "-m", "bad"])
        .output()
        .unwrap();
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        !out.status.success(),
        "pre-commit let a violation through:\n{said}"
    );
    assert!(said.contains(IE), "{said}");
    assert_eq!(git(dir, &["rev-list", "--count", "HEAD"]).trim(), "2");

    write(dir, DEV_C, FIXED);
    git(dir, &["add", DEV_C]);
    let out = with_env(git_command(dir))
        .args(["commit", "-m", "good"])
        .output()
        .unwrap();
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        out.status.success(),
        "pre-commit blocked a clean commit:\n{said}"
    );
    assert!(said.contains("lockwarden"), "the hook ran: {said}");
    assert_eq!(git(dir, &["rev-list", "--count", "HEAD"]).trim(), "3");
}

/// The SARIF validator, installed with npm into target/sarif-tool if missing.
fn sarif_validator() -> Option<PathBuf> {
    let prefix = target_dir().join("sarif-tool");
    let bin = prefix.join("node_modules/.bin/sarif-multitool");
    if !bin.exists() {
        let ok = Command::new("npm")
            .args(["install", "--prefix"])
            .arg(&prefix)
            .arg("@microsoft/sarif-multitool")
            .status()
            .is_ok_and(|s| s.success());
        if !ok || !bin.exists() {
            return None;
        }
    }
    Some(bin)
}

/// The validator's errors and warnings for `file` (results of level
/// `error` or `warning`, which is also what a result without a level is).
fn validate(validator: &Path, file: &Path) -> Vec<String> {
    let log = file.with_extension("validation.sarif");
    let out = Command::new(validator)
        .arg("validate")
        .arg(file)
        .arg("-o")
        .arg(&log)
        .args(["--log", "ForceOverwrite"])
        .output()
        .expect("run sarif-multitool");
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(out.status.success(), "sarif-multitool failed: {said}");
    let log: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&log).expect("validation log")).unwrap();
    let run = &log["runs"][0];
    assert_ne!(
        run["invocations"][0]["executionSuccessful"], false,
        "validator: {said}"
    );
    let mut problems: Vec<String> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| matches!(r["level"].as_str(), None | Some("error" | "warning")))
        .map(|r| format!("{}: {}", r["ruleId"], r["message"]))
        .collect();
    problems.extend(
        said.lines()
            .filter(|l| l.contains(": error ") || l.contains(": warning "))
            .map(str::to_owned),
    );
    problems
}

/// Whether `uri` names something that exists: a `file:` URI an existing
/// file (fragment aside), or a web address.
fn uri_exists(uri: &str) -> bool {
    match uri.strip_prefix("file://") {
        Some(path) => Path::new(path.split('#').next().unwrap_or_default()).is_file(),
        None => uri.starts_with("https://") || uri.starts_with("http://"),
    }
}

#[test]
fn sarif_output_passes_microsofts_validator() {
    let Some(validator) = sarif_validator() else {
        if skip("LOCKWARDEN_SKIP_SARIF_VALIDATOR") {
            eprintln!(
                "skipped: the SARIF validator is not available (LOCKWARDEN_SKIP_SARIF_VALIDATOR=1)"
            );
            return;
        }
        panic!(
            "cannot install the SARIF validator (npm install --prefix target/sarif-tool @microsoft/sarif-multitool); \
             install npm, or set LOCKWARDEN_SKIP_SARIF_VALIDATOR=1 to skip this test"
        );
    };
    let (repo, base, _) = series_repo();
    let dir = repo.path();
    let work = temp_dir("sarif");
    // A tree with findings, as `check` and as `series` report it.
    git(dir, &["checkout", "-q", "HEAD~1"]);
    let check = lw(dir, &["check", "--format", "sarif", "."]);
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));
    // Commits 1-3: the finding commit 3 introduced is still open.
    let series = lw(
        dir,
        &["series", "--format", "sarif", &format!("{base}..HEAD")],
    );
    assert_eq!(series.status.code(), Some(1), "{}", stderr(&series));
    for (name, out) in [("check", &check), ("series", &series)] {
        let file = work.path().join(format!("{name}.sarif"));
        std::fs::write(&file, &out.stdout).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let results = doc["runs"][0]["results"].as_array().unwrap();
        assert!(!results.is_empty(), "{name}: no results to validate");
        for r in results {
            // The validator does not check enums; we do.
            let level = r["level"].as_str().unwrap_or("warning");
            assert!(["none", "note", "warning", "error"].contains(&level), "{r}");
        }
        // Where to learn about the tool and each rule, and what each checks.
        let driver = &doc["runs"][0]["tool"]["driver"];
        let info = driver["informationUri"].as_str().unwrap_or_default();
        assert!(uri_exists(info), "{name}: informationUri {info:?}");
        for rule in driver["rules"].as_array().unwrap() {
            let full = rule["fullDescription"]["text"].as_str().unwrap_or_default();
            assert!(!full.is_empty(), "{name}: no fullDescription: {rule}");
            let help = rule["helpUri"].as_str().unwrap_or_default();
            assert!(uri_exists(help), "{name}: helpUri {help:?} of {rule}");
        }
        let problems = validate(&validator, &file);
        assert!(
            problems.is_empty(),
            "{name}: SARIF validation errors and warnings:\n{}",
            problems.join("\n")
        );
    }
    // The validator really validates: a broken copy is rejected.
    let mut broken: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        serde_json::json!(0);
    let file = work.path().join("broken.sarif");
    std::fs::write(&file, serde_json::to_vec(&broken).unwrap()).unwrap();
    assert!(
        !validate(&validator, &file).is_empty(),
        "the validator accepted startLine 0"
    );
}

/// Replaces `old` by `new` exactly once in the file `path` of `dir`.
fn edit_file(dir: &Path, path: &str, old: &str, new: &str) {
    let text = std::fs::read_to_string(dir.join(path)).unwrap();
    assert_eq!(
        text.matches(old).count(),
        1,
        "expected one `{old}` in {path}"
    );
    std::fs::write(dir.join(path), text.replacen(old, new, 1)).unwrap();
}

#[test]
fn balloon_series_on_the_real_tree_fixes_and_introduces_what_it_should() {
    let tree = kernel_tree();
    let repo = temp_dir("balloon");
    let dir = repo.path();
    git(dir, &["init", "-q"]);
    for file in [
        "mm/balloon_compaction.c",
        "include/linux/balloon_compaction.h",
        "drivers/virtio/virtio_balloon.c",
        "drivers/misc/vmw_balloon.c",
        "arch/powerpc/platforms/pseries/cmm.c",
    ] {
        let dest = dir.join(file);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(tree.join(file), dest).unwrap();
    }
    let base = commit_all(dir, "balloon files of Linux 6.12");
    let mm = "mm/balloon_compaction.c";
    edit_file(dir, mm, "\tBUG_ON(!trylock_page(page));\n", "");
    edit_file(
        dir,
        mm,
        "\tunlock_page(page);\n\t__count_vm_event(BALLOON_INFLATE);",
        "\t__count_vm_event(BALLOON_INFLATE);",
    );
    edit_file(
        dir,
        mm,
        "\t\tif (!trylock_page(page))\n\t\t\tcontinue;\n",
        "",
    );
    edit_file(
        dir,
        mm,
        "\t\tunlock_page(page);\n\t\tn_pages++;",
        "\t\tn_pages++;",
    );
    commit_all(dir, "mm/balloon_compaction: stop using the page lock");
    edit_file(
        dir,
        "drivers/virtio/virtio_balloon.c",
        "\tballoon_page_finalize(page);\n\tput_page(page); /* balloon reference */",
        "\tspin_lock_irqsave(&vb_dev_info->pages_lock, flags);\n\tballoon_page_finalize(page);\n\tspin_unlock_irqrestore(&vb_dev_info->pages_lock, flags);\n\tput_page(page); /* balloon reference */",
    );
    commit_all(dir, "virtio_balloon: finalize under the pages lock");
    edit_file(
        dir,
        "drivers/misc/vmw_balloon.c",
        "\t/* Inflate */\n\tvmballoon_add_page(b, 0, newpage);",
        "\t/* Inflate */\n\tset_page_private(newpage, 0);\n\tvmballoon_add_page(b, 0, newpage);",
    );
    commit_all(dir, "vmw_balloon: clear the new page's private");

    let range = format!("{base}..HEAD");
    let out = lw(
        dir,
        &["series", "--only", "balloon/*", "--format", "json", &range],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    let got = counts(&report);
    let s = |x: &str| x.to_owned();
    let nolock = s("balloon/no-page-lock");
    let private = s("balloon/page-private-needs-lock");
    assert_eq!(
        got,
        vec![
            (
                s("mm/balloon_compaction: stop using the page lock"),
                vec![],
                vec![nolock.clone(), nolock.clone(), nolock.clone(), nolock]
            ),
            (
                s("virtio_balloon: finalize under the pages lock"),
                vec![],
                vec![private.clone()]
            ),
            (
                s("vmw_balloon: clear the new page's private"),
                vec![private],
                vec![]
            ),
        ]
    );
    assert_eq!(
        report[1]["fixed"][0]["file"],
        "drivers/virtio/virtio_balloon.c"
    );
    assert_eq!(
        report[2]["introduced"][0]["file"],
        "drivers/misc/vmw_balloon.c"
    );

    let mbox = dir.with_file_name(format!(
        "{}-balloon.mbox",
        dir.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&mbox, git(dir, &["format-patch", "--stdout", &range])).unwrap();
    let applied = lw(
        dir,
        &[
            "series",
            "--only",
            "balloon/*",
            "--format",
            "json",
            "--mbox",
            &mbox.to_string_lossy(),
            "--base",
            &base,
        ],
    );
    let _ = std::fs::remove_file(&mbox);
    assert_eq!(applied.status.code(), Some(1), "{}", stderr(&applied));
    assert_eq!(json(&applied), report);
    let human = stdout(&lw(dir, &["series", "--only", "balloon/*", &range]));
    assert!(
        human.starts_with(
            "[PATCH 1/3] mm/balloon_compaction: stop using the page lock: 0 introduced, 4 fixed\n"
        ),
        "{human}"
    );
    assert!(human.contains("[PATCH 3/3] vmw_balloon: clear the new page's private: 1 introduced, 0 fixed\ndrivers/misc/vmw_balloon.c:"));
}

#[test]
fn staged_and_series_leave_out_excluded_files() {
    let repo = staged_repo();
    let dir = repo.path();
    write(dir, DEV_C, BUGGY);
    git(dir, &["add", DEV_C]);
    // Staged: the violation is in an excluded file, by path or by name.
    for glob in ["drivers/foo/**", "dev.c"] {
        let out = lw(
            dir,
            &["check", "--staged", "--exclude", glob, "--format", "gcc"],
        );
        assert_eq!(out.status.code(), Some(0), "{glob}: {}", stdout(&out));
        assert_eq!(stdout(&out), "", "{glob}");
    }
    // Another glob leaves it in.
    let out = lw(
        dir,
        &[
            "check",
            "--staged",
            "--exclude",
            "*_test.c",
            "--format",
            "gcc",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    // A bad glob is a usage error.
    let out = lw(
        dir,
        &["check", "--staged", "--exclude", "a[", "--format", "gcc"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // Series: the commit introduces the violation, in an excluded file.
    commit_all(dir, "dev: bail out early");
    let out = lw(
        dir,
        &[
            "series",
            "--exclude",
            "drivers/foo/**",
            "--format",
            "json",
            "HEAD~1..HEAD",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        counts(&json(&out)),
        vec![("dev: bail out early".to_owned(), vec![], vec![])]
    );
    let out = lw(dir, &["series", "--format", "json", "HEAD~1..HEAD"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}

#[test]
fn staged_and_series_read_the_config_at_the_top_of_the_work_tree() {
    let repo = staged_repo();
    let dir = repo.path();
    write(dir, DEV_C, BUGGY);
    git(dir, &["add", DEV_C]);
    // Untracked: read from the work tree, also when run from a subdirectory.
    write(dir, ".lockwarden.toml", "exclude = [\"drivers/foo/**\"]\n");
    for cwd in [dir.to_path_buf(), dir.join("drivers/foo")] {
        let out = lw(&cwd, &["check", "--staged", "--format", "gcc"]);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        assert_eq!(stdout(&out), "");
    }
    // The flag's list replaces the config's.
    let out = lw(
        dir,
        &[
            "check",
            "--staged",
            "--exclude",
            "*_test.c",
            "--format",
            "gcc",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    // A bad config stops the commit with a usage error naming it.
    write(dir, ".lockwarden.toml", "exclude = \"drivers/foo/**\"\n");
    let out = lw(dir, &["check", "--staged"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(".lockwarden.toml"),
        "{}",
        stderr(&out)
    );
    // Series: the config's exclude and fail-on (the finding is a warning).
    write(dir, ".lockwarden.toml", "exclude = [\"drivers/foo/**\"]\n");
    git(dir, &["commit", "-q", "-m", "dev: bail out early"]);
    let out = lw(dir, &["series", "--format", "json", "HEAD~1..HEAD"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        counts(&json(&out)),
        vec![("dev: bail out early".to_owned(), vec![], vec![])]
    );
    write(dir, ".lockwarden.toml", "fail-on = \"error\"\n");
    let out = lw(dir, &["series", "--format", "json", "HEAD~1..HEAD"]);
    assert_eq!(out.status.code(), Some(0), "reported, not failing");
    assert_eq!(counts(&json(&out))[0].1.len(), 1);
    std::fs::remove_file(dir.join(".lockwarden.toml")).unwrap();
    let out = lw(dir, &["series", "--format", "json", "HEAD~1..HEAD"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
}
