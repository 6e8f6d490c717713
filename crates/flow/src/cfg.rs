//! Lowering a function body to a control-flow graph of lock-relevant events.
//!
//! The graph is independent of the tree: every call carries the lock paths of
//! its arguments, resolved here, so the dataflow and the summaries never touch
//! tree-sitter nodes. Conditions are lowered per operand (`&&`, `||`, `!`,
//! comparisons with zero), so the edges out of a try-lock call say which way
//! it went.

use std::collections::{HashMap, HashSet};

use lockwarden_syntax::outline::TypeRef;
use lockwarden_syntax::{field, kind, CompiledMacros, MacroUseKind, ParsedFile, Span};
use tree_sitter::Node;

use crate::api::{ApiFunction, LockApi, LockSource};
use crate::path::{strip, Path, PathResolver};

pub type NodeId = u32;

/// What a conditional edge tests.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// Whether changing `self` changes `other` (a variable covers its fields).
    pub fn covers(&self, other: &TruthKey) -> bool {
        match (self, other) {
            (a, b) if a == b => true,
            (TruthKey::Var(v), TruthKey::Value(p)) => p.root_var() == Some(v.as_str()),
            (TruthKey::Var(v), TruthKey::Cond { vars, .. }) => vars.contains(v),
            (TruthKey::Var(v), TruthKey::Errno(w) | TruthKey::Status(w)) => v == w,
            (TruthKey::Value(p), TruthKey::Cond { vars, .. }) => {
                p.root_var().is_some_and(|r| vars.iter().any(|v| v == r))
            }
            (TruthKey::Value(p), TruthKey::Value(q)) => {
                q.root == p.root && q.steps.starts_with(&p.steps)
            }
            _ => false,
        }
    }
}

/// The condition under which an edge is taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EdgeCond {
    Always,
    /// Taken when the key's value is nonzero (`true`) or zero (`false`).
    Truth(TruthKey, bool),
    /// Settles a pending try-lock result as nonzero (`true`) or zero
    /// (`false`) without saying more about the value: the false side of
    /// `ret < 0` is "not an error", not "zero".
    Settle(TruthKey, bool),
}

#[derive(Clone, Debug)]
pub struct Edge {
    pub to: NodeId,
    pub cond: EdgeCond,
}

/// What a `return` returns, as far as lock summaries care.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    Other,
}

/// The lock paths an argument can stand for in a callee's summary.
#[derive(Clone, Debug, Default)]
pub struct ArgPaths {
    /// What the argument points to (for a callee's `*param` paths).
    pub pointee: Option<Path>,
    /// The argument as an lvalue (for a callee's `param` paths).
    pub lvalue: Option<Path>,
    /// What a branch on the argument's value would test.
    pub key: Option<TruthKey>,
    /// The argument's truth when it is a constant (`NULL`, `0`, `true`).
    pub constant: Option<bool>,
}

/// A call site.
#[derive(Clone, Debug)]
pub struct Call {
    /// The callee's name when called directly.
    pub callee: Option<String>,
    pub span: Span,
    pub args: Vec<ArgPaths>,
    /// The lock API entry and the lock it names, for API calls.
    pub api: Option<(ApiFunction, Option<Path>)>,
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
    /// Whether the result is tested, assigned or returned.
    pub result_used: bool,
    /// Variables whose address is passed: the call may change them.
    pub clobbers: Vec<String>,
}

impl Cfg {
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
                .filter(|n| !cfg.locals.contains(*n) && !cfg.params.iter().any(|p| p == n))
        })
    }
}

/// One node of the graph.
#[derive(Clone, Debug)]
pub enum Op {
    Nop,
    Call(Box<Call>),
    /// `guard(class)(lock)` or the start of a `scoped_guard` body.
    GuardAcquire {
        lock: Path,
        api: ApiFunction,
        span: Span,
    },
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

/// The graph of one function.
#[derive(Clone, Debug)]
pub struct Cfg {
    pub ops: Vec<Op>,
    pub succs: Vec<Vec<Edge>>,
    pub entry: NodeId,
    pub exit: NodeId,
    /// Lowering gave up somewhere (nesting too deep); results are partial.
    pub incomplete: bool,
    /// Names declared inside the body.
    pub locals: HashSet<String>,
    /// The function's parameter names.
    pub params: Vec<String>,
    /// Declared types of locals, where the declaration says.
    pub local_types: HashMap<String, TypeRef>,
    /// Variables whose objects are passed to a call through a pointer, with
    /// whether that callback came from a parameter: what it does to their
    /// locks is not known (`->read_folio` unlocks the folio it is given).
    pub handed_to_callbacks: Vec<(String, bool)>,
    /// Conditions comparing a variable with a constant (`result ==
    /// SCAN_SUCCEED`, `ttu & TTU_RMAP_LOCKED`), by variable.
    pub constant_conds: HashMap<String, Vec<ConstantCond>>,
    /// What a returned variable designates when it aliases an expression
    /// (`ctx` for `event->ctx`): its locks are the caller's result's. For a
    /// returned address (`return &hash[idx];`), keyed by its text, the
    /// object whose address it is.
    pub returned_paths: HashMap<String, Path>,
}

/// A condition on a variable and a constant.
#[derive(Clone, Debug)]
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
fn constant_conds(cfg: &Cfg) -> HashMap<String, Vec<ConstantCond>> {
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

    fn assigns(&self, node: NodeId, key: &TruthKey) -> bool {
        match &self.ops[node as usize] {
            Op::Assign { key: k, .. } => k.covers(key),
            Op::Call(call) => call
                .result_var
                .as_ref()
                .is_some_and(|v| TruthKey::Var(v.clone()).covers(key)),
            _ => false,
        }
    }
}

/// Deepest statement/expression nesting lowered; beyond it the rest of the
/// subtree is skipped and the graph marked incomplete.
const MAX_DEPTH: usize = 400;

/// An active guard: released at the end of its block and on every exit from it.
#[derive(Clone)]
struct Guard {
    lock: Path,
    span: Span,
}

struct Scope {
    /// The block's span; a `goto` to a label outside it leaves the scope.
    span: Span,
    guards: Vec<Guard>,
}

struct Jump {
    target: NodeId,
    /// Scope depth at the loop or switch: scopes above it are left.
    scopes: usize,
}

/// Builds the [`Cfg`] of a function body.
pub fn lower(
    file: &ParsedFile,
    api: &LockApi,
    macros: &CompiledMacros,
    body: Node<'_>,
    params: &[String],
    enumerators: &HashMap<&str, bool>,
) -> Cfg {
    let resolver = PathResolver::new(file, api, body, params);
    let mut labels_at: HashMap<String, u32> = HashMap::new();
    lockwarden_syntax::walk::preorder(body, |n| {
        if n.kind_id() == kind::LABELED_STATEMENT {
            if let Some(label) = n.child_by_field_id(field::LABEL) {
                labels_at.insert(file.node_text(label).to_owned(), n.start_byte() as u32);
            }
        }
        true
    });
    let mut l = Lowerer {
        file,
        api,
        macros,
        paths: resolver,
        cfg: Cfg {
            ops: vec![Op::Nop, Op::Nop],
            succs: vec![Vec::new(), Vec::new()],
            entry: 0,
            exit: 1,
            incomplete: false,
            locals: HashSet::new(),
            handed_to_callbacks: Vec::new(),
            constant_conds: HashMap::new(),
            returned_paths: HashMap::new(),
            params: params.to_vec(),
            local_types: HashMap::new(),
        },
        scopes: Vec::new(),
        breaks: Vec::new(),
        continues: Vec::new(),
        labels: HashMap::new(),
        labels_at,
        depth: 0,
        result_path: None,
        enumerators,
    };
    let end = l.block(body, Some(0));
    if end.is_some() {
        let close = Span::new(body.end_byte() as u32 - 1, body.end_byte() as u32);
        let ret = l.add(
            Op::Return {
                span: close,
                value: ReturnValue::Void,
            },
            end,
        );
        l.link(ret, 1, EdgeCond::Always);
    }
    l.cfg.constant_conds = constant_conds(&l.cfg);
    l.cfg
}

struct Lowerer<'t, 'f> {
    file: &'f ParsedFile,
    api: &'f LockApi,
    macros: &'f CompiledMacros,
    paths: PathResolver<'t, 'f>,
    cfg: Cfg,
    scopes: Vec<Scope>,
    breaks: Vec<Jump>,
    continues: Vec<Jump>,
    labels: HashMap<String, NodeId>,
    labels_at: HashMap<String, u32>,
    depth: usize,
    /// The lvalue the next call's result is stored in, when not a plain variable.
    result_path: Option<Path>,
    /// Enumerators of the file, with whether they are zero (`MC_TARGET_NONE`).
    enumerators: &'f HashMap<&'f str, bool>,
}

type Cur = Option<NodeId>;

impl<'t> Lowerer<'t, '_> {
    fn new_node(&mut self, op: Op) -> NodeId {
        self.cfg.ops.push(op);
        self.cfg.succs.push(Vec::new());
        (self.cfg.ops.len() - 1) as NodeId
    }

