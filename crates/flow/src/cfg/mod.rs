//! Lowering a function body to a control-flow graph of lock-relevant events.
//!
//! The graph is independent of the tree: every call carries the lock paths of
//! its arguments, resolved here, so the dataflow and the summaries never touch
//! tree-sitter nodes. Conditions are lowered per operand (`&&`, `||`, `!`,
//! comparisons with zero), so the edges out of a try-lock call say which way
//! it went.
//!
//! This module holds the graph and its queries; lowering is split by what it
//! lowers: statements ([`lower`]), expressions and calls (`expr`), conditions
//! (`cond`), and guards with the releases at scope exits (`scope`). A graph
//! waiting to be solved is kept packed (`packed`).

mod cond;
mod expr;
mod lower;
mod packed;
mod scope;

use std::collections::{HashMap, HashSet};

use lockwarden_syntax::outline::TypeRef;
use lockwarden_syntax::Span;

use crate::path::Path;

pub use lower::lower;
pub use packed::{PackedBytes, PackedCfg};

pub type NodeId = u32;

/// What a conditional edge tests.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum TruthKey {
    /// The result of the call at this node.
    Call(NodeId),
    /// A local variable.
    Var(String),
    /// Another lvalue, such as a field (`args->lock`).
    Value(Path),
    /// A side-effect-free condition, by its text (`new_ptl != old_ptl`),
    /// with the variables it reads.
    Cond { text: String, vars: Vec<String> },
    /// The variable holds a negated errno (`ret = -ENOENT`).
    Errno(String),
    /// The variable carries a lock-status flag (`ret |= VM_FAULT_LOCKED`).
    Status(String),
}

impl TruthKey {
    /// A comparison of a value with a constant (`PERF_TYPE_RAW ==
    /// event->attr.type`): the value's text and the constant's.
    pub fn constant_comparison(&self) -> Option<(&str, &str)> {
        let TruthKey::Cond { text, .. } = self else {
            return None;
        };
        let (l, r) = text.split_once("==")?;
        match (is_constant_text(l), is_constant_text(r)) {
            (true, false) => Some((r, l)),
            (false, true) => Some((l, r)),
            _ => None,
        }
    }

    /// The variable and the flag a test of one flag reads (`flags & NAME`):
    /// the inverse of [`flag_key`].
    pub fn flag_test(&self) -> Option<(&str, &str)> {
        let TruthKey::Cond { text, .. } = self else {
            return None;
        };
        let (var, name) = text.split_once('&')?;
        (is_identifier(var) && is_flag_name(name) && flag_key(var, name) == *self)
            .then_some((var, name))
    }

    /// A preprocessor condition (`#if defined(CONFIG_X)`): the build
    /// configuration, which no caller decides.
    pub fn is_config(&self) -> bool {
        matches!(self, TruthKey::Cond { text, .. } if text.starts_with('#'))
    }

    /// Whether `lock` is reached through the pointer this key tests
    /// (`ctx->bdev` for `ctx->bdev->bd_queue->lock`, `p` for `p->lock`).
    pub fn covers_lock(&self, lock: &Path) -> bool {
        match self {
            TruthKey::Var(v) => {
                lock.root_var() == Some(v.as_str())
                    && lock.steps.first() == Some(&crate::path::Step::Deref)
            }
            TruthKey::Value(p) => {
                lock.root == p.root
                    && lock.steps.len() > p.steps.len()
                    && lock.steps.starts_with(&p.steps)
                    && lock.steps[p.steps.len()] == crate::path::Step::Deref
            }
            _ => false,
        }
    }

