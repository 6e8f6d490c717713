//! Condition lowering: `&&`, `||`, `!`, comparisons with zero, `IS_ERR()`,
//! condition wrappers (`unlikely`), try-lock calls tested directly, and
//! side-effect-free conditions keyed by their canonical text so that two
//! tests of one condition correlate.

use lockwarden_syntax::{field, kind};
use tree_sitter::Node;

use super::expr::ResultUse;
use super::lower::{Cur, Lowerer, MAX_DEPTH};
use super::{EdgeCond, NodeId, Op, TruthKey};
use crate::path::{squeezed, strip};

impl<'t> Lowerer<'t, '_> {
    /// Lowers a condition with edges to `t` when true and `f` when false.
    pub(super) fn cond(&mut self, e: Node<'t>, cur: Cur, t: NodeId, f: NodeId) {
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

    pub(super) fn cond_inner(&mut self, e: Node<'t>, cur: Cur, t: NodeId, f: NodeId) {
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
                    "==" | "!=" | "<" | ">=" => {
                        let (tested, zero_side) = if self.is_zero(right) {
                            (left, true)
                        } else if self.is_zero(left) && op != "<" && op != ">=" {
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
                                // `>= 0` is its negation.
                                _ => {
                                    let (t, f) = if op == ">=" { (f, t) } else { (t, f) };
                                    self.negative_split(tested, cur, t, f);
                                }
                            };
                        }
                        // `ret == -EINTR`: where it holds, the value is an
                        // errno, nonzero: a try result compared with one
                        // failed there. Where it does not, nothing is known.
                        if matches!(op.as_str(), "==" | "!=") {
                            let operands = if self.is_errno(right) {
                                Some((left, right))
                            } else if self.is_errno(left) {
                                Some((right, left))
                            } else {
                                None
                            };
                            if let Some((tested, errno)) = operands {
                                let sides = if op == "==" { (t, f) } else { (f, t) };
                                let tested = strip(tested);
                                if self.compare_with_errno(e, tested, errno, cur, sides) {
                                    return;
                                }
                            }
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
                    .map(strip);
                if let Some(arg) = tested.filter(|a| a.kind_id() == kind::IDENTIFIER) {
                    let key = TruthKey::Errno(self.text(arg).to_owned());
                    if let Some(c) = cur {
                        self.link(c, t, EdgeCond::Truth(key.clone(), true));
                        self.link(c, f, EdgeCond::Truth(key, false));
                    }
                    return;
                }
                // `IS_ERR(c->root)`: a try result stored in the field is
                // settled as it would be in a variable.
                let field_key = tested
                    .filter(|a| a.kind_id() == kind::FIELD_EXPRESSION)
                    .and_then(|a| self.paths.lvalue(a))
                    .map(TruthKey::Value);
                if let Some(key) = field_key {
                    if let Some(c) = cur {
                        self.link(c, t, EdgeCond::ErrorTest(key.clone(), true));
                        self.link(c, f, EdgeCond::ErrorTest(key, false));
                    }
                    return;
                }
                // `WARN(cond, fmt, …)` evaluates the rest too, but only the
                // condition decides: the first argument of a condition
                // wrapper, or the one a header's macro hands to one.
                let condition_arg = e
                    .child_by_field_id(field::FUNCTION)
                    .filter(|f| f.kind_id() == kind::IDENTIFIER)
                    .and_then(|f| {
                        let name = self.text(f);
                        if self.api.is_condition_wrapper(name) {
                            Some(0)
                        } else {
                            self.facts.header_conditions.get(name).copied()
                        }
                    });
                if let Some(arg) = condition_arg {
                    if let Some(condition) = e
                        .child_by_field_id(field::ARGUMENTS)
                        .and_then(|a| a.named_child(arg))
                    {
                        return self.cond(condition, cur, t, f);
                    }
                }
                let tested = ResultUse {
                    tested: true,
                    ..ResultUse::default()
                };
                let (end, call) = self.call(e, cur, tested);
                let Some(end) = end else {
                    return;
                };
                // The same question asked again, with nothing it reads
                // changed, gets the same answer: `if (netif_running(dev))`
                // before the lock and again before the unlock.
                let (t, f) = match self.question_key(e) {
                    Some(key) => (
                        self.learning(key.clone(), true, t),
                        self.learning(key, false, f),
                    ),
                    None => (t, f),
                };
                match call {
                    Some(call) => {
                        self.link(end, t, EdgeCond::Truth(TruthKey::Call(call), true));
                        self.link(end, f, EdgeCond::Truth(TruthKey::Call(call), false));
                    }
                    None => {
                        self.link(end, t, EdgeCond::Always);
                        self.link(end, f, EdgeCond::Always);
                    }
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
    pub(super) fn opaque_cond(&mut self, e: Node<'t>, cur: Cur, t: NodeId, f: NodeId) {
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

    /// The key of a tested call whose answer can be remembered: not a lock
    /// API function (its answer is a lock state), not a loop's condition,
    /// and with side-effect-free arguments reading some variable, which an
    /// assignment forgets.
    fn question_key(&self, e: Node<'_>) -> Option<TruthKey> {
        let callee = e
            .child_by_field_id(field::FUNCTION)
            .filter(|f| f.kind_id() == kind::IDENTIFIER)?;
        if self.in_loop_condition || self.api.primitive(self.text(callee)).is_some() {
            return None;
        }
        let args = e.child_by_field_id(field::ARGUMENTS)?;
        let mut cursor = args.walk();
        let args: Vec<Node<'_>> = args.named_children(&mut cursor).collect();
        // A question about globals only (`static_branch_unlikely(&key)`)
        // reads no variable the function could assign.
        let global_address = |a: &Node<'_>| {
            let a = strip(*a);
            a.kind_id() == kind::POINTER_EXPRESSION
                && self.operator(a) == "&"
                && a.child_by_field_id(field::ARGUMENT)
                    .map(strip)
                    .filter(|v| v.kind_id() == kind::IDENTIFIER)
                    .is_some_and(|v| self.cfg.is_global(self.text(v)))
        };
        // So is a header's predicate over globals (`if
        // (!debug_pagealloc_enabled())` before an unlock and again before
        // the relock).
        let over_globals =
            args.is_empty() && self.facts.global_predicates.contains(self.text(callee));
        let vars = match self.pure_vars(&args) {
            Some(vars) => vars,
            None if !args.is_empty() && args.iter().all(global_address) => Vec::new(),
            None if over_globals => Vec::new(),
            None => return None,
        };
        let text = squeezed(self.text(e));
        Some(TruthKey::Cond { text, vars })
    }

    /// The key of a side-effect-free test written `text`, reading
    /// `operands` and the identifiers `names`, as [`Lowerer::condition_key`]
    /// keys such a test: for a comparison the code never writes as a test
    /// (`cnt < max` out of `++cnt < max`, `gfp & __GFP_NOFAIL`) that a later
    /// test must still meet.
    pub(super) fn test_key(
        &self,
        text: &str,
        operands: &[Node<'_>],
        names: &[&str],
    ) -> Option<TruthKey> {
        let mut vars = self.pure_vars(operands)?;
        vars.extend(names.iter().map(|n| (*n).to_owned()));
        vars.sort();
        vars.dedup();
        Some(TruthKey::Cond {
            text: squeezed(text),
            vars,
        })
    }

    /// A node that learns `key` is `truth`, then goes on to `to`.
    pub(super) fn learning(&mut self, key: TruthKey, truth: bool, to: NodeId) -> NodeId {
        let n = self.new_node(Op::Nop);
        self.link(n, to, EdgeCond::Truth(key, truth));
        n
    }

    /// A key for a side-effect-free comparison or arithmetic condition, and
    /// whether the condition is the key's negation (`a != b` is `!(a == b)`).
    pub(super) fn condition_key(&self, e: Node<'_>) -> Option<(TruthKey, bool)> {
        let e = strip(e);
        if !matches!(
            e.kind_id(),
            kind::BINARY_EXPRESSION | kind::UNARY_EXPRESSION
        ) && !self.is_pure_call(e)
        {
            return None;
        }
        let vars = self.pure_vars(&[e])?;
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
                return Some((equality_key(self.text(l), self.text(r), vars), false));
            }
            // One answer per build: the key of `#if IS_ENABLED(CONFIG_X)`.
            _ if self.is_config_test(e) => format!("#if {}", self.text(e)),
            _ => self.text(e).to_owned(),
        };
        let text = squeezed(&text);
        Some((TruthKey::Cond { text, vars }, negated))
    }

    /// The variables read by side-effect-free expressions (pure predicate
    /// calls allowed), sorted; `None` when one has side effects or none reads
    /// a variable.
    pub(super) fn pure_vars(&self, exprs: &[Node<'_>]) -> Option<Vec<String>> {
        let mut pure = true;
        let mut vars = Vec::new();
        for e in exprs {
            lockwarden_syntax::walk::preorder(*e, |n| {
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
                        vars.push(self.read_var(n))
                    }
                    _ => {}
                }
                pure
            });
        }
        if !pure || vars.is_empty() {
            return None;
        }
        vars.sort();
        vars.dedup();
        Some(vars)
    }

    /// The variable an identifier reads: a local fixed to a path under a
    /// parameter (`esw = mdev->priv.eswitch`, never assigned again) reads
    /// that parameter, so a test of it is the caller's to decide.
    fn read_var(&self, identifier: Node<'_>) -> String {
        let name = self.text(identifier);
        self.paths
            .is_fixed(name)
            .then(|| self.paths.lvalue(identifier))
            .flatten()
            .and_then(|path| path.root_var().map(str::to_owned))
            .filter(|root| self.cfg.params.contains(root))
            .unwrap_or_else(|| name.to_owned())
    }

    /// The name a call expression calls, when it names a function.
    fn called_name(&self, e: Node<'_>) -> Option<&str> {
        (e.kind_id() == kind::CALL_EXPRESSION)
            .then(|| e.child_by_field_id(field::FUNCTION))
            .flatten()
            .filter(|f| f.kind_id() == kind::IDENTIFIER)
            .map(|f| self.text(f))
    }

    /// A call to a predicate the rule file says is pure (`folio_test_anon(f)`).
    pub(super) fn is_pure_call(&self, e: Node<'_>) -> bool {
        self.called_name(e)
            .is_some_and(|name| self.api.is_pure_predicate(name) || self.api.is_config_test(name))
    }

    /// `IS_ENABLED(CONFIG_X)`: the build configuration, as `#if` tests it.
    fn is_config_test(&self, e: Node<'_>) -> bool {
        self.called_name(e)
            .is_some_and(|name| self.api.is_config_test(name))
    }

    /// The key a branch on `e` tests: a variable, or a field's lvalue path.
    pub(super) fn truth_key(&self, e: Node<'_>) -> Option<TruthKey> {
        let e = strip(e);
        match e.kind_id() {
            kind::IDENTIFIER => Some(TruthKey::Var(self.text(e).to_owned())),
            kind::FIELD_EXPRESSION => self.paths.lvalue(e).map(TruthKey::Value),
            // `*locked`, written as `*locked = 0` elsewhere.
            kind::POINTER_EXPRESSION if self.operator(e) == "*" => {
                self.paths.lvalue(e).map(TruthKey::Value)
            }
            // `ww ? &ww->ctx : NULL` is non-NULL exactly when `ww` is.
            kind::CONDITIONAL_EXPRESSION => {
                let address = e
                    .child_by_field_id(field::CONSEQUENCE)
                    .map(strip)
                    .is_some_and(|c| {
                        c.kind_id() == kind::POINTER_EXPRESSION && self.operator(c) == "&"
                    });
                let null = e
                    .child_by_field_id(field::ALTERNATIVE)
                    .is_some_and(|a| self.is_zero(a));
                if address && null {
                    self.truth_key(e.child_by_field_id(field::CONDITION)?)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// The truth of a constant expression, if it is one.
    pub(super) fn constant_truth(&self, e: Node<'_>) -> Option<bool> {
        let e = strip(e);
        match e.kind_id() {
            kind::TRUE => Some(true),
            kind::NUMBER_LITERAL => Some(!self.is_zero(e)),
            _ if self.is_zero(e) => Some(false),
            kind::IDENTIFIER if self.text(e) == "true" => Some(true),
            kind::IDENTIFIER if self.facts.enumerators.get(self.text(e)) == Some(&false) => {
                Some(true)
            }
            // `-EINTR`, `-1`: a negated errno or number is nonzero.
            kind::UNARY_EXPRESSION if self.is_errno(e) => Some(true),
            _ => None,
        }
    }

    /// The flags an argument written as flag names or-ed together sets
    /// (`A | B`; `0` sets none): upper-case names, as the kernel names its
    /// flags, each taken for one flag of its own.
    pub(super) fn flag_names(&self, e: Node<'_>) -> Option<Vec<String>> {
        let mut names = Vec::new();
        let mut pending = vec![e];
        while let Some(e) = pending.pop() {
            let e = strip(e);
            match e.kind_id() {
                _ if self.is_zero(e) => {}
                kind::IDENTIFIER if super::is_flag_name(self.text(e)) => {
                    names.push(self.text(e).to_owned());
                }
                kind::BINARY_EXPRESSION if self.operator(e) == "|" => {
                    pending.push(e.child_by_field_id(field::LEFT)?);
                    pending.push(e.child_by_field_id(field::RIGHT)?);
                }
                _ => return None,
            }
        }
        Some(names)
    }

    /// A negated errno or nonzero number (`-ENOENT`, `-1`).
    pub(super) fn is_errno(&self, e: Node<'_>) -> bool {
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

    /// Lowers `tested < 0`: edges to `t` where the value is negative (an
    /// errno: nonzero, and the variable learns it holds one) and to `f`
    /// where it is not (which settles a try result only as "no error").
    fn negative_split(&mut self, tested: Node<'t>, cur: Cur, t: NodeId, f: NodeId) {
        // `if (idx < 0)`: the variable holds an errno
        // on the true side and none on the other.
        let errno = (strip(tested).kind_id() == kind::IDENTIFIER)
            .then(|| TruthKey::Errno(self.text(strip(tested)).to_owned()));
        let learn = |l: &mut Self, truth: bool, to: NodeId| match &errno {
            Some(key) => {
                let n = l.new_node(Op::Assign {
                    key: key.clone(),
                    value: Some(truth),
                });
                l.link(n, to, EdgeCond::Always);
                n
            }
            None => to,
        };
        let negative = learn(self, true, t);
        let first_new = self.cfg.ops.len();
        let not_negative = self.new_node(Op::Nop);
        self.cond(tested, cur, negative, not_negative);
        let sources = cur
            .into_iter()
            .map(|c| c as usize)
            .chain(first_new..self.cfg.ops.len());
        for n in sources {
            for edge in &mut self.cfg.succs[n] {
                if edge.to == not_negative {
                    if let EdgeCond::Truth(key, false) = &edge.cond {
                        edge.cond = EdgeCond::Settle(key.clone(), false);
                    }
                }
            }
        }
        let after = learn(self, false, f);
        self.link(not_negative, after, EdgeCond::Always);
    }

    /// `tested == errno` (the comparison `e`, `errno` a negated constant)
    /// with edges to `equal` and `unequal`, when `tested` is a variable or a
    /// call: on the equal side it is nonzero (a try result in it failed, or
    /// found its lock held by its acquire context: `already_held`; a path
    /// that knows it zero is not taken). False when `tested` is neither,
    /// and nothing was lowered.
    fn compare_with_errno(
        &mut self,
        e: Node<'t>,
        tested: Node<'t>,
        errno: Node<'t>,
        cur: Cur,
        (equal, unequal): (NodeId, NodeId),
    ) -> bool {
        let errno_side = self.new_node(Op::Nop);
        let key = match tested.kind_id() {
            kind::IDENTIFIER => {
                // In terms of `e`'s own truth: `ret != -EINTR` is true on
                // the unequal side.
                if self.operator(e) == "==" {
                    self.opaque_cond(e, cur, errno_side, unequal);
                } else {
                    self.opaque_cond(e, cur, unequal, errno_side);
                }
                TruthKey::Var(self.text(tested).to_owned())
            }
            kind::CALL_EXPRESSION => {
                let tested_use = ResultUse {
                    tested: true,
                    ..ResultUse::default()
                };
                // A try-acquire that fails with this errno only: any other
                // value is its success (`mutex_lock_interruptible(…) ==
                // -EINTR`).
                let compared = strip(errno)
                    .child_by_field_id(field::ARGUMENT)
                    .map(|e| self.text(strip(e)));
                let only_failure = self
                    .called_name(tested)
                    .and_then(|name| self.api.fails_only_with(name))
                    .is_some_and(|fails| Some(fails) == compared);
                let (end, call) = self.call(tested, cur, tested_use);
                let Some(end) = end else {
                    return true;
                };
                self.link(end, errno_side, EdgeCond::Always);
                let Some(call) = call else {
                    self.link(end, unequal, EdgeCond::Always);
                    self.link(errno_side, equal, EdgeCond::Always);
                    return true;
                };
                let unequal_cond = if only_failure {
                    EdgeCond::Truth(TruthKey::Call(call), false)
                } else {
                    EdgeCond::Always
                };
                self.link(end, unequal, unequal_cond);
                TruthKey::Call(call)
            }
            _ => return false,
        };
        let already_held = strip(errno)
            .child_by_field_id(field::ARGUMENT)
            .is_some_and(|name| self.api.is_already_held(self.text(strip(name))));
        if already_held {
            let context_held = self.new_node(Op::Nop);
            self.link(errno_side, context_held, EdgeCond::Truth(key.clone(), true));
            self.link(context_held, equal, EdgeCond::AlreadyHeld(key));
        } else {
            self.link(errno_side, equal, EdgeCond::Truth(key, true));
        }
        true
    }

    pub(super) fn is_zero(&self, e: Node<'_>) -> bool {
        let e = strip(e);
        match e.kind_id() {
            kind::NUMBER_LITERAL => matches!(self.text(e), "0" | "0UL" | "0L" | "0U"),
            kind::NULL | kind::FALSE => true,
            kind::IDENTIFIER => {
                matches!(self.text(e), "NULL" | "false")
                    || self.facts.enumerators.get(self.text(e)) == Some(&true)
            }
            _ => false,
        }
    }
}

/// The key of `l == r`, whichever side is written first.
pub(super) fn equality_key(l: &str, r: &str, vars: Vec<String>) -> TruthKey {
    let (l, r) = if r < l { (r, l) } else { (l, r) };
    let text = squeezed(&format!("{l}=={r}"));
    TruthKey::Cond { text, vars }
}
