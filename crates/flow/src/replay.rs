//! One file solved again without the rest of the program: its functions'
//! questions answered from what the last whole run answered them.
//!
//! When a `.c` file's bodies change and nothing it adds to the program's
//! tables does (see [`crate::analysis::tables_key`]), a question its
//! functions ask about the rest of the program has the answer it had in the
//! last whole run: the rest is unchanged. The traces that run kept for the
//! file's functions ([`crate::memo`]) hold those answers, and a callee's
//! summary is answered by key, its value given beside them. A question
//! about a path's type depends on the declaration of the path's root in
//! the asking function as well, which an edit may change: it is answered
//! only when the root is declared as it was where the question was asked.
//! A question no trace asked is not answered: the solve gives up, and the
//! caller runs the whole program.

use std::cell::RefCell;
use std::collections::HashMap;

use lockwarden_cache::Key;
use lockwarden_syntax::outline::TypeRef;

use crate::analysis::{
    solve_function, solve_rounds, strongly_connected, Annotation, Declared, FunctionResult,
    FunctionUnit, Program, Visitor,
};
use crate::api::LockApi;
use crate::dataflow::Summaries;
use crate::memo::{summary_key, Answer, Callees, Question, Trace};
use crate::path::Path;
use crate::summary::Summary;

/// How the function asking about a path declares the path's root.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum RootDecl {
    Param(Option<TypeRef>),
    Local(TypeRef),
    /// Not the function's own: a global, or no root.
    Elsewhere,
}

impl RootDecl {
    /// As [`Program::type_of`] finds the root's type in `f`.
    fn of(f: &FunctionUnit, path: &Path) -> RootDecl {
        match path.root_var().map(|root| f.declared(root)) {
            Some(Declared::Param(ty)) => RootDecl::Param(ty.cloned()),
            Some(Declared::Local(ty)) => RootDecl::Local(ty.clone()),
            Some(Declared::Outside) | None => RootDecl::Elsewhere,
        }
    }
}

/// The path a question about a path's type asks about.
fn asked_path(question: &Question) -> Option<&Path> {
    match question {
        Question::TypeOf(path) | Question::RecordOf(path) => Some(path),
        _ => None,
    }
}

/// The names of every function of a whole tree, each with the program it
/// is built into (calls resolve within one), as a Bloom filter: a name it
/// does not hold is no function's in that program, so a call of it
/// resolves to nothing; one it holds may be a function's.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FunctionNames {
    bits: Vec<u64>,
    /// The names, by [`name_hash`], whose every definition in their
    /// program is a quiet leaf (see [`FunctionNames::with_quiet`]).
    quiet: Vec<u128>,
}

/// A 128-bit hash of a function's name in a program: a set of them tells
/// names apart as the cache's keys tell contents apart.
fn name_hash((program, name): (usize, &str)) -> u128 {
    let key = lockwarden_cache::KeyBuilder::new("name")
        .part(&program.to_le_bytes())
        .part(name.as_bytes())
        .finish();
    u128::from_le_bytes(key.0[..16].try_into().unwrap_or_default())
}

/// Bits per name and probes per lookup: about one name in 300 that is no
/// function's still reads as one (and the file is checked with the rest).
const BITS_PER_NAME: usize = 12;
const PROBES: u64 = 8;

impl FunctionNames {
    pub fn of<'a>(names: impl Iterator<Item = (usize, &'a str)>) -> FunctionNames {
        let names: Vec<(usize, &str)> = names.collect();
        let words = (names.len() * BITS_PER_NAME).div_ceil(64).max(1);
        let mut filter = FunctionNames {
            bits: vec![0; words],
            quiet: Vec::new(),
        };
        for name in names {
            for bit in filter.probes(name) {
                filter.bits[bit / 64] |= 1 << (bit % 64);
            }
        }
        filter
    }

    /// The same names, with the names in `quiet`: functions whose every
    /// definition in their program any file's call reaches, has the empty
    /// summary, calls no analysed function and has nothing the rules
    /// report. A call of one applies the empty summary, and adding or
    /// removing one changes nothing for the rest of the program.
    pub fn with_quiet<'a>(
        mut self,
        quiet: impl Iterator<Item = (usize, &'a str)>,
    ) -> FunctionNames {
        self.quiet = quiet.map(name_hash).collect();
        self.quiet.sort_unstable();
        self.quiet.dedup();
        self
    }

    /// Whether `name` is quiet in `program` (see [`FunctionNames::with_quiet`]).
    pub fn is_quiet(&self, name: (usize, &str)) -> bool {
        self.quiet.binary_search(&name_hash(name)).is_ok()
    }

    /// Whether `name` may be a function's in `program`.
    pub fn may_hold(&self, name: (usize, &str)) -> bool {
        !self.bits.is_empty()
            && self
                .probes(name)
                .all(|bit| self.bits[bit / 64] & (1 << (bit % 64)) != 0)
    }

    fn probes(&self, name: (usize, &str)) -> impl Iterator<Item = usize> {
        use std::hash::BuildHasher;
        let hash = |seed: u64| foldhash::fast::FixedState::with_seed(seed).hash_one(name);
        let (h1, h2) = (hash(1), hash(2) | 1);
        let len = (self.bits.len() * 64) as u64;
        (0..PROBES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % len) as usize)
    }
}

