//! `cargo xtask edits`: the one-file re-check against the whole check, on
//! the kernel tree.
//!
//! On a hard-linked copy of the tree (the extracted tree is never
//! written), a cold `check` fills a cache of its own; then COUNT `.c`
//! files drawn with a seeded shuffle are edited one after another (a
//! comment or a `barrier();` added in a body, a string or an errno
//! changed, an unlock deleted, a lock taken twice), each followed by a
//! warm `check` of the whole tree, which checks the file alone when it can
//! (`LOCKWARDEN_LOG=cache` says whether). The report after the last edit
//! must be the report of a check without the cache, byte for byte (wall
//! time aside): every edit's findings were merged into it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::recall::SplitMix64;

const USAGE: &str = "usage: cargo xtask edits [--seed N] [--count N]";

pub(crate) fn run(flags: &[String]) -> Result<()> {
    let (mut seed, mut count) = (1u64, 40usize);
    let mut flags = flags.iter();
    while let Some(flag) = flags.next() {
        let value = flags.next().context(USAGE)?;
        match flag.as_str() {
            "--seed" => seed = value.parse().context(USAGE)?,
            "--count" => count = value.parse().context(USAGE)?,
            _ => bail!("unknown option `{flag}`\n{USAGE}"),
        }
    }
    let tree = crate::kernel::kernel_tree()?;
    let binary = crate::release_binary()?;
    let target = crate::workspace_root().join("target");
    let copy = target.join("edits-tree");
    let cache = target.join("edits-cache");
    for dir in [&copy, &cache] {
        let _ = std::fs::remove_dir_all(dir);
    }
    let status = Command::new("cp")
        .arg("-al")
        .arg(&tree)
        .arg(&copy)
        .status()?;
    if !status.success() {
        bail!("cp -al {} failed", tree.display());
    }
    let report = |name: &str| target.join(format!("edits-{name}.json"));
    let check = |cached: bool, out: &Path| -> Result<(f64, String)> {
        let mut command = Command::new(&binary);
        command
            .current_dir(&copy)
            .env("LOCKWARDEN_LOG", "cache")
            .args(["check", ".", "-q", "--format", "json", "-o"])
            .arg(out);
        match cached {
            true => command.arg("--cache").arg(&cache),
            false => command.arg("--no-cache"),
        };
        let start = Instant::now();
        let output = command.output()?;
        if !matches!(output.status.code(), Some(0 | 1)) {
            bail!("check failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        let log = String::from_utf8_lossy(&output.stderr);
        let said = log
            .lines()
            .filter_map(|l| l.strip_prefix("lockwarden: cache: "))
            .collect::<Vec<_>>()
            .join("; ");
        Ok((start.elapsed().as_secs_f64(), said))
    };
    eprintln!("edits: a cold check of the copy, filling its cache …");
    let (cold, _) = check(true, &report("cold"))?;
    println!("cold check: {cold:.1} s");
    let mut files = c_files(&copy)?;
    files.sort();
    let mut rng = SplitMix64::new(seed);
    rng.shuffle(&mut files);
    let mut alone: Vec<f64> = Vec::new();
    let mut whole: BTreeMap<String, usize> = BTreeMap::new();
    for (n, rel) in files.iter().take(count).enumerate() {
        let path = copy.join(rel);
        let text = std::fs::read(&path)?;
        let (kind, edited) = edit(&String::from_utf8_lossy(&text), &mut rng);
        // A new file, not a write through the hard link.
        std::fs::remove_file(&path)?;
        std::fs::write(&path, edited)?;
        let (seconds, said) = check(true, &report("last"))?;
        println!("{n:3} {seconds:6.2} s  {kind:10} {said}");
        if said.ends_with("checked alone") {
            alone.push(seconds);
        } else {
            let why = said
                .split_once(" (")
                .map_or(said.as_str(), |(_, why)| why)
                .split(':')
                .next()
                .unwrap_or_default()
                .trim_end_matches(')')
                .to_owned();
            *whole.entry(why).or_default() += 1;
        }
    }
    eprintln!("edits: a check of the edited copy without the cache …");
    let (uncached, _) = check(false, &report("uncached"))?;
    let same = without_time(&report("last"))? == without_time(&report("uncached"))?;
    alone.sort_by(f64::total_cmp);
    println!(
        "\n{} of {count} edits checked alone (median {:.2} s, slowest {:.2} s); checked with the rest:",
        alone.len(),
        alone.get(alone.len() / 2).copied().unwrap_or_default(),
        alone.last().copied().unwrap_or_default(),
    );
    for (why, n) in &whole {
        println!("  {n:3}  {why}");
    }
    println!(
        "report after the last edit against a check without the cache ({uncached:.1} s): {}",
        if same { "identical" } else { "DIFFERENT" }
    );
    std::fs::remove_dir_all(&copy).ok();
    std::fs::remove_dir_all(&cache).ok();
    if !same {
        bail!("the reports differ: compare target/edits-last.json and target/edits-uncached.json");
    }
    Ok(())
}

/// The `.c` files under `root`, root-relative (hidden directories left out).
fn c_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if entry.file_type()?.is_dir() {
                if !hidden {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "c") {
                out.push(path.strip_prefix(root)?.to_owned());
            }
        }
    }
    Ok(out)
}