    /// Whether changing `self` changes `other` (a variable covers its fields).
    pub fn covers(&self, other: &TruthKey) -> bool {
        match (self, other) {
            (a, b) if a == b => true,
            (TruthKey::Var(v), TruthKey::Value(p)) => p.root_var() == Some(v.as_str()),
            (TruthKey::Var(v), TruthKey::Cond { vars, .. }) => vars.contains(v),
            (TruthKey::Var(v), TruthKey::Errno(w) | TruthKey::Status(w)) => v == w,
            // A field assigned changes the conditions that read it, not one
            // reading a sibling field (`hwc->config_base = …` leaves
            // `event->attr.type == PERF_TYPE_RAW` as it was). A call reads
            // all of what it is given: a field containing the one assigned
            // (`list_empty(&p->list)` after `p->list.next = …`). A call
            // given the whole object (`drm_dev_needs_global_mutex(dev)`
            // after `dev->registered = true`) is treated as the calls
            // between the two tests are, which may write any field too:
            // only what the condition names is tracked.
            (TruthKey::Value(p), TruthKey::Cond { text, vars }) => {
                let mut fields = p.steps.iter().filter_map(|s| match s {
                    crate::path::Step::Field(f) => Some(f),
                    _ => None,
                });
                p.root_var().is_some_and(|r| vars.iter().any(|v| v == r))
                    && match fields.next_back() {
                        None => true,
                        Some(field) if mentions_word(text, field) => true,
                        Some(_) => text.contains('(') && fields.any(|f| mentions_word(text, f)),
                    }
            }
            (TruthKey::Value(p), TruthKey::Value(q)) => {
                q.root == p.root && q.steps.starts_with(&p.steps)
            }
            _ => false,
        }
    }
}

/// Whether `word` appears in `text` as a whole identifier.
fn mentions_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(ident)
            && !text[at + word.len()..].chars().next().is_some_and(ident)
    })
}

/// The condition under which an edge is taken.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EdgeCond {
    Always,
    /// Taken when the key's value is nonzero (`true`) or zero (`false`).
    Truth(TruthKey, bool),
    /// Settles a pending try-lock result as nonzero (`true`) or zero
    /// (`false`) without saying more about the value: the false side of
    /// `ret < 0` is "not an error", not "zero".
    Settle(TruthKey, bool),
    /// The try results stored in the key found their lock held already by
    /// the acquire context they were given (`ret == -EALREADY` after
    /// `ww_mutex_lock()`, tested before or not): held, though by no call of
    /// this function, so unknown here.
    AlreadyHeld(TruthKey),
    /// Whether the value at the key (a field, `IS_ERR(c->root)`) is an
    /// error pointer (`true`): settles the try results stored there, as
    /// [`TruthKey::Errno`] does for a variable.
    ErrorTest(TruthKey, bool),
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Edge {
    pub to: NodeId,
    pub cond: EdgeCond,
}

/// What a `return` returns, as far as lock summaries care.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ReturnValue {
    Void,
    Zero,
    /// A negative constant or `-ERRNO`.
    Negative,
    /// A positive constant or `true`.
    Positive,
    Var(String),
    /// The result of the call at this node (`return spin_trylock(l);`).
    Call(NodeId),
    /// A value carrying a lock-status flag (`return ret | VM_FAULT_LOCKED;`).
    Announced,
    /// The address of an object (`return &hash[idx];`), by its text.
    Address(String),
    /// A pointer read from a field (`return bdev->bd_queue;`), by its text.
    Field(String),
    Other,
}

impl ReturnValue {
    /// Whether a caller may see the same value from a return of `self` and
    /// one of `other`: `Some(true)` certainly (both `return 0;`, the same
    /// variable, `void`), `Some(false)` possibly (an expression on one side
    /// may be any success value), `None` when the values tell the returns
    /// apart.
    pub fn same_as(&self, other: &ReturnValue) -> Option<bool> {
        use ReturnValue::*;
        match (self, other) {
            (Var(x), Var(y)) | (Field(x), Field(y)) if x == y => Some(true),
            (Void, Void)
            | (Announced, Announced)
            | (Zero, Zero)
            | (Negative, Negative)
            | (Positive, Positive) => Some(true),
            (Other | Field(_), Zero | Positive | Other) | (Zero | Positive, Other | Field(_)) => {
                Some(false)
            }
            _ => None,
        }
    }
}

/// The lock paths an argument can stand for in a callee's summary.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ArgPaths {
    /// What the argument points to (for a callee's `*param` paths).
    pub pointee: Option<Path>,
    /// The argument as an lvalue (for a callee's `param` paths).
    pub lvalue: Option<Path>,
    /// What a branch on the argument's value would test.
    pub key: Option<TruthKey>,
    /// The argument's truth when it is a constant (`NULL`, `0`, `true`).
    pub constant: Option<bool>,
    /// The flags it sets when it is written as flag names or-ed together
    /// (`BTRFS_ILOCK_SHARED | BTRFS_ILOCK_TRY`; `0` sets none).
    pub flags: Option<Vec<String>>,
}

