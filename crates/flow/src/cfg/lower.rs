//! Statement lowering: blocks, branches, loops, `switch`, `goto` and labels,
//! `return`, and `#if` groups inside bodies.

use std::collections::{HashMap, HashSet};

use lockwarden_syntax::{field, kind, CompiledMacros, MacroUseKind, ParsedFile, Span};
use tree_sitter::Node;

use super::cond::equality_key;
use super::expr::ResultUse;
use super::scope::Scope;
use super::{
    constant_conds, exclusive_conds, is_constant_text, CallerExit, Cfg, Edge, EdgeCond, FileFacts,
    NodeId, Op, ReturnValue, TruthKey,
};
use crate::api::LockApi;
use crate::path::{squeezed, strip, PathResolver};

/// Deepest statement/expression nesting lowered; beyond it the rest of the
/// subtree is skipped and the graph marked incomplete.
pub(super) const MAX_DEPTH: usize = 400;

pub(super) struct Jump {
    pub(super) target: NodeId,
    /// Scope depth at the loop or switch: scopes above it are left.
    pub(super) scopes: usize,
    /// What jumping there tells: a `break` out of a counted loop leaves it
    /// before its count ran out (see [`Lowerer::counted_loop`]).
    pub(super) learns: Option<(TruthKey, bool)>,
}

/// Builds the [`Cfg`] of a function body.
pub fn lower(
    file: &ParsedFile,
    api: &LockApi,
    macros: &CompiledMacros,
    body: Node<'_>,
    params: &[String],
    facts: &FileFacts<'_>,
    exits_caller: bool,
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
            records_owner: false,
            local_aliases: HashMap::new(),
            entry_copies: HashMap::new(),
            assigned_params: HashSet::new(),
            locals: HashSet::new(),
            handed_to_callbacks: Vec::new(),
            constant_conds: HashMap::new(),
            exclusive: Default::default(),
            returned_paths: HashMap::new(),
            returned_objects: HashMap::new(),
            exits_caller: None,
            params: params.to_vec(),
            local_types: HashMap::new(),
        },
        scopes: Vec::new(),
        breaks: Vec::new(),
        continues: Vec::new(),
        labels: HashMap::new(),
        labels_at,
        depth: 0,
        facts,
        caller_values: exits_caller.then(Vec::new),
        in_loop_condition: false,
    };
    let end = l.block(body, Some(0));
    if end.is_some() {
        let close = Span::new(body.end_byte() as u32 - 1, body.end_byte() as u32);
        let value = if exits_caller {
            ReturnValue::Positive
        } else {
            ReturnValue::Void
        };
        let ret = l.add(Op::Return { span: close, value }, end);
        l.link(ret, 1, EdgeCond::Always);
    }
    if let Some(values) = l.caller_values.take() {
        let value = match values.split_first() {
            Some((first, rest)) if rest.iter().all(|v| v == first) => first.clone(),
            Some(_) => ReturnValue::Other,
            None => ReturnValue::Void,
        };
        l.cfg.exits_caller = Some(CallerExit {
            value,
            always: end.is_none(),
        });
    }
    l.cfg.local_aliases = l.paths.alias_lvalues();
    l.cfg.entry_copies = l.paths.entry_copies();
    l.cfg.assigned_params = l.paths.assigned_params();
    l.cfg.records_owner = records_owner(file, body);
    l.cfg.constant_conds = constant_conds(&l.cfg);
    l.cfg.exclusive = exclusive_conds(&l.cfg);
    l.cfg
}

/// Whether the body keeps the running task as an owner it also tests:
/// `if (prepare_owner == current) … prepare_owner = current;` (see
/// [`Cfg::records_owner`]). A task stored alone (`msr->r_tsk = current`) is
/// a waiter, not an owner.
fn records_owner(file: &ParsedFile, body: Node<'_>) -> bool {
    // Most bodies never name the running task: no walk for them.
    if !file.node_text(body).contains("current") {
        return false;
    }
    let mut stored: Vec<String> = Vec::new();
    let mut tested: Vec<String> = Vec::new();
    let is_current = |n: Option<Node<'_>>| {
        n.map(strip)
            .is_some_and(|n| n.kind_id() == kind::IDENTIFIER && file.node_text(n) == "current")
    };
    lockwarden_syntax::walk::preorder(body, |n| {
        let (left, right) = (
            n.child_by_field_id(field::LEFT),
            n.child_by_field_id(field::RIGHT),
        );
        let owner = left.map(|l| squeezed(file.node_text(strip(l))));
        match n.kind_id() {
            kind::ASSIGNMENT_EXPRESSION if is_current(right) => stored.extend(owner),
            kind::BINARY_EXPRESSION if is_current(right) => {
                let op = n
                    .child_by_field_id(field::OPERATOR)
                    .map_or("", |o| file.node_text(o));
                if matches!(op, "==" | "!=") {
                    tested.extend(owner);
                }
            }
            _ => {}
        }
        true
    });
    stored.iter().any(|s| tested.contains(s))
}

