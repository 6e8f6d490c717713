//! The fixture harness shared by the rule tests.
//!
//! A fixture is a `.c` file analysed alone, or a directory analysed as one
//! program (all its `.c` and `.h` files, at any depth, with paths relative to
//! the directory, so scope globs such as `mm/balloon*.c` match). Expected
//! findings are written on the line of the finding: `/* expect: RULE-ID */`
//! (several ids separated by commas or spaces); a fixture without one must
//! produce no finding of the rules under test. The found and expected
//! `(file, line, rule)` multisets are compared exactly, with false
//! positives and false negatives listed separately.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lockwarden_report::{render, Format, NoSources, RenderOptions, Report};
use lockwarden_rules::Checker;

/// One finding, as compared: file (relative to the case), line, rule id.
type Key = (String, u32, String);

/// A case: its name for messages and its files (relative path, contents).
pub struct Fixture {
    name: String,
    files: Vec<(PathBuf, Vec<u8>)>,
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .collect();
    paths.sort();
    paths
}

fn has_ext(path: &Path, exts: &[&str]) -> bool {
    path.extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| exts.contains(&x))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The `.c` and `.h` files under `dir`, at any depth, relative to `root`.
fn tree_files(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for path in sorted_entries(dir) {
        if path.is_dir() {
            tree_files(root, &path, out);
        } else if has_ext(&path, &["c", "h"]) {
            let rel = path.strip_prefix(root).expect("under the case directory");
            out.push((rel.to_owned(), read(&path)));
        }
    }
}

/// Every case directory and single-file case of `dir`, in name order.
fn fixtures(dir: &Path) -> Vec<Fixture> {
    let mut out = Vec::new();
    for path in sorted_entries(dir) {
        let name = file_name(&path);
        if path.is_dir() {
            let mut files = Vec::new();
            tree_files(&path, &path, &mut files);
            out.push(Fixture {
                name: format!("{name}/"),
                files,
            });
        } else if has_ext(&path, &["c"]) {
            out.push(Fixture {
                name: name.clone(),
                files: vec![(PathBuf::from(name), read(&path))],
            });
        }
    }
    out
}

/// The severities some expectations name, by finding.
type Severities = BTreeMap<Key, String>;

/// The `expect:` comments of one file.
fn expectations(
    file: &str,
    source: &[u8],
    rules: &str,
    severities: &mut Severities,
    problems: &mut Vec<String>,
) -> Vec<Key> {
    let text = String::from_utf8_lossy(source);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u32 + 1;
        let mut rest = line;
        while let Some(at) = rest.find("expect:") {
            rest = &rest[at + "expect:".len()..];
            let ids = rest.split("*/").next().unwrap_or("");
            let before = out.len();
            for id in ids
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
            {
                let (id, severity) = match id.split_once('(') {
                    Some((id, rest)) => (id, Some(rest.trim_end_matches(')'))),
                    None => (id, None),
                };
                if !id.starts_with(rules) {
                    problems.push(format!(
                        "{file}:{line_no}: expectation `{id}` is not a {rules}* rule id"
                    ));
                    continue;
                }
                let key = (file.to_owned(), line_no, id.to_owned());
                if let Some(severity) = severity {
                    severities.insert(key.clone(), severity.to_owned());
                }
                out.push(key);
            }
            if out.len() == before {
                problems.push(format!("{file}:{line_no}: empty expectation"));
            }
        }
    }
    out
}

/// The elements of `a` not matched by an element of `b`, counting repeats.
fn multiset_minus<'a>(a: &'a [Key], b: &[Key]) -> Vec<&'a Key> {
    let mut left: BTreeMap<&Key, usize> = BTreeMap::new();
    for x in b {
        *left.entry(x).or_default() += 1;
    }
    a.iter()
        .filter(|x| match left.get_mut(x) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

/// Every fixture of `fixtures/<suite>`, in name order.
pub fn all_fixtures(suite: &str) -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(suite);
    let all = fixtures(&dir);
    assert!(!all.is_empty(), "no fixtures in fixtures/{suite}");
    all
}

impl Fixture {
    /// The fixture's name: its file name, or its directory's with a `/`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Checks one fixture of `fixtures/<suite>` against the rules whose id starts
/// with `rules`: `Err` lists its false positives, false negatives and
/// malformed expectations. A `known-gap:` fixture documents an engine
/// limitation: it passes while it mismatches, and fails once it matches (so
/// its comment is removed). Returns the findings in gcc format, for the
/// fixture's snapshot.
pub fn check_fixture(
    checker: &Checker,
    suite: &str,
    rules: &str,
    fixture: &Fixture,
) -> Result<String, String> {
    if fixture.files.is_empty() {
        return Err(format!("{}: no .c or .h files", fixture.name));
    }
    let prefix = format!(
        "fixtures/{suite}/{}",
        if fixture.name.ends_with('/') {
            fixture.name.as_str()
        } else {
            ""
        }
    );
    let mut expected = Vec::new();
    let mut severities = Severities::new();
    let mut problems = Vec::new();
    for (path, source) in &fixture.files {
        let file = path.to_string_lossy().replace('\\', "/");
        let mut local = Vec::new();
        expected.extend(expectations(
            &file,
            source,
            rules,
            &mut severities,
            &mut local,
        ));
        problems.extend(local.into_iter().map(|p| format!("{prefix}{p}")));
    }
    let outcome = checker
        .check(fixture.files.clone())
        .map_err(|bad| format!("{}: {bad}", fixture.name))?;
    let found: Vec<Key> = outcome
        .findings
        .iter()
        .filter(|f| f.rule.starts_with(rules))
        .map(|f| (f.location.file.clone(), f.location.line, f.rule.clone()))
        .collect();
    for f in &outcome.findings {
        let key = (f.location.file.clone(), f.location.line, f.rule.clone());
        if let Some(want) = severities.get(&key) {
            if f.severity.as_str() != want {
                problems.push(format!(
                    "{prefix}{}:{} {}: severity {}, expected {want}",
                    key.0,
                    key.1,
                    key.2,
                    f.severity.as_str()
                ));
            }
        }
    }
    let report = Report {
        root: String::new(),
        findings: outcome.findings,
        summary: outcome.summary,
    };
    let gcc = render(
        &report,
        Format::Gcc,
        &checker.rules(),
        &NoSources,
        &RenderOptions::default(),
    );
    let fps = multiset_minus(&found, &expected);
    let fns = multiset_minus(&expected, &found);
    let known_gap = fixture
        .files
        .iter()
        .any(|(_, source)| String::from_utf8_lossy(source).contains("known-gap:"));
    if known_gap {
        return if fps.is_empty() && fns.is_empty() && problems.is_empty() {
            Err(format!(
                "{}: known gap is fixed; remove its known-gap comment",
                fixture.name
            ))
        } else {
            Ok(gcc)
        };
    }
    if fps.is_empty() && fns.is_empty() && problems.is_empty() {
        return Ok(gcc);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} findings expected, {} found; {} false positives, {} false negatives",
        expected.len(),
        found.len(),
        fps.len(),
        fns.len()
    );
    for (file, line, rule) in fps {
        let message = report
            .findings
            .iter()
            .find(|f| &f.location.file == file && f.location.line == *line && &f.rule == rule)
            .map(|f| f.message.as_str())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  false positive: {prefix}{file}:{line} {rule} {message}"
        );
    }
    for (file, line, rule) in fns {
        let _ = writeln!(out, "  false negative: {prefix}{file}:{line} {rule}");
    }
    for problem in problems {
        let _ = writeln!(out, "  malformed: {problem}");
    }
    Err(out)
}
