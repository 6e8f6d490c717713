//! Rules from rule files: *require* (an access in scope needs a lock class
//! held) and *forbid* (a lock class is never taken in scope, directly or
//! through a callee).
//!
//! Requirements a function cannot meet itself become its preconditions and
//! move up to its callers, like an inferred `__must_hold`, until a caller
//! holds the lock (met), takes the lock elsewhere but not here (reported at
//! the call), or is an entry point (reported where the chain starts in it).
//! Forbidden classes reached through callees are reported once, at the call
//! that leaves the rule's scope.

use std::collections::{HashMap, VecDeque};

use lockwarden_flow::analysis::{Analysis, FunctionUnit};
use lockwarden_flow::cfg::{NodeId, Op};
use lockwarden_flow::path::{Path, Step};
use lockwarden_flow::summary::Change;
use lockwarden_report::{Finding, Location, RuleInfo};
use lockwarden_syntax::Span;
use rayon::prelude::*;

use crate::file::{AccessDef, ClassDef, RuleDef, RuleKind, RuleSet};
use crate::lock::{At, FunctionFacts};

/// One step of an evidence chain.
#[derive(Clone, Debug)]
struct Step_ {
    function: usize,
    span: Span,
    message: String,
}

/// The documentation of the rules of a rule set; each is documented where
/// it is defined, its rule file.
pub fn rules(set: &RuleSet) -> Vec<RuleInfo> {
    set.rules
        .iter()
        .map(|r| RuleInfo {
            id: r.id.get_ref().clone(),
            severity: r.severity,
            summary: r.summary.clone(),
            help: r.help.clone(),
            doc: r.doc.clone(),
            help_uri: set.rule_origin(r.id.get_ref()).and_then(rule_file_uri),
        })
        .collect()
}

/// The URI of a rule file: a built-in one in lockwarden's documentation, a
/// user's own as a `file:` URI (none when it cannot be found any more).
fn rule_file_uri(origin: &str) -> Option<String> {
    if crate::builtin::FILES
        .iter()
        .any(|(name, _)| *name == origin)
    {
        return Some(lockwarden_report::documentation_uri(origin));
    }
    let path = std::fs::canonicalize(origin).ok()?;
    Some(lockwarden_report::file_uri(&path, false))
}

/// Whether each function of `analysis` is in the scope of a rule of
/// `set`: what rule-file rules read of a function out of every scope is
/// its calls, its summary and the references to scoped functions.
pub fn in_any_scope(analysis: &Analysis<FunctionFacts>, set: &RuleSet) -> Vec<bool> {
    let program = &analysis.program;
    let paths: Vec<String> = program.files.iter().map(|f| f.report_path()).collect();
    program
        .functions
        .par_iter()
        .map(|f| {
            set.rules
                .iter()
                .any(|rule| set.scope_covers(rule, &paths[f.file], &f.name))
        })
        .collect()
}

struct Ctx<'a> {
    analysis: &'a Analysis<FunctionFacts>,
    set: &'a RuleSet,
    /// For every function, its call sites: (caller, node, the call's span).
    callers: Vec<Vec<(usize, NodeId, Span)>>,
}

/// Runs every rule of `set`.
pub fn check(analysis: &Analysis<FunctionFacts>, set: &RuleSet) -> Vec<Finding> {
    let program = &analysis.program;
    // The call sites of every callee, no graph unpacked.
    let sites: Vec<Vec<(usize, NodeId, Span)>> = program
        .functions
        .par_iter()
        .map(|f| {
            f.call_sites()
                .into_iter()
                .filter(|c| !c.guard)
                .filter_map(|c| {
                    let name = c.callee.as_deref()?;
                    if analysis.api.primitive(name).is_some() {
                        return None;
                    }
                    Some((program.resolve(f.file, name)?, c.node, c.span))
                })
                .collect()
        })
        .collect();
    let mut callers: Vec<Vec<(usize, NodeId, Span)>> = vec![Vec::new(); program.functions.len()];
    for (caller, calls) in sites.into_iter().enumerate() {
        for (callee, node, span) in calls {
            callers[callee].push((caller, node, span));
        }
    }
    let ctx = Ctx {
        analysis,
        set,
        callers,
    };
    let mut out = Vec::new();
    for rule in &set.rules {
        let Some(class) = set
            .classes
            .iter()
            .find(|c| c.id.get_ref() == rule.class.get_ref())
        else {
            continue;
        };
        match rule.kind {
            RuleKind::Require => {
                let access = rule
                    .access
                    .as_ref()
                    .and_then(|a| set.accesses.iter().find(|x| x.id.get_ref() == a.get_ref()));
                if let Some(access) = access {
                    out.extend(ctx.require(rule, class, access));
                }
            }
            RuleKind::Forbid => out.extend(ctx.forbid(rule, class)),
        }
    }
    out
}

