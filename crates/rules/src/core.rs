//! The core locking rules: `lock/inconsistent-exit`, `lock/double-acquire`,
//! `lock/release-unheld` and `lock/leak-at-exit` (SPEC.md §3).
//!
//! Each rule reads the engine's results for one function: observations made
//! during the dataflow (double acquire, release of an unheld lock) and the
//! exit facts (how each lock stands across the returns).

use lockwarden_flow::analysis::{Analysis, Annotation, FileUnit, FunctionUnit};
use lockwarden_flow::dataflow::Observation;
use lockwarden_flow::path::{loose_key, Path, Step};
use lockwarden_flow::summary::{ExitFact, ExitKind};
use lockwarden_flow::FunctionResult;
use lockwarden_report::{Finding, Location, RuleInfo, Severity};
use lockwarden_syntax::Span;
use rayon::prelude::*;

pub const INCONSISTENT_EXIT: &str = "lock/inconsistent-exit";
pub const DOUBLE_ACQUIRE: &str = "lock/double-acquire";
pub const RELEASE_UNHELD: &str = "lock/release-unheld";
pub const LEAK_AT_EXIT: &str = "lock/leak-at-exit";

/// Documentation of the core rules.
pub fn rules() -> Vec<RuleInfo> {
    let rule = |id: &str, severity, summary: &str, help: &str| RuleInfo {
        id: id.to_owned(),
        severity,
        summary: summary.to_owned(),
        help: Some(help.to_owned()),
    };
    vec![
        rule(
            INCONSISTENT_EXIT,
            Severity::Warning,
            "a function returns with a lock held on some paths and not on others, and its callers cannot tell which",
            "release the lock on every path; a conditional acquire should say so in its return value (or __cond_acquires())",
        ),
        rule(
            DOUBLE_ACQUIRE,
            Severity::Error,
            "a non-recursive lock is acquired while it is already held on that path",
            "release the lock before taking it again, or take it once",
        ),
        rule(
            RELEASE_UNHELD,
            Severity::Error,
            "a lock is released on a path where it is not held",
            "release the lock only where it was taken; annotate with __releases() if the caller holds it",
        ),
        rule(
            LEAK_AT_EXIT,
            Severity::Warning,
            "an entry point returns on every path holding a lock it did not hold on entry",
            "release the lock before returning, or annotate the function with __acquires()",
        ),
    ]
}

fn severity_of(rule: &str) -> Severity {
    match rule {
        DOUBLE_ACQUIRE | RELEASE_UNHELD => Severity::Error,
        _ => Severity::Warning,
    }
}

fn help_of(rule: &str) -> Option<String> {
    rules()
        .into_iter()
        .find(|r| r.id == rule)
        .and_then(|r| r.help)
}

/// Locates spans of one file for findings.
struct At<'a> {
    file: &'a FileUnit,
    path: String,
}

impl At<'_> {
    fn loc(&self, span: Span) -> Location {
        Location::from_offsets(self.path.clone(), &self.file.source, span.start, span.end)
    }

    fn finding(&self, rule: &str, function: &str, span: Span, message: String) -> Finding {
        let mut f = Finding::new(
            rule,
            severity_of(rule),
            self.loc(span),
            function,
            message,
            &self.file.source,
        );
        f.help = help_of(rule);
        f
    }
}

/// Runs the core rules over every analysed function.
pub fn check(analysis: &Analysis) -> Vec<Finding> {
    let program = &analysis.program;
    (0..program.functions.len())
        .into_par_iter()
        .flat_map_iter(|i| {
            let f = &program.functions[i];
            let file = &program.files[f.file];
            let at = At {
                file,
                path: file.path.to_string_lossy().replace('\\', "/"),
            };
            let is_entry = analysis.callers[i] == 0 || program.references(&f.name) > 0;
            check_function(
                f,
                &analysis.results[i],
                &program.annotations(f),
                is_entry,
                &at,
            )
        })
        .collect()
}

fn annotated(annotations: &[Annotation], names: &[&str], lock: &Path) -> bool {
    let key = lock.loose_key();
    annotations
        .iter()
        .filter(|a| names.contains(&a.name.as_str()))
        .any(|a| a.args.is_empty() || a.args.iter().any(|arg| loose_key(arg) == key))
}

fn has_any(annotations: &[Annotation], names: &[&str]) -> bool {
    annotations.iter().any(|a| names.contains(&a.name.as_str()))
}

