//! The rule file format (`rules/*.toml`, documented in `rules/README.md`):
//! the macro vocabulary (`[syntax]`), the lock API (`[locks]`), and lock
//! classes, access patterns, scopes and rules. Every error is a miette
//! diagnostic pointing into the file.

// Rule-file errors carry their source for rendering; they are rare and the
// size of an `Err` on these cold paths does not matter.
#![allow(clippy::result_large_err)]

use std::ops::Range;

use globset::{Glob, GlobSet, GlobSetBuilder};
use lockwarden_flow::LockApiConfig;
use lockwarden_report::Severity;
use lockwarden_syntax::MacroConfig;
use miette::{Diagnostic, NamedSource, SourceSpan};
use serde::Deserialize;
use toml::Spanned;

/// A lock class: the locks a rule speaks about.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassDef {
    pub id: Spanned<String>,
    pub summary: String,
    /// File-scope lock variables (`balloon_pages_lock`).
    #[serde(default)]
    pub globals: Vec<String>,
    /// Lock fields as `struct NAME.field` (`struct balloon_dev_info.pages_lock`).
    #[serde(default)]
    pub fields: Vec<Spanned<String>>,
    /// Lock kinds of the lock API (`page lock`): every lock its calls name.
    #[serde(default)]
    pub kinds: Vec<String>,
}

/// A call that is an access: `set_page_private(page, v)` writes `page->private`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessCall {
    pub name: String,
    /// The argument holding the object accessed.
    #[serde(default)]
    pub arg: usize,
}

/// An access pattern.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessDef {
    pub id: Spanned<String>,
    pub summary: String,
    /// Field writes as `struct NAME.field`.
    #[serde(default)]
    pub writes: Vec<Spanned<String>>,
    /// Written expressions matched by shape where types are unknown (`page->private`).
    #[serde(default)]
    pub shapes: Vec<String>,
    #[serde(default)]
    pub calls: Vec<AccessCall>,
}

/// Where a rule applies.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeDef {
    pub id: Spanned<String>,
    /// File globs, relative to the tree root.
    #[serde(default)]
    pub files: Vec<Spanned<String>>,
    /// Function-name globs; all functions when empty.
    #[serde(default)]
    pub functions: Vec<Spanned<String>>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// An access in scope needs the class held.
    Require,
    /// The class must not be acquired, tried or released in scope, directly or through a callee.
    Forbid,
}

/// A rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub id: Spanned<String>,
    pub kind: RuleKind,
    pub summary: String,
    #[serde(default = "default_severity")]
    pub severity: Severity,
    pub class: Spanned<String>,
    #[serde(default)]
    pub access: Option<Spanned<String>>,
    pub scope: Spanned<String>,
    #[serde(default)]
    pub help: Option<String>,
    /// Longer documentation, shown by `lockwarden rules ID`.
    #[serde(default)]
    pub doc: Option<String>,
    /// Forbid rules: how many calls deep a callee may take the class and
    /// still be reported (`set_page_dirty_lock()` → `lock_page()` is 1).
    /// Deeper chains through the whole kernel (anything may end up in the
    /// scheduler or reclaim) say more about the call graph than the code.
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
}

fn default_severity() -> Severity {
    Severity::Error
}

fn default_max_depth() -> usize {
    3
}

/// One rule file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub syntax: MacroConfig,
    #[serde(default)]
    pub locks: LockApiConfig,
    #[serde(default)]
    pub class: Vec<ClassDef>,
    #[serde(default)]
    pub access: Vec<AccessDef>,
    #[serde(default)]
    pub scope: Vec<ScopeDef>,
    #[serde(default)]
    pub rule: Vec<RuleDef>,
}

/// An error in a rule file, with the span it is about.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code(lockwarden::rule_file))]
pub struct RuleFileError {
    pub message: String,
    #[source_code]
    pub src: NamedSource<String>,
    #[label("{label}")]
    pub span: SourceSpan,
    pub label: String,
    #[help]
    pub help: Option<String>,
}

impl RuleFileError {
    fn new(
        name: &str,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        RuleFileError {
            message: message.into(),
            src: NamedSource::new(name, text.to_owned()),
            span: span.into(),
            label: label.into(),
            help: None,
        }
    }

    fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Parses one rule file; `name` is how errors name it.
pub fn parse(name: &str, text: &str) -> Result<RuleFile, RuleFileError> {
    toml::from_str::<RuleFile>(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        RuleFileError::new(
            name,
            text,
            span,
            format!("invalid rule file: {}", e.message()),
            "here",
        )
    })
}

/// A rule file's rules, checked and compiled, keeping where each came from.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub classes: Vec<ClassDef>,
    pub accesses: Vec<AccessDef>,
    pub scopes: Vec<(ScopeDef, GlobSet, Option<GlobSet>)>,
    pub rules: Vec<RuleDef>,
}

/// The ids of one kind of definition: the kind, this file's ids, the ids
/// already loaded.
type IdsOfKind<'a> = (&'a str, Vec<&'a Spanned<String>>, Vec<&'a String>);

fn glob_set(name: &str, text: &str, globs: &[Spanned<String>]) -> Result<GlobSet, RuleFileError> {
    let mut builder = GlobSetBuilder::new();
    for g in globs {
        let glob = Glob::new(g.get_ref()).map_err(|e| {
            RuleFileError::new(
                name,
                text,
                g.span(),
                format!("bad glob `{}`: {e}", g.get_ref()),
                "this glob",
            )
        })?;
        builder.add(glob);
    }
    builder
        .build()
        .map_err(|e| RuleFileError::new(name, text, 0..0, format!("bad globs: {e}"), "here"))
}

fn check_record_field(
    name: &str,
    text: &str,
    value: &Spanned<String>,
) -> Result<(), RuleFileError> {
    let ok = value
        .get_ref()
        .split_once('.')
        .is_some_and(|(record, field)| {
            (record.starts_with("struct ") || record.starts_with("union ")) && !field.is_empty()
        });
    if ok {
        Ok(())
    } else {
        Err(RuleFileError::new(
            name,
            text,
            value.span(),
            format!("`{}` is not `struct NAME.field`", value.get_ref()),
            "expected `struct NAME.field`",
        ))
    }
}

impl RuleSet {
    /// The same definitions with only the rules `selected` accepts.
    pub fn selected(&self, selected: &dyn Fn(&str) -> bool) -> RuleSet {
        RuleSet {
            classes: self.classes.clone(),
            accesses: self.accesses.clone(),
            scopes: self.scopes.clone(),
            rules: self
                .rules
                .iter()
                .filter(|r| selected(r.id.get_ref()))
                .cloned()
                .collect(),
        }
    }

    /// Whether a file (relative path, `/` separators) is in the scope of any rule.
    pub fn covers_file(&self, path: &str) -> bool {
        self.rules.iter().any(|r| {
            self.scopes
                .iter()
                .any(|(s, files, _)| s.id.get_ref() == r.scope.get_ref() && files.is_match(path))
        })
    }

