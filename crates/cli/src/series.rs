//! `lockwarden series`: what each commit of a range, or each patch of a
//! `git format-patch` mbox, introduced and fixed (SPEC.md §1, §2).
//!
//! For every step (a commit against its first parent, or a patch applied in
//! memory on top of the previous one) the same set of files is analysed in
//! the tree before and after it, and findings are matched by fingerprint:
//! those only after are *introduced*, those only before are *fixed*. The
//! file set is [`context`]: the `.c`/`.h` files the step touched, the other
//! `.c`/`.h` files of their directories (callers and callees for the
//! summaries), and the headers the touched files `#include` that exist in
//! the tree. Files are read from git objects ([`crate::git`]); the work tree
//! and the index are never written, and of the work tree only
//! `.lockwarden.toml` at its top is read.
//!
//! Known limit: a change to a header is analysed with the header's own
//! directory, not with every file in the tree that includes it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use globset::GlobSet;
use lockwarden_report::{render, Finding, Format, JsonFinding, RenderOptions, Report, Summary};
use lockwarden_rules::Checker;
use lockwarden_syntax::index::IncludeResolver;

use crate::config::print_error;
use crate::files::includes;
use crate::git::{Blob, Entry, Git, Tree};
use crate::{mbox, patch};

#[derive(clap::Args)]
pub struct Args {
    /// The commits to check, `BASE..HEAD` (a single REV means REV..HEAD).
    #[arg(required_unless_present = "mbox", conflicts_with = "mbox")]
    range: Option<String>,
    /// A `git format-patch` mbox of one or many patches, applied in memory.
    #[arg(long)]
    mbox: Option<PathBuf>,
    /// The commit the mbox applies to (default: its `base-commit:`, else HEAD).
    #[arg(long, requires = "mbox")]
    base: Option<String>,
    /// The git repository (default: the current directory).
    #[arg(long)]
    root: Option<PathBuf>,
    /// A rule file or directory of *.toml rule files, added to the built-in
    /// rules. This flag, and `--only`, `--exclude` and `--baseline`, replace
    /// the key of the same name in `.lockwarden.toml`, which is read from the
    /// top of the work tree (not from the commits: one configuration for the
    /// whole range; a bare repository has none). Its `fail-on` sets the least
    /// severe introduced finding that makes the run fail.
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// Run only rules whose id matches (e.g. `lock/*`).
    #[arg(long = "only")]
    only: Vec<String>,
    /// human, gcc, json (one object per commit), sarif, github or codequality
    /// (the last three: every finding introduced and not fixed later).
    #[arg(long, default_value = "human")]
    format: String,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// A JSON report from an earlier run: introduced findings with a fingerprint in it are not reported.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Leave out changed files whose repository-relative path or file name
    /// matches (`drivers/staging/**`, `*_test.c`): they are not checked.
    #[arg(long)]
    exclude: Vec<String>,
    #[command(flatten)]
    cache: crate::cache::CacheArgs,
}

pub fn run(args: Args) -> ExitCode {
    match std::panic::catch_unwind(|| series(&args)) {
        Ok(Ok(found)) => ExitCode::from(if found { crate::EXIT_FINDINGS } else { 0 }),
        Ok(Err(e)) => {
            print_error(&e);
            ExitCode::from(crate::git::exit_code(&e))
        }
        Err(_) => {
            eprintln!("error: internal error (a bug in lockwarden; please report it)");
            ExitCode::from(crate::EXIT_INTERNAL)
        }
    }
}

