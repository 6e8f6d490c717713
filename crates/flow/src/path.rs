//! Lock identity: the canonical path of the object a lock expression names.
//!
//! `spin_lock(&b->pages_lock)` and `spin_unlock(&(b)->pages_lock)` name the
//! same lock: the path `b->pages_lock` (root `b`, then deref, field
//! `pages_lock`). `&`, parentheses and casts vanish, `->` is a deref plus a
//! field, and a local that aliases another expression (`ptl = &mm->ptl`,
//! `folio = page_folio(page)`) is replaced by what it aliases.

use std::collections::HashMap;
use std::fmt;

use lockwarden_syntax::{field, kind, ParsedFile};
use tree_sitter::Node;

use crate::api::LockApi;

/// The first element of a [`Path`].
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Root {
    /// A variable: a parameter, a local or a global.
    Var(String),
    /// A lock with no object, named by the API (`RCU`).
    Named(String),
}

/// One step from the root towards the lock object.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Step {
    Deref,
    Field(String),
    /// An array element (the index is not tracked).
    Index,
    /// The object that holds the object so far as its member of this name
    /// (`container_of(p, struct x, member)`).
    Container(String),
    /// What a call given the object so far returns a pointer to
    /// (`x25_sk(sk)->lock` is `sk`, then `Deref`, `Call("x25_sk")`, then the
    /// field). An accessor whose summary names its result in terms of its
    /// argument is resolved away; any other call is a lookup of the
    /// function's own.
    Call(String),
    /// The flag of this name in the value so far (`flags & NAME`): a test
    /// of what the caller passed, not an object.
    Flag(String),
}

/// The canonical name of a lock object.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Path {
    pub root: Root,
    pub steps: Vec<Step>,
}

impl Path {
    pub fn var(name: &str) -> Path {
        Path {
            root: Root::Var(name.to_owned()),
            steps: Vec::new(),
        }
    }

    pub fn named(name: &str) -> Path {
        Path {
            root: Root::Named(name.to_owned()),
            steps: Vec::new(),
        }
    }

    pub fn push(mut self, step: Step) -> Path {
        // The `member` of the container of what `p` points to is `*p`
        // (`&container_of(p, T, member)->member`).
        if let (Step::Field(field), Some(Step::Container(member))) = (&step, self.steps.last()) {
            if field == member {
                self.steps.pop();
                return self;
            }
        }
        self.steps.push(step);
        self
    }

    /// The object this path is a field of (`q` for `q->limits_lock`), when
    /// its last step is a field.
    pub fn owner(&self) -> Option<Path> {
        match self.steps.split_last() {
            Some((Step::Field(_), rest)) => Some(Path {
                root: self.root.clone(),
                steps: rest.to_vec(),
            }),
            _ => None,
        }
    }

    /// The lock object's own name: its last field, or the variable
    /// (`in_flight` for `dc->in_flight`, `limit` for `limit`).
    pub fn last_name(&self) -> Option<&str> {
        self.steps
            .iter()
            .rev()
            .find_map(|s| match s {
                Step::Field(f) => Some(f.as_str()),
                _ => None,
            })
            .or(self.root_var())
    }

    /// The root variable's name, if the root is a variable.
    pub fn root_var(&self) -> Option<&str> {
        match &self.root {
            Root::Var(v) => Some(v),
            Root::Named(_) => None,
        }
    }

    /// A spelling-insensitive key for matching against annotation text:
    /// no `&`, `*`, parentheses or spaces, and `->` written as `.`.
    pub fn loose_key(&self) -> String {
        loose_key(&self.to_string())
    }
}

