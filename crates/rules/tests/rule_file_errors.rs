//! Every kind of error in a rule file is a diagnostic whose span points at
//! the bad text (SPEC.md §3). Each check writes a broken rule file, loads it,
//! converts the error's byte offset to a 1-based line and column, and
//! compares that with where the bad text is in the check's TOML literal.
//!
//! Most checks have one shape: a rule file loaded on its own is rejected with
//! exactly one error, whose span starts at the only occurrence of a needle in
//! the text and whose message mentions some words. Those are the rows of
//! [`CASES`], run by `every_rule_file_error_points_at_its_text`, which reports
//! every failing row by name at once. To add one, append a [`Case`] to
//! [`CASES`] with a new unique `name`, the rule file as a raw string `text`,
//! a `needle` that occurs exactly once in it, and the words `what` the message
//! must contain. A check that needs more (several errors, the built-in rule
//! files, a label, help, a position that is not a needle's start) is its own
//! `#[test]` below the table, using the same helpers.

use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};

use lockwarden_rules::builtin::{self, Config};
use lockwarden_rules::file::{parse, RuleFileError, RuleFileErrors, RuleSet};

/// How the rule files of these tests are named in diagnostics.
const NAME: &str = "rules/broken.toml";

/// A rule file that, loaded on its own, must be rejected with exactly one
/// error that points at `needle` and mentions `what` (see [`check_points_at`]).
struct Case {
    /// Names the case in failures; unique in [`CASES`].
    name: &'static str,
    /// The whole rule file.
    text: &'static str,
    /// Text that occurs exactly once in `text`, where the error must point.
    needle: &'static str,
    /// Words the error's message must contain.
    what: &'static str,
}

/// The rule files whose single error is checked by `every_rule_file_error_points_at_its_text`.
const CASES: &[Case] = &[
    Case {
        name: "toml_syntax_error",
        text: r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
globals = ["pages_lock" "other_lock"]
"#,
        needle: r#""other_lock""#,
        what: "invalid rule file",
    },
    Case {
        name: "unknown_key",
        text: r#"
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
"#,
        needle: "colour",
        what: "unknown field `colour`",
    },
    Case {
        name: "unknown_top_level_table",
        text: r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
globals = ["pages_lock"]

[[scopes]]
id = "balloon code"
"#,
        needle: "scopes",
        what: "unknown field `scopes`",
    },
    Case {
        name: "unknown_rule_kind",
        text: r#"
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
"#,
        needle: r#""allow""#,
        what: "allow",
    },
    Case {
        name: "unknown_class_in_rule",
        text: r#"
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
"#,
        needle: r#""page-lock""#,
        what: "unknown lock class `page-lock`",
    },
    Case {
        name: "unknown_scope_in_rule",
        text: r#"
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
"#,
        needle: r#""ballon code""#,
        what: "unknown scope `ballon code`",
    },
    Case {
        name: "unknown_access_in_rule",
        text: r#"
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
"#,
        needle: r#""private-writes""#,
        what: "unknown access `private-writes`",
    },
    Case {
        name: "bad_file_glob_in_scope",
        text: r#"
[[scope]]
id = "balloon code"
files = [
  "mm/balloon*.c",
  "drivers/[virtio/virtio_balloon.c",
]
"#,
        needle: r#""drivers/[virtio/virtio_balloon.c""#,
        what: "bad glob",
    },
    Case {
        name: "bad_function_glob_in_scope",
        text: r#"
[[scope]]
id = "balloon code"
files = ["mm/balloon*.c"]
functions = ["balloon_*", "{vb_,vmballoon_*"]
"#,
        needle: r#""{vb_,vmballoon_*""#,
        what: "bad glob",
    },
    Case {
        name: "malformed_struct_field_in_class",
        text: r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
fields = ["struct balloon_dev_info.pages_lock", "balloon_dev_info.pages_lock"]
"#,
        needle: r#""balloon_dev_info.pages_lock""#,
        what: "is not `struct NAME.field`",
    },
    Case {
        name: "malformed_struct_field_without_field",
        text: r#"
[[class]]
id = "pages-lock"
summary = "the pages lock"
fields = ["struct balloon_dev_info."]
"#,
        needle: r#""struct balloon_dev_info.""#,
        what: "is not `struct NAME.field`",
    },
    Case {
        name: "malformed_struct_field_in_access",
        text: r#"
[[access]]
id = "private-write"
summary = "writes page->private"
writes = ["struct page->private"]
"#,
        needle: r#""struct page->private""#,
        what: "is not `struct NAME.field`",
    },
    Case {
        name: "access_that_matches_nothing",
        text: r#"
[[access]]
id = "private-write"
summary = "writes page->private"
"#,
        needle: r#""private-write""#,
        what: "access `private-write` matches nothing",
    },
    Case {
        name: "scope_with_empty_files_list",
        text: r#"
[[scope]]
id = "nowhere"
files = []
"#,
        needle: "[]",
        what: "`files` of scope `nowhere` lists no file: its rules would never apply",
    },
    Case {
        name: "scope_without_files_key",
        text: r#"
[[scope]]
id = "nowhere"
functions = ["balloon_*"]
"#,
        needle: r#""nowhere""#,
        what: "scope `nowhere` has no `files`",
    },
];

