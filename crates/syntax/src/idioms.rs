//! The kernel-idiom pass: turns raw kernel C into text tree-sitter-c can
//! parse, without moving a single byte.
//!
//! Every edit overwrites bytes in place (newlines are never touched), so a
//! byte offset or line/column in the parsed tree is the same in the user's
//! file. What an edit hid is recorded: [`MacroUse`]s for rewritten macro
//! invocations and [`Fact`]s for annotation macros such as `__acquires(x)`.
//!
//! The edits, in order:
//! 1. Preprocessor conditionals: a group whose branches are whole statements
//!    or declarations is left to tree-sitter (which keeps every branch); a
//!    group that splits a statement or declarator keeps its first branch
//!    (the `#else` branch for `#if 0`) and blanks the rest.
//! 2. Annotation words and annotation calls from the [`MacroConfig`] are
//!    blanked.
//! 3. At file scope, `NAME(args) {` is a function defined by a macro: it is
//!    rewritten into `int _(params) {` and the real name kept in the
//!    [`MacroUse`]; `NAME(args)` followed by a declaration without a `;` in
//!    between (`SEC("x")`, `DEFINE_GUARD(…)`) is blanked.
//! 4. Inside a function body, a macro call at statement start directly
//!    followed by a statement is a loop (`list_for_each_entry(p, h, m) { }`,
//!    `scoped_guard(spinlock, &l) { }`): its name becomes `while`.
//!
//! [`MacroConfig`]: crate::MacroConfig

use crate::config::{CompiledMacros, ParamShape};
use crate::lexer::{tokenize, Directive, Token, TokenKind};
use crate::Span;

/// What a rewritten macro invocation was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MacroUseKind {
    /// A macro call followed by a statement: parsed as a `while` loop whose
    /// condition is the argument list.
    Loop,
    /// A file-scope function definition made by a macro; parsed as a function
    /// named `_`.
    FunctionDef {
        /// The function's real name (the macro's first argument), if it is an
        /// identifier.
        function_name: Option<Span>,
    },
    /// A file-scope macro invocation without a terminating `;`, blanked.
    Blanked,
    /// A file-scope variable-defining macro (`DEFINE_SPINLOCK(x)`), left as
    /// parsed; `ty` is the variable's type from the configuration.
    Definer { ty: String, name_arg: usize },
}

/// One macro invocation the idiom pass rewrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacroUse {
    pub kind: MacroUseKind,
    /// The macro's name token.
    pub name: Span,
    /// Each top-level argument, without surrounding whitespace.
    pub args: Vec<Span>,
    /// An argument that was a statement (`return -EINTR` in
    /// `scoped_cond_guard`), replaced by `0` in the parsed text.
    pub statement_arg: Option<usize>,
}

/// An annotation macro kept as a fact, e.g. `__must_hold(&l)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    /// The macro name, e.g. `__acquires`.
    pub name: String,
    /// The whole annotation including its argument list.
    pub span: Span,
    /// Each top-level argument.
    pub args: Vec<Span>,
}

/// The outcome of the idiom pass over one file.
#[derive(Clone, Debug, Default)]
pub struct Prepared {
    /// The text handed to tree-sitter: as long as the source, same newlines.
    pub text: Vec<u8>,
    /// Rewritten macro invocations, by position.
    pub macros: Vec<MacroUse>,
    /// Annotation facts, by position.
    pub facts: Vec<Fact>,
}

const C_KEYWORDS: &[&str] = &[
    "_Alignas",
    "_Alignof",
    "_Generic",
    "_Static_assert",
    "__alignof__",
    "__asm",
    "__asm__",
    "__builtin_choose_expr",
    "__builtin_offsetof",
    "__builtin_types_compatible_p",
    "__typeof",
    "__typeof__",
    "alignof",
    "asm",
    "break",
    "case",
    "continue",
    "default",
    "defined",
    "do",
    "else",
    "enum",
    "for",
    "goto",
    "if",
    "return",
    "sizeof",
    "static_assert",
    "struct",
    "switch",
    "typeof",
    "union",
    "while",
];

