//! A small C token scanner for the kernel-idiom pass.
//!
//! It only needs to be good enough to find identifiers, brackets and
//! preprocessor directives quickly: comments, strings and character literals
//! are skipped whole, every other byte is a one-byte punctuation token, and a
//! preprocessor directive (with its line continuations) is a single token.
//! [`comments`] finds the comments themselves, for inline suppressions.

use crate::Span;

/// What a [`Token`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// An identifier or keyword.
    Ident,
    /// A number literal.
    Number,
    /// A string or character literal.
    Literal,
    /// One byte of punctuation or operator.
    Punct(u8),
    /// A whole preprocessor directive line.
    Directive(Directive),
}

/// The directives the idiom pass cares about; the rest are [`Directive::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    /// `#if`, `#ifdef`, `#ifndef`; `is_zero` for a literal `#if 0`.
    If { is_zero: bool },
    /// `#elif`, `#elifdef`, `#elifndef`.
    Elif,
    /// `#else`.
    Else,
    /// `#endif`.
    Endif,
    /// Any other directive (`#define`, `#include`, …).
    Other,
}

/// One token: its kind and byte range in the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: u32,
    pub end: u32,
}

impl Token {
    /// The token's bytes in `src`.
    pub fn text<'s>(&self, src: &'s [u8]) -> &'s [u8] {
        &src[self.start as usize..self.end as usize]
    }

    pub fn is_punct(&self, byte: u8) -> bool {
        self.kind == TokenKind::Punct(byte)
    }
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Splits `src` into tokens. Never fails: unterminated comments and literals
/// run to the end of the input.
pub fn tokenize(src: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::with_capacity(src.len() / 4);
    let len = src.len();
    let mut i = 0;
    // True while only whitespace has been seen since the last newline.
    let mut line_start = true;
    while i < len {
        let b = src[i];
        let start = i;
        match b {
            b'\n' => {
                line_start = true;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\x0c' | b'\x0b' => {
                i += 1;
                continue;
            }
            b'\\' if i + 1 < len && src[i + 1] == b'\n' => {
                i += 2;
                continue;
            }
            b'/' if i + 1 < len && src[i + 1] == b'/' => {
                i = skip_line_comment(src, i);
                continue;
            }
            b'/' if i + 1 < len && src[i + 1] == b'*' => {
                i = skip_block_comment(src, i);
                continue;
            }
            b'#' if line_start => {
                i = skip_directive(src, i);
                let directive = classify_directive(&src[start..i]);
                tokens.push(Token {
                    kind: TokenKind::Directive(directive),
                    start: start as u32,
                    end: i as u32,
                });
                // The directive ended at (not after) its newline.
                continue;
            }
            b'"' | b'\'' => {
                i = skip_literal(src, i, b);
                tokens.push(Token {
                    kind: TokenKind::Literal,
                    start: start as u32,
                    end: i as u32,
                });
            }
            _ if is_ident_start(b) => {
                i += 1;
                while i < len && is_ident_continue(src[i]) {
                    i += 1;
                }
                // A string prefix such as L"…" or u8"…" is part of the literal.
                if i < len && (src[i] == b'"' || src[i] == b'\'') && i - start <= 2 {
                    let quote = src[i];
                    i = skip_literal(src, i, quote);
                    tokens.push(Token {
                        kind: TokenKind::Literal,
                        start: start as u32,
                        end: i as u32,
                    });
                } else {
                    tokens.push(Token {
                        kind: TokenKind::Ident,
                        start: start as u32,
                        end: i as u32,
                    });
                }
            }
            _ if b.is_ascii_digit()
                || (b == b'.' && i + 1 < len && src[i + 1].is_ascii_digit()) =>
            {
                i += 1;
                while i < len {
                    let c = src[i];
                    let exponent_sign =
                        (c == b'+' || c == b'-') && matches!(src[i - 1], b'e' | b'E' | b'p' | b'P');
                    if is_ident_continue(c) || c == b'.' || exponent_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                tokens.push(Token {
                    kind: TokenKind::Number,
                    start: start as u32,
                    end: i as u32,
                });
            }
            _ => {
                i += 1;
                tokens.push(Token {
                    kind: TokenKind::Punct(b),
                    start: start as u32,
                    end: i as u32,
                });
            }
        }
        line_start = false;
    }
    tokens
}

/// The comments of `src` in order, each from its `//` or `/*` to the end of
/// its line or past its `*/`, with string and character literals skipped
/// whole (`"// not a comment"`). Linear; never fails: an unterminated
/// comment runs to the end of the input.
pub fn comments(src: &[u8]) -> Vec<Span> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < src.len() {
        let start = i;
        match (src[i], src.get(i + 1)) {
            (b'/', Some(b'/')) => i = skip_line_comment(src, i),
            (b'/', Some(b'*')) => i = skip_block_comment(src, i),
            (quote @ (b'"' | b'\''), _) => {
                i = skip_literal(src, i, quote);
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        out.push(Span::new(start as u32, i as u32));
    }
    out
}

fn skip_line_comment(src: &[u8], mut i: usize) -> usize {
    while i < src.len() && src[i] != b'\n' {
        i += 1;
    }
    i
}

fn skip_block_comment(src: &[u8], mut i: usize) -> usize {
    i += 2;
    while i + 1 < src.len() {
        if src[i] == b'*' && src[i + 1] == b'/' {
            return i + 2;
        }
        i += 1;
    }
    src.len()
}

fn skip_literal(src: &[u8], mut i: usize, quote: u8) -> usize {
    i += 1;
    while i < src.len() {
        match src[i] {
            b'\\' => i += 2,
            // An unterminated literal stops at the line end, as a compiler would.
            b'\n' => return i,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    src.len()
}

/// Returns the offset of the newline that ends the directive starting at `i`
/// (or the end of input), following backslash continuations and block
/// comments that span lines.
fn skip_directive(src: &[u8], mut i: usize) -> usize {
    while i < src.len() {
        match src[i] {
            b'\n' => return i,
            b'\\' if i + 1 < src.len() && src[i + 1] == b'\n' => i += 2,
            b'\\' if i + 2 < src.len() && src[i + 1] == b'\r' && src[i + 2] == b'\n' => i += 3,
            b'/' if i + 1 < src.len() && src[i + 1] == b'*' => i = skip_block_comment(src, i),
            b'/' if i + 1 < src.len() && src[i + 1] == b'/' => return skip_line_comment(src, i),
            _ => i += 1,
        }
    }
    src.len()
}

fn classify_directive(text: &[u8]) -> Directive {
    let body = &text[1..];
    let word_start = body
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(body.len());
    let word_len = body[word_start..]
        .iter()
        .position(|b| !b.is_ascii_alphanumeric() && *b != b'_')
        .unwrap_or(body.len() - word_start);
    let word = &body[word_start..word_start + word_len];
    match word {
        b"if" => {
            let rest = &body[word_start + word_len..];
            let rest = strip_comments(rest);
            Directive::If {
                is_zero: rest.trim_ascii() == b"0",
            }
        }
        b"ifdef" | b"ifndef" => Directive::If { is_zero: false },
        b"elif" | b"elifdef" | b"elifndef" => Directive::Elif,
        b"else" => Directive::Else,
        b"endif" => Directive::Endif,
        _ => Directive::Other,
    }
}

/// The directive text without `/* … */` and `// …` comments (for `#if 0 /* x */`).
fn strip_comments(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'/' && i + 1 < text.len() && text[i + 1] == b'*' {
            i = skip_block_comment(text, i);
        } else if text[i] == b'/' && i + 1 < text.len() && text[i + 1] == b'/' {
            break;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, String)> {
        tokenize(src.as_bytes())
            .iter()
            .map(|t| {
                (
                    t.kind,
                    String::from_utf8_lossy(t.text(src.as_bytes())).into_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn skips_comments_and_literals() {
        let toks = kinds("a /* { */ \"}\" 'x' // (\nb");
        assert_eq!(
            toks,
            vec![
                (TokenKind::Ident, "a".into()),
                (TokenKind::Literal, "\"}\"".into()),
                (TokenKind::Literal, "'x'".into()),
                (TokenKind::Ident, "b".into()),
            ]
        );
    }

    #[test]
    fn directives_are_single_tokens_with_continuations() {
        let toks = kinds("#define X \\\n  { y }\n#if 0 /* off */\nz\n#endif\n");
        assert_eq!(toks[0].0, TokenKind::Directive(Directive::Other));
        assert_eq!(
            toks[1].0,
            TokenKind::Directive(Directive::If { is_zero: true })
        );
        assert_eq!(toks[2], (TokenKind::Ident, "z".into()));
        assert_eq!(toks[3].0, TokenKind::Directive(Directive::Endif));
        assert_eq!(toks.len(), 4);
    }

    #[test]
    fn hash_inside_a_line_is_punctuation() {
        let toks = kinds("a # b");
        assert_eq!(toks[1].0, TokenKind::Punct(b'#'));
    }

    #[test]
    fn comments_are_found_outside_literals() {
        let src = b"a = \"// no\"; /* one\n */ b = '\"'; // two\n/* open";
        let texts: Vec<&[u8]> = comments(src).iter().map(|s| &src[s.range()]).collect();
        assert_eq!(
            texts,
            [&b"/* one\n */"[..], &b"// two"[..], &b"/* open"[..]]
        );
        assert!(comments(b"\"unterminated // \\").is_empty());
        assert_eq!(comments(b"x /").len(), 0);
    }

    #[test]
    fn unterminated_input_does_not_panic() {
        tokenize(b"/* open");
        tokenize(b"\"open");
        tokenize(b"#define X \\");
        tokenize(b"'");
    }
}
