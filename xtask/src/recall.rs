//! `cargo xtask recall`: how many seeded lock bugs the `lock/*` rules catch
//! in real kernel code.
//!
//! Recall is measured by mutation. In every `.c` file of the kernel tree that
//! calls the lock API, [`find_sites`] lists the places where one edit inside
//! one function introduces a classic lock bug; the five [`Operator`]s are:
//!
//! - `unlock-before-return`: delete an unlock directly followed by an early
//!   `return` (not the function body's last statement), in a function that
//!   takes that lock;
//! - `goto-unwind-unlock`: delete an unlock in the statements right after a
//!   label some `goto` jumps to, in a function that takes that lock;
//! - `duplicate-acquire`: repeat a non-recursive acquire statement on its line;
//! - `release-other-lock`: make an unlock release another lock of the same API
//!   kind used in the function (else in the file);
//! - `ignore-try-result`: drop the failure branch of a try-lock
//!   (`if (!trylock(l)) S` becomes `trylock(l);`, `ret = try(m); if (ret) S`
//!   loses its `if`), in a function that later releases that lock.
//!
//! Which calls acquire, release or try, on which argument, is read from the
//! lock API of the built-in rule files (`rules/locks.toml`); locks are matched
//! on their argument's source text (whitespace, `&` and parentheses
//! ignored). Deletions overwrite with spaces and keep newlines, so no line
//! moves. Only functions whose body parses without errors are mutated.
//!
//! Sites are shuffled per top-level directory and operator with a seeded
//! splitmix64 and the first `--per-op` of each are taken (by default 6, and
//! operators with fewer than 60 sites in all are topped up round-robin from
//! the directories that have candidates left). Sites are then run in
//! batches: a batch holds at most one site per file, and never a site whose
//! function another file of the batch calls, so a new finding in a file is
//! caused by that file's own mutation. Each batch is analysed twice with only
//! the `lock/*` rules, mutated and unmutated, with the headers the files
//! include as context. A site is *detected in the function* when the mutated
//! run has a finding in the mutated function (same file, same function
//! name) that the unmutated run does not — findings are compared as
//! multisets of (rule, function, message), which carry no line numbers — *only
//! elsewhere* when the new findings of its file are all in other functions,
//! and *missed* otherwise.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use lockwarden_flow::api::{Effect, Success};
use lockwarden_flow::summary::{Change, RefRoot};
use lockwarden_flow::LockApi;
use lockwarden_report::Finding;
use lockwarden_rules::run::Checker;
use lockwarden_syntax::outline::Outline;
use lockwarden_syntax::walk::preorder;
use lockwarden_syntax::{field, kind, CompiledMacros, ParsedFile, Span};
use rayon::prelude::*;
use serde::Serialize;
use tree_sitter::Node;

/// Sites per directory and operator when `--per-op` is not given.
const DEFAULT_PER_OP: usize = 6;
/// Without `--per-op`, operators are topped up to this many sites in all.
const DEFAULT_MIN_PER_OPERATOR: usize = 60;
/// At most this many sites (so files) are analysed together.
const MAX_BATCH_SITES: usize = 200;

const USAGE: &str = "usage: cargo xtask recall [--seed N] [--per-op N] [--dirs a,b,...] \
                     [--json FILE] [--list missed|all]";

/// A kind of seeded lock bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Operator {
    UnlockBeforeReturn,
    GotoUnwindUnlock,
    DuplicateAcquire,
    ReleaseOtherLock,
    IgnoreTryResult,
}

impl Operator {
    pub(crate) const ALL: [Operator; 5] = [
        Operator::UnlockBeforeReturn,
        Operator::GotoUnwindUnlock,
        Operator::DuplicateAcquire,
        Operator::ReleaseOtherLock,
        Operator::IgnoreTryResult,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Operator::UnlockBeforeReturn => "unlock-before-return",
            Operator::GotoUnwindUnlock => "goto-unwind-unlock",
            Operator::DuplicateAcquire => "duplicate-acquire",
            Operator::ReleaseOtherLock => "release-other-lock",
            Operator::IgnoreTryResult => "ignore-try-result",
        }
    }

    fn index(self) -> usize {
        Operator::ALL.iter().position(|&o| o == self).unwrap_or(0)
    }
}

/// One edit of one function: `span` of the original file becomes `replacement`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mutation {
    pub operator: Operator,
    /// The mutated function, as findings name it.
    pub function: String,
    pub span: Range<usize>,
    pub replacement: Vec<u8>,
}

impl Mutation {
    /// The mutated file (a span past the end, from a file changed since it
    /// was read, is clamped to it rather than panicking).
    pub(crate) fn apply(&self, source: &[u8]) -> Vec<u8> {
        let end = self.span.end.min(source.len());
        let start = self.span.start.min(end);
        let mut out = Vec::with_capacity(source.len() + self.replacement.len());
        out.extend_from_slice(&source[..start]);
        out.extend_from_slice(&self.replacement);
        out.extend_from_slice(&source[end..]);
        out
    }
}

// ---------------------------------------------------------------------------
// Finding sites in one file.
// ---------------------------------------------------------------------------

/// Where a primitive's lock is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LockSource {
    /// Argument `index` points to it.
    Arg { index: usize },
    /// A lock with no object (`RCU`).
    Named(String),
    /// The result points to it (`ptl = pmd_lock(…)`).
    Returned,
}

/// What a lock primitive does to its own lock, read off its summary.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Primitive {
    effect: Effect,
    lock: LockSource,
    success: Success,
    kind: String,
    recursive: bool,
}

/// The primitive `name` when it acquires, tries or releases a lock.
fn primitive(api: &LockApi, name: &str) -> Option<Primitive> {
    // The primitive's own lock comes last (a named lock taken with it, such
    // as the RCU section of `pte_offset_map_lock`, first).
    let own = api.primitive(name)?.effects.last()?;
    let (effect, success) = match own.change {
        Change::Acquire => (Effect::Acquire, Success::Nonzero),
        Change::Release => (Effect::Release, Success::Nonzero),
        Change::TryAcquire(success) => (Effect::TryAcquire, success),
        _ => return None,
    };
    let lock = match &own.lock.root {
        RefRoot::Param(index) => LockSource::Arg { index: *index },
        RefRoot::Named(name) | RefRoot::Global(name) => LockSource::Named(name.clone()),
        RefRoot::Return => LockSource::Returned,
    };
    Some(Primitive {
        effect,
        lock,
        success,
        kind: own.kind.clone().unwrap_or_default(),
        recursive: own.recursive,
    })
}