/// See [`Path::loose_key`].
pub fn loose_key(text: &str) -> String {
    text.replace("->", ".")
        .chars()
        .filter(|c| !matches!(c, '&' | '*' | '(' | ')') && !c.is_whitespace())
        .collect()
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let trailing = self
            .steps
            .iter()
            .rev()
            .take_while(|s| **s == Step::Deref)
            .count();
        let body = &self.steps[..self.steps.len() - trailing];
        let mut out = "*".repeat(trailing);
        match &self.root {
            Root::Var(v) | Root::Named(v) => out.push_str(v),
        }
        let mut i = 0;
        while i < body.len() {
            match (&body[i], body.get(i + 1)) {
                (Step::Deref, Some(Step::Field(name))) => {
                    out.push_str("->");
                    out.push_str(name);
                    i += 2;
                    continue;
                }
                // `x25_sk(sk)->lock`: the call's result, then what follows.
                (Step::Deref, Some(Step::Call(name))) => {
                    out = format!("{name}({out})");
                    match body.get(i + 2) {
                        Some(Step::Field(field)) => {
                            out.push_str("->");
                            out.push_str(field);
                            i += 3;
                        }
                        _ => {
                            out = format!("(*{out})");
                            i += 2;
                        }
                    }
                    continue;
                }
                (Step::Deref, _) => out = format!("(*{out})"),
                (Step::Call(name), _) => out = format!("(*{name}(&{out}))"),
                (Step::Container(member), _) => out = format!("container_of({out}, {member})"),
                (Step::Field(name), _) => {
                    out.push('.');
                    out.push_str(name);
                }
                (Step::Index, _) => out.push_str("[]"),
                (Step::Flag(name), _) => out = format!("({out} & {name})"),
            }
            i += 1;
        }
        f.write_str(&out)
    }
}

/// Longest alias chain followed; guards against `a = b; b = a;` cycles.
const MAX_ALIAS_DEPTH: usize = 8;

/// Resolves expressions of one function body to [`Path`]s.
pub struct PathResolver<'t, 'f> {
    pub file: &'f ParsedFile,
    pub api: &'f LockApi,
    /// Locals assigned exactly once, with the expression assigned.
    aliases: HashMap<String, Node<'t>>,
    /// Locals that copy what a parameter points to, before anything runs:
    /// see [`PathResolver::entry_copies`].
    entry_copies: HashMap<String, Path>,
    /// Locals given a value once, where they are declared or by one
    /// assignment, and never assigned again.
    fixed: std::collections::HashSet<String>,
    /// Parameters the body assigns: past that, the name no longer
    /// designates what the caller passed (`dev = pci_physfn(dev)`).
    assigned_params: std::collections::HashSet<String>,
}

