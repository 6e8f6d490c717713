//! Unified diffs (as `git diff` and `git format-patch` write them): parsing
//! into [`FilePatch`]es and applying them in memory with exact context
//! matching.
//!
//! Applying follows `git apply` without fuzz: every context and removed line
//! of a hunk must match the file byte for byte (a hunk may move by whole
//! lines, the nearest match to the line its header names wins, never before
//! the previous hunk's end). `\ No newline at end of file` is honoured. A
//! path that would leave the tree (absolute, `..`, `.git`) is refused.
//! Binary patches are accepted only for files lockwarden does not read
//! (not `.c`/`.h`); such files are dropped from the in-memory tree.

use std::fmt;

/// One file's part of a patch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilePatch {
    /// Path before (`None`: the file is created).
    pub old_path: Option<String>,
    /// Path after (`None`: the file is deleted).
    pub new_path: Option<String>,
    /// A copy (the old path stays) rather than a rename.
    pub copy: bool,
    /// New mode, when the patch sets one.
    pub new_mode: Option<String>,
    /// A binary patch: contents unknown.
    pub binary: bool,
    pub hunks: Vec<Hunk>,
}

impl FilePatch {
    /// The path this part is about, for messages.
    pub fn name(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or("?")
    }
}

/// One `@@ -a,b +c,d @@` hunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hunk {
    pub old_start: u32,
    pub old_len: u32,
    pub new_start: u32,
    pub new_len: u32,
    /// The `@@ … @@` header line, for messages.
    pub header: String,
    /// Lines: `' '`, `'-'` or `'+'`, and the text with its line terminator
    /// (none for a last line marked `\ No newline at end of file`).
    pub lines: Vec<(u8, Vec<u8>)>,
}

/// A malformed patch: what and where (1-based line in the patch text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} of the diff: {}", self.line, self.message)
    }
}

/// Parses the diff part of a patch (from its first `diff --git` or `---`
/// line). Text after the last hunk that starts with `-- ` (a mail signature)
/// ends it.
pub fn parse(text: &[u8]) -> Result<Vec<FilePatch>, ParseError> {
    let lines: Vec<&[u8]> = split_lines(text);
    let mut files = Vec::new();
    let mut i = 0;
    let err = |line: usize, message: String| ParseError {
        line: line + 1,
        message,
    };
    while i < lines.len() {
        let line = lines[i];
        let text_line = trim_eol(line);
        if text_line.starts_with(b"diff --git ") {
            let mut fp = FilePatch::default();
            let header = String::from_utf8_lossy(&text_line[11..]).into_owned();
            let (a, b) = git_header_paths(&header)
                .ok_or_else(|| err(i, format!("cannot read the paths of `diff --git {header}`")))?;
            fp.old_path = Some(a);
            fp.new_path = Some(b);
            i += 1;
            let mut created = false;
            let mut deleted = false;
            let mut renamed = false;
            // Extended header lines.
            while i < lines.len() {
                let l = String::from_utf8_lossy(trim_eol(lines[i])).into_owned();
                if l.starts_with("--- ") || l.starts_with("@@ ") || l.starts_with("diff --git ") {
                    break;
                }
                if let Some(m) = l.strip_prefix("new file mode ") {
                    created = true;
                    fp.new_mode = Some(m.to_owned());
                } else if l.starts_with("deleted file mode ") {
                    deleted = true;
                } else if let Some(m) = l.strip_prefix("new mode ") {
                    fp.new_mode = Some(m.to_owned());
                } else if l.starts_with("old mode ")
                    || l.starts_with("index ")
                    || l.starts_with("similarity index ")
                    || l.starts_with("dissimilarity index ")
                {
                } else if let Some(p) = l.strip_prefix("rename from ") {
                    renamed = true;
                    fp.old_path = Some(unquote(p));
                } else if let Some(p) = l.strip_prefix("rename to ") {
                    renamed = true;
                    fp.new_path = Some(unquote(p));
                } else if let Some(p) = l.strip_prefix("copy from ") {
                    fp.copy = true;
                    fp.old_path = Some(unquote(p));
                } else if let Some(p) = l.strip_prefix("copy to ") {
                    fp.copy = true;
                    fp.new_path = Some(unquote(p));
                } else if l.starts_with("Binary files ") || l == "GIT binary patch" {
                    fp.binary = true;
                    // Skip the binary payload up to the next file or the end.
                    i += 1;
                    while i < lines.len() && !trim_eol(lines[i]).starts_with(b"diff --git ") {
                        i += 1;
                    }
                    break;
                } else if l.is_empty() {
                } else {
                    return Err(err(i, format!("unexpected line in a diff header: `{l}`")));
                }
                i += 1;
            }
            let _ = renamed;
            if created {
                fp.old_path = None;
            }
            if deleted {
                fp.new_path = None;
            }
            if !fp.binary {
                i = parse_body(&lines, i, &mut fp, true)?;
            }
            files.push(fp);
        } else if text_line.starts_with(b"--- ")
            && lines
                .get(i + 1)
                .is_some_and(|n| trim_eol(n).starts_with(b"+++ "))
        {
            let mut fp = FilePatch::default();
            i = parse_body(&lines, i, &mut fp, false)?;
            files.push(fp);
        } else if files.is_empty()
            || text_line.is_empty()
            || text_line.starts_with(b"base-commit: ")
            || text_line.starts_with(b"prerequisite-patch-id: ")
        {
            // Before the first file, blank lines, and `format-patch --base` trailers.
            i += 1;
        } else if text_line.starts_with(b"-- ") || text_line == b"--" {
            break; // mail signature
        } else {
            return Err(err(
                i,
                format!(
                    "unexpected line between files: `{}`",
                    String::from_utf8_lossy(text_line)
                ),
            ));
        }
    }
    if files.is_empty() {
        return Err(ParseError {
            line: 1,
            message: "no file diff found".into(),
        });
    }
    Ok(files)
}