pub(super) struct Lowerer<'t, 'f> {
    pub(super) file: &'f ParsedFile,
    pub(super) api: &'f LockApi,
    pub(super) macros: &'f CompiledMacros,
    pub(super) paths: PathResolver<'t, 'f>,
    pub(super) cfg: Cfg,
    pub(super) scopes: Vec<Scope>,
    pub(super) breaks: Vec<Jump>,
    pub(super) continues: Vec<Jump>,
    pub(super) labels: HashMap<String, NodeId>,
    pub(super) labels_at: HashMap<String, u32>,
    pub(super) depth: usize,
    /// Enumerators and returning macros of the file.
    pub(super) facts: &'f FileFacts<'f>,
    /// Lowering a macro whose `return` returns from its caller: the values
    /// its returns give the caller.
    pub(super) caller_values: Option<Vec<ReturnValue>>,
    /// Lowering a loop's condition: a call there is asked anew each time
    /// round (`while (readl(reg) & BUSY)`), its answer is not remembered.
    pub(super) in_loop_condition: bool,
}

pub(super) type Cur = Option<NodeId>;

/// See [`Lowerer::counted_loop`].
pub(super) struct CountedLoop {
    /// The comparison each time round runs with, and its truth then.
    key: (TruthKey, bool),
    /// The condition updates the counter (`++cnt < max`).
    updates: bool,
    /// A `break` leaves with the comparison true (not after `cnt++ < max`).
    breaks_learn: bool,
}