/// A call of the lock API that acquires, tries or releases a lock.
struct LockCall<'t> {
    call: Node<'t>,
    api: Primitive,
    /// The lock's normalised text ([`lock_key`]); `<NAME>` for named locks.
    key: String,
    /// The lock argument, for argument locks.
    arg: Option<Node<'t>>,
}

/// A function body with the lock calls inside it.
struct Body<'t, 'o> {
    name: &'o str,
    parse_errors: u32,
    body: Node<'t>,
    calls: Vec<LockCall<'t>>,
}

impl Body<'_, '_> {
    /// Whether the function acquires (or tries) the lock `key` anywhere.
    fn acquires(&self, key: &str) -> bool {
        self.calls
            .iter()
            .any(|c| matches!(c.api.effect, Effect::Acquire | Effect::TryAcquire) && c.key == key)
    }

    /// Whether the function releases the lock `key` after byte `offset`.
    fn releases_after(&self, key: &str, offset: usize) -> bool {
        self.calls.iter().any(|c| {
            c.api.effect == Effect::Release && c.key == key && c.call.start_byte() >= offset
        })
    }
}

/// Every mutation site of every operator in `file`, in source order.
pub(crate) fn find_sites(file: &ParsedFile, api: &LockApi) -> Vec<Mutation> {
    let outline = Outline::of(file);
    let root = file.tree.root_node();
    let bodies: Vec<Body<'_, '_>> = outline
        .functions
        .iter()
        .filter_map(|def| {
            let range = def.body.range();
            let body = root.descendant_for_byte_range(range.start, range.end)?;
            if body.kind_id() != kind::COMPOUND_STATEMENT || Span::of(body) != def.body {
                return None;
            }
            Some(Body {
                name: &def.name,
                parse_errors: def.parse_errors,
                body,
                calls: lock_calls(file, body, api),
            })
        })
        .collect();
    let file_calls: Vec<&LockCall<'_>> = bodies.iter().flat_map(|b| &b.calls).collect();
    let mut out = Vec::new();
    for body in bodies.iter().filter(|b| b.parse_errors == 0) {
        unlock_before_return(file, body, &mut out);
        goto_unwind_unlock(file, body, &mut out);
        duplicate_acquire(file, body, &mut out);
        release_other_lock(file, body, &file_calls, &mut out);
        ignore_try_result(file, body, api, &mut out);
    }
    out.sort_by_key(|m| (m.span.start, m.operator));
    out.dedup_by(|a, b| a.span == b.span && a.operator == b.operator);
    out
}

/// The acquire, try and release calls in `body`, in source order.
fn lock_calls<'t>(file: &ParsedFile, body: Node<'t>, api: &LockApi) -> Vec<LockCall<'t>> {
    let mut out = Vec::new();
    preorder(body, |node| {
        if node.kind_id() == kind::CALL_EXPRESSION {
            if let Some(call) = lock_call(file, node, api) {
                out.push(call);
            }
        }
        true
    });
    out
}

fn lock_call<'t>(file: &ParsedFile, call: Node<'t>, api: &LockApi) -> Option<LockCall<'t>> {
    let callee = call.child_by_field_id(field::FUNCTION)?;
    if callee.kind_id() != kind::IDENTIFIER {
        return None;
    }
    let function = primitive(api, file.node_text(callee))?;
    let (key, arg) = match &function.lock {
        LockSource::Arg { index, .. } => {
            let arg = arguments(call).into_iter().nth(*index)?;
            (lock_key(file.node_text(arg)), Some(arg))
        }
        LockSource::Named(name) => (format!("<{name}>"), None),
        LockSource::Returned => {
            // `ptl = pmd_lock(…)`: the lock is what the result is stored in.
            let parent = call.parent()?;
            let holder = match parent.kind_id() {
                kind::ASSIGNMENT_EXPRESSION
                    if parent.child_by_field_id(field::RIGHT) == Some(call) =>
                {
                    parent.child_by_field_id(field::LEFT)?
                }
                kind::INIT_DECLARATOR if parent.child_by_field_id(field::VALUE) == Some(call) => {
                    parent.child_by_field_id(field::DECLARATOR)?
                }
                _ => return None,
            };
            (lock_key(file.node_text(holder)), None)
        }
    };
    (!key.is_empty()).then_some(LockCall {
        call,
        api: function,
        key,
        arg,
    })
}

/// A lock expression's text for matching: no whitespace, `&` or parentheses.
pub(crate) fn lock_key(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '&' | '(' | ')'))
        .collect()
}

/// The named children of `node` that are not comments.
fn named_children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .filter(|n| n.kind_id() != kind::COMMENT)
        .collect()
}

fn arguments(call: Node<'_>) -> Vec<Node<'_>> {
    call.child_by_field_id(field::ARGUMENTS)
        .map(named_children)
        .unwrap_or_default()
}

/// The next sibling statement, skipping comments.
fn next_statement(node: Node<'_>) -> Option<Node<'_>> {
    let mut next = node.next_named_sibling();
    while let Some(n) = next {
        if n.kind_id() != kind::COMMENT {
            return Some(n);
        }
        next = n.next_named_sibling();
    }
    None
}

/// The expression statement that is exactly `call;`.
fn call_statement(call: Node<'_>) -> Option<Node<'_>> {
    call.parent()
        .filter(|p| p.kind_id() == kind::EXPRESSION_STATEMENT)
}

fn parent_is(node: Node<'_>, kind_id: u16) -> bool {
    node.parent().is_some_and(|p| p.kind_id() == kind_id)
}

/// The statement a labelled statement labels.
fn labelled(statement: Node<'_>) -> Option<Node<'_>> {
    let label = statement.child_by_field_id(field::LABEL);
    named_children(statement)
        .into_iter()
        .rfind(|n| Some(*n) != label)
}

/// A condition without its parentheses and condition wrappers (`unlikely`).
fn strip_condition<'t>(file: &ParsedFile, mut node: Node<'t>, api: &LockApi) -> Node<'t> {
    loop {
        let inner = match node.kind_id() {
            kind::PARENTHESIZED_EXPRESSION => named_children(node).into_iter().next(),
            kind::CALL_EXPRESSION => node
                .child_by_field_id(field::FUNCTION)
                .filter(|f| {
                    f.kind_id() == kind::IDENTIFIER && api.is_condition_wrapper(file.node_text(*f))
                })
                .and_then(|_| arguments(node).into_iter().next()),
            _ => None,
        };
        match inner {
            Some(inner) => node = inner,
            None => return node,
        }
    }
}

/// The operand of `!operand`.
fn negated<'t>(file: &ParsedFile, node: Node<'t>) -> Option<Node<'t>> {
    if node.kind_id() != kind::UNARY_EXPRESSION {
        return None;
    }
    let operator = node.child_by_field_id(field::OPERATOR)?;
    (file.node_text(operator) == "!")
        .then(|| node.child_by_field_id(field::ARGUMENT))
        .flatten()
}