/// A call site.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Call {
    /// The callee's name when called directly.
    pub callee: Option<String>,
    pub span: Span,
    pub args: Vec<ArgPaths>,
    /// The variable the result is assigned to.
    pub result_var: Option<String>,
    /// Where the result is stored: the variable, or a field.
    pub result_lvalue: Option<Path>,
    /// The result is stored negated (`ret = !folio_trylock(folio)`).
    pub result_negated: bool,
    /// A second variable the result is stored in (`start = pte = map(…)`).
    pub result_alias: Option<String>,
    /// Called through a pointer: `Some(true)` when the pointer comes from a
    /// parameter (`filler(file, folio)`, `mapping->a_ops->writepage(…)`
    /// with `mapping` a parameter), a callback the caller chose.
    pub indirect: Option<bool>,
    /// Called through a pointer read from a field (`dev->ops->attach(dev)`):
    /// the field's name. Any function the program stores in a field of
    /// that name may run here.
    pub through_field: Option<String>,
    /// Whether the result is tested, assigned or returned.
    pub result_used: bool,
    /// Variables whose address is passed: the call may change them.
    pub clobbers: Vec<String>,
    /// An acquire annotated as one of several locks of a class held at once
    /// (`mutex_lock_nested(&vqs[i]->mutex, i)`).
    pub nests: bool,
}

impl Cfg {
    /// Whether callers can name the object at `path`: it starts at a
    /// parameter or a global, and no call the analysis could not resolve
    /// (a lookup of the function's own) is on the way.
    pub fn caller_nameable(&self, path: &Path) -> bool {
        let root_ok = match &path.root {
            crate::path::Root::Named(_) => true,
            crate::path::Root::Var(v) => !self.locals.contains(v),
        };
        root_ok
            && !path
                .steps
                .iter()
                .any(|s| matches!(s, crate::path::Step::Call(_)))
    }

    /// Whether `name` is neither a local nor a parameter of the function:
    /// a global, or a function.
    pub fn is_global(&self, name: &str) -> bool {
        !self.locals.contains(name) && !self.params.iter().any(|p| p == name)
    }

    /// Whether `path` starts at one of the function's parameters.
    pub fn rooted_at_param(&self, path: &Path) -> bool {
        path.root_var()
            .is_some_and(|r| self.params.iter().any(|p| p == r))
    }
}

impl Call {
    /// Arguments naming something other than a local or parameter of
    /// `cfg`'s function: functions passed as callbacks
    /// (`kref_put(&z->ref, release_locked)`), when the program defines them.
    pub fn passed_functions<'c>(&'c self, cfg: &'c Cfg) -> impl Iterator<Item = &'c str> + 'c {
        self.args.iter().filter_map(move |a| {
            a.lvalue
                .as_ref()
                .filter(|p| p.steps.is_empty())
                .and_then(Path::root_var)
                .filter(|n| cfg.is_global(n))
        })
    }
}

/// One node of the graph.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Op {
    Nop,
    Call(Box<Call>),
    /// `guard(class)(lock)` or the start of a `scoped_guard` body.
    GuardAcquire(GuardLock),
    /// The end of a guard's scope; `span` is the guard, `at` the scope exit.
    GuardRelease {
        lock: Path,
        span: Span,
        at: Span,
    },
    /// A variable is assigned something other than a call result.
    Assign {
        key: TruthKey,
        /// The truth of the value when it is a constant (`p = NULL`).
        value: Option<bool>,
    },
    /// A variable assigned a named constant or number (`ttu = TTU_RMAP_LOCKED`),
    /// after its [`Op::Assign`]: conditions comparing it with constants learn.
    AssignConst {
        var: String,
        constant: String,
    },
    /// A local an iterator macro may move to its next object at the start of
    /// each iteration (`list_for_each_entry(folio, …)`). `fixed`: it keeps
    /// its declared value everywhere else, so it may be what is iterated
    /// over rather than the cursor (`for_each_thread(p, t)` with `p =
    /// current`).
    Cursor {
        var: String,
        fixed: bool,
    },
    /// A variable given the value of another variable or field, after its
    /// [`Op::Assign`] (`start_pte = pte;`): a try result waiting in `from`
    /// may now be tested through `to` too.
    Copy {
        to: String,
        from: TruthKey,
        /// What `from` points to, as this function names it (`locked =
        /// engine;` after `engine = READ_ONCE(rq->engine)`): `to` now
        /// points there too.
        pointee: Option<Path>,
    },
    /// A field or variable written (`page->private = x`).
    Write {
        target: Path,
        span: Span,
        /// The object the stored pointer points to, when the value is a
        /// variable (`*foliop = folio`), through its aliases.
        stored: Option<Path>,
    },
    Return {
        span: Span,
        value: ReturnValue,
    },
}