fn check_function(
    f: &FunctionUnit,
    r: &FunctionResult,
    annotations: &[Annotation],
    is_entry: bool,
    at: &At<'_>,
) -> Vec<Finding> {
    // Precision depends on the parse: a body with errors has a guessed graph.
    if f.parse_errors > 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    // A callback given the lock's object may have changed it; an element of
    // an array (`fbatch.folios[i]`) is not one lock from one index to the next.
    let unjudged = |lock: &Path| {
        lock.steps.contains(&Step::Index)
            || lock
                .root_var()
                .is_some_and(|r| f.cfg.handed_to_callbacks.iter().any(|(v, _)| v == r))
    };
    for obs in &r.observations {
        match obs {
            Observation::DoubleAcquire { lock, .. } | Observation::ReleaseUnheld { lock, .. }
                if unjudged(lock) => {}
            Observation::DoubleAcquire {
                lock,
                at: span,
                previous,
                via,
            } => {
                let through = via
                    .as_ref()
                    .map(|c| format!(" (through {c}())"))
                    .unwrap_or_default();
                let mut finding = at.finding(
                    DOUBLE_ACQUIRE,
                    &f.name,
                    *span,
                    format!("`{lock}` is acquired{through} while already held"),
                );
                if let Some(p) = previous {
                    finding = finding.with_label(at.loc(*p), format!("`{lock}` acquired here"));
                }
                out.push(finding);
            }
            Observation::ReleaseUnheld {
                lock,
                at: span,
                previous,
                via,
            } => {
                if annotated(annotations, &["__releases", "__must_hold"], lock) {
                    continue;
                }
                let through = via
                    .as_ref()
                    .map(|c| format!(" (through {c}())"))
                    .unwrap_or_default();
                let mut finding = at.finding(
                    RELEASE_UNHELD,
                    &f.name,
                    *span,
                    format!("`{lock}` is released{through} but not held here"),
                );
                if let Some(p) = previous {
                    finding = finding.with_label(at.loc(*p), format!("`{lock}` released here"));
                }
                out.push(finding);
            }
        }
    }
    if r.incomplete {
        return out;
    }
    // One call can take two locks (a page-table lock and its RCU section):
    // one finding for the pair.
    let mut reported: Vec<(Option<Span>, Vec<Span>)> = Vec::new();
    for exit in &r.exits {
        let pair = (exit.acquired_at, exit.held_at.clone());
        if exit.acquired_at.is_some() && reported.contains(&pair) {
            continue;
        }
        let finding = match exit.kind {
            // A lock handed to the caller (`*foliop = folio`) is its business.
            _ if exit.handed_over => None,
            ExitKind::Inconsistent if !r.swaps_locks && !exit.returns_root => {
                inconsistent(f, exit, annotations, is_entry, at)
            }
            ExitKind::Consistent(d) if d > 0 && is_entry => leak(f, exit, annotations, at),
            _ => None,
        };
        if let Some(finding) = finding {
            reported.push(pair);
            out.push(finding);
        }
    }
    out
}

const ACQUIRE_ANNOTATIONS: &[&str] = &[
    "__acquires",
    "__cond_acquires",
    "__releases",
    "__cond_releases",
];

fn inconsistent(
    f: &FunctionUnit,
    exit: &ExitFact,
    annotations: &[Annotation],
    is_entry: bool,
    at: &At<'_>,
) -> Option<Finding> {
    // An annotated function says what it does; one whose annotation we cannot
    // match to a lock is given the benefit of the doubt.
    if has_any(annotations, ACQUIRE_ANNOTATIONS) {
        return None;
    }
    // Releasing, on some paths only, a lock the caller took (`if (p) unlock(p)`,
    // `if (headless) return; unlock()`): an unlock-if helper whose condition
    // the caller shares. Sparse calls this an imbalance; kernel code relies
    // on it, so only imbalances of locks taken here are reported.
    if exit.only_released {
        return None;
    }
    // Held on some returns and not others is also how lock hand-offs and
    // conditional protocols look, announced by the return value (`return 1;`
    // locked, `return 0;` not). A caller that cannot tell, or an error return
    // that still holds the lock, is the bug.
    if !exit.indistinguishable {
        return None;
    }
    // A function with callers that takes the lock but never releases it is
    // a conditional acquirer (`if (shareable(vma)) down_read(…)`) whose
    // condition its unlock twin mirrors: its callers are checked instead.
    if exit.released_at.is_none() && !is_entry {
        return None;
    }
    let held = *exit.held_at.first()?;
    let lock = &exit.lock;
    let mut finding = at.finding(
        INCONSISTENT_EXIT,
        &f.name,
        held,
        format!(
            "`{}` returns with `{lock}` held on some paths and not on others",
            f.name
        ),
    );
    if let Some(a) = exit.acquired_at {
        finding = finding.with_label(at.loc(a), format!("`{lock}` acquired here"));
    }
    if let Some(r) = exit.released_at {
        finding = finding.with_label(at.loc(r), format!("`{lock}` released here"));
    }
    if let Some(u) = exit.unheld_at.first() {
        finding = finding.with_label(at.loc(*u), format!("returns without `{lock}` held here"));
    }
    Some(finding)
}

fn leak(
    f: &FunctionUnit,
    exit: &ExitFact,
    annotations: &[Annotation],
    at: &At<'_>,
) -> Option<Finding> {
    if has_any(annotations, ACQUIRE_ANNOTATIONS) || exit.returns_root {
        return None;
    }
    let ret = *exit.held_at.last()?;
    let lock = &exit.lock;
    let mut finding = at.finding(
        LEAK_AT_EXIT,
        &f.name,
        ret,
        format!("`{}` returns with `{lock}` held on every path", f.name),
    );
    if let Some(a) = exit.acquired_at {
        finding = finding.with_label(at.loc(a), format!("`{lock}` acquired here"));
    }
    Some(finding)
}
