//! Acceptance on the real kernel: Debian's linux-source-6.12, made available by
//! `cargo xtask kernel` (found through `LOCKWARDEN_KERNEL`, which `cargo xtask test`
//! sets, or at its default place under `target/kernel/`).

use std::process::Command;

mod support;
use support::kernel_tree;

fn parse_stats(dir: &str) -> serde_json::Value {
    let tree = kernel_tree();
    let out = Command::new(env!("CARGO_BIN_EXE_lockwarden"))
        .args(["parse-stats", "--format", "json", "--no-compare"])
        .arg(tree.join(dir))
        .output()
        .expect("run lockwarden");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("parse-stats prints JSON")
}

fn assert_clean_at_least(dir: &str, min_percent: f64, min_functions: u64) {
    let stats = parse_stats(dir);
    let functions = stats["functions"].as_u64().unwrap();
    let broken = stats["functions_with_parse_errors"].as_u64().unwrap();
    let clean = 100.0 * (functions - broken) as f64 / functions as f64;
    assert!(
        functions >= min_functions,
        "{dir}: only {functions} functions found"
    );
    assert!(
        clean >= min_percent,
        "{dir}: {clean:.2}% of function bodies parse cleanly, want {min_percent}%"
    );
    assert_eq!(
        stats["failed_files"], 0,
        "{dir}: tree-sitter gave up on a file"
    );
}

#[test]
fn mm_function_bodies_parse_cleanly() {
    assert_clean_at_least("mm", 99.0, 6000);
}

#[test]
fn include_function_bodies_parse_cleanly() {
    assert_clean_at_least("include", 99.0, 20000);
}

/// The balloon files of the tree, relative to its root.
const BALLOON_FILES: &[&str] = &[
    "mm/balloon_compaction.c",
    "include/linux/balloon_compaction.h",
    "drivers/virtio/virtio_balloon.c",
    "drivers/misc/vmw_balloon.c",
    "arch/powerpc/platforms/pseries/cmm.c",
];

/// The JSON report of `check --only RULES` over `paths` (relative to `root`).
fn check_json(root: &std::path::Path, rules: &str, paths: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_lockwarden"))
        .args(["check", "--only", rules, "--format", "json", "--root"])
        .arg(root)
        .args(paths.iter().map(|f| root.join(f)))
        .output()
        .expect("run lockwarden");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

/// `check --only balloon/* --format json` over `files` under `root`.
fn balloon_findings(
    root: &std::path::Path,
    files: &[&str],
) -> Vec<(String, u64, String, serde_json::Value)> {
    let report = check_json(root, "balloon/*", files);
    let mut found: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_owned(),
                f["trace"].clone(),
            )
        })
        .collect();
    found.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    found
}

#[test]
fn balloon_rules_report_exactly_what_the_series_changed() {
    let tree = kernel_tree();
    let found = balloon_findings(&tree, BALLOON_FILES);
    let summary: Vec<(&str, u64, &str)> = found
        .iter()
        .map(|(f, l, r, _)| (f.as_str(), *l, r.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "arch/powerpc/platforms/pseries/cmm.c",
                545,
                "balloon/page-private-needs-lock"
            ),
            (
                "drivers/misc/vmw_balloon.c",
                1781,
                "balloon/page-private-needs-lock"
            ),
            (
                "drivers/virtio/virtio_balloon.c",
                878,
                "balloon/page-private-needs-lock"
            ),
            ("mm/balloon_compaction.c", 23, "balloon/no-page-lock"),
            ("mm/balloon_compaction.c", 25, "balloon/no-page-lock"),
            ("mm/balloon_compaction.c", 93, "balloon/no-page-lock"),
            ("mm/balloon_compaction.c", 100, "balloon/no-page-lock"),
        ]
    );
    for (file, line, rule, trace) in &found {
        if rule == "balloon/page-private-needs-lock" {
            let into_header = trace
                .as_array()
                .unwrap()
                .iter()
                .any(|step| step["file"] == "include/linux/balloon_compaction.h");
            assert!(
                into_header,
                "{file}:{line}: trace does not reach the header: {trace}"
            );
        }
    }
}

/// Replaces `old` by `new` exactly once in `text`.
fn edit(text: &mut String, old: &str, new: &str) {
    assert_eq!(
        text.matches(old).count(),
        1,
        "expected one `{old}` in the tree's file"
    );
    *text = text.replacen(old, new, 1);
}

