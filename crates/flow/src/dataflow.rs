//! The lock-set dataflow: for every node, how many times each lock is held
//! relative to function entry, at least (must) and at most (may).
//!
//! A lock's state is an interval of nesting depths `[min, max]` relative to
//! entry, so one map answers both "certainly held" (`min > 0`) and "possibly
//! held" (`max > 0`), and nesting locks (RCU) count depth. A lock the
//! function never touched is absent: its entry state is unknown, which is
//! what lets an unlock wrapper release a lock its caller holds. Try-lock
//! results wait in `pending` until a branch tests them.
//!
//! The analysis is path-sensitive on what branches learned: each state
//! records the truth of the variables and fields tested on its path
//! (`facts`), and states whose locks stand differently are kept apart with
//! their facts (up to [`MAX_DISJUNCTS`] per node), so `if (need_lock)
//! lock(); … if (need_lock) unlock();` balances, and a lock behind a
//! pointer known to be NULL does not exist on that path.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use lockwarden_syntax::Span;

use crate::api::Success;
use crate::cfg::{ArgPaths, Cfg, EdgeCond, NodeId, Op, TruthKey};
use crate::path::{Path, Step};
use crate::summary::{Change, LockRef, RefRoot, Summary};

mod liveness;

/// Depths are clamped to this, which keeps the lattice finite.
const MAX_DEPTH: i8 = 4;

/// States with different path facts kept apart at one node; beyond this
/// they are merged and the facts they disagree on forgotten.
pub const MAX_DISJUNCTS: usize = 8;

/// The most work [`solve`] does on one function, in state entries visited
/// (a few seconds, a few hundred MB at most).
const WORK_BUDGET: usize = 5_000_000;

/// The state of one lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Level {
    pub min: i8,
    pub max: i8,
    /// Acquired or released in this function on every path here.
    pub touched: bool,
    /// Known held on entry (annotation, assertion, or released untouched).
    pub asserted: bool,
    /// Held on entry because an assertion or annotation says callers hold it
    /// (`lockdep_assert_held()`, `__must_hold()`): a precondition.
    pub required: bool,
    pub recursive: bool,
    /// A callee changed it in a way its summary cannot say (held on some of
    /// its returns only): what this function does with it is not judged.
    pub unknown: bool,
    /// Stored where the caller sees it (`*foliop = folio`): the caller's
    /// business from here.
    pub handed_over: bool,
    /// Possibly held through a try-acquire whose result was never tested.
    pub untested: Option<Span>,
    /// Taken, or tried, by this function on some path: its own to release.
    pub owned: bool,
    pub acquired_at: Option<Span>,
    pub released_at: Option<Span>,
    /// The variable given the object the acquiring call returned (`rq =
    /// i915_request_create(ce)` takes `ce->timeline->mutex`): the lock
    /// may be released through that object by another name.
    pub carrier: Option<String>,
    /// The file whose analysed function took it (`queue_limits_start_update`
    /// in blkdev.h): a function that file declares may release it.
    pub acquired_in: Option<u32>,
    /// Its object was linked into a container callers reach
    /// (`list_add_tail(&obj->obj_link, &ww->obj_list)`): whoever walks the
    /// container releases it.
    pub linked: bool,
    /// A held test said nobody holds it, and the path has not touched it
    /// since (`if (WARN_ON(!mutex_is_locked(l))) return -EINVAL;` in an
    /// unlock helper): a path where the caller broke the precondition.
    pub absent: bool,
    /// A try whose result this key holds failed here: it may yet say the
    /// acquire context held the lock already (`ret == -EALREADY`).
    pub failed_in: Option<TruthKey>,
}

impl Level {
    pub fn untouched() -> Level {
        Level {
            min: 0,
            max: 0,
            touched: false,
            asserted: false,
            required: false,
            recursive: false,
            unknown: false,
            handed_over: false,
            untested: None,
            owned: false,
            acquired_at: None,
            released_at: None,
            carrier: None,
            acquired_in: None,
            linked: false,
            absent: false,
            failed_in: None,
        }
    }

    /// A held test said nobody holds it, and the path has not touched it
    /// since.
    pub fn known_absent(&self) -> bool {
        self.absent && !self.touched
    }

    /// Held depth on every path, counting what was held on entry.
    pub fn held_min(&self) -> i8 {
        self.min + i8::from(self.asserted)
    }

    pub fn held_max(&self) -> i8 {
        self.max + i8::from(self.asserted)
    }

    /// Never taken, dropped or asserted by this function: a release of it
    /// releases what the caller holds.
    pub fn is_callers(&self) -> bool {
        !self.touched && !self.asserted && self.min == 0 && self.max == 0
    }

    /// A callee may have taken or dropped it once: unknown, either way.
    fn may_have_changed(&mut self) {
        self.unknown = true;
        self.min = clamp(self.min - 1);
        self.max = clamp(self.max + 1);
    }

    /// The lock stands the same for rules on both (the fields that decide
    /// verdicts), so two paths may share a disjunct.
    fn same_standing(&self, other: &Level) -> bool {
        (
            self.min,
            self.max,
            self.touched,
            self.asserted,
            self.unknown,
            self.absent,
        ) == (
            other.min,
            other.max,
            other.touched,
            other.asserted,
            other.unknown,
            other.absent,
        )
    }

    /// Joins `other` into `self`; whether `self` changed.
    fn join(&mut self, other: &Level) -> bool {
        let joined = Level {
            min: self.min.min(other.min),
            max: self.max.max(other.max),
            touched: self.touched && other.touched,
            asserted: self.asserted || other.asserted,
            required: self.required || other.required,
            recursive: self.recursive || other.recursive,
            unknown: self.unknown || other.unknown,
            handed_over: self.handed_over || other.handed_over,
            untested: self.untested.or(other.untested),
            owned: self.owned || other.owned,
            acquired_at: self.acquired_at.or(other.acquired_at),
            released_at: self.released_at.or(other.released_at),
            carrier: self.carrier.clone().or_else(|| other.carrier.clone()),
            acquired_in: self.acquired_in.or(other.acquired_in),
            linked: self.linked || other.linked,
            absent: self.absent && other.absent,
            failed_in: self.failed_in.clone().or_else(|| other.failed_in.clone()),
        };
        let changed = joined != *self;
        *self = joined;
        changed
    }
}

/// A try-lock whose result has not been tested yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub key: TruthKey,
    /// A second place the result was stored, tested like `key`.
    pub alias: Option<TruthKey>,
    pub lock: Path,
    pub success: Success,
    pub site: Span,
    pub recursive: bool,
    pub kind: PendingKind,
}

/// What a pending result decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingKind {
    /// On success the lock is acquired (a try-lock).
    Acquire,
    /// On success the lock is released (a callee that drops the lock on
    /// failure).
    Release,
    /// On success the lock is held, and otherwise it is not
    /// (`mutex_is_locked()`).
    HeldTest,
}

/// The lock state at a program point.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// Shared until written (`locks_mut`): most nodes leave a state as it
    /// was, so a copy per node and path costs a count, not a map.
    pub locks: Arc<BTreeMap<Path, Level>>,
    pub pending: Vec<Pending>,
    /// The truth of tested variables and fields on this path.
    pub facts: Arc<BTreeMap<TruthKey, bool>>,
    /// Names that stand for another lock's object on this path: a pointer
    /// stored where it is read back (`args->lock = &t->lock` makes
    /// `*args->lock` the object `t->lock`). One lock, one name.
    pub aliases: Arc<BTreeMap<Path, Path>>,
}

impl State {
    pub fn locks_mut(&mut self) -> &mut BTreeMap<Path, Level> {
        Arc::make_mut(&mut self.locks)
    }

    pub fn facts_mut(&mut self) -> &mut BTreeMap<TruthKey, bool> {
        Arc::make_mut(&mut self.facts)
    }

    pub fn aliases_mut(&mut self) -> &mut BTreeMap<Path, Path> {
        Arc::make_mut(&mut self.aliases)
    }

    /// The same locks at the same standing, and the same pending results.
    fn same_locks(&self, other: &State) -> bool {
        self.locks.len() == other.locks.len()
            && self
                .locks
                .iter()
                .zip(other.locks.iter())
                .all(|((p, a), (q, b))| p == q && a.same_standing(b))
            && self.pending.len() == other.pending.len()
            && self.pending.iter().all(|p| {
                other
                    .pending
                    .iter()
                    .any(|q| q.key == p.key && q.lock == p.lock)
            })
    }

    /// Joins `other` into `self`: locks level by level (a lock absent on one
    /// side is untouched there), pending results united, facts kept where
    /// both agree. Whether `self` changed.
    fn join(&mut self, other: &State) -> bool {
        let mut changed = false;
        // A map shared with `other` joins into itself unchanged.
        if !Arc::ptr_eq(&self.locks, &other.locks) {
            let untouched = Level::untouched();
            for (key, level) in self.locks_mut().iter_mut() {
                changed |= level.join(other.locks.get(key).unwrap_or(&untouched));
            }
            for (key, level) in other.locks.iter() {
                if !self.locks.contains_key(key) {
                    let mut joined = Level::untouched();
                    joined.join(level);
                    self.locks_mut().insert(key.clone(), joined);
                    changed = true;
                }
            }
        }
        for p in &other.pending {
            if !self.pending.iter().any(|q| q.key == p.key) {
                self.pending.push(p.clone());
                changed = true;
            }
        }
        changed |= keep_agreed(&mut self.facts, &other.facts);
        changed | keep_agreed(&mut self.aliases, &other.aliases)
    }

    /// The one name of the lock `lock` designates on this path.
    pub fn canonical(&self, lock: &Path) -> Path {
        for (name, object) in self.aliases.iter() {
            if name.root == lock.root && lock.steps.starts_with(&name.steps) {
                let mut canonical = object.clone();
                canonical
                    .steps
                    .extend_from_slice(&lock.steps[name.steps.len()..]);
                return canonical;
            }
        }
        lock.clone()
    }

    /// The pointer `var` is a copy of on this path (`mi` for `ret` after `ret
    /// = mi;`, `sd->active_state` for `state = lock_and_get(sd)`), as its
    /// alias says.
    pub fn pointer_of(&self, var: &str) -> Option<Path> {
        let pointee = self.aliases.get(&Path::var(var).push(Step::Deref))?;
        let (last, rest) = pointee.steps.split_last()?;
        (*last == Step::Deref).then(|| Path {
            root: pointee.root.clone(),
            steps: rest.to_vec(),
        })
    }

    /// Whether `lock` exists on this path: no pointer on the way to it is
    /// known to be NULL, and its variable holds no error pointer (`if
    /// (IS_ERR_OR_NULL(p)) return;` before `down_write(&p->sem)`; a lookup
    /// handing back its object locked or an `ERR_PTR()`).
    pub fn lock_exists(&self, lock: &Path) -> bool {
        pointers_to(lock).all(|key| self.facts.get(&key) != Some(&false))
            && lock
                .root_var()
                .is_none_or(|v| self.facts.get(&TruthKey::Errno(v.to_owned())) != Some(&true))
    }

    /// When `lock` is not held but this path knows its root variable equals
    /// another one (`ptl == pml`) whose same lock is held: that lock.
    fn equal_held(&self, lock: &Path) -> Option<Path> {
        let root = lock.root_var()?;
        if self.locks.get(lock).is_some_and(|l| l.max > 0) {
            return None;
        }
        self.facts.iter().find_map(|(key, truth)| {
            let TruthKey::Cond { text, vars } = key else {
                return None;
            };
            let [a, b] = vars.as_slice() else {
                return None;
            };
            let other = if a == root {
                b
            } else if b == root {
                a
            } else {
                return None;
            };
            let equal = text == &format!("{a}=={b}") || text == &format!("{b}=={a}");
            if !equal || !*truth {
                return None;
            }
            let candidate = Path {
                root: crate::path::Root::Var(other.clone()),
                steps: lock.steps.clone(),
            };
            self.locks
                .get(&candidate)
                .is_some_and(|l| l.max > 0)
                .then_some(candidate)
        })
    }

