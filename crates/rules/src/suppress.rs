//! Inline suppressions (SPEC.md §3), after ruff's `noqa` and RUF100: a C
//! comment `lockwarden: ignore RULE-ID…` silences the findings of those
//! rules where it stands, and is itself reported when it silences nothing.
//!
//! Suppressions are read from comments only, never from string literals or
//! code. The ids follow `ignore` up to the end of the comment's line (or its
//! `*/`), separated by commas or blanks; an id ending in `*` is a prefix
//! (`lock/*`); a word starting with `--` ends the ids and begins a reason.
//! Every id must name a rule of the loaded rule set, and a suppression must
//! name one: [`Suppressions::parse`] refuses the run otherwise
//! ([`BadSuppressions`], a usage error).
//!
//! A suppression covers a finding when it stands on the finding's line or
//! the line above it, on a line the finding labels in the same file (its
//! labels and trace steps) or the line above one, or in the comment block
//! right above the header of the function the finding is in (the whole
//! function). A suppression id that covers no finding of the rules it
//! names, when they all ran, is a `lockwarden/unused-suppression` note.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use lockwarden_flow::analysis::Program;
use lockwarden_report::{primary_line_text, Finding, LineIndex, Location, RuleInfo, Severity};
use lockwarden_syntax::lexer::comments;
use lockwarden_syntax::Span;
use rayon::prelude::*;

/// The rule id of the notes about suppressions that suppress nothing.
pub const UNUSED_ID: &str = "lockwarden/unused-suppression";

/// What starts a suppression in a comment.
const MARKER: &[u8] = b"lockwarden:";
/// The word after [`MARKER`].
const IGNORE: &[u8] = b"ignore";

/// The documentation of `lockwarden/unused-suppression`.
pub fn unused_info() -> RuleInfo {
    RuleInfo {
        id: UNUSED_ID.to_owned(),
        severity: Severity::Note,
        summary: "a `lockwarden: ignore` comment suppresses no finding of the rules it names"
            .to_owned(),
        help: Some(
            "remove the ids that suppress nothing; a suppression covers its own line, the line \
             below it, a line the finding labels and the line below that, or the whole function \
             when it is in the comment right above the function's header"
                .to_owned(),
        ),
        doc: Some(
            "A `lockwarden: ignore RULE-ID` comment names rules that ran and reported\n\
             nothing it covers: the finding it was written for is gone, or was never\n\
             where the comment is. Left in place, it would silence a later finding\n\
             nobody has seen (as ruff's RUF100)."
                .to_owned(),
        ),
        help_uri: Some(
            lockwarden_report::documentation_uri("rules/README.md")
                + "#classes-accesses-scopes-and-rules",
        ),
    }
}

/// A suppression that cannot be honoured: the run stops (exit status 2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadSuppression {
    #[error("{file}:{line}: unknown rule id '{id}' in suppression")]
    UnknownId { file: String, line: u32, id: String },
    #[error("{file}:{line}: suppression names no rule id")]
    NoId { file: String, line: u32 },
}

/// Every bad suppression of a run, in file and line order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadSuppressions(pub Vec<BadSuppression>);

impl fmt::Display for BadSuppressions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, bad) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{bad}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BadSuppressions {}

/// One `lockwarden: ignore …` in a comment.
#[derive(Clone, Debug)]
struct Suppression {
    /// From the marker to the end of the last id.
    location: Location,
    /// The rule ids and prefixes (`lock/*`), as written.
    ids: Vec<String>,
    /// Which of `ids` covered a finding.
    used: Vec<bool>,
    /// The line after the comment's last line: the suppression covers it as
    /// well as its own line.
    line_below: u32,
    /// The line right below the comment block the suppression is in, when
    /// that block stands on lines of its own: a function whose header starts
    /// there is covered whole.
    below_block: Option<u32>,
    /// The trimmed text of the suppression's line, for the fingerprint of
    /// its unused note.
    line_text: String,
}

/// The suppressions of one file, indexed by the lines they cover.
#[derive(Debug)]
struct FileSuppressions {
    lines: LineIndex,
    list: Vec<Suppression>,
    /// Own line and line below → suppressions.
    by_line: HashMap<u32, Vec<usize>>,
    /// Line right below a standalone comment block → its suppressions.
    by_header_line: HashMap<u32, Vec<usize>>,
}

