//! Whole-program orchestration: parse and lower every file in parallel, then
//! solve functions bottom-up over the call graph's strongly connected
//! components, so each call site sees its callee's summary.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use lockwarden_cache::{Cache, Key, KeyBuilder};
use lockwarden_syntax::outline::{Outline, TypeRef};
use lockwarden_syntax::{field, kind, CompiledMacros, Fact, ParsedFile, Span};
use rayon::prelude::*;

use crate::api::LockApi;
use crate::cfg::{
    lower, CallerExit, CallerExits, Cfg, FileFacts, NodeId, Op, PackedBytes, PackedCfg,
};
use crate::dataflow::{solve, Cursor, Summaries};
use crate::memo::{Answer, Candidates, Memo, Memos, Oracle, Origin, Question, Recorder, Trace};
use crate::path::{Path, Step};
use crate::summary::{exits, same_count_on_every_exit, summarize, Change, ExitFact, Summary};

/// An annotation on a function, as text (`__must_hold`, [`&b->lock`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Annotation {
    pub name: String,
    pub args: Vec<String>,
}

/// One function definition, lowered.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FunctionUnit {
    pub file: usize,
    pub name: String,
    pub is_static: bool,
    /// A function-like macro read as a function: it is expanded where it
    /// is used, so where it ends its caller goes on; it has no exit of its
    /// own.
    pub is_macro: bool,
    pub span: Span,
    pub name_span: Span,
    pub params: Vec<String>,
    pub param_types: Vec<TypeRef>,
    /// Annotations on the definition and on prototypes in the same file.
    pub annotations: Vec<Annotation>,
    pub parse_errors: u32,
    /// Names declared inside the body (as in the graph).
    pub locals: HashSet<String>,
    /// Declared types of locals (as in the graph).
    pub local_types: HashMap<String, TypeRef>,
    /// The graph, packed: [`FunctionUnit::cfg`] unpacks it.
    graph: PackedCfg,
    /// Its calls as the call graph needs them ([`CallNames`], postcard),
    /// read off the graph when it is lowered: building the call graph, and
    /// rules that follow calls, unpack no graph.
    calls: Vec<u8>,
}

/// A function's calls, by name, before the program resolves them.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct CallNames {
    /// Every call and every guard taking a lock, in graph order.
    sites: Vec<CallSite>,
    /// Calls to lock primitives taking or releasing a lock of a signal
    /// kind: the callee, whether it releases, and the lock's last name.
    signal_effects: Vec<(String, bool, String)>,
}

/// A call in a function's graph, or a guard taking a lock there (named by
/// the primitive its class stands for).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CallSite {
    /// `None` through a pointer.
    pub callee: Option<String>,
    /// The functions it is given as arguments (callbacks it may run).
    pub passed: Vec<String>,
    pub node: NodeId,
    pub span: Span,
    pub guard: bool,
}

impl CallNames {
    fn of(cfg: &Cfg, api: &LockApi) -> CallNames {
        let mut names = CallNames::default();
        for (node, op) in cfg.ops.iter().enumerate() {
            let node = node as NodeId;
            let call = match op {
                Op::Call(call) => call,
                Op::GuardAcquire(guard) => {
                    names.sites.push(CallSite {
                        callee: Some(guard.primitive.clone()),
                        passed: Vec::new(),
                        node,
                        span: guard.span,
                        guard: true,
                    });
                    continue;
                }
                _ => continue,
            };
            names.sites.push(CallSite {
                callee: call.callee.clone(),
                passed: call.passed_functions(cfg).map(str::to_owned).collect(),
                node,
                span: call.span,
                guard: false,
            });
            let Some((callee, summary)) = call
                .callee
                .as_deref()
                .and_then(|c| Some((c, api.primitive(c)?)))
            else {
                continue;
            };
            for effect in &summary.effects {
                if !effect
                    .kind
                    .as_deref()
                    .is_some_and(|k| api.is_signal_kind(k))
                {
                    continue;
                }
                let Some(lock) = effect
                    .lock
                    .substitute(&call.args, call.result_lvalue.as_ref())
                else {
                    continue;
                };
                let Some(name) = lock.last_name() else {
                    continue;
                };
                names.signal_effects.push((
                    callee.to_owned(),
                    effect.change == Change::Release,
                    name.to_owned(),
                ));
            }
        }
        names
    }
}

/// How a function declares a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Declared<'a> {
    /// A parameter, with its type when the frontend resolves it.
    Param(Option<&'a TypeRef>),
    Local(&'a TypeRef),
    /// Not at all: a global, if anything.
    Outside,
}

impl FunctionUnit {
    /// How the function declares `name`: parameters first, then locals.
    pub fn declared(&self, name: &str) -> Declared<'_> {
        match self.params.iter().position(|p| p == name) {
            Some(i) => Declared::Param(self.param_types.get(i)),
            None => match self.local_types.get(name) {
                Some(ty) => Declared::Local(ty),
                None => Declared::Outside,
            },
        }
    }

    /// The function's graph, unpacked (a copy: unpack once per use).
    pub fn cfg(&self) -> Cfg {
        self.graph.unpack()
    }

    /// The function's calls and its guards, in graph order, without
    /// unpacking the graph.
    pub fn call_sites(&self) -> Vec<CallSite> {
        self.call_names().sites
    }

    /// The key of what the rest of the program reads of its calls: the
    /// callees, but those `unresolved` (no function, no lock primitive:
    /// most macros), each once; the functions it passes; what it does to
    /// locks of a signal kind. Not where the calls are, nor how many.
    pub fn calls_key(&self, unresolved: &dyn Fn(&str) -> bool) -> Key {
        let names = self.call_names();
        let mut callees: Vec<(&str, bool)> = names
            .sites
            .iter()
            .filter_map(|s| Some((s.callee.as_deref()?, s.guard)))
            .filter(|(callee, _)| !unresolved(callee))
            .collect();
        callees.sort_unstable();
        callees.dedup();
        let mut passed: Vec<&str> = names
            .sites
            .iter()
            .flat_map(|s| s.passed.iter().map(String::as_str))
            .collect();
        passed.sort_unstable();
        passed.dedup();
        let mut signals: Vec<&(String, bool, String)> = names.signal_effects.iter().collect();
        signals.sort_unstable();
        signals.dedup();
        lockwarden_cache::key_of(
            "calls",
            &postcard::to_allocvec(&(callees, passed, signals)).unwrap_or_default(),
        )
    }

    pub(crate) fn call_names(&self) -> CallNames {
        postcard::from_bytes(&self.calls).unwrap_or_default()
    }
}

/// One analysed file.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FileUnit {
    /// Relative to the tree root.
    pub path: PathBuf,
    /// The file's text, packed: [`FileUnit::source`] unpacks it. Not kept
    /// in the cache: the text is at hand whenever the file is.
    #[serde(skip)]
    source: PackedBytes,
    /// Function bodies counted for parse statistics, and those with errors.
    pub functions_counted: usize,
    pub functions_with_errors: usize,
    /// Identifier uses of each name other than direct calls (address taken,
    /// stored in an ops table, exported). Once the file is in a
    /// [`Program`], only the names of the file's static functions.
    pub references: NameMap<u32>,
    /// The tables below are moved into the [`Program`]'s (empty there).
    /// Annotations of prototypes in this file, by function name.
    pub prototype_annotations: HashMap<String, Vec<Annotation>>,
    /// tree-sitter gave up on this file.
    pub failed: bool,
    /// Function bodies whose header tree-sitter could not parse: not analysed.
    pub stray_bodies: Vec<Span>,
    /// Struct and union fields defined in this file, by record name.
    pub records: Vec<(String, Vec<(String, TypeRef)>)>,
    /// File-scope variables and their types.
    pub globals: Vec<(String, TypeRef)>,
    /// Lock objects this file gives a count other than 1 (`sema_init(&dc->
    /// in_flight, 64)` names `in_flight`): counters, not locks.
    pub counters: Vec<String>,
    /// Functions this file declares by a prototype.
    pub prototypes: Vec<String>,
    /// Names this file stores in a field (`.attach = mtk_wed_attach`,
    /// `ops->attach = f`), by field name: the functions a call through a
    /// field of that name may run.
    pub stored_in_fields: Vec<(String, String)>,
    /// The program the file is built into (see [`LockApi::program_of`]):
    /// calls resolve within it.
    pub program: usize,
    /// The key its lowering is kept under, when a cache is in use: its
    /// functions' results are kept under a key made from it.
    #[serde(skip)]
    pub(crate) memo_key: Option<Key>,
}

impl FileUnit {
    /// The key its lowering is kept under, when a cache is in use.
    pub fn memo_key(&self) -> Option<Key> {
        self.memo_key
    }

    /// The file's text (unpacked: a copy).
    pub fn source(&self) -> Vec<u8> {
        self.source.unpack()
    }

    /// The path as reports print it: relative to the root, `/` separators.
    pub fn report_path(&self) -> String {
        self.path.to_string_lossy().replace('\\', "/")
    }
}

/// A table by name over the whole tree: millions of identifiers are
/// hashed while files join the program, with a fast fixed hash (no input
/// here is chosen to collide).
pub type NameMap<V> = HashMap<String, V, foldhash::fast::FixedState>;

/// All lowered files and functions.
#[derive(Debug, Default)]
pub struct Program {
    pub files: Vec<FileUnit>,
    pub functions: Vec<FunctionUnit>,
    by_name: NameMap<Vec<usize>>,
    /// Every non-call reference to each name, over all files.
    references: NameMap<u32>,
    /// Annotations from prototypes anywhere, by function name.
    prototype_annotations: NameMap<Vec<Annotation>>,
    /// Fields of every record, by record name (first definition wins).
    records: NameMap<HashMap<String, TypeRef>>,
    /// Types of file-scope variables, by name (first definition wins).
    global_types: NameMap<TypeRef>,
    /// Functions declared by a prototype, with the files declaring them.
    declared: NameMap<Vec<u32>>,
    /// The functions stored in fields of each name, over all files, that
    /// are annotated to release a lock (the only ones asked about).
    stored_in_fields: NameMap<std::collections::BTreeSet<String>>,
    /// The header macros every file was lowered with.
    pub headers: HeaderMacros,
}

