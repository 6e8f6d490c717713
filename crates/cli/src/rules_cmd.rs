//! `lockwarden rules [ID]`: list the loaded rules, or explain one.

use std::path::PathBuf;
use std::process::ExitCode;

use lockwarden_rules::Checker;

#[derive(clap::Args)]
pub struct Args {
    /// A rule id to explain; without it, every rule is listed.
    id: Option<String>,
    /// A rule file or directory of *.toml rule files, added to the built-in rules.
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// text, or json: an array of rules (one object with an id), each with
    /// id, severity, summary, doc and help, for scripts and editors.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

/// A rule as `rules --format json` prints it.
#[derive(serde::Serialize)]
struct JsonRule<'a> {
    id: &'a str,
    severity: &'a str,
    summary: &'a str,
    doc: Option<&'a str>,
    help: Option<&'a str>,
}

pub fn run(args: Args) -> ExitCode {
    let config = match crate::config::load(&args.rules) {
        Ok(c) => c,
        Err(e) => {
            crate::config::print_error(&e);
            return ExitCode::from(crate::EXIT_USAGE);
        }
    };
    let rules = Checker::new(config).rules();
    if args.format == "json" {
        let json: Vec<JsonRule<'_>> = rules
            .iter()
            .filter(|r| args.id.as_ref().is_none_or(|id| *id == r.id))
            .map(|r| JsonRule {
                id: &r.id,
                severity: r.severity.as_str(),
                summary: &r.summary,
                doc: r.doc.as_deref().map(str::trim_end),
                help: r.help.as_deref(),
            })
            .collect();
        let text = match (&args.id, json.as_slice()) {
            (Some(id), []) => {
                eprintln!("error: no rule `{id}`; `lockwarden rules` lists them");
                return ExitCode::from(crate::EXIT_USAGE);
            }
            (Some(_), [one]) => serde_json::to_string_pretty(one),
            _ => serde_json::to_string_pretty(&json),
        };
        crate::outln!("{}", text.expect("plain structs serialize"));
        return ExitCode::SUCCESS;
    }
    let Some(id) = args.id else {
        let width = rules.iter().map(|r| r.id.len()).max().unwrap_or(0);
        for r in &rules {
            crate::outln!(
                "{:<width$}  {:<7}  {}",
                r.id,
                r.severity.as_str(),
                r.summary
            );
        }
        return ExitCode::SUCCESS;
    };
    let Some(rule) = rules.iter().find(|r| r.id == id) else {
        eprintln!("error: no rule `{id}`; `lockwarden rules` lists them");
        return ExitCode::from(crate::EXIT_USAGE);
    };
    crate::outln!(
        "{} ({})\n\n{}",
        rule.id,
        rule.severity.as_str(),
        rule.summary
    );
    if let Some(doc) = &rule.doc {
        crate::outln!("\n{}", doc.trim_end());
    }
    if let Some(help) = &rule.help {
        crate::outln!("\nhelp: {help}");
    }
    ExitCode::SUCCESS
}
