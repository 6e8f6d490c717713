//! Findings as plain values: [`Severity`], [`Location`], [`Label`] and
//! [`Finding`], plus [`LineIndex`] for turning byte offsets into lines and
//! columns.
//!
//! Conventions (SPEC.md §2): files are relative to the tree root with `/`
//! separators; lines and columns are 1-based and columns count bytes. A
//! location covers the byte range `start..end`; `end_line`/`end_column` are the
//! position of `end` itself, i.e. one past the last byte (exclusive, as in
//! SARIF).

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::fingerprint::{fingerprint, primary_line_text};

/// How bad a finding is. Ordered from most to least severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    /// All severities, most severe first.
    pub const ALL: [Severity; 3] = [Severity::Error, Severity::Warning, Severity::Note];

    /// The lowercase name used in every output format: `error`, `warning`, `note`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A byte range in a file, with its line/column form precomputed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    /// Path relative to the tree root, `/` separators.
    pub file: String,
    /// Byte offset of the first byte.
    pub start: u32,
    /// Byte offset one past the last byte.
    pub end: u32,
    /// 1-based line of `start`.
    pub line: u32,
    /// 1-based byte column of `start`.
    pub column: u32,
    /// 1-based line of `end`.
    pub end_line: u32,
    /// 1-based byte column of `end` (exclusive end).
    pub end_column: u32,
}

impl Location {
    /// The location of `start..end` in `text`, the contents of `file`.
    ///
    /// Offsets past the end of `text` are clamped to it, and `end < start` is
    /// treated as an empty range at `start`. Lines are counted by `\n`.
    /// For many locations in one file, build a [`LineIndex`] once instead.
    pub fn from_offsets(file: impl Into<String>, text: &[u8], start: u32, end: u32) -> Location {
        let (start, end) = clamp_range(text, start, end);
        let (line, column) = line_col_scan(text, 0, 1, 1, start);
        let (end_line, end_column) = line_col_scan(text, start, line, column, end);
        Location {
            file: file.into(),
            start,
            end,
            line,
            column,
            end_line,
            end_column,
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> u32 {
        self.end.saturating_sub(self.start)
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Whether the location starts and ends on the same line.
    pub fn is_single_line(&self) -> bool {
        self.line == self.end_line
    }
}

impl fmt::Display for Location {
    /// `file:line:column`, the form compilers print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

fn clamp_range(text: &[u8], start: u32, end: u32) -> (u32, u32) {
    let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
    let start = start.min(len);
    let end = end.clamp(start, len);
    (start, end)
}

/// Advances (line, column) from byte `from` (at `line`:`column`) to byte `to`.
fn line_col_scan(text: &[u8], from: u32, line: u32, column: u32, to: u32) -> (u32, u32) {
    let chunk = &text[from as usize..to as usize];
    match chunk.iter().rposition(|&b| b == b'\n') {
        None => (line, column + (to - from)),
        Some(last_nl) => {
            let newlines = chunk.iter().filter(|&&b| b == b'\n').count() as u32;
            (line + newlines, (chunk.len() - last_nl) as u32)
        }
    }
}

/// Line starts of one file, for converting many offsets cheaply.
#[derive(Clone, Debug)]
pub struct LineIndex {
    line_starts: Vec<u32>,
    len: u32,
}

impl LineIndex {
    /// Indexes the lines of `text` (split at `\n`).
    pub fn new(text: &[u8]) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.iter()
                .enumerate()
                .filter(|&(_, &b)| b == b'\n')
                .map(|(i, _)| i as u32 + 1),
        );
        LineIndex {
            line_starts,
            len: u32::try_from(text.len()).unwrap_or(u32::MAX),
        }
    }

    /// 1-based (line, byte column) of `offset`, clamped to the text.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        let offset = offset.min(self.len);
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        (line as u32 + 1, offset - self.line_starts[line] + 1)
    }

    /// The location of `start..end` in the indexed text; same clamping rules
    /// as [`Location::from_offsets`].
    pub fn location(&self, file: impl Into<String>, start: u32, end: u32) -> Location {
        let start = start.min(self.len);
        let end = end.clamp(start, self.len);
        let (line, column) = self.line_col(start);
        let (end_line, end_column) = self.line_col(end);
        Location {
            file: file.into(),
            start,
            end,
            line,
            column,
            end_line,
            end_column,
        }
    }
}

/// A secondary span with a short message: "lock taken here", "called here"…
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Label {
    pub location: Location,
    pub message: String,
}

impl Label {
    pub fn new(location: Location, message: impl Into<String>) -> Label {
        Label {
            location,
            message: message.into(),
        }
    }
}

/// One reported problem.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Finding {
    /// Rule id, e.g. `lock/double-acquire`.
    pub rule: String,
    pub severity: Severity,
    /// The primary span.
    pub location: Location,
    /// The function containing the primary location; `""` at file scope.
    pub function: String,
    /// One sentence, no trailing period, no line numbers.
    pub message: String,
    /// How to fix it, if there is something useful to say.
    pub help: Option<String>,
    /// Secondary labels, in any file.
    pub labels: Vec<Label>,
    /// The evidence chain, in order (SPEC.md §2 `trace`).
    pub trace: Vec<Label>,
    /// Stable identity across unrelated edits; see [`fingerprint`].
    pub fingerprint: String,
}

