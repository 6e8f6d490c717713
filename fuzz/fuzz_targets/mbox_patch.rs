//! The mbox reader and the patch reader and applier on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockwarden_cli::{mbox, patch};

fuzz_target!(|data: &[u8]| {
    let _ = mbox::parse(data);
    if let Ok(files) = patch::parse(data) {
        for fp in &files {
            let _ = patch::apply(data, fp);
        }
    }
});
