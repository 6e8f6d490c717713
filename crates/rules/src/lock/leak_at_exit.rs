//! `lock/leak-at-exit`: a function returns holding, on every path (of the
//! builds that take it, where an `#ifdef` decides), a lock it did not hold
//! on entry, and it is no acquire wrapper: not annotated
//! `__acquires()`, and no caller releases the lock afterwards (or the
//! function releases that lock itself on another path).
//!
//! Why it is bad: nothing releases the lock; the next taker deadlocks.
//! Without callers in the analysed code it is a note (an unannotated lock
//! API); with callers that keep it, a warning.
//!
//! ```c
//! void dev_reset(struct dev *d)
//! {
//!         mutex_lock(&d->lock);
//!         d->state = 0;
//! }                               /* d->lock still held */
//! ```

use lockwarden_flow::summary::{ExitFact, ExitKind};
use lockwarden_report::{Finding, RuleInfo, Severity};

use super::At;
use crate::policy::{Context, Verdict};

pub const ID: &str = "lock/leak-at-exit";

pub fn info() -> RuleInfo {
    RuleInfo {
        id: ID.to_owned(),
        severity: Severity::Warning,
        summary: "a function returns on every path holding a lock it did not hold on entry, and no caller releases it".to_owned(),
        help: Some(
            "release the lock before returning, or annotate the function with __acquires() if it is a lock API"
                .to_owned(),
        ),
        doc: Some(
            "A function returns, on every path, holding a lock it did not hold on entry,\n\
             and it is no acquire wrapper: it is not annotated __acquires(), and no caller\n\
             releases the lock afterwards (or it releases that lock itself on another\n\
             path). Nothing releases the lock; the next taker deadlocks. Without callers\n\
             in the analysed code it is a note (an unannotated lock API); with callers\n\
             that keep the lock, a warning."
                .to_owned(),
        ),
        help_uri: Some(super::help_uri()),
    }
}

pub(super) fn finding(
    cx: &Context<'_>,
    exit: &ExitFact,
    verdict: &Verdict,
    at: &At<'_>,
) -> Finding {
    let lock = &exit.lock;
    let name = &cx.function.name;
    let every_path = match exit.kind {
        ExitKind::ByBuild(_) => "on every path of the builds that take it",
        _ => "on every path",
    };
    let mut finding = at.finding(
        &info(),
        verdict.severity,
        name,
        verdict.primary,
        lock,
        format!(
            "`{name}` returns with `{lock}` held {every_path}: {}",
            verdict.reason.text()
        ),
    );
    if let Some(a) = exit.acquired_at {
        finding = at.evidence(finding, a, format!("`{lock}` acquired here"));
    }
    if let Some(r) = exit.released_at {
        finding = at.evidence(finding, r, format!("`{lock}` released here"));
    }
    at.evidence(
        finding,
        verdict.primary,
        format!("returns with `{lock}` held here"),
    )
}
