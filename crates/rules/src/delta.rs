//! A re-check after one `.c` file changed, without the rest of the
//! program: the whole run's answers about the rest, kept per file, and
//! the file solved and checked alone.
//!
//! A whole run with a cache keeps, beside its findings, a record of what
//! its verdicts on each `.c` file C read from the rest of the program, and
//! what the rest read from C ([`FileDigest`]). After an edit of C alone,
//! the whole run's answer is the old findings outside C and C's new
//! findings, when:
//!
//! - C adds to the program's tables what it did
//!   ([`lockwarden_flow::analysis::tables_key`]), references the functions
//!   rule-file rules scope as it did, and stores the same functions
//!   annotated to release a lock in fields: every question about the rest
//!   of the program gets the answer it got;
//! - each function of C, solved again, asks only questions the last run's
//!   solves of C asked ([`lockwarden_flow::replay`]);
//! - what the rest of the program reads of C's functions comes out as
//!   before: their summaries, calls and handling of their callees' locks
//!   (the exports key). Then no other function's result or context changes;
//! - no rule-file rule scopes a function of C, and no finding outside C
//!   points into it (its lines would move with C's).
//!
//! C's findings come from the lock rules over its functions, each with what
//! the whole run gave it ([`Given`]); its suppressions apply to them. When a
//! condition fails, the caller runs the whole check.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use lockwarden_cache::{key_of, Cache, Key, KeyBuilder};
use lockwarden_flow::analysis::{
    lower_one, lowered_entry, tables_key, Analysis, FileUnit, FunctionResult, FunctionUnit,
    HeaderMacros, LoweredCache, Program,
};
use lockwarden_flow::memo::{
    keep_file, kept_traces, summary_key, summary_seen_key, traces_key, Callees, Trace,
};
use lockwarden_flow::replay::{solve_file, AboutLocks, Answers, FunctionNames, Unanswered};
use lockwarden_flow::summary::Summary;
use lockwarden_report::{dedup_fingerprints, sort_findings, Finding, Summary as ReportSummary};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::lock::{FactVisitor, FunctionFacts, Given};

/// Entry kinds: a whole run's record (by its results key); a file's
/// digest, the header macros and the filter of function names (by
/// content).
const RUN: &str = "run";
const DIGEST: &str = "digest";
const HEADERS: &str = "headers";
const NAMES: &str = "names";

/// Keeps `value` under the key of its bytes (unless it is kept already);
/// the key.
fn keep_by_content<T: Serialize>(store: &dyn Cache, kind: &str, value: &T) -> Option<Key> {
    let bytes = postcard::to_allocvec(value).ok()?;
    let key = key_of(kind, &bytes);
    if !store.contains(kind, &key) {
        store.put(kind, &key, &bytes);
    }
    Some(key)
}

/// What a whole run keeps for re-checking one of its `.c` files alone.
#[derive(Serialize, Deserialize)]
struct RunRecord {
    /// The key of the header macros every file was lowered with.
    headers: Key,
    /// The functions a rule-file rule scopes, by name: references to them
    /// are asked about.
    scoped: Vec<String>,
    /// The functions annotated to release a lock of their callers': which
    /// field stores them is asked about.
    releasing: Vec<String>,
    /// Each `.c` file's digest, by path.
    files: Vec<(String, Key)>,
    /// The key of the filter of the program's function names.
    names: Key,
    /// Which globals are named locks, and what the functions stored in
    /// each field release.
    named_locks: Vec<(String, String)>,
    released_through_fields: Vec<(String, Vec<String>)>,
}

