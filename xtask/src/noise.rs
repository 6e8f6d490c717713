//! `cargo xtask noise`: how many findings lockwarden reports on the
//! unmutated kernel tree, per 100k lines of C.
//!
//! Each top-level directory that holds `.c` files is analysed on its own:
//! its `.c` and `.h` files, plus the headers they include (elsewhere in the
//! tree) as context, with every built-in rule (or only `lock/*` with
//! `--only-lock`). Findings in the directory's own files are counted per rule
//! and per severity and divided by the directory's lines (newlines of its
//! `.c` and `.h` files). A directory named in `--split` is analysed one
//! second-level directory at a time (its loose files together) and summed,
//! for machines where the whole of `drivers/` (about 13 GB) does not fit;
//! calls between its parts are then not followed. Elapsed time is reported
//! per directory.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use lockwarden_report::Severity;
use lockwarden_rules::run::Checker;
use rayon::prelude::*;
use serde::Serialize;

use crate::recall::{split_list, top_level_dirs, Flags};

const USAGE: &str =
    "usage: cargo xtask noise [--dirs a,b,...] [--only-lock] [--split a,b,...] [--json FILE]";

struct Options {
    dirs: Option<Vec<String>>,
    split: Vec<String>,
    only_lock: bool,
    json: Option<PathBuf>,
}

fn parse_options(flags: &[String]) -> Result<Options> {
    let mut options = Options {
        dirs: None,
        split: Vec::new(),
        only_lock: false,
        json: None,
    };
    let mut flags = Flags::new(flags, USAGE);
    while let Some(flag) = flags.next_flag() {
        match flag {
            "--dirs" => options.dirs = Some(split_list(flags.value(flag)?)),
            "--split" => options.split = split_list(flags.value(flag)?),
            "--json" => options.json = Some(PathBuf::from(flags.value(flag)?)),
            "--only-lock" => options.only_lock = true,
            other => return Err(flags.unexpected(other)),
        }
    }
    Ok(options)
}

/// The findings of one directory.
#[derive(Default, Serialize)]
struct DirectoryNoise {
    directory: String,
    files: usize,
    lines: usize,
    /// Analysed parts (1 unless split).
    parts: usize,
    by_rule: BTreeMap<String, usize>,
    by_severity: BTreeMap<String, usize>,
    findings: usize,
    elapsed_s: f64,
}

/// `files` grouped into the parts analysed on their own, with their names:
/// the directory, or one part per second-level directory plus one for the
/// loose files.
fn parts(dir: &str, files: Vec<PathBuf>, split: bool) -> Vec<(String, Vec<PathBuf>)> {
    if !split {
        return vec![(format!("{dir}/"), files)];
    }
    let mut groups: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for file in files {
        let second = file
            .strip_prefix(dir)
            .ok()
            .and_then(|rest| {
                let mut components = rest.components();
                let first = components.next()?;
                components.next().map(|_| first)
            })
            .map_or_else(
                || format!("{dir}/*"),
                |c| format!("{dir}/{}/", c.as_os_str().to_string_lossy()),
            );
        groups.entry(second).or_default().push(file);
    }
    groups.into_iter().collect()
}

fn lines(root: &Path, files: &[PathBuf]) -> usize {
    files
        .par_iter()
        .map(|f| {
            std::fs::read(root.join(f)).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
        })
        .sum()
}

/// Analyses one part; adds its findings to `into`.
fn analyse(
    root: &Path,
    checker: &Checker,
    only_lock: bool,
    files: &[PathBuf],
    into: &mut DirectoryNoise,
) -> Result<()> {
    let context = lockwarden_cli::files::include_context(root, files);
    let named: HashSet<String> = files
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    let contents: Vec<(PathBuf, Vec<u8>)> = files
        .iter()
        .chain(&context)
        .cloned()
        .collect::<Vec<_>>()
        .into_par_iter()
        .filter_map(|rel| Some((rel.clone(), std::fs::read(root.join(&rel)).ok()?)))
        .collect();
    let outcome = checker.check_selected(contents, &|id| !only_lock || id.starts_with("lock/"))?;
    for finding in outcome
        .findings
        .iter()
        .filter(|f| named.contains(&f.location.file))
    {
        *into.by_rule.entry(finding.rule.clone()).or_default() += 1;
        *into
            .by_severity
            .entry(finding.severity.as_str().to_owned())
            .or_default() += 1;
        into.findings += 1;
    }
    Ok(())
}

