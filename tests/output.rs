//! How a report reads, run as a user runs it: paths printed from the
//! directory of the run (while rule-file scopes and the machine formats stay
//! root-relative), gcc `note:` lines for the evidence, colour and width only
//! on a terminal (`--color`, `NO_COLOR`), and long functions elided.

mod support;

use std::path::Path;
use std::process::{Command, Output};

fn lockwarden(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockwarden"));
    cmd.current_dir(dir)
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR");
    cmd
}

/// A scratch directory of its own for this test.
fn scratch(name: &str) -> support::Scratch {
    support::scratch("output", name)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("create directory");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A balloon driver taking a page lock (line 6), which a rule scoped to
/// its root-relative path forbids.
const MY_BALLOON: &str = "\
// SPDX-License-Identifier: GPL-2.0
#include <linux/pagemap.h>

void my_balloon_settle(struct page *page)
{
\tlock_page(page);
\tunlock_page(page);
}
";

const MY_RULES: &str = r#"[[scope]]
id = "my driver"
files = ["drivers/misc/my_balloon.c"]

[[rule]]
id = "mine/no-page-lock"
kind = "forbid"
summary = "my driver never takes a page lock"
class = "page-lock"
scope = "my driver"
"#;

/// A kernel-like tree (found as the root from any directory in it) with the
/// scoped driver, a file with a double acquire, and the rule file.
fn tree(name: &str) -> support::Scratch {
    let root = scratch(name);
    write(&root.join("MAINTAINERS"), "");
    std::fs::create_dir_all(root.join("include/linux")).expect("include/linux");
    write(&root.join("drivers/misc/my_balloon.c"), MY_BALLOON);
    let double = std::fs::read_to_string("fixtures/lock/guard_double.c").expect("fixture");
    write(&root.join("drivers/virtio/twice.c"), &double);
    write(&root.join("mine.toml"), MY_RULES);
    root
}

fn check(dir: &Path, args: &[&str]) -> Output {
    let out = lockwarden(dir)
        .arg("check")
        .args(args)
        .output()
        .expect("run lockwarden");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} in {}:\n{}{}",
        dir.display(),
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn printed_paths_start_where_the_run_does_and_scopes_stay_root_relative() {
    let root = tree("paths");
    let misc = root.join("drivers/misc");
    let rules = ["--rules", "../../mine.toml"];

    // From the driver's directory: the scoped rule still applies (its glob
    // is matched against drivers/misc/my_balloon.c), and the path is printed
    // from here.
    let gcc = stdout(&check(
        &misc,
        &[&rules[..], &["--format", "gcc", "."]].concat(),
    ));
    assert!(
        gcc.starts_with("my_balloon.c:6:2: error: ") && gcc.contains("[mine/no-page-lock]"),
        "{gcc}"
    );
    let human = stdout(&check(&misc, &[&rules[..], &["."]].concat()));
    assert!(human.contains("╭─[my_balloon.c:6:2]"), "{human}");

    // From a sibling directory, the whole tree: up and down again.
    let virtio = root.join("drivers/virtio");
    let gcc = stdout(&check(
        &virtio,
        &[&rules[..], &["--format", "gcc", "../.."]].concat(),
    ));
    assert!(
        gcc.starts_with("../misc/my_balloon.c:6:2: error: "),
        "{gcc}"
    );
    assert!(gcc.contains("\ntwice.c:16:2: error: "), "{gcc}");

    // From the root: root-relative, as before.
    let gcc = stdout(&check(
        &root,
        &["--rules", "mine.toml", "--format", "gcc", "drivers"],
    ));
    assert!(
        gcc.contains("drivers/misc/my_balloon.c:6:2: error: "),
        "{gcc}"
    );

    // From above the root: the path down to it.
    let above = root.parent().expect("a parent");
    let name = root.file_name().unwrap().to_string_lossy().into_owned();
    let gcc = stdout(&check(
        above,
        &[
            "--rules",
            &format!("{name}/mine.toml"),
            "--format",
            "gcc",
            &format!("{name}/drivers/misc"),
        ],
    ));
    assert!(
        gcc.starts_with(&format!("{name}/drivers/misc/my_balloon.c:6:2: error: ")),
        "{gcc}"
    );

    // JSON and SARIF stay relative to the root wherever the run starts.
    let json: serde_json::Value = serde_json::from_slice(
        &check(&misc, &[&rules[..], &["--format", "json", "."]].concat()).stdout,
    )
    .expect("JSON");
    assert_eq!(json["root"], root.to_string_lossy().as_ref());
    assert_eq!(json["findings"][0]["file"], "drivers/misc/my_balloon.c");
    let sarif: serde_json::Value = serde_json::from_slice(
        &check(&misc, &[&rules[..], &["--format", "sarif", "."]].concat()).stdout,
    )
    .expect("SARIF");
    let run = &sarif["runs"][0];
    let artifact = &run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(artifact["uri"], "drivers/misc/my_balloon.c");
    assert_eq!(artifact["uriBaseId"], "%SRCROOT%");
    assert_eq!(
        run["originalUriBaseIds"]["%SRCROOT%"]["uri"],
        format!("file://{}/", root.display())
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn gcc_format_prints_a_note_per_piece_of_evidence() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lock");
    let out = check(&dir, &["--format", "gcc", "goto_skips_unlock.c"]);
    assert_eq!(
        stdout(&out),
        "goto_skips_unlock.c:28:2: warning: `engine_arm` returns with `e->irq_lock` held on some paths and not on others: an error code is returned with it held [lock/inconsistent-exit]\n\
         goto_skips_unlock.c:19:2: note: `e->irq_lock` acquired here\n\
         goto_skips_unlock.c:25:2: note: `e->irq_lock` released here\n\
         goto_skips_unlock.c:28:2: note: returns with `e->irq_lock` held here\n\
         goto_skips_unlock.c:28:2: note: returns without `e->irq_lock` held here\n"
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal_without_no_color() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixture = "fixtures/lock/goto_skips_unlock.c";
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut cmd = lockwarden(dir);
        cmd.args(["check", "-q"]).args(extra).arg(fixture);
        for (k, v) in env {
            cmd.env(k, v);
        }
        stdout(&cmd.output().expect("run lockwarden"))
    };
    let escape = '\x1b';
    // A pipe: no colour unless asked for; the flag wins over NO_COLOR.
    assert!(!run(&[], &[]).contains(escape));
    assert!(!run(&["--color", "never"], &[]).contains(escape));
    assert!(run(&["--color", "always"], &[]).contains(escape));
    assert!(run(&["--color", "always"], &[("NO_COLOR", "1")]).contains(escape));
    // Colour is for the human format only.
    assert!(!run(&["--color", "always", "--format", "gcc"], &[]).contains(escape));
    let bad = lockwarden(dir)
        .args(["check", "--color", "sometimes", fixture])
        .output()
        .expect("run lockwarden");
    assert_eq!(bad.status.code(), Some(2));
}

/// `lockwarden ARGS` on a 60-column pseudo-terminal (util-linux `script`),
/// with `env` set; what it printed.
fn on_a_terminal(args: &str, env: &str) -> Option<String> {
    let bin = env!("CARGO_BIN_EXE_lockwarden");
    let out = Command::new("script")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .args(["-qec"])
        .arg(format!("stty rows 24 cols 60; {env} '{bin}' {args}"))
        .arg("/dev/null")
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"))
}

#[test]
fn on_a_terminal_colour_and_width_follow_it() {
    let args = "check -q fixtures/lock/goto_skips_unlock.c";
    let Some(coloured) = on_a_terminal(args, "") else {
        if std::env::var_os("LOCKWARDEN_SKIP_PTY").is_some() {
            eprintln!("skipped: no `script` to run lockwarden on a terminal");
            return;
        }
        panic!("cannot run `script` (util-linux); install it, or set LOCKWARDEN_SKIP_PTY=1");
    };
    assert!(coloured.contains('\x1b'), "{coloured}");
    let plain = on_a_terminal(args, "NO_COLOR=1").expect("script ran before");
    assert!(!plain.contains('\x1b'), "{plain}");
    // Wrapped to the terminal's 60 columns, not the fixed 100 of a pipe.
    let message = plain
        .lines()
        .find(|l| l.contains("`engine_arm` returns"))
        .unwrap_or_else(|| panic!("no message line:\n{plain}"));
    assert!(message.chars().count() <= 60, "{message}");
    let piped = lockwarden(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(args.split(' '))
        .output()
        .expect("run lockwarden");
    let piped = stdout(&piped);
    assert!(
        piped.lines().any(|l| l.chars().count() > 60),
        "a pipe gets the fixed width:\n{piped}"
    );
    // An explicit COLUMNS wins over both.
    let narrow = lockwarden(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(args.split(' '))
        .env("COLUMNS", "50")
        .output()
        .expect("run lockwarden");
    let narrow = stdout(&narrow);
    let message = narrow
        .lines()
        .find(|l| l.contains("`engine_arm` returns"))
        .unwrap_or_else(|| panic!("no message line:\n{narrow}"));
    assert!(message.chars().count() <= 50, "{message}");
}

#[test]
fn a_long_function_is_elided_around_its_labels() {
    let dir = scratch("long");
    let mut src = String::from(
        "#include <linux/spinlock.h>\n\nint long_one(spinlock_t *l, int *n)\n{\n\tspin_lock(l);\n",
    );
    for i in 0..100 {
        src.push_str(&format!("\t*n += {i};\n"));
    }
    src.push_str(
        "\treturn *n;\n}\n\nint caller(spinlock_t *l, int *n)\n{\n\treturn long_one(l, n);\n}\n",
    );
    write(&dir.join("long.c"), &src);
    let out = check(&dir, &["--fail-on", "note", "long.c"]);
    let human = stdout(&out);
    assert!(human.contains("spin_lock(l);"), "{human}");
    assert!(human.contains("return *n;"), "{human}");
    assert!(human.contains('⋮'), "{human}");
    assert!(!human.contains("*n += 50;"), "{human}");
    assert!(human.lines().count() < 40, "{human}");
    let _ = std::fs::remove_dir_all(&dir);
}
