//! `lock/release-unheld`: a lock is released on a path where it is not
//! held, or may not be held because a try-acquire's (or an
//! `_interruptible`/`_killable` acquire's) result was never tested.
//!
//! Why it is bad: releasing an unheld lock corrupts it (a double unlock), or
//! releases a lock another context holds. A lock the function never took is
//! its caller's to release (`__releases()`, an unlock helper): not reported.
//!
//! ```c
//! ret = mutex_lock_interruptible(&dev->lock);
//! dev->count++;                   /* ret never tested */
//! mutex_unlock(&dev->lock);
//! ```

use lockwarden_report::{Finding, RuleInfo, Severity};

use super::{annotated, At, EventKind, LockEvent};
use crate::policy::Context;

pub const ID: &str = "lock/release-unheld";

pub fn info() -> RuleInfo {
    RuleInfo {
        id: ID.to_owned(),
        severity: Severity::Error,
        summary: "a lock is released on a path where it is not held, or where a try-acquire's result was never tested".to_owned(),
        help: Some(
            "release the lock only where it was taken, and test the result of a try-acquire; annotate with __releases() if the caller holds it"
                .to_owned(),
        ),
        doc: Some(
            "A lock is released on a path where it is not held, or may not be, because\n\
             the result of a try-acquire (or of an _interruptible or _killable acquire)\n\
             was never tested. Releasing an unheld lock corrupts it (a double unlock) or\n\
             releases a lock another context holds. A lock the function never took is its\n\
             caller's to release (__releases(), __must_hold(), an unlock helper whose\n\
             callers hold it): not reported."
                .to_owned(),
        ),
        help_uri: Some(super::help_uri()),
    }
}

pub(super) fn finding(cx: &Context<'_>, event: &LockEvent, at: &At<'_>) -> Option<Finding> {
    let lock = &event.lock;
    if annotated(cx.annotations, &["__releases", "__must_hold"], lock) {
        return None;
    }
    let through = event.through();
    let info = info();
    let (message, label) = match event.kind {
        EventKind::ReleaseUntested => (
            format!("`{lock}` is released{through} but may not be held: the result of the try-acquire is never tested"),
            format!("`{lock}` maybe acquired here, result not tested"),
        ),
        _ => (
            format!("`{lock}` is released{through} but not held here"),
            format!("`{lock}` released here"),
        ),
    };
    let mut finding = at.finding(
        &info,
        info.severity,
        &cx.function.name,
        event.at,
        lock,
        message,
    );
    if let Some(p) = event.previous {
        finding = at.evidence(finding, p, label);
    }
    let here = match event.kind {
        EventKind::ReleaseUntested => format!("`{lock}` released here, maybe not held"),
        _ => format!("`{lock}` released here, not held"),
    };
    Some(at.evidence(finding, event.at, here))
}
