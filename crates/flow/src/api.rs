//! The lock API as data: which calls acquire, try to acquire, release or
//! assert which lock, plus the few control-flow facts about kernel macros the
//! lowering needs (condition wrappers, `BUG_ON`, guard macros).
//!
//! Everything here is read from rule files (`rules/locks.toml`); the engine
//! never names a kernel function itself.

use std::collections::HashMap;

use serde::Deserialize;

/// What a lock API call does.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    Acquire,
    Release,
    /// Acquires only when the result says so, see [`Success`].
    TryAcquire,
    /// An assertion that the lock is held (`lockdep_assert_held`).
    AssertHeld,
    /// An assertion that the lock is not held.
    AssertNotHeld,
    /// The call may drop any held lock of its kind, and the caller may take
    /// it again (`handle_mm_fault()` and the mmap lock on `VM_FAULT_RETRY`):
    /// what the calling function does with locks of that kind is not judged.
    MayRelease,
}

/// When a try-acquire succeeded.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Success {
    /// A nonzero (true, non-NULL) result: `spin_trylock`, `trylock_page`.
    #[default]
    Nonzero,
    /// A zero result: `mutex_lock_interruptible`, `down_read_killable`.
    Zero,
}

impl Success {
    /// The success condition of the negated result.
    pub fn negated(self) -> Success {
        match self {
            Success::Nonzero => Success::Zero,
            Success::Zero => Success::Nonzero,
        }
    }
}

/// Where the lock of a call is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LockSource {
    /// An argument, dereferenced `deref` times (1 for `spin_lock(&l)`: the
    /// argument points to the lock; 2 for `pte_offset_map_lock(…, &ptl)`).
    Arg { index: usize, deref: u8 },
    /// The call's return value points to the lock (`ptl = pmd_lock(…)`).
    Returned,
    /// A lock with no object, named by the API (`rcu_read_lock()` → `RCU`).
    Named(String),
}

/// One API function, compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiFunction {
    pub effect: Effect,
    pub lock: LockSource,
    pub success: Success,
    /// The lock kind for messages: `spinlock`, `mutex`, `page lock`…
    pub kind: String,
    /// Nesting locks (RCU, read locks) count depth and may be re-acquired.
    pub recursive: bool,
    /// A named lock the call takes or drops too, with its recursion
    /// (`pte_offset_map_lock` also enters an RCU read section).
    pub also: Option<(String, bool)>,
}

/// A family of functions sharing kind and lock argument.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    pub kind: String,
    /// Lock argument (default 0); ignored when `named` is set.
    #[serde(default)]
    pub arg: usize,
    /// How many times to dereference the argument to reach the lock (default 1).
    #[serde(default)]
    pub deref: Option<u8>,
    /// A lock with no object (`RCU`).
    #[serde(default)]
    pub named: Option<String>,
    #[serde(default)]
    pub recursive: bool,
    #[serde(default)]
    pub acquire: Vec<String>,
    #[serde(default)]
    pub release: Vec<String>,
    /// Try-acquires that succeed on a nonzero result.
    #[serde(default)]
    pub try_acquire: Vec<String>,
    /// Try-acquires that succeed on a zero result.
    #[serde(default)]
    pub try_acquire_zero: Vec<String>,
    #[serde(default)]
    pub assert_held: Vec<String>,
    #[serde(default)]
    pub assert_not_held: Vec<String>,
    /// Calls that acquire and return a pointer to the lock (`pmd_lock`).
    #[serde(default)]
    pub acquire_returned: Vec<String>,
    /// Calls that return a pointer to the lock, acquired, or NULL (`pmd_trans_huge_lock`).
    #[serde(default)]
    pub try_acquire_returned: Vec<String>,
}

/// An irregular API function.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionEntry {
    pub name: String,
    pub effect: Effect,
    pub kind: String,
    #[serde(default)]
    pub arg: usize,
    #[serde(default)]
    pub deref: Option<u8>,
    #[serde(default)]
    pub success: Success,
    #[serde(default)]
    pub recursive: bool,
    /// A named lock (`RCU`) taken or dropped with the same effect.
    #[serde(default)]
    pub also: Option<String>,
}