impl Op {
    /// Where in the source the node is, for the nodes that have a place.
    pub fn span(&self) -> Option<Span> {
        match self {
            Op::Call(call) => Some(call.span),
            Op::GuardAcquire(guard) => Some(guard.span),
            Op::GuardRelease { at, .. } => Some(*at),
            Op::Write { span, .. } | Op::Return { span, .. } => Some(*span),
            Op::Nop
            | Op::Assign { .. }
            | Op::AssignConst { .. }
            | Op::Copy { .. }
            | Op::Cursor { .. } => None,
        }
    }
}

/// The lock a guard takes.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct GuardLock {
    pub lock: Path,
    /// The primitive the guard class stands for (`spin_lock_irqsave`).
    pub primitive: String,
    pub recursive: bool,
    pub span: Span,
}

/// The graph of one function.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Cfg {
    pub ops: Vec<Op>,
    pub succs: Vec<Vec<Edge>>,
    pub entry: NodeId,
    pub exit: NodeId,
    /// Lowering gave up somewhere (nesting too deep); results are partial.
    pub incomplete: bool,
    /// The body records the running task as a lock's owner (`prepare_owner
    /// = current`): a recursive lock by hand, held once per depth a counter
    /// keeps, which no lock set follows.
    pub records_owner: bool,
    /// What each local that aliases an lvalue designates (`ctx` for `ctx =
    /// file->private_data`, everywhere replaced by it): a macro's free
    /// identifier `ctx` is the caller's variable, by the same name.
    pub local_aliases: HashMap<String, Path>,
    /// Locals that copy, on entry, what a parameter points to (`chan =
    /// *pchan`): a lock under one is the caller's, named through the
    /// parameter.
    pub entry_copies: HashMap<String, Path>,
    /// Names declared inside the body.
    pub locals: HashSet<String>,
    /// The function's parameter names.
    pub params: Vec<String>,
    /// Parameters the body assigns or steps (`++depth`): past that, the
    /// name no longer holds what the caller passed.
    pub assigned_params: HashSet<String>,
    /// Declared types of locals, where the declaration says.
    pub local_types: HashMap<String, TypeRef>,
    /// Variables whose objects are passed to a call through a pointer, with
    /// whether that callback came from a parameter: what it does to their
    /// locks is not known (`->read_folio` unlocks the folio it is given).
    pub handed_to_callbacks: Vec<(String, bool)>,
    /// Conditions comparing a variable with a constant (`result ==
    /// SCAN_SUCCEED`, `ttu & TTU_RMAP_LOCKED`), by variable.
    pub constant_conds: HashMap<String, Vec<ConstantCond>>,
    /// For each comparison of a value with a constant (`PERF_TYPE_RAW ==
    /// event->attr.type`), the comparisons of the same value with other
    /// constants: where one holds, the others do not.
    pub exclusive: Exclusive,
    /// What a returned variable designates when it aliases an expression
    /// (`ctx` for `event->ctx`): its locks are the caller's result's. For a
    /// returned address (`return &hash[idx];`), keyed by its text, the
    /// object whose address it is.
    pub returned_paths: HashMap<String, Path>,
    /// What a returned pointer points to, by the returned text (`p` for
    /// `return p;` with `p = &c->port`; `&c->port` for `return &c->port;`).
    pub returned_objects: HashMap<String, Path>,
    /// Lowered as a macro whose `return` returns from its caller: its
    /// returns are `0` ("the caller returns") and its end `1` ("the caller
    /// goes on"), and this is what the caller then returns.
    pub exits_caller: Option<CallerExit>,
}

/// What a macro whose body returns makes its caller return.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallerExit {
    /// The value, when every `return` of the body returns the same kind;
    /// `Var(p)` for a parameter `p` (`return (status)`).
    pub value: ReturnValue,
    /// Every path through the body returns: the caller never goes on.
    pub always: bool,
}

