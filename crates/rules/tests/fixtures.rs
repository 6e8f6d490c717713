//! Fixture tests for the rules (SPEC.md §3), one test per fixture, so that
//! one can be run by name: `cargo test -p lockwarden-rules --test fixtures
//! -- lock::guard_double.c`.
//!
//! Every `fixtures/{lock,balloon}/*.c` is analysed alone, and every
//! directory `fixtures/<suite>/<name>/` as one program (all its `.c` and `.h`
//! files in one check), paths relative to the fixture directory, so that
//! `<case>/mm/balloon_compaction.c` falls in the balloon rules' scope.
//!
//! Expected findings are written on the line of the finding, in a comment:
//! `/* expect: lock/double-acquire */` (several ids separated by commas or
//! spaces; `(warning)` after an id also checks the severity). Only the
//! suite's own rules are compared (`lock/*` for `fixtures/lock`, `balloon/*`
//! for `fixtures/balloon`); a fixture without such a comment must produce
//! none. Each fixture's findings in gcc format, evidence notes included, are
//! also a snapshot (`tests/snapshots/`, insta), so that a changed message,
//! column or label shows in review: `INSTA_UPDATE=always` rewrites them.

mod support;

use std::sync::Arc;

use libtest_mimic::{Arguments, Trial};
use lockwarden_rules::{builtin, Checker};

fn main() {
    let args = Arguments::from_args();
    let checker = Arc::new(Checker::new(
        builtin::config().expect("built-in rule files load"),
    ));
    let mut trials = Vec::new();
    for (suite, rules) in [("lock", "lock/"), ("balloon", "balloon/")] {
        assert!(
            checker.rules().iter().any(|r| r.id.starts_with(rules)),
            "no {rules}* rules in the built-in rule files"
        );
        for fixture in support::all_fixtures(suite) {
            let checker = checker.clone();
            let name = format!("{suite}::{}", fixture.name());
            trials.push(Trial::test(name, move || {
                let gcc = support::check_fixture(&checker, suite, rules, &fixture)?;
                let snapshot = format!("{suite}__{}", fixture.name().trim_end_matches('/'));
                let mut settings = insta::Settings::clone_current();
                settings.set_snapshot_path("snapshots");
                settings.set_prepend_module_to_snapshot(false);
                settings.set_omit_expression(true);
                settings.bind(|| insta::assert_snapshot!(snapshot, gcc));
                Ok(())
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
