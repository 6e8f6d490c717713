//! Function-like macros defined in a file, read as the functions they act
//! as: `#define shm_unlock(shp) ipc_unlock(&(shp)->shm_perm)` in ipc/shm.c
//! unlocks like a function would, and its callers call it like one.
//!
//! For each such macro this builds a source text in which the macro's body
//! keeps its bytes, at their offsets, and lines, under a function header
//! written into the blanked text before it: `void shm_unlock(void *shp){`
//! … body … `;}`. Parsed like any file, it gives a function whose spans are
//! spans of the user's file.

use crate::{field, kind, ParsedFile};

/// A macro read as a function: its name, the names it calls, and the
/// source text to parse.
pub struct MacroFunction {
    pub name: String,
    /// Identifiers followed by `(` in the body.
    pub calls: Vec<String>,
    pub text: Vec<u8>,
    /// The body has a `return`, which returns from the macro's caller
    /// (`#define WRITE_LOCK(cmd) do { if (!cmd_write_lock(cmd)) return
    /// -EINVAL; } while (0)`).
    pub returns_from_caller: bool,
}

/// The function-like macros of `file` whose body calls something (a
/// statement or expression macro, not a constant or a type) or is the
/// address of something under a parameter (`calls` is then empty), and
/// that `wanted(name, calls, statement)` accepts, as functions; `statement`
/// says the body is a statement (`do { … } while (0)`, `({ … })`), not an
/// expression.
pub fn macro_functions(
    file: &ParsedFile,
    wanted: impl Fn(&str, &[String], bool) -> bool,
) -> Vec<MacroFunction> {
    let mut out = Vec::new();
    crate::walk::preorder(file.tree.root_node(), |node| {
        if node.kind_id() == kind::FUNCTION_DEFINITION {
            return false;
        }
        if node.kind_id() != kind::PREPROC_FUNCTION_DEF {
            return true;
        }
        out.extend(as_function(file, node, &wanted));
        false
    });
    out
}

fn as_function(
    file: &ParsedFile,
    def: tree_sitter::Node<'_>,
    wanted: &impl Fn(&str, &[String], bool) -> bool,
) -> Option<MacroFunction> {
    let name = file
        .node_text(def.child_by_field_id(field::NAME)?)
        .to_owned();
    let params = def.child_by_field_id(field::PARAMETERS)?;
    let value = def.child_by_field_id(field::VALUE)?;
    let mut names = Vec::new();
    let mut cursor = params.walk();
    for p in params.named_children(&mut cursor) {
        if p.kind_id() != kind::IDENTIFIER {
            return None; // variadic
        }
        names.push(file.node_text(p).to_owned());
    }
    let (start, end) = (value.start_byte(), value.end_byte());
    let body = &file.source[start..end];
    // A parameter standing for a field, a type or a pasted token makes the
    // body a template: there is no function it acts as.
    if names.iter().any(|n| used_as_syntax(body, n)) {
        return None;
    }
    let calls = called_names(body);
    let returns_from_caller = word_positions(body, b"return").next().is_some();
    let trimmed = String::from_utf8_lossy(body);
    let trimmed = trimmed.trim();
    // A statement expression (`({ …; __ret; })`) has a value: an
    // expression macro.
    let value_block = trimmed.starts_with("({");
    let statement = !value_block
        && (trimmed.starts_with("do")
            || trimmed.starts_with('{')
            || trimmed.trim_end_matches(';').contains(';'));
    let block = statement || value_block;
    if (calls.is_empty() && !is_address_accessor(body, &names)) || !wanted(&name, &calls, block) {
        return None;
    }
    let params = if names.is_empty() {
        "void".to_owned()
    } else {
        names
            .iter()
            .map(|n| format!("void *{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // An expression macro (`#define to_x(p) container_of(p, struct x, m)`)
    // returns its value; a statement macro (`do { … } while (0)`, a call
    // statement) is a void function.
    let header = if statement {
        format!("void {name}({params}){{")
    } else {
        format!("void *{name}({params}){{return ")
    };
    let mut text: Vec<u8> = file.source[..start]
        .iter()
        .map(|&b| if b == b'\n' { b'\n' } else { b' ' })
        .collect();
    let at = room_before(&text, start, header.len())?;
    text[at..at + header.len()].copy_from_slice(header.as_bytes());
    // Line continuations become blanks; the newlines stay.
    text.extend(body.iter().map(|&b| if b == b'\\' { b' ' } else { b }));
    text.extend_from_slice(b";}\n");
    Some(MacroFunction {
        name,
        calls,
        text,
        returns_from_caller,
    })
}

/// A macro that is a `return` statement (`#define return_ACPI_STATUS(s)
/// return(s)`, `#define return_VOID return`): its name, its parameters
/// (`None` for an object-like macro) and the text it returns (empty for
/// none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnMacro {
    pub name: String,
    pub params: Option<Vec<String>>,
    pub returned: String,
}

/// The macros of a header that other files' lowering needs, found from
/// its `#define` lines alone (no parse).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefineMacros {
    /// Macros whose body is a `return` statement.
    pub returns: Vec<ReturnMacro>,
    /// Function-like macros whose body is one call.
    pub forwarding: Vec<ForwardingMacro>,
    /// Inline functions of no parameters whose body returns what globals
    /// and the build configuration say (see [`GlobalPredicate`]).
    pub global_predicates: Vec<GlobalPredicate>,
}

/// An inline function of no parameters whose whole body is `return` of an
/// expression over globals (`static inline bool debug_pagealloc_enabled(void)
/// { return IS_ENABLED(CONFIG_DEBUG_PAGEALLOC) && _debug_pagealloc_enabled_early; }`):
/// no assignment, and every call in it given only constants, globals or
/// their addresses (`static_branch_unlikely(&key)`). Its answer is a
/// question about globals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalPredicate {
    pub name: String,
    /// The functions and macros its expression calls.
    pub calls: Vec<String>,
}