    /// The levels of locks whose path ends in a field `wanted` accepts
    /// (`page_lock` of whatever object).
    fn levels_with_field<'s>(
        &'s mut self,
        wanted: impl Fn(&str) -> bool + 's,
    ) -> impl Iterator<Item = &'s mut Level> + 's {
        self.locks_mut()
            .iter_mut()
            .filter_map(move |(path, level)| match path.steps.last() {
                Some(crate::path::Step::Field(f)) if wanted(f) => Some(level),
                _ => None,
            })
    }

    /// The levels of locks reachable from the objects a call is given:
    /// those under what an argument points to (`dev` reaches `dev->lock`,
    /// `&dev->sub` reaches `dev->sub.lock`, `folio` its page lock).
    fn levels_reachable<'s>(
        &'s mut self,
        args: &[ArgPaths],
    ) -> impl Iterator<Item = &'s mut Level> + 's {
        let objects = given_objects(args);
        self.locks_mut()
            .iter_mut()
            .filter(move |(path, _)| reachable_from(&objects, path))
            .map(|(_, level)| level)
    }

    /// The locks held on this path that a call given `args` reaches (see
    /// [`State::levels_reachable`]): a call through a pointer may drop them.
    pub fn held_reachable<'s>(&'s self, args: &[ArgPaths]) -> impl Iterator<Item = &'s Path> + 's {
        let objects = given_objects(args);
        self.locks
            .iter()
            .filter(move |(path, level)| level.max > 0 && reachable_from(&objects, path))
            .map(|(path, _)| path)
    }

    /// The locks that are a field of an object the arguments point to
    /// (`q->limits_lock` for `q`).
    fn levels_owned_by<'s>(
        &'s mut self,
        args: &[ArgPaths],
    ) -> impl Iterator<Item = &'s mut Level> + 's {
        // By the name the object has here, too (`sdkp` read from
        // `container_of(dev, …)`).
        let objects: Vec<Path> = args
            .iter()
            .filter_map(|a| a.pointee.as_ref())
            .flat_map(|p| [p.clone(), self.canonical(p)])
            .collect();
        self.locks_mut()
            .iter_mut()
            .filter(move |(path, _)| path.owner().is_some_and(|owner| objects.contains(&owner)))
            .map(|(_, level)| level)
    }

    /// The level of `lock`, or an untouched one.
    pub fn level(&self, lock: &Path) -> Level {
        self.locks
            .get(lock)
            .cloned()
            .unwrap_or_else(Level::untouched)
    }

    /// The level of `lock` on this path, made untouched if it has none.
    fn level_entry(&mut self, lock: &Path) -> &mut Level {
        self.locks_mut()
            .entry(lock.clone())
            .or_insert_with(Level::untouched)
    }

    /// Forgets what was known of `key` and everything under it.
    fn kill(&mut self, key: &TruthKey) {
        if self.facts.keys().any(|k| key.covers(k)) {
            self.facts_mut().retain(|k, _| !key.covers(k));
        }
    }
}

/// Keeps the entries of `map` that `other` has alike; whether any went.
/// The map is copied only when one goes.
fn keep_agreed<K: Ord + Clone, V: PartialEq + Clone>(
    map: &mut Arc<BTreeMap<K, V>>,
    other: &BTreeMap<K, V>,
) -> bool {
    let agreed = |k: &K, v: &V| other.get(k) == Some(v);
    if map.iter().all(|(k, v)| agreed(k, v)) {
        return false;
    }
    Arc::make_mut(map).retain(|k, v| agreed(k, v));
    true
}

/// The states reaching one node: kept apart by their path facts.
#[derive(Clone, Debug, Default)]
pub struct Disjuncts {
    pub states: Vec<State>,
    /// Whether each state has been carried across the node as it is now: a
    /// visit of the node transfers only the others (its successors hold
    /// what the rest gave them already).
    carried: Vec<bool>,
    /// How alike two states must be to merge here; it only loosens, once
    /// too many states met here.
    merging: Merging,
}

/// How alike two states reaching one node must be to be merged: the
/// locks always, and of the path facts, fewer and fewer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Merging {
    /// Every fact (no merging).
    #[default]
    Exact,
    /// The facts read ahead or by the summary at the returns.
    Read,
    /// The facts read ahead.
    ReadAhead,
    /// None: the locks alone, facts kept where both agree (property
    /// simulation, as in ESP).
    Locks,
    /// Everything is one state.
    All,
}

impl Merging {
    fn looser(self) -> Merging {
        match self {
            Merging::Exact => Merging::Read,
            Merging::Read => Merging::ReadAhead,
            Merging::ReadAhead => Merging::Locks,
            Merging::Locks | Merging::All => Merging::All,
        }
    }

    /// Whether `a` and `b` merge; `matters` says whether a fact about a key
    /// can matter from here (with the returns' or not).
    fn alike(
        self,
        a: &State,
        b: &State,
        matters: &dyn Fn(&TruthKey, bool) -> bool,
        exclusive: &crate::cfg::Exclusive,
    ) -> bool {
        // `mode == A` matters where `mode == B` is read and one of the
        // states does not know it already.
        let read = |k: &TruthKey, with_returns: bool| {
            matters(k, with_returns)
                || exclusive.others(k).any(|other| {
                    matters(other, with_returns)
                        && (!a.facts.contains_key(other) || !b.facts.contains_key(other))
                })
        };
        let agree = |with_returns: bool| {
            a.facts
                .keys()
                .chain(b.facts.keys())
                .all(|k| a.facts.get(k) == b.facts.get(k) || !read(k, with_returns))
        };
        match self {
            Merging::Exact => a.facts == b.facts && a.aliases == b.aliases && a.same_locks(b),
            Merging::Read | Merging::ReadAhead => {
                a.aliases == b.aliases && a.same_locks(b) && agree(self == Merging::Read)
            }
            Merging::Locks => a.same_locks(b),
            Merging::All => true,
        }
    }
}

impl Disjuncts {
    /// Adds `state`; returns whether anything changed.
    ///
    /// Paths stay apart when their facts or their locks differ. Past
    /// [`MAX_DISJUNCTS`], states are merged that agree on their locks and
    /// on every fact read ahead or at the returns, then on every fact read
    /// ahead (`matters`), then on their locks alone, keeping the facts they
    /// share; only then is everything merged.
    fn add(
        &mut self,
        state: State,
        matters: &dyn Fn(&TruthKey, bool) -> bool,
        exclusive: &crate::cfg::Exclusive,
    ) -> bool {
        let merging = self.merging;
        if let Some(i) = self
            .states
            .iter()
            .position(|d| merging.alike(d, &state, matters, exclusive))
        {
            let changed = self.states[i].join(&state);
            self.carried[i] &= !changed;
            return changed;
        }
        self.states.push(state);
        self.carried.push(false);
        while self.states.len() > MAX_DISJUNCTS {
            self.merging = self.merging.looser();
            let mut merged: Vec<State> = Vec::new();
            let mut carried: Vec<bool> = Vec::new();
            let states = std::mem::take(&mut self.states);
            for (s, was_carried) in states.into_iter().zip(std::mem::take(&mut self.carried)) {
                match merged
                    .iter()
                    .position(|m| self.merging.alike(m, &s, matters, exclusive))
                {
                    Some(m) => {
                        let changed = merged[m].join(&s);
                        carried[m] &= !changed;
                    }
                    None => {
                        merged.push(s);
                        carried.push(was_carried);
                    }
                }
            }
            self.states = merged;
            self.carried = carried;
        }
        true
    }

    /// The states not yet carried across the node, marked carried.
    fn take_uncarried(&mut self) -> Vec<State> {
        let mut out = Vec::new();
        for (state, carried) in self.states.iter().zip(self.carried.iter_mut()) {
            if !*carried {
                *carried = true;
                out.push(state.clone());
            }
        }
        out
    }
}

/// The solved dataflow of one function.
#[derive(Clone, Debug, Default)]
pub struct Solution {
    /// The in-states of every node (empty where unreached).
    pub states: Vec<Disjuncts>,
    /// The iteration bound was hit: the states may not be a fixpoint.
    pub incomplete: bool,
    /// Lock kinds calls in the function may drop out of sight.
    pub may_drop: Vec<String>,
    /// Lock fields callbacks run by calls here may release.
    pub callback_fields: Vec<String>,
}

/// How a function sees its callees' summaries (lock primitives and
/// analysed functions alike), and the types of what it names.
pub trait Summaries {
    fn summary(&self, callee: &str) -> Option<&Summary>;

    /// The record type whose field `lock` ends in, as far as declarations
    /// in the analysed code tell; `void` where the way to it goes through
    /// the pointee of a `void *`, a record they do not tell.
    fn record_of(&self, _lock: &Path) -> Option<String> {
        None
    }

    /// The type of the object `path` names (`struct sock` for `*sk`), as
    /// far as declarations in the analysed code tell.
    fn type_of(&self, _path: &Path) -> Option<String> {
        None
    }

    /// The named lock of the lock API a global is (`rtnl_mutex` is RTNL).
    fn named_lock(&self, _global: &str) -> Option<&str> {
        None
    }

    /// Whether `lock` (of `kind`) is a counter or a signal, not a lock: the
    /// code gives it a count other than 1 (`sema_init(&dc->in_flight, 64)`),
    /// or a context that did not take it releases it.
    fn is_counter_or_signal(&self, _lock: &Path, _kind: Option<&str>) -> bool {
        false
    }

    /// Whether locks of `kind` have no owner (a semaphore): any context
    /// may release them.
    fn is_signal_kind(&self, _kind: &str) -> bool {
        false
    }

    /// Whether `callee` is declared in `file` but its body is not in the
    /// analysed code.
    fn external_declared_in(&self, _callee: &str, _file: u32) -> bool {
        false
    }

    /// The file of the analysed function `callee` calls here.
    fn home_of(&self, _callee: &str) -> Option<u32> {
        None
    }

    /// The locks, by name, that the functions the program stores in fields
    /// named `field` are annotated to release (`__releases(RCU)`): a call
    /// through such a field may release them.
    fn released_through_field(&self, _field: &str) -> Vec<String> {
        Vec::new()
    }

    /// Whether `callee` links an object into a container.
    fn is_link(&self, _callee: &str) -> bool {
        false
    }
}

/// Solves the dataflow of `cfg`; `entry_held` are locks annotated as held on entry.
pub fn solve(cfg: &Cfg, entry_held: &[Path], summaries: &dyn Summaries) -> Solution {
    let mut entry = State::default();
    for lock in entry_held {
        let mut level = Level::untouched();
        level.asserted = true;
        level.required = true;
        entry.locks_mut().insert(lock.clone(), level);
    }
    let mut calls = Calls::new(cfg, summaries);
    let tracked = tracked_keys(cfg, &calls);
    let (mut states, mut incomplete) = fixpoint(cfg, &entry, &calls, &tracked);
    // Double-checked locking is seen once the locks are known: the shared
    // data written under a lock this function takes is solved again, with
    // what was learned of it before each acquire of that lock forgotten.
    if !incomplete {
        let written = written_under_lock(cfg, &states, &tracked);
        if !written.is_empty() {
            calls.written_under_lock = written;
            (states, incomplete) = fixpoint(cfg, &entry, &calls, &tracked);
        }
    }
    let mut callback_fields: Vec<String> = calls.callback_fields.into_values().flatten().collect();
    callback_fields.sort();
    callback_fields.dedup();
    Solution {
        states,
        incomplete,
        may_drop: calls.may_drop,
        callback_fields,
    }
}

