//! The reporting policy of SPEC.md §3, in one place: which exit states of a
//! lock are bugs, which are protocols the callers follow (a conditional
//! acquire, an acquire wrapper), and how severe a bug is.
//!
//! The engine records facts (how a lock stands at every return, what each
//! call site does with a lock its callee leaves held); this module turns
//! them into verdicts:
//! - **Indistinguishable returns are bugs**: held on some returns and not on
//!   others, with return values the caller cannot tell apart (`void`, the
//!   same value, an error code returned holding it), whoever calls it:
//!   what the caller passed (`if (locked) spin_lock(…)`) does not tell them
//!   apart.
//! - **Nobody else can release it**: the same on a lock callers cannot name.
//! - **Conditional acquires need evidence**: on a lock callers can name, with
//!   values that tell the returns apart, an annotation or the callers decide:
//!   one tests the result and releases the lock (or loses it to a callback,
//!   which leaves it unknown), and none ignores it where the call may be a
//!   try.
//! - **Acquires the same way**: held on every return is an acquire wrapper
//!   when annotated or when callers release it, never when the function
//!   releases that lock itself.
//! - **One build at a time**: held on every return of the builds that take
//!   it (`#ifdef`) is judged as an acquire in those builds.
//! - **Lookup pairs**: a lock on an object the function looked up itself,
//!   of a field another function of its file releases on an object it looks
//!   up again, is one lock named by a lookup on each side: unknown.
//! - **No callers**: where nothing in the analysed code decides, a note.

use std::collections::{HashMap, HashSet};

use lockwarden_flow::analysis::{Analysis, Annotation, FunctionResult, FunctionUnit};
use lockwarden_flow::cfg::ReturnValue;
use lockwarden_flow::summary::{ExitFact, ExitKind, LockRef, RefRoot, ReturnFact};
use lockwarden_report::Severity;
use lockwarden_syntax::Span;

use crate::lock::{handling_by_callee, EvidenceMap, FunctionFacts};

/// What a function's analysed callers show about the locks it leaves held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    /// A caller releases the lock the call took.
    pub released: bool,
    /// A caller returns the call's try result to its own caller.
    pub forwarded: bool,
    /// A caller ignores the result of a call that may be a try there.
    pub ignored: bool,
    /// A caller loses the lock the call took to a callback: what it does
    /// with the lock is unknown.
    pub lost: bool,
}

/// Evidence for every function with analysed callers.
///
/// A function's lock is released by its callers when one releases it after
/// the call, or returns holding it and is itself released by its own
/// callers (a wrapper of a wrapper, a conditional acquire passed up through
/// a caller's return): worked out to a fixpoint, top down.
pub fn caller_evidence(analysis: &Analysis<FunctionFacts>) -> EvidenceMap {
    let by_callee = handling_by_callee(analysis);
    let mut released: HashSet<usize> = by_callee
        .iter()
        .filter(|(_, sites)| sites.iter().any(|(_, h)| h.released))
        .map(|(&callee, _)| callee)
        .collect();
    loop {
        let more: Vec<usize> = by_callee
            .iter()
            .filter(|(callee, _)| !released.contains(callee))
            .filter(|(_, sites)| {
                sites
                    .iter()
                    .any(|(caller, h)| h.passed_up && released.contains(caller))
            })
            .map(|(&callee, _)| callee)
            .collect();
        if more.is_empty() {
            break;
        }
        released.extend(more);
    }
    by_callee
        .iter()
        .map(|(&callee, sites)| {
            let evidence = Evidence {
                released: released.contains(&callee),
                forwarded: sites.iter().any(|(_, h)| h.forwarded),
                ignored: sites.iter().any(|(_, h)| !h.result_used && h.tried),
                lost: sites.iter().any(|(_, h)| h.lost),
            };
            (callee, evidence)
        })
        .collect()
}

/// What the policy knows of one function.
pub struct Context<'a> {
    pub function: &'a FunctionUnit,
    pub result: &'a FunctionResult<FunctionFacts>,
    pub annotations: &'a [Annotation],
    /// The analysed code calls it directly.
    pub has_callers: bool,
    /// Its name is a lock primitive's: it is the primitive's implementation.
    pub implements_primitive: bool,
    pub evidence: Evidence,
    /// Fields of the locks functions of its file release on objects they
    /// look up themselves (see [`lookup_releases`]).
    pub lookup_releases: &'a HashSet<String>,
}

/// By file, the fields of the locks its functions release on every return
/// on an object they looked up themselves (`le = ltree_lookup(ubi, vol_id,
/// lnum); … up_read(&le->mutex);` in `leb_read_unlock()`): the release half
/// of a pair that names one lock by a lookup on each side.
pub(crate) fn lookup_releases(
    analysis: &Analysis<FunctionFacts>,
) -> HashMap<usize, HashSet<String>> {
    let mut out: HashMap<usize, HashSet<String>> = HashMap::new();
    for (f, result) in analysis.program.functions.iter().zip(&analysis.results) {
        for exit in &result.exits {
            let released = matches!(exit.kind, ExitKind::Consistent(d) if d < 0);
            if released && !caller_nameable(exit, f) {
                if let Some(field) = exit.lock.last_name() {
                    out.entry(f.file).or_default().insert(field.to_owned());
                }
            }
        }
    }
    out
}

