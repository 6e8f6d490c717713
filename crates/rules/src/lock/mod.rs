//! The lock rules every kernel tree gets (SPEC.md §3), one file each:
//! [`double_acquire`], [`release_unheld`], [`inconsistent_exit`],
//! [`leak_at_exit`].
//!
//! Two kinds of evidence feed them. [`FactVisitor`] reads every function's
//! solved lock states once, while the function is solved, and keeps what the
//! rules need ([`FunctionFacts`]): locks taken while held, released while not
//! held or while a try result is untested, the locks held at each access, and
//! how each call site handles a lock its callee leaves held. The exit rules
//! read the exit facts of the summaries and ask the reporting policy
//! ([`crate::policy`]) for a verdict.

pub mod double_acquire;
pub mod inconsistent_exit;
pub mod leak_at_exit;
pub mod release_unheld;

use std::collections::{HashMap, HashSet};

use lockwarden_flow::analysis::{Analysis, Annotation, FileUnit, FunctionUnit, Visitor};
use lockwarden_flow::cfg::{NodeId, Op};
use lockwarden_flow::dataflow::{
    released_lock, releases_unheld, signals_another_context, Cursor, Level, PendingKind,
};
use lockwarden_flow::path::{loose_key, Path, Step};
use lockwarden_flow::summary::{Change, ExitFact};
use lockwarden_report::{Finding, Location, RuleInfo, Severity};
use lockwarden_syntax::Span;
use rayon::prelude::*;

use crate::policy::{self, Evidence};

/// The documentation of the lock rules, in registry order.
/// Where the `lock/*` rules and the reporting policy are documented.
pub fn help_uri() -> String {
    lockwarden_report::documentation_uri("rules/README.md")
        + "#the-lock-rules-and-the-reporting-policy"
}

pub fn rules() -> Vec<RuleInfo> {
    vec![
        inconsistent_exit::info(),
        double_acquire::info(),
        release_unheld::info(),
        leak_at_exit::info(),
    ]
}

/// A node where a rule's condition held on some path.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockEvent {
    pub lock: Path,
    pub at: Span,
    /// Where it was taken (double acquire) or released (release of an
    /// unheld lock) before, or the untested try-acquire.
    pub previous: Option<Span>,
    /// The analysed callee the effect comes through.
    pub via: Option<String>,
    pub kind: EventKind,
}

impl LockEvent {
    /// ` (through f())` when the effect comes through an analysed callee.
    pub fn through(&self) -> String {
        self.via
            .as_ref()
            .map(|c| format!(" (through {c}())"))
            .unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EventKind {
    /// A non-recursive lock acquired while certainly held.
    DoubleAcquire,
    /// A lock released where it is certainly not held.
    ReleaseUnheld,
    /// A lock released where it is held only if a try-acquire succeeded, and
    /// that result was never tested.
    ReleaseUntested,
}

/// How one call site handles a lock its callee may leave held.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CallHandling {
    pub callee: String,
    /// The result is tested, stored or returned.
    pub result_used: bool,
    /// The call may be a try here: not when what the caller passes makes
    /// the callee take the lock outright (`dma_resv_lock(obj, NULL)`),
    /// where ignoring the result ignores nothing.
    pub tried: bool,
    /// The caller releases, on some path, the lock the call took.
    pub released: bool,
    /// The caller returns holding the lock the call took, on some return
    /// after the call: it hands the lock up (a wrapper, or a conditional
    /// acquire of its own), and its own callers decide.
    pub passed_up: bool,
    /// The caller returns the call's try result untested (a try wrapper of
    /// the try wrapper).
    pub forwarded: bool,
    /// The caller gives the object of the lock the call took to a call
    /// through a pointer, which may release it: what the caller does with
    /// the lock is not known.
    pub lost: bool,
}

/// What the rules keep of one function's solved states.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct FunctionFacts {
    pub events: Vec<LockEvent>,
    /// At each call and write: the locks this function certainly holds
    /// there by taking them (a lock asserted or annotated as held is the
    /// callers' to take: a precondition, not a lock held here).
    pub held: NodeSets<Path>,
    /// At each call and write: locks held earlier on some path but released
    /// before the node, with where they were released.
    pub dropped: NodeSets<(Path, Span)>,
    /// Calls to analysed functions that may leave a lock held.
    pub handling: Vec<CallHandling>,
}