impl Finding {
    /// A finding at `location`, whose file contents are `source`.
    ///
    /// The fingerprint is computed here from the rule, file, function, message
    /// and the text of the source line containing `location.start`.
    pub fn new(
        rule: impl Into<String>,
        severity: Severity,
        location: Location,
        function: impl Into<String>,
        message: impl Into<String>,
        source: &[u8],
    ) -> Finding {
        let text = primary_line_text(source, location.start);
        Finding::from_occurrence(rule, severity, location, function, message, &text)
    }

    /// Like [`Finding::new`], for a caller that has only the text of the
    /// primary line (`occurrence_text`, trimmed here) rather than the file.
    pub fn from_occurrence(
        rule: impl Into<String>,
        severity: Severity,
        location: Location,
        function: impl Into<String>,
        message: impl Into<String>,
        occurrence_text: &str,
    ) -> Finding {
        let rule = rule.into();
        let function = function.into();
        let message = message.into();
        let fingerprint = fingerprint(&rule, &location.file, &function, &message, occurrence_text);
        Finding {
            rule,
            severity,
            location,
            function,
            message,
            help: None,
            labels: Vec::new(),
            trace: Vec::new(),
            fingerprint,
        }
    }

    /// Says what the finding is about (the lock, `zone->lock`), which then
    /// stands for the message in the fingerprint: rewording a message keeps
    /// every baseline. `source` is the file's contents, as for
    /// [`Finding::new`].
    pub fn about(self, subject: &str, source: &[u8]) -> Finding {
        let text = primary_line_text(source, self.location.start);
        self.about_occurrence(subject, &text)
    }

    /// Like [`Finding::about`], for a caller that has only the text of the
    /// primary line, as for [`Finding::from_occurrence`].
    pub fn about_occurrence(mut self, subject: &str, occurrence_text: &str) -> Finding {
        self.fingerprint = fingerprint(
            &self.rule,
            &self.location.file,
            &self.function,
            subject,
            occurrence_text,
        );
        self
    }