/// Parses `--- `/`+++ ` lines (if at `i`) and the hunks after them; returns
/// the index of the first line after this file.
fn parse_body(
    lines: &[&[u8]],
    mut i: usize,
    fp: &mut FilePatch,
    git: bool,
) -> Result<usize, ParseError> {
    let err = |line: usize, message: String| ParseError {
        line: line + 1,
        message,
    };
    if i < lines.len() && trim_eol(lines[i]).starts_with(b"--- ") {
        let old = String::from_utf8_lossy(&trim_eol(lines[i])[4..]).into_owned();
        let Some(new_line) = lines
            .get(i + 1)
            .filter(|l| trim_eol(l).starts_with(b"+++ "))
        else {
            return Err(err(i + 1, "a `---` line without a `+++` line".into()));
        };
        let new = String::from_utf8_lossy(&trim_eol(new_line)[4..]).into_owned();
        fp.old_path = side_path(&old, "a/");
        fp.new_path = side_path(&new, "b/");
        if !git && fp.old_path.is_none() && fp.new_path.is_none() {
            return Err(err(i, "both sides of the diff are /dev/null".into()));
        }
        i += 2;
    }
    while i < lines.len() && trim_eol(lines[i]).starts_with(b"@@ ") {
        let header = String::from_utf8_lossy(trim_eol(lines[i])).into_owned();
        let (old_start, old_len, new_start, new_len) = parse_hunk_header(&header)
            .ok_or_else(|| err(i, format!("malformed hunk header `{header}`")))?;
        let hunk_no = fp.hunks.len() + 1;
        let start_line = i;
        i += 1;
        let (mut old_left, mut new_left) = (old_len, new_len);
        let mut body: Vec<(u8, Vec<u8>)> = Vec::new();
        while old_left > 0 || new_left > 0 {
            let Some(&raw) = lines.get(i) else {
                return Err(err(
                    start_line,
                    format!(
                        "hunk {hunk_no} of {} ({header}) ends early: {old_left} old and {new_left} new lines missing",
                        fp.name()
                    ),
                ));
            };
            let (kind, text) = match raw.first() {
                Some(b' ') => (b' ', raw[1..].to_vec()),
                Some(b'-') => (b'-', raw[1..].to_vec()),
                Some(b'+') => (b'+', raw[1..].to_vec()),
                // An empty context line whose space was stripped in transit.
                Some(b'\n') | Some(b'\r') => (b' ', raw.to_vec()),
                Some(b'\\') => {
                    no_newline(&mut body);
                    i += 1;
                    continue;
                }
                _ => {
                    return Err(err(
                        i,
                        format!(
                            "hunk {hunk_no} of {} ({header}): unexpected line `{}`",
                            fp.name(),
                            String::from_utf8_lossy(trim_eol(raw))
                        ),
                    ))
                }
            };
            match kind {
                b' ' => {
                    if old_left == 0 || new_left == 0 {
                        return Err(err(i, format!("hunk {hunk_no} of {} ({header}) has more lines than its header says", fp.name())));
                    }
                    old_left -= 1;
                    new_left -= 1;
                }
                b'-' => {
                    if old_left == 0 {
                        return Err(err(i, format!("hunk {hunk_no} of {} ({header}) removes more lines than its header says", fp.name())));
                    }
                    old_left -= 1;
                }
                _ => {
                    if new_left == 0 {
                        return Err(err(i, format!("hunk {hunk_no} of {} ({header}) adds more lines than its header says", fp.name())));
                    }
                    new_left -= 1;
                }
            }
            body.push((kind, text));
            i += 1;
        }
        if lines.get(i).is_some_and(|l| l.first() == Some(&b'\\')) {
            no_newline(&mut body);
            i += 1;
        }
        fp.hunks.push(Hunk {
            old_start,
            old_len,
            new_start,
            new_len,
            header,
            lines: body,
        });
    }
    if fp.hunks.is_empty() && !git {
        return Err(err(i, format!("no hunk for {}", fp.name())));
    }
    Ok(i)
}