    fn link(&mut self, from: NodeId, to: NodeId, cond: EdgeCond) {
        self.cfg.succs[from as usize].push(Edge { to, cond });
    }

    /// Adds a node reached from `cur` (if reachable).
    fn add(&mut self, op: Op, cur: Cur) -> NodeId {
        let n = self.new_node(op);
        if let Some(c) = cur {
            self.link(c, n, EdgeCond::Always);
        }
        n
    }

    fn join(&mut self, ends: &[Cur]) -> Cur {
        let live: Vec<NodeId> = ends.iter().flatten().copied().collect();
        match live.as_slice() {
            [] => None,
            [one] => Some(*one),
            _ => {
                let j = self.new_node(Op::Nop);
                for e in live {
                    self.link(e, j, EdgeCond::Always);
                }
                Some(j)
            }
        }
    }

    fn text(&self, node: Node<'_>) -> &str {
        self.file.node_text(node)
    }

    fn label_node(&mut self, name: &str) -> NodeId {
        if let Some(&n) = self.labels.get(name) {
            return n;
        }
        let n = self.new_node(Op::Nop);
        self.labels.insert(name.to_owned(), n);
        n
    }

    /// Emits releases for the guards of scopes `from..` (innermost first).
    fn release_scopes(&mut self, from: usize, cur: Cur, at: Span) -> Cur {
        let guards: Vec<Guard> = self.scopes[from..]
            .iter()
            .rev()
            .flat_map(|s| s.guards.iter().rev().cloned())
            .collect();
        guards.into_iter().fold(cur, |cur, g| {
            Some(self.add(
                Op::GuardRelease {
                    lock: g.lock,
                    span: g.span,
                    at,
                },
                cur,
            ))
        })
    }

    fn block(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        self.scopes.push(Scope {
            span: Span::of(node),
            guards: Vec::new(),
        });
        let mut cur = cur;
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
        for child in children {
            cur = self.stmt(child, cur);
        }
        let close = Span::new(
            node.end_byte().saturating_sub(1) as u32,
            node.end_byte() as u32,
        );
        let depth = self.scopes.len() - 1;
        let cur = self.release_scopes(depth, cur, close);
        self.scopes.pop();
        cur
    }