/// A set of values at some nodes, kept for every function of a tree: the
/// calls of one critical section share one set.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct NodeSets<T> {
    sets: Vec<Vec<T>>,
    at: HashMap<NodeId, u32>,
}

impl<T> Default for NodeSets<T> {
    fn default() -> Self {
        NodeSets {
            sets: Vec::new(),
            at: HashMap::new(),
        }
    }
}

impl<T: PartialEq> NodeSets<T> {
    /// `set` at `node`; the set before it is reused when equal.
    pub fn insert(&mut self, node: NodeId, set: Vec<T>) {
        if self.sets.last() != Some(&set) {
            self.sets.push(set);
        }
        self.at.insert(node, (self.sets.len() - 1) as u32);
    }

    pub fn get(&self, node: &NodeId) -> Option<&Vec<T>> {
        self.at.get(node).map(|&i| &self.sets[i as usize])
    }
}

/// Collects [`FunctionFacts`] from each solved function.
pub struct FactVisitor;

/// The call that took the lock at `level`, when a callee took it, is
/// released by this caller.
fn mark_released(handling: &mut HashMap<Span, CallHandling>, level: &Level) {
    if let Some(h) = level.acquired_at.and_then(|a| handling.get_mut(&a)) {
        h.released = true;
    }
}

impl Visitor for FactVisitor {
    type Output = FunctionFacts;