/// Reads the `#define` lines of `source` once, line continuations joined,
/// and its inline predicates over globals off the same tokens.
pub fn define_macros(source: &[u8]) -> DefineMacros {
    use crate::lexer::{tokenize, Directive, TokenKind};
    let mut out = DefineMacros::default();
    let tokens = tokenize(source);
    out.global_predicates = global_predicates(source, &tokens);
    for tok in tokens {
        if tok.kind != TokenKind::Directive(Directive::Other) {
            continue;
        }
        let line: String = String::from_utf8_lossy(tok.text(source))
            .replace("\\\n", " ")
            .replace("\\\r\n", " ");
        let Some((name, params, body)) = define_parts(&line) else {
            continue;
        };
        out.returns.extend(return_macro(name, params, body));
        out.forwarding.extend(forwarding_macro(name, params, body));
    }
    out
}

/// The [`GlobalPredicate`]s among `tokens` (of `source`): `static inline
/// T NAME(void) { return EXPR; }`.
fn global_predicates(source: &[u8], tokens: &[crate::lexer::Token]) -> Vec<GlobalPredicate> {
    use crate::lexer::TokenKind;
    let text = |i: usize| tokens.get(i).map_or(&b""[..], |t| t.text(source));
    let punct = |i: usize, b: u8| tokens.get(i).is_some_and(|t| t.is_punct(b));
    let mut out = Vec::new();
    for (i, tok) in tokens.iter().enumerate() {
        // `NAME ( void ) { return`, after `static … inline …` on the same
        // declaration.
        if tok.kind != TokenKind::Ident
            || !punct(i + 1, b'(')
            || text(i + 2) != b"void"
            || !punct(i + 3, b')')
            || !punct(i + 4, b'{')
            || text(i + 5) != b"return"
        {
            continue;
        }
        let declaration = (i.saturating_sub(6)..i)
            .rev()
            .take_while(|&j| tokens[j].kind == TokenKind::Ident || tokens[j].is_punct(b'*'));
        let words: Vec<&[u8]> = declaration.map(text).collect();
        if !words.contains(&&b"static"[..]) || !words.iter().any(|w| w.ends_with(b"inline")) {
            continue;
        }
        let Some(calls) = expression_over_globals(source, &tokens[i + 6..]) else {
            continue;
        };
        out.push(GlobalPredicate {
            name: String::from_utf8_lossy(tok.text(source)).into_owned(),
            calls,
        });
    }
    out
}

