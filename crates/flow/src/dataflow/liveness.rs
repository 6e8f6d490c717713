//! Which path facts still matter at a node, for merging states past the
//! disjunct bound.
//!
//! A fact is live before a node when some path from there reads it before
//! anything assigns its key: a branch tests the key, a callee's effect
//! depends on it (`HARD_TX_UNLOCK(dev, txq)` releases only when
//! `dev->lltx` is false), a lock is taken or released through a pointer it
//! says is NULL or an error, a copy hands it to another variable, or a return returns
//! it (`ret = 0; … return ret;`). Facts the function's summary compares
//! across its returns (parameters and what is under them, build
//! conditions) matter everywhere a return is reachable, which is nearly
//! everywhere; they are the first to give way to the live ones.
//!
//! Computed once per function, and only for functions whose states
//! overflow somewhere: a backward bit-vector analysis over the tracked keys.

use std::collections::{HashMap, HashSet};

use crate::cfg::{Cfg, EdgeCond, Op, ReturnValue, TruthKey};
use crate::path::Path;

use super::{pointers_to, Calls};

/// Past these sizes the analysis is not run, and every fact counts as live.
const MAX_KEYS: usize = 2048;
const MAX_NODES: usize = 50_000;

/// The live facts before every node of one function.
pub(super) struct Liveness {
    index: HashMap<TruthKey, usize>,
    words: usize,
    /// `words` words per node: the keys live before it.
    live: Vec<u64>,
    /// Keys the summary reads at returns.
    at_returns: Vec<bool>,
}

impl Liveness {
    /// `None` when the function is too large to be worth it.
    pub(super) fn new(
        cfg: &Cfg,
        calls: &Calls<'_>,
        tracked: &HashSet<TruthKey>,
    ) -> Option<Liveness> {
        let n = cfg.ops.len();
        if tracked.len() > MAX_KEYS || n > MAX_NODES {
            return None;
        }
        let mut keys: Vec<&TruthKey> = tracked.iter().collect();
        keys.sort();
        let words = keys.len().div_ceil(64).max(1);
        let index: HashMap<TruthKey, usize> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| ((*k).clone(), i))
            .collect();
        let set = |bits: &mut [u64], node: usize, i: usize| {
            bits[node * words + i / 64] |= 1 << (i % 64);
        };
        // Read by the node's op, before it assigns anything.
        let mut uses = vec![0u64; n * words];
        // Tested on the node's out-edges, after its op.
        let mut tests = vec![0u64; n * words];
        let mut kills = vec![0u64; n * words];
        // `ptl == pml`: a lock under one names the other's.
        let equalities: Vec<&TruthKey> = keys
            .iter()
            .copied()
            .filter(|k| matches!(k, TruthKey::Cond { vars, .. } if vars.len() == 2))
            .collect();
        for node in 0..n {
            for key in read_by(cfg, calls, &equalities, node) {
                if let Some(&i) = index.get(&key) {
                    set(&mut uses, node, i);
                }
            }
            for edge in &cfg.succs[node] {
                if let EdgeCond::Truth(key, _)
                | EdgeCond::Settle(key, _)
                | EdgeCond::ErrorTest(key, _) = &edge.cond
                {
                    if let Some(&i) = index.get(key) {
                        set(&mut tests, node, i);
                    }
                }
            }
            if matches!(
                cfg.ops[node],
                Op::Assign { .. } | Op::Cursor { .. } | Op::Call(_)
            ) {
                for (i, key) in keys.iter().enumerate() {
                    if cfg.assigns(node as u32, key) {
                        set(&mut kills, node, i);
                    }
                }
            }
        }
        let mut live = vec![0u64; n * words];
        let mut after = vec![0u64; words];
        let mut changed = true;
        while changed {
            changed = false;
            for node in (0..n).rev() {
                after.copy_from_slice(&tests[node * words..(node + 1) * words]);
                for edge in &cfg.succs[node] {
                    let to = edge.to as usize;
                    for (w, bits) in after.iter_mut().enumerate() {
                        *bits |= live[to * words + w];
                    }
                }
                for (w, after) in after.iter().enumerate() {
                    let at = node * words + w;
                    let before = uses[at] | (after & !kills[at]);
                    if before != live[at] {
                        live[at] = before;
                        changed = true;
                    }
                }
            }
        }
        let at_returns = keys
            .iter()
            .map(|key| read_at_returns(cfg, &calls.returned_vars, key))
            .collect();
        Some(Liveness {
            index,
            words,
            live,
            at_returns,
        })
    }

    /// Whether a fact about `key` can still matter before `node`: read
    /// ahead, or (`with_returns`) read by the summary at the returns. A
    /// comparison with another constant of the same value is read where
    /// its group is ([`super::Merging::alike`]).
    pub(super) fn matters(&self, node: u32, key: &TruthKey, with_returns: bool) -> bool {
        let Some(&i) = self.index.get(key) else {
            return true;
        };
        (with_returns && self.at_returns[i])
            || self.live[node as usize * self.words + i / 64] & (1 << (i % 64)) != 0
    }
}

