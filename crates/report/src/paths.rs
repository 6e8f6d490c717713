//! How the human and gcc formats print a finding's file: as a path from the
//! directory the command was run in, the way gcc and ruff print them, so
//! that a terminal or an editor opens it from there. Run from the tree root
//! that is the root-relative path (`drivers/x.c`); from a directory under
//! the root, a path from it (`x.c`, `../foo.c`); from a directory the root
//! lies under, the path down to it (`linux/drivers/x.c`); from anywhere
//! else, the absolute path.
//!
//! Findings themselves keep root-relative paths, and so do the formats read
//! by programs (JSON, SARIF with `uriBaseId`, GitHub, GitLab): only the
//! printing changes.

use std::borrow::Cow;
use std::path::{Component, Path};

/// Where the printed paths start from; the default prints them relative to
/// the root, as the findings have them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathDisplay(Base);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Base {
    /// The command runs at the root.
    #[default]
    Root,
    /// The command runs in this root-relative directory (components).
    InsideRoot(Vec<String>),
    /// The root, as a prefix ending in `/`: relative to the command's
    /// directory when the root lies under it, else absolute.
    Prefix(String),
}

impl PathDisplay {
    /// Paths exactly as findings hold them: relative to the tree root.
    pub fn root_relative() -> PathDisplay {
        PathDisplay(Base::Root)
    }

    /// Paths from `dir`, the directory the command runs in, to the files of
    /// the tree at `root`. Both should be absolute and canonical (symbolic
    /// links resolved), as `std::fs::canonicalize` gives them.
    pub fn from_dir(root: &Path, dir: &Path) -> PathDisplay {
        if let Ok(inside) = dir.strip_prefix(root) {
            let parts = normal_components(inside);
            return PathDisplay(if parts.is_empty() {
                Base::Root
            } else {
                Base::InsideRoot(parts)
            });
        }
        let prefix = match root.strip_prefix(dir) {
            Ok(below) => normal_components(below).join("/"),
            Err(_) => root.to_string_lossy().replace('\\', "/"),
        };
        let prefix = if prefix.is_empty() || prefix.ends_with('/') {
            prefix
        } else {
            prefix + "/"
        };
        PathDisplay(Base::Prefix(prefix))
    }

    /// How `file`, relative to the root with `/` separators, is printed.
    pub fn show<'a>(&self, file: &'a str) -> Cow<'a, str> {
        match &self.0 {
            Base::Root => Cow::Borrowed(file),
            Base::Prefix(prefix) => Cow::Owned(format!("{prefix}{file}")),
            Base::InsideRoot(dir) => {
                let parts: Vec<&str> = file.split('/').collect();
                let common = dir
                    .iter()
                    .zip(&parts)
                    .take_while(|(d, p)| d.as_str() == **p)
                    .count();
                // A file is never the directory itself; should one be, its
                // root-relative path is printed.
                if common == parts.len() {
                    return Cow::Borrowed(file);
                }
                let mut shown: Vec<&str> = vec![".."; dir.len() - common];
                shown.extend(&parts[common..]);
                Cow::Owned(shown.join("/"))
            }
        }
    }
}

/// The plain names along `path` (no root, `.` or `..`).
fn normal_components(path: &Path) -> Vec<String> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(root: &str, dir: &str, file: &str) -> String {
        PathDisplay::from_dir(Path::new(root), Path::new(dir))
            .show(file)
            .into_owned()
    }

    #[test]
    fn at_the_root_paths_are_root_relative() {
        assert_eq!(shown("/k", "/k", "drivers/x.c"), "drivers/x.c");
        assert_eq!(
            PathDisplay::root_relative().show("drivers/x.c"),
            "drivers/x.c"
        );
        assert_eq!(PathDisplay::default(), PathDisplay::root_relative());
    }

    #[test]
    fn below_the_root_paths_go_up_as_far_as_needed() {
        assert_eq!(shown("/k", "/k/drivers", "drivers/x.c"), "x.c");
        assert_eq!(shown("/k", "/k/drivers/misc", "drivers/x.c"), "../x.c");
        assert_eq!(
            shown("/k", "/k/drivers/misc", "mm/balloon.c"),
            "../../mm/balloon.c"
        );
        assert_eq!(
            shown("/k", "/k/drivers", "drivers/misc/sub/y.c"),
            "misc/sub/y.c"
        );
        // A name that only starts like the directory is not inside it.
        assert_eq!(shown("/k", "/k/mm", "mmu/z.c"), "../mmu/z.c");
    }

    #[test]
    fn above_or_beside_the_root_paths_name_the_root() {
        assert_eq!(shown("/src/k", "/src", "mm/a.c"), "k/mm/a.c");
        assert_eq!(shown("/src/k", "/", "mm/a.c"), "src/k/mm/a.c");
        assert_eq!(shown("/src/k", "/tmp", "mm/a.c"), "/src/k/mm/a.c");
    }
}
