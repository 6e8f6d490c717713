//! `lockwarden explain FILE FUNCTION`: why a finding is there. Prints the
//! function's lines, and after each line that does something to locks the
//! locks held there (on every path, on some path, in an unknown state, or
//! waiting for a try result to be tested), the summaries of the callees the
//! line calls, and what each return returns holding; then the function's
//! exit facts and its own summary, as its callers see it.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use lockwarden_flow::analysis::{FunctionUnit, Visitor};
use lockwarden_flow::cfg::{NodeId, Op};
use lockwarden_flow::dataflow::{Cursor, State};
use lockwarden_flow::summary::{ExitFact, Summary};
use lockwarden_rules::Checker;
use lockwarden_syntax::Span;

use crate::files::{find_root, include_context};

#[derive(clap::Args)]
pub struct Args {
    /// The C file that defines the function.
    file: PathBuf,
    /// The function to explain.
    function: String,
    /// More files to analyse with it (callers, callees in other files).
    #[arg(long = "with")]
    with: Vec<PathBuf>,
    /// Tree root; paths are relative to it.
    #[arg(long)]
    root: Option<PathBuf>,
    /// A rule file or directory of *.toml rule files, added to the built-in rules.
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// Also print each path kept apart after a line: its locks and what it
    /// knows (the facts its branches learned).
    #[arg(long)]
    paths: bool,
}

pub fn run(args: Args) -> ExitCode {
    match explain(&args) {
        Ok(text) => {
            crate::print_stdout(&text);
            ExitCode::SUCCESS
        }
        Err(e) => {
            crate::config::print_error(&e);
            ExitCode::from(crate::EXIT_USAGE)
        }
    }
}

/// What one node did, for the line it ends on.
#[derive(Clone, Debug)]
struct NodeNote {
    span: Span,
    /// The lock sets after the node.
    locks: String,
    /// A callee's summary, or what a return returns.
    note: Option<String>,
    /// Each path after the node (`--paths`).
    paths: Vec<String>,
}

/// Keeps the notes of the functions named like the one explained.
struct ExplainVisitor<'a> {
    function: &'a str,
    paths: bool,
}

impl Visitor for ExplainVisitor<'_> {
    type Output = Option<Vec<NodeNote>>;

    fn visit(&self, f: &FunctionUnit, cursor: &Cursor<'_>, _: &[ExitFact]) -> Self::Output {
        if f.name != self.function {
            return None;
        }
        let mut notes = Vec::new();
        for (node, op) in cursor.cfg.ops.iter().enumerate() {
            let node = node as NodeId;
            let Some(span) = op.span() else { continue };
            let before = cursor.states_before(node);
            if before.is_empty() {
                notes.push(NodeNote {
                    span,
                    locks: "unreachable".to_owned(),
                    note: None,
                    paths: Vec::new(),
                });
                continue;
            }
            let after: Vec<State> = before.iter().flat_map(|s| cursor.after(node, s)).collect();
            let note = match op {
                Op::Call(call) => cursor.callee_summary(node).map(|summary| {
                    let name = call.callee.as_deref().unwrap_or("?");
                    format!("{name}(): {}", describe(summary))
                }),
                Op::Return { value, .. } => {
                    Some(format!("returns {value:?} with {}", lock_sets(before)))
                }
                _ => None,
            };
            let paths = if self.paths {
                after.iter().map(path_facts).collect()
            } else {
                Vec::new()
            };
            notes.push(NodeNote {
                span,
                locks: lock_sets(&after),
                note,
                paths,
            });
        }
        Some(notes)
    }
}

/// A summary in words.
fn describe(summary: &Summary) -> String {
    let mut parts: Vec<String> = summary.effects.iter().map(ToString::to_string).collect();
    if !summary.may_drop.is_empty() {
        parts.push(format!(
            "may drop {} out of sight",
            summary.may_drop.join(", ")
        ));
    }
    if parts.is_empty() {
        parts.push("nothing to locks".to_owned());
    }
    let what = if summary.primitive {
        "lock primitive"
    } else {
        "analysed"
    };
    format!("{} [{what}]", parts.join("; "))
}

/// One path: each lock's depth range, the facts its branches learned, and
/// the names it knows to be one object.
fn path_facts(state: &State) -> String {
    let locks: Vec<String> = state
        .locks
        .iter()
        .map(|(lock, l)| format!("{lock} [{},{}]", l.min, l.max))
        .collect();
    let facts: Vec<String> = state
        .facts
        .iter()
        .map(|(key, truth)| format!("{key:?}={}", if *truth { "T" } else { "F" }))
        .collect();
    let aliases: Vec<String> = state
        .aliases
        .iter()
        .map(|(name, object)| format!("{name} = {object}"))
        .collect();
    format!(
        "locks: {}; knows: {}; aliases: {}",
        list(&locks),
        list(&facts),
        list(&aliases)
    )
}