impl CallerExit {
    /// A macro whose body is `return <returned>` (from its `#define` line):
    /// a parameter's value, a constant, or nothing.
    pub fn of_return_macro(params: &[String], returned: &str) -> CallerExit {
        let value = if returned.is_empty() {
            ReturnValue::Void
        } else if params.iter().any(|p| p == returned) {
            ReturnValue::Var(returned.to_owned())
        } else if matches!(returned, "0" | "NULL" | "false") {
            ReturnValue::Zero
        } else if returned.starts_with('-') {
            ReturnValue::Negative
        } else {
            ReturnValue::Other
        };
        CallerExit {
            value,
            always: true,
        }
    }
}

/// Macros whose `return` returns from their caller, by name, with their
/// parameters and what the caller then returns.
pub type CallerExits = HashMap<String, (Vec<String>, CallerExit)>;

/// Per-file facts the lowering of each function reads.
pub struct FileFacts<'f> {
    /// Enumerators of the file, with whether they are zero (`MC_TARGET_NONE`).
    pub enumerators: HashMap<&'f str, bool>,
    /// The file's own macros that return from their caller.
    pub caller_exits: CallerExits,
    /// The headers' macros that are a `return`, shared by every file.
    pub header_exits: &'f CallerExits,
    /// The headers' macros that hand one of their arguments to a condition
    /// wrapper (`drm_WARN_ONCE(drm, condition, …)` is `WARN_ONCE(condition,
    /// …)`), with that argument's position.
    pub header_conditions: &'f HashMap<String, usize>,
    /// The headers' inline predicates over globals only
    /// (`debug_pagealloc_enabled()`): questions about globals.
    pub global_predicates: &'f std::collections::HashSet<String>,
    /// The file's functions that never return (see
    /// [`lockwarden_syntax::outline::Outline::never_returning`]).
    pub never_returning: std::collections::HashSet<String>,
}

impl FileFacts<'_> {
    /// The macro `name` that returns from its caller: the file's own
    /// definition first, else a header's.
    pub fn caller_exit(&self, name: &str) -> Option<&(Vec<String>, CallerExit)> {
        self.caller_exits
            .get(name)
            .or_else(|| self.header_exits.get(name))
    }
}

/// A condition on a variable and a constant.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ConstantCond {
    pub key: TruthKey,
    pub constant: String,
    /// `var & CONSTANT` rather than `var == CONSTANT`.
    pub bit_test: bool,
}

impl ConstantCond {
    /// The condition's truth once the variable holds `value`, if known.
    pub fn truth_with(&self, value: &str) -> Option<bool> {
        if value == self.constant {
            return Some(true);
        }
        if !self.bit_test || value == "0" {
            return Some(false);
        }
        None
    }
}

/// The key of a test of the flag `name` in variable `var` (`var & name`),
/// as a condition on it is keyed where it is written so.
pub fn flag_key(var: &str, name: &str) -> TruthKey {
    let mut vars = vec![var.to_owned(), name.to_owned()];
    vars.sort();
    TruthKey::Cond {
        text: crate::path::squeezed(&format!("{var}&{name}")),
        vars,
    }
}

/// A name a flag goes by: an identifier without lower-case letters
/// (`BTRFS_ILOCK_TRY`, `__GFP_NOFAIL`), as the kernel names its flags.
pub(crate) fn is_flag_name(s: &str) -> bool {
    is_identifier(s) && !s.chars().any(|c| c.is_ascii_lowercase())
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// Whether a condition reading `vars` is the caller's to decide: it reads
/// parameters and constants only (none at all: a question about globals).
pub fn callers_to_decide(vars: &[String], params: &[String]) -> bool {
    vars.iter()
        .all(|v| params.contains(v) || is_constant_text(v))
}

/// A named constant (`SCAN_FAIL`) or a number.
pub fn is_constant_text(text: &str) -> bool {
    let first = text.chars().next();
    first.is_some_and(|c| c.is_ascii_digit())
        || (first.is_some_and(|c| c.is_ascii_uppercase())
            && text
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
}

/// Conditions of `cfg` of the form `v == C` or `v & C`.
pub(super) fn constant_conds(cfg: &Cfg) -> HashMap<String, Vec<ConstantCond>> {
    let mut out: HashMap<String, Vec<ConstantCond>> = HashMap::new();
    let mut seen: HashSet<&TruthKey> = HashSet::new();
    for edge in cfg.succs.iter().flatten() {
        let EdgeCond::Truth(key @ TruthKey::Cond { text, vars }, _) = &edge.cond else {
            continue;
        };
        if !seen.insert(key) {
            continue;
        }
        let (parts, bit_test) = match (text.split_once("=="), text.split_once('&')) {
            (Some(p), _) => (p, false),
            (None, Some(p)) if !text.contains("&&") => (p, true),
            _ => continue,
        };
        for (var, constant) in [(parts.0, parts.1), (parts.1, parts.0)] {
            if vars.iter().any(|v| v == var) && is_constant_text(constant) {
                out.entry(var.to_owned()).or_default().push(ConstantCond {
                    key: key.clone(),
                    constant: constant.to_owned(),
                    bit_test,
                });
            }
        }
    }
    out
}

/// Comparisons of one value with different constants: where one holds, the
/// others do not ([`Cfg::exclusive`]). Groups of a few only: a long `if
/// (cmd == A) … else if (cmd == B) …` chain would give every path a fact
/// per constant.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Exclusive {
    group_of: HashMap<TruthKey, usize>,
    groups: Vec<Vec<TruthKey>>,
}

/// The most constants one value is compared with for [`Exclusive`] to
/// relate them.
const MAX_EXCLUSIVE: usize = 8;

impl Exclusive {
    /// The comparisons that cannot hold where `key` does.
    pub fn others<'a>(&'a self, key: &'a TruthKey) -> impl Iterator<Item = &'a TruthKey> + 'a {
        self.group_of
            .get(key)
            .into_iter()
            .flat_map(move |&g| self.groups[g].iter().filter(move |k| *k != key))
    }
}

