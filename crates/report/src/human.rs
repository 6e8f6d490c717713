//! The `human` format: each finding as a miette graphical diagnostic with
//! source snippets, then one summary line.
//!
//! Rendering is deterministic for given [`RenderOptions`] (unicode, the
//! width given, colour only when asked, tab width 8 as in kernel style), so
//! tests compare it as plain text; the CLI decides width and colour from
//! the terminal. A finding becomes a [`FindingDiagnostic`], built in one
//! place ([`FindingDiagnostic::new`]): code = rule id, the primary label on
//! the finding's span, its evidence ([`Finding::evidence`]) in the same file
//! as further labels (trace steps numbered when there are several), and
//! evidence in other files as advice diagnostics rendered right after it
//! (`☞ message` and their own snippet, or `☞ file:line:col: message` when
//! that file's source is unavailable). Source lines far from every label
//! are elided ([`elide_far_from_labels`]): a long function shows its
//! labelled lines with a little context, not every line between them.
//! Without the primary file's source the finding falls back to its gcc
//! lines. Paths are printed from the directory the command was run in
//! ([`PathDisplay`]).

use std::borrow::Cow;
use std::fmt::{self, Write};

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};

use crate::finding::{Finding, Location};
use crate::format::RenderOptions;
use crate::gcc;
use crate::paths::PathDisplay;
use crate::report::{Report, SourceProvider, Summary, Unanalysed};

/// Narrower than this and the snippets become unreadable; textwrap also
/// misbehaves near zero.
const MIN_WIDTH: usize = 40;

pub(crate) fn render(
    report: &Report,
    sources: &dyn SourceProvider,
    options: &RenderOptions,
) -> String {
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width.max(MIN_WIDTH))
        .tab_width(8)
        .with_links(false)
        .without_syntax_highlighting();
    let mut out = String::new();
    for finding in &report.findings {
        out.push_str(&render_finding(&handler, finding, sources, &options.paths));
        out.push('\n');
    }
    for u in &report.summary.incomplete {
        out.push_str(&unanalysed_line(u, &options.paths));
        out.push('\n');
    }
    out.push_str(&summary_line(&report.summary));
    out.push('\n');
    out
}

/// `file:line: note: f() not fully analysed (reason): …`, one line each.
fn unanalysed_line(u: &Unanalysed, paths: &PathDisplay) -> String {
    let what = if u.function.is_empty() {
        "file".to_owned()
    } else {
        format!("{}()", u.function)
    };
    format!(
        "{}:{}: note: {what} not fully analysed ({}): findings in it may be missing",
        paths.show(&u.file),
        u.line,
        u.reason
    )
}

/// One finding: miette's rendering, or the plain fallback when the primary
/// source is missing or miette cannot render it.
fn render_finding(
    handler: &GraphicalReportHandler,
    finding: &Finding,
    sources: &dyn SourceProvider,
    paths: &PathDisplay,
) -> String {
    if let Some(diagnostic) = FindingDiagnostic::new(finding, sources, paths) {
        let mut out = String::new();
        if diagnostic.render(handler, &mut out).is_ok() {
            return trim_line_ends(&elide_far_from_labels(&out));
        }
    }
    fallback(finding, paths)
}