impl<'t, 'f> PathResolver<'t, 'f> {
    /// Collects the aliases of `body`: locals assigned exactly once, from an
    /// address, another variable or field, or a same-lock call.
    pub fn new(file: &'f ParsedFile, api: &'f LockApi, body: Node<'t>, params: &[String]) -> Self {
        let mut assigned: HashMap<String, (usize, Option<Node<'t>>)> = HashMap::new();
        // Given one object, at its declaration (`p = current`) or by one
        // assignment (`mddev = list_entry(v, …)`): an iterator macro given
        // it iterates over it (`rdev_for_each_rcu(rdev, mddev)`).
        let mut given_once = std::collections::HashSet::new();
        let mut reassigned = std::collections::HashSet::new();
        // Fields assigned in the body: a local read from one names what the
        // field held then, not what it holds after (`listen_id =
        // cm_id->context; … cm_id->context = conn_id;`).
        let mut written_fields = std::collections::HashSet::new();
        // How many objects each variable is given (a NULL is none): a local
        // read from one given two (`pinstance = cmd->drv_inst; … cmd =
        // get_free_cmd()`) names what it designated then, not what the
        // expression designates after.
        let mut objects_given: HashMap<String, u32> = HashMap::new();
        // Variables given to an iterator macro: its cursor among them.
        let mut iterator_args = std::collections::HashSet::new();
        // Locals whose address a call is given: the call may store through
        // it (`pte_offset_map_lock(mm, pmd, addr, &ptl)`), another value.
        let mut address_passed = std::collections::HashSet::new();
        let mut stepped_params = std::collections::HashSet::new();
        lockwarden_syntax::walk::preorder(body, |node| {
            if node.kind_id() == kind::POINTER_EXPRESSION
                && node
                    .child_by_field_id(field::OPERATOR)
                    .is_some_and(|op| file.node_text(op) == "&")
                && node
                    .parent()
                    .is_some_and(|p| p.kind_id() == kind::ARGUMENT_LIST)
            {
                if let Some(var) = node
                    .child_by_field_id(field::ARGUMENT)
                    .map(strip)
                    .filter(|a| a.kind_id() == kind::IDENTIFIER)
                {
                    address_passed.insert(file.node_text(var).to_owned());
                }
            }
            // `++depth`: a stepped parameter holds another value.
            if node.kind_id() == kind::UPDATE_EXPRESSION {
                if let Some(var) = node
                    .child_by_field_id(field::ARGUMENT)
                    .map(strip)
                    .filter(|a| a.kind_id() == kind::IDENTIFIER)
                    .map(|a| file.node_text(a))
                    .filter(|v| params.iter().any(|p| p == v))
                {
                    stepped_params.insert(var.to_owned());
                }
            }
            if node.kind_id() == kind::ASSIGNMENT_EXPRESSION {
                if let Some(left) = node
                    .child_by_field_id(field::LEFT)
                    .filter(|l| l.kind_id() == kind::FIELD_EXPRESSION)
                {
                    written_fields.insert(squeezed(file.node_text(left)));
                }
            }
            // An iterator macro's cursor is assigned every iteration: never an alias.
            if node.kind_id() == kind::WHILE_STATEMENT
                && file
                    .macro_at(node.start_byte() as u32)
                    .is_some_and(|m| m.kind == lockwarden_syntax::MacroUseKind::Loop)
            {
                for (i, n) in node
                    .child_by_field_id(field::CONDITION)
                    .map(macro_arguments)
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                {
                    if n.kind_id() == kind::IDENTIFIER {
                        iterator_args.insert((file.node_text(n).to_owned(), i == 0));
                    }
                }
            }
            let (target, value) = match node.kind_id() {
                kind::INIT_DECLARATOR => (
                    node.child_by_field_id(field::DECLARATOR),
                    node.child_by_field_id(field::VALUE),
                ),
                kind::ASSIGNMENT_EXPRESSION => (
                    node.child_by_field_id(field::LEFT),
                    node.child_by_field_id(field::RIGHT),
                ),
                _ => return true,
            };
            let name = target.and_then(|t| {
                let mut t = t;
                while t.kind_id() == kind::POINTER_DECLARATOR {
                    t = t.child_by_field_id(field::DECLARATOR)?;
                }
                (t.kind_id() == kind::IDENTIFIER).then(|| file.node_text(t).to_owned())
            });
            if let Some(name) = name {
                // `p = current` fixes `p`; `pos = NULL` only clears a cursor.
                let cleared =
                    value.is_some_and(|v| matches!(file.node_text(strip(v)).trim(), "NULL" | "0"));
                // A second object, or a NULL, is a reassignment.
                if cleared || (value.is_some() && !given_once.insert(name.clone())) {
                    reassigned.insert(name.clone());
                }
                if !cleared {
                    *objects_given.entry(name.clone()).or_insert(0) += 1;
                }
                let entry = assigned.entry(name).or_insert((0, None));
                entry.0 += 1;
                entry.1 = value;
            }
            true
        });
        let mut resolver = PathResolver {
            file,
            api,
            aliases: HashMap::new(),
            entry_copies: HashMap::new(),
            fixed: given_once.difference(&reassigned).cloned().collect(),
            assigned_params: params
                .iter()
                .filter(|p| assigned.contains_key(*p) || stepped_params.contains(*p))
                .cloned()
                .collect(),
        };
        // A cursor is assigned by its iterator every iteration: never an
        // alias. The first argument is the cursor; a later one given one
        // object is what the iterator walks, or a member's name
        // (`list_for_each_entry(entity, &chain->entities, chain)` names a
        // member `chain`, not the local `chain = handle->chain`).
        for (name, first) in &iterator_args {
            if *first || !resolver.fixed.contains(name) {
                if let Some(entry) = assigned.get_mut(name) {
                    entry.0 += 2;
                }
            }
        }
        for (name, (count, value)) in assigned {
            if count != 1 || params.contains(&name) {
                continue;
            }
            if address_passed.contains(&name) {
                continue;
            }
            if let Some(copy) = value.and_then(|v| resolver.entry_copy(v, body, params)) {
                resolver.entry_copies.insert(name.clone(), copy);
            }
            let reads_written_field = |v: Node<'t>| {
                lockwarden_syntax::walk::any(v, |n| {
                    n.kind_id() == kind::FIELD_EXPRESSION
                        && written_fields.contains(&squeezed(file.node_text(n)))
                })
            };
            let reads_reassigned = |v: Node<'t>| {
                lockwarden_syntax::walk::any(v, |n| {
                    let name = file.node_text(n);
                    // A cursor: an iterator's argument that is neither a
                    // parameter nor a local fixed where it is declared.
                    let cursor = iterator_args.iter().any(|(arg, _)| arg == name)
                        && !params.iter().any(|p| p == name)
                        && !resolver.fixed.contains(name);
                    n.kind_id() == kind::IDENTIFIER
                        && (cursor || objects_given.get(name).is_some_and(|&given| given >= 2))
                })
            };
            if let Some(value) = value
                .filter(|v| resolver.is_alias_shape(*v))
                .filter(|v| !reads_written_field(*v))
                .filter(|v| !reads_reassigned(*v))
            {
                resolver.aliases.insert(name, value);
            }
        }
        resolver
    }

    /// Locals given, in a declaration of the body's own block (so before
    /// any statement runs), what a parameter points to, and never assigned
    /// again (`struct nvkm_chan *chan = *pchan;`): each names the object the
    /// caller's pointer designated on entry, whatever is stored through the
    /// parameter later (`*pchan = NULL;`), as `*pchan`.
    pub fn entry_copies(&self) -> HashMap<String, Path> {
        self.entry_copies.clone()
    }

    fn entry_copy(&self, value: Node<'_>, body: Node<'_>, params: &[String]) -> Option<Path> {
        let declaration = value.parent()?.parent()?;
        if declaration.kind_id() != kind::DECLARATION || declaration.parent() != Some(body) {
            return None;
        }
        let value = strip(value);
        if value.kind_id() != kind::POINTER_EXPRESSION || self.operator(value) != "*" {
            return None;
        }
        let pointer = strip(value.child_by_field_id(field::ARGUMENT)?);
        let name = self.file.node_text(pointer);
        (pointer.kind_id() == kind::IDENTIFIER
            && params.iter().any(|p| p == name)
            && !self.assigned_params.contains(name))
        .then(|| Path::var(name).push(Step::Deref))
    }

    /// The lvalue each local aliasing a variable or field designates.
    pub fn alias_lvalues(&self) -> HashMap<String, Path> {
        self.aliases
            .iter()
            .filter(|(_, v)| {
                matches!(
                    strip(**v).kind_id(),
                    kind::IDENTIFIER | kind::FIELD_EXPRESSION
                )
            })
            .filter_map(|(name, v)| Some((name.clone(), self.lvalue(*v)?)))
            .collect()
    }

    /// Whether the body assigns parameter `name`.
    pub fn is_assigned_param(&self, name: &str) -> bool {
        self.assigned_params.contains(name)
    }

    /// The parameters the body assigns or steps.
    pub fn assigned_params(&self) -> std::collections::HashSet<String> {
        self.assigned_params.clone()
    }

    /// Whether `name` keeps the one value it is given: an iterator macro
    /// given it iterates over it, not with it (`for_each_thread(p, t)` with
    /// `p = current`).
    pub fn is_fixed(&self, name: &str) -> bool {
        self.fixed.contains(name)
    }

    fn is_alias_shape(&self, value: Node<'_>) -> bool {
        let value = strip(value);
        // `p = &arr[i]` names a different object whenever `i` changes.
        let mut indexed = false;
        lockwarden_syntax::walk::preorder(value, |n| {
            indexed |= n.kind_id() == kind::SUBSCRIPT_EXPRESSION;
            !indexed
        });
        if indexed {
            return false;
        }
        match value.kind_id() {
            kind::POINTER_EXPRESSION => self.operator(value) == "&",
            kind::IDENTIFIER | kind::FIELD_EXPRESSION => true,
            // A call's result is named by the dataflow, from the callee's
            // summary (`x25 = x25_sk(sk)` is `sk` when x25_sk returns it).
            kind::CALL_EXPRESSION => {
                self.same_lock_arg(value).is_some() || self.container_args(value).is_some()
            }
            _ => false,
        }
    }

    fn operator(&self, node: Node<'_>) -> &str {
        node.child_by_field_id(field::OPERATOR)
            .map_or("", |op| self.file.node_text(op))
    }

    /// For a call to a same-lock function (`page_folio(p)`), its first argument.
    fn same_lock_arg<'n>(&self, call: Node<'n>) -> Option<Node<'n>> {
        let function = call.child_by_field_id(field::FUNCTION)?;
        if function.kind_id() != kind::IDENTIFIER
            || !self.api.is_same_lock(self.file.node_text(function))
        {
            return None;
        }
        call.child_by_field_id(field::ARGUMENTS)?.named_child(0)
    }

    /// Whether `call` names an object derived from its argument
    /// (`container_of(p, T, m)`, `page_folio(page)`) rather than computing
    /// something.
    pub fn is_object_call(&self, call: Node<'_>) -> bool {
        self.same_lock_arg(call).is_some() || self.container_args(call).is_some()
    }

    /// For `container_of(ptr, type, member)`: `ptr` and the member's name.
    fn container_args<'n>(&self, call: Node<'n>) -> Option<(Node<'n>, String)> {
        let function = call.child_by_field_id(field::FUNCTION)?;
        if function.kind_id() != kind::IDENTIFIER
            || !self.api.is_container(self.file.node_text(function))
        {
            return None;
        }
        let args = call.child_by_field_id(field::ARGUMENTS)?;
        let member = args.named_child(2)?;
        let member = self.file.node_text(member).trim();
        let simple = !member.is_empty() && member.chars().all(|c| c.is_alphanumeric() || c == '_');
        simple.then(|| Some((args.named_child(0)?, member.to_owned())))?
    }

    /// The object a pointer-valued expression points to, dereferenced
    /// `deref` times (1 for `spin_lock(&l)`).
    pub fn pointee(&self, expr: Node<'_>, deref: u8) -> Option<Path> {
        let mut path = self.pointee_at(expr, 0)?;
        for _ in 1..deref {
            path = path.push(Step::Deref);
        }
        Some(path)
    }

    fn pointee_at(&self, expr: Node<'_>, depth: usize) -> Option<Path> {
        let expr = strip(expr);
        match expr.kind_id() {
            kind::POINTER_EXPRESSION if self.operator(expr) == "&" => {
                self.lvalue_at(expr.child_by_field_id(field::ARGUMENT)?, depth)
            }
            kind::CALL_EXPRESSION if self.container_args(expr).is_some() => {
                let (inner, member) = self.container_args(expr)?;
                Some(self.pointee_at(inner, depth)?.push(Step::Container(member)))
            }
            kind::CALL_EXPRESSION => match self.same_lock_arg(expr) {
                Some(arg) => self.pointee_at(arg, depth),
                // `x25_sk(sk)`: what the call returns, given its first argument.
                None => {
                    let function = expr.child_by_field_id(field::FUNCTION)?;
                    if function.kind_id() != kind::IDENTIFIER {
                        return None;
                    }
                    let name = self.file.node_text(function);
                    if self.api.primitive(name).is_some() {
                        return None;
                    }
                    let first = expr.child_by_field_id(field::ARGUMENTS)?.named_child(0)?;
                    Some(
                        self.pointee_at(first, depth)?
                            .push(Step::Call(name.to_owned())),
                    )
                }
            },
            kind::IDENTIFIER => {
                let name = self.file.node_text(expr);
                match self.aliases.get(name) {
                    Some(value) if depth < MAX_ALIAS_DEPTH => self.pointee_at(*value, depth + 1),
                    _ => Some(Path::var(name).push(Step::Deref)),
                }
            }
            _ => Some(self.lvalue_at(expr, depth)?.push(Step::Deref)),
        }
    }

    /// The object an lvalue expression designates.
    pub fn lvalue(&self, expr: Node<'_>) -> Option<Path> {
        self.lvalue_at(expr, 0)
    }

    fn lvalue_at(&self, expr: Node<'_>, depth: usize) -> Option<Path> {
        let expr = strip(expr);
        match expr.kind_id() {
            kind::IDENTIFIER => {
                let name = self.file.node_text(expr);
                // An alias of a field (`info = vb->info` by value is rare); an
                // alias of `&x` designates a pointer, not x, so only follow
                // plain variable/field aliases here.
                match self.aliases.get(name).map(|v| strip(*v)) {
                    Some(v)
                        if depth < MAX_ALIAS_DEPTH
                            && matches!(v.kind_id(), kind::IDENTIFIER | kind::FIELD_EXPRESSION) =>
                    {
                        self.lvalue_at(v, depth + 1)
                    }
                    _ => Some(Path::var(name)),
                }
            }
            kind::POINTER_EXPRESSION if self.operator(expr) == "*" => {
                self.pointee_at(expr.child_by_field_id(field::ARGUMENT)?, depth)
            }
            kind::FIELD_EXPRESSION => {
                let base = expr.child_by_field_id(field::ARGUMENT)?;
                let name = self
                    .file
                    .node_text(expr.child_by_field_id(field::FIELD)?)
                    .to_owned();
                let arrow = self.operator(expr) == "->";
                let base = if arrow {
                    self.pointee_at(base, depth)?
                } else {
                    self.lvalue_at(base, depth)?
                };
                Some(base.push(Step::Field(name)))
            }
            kind::SUBSCRIPT_EXPRESSION => {
                let base = expr.child_by_field_id(field::ARGUMENT)?;
                Some(self.lvalue_at(base, depth)?.push(Step::Index))
            }
            kind::CALL_EXPRESSION => match self.same_lock_arg(expr) {
                Some(arg) => self.lvalue_at(arg, depth),
                // `msg_ids(ns).rwsem`: a C function returns no lvalue, so
                // this is a macro designating an object under its argument,
                // named as an accessor's result is (`x25_sk(sk)->lock`).
                None => self.pointee_at(expr, depth),
            },
            _ => None,
        }
    }
}

