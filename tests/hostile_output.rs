//! Output that the reader stops taking, source lines too wide to show, and
//! options that would select nothing: lockwarden stops quietly, cuts the
//! context, or says what is wrong, and never panics.

use std::io::Read;
use std::process::{Command, Stdio};

mod support;
use support::{lockwarden, scratch};

/// Many functions, each with a double acquire: a report far larger than a
/// pipe's buffer.
fn many_findings(dir: &std::path::Path) -> std::path::PathBuf {
    let mut src = String::from("#include <linux/spinlock.h>\nstatic DEFINE_SPINLOCK(l);\n");
    for i in 0..3000 {
        src.push_str(&format!(
            "void twice_{i}(void)\n{{\n\tspin_lock(&l);\n\tspin_lock(&l);\n\tspin_unlock(&l);\n\tspin_unlock(&l);\n}}\n"
        ));
    }
    let file = dir.join("many.c");
    std::fs::write(&file, src).expect("write many.c");
    file
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let dir = scratch("hostile", "pipe");
    let file = many_findings(&dir);
    for format in ["human", "gcc", "json", "sarif"] {
        let mut child = lockwarden()
            .args(["check", "-q", "--format", format])
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run lockwarden");
        // Read a little, then close the pipe as `| head -c 16` does.
        let mut first = [0u8; 16];
        child
            .stdout
            .take()
            .expect("stdout")
            .read_exact(&mut first)
            .expect("some output");
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{format}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{format}: a panic");
        assert_ne!(out.status.code(), Some(3), "{format}: an internal error");
    }
}

#[test]
fn a_finding_on_a_very_wide_line_is_shown_cut() {
    let dir = scratch("hostile", "wide");
    let padding = " ".repeat(70_000);
    let src = format!(
        "#include <linux/spinlock.h>\nstatic DEFINE_SPINLOCK(l);\nvoid wide(void)\n{{\n\tspin_lock(&l);{padding}spin_lock(&l);\n\tspin_unlock(&l);\n}}\n\nvoid narrow(void)\n{{\n\tspin_lock(&l);\n\tspin_lock(&l);\n\tspin_unlock(&l);\n\tspin_unlock(&l);\n}}\n"
    );
    let file = dir.join("wide.c");
    std::fs::write(&file, src).expect("write wide.c");
    let out = lockwarden()
        .args(["check", "--format", "human"])
        .arg(&file)
        .output()
        .expect("run lockwarden");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "findings: {stdout}\n{stderr}");
    // Both findings are there, the wide one and the one after it.
    assert!(stdout.contains("wide"), "{stdout}");
    assert!(stdout.contains("narrow"), "{stdout}");
    assert!(
        stdout.lines().all(|l| l.len() < 1000),
        "the context is cut to a readable width"
    );
}

#[test]
fn only_that_matches_no_rule_is_an_error_with_a_suggestion() {
    let fixture = "fixtures/lock/guard_double.c";
    let out = lockwarden()
        .args(["check", "--only", "lok/*", fixture])
        .output()
        .expect("run lockwarden");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--only `lok/*` matches no rule"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `lock/*`"), "{stderr}");
    // A comma list selects each rule it names; the fixture's finding is kept.
    let out = lockwarden()
        .args([
            "check",
            "--format",
            "gcc",
            "--only",
            "balloon/*,lock/double-acquire",
            fixture,
        ])
        .output()
        .expect("run lockwarden");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("[lock/double-acquire]"));
}

/// `lockwarden` run as an unprivileged user, so that a file with no read
/// permission is unreadable even when the tests run as root (util-linux
/// `setpriv`, on a copy of the binary in `dir`, which any user can reach
/// wherever the clone is); `None` when that cannot be arranged.
fn unprivileged(dir: &std::path::Path) -> Option<Command> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| o.stdout.starts_with(b"0"));
    if !root {
        return Some(lockwarden());
    }
    let usable = Command::new("setpriv").arg("--version").output().is_ok();
    let copy = dir.join("lockwarden");
    if !copy.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_lockwarden"), &copy).ok()?;
    }
    usable.then(|| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&copy);
        c
    })
}

