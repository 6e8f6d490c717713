//! The built-in rule files, embedded in the binary from the project's
//! `rules/` folder, and loading them together with user rule files.

use lockwarden_flow::LockApiConfig;
use lockwarden_syntax::MacroConfig;

use crate::file::{parse, RuleFileError, RuleSet};

/// `(file name, contents)` of every built-in rule file.
pub const FILES: &[(&str, &str)] = &[
    (
        "rules/syntax.toml",
        include_str!("../../../rules/syntax.toml"),
    ),
    (
        "rules/locks.toml",
        include_str!("../../../rules/locks.toml"),
    ),
    (
        "rules/balloon.toml",
        include_str!("../../../rules/balloon.toml"),
    ),
];

/// Everything rule files configure.
#[derive(Debug, Default)]
pub struct Config {
    pub syntax: MacroConfig,
    pub locks: LockApiConfig,
    pub rules: RuleSet,
}

impl Config {
    /// Adds one rule file.
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), Box<RuleFileError>> {
        let mut file = parse(name, text).map_err(Box::new)?;
        self.syntax.extend(std::mem::take(&mut file.syntax));
        self.locks.extend(std::mem::take(&mut file.locks));
        self.rules.add(name, text, file).map_err(Box::new)
    }
}

/// The built-in configuration.
pub fn config() -> Result<Config, Box<RuleFileError>> {
    let mut config = Config::default();
    for (name, text) in FILES {
        config.add(name, text)?;
    }
    Ok(config)
}

/// The merged `[syntax]` and `[locks]` tables of the built-in files.
pub fn configs() -> Result<(MacroConfig, LockApiConfig), String> {
    let c = config().map_err(|e| e.to_string())?;
    Ok((c.syntax, c.locks))
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_rule_files_load() {
        let c = super::config().unwrap();
        assert!(!c.syntax.attributes.is_empty());
        assert!(!c.locks.family.is_empty());
        assert!(c
            .rules
            .rules
            .iter()
            .any(|r| r.id.get_ref() == "balloon/page-private-needs-lock"));
    }
}