/// The suppressions of every file of a check.
#[derive(Debug, Default)]
pub struct Suppressions {
    by_file: HashMap<String, FileSuppressions>,
    /// The ids of the loaded rules.
    known: Vec<String>,
}

impl Suppressions {
    /// Reads the suppressions of `files` (paths relative to the root,
    /// contents), checking every id against `known`, the ids of the loaded
    /// rules.
    pub fn parse(
        files: &[(PathBuf, Vec<u8>)],
        known: Vec<String>,
    ) -> Result<Suppressions, BadSuppressions> {
        let by_file: HashMap<String, FileSuppressions> = files
            .par_iter()
            .filter(|(_, source)| find(source, MARKER).is_some())
            .filter_map(|(path, source)| {
                let file = path.to_string_lossy().replace('\\', "/");
                let suppressions = FileSuppressions::parse(&file, source)?;
                Some((file, suppressions))
            })
            .collect();
        let mut bad: Vec<BadSuppression> = by_file
            .values()
            .flat_map(|f| &f.list)
            .flat_map(|s| s.problems(&known))
            .collect();
        if !bad.is_empty() {
            bad.sort_by(|a, b| a.position().cmp(&b.position()));
            return Err(BadSuppressions(bad));
        }
        Ok(Suppressions { by_file, known })
    }

    /// Drops the findings a suppression covers, and remembers which
    /// suppression ids covered one. `program` tells where the functions
    /// the findings are in begin.
    pub fn apply(&mut self, findings: &mut Vec<Finding>, program: &Program) {
        if self.by_file.is_empty() {
            return;
        }
        let functions = FunctionSpans::new(program, &self.by_file);
        findings.retain(|f| !self.cover(f, &functions));
    }

    /// A `lockwarden/unused-suppression` note for each suppression, in a
    /// file `program` analysed, with ids that covered no finding although
    /// every rule they name ran (`selected`).
    pub fn unused(&self, program: &Program, selected: &dyn Fn(&str) -> bool) -> Vec<Finding> {
        let analysed: Vec<String> = program
            .files
            .iter()
            .map(|f| f.report_path())
            .filter(|path| self.by_file.contains_key(path))
            .collect();
        let functions = FunctionSpans::new(program, &self.by_file);
        let info = unused_info();
        let mut notes = Vec::new();
        for path in &analysed {
            let Some(file) = self.by_file.get(path) else {
                continue;
            };
            for s in &file.list {
                let unused: Vec<&str> = s
                    .ids
                    .iter()
                    .zip(&s.used)
                    .filter(|&(id, &used)| !used && self.all_ran(id, selected))
                    .map(|(id, _)| id.as_str())
                    .collect();
                if unused.is_empty() {
                    continue;
                }
                let written = format!("lockwarden: ignore {}", s.ids.join(", "));
                let message = if unused.len() == s.ids.len() {
                    format!("`{written}` suppresses nothing here")
                } else {
                    let ids: Vec<String> = unused.iter().map(|id| format!("`{id}`")).collect();
                    format!("{} in `{written}` suppresses nothing here", ids.join(", "))
                };
                let function = functions.innermost(path, s.location.start).unwrap_or("");
                // About the ids that suppress nothing, not the wording.
                let note = Finding::from_occurrence(
                    UNUSED_ID,
                    info.severity,
                    s.location.clone(),
                    function,
                    message,
                    &s.line_text,
                )
                .about_occurrence(&unused.join(" "), &s.line_text);
                notes.push(match &info.help {
                    Some(help) => note.with_help(help.clone()),
                    None => note,
                });
            }
        }
        notes
    }