#[test]
fn an_unreadable_file_is_an_error_and_the_others_are_analysed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("hostile", "unreadable");
    std::fs::copy("fixtures/lock/guard_double.c", dir.join("a.c")).expect("copy");
    std::fs::write(dir.join("b.c"), "int unreadable;\n").expect("write b.c");
    std::fs::set_permissions(dir.join("b.c"), std::fs::Permissions::from_mode(0o000))
        .expect("chmod");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let bin = scratch("hostile", "unreadable-bin");
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod bin dir");
    let Some(mut walked) = unprivileged(&bin) else {
        panic!("this test needs to run as a normal user, or setpriv as root");
    };
    let out = walked
        .args(["check", "--format", "gcc"])
        .arg(&dir)
        .output()
        .expect("run lockwarden");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("cannot read b.c"), "{stderr}");
    assert!(stdout.contains("[lock/double-acquire]"), "{stdout}");
    // Named on the command line, the unreadable file stops the run.
    let out = unprivileged(&bin)
        .expect("as above")
        .args(["check", "--format", "gcc"])
        .arg(dir.join("b.c"))
        .output()
        .expect("run lockwarden");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn symlinked_c_files_are_analysed_and_no_c_files_is_an_error() {
    let dir = scratch("hostile", "symlinks");
    let real = dir.join("real");
    let tree = dir.join("tree");
    std::fs::create_dir_all(&real).expect("real dir");
    std::fs::create_dir_all(&tree).expect("tree dir");
    std::fs::copy("fixtures/lock/guard_double.c", real.join("a.c")).expect("copy");
    std::os::unix::fs::symlink(real.join("a.c"), tree.join("linked.c")).expect("symlink");
    // A link to a directory above is not followed: no loop.
    std::os::unix::fs::symlink(&dir, tree.join("loop")).expect("symlink loop");
    let out = lockwarden()
        .args(["check", "--format", "gcc", "--root"])
        .arg(&tree)
        .arg(&tree)
        .output()
        .expect("run lockwarden");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("linked.c:"), "{stdout}");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("empty dir");
    std::fs::write(empty.join("README"), "no C here\n").expect("write");
    let out = lockwarden()
        .args(["check", "--root"])
        .arg(&empty)
        .arg(&empty)
        .output()
        .expect("run lockwarden");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no C files"));
}

#[test]
fn a_binary_file_named_c_is_skipped_with_a_warning() {
    let dir = scratch("hostile", "binary");
    std::fs::copy("fixtures/lock/guard_double.c", dir.join("a.c")).expect("copy");
    // An object file's bytes: NULs among them.
    let mut blob = b"\x7fELF\x02\x01\x01\x00".to_vec();
    blob.extend((0..4_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    std::fs::write(dir.join("blob.c"), blob).expect("write blob.c");
    let out = lockwarden()
        .args(["check", "--format", "gcc"])
        .arg(&dir)
        .output()
        .expect("run lockwarden");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("skipping blob.c: not a text file"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("[lock/double-acquire]"));
}

#[test]
fn fail_on_sets_the_least_severe_finding_that_fails() {
    // Only notes here: every one is reported, and fails only with the default.
    let notes = "fixtures/lock/policy_lock_no_caller_leak.c";
    let run = |fail_on: &str| {
        lockwarden()
            .args(["check", "--format", "gcc", "--fail-on", fail_on, notes])
            .output()
            .expect("run lockwarden")
    };
    let note = run("note");
    assert_eq!(note.status.code(), Some(1));
    let warning = run("warning");
    assert_eq!(warning.status.code(), Some(0));
    assert_eq!(
        note.stdout, warning.stdout,
        "the same findings are reported"
    );
    assert!(String::from_utf8_lossy(&warning.stdout).contains(": note:"));
    // An error fails at every threshold.
    let out = lockwarden()
        .args(["check", "--format", "gcc", "--fail-on", "error"])
        .arg("fixtures/lock/guard_double.c")
        .output()
        .expect("run lockwarden");
    assert_eq!(out.status.code(), Some(1));
    let bad = run("fatal");
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown threshold is a usage error"
    );
}

#[test]
fn output_writes_the_report_to_a_file_and_nothing_to_stdout() {
    let dir = scratch("hostile", "output");
    let report = dir.join("report.json");
    let out = lockwarden()
        .args(["check", "--format", "json", "--output"])
        .arg(&report)
        .arg("fixtures/lock/guard_double.c")
        .output()
        .expect("run lockwarden");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = std::fs::read_to_string(&report).expect("the report file");
    assert!(text.contains("\"lock/double-acquire\""), "{text}");
    // A place that cannot be written is an error, not a lost report.
    let out = lockwarden()
        .args(["check", "--output"])
        .arg(dir.join("no/such/dir/r.txt"))
        .arg("fixtures/lock/guard_double.c")
        .output()
        .expect("run lockwarden");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write --output"));
}

/// The JSON report of `dir` (which has `fixtures/lock/guard_double.c` as
/// `a.c`), after checking that its double acquire is still reported.
fn json_report_with_the_finding_beside(dir: &std::path::Path) -> serde_json::Value {
    let out = lockwarden()
        .args(["check", "--format", "json"])
        .arg(dir)
        .output()
        .expect("run lockwarden");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert!(v["findings"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["rule"] == "lock/double-acquire")));
    v
}

