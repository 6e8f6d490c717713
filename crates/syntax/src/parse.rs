//! Parsing one file: the idiom pass, then tree-sitter-c with one parser per thread.

use std::cell::RefCell;

use tree_sitter::{Node, Parser, Tree};

use crate::config::CompiledMacros;
use crate::idioms::{prepare, Fact, MacroUse};
use crate::Span;

thread_local! {
    static PARSER: RefCell<Parser> = RefCell::new(new_parser());
}

fn new_parser() -> Parser {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_c::LANGUAGE.into())
        .expect("tree-sitter-c is ABI-compatible with the pinned tree-sitter");
    parser
}

/// Parses `text` with this thread's parser. `None` only if tree-sitter gives
/// up, which it does not without a timeout or cancellation.
pub fn parse_text(text: &[u8]) -> Option<Tree> {
    PARSER.with(|p| p.borrow_mut().parse(text, None))
}

/// A parsed file: the user's bytes, the text tree-sitter saw (same length,
/// same newlines), the tree, and what the idiom pass recorded.
pub struct ParsedFile {
    /// The file as the user wrote it.
    pub source: Vec<u8>,
    /// The text tree-sitter parsed; node text is read from here.
    pub text: Vec<u8>,
    pub tree: Tree,
    /// Rewritten macro invocations, sorted by position.
    pub macros: Vec<MacroUse>,
    /// Annotation facts, sorted by position.
    pub facts: Vec<Fact>,
}

impl ParsedFile {
    /// Runs the idiom pass and parses. `None` if tree-sitter gave up.
    pub fn parse(source: Vec<u8>, macros: &CompiledMacros) -> Option<ParsedFile> {
        let prepared = prepare(&source, macros);
        let tree = parse_text(&prepared.text)?;
        Some(ParsedFile {
            source,
            text: prepared.text,
            tree,
            macros: prepared.macros,
            facts: prepared.facts,
        })
    }

    /// The parsed text of a node (lossy for invalid UTF-8).
    pub fn node_text(&self, node: Node<'_>) -> &str {
        self.span_text(Span::of(node))
    }

    /// The parsed text of a span; "" if it is not UTF-8.
    pub fn span_text(&self, span: Span) -> &str {
        std::str::from_utf8(&self.text[span.range()]).unwrap_or("")
    }

    /// The user's original text of a span; "" if it is not UTF-8.
    pub fn source_text(&self, span: Span) -> &str {
        std::str::from_utf8(&self.source[span.range()]).unwrap_or("")
    }

    /// The macro use whose name starts at `offset`.
    pub fn macro_at(&self, offset: u32) -> Option<&MacroUse> {
        let i = self.macros.partition_point(|m| m.name.start < offset);
        self.macros.get(i).filter(|m| m.name.start == offset)
    }

    /// The facts lying inside `span`.
    pub fn facts_in(&self, span: Span) -> &[Fact] {
        let lo = self.facts.partition_point(|f| f.span.start < span.start);
        let hi = self.facts.partition_point(|f| f.span.start < span.end);
        &self.facts[lo..hi.max(lo)]
    }

    /// 1-based line and byte column of an offset.
    pub fn line_col(&self, offset: u32) -> (u32, u32) {
        line_col(&self.source, offset)
    }
}

/// 1-based line and byte column of `offset` in `text`.
pub fn line_col(text: &[u8], offset: u32) -> (u32, u32) {
    let offset = (offset as usize).min(text.len());
    let before = &text[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    (line, (offset - line_start) as u32 + 1)
}