/// Whether the function's callers can name the lock of `exit` by what they
/// passed (a parameter's or a global's lock), or receive its object.
fn caller_nameable(exit: &ExitFact, f: &FunctionUnit) -> bool {
    exit.returns_root() || LockRef::from_path(&exit.lock, &f.params, &f.locals, false).is_some()
}

/// A lock on an object this function looked up itself, of a field a
/// function of its file releases on an object it looks up again: one lock
/// named by a lookup on each side of a lock/unlock pair (`leb_read_lock()`
/// and `leb_read_unlock()`, keyed by volume and block). Its callers release
/// it through the other half, under a name no analysis relates: unknown.
fn locked_by_lookup(exit: &ExitFact, cx: &Context<'_>) -> bool {
    !caller_nameable(exit, cx.function)
        && exit
            .lock
            .last_name()
            .is_some_and(|field| cx.lookup_releases.contains(field))
}

/// Which rule an exit verdict belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitRule {
    Inconsistent,
    Leak,
}

/// Why a lock's exit state is a bug, in words for the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// An error code is returned while the lock is held.
    ErrorHeld,
    /// The same value is returned with and without it.
    SameValue,
    /// A value returned with it may equal one returned without it.
    MaybeSameValue,
    /// The callers cannot name the lock to release it.
    Unnameable,
    /// No caller shows the return value is a conditional acquire.
    NoEvidence,
    /// A caller ignores the result of this conditional acquire.
    Ignored,
    /// The function releases the lock itself elsewhere.
    ReleasesItself,
    /// No caller releases what it returns holding.
    NotReleasedByCallers,
}

impl Reason {
    pub fn text(self) -> &'static str {
        match self {
            Reason::ErrorHeld => "an error code is returned with it held",
            Reason::SameValue => "the caller cannot tell the returns apart",
            Reason::MaybeSameValue => "the caller may not tell the returns apart",
            Reason::Unnameable => "no caller can name it to release it",
            Reason::NoEvidence => "no caller tests the result and releases it",
            Reason::Ignored => "a caller ignores the result",
            Reason::ReleasesItself => "it is released on another path of this function",
            Reason::NotReleasedByCallers => "no caller releases it",
        }
    }
}

/// A bug in how a lock stands at a function's returns.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub rule: ExitRule,
    pub severity: Severity,
    pub reason: Reason,
    /// The return the finding points at.
    pub primary: Span,
    /// A return that does not hold the lock (for `Inconsistent`).
    pub unheld: Option<Span>,
}

/// Annotations that say what a function does to a lock: it is not judged.
const LOCK_ANNOTATIONS: &[&str] = &[
    "__acquires",
    "__cond_acquires",
    "__releases",
    "__cond_releases",
    "__cond_lock",
];