    fn visit(&self, _: &FunctionUnit, cursor: &Cursor<'_>, _: &[ExitFact]) -> FunctionFacts {
        let cfg = cursor.cfg;
        let mut facts = FunctionFacts::default();
        // Calls whose callee may leave a lock held, by call span: a lock
        // acquired "at" one of them was taken by that callee.
        let mut handling: HashMap<Span, CallHandling> = HashMap::new();
        for (node, op) in cfg.ops.iter().enumerate() {
            let Op::Call(call) = op else { continue };
            let Some(summary) = cursor.callee_summary(node as NodeId) else {
                continue;
            };
            let leaves_held = summary
                .effects
                .iter()
                .any(|e| matches!(e.change, Change::Acquire | Change::TryAcquire(_)));
            if !summary.primitive && leaves_held {
                handling.insert(
                    call.span,
                    CallHandling {
                        callee: call.callee.clone().unwrap_or_default(),
                        result_used: call.result_used,
                        tried: false,
                        // A caller that counts with the semaphore the callee
                        // takes (a barrier, a slot count) holds no lock it
                        // could release: no caller of a wrapper is judged
                        // for what it does with a counter.
                        released: cursor.takes_only_counters(node as NodeId),
                        passed_up: false,
                        forwarded: false,
                        lost: false,
                    },
                );
            }
        }
        // The locks each such call takes, and every lock released here.
        let mut taken_by_call: HashMap<Span, HashSet<Path>> = HashMap::new();
        let mut released: HashSet<Path> = HashSet::new();
        let mut given_to_callbacks: HashSet<Path> = HashSet::new();
        for (node, op) in cfg.ops.iter().enumerate() {
            let node = node as NodeId;
            let states = cursor.states_before(node);
            // A call through a pointer given the object of a held lock may
            // release it (`walk->ops->process_bo(walk, bo)`), as the engine
            // reads such calls.
            if let Op::Call(call) = op {
                if call.indirect.is_some() {
                    given_to_callbacks.extend(
                        states
                            .iter()
                            .flat_map(|s| s.held_reachable(&call.args))
                            .cloned(),
                    );
                }
            }
            for state in states {
                for effect in cursor.effects(node, state) {
                    if let (Op::Call(call), Change::Acquire | Change::TryAcquire(_)) =
                        (op, &effect.change)
                    {
                        if let Some(h) = handling.get_mut(&call.span) {
                            let may_apply = effect.applies != Some(false);
                            h.tried |= may_apply && matches!(effect.change, Change::TryAcquire(_));
                            if may_apply {
                                taken_by_call
                                    .entry(call.span)
                                    .or_default()
                                    .insert(effect.lock.clone());
                            }
                        }
                    }
                    if !state.lock_exists(&effect.lock) {
                        continue;
                    }
                    // Handed to a callee that may release it, under a
                    // condition of its own (`if (owner == id)
                    // mutex_unlock(…)`) or on an argument the path cannot
                    // read (a flag the acquiring call set through a pointer,
                    // `ttm_lru_walk_unlock(bo, needs_unlock)`): the caller
                    // releases it through that callee.
                    let through_callee = match (effect.change, effect.applies) {
                        (Change::Unknown | Change::Opaque | Change::MayRelease, Some(true)) => {
                            Some(state.level(&effect.lock))
                        }
                        (Change::Release, None) => {
                            Some(state.level(&released_lock(state, &effect.lock)))
                        }
                        _ => None,
                    };
                    if let Some(level) = through_callee {
                        mark_released(&mut handling, &level);
                    }
                    if effect.applies != Some(true) {
                        continue;
                    }
                    let event = |kind, lock: &Path, previous| LockEvent {
                        lock: lock.clone(),
                        at: effect.site,
                        previous,
                        via: effect.via.map(str::to_owned),
                        kind,
                    };
                    match effect.change {
                        Change::Acquire => {
                            let level = state.level(&effect.lock);
                            if !effect.recursive
                                && !level.recursive
                                && !level.unknown
                                && level.held_min() >= 1
                            {
                                let e = event(
                                    EventKind::DoubleAcquire,
                                    &effect.lock,
                                    level.acquired_at,
                                );
                                facts.events.push(e);
                            }
                        }
                        Change::Release => {
                            let lock = released_lock(state, &effect.lock);
                            let level = state.level(&lock);
                            let untested = state
                                .pending
                                .iter()
                                .find(|p| p.lock == lock && p.kind == PendingKind::Acquire)
                                .map(|p| p.site)
                                .or(level.untested.filter(|_| level.held_min() <= 0));
                            // A try result still untested says why the lock
                            // may not be held; a release of a lock certainly
                            // not held is the plainer bug otherwise.
                            if let Some(site) = untested.filter(|_| !level.unknown) {
                                let e = event(EventKind::ReleaseUntested, &lock, Some(site));
                                facts.events.push(e);
                            } else if !level.is_callers()
                                && releases_unheld(&level)
                                && !signals_another_context(&level, effect.ownerless)
                            {
                                let e = event(EventKind::ReleaseUnheld, &lock, level.released_at);
                                facts.events.push(e);
                            }
                            mark_released(&mut handling, &level);
                            // Held here on some path, taken by a call: any
                            // call that took it under this name may be the
                            // one that reached this release.
                            let by_call =
                                level.acquired_at.is_some_and(|a| handling.contains_key(&a));
                            if level.max > 0 && by_call {
                                released.insert(lock.clone());
                                released.insert(effect.lock.clone());
                            }
                            // Maybe a lock a callee took, under another name
                            // (`kfd_unlock_pdd(pdd)` after `pdd =
                            // kfd_lock_pdd_by_id(p, …)` took `p->mutex`).
                            for other in cursor.held_under_another_name(state, &lock) {
                                mark_released(&mut handling, &state.level(&other));
                            }
                        }
                        _ => {}
                    }
                }
                if let Op::Return { .. } = op {
                    // Returned holding what the call took: handed up.
                    for level in state.locks.values() {
                        let Some(h) = level.acquired_at.and_then(|a| handling.get_mut(&a)) else {
                            continue;
                        };
                        h.passed_up |= level.min > 0;
                    }
                    // `return foo_trylock(x);`: the caller hands the try result on.
                    for p in &state.pending {
                        if let Some(h) = handling.get_mut(&p.site) {
                            h.forwarded = true;
                        }
                    }
                }
            }
            if matches!(op, Op::Call(_) | Op::Write { .. }) {
                held_and_dropped(node, states, &mut facts);
            }
        }
        // One lock, one name: a release of a lock held there under the name
        // a call took it by releases what that call took, whichever of two
        // calls on the way took it (`tty = a(…); if (!tty) tty = b(…); …
        // tty_unlock(tty);`), where the path remembers one of them.
        for (span, locks) in &taken_by_call {
            if let Some(h) = handling.get_mut(span) {
                h.released |= locks.iter().any(|l| released.contains(l));
                h.lost |= locks.iter().any(|l| given_to_callbacks.contains(l));
            }
        }
        facts.events.sort_by_key(|e| (e.at.start, e.kind as u8));
        facts.events.dedup();
        facts.handling = handling.into_values().collect();
        facts.handling.sort_by(|a, b| a.callee.cmp(&b.callee));
        facts
    }
}