    /// Whether a suppression covers `finding`; marks the ids that do.
    fn cover(&mut self, finding: &Finding, functions: &FunctionSpans<'_>) -> bool {
        let path = &finding.location.file;
        let Some(file) = self.by_file.get_mut(path) else {
            return false;
        };
        let labelled = finding
            .labels
            .iter()
            .chain(&finding.trace)
            .map(|label| &label.location)
            .filter(|location| location.file == *path);
        let mut candidates: Vec<usize> = std::iter::once(&finding.location)
            .chain(labelled)
            .filter_map(|location| file.by_line.get(&location.line))
            .flatten()
            .copied()
            .collect();
        if let Some(header) = functions.header_of(path, &finding.function, finding.location.start) {
            let line = file.lines.line_col(header).0;
            candidates.extend(file.by_header_line.get(&line).into_iter().flatten());
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut covered = false;
        for i in candidates {
            let s = &mut file.list[i];
            for (id, used) in s.ids.iter().zip(s.used.iter_mut()) {
                if id_matches(id, &finding.rule) {
                    *used = true;
                    covered = true;
                }
            }
        }
        covered
    }

    /// Whether every loaded rule `id` names was selected to run.
    fn all_ran(&self, id: &str, selected: &dyn Fn(&str) -> bool) -> bool {
        self.known
            .iter()
            .filter(|rule| id_matches(id, rule))
            .all(|rule| selected(rule))
    }
}

impl FileSuppressions {
    /// The suppressions in the comments of `source`, the contents of
    /// `file`; `None` when it has none.
    fn parse(file: &str, source: &[u8]) -> Option<FileSuppressions> {
        let lines = LineIndex::new(source);
        let spans = comments(source);
        let below_blocks = lines_below_blocks(source, &spans, &lines);
        let mut list = Vec::new();
        for (span, below_block) in spans.iter().zip(below_blocks) {
            let line_below = lines.line_col(span.end).0 + 1;
            for (at, ids) in in_comment(&source[span.range()]) {
                let start = span.start + at.start;
                list.push(Suppression {
                    location: lines.location(file, start, span.start + at.end),
                    used: vec![false; ids.len()],
                    ids,
                    line_below,
                    below_block,
                    line_text: primary_line_text(source, start),
                });
            }
        }
        if list.is_empty() {
            return None;
        }
        let mut by_line: HashMap<u32, Vec<usize>> = HashMap::new();
        let mut by_header_line: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, s) in list.iter().enumerate() {
            by_line.entry(s.location.line).or_default().push(i);
            if s.line_below != s.location.line {
                by_line.entry(s.line_below).or_default().push(i);
            }
            if let Some(line) = s.below_block {
                by_header_line.entry(line).or_default().push(i);
            }
        }
        Some(FileSuppressions {
            lines,
            list,
            by_line,
            by_header_line,
        })
    }
}

impl Suppression {
    /// What is wrong with this suppression, given the loaded rules' ids.
    fn problems(&self, known: &[String]) -> Vec<BadSuppression> {
        let file = self.location.file.clone();
        let line = self.location.line;
        if self.ids.is_empty() {
            return vec![BadSuppression::NoId { file, line }];
        }
        self.ids
            .iter()
            .filter(|id| !known.iter().any(|rule| id_matches(id, rule)))
            .map(|id| BadSuppression::UnknownId {
                file: file.clone(),
                line,
                id: id.clone(),
            })
            .collect()
    }
}

impl BadSuppression {
    fn position(&self) -> (&str, u32) {
        match self {
            BadSuppression::UnknownId { file, line, .. } | BadSuppression::NoId { file, line } => {
                (file, *line)
            }
        }
    }
}

/// Whether suppression id `id` (an id, or a prefix ending in `*`) names `rule`.
fn id_matches(id: &str, rule: &str) -> bool {
    match id.strip_suffix('*') {
        Some(prefix) => rule.starts_with(prefix),
        None => id == rule,
    }
}

/// The first occurrence of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The suppressions in one comment (`//…` or `/*…*/`, delimiters
/// included): for each, its span relative to the comment (marker to last
/// id) and its ids.
fn in_comment(comment: &[u8]) -> Vec<(Span, Vec<String>)> {
    let body_end = if comment.starts_with(b"/*") && comment.len() >= 4 && comment.ends_with(b"*/") {
        comment.len() - 2
    } else {
        comment.len()
    };
    let body = comment.get(..body_end).unwrap_or_default();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = body.get(from..).and_then(|rest| find(rest, MARKER)) {
        let marker = from + found;
        from = marker + MARKER.len();
        let after_blanks = from
            + body[from..]
                .iter()
                .take_while(|&&b| b == b' ' || b == b'\t')
                .count();
        if !body[after_blanks..].starts_with(IGNORE) {
            continue;
        }
        let ids_start = after_blanks + IGNORE.len();
        let line_end = body[ids_start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| ids_start + i);
        let rest = &body[ids_start..line_end];
        // `ignored`, `ignore-next`: not this marker.
        if rest.first().is_some_and(|&b| !is_separator(b)) {
            continue;
        }
        let words = ids_of(rest);
        let end = words.last().map_or(ids_start, |r| ids_start + r.end);
        let ids = words
            .into_iter()
            .map(|r| String::from_utf8_lossy(&rest[r]).into_owned())
            .collect();
        out.push((Span::new(marker as u32, end as u32), ids));
        from = line_end;
    }
    out
}

