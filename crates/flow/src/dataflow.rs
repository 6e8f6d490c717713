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

use lockwarden_syntax::Span;

use crate::api::{Effect, Success};
use crate::cfg::{Cfg, EdgeCond, NodeId, Op, TruthKey};
use crate::path::Path;
use crate::summary::{Change, Summary};

/// Depths are clamped to this, which keeps the lattice finite.
const MAX_DEPTH: i8 = 4;

/// States with different path facts kept apart at one node; beyond this
/// they are merged and the facts they disagree on forgotten.
pub const MAX_DISJUNCTS: usize = 8;

/// The state of one lock.
#[derive(Clone, Debug)]
pub struct Level {
    pub min: i8,
    pub max: i8,
    /// Acquired or released in this function on every path here.
    pub touched: bool,
    /// Known held on entry (annotation or assertion).
    pub asserted: bool,
    pub recursive: bool,
    /// A callee changed it in a way its summary cannot say (held on some of
    /// its returns only): what this function does with it is not judged.
    pub unknown: bool,
    /// Stored where the caller sees it (`*foliop = folio`): the caller's
    /// business from here.
    pub handed_over: bool,
    pub acquired_at: Option<Span>,
    pub released_at: Option<Span>,
}

impl Level {
    fn untouched() -> Level {
        Level {
            min: 0,
            max: 0,
            touched: false,
            asserted: false,
            recursive: false,
            unknown: false,
            handed_over: false,
            acquired_at: None,
            released_at: None,
        }
    }

    /// Held depth on every path, counting what was held on entry.
    pub fn held_min(&self) -> i8 {
        self.min + i8::from(self.asserted)
    }

    pub fn held_max(&self) -> i8 {
        self.max + i8::from(self.asserted)
    }

    /// A callee may have taken or dropped it once: unknown, either way.
    fn may_have_changed(&mut self) {
        self.unknown = true;
        self.min = clamp(self.min - 1);
        self.max = clamp(self.max + 1);
    }

    fn same_facts(&self, other: &Level) -> bool {
        (
            self.min,
            self.max,
            self.touched,
            self.asserted,
            self.unknown,
        ) == (
            other.min,
            other.max,
            other.touched,
            other.asserted,
            other.unknown,
        )
    }

    fn join(&self, other: &Level) -> Level {
        Level {
            min: self.min.min(other.min),
            max: self.max.max(other.max),
            touched: self.touched && other.touched,
            asserted: self.asserted || other.asserted,
            recursive: self.recursive || other.recursive,
            unknown: self.unknown || other.unknown,
            handed_over: self.handed_over || other.handed_over,
            acquired_at: self.acquired_at.or(other.acquired_at),
            released_at: self.released_at.or(other.released_at),
        }
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
    /// On success the lock is released rather than acquired.
    pub release: bool,
}

/// The lock state at a program point.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub locks: BTreeMap<Path, Level>,
    pub pending: Vec<Pending>,
    /// The truth of tested variables and fields on this path.
    pub facts: BTreeMap<TruthKey, bool>,
}

impl State {
    /// The same locks at the same levels, and the same pending results.
    fn same_locks(&self, other: &State) -> bool {
        self.locks.len() == other.locks.len()
            && self
                .locks
                .iter()
                .zip(&other.locks)
                .all(|((p, a), (q, b))| p == q && a.same_facts(b))
            && self.pending.len() == other.pending.len()
            && self.pending.iter().all(|p| {
                other
                    .pending
                    .iter()
                    .any(|q| q.key == p.key && q.lock == p.lock)
            })
    }

    fn join(&self, other: &State) -> State {
        let mut locks = BTreeMap::new();
        let untouched = Level::untouched();
        let keys: BTreeSet<&Path> = self.locks.keys().chain(other.locks.keys()).collect();
        for key in keys {
            let a = self.locks.get(key).unwrap_or(&untouched);
            let b = other.locks.get(key).unwrap_or(&untouched);
            locks.insert(key.clone(), a.join(b));
        }
        let mut pending = self.pending.clone();
        for p in &other.pending {
            if !pending.iter().any(|q| q.key == p.key) {
                pending.push(p.clone());
            }
        }
        let facts = self
            .facts
            .iter()
            .filter(|(k, v)| other.facts.get(*k) == Some(*v))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        State {
            locks,
            pending,
            facts,
        }
    }

