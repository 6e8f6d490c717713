//! `lock/double-acquire`: a non-recursive lock is acquired while it is
//! already held on that path.
//!
//! Why it is bad: a spinlock or mutex taken twice by one context deadlocks.
//! Nesting locks (RCU, read sides the lock API marks recursive) are counted,
//! not reported.
//!
//! ```c
//! spin_lock(&q->lock);
//! if (q->busy)
//!         spin_lock(&q->lock);    /* already held */
//! ```

use lockwarden_report::{Finding, RuleInfo, Severity};

use super::{At, LockEvent};
use crate::policy::Context;

pub const ID: &str = "lock/double-acquire";

pub fn info() -> RuleInfo {
    RuleInfo {
        id: ID.to_owned(),
        severity: Severity::Error,
        summary: "a non-recursive lock is acquired while it is already held on that path"
            .to_owned(),
        help: Some("release the lock before taking it again, or take it once".to_owned()),
        doc: Some(
            "A spinlock, mutex or other non-recursive lock is taken again on a path\n\
             where it is already held: one context taking it twice deadlocks. Nesting\n\
             locks (RCU, read sides the lock API marks recursive) are counted, not\n\
             reported."
                .to_owned(),
        ),
        help_uri: Some(super::help_uri()),
    }
}

pub(super) fn finding(cx: &Context<'_>, event: &LockEvent, at: &At<'_>) -> Option<Finding> {
    let lock = &event.lock;
    let through = event.through();
    let info = info();
    let mut finding = at.finding(
        &info,
        info.severity,
        &cx.function.name,
        event.at,
        lock,
        format!("`{lock}` is acquired{through} while already held"),
    );
    if let Some(p) = event.previous {
        finding = at.evidence(finding, p, format!("`{lock}` acquired here"));
    }
    Some(at.evidence(finding, event.at, format!("`{lock}` acquired again here")))
}
