//! The rule file format (`rules/*.toml`, documented in `rules/README.md`):
//! the macro vocabulary (`[syntax]`), the lock API (`[locks]`), and lock
//! classes, access patterns, scopes and rules. Every error is a miette
//! diagnostic pointing into the file.

// Rule-file errors carry their source for rendering; they are rare and the
// size of an `Err` on these cold paths does not matter.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
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
    /// File globs, relative to the tree root; an error when missing or empty.
    #[serde(default)]
    pub files: Option<Spanned<Vec<Spanned<String>>>>,
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
    #[label(primary, "{label}")]
    pub span: SourceSpan,
    pub label: String,
    /// For an id defined twice in one file: its first definition.
    #[label("first defined here")]
    pub first: Option<SourceSpan>,
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
            first: None,
            help: None,
        }
    }

    fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Every error of the rule files of one run, in the order the files were
/// loaded: a broken file does not hide the errors of the others.
#[derive(Debug, Default)]
pub struct RuleFileErrors(pub Vec<RuleFileError>);

impl std::fmt::Display for RuleFileErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{}: {}", e.src.name(), e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for RuleFileErrors {}

impl From<RuleFileError> for RuleFileErrors {
    fn from(e: RuleFileError) -> Self {
        RuleFileErrors(vec![e])
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
    /// The file that defined each `(kind, id)` loaded so far.
    origins: HashMap<(&'static str, String), String>,
}

/// The errors of one rule file, each pointing into it.
struct Errors<'a> {
    name: &'a str,
    text: &'a str,
    found: Vec<RuleFileError>,
}

impl Errors<'_> {
    fn at(
        &self,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> RuleFileError {
        RuleFileError::new(self.name, self.text, span, message, label)
    }

    fn push(&mut self, e: RuleFileError) {
        self.found.push(e);
    }

    /// A glob set of `globs`; a bad glob is an error at it and left out.
    fn glob_set(&mut self, globs: &[Spanned<String>]) -> GlobSet {
        let mut builder = GlobSetBuilder::new();
        for g in globs {
            match Glob::new(g.get_ref()) {
                Ok(glob) => {
                    builder.add(glob);
                }
                Err(e) => self.push(self.at(
                    g.span(),
                    format!("bad glob `{}`: {e}", g.get_ref()),
                    "this glob",
                )),
            }
        }
        builder.build().unwrap_or_else(|e| {
            self.push(self.at(0..0, format!("bad globs: {e}"), "here"));
            GlobSet::empty()
        })
    }

    /// `value` must be `struct NAME.field` (or `union NAME.field`).
    fn record_field(&mut self, value: &Spanned<String>) {
        let ok = value
            .get_ref()
            .split_once('.')
            .is_some_and(|(record, field)| {
                (record.starts_with("struct ") || record.starts_with("union ")) && !field.is_empty()
            });
        if !ok {
            self.push(self.at(
                value.span(),
                format!("`{}` is not `struct NAME.field`", value.get_ref()),
                "expected `struct NAME.field`",
            ));
        }
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
            origins: self.origins.clone(),
        }
    }

    /// The name of the rule file that defined the rule `id` (`rules/balloon.toml`
    /// for a built-in one, else the path it was loaded from).
    pub fn rule_origin(&self, id: &str) -> Option<&str> {
        self.origins
            .get(&("rule", id.to_owned()))
            .map(String::as_str)
    }

    /// Whether `rule`'s scope covers the function `name` of the file at
    /// `path` (relative, `/` separators).
    pub fn scope_covers(&self, rule: &RuleDef, path: &str, name: &str) -> bool {
        self.scopes
            .iter()
            .find(|(s, _, _)| s.id.get_ref() == rule.scope.get_ref())
            .is_some_and(|(_, files, functions)| {
                files.is_match(path) && functions.as_ref().is_none_or(|g| g.is_match(name))
            })
    }

