//! `.lockwarden.toml` at the tree root: its keys apply to `check`, a flag of
//! the same name replaces them, and an unknown key or bad value is a usage
//! error naming the file. (`check --staged` and `series` read it from the
//! repository's top level: tests/git_workflows.rs.)

mod support;

use std::path::Path;
use std::process::Output;

/// A scratch tree of its own for this test: `a.c` with a double acquire (an
/// error), `staging/b.c` leaking on some paths (a warning only).
fn tree(name: &str) -> support::Scratch {
    let dir = support::scratch("config", name);
    std::fs::create_dir_all(dir.join("staging")).expect("scratch dir");
    std::fs::copy("fixtures/lock/guard_double.c", dir.join("a.c")).expect("copy");
    std::fs::copy("fixtures/lock/fall_off_end_held.c", dir.join("staging/b.c")).expect("copy");
    dir
}

fn config(dir: &Path, text: &str) {
    std::fs::write(dir.join(".lockwarden.toml"), text).expect("write config");
}

fn check(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_lockwarden"))
        .args(["check", "--format", "json", "--root"])
        .arg(dir)
        .args(args)
        .arg(dir)
        .output()
        .expect("run lockwarden")
}

/// The exit status and the (file, rule) of every finding.
fn findings(out: &Output) -> (Option<i32>, Vec<(String, String)>) {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let found = v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or_default().to_owned(),
                f["rule"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (out.status.code(), found)
}

fn pair(file: &str, rule: &str) -> (String, String) {
    (file.to_owned(), rule.to_owned())
}

#[test]
fn exclude_in_the_config_hides_a_finding_and_the_flag_replaces_it() {
    let dir = tree("exclude");
    let all = findings(&check(&dir, &[]));
    assert_eq!(
        all,
        (
            Some(1),
            vec![
                pair("a.c", "lock/double-acquire"),
                pair("staging/b.c", "lock/inconsistent-exit")
            ]
        )
    );
    config(&dir, "exclude = [\"staging/**\"]\n");
    assert_eq!(
        findings(&check(&dir, &[])),
        (Some(1), vec![pair("a.c", "lock/double-acquire")])
    );
    // The flag's list replaces the config's: a.c left out, staging/b.c back.
    assert_eq!(
        findings(&check(&dir, &["--exclude", "a.c"])),
        (Some(1), vec![pair("staging/b.c", "lock/inconsistent-exit")])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fail_on_in_the_config_applies_unless_the_flag_is_given() {
    let dir = tree("fail-on");
    std::fs::remove_file(dir.join("a.c")).expect("rm a.c");
    // A warning only: fails by default.
    assert_eq!(check(&dir, &[]).status.code(), Some(1));
    config(&dir, "fail-on = \"error\"\n");
    let passing = check(&dir, &[]);
    assert_eq!(
        findings(&passing),
        (Some(0), vec![pair("staging/b.c", "lock/inconsistent-exit")]),
        "still reported, no longer failing"
    );
    assert_eq!(check(&dir, &["--fail-on", "note"]).status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn only_and_rules_in_the_config() {
    let dir = tree("only");
    config(&dir, "only = [\"lock/inconsistent-exit\"]\n");
    assert_eq!(
        findings(&check(&dir, &[])),
        (Some(1), vec![pair("staging/b.c", "lock/inconsistent-exit")])
    );
    assert_eq!(
        findings(&check(&dir, &["--only", "lock/double-acquire"])),
        (Some(1), vec![pair("a.c", "lock/double-acquire")])
    );
    // A rule path is relative to the config file, not the current directory.
    config(&dir, "rules = [\"missing-rules\"]\n");
    let out = check(&dir, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&dir.join("missing-rules").display().to_string()),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_key_or_a_bad_value_is_an_error_naming_the_file() {
    let dir = tree("bad");
    for text in [
        "exclude = [\"staging/**\"]\nfail_on = \"error\"\n",
        "fail-on = \"fatal\"\n",
        "only = \"lock/*\"\n",
        "exclude = [",
    ] {
        config(&dir, text);
        let out = check(&dir, &[]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(out.stdout.is_empty(), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(".lockwarden.toml"), "{text}: {err}");
    }
    config(&dir, "fail_on = \"error\"\n");
    let err = String::from_utf8_lossy(&check(&dir, &[]).stderr).into_owned();
    assert!(err.contains("fail_on"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