/// The locks held (by taking them here) at a node on every path, and those
/// released before it on some path.
fn held_and_dropped(
    node: NodeId,
    states: &[lockwarden_flow::dataflow::State],
    facts: &mut FunctionFacts,
) {
    let Some(first) = states.first() else {
        return;
    };
    let must: Vec<Path> = first
        .locks
        .iter()
        .filter(|(p, _)| {
            states
                .iter()
                .all(|s| s.locks.get(*p).is_some_and(|l| l.min >= 1) || !s.lock_exists(p))
        })
        .map(|(p, _)| p.clone())
        .collect();
    let gone: Vec<(Path, Span)> = states
        .iter()
        .flat_map(|s| s.locks.iter())
        .filter(|(p, l)| l.held_max() <= 0 && l.touched && !must.contains(p))
        .filter_map(|(p, l)| l.released_at.map(|r| (p.clone(), r)))
        .collect();
    if !must.is_empty() {
        facts.held.insert(node, must);
    }
    if !gone.is_empty() {
        facts.dropped.insert(node, gone);
    }
}

/// Locates spans of one file for findings.
pub(crate) struct At<'a> {
    file: &'a FileUnit,
    path: String,
    /// Unpacked for the first finding: most functions have none.
    source: std::cell::OnceCell<Vec<u8>>,
}

impl<'a> At<'a> {
    pub fn new(file: &'a FileUnit) -> At<'a> {
        At {
            file,
            path: file.report_path(),
            source: std::cell::OnceCell::new(),
        }
    }

    pub fn source(&self) -> &[u8] {
        self.source.get_or_init(|| self.file.source())
    }

    pub fn loc(&self, span: Span) -> Location {
        Location::from_offsets(self.path.clone(), self.source(), span.start, span.end)
    }

    /// A finding about `lock`: its name, not the message's wording, goes
    /// into the fingerprint.
    pub fn finding(
        &self,
        info: &RuleInfo,
        severity: Severity,
        function: &str,
        span: Span,
        lock: &Path,
        message: String,
    ) -> Finding {
        let mut f = Finding::new(
            info.id.clone(),
            severity,
            self.loc(span),
            function,
            message,
            self.source(),
        )
        .about(&lock.to_string(), self.source());
        f.help = info.help.clone();
        f
    }

    /// Adds a secondary label that is also a step of the evidence trace.
    pub fn evidence(&self, finding: Finding, span: Span, message: String) -> Finding {
        let loc = self.loc(span);
        finding
            .with_label(loc.clone(), message.clone())
            .with_trace_step(loc, message)
    }
}

/// Whether one of `names` annotates the function for `lock` (or for any
/// lock, when it has no argument).
pub(crate) fn annotated(annotations: &[Annotation], names: &[&str], lock: &Path) -> bool {
    let key = lock.loose_key();
    annotations
        .iter()
        .filter(|a| names.contains(&a.name.as_str()))
        .any(|a| a.args.is_empty() || a.args.iter().any(|arg| loose_key(arg) == key))
}

/// What the lock rules read of the rest of the program about one function:
/// the whole run's answers, kept for a re-check of its file alone.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Given {
    /// Its own and its prototypes' annotations.
    pub annotations: Vec<Annotation>,
    /// The analysed code calls it directly.
    pub has_callers: bool,
    pub evidence: Evidence,
}

