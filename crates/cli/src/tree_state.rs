//! What the files of a check looked like when it ran, kept in the cache so
//! that a later `check` of the same paths can tell that nothing changed
//! without reading the tree.
//!
//! Git's index does the same for `git status`: each file's size, times and
//! inode, and the hash of its content. A file whose stat still matches is
//! taken as unchanged; one whose stat differs is read and hashed, and is
//! unchanged when the hash is. A file modified within two seconds before
//! the state was taken ("racily clean" in git's words: a later write in
//! the same tick of a coarse clock leaves its time as it was) is always
//! hashed. When every file is unchanged, the check's findings are the ones
//! kept under the recorded results key; any change runs the check, which
//! records the new state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use lockwarden_cache::{Cache, Key, KeyBuilder};
use lockwarden_rules::run::text_key;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Entry kind of a tree state in the cache.
const KIND: &str = "tree-state";

/// A clock tick no file system coarser than this rounds times to (FAT's
/// two seconds), in nanoseconds.
const RACY_NS: i128 = 2_000_000_000;

/// What `stat` says of a file: any write changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
}

impl Stat {
    /// The stat of `path`, `None` when it cannot be read.
    pub fn of(path: &Path) -> Option<Stat> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
            Some(Stat {
                len: meta.len(),
                mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
                ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
                ino: meta.ino(),
            })
        }
        #[cfg(not(unix))]
        {
            let mtime_ns = meta
                .modified()
                .ok()?
                .duration_since(UNIX_EPOCH)
                .ok()?
                .as_nanos() as i128;
            Some(Stat {
                len: meta.len(),
                mtime_ns,
                ctime_ns: mtime_ns,
                ino: 0,
            })
        }
    }
}

/// The time now, in nanoseconds since the epoch.
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// One file of a check: root-relative path, stat, content hash.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct File {
    path: PathBuf,
    stat: Stat,
    text: [u8; 32],
}

/// The files a check read, with the key of the findings it kept.
#[derive(Debug, Serialize, Deserialize)]
pub struct TreeState {
    /// When the files were looked at (before any was stat'ed or read).
    taken_ns: i128,
    files: Vec<File>,
    results: [u8; 32],
}

/// The key a state is kept under: the tree root, the rules the check runs
/// and the files its paths name, in order. Which headers join them as
/// context depends on the files' texts, so those are in the state, not the
/// key.
pub fn state_key(root: &Path, rule_ids: &[String], files: &[PathBuf]) -> Key {
    let mut key = KeyBuilder::new(KIND);
    key.part(root.as_os_str().as_encoded_bytes());
    for id in rule_ids {
        key.part(id.as_bytes());
    }
    key.part(&files.len().to_le_bytes());
    for file in files {
        key.part(file.as_os_str().as_encoded_bytes());
    }
    key.finish()
}

impl TreeState {
    /// The state of the files a check read after `taken_ns` (each with
    /// the stat it had before it was read, and its content key), whose
    /// findings are kept under `results`; `None` when one has no stat.
    pub fn new(
        taken_ns: i128,
        text_keys: &[(PathBuf, Key)],
        stats: &BTreeMap<PathBuf, Stat>,
        results: Key,
    ) -> Option<TreeState> {
        let files = text_keys
            .iter()
            .map(|(path, text)| {
                Some(File {
                    path: path.clone(),
                    stat: *stats.get(path)?,
                    text: text.0,
                })
            })
            .collect::<Option<Vec<File>>>()?;
        Some(TreeState {
            taken_ns,
            files,
            results: results.0,
        })
    }

    /// The state kept under `key`, if a whole one is.
    pub fn load(store: &dyn Cache, key: &Key) -> Option<TreeState> {
        postcard::from_bytes(&store.get(KIND, key)?).ok()
    }

    pub fn save(&self, store: &dyn Cache, key: &Key) {
        if let Ok(bytes) = postcard::to_allocvec(self) {
            store.put(KIND, key, &bytes);
        }
    }

