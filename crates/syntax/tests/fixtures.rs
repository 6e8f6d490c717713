//! Fixture tests for the C frontend.
//!
//! Every `fixtures/syntax/*.c` states what the frontend must find in
//! `// expect-…:` comments, one per line, anywhere in the file:
//!
//! - `// expect-functions: a b c` — the function definitions the outline
//!   finds, exactly and in source order (required; may be split over several
//!   lines, which are joined in order);
//! - `// expect-parse-errors: f` — functions whose body has parse errors
//!   (every other function must have none);
//! - `// expect-fact: f __acquires` — a definition of `f` carries that fact;
//! - `// expect-prototype-fact: f __must_hold` — the same for a prototype;
//! - `// expect-global: name type` — a file-scope variable whose type base is
//!   the rest of the line;
//! - `// expect-loop: macro N` — exactly `N` loop-macro uses named `macro`;
//! - `// expect-stray-bodies: N` — file-scope blocks lost to parse errors
//!   (default 0).
//!
//! One test per fixture, run by name (`cargo test -p lockwarden-syntax --test
//! fixtures -- guard.c`), listing every mismatch of that fixture. The idiom
//! pass must also preserve length and newlines.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lockwarden_syntax::outline::Outline;
use lockwarden_syntax::walk::preorder;
use lockwarden_syntax::{CompiledMacros, MacroConfig, MacroUseKind, ParsedFile, Span};
use serde::Deserialize;

/// The expectations written in one fixture.
#[derive(Debug, Default)]
struct Expectations {
    functions: Option<Vec<String>>,
    parse_errors: Vec<String>,
    facts: Vec<(String, String)>,
    prototype_facts: Vec<(String, String)>,
    globals: Vec<(String, String)>,
    loops: Vec<(String, usize)>,
    stray_bodies: Option<usize>,
}

/// Reads the `// expect-…:` lines of `src`; malformed ones are added to `problems`.
fn expectations(src: &str, problems: &mut Vec<String>) -> Expectations {
    let mut exp = Expectations::default();
    for (i, line) in src.lines().enumerate() {
        let Some(at) = line.find("// expect-") else {
            continue;
        };
        let directive = &line[at + "// ".len()..];
        let line_no = i + 1;
        let Some((key, value)) = directive.split_once(':') else {
            problems.push(format!(
                "line {line_no}: expectation without `:`: {directive}"
            ));
            continue;
        };
        let value = value.trim();
        let words: Vec<&str> = value.split_whitespace().collect();
        let mut pair = || match words.as_slice() {
            [first, rest @ ..] if !rest.is_empty() => Some((first.to_string(), rest.join(" "))),
            _ => {
                problems.push(format!(
                    "line {line_no}: `{key}` needs a name and a value: {directive}"
                ));
                None
            }
        };
        match key {
            "expect-functions" => exp
                .functions
                .get_or_insert_with(Vec::new)
                .extend(words.iter().map(ToString::to_string)),
            "expect-parse-errors" => exp
                .parse_errors
                .extend(words.iter().map(ToString::to_string)),
            "expect-fact" => exp.facts.extend(pair()),
            "expect-prototype-fact" => exp.prototype_facts.extend(pair()),
            "expect-global" => exp.globals.extend(pair()),
            "expect-loop" => {
                if let Some((name, count)) = pair() {
                    match count.parse() {
                        Ok(n) => exp.loops.push((name, n)),
                        Err(_) => problems.push(format!(
                            "line {line_no}: loop count is not a number: {directive}"
                        )),
                    }
                }
            }
            "expect-stray-bodies" => match value.parse() {
                Ok(n) if exp.stray_bodies.is_none() => exp.stray_bodies = Some(n),
                Ok(_) => {
                    problems.push(format!("line {line_no}: `expect-stray-bodies` given twice"));
                }
                Err(_) => problems.push(format!(
                    "line {line_no}: stray-body count is not a number: {directive}"
                )),
            },
            other => problems.push(format!("line {line_no}: unknown expectation `{other}`")),
        }
    }
    if exp.functions.is_none() {
        problems
            .push("no `// expect-functions:` line (every fixture must state its functions)".into());
    }
    exp
}