/// Control-flow facts about kernel macros.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowMacros {
    /// Calls whose value is the truth of their first argument (`unlikely`, `WARN_ON`).
    #[serde(default)]
    pub condition_wrappers: Vec<String>,
    /// Calls that do not return when their first argument is true (`BUG_ON`).
    #[serde(default)]
    pub noreturn_if: Vec<String>,
    /// Calls whose result names the same lock as their first argument (`page_folio`).
    #[serde(default)]
    pub same_lock: Vec<String>,
    /// Calls that make an error value (`ERR_PTR(-ENOMEM)`): returning one is
    /// returning an errno.
    #[serde(default)]
    pub error_values: Vec<String>,
    /// Tests that their argument is an error value (`IS_ERR(p)`).
    #[serde(default)]
    pub error_tests: Vec<String>,
    /// Side-effect-free predicates whose result stays the same while their
    /// arguments do (`folio_test_anon(folio)`): two tests of one call agree.
    /// A trailing `*` matches any rest of the name.
    #[serde(default)]
    pub pure_predicates: Vec<String>,
    /// Flags a return value carries to say a lock is held on return
    /// (`VM_FAULT_LOCKED`): such a return is told apart from others.
    #[serde(default)]
    pub lock_status_flags: Vec<String>,
    /// `guard(class)(lock…);` macros: held to the end of the enclosing block.
    #[serde(default)]
    pub guard: Vec<String>,
    /// `scoped_guard(class, lock…) body` macros: held in the body.
    #[serde(default)]
    pub scoped_guard: Vec<String>,
    /// `scoped_cond_guard(class, fail, lock…) body` macros.
    #[serde(default)]
    pub scoped_cond_guard: Vec<String>,
}

/// The `[locks]` part of a rule file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockApiConfig {
    #[serde(default)]
    pub flow: FlowMacros,
    #[serde(default)]
    pub family: Vec<Family>,
    #[serde(default)]
    pub function: Vec<FunctionEntry>,
    /// Guard class → the API function it stands for (`spinlock_irqsave` → `spin_lock_irqsave`).
    #[serde(default)]
    pub guard_classes: HashMap<String, String>,
}

impl LockApiConfig {
    /// Adds every entry of `other`.
    pub fn extend(&mut self, other: LockApiConfig) {
        let f = &mut self.flow;
        f.condition_wrappers.extend(other.flow.condition_wrappers);
        f.noreturn_if.extend(other.flow.noreturn_if);
        f.same_lock.extend(other.flow.same_lock);
        f.error_values.extend(other.flow.error_values);
        f.error_tests.extend(other.flow.error_tests);
        f.pure_predicates.extend(other.flow.pure_predicates);
        f.lock_status_flags.extend(other.flow.lock_status_flags);
        f.guard.extend(other.flow.guard);
        f.scoped_guard.extend(other.flow.scoped_guard);
        f.scoped_cond_guard.extend(other.flow.scoped_cond_guard);
        self.family.extend(other.family);
        self.function.extend(other.function);
        self.guard_classes.extend(other.guard_classes);
    }

