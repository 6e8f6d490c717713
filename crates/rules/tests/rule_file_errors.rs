//! Every kind of error in a rule file is a diagnostic whose span points at
//! the bad text (SPEC.md §3). Each test writes a broken rule file, loads it,
//! converts the error's byte offset to a 1-based line and column, and
//! compares that with where the bad text is in the test's TOML literal.

use lockwarden_rules::builtin::{self, Config};
use lockwarden_rules::file::{parse, RuleFileError, RuleFileErrors, RuleSet};

/// How the rule files of these tests are named in diagnostics.
const NAME: &str = "rules/broken.toml";

/// Loads `text` as a rule file on its own; it must be rejected.
fn load_errors(text: &str) -> Vec<RuleFileError> {
    let mut config = Config::default();
    match config.add(NAME, text) {
        Ok(()) => panic!("the rule file was accepted:\n{text}"),
        Err(RuleFileErrors(errors)) => errors,
    }
}

/// Loads `text` as a rule file on its own; it must be rejected with one error.
fn load_error(text: &str) -> RuleFileError {
    let mut errors = load_errors(text);
    assert_eq!(
        errors.len(),
        1,
        "want one error, got:\n{}",
        RuleFileErrors(errors)
    );
    errors.remove(0)
}

/// The only error of `errors`.
fn only(errors: RuleFileErrors) -> RuleFileError {
    let RuleFileErrors(mut errors) = errors;
    assert_eq!(
        errors.len(),
        1,
        "want one error, got:\n{}",
        RuleFileErrors(errors)
    );
    errors.remove(0)
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    assert!(
        offset <= text.len(),
        "offset {offset} is past the end of the text"
    );
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Asserts that `err` is about `text`, named [`NAME`], that its span starts
/// where the only occurrence of `needle` starts and covers it (or, for a
/// syntax error, starts inside it), and that its message mentions `what`.
fn assert_points_at(err: &RuleFileError, text: &str, needle: &str, what: &str) {
    assert_eq!(
        text.matches(needle).count(),
        1,
        "test bug: `{needle}` must occur exactly once in the rule file"
    );
    let at = text.find(needle).unwrap();
    let offset = err.span.offset();
    let len = err.span.len();
    let expected = line_col(text, at);
    let got = line_col(text, offset);
    assert_eq!(
        got,
        expected,
        "`{}` points at {NAME}:{}:{} (`{}`), want {NAME}:{}:{} (`{needle}`)",
        err.message,
        got.0,
        got.1,
        text.get(offset..offset + len).unwrap_or("?"),
        expected.0,
        expected.1
    );
    let spanned = &text[offset..offset + len];
    assert!(
        spanned.starts_with(needle) || needle.starts_with(spanned),
        "span `{spanned}` does not cover `{needle}`"
    );
    assert_eq!(err.src.name(), NAME, "diagnostic names the wrong file");
    assert!(
        err.message.contains(what),
        "message `{}` does not mention `{what}`",
        err.message
    );
}

#[test]
fn toml_syntax_error() {
    let text = r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
globals = ["pages_lock" "other_lock"]
"#;
    let err = load_error(text);
    assert_points_at(&err, text, r#""other_lock""#, "invalid rule file");
}

#[test]
fn toml_unterminated_table_header() {
    let text = r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
globals = ["pages_lock"]

[[scope
id = "balloon code"
"#;
    let err = load_error(text);
    // The header is cut short by the end of its line.
    let at = text.find("[[scope").unwrap() + "[[scope".len();
    assert_eq!(
        line_col(text, err.span.offset()),
        line_col(text, at),
        "{}",
        err.message
    );
    assert!(err.message.contains("invalid rule file"), "{}", err.message);
}

#[test]
fn unknown_key() {
    let text = r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
globals = ["pages_lock"]

[[scope]]
id = "balloon code"
files = ["mm/balloon*.c"]

[[rule]]
id = "x/needs-lock"
kind = "forbid"
summary = "s"
class = "pages-lock"
scope = "balloon code"
colour = "red"
"#;
    let err = load_error(text);
    assert_points_at(&err, text, "colour", "unknown field `colour`");
}

#[test]
fn unknown_top_level_table() {
    let text = r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
globals = ["pages_lock"]

[[scopes]]
id = "balloon code"
"#;
    let err = load_error(text);
    assert_points_at(&err, text, "scopes", "unknown field `scopes`");
}

#[test]
fn unknown_rule_kind() {
    let text = r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
globals = ["pages_lock"]

[[scope]]
id = "balloon code"
files = ["mm/balloon*.c"]

[[rule]]
id = "x/needs-lock"
kind = "allow"
summary = "s"
class = "pages-lock"
scope = "balloon code"
"#;
    let err = load_error(text);
    assert_points_at(&err, text, r#""allow""#, "allow");
}

#[test]
fn unknown_class_in_rule() {
    let text = r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
globals = ["pages_lock"]

[[access]]
id = "private-write"
summary = "writes page->private"
shapes = ["page->private"]

[[scope]]
id = "balloon code"
files = ["mm/balloon*.c"]

[[rule]]
id = "x/needs-lock"
kind = "require"
summary = "s"
class = "page-lock"
access = "private-write"
scope = "balloon code"
"#;
    let err = load_error(text);
    assert_points_at(
        &err,
        text,
        r#""page-lock""#,
        "unknown lock class `page-lock`",
    );
}

#[test]
fn unknown_scope_in_rule() {
    let text = r#"
[[class]]
id = "page-lock"
summary = "a page lock"
kinds = ["page lock"]

[[scope]]
id = "balloon code"
files = ["mm/balloon*.c"]

[[rule]]
id = "x/no-page-lock"
kind = "forbid"
summary = "s"
class = "page-lock"
scope = "ballon code"
"#;
    let err = load_error(text);
    assert_points_at(
        &err,
        text,
        r#""ballon code""#,
        "unknown scope `ballon code`",
    );
}

#[test]
fn unknown_access_in_rule() {
    let text = r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
globals = ["pages_lock"]

[[access]]
id = "private-write"
summary = "writes page->private"
shapes = ["page->private"]

[[scope]]
id = "balloon code"
files = ["mm/balloon*.c"]

[[rule]]
id = "x/needs-lock"
kind = "require"
summary = "s"
class = "pages-lock"
access = "private-writes"
scope = "balloon code"
"#;
    let err = load_error(text);
    assert_points_at(
        &err,
        text,
        r#""private-writes""#,
        "unknown access `private-writes`",
    );
}

#[test]
fn bad_file_glob_in_scope() {
    let text = r#"
[[scope]]
id = "balloon code"
files = [
  "mm/balloon*.c",
  "drivers/[virtio/virtio_balloon.c",
]
"#;
    let err = load_error(text);
    assert_points_at(
        &err,
        text,
        r#""drivers/[virtio/virtio_balloon.c""#,
        "bad glob",
    );
}

#[test]
fn bad_function_glob_in_scope() {
    let text = r#"
[[scope]]
id = "balloon code"
files = ["mm/balloon*.c"]
functions = ["balloon_*", "{vb_,vmballoon_*"]
"#;
    let err = load_error(text);
    assert_points_at(&err, text, r#""{vb_,vmballoon_*""#, "bad glob");
}

#[test]
fn malformed_struct_field_in_class() {
    let text = r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
fields = ["struct balloon_dev_info.pages_lock", "balloon_dev_info.pages_lock"]
"#;
    let err = load_error(text);
    assert_points_at(
        &err,
        text,
        r#""balloon_dev_info.pages_lock""#,
        "is not `struct NAME.field`",
    );
}

#[test]
fn malformed_struct_field_without_field() {
    let text = r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
fields = ["struct balloon_dev_info."]
"#;
    let err = load_error(text);
    assert_points_at(
        &err,
        text,
        r#""struct balloon_dev_info.""#,
        "is not `struct NAME.field`",
    );
}

#[test]
fn malformed_struct_field_in_access() {
    let text = r#"
[[access]]
id = "private-write"
summary = "writes page->private"
writes = ["struct page->private"]
"#;
    let err = load_error(text);
    assert_points_at(
        &err,
        text,
        r#""struct page->private""#,
        "is not `struct NAME.field`",
    );
}

#[test]
fn class_with_no_members() {
    let text = r#"
[[class]]
id = "page-lock"
summary = "a page lock"
kinds = ["page lock"]

[[class]]
id = "pages-lock"
summary = "the pages lock"
"#;
    let err = load_error(text);
    assert_points_at(
        &err,
        text,
        r#""pages-lock""#,
        "lock class `pages-lock` has no members",
    );
    assert!(err.help.is_some(), "no help for a class without members");
}

#[test]
fn access_that_matches_nothing() {
    let text = r#"
[[access]]
id = "private-write"
summary = "writes page->private"
"#;
    let err = load_error(text);
    assert_points_at(
        &err,
        text,
        r#""private-write""#,
        "access `private-write` matches nothing",
    );
}

#[test]
fn require_rule_without_access_can_never_match() {
    let text = r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
globals = ["pages_lock"]

[[scope]]
id = "balloon code"
files = ["mm/balloon*.c"]

[[rule]]
id = "x/needs-lock"
kind = "require"
summary = "s"
class = "pages-lock"
scope = "balloon code"
"#;
    let err = load_error(text);
    assert_points_at(&err, text, r#""x/needs-lock""#, "names no access");
    assert_eq!(err.label, "this rule can never match");
}

#[test]
fn require_rule_whose_class_has_no_lock_objects() {
    let text = r#"
[[class]]
id = "page-lock"
summary = "a page lock"
kinds = ["page lock"]

[[access]]
id = "private-write"
summary = "writes page->private"
shapes = ["page->private"]

[[scope]]
id = "balloon code"
files = ["mm/balloon*.c"]

[[rule]]
id = "x/needs-lock"
kind = "require"
summary = "s"
class = "page-lock"
access = "private-write"
scope = "balloon code"
"#;
    let err = load_error(text);
    let class_value = text.find(r#"class = "page-lock""#).unwrap() + "class = ".len();
    assert_eq!(
        line_col(text, err.span.offset()),
        line_col(text, class_value),
        "{}",
        err.message
    );
    assert!(err.message.contains("can never be held"), "{}", err.message);
}

#[test]
fn forbid_rule_whose_class_has_no_kinds() {
    let text = r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
globals = ["balloon_pages_lock"]

[[scope]]
id = "balloon code"
files = ["mm/balloon*.c"]

[[rule]]
id = "x/no-pages-lock"
kind = "forbid"
summary = "s"
class = "pages-lock"
scope = "balloon code"
"#;
    let err = load_error(text);
    let class_value = text.find(r#"class = "pages-lock""#).unwrap() + "class = ".len();
    assert_eq!(
        line_col(text, err.span.offset()),
        line_col(text, class_value),
        "{}",
        err.message
    );
    assert!(err.message.contains("no lock kinds"), "{}", err.message);
    assert_eq!(err.label, "this rule can never match");
}

/// `parse` then `RuleSet::add` report the same span as `Config::add`.
#[test]
fn parse_then_rule_set_add() {
    let text = r#"
[[class]]
id = "page-lock"
summary = "a page lock"
kinds = ["page lock"]

[[rule]]
id = "x/no-page-lock"
kind = "forbid"
summary = "s"
class = "page-lock"
scope = "nowhere"
"#;
    let file = parse(NAME, text).expect("the file is valid TOML");
    let mut set = RuleSet::default();
    let err = only(
        set.add(NAME, text, file)
            .expect_err("the rule names an unknown scope"),
    );
    assert_points_at(&err, text, r#""nowhere""#, "unknown scope `nowhere`");

    let misspelled = "[[rule]]\nid = \"x\"\nkind = \"require\"\nsumary = \"s\"\n";
    let err = parse(NAME, misspelled).expect_err("misspelled key");
    assert_points_at(&err, misspelled, "sumary", "unknown field `sumary`");
}

/// A user rule file added after the built-in ones may use their classes,
/// and its errors point into it, not into the built-in files.
#[test]
fn error_in_a_file_after_the_builtin_ones() {
    let text = r#"
[[scope]]
id = "my driver"
files = ["drivers/misc/my_balloon.c"]

[[rule]]
id = "mine/no-page-lock"
kind = "forbid"
summary = "s"
class = "page-lock"
scope = "my drivers"
"#;
    let mut config = builtin::config().expect("built-in rule files load");
    let err = only(
        config
            .add(NAME, text)
            .expect_err("the rule names an unknown scope"),
    );
    assert_points_at(&err, text, r#""my drivers""#, "unknown scope `my drivers`");

    let mut config = builtin::config().expect("built-in rule files load");
    let fixed = text.replace("\"my drivers\"", "\"my driver\"");
    config
        .add(NAME, &fixed)
        .expect("the built-in class `page-lock` is visible to later files");
}

/// A lock class defined twice in one file: the error is at the second id,
/// with a label at the first; a rule naming the class is no error.
#[test]
fn duplicate_class_id() {
    let text = r#"
[[class]]
id = "pages-lock"  # first
summary = "the pages lock"
globals = ["pages_lock"]

[[class]]
id = "pages-lock"  # again
summary = "another lock"
globals = ["other_lock"]

[[access]]
id = "private-write"
summary = "writes page->private"
shapes = ["page->private"]

[[scope]]
id = "balloon code"
files = ["mm/balloon*.c"]

[[rule]]
id = "x/needs-lock"
kind = "require"
summary = "s"
class = "pages-lock"
access = "private-write"
scope = "balloon code"
"#;
    let err = load_error(text);
    assert_points_at(
        &err,
        text,
        r#""pages-lock"  # again"#,
        "lock class `pages-lock` is defined twice",
    );
    let first = err.first.expect("a label at the first definition");
    assert_eq!(
        first.offset(),
        text.find(r#""pages-lock"  # first"#).unwrap(),
        "the label is not at the first definition"
    );
}

/// A duplicate of an id another file defined names that file.
#[test]
fn duplicate_of_an_id_in_another_file() {
    let text = r#"
[[class]]
id = "page-lock"
summary = "my page lock"
kinds = ["page lock"]
"#;
    let mut config = builtin::config().expect("built-in rule files load");
    let err = only(
        config
            .add(NAME, text)
            .expect_err("`page-lock` is a built-in class"),
    );
    assert_points_at(
        &err,
        text,
        r#""page-lock""#,
        "lock class `page-lock` is defined twice",
    );
    assert!(err.first.is_none(), "a label into the wrong file");
    assert_eq!(err.label, "already defined in rules/balloon.toml");
}

#[test]
fn duplicate_rule_and_scope_ids() {
    let text = r#"
[[class]]
id = "page-lock-2"
summary = "a page lock"
kinds = ["page lock"]

[[scope]]
id = "here"
files = ["mm/balloon*.c"]

[[scope]]
id = "here"  # again
files = ["mm/other.c"]

[[rule]]
id = "x/no-page-lock"
kind = "forbid"
summary = "s"
class = "page-lock-2"
scope = "here"

[[rule]]
id = "x/no-page-lock"  # again
kind = "forbid"
summary = "s"
class = "page-lock-2"
scope = "here"
"#;
    let errors = load_errors(text);
    assert_eq!(errors.len(), 2, "{}", RuleFileErrors(errors));
    assert_points_at(
        &errors[0],
        text,
        r#""here"  # again"#,
        "scope `here` is defined twice",
    );
    assert_points_at(
        &errors[1],
        text,
        r#""x/no-page-lock"  # again"#,
        "rule `x/no-page-lock` is defined twice",
    );
}

#[test]
fn rule_id_clashing_with_a_builtin() {
    for builtin in ["lock/double-acquire", "lockwarden/unused-suppression"] {
        let text = format!(
            r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
globals = ["pages_lock"]

[[access]]
id = "private-write"
summary = "writes page->private"
shapes = ["page->private"]

[[scope]]
id = "balloon code"
files = ["mm/balloon*.c"]

[[rule]]
id = "{builtin}"
kind = "require"
class = "pages-lock"
access = "private-write"
scope = "balloon code"
summary = "clashes"
"#
        );
        let err = load_error(&text);
        assert_points_at(
            &err,
            &text,
            &format!("\"{builtin}\""),
            &format!("rule id `{builtin}` is a built-in rule's id"),
        );
    }
}

#[test]
fn scope_with_no_files() {
    let text = r#"
[[scope]]
id = "nowhere"
files = []
"#;
    let err = load_error(text);
    assert_points_at(
        &err,
        text,
        "[]",
        "`files` of scope `nowhere` lists no file: its rules would never apply",
    );
    let text = r#"
[[scope]]
id = "nowhere"
functions = ["balloon_*"]
"#;
    let err = load_error(text);
    assert_points_at(&err, text, r#""nowhere""#, "scope `nowhere` has no `files`");
}

/// Every error of a file is reported, in the order of the file, and one
/// mistake does not bring others that are not (a duplicate is still checked).
#[test]
fn every_error_of_a_file() {
    let text = r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
fields = ["balloon_dev_info.pages_lock"]

[[scope]]
id = "nowhere"
files = []

[[scope]]
id = "nowhere"  # again
files = ["drivers/{virtio"]

[[rule]]
id = "x/no-page-lock"
kind = "forbid"
summary = "s"
class = "page-lock"
scope = "somewhere"
"#;
    let errors = load_errors(text);
    let want = [
        (
            r#""balloon_dev_info.pages_lock""#,
            "is not `struct NAME.field`",
        ),
        ("[]", "lists no file"),
        (r#""nowhere"  # again"#, "scope `nowhere` is defined twice"),
        (r#""drivers/{virtio""#, "bad glob"),
        (r#""page-lock""#, "unknown lock class `page-lock`"),
        (r#""somewhere""#, "unknown scope `somewhere`"),
    ];
    assert_eq!(errors.len(), want.len(), "{}", RuleFileErrors(errors));
    for (err, (needle, what)) in errors.iter().zip(want) {
        assert_points_at(err, text, needle, what);
    }
}

/// `Config::add_all` reports the errors of every file, each in its file.
#[test]
fn errors_of_two_files_at_once() {
    let a = "[[scope]]\nid = \"a\"\nfiles = []\n";
    let b = "[[class]]\nid = \"page-lock\"\nsummary = \"s\"\nkinds = [\"page lock\"]\n";
    let mut config = builtin::config().expect("built-in rule files load");
    let RuleFileErrors(errors) = config
        .add_all([("rules/a.toml", a), ("rules/b.toml", b)])
        .expect_err("both files are broken");
    let names: Vec<&str> = errors.iter().map(|e| e.src.name()).collect();
    assert_eq!(names, ["rules/a.toml", "rules/b.toml"]);
    assert!(errors[0].message.contains("lists no file"));
    assert!(errors[1].message.contains("`page-lock` is defined twice"));
}
