//! A quick token-level scan for the names a file defines and calls, used to
//! pick the files an analysis needs before anything is parsed.
//!
//! It over-approximates (any `name(…) {` at file scope is a definition, any
//! `name(` inside braces a call), which is what a closure over the call graph
//! wants: a file too many costs time, a file too few costs findings.

use crate::lexer::{tokenize, TokenKind};

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
                    let mut parens = 0usize;
                    let mut j = i + 1;
                    while j < tokens.len() {
                        if tokens[j].is_punct(b'(') {
                            parens += 1;
                        } else if tokens[j].is_punct(b')') {
                            parens -= 1;
                            if parens == 0 {
                                break;
                            }
                        }
                        j += 1;
                    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn finds_definitions_and_calls() {
        let (d, c) = super::defined_and_called(
            b"static int f(int a)\n{\n\treturn g(a) + h();\n}\nint x = y(1);\n",
        );
        assert_eq!(d, vec!["f"]);
        assert_eq!(c, vec!["g", "h"]);
    }
}