/// Runs the worklist to a fixpoint from `entry`: the in-states of every
/// node, and whether the bound was hit first.
fn fixpoint(
    cfg: &Cfg,
    entry: &State,
    calls: &Calls<'_>,
    tracked: &HashSet<TruthKey>,
) -> (Vec<Disjuncts>, bool) {
    let n = cfg.ops.len();
    let mut states: Vec<Disjuncts> = vec![Disjuncts::default(); n];
    states[cfg.entry as usize].add(entry.clone(), &|_, _| true, &cfg.exclusive);
    let mut work: BTreeSet<NodeId> = BTreeSet::from([cfg.entry]);
    // Built the first time some node has too many states.
    let liveness = std::cell::OnceCell::new();
    let bound = 64 * n + 1000;
    let mut visits = 0;
    let mut incomplete = false;
    // The work done, state sizes included: thousands of tests of a
    // parameter against constants (`if (x == 17 && y)` …) give every state
    // thousands of facts, and every node such states (quadratic in time and
    // memory). Past the budget the function is left incomplete, and says so.
    let mut work_done: usize = 0;
    while let Some(node) = work.pop_first() {
        visits += 1;
        if visits > bound || work_done > WORK_BUDGET {
            incomplete = true;
            break;
        }
        for mut state in states[node as usize].take_uncarried() {
            work_done += 1 + state.facts.len() + state.locks.len() + state.aliases.len();
            let alternative = transfer(cfg, node, &mut state, calls);
            for mut state in std::iter::once(state).chain(alternative) {
                if state.facts.keys().any(|k| !tracked.contains(k)) {
                    state.facts_mut().retain(|k, _| tracked.contains(k));
                }
                let succs = &cfg.succs[node as usize];
                for (k, edge) in succs.iter().enumerate() {
                    // The last successor takes the state itself.
                    let mut out = if k + 1 == succs.len() {
                        std::mem::take(&mut state)
                    } else {
                        state.clone()
                    };
                    let matters = |key: &TruthKey, with_returns: bool| {
                        liveness
                            .get_or_init(|| liveness::Liveness::new(cfg, calls, tracked))
                            .as_ref()
                            .is_none_or(|l| l.matters(edge.to, key, with_returns))
                    };
                    if apply_edge(&mut out, &edge.cond, tracked, &cfg.exclusive)
                        && states[edge.to as usize].add(out, &matters, &cfg.exclusive)
                    {
                        work.insert(edge.to);
                    }
                }
            }
        }
    }
    (states, incomplete)
}

/// The shared data (through a pointer, or a global) that tracked tests
/// read and the function writes while holding, on every path there, a lock
/// it took: each with that lock.
fn written_under_lock(
    cfg: &Cfg,
    states: &[Disjuncts],
    tracked: &HashSet<TruthKey>,
) -> Vec<(Path, TruthKey)> {
    let mut written = Vec::new();
    for (node, op) in cfg.ops.iter().enumerate() {
        let Op::Assign { key, .. } = op else { continue };
        let shared = match key {
            TruthKey::Value(path) => is_shared(cfg, path),
            TruthKey::Var(v) => is_shared(cfg, &Path::var(v)),
            _ => false,
        };
        let reaching = &states[node].states;
        if !shared || !tracked.contains(key) || reaching.is_empty() {
            continue;
        }
        for lock in reaching[0].locks.keys() {
            let held_here = |s: &State| {
                s.locks
                    .get(lock)
                    .is_some_and(|l| l.owned && l.held_min() >= 1)
            };
            if reaching.iter().all(held_here) {
                written.push((lock.clone(), key.clone()));
            }
        }
    }
    written.sort();
    written.dedup();
    written
}

/// Reads a solved function: the states before each node and what each node
/// does to them, for the checks that consume the analysis (as rustc's
/// `ResultsCursor`). Checks live with the rules, not in the transfer function.
pub struct Cursor<'a> {
    pub cfg: &'a Cfg,
    pub solution: &'a Solution,
    calls: Calls<'a>,
}

impl<'a> Cursor<'a> {
    pub fn new(cfg: &'a Cfg, solution: &'a Solution, summaries: &'a dyn Summaries) -> Self {
        Cursor {
            cfg,
            solution,
            calls: Calls::new(cfg, summaries),
        }
    }

    /// The states reaching `node`, one per path kept apart (none where unreached).
    pub fn states_before(&self, node: NodeId) -> &'a [State] {
        &self.solution.states[node as usize].states
    }

    /// What `node` does to locks on a path in `state`.
    pub fn effects(&self, node: NodeId, state: &State) -> Vec<AppliedEffect<'a>> {
        effects_at(self.cfg, node, state, &self.calls)
    }

    /// The locks held in `state` that a release of `lock`, untouched there,
    /// may release under another name: unknown from there on.
    pub fn held_under_another_name(&self, state: &State, lock: &Path) -> Vec<Path> {
        held_under_another_name(state, lock, &self.cfg.locals, self.calls.summaries)
    }

    /// The states after `node` on a path that reaches it in `state`: one,
    /// or two when the node splits the path.
    pub fn after(&self, node: NodeId, state: &State) -> Vec<State> {
        let mut state = state.clone();
        let alternative = transfer(self.cfg, node, &mut state, &self.calls);
        std::iter::once(state).chain(alternative).collect()
    }

    /// Whether every lock the call at `node` takes, by its callee's
    /// summary, is a semaphore that counts or signals here
    /// (`__down(&barrier->lock)` where that name counts): the caller takes
    /// no lock it could release.
    pub fn takes_only_counters(&self, node: NodeId) -> bool {
        let (Op::Call(call), Some(summary)) =
            (&self.cfg.ops[node as usize], self.callee_summary(node))
        else {
            return false;
        };
        let mut taken = summary
            .effects
            .iter()
            .filter(|e| matches!(e.change, Change::Acquire | Change::TryAcquire(_)))
            .peekable();
        taken.peek().is_some()
            && taken.all(|e| {
                e.lock
                    .substitute(&call.args, call.result_lvalue.as_ref())
                    .is_some_and(|lock| {
                        self.calls
                            .summaries
                            .is_counter_or_signal(&lock, e.kind.as_deref())
                    })
            })
    }

    /// The summary a call at `node` applies, if any.
    pub fn callee_summary(&self, node: NodeId) -> Option<&'a Summary> {
        match &self.cfg.ops[node as usize] {
            Op::Call(call) => call
                .callee
                .as_deref()
                .and_then(|c| self.calls.summaries.summary(c)),
            _ => None,
        }
    }
}

/// The keys worth remembering facts about: those a path can learn twice
/// (tested twice, or assigned a constant and tested, or a try-lock result
/// tested), and the pointers on the way to a lock (`if (p) unlock(&p->l)`).
/// Facts about anything else cannot correlate two branches and would only
/// split states.
fn tracked_keys(cfg: &Cfg, calls: &Calls<'_>) -> HashSet<TruthKey> {
    let mut uses: HashMap<TruthKey, u32> = HashMap::new();
    let mut tracked = HashSet::new();
    let note_lock = |lock: &Path, tracked: &mut HashSet<TruthKey>| {
        tracked.extend(pointers_to(lock));
    };
    for (node, op) in cfg.ops.iter().enumerate() {
        // A node learns a key once, whether it tests it (both ways) or
        // learns one truth (leaving a counted loop).
        let mut learned: Vec<&TruthKey> = Vec::new();
        for edge in &cfg.succs[node] {
            if let EdgeCond::Truth(
                key @ (TruthKey::Var(_)
                | TruthKey::Value(_)
                | TruthKey::Cond { .. }
                | TruthKey::Errno(_)),
                _,
            ) = &edge.cond
            {
                if !learned.contains(&key) {
                    learned.push(key);
                    *uses.entry(key.clone()).or_default() += 1;
                }
            }
        }
        match op {
            Op::Assign {
                key,
                value: Some(_),
            } => *uses.entry(key.clone()).or_default() += 1,
            Op::Call(call) => {
                if let Some(v) = &call.result_var {
                    *uses.entry(TruthKey::Var(v.clone())).or_default() += 1;
                }
                let summary = call
                    .callee
                    .as_deref()
                    .and_then(|c| calls.summaries.summary(c));
                for effect in summary.into_iter().flat_map(|s| &s.effects) {
                    if let Some(lock) = effect
                        .lock
                        .substitute(&call.args, call.result_lvalue.as_ref())
                    {
                        note_lock(&lock, &mut tracked);
                    }
                    // A callee's effect that depends on an argument reads
                    // it (`HARD_TX_LOCK(dev, …)` … `HARD_TX_UNLOCK(dev,
                    // …)` both read `dev->lltx`).
                    if let Some(key) = effect.when.as_ref().and_then(|(on, _)| when_key(on, call)) {
                        *uses.entry(key).or_default() += 1;
                    }
                    // Tried on one side of an argument, taken on the other,
                    // or a held test: where the path knows, the result is known.
                    if (matches!(effect.change, Change::TryAcquire(_)) && effect.when.is_some())
                        || effect.change == Change::HeldTest
                    {
                        tracked.insert(TruthKey::Call(node as NodeId));
                    }
                }
                for arg in &call.args {
                    if let Some(p) = &arg.pointee {
                        note_lock(
                            &p.clone().push(crate::path::Step::Field(String::new())),
                            &mut tracked,
                        );
                    }
                }
            }
            Op::GuardAcquire(guard) => note_lock(&guard.lock, &mut tracked),
            // A variable given constants: its comparisons with constants matter.
            Op::AssignConst { var, .. } => tracked.extend(
                cfg.constant_conds
                    .get(var)
                    .into_iter()
                    .flatten()
                    .map(|c| c.key.clone()),
            ),
            _ => {}
        }
    }
    // An errno stored in a variable decides what its return means.
    tracked.extend(
        uses.into_iter()
            .filter(|(k, n)| *n >= 2 || matches!(k, TruthKey::Errno(_) | TruthKey::Status(_)))
            .map(|(k, _)| k),
    );
    // Returned variables: `x = NULL; … return x;` returns NULL.
    let returned = &calls.returned_vars;
    tracked.extend(returned.iter().map(|v| TruthKey::Var(v.clone())));
    // Parameters and fields under them: a summary may depend on their truth
    // (`if (!p) return; unlock();`, `if (pipe->files) mutex_lock(…)`).
    tracked.extend(cfg.params.iter().map(|p| TruthKey::Var(p.clone())));
    // Conditions on parameters, constants and globals only (`walker->flags
    // & WALK_SHARED`, `action == PRE_RATE_CHANGE`,
    // `static_branch_unlikely(&key)`): the caller's to decide.
    let on_params = |vars: &[String]| crate::cfg::callers_to_decide(vars, &cfg.params);
    tracked.extend(cfg.succs.iter().flatten().filter_map(|edge| {
        match &edge.cond {
            EdgeCond::Truth(key @ TruthKey::Value(path), _) if cfg.rooted_at_param(path) => {
                Some(key.clone())
            }
            EdgeCond::Truth(key @ TruthKey::Cond { vars, .. }, _) if on_params(vars) => {
                Some(key.clone())
            }
            // A flag of a returned variable may say what the return
            // holds (`if (effects & MASK) mutex_lock(…); return effects;`).
            EdgeCond::Truth(key, _)
                if key
                    .flag_test()
                    .is_some_and(|(var, _)| returned.contains(var)) =>
            {
                Some(key.clone())
            }
            _ => None,
        }
    }));
    tracked
}

fn clamp(v: i8) -> i8 {
    v.clamp(-MAX_DEPTH, MAX_DEPTH)
}

fn acquire(state: &mut State, lock: &Path, site: Span, recursive: bool) {
    if !state.lock_exists(lock) {
        return;
    }
    let level = state.level_entry(lock);
    level.min = clamp(level.min + 1);
    level.max = clamp(level.max + 1);
    level.touched = true;
    level.owned = true;
    level.recursive |= recursive;
    level.untested = None;
    level.acquired_at = Some(site);
}

/// A try-acquire whose result is not tested: the lock may be held.
fn may_acquire(state: &mut State, lock: &Path, site: Span, recursive: bool) {
    if !state.lock_exists(lock) {
        return;
    }
    let level = state.level_entry(lock);
    level.max = clamp(level.max + 1);
    level.owned = true;
    level.recursive |= recursive;
    level.untested = Some(site);
    level.acquired_at.get_or_insert(site);
}

