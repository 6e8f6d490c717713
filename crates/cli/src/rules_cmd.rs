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
}

pub fn run(args: Args) -> ExitCode {
    let config = match crate::config::load(&args.rules) {
        Ok(c) => c,
        Err(e) => {
            crate::config::print_error(&e);
            return ExitCode::from(crate::EXIT_USAGE);
        }
    };
    let checker = Checker::new(config);
    let rules = checker.rules();
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
    let doc = checker
        .rule_set()
        .rules
        .iter()
        .find(|r| r.id.get_ref() == &id)
        .and_then(|r| r.doc.clone());
    if let Some(doc) = doc {
        crate::outln!("\n{}", doc.trim_end());
    }
    if let Some(help) = &rule.help {
        crate::outln!("\nhelp: {help}");
    }
    ExitCode::SUCCESS
}