fn is_keyword(name: &[u8]) -> bool {
    C_KEYWORDS.iter().any(|k| k.as_bytes() == name)
}

/// Keywords that start a statement and so cannot be a macro argument.
fn is_statement_keyword(name: &[u8]) -> bool {
    matches!(name, b"return" | b"goto" | b"break" | b"continue")
}

/// Runs the idiom pass over `src`. NUL bytes are read as spaces, as gcc
/// reads them (it warns and ignores them): a stray one does not break the
/// comment or statement around it.
pub fn prepare(src: &[u8], macros: &CompiledMacros) -> Prepared {
    let without_nuls: Vec<u8>;
    let src = if src.contains(&0) {
        without_nuls = src.iter().map(|&b| if b == 0 { b' ' } else { b }).collect();
        &without_nuls[..]
    } else {
        src
    };
    let tokens = tokenize(src);
    let mut pass = Pass {
        src,
        text: src.to_vec(),
        macros,
        out_macros: Vec::new(),
        facts: Vec::new(),
    };
    let live = pass.resolve_conditionals(&tokens);
    let live = pass.strip_annotations(&live);
    pass.rewrite(&live);
    pass.out_macros.sort_by_key(|m| m.name.start);
    pass.facts.sort_by_key(|f| f.span.start);
    Prepared {
        text: pass.text,
        macros: pass.out_macros,
        facts: pass.facts,
    }
}

struct Pass<'a> {
    src: &'a [u8],
    text: Vec<u8>,
    macros: &'a CompiledMacros,
    out_macros: Vec<MacroUse>,
    facts: Vec<Fact>,
}

/// An open `#if` group during [`Pass::resolve_conditionals`].
struct OpenGroup {
    /// Token index of each branch's directive (`#if`, `#elif`, `#else`).
    branch_directives: Vec<usize>,
    is_zero: bool,
    /// Bracket stack when the group opened; each branch starts from it.
    brackets_at_open: Vec<u8>,
    /// Bracket stack at the end of the first branch, which is what follows.
    brackets_after_first: Option<Vec<u8>>,
}

fn closer_of(open: u8) -> u8 {
    match open {
        b'(' => b')',
        b'[' => b']',
        _ => b'}',
    }
}