#[test]
fn functions_not_fully_analysed_are_named_and_the_rest_still_reported() {
    let dir = scratch("hostile", "incomplete");
    std::fs::copy("fixtures/lock/guard_double.c", dir.join("a.c")).expect("copy");
    // Statements nested deeper than lowering follows.
    let depth = 600;
    let mut deep = String::from("int deep(int x)\n{\n");
    deep.push_str(&"\tif (x) {\n".repeat(depth));
    deep.push_str("\tx++;\n");
    deep.push_str(&"\t}\n".repeat(depth));
    deep.push_str("\treturn x;\n}\n");
    // A body tree-sitter cannot parse cleanly.
    deep.push_str("\nint broken(int x)\n{\n\treturn x + ) ;\n}\n");
    std::fs::write(dir.join("b.c"), deep).expect("write b.c");
    let v = json_report_with_the_finding_beside(&dir);
    let incomplete = v["summary"]["incomplete"]
        .as_array()
        .expect("incomplete list");
    let named: Vec<(String, String, u64)> = incomplete
        .iter()
        .map(|u| {
            (
                u["function"].as_str().unwrap_or_default().to_owned(),
                u["reason"].as_str().unwrap_or_default().to_owned(),
                u["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        named.contains(&("deep".into(), "nested too deep".into(), 1)),
        "{named:?}"
    );
    assert!(
        named
            .iter()
            .any(|(f, r, _)| f == "broken" && r == "parse errors"),
        "{named:?}"
    );
    // Human output names them and counts them in the last line.
    let out = lockwarden()
        .args(["check"])
        .arg(&dir)
        .output()
        .expect("run lockwarden");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("b.c:1: note: deep() not fully analysed (nested too deep)"),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.contains(", 2 not fully analysed)"), "{last}");
}

#[test]
fn a_function_past_the_analysis_budget_is_named_not_run_for_minutes() {
    let dir = scratch("hostile", "budget");
    std::fs::copy("fixtures/lock/guard_double.c", dir.join("a.c")).expect("copy");
    // Thousands of tests of a parameter against constants: every path
    // carries a fact per test, quadratic without a budget (minutes, GBs).
    let mut src = String::from("int flat(int x, int y)\n{\n\tint r = 0;\n");
    for i in 0..2000 {
        src.push_str(&format!("\tif (x == {i} && y)\n\t\tr = bar(r, {i});\n"));
    }
    src.push_str("\treturn r;\n}\n");
    std::fs::write(dir.join("flat.c"), src).expect("write flat.c");
    let v = json_report_with_the_finding_beside(&dir);
    assert_eq!(
        v["summary"]["incomplete"],
        serde_json::json!([{"file": "flat.c", "line": 1, "function": "flat",
                            "reason": "analysis budget exhausted"}])
    );
}

#[test]
fn statistics_count_findings_per_rule() {
    let dir = scratch("hostile", "statistics");
    let file = many_findings(&dir);
    let out = lockwarden()
        .args(["check", "--statistics"])
        .arg(&file)
        .output()
        .expect("run lockwarden");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines
            .first()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["3000", "lock/double-acquire", "error"]),
        "{stdout}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("3000 findings in 1 file")),
        "{stdout}"
    );
    // A table, not a report: it cannot be combined with a format.
    let out = lockwarden()
        .args(["check", "--statistics", "--format", "json"])
        .arg(&file)
        .output()
        .expect("run lockwarden");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn exclude_leaves_out_walked_files_but_never_named_ones() {
    let dir = scratch("hostile", "exclude");
    std::fs::create_dir_all(dir.join("staging")).expect("mkdir");
    std::fs::copy("fixtures/lock/guard_double.c", dir.join("a.c")).expect("copy");
    std::fs::copy("fixtures/lock/guard_double.c", dir.join("staging/b.c")).expect("copy");
    let files_reported = |args: &[&str], paths: &[std::path::PathBuf]| {
        let out = lockwarden()
            .args(["check", "--format", "json", "--root"])
            .arg(&dir)
            .args(args)
            .args(paths)
            .output()
            .expect("run lockwarden");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let mut files: Vec<String> = v["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["file"].as_str().map(str::to_owned))
            .collect();
        files.dedup();
        (out.status.code(), files)
    };
    let walked = [dir.to_path_buf()];
    assert_eq!(
        files_reported(&["--exclude", "staging/**"], &walked),
        (Some(1), vec!["a.c".to_owned()])
    );
    assert_eq!(
        files_reported(&["--exclude", "b.c"], &walked),
        (Some(1), vec!["a.c".to_owned()])
    );
    // A file named on the command line is analysed whatever excludes it.
    assert_eq!(
        files_reported(&["--exclude", "*.c"], &[dir.join("staging/b.c")]),
        (Some(1), vec!["staging/b.c".to_owned()])
    );
    assert_eq!(files_reported(&["--exclude", "a[.c"], &walked).0, Some(2));
}
