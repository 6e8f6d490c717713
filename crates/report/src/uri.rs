//! URIs in machine output: `file:` URIs of paths ([`file_uri`]) and where
//! lockwarden's own documentation is ([`documentation_uri`]), for SARIF's
//! `informationUri` and each rule's `helpUri`.
//!
//! lockwarden has no public web site. Its documentation ships in its
//! repository (`README.md`, `rules/README.md`, the rule files under
//! `rules/`), and lockwarden is installed by building that repository
//! (`cargo install --path .`, pre-commit's `language: rust`), so the
//! documentation links point at the files of the checkout the binary was
//! built from: a URI that exists on the machine that built it, and that a
//! test checks. When the documentation gets a home on the web, building
//! with `LOCKWARDEN_DOCS_URL` set to its base (ending in `/`, e.g. a tag's
//! browse URL) makes every link point there instead.

use std::path::{Component, Path, PathBuf};

/// The documentation base set at build time, if any.
const DOCS_URL: Option<&str> = option_env!("LOCKWARDEN_DOCS_URL");

/// The URI of `path`, a file of lockwarden's repository (`rules/README.md`):
/// under `LOCKWARDEN_DOCS_URL` when it was set at build time, else the
/// `file:` URI of that file in the checkout the binary was built from.
pub fn documentation_uri(path: &str) -> String {
    match DOCS_URL {
        Some(base) if !base.is_empty() => {
            let slash = if base.ends_with('/') { "" } else { "/" };
            format!("{base}{slash}{}", percent_encode(path, false))
        }
        _ => file_uri(&repository_root().join(path), false),
    }
}

/// The checkout this crate was built from: two levels above its manifest
/// (`crates/report`), with `..` and `.` resolved without touching the disk.
fn repository_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut root = PathBuf::new();
    for component in manifest.join("../..").components() {
        match component {
            Component::ParentDir => {
                root.pop();
            }
            Component::CurDir => {}
            other => root.push(other.as_os_str()),
        }
    }
    root
}

/// `file:///abs/path` of an absolute `path` (`\` becomes `/`, the path is
/// percent-encoded, a drive letter's `:` is kept); with `directory`, a
/// trailing `/` is ensured, so that relative references resolve inside it.
pub fn file_uri(path: &Path, directory: bool) -> String {
    let mut path = path.to_string_lossy().replace('\\', "/");
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    if directory && !path.ends_with('/') {
        path.push('/');
    }
    format!("file://{}", percent_encode(&path, true))
}

/// Percent-encodes a path for a URI: everything but unreserved characters,
/// `/` and sub-delimiters is encoded as UTF-8 bytes. `:` is kept only when
/// `keep_colon` (in a relative reference it could read as a scheme).
pub(crate) fn percent_encode(path: &str, keep_colon: bool) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || b"-._~/!$&'()*+,;=@".contains(&b)
            || (keep_colon && b == b':');
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_are_absolute_and_percent_encoded() {
        assert_eq!(file_uri(Path::new("/abs/root"), true), "file:///abs/root/");
        assert_eq!(file_uri(Path::new("/abs/root/"), true), "file:///abs/root/");
        assert_eq!(file_uri(Path::new("/a b/ä"), true), "file:///a%20b/%C3%A4/");
        assert_eq!(
            file_uri(Path::new("C:\\src\\linux"), true),
            "file:///C:/src/linux/"
        );
        assert_eq!(file_uri(Path::new("/r/x.toml"), false), "file:///r/x.toml");
        assert_eq!(
            percent_encode("a b/c:d%e#f?.c", false),
            "a%20b/c%3Ad%25e%23f%3F.c"
        );
        assert_eq!(
            percent_encode("drivers/net/ethernet/intel/e1000e/82571.c", false),
            "drivers/net/ethernet/intel/e1000e/82571.c"
        );
    }

    #[test]
    fn documentation_links_point_at_files_that_exist() {
        let uri = documentation_uri("rules/README.md");
        if DOCS_URL.is_none_or(str::is_empty) {
            let path = uri.strip_prefix("file://").expect("a file URI");
            assert!(!path.contains("/../"), "{uri}");
            assert!(Path::new(path).is_file(), "{uri} does not exist");
            assert!(documentation_uri("README.md").ends_with("/README.md"));
        } else {
            assert!(uri.ends_with("/rules/README.md"), "{uri}");
        }
    }
}