/// The headers' macros that hand one of their arguments to a condition
/// wrapper, directly or through another such macro (`drm_WARN_ON(drm, x)`
/// is `drm_WARN((drm), (x), …)`, which is `WARN(condition, …)`), with the
/// position of that argument.
fn header_conditions(
    forwarding: &[lockwarden_syntax::macro_functions::ForwardingMacro],
    api: &LockApi,
) -> HashMap<String, usize> {
    let mut conditions: HashMap<String, usize> = HashMap::new();
    // Each round follows one more macro of a chain; chains are short.
    for _ in 0..4 {
        let mut changed = false;
        for m in forwarding {
            if conditions.contains_key(&m.name) || api.is_condition_wrapper(&m.name) {
                continue;
            }
            let callee_arg = if api.is_condition_wrapper(&m.callee) {
                Some(0)
            } else {
                conditions.get(&m.callee).copied()
            };
            if let Some(Some(param)) = callee_arg.and_then(|k| m.args.get(k)) {
                conditions.insert(m.name.clone(), *param);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    conditions
}

/// Parses and lowers `files` (path relative to the root, contents), in parallel.
pub fn build(files: Vec<(PathBuf, Vec<u8>)>, macros: &CompiledMacros, api: &LockApi) -> Program {
    build_with(files, macros, api, None)
}

/// Where lowered files are kept between runs, and the stamp of everything
/// outside a file that its lowering reads from configuration (the rule
/// files, this build of the program).
#[derive(Clone, Copy)]
pub struct LoweredCache<'a> {
    pub store: &'a dyn Cache,
    pub stamp: Key,
}

/// Entry kind of a lowered file in the cache.
const LOWERED: &str = "lowered";

/// [`build`], taking each file's lowering from `cache` when everything it
/// reads is unchanged: the file's path and text, the configuration stamp,
/// and the headers' `return` and condition macros and inline predicates it
/// names (read off the whole tree).
pub fn build_with(
    files: Vec<(PathBuf, Vec<u8>)>,
    macros: &CompiledMacros,
    api: &LockApi,
    cache: Option<LoweredCache<'_>>,
) -> Program {
    let headers = HeaderMacros::of(&files, api);
    build_lowered(files, macros, api, cache, headers)
}

impl HeaderMacros {
    /// The headers' macros that are a `return` (`return_ACPI_STATUS(s)`)
    /// or hand an argument to a condition wrapper, and their inline
    /// predicates over globals: read off the `#define` lines of every
    /// header of `files`, once, before any file is lowered.
    pub fn of(files: &[(PathBuf, Vec<u8>)], api: &LockApi) -> HeaderMacros {
        let defines: Vec<lockwarden_syntax::macro_functions::DefineMacros> = files
            .par_iter()
            .filter(|(path, _)| path.extension().is_some_and(|e| e == "h"))
            .map(|(_, source)| lockwarden_syntax::macro_functions::define_macros(source))
            .collect();
        // Inline predicates over globals only (`debug_pagealloc_enabled()`):
        // asked twice, the same answer, as a question about globals is. One
        // that calls a lock primitive asks about a lock this function may
        // change.
        let global_predicates: HashSet<String> = defines
            .iter()
            .flat_map(|d| &d.global_predicates)
            .filter(|p| p.calls.iter().all(|c| api.primitive(c).is_none()))
            .map(|p| p.name.clone())
            .collect();
        let (returns, forwarding): (Vec<_>, Vec<_>) = defines
            .into_iter()
            .map(|d| (d.returns, d.forwarding))
            .unzip();
        let returns: CallerExits = returns
            .into_iter()
            .flatten()
            .map(|m| {
                let params = m.params.unwrap_or_default();
                let exit = CallerExit::of_return_macro(&params, &m.returned);
                (m.name, (params, exit))
            })
            .collect();
        let forwarding: Vec<_> = forwarding.into_iter().flatten().collect();
        let conditions = header_conditions(&forwarding, api);
        HeaderMacros {
            returns,
            conditions,
            global_predicates,
        }
    }

    fn tables(&self) -> HeaderTables<'_> {
        HeaderTables {
            returns: &self.returns,
            conditions: &self.conditions,
            global_predicates: &self.global_predicates,
        }
    }
}

/// [`build_with`], lowering every file with the header macros `headers`
/// (of the whole tree, when one file is lowered again as the whole run
/// lowered it).
pub fn build_lowered(
    files: Vec<(PathBuf, Vec<u8>)>,
    macros: &CompiledMacros,
    api: &LockApi,
    cache: Option<LoweredCache<'_>>,
    headers: HeaderMacros,
) -> Program {
    crate::progress::files_started(files.len());
    let matcher = cache.map(|_| headers.matcher());
    let mut program = Program::default();
    // In chunks: a file's lowering holds tables (every identifier it
    // references, every record it defines) that the program keeps once,
    // so only a chunk's worth is alive at a time.
    let mut files = files.into_iter();
    // A chunk joins the program (one thread) while the next is lowered.
    let mut joining: Vec<(FileUnit, Vec<FunctionUnit>)> = Vec::new();
    loop {
        let chunk: Vec<(PathBuf, Vec<u8>)> = files.by_ref().take(BUILD_CHUNK_FILES).collect();
        if chunk.is_empty() && joining.is_empty() {
            break;
        }
        let lower_chunk = || -> Vec<(FileUnit, Vec<FunctionUnit>)> {
            chunk
                .into_par_iter()
                .map(|(path, source)| {
                    let lowered = lower_cached(
                        path,
                        source,
                        macros,
                        api,
                        cache.zip(matcher.as_ref()),
                        &headers,
                    );
                    crate::progress::file_done();
                    lowered
                })
                .collect()
        };
        let program = &mut program;
        let join_chunk = move || {
            for (file, functions) in std::mem::take(&mut joining) {
                program.add_file(file, functions);
            }
        };
        (joining, ()) = rayon::join(lower_chunk, join_chunk);
    }
    // Only functions' references are asked for (can a function be reached
    // other than by a call?).
    let by_name = &program.by_name;
    program
        .references
        .retain(|name, _| by_name.contains_key(name));
    // Of what fields hold, only functions annotated to release a lock
    // their callers hold matter.
    let mut stored = std::mem::take(&mut program.stored_in_fields);
    for names in stored.values_mut() {
        names.retain(|name| {
            by_name.get(name).into_iter().flatten().any(|&i| {
                !program
                    .released_by_annotation(&program.functions[i])
                    .is_empty()
            })
        });
    }
    stored.retain(|_, names| !names.is_empty());
    program.stored_in_fields = stored;
    program.headers = headers;
    program
}

/// Lowers one file, or takes its lowering from `cache` under the key of
/// its path and text, the configuration stamp, and the entries of the
/// header macros it may read (`matcher` finds them in its text).
fn lower_cached(
    path: PathBuf,
    source: Vec<u8>,
    macros: &CompiledMacros,
    api: &LockApi,
    cache: Option<(LoweredCache<'_>, &HeaderMatcher)>,
    headers: &HeaderMacros,
) -> (FileUnit, Vec<FunctionUnit>) {
    let cached = cache.map(|(cache, matcher)| {
        let key = KeyBuilder::new(LOWERED)
            .key(&cache.stamp)
            .key(&headers.key_for(&source, matcher))
            .part(path.as_os_str().as_encoded_bytes())
            .part(&source)
            .finish();
        (cache.store, key)
    });
    let hit = cached.and_then(|(store, key)| {
        let (mut file, functions) = lowered_entry(store, &key)?;
        (file.path == path).then(|| {
            file.source = PackedBytes::pack(&source);
            (file, functions)
        })
    });
    let mut lowered = hit.unwrap_or_else(|| {
        let lowered = lower_file(path, source, macros, api, headers.tables());
        if let Some((store, key)) = cached {
            if let Ok(bytes) = postcard::to_allocvec(&lowered) {
                store.put(LOWERED, &key, &bytes);
            }
        }
        lowered
    });
    lowered.0.memo_key = cached.map(|(_, key)| key);
    lowered
}

/// The lowering of a file kept in `store` under `key` (its
/// [`FileUnit::memo_key`]), without its text.
pub fn lowered_entry(store: &dyn Cache, key: &Key) -> Option<(FileUnit, Vec<FunctionUnit>)> {
    postcard::from_bytes(&store.get(LOWERED, key)?).ok()
}

/// Lowers one file as [`build_lowered`] would with the same `headers`,
/// without joining it to a program.
pub fn lower_one(
    path: PathBuf,
    source: Vec<u8>,
    macros: &CompiledMacros,
    api: &LockApi,
    cache: Option<LoweredCache<'_>>,
    headers: &HeaderMacros,
) -> (FileUnit, Vec<FunctionUnit>) {
    let matcher = headers.matcher();
    lower_cached(
        path,
        source,
        macros,
        api,
        cache.map(|c| (c, &matcher)),
        headers,
    )
}

/// Files lowered at a time by [`build`].
const BUILD_CHUNK_FILES: usize = 256;

/// Finds the names of the header macros in a file's text.
pub struct HeaderMatcher {
    names: Vec<String>,
    automaton: Option<aho_corasick::AhoCorasick>,
}

impl HeaderMacros {
    /// A finder of every name these macros have.
    fn matcher(&self) -> HeaderMatcher {
        let mut names: Vec<String> = self
            .returns
            .keys()
            .chain(self.conditions.keys())
            .chain(&self.global_predicates)
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        let automaton = aho_corasick::AhoCorasick::new(&names).ok();
        HeaderMatcher { names, automaton }
    }

    /// The key of the entries of the macros whose names `source` has as
    /// identifiers: all a lowering of it can read of them (it looks up
    /// only names in its text). A header edit that changes one macro
    /// changes the key of only the files that name it.
    fn key_for(&self, source: &[u8], matcher: &HeaderMatcher) -> Key {
        let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let mut found: Vec<usize> = match &matcher.automaton {
            Some(automaton) => automaton
                .find_overlapping_iter(source)
                .filter(|m| {
                    let before = m.start().checked_sub(1).map(|i| source[i]);
                    let after = source.get(m.end()).copied();
                    !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
                })
                .map(|m| m.pattern().as_usize())
                .collect(),
            None => (0..matcher.names.len()).collect(),
        };
        found.sort_unstable();
        found.dedup();
        let entries: Vec<_> = found
            .iter()
            .map(|&i| {
                let name = &matcher.names[i];
                (
                    name,
                    self.returns.get(name),
                    self.conditions.get(name),
                    self.global_predicates.contains(name),
                )
            })
            .collect();
        lockwarden_cache::key_of(
            "header-macros",
            &postcard::to_allocvec(&entries).unwrap_or_default(),
        )
    }
}

/// The key of what `file` and its `functions` add to the program's
/// tables, before they join it, except its references and what it stores
/// in fields (every body edit changes those; only a few names of them are
/// ever asked about): definitions and their static-ness, parameters and
/// annotations, prototypes, records, globals, counters, and its program.
/// Two lowerings of a file with the same key answer every other question
/// about the rest of the program alike; their bodies may differ.
pub fn tables_key(file: &FileUnit, functions: &[FunctionUnit]) -> Key {
    let mut prototype_annotations: Vec<_> = file.prototype_annotations.iter().collect();
    prototype_annotations.sort_by(|a, b| a.0.cmp(b.0));
    let definitions: Vec<_> = functions
        .iter()
        .map(|f| (&f.name, f.is_static, f.is_macro, &f.params, &f.annotations))
        .collect();
    let tables = (
        &file.path,
        file.program,
        file.failed,
        prototype_annotations,
        &file.records,
        &file.globals,
        &file.counters,
        &file.prototypes,
        definitions,
    );
    lockwarden_cache::key_of(
        "tables",
        &postcard::to_allocvec(&tables).unwrap_or_default(),
    )
}

/// What every file's lowering reads off the headers of the whole tree,
/// owned: a whole run keeps it, so that one file can be lowered again as
/// that run lowered it.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct HeaderMacros {
    returns: CallerExits,
    conditions: HashMap<String, usize>,
    global_predicates: HashSet<String>,
}

/// What every file's lowering reads off the headers of the whole tree.
#[derive(Clone, Copy)]
struct HeaderTables<'a> {
    returns: &'a CallerExits,
    conditions: &'a HashMap<String, usize>,
    global_predicates: &'a HashSet<String>,
}

impl Program {
    /// A program of lowered files, joined as they are: no headers' macros,
    /// no tables trimmed to what the whole tree asks about.
    pub fn of_lowered(lowered: Vec<(FileUnit, Vec<FunctionUnit>)>) -> Program {
        let mut program = Program::default();
        for (file, functions) in lowered {
            program.add_file(file, functions);
        }
        program
    }

