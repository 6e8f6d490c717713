//! Expression lowering: calls in evaluation order (with the lock paths of
//! their arguments resolved), assignments (what a variable now holds: a call
//! result, a constant, an errno, a lock-status flag), and return values.

use lockwarden_syntax::{field, kind, Span};
use tree_sitter::Node;

use super::lower::{named_children, Cur, Lowerer, MAX_DEPTH};
use super::{is_constant_text, ArgPaths, Call, EdgeCond, NodeId, Op, ReturnValue, TruthKey};
use crate::path::{strip, Path, Step};

impl<'t> Lowerer<'t, '_> {
    /// `target = value`: a call result goes to the target (a variable, or a
    /// field or pointer target); anything else kills what was known about a
    /// variable target.
    pub(super) fn assign(&mut self, target: ResultUse, value: Node<'t>, cur: Cur) -> Cur {
        let var = target.var.clone();
        let stripped = strip(value);
        // `ret = !trylock(…)`: the variable holds the negated try result.
        if let (Some(call), Some(_)) = (self.negated_call(stripped), &var) {
            let result = ResultUse {
                negated: true,
                ..target
            };
            return self.call(call, cur, result).0;
        }
        // `locked = mutex_trylock(…) != 0` holds the try result, `== 0` its
        // negation.
        if let (Some((call, negated)), Some(_)) = (self.call_against_zero(stripped), &var) {
            let result = ResultUse { negated, ..target };
            return self.call(call, cur, result).0;
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
            let result = ResultUse {
                var: Some(inner),
                alias: var,
                ..ResultUse::default()
            };
            return self.call(call, cur, result).0;
        }
        // `v = c ? a : b` is `if (c) v = a; else v = b;`: a call on either
        // side stores its result in `v` (`pte = kernel ? map(…) : map_lock(…)`).
        if stripped.kind_id() == kind::CONDITIONAL_EXPRESSION && var.is_some() {
            if let (Some(c), Some(a), Some(b)) = (
                stripped.child_by_field_id(field::CONDITION),
                stripped.child_by_field_id(field::CONSEQUENCE),
                stripped.child_by_field_id(field::ALTERNATIVE),
            ) {
                let (t, f) = (self.new_node(Op::Nop), self.new_node(Op::Nop));
                self.cond(c, cur, t, f);
                let a_end = self.assign(target.clone(), a, Some(t));
                let b_end = self.assign(target, b, Some(f));
                return self.join(&[a_end, b_end]);
            }
        }
        // `mapped = pte = …`: `mapped` holds what `pte` holds.
        let inner_var = (stripped.kind_id() == kind::ASSIGNMENT_EXPRESSION)
            .then(|| stripped.child_by_field_id(field::LEFT).map(strip))
            .flatten()
            .filter(|l| l.kind_id() == kind::IDENTIFIER);
        if let (Some(inner), Some(var)) = (inner_var, &var) {
            let inner = self.text(inner).to_owned();
            let cur = self.expr(stripped, cur);
            let cur = Some(self.add(
                Op::Assign {
                    key: TruthKey::Var(var.clone()),
                    value: None,
                },
                cur,
            ));
            let from = TruthKey::Var(inner);
            return Some(self.add(
                Op::Copy {
                    to: var.clone(),
                    from,
                    pointee: None,
                },
                cur,
            ));
        }
        if stripped.kind_id() == kind::CALL_EXPRESSION {
            let (cur, call) = self.call(stripped, cur, target);
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
                // `start_pte = pte;`: the copy holds what the original holds.
                if let Some(from) = self.truth_key(value) {
                    // `cgrp = chan->cgrp;` names what the field points to.
                    let pointee = match from {
                        TruthKey::Var(_) | TruthKey::Value(_) => self.paths.pointee(value, 1),
                        _ => None,
                    };
                    return Some(self.add(
                        Op::Copy {
                            to: var,
                            from,
                            pointee,
                        },
                        cur,
                    ));
                }
                cur
            }
            None => cur,
        }
    }

    /// The call under a `!` (`!trylock(…)`), if `e` is one.
    pub(super) fn negated_call(&self, e: Node<'t>) -> Option<Node<'t>> {
        (e.kind_id() == kind::UNARY_EXPRESSION && self.operator(e) == "!")
            .then(|| e.child_by_field_id(field::ARGUMENT).map(strip))
            .flatten()
            .filter(|a| a.kind_id() == kind::CALL_EXPRESSION)
    }

    /// `call(…) != 0` (the call, not negated) or `call(…) == 0` (negated).
    fn call_against_zero(&self, e: Node<'t>) -> Option<(Node<'t>, bool)> {
        if e.kind_id() != kind::BINARY_EXPRESSION {
            return None;
        }
        let negated = match self.operator(e) {
            "!=" => false,
            "==" => true,
            _ => return None,
        };
        let left = strip(e.child_by_field_id(field::LEFT)?);
        let right = e.child_by_field_id(field::RIGHT)?;
        (left.kind_id() == kind::CALL_EXPRESSION && self.is_zero(right)).then_some((left, negated))
    }

    /// Whether `e` mentions a lock-status flag (`ret | VM_FAULT_LOCKED`).
    pub(super) fn carries_status(&self, e: Node<'_>) -> bool {
        lockwarden_syntax::walk::any(e, |n| {
            n.kind_id() == kind::IDENTIFIER && self.api.is_lock_status_flag(self.text(n))
        })
    }

    /// A call of a macro whose `return` returns from this function, with
    /// what it would return here (a returned parameter is its argument) and
    /// whether it always returns.
    fn caller_exit(&self, call: Node<'t>) -> Option<(bool, ReturnValue)> {
        let function = call.child_by_field_id(field::FUNCTION)?;
        let (params, exit) = self.facts.caller_exit(self.text(function))?;
        let value = match &exit.value {
            ReturnValue::Var(v) => {
                let arg = params.iter().position(|p| p == v).and_then(|i| {
                    let args = call.child_by_field_id(field::ARGUMENTS)?;
                    let mut cursor = args.walk();
                    let arg = args.named_children(&mut cursor).nth(i);
                    arg
                });
                arg.map_or(ReturnValue::Other, |a| self.return_value(strip(a)))
            }
            other => other.clone(),
        };
        Some((exit.always, value))
    }

    /// `WRITE_LOCK(cmd);`, a macro that may return from here: its summary
    /// says what holds when it goes on (a nonzero result) and when it
    /// returns (zero), so the call is lowered as `if (!WRITE_LOCK(cmd))
    /// return -EINVAL;`.
    fn call_returning_macro(
        &mut self,
        call: Node<'t>,
        cur: Cur,
        always: bool,
        value: ReturnValue,
    ) -> Cur {
        let (goes_on, returns) = (self.new_node(Op::Nop), self.new_node(Op::Nop));
        self.cond(call, cur, goes_on, returns);
        self.return_here(value, Span::of(call), Some(returns));
        (!always).then_some(goes_on)
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
                // `WARN_ON(!trylock_page(page));` as a statement asserts its
                // argument is false: the code goes on as if the warning had
                // not fired (a try result there succeeded).
                let wrapper = e
                    .child_by_field_id(field::FUNCTION)
                    .filter(|f| f.kind_id() == kind::IDENTIFIER)
                    .is_some_and(|f| self.api.is_condition_wrapper(self.text(f)));
                if wrapper {
                    let (warned, next) = (self.new_node(Op::Nop), self.new_node(Op::Nop));
                    self.cond(e, cur, warned, next);
                    // `WARN(1, …)` always fires, and the code goes on.
                    let always = e
                        .child_by_field_id(field::ARGUMENTS)
                        .and_then(|a| a.named_child(0))
                        .and_then(|c| self.constant_truth(c))
                        == Some(true);
                    if always {
                        self.link(warned, next, EdgeCond::Always);
                    }
                    return Some(next);
                }
                if let Some((always, value)) = self.caller_exit(e) {
                    return self.call_returning_macro(e, cur, always, value);
                }
                self.call(e, cur, ResultUse::default()).0
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
                let target = ResultUse {
                    var: var.clone(),
                    path: left
                        .filter(|_| var.is_none())
                        .and_then(|l| self.paths.lvalue(l)),
                    ..ResultUse::default()
                };
                let cur = match e.child_by_field_id(field::RIGHT) {
                    Some(r) => self.assign(target, r, cur),
                    None => cur,
                };
                // A field or element assigned: what was known of it is gone.
                match left
                    .filter(|_| var.is_none())
                    .and_then(|l| self.paths.lvalue(l))
                {
                    Some(path) => {
                        let value = e
                            .child_by_field_id(field::RIGHT)
                            .and_then(|r| self.constant_truth(r));
                        // A pointer stored: a variable's value, or an address
                        // (`*new_obj = &fbo->base;` hands out a local's object).
                        let stored = e
                            .child_by_field_id(field::RIGHT)
                            .map(strip)
                            .filter(|r| {
                                r.kind_id() == kind::IDENTIFIER
                                    || (r.kind_id() == kind::POINTER_EXPRESSION
                                        && self.operator(*r) == "&")
                            })
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
            // `x++`, `--p->count`: a write of the operand.
            kind::UPDATE_EXPRESSION => match e.child_by_field_id(field::ARGUMENT) {
                Some(target) => {
                    let cur = self.expr(target, cur);
                    self.written(target, Span::of(e), cur)
                }
                None => cur,
            },
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
    /// call node, with what is done with its result. Returns the open end
    /// and the call node, if one was made.
    pub(super) fn call(
        &mut self,
        e: Node<'t>,
        cur: Cur,
        result: ResultUse,
    ) -> (Cur, Option<NodeId>) {
        let function = e.child_by_field_id(field::FUNCTION);
        // `(w ? up_write : up_read)(&b->lock)`: one function or the other,
        // as the condition says.
        let chosen = function
            .map(strip)
            .filter(|f| f.kind_id() == kind::CONDITIONAL_EXPRESSION);
        if let Some((c, a, b)) = chosen.and_then(|f| {
            let named = |field| {
                f.child_by_field_id(field)
                    .map(strip)
                    .filter(|n| n.kind_id() == kind::IDENTIFIER)
            };
            Some((
                f.child_by_field_id(field::CONDITION)?,
                named(field::CONSEQUENCE)?,
                named(field::ALTERNATIVE)?,
            ))
        }) {
            let (t, f) = (self.new_node(Op::Nop), self.new_node(Op::Nop));
            self.cond(c, cur, t, f);
            let a = self.text(a).to_owned();
            let b = self.text(b).to_owned();
            let (a_end, _) = self.call_of(e, Some(t), result.clone(), Some(a));
            let (b_end, _) = self.call_of(e, Some(f), result, Some(b));
            return (self.join(&[a_end, b_end]), None);
        }
        let callee = function
            .filter(|f| f.kind_id() == kind::IDENTIFIER)
            .map(|f| self.text(f).to_owned());
        self.call_of(e, cur, result, callee)
    }

    /// The call `e` of `callee` (`None`: through a pointer or an expression).
    fn call_of(
        &mut self,
        e: Node<'t>,
        cur: Cur,
        result: ResultUse,
        callee: Option<String>,
    ) -> (Cur, Option<NodeId>) {
        let function = e.child_by_field_id(field::FUNCTION);
        let args: Vec<Node<'t>> = e
            .child_by_field_id(field::ARGUMENTS)
            .map(named_children)
            .unwrap_or_default();
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
            // `__first_profile(root, __next_ns(…))`: a call's result passed
            // on is used, not ignored.
            let inner = strip(*a);
            cur = if inner.kind_id() == kind::CALL_EXPRESSION && !self.is_guard(inner) {
                let passed = ResultUse {
                    tested: true,
                    ..ResultUse::default()
                };
                self.call(inner, cur, passed).0
            } else {
                self.expr(*a, cur)
            };
        }
        let arg_paths = self.arg_paths(&args);
        let clobbers = args
            .iter()
            .map(|a| strip(*a))
            .filter(|a| a.kind_id() == kind::POINTER_EXPRESSION && self.operator(*a) == "&")
            .filter_map(|a| a.child_by_field_id(field::ARGUMENT))
            .map(strip)
            .filter(|a| a.kind_id() == kind::IDENTIFIER)
            .map(|a| self.text(a).to_owned())
            .collect();
        // The pointer called through, when the callee is no name.
        let pointer = function
            .filter(|_| callee.is_none())
            .and_then(|f| self.paths.lvalue(f));
        let indirect = match (&callee, function) {
            (Some(name), _) => (self.cfg.params.contains(name) || self.cfg.locals.contains(name))
                .then(|| self.cfg.params.contains(name)),
            (None, Some(_)) => Some(
                pointer
                    .as_ref()
                    .and_then(|p| p.root_var().map(|r| self.cfg.params.iter().any(|q| q == r)))
                    .unwrap_or(false),
            ),
            (None, None) => None,
        };
        let through_field = pointer.and_then(|p| match p.steps.last() {
            Some(crate::path::Step::Field(name)) => Some(name.clone()),
            _ => None,
        });
        if let Some(from_param) = indirect {
            for a in &arg_paths {
                // The callback is given the variable's own object (`folio`,
                // `&dev->work`, `&local`), not one a field of it points to
                // (`ask->private`): only the first can it release a lock of.
                let own_object = |p: &Path| {
                    let inner = p.steps.strip_prefix(&[Step::Deref]).unwrap_or(&p.steps);
                    !inner
                        .iter()
                        .any(|s| matches!(s, Step::Deref | Step::Call(_)))
                };
                let root = match (&a.lvalue, &a.pointee) {
                    (Some(var), _) if var.steps.is_empty() => var.root_var(),
                    (_, Some(pointee)) if own_object(pointee) => pointee.root_var(),
                    _ => None,
                };
                if let Some(root) = root {
                    let entry = (root.to_owned(), from_param);
                    if !self.cfg.handed_to_callbacks.contains(&entry) {
                        self.cfg.handed_to_callbacks.push(entry);
                    }
                }
            }
        }
        // The lock API's data outlives the lowering: no copy per call.
        let api = self.api;
        let never_null = callee
            .as_deref()
            .and_then(|c| api.never_null(c))
            .zip(result.var.clone());
        let noreturn = callee
            .as_ref()
            .is_some_and(|n| self.macros.is_noreturn(n) || self.facts.never_returning.contains(n));
        let store = callee.as_deref().is_some_and(|n| self.api.is_store(n));
        let nests = callee.as_deref().is_some_and(|n| self.api.is_nesting(n));
        let node = self.add(
            Op::Call(Box::new(Call {
                callee,
                span: Span::of(e),
                args: arg_paths,
                result_used: result.var.is_some() || result.path.is_some() || result.tested,
                result_lvalue: result.var.as_deref().map(Path::var).or(result.path),
                result_negated: result.negated,
                result_alias: result.alias,
                indirect,
                through_field,
                clobbers,
                result_var: result.var,
                nests,
            })),
            cur,
        );
        if noreturn {
            return (None, Some(node));
        }
        if let Some(((index, flags), var)) = never_null {
            let next = self.never_null(index, flags, &args, &var, node);
            if next != node {
                return (Some(next), Some(node));
            }
        }
        // `WRITE_ONCE(page->private, 0)`: a write of its first argument.
        if let (true, Some(target)) = (store, args.first()) {
            return (self.written(*target, Span::of(e), Some(node)), Some(node));
        }
        (Some(node), Some(node))
    }

    /// After `node`, a call whose result is stored in `var`, which the lock
    /// API says never returns NULL given one of `flags` in argument `index`:
    /// the path learns `var` is not NULL, where the argument's text names a
    /// flag (`GFP_KERNEL | __GFP_NOFAIL`) or the path knows the variable
    /// passed has one (`if (gfp & __GFP_DIRECT_RECLAIM)`). The node the path
    /// goes on from.
    fn never_null(
        &mut self,
        index: usize,
        flags: &[String],
        args: &[Node<'t>],
        var: &str,
        node: NodeId,
    ) -> NodeId {
        let Some(arg) = args.get(index).map(|a| strip(*a)) else {
            return node;
        };
        // A flag masked out (`gfp & ~__GFP_DIRECT_RECLAIM`) is not carried.
        let named = !self.text(arg).contains('~')
            && lockwarden_syntax::walk::any(arg, |n| {
                n.kind_id() == kind::IDENTIFIER && flags.iter().any(|f| f == self.text(n))
            });
        let not_null = TruthKey::Var(var.to_owned());
        if named {
            return self.learning(not_null, true, node);
        }
        if arg.kind_id() != kind::IDENTIFIER {
            return node;
        }
        let sets: Option<Vec<TruthKey>> = flags
            .iter()
            .map(|flag| self.test_key(&format!("{}&{flag}", self.text(arg)), &[arg], &[flag]))
            .collect();
        let Some(sets) = sets else {
            return node;
        };
        // One flag after the other: set, the result is not NULL; not set,
        // ask about the next.
        let next = self.new_node(Op::Nop);
        let mut from = node;
        for set in sets {
            let learned = self.learning(not_null.clone(), true, next);
            let unset = self.new_node(Op::Nop);
            self.link(from, learned, EdgeCond::Truth(set.clone(), true));
            self.link(from, unset, EdgeCond::Truth(set, false));
            from = unset;
        }
        self.link(from, next, EdgeCond::Always);
        next
    }

    /// `target` is written at `span` with a value nothing tracks: a write
    /// for the rules, and what was known of it is gone.
    pub(super) fn written(&mut self, target: Node<'t>, span: Span, cur: Cur) -> Cur {
        let stripped = strip(target);
        if stripped.kind_id() == kind::IDENTIFIER {
            let key = TruthKey::Var(self.text(stripped).to_owned());
            return Some(self.add(Op::Assign { key, value: None }, cur));
        }
        let Some(path) = self.paths.lvalue(stripped) else {
            return cur;
        };
        let cur = Some(self.add(
            Op::Write {
                target: path.clone(),
                span,
                stored: None,
            },
            cur,
        ));
        Some(self.add(
            Op::Assign {
                key: TruthKey::Value(path),
                value: None,
            },
            cur,
        ))
    }

    /// What each argument can stand for in a callee's summary.
    pub(super) fn arg_paths(&self, args: &[Node<'t>]) -> Vec<ArgPaths> {
        args.iter()
            .map(|a| ArgPaths {
                pointee: self.paths.pointee(*a, 1),
                lvalue: self.paths.lvalue(*a),
                key: self.truth_key(*a),
                constant: self.constant_truth(*a),
                flags: self.flag_names(*a),
            })
            .collect()
    }
}

/// What is done with a call's result.
#[derive(Clone, Debug, Default)]
pub(super) struct ResultUse {
    /// The variable it is assigned to.
    pub var: Option<String>,
    /// The field or pointer target it is stored in (`vmf->pte = …`).
    pub path: Option<Path>,
    /// A second variable holding it (`start = pte = map_lock(…)`).
    pub alias: Option<String>,
    /// Stored or returned negated (`ret = !folio_trylock(folio)`).
    pub negated: bool,
    /// Tested by a branch or returned, though not stored.
    pub tested: bool,
}
