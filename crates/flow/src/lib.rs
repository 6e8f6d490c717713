//! The lock-state engine: control-flow graphs of function bodies, the
//! must/may lock-set dataflow over them, and function summaries applied at
//! call sites, bottom-up over the call graph of all analysed files.
//!
//! Invariant: the engine never names a kernel function. Which calls lock,
//! unlock, try or assert, and which macros guard a scope, come from the
//! lock-API data ([`api::LockApiConfig`], `rules/locks.toml`).

pub mod analysis;
pub mod api;
pub mod cfg;
pub mod dataflow;
pub mod memo;
pub mod path;
pub mod progress;
pub mod replay;
pub mod summary;

pub use analysis::{
    analyze, analyze_with, build, build_with, Analysis, FunctionResult, LoweredCache, Program,
};
pub use api::{LockApi, LockApiConfig};