    /// Adds a lowered file and its functions, moving the file's tables into
    /// the program's.
    fn add_file(&mut self, mut file: FileUnit, mut functions: Vec<FunctionUnit>) {
        let file_index = self.files.len();
        // The file's tables move into the program's; each file keeps only
        // the references to its own static functions (who can call them).
        let references = std::mem::take(&mut file.references);
        let statics: HashSet<&str> = functions
            .iter()
            .filter(|f| f.is_static)
            .map(|f| f.name.as_str())
            .collect();
        file.references = references
            .iter()
            .filter(|(name, _)| statics.contains(name.as_str()))
            .map(|(name, count)| (name.clone(), *count))
            .collect();
        for (name, count) in references {
            *self.references.entry(name).or_default() += count;
        }
        for (name, anns) in std::mem::take(&mut file.prototype_annotations) {
            self.prototype_annotations
                .entry(name)
                .or_default()
                .extend(anns);
        }
        for (name, fields) in std::mem::take(&mut file.records) {
            self.records
                .entry(name)
                .or_insert_with(|| fields.into_iter().collect());
        }
        for (field, name) in std::mem::take(&mut file.stored_in_fields) {
            self.stored_in_fields.entry(field).or_default().insert(name);
        }
        for name in std::mem::take(&mut file.prototypes) {
            self.declared
                .entry(name)
                .or_default()
                .push(file_index as u32);
        }
        for (name, ty) in std::mem::take(&mut file.globals) {
            self.global_types.entry(name).or_insert(ty);
        }
        for mut f in functions.drain(..) {
            f.file = file_index;
            match self.by_name.get_mut(&f.name) {
                Some(indices) => indices.push(self.functions.len()),
                None => {
                    self.by_name
                        .insert(f.name.clone(), vec![self.functions.len()]);
                }
            }
            self.functions.push(f);
        }
        self.files.push(file);
    }
}

fn lower_file(
    path: PathBuf,
    source: Vec<u8>,
    macros: &CompiledMacros,
    api: &LockApi,
    headers: HeaderTables<'_>,
) -> (FileUnit, Vec<FunctionUnit>) {
    let packed_source = PackedBytes::pack(&source);
    let Some(parsed) = ParsedFile::parse(source, macros) else {
        let unit = FileUnit {
            program: api.program_of(&path),
            path,
            source: packed_source,
            functions_counted: 0,
            functions_with_errors: 0,
            references: NameMap::default(),
            prototype_annotations: HashMap::new(),
            failed: true,
            stray_bodies: Vec::new(),
            records: Vec::new(),
            globals: Vec::new(),
            counters: Vec::new(),
            prototypes: Vec::new(),
            stored_in_fields: Vec::new(),
            memo_key: None,
        };
        return (unit, Vec::new());
    };
    let outline = Outline::of(&parsed);
    let mut facts = FileFacts {
        enumerators: outline
            .enumerators
            .iter()
            .map(|(name, zero)| (name.as_str(), *zero))
            .collect(),
        caller_exits: HashMap::new(),
        header_exits: headers.returns,
        header_conditions: headers.conditions,
        global_predicates: headers.global_predicates,
        never_returning: outline.never_returning(&parsed, |c| macros.is_noreturn(c)),
    };
    let mut prototype_annotations: HashMap<String, Vec<Annotation>> = HashMap::new();
    for proto in &outline.prototypes {
        let anns = annotations(&parsed, &proto.facts);
        if !anns.is_empty() {
            prototype_annotations
                .entry(proto.name.clone())
                .or_default()
                .extend(anns);
        }
    }
    // Function-like macros act as functions of their file: in a .c file
    // every statement-like one (`#define shm_unlock(shp)
    // ipc_unlock(&(shp)->shm_perm)`), in a header those that call a lock
    // primitive (`#define folio_walk_end(fw, vma) do { … spin_unlock(…) }
    // while (0)`) or are accessors (`#define to_iio_dev_opaque(d)
    // container_of(…)`, `#define usbhs_priv_to_lock(p) (&p->lock)`: the
    // object is the caller's, by another name), a header having many. They are lowered first: a macro whose `return`
    // returns from its caller changes how its callers are lowered.
    let in_c_file = path.extension().is_some_and(|e| e == "c");
    let mut macro_units = Vec::new();
    {
        let defined: HashSet<&str> = outline.functions.iter().map(|f| f.name.as_str()).collect();
        // A header's block macro calling the header's own functions
        // (`spufs_wait()` dropping and retaking the lock through
        // `spu_release()`/`spu_acquire()`) acts through them.
        let wanted = |name: &str, calls: &[String], block: bool| {
            !defined.contains(name)
                && api.primitive(name).is_none()
                && (in_c_file
                    || calls.is_empty()
                    || calls.iter().any(|c| {
                        api.primitive(c).is_some()
                            || api.is_container(c)
                            || (block && defined.contains(c.as_str()))
                    }))
        };
        for m in lockwarden_syntax::macro_functions::macro_functions(&parsed, wanted) {
            let Some(text) = ParsedFile::parse(m.text, macros) else {
                continue;
            };
            let mut lowered = lower_functions(
                &text,
                &Outline::of(&text),
                api,
                macros,
                &facts,
                &HashMap::new(),
                m.returns_from_caller,
            );
            lowered.retain(|f| f.name == m.name && f.parse_errors == 0);
            for f in &mut lowered {
                f.is_static = true;
                f.is_macro = true;
                f.param_types.clear();
            }
            macro_units.extend(lowered);
        }
    }
    for unit in &macro_units {
        if let Some(exit) = unit.cfg().exits_caller {
            facts
                .caller_exits
                .insert(unit.name.clone(), (unit.params.clone(), exit));
        }
    }
    let mut functions = lower_functions(
        &parsed,
        &outline,
        api,
        macros,
        &facts,
        &prototype_annotations,
        false,
    );
    functions.extend(macro_units);
    let (references, stored_in_fields) = references(&parsed, api);
    let unit = FileUnit {
        program: api.program_of(&path),
        path,
        functions_counted: outline.function_count(),
        functions_with_errors: outline.functions_with_errors(),
        references,
        stored_in_fields,
        counters: counters(&parsed.source, api),
        prototypes: outline.prototypes.iter().map(|p| p.name.clone()).collect(),
        prototype_annotations,
        failed: false,
        memo_key: None,
        stray_bodies: outline.stray_bodies.clone(),
        records: outline
            .records
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    r.fields
                        .iter()
                        .map(|f| (f.name.clone(), f.ty.clone()))
                        .collect(),
                )
            })
            .collect(),
        globals: outline
            .globals
            .iter()
            .map(|g| (g.name.clone(), g.ty.clone()))
            .collect(),
        source: packed_source,
    };
    (unit, functions)
}

/// Lowers the function definitions of one parsed text.
fn lower_functions(
    parsed: &ParsedFile,
    outline: &Outline,
    api: &LockApi,
    macros: &CompiledMacros,
    facts: &FileFacts<'_>,
    prototype_annotations: &HashMap<String, Vec<Annotation>>,
    exits_caller: bool,
) -> Vec<FunctionUnit> {
    let root = parsed.tree.root_node();
    outline
        .functions
        .iter()
        .filter_map(|def| {
            let body =
                root.descendant_for_byte_range(def.body.start as usize, def.body.end as usize)?;
            let params: Vec<String> = def.params.iter().map(|p| p.name.clone()).collect();
            let mut cfg = lower(parsed, api, macros, body, &params, facts, exits_caller);
            // Only a pointer parameter hands its caller's object to a callback.
            cfg.handed_to_callbacks.retain(|(var, _)| {
                def.params
                    .iter()
                    .find(|p| &p.name == var)
                    .is_none_or(|p| p.ty.pointers > 0)
            });
            let mut anns = annotations(parsed, &def.facts);
            anns.extend(
                prototype_annotations
                    .get(&def.name)
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            Some(FunctionUnit {
                file: 0,
                name: def.name.clone(),
                is_static: def.is_static,
                is_macro: false,
                span: def.span,
                name_span: def.name_span,
                param_types: def.params.iter().map(|p| p.ty.clone()).collect(),
                params,
                annotations: anns,
                parse_errors: def.parse_errors,
                locals: cfg.locals.clone(),
                local_types: cfg.local_types.clone(),
                graph: PackedCfg::pack(&cfg),
                calls: postcard::to_allocvec(&CallNames::of(&cfg, api)).unwrap_or_default(),
            })
        })
        .collect()
}

fn annotations(file: &ParsedFile, facts: &[Fact]) -> Vec<Annotation> {
    facts
        .iter()
        .map(|f| Annotation {
            name: f.name.clone(),
            args: f
                .args
                .iter()
                .map(|a| file.source_text(*a).trim().to_owned())
                .collect(),
        })
        .collect()
}

/// The lock objects `source` gives a count other than 1 through a counting
/// initialiser of the lock API, by their last name (the field, or the
/// variable): `sema_init(&dc->in_flight, 64)` and `DEFINE_SEMAPHORE(limit,
/// 1000)` count; `sema_init(&s, 1)` makes a lock.
fn counters(source: &[u8], api: &LockApi) -> Vec<String> {
    use lockwarden_syntax::lexer::{tokenize, TokenKind};
    // Most files name no counting initialiser: no need to tokenize them.
    let mentions =
        |name: &str| !name.is_empty() && source.windows(name.len()).any(|w| w == name.as_bytes());
    if !api.counting_inits().any(mentions) {
        return Vec::new();
    }
    let toks = tokenize(source);
    let text = |i: usize| String::from_utf8_lossy(toks[i].text(source));
    let mut out = Vec::new();
    for (i, tok) in toks.iter().enumerate() {
        if tok.kind != TokenKind::Ident
            || !toks.get(i + 1).is_some_and(|t| t.is_punct(b'('))
            || !api.is_counting_init(&text(i))
        {
            continue;
        }
        // A use, not the initialiser's own definition or prototype (`void
        // sema_init(struct semaphore *sem, int val)`).
        if i > 0 && toks[i - 1].kind == TokenKind::Ident && text(i - 1) != "static" {
            continue;
        }
        // The two arguments, as token ranges.
        let (mut depth, mut comma, mut close) = (0usize, None, None);
        for (j, t) in toks.iter().enumerate().skip(i + 1) {
            match t.kind {
                TokenKind::Punct(b'(') => depth += 1,
                TokenKind::Punct(b')') => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(j);
                        break;
                    }
                }
                TokenKind::Punct(b',') if depth == 1 && comma.is_none() => comma = Some(j),
                _ => {}
            }
        }
        let (Some(comma), Some(close)) = (comma, close) else {
            continue;
        };
        let count: String = (comma + 1..close).map(&text).collect();
        let name = (i + 2..comma)
            .rev()
            .find(|&j| toks[j].kind == TokenKind::Ident)
            .map(|j| text(j).into_owned());
        if let (Some(name), false) = (name, count == "1") {
            out.push(name);
        }
    }
    out
}

