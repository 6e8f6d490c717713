//! `lockwarden check --staged`: the pre-commit check (SPEC.md §1).
//!
//! Analyses the index — not the work tree — exactly as `series` analyses a
//! commit ([`crate::series::Analyser::compare_full`]): the staged `.c`/`.h`
//! files that differ from HEAD, with the other files of their directories,
//! the files anywhere in HEAD that use a name a staged header defines
//! differently (`git grep`), and the headers all of those include, taken
//! from the index as context, against the same files in HEAD. It reports the findings the staged change introduces (a
//! fingerprint not found in HEAD) and those whose primary line lies in a
//! changed hunk of a staged file. `GIT_INDEX_FILE` is honoured, so the check
//! sees what `git commit` is about to record, also for `git commit -a` and
//! `git commit FILE`. Nothing is written to the repository.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::Result;
use globset::GlobSet;
use lockwarden_report::{Format, Report};
use lockwarden_rules::builtin::Config;
use lockwarden_rules::Checker;

use crate::git::{Git, Tree};
use crate::series::Analyser;

/// What `check` passes on when `--staged` is given.
pub struct Options<'a> {
    /// `--root`: a directory of the repository (default: the current one).
    pub root: Option<&'a Path>,
    /// `--cache`, `--no-cache`.
    pub cache: &'a crate::cache::CacheArgs,
    pub config: Config,
    pub only: Option<GlobSet>,
    /// `--exclude`: staged files it matches are not checked.
    pub exclude: GlobSet,
    pub format: Format,
    /// Fingerprints from `--baseline`.
    pub baseline: HashSet<String>,
    /// `--fail-on`: the least severe finding that fails the commit.
    pub fail_on: lockwarden_report::Severity,
    /// `--output`: the report goes into this file.
    pub output: Option<&'a Path>,
    /// `--color`.
    pub color: crate::terminal::ColorChoice,
}

/// Runs the staged check and prints the report; `Ok(true)` when findings
/// were reported.
pub fn check(opts: Options<'_>) -> Result<bool> {
    let dir = opts.root.unwrap_or(Path::new("."));
    let top = Git::open(dir)?.toplevel()?;
    // From the top: `git ls-files` elsewhere lists only the files below the
    // current directory, by paths relative to it.
    let mut git = Git::open(&top)?;
    let head = git.head()?;
    let before = match &head {
        Some(id) => git.tree(id)?,
        None => Tree::new(),
    };
    let after = git.index()?;
    let checker = opts.cache.attach(Checker::new(opts.config), &top)?;
    let mut analyser = Analyser::new(checker, opts.only, opts.exclude);
    let (delta, analysed, touched) =
        analyser.compare_full(&mut git, &before, &after, head.as_deref())?;
    let mut findings = Vec::new();
    let mut summary = lockwarden_report::Summary::default();
    let mut sources = BTreeMap::new();
    if let Some(analysed) = analysed {
        let introduced: HashSet<&str> = delta
            .introduced
            .iter()
            .map(|f| f.fingerprint.as_str())
            .collect();
        let mut hunks: HashMap<&str, Vec<(u32, u32)>> = HashMap::new();
        for path in touched.iter().filter(|p| after.contains_key(*p)) {
            hunks.insert(
                path.as_str(),
                git.staged_changed_lines(head.as_deref(), path)?,
            );
        }
        let in_hunk = |file: &str, line: u32| {
            hunks
                .get(file)
                .is_some_and(|r| r.iter().any(|&(a, b)| a <= line && line <= b))
        };
        findings = analysed
            .findings
            .iter()
            .filter(|f| {
                introduced.contains(f.fingerprint.as_str())
                    || in_hunk(&f.location.file, f.location.line)
            })
            .filter(|f| !opts.baseline.contains(&f.fingerprint))
            .cloned()
            .collect();
        summary = analysed.summary.clone();
        // What the commit touches: the functions there not fully analysed.
        summary
            .incomplete
            .retain(|u| touched.iter().any(|t| *t == u.file));
        if opts.format == Format::Human {
            let wanted: HashSet<&str> = findings
                .iter()
                .flat_map(|f| {
                    std::iter::once(&f.location).chain(f.labels.iter().map(|l| &l.location))
                })
                .map(|l| l.file.as_str())
                .collect();
            sources = analysed
                .sources
                .iter()
                .filter(|(p, _)| wanted.contains(p.as_str()))
                .map(|(p, b)| (p.clone(), b.as_ref().clone()))
                .collect::<BTreeMap<String, Vec<u8>>>();
        }
    }
    summary.findings = findings.len();
    let report = Report {
        root: top.to_string_lossy().into_owned(),
        findings,
        summary,
    };
    crate::check::print_report(
        &report,
        opts.format,
        &analyser.checker,
        &sources,
        opts.fail_on,
        opts.output,
        opts.color,
    )
}
