//! Function summaries: what a function does to the locks its callers can
//! name (through its parameters, globals or named locks), read off the lock
//! states at its returns.

use lockwarden_syntax::Span;
use std::borrow::Cow;
use std::collections::HashSet;

use crate::api::Success;
use crate::cfg::{ArgPaths, Cfg, EdgeCond, Op, ReturnValue, TruthKey};
use crate::dataflow::{resolve_calls, Level, Pending, PendingKind, Solution, State, Summaries};
use crate::path::{Path, Root, Step};

/// The net change a call makes to one lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Change {
    Acquire,
    Release,
    /// Acquired when the result says so.
    TryAcquire(Success),
    /// Released when the result says so (an error path that drops the
    /// caller's lock: `if (alloc_fails) { spin_unlock(l); return -ENOMEM; }`).
    TryRelease(Success),
    /// Must be held on entry (`lockdep_assert_held()`, or a callee that
    /// asserts it): the caller holds it, or its own caller must.
    Require,
    /// Not held here (`lockdep_assert_not_held()` after a callback that
    /// drops it): whatever took it, it is gone.
    NotHeld,
    /// The result says whether the lock is held, nonzero when it is
    /// (`mutex_is_locked()`): where the path learns it is not, it is not
    /// held after the call either, as on a path that released it.
    HeldTest,
    /// Changed in a way no summary says (held on some returns only): the
    /// caller's state of the lock becomes unknown.
    Unknown,
    /// Maybe released, under a condition the caller cannot see (`if
    /// (p->owner != id) return; mutex_unlock(&p->lock);`), never taken: the
    /// caller's lock may be gone, and is unknown from here.
    MayRelease,
    /// Possibly changed by a callback given the object: unknown where the
    /// caller holds or handled it; nothing where it did not.
    Opaque,
}

/// Where a summarised lock is rooted, in terms a caller can substitute.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RefRoot {
    Param(usize),
    Global(String),
    Named(String),
    /// The function's return value (`t = find_lock_task_mm(p)` returns `t` locked).
    Return,
}

/// A lock named in callee terms.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct LockRef {
    pub root: RefRoot,
    pub steps: Vec<Step>,
}

impl LockRef {
    /// The lock argument `index` points to, through `deref` pointers
    /// (`spin_lock(&l)`: 1; `pte_offset_map_lock(…, &ptl)`: 2).
    pub fn arg(index: usize, deref: u8) -> LockRef {
        LockRef {
            root: RefRoot::Param(index),
            steps: vec![Step::Deref; usize::from(deref)],
        }
    }

    /// A lock with no object (`RCU`).
    pub fn named(name: &str) -> LockRef {
        LockRef {
            root: RefRoot::Named(name.to_owned()),
            steps: Vec::new(),
        }
    }

    /// What the call's result points to (`ptl = pmd_lock(…)`).
    pub fn returned() -> LockRef {
        LockRef {
            root: RefRoot::Return,
            steps: vec![Step::Deref],
        }
    }

    /// A callee path in caller-substitutable terms; `None` for callee locals
    /// and for objects the callee looked up itself (a call no summary
    /// resolves: `page_zone(page)->lock`).
    pub fn from_path(
        path: &Path,
        params: &[String],
        locals: &HashSet<String>,
        returned: bool,
    ) -> Option<LockRef> {
        if path.steps.iter().any(|s| matches!(s, Step::Call(_))) {
            return None;
        }
        let root = match &path.root {
            Root::Var(_) if returned => RefRoot::Return,
            Root::Named(n) => RefRoot::Named(n.clone()),
            Root::Var(v) => match params.iter().position(|p| p == v) {
                Some(i) => RefRoot::Param(i),
                None if locals.contains(v) => return None,
                None => RefRoot::Global(v.clone()),
            },
        };
        Some(LockRef {
            root,
            steps: path.steps.clone(),
        })
    }

    /// The caller's path for this lock, given the call's arguments.
    pub fn substitute(&self, args: &[ArgPaths], result: Option<&Path>) -> Option<Path> {
        let (base, rest) = match &self.root {
            RefRoot::Return => (result?.clone(), &self.steps[..]),
            RefRoot::Global(g) => (Path::var(g), &self.steps[..]),
            RefRoot::Named(n) => (Path::named(n), &self.steps[..]),
            RefRoot::Param(i) => {
                let arg = args.get(*i)?;
                match self.steps.first() {
                    Some(Step::Deref) => (arg.pointee.clone()?, &self.steps[1..]),
                    _ => (arg.lvalue.clone()?, &self.steps[..]),
                }
            }
        };
        Some(rest.iter().cloned().fold(base, Path::push))
    }
}

impl std::fmt::Display for LockRef {
    /// In callee terms: `arg0->lock`, `*ret`, `RCU`, `balloon_pages_lock`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let root = match &self.root {
            RefRoot::Param(i) => format!("arg{i}"),
            RefRoot::Global(g) | RefRoot::Named(g) => g.clone(),
            RefRoot::Return => "ret".to_owned(),
        };
        let path = Path {
            root: Root::Var(root),
            steps: self.steps.clone(),
        };
        write!(f, "{path}")
    }
}

impl std::fmt::Display for SummaryEffect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let change = match self.change {
            Change::Acquire => "acquires".to_owned(),
            Change::Release => "releases".to_owned(),
            Change::TryAcquire(s) => format!("acquires when it returns {}", success_text(s)),
            Change::TryRelease(s) => format!("releases when it returns {}", success_text(s)),
            Change::Require => "requires held".to_owned(),
            Change::HeldTest => "tests whether held".to_owned(),
            Change::NotHeld => "asserts not held".to_owned(),
            Change::Unknown => "may change".to_owned(),
            Change::MayRelease => "may release".to_owned(),
            Change::Opaque => "hands to a callback".to_owned(),
        };
        write!(f, "{change} `{}`", self.lock)?;
        if let Some((on, truth)) = &self.when {
            write!(f, " if `{on}` is {}", if *truth { "true" } else { "false" })?;
        }
        if let Some(kind) = &self.kind {
            write!(f, " ({kind})")?;
        }
        Ok(())
    }
}

fn success_text(success: Success) -> &'static str {
    match success {
        Success::Nonzero => "nonzero",
        Success::Zero => "zero",
        Success::NonNegative => "no error",
    }
}

/// One effect of a summarised function.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SummaryEffect {
    pub lock: LockRef,
    pub change: Change,
    pub recursive: bool,
    /// Where in the callee the lock is taken or released.
    pub site: Option<Span>,
    /// Only when what `.0` names in the caller (an argument, or a field
    /// under one) has truth `.1` (`if (p) spin_unlock(&p->l)`, `if
    /// (ctx->blkg) spin_unlock(…)`).
    pub when: Option<(LockRef, bool)>,
    /// The lock's kind, when a primitive names it (`spinlock`, `page lock`).
    pub kind: Option<String>,
}

/// What a call to a function does to its caller's locks.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub effects: Vec<SummaryEffect>,
    /// Lock kinds the function may drop and retake out of sight (a
    /// `may-release` call in it or in a callee).
    pub may_drop: Vec<String>,
    /// Pointers to lock objects stored where the caller reads them back
    /// (`args->lock = lock` in a setter): where, and to what.
    pub stores: Vec<(LockRef, LockRef)>,
    /// Fields of the locks the function releases, whatever their root: a
    /// function passed as a callback (`kref_put(&z->ref, release_locked)`)
    /// may release such a lock of its caller's.
    pub released_fields: Vec<String>,
    /// Fields that callbacks this function passes on (itself or in its
    /// callees) may release: held locks with them are unknown after a call.
    pub callback_fields: Vec<String>,
    /// A lock primitive from the lock API, not an analysed function.
    pub primitive: bool,
    /// A statement-like macro: a name it does not declare (`ctx` in
    /// `spufs_wait(wq, cond)`) is its caller's variable.
    pub caller_scope: bool,
    /// What every non-NULL return points to, when callers can name it
    /// (`return &c->port;`): the caller's result is another name for it.
    pub returns_object: Option<LockRef>,
    /// Every return returns a negative errno (`restart_syscall()`): a
    /// caller returning the result returns an errno.
    pub returns_errno: bool,
}

