//! The check pipeline: sources in, findings out — read the suppressions,
//! parse and lower, solve bottom-up, run the rules, drop suppressed findings
//! and note the suppressions that suppressed nothing.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use lockwarden_cache::{Cache, Key, KeyBuilder};
use lockwarden_flow::analysis::Visitor;
use lockwarden_flow::{analyze, analyze_with, build, build_with, Analysis, LockApi, LoweredCache};
use lockwarden_report::{
    dedup_fingerprints, sort_findings, Finding, LineIndex, RuleInfo, Summary, Unanalysed,
};
use lockwarden_syntax::CompiledMacros;
use lockwarden_syntax::Span;
use rayon::prelude::*;

use crate::builtin::Config;
use crate::file::RuleSet;
use crate::lock::FactVisitor;

use crate::suppress::{BadSuppressions, Suppressions, UNUSED_ID};

/// Compiled configuration: the macro vocabulary and the lock API.
pub struct Checker {
    macros: CompiledMacros,
    api: LockApi,
    rules: RuleSet,
    /// The key of the rule files.
    config_key: Key,
    /// Where lowered files and check results are kept between runs, with the
    /// stamp every entry's key includes.
    cache: Option<(Arc<dyn Cache>, Key)>,
}

/// What a check produced.
pub struct Outcome {
    /// Sorted by file and position, fingerprints unique, suppressions
    /// applied, with a note for each suppression that suppressed nothing.
    pub findings: Vec<Finding>,
    pub summary: Summary,
    /// The text of each file a finding or one of its labels points into, by
    /// root-relative path.
    pub sources: BTreeMap<String, Vec<u8>>,
    /// The key the findings are kept under between runs (with a cache):
    /// [`Checker::cached_outcome`] gives them back by it.
    pub results_key: Option<Key>,
    /// The content key ([`text_key`]) of each file checked, in the order
    /// given, when the results key was made of them.
    pub text_keys: Vec<(PathBuf, Key)>,
}

/// The content key of a file's text: the results key is made of these.
pub fn text_key(text: &[u8]) -> Key {
    lockwarden_cache::key_of("text", text)
}

/// Entry kind of a check's findings and summary in the cache, kept as the
/// JSON of `(findings, summary)` (the report's own serialisation).
const RESULTS: &str = "results";

impl Checker {
    pub fn new(config: Config) -> Checker {
        Checker {
            config_key: config.key(),
            macros: config.syntax.compile(),
            api: config.locks.compile(),
            rules: config.rules,
            cache: None,
        }
    }

    /// The stamp of a cache generation for this configuration run by the
    /// program build `build` (see [`lockwarden_cache::DiskCache`]).
    pub fn cache_stamp(&self, build: &Key) -> Key {
        KeyBuilder::new("stamp")
            .key(build)
            .key(&self.config_key)
            .finish()
    }

    /// Keeps lowered files and check results in `store`, under `stamp`
    /// (from [`Checker::cache_stamp`]).
    pub fn with_cache(mut self, store: Arc<dyn Cache>, stamp: Key) -> Checker {
        self.cache = Some((store, stamp));
        self
    }

    /// The documentation of every rule this checker runs.
    pub fn rules(&self) -> Vec<RuleInfo> {
        rules_of(&self.rules)
    }

    /// The rule-file rules, with their documentation.
    pub fn rule_set(&self) -> &RuleSet {
        &self.rules
    }

    /// Parses, lowers and solves `files`, with `visitor` reading each
    /// function's solved states; no rule runs.
    pub fn analyze<V: Visitor>(
        &self,
        files: Vec<(PathBuf, Vec<u8>)>,
        visitor: &V,
    ) -> Analysis<V::Output> {
        analyze(build(files, &self.macros, &self.api), &self.api, visitor)
    }