/// `text` without trailing spaces on any line (miette pads empty source lines).
fn trim_line_ends(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The finding's gcc lines (its line and a `note:` line per piece of
/// evidence), then help.
fn fallback(finding: &Finding, paths: &PathDisplay) -> String {
    let mut out = gcc::lines(finding, paths);
    if let Some(help) = &finding.help {
        let _ = writeln!(out, "  help: {help}");
    }
    out
}

/// `--statistics`: how many findings each rule reported, most first, then
/// the summary line (as ruff's `--statistics`).
pub fn statistics(report: &Report) -> String {
    let mut counts: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for f in &report.findings {
        *counts
            .entry((f.rule.as_str(), f.severity.as_str()))
            .or_default() += 1;
    }
    let mut rows: Vec<((&str, &str), usize)> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let width = rows
        .iter()
        .map(|((rule, _), _)| rule.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for ((rule, severity), n) in rows {
        let _ = writeln!(out, "{n:>6}  {rule:<width$}  {severity}");
    }
    out.push_str(&summary_line(&report.summary));
    out.push('\n');
    out
}

/// `N findings in F files (M functions, K with parse errors[, J not fully
/// analysed]) in T ms`.
pub fn summary_line(s: &Summary) -> String {
    let incomplete = if s.incomplete.is_empty() {
        String::new()
    } else {
        format!(", {} not fully analysed", s.incomplete.len())
    };
    format!(
        "{} in {} ({}, {} with parse errors{incomplete}) in {} ms",
        plural(s.findings, "finding"),
        plural(s.files, "file"),
        plural(s.functions, "function"),
        s.functions_with_parse_errors,
        s.elapsed_ms
    )
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The finding's evidence, each piece with the text it is shown with:
/// trace steps numbered when there are several.
fn secondary_texts(finding: &Finding) -> impl Iterator<Item = (String, &Location)> {
    let numbered = finding.trace.len() > 1;
    finding.evidence().map(move |e| {
        let text = match e.step {
            Some(n) if numbered => format!("{n}. {}", e.label.message),
            _ => e.label.message.clone(),
        };
        (text, &e.label.location)
    })
}

/// Source lines kept on either side of a labelled line.
const CONTEXT_AROUND_LABELS: usize = 2;

/// The fewest source lines elided at once: one `⋮` line in place of one or
/// two source lines would hide them and save nothing.
const FEWEST_ELIDED: usize = 3;

/// miette's rendering of a diagnostic with the source lines far from every
/// label cut out: each run of at least [`FEWEST_ELIDED`] source lines more
/// than [`CONTEXT_AROUND_LABELS`] lines from a labelled one becomes one `⋮`
/// line under the gutter's bar. (miette shows every line from the first
/// label to the last: a lock taken at the top of a 100-line function and a
/// return at its bottom would print it whole.)
///
/// It reads miette's layout: a source line is ` 123 │ text`, a label line
/// under it `     · ───┬───`, and a labelled source line is one followed by
/// a label line or starting a multi-line label (`▶`). Colour codes are
/// ignored when reading the lines and kept in the output.
fn elide_far_from_labels(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let rows: Vec<Row> = lines.iter().map(|l| Row::of(l)).collect();
    let mut keep = vec![true; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        // One snippet's body: consecutive source and label lines.
        let start = i;
        while i < lines.len() && rows[i] != Row::Other {
            i += 1;
        }
        if i == start {
            i += 1;
            continue;
        }
        let source: Vec<usize> = (start..i)
            .filter(|&j| matches!(rows[j], Row::Source { .. }))
            .collect();
        let labelled: Vec<usize> = source
            .iter()
            .enumerate()
            .filter(|&(_, &j)| {
                rows.get(j + 1) == Some(&Row::Label) || strip_ansi(lines[j]).contains('▶')
            })
            .map(|(n, _)| n)
            .collect();
        if labelled.is_empty() {
            continue;
        }
        for (n, &j) in source.iter().enumerate() {
            keep[j] = labelled
                .iter()
                .any(|&l| l.abs_diff(n) <= CONTEXT_AROUND_LABELS);
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut j = 0;
    while j < lines.len() {
        let run = (j..lines.len()).take_while(|&k| !keep[k]).count();
        if run >= FEWEST_ELIDED {
            if let Row::Source { bar_column } = rows[j] {
                let _ = writeln!(out, "{}⋮", " ".repeat(bar_column));
            }
            j += run;
            continue;
        }
        // Too short to elide (or kept): shown as they are.
        for line in &lines[j..j + run.max(1)] {
            out.push_str(line);
            out.push('\n');
        }
        j += run.max(1);
    }
    // `split` gave one more (empty) line after the last newline.
    out.truncate(out.len().saturating_sub(1));
    out
}

/// What a line of miette's rendering is, as [`elide_far_from_labels`]
/// reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Row {
    /// ` 123 │ text`; the bar is this many columns in.
    Source { bar_column: usize },
    /// `     · ───┬───` or a label's text under it.
    Label,
    /// Anything else: headers, messages, help, the box's ends.
    Other,
}

impl Row {
    fn of(line: &str) -> Row {
        let plain = strip_ansi(line);
        let text = plain.trim_start_matches(' ');
        let indent = plain.len() - text.len();
        if text.starts_with('·') {
            return Row::Label;
        }
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && text[digits..].starts_with(" │") {
            Row::Source {
                bar_column: indent + digits + 1,
            }
        } else {
            Row::Other
        }
    }
}

/// `line` without ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(line: &str) -> Cow<'_, str> {
    if !line.contains('\x1b') {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A finding (or one of its other-file steps) as a miette diagnostic.
#[derive(Debug)]
pub(crate) struct FindingDiagnostic<'a> {
    code: Option<&'a str>,
    severity: miette::Severity,
    message: String,
    help: Option<&'a str>,
    source: Option<FileSource<'a>>,
    labels: Vec<LabeledSpan>,
    /// Steps and labels in other files, rendered after this diagnostic.
    /// (miette's own `related()` rendering prefixes an `Advice:` line, or
    /// nests them under the help text; standalone advice reads better.)
    elsewhere: Vec<FindingDiagnostic<'a>>,
}

impl<'a> FindingDiagnostic<'a> {
    /// The diagnostic for `finding`, or `None` when the source of its primary
    /// file is unavailable or does not contain the primary span.
    pub(crate) fn new(
        finding: &'a Finding,
        sources: &'a dyn SourceProvider,
        paths: &PathDisplay,
    ) -> Option<Self> {
        let source = FileSource::load(sources, &finding.location, paths)?;
        // The primary label says what happens there, when a piece of the
        // evidence sits on it ("returns with `l` held here").
        let at_primary = secondary_texts(finding).find(|(_, loc)| *loc == &finding.location);
        let what = at_primary
            .as_ref()
            .map_or_else(|| "here".to_owned(), |(text, _)| text.clone());
        let primary_text = if finding.function.is_empty() {
            what
        } else {
            format!("{what}, in {}()", finding.function)
        };
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            Some(primary_text),
            span(&finding.location),
        )];
        let mut elsewhere = Vec::new();
        let mut merged = at_primary.is_some();
        for (text, loc) in secondary_texts(finding) {
            if merged && loc == &finding.location {
                merged = false;
                continue;
            }
            if loc.file == finding.location.file && source.contains(loc) {
                labels.push(LabeledSpan::new_with_span(Some(text), span(loc)));
            } else {
                elsewhere.push(FindingDiagnostic::elsewhere(text, loc, sources, paths));
            }
        }
        // Help comes last, after the steps in other files, as in rustc.
        let mut help = finding.help.as_deref();
        if let Some(last) = elsewhere.last_mut() {
            last.help = help.take();
        }
        Some(FindingDiagnostic {
            code: Some(&finding.rule),
            severity: match finding.severity {
                crate::Severity::Error => miette::Severity::Error,
                crate::Severity::Warning => miette::Severity::Warning,
                crate::Severity::Note => miette::Severity::Advice,
            },
            message: finding.message.clone(),
            help,
            source: Some(source),
            labels,
            elsewhere,
        })
    }

    /// A step or label outside the primary file: its own snippet when its
    /// source is available, else a `file:line:col: message` line.
    fn elsewhere(
        text: String,
        loc: &'a Location,
        sources: &'a dyn SourceProvider,
        paths: &PathDisplay,
    ) -> Self {
        let (message, source, labels) = match FileSource::load(sources, loc, paths) {
            Some(source) => (
                text,
                Some(source),
                vec![LabeledSpan::new_primary_with_span(None, span(loc))],
            ),
            None => (
                format!("{}: {text}", gcc::position(loc, paths)),
                None,
                Vec::new(),
            ),
        };
        FindingDiagnostic {
            code: None,
            severity: miette::Severity::Advice,
            message,
            help: None,
            source,
            labels,
            elsewhere: Vec::new(),
        }
    }

    /// Renders this diagnostic, then the ones in other files.
    fn render(&self, handler: &GraphicalReportHandler, out: &mut String) -> fmt::Result {
        handler.render_report(out, self)?;
        for other in &self.elsewhere {
            handler.render_report(out, other)?;
        }
        Ok(())
    }
}

fn span(loc: &Location) -> SourceSpan {
    SourceSpan::from((loc.start as usize, loc.len() as usize))
}

impl fmt::Display for FindingDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FindingDiagnostic<'_> {}

impl Diagnostic for FindingDiagnostic<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.code.map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.help.map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
}

/// One file's bytes under its printed path, made safe for miette: invalid
/// UTF-8 bytes and lone `\r` are replaced one-for-one (`?`, space), so every
/// byte offset still points at the same place.
#[derive(Debug)]
struct FileSource<'a> {
    name: String,
    bytes: Cow<'a, [u8]>,
}

