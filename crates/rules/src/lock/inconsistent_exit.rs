//! `lock/inconsistent-exit`: a function returns with a lock held on some
//! paths and not on others, and the reporting policy ([`crate::policy`])
//! finds no protocol that makes it right (sparse's "context imbalance").
//!
//! Why it is bad: the caller cannot know whether to release the lock; one of
//! the paths leaks it or the caller releases it twice. Typical cause: an
//! unlock forgotten before an early `return` or on a `goto` to a shared
//! label.
//!
//! ```c
//! spin_lock(&zone->lock);
//! if (!page)
//!         return -EBUSY;          /* zone->lock still held */
//! spin_unlock(&zone->lock);
//! return 0;
//! ```

use lockwarden_flow::summary::ExitFact;
use lockwarden_report::{Finding, RuleInfo, Severity};

use super::At;
use crate::policy::{Context, Verdict};

pub const ID: &str = "lock/inconsistent-exit";

pub fn info() -> RuleInfo {
    RuleInfo {
        id: ID.to_owned(),
        severity: Severity::Warning,
        summary: "a function returns with a lock held on some paths and not on others, and its callers cannot tell which".to_owned(),
        help: Some(
            "release the lock on every path; a conditional acquire should say so in its return value and be annotated __cond_acquires()"
                .to_owned(),
        ),
        doc: Some(
            "A function returns with a lock held on some paths and not on others\n\
             (sparse's \"context imbalance\"), and nothing makes that a protocol. The\n\
             caller cannot know whether to release the lock: one of the paths leaks it,\n\
             or the caller releases it twice. Typical cause: an unlock forgotten before\n\
             an early return or on a goto to a shared label. Returns that the return\n\
             value tells apart (0 or an error, NULL or a pointer) are a conditional\n\
             acquire, not reported, when an annotation (__cond_acquires, __cond_lock) or\n\
             the callers in the analysed code show it; returns it cannot tell apart are\n\
             always reported."
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
    let mut finding = at.finding(
        &info(),
        verdict.severity,
        name,
        verdict.primary,
        lock,
        format!(
            "`{name}` returns with `{lock}` held on some paths and not on others: {}",
            verdict.reason.text()
        ),
    );
    if let Some(a) = exit.acquired_at {
        finding = at.evidence(finding, a, format!("`{lock}` acquired here"));
    }
    if let Some(r) = exit.released_at {
        finding = at.evidence(finding, r, format!("`{lock}` released here"));
    }
    finding = at.evidence(
        finding,
        verdict.primary,
        format!("returns with `{lock}` held here"),
    );
    if let Some(u) = verdict.unheld {
        finding = at.evidence(finding, u, format!("returns without `{lock}` held here"));
    }
    finding
}