/// What the last whole run answered the solves of one file's functions.
#[derive(Default)]
pub struct Answers {
    /// Questions about the rest of the program, whichever function asked.
    about_program: HashMap<Question, Answer>,
    /// Questions about a path, by how the asking function declared its root.
    about_paths: HashMap<(Question, RootDecl), Answer>,
    /// The values of the callee summaries the answers give by key.
    summaries: HashMap<Key, Summary>,
    empty: Summary,
    /// The whole program's functions: a callee no solve asked about that is
    /// none of them has no summary.
    functions: FunctionNames,
    /// What the whole program tells of any lock: answered here whoever
    /// asks.
    pub about_locks: AboutLocks,
}

/// What the whole program tells of the locks one file's functions name,
/// whatever lock they ask about: which globals are named locks, which
/// names are counters or signals in the file's directory, which locks the
/// functions stored in each field release.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct AboutLocks {
    pub named_locks: Vec<(String, String)>,
    pub counters_here: Vec<String>,
    pub signals_here: Vec<String>,
    pub released_through_fields: Vec<(String, Vec<String>)>,
}

impl Answers {
    /// The answers of `traces`, the traces of `functions` (the file's
    /// functions as that run lowered them, same order), with `summaries`,
    /// the values of the summaries they name by key; `None` when a trace
    /// cannot be read.
    pub fn of(
        functions: &[FunctionUnit],
        traces: &[Trace],
        summaries: HashMap<Key, Summary>,
        names: FunctionNames,
        about_locks: AboutLocks,
    ) -> Option<Answers> {
        let mut answers = Answers {
            summaries,
            functions: names,
            about_locks,
            ..Answers::default()
        };
        for (f, trace) in functions.iter().zip(traces) {
            for (question, answer) in trace.questions()? {
                match asked_path(&question).map(|p| RootDecl::of(f, p)) {
                    Some(root) => answers.about_paths.insert((question, root), answer),
                    None => answers.about_program.insert(question, answer),
                };
            }
        }
        Some(answers)
    }

    /// The callee summaries, by key, that solves were answered (see
    /// [`Trace::callees`]): what [`Answers::of`] needs beside their
    /// traces (the empty summary aside).
    pub fn summaries_named<'a>(callees: impl Iterator<Item = &'a Callees>) -> Vec<Key> {
        let empty = summary_key(&Summary::default());
        let mut keys: Vec<Key> = callees
            .flat_map(|c| c.summaries.iter().copied())
            .filter(|k| *k != empty)
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

/// The solve of each function of a one-file program, with the trace of
/// what it asked (same indexes).
pub type Replayed<O> = (Vec<FunctionResult<O>>, Vec<Trace>);

/// Solves every function of `program`, a program of one file, callees
/// first, answering what its solves ask about the rest of the program from
/// `answers`; `annotations` are each function's own and its prototypes'
/// (same indexes); `groups` the groups of the file's functions that call
/// each other, each in the order the last whole run solved it. An error as soon as a solve asks what `answers` cannot
/// answer (a function solved together with one of another file asks
/// such a question).
pub fn solve_file<V: Visitor>(
    program: &Program,
    api: &LockApi,
    visitor: &V,
    answers: &Answers,
    annotations: &[Vec<Annotation>],
    groups: &[Vec<u32>],
) -> Result<Replayed<V::Output>, Unanswered> {
    let n = program.functions.len();
    let callees: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            let names = program.functions[i].call_names();
            program.call_edges(i, &names, api).0
        })
        .collect();
    let mut done: Vec<Option<Summary>> = vec![None; n];
    let mut results: Vec<Option<FunctionResult<V::Output>>> = (0..n).map(|_| None).collect();
    let mut traces: Vec<Trace> = vec![Trace::default(); n];
    // Files other than this one, by the index its solves know them by.
    let Some(file) = program.files.first() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let files: RefCell<Vec<String>> = RefCell::new(vec![file.report_path()]);
    let missed: RefCell<Option<Question>> = RefCell::new(None);
    // A group of functions calling each other is solved in rounds, in the
    // order the whole program's walk found them: the order the last run
    // used, as long as the functions call what they called (the caller
    // checks that). A group reaching another file asks about a member
    // there, never answered here.
    for mut members in strongly_connected(&callees) {
        if members.len() > 1 {
            let mut sorted = members.clone();
            sorted.sort_unstable();
            members = groups
                .iter()
                .find(|g| {
                    let mut g: Vec<usize> = g.iter().map(|&m| m as usize).collect();
                    g.sort_unstable();
                    g == sorted
                })
                .map(|g| g.iter().map(|&m| m as usize).collect())
                .ok_or(Unanswered::Group)?;
        }
        let solved = solve_rounds(&members, &callees, |m, local| {
            let replay = Replay {
                program,
                api,
                function: &program.functions[m],
                annotations: &annotations[m],
                answers,
                members: &members,
                local,
                done: &done,
                files: &files,
                asked: RefCell::default(),
                missed: &missed,
            };
            replay.note(
                Question::Annotations,
                Answer::Key(Some(replay.annotations_key().0)),
            );
            let result = solve_function(replay.function, replay.annotations, &replay, visitor);
            (result, replay.asked.into_inner().into_iter().collect())
        });
        if let Some(question) = missed.take() {
            return Err(Unanswered::Question(question));
        }
        for (m, mut result, trace, _) in solved {
            done[m] = Some(std::mem::take(&mut result.summary));
            results[m] = Some(result);
            traces[m] = trace;
        }
    }
    let results = results
        .into_iter()
        .zip(done)
        .map(|(r, s)| {
            let mut r = r.unwrap_or_default();
            r.summary = s.unwrap_or_default();
            r
        })
        .collect();
    Ok((results, traces))
}