/// What one file's verdicts read of the rest of the program, and what the
/// rest read of it, in the whole run.
#[derive(Serialize, Deserialize)]
struct FileDigest {
    /// The key its lowering (and its functions' results) are kept under.
    lowered: Key,
    /// The key of its functions' traces ([`traces_key`]).
    traces: Key,
    /// The key of what the rest of the program reads of its functions.
    exports: Key,
    /// What the program gave each of its functions.
    given: Vec<Given>,
    /// The callee summaries its traces name by key, with their values.
    summaries: Vec<(Key, Summary)>,
    /// A rule-file rule scopes one of its functions, or a finding in
    /// another file points into it.
    pinned: bool,
    /// The counters and signals of its directory.
    counters_here: Vec<String>,
    signals_here: Vec<String>,
    /// Its groups of functions that call each other, by position in the
    /// file, each in the order the run solved it.
    groups: Vec<Vec<u32>>,
}

/// The key of what the rest of the program reads of a file's functions,
/// each with its result and the trace of its solve: each one's name,
/// whether it is a quiet leaf, what its summary tells callers, the callees
/// it calls that exist and are not quiet (the trace says which do not
/// exist), and how it handles the locks its callees leave held (their
/// evidence).
fn exports_key<'a>(
    functions: impl Iterator<
        Item = (
            &'a FunctionUnit,
            &'a FunctionResult<FunctionFacts>,
            &'a HashSet<String>,
        ),
    >,
    quiet: &dyn Fn(&str) -> bool,
    api: &lockwarden_flow::LockApi,
) -> Key {
    let mut key = KeyBuilder::new("exports");
    for (f, r, unresolved) in functions {
        key.part(f.name.as_bytes())
            .part(&[u8::from(quiet_one(f, r, unresolved, api))])
            .key(&summary_seen_key(&r.summary))
            .key(&f.calls_key(&|callee| unresolved.contains(callee) || quiet(callee)))
            .part(&postcard::to_allocvec(&r.visited.handling).unwrap_or_default());
    }
    key.finish()
}

/// The names of `file`'s references that are in `names`, sorted.
fn references_among(file: &FileUnit, names: &HashSet<&str>) -> Vec<String> {
    let mut out: Vec<String> = file
        .references
        .keys()
        .filter(|n| names.contains(n.as_str()))
        .cloned()
        .collect();
    out.sort();
    out
}

/// What `file` stores in fields of the functions in `names`, sorted.
fn stored_among(file: &FileUnit, names: &HashSet<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = file
        .stored_in_fields
        .iter()
        .filter(|(_, n)| names.contains(n.as_str()))
        .cloned()
        .collect();
    out.sort();
    out
}

