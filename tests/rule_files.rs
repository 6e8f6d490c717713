//! `lockwarden check --rules FILE`: a broken rule file stops the check with
//! exit status 2 and a diagnostic naming the file and pointing at the bad
//! spot as `[FILE:LINE:COL]`; a good one adds its rules to the built-in ones.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;
use support::{scratch, write};

/// `lockwarden check --rules RULES --format gcc --root ROOT ROOT/FILE`, run
/// at ROOT (so that findings print root-relative paths).
fn check(root: &Path, rules: &Path, file: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockwarden"))
        .current_dir(root)
        .args(["check", "--format", "gcc", "--rules"])
        .arg(rules)
        .arg("--root")
        .arg(root)
        .arg(root.join(file))
        .output()
        .expect("run lockwarden")
}

/// 1-based line and column of the only occurrence of `needle` in `text`.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    assert_eq!(text.matches(needle).count(), 1, "`{needle}` must be unique");
    let at = text.find(needle).unwrap();
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

const DRIVER: &str = "\
// SPDX-License-Identifier: GPL-2.0
#include <linux/pagemap.h>

void my_balloon_settle(struct page *page)
{
\tlock_page(page);
\tunlock_page(page);
}
";

/// Runs `check --rules RULES` on the driver under `dir`: it must exit 2,
/// print no findings, and point at each `(file, its text, needle, message)`
/// of `want`. Returns stderr.
fn assert_rejected(dir: &Path, rules: &Path, want: &[(PathBuf, &str, &str, &str)]) -> String {
    write(&dir.join("drivers/misc/my_balloon.c"), DRIVER);
    let out = check(dir, rules, "drivers/misc/my_balloon.c");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "want exit status 2 for a broken rule file; stderr:\n{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "no findings may be printed when a rule file is broken:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for (file, text, needle, message) in want {
        let (line, col) = position_of(text, needle);
        let pointer = format!("{}:{line}:{col}", file.display());
        assert!(
            stderr.contains(&pointer),
            "stderr does not point at `{pointer}`:\n{stderr}"
        );
        assert!(
            stderr.contains(message),
            "stderr does not say `{message}`:\n{stderr}"
        );
    }
    stderr
}

