//! The `gcc` format: one `file:line:col: severity: message [rule]` line per
//! finding and nothing else, so editors and `grep` can consume it.

use std::fmt::Write;

use crate::finding::Finding;
use crate::report::Report;

pub(crate) fn render(report: &Report) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        out.push_str(&line(finding));
        out.push('\n');
    }
    out
}

/// The gcc-style line of one finding, without a newline. Newlines inside the
/// message are flattened to spaces so that one finding stays one line.
pub(crate) fn line(finding: &Finding) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "{}: {}: {} [{}]",
        finding.location,
        finding.severity,
        one_line(&finding.message),
        finding.rule
    );
    s
}

/// `text` with line breaks replaced by spaces.
pub(crate) fn one_line(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_report;

    #[test]
    fn one_line_per_finding_no_summary() {
        let report = sample_report();
        let out = render(&report);
        assert_eq!(
            out,
            "drivers/virtio/virtio_balloon.c:13:2: error: balloon_page_finalize() writes page->private, which requires the balloon pages lock, but it is not held here [balloon/page-private-needs-lock]\n\
             drivers/virtio/virtio_balloon.c:20:2: warning: b->lock is acquired while already held [lock/double-acquire]\n"
        );
    }

    #[test]
    fn empty_report_prints_nothing() {
        let mut report = sample_report();
        report.findings.clear();
        assert_eq!(render(&report), "");
    }

    #[test]
    fn newlines_in_message_are_flattened() {
        let mut report = sample_report();
        report.findings.truncate(1);
        report.findings[0].message = "a\nb\r\nc".into();
        assert!(render(&report).contains(": error: a b c ["));
    }
}