/// Keeps what a whole run of `analysis` (`findings` its findings, `given`
/// what each function was given, `scoped` which functions a rule-file rule
/// scopes) needs to re-check one of its `.c` files alone, under its
/// results key `results`.
pub(crate) fn keep(
    store: &dyn Cache,
    results: &Key,
    analysis: &Analysis<FunctionFacts>,
    given: &(dyn Fn(usize) -> Given + Sync),
    scoped: &[bool],
    findings: &[Finding],
) {
    let program = &analysis.program;
    let facts = &analysis.facts;
    if analysis.traces.len() != program.functions.len() {
        return;
    }
    let Some(headers_key) = keep_by_content(store, HEADERS, &program.headers) else {
        return;
    };
    let quiet = quiet_names(analysis, scoped);
    let names = FunctionNames::of(program.function_names())
        .with_quiet(quiet.iter().map(|(p, n)| (*p, n.as_str())));
    let Some(names_key) = keep_by_content(store, NAMES, &names) else {
        return;
    };
    let mut by_file: Vec<Vec<usize>> = vec![Vec::new(); program.files.len()];
    for (i, f) in program.functions.iter().enumerate() {
        by_file[f.file].push(i);
    }
    let mut pinned: HashSet<String> = findings
        .iter()
        .flat_map(|f| {
            f.labels
                .iter()
                .map(|l| &l.location.file)
                .filter(move |file| **file != f.location.file)
        })
        .cloned()
        .collect();
    let mut scoped_names: Vec<String> = Vec::new();
    for (i, f) in program.functions.iter().enumerate() {
        if scoped[i] {
            pinned.insert(program.files[f.file].report_path());
            scoped_names.push(f.name.clone());
        }
    }
    scoped_names.sort();
    scoped_names.dedup();
    let by_key: HashMap<Key, usize> = analysis
        .summary_keys
        .iter()
        .enumerate()
        .filter_map(|(i, k)| Some(((*k)?, i)))
        .collect();
    let mut groups_by_file: HashMap<usize, Vec<&Vec<usize>>> = HashMap::new();
    for group in &analysis.groups {
        groups_by_file
            .entry(program.functions[group[0]].file)
            .or_default()
            .push(group);
    }
    let files: Vec<(String, Key)> = program
        .files
        .par_iter()
        .enumerate()
        .filter(|(_, file)| file.path.extension().is_some_and(|e| e == "c"))
        .filter_map(|(index, file)| {
            let functions = &by_file[index];
            let callees: Vec<Callees> = functions
                .iter()
                .map(|&i| analysis.traces[i].callees())
                .collect();
            let summaries = Answers::summaries_named(callees.iter())
                .into_iter()
                .filter_map(|k| Some((k, analysis.results[*by_key.get(&k)?].summary.clone())))
                .collect();
            let path = file.report_path();
            let digest = FileDigest {
                lowered: file.memo_key()?,
                traces: traces_key(functions.iter().map(|&i| &analysis.traces[i])),
                exports: exports_key(
                    functions.iter().zip(&callees).map(|(&i, c)| {
                        (&program.functions[i], &analysis.results[i], &c.unresolved)
                    }),
                    &|name| quiet.contains(&(file.program, name.to_owned())),
                    &analysis.api,
                ),
                given: functions.iter().map(|&i| given(i)).collect(),
                summaries,
                pinned: pinned.contains(&path),
                counters_here: sorted_names(file.path.parent().and_then(|d| facts.counters.get(d))),
                signals_here: sorted_names(file.path.parent().and_then(|d| facts.signals.get(d))),
                groups: groups_in(
                    functions,
                    groups_by_file.get(&index).map_or(&[][..], Vec::as_slice),
                ),
            };
            Some((path, keep_by_content(store, DIGEST, &digest)?))
        })
        .collect();
    let mut releasing: Vec<String> = program
        .functions
        .iter()
        .filter(|f| program.releases_by_annotation(f))
        .map(|f| f.name.clone())
        .collect();
    releasing.sort();
    releasing.dedup();
    let mut named_locks: Vec<(String, String)> = facts
        .named_locks
        .iter()
        .map(|(g, n)| (g.clone(), n.clone()))
        .collect();
    named_locks.sort();
    let record = RunRecord {
        headers: headers_key,
        scoped: scoped_names,
        releasing,
        files,
        names: names_key,
        named_locks,
        released_through_fields: program.released_through_fields(),
    };
    if let Ok(bytes) = postcard::to_allocvec(&record) {
        store.put(RUN, results, &bytes);
    }
}

/// Whether function `f` (solved as `r`, its solve learning that the
/// callees in `unresolved` have no summary) is a quiet leaf: the empty
/// summary, nothing the rules report (no lock event, no exit fact), every
/// callee and callback one that has none, and not a lock primitive's
/// implementation. Scopes and visibility aside.
fn quiet_one(
    f: &FunctionUnit,
    r: &FunctionResult<FunctionFacts>,
    unresolved: &HashSet<String>,
    api: &lockwarden_flow::LockApi,
) -> bool {
    quiet_body(f, r, api) && calls_nothing(f, unresolved)
}

/// [`quiet_one`] but for its calls.
fn quiet_body(
    f: &FunctionUnit,
    r: &FunctionResult<FunctionFacts>,
    api: &lockwarden_flow::LockApi,
) -> bool {
    r.summary == Summary::default()
        && r.exits.is_empty()
        && r.visited.events.is_empty()
        && api.primitive(&f.name).is_none()
}

