//! Frontend coverage over a set of files: functions, functions whose body has
//! parse errors, the most frequent error causes, and the time taken, next to
//! plain tree-sitter-c on the same bytes in the same run.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;
use tree_sitter::Node;

use crate::config::CompiledMacros;
use crate::generated::kind;
use crate::outline::Outline;
use crate::parse::{parse_text, ParsedFile};
use crate::walk::preorder;
use crate::Span;

/// Function counts of one way of parsing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub functions: usize,
    pub functions_with_parse_errors: usize,
    pub elapsed_ms: u128,
}

impl Coverage {
    /// Percentage of function bodies free of parse errors.
    pub fn clean_percent(&self) -> f64 {
        if self.functions == 0 {
            return 100.0;
        }
        100.0 * (self.functions - self.functions_with_parse_errors) as f64 / self.functions as f64
    }
}

/// The result of [`measure`].
#[derive(Clone, Debug, Default)]
pub struct ParseStats {
    pub files: usize,
    pub bytes: usize,
    /// Files tree-sitter returned no tree for.
    pub failed_files: usize,
    /// lockwarden's frontend: idiom pass and parse.
    pub frontend: Coverage,
    /// Plain tree-sitter-c on the same files, if measured.
    pub plain: Option<Coverage>,
    /// Error causes, most frequent first, with their counts.
    pub causes: Vec<(String, usize)>,
    /// Files with the most broken functions, most first.
    pub worst_files: Vec<(PathBuf, usize)>,
    pub read_ms: u128,
}

/// Parses `files` (already read) with the frontend, and with plain
/// tree-sitter-c when `compare_plain`.
pub fn measure(
    files: &[(PathBuf, Vec<u8>)],
    macros: &CompiledMacros,
    compare_plain: bool,
) -> ParseStats {
    let mut stats = ParseStats {
        files: files.len(),
        bytes: files.iter().map(|(_, b)| b.len()).sum(),
        ..ParseStats::default()
    };
    if compare_plain {
        let start = Instant::now();
        let (functions, with_errors) = files
            .par_iter()
            .map(|(_, bytes)| plain_counts(bytes))
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        stats.plain = Some(Coverage {
            functions,
            functions_with_parse_errors: with_errors,
            elapsed_ms: start.elapsed().as_millis(),
        });
    }
    let start = Instant::now();
    let per_file: Vec<FileCoverage> = files
        .par_iter()
        .map(|(path, bytes)| frontend_counts(path, bytes, macros))
        .collect();
    stats.frontend.elapsed_ms = start.elapsed().as_millis();
    let mut causes: HashMap<String, usize> = HashMap::new();
    let mut worst = Vec::new();
    for file in per_file {
        stats.frontend.functions += file.functions;
        stats.frontend.functions_with_parse_errors += file.with_errors;
        stats.failed_files += usize::from(file.failed);
        if file.with_errors > 0 {
            worst.push((file.path, file.with_errors));
        }
        for cause in file.causes {
            *causes.entry(cause).or_default() += 1;
        }
    }
    let mut causes: Vec<_> = causes.into_iter().collect();
    causes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    worst.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    stats.causes = causes;
    stats.worst_files = worst;
    stats
}

struct FileCoverage {
    path: PathBuf,
    functions: usize,
    with_errors: usize,
    failed: bool,
    causes: Vec<String>,
}

fn frontend_counts(path: &std::path::Path, bytes: &[u8], macros: &CompiledMacros) -> FileCoverage {
    let mut out = FileCoverage {
        path: path.to_owned(),
        functions: 0,
        with_errors: 0,
        failed: false,
        causes: Vec::new(),
    };
    let Some(file) = ParsedFile::parse(bytes.to_vec(), macros) else {
        out.failed = true;
        return out;
    };
    let outline = Outline::of(&file);
    out.functions = outline.function_count();
    out.with_errors = outline.functions_with_errors();
    let root = file.tree.root_node();
    for f in outline.functions.iter().filter(|f| f.parse_errors > 0) {
        if let Some(body) =
            root.descendant_for_byte_range(f.body.start as usize, f.body.end as usize)
        {
            out.causes.extend(error_causes(&file, body));
        }
    }
    for stray in &outline.stray_bodies {
        out.causes.push(format!(
            "function lost before `{}`",
            line_head(&file, *stray)
        ));
    }
    out
}

/// The first few words of the line before a stray body, to name what broke it.
fn line_head(file: &ParsedFile, body: Span) -> String {
    let before = &file.source[..body.start as usize];
    let text = String::from_utf8_lossy(before);
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && *l != "{")
        .unwrap_or("");
    line.split(|c: char| !c.is_alphanumeric() && c != '_')
        .find(|w| !w.is_empty())
        .unwrap_or("")
        .chars()
        .take(40)
        .collect()
}

/// One cause string per `ERROR`/`MISSING` node under `body`.
fn error_causes(file: &ParsedFile, body: Node<'_>) -> Vec<String> {
    let mut causes = Vec::new();
    preorder(body, |node| {
        if node.is_missing() {
            causes.push(format!("missing `{}`", node.kind()));
            false
        } else if node.is_error() {
            causes.push(format!("error at `{}`", first_word(file, node)));
            false
        } else {
            node.has_error()
        }
    });
    causes
}

/// The first identifier-like word of a node's original text, else its first byte.
fn first_word(file: &ParsedFile, node: Node<'_>) -> String {
    let text = file.source_text(Span::of(node));
    let trimmed = text.trim_start();
    let word: String = trimmed
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .take(40)
        .collect();
    if word.is_empty() {
        trimmed.chars().next().map(String::from).unwrap_or_default()
    } else {
        word
    }
}

/// Functions and functions with body errors as plain tree-sitter-c sees them.
fn plain_counts(bytes: &[u8]) -> (usize, usize) {
    let Some(tree) = parse_text(bytes) else {
        return (0, 0);
    };
    let (mut functions, mut with_errors) = (0, 0);
    preorder(tree.root_node(), |node| match node.kind_id() {
        kind::FUNCTION_DEFINITION => {
            functions += 1;
            if node
                .child_by_field_name("body")
                .is_some_and(|b| b.has_error())
            {
                with_errors += 1;
            }
            false
        }
        kind::COMPOUND_STATEMENT => {
            functions += 1;
            with_errors += 1;
            false
        }
        _ => true,
    });
    (functions, with_errors)
}