/// The comparisons of one value with different constants in `cfg`.
pub(super) fn exclusive_conds(cfg: &Cfg) -> Exclusive {
    let mut by_subject: HashMap<&str, Vec<&TruthKey>> = HashMap::new();
    for edge in cfg.succs.iter().flatten() {
        let EdgeCond::Truth(key, _) = &edge.cond else {
            continue;
        };
        let Some((subject, _)) = key.constant_comparison() else {
            continue;
        };
        let entry = by_subject.entry(subject).or_default();
        // A group past MAX_EXCLUSIVE is dropped below: stop growing it, so
        // a 50,000-case switch is not a quadratic search.
        if entry.len() <= MAX_EXCLUSIVE && !entry.contains(&key) {
            entry.push(key);
        }
    }
    let mut out = Exclusive::default();
    for keys in by_subject.into_values() {
        if !(2..=MAX_EXCLUSIVE).contains(&keys.len()) {
            continue;
        }
        let g = out.groups.len();
        out.groups.push(keys.into_iter().cloned().collect());
        for key in &out.groups[g] {
            out.group_of.insert(key.clone(), g);
        }
    }
    out
}

impl Cfg {
    /// Whether a branch reachable from `node` tests `key` before it is
    /// assigned again: the path is worth splitting on its value.
    pub fn tested_after(&self, node: NodeId, key: &TruthKey) -> bool {
        let mut seen = vec![false; self.ops.len()];
        let mut work = vec![node];
        while let Some(n) = work.pop() {
            for edge in &self.succs[n as usize] {
                if let EdgeCond::Truth(k, _) | EdgeCond::Settle(k, _) = &edge.cond {
                    if key.covers(k) {
                        return true;
                    }
                }
                let to = edge.to as usize;
                if seen[to] || self.assigns(edge.to, key) {
                    continue;
                }
                seen[to] = true;
                work.push(edge.to);
            }
        }
        false
    }

    /// Whether the op at `node` assigns what `key` reads.
    pub(crate) fn assigns(&self, node: NodeId, key: &TruthKey) -> bool {
        match &self.ops[node as usize] {
            Op::Assign { key: k, .. } => k.covers(key),
            Op::Cursor { var, .. } => TruthKey::Var(var.clone()).covers(key),
            Op::Call(call) => call
                .result_var
                .as_ref()
                .is_some_and(|v| TruthKey::Var(v.clone()).covers(key)),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{flag_key, TruthKey};

    #[test]
    fn a_flag_test_is_read_back_from_its_key() {
        let key = flag_key("ilock_flags", "BTRFS_ILOCK_TRY");
        assert_eq!(key.flag_test(), Some(("ilock_flags", "BTRFS_ILOCK_TRY")));
        // A test of a variable by another variable, or of `&&`, is no flag.
        let not_flags = [flag_key("a", "b"), flag_key("a", "&B")];
        assert!(not_flags.iter().all(|k| k.flag_test().is_none()));
        assert_eq!(TruthKey::Var("flags".to_owned()).flag_test(), None);
    }
}