/// `\ No newline at end of file`: the previous line has no terminator.
fn no_newline(body: &mut [(u8, Vec<u8>)]) {
    if let Some((_, text)) = body.last_mut() {
        if text.last() == Some(&b'\n') {
            text.pop();
            if text.last() == Some(&b'\r') {
                text.pop();
            }
        }
    }
}

fn parse_hunk_header(header: &str) -> Option<(u32, u32, u32, u32)> {
    let rest = header.strip_prefix("@@ -")?;
    let (ranges, _) = rest.split_once(" @@")?;
    let (old, new) = ranges.split_once(" +")?;
    let range = |r: &str| -> Option<(u32, u32)> {
        match r.split_once(',') {
            Some((s, l)) => Some((s.parse().ok()?, l.parse().ok()?)),
            None => Some((r.parse().ok()?, 1)),
        }
    };
    let (a, b) = range(old)?;
    let (c, d) = range(new)?;
    Some((a, b, c, d))
}

/// The path of a `---`/`+++` line: `None` for /dev/null; the `a/`/`b/`
/// prefix and a trailing timestamp removed.
fn side_path(raw: &str, prefix: &str) -> Option<String> {
    let raw = if raw.starts_with('"') {
        unquote(raw)
    } else {
        raw.split('\t').next().unwrap_or(raw).to_owned()
    };
    if raw == "/dev/null" {
        return None;
    }
    Some(raw.strip_prefix(prefix).map_or(raw.clone(), str::to_owned))
}

/// The two paths of a `diff --git a/X b/Y` header.
fn git_header_paths(header: &str) -> Option<(String, String)> {
    let strip = |p: String, prefix: &str| p.strip_prefix(prefix).map(str::to_owned).unwrap_or(p);
    if header.starts_with('"') {
        let (a, rest) = take_quoted(header)?;
        let rest = rest.trim_start();
        let b = if rest.starts_with('"') {
            take_quoted(rest)?.0
        } else {
            rest.to_owned()
        };
        return Some((strip(a, "a/"), strip(b, "b/")));
    }
    if let Some(pos) = header.find(" \"") {
        let b = take_quoted(&header[pos + 1..])?.0;
        return Some((strip(header[..pos].to_owned(), "a/"), strip(b, "b/")));
    }
    // Unquoted: `a/X b/X`; with equal names the split is at the middle.
    let bytes = header.len();
    if bytes % 2 == 1
        && header.is_char_boundary(bytes / 2)
        && header.is_char_boundary(bytes / 2 + 1)
    {
        let (a, b) = (&header[..bytes / 2], &header[bytes / 2 + 1..]);
        if a.strip_prefix("a/")
            .is_some_and(|x| Some(x) == b.strip_prefix("b/"))
        {
            return Some((a[2..].to_owned(), b[2..].to_owned()));
        }
    }
    let pos = header.find(" b/")?;
    Some((
        strip(header[..pos].to_owned(), "a/"),
        header[pos + 3..].to_owned(),
    ))
}