/// Separates the ids of a suppression.
fn is_separator(b: u8) -> bool {
    b.is_ascii_whitespace() || b == b','
}

/// The byte ranges of the ids in `text`, up to a word that starts with `--`
/// (the reason).
fn ids_of(text: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if is_separator(text[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len() && !is_separator(text[i]) {
            i += 1;
        }
        if text[start..i].starts_with(b"--") {
            break;
        }
        out.push(start..i);
    }
    out
}

/// For each comment of `spans`, the line right below the block of comments
/// it is part of, when the block stands on lines of its own: its first
/// comment has nothing but blanks before it on its line, each next one
/// starts on the same or the next line, and its last has nothing but
/// blanks after it.
fn lines_below_blocks(source: &[u8], spans: &[Span], lines: &LineIndex) -> Vec<Option<u32>> {
    let blank = |bytes: &mut dyn Iterator<Item = &u8>| {
        bytes
            .take_while(|&&b| b != b'\n')
            .all(u8::is_ascii_whitespace)
    };
    let mut out = vec![None; spans.len()];
    let mut first = 0;
    let mut standalone = false;
    for (i, span) in spans.iter().enumerate() {
        if i == first {
            standalone = blank(&mut source[..span.range().start].iter().rev());
        }
        let continued = spans.get(i + 1).is_some_and(|next| {
            let gap = source.get(span.range().end..next.range().start);
            let breaks = gap.map_or(0, |gap| gap.iter().filter(|&&b| b == b'\n').count());
            gap.is_some_and(|gap| gap.iter().all(u8::is_ascii_whitespace))
                && (breaks == 0 || (breaks == 1 && standalone))
        });
        if continued {
            continue;
        }
        let below = (standalone && blank(&mut source[span.range().end..].iter()))
            .then(|| lines.line_col(span.end).0 + 1);
        out[first..=i].fill(below);
        first = i + 1;
    }
    out
}

/// Where the functions of the files with suppressions are.
struct FunctionSpans<'p> {
    by_file: HashMap<String, Vec<(Span, &'p str)>>,
}

impl<'p> FunctionSpans<'p> {
    fn new(program: &'p Program, files: &HashMap<String, FileSuppressions>) -> FunctionSpans<'p> {
        let paths: HashMap<usize, String> = program
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (i, f.report_path()))
            .filter(|(_, path)| files.contains_key(path))
            .collect();
        let mut by_file: HashMap<String, Vec<(Span, &'p str)>> = HashMap::new();
        for f in &program.functions {
            if let Some(path) = paths.get(&f.file) {
                by_file
                    .entry(path.clone())
                    .or_default()
                    .push((f.span, f.name.as_str()));
            }
        }
        FunctionSpans { by_file }
    }

    /// The functions of `file` containing byte `offset`, innermost first.
    fn containing(&self, file: &str, offset: u32) -> Vec<(Span, &'p str)> {
        let mut found: Vec<(Span, &str)> = self
            .by_file
            .get(file)
            .into_iter()
            .flatten()
            .filter(|(span, _)| span.start <= offset && offset < span.end)
            .copied()
            .collect();
        found.sort_by_key(|(span, _)| span.end - span.start);
        found
    }

    /// Where the header of function `name` of `file` that contains `offset`
    /// starts.
    fn header_of(&self, file: &str, name: &str, offset: u32) -> Option<u32> {
        self.containing(file, offset)
            .into_iter()
            .find(|&(_, n)| n == name)
            .map(|(span, _)| span.start)
    }

    /// The name of the innermost function of `file` containing `offset`.
    fn innermost(&self, file: &str, offset: u32) -> Option<&'p str> {
        self.containing(file, offset).first().map(|&(_, name)| name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids_in(source: &[u8]) -> Vec<Vec<String>> {
        FileSuppressions::parse("a.c", source)
            .map(|f| f.list.into_iter().map(|s| s.ids).collect())
            .unwrap_or_default()
    }

    #[test]
    fn only_comments_hold_suppressions() {
        let src = b"char *s = \"// lockwarden: ignore lock/double-acquire\";\n\
                    char c = '\"'; x = lockwarden: ignore;\n\
                    /* lockwarden: ignore lock/leak-at-exit */\n";
        assert_eq!(ids_in(src), [["lock/leak-at-exit"]]);
    }

    #[test]
    fn ids_are_split_by_commas_and_blanks_up_to_a_reason() {
        let src = b"// lockwarden: ignore lock/a, lock/b  lock/*\n\
                    /* lockwarden:ignore balloon/x -- the caller holds it */\n\
                    /*\n * lockwarden: ignore lock/c\n * lock/not-an-id\n */\n\
                    // lockwarden: ignored lock/d\n";
        assert_eq!(
            ids_in(src),
            [
                vec!["lock/a", "lock/b", "lock/*"],
                vec!["balloon/x"],
                vec!["lock/c"]
            ]
        );
    }

    #[test]
    fn a_bare_marker_and_unknown_ids_are_errors() {
        let known = vec!["lock/double-acquire".to_owned(), "balloon/x".to_owned()];
        let files = vec![(
            PathBuf::from("a.c"),
            b"// lockwarden: ignore\n\n/* lockwarden: ignore lock/double-acquire, lock/dbl, nope/* */\n// lockwarden: ignore lock/*, balloon/x\n"
                .to_vec(),
        )];
        let errors = Suppressions::parse(&files, known).unwrap_err();
        assert_eq!(
            errors.to_string(),
            "a.c:1: suppression names no rule id\n\
             a.c:3: unknown rule id 'lock/dbl' in suppression\n\
             a.c:3: unknown rule id 'nope/*' in suppression"
        );
    }

    #[test]
    fn invalid_utf8_and_odd_bytes_do_not_panic() {
        let src = b"/* lockwarden: ignore lock/\xff\xfe */ \"\xc3\" // lockwarden: ignore\xff\n/*/ lockwarden: ignore";
        let ids = ids_in(src);
        assert_eq!(ids, [vec!["lock/\u{fffd}\u{fffd}".to_owned()], vec![]]);
        for cut in 0..src.len() {
            ids_in(&src[..cut]);
        }
        let files = vec![(PathBuf::from("a.c"), src.to_vec())];
        assert!(Suppressions::parse(&files, vec!["lock/x".to_owned()]).is_err());
    }

    #[test]
    fn a_suppression_covers_its_line_and_the_line_below_its_comment() {
        let src = b"a();\n/* lockwarden: ignore lock/x\n * why\n */\nb(); // lockwarden: ignore lock/y\nc();\n";
        let file = FileSuppressions::parse("a.c", src).unwrap();
        let covers = |line: u32| {
            let mut ids: Vec<&str> = file
                .by_line
                .get(&line)
                .into_iter()
                .flatten()
                .flat_map(|&i| &file.list[i].ids)
                .map(String::as_str)
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(covers(2), ["lock/x"]);
        assert!(covers(3).is_empty());
        assert_eq!(covers(5), ["lock/x", "lock/y"]);
        assert_eq!(covers(6), ["lock/y"]);
    }

    #[test]
    fn a_standalone_comment_block_is_above_the_next_line() {
        let src = b"int x; // lockwarden: ignore lock/a\n\
                    /* doc */\n\
                    // lockwarden: ignore lock/b\n\
                    static int f(void)\n\
                    \n\
                    /* lockwarden: ignore lock/c */\n\
                    \n\
                    int g(void)\n";
        let file = FileSuppressions::parse("a.c", src).unwrap();
        let below: Vec<Option<u32>> = file.list.iter().map(|s| s.below_block).collect();
        assert_eq!(below, [None, Some(4), Some(7)]);
    }

    #[test]
    fn prefixes_match_rule_ids() {
        assert!(id_matches("lock/*", "lock/double-acquire"));
        assert!(id_matches("*", "balloon/x"));
        assert!(id_matches("lock/double-acquire", "lock/double-acquire"));
        assert!(!id_matches("lock/double", "lock/double-acquire"));
        assert!(!id_matches("balloon/*", "lock/double-acquire"));
    }
}
