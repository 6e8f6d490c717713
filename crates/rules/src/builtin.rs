//! The built-in rule files, embedded in the binary from the project's
//! `rules/` folder, and loading them together with user rule files.

use lockwarden_cache::{Key, KeyBuilder};
use lockwarden_flow::LockApiConfig;
use lockwarden_syntax::MacroConfig;

use crate::file::{parse, RuleFileErrors, RuleSet};

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
    /// Names and texts of the files added, in order: what the configuration
    /// is made of, for cache keys.
    fingerprint: KeyBuilder,
}

impl Config {
    /// The key of the rule files this configuration was built from.
    pub fn key(&self) -> Key {
        self.fingerprint.finish()
    }

    /// Adds one rule file.
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), RuleFileErrors> {
        self.fingerprint.part(name.as_bytes()).part(text.as_bytes());
        let mut file = parse(name, text)?;
        self.syntax.extend(std::mem::take(&mut file.syntax));
        self.locks.extend(std::mem::take(&mut file.locks));
        self.rules.add(name, text, file)
    }

    /// Adds `(name, text)` rule files in order, and reports the errors of
    /// all of them.
    pub fn add_all<'a>(
        &mut self,
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), RuleFileErrors> {
        let mut errors = Vec::new();
        for (name, text) in files {
            if let Err(RuleFileErrors(e)) = self.add(name, text) {
                errors.extend(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(RuleFileErrors(errors))
        }
    }
}

/// The built-in configuration.
pub fn config() -> Result<Config, RuleFileErrors> {
    let mut config = Config::default();
    config.add_all(FILES.iter().copied())?;
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