/// The fingerprints of a `--baseline` report.
pub(crate) fn read_baseline(path: Option<&Path>) -> Result<HashSet<String>> {
    let Some(path) = path else {
        return Ok(HashSet::new());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --baseline {}", path.display()))?;
    Ok(lockwarden_report::parse_json_report(&text)
        .map_err(|e| anyhow!("--baseline {}: {e}", path.display()))?
        .into_iter()
        .collect())
}

/// One commit or patch and what it changed.
struct Step {
    label: String,
    commit: String,
    subject: String,
    delta: Delta,
}

/// Findings a step introduced and fixed.
#[derive(Default)]
pub(crate) struct Delta {
    pub introduced: Vec<Finding>,
    pub fixed: Vec<Finding>,
}

fn series(args: &Args) -> Result<bool> {
    let format: Format = args.format.parse().map_err(|e| anyhow!("{e}"))?;
    let dir = args.root.clone().unwrap_or_else(|| PathBuf::from("."));
    let mut git = Git::open(&dir)?;
    // `.lockwarden.toml` from the work tree, not from the commits checked.
    let file = match git.toplevel() {
        Ok(top) => crate::config::project_file(&top)?,
        Err(_) => crate::config::ProjectFile::default(),
    };
    let settings = file.resolve(crate::config::Flags {
        rules: &args.rules,
        only: &args.only,
        exclude: &args.exclude,
        baseline: args.baseline.as_deref(),
        fail_on: None,
    });
    let baseline = read_baseline(settings.baseline.as_deref())?;
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
    let exclude = crate::check::exclude_set(&settings.exclude)?;
    let tree = git.toplevel().unwrap_or_else(|_| dir.clone());
    let checker = args.cache.attach(Checker::new(config), &tree)?;
    let mut analyser = Analyser::new(checker, only, exclude);
    let steps = match &args.mbox {
        Some(path) => mbox_steps(&mut git, &mut analyser, path, args.base.as_deref())?,
        None => range_steps(
            &mut git,
            &mut analyser,
            args.range.as_deref().unwrap_or_default(),
        )?,
    };
    let mut steps = steps;
    for step in &mut steps {
        step.delta
            .introduced
            .retain(|f| !baseline.contains(&f.fingerprint));
    }
    let found = steps.iter().any(|s| {
        s.delta
            .introduced
            .iter()
            .any(|f| f.severity <= settings.fail_on)
    });
    let root = git_root(&git, &dir);
    // Human and gcc lines print paths from here, as `check` does.
    let options = RenderOptions {
        paths: crate::terminal::paths_from_current_dir(Path::new(&root)),
        ..RenderOptions::default()
    };
    let text = render_steps(&steps, format, &analyser.checker, &root, &options);
    crate::out!("{text}");
    Ok(found)
}

/// The repository's top directory for `root` in reports (bare: the git dir).
fn git_root(git: &Git, dir: &Path) -> String {
    let top = git
        .toplevel()
        .ok()
        .or_else(|| dir.canonicalize().ok())
        .unwrap_or_else(|| dir.to_path_buf());
    top.to_string_lossy().into_owned()
}

fn range_steps(git: &mut Git, analyser: &mut Analyser, range: &str) -> Result<Vec<Step>> {
    if range.contains("...") {
        bail!("`{range}`: give a range as BASE..HEAD (symmetric differences are not supported)");
    }
    let (base, head) = match range.split_once("..") {
        Some((b, h)) => (
            if b.is_empty() { "HEAD" } else { b },
            if h.is_empty() { "HEAD" } else { h },
        ),
        None => (range, "HEAD"),
    };
    let base_id = git.resolve_commit(base)?;
    let head_id = git.resolve_commit(head)?;
    let commits = git.rev_list(&base_id, &head_id)?;
    if commits.is_empty() {
        eprintln!("note: `{range}` holds no commits");
    }
    let count = commits.len();
    let mut trees: HashMap<String, Arc<Tree>> = HashMap::new();
    let mut steps = Vec::new();
    for (n, id) in commits.iter().enumerate() {
        let info = git.commit(id)?;
        let before = match info.parents.first() {
            Some(parent) => tree_of(git, &mut trees, parent)?,
            None => Arc::new(Tree::new()),
        };
        let after = tree_of(git, &mut trees, id)?;
        trees.retain(|k, _| k == id);
        let delta = analyser
            .compare(
                git,
                &before,
                &after,
                info.parents.first().map(String::as_str),
            )
            .with_context(|| format!("commit {id} `{}`", info.subject))?;
        steps.push(Step {
            label: format!("[PATCH {}/{}]", n + 1, count),
            commit: id.clone(),
            subject: info.subject,
            delta,
        });
    }
    Ok(steps)
}

fn tree_of(git: &Git, trees: &mut HashMap<String, Arc<Tree>>, id: &str) -> Result<Arc<Tree>> {
    if let Some(t) = trees.get(id) {
        return Ok(t.clone());
    }
    let t = Arc::new(git.tree(id)?);
    trees.insert(id.to_owned(), t.clone());
    Ok(t)
}

fn mbox_steps(
    git: &mut Git,
    analyser: &mut Analyser,
    path: &Path,
    base: Option<&str>,
) -> Result<Vec<Step>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read --mbox {}", path.display()))?;
    let mails = mbox::parse(&bytes).with_context(|| format!("--mbox {}", path.display()))?;
    let base = match base {
        Some(b) => b.to_owned(),
        None => mails
            .iter()
            .find_map(|m| m.base_commit.clone())
            .unwrap_or_else(|| "HEAD".to_owned()),
    };
    let base_id = git
        .resolve_commit(&base)
        .with_context(|| "the base of the mbox (give it with --base REV)".to_string())?;
    let mut tree = git.tree(&base_id)?;
    let count = mails.len();
    let mut steps = Vec::new();
    for mail in &mails {
        let label = mail.label(count);
        let name = format!("--mbox {}: {label} `{}`", path.display(), mail.subject);
        let files = patch::parse(&mail.diff).map_err(|e| {
            anyhow!(
                "{name}: malformed patch: {} (mbox line {})",
                e.message,
                mail.diff_line + e.line - 1
            )
        })?;
        let mut after = tree.clone();
        for fp in &files {
            apply_file(git, &mut after, fp).map_err(|e| anyhow!("{name}: {e}"))?;
        }
        // Files that use a header's edited names are looked up in the
        // base: one an earlier patch of the series adds is not found.
        let delta = analyser
            .compare(git, &tree, &after, Some(&base_id))
            .with_context(|| name.clone())?;
        steps.push(Step {
            label,
            commit: mail
                .commit
                .clone()
                .unwrap_or_else(|| format!("patch-{}", mail.number)),
            subject: mail.subject.clone(),
            delta,
        });
        tree = after;
    }
    Ok(steps)
}