/// The calls of the expression that starts `tokens` and ends at `; }`,
/// when it reads only constants and globals: no assignment, no increment,
/// and every call given only names, numbers or `&name`.
fn expression_over_globals(source: &[u8], tokens: &[crate::lexer::Token]) -> Option<Vec<String>> {
    use crate::lexer::TokenKind;
    let mut calls = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let tok = &tokens[i];
        match tok.kind {
            TokenKind::Punct(b';') => {
                return tokens
                    .get(i + 1)
                    .is_some_and(|t| t.is_punct(b'}'))
                    .then_some(calls);
            }
            // `=` alone assigns (`==`, `!=`, `<=`, `>=` are comparisons).
            TokenKind::Punct(b'=') => {
                let before = i.checked_sub(1).map(|j| &tokens[j]);
                let after = tokens.get(i + 1);
                let compares = after.is_some_and(|t| t.is_punct(b'=') && t.start == tok.end)
                    || before.is_some_and(|t| {
                        t.end == tok.start
                            && matches!(t.kind, TokenKind::Punct(b'=' | b'!' | b'<' | b'>'))
                    });
                if !compares {
                    return None;
                }
            }
            TokenKind::Punct(b'+' | b'-')
                if tokens
                    .get(i + 1)
                    .is_some_and(|t| t.kind == tok.kind && t.start == tok.end) =>
            {
                return None;
            }
            TokenKind::Punct(b'{' | b'}') | TokenKind::Directive(_) | TokenKind::Literal => {
                return None;
            }
            TokenKind::Ident if tokens.get(i + 1).is_some_and(|t| t.is_punct(b'(')) => {
                // The arguments: names, numbers, `&name`, commas.
                let mut j = i + 2;
                while !tokens.get(j)?.is_punct(b')') {
                    let t = &tokens[j];
                    let plain = matches!(t.kind, TokenKind::Ident | TokenKind::Number)
                        || t.is_punct(b',')
                        || t.is_punct(b'&');
                    if !plain {
                        return None;
                    }
                    j += 1;
                }
                calls.push(String::from_utf8_lossy(tok.text(source)).into_owned());
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A `#define` line's name, parameter list (the text between the
/// parentheses, for a function-like macro: its `(` right after the name)
/// and body.
fn define_parts(line: &str) -> Option<(&str, Option<&str>, &str)> {
    let rest = line.trim_start().strip_prefix('#')?.trim_start();
    let rest = rest.strip_prefix("define")?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = rest.trim_start();
    let name_len = rest.bytes().take_while(|&b| is_ident(b)).count();
    let (name, after) = rest.split_at(name_len);
    if name.is_empty() {
        return None;
    }
    match after.strip_prefix('(') {
        Some(list) => {
            let close = list.find(')')?;
            Some((name, Some(&list[..close]), list[close + 1..].trim()))
        }
        None => Some((name, None, after.trim())),
    }
}

/// A function-like macro whose body is a call (`#define
/// drm_WARN_ONCE(drm, condition, format, arg...) WARN_ONCE(condition, …)`):
/// its name, the callee, and for each argument of that call the parameter
/// it is, when it is one (`Some(1)` for `condition`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardingMacro {
    pub name: String,
    pub callee: String,
    pub args: Vec<Option<usize>>,
}

fn forwarding_macro(name: &str, params: Option<&str>, body: &str) -> Option<ForwardingMacro> {
    let params: Vec<&str> = params?
        .split(',')
        .map(|p| p.trim().trim_end_matches("...").trim())
        .collect();
    let callee_len = body.bytes().take_while(|&b| is_ident(b)).count();
    let (callee, call) = body.split_at(callee_len);
    let call = call.trim_start().strip_prefix('(')?;
    if callee.is_empty() {
        return None;
    }
    // The call's arguments, split at top-level commas, up to its `)`.
    let mut args = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in call.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => {
                args.push(&call[start..i]);
                break;
            }
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                args.push(&call[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    let args = args
        .into_iter()
        .map(|a| {
            let mut a = a.trim();
            while let Some(inner) = a.strip_prefix('(').and_then(|a| a.strip_suffix(')')) {
                a = inner.trim();
            }
            params.iter().position(|p| *p == a)
        })
        .collect();
    Some(ForwardingMacro {
        name: name.to_owned(),
        callee: callee.to_owned(),
        args,
    })
}

fn return_macro(name: &str, params: Option<&str>, body: &str) -> Option<ReturnMacro> {
    let params = match params {
        Some(list) => {
            let params: Vec<String> = list
                .split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect();
            if params.iter().any(|p| !p.bytes().all(is_ident)) {
                return None;
            }
            Some(params)
        }
        None => None,
    };
    let returned = body.strip_prefix("return")?;
    if returned.starts_with(|c: char| is_ident(c as u8)) {
        return None;
    }
    let returned = returned.trim().trim_end_matches(';').trim();
    let returned = returned
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(returned)
        .trim();
    Some(ReturnMacro {
        name: name.to_owned(),
        params,
        returned: returned.to_owned(),
    })
}

/// The identifiers of `body` followed by `(`.
fn called_names(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphabetic() || bytes[i] == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let mut j = i;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if bytes.get(j) == Some(&b'(') {
                out.push(text[start..i].to_owned());
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Whether `body` is the address of something under a parameter
/// (`#define usbhs_priv_to_lock(priv) (&priv->lock)`): a lock accessor, the
/// caller's lock by another name.
fn is_address_accessor(body: &[u8], params: &[String]) -> bool {
    let first = body
        .iter()
        .find(|&&b| b != b'(' && !b.is_ascii_whitespace() && b != b'\\');
    first == Some(&b'&')
        && !body.contains(&b';')
        && params
            .iter()
            .any(|p| word_positions(body, p.as_bytes()).next().is_some())
}

/// Whether parameter `param` appears in `body` where a value cannot: as a
/// field name (`p->member`), a type (`type *_ret`), or pasted (`x##_lock`).
fn used_as_syntax(body: &[u8], param: &str) -> bool {
    let p = param.as_bytes();
    word_positions(body, p).any(|i| {
        let before = body[..i].trim_ascii_end();
        let after = body[i + p.len()..].trim_ascii_start();
        let field = before.ends_with(b"->") || (before.ends_with(b".") && !before.ends_with(b".."));
        let pasted = before.ends_with(b"##") || after.starts_with(b"##");
        // `type *name` or `type name`: an identifier follows, past stars.
        let declared = after
            .iter()
            .position(|&b| b != b'*' && !b.is_ascii_whitespace())
            .is_some_and(|at| is_ident(after[at]) && !after[at].is_ascii_digit());
        field || pasted || declared
    })
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Where `word` appears in `body` as a whole identifier.
fn word_positions<'a>(body: &'a [u8], word: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    body.windows(word.len())
        .enumerate()
        .filter(move |&(i, w)| {
            w == word
                && (i == 0 || !is_ident(body[i - 1]))
                && body.get(i + word.len()).is_none_or(|&b| !is_ident(b))
        })
        .map(|(i, _)| i)
}

/// Where a run of `len` bytes with no newline ends at or before `end`:
/// on the line of `end`, else on an earlier line long enough.
fn room_before(text: &[u8], end: usize, len: usize) -> Option<usize> {
    let mut line_end = end;
    loop {
        let line_start = text[..line_end]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        if line_end - line_start >= len {
            return Some(line_end - len);
        }
        if line_start == 0 {
            return None;
        }
        line_end = line_start - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MacroConfig;

    #[test]
    fn inline_predicates_over_globals_are_found_and_others_are_not() {
        let src = b"static inline bool dbg_on(void)\n{\n\treturn IS_ENABLED(CONFIG_DBG) && _dbg_early;\n}\n\
static __always_inline bool key_on(void) { return static_branch_unlikely(&k) != 0; }\n\
static inline bool bumps(void) { return ++n > 8; }\n\
static inline bool stores(void) { return (n = 1); }\n\
static inline bool asks(void) { return check(n + 1); }\n\
bool not_inline(void) { return _dbg_early; }\n\
static inline bool with_param(int x) { return x; }\n";
        let found = define_macros(src).global_predicates;
        let names: Vec<&str> = found.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["dbg_on", "key_on"]);
        assert_eq!(found[0].calls, ["IS_ENABLED"]);
        assert_eq!(found[1].calls, ["static_branch_unlikely"]);
    }

    #[test]
    fn a_statement_macro_becomes_a_function_with_its_body_in_place() {
        let src = b"// SPDX-License-Identifier: GPL-2.0 with a long enough first line\n#define shm_unlock(shp) ipc_unlock(&(shp)->shm_perm)\n#define NR 4\n";
        let macros = MacroConfig::default().compile();
        let file = ParsedFile::parse(src.to_vec(), &macros).unwrap();
        let found = macro_functions(&file, |_, _, _| true);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "shm_unlock");
        assert_eq!(found[0].calls, vec!["ipc_unlock"]);
        let text = String::from_utf8(found[0].text.clone()).unwrap();
        let body = "ipc_unlock(&(shp)->shm_perm)";
        let at = std::str::from_utf8(src).unwrap().find(body).unwrap();
        assert_eq!(&text[at..at + body.len()], body);
        assert!(text.contains("void *shm_unlock(void *shp){return "));
        let parsed = ParsedFile::parse(found[0].text.clone(), &macros).unwrap();
        assert!(!parsed.tree.root_node().has_error());
    }

    #[test]
    fn a_macro_whose_parameter_is_a_field_or_a_type_is_a_template() {
        let src = b"#define pcpu_lock(type, member, ptr) ({ type *_ret = ptr; spin_lock(&_ret->member); _ret; })\n#define unlock_it(p) spin_unlock(&(p)->lock)\n#define paste(x) spin_lock(&x##_lock)\n";
        let macros = MacroConfig::default().compile();
        let file = ParsedFile::parse(src.to_vec(), &macros).unwrap();
        let names: Vec<String> = macro_functions(&file, |_, _, _| true)
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, vec!["unlock_it"]);
    }

    #[test]
    fn a_statement_expression_macro_returns_its_value_and_an_address_macro_is_an_accessor() {
        let src = b"// SPDX-License-Identifier: GPL-2.0 with a long enough first line\n#define wait_it(c) ({ int __ret = 0; if (!(c)) __ret = f(); __ret; })\n#define to_lock(p) (&(p)->lock)\n#define NR (&table)\n";
        let macros = MacroConfig::default().compile();
        let file = ParsedFile::parse(src.to_vec(), &macros).unwrap();
        let blocks = std::cell::RefCell::new(Vec::new());
        let found = macro_functions(&file, |name, _, block| {
            blocks.borrow_mut().push((name.to_owned(), block));
            true
        });
        let blocks = blocks.into_inner();
        let names: Vec<&str> = found.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, vec!["wait_it", "to_lock"]);
        assert_eq!(
            blocks,
            vec![("wait_it".to_owned(), true), ("to_lock".to_owned(), false)]
        );
        let text = String::from_utf8(found[0].text.clone()).unwrap();
        assert!(text.contains("void *wait_it(void *c){return "), "{text}");
        assert!(found[1].calls.is_empty());
    }

    #[test]
    fn forwarding_macros_name_the_parameter_each_argument_is() {
        let src = b"#define drm_WARN_ONCE(drm, condition, format, arg...)\t\\\n\tWARN_ONCE(condition, \"%s\" format, dev_name((drm)->dev), ## arg)\n#define drm_WARN_ON(drm, x) drm_WARN((drm), (x), \"%s\", \"\" #x)\n#define NOT_A_CALL(x) (x + 1)\n";
        let found = define_macros(src).forwarding;
        assert_eq!(
            found,
            vec![
                ForwardingMacro {
                    name: "drm_WARN_ONCE".into(),
                    callee: "WARN_ONCE".into(),
                    args: vec![Some(1), None, None, None],
                },
                ForwardingMacro {
                    name: "drm_WARN_ON".into(),
                    callee: "drm_WARN".into(),
                    args: vec![Some(0), Some(1), None, None],
                },
            ]
        );
    }

    #[test]
    fn return_macros_from_define_lines() {
        let src = b"#define return_ACPI_STATUS(s)           return(s)\n#define return_VOID \\\n\treturn\n#define returned_x(s) returned(s)\n#define LOCK(c) do { if (!f(c)) return -EINVAL; } while (0)\n";
        let found = define_macros(src).returns;
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].name, "return_ACPI_STATUS");
        assert_eq!(found[0].params.as_deref(), Some(&["s".to_owned()][..]));
        assert_eq!(found[0].returned, "s");
        assert_eq!(found[1].name, "return_VOID");
        assert_eq!(found[1].params, None);
        assert_eq!(found[1].returned, "");
    }
}