/// How a lock stands across a function's returns.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExitKind {
    /// The same depth change on every return.
    Consistent(i8),
    /// Held exactly when the return value says so (a try-lock wrapper).
    Conditional(Success),
    /// Released exactly when the return value says so.
    ConditionalRelease(Success),
    /// Changed exactly when something the caller sees is true (or false): a
    /// parameter (`if (unlock) spin_unlock(…)`, `if (p) up_write(&p->sem)`)
    /// or a field under one (`if (pipe->files) mutex_lock(…)`).
    OnParam {
        on: LockRef,
        if_true: i8,
        if_false: i8,
    },
    /// Changed by `fixed` when something the caller sees has truth
    /// `fixed_when`, a try result handed back otherwise: taken on one side
    /// (`dma_resv_lock(obj, ctx)`: taken with a NULL context, tried with
    /// one), or untouched on one side (`if (raw) return 0; return
    /// pmecc_enable(…);`).
    OnParamTry {
        on: LockRef,
        fixed_when: bool,
        fixed: i8,
        success: Success,
    },
    /// Changed exactly when a condition on the caller's arguments holds,
    /// one the summary cannot name (`if (walker->flags & WALK_SHARED)
    /// rcu_read_lock();`, `switch (action) { case PRE_RATE_CHANGE: … }`):
    /// the caller decides, but callers cannot be told which way.
    OnCallerCondition,
    /// This depth change on every return of the builds that change the
    /// lock, none in the others: every two returns that differ took
    /// opposite sides of a preprocessor condition (`#ifdef CONFIG_X
    /// write_lock(…); #endif`). Callers see the builds that change it:
    /// theirs release it in the same builds (`#ifdef CONFIG_X
    /// write_unlock(…); #endif`).
    ByBuild(i8),
    /// Held on some returns and not on others.
    Inconsistent,
    /// A callee left it in a state no summary could say.
    Unknown,
    /// A callback was given the object; the function itself did nothing.
    Opaque,
    /// Released on some returns, unchanged on the others, and never taken:
    /// by a condition callers cannot see, in the function or in a callee.
    /// Unlike a change no summary says, this passes up every call chain:
    /// a caller three calls up that holds the lock may see it released.
    MayRelease,
}

/// One path reaching a return, as one lock stands there.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ReturnFact {
    pub span: Span,
    /// What it returns, as the path knows it (`return ret;` after `ret =
    /// -EBUSY;` returns an errno).
    pub value: ReturnValue,
    /// The lock's depth relative to entry, at least and at most.
    pub min: i8,
    pub max: i8,
    /// It returns a try of the lock untested (`return
    /// down_write_trylock(l);`): held exactly when the value says so.
    pub forwards_try: bool,
}

/// The exit state of one lock: facts, not verdicts; the reporting policy
/// (crates/rules) decides what is a bug.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ExitFact {
    pub lock: Path,
    /// What callers are told (the summary).
    pub kind: ExitKind,
    /// Every path reaching a return, in graph order.
    pub returns: Vec<ReturnFact>,
    pub acquired_at: Option<Span>,
    pub released_at: Option<Span>,
    pub recursive: bool,
    /// Held on entry by an assertion or annotation: a precondition.
    pub required: bool,
    /// Every return holding it returns a pointer the lock is under
    /// (`return obj;` after locking `obj->lock`): the caller receives the
    /// locked object. The lock's steps under the returned pointer.
    pub returned_steps: Option<Vec<Step>>,
    /// Stored where the caller sees it on some path (`target->page = page`).
    pub handed_over: bool,
    /// The name the caller knows a handed-over lock by (`(*foliop)->…`
    /// for `folio`'s lock after `*foliop = folio`).
    pub exported: Option<Path>,
}

impl ExitFact {
    /// The caller receives the locked object.
    pub fn returns_root(&self) -> bool {
        self.returned_steps.is_some()
    }

    /// Never held beyond entry on any return: the function only releases it.
    pub fn only_released(&self) -> bool {
        self.returns.iter().all(|r| r.max <= 0)
    }
}

static ERRNO_RETURN: ReturnValue = ReturnValue::Negative;
static ANNOUNCED_RETURN: ReturnValue = ReturnValue::Announced;

/// The locks of its caller's objects a callee may release, where this
/// function tracked no change of its own (it never touched them, or took
/// and released them itself): it may release them too, so that a caller
/// holding one up the chain learns it may be gone.
fn releases_passed_on(
    facts: &[ExitFact],
    params: &[String],
    cfg: &Cfg,
    summaries: &dyn Summaries,
    own: &[SummaryEffect],
) -> Vec<SummaryEffect> {
    let mut out: Vec<SummaryEffect> = Vec::new();
    for op in &cfg.ops {
        let Op::Call(call) = op else { continue };
        let Some(summary) = call.callee.as_deref().and_then(|c| summaries.summary(c)) else {
            continue;
        };
        for effect in summary
            .effects
            .iter()
            .filter(|e| e.change == Change::MayRelease)
        {
            let Some(lock) = effect
                .lock
                .substitute(&call.args, call.result_lvalue.as_ref())
            else {
                continue;
            };
            let changed_here = facts
                .iter()
                .any(|f| f.lock == lock && f.kind != ExitKind::Consistent(0));
            // Only an object the caller handed down: a global or named lock
            // would ride up every chain.
            let named = LockRef::from_path(&lock, params, &cfg.locals, false)
                .filter(|l| matches!(l.root, RefRoot::Param(_)));
            let Some(named) = named.filter(|_| !changed_here) else {
                continue;
            };
            if own
                .iter()
                .chain(&out)
                .any(|e| e.lock == named && e.change == Change::MayRelease)
            {
                continue;
            }
            out.push(SummaryEffect {
                lock: named,
                change: Change::MayRelease,
                recursive: effect.recursive,
                site: None,
                when: None,
                kind: effect.kind.clone(),
            });
        }
    }
    out
}

/// The lock is released on some path and taken on none: at most the
/// caller's lock is gone on return.
fn released_never_taken(levels: &[Level]) -> bool {
    levels.iter().all(|l| l.max <= 0) && levels.iter().any(|l| l.min < 0)
}

/// The exit facts of a solved function, one per lock whose state changes.
/// The elements of an array of locks taken or dropped in a loop
/// (`mutex_lock(&ctx->queue_locks[i])` for each i): one lock per element
/// under one name, whose depth counts loop trips. Taken with lockdep's
/// annotation for holding several (`mutex_lock_nested(&vqs[i]->mutex, i)`),
/// which are held is unknown. Otherwise a function that only takes them
/// takes them all (an acquire-all, judged like any acquire wrapper), one
/// that only drops them drops them all; one that does both is judged by
/// depth, a second element being a second take of one lock.
fn every_element(cfg: &Cfg, lock: &Path, levels: &[Level]) -> Option<ExitKind> {
    if !lock.steps.contains(&Step::Index) || !levels.iter().any(|l| l.max > 1 || l.min < -1) {
        return None;
    }
    let acquired_at = levels.iter().find_map(|l| l.acquired_at);
    let releases = levels.iter().any(|l| l.released_at.is_some());
    if nested_acquire(cfg, acquired_at) {
        Some(ExitKind::Unknown)
    } else if !releases && levels.iter().all(|l| l.min >= 0) {
        Some(ExitKind::Consistent(1))
    } else if acquired_at.is_none() && levels.iter().all(|l| l.max <= 0) {
        Some(ExitKind::Consistent(-1))
    } else {
        None
    }
}

