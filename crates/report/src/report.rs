//! The whole result of a run ([`Report`], [`Summary`]), the rule metadata the
//! SARIF output describes ([`RuleInfo`]), and [`SourceProvider`], through
//! which the human renderer reads file contents.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use serde::{Deserialize, Serialize};

use crate::finding::{Finding, Severity};

/// Counts printed after the findings (SPEC.md §2 `summary`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Files analysed.
    pub files: usize,
    /// Function definitions analysed.
    pub functions: usize,
    /// Functions whose body had parse errors.
    pub functions_with_parse_errors: usize,
    /// Findings reported (after suppression and baseline).
    pub findings: usize,
    /// Wall-clock time of the run.
    pub elapsed_ms: u128,
    /// Functions not fully analysed (parse errors, nesting, the analysis
    /// budget), and files not parsed at all: findings in them may be
    /// missing, and the report says so rather than going quiet.
    #[serde(default)]
    pub incomplete: Vec<Unanalysed>,
}

/// A function (or a whole file) lockwarden could not analyse fully.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Unanalysed {
    /// Relative to the root, `/` separators.
    pub file: String,
    /// 1-based line where the function starts (1 for a whole file).
    pub line: u32,
    /// "" for a whole file.
    pub function: String,
    pub reason: String,
}

/// Everything one `check` run reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Absolute path of the tree root; finding paths are relative to it.
    pub root: String,
    /// Findings, in output order.
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

/// A rule as the SARIF `tool.driver.rules` table describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub id: String,
    /// Default severity of the rule's findings.
    pub severity: Severity,
    /// One line: what the rule checks.
    pub summary: String,
    /// How to fix it.
    pub help: Option<String>,
    /// What the rule checks and why, at length (SARIF `fullDescription`,
    /// `lockwarden rules ID`).
    #[serde(default)]
    pub doc: Option<String>,
    /// Where the rule is documented (SARIF `helpUri`; see
    /// [`documentation_uri`](crate::documentation_uri)).
    #[serde(default)]
    pub help_uri: Option<String>,
}

/// File contents by path relative to the root, for rendering source snippets.
pub trait SourceProvider {
    /// The bytes of `file`, or `None` when they are not available.
    fn source(&self, file: &str) -> Option<&[u8]>;
}

impl<S: BuildHasher> SourceProvider for HashMap<String, Vec<u8>, S> {
    fn source(&self, file: &str) -> Option<&[u8]> {
        self.get(file).map(Vec::as_slice)
    }
}

impl SourceProvider for BTreeMap<String, Vec<u8>> {
    fn source(&self, file: &str) -> Option<&[u8]> {
        self.get(file).map(Vec::as_slice)
    }
}

/// A provider that has no sources: the human format falls back to one
/// gcc-style line per finding.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSources;

impl SourceProvider for NoSources {
    fn source(&self, _file: &str) -> Option<&[u8]> {
        None
    }
}
