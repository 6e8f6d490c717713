//! The progress bar: drawn on stderr only when stderr is a terminal and
//! `--quiet` is not given; stdout carries the report alone either way.

use std::process::Command;

mod support;
use support::lockwarden;

const FIXTURE: &str = "fixtures/lock/guard_double.c";

#[test]
fn no_progress_when_stderr_is_not_a_terminal() {
    let out = lockwarden()
        .args(["check", "--format", "gcc", FIXTURE])
        .output()
        .expect("run lockwarden");
    assert_eq!(out.status.code(), Some(1), "the fixture has findings");
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("lock/double-acquire"));
}

/// Runs `lockwarden check` with stdin, stdout and stderr on a pseudo-terminal
/// (util-linux `script`), the report redirected to a file; what the terminal
/// showed.
fn on_a_terminal(extra: &str) -> Option<String> {
    let report = std::env::temp_dir().join(format!(
        "lockwarden-progress-{}-{extra}.txt",
        std::process::id()
    ));
    let command = format!(
        "{} check {extra} --format gcc {FIXTURE} > {}",
        env!("CARGO_BIN_EXE_lockwarden"),
        report.display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .ok()?;
    let report_text = std::fs::read_to_string(&report).ok()?;
    assert!(
        report_text.contains("lock/double-acquire"),
        "report: {report_text}"
    );
    let _ = std::fs::remove_file(&report);
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn progress_on_a_terminal_unless_quiet() {
    let Some(shown) = on_a_terminal("") else {
        eprintln!("skipped: util-linux `script` is not available");
        return;
    };
    assert!(
        shown.contains("parsing files") || shown.contains("solving functions"),
        "terminal: {shown:?}"
    );
    let quiet = on_a_terminal("--quiet").expect("script ran once already");
    assert!(
        !quiet.contains("parsing files") && !quiet.contains("solving functions"),
        "terminal: {quiet:?}"
    );
}
