//! The lock API data (`rules/locks.toml`) against the kernel's own lock
//! headers: every lock-like function or function-like macro that Debian's
//! linux-source-6.12 declares in [`HEADERS`], and every cleanup.h guard class
//! they declare, is either in the lock API or listed with a reason in
//! `tests/data/lock-api-exclusions.txt`. The tree is found through
//! `LOCKWARDEN_KERNEL` (which `cargo xtask test` sets) or at its default place
//! under `target/kernel/`.
//!
//! The headers are read with a small scanner, not a C parser: lines are
//! spliced, comments dropped, `#define NAME(` gives a function-like macro, and
//! a top-level declaration or definition gives the identifier before its first
//! `(` when a type precedes it (`static inline void spin_lock(`, `extern int
//! down_trylock(`); a top-level `NAME(…)` with nothing before it is a macro
//! invocation (`DEFINE_GUARD(…)`), not a declaration. The rules file is read
//! as plain TOML, independently of the engine's own reader.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod support;
use support::kernel_tree;

/// The headers that declare the kernel's locking primitives, relative to the
/// tree's root.
const HEADERS: &[&str] = &[
    "include/linux/spinlock.h",
    "include/linux/spinlock_api_smp.h",
    "include/linux/spinlock_rt.h",
    "include/linux/rwlock.h",
    "include/linux/rwlock_api_smp.h",
    "include/linux/rwlock_rt.h",
    "include/linux/mutex.h",
    "include/linux/rtmutex.h",
    "include/linux/ww_mutex.h",
    "include/linux/rwsem.h",
    "include/linux/semaphore.h",
    "include/linux/percpu-rwsem.h",
    "include/linux/seqlock.h",
    "include/linux/local_lock.h",
    "include/linux/bit_spinlock.h",
    "include/linux/pagemap.h",
    "include/linux/mmap_lock.h",
    "include/linux/rcupdate.h",
    "include/linux/rcupdate_trace.h",
    "include/linux/srcu.h",
    "include/linux/lockdep.h",
    "include/linux/rtnetlink.h",
    "include/net/sock.h",
];

/// Implementation layers beneath the primitives, excluded by prefix rather
/// than one by one: nothing outside the lock implementations calls them.
const IMPLEMENTATION_PREFIXES: &[(&str, &str)] = &[
    (
        "_raw_",
        "the out-of-line spinlock/rwlock layer behind raw_spin_*/read_*/write_*",
    ),
    ("__raw_", "the inline spinlock/rwlock layer behind _raw_*"),
    ("do_raw_", "the debug/arch dispatch layer behind __raw_*"),
    ("arch_", "the architecture's spinlock/rwlock implementation"),
    (
        "queued_",
        "the queued spinlock/rwlock implementation behind arch_*",
    ),
    (
        "rt_spin_",
        "the PREEMPT_RT spinlock implementation (rtmutex based) behind spin_*",
    ),
    (
        "rt_read_",
        "the PREEMPT_RT rwlock implementation behind read_*",
    ),
    (
        "rt_write_",
        "the PREEMPT_RT rwlock implementation behind write_*",
    ),
];

/// The cleanup.h macros that declare a guard class; the `_COND` forms name
/// the class by their first two arguments (`spinlock` + `_try`).
const GUARD_MACROS: &[&str] = &[
    "DEFINE_GUARD",
    "DEFINE_LOCK_GUARD_0",
    "DEFINE_LOCK_GUARD_1",
    "DEFINE_GUARD_COND",
    "DEFINE_LOCK_GUARD_1_COND",
];

/// Identifiers directly followed by `(` in a declaration that are not the
/// declared name (attributes and annotations).
const NOT_NAMES: &[&str] = &[
    "__attribute__",
    "__aligned",
    "__section",
    "__printf",
    "__scanf",
    "typeof",
    "__typeof__",
    "sizeof",
    "__acquires",
    "__releases",
    "__must_hold",
    "__cond_acquires",
    "__cond_releases",
    "__diag_ignore",
    "__no_context_analysis",
    "__malloc",
    "alignas",
    "_Alignas",
    "__alloc_size",
    "__realloc_size",
];