/// Whether every callee and callback of `f` is in `unresolved`.
fn calls_nothing(f: &FunctionUnit, unresolved: &HashSet<String>) -> bool {
    f.call_sites().iter().all(|c| {
        c.callee
            .iter()
            .chain(&c.passed)
            .all(|n| unresolved.contains(n))
    })
}

/// The functions, by program and name, whose every definition in their
/// program is a quiet leaf (see [`quiet_one`] and
/// [`FunctionNames::with_quiet`]), reached by a call from any file (not
/// static, or static in a header) and in no rule-file scope.
fn quiet_names(analysis: &Analysis<FunctionFacts>, scoped: &[bool]) -> HashSet<(usize, String)> {
    let program = &analysis.program;
    let quiet_each: Vec<bool> = (0..program.functions.len())
        .into_par_iter()
        .map(|i| {
            let f = &program.functions[i];
            let file = &program.files[f.file];
            let reached = !f.is_static || file.path.extension().is_some_and(|e| e == "h");
            reached
                && !scoped[i]
                && quiet_body(f, &analysis.results[i], &analysis.api)
                && calls_nothing(f, &analysis.traces[i].callees().unresolved)
        })
        .collect();
    let mut verdict: HashMap<(usize, &str), bool> = HashMap::new();
    for (f, quiet) in program.functions.iter().zip(quiet_each) {
        let name = (program.files[f.file].program, f.name.as_str());
        *verdict.entry(name).or_insert(true) &= quiet;
    }
    verdict
        .into_iter()
        .filter(|(_, quiet)| *quiet)
        .map(|((p, n), _)| (p, n.to_owned()))
        .collect()
}

/// The groups among `groups` (those with a member among `functions`)
/// whose members are all among `functions` (a file's, in order), by
/// position there.
fn groups_in(functions: &[usize], groups: &[&Vec<usize>]) -> Vec<Vec<u32>> {
    let position = |m: usize| functions.binary_search(&m).ok().map(|p| p as u32);
    groups
        .iter()
        .filter_map(|g| g.iter().map(|&m| position(m)).collect())
        .collect()
}

/// The names of `set`, sorted.
fn sorted_names(set: Option<&HashSet<String>>) -> Vec<String> {
    let mut names: Vec<String> = set.into_iter().flatten().cloned().collect();
    names.sort();
    names
}

/// What re-checking one file alone needs of the checker.
pub(crate) struct Setup<'a> {
    pub store: &'a dyn Cache,
    pub stamp: Key,
    pub macros: &'a lockwarden_syntax::CompiledMacros,
    pub api: &'a lockwarden_flow::LockApi,
}

/// The file re-checked alone: its lowering and results, and its digest for
/// the next run.
pub(crate) struct Rechecked {
    pub analysis: Analysis<FunctionFacts>,
    pub given: Vec<Given>,
    /// The function bodies the whole run counted in the file, and those
    /// with parse errors.
    pub old_counts: (usize, usize),
}

/// Why a file is not checked alone when what the last check kept of it is
/// missing.
const MISSING: &str = "the last check kept no record of it";

/// [`MISSING`], saying which record.
fn missing(what: &str) -> Why {
    format!("{MISSING} ({what})")
}

/// Reads entry `key` of `kind`.
fn read<T: serde::de::DeserializeOwned>(
    store: &dyn Cache,
    kind: &str,
    key: &Key,
) -> Result<T, Why> {
    store
        .get(kind, key)
        .and_then(|bytes| postcard::from_bytes(&bytes).ok())
        .ok_or_else(|| missing(kind))
}

/// Why a file is not checked alone (see the module docs).
pub type Why = String;

