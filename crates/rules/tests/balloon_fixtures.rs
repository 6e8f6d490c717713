//! Fixture tests for the balloon rules of `rules/balloon.toml` (SPEC.md §3).
//!
//! Every directory `fixtures/balloon/<case>/` is analysed as one program: all
//! its `.c` and `.h` files, at any depth, in one check, with paths relative to
//! the case directory — so `<case>/mm/balloon_compaction.c` is analysed as
//! `mm/balloon_compaction.c` and falls in the rules' file-glob scope. A plain
//! `fixtures/balloon/*.c` file is analysed alone, under its own name.
//!
//! Expected findings are written on the line of the finding, in a comment:
//! `/* expect: balloon/no-page-lock */` (several ids separated by commas or
//! spaces). Only `balloon/*` findings are compared; the `lock/*` rules have
//! their own fixtures. A case without such a comment must produce no balloon
//! finding. The found and expected `(file, line, rule)` multisets are compared
//! exactly; every case is checked before the test fails, with the false
//! positives and false negatives listed separately. A case with a
//! `known-gap:` comment documents an engine limitation: its mismatches are
//! listed, not failed, and it must keep mismatching.

mod support;

#[test]
fn balloon_fixtures() {
    support::check_fixtures("balloon", "balloon/");
}
