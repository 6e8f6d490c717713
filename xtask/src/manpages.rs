//! `cargo xtask manpages [DIR]`: shell completions and man pages, generated
//! from the command line's own definition (`lockwarden_cli::command()`), so
//! they never drift from the options the binary accepts.
//!
//! Writes `DIR/completions/{lockwarden.bash,_lockwarden,lockwarden.fish}` and
//! `DIR/man/lockwarden.1` with one `lockwarden-COMMAND.1` per subcommand
//! (default DIR: `target/dist`). The README's install section says where
//! they go.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap_complete::Shell;

/// The shells completions are generated for, with the file each is written to.
const SHELLS: [(Shell, &str); 3] = [
    (Shell::Bash, "lockwarden.bash"),
    (Shell::Zsh, "_lockwarden"),
    (Shell::Fish, "lockwarden.fish"),
];

pub(crate) fn run(dir: Option<&str>) -> Result<()> {
    let dir = dir.map_or_else(
        || crate::workspace_root().join("target/dist"),
        PathBuf::from,
    );
    let written = generate(&dir)?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}

/// Generates every completion and man page into `dir`; the files written.
pub(crate) fn generate(dir: &Path) -> Result<Vec<PathBuf>> {
    let completions = dir.join("completions");
    let man = dir.join("man");
    for sub in [&completions, &man] {
        std::fs::create_dir_all(sub).with_context(|| format!("creating {}", sub.display()))?;
    }
    let mut written = Vec::new();
    for (shell, name) in SHELLS {
        let mut text = Vec::new();
        clap_complete::generate(
            shell,
            &mut lockwarden_cli::command(),
            "lockwarden",
            &mut text,
        );
        written.push(write(&completions.join(name), &text)?);
    }
    let command = lockwarden_cli::command();
    written.push(write(
        &man.join("lockwarden.1"),
        &render(&command, "lockwarden")?,
    )?);
    for sub in command.get_subcommands() {
        // A subcommand's page is titled and named as `man` users look it up.
        let name = format!("lockwarden-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("lockwarden {}", sub.get_name()));
        written.push(write(
            &man.join(format!("{name}.1")),
            &render(&page, &name)?,
        )?);
    }
    Ok(written)
}

fn render(command: &clap::Command, title: &str) -> Result<Vec<u8>> {
    let mut text = Vec::new();
    clap_mangen::Man::new(command.clone())
        .title(title.to_owned())
        .render(&mut text)?;
    Ok(text)
}

fn write(path: &Path, text: &[u8]) -> Result<PathBuf> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_and_man_pages_cover_every_command_and_option() {
        let dir = std::env::temp_dir().join(format!("lockwarden-manpages-{}", std::process::id()));
        let written = generate(&dir).unwrap();
        let read = |rel: &str| std::fs::read_to_string(dir.join(rel)).unwrap();
        // Every subcommand has its page, and the completions know it.
        for sub in lockwarden_cli::command().get_subcommands() {
            let name = sub.get_name();
            let page = read(&format!("man/lockwarden-{name}.1"));
            // roff escapes every hyphen.
            let roff = name.replace('-', "\\-");
            assert!(
                page.contains(&format!("lockwarden\\-{roff}")),
                "{name}: {page}"
            );
            // The synopsis shows the command as typed.
            assert!(
                page.contains(&format!("lockwarden {roff}")),
                "{name}: {page}"
            );
            for shell in ["completions/lockwarden.bash", "completions/_lockwarden"] {
                assert!(read(shell).contains(name), "{shell} lacks {name}");
            }
        }
        // Options as the binary accepts them, `--staged` and `--exclude` of check.
        let check = read("man/lockwarden-check.1");
        for option in ["staged", "exclude", "fail\\-on"] {
            assert!(check.contains(option), "check page lacks {option}");
        }
        assert!(read("completions/lockwarden.fish").contains("staged"));
        assert_eq!(
            written.len(),
            4 + lockwarden_cli::command().get_subcommands().count()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
