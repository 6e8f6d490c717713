//! Expression lowering: calls in evaluation order (with the lock paths of
//! their arguments resolved), assignments (what a variable now holds: a call
//! result, a constant, an errno, a lock-status flag), and return values.

use lockwarden_syntax::{field, kind, Span};
use tree_sitter::Node;

use super::lower::{named_children, Cur, Lowerer, MAX_DEPTH};
use super::{is_constant_text, ArgPaths, Call, EdgeCond, NodeId, Op, ReturnValue, TruthKey};
use crate::api::LockSource;
use crate::path::{strip, Path};

impl<'t> Lowerer<'t, '_> {
    /// `var = value`: a call result goes to `var`; anything else kills what
    /// was known about `var`.
    pub(super) fn assign(&mut self, var: Option<String>, value: Node<'t>, cur: Cur) -> Cur {
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

    /// Whether `e` mentions a lock-status flag (`ret | VM_FAULT_LOCKED`).
    pub(super) fn carries_status(&self, e: Node<'_>) -> bool {
        let mut found = false;
        lockwarden_syntax::walk::preorder(e, |n| {
            found |= n.kind_id() == kind::IDENTIFIER && self.api.is_lock_status_flag(self.text(n));
            !found
        });
        found
    }

    pub(super) fn return_value(&self, e: Node<'_>) -> ReturnValue {
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

    /// Lowers the side effects of an expression: its calls, in evaluation order.
    pub(super) fn expr(&mut self, e: Node<'t>, cur: Cur) -> Cur {
        if self.depth > MAX_DEPTH {
            self.cfg.incomplete = true;
            return cur;
        }
        self.depth += 1;
        let out = self.expr_inner(e, cur);
        self.depth -= 1;
        out
    }

    pub(super) fn expr_inner(&mut self, e: Node<'t>, cur: Cur) -> Cur {
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

    pub(super) fn operator(&self, e: Node<'_>) -> &str {
        e.child_by_field_id(field::OPERATOR)
            .map_or("", |o| self.file.node_text(o))
    }

    /// Lowers a call: the callee expression and arguments first, then the
    /// call node. Returns the open end and the call node, if one was made.
    pub(super) fn call(
        &mut self,
        e: Node<'t>,
        cur: Cur,
        result_var: Option<String>,
    ) -> (Cur, Option<NodeId>) {
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
}