/// The lock a release on this path releases: `if (ptl != pml)
/// spin_lock(ptl); … spin_unlock(ptl);` where the path knows `ptl == pml`
/// releases the lock held as `*pml`.
///
/// Also the lock the object an acquiring call returned carries, released
/// through that object by the chain that ends the lock's name:
/// `ce->timeline->mutex` taken by `rq = i915_request_create(ce)` is released
/// as `rq->timeline->mutex` by `i915_request_add(rq)`.
pub fn released_lock(state: &State, lock: &Path) -> Path {
    if let Some(held) = state.equal_held(lock) {
        return held;
    }
    if state.level(lock).held_max() <= 0 {
        let carried = state.locks.iter().find(|(path, level)| {
            level.max > 0
                && level.carrier.is_some()
                && level.carrier.as_deref() == lock.root_var()
                && lock.steps.first() == Some(&Step::Deref)
                && path.steps.ends_with(&lock.steps)
        });
        if let Some((path, _)) = carried {
            return path.clone();
        }
    }
    lock.clone()
}

/// Whether releasing `lock` on this path releases a lock that is certainly
/// not held: one this function took (or requires held) and dropped, known,
/// and held nowhere on the path. A lock only ever released here is the
/// caller's; a second release of it may follow a callee no summary
/// describes that took it again (`radix_tree_preload()` in a loop).
pub fn releases_unheld(level: &Level) -> bool {
    level.touched && !level.unknown && level.held_max() <= 0 && (level.owned || level.required)
}

/// Whether releasing an ownerless lock (a semaphore) at `level` signals
/// another context: this function failed to take it and has not released
/// it since, so the count is another context's (an interrupt handler
/// completing what the sender started), not a lock released twice. The
/// path goes on not holding it: where the try succeeded the function
/// still answers for what it took.
pub fn signals_another_context(level: &Level, ownerless: bool) -> bool {
    ownerless && level.released_at.is_none() && releases_unheld(level)
}

fn release(state: &mut State, lock: &Path, site: Span, ownerless: bool) {
    if !state.lock_exists(lock) {
        return;
    }
    let lock = &released_lock(state, lock);
    let level = state.level_entry(lock);
    // Releasing a lock this function never touched: the caller held it.
    if level.is_callers() {
        level.asserted = true;
    }
    if signals_another_context(level, ownerless) {
        return;
    }
    if releases_unheld(level) {
        // A rule reports it; the lock stays not held rather than going below zero.
        return;
    }
    level.min = clamp(level.min - 1);
    level.max = clamp(level.max - 1);
    level.touched = true;
    level.untested = None;
    level.released_at = Some(site);
}

/// The pointers on the way to `lock` are not NULL on this path.
fn learn_not_null(state: &mut State, lock: &Path) {
    for key in pointers_to(lock) {
        state.facts_mut().entry(key).or_insert(true);
    }
}

/// The key a branch on the pointer `path` tests: the variable, or the
/// field read (`p`, `p->q`).
fn pointer_key(path: Path) -> TruthKey {
    match path.root_var() {
        Some(root) if path.steps.is_empty() => TruthKey::Var(root.to_owned()),
        _ => TruthKey::Value(path),
    }
}

/// The keys of the pointers followed on the way from a variable to `lock`
/// (`p` and `p->q` for `p->q->lock`).
fn pointers_to(lock: &Path) -> impl Iterator<Item = TruthKey> + '_ {
    let from_var = lock.root_var().is_some();
    lock.steps
        .iter()
        .enumerate()
        .filter(move |(_, step)| from_var && **step == Step::Deref)
        .map(|(i, _)| {
            pointer_key(Path {
                root: lock.root.clone(),
                steps: lock.steps[..i].to_vec(),
            })
        })
}

/// Whether `lock`, untouched here, may be a lock held here under another
/// name: the same field of the same record type, as the declarations
/// tell, reached from the same variable by another chain of fields
/// (`ctx->bdev->bd_queue` and `ctx->bdev->bd_disk->queue`), or from a
/// local pointer, whose object may be one this function already holds
/// (`rq = i915_request_create(ce)` takes `ce->timeline->mutex`, and
/// `i915_request_add(rq)` releases `rq->timeline->mutex`). Such a held
/// lock becomes unknown, which no rule judges: one lock never gets two
/// names. So may an object reached through a pointer stored in another
/// (`transport_handle_queue_full(cmd, dev, …)` takes `dev->qf_cmd_lock` and
/// releases `cmd->se_dev->qf_cmd_lock`; every caller passes `cmd->se_dev`
/// as `dev`). Otherwise distinct variables name distinct objects, as
/// everywhere in the engine unless an alias says otherwise: two parameters
/// of one type are the two objects the caller gave.
fn under_another_name(state: &mut State, cfg: &Cfg, lock: &Path, calls: &Calls<'_>) -> bool {
    let others = held_under_another_name(state, lock, &cfg.locals, calls.summaries);
    if others.is_empty() {
        return false;
    }
    for other in &others {
        if let Some(level) = state.locks_mut().get_mut(other) {
            level.unknown = true;
            level.min = clamp(level.min - 1);
        }
    }
    // And the name released may be the caller's lock after all: released
    // or not, unknown too (`put_chip()` drops the caller's `chip->mutex`
    // while holding `loaner->mutex`, then takes `chip->mutex` again).
    let released = state.level_entry(lock);
    released.unknown = true;
    released.min = clamp(released.min - 1);
    true
}

/// The locks held here that `lock`, untouched here, may be under another
/// name (see [`under_another_name`]).
fn held_under_another_name(
    state: &State,
    lock: &Path,
    locals: &HashSet<String>,
    summaries: &dyn Summaries,
) -> Vec<Path> {
    if !state.level(lock).is_callers() || !state.lock_exists(lock) {
        return Vec::new();
    }
    let Some(kind) = object_kind(lock, summaries) else {
        return Vec::new();
    };
    state
        .locks
        .iter()
        .filter(|(path, level)| *path != lock && level.max > 0 && !level.unknown)
        .map(|(path, _)| path)
        .filter(|path| {
            path.root == lock.root
                || [*path, lock]
                    .iter()
                    .any(|p| p.root_var().is_some_and(|v| locals.contains(v)))
                || through_stored_pointer(path)
                || through_stored_pointer(lock)
        })
        .filter(|path| object_kind(path, summaries).is_some_and(|k| may_be_one_kind(&k, &kind)))
        .cloned()
        .collect()
}

/// Whether locks of two [`object_kind`]s may be one lock: the same steps
/// in the same record, or in a record the declarations do not tell (the
/// pointee of a `void *`, `filp->driver_priv->mutex` beside
/// `abi16->cli->mutex`, where `cli` is a `struct nouveau_cli *`).
fn may_be_one_kind(a: &(String, Vec<Step>), b: &(String, Vec<Step>)) -> bool {
    a.1 == b.1 && (a.0 == b.0 || a.0 == "void" || b.0 == "void")
}

/// The objects a call is given: what its arguments point to.
fn given_objects(args: &[ArgPaths]) -> Vec<Path> {
    args.iter().filter_map(|a| a.pointee.clone()).collect()
}

/// Whether `lock` is under one of `objects`.
fn reachable_from(objects: &[Path], lock: &Path) -> bool {
    objects
        .iter()
        .any(|o| o.root == lock.root && lock.steps.starts_with(&o.steps))
}

/// Whether `path` follows a pointer read from a field (`cmd->se_dev->…`):
/// such a pointer may point to any object of its type, one the function
/// was also given among them.
fn through_stored_pointer(path: &Path) -> bool {
    path.steps
        .windows(2)
        .any(|w| matches!(w, [Step::Field(_), Step::Deref]))
}

/// What two names of one lock have in common: for a lock that is a record
/// itself, its type (`lock_sock(sk)` holds `*sk`, `release_sock(sock->sk)`
/// releases `*sock->sk`: a `struct sock` each); otherwise the record type
/// owning its last field and the steps from that field on (`Scsi_Host`,
/// `->host_lock`, `*` for `*sh->host_lock`).
fn object_kind(lock: &Path, summaries: &dyn Summaries) -> Option<(String, Vec<Step>)> {
    if lock.steps.last() == Some(&Step::Deref) {
        if let Some(record) = summaries.type_of(lock) {
            return Some((record, vec![Step::Deref]));
        }
    }
    let field = lock
        .steps
        .iter()
        .rposition(|s| matches!(s, Step::Field(_)))?;
    Some((summaries.record_of(lock)?, lock.steps[field..].to_vec()))
}

impl Pending {
    /// Whether a test of `key` tests this result.
    pub fn tested_by(&self, key: &TruthKey) -> bool {
        &self.key == key || self.alias.as_ref() == Some(key)
    }
}

/// Turns untested try results for `key` into "may be held".
fn drop_pending(state: &mut State, key: &TruthKey) {
    // A result still stored in its other variable stays pending there.
    for p in &mut state.pending {
        if p.alias.as_ref() == Some(key) {
            p.alias = None;
        } else if &p.key == key {
            if let Some(alias) = p.alias.take() {
                p.key = alias;
            }
        }
    }
    let (dropped, kept): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut state.pending)
        .into_iter()
        .partition(|p| &p.key == key);
    state.pending = kept;
    for p in dropped {
        if p.kind == PendingKind::HeldTest {
            continue;
        }
        if p.kind == PendingKind::Release {
            if state.lock_exists(&p.lock) {
                let level = state.level_entry(&p.lock);
                level.min = clamp(level.min - 1);
            }
        } else {
            may_acquire(state, &p.lock, p.site, p.recursive);
        }
    }
}

fn add_pending(state: &mut State, pending: Pending) {
    // A new call's result replaces the old one's; one call may leave several
    // locks pending on its result (a lock and the RCU it implies).
    let earlier = state
        .pending
        .iter()
        .any(|p| p.tested_by(&pending.key) && p.site != pending.site);
    if earlier {
        drop_pending(state, &pending.key);
    }
    state.pending.push(pending);
}

/// Applies what taking an edge teaches; `false` when the edge cannot be
/// taken on this path (it contradicts a known fact).
fn apply_edge(
    state: &mut State,
    cond: &EdgeCond,
    tracked: &HashSet<TruthKey>,
    exclusive: &crate::cfg::Exclusive,
) -> bool {
    let (key, truthy, is_fact) = match cond {
        EdgeCond::Always => return true,
        EdgeCond::Truth(key, truthy) => (key, truthy, true),
        EdgeCond::Settle(key, truthy) => (key, truthy, false),
        EdgeCond::ErrorTest(key, is_error) => {
            settle_errno(state, key, *is_error);
            // An error pointer points to no object: no lock under it is
            // held (`c->root = alloc_locked(…); if (IS_ERR(c->root))`).
            if let (TruthKey::Value(pointer), true) = (key, is_error) {
                forget_under_null(state, pointer);
            }
            return apply_edge(
                state,
                &EdgeCond::Settle(key.clone(), !*is_error),
                tracked,
                exclusive,
            );
        }
        // The context held it already: the lock stands as no call here says.
        EdgeCond::AlreadyHeld(key) => {
            let (already, kept): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut state.pending)
                .into_iter()
                .partition(|p| p.kind == PendingKind::Acquire && p.tested_by(key));
            state.pending = kept;
            for p in already {
                state.level_entry(&p.lock).failed_in = Some(key.clone());
            }
            for level in state.locks_mut().values_mut() {
                if level.failed_in.as_ref() == Some(key) {
                    level.failed_in = None;
                    level.may_have_changed();
                }
            }
            return true;
        }
    };
    // `type == A` holds: `type == B` does not (`if (PERF_TYPE_RAW ==
    // event->attr.type) mutex_unlock(…)` on the path that matched another
    // type).
    if is_fact && *truthy {
        for other in exclusive.others(key) {
            if tracked.contains(other) {
                if state.facts.get(other) == Some(&true) {
                    return false;
                }
                state.facts_mut().insert(other.clone(), false);
            }
        }
    }
    if is_fact && zero_with_flag_set(state, key, *truthy) {
        return false;
    }
    if is_fact && tracked.contains(key) {
        if state.facts.get(key) == Some(&!*truthy) {
            return false;
        }
        state.facts_mut().insert(key.clone(), *truthy);
        // A variable standing for a pointer read elsewhere (`state =
        // lock_and_get(sd)` is `sd->active_state`): that pointer has the
        // same truth, and the locks under it exist or not with it.
        if let TruthKey::Var(v) = key {
            if let Some(pointer) = state.pointer_of(v) {
                if !*truthy {
                    forget_under_null(state, &pointer);
                }
                state.facts_mut().insert(pointer_key(pointer), *truthy);
            }
            if !*truthy {
                forget_under_null(state, &Path::var(v));
            }
        }
    }
    // `if (ret & VM_FAULT_RETRY)`: a try result stored in `ret` is tested,
    // in a way the path cannot read: held or not, but no longer untested.
    if let TruthKey::Cond { vars, .. } = key {
        let (blurred, kept): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut state.pending)
            .into_iter()
            .partition(|p| {
                p.kind == PendingKind::Release
                    || !matches!(&p.key, TruthKey::Var(v) if vars.contains(v))
            });
        state.pending = blurred;
        for p in kept.into_iter().filter(|p| p.kind == PendingKind::Acquire) {
            may_acquire(state, &p.lock, p.site, p.recursive);
            if let Some(level) = state.locks_mut().get_mut(&p.lock) {
                level.untested = None;
            }
        }
    }
    // `IS_ERR(p)` settles a try result stored in `p` the other way round:
    // an error pointer is a failed try.
    if let TruthKey::Errno(v) = key {
        let test = EdgeCond::ErrorTest(TruthKey::Var(v.clone()), *truthy);
        return apply_edge(state, &test, tracked, exclusive);
    }
    settle_tested_by(state, key, *truthy);
    true
}

