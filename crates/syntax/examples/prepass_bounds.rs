//! Development aid: what a token-level pre-pass could save of the cold
//! run's parse, measured on a tree (docs/scaling.md, issue 10).
//!
//! `cargo run --release -p lockwarden-syntax --example prepass_bounds --
//! target/kernel/linux-source-6.12` (from the workspace root) prints:
//! - the plain tree-sitter-c parse of every `.c` and `.h` file, and the
//!   same parse with every function body blanked (spaces, newlines kept):
//!   the floor of any design that still parses the declarations;
//! - the bodies that name the lock API of `rules/locks.toml` (or a guard
//!   or annotation), and the closure up the call graph of the names they
//!   define (a `static` resolves in its own file): the bodies no token
//!   pass can prove lock-free.
//!
//! Function bodies are found at the token level: at file scope, a `{`
//! after a `)` (or an annotation) whose declaration has no `=`.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use lockwarden_syntax::lexer::{tokenize, Token, TokenKind};
use lockwarden_syntax::scan::matching;
use rayon::prelude::*;

/// Names before `(` that are no function's.
const NOT_FUNCTIONS: &[&str] = &[
    "if",
    "while",
    "for",
    "switch",
    "return",
    "sizeof",
    "do",
    "else",
    "case",
    "typeof",
    "__typeof__",
    "__attribute__",
    "defined",
];

/// A function body, or a function-like macro's replacement (no bytes).
struct Body {
    name: String,
    file: usize,
    file_local: bool,
    span: (usize, usize),
    idents: Vec<String>,
}

fn text(src: &[u8], t: &Token) -> String {
    String::from_utf8_lossy(t.text(src)).into_owned()
}

/// The function whose body `decl` declares (the tokens before its `{`):
/// its name and whether it is `static`; `None` for anything else.
fn declared_function(src: &[u8], decl: &[Token]) -> Option<(String, bool)> {
    let ends_like_function = decl
        .last()
        .is_some_and(|t| t.is_punct(b')') || t.kind == TokenKind::Ident);
    let mut parens = 0i32;
    let mut name = None;
    let mut file_local = false;
    for (k, t) in decl.iter().enumerate() {
        match t.kind {
            TokenKind::Punct(b'(') => {
                if parens == 0 && name.is_none() && k > 0 && decl[k - 1].kind == TokenKind::Ident {
                    name = Some(text(src, &decl[k - 1]));
                }
                parens += 1;
            }
            TokenKind::Punct(b')') => parens -= 1,
            TokenKind::Punct(b'=') if parens == 0 => return None,
            TokenKind::Ident if t.text(src) == b"static" => file_local = true,
            _ => {}
        }
    }
    let name = name.filter(|n| ends_like_function && !NOT_FUNCTIONS.contains(&n.as_str()))?;
    Some((name, file_local))
}

/// The function bodies and function-like macros of one file.
fn bodies_of(file: usize, src: &[u8]) -> Vec<Body> {
    let tokens = tokenize(src);
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut decl_start = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        match t.kind {
            TokenKind::Directive(_) => {
                let directive = t.text(src);
                let inner = tokenize(directive);
                let is_define = inner.get(1).is_some_and(|d| d.text(directive) == b"define");
                let function_like = inner.get(2).zip(inner.get(3)).is_some_and(|(n, p)| {
                    n.kind == TokenKind::Ident && p.is_punct(b'(') && n.end == p.start
                });
                if is_define && function_like {
                    let name = text(directive, &inner[2]);
                    let idents = inner[3..]
                        .iter()
                        .filter(|x| x.kind == TokenKind::Ident)
                        .map(|x| text(directive, x))
                        .collect();
                    out.push(Body {
                        name,
                        file,
                        file_local: false,
                        span: (0, 0),
                        idents,
                    });
                }
                if depth == 0 {
                    decl_start = i + 1;
                }
            }
            TokenKind::Punct(b'{') if depth == 0 => {
                let close = matching(&tokens, i, b'{', b'}').min(tokens.len() - 1);
                let decl = &tokens[decl_start..i];
                if let Some((name, file_local)) = declared_function(src, decl) {
                    // Annotations between `)` and `{` count as the body's.
                    let annotations = decl.iter().filter(|x| x.text(src).starts_with(b"__"));
                    let mut idents: Vec<String> = tokens[i..=close]
                        .iter()
                        .chain(annotations)
                        .filter(|x| x.kind == TokenKind::Ident)
                        .map(|x| text(src, x))
                        .collect();
                    idents.sort_unstable();
                    idents.dedup();
                    out.push(Body {
                        name,
                        file,
                        file_local,
                        span: (t.end as usize, tokens[close].start as usize),
                        idents,
                    });
                }
                i = close + 1;
                decl_start = i;
                continue;
            }
            TokenKind::Punct(b'{') => depth += 1,
            TokenKind::Punct(b'}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    decl_start = i + 1;
                }
            }
            TokenKind::Punct(b';') if depth == 0 => decl_start = i + 1,
            _ => {}
        }
        i += 1;
    }
    out
}

