//! The outline of one parsed file: its function definitions, prototypes,
//! struct definitions, typedefs, file-scope variables and includes.
//!
//! Only byte spans and strings are kept, never tree-sitter nodes, so an
//! outline outlives its tree and can be sent across threads.

use tree_sitter::Node;

use crate::generated::{field, kind};
use crate::idioms::{Fact, MacroUseKind};
use crate::parse::ParsedFile;
use crate::walk::{count_errors, preorder};
use crate::Span;

/// A C type as far as the frontend resolves it: the base type's spelling
/// (`struct page`, `spinlock_t`, `unsigned long`) and the pointer depth.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TypeRef {
    pub base: String,
    pub pointers: u8,
}

impl TypeRef {
    /// The struct or union tag (`page` for `struct page`), if the base is one.
    pub fn record_tag(&self) -> Option<&str> {
        self.base
            .strip_prefix("struct ")
            .or_else(|| self.base.strip_prefix("union "))
    }
}

impl std::fmt::Display for TypeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.base)?;
        if self.pointers > 0 {
            write!(f, " {}", "*".repeat(self.pointers as usize))?;
        }
        Ok(())
    }
}

/// A named, typed declaration: a parameter, field or variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared {
    pub name: String,
    pub ty: TypeRef,
    pub span: Span,
}

/// A function definition.
#[derive(Clone, Debug)]
pub struct FunctionDef {
    pub name: String,
    /// The whole definition.
    pub span: Span,
    /// Where the name is (the macro name for macro-defined functions).
    pub name_span: Span,
    /// The body's braces.
    pub body: Span,
    pub is_static: bool,
    pub params: Vec<Declared>,
    pub return_type: TypeRef,
    /// `ERROR` and `MISSING` nodes inside the body.
    pub parse_errors: u32,
    /// Annotation facts on the definition (between its start and its body).
    pub facts: Vec<Fact>,
}

/// A function prototype (a declaration with a function declarator).
#[derive(Clone, Debug)]
pub struct Prototype {
    pub name: String,
    pub span: Span,
    pub facts: Vec<Fact>,
}

/// A struct or union with a body.
#[derive(Clone, Debug)]
pub struct RecordDef {
    /// `struct foo`, `union bar`, or the typedef name of an anonymous one.
    pub name: String,
    pub span: Span,
    /// Fields, with the members of anonymous nested structs and unions flattened in.
    pub fields: Vec<Declared>,
}

/// An `#include`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Include {
    /// The path as written, without `<>` or quotes.
    pub path: String,
    /// `<…>` rather than `"…"`.
    pub system: bool,
    pub span: Span,
}

/// Everything the index needs from one file.
#[derive(Clone, Debug, Default)]
pub struct Outline {
    pub functions: Vec<FunctionDef>,
    pub prototypes: Vec<Prototype>,
    pub records: Vec<RecordDef>,
    pub typedefs: Vec<Declared>,
    pub globals: Vec<Declared>,
    pub includes: Vec<Include>,
    /// Brace blocks at file scope that tree-sitter could not attach to a
    /// function definition: function bodies lost to a parse error.
    pub stray_bodies: Vec<Span>,
    /// Enumerators, with whether their value is zero (the first one
    /// without a value, or one set to `0`).
    pub enumerators: Vec<(String, bool)>,
}

impl Outline {
    /// The file's functions that never return: no `return` in the body,
    /// which ends in a call to one that never returns, as `never` says or
    /// as this finds (`aha152x_error()` ending in `panic()`).
    pub fn never_returning(
        &self,
        file: &ParsedFile,
        never: impl Fn(&str) -> bool,
    ) -> std::collections::HashSet<String> {
        let root = file.tree.root_node();
        // Each function with no `return` whose body ends in a call, with the
        // function it calls: read once.
        let ending_in_call: Vec<(&str, &str)> = self
            .functions
            .iter()
            .filter_map(|f| {
                let body =
                    root.descendant_for_byte_range(f.body.start as usize, f.body.end as usize)?;
                let callee = last_call(file, body)?;
                let returns = crate::walk::any(body, |n| n.kind_id() == kind::RETURN_STATEMENT);
                (!returns).then_some((f.name.as_str(), callee))
            })
            .collect();
        let mut found = std::collections::HashSet::new();
        // Each round finds the functions ending in one found the round before.
        loop {
            let more: Vec<&str> = ending_in_call
                .iter()
                .filter(|(name, callee)| {
                    !found.contains(*name) && (never(callee) || found.contains(*callee))
                })
                .map(|(name, _)| *name)
                .collect();
            if more.is_empty() {
                return found;
            }
            found.extend(more.into_iter().map(str::to_owned));
        }
    }