/// Whether `key` having truth `truthy` contradicts what the path knows of
/// the variable's flags: a zero value has none set (`if (effects)` after
/// `effects & MASK` was found set).
fn zero_with_flag_set(state: &State, key: &TruthKey, truthy: bool) -> bool {
    let flag_set_of = |var: &str| {
        state
            .facts
            .iter()
            .any(|(k, &t)| t && k.flag_test().is_some_and(|(v, _)| v == var))
    };
    match (key, truthy) {
        (TruthKey::Var(v), false) => flag_set_of(v),
        (key, true) => key
            .flag_test()
            .is_some_and(|(v, _)| state.facts.get(&TruthKey::Var(v.to_owned())) == Some(&false)),
        _ => false,
    }
}

/// `pointer` is NULL on this path: no lock under it is held here, whatever
/// a call that returned it was summarised to take (`state =
/// lock_and_get(sd); if (!state) return;`).
fn forget_under_null(state: &mut State, pointer: &Path) {
    let mut under = pointer.steps.clone();
    under.push(Step::Deref);
    state.locks_mut().retain(|lock, level| {
        !(level.min > 0 && lock.root == pointer.root && lock.steps.starts_with(&under))
    });
}

/// The path now knows `key`'s truth: a fact, and the try results stored
/// there are settled (`ci = lock_cluster_or_swap_info(…)` split on `ci`).
fn learn(state: &mut State, key: &TruthKey, truth: bool) {
    state.facts_mut().insert(key.clone(), truth);
    settle_tested_by(state, key, truth);
}

/// The path learned whether `key` (a variable, a field) holds an errno: the
/// try results stored there that succeed unless one is returned are settled.
fn settle_errno(state: &mut State, key: &TruthKey, errno: bool) {
    let (settled, kept): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut state.pending)
        .into_iter()
        .partition(|p| p.success == Success::NonNegative && p.tested_by(key));
    state.pending = kept;
    for p in settled {
        // Settled as a zero (success) or as failed, whatever the success kind.
        let as_truthy = if errno { None } else { Some(false) };
        match as_truthy {
            Some(t) => settle(state, p, t),
            None => {
                let failed = Pending {
                    success: Success::Nonzero,
                    ..p
                };
                settle(state, failed, false);
            }
        }
    }
}

/// Settles the try results a test of `key` tests.
fn settle_tested_by(state: &mut State, key: &TruthKey, truth: bool) {
    let (settled, kept): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut state.pending)
        .into_iter()
        .partition(|p| p.tested_by(key));
    state.pending = kept;
    for p in settled {
        settle(state, p, truth);
    }
}

/// A pending try result is now known to be `truthy`.
fn settle(state: &mut State, p: Pending, truthy: bool) {
    let Some(acquired) = p.success.acquired_when(truthy) else {
        // A nonzero result that may be an errno or an index: still pending.
        state.pending.push(p);
        return;
    };
    if p.kind == PendingKind::HeldTest {
        // Nobody holds it: where this function has not taken it, its caller
        // did not hold it (`if (WARN_ON(!mutex_is_locked(l))) return
        // -EINVAL;` in an unlock helper), a path the exit facts leave out.
        if !acquired && state.lock_exists(&p.lock) {
            let level = state.level_entry(&p.lock);
            if level.max <= 0 && !level.touched {
                level.absent = true;
            }
        }
        return;
    }
    if p.kind == PendingKind::Release {
        // A conditional release (a callee that drops the lock on failure).
        if acquired && state.lock_exists(&p.lock) {
            let level = state.level_entry(&p.lock);
            if level.is_callers() {
                level.asserted = true;
            }
            level.min = clamp(level.min - 1);
            level.max = clamp(level.max - 1);
            level.touched = true;
            level.released_at = Some(p.site);
        }
        return;
    }
    if !acquired {
        // A failed try: this function now knows the lock is not held here.
        let level = state.level_entry(&p.lock);
        level.touched = true;
        level.owned = true;
        level.failed_in = Some(p.key.clone());
    }
    if acquired {
        acquire(state, &p.lock, p.site, p.recursive);
        set_carrier(state, &p.lock, [&p.key].into_iter().chain(&p.alias));
    }
}

/// Records the variable holding the acquiring call's result as the lock's
/// carrier.
fn set_carrier<'k>(state: &mut State, lock: &Path, keys: impl IntoIterator<Item = &'k TruthKey>) {
    let carrier = keys.into_iter().find_map(|k| match k {
        TruthKey::Var(v) => Some(v.clone()),
        _ => None,
    });
    if let (Some(carrier), Some(level)) = (carrier, state.locks_mut().get_mut(lock)) {
        if lock.root_var() != Some(carrier.as_str()) {
            level.carrier = Some(carrier);
        }
    }
}

/// A variable now names another object: what was learned of the old one's
/// lock (released, or held by the caller) no longer applies. A lock the old
/// object may still hold is now out of reach by that name (a cursor moved
/// while its lock is kept, `if (lruvec != locked)` relocking): the name
/// stands for an unknown state, which no rule judges.
/// Locks this assignment's own call just took (`ptl = pmd_lock(…)`) are the
/// new object's and stay as they are.
fn forget_released(state: &mut State, var: &str, site: Option<Span>) {
    forget_pointee(state, var, site, false)
}

/// [`forget_released`], for locks behind the variable's pointer only when
/// `through_pointer` (`*ptl`, `p->lock`; not `global_lock` itself).
fn forget_pointee(state: &mut State, var: &str, site: Option<Span>, through_pointer: bool) {
    let named = |p: &Path| p.root_var() == Some(var);
    let touches_var = state
        .locks
        .iter()
        .any(|(path, level)| named(path) || level.carrier.as_deref() == Some(var))
        || state.aliases.iter().any(|(a, b)| named(a) || named(b));
    if !touches_var {
        return;
    }
    for level in state.locks_mut().values_mut() {
        if level.carrier.as_deref() == Some(var) && (site.is_none() || level.acquired_at != site) {
            level.carrier = None;
        }
    }
    state.aliases_mut().retain(|name, object| {
        let stale = |p: &Path| {
            p.root_var() == Some(var)
                && (!through_pointer || p.steps.first() == Some(&crate::path::Step::Deref))
        };
        !stale(name) && !stale(object)
    });
    state.locks_mut().retain(|path, level| {
        if path.root_var() != Some(var)
            || (site.is_some() && level.acquired_at == site)
            || (through_pointer && path.steps.first() != Some(&crate::path::Step::Deref))
        {
            return true;
        }
        if level.max > 0 {
            level.unknown = true;
        }
        level.max > 0
    });
}

/// `list_add_tail(&obj->link, &ww->list)`: `obj`, linked into a container
/// callers reach (under a parameter or a global), takes its held locks
/// along; whoever walks the container releases them.
fn link_object(state: &mut State, cfg: &Cfg, call: &crate::cfg::Call) {
    let (Some(member), Some(container)) = (
        call.args.first().and_then(|a| a.pointee.as_ref()),
        call.args.get(1).and_then(|a| a.pointee.as_ref()),
    ) else {
        return;
    };
    let Some(object) = member.owner() else {
        return;
    };
    let container = state.canonical(container);
    if !cfg.caller_nameable(&container) {
        return;
    }
    let objects = [state.canonical(&object), object];
    for (path, level) in state.locks_mut().iter_mut() {
        let under = objects
            .iter()
            .any(|o| path.root == o.root && path.steps.starts_with(&o.steps));
        // The lock of an object the container lives under guards the
        // linking; it is not handed on: the container's own lock
        // (`q->requeue_lock` for `q->requeue_list`), or one further up
        // (`list_add(&req->list, ctx->timeout_list.prev)` under
        // `req->ctx->timeout_lock`).
        let guards_container = path.owner().is_some_and(|owner| {
            owner.root == container.root && container.steps.starts_with(&owner.steps)
        });
        if under && !guards_container && level.max > 0 {
            level.linked = true;
        }
    }
}

/// A pointer to `object` stored at `target`: `*target` becomes another name
/// for the object, and the object keeps its own. A local's locked object
/// stored through a parameter (`*foliop = folio`, `req->r_osd = osd`) is
/// handed to the caller with its lock: the function goes on using its name
/// (`mutex_unlock(&osd->lock)`), its summary names it the caller's way.
fn store_pointer(state: &mut State, cfg: &Cfg, target: &Path, object: &Path) {
    let name = target.clone().push(Step::Deref);
    let object = state.canonical(object);
    if cfg.rooted_at_param(target) && !cfg.caller_nameable(&object) {
        for (path, level) in state.locks_mut().iter_mut() {
            if path.root == object.root && path.steps.starts_with(&object.steps) && level.max > 0 {
                level.handed_over = true;
            }
        }
    }
    if name != object && worth_an_alias(state, cfg, &object) {
        state.aliases_mut().insert(name, object);
    }
}

/// Whether another name for `object` can matter: a lock under it has a
/// state here, or it is a parameter's (a setter's store goes into its
/// summary). Every other pointer store (`node->next = other`) would only
/// grow the state.
fn worth_an_alias(state: &State, cfg: &Cfg, object: &Path) -> bool {
    cfg.rooted_at_param(object) || holds_a_lock_under(state, object)
}

/// Whether a lock under `object` has a state on this path.
fn holds_a_lock_under(state: &State, object: &Path) -> bool {
    state
        .locks
        .keys()
        .any(|lock| lock.root == object.root && lock.steps.starts_with(&object.steps))
}

/// Whether `lock` is under the pointer the call's result is stored in.
fn under_result(call: &crate::cfg::Call, lock: &Path) -> bool {
    call.result_lvalue.as_ref().is_some_and(|result| {
        lock.root == result.root
            && lock.steps.len() > result.steps.len()
            && lock.steps.starts_with(&result.steps)
            && lock.steps[result.steps.len()] == Step::Deref
    })
}

/// Whether `key` is what the function's caller passed: a parameter, or a
/// field under one.
fn is_param_key(cfg: &Cfg, key: &TruthKey) -> bool {
    match key {
        TruthKey::Var(v) => cfg.params.contains(v),
        // `rwc->anon_lock`: the summary may depend on it as well.
        TruthKey::Value(p) => p
            .root_var()
            .is_some_and(|r| cfg.params.iter().any(|q| q == r)),
        // `issue_flags & IO_URING_F_UNLOCKED`: a flag of a parameter.
        TruthKey::Cond { .. } => key
            .flag_test()
            .is_some_and(|(var, _)| cfg.params.iter().any(|q| q == var)),
        _ => false,
    }
}