/// The lists of a `[[locks.family]]` that name API functions.
const FAMILY_LISTS: &[&str] = &[
    "acquire",
    "release",
    "try_acquire",
    "try_acquire_zero",
    "assert_held",
    "assert_not_held",
    "acquire_returned",
    "try_acquire_returned",
];

/// Whether a declared name looks like a lock operation: it speaks of a lock
/// (`lock`, `unlock`, `trylock`, `seqlock`, `lockdep`, any case) or an
/// assertion, or it is a semaphore verb (`down`, `up`, `down_*`, `up_*`,
/// `downgrade*`, `*_down_*`, `*_up_*`), an RCU or SRCU read side
/// (`rcu_read_`), a seqlock writer (`write_seq`), a bit spinlock
/// (`bit_spin_`) or `release_sock`.
fn is_lock_like(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("lock")
        || lower.contains("assert")
        || name == "down"
        || name == "up"
        || name.starts_with("down_")
        || name.starts_with("up_")
        || name.starts_with("downgrade")
        || name.contains("_down_")
        || name.contains("_up_")
        || ["rcu_read_", "write_seq", "bit_spin_", "release_sock"]
            .iter()
            .any(|p| name.contains(p))
}

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The lock API as `rules/locks.toml` states it.
struct LockApi {
    /// Every API function name, with each (effect, kind) it is listed with.
    functions: BTreeMap<String, BTreeSet<(String, String)>>,
    /// Guard class → the API function it stands for.
    guard_classes: BTreeMap<String, String>,
}