/// `text` on one line, runs of whitespace as one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `text` can be copied onto one line as it is: no `//` comment
/// (it would swallow the rest of the line) and no directive.
fn copyable(text: &str) -> bool {
    !text.is_empty() && !text.contains("//") && !text.contains('#') && !text.contains('\\')
}

/// `old` as spaces, newlines kept: a deletion that moves no line.
pub(crate) fn blank(old: &[u8]) -> Vec<u8> {
    old.iter()
        .map(|&b| if b == b'\n' { b'\n' } else { b' ' })
        .collect()
}

/// What replaces a deleted statement: nothing, inside a block; an empty
/// statement where the grammar needs one (`out: spin_unlock(l);` at the end
/// of a block, the body of an `if`), so the mutant still parses.
fn deleted_statement(node: Node<'_>, old: &[u8]) -> Vec<u8> {
    let in_block = node
        .parent()
        .is_some_and(|p| p.kind_id() == kind::COMPOUND_STATEMENT);
    if in_block {
        blank(old)
    } else {
        overwrite(";", old)
    }
}

/// `new` written over `old`: on one line, padded with spaces to `old`'s
/// length where it fits, then `old`'s newlines, so no later line moves.
pub(crate) fn overwrite(new: &str, old: &[u8]) -> Vec<u8> {
    let newlines = old.iter().filter(|&&b| b == b'\n').count();
    let mut out = one_line(new).into_bytes();
    let room = old.len().saturating_sub(newlines);
    if out.len() < room {
        out.resize(room, b' ');
    }
    out.resize(out.len() + newlines, b'\n');
    out
}

fn deletion(
    file: &ParsedFile,
    operator: Operator,
    body: &Body<'_, '_>,
    node: Node<'_>,
) -> Mutation {
    let span = node.byte_range();
    Mutation {
        operator,
        function: body.name.to_owned(),
        replacement: deleted_statement(node, &file.source[span.clone()]),
        span,
    }
}

fn unlock_before_return(file: &ParsedFile, body: &Body<'_, '_>, out: &mut Vec<Mutation>) {
    let last = named_children(body.body).last().map(|n| n.id());
    for call in body
        .calls
        .iter()
        .filter(|c| c.api.effect == Effect::Release)
    {
        let Some(statement) = call_statement(call.call) else {
            continue;
        };
        let early_return = next_statement(statement)
            .is_some_and(|n| n.kind_id() == kind::RETURN_STATEMENT && Some(n.id()) != last);
        if parent_is(statement, kind::COMPOUND_STATEMENT)
            && early_return
            && body.acquires(&call.key)
        {
            out.push(deletion(
                file,
                Operator::UnlockBeforeReturn,
                body,
                statement,
            ));
        }
    }
}

fn goto_unwind_unlock(file: &ParsedFile, body: &Body<'_, '_>, out: &mut Vec<Mutation>) {
    let mut targets = HashSet::new();
    preorder(body.body, |node| {
        if node.kind_id() == kind::GOTO_STATEMENT {
            if let Some(label) = node.child_by_field_id(field::LABEL) {
                targets.insert(file.node_text(label).to_owned());
            }
        }
        true
    });
    if targets.is_empty() {
        return;
    }
    // The statements run right after each targeted label.
    let mut after_label: Vec<Node<'_>> = Vec::new();
    preorder(body.body, |node| {
        let is_target = node.kind_id() == kind::LABELED_STATEMENT
            && node
                .child_by_field_id(field::LABEL)
                .is_some_and(|l| targets.contains(file.node_text(l)));
        if is_target {
            let mut outermost = node;
            while let Some(parent) = outermost
                .parent()
                .filter(|p| p.kind_id() == kind::LABELED_STATEMENT)
            {
                outermost = parent;
            }
            let mut first = Some(node);
            while let Some(n) = first.filter(|n| n.kind_id() == kind::LABELED_STATEMENT) {
                first = labelled(n);
            }
            let mut current = first;
            let mut anchor = outermost;
            while let Some(statement) =
                current.filter(|n| n.kind_id() == kind::EXPRESSION_STATEMENT)
            {
                after_label.push(statement);
                current = next_statement(anchor);
                anchor = current.unwrap_or(anchor);
            }
        }
        true
    });
    let mut seen = HashSet::new();
    for statement in after_label {
        let unlock = body
            .calls
            .iter()
            .find(|c| c.api.effect == Effect::Release && call_statement(c.call) == Some(statement));
        if let Some(call) = unlock {
            if body.acquires(&call.key) && seen.insert(statement.id()) {
                out.push(deletion(file, Operator::GotoUnwindUnlock, body, statement));
            }
        }
    }
}

fn duplicate_acquire(file: &ParsedFile, body: &Body<'_, '_>, out: &mut Vec<Mutation>) {
    for call in body.calls.iter() {
        let api = &call.api;
        if api.effect != Effect::Acquire || api.recursive || api.lock == LockSource::Returned {
            continue;
        }
        let Some(statement) = call_statement(call.call) else {
            continue;
        };
        let text = file.source_text(Span::of(statement));
        if parent_is(statement, kind::COMPOUND_STATEMENT) && copyable(text) {
            let end = statement.end_byte();
            out.push(Mutation {
                operator: Operator::DuplicateAcquire,
                function: body.name.to_owned(),
                span: end..end,
                replacement: format!(" {}", one_line(text)).into_bytes(),
            });
        }
    }
}

