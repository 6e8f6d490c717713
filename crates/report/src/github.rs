//! The `github` format: one GitHub Actions workflow command per finding,
//! `::error file=F,line=L,endLine=EL,title=RULE::MESSAGE`, which the runner
//! turns into an annotation on the pull request diff.
//!
//! `col`/`endColumn` are given only for single-line findings (GitHub ignores
//! or misplaces them otherwise). Escaping follows the Actions toolkit: in the
//! message `%`, `\r`, `\n`; in property values also `:` and `,`.

use std::fmt::Write;

use crate::finding::Severity;
use crate::report::Report;

pub(crate) fn render(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let command = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "notice",
        };
        let loc = &f.location;
        let _ = write!(
            out,
            "::{command} file={},line={},endLine={}",
            escape_property(&loc.file),
            loc.line,
            loc.end_line
        );
        if loc.line == loc.end_line {
            let _ = write!(out, ",col={},endColumn={}", loc.column, loc.end_column);
        }
        let _ = writeln!(
            out,
            ",title={}::{}",
            escape_property(&f.rule),
            escape_data(&f.message)
        );
    }
    out
}

/// Escapes a command's data (the text after `::`).
pub(crate) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (`file=`, `title=`).
pub(crate) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[test]
    fn one_command_per_finding() {
        let out = render(&sample_report());
        assert_eq!(
            out,
            "::error file=drivers/virtio/virtio_balloon.c,line=13,endLine=13,col=2,endColumn=29,title=balloon/page-private-needs-lock::balloon_page_finalize() writes page->private, which requires the balloon pages lock, but it is not held here\n\
             ::warning file=drivers/virtio/virtio_balloon.c,line=20,endLine=20,col=2,endColumn=21,title=lock/double-acquire::b->lock is acquired while already held\n"
        );
    }

    #[test]
    fn notice_for_notes_and_no_columns_across_lines() {
        let mut report = sample_report();
        report.findings.truncate(1);
        let f = &mut report.findings[0];
        f.severity = Severity::Note;
        f.location = locate(
            DRIVER,
            DRIVER_TEXT,
            "spin_unlock_irqrestore(&vb_dev_info->pages_lock, flags);\n\tballoon",
            0,
        );
        assert_ne!(f.location.line, f.location.end_line);
        let out = render(&report);
        assert!(
            out.starts_with(
                "::notice file=drivers/virtio/virtio_balloon.c,line=12,endLine=13,title="
            ),
            "{out}"
        );
        assert!(!out.contains("col="), "{out}");
        assert!(!out.contains("endColumn="), "{out}");
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_data("100% a:b,c\r\nd"), "100%25 a:b,c%0D%0Ad");
        assert_eq!(
            escape_property("100% a:b,c\r\nd"),
            "100%25 a%3Ab%2Cc%0D%0Ad"
        );
        // `%` is escaped first, so escapes are not double-escaped.
        assert_eq!(escape_property("%3A:"), "%253A%3A");

        let mut report = sample_report();
        report.findings.truncate(1);
        let f = &mut report.findings[0];
        f.rule = "odd:rule,id".into();
        f.location.file = "dir,x/a:b.c".into();
        f.message = "50% of paths: held,\nothers not".into();
        assert_eq!(
            render(&report),
            "::error file=dir%2Cx/a%3Ab.c,line=13,endLine=13,col=2,endColumn=29,title=odd%3Arule%2Cid::50%25 of paths: held,%0Aothers not\n"
        );
    }
}