/// The keys whose facts `node`'s op reads.
fn read_by(cfg: &Cfg, calls: &Calls<'_>, equalities: &[&TruthKey], node: usize) -> Vec<TruthKey> {
    let mut read = Vec::new();
    let lock_at = |lock: &Path, read: &mut Vec<TruthKey>| {
        read.extend(pointers_to(lock));
        if let Some(root) = lock.root_var() {
            read.push(TruthKey::Errno(root.to_owned()));
            read.extend(
                equalities
                    .iter()
                    .filter(|k| matches!(k, TruthKey::Cond { vars, .. } if vars.iter().any(|v| v == root)))
                    .map(|k| (*k).clone()),
            );
        }
    };
    match &cfg.ops[node] {
        Op::Call(call) => {
            let summary = call
                .callee
                .as_deref()
                .and_then(|c| calls.summaries.summary(c));
            read.extend(
                calls
                    .read_by_calls
                    .get(&(node as crate::cfg::NodeId))
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            for effect in summary.into_iter().flat_map(|s| &s.effects) {
                if let Some(lock) = effect
                    .lock
                    .substitute(&call.args, call.result_lvalue.as_ref())
                {
                    lock_at(&lock, &mut read);
                }
            }
        }
        Op::GuardAcquire(guard) => lock_at(&guard.lock, &mut read),
        Op::GuardRelease { lock, .. } => lock_at(lock, &mut read),
        Op::Copy { from, .. } => read.push(from.clone()),
        // What the return value means: `ret = 0; … return ret;` returns 0.
        Op::Return { value, .. } => match value {
            ReturnValue::Var(v) => read.extend([
                TruthKey::Var(v.clone()),
                TruthKey::Errno(v.clone()),
                TruthKey::Status(v.clone()),
            ]),
            ReturnValue::Call(id) => read.push(TruthKey::Call(*id)),
            _ => {}
        },
        _ => {}
    }
    read
}

/// Whether the summary reads facts about `key` at the returns: what a
/// return value means (an errno, a status, a returned variable, a call's
/// result), and what callers decide (parameters, what is under them,
/// conditions on them, the build).
fn read_at_returns(cfg: &Cfg, returned: &HashSet<String>, key: &TruthKey) -> bool {
    match key {
        TruthKey::Errno(_) | TruthKey::Status(_) | TruthKey::Call(_) => true,
        TruthKey::Var(v) => cfg.params.contains(v) || returned.contains(v),
        TruthKey::Value(path) => cfg.rooted_at_param(path),
        // A flag of a returned variable may say what the return holds
        // (`if (effects & MASK) mutex_lock(…); return effects;`).
        TruthKey::Cond { vars, .. } => {
            key.is_config()
                || crate::cfg::callers_to_decide(vars, &cfg.params)
                || key
                    .flag_test()
                    .is_some_and(|(var, _)| returned.contains(var))
        }
    }
}