/// The JSON report at `path` with its wall time zeroed.
fn without_time(path: &Path) -> Result<serde_json::Value> {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)?;
    v["summary"]["elapsed_ms"] = 0.into();
    Ok(v)
}

/// One edit of `text`, of a kind `rng` picks (another where the file has
/// no line for it): the kind and the new text.
fn edit(text: &str, rng: &mut SplitMix64) -> (&'static str, String) {
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let in_body: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with('\t'))
        .collect();
    let pick = |rng: &mut SplitMix64, of: &[usize]| of[(rng.next_u64() % of.len() as u64) as usize];
    let with = |test: &dyn Fn(&str) -> bool| -> Vec<usize> {
        in_body
            .iter()
            .copied()
            .filter(|&i| test(&lines[i]))
            .collect()
    };
    let kinds = [
        "string",
        "comment",
        "stmt",
        "del_unlock",
        "dup_lock",
        "errno",
    ];
    let kind = kinds[(rng.next_u64() % kinds.len() as u64) as usize];
    let candidates = match kind {
        "string" => with(&|l| quoted_word(l).is_some()),
        "del_unlock" => with(&|l| l.contains("_unlock") && l.contains('(')),
        "dup_lock" => {
            with(&|l| l.contains("_lock") && l.contains('(') && l.trim_end().ends_with(';'))
        }
        "errno" => with(&|l| l.contains("= -E") && l.trim_end().ends_with(';')),
        _ => Vec::new(),
    };
    if !candidates.is_empty() {
        let i = pick(rng, &candidates);
        match kind {
            "string" => {
                let at = quoted_word(&lines[i]).unwrap_or_default();
                let letter = if lines[i].as_bytes()[at] == b'Q' {
                    "R"
                } else {
                    "Q"
                };
                lines[i].replace_range(at..at + 1, letter);
            }
            "del_unlock" => {
                lines.remove(i);
            }
            "dup_lock" => {
                let line = lines[i].clone();
                lines.insert(i, line);
            }
            _ => {
                let start = lines[i].find("= -E").unwrap_or_default() + 3;
                let end = lines[i][start..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .map_or(lines[i].len(), |e| start + e);
                lines[i].replace_range(start..end, "-EIO");
            }
        }
        return (kind, lines.join("\n"));
    }
    let at = match in_body.is_empty() {
        true => (rng.next_u64() % lines.len() as u64) as usize,
        false => pick(rng, &in_body),
    };
    let (kind, line) = match kind {
        "stmt" => ("stmt", "\tbarrier();"),
        _ => ("comment", "\t/* lockwarden edit */"),
    };
    lines.insert(at, line.to_owned());
    (kind, lines.join("\n"))
}

/// The byte offset of the first letter of a string literal in `line` that
/// starts with three letters.
fn quoted_word(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    (0..bytes.len().saturating_sub(3)).find_map(|i| {
        (bytes[i] == b'"' && bytes[i + 1..i + 4].iter().all(u8::is_ascii_alphabetic))
            .then_some(i + 1)
    })
}