    fn stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        if self.depth > MAX_DEPTH {
            self.cfg.incomplete = true;
            return cur;
        }
        self.depth += 1;
        let out = self.stmt_inner(node, cur);
        self.depth -= 1;
        out
    }

    fn stmt_inner(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        match node.kind_id() {
            kind::COMPOUND_STATEMENT => self.block(node, cur),
            kind::EXPRESSION_STATEMENT => match node.named_child(0) {
                Some(e) if self.is_guard(e) => self.guard(e, cur),
                Some(e) => self.expr(e, cur),
                None => cur,
            },
            kind::DECLARATION => self.declaration(node, cur),
            kind::IF_STATEMENT => self.if_stmt(node, cur),
            kind::WHILE_STATEMENT => self.while_stmt(node, cur),
            kind::DO_STATEMENT => self.do_stmt(node, cur),
            kind::FOR_STATEMENT => self.for_stmt(node, cur),
            kind::SWITCH_STATEMENT => self.switch_stmt(node, cur),
            kind::RETURN_STATEMENT => self.return_stmt(node, cur),
            kind::GOTO_STATEMENT => {
                let label = node.child_by_field_id(field::LABEL)?;
                let name = self.text(label).to_owned();
                let target_at = self.labels_at.get(&name).copied();
                // Scopes that do not contain the label are left.
                let keep = self
                    .scopes
                    .iter()
                    .take_while(|s| {
                        target_at.is_some_and(|at| s.span.start <= at && at < s.span.end)
                    })
                    .count();
                let cur = self.release_scopes(keep, cur, Span::of(node));
                let target = self.label_node(&name);
                if let Some(c) = cur {
                    self.link(c, target, EdgeCond::Always);
                }
                None
            }
            kind::LABELED_STATEMENT => {
                let name = node
                    .child_by_field_id(field::LABEL)
                    .map(|l| self.text(l).to_owned())
                    .unwrap_or_default();
                let target = self.label_node(&name);
                if let Some(c) = cur {
                    self.link(c, target, EdgeCond::Always);
                }
                let mut cur = Some(target);
                let mut cursor = node.walk();
                let inner: Vec<Node<'t>> = node
                    .named_children(&mut cursor)
                    .filter(|c| c.kind_id() != kind::STATEMENT_IDENTIFIER)
                    .collect();
                for s in inner {
                    cur = self.stmt(s, cur);
                }
                cur
            }
            kind::BREAK_STATEMENT => self.jump(&JumpKind::Break, node, cur),
            kind::CONTINUE_STATEMENT => self.jump(&JumpKind::Continue, node, cur),
            kind::PREPROC_IF | kind::PREPROC_IFDEF | kind::PREPROC_ELSE | kind::PREPROC_ELIF => {
                self.preproc(node, cur)
            }
            kind::ATTRIBUTED_STATEMENT => {
                let mut cur = cur;
                let mut cursor = node.walk();
                let inner: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for s in inner {
                    cur = self.stmt(s, cur);
                }
                cur
            }
            kind::CASE_STATEMENT => {
                // A case label outside a switch body we lowered: just its statements.
                self.case_body(node, cur)
            }
            kind::ERROR => self.expr(node, cur),
            _ => cur,
        }
    }

    fn jump(&mut self, which: &JumpKind, node: Node<'_>, cur: Cur) -> Cur {
        let stack = match which {
            JumpKind::Break => &self.breaks,
            JumpKind::Continue => &self.continues,
        };
        let jump = stack.last()?;
        let (target, scopes) = (jump.target, jump.scopes);
        let cur = self.release_scopes(scopes, cur, Span::of(node));
        if let Some(c) = cur {
            self.link(c, target, EdgeCond::Always);
        }
        None
    }

    fn declaration(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        let mut cur = cur;
        let mut cursor = node.walk();
        let decls: Vec<Node<'t>> = node
            .children_by_field_id(
                std::num::NonZeroU16::new(field::DECLARATOR).expect("nonzero"),
                &mut cursor,
            )
            .collect();
        let ty = node.child_by_field_id(field::TYPE);
        for d in decls {
            if let Some(name) = declarator_name(self.file, d) {
                self.cfg.locals.insert(name);
            }
            let target = if d.kind_id() == kind::INIT_DECLARATOR {
                d.child_by_field_id(field::DECLARATOR)
            } else {
                Some(d)
            };
            if let Some(declared) = lockwarden_syntax::outline::declared(self.file, ty, target) {
                self.cfg.local_types.insert(declared.name, declared.ty);
            }
            if d.kind_id() != kind::INIT_DECLARATOR {
                continue;
            }
            let Some(value) = d.child_by_field_id(field::VALUE) else {
                continue;
            };
            let var = declared_name(self.file, d);
            cur = self.assign(var, value, cur);
        }
        cur
    }

    /// `var = value`: a call result goes to `var`; anything else kills what
    /// was known about `var`.
    fn assign(&mut self, var: Option<String>, value: Node<'t>, cur: Cur) -> Cur {
        let stripped = strip(value);
        // `ret = !trylock(…)`: the variable holds the negated try result.
        let negated_call = (stripped.kind_id() == kind::UNARY_EXPRESSION
            && self.operator(stripped) == "!")
            .then(|| stripped.child_by_field_id(field::ARGUMENT).map(strip))
            .flatten()
            .filter(|a| a.kind_id() == kind::CALL_EXPRESSION);
        if let (Some(call), Some(_)) = (negated_call, &var) {
            let (cur, id) = self.call(call, cur, var.clone());
            if let Some(Op::Call(c)) = id.map(|id| &mut self.cfg.ops[id as usize]) {
                c.result_negated = true;
            }
            return cur;
        }
        // `start = pte = map_lock(…)`: both variables hold the result.
        let chained = (stripped.kind_id() == kind::ASSIGNMENT_EXPRESSION && var.is_some())
            .then(|| {
                let inner = stripped.child_by_field_id(field::LEFT).map(strip)?;
                let call = stripped.child_by_field_id(field::RIGHT).map(strip)?;
                (inner.kind_id() == kind::IDENTIFIER && call.kind_id() == kind::CALL_EXPRESSION)
                    .then(|| (self.text(inner).to_owned(), call))
            })
            .flatten();
        if let Some((inner, call)) = chained {
            let (cur, id) = self.call(call, cur, Some(inner));
            if let Some(Op::Call(c)) = id.map(|id| &mut self.cfg.ops[id as usize]) {
                c.result_alias = var;
            }
            return cur;
        }
        if stripped.kind_id() == kind::CALL_EXPRESSION {
            let (cur, call) = self.call(stripped, cur, var.clone());
            let cur = match (call, &var) {
                (None, Some(var)) => Some(self.add(
                    Op::Assign {
                        key: TruthKey::Var(var.clone()),
                        value: None,
                    },
                    cur,
                )),
                _ => cur,
            };
            // `vma = ERR_PTR(-ENOENT)`: the variable now holds an errno.
            let error_value = stripped
                .child_by_field_id(field::FUNCTION)
                .is_some_and(|f| self.api.is_error_value(self.text(f)));
            if let (true, Some(var)) = (error_value, var) {
                return Some(self.add(
                    Op::Assign {
                        key: TruthKey::Errno(var),
                        value: Some(true),
                    },
                    cur,
                ));
            }
            return cur;
        }
        let cur = self.expr(value, cur);
        let constant = self.constant_truth(value);
        match var {
            Some(var) => {
                let errno = self.is_errno(value);
                let cur = Some(self.add(
                    Op::Assign {
                        key: TruthKey::Var(var.clone()),
                        value: constant,
                    },
                    cur,
                ));
                if errno {
                    return Some(self.add(
                        Op::Assign {
                            key: TruthKey::Errno(var),
                            value: Some(true),
                        },
                        cur,
                    ));
                }
                if self.carries_status(value) {
                    return Some(self.add(
                        Op::Assign {
                            key: TruthKey::Status(var),
                            value: Some(true),
                        },
                        cur,
                    ));
                }
                let text = self.text(strip(value));
                if is_constant_text(text) {
                    let constant = text.to_owned();
                    return Some(self.add(Op::AssignConst { var, constant }, cur));
                }
                cur
            }
            None => cur,
        }
    }

    fn if_stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        let t = self.new_node(Op::Nop);
        let f = self.new_node(Op::Nop);
        if let Some(cond) = node.child_by_field_id(field::CONDITION) {
            self.cond(cond, cur, t, f);
        } else if let Some(c) = cur {
            self.link(c, t, EdgeCond::Always);
            self.link(c, f, EdgeCond::Always);
        }
        let then_end = match node.child_by_field_id(field::CONSEQUENCE) {
            Some(s) => self.stmt(s, Some(t)),
            None => Some(t),
        };
        let else_end = match node.child_by_field_id(field::ALTERNATIVE) {
            Some(alt) => {
                let mut cur = Some(f);
                let mut cursor = alt.walk();
                let inner: Vec<Node<'t>> = alt.named_children(&mut cursor).collect();
                for s in inner {
                    cur = self.stmt(s, cur);
                }
                cur
            }
            None => Some(f),
        };
        self.join(&[then_end, else_end])
    }

    /// Lowers a body that `break` leaves to `brk` and `continue` to `cont`.
    fn loop_body(&mut self, body: Option<Node<'t>>, entry: Cur, brk: NodeId, cont: NodeId) -> Cur {
        let scopes = self.scopes.len();
        self.breaks.push(Jump {
            target: brk,
            scopes,
        });
        self.continues.push(Jump {
            target: cont,
            scopes,
        });
        let end = match body {
            Some(b) => self.stmt(b, entry),
            None => entry,
        };
        self.breaks.pop();
        self.continues.pop();
        end
    }

    fn while_stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        let body = node.child_by_field_id(field::BODY);
        let cond = node.child_by_field_id(field::CONDITION);
        if let Some(m) = self.file.macro_at(node.start_byte() as u32) {
            if m.kind == MacroUseKind::Loop {
                let name = self.file.source_text(m.name).to_owned();
                if self.api.is_scoped_guard(&name) || self.api.is_scoped_cond_guard(&name) {
                    return self.scoped_guard(node, &name, cond, body, cur);
                }
                // An iterator macro: the arguments are evaluated, then the body runs 0..n times.
                let head = self.add(Op::Nop, cur);
                let head_end = match cond {
                    Some(c) => self.expr(c, Some(head)),
                    None => Some(head),
                };
                let entry = self.new_node(Op::Nop);
                let exit = self.new_node(Op::Nop);
                if let Some(h) = head_end {
                    self.link(h, entry, EdgeCond::Always);
                    self.link(h, exit, EdgeCond::Always);
                }
                // Each iteration gives the cursor variables a new object:
                // `list_for_each_entry(folio, &list, lru)` unlocks a
                // different folio every time round.
                let mut body_start = entry;
                for var in cond.map(|c| self.iterator_cursors(c)).unwrap_or_default() {
                    body_start = self.add(
                        Op::Assign {
                            key: TruthKey::Var(var),
                            value: None,
                        },
                        Some(body_start),
                    );
                }
                let end = self.loop_body(body, Some(body_start), exit, head);
                if let Some(e) = end {
                    self.link(e, head, EdgeCond::Always);
                }
                return Some(exit);
            }
        }
        let head = self.add(Op::Nop, cur);
        let entry = self.new_node(Op::Nop);
        let exit = self.new_node(Op::Nop);
        match cond {
            Some(c) => self.cond(c, Some(head), entry, exit),
            None => self.link(head, entry, EdgeCond::Always),
        }
        let end = self.loop_body(body, Some(entry), exit, head);
        if let Some(e) = end {
            self.link(e, head, EdgeCond::Always);
        }
        Some(exit)
    }

    /// The local variables among an iterator macro's arguments.
    fn iterator_cursors(&self, args: Node<'t>) -> Vec<String> {
        crate::path::macro_arguments(args)
            .into_iter()
            .filter(|n| n.kind_id() == kind::IDENTIFIER)
            .map(|n| self.text(n).to_owned())
            .filter(|name| self.cfg.locals.contains(name) && !self.cfg.params.contains(name))
            .collect()
    }

    fn do_stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        let entry = self.add(Op::Nop, cur);
        let cond_node = self.new_node(Op::Nop);
        let exit = self.new_node(Op::Nop);
        let end = self.loop_body(
            node.child_by_field_id(field::BODY),
            Some(entry),
            exit,
            cond_node,
        );
        if let Some(e) = end {
            self.link(e, cond_node, EdgeCond::Always);
        }
        match node.child_by_field_id(field::CONDITION) {
            Some(c) => self.cond(c, Some(cond_node), entry, exit),
            None => self.link(cond_node, exit, EdgeCond::Always),
        }
        Some(exit)
    }

    fn for_stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        let mut cur = cur;
        if let Some(init) = node.child_by_field_id(field::INITIALIZER) {
            cur = if init.kind_id() == kind::DECLARATION {
                self.declaration(init, cur)
            } else {
                self.expr(init, cur)
            };
        }
        let head = self.add(Op::Nop, cur);
        let entry = self.new_node(Op::Nop);
        let exit = self.new_node(Op::Nop);
        let update = self.new_node(Op::Nop);
        match node.child_by_field_id(field::CONDITION) {
            Some(c) => self.cond(c, Some(head), entry, exit),
            None => self.link(head, entry, EdgeCond::Always),
        }
        let end = self.loop_body(
            node.child_by_field_id(field::BODY),
            Some(entry),
            exit,
            update,
        );
        if let Some(e) = end {
            self.link(e, update, EdgeCond::Always);
        }
        let update_end = match node.child_by_field_id(field::UPDATE) {
            Some(u) => self.expr(u, Some(update)),
            None => Some(update),
        };
        if let Some(u) = update_end {
            self.link(u, head, EdgeCond::Always);
        }
        Some(exit)
    }

    fn switch_stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        let cur = match node.child_by_field_id(field::CONDITION) {
            Some(c) => self.expr(c, cur),
            None => cur,
        };
        let dispatch = self.add(Op::Nop, cur);
        let exit = self.new_node(Op::Nop);
        let Some(body) = node.child_by_field_id(field::BODY) else {
            self.link(dispatch, exit, EdgeCond::Always);
            return Some(exit);
        };
        let scopes = self.scopes.len();
        self.breaks.push(Jump {
            target: exit,
            scopes,
        });
        self.scopes.push(Scope {
            span: Span::of(body),
            guards: Vec::new(),
        });
        let mut has_default = false;
        let mut cur: Cur = None;
        let mut cursor = body.walk();
        let children: Vec<Node<'t>> = body.named_children(&mut cursor).collect();
        for child in children {
            if child.kind_id() == kind::CASE_STATEMENT {
                has_default |= child.child_by_field_id(field::VALUE).is_none();
                let entry = self.new_node(Op::Nop);
                self.link(dispatch, entry, EdgeCond::Always);
                if let Some(c) = cur {
                    self.link(c, entry, EdgeCond::Always);
                }
                cur = self.case_body(child, Some(entry));
            } else {
                cur = self.stmt(child, cur);
            }
        }
        let close = Span::new(
            body.end_byte().saturating_sub(1) as u32,
            body.end_byte() as u32,
        );
        let cur = self.release_scopes(scopes, cur, close);
        self.scopes.pop();
        self.breaks.pop();
        if let Some(c) = cur {
            self.link(c, exit, EdgeCond::Always);
        }
        if !has_default {
            self.link(dispatch, exit, EdgeCond::Always);
        }
        Some(exit)
    }

    fn case_body(&mut self, case: Node<'t>, cur: Cur) -> Cur {
        let value = case.child_by_field_id(field::VALUE);
        let mut cur = cur;
        let mut cursor = case.walk();
        let stmts: Vec<Node<'t>> = case
            .named_children(&mut cursor)
            .filter(|c| Some(*c) != value)
            .collect();
        for s in stmts {
            cur = self.stmt(s, cur);
        }
        cur
    }

    fn return_stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        let expr = node.named_child(0);
        let (cur, value) = match expr {
            None => (cur, ReturnValue::Void),
            Some(e) => {
                let stripped = strip(e);
                let makes_error = stripped.kind_id() == kind::CALL_EXPRESSION
                    && stripped
                        .child_by_field_id(field::FUNCTION)
                        .is_some_and(|f| self.api.is_error_value(self.text(f)));
                // `return !mmap_read_lock_killable(mm);` returns the negated result.
                let negated_call = (stripped.kind_id() == kind::UNARY_EXPRESSION
                    && self.operator(stripped) == "!")
                    .then(|| stripped.child_by_field_id(field::ARGUMENT).map(strip))
                    .flatten()
                    .filter(|a| a.kind_id() == kind::CALL_EXPRESSION);
                let returned_call = if stripped.kind_id() == kind::CALL_EXPRESSION {
                    Some(stripped)
                } else {
                    negated_call
                };
                if makes_error {
                    (self.expr(e, cur), ReturnValue::Negative)
                } else if let Some(call_node) = returned_call {
                    let (cur, call) = self.call(call_node, cur, None);
                    match call {
                        Some(id) => {
                            if let Op::Call(c) = &mut self.cfg.ops[id as usize] {
                                c.result_used = true;
                                c.result_negated = negated_call.is_some();
                            }
                            (cur, ReturnValue::Call(id))
                        }
                        None => (cur, ReturnValue::Other),
                    }
                } else if stripped.kind_id() == kind::POINTER_EXPRESSION
                    && self.operator(stripped) == "&"
                {
                    // `return &hash[idx];`: the caller's result points to it.
                    let object = stripped
                        .child_by_field_id(field::ARGUMENT)
                        .and_then(|a| self.paths.lvalue(a));
                    let value = match object {
                        Some(object) => {
                            let key = self.text(stripped).to_owned();
                            self.cfg.returned_paths.insert(key.clone(), object);
                            ReturnValue::Address(key)
                        }
                        None => ReturnValue::Other,
                    };
                    (self.expr(e, cur), value)
                } else {
                    let value = self.return_value(stripped);
                    if let ReturnValue::Var(v) = &value {
                        if let Some(path) = self.paths.lvalue(stripped) {
                            self.cfg.returned_paths.insert(v.clone(), path);
                        }
                    }
                    (self.expr(e, cur), value)
                }
            }
        };
        let cur = self.release_scopes(0, cur, Span::of(node));
        let ret = self.add(
            Op::Return {
                span: Span::of(node),
                value,
            },
            cur,
        );
        self.link(ret, self.cfg.exit, EdgeCond::Always);
        None
    }

    /// Whether `e` mentions a lock-status flag (`ret | VM_FAULT_LOCKED`).
    fn carries_status(&self, e: Node<'_>) -> bool {
        let mut found = false;
        lockwarden_syntax::walk::preorder(e, |n| {
            found |= n.kind_id() == kind::IDENTIFIER && self.api.is_lock_status_flag(self.text(n));
            !found
        });
        found
    }

    fn return_value(&self, e: Node<'_>) -> ReturnValue {
        let text = self.text(e).trim();
        if self.carries_status(e) {
            return ReturnValue::Announced;
        }
        match e.kind_id() {
            kind::NUMBER_LITERAL if text == "0" || text == "0UL" || text == "0L" => {
                ReturnValue::Zero
            }
            kind::NUMBER_LITERAL if text.starts_with('-') => ReturnValue::Negative,
            kind::NUMBER_LITERAL => ReturnValue::Positive,
            kind::NULL | kind::FALSE => ReturnValue::Zero,
            kind::TRUE => ReturnValue::Positive,
            kind::UNARY_EXPRESSION if text.starts_with('-') => ReturnValue::Negative,
            kind::IDENTIFIER if self.is_zero(e) => ReturnValue::Zero,
            kind::IDENTIFIER if text == "true" => ReturnValue::Positive,
            kind::IDENTIFIER => ReturnValue::Var(text.to_owned()),
            _ => ReturnValue::Other,
        }
    }

    /// `#if` branches inside a body are alternatives.
    fn preproc(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        let alternative = node.child_by_field_id(field::ALTERNATIVE);
        let condition = node.child_by_field_id(field::CONDITION);
        let name = node.child_by_field_id(field::NAME);
        let mut body_end = cur;
        let mut cursor = node.walk();
        let stmts: Vec<Node<'t>> = node
            .named_children(&mut cursor)
            .filter(|c| Some(*c) != alternative && Some(*c) != condition && Some(*c) != name)
            .collect();
        for s in stmts {
            body_end = self.stmt(s, body_end);
        }
        let alt_end = match alternative {
            Some(alt) => self.preproc(alt, cur),
            None => cur,
        };
        self.join(&[body_end, alt_end])
    }

    // ----- guards -----

    /// `guard(class)(args)`: an expression statement calling the result of `guard(class)`.
    fn is_guard(&self, e: Node<'_>) -> bool {
        self.guard_parts(e).is_some()
    }

    /// The class name and the outer argument list of a `guard(class)(args)` call.
    fn guard_parts(&self, e: Node<'t>) -> Option<(String, Node<'t>)> {
        if e.kind_id() != kind::CALL_EXPRESSION {
            return None;
        }
        let inner = e.child_by_field_id(field::FUNCTION)?;
        if inner.kind_id() != kind::CALL_EXPRESSION {
            return None;
        }
        let name = inner.child_by_field_id(field::FUNCTION)?;
        if name.kind_id() != kind::IDENTIFIER || !self.api.is_guard(self.text(name)) {
            return None;
        }
        let class = inner.child_by_field_id(field::ARGUMENTS)?.named_child(0)?;
        Some((
            self.text(class).trim().to_owned(),
            e.child_by_field_id(field::ARGUMENTS)?,
        ))
    }

    fn guard(&mut self, e: Node<'t>, cur: Cur) -> Cur {
        let Some((class, args)) = self.guard_parts(e) else {
            return cur;
        };
        let arg_nodes = named_children(args);
        self.acquire_guard(&class, &arg_nodes, Span::of(e), cur)
    }

    /// Acquires the lock of a guard class with `args` and registers the guard
    /// in the innermost scope.
    fn acquire_guard(&mut self, class: &str, args: &[Node<'t>], span: Span, cur: Cur) -> Cur {
        let Some(api) = self.api.guard_class(class).cloned() else {
            return cur;
        };
        let lock = match &api.lock {
            LockSource::Arg { index, deref } => args
                .get(*index)
                .and_then(|a| self.paths.pointee(*a, *deref)),
            LockSource::Named(n) => Some(Path::named(n)),
            LockSource::Returned => None,
        };
        let Some(lock) = lock else {
            return cur;
        };
        let n = self.add(
            Op::GuardAcquire {
                lock: lock.clone(),
                api,
                span,
            },
            cur,
        );
        if let Some(scope) = self.scopes.last_mut() {
            scope.guards.push(Guard { lock, span });
        }
        Some(n)
    }

    /// `scoped_guard(class, args) body` and `scoped_cond_guard(class, fail, args) body`.
    fn scoped_guard(
        &mut self,
        node: Node<'t>,
        name: &str,
        cond: Option<Node<'t>>,
        body: Option<Node<'t>>,
        cur: Cur,
    ) -> Cur {
        let macro_use = self.file.macro_at(node.start_byte() as u32).cloned();
        let Some(m) = macro_use else {
            return cur;
        };
        let class = m
            .args
            .first()
            .map(|a| self.file.source_text(*a).trim().to_owned())
            .unwrap_or_default();
        let is_cond = self.api.is_scoped_cond_guard(name);
        // The lock arguments follow the class (and, for the cond form, the fail statement).
        let skip = if is_cond { 2 } else { 1 };
        let arg_nodes: Vec<Node<'t>> = cond
            .map(comma_operands)
            .unwrap_or_default()
            .into_iter()
            .skip(skip)
            .collect();
        let span = Span::new(
            m.name.start,
            m.args.last().map_or(m.name.end, |a| a.end + 1),
        );
        let api = self.api.guard_class(&class).cloned();
        let try_like = api
            .as_ref()
            .is_some_and(|a| a.effect == crate::api::Effect::TryAcquire);
        let start = self.add(Op::Nop, cur);
        let (success, failure) = if try_like || is_cond {
            let s = self.new_node(Op::Nop);
            let f = self.new_node(Op::Nop);
            self.link(start, s, EdgeCond::Always);
            self.link(start, f, EdgeCond::Always);
            (s, Some(f))
        } else {
            (start, None)
        };
        self.scopes.push(Scope {
            span: Span::of(node),
            guards: Vec::new(),
        });
        let acquired = self.acquire_guard(&class, &arg_nodes, span, Some(success));
        // The guard is a one-pass `for` loop: `break` and `continue` leave its body.
        let body_end = self.new_node(Op::Nop);
        let end = self.loop_body(body, acquired, body_end, body_end);
        if let Some(e) = end {
            self.link(e, body_end, EdgeCond::Always);
        }
        // Every way out of the body meets here; the guard is released below.
        let end = Some(body_end);
        let close = Span::new(
            node.end_byte().saturating_sub(1) as u32,
            node.end_byte() as u32,
        );
        let depth = self.scopes.len() - 1;
        let end = self.release_scopes(depth, end, close);
        self.scopes.pop();
        let failure_end = match failure {
            Some(f) if is_cond => {
                let fail_text = m
                    .statement_arg
                    .and_then(|i| m.args.get(i))
                    .map(|a| self.file.source_text(*a).trim().to_owned())
                    .unwrap_or_default();
                self.fail_statement(&fail_text, Span::of(node), Some(f))
            }
            other => other,
        };
        self.join(&[end, failure_end])
    }

    /// The fail action of `scoped_cond_guard`: `return …`, `goto label`, `break`, `continue`.
    fn fail_statement(&mut self, text: &str, span: Span, cur: Cur) -> Cur {
        let word = text.split_whitespace().next().unwrap_or("");
        match word {
            "return" => {
                let value = if text.contains('-') {
                    ReturnValue::Negative
                } else {
                    ReturnValue::Other
                };
                let cur = self.release_scopes(0, cur, span);
                let ret = self.add(Op::Return { span, value }, cur);
                self.link(ret, self.cfg.exit, EdgeCond::Always);
                None
            }
            "goto" => {
                let label = text
                    .trim_start_matches("goto")
                    .trim()
                    .trim_end_matches(';')
                    .to_owned();
                let target = self.label_node(&label);
                if let Some(c) = cur {
                    self.link(c, target, EdgeCond::Always);
                }
                None
            }
            _ => cur,
        }
    }

    // ----- expressions -----

    /// Lowers the side effects of an expression: its calls, in evaluation order.
    fn expr(&mut self, e: Node<'t>, cur: Cur) -> Cur {
        if self.depth > MAX_DEPTH {
            self.cfg.incomplete = true;
            return cur;
        }
        self.depth += 1;
        let out = self.expr_inner(e, cur);
        self.depth -= 1;
        out
    }

    fn expr_inner(&mut self, e: Node<'t>, cur: Cur) -> Cur {
        match e.kind_id() {
            kind::CALL_EXPRESSION => {
                if self.is_guard(e) {
                    return self.guard(e, cur);
                }
                self.call(e, cur, None).0
            }
            kind::ASSIGNMENT_EXPRESSION => {
                let left = e.child_by_field_id(field::LEFT);
                let var = left
                    .map(strip)
                    .filter(|l| l.kind_id() == kind::IDENTIFIER)
                    .map(|l| self.text(l).to_owned());
                let cur = match left {
                    Some(l) if var.is_none() => self.expr(l, cur),
                    _ => cur,
                };
                if var.is_none() {
                    self.result_path = left.and_then(|l| self.paths.lvalue(l));
                }
                let cur = match e.child_by_field_id(field::RIGHT) {
                    Some(r) => self.assign(var.clone(), r, cur),
                    None => cur,
                };
                self.result_path = None;
                // A field or element assigned: what was known of it is gone.
                match left
                    .filter(|_| var.is_none())
                    .and_then(|l| self.paths.lvalue(l))
                {
                    Some(path) => {
                        let value = e
                            .child_by_field_id(field::RIGHT)
                            .and_then(|r| self.constant_truth(r));
                        let stored = e
                            .child_by_field_id(field::RIGHT)
                            .map(strip)
                            .filter(|r| r.kind_id() == kind::IDENTIFIER)
                            .and_then(|r| self.paths.pointee(r, 1));
                        let cur = Some(self.add(
                            Op::Write {
                                target: path.clone(),
                                span: Span::of(e),
                                stored,
                            },
                            cur,
                        ));
                        // A call's result stored here is the call's business:
                        // it may be a try result waiting for a test of the field.
                        let from_call = e
                            .child_by_field_id(field::RIGHT)
                            .map(strip)
                            .is_some_and(|r| r.kind_id() == kind::CALL_EXPRESSION);
                        if from_call {
                            return cur;
                        }
                        Some(self.add(
                            Op::Assign {
                                key: TruthKey::Value(path),
                                value,
                            },
                            cur,
                        ))
                    }
                    None => cur,
                }
            }
            kind::BINARY_EXPRESSION if matches!(self.operator(e), "&&" | "||") => {
                let t = self.new_node(Op::Nop);
                self.cond(e, cur, t, t);
                Some(t)
            }
            kind::CONDITIONAL_EXPRESSION => {
                let t = self.new_node(Op::Nop);
                let f = self.new_node(Op::Nop);
                match e.child_by_field_id(field::CONDITION) {
                    Some(c) => self.cond(c, cur, t, f),
                    None => {
                        if let Some(c) = cur {
                            self.link(c, t, EdgeCond::Always);
                            self.link(c, f, EdgeCond::Always);
                        }
                    }
                }
                let te = match e.child_by_field_id(field::CONSEQUENCE) {
                    Some(x) => self.expr(x, Some(t)),
                    None => Some(t),
                };
                let fe = match e.child_by_field_id(field::ALTERNATIVE) {
                    Some(x) => self.expr(x, Some(f)),
                    None => Some(f),
                };
                self.join(&[te, fe])
            }
            kind::COMPOUND_STATEMENT => self.block(e, cur),
            kind::SIZEOF_EXPRESSION => cur,
            _ => {
                let mut cur = cur;
                let mut cursor = e.walk();
                let children: Vec<Node<'t>> = e.named_children(&mut cursor).collect();
                for c in children {
                    cur = self.expr(c, cur);
                }
                cur
            }
        }
    }

    fn operator(&self, e: Node<'_>) -> &str {
        e.child_by_field_id(field::OPERATOR)
            .map_or("", |o| self.file.node_text(o))
    }

    /// Lowers a call: the callee expression and arguments first, then the
    /// call node. Returns the open end and the call node, if one was made.
    fn call(&mut self, e: Node<'t>, cur: Cur, result_var: Option<String>) -> (Cur, Option<NodeId>) {
        let result_path = self.result_path.take();
        let function = e.child_by_field_id(field::FUNCTION);
        let args: Vec<Node<'t>> = e
            .child_by_field_id(field::ARGUMENTS)
            .map(named_children)
            .unwrap_or_default();
        let callee = function
            .filter(|f| f.kind_id() == kind::IDENTIFIER)
            .map(|f| self.text(f).to_owned());
        // `XA_STATE(xas, …);` in a body declares the local `xas`.
        if let Some((_, name_arg)) = callee.as_deref().and_then(|n| self.macros.definer(n)) {
            if let Some(name) = args.get(name_arg).map(|a| strip(*a)) {
                if name.kind_id() == kind::IDENTIFIER {
                    self.cfg.locals.insert(self.text(name).to_owned());
                }
            }
        }
        let mut cur = cur;
        if callee.is_none() {
            if let Some(f) = function {
                cur = self.expr(f, cur);
            }
        }
        if let Some(name) = &callee {
            if self.api.is_noreturn_if(name) {
                let dead = self.new_node(Op::Nop);
                let next = self.new_node(Op::Nop);
                match args.first() {
                    Some(a) => self.cond(*a, cur, dead, next),
                    None => {
                        if let Some(c) = cur {
                            self.link(c, next, EdgeCond::Always);
                        }
                    }
                }
                return (Some(next), None);
            }
        }
        for a in &args {
            cur = self.expr(*a, cur);
        }
        let api = callee.as_ref().and_then(|n| self.api.function(n)).cloned();
        let api = api.map(|f| {
            let lock = match &f.lock {
                LockSource::Arg { index, deref } => args
                    .get(*index)
                    .and_then(|a| self.paths.pointee(*a, *deref)),
                LockSource::Named(n) => Some(Path::named(n)),
                LockSource::Returned => result_var
                    .as_ref()
                    .map(|v| Path::var(v))
                    .or(result_path.clone())
                    .map(|p| p.push(crate::path::Step::Deref)),
            };
            (f, lock)
        });
        let arg_paths = if api.is_some() {
            Vec::new()
        } else {
            args.iter()
                .map(|a| ArgPaths {
                    pointee: self.paths.pointee(*a, 1),
                    lvalue: self.paths.lvalue(*a),
                    key: self.truth_key(*a),
                    constant: self.constant_truth(*a),
                })
                .collect()
        };
        let clobbers = args
            .iter()
            .map(|a| strip(*a))
            .filter(|a| a.kind_id() == kind::POINTER_EXPRESSION && self.operator(*a) == "&")
            .filter_map(|a| a.child_by_field_id(field::ARGUMENT))
            .map(strip)
            .filter(|a| a.kind_id() == kind::IDENTIFIER)
            .map(|a| self.text(a).to_owned())
            .collect();
        let indirect = match (&callee, function) {
            (Some(name), _) => (self.cfg.params.contains(name) || self.cfg.locals.contains(name))
                .then(|| self.cfg.params.contains(name)),
            (None, Some(f)) => Some(
                self.paths
                    .lvalue(f)
                    .and_then(|p| p.root_var().map(|r| self.cfg.params.iter().any(|q| q == r)))
                    .unwrap_or(false),
            ),
            (None, None) => None,
        };
        if let Some(from_param) = indirect {
            for a in &arg_paths {
                let root = a
                    .lvalue
                    .as_ref()
                    .or(a.pointee.as_ref())
                    .and_then(Path::root_var);
                if let Some(root) = root {
                    let entry = (root.to_owned(), from_param);
                    if !self.cfg.handed_to_callbacks.contains(&entry) {
                        self.cfg.handed_to_callbacks.push(entry);
                    }
                }
            }
        }
        let noreturn = callee.as_ref().is_some_and(|n| self.macros.is_noreturn(n));
        let node = self.add(
            Op::Call(Box::new(Call {
                callee,
                span: Span::of(e),
                args: arg_paths,
                api,
                result_used: result_var.is_some() || result_path.is_some(),
                result_lvalue: result_var.as_deref().map(Path::var).or(result_path),
                result_negated: false,
                result_alias: None,
                indirect,
                clobbers,
                result_var,
            })),
            cur,
        );
        if noreturn {
            return (None, Some(node));
        }
        (Some(node), Some(node))
    }

    /// Lowers a condition with edges to `t` when true and `f` when false.
    fn cond(&mut self, e: Node<'t>, cur: Cur, t: NodeId, f: NodeId) {
        if self.depth > MAX_DEPTH {
            self.cfg.incomplete = true;
            if let Some(c) = cur {
                self.link(c, t, EdgeCond::Always);
                self.link(c, f, EdgeCond::Always);
            }
            return;
        }
        self.depth += 1;
        self.cond_inner(e, cur, t, f);
        self.depth -= 1;
    }

    fn cond_inner(&mut self, e: Node<'t>, cur: Cur, t: NodeId, f: NodeId) {
        let e = strip(e);
        // `while (1)`, `if (0)`: only one way is taken.
        if let Some(truth) = self.constant_truth(e) {
            if let Some(c) = cur {
                self.link(c, if truth { t } else { f }, EdgeCond::Always);
            }
            return;
        }
        match e.kind_id() {
            kind::UNARY_EXPRESSION if self.operator(e) == "!" => {
                if let Some(a) = e.child_by_field_id(field::ARGUMENT) {
                    return self.cond(a, cur, f, t);
                }
            }
            kind::BINARY_EXPRESSION => {
                let op = self.operator(e).to_owned();
                let (Some(left), Some(right)) = (
                    e.child_by_field_id(field::LEFT),
                    e.child_by_field_id(field::RIGHT),
                ) else {
                    return self.opaque_cond(e, cur, t, f);
                };
                match op.as_str() {
                    "&&" => {
                        let mid = self.new_node(Op::Nop);
                        self.cond(left, cur, mid, f);
                        return self.cond(right, Some(mid), t, f);
                    }
                    "||" => {
                        let mid = self.new_node(Op::Nop);
                        self.cond(left, cur, t, mid);
                        return self.cond(right, Some(mid), t, f);
                    }
                    "==" | "!=" | "<" => {
                        let (tested, zero_side) = if self.is_zero(right) {
                            (left, true)
                        } else if self.is_zero(left) && op != "<" {
                            (right, true)
                        } else {
                            (left, false)
                        };
                        if zero_side {
                            return match op.as_str() {
                                "==" => self.cond(tested, cur, f, t),
                                "!=" => self.cond(tested, cur, t, f),
                                // `< 0` (a negative errno) is the nonzero side; its
                                // false side only says the value is not negative.
                                _ => {
                                    let first_new = self.cfg.ops.len();
                                    let not_negative = self.new_node(Op::Nop);
                                    self.cond(tested, cur, t, not_negative);
                                    let sources = cur
                                        .into_iter()
                                        .map(|c| c as usize)
                                        .chain(first_new..self.cfg.ops.len());
                                    for n in sources {
                                        for edge in &mut self.cfg.succs[n] {
                                            if edge.to == not_negative {
                                                if let EdgeCond::Truth(key, false) = &edge.cond {
                                                    edge.cond =
                                                        EdgeCond::Settle(key.clone(), false);
                                                }
                                            }
                                        }
                                    }
                                    self.link(not_negative, f, EdgeCond::Always);
                                }
                            };
                        }
                    }
                    _ => {}
                }
            }
            kind::CALL_EXPRESSION if self.is_pure_call(e) => return self.opaque_cond(e, cur, t, f),
            kind::CALL_EXPRESSION => {
                // `IS_ERR(vma)`: whether the variable holds an errno.
                let tested = e
                    .child_by_field_id(field::FUNCTION)
                    .filter(|f| self.api.is_error_test(self.text(*f)))
                    .and_then(|_| e.child_by_field_id(field::ARGUMENTS)?.named_child(0))
                    .map(strip)
                    .filter(|a| a.kind_id() == kind::IDENTIFIER);
                if let Some(arg) = tested {
                    let key = TruthKey::Errno(self.text(arg).to_owned());
                    if let Some(c) = cur {
                        self.link(c, t, EdgeCond::Truth(key.clone(), true));
                        self.link(c, f, EdgeCond::Truth(key, false));
                    }
                    return;
                }
                let wrapper = e
                    .child_by_field_id(field::FUNCTION)
                    .filter(|f| f.kind_id() == kind::IDENTIFIER)
                    .is_some_and(|f| self.api.is_condition_wrapper(self.text(f)));
                if wrapper {
                    if let Some(first) = e
                        .child_by_field_id(field::ARGUMENTS)
                        .and_then(|a| a.named_child(0))
                    {
                        // `WARN(cond, fmt, …)` evaluates the rest too, but only the first decides.
                        return self.cond(first, cur, t, f);
                    }
                }
                let (end, call) = self.call(e, cur, None);
                if let (Some(end), Some(call)) = (end, call) {
                    if let Op::Call(c) = &mut self.cfg.ops[call as usize] {
                        c.result_used = true;
                    }
                    self.link(end, t, EdgeCond::Truth(TruthKey::Call(call), true));
                    self.link(end, f, EdgeCond::Truth(TruthKey::Call(call), false));
                } else if let Some(end) = end {
                    self.link(end, t, EdgeCond::Always);
                    self.link(end, f, EdgeCond::Always);
                }
                return;
            }
            kind::ASSIGNMENT_EXPRESSION => {
                let var = e
                    .child_by_field_id(field::LEFT)
                    .map(strip)
                    .filter(|l| l.kind_id() == kind::IDENTIFIER)
                    .map(|l| self.text(l).to_owned());
                if let Some(var) = var {
                    let end = self.expr(e, cur);
                    if let Some(end) = end {
                        self.link(end, t, EdgeCond::Truth(TruthKey::Var(var.clone()), true));
                        self.link(end, f, EdgeCond::Truth(TruthKey::Var(var), false));
                    }
                    return;
                }
            }
            // `if (!ptep++)` tests the value before the step (tree-sitter-c
            // reads it as `(!ptep)++`); stepping a valid pointer keeps it
            // valid, so the step is not an assignment.
            kind::UPDATE_EXPRESSION => {
                if let Some(a) = e
                    .child_by_field_id(field::ARGUMENT)
                    .filter(|a| a.start_byte() == e.start_byte())
                {
                    return self.cond(a, cur, t, f);
                }
            }
            kind::IDENTIFIER | kind::FIELD_EXPRESSION | kind::POINTER_EXPRESSION => {
                if let Some(key) = self.truth_key(e) {
                    if let Some(c) = cur {
                        self.link(c, t, EdgeCond::Truth(key.clone(), true));
                        self.link(c, f, EdgeCond::Truth(key, false));
                    }
                    return;
                }
            }
            kind::CONDITIONAL_EXPRESSION => {
                if let (Some(c), Some(a), Some(b)) = (
                    e.child_by_field_id(field::CONDITION),
                    e.child_by_field_id(field::CONSEQUENCE),
                    e.child_by_field_id(field::ALTERNATIVE),
                ) {
                    let (ct, cf) = (self.new_node(Op::Nop), self.new_node(Op::Nop));
                    self.cond(c, cur, ct, cf);
                    self.cond(a, Some(ct), t, f);
                    return self.cond(b, Some(cf), t, f);
                }
            }
            kind::COMMA_EXPRESSION => {
                if let (Some(l), Some(r)) = (
                    e.child_by_field_id(field::LEFT),
                    e.child_by_field_id(field::RIGHT),
                ) {
                    let cur = self.expr(l, cur);
                    return self.cond(r, cur, t, f);
                }
            }
            _ => {}
        }
        self.opaque_cond(e, cur, t, f)
    }

    /// A condition whose value is not tracked as a variable: its calls, then
    /// both ways — remembered by its text when it has no side effects, so
    /// that `if (a != b) lock(); … if (a != b) unlock();` correlate.
    fn opaque_cond(&mut self, e: Node<'t>, cur: Cur, t: NodeId, f: NodeId) {
        if let Some((key, negated)) = self.condition_key(e) {
            let (t, f) = if negated { (f, t) } else { (t, f) };
            if let Some(c) = cur {
                self.link(c, t, EdgeCond::Truth(key.clone(), true));
                self.link(c, f, EdgeCond::Truth(key, false));
            }
            return;
        }
        if let Some(end) = self.expr(e, cur) {
            self.link(end, t, EdgeCond::Always);
            self.link(end, f, EdgeCond::Always);
        }
    }

    /// A key for a side-effect-free comparison or arithmetic condition, and
    /// whether the condition is the key's negation (`a != b` is `!(a == b)`).
    fn condition_key(&self, e: Node<'_>) -> Option<(TruthKey, bool)> {
        let e = strip(e);
        if !matches!(
            e.kind_id(),
            kind::BINARY_EXPRESSION | kind::UNARY_EXPRESSION
        ) && !self.is_pure_call(e)
        {
            return None;
        }
        let mut pure = true;
        let mut vars = Vec::new();
        lockwarden_syntax::walk::preorder(e, |n| {
            match n.kind_id() {
                kind::CALL_EXPRESSION if self.is_pure_call(n) => {}
                kind::CALL_EXPRESSION
                | kind::ASSIGNMENT_EXPRESSION
                | kind::UPDATE_EXPRESSION
                | kind::COMPOUND_STATEMENT => pure = false,
                // `&init_mm` is an address, constant whatever is done to init_mm.
                kind::IDENTIFIER
                    if !n.parent().is_some_and(|p| {
                        p.kind_id() == kind::POINTER_EXPRESSION && self.operator(p) == "&"
                    }) =>
                {
                    vars.push(self.text(n).to_owned())
                }
                _ => {}
            }
            pure
        });
        if !pure || vars.is_empty() {
            return None;
        }
        vars.sort();
        vars.dedup();
        let mut negated = false;
        let text: String = match (
            e.kind_id(),
            e.child_by_field_id(field::LEFT),
            e.child_by_field_id(field::RIGHT),
        ) {
            // `a != b` is `!(a == b)`, `a >= b` is `!(a < b)`, `a <= b` is `!(a > b)`.
            (kind::BINARY_EXPRESSION, Some(l), Some(r))
                if matches!(self.operator(e), "!=" | ">=" | "<=") =>
            {
                negated = true;
                let op = match self.operator(e) {
                    "!=" => "==",
                    ">=" => "<",
                    _ => ">",
                };
                let (mut l, mut r) = (self.text(l), self.text(r));
                // `pml != ptl` tests what `ptl != pml` does.
                if op == "==" && r < l {
                    std::mem::swap(&mut l, &mut r);
                }
                format!("{l}{op}{r}")
            }
            (kind::BINARY_EXPRESSION, Some(l), Some(r)) if self.operator(e) == "==" => {
                let (l, r) = (self.text(l), self.text(r));
                if r < l {
                    format!("{r}=={l}")
                } else {
                    format!("{l}=={r}")
                }
            }
            _ => self.text(e).to_owned(),
        };
        let text = text.chars().filter(|c| !c.is_whitespace()).collect();
        Some((TruthKey::Cond { text, vars }, negated))
    }

    /// A call to a predicate the rule file says is pure (`folio_test_anon(f)`).
    fn is_pure_call(&self, e: Node<'_>) -> bool {
        e.kind_id() == kind::CALL_EXPRESSION
            && e.child_by_field_id(field::FUNCTION)
                .filter(|f| f.kind_id() == kind::IDENTIFIER)
                .is_some_and(|f| self.api.is_pure_predicate(self.text(f)))
    }

    /// The key a branch on `e` tests: a variable, or a field's lvalue path.
    fn truth_key(&self, e: Node<'_>) -> Option<TruthKey> {
        let e = strip(e);
        match e.kind_id() {
            kind::IDENTIFIER => Some(TruthKey::Var(self.text(e).to_owned())),
            kind::FIELD_EXPRESSION => self.paths.lvalue(e).map(TruthKey::Value),
            // `*locked`, written as `*locked = 0` elsewhere.
            kind::POINTER_EXPRESSION if self.operator(e) == "*" => {
                self.paths.lvalue(e).map(TruthKey::Value)
            }
            _ => None,
        }
    }

    /// The truth of a constant expression, if it is one.
    fn constant_truth(&self, e: Node<'_>) -> Option<bool> {
        let e = strip(e);
        match e.kind_id() {
            kind::TRUE => Some(true),
            kind::NUMBER_LITERAL => Some(!self.is_zero(e)),
            _ if self.is_zero(e) => Some(false),
            kind::IDENTIFIER if self.text(e) == "true" => Some(true),
            kind::IDENTIFIER if self.enumerators.get(self.text(e)) == Some(&false) => Some(true),
            // `-EINTR`, `-1`: a negated errno or number is nonzero.
            kind::UNARY_EXPRESSION if self.is_errno(e) => Some(true),
            _ => None,
        }
    }

    /// A negated errno or nonzero number (`-ENOENT`, `-1`).
    fn is_errno(&self, e: Node<'_>) -> bool {
        let e = strip(e);
        if e.kind_id() != kind::UNARY_EXPRESSION || self.operator(e) != "-" {
            return false;
        }
        let Some(arg) = e.child_by_field_id(field::ARGUMENT).map(strip) else {
            return false;
        };
        let text = self.text(arg);
        match arg.kind_id() {
            kind::IDENTIFIER => {
                text.starts_with('E')
                    && text
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            }
            kind::NUMBER_LITERAL => !self.is_zero(arg),
            _ => false,
        }
    }

    fn is_zero(&self, e: Node<'_>) -> bool {
        let e = strip(e);
        match e.kind_id() {
            kind::NUMBER_LITERAL => matches!(self.text(e), "0" | "0UL" | "0L" | "0U"),
            kind::NULL | kind::FALSE => true,
            kind::IDENTIFIER => {
                matches!(self.text(e), "NULL" | "false")
                    || self.enumerators.get(self.text(e)) == Some(&true)
            }
            _ => false,
        }
    }
}

