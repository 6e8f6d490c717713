//! Bytes kept between runs, addressed by content: the key of an entry is the
//! hash of everything that went into making it, so an entry is either the
//! right one or never looked up. Nothing here knows what the bytes are.
//!
//! Invariants:
//! - An entry is never trusted blindly: each carries a checksum of its
//!   payload, and a corrupt or truncated one reads as missing (and is
//!   removed), so its value is recomputed.
//! - Writes are atomic (a private temporary file renamed into place), so
//!   concurrent runs and CI workers can share one directory: a reader sees a
//!   whole entry or none.
//! - The cache is best effort: a directory that cannot be written makes the
//!   run slower, never wrong and never failed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A 256-bit content key (BLAKE3).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Key(pub [u8; 32]);

impl Key {
    /// Lowercase hex, as used in entry file names.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Builds a [`Key`] from parts. Each part is length-prefixed, so `("ab",
/// "c")` and `("a", "bc")` give different keys.
#[derive(Clone, Default)]
pub struct KeyBuilder(blake3::Hasher);

impl std::fmt::Debug for KeyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyBuilder({})", self.finish().hex())
    }
}

impl KeyBuilder {
    pub fn new(domain: &str) -> KeyBuilder {
        let mut builder = KeyBuilder(blake3::Hasher::new());
        builder.part(domain.as_bytes());
        builder
    }

    /// Adds one part.
    pub fn part(&mut self, bytes: &[u8]) -> &mut KeyBuilder {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// Adds a key made elsewhere.
    pub fn key(&mut self, key: &Key) -> &mut KeyBuilder {
        self.part(&key.0)
    }

    pub fn finish(&self) -> Key {
        Key(*self.0.finalize().as_bytes())
    }
}

/// The key of one byte string.
pub fn key_of(domain: &str, bytes: &[u8]) -> Key {
    KeyBuilder::new(domain).part(bytes).finish()
}

/// The key of everything `reader` gives, read a buffer at a time (the
/// program's own executable, tens of megabytes, on every run: never all
/// in memory).
pub fn key_of_reader(domain: &str, mut reader: impl std::io::Read) -> std::io::Result<Key> {
    let mut content = blake3::Hasher::new();
    content.update_reader(&mut reader)?;
    Ok(KeyBuilder::new(domain)
        .key(&Key(*content.finalize().as_bytes()))
        .finish())
}

/// A store of entries by kind (`lowered`, `results`) and key.
pub trait Cache: Sync + Send {
    /// The entry's payload, or `None` when it is missing or corrupt.
    fn get(&self, kind: &str, key: &Key) -> Option<Vec<u8>>;
    /// Stores an entry; failures are ignored (see the module docs).
    fn put(&self, kind: &str, key: &Key, payload: &[u8]);
    /// Whether an entry is there (not whether it is whole): a
    /// content-addressed entry that is need not be written again.
    fn contains(&self, kind: &str, key: &Key) -> bool {
        self.get(kind, key).is_some()
    }
}

/// Entries as files under `<base>/<stamp>/<kind>/<2 hex>/<62 hex>`.
///
/// The stamp names a generation: everything that changes what an entry
/// means (the program's own build, the rule files) is in it, so a new
/// generation starts empty. Opening a generation removes the others but the
/// most recently used one, so a cache of two builds in turn does not grow
/// without bound.
pub struct DiskCache {
    dir: PathBuf,
}

/// Leads every entry file: format version of the entry layout.
const MAGIC: &[u8; 4] = b"LWC1";
const HEADER: usize = MAGIC.len() + 32 + 8;

/// Temporary files of this process get distinct names.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl DiskCache {
    /// Opens (creating it) generation `stamp` under `base`.
    pub fn open(base: &Path, stamp: &Key) -> std::io::Result<DiskCache> {
        let dir = base.join(stamp.hex());
        std::fs::create_dir_all(&dir)?;
        // Marks this generation used now (its directory's modification time).
        let marker = dir.join("last-used");
        std::fs::write(&marker, b"")?;
        prune_generations(base, &dir);
        Ok(DiskCache { dir })
    }

    fn path(&self, kind: &str, key: &Key) -> PathBuf {
        let hex = key.hex();
        self.dir.join(kind).join(&hex[..2]).join(&hex[2..])
    }
}

/// Removes the generations under `base` other than `current` and the most
/// recently used other one. Another run may be using a removed generation:
/// its reads then miss and its writes fail, which costs it time only.
/// A generation is first renamed out of the way (at once), then deleted on a
/// background thread; what an earlier run left half deleted goes too.
fn prune_generations(base: &Path, current: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    let mut trash = Vec::new();
    let mut others: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with(TRASH) {
            trash.push(path);
        } else if path != current {
            if let Ok(used) = std::fs::metadata(path.join("last-used")).and_then(|m| m.modified()) {
                others.push((used, path));
            }
        }
    }
    others.sort();
    others.pop();
    for (_, old) in others {
        let name = old.file_name().unwrap_or_default().to_string_lossy();
        let moved = base.join(format!("{TRASH}{name}.{}", std::process::id()));
        if std::fs::rename(&old, &moved).is_ok() {
            trash.push(moved);
        }
    }
    if !trash.is_empty() {
        std::thread::spawn(move || {
            for dir in trash {
                let _ = std::fs::remove_dir_all(dir);
            }
        });
    }
}

/// Prefix of a generation being deleted.
const TRASH: &str = ".trash-";

