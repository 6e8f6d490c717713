//! Inline suppressions through the command line (SPEC.md §3): where a
//! `lockwarden: ignore` comment silences a finding, that a rule id it names
//! must exist, and that one which silences nothing is a note.

use std::path::Path;
use std::process::Output;

mod support;
use support::{lockwarden, scratch};

/// A driver whose setter returns an error code holding the lock: one
/// `lock/inconsistent-exit` at the `return -EINVAL;` (line 14), labelling
/// the lock call (12), the unlock (16) and the other return (17).
/// `{above}` is the line right above the function's header (9), `{lock}`,
/// `{bail}` the comments after the lock call and after the early return.
const DRIVER: &str = "// SPDX-License-Identifier: GPL-2.0
#include <linux/errno.h>
#include <linux/spinlock.h>

struct widget {
	spinlock_t lock;
	int state;
};
{above}
int widget_set(struct widget *w, int state)
{
	spin_lock(&w->lock);{lock}
	if (state < 0)
		return -EINVAL;{bail}
	w->state = state;
	spin_unlock(&w->lock);
	return 0;
}
";

/// [`DRIVER`] with its placeholders filled.
fn driver(above: &str, lock: &str, bail: &str) -> String {
    DRIVER
        .replace("{above}", above)
        .replace("{lock}", lock)
        .replace("{bail}", bail)
}

/// A scratch directory holding `widget.c` with `source`.
fn widget_dir(name: &str, source: &str) -> support::Scratch {
    let dir = scratch("suppress", name);
    std::fs::write(dir.join("widget.c"), source).expect("write widget.c");
    dir
}

/// A finding as [`findings`] lists it.
fn finding(rule: &str, line: u64, severity: &str) -> (String, u64, String) {
    (rule.to_owned(), line, severity.to_owned())
}

