//! Hostile input (issue 11), generated in a scratch directory: nesting
//! 100,000 deep, a 50 MB file, 10,000 gotos, a 50,000-case switch, NUL
//! bytes, CRLF and non-UTF-8, unterminated comments and literals, a FIFO
//! and a directory named `x.c`, and symbolic-link loops. Beside each, a
//! real lock bug (a function returning with a spinlock held on one path)
//! must still be reported, with no panic, the exit status SPEC.md §1 gives
//! and within a time limit far above what each takes (a hang fails the
//! test instead of stalling the suite).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

/// A scratch directory of this suite's own, removed when dropped.
fn scratch(name: &str) -> support::Scratch {
    support::scratch("adversarial", name)
}

const HEADER: &str =
    "#include <linux/spinlock.h>\n\nstruct dev {\n\tspinlock_t lock;\n\tint v;\n};\n\n";

/// A function that returns with `d->lock` held when `x` is set: one
/// `lock/inconsistent-exit` finding in `function` (after [`HEADER`]).
fn bug(function: &str) -> String {
    format!(
        "int {function}(struct dev *d, int x)\n{{\n\tspin_lock(&d->lock);\n\tif (x)\n\
         \t\treturn -EINVAL;\n\td->v = x;\n\tspin_unlock(&d->lock);\n\treturn 0;\n}}\n"
    )
}

/// A whole file with the bug in `function`.
fn bug_file(function: &str) -> String {
    format!("{HEADER}{}", bug(function))
}

/// The line of the bug's `return -EINVAL` when [`bug`] follows `before`.
fn return_line(before: &str) -> u64 {
    before.matches('\n').count() as u64 + 5
}

/// The line of the bug's `return -EINVAL` in [`bug_file`].
const RETURN_LINE: u64 = 12;

