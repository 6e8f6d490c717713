//! The cache kept between runs (`--cache DIR`, issue 10): findings are the
//! same cold, warm and after an edit, whatever state the cache is in, and an
//! entry made from other inputs is never used.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::{lockwarden, scratch, write};

/// The command `check --format json` of `tree` with `cache_args`.
fn check_command(tree: &Path, cache_args: &[&str]) -> Command {
    let mut command = lockwarden();
    command
        .args(["check", "--format", "json", "-q", "--root"])
        .arg(tree)
        .args(cache_args)
        .arg(tree);
    command
}

/// Runs [`check_command`].
fn check(tree: &Path, cache_args: &[&str]) -> Output {
    check_command(tree, cache_args)
        .output()
        .expect("run lockwarden")
}

/// The JSON report with the run's wall time zeroed: the rest is compared
/// byte for byte.
fn report(out: &Output) -> String {
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    v["summary"]["elapsed_ms"] = 0.into();
    serde_json::to_string_pretty(&v).unwrap()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The `lock/*` fixtures, copied into a scratch directory's `tree/`
/// (the directory is removed when the returned guard is dropped).
fn fixture_tree(name: &str) -> (support::Scratch, std::path::PathBuf) {
    let dir = scratch("cache", name);
    let tree = dir.join("tree");
    for file in files_under(Path::new("fixtures/lock")) {
        let rel = file.strip_prefix("fixtures/lock").unwrap();
        std::fs::create_dir_all(tree.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(&file, tree.join(rel)).unwrap();
    }
    (dir, tree)
}

#[test]
fn findings_are_identical_cold_warm_incremental_and_from_a_damaged_cache() {
    let (_dir, tree) = fixture_tree("identical");
    let cache = tree.parent().unwrap().join("cache");
    let cache_args = ["--cache", cache.to_str().unwrap()];
    let uncached = report(&check(&tree, &["--no-cache"]));
    assert!(
        uncached.contains("lock/double-acquire"),
        "the fixtures have findings"
    );
    let cold = report(&check(&tree, &cache_args));
    assert_eq!(cold, uncached, "cold run");
    let entries = files_under(&cache);
    assert!(
        entries.len() > 10,
        "the cold run filled the cache: {entries:?}"
    );
    let warm = report(&check(&tree, &cache_args));
    assert_eq!(warm, uncached, "warm run");
    assert_eq!(
        files_under(&cache),
        entries,
        "a warm run finds everything kept"
    );

    // One file changed: its lowering and the results are made again, the
    // other files' lowerings are reused.
    let edited = tree.join("zz_added_leak.c");
    write(
        &edited,
        "static DEFINE_MUTEX(zz_lock);\n\nint zz_leak(int a)\n{\n\tmutex_lock(&zz_lock);\n\tif (a)\n\t\treturn -EINVAL;\n\tmutex_unlock(&zz_lock);\n\treturn 0;\n}\n",
    );
    let incremental = report(&check(&tree, &cache_args));
    let uncached = report(&check(&tree, &["--no-cache"]));
    assert_eq!(incremental, uncached, "after one file changed");
    assert!(incremental.contains("zz_leak"), "the new file's finding");

    // Every entry damaged (truncated, or one byte flipped): recomputed.
    for (n, entry) in files_under(&cache).iter().enumerate() {
        if entry.file_name().is_some_and(|n| n == "last-used") {
            continue;
        }
        let mut bytes = std::fs::read(entry).unwrap();
        if n % 2 == 0 {
            bytes.truncate(bytes.len() / 2);
        } else if let Some(last) = bytes.last_mut() {
            *last ^= 0x55;
        }
        std::fs::write(entry, bytes).unwrap();
    }
    assert_eq!(
        report(&check(&tree, &cache_args)),
        uncached,
        "damaged cache"
    );
    assert_eq!(
        report(&check(&tree, &cache_args)),
        uncached,
        "repaired cache"
    );
    std::fs::remove_dir_all(tree.parent().unwrap()).unwrap();
}

/// `caller()` in a.c calls `helper()` from another file; whether the
/// caller's exit leaks depends on what the helper does.
const CALLER: &str = "#include \"helper.h\"\n\nstatic DEFINE_SPINLOCK(big_lock);\n\nint caller(int a)\n{\n\thelper(&big_lock);\n\tif (a)\n\t\treturn -EINVAL;\n\tspin_unlock(&big_lock);\n\treturn 0;\n}\n";

fn leaks_in_caller(out: &Output) -> bool {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["function"] == "caller" && f["rule"] == "lock/inconsistent-exit")
}

#[test]
fn a_changed_callee_in_another_file_or_a_header_changes_the_callers_verdict() {
    let dir = scratch("cache", "stale");
    let tree = dir.join("tree");
    let cache = dir.join("cache");
    let cache_args = ["--cache", cache.to_str().unwrap()];
    let locking = "void helper(spinlock_t *l)\n{\n\tspin_lock(l);\n}\n";
    let not_locking = "void helper(spinlock_t *l)\n{\n\tcpu_relax();\n}\n";
    write(&tree.join("a.c"), CALLER);
    write(&tree.join("helper.h"), "void helper(spinlock_t *l);\n");
    write(&tree.join("b.c"), locking);
    assert!(leaks_in_caller(&check(&tree, &cache_args)), "helper locks");
    assert!(leaks_in_caller(&check(&tree, &cache_args)), "warm");
    write(&tree.join("b.c"), not_locking);
    assert!(
        !leaks_in_caller(&check(&tree, &cache_args)),
        "the callee in b.c changed: the caller's cached verdict is not reused"
    );

    // The same through a header's inline function.
    std::fs::remove_file(tree.join("b.c")).unwrap();
    let inline = |body: &str| format!("static inline {body}");
    write(&tree.join("helper.h"), &inline(locking));
    assert!(
        leaks_in_caller(&check(&tree, &cache_args)),
        "inline helper locks"
    );
    write(&tree.join("helper.h"), &inline(not_locking));
    assert!(
        !leaks_in_caller(&check(&tree, &cache_args)),
        "the header changed: the caller's cached verdict is not reused"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sets the modification time of `path` to the start of 2020.
fn age(path: &Path) {
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_577_836_800);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

#[test]
fn an_unchanged_tree_is_told_by_its_stats_and_an_edit_they_hide_is_still_seen() {
    let (_dir, tree) = fixture_tree("stat");
    let cache = tree.parent().unwrap().join("cache");
    let cache_args = ["--cache", cache.to_str().unwrap()];
    // Old files: their stats are trusted, not their contents re-read.
    for file in files_under(&tree) {
        age(&file);
    }
    let first = report(&check(&tree, &cache_args));
    assert_eq!(report(&check(&tree, &cache_args)), first, "unchanged");
    let kinds: Vec<String> = files_under(&cache)
        .iter()
        .filter_map(|p| Some(p.parent()?.parent()?.file_name()?.to_str()?.to_owned()))
        .collect();
    assert!(
        kinds.iter().any(|k| k == "tree-state"),
        "the state is kept: {kinds:?}"
    );

    // An edit of the same length, its modification time put back: the
    // change time still tells.
    let edited = tree.join("zz_twice.c");
    let twice = "static DEFINE_SPINLOCK(zz_lock);\n\nvoid zz_twice(void)\n{\n\tspin_lock(&zz_lock);\n\tspin_lock(&zz_lock);\n\tspin_unlock(&zz_lock);\n}\n";
    write(&edited, twice);
    age(&edited);
    let before = report(&check(&tree, &cache_args));
    assert!(before.contains("zz_twice"), "the double acquire is found");
    let once = twice.replacen(
        "\tspin_lock(&zz_lock);\n\tspin_lock(&zz_lock);\n",
        "\tspin_lock(&zz_lock);\n\tcpu_relax();        \n",
        1,
    );
    assert_eq!(twice.len(), once.len());
    write(&edited, &once);
    age(&edited);
    let after = report(&check(&tree, &cache_args));
    assert_eq!(
        after,
        report(&check(&tree, &["--no-cache"])),
        "after the hidden edit"
    );
    assert!(!after.contains("zz_twice"), "the edit removed the finding");
}

#[test]
fn the_cache_is_never_inside_the_analysed_tree() {
    let dir = scratch("cache", "inside");
    write(&dir.join("a.c"), CALLER);
    let out = check(&dir, &["--cache", dir.join(".cache").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("inside the analysed tree"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.join(".cache").exists(), "nothing written to the tree");
    // The default location is outside the tree, and the tree is untouched.
    let home = scratch("cache", "home");
    let before = files_under(&dir);
    let out = lockwarden()
        .env("XDG_CACHE_HOME", &home)
        .args(["check", "-q", "--format", "json", "--root"])
        .arg(&dir)
        .arg(&dir)
        .output()
        .unwrap();
    report(&out);
    assert_eq!(files_under(&dir), before);
    assert!(
        home.join("lockwarden").is_dir(),
        "default cache under XDG_CACHE_HOME"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn concurrent_runs_share_one_cache() {
    let (_dir, tree) = fixture_tree("concurrent");
    let cache = tree.parent().unwrap().join("cache");
    let uncached = report(&check(&tree, &["--no-cache"]));
    // Four runs at once on an empty cache: they write the same entries
    // side by side, and each must see whole entries or none.
    let runs: Vec<_> = (0..4)
        .map(|_| {
            check_command(&tree, &["--cache", cache.to_str().unwrap()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run lockwarden")
        })
        .collect();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert_eq!(report(&out), uncached, "a concurrent run");
    }
    assert_eq!(
        report(&check(&tree, &["--cache", cache.to_str().unwrap()])),
        uncached
    );
    let temporaries: Vec<_> = files_under(&cache)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".tmp"))
        })
        .collect();
    assert!(temporaries.is_empty(), "{temporaries:?}");
    std::fs::remove_dir_all(tree.parent().unwrap()).unwrap();
}

/// The run's report, with what the cache log said on stderr.
fn check_logged(tree: &Path, cache_args: &[&str]) -> (String, String) {
    let out = check_command(tree, cache_args)
        .env("LOCKWARDEN_LOG", "cache")
        .output()
        .expect("run lockwarden");
    (
        report(&out),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn one_changed_c_file_is_checked_alone_and_the_findings_are_the_whole_runs() {
    let (_dir, tree) = fixture_tree("alone");
    let cache = tree.parent().unwrap().join("cache");
    let cache_args = ["--cache", cache.to_str().unwrap()];
    let edited = tree.join("zz_alone.c");
    // `zz_work` takes and drops a lock; `zz_ping` and `zz_pong` call each
    // other (solved together, in rounds).
    let clean = "static DEFINE_SPINLOCK(zz_lock);\nstatic int zz_count;\n\nint zz_work(int a)\n{\n\tspin_lock(&zz_lock);\n\tzz_count += a;\n\tspin_unlock(&zz_lock);\n\treturn 0;\n}\n\nstatic int zz_pong(int n);\n\nint zz_ping(int n)\n{\n\treturn n ? zz_pong(n - 1) : zz_work(n);\n}\n\nstatic int zz_pong(int n)\n{\n\treturn n ? zz_ping(n - 1) : 1;\n}\n";
    // The same function taking its lock twice: a finding, and nothing its
    // callers see changes.
    let twice = clean.replace(
        "\tspin_lock(&zz_lock);\n",
        "\tspin_lock(&zz_lock);\n\tspin_lock(&zz_lock);\n\tzz_count++;\n\tspin_unlock(&zz_lock);\n",
    );
    // Returning with the lock held: its summary changes.
    let leaks = clean.replace("\tspin_unlock(&zz_lock);\n", "");
    // A caller in another file, whose verdict depends on `zz_work`.
    write(
        &tree.join("zz_user.c"),
        "int zz_work(int a);\n\nint zz_user(void)\n{\n\treturn zz_work(1);\n}\n",
    );
    // A helper that does nothing with locks, called from another file.
    write(
        &tree.join("zz_quiet.h"),
        "static inline void zz_relax(void)\n{\n}\n",
    );
    write(
        &tree.join("zz_relaxed.c"),
        "#include \"zz_quiet.h\"\n\nvoid zz_wait(void)\n{\n\tzz_relax();\n}\n",
    );
    // Writes `text` into zz_alone.c and checks the tree with the cache:
    // the report, which must be a check's without it, and must say `said`.
    let edit = |text: &str, said: &str| {
        write(&edited, text);
        let (cached, log) = check_logged(&tree, &cache_args);
        assert!(log.contains(said), "`{said}` expected: {log}");
        assert_eq!(cached, report(&check(&tree, &["--no-cache"])), "{said}");
        cached
    };
    let alone = "zz_alone.c changed: checked alone";
    // The first run has no state to start from: it checks all.
    let first = edit(clean, "");

    let twice = edit(&twice, alone);
    assert!(
        twice.contains("lock/double-acquire") && twice.contains("zz_work"),
        "the new finding"
    );
    // Back as it was, again alone: the record kept by the last run serves.
    assert_eq!(edit(clean, alone), first, "the finding is gone");

    // Calls of a name no file defines, and of the helper that does
    // nothing with locks: nothing the rest sees changes.
    let calls = clean.replace(
        "\tzz_count += a;\n",
        "\tzz_count += a;\n\tzz_trace(a);\n\tzz_relax();\n",
    );
    edit(&format!("#include \"zz_quiet.h\"\n{calls}"), alone);

    // What callers see changes, or what the file declares: the whole tree
    // is checked.
    assert_ne!(edit(&leaks, "not checked alone"), first);
    edit(
        &format!("{clean}\nint zz_more;\n"),
        "what it declares changed",
    );
}