/// Counts identifier uses that are not direct calls or declarations, by
/// name; and the names the file stores in fields, as (field, name).
fn references(file: &ParsedFile, api: &LockApi) -> (NameMap<u32>, Vec<(String, String)>) {
    let mut refs: NameMap<u32> = NameMap::default();
    let mut stored: Vec<(String, String)> = Vec::new();
    lockwarden_syntax::walk::preorder_with_ancestors(file.tree.root_node(), |node, ancestors| {
        if node.kind_id() != kind::IDENTIFIER {
            return true;
        }
        let Some(&parent) = ancestors.last() else {
            return false;
        };
        // An upper-case name is a constant or a macro, not a function.
        let name = file.node_text(node);
        let constant = !name.chars().any(|c| c.is_ascii_lowercase());
        if let (false, Some(field)) = (constant, field_stored_in(file, node, ancestors)) {
            stored.push((field.to_owned(), name.to_owned()));
        }
        let is_call = parent.kind_id() == kind::CALL_EXPRESSION
            && parent.child_by_field_id(field::FUNCTION) == Some(node);
        // `guard(perf_ctx_lock)(…)` names a guard class, not the function.
        let is_guard_class = parent.kind_id() == kind::ARGUMENT_LIST
            && parent.named_child(0) == Some(node)
            && ancestors
                .iter()
                .rev()
                .nth(1)
                .and_then(|call| call.child_by_field_id(field::FUNCTION))
                .is_some_and(|f| {
                    let name = file.node_text(f);
                    api.is_guard(name)
                        || api.is_scoped_guard(name)
                        || api.is_scoped_cond_guard(name)
                });
        if is_guard_class {
            return false;
        }
        let is_declared = matches!(
            parent.kind_id(),
            kind::FUNCTION_DECLARATOR
                | kind::INIT_DECLARATOR
                | kind::POINTER_DECLARATOR
                | kind::DECLARATION
                | kind::PARAMETER_DECLARATION
        );
        if !is_call && !is_declared {
            *refs.entry(file.node_text(node).to_owned()).or_default() += 1;
        }
        false
    });
    stored.sort();
    stored.dedup();
    (refs, stored)
}

/// The field an identifier is stored in: `.attach = name` in an
/// initializer, `x->attach = name` or `x.attach = name`, with or without
/// `&`.
fn field_stored_in<'f>(
    file: &'f ParsedFile,
    node: tree_sitter::Node<'_>,
    ancestors: &[tree_sitter::Node<'_>],
) -> Option<&'f str> {
    let mut value = node;
    let mut up = ancestors.iter().rev();
    let mut parent = *up.next()?;
    if parent.kind_id() == kind::POINTER_EXPRESSION {
        value = parent;
        parent = *up.next()?;
    }
    let field = match parent.kind_id() {
        kind::INITIALIZER_PAIR if parent.child_by_field_id(field::VALUE) == Some(value) => {
            let designator = parent.child_by_field_id(field::DESIGNATOR)?;
            (designator.kind_id() == kind::FIELD_DESIGNATOR).then_some(designator)?
        }
        kind::ASSIGNMENT_EXPRESSION if parent.child_by_field_id(field::RIGHT) == Some(value) => {
            let left = parent.child_by_field_id(field::LEFT)?;
            (left.kind_id() == kind::FIELD_EXPRESSION)
                .then_some(left)?
                .child_by_field_id(field::FIELD)?
        }
        _ => return None,
    };
    let text = file.node_text(field).trim_start_matches('.').trim();
    (!text.is_empty()).then_some(text)
}

/// The analysis of one function.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FunctionResult<O> {
    pub summary: Summary,
    pub exits: Vec<ExitFact>,
    /// Lowering or the dataflow gave up, and why: findings may be missing.
    pub incomplete: Option<Incomplete>,
    /// Locks annotated as held on entry.
    pub entry_held: Vec<Path>,
    /// Every return holds the same number of locks, not always the same ones.
    pub swaps_locks: bool,
    /// What the visitor kept of the function's solved states.
    pub visited: O,
}

/// Why a function was not analysed fully.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Incomplete {
    /// Statements or expressions nested deeper than lowering follows.
    Nesting,
    /// The dataflow's visit or work budget ran out (thousands of tests of
    /// a parameter against constants).
    Budget,
}

impl Incomplete {
    pub fn reason(self) -> &'static str {
        match self {
            Incomplete::Nesting => "nested too deep",
            Incomplete::Budget => "analysis budget exhausted",
        }
    }
}

/// Reads each function's solved states once, right after the function is
/// solved (its states are dropped afterwards): where checks that need the
/// lock sets at every node, not only the summary, do their work.
pub trait Visitor: Sync {
    type Output: Send + Sync + Default;

    fn visit(
        &self,
        function: &FunctionUnit,
        cursor: &Cursor<'_>,
        exits: &[ExitFact],
    ) -> Self::Output;
}

/// A visitor that keeps nothing.
pub struct NoVisitor;

impl Visitor for NoVisitor {
    type Output = ();

    fn visit(&self, _: &FunctionUnit, _: &Cursor<'_>, _: &[ExitFact]) {}
}

/// A program and the analysis of each of its functions (same indexes).
pub struct Analysis<O = ()> {
    pub program: Program,
    pub results: Vec<FunctionResult<O>>,
    /// How many results were kept from an earlier run, not solved.
    pub reused: usize,
    /// Direct call sites of each function, by index.
    pub callers: Vec<u32>,
    /// The lock API the program was analysed with.
    pub api: LockApi,
    /// With a cache: the questions each function's solve asked, with their
    /// answers, and the content key of its summary (same indexes).
    pub traces: Vec<Trace>,
    pub summary_keys: Vec<Option<Key>>,
    /// What the solves read of the whole program besides callee summaries
    /// and declarations.
    pub facts: ProgramFacts,
    /// The groups of functions that call each other, each in the order
    /// its rounds solved them.
    pub groups: Vec<Vec<usize>>,
}

/// What every solve reads of the whole program besides callee summaries
/// and declarations: the named locks, and counters and signals by
/// directory.
#[derive(Clone, Debug, Default)]
pub struct ProgramFacts {
    /// Globals that are a named lock of the lock API (`rtnl_mutex` is RTNL).
    pub named_locks: HashMap<String, String>,
    /// Counters (semaphores given a count other than 1), by the directory
    /// whose files initialise them: a driver's own objects.
    pub counters: HashMap<PathBuf, HashSet<String>>,
    /// Signals between contexts (see [`signals`]), by directory.
    pub signals: HashMap<PathBuf, HashSet<String>>,
}

impl<O> Analysis<O> {
    /// The summary a call from function `caller` to `callee` applies: the
    /// primitive's, or the analysed function's.
    pub fn summary_of(&self, caller: usize, callee: &str) -> Option<&Summary> {
        let f = &self.program.functions[caller];
        self.program
            .primitive(&self.api, f.file, callee)
            .or_else(|| Some(&self.results[self.program.resolve(f.file, callee)?].summary))
    }
}

impl Program {
    /// The sources of the files whose report path is in `paths`, unpacked
    /// once each, by report path.
    pub fn sources_of(&self, paths: &HashSet<&str>) -> std::collections::BTreeMap<String, Vec<u8>> {
        self.files
            .iter()
            .map(|file| (file.report_path(), file))
            .filter(|(path, _)| paths.contains(path.as_str()))
            .map(|(path, file)| (path, file.source()))
            .collect()
    }

    /// The lock primitive a call from `file` to `name` is, unless the file
    /// defines its own static function of that name (a selftest's futex
    /// `mutex_lock()`): that one is called.
    pub fn primitive<'a>(&self, api: &'a LockApi, file: usize, name: &str) -> Option<&'a Summary> {
        let own = self
            .by_name
            .get(name)
            .into_iter()
            .flatten()
            .any(|&i| self.functions[i].file == file && self.functions[i].is_static);
        if own {
            None
        } else {
            api.primitive(name)
        }
    }

    /// The function a call from `file` to `name` reaches: a definition in the
    /// same file first, else a non-static one elsewhere, in the program the
    /// file is built into (a user-space tool's `arch_spin_lock()` stub never
    /// serves the kernel's headers).
    pub fn resolve(&self, file: usize, name: &str) -> Option<usize> {
        let program = self.files[file].program;
        let all = self.by_name.get(name)?;
        let candidates = || {
            all.iter()
                .copied()
                .filter(move |&i| self.files[self.functions[i].file].program == program)
        };
        let visible = |i: usize| {
            let f = &self.functions[i];
            // A static function in a header is compiled into every includer.
            !f.is_static
                || self.files[f.file]
                    .path
                    .extension()
                    .is_some_and(|e| e == "h")
        };
        // A definition in another file: an extern one before a header's
        // static inline, which is the stub of the other configuration
        // (`#else static inline int request_trusted_key(…) { return -EOPNOTSUPP; }`).
        candidates()
            .find(|&i| self.functions[i].file == file)
            .or_else(|| candidates().find(|&i| !self.functions[i].is_static))
            .or_else(|| candidates().find(|&i| visible(i)))
    }

    /// Every definition a call from `file` to `name` may reach: the one
    /// [`Program::resolve`] picks and the other definitions of that name in
    /// its file, the variants of an `#ifdef` (only one is compiled, any may
    /// be the one the call reaches).
    pub fn reachable(&self, file: usize, name: &str) -> impl Iterator<Item = usize> + '_ {
        let resolved = self.resolve(file, name);
        let home = resolved.map(|i| self.functions[i].file);
        resolved
            .and_then(|_| self.by_name.get(name))
            .into_iter()
            .flatten()
            .copied()
            .filter(move |&j| Some(self.functions[j].file) == home)
    }

    /// The declared type of what `path` designates inside function `f`, as
    /// far as declarations tell; `None` when something on the way is unknown.
    pub fn type_of(&self, f: &FunctionUnit, path: &Path) -> Option<TypeRef> {
        self.walk_type(f, path).ok()
    }

    /// The declared type along `path`: of all of it, or else (`Err`) of the
    /// longest prefix the declarations type, if any.
    fn walk_type(&self, f: &FunctionUnit, path: &Path) -> Result<TypeRef, Option<TypeRef>> {
        let root = path.root_var().ok_or(None)?;
        let mut ty = match f.declared(root) {
            Declared::Param(ty) => ty.cloned().ok_or(None)?,
            Declared::Local(ty) => ty.clone(),
            Declared::Outside => self.global_types.get(root).cloned().ok_or(None)?,
        };
        for step in &path.steps {
            let next = match step {
                Step::Deref => ty.pointers.checked_sub(1).map(|pointers| TypeRef {
                    pointers,
                    ..ty.clone()
                }),
                Step::Index => Some(TypeRef {
                    pointers: ty.pointers.saturating_sub(1),
                    ..ty.clone()
                }),
                Step::Call(_) | Step::Container(_) | Step::Flag(_) => None,
                Step::Field(name) => self
                    .records
                    .get(&ty.base)
                    .and_then(|r| r.get(name))
                    .cloned(),
            };
            ty = next.ok_or(Some(ty))?;
        }
        Ok(ty)
    }

    /// The record type owning the last field of `path` (`struct balloon_dev_info`
    /// for `b->b_dev_info.pages_lock`), if known.
    pub fn owner_of(&self, f: &FunctionUnit, path: &Path) -> Option<String> {
        self.type_of(f, &Self::owner_path(path)?).map(|t| t.base)
    }

    /// [`Program::owner_of`], or `void` where the way to that record goes
    /// through the pointee of a `void *` (`filp->driver_priv->…`): a record
    /// the declarations do not tell, which may be any.
    pub fn owner_or_untyped(&self, f: &FunctionUnit, path: &Path) -> Option<String> {
        match self.walk_type(f, &Self::owner_path(path)?) {
            Ok(owner) => Some(owner.base),
            Err(Some(t)) if t.base == "void" && t.pointers == 0 => Some(t.base),
            Err(_) => None,
        }
    }

    /// The path to the record owning the last field of `path`.
    fn owner_path(path: &Path) -> Option<Path> {
        let last_field = path
            .steps
            .iter()
            .rposition(|s| matches!(s, Step::Field(_)))?;
        Some(Path {
            root: path.root.clone(),
            steps: path.steps[..last_field].to_vec(),
        })
    }

    /// The locks, by name, that functions stored in fields named `field`
    /// are annotated to release (`__releases(RCU)`), leaving out those
    /// named by the function's own parameters.
    pub fn released_through_field(&self, field: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .stored_in_fields
            .get(field)
            .into_iter()
            .flatten()
            .flat_map(|name| self.by_name.get(name).into_iter().flatten())
            .flat_map(|&i| self.released_by_annotation(&self.functions[i]))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// [`Program::released_through_field`] of every field that stores a
    /// function annotated to release a lock: of any other field it is
    /// empty.
    pub fn released_through_fields(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = self
            .stored_in_fields
            .keys()
            .map(|field| (field.clone(), self.released_through_field(field)))
            .filter(|(_, released)| !released.is_empty())
            .collect();
        out.sort();
        out
    }

    /// The names of the functions (and function-like macros read as
    /// functions) of the tree, each with the program it is built into.
    pub fn function_names(&self) -> impl Iterator<Item = (usize, &str)> {
        self.functions
            .iter()
            .map(|f| (self.files[f.file].program, f.name.as_str()))
    }

    /// Whether `f` is annotated to release a lock its callers hold under
    /// the same name (see [`Program::released_through_field`]).
    pub fn releases_by_annotation(&self, f: &FunctionUnit) -> bool {
        !self.released_by_annotation(f).is_empty()
    }

    /// The locks, by name, that `f` is annotated to release
    /// (`__releases(RCU)`) other than those its parameters name: locks
    /// its callers hold under the same name.
    fn released_by_annotation(&self, f: &FunctionUnit) -> Vec<String> {
        self.annotations(f)
            .into_iter()
            .filter(|a| a.name == "__releases")
            .flat_map(|a| a.args)
            .filter_map(|arg| annotation_path(&arg, &f.params))
            .filter(|p| {
                p.root_var()
                    .is_none_or(|r| !f.params.iter().any(|q| q == r))
            })
            .map(|p| p.to_string())
            .collect()
    }

    /// Non-call references to `name` anywhere in the program.
    pub fn references(&self, name: &str) -> u32 {
        self.references.get(name).copied().unwrap_or(0)
    }

    /// Annotations of `f`, from its definition and every prototype.
    pub fn annotations(&self, f: &FunctionUnit) -> Vec<Annotation> {
        let mut anns = f.annotations.clone();
        for a in self
            .prototype_annotations
            .get(&f.name)
            .into_iter()
            .flatten()
        {
            if !anns.contains(a) {
                anns.push(a.clone());
            }
        }
        anns
    }

    /// The call edges of function `i`, resolved; calls to lock primitives
    /// apply the primitive's summary and are no edges. Also every
    /// definition each direct call may reach, a call site each.
    pub(crate) fn call_edges(&self, i: usize, names: &CallNames, api: &LockApi) -> CallEdges {
        let f = &self.functions[i];
        let calls = || names.sites.iter().filter(|s| !s.guard);
        let mut callees: Vec<usize> = calls()
            .filter(|s| {
                s.callee
                    .as_deref()
                    .is_none_or(|n| self.primitive(api, f.file, n).is_none())
            })
            // The callee, and functions passed as arguments (callbacks it may
            // run), are solved first.
            .flat_map(|s| {
                s.callee
                    .as_deref()
                    .into_iter()
                    .chain(s.passed.iter().map(String::as_str))
            })
            .filter_map(|name| self.resolve(f.file, name))
            .collect();
        callees.sort_unstable();
        callees.dedup();
        let sites = calls()
            .flat_map(|s| {
                s.callee
                    .iter()
                    .flat_map(|name| self.reachable(f.file, name))
            })
            .collect();
        (callees, sites)
    }

    /// The locks of a signal kind (see [`LockApi::is_signal_kind`]) that
    /// function `i` releases and those it takes, by their own names.
    fn signal_uses(&self, i: usize, names: &CallNames, api: &LockApi) -> SignalUses {
        let f = &self.functions[i];
        let mut uses = SignalUses::default();
        for (callee, releases, name) in &names.signal_effects {
            if self.primitive(api, f.file, callee).is_none() {
                continue;
            }
            match releases {
                true => uses.released.push(name.clone()),
                false => uses.taken.push(name.clone()),
            }
        }
        uses
    }
}

