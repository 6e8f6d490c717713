//! Reading a `git format-patch` mbox: one or many mails, each a patch with a
//! `Subject: [PATCH n/m] …` header, a commit message, `---`, a diffstat and
//! the diff.
//!
//! Mails are split at `From ` lines that start a message (`From <commit id>
//! Mon Sep 17 00:00:00 2001`, or any `From ` line followed by mail headers);
//! headers may be folded and RFC 2047 encoded (`=?UTF-8?q?…?=`). A cover
//! letter (`[PATCH 0/n]`, no diff) is skipped. The `base-commit:` trailer
//! that `format-patch --base` writes is kept for `series --mbox` without
//! `--base`.

use anyhow::{bail, Result};

/// One patch mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// 1-based position in the mbox (cover letters included).
    pub number: usize,
    /// The commit id of the `From <id>` line, if it has one.
    pub commit: Option<String>,
    /// The subject without its `[PATCH …]` prefix.
    pub subject: String,
    /// `(n, m)` from `[PATCH n/m]`.
    pub position: Option<(u32, u32)>,
    /// The diff: from the first `diff --git` (or `--- `/`+++ `) line on.
    pub diff: Vec<u8>,
    /// The 1-based line of the mbox where the diff starts.
    pub diff_line: usize,
    /// `base-commit:` when the mail has one.
    pub base_commit: Option<String>,
}

impl Mail {
    /// `[PATCH n/m]` as the mail numbered it, else from its place in the mbox.
    pub fn label(&self, count: usize) -> String {
        match self.position {
            Some((n, m)) => format!("[PATCH {n}/{m}]"),
            None => format!("[PATCH {}/{}]", self.number, count),
        }
    }
}

/// Splits and reads an mbox. Mails without a diff are skipped if they are
/// cover letters and refused otherwise.
pub fn parse(bytes: &[u8]) -> Result<Vec<Mail>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        bail!("the mbox is empty");
    }
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    let mut starts = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if is_from_line(line) && (i == 0 || starts_message(&lines[i + 1..])) {
            starts.push(i);
        }
    }
    if starts.first() != Some(&0) {
        let first = String::from_utf8_lossy(lines[0]);
        bail!(
            "not a git format-patch mbox: line 1 should be `From <commit> <date>`, found `{}`",
            first.trim_end()
        );
    }
    let mut mails = Vec::new();
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(lines.len());
        if let Some(mail) = parse_mail(&lines[start..end], start, k + 1)? {
            mails.push(mail);
        }
    }
    if mails.is_empty() {
        bail!("the mbox holds no patch (only cover letters)");
    }
    Ok(mails)
}

fn is_from_line(line: &[u8]) -> bool {
    line.starts_with(b"From ")
}

/// Whether `rest` begins with mail headers (`Name: value`).
fn starts_message(rest: &[&[u8]]) -> bool {
    rest.first().is_some_and(|l| {
        let l = String::from_utf8_lossy(l);
        let name = l.split(':').next().unwrap_or("");
        l.contains(':')
            && !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

fn parse_mail(lines: &[&[u8]], offset: usize, number: usize) -> Result<Option<Mail>> {
    let from = String::from_utf8_lossy(lines[0]);
    let commit = from
        .split_whitespace()
        .nth(1)
        .filter(|id| id.len() >= 40 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned);
    // Headers, unfolded.
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut i = 1;
    while i < lines.len() {
        let l = String::from_utf8_lossy(lines[i]);
        let l = l.trim_end_matches(['\n', '\r']);
        if l.is_empty() {
            i += 1;
            break;
        }
        if l.starts_with([' ', '\t']) {
            match headers.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(l.trim());
                }
                None => bail!(
                    "patch {number}: malformed mail header at mbox line {}: `{l}`",
                    offset + i + 1
                ),
            }
        } else if let Some((name, value)) = l.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        } else {
            bail!(
                "patch {number}: malformed mail header at mbox line {}: `{l}`",
                offset + i + 1
            );
        }
        i += 1;
    }
    let Some(raw_subject) = headers
        .iter()
        .find(|(n, _)| n == "subject")
        .map(|(_, v)| decode_rfc2047(v))
    else {
        bail!(
            "patch {number} (mbox line {}): no `Subject:` header",
            offset + 1
        );
    };
    let (position, subject) = split_subject(&raw_subject);
    let body = &lines[i.min(lines.len())..];
    // The diff starts after the `---` separator, at the first file header.
    let separator = body
        .iter()
        .position(|l| l.strip_suffix(b"\n").unwrap_or(l) == b"---")
        .map_or(0, |p| p + 1);
    let diff_at = (separator..body.len()).find(|&k| {
        body[k].starts_with(b"diff --git ")
            || (body[k].starts_with(b"--- ")
                && body.get(k + 1).is_some_and(|n| n.starts_with(b"+++ ")))
    });
    let base_commit = body.iter().find_map(|l| {
        let l = String::from_utf8_lossy(l);
        l.strip_prefix("base-commit: ")
            .map(|s| s.trim().to_owned())
            .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()) && !s.is_empty())
    });
    let Some(diff_at) = diff_at else {
        if position.is_some_and(|(n, _)| n == 0) {
            return Ok(None); // a cover letter
        }
        bail!(
            "patch {number} `{subject}` (mbox line {}): no diff in this mail",
            offset + 1
        );
    };
    let diff: Vec<u8> = body[diff_at..].concat();
    let diff_line = offset + i + diff_at + 1;
    Ok(Some(Mail {
        number,
        commit,
        subject,
        position,
        diff,
        diff_line,
        base_commit,
    }))
}

