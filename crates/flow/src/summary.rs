//! Function summaries: what a function does to the locks its callers can
//! name (through its parameters, globals or named locks), read off the lock
//! states at its returns.

use lockwarden_syntax::Span;

use crate::api::Success;
use crate::cfg::{ArgPaths, Cfg, Op, ReturnValue, TruthKey};
use crate::dataflow::{Solution, State};
use crate::path::{Path, Root, Step};

/// The net change a call makes to one lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Acquire,
    Release,
    /// Acquired when the result says so.
    TryAcquire(Success),
}

/// Where a summarised lock is rooted, in terms a caller can substitute.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RefRoot {
    Param(usize),
    Global(String),
    Named(String),
}

/// A lock named in callee terms.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LockRef {
    pub root: RefRoot,
    pub steps: Vec<Step>,
}

impl LockRef {
    /// A callee path in caller-substitutable terms; `None` for callee locals.
    pub fn from_path(path: &Path, params: &[String], cfg: &Cfg) -> Option<LockRef> {
        let root = match &path.root {
            Root::Named(n) => RefRoot::Named(n.clone()),
            Root::Var(v) => match params.iter().position(|p| p == v) {
                Some(i) => RefRoot::Param(i),
                None if cfg.locals.contains(v) => return None,
                None => RefRoot::Global(v.clone()),
            },
        };
        Some(LockRef {
            root,
            steps: path.steps.clone(),
        })
    }

    /// The caller's path for this lock, given the call's arguments.
    pub fn substitute(&self, args: &[ArgPaths]) -> Option<Path> {
        let (base, rest) = match &self.root {
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

/// One effect of a summarised function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryEffect {
    pub lock: LockRef,
    pub change: Change,
    pub recursive: bool,
    /// Where in the callee the lock is taken or released.
    pub site: Option<Span>,
}

/// What a call to a function does to its caller's locks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub effects: Vec<SummaryEffect>,
}

/// How a lock stands across a function's returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// The same depth change on every return.
    Consistent(i8),
    /// Held exactly when the return value says so (a try-lock wrapper).
    Conditional(Success),
    /// Held on some returns and not on others.
    Inconsistent,
}

/// The exit state of one lock.
#[derive(Clone, Debug)]
pub struct ExitFact {
    pub lock: Path,
    pub kind: ExitKind,
    /// Returns where the lock is (possibly) held more than on entry.
    pub held_at: Vec<Span>,
    /// Returns where it is not.
    pub unheld_at: Vec<Span>,
    pub acquired_at: Option<Span>,
    pub released_at: Option<Span>,
    pub recursive: bool,
    /// Every return returns the lock's root variable (`return obj;` after
    /// locking `obj->lock`): the caller receives the locked object.
    pub returns_root: bool,
}

/// The exit facts of a solved function, one per lock whose state changes.
pub fn exits(cfg: &Cfg, solution: &Solution) -> Vec<ExitFact> {
    let returns: Vec<(Span, &ReturnValue, &State)> = cfg
        .ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match op {
            Op::Return { span, value } => solution.states[i].as_ref().map(|s| (*span, value, s)),
            _ => None,
        })
        .collect();
    let mut locks: Vec<&Path> = returns
        .iter()
        .flat_map(|(_, _, s)| s.locks.keys())
        .collect();
    locks.sort();
    locks.dedup();
    let mut facts = Vec::new();
    for lock in locks {
        let levels: Vec<_> = returns.iter().map(|(_, _, s)| s.level(lock)).collect();
        if levels.iter().all(|l| l.min == 0 && l.max == 0) {
            continue;
        }
        let forwarded = returns.iter().find_map(|(_, value, state)| {
            let key = match value {
                ReturnValue::Call(id) => TruthKey::Call(*id),
                ReturnValue::Var(v) => TruthKey::Var(v.clone()),
                _ => return None,
            };
            state
                .pending
                .iter()
                .find(|p| p.key == key && &p.lock == lock)
                .map(|p| p.success)
        });
        let first = &levels[0];
        let kind = if levels.iter().all(|l| l.min == l.max && l.min == first.min) {
            ExitKind::Consistent(first.min)
        } else if let Some(success) = forwarded {
            ExitKind::Conditional(success)
        } else {
            conditional_by_value(&returns, &levels)
                .map_or(ExitKind::Inconsistent, ExitKind::Conditional)
        };
        let root_var = lock.root_var();
        let returns_root = root_var.is_some_and(|r| {
            returns
                .iter()
                .all(|(_, value, _)| matches!(value, ReturnValue::Var(v) if v == r))
        });
        facts.push(ExitFact {
            lock: lock.clone(),
            kind,
            held_at: returns
                .iter()
                .zip(&levels)
                .filter(|(_, l)| l.max > 0 || l.min < 0)
                .map(|((span, _, _), _)| *span)
                .collect(),
            unheld_at: returns
                .iter()
                .zip(&levels)
                .filter(|(_, l)| l.min == 0 && l.max == 0)
                .map(|((span, _, _), _)| *span)
                .collect(),
            acquired_at: levels.iter().find_map(|l| l.acquired_at),
            released_at: levels.iter().find_map(|l| l.released_at),
            recursive: levels.iter().any(|l| l.recursive),
            returns_root,
        });
    }
    facts
}

/// A try-lock wrapper recognised by its return values: held exactly on the
/// returns of one kind (nonzero, or zero) and not on the others.
fn conditional_by_value(
    returns: &[(Span, &ReturnValue, &State)],
    levels: &[crate::dataflow::Level],
) -> Option<Success> {
    let d = levels.iter().find(|l| l.min != 0 || l.max != 0)?.min;
    if d <= 0
        || levels
            .iter()
            .any(|l| l.min != l.max || (l.min != 0 && l.min != d))
    {
        return None;
    }
    let (mut held, mut unheld) = (Vec::new(), Vec::new());
    for ((_, value, _), level) in returns.iter().zip(levels) {
        if level.min == d {
            held.push(*value);
        } else {
            unheld.push(*value);
        }
    }
    let truthy = |v: &&ReturnValue| !matches!(v, ReturnValue::Zero | ReturnValue::Void);
    let errorish = |v: &&ReturnValue| {
        matches!(
            v,
            ReturnValue::Negative
                | ReturnValue::Positive
                | ReturnValue::Var(_)
                | ReturnValue::Other
        )
    };
    if held.iter().all(truthy) && unheld.iter().all(|v| matches!(v, ReturnValue::Zero)) {
        Some(Success::Nonzero)
    } else if held.iter().all(|v| matches!(v, ReturnValue::Zero)) && unheld.iter().all(errorish) {
        Some(Success::Zero)
    } else {
        None
    }
}

/// The summary of a function from its exit facts.
pub fn summarize(facts: &[ExitFact], params: &[String], cfg: &Cfg) -> Summary {
    let mut effects = Vec::new();
    for fact in facts {
        let Some(lock) = LockRef::from_path(&fact.lock, params, cfg) else {
            continue;
        };
        let change = match fact.kind {
            ExitKind::Consistent(d) if d > 0 => Change::Acquire,
            ExitKind::Consistent(d) if d < 0 => Change::Release,
            ExitKind::Conditional(success) => Change::TryAcquire(success),
            _ => continue,
        };
        let site = match change {
            Change::Release => fact.released_at,
            _ => fact.acquired_at,
        };
        effects.push(SummaryEffect {
            lock,
            change,
            recursive: fact.recursive,
            site,
        });
    }
    Summary { effects }
}