enum JumpKind {
    Break,
    Continue,
}

fn named_children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

/// The operands of a (nested) comma expression, left to right; the
/// arguments of a rewritten loop macro parse as one.
fn comma_operands(node: Node<'_>) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut node = strip(node);
    while node.kind_id() == kind::COMMA_EXPRESSION {
        match (
            node.child_by_field_id(field::LEFT),
            node.child_by_field_id(field::RIGHT),
        ) {
            (Some(l), Some(r)) => {
                out.push(l);
                node = r;
            }
            _ => break,
        }
    }
    out.push(node);
    out
}

/// The name any declarator declares.
fn declarator_name(file: &ParsedFile, mut d: Node<'_>) -> Option<String> {
    loop {
        match d.kind_id() {
            kind::IDENTIFIER => return Some(file.node_text(d).to_owned()),
            kind::PARENTHESIZED_DECLARATOR | kind::ATTRIBUTED_DECLARATOR => d = d.named_child(0)?,
            _ => d = d.child_by_field_id(field::DECLARATOR)?,
        }
    }
}

/// The variable an init declarator declares.
fn declared_name(file: &ParsedFile, init: Node<'_>) -> Option<String> {
    let mut d = init.child_by_field_id(field::DECLARATOR)?;
    while d.kind_id() == kind::POINTER_DECLARATOR {
        d = d.child_by_field_id(field::DECLARATOR)?;
    }
    (d.kind_id() == kind::IDENTIFIER).then(|| file.node_text(d).to_owned())
}
