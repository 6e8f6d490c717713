//! `lockwarden check`: analyse a tree and report findings (SPEC.md §1).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use lockwarden_report::{parse_json_report, render, Format, Report, Severity};
use lockwarden_rules::Checker;

use crate::files::{collect_c_files, find_root, read_inputs};
use crate::terminal::ColorChoice;
use crate::tree_state::{self, TreeState};

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories to analyse (default: .). Directories are walked
    /// as git lists them (.gitignore honoured inside a git work tree);
    /// files named here are always analysed.
    paths: Vec<PathBuf>,
    /// Tree root; paths in JSON, SARIF, GitHub and GitLab output and in rule
    /// files are relative to it (human and gcc output print them from the
    /// current directory).
    #[arg(long)]
    root: Option<PathBuf>,
    /// A rule file or directory of *.toml rule files, added to the built-in
    /// rules. This flag, and `--only`, `--exclude`, `--baseline` and
    /// `--fail-on`, replace the key of the same name in the root's
    /// `.lockwarden.toml` (with `--staged`: the repository's top level).
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// Run only rules whose id matches (e.g. `lock/*`).
    #[arg(long = "only")]
    only: Vec<String>,
    /// human, gcc, json, sarif, github or codequality.
    #[arg(long, default_value = "human")]
    format: String,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// A JSON report from an earlier run: findings with a fingerprint in it are not reported.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Analyse what is staged in the git index (pre-commit), not the work tree.
    #[arg(long, conflicts_with = "paths")]
    staged: bool,
    /// No progress bar on stderr (it is shown only when stderr is a terminal).
    #[arg(short = 'q', long)]
    quiet: bool,
    /// The least severe finding that makes the run fail (exit 1): note,
    /// warning or error (default: `.lockwarden.toml`'s `fail-on`, else
    /// warning, as SPEC.md §1 says). Every finding is reported either way.
    #[arg(long, value_parser = crate::config::severity)]
    fail_on: Option<Severity>,
    /// Write the report to this file instead of stdout.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// Colour in the human format: auto (on a terminal, unless `NO_COLOR`
    /// is set), always or never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    color: ColorChoice,
    /// Print how many findings each rule reported instead of the findings.
    #[arg(long, conflicts_with = "format")]
    statistics: bool,
    /// Leave out files under the given directories whose root-relative path
    /// or file name matches (`drivers/staging/**`, `*_test.c`); files named
    /// on the command line and included headers are always read. With
    /// `--staged`, matching staged files are not checked.
    #[arg(long)]
    exclude: Vec<String>,
    #[command(flatten)]
    cache: crate::cache::CacheArgs,
}

/// The `--exclude` globs; a bad one is a usage error naming it.
pub(crate) fn exclude_set(globs: &[String]) -> Result<globset::GlobSet> {
    let mut set = globset::GlobSetBuilder::new();
    for glob in globs {
        set.add(globset::Glob::new(glob).with_context(|| format!("bad --exclude glob `{glob}`"))?);
    }
    Ok(set.build()?)
}

/// Whether `--exclude` leaves out the root-relative `path`: the path or its
/// file name matches.
pub(crate) fn is_excluded(excluded: &globset::GlobSet, path: &Path) -> bool {
    excluded.is_match(path) || path.file_name().is_some_and(|n| excluded.is_match(n))
}

pub fn run(args: Args) -> ExitCode {
    let result = std::panic::catch_unwind(|| check(&args));
    match result {
        Ok(Ok(found)) => ExitCode::from(if found { crate::EXIT_FINDINGS } else { 0 }),
        Ok(Err(e)) => {
            crate::config::print_error(&e);
            ExitCode::from(crate::EXIT_USAGE)
        }
        Err(_) => {
            eprintln!("error: internal error (a bug in lockwarden; please report it)");
            ExitCode::from(crate::EXIT_INTERNAL)
        }
    }
}