/// A function's callees (solved first), and every definition its direct
/// calls may reach, a call site each.
type CallEdges = (Vec<usize>, Vec<usize>);

/// What one function does with locks of a signal kind.
#[derive(Default)]
struct SignalUses {
    released: Vec<String>,
    taken: Vec<String>,
}

/// How far [`signals`] looks up the callers of a release, and down the
/// callees of each caller, for a function that takes the lock.
const SIGNAL_CALLER_DEPTH: usize = 6;
const SIGNAL_CALLEE_DEPTH: usize = 3;
const SIGNAL_VISITS: usize = 2_000;

/// The locks of a signal kind released by a context that never takes them:
/// a function releases one it does not take, and no function on a chain of
/// its callers takes it, itself or through its callees (`up(&dev->irq_sem)`
/// at the end of an interrupt handler, a timeout work item completing a
/// scan another work item started). An unlock wrapper is not one: its
/// callers took the lock through the matching lock wrapper. By the
/// directory of the releasing function's file.
fn signals(
    program: &Program,
    uses: &[SignalUses],
    callers_of: &[Vec<u32>],
    callees: &[Vec<usize>],
) -> HashMap<PathBuf, HashSet<String>> {
    // Whether `f`, or a callee within a few calls, takes `name`.
    let takes = |f: usize, name: &str| {
        let mut seen: HashSet<usize> = HashSet::from([f]);
        let mut level = vec![f];
        for _ in 0..=SIGNAL_CALLEE_DEPTH {
            if level
                .iter()
                .any(|&g| uses[g].taken.iter().any(|t| t == name))
            {
                return true;
            }
            level = level
                .iter()
                .flat_map(|&g| callees[g].iter().copied())
                .filter(|&c| seen.len() < SIGNAL_VISITS && seen.insert(c))
                .collect();
        }
        false
    };
    // Whether no caller chain of `f` takes `name`: `None` past the bounds.
    let never_taken_above = |f: usize, name: &str| {
        let mut seen: HashSet<usize> = HashSet::from([f]);
        let mut level = vec![f];
        for _ in 0..SIGNAL_CALLER_DEPTH {
            level = level
                .iter()
                .flat_map(|&g| callers_of[g].iter().map(|&c| c as usize))
                .filter(|&c| seen.insert(c))
                .collect();
            if level.is_empty() {
                return true;
            }
            if seen.len() > SIGNAL_VISITS || level.iter().any(|&c| takes(c, name)) {
                return false;
            }
        }
        false
    };
    let mut signals: HashMap<PathBuf, HashSet<String>> = HashMap::new();
    for (i, uses) in uses.iter().enumerate() {
        let Some(dir) = program.files[program.functions[i].file].path.parent() else {
            continue;
        };
        for name in uses.released.iter().filter(|n| !uses.taken.contains(n)) {
            if never_taken_above(i, name) {
                signals
                    .entry(dir.to_owned())
                    .or_default()
                    .insert(name.clone());
            }
        }
    }
    signals
}

/// Solves every function, callees before callers; `visitor` reads each
/// function's states once it is solved.
pub fn analyze<V: Visitor>(program: Program, api: &LockApi, visitor: &V) -> Analysis<V::Output> {
    analyze_memo(program, api, visitor, None)
}

/// [`analyze`], reusing from `cache` the result of every function whose
/// file is unchanged and whose solve would ask the same questions and get
/// the same answers (see [`crate::memo`]), and keeping what it solves.
pub fn analyze_with<V>(
    program: Program,
    api: &LockApi,
    visitor: &V,
    cache: Option<&dyn Cache>,
) -> Analysis<V::Output>
where
    V: Visitor,
    V::Output: serde::Serialize + serde::de::DeserializeOwned,
{
    let codec = crate::memo::Postcard;
    analyze_memo(
        program,
        api,
        visitor,
        cache.map(|c| Memos::<V::Output> {
            store: c,
            codec: &codec,
            visitor: std::any::type_name::<V>(),
        }),
    )
}

/// What solving one strongly connected component gave each member: its
/// result, the questions its solve asked, where it comes from.
pub(crate) type Solved<O> = Vec<(usize, FunctionResult<O>, Trace, Origin)>;

fn analyze_memo<V: Visitor>(
    program: Program,
    api: &LockApi,
    visitor: &V,
    memos: Option<Memos<'_, V::Output>>,
) -> Analysis<V::Output> {
    let n = program.functions.len();
    let named_locks = named_lock_objects(&program, api);
    let mut counters: HashMap<PathBuf, HashSet<String>> = HashMap::new();
    for file in &program.files {
        if let (Some(dir), false) = (file.path.parent(), file.counters.is_empty()) {
            counters
                .entry(dir.to_owned())
                .or_default()
                .extend(file.counters.iter().cloned());
        }
    }
    let (edges, uses): (Vec<CallEdges>, Vec<SignalUses>) = (0..n)
        .into_par_iter()
        .map(|i| {
            let names = program.functions[i].call_names();
            (
                program.call_edges(i, &names, api),
                program.signal_uses(i, &names, api),
            )
        })
        .unzip();
    let (callees, sites): (Vec<Vec<usize>>, Vec<Vec<usize>>) = edges.into_iter().unzip();
    let mut callers_of: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (caller, callee) in sites
        .iter()
        .enumerate()
        .flat_map(|(caller, s)| s.iter().map(move |&c| (caller, c)))
    {
        callers_of[callee].push(caller as u32);
    }
    drop(sites);
    let callers: Vec<u32> = callers_of.iter().map(|c| c.len() as u32).collect();
    let signals = signals(&program, &uses, &callers_of, &callees);
    drop(callers_of);
    drop(uses);
    let sccs = strongly_connected(&callees);
    let groups: Vec<Vec<usize>> = sccs.iter().filter(|m| m.len() > 1).cloned().collect();
    // Level of each SCC: one above its highest callee SCC.
    let mut scc_of = vec![0usize; n];
    for (s, members) in sccs.iter().enumerate() {
        for &m in members {
            scc_of[m] = s;
        }
    }
    let mut level = vec![0usize; sccs.len()];
    for (s, members) in sccs.iter().enumerate() {
        // Tarjan emits callee SCCs first, so their levels are final here.
        let l = members
            .iter()
            .flat_map(|&m| callees[m].iter())
            .filter(|&&c| scc_of[c] != s)
            .map(|&c| level[scc_of[c]] + 1)
            .max()
            .unwrap_or(0);
        level[s] = l;
    }
    let max_level = level.iter().copied().max().unwrap_or(0);
    let mut by_level: Vec<Vec<usize>> = vec![Vec::new(); max_level + 1];
    for (s, &l) in level.iter().enumerate() {
        by_level[l].push(s);
    }
    let mut by_file: Vec<Vec<usize>> = vec![Vec::new(); program.files.len()];
    for (i, f) in program.functions.iter().enumerate() {
        by_file[f.file].push(i);
    }
    let loaded = memos.as_ref().map(|m| m.load(&program, &by_file));
    let files_by_path: HashMap<String, u32> = match &loaded {
        Some(_) => program
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.report_path(), i as u32))
            .collect(),
        None => HashMap::new(),
    };
    let mut summaries: Vec<Option<Summary>> = vec![None; n];
    let mut summary_keys: Vec<Option<Key>> = vec![None; n];
    let mut results: Vec<FunctionResult<V::Output>> = (0..n).map(|_| Default::default()).collect();
    let mut traces: Vec<Trace> = vec![Trace::default(); n];
    let mut origin: Vec<Origin> = vec![Origin::Solved; n];
    crate::progress::functions_started(n);
    for sccs_here in &by_level {
        let shared = Shared {
            program: &program,
            api,
            base: &summaries,
            keys: &summary_keys,
            named_locks: &named_locks,
            counters: &counters,
            signals: &signals,
            files_by_path: &files_by_path,
            records: memos.is_some(),
        };
        let done: Vec<Solved<V::Output>> = sccs_here
            .par_iter()
            .map(|&s| {
                let members = &sccs[s];
                let reused = loaded
                    .as_ref()
                    .and_then(|loaded| reuse(&shared, members, loaded));
                let solved =
                    reused.unwrap_or_else(|| solve_component(&shared, visitor, members, &callees));
                crate::progress::functions_done(members.len());
                solved
            })
            .collect();
        // One copy of each summary: callers read it from `summaries` while
        // solving, and it moves into the result at the end.
        for (m, mut r, trace, from) in done.into_iter().flatten() {
            let summary = std::mem::take(&mut r.summary);
            if memos.is_some() {
                summary_keys[m] = Some(crate::memo::summary_key(&summary));
            }
            summaries[m] = Some(summary);
            results[m] = r;
            traces[m] = trace;
            origin[m] = from;
        }
    }
    for (result, summary) in results.iter_mut().zip(summaries) {
        result.summary = summary.unwrap_or_default();
    }
    if let Some(memos) = &memos {
        memos.save(&program, &by_file, &results, &traces, &origin);
    }
    Analysis {
        program,
        results,
        reused: origin.iter().filter(|&&o| o != Origin::Solved).count(),
        callers,
        api: api.clone(),
        traces: if memos.is_some() { traces } else { Vec::new() },
        summary_keys,
        facts: ProgramFacts {
            named_locks,
            counters,
            signals,
        },
        groups,
    }
}

