//! The built-in rule files, embedded in the binary from the project's `rules/` folder.

use lockwarden_flow::LockApiConfig;
use lockwarden_syntax::MacroConfig;
use serde::Deserialize;

/// `(file name, contents)` of every built-in rule file.
pub const FILES: &[(&str, &str)] = &[
    ("syntax.toml", include_str!("../../../rules/syntax.toml")),
    ("locks.toml", include_str!("../../../rules/locks.toml")),
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    syntax: MacroConfig,
    #[serde(default)]
    locks: LockApiConfig,
}

/// The merged `[syntax]` and `[locks]` tables of the built-in files.
pub fn configs() -> Result<(MacroConfig, LockApiConfig), String> {
    let mut syntax = MacroConfig::default();
    let mut locks = LockApiConfig::default();
    for (name, text) in FILES {
        let file: RuleFile =
            toml::from_str(text).map_err(|e| format!("built-in rules/{name}: {e}"))?;
        syntax.extend(file.syntax);
        locks.extend(file.locks);
    }
    Ok((syntax, locks))
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_rule_files_load() {
        let (syntax, locks) = super::configs().unwrap();
        assert!(!syntax.attributes.is_empty());
        assert!(!locks.family.is_empty());
    }
}