/// Whether the call at `site` is an acquire annotated as one of several
/// locks of a class held at once.
fn nested_acquire(cfg: &Cfg, site: Option<Span>) -> bool {
    site.is_some_and(|site| {
        cfg.ops
            .iter()
            .any(|op| matches!(op, Op::Call(call) if call.span == site && call.nests))
    })
}

/// Whether every return of `cfg` returns a negative errno, directly or
/// as the result of a callee that does.
fn returns_errno(cfg: &Cfg, summaries: &dyn Summaries) -> bool {
    let mut returns = cfg.ops.iter().filter_map(|op| match op {
        Op::Return { value, .. } => Some(value),
        _ => None,
    });
    let errno = |value: &ReturnValue| match value {
        ReturnValue::Negative => true,
        ReturnValue::Call(id) => call_returns_errno(cfg, *id, summaries),
        _ => false,
    };
    returns.next().is_some_and(errno) && returns.all(errno)
}

/// Whether the call at `node` returns a negative errno, as its callee's
/// summary says.
fn call_returns_errno(cfg: &Cfg, node: crate::cfg::NodeId, summaries: &dyn Summaries) -> bool {
    match cfg.ops.get(node as usize) {
        Some(Op::Call(call)) => call
            .callee
            .as_deref()
            .and_then(|c| summaries.summary(c))
            .is_some_and(|s| s.returns_errno),
        _ => false,
    }
}

pub fn exits(
    cfg: &Cfg,
    solution: &Solution,
    params: &[String],
    summaries: &dyn Summaries,
) -> Vec<ExitFact> {
    let mut facts = exits_of_paths(cfg, solution, params, summaries);
    // A recursive lock by hand: how deep the running task holds the lock is
    // a counter's business (`if (prepare_owner == current) { refcnt++;
    // return; }`), which no lock set follows. What the function does to the
    // locks it takes is unknown.
    if cfg.records_owner {
        for fact in &mut facts {
            if fact.acquired_at.is_some() {
                fact.kind = ExitKind::Unknown;
            }
        }
    }
    facts
}