/// `check --format json` of `paths` (after `args`): the exit status and
/// the findings as `(rule, line, severity)`.
fn findings(args: &[&str], paths: &[&Path]) -> (Option<i32>, Vec<(String, u64, String)>) {
    let out = lockwarden()
        .args(["check", "-q", "--format", "json"])
        .args(args)
        .args(paths)
        .output()
        .expect("run lockwarden");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.stderr.is_empty(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    let found = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or_default().to_owned(),
                f["line"].as_u64().unwrap_or_default(),
                f["severity"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (out.status.code(), found)
}

/// `check` of a file of `source` that must fail as a usage error.
fn refused(name: &str, source: &str) -> String {
    let dir = widget_dir(name, source);
    let out: Output = lockwarden()
        .args(["check", "-q"])
        .arg(&dir)
        .output()
        .expect("run lockwarden");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing is analysed");
    stderr
}

#[test]
fn without_a_suppression_the_driver_has_its_finding() {
    // The marker in a string or in code is no suppression.
    let in_string = "static const char *why = \"lockwarden: ignore lock/nonsense\";";
    for (name, source) in [
        ("none", driver("", "", "")),
        ("string", driver(in_string, "", "")),
    ] {
        let dir = widget_dir(name, &source);
        let (code, found) = findings(&[], &[&dir]);
        assert_eq!(code, Some(1), "{name}");
        assert_eq!(found, [finding("lock/inconsistent-exit", 14, "warning")]);
    }
}

#[test]
fn a_suppression_on_the_line_a_lock_line_or_above_the_function_silences_it() {
    let ignore = "lockwarden: ignore lock/inconsistent-exit";
    let placements = [
        ("return", driver("", "", &format!(" // {ignore}"))),
        ("lock-call", driver("", &format!(" /* {ignore} */"), "")),
        (
            "above-function",
            driver(
                &format!("\n/*\n * widget_set - set the state\n * {ignore} -- callers unlock\n */"),
                "",
                "",
            ),
        ),
    ];
    for (name, source) in placements {
        let dir = widget_dir(name, &source);
        let (code, found) = findings(&[], &[&dir]);
        assert_eq!((code, found), (Some(0), vec![]), "{name}:\n{source}");
    }
}

#[test]
fn a_comment_apart_from_the_function_does_not_cover_it_and_is_noted() {
    let source = driver(
        "\n/* lockwarden: ignore lock/inconsistent-exit */\n",
        "",
        "",
    );
    let dir = widget_dir("apart", &source);
    let (code, found) = findings(&[], &[&dir]);
    assert_eq!(code, Some(1));
    assert_eq!(
        found,
        [
            finding("lockwarden/unused-suppression", 10, "note"),
            finding("lock/inconsistent-exit", 16, "warning"),
        ]
    );
}

#[test]
fn a_suppression_that_suppresses_nothing_is_a_note_unless_its_rule_did_not_run() {
    let source = driver(
        "",
        " /* lockwarden: ignore lock/double-acquire */",
        " // lockwarden: ignore lock/inconsistent-exit",
    );
    let dir = widget_dir("unused", &source);
    let note = finding("lockwarden/unused-suppression", 12, "note");
    // Reported, and by default (--fail-on warning) a note does not fail the run.
    let (code, found) = findings(&[], &[&dir]);
    assert_eq!((code, found), (Some(0), vec![note.clone()]));
    // Notes fail the run only at --fail-on note.
    let (code, _) = findings(&["--fail-on", "note"], &[&dir]);
    assert_eq!(code, Some(1));
    // lock/double-acquire ran and found nothing there: still unused.
    let (_, found) = findings(
        &[
            "--only",
            "lock/double-acquire,lockwarden/unused-suppression",
        ],
        &[&dir],
    );
    assert_eq!(found, [note]);
    // lock/double-acquire did not run: its suppression is not judged (and
    // the other one covers the inconsistent exit).
    let (code, found) = findings(&["--only", "lock/inconsistent-exit,lockwarden/*"], &[&dir]);
    assert_eq!((code, found), (Some(0), vec![]));
    // Not selected, the note itself is not reported.
    let (code, found) = findings(&["--only", "lock/*"], &[&dir]);
    assert_eq!((code, found), (Some(0), vec![]));
}

#[test]
fn only_the_unused_ids_of_a_suppression_are_named() {
    let source = driver(
        "",
        "",
        " /* lockwarden: ignore lock/inconsistent-exit, lock/leak-at-exit */",
    );
    let dir = widget_dir("partly", &source);
    // Run in the tree, so that the path printed is the root-relative one.
    let out = lockwarden()
        .current_dir(&dir)
        .args(["check", "-q", "--format", "gcc"])
        .arg(&dir)
        .output()
        .expect("run lockwarden");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout.trim_end(),
        "widget.c:14:22: note: `lock/leak-at-exit` in `lockwarden: ignore lock/inconsistent-exit, \
         lock/leak-at-exit` suppresses nothing here [lockwarden/unused-suppression]"
    );
}

#[test]
fn an_unknown_rule_id_or_none_is_a_usage_error() {
    let stderr = refused(
        "unknown",
        &driver(
            "",
            " /* lockwarden: ignore lock/dobule-acquire, lock/* */",
            "",
        ),
    );
    assert!(
        stderr.contains("error: widget.c:12: unknown rule id 'lock/dobule-acquire' in suppression"),
        "{stderr}"
    );
    assert!(!stderr.contains("'lock/*'"), "{stderr}");
    let stderr = refused("glob", &driver("", "", " // lockwarden: ignore lok/*"));
    assert!(
        stderr.contains("error: widget.c:14: unknown rule id 'lok/*' in suppression"),
        "{stderr}"
    );
    let stderr = refused("bare", &driver("", "", " /* lockwarden: ignore */"));
    assert!(
        stderr.contains("error: widget.c:14: suppression names no rule id"),
        "{stderr}"
    );
}

#[test]
fn a_header_read_for_context_has_its_unused_suppressions_unreported() {
    let dir = scratch("suppress", "header");
    std::fs::create_dir_all(dir.join("include/linux")).expect("include dir");
    std::fs::create_dir_all(dir.join("drivers")).expect("drivers dir");
    std::fs::write(
        dir.join("include/linux/widget.h"),
        "#include <linux/spinlock.h>\n\
         struct widget {\n\tspinlock_t lock;\n\tint state;\n};\n\
         static inline void widget_touch(struct widget *w)\n{\n\
         \tspin_lock(&w->lock); /* lockwarden: ignore lock/double-acquire */\n\
         \tspin_unlock(&w->lock);\n}\n",
    )
    .expect("write header");
    std::fs::write(
        dir.join("drivers/widget.c"),
        "#include <linux/widget.h>\n\nint widget_get(struct widget *w)\n{\n\treturn w->state;\n}\n",
    )
    .expect("write driver");
    let root = dir.to_string_lossy().into_owned();
    let driver = dir.join("drivers/widget.c");
    let (code, found) = findings(&["--root", &root], &[&driver]);
    assert_eq!((code, found), (Some(0), vec![]));
    // The header was read: the driver's report counts it.
    let out = lockwarden()
        .args(["check", "-q", "--format", "json", "--root", &root])
        .arg(&driver)
        .output()
        .expect("run lockwarden");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["summary"]["files"], 2);
    let (code, found) = findings(&["--root", &root], &[&dir]);
    assert_eq!(
        (code, found),
        (
            Some(0),
            vec![finding("lockwarden/unused-suppression", 8, "note")]
        )
    );
}

#[test]
fn the_unused_suppression_rule_is_listed() {
    let out = lockwarden()
        .args(["rules", "lockwarden/unused-suppression"])
        .output()
        .expect("run lockwarden");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.starts_with("lockwarden/unused-suppression (note)"),
        "{stdout}"
    );
}