impl<'a> FileSource<'a> {
    /// The source of `loc.file`, if available and long enough to hold `loc`.
    fn load(sources: &'a dyn SourceProvider, loc: &Location, paths: &PathDisplay) -> Option<Self> {
        let bytes = sources.source(&loc.file)?;
        let source = FileSource {
            name: paths.show(&loc.file).into_owned(),
            bytes: sanitize(bytes),
        };
        source.contains(loc).then_some(source)
    }

    /// Whether `loc` lies in the file, on lines narrow enough to show with
    /// their context (a generated table on one 70,000-column line is not).
    fn contains(&self, loc: &Location) -> bool {
        loc.start <= loc.end
            && (loc.end as usize) <= self.bytes.len()
            && !too_wide(&self.bytes, loc.start as usize, loc.end as usize)
    }
}

/// The widest source line shown as context; wider lines fall back to the
/// plain rendering.
const MAX_SHOWN_LINE: usize = 1000;

/// Whether a line from three before `start` to three after `end` is wider
/// than [`MAX_SHOWN_LINE`].
fn too_wide(bytes: &[u8], start: usize, end: usize) -> bool {
    let mut from = start;
    for _ in 0..4 {
        match bytes[..from].iter().rposition(|&b| b == b'\n') {
            Some(nl) => from = nl,
            None => {
                from = 0;
                break;
            }
        }
    }
    let mut to = end;
    for _ in 0..4 {
        match bytes[to..].iter().position(|&b| b == b'\n') {
            Some(nl) => to += nl + 1,
            None => {
                to = bytes.len();
                break;
            }
        }
    }
    bytes[from..to.min(bytes.len())]
        .split(|&b| b == b'\n')
        .any(|line| line.len() > MAX_SHOWN_LINE)
}

