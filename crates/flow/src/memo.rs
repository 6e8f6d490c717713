//! Function results kept between runs, reused only once verified.
//!
//! A function's result depends on its lowered body, which its file's cache
//! key covers (path, text, configuration stamp, the headers' macros it names),
//! and on what the rest of the program answered while it was solved: its
//! callees' summaries, record and object types, named locks, counters and
//! signals, where a callee is defined and whether a header declares it,
//! the annotations of its prototypes, what the functions stored in a field
//! it calls through release. [`Recorder`] notes each question the
//! solve (and the visitor reading its states) asks, with its answer; the
//! result is kept with that [`Trace`], and a later run reuses it when the
//! file is unchanged and every question gets the same answer again
//! ([`holds`]): a verifying trace, as build systems and incremental
//! compilers keep them.
//!
//! A callee's summary is answered by its content key, so an edit re-solves
//! exactly the callers whose callees' summaries changed, and stops where a
//! re-solved function's summary comes out as before (an edit inside a
//! function that changes nothing its callers see). Which function a name
//! resolves to is no question of its own: the answer is the summary that
//! name reaches, wherever it is defined.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;

use lockwarden_cache::{key_of, Cache, Key, KeyBuilder};
use lockwarden_syntax::Span;
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::analysis::{FileUnit, FunctionResult, FunctionUnit, Program, Visitor};
use crate::dataflow::Summaries;
use crate::path::Path;
use crate::summary::Summary;

/// Something a solve asks of the program outside its function.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Question {
    /// The annotations on the function and its prototypes anywhere.
    Annotations,
    Summary(String),
    /// The callee is solved together with the function (a recursive
    /// group): which one it is, by the path of its file. Its summary is
    /// no question: the group's results follow from its members' bodies
    /// and what they asked outside it.
    MemberSummary(String),
    RecordOf(Path),
    TypeOf(Path),
    NamedLock(String),
    CounterOrSignal(Path, Option<String>),
    /// Whether the callee is declared by the file (by path) and not analysed.
    ExternalDeclaredIn(String, String),
    /// The path of the file defining the callee.
    HomeOf(String),
    /// The locks functions stored in fields of this name release.
    ReleasedThroughField(String),
}

/// What the program answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// A content key: of a summary, of the annotations.
    Key(Option<[u8; 32]>),
    Text(Option<String>),
    Flag(bool),
}

/// Every question one solve asked, with its answer, in a fixed order,
/// packed (postcard): kept for every function of a tree until its file's
/// results are written, and read once when they are reused.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Trace(Vec<u8>);

/// What answers a solve's questions: the solver's view of the program, and
/// the keys and paths a trace records instead of values and indexes.
pub trait Oracle: Summaries {
    /// The content key of the summary a call of `callee` applies.
    fn summary_key(&self, callee: &str) -> Option<Key>;
    /// The path of the file of `callee`'s definition, when it is solved
    /// together with the function.
    fn member_home(&self, callee: &str) -> Option<String>;
    /// The key of the function's annotations.
    fn annotations_key(&self) -> Key;
    /// The path of file `file`, and back.
    fn file_path(&self, file: u32) -> String;
    fn file_index(&self, path: &str) -> Option<u32>;
}

/// The content key of what a summary tells its callers: not where in the
/// function each effect happens (callers name their own call).
pub fn summary_seen_key(summary: &Summary) -> Key {
    let mut seen = summary.clone();
    for effect in &mut seen.effects {
        effect.site = None;
    }
    summary_key(&seen)
}

/// The content key of a summary.
pub fn summary_key(summary: &Summary) -> Key {
    key_of(
        "summary",
        &postcard::to_allocvec(summary).unwrap_or_default(),
    )
}

/// The answer `oracle` gives `question` now.
fn answer(oracle: &dyn Oracle, question: &Question) -> Answer {
    match question {
        Question::Annotations => Answer::Key(Some(oracle.annotations_key().0)),
        Question::Summary(callee) => Answer::Key(oracle.summary_key(callee).map(|k| k.0)),
        Question::MemberSummary(callee) => Answer::Text(oracle.member_home(callee)),
        Question::RecordOf(lock) => Answer::Text(oracle.record_of(lock)),
        Question::TypeOf(path) => Answer::Text(oracle.type_of(path)),
        Question::NamedLock(global) => Answer::Text(oracle.named_lock(global).map(str::to_owned)),
        Question::CounterOrSignal(lock, kind) => {
            Answer::Flag(oracle.is_counter_or_signal(lock, kind.as_deref()))
        }
        Question::ExternalDeclaredIn(callee, path) => Answer::Flag(
            oracle
                .file_index(path)
                .is_some_and(|file| oracle.external_declared_in(callee, file)),
        ),
        Question::HomeOf(callee) => {
            Answer::Text(oracle.home_of(callee).map(|f| oracle.file_path(f)))
        }
        Question::ReleasedThroughField(field) => {
            Answer::Text(Some(oracle.released_through_field(field).join("\n")))
        }
    }
}