/// Applies one file's patch to `tree`; errors name the file and hunk.
fn apply_file(git: &mut Git, tree: &mut Tree, fp: &patch::FilePatch) -> Result<()> {
    for p in fp.old_path.iter().chain(&fp.new_path) {
        patch::check_path(p).map_err(|e| anyhow!("refusing a path that leaves the tree: {e}"))?;
    }
    let name = fp.name().to_owned();
    let old_entry = match &fp.old_path {
        Some(old) => Some(
            tree.get(old)
                .cloned()
                .ok_or_else(|| anyhow!("{old}: the patch changes a file that does not exist"))?,
        ),
        None => {
            if fp.new_path.as_ref().is_some_and(|p| tree.contains_key(p)) {
                bail!("{name}: the patch creates a file that already exists");
            }
            None
        }
    };
    if fp.binary {
        if is_c(&name) || fp.old_path.as_deref().is_some_and(is_c) {
            bail!("{name}: binary patches of C files are not supported");
        }
        if let Some(old) = &fp.old_path {
            if !fp.copy {
                tree.remove(old);
            }
        }
        if let Some(new) = &fp.new_path {
            tree.remove(new);
        }
        return Ok(());
    }
    let old_bytes = match &old_entry {
        Some(e) => git.contents(&e.blob)?,
        None => Arc::new(Vec::new()),
    };
    let new_bytes = if fp.hunks.is_empty() {
        old_bytes.clone()
    } else {
        Arc::new(patch::apply(&old_bytes, fp).map_err(|e| anyhow!("{name}: {e}"))?)
    };
    match &fp.new_path {
        None => {
            if !new_bytes.is_empty() {
                bail!("{name}: the patch deletes the file but does not remove all of its lines");
            }
            if let Some(old) = &fp.old_path {
                tree.remove(old);
            }
        }
        Some(new) => {
            if let Some(old) = &fp.old_path {
                if old != new && !fp.copy {
                    tree.remove(old);
                }
            }
            let mode = fp
                .new_mode
                .clone()
                .or_else(|| old_entry.as_ref().map(|e| e.mode.clone()))
                .unwrap_or_else(|| "100644".to_owned());
            let blob = match (&old_entry, fp.hunks.is_empty()) {
                (Some(e), true) => e.blob.clone(),
                _ => Blob::Mem(new_bytes),
            };
            tree.insert(new.clone(), Entry { mode, blob });
        }
    }
    Ok(())
}

/// Whether `path` is a C source or header.
pub(crate) fn is_c(path: &str) -> bool {
    path.ends_with(".c") || path.ends_with(".h")
}