/// Why a file's functions cannot be solved from the last whole run's
/// answers.
#[derive(Debug)]
pub enum Unanswered {
    /// A solve asked this, which no solve of the file asked then.
    Question(Question),
    /// Functions of the file call each other, not as they did.
    Group,
}

/// The value of `key` in a table of pairs.
fn entry<'a, V>(table: &'a [(String, V)], key: &str) -> Option<&'a V> {
    table.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// The program as the solve of one function of a one-file program sees it.
struct Replay<'a> {
    program: &'a Program,
    api: &'a LockApi,
    function: &'a FunctionUnit,
    annotations: &'a [Annotation],
    answers: &'a Answers,
    /// The functions solved together with it, and their summaries so far.
    members: &'a [usize],
    local: &'a HashMap<usize, Summary>,
    /// The summaries of the file's functions solved before.
    done: &'a [Option<Summary>],
    files: &'a RefCell<Vec<String>>,
    /// What it asked, with the answers, for its trace.
    asked: RefCell<HashMap<Question, Answer>>,
    missed: &'a RefCell<Option<Question>>,
}

impl Replay<'_> {
    fn note(&self, question: Question, answer: Answer) {
        self.asked.borrow_mut().insert(question, answer);
    }

    fn annotations_key(&self) -> Key {
        lockwarden_cache::key_of(
            "annotations",
            &postcard::to_allocvec(&self.annotations).unwrap_or_default(),
        )
    }

    /// The last whole run's answer to `question`, noted; `None`, noted as
    /// missed, when it was not asked.
    fn recorded(&self, question: Question) -> Option<&Answer> {
        let answer = match asked_path(&question) {
            Some(path) => {
                let root = RootDecl::of(self.function, path);
                self.answers.about_paths.get(&(question.clone(), root))
            }
            None => self.answers.about_program.get(&question),
        };
        match answer {
            Some(answer) => self.note(question, answer.clone()),
            None => self.miss(question),
        }
        answer
    }

    fn miss(&self, question: Question) {
        self.missed.borrow_mut().get_or_insert(question);
    }

    fn text(&self, question: Question) -> Option<&str> {
        match self.recorded(question)? {
            Answer::Text(text) => text.as_deref(),
            _ => None,
        }
    }

    fn flag(&self, question: Question) -> bool {
        matches!(self.recorded(question), Some(Answer::Flag(true)))
    }

    /// The index the solve knows file `path` by.
    fn file_index(&self, path: &str) -> u32 {
        let mut files = self.files.borrow_mut();
        match files.iter().position(|p| p == path) {
            Some(i) => i as u32,
            None => {
                files.push(path.to_owned());
                files.len() as u32 - 1
            }
        }
    }
}