/// Whether every question of `trace` gets the same answer from `oracle`.
pub fn holds(trace: &Trace, oracle: &dyn Oracle) -> bool {
    let Some(asked) = trace.questions() else {
        return false;
    };
    asked
        .iter()
        .all(|(question, recorded)| answer(oracle, question) == *recorded)
}

/// A [`Summaries`] view that answers through `oracle` and notes every
/// question and answer.
pub struct Recorder<'a> {
    oracle: &'a dyn Oracle,
    /// Callee summaries by name, apart: asked at every call, looked up
    /// without building a question.
    summaries: RefCell<HashMap<String, (Question, Answer)>>,
    others: RefCell<HashMap<Question, Answer>>,
}

impl<'a> Recorder<'a> {
    pub fn new(oracle: &'a dyn Oracle) -> Recorder<'a> {
        let recorder = Recorder {
            oracle,
            summaries: RefCell::default(),
            others: RefCell::default(),
        };
        recorder.note(Question::Annotations);
        recorder
    }

    /// Asks `question` once, noting the answer.
    fn note(&self, question: Question) {
        if !self.others.borrow().contains_key(&question) {
            let answer = answer(self.oracle, &question);
            self.others.borrow_mut().insert(question, answer);
        }
    }

    /// The questions asked, with their answers.
    pub fn answers(self) -> Vec<(Question, Answer)> {
        self.summaries
            .into_inner()
            .into_values()
            .chain(self.others.into_inner())
            .collect()
    }
}

impl Trace {
    /// The questions asked, with their answers; `None` when the trace
    /// cannot be read.
    pub fn questions(&self) -> Option<Vec<(Question, Answer)>> {
        postcard::from_bytes(&self.0).ok()
    }

    /// What the solve learnt of its callees (see [`Callees`]).
    pub fn callees(&self) -> Callees {
        let mut callees = Callees::default();
        for (q, a) in self.questions().unwrap_or_default() {
            match (q, a) {
                (Question::Summary(callee), Answer::Key(None)) => {
                    callees.unresolved.insert(callee);
                }
                (Question::Summary(_), Answer::Key(Some(key))) => callees.summaries.push(Key(key)),
                _ => {}
            }
        }
        callees
    }

    /// The questions of one or more solves of a function (the rounds of a
    /// recursive group), each once, sorted.
    pub fn pack(mut answers: Vec<(Question, Answer)>) -> Trace {
        answers.sort_by(|a, b| a.0.cmp(&b.0));
        answers.dedup_by(|a, b| a.0 == b.0);
        Trace(postcard::to_allocvec(&answers).unwrap_or_default())
    }
}

impl Summaries for Recorder<'_> {
    fn summary(&self, callee: &str) -> Option<&Summary> {
        if !self.summaries.borrow().contains_key(callee) {
            let question = match self.oracle.member_home(callee) {
                Some(_) => Question::MemberSummary(callee.to_owned()),
                None => Question::Summary(callee.to_owned()),
            };
            let answer = answer(self.oracle, &question);
            self.summaries
                .borrow_mut()
                .insert(callee.to_owned(), (question, answer));
        }
        self.oracle.summary(callee)
    }

    fn record_of(&self, lock: &Path) -> Option<String> {
        self.note(Question::RecordOf(lock.clone()));
        self.oracle.record_of(lock)
    }

    fn type_of(&self, path: &Path) -> Option<String> {
        self.note(Question::TypeOf(path.clone()));
        self.oracle.type_of(path)
    }

    fn named_lock(&self, global: &str) -> Option<&str> {
        self.note(Question::NamedLock(global.to_owned()));
        self.oracle.named_lock(global)
    }

    fn is_counter_or_signal(&self, lock: &Path, kind: Option<&str>) -> bool {
        self.note(Question::CounterOrSignal(
            lock.clone(),
            kind.map(str::to_owned),
        ));
        self.oracle.is_counter_or_signal(lock, kind)
    }

    // The lock API's own answers: the configuration stamp covers them.
    fn is_signal_kind(&self, kind: &str) -> bool {
        self.oracle.is_signal_kind(kind)
    }

