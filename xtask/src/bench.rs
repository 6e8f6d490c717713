//! `cargo xtask bench`: time and peak memory of lockwarden's whole-tree jobs
//! on the Debian kernel tree, measured in one run so that ratios between
//! them hold on a shared, noisy machine.
//!
//! Each job runs as its own process; its peak resident set is the kernel's
//! high-water mark (`VmHWM` in `/proc/PID/status`), sampled until it exits.
//! The plain tree-sitter parse of the same files is timed inside
//! `parse-stats`, which parses every file both ways.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

const USAGE: &str = "usage: cargo xtask bench [--dirs a,b,...] [--json FILE]";

/// One measured job.
#[derive(Debug, Serialize)]
struct Measure {
    job: String,
    command: String,
    wall_ms: u128,
    peak_rss_kb: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Report {
    tree: String,
    paths: Vec<String>,
    /// The plain tree-sitter-c parse of the same files, timed by parse-stats.
    plain_parse_ms: u64,
    jobs: Vec<Measure>,
}

pub(crate) fn run(flags: &[String]) -> Result<()> {
    let mut dirs: Vec<String> = Vec::new();
    let mut json: Option<PathBuf> = None;
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        match flag.as_str() {
            "--dirs" => {
                let value = flags.next().context(USAGE)?;
                dirs = value.split(',').map(str::to_owned).collect();
            }
            "--json" => json = Some(PathBuf::from(flags.next().context(USAGE)?)),
            _ => bail!("unknown option `{flag}`\n{USAGE}"),
        }
    }
    let tree = crate::kernel::kernel_tree()?;
    let binary = crate::release_binary()?;
    let paths: Vec<String> = if dirs.is_empty() {
        vec![tree.to_string_lossy().into_owned()]
    } else {
        dirs.iter()
            .map(|d| tree.join(d).to_string_lossy().into_owned())
            .collect()
    };
    let root = tree.to_string_lossy().into_owned();
    let with_paths = |args: &[&str]| -> Vec<String> {
        let mut all = strings(args);
        all.extend(["--root".to_owned(), root.clone()]);
        all.extend(paths.iter().cloned());
        all
    };