pub(crate) fn run(flags: &[String]) -> Result<()> {
    let options = parse_options(flags)?;
    let started = Instant::now();
    let root = crate::kernel::kernel_tree()?
        .canonicalize()
        .context("resolving the kernel tree")?;
    let config = lockwarden_rules::builtin::config().map_err(|e| anyhow::anyhow!("{e}"))?;
    let checker = Checker::new(config);
    let dirs = top_level_dirs(&root, options.dirs.as_deref())?;
    for s in &options.split {
        if !dirs.iter().any(|(d, _)| d == s) {
            bail!("--split {s}: not a measured top-level directory");
        }
    }
    let mut results = Vec::new();
    for (dir, files) in dirs {
        let t = Instant::now();
        let mut noise = DirectoryNoise {
            directory: dir.clone(),
            files: files.len(),
            lines: lines(&root, &files),
            ..DirectoryNoise::default()
        };
        let parts = parts(&dir, files, options.split.contains(&dir));
        noise.parts = parts.len();
        for (name, part) in &parts {
            let before = noise.findings;
            let t = Instant::now();
            analyse(&root, &checker, options.only_lock, part, &mut noise)?;
            if parts.len() > 1 {
                eprintln!(
                    "noise:   {name}: {} files, {} findings ({:.1} s)",
                    part.len(),
                    noise.findings - before,
                    t.elapsed().as_secs_f64()
                );
            }
        }
        noise.elapsed_s = t.elapsed().as_secs_f64();
        eprintln!(
            "noise: {dir}/: {} files, {} lines, {} findings ({:.1} s)",
            noise.files, noise.lines, noise.findings, noise.elapsed_s
        );
        results.push(noise);
    }
    print_tables(&results, options.only_lock);
    if let Some(path) = &options.json {
        let report = serde_json::json!({
            "only_lock": options.only_lock,
            "directories": results,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("noise: done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn per_100k(count: usize, lines: usize) -> String {
    if lines == 0 {
        "-".to_owned()
    } else {
        format!("{:.2}", count as f64 * 100_000.0 / lines as f64)
    }
}

fn print_tables(results: &[DirectoryNoise], only_lock: bool) {
    println!(
        "findings per 100k lines of .c/.h ({} rules), each directory analysed on its own",
        if only_lock { "lock/*" } else { "all built-in" }
    );
    println!(
        "{:<20} {:>10} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "directory",
        "lines",
        "error",
        "warning",
        "note",
        "total",
        "err/100k",
        "warn/100k",
        "note/100k",
        "all/100k",
        "time"
    );
    let mut total = DirectoryNoise {
        directory: "total".to_owned(),
        ..DirectoryNoise::default()
    };
    for r in results {
        total.lines += r.lines;
        total.findings += r.findings;
        total.elapsed_s += r.elapsed_s;
        for (k, v) in &r.by_severity {
            *total.by_severity.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &r.by_rule {
            *total.by_rule.entry(k.clone()).or_default() += v;
        }
    }
    for r in results.iter().chain([&total]) {
        let severity = |s: Severity| r.by_severity.get(s.as_str()).copied().unwrap_or(0);
        let name = if r.parts > 1 {
            format!("{} ({} parts)", r.directory, r.parts)
        } else {
            r.directory.clone()
        };
        println!(
            "{:<20} {:>10} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9} {:>8.1}s",
            name,
            r.lines,
            severity(Severity::Error),
            severity(Severity::Warning),
            severity(Severity::Note),
            r.findings,
            per_100k(severity(Severity::Error), r.lines),
            per_100k(severity(Severity::Warning), r.lines),
            per_100k(severity(Severity::Note), r.lines),
            per_100k(r.findings, r.lines),
            r.elapsed_s
        );
    }
    println!();
    println!("{:<36} {:>8} {:>9}", "rule", "findings", "per 100k");
    for (rule, count) in &total.by_rule {
        println!(
            "{:<36} {:>8} {:>9}",
            rule,
            count,
            per_100k(*count, total.lines)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_parts_are_second_level_directories_and_loose_files() {
        let files: Vec<PathBuf> = ["d/a/x.c", "d/a/b/y.h", "d/top.c", "d/c/z.c"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let names: Vec<(String, usize)> = parts("d", files.clone(), true)
            .into_iter()
            .map(|(name, files)| (name, files.len()))
            .collect();
        assert_eq!(
            names,
            [("d/*".into(), 1), ("d/a/".into(), 2), ("d/c/".into(), 1)]
        );
        assert_eq!(parts("d", files, false).len(), 1);
        assert_eq!(per_100k(3, 200_000), "1.50");
        assert_eq!(per_100k(3, 0), "-");
    }
}