/// Runs the check; `Ok(true)` when findings were reported.
fn check(args: &Args) -> Result<bool> {
    let format: Format = args.format.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    // `.lockwarden.toml` at the root; with `--staged`, at the top of the work tree.
    let root = if args.staged {
        let dir = args.root.as_deref().unwrap_or(Path::new("."));
        crate::git::Git::open(dir)?.toplevel()?
    } else {
        find_root(args.root.as_deref(), &args.paths)?
    };
    let settings = crate::config::project_file(&root)?.resolve(crate::config::Flags {
        rules: &args.rules,
        only: &args.only,
        exclude: &args.exclude,
        baseline: args.baseline.as_deref(),
        fail_on: args.fail_on,
    });
    let baseline: HashSet<String> = match &settings.baseline {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --baseline {}", path.display()))?;
            parse_json_report(&text)
                .map_err(|e| anyhow::anyhow!("--baseline {}: {e}", path.display()))?
                .into_iter()
                .collect()
        }
        None => HashSet::new(),
    };
    if let Some(jobs) = args.jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build_global()
            .ok();
    }
    let config = crate::config::load(&settings.rules)?;
    let only = crate::config::only_set(
        &settings.only,
        &lockwarden_rules::run::rules_of(&config.rules),
    )?;
    if args.staged {
        return crate::staged::check(crate::staged::Options {
            root: args.root.as_deref(),
            cache: &args.cache,
            config,
            only,
            exclude: exclude_set(&settings.exclude)?,
            format,
            baseline,
            fail_on: settings.fail_on,
            output: args.output.as_deref(),
            color: args.color,
        });
    }
    let mut files = collect_c_files(&root, &args.paths)?;
    if !settings.exclude.is_empty() {
        let excluded = exclude_set(&settings.exclude)?;
        let named_files: HashSet<PathBuf> = args
            .paths
            .iter()
            .filter(|p| p.is_file())
            .filter_map(|p| p.canonicalize().ok())
            .collect();
        files.retain(|f| named_files.contains(&root.join(f)) || !is_excluded(&excluded, f));
    }
    if files.is_empty() {
        anyhow::bail!(
            "no C files (.c or .h) to analyse in the given paths: --exclude leaves out all of them"
        );
    }
    let named: HashSet<String> = files
        .iter()
        .map(|f| f.to_string_lossy().replace('\\', "/"))
        .collect();
    let checker = args.cache.attach(Checker::new(config), &root)?;
    let selected = |id: &str| only.as_ref().is_none_or(|g| g.is_match(id));
    let display = crate::progress::start(args.quiet);
    let state_key = state_key(&checker, &root, &files, &selected);
    // Headers may join the named files as context, depending on what they
    // include; when every header is named, none can.
    let context_free = settings.exclude.is_empty()
        && (!root.join("include/linux").is_dir() || names_root(&root, &args.paths));
    let kept = kept_outcome(&checker, &root, &state_key, &selected, |state| {
        context_free && state.len() == files.len()
    });
    let (outcome, skipped) = match kept {
        Some(outcome) => (outcome, Vec::new()),
        None => {
            let taken_ns = tree_state::now_ns();
            let mut stats = tree_state::stats(&root, &files);
            let crate::files::Inputs {
                mut contents,
                mut skipped,
            } = read_inputs(&root, files, &args.paths)?;
            let context = crate::files::include_context_of(&root, &contents);
            if !context.is_empty() {
                stats.extend(tree_state::stats(&root, &context));
                let headers = read_inputs(&root, context, &[])?;
                contents.extend(headers.contents);
                skipped.extend(headers.skipped);
            }
            let outcome = checker.check_selected(contents, &selected)?;
            // A skipped file is warned about on every run: no state is kept.
            let state = outcome
                .results_key
                .filter(|_| skipped.is_empty())
                .and_then(|results| TreeState::new(taken_ns, &outcome.text_keys, &stats, results));
            if let (Some(store), Some(state)) = (checker.store(), state) {
                state.save(store, &state_key);
            }
            (outcome, skipped)
        }
    };
    drop(display);
    let findings: Vec<_> = outcome
        .findings
        .into_iter()
        .filter(|f| !baseline.contains(&f.fingerprint))
        // Included headers are context: findings are reported in the files named.
        .filter(|f| named.contains(&f.location.file))
        .collect();
    let mut summary = outcome.summary;
    summary.findings = findings.len();
    // A binary or unreadable file named `.c` is named too: findings in it
    // are missing.
    summary
        .incomplete
        .extend(skipped.into_iter().map(|s| lockwarden_report::Unanalysed {
            file: s.file.to_string_lossy().replace('\\', "/"),
            line: 1,
            function: String::new(),
            reason: s.reason,
        }));
    summary.incomplete.retain(|u| named.contains(&u.file));
    summary.incomplete.sort();
    let sources: BTreeMap<String, Vec<u8>> = if format == Format::Human {
        outcome.sources
    } else {
        BTreeMap::new()
    };
    let report = Report {
        root: root.to_string_lossy().into_owned(),
        findings,
        summary,
    };
    if args.statistics {
        emit(
            lockwarden_report::statistics(&report),
            args.output.as_deref(),
        )?;
        return Ok(fails(&report, settings.fail_on));
    }
    print_report(
        &report,
        format,
        &checker,
        &sources,
        settings.fail_on,
        args.output.as_deref(),
        args.color,
    )
}