/// What the function's calls bring from their callees, worked out once per
/// solve rather than at every visit of a call.
struct Calls<'a> {
    summaries: &'a dyn Summaries,
    /// Lock kinds a call may drop and retake out of sight: `may-release`
    /// primitives, and callees whose summaries say so.
    may_drop: Vec<String>,
    /// Per call node, fields of locks that callbacks may release during the
    /// call: those a function passed as an argument releases
    /// (`kref_put(&z->ref, release_locked)`), and those the callee's own
    /// summary says its callbacks release.
    callback_fields: HashMap<NodeId, Vec<String>>,
    /// Variables the function returns.
    returned_vars: HashSet<String>,
    /// The keys each call's effects depend on (`XQ_LOCK(d, q)` and
    /// `XQ_UNLOCK(d, q)` on `d->lockless`).
    read_by_calls: HashMap<NodeId, Vec<TruthKey>>,
    /// Per call through a field, the locks (by name) that functions stored
    /// in fields of that name are annotated to release.
    released_through_field: HashMap<NodeId, Vec<String>>,
    /// Shared data the function writes under a lock it takes, with that
    /// lock (`larval->test_started = true` under `alg_sem`): what a path
    /// learned of it before taking the lock, another context may have
    /// changed by the time the lock is had.
    written_under_lock: Vec<(Path, TruthKey)>,
}

impl Calls<'_> {
    /// Whether a call after `node` has an effect that depends on `key`,
    /// with nothing assigning it in between.
    fn read_by_a_later_call(&self, cfg: &Cfg, node: NodeId, key: &TruthKey) -> bool {
        if !self.read_by_calls.values().flatten().any(|k| k == key) {
            return false;
        }
        let mut seen = vec![false; cfg.ops.len()];
        let mut work = vec![node];
        while let Some(n) = work.pop() {
            for edge in &cfg.succs[n as usize] {
                let to = edge.to;
                if seen[to as usize] || cfg.assigns(to, key) {
                    continue;
                }
                seen[to as usize] = true;
                if self
                    .read_by_calls
                    .get(&to)
                    .is_some_and(|keys| keys.contains(key))
                {
                    return true;
                }
                work.push(to);
            }
        }
        false
    }
}

impl<'a> Calls<'a> {
    fn new(cfg: &Cfg, summaries: &'a dyn Summaries) -> Self {
        let mut may_drop: Vec<String> = Vec::new();
        let mut callback_fields = HashMap::new();
        let mut read_by_calls: HashMap<NodeId, Vec<TruthKey>> = HashMap::new();
        let mut released_through_field = HashMap::new();
        for (node, op) in cfg.ops.iter().enumerate() {
            let Op::Call(call) = op else { continue };
            if let Some(field) = &call.through_field {
                let released = summaries.released_through_field(field);
                if !released.is_empty() {
                    released_through_field.insert(node as NodeId, released);
                }
            }
            let callee = call.callee.as_deref().and_then(|c| summaries.summary(c));
            let mut fields: Vec<String> = Vec::new();
            if let Some(summary) = callee {
                let mut read: Vec<TruthKey> = summary
                    .effects
                    .iter()
                    .filter_map(|e| e.when.as_ref().and_then(|(on, _)| when_key(on, call)))
                    .collect();
                read.sort();
                read.dedup();
                if !read.is_empty() {
                    read_by_calls.insert(node as NodeId, read);
                }
                for kind in &summary.may_drop {
                    if !may_drop.contains(kind) {
                        may_drop.push(kind.clone());
                    }
                }
                fields.extend(summary.callback_fields.iter().cloned());
            }
            for callback in call
                .passed_functions(cfg)
                .filter_map(|f| summaries.summary(f))
            {
                fields.extend(callback.released_fields.iter().cloned());
                fields.extend(callback.callback_fields.iter().cloned());
            }
            if !fields.is_empty() {
                fields.sort();
                fields.dedup();
                callback_fields.insert(node as NodeId, fields);
            }
        }
        let returned_vars = cfg
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Return {
                    value: crate::cfg::ReturnValue::Var(v),
                    ..
                } => Some(v.clone()),
                _ => None,
            })
            .collect();
        Calls {
            summaries,
            may_drop,
            callback_fields,
            returned_vars,
            read_by_calls,
            released_through_field,
            written_under_lock: Vec::new(),
        }
    }
}

/// Whether `path` names memory other contexts may reach: a field of an
/// object reached through a pointer (`larval->test_started`), or a global.
/// What a parameter points to itself (`*need_unmap = 1`) is most often
/// the caller's local, an out-parameter.
fn is_shared(cfg: &Cfg, path: &Path) -> bool {
    let through_pointer = path
        .steps
        .iter()
        .skip_while(|s| **s != Step::Deref)
        .any(|s| matches!(s, Step::Field(_)));
    through_pointer || path.root_var().is_some_and(|v| cfg.is_global(v))
}

/// One effect of a node on one lock, in the function's own terms.
#[derive(Clone, Debug)]
pub struct AppliedEffect<'a> {
    pub lock: Path,
    /// The lock as the call names it, before aliases resolve it (`*lock`
    /// for `spin_lock(lock)` with `lock = qdisc_lock(q)`).
    pub named: Path,
    pub change: Change,
    pub recursive: bool,
    /// The lock's kind, when a primitive says it.
    pub kind: Option<&'a str>,
    /// The kind has no owner (a semaphore): any context may release it.
    pub ownerless: bool,
    /// The analysed callee the effect comes through (`None` for a primitive
    /// or a guard).
    pub via: Option<&'a str>,
    /// Where in the function it happens (the call, or the guard).
    pub site: Span,
    /// Whether it happens on this path: `Some(true)`, `Some(false)`, or
    /// `None` when it depends on an argument the path knows nothing of
    /// (`unlock_if(x, flag)`), with that argument's key and wanted truth.
    pub applies: Option<bool>,
    pub depends_on: Option<(Option<TruthKey>, bool)>,
    /// The lock is under the object the callee returns, which may be NULL
    /// where the lock is not taken (a lookup returning its object locked).
    pub under_result: bool,
    /// It happens when the callee's result says so (a flag of it).
    pub on_result: bool,
}