impl<'t> Lowerer<'t, '_> {
    pub(super) fn new_node(&mut self, op: Op) -> NodeId {
        self.cfg.ops.push(op);
        self.cfg.succs.push(Vec::new());
        (self.cfg.ops.len() - 1) as NodeId
    }

    pub(super) fn link(&mut self, from: NodeId, to: NodeId, cond: EdgeCond) {
        self.cfg.succs[from as usize].push(Edge { to, cond });
    }

    /// Adds a node reached from `cur` (if reachable).
    pub(super) fn add(&mut self, op: Op, cur: Cur) -> NodeId {
        let n = self.new_node(op);
        if let Some(c) = cur {
            self.link(c, n, EdgeCond::Always);
        }
        n
    }

    pub(super) fn join(&mut self, ends: &[Cur]) -> Cur {
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

    pub(super) fn text(&self, node: Node<'_>) -> &str {
        self.file.node_text(node)
    }

    pub(super) fn label_node(&mut self, name: &str) -> NodeId {
        if let Some(&n) = self.labels.get(name) {
            return n;
        }
        let n = self.new_node(Op::Nop);
        self.labels.insert(name.to_owned(), n);
        n
    }

    pub(super) fn block(&mut self, node: Node<'t>, cur: Cur) -> Cur {
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

    pub(super) fn stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        if self.depth > MAX_DEPTH {
            self.cfg.incomplete = true;
            return cur;
        }
        self.depth += 1;
        let out = self.stmt_inner(node, cur);
        self.depth -= 1;
        out
    }

    pub(super) fn stmt_inner(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        match node.kind_id() {
            kind::COMPOUND_STATEMENT => self.block(node, cur),
            kind::EXPRESSION_STATEMENT => match node.named_child(0) {
                Some(e) if self.is_guard(e) => self.guard(e, cur),
                // `return_VOID;`: an object-like macro that returns.
                Some(e) if e.kind_id() == kind::IDENTIFIER => {
                    match self.facts.caller_exit(self.text(e)) {
                        Some((_, exit)) if exit.always => {
                            self.return_here(exit.value.clone(), Span::of(e), cur)
                        }
                        _ => cur,
                    }
                }
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

    pub(super) fn jump(&mut self, which: &JumpKind, node: Node<'_>, cur: Cur) -> Cur {
        let stack = match which {
            JumpKind::Break => &self.breaks,
            JumpKind::Continue => &self.continues,
        };
        let jump = stack.last()?;
        let (target, scopes, learns) = (jump.target, jump.scopes, jump.learns.clone());
        let cur = self.release_scopes(scopes, cur, Span::of(node));
        let target = match learns {
            Some((key, truth)) => self.learning(key, truth, target),
            None => target,
        };
        if let Some(c) = cur {
            self.link(c, target, EdgeCond::Always);
        }
        None
    }

    pub(super) fn declaration(&mut self, node: Node<'t>, cur: Cur) -> Cur {
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
            let target = ResultUse {
                var,
                ..ResultUse::default()
            };
            cur = self.assign(target, value, cur);
        }
        cur
    }

    pub(super) fn if_stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
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
    pub(super) fn loop_body(
        &mut self,
        body: Option<Node<'t>>,
        entry: Cur,
        brk: NodeId,
        cont: NodeId,
    ) -> Cur {
        self.counted_loop_body(body, entry, brk, cont, None)
    }

    /// [`Lowerer::loop_body`] of a loop that may count: a `break` leaves it
    /// with its comparison true.
    fn counted_loop_body(
        &mut self,
        body: Option<Node<'t>>,
        entry: Cur,
        brk: NodeId,
        cont: NodeId,
        counted: Option<&CountedLoop>,
    ) -> Cur {
        let scopes = self.scopes.len();
        self.breaks.push(Jump {
            target: brk,
            scopes,
            learns: counted.filter(|c| c.breaks_learn).map(|c| c.key.clone()),
        });
        self.continues.push(Jump {
            target: cont,
            scopes,
            learns: None,
        });
        let end = match body {
            Some(b) => self.stmt(b, entry),
            None => entry,
        };
        self.breaks.pop();
        self.continues.pop();
        end
    }

    pub(super) fn while_stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        let body = node.child_by_field_id(field::BODY);
        let cond = node.child_by_field_id(field::CONDITION);
        if let Some(m) = self.file.macro_at(node.start_byte() as u32) {
            if m.kind == MacroUseKind::Loop {
                let name = self.file.source_text(m.name).to_owned();
                if self.api.is_scoped_guard(&name) || self.api.is_scoped_cond_guard(&name) {
                    return self.scoped_guard(node, &name, cond, body, cur);
                }
                // An iterator macro: the arguments are evaluated once (a
                // call there, `for_each_x(it, lock_and_get(ctx), …)`, runs
                // once), then the body runs 0..n times.
                let mut args_end = match cond {
                    Some(c) => self.expr(c, cur),
                    None => cur,
                };
                // The macro gives its cursors their first value before its
                // first test, so a loop that runs no time moved them too
                // (`for_each_process(p)` after a lock taken through `p`).
                let cursors = cond.map(|c| self.iterator_cursors(c)).unwrap_or_default();
                for var in &cursors {
                    let fixed = self.paths.is_fixed(var);
                    let var = var.clone();
                    args_end = Some(self.add(Op::Cursor { var, fixed }, args_end));
                }
                let head = self.add(Op::Nop, args_end);
                let entry = self.new_node(Op::Nop);
                let exit = self.new_node(Op::Nop);
                self.link(head, entry, EdgeCond::Always);
                self.link(head, exit, EdgeCond::Always);
                // Each iteration gives the cursor variables a new object:
                // `list_for_each_entry(folio, &list, lru)` unlocks a
                // different folio every time round.
                let mut body_start = entry;
                for var in cursors {
                    let fixed = self.paths.is_fixed(&var);
                    body_start = self.add(Op::Cursor { var, fixed }, Some(body_start));
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
        let counted = cond.and_then(|c| self.counted_loop(c, body));
        match cond {
            Some(c) => self.counted_loop_cond(c, Some(head), entry, exit, counted.as_ref()),
            None => self.link(head, entry, EdgeCond::Always),
        }
        let end = self.counted_loop_body(body, Some(entry), exit, head, counted.as_ref());
        if let Some(e) = end {
            self.link(e, head, EdgeCond::Always);
        }
        Some(exit)
    }

    /// A loop's condition: see [`Lowerer::in_loop_condition`].
    fn loop_cond(&mut self, c: Node<'t>, cur: Cur, t: NodeId, f: NodeId) {
        let outer = std::mem::replace(&mut self.in_loop_condition, true);
        self.cond(c, cur, t, f);
        self.in_loop_condition = outer;
    }

    /// The local variables among an iterator macro's arguments.
    pub(super) fn iterator_cursors(&self, args: Node<'t>) -> Vec<String> {
        crate::path::macro_arguments(args)
            .into_iter()
            .filter(|n| n.kind_id() == kind::IDENTIFIER)
            .map(|n| self.text(n).to_owned())
            .filter(|name| self.cfg.locals.contains(name) && !self.cfg.params.contains(name))
            .collect()
    }

    pub(super) fn do_stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        let entry = self.add(Op::Nop, cur);
        let cond_node = self.new_node(Op::Nop);
        let exit = self.new_node(Op::Nop);
        let body = node.child_by_field_id(field::BODY);
        let cond = node.child_by_field_id(field::CONDITION);
        // The first time round a counted `do … while` is not tested: a
        // retry loop is written for a count that starts below its bound.
        let counted = cond.and_then(|c| self.counted_loop(c, body));
        let end = self.counted_loop_body(body, Some(entry), exit, cond_node, counted.as_ref());
        if let Some(e) = end {
            self.link(e, cond_node, EdgeCond::Always);
        }
        match cond {
            Some(c) => self.counted_loop_cond(c, Some(cond_node), entry, exit, counted.as_ref()),
            None => self.link(cond_node, exit, EdgeCond::Always),
        }
        Some(exit)
    }

    /// A loop's condition; where it counts with a side effect (`++cnt <
    /// max`), which no test key describes, leaving the loop still learns
    /// that the count ran out.
    fn counted_loop_cond(
        &mut self,
        c: Node<'t>,
        cur: Cur,
        t: NodeId,
        f: NodeId,
        counted: Option<&CountedLoop>,
    ) {
        let f = match counted {
            Some(counted) if counted.updates => {
                let (key, truth) = counted.key.clone();
                self.learning(key, !truth, f)
            }
            _ => f,
        };
        self.loop_cond(c, cur, t, f);
    }

    /// A loop whose condition compares a counter with a bound the body
    /// writes neither of (`while (i < n)`, `do … while (++cnt < max)`):
    /// each time round runs with the comparison true, so a `break` leaves
    /// with it true, and a test after the loop (`if (cnt >= max)`) tells a
    /// break from a count run out.
    fn counted_loop(&self, cond: Node<'t>, body: Option<Node<'t>>) -> Option<CountedLoop> {
        let cond = strip(cond);
        if cond.kind_id() != kind::BINARY_EXPRESSION {
            return None;
        }
        let op = self.operator(cond);
        let left = strip(cond.child_by_field_id(field::LEFT)?);
        let bound = strip(cond.child_by_field_id(field::RIGHT)?);
        // `cnt++ < max` compares the old count: a break may leave with
        // `cnt == max`, and only running out tells anything.
        let (counter, updates, prefix) = match left.kind_id() {
            kind::IDENTIFIER => (left, false, true),
            kind::UPDATE_EXPRESSION => {
                let counter = strip(left.child_by_field_id(field::ARGUMENT)?);
                let prefix = left.child(0).is_some_and(|c| c.id() != counter.id());
                (counter, true, prefix)
            }
            _ => return None,
        };
        if counter.kind_id() != kind::IDENTIFIER
            || !matches!(
                bound.kind_id(),
                kind::IDENTIFIER | kind::FIELD_EXPRESSION | kind::NUMBER_LITERAL
            )
        {
            return None;
        }
        // `a >= b` is `!(a < b)`, `a <= b` is `!(a > b)`, as tests key them.
        let (key_op, holds) = match op {
            "<" => ("<", true),
            ">=" => ("<", false),
            ">" => (">", true),
            "<=" => (">", false),
            _ => return None,
        };
        let (counter_text, bound_text) = (self.text(counter), self.text(bound));
        let written = body.is_some_and(|b| {
            lockwarden_syntax::walk::any(b, |n| {
                let target = match n.kind_id() {
                    kind::ASSIGNMENT_EXPRESSION => n.child_by_field_id(field::LEFT),
                    kind::UPDATE_EXPRESSION => n.child_by_field_id(field::ARGUMENT),
                    kind::POINTER_EXPRESSION if self.operator(n) == "&" => {
                        n.child_by_field_id(field::ARGUMENT)
                    }
                    _ => None,
                };
                target.is_some_and(|t| {
                    let t = self.text(strip(t));
                    t == counter_text || t == bound_text
                })
            })
        });
        if written {
            return None;
        }
        let text = format!("{counter_text}{key_op}{bound_text}");
        Some(CountedLoop {
            key: (self.test_key(&text, &[counter, bound], &[])?, holds),
            updates,
            breaks_learn: prefix,
        })
    }

    pub(super) fn for_stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        let mut cur = cur;
        if let Some(init) = node.child_by_field_id(field::INITIALIZER) {
            cur = if init.kind_id() == kind::DECLARATION {
                self.declaration(init, cur)
            } else {
                self.expr(init, cur)
            };
        }
        let entry = self.new_node(Op::Nop);
        // A count from a constant up to a larger constant runs at least
        // once: the first test is not asked.
        let head = if self.counts_up_to_constant(node) {
            let first = self.add(Op::Nop, cur);
            self.link(first, entry, EdgeCond::Always);
            self.new_node(Op::Nop)
        } else {
            self.add(Op::Nop, cur)
        };
        let exit = self.new_node(Op::Nop);
        let update = self.new_node(Op::Nop);
        match node.child_by_field_id(field::CONDITION) {
            Some(c) => self.loop_cond(c, Some(head), entry, exit),
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

    /// `for (i = 0; i < N; …)`, with `N` a number above the start or a
    /// named constant (`IWL_MEI_PLDR_NUM_RETRIES`): a loop over a constant
    /// count, which nobody writes for a count of zero.
    fn counts_up_to_constant(&self, node: Node<'t>) -> bool {
        let (Some(init), Some(cond)) = (
            node.child_by_field_id(field::INITIALIZER),
            node.child_by_field_id(field::CONDITION),
        ) else {
            return false;
        };
        let (var, start) = match init.kind_id() {
            kind::ASSIGNMENT_EXPRESSION if self.operator(init) == "=" => (
                init.child_by_field_id(field::LEFT),
                init.child_by_field_id(field::RIGHT),
            ),
            kind::DECLARATION => {
                let mut cursor = init.walk();
                let declarators: Vec<Node<'t>> = init
                    .named_children(&mut cursor)
                    .filter(|d| d.kind_id() == kind::INIT_DECLARATOR)
                    .collect();
                match declarators.as_slice() {
                    [d] if d.kind_id() == kind::INIT_DECLARATOR => (
                        d.child_by_field_id(field::DECLARATOR),
                        d.child_by_field_id(field::VALUE),
                    ),
                    _ => return false,
                }
            }
            _ => return false,
        };
        let (Some(var), Some(start)) = (var.map(strip), start.map(strip)) else {
            return false;
        };
        let cond = strip(cond);
        if var.kind_id() != kind::IDENTIFIER
            || start.kind_id() != kind::NUMBER_LITERAL
            || cond.kind_id() != kind::BINARY_EXPRESSION
            || !matches!(self.operator(cond), "<" | "<=")
        {
            return false;
        }
        let (Some(left), Some(bound)) = (
            cond.child_by_field_id(field::LEFT).map(strip),
            cond.child_by_field_id(field::RIGHT).map(strip),
        ) else {
            return false;
        };
        let number = |n: Node<'t>| {
            let text = self.text(n).trim_end_matches(['u', 'U', 'l', 'L']);
            text.parse::<u64>().ok()
        };
        let inclusive = self.operator(cond) == "<=";
        let above_start = match bound.kind_id() {
            kind::NUMBER_LITERAL => number(bound)
                .zip(number(start))
                .is_some_and(|(b, s)| b > s || (inclusive && b == s)),
            kind::IDENTIFIER => {
                let name = self.text(bound);
                is_constant_text(name) && name.chars().any(|c| c.is_ascii_alphabetic())
            }
            _ => false,
        };
        left.kind_id() == kind::IDENTIFIER && self.text(left) == self.text(var) && above_start
    }

    pub(super) fn switch_stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
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
            learns: None,
        });
        self.scopes.push(Scope {
            span: Span::of(body),
            guards: Vec::new(),
        });
        let mut has_default = false;
        let mut cur: Cur = None;
        // `switch (cmd) { case A: … }` enters case A knowing `cmd == A`, as a
        // later `if (cmd == A)` asks.
        // Case labels are distinct: entering one, the others are known
        // false, and entering `default`, all of them (a select/deselect
        // `switch (select) { case -1: unlock; case 0: lock; }` is decided
        // by the caller's argument). Only for a few cases: each entry
        // learns every other key.
        let tested = node.child_by_field_id(field::CONDITION).map(strip);
        // Each item with its case's key, worked out once.
        let items: Vec<(Node<'t>, Option<TruthKey>)> = switch_items(body)
            .into_iter()
            .map(|item| {
                let key = (item.kind_id() == kind::CASE_STATEMENT)
                    .then(|| {
                        let value = item.child_by_field_id(field::VALUE)?;
                        let t = tested?;
                        let vars = self.pure_vars(&[t, value])?;
                        Some(equality_key(self.text(t), self.text(value), vars))
                    })
                    .flatten();
                (item, key)
            })
            .collect();
        let keys: Vec<TruthKey> = items.iter().filter_map(|(_, k)| k.clone()).collect();
        let exclusive = keys.len() <= MAX_EXCLUSIVE_CASES;
        for (child, known) in items {
            if child.kind_id() == kind::CASE_STATEMENT {
                let value = child.child_by_field_id(field::VALUE);
                has_default |= value.is_none();
                let entry = self.new_node(Op::Nop);
                let mut from = dispatch;
                if exclusive {
                    for other in keys.iter().filter(|k| Some(*k) != known.as_ref()) {
                        let next = self.new_node(Op::Nop);
                        self.link(from, next, EdgeCond::Truth(other.clone(), false));
                        from = next;
                    }
                }
                let cond = match known {
                    Some(key) => EdgeCond::Truth(key, true),
                    None => EdgeCond::Always,
                };
                self.link(from, entry, cond);
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
            // No case taken: none of the keys holds.
            let mut from = dispatch;
            for key in keys.iter().filter(|_| exclusive) {
                let next = self.new_node(Op::Nop);
                self.link(from, next, EdgeCond::Truth(key.clone(), false));
                from = next;
            }
            self.link(from, exit, EdgeCond::Always);
        }
        Some(exit)
    }

    pub(super) fn case_body(&mut self, case: Node<'t>, cur: Cur) -> Cur {
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

    pub(super) fn return_stmt(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        self.returned(node.named_child(0), Span::of(node), cur)
    }

    /// A return of `expr` at `span`. `return c ? a : b;` is lowered as
    /// `if (c) return a; else return b;`, so each value is returned on the
    /// path that chose it (`return mutex_trylock(l) ? 0 : -EBUSY;`).
    fn returned(&mut self, expr: Option<Node<'t>>, span: Span, cur: Cur) -> Cur {
        // `return ({ …; __ret; });` (a statement-expression macro read as a
        // function): its statements run, then it returns its last value.
        if let Some(block) = expr
            .map(strip)
            .filter(|e| e.kind_id() == kind::PARENTHESIZED_EXPRESSION)
            .and_then(|e| e.named_child(0))
            .filter(|b| b.kind_id() == kind::COMPOUND_STATEMENT)
        {
            let stmts = named_children(block);
            if let Some((last, init)) = stmts
                .split_last()
                .filter(|(last, _)| last.kind_id() == kind::EXPRESSION_STATEMENT)
            {
                let mut cur = cur;
                for s in init {
                    cur = self.stmt(*s, cur);
                }
                return self.returned(last.named_child(0), span, cur);
            }
        }
        if let Some(e) = expr.map(strip) {
            if e.kind_id() == kind::CONDITIONAL_EXPRESSION {
                if let (Some(c), Some(a), Some(b)) = (
                    e.child_by_field_id(field::CONDITION),
                    e.child_by_field_id(field::CONSEQUENCE),
                    e.child_by_field_id(field::ALTERNATIVE),
                ) {
                    let (t, f) = (self.new_node(Op::Nop), self.new_node(Op::Nop));
                    self.cond(c, cur, t, f);
                    self.returned(Some(a), span, Some(t));
                    return self.returned(Some(b), span, Some(f));
                }
            }
        }
        let (cur, mut value) = match expr {
            None => (cur, ReturnValue::Void),
            Some(e) => self.return_value_of(e, cur),
        };
        if let Some(values) = &mut self.caller_values {
            values.push(std::mem::replace(&mut value, ReturnValue::Zero));
        }
        self.return_here(value, span, cur)
    }

    /// Returns `value` at `span`: the scopes' guards are released, and the
    /// path ends at the exit.
    pub(super) fn return_here(&mut self, value: ReturnValue, span: Span, cur: Cur) -> Cur {
        let cur = self.release_scopes(0, cur, span);
        let ret = self.add(Op::Return { span, value }, cur);
        self.link(ret, self.cfg.exit, EdgeCond::Always);
        None
    }

    /// Lowers a returned expression; what it returns.
    fn return_value_of(&mut self, e: Node<'t>, cur: Cur) -> (Cur, ReturnValue) {
        let stripped = strip(e);
        let makes_error = stripped.kind_id() == kind::CALL_EXPRESSION
            && stripped
                .child_by_field_id(field::FUNCTION)
                .is_some_and(|f| self.api.is_error_value(self.text(f)));
        // `return !mmap_read_lock_killable(mm);` returns the negated result.
        let negated_call = self.negated_call(stripped);
        let object_call =
            stripped.kind_id() == kind::CALL_EXPRESSION && self.paths.is_object_call(stripped);
        let returned_call = if stripped.kind_id() == kind::CALL_EXPRESSION && !object_call {
            Some(stripped)
        } else {
            negated_call
        };
        if makes_error {
            return (self.expr(e, cur), ReturnValue::Negative);
        }
        if let Some(call_node) = returned_call {
            let returned = ResultUse {
                tested: true,
                negated: negated_call.is_some(),
                ..ResultUse::default()
            };
            return match self.call(call_node, cur, returned) {
                (cur, Some(id)) => (cur, ReturnValue::Call(id)),
                (cur, None) => (cur, ReturnValue::Other),
            };
        }
        let value =
            if stripped.kind_id() == kind::POINTER_EXPRESSION && self.operator(stripped) == "&" {
                // `return &hash[idx];`: the caller's result points to it.
                let object = stripped
                    .child_by_field_id(field::ARGUMENT)
                    .and_then(|a| self.paths.lvalue(a));
                match object {
                    Some(object) => {
                        let key = self.text(stripped).to_owned();
                        self.cfg.returned_paths.insert(key.clone(), object.clone());
                        self.cfg.returned_objects.insert(key.clone(), object);
                        ReturnValue::Address(key)
                    }
                    None => ReturnValue::Other,
                }
            } else if stripped.kind_id() == kind::FIELD_EXPRESSION || object_call {
                // `return bdev->bd_queue;`, `return container_of(p, T, m);`:
                // the result is that object.
                let key = self.text(stripped).to_owned();
                if let Some(object) = self.paths.pointee(stripped, 1) {
                    self.cfg.returned_objects.insert(key.clone(), object);
                }
                ReturnValue::Field(key)
            } else {
                let value = self.return_value(stripped);
                // A parameter the body assigns may no longer be what the
                // caller passed: its return names no object of the caller's.
                let returned_var = match &value {
                    ReturnValue::Var(v) if !self.paths.is_assigned_param(v) => Some(v),
                    _ => None,
                };
                if let Some(v) = returned_var {
                    if let Some(path) = self.paths.lvalue(stripped) {
                        self.cfg.returned_paths.insert(v.clone(), path);
                    }
                    if let Some(object) = self.paths.pointee(stripped, 1) {
                        self.cfg.returned_objects.insert(v.clone(), object);
                    }
                }
                value
            };
        (self.expr(e, cur), value)
    }

    /// `#if` branches inside a body are alternatives.
    /// A preprocessor group in a body: its statements, or its alternative.
    /// One configuration is built at a time, so groups with the same
    /// condition agree on a path (`#ifdef CONFIG_X read_lock(…) #endif` …
    /// `#ifdef CONFIG_X read_unlock(…) #endif`): the condition is a fact,
    /// by its text (see [`TruthKey::is_config`]).
    pub(super) fn preproc(&mut self, node: Node<'t>, cur: Cur) -> Cur {
        let alternative = node.child_by_field_id(field::ALTERNATIVE);
        let condition = node.child_by_field_id(field::CONDITION);
        let name = node.child_by_field_id(field::NAME);
        let config = match (condition, name) {
            (Some(c), _) => Some((format!("#if {}", squeezed(self.text(c))), false)),
            (None, Some(n)) => {
                let negated = self.text(node).starts_with("#ifndef");
                Some((format!("#if defined({})", self.text(n)), negated))
            }
            (None, None) => None,
        };
        // `#if 0` and `#if 1` choose in every build: the other side is dead.
        let constant = condition
            .map(|c| squeezed(self.text(c)))
            .and_then(|text| text.parse::<u64>().ok());
        let (cur, alt_cur) = match (config, cur, constant) {
            (_, Some(c), Some(0)) => (None, Some(c)),
            (_, Some(c), Some(_)) => (Some(c), None),
            (Some((text, negated)), Some(c), None) => {
                let key = TruthKey::Cond {
                    text,
                    vars: Vec::new(),
                };
                let (body, alt) = (self.new_node(Op::Nop), self.new_node(Op::Nop));
                self.link(c, body, EdgeCond::Truth(key.clone(), !negated));
                self.link(c, alt, EdgeCond::Truth(key, negated));
                (Some(body), Some(alt))
            }
            _ => (cur, cur),
        };
        let mut body_end = cur;
        let mut cursor = node.walk();
        let stmts: Vec<Node<'t>> = node
            .named_children(&mut cursor)
            .filter(|c| Some(*c) != alternative && Some(*c) != condition && Some(*c) != name)
            .collect();
        for s in stmts {
            body_end = self.stmt(s, body_end);
        }
        // An `#else` is the last alternative: its statements are built.
        if node.kind_id() == kind::PREPROC_ELSE {
            return body_end;
        }
        let alt_end = match alternative {
            Some(alt) => self.preproc(alt, alt_cur),
            None => alt_cur,
        };
        self.join(&[body_end, alt_end])
    }
}

/// Switches with more keyed cases than this enter each case knowing only
/// its own key: every entry learning every other key is quadratic.
const MAX_EXCLUSIVE_CASES: usize = 4;

pub(super) enum JumpKind {
    Break,
    Continue,
}

fn is_preproc_group(node: Node<'_>) -> bool {
    matches!(
        node.kind_id(),
        kind::PREPROC_IF | kind::PREPROC_IFDEF | kind::PREPROC_ELSE | kind::PREPROC_ELIF
    )
}

/// The statements and case labels of a switch body, with `#ifdef` groups
/// that hold case labels opened up: `#ifdef CONFIG_X case A: … #endif`
/// cases are cases of the switch.
fn switch_items(body: Node<'_>) -> Vec<Node<'_>> {
    let has_case = |group: Node<'_>| {
        let mut found = false;
        lockwarden_syntax::walk::preorder(group, |n| {
            found |= n.kind_id() == kind::CASE_STATEMENT;
            !found && (n == group || is_preproc_group(n))
        });
        found
    };
    let mut out = Vec::new();
    let mut work: Vec<Node<'_>> = named_children(body).into_iter().rev().collect();
    while let Some(node) = work.pop() {
        if !is_preproc_group(node) || !has_case(node) {
            out.push(node);
            continue;
        }
        let skip = [
            node.child_by_field_id(field::CONDITION),
            node.child_by_field_id(field::NAME),
        ];
        work.extend(
            named_children(node)
                .into_iter()
                .filter(|c| !skip.contains(&Some(*c)))
                .rev(),
        );
    }
    out
}

pub(super) fn named_children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

/// The operands of a (nested) comma expression, left to right; the
/// arguments of a rewritten loop macro parse as one.
pub(super) fn comma_operands(node: Node<'_>) -> Vec<Node<'_>> {
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
pub(super) fn declarator_name(file: &ParsedFile, mut d: Node<'_>) -> Option<String> {
    loop {
        match d.kind_id() {
            kind::IDENTIFIER => return Some(file.node_text(d).to_owned()),
            kind::PARENTHESIZED_DECLARATOR | kind::ATTRIBUTED_DECLARATOR => d = d.named_child(0)?,
            _ => d = d.child_by_field_id(field::DECLARATOR)?,
        }
    }
}

/// The variable an init declarator declares.
pub(super) fn declared_name(file: &ParsedFile, init: Node<'_>) -> Option<String> {
    let mut d = init.child_by_field_id(field::DECLARATOR)?;
    while d.kind_id() == kind::POINTER_DECLARATOR {
        d = d.child_by_field_id(field::DECLARATOR)?;
    }
    (d.kind_id() == kind::IDENTIFIER).then(|| file.node_text(d).to_owned())
}