impl Pass<'_> {
    fn blank(&mut self, start: u32, end: u32) {
        for b in &mut self.text[start as usize..end as usize] {
            if *b != b'\n' && *b != b'\r' {
                *b = b' ';
            }
        }
    }

    fn write(&mut self, at: u32, bytes: &[u8]) {
        self.text[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    }

    fn name(&self, tok: &Token) -> &str {
        std::str::from_utf8(tok.text(self.src)).unwrap_or("")
    }

    /// Step 1: decides every `#if` group; returns the tokens that stay, with
    /// directives removed.
    fn resolve_conditionals(&mut self, tokens: &[Token]) -> Vec<Token> {
        let mut alive = vec![true; tokens.len()];
        let mut groups: Vec<OpenGroup> = Vec::new();
        let mut brackets: Vec<u8> = Vec::new();
        for (i, tok) in tokens.iter().enumerate() {
            match tok.kind {
                TokenKind::Directive(Directive::If { is_zero }) => groups.push(OpenGroup {
                    branch_directives: vec![i],
                    is_zero,
                    brackets_at_open: brackets.clone(),
                    brackets_after_first: None,
                }),
                TokenKind::Directive(Directive::Elif | Directive::Else) => {
                    if let Some(group) = groups.last_mut() {
                        if group.brackets_after_first.is_none() {
                            group.brackets_after_first = Some(brackets.clone());
                        }
                        brackets.clone_from(&group.brackets_at_open);
                        group.branch_directives.push(i);
                    }
                }
                TokenKind::Directive(Directive::Endif) => {
                    if let Some(group) = groups.pop() {
                        if let Some(after_first) = &group.brackets_after_first {
                            brackets.clone_from(after_first);
                        }
                        self.decide_group(tokens, &mut alive, &group, i);
                    }
                }
                TokenKind::Punct(b @ (b'(' | b'[' | b'{')) => brackets.push(b),
                TokenKind::Punct(b @ (b')' | b']' | b'}')) => {
                    // Pop to the matching opener; a stray closer pops nothing.
                    if let Some(pos) = brackets.iter().rposition(|&o| closer_of(o) == b) {
                        brackets.truncate(pos);
                    }
                }
                _ => {}
            }
        }
        tokens
            .iter()
            .zip(&alive)
            .filter(|(t, &a)| a && !matches!(t.kind, TokenKind::Directive(_)))
            .map(|(t, _)| *t)
            .collect()
    }

    fn decide_group(
        &mut self,
        tokens: &[Token],
        alive: &mut [bool],
        group: &OpenGroup,
        endif: usize,
    ) {
        let mut bounds: Vec<(usize, usize)> = Vec::with_capacity(group.branch_directives.len());
        for (k, &d) in group.branch_directives.iter().enumerate() {
            let end = group.branch_directives.get(k + 1).copied().unwrap_or(endif);
            bounds.push((d, end));
        }
        let keep_all = !group.is_zero
            && matches!(group.brackets_at_open.last(), None | Some(b'{'))
            && starts_at_boundary(tokens, alive, group.branch_directives[0])
            && bounds
                .iter()
                .all(|&(d, end)| is_whole_statements(tokens, alive, d + 1, end));
        if keep_all {
            return;
        }
        let kept = usize::from(group.is_zero);
        for (k, &(d, end)) in bounds.iter().enumerate() {
            // Blank the branch's directive line; for a dropped branch, its body too.
            let stop = if k == kept {
                tokens[d].end
            } else {
                tokens[end].start
            };
            self.blank(tokens[d].start, stop);
            let last = if k == kept { d + 1 } else { end };
            for flag in &mut alive[d..last] {
                *flag = false;
            }
        }
        self.blank(tokens[endif].start, tokens[endif].end);
        alive[endif] = false;
    }

    /// Step 2: blanks annotation words and calls; returns the other tokens.
    fn strip_annotations(&mut self, toks: &[Token]) -> Vec<Token> {
        let partner = match_brackets(toks);
        let mut kept = Vec::with_capacity(toks.len());
        let mut k = 0;
        while k < toks.len() {
            let tok = toks[k];
            if tok.kind == TokenKind::Ident {
                let name = self.name(&tok);
                if self.macros.is_attribute(name) {
                    self.blank(tok.start, tok.end);
                    k += 1;
                    continue;
                }
                let is_fact = self.macros.is_fact_call(name);
                let open = k + 1;
                let close = partner.get(open).copied().unwrap_or(usize::MAX);
                let has_args =
                    toks.get(open).is_some_and(|t| t.is_punct(b'(')) && close != usize::MAX;
                if has_args && (is_fact || self.macros.is_attribute_call(name)) {
                    if is_fact {
                        let fact = Fact {
                            name: name.to_owned(),
                            span: Span::new(tok.start, toks[close].end),
                            args: split_args(toks, &partner, open, close),
                        };
                        self.facts.push(fact);
                    }
                    self.blank(tok.start, toks[close].end);
                    k = close + 1;
                    continue;
                }
            }
            kept.push(tok);
            k += 1;
        }
        kept
    }

    /// Steps 3 and 4 over the tokens that survived steps 1 and 2.
    fn rewrite(&mut self, toks: &[Token]) {
        let partner = match_brackets(toks);
        // Per open brace: whether it is inside a function body.
        let mut braces: Vec<bool> = Vec::new();
        let mut prev: Option<Token> = None;
        let mut k = 0;
        while k < toks.len() {
            let tok = toks[k];
            match tok.kind {
                TokenKind::Punct(b'{') => {
                    let in_function = braces.last().copied().unwrap_or(false)
                        || (braces.is_empty() && prev.is_some_and(|p| p.is_punct(b')')));
                    braces.push(in_function);
                }
                TokenKind::Punct(b'}') => {
                    braces.pop();
                }
                TokenKind::Ident => {
                    if let Some((next, ends_with_paren)) =
                        self.rewrite_ident(toks, &partner, k, prev, &braces)
                    {
                        // After a rewritten header or loop head, the `)` is what
                        // precedes the body; a blanked macro leaves `prev` as it was.
                        if ends_with_paren {
                            prev = Some(toks[next - 1]);
                        }
                        k = next;
                        continue;
                    }
                }
                _ => {}
            }
            prev = Some(tok);
            k += 1;
        }
    }

    /// Handles the identifier at `k`; when it consumed tokens (blanked or
    /// rewrote them), returns the index to continue at and whether the
    /// consumed tokens now end in a `)` that stays.
    fn rewrite_ident(
        &mut self,
        toks: &[Token],
        partner: &[usize],
        k: usize,
        prev: Option<Token>,
        braces: &[bool],
    ) -> Option<(usize, bool)> {
        let tok = toks[k];
        let name = self.name(&tok).to_owned();
        let open = k + 1;
        let has_args = toks.get(open).is_some_and(|t| t.is_punct(b'('));
        let close = if has_args { partner[open] } else { usize::MAX };
        if has_args && close == usize::MAX {
            return None;
        }
        if !has_args || is_keyword(tok.text(self.src)) {
            return None;
        }
        // `offsetof(struct foo, member)` is C's own: its grammar reads the
        // type as written.
        if braces.last() == Some(&true) && name != "offsetof" {
            self.untype_args(toks, partner, open, close);
        }
        let after = toks.get(close + 1);
        if braces.is_empty() {
            if let Some((ty, name_arg)) = self.macros.definer(&name) {
                let args = split_args(toks, partner, open, close);
                self.out_macros.push(MacroUse {
                    kind: MacroUseKind::Definer {
                        ty: ty.to_owned(),
                        name_arg,
                    },
                    name: Span::new(tok.start, tok.end),
                    args,
                    statement_arg: None,
                });
                return None;
            }
            // At file scope: after a declaration, or a storage class
            // (`static CLOSURE_CALLBACK(name) {`).
            let starts_definition = prev.is_none_or(|p| {
                p.is_punct(b';')
                    || p.is_punct(b'}')
                    || (braces.is_empty()
                        && p.kind == TokenKind::Ident
                        && self.name(&p) == "static"
                        && after.is_some_and(|a| a.is_punct(b'{')))
            });
            if !starts_definition {
                return None;
            }
            match after {
                Some(a) if a.is_punct(b'{') => {
                    self.rewrite_function_macro(toks, partner, k, close);
                    Some((close + 1, true))
                }
                Some(a) if a.kind == TokenKind::Ident => {
                    let args = split_args(toks, partner, open, close);
                    self.out_macros.push(MacroUse {
                        kind: MacroUseKind::Blanked,
                        name: Span::new(tok.start, tok.end),
                        args,
                        statement_arg: None,
                    });
                    self.blank(tok.start, toks[close].end);
                    Some((close + 1, false))
                }
                _ => None,
            }
        } else if braces.last() == Some(&true)
            && prev.is_some_and(|p| is_statement_boundary(self.src, p))
        {
            let next_line_statement = after.filter(|a| {
                self.has_newline(toks[close].end, a.start)
                    && match a.kind {
                        TokenKind::Ident => !after_is_operator_keyword(self.src, a),
                        TokenKind::Punct(b'*' | b'(' | b'+' | b'-') => true,
                        _ => false,
                    }
            });
            let body_follows = match after {
                Some(a) if a.is_punct(b'{') => true,
                // A one-statement body on the next line, indented under the
                // macro: `x++;`, `*p = 0;`, `(void)f();`.
                Some(a) if next_line_statement.is_some() => {
                    self.indent_width(a.start) > self.indent_width(tok.start)
                }
                _ => false,
            };
            if !body_follows {
                // The next statement at the macro's own indentation: a
                // statement macro that brings its own `;`
                // (`CLEAR_MGMT_STATUS(s)` is `s = 0;`). The `;` goes where
                // the next line's indentation begins.
                if let Some(a) = next_line_statement {
                    let line_start = self.line_start(a.start);
                    if line_start < a.start {
                        self.write(line_start, b";");
                    }
                }
                return None;
            }
            self.rewrite_loop_macro(toks, partner, k, close);
            Some((close + 1, true))
        } else {
            None
        }
    }

    /// Type names passed to macros (`container_of(p, struct foo, member)`,
    /// `DEFINE_PER_CPU(unsigned long, x)`) become expressions: `0`.
    fn untype_args(&mut self, toks: &[Token], partner: &[usize], open: usize, close: usize) {
        let mut i = open + 1;
        while i < close {
            let arg_start = i;
            while i < close && !toks[i].is_punct(b',') {
                i = if toks[i].is_punct(b'(') && partner[i] < close {
                    partner[i] + 1
                } else {
                    i + 1
                };
            }
            self.untype_arg(&toks[arg_start..i]);
            i += 1;
        }
    }

    fn untype_arg(&mut self, arg: &[Token]) {
        let stars = arg.iter().rev().take_while(|t| t.is_punct(b'*')).count();
        let words = &arg[..arg.len() - stars];
        if words.is_empty() || !words.iter().all(|t| t.kind == TokenKind::Ident) {
            return;
        }
        let qualifiers = words
            .iter()
            .take_while(|t| matches!(t.text(self.src), b"const" | b"volatile"))
            .count();
        let record = &words[qualifiers..];
        let is_record =
            record.len() == 2 && matches!(record[0].text(self.src), b"struct" | b"union" | b"enum");
        // A record's tag must not stay behind as an identifier: it would
        // read as a reference to a function of that name (`struct
        // io_timeout` in io_timeout()'s own `list_first_entry(…)`, a
        // callback given to the macro).
        if is_record || words.iter().all(|t| is_type_word(t.text(self.src))) {
            let (start, end) = (words[0].start, words[words.len() - 1].end);
            self.blank(start, end);
            self.write(start, b"0");
        } else {
            return;
        }
        for star in &arg[arg.len() - stars..] {
            self.blank(star.start, star.end);
        }
    }

    /// Where the line holding byte `at` begins.
    fn line_start(&self, at: u32) -> u32 {
        self.src[..at as usize]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i as u32 + 1)
    }

    /// The visual width of the indentation of the line holding byte `at`
    /// (tabs to the next multiple of 8), up to `at`.
    fn indent_width(&self, at: u32) -> usize {
        self.src[self.line_start(at) as usize..at as usize]
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .fold(0, |w, &b| if b == b'\t' { (w / 8 + 1) * 8 } else { w + 1 })
    }

    fn has_newline(&self, from: u32, to: u32) -> bool {
        self.src[from as usize..to as usize].contains(&b'\n')
    }

    /// `list_for_each_entry(p, h, m) stmt` → `while              (p, h, m) stmt`.
    fn rewrite_loop_macro(&mut self, toks: &[Token], partner: &[usize], k: usize, close: usize) {
        let name = toks[k];
        let open = k + 1;
        let args = split_args(toks, partner, open, close);
        let mut statement_arg = None;
        for (i, arg) in args.iter().enumerate() {
            let first_word = self.src[arg.start as usize..arg.end as usize]
                .split(|b| !b.is_ascii_alphanumeric() && *b != b'_')
                .next()
                .unwrap_or(b"");
            if is_statement_keyword(first_word) {
                self.blank(arg.start, arg.end);
                self.write(arg.start, b"0");
                statement_arg = Some(i);
            }
        }
        let name_len = name.end - name.start;
        if args.is_empty() {
            // `for_each_thing()` has no condition to keep: write `while (1)`.
            let whole = toks[close].end - name.start;
            if whole < 8 {
                return;
            }
            self.blank(name.start, toks[close].end);
            self.write(name.start, b"while");
            self.write(toks[close].end - 3, b"(1)");
        } else if name_len >= 5 {
            self.blank(name.start, name.end);
            self.write(name.start, b"while");
        } else if name_len >= 2 {
            self.blank(name.start, name.end);
            self.write(name.start, b"if");
        } else {
            return;
        }
        self.out_macros.push(MacroUse {
            kind: MacroUseKind::Loop,
            name: Span::new(name.start, name.end),
            args,
            statement_arg,
        });
    }

    /// `SYSCALL_DEFINE2(name, int, a, long, b) {` → `int            _(     int  a, long  b) {`.
    fn rewrite_function_macro(
        &mut self,
        toks: &[Token],
        partner: &[usize],
        k: usize,
        close: usize,
    ) {
        let name = toks[k];
        let open = k + 1;
        let args = split_args(toks, partner, open, close);
        let function_name = args.first().and_then(|a| {
            let t = &self.src[a.start as usize..a.end as usize];
            let is_ident = !t.is_empty()
                && (t[0].is_ascii_alphabetic() || t[0] == b'_')
                && t.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
            is_ident.then_some(*a)
        });
        let head_len = toks[open].start - name.start;
        if head_len < 5 {
            return;
        }
        self.blank(name.start, toks[open].start);
        self.write(name.start, b"int");
        self.write(toks[open].start - 1, b"_");
        let shape = self.macros.function_shape(self.name(&name));
        let pairs = &args[args.len().min(1)..];
        if shape == ParamShape::TypeNamePairs
            && function_name.is_some()
            && pairs.len().is_multiple_of(2)
        {
            // Blank the name argument and its comma; join each type with its name.
            let first_param = pairs.first().map_or(toks[close].start, |p| p.start);
            self.blank(toks[open].end, first_param);
            for pair in pairs.chunks(2) {
                self.blank(pair[0].end, pair[1].start);
            }
        } else {
            self.blank(toks[open].end, toks[close].start);
        }
        self.out_macros.push(MacroUse {
            kind: MacroUseKind::FunctionDef { function_name },
            name: Span::new(name.start, name.end),
            args,
            statement_arg: None,
        });
    }
}

