//! Inline suppressions: `lockwarden: ignore RULE-ID` in a comment on the
//! finding's line or the line above (SPEC.md §3). `RULE-ID` may end in `*`.

/// Whether line `line` (1-based) of `source`, or the line above, suppresses `rule`.
pub fn is_suppressed(source: &[u8], line: u32, rule: &str) -> bool {
    let text = String::from_utf8_lossy(source);
    let lines: Vec<&str> = text.lines().collect();
    let here = line as usize;
    [here.checked_sub(1), here.checked_sub(2)]
        .into_iter()
        .flatten()
        .filter_map(|i| lines.get(i))
        .any(|l| suppresses(l, rule))
}

fn suppresses(line: &str, rule: &str) -> bool {
    let mut rest = line;
    while let Some(pos) = rest.find("lockwarden: ignore") {
        rest = &rest[pos + "lockwarden: ignore".len()..];
        let ids = rest.split("*/").next().unwrap_or("");
        for id in ids
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
        {
            let matches = match id.strip_suffix('*') {
                Some(prefix) => rule.starts_with(prefix),
                None => id == rule,
            };
            if matches {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppression_on_line_or_line_above() {
        let src = b"a();\n/* lockwarden: ignore lock/double-acquire */\nspin_lock(l);\nspin_lock(l); // lockwarden: ignore lock/*\nx();\n";
        assert!(is_suppressed(src, 3, "lock/double-acquire"));
        assert!(!is_suppressed(src, 3, "lock/leak-at-exit"));
        assert!(is_suppressed(src, 4, "lock/leak-at-exit"));
        assert!(is_suppressed(src, 5, "lock/leak-at-exit"));
        assert!(!is_suppressed(src, 1, "lock/double-acquire"));
    }
}