    /// Whether `lock` exists on this path: no pointer on the way to it is
    /// known to be NULL.
    pub fn lock_exists(&self, lock: &Path) -> bool {
        let Some(root) = lock.root_var() else {
            return true;
        };
        lock.steps.iter().enumerate().all(|(i, step)| {
            if *step != crate::path::Step::Deref {
                return true;
            }
            let key = if i == 0 {
                TruthKey::Var(root.to_owned())
            } else {
                TruthKey::Value(Path {
                    root: lock.root.clone(),
                    steps: lock.steps[..i].to_vec(),
                })
            };
            self.facts.get(&key) != Some(&false)
        })
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
        self.locks
            .iter_mut()
            .filter_map(move |(path, level)| match path.steps.last() {
                Some(crate::path::Step::Field(f)) if wanted(f) => Some(level),
                _ => None,
            })
    }

    /// The level of `lock`, or an untouched one.
    pub fn level(&self, lock: &Path) -> Level {
        self.locks
            .get(lock)
            .cloned()
            .unwrap_or_else(Level::untouched)
    }

    /// Forgets what was known of `key` and everything under it.
    fn kill(&mut self, key: &TruthKey) {
        self.facts.retain(|k, _| !key.covers(k));
    }
}

/// The states reaching one node: kept apart by their path facts.
#[derive(Clone, Debug, Default)]
pub struct Disjuncts {
    pub states: Vec<State>,
    /// Too many disjuncts met here once: everything is merged from now on.
    collapsed: bool,
}

impl Disjuncts {
    /// Adds `state`; returns whether anything changed.
    ///
    /// Paths stay apart when their facts or their locks differ. Past
    /// [`MAX_DISJUNCTS`], paths whose locks stand the same are merged first,
    /// keeping the facts they share (property simulation, as in ESP); only
    /// then is everything merged.
    fn add(&mut self, state: State) -> bool {
        let target = if self.collapsed {
            Some(0)
        } else {
            self.states
                .iter()
                .position(|d| d.facts == state.facts && d.same_locks(&state))
        };
        if let Some(i) = target {
            let d = &mut self.states[i];
            let merged = d.join(&state);
            let changed = !merged.same_locks(d) || merged.facts != d.facts;
            *d = merged;
            return changed;
        }
        self.states.push(state);
        if self.states.len() > MAX_DISJUNCTS {
            let mut merged: Vec<State> = Vec::new();
            for s in std::mem::take(&mut self.states) {
                match merged.iter_mut().find(|m| m.same_locks(&s)) {
                    Some(m) => *m = m.join(&s),
                    None => merged.push(s),
                }
            }
            self.states = merged;
        }
        if self.states.len() > MAX_DISJUNCTS {
            let mut all = std::mem::take(&mut self.states).into_iter();
            let first = all.next().expect("just pushed");
            self.states = vec![all.fold(first, |a, b| a.join(&b))];
            self.collapsed = true;
        }
        true
    }
}

/// Something the dataflow saw that a rule may report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// A non-recursive lock acquired while certainly held.
    DoubleAcquire {
        lock: Path,
        at: Span,
        previous: Option<Span>,
        /// The callee that acquires it, when through a summary.
        via: Option<String>,
    },
    /// A lock released where it is certainly not held.
    ReleaseUnheld {
        lock: Path,
        at: Span,
        previous: Option<Span>,
        via: Option<String>,
    },
}

/// The solved dataflow of one function.
#[derive(Clone, Debug, Default)]
pub struct Solution {
    /// The in-states of every node (empty where unreached).
    pub states: Vec<Disjuncts>,
    /// The iteration bound was hit: the states may not be a fixpoint.
    pub incomplete: bool,
    pub observations: Vec<Observation>,
    /// Lock kinds calls in the function may drop out of sight.
    pub may_drop: Vec<String>,
    /// Lock fields callbacks run by calls here may release.
    pub callback_fields: Vec<String>,
}

/// How a function sees its callees' summaries.
pub trait Summaries {
    fn summary(&self, callee: &str) -> Option<&Summary>;
}