fn sanitize(bytes: &[u8]) -> Cow<'_, [u8]> {
    let lone_cr = |i: usize| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n');
    let clean = std::str::from_utf8(bytes).is_ok() && !(0..bytes.len()).any(lone_cr);
    if clean {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.extend_from_slice(chunk.valid().as_bytes());
        out.resize(out.len() + chunk.invalid().len(), b'?');
    }
    for i in 0..out.len() {
        if out[i] == b'\r' && out.get(i + 1) != Some(&b'\n') {
            out[i] = b' ';
        }
    }
    Cow::Owned(out)
}

/// The line count [`FileSource`] reports to miette: large enough that any
/// two contexts touch, small enough that adding a line number cannot
/// overflow.
const ONE_SNIPPET_PER_FILE: usize = usize::MAX / 2;

impl SourceCode for FileSource<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let inner =
            self.bytes
                .as_ref()
                .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            // miette reads this only to decide whether two labels' contexts
            // touch and become one snippet, and its own count (the lines
            // from the top of the file) makes that depend on how far down
            // the file they are. Every label of a file goes into one
            // snippet, and `elide_far_from_labels` cuts what lies between.
            ONE_SNIPPET_PER_FILE,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Label;
    use crate::report::NoSources;
    use crate::test_support::*;
    use std::collections::HashMap;

    /// Options of a plain rendering `columns` wide.
    fn width(columns: usize) -> RenderOptions {
        RenderOptions {
            width: columns,
            ..RenderOptions::default()
        }
    }

    #[test]
    fn snapshot() {
        let out = render(&sample_report(), &sample_sources(), &width(80));
        let expected = r#"balloon/page-private-needs-lock

  × balloon_page_finalize() writes page->private, which requires the balloon
  │ pages lock, but it is not held here
    ╭─[drivers/virtio/virtio_balloon.c:13:2]
 11 │         balloon_page_insert(vb_dev_info, newpage);
 12 │         spin_unlock_irqrestore(&vb_dev_info->pages_lock, flags);
    ·         ───────────────────────────┬───────────────────────────
    ·                                    ╰── balloon pages lock released here
 13 │         balloon_page_finalize(page);
    ·         ─────────────┬─────────────
    ·                      ╰── here, in virtballoon_migratepage()
 14 │         return 0;
    ╰────
  ☞ page->private written here (set_page_private)
   ╭─[include/linux/balloon_compaction.h:4:3]
 3 │         if (PageBalloon(page))
 4 │                 set_page_private(page, 0);
   ·                 ─────────────────────────
 5 │ }
   ╰────
  help: call it before spin_unlock_irqrestore(&vb_dev_info->pages_lock, flags)

