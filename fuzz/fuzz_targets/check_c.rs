//! The whole pipeline on one file of arbitrary bytes: parsing, kernel-macro
//! handling, lowering, the lock engine and every built-in rule. Seeded from
//! `fixtures/` (see `fuzz/README.md`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lockwarden_rules::run::Checker;

fn checker() -> &'static Checker {
    static CHECKER: OnceLock<Checker> = OnceLock::new();
    CHECKER.get_or_init(|| {
        Checker::new(lockwarden_rules::builtin::config().expect("built-in rules load"))
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = checker().check(vec![("fuzz.c".into(), data.to_vec())]);
});