    /// Builds the outline of a parsed file.
    pub fn of(file: &ParsedFile) -> Outline {
        let mut out = Outline::default();
        preorder(file.tree.root_node(), |node| visit(file, node, &mut out));
        for m in &file.macros {
            if let MacroUseKind::Definer { ty, name_arg } = &m.kind {
                if let Some(arg) = m.args.get(*name_arg) {
                    out.globals.push(Declared {
                        name: file.span_text(*arg).to_owned(),
                        ty: TypeRef {
                            base: ty.clone(),
                            pointers: 0,
                        },
                        span: m.name,
                    });
                }
            }
        }
        out
    }

    /// Functions counted for parse statistics: definitions plus stray bodies.
    pub fn function_count(&self) -> usize {
        self.functions.len() + self.stray_bodies.len()
    }

    /// Functions whose body has a parse error, stray bodies included.
    pub fn functions_with_errors(&self) -> usize {
        self.functions.iter().filter(|f| f.parse_errors > 0).count() + self.stray_bodies.len()
    }
}

/// Handles one node of the outline walk; returns whether to descend.
fn visit(file: &ParsedFile, node: Node<'_>, out: &mut Outline) -> bool {
    match node.kind_id() {
        kind::FUNCTION_DEFINITION => {
            if let Some(def) = function_def(file, node) {
                out.functions.push(def);
            }
            false
        }
        kind::COMPOUND_STATEMENT => {
            out.stray_bodies.push(Span::of(node));
            false
        }
        kind::DECLARATION => {
            declaration(file, node, out);
            true
        }
        kind::TYPE_DEFINITION => {
            let ty = node.child_by_field_id(field::TYPE);
            for decl in children_by_field(node, field::DECLARATOR) {
                if let Some(d) = declared(file, ty, Some(decl)) {
                    if let Some(t) = ty.filter(|t| is_record_with_body(*t)) {
                        if t.child_by_field_id(field::NAME).is_none() {
                            out.records.push(record_def(file, t, d.name.clone()));
                        }
                    }
                    out.typedefs.push(d);
                }
            }
            true
        }
        kind::STRUCT_SPECIFIER | kind::UNION_SPECIFIER => {
            if is_record_with_body(node) {
                if let Some(name) = node.child_by_field_id(field::NAME) {
                    let keyword = if node.kind_id() == kind::STRUCT_SPECIFIER {
                        "struct"
                    } else {
                        "union"
                    };
                    let name = format!("{keyword} {}", file.node_text(name));
                    out.records.push(record_def(file, node, name));
                }
            }
            true
        }
        kind::ENUMERATOR_LIST => {
            let mut cursor = node.walk();
            let enumerators: Vec<Node<'_>> = node
                .named_children(&mut cursor)
                .filter(|e| e.kind_id() == kind::ENUMERATOR)
                .collect();
            for (i, e) in enumerators.into_iter().enumerate() {
                let zero = match e.child_by_field_id(field::VALUE) {
                    Some(v) => v.kind_id() == kind::NUMBER_LITERAL && file.node_text(v) == "0",
                    None => i == 0,
                };
                if let Some(name) = e.child_by_field_id(field::NAME) {
                    out.enumerators
                        .push((file.node_text(name).to_owned(), zero));
                }
            }
            false
        }
        kind::PREPROC_INCLUDE => {
            if let Some(path) = node.child_by_field_id(field::PATH) {
                let text = file.node_text(path);
                let system = path.kind_id() == kind::SYSTEM_LIB_STRING;
                let trimmed = text.trim_matches(|c| c == '<' || c == '>' || c == '"');
                out.includes.push(Include {
                    path: trimmed.to_owned(),
                    system,
                    span: Span::of(node),
                });
            }
            false
        }
        _ => true,
    }
}

fn is_record_with_body(node: Node<'_>) -> bool {
    matches!(
        node.kind_id(),
        kind::STRUCT_SPECIFIER | kind::UNION_SPECIFIER
    ) && node.child_by_field_id(field::BODY).is_some()
}