    /// Sets the help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Finding {
        self.help = Some(help.into());
        self
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, location: Location, message: impl Into<String>) -> Finding {
        self.labels.push(Label::new(location, message));
        self
    }

    /// Appends a step to the evidence chain.
    pub fn with_trace_step(mut self, location: Location, message: impl Into<String>) -> Finding {
        self.trace.push(Label::new(location, message));
        self
    }

    /// The evidence to show beside the primary span, each piece once: the
    /// trace steps in order, then the labels that are not also a step (the
    /// `lock/*` rules give each spot as both, for SARIF's `codeFlows` and
    /// `relatedLocations`).
    pub fn evidence(&self) -> impl Iterator<Item = Evidence<'_>> {
        let steps = self.trace.iter().enumerate().map(|(i, label)| Evidence {
            label,
            step: Some(i + 1),
        });
        let labels = self
            .labels
            .iter()
            .filter(|l| !self.trace.contains(l))
            .map(|label| Evidence { label, step: None });
        steps.chain(labels)
    }
}

/// One piece of a finding's evidence, from [`Finding::evidence`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evidence<'a> {
    pub label: &'a Label,
    /// Its 1-based position in the trace; `None` for a label.
    pub step: Option<usize>,
}

/// Sorts findings into the canonical output order: by file, position, rule,
/// then message. Analysis may run in parallel; sort before
/// [`dedup_fingerprints`](crate::dedup_fingerprints) and rendering so that
/// output and fingerprints are deterministic.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(compare_findings);
}