fn exits_of_paths(
    cfg: &Cfg,
    solution: &Solution,
    params: &[String],
    summaries: &dyn Summaries,
) -> Vec<ExitFact> {
    // Every (return, path) pair: a return reached with different path facts counts once per disjunct.
    let returns: Vec<(Span, &ReturnValue, &State)> = cfg
        .ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match op {
            Op::Return { span, value } => Some((i, *span, value)),
            _ => None,
        })
        .flat_map(|(i, span, value)| {
            solution.states[i]
                .states
                .iter()
                .map(move |s| (span, value, s))
        })
        .collect();
    let names: HashSet<&Path> = returns
        .iter()
        .flat_map(|(_, _, s)| s.locks.keys())
        .collect();
    let returns: Vec<(Span, &ReturnValue, Cow<'_, State>)> = returns
        .iter()
        .map(|&(span, value, s)| {
            let state =
                named_through_returned(value, s, &names).map_or(Cow::Borrowed(s), Cow::Owned);
            (span, value, state)
        })
        .collect();
    let returns: Vec<(Span, &ReturnValue, &State)> = returns
        .iter()
        .map(|(span, value, state)| (*span, *value, state.as_ref()))
        .collect();
    // Locks held, released, or still an untested try result (`return spin_trylock(l);`).
    let mut locks: Vec<&Path> = returns
        .iter()
        .flat_map(|(_, _, s)| s.locks.keys().chain(s.pending.iter().map(|p| &p.lock)))
        .collect();
    locks.sort();
    locks.dedup();
    let mut facts = Vec::new();
    for lock in locks {
        // Paths where a pointer on the way to the lock is NULL have no such
        // lock; `return vma;` where the path knows `vma` holds an errno
        // returns an errno.
        // Paths where a held test found the caller's lock not held broke the
        // caller's precondition: they say nothing of what the function does.
        let paths: Vec<(Span, &ReturnValue, &State)> = returns
            .iter()
            .filter(|(_, _, s)| {
                s.lock_exists(lock) && !s.locks.get(lock).is_some_and(Level::known_absent)
            })
            .map(|&(span, value, state)| match value {
                ReturnValue::Var(v)
                    if state.facts.get(&TruthKey::Errno(v.clone())) == Some(&true) =>
                {
                    (span, &ERRNO_RETURN, state)
                }
                ReturnValue::Call(id) if call_returns_errno(cfg, *id, summaries) => {
                    (span, &ERRNO_RETURN, state)
                }
                ReturnValue::Var(v)
                    if state.facts.get(&TruthKey::Status(v.clone())) == Some(&true) =>
                {
                    (span, &ANNOUNCED_RETURN, state)
                }
                _ => (span, value, state),
            })
            .collect();
        let levels: Vec<Level> = paths.iter().map(|(_, _, s)| s.level(lock)).collect();
        // Every held return returns the lock's object, or what contains it
        // (`return ctx;` holding `ctx->mutex`, `ctx` standing for
        // `event->ctx`; `return container_of(ipcp, …, shm_perm);` holding
        // `ipcp->lock`): the lock's steps under the returned pointer.
        let returned_steps = |value: &ReturnValue, state: &State| match value {
            ReturnValue::Var(v) => {
                // What the variable stands for: statically, or on this path
                // (`ret = mi;`, the lock taken through `mi`).
                let itself = Path::var(v);
                let object = cfg
                    .returned_paths
                    .get(v)
                    .filter(|p| **p != itself)
                    .cloned()
                    .or_else(|| state.pointer_of(v))
                    .unwrap_or_else(|| itself.clone());
                // Under the object, or under the variable itself (named
                // through it at this return, see `named_through_returned`).
                [object, itself]
                    .into_iter()
                    .find(|o| o.root == lock.root && lock.steps.starts_with(&o.steps))
                    .map(|o| lock.steps[o.steps.len()..].to_vec())
            }
            ReturnValue::Address(text) | ReturnValue::Field(text) => {
                let object = cfg.returned_objects.get(text)?;
                let mut steps = vec![Step::Deref];
                steps.extend(steps_under(object, lock)?);
                Some(steps)
            }
            // `return dp83640_clock_get(clock);`: what the callee returns.
            ReturnValue::Call(id) => {
                let object = call_returned_object(cfg, *id, summaries)?;
                let mut steps = vec![Step::Deref];
                steps.extend(steps_under(&object, lock)?);
                Some(steps)
            }
            _ => None,
        };
        // Returns where the held lock's object went into a container callers
        // reach are that container's walker's business: the other returns
        // alone say what the function does; with none, it hands the lock on.
        // A return of the object itself hands it to the caller, linked or
        // not (`list_move(&b->list, &c->cache); return b;`): the return
        // value tells the caller.
        let linked: Vec<bool> = paths
            .iter()
            .zip(&levels)
            .map(|((_, value, state), l)| {
                l.linked && l.max > 0 && returned_steps(value, state).is_none()
            })
            .collect();
        let all_linked = linked.iter().any(|&l| l)
            && levels
                .iter()
                .zip(&linked)
                .all(|(l, &linked)| linked || (l.min == 0 && l.max == 0));
        let (paths, levels): (Vec<_>, Vec<Level>) = paths
            .into_iter()
            .zip(levels)
            .zip(linked)
            .filter(|(_, linked)| all_linked || !linked)
            .map(|(path, _)| path)
            .unzip();
        let pending = paths
            .iter()
            .any(|(_, _, s)| s.pending.iter().any(|p| &p.lock == lock));
        // A precondition of the callers only when every return required it:
        // an assertion in one branch (`if (x) lockdep_assert_held(a); else
        // lockdep_assert_held(b);`) is no precondition of either lock.
        let required = !levels.is_empty() && levels.iter().all(|l| l.required);
        if levels.iter().all(|l| l.min == 0 && l.max == 0) && !pending && !required {
            continue;
        }
        let forwarded = paths.iter().find_map(|(_, value, state)| {
            forwarded_try(value, state, lock).and_then(|p| match p.kind {
                PendingKind::Release => Some(ExitKind::ConditionalRelease(p.success)),
                PendingKind::Acquire => Some(ExitKind::Conditional(p.success)),
                PendingKind::HeldTest => None,
            })
        });
        // Held on a path that returns an errno (`return -EBUSY;`, or
        // `return ret;` after `ret = -EBUSY;`), among the paths `counted`.
        let held_on_errno = |counted: fn(&Level) -> bool| {
            paths
                .iter()
                .zip(&levels)
                .any(|((_, v, _), l)| counted(l) && l.min > 0 && matches!(v, ReturnValue::Negative))
        };
        let held_errno = held_on_errno(|_| true);
        let first = &levels[0];
        let unchanged = levels.iter().all(|l| l.min == 0 && l.max == 0);
        let all_elements = every_element(cfg, lock, &levels);
        let every_element_depth = match all_elements {
            Some(ExitKind::Consistent(d)) => Some(d),
            _ => None,
        };
        let kind = if all_linked {
            ExitKind::Opaque
        } else if let Some(kind) = all_elements.clone() {
            kind
        } else if levels.iter().any(|l| l.unknown) && released_never_taken(&levels) {
            // Nothing on any path could have taken it: whatever a callee
            // did, the caller's lock is at most released.
            ExitKind::MayRelease
        } else if levels.iter().any(|l| l.unknown) {
            // Unknown only through a callee, never taken or dropped here:
            // passed on to callers that handle the lock, not to every caller
            // (passing it up every call chain doubled the whole tree's time
            // and memory).
            let own = levels
                .iter()
                .any(|l| l.acquired_at.is_some() || l.released_at.is_some());
            // The returns no unknown call leads to still tell a forgotten
            // unlock: an errno returned holding the lock where another of
            // them does not hold it.
            let unheld_known = levels.iter().any(|l| !l.unknown && l.max <= 0);
            if own && held_on_errno(|l| !l.unknown) && unheld_known {
                ExitKind::Inconsistent
            } else if own {
                ExitKind::Unknown
            } else {
                ExitKind::Opaque
            }
        } else if let (true, Some(kind)) = (unchanged, forwarded.clone()) {
            // `return trylock(l);`: the caller's test of the result decides.
            kind
        } else if let (true, Some(ExitKind::Conditional(success))) = (
            levels.iter().all(|l| l.min == -1 && l.max == -1),
            forwarded.clone(),
        ) {
            // `unlock(l); return trylock(l);` (upgrading a lock): the
            // caller's lock is gone exactly when the retake failed.
            ExitKind::ConditionalRelease(success.negated())
        } else if levels.iter().all(|l| l.min == l.max && l.min == first.min) {
            ExitKind::Consistent(first.min)
        } else if let Some(depth) = depth_by_build(&paths, &levels) {
            ExitKind::ByBuild(depth)
        } else if let Some(kind) = forwarded
            .as_ref()
            .and_then(|f| acquired_or_tried_on_param(&paths, &levels, lock, params, cfg, f))
        {
            kind
        } else if let Some(kind) = forwarded {
            kind
        } else if held_errno {
            // Held on a path that returns an errno: a forgotten unlock, not
            // a protocol the return value announces.
            ExitKind::Inconsistent
        } else if let Some(kind) = on_returned_flag(&paths, &levels) {
            kind
        } else if let Some(kind) = conditional_by_value(&paths, &levels) {
            acquired_on_param_else_tried(&paths, &levels, params, cfg, &kind).unwrap_or(kind)
        } else if let Some(kind) = tried_on_param_else_unchanged(&paths, &levels, params, cfg) {
            kind
        } else if let Some(kind) = conditional_on_param(&paths, &levels, params, cfg, |key| {
            tested_unlocked(cfg, solution, key, lock)
        }) {
            kind
        } else if told_apart_by_arguments(&paths, &levels, params, |key| {
            tested_unlocked(cfg, solution, key, lock)
        }) {
            if released_never_taken(&levels) {
                ExitKind::MayRelease
            } else {
                ExitKind::OnCallerCondition
            }
        } else {
            ExitKind::Inconsistent
        };
        let mut held_returns = paths
            .iter()
            .zip(&levels)
            .filter(|(_, l)| l.max > 0)
            .map(|((_, value, state), _)| returned_steps(value, state));
        let first_return = held_returns.next().flatten();
        let returned_steps =
            first_return.filter(|first| held_returns.all(|other| other.as_ref() == Some(first)));
        // A lock no rule judges (unknown, handed to a callback, maybe
        // released out of sight) keeps no returns: the functions up a
        // chain of may-release callees would hold one per path.
        let judged = !matches!(
            kind,
            ExitKind::Unknown | ExitKind::Opaque | ExitKind::MayRelease
        );
        let returns = paths
            .iter()
            .filter(|_| judged)
            .zip(&levels)
            .map(|((span, value, state), level)| {
                // A try of the lock returned untested may have taken (or
                // dropped) it: the caller's test of the value decides, so
                // it is neither a return with the lock nor one without, and
                // its value tells which. A result this path tested already
                // (`if (ret) return ret;`) keeps the side its test chose.
                let untested = forwarded_try(value, state, lock).filter(|p| {
                    !state
                        .facts
                        .keys()
                        .any(|k| p.key.covers(k) || p.alias.as_ref().is_some_and(|a| a.covers(k)))
                });
                let (min, max) = match untested.map(|p| p.kind) {
                    Some(PendingKind::Acquire) => (level.min, level.max.max(level.min + 1)),
                    Some(PendingKind::Release) => (level.min.min(level.max - 1), level.max),
                    _ => (level.min, level.max),
                };
                ReturnFact {
                    span: *span,
                    value: value_on_path(value, state),
                    forwards_try: untested.is_some_and(|p| p.kind == PendingKind::Acquire),
                    // Every element, however many: held (or dropped) as one.
                    min: every_element_depth.unwrap_or(min),
                    max: every_element_depth.unwrap_or(max),
                }
            })
            .collect();
        facts.push(ExitFact {
            lock: lock.clone(),
            kind,
            returns,
            acquired_at: levels.iter().find_map(|l| l.acquired_at),
            released_at: levels.iter().find_map(|l| l.released_at),
            recursive: levels.iter().any(|l| l.recursive),
            required,
            returned_steps,
            handed_over: levels.iter().any(|l| l.handed_over),
            exported: paths
                .iter()
                .find_map(|(_, _, state)| exported_name(cfg, state, lock)),
        });
    }
    // An object of the caller's handed to a callback the caller chose
    // (`filler(file, folio)`): its lock may come back changed.
    for (var, from_param) in &cfg.handed_to_callbacks {
        if !from_param || !params.contains(var) {
            continue;
        }
        let lock = Path::var(var).push(crate::path::Step::Deref);
        if facts.iter().any(|f| f.lock == lock) {
            continue;
        }
        facts.push(ExitFact {
            lock,
            kind: ExitKind::Opaque,
            returns: Vec::new(),
            acquired_at: None,
            released_at: None,
            recursive: false,
            required: false,
            returned_steps: None,
            handed_over: false,
            exported: None,
        });
    }
    facts
}

