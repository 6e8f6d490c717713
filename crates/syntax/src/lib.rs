//! The lockwarden C frontend: reads raw, unpreprocessed kernel C.
//!
//! A file goes through the byte-preserving kernel-idiom pass ([`idioms`]),
//! is parsed by tree-sitter-c ([`parse`]), and is summarised into an
//! [`outline`] (functions, structs, globals, includes). A set of outlines makes
//! a tree-wide [`index`]. Nothing here knows about locks: annotation macros
//! are kept as generic [`Fact`]s whose names come from data.
//!
//! Invariant: parsing never fails and never moves a byte; errors are counted
//! per function body.

pub mod config;
pub mod generated;
pub mod idioms;
pub mod index;
pub mod lexer;
pub mod macro_functions;
pub mod outline;
pub mod parse;
pub mod scan;
pub mod stats;
pub mod walk;

pub use config::{CompiledMacros, MacroConfig};
pub use generated::{field, kind};
pub use idioms::{Fact, MacroUse, MacroUseKind};
pub use parse::ParsedFile;

/// A byte range in a source file.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: u32, end: u32) -> Span {
        Span { start, end }
    }

    /// The span of a tree-sitter node.
    pub fn of(node: tree_sitter::Node<'_>) -> Span {
        Span::new(node.start_byte() as u32, node.end_byte() as u32)
    }

    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    pub fn contains(&self, other: Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}
