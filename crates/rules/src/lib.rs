//! Rules: the checks that turn the engine's lock states into findings, and
//! the pipeline that runs them.
//!
//! `core` holds the rules every kernel tree gets (`lock/*`); the lock API
//! they run on is data (`rules/locks.toml`), embedded by `builtin`.

pub mod builtin;
pub mod core;
pub mod file;
pub mod mission;
pub mod run;
pub mod suppress;

pub use run::{Checker, Outcome};
