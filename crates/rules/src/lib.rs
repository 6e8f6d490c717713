//! Rules: the checks that turn the engine's lock states into findings, and
//! the pipeline that runs them.
//!
//! `lock` holds the rules every kernel tree gets (`lock/*`), one file each,
//! over the verdicts of one reporting `policy`; `mission` runs the rules of
//! rule files (require, forbid). The lock API they run on is data
//! (`rules/locks.toml`), embedded by `builtin`.

pub mod builtin;
pub mod delta;
pub mod file;
pub mod lock;
pub mod mission;
pub mod policy;
pub mod run;
pub mod suppress;

pub use run::{Checker, Outcome};