    /// Checks `files` (paths relative to the root, contents) with every rule;
    /// an error, before any analysis, when a suppression names no rule or an
    /// unknown one.
    pub fn check(&self, files: Vec<(PathBuf, Vec<u8>)>) -> Result<Outcome, BadSuppressions> {
        self.check_selected(files, &|_| true)
    }

    /// Checks `files` with the rules whose id `selected` accepts. When only
    /// scoped rule-file rules are selected, just the files they need are
    /// analysed: their scopes and what those call, transitively.
    pub fn check_selected(
        &self,
        files: Vec<(PathBuf, Vec<u8>)>,
        selected: &dyn Fn(&str) -> bool,
    ) -> Result<Outcome, BadSuppressions> {
        let start = Instant::now();
        let known: Vec<String> = self.rules().into_iter().map(|r| r.id).collect();
        let text_keys: Vec<(PathBuf, Key)> = match self.cache {
            Some(_) => files
                .par_iter()
                .map(|(path, text)| (path.clone(), text_key(text)))
                .collect(),
            None => Vec::new(),
        };
        let results_key = self
            .cache
            .as_ref()
            .map(|(_, stamp)| results_key(stamp, &known, selected, &text_keys));
        let mut suppressions = Suppressions::parse(&files, known.into_iter().collect())?;
        if let Some(mut outcome) = results_key.as_ref().and_then(|key| {
            self.cached_outcome(key, start, |wanted| {
                files
                    .iter()
                    .map(|(path, text)| (path.to_string_lossy().replace('\\', "/"), text))
                    .filter(|(path, _)| wanted.contains(path.as_str()))
                    .map(|(path, text)| (path, text.clone()))
                    .collect()
            })
        }) {
            outcome.text_keys = text_keys;
            return Ok(outcome);
        }
        let core_selected = crate::lock::rules().iter().any(|r| selected(&r.id));
        let rule_set = self.rules.selected(selected);
        let files = if core_selected {
            files
        } else {
            closure(files, &rule_set)
        };
        let lowered = self.cache.as_ref().map(|(store, stamp)| LoweredCache {
            store: store.as_ref(),
            stamp: *stamp,
        });
        let program = build_with(files, &self.macros, &self.api, lowered);
        let analysis = analyze_with(
            program,
            &self.api,
            &FactVisitor,
            self.cache.as_ref().map(|(store, _)| store.as_ref()),
        );
        let evidence = if core_selected {
            crate::policy::caller_evidence(&analysis)
        } else {
            Default::default()
        };
        let core = if core_selected {
            crate::lock::check(&analysis, &evidence)
        } else {
            Vec::new()
        };
        let mut findings: Vec<Finding> = core
            .into_iter()
            .chain(crate::mission::check(&analysis, &rule_set))
            .filter(|f| selected(&f.rule))
            .collect();
        suppressed_and_sorted(
            &mut findings,
            &mut suppressions,
            &analysis.program,
            selected,
        );
        dedup_fingerprints(&mut findings);
        let files = &analysis.program.files;
        let summary = Summary {
            files: files.len(),
            functions: files.iter().map(|f| f.functions_counted).sum(),
            functions_with_parse_errors: files.iter().map(|f| f.functions_with_errors).sum(),
            findings: findings.len(),
            elapsed_ms: start.elapsed().as_millis(),
            incomplete: unanalysed(&analysis),
        };
        if let (Some((store, _)), Some(key)) = (&self.cache, &results_key) {
            if let Ok(bytes) = serde_json::to_vec(&(&findings, &summary)) {
                store.put(RESULTS, key, &bytes);
            }
            // A file of a run that checked every function can be checked
            // again alone.
            if core_selected {
                let scoped = crate::mission::in_any_scope(&analysis, &rule_set);
                crate::delta::keep(
                    store.as_ref(),
                    key,
                    &analysis,
                    &|i| crate::lock::given(&analysis, &evidence, i),
                    &scoped,
                    &findings,
                );
            }
        }
        let sources = sources_in(&findings, |wanted| analysis.program.sources_of(wanted));
        Ok(Outcome {
            findings,
            summary,
            sources,
            results_key,
            text_keys,
        })
    }