impl Summaries for Replay<'_> {
    fn summary(&self, callee: &str) -> Option<&Summary> {
        if let Some(primitive) = self.program.primitive(self.api, self.function.file, callee) {
            return Some(primitive);
        }
        if let Some(i) = self.program.resolve(self.function.file, callee) {
            // The file's own function: solved before, or with this one.
            let summary = self.local.get(&i).or(self.done[i].as_ref());
            let answer = if self.members.contains(&i) {
                let question = Question::MemberSummary(callee.to_owned());
                (question, Answer::Text(Some(self.files.borrow()[0].clone())))
            } else {
                let key = summary.map(|s| summary_key(s).0);
                (Question::Summary(callee.to_owned()), Answer::Key(key))
            };
            self.note(answer.0, answer.1);
            return summary;
        }
        let question = Question::Summary(callee.to_owned());
        if !self.answers.about_program.contains_key(&question) {
            let name = (self.program.files[self.function.file].program, callee);
            if !self.answers.functions.may_hold(name) {
                // No function of that name: what the whole run answers too.
                self.note(question, Answer::Key(None));
                return None;
            }
            if self.answers.functions.is_quiet(name) {
                let empty = &self.answers.empty;
                self.note(question, Answer::Key(Some(summary_key(empty).0)));
                return Some(empty);
            }
        }
        match self.recorded(question)? {
            Answer::Key(Some(key)) if *key == summary_key(&self.answers.empty).0 => {
                Some(&self.answers.empty)
            }
            Answer::Key(Some(key)) => {
                let value = self.answers.summaries.get(&Key(*key));
                if value.is_none() {
                    self.miss(Question::Summary(callee.to_owned()));
                }
                value
            }
            _ => None,
        }
    }

    fn record_of(&self, lock: &Path) -> Option<String> {
        self.text(Question::RecordOf(lock.clone()))
            .map(str::to_owned)
    }

    fn type_of(&self, path: &Path) -> Option<String> {
        self.text(Question::TypeOf(path.clone())).map(str::to_owned)
    }

    fn named_lock(&self, global: &str) -> Option<&str> {
        let named = entry(&self.answers.about_locks.named_locks, global).map(String::as_str);
        self.note(
            Question::NamedLock(global.to_owned()),
            Answer::Text(named.map(str::to_owned)),
        );
        named
    }

    fn is_counter_or_signal(&self, lock: &Path, kind: Option<&str>) -> bool {
        let about = &self.answers.about_locks;
        let answer = lock.last_name().is_some_and(|name| {
            about.counters_here.iter().any(|c| c == name)
                || (kind.is_some_and(|k| self.api.is_signal_kind(k))
                    && about.signals_here.iter().any(|s| s == name))
        });
        self.note(
            Question::CounterOrSignal(lock.clone(), kind.map(str::to_owned)),
            Answer::Flag(answer),
        );
        answer
    }

    fn is_signal_kind(&self, kind: &str) -> bool {
        self.api.is_signal_kind(kind)
    }

    fn is_link(&self, callee: &str) -> bool {
        self.api.is_link(callee)
    }

    fn external_declared_in(&self, callee: &str, file: u32) -> bool {
        let path = self.files.borrow().get(file as usize).cloned();
        path.is_some_and(|path| self.flag(Question::ExternalDeclaredIn(callee.to_owned(), path)))
    }

    fn home_of(&self, callee: &str) -> Option<u32> {
        let home = self.text(Question::HomeOf(callee.to_owned()))?.to_owned();
        Some(self.file_index(&home))
    }

    fn released_through_field(&self, field: &str) -> Vec<String> {
        let released = entry(&self.answers.about_locks.released_through_fields, field)
            .cloned()
            .unwrap_or_default();
        self.note(
            Question::ReleasedThroughField(field.to_owned()),
            Answer::Text(Some(released.join("\n"))),
        );
        released
    }
}

#[cfg(test)]
mod tests {
    use super::FunctionNames;

    #[test]
    fn every_name_added_is_held_and_few_others_are() {
        let names: Vec<String> = (0..5000).map(|i| format!("function_{i}")).collect();
        let filter = FunctionNames::of(names.iter().map(|n| (0, n.as_str())));
        assert!(names.iter().all(|n| filter.may_hold((0, n))));
        let others = (0..5000)
            .filter(|i| filter.may_hold((0, &format!("other_{i}"))))
            .count();
        assert!(others < 50, "{others} false positives in 5000");
        // A name is held in its own program only.
        let in_other_program = names.iter().filter(|n| filter.may_hold((1, n))).count();
        assert!(in_other_program < 50, "{in_other_program}");
        assert!(!FunctionNames::default().may_hold((0, "function_0")));
    }

    #[test]
    fn quiet_names_are_told_exactly() {
        let filter = FunctionNames::of(std::iter::once((0, "barrier")))
            .with_quiet(std::iter::once((0, "barrier")));
        assert!(filter.is_quiet((0, "barrier")));
        assert!(!filter.is_quiet((1, "barrier")));
        assert!(!filter.is_quiet((0, "barrier2")));
    }
}