lock/double-acquire

  ⚠ b->lock is acquired while already held
    ╭─[drivers/virtio/virtio_balloon.c:20:2]
 18 │ {
 19 │         spin_lock(&b->lock);
    ·         ─────────┬─────────
    ·                  ╰── b->lock acquired here
 20 │         spin_lock(&b->lock);
    ·         ─────────┬─────────
    ·                  ╰── here, in fill_balloon()
 21 │ }
    ╰────

2 findings in 2 files (3 functions, 1 with parse errors) in 12 ms
"#;
        assert_eq!(out, expected, "actual:\n{out}");
    }

    #[test]
    fn snapshot_numbered_trace_and_missing_other_source() {
        // A note whose first trace step is in the primary file and whose
        // second is in a header we have no source for; narrower terminal.
        let mut sources = sample_sources();
        sources.remove(HEADER);
        let mut report = sample_report();
        report.findings.truncate(1);
        report.summary.findings = 1;
        let f = &mut report.findings[0];
        f.severity = crate::Severity::Note;
        let taken = locate(
            DRIVER,
            DRIVER_TEXT,
            "spin_lock_irqsave(&vb_dev_info->pages_lock, flags)",
            0,
        );
        f.trace
            .insert(0, Label::new(taken, "balloon pages lock taken here"));
        let out = render(&report, &sources, &width(100));
        let expected = r#"balloon/page-private-needs-lock

  ☞ balloon_page_finalize() writes page->private, which requires the balloon pages lock, but it is
  │ not held here
    ╭─[drivers/virtio/virtio_balloon.c:13:2]
  9 │
 10 │         spin_lock_irqsave(&vb_dev_info->pages_lock, flags);
    ·         ─────────────────────────┬────────────────────────
    ·                                  ╰── 1. balloon pages lock taken here
 11 │         balloon_page_insert(vb_dev_info, newpage);
 12 │         spin_unlock_irqrestore(&vb_dev_info->pages_lock, flags);
    ·         ───────────────────────────┬───────────────────────────
    ·                                    ╰── balloon pages lock released here
 13 │         balloon_page_finalize(page);
    ·         ─────────────┬─────────────
    ·                      ╰── here, in virtballoon_migratepage()
 14 │         return 0;
    ╰────
  ☞ include/linux/balloon_compaction.h:4:3: 2. page->private written here (set_page_private)
  help: call it before spin_unlock_irqrestore(&vb_dev_info->pages_lock, flags)

1 finding in 2 files (3 functions, 1 with parse errors) in 12 ms
"#;
        assert_eq!(out, expected, "actual:\n{out}");
    }

    /// A function whose lock is taken at the top and held at a return 40
    /// lines below, as `lock/*` rules report it: each spot a label and a
    /// trace step.
    fn long_function_report() -> (Report, HashMap<String, Vec<u8>>) {
        let mut text = String::from("int f(struct s *s)\n{\n\tspin_lock(&s->lock);\n");
        for i in 0..40 {
            text.push_str(&format!("\ts->n += {i};\n"));
        }
        text.push_str("\treturn s->n;\n}\n");
        let taken = locate("a.c", &text, "spin_lock(&s->lock)", 0);
        let returns = locate("a.c", &text, "return s->n;", 0);
        let finding = Finding::new(
            "lock/leak-at-exit",
            crate::Severity::Warning,
            returns.clone(),
            "f",
            "`f` returns holding `s->lock`",
            text.as_bytes(),
        )
        .with_label(taken.clone(), "`s->lock` acquired here")
        .with_trace_step(taken, "`s->lock` acquired here")
        .with_label(returns.clone(), "returns with `s->lock` held here")
        .with_trace_step(returns, "returns with `s->lock` held here");
        let report = Report {
            root: "/k".into(),
            findings: vec![finding],
            summary: Summary::default(),
        };
        (
            report,
            HashMap::from([("a.c".to_string(), text.into_bytes())]),
        )
    }

    #[test]
    fn long_functions_are_elided_around_their_labels() {
        let (report, sources) = long_function_report();
        let out = render(&report, &sources, &width(80));
        let expected = r#"lock/leak-at-exit

  ⚠ `f` returns holding `s->lock`
    ╭─[a.c:44:2]
  2 │ {
  3 │         spin_lock(&s->lock);
    ·         ─────────┬─────────
    ·                  ╰── 1. `s->lock` acquired here
  4 │         s->n += 0;
  5 │         s->n += 1;
    ⋮
 42 │         s->n += 38;
 43 │         s->n += 39;
 44 │         return s->n;
    ·         ──────┬─────
    ·               ╰── 2. returns with `s->lock` held here, in f()
 45 │ }
    ╰────

0 findings in 0 files (0 functions, 0 with parse errors) in 0 ms
"#;
        assert_eq!(out, expected, "actual:\n{out}");
    }

    #[test]
    fn short_gaps_between_labels_are_not_elided() {
        let text = "a\n\tb\n\tc\n\td\n\te\n\tf\n\tg\n\th\n";
        let finding = Finding::new(
            "lock/x",
            crate::Severity::Warning,
            locate("t.c", text, "h", 0),
            "",
            "m",
            text.as_bytes(),
        )
        .with_label(locate("t.c", text, "b", 0), "first");
        let report = Report {
            findings: vec![finding],
            ..Report::default()
        };
        let sources = HashMap::from([("t.c".to_string(), text.as_bytes().to_vec())]);
        // Labels on lines 2 and 8: lines 5 and 6 would be the gap, under
        // the least worth eliding, so every line is shown.
        let out = render(&report, &sources, &width(80));
        for line in 1..=8 {
            assert!(out.contains(&format!(" {line} │")), "line {line}:\n{out}");
        }
        assert!(!out.contains('⋮'), "{out}");
    }

    #[test]
    fn colour_only_when_asked_and_elision_reads_through_it() {
        let (report, sources) = long_function_report();
        let plain = render(&report, &sources, &width(80));
        assert!(!plain.contains('\x1b'), "{plain}");
        let coloured = render(
            &report,
            &sources,
            &RenderOptions {
                color: true,
                ..width(80)
            },
        );
        assert!(coloured.contains("\x1b["), "{coloured}");
        assert!(coloured.contains('⋮'), "{coloured}");
        let stripped: String = coloured.lines().map(|l| strip_ansi(l) + "\n").collect();
        assert_eq!(stripped, plain);
    }

    #[test]
    fn paths_are_printed_from_the_directory_of_the_run() {
        let options = RenderOptions {
            paths: PathDisplay::from_dir(
                std::path::Path::new("/k"),
                std::path::Path::new("/k/drivers/virtio"),
            ),
            ..width(80)
        };
        let out = render(&sample_report(), &sample_sources(), &options);
        assert!(out.contains("╭─[virtio_balloon.c:13:2]"), "{out}");
        assert!(
            out.contains("╭─[../../include/linux/balloon_compaction.h:4:3]"),
            "{out}"
        );
        let out = render(&sample_report(), &NoSources, &options);
        assert!(out.starts_with("virtio_balloon.c:13:2: error: "), "{out}");
        let mut report = sample_report();
        report.findings.clear();
        report.summary.incomplete = vec![Unanalysed {
            file: "drivers/virtio/virtio_balloon.c".into(),
            line: 4,
            function: "g".into(),
            reason: "nested too deep".into(),
        }];
        let out = render(&report, &NoSources, &options);
        assert!(out.starts_with("virtio_balloon.c:4: note: g()"), "{out}");
    }

    #[test]
    fn output_has_no_trailing_whitespace() {
        let out = render(&sample_report(), &sample_sources(), &width(80));
        for line in out.lines() {
            assert_eq!(line, line.trim_end());
        }
    }

    #[test]
    fn width_is_respected_and_clamped() {
        let narrow = render(&sample_report(), &sample_sources(), &width(50));
        assert!(
            narrow.contains("  × balloon_page_finalize() writes\n  │ page->private,"),
            "{narrow}"
        );
        // A silly width is clamped rather than producing one word per line.
        assert_eq!(
            render(&sample_report(), &sample_sources(), &width(0)),
            render(&sample_report(), &sample_sources(), &width(MIN_WIDTH))
        );
    }

    #[test]
    fn summary_line_pluralises() {
        let mut s = Summary {
            files: 2,
            functions: 3,
            functions_with_parse_errors: 1,
            findings: 0,
            elapsed_ms: 12,
            incomplete: Vec::new(),
        };
        assert_eq!(
            summary_line(&s),
            "0 findings in 2 files (3 functions, 1 with parse errors) in 12 ms"
        );
        s.findings = 1;
        s.files = 1;
        s.functions = 1;
        assert_eq!(
            summary_line(&s),
            "1 finding in 1 file (1 function, 1 with parse errors) in 12 ms"
        );
    }

    #[test]
    fn no_findings_prints_only_the_summary() {
        let mut report = sample_report();
        report.findings.clear();
        report.summary.findings = 0;
        assert_eq!(
            render(&report, &sample_sources(), &width(80)),
            "0 findings in 2 files (3 functions, 1 with parse errors) in 12 ms\n"
        );
    }

    #[test]
    fn statistics_count_findings_per_rule_most_first() {
        let report = sample_report();
        let out = statistics(&report);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), report.findings.len() + 1, "{out}");
        assert!(lines[0].trim_start().starts_with("1  "), "{out}");
        assert!(
            out.contains("balloon/page-private-needs-lock  error"),
            "{out}"
        );
        assert_eq!(*lines.last().unwrap(), summary_line(&report.summary));
    }

    #[test]
    fn functions_not_fully_analysed_are_named_and_counted() {
        let mut report = sample_report();
        report.findings.clear();
        report.summary.findings = 0;
        report.summary.incomplete = vec![
            Unanalysed {
                file: "drivers/a.c".into(),
                line: 40,
                function: "deep".into(),
                reason: "nested too deep".into(),
            },
            Unanalysed {
                file: "drivers/b.c".into(),
                line: 1,
                function: String::new(),
                reason: "not parsed".into(),
            },
        ];
        assert_eq!(
            render(&report, &sample_sources(), &width(80)),
            "drivers/a.c:40: note: deep() not fully analysed (nested too deep): findings in it may be missing\n\
             drivers/b.c:1: note: file not fully analysed (not parsed): findings in it may be missing\n\
             0 findings in 2 files (3 functions, 1 with parse errors, 2 not fully analysed) in 12 ms\n"
        );
    }

    #[test]
    fn falls_back_to_gcc_lines_without_sources() {
        let out = render(&sample_report(), &NoSources, &width(80));
        let expected = r#"drivers/virtio/virtio_balloon.c:13:2: error: balloon_page_finalize() writes page->private, which requires the balloon pages lock, but it is not held here [balloon/page-private-needs-lock]
include/linux/balloon_compaction.h:4:3: note: page->private written here (set_page_private)
drivers/virtio/virtio_balloon.c:12:2: note: balloon pages lock released here
  help: call it before spin_unlock_irqrestore(&vb_dev_info->pages_lock, flags)

drivers/virtio/virtio_balloon.c:20:2: warning: b->lock is acquired while already held [lock/double-acquire]
drivers/virtio/virtio_balloon.c:19:2: note: b->lock acquired here

2 findings in 2 files (3 functions, 1 with parse errors) in 12 ms
"#;
        assert_eq!(out, expected, "actual:\n{out}");
    }

    #[test]
    fn stale_source_falls_back_instead_of_panicking() {
        let mut sources = HashMap::new();
        sources.insert(DRIVER.to_string(), b"short".to_vec());
        let out = render(&sample_report(), &sources, &width(80));
        assert!(
            out.starts_with("drivers/virtio/virtio_balloon.c:13:2: error: balloon_page_finalize()")
        );
    }

    #[test]
    fn never_panics_on_any_span() {
        // Every span over a text with the awkward cases: multibyte UTF-8,
        // invalid UTF-8, CRLF, a lone CR, tabs, an empty line, no final newline.
        let text: &[u8] = b"a\t\xc3\xa4b\r\n\n\xff\tc\rd\n\te";
        let sources = HashMap::from([("t.c".to_string(), text.to_vec())]);
        let len = text.len() as u32;
        for start in 0..=len {
            for end in start..=len {
                let loc = Location::from_offsets("t.c", text, start, end);
                let finding =
                    Finding::new("r/x", crate::Severity::Error, loc.clone(), "f", "m", text)
                        .with_label(loc.clone(), "label")
                        .with_trace_step(Location::from_offsets("t.c", text, 0, start), "step");
                let report = Report {
                    root: "/".into(),
                    findings: vec![finding],
                    summary: Summary::default(),
                };
                for columns in [0, 80] {
                    let out = render(&report, &sources, &width(columns));
                    assert!(out.contains("r/x"), "{start}..{end}: {out}");
                    // Rendered by miette, not the fallback.
                    assert!(out.contains("╭─[t.c:"), "{start}..{end}: {out}");
                }
            }
        }
        // Empty file, empty span.
        let sources = HashMap::from([("e.c".to_string(), Vec::new())]);
        let loc = Location::from_offsets("e.c", b"", 0, 0);
        let report = Report {
            root: "/".into(),
            findings: vec![Finding::new(
                "r/x",
                crate::Severity::Warning,
                loc,
                "",
                "m",
                b"",
            )],
            summary: Summary::default(),
        };
        assert!(render(&report, &sources, &width(80)).contains("r/x"));
    }

    #[test]
    fn invalid_utf8_and_lone_cr_keep_offsets() {
        assert!(matches!(sanitize(b"ok\r\n"), Cow::Borrowed(_)));
        assert_eq!(sanitize(b"a\xe9b\rc\r\n").as_ref(), b"a?b c\r\n");
        let text = b"/* caf\xe9 */\nvoid f(void)\n{\n\tspin_lock(&l);\n}\n";
        let start = 27;
        assert_eq!(&text[start..start + 9], b"spin_lock");
        let loc = Location::from_offsets("x.c", text, start as u32, start as u32 + 14);
        let finding = Finding::new("lock/r", crate::Severity::Note, loc, "f", "m", text);
        let report = Report {
            root: "/r".into(),
            findings: vec![finding],
            summary: Summary::default(),
        };
        let sources = HashMap::from([("x.c".to_string(), text.to_vec())]);
        let out = render(&report, &sources, &width(80));
        assert!(out.contains("[x.c:4:2]"), "{out}");
        assert!(out.contains("spin_lock(&l);"), "{out}");
    }
}