    /// Builds the lookup tables.
    pub fn compile(&self) -> LockApi {
        let mut functions = HashMap::new();
        for fam in &self.family {
            let lock_for = |effect: Effect| match (&fam.named, effect) {
                (Some(name), _) => LockSource::Named(name.clone()),
                _ => LockSource::Arg {
                    index: fam.arg,
                    deref: fam.deref.unwrap_or(1),
                },
            };
            let groups: [(&Vec<String>, Effect, Success); 6] = [
                (&fam.acquire, Effect::Acquire, Success::Nonzero),
                (&fam.release, Effect::Release, Success::Nonzero),
                (&fam.try_acquire, Effect::TryAcquire, Success::Nonzero),
                (&fam.try_acquire_zero, Effect::TryAcquire, Success::Zero),
                (&fam.assert_held, Effect::AssertHeld, Success::Nonzero),
                (
                    &fam.assert_not_held,
                    Effect::AssertNotHeld,
                    Success::Nonzero,
                ),
            ];
            for (names, effect, success) in groups {
                for name in names {
                    functions.insert(
                        name.clone(),
                        ApiFunction {
                            effect,
                            lock: lock_for(effect),
                            success,
                            kind: fam.kind.clone(),
                            recursive: fam.recursive,
                            also: None,
                        },
                    );
                }
            }
            let returned = [
                (&fam.acquire_returned, Effect::Acquire),
                (&fam.try_acquire_returned, Effect::TryAcquire),
            ];
            for name in returned
                .iter()
                .flat_map(|(names, effect)| names.iter().map(move |n| (n, *effect)))
            {
                let (name, effect) = name;
                functions.insert(
                    name.clone(),
                    ApiFunction {
                        effect,
                        lock: LockSource::Returned,
                        success: Success::Nonzero,
                        kind: fam.kind.clone(),
                        recursive: fam.recursive,
                        also: None,
                    },
                );
            }
        }
        for entry in &self.function {
            functions.insert(
                entry.name.clone(),
                ApiFunction {
                    effect: entry.effect,
                    lock: LockSource::Arg {
                        index: entry.arg,
                        deref: entry.deref.unwrap_or(1),
                    },
                    success: entry.success,
                    kind: entry.kind.clone(),
                    recursive: entry.recursive,
                    also: entry.also.as_ref().map(|name| {
                        let recursive = self
                            .family
                            .iter()
                            .any(|f| f.named.as_ref() == Some(name) && f.recursive);
                        (name.clone(), recursive)
                    }),
                },
            );
        }
        let set = |v: &Vec<String>| v.iter().cloned().collect();
        LockApi {
            functions,
            guard_classes: self.guard_classes.clone(),
            condition_wrappers: set(&self.flow.condition_wrappers),
            noreturn_if: set(&self.flow.noreturn_if),
            same_lock: set(&self.flow.same_lock),
            error_values: set(&self.flow.error_values),
            error_tests: set(&self.flow.error_tests),
            pure_predicates: self.flow.pure_predicates.clone(),
            lock_status_flags: set(&self.flow.lock_status_flags),
            guard: set(&self.flow.guard),
            scoped_guard: set(&self.flow.scoped_guard),
            scoped_cond_guard: set(&self.flow.scoped_cond_guard),
        }
    }
}

/// [`LockApiConfig`] compiled for lookups.
#[derive(Clone, Debug, Default)]
pub struct LockApi {
    functions: HashMap<String, ApiFunction>,
    guard_classes: HashMap<String, String>,
    condition_wrappers: std::collections::HashSet<String>,
    noreturn_if: std::collections::HashSet<String>,
    same_lock: std::collections::HashSet<String>,
    error_values: std::collections::HashSet<String>,
    error_tests: std::collections::HashSet<String>,
    pure_predicates: Vec<String>,
    lock_status_flags: std::collections::HashSet<String>,
    guard: std::collections::HashSet<String>,
    scoped_guard: std::collections::HashSet<String>,
    scoped_cond_guard: std::collections::HashSet<String>,
}

impl LockApi {
    pub fn function(&self, name: &str) -> Option<&ApiFunction> {
        self.functions.get(name)
    }

    /// The API function a guard class stands for.
    pub fn guard_class(&self, class: &str) -> Option<&ApiFunction> {
        self.guard_classes
            .get(class)
            .and_then(|f| self.functions.get(f))
    }

    pub fn is_condition_wrapper(&self, name: &str) -> bool {
        self.condition_wrappers.contains(name)
    }

    pub fn is_noreturn_if(&self, name: &str) -> bool {
        self.noreturn_if.contains(name)
    }

    pub fn is_same_lock(&self, name: &str) -> bool {
        self.same_lock.contains(name)
    }

    pub fn is_error_value(&self, name: &str) -> bool {
        self.error_values.contains(name)
    }

    pub fn is_error_test(&self, name: &str) -> bool {
        self.error_tests.contains(name)
    }

    pub fn is_lock_status_flag(&self, name: &str) -> bool {
        self.lock_status_flags.contains(name)
    }

    pub fn is_pure_predicate(&self, name: &str) -> bool {
        self.pure_predicates
            .iter()
            .any(|p| match p.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == p,
            })
    }

    pub fn is_guard(&self, name: &str) -> bool {
        self.guard.contains(name)
    }

    pub fn is_scoped_guard(&self, name: &str) -> bool {
        self.scoped_guard.contains(name)
    }

    pub fn is_scoped_cond_guard(&self, name: &str) -> bool {
        self.scoped_cond_guard.contains(name)
    }

    /// Every API function name, for rule-file validation.
    pub fn function_names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }
}
