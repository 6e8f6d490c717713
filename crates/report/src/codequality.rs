//! The `codequality` format: a GitLab Code Quality report, a JSON array of
//! issues that GitLab shows in merge requests.
//!
//! Severities map to GitLab's scale: error → `major`, warning → `minor`,
//! note → `info`. GitLab needs fingerprints unique within a report; run
//! [`dedup_fingerprints`](crate::dedup_fingerprints) first.

use serde::Serialize;

use crate::finding::Severity;
use crate::report::Report;

#[derive(Serialize)]
struct Issue<'a> {
    description: &'a str,
    check_name: &'a str,
    fingerprint: &'a str,
    severity: &'static str,
    location: IssueLocation<'a>,
}

#[derive(Serialize)]
struct IssueLocation<'a> {
    path: &'a str,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: u32,
    end: u32,
}

pub(crate) fn render(report: &Report) -> String {
    let issues: Vec<Issue<'_>> = report
        .findings
        .iter()
        .map(|f| Issue {
            description: &f.message,
            check_name: &f.rule,
            fingerprint: &f.fingerprint,
            severity: match f.severity {
                Severity::Error => "major",
                Severity::Warning => "minor",
                Severity::Note => "info",
            },
            location: IssueLocation {
                path: &f.location.file,
                lines: Lines {
                    begin: f.location.line,
                    end: f.location.end_line,
                },
            },
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&issues).expect("plain structs serialize");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use serde_json::{json, Value};

    #[test]
    fn gitlab_issue_shape() {
        let mut report = sample_report();
        report.findings[1].severity = Severity::Note;
        let v: Value = serde_json::from_str(&render(&report)).unwrap();
        assert_eq!(
            v[0],
            json!({
                "description": report.findings[0].message,
                "check_name": "balloon/page-private-needs-lock",
                "fingerprint": report.findings[0].fingerprint,
                "severity": "major",
                "location": {"path": DRIVER, "lines": {"begin": 13, "end": 13}},
            })
        );
        assert_eq!(v[1]["severity"], "info");
        report.findings[1].severity = Severity::Warning;
        let v: Value = serde_json::from_str(&render(&report)).unwrap();
        assert_eq!(v[1]["severity"], "minor");
        assert_eq!(v.as_array().unwrap().len(), 2);
    }

    #[test]
    fn empty_is_an_empty_array() {
        let mut report = sample_report();
        report.findings.clear();
        assert_eq!(render(&report), "[]\n");
    }
}
