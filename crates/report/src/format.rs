//! Output formats: [`Format`] (parsed from `--format`) and [`render`], the one
//! entry point that turns a [`Report`] into text.

use std::fmt;
use std::str::FromStr;

use crate::paths::PathDisplay;
use crate::report::{Report, RuleInfo, SourceProvider};
use crate::{codequality, gcc, github, human, json, sarif};

/// An output format of `--format` (SPEC.md §1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// miette graphical diagnostics with source snippets, then a summary line.
    #[default]
    Human,
    /// One `file:line:col: severity: message [rule]` line per finding, then
    /// a `file:line:col: note: …` line per piece of its evidence.
    Gcc,
    /// The JSON report, schema 1 (SPEC.md §2).
    Json,
    /// SARIF 2.1.0, for code-scanning services.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…::message`).
    Github,
    /// GitLab Code Quality report.
    Codequality,
}

impl Format {
    /// All formats, in the order `--help` lists them.
    pub const ALL: [Format; 6] = [
        Format::Human,
        Format::Gcc,
        Format::Json,
        Format::Sarif,
        Format::Github,
        Format::Codequality,
    ];

    /// The name accepted on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Human => "human",
            Format::Gcc => "gcc",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Github => "github",
            Format::Codequality => "codequality",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `--format` value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{given}`; expected one of: human, gcc, json, sarif, github, codequality")]
pub struct ParseFormatError {
    /// What was given.
    pub given: String,
}

impl FromStr for Format {
    type Err = ParseFormatError;

    fn from_str(s: &str) -> Result<Format, ParseFormatError> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| ParseFormatError {
                given: s.to_owned(),
            })
    }
}

/// How [`render`] prints for a reader rather than a program: the human
/// format's width and colour, and where the human and gcc formats' paths
/// start from. The machine formats ignore it. The default is what tests
/// want: 100 columns, no colour, root-relative paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// Terminal columns for the human format (clamped to a readable least).
    pub width: usize,
    /// ANSI colours in the human format.
    pub color: bool,
    /// How the human and gcc formats print paths.
    pub paths: PathDisplay,
}

impl Default for RenderOptions {
    fn default() -> RenderOptions {
        RenderOptions {
            width: 100,
            color: false,
            paths: PathDisplay::root_relative(),
        }
    }
}

/// Renders `report` in `format`.
///
/// `rules` describes the rules for SARIF (other formats ignore it);
/// `sources` is used by the human format only. The result ends with a
/// newline unless it is empty (gcc and github output for a report without
/// findings).
pub fn render(
    report: &Report,
    format: Format,
    rules: &[RuleInfo],
    sources: &dyn SourceProvider,
    options: &RenderOptions,
) -> String {
    match format {
        Format::Human => human::render(report, sources, options),
        Format::Gcc => gcc::render(report, &options.paths),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report, rules),
        Format::Github => github::render(report),
        Format::Codequality => codequality::render(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.to_string().parse::<Format>(), Ok(f));
        }
        assert_eq!(Format::default(), Format::Human);
    }

    #[test]
    fn unknown_name_lists_valid_values() {
        let err = "xml".parse::<Format>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`xml`"), "{msg}");
        for f in Format::ALL {
            assert!(msg.contains(f.as_str()), "{msg} lacks {f}");
        }
        assert!(
            "JSON".parse::<Format>().is_err(),
            "names are case-sensitive"
        );
    }
}