/// C's own type words, which cannot be an expression.
fn is_type_word(word: &[u8]) -> bool {
    matches!(
        word,
        b"void"
            | b"char"
            | b"short"
            | b"int"
            | b"long"
            | b"float"
            | b"double"
            | b"signed"
            | b"unsigned"
            | b"_Bool"
            | b"bool"
            | b"const"
            | b"volatile"
    )
}

/// A token after which a statement can start.
fn is_statement_boundary(src: &[u8], tok: Token) -> bool {
    match tok.kind {
        TokenKind::Punct(b';' | b'{' | b'}' | b')' | b':') => true,
        TokenKind::Ident => matches!(tok.text(src), b"else" | b"do"),
        _ => false,
    }
}

/// Identifiers that continue an expression rather than start a statement.
fn after_is_operator_keyword(src: &[u8], tok: &Token) -> bool {
    matches!(tok.text(src), b"sizeof" | b"typeof" | b"__typeof__")
}

/// Whether the group starting at directive `d` begins where a statement or
/// declaration can.
fn starts_at_boundary(tokens: &[Token], alive: &[bool], d: usize) -> bool {
    let prev = tokens[..d]
        .iter()
        .zip(&alive[..d])
        .rev()
        .find(|(t, &a)| a && !matches!(t.kind, TokenKind::Directive(_)));
    match prev {
        None => true,
        Some((t, _)) => matches!(t.kind, TokenKind::Punct(b';' | b'{' | b'}' | b':')),
    }
}