fn builtin_macros() -> CompiledMacros {
    #[derive(Deserialize)]
    struct RuleFile {
        syntax: MacroConfig,
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/syntax.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let file: RuleFile =
        toml::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
    file.syntax.compile()
}

fn fixture_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/syntax");
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    files.sort();
    files
}

/// `line:col` of a byte offset.
fn at(file: &ParsedFile, offset: u32) -> String {
    let (line, col) = file.line_col(offset);
    format!("{line}:{col}")
}

/// Where the first few `ERROR`/`MISSING` nodes inside `span` are, with the
/// source line each is on.
fn error_sites(file: &ParsedFile, span: Span) -> Vec<String> {
    let mut sites = Vec::new();
    preorder(file.tree.root_node(), |node| {
        let node_span = Span::of(node);
        if node_span.end <= span.start || node_span.start >= span.end || !node.has_error() {
            return false;
        }
        if (node.is_error() || node.is_missing()) && sites.len() < 3 {
            let what = if node.is_missing() {
                format!("MISSING {}", node.kind())
            } else {
                "ERROR".to_owned()
            };
            let line = file.line_col(node_span.start).0 as usize;
            let text = String::from_utf8_lossy(&file.source)
                .lines()
                .nth(line - 1)
                .unwrap_or("")
                .trim()
                .to_owned();
            sites.push(format!("{what} at {}: `{text}`", at(file, node_span.start)));
        }
        true
    });
    sites
}