impl Ctx<'_> {
    fn function(&self, i: usize) -> &FunctionUnit {
        &self.analysis.program.functions[i]
    }

    fn path_of(&self, i: usize) -> String {
        self.analysis.program.files[self.function(i).file].report_path()
    }

    fn location(&self, i: usize, span: Span) -> Location {
        At::new(&self.analysis.program.files[self.function(i).file]).loc(span)
    }

    fn in_scope(&self, rule: &RuleDef, i: usize) -> bool {
        self.set
            .scope_covers(rule, &self.path_of(i), &self.function(i).name)
    }

    fn is_entry(&self, rule: &RuleDef, i: usize) -> bool {
        let f = self.function(i);
        let program = &self.analysis.program;
        let file = &program.files[f.file];
        // A static function outside a header is visible only in its own file.
        let referenced = if f.is_static && file.path.extension().is_none_or(|e| e != "h") {
            file.references.get(&f.name).copied().unwrap_or(0) > 0
        } else {
            program.references(&f.name) > 0
        };
        referenced
            || !self.callers[i]
                .iter()
                .any(|(c, _, _)| *c != i && self.in_scope(rule, *c))
    }

    /// Whether `path`, as named in function `i`, is a lock of `class`.
    fn in_class(&self, i: usize, class: &ClassDef, path: &Path) -> bool {
        let f = self.function(i);
        if let Some(root) = path.root_var() {
            let local = f.params.iter().any(|p| p == root) || f.locals.contains(root);
            if path.steps.is_empty() && !local && class.globals.iter().any(|g| g == root) {
                return true;
            }
        }
        let Some(Step::Field(last)) = path.steps.last() else {
            return false;
        };
        class.fields.iter().any(|spec| {
            let Some((record, field)) = spec.get_ref().split_once('.') else {
                return false;
            };
            field == last
                && self
                    .analysis
                    .program
                    .owner_of(f, path)
                    .is_none_or(|owner| owner == record)
        })
    }

    fn holds(&self, i: usize, node: NodeId, class: &ClassDef) -> bool {
        self.analysis.results[i]
            .visited
            .held
            .get(&node)
            .is_some_and(|held| held.iter().any(|p| self.in_class(i, class, p)))
    }

    /// Whether function `i` takes a lock of `class` anywhere itself, or
    /// through a callee that takes it for its caller.
    fn takes(&self, i: usize, class: &ClassDef) -> bool {
        self.function(i).cfg().ops.iter().any(|op| match op {
            Op::Call(c) => {
                let Some(summary) = c
                    .callee
                    .as_deref()
                    .and_then(|n| self.analysis.summary_of(i, n))
                else {
                    return false;
                };
                summary.effects.iter().any(|e| {
                    matches!(e.change, Change::Acquire | Change::TryAcquire(_))
                        && e.lock
                            .substitute(&c.args, c.result_lvalue.as_ref())
                            .is_some_and(|lock| self.in_class(i, class, &lock))
                })
            }
            Op::GuardAcquire(guard) => self.in_class(i, class, &guard.lock),
            _ => false,
        })
    }

    /// The access sites of function `i`: (node, evidence message).
    fn accesses(&self, i: usize, access: &AccessDef) -> Vec<(NodeId, Span, String)> {
        let f = self.function(i);
        let mut out = Vec::new();
        for (node, op) in f.cfg().ops.iter().enumerate() {
            match op {
                Op::Write { target, span, .. } => {
                    let Some(Step::Field(last)) = target.steps.last() else {
                        continue;
                    };
                    let by_type = access.writes.iter().any(|spec| {
                        spec.get_ref()
                            .split_once('.')
                            .is_some_and(|(record, field)| {
                                field == last
                                    && self
                                        .analysis
                                        .program
                                        .owner_of(f, target)
                                        .is_some_and(|o| o == record)
                            })
                    });
                    let text = target.to_string();
                    // Shapes stand in for types only where the type is unknown.
                    let by_shape = self.analysis.program.owner_of(f, target).is_none()
                        && access.shapes.contains(&text);
                    if by_type || by_shape {
                        out.push((node as NodeId, *span, format!("{text} written here")));
                    }
                }
                Op::Call(c) => {
                    if let Some(name) = c.callee.as_deref() {
                        if access.calls.iter().any(|a| a.name == name) {
                            out.push((
                                node as NodeId,
                                c.span,
                                format!("{} here ({name})", access.summary),
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    fn finding(
        &self,
        rule: &RuleDef,
        i: usize,
        span: Span,
        message: String,
        trace: &[Step_],
    ) -> Finding {
        let f = self.function(i);
        // The primary file unpacked once, for the location and the line text.
        let at = At::new(&self.analysis.program.files[f.file]);
        let mut finding = Finding::new(
            rule.id.get_ref().clone(),
            rule.severity,
            at.loc(span),
            f.name.clone(),
            message,
            at.source(),
        )
        .about(rule.class.get_ref(), at.source());
        finding.help = rule.help.clone();
        for step in trace {
            finding = finding.with_trace_step(
                self.location(step.function, step.span),
                step.message.clone(),
            );
        }
        finding
    }

    fn require(&self, rule: &RuleDef, class: &ClassDef, access: &AccessDef) -> Vec<Finding> {
        let n = self.analysis.program.functions.len();
        let mut out = Vec::new();
        // The unmet chain of each function that needs the class held on entry.
        let mut needs: Vec<Option<Vec<Vec<Step_>>>> = vec![None; n];
        let mut work = VecDeque::new();
        for i in (0..n).filter(|&i| self.in_scope(rule, i)) {
            if self.function(i).parse_errors > 0 {
                continue;
            }
            for (node, span, message) in self.accesses(i, access) {
                if self.holds(i, node, class) {
                    continue;
                }
                let chain = vec![Step_ {
                    function: i,
                    span,
                    message,
                }];
                self.unmet(
                    rule, class, access, i, node, chain, &mut needs, &mut work, &mut out,
                );
            }
        }
        while let Some(callee) = work.pop_front() {
            // One bug, one finding: an entry point (exported, a callback) is
            // reported itself, not again in every caller above it.
            if self.is_entry(rule, callee) {
                continue;
            }
            let chain = needs[callee]
                .as_ref()
                .and_then(|c| c.first().cloned())
                .unwrap_or_default();
            let callee_name = self.function(callee).name.clone();
            for &(caller, node, span) in &self.callers[callee] {
                if caller == callee
                    || !self.in_scope(rule, caller)
                    || self.holds(caller, node, class)
                {
                    continue;
                }
                let mut steps = vec![Step_ {
                    function: caller,
                    span,
                    message: format!("calls {callee_name}()"),
                }];
                steps.extend(chain.iter().cloned());
                self.unmet(
                    rule, class, access, caller, node, steps, &mut needs, &mut work, &mut out,
                );
            }
        }
        // Entry points with unmet preconditions: reported where each starts in them.
        for (i, need) in needs.iter().enumerate() {
            let Some(chains) = need else { continue };
            if self.is_entry(rule, i) {
                for chain in chains {
                    out.push(self.unmet_finding(rule, class, access, i, chain));
                }
            }
        }
        out
    }

    /// An access or call at `node` of function `i` without the class held.
    #[allow(clippy::too_many_arguments)]
    fn unmet(
        &self,
        rule: &RuleDef,
        class: &ClassDef,
        access: &AccessDef,
        i: usize,
        node: NodeId,
        chain: Vec<Step_>,
        needs: &mut [Option<Vec<Vec<Step_>>>],
        work: &mut VecDeque<usize>,
        out: &mut Vec<Finding>,
    ) {
        if self.takes(i, class) {
            // It takes the lock, just not around this: its own bug.
            let mut finding = self.unmet_finding(rule, class, access, i, &chain);
            if let Some(dropped) = self.analysis.results[i].visited.dropped.get(&node) {
                if let Some((lock, at)) = dropped.iter().find(|(p, _)| self.in_class(i, class, p)) {
                    finding = finding
                        .with_label(self.location(i, *at), format!("`{lock}` released here"));
                }
            }
            out.push(finding);
        } else {
            // Every unmet site is kept for the report, the first moves to callers.
            if needs[i].is_none() {
                work.push_back(i);
            }
            needs[i].get_or_insert_with(Vec::new).push(chain);
        }
    }

    fn unmet_finding(
        &self,
        rule: &RuleDef,
        class: &ClassDef,
        access: &AccessDef,
        i: usize,
        chain: &[Step_],
    ) -> Finding {
        let first = &chain[0];
        let message = match chain.get(1) {
            Some(_) => {
                let callee = first
                    .message
                    .trim_start_matches("calls ")
                    .trim_end_matches("()");
                format!(
                    "{callee}() {}, which requires {}, but it is not held here",
                    access.summary, class.summary
                )
            }
            None => format!(
                "{}() {} without {} held",
                self.function(i).name,
                access.summary,
                class.summary
            ),
        };
        self.finding(rule, i, first.span, message, &chain[1..])
    }

    fn forbid(&self, rule: &RuleDef, class: &ClassDef) -> Vec<Finding> {
        let program = &self.analysis.program;
        let n = program.functions.len();
        // A lock primitive of one of the class's kinds, called or guarded.
        let primitive_of_kind = |name: &str| {
            self.analysis.api.primitive(name).is_some_and(|s| {
                s.effects
                    .iter()
                    .any(|e| e.kind.as_ref().is_some_and(|k| class.kinds.contains(k)))
            })
        };
        // A witness chain for every function that may take the class.
        let mut takes: Vec<Option<Vec<Step_>>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let (first, name) =
                    program.functions[i]
                        .call_sites()
                        .into_iter()
                        .find_map(|c| {
                            let name = c.callee.clone().filter(|n| primitive_of_kind(n))?;
                            Some((c, name))
                        })?;
                Some(vec![Step_ {
                    function: i,
                    span: first.span,
                    message: if first.guard {
                        "guard here".to_owned()
                    } else {
                        format!("{name}() here")
                    },
                }])
            })
            .collect();
        let mut work: VecDeque<usize> = (0..n).filter(|&i| takes[i].is_some()).collect();
        while let Some(callee) = work.pop_front() {
            let chain = takes[callee].clone().unwrap_or_default();
            if chain.len() > rule.max_depth {
                continue;
            }
            for &(caller, _, span) in &self.callers[callee] {
                if takes[caller].is_some() {
                    continue;
                }
                let mut steps = vec![Step_ {
                    function: caller,
                    span,
                    message: format!("calls {}()", program.functions[callee].name),
                }];
                steps.extend(chain.iter().cloned());
                takes[caller] = Some(steps);
                work.push_back(caller);
            }
        }
        let mut out = Vec::new();
        let mut seen: HashMap<(usize, u32), ()> = HashMap::new();
        for i in (0..n).filter(|&i| self.in_scope(rule, i)) {
            let f = &program.functions[i];
            for c in f.call_sites() {
                let Some(name) = c.callee.as_deref() else {
                    continue;
                };
                if primitive_of_kind(name) {
                    // A guard of the class is no call to report.
                    if !c.guard && seen.insert((i, c.span.start), ()).is_none() {
                        out.push(self.finding(
                            rule,
                            i,
                            c.span,
                            format!(
                                "{name}() uses {} in {}",
                                class.summary,
                                rule.scope.get_ref()
                            ),
                            &[],
                        ));
                    }
                    continue;
                }
                if c.guard {
                    continue;
                }
                let Some(callee) = program.resolve(f.file, name) else {
                    continue;
                };
                if self.in_scope(rule, callee) {
                    continue;
                }
                if let Some(chain) = &takes[callee] {
                    if seen.insert((i, c.span.start), ()).is_none() {
                        let message = format!(
                            "{name}() uses {} (through a callee outside {})",
                            class.summary,
                            rule.scope.get_ref()
                        );
                        out.push(self.finding(rule, i, c.span, message, chain));
                    }
                }
            }
        }
        out
    }
}