fn release_other_lock(
    file: &ParsedFile,
    body: &Body<'_, '_>,
    file_calls: &[&LockCall<'_>],
    out: &mut Vec<Mutation>,
) {
    for call in body
        .calls
        .iter()
        .filter(|c| c.api.effect == Effect::Release)
    {
        let Some(arg) = call.arg else {
            continue;
        };
        if call_statement(call.call).is_none() || !body.acquires(&call.key) {
            continue;
        }
        let other = body
            .calls
            .iter()
            .chain(file_calls.iter().copied())
            .find(|o| {
                o.arg.is_some()
                    && o.key != call.key
                    && o.api.kind == call.api.kind
                    && o.api.lock == call.api.lock
            });
        let Some(other_arg) = other.and_then(|o| o.arg) else {
            continue;
        };
        let text = file.source_text(Span::of(other_arg));
        if !copyable(text) {
            continue;
        }
        let span = arg.byte_range();
        out.push(Mutation {
            operator: Operator::ReleaseOtherLock,
            function: body.name.to_owned(),
            replacement: overwrite(text, &file.source[span.clone()]),
            span,
        });
    }
}

fn ignore_try_result(
    file: &ParsedFile,
    body: &Body<'_, '_>,
    api: &LockApi,
    out: &mut Vec<Mutation>,
) {
    let tries: HashMap<usize, &LockCall<'_>> = body
        .calls
        .iter()
        .filter(|c| c.api.effect == Effect::TryAcquire)
        .map(|c| (c.call.id(), c))
        .collect();
    if tries.is_empty() {
        return;
    }
    // Whether `if (condition)` takes its branch when the try failed, for a try
    // that succeeds on `success`: `!trylock()` or `lock_killable()`.
    let on_failure = |condition: Node<'_>, success: Success| match negated(file, condition) {
        Some(_) => success == Success::Nonzero,
        None => success == Success::Zero,
    };
    preorder(body.body, |node| {
        if node.kind_id() != kind::IF_STATEMENT
            || node.child_by_field_id(field::ALTERNATIVE).is_some()
        {
            return true;
        }
        let Some(condition) = node.child_by_field_id(field::CONDITION) else {
            return true;
        };
        let condition = strip_condition(file, condition, api);
        let tested = negated(file, condition)
            .map(|operand| strip_condition(file, operand, api))
            .unwrap_or(condition);
        // `if (!trylock(l)) S` → `trylock(l);`
        if let Some(call) = tries.get(&tested.id()) {
            let call_text = file.source_text(Span::of(call.call));
            if call.api.lock != LockSource::Returned
                && on_failure(condition, call.api.success)
                && body.releases_after(&call.key, node.end_byte())
                && copyable(call_text)
            {
                let span = node.byte_range();
                out.push(Mutation {
                    operator: Operator::IgnoreTryResult,
                    function: body.name.to_owned(),
                    replacement: overwrite(&format!("{call_text};"), &file.source[span.clone()]),
                    span,
                });
            }
            return true;
        }
        // `ret = try(m); if (ret) S` → the `if` deleted.
        if tested.kind_id() == kind::IDENTIFIER {
            let variable = file.node_text(tested);
            let stored = tries.values().find(|c| {
                stored_in(file, c.call).is_some_and(|(name, statement)| {
                    name == variable && next_statement(statement) == Some(node)
                })
            });
            if let Some(call) = stored {
                if on_failure(condition, call.api.success)
                    && body.releases_after(&call.key, node.end_byte())
                {
                    out.push(deletion(file, Operator::IgnoreTryResult, body, node));
                }
            }
        }
        true
    });
}

/// For `v = call;` or `T v = call;`: the variable's name and the statement.
fn stored_in<'f, 't>(file: &'f ParsedFile, call: Node<'t>) -> Option<(&'f str, Node<'t>)> {
    let parent = call.parent()?;
    let (variable, statement) = match parent.kind_id() {
        kind::ASSIGNMENT_EXPRESSION if parent.child_by_field_id(field::RIGHT) == Some(call) => {
            let operator = parent.child_by_field_id(field::OPERATOR)?;
            if file.node_text(operator) != "=" {
                return None;
            }
            (
                parent.child_by_field_id(field::LEFT)?,
                parent
                    .parent()
                    .filter(|s| s.kind_id() == kind::EXPRESSION_STATEMENT)?,
            )
        }
        kind::INIT_DECLARATOR if parent.child_by_field_id(field::VALUE) == Some(call) => (
            parent.child_by_field_id(field::DECLARATOR)?,
            parent
                .parent()
                .filter(|s| s.kind_id() == kind::DECLARATION)?,
        ),
        _ => return None,
    };
    (variable.kind_id() == kind::IDENTIFIER).then(|| (file.node_text(variable), statement))
}

// ---------------------------------------------------------------------------
// The seeded choice of sites.
// ---------------------------------------------------------------------------

/// splitmix64: a tiny deterministic generator, enough to shuffle sites.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher–Yates.
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// The generator for one directory and operator: the same sites are drawn
/// for a directory whichever other directories are measured.
fn stream(seed: u64, dir: &str, operator: Operator) -> SplitMix64 {
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325; // FNV-1a
    for b in dir.bytes().chain([b'/', operator.index() as u8]) {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
    }
    let mut mix = SplitMix64::new(seed ^ hash);
    SplitMix64::new(mix.next_u64())
}

/// A candidate site: a file and a mutation in it.
#[derive(Clone)]
struct Candidate {
    dir: String,
    file: PathBuf,
    mutation: Mutation,
}

/// Every candidate of one top-level directory, per operator, in file and
/// offset order.
fn directory_candidates(
    root: &Path,
    dir: &str,
    files: &[PathBuf],
    macros: &CompiledMacros,
    api: &LockApi,
) -> [Vec<Candidate>; 5] {
    let found: Vec<(PathBuf, Vec<Mutation>)> = files
        .par_iter()
        .filter_map(|rel| {
            let bytes = std::fs::read(root.join(rel)).ok()?;
            let (_, called) = lockwarden_syntax::scan::defined_and_called(&bytes);
            let uses_locks = called.iter().any(|name| primitive(api, name).is_some());
            if !uses_locks {
                return None;
            }
            let parsed = ParsedFile::parse(bytes, macros)?;
            let sites = find_sites(&parsed, api);
            (!sites.is_empty()).then(|| (rel.clone(), sites))
        })
        .collect();
    let mut out: [Vec<Candidate>; 5] = Default::default();
    for (file, sites) in found {
        for mutation in sites {
            out[mutation.operator.index()].push(Candidate {
                dir: dir.to_owned(),
                file: file.clone(),
                mutation,
            });
        }
    }
    out
}