/// Solves `path` (new text `text`) alone after the whole run recorded
/// under `results`; why not, when the whole run's answer may differ from
/// the old one outside the file (see the module docs).
pub(crate) fn solve_alone(
    setup: &Setup<'_>,
    results: &Key,
    path: &str,
    text: Vec<u8>,
) -> Result<(Rechecked, RunUpdate), Why> {
    let store = setup.store;
    let record: RunRecord = read(store, RUN, results)?;
    let digest_key = record
        .files
        .iter()
        .find(|(p, _)| p == path)
        .ok_or_else(|| missing("digest"))?
        .1;
    let digest: FileDigest = read(store, DIGEST, &digest_key)?;
    if digest.pinned {
        return Err("a rule-file rule scopes it, or a finding elsewhere points into it".into());
    }
    let headers: HeaderMacros = read(store, HEADERS, &record.headers)?;
    let (old_file, old_functions) =
        lowered_entry(store, &digest.lowered).ok_or_else(|| missing("lowering"))?;
    let old_counts = (old_file.functions_counted, old_file.functions_with_errors);
    let cache = LoweredCache {
        store,
        stamp: setup.stamp,
    };
    let (file, functions) = lower_one(
        PathBuf::from(path),
        text,
        setup.macros,
        setup.api,
        Some(cache),
        &headers,
    );
    let scoped: HashSet<&str> = record.scoped.iter().map(String::as_str).collect();
    let releasing: HashSet<&str> = record.releasing.iter().map(String::as_str).collect();
    let same_tables = tables_key(&old_file, &old_functions) == tables_key(&file, &functions)
        && references_among(&old_file, &scoped) == references_among(&file, &scoped)
        && stored_among(&old_file, &releasing) == stored_among(&file, &releasing)
        // The named locks are read off the bodies of the lock API's own
        // functions.
        && functions.iter().all(|f| setup.api.primitive(&f.name).is_none());
    if !same_tables || digest.given.len() != functions.len() {
        return Err("what it declares changed".into());
    }
    // A file without functions has no results kept.
    let traces = match old_functions.is_empty() {
        true => Vec::new(),
        false => kept_traces::<FactVisitor>(store, &digest.lowered, &digest.traces)
            .ok_or_else(|| missing("traces"))?,
    };
    let names: FunctionNames = read(store, NAMES, &record.names)?;
    let answers = Answers::of(
        &old_functions,
        &traces,
        digest.summaries.iter().cloned().collect(),
        names.clone(),
        AboutLocks {
            named_locks: record.named_locks.clone(),
            counters_here: digest.counters_here.clone(),
            signals_here: digest.signals_here.clone(),
            released_through_fields: record.released_through_fields.clone(),
        },
    )
    .ok_or_else(|| missing("traces"))?;
    let lowered_key = file.memo_key().ok_or_else(|| missing("lowering"))?;
    let program = Program::of_lowered(vec![(file, functions)]);
    let annotations: Vec<_> = digest.given.iter().map(|g| g.annotations.clone()).collect();
    let (results_now, traces_now) = solve_file(
        &program,
        setup.api,
        &FactVisitor,
        &answers,
        &annotations,
        &digest.groups,
    )
    .map_err(|why| match why {
        Unanswered::Question(q) => {
            format!("it asks what the last check did not ask about the rest: {q:?}")
        }
        Unanswered::Group => "functions in it call each other anew".to_owned(),
    })?;
    let callees_now: Vec<Callees> = traces_now.iter().map(Trace::callees).collect();
    let now = program
        .functions
        .iter()
        .zip(&results_now)
        .zip(&callees_now)
        .map(|((f, r), c)| (f, r, &c.unresolved));
    let here = program.files[0].program;
    if exports_key(now, &|name| names.is_quiet((here, name)), setup.api) != digest.exports {
        return Err("what its callers see of its functions changed".into());
    }
    keep_file::<FactVisitor>(
        store,
        &lowered_key,
        &program.functions,
        &results_now,
        &traces_now,
    );
    // The new digest: the same answers from the rest, this file's own
    // summaries beside them.
    let mut summaries: HashMap<Key, Summary> = digest.summaries.into_iter().collect();
    for r in &results_now {
        summaries.insert(summary_key(&r.summary), r.summary.clone());
    }
    let named: HashSet<Key> = Answers::summaries_named(callees_now.iter())
        .into_iter()
        .collect();
    let mut summaries: Vec<(Key, Summary)> = summaries
        .into_iter()
        .filter(|(k, _)| named.contains(k))
        .collect();
    summaries.sort_by_key(|(k, _)| *k);
    let new_digest = FileDigest {
        lowered: lowered_key,
        traces: traces_key(&traces_now),
        exports: digest.exports,
        given: digest.given.clone(),
        summaries,
        pinned: false,
        counters_here: digest.counters_here,
        signals_here: digest.signals_here,
        groups: digest.groups.clone(),
    };
    let update = RunUpdate {
        record,
        path: path.to_owned(),
        digest: new_digest,
    };
    let n = program.functions.len();
    let analysis = Analysis {
        program,
        results: results_now,
        reused: 0,
        callers: vec![0; n],
        api: setup.api.clone(),
        traces: traces_now,
        summary_keys: Vec::new(),
        facts: Default::default(),
        groups: Vec::new(),
    };
    Ok((
        Rechecked {
            analysis,
            given: digest.given,
            old_counts,
        },
        update,
    ))
}