    /// Whether a file (relative path, `/` separators) is in the scope of any rule.
    pub fn covers_file(&self, path: &str) -> bool {
        self.rules.iter().any(|r| {
            self.scopes
                .iter()
                .any(|(s, files, _)| s.id.get_ref() == r.scope.get_ref() && files.is_match(path))
        })
    }

    /// The definitions of `defs` whose id is new: an id defined before, in
    /// this file (`here`) or in one loaded earlier, or one of `reserved`, is
    /// an error at the id, and the first definition stays the only one.
    fn first_definitions<T>(
        &mut self,
        kind: &'static str,
        defs: Vec<T>,
        id: impl Fn(&T) -> &Spanned<String>,
        reserved: &[String],
        errors: &mut Errors<'_>,
    ) -> Vec<T> {
        let mut here: HashMap<String, Range<usize>> = HashMap::new();
        let mut kept = Vec::new();
        for def in defs {
            let this = id(&def);
            let key = (kind, this.get_ref().clone());
            let error = if reserved.contains(this.get_ref()) {
                Some(
                    errors
                        .at(
                            this.span(),
                            format!("{kind} id `{}` is a built-in rule's id", this.get_ref()),
                            "a built-in rule has this id",
                        )
                        .with_help(
                            "give the rule an id of your own (`mine/…`); `lockwarden rules` \
                             lists the built-in ones",
                        ),
                )
            } else {
                let twice = |label: String| {
                    errors
                        .at(
                            this.span(),
                            format!("{kind} `{}` is defined twice", this.get_ref()),
                            label,
                        )
                        .with_help(format!("give the {kind} another id, or remove one"))
                };
                match here.get(this.get_ref()) {
                    Some(first) => {
                        let mut e = twice("defined again here".to_owned());
                        e.first = Some(first.clone().into());
                        Some(e)
                    }
                    None => self
                        .origins
                        .get(&key)
                        .map(|file| twice(format!("already defined in {file}"))),
                }
            };
            match error {
                Some(e) => errors.push(e),
                None => {
                    here.insert(key.1, this.span());
                    kept.push(def);
                }
            }
        }
        for def in &kept {
            self.origins
                .insert((kind, id(def).get_ref().clone()), errors.name.to_owned());
        }
        kept
    }

    /// Adds the rules of one parsed file, validating every reference. All of
    /// the file's errors are reported; what is wrong is never a reason to
    /// report something else (a rule naming a class defined twice still
    /// finds the first definition).
    pub fn add(&mut self, name: &str, text: &str, file: RuleFile) -> Result<(), RuleFileErrors> {
        let mut errors = Errors {
            name,
            text,
            found: Vec::new(),
        };
        let builtin: Vec<String> = crate::run::rules_of(&RuleSet::default())
            .into_iter()
            .map(|r| r.id)
            .collect();
        // Every definition is checked, a duplicate too; then only the first
        // of each id is kept.
        for class in &file.class {
            for f in &class.fields {
                errors.record_field(f);
            }
            if class.globals.is_empty() && class.fields.is_empty() && class.kinds.is_empty() {
                errors.push(
                    errors
                        .at(
                            class.id.span(),
                            format!("lock class `{}` has no members", class.id.get_ref()),
                            "this class",
                        )
                        .with_help("give it `globals`, `fields` or `kinds`"),
                );
            }
        }
        for access in &file.access {
            for w in &access.writes {
                errors.record_field(w);
            }
            if access.writes.is_empty() && access.shapes.is_empty() && access.calls.is_empty() {
                errors.push(
                    errors
                        .at(
                            access.id.span(),
                            format!("access `{}` matches nothing", access.id.get_ref()),
                            "this access",
                        )
                        .with_help("give it `writes`, `shapes` or `calls`"),
                );
            }
        }
        for scope in &file.scope {
            let help = "give it `files` globs from the tree root (`drivers/virtio/*.c`)";
            match &scope.files {
                None => errors.push(
                    errors
                        .at(
                            scope.id.span(),
                            format!(
                                "scope `{}` has no `files`: its rules would never apply",
                                scope.id.get_ref()
                            ),
                            "this scope",
                        )
                        .with_help(help),
                ),
                Some(files) if files.get_ref().is_empty() => errors.push(
                    errors
                        .at(
                            files.span(),
                            format!(
                                "`files` of scope `{}` lists no file: its rules would never apply",
                                scope.id.get_ref()
                            ),
                            "no file",
                        )
                        .with_help(help),
                ),
                Some(_) => {}
            }
        }
        let scopes: Vec<_> = file
            .scope
            .into_iter()
            .map(|scope| {
                let files = errors.glob_set(scope.files.as_ref().map_or(&[], |f| f.get_ref()));
                let functions =
                    (!scope.functions.is_empty()).then(|| errors.glob_set(&scope.functions));
                (scope, files, functions)
            })
            .collect();
        let classes = self.first_definitions("lock class", file.class, |c| &c.id, &[], &mut errors);
        self.classes.extend(classes);
        let accesses = self.first_definitions("access", file.access, |a| &a.id, &[], &mut errors);
        self.accesses.extend(accesses);
        let scopes = self.first_definitions("scope", scopes, |s| &s.0.id, &[], &mut errors);
        self.scopes.extend(scopes);
        for rule in &file.rule {
            self.check_rule(rule, &mut errors);
        }
        let rules = self.first_definitions("rule", file.rule, |r| &r.id, &builtin, &mut errors);
        self.rules.extend(rules);
        errors.found.sort_by_key(|e| e.span.offset());
        if errors.found.is_empty() {
            Ok(())
        } else {
            Err(RuleFileErrors(errors.found))
        }
    }

