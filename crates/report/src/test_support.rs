//! Shared fixtures for the unit tests: a small balloon driver, a header, and a
//! report with two findings over them.

use std::collections::HashMap;

use crate::finding::{Finding, Location, Severity};
use crate::report::{Report, RuleInfo, Summary};

pub(crate) const DRIVER: &str = "drivers/virtio/virtio_balloon.c";
pub(crate) const HEADER: &str = "include/linux/balloon_compaction.h";

pub(crate) const DRIVER_TEXT: &str = "\
// SPDX-License-Identifier: GPL-2.0
#include <linux/balloon_compaction.h>

static int virtballoon_migratepage(struct balloon_dev_info *vb_dev_info,
\t\tstruct page *newpage, struct page *page,
\t\tenum migrate_mode mode)
{
\tunsigned long flags;

\tspin_lock_irqsave(&vb_dev_info->pages_lock, flags);
\tballoon_page_insert(vb_dev_info, newpage);
\tspin_unlock_irqrestore(&vb_dev_info->pages_lock, flags);
\tballoon_page_finalize(page);
\treturn 0;
}

static void fill_balloon(struct virtio_balloon *b)
{
\tspin_lock(&b->lock);
\tspin_lock(&b->lock);
}
";

pub(crate) const HEADER_TEXT: &str = "\
static inline void balloon_page_finalize(struct page *page)
{
\tif (PageBalloon(page))
\t\tset_page_private(page, 0);
}
";

/// The location of the `nth` (0-based) occurrence of `needle` in `text`.
pub(crate) fn locate(file: &str, text: &str, needle: &str, nth: usize) -> Location {
    let start = text
        .match_indices(needle)
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle:?} #{nth} not in {file}"))
        .0;
    Location::from_offsets(
        file,
        text.as_bytes(),
        start as u32,
        (start + needle.len()) as u32,
    )
}

pub(crate) fn sample_findings() -> Vec<Finding> {
    let private = Finding::new(
        "balloon/page-private-needs-lock",
        Severity::Error,
        locate(DRIVER, DRIVER_TEXT, "balloon_page_finalize(page)", 0),
        "virtballoon_migratepage",
        "balloon_page_finalize() writes page->private, which requires the balloon pages lock, but it is not held here",
        DRIVER_TEXT.as_bytes(),
    )
    .with_help("call it before spin_unlock_irqrestore(&vb_dev_info->pages_lock, flags)")
    .with_label(
        locate(DRIVER, DRIVER_TEXT, "spin_unlock_irqrestore(&vb_dev_info->pages_lock, flags)", 0),
        "balloon pages lock released here",
    )
    .with_trace_step(
        locate(HEADER, HEADER_TEXT, "set_page_private(page, 0)", 0),
        "page->private written here (set_page_private)",
    );
    let double = Finding::new(
        "lock/double-acquire",
        Severity::Warning,
        locate(DRIVER, DRIVER_TEXT, "spin_lock(&b->lock)", 1),
        "fill_balloon",
        "b->lock is acquired while already held",
        DRIVER_TEXT.as_bytes(),
    )
    .with_trace_step(
        locate(DRIVER, DRIVER_TEXT, "spin_lock(&b->lock)", 0),
        "b->lock acquired here",
    );
    vec![private, double]
}

pub(crate) fn sample_report() -> Report {
    let findings = sample_findings();
    Report {
        root: "/home/dev/linux tree".into(),
        summary: Summary {
            files: 2,
            functions: 3,
            functions_with_parse_errors: 1,
            findings: findings.len(),
            elapsed_ms: 12,
            incomplete: Vec::new(),
        },
        findings,
    }
}

pub(crate) fn sample_sources() -> HashMap<String, Vec<u8>> {
    HashMap::from([
        (DRIVER.to_string(), DRIVER_TEXT.as_bytes().to_vec()),
        (HEADER.to_string(), HEADER_TEXT.as_bytes().to_vec()),
    ])
}

pub(crate) fn sample_rules() -> Vec<RuleInfo> {
    vec![
        RuleInfo {
            id: "balloon/page-private-needs-lock".into(),
            severity: Severity::Error,
            summary: "page->private of a balloon page changes only under the balloon pages lock"
                .into(),
            help: Some(
                "hold balloon_pages_lock (or b_dev_info->pages_lock) around the write".into(),
            ),
            doc: Some("Balloon pages keep their state in page->private.\n".into()),
            help_uri: Some("file:///src/lockwarden/rules/balloon.toml".into()),
        },
        RuleInfo {
            id: "lock/inconsistent-exit".into(),
            severity: Severity::Warning,
            summary: "a function returns with a lock held on some paths only".into(),
            help: None,
            doc: None,
            help_uri: None,
        },
    ]
}