/// Runs every row of [`CASES`] and fails once, naming each failing case.
#[test]
fn every_rule_file_error_points_at_its_text() {
    let mut names = HashSet::new();
    for case in CASES {
        assert!(
            names.insert(case.name),
            "two cases are named `{}`",
            case.name
        );
    }
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|case| {
            run_case(case)
                .err()
                .map(|why| format!("case `{}`: {why}", case.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n\n")
    );
}

/// Loads `case.text` and checks its one error; a panic (in the loader, say)
/// is a failure of this case, not of the whole table.
fn run_case(case: &Case) -> Result<(), String> {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let err = try_load_error(case.text)?;
        check_points_at(&err, case.text, case.needle, case.what)
    }));
    outcome.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a panic with no message");
        Err(format!("panicked: {message}"))
    })
}

/// Loads `text` as a rule file on its own; it must be rejected.
fn try_load_errors(text: &str) -> Result<Vec<RuleFileError>, String> {
    let mut config = Config::default();
    match config.add(NAME, text) {
        Ok(()) => Err(format!("the rule file was accepted:\n{text}")),
        Err(RuleFileErrors(errors)) => Ok(errors),
    }
}

/// [`try_load_errors`], panicking if the file is accepted.
fn load_errors(text: &str) -> Vec<RuleFileError> {
    try_load_errors(text).unwrap_or_else(|why| panic!("{why}"))
}

/// Loads `text` as a rule file on its own; it must be rejected with one error.
fn try_load_error(text: &str) -> Result<RuleFileError, String> {
    one_error(try_load_errors(text)?)
}

/// [`try_load_error`], panicking unless there is exactly one error.
fn load_error(text: &str) -> RuleFileError {
    try_load_error(text).unwrap_or_else(|why| panic!("{why}"))
}

/// The only error of `errors`.
fn one_error(mut errors: Vec<RuleFileError>) -> Result<RuleFileError, String> {
    if errors.len() == 1 {
        Ok(errors.remove(0))
    } else {
        Err(format!(
            "want one error, got {}:\n{}",
            errors.len(),
            RuleFileErrors(errors)
        ))
    }
}

/// The only error of `errors`, panicking if there is not exactly one.
fn only(errors: RuleFileErrors) -> RuleFileError {
    let RuleFileErrors(errors) = errors;
    one_error(errors).unwrap_or_else(|why| panic!("{why}"))
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

/// Checks that `err` is about `text`, named [`NAME`], that its span starts
/// where the only occurrence of `needle` starts and covers it (or, for a
/// syntax error, starts inside it), and that its message mentions `what`.
fn check_points_at(
    err: &RuleFileError,
    text: &str,
    needle: &str,
    what: &str,
) -> Result<(), String> {
    let occurrences = text.matches(needle).count();
    if occurrences != 1 {
        return Err(format!(
            "test bug: `{needle}` must occur exactly once in the rule file, \
             it occurs {occurrences} times"
        ));
    }
    let at = text.find(needle).unwrap();
    let offset = err.span.offset();
    let len = err.span.len();
    let Some(spanned) = text.get(offset..offset + len) else {
        return Err(format!(
            "`{}` has span {offset}..{}, not a slice of the {}-byte rule file",
            err.message,
            offset + len,
            text.len()
        ));
    };
    let expected = line_col(text, at);
    let got = line_col(text, offset);
    if got != expected {
        return Err(format!(
            "`{}` points at {NAME}:{}:{} (`{spanned}`), want {NAME}:{}:{} (`{needle}`)",
            err.message, got.0, got.1, expected.0, expected.1
        ));
    }
    if !(spanned.starts_with(needle) || needle.starts_with(spanned)) {
        return Err(format!("span `{spanned}` does not cover `{needle}`"));
    }
    if err.src.name() != NAME {
        return Err(format!(
            "diagnostic names the wrong file: `{}`, want `{NAME}`",
            err.src.name()
        ));
    }
    if !err.message.contains(what) {
        return Err(format!(
            "message `{}` does not mention `{what}`",
            err.message
        ));
    }
    Ok(())
}

/// [`check_points_at`], panicking with its complaint.
fn assert_points_at(err: &RuleFileError, text: &str, needle: &str, what: &str) {
    if let Err(why) = check_points_at(err, text, needle, what) {
        panic!("{why}");
    }
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