    /// A rule's references: its class, scope and access exist, and the
    /// class has what the rule's kind needs.
    fn check_rule(&self, rule: &RuleDef, errors: &mut Errors<'_>) {
        let class = self
            .classes
            .iter()
            .find(|c| c.id.get_ref() == rule.class.get_ref());
        if class.is_none() {
            errors.push(errors.at(
                rule.class.span(),
                format!("unknown lock class `{}`", rule.class.get_ref()),
                "no class with this id",
            ));
        }
        if !self
            .scopes
            .iter()
            .any(|(s, _, _)| s.id.get_ref() == rule.scope.get_ref())
        {
            errors.push(errors.at(
                rule.scope.span(),
                format!("unknown scope `{}`", rule.scope.get_ref()),
                "no scope with this id",
            ));
        }
        // A class with no members at all is already an error of its own.
        let class =
            class.filter(|c| !(c.globals.is_empty() && c.fields.is_empty() && c.kinds.is_empty()));
        match (rule.kind, &rule.access) {
            (RuleKind::Require, None) => errors.push(
                errors
                    .at(
                        rule.id.span(),
                        format!(
                            "rule `{}` requires a lock but names no access",
                            rule.id.get_ref()
                        ),
                        "this rule can never match",
                    )
                    .with_help("add `access = \"…\"`"),
            ),
            (RuleKind::Require, Some(access)) => {
                if !self
                    .accesses
                    .iter()
                    .any(|a| a.id.get_ref() == access.get_ref())
                {
                    errors.push(errors.at(
                        access.span(),
                        format!("unknown access `{}`", access.get_ref()),
                        "no access with this id",
                    ));
                }
                if let Some(class) = class.filter(|c| c.globals.is_empty() && c.fields.is_empty()) {
                    errors.push(errors.at(
                        rule.class.span(),
                        format!(
                            "lock class `{}` names no lock objects, so it can never be held",
                            class.id.get_ref()
                        ),
                        "this rule can never be satisfied",
                    ));
                }
            }
            (RuleKind::Forbid, _) => {
                if let Some(class) = class.filter(|c| c.kinds.is_empty()) {
                    errors.push(
                        errors
                            .at(
                                rule.class.span(),
                                format!(
                                    "lock class `{}` names no lock kinds to forbid",
                                    class.id.get_ref()
                                ),
                                "this rule can never match",
                            )
                            .with_help("give the class `kinds`"),
                    );
                }
            }
        }
    }
}
