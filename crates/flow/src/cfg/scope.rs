//! Guards and scope exits: `guard(class)(lock)` is held to the end of its
//! block, `scoped_guard(class, lock) body` for its body, and every way out
//! of a scope (its end, `return`, `break`, `continue`, a `goto` out of it)
//! releases the guards taken in it, innermost first.

use lockwarden_syntax::{field, kind, Span};
use tree_sitter::Node;

use super::lower::{comma_operands, named_children, Cur, Lowerer};
use super::{EdgeCond, GuardLock, Op, ReturnValue};
use crate::path::Path;
use crate::summary::Change;

/// An active guard: released at the end of its block and on every exit from it.
#[derive(Clone)]
pub(super) struct Guard {
    pub(super) lock: Path,
    pub(super) span: Span,
}

pub(super) struct Scope {
    /// The block's span; a `goto` to a label outside it leaves the scope.
    pub(super) span: Span,
    pub(super) guards: Vec<Guard>,
}

impl<'t> Lowerer<'t, '_> {
    /// Emits releases for the guards of scopes `from..` (innermost first).
    pub(super) fn release_scopes(&mut self, from: usize, cur: Cur, at: Span) -> Cur {
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

    /// `guard(class)(args)`: an expression statement calling the result of `guard(class)`.
    pub(super) fn is_guard(&self, e: Node<'_>) -> bool {
        self.guard_parts(e).is_some()
    }

    /// The class name and the outer argument list of a `guard(class)(args)` call.
    pub(super) fn guard_parts(&self, e: Node<'t>) -> Option<(String, Node<'t>)> {
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

    pub(super) fn guard(&mut self, e: Node<'t>, cur: Cur) -> Cur {
        let Some((class, args)) = self.guard_parts(e) else {
            return cur;
        };
        let arg_nodes = named_children(args);
        self.acquire_guard(&class, &arg_nodes, Span::of(e), cur)
    }

    /// Acquires the lock of a guard class with `args` and registers the guard
    /// in the innermost scope.
    pub(super) fn acquire_guard(
        &mut self,
        class: &str,
        args: &[Node<'t>],
        span: Span,
        cur: Cur,
    ) -> Cur {
        let Some((primitive, summary)) = self.api.guard_class(class) else {
            return cur;
        };
        // The guard's lock: the primitive's own lock, with the guard's arguments.
        let arg_paths = self.arg_paths(args);
        let taken = summary
            .effects
            .iter()
            .rev()
            .find(|e| matches!(e.change, Change::Acquire | Change::TryAcquire(_)));
        let Some((lock, recursive)) =
            taken.and_then(|e| Some((e.lock.substitute(&arg_paths, None)?, e.recursive)))
        else {
            return cur;
        };
        let n = self.add(
            Op::GuardAcquire(GuardLock {
                lock: lock.clone(),
                primitive: primitive.to_owned(),
                recursive,
                span,
            }),
            cur,
        );
        if let Some(scope) = self.scopes.last_mut() {
            scope.guards.push(Guard { lock, span });
        }
        Some(n)
    }

    /// `scoped_guard(class, args) body` and `scoped_cond_guard(class, fail, args) body`.
    pub(super) fn scoped_guard(
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
        let try_like = self.api.guard_class(&class).is_some_and(|(_, summary)| {
            summary
                .effects
                .iter()
                .any(|e| matches!(e.change, Change::TryAcquire(_)))
        });
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
    pub(super) fn fail_statement(&mut self, text: &str, span: Span, cur: Cur) -> Cur {
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
}
