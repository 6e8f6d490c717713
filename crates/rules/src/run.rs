//! The check pipeline: sources in, findings out — parse and lower, solve
//! bottom-up, run the rules, drop suppressed findings.

use std::path::PathBuf;
use std::time::Instant;

use lockwarden_flow::{analyze, build, Analysis, LockApi};
use lockwarden_report::{dedup_fingerprints, sort_findings, Finding, RuleInfo, Summary};
use lockwarden_syntax::CompiledMacros;

use crate::builtin::Config;
use crate::file::RuleSet;

use crate::suppress::is_suppressed;

/// Compiled configuration: the macro vocabulary and the lock API.
pub struct Checker {
    macros: CompiledMacros,
    api: LockApi,
    rules: RuleSet,
}

/// What a check produced.
pub struct Outcome {
    pub analysis: Analysis,
    /// Sorted by file and position, fingerprints unique, suppressions applied.
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

impl Checker {
    pub fn new(config: Config) -> Checker {
        Checker {
            macros: config.syntax.compile(),
            api: config.locks.compile(),
            rules: config.rules,
        }
    }

    /// The documentation of every rule this checker runs.
    pub fn rules(&self) -> Vec<RuleInfo> {
        let mut rules = crate::core::rules();
        rules.extend(crate::mission::rules(&self.rules));
        rules
    }

    /// The rule-file rules, with their documentation.
    pub fn rule_set(&self) -> &RuleSet {
        &self.rules
    }

    /// Checks `files` (paths relative to the root, contents).
    pub fn check(&self, files: Vec<(PathBuf, Vec<u8>)>) -> Outcome {
        let start = Instant::now();
        let program = build(files, &self.macros, &self.api);
        let analysis = analyze(program, &self.api);
        let mut findings: Vec<Finding> = crate::core::check(&analysis)
            .into_iter()
            .chain(crate::mission::check(&analysis, &self.rules))
            .filter(|f| !self.suppressed(&analysis, f))
            .collect();
        sort_findings(&mut findings);
        findings.dedup_by(|a, b| {
            a.rule == b.rule && a.location == b.location && a.message == b.message
        });
        dedup_fingerprints(&mut findings);
        let files = &analysis.program.files;
        let summary = Summary {
            files: files.len(),
            functions: files.iter().map(|f| f.functions_counted).sum(),
            functions_with_parse_errors: files.iter().map(|f| f.functions_with_errors).sum(),
            findings: findings.len(),
            elapsed_ms: start.elapsed().as_millis(),
        };
        Outcome {
            analysis,
            findings,
            summary,
        }
    }

    fn suppressed(&self, analysis: &Analysis, finding: &Finding) -> bool {
        analysis
            .program
            .files
            .iter()
            .find(|f| f.path.to_string_lossy().replace('\\', "/") == finding.location.file)
            .is_some_and(|f| is_suppressed(&f.source, finding.location.line, &finding.rule))
    }
}