    /// The outcome of checking the files of `text_keys` (root-relative
    /// path and content key, in order) with the rules `selected` accepts,
    /// when the last check of them, kept under `old`, differed only in
    /// the `.c` file `path`, whose text is now `text`: that check's
    /// findings with the file's replaced by its new ones, when the file can
    /// be checked alone (see [`crate::delta`]); why not, when the whole
    /// check must run. `texts_of` gives the texts of the files the findings
    /// point into.
    pub fn recheck_one(
        &self,
        old: &Key,
        path: &std::path::Path,
        text: Vec<u8>,
        text_keys: Vec<(PathBuf, Key)>,
        selected: &dyn Fn(&str) -> bool,
        texts_of: impl FnOnce(&HashSet<&str>) -> BTreeMap<String, Vec<u8>>,
    ) -> Result<Outcome, crate::delta::Why> {
        let start = Instant::now();
        let (store, stamp) = self.cache.as_ref().ok_or("no cache")?;
        if !crate::lock::rules().iter().any(|r| selected(&r.id)) {
            return Err("only rule-file rules run".into());
        }
        let known: Vec<String> = self.rules().into_iter().map(|r| r.id).collect();
        let results = results_key(stamp, &known, selected, &text_keys);
        let old_outcome: (Vec<Finding>, Summary) = store
            .get(RESULTS, old)
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or("the last check's findings are not kept")?;
        let mut suppressions = Suppressions::parse(&[(path.to_owned(), text.clone())], known)
            .map_err(|_| "a suppression in it is malformed")?;
        let setup = crate::delta::Setup {
            store: store.as_ref(),
            stamp: *stamp,
            macros: &self.macros,
            api: &self.api,
        };
        let report_path = path.to_string_lossy().replace('\\', "/");
        let (rechecked, update) = crate::delta::solve_alone(&setup, old, &report_path, text)?;
        let analysis = &rechecked.analysis;
        let mut found: Vec<Finding> =
            crate::lock::check_given(analysis, &|i| rechecked.given[i].clone())
                .into_iter()
                .filter(|f| selected(&f.rule))
                .collect();
        suppressed_and_sorted(&mut found, &mut suppressions, &analysis.program, selected);
        let pointed = crate::delta::pointed_into(&found, &report_path);
        let (findings, mut summary) = crate::delta::merge(
            old_outcome,
            &report_path,
            rechecked.old_counts,
            &analysis.program.files[0],
            found,
            unanalysed(analysis),
        );
        if let Ok(bytes) = serde_json::to_vec(&(&findings, &summary)) {
            store.put(RESULTS, &results, &bytes);
        }
        update.keep(store.as_ref(), &results, &pointed);
        summary.elapsed_ms = start.elapsed().as_millis();
        Ok(Outcome {
            sources: sources_in(&findings, texts_of),
            findings,
            summary,
            results_key: Some(results),
            text_keys,
        })
    }

    /// The outcome a check kept under `key` ([`Outcome::results_key`]), if
    /// there is a whole one, timed from `start`; `texts_of` gives the texts
    /// of the files its findings point into, by path.
    pub fn cached_outcome(
        &self,
        key: &Key,
        start: Instant,
        texts_of: impl FnOnce(&HashSet<&str>) -> BTreeMap<String, Vec<u8>>,
    ) -> Option<Outcome> {
        let (store, _) = self.cache.as_ref()?;
        let (findings, mut summary): (Vec<Finding>, Summary) =
            serde_json::from_slice(&store.get(RESULTS, key)?).ok()?;
        summary.elapsed_ms = start.elapsed().as_millis();
        Some(Outcome {
            sources: sources_in(&findings, texts_of),
            findings,
            summary,
            results_key: Some(*key),
            text_keys: Vec::new(),
        })
    }