/// `[PATCH v2 3/7] subject` → (Some((3, 7)), "subject"). Any leading
/// bracketed tags are removed, as `git am` does.
fn split_subject(raw: &str) -> (Option<(u32, u32)>, String) {
    let mut rest = raw.trim();
    let mut position = None;
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else { break };
        for word in inner[..close].split_whitespace() {
            if let Some((n, m)) = word.split_once('/') {
                if let (Ok(n), Ok(m)) = (n.parse(), m.parse()) {
                    position = Some((n, m));
                }
            }
        }
        rest = inner[close + 1..].trim_start();
    }
    (position, rest.to_owned())
}

/// Decodes RFC 2047 encoded words (`=?charset?Q|B?text?=`); charsets other
/// than UTF-8 and ASCII are taken as UTF-8 (lossily).
fn decode_rfc2047(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let between = &rest[..start];
        let decoded = rest[start + 2..].splitn(3, '?').collect::<Vec<_>>();
        let parsed = (decoded.len() == 3)
            .then(|| {
                let (enc, tail) = (decoded[1], decoded[2]);
                let end = tail.find("?=")?;
                let text = &tail[..end];
                let bytes = match enc {
                    "q" | "Q" => decode_q(text),
                    "b" | "B" => decode_b64(text)?,
                    _ => return None,
                };
                let consumed = start + 2 + decoded[0].len() + 1 + enc.len() + 1 + end + 2;
                Some((bytes, consumed))
            })
            .flatten();
        match parsed {
            Some((bytes, consumed)) => {
                if !(last_was_word && between.trim().is_empty()) {
                    out.push_str(between);
                }
                out.push_str(&String::from_utf8_lossy(&bytes));
                rest = &rest[consumed..];
                last_was_word = true;
            }
            None => {
                out.push_str(&rest[..start + 2]);
                rest = &rest[start + 2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_q(text: &str) -> Vec<u8> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'='),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001\n\
From: T <t@t>\n\
Date: Thu, 1 Jan 2026 00:00:00 +0000\n\
Subject: [PATCH 1/2] dev: add\n\
\x20a folded subject\n\
\n\
Body.\n\
---\n\
\x20x.c | 1 +\n\
\n\
diff --git a/x.c b/x.c\n\
--- a/x.c\n\
+++ b/x.c\n\
@@ -1 +1,2 @@\n\
\x20a\n\
+b\n\
-- \n\
2.47.3\n\
\n\
From 2222222222222222222222222222222222222222 Mon Sep 17 00:00:00 2001\n\
From: T <t@t>\n\
Subject: [PATCH 2/2] =?UTF-8?q?caf=C3=A9?=\n\
\n\
---\n\
diff --git a/x.c b/x.c\n\
--- a/x.c\n\
+++ b/x.c\n\
@@ -1 +1 @@\n\
-a\n\
+c\n\
-- \n\
2.47.3\n";

    #[test]
    fn splits_mails_and_reads_subjects() {
        let mails = parse(TWO.as_bytes()).unwrap();
        assert_eq!(mails.len(), 2);
        assert_eq!(mails[0].subject, "dev: add a folded subject");
        assert_eq!(mails[0].position, Some((1, 2)));
        assert_eq!(mails[0].commit.as_deref(), Some(&"1".repeat(40)[..]));
        assert!(mails[0].diff.starts_with(b"diff --git a/x.c"));
        assert_eq!(mails[1].subject, "café");
        assert_eq!(mails[1].label(2), "[PATCH 2/2]");
    }

    #[test]
    fn malformed_mboxes_are_errors() {
        assert!(parse(b"").is_err());
        assert!(parse(b"hello\nworld\n").is_err());
        let no_subject = "From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001\nFrom: a\n\nbody\n";
        assert!(parse(no_subject.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("Subject"));
        let no_diff = "From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001\nSubject: [PATCH 1/1] x\n\nbody\n";
        assert!(parse(no_diff.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("no diff"));
    }

    #[test]
    fn subject_tags_and_encodings() {
        assert_eq!(
            split_subject("[PATCH v2 3/7] mm: x"),
            (Some((3, 7)), "mm: x".into())
        );
        assert_eq!(split_subject("[PATCH] y"), (None, "y".into()));
        assert_eq!(decode_rfc2047("=?utf-8?b?Y2Fmw6k=?= ok"), "café ok");
        assert_eq!(decode_rfc2047("=?x"), "=?x");
    }
}