/// The C paths whose entries differ between two trees.
pub(crate) fn touched(before: &Tree, after: &Tree) -> BTreeSet<String> {
    // One walk over both maps in path order, not a lookup per path.
    use std::cmp::Ordering;
    let c_files = |(path, _): &(&String, &Entry)| is_c(path);
    let mut old = before.iter().filter(c_files).peekable();
    let mut new = after.iter().filter(c_files).peekable();
    let mut out = BTreeSet::new();
    loop {
        let order = match (old.peek().copied(), new.peek().copied()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((a, _)), Some((b, _))) => a.cmp(b),
        };
        match order {
            Ordering::Less => out.extend(old.next().map(|(path, _)| path.clone())),
            Ordering::Greater => out.extend(new.next().map(|(path, _)| path.clone())),
            Ordering::Equal => {
                let (Some((path, x)), Some((_, y))) = (old.next(), new.next()) else {
                    break;
                };
                if x != y {
                    out.insert(path.clone());
                }
            }
        }
    }
    out
}

/// The files to analyse for a change of `touched` between `trees`: the
/// touched files, the other `.c`/`.h` files of their directories, the
/// files of commit `base` (the first tree's, when it is one) that use a
/// name a touched header defines differently in the two trees, and the
/// headers all of those include, in any of the trees.
pub(crate) fn context(
    git: &mut Git,
    trees: &[&Tree],
    touched: &BTreeSet<String>,
    base: Option<&str>,
) -> Result<BTreeSet<String>> {
    let mut out: BTreeSet<String> = touched.clone();
    let users = header_users(git, trees, touched, base)?;
    out.extend(users.iter().cloned());
    let dirs: BTreeSet<&str> = touched
        .iter()
        .map(|p| p.rsplit_once('/').map_or("", |(d, _)| d))
        .collect();
    for tree in trees {
        for dir in &dirs {
            let prefix = if dir.is_empty() {
                String::new()
            } else {
                format!("{dir}/")
            };
            for (path, entry) in tree.range(prefix.clone()..) {
                let Some(rest) = path.strip_prefix(&prefix) else {
                    break;
                };
                if !rest.contains('/') && is_c(path) && entry.is_regular() {
                    out.insert(path.clone());
                }
            }
        }
        let sources: Vec<(&String, &Entry)> = touched
            .iter()
            .chain(&users)
            .filter_map(|p| tree.get_key_value(p))
            .filter(|(_, e)| e.is_regular())
            .collect();
        if sources.is_empty() {
            continue;
        }
        git.prefetch(sources.iter().filter_map(|(_, e)| match &e.blob {
            Blob::Git(oid) => Some(oid.as_str()),
            Blob::Mem(_) => None,
        }))?;
        let resolver = IncludeResolver::new(tree.keys().map(String::as_str));
        for (path, entry) in sources {
            let text = git.contents(&entry.blob)?;
            for (name, system) in includes(&text) {
                for found in resolver.resolve(Path::new(path), &name, system) {
                    let found = found.to_string_lossy().replace('\\', "/");
                    if tree.get(&found).is_some_and(Entry::is_regular) {
                        out.insert(found);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The files of commit `base` that use a name a touched header defines
/// differently in the first and the last of `trees` (a function, macro or
/// record): their functions' verdicts may depend on it.
fn header_users(
    git: &mut Git,
    trees: &[&Tree],
    touched: &BTreeSet<String>,
    base: Option<&str>,
) -> Result<BTreeSet<String>> {
    let (Some(base), Some(first), Some(last)) = (base, trees.first(), trees.last()) else {
        return Ok(BTreeSet::new());
    };
    let mut names: Vec<String> = Vec::new();
    for path in touched.iter().filter(|p| p.ends_with(".h")) {
        let mut text = |tree: &Tree| -> Result<Arc<Vec<u8>>> {
            match tree.get(path).filter(|e| e.is_regular()) {
                Some(entry) => git.contents(&entry.blob),
                None => Ok(Arc::new(Vec::new())),
            }
        };
        let (before, after) = (text(first)?, text(last)?);
        names.extend(lockwarden_syntax::scan::changed_definitions(
            &before, &after,
        ));
    }
    names.sort_unstable();
    names.dedup();
    let users = git.files_using(base, &names)?;
    Ok(users
        .into_iter()
        .filter(|p| {
            is_c(p)
                && trees
                    .iter()
                    .any(|t| t.get(p).is_some_and(Entry::is_regular))
        })
        .collect())
}

/// Runs the checker over file sets of trees, remembering results by content.
pub(crate) struct Analyser {
    pub checker: Checker,
    only: Option<GlobSet>,
    /// `--exclude`: changed files it matches are not checked.
    exclude: GlobSet,
    /// This run's analyses, by the content key of their inputs.
    analysed: HashMap<lockwarden_cache::Key, Arc<Analysed>>,
}

/// What one analysis found.
pub(crate) struct Analysed {
    /// After `--only`, sorted, fingerprints unique.
    pub findings: Vec<Finding>,
    pub summary: Summary,
    /// The analysed files' contents.
    pub sources: BTreeMap<String, Arc<Vec<u8>>>,
}

impl Analyser {
    pub fn new(checker: Checker, only: Option<GlobSet>, exclude: GlobSet) -> Analyser {
        Analyser {
            checker,
            only,
            exclude,
            analysed: HashMap::new(),
        }
    }

    /// Analyses the files of `paths` that exist in `tree`.
    pub fn analyse(
        &mut self,
        git: &mut Git,
        tree: &Tree,
        paths: &BTreeSet<String>,
    ) -> Result<Arc<Analysed>> {
        let entries: Vec<(&String, &Entry)> = paths
            .iter()
            .filter_map(|p| tree.get_key_value(p))
            .filter(|(_, e)| e.is_regular())
            .collect();
        git.prefetch(entries.iter().filter_map(|(_, e)| match &e.blob {
            Blob::Git(oid) => Some(oid.as_str()),
            Blob::Mem(_) => None,
        }))?;
        let mut sources = BTreeMap::new();
        let mut key = lockwarden_cache::KeyBuilder::new("file set");
        for (path, entry) in &entries {
            let bytes = git.contents(&entry.blob)?;
            key.part(path.as_bytes()).part(&bytes);
            sources.insert((*path).clone(), bytes);
        }
        let key = key.finish();
        if let Some(hit) = self.analysed.get(&key) {
            return Ok(hit.clone());
        }
        let files: Vec<(PathBuf, Vec<u8>)> = sources
            .iter()
            .map(|(p, b)| (PathBuf::from(p), b.as_ref().clone()))
            .collect();
        let outcome = match &self.only {
            Some(only) => self
                .checker
                .check_selected(files, &|id: &str| only.is_match(id)),
            None => self.checker.check(files),
        }?;
        let findings: Vec<Finding> = outcome
            .findings
            .into_iter()
            .filter(|f| self.only.as_ref().is_none_or(|g| g.is_match(&f.rule)))
            .collect();
        let mut summary = outcome.summary;
        summary.findings = findings.len();
        let analysed = Arc::new(Analysed {
            findings,
            summary,
            sources,
        });
        if self.analysed.len() > 64 {
            self.analysed.clear();
        }
        self.analysed.insert(key, analysed.clone());
        Ok(analysed)
    }

    /// What changing `before` into `after` introduced and fixed.
    pub fn compare(
        &mut self,
        git: &mut Git,
        before: &Tree,
        after: &Tree,
        base: Option<&str>,
    ) -> Result<Delta> {
        let (delta, _, _) = self.compare_full(git, before, after, base)?;
        Ok(delta)
    }

    /// [`compare`](Self::compare), also returning both analyses (`None` when
    /// no C file changed).
    pub fn compare_full(
        &mut self,
        git: &mut Git,
        before: &Tree,
        after: &Tree,
        base: Option<&str>,
    ) -> Result<(Delta, Option<Arc<Analysed>>, BTreeSet<String>)> {
        let mut touched = touched(before, after);
        touched.retain(|p| !crate::check::is_excluded(&self.exclude, Path::new(p)));
        if touched.is_empty() {
            return Ok((Delta::default(), None, touched));
        }
        let paths = context(git, &[before, after], &touched, base)?;
        let old = self.analyse(git, before, &paths)?;
        let new = self.analyse(git, after, &paths)?;
        // Findings in excluded files (read as context) are not reported.
        let kept =
            |f: &&Finding| !crate::check::is_excluded(&self.exclude, Path::new(&f.location.file));
        let old_fps: HashSet<&str> = old
            .findings
            .iter()
            .map(|f| f.fingerprint.as_str())
            .collect();
        let new_fps: HashSet<&str> = new
            .findings
            .iter()
            .map(|f| f.fingerprint.as_str())
            .collect();
        let delta = Delta {
            introduced: new
                .findings
                .iter()
                .filter(kept)
                .filter(|f| !old_fps.contains(f.fingerprint.as_str()))
                .cloned()
                .collect(),
            fixed: old
                .findings
                .iter()
                .filter(kept)
                .filter(|f| !new_fps.contains(f.fingerprint.as_str()))
                .cloned()
                .collect(),
        };
        Ok((delta, Some(new), touched))
    }
}

/// Renders findings as one report in a machine format.
fn report_text(
    root: &str,
    findings: Vec<Finding>,
    format: Format,
    checker: &Checker,
    options: &RenderOptions,
) -> String {
    let summary = Summary {
        findings: findings.len(),
        ..Summary::default()
    };
    let report = Report {
        root: root.to_owned(),
        findings,
        summary,
    };
    render(
        &report,
        format,
        &checker.rules(),
        &lockwarden_report::NoSources,
        options,
    )
}

/// One element of the `series --format json` array (SPEC.md §2).
#[derive(serde::Serialize)]
struct JsonCommit<'a> {
    commit: &'a str,
    subject: &'a str,
    introduced: Vec<JsonFinding<'a>>,
    fixed: Vec<JsonFinding<'a>>,
}

fn render_steps(
    steps: &[Step],
    format: Format,
    checker: &Checker,
    root: &str,
    options: &RenderOptions,
) -> String {
    match format {
        Format::Human | Format::Gcc => {
            let mut out = String::new();
            let (mut introduced, mut fixed) = (0, 0);
            for step in steps {
                introduced += step.delta.introduced.len();
                fixed += step.delta.fixed.len();
                out.push_str(&format!(
                    "{} {}: {} introduced, {} fixed\n",
                    step.label,
                    step.subject,
                    step.delta.introduced.len(),
                    step.delta.fixed.len()
                ));
                out.push_str(&report_text(
                    root,
                    step.delta.introduced.clone(),
                    Format::Gcc,
                    checker,
                    options,
                ));
                let fixed = report_text(
                    root,
                    step.delta.fixed.clone(),
                    Format::Gcc,
                    checker,
                    options,
                );
                for line in fixed.lines() {
                    out.push_str(&format!("fixed: {line}\n"));
                }
            }
            if format == Format::Human {
                let noun = if steps.len() == 1 { "patch" } else { "patches" };
                out.push_str(&format!(
                    "{} {noun}: {introduced} introduced, {fixed} fixed\n",
                    steps.len()
                ));
            }
            out
        }
        Format::Json => {
            let array: Vec<JsonCommit<'_>> = steps
                .iter()
                .map(|s| JsonCommit {
                    commit: &s.commit,
                    subject: &s.subject,
                    introduced: s.delta.introduced.iter().map(JsonFinding::new).collect(),
                    fixed: s.delta.fixed.iter().map(JsonFinding::new).collect(),
                })
                .collect();
            let mut text = serde_json::to_string_pretty(&array).expect("plain structs serialize");
            text.push('\n');
            text
        }
        Format::Sarif | Format::Github | Format::Codequality => {
            // Every finding introduced by some step and not fixed by a later one.
            let mut open: Vec<Finding> = Vec::new();
            for step in steps {
                let fixed: HashSet<&str> = step
                    .delta
                    .fixed
                    .iter()
                    .map(|f| f.fingerprint.as_str())
                    .collect();
                open.retain(|f| !fixed.contains(f.fingerprint.as_str()));
                for f in &step.delta.introduced {
                    if !open.iter().any(|o| o.fingerprint == f.fingerprint) {
                        open.push(f.clone());
                    }
                }
            }
            report_text(root, open, format, checker, options)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_lines() {
        let text = b"#include <linux/spinlock.h>\n# include \"local.h\"\n#define X\n  #include<a/b.h>\n#include MACRO\n";
        assert_eq!(
            includes(text),
            vec![
                ("linux/spinlock.h".to_owned(), true),
                ("local.h".to_owned(), false),
                ("a/b.h".to_owned(), true)
            ]
        );
    }

    #[test]
    fn touched_paths_are_c_files_that_differ() {
        let entry = |oid: &str| Entry {
            mode: "100644".into(),
            blob: Blob::Git(oid.into()),
        };
        let before: Tree = [("a.c", "1"), ("b.h", "2"), ("README", "3"), ("gone.c", "4")]
            .into_iter()
            .map(|(p, o)| (p.to_owned(), entry(o)))
            .collect();
        let after: Tree = [("a.c", "1"), ("b.h", "9"), ("README", "8"), ("new.c", "5")]
            .into_iter()
            .map(|(p, o)| (p.to_owned(), entry(o)))
            .collect();
        let got: Vec<String> = touched(&before, &after).into_iter().collect();
        assert_eq!(got, ["b.h", "gone.c", "new.c"]);
    }
}