    /// Where this checker keeps entries between runs, if anywhere.
    pub fn store(&self) -> Option<&dyn Cache> {
        self.cache.as_ref().map(|(store, _)| store.as_ref())
    }
}

/// Drops the `findings` a suppression covers, adds a note for each
/// suppression of `program`'s files that covered none (when that rule
/// runs), sorts them and drops repeats.
fn suppressed_and_sorted(
    findings: &mut Vec<Finding>,
    suppressions: &mut Suppressions,
    program: &lockwarden_flow::Program,
    selected: &dyn Fn(&str) -> bool,
) {
    suppressions.apply(findings, program);
    if selected(UNUSED_ID) {
        findings.extend(suppressions.unused(program, selected));
    }
    sort_findings(findings);
    findings
        .dedup_by(|a, b| a.rule == b.rule && a.location == b.location && a.message == b.message);
}

/// The key a check's findings are kept under: the configuration stamp,
/// the rules `selected` accepts of `known`, and every file's path and
/// content key, in order.
fn results_key(
    stamp: &Key,
    known: &[String],
    selected: &dyn Fn(&str) -> bool,
    text_keys: &[(PathBuf, Key)],
) -> Key {
    let mut key = KeyBuilder::new(RESULTS);
    key.key(stamp);
    for id in known.iter().filter(|id| selected(id)) {
        key.part(id.as_bytes());
    }
    for (path, text) in text_keys {
        key.part(path.as_os_str().as_encoded_bytes()).key(text);
    }
    key.finish()
}

/// The texts of the files `findings` point into, from `texts_of` (given
/// those files' paths).
fn sources_in(
    findings: &[Finding],
    texts_of: impl FnOnce(&HashSet<&str>) -> BTreeMap<String, Vec<u8>>,
) -> BTreeMap<String, Vec<u8>> {
    let wanted: HashSet<&str> = findings
        .iter()
        .flat_map(|f| std::iter::once(&f.location).chain(f.labels.iter().map(|l| &l.location)))
        .map(|l| l.file.as_str())
        .collect();
    texts_of(&wanted)
}

/// The functions whose findings may be missing, and the files not parsed
/// at all, sorted (SPEC.md §2 `summary.incomplete`).
fn unanalysed<O>(analysis: &Analysis<O>) -> Vec<Unanalysed> {
    let program = &analysis.program;
    let mut by_file: std::collections::BTreeMap<usize, Vec<(Span, &str, &str)>> =
        Default::default();
    for (f, result) in program.functions.iter().zip(&analysis.results) {
        let reason = if f.parse_errors > 0 {
            "parse errors"
        } else if let Some(why) = result.incomplete {
            why.reason()
        } else {
            continue;
        };
        if !f.is_macro {
            by_file
                .entry(f.file)
                .or_default()
                .push((f.span, f.name.as_str(), reason));
        }
    }
    let mut out = Vec::new();
    for (i, file) in program.files.iter().enumerate() {
        let path = file.report_path();
        if file.failed {
            out.push(Unanalysed {
                file: path.clone(),
                line: 1,
                function: String::new(),
                reason: "not parsed".to_owned(),
            });
        }
        let functions = by_file.get(&i);
        if functions.is_none() && file.stray_bodies.is_empty() {
            continue;
        }
        let source = file.source();
        let lines = LineIndex::new(&source);
        for body in &file.stray_bodies {
            let (start, name) = header_before(&source, body.start as usize);
            // A block after `if (…)` or `while (…)` is a statement cut from
            // its function (often a macro's body), not a function.
            if matches!(
                name.as_str(),
                "if" | "while" | "for" | "switch" | "return" | "sizeof" | ""
            ) {
                continue;
            }
            out.push(Unanalysed {
                file: path.clone(),
                line: lines.line_col(start as u32).0,
                function: name,
                reason: "function header not parsed".to_owned(),
            });
        }
        for &(span, name, reason) in functions.into_iter().flatten() {
            out.push(Unanalysed {
                file: path.clone(),
                line: lines.line_col(span.start).0,
                function: name.to_owned(),
                reason: reason.to_owned(),
            });
        }
    }
    out.sort();
    out
}