    /// The files under `root` whose content is not what this state
    /// recorded, each with its index, the stat it had before it was read,
    /// and its text; `None` when one cannot be read.
    pub fn changed(&self, root: &Path) -> Option<Vec<Changed>> {
        let changed: Vec<Option<Changed>> = self
            .files
            .par_iter()
            .enumerate()
            .filter_map(|(index, file)| {
                let path = root.join(&file.path);
                let Some(stat) = Stat::of(&path) else {
                    return Some(None);
                };
                let racy = stat.mtime_ns + RACY_NS > self.taken_ns;
                if stat == file.stat && !racy {
                    return None;
                }
                match crate::files::read_source(&path) {
                    Ok(text) if text_key(&text).0 == file.text => None,
                    Ok(text) => Some(Some(Changed { index, stat, text })),
                    Err(_) => Some(None),
                }
            })
            .collect();
        changed.into_iter().collect()
    }

    /// The key of the findings kept for this state.
    pub fn results(&self) -> Key {
        Key(self.results)
    }

    /// How many files the check read.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// The root-relative path of file `index`.
    pub fn path(&self, index: usize) -> &Path {
        &self.files[index].path
    }

    /// Each file's path and content key, in order.
    pub fn text_keys(&self) -> Vec<(PathBuf, Key)> {
        self.files
            .iter()
            .map(|f| (f.path.clone(), Key(f.text)))
            .collect()
    }

    /// This state after a check, taken at `taken_ns`, found `changed` as
    /// it is now and kept its findings under `results`.
    pub fn after(self, taken_ns: i128, changed: &Changed, results: Key) -> TreeState {
        let mut files = self.files;
        files[changed.index].stat = changed.stat;
        files[changed.index].text = text_key(&changed.text).0;
        TreeState {
            taken_ns,
            files,
            results: results.0,
        }
    }
}

/// A file found changed since a state was taken.
pub struct Changed {
    pub index: usize,
    pub stat: Stat,
    pub text: Vec<u8>,
}

/// The stat of each file of `files` under `root`, taken before any is read.
pub fn stats(root: &Path, files: &[PathBuf]) -> BTreeMap<PathBuf, Stat> {
    files
        .par_iter()
        .filter_map(|rel| Some((rel.clone(), Stat::of(&root.join(rel))?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A directory of its own under the system's temporary directory, with
    /// one file `a.c` last modified in 2020.
    fn tree(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lw-tree-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.c");
        std::fs::write(&file, "int a;\n").unwrap();
        let old = UNIX_EPOCH + Duration::from_secs(1_577_836_800);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        dir
    }

    /// The results key of `state`, when every file under `root` is as it
    /// recorded them; `None` as soon as one differs or cannot be read.
    fn unchanged(state: &TreeState, root: &Path) -> Option<Key> {
        state
            .changed(root)
            .filter(|c| c.is_empty())
            .map(|_| state.results())
    }

    /// A state of `root`'s `a.c` as it is now, recording `text` as its
    /// content, taken at `taken_ns`.
    fn state(root: &Path, text: &[u8], taken_ns: i128) -> TreeState {
        let files = vec![PathBuf::from("a.c")];
        let text_keys = [(files[0].clone(), text_key(text))];
        TreeState::new(taken_ns, &text_keys, &stats(root, &files), Key([7; 32])).unwrap()
    }

    #[test]
    fn a_matching_stat_is_trusted_without_reading_the_file() {
        let root = tree("trusted");
        // The recorded content is not the file's: only a read could tell.
        let kept = state(&root, b"something else\n", now_ns());
        assert_eq!(unchanged(&kept, &root), Some(Key([7; 32])));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_file_modified_just_before_the_state_was_taken_is_read() {
        let root = tree("racy");
        let modified = Stat::of(&root.join("a.c")).unwrap().mtime_ns;
        let kept = state(&root, b"something else\n", modified + 1);
        assert_eq!(unchanged(&kept, &root), None, "the content differs");
        let kept = state(&root, b"int a;\n", modified + 1);
        assert_eq!(
            unchanged(&kept, &root),
            Some(Key([7; 32])),
            "the content is the same"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_changed_stat_with_the_same_content_is_unchanged_and_a_new_content_is_not() {
        let root = tree("changed");
        let kept = state(&root, b"int a;\n", now_ns());
        std::fs::write(root.join("a.c"), "int a;\n").unwrap();
        assert_eq!(
            unchanged(&kept, &root),
            Some(Key([7; 32])),
            "rewritten as it was"
        );
        std::fs::write(root.join("a.c"), "int b;\n").unwrap();
        assert_eq!(unchanged(&kept, &root), None, "same length, new content");
        std::fs::remove_file(root.join("a.c")).unwrap();
        assert_eq!(unchanged(&kept, &root), None, "removed");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