fn children_by_field<'t>(node: Node<'t>, field_id: u16) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.children_by_field_id(
        field_id.try_into().expect("field ids are nonzero"),
        &mut cursor,
    )
    .collect()
}

/// The storage-class words of a declaration or definition (`static`, `inline`, `extern`).
fn storage_classes<'f>(file: &'f ParsedFile, node: Node<'_>) -> Vec<&'f str> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor)
        .filter(|c| c.kind_id() == kind::STORAGE_CLASS_SPECIFIER)
        .map(|c| file.node_text(c))
        .collect()
}

fn declaration(file: &ParsedFile, node: Node<'_>, out: &mut Outline) {
    let ty = node.child_by_field_id(field::TYPE);
    let is_extern = storage_classes(file, node).contains(&"extern");
    for decl in children_by_field(node, field::DECLARATOR) {
        if let Some(func) = function_declarator_of(decl) {
            let name = func
                .child_by_field_id(field::DECLARATOR)
                .and_then(declarator_name)
                .map(|n| file.node_text(n).to_owned());
            if let Some(name) = name {
                out.prototypes.push(Prototype {
                    name,
                    span: Span::of(node),
                    facts: file.facts_in(Span::of(node)).to_vec(),
                });
            }
        } else if !is_extern {
            if let Some(d) = declared(file, ty, Some(decl)) {
                out.globals.push(d);
            }
        }
    }
}