/// Takes `per_op` shuffled candidates of each directory and operator, then
/// tops operators up to `min_per_operator` round-robin over the directories.
fn choose(
    seed: u64,
    candidates: Vec<(String, [Vec<Candidate>; 5])>,
    per_op: usize,
    min_per_operator: usize,
) -> Vec<Candidate> {
    let mut chosen = Vec::new();
    for operator in Operator::ALL {
        let mut pools: Vec<Vec<Candidate>> = candidates
            .iter()
            .map(|(dir, per_operator)| {
                let mut pool = per_operator[operator.index()].clone();
                stream(seed, dir, operator).shuffle(&mut pool);
                pool.reverse(); // popped from the end: first drawn first
                pool
            })
            .collect();
        let mut taken = 0;
        for pool in &mut pools {
            for _ in 0..per_op {
                if let Some(c) = pool.pop() {
                    chosen.push(c);
                    taken += 1;
                }
            }
        }
        while taken < min_per_operator && pools.iter().any(|p| !p.is_empty()) {
            for pool in &mut pools {
                if taken >= min_per_operator {
                    break;
                }
                if let Some(c) = pool.pop() {
                    chosen.push(c);
                    taken += 1;
                }
            }
        }
    }
    chosen
}

// ---------------------------------------------------------------------------
// Running the sites.
// ---------------------------------------------------------------------------

/// What the mutated run said about a site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Detection {
    InFunction,
    OnlyElsewhere,
    Missed,
}

/// A finding the mutation added (or removed), for the JSON report.
#[derive(Clone, Debug, Serialize)]
struct ChangedFinding {
    rule: String,
    function: String,
    line: u32,
    message: String,
}

impl ChangedFinding {
    fn of(f: &Finding) -> ChangedFinding {
        ChangedFinding {
            rule: f.rule.clone(),
            function: f.function.clone(),
            line: f.location.line,
            message: f.message.clone(),
        }
    }
}

/// A measured site.
#[derive(Clone, Debug, Serialize)]
struct SiteResult {
    dir: String,
    file: String,
    line: u32,
    function: String,
    operator: Operator,
    detection: Detection,
    /// The lines of the edit before and after it.
    original: Vec<String>,
    mutated: Vec<String>,
    new_findings: Vec<ChangedFinding>,
    /// Unmutated findings of the file the mutated run no longer has.
    lost_findings: Vec<ChangedFinding>,
}

/// Sites analysed together.
#[derive(Default)]
struct Batch {
    sites: Vec<usize>,
    files: HashSet<PathBuf>,
    functions: HashSet<String>,
    called: HashSet<String>,
}

/// Groups sites so that a batch has at most one site per file, and no file
/// of a batch calls a function mutated in another of its files.
fn batches(sites: &[Candidate], called: &HashMap<PathBuf, HashSet<String>>) -> Vec<Batch> {
    let empty = HashSet::new();
    let mut out: Vec<Batch> = Vec::new();
    for (i, site) in sites.iter().enumerate() {
        let calls = called.get(&site.file).unwrap_or(&empty);
        let fits = |b: &Batch| {
            b.sites.len() < MAX_BATCH_SITES
                && !b.files.contains(&site.file)
                && !b.called.contains(&site.mutation.function)
                && !calls.iter().any(|c| b.functions.contains(c))
        };
        let index = match out.iter().position(fits) {
            Some(index) => index,
            None => {
                out.push(Batch::default());
                out.len() - 1
            }
        };
        let batch = &mut out[index];
        batch.sites.push(i);
        batch.files.insert(site.file.clone());
        batch.functions.insert(site.mutation.function.clone());
        batch.called.extend(calls.iter().cloned());
    }
    out
}

/// The `lock/*` findings of `files` (context files appended), by file.
fn lock_findings(
    checker: &Checker,
    files: Vec<(PathBuf, Vec<u8>)>,
    context: &[(PathBuf, Vec<u8>)],
) -> Result<BTreeMap<String, Vec<Finding>>> {
    let named: HashSet<String> = files
        .iter()
        .map(|(p, _)| p.to_string_lossy().into_owned())
        .collect();
    let all: Vec<(PathBuf, Vec<u8>)> = files.into_iter().chain(context.iter().cloned()).collect();
    let outcome = checker.check_selected(all, &|id| id.starts_with("lock/"))?;
    let mut out: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    for finding in outcome.findings {
        if named.contains(&finding.location.file) {
            out.entry(finding.location.file.clone())
                .or_default()
                .push(finding);
        }
    }
    Ok(out)
}

type FindingKey = (String, String, String);

fn key(f: &Finding) -> FindingKey {
    (f.rule.clone(), f.function.clone(), f.message.clone())
}

/// The findings of `after` beyond those of `before`, compared as multisets.
fn added<'f>(before: &[Finding], after: &'f [Finding]) -> Vec<&'f Finding> {
    let mut left: HashMap<FindingKey, usize> = HashMap::new();
    for f in before {
        *left.entry(key(f)).or_default() += 1;
    }
    after
        .iter()
        .filter(|f| match left.get_mut(&key(f)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

/// The lines `span` covers in `text`, right-trimmed.
fn lines_of(text: &[u8], span: Range<usize>) -> Vec<String> {
    let start = text[..span.start.min(text.len())]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let end = text[span.end.min(text.len())..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |p| span.end + p);
    String::from_utf8_lossy(&text[start..end])
        .lines()
        .map(|l| l.trim_end().to_owned())
        .collect()
}

fn read_all(root: &Path, files: &[PathBuf]) -> Vec<(PathBuf, Vec<u8>)> {
    files
        .par_iter()
        .filter_map(|rel| Some((rel.clone(), std::fs::read(root.join(rel)).ok()?)))
        .collect()
}

// ---------------------------------------------------------------------------
// The command.
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum List {
    Missed,
    All,
}

struct Options {
    seed: u64,
    per_op: Option<usize>,
    dirs: Option<Vec<String>>,
    json: Option<PathBuf>,
    list: Option<List>,
}

fn parse_options(flags: &[String]) -> Result<Options> {
    let mut options = Options {
        seed: 1,
        per_op: None,
        dirs: None,
        json: None,
        list: None,
    };
    let mut flags = Flags::new(flags, USAGE);
    while let Some(flag) = flags.next_flag() {
        match flag {
            "--seed" => options.seed = flags.number(flag)?,
            "--per-op" => options.per_op = Some(flags.number(flag)?),
            "--dirs" => options.dirs = Some(split_list(flags.value(flag)?)),
            "--json" => options.json = Some(PathBuf::from(flags.value(flag)?)),
            "--list" => {
                options.list = Some(match flags.value(flag)? {
                    "missed" => List::Missed,
                    "all" => List::All,
                    other => bail!("--list takes `missed` or `all`, not `{other}`"),
                })
            }
            other => return Err(flags.unexpected(other)),
        }
    }
    Ok(options)
}

/// The flags of an xtask command, read one at a time, with the errors that
/// name the command's usage.
pub(crate) struct Flags<'a> {
    rest: std::slice::Iter<'a, String>,
    usage: &'static str,
}

impl<'a> Flags<'a> {
    pub(crate) fn new(flags: &'a [String], usage: &'static str) -> Self {
        Flags {
            rest: flags.iter(),
            usage,
        }
    }

    /// The next flag.
    pub(crate) fn next_flag(&mut self) -> Option<&'a str> {
        self.rest.next().map(String::as_str)
    }

    /// The value that follows `flag`.
    pub(crate) fn value(&mut self, flag: &str) -> Result<&'a str> {
        self.next_flag()
            .with_context(|| format!("{flag} needs a value\n{}", self.usage))
    }

    /// The number that follows `flag`.
    pub(crate) fn number<T>(&mut self, flag: &str) -> Result<T>
    where
        T: std::str::FromStr,
        T::Err: std::error::Error + Send + Sync + 'static,
    {
        self.value(flag)?
            .parse()
            .with_context(|| format!("{flag} takes a number"))
    }

    /// The error for a flag the command does not take.
    pub(crate) fn unexpected(&self, flag: &str) -> anyhow::Error {
        anyhow::anyhow!("unexpected argument `{flag}`\n{}", self.usage)
    }
}