/// The kept results of a strongly connected component, when every member
/// has one in the same variant of their files' entries and every question
/// its solve asked gets the same answer now (the members' own summaries
/// answered by the kept ones); newer variants are tried first.
fn reuse<O>(shared: &Shared<'_>, members: &[usize], loaded: &[Candidates<O>]) -> Option<Solved<O>> {
    let lock = |m: usize| loaded[m].lock().unwrap_or_else(|e| e.into_inner());
    let variants: Vec<u8> = lock(members[0]).iter().map(|(v, _)| *v).collect();
    for variant in variants {
        let take = |m: usize| {
            let mut candidates = lock(m);
            let at = candidates.iter().position(|(v, _)| *v == variant)?;
            Some(candidates.swap_remove(at).1)
        };
        let give_back = |kept: Vec<Box<Memo<O>>>| {
            for (&m, memo) in members.iter().zip(kept) {
                lock(m).push((variant, memo));
            }
        };
        let mut kept: Vec<Box<Memo<O>>> = Vec::with_capacity(members.len());
        for &m in members {
            match take(m) {
                Some(memo) => kept.push(memo),
                None => break,
            }
        }
        if kept.len() < members.len() {
            give_back(kept);
            continue;
        }
        let local: HashMap<usize, Summary> = members
            .iter()
            .zip(&kept)
            .map(|(&m, memo)| (m, memo.result.summary.clone()))
            .collect();
        let overlay = Overlay {
            shared,
            members,
            local: &local,
        };
        let holds = members
            .iter()
            .zip(&kept)
            .all(|(&m, memo)| crate::memo::holds(&memo.trace, &View::new(&overlay, m)));
        if !holds {
            give_back(kept);
            continue;
        }
        // The other variants' results are not needed any more.
        for &m in members {
            lock(m).clear();
        }
        return Some(
            members
                .iter()
                .zip(kept)
                .map(|(&m, memo)| (m, memo.result, memo.trace, Origin::Kept(variant)))
                .collect(),
        );
    }
    None
}

/// Solves a strongly connected component: recursive ones in rounds until
/// the summaries settle (bounded), each re-solving only members whose
/// callees' summaries changed.
fn solve_component<V: Visitor>(
    shared: &Shared<'_>,
    visitor: &V,
    members: &[usize],
    callees: &[Vec<usize>],
) -> Solved<V::Output> {
    solve_rounds(members, callees, |m, local| {
        let overlay = Overlay {
            shared,
            members,
            local,
        };
        analyze_function(&View::new(&overlay, m), visitor)
    })
}

/// The rounds of [`solve_component`]: `solve` solves one member with the
/// members' summaries of the rounds so far.
pub(crate) fn solve_rounds<O>(
    members: &[usize],
    callees: &[Vec<usize>],
    mut solve: impl FnMut(
        usize,
        &HashMap<usize, Summary>,
    ) -> (FunctionResult<O>, Vec<(Question, Answer)>),
) -> Solved<O> {
    let mut local: HashMap<usize, Summary> = HashMap::new();
    let mut solved: HashMap<usize, FunctionResult<O>> = HashMap::new();
    // Every round's questions: a later round may not ask what an earlier
    // one did, and the group's results follow from both.
    let mut asked: HashMap<usize, Vec<(Question, Answer)>> = HashMap::new();
    let recursive = members.len() > 1 || callees[members[0]].contains(&members[0]);
    let rounds = if recursive { MAX_SCC_ROUNDS } else { 1 };
    let mut dirty: Vec<usize> = members.to_vec();
    for _ in 0..rounds {
        let mut changed: HashSet<usize> = HashSet::new();
        for &m in &dirty {
            let (r, answers) = solve(m, &local);
            if local.get(&m) != Some(&r.summary) {
                changed.insert(m);
            }
            local.insert(m, r.summary.clone());
            solved.insert(m, r);
            asked.entry(m).or_default().extend(answers);
        }
        if changed.is_empty() {
            break;
        }
        dirty = members
            .iter()
            .copied()
            .filter(|&m| callees[m].iter().any(|c| changed.contains(c)))
            .collect();
    }
    solved
        .into_iter()
        .map(|(m, r)| {
            let trace = Trace::pack(asked.remove(&m).unwrap_or_default());
            (m, r, trace, Origin::Solved)
        })
        .collect()
}

/// Rounds over a recursive group of functions before its summaries are
/// taken as they stand.
const MAX_SCC_ROUNDS: usize = 4;

/// What every solve reads of the program besides its callees' summaries
/// being solved with it.
struct Shared<'a> {
    program: &'a Program,
    api: &'a LockApi,
    /// Summaries already final, and their content keys.
    base: &'a [Option<Summary>],
    keys: &'a [Option<Key>],
    /// Globals that are a named lock of the lock API (`rtnl_mutex` is RTNL).
    named_locks: &'a HashMap<String, String>,
    /// Counters (semaphores given a count other than 1), by the directory
    /// whose files initialise them: a driver's own objects.
    counters: &'a HashMap<PathBuf, HashSet<String>>,
    /// Signals between contexts (see [`signals`]), by directory.
    signals: &'a HashMap<PathBuf, HashSet<String>>,
    /// File indexes by report path (for kept results' questions).
    files_by_path: &'a HashMap<String, u32>,
    /// Results are kept between runs: each solve notes its questions, and
    /// each summary gets its content key.
    records: bool,
}

/// Summaries of the SCC being solved, over those already final.
struct Overlay<'a> {
    shared: &'a Shared<'a>,
    /// The functions solved together.
    members: &'a [usize],
    local: &'a HashMap<usize, Summary>,
}

/// The globals behind the named locks of the lock API, read off the
/// analysed bodies of the primitives that take them: `rtnl_lock()` is
/// `mutex_lock(&rtnl_mutex)`, so `rtnl_mutex` is RTNL, one lock under one
/// name.
fn named_lock_objects(program: &Program, api: &LockApi) -> HashMap<String, String> {
    let mut found: HashMap<String, Option<String>> = HashMap::new();
    for f in &program.functions {
        let Some(named) = api.primitive(&f.name).and_then(|s| {
            s.effects.iter().find_map(|e| match &e.lock.root {
                crate::summary::RefRoot::Named(n) => Some(n.clone()),
                _ => None,
            })
        }) else {
            continue;
        };
        let cfg = f.cfg();
        for op in &cfg.ops {
            let Op::Call(call) = op else { continue };
            let Some(summary) = call.callee.as_deref().and_then(|c| api.primitive(c)) else {
                continue;
            };
            for effect in &summary.effects {
                let Some(lock) = effect
                    .lock
                    .substitute(&call.args, call.result_lvalue.as_ref())
                else {
                    continue;
                };
                let Some(global) = lock
                    .root_var()
                    .filter(|g| lock.steps.is_empty() && cfg.is_global(g))
                else {
                    continue;
                };
                let entry = found
                    .entry(global.to_owned())
                    .or_insert(Some(named.clone()));
                if entry.as_deref() != Some(named.as_str()) {
                    *entry = None;
                }
            }
        }
    }
    found
        .into_iter()
        .filter_map(|(global, named)| Some((global, named?)))
        .collect()
}

/// The program as the solve of function `function` sees it.
struct View<'a> {
    program: &'a Program,
    api: &'a LockApi,
    function: &'a FunctionUnit,
    overlay: &'a Overlay<'a>,
}

impl<'a> View<'a> {
    fn new(overlay: &'a Overlay<'a>, index: usize) -> View<'a> {
        let program = overlay.shared.program;
        View {
            program,
            api: overlay.shared.api,
            function: &program.functions[index],
            overlay,
        }
    }
}

impl Summaries for View<'_> {
    fn summary(&self, callee: &str) -> Option<&Summary> {
        if let Some(primitive) = self.program.primitive(self.api, self.function.file, callee) {
            return Some(primitive);
        }
        let i = self.program.resolve(self.function.file, callee)?;
        self.overlay
            .local
            .get(&i)
            .or(self.overlay.shared.base[i].as_ref())
    }

    fn record_of(&self, lock: &Path) -> Option<String> {
        self.program.owner_or_untyped(self.function, lock)
    }

    fn type_of(&self, path: &Path) -> Option<String> {
        self.program
            .type_of(self.function, path)
            .filter(|t| t.pointers == 0 && t.record_tag().is_some())
            .map(|t| t.base)
    }

    fn named_lock(&self, global: &str) -> Option<&str> {
        self.overlay
            .shared
            .named_locks
            .get(global)
            .map(String::as_str)
    }

    fn is_signal_kind(&self, kind: &str) -> bool {
        self.api.is_signal_kind(kind)
    }

    fn external_declared_in(&self, callee: &str, file: u32) -> bool {
        self.program
            .declared
            .get(callee)
            .is_some_and(|files| files.contains(&file))
            && self.api.primitive(callee).is_none()
            && self.program.resolve(self.function.file, callee).is_none()
    }

    fn is_link(&self, callee: &str) -> bool {
        self.api.is_link(callee)
    }

    fn home_of(&self, callee: &str) -> Option<u32> {
        let i = self.program.resolve(self.function.file, callee)?;
        Some(self.program.functions[i].file as u32)
    }

    fn released_through_field(&self, field: &str) -> Vec<String> {
        self.program.released_through_field(field)
    }

    fn is_counter_or_signal(&self, lock: &Path, kind: Option<&str>) -> bool {
        let Some(dir) = self.program.files[self.function.file].path.parent() else {
            return false;
        };
        let Some(name) = lock.last_name() else {
            return false;
        };
        let named_in = |by_dir: &HashMap<PathBuf, HashSet<String>>| {
            by_dir.get(dir).is_some_and(|names| names.contains(name))
        };
        named_in(self.overlay.shared.counters)
            || (kind.is_some_and(|k| self.api.is_signal_kind(k))
                && named_in(self.overlay.shared.signals))
    }
}