/// Whether the live tokens in `from..to` are balanced and end a statement.
fn is_whole_statements(tokens: &[Token], alive: &[bool], from: usize, to: usize) -> bool {
    let mut depth = [0i32; 3];
    let mut last = None;
    for (t, _) in tokens[from..to]
        .iter()
        .zip(&alive[from..to])
        .filter(|(t, &a)| a && !matches!(t.kind, TokenKind::Directive(_)))
    {
        match t.kind {
            TokenKind::Punct(b'(') => depth[0] += 1,
            TokenKind::Punct(b')') => depth[0] -= 1,
            TokenKind::Punct(b'[') => depth[1] += 1,
            TokenKind::Punct(b']') => depth[1] -= 1,
            TokenKind::Punct(b'{') => depth[2] += 1,
            TokenKind::Punct(b'}') => depth[2] -= 1,
            _ => {}
        }
        if depth.iter().any(|&d| d < 0) {
            return false;
        }
        last = Some(*t);
    }
    depth == [0, 0, 0] && last.is_none_or(|t| t.is_punct(b';') || t.is_punct(b'}'))
}

/// For each bracket token, the index of its partner; `usize::MAX` otherwise.
fn match_brackets(toks: &[Token]) -> Vec<usize> {
    let mut partner = vec![usize::MAX; toks.len()];
    let mut stack: Vec<usize> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            TokenKind::Punct(b'(' | b'[' | b'{') => stack.push(i),
            TokenKind::Punct(c @ (b')' | b']' | b'}')) => {
                let opener = match c {
                    b')' => b'(',
                    b']' => b'[',
                    _ => b'{',
                };
                if let Some(pos) = stack.iter().rposition(|&o| toks[o].is_punct(opener)) {
                    let o = stack[pos];
                    stack.truncate(pos);
                    partner[o] = i;
                    partner[i] = o;
                }
            }
            _ => {}
        }
    }
    partner
}