/// What `node` does to locks on a path in `state`: the callee's summary
/// substituted with the call's arguments (a primitive's summary the same
/// way), or a guard's acquire or release.
fn effects_at<'a>(
    cfg: &'a Cfg,
    node: NodeId,
    state: &State,
    calls: &Calls<'a>,
) -> Vec<AppliedEffect<'a>> {
    match &cfg.ops[node as usize] {
        Op::GuardAcquire(guard) => vec![AppliedEffect {
            lock: one_name(cfg, state, &guard.lock, calls),
            named: guard.lock.clone(),
            change: Change::Acquire,
            recursive: guard.recursive,
            kind: None,
            ownerless: false,
            via: None,
            site: guard.span,
            applies: Some(true),
            depends_on: None,
            under_result: false,
            on_result: false,
        }],
        Op::GuardRelease { lock, at, .. } => vec![AppliedEffect {
            lock: one_name(cfg, state, lock, calls),
            named: lock.clone(),
            change: Change::Release,
            recursive: false,
            kind: None,
            ownerless: false,
            via: None,
            site: *at,
            applies: Some(true),
            depends_on: None,
            under_result: false,
            on_result: false,
        }],
        Op::Call(call) => {
            let Some((name, summary)) = call
                .callee
                .as_deref()
                .and_then(|c| Some((c, calls.summaries.summary(c)?)))
            else {
                return Vec::new();
            };
            let via = (!summary.primitive).then_some(name);
            let returned = returned_object(summary, call);
            summary
                .effects
                .iter()
                .filter_map(|effect| {
                    // A lock under the result (`ret->lock`) is under the
                    // object the callee returns, when callers can name it.
                    let lock = match (&effect.lock.root, &returned, effect.lock.steps.first()) {
                        (RefRoot::Return, Some(object), Some(Step::Deref)) => {
                            let mut lock = object.clone();
                            lock.steps.extend_from_slice(&effect.lock.steps[1..]);
                            lock
                        }
                        // A macro's free identifier is the caller's variable,
                        // named as the caller's body names it.
                        (RefRoot::Global(name), _, _)
                            if summary.caller_scope && cfg.local_aliases.contains_key(name) =>
                        {
                            let mut lock = cfg.local_aliases[name].clone();
                            lock.steps.extend_from_slice(&effect.lock.steps);
                            lock
                        }
                        _ => effect
                            .lock
                            .substitute(&call.args, call.result_lvalue.as_ref())?,
                    };
                    // A semaphore that counts (slots, signals) is no lock.
                    if calls
                        .summaries
                        .is_counter_or_signal(&lock, effect.kind.as_deref())
                    {
                        return None;
                    }
                    let named = lock.clone();
                    let lock = one_name(cfg, state, &lock, calls);
                    // An effect conditional on an argument: it applies when
                    // the caller knows the argument's truth.
                    let (applies, depends_on) = match &effect.when {
                        None => (Some(true), None),
                        Some((on, want)) => {
                            let (truth, key) = condition_in_caller(on, call, state);
                            (truth.map(|t| t == *want), Some((key, *want)))
                        }
                    };
                    Some(AppliedEffect {
                        lock,
                        named,
                        change: effect.change,
                        recursive: effect.recursive,
                        kind: effect.kind.as_deref(),
                        ownerless: effect
                            .kind
                            .as_deref()
                            .is_some_and(|k| calls.summaries.is_signal_kind(k)),
                        via,
                        site: call.span,
                        applies,
                        depends_on,
                        under_result: effect.lock.root == RefRoot::Return,
                        on_result: effect
                            .when
                            .as_ref()
                            .is_some_and(|(on, _)| on.root == RefRoot::Return),
                    })
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// `path` with its accessor calls resolved: `x25_sk(sk)->lock` is
/// `sk->lock` when the summary of `x25_sk()` says it returns its first
/// argument (`return (struct x25_sock *)sk;`), `foo_lock(f)` is `f->lock`
/// when it returns `&f->lock`. Other calls stay: a lookup.
pub fn resolve_calls(path: &Path, summaries: &dyn Summaries) -> Path {
    let Some(at) = path.steps.iter().position(|s| matches!(s, Step::Call(_))) else {
        return path.clone();
    };
    let Step::Call(name) = &path.steps[at] else {
        unreachable!("found a call step")
    };
    let object = Path {
        root: path.root.clone(),
        steps: path.steps[..at].to_vec(),
    };
    let argument = ArgPaths {
        lvalue: match object.steps.last() {
            Some(Step::Deref) => Some(Path {
                root: object.root.clone(),
                steps: object.steps[..at - 1].to_vec(),
            }),
            _ => None,
        },
        pointee: Some(object),
        ..ArgPaths::default()
    };
    let resolved = summaries
        .summary(name)
        .and_then(|s| s.returns_object.as_ref())
        .filter(|o| o.root == RefRoot::Param(0))
        .and_then(|o| o.substitute(std::slice::from_ref(&argument), None));
    match resolved {
        Some(mut resolved) => {
            resolved.steps.extend_from_slice(&path.steps[at + 1..]);
            resolve_calls(&resolved, summaries)
        }
        None => path.clone(),
    }
}

/// The truth, on this path, of what a callee's condition names (an
/// argument, or a field under one), and the key a branch on it tests.
fn condition_in_caller(
    on: &LockRef,
    call: &crate::cfg::Call,
    state: &State,
) -> (Option<bool>, Option<TruthKey>) {
    if !matches!(on.root, RefRoot::Param(_) | RefRoot::Return) {
        return (None, None);
    }
    let key = when_key(on, call);
    // What the caller writes as the argument: flag names, a constant.
    if let RefRoot::Param(i) = on.root {
        let arg = call.args.get(i);
        if let [Step::Flag(name)] = on.steps.as_slice() {
            if let Some(flags) = arg.and_then(|a| a.flags.as_ref()) {
                return (Some(flags.contains(name)), key);
            }
        }
        if on.steps.is_empty() {
            if let Some(constant) = arg.and_then(|a| a.constant) {
                return (Some(constant), key);
            }
        }
    }
    // What the path knows of the argument, or of a flag of the callee's
    // result (the path split on it at the call).
    let truth = key.as_ref().and_then(|k| state.facts.get(k).copied());
    (truth, key)
}

/// The key, in the caller, of what a callee's condition names: the
/// argument's, or the field under it.
fn when_key(on: &LockRef, call: &crate::cfg::Call) -> Option<TruthKey> {
    // A flag of the result, in the variable it is stored in.
    if let (RefRoot::Return, [Step::Flag(name)]) = (&on.root, on.steps.as_slice()) {
        let result = call.result_lvalue.as_ref()?;
        let var = result.root_var().filter(|_| result.steps.is_empty())?;
        return Some(crate::cfg::flag_key(var, name));
    }
    let RefRoot::Param(i) = on.root else {
        return None;
    };
    if let [Step::Flag(name)] = on.steps.as_slice() {
        // The caller's own test of that flag in the variable it passed.
        let passed = call.args.get(i)?.lvalue.as_ref()?;
        let var = passed.root_var().filter(|_| passed.steps.is_empty())?;
        return Some(crate::cfg::flag_key(var, name));
    }
    if on.steps.is_empty() {
        call.args.get(i).and_then(|a| a.key.clone())
    } else {
        on.substitute(&call.args, None).map(TruthKey::Value)
    }
}

/// What a call's result points to, in the caller's terms, when the callee
/// returns an object the caller names (`p = card_lock_port(c)` returns
/// `&c->port`).
pub(crate) fn returned_object(summary: &Summary, call: &crate::cfg::Call) -> Option<Path> {
    summary
        .returns_object
        .as_ref()?
        .substitute(&call.args, None)
}

/// The one name of a lock on this path: accessor calls resolved, aliases
/// applied, and a global that is a named lock of the lock API named so.
fn one_name(cfg: &Cfg, state: &State, lock: &Path, calls: &Calls<'_>) -> Path {
    let lock = state.canonical(&resolve_calls(lock, calls.summaries));
    let global = lock
        .root_var()
        .filter(|g| lock.steps.is_empty() && cfg.is_global(g));
    match global.and_then(|g| calls.summaries.named_lock(g)) {
        Some(named) => Path::named(named),
        None => lock,
    }
}

/// The effect of one node on the state.
///
/// A call whose summary depends on an argument the caller knows nothing about
/// splits the path: the state returned is the other way (`unlock(x, flag)`
/// with `flag` unknown: here the lock is released and `flag` is true, in the
/// returned state it is not and `flag` is false).
fn transfer(cfg: &Cfg, node: NodeId, state: &mut State, calls: &Calls<'_>) -> Option<State> {
    let mut alternative = None;
    match &cfg.ops[node as usize] {
        Op::Call(call) => {
            // An effect that depends on an argument the path knows nothing
            // of, which the caller tests later or is its own parameter (its
            // summary depends on it): the path splits, and each side applies
            // the call's effects knowing the argument's truth.
            let split = effects_at(cfg, node, state, calls)
                .into_iter()
                .find_map(|e| match (e.applies, e.depends_on) {
                    (None, Some((Some(key), _)))
                        if is_param_key(cfg, &key)
                            || cfg.tested_after(node, &key)
                            || calls.read_by_a_later_call(cfg, node, &key) =>
                    {
                        Some(key)
                    }
                    _ => None,
                });
            if let Some(key) = split {
                let mut other = state.clone();
                learn(&mut other, &key, false);
                learn(state, &key, true);
                apply_call(cfg, node, call, &mut other, calls);
                alternative = Some(other);
            }
            apply_call(cfg, node, call, state, calls);
        }
        Op::GuardAcquire(_) | Op::GuardRelease { .. } => {
            for effect in effects_at(cfg, node, state, calls) {
                match effect.change {
                    Change::Acquire => acquire(state, &effect.lock, effect.site, effect.recursive),
                    _ => release(state, &effect.lock, effect.site, effect.ownerless),
                }
            }
        }
        Op::Assign { key, value } => {
            // `if (idx < 0)` taught whether `idx` holds an errno.
            if let (TruthKey::Errno(v), Some(errno)) = (key, value) {
                settle_errno(state, &TruthKey::Var(v.clone()), *errno);
            }
            state.kill(key);
            // An errno is nonzero: `if (ret >= 0) ret = lock_interruptible(…);
            // if (ret) return ret;` returns on the path that skipped the lock.
            if let (TruthKey::Errno(v), Some(true)) = (key, value) {
                learn(state, &TruthKey::Var(v.clone()), true);
            }
            // `ctx->bdev = NULL;` after releasing `ctx->bdev->…->lock`: the
            // pointer is cleared, not found NULL; the lock the path took or
            // dropped through it existed.
            // A variable is its value: `port = NULL; … return port;`
            // returns NULL, whatever was done through it before.
            let clears_touched = *value == Some(false)
                && !matches!(key, TruthKey::Var(_))
                && state
                    .locks
                    .iter()
                    .any(|(path, level)| level.touched && key.covers_lock(path));
            if let Some(v) = value.filter(|_| !clears_touched) {
                state.facts_mut().insert(key.clone(), v);
            }
            if let TruthKey::Var(v) = key {
                forget_released(state, v, None);
            }
            drop_pending(state, key);
        }
        Op::Write {
            target,
            stored: Some(object),
            ..
        } => store_pointer(state, cfg, target, object),
        Op::Cursor { var, fixed } => {
            let key = TruthKey::Var(var.clone());
            state.kill(&key);
            drop_pending(state, &key);
            // A lock held on what a fixed local names stays held: it is what
            // the macro iterates over. Otherwise the name now stands for a
            // new object.
            // Held under the local's own name or under the name of the
            // object it stands for (`ah = hw->priv; mutex_lock(&ah->m)`
            // holds `hw->priv->m`).
            let objects: Vec<&Path> = state
                .aliases
                .iter()
                .filter(|(name, _)| name.root_var() == Some(var))
                .map(|(_, object)| object)
                .collect();
            let holds = state.locks.iter().any(|(path, level)| {
                level.max > 0
                    && (path.root_var() == Some(var)
                        || objects
                            .iter()
                            .any(|o| path.root == o.root && path.steps.starts_with(&o.steps)))
            });
            if !(*fixed && holds) {
                forget_released(state, var, None);
            }
        }
        Op::Copy { to, from, pointee } => {
            // `locked = engine;`: the copy names the object the original
            // names on this path, and a lock taken through one is released
            // through the other.
            if let Some(pointee) = pointee {
                let object = state.canonical(pointee);
                // A returned copy (`ret = mi; mutex_lock(&mi->lock); …
                // return ret;`) returns the locks under what it names. A
                // field read (`cgrp = chan->cgrp;`) names another lock's
                // object only where a lock under it has a state: on one
                // path of several (`if (!parent) parent = mnt->mnt_root;`
                // before `inode_lock(d_inode(parent))`), it would give the
                // lock taken next two names.
                let worth = match from {
                    TruthKey::Var(_) => {
                        worth_an_alias(state, cfg, &object) || calls.returned_vars.contains(to)
                    }
                    _ => holds_a_lock_under(state, &object),
                };
                if worth {
                    state
                        .aliases_mut()
                        .insert(Path::var(to).push(Step::Deref), object);
                }
            }
            let to = TruthKey::Var(to.clone());
            if let Some(truth) = state.facts.get(from).copied() {
                state.facts_mut().insert(to.clone(), truth);
            }
            for p in state.pending.iter_mut().filter(|p| p.tested_by(from)) {
                if p.alias.is_none() {
                    p.alias = Some(to.clone());
                }
            }
        }
        Op::AssignConst { var, constant } => {
            for cond in cfg.constant_conds.get(var).into_iter().flatten() {
                if let Some(truth) = cond.truth_with(constant) {
                    state.facts_mut().insert(cond.key.clone(), truth);
                }
            }
        }
        Op::Nop | Op::Return { .. } | Op::Write { .. } => {}
    }
    alternative
}

/// `rq = i915_request_get(rq)`: the call is given the variable's own value,
/// and hands back that object.
fn given_itself(call: &crate::cfg::Call, var: &str) -> bool {
    call.args.iter().any(|a| {
        a.lvalue
            .as_ref()
            .is_some_and(|p| p.root_var() == Some(var) && p.steps.is_empty())
    })
}

/// What a call does to the state on one path.
fn apply_call(
    cfg: &Cfg,
    node: NodeId,
    call: &crate::cfg::Call,
    state: &mut State,
    calls: &Calls<'_>,
) {
    // Where a branch will find the result: its variable, the field it
    // is stored in (`vmf->pte = pte_offset_map_lock(…)`), or the call.
    let key = match (&call.result_var, &call.result_lvalue) {
        (Some(v), _) => TruthKey::Var(v.clone()),
        (None, Some(path)) => TruthKey::Value(path.clone()),
        (None, None) => TruthKey::Call(node),
    };
    let alias = call.result_alias.as_ref().map(|v| TruthKey::Var(v.clone()));
    let mut produced_pending = false;
    let mut locked_results: Vec<(Path, Span, bool)> = Vec::new();
    let mut result_truth = None;
    if let (None, Some(path)) = (&call.result_var, &call.result_lvalue) {
        state.kill(&TruthKey::Value(path.clone()));
    }
    // The result variable will name a new object: a lock still held
    // through its old value (taken by this same call on an earlier pass of
    // a loop, `ptl = pmd_trans_huge_lock(…)`) is out of reach by that
    // name from here, before the call takes the new object's.
    for v in call.result_var.iter().chain(&call.result_alias) {
        if given_itself(call, v) {
            continue;
        }
        for (path, level) in state.locks_mut().iter_mut() {
            if path.root_var() == Some(v.as_str())
                && path.steps.first() == Some(&Step::Deref)
                && level.max > 0
            {
                level.unknown = true;
            }
        }
    }
    // Callbacks run by this call may release held locks with these fields.
    if let Some(fields) = calls.callback_fields.get(&node) {
        for level in state.levels_with_field(|f| fields.iter().any(|g| g == f)) {
            if level.max > 0 {
                level.unknown = true;
                level.min = clamp(level.min - 1);
            }
        }
    }
    // A call through a pointer may drop the locks reachable from the
    // objects it is given, and only those (`->read_folio(file,
    // folio)`, `bdev->bd_holder_ops->mark_dead(bdev, …)` dropping
    // `bdev->bd_holder_lock`).
    if call.indirect.is_some() {
        for level in state.levels_reachable(&call.args) {
            if level.max > 0 {
                level.unknown = true;
                level.min = clamp(level.min - 1);
            }
        }
    }
    // So may it drop a lock that a function the program stores in a field
    // of that name is annotated to release (`dev->ops->attach(dev)`, with
    // `.attach = mtk_wed_attach` and `mtk_wed_attach() __releases(RCU)`).
    if let Some(released) = calls.released_through_field.get(&node) {
        let named = |path: &Path| {
            let name = path.to_string();
            released.contains(&name)
        };
        if state
            .locks
            .iter()
            .any(|(path, level)| level.max > 0 && named(path))
        {
            for (path, level) in state.locks_mut().iter_mut() {
                if level.max > 0 && named(path) {
                    level.unknown = true;
                    level.min = clamp(level.min - 1);
                }
            }
        }
    }
    // A function whose body is not analysed, declared by the header whose
    // function took a lock on an object it is given, may release it: the
    // header's API (`queue_limits_commit_update(q, &lim)` after
    // `queue_limits_start_update(q)` took `q->limits_lock`).
    // Only locks a header's function took can be released this way: most
    // states hold none, and the owners need not be worked out.
    let header_taken = state
        .locks
        .values()
        .any(|l| l.max > 0 && l.acquired_in.is_some());
    if let (Some(callee), true) = (call.callee.as_deref(), header_taken) {
        for level in state.levels_owned_by(&call.args) {
            let api_of_its_header = level
                .acquired_in
                .is_some_and(|file| calls.summaries.external_declared_in(callee, file));
            if level.max > 0 && api_of_its_header {
                level.unknown = true;
                level.min = clamp(level.min - 1);
            }
        }
    }
    if call
        .callee
        .as_deref()
        .is_some_and(|c| calls.summaries.is_link(c))
    {
        link_object(state, cfg, call);
    }
    let summary = call
        .callee
        .as_deref()
        .and_then(|c| calls.summaries.summary(c));
    if let Some(summary) = summary {
        // A setter storing a pointer to a lock's object (`args->lock = lock`).
        for (target, object) in &summary.stores {
            let result = call.result_lvalue.as_ref();
            let target = target.substitute(&call.args, result);
            let object = object.substitute(&call.args, result);
            if let (Some(target), Some(object)) = (target, object) {
                store_pointer(state, cfg, &target, &object);
            }
        }
        forget_dropped_returns(state, summary, call);
    }
    // A lock under the result is under the object the call returns, not
    // the one the variable pointed to before (`folio = get_folio(…)` after
    // `if (!folio)`): what was known of that pointer is gone.
    if let Some(result) = &call.result_lvalue {
        state.facts_mut().remove(&pointer_key(result.clone()));
    }
    for effect in effects_at(cfg, node, state, calls) {
        let lock = &effect.lock;
        match (effect.applies, &effect.depends_on) {
            (Some(false), _) => continue,
            // Taken when the result has a flag set (`effects =
            // nvme_passthru_start(…)`): a try, settled where the path tests
            // that flag of the variable; maybe taken if the result is not
            // kept in one.
            (None, Some((key, true))) if effect.on_result && effect.change == Change::Acquire => {
                match key {
                    Some(key) => add_pending(
                        state,
                        Pending {
                            key: key.clone(),
                            alias: None,
                            lock: lock.clone(),
                            success: Success::Nonzero,
                            site: effect.site,
                            recursive: effect.recursive,
                            kind: PendingKind::Acquire,
                        },
                    ),
                    None => may_acquire(state, lock, effect.site, effect.recursive),
                }
                continue;
            }
            // Assume the argument is what callers usually pass: a valid
            // pointer, a set flag (and a try result stored in it succeeded
            // or failed to match). A key worth splitting on was split before.
            (None, Some((key, want))) => {
                if let Some(key) = key {
                    learn(state, key, true);
                }
                if !want {
                    continue;
                }
            }
            _ => {}
        }
        // A kind some call here may drop and retake out of sight.
        if effect
            .kind
            .is_some_and(|k| calls.may_drop.iter().any(|d| d == k))
            && state.lock_exists(lock)
        {
            state.level_entry(lock).unknown = true;
        }
        // A caller's lock released (or changed) while a lock of the
        // same record type and field is held here: maybe one lock
        // under two names (`bdev->bd_queue` and `bdev->bd_disk->queue`).
        if matches!(
            effect.change,
            Change::Release | Change::Unknown | Change::MayRelease
        ) && under_another_name(state, cfg, lock, calls)
        {
            continue;
        }
        // Locking through a pointer says it is not NULL here; a lock under
        // a callee's result says nothing of it (the callee returns NULL
        // without the lock).
        if matches!(effect.change, Change::Acquire | Change::Release) && !effect.under_result {
            learn_not_null(state, &effect.named);
        }
        match effect.change {
            Change::Acquire => {
                // Double-checked locking (`if (x->done) return; lock(l);
                // if (x->done) { unlock(l); return; }`): the test under the
                // lock may go either way, whatever the first one found.
                for (_, key) in calls.written_under_lock.iter().filter(|(l, _)| l == lock) {
                    state.kill(key);
                }
                acquire(state, lock, effect.site, effect.recursive);
                set_carrier(state, lock, [&key]);
                if let Some(level) = state.locks_mut().get_mut(lock) {
                    level.acquired_in = effect.via.and_then(|v| calls.summaries.home_of(v));
                }
                // The sure side of a try (`ww_mutex_lock(l, NULL)`): the call
                // succeeded, and its result says so.
                let tried =
                    summary
                        .into_iter()
                        .flat_map(|s| &s.effects)
                        .find_map(|e| match e.change {
                            Change::TryAcquire(success)
                                if effect.applies == Some(true) && e.when.is_some() =>
                            {
                                Some(success)
                            }
                            _ => None,
                        });
                if let (Some(success), true) = (tried, call.result_used) {
                    result_truth = Some(success == Success::Nonzero);
                }
            }
            Change::Release => release(state, lock, effect.site, effect.ownerless),
            // A lookup handing back its object locked, or NULL (`port =
            // uart_port_ref_lock(…)` locking `port->lock`): the lock exists
            // only where the pointer is not NULL, and is held there.
            Change::TryAcquire(Success::Nonzero)
                if call.result_used
                    && !call.result_negated
                    && under_result(call, &effect.named) =>
            {
                // Taken once the result is stored (what the variable held
                // before is gone by then).
                locked_results.push((lock.clone(), effect.site, effect.recursive));
            }
            // `WARN_ON(!mutex_is_locked(l))` where this path holds `l`:
            // it is locked.
            Change::HeldTest
                if call.result_used && state.locks.get(lock).is_some_and(|l| l.min > 0) =>
            {
                result_truth = Some(!call.result_negated);
            }
            Change::TryAcquire(_) | Change::TryRelease(_) | Change::HeldTest
                if call.result_used =>
            {
                let (success, kind) = match effect.change {
                    Change::TryAcquire(success) => (success, PendingKind::Acquire),
                    Change::TryRelease(success) => (success, PendingKind::Release),
                    _ => (Success::Nonzero, PendingKind::HeldTest),
                };
                add_pending(
                    state,
                    Pending {
                        key: key.clone(),
                        alias: alias.clone(),
                        lock: lock.clone(),
                        success: if call.result_negated {
                            success.negated()
                        } else {
                            success
                        },
                        site: effect.site,
                        recursive: effect.recursive,
                        kind,
                    },
                );
                produced_pending = true;
            }
            Change::HeldTest => {}
            Change::TryAcquire(_) => may_acquire(state, lock, effect.site, effect.recursive),
            // Result ignored: the lock may or may not be gone.
            Change::TryRelease(_) => {
                if state.lock_exists(lock) {
                    let level = state.level_entry(lock);
                    level.min = clamp(level.min - 1);
                }
            }
            // `lockdep_assert_held()`, or a callee that asserts it:
            // held from here, and the caller's precondition.
            Change::Require => {
                let level = state.level_entry(lock);
                // Its own assertion says the lock is held from here;
                // a callee's requirement only passes the
                // precondition on (the caller may meet it on some
                // paths only, `if (rtnl_held) qdisc_put(q)`).
                if level.held_min() < 1 && !level.touched {
                    level.asserted |= effect.via.is_none();
                    level.required = true;
                }
            }
            // `lockdep_assert_not_held()`: a callback before it
            // dropped the lock (`->freeze(bdev)` releasing
            // `bd_holder_lock`), and the path goes on without it.
            Change::NotHeld => {
                if let Some(level) = state.locks_mut().get_mut(lock).filter(|l| l.max > 0) {
                    level.min = level.min.min(0);
                    level.max = 0;
                    level.touched = true;
                    level.released_at.get_or_insert(effect.site);
                }
            }
            Change::Unknown => {
                if state.lock_exists(lock) {
                    state.level_entry(lock).may_have_changed();
                }
            }
            // A lock a callee may release: gone or not, unknown from here.
            // One of the caller's objects this function never touched stays
            // untracked: its summary passes the release on (`summarize`),
            // as an entry on every path up every chain would cost the
            // whole tree's memory. A global or named lock (RCU), named at
            // every depth, is a change no summary says, one level up.
            Change::MayRelease => {
                if let Some(level) = state.locks_mut().get_mut(lock) {
                    level.unknown = true;
                    level.min = clamp(level.min - 1);
                } else if !lock
                    .root_var()
                    .is_some_and(|v| cfg.params.iter().any(|p| p == v))
                    && state.lock_exists(lock)
                {
                    state.level_entry(lock).may_have_changed();
                }
            }
            Change::Opaque => {
                if let Some(level) = state.locks_mut().get_mut(lock) {
                    level.may_have_changed();
                }
            }
        }
    }
    let conditions: Vec<(TruthKey, bool)> = calls
        .read_by_calls
        .get(&node)
        .into_iter()
        .flatten()
        .filter_map(|key| state.facts.get(key).map(|&truth| (key.clone(), truth)))
        .collect();
    for v in call.result_var.iter().chain(&call.result_alias) {
        state.kill(&TruthKey::Var(v.clone()));
        // `rq = i915_request_get(rq)`: a call given the variable's own
        // value hands back that object (a reference taken): it still
        // carries the locks it carried.
        let given_itself = given_itself(call, v);
        let carried: Vec<Path> = if given_itself {
            state
                .locks
                .iter()
                .filter(|(_, l)| l.carrier.as_deref() == Some(v))
                .map(|(p, _)| p.clone())
                .collect()
        } else {
            Vec::new()
        };
        forget_released(state, v, Some(call.span));
        for lock in &carried {
            if let Some(level) = state.locks_mut().get_mut(lock) {
                level.carrier = Some(v.clone());
            }
        }
        if !produced_pending {
            drop_pending(state, &TruthKey::Var(v.clone()));
        }
    }
    if let Some(truth) = result_truth {
        state.facts_mut().insert(key.clone(), truth);
    }
    // The result is another name for the object the callee returns.
    if let (Some(result), Some(object)) = (
        &call.result_lvalue,
        summary.and_then(|s| returned_object(s, call)),
    ) {
        let name = result.clone().push(Step::Deref);
        let object = state.canonical(&object);
        if name != object && worth_an_alias(state, cfg, &object) {
            state.aliases_mut().insert(name, object);
        }
    }
    // `pte_offset_map_nolock(…, &ptl)`: the pointer `ptl` may point
    // to another lock now (a lock stored in the variable itself,
    // `spin_lock(&global_lock)`, stays where it is).
    for var in &call.clobbers {
        state.kill(&TruthKey::Var(var.clone()));
        forget_pointee(state, var, Some(call.span), true);
    }
    // What the callee's effects depended on is what it left there (`if
    // (cookie->locked) xa_lock(…)` in the callee, `&cookie` here): still
    // known after the call, for the call that reads it next.
    for (key, truth) in conditions {
        state.facts_mut().insert(key, truth);
    }
    for (lock, site, recursive) in locked_results {
        acquire(state, &lock, site, recursive);
    }
}

/// A lock returned and dropped on the floor (`lock_cluster_or_swap_info(si,
/// off);` relocking what the caller still names `ci`): a held lock with that
/// field may be taken again.
fn forget_dropped_returns(state: &mut State, summary: &Summary, call: &crate::cfg::Call) {
    if call.result_lvalue.is_some() {
        return;
    }
    for effect in &summary.effects {
        if effect.lock.root != RefRoot::Return {
            continue;
        }
        if let Some(Step::Field(field)) = effect.lock.steps.last() {
            for level in state.levels_with_field(|f| f == field) {
                level.unknown = true;
                level.max = clamp(level.max + 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_says_whether_anything_changed() {
        let lock = Path::var("l");
        let mut held = State::default();
        let mut level = Level::untouched();
        level.min = 1;
        level.max = 1;
        level.touched = true;
        held.locks_mut().insert(lock.clone(), level);
        let mut joined = held.clone();
        assert!(
            !joined.join(&held),
            "joining a state with itself changes nothing"
        );
        let free = State::default();
        assert!(
            joined.join(&free),
            "joining a path without the lock widens it"
        );
        let l = joined.level(&lock);
        assert_eq!((l.min, l.max, l.touched), (0, 1, false));
        assert!(!joined.join(&free), "a second join is a fixpoint");
    }
}