fn compare_findings(a: &Finding, b: &Finding) -> Ordering {
    (&a.location.file, a.location.start, a.location.end)
        .cmp(&(&b.location.file, b.location.start, b.location.end))
        .then_with(|| a.rule.cmp(&b.rule))
        .then_with(|| a.severity.cmp(&b.severity))
        .then_with(|| a.function.cmp(&b.function))
        .then_with(|| a.message.cmp(&b.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &[u8] = b"int x;\n\tspin_lock(&l);\n\n";

    #[test]
    fn a_finding_about_a_lock_keeps_its_fingerprint_when_reworded() {
        let source = b"void f(void)\n{\n\tspin_lock(&z->lock);\n}\n";
        let loc = Location::from_offsets("a.c".to_owned(), source, 15, 34);
        let first = Finding::new(
            "lock/double-acquire",
            Severity::Error,
            loc.clone(),
            "f",
            "`z->lock` is acquired while already held",
            source,
        )
        .about("z->lock", source);
        let reworded = Finding::new(
            "lock/double-acquire",
            Severity::Error,
            loc.clone(),
            "f",
            "second acquire of `z->lock` on a path that holds it",
            source,
        )
        .about("z->lock", source);
        assert_eq!(first.fingerprint, reworded.fingerprint);
        let other_lock = Finding::new(
            "lock/double-acquire",
            Severity::Error,
            loc,
            "f",
            "m",
            source,
        )
        .about("z->other", source);
        assert_ne!(first.fingerprint, other_lock.fingerprint);
        // The same from the primary line's text alone (suppression notes).
        let line = "\tspin_lock(&z->lock);";
        let from_line = Finding::from_occurrence(
            "lock/double-acquire",
            Severity::Error,
            first.location.clone(),
            "f",
            "yet another wording",
            line,
        )
        .about_occurrence("z->lock", line);
        assert_eq!(from_line.fingerprint, first.fingerprint);
    }

    #[test]
    fn severity_names() {
        let names: Vec<String> = Severity::ALL.iter().map(|s| s.to_string()).collect();
        assert_eq!(names, ["error", "warning", "note"]);
        assert_eq!(
            serde_json::to_string(&Severity::Warning).unwrap(),
            "\"warning\""
        );
        let back: Severity = serde_json::from_str("\"note\"").unwrap();
        assert_eq!(back, Severity::Note);
    }

    #[test]
    fn from_offsets_first_line() {
        let loc = Location::from_offsets("a.c", TEXT, 0, 3);
        assert_eq!(
            (loc.line, loc.column, loc.end_line, loc.end_column),
            (1, 1, 1, 4)
        );
        assert_eq!(loc.to_string(), "a.c:1:1");
    }

    #[test]
    fn from_offsets_later_line_counts_bytes() {
        // "\tspin_lock(&l)" — the tab is one byte, so spin_lock is column 2.
        let start = 8;
        let end = start + "spin_lock(&l)".len() as u32;
        let loc = Location::from_offsets("a.c", TEXT, start, end);
        assert_eq!(
            (loc.line, loc.column, loc.end_line, loc.end_column),
            (2, 2, 2, 15)
        );
        assert!(loc.is_single_line());
        assert_eq!(loc.len(), 13);
    }

    #[test]
    fn from_offsets_multi_line_and_clamping() {
        let loc = Location::from_offsets("a.c", TEXT, 4, 10);
        assert_eq!(
            (loc.line, loc.column, loc.end_line, loc.end_column),
            (1, 5, 2, 4)
        );
        let loc = Location::from_offsets("a.c", TEXT, 500, 7);
        assert_eq!(loc.start, TEXT.len() as u32);
        assert_eq!(loc.end, loc.start);
        assert_eq!((loc.line, loc.column), (4, 1));
        let loc = Location::from_offsets("a.c", TEXT, 9, 2);
        assert_eq!((loc.start, loc.end), (9, 9));
    }

    #[test]
    fn line_index_agrees_with_from_offsets() {
        let index = LineIndex::new(TEXT);
        for start in 0..=TEXT.len() as u32 + 2 {
            for end in start..=TEXT.len() as u32 + 2 {
                assert_eq!(
                    index.location("a.c", start, end),
                    Location::from_offsets("a.c", TEXT, start, end),
                    "{start}..{end}"
                );
            }
        }
    }

    #[test]
    fn builders_fill_fields() {
        let loc = Location::from_offsets("a.c", TEXT, 8, 21);
        let f = Finding::new("lock/x", Severity::Error, loc.clone(), "f", "msg", TEXT)
            .with_help("do this")
            .with_label(loc.clone(), "label")
            .with_trace_step(loc.clone(), "step 1")
            .with_trace_step(loc, "step 2");
        assert_eq!(f.help.as_deref(), Some("do this"));
        assert_eq!(f.labels.len(), 1);
        let steps: Vec<&str> = f.trace.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(steps, ["step 1", "step 2"]);
        assert_eq!(
            f.fingerprint,
            fingerprint("lock/x", "a.c", "f", "msg", "spin_lock(&l);")
        );
    }

    #[test]
    fn evidence_is_the_trace_then_the_labels_not_in_it() {
        let at = |start| Location::from_offsets("a.c", TEXT, start, start + 1);
        let f = Finding::new("lock/x", Severity::Error, at(8), "f", "msg", TEXT)
            .with_label(at(0), "taken here")
            .with_trace_step(at(0), "taken here")
            .with_label(at(9), "only a label")
            .with_trace_step(at(10), "released here");
        let shown: Vec<(&str, Option<usize>)> = f
            .evidence()
            .map(|e| (e.label.message.as_str(), e.step))
            .collect();
        assert_eq!(
            shown,
            [
                ("taken here", Some(1)),
                ("released here", Some(2)),
                ("only a label", None),
            ]
        );
    }

    #[test]
    fn sort_is_by_file_then_position() {
        let mk = |file: &str, start: u32, rule: &str| {
            let loc = Location::from_offsets(file, TEXT, start, start + 1);
            Finding::new(rule, Severity::Warning, loc, "", "m", TEXT)
        };
        let mut v = vec![
            mk("b.c", 0, "r"),
            mk("a.c", 8, "r"),
            mk("a.c", 0, "z"),
            mk("a.c", 0, "a"),
        ];
        sort_findings(&mut v);
        let got: Vec<(String, u32, String)> = v
            .iter()
            .map(|f| (f.location.file.clone(), f.location.start, f.rule.clone()))
            .collect();
        assert_eq!(
            got,
            [
                ("a.c".into(), 0, "a".into()),
                ("a.c".into(), 0, "z".into()),
                ("a.c".into(), 8, "r".into()),
                ("b.c".into(), 0, "r".into()),
            ]
        );
    }
}