/// The whole run's record with one file's digest replaced, to keep under
/// the new results key.
pub(crate) struct RunUpdate {
    record: RunRecord,
    path: String,
    digest: FileDigest,
}

impl RunUpdate {
    /// Keeps the record under `results`; the files the file's findings
    /// point into, `pointed` (see [`pointed_into`]), are pinned from now
    /// on.
    pub(crate) fn keep(mut self, store: &dyn Cache, results: &Key, pointed: &HashSet<String>) {
        let Some(key) = keep_by_content(store, DIGEST, &self.digest) else {
            return;
        };
        for (path, digest) in &mut self.record.files {
            if *path == self.path {
                *digest = key;
            } else if pointed.contains(path) {
                let Ok(mut other) = read::<FileDigest>(store, DIGEST, digest) else {
                    return;
                };
                other.pinned = true;
                let Some(pinned) = keep_by_content(store, DIGEST, &other) else {
                    return;
                };
                *digest = pinned;
            }
        }
        if let Ok(bytes) = postcard::to_allocvec(&self.record) {
            store.put(RUN, results, &bytes);
        }
    }
}

/// The files other than `path` that the findings of `path`, `found`,
/// point into.
pub(crate) fn pointed_into(found: &[Finding], path: &str) -> HashSet<String> {
    found
        .iter()
        .flat_map(|f| f.labels.iter().map(|l| &l.location.file))
        .filter(|file| *file != path)
        .cloned()
        .collect()
}

/// The whole run's `old` findings and summary with those of file `path`
/// replaced by `found` (sorted, suppressions applied) and its counts by
/// `file`'s; `incomplete` is the file's new list of functions not analysed.
pub(crate) fn merge(
    old: (Vec<Finding>, ReportSummary),
    path: &str,
    old_file: (usize, usize),
    file: &FileUnit,
    found: Vec<Finding>,
    incomplete: Vec<lockwarden_report::Unanalysed>,
) -> (Vec<Finding>, ReportSummary) {
    let (mut findings, mut summary) = old;
    findings.retain(|f| f.location.file != path);
    findings.extend(found);
    sort_findings(&mut findings);
    dedup_fingerprints(&mut findings);
    summary.functions = summary.functions - old_file.0 + file.functions_counted;
    summary.functions_with_parse_errors =
        summary.functions_with_parse_errors - old_file.1 + file.functions_with_errors;
    summary.findings = findings.len();
    summary.incomplete.retain(|u| u.file != path);
    summary.incomplete.extend(incomplete);
    summary.incomplete.sort();
    (findings, summary)
}