/// What the program gives each of its functions (see [`Given`]), with
/// `evidence` from [`policy::caller_evidence`].
pub fn given(analysis: &Analysis<FunctionFacts>, evidence: &EvidenceMap, i: usize) -> Given {
    Given {
        annotations: analysis.program.annotations(&analysis.program.functions[i]),
        has_callers: analysis.callers[i] > 0,
        evidence: evidence.get(&i).copied().unwrap_or_default(),
    }
}

/// Runs the lock rules over every analysed function.
pub fn check(analysis: &Analysis<FunctionFacts>, evidence: &EvidenceMap) -> Vec<Finding> {
    check_given(analysis, &|i| given(analysis, evidence, i))
}

/// Runs the lock rules over every function of `analysis`, each with what
/// `given` says the program gives it.
pub fn check_given(
    analysis: &Analysis<FunctionFacts>,
    given: &(dyn Fn(usize) -> Given + Sync),
) -> Vec<Finding> {
    let program = &analysis.program;
    let lookup_releases = policy::lookup_releases(analysis);
    let no_fields = HashSet::new();
    (0..program.functions.len())
        .into_par_iter()
        .flat_map_iter(|i| {
            let f = &program.functions[i];
            let file = &program.files[f.file];
            let at = At::new(file);
            let given = given(i);
            let cx = policy::Context {
                function: f,
                result: &analysis.results[i],
                annotations: &given.annotations,
                has_callers: given.has_callers,
                implements_primitive: analysis.api.primitive(&f.name).is_some(),
                evidence: given.evidence,
                lookup_releases: lookup_releases.get(&f.file).unwrap_or(&no_fields),
            };
            check_function(&cx, &at)
        })
        .collect()
}

fn check_function(cx: &policy::Context<'_>, at: &At<'_>) -> Vec<Finding> {
    // Precision depends on the parse: a body with errors has a guessed graph.
    if cx.function.parse_errors > 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut reported_events: Vec<(Span, EventKind)> = Vec::new();
    for event in &cx.result.visited.events {
        // An element of an array (`fbatch.folios[i]`) is not one lock from
        // one index to the next; one call that releases two locks (a lock
        // and its RCU section) is one finding.
        if event.lock.steps.contains(&Step::Index)
            || reported_events.contains(&(event.at, event.kind))
        {
            continue;
        }
        reported_events.push((event.at, event.kind));
        let finding = match event.kind {
            EventKind::DoubleAcquire => double_acquire::finding(cx, event, at),
            EventKind::ReleaseUnheld | EventKind::ReleaseUntested => {
                release_unheld::finding(cx, event, at)
            }
        };
        out.extend(finding);
    }
    if cx.result.incomplete.is_some() {
        return out;
    }
    // One call can take two locks (a page-table lock and its RCU section):
    // one finding for the pair.
    let mut reported: Vec<(Option<Span>, Span)> = Vec::new();
    for exit in &cx.result.exits {
        let Some(verdict) = policy::judge(exit, cx) else {
            continue;
        };
        let pair = (exit.acquired_at, verdict.primary);
        if exit.acquired_at.is_some() && reported.contains(&pair) {
            continue;
        }
        reported.push(pair);
        out.push(match verdict.rule {
            policy::ExitRule::Inconsistent => inconsistent_exit::finding(cx, exit, &verdict, at),
            policy::ExitRule::Leak => leak_at_exit::finding(cx, exit, &verdict, at),
        });
    }
    out
}

/// How the analysed callers of each function handle the locks it leaves
/// held: by callee index, each caller's index and handling.
pub(crate) fn handling_by_callee(
    analysis: &Analysis<FunctionFacts>,
) -> HashMap<usize, Vec<(usize, &CallHandling)>> {
    let program = &analysis.program;
    let mut out: HashMap<usize, Vec<(usize, &CallHandling)>> = HashMap::new();
    for (i, f) in program.functions.iter().enumerate() {
        for h in &analysis.results[i].visited.handling {
            // What a caller does tells about every variant its call may reach.
            for callee in program.reachable(f.file, &h.callee) {
                if callee != i {
                    out.entry(callee).or_default().push((i, h));
                }
            }
        }
    }
    out
}

pub type EvidenceMap = HashMap<usize, Evidence>;