/// The elements of `a` not matched by an element of `b`, counting repeats.
fn multiset_minus(a: &[String], b: &[String]) -> Vec<String> {
    let mut left: BTreeMap<&str, usize> = BTreeMap::new();
    for x in b {
        *left.entry(x).or_default() += 1;
    }
    a.iter()
        .filter(|x| match left.get_mut(x.as_str()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}

/// Checks one fixture; returns its mismatches.
fn check(path: &Path, macros: &CompiledMacros) -> Vec<String> {
    let mut problems = Vec::new();
    let source = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let exp = expectations(&String::from_utf8_lossy(&source), &mut problems);
    let Some(file) = ParsedFile::parse(source, macros) else {
        problems.push("tree-sitter returned no tree".into());
        return problems;
    };
    let outline = Outline::of(&file);
    check_bytes(&file, &mut problems);
    check_functions(&file, &outline, &exp, &mut problems);
    check_facts(&outline, &exp, &mut problems);
    check_globals_and_loops(&file, &outline, &exp, &mut problems);
    problems
}

/// The idiom pass must keep the length and every newline in place.
fn check_bytes(file: &ParsedFile, problems: &mut Vec<String>) {
    if file.text.len() != file.source.len() {
        problems.push(format!(
            "parsed text is {} bytes, source is {}",
            file.text.len(),
            file.source.len()
        ));
    }
    let newlines = |bytes: &[u8]| -> Vec<usize> {
        bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .map(|(i, _)| i)
            .collect()
    };
    let (src_nl, text_nl) = (newlines(&file.source), newlines(&file.text));
    if src_nl != text_nl {
        let first = src_nl
            .iter()
            .zip(&text_nl)
            .position(|(a, b)| a != b)
            .unwrap_or(src_nl.len().min(text_nl.len()));
        problems.push(format!(
            "newlines moved: source has {}, parsed text {}; first difference at newline #{}",
            src_nl.len(),
            text_nl.len(),
            first + 1
        ));
    }
}

/// Function names in order, parse errors per function, and stray bodies.
fn check_functions(
    file: &ParsedFile,
    outline: &Outline,
    exp: &Expectations,
    problems: &mut Vec<String>,
) {
    let found: Vec<String> = outline.functions.iter().map(|f| f.name.clone()).collect();
    if let Some(expected) = &exp.functions {
        let missing = multiset_minus(expected, &found);
        let unexpected = multiset_minus(&found, expected);
        if !missing.is_empty() {
            problems.push(format!("missing functions: {missing:?}"));
        }
        if !unexpected.is_empty() {
            let sites: Vec<String> = outline
                .functions
                .iter()
                .filter(|f| unexpected.contains(&f.name))
                .map(|f| format!("{} at {}", f.name, at(file, f.name_span.start)))
                .collect();
            problems.push(format!("unexpected functions: {sites:?}"));
        }
        if missing.is_empty() && unexpected.is_empty() && *expected != found {
            problems.push(format!(
                "functions out of order: expected {expected:?}, found {found:?}"
            ));
        }
    }

    for f in &outline.functions {
        let expected_error = exp.parse_errors.contains(&f.name);
        if f.parse_errors > 0 && !expected_error {
            problems.push(format!(
                "unexpected parse errors in `{}` ({}): {}",
                f.name,
                f.parse_errors,
                error_sites(file, f.body).join("; ")
            ));
        } else if f.parse_errors == 0 && expected_error {
            problems.push(format!("expected parse errors in `{}`, found none", f.name));
        }
    }
    for name in &exp.parse_errors {
        if !found.contains(name) {
            problems.push(format!(
                "`expect-parse-errors: {name}` names no function definition"
            ));
        }
    }

    let stray = exp.stray_bodies.unwrap_or(0);
    if outline.stray_bodies.len() != stray {
        let sites: Vec<String> = outline
            .stray_bodies
            .iter()
            .map(|s| at(file, s.start))
            .collect();
        problems.push(format!(
            "expected {stray} stray bodies, found {} {sites:?}",
            outline.stray_bodies.len()
        ));
    }
}

/// Annotation facts on definitions and on prototypes.
fn check_facts(outline: &Outline, exp: &Expectations, problems: &mut Vec<String>) {
    for (name, fact) in &exp.facts {
        let defs: Vec<_> = outline
            .functions
            .iter()
            .filter(|f| &f.name == name)
            .collect();
        if defs.is_empty() {
            problems.push(format!(
                "fact {fact} expected on `{name}`, which is not defined"
            ));
        } else if !defs.iter().any(|f| f.facts.iter().any(|x| &x.name == fact)) {
            let has: Vec<&str> = defs
                .iter()
                .flat_map(|f| f.facts.iter().map(|x| x.name.as_str()))
                .collect();
            problems.push(format!(
                "missing fact {fact} on definition `{name}` (it has {has:?})"
            ));
        }
    }
    for (name, fact) in &exp.prototype_facts {
        let protos: Vec<_> = outline
            .prototypes
            .iter()
            .filter(|p| &p.name == name)
            .collect();
        if protos.is_empty() {
            let all: Vec<&str> = outline.prototypes.iter().map(|p| p.name.as_str()).collect();
            problems.push(format!(
                "fact {fact} expected on prototype `{name}`, which is not found (prototypes: {all:?})"
            ));
        } else if !protos
            .iter()
            .any(|p| p.facts.iter().any(|x| &x.name == fact))
        {
            let has: Vec<&str> = protos
                .iter()
                .flat_map(|p| p.facts.iter().map(|x| x.name.as_str()))
                .collect();
            problems.push(format!(
                "missing fact {fact} on prototype `{name}` (it has {has:?})"
            ));
        }
    }
}

/// File-scope variables and loop-macro counts.
fn check_globals_and_loops(
    file: &ParsedFile,
    outline: &Outline,
    exp: &Expectations,
    problems: &mut Vec<String>,
) {
    for (name, ty) in &exp.globals {
        let types: Vec<&str> = outline
            .globals
            .iter()
            .filter(|g| &g.name == name)
            .map(|g| g.ty.base.as_str())
            .collect();
        if !types.contains(&ty.as_str()) {
            problems.push(format!(
                "missing global `{name}` of type `{ty}` (globals named so have types {types:?})"
            ));
        }
    }
    for (name, count) in &exp.loops {
        let n = file
            .macros
            .iter()
            .filter(|m| m.kind == MacroUseKind::Loop && file.source_text(m.name) == name)
            .count();
        if n != *count {
            problems.push(format!("expected {count} loop uses of `{name}`, found {n}"));
        }
    }
}

fn main() {
    let args = libtest_mimic::Arguments::from_args();
    let macros = std::sync::Arc::new(builtin_macros());
    let files = fixture_files();
    assert!(!files.is_empty(), "no fixtures in fixtures/syntax");
    let trials = files
        .into_iter()
        .map(|path| {
            let macros = macros.clone();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            libtest_mimic::Trial::test(name.clone(), move || {
                let problems = check(&path, &macros);
                if problems.is_empty() {
                    return Ok(());
                }
                let mut report = format!("fixtures/syntax/{name}:\n");
                for p in problems {
                    let _ = writeln!(report, "  - {p}");
                }
                Err(report.into())
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