/// The state at a return of a variable that stands for another object on
/// its path (`wp = oldest; … return wp;`), with the locks under that object
/// named through the variable where another return's path names a lock so
/// (`mutex_lock(&wp->lock); return wp;`): one lock, one name across the
/// returns. A name no other path uses stays as it is.
fn named_through_returned(
    value: &ReturnValue,
    state: &State,
    names: &HashSet<&Path>,
) -> Option<State> {
    let ReturnValue::Var(var) = value else {
        return None;
    };
    let object = state.pointer_of(var)?;
    let under = |p: &Path| {
        p.root == object.root
            && p.steps.len() > object.steps.len()
            && p.steps.starts_with(&object.steps)
    };
    let renamed = |p: &Path| Path {
        root: Root::Var(var.clone()),
        steps: p.steps[object.steps.len()..].to_vec(),
    };
    let movable = |p: &Path| {
        under(p) && {
            let name = renamed(p);
            names.contains(&name) && !state.locks.contains_key(&name)
        }
    };
    if !state.locks.keys().any(movable) {
        return None;
    }
    let mut state = state.clone();
    let moved: Vec<Path> = state.locks.keys().filter(|p| movable(p)).cloned().collect();
    for path in moved {
        if let Some(level) = state.locks_mut().remove(&path) {
            state.locks_mut().insert(renamed(&path), level);
        }
    }
    for pending in state.pending.iter_mut().filter(|p| under(&p.lock)) {
        pending.lock = renamed(&pending.lock);
    }
    Some(state)
}

/// The one depth change of the builds that change the lock, when every two
/// returns that differ in it took opposite sides of a preprocessor
/// condition: one configuration is built at a time, and in each the
/// function changes the lock the same way on every return.
fn depth_by_build(paths: &[(Span, &ReturnValue, &State)], levels: &[Level]) -> Option<i8> {
    let mut depths: Vec<i8> = levels.iter().map(|l| l.min).collect();
    depths.sort_unstable();
    depths.dedup();
    let ([0, depth] | [depth, 0]) = depths[..] else {
        return None;
    };
    if levels.iter().any(|l| l.min != l.max) {
        return None;
    }
    // Each path's build: the preprocessor conditions it went through.
    let builds: Vec<Vec<(&TruthKey, bool)>> = paths
        .iter()
        .map(|(_, _, state)| {
            let config = state.facts.iter().filter(|(key, _)| key.is_config());
            config.map(|(key, truth)| (key, *truth)).collect()
        })
        .collect();
    let other_build = |a: &[(&TruthKey, bool)], b: &[(&TruthKey, bool)]| {
        a.iter()
            .any(|(key, truth)| b.iter().any(|(k, t)| k == key && t != truth))
    };
    let (changed, unchanged): (Vec<usize>, Vec<usize>) =
        (0..levels.len()).partition(|&i| levels[i].min == depth);
    let apart = unchanged
        .iter()
        .all(|&i| changed.iter().all(|&j| other_build(&builds[i], &builds[j])));
    apart.then_some(depth)
}

/// The untested try of `lock` whose result the return hands back
/// (`return spin_trylock(l);`, `ret = mutex_lock_interruptible(l); return
/// ret;`).
fn forwarded_try<'s>(value: &ReturnValue, state: &'s State, lock: &Path) -> Option<&'s Pending> {
    let key = match value {
        ReturnValue::Call(id) => TruthKey::Call(*id),
        ReturnValue::Var(v) => TruthKey::Var(v.clone()),
        _ => return None,
    };
    state
        .pending
        .iter()
        .find(|p| p.tested_by(&key) && &p.lock == lock)
}

/// What a return returns on a path: `return vma;` where `vma` was tested
/// NULL returns zero.
fn value_on_path(value: &ReturnValue, state: &State) -> ReturnValue {
    match value {
        ReturnValue::Var(v) if state.facts.get(&TruthKey::Var(v.clone())) == Some(&false) => {
            ReturnValue::Zero
        }
        other => other.clone(),
    }
}

/// A lock changed exactly when something the caller sees is true, or
/// exactly when false: a parameter, or a field under one.
///
/// A field counts only where it is tested with the lock not held, or
/// re-tested with an answer the path already knows: a field first read
/// under the lock is the lock's data (`if (q->pending)` after
/// `spin_lock(&q->lock)`), not something the caller decides.
fn conditional_on_param(
    paths: &[(Span, &ReturnValue, &State)],
    levels: &[Level],
    params: &[String],
    cfg: &Cfg,
    tested_unlocked: impl Fn(&TruthKey) -> bool,
) -> Option<ExitKind> {
    let (_, _, first) = paths.first()?;
    let candidates = first.facts.keys().filter_map(|key| {
        let on = match key {
            TruthKey::Var(v) if holds_callers_value(cfg, v) => {
                LockRef::from_path(&Path::var(v), params, &cfg.locals, false)
            }
            TruthKey::Value(path) if tested_unlocked(key) => {
                LockRef::from_path(path, params, &cfg.locals, false)
            }
            TruthKey::Cond { .. } => callers_flag(key, params, cfg),
            _ => None,
        }?;
        matches!(on.root, RefRoot::Param(_)).then_some((key, on))
    });
    candidates.into_iter().find_map(|(key, on)| {
        let mut by_truth: [Option<i8>; 2] = [None, None];
        for ((_, _, state), level) in paths.iter().zip(levels) {
            let truth = *state.facts.get(key)?;
            if level.min != level.max {
                return None;
            }
            let slot = &mut by_truth[usize::from(truth)];
            match slot {
                Some(d) if *d != level.min => return None,
                _ => *slot = Some(level.min),
            }
        }
        let (if_false, if_true) = (by_truth[0].unwrap_or(0), by_truth[1].unwrap_or(0));
        // An error return on one side only is a forgotten unlock on an error
        // path, not a function whose contract depends on the parameter.
        let errors = |truth: bool| {
            let values: Vec<&ReturnValue> = paths
                .iter()
                .filter(|(_, _, s)| s.facts.get(key) == Some(&truth))
                .map(|(_, v, _)| *v)
                .collect();
            (
                values.iter().all(|v| matches!(v, ReturnValue::Negative)),
                values.iter().any(|v| matches!(v, ReturnValue::Negative)),
            )
        };
        let ((all_t, any_t), (all_f, any_f)) = (errors(true), errors(false));
        if (all_t && !any_f) || (all_f && !any_t) {
            return None;
        }
        (if_true != if_false).then_some(ExitKind::OnParam {
            on,
            if_true,
            if_false,
        })
    })
}

/// Whether every two returns that differ in the lock are told apart by
/// what the caller passed: conditions over parameters, fields under them,
/// constants and globals, tested before the lock is taken (`if (lh->write)
/// { if (static_branch_unlikely(&k) && lh->cache->no_sleep)
/// write_lock_bh(…); else down_write(…); }`). Two returns that agree on
/// every such condition both know never differ in the lock's depth, and
/// some returns differ.
fn told_apart_by_arguments(
    paths: &[(Span, &ReturnValue, &State)],
    levels: &[Level],
    params: &[String],
    tested_unlocked: impl Fn(&TruthKey) -> bool,
) -> bool {
    let is_param = |v: &str| params.iter().any(|p| p == v);
    let callers = |key: &TruthKey| match key {
        TruthKey::Cond { vars, .. } => {
            !key.is_config() && crate::cfg::callers_to_decide(vars, params)
        }
        TruthKey::Var(v) => is_param(v),
        TruthKey::Value(p) => p.root_var().is_some_and(is_param),
        _ => false,
    };
    let reads_param = |key: &TruthKey| match key {
        TruthKey::Cond { vars, .. } => vars.iter().any(|v| is_param(v)),
        _ => true,
    };
    let mut keys: Vec<&TruthKey> = paths
        .iter()
        .flat_map(|(_, _, state)| state.facts.keys())
        .filter(|k| callers(k))
        .collect();
    keys.sort();
    keys.dedup();
    keys.retain(|k| tested_unlocked(k));
    if !keys.iter().any(|k| reads_param(k)) || levels.iter().any(|l| l.min != l.max) {
        return false;
    }
    // A dispatch on a value (`switch (cmd)`, `if (cmd == X)`) selects an
    // operation, and an operation that takes a lock drops it: the value
    // decides the lock only when it pairs a take with a drop (`case 0:
    // lock; case -1: unlock;`, a select/deselect callback).
    let separating = keys.iter().filter(|k| {
        let truths = || paths.iter().filter_map(|(_, _, s)| s.facts.get(**k));
        truths().any(|t| *t) && truths().any(|t| !*t)
    });
    let dispatch = separating
        .into_iter()
        .any(|k| k.constant_comparison().is_some());
    let pairs = levels.iter().any(|l| l.min > 0) && levels.iter().any(|l| l.max < 0);
    if dispatch && !pairs {
        return false;
    }
    let truths: Vec<Vec<Option<bool>>> = paths
        .iter()
        .map(|(_, _, state)| keys.iter().map(|k| state.facts.get(*k).copied()).collect())
        .collect();
    let apart = |a: &[Option<bool>], b: &[Option<bool>]| {
        a.iter()
            .zip(b)
            .any(|(x, y)| matches!((x, y), (Some(x), Some(y)) if x != y))
    };
    let mut by_arguments = false;
    for i in 0..paths.len() {
        for j in i + 1..paths.len() {
            if levels[i].min == levels[j].min {
                continue;
            }
            if !apart(&truths[i], &truths[j]) {
                return false;
            }
            by_arguments = true;
        }
    }
    by_arguments
}