/// A finished run of lockwarden.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    /// The JSON report's findings as (rule, file, function, line).
    fn findings(&self) -> Vec<(String, String, String, u64)> {
        let v: serde_json::Value = serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("a JSON report ({e}): {}\n{}", self.stdout, self.stderr));
        v["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap_or_default().to_owned(),
                    f["file"].as_str().unwrap_or_default().to_owned(),
                    f["function"].as_str().unwrap_or_default().to_owned(),
                    f["line"].as_u64().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The JSON report's `summary.incomplete` as (file, function, reason).
    fn incomplete(&self) -> Vec<(String, String, String)> {
        let v: serde_json::Value = serde_json::from_str(&self.stdout).expect("a JSON report");
        v["summary"]["incomplete"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| {
                (
                    u["file"].as_str().unwrap_or_default().to_owned(),
                    u["function"].as_str().unwrap_or_default().to_owned(),
                    u["reason"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    /// Exit 1, no panic, and the bug in `function` of `file` reported at
    /// its `return -EINVAL` on `line`.
    fn assert_bug(&self, file: &str, function: &str, line: u64) {
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert_eq!(self.code, Some(1), "{}", self.stderr);
        let expected = (
            "lock/inconsistent-exit".to_owned(),
            file.to_owned(),
            function.to_owned(),
            line,
        );
        assert!(
            self.findings().contains(&expected),
            "{expected:?} not in {:?}\n{}",
            self.findings(),
            self.stderr
        );
    }
}

/// Runs `lockwarden check --format json ARGS` in `dir` (the root), failing
/// the test when it runs past `limit` or panics. Output goes to files, so
/// a large report cannot block the child on a full pipe.
fn check_in(dir: &Path, args: &[&str], limit: Duration) -> Run {
    run_in(dir, &["check", "--quiet", "--format", "json"], args, limit)
}

fn run_in(dir: &Path, command: &[&str], args: &[&str], limit: Duration) -> Run {
    let out_dir = tempdir_beside(dir);
    let stdout = std::fs::File::create(out_dir.join("stdout")).expect("stdout file");
    let stderr = std::fs::File::create(out_dir.join("stderr")).expect("stderr file");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockwarden"))
        .args(command)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("run lockwarden");
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("lockwarden {command:?} {args:?} ran for more than {limit:?}: a hang");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let read = |name: &str| {
        String::from_utf8_lossy(&std::fs::read(out_dir.join(name)).unwrap_or_default()).into_owned()
    };
    let run = Run {
        code: status.code(),
        stdout: read("stdout"),
        stderr: read("stderr"),
        elapsed,
    };
    let _ = std::fs::remove_dir_all(&out_dir);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_ne!(run.code, Some(101), "a panic: {}", run.stderr);
    assert_ne!(run.code, Some(3), "an internal error: {}", run.stderr);
    eprintln!("lockwarden {command:?} {args:?}: {:.2?}", run.elapsed);
    run
}

/// A directory for a run's output, outside the tree the run walks.
fn tempdir_beside(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out = dir.with_file_name(format!("{name}.out"));
    std::fs::create_dir_all(&out).expect("output dir");
    out
}

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn parentheses_and_braces_nested_100000_deep() {
    let dir = scratch("nesting");
    let n = 100_000;
    let parens = format!(
        "{HEADER}int deep_parens(int x)\n{{\n\treturn {}x{};\n}}\n\n",
        "(".repeat(n),
        ")".repeat(n),
    );
    let parens_line = return_line(&parens);
    dir.write("parens.c", parens + &bug("after_parens"));
    let braces = format!(
        "{HEADER}int deep_braces(int x)\n{{\n{}x++;{}\n\treturn x;\n}}\n\n",
        "{".repeat(n),
        "}".repeat(n),
    );
    let braces_line = return_line(&braces);
    dir.write("braces.c", braces + &bug("after_braces"));
    // An initialiser, and braces and parentheses never closed at file scope.
    let initialiser = format!(
        "{HEADER}int table[] = {}1{};\n\n",
        "{".repeat(n),
        "}".repeat(n),
    );
    let initialiser_line = return_line(&initialiser);
    dir.write("initialiser.c", initialiser + &bug("after_initialiser"));
    let unclosed = format!(
        "{HEADER}{}{}\n{}",
        "{".repeat(n),
        "(".repeat(n),
        bug("inside")
    );
    dir.write("unclosed.c", unclosed);
    dir.write("bug.c", bug_file("beside"));
    let run = check_in(dir.path(), &["."], LIMIT);
    run.assert_bug("bug.c", "beside", RETURN_LINE);
    run.assert_bug("parens.c", "after_parens", parens_line);
    run.assert_bug("braces.c", "after_braces", braces_line);
    run.assert_bug("initialiser.c", "after_initialiser", initialiser_line);
    // What cannot be analysed is named, not dropped.
    let incomplete = run.incomplete();
    for (file, function) in [("parens.c", "deep_parens"), ("braces.c", "deep_braces")] {
        assert!(
            incomplete.contains(&(file.into(), function.into(), "nested too deep".into())),
            "{incomplete:?}"
        );
    }
    assert!(
        incomplete
            .iter()
            .any(|(file, function, _)| file == "unclosed.c" && function == "inside"),
        "{incomplete:?}"
    );
}

#[test]
fn a_50_mb_file() {
    let dir = scratch("large");
    // Twice the largest file of Linux 6.12 (a 24 MB register header): a
    // firmware dump in a comment, then register definitions, then the bug.
    let mut text = String::with_capacity(51 << 20);
    text.push_str(HEADER);
    text.push_str("/*\n");
    let row = format!(" * {}\n", "0123456789abcdef".repeat(4));
    while text.len() < 42 << 20 {
        text.push_str(&row);
    }
    text.push_str(" */\n");
    let mut i = 0u32;
    while text.len() < 50 << 20 {
        let (reg, bit) = (i / 32, i % 32);
        text.push_str(&format!(
            "#define REG_{reg}__FIELD_{bit}__SHIFT 0x{bit:x}\n#define REG_{reg}__FIELD_{bit}_MASK 0x{:08x}L\n",
            1u32 << bit
        ));
        i += 1;
    }
    text.push('\n');
    let line = return_line(&text);
    text.push_str(&bug("at_the_end"));
    assert!(text.len() >= 50 << 20);
    dir.write("huge.c", &text);
    drop(text);
    dir.write("bug.c", bug_file("beside"));
    let run = check_in(dir.path(), &["."], LIMIT);
    run.assert_bug("bug.c", "beside", RETURN_LINE);
    run.assert_bug("huge.c", "at_the_end", line);
    // Human output shows a line past 700,000.
    let run = run_in(
        dir.path(),
        &["check", "--quiet", "--format", "human"],
        &["huge.c"],
        LIMIT,
    );
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("huge.c:{line}:3]")),
        "{}",
        run.stdout
    );
}

#[test]
fn ten_thousand_gotos() {
    let dir = scratch("gotos");
    // An unwinding ladder: each step jumps to its own label on error, the
    // labels undo in reverse order and release the lock.
    let mut text =
        format!("{HEADER}int ladder(struct dev *d)\n{{\n\tint err;\n\n\tspin_lock(&d->lock);\n");
    for i in 0..10_000 {
        text.push_str(&format!(
            "\terr = step_{i}(d);\n\tif (err)\n\t\tgoto out_{i};\n"
        ));
    }
    text.push_str("\tspin_unlock(&d->lock);\n\treturn 0;\n");
    for i in (0..10_000).rev() {
        text.push_str(&format!("out_{i}:\n\tundo_{i}(d);\n"));
    }
    text.push_str("\tspin_unlock(&d->lock);\n\treturn err;\n}\n\n");
    let line = return_line(&text);
    text.push_str(&bug("after_gotos"));
    dir.write("gotos.c", &text);
    dir.write("bug.c", bug_file("beside"));
    let run = check_in(dir.path(), &["."], LIMIT);
    run.assert_bug("bug.c", "beside", RETURN_LINE);
    run.assert_bug("gotos.c", "after_gotos", line);
    // The ladder itself is balanced: no finding in it.
    assert!(
        run.findings()
            .iter()
            .all(|(_, _, function, _)| function != "ladder"),
        "{:?}",
        run.findings()
    );
}

#[test]
fn a_50000_case_switch() {
    let dir = scratch("switch");
    let mut text = format!("{HEADER}int decode(int op)\n{{\n\tswitch (op) {{\n");
    for i in 0..50_000 {
        text.push_str(&format!("\tcase {i}:\n\t\treturn {};\n", i * 3));
    }
    text.push_str("\t}\n\treturn -EINVAL;\n}\n\n");
    let line = return_line(&text);
    text.push_str(&bug("after_switch"));
    dir.write("switch.c", &text);
    dir.write("bug.c", bug_file("beside"));
    let run = check_in(dir.path(), &["."], LIMIT);
    run.assert_bug("bug.c", "beside", RETURN_LINE);
    run.assert_bug("switch.c", "after_switch", line);
}

#[test]
fn nul_bytes_crlf_and_non_utf8() {
    let dir = scratch("bytes");
    // Stray NULs in a comment and between statements (gcc warns and
    // ignores them): the file is C, and analysed.
    let nul = bug_file("with_nuls")
        .replace("d->v = x;", "d->v = x; /* \0\0 */")
        .replace("\treturn 0;", "\0\treturn 0;");
    dir.write("nul.c", nul);
    dir.write("crlf.c", bug_file("with_crlf").replace('\n', "\r\n"));
    // Latin-1 in a comment and a string, and bytes no encoding has.
    let mut latin1 = HEADER.as_bytes().to_vec();
    latin1
        .extend_from_slice(b"/* caf\xe9, \xff\xfe */\nstatic const char *who = \"J\xfcrgen\";\n\n");
    let latin1_line = return_line(&String::from_utf8_lossy(&latin1));
    latin1.extend_from_slice(bug("in_latin1").as_bytes());
    dir.write("latin1.c", latin1);
    // An object file named `.c`: skipped, and named in the report.
    let mut blob = b"\x7fELF\x02\x01\x01\x00".to_vec();
    blob.extend((0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    dir.write("blob.c", blob);
    dir.write("bug.c", bug_file("beside"));
    let run = check_in(dir.path(), &["."], LIMIT);
    run.assert_bug("bug.c", "beside", RETURN_LINE);
    run.assert_bug("nul.c", "with_nuls", RETURN_LINE);
    run.assert_bug("crlf.c", "with_crlf", RETURN_LINE);
    run.assert_bug("latin1.c", "in_latin1", latin1_line);
    assert!(
        run.stderr
            .contains("warning: skipping blob.c: not a text file"),
        "{}",
        run.stderr
    );
    assert!(
        run.incomplete()
            .contains(&("blob.c".into(), String::new(), "not a text file".into())),
        "{:?}",
        run.incomplete()
    );
    // Every format renders them.
    for format in ["human", "gcc", "sarif", "github", "codequality"] {
        let run = run_in(
            dir.path(),
            &["check", "--quiet", "--format", format],
            &["."],
            LIMIT,
        );
        assert_eq!(run.code, Some(1), "{format}: {}", run.stderr);
        for function in ["with_nuls", "with_crlf", "in_latin1"] {
            assert!(run.stdout.contains(function), "{format}: {}", run.stdout);
        }
    }
}

#[test]
fn unterminated_comments_literals_and_conditionals() {
    let dir = scratch("unterminated");
    let cases = [
        ("comment.c", "/* never closed\nint hidden;\n"),
        ("line_comment.c", "// continued \\\n"),
        (
            "unclosed_string.c",
            "static const char *s = \"never closed\n",
        ),
        ("unclosed_char.c", "static char c = '\n"),
        ("if_zero.c", "#if 0\nint hidden(void)\n{\n"),
        ("define.c", "#define STEP(x) \\\n\tdo { \\\n"),
    ];
    for (file, tail) in cases {
        let function = file.trim_end_matches(".c");
        dir.write(file, format!("{}{tail}", bug_file(function)));
    }
    dir.write("bug.c", bug_file("beside"));
    let run = check_in(dir.path(), &["."], LIMIT);
    run.assert_bug("bug.c", "beside", RETURN_LINE);
    for (file, _) in cases {
        run.assert_bug(file, file.trim_end_matches(".c"), RETURN_LINE);
    }
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[cfg(unix)]
#[test]
fn a_fifo_and_a_directory_named_x_c() {
    let dir = scratch("fifo");
    dir.write("bug.c", bug_file("beside"));
    dir.write("x.c/inner.c", bug_file("in_directory"));
    mkfifo(&dir.path().join("fifo.c"));
    std::os::unix::fs::symlink("fifo.c", dir.path().join("to_fifo.c")).expect("symlink");
    let run = check_in(dir.path(), &["."], LIMIT);
    run.assert_bug("bug.c", "beside", RETURN_LINE);
    run.assert_bug("x.c/inner.c", "in_directory", RETURN_LINE);
    assert!(
        run.stderr
            .contains("warning: skipping fifo.c: not a regular file (a FIFO)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("warning: skipping to_fifo.c: a link to a FIFO"),
        "{}",
        run.stderr
    );
    // Named, the directory is walked; the FIFO is a usage error, not a hang.
    let run = check_in(dir.path(), &["x.c"], LIMIT);
    run.assert_bug("x.c/inner.c", "in_directory", RETURN_LINE);
    let run = check_in(dir.path(), &["fifo.c"], LIMIT);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("fifo.c is not a regular file or a directory (a FIFO)"),
        "{}",
        run.stderr
    );
}

#[cfg(unix)]
#[test]
fn symbolic_link_loops() {
    use std::os::unix::fs::symlink;
    let dir = scratch("links");
    dir.write("bug.c", bug_file("beside"));
    dir.write("real/target.c", bug_file("linked"));
    let root = dir.path();
    symlink("real/target.c", root.join("link.c")).expect("symlink");
    // Links to directories above, to themselves, and files linked in a ring.
    symlink("..", root.join("real/up")).expect("symlink");
    symlink(".", root.join("here")).expect("symlink");
    symlink("self.c", root.join("self.c")).expect("symlink");
    symlink("ring_b.c", root.join("ring_a.c")).expect("symlink");
    symlink("ring_a.c", root.join("ring_b.c")).expect("symlink");
    symlink("missing.c", root.join("dangling.c")).expect("symlink");
    let run = check_in(root, &["."], LIMIT);
    run.assert_bug("bug.c", "beside", RETURN_LINE);
    run.assert_bug("link.c", "linked", RETURN_LINE);
    run.assert_bug("real/target.c", "linked", RETURN_LINE);
    for name in ["self.c", "ring_a.c", "ring_b.c", "dangling.c"] {
        assert!(
            run.stderr.contains(&format!(
                "warning: skipping {name}: a link that cannot be followed"
            )),
            "{name}: {}",
            run.stderr
        );
    }
    // Named, a loop is unreadable input: exit 2.
    let run = check_in(root, &["self.c"], LIMIT);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    // `here` and `up` lead back into the tree and are not followed: each
    // file is analysed once.
    let run = check_in(root, &["."], LIMIT);
    let beside = run
        .findings()
        .iter()
        .filter(|(_, _, function, _)| function == "beside")
        .count();
    assert_eq!(beside, 1);
}