/// `a,b,c` as a list, empty items dropped and trailing slashes ignored.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The top-level directories of the tree that hold `.c` files (or those of
/// `wanted`), with their `.c` and `.h` files, sorted.
pub(crate) fn top_level_dirs(
    root: &Path,
    wanted: Option<&[String]>,
) -> Result<Vec<(String, Vec<PathBuf>)>> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .with_context(|| format!("reading {}", root.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    if let Some(wanted) = wanted {
        for w in wanted {
            if !names.contains(w) {
                bail!("no top-level directory `{w}` in {}", root.display());
            }
        }
        names.retain(|n| wanted.contains(n));
    }
    let mut out = Vec::new();
    for name in names {
        let (files, _) = lockwarden_cli::files::find_c_files(root, &[root.join(&name)])?;
        if files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "c"))
        {
            out.push((name, files));
        }
    }
    Ok(out)
}

pub(crate) fn run(flags: &[String]) -> Result<()> {
    let options = parse_options(flags)?;
    let started = Instant::now();
    let root = crate::kernel::kernel_tree()?
        .canonicalize()
        .context("resolving the kernel tree")?;
    let config = lockwarden_rules::builtin::config().map_err(|e| anyhow::anyhow!("{e}"))?;
    let macros = config.syntax.compile();
    let api = config.locks.compile();
    let checker = Checker::new(config);

    // 1. Candidates, per directory and operator.
    let dirs = top_level_dirs(&root, options.dirs.as_deref())?;
    let mut candidates = Vec::new();
    for (dir, files) in &dirs {
        let t = Instant::now();
        let c_files: Vec<PathBuf> = files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "c"))
            .cloned()
            .collect();
        let found = directory_candidates(&root, dir, &c_files, &macros, &api);
        let counts: Vec<String> = found.iter().map(|c| c.len().to_string()).collect();
        eprintln!(
            "recall: {dir}/: {} .c files, candidates per operator {} ({:.1} s)",
            c_files.len(),
            counts.join("/"),
            t.elapsed().as_secs_f64()
        );
        candidates.push((dir.clone(), found));
    }
    let (per_op, min_total) = match options.per_op {
        Some(n) => (n, 0),
        None => (DEFAULT_PER_OP, DEFAULT_MIN_PER_OPERATOR),
    };
    let mut sites = choose(options.seed, candidates, per_op, min_total);
    sites.sort_by(|a, b| {
        (&a.file, a.mutation.span.start, a.mutation.operator).cmp(&(
            &b.file,
            b.mutation.span.start,
            b.mutation.operator,
        ))
    });
    eprintln!(
        "recall: {} sites chosen ({:.1} s)",
        sites.len(),
        started.elapsed().as_secs_f64()
    );

    // 2. Batches.
    let site_files: Vec<PathBuf> = {
        let set: std::collections::BTreeSet<&PathBuf> = sites.iter().map(|s| &s.file).collect();
        set.into_iter().cloned().collect()
    };
    let originals: HashMap<PathBuf, Vec<u8>> = read_all(&root, &site_files).into_iter().collect();
    let called: HashMap<PathBuf, HashSet<String>> = originals
        .par_iter()
        .map(|(file, bytes)| {
            let (_, called) = lockwarden_syntax::scan::defined_and_called(bytes);
            (file.clone(), called.into_iter().collect())
        })
        .collect();
    let batches = batches(&sites, &called);

    // 3. Runs.
    let mut baselines: HashMap<Vec<PathBuf>, BTreeMap<String, Vec<Finding>>> = HashMap::new();
    let mut results: Vec<Option<SiteResult>> = vec![None; sites.len()];
    for (n, batch) in batches.iter().enumerate() {
        let t = Instant::now();
        let mut files: Vec<PathBuf> = batch.files.iter().cloned().collect();
        files.sort();
        let context_paths = lockwarden_cli::files::include_context(&root, &files);
        let context = read_all(&root, &context_paths);
        let unmutated: Vec<(PathBuf, Vec<u8>)> = files
            .iter()
            .filter_map(|f| Some((f.clone(), originals.get(f)?.clone())))
            .collect();
        let baseline = match baselines.entry(files.clone()) {
            std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::hash_map::Entry::Vacant(new) => {
                new.insert(lock_findings(&checker, unmutated, &context)?)
            }
        };
        let mutated: Vec<(PathBuf, Vec<u8>)> = batch
            .sites
            .iter()
            .filter_map(|&i| {
                let site = &sites[i];
                let source = originals.get(&site.file)?;
                Some((site.file.clone(), site.mutation.apply(source)))
            })
            .collect();
        let mutated_sources: HashMap<PathBuf, Vec<u8>> = mutated.iter().cloned().collect();
        let after = lock_findings(&checker, mutated, &context)?;
        for &i in &batch.sites {
            let site = &sites[i];
            let file = site.file.to_string_lossy().into_owned();
            let none = Vec::new();
            let before = baseline.get(&file).unwrap_or(&none);
            let now = after.get(&file).unwrap_or(&none);
            let new = added(before, now);
            let lost = added(now, before);
            let detection = if new.iter().any(|f| f.function == site.mutation.function) {
                Detection::InFunction
            } else if !new.is_empty() {
                Detection::OnlyElsewhere
            } else {
                Detection::Missed
            };
            let source = originals.get(&site.file).map_or(&[][..], Vec::as_slice);
            let mutated = mutated_sources
                .get(&site.file)
                .map_or(&[][..], Vec::as_slice);
            let span = site.mutation.span.clone();
            let mutated_span = span.start..span.start + site.mutation.replacement.len();
            results[i] = Some(SiteResult {
                dir: site.dir.clone(),
                file,
                line: lockwarden_syntax::parse::line_col(source, span.start as u32).0,
                function: site.mutation.function.clone(),
                operator: site.mutation.operator,
                detection,
                original: lines_of(source, span),
                mutated: lines_of(mutated, mutated_span),
                new_findings: new.into_iter().map(ChangedFinding::of).collect(),
                lost_findings: lost.into_iter().map(ChangedFinding::of).collect(),
            });
        }
        eprintln!(
            "recall: batch {}/{}: {} sites, {} context headers ({:.1} s)",
            n + 1,
            batches.len(),
            batch.sites.len(),
            context_paths.len(),
            t.elapsed().as_secs_f64()
        );
    }
    let results: Vec<SiteResult> = results.into_iter().flatten().collect();

    print_tables(&results, &dirs);
    if let Some(list) = options.list {
        print_list(&results, list);
    }
    if let Some(path) = &options.json {
        let report = serde_json::json!({
            "seed": options.seed,
            "per_op": per_op,
            "min_per_operator": min_total,
            "sites": results,
        });
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("recall: done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn percent(part: usize, total: usize) -> String {
    if total == 0 {
        "-".to_owned()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / total as f64)
    }
}