/// The function declarator a declarator ends in, if it declares a function
/// (not a pointer to one).
fn function_declarator_of(mut node: Node<'_>) -> Option<Node<'_>> {
    loop {
        match node.kind_id() {
            kind::FUNCTION_DECLARATOR => {
                let inner = node.child_by_field_id(field::DECLARATOR)?;
                // `(*fp)(…)` is a pointer to a function, not a function.
                return (inner.kind_id() != kind::PARENTHESIZED_DECLARATOR).then_some(node);
            }
            kind::POINTER_DECLARATOR | kind::ATTRIBUTED_DECLARATOR => {
                node = node.child_by_field_id(field::DECLARATOR)?;
            }
            _ => return None,
        }
    }
}

/// The identifier at the core of a declarator.
fn declarator_name(mut node: Node<'_>) -> Option<Node<'_>> {
    loop {
        match node.kind_id() {
            kind::IDENTIFIER | kind::FIELD_IDENTIFIER | kind::TYPE_IDENTIFIER => return Some(node),
            kind::PARENTHESIZED_DECLARATOR | kind::ATTRIBUTED_DECLARATOR => {
                node = node.named_child(0)?;
            }
            _ => node = node.child_by_field_id(field::DECLARATOR)?,
        }
    }
}

/// The spelling of a type specifier, without a struct body.
pub fn type_spelling(file: &ParsedFile, ty: Node<'_>) -> String {
    match ty.kind_id() {
        kind::STRUCT_SPECIFIER | kind::UNION_SPECIFIER | kind::ENUM_SPECIFIER => {
            let keyword = match ty.kind_id() {
                kind::STRUCT_SPECIFIER => "struct",
                kind::UNION_SPECIFIER => "union",
                _ => "enum",
            };
            match ty.child_by_field_id(field::NAME) {
                Some(name) => format!("{keyword} {}", file.node_text(name)),
                None => format!("{keyword} <anonymous>"),
            }
        }
        _ => file
            .node_text(ty)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// The name and type a declarator gives to a base type.
pub fn declared(
    file: &ParsedFile,
    ty: Option<Node<'_>>,
    declarator: Option<Node<'_>>,
) -> Option<Declared> {
    let base = ty.map(|t| type_spelling(file, t)).unwrap_or_default();
    let mut pointers = 0u8;
    let mut node = declarator?;
    let span = Span::of(node);
    let name = loop {
        match node.kind_id() {
            kind::IDENTIFIER | kind::FIELD_IDENTIFIER | kind::TYPE_IDENTIFIER => break node,
            kind::POINTER_DECLARATOR => {
                pointers = pointers.saturating_add(1);
                node = node.child_by_field_id(field::DECLARATOR)?;
            }
            kind::PARENTHESIZED_DECLARATOR | kind::ATTRIBUTED_DECLARATOR => {
                node = node.named_child(0)?
            }
            _ => node = node.child_by_field_id(field::DECLARATOR)?,
        }
    };
    Some(Declared {
        name: file.node_text(name).to_owned(),
        ty: TypeRef { base, pointers },
        span,
    })
}

fn function_def(file: &ParsedFile, node: Node<'_>) -> Option<FunctionDef> {
    let declarator = node.child_by_field_id(field::DECLARATOR)?;
    let body = node.child_by_field_id(field::BODY)?;
    let func = function_declarator_of(declarator).or_else(|| {
        // `int (*f(void))(int)`-style declarators: find the inner function declarator.
        let mut found = None;
        preorder(declarator, |n| {
            if found.is_none() && n.kind_id() == kind::FUNCTION_DECLARATOR {
                found = Some(n);
            }
            found.is_none()
        });
        found
    })?;
    let name_node = func
        .child_by_field_id(field::DECLARATOR)
        .and_then(declarator_name)?;
    let span = Span::of(node);
    let (name, name_span) = match macro_defined_name(file, span) {
        Some(found) => found,
        None => (file.node_text(name_node).to_owned(), Span::of(name_node)),
    };
    let mut pointers = 0u8;
    let mut d = declarator;
    while d.kind_id() == kind::POINTER_DECLARATOR {
        pointers = pointers.saturating_add(1);
        match d.child_by_field_id(field::DECLARATOR) {
            Some(inner) => d = inner,
            None => break,
        }
    }
    let return_type = TypeRef {
        base: node
            .child_by_field_id(field::TYPE)
            .map(|t| type_spelling(file, t))
            .unwrap_or_default(),
        pointers,
    };
    let mut params = Vec::new();
    if let Some(list) = func.child_by_field_id(field::PARAMETERS) {
        let mut cursor = list.walk();
        for p in list.named_children(&mut cursor) {
            if p.kind_id() == kind::PARAMETER_DECLARATION {
                let ty = p.child_by_field_id(field::TYPE);
                if let Some(decl) = declared(file, ty, p.child_by_field_id(field::DECLARATOR)) {
                    params.push(decl);
                }
            }
        }
    }
    let head = Span::new(span.start, body.start_byte() as u32);
    Some(FunctionDef {
        name,
        span,
        name_span,
        body: Span::of(body),
        is_static: storage_classes(file, node).contains(&"static"),
        params,
        return_type,
        parse_errors: count_errors(body),
        facts: file.facts_in(head).to_vec(),
    })
}

/// For a function made by a macro (`SYSCALL_DEFINE1(close, …) { }`), its name
/// and where the macro is.
fn macro_defined_name(file: &ParsedFile, span: Span) -> Option<(String, Span)> {
    let lo = file.macros.partition_point(|m| m.name.start < span.start);
    let m = file.macros[lo..]
        .iter()
        .take_while(|m| m.name.start < span.end)
        .find(|m| matches!(m.kind, MacroUseKind::FunctionDef { .. }))?;
    let MacroUseKind::FunctionDef { function_name } = &m.kind else {
        return None;
    };
    let name = match function_name {
        Some(n) => file.source_text(*n).to_owned(),
        None => file.source_text(m.name).to_owned(),
    };
    Some((name, m.name))
}

/// Fields of a struct or union body, anonymous members flattened.
fn record_def(file: &ParsedFile, node: Node<'_>, name: String) -> RecordDef {
    let mut fields = Vec::new();
    let mut pending = vec![node];
    while let Some(record) = pending.pop() {
        let Some(body) = record.child_by_field_id(field::BODY) else {
            continue;
        };
        let mut cursor = body.walk();
        for member in body.named_children(&mut cursor) {
            if member.kind_id() != kind::FIELD_DECLARATION {
                continue;
            }
            let ty = member.child_by_field_id(field::TYPE);
            let declarators = children_by_field(member, field::DECLARATOR);
            if declarators.is_empty() {
                if let Some(t) = ty.filter(|t| is_record_with_body(*t)) {
                    pending.push(t);
                }
            }
            for decl in declarators {
                if let Some(d) = declared(file, ty, Some(decl)) {
                    fields.push(d);
                }
            }
        }
    }
    RecordDef {
        name,
        span: Span::of(node),
        fields,
    }
}

/// The function the last statement of `body` calls, when it is a call by
/// name.
fn last_call<'f>(file: &'f ParsedFile, body: Node<'_>) -> Option<&'f str> {
    let last = body.named_child(body.named_child_count().checked_sub(1)?)?;
    let call = last
        .named_child(0)
        .filter(|_| last.kind_id() == kind::EXPRESSION_STATEMENT)
        .filter(|c| c.kind_id() == kind::CALL_EXPRESSION)?;
    let function = call
        .child_by_field_id(field::FUNCTION)
        .filter(|f| f.kind_id() == kind::IDENTIFIER)?;
    Some(file.node_text(function))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DefinerMacro, MacroConfig};

    #[test]
    fn functions_ending_in_a_call_that_never_returns_never_return() {
        let src = "static void die(const char *m)\n{\n\tprintk(m);\n\tpanic(m);\n}\n\
                   static void fail(void)\n{\n\tdie(\"x\");\n}\n\
                   static void maybe(int x)\n{\n\tif (x)\n\t\treturn;\n\tpanic(\"y\");\n}\n\
                   static void warn(void)\n{\n\tpanic_notify();\n}\n";
        let macros = MacroConfig::default().compile();
        let file = ParsedFile::parse(src.as_bytes().to_vec(), &macros).unwrap();
        let mut never: Vec<String> = Outline::of(&file)
            .never_returning(&file, |c| c == "panic")
            .into_iter()
            .collect();
        never.sort();
        assert_eq!(never, ["die", "fail"]);
    }

    fn outline(src: &str) -> Outline {
        let config = MacroConfig {
            attributes: vec!["__init".into()],
            fact_calls: vec!["__acquires".into(), "__must_hold".into()],
            definer_macros: vec![DefinerMacro {
                name: "DEFINE_SPINLOCK".into(),
                ty: "spinlock_t".into(),
                name_arg: 0,
            }],
            ..MacroConfig::default()
        };
        let macros = config.compile();
        let file = ParsedFile::parse(src.as_bytes().to_vec(), &macros).unwrap();
        Outline::of(&file)
    }

    #[test]
    fn functions_with_params_and_facts() {
        let o = outline(
            "static int __init foo(struct balloon_dev_info *b, int n) __must_hold(&b->pages_lock)\n{\n\treturn n;\n}\n",
        );
        assert_eq!(o.functions.len(), 1);
        let f = &o.functions[0];
        assert_eq!(f.name, "foo");
        assert!(f.is_static);
        assert_eq!(f.parse_errors, 0);
        assert_eq!(f.params[0].name, "b");
        assert_eq!(f.params[0].ty.to_string(), "struct balloon_dev_info *");
        assert_eq!(f.facts.len(), 1);
        assert_eq!(f.facts[0].name, "__must_hold");
    }

    #[test]
    fn records_flatten_anonymous_members() {
        let o = outline(
            "struct page {\n\tunsigned long flags;\n\tunion {\n\t\tstruct { void *lru; };\n\t\tunsigned long private;\n\t};\n\tspinlock_t *ptl;\n};\n",
        );
        let page = o.records.iter().find(|r| r.name == "struct page").unwrap();
        let names: Vec<_> = page.fields.iter().map(|f| f.name.as_str()).collect();
        assert!(
            names.contains(&"private") && names.contains(&"lru") && names.contains(&"ptl"),
            "{names:?}"
        );
    }

    #[test]
    fn globals_prototypes_includes_and_definers() {
        let o = outline(
            "#include <linux/mm.h>\n#include \"local.h\"\nstatic DEFINE_SPINLOCK(balloon_pages_lock);\nstruct mutex big_lock;\nvoid lock_it(struct foo *f) __acquires(f);\n",
        );
        assert_eq!(o.includes.len(), 2);
        assert!(o.includes[0].system && !o.includes[1].system);
        let globals: Vec<_> = o
            .globals
            .iter()
            .map(|g| (g.name.as_str(), g.ty.base.as_str()))
            .collect();
        assert!(
            globals.contains(&("balloon_pages_lock", "spinlock_t")),
            "{globals:?}"
        );
        assert!(
            globals.contains(&("big_lock", "struct mutex")),
            "{globals:?}"
        );
        assert_eq!(o.prototypes.len(), 1);
        assert_eq!(o.prototypes[0].facts[0].name, "__acquires");
    }
}
