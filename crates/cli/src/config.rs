//! Loading rule files: the built-in ones, plus `--rules PATH` files or directories.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lockwarden_report::Severity;
use lockwarden_rules::builtin::{self, Config};
use lockwarden_rules::file::RuleFileErrors;
use lockwarden_rules::suppress::BadSuppressions;

/// A rule file problem, already rendered as a miette diagnostic.
#[derive(Debug)]
pub struct RuleFileProblem(pub String);

impl std::fmt::Display for RuleFileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RuleFileProblem {}

/// Prints a command's error: rule-file problems as their diagnostic, bad
/// suppressions one `error:` line each, anything else as one `error:` line.
pub fn print_error(error: &anyhow::Error) {
    if let Some(problem) = error.downcast_ref::<RuleFileProblem>() {
        eprint!("{problem}");
    } else if let Some(BadSuppressions(bad)) = error.downcast_ref::<BadSuppressions>() {
        for suppression in bad {
            eprintln!("error: {suppression}");
        }
        eprintln!("  help: `lockwarden rules` lists the rule ids a suppression may name");
    } else {
        eprintln!("error: {error:#}");
    }
}

/// The built-in configuration extended by every rule file under `extra`
/// (a file named twice is loaded once). The errors of all rule files are
/// reported together.
pub fn load(extra: &[PathBuf]) -> Result<Config> {
    let mut config = builtin::config().map_err(problem)?;
    let mut seen = std::collections::HashSet::new();
    let mut files = Vec::new();
    for path in extra {
        for file in rule_files(path)? {
            if !seen.insert(std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone())) {
                continue;
            }
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read rule file {}", file.display()))?;
            files.push((file.display().to_string(), text));
        }
    }
    config
        .add_all(
            files
                .iter()
                .map(|(name, text)| (name.as_str(), text.as_str())),
        )
        .map_err(problem)?;
    Ok(config)
}

/// Every error of the rule files as one [`RuleFileProblem`]: each diagnostic,
/// then how many there were when more than one.
fn problem(errors: RuleFileErrors) -> anyhow::Error {
    let mut text: String = errors.0.iter().map(|e| render(e)).collect();
    if errors.0.len() > 1 {
        text.push_str(&format!(
            "error: {} errors in the rule files\n",
            errors.0.len()
        ));
    }
    anyhow::Error::new(RuleFileProblem(text))
}

/// Renders a diagnostic deterministically (no colour) for the terminal.
fn render(diagnostic: &dyn miette::Diagnostic) -> String {
    let mut out = String::new();
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    if handler.render_report(&mut out, diagnostic).is_err() {
        return diagnostic.to_string();
    }
    out
}

/// A rule file, or the `*.toml` files of a directory, sorted.
fn rule_files(path: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read --rules {}", path.display()))?;
    if meta.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)
        .with_context(|| format!("cannot read --rules {}", path.display()))?
    {
        let p = entry?.path();
        if p.extension().is_some_and(|e| e == "toml") {
            files.push(p);
        }
    }
    if files.is_empty() {
        bail!("--rules {}: no *.toml rule files there", path.display());
    }
    files.sort();
    Ok(files)
}

/// `--only` as a set of globs (`None`: every rule). Each value may be a
/// comma list (`--only lock/*,balloon/*`); a pattern that matches none of
/// `rules` is an error naming the closest rule id, so a typo never makes a
/// run that checks nothing.
pub(crate) fn only_set(
    patterns: &[String],
    rules: &[lockwarden_report::RuleInfo],
) -> Result<Option<globset::GlobSet>> {
    let patterns: Vec<&str> = patterns
        .iter()
        .flat_map(|p| p.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = globset::GlobSetBuilder::new();
    for p in &patterns {
        let glob = globset::Glob::new(p).with_context(|| format!("bad --only glob `{p}`"))?;
        let matcher = glob.compile_matcher();
        if !rules.iter().any(|r| matcher.is_match(&r.id)) {
            // Rule ids and their families (`lock/*`).
            let candidates = rules.iter().flat_map(|r| {
                let family = r.id.split_once('/').map(|(f, _)| format!("{f}/*"));
                std::iter::once(r.id.clone()).chain(family)
            });
            let closest = candidates
                .min_by_key(|c| edit_distance(p, c))
                .map(|c| format!("\n  help: did you mean `{c}`? (`lockwarden rules` lists them)"))
                .unwrap_or_default();
            anyhow::bail!("--only `{p}` matches no rule{closest}");
        }
        builder.add(glob);
    }
    Ok(Some(builder.build()?))
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// The name of the project configuration file, looked for at the root.
pub const PROJECT_FILE: &str = ".lockwarden.toml";

/// `.lockwarden.toml`: defaults for `check`, `check --staged` (and so the
/// hook) and `series`. Every key is optional; a key also given on the
/// command line is replaced by the flag (a list by the flag's list, never
/// merged). Paths are relative to the file's directory.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProjectFile {
    rules: Option<Vec<PathBuf>>,
    only: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    baseline: Option<PathBuf>,
    fail_on: Option<String>,
}

/// The command-line values of the keys a [`ProjectFile`] may set.
pub struct Flags<'a> {
    pub rules: &'a [PathBuf],
    pub only: &'a [String],
    pub exclude: &'a [String],
    pub baseline: Option<&'a Path>,
    pub fail_on: Option<Severity>,
}

/// What a run uses: the flags, else `.lockwarden.toml`, else the defaults.
#[derive(Debug)]
pub struct Settings {
    pub rules: Vec<PathBuf>,
    pub only: Vec<String>,
    pub exclude: Vec<String>,
    pub baseline: Option<PathBuf>,
    pub fail_on: Severity,
}

/// `dir/.lockwarden.toml` (none there: every key unset). An unknown key or
/// a bad value is an error naming the file.
pub fn project_file(dir: &Path) -> Result<ProjectFile> {
    let path = dir.join(PROJECT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ProjectFile::default()),
        Err(e) => bail!("cannot read {}: {e}", path.display()),
    };
    let mut file: ProjectFile = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
    if let Some(level) = &file.fail_on {
        severity(level).map_err(|e| anyhow::anyhow!("{}: fail-on: {e}", path.display()))?;
    }
    if let Some(rules) = &mut file.rules {
        for rule in rules.iter_mut() {
            *rule = dir.join(&*rule);
        }
    }
    if let Some(baseline) = &mut file.baseline {
        *baseline = dir.join(&*baseline);
    }
    Ok(file)
}

/// A severity by the name every output format uses (`--fail-on`).
pub fn severity(name: &str) -> std::result::Result<Severity, String> {
    Severity::ALL
        .into_iter()
        .find(|s| s.as_str() == name)
        .ok_or_else(|| format!("`{name}` is not note, warning or error"))
}

impl ProjectFile {
    /// The settings of a run: each flag given replaces the file's key.
    pub fn resolve(self, flags: Flags<'_>) -> Settings {
        fn list<T: Clone>(flag: &[T], file: Option<Vec<T>>) -> Vec<T> {
            if flag.is_empty() {
                file.unwrap_or_default()
            } else {
                flag.to_vec()
            }
        }
        Settings {
            rules: list(flags.rules, self.rules),
            only: list(flags.only, self.only),
            exclude: list(flags.exclude, self.exclude),
            baseline: flags.baseline.map(Path::to_path_buf).or(self.baseline),
            fail_on: flags
                .fail_on
                .or_else(|| self.fail_on.and_then(|l| severity(&l).ok()))
                .unwrap_or(Severity::Warning),
        }
    }
}