/// A C-style quoted string at the start of `s` and the rest after it.
fn take_quoted(s: &str) -> Option<(String, &str)> {
    let bytes = s.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return Some((String::from_utf8_lossy(&out).into_owned(), &s[i + 1..])),
            b'\\' => {
                i += 1;
                let c = *bytes.get(i)?;
                match c {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'v' => out.push(11),
                    b'0'..=b'7' => {
                        let digits = bytes.get(i..i + 3)?;
                        let v = std::str::from_utf8(digits).ok()?;
                        out.push(u8::from_str_radix(v, 8).ok()?);
                        i += 2;
                    }
                    other => out.push(other),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    None
}

/// A path that may be C-quoted.
fn unquote(p: &str) -> String {
    if p.starts_with('"') {
        take_quoted(p).map_or_else(|| p.to_owned(), |(s, _)| s)
    } else {
        p.to_owned()
    }
}

/// `Err(reason)` when `path` would leave the tree or touch `.git`.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("an empty path".into());
    }
    if path.starts_with('/') || path.starts_with('\\') || path.as_bytes().get(1) == Some(&b':') {
        return Err(format!("`{path}` is an absolute path"));
    }
    for part in path.split(['/', '\\']) {
        match part {
            ".." => return Err(format!("`{path}` leaves the tree (`..`)")),
            "" | "." => return Err(format!("`{path}` is not a normal relative path")),
            p if p.eq_ignore_ascii_case(".git") => {
                return Err(format!("`{path}` is inside `.git`"))
            }
            _ => {}
        }
    }
    if path.contains('\0') {
        return Err(format!("`{path}` contains a NUL byte"));
    }
    Ok(())
}

/// Why a hunk did not apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyError {
    /// 1-based hunk number within the file.
    pub hunk: usize,
    pub header: String,
    pub message: String,
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "hunk {} ({}) does not apply: {}",
            self.hunk, self.header, self.message
        )
    }
}

/// `old` (empty for a new file) with every hunk of `fp` applied.
pub fn apply(old: &[u8], fp: &FilePatch) -> Result<Vec<u8>, ApplyError> {
    let lines = split_lines(old);
    let mut out: Vec<u8> = Vec::with_capacity(old.len() + 256);
    let mut cursor = 0usize; // first line of `old` not yet copied
    for (n, hunk) in fp.hunks.iter().enumerate() {
        let expected: Vec<&[u8]> = hunk
            .lines
            .iter()
            .filter(|(k, _)| *k != b'+')
            .map(|(_, t)| t.as_slice())
            .collect();
        let wanted = if hunk.old_len == 0 {
            hunk.old_start as usize
        } else {
            (hunk.old_start as usize).saturating_sub(1)
        };
        let anchored_start = hunk.lines.first().is_some_and(|(k, _)| *k != b' ')
            && hunk.old_start <= 1
            && hunk.old_len > 0;
        let fits = |p: usize| {
            p + expected.len() <= lines.len()
                && lines[p..p + expected.len()]
                    .iter()
                    .zip(&expected)
                    .all(|(a, b)| a == b)
        };
        let found = if anchored_start {
            (cursor == 0 && fits(0)).then_some(0)
        } else {
            nearest(cursor, lines.len(), wanted, fits)
        };
        let Some(at) = found else {
            let mismatch = describe_mismatch(&lines, wanted, &expected);
            return Err(ApplyError {
                hunk: n + 1,
                header: hunk.header.clone(),
                message: mismatch,
            });
        };
        for l in &lines[cursor..at] {
            out.extend_from_slice(l);
        }
        for (k, t) in &hunk.lines {
            if *k != b'-' {
                out.extend_from_slice(t);
            }
        }
        cursor = at + expected.len();
    }
    for l in &lines[cursor..] {
        out.extend_from_slice(l);
    }
    Ok(out)
}

/// The position `p >= min` nearest to `wanted` where `fits(p)`.
fn nearest(min: usize, len: usize, wanted: usize, fits: impl Fn(usize) -> bool) -> Option<usize> {
    let wanted = wanted.max(min);
    for d in 0..=len + 1 {
        let up = wanted + d;
        if up <= len && fits(up) {
            return Some(up);
        }
        if d > 0 && wanted >= d && wanted - d >= min && fits(wanted - d) {
            return Some(wanted - d);
        }
        if up > len && (wanted < d || wanted - d < min) {
            break;
        }
    }
    None
}

