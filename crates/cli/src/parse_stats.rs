//! `lockwarden parse-stats`: frontend coverage and speed, next to plain tree-sitter-c.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use lockwarden_syntax::stats::{measure, Coverage, ParseStats};

use crate::files::{collect_c_files, find_root, read_inputs};

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories to read (default: .).
    paths: Vec<PathBuf>,
    /// Tree root; paths in output are relative to it.
    #[arg(long)]
    root: Option<PathBuf>,
    /// `human` or `json`.
    #[arg(long, default_value = "human")]
    format: String,
    /// Also list the N most frequent parse-error causes and worst files.
    #[arg(long, default_value_t = 0)]
    worst: usize,
    /// Skip the plain tree-sitter-c comparison parse.
    #[arg(long)]
    no_compare: bool,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
}

pub fn run(args: Args) -> ExitCode {
    match stats(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(crate::EXIT_USAGE)
        }
    }
}

fn stats(args: &Args) -> Result<()> {
    if !matches!(args.format.as_str(), "human" | "json") {
        anyhow::bail!(
            "parse-stats supports --format human or json, not {}",
            args.format
        );
    }
    if let Some(jobs) = args.jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build_global()
            .ok();
    }
    let root = find_root(args.root.as_deref(), &args.paths)?;
    let files = collect_c_files(&root, &args.paths)?;
    let read_start = Instant::now();
    let contents = read_inputs(&root, files, &args.paths)?.contents;
    let read_ms = read_start.elapsed().as_millis();
    let macros = crate::config::load(&[])?.syntax.compile();
    let mut stats = measure(&contents, &macros, !args.no_compare);
    stats.read_ms = read_ms;
    if args.format == "json" {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&to_json(&stats, args.worst))?
        );
    } else {
        print_human(&stats, args.worst);
    }
    Ok(())
}

fn coverage_json(c: &Coverage) -> serde_json::Value {
    json!({
        "functions": c.functions,
        "functions_with_parse_errors": c.functions_with_parse_errors,
        "clean_percent": (c.clean_percent() * 100.0).round() / 100.0,
        "elapsed_ms": c.elapsed_ms,
    })
}

fn to_json(s: &ParseStats, worst: usize) -> serde_json::Value {
    json!({
        "files": s.files,
        "bytes": s.bytes,
        "functions": s.frontend.functions,
        "functions_with_parse_errors": s.frontend.functions_with_parse_errors,
        "clean_percent": (s.frontend.clean_percent() * 100.0).round() / 100.0,
        "elapsed_ms": s.frontend.elapsed_ms,
        "read_ms": s.read_ms,
        "failed_files": s.failed_files,
        "plain_tree_sitter": s.plain.as_ref().map(coverage_json),
        "overhead_percent": overhead(s),
        "causes": s.causes.iter().take(worst).map(|(c, n)| json!({"cause": c, "count": n})).collect::<Vec<_>>(),
        "worst_files": s.worst_files.iter().take(worst).map(|(p, n)| json!({"file": p.to_string_lossy().replace('\\', "/"), "functions_with_parse_errors": n})).collect::<Vec<_>>(),
    })
}

/// Frontend time over plain tree-sitter time, as a percentage on top.
fn overhead(s: &ParseStats) -> Option<f64> {
    let plain = s.plain.as_ref()?;
    (plain.elapsed_ms > 0).then(|| {
        let pct = 100.0 * (s.frontend.elapsed_ms as f64 - plain.elapsed_ms as f64)
            / plain.elapsed_ms as f64;
        (pct * 10.0).round() / 10.0
    })
}

fn print_human(s: &ParseStats, worst: usize) {
    let f = &s.frontend;
    crate::outln!(
        "files: {} ({} bytes, read in {} ms)",
        s.files,
        s.bytes,
        s.read_ms
    );
    crate::outln!(
        "functions: {}, with parse errors in the body: {} ({:.2}% clean), {} ms",
        f.functions,
        f.functions_with_parse_errors,
        f.clean_percent(),
        f.elapsed_ms
    );
    if let Some(p) = &s.plain {
        crate::outln!(
            "plain tree-sitter-c: {} functions, {} with errors ({:.2}% clean), {} ms",
            p.functions,
            p.functions_with_parse_errors,
            p.clean_percent(),
            p.elapsed_ms
        );
    }
    if let Some(pct) = overhead(s) {
        crate::outln!("kernel-idiom handling overhead: {pct:+.1}% of plain parse time");
    }
    if s.failed_files > 0 {
        crate::outln!("files tree-sitter gave up on: {}", s.failed_files);
    }
    if worst > 0 {
        crate::outln!("most frequent parse-error causes:");
        for (cause, n) in s.causes.iter().take(worst) {
            crate::outln!("{n:>8}  {cause}");
        }
        crate::outln!("files with the most broken functions:");
        for (path, n) in s.worst_files.iter().take(worst) {
            crate::outln!("{n:>8}  {}", path.display());
        }
    }
}