fn print_tables(results: &[SiteResult], dirs: &[(String, Vec<PathBuf>)]) {
    let count = |operator: Option<Operator>, dir: Option<&str>, detection: Option<Detection>| {
        results
            .iter()
            .filter(|r| operator.is_none_or(|o| r.operator == o))
            .filter(|r| dir.is_none_or(|d| r.dir == d))
            .filter(|r| detection.is_none_or(|d| r.detection == d))
            .count()
    };
    println!(
        "{:<22} {:>11} {:>14} {:>7} {:>6} {:>14}",
        "operator", "in function", "only elsewhere", "missed", "total", "% in function"
    );
    let rows = Operator::ALL
        .iter()
        .map(|&o| (o.name(), Some(o)))
        .chain([("all", None)]);
    for (name, operator) in rows {
        let found = count(operator, None, Some(Detection::InFunction));
        let total = count(operator, None, None);
        println!(
            "{:<22} {:>11} {:>14} {:>7} {:>6} {:>14}",
            name,
            found,
            count(operator, None, Some(Detection::OnlyElsewhere)),
            count(operator, None, Some(Detection::Missed)),
            total,
            percent(found, total)
        );
    }

    println!();
    println!("in function / total, per directory:");
    let headers = [
        "unlock-ret",
        "goto-unwind",
        "dup-acquire",
        "other-lock",
        "ignore-try",
    ];
    print!("{:<14}", "directory");
    for h in headers {
        print!(" {h:>11}");
    }
    println!(" {:>11}", "all");
    let names = dirs.iter().map(|(d, _)| d.as_str()).map(Some).chain([None]);
    for dir in names {
        if dir.is_some() && count(None, dir, None) == 0 {
            continue;
        }
        print!("{:<14}", dir.unwrap_or("all"));
        for operator in Operator::ALL.map(Some).into_iter().chain([None]) {
            let cell = format!(
                "{}/{}",
                count(operator, dir, Some(Detection::InFunction)),
                count(operator, dir, None)
            );
            print!(" {cell:>11}");
        }
        println!();
    }
}