/// Solves the dataflow of `cfg`; `entry_held` are locks annotated as held on entry.
pub fn solve(cfg: &Cfg, entry_held: &[Path], summaries: &dyn Summaries) -> Solution {
    let mut entry = State::default();
    for lock in entry_held {
        let mut level = Level::untouched();
        level.asserted = true;
        entry.locks.insert(lock.clone(), level);
    }
    let tracked = tracked_keys(cfg);
    let calls = Calls::new(cfg, summaries);
    let n = cfg.ops.len();
    let mut states: Vec<Disjuncts> = vec![Disjuncts::default(); n];
    states[cfg.entry as usize].add(entry);
    let mut work: BTreeSet<NodeId> = BTreeSet::from([cfg.entry]);
    let bound = 64 * n + 1000;
    let mut visits = 0;
    let mut incomplete = false;
    while let Some(node) = work.pop_first() {
        visits += 1;
        if visits > bound {
            incomplete = true;
            break;
        }
        for mut state in states[node as usize].states.clone() {
            let alternative = transfer(cfg, node, &mut state, &calls, None);
            for mut state in std::iter::once(state).chain(alternative) {
                state.facts.retain(|k, _| tracked.contains(k));
                for edge in &cfg.succs[node as usize] {
                    let mut out = state.clone();
                    if apply_edge(&mut out, &edge.cond, &tracked)
                        && states[edge.to as usize].add(out)
                    {
                        work.insert(edge.to);
                    }
                }
            }
        }
    }
    let mut observations = Vec::new();
    for (node, disjuncts) in states.iter().enumerate() {
        for state in &disjuncts.states {
            let mut s = state.clone();
            transfer(cfg, node as NodeId, &mut s, &calls, Some(&mut observations));
        }
    }
    observations.sort_by_key(|o| match o {
        Observation::DoubleAcquire { at, .. } | Observation::ReleaseUnheld { at, .. } => at.start,
    });
    observations.dedup();
    let mut callback_fields: Vec<String> = calls.callback_fields.into_values().flatten().collect();
    callback_fields.sort();
    callback_fields.dedup();
    Solution {
        states,
        incomplete,
        observations,
        may_drop: calls.may_drop,
        callback_fields,
    }
}

