//! Fixture tests for the core lock rules (`lock/*`, SPEC.md §3).
//!
//! Every `fixtures/lock/*.c` is analysed alone, and every directory
//! `fixtures/lock/<name>/` is analysed as one program (all its `.c` and `.h`
//! files in one check). Paths are given relative to the fixture directory.
//!
//! Expected findings are written on the line of the finding, in a comment:
//! `/* expect: lock/double-acquire */` (several ids separated by commas or
//! spaces). A fixture without such a comment must produce no finding. The
//! found and expected `(file, line, rule)` multisets are compared exactly;
//! every fixture is checked before the test fails, with the false positives
//! and false negatives listed separately.

mod support;

#[test]
fn lock_fixtures() {
    support::check_fixtures("lock", "lock/");
}
