//! The tree-wide index: every function, record, typedef and global of a set of
//! parsed files, and `#include` resolution inside a kernel tree.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::outline::{Declared, FunctionDef, Outline, RecordDef};

/// A file's position in the [`Index`].
pub type FileId = usize;

/// Where a definition lives: the file and its position in that file's outline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    pub file: FileId,
    pub item: usize,
}

/// Lookup tables over the outlines of many files.
#[derive(Default)]
pub struct Index {
    pub paths: Vec<PathBuf>,
    pub outlines: Vec<Outline>,
    functions: HashMap<String, Vec<Loc>>,
    records: HashMap<String, Vec<Loc>>,
    typedefs: HashMap<String, Vec<Loc>>,
    globals: HashMap<String, Vec<Loc>>,
}

impl Index {
    /// Builds the index; `files` pairs each path (relative to the tree root)
    /// with its outline.
    pub fn new(files: Vec<(PathBuf, Outline)>) -> Index {
        let mut index = Index::default();
        for (file, (path, outline)) in files.into_iter().enumerate() {
            let add = |map: &mut HashMap<String, Vec<Loc>>, name: &str, item: usize| {
                map.entry(name.to_owned())
                    .or_default()
                    .push(Loc { file, item });
            };
            for (item, f) in outline.functions.iter().enumerate() {
                add(&mut index.functions, &f.name, item);
            }
            for (item, r) in outline.records.iter().enumerate() {
                add(&mut index.records, &r.name, item);
            }
            for (item, t) in outline.typedefs.iter().enumerate() {
                add(&mut index.typedefs, &t.name, item);
            }
            for (item, g) in outline.globals.iter().enumerate() {
                add(&mut index.globals, &g.name, item);
            }
            index.paths.push(path);
            index.outlines.push(outline);
        }
        index
    }

    /// Definitions of the function `name`.
    pub fn functions(&self, name: &str) -> impl Iterator<Item = (Loc, &FunctionDef)> {
        self.functions
            .get(name)
            .into_iter()
            .flatten()
            .map(|&loc| (loc, &self.outlines[loc.file].functions[loc.item]))
    }

    /// Definitions of the record `name` (`struct page`), or of the anonymous
    /// record a typedef names.
    pub fn records(&self, name: &str) -> impl Iterator<Item = &RecordDef> {
        self.records
            .get(name)
            .into_iter()
            .flatten()
            .map(|&loc| &self.outlines[loc.file].records[loc.item])
    }

    /// Typedefs named `name`.
    pub fn typedefs(&self, name: &str) -> impl Iterator<Item = &Declared> {
        self.typedefs
            .get(name)
            .into_iter()
            .flatten()
            .map(|&loc| &self.outlines[loc.file].typedefs[loc.item])
    }

    /// File-scope variables named `name`.
    pub fn globals(&self, name: &str) -> impl Iterator<Item = (FileId, &Declared)> {
        self.globals
            .get(name)
            .into_iter()
            .flatten()
            .map(|&loc| (loc.file, &self.outlines[loc.file].globals[loc.item]))
    }

    /// The type of field `field` in record `record` (first definition found).
    pub fn field_type(&self, record: &str, field: &str) -> Option<&Declared> {
        self.records(record)
            .flat_map(|r| r.fields.iter())
            .find(|f| f.name == field)
    }
}

/// Resolves `#include` lines to files of a kernel tree.
pub struct IncludeResolver<'a> {
    /// Root-relative paths with `/` separators, borrowed: the tree has
    /// 90k files, and `check --staged` builds one resolver per tree.
    files: HashSet<&'a str, foldhash::fast::FixedState>,
    arches: Vec<&'a str>,
}

impl<'a> IncludeResolver<'a> {
    /// `files` are every file of the tree, relative to its root, with `/`
    /// separators and no `.` or `..` (as git and a directory walk give them).
    pub fn new(files: impl IntoIterator<Item = &'a str>) -> IncludeResolver<'a> {
        let files: HashSet<&'a str, _> = files.into_iter().collect();
        let mut arches: Vec<&'a str> = files
            .iter()
            .filter_map(|p| {
                let mut parts = p.split('/');
                (parts.next()? == "arch")
                    .then(|| parts.next())
                    .flatten()
                    .filter(|_| parts.next().is_some())
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        arches.sort_unstable();
        IncludeResolver { files, arches }
    }

    /// Whether `candidate` (normalized) is a file of the tree.
    fn has(&self, candidate: &Path) -> bool {
        candidate.to_str().is_some_and(|c| self.files.contains(c))
    }

    /// The tree files an include in `from` may name: quoted includes relative
    /// to the including file first, then `include/`, `include/uapi/` and each
    /// architecture's include directories.
    pub fn resolve(&self, from: &Path, path: &str, system: bool) -> Vec<PathBuf> {
        if !system {
            if let Some(dir) = from.parent() {
                let candidate = normalize(&dir.join(path));
                if self.has(&candidate) {
                    return vec![candidate];
                }
            }
        }
        let mut found = Vec::new();
        for base in ["include", "include/uapi"] {
            let candidate = normalize(&Path::new(base).join(path));
            if self.has(&candidate) {
                found.push(candidate);
            }
        }
        if found.is_empty() {
            for arch in &self.arches {
                for base in ["include", "include/uapi"] {
                    let candidate = normalize(&Path::new("arch").join(arch).join(base).join(path));
                    if self.has(&candidate) {
                        found.push(candidate);
                    }
                }
            }
        }
        found
    }
}

/// Removes `.` and resolves `..` lexically.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_quoted_system_and_arch_includes() {
        let r = IncludeResolver::new([
            "mm/internal.h",
            "include/linux/mm.h",
            "arch/x86/include/asm/page.h",
            "arch/arm64/include/asm/page.h",
            "include/uapi/linux/types.h",
        ]);
        let from = Path::new("mm/balloon_compaction.c");
        assert_eq!(
            r.resolve(from, "internal.h", false),
            vec![PathBuf::from("mm/internal.h")]
        );
        assert_eq!(
            r.resolve(from, "linux/mm.h", true),
            vec![PathBuf::from("include/linux/mm.h")]
        );
        assert_eq!(
            r.resolve(from, "linux/types.h", true),
            vec![PathBuf::from("include/uapi/linux/types.h")]
        );
        assert_eq!(r.resolve(from, "asm/page.h", true).len(), 2);
        assert!(r.resolve(from, "nope.h", true).is_empty());
        assert_eq!(
            r.resolve(Path::new("mm/x/y.c"), "../internal.h", false),
            vec![PathBuf::from("mm/internal.h")]
        );
    }
}