impl Oracle for View<'_> {
    fn summary_key(&self, callee: &str) -> Option<Key> {
        if self
            .program
            .primitive(self.api, self.function.file, callee)
            .is_some()
        {
            // The lock API is in the configuration stamp: the name says it.
            return Some(lockwarden_cache::key_of("primitive", callee.as_bytes()));
        }
        let i = self.program.resolve(self.function.file, callee)?;
        match self.overlay.local.get(&i) {
            Some(summary) => Some(crate::memo::summary_key(summary)),
            None => self.overlay.shared.keys[i],
        }
    }

    fn member_home(&self, callee: &str) -> Option<String> {
        let i = self.program.resolve(self.function.file, callee)?;
        self.overlay
            .members
            .contains(&i)
            .then(|| self.file_path(self.program.functions[i].file as u32))
    }

    fn annotations_key(&self) -> Key {
        let annotations = self.program.annotations(self.function);
        lockwarden_cache::key_of(
            "annotations",
            &postcard::to_allocvec(&annotations).unwrap_or_default(),
        )
    }

    fn file_path(&self, file: u32) -> String {
        self.program.files[file as usize].report_path()
    }

    fn file_index(&self, path: &str) -> Option<u32> {
        self.overlay.shared.files_by_path.get(path).copied()
    }
}

/// Solves one function through `view`, recording what it asks.
fn analyze_function<V: Visitor>(
    view: &View<'_>,
    visitor: &V,
) -> (FunctionResult<V::Output>, Vec<(Question, Answer)>) {
    // Without a cache nothing keeps the questions: none are noted.
    let recorder = view.overlay.shared.records.then(|| Recorder::new(view));
    let asked: &dyn Summaries = match &recorder {
        Some(recorder) => recorder,
        None => view,
    };
    let annotations = view.program.annotations(view.function);
    let result = solve_function(view.function, &annotations, asked, visitor);
    (result, recorder.map(Recorder::answers).unwrap_or_default())
}

/// Solves function `f`, annotated with `annotations` (its definition's and
/// its prototypes'), asking `asked` about the rest of the program.
pub(crate) fn solve_function<V: Visitor>(
    f: &FunctionUnit,
    annotations: &[Annotation],
    asked: &dyn Summaries,
    visitor: &V,
) -> FunctionResult<V::Output> {
    let entry_held: Vec<Path> = annotations
        .iter()
        .filter(|a| matches!(a.name.as_str(), "__must_hold" | "__releases"))
        .flat_map(|a| a.args.iter())
        .filter_map(|arg| annotation_path(arg, &f.params))
        .collect();
    let cfg = f.cfg();
    let solution = solve(&cfg, &entry_held, asked);
    let exit_facts = exits(&cfg, &solution, &f.params, asked);
    let mut summary = summarize(&exit_facts, &f.params, &cfg, &solution, asked);
    summary.caller_scope = f.is_macro;
    let visited = visitor.visit(f, &Cursor::new(&cfg, &solution, asked), &exit_facts);
    FunctionResult {
        swaps_locks: same_count_on_every_exit(&cfg, &solution),
        summary,
        exits: exit_facts,
        incomplete: if cfg.incomplete {
            Some(Incomplete::Nesting)
        } else if solution.incomplete {
            Some(Incomplete::Budget)
        } else {
            None
        },
        entry_held,
        visited,
    }
}

/// The lock an annotation argument names: `&b->lock` and `b->lock` are the
/// field; a bare pointer parameter `ptl` is what it points to; a name the API
/// uses for an object-less lock (`RCU`) is that lock.
pub fn annotation_path(text: &str, params: &[String]) -> Option<Path> {
    let text = text.trim().trim_start_matches('&').trim();
    let text: String = text
        .chars()
        .filter(|c| !matches!(c, '(' | ')') && !c.is_whitespace())
        .collect();
    let (derefs, rest) = {
        let stars = text.chars().take_while(|&c| c == '*').count();
        (stars, &text[stars..])
    };
    let mut parts = rest.split("->");
    let first = parts.next()?;
    let mut segments = first.split('.');
    let root = segments.next()?;
    if root.is_empty() || !root.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let mut path = if root
        .chars()
        .all(|c| c.is_ascii_uppercase() || c == '_' || c == '-')
        && !params.iter().any(|p| p == root)
    {
        Path::named(root)
    } else {
        Path::var(root)
    };
    for seg in segments {
        path = path.push(Step::Field(seg.to_owned()));
    }
    for part in parts {
        let mut segs = part.split('.');
        path = path.push(Step::Deref);
        if let Some(f) = segs.next() {
            path = path.push(Step::Field(f.to_owned()));
        }
        for seg in segs {
            path = path.push(Step::Field(seg.to_owned()));
        }
    }
    for _ in 0..derefs {
        path = path.push(Step::Deref);
    }
    if path.steps.is_empty() && params.iter().any(|p| p == root) {
        path = path.push(Step::Deref);
    }
    Some(path)
}

/// Tarjan's algorithm, iteratively; SCCs come out callees first.
pub(crate) fn strongly_connected(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut sccs = Vec::new();
    let mut next = 0;
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(start, 0)];
        index[start] = next;
        low[start] = next;
        next += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (v, ref mut pos)) = call.last_mut() {
            if let Some(&w) = edges[v].get(*pos) {
                *pos += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut scc = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        scc.push(w);
                        if w == v {
                            break;
                        }
                    }
                    sccs.push(scc);
                }
            }
        }
    }
    sccs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarjan_orders_callees_first() {
        // 0 → 1 → 2 → 1, 0 → 3
        let edges = vec![vec![1, 3], vec![2], vec![1], vec![]];
        let sccs = strongly_connected(&edges);
        let pos = |x: usize| sccs.iter().position(|s| s.contains(&x)).unwrap();
        assert_eq!(pos(1), pos(2));
        assert!(pos(1) < pos(0) && pos(3) < pos(0));
    }

    #[test]
    fn annotation_paths() {
        let params = vec!["b".to_owned(), "ptl".to_owned()];
        assert_eq!(
            annotation_path("&b->pages_lock", &params)
                .unwrap()
                .to_string(),
            "b->pages_lock"
        );
        assert_eq!(annotation_path("ptl", &params).unwrap().to_string(), "*ptl");
        assert_eq!(annotation_path("RCU", &params).unwrap(), Path::named("RCU"));
        assert_eq!(
            annotation_path("balloon_lock", &params)
                .unwrap()
                .to_string(),
            "balloon_lock"
        );
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::api::LockApiConfig;
    use lockwarden_syntax::MacroConfig;

    #[derive(serde::Deserialize)]
    struct Files {
        #[serde(default)]
        syntax: MacroConfig,
        #[serde(default)]
        locks: LockApiConfig,
    }

    /// Analyses one C text with the project's built-in rule files.
    pub fn analyze_text(src: &str) -> Analysis {
        analyze_files(&[("t.c", src)])
    }

    /// The built-in macro vocabulary, compiled.
    pub fn macros() -> lockwarden_syntax::CompiledMacros {
        let syntax: Files = toml::from_str(include_str!("../../../rules/syntax.toml")).unwrap();
        syntax.syntax.compile()
    }

    /// Analyses C files, by root-relative path, with the built-in rule files.
    pub fn analyze_files(files: &[(&str, &str)]) -> Analysis {
        let locks: Files = toml::from_str(include_str!("../../../rules/locks.toml")).unwrap();
        let macros = macros();
        let api = locks.locks.compile();
        let files = files
            .iter()
            .map(|(path, src)| (PathBuf::from(path), src.as_bytes().to_vec()))
            .collect();
        let program = build(files, &macros, &api);
        analyze(program, &api, &NoVisitor)
    }

    /// The solved result of function `name`.
    pub fn result_of<'a>(a: &'a Analysis, name: &str) -> &'a FunctionResult<()> {
        let i = a
            .program
            .functions
            .iter()
            .position(|f| f.name == name)
            .unwrap_or_else(|| panic!("no function `{name}`"));
        &a.results[i]
    }

    /// The exit facts of function `name`, as `(lock, kind)` strings.
    pub fn exit_kinds(a: &Analysis, name: &str) -> Vec<(String, String)> {
        result_of(a, name)
            .exits
            .iter()
            .map(|e| (e.lock.to_string(), format!("{:?}", e.kind)))
            .collect()
    }
}

#[cfg(test)]
mod engine_tests {
    use super::test_support::*;

    #[test]
    fn a_call_resolves_within_its_program() {
        // A user-space tool's stub of a kernel function serves the tool only.
        let a = analyze_files(&[
            (
                "tools/include/linux/spinlock.h",
                "static inline void arch_spin_lock(struct lk *l) { pthread_mutex_lock(&l->m); }",
            ),
            (
                "include/linux/spinlock.h",
                "static inline void do_lock(struct lk *l) { arch_spin_lock(l); }",
            ),
            (
                "tools/lib/use.c",
                "void tool_lock(struct lk *l) { arch_spin_lock(l); }",
            ),
        ]);
        let callers_of = |name: &str| {
            let i = a.program.functions.iter().position(|f| f.name == name);
            a.callers[i.unwrap()]
        };
        assert_eq!(
            callers_of("arch_spin_lock"),
            1,
            "only the tool calls the stub"
        );
        let acquires = |name: &str| summary_of(&a, name).iter().any(|e| e.contains("acquires"));
        assert!(!acquires("do_lock"), "{:?}", summary_of(&a, "do_lock"));
        assert!(acquires("tool_lock"), "{:?}", summary_of(&a, "tool_lock"));
    }

    #[test]
    fn early_return_with_lock_held_is_inconsistent() {
        let a = analyze_text(
            "int f(struct foo *f, int a)\n{\n\tspin_lock(&f->lock);\n\tif (a)\n\t\treturn -EINVAL;\n\tspin_unlock(&f->lock);\n\treturn 0;\n}\n",
        );
        assert_eq!(
            exit_kinds(&a, "f"),
            vec![("f->lock".to_owned(), "Inconsistent".to_owned())]
        );
    }