fn describe_mismatch(lines: &[&[u8]], wanted: usize, expected: &[&[u8]]) -> String {
    let show = |b: &[u8]| String::from_utf8_lossy(trim_eol(b)).into_owned();
    for (k, exp) in expected.iter().enumerate() {
        match lines.get(wanted + k) {
            Some(have) if have == exp => continue,
            Some(have) => {
                return format!(
                    "no exact match for its context anywhere in the file; at line {} the patch expects `{}` but the file has `{}`",
                    wanted + k + 1,
                    show(exp),
                    show(have)
                )
            }
            None => {
                return format!(
                    "no exact match for its context anywhere in the file; the file ends at line {} but the patch expects `{}` at line {}",
                    lines.len(),
                    show(exp),
                    wanted + k + 1
                )
            }
        }
    }
    "its context matches only before an earlier hunk".into()
}

/// Lines with their terminators; the last may lack one.
fn split_lines(text: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        if b == b'\n' {
            out.push(&text[start..=i]);
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "a\nb\nc\nd\ne\n";

    fn one(diff: &str) -> FilePatch {
        let mut v = parse(diff.as_bytes()).unwrap();
        assert_eq!(v.len(), 1);
        v.pop().unwrap()
    }

    #[test]
    fn applies_with_offset_and_no_newline() {
        let fp = one(
            "diff --git a/x.c b/x.c\nindex 1..2 100644\n--- a/x.c\n+++ b/x.c\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n@@ -5,1 +5,1 @@\n-e\n+E\n\\ No newline at end of file\n",
        );
        assert_eq!(fp.hunks.len(), 2);
        assert_eq!(apply(OLD.as_bytes(), &fp).unwrap(), b"a\nB\nc\nd\nE");
        // Two lines added on top: the hunks move down.
        let shifted = format!("x\ny\n{OLD}");
        assert_eq!(
            apply(shifted.as_bytes(), &fp).unwrap(),
            b"x\ny\na\nB\nc\nd\nE"
        );
    }

    #[test]
    fn context_must_match_exactly() {
        let fp = one("--- a/x.c\n+++ b/x.c\n@@ -2,2 +2,2 @@\n b\n-c\n+C\n");
        let err = apply(b"a\nb\nX\nd\n", &fp).unwrap_err();
        assert_eq!(err.hunk, 1);
        assert!(err.message.contains("`c`"), "{err}");
        assert!(apply(b"a\nb \nc\n", &fp).is_err(), "whitespace matters");
    }

    #[test]
    fn new_and_deleted_files() {
        let fp = one("diff --git a/n.c b/n.c\nnew file mode 100644\nindex 0000000..1\n--- /dev/null\n+++ b/n.c\n@@ -0,0 +1,2 @@\n+int x;\n+int y;\n");
        assert_eq!(fp.old_path, None);
        assert_eq!(apply(b"", &fp).unwrap(), b"int x;\nint y;\n");
        let fp = one("diff --git a/n.c b/n.c\ndeleted file mode 100644\n--- a/n.c\n+++ /dev/null\n@@ -1 +0,0 @@\n-int x;\n");
        assert_eq!(fp.new_path, None);
        assert_eq!(apply(b"int x;\n", &fp).unwrap(), b"");
    }

    #[test]
    fn malformed_hunks_are_errors() {
        assert!(parse(b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n").is_err());
        assert!(parse(b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n?a\n+b\n").is_err());
        assert!(parse(b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -x +1 @@\n").is_err());
        assert!(parse(b"just text\n").is_err());
    }

    #[test]
    fn signature_ends_the_diff() {
        let v =
            parse(b"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n-- \n2.47.3\n\n")
                .unwrap();
        assert_eq!(v[0].hunks[0].lines.len(), 2);
    }

    #[test]
    fn quoted_and_renamed_paths() {
        let fp = one("diff --git \"a/sp ace.c\" \"b/sp ace.c\"\n--- \"a/sp ace.c\"\n+++ \"b/sp ace.c\"\n@@ -1 +1 @@\n-a\n+b\n");
        assert_eq!(fp.new_path.as_deref(), Some("sp ace.c"));
        let fp =
            one("diff --git a/o.c b/n.c\nsimilarity index 100%\nrename from o.c\nrename to n.c\n");
        assert_eq!(
            (fp.old_path.as_deref(), fp.new_path.as_deref()),
            (Some("o.c"), Some("n.c"))
        );
    }

    #[test]
    fn paths_that_leave_the_tree() {
        assert!(check_path("drivers/x.c").is_ok());
        for bad in [
            "../x.c",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            ".git/hooks/x",
            "C:/x",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