/// The key of the tree state of a check of `files` under `root` with the
/// rules `selected` accepts.
fn state_key(
    checker: &Checker,
    root: &Path,
    files: &[PathBuf],
    selected: &dyn Fn(&str) -> bool,
) -> lockwarden_cache::Key {
    let rule_ids: Vec<String> = checker
        .rules()
        .into_iter()
        .map(|r| r.id)
        .filter(|id| selected(id))
        .collect();
    tree_state::state_key(root, &rule_ids, files)
}

/// The outcome of the last check of the same files with the same rules
/// (the state under `state_key`), when none of the files it read has
/// changed since: found by their stats (see [`tree_state`]), without
/// reading the tree. When one `.c` file changed and the last check read no
/// file but those named (`no_context` says of its state), the outcome of
/// checking that file alone, when it can be (see
/// [`lockwarden_rules::Checker::recheck_one`]).
fn kept_outcome(
    checker: &Checker,
    root: &Path,
    state_key: &lockwarden_cache::Key,
    selected: &dyn Fn(&str) -> bool,
    no_context: impl FnOnce(&TreeState) -> bool,
) -> Option<lockwarden_rules::run::Outcome> {
    let start = std::time::Instant::now();
    let taken_ns = tree_state::now_ns();
    let store = checker.store()?;
    let state = TreeState::load(store, state_key)?;
    let changed = state.changed(root)?;
    let texts_of = |wanted: &HashSet<&str>| -> BTreeMap<String, Vec<u8>> {
        wanted
            .iter()
            .filter_map(|path| {
                let text = crate::files::read_source(&root.join(path)).ok()?;
                Some(((*path).to_owned(), text))
            })
            .collect()
    };
    let [one] = changed.as_slice() else {
        if !changed.is_empty() {
            log_cache(&format!("{} files changed: checking all", changed.len()));
            return None;
        }
        log_cache("nothing changed: the last findings");
        return checker.cached_outcome(&state.results(), start, texts_of);
    };
    let path = state.path(one.index).to_owned();
    let shown = path.display();
    if path.extension().is_none_or(|e| e != "c") {
        log_cache(&format!("{shown} changed, not a .c file: checking all"));
        return None;
    }
    if !no_context(&state) {
        log_cache(&format!(
            "{shown} changed, headers are read as context: checking all"
        ));
        return None;
    }
    let mut text_keys = state.text_keys();
    text_keys[one.index].1 = lockwarden_rules::run::text_key(&one.text);
    let outcome = checker.recheck_one(
        &state.results(),
        &path,
        one.text.clone(),
        text_keys,
        selected,
        texts_of,
    );
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(why) => {
            log_cache(&format!(
                "{shown} changed, not checked alone ({why}): checking all"
            ));
            return None;
        }
    };
    log_cache(&format!("{shown} changed: checked alone"));
    let results = outcome.results_key?;
    state.after(taken_ns, one, results).save(store, state_key);
    Some(outcome)
}

/// Says on stderr how the cache answered, when `LOCKWARDEN_LOG` names
/// `cache` (as `RUST_LOG` names a module).
fn log_cache(message: &str) {
    if std::env::var("LOCKWARDEN_LOG").is_ok_and(|v| v.split(',').any(|s| s.trim() == "cache")) {
        eprintln!("lockwarden: cache: {message}");
    }
}

/// Whether `paths` name the tree `root` itself (or nothing: the current
/// directory, the root).
fn names_root(root: &Path, paths: &[PathBuf]) -> bool {
    let root = root.canonicalize().ok();
    let here = [PathBuf::from(".")];
    let paths = if paths.is_empty() { &here[..] } else { paths };
    paths.iter().all(|p| p.canonicalize().ok() == root)
}

/// Prints `report` in `format` on stdout or into `output` (colour, width
/// and paths as [`crate::terminal::render_options`] decides); whether it
/// has a finding at least as severe as `fail_on`.
pub(crate) fn print_report(
    report: &Report,
    format: Format,
    checker: &Checker,
    sources: &BTreeMap<String, Vec<u8>>,
    fail_on: Severity,
    output: Option<&Path>,
    color: ColorChoice,
) -> Result<bool> {
    let options = crate::terminal::render_options(Path::new(&report.root), color, output);
    let text = render(report, format, &checker.rules(), sources, &options);
    emit(text, output)?;
    Ok(fails(report, fail_on))
}

/// Whether `report` has a finding at least as severe as `fail_on`.
fn fails(report: &Report, fail_on: Severity) -> bool {
    report.findings.iter().any(|f| f.severity <= fail_on)
}

/// `text` into `output`, or on stdout.
fn emit(text: String, output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write --output {}", path.display()))?,
        None => crate::out!("{text}"),
    }
    Ok(())
}
