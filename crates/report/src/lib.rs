//! lockwarden findings as values, and their renderings.
//!
//! The rules stage builds [`Finding`]s (rule, severity, primary
//! [`Location`], function, message, optional help, secondary [`Label`]s and
//! an ordered evidence `trace`); each carries a [`fingerprint`] that contains
//! no line numbers, so it survives unrelated edits. The CLI collects them into
//! a [`Report`] and calls [`render`] with a [`Format`] and [`RenderOptions`]:
//!
//! | format | what |
//! | --- | --- |
//! | `human` | miette diagnostics with snippets, then a summary line |
//! | `gcc` | `file:line:col: severity: message [rule]`, then a `note:` line per piece of evidence |
//! | `json` | the schema-1 report of SPEC.md §2 ([`parse_json_report`] reads it back for `--baseline`) |
//! | `sarif` | SARIF 2.1.0 |
//! | `github` | GitHub Actions workflow commands |
//! | `codequality` | GitLab Code Quality |
//!
//! Human and gcc output print paths from the directory the command was run
//! in ([`PathDisplay`]); the machine formats keep them relative to the root.
//!
//! Invariants: this crate knows nothing about C or locks, only spans and
//! strings; every renderer is deterministic (findings in the order given,
//! fixed key order, colour and width only as the options say, no terminal
//! probing: the CLI decides those); nothing here panics on odd input
//! (missing or stale sources, invalid UTF-8, malformed baselines).

mod codequality;
mod finding;
mod fingerprint;
mod format;
mod gcc;
mod github;
mod human;
mod json;
mod paths;
mod report;
mod sarif;
#[cfg(test)]
mod test_support;
mod uri;

pub use finding::{sort_findings, Evidence, Finding, Label, LineIndex, Location, Severity};
pub use fingerprint::{dedup_fingerprints, filter_baseline, fingerprint, primary_line_text};
pub use format::{render, Format, ParseFormatError, RenderOptions};
pub use human::{statistics, summary_line};
pub use json::{parse_json_report, JsonFinding, SCHEMA};
pub use paths::PathDisplay;
pub use report::{NoSources, Report, RuleInfo, SourceProvider, Summary, Unanalysed};
pub use uri::{documentation_uri, file_uri};

/// The version written into JSON and SARIF output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