#[test]
fn balloon_files_fixed_like_the_series_are_clean() {
    let tree = kernel_tree();
    let copy = std::env::temp_dir().join(format!("lockwarden-balloon-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    for file in BALLOON_FILES {
        let mut text = std::fs::read_to_string(tree.join(file)).unwrap();
        match *file {
            "mm/balloon_compaction.c" => {
                edit(&mut text, "\tBUG_ON(!trylock_page(page));\n", "");
                edit(&mut text, "\tunlock_page(page);\n\t__count_vm_event(BALLOON_INFLATE);", "\t__count_vm_event(BALLOON_INFLATE);");
                edit(&mut text, "\t\tif (!trylock_page(page))\n\t\t\tcontinue;\n", "");
                edit(&mut text, "\t\tunlock_page(page);\n\t\tn_pages++;", "\t\tn_pages++;");
            }
            "drivers/virtio/virtio_balloon.c" => edit(
                &mut text,
                "\tballoon_page_finalize(page);\n\tput_page(page); /* balloon reference */",
                "\tspin_lock_irqsave(&vb_dev_info->pages_lock, flags);\n\tballoon_page_finalize(page);\n\tspin_unlock_irqrestore(&vb_dev_info->pages_lock, flags);\n\tput_page(page); /* balloon reference */",
            ),
            "drivers/misc/vmw_balloon.c" => edit(
                &mut text,
                "\tballoon_page_finalize(page);\n\tput_page(page);\n\n\t/* Inflate */",
                "\tspin_lock_irqsave(&b_dev_info->pages_lock, flags);\n\tballoon_page_finalize(page);\n\tspin_unlock_irqrestore(&b_dev_info->pages_lock, flags);\n\tput_page(page);\n\n\t/* Inflate */",
            ),
            "arch/powerpc/platforms/pseries/cmm.c" => edit(
                &mut text,
                "\tballoon_page_finalize(page);\n\t/* balloon page list reference */",
                "\tspin_lock_irqsave(&b_dev_info->pages_lock, flags);\n\tballoon_page_finalize(page);\n\tspin_unlock_irqrestore(&b_dev_info->pages_lock, flags);\n\t/* balloon page list reference */",
            ),
            _ => {}
        }
        let dest = copy.join(file);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, text).unwrap();
    }
    let found = balloon_findings(&copy, BALLOON_FILES);
    let _ = std::fs::remove_dir_all(&copy);
    assert!(
        found.is_empty(),
        "fixed balloon files still report: {found:?}"
    );
}

#[test]
fn whole_tree_function_bodies_parse_cleanly() {
    let tree = kernel_tree();
    let out = Command::new(env!("CARGO_BIN_EXE_lockwarden"))
        .args(["parse-stats", "--format", "json", "--no-compare"])
        .arg(&tree)
        .output()
        .expect("run lockwarden");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let functions = stats["functions"].as_u64().unwrap();
    let broken = stats["functions_with_parse_errors"].as_u64().unwrap();
    let clean = 100.0 * (functions - broken) as f64 / functions as f64;
    assert!(
        functions > 600_000,
        "only {functions} functions in the whole tree"
    );
    assert!(
        clean >= 98.0,
        "{clean:.2}% of the tree's function bodies parse cleanly, want 98%"
    );
    assert_eq!(stats["failed_files"], 0);
}

/// The `lock/*` findings over mm/ are exactly the triaged ones in
/// `tests/data/mm-lock-findings.tsv`: a new finding (or a lost one) shows
/// here and gets triaged before the list is updated.
#[test]
fn mm_lock_findings_are_the_triaged_ones() {
    let report = check_json(&kernel_tree(), "lock/*", &["mm"]);
    let mut found: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}\t{}\t{}",
                f["rule"].as_str().unwrap(),
                f["file"].as_str().unwrap(),
                f["function"].as_str().unwrap()
            )
        })
        .collect();
    found.sort();
    let triaged = include_str!("data/mm-lock-findings.tsv");
    let mut expected: Vec<String> = triaged
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.splitn(4, '\t').take(3).collect::<Vec<_>>().join("\t"))
        .collect();
    expected.sort();
    let new: Vec<&String> = found.iter().filter(|f| !expected.contains(f)).collect();
    let gone: Vec<&String> = expected.iter().filter(|e| !found.contains(e)).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "mm/ lock findings changed\nnew (triage and add them):\n{new:#?}\ngone:\n{gone:#?}"
    );
}