/// Where the header of a function body at `body` starts (after the last
/// `;`, `}` or preprocessor line before it) and the name it most likely
/// declares: the first identifier followed by `(`.
fn header_before(source: &[u8], body: usize) -> (usize, String) {
    let before = &source[..body.min(source.len())];
    let mut start = before
        .iter()
        .rposition(|&b| b == b';' || b == b'}')
        .map_or(0, |p| p + 1);
    // Skip the blank lines and directives between that end and the header.
    while let Some(eol) = before[start..].iter().position(|&b| b == b'\n') {
        let line = before[start..start + eol].trim_ascii();
        if !line.is_empty() && !line.starts_with(b"#") && !line.starts_with(b"//") {
            break;
        }
        start += eol + 1;
    }
    let header = String::from_utf8_lossy(&before[start..]);
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let name = header
        .match_indices('(')
        .find_map(|(at, _)| {
            let before_paren = header[..at].trim_end();
            let word = &before_paren[before_paren.trim_end_matches(is_word).len()..];
            (!word.is_empty() && !word.starts_with(|c: char| c.is_ascii_digit())).then_some(word)
        })
        .unwrap_or_default()
        .to_owned();
    (start, name)
}

/// The files `set`'s scopes cover, and every file defining a function they
/// call, transitively.
fn closure(files: Vec<(PathBuf, Vec<u8>)>, set: &RuleSet) -> Vec<(PathBuf, Vec<u8>)> {
    use std::collections::HashMap;
    let names: Vec<String> = files
        .iter()
        .map(|(p, _)| p.to_string_lossy().replace('\\', "/"))
        .collect();
    let scans: Vec<(Vec<String>, Vec<String>)> = files
        .par_iter()
        .map(|(_, bytes)| lockwarden_syntax::scan::defined_and_called(bytes))
        .collect();
    let mut defined_in: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, (defined, _)) in scans.iter().enumerate() {
        for name in defined {
            defined_in.entry(name.as_str()).or_default().push(i);
        }
    }
    // Breadth first, as deep as the deepest callee chain a rule reports, plus
    // one level for the summaries of what those callees call.
    let depth = set.rules.iter().map(|r| r.max_depth).max().unwrap_or(0) + 1;
    let mut keep = vec![false; files.len()];
    let mut level: Vec<usize> = (0..files.len())
        .filter(|&i| set.covers_file(&names[i]))
        .collect();
    for &i in &level {
        keep[i] = true;
    }
    for _ in 0..depth {
        let mut next = Vec::new();
        for &i in &level {
            for name in &scans[i].1 {
                for &j in defined_in.get(name.as_str()).into_iter().flatten() {
                    if !keep[j] {
                        keep[j] = true;
                        next.push(j);
                    }
                }
            }
        }
        level = next;
    }
    files
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(f, _)| f)
        .collect()
}

/// The documentation of every rule a checker of `config` runs: the built-in
/// lock rules, the rule files' rules and `lockwarden/unused-suppression`.
pub fn rules_of(set: &RuleSet) -> Vec<RuleInfo> {
    let mut rules = crate::lock::rules();
    rules.extend(crate::mission::rules(set));
    rules.push(crate::suppress::unused_info());
    rules
}

#[cfg(test)]
mod tests {
    use super::header_before;

    #[test]
    fn a_stray_body_is_named_by_its_header() {
        let src = b"int a;\n\n#ifdef X\nstatic int __init FOO(bar)(int x, struct y *p)\n{\n\treturn 0;\n}\n";
        let body = src.iter().position(|&b| b == b'{').unwrap();
        let (start, name) = header_before(src, body);
        assert_eq!(name, "FOO");
        assert!(src[start..].starts_with(b"static int __init"));
        assert_eq!(header_before(b"{ }", 0), (0, String::new()));
    }
}
