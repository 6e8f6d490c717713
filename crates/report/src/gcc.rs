//! The `gcc` format, as gcc prints a diagnostic: per finding one
//! `file:line:col: severity: message [rule]` line, then one
//! `file:line:col: note: message` line per piece of its evidence (where the
//! lock was taken and released, the returns that differ, the call chain
//! down to the access), and nothing else, so that editors jump to every
//! spot and `grep ': warning:'` still finds one line per finding. Paths are
//! printed from the directory the command was run in ([`PathDisplay`]).

use std::fmt::Write;

use crate::finding::{Finding, Location};
use crate::paths::PathDisplay;
use crate::report::Report;

pub(crate) fn render(report: &Report, paths: &PathDisplay) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        out.push_str(&lines(finding, paths));
    }
    out
}

/// The finding's line and its `note:` lines, each ending in a newline.
pub(crate) fn lines(finding: &Finding, paths: &PathDisplay) -> String {
    let mut out = line(finding, paths);
    out.push('\n');
    for evidence in finding.evidence() {
        let label = evidence.label;
        let _ = writeln!(
            out,
            "{}: note: {}",
            position(&label.location, paths),
            one_line(&label.message)
        );
    }
    out
}

/// The gcc-style line of one finding, without a newline. Newlines inside the
/// message are flattened to spaces so that one finding stays one line.
pub(crate) fn line(finding: &Finding, paths: &PathDisplay) -> String {
    format!(
        "{}: {}: {} [{}]",
        position(&finding.location, paths),
        finding.severity,
        one_line(&finding.message),
        finding.rule
    )
}

/// `file:line:column` with the file as `paths` prints it.
pub(crate) fn position(location: &Location, paths: &PathDisplay) -> String {
    format!(
        "{}:{}:{}",
        paths.show(&location.file),
        location.line,
        location.column
    )
}

/// `text` with line breaks replaced by spaces.
pub(crate) fn one_line(text: &str) -> String {
    text.replace("\r\n", " ").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sample_report;
    use std::path::Path;

    #[test]
    fn a_line_per_finding_then_a_note_per_piece_of_evidence() {
        let report = sample_report();
        let out = render(&report, &PathDisplay::root_relative());
        assert_eq!(
            out,
            "drivers/virtio/virtio_balloon.c:13:2: error: balloon_page_finalize() writes page->private, which requires the balloon pages lock, but it is not held here [balloon/page-private-needs-lock]\n\
             include/linux/balloon_compaction.h:4:3: note: page->private written here (set_page_private)\n\
             drivers/virtio/virtio_balloon.c:12:2: note: balloon pages lock released here\n\
             drivers/virtio/virtio_balloon.c:20:2: warning: b->lock is acquired while already held [lock/double-acquire]\n\
             drivers/virtio/virtio_balloon.c:19:2: note: b->lock acquired here\n"
        );
        // Tools that grep the finding lines see one line per finding.
        let warnings: Vec<&str> = out
            .lines()
            .filter(|l| l.contains(": warning: ") || l.contains(": error: "))
            .collect();
        assert_eq!(warnings.len(), report.findings.len());
    }

    #[test]
    fn evidence_given_as_label_and_step_is_one_note() {
        let mut report = sample_report();
        report.findings.drain(..1);
        let double = &mut report.findings[0];
        let step = double.trace[0].clone();
        double.labels.push(step);
        let out = render(&report, &PathDisplay::root_relative());
        assert_eq!(
            out.matches(": note: b->lock acquired here").count(),
            1,
            "{out}"
        );
    }

    #[test]
    fn paths_are_printed_from_the_directory_of_the_run() {
        let report = sample_report();
        let from_drivers = PathDisplay::from_dir(
            Path::new("/home/dev/linux"),
            Path::new("/home/dev/linux/drivers/virtio"),
        );
        let out = render(&report, &from_drivers);
        assert!(out.starts_with("virtio_balloon.c:13:2: error: "), "{out}");
        assert!(
            out.contains("\n../../include/linux/balloon_compaction.h:4:3: note: "),
            "{out}"
        );
    }

    #[test]
    fn empty_report_prints_nothing() {
        let mut report = sample_report();
        report.findings.clear();
        assert_eq!(render(&report, &PathDisplay::root_relative()), "");
    }

    #[test]
    fn newlines_in_messages_are_flattened() {
        let mut report = sample_report();
        report.findings.truncate(1);
        report.findings[0].message = "a\nb\r\nc".into();
        report.findings[0].labels[0].message = "d\ne".into();
        let out = render(&report, &PathDisplay::root_relative());
        assert!(out.contains(": error: a b c ["), "{out}");
        assert!(out.contains(": note: d e\n"), "{out}");
    }
}