    fn is_link(&self, callee: &str) -> bool {
        self.oracle.is_link(callee)
    }

    fn external_declared_in(&self, callee: &str, file: u32) -> bool {
        self.note(Question::ExternalDeclaredIn(
            callee.to_owned(),
            self.oracle.file_path(file),
        ));
        self.oracle.external_declared_in(callee, file)
    }

    fn home_of(&self, callee: &str) -> Option<u32> {
        self.note(Question::HomeOf(callee.to_owned()));
        self.oracle.home_of(callee)
    }

    fn released_through_field(&self, field: &str) -> Vec<String> {
        self.note(Question::ReleasedThroughField(field.to_owned()));
        self.oracle.released_through_field(field)
    }
}

/// One function's result as kept: which function, the questions its solve
/// asked, and what it produced.
#[derive(Serialize, Deserialize)]
pub struct Memo<O> {
    pub name: String,
    pub span: Span,
    pub trace: Trace,
    pub result: FunctionResult<O>,
}

/// [`Memo`] by reference, for writing (the same bytes).
#[derive(Serialize)]
pub struct MemoRef<'a, O> {
    pub name: &'a str,
    pub span: Span,
    pub trace: &'a Trace,
    pub result: &'a FunctionResult<O>,
}

/// How a file's memos become bytes and back; `None` for a visitor output
/// that cannot be kept.
pub trait MemoCodec<O>: Sync {
    fn encode(&self, memos: &[MemoRef<'_, O>]) -> Option<Vec<u8>>;
    fn decode(&self, bytes: &[u8]) -> Option<Vec<Memo<O>>>;
}

/// The codec of the cache: postcard.
pub struct Postcard;

impl<O: Serialize + DeserializeOwned> MemoCodec<O> for Postcard {
    fn encode(&self, memos: &[MemoRef<'_, O>]) -> Option<Vec<u8>> {
        postcard::to_allocvec(memos).ok()
    }

    fn decode(&self, bytes: &[u8]) -> Option<Vec<Memo<O>>> {
        postcard::from_bytes(bytes).ok()
    }
}

/// Where function results are kept between runs, and how.
pub(crate) struct Memos<'a, O> {
    pub store: &'a dyn Cache,
    pub codec: &'a dyn MemoCodec<O>,
    /// The visitor whose output the results carry.
    pub visitor: &'static str,
}

/// Entry kind of a file's function results in the cache.
const SOLVED: &str = "solved";

impl<O> Memos<'_, O> {
    /// The key of the results of `file`'s functions: its lowering's key
    /// and the visitor; `None` for a file lowered without the cache.
    fn key(&self, file: &FileUnit) -> Option<Key> {
        Some(
            KeyBuilder::new(SOLVED)
                .key(file.memo_key.as_ref()?)
                .part(self.visitor.as_bytes())
                .finish(),
        )
    }

    /// The kept results of every function of the program, where one of its
    /// file's entry's variants has one for it (same name and place), with
    /// the variant's index.
    pub(crate) fn load(&self, program: &Program, by_file: &[Vec<usize>]) -> Vec<Candidates<O>>
    where
        O: Send,
    {
        let mut loaded: Vec<Candidates<O>> = (0..program.functions.len())
            .map(|_| Mutex::new(Vec::new()))
            .collect();
        let found: Vec<(usize, u8, Box<Memo<O>>)> = program
            .files
            .par_iter()
            .enumerate()
            .flat_map_iter(|(file, unit)| {
                let functions = &by_file[file];
                self.variants(unit)
                    .into_iter()
                    .enumerate()
                    .flat_map(|(variant, bytes)| {
                        let memos = self.codec.decode(&bytes).unwrap_or_default();
                        let matching = memos.len() == functions.len();
                        functions
                            .iter()
                            .zip(memos)
                            .filter(move |(&i, memo)| {
                                let f = &program.functions[i];
                                matching && memo.name == f.name && memo.span == f.span
                            })
                            .map(move |(&i, memo)| (i, variant as u8, Box::new(memo)))
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        for (i, variant, memo) in found {
            loaded[i]
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .push((variant, memo));
        }
        loaded
    }

    /// The variants of `file`'s entry, newest first, each packed.
    fn variants(&self, file: &FileUnit) -> Vec<Vec<u8>> {
        self.key(file)
            .and_then(|key| self.store.get(SOLVED, &key))
            .and_then(|bytes| postcard::from_bytes(&bytes).ok())
            .unwrap_or_default()
    }

    /// Keeps the results of each file with a function solved afresh, as the
    /// newest variant of its entry; the newest earlier variant none of its
    /// results came from stays beside it (a run over another part of the
    /// tree), the others go.
    pub(crate) fn save(
        &self,
        program: &Program,
        by_file: &[Vec<usize>],
        results: &[FunctionResult<O>],
        traces: &[Trace],
        origin: &[Origin],
    ) where
        O: Sync,
    {
        program
            .files
            .par_iter()
            .enumerate()
            .for_each(|(file, unit)| {
                let functions = &by_file[file];
                if !functions.iter().any(|&i| origin[i] == Origin::Solved) {
                    return;
                }
                let Some(key) = self.key(unit) else { return };
                let memos: Vec<MemoRef<'_, O>> = functions
                    .iter()
                    .map(|&i| MemoRef {
                        name: &program.functions[i].name,
                        span: program.functions[i].span,
                        trace: &traces[i],
                        result: &results[i],
                    })
                    .collect();
                let Some(ours) = self.codec.encode(&memos) else {
                    return;
                };
                let used = |variant: usize| {
                    functions
                        .iter()
                        .any(|&i| origin[i] == Origin::Kept(variant as u8))
                };
                let other = self
                    .variants(unit)
                    .into_iter()
                    .enumerate()
                    .find(|(variant, _)| !used(*variant))
                    .map(|(_, bytes)| bytes);
                let variants: Vec<Vec<u8>> = std::iter::once(ours).chain(other).collect();
                if let Ok(bytes) = postcard::to_allocvec(&variants) {
                    self.store.put(SOLVED, &key, &bytes);
                }
            });
    }
}

/// The key of the traces of a file's functions, in order: which of its
/// entry's variants a run's results came from.
pub fn traces_key<'a>(traces: impl IntoIterator<Item = &'a Trace>) -> Key {
    let mut key = KeyBuilder::new("traces");
    for trace in traces {
        key.part(&trace.0);
    }
    key.finish()
}

/// The key of the results of the functions of the file lowered under
/// `lowered`, solved with visitor `V`.
fn solved_key<V: Visitor>(lowered: &Key) -> Key {
    KeyBuilder::new(SOLVED)
        .key(lowered)
        .part(std::any::type_name::<V>().as_bytes())
        .finish()
}

/// The traces of the functions of the file lowered under `lowered`, from
/// the variant of its kept results whose traces have key `traces` (see
/// [`traces_key`]).
pub fn kept_traces<V>(store: &dyn Cache, lowered: &Key, traces: &Key) -> Option<Vec<Trace>>
where
    V: Visitor,
    V::Output: DeserializeOwned,
{
    let variants: Vec<Vec<u8>> =
        postcard::from_bytes(&store.get(SOLVED, &solved_key::<V>(lowered))?).ok()?;
    variants.iter().find_map(|bytes| {
        let memos: Vec<Memo<V::Output>> = postcard::from_bytes(bytes).ok()?;
        let kept: Vec<Trace> = memos.into_iter().map(|m| m.trace).collect();
        (traces_key(&kept) == *traces).then_some(kept)
    })
}

/// Keeps the results of the functions of the file lowered under `lowered`
/// (solved alone, see [`crate::replay`]) as the newest variant of its
/// entry, for the next run to verify and reuse.
pub fn keep_file<V>(
    store: &dyn Cache,
    lowered: &Key,
    functions: &[FunctionUnit],
    results: &[FunctionResult<V::Output>],
    traces: &[Trace],
) where
    V: Visitor,
    V::Output: Serialize,
{
    let memos: Vec<MemoRef<'_, V::Output>> = functions
        .iter()
        .zip(results)
        .zip(traces)
        .map(|((f, result), trace)| MemoRef {
            name: &f.name,
            span: f.span,
            trace,
            result,
        })
        .collect();
    let Ok(ours) = postcard::to_allocvec(&memos) else {
        return;
    };
    if let Ok(bytes) = postcard::to_allocvec(&vec![ours]) {
        store.put(SOLVED, &solved_key::<V>(lowered), &bytes);
    }
}

/// What a solve learnt of its callees: the summaries it was answered, by
/// key, and the callees that have none (neither an analysed function nor a
/// lock primitive).
#[derive(Debug, Default)]
pub struct Callees {
    pub summaries: Vec<Key>,
    pub unresolved: std::collections::HashSet<String>,
}

/// A function's kept results, one per variant of its file's entry.
pub(crate) type Candidates<O> = Mutex<Vec<(u8, Box<Memo<O>>)>>;

/// Where a function's result of this run comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Solved,
    /// Kept in this variant of its file's entry.
    Kept(u8),
}