    /// The summary of function `name`, in words.
    fn summary_of(a: &crate::Analysis, name: &str) -> Vec<String> {
        result_of(a, name)
            .summary
            .effects
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_wrapper_summarises_like_the_primitive_it_calls() {
        let a = analyze_text("void foo_lock(struct foo *f)\n{\n\tspin_lock(&f->lock);\n}\n");
        assert_eq!(
            summary_of(&a, "foo_lock"),
            vec!["acquires `arg0->lock` (spinlock)"]
        );
    }

    #[test]
    fn container_of_member_is_the_pointer_it_came_from() {
        let a = analyze_text(
            "struct shm { struct perm perm; };\n\
             void put(struct perm *ipcp)\n{\n\tstruct shm *shp = container_of(ipcp, struct shm, perm);\n\
             \tspin_unlock(&shp->perm.lock);\n}\n",
        );
        assert_eq!(
            summary_of(&a, "put"),
            vec!["releases `arg0->lock` (spinlock)"]
        );
    }

    #[test]
    fn an_accessor_call_in_a_lock_expression_names_the_argument_s_lock() {
        let a = analyze_text(
            "static inline struct xs *xs_sk(struct sock *sk)\n{\n\treturn (struct xs *)sk;\n}\n\
             void drop(struct sock *sk)\n{\n\tspin_unlock(&xs_sk(sk)->state_lock);\n}\n",
        );
        assert_eq!(
            summary_of(&a, "drop"),
            vec!["releases `arg0->state_lock` (spinlock)"]
        );
    }

    #[test]
    fn assigning_a_parameter_stores_nothing_the_caller_sees() {
        let a = analyze_text(
            "static struct dev *up(struct dev *dev)\n{\n\treturn dev->parent;\n}\n\
             static void walk(struct dev *dev)\n{\n\twhile (dev)\n\t\tdev = up(dev);\n}\n\
             void setter(struct args *args, struct dev *dev)\n{\n\targs->dev = up(dev);\n}\n",
        );
        assert!(result_of(&a, "walk").summary.stores.is_empty());
        assert_eq!(result_of(&a, "setter").summary.stores.len(), 1);
    }

    #[test]
    fn a_pointer_stored_by_a_setter_is_another_name_for_the_lock() {
        let a = analyze_text(
            "static void setup(struct args *args, spinlock_t *lock)\n{\n\targs->lock = lock;\n}\n\
             int start(struct table *t, struct args *args)\n{\n\tspin_lock(&t->lock);\n\tsetup(args, &t->lock);\n\treturn 0;\n}\n\
             void user(struct table *t)\n{\n\tstruct args args;\n\tstart(t, &args);\n\tspin_unlock(args.lock);\n}\n",
        );
        assert_eq!(exit_kinds(&a, "user"), Vec::<(String, String)>::new());
    }

    #[test]
    fn a_field_of_a_parameter_tested_before_the_lock_is_the_caller_s_condition() {
        let a = analyze_text(
            "void pipe_lock(struct pipe *pipe)\n{\n\tif (pipe->files)\n\t\tmutex_lock(&pipe->mutex);\n}\n",
        );
        assert_eq!(
            summary_of(&a, "pipe_lock"),
            vec!["acquires `arg0->mutex` if `arg0->files` is true (mutex)"]
        );
        // Tested under the lock, the field is the lock's data, not a condition.
        let a = analyze_text(
            "bool flush(struct q *q)\n{\n\tspin_lock(&q->lock);\n\tif (q->stopped)\n\t\treturn true;\n\
             \tspin_unlock(&q->lock);\n\treturn false;\n}\n",
        );
        assert_eq!(
            exit_kinds(&a, "flush"),
            vec![("q->lock".to_owned(), "Conditional(Nonzero)".to_owned())]
        );
    }

    #[test]
    fn an_index_returned_unless_negative_is_a_conditional_acquire_on_no_error() {
        let a = analyze_text(
            "int add(struct ids *ids, struct perm *new)\n{\n\tint idx;\n\n\tspin_lock(&new->lock);\n\
             \tidx = alloc_id(ids, new);\n\tif (idx < 0) {\n\t\tspin_unlock(&new->lock);\n\t\treturn idx;\n\t}\n\
             \treturn idx;\n}\n",
        );
        assert_eq!(
            summary_of(&a, "add"),
            vec!["acquires when it returns no error `arg1->lock` (spinlock)"]
        );
    }

    #[test]
    fn an_iterator_container_argument_is_evaluated_once() {
        let a = analyze_text(
            "static struct list_head *lock_items(struct ctx *ctx)\n{\n\tspin_lock(&ctx->lock);\n\treturn &ctx->items;\n}\n\
             void walk(struct ctx *ctx)\n{\n\tstruct item *it;\n\n\tfor_each_item(it, lock_items(ctx)) {\n\t\tit->n++;\n\t}\n\
             \tspin_unlock(&ctx->lock);\n}\n",
        );
        assert_eq!(exit_kinds(&a, "walk"), Vec::<(String, String)>::new());
    }
}

#[cfg(test)]
mod memo_tests {
    //! Results kept between runs: reused when nothing they asked changed,
    //! never when something did.
    use super::test_support::analyze_files;
    use super::*;
    use std::sync::Mutex;

    /// A cache in memory.
    #[derive(Default)]
    struct MemoryCache(Mutex<HashMap<(String, Key), Vec<u8>>>);

    impl Cache for MemoryCache {
        fn get(&self, kind: &str, key: &Key) -> Option<Vec<u8>> {
            let entries = self.0.lock().unwrap();
            entries.get(&(kind.to_owned(), *key)).cloned()
        }

        fn put(&self, kind: &str, key: &Key, payload: &[u8]) {
            let mut entries = self.0.lock().unwrap();
            entries.insert((kind.to_owned(), *key), payload.to_vec());
        }
    }

    /// The built-in rule files' configuration, as `analyze_files` uses it.
    fn analyze_cached(cache: &MemoryCache, files: &[(&str, &str)]) -> Analysis {
        let reference = analyze_files(files);
        let api = reference.api.clone();
        let macros = super::test_support::macros();
        let files = files
            .iter()
            .map(|(path, src)| (PathBuf::from(path), src.as_bytes().to_vec()))
            .collect();
        let lowered = LoweredCache {
            store: cache,
            stamp: lockwarden_cache::key_of("stamp", b"test"),
        };
        let program = build_with(files, &macros, &api, Some(lowered));
        let analysis = analyze_with(program, &api, &NoVisitor, Some(cache));
        // Reused or solved, every function's result is the one a run
        // without the cache gives.
        for (i, f) in analysis.program.functions.iter().enumerate() {
            let j = reference
                .program
                .functions
                .iter()
                .position(|g| g.name == f.name && g.span == f.span)
                .unwrap();
            assert_eq!(
                format!("{:?}", analysis.results[i]),
                format!("{:?}", reference.results[j]),
                "{}",
                f.name
            );
        }
        analysis
    }

    const CALLER: &str = "void caller(struct dev *d)\n{\n\tgrab(d);\n\td->n++;\n}\n";
    const GRAB: &str =
        "void grab(struct dev *d)\n{\n\tspin_lock(&d->lock);\n}\n\nint other(void)\n{\n\treturn 0;\n}\n";

    fn exit_of(a: &Analysis, name: &str) -> Vec<(String, String)> {
        super::test_support::exit_kinds(a, name)
    }

    #[test]
    fn an_unchanged_tree_reuses_every_result() {
        let cache = MemoryCache::default();
        let files = [("a.c", CALLER), ("b.c", GRAB)];
        assert_eq!(analyze_cached(&cache, &files).reused, 0);
        let again = analyze_cached(&cache, &files);
        assert_eq!(again.reused, again.program.functions.len());
    }

    #[test]
    fn a_callee_whose_summary_changes_re_solves_its_caller() {
        let cache = MemoryCache::default();
        let before = analyze_cached(&cache, &[("a.c", CALLER), ("b.c", GRAB)]);
        assert_eq!(exit_of(&before, "caller")[0].1, "Consistent(1)");
        let released = GRAB.replace(
            "spin_lock(&d->lock);",
            "spin_lock(&d->lock);\n\tspin_unlock(&d->lock);",
        );
        let after = analyze_cached(&cache, &[("a.c", CALLER), ("b.c", &released)]);
        assert_eq!(after.reused, 0);
        assert!(exit_of(&after, "caller").is_empty());
    }

    #[test]
    fn a_callee_re_solved_to_the_same_summary_leaves_its_caller_kept() {
        let cache = MemoryCache::default();
        analyze_cached(&cache, &[("a.c", CALLER), ("b.c", GRAB)]);
        // Another function of the callee's file changes: the file's
        // functions are solved again, their caller is not.
        let edited = GRAB.replace("return 0;", "return 1;");
        let after = analyze_cached(&cache, &[("a.c", CALLER), ("b.c", &edited)]);
        assert_eq!(after.reused, 1);
        assert_eq!(exit_of(&after, "caller")[0].1, "Consistent(1)");
    }

    #[test]
    fn a_callback_annotated_in_another_file_re_solves_callers_through_its_field() {
        let cache = MemoryCache::default();
        let caller =
            "struct ops { int (*attach)(void); };\nstruct dev { const struct ops *ops; };\n\
                      int attach_dev(struct dev *d)\n{\n\tint ret;\n\n\trcu_read_lock();\n\
                      \tret = d->ops->attach();\n\treturn ret;\n}\n";
        let impl_plain = "static int do_attach(void)\n{\n\treturn 0;\n}\n\
                          static const struct ops the_ops = { .attach = do_attach };\n";
        let before = analyze_cached(&cache, &[("a.c", caller), ("b.c", impl_plain)]);
        assert_eq!(exit_of(&before, "attach_dev")[0].1, "Consistent(1)");
        // The callback, in another file, is now annotated to drop RCU: the
        // caller's call through `->attach` may release it.
        let annotated = impl_plain.replace(
            "static int do_attach(void)\n{\n\treturn 0;",
            "static int do_attach(void)\n\t__releases(RCU)\n{\n\trcu_read_unlock();\n\treturn 0;",
        );
        let after = analyze_cached(&cache, &[("a.c", caller), ("b.c", &annotated)]);
        assert_eq!(after.reused, 0);
        assert_eq!(
            exit_of(&after, "attach_dev"),
            vec![("RCU".to_owned(), "Unknown".to_owned())]
        );
    }

    #[test]
    fn a_header_that_changes_a_callee_re_solves_its_caller() {
        let cache = MemoryCache::default();
        let header = "static inline void grab(struct dev *d)\n{\n\tspin_lock(&d->lock);\n}\n";
        let caller = format!("#include \"dev.h\"\n{CALLER}");
        let before = analyze_cached(&cache, &[("a.c", &caller), ("dev.h", header)]);
        assert_eq!(exit_of(&before, "caller")[0].1, "Consistent(1)");
        let header = header.replace("spin_lock", "spin_unlock");
        let after = analyze_cached(&cache, &[("a.c", &caller), ("dev.h", &header)]);
        assert_eq!(exit_of(&after, "caller")[0].1, "Consistent(-1)");
    }

    #[test]
    fn a_run_over_part_of_the_tree_and_one_over_all_of_it_keep_their_own_results() {
        let cache = MemoryCache::default();
        let whole = [("a.c", CALLER), ("b.c", GRAB)];
        let part = [("a.c", CALLER)];
        analyze_cached(&cache, &whole);
        // `grab()` is not analysed in the part: `caller` is solved again.
        assert_eq!(analyze_cached(&cache, &part).reused, 0);
        let again = analyze_cached(&cache, &whole);
        assert_eq!(again.reused, again.program.functions.len());
        assert_eq!(analyze_cached(&cache, &part).reused, 1);
    }

    #[test]
    fn recursive_groups_are_kept_and_checked_as_a_whole() {
        let cache = MemoryCache::default();
        let ping = "void ping(struct dev *d, int n)\n{\n\tif (n)\n\t\tpong(d, n - 1);\n}\n";
        let pong = "void pong(struct dev *d, int n)\n{\n\tspin_lock(&d->lock);\n\tping(d, n);\n}\n";
        let files = [("a.c", ping), ("b.c", pong)];
        analyze_cached(&cache, &files);
        assert_eq!(analyze_cached(&cache, &files).reused, 2);
        // One member changes: both are solved again.
        let pong = pong.replace("spin_lock", "spin_unlock");
        let after = analyze_cached(&cache, &[("a.c", ping), ("b.c", &pong)]);
        assert_eq!(after.reused, 0);
    }
}
