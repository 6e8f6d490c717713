//! Loading rule files: the built-in ones, plus `--rules PATH` files or directories.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lockwarden_flow::LockApiConfig;
use lockwarden_syntax::MacroConfig;
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    syntax: MacroConfig,
    #[serde(default)]
    locks: LockApiConfig,
}

/// The built-in configuration extended by every rule file under `extra`.
pub fn load(extra: &[PathBuf]) -> Result<(MacroConfig, LockApiConfig)> {
    let (mut syntax, mut locks) =
        lockwarden_rules::builtin::configs().map_err(anyhow::Error::msg)?;
    for path in extra {
        for file in rule_files(path)? {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read rule file {}", file.display()))?;
            let parsed: RuleFile = toml::from_str(&text)
                .with_context(|| format!("invalid rule file {}", file.display()))?;
            syntax.extend(parsed.syntax);
            locks.extend(parsed.locks);
        }
    }
    Ok((syntax, locks))
}

/// A rule file, or the `*.toml` files of a directory, sorted.
fn rule_files(path: &Path) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read --rules {}", path.display()))?;
    if meta.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)
        .with_context(|| format!("cannot read --rules {}", path.display()))?
    {
        let p = entry?.path();
        if p.extension().is_some_and(|e| e == "toml") {
            files.push(p);
        }
    }
    if files.is_empty() {
        bail!("--rules {}: no *.toml rule files there", path.display());
    }
    files.sort();
    Ok(files)
}