fn strings(value: Option<&toml::Value>) -> Vec<String> {
    value
        .and_then(toml::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn lock_api() -> LockApi {
    let path = repo_file("rules/locks.toml");
    let doc: toml::Table = read(&path)
        .parse()
        .unwrap_or_else(|e| panic!("{} is not TOML: {e}", path.display()));
    let locks = doc
        .get("locks")
        .and_then(toml::Value::as_table)
        .expect("rules/locks.toml has a [locks] table");
    let mut functions: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    let tables = |key: &str| -> Vec<toml::Table> {
        locks
            .get(key)
            .and_then(toml::Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_table().cloned()).collect())
            .unwrap_or_default()
    };
    for family in tables("family") {
        let kind = family
            .get("kind")
            .and_then(toml::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        for list in FAMILY_LISTS {
            for name in strings(family.get(*list)) {
                functions
                    .entry(name)
                    .or_default()
                    .insert((list.to_string(), kind.clone()));
            }
        }
    }
    for function in tables("function") {
        let field = |key: &str| {
            function
                .get(key)
                .and_then(toml::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        functions
            .entry(field("name"))
            .or_default()
            .insert((field("effect"), field("kind")));
    }
    let guard_classes: BTreeMap<String, String> = locks
        .get("guard_classes")
        .and_then(toml::Value::as_table)
        .map(|t| {
            t.iter()
                .filter_map(|(class, f)| Some((class.clone(), f.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    LockApi {
        functions,
        guard_classes,
    }
}

/// The exclusion list: name (or `guard:CLASS`) → reason, and the problems of
/// the file itself.
fn exclusions() -> (BTreeMap<String, String>, Vec<String>) {
    let path = repo_file("tests/data/lock-api-exclusions.txt");
    let mut excluded = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, line) in read(&path).lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, reason) = match line.split_once(char::is_whitespace) {
            Some((name, reason)) if !reason.trim().is_empty() => (name, reason.trim()),
            _ => {
                problems.push(format!(
                    "lock-api-exclusions.txt:{}: `{line}` gives no reason",
                    i + 1
                ));
                continue;
            }
        };
        if excluded
            .insert(name.to_owned(), reason.to_owned())
            .is_some()
        {
            problems.push(format!(
                "lock-api-exclusions.txt:{}: {name} is listed twice",
                i + 1
            ));
        }
    }
    (excluded, problems)
}

/// Translation phase 2: a backslash ending a line joins it to the next.
fn splice_lines(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let mut j = i + 1;
            while j < b.len() && matches!(b[j], b' ' | b'\t' | b'\r') {
                j += 1;
            }
            if j < b.len() && b[j] == b'\n' {
                out.push(b' ');
                i = j + 1;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Drops comments (each becomes a space, keeping its newlines); string and
/// character literals are kept whole.
fn strip_comments(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"/*") {
            let end = b[i + 2..]
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(b.len(), |p| i + 2 + p + 2);
            out.push(b' ');
            out.extend(b[i..end].iter().filter(|&&c| c == b'\n'));
            i = end;
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'"' || b[i] == b'\'' {
            let quote = b[i];
            let start = i;
            i += 1;
            while i < b.len() && b[i] != quote && b[i] != b'\n' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
            out.extend_from_slice(&b[start..i]);
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident(token: &str) -> bool {
    token.chars().next().is_some_and(is_ident_start)
}

/// Identifiers and single punctuation characters.
fn tokens(code: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut chars = code.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if is_ident_start(c) {
            let mut end = start + c.len_utf8();
            while let Some(&(i, d)) = chars.peek() {
                if d.is_ascii_alphanumeric() || d == '_' {
                    end = i + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(&code[start..end]);
        } else {
            out.push(&code[start..start + c.len_utf8()]);
        }
    }
    out
}

/// The name `#define NAME(` defines, for a function-like macro.
fn function_like_macro(directive: &str) -> Option<&str> {
    let rest = directive.trim_start().strip_prefix('#')?.trim_start();
    let rest = rest.strip_prefix("define")?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = rest.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let name = &rest[..end];
    (is_ident(name) && rest[end..].starts_with('(')).then_some(name)
}

/// The name a top-level item declares or defines as a function, if any.
fn declared_function<'a>(item: &[&'a str]) -> Option<&'a str> {
    let mut start = 0; // the first token of the current declaration
    let mut parens = 0i32;
    let mut k = 0;
    while k < item.len() {
        let t = item[k];
        if t == "("
            && parens == 0
            && k > start
            && is_ident(item[k - 1])
            && !NOT_NAMES.contains(&item[k - 1])
        {
            if k - 1 > start && (is_ident(item[k - 2]) || item[k - 2] == "*") {
                return Some(item[k - 1]);
            }
            // `NAME(…)` opening the item: a macro invocation such as
            // `DEFINE_GUARD(…)` (which needs no `;`), not a declaration.
            let mut depth = 0;
            while k < item.len() {
                match item[k] {
                    "(" => depth += 1,
                    ")" => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                k += 1;
            }
            start = k + 1;
        } else if t == "(" {
            parens += 1;
        } else if t == ")" {
            parens -= 1;
        }
        k += 1;
    }
    None
}

/// The functions and function-like macros a header declares or defines, and
/// the guard classes it declares.
fn declarations(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let text = strip_comments(&splice_lines(text));
    let mut names = BTreeSet::new();
    let mut code = String::with_capacity(text.len());
    for line in text.lines() {
        if line.trim_start().starts_with('#') {
            if let Some(name) = function_like_macro(line) {
                names.insert(name.to_owned());
            }
        } else {
            code.push_str(line);
        }
        code.push('\n');
    }
    let toks = tokens(&code);
    let mut guards = BTreeSet::new();
    for (k, t) in toks.iter().enumerate() {
        if !GUARD_MACROS.contains(t) || toks.get(k + 1) != Some(&"(") {
            continue;
        }
        let Some(class) = toks.get(k + 2).filter(|c| is_ident(c)) else {
            continue;
        };
        let ext = match (t.ends_with("_COND"), toks.get(k + 3), toks.get(k + 4)) {
            (true, Some(&","), Some(ext)) if is_ident(ext) => *ext,
            _ => "",
        };
        guards.insert(format!("{class}{ext}"));
    }
    // Top-level items: split at `;` and at braces at depth 0.
    let mut depth = 0i32;
    let mut start = 0;
    for (k, t) in toks.iter().enumerate() {
        match *t {
            "{" => {
                if depth == 0 {
                    if let Some(name) = declared_function(&toks[start..k]) {
                        names.insert(name.to_owned());
                    }
                }
                depth += 1;
            }
            "}" => {
                depth -= 1;
                if depth == 0 {
                    start = k + 1;
                }
            }
            ";" if depth == 0 => {
                if let Some(name) = declared_function(&toks[start..k]) {
                    names.insert(name.to_owned());
                }
                start = k + 1;
            }
            _ => {}
        }
    }
    (names, guards)
}

fn implementation_prefix(name: &str) -> Option<&'static str> {
    IMPLEMENTATION_PREFIXES
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map(|(_, reason)| *reason)
}

/// The rule file and the exclusion list agree with themselves, tree or not:
/// a name has one meaning, a guard class stands for an API function, and a
/// name is not both modelled and excluded.
#[test]
fn lock_api_data_is_consistent() {
    let api = lock_api();
    let (excluded, mut problems) = exclusions();
    for (name, meanings) in &api.functions {
        if meanings.len() > 1 {
            problems.push(format!(
                "{name} is listed with more than one meaning: {meanings:?}"
            ));
        }
    }
    for (class, function) in &api.guard_classes {
        if !api.functions.contains_key(function) {
            problems.push(format!(
                "guard class {class} stands for {function}, which is not in the lock API"
            ));
        }
    }
    for name in excluded.keys() {
        let modelled = match name.strip_prefix("guard:") {
            Some(class) => api.guard_classes.contains_key(class),
            None => api.functions.contains_key(name),
        };
        if modelled {
            problems.push(format!(
                "{name} is both in rules/locks.toml and in lock-api-exclusions.txt"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// Every lock-like name and guard class of the lock headers is modelled or
/// excluded with a reason, and every exclusion still names something there.
#[test]
fn lock_api_covers_the_kernel_lock_headers() {
    let tree = kernel_tree();
    let api = lock_api();
    let (excluded, mut problems) = exclusions();
    let mut all_names = BTreeSet::new();
    let mut all_guards = BTreeSet::new();
    let mut summary = Vec::new();
    for header in HEADERS {
        let (names, guards) = declarations(&read(&tree.join(header)));
        assert!(
            !names.is_empty(),
            "{header}: no declarations found; has the scanner broken?"
        );
        let lock_like: Vec<&String> = names.iter().filter(|n| is_lock_like(n)).collect();
        let (mut covered, mut by_list, mut by_prefix) = (0, 0, 0);
        for name in &lock_like {
            if api.functions.contains_key(name.as_str()) {
                covered += 1;
            } else if excluded.contains_key(name.as_str()) {
                by_list += 1;
            } else if implementation_prefix(name).is_some() {
                by_prefix += 1;
            } else {
                problems.push(format!(
                    "{header}: {name} is neither in rules/locks.toml nor in tests/data/lock-api-exclusions.txt"
                ));
            }
        }
        for class in &guards {
            if !api.guard_classes.contains_key(class)
                && !excluded.contains_key(&format!("guard:{class}"))
            {
                problems.push(format!(
                    "{header}: guard class {class} is neither in [locks.guard_classes] nor excluded as guard:{class}"
                ));
            }
        }
        summary.push(format!(
            "{header}: {} names, {} lock-like: {covered} in the API, {by_list} excluded, {by_prefix} implementation layer; {} guard classes",
            names.len(),
            lock_like.len(),
            guards.len()
        ));
        all_names.extend(names);
        all_guards.extend(guards);
    }
    for name in excluded.keys() {
        let found = match name.strip_prefix("guard:") {
            Some(class) => all_guards.contains(class),
            None => all_names.contains(name),
        };
        if !found {
            problems.push(format!(
                "lock-api-exclusions.txt: {name} is declared by none of the headers (stale?)"
            ));
        }
    }
    // The scanner must keep finding the primitives themselves.
    for expected in [
        "spin_lock_irqsave",
        "mutex_lock",
        "down_trylock",
        "write_seqlock",
        "bit_spin_lock",
    ] {
        assert!(
            all_names.contains(expected),
            "the header scanner no longer finds {expected}"
        );
    }
    println!("{}", summary.join("\n"));
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