    let mut jobs = Vec::new();
    let (stats, measure) = measured(
        "parse-stats (lockwarden and plain tree-sitter-c)",
        &binary,
        &with_paths(&["parse-stats", "--format", "json"]),
    )?;
    jobs.push(measure);
    let stats: serde_json::Value =
        serde_json::from_slice(&stats).context("parse-stats printed no JSON")?;
    let plain_parse_ms = stats["plain_tree_sitter"]["elapsed_ms"]
        .as_u64()
        .context("parse-stats JSON has no plain_tree_sitter.elapsed_ms")?;
    let cache_dir = crate::workspace_root().join("target/bench-cache");
    let _ = std::fs::remove_dir_all(&cache_dir);
    let cache = cache_dir.to_string_lossy().into_owned();
    let cached = |args: &[&str]| -> Vec<String> {
        let mut all = with_paths(args);
        all.extend(["--cache".to_owned(), cache.clone()]);
        all
    };
    let whole = ["check", "--format", "json"];
    for (job, args) in [
        (
            "check, balloon rules (cold, no cache)",
            with_paths(&[
                "check",
                "--only",
                "balloon/*",
                "--format",
                "json",
                "--no-cache",
            ]),
        ),
        ("check, all rules (cold, filling the cache)", cached(&whole)),
        ("check, all rules (warm, nothing changed)", cached(&whole)),
    ] {
        jobs.push(measured(job, &binary, &args)?.1);
    }
    // What was measured is printed even when a later job fails.
    let edited = if dirs.is_empty() {
        edits(&binary, &tree, &cache, &mut jobs)
    } else {
        Ok(())
    };
    let report = Report {
        tree: root,
        paths: if dirs.is_empty() {
            vec![".".into()]
        } else {
            dirs
        },
        plain_parse_ms,
        jobs,
    };
    print_table(&report);
    let json = json.unwrap_or_else(|| crate::workspace_root().join("target/bench.json"));
    std::fs::write(&json, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", json.display()))?;
    println!("\nwritten to {}", json.display());
    edited
}

/// The `.c` file and the header edited for the incremental jobs.
const EDITED_C: &str = "mm/balloon_compaction.c";
const EDITED_HEADER: &str = "include/linux/balloon_compaction.h";

/// A `.c` file no rule file scopes, whose `e1000_probe()` gets one more
/// statement (every function below it moves down a line): checked alone.
const EDITED_BODY: &str = "drivers/net/ethernet/intel/e1000/e1000_main.c";
const BODY_MARKER: &str = "\tnetdev->netdev_ops = &e1000_netdev_ops;\n";

/// One file in each of ten directories, a commit each for `series`.
const SERIES_FILES: [&str; 10] = [
    "mm/balloon_compaction.c",
    "drivers/virtio/virtio_balloon.c",
    "kernel/locking/mutex.c",
    "fs/ext4/inode.c",
    "net/core/dev.c",
    "block/blk-core.c",
    "ipc/sem.c",
    "sound/core/pcm.c",
    "lib/kstrtox.c",
    "drivers/gpu/drm/drm_gem.c",
];

/// The jobs after an edit, on a hard-linked copy of the tree (the
/// extracted tree is never written): one `.c` file changed, one widely
/// included header changed, `check --staged` in a git repository of the
/// tree, and `series` over ten commits. All share the warm cache.
fn edits(binary: &Path, tree: &Path, cache: &str, jobs: &mut Vec<Measure>) -> Result<()> {
    let copy = crate::workspace_root().join("target/bench-tree");
    let _ = std::fs::remove_dir_all(&copy);
    setup(Command::new("cp").arg("-al").arg(tree).arg(&copy))?;
    let root = copy.to_string_lossy().into_owned();
    let mut job = |name: &str, command: &[&str], extra: &[&str]| -> Result<()> {
        let mut args = strings(command);
        args.extend(strings(&[
            "--format", "json", "--cache", cache, "--root", &root,
        ]));
        args.extend(strings(extra));
        jobs.push(measured(name, binary, &args)?.1);
        Ok(())
    };
    // The copy is a tree of its own: its files are read and hashed once,
    // and the findings of the same texts are the kept ones.
    job(
        "check of a copy of the tree, unchanged",
        &["check"],
        &[&root],
    )?;
    insert_after(
        &copy,
        EDITED_BODY,
        BODY_MARKER,
        "\tnetdev->watchdog_timeo = 5 * HZ;\n",
    )?;
    job(
        &format!("check after a function body in {EDITED_BODY} changed"),
        &["check"],
        &[&root],
    )?;
    append_function(&copy, EDITED_C, 0)?;
    job(
        &format!("check after {EDITED_C} changed"),
        &["check"],
        &[&root],
    )?;
    append_function(&copy, EDITED_HEADER, 0)?;
    job(
        &format!("check after {EDITED_HEADER} changed"),
        &["check"],
        &[&root],
    )?;

    eprintln!("bench: a git repository of the tree …");
    let git = |args: &[&str]| setup(Command::new("git").arg("-C").arg(&copy).args(args));
    let commit = |args: &[&str]| {
        // No automatic gc: it would pack in the background while the jobs
        // are timed. The repository is packed once, below.
        let identity = [
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@localhost",
            "-c",
            "gc.auto=0",
            "commit",
            "-q",
        ];
        git(&[&identity[..], args].concat())
    };
    git(&["init", "-q"])?;
    // Debian's tree ignores everything at its top level (`/*`).
    git(&["add", "-A", "-f", "."])?;
    commit(&["-m", "tree"])?;
    // Packed, as a kernel repository is. Left to the commit's automatic
    // gc, 90k loose objects were packed in the background during the jobs
    // timed next (`check --staged` again took 0.5-0.6 s then, 0.4 s not).
    git(&["gc", "-q"])?;
    for (n, when) in [(1, "first"), (2, "edited again")] {
        append_function(&copy, EDITED_C, n)?;
        git(&["add", "-f", EDITED_C])?;
        job(
            &format!("check --staged, one .c file ({when})"),
            &["check", "--staged"],
            &[],
        )?;
    }
    // A header function's body edited: the files that call it join the
    // check.
    git(&["reset", "-q", "--hard"])?;
    edit_header_function(&copy)?;
    git(&["add", "-f", EDITED_HEADER])?;
    job(
        "check --staged, one header function edited",
        &["check", "--staged"],
        &[],
    )?;
    git(&["reset", "-q", "--hard"])?;
    for (n, file) in SERIES_FILES.iter().enumerate() {
        append_function(&copy, file, 10 + n)?;
        commit(&["-a", "-m", &format!("edit {file}")])?;
    }
    for when in ["first", "again"] {
        job(
            &format!("series over 10 commits ({when})"),
            &["series", "HEAD~10..HEAD"],
            &[],
        )?;
    }
    std::fs::remove_dir_all(&copy).ok();
    Ok(())
}

/// Replaces `rel` in the copy `tree` (a hard link to the extracted tree's
/// file) by a new file: its text with one more function, numbered `n`.
fn append_function(tree: &Path, rel: &str, n: usize) -> Result<()> {
    let path = tree.join(rel);
    let mut text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    text.extend_from_slice(
        format!("\nstatic inline int lockwarden_bench_edit_{n}(void)\n{{\n\treturn {n};\n}}\n")
            .as_bytes(),
    );
    std::fs::remove_file(&path)?;
    std::fs::write(&path, text)?;
    Ok(())
}

/// Replaces [`EDITED_HEADER`] in the copy `tree` by a new file in which
/// `balloon_page_insert()` (called from five files in four directories)
/// does one thing more.
fn edit_header_function(tree: &Path) -> Result<()> {
    insert_after(
        tree,
        EDITED_HEADER,
        "\t__SetPageOffline(page);\n",
        "\tbarrier();\n",
    )
}

/// Replaces `rel` in the copy `tree` by a new file in which `line` follows
/// the first line `marker`.
fn insert_after(tree: &Path, rel: &str, marker: &str, line: &str) -> Result<()> {
    let path = tree.join(rel);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    if !text.contains(marker) {
        bail!("{rel} no longer has `{}`", marker.trim());
    }
    let edited = text.replacen(marker, &format!("{marker}{line}"), 1);
    std::fs::remove_file(&path)?;
    std::fs::write(&path, edited)?;
    Ok(())
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// Runs a setup command, failing when it fails.
fn setup(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}

/// Runs `binary args`, returning its standard output and what it cost.
/// Exit status 1 (findings) is success for a checker.
fn measured(job: &str, binary: &Path, args: &[String]) -> Result<(Vec<u8>, Measure)> {
    eprintln!("bench: {job} …");
    let out = tempfile_path(job);
    let stdout = std::fs::File::create(&out)?;
    let start = Instant::now();
    let mut child = Command::new(binary)
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("running {}", binary.display()))?;
    let mut peak: Option<u64> = None;
    let status = loop {
        if let Some(kb) = high_water_mark_kb(child.id()) {
            peak = Some(peak.map_or(kb, |p| p.max(kb)));
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let wall = start.elapsed();
    if !matches!(status.code(), Some(0 | 1)) {
        bail!("`{job}` failed ({status})");
    }
    let stdout = std::fs::read(&out)?;
    std::fs::remove_file(&out).ok();
    let command = format!("lockwarden {}", args.join(" "));
    Ok((
        stdout,
        Measure {
            job: job.to_owned(),
            command,
            wall_ms: wall.as_millis(),
            peak_rss_kb: peak,
        },
    ))
}

/// The process's peak resident set so far (`VmHWM`), in KiB.
fn high_water_mark_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn tempfile_path(job: &str) -> PathBuf {
    let slug: String = job
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    crate::workspace_root().join(format!("target/bench-{slug}.out"))
}

fn print_table(report: &Report) {
    let plain = report.plain_parse_ms.max(1) as f64;
    println!(
        "\n{:<52} {:>10} {:>12} {:>14}",
        "job", "wall (s)", "peak RSS", "× plain parse"
    );
    println!(
        "{:<52} {:>10.1} {:>12} {:>14}",
        "plain tree-sitter-c parse (inside parse-stats)",
        report.plain_parse_ms as f64 / 1000.0,
        "-",
        "1.00"
    );
    for m in &report.jobs {
        let rss = m
            .peak_rss_kb
            .map_or("?".to_owned(), |kb| format!("{} MiB", kb / 1024));
        println!(
            "{:<52} {:>10.1} {:>12} {:>14.2}",
            m.job,
            m.wall_ms as f64 / 1000.0,
            rss,
            m.wall_ms as f64 / plain
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_high_water_mark_of_this_process_is_read() {
        let kb = high_water_mark_kb(std::process::id()).expect("VmHWM of a live process");
        assert!(kb > 0);
    }

    #[test]
    fn a_finished_process_has_no_status() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(high_water_mark_kb(pid), None);
    }
}
