//! A quick token-level scan for the names a file defines and calls, used to
//! pick the files an analysis needs before anything is parsed, and the
//! names a header's edit changes for its users.
//!
//! It over-approximates (any `name(…) {` at file scope is a definition, any
//! `name(` inside braces a call), which is what a closure over the call graph
//! wants: a file too many costs time, a file too few costs findings.

use std::collections::HashMap;

use crate::lexer::{tokenize, Token, TokenKind};

/// Function names defined and called in `src`, each sorted and deduplicated.
pub fn defined_and_called(src: &[u8]) -> (Vec<String>, Vec<String>) {
    let tokens: Vec<_> = tokenize(src)
        .into_iter()
        .filter(|t| !matches!(t.kind, TokenKind::Directive(_)))
        .collect();
    let mut defined = Vec::new();
    let mut called = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        match t.kind {
            TokenKind::Punct(b'{') => depth += 1,
            TokenKind::Punct(b'}') => depth = depth.saturating_sub(1),
            TokenKind::Ident if tokens.get(i + 1).is_some_and(|n| n.is_punct(b'(')) => {
                let name = String::from_utf8_lossy(t.text(src)).into_owned();
                if depth > 0 {
                    called.push(name);
                } else {
                    // Find the matching `)` and see whether a body follows.
                    let j = matching(&tokens, i + 1, b'(', b')');
                    if tokens.get(j + 1).is_some_and(|n| n.is_punct(b'{')) {
                        defined.push(name);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    for v in [&mut defined, &mut called] {
        v.sort_unstable();
        v.dedup();
    }
    (defined, called)
}

/// The names a header's edit may change for the files that use them:
/// functions defined at file scope, macros and records whose definition
/// text differs between `before` and `after`, or that only one defines.
/// Sorted.
pub fn changed_definitions(before: &[u8], after: &[u8]) -> Vec<String> {
    let (old, new) = (definitions(before), definitions(after));
    let mut changed: Vec<String> = old
        .iter()
        .filter(|(name, text)| new.get(*name) != Some(text))
        .chain(new.iter().filter(|(name, _)| !old.contains_key(*name)))
        .map(|(name, _)| name.clone())
        .collect();
    changed.sort_unstable();
    changed.dedup();
    changed
}

/// Every definition's text by name, in order (an `#ifdef` may define a name
/// twice): `#define NAME …` lines, and at file scope `name(…) { … }` and
/// `struct|union|enum NAME { … }`.
fn definitions(src: &[u8]) -> HashMap<String, Vec<&[u8]>> {
    let tokens = tokenize(src);
    let mut out: HashMap<String, Vec<&[u8]>> = HashMap::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        match t.kind {
            TokenKind::Directive(_) => {
                let text = t.text(src);
                let rest = text[1..].trim_ascii_start();
                if let Some(rest) = rest.strip_prefix(b"define") {
                    let rest = rest.trim_ascii_start();
                    let end = rest
                        .iter()
                        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
                        .unwrap_or(rest.len());
                    if end > 0 {
                        let name = String::from_utf8_lossy(&rest[..end]).into_owned();
                        out.entry(name).or_default().push(text);
                    }
                }
            }
            TokenKind::Punct(b'{') => depth += 1,
            TokenKind::Punct(b'}') => depth = depth.saturating_sub(1),
            TokenKind::Ident if depth == 0 => {
                let word = t.text(src);
                let record = matches!(word, b"struct" | b"union" | b"enum");
                let body = if record {
                    // `struct NAME {`
                    (tokens
                        .get(i + 1)
                        .is_some_and(|n| n.kind == TokenKind::Ident)
                        && tokens.get(i + 2).is_some_and(|n| n.is_punct(b'{')))
                    .then_some((i + 1, i + 2))
                } else if tokens.get(i + 1).is_some_and(|n| n.is_punct(b'(')) {
                    // `name(…) {`: skip to the matching `)`.
                    let j = matching(&tokens, i + 1, b'(', b')');
                    tokens
                        .get(j + 1)
                        .is_some_and(|n| n.is_punct(b'{'))
                        .then_some((i, j + 1))
                } else {
                    None
                };
                if let Some((name_at, open)) = body {
                    let close = matching(&tokens, open, b'{', b'}').min(tokens.len() - 1);
                    let name = String::from_utf8_lossy(tokens[name_at].text(src)).into_owned();
                    let text = &src[t.start as usize..tokens[close].end as usize];
                    out.entry(name).or_default().push(text);
                    i = close + 1;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The index of the `close` token matching the `open` one at `at`
/// (`tokens.len()` when there is none).
pub fn matching(tokens: &[Token], at: usize, open: u8, close: u8) -> usize {
    let mut level = 0usize;
    for (j, t) in tokens.iter().enumerate().skip(at) {
        if t.is_punct(open) {
            level += 1;
        } else if t.is_punct(close) {
            level = level.saturating_sub(1);
            if level == 0 {
                return j;
            }
        }
    }
    tokens.len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn changed_definitions_are_the_names_whose_text_differs() {
        let before = b"#define MAX 4\nstruct dev { int n; };\nstatic inline void grab(struct dev *d)\n{\n\tlock(d);\n}\nstatic inline int same(void) { return 0; }\n";
        let after = b"#define MAX 5\nstruct dev { int n; };\nstatic inline void grab(struct dev *d)\n{\n\tunlock(d);\n}\nstatic inline int same(void) { return 0; }\nint added(void) { return 1; }\n";
        assert_eq!(
            super::changed_definitions(before, after),
            vec!["MAX", "added", "grab"]
        );
        // A comment or a blank line between definitions changes no name.
        let commented = [&b"/* note */\n"[..], &before[..]].concat();
        assert!(super::changed_definitions(before, &commented).is_empty());
        let record = String::from_utf8_lossy(before).replace("int n;", "int n; int m;");
        assert_eq!(
            super::changed_definitions(before, record.as_bytes()),
            vec!["dev"]
        );
    }

    #[test]
    fn finds_definitions_and_calls() {
        let (d, c) = super::defined_and_called(
            b"static int f(int a)\n{\n\treturn g(a) + h();\n}\nint x = y(1);\n",
        );
        assert_eq!(d, vec!["f"]);
        assert_eq!(c, vec!["g", "h"]);
    }
}