/// Held on every path where a parameter has one truth, a try result of
/// the lock handed back on every path where it has the other.
fn acquired_or_tried_on_param(
    paths: &[(Span, &ReturnValue, &State)],
    levels: &[Level],
    lock: &Path,
    params: &[String],
    cfg: &Cfg,
    forwarded: &ExitKind,
) -> Option<ExitKind> {
    let ExitKind::Conditional(success) = forwarded else {
        return None;
    };
    let tried = |state: &State| {
        state
            .pending
            .iter()
            .any(|p| &p.lock == lock && p.kind == PendingKind::Acquire)
    };
    callers_params(params, cfg).find_map(|param| {
        let key = TruthKey::Var(param.clone());
        let mut held_when: Option<bool> = None;
        for ((_, _, state), level) in paths.iter().zip(levels) {
            let truth = *state.facts.get(&key)?;
            let held = level.min == 1 && level.max == 1;
            let side = match (held, tried(state) && level.max == 0) {
                (true, false) => truth,
                (false, true) => !truth,
                _ => return None,
            };
            match held_when {
                Some(w) if w != side => return None,
                _ => held_when = Some(side),
            }
        }
        let fixed_when = held_when?;
        let on = LockRef::from_path(&Path::var(param), params, &cfg.locals, false)?;
        Some(ExitKind::OnParamTry {
            on,
            fixed_when,
            fixed: 1,
            success: *success,
        })
    })
}

/// A conditional acquire that is certain on one side of a parameter
/// (`if (interruptible) { if (mutex_lock_interruptible(l)) return -EINTR;
/// } else mutex_lock(l); return 0;`): acquired when the caller passes that
/// side, tried otherwise, so a caller passing it need not test the result.
fn acquired_on_param_else_tried(
    paths: &[(Span, &ReturnValue, &State)],
    levels: &[Level],
    params: &[String],
    cfg: &Cfg,
    by_value: &ExitKind,
) -> Option<ExitKind> {
    let ExitKind::Conditional(success) = by_value else {
        return None;
    };
    let (_, _, first) = paths.first()?;
    let vars = callers_params(params, cfg).filter_map(|param| {
        let on = LockRef::from_path(&Path::var(param), params, &cfg.locals, false)?;
        Some((TruthKey::Var(param.clone()), on))
    });
    let flags = first
        .facts
        .keys()
        .filter_map(|key| Some((key.clone(), callers_flag(key, params, cfg)?)));
    vars.chain(flags).find_map(|(key, on)| {
        // Per truth of the parameter (or its flag): some return, every
        // return held.
        let (mut seen, mut all_held) = ([false; 2], [true; 2]);
        for ((_, _, state), level) in paths.iter().zip(levels) {
            let side = usize::from(*state.facts.get(&key)?);
            seen[side] = true;
            all_held[side] &= level.min == 1 && level.max == 1;
        }
        let acquired_when = [false, true].into_iter().find(|&t| {
            let (this, other) = (usize::from(t), usize::from(!t));
            seen[this] && all_held[this] && seen[other] && !all_held[other]
        })?;
        Some(ExitKind::OnParamTry {
            on,
            fixed_when: acquired_when,
            fixed: 1,
            success: *success,
        })
    })
}

/// The flag of a parameter a condition tests (`flags & NAME`, `flags`
/// holding what the caller passed), as callers name it: a caller passing
/// `A | NAME` sets it, one passing `0` or `A` does not.
fn callers_flag(key: &TruthKey, params: &[String], cfg: &Cfg) -> Option<LockRef> {
    let (var, name) = key.flag_test()?;
    let i = params.iter().position(|p| p == var)?;
    holds_callers_value(cfg, var).then(|| LockRef {
        root: RefRoot::Param(i),
        steps: vec![Step::Flag(name.to_owned())],
    })
}

/// Whether `var`, where the body tests it, holds what the caller passed:
/// no parameter the body assigns or steps (`++depth` before a recursive
/// call). A local is no parameter, which `LockRef::from_path` says.
fn holds_callers_value(cfg: &Cfg, var: &str) -> bool {
    !cfg.assigned_params.contains(var)
}

/// The parameters that hold what the caller passed wherever the body tests
/// them (see [`holds_callers_value`]).
fn callers_params<'p>(params: &'p [String], cfg: &'p Cfg) -> impl Iterator<Item = &'p String> {
    params.iter().filter(|p| holds_callers_value(cfg, p))
}

/// A conditional acquire on one side of a parameter, the lock untouched on
/// the other (`if (raw) return 0; ret = pmecc_enable(…); return ret;`):
/// within the caller's choice the return value tells, so the caller
/// passing that side tests the result, and the caller passing the other
/// has nothing to release.
fn tried_on_param_else_unchanged(
    paths: &[(Span, &ReturnValue, &State)],
    levels: &[Level],
    params: &[String],
    cfg: &Cfg,
) -> Option<ExitKind> {
    callers_params(params, cfg).find_map(|param| {
        let key = TruthKey::Var(param.clone());
        // A return before the parameter is tested (`if (size > max) return
        // -EINVAL;`) is on either side: untouched, as on the fixed side, and
        // told apart from the held returns, as on the tried side.
        let truths: Vec<Option<bool>> = paths
            .iter()
            .map(|(_, _, state)| state.facts.get(&key).copied())
            .collect();
        let untouched = |i: usize| levels[i].min == 0 && levels[i].max == 0;
        let fixed_when = [false, true].into_iter().find(|&t| {
            (0..paths.len()).any(|i| truths[i] == Some(t))
                && (0..paths.len()).any(|i| truths[i] == Some(!t))
                && (0..paths.len()).all(|i| truths[i] == Some(!t) || untouched(i))
        })?;
        let (tried_paths, tried_levels): (Vec<_>, Vec<_>) = paths
            .iter()
            .zip(levels)
            .zip(&truths)
            .filter(|(_, &t)| t != Some(fixed_when))
            .map(|((p, l), _)| (*p, l.clone()))
            .unzip();
        let Some(ExitKind::Conditional(success)) =
            conditional_by_value(&tried_paths, &tried_levels)
        else {
            return None;
        };
        let on = LockRef::from_path(&Path::var(param), params, &cfg.locals, false)?;
        Some(ExitKind::OnParamTry {
            on,
            fixed_when,
            fixed: 0,
            success,
        })
    })
}