    /// Adds the rules of one parsed file, validating every reference.
    pub fn add(&mut self, name: &str, text: &str, file: RuleFile) -> Result<(), RuleFileError> {
        // Each id names one thing: among the classes, accesses, scopes and
        // rules already loaded and those of this file, and a rule id is
        // never a built-in one.
        let builtin: Vec<String> = crate::lock::rules().into_iter().map(|r| r.id).collect();
        let kinds: [IdsOfKind<'_>; 4] = [
            (
                "class",
                file.class.iter().map(|c| &c.id).collect(),
                self.classes.iter().map(|c| c.id.get_ref()).collect(),
            ),
            (
                "access",
                file.access.iter().map(|a| &a.id).collect(),
                self.accesses.iter().map(|a| a.id.get_ref()).collect(),
            ),
            (
                "scope",
                file.scope.iter().map(|s| &s.id).collect(),
                self.scopes.iter().map(|(s, _, _)| s.id.get_ref()).collect(),
            ),
            (
                "rule",
                file.rule.iter().map(|r| &r.id).collect(),
                self.rules
                    .iter()
                    .map(|r| r.id.get_ref())
                    .chain(builtin.iter())
                    .collect(),
            ),
        ];
        for (kind, ids, loaded) in &kinds {
            for (i, id) in ids.iter().enumerate() {
                let again = loaded.contains(&id.get_ref())
                    || ids[..i]
                        .iter()
                        .any(|earlier| earlier.get_ref() == id.get_ref());
                if again {
                    return Err(RuleFileError::new(
                        name,
                        text,
                        id.span(),
                        format!("{kind} `{}` is defined twice", id.get_ref()),
                        "this id is taken",
                    )
                    .with_help(format!("give the {kind} another id")));
                }
            }
        }
        for scope in &file.scope {
            if scope.files.is_empty() {
                return Err(RuleFileError::new(
                    name,
                    text,
                    scope.id.span(),
                    format!("scope `{}` matches no file", scope.id.get_ref()),
                    "this scope",
                )
                .with_help("give it `files` globs (`drivers/virtio/*.c`)"));
            }
        }
        for class in &file.class {
            for f in &class.fields {
                check_record_field(name, text, f)?;
            }
            if class.globals.is_empty() && class.fields.is_empty() && class.kinds.is_empty() {
                return Err(RuleFileError::new(
                    name,
                    text,
                    class.id.span(),
                    format!("class `{}` has no members", class.id.get_ref()),
                    "this class",
                )
                .with_help("give it `globals`, `fields` or `kinds`"));
            }
        }
        for access in &file.access {
            for w in &access.writes {
                check_record_field(name, text, w)?;
            }
            if access.writes.is_empty() && access.shapes.is_empty() && access.calls.is_empty() {
                return Err(RuleFileError::new(
                    name,
                    text,
                    access.id.span(),
                    format!("access `{}` matches nothing", access.id.get_ref()),
                    "this access",
                )
                .with_help("give it `writes`, `shapes` or `calls`"));
            }
        }
        self.classes.extend(file.class);
        self.accesses.extend(file.access);
        for scope in file.scope {
            let files = glob_set(name, text, &scope.files)?;
            let functions = if scope.functions.is_empty() {
                None
            } else {
                Some(glob_set(name, text, &scope.functions)?)
            };
            self.scopes.push((scope, files, functions));
        }
        for rule in &file.rule {
            let known_class = self
                .classes
                .iter()
                .find(|c| c.id.get_ref() == rule.class.get_ref());
            let Some(class) = known_class else {
                return Err(RuleFileError::new(
                    name,
                    text,
                    rule.class.span(),
                    format!("unknown class `{}`", rule.class.get_ref()),
                    "no class with this id",
                ));
            };
            if !self
                .scopes
                .iter()
                .any(|(s, _, _)| s.id.get_ref() == rule.scope.get_ref())
            {
                return Err(RuleFileError::new(
                    name,
                    text,
                    rule.scope.span(),
                    format!("unknown scope `{}`", rule.scope.get_ref()),
                    "no scope with this id",
                ));
            }
            match (rule.kind, &rule.access) {
                (RuleKind::Require, None) => {
                    return Err(RuleFileError::new(
                        name,
                        text,
                        rule.id.span(),
                        format!(
                            "rule `{}` requires a lock but names no access",
                            rule.id.get_ref()
                        ),
                        "this rule can never match",
                    )
                    .with_help("add `access = \"…\"`"));
                }
                (RuleKind::Require, Some(access)) => {
                    if !self
                        .accesses
                        .iter()
                        .any(|a| a.id.get_ref() == access.get_ref())
                    {
                        return Err(RuleFileError::new(
                            name,
                            text,
                            access.span(),
                            format!("unknown access `{}`", access.get_ref()),
                            "no access with this id",
                        ));
                    }
                    if class.globals.is_empty() && class.fields.is_empty() {
                        return Err(RuleFileError::new(
                            name,
                            text,
                            rule.class.span(),
                            format!(
                                "class `{}` names no lock objects, so it can never be held",
                                class.id.get_ref()
                            ),
                            "this rule can never be satisfied",
                        ));
                    }
                }
                (RuleKind::Forbid, _) => {
                    if class.kinds.is_empty() {
                        return Err(RuleFileError::new(
                            name,
                            text,
                            rule.class.span(),
                            format!(
                                "class `{}` names no lock kinds to forbid",
                                class.id.get_ref()
                            ),
                            "this rule can never match",
                        )
                        .with_help("give the class `kinds`"));
                    }
                }
            }
        }
        self.rules.extend(file.rule);
        Ok(())
    }
}