/// The verdict on one lock's exit state, or `None` when it is no bug.
pub fn judge(exit: &ExitFact, cx: &Context<'_>) -> Option<Verdict> {
    // Unknown is silent: a lock a callee or callback left in a state no
    // summary says, a lock stored where the caller sees it. A function that
    // implements a lock primitive (`rtnl_lock()` over `rtnl_mutex`) is that
    // primitive: the lock API says what it does. A macro's end is no
    // return: its caller goes on, and the caller's exits are judged.
    if exit.handed_over
        || matches!(
            exit.kind,
            ExitKind::Unknown | ExitKind::Opaque | ExitKind::MayRelease
        )
        || cx.implements_primitive
        || cx.function.is_macro
    {
        return None;
    }
    // An annotation states the protocol (what is acquired or released, and
    // when); it does not excuse returns the caller cannot tell apart.
    let annotated = cx
        .annotations
        .iter()
        .any(|a| LOCK_ANNOTATIONS.contains(&a.name.as_str()));
    // Only the locks this function takes are judged: a caller's lock it
    // releases on some paths only is an unlock-if helper whose condition
    // the caller shares (`if (vp->mapping) i_mmap_unlock_write(…)`), or a
    // release the analysis cannot pair with an acquire it did not see.
    let held: Vec<&ReturnFact> = exit.returns.iter().filter(|r| r.min > 0).collect();
    let unheld: Vec<&ReturnFact> = exit.returns.iter().filter(|r| r.max <= 0).collect();
    // A return of an untested try is without the lock when the try failed,
    // and its value tells the caller which (`return down_write_trylock(l);`
    // beside `down_write(l); return true;`): a return without it, never one
    // of the same value as a return with it.
    let tried = exit.returns.iter().any(|r| r.forwards_try);
    let primary_held = held.iter().map(|r| r.span).min_by_key(|s| s.start)?;
    // Held on every return of the builds that take it: each build's
    // function is an acquire wrapper or leaks, as one that always takes it.
    if (unheld.is_empty() && !tried) || matches!(exit.kind, ExitKind::ByBuild(_)) {
        return (!annotated).then(|| leak(exit, cx, &held)).flatten();
    }
    // A function that takes one of several locks and returns holding one
    // of them (two names that may be one lock): unknown.
    if cx.result.swaps_locks {
        return None;
    }
    let unheld_span = unheld
        .iter()
        .filter(|r| r.min == 0)
        .map(|r| r.span)
        .min_by_key(|s| s.start)
        .or_else(|| {
            exit.returns
                .iter()
                .filter(|r| r.forwards_try)
                .map(|r| r.span)
                .min_by_key(|s| s.start)
        });
    let verdict = |severity, reason| {
        Some(Verdict {
            rule: ExitRule::Inconsistent,
            severity,
            reason,
            primary: primary_held,
            unheld: unheld_span,
        })
    };
    // Taken exactly when the returned variable has a flag set that the
    // function tested (`if (effects & MASK) mutex_lock(…); return
    // effects;`): the value tells the returns apart, and announces the
    // lock as a flag the lock API declares does.
    if matches!(&exit.kind, ExitKind::OnParam { on, .. } if on.root == RefRoot::Return) {
        return None;
    }
    // Indistinguishable returns are bugs, whoever calls the function.
    if held.iter().any(|h| h.value == ReturnValue::Negative) {
        return verdict(Severity::Warning, Reason::ErrorHeld);
    }
    // Certainly the same value; or possibly (an expression on one side),
    // which an annotation saying the values differ settles.
    let same = |certain: bool| {
        held.iter().any(|h| {
            unheld
                .iter()
                .any(|u| h.value.same_as(&u.value) == Some(certain))
        })
    };
    // What the caller passed does not tell them apart for SPEC §3: the
    // values returned do, or the returns are indistinguishable (`if
    // (global) mutex_lock_killable(&l); … return 0;`).
    if same(true) {
        return verdict(Severity::Warning, Reason::SameValue);
    }
    if !annotated && same(false) {
        return verdict(Severity::Warning, Reason::MaybeSameValue);
    }
    // Nobody else can release a lock on an object only this function names,
    // unless it hands over a pointer with it: every return holding it
    // returns an object, every other returns NULL or an error (a lookup
    // that returns the entry it found locked, `udp_get_first()`).
    let object_returned = held.iter().all(|h| {
        matches!(
            h.value,
            ReturnValue::Var(_) | ReturnValue::Field(_) | ReturnValue::Address(_)
        )
    }) && unheld
        .iter()
        .all(|u| matches!(u.value, ReturnValue::Zero | ReturnValue::Negative));
    let nameable = object_returned || caller_nameable(exit, cx.function);
    if !nameable {
        if locked_by_lookup(exit, cx) {
            return None;
        }
        return verdict(Severity::Warning, Reason::Unnameable);
    }
    if annotated {
        return None;
    }
    // The return value carries a flag the lock API declares to announce the
    // lock (`VM_FAULT_LOCKED`): the protocol is declared.
    if held.iter().any(|h| h.value == ReturnValue::Announced) {
        return None;
    }
    // Conditional acquires need evidence from the callers.
    // A caller that loses the lock to a callback may release it there:
    // unknown, as silent as a caller that releases it. The returns of a
    // conditional acquire already tell the caller what it holds; a
    // function that holds the lock on every return is excused only by
    // callers seen to release it (see `leak`).
    let Evidence {
        released,
        forwarded,
        ignored,
        lost,
    } = cx.evidence;
    match (released || forwarded || lost, ignored, cx.has_callers) {
        (true, false, _) => None,
        (_, true, _) => verdict(Severity::Warning, Reason::Ignored),
        (false, false, true) => verdict(Severity::Warning, Reason::NoEvidence),
        (false, false, false) => verdict(Severity::Note, Reason::NoEvidence),
    }
}

/// Held on every return: an acquire wrapper, or a leak.
fn leak(exit: &ExitFact, cx: &Context<'_>, held: &[&ReturnFact]) -> Option<Verdict> {
    // Certainly held on every return (of the builds that take it), and the
    // caller does not receive the locked object itself.
    if !matches!(exit.kind, ExitKind::Consistent(d) | ExitKind::ByBuild(d) if d > 0)
        || exit.returns_root()
    {
        return None;
    }
    let primary = held.iter().map(|r| r.span).max_by_key(|s| s.start)?;
    let (severity, reason) = if exit.released_at.is_some() {
        (Severity::Warning, Reason::ReleasesItself)
    } else if cx.evidence.released || locked_by_lookup(exit, cx) {
        return None;
    } else if cx.has_callers {
        (Severity::Warning, Reason::NotReleasedByCallers)
    } else {
        (Severity::Note, Reason::NotReleasedByCallers)
    };
    Some(Verdict {
        rule: ExitRule::Leak,
        severity,
        reason,
        primary,
        unheld: None,
    })
}