/// The keys worth remembering facts about: those a path can learn twice
/// (tested twice, or assigned a constant and tested, or a try-lock result
/// tested), and the pointers on the way to a lock (`if (p) unlock(&p->l)`).
/// Facts about anything else cannot correlate two branches and would only
/// split states.
fn tracked_keys(cfg: &Cfg) -> HashSet<TruthKey> {
    let mut uses: HashMap<TruthKey, u32> = HashMap::new();
    let mut tracked = HashSet::new();
    let note_lock = |lock: &Path, tracked: &mut HashSet<TruthKey>| {
        if let Some(root) = lock.root_var() {
            for (i, step) in lock.steps.iter().enumerate() {
                if *step == crate::path::Step::Deref {
                    tracked.insert(if i == 0 {
                        TruthKey::Var(root.to_owned())
                    } else {
                        TruthKey::Value(Path {
                            root: lock.root.clone(),
                            steps: lock.steps[..i].to_vec(),
                        })
                    });
                }
            }
        }
    };
    for (node, op) in cfg.ops.iter().enumerate() {
        for edge in &cfg.succs[node] {
            if let EdgeCond::Truth(
                key @ (TruthKey::Var(_)
                | TruthKey::Value(_)
                | TruthKey::Cond { .. }
                | TruthKey::Errno(_)),
                true,
            ) = &edge.cond
            {
                *uses.entry(key.clone()).or_default() += 1;
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
                if let Some((_, Some(lock))) = &call.api {
                    note_lock(lock, &mut tracked);
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
            Op::GuardAcquire { lock, .. } => note_lock(lock, &mut tracked),
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
    // Parameters: a summary may depend on their truth (`if (!p) return; unlock();`).
    tracked.extend(cfg.params.iter().map(|p| TruthKey::Var(p.clone())));
    tracked
}

fn clamp(v: i8) -> i8 {
    v.clamp(-MAX_DEPTH, MAX_DEPTH)
}

fn acquire(
    state: &mut State,
    lock: &Path,
    site: Span,
    recursive: bool,
    via: Option<&str>,
    obs: &mut Option<&mut Vec<Observation>>,
) {
    if !state.lock_exists(lock) {
        return;
    }
    let level = state
        .locks
        .entry(lock.clone())
        .or_insert_with(Level::untouched);
    if !recursive && !level.recursive && !level.unknown && level.held_min() >= 1 {
        if let Some(obs) = obs.as_deref_mut() {
            obs.push(Observation::DoubleAcquire {
                lock: lock.clone(),
                at: site,
                previous: level.acquired_at,
                via: via.map(str::to_owned),
            });
        }
    }
    level.min = clamp(level.min + 1);
    level.max = clamp(level.max + 1);
    level.touched = true;
    level.recursive |= recursive;
    level.acquired_at = Some(site);
}

fn may_acquire(state: &mut State, lock: &Path, site: Span, recursive: bool) {
    if !state.lock_exists(lock) {
        return;
    }
    let level = state
        .locks
        .entry(lock.clone())
        .or_insert_with(Level::untouched);
    level.max = clamp(level.max + 1);
    level.recursive |= recursive;
    level.acquired_at.get_or_insert(site);
}

fn release(
    state: &mut State,
    lock: &Path,
    site: Span,
    via: Option<&str>,
    obs: &mut Option<&mut Vec<Observation>>,
) {
    if !state.lock_exists(lock) {
        return;
    }
    // `if (ptl != pml) spin_lock(ptl); … spin_unlock(ptl);` where the path
    // knows `ptl == pml`: the lock released is the one held as `*pml`.
    let lock = &state.equal_held(lock).unwrap_or_else(|| lock.clone());
    let level = state
        .locks
        .entry(lock.clone())
        .or_insert_with(Level::untouched);
    // Releasing a lock this function never touched: the caller held it.
    if !level.touched && !level.asserted && level.min == 0 && level.max == 0 {
        level.asserted = true;
    }
    if level.touched && !level.unknown && level.held_max() <= 0 {
        if let Some(obs) = obs.as_deref_mut() {
            obs.push(Observation::ReleaseUnheld {
                lock: lock.clone(),
                at: site,
                previous: level.released_at,
                via: via.map(str::to_owned),
            });
        }
        // Reported; the lock stays not held rather than going below zero.
        return;
    }
    level.min = clamp(level.min - 1);
    level.max = clamp(level.max - 1);
    level.touched = true;
    level.released_at = Some(site);
}

/// Turns untested try results for `key` into "may be held".
impl Pending {
    /// Whether a test of `key` tests this result.
    pub fn tested_by(&self, key: &TruthKey) -> bool {
        &self.key == key || self.alias.as_ref() == Some(key)
    }
}

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
        if p.release {
            if state.lock_exists(&p.lock) {
                let level = state
                    .locks
                    .entry(p.lock.clone())
                    .or_insert_with(Level::untouched);
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
fn apply_edge(state: &mut State, cond: &EdgeCond, tracked: &HashSet<TruthKey>) -> bool {
    let (key, truthy, learn) = match cond {
        EdgeCond::Always => return true,
        EdgeCond::Truth(key, truthy) => (key, truthy, true),
        EdgeCond::Settle(key, truthy) => (key, truthy, false),
    };
    if learn && tracked.contains(key) {
        if state.facts.get(key) == Some(&!*truthy) {
            return false;
        }
        state.facts.insert(key.clone(), *truthy);
    }
    // `IS_ERR(p)` settles a try result stored in `p` the other way round:
    // an error pointer is a failed try.
    if let TruthKey::Errno(v) = key {
        return apply_edge(
            state,
            &EdgeCond::Settle(TruthKey::Var(v.clone()), !*truthy),
            tracked,
        );
    }
    let (settled, kept): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut state.pending)
        .into_iter()
        .partition(|p| p.tested_by(key));
    state.pending = kept;
    for p in settled {
        settle(state, p, *truthy);
    }
    true
}

/// A pending try result is now known to be `truthy`.
fn settle(state: &mut State, p: Pending, truthy: bool) {
    let acquired = match p.success {
        Success::Nonzero => truthy,
        Success::Zero => !truthy,
    };
    if p.release {
        // A conditional release (a callee that drops the lock on failure).
        if acquired && state.lock_exists(&p.lock) {
            let level = state
                .locks
                .entry(p.lock.clone())
                .or_insert_with(Level::untouched);
            if !level.touched && !level.asserted && level.min == 0 && level.max == 0 {
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
        if let Some(level) = state.locks.get_mut(&p.lock) {
            level.touched = true;
        } else {
            let mut level = Level::untouched();
            level.touched = true;
            state.locks.insert(p.lock.clone(), level);
        }
    }
    if acquired && state.lock_exists(&p.lock) {
        let level = state
            .locks
            .entry(p.lock.clone())
            .or_insert_with(Level::untouched);
        level.min = clamp(level.min + 1);
        level.max = clamp(level.max + 1);
        level.touched = true;
        level.recursive |= p.recursive;
        level.acquired_at = Some(p.site);
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
    state.locks.retain(|path, level| {
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

fn is_param_key(cfg: &Cfg, key: &TruthKey) -> bool {
    matches!(key, TruthKey::Var(v) if cfg.params.contains(v))
}

/// A locked object stored through a parameter, where the caller sees it (`*foliop = folio`,
/// `args->lock = lock`): the lock travels under that name, `**foliop`,
/// `*args->lock`.
///
/// Only a local's object moves: a parameter's object keeps its name, which
/// the function and its caller go on using (`subscription->mm = mm`).
fn hand_over(state: &mut State, cfg: &Cfg, target: &Path, object: &Path) {
    if !cfg.rooted_at_param(target) || cfg.rooted_at_param(object) {
        return;
    }
    let moved: Vec<Path> = state
        .locks
        .iter()
        .filter(|(path, level)| {
            path.root == object.root && path.steps.starts_with(&object.steps) && level.max > 0
        })
        .map(|(path, _)| path.clone())
        .collect();
    for path in moved {
        if let Some(mut level) = state.locks.remove(&path) {
            level.handed_over = true;
            let mut renamed = target.clone().push(crate::path::Step::Deref);
            renamed
                .steps
                .extend_from_slice(&path.steps[object.steps.len()..]);
            state.locks.insert(renamed, level);
        }
    }
}

/// What the function's calls bring from their callees, worked out once per
/// solve rather than at every visit of a call.
struct Calls<'a> {
    summaries: &'a dyn Summaries,
    /// Lock kinds a call may drop and retake out of sight: `may-release` API
    /// calls, and callees whose summaries say so.
    may_drop: Vec<String>,
    /// Per call node, fields of locks that callbacks may release during the
    /// call: those a function passed as an argument releases
    /// (`kref_put(&z->ref, release_locked)`), and those the callee's own
    /// summary says its callbacks release.
    callback_fields: HashMap<NodeId, Vec<String>>,
}

impl<'a> Calls<'a> {
    fn new(cfg: &Cfg, summaries: &'a dyn Summaries) -> Self {
        let mut may_drop: Vec<String> = Vec::new();
        let mut callback_fields = HashMap::new();
        for (node, op) in cfg.ops.iter().enumerate() {
            let Op::Call(call) = op else { continue };
            let callee = match &call.api {
                Some((api, _)) => {
                    if api.effect == Effect::MayRelease && !may_drop.contains(&api.kind) {
                        may_drop.push(api.kind.clone());
                    }
                    None
                }
                None => call.callee.as_deref().and_then(|c| summaries.summary(c)),
            };
            let mut fields: Vec<String> = Vec::new();
            if let Some(summary) = callee {
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
        Calls {
            summaries,
            may_drop,
            callback_fields,
        }
    }
}

/// The effect of one node on the state.
///
/// A call whose summary depends on an argument the caller knows nothing about
/// splits the path: the state returned is the other way (`unlock(x, flag)`
/// with `flag` unknown: here the lock is released and `flag` is true, in the
/// returned state it is not and `flag` is false).
fn transfer(
    cfg: &Cfg,
    node: NodeId,
    state: &mut State,
    calls: &Calls<'_>,
    mut obs: Option<&mut Vec<Observation>>,
) -> Option<State> {
    let summaries = calls.summaries;
    let mut alternative = None;
    match &cfg.ops[node as usize] {
        Op::Call(call) => {
            // Where a branch will find the result: its variable, the field it
            // is stored in (`vmf->pte = pte_offset_map_lock(…)`), or the call.
            let key = match (&call.result_var, &call.result_lvalue) {
                (Some(v), _) => TruthKey::Var(v.clone()),
                (None, Some(path)) => TruthKey::Value(path.clone()),
                (None, None) => TruthKey::Call(node),
            };
            let alias = call.result_alias.as_ref().map(|v| TruthKey::Var(v.clone()));
            let mut produced_pending = false;
            if let (None, Some(path)) = (&call.result_var, &call.result_lvalue) {
                state.kill(&TruthKey::Value(path.clone()));
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
            if let Some((api, lock)) = &call.api {
                // The named lock the call also takes or drops (`RCU` for the
                // page-table map calls), then the lock of its argument.
                let companion = api
                    .also
                    .as_ref()
                    .map(|(name, recursive)| (Path::named(name), *recursive));
                let own = lock.clone().map(|l| (l, api.recursive));
                for (lock, recursive) in companion.into_iter().chain(own) {
                    let lock = &lock;
                    // A kind some call here may drop and retake out of sight.
                    if calls.may_drop.contains(&api.kind) && state.lock_exists(lock) {
                        state
                            .locks
                            .entry(lock.clone())
                            .or_insert_with(Level::untouched)
                            .unknown = true;
                    }
                    match api.effect {
                        Effect::Acquire => {
                            acquire(state, lock, call.span, recursive, None, &mut obs)
                        }
                        Effect::Release => release(state, lock, call.span, None, &mut obs),
                        Effect::TryAcquire if call.result_used => {
                            add_pending(
                                state,
                                Pending {
                                    key: key.clone(),
                                    alias: alias.clone(),
                                    lock: lock.clone(),
                                    success: if call.result_negated {
                                        api.success.negated()
                                    } else {
                                        api.success
                                    },
                                    site: call.span,
                                    recursive,
                                    release: false,
                                },
                            );
                            produced_pending = true;
                        }
                        Effect::TryAcquire => may_acquire(state, lock, call.span, recursive),
                        Effect::AssertHeld => {
                            let level = state
                                .locks
                                .entry(lock.clone())
                                .or_insert_with(Level::untouched);
                            if level.held_min() < 1 && !level.touched {
                                level.asserted = true;
                            }
                        }
                        Effect::AssertNotHeld | Effect::MayRelease => {}
                    }
                }
            } else if let Some(summary) = call.callee.as_deref().and_then(|c| summaries.summary(c))
            {
                let via = call.callee.as_deref();
                // A setter storing our pointer where our caller sees it.
                for (target, src) in &summary.stores {
                    let target = target.substitute(&call.args, call.result_lvalue.as_ref());
                    let object = call.args.get(*src).and_then(|a| a.pointee.clone());
                    if let (Some(target), Some(object)) = (target, object) {
                        hand_over(state, cfg, &target, &object);
                    }
                }
                for effect in &summary.effects {
                    let Some(lock) = effect
                        .lock
                        .substitute(&call.args, call.result_lvalue.as_ref())
                    else {
                        // A lock returned and dropped on the floor
                        // (`lock_cluster_or_swap_info(si, off);` relocking
                        // what the caller still names `ci`): a held lock
                        // with that field may be taken again.
                        if effect.lock.root == crate::summary::RefRoot::Return {
                            if let Some(crate::path::Step::Field(field)) = effect.lock.steps.last()
                            {
                                for level in state.levels_with_field(|f| f == field) {
                                    level.unknown = true;
                                    level.max = clamp(level.max + 1);
                                }
                            }
                        }
                        continue;
                    };
                    // An effect conditional on an argument: applied when the
                    // caller knows the argument's truth, possibly otherwise.
                    let applies = effect.when.map(|(i, want)| {
                        let arg = call.args.get(i);
                        arg.and_then(|a| a.constant)
                            .or_else(|| {
                                arg.and_then(|a| a.key.as_ref())
                                    .and_then(|k| state.facts.get(k).copied())
                            })
                            .map(|truth| truth == want)
                    });
                    match (applies, effect.when) {
                        (Some(Some(false)), _) => continue,
                        (Some(None), Some((i, want))) => {
                            let key = call.args.get(i).and_then(|a| a.key.clone());
                            match key {
                                // Split on what the caller can test later, or on
                                // its own parameter (its summary depends on it).
                                Some(key)
                                    if alternative.is_none()
                                        && (is_param_key(cfg, &key)
                                            || cfg.tested_after(node, &key)) =>
                                {
                                    let mut other = state.clone();
                                    other.facts.insert(key.clone(), !want);
                                    alternative = Some(other);
                                    state.facts.insert(key, want);
                                }
                                // Otherwise assume the argument is what callers
                                // usually pass: a valid pointer, a set flag.
                                _ if !want => continue,
                                _ => {}
                            }
                        }
                        _ => {}
                    }
                    match effect.change {
                        Change::Acquire => {
                            acquire(state, &lock, call.span, effect.recursive, via, &mut obs)
                        }
                        Change::Release => release(state, &lock, call.span, via, &mut obs),
                        Change::TryAcquire(success) | Change::TryRelease(success)
                            if call.result_used =>
                        {
                            add_pending(
                                state,
                                Pending {
                                    key: key.clone(),
                                    alias: alias.clone(),
                                    lock,
                                    success: if call.result_negated {
                                        success.negated()
                                    } else {
                                        success
                                    },
                                    site: call.span,
                                    recursive: effect.recursive,
                                    release: matches!(effect.change, Change::TryRelease(_)),
                                },
                            );
                            produced_pending = true;
                        }
                        Change::TryAcquire(_) => {
                            may_acquire(state, &lock, call.span, effect.recursive)
                        }
                        // Result ignored: the lock may or may not be gone.
                        Change::TryRelease(_) => {
                            if state.lock_exists(&lock) {
                                let level = state
                                    .locks
                                    .entry(lock.clone())
                                    .or_insert_with(Level::untouched);
                                level.min = clamp(level.min - 1);
                            }
                        }
                        Change::Unknown => {
                            if state.lock_exists(&lock) {
                                state
                                    .locks
                                    .entry(lock.clone())
                                    .or_insert_with(Level::untouched)
                                    .may_have_changed();
                            }
                        }
                        Change::Opaque => {
                            if let Some(level) = state.locks.get_mut(&lock) {
                                level.may_have_changed();
                            }
                        }
                    }
                }
            }
            for v in call.result_var.iter().chain(&call.result_alias) {
                state.kill(&TruthKey::Var(v.clone()));
                forget_released(state, v, Some(call.span));
                if !produced_pending {
                    drop_pending(state, &TruthKey::Var(v.clone()));
                }
            }
            // `pte_offset_map_nolock(…, &ptl)`: the pointer `ptl` may point
            // to another lock now (a lock stored in the variable itself,
            // `spin_lock(&global_lock)`, stays where it is).
            for var in &call.clobbers {
                state.kill(&TruthKey::Var(var.clone()));
                forget_pointee(state, var, Some(call.span), true);
            }
        }
        Op::GuardAcquire { lock, api, span } => {
            acquire(state, lock, *span, api.recursive, None, &mut obs)
        }
        Op::GuardRelease { lock, at, .. } => release(state, lock, *at, None, &mut None),
        Op::Assign { key, value } => {
            state.kill(key);
            if let Some(v) = value {
                state.facts.insert(key.clone(), *v);
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
        } => {
            // A locked object stored through a parameter (`*foliop = folio`,
            // `target->folio = folio`) is handed to the caller with its lock.
            hand_over(state, cfg, target, object);
        }
        Op::AssignConst { var, constant } => {
            for cond in cfg.constant_conds.get(var).into_iter().flatten() {
                if let Some(truth) = cond.truth_with(constant) {
                    state.facts.insert(cond.key.clone(), truth);
                }
            }
        }
        Op::Nop | Op::Return { .. } | Op::Write { .. } => {}
    }
    alternative
}