fn print_list(results: &[SiteResult], list: List) {
    println!();
    println!(
        "{} sites:",
        if list == List::Missed {
            "missed"
        } else {
            "all"
        }
    );
    for r in results {
        if list == List::Missed && r.detection != Detection::Missed {
            continue;
        }
        let outcome = match (list, r.detection) {
            (List::Missed, _) => String::new(),
            (_, Detection::InFunction) => " [in function]".to_owned(),
            (_, Detection::OnlyElsewhere) => " [only elsewhere]".to_owned(),
            (_, Detection::Missed) => " [missed]".to_owned(),
        };
        println!(
            "{}:{} {} {}{outcome}",
            r.file,
            r.line,
            r.function,
            r.operator.name()
        );
        for line in r.original.iter().take(4) {
            println!("    - {line}");
        }
        for line in r.mutated.iter().take(4) {
            if line.trim().is_empty() {
                println!("    + (blank)");
            } else {
                println!("    + {line}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sites of `operator` in `source`, applied one at a time.
    fn mutants(source: &str, operator: Operator) -> Vec<String> {
        let config = lockwarden_rules::builtin::config().unwrap();
        let parsed = ParsedFile::parse(source.as_bytes().to_vec(), &config.syntax.compile())
            .expect("parses");
        find_sites(&parsed, &config.locks.compile())
            .into_iter()
            .filter(|m| m.operator == operator)
            .map(|m| {
                assert_eq!(m.function, "f");
                String::from_utf8(m.apply(source.as_bytes())).unwrap()
            })
            .collect()
    }

    /// `source` with the first `old` replaced by `new`.
    fn edited(source: &str, old: &str, new: &str) -> String {
        assert!(source.contains(old), "{old:?} not in the snippet");
        source.replacen(old, new, 1)
    }

    /// `text` as spaces, newlines kept.
    fn spaces(text: &str) -> String {
        String::from_utf8(blank(text.as_bytes())).unwrap()
    }

    #[test]
    fn unlock_before_return_deletes_the_unlock_of_an_early_return() {
        let source = "int f(struct s *s)\n{\n\tspin_lock(&s->lock);\n\tif (s->bad) {\n\t\tspin_unlock(&s->lock);\n\t\treturn -EINVAL;\n\t}\n\tspin_unlock(&s->lock);\n\treturn 0;\n}\n";
        let unlock = "spin_unlock(&s->lock);\n\t\treturn -EINVAL;";
        let expected = edited(
            source,
            unlock,
            &format!("{}\n\t\treturn -EINVAL;", spaces("spin_unlock(&s->lock);")),
        );
        // The last unlock is followed by the body's last statement: not a site.
        assert_eq!(mutants(source, Operator::UnlockBeforeReturn), [expected]);
        // Nor is an unlock of a lock the function does not take.
        let unbalanced = source.replace("\tspin_lock(&s->lock);\n", "");
        assert!(mutants(&unbalanced, Operator::UnlockBeforeReturn).is_empty());
    }

    #[test]
    fn goto_unwind_unlock_deletes_an_unlock_after_a_target_label() {
        let source = "int f(struct s *s)\n{\n\tint err = 0;\n\tmutex_lock(&s->m);\n\tif (s->bad)\n\t\tgoto out;\n\tdo_it(s);\nout:\n\tkfree(s->buf);\n\tmutex_unlock(&s->m);\n\treturn err;\n}\n";
        let unlock = "mutex_unlock(&s->m);";
        let expected = edited(source, unlock, &spaces(unlock));
        assert_eq!(mutants(source, Operator::GotoUnwindUnlock), [expected]);
        // A label nobody jumps to is not an unwind path.
        let unused = source.replace("goto out;", "return 1;");
        assert!(mutants(&unused, Operator::GotoUnwindUnlock).is_empty());
    }

    #[test]
    fn duplicate_acquire_repeats_a_non_recursive_acquire_on_its_line() {
        let source = "void f(struct s *s)\n{\n\trcu_read_lock();\n\tspin_lock_irqsave(&s->lock,\n\t\t\t  flags);\n\tspin_unlock_irqrestore(&s->lock, flags);\n\trcu_read_unlock();\n}\n";
        let expected = edited(
            source,
            "flags);\n",
            "flags); spin_lock_irqsave(&s->lock, flags);\n",
        );
        // RCU nests, so only the spinlock is a site.
        assert_eq!(mutants(source, Operator::DuplicateAcquire), [expected]);
    }

    #[test]
    fn release_other_lock_swaps_in_a_lock_of_the_same_kind() {
        let source = "void f(struct s *s, struct t *t)\n{\n\tspin_lock(&s->a);\n\tspin_lock(&t->b);\n\tmutex_lock(&s->m);\n\tmutex_unlock(&s->m);\n\tspin_unlock(&t->b);\n\tspin_unlock(&s->a);\n}\n";
        // The mutex has no other mutex in the file to be swapped with.
        let expected = [
            edited(source, "spin_unlock(&t->b)", "spin_unlock(&s->a)"),
            edited(source, "spin_unlock(&s->a)", "spin_unlock(&t->b)"),
        ];
        assert_eq!(mutants(source, Operator::ReleaseOtherLock), expected);
    }

    #[test]
    fn ignore_try_result_drops_the_failure_branch() {
        let negated = "int f(struct s *s)\n{\n\tif (!spin_trylock(&s->lock))\n\t\treturn -EBUSY;\n\ts->n++;\n\tspin_unlock(&s->lock);\n\treturn 0;\n}\n";
        let branch = "if (!spin_trylock(&s->lock))\n\t\treturn -EBUSY;";
        let call = "spin_trylock(&s->lock);";
        let padded = format!("{call}{}\n", " ".repeat(branch.len() - 1 - call.len()));
        let expected = edited(negated, branch, &padded);
        assert_eq!(expected.len(), negated.len());
        assert_eq!(mutants(negated, Operator::IgnoreTryResult), [expected]);

        let zero = "int f(struct s *s)\n{\n\tif (mutex_lock_interruptible(&s->m))\n\t\treturn -EINTR;\n\tmutex_unlock(&s->m);\n\treturn 0;\n}\n";
        let branch = "if (mutex_lock_interruptible(&s->m))\n\t\treturn -EINTR;";
        let call = "mutex_lock_interruptible(&s->m);";
        let padded = format!("{call}{}\n", " ".repeat(branch.len() - 1 - call.len()));
        assert_eq!(
            mutants(zero, Operator::IgnoreTryResult),
            [edited(zero, branch, &padded)]
        );
        // The success branch is not a site, nor a try never released.
        let success = zero.replace("if (mutex", "if (!mutex");
        assert!(mutants(&success, Operator::IgnoreTryResult).is_empty());
        let kept = zero.replace("\tmutex_unlock(&s->m);\n", "");
        assert!(mutants(&kept, Operator::IgnoreTryResult).is_empty());

        let stored = "int f(struct s *s)\n{\n\tint ret = mutex_lock_killable(&s->m);\n\tif (ret)\n\t\treturn ret;\n\tmutex_unlock(&s->m);\n\treturn 0;\n}\n";
        let branch = "if (ret)\n\t\treturn ret;";
        assert_eq!(
            mutants(stored, Operator::IgnoreTryResult),
            [edited(stored, branch, &spaces(branch))]
        );
    }

    #[test]
    fn overwrite_and_blank_keep_every_line_in_place() {
        assert_eq!(blank(b"a;\n\tb;"), b"  \n   ");
        assert_eq!(
            overwrite("x(l);", b"if (!x(l))\n\treturn;"),
            b"x(l);             \n"
        );
        assert_eq!(overwrite("a_longer_name", b"ab"), b"a_longer_name");
        assert_eq!(overwrite("a\n\tb", b"0123456"), b"a b    ");
        assert_eq!(lock_key(" & (s->lock) "), "s->lock");
    }

    #[test]
    fn splitmix64_is_deterministic() {
        // Reference values of splitmix64 seeded with 1234567.
        let mut rng = SplitMix64::new(1_234_567);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(
            first,
            [
                6457827717110365317,
                3203168211198807973,
                9817491932198370423
            ]
        );
        let shuffled = |seed| {
            let mut v: Vec<u32> = (0..20).collect();
            SplitMix64::new(seed).shuffle(&mut v);
            v
        };
        assert_eq!(shuffled(7), shuffled(7));
        assert_ne!(shuffled(7), shuffled(8));
        let mut sorted = shuffled(7);
        sorted.sort();
        assert_eq!(sorted, (0..20).collect::<Vec<_>>());
    }
}
