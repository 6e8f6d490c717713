//! Finding fingerprints: a stable identity that survives unrelated edits.
//!
//! A fingerprint is the 64-bit FNV-1a hash, as 16 lowercase hex digits, of the
//! rule id, file, function, what the finding is about (the lock's name; the
//! message where a finding names nothing, see `Finding::about`) and the text
//! of the primary source line with its whitespace normalised. It contains no line number or offset, so
//! adding or removing lines above a finding (or re-indenting its line) keeps
//! it; `series` and `--baseline` rely on that (SPEC.md §2). Identical findings
//! in one function are told apart by [`dedup_fingerprints`], which appends
//! `#2`, `#3`… in order.

use std::collections::{HashMap, HashSet};

use crate::finding::Finding;

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a, fed incrementally.
#[derive(Clone, Copy, Debug)]
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Fnv1a {
        Fnv1a(FNV_OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    /// Writes one field followed by a 0xFF separator, a byte that never
    /// occurs in UTF-8, so that ("ab", "c") and ("a", "bc") differ.
    fn field(&mut self, s: &str) {
        self.write(s.as_bytes());
        self.write(&[0xff]);
    }
}

/// The fingerprint of a finding. `occurrence_text` is the source text of the
/// primary line; it is trimmed and runs of whitespace inside it are collapsed
/// to one space, so re-indentation does not change the result.
pub fn fingerprint(
    rule: &str,
    file: &str,
    function: &str,
    message: &str,
    occurrence_text: &str,
) -> String {
    let mut h = Fnv1a::new();
    h.field(rule);
    h.field(file);
    h.field(function);
    h.field(message);
    for (i, word) in occurrence_text.split_whitespace().enumerate() {
        if i > 0 {
            h.write(b" ");
        }
        h.write(word.as_bytes());
    }
    format!("{:016x}", h.0)
}

/// The text of the line of `source` containing byte `offset` (clamped),
/// without its line terminator and surrounding whitespace. Invalid UTF-8 is
/// replaced, never rejected.
pub fn primary_line_text(source: &[u8], offset: u32) -> String {
    let offset = (offset as usize).min(source.len());
    let start = source[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = source[offset..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(source.len(), |i| offset + i);
    String::from_utf8_lossy(&source[start..end])
        .trim()
        .to_owned()
}

/// Makes equal fingerprints distinct: the second finding with a given
/// fingerprint gets `#2` appended, the third `#3`, and so on, in slice order.
/// The first keeps its fingerprint unchanged. Sort the findings first
/// ([`sort_findings`](crate::sort_findings)) so the numbering is stable.
/// Applying it twice changes nothing.
pub fn dedup_fingerprints(findings: &mut [Finding]) {
    let mut seen: HashMap<String, u32> = HashMap::new();
    for finding in findings {
        let count = seen.entry(finding.fingerprint.clone()).or_insert(0);
        *count += 1;
        if *count > 1 {
            finding.fingerprint = format!("{}#{}", finding.fingerprint, count);
        }
    }
}

/// Drops the findings whose fingerprint is in `baseline` (as read by
/// [`parse_json_report`](crate::parse_json_report)) and returns how many were
/// dropped. Call it after [`dedup_fingerprints`], so that a third copy of a
/// finding the baseline had twice is still reported.
pub fn filter_baseline(findings: &mut Vec<Finding>, baseline: &[String]) -> usize {
    let known: HashSet<&str> = baseline.iter().map(String::as_str).collect();
    let before = findings.len();
    findings.retain(|f| !known.contains(f.fingerprint.as_str()));
    before - findings.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Location, Severity};

    #[test]
    fn fnv1a_reference_vectors() {
        // Published FNV-1a 64 test vectors.
        let hash = |s: &[u8]| {
            let mut h = Fnv1a::new();
            h.write(s);
            h.0
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn fingerprint_is_hex_and_stable() {
        let fp = fingerprint("r", "a.c", "f", "m", "x = 1;");
        assert_eq!(fp.len(), 16);
        assert!(fp
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        // Pinned: changing the recipe silently would invalidate every baseline.
        assert_eq!(fp, fingerprint("r", "a.c", "f", "m", "x = 1;"));
        assert_eq!(fp, "5fbf7b931d62b865", "fingerprint recipe changed");
    }

    #[test]
    fn fingerprint_depends_on_each_field() {
        let base = fingerprint("r", "a.c", "f", "m", "x = 1;");
        assert_ne!(base, fingerprint("r2", "a.c", "f", "m", "x = 1;"));
        assert_ne!(base, fingerprint("r", "b.c", "f", "m", "x = 1;"));
        assert_ne!(base, fingerprint("r", "a.c", "g", "m", "x = 1;"));
        assert_ne!(base, fingerprint("r", "a.c", "f", "n", "x = 1;"));
        assert_ne!(base, fingerprint("r", "a.c", "f", "m", "x = 2;"));
        // Field boundaries matter.
        assert_ne!(
            fingerprint("ab", "c", "", "", ""),
            fingerprint("a", "bc", "", "", "")
        );
    }

    #[test]
    fn fingerprint_ignores_indentation() {
        assert_eq!(
            fingerprint("r", "a.c", "f", "m", "\t\tspin_lock(&b->lock);  "),
            fingerprint("r", "a.c", "f", "m", "spin_lock(&b->lock);")
        );
        assert_eq!(
            fingerprint("r", "a.c", "f", "m", "a  =\tb;"),
            fingerprint("r", "a.c", "f", "m", "a = b;")
        );
    }

    const BEFORE: &str = "void f(void)\n{\n\tspin_lock(&l);\n\tspin_lock(&l);\n}\n";
    const AFTER: &str =
        "/* new comment */\n#include <linux/x.h>\n\nvoid f(void)\n{\n\tspin_lock(&l);\n\tspin_lock(&l);\n}\n";

    fn finding_at_second_lock(text: &str) -> Finding {
        let start = text.rfind("spin_lock").unwrap() as u32;
        let loc = Location::from_offsets("a.c", text.as_bytes(), start, start + 13);
        Finding::new(
            "lock/double-acquire",
            Severity::Error,
            loc,
            "f",
            "l is already held",
            text.as_bytes(),
        )
    }

    #[test]
    fn fingerprint_survives_lines_added_above() {
        let before = finding_at_second_lock(BEFORE);
        let after = finding_at_second_lock(AFTER);
        assert_ne!(before.location.line, after.location.line);
        assert_eq!(before.fingerprint, after.fingerprint);
    }

    #[test]
    fn primary_line_text_extracts_trimmed_line() {
        let text = BEFORE.as_bytes();
        let off = BEFORE.find("spin_lock").unwrap() as u32;
        assert_eq!(primary_line_text(text, off), "spin_lock(&l);");
        assert_eq!(primary_line_text(text, 0), "void f(void)");
        assert_eq!(primary_line_text(text, 10_000), "");
        assert_eq!(primary_line_text(b"a\xffb\r\n", 0), "a\u{fffd}b");
    }

    #[test]
    fn dedup_numbers_repeats_in_order() {
        let a = finding_at_second_lock(BEFORE);
        let mut b = a.clone();
        b.rule = "other".into();
        b.fingerprint = "0000000000000001".into();
        let mut v = vec![a.clone(), b.clone(), a.clone(), a.clone(), b];
        dedup_fingerprints(&mut v);
        let fps: Vec<&str> = v.iter().map(|f| f.fingerprint.as_str()).collect();
        let base = a.fingerprint.as_str();
        assert_eq!(
            fps,
            [
                base.to_string(),
                "0000000000000001".into(),
                format!("{base}#2"),
                format!("{base}#3"),
                "0000000000000001#2".into(),
            ]
        );
        let snapshot = v.clone();
        dedup_fingerprints(&mut v);
        assert_eq!(v, snapshot, "dedup is idempotent");
    }

    #[test]
    fn baseline_filter_keeps_new_copies() {
        let a = finding_at_second_lock(BEFORE);
        let base = a.fingerprint.clone();
        let mut v = vec![a.clone(), a.clone(), a];
        dedup_fingerprints(&mut v);
        let baseline = vec![base.clone(), format!("{base}#2")];
        assert_eq!(filter_baseline(&mut v, &baseline), 2);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].fingerprint, format!("{base}#3"));
        assert_eq!(filter_baseline(&mut v, &[]), 0);
    }
}