/// Runs a check with the broken rule file `text` and asserts exit status 2
/// and a diagnostic at the position of `needle` in it.
fn assert_rejected_at(test: &str, text: &str, needle: &str, message: &str) {
    let dir = scratch("rule-files", test);
    let rules = dir.join("broken.toml");
    write(&rules, text);
    assert_rejected(&dir, &rules, &[(rules.clone(), text, needle, message)]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The same with the rule files `files` (name, text) in one `--rules DIR`,
/// and a diagnostic for each `(file, needle, message)` of `want`.
fn assert_errors_in_dir(test: &str, files: &[(&str, &str)], want: &[(&str, &str, &str)]) -> String {
    let dir = scratch("rule-files", test);
    let rules = dir.join("rules");
    for (name, text) in files {
        write(&rules.join(name), text);
    }
    let want: Vec<_> = want
        .iter()
        .map(|&(name, needle, message)| {
            let text = files
                .iter()
                .find(|(n, _)| *n == name)
                .expect("a file of the test")
                .1;
            (rules.join(name), text, needle, message)
        })
        .collect();
    let stderr = assert_rejected(&dir, &rules, &want);
    let _ = std::fs::remove_dir_all(&dir);
    stderr
}

/// A rule naming a class that does not exist (`page-locks`).
const UNKNOWN_CLASS: &str = r#"[[scope]]
id = "my driver"
files = ["drivers/misc/my_balloon.c"]

[[rule]]
id = "mine/no-page-lock"
kind = "forbid"
summary = "my driver never takes a page lock"
class = "page-locks"
scope = "my driver"
"#;

#[test]
fn unknown_class_points_at_the_rule() {
    let text = UNKNOWN_CLASS;
    assert_rejected_at(
        "unknown-class",
        text,
        r#""page-locks""#,
        "unknown lock class `page-locks`",
    );
}

#[test]
fn toml_syntax_error_points_at_the_bad_token() {
    let text = r#"[[scope]]
id = "my driver"
files = ["drivers/misc/my_balloon.c" "drivers/misc/other.c"]
"#;
    assert_rejected_at(
        "syntax",
        text,
        r#""drivers/misc/other.c""#,
        "invalid rule file",
    );
}

#[test]
fn bad_glob_points_at_the_glob() {
    let text = r#"[[scope]]
id = "my driver"
files = ["drivers/misc/{my_balloon.c"]
"#;
    assert_rejected_at(
        "bad-glob",
        text,
        r#""drivers/misc/{my_balloon.c""#,
        "bad glob",
    );
}

/// The same rules, fixed, are loaded next to the built-in ones and report.
#[test]
fn a_good_rule_file_adds_its_rule() {
    let dir = scratch("rule-files", "good");
    let rules = dir.join("mine.toml");
    write(
        &rules,
        r#"[[scope]]
id = "my driver"
files = ["drivers/misc/my_balloon.c"]

[[rule]]
id = "mine/no-page-lock"
kind = "forbid"
summary = "my driver never takes a page lock"
class = "page-lock"
scope = "my driver"
"#,
    );
    write(&dir.join("drivers/misc/my_balloon.c"), DRIVER);
    let out = check(&dir, &rules, "drivers/misc/my_balloon.c");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "want exit status 1 (findings); stderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [6, 7] {
        let want = format!("drivers/misc/my_balloon.c:{line}:2: ");
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&want) && l.ends_with("[mine/no-page-lock]")),
            "no mine/no-page-lock finding at line {line}:\n{stdout}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// In a `--rules DIR`, the broken file is the one named.
#[test]
fn broken_file_in_a_rules_directory_is_named() {
    let dir = scratch("rule-files", "dir");
    let rules = dir.join("rules");
    write(
        &rules.join("a-good.toml"),
        "[[scope]]\nid = \"my driver\"\nfiles = [\"drivers/misc/my_balloon.c\"]\n",
    );
    let broken = "[[rule]]\nid = \"mine/no-page-lock\"\nkind = \"forbid\"\nsummary = \"s\"\nclass = \"page-lock\"\nscope = \"my drivers\"\n";
    write(&rules.join("b-broken.toml"), broken);
    write(&dir.join("drivers/misc/my_balloon.c"), DRIVER);
    let out = check(&dir, &rules, "drivers/misc/my_balloon.c");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let (line, col) = position_of(broken, "\"my drivers\"");
    let pointer = format!("{}:{line}:{col}", rules.join("b-broken.toml").display());
    assert_eq!(out.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&pointer),
        "stderr does not point at `{pointer}`:\n{stderr}"
    );
    assert!(
        !stderr.contains("a-good.toml"),
        "the good file is blamed:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A lock class defined twice in one file: the error points at the second
/// definition and labels the first.
#[test]
fn duplicate_class_in_one_file() {
    let text = r#"[[class]]
id = "balloon_pages"
summary = "the balloon pages lock"
globals = ["balloon_pages_lock"]

[[class]]
id = "balloon_pages"  # again
summary = "the balloon pages lock, again"
globals = ["other_lock"]
"#;
    let stderr = assert_errors_in_dir(
        "dup-class",
        &[("mine.toml", text)],
        &[
            (
                "mine.toml",
                r#""balloon_pages"  # again"#,
                "lock class `balloon_pages` is defined twice",
            ),
            ("mine.toml", "\"balloon_pages\"\n", "first defined here"),
        ],
    );
    assert_eq!(stderr.matches("defined twice").count(), 1, "{stderr}");
}

#[test]
fn rule_id_of_a_builtin_rule() {
    let text = r#"[[scope]]
id = "my driver"
files = ["drivers/misc/my_balloon.c"]

[[rule]]
id = "lock/double-acquire"
kind = "forbid"
summary = "my driver never takes a page lock"
class = "page-lock"
scope = "my driver"
"#;
    assert_errors_in_dir(
        "builtin-id",
        &[("mine.toml", text)],
        &[(
            "mine.toml",
            r#""lock/double-acquire""#,
            "rule id `lock/double-acquire` is a built-in rule's id",
        )],
    );
}

#[test]
fn scope_listing_no_file() {
    let text = "[[scope]]\nid = \"my driver\"\nfiles = []\n";
    assert_errors_in_dir(
        "no-files",
        &[("mine.toml", text)],
        &[(
            "mine.toml",
            "[]",
            "`files` of scope `my driver` lists no file: its rules would never apply",
        )],
    );
}

/// Two broken files in one `--rules DIR`: both errors are reported in one
/// run, and a duplicate across files names the file of the first definition.
#[test]
fn errors_of_two_files_in_one_run() {
    let a = UNKNOWN_CLASS;
    let b = r#"[[rule]]
id = "mine/no-page-lock"
kind = "forbid"
summary = "my driver never takes a page lock, again"
class = "page-lock"
scope = "my driver"
"#;
    let stderr = assert_errors_in_dir(
        "two-files",
        &[("a.toml", a), ("b.toml", b)],
        &[
            (
                "a.toml",
                r#""page-locks""#,
                "unknown lock class `page-locks`",
            ),
            (
                "b.toml",
                r#""mine/no-page-lock""#,
                "rule `mine/no-page-lock` is defined twice",
            ),
        ],
    );
    assert!(stderr.contains("already defined in "), "{stderr}");
    assert!(stderr.contains("a.toml"), "{stderr}");
    assert!(
        stderr.contains("error: 2 errors in the rule files"),
        "{stderr}"
    );
}

#[test]
fn rules_are_listed_as_json_for_scripts() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lockwarden"))
            .arg("rules")
            .args(args)
            .output()
            .expect("run lockwarden rules")
    };
    let out = run(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON array");
    let ids: Vec<&str> = all
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    for id in [
        "lock/double-acquire",
        "balloon/page-private-needs-lock",
        "balloon/no-page-lock",
    ] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let one = run(&["balloon/no-page-lock", "--format", "json"]);
    let rule: serde_json::Value = serde_json::from_slice(&one.stdout).expect("one object");
    assert_eq!(rule["id"], "balloon/no-page-lock");
    assert_eq!(rule["severity"], "error");
    assert!(rule["summary"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(
        run(&["no/such-rule", "--format", "json"]).status.code(),
        Some(2)
    );
}