impl Cache for DiskCache {
    fn get(&self, kind: &str, key: &Key) -> Option<Vec<u8>> {
        let path = self.path(kind, key);
        let bytes = std::fs::read(&path).ok()?;
        match decode_entry(&bytes) {
            Some(payload) => Some(payload.to_vec()),
            None => {
                // Corrupt or truncated: recomputed by the caller, and gone.
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    fn put(&self, kind: &str, key: &Key, payload: &[u8]) {
        let path = self.path(kind, key);
        let _ = write_atomically(&path, &encode_entry(payload));
    }

    fn contains(&self, kind: &str, key: &Key) -> bool {
        self.path(kind, key).is_file()
    }
}

/// An entry file's bytes: magic, checksum of the payload, its length, the payload.
fn encode_entry(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(blake3::hash(payload).as_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of an entry file, if it is whole and its checksum holds.
fn decode_entry(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.len() < HEADER || &bytes[..MAGIC.len()] != MAGIC {
        return None;
    }
    let checksum = &bytes[MAGIC.len()..MAGIC.len() + 32];
    let len = u64::from_le_bytes(bytes[MAGIC.len() + 32..HEADER].try_into().ok()?);
    let payload = &bytes[HEADER..];
    (payload.len() as u64 == len && blake3::hash(payload).as_bytes() == checksum).then_some(payload)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over
/// `path`: readers see the old entry, no entry, or the new one whole.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(
        ".tmp.{}.{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::File::create(&temp).and_then(|mut f| f.write_all(bytes));
    if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_read_key_depends_on_every_byte() {
        let key = |bytes: &[u8]| super::key_of_reader("build", bytes).unwrap();
        let big = vec![7u8; 1 << 20];
        let mut other = big.clone();
        *other.last_mut().unwrap() = 8;
        assert_eq!(key(&big), key(&big.clone()));
        assert_ne!(key(&big), key(&other));
        assert_ne!(key(&big), key(&big[1..]));
    }

    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lw-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn keys_separate_their_parts() {
        let ab_c = KeyBuilder::new("t").part(b"ab").part(b"c").finish();
        let a_bc = KeyBuilder::new("t").part(b"a").part(b"bc").finish();
        assert_ne!(ab_c, a_bc);
        assert_ne!(key_of("x", b"1"), key_of("y", b"1"));
        assert_eq!(key_of("x", b"1"), key_of("x", b"1"));
    }

    #[test]
    fn an_entry_reads_back_in_a_later_open() {
        let base = temp_dir("roundtrip");
        let stamp = key_of("stamp", b"1");
        let key = key_of("k", b"file");
        DiskCache::open(&base, &stamp)
            .unwrap()
            .put("lowered", &key, b"payload");
        let again = DiskCache::open(&base, &stamp).unwrap();
        assert_eq!(again.get("lowered", &key).as_deref(), Some(&b"payload"[..]));
        assert_eq!(again.get("results", &key), None, "kinds are separate");
        let other = DiskCache::open(&base, &key_of("stamp", b"2")).unwrap();
        assert_eq!(other.get("lowered", &key), None, "generations are separate");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_corrupt_or_truncated_entry_reads_as_missing_and_is_removed() {
        let base = temp_dir("corrupt");
        let cache = DiskCache::open(&base, &key_of("stamp", b"1")).unwrap();
        for (n, damage) in [
            |b: &mut Vec<u8>| b.truncate(b.len() - 3),
            |b: &mut Vec<u8>| *b.last_mut().unwrap() ^= 1,
            |b: &mut Vec<u8>| b.truncate(10),
            |b: &mut Vec<u8>| b.clear(),
        ]
        .into_iter()
        .enumerate()
        {
            let key = key_of("k", &[n as u8]);
            cache.put("lowered", &key, b"a payload long enough");
            let path = cache.path("lowered", &key);
            let mut bytes = std::fs::read(&path).unwrap();
            damage(&mut bytes);
            std::fs::write(&path, bytes).unwrap();
            assert_eq!(cache.get("lowered", &key), None, "damage {n}");
            assert!(!path.exists(), "damage {n}: the bad entry is removed");
        }
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn no_temporary_file_is_left_behind() {
        let base = temp_dir("temp");
        let cache = DiskCache::open(&base, &key_of("stamp", b"1")).unwrap();
        let key = key_of("k", b"1");
        cache.put("results", &key, b"x");
        cache.put("results", &key, b"y");
        let dir = cache.path("results", &key).parent().unwrap().to_owned();
        let names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert_eq!(cache.get("results", &key).as_deref(), Some(&b"y"[..]));
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn opening_a_generation_keeps_one_other() {
        let base = temp_dir("prune");
        for n in 1..=3u8 {
            DiskCache::open(&base, &key_of("stamp", &[n])).unwrap();
            // Modification times must differ for the order to be seen.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut left: Vec<_> = std::fs::read_dir(&base)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| !name.starts_with(TRASH))
            .collect();
        left.sort();
        let mut expected = vec![key_of("stamp", &[2]).hex(), key_of("stamp", &[3]).hex()];
        expected.sort();
        assert_eq!(left, expected);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn an_unwritable_cache_is_only_slower() {
        let cache = DiskCache {
            dir: PathBuf::from("/proc/lockwarden-no-such-dir"),
        };
        let key = key_of("k", b"1");
        cache.put("lowered", &key, b"x");
        assert_eq!(cache.get("lowered", &key), None);
    }
}