/// The top-level arguments between the parentheses at `open` and `close`.
fn split_args(toks: &[Token], partner: &[usize], open: usize, close: usize) -> Vec<Span> {
    let mut args = Vec::new();
    let mut start: Option<u32> = None;
    let mut end = 0u32;
    let mut i = open + 1;
    while i < close {
        let t = toks[i];
        if t.is_punct(b',') {
            if let Some(s) = start.take() {
                args.push(Span::new(s, end));
            }
            i += 1;
            continue;
        }
        start.get_or_insert(t.start);
        let skip_to = match t.kind {
            TokenKind::Punct(b'(' | b'[' | b'{')
                if partner[i] != usize::MAX && partner[i] < close =>
            {
                partner[i]
            }
            _ => i,
        };
        end = toks[skip_to].end;
        i = skip_to + 1;
    }
    if let Some(s) = start {
        args.push(Span::new(s, end));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FunctionMacro, MacroConfig};

    fn config() -> CompiledMacros {
        MacroConfig {
            attributes: vec!["__init".into(), "__user".into()],
            attribute_calls: vec!["__attribute__".into(), "__printf".into()],
            fact_calls: vec!["__acquires".into(), "__must_hold".into()],
            function_macros: vec![FunctionMacro {
                prefix: "SYSCALL_DEFINE".into(),
                params: ParamShape::TypeNamePairs,
            }],
            ..MacroConfig::default()
        }
        .compile()
    }

    fn run(src: &str) -> (String, Prepared) {
        let p = prepare(src.as_bytes(), &config());
        assert_eq!(p.text.len(), src.len());
        (String::from_utf8(p.text.clone()).unwrap(), p)
    }

    #[test]
    fn blanks_attributes_and_records_facts() {
        let src = "static int __init f(char __user *p) __acquires(p->l) {}\n";
        let (text, p) = run(src);
        let expected = src
            .replace("__init", "      ")
            .replace("__user", "      ")
            .replace("__acquires(p->l)", &" ".repeat(16));
        assert_eq!(text, expected);
        assert_eq!(p.facts.len(), 1);
        assert_eq!(p.facts[0].name, "__acquires");
        let arg = p.facts[0].args[0];
        assert_eq!(
            &"static int __init f(char __user *p) __acquires(p->l) {}"[arg.range()],
            "p->l"
        );
    }

    #[test]
    fn nul_bytes_are_read_as_spaces() {
        let src = "int f(int x)\n{\n\tx++; /* \0\0 */\n\0\treturn x;\n}\n";
        let (text, _) = run(src);
        assert_eq!(text, src.replace('\0', " "));
        let tree = crate::parse::parse_text(text.as_bytes()).expect("a tree");
        assert!(!tree.root_node().has_error(), "{text}");
    }

    #[test]
    fn iterator_macro_becomes_while() {
        let src = "void f(void)\n{\n\tlist_for_each_entry(p, &h, lru) {\n\t\tx++;\n\t}\n}\n";
        let (text, p) = run(src);
        assert!(
            text.contains("\twhile              (p, &h, lru) {"),
            "{text}"
        );
        assert_eq!(p.macros.len(), 1);
        assert_eq!(p.macros[0].kind, MacroUseKind::Loop);
        assert_eq!(p.macros[0].args.len(), 3);
    }

    #[test]
    fn iterator_macro_with_statement_body_on_next_line() {
        let src = "void f(void)\n{\n\tfor_each_cpu(c, m)\n\t\tx++;\n\tfoo(a);\n}\n";
        let (text, _) = run(src);
        assert!(text.contains("\twhile       (c, m)\n"), "{text}");
        assert!(text.contains("\tfoo(a);"), "ordinary calls stay: {text}");
    }

    #[test]
    fn statement_macro_without_semicolon_is_not_a_loop() {
        let src = "void f(void)\n{\n\tCLEAR_STATUS(s)\n\tmutex_unlock(&m);\n}\n";
        let (text, p) = run(src);
        assert!(
            text.contains("\tCLEAR_STATUS(s)\n;mutex_unlock(&m);"),
            "{text}"
        );
        assert!(p.macros.is_empty());
        assert_eq!(text.len(), src.len());
    }

    #[test]
    fn statement_argument_is_neutralised() {
        let src = "int f(void)\n{\n\tscoped_cond_guard(mutex_intr, return -EINTR, &m) {\n\t}\n}\n";
        let (text, p) = run(src);
        assert!(text.contains("(mutex_intr, 0            , &m)"), "{text}");
        assert_eq!(p.macros[0].statement_arg, Some(1));
    }

    #[test]
    fn syscall_define_becomes_a_definition() {
        let src = "SYSCALL_DEFINE2(open, const char __user *, name, int, flags)\n{\n}\n";
        let (text, p) = run(src);
        assert_eq!(
            text,
            "int           _(      const char        *  name, int  flags)\n{\n}\n"
        );
        match &p.macros[0].kind {
            MacroUseKind::FunctionDef {
                function_name: Some(n),
            } => {
                assert_eq!(&src[n.range()], "open")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn split_conditional_keeps_first_branch() {
        let src =
            "void f(void)\n{\n#ifdef A\n\tif (a) {\n#else\n\tif (b) {\n#endif\n\t\tx();\n\t}\n}\n";
        let (text, _) = run(src);
        assert!(text.contains("if (a) {"));
        assert!(!text.contains("if (b)"));
        assert!(!text.contains('#'));
        assert_eq!(text.lines().count(), src.lines().count());
    }

    #[test]
    fn whole_statement_conditional_is_left_alone() {
        let src = "void f(void)\n{\n#ifdef A\n\ta();\n#else\n\tb();\n#endif\n}\n";
        let (text, _) = run(src);
        assert_eq!(text, src);
    }

    #[test]
    fn if_zero_keeps_else_branch() {
        let src = "void f(void)\n{\n#if 0\n\tgarbage here(\n#else\n\tb();\n#endif\n}\n";
        let (text, _) = run(src);
        assert!(!text.contains("garbage"));
        assert!(text.contains("b();"));
    }

    #[test]
    fn type_arguments_become_expressions() {
        let src = "void f(void)\n{\n\tp = container_of(w, struct foo *, work);\n\tq = va_arg(ap, unsigned long);\n\tr = sizeof(struct foo);\n\ts = offsetof(struct foo, m);\n}\n";
        let (text, _) = run(src);
        assert!(
            text.contains("container_of(w, 0           , work)"),
            "{text}"
        );
        assert!(text.contains("va_arg(ap, 0            )"), "{text}");
        assert!(text.contains("sizeof(struct foo)"), "{text}");
        assert!(text.contains("offsetof(struct foo, m)"), "{text}");
    }

    #[test]
    fn file_scope_macro_without_semicolon_is_blanked() {
        let src = "SEC(\"tc\")\nint prog(void *ctx)\n{\n}\n";
        let (text, p) = run(src);
        assert!(text.starts_with("         \nint prog"));
        assert_eq!(p.macros[0].kind, MacroUseKind::Blanked);
    }
}