/// Strips parentheses and casts.
/// The arguments of a macro read as a loop condition (`(pos, head, member)`
/// parses as one parenthesised comma expression), stripped.
pub fn macro_arguments(args: Node<'_>) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut work = vec![args];
    while let Some(n) = work.pop() {
        let n = strip(n);
        if matches!(n.kind_id(), kind::COMMA_EXPRESSION | kind::ARGUMENT_LIST) {
            let mut cursor = n.walk();
            let children: Vec<Node<'_>> = n.named_children(&mut cursor).collect();
            work.extend(children.into_iter().rev());
        } else {
            out.push(n);
        }
    }
    out
}

pub fn strip(mut node: Node<'_>) -> Node<'_> {
    loop {
        match node.kind_id() {
            kind::PARENTHESIZED_EXPRESSION => match node.named_child(0) {
                Some(inner) if inner.kind_id() != kind::COMPOUND_STATEMENT => node = inner,
                _ => return node,
            },
            kind::CAST_EXPRESSION => match node.child_by_field_id(field::VALUE) {
                Some(inner) => node = inner,
                None => return node,
            },
            _ => return node,
        }
    }
}

/// `text` without whitespace, to compare expressions as written.
pub(crate) fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_like_c() {
        let p = Path::var("b")
            .push(Step::Deref)
            .push(Step::Field("pages_lock".into()));
        assert_eq!(p.to_string(), "b->pages_lock");
        let p = Path::var("vb")
            .push(Step::Deref)
            .push(Step::Field("info".into()))
            .push(Step::Field("lock".into()));
        assert_eq!(p.to_string(), "vb->info.lock");
        assert_eq!(Path::var("ptl").push(Step::Deref).to_string(), "*ptl");
        assert_eq!(loose_key("&(b)->pages_lock"), "b.pages_lock");
    }
}