/// Whether every test of `key` where `lock` may be held (as the states the
/// branches lead to say) re-tests a truth every path reaching it already
/// knows: the caller's choice decided before the lock was taken (`if
/// (global) lock(…); … if (err && global) unlock(…);`). A first test under
/// the lock is the function's own decision. A key never tested here (an
/// out-parameter set beside the lock, `*needs_unlock = true`) is the
/// caller's to test.
fn tested_unlocked(cfg: &Cfg, solution: &Solution, key: &TruthKey, lock: &Path) -> bool {
    for (node, edges) in cfg.succs.iter().enumerate() {
        let known_before = || {
            solution.states[node]
                .states
                .iter()
                .all(|s| s.facts.contains_key(key))
        };
        for edge in edges
            .iter()
            .filter(|e| matches!(&e.cond, EdgeCond::Truth(k, _) if k == key))
        {
            let unheld = solution.states[edge.to as usize]
                .states
                .iter()
                .all(|s| s.level(lock).max <= 0);
            if !unheld && !known_before() {
                return false;
            }
        }
    }
    true
}

/// Taken exactly when the returned variable has a flag set that the path
/// tested (`if (effects & NVME_CMD_EFFECTS_CSE_MASK) mutex_lock(…); return
/// effects;`): the caller's test of that flag in the result tells, as a
/// lock-status flag the lock API declares does.
fn on_returned_flag(paths: &[(Span, &ReturnValue, &State)], levels: &[Level]) -> Option<ExitKind> {
    let depth = levels.iter().find(|l| l.min != 0 || l.max != 0)?.min;
    if depth <= 0
        || levels
            .iter()
            .any(|l| l.min != l.max || (l.min != 0 && l.min != depth))
    {
        return None;
    }
    let (_, first, first_state) = paths.first()?;
    let ReturnValue::Var(var) = first else {
        return None;
    };
    if paths.iter().any(|(_, value, _)| value != first) {
        return None;
    }
    let tells = |flag: &&str| {
        let key = crate::cfg::flag_key(var, flag);
        paths
            .iter()
            .zip(levels)
            .all(|((_, _, state), level)| state.facts.get(&key) == Some(&(level.min == depth)))
    };
    let flag = first_state
        .facts
        .keys()
        .filter_map(TruthKey::flag_test)
        .filter(|(tested, _)| tested == var)
        .map(|(_, flag)| flag)
        .find(tells)?;
    Some(ExitKind::OnParam {
        on: LockRef {
            root: RefRoot::Return,
            steps: vec![Step::Flag(flag.to_owned())],
        },
        if_true: depth,
        if_false: 0,
    })
}

/// A try-lock wrapper recognised by its return values: held exactly on the
/// returns of one kind (nonzero, or zero) and not on the others.
fn conditional_by_value(
    returns: &[(Span, &ReturnValue, &State)],
    levels: &[Level],
) -> Option<ExitKind> {
    let d = levels.iter().find(|l| l.min != 0 || l.max != 0)?.min;
    if d == 0
        || levels
            .iter()
            .any(|l| l.min != l.max || (l.min != 0 && l.min != d))
    {
        return None;
    }
    let (mut changed, mut unchanged) = (Vec::new(), Vec::new());
    for ((_, value, state), level) in returns.iter().zip(levels) {
        // `return vma;` on a path where `vma` was tested NULL returns zero.
        let value = match value {
            ReturnValue::Var(v) if state.facts.get(&TruthKey::Var(v.clone())) == Some(&false) => {
                &ReturnValue::Zero
            }
            other => *other,
        };
        if level.min == d {
            changed.push(value);
        } else {
            unchanged.push(value);
        }
    }
    // Changed on a nonzero result (`return 1;`, `return obj;`) — for an
    // acquire, not on an errno, which says the function failed holding it.
    let truthy = |v: &&ReturnValue| {
        matches!(
            v,
            ReturnValue::Positive
                | ReturnValue::Var(_)
                | ReturnValue::Address(_)
                | ReturnValue::Field(_)
                | ReturnValue::Other
                | ReturnValue::Call(_)
        ) || (d < 0 && matches!(v, ReturnValue::Negative))
    };
    let errorish = |v: &&ReturnValue| {
        matches!(
            v,
            ReturnValue::Negative | ReturnValue::Var(_) | ReturnValue::Other
        )
    };
    // A pointer handed back locked, or NULL / ERR_PTR() without the lock.
    let pointer_failure = d > 0
        && changed.iter().all(|v| {
            matches!(
                v,
                ReturnValue::Var(_) | ReturnValue::Address(_) | ReturnValue::Field(_)
            )
        })
        && unchanged
            .iter()
            .all(|v| matches!(v, ReturnValue::Zero | ReturnValue::Negative));
    // Held unless a negative errno is returned (`return idx;` after `if (idx
    // < 0) { unlock(…); return idx; }`): zero may be a success here.
    // (Held exactly on `return 0;` is the plainer zero success.)
    let errno_failure = d > 0
        && !unchanged.is_empty()
        && unchanged.iter().all(|v| matches!(v, ReturnValue::Negative))
        && changed.iter().all(|v| !matches!(v, ReturnValue::Negative))
        && !changed.iter().all(|v| matches!(v, ReturnValue::Zero));
    let success = if errno_failure {
        Success::NonNegative
    } else if pointer_failure
        || (changed.iter().all(truthy) && unchanged.iter().all(|v| matches!(v, ReturnValue::Zero)))
    {
        Success::Nonzero
    } else if changed.iter().all(|v| matches!(v, ReturnValue::Zero))
        && unchanged.iter().all(errorish)
    {
        Success::Zero
    } else {
        return None;
    };
    Some(if d > 0 {
        ExitKind::Conditional(success)
    } else {
        ExitKind::ConditionalRelease(success)
    })
}

/// The lock kind the call at `site` takes or drops, as its callee's summary
/// says: a wrapper's callers see the kind its primitive has, and a call
/// that may drop that kind out of sight (`handle_mm_fault()` and the mmap
/// lock) makes it unknown there too.
fn kind_at(cfg: &Cfg, summaries: &dyn Summaries, site: Span) -> Option<String> {
    cfg.ops.iter().find_map(|op| match op {
        Op::Call(call) if call.span == site => call
            .callee
            .as_deref()
            .and_then(|callee| summaries.summary(callee))
            .and_then(|summary| summary.effects.iter().find_map(|e| e.kind.clone())),
        _ => None,
    })
}

/// The summary of a function from its exit facts.
pub fn summarize(
    facts: &[ExitFact],
    params: &[String],
    cfg: &Cfg,
    solution: &Solution,
    summaries: &dyn Summaries,
) -> Summary {
    let mut effects = Vec::new();
    for fact in facts {
        let lock = match &fact.returned_steps {
            Some(steps) => LockRef {
                root: RefRoot::Return,
                steps: steps.clone(),
            },
            None => {
                let lock = entry_named(cfg, &fact.lock);
                let named = LockRef::from_path(&lock, params, &cfg.locals, false).or_else(|| {
                    LockRef::from_path(fact.exported.as_ref()?, params, &cfg.locals, false)
                });
                match named {
                    Some(lock) => lock,
                    None => continue,
                }
            }
        };
        let changes: Vec<(Change, Option<(LockRef, bool)>)> = match &fact.kind {
            ExitKind::Consistent(d) | ExitKind::ByBuild(d) => {
                change_of(*d).map(|c| (c, None)).into_iter().collect()
            }
            ExitKind::Conditional(success) => vec![(Change::TryAcquire(*success), None)],
            ExitKind::ConditionalRelease(success) => vec![(Change::TryRelease(*success), None)],
            ExitKind::OnParam {
                on,
                if_true,
                if_false,
            } => [(*if_true, true), (*if_false, false)]
                .into_iter()
                .filter_map(|(d, truth)| change_of(d).map(|c| (c, Some((on.clone(), truth)))))
                .collect(),
            ExitKind::OnParamTry {
                on,
                fixed_when,
                fixed,
                success,
            } => change_of(*fixed)
                .map(|c| (c, Some((on.clone(), *fixed_when))))
                .into_iter()
                .chain([(
                    Change::TryAcquire(*success),
                    Some((on.clone(), !fixed_when)),
                )])
                .collect(),
            ExitKind::Inconsistent | ExitKind::Unknown | ExitKind::OnCallerCondition => {
                vec![(Change::Unknown, None)]
            }
            ExitKind::Opaque => vec![(Change::Opaque, None)],
            ExitKind::MayRelease => vec![(Change::MayRelease, None)],
        };
        let changes = changes
            .into_iter()
            .chain(fact.required.then_some((Change::Require, None)));
        for (change, when) in changes {
            let site = match change {
                Change::Release | Change::MayRelease => fact.released_at,
                _ => fact.acquired_at,
            };
            effects.push(SummaryEffect {
                lock: lock.clone(),
                change,
                recursive: fact.recursive,
                site,
                when,
                kind: site.and_then(|site| kind_at(cfg, summaries, site)),
            });
        }
    }
    effects.extend(releases_passed_on(facts, params, cfg, summaries, &effects));
    let stores = stores_at_exit(cfg, solution, params);
    let returns_object = returned_object(cfg, params, summaries);
    let mut released_fields: Vec<String> = facts
        .iter()
        .filter(|f| f.released_at.is_some())
        .filter_map(|f| match f.lock.steps.last() {
            Some(Step::Field(name)) => Some(name.clone()),
            _ => None,
        })
        .collect();
    released_fields.sort();
    released_fields.dedup();
    Summary {
        effects,
        may_drop: solution.may_drop.clone(),
        stores,
        released_fields,
        callback_fields: solution.callback_fields.clone(),
        primitive: false,
        caller_scope: false,
        returns_object,
        returns_errno: returns_errno(cfg, summaries),
    }
}

