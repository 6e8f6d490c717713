//! `lockwarden explain FILE FUNCTION`: the function's lines with the locks
//! held after each, the callees' summaries, the exit facts and the
//! function's own summary; a clear error for a function the file lacks.

use std::process::Command;

mod support;
use support::scratch;

/// Runs `lockwarden ARGS` in `dir`.
fn lockwarden(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lockwarden"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run lockwarden")
}

const SOURCE: &str = "\
#include <linux/spinlock.h>

struct q {
	spinlock_t lock;
	int n;
};

static void q_lock(struct q *q)
{
	spin_lock(&q->lock);
}

int q_push(struct q *q)
{
	q_lock(q);
	if (q->n > 8)
		return -EBUSY;
	q->n++;
	spin_unlock(&q->lock);
	return 0;
}
";

#[test]
fn explain_shows_lock_sets_callee_summaries_and_exit_facts() {
    let dir = scratch("explain", "shows");
    std::fs::write(dir.join("q.c"), SOURCE).unwrap();
    let out = lockwarden(&dir, &["explain", "q.c", "q_push"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("q.c:13: q_push()"), "{text}");
    // The wrapper's summary, and the lock held after the line that calls it.
    assert!(
        text.contains("q_lock(): acquires `arg0->lock` (spinlock) [analysed]"),
        "{text}"
    );
    assert!(text.contains("= held: q->lock"), "{text}");
    // The early return holds it; the exit facts say so.
    assert!(
        text.contains("returns Negative with held: q->lock"),
        "{text}"
    );
    assert!(text.contains("`q->lock`: Inconsistent"), "{text}");
    assert!(text.contains("summary: may change `arg0->lock`"), "{text}");
}

#[test]
fn explain_names_a_missing_function() {
    let dir = scratch("explain", "missing");
    std::fs::write(dir.join("q.c"), SOURCE).unwrap();
    let out = lockwarden(&dir, &["explain", "q.c", "q_pop"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no function `q_pop` is defined in q.c"),
        "{err}"
    );
}

#[test]
fn explain_paths_shows_each_path_with_what_it_learned() {
    let dir = scratch("explain", "paths");
    std::fs::write(dir.join("q.c"), SOURCE).unwrap();
    let out = lockwarden(&dir, &["explain", "q.c", "q_push", "--paths"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // The early return's path holds the lock, and knows the test it took.
    assert!(
        text.contains("path: locks: q->lock [1,1]; knows: Var(\"q\")=T, Cond { text: \"q->n>8\", vars: [\"q\"] }=T"),
        "{text}"
    );
    // Without the flag, no path lines.
    let plain = lockwarden(&dir, &["explain", "q.c", "q_push"]);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("path: "));
}