/// Seconds to parse every file with plain tree-sitter-c, in parallel.
fn parse_all(files: &[Vec<u8>]) -> f64 {
    let start = Instant::now();
    files.par_iter().for_each(|bytes| {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_c::LANGUAGE.into())
            .expect("tree-sitter-c loads");
        let _ = parser.parse(bytes, None);
    });
    start.elapsed().as_secs_f64()
}

/// The lock API's names: every identifier quoted in `rules/locks.toml`
/// from its first family on, with the guards and annotations.
fn lock_api_names() -> HashSet<String> {
    let rules = std::fs::read_to_string("rules/locks.toml").expect("run from the workspace root");
    let families = &rules[rules.find("[[locks.family]]").expect("a lock family")..];
    let quoted = families.split('"').skip(1).step_by(2);
    let mut names: HashSet<String> = quoted
        .filter(|q| !q.is_empty() && q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .map(str::to_owned)
        .collect();
    names.extend(
        [
            "guard",
            "scoped_guard",
            "scoped_cond_guard",
            "__acquires",
            "__releases",
            "__must_hold",
            "__cond_acquires",
            "__acquire",
            "__release",
            "__cond_lock",
        ]
        .map(str::to_owned),
    );
    names
}

/// Which bodies the closure up the call graph from the lock API reaches.
fn closure(bodies: &[Body], is_source: impl Fn(usize) -> bool) -> (Vec<bool>, usize) {
    let api = lock_api_names();
    let mut global: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut local: HashMap<(usize, &str), Vec<usize>> = HashMap::new();
    for (k, b) in bodies.iter().enumerate() {
        if b.file_local && is_source(b.file) {
            local.entry((b.file, &b.name)).or_default().push(k);
        } else {
            global.entry(&b.name).or_default().push(k);
        }
    }
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); bodies.len()];
    for (k, b) in bodies.iter().enumerate() {
        for name in &b.idents {
            let targets = local
                .get(&(b.file, name.as_str()))
                .or_else(|| global.get(name.as_str()));
            for &t in targets.into_iter().flatten() {
                if t != k {
                    users[t].push(k);
                }
            }
        }
    }
    let mut reached: Vec<bool> = bodies
        .iter()
        .map(|b| api.contains(&b.name) || b.idents.iter().any(|i| api.contains(i)))
        .collect();
    let direct = reached.iter().filter(|&&r| r).count();
    let mut stack: Vec<usize> = (0..bodies.len()).filter(|&k| reached[k]).collect();
    while let Some(k) = stack.pop() {
        for &u in &users[k] {
            if !reached[u] {
                reached[u] = true;
                stack.push(u);
            }
        }
    }
    (reached, direct)
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .expect("usage: prepass_bounds KERNEL-TREE");
    let paths: Vec<_> = walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("c" | "h")))
        .collect();
    let files: Vec<Vec<u8>> = paths
        .par_iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    let per_file: Vec<(Vec<Body>, Vec<u8>)> = files
        .par_iter()
        .enumerate()
        .map(|(i, src)| {
            let bodies = bodies_of(i, src);
            let mut blanked = src.clone();
            for b in &bodies {
                for byte in &mut blanked[b.span.0..b.span.1] {
                    if *byte != b'\n' {
                        *byte = b' ';
                    }
                }
            }
            (bodies, blanked)
        })
        .collect();
    let (per_file_bodies, blanked): (Vec<Vec<Body>>, Vec<Vec<u8>>) = per_file.into_iter().unzip();
    let bodies: Vec<Body> = per_file_bodies.into_iter().flatten().collect();
    let mb = |bytes: usize| bytes as f64 / 1e6;
    let total: usize = files.iter().map(Vec::len).sum();
    let functions: Vec<&Body> = bodies.iter().filter(|b| b.span.1 > b.span.0).collect();
    let body_bytes: usize = functions.iter().map(|b| b.span.1 - b.span.0).sum();
    println!(
        "{} files, {:.0} MB; {} function bodies, {:.0} MB",
        files.len(),
        mb(total),
        functions.len(),
        mb(body_bytes)
    );
    let (plain, floor) = (parse_all(&files), parse_all(&blanked));
    println!(
        "plain parse {plain:.1} s; every body blanked {floor:.1} s ({:.2}x)",
        floor / plain
    );
    let is_source = |f: usize| paths[f].extension().is_some_and(|e| e == "c");
    let (reached, direct) = closure(&bodies, is_source);
    let bytes_of = |pick: &dyn Fn(usize) -> bool| -> usize {
        (0..bodies.len())
            .filter(|&k| pick(k))
            .map(|k| bodies[k].span.1 - bodies[k].span.0)
            .sum()
    };
    let api = lock_api_names();
    let names_api = |k: usize| bodies[k].idents.iter().any(|i| api.contains(i));
    println!(
        "bodies naming the lock API: {:.0} MB ({direct} bodies and macros); \
         with their callers up the call graph: {} of {} bodies, {:.0} MB",
        mb(bytes_of(&names_api)),
        (0..bodies.len())
            .filter(|&k| reached[k] && bodies[k].span.1 > bodies[k].span.0)
            .count(),
        functions.len(),
        mb(bytes_of(&|k| reached[k]))
    );
}