/// `lock` named through the parameter whose pointee a local copied on entry
/// (`chan->cgrp->lock` is `(*pchan)->cgrp->lock` after `chan = *pchan`).
fn entry_named(cfg: &Cfg, lock: &Path) -> Path {
    match lock.root_var().and_then(|v| cfg.entry_copies.get(v)) {
        Some(copy) => {
            let mut named = copy.clone();
            named.steps.extend_from_slice(&lock.steps);
            named
        }
        None => lock.clone(),
    }
}

/// The name a parameter gives `lock` on this path, when a pointer to its
/// object was stored through the parameter (`*foliop = folio`).
fn exported_name(cfg: &Cfg, state: &State, lock: &Path) -> Option<Path> {
    state.aliases.iter().find_map(|(name, object)| {
        (cfg.rooted_at_param(name)
            && object.root == lock.root
            && lock.steps.starts_with(&object.steps))
        .then(|| {
            let mut exported = name.clone();
            exported
                .steps
                .extend_from_slice(&lock.steps[object.steps.len()..]);
            exported
        })
    })
}

/// `lock`'s steps under `object`: what follows the object's own steps, or,
/// for an object that is the container of a member (`container_of(p, T,
/// m)`), the member and what follows it under `*p`.
fn steps_under(object: &Path, lock: &Path) -> Option<Vec<Step>> {
    if object.root != lock.root {
        return None;
    }
    if lock.steps.starts_with(&object.steps) {
        return Some(lock.steps[object.steps.len()..].to_vec());
    }
    let (Step::Container(member), inner) = object.steps.split_last()? else {
        return None;
    };
    lock.steps.starts_with(inner).then(|| {
        std::iter::once(Step::Field(member.clone()))
            .chain(lock.steps[inner.len()..].iter().cloned())
            .collect()
    })
}

/// The object the call at `node` returns, when its callee returns one the
/// caller names (`dp83640_clock_get(clock)` returns `*clock`).
fn call_returned_object(
    cfg: &Cfg,
    node: crate::cfg::NodeId,
    summaries: &dyn Summaries,
) -> Option<Path> {
    let Op::Call(call) = cfg.ops.get(node as usize)? else {
        return None;
    };
    crate::dataflow::returned_object(summaries.summary(call.callee.as_deref()?)?, call)
}

/// The one object every pointer-returning `return` returns, in the
/// caller's terms; NULL, constants and errors aside.
fn returned_object(cfg: &Cfg, params: &[String], summaries: &dyn Summaries) -> Option<LockRef> {
    let mut object: Option<LockRef> = None;
    for op in &cfg.ops {
        let Op::Return { value, .. } = op else {
            continue;
        };
        let text = match value {
            ReturnValue::Var(text) | ReturnValue::Address(text) | ReturnValue::Field(text) => text,
            ReturnValue::Zero | ReturnValue::Negative | ReturnValue::Void => continue,
            _ => return None,
        };
        let path = resolve_calls(cfg.returned_objects.get(text)?, summaries);
        let this = LockRef::from_path(&path, params, &cfg.locals, false)?;
        if matches!(this.root, RefRoot::Return) || object.as_ref().is_some_and(|o| *o != this) {
            return None;
        }
        object = Some(this);
    }
    object
}

/// Pointers to lock objects the function leaves where its caller reads
/// them back, on some path, both named in the caller's terms; one object per
/// place.
fn stores_at_exit(cfg: &Cfg, solution: &Solution, params: &[String]) -> Vec<(LockRef, LockRef)> {
    let mut stores: Vec<(LockRef, LockRef)> = Vec::new();
    let mut conflicting = Vec::new();
    let return_states = cfg
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| matches!(op, Op::Return { .. }))
        .flat_map(|(i, _)| solution.states[i].states.iter());
    for state in return_states {
        for (name, object) in state.aliases.iter() {
            if name.steps.last() != Some(&Step::Deref) {
                continue;
            }
            let place = Path {
                root: name.root.clone(),
                steps: name.steps[..name.steps.len() - 1].to_vec(),
            };
            // A parameter is the callee's copy: assigning it (`dev =
            // pci_physfn(dev)`) stores nothing the caller reads back.
            if place.steps.is_empty() {
                continue;
            }
            let target = LockRef::from_path(&place, params, &cfg.locals, false);
            let object = LockRef::from_path(object, params, &cfg.locals, false);
            let (Some(target), Some(object)) = (target, object) else {
                continue;
            };
            if !matches!(target.root, RefRoot::Param(_)) {
                continue;
            }
            match stores.iter().find(|(t, _)| *t == target) {
                Some((_, o)) if *o != object => conflicting.push(target),
                Some(_) => {}
                None => stores.push((target, object)),
            }
        }
    }
    stores.retain(|(t, _)| !conflicting.contains(t));
    stores
}

fn change_of(delta: i8) -> Option<Change> {
    match delta {
        d if d > 0 => Some(Change::Acquire),
        d if d < 0 => Some(Change::Release),
        _ => None,
    }
}

/// Whether every return holds the same nonzero number of locks (sections
/// such as RCU aside) more or fewer than on entry, though not the same
/// locks: a wrapper that takes one of several locks depending on a
/// condition (`if (shareable) down_read(&a->sem); else
/// down_read(&b->sem);`, a union's `u.spinlock` or `u.lock`).
pub fn same_count_on_every_exit(cfg: &Cfg, solution: &Solution) -> bool {
    let mut totals = cfg
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| matches!(op, Op::Return { .. }))
        .flat_map(|(i, _)| solution.states[i].states.iter())
        .map(|state| {
            let mut total = 0i32;
            for (lock, level) in state.locks.iter() {
                // A named nesting lock (RCU) is a section, no lock of an
                // object that another could stand for; a read lock of one
                // (`down_read(&t->u.lock)` or `read_lock_bh(&t->u.spinlock)`,
                // a union's two names) counts.
                let section = level.recursive && matches!(lock.root, crate::path::Root::Named(_));
                if section || !state.lock_exists(lock) {
                    continue;
                }
                if level.min != level.max {
                    return None;
                }
                total += i32::from(level.min);
            }
            Some(total)
        });
    let Some(Some(first)) = totals.next() else {
        return false;
    };
    first != 0 && totals.all(|t| t == Some(first))
}