/// The lock sets over the paths in `states`: held on every path, on some,
/// unknown, and untested try results.
fn lock_sets(states: &[State]) -> String {
    let mut held = Vec::new();
    let mut maybe = Vec::new();
    let mut unknown = Vec::new();
    let mut keys: Vec<_> = states.iter().flat_map(|s| s.locks.keys()).collect();
    keys.sort();
    keys.dedup();
    for lock in keys {
        let levels: Vec<_> = states
            .iter()
            .filter(|s| s.lock_exists(lock))
            .map(|s| s.level(lock))
            .collect();
        let name = lock.to_string();
        if levels.iter().any(|l| l.unknown) {
            unknown.push(name);
        } else if !levels.is_empty() && levels.iter().all(|l| l.held_min() >= 1) {
            let required = levels.iter().any(|l| l.required);
            held.push(if required {
                format!("{name} (required)")
            } else {
                name
            });
        } else if levels.iter().any(|l| l.held_max() >= 1) {
            maybe.push(name);
        }
    }
    let mut pending: Vec<String> = states
        .iter()
        .flat_map(|s| &s.pending)
        .map(|p| p.lock.to_string())
        .collect();
    pending.sort();
    pending.dedup();
    let mut out = format!("held: {}", list(&held));
    for (title, items) in [
        ("maybe", maybe),
        ("unknown", unknown),
        ("untested", pending),
    ] {
        if !items.is_empty() {
            let _ = write!(out, "; {title}: {}", list(&items));
        }
    }
    if states.len() > 1 {
        let _ = write!(out, " ({} paths)", states.len());
    }
    out
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

fn explain(args: &Args) -> Result<String> {
    let root = find_root(args.root.as_deref(), std::slice::from_ref(&args.file))?;
    let target = crate::files::collect_c_files(&root, std::slice::from_ref(&args.file))?
        .into_iter()
        .next()
        .context("no file to explain")?;
    let mut named = vec![target.clone()];
    if !args.with.is_empty() {
        named.extend(crate::files::collect_c_files(&root, &args.with)?);
    }
    named.sort();
    named.dedup();
    let context = include_context(&root, &named);
    let mut contents = Vec::new();
    for rel in named.into_iter().chain(context) {
        let bytes = crate::files::read_source(&root.join(&rel))
            .with_context(|| format!("cannot read {}", rel.display()))?;
        contents.push((rel, bytes));
    }
    let checker = Checker::new(crate::config::load(&args.rules)?);
    let analysis = checker.analyze(
        contents,
        &ExplainVisitor {
            function: &args.function,
            paths: args.paths,
        },
    );
    let program = &analysis.program;
    let found = program
        .functions
        .iter()
        .enumerate()
        .find(|(_, f)| f.name == args.function && program.files[f.file].path == target);
    let Some((i, f)) = found else {
        bail!(
            "no function `{}` is defined in {}",
            args.function,
            target.display()
        );
    };
    let file = &program.files[f.file];
    let source = String::from_utf8_lossy(&file.source()).into_owned();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(source.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |offset: u32| line_starts.partition_point(|&s| s <= offset as usize);
    let result = &analysis.results[i];
    let notes = result.visited.clone().unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}:{}: {}()",
        file.path.display(),
        line_of(f.span.start),
        f.name
    );
    let (first, last) = (line_of(f.span.start), line_of(f.span.end.saturating_sub(1)));
    let mut shown = String::new();
    for line in first..=last {
        let text = source.lines().nth(line - 1).unwrap_or("");
        let _ = writeln!(out, "{line:>6} | {text}");
        let here: Vec<&NodeNote> = notes
            .iter()
            .filter(|n| line_of(n.span.end.saturating_sub(1).max(n.span.start)) == line)
            .collect();
        for note in &here {
            if let Some(text) = &note.note {
                let _ = writeln!(out, "       |     {text}");
            }
        }
        if let Some(last) = here.last() {
            if last.locks != shown {
                let _ = writeln!(out, "       |   = {}", last.locks);
                shown = last.locks.clone();
            }
            for path in &last.paths {
                let _ = writeln!(out, "       |     path: {path}");
            }
        }
    }
    let _ = writeln!(out, "exits:");
    if result.exits.is_empty() {
        let _ = writeln!(out, "  no lock changes between entry and return");
    }
    for exit in &result.exits {
        let returns: Vec<String> = exit
            .returns
            .iter()
            .map(|r| {
                let depth = if r.min == r.max {
                    format!("{:+}", r.min)
                } else {
                    format!("{:+}..{:+}", r.min, r.max)
                };
                format!("line {} {:?} {depth}", line_of(r.span.start), r.value)
            })
            .collect();
        let _ = writeln!(
            out,
            "  `{}`: {:?}; returns: {}",
            exit.lock,
            exit.kind,
            returns.join(", ")
        );
    }
    let _ = writeln!(out, "summary: {}", describe(&result.summary));
    if let Some(why) = result.incomplete {
        let _ = writeln!(
            out,
            "note: the analysis of this function is incomplete ({})",
            why.reason()
        );
    }
    Ok(out)
}
