//! The lock API as data: which calls acquire, try to acquire, release or
//! assert which lock, plus the few control-flow facts about kernel macros the
//! lowering needs (condition wrappers, `BUG_ON`, guard macros).
//!
//! Everything here is read from rule files (`rules/locks.toml`); the engine
//! never names a kernel function itself.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use crate::summary::{Change, LockRef, Summary, SummaryEffect};

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
    /// A test whose result is nonzero when the lock is held
    /// (`mutex_is_locked`).
    HeldTest,
    /// A sparse context statement (`__acquire(x)`, `__release(x)`): the
    /// author accounts for the lock by hand here (a lock handed to another
    /// function, one of two names for one lock), so its state on this path
    /// is unknown.
    ContextStatement,
    /// The call may drop any held lock of its kind, and the caller may take
    /// it again (`handle_mm_fault()` and the mmap lock on `VM_FAULT_RETRY`):
    /// what the calling function does with locks of that kind is not judged.
    MayRelease,
}

/// When a try-acquire succeeded.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Success {
    /// A nonzero (true, non-NULL) result: `spin_trylock`, `trylock_page`.
    #[default]
    Nonzero,
    /// A zero result: `mutex_lock_interruptible`, `down_read_killable`.
    Zero,
    /// Anything but a negative errno: an index or id (`ipc_addid()`), a
    /// pointer or `ERR_PTR()`. Zero is a success; a nonzero value is not
    /// told apart until the result is tested against zero or `IS_ERR()`.
    NonNegative,
}

impl Success {
    /// The success condition of the negated result.
    pub fn negated(self) -> Success {
        match self {
            Success::Nonzero => Success::Zero,
            Success::Zero => Success::Nonzero,
            // `!ret` is true only for a zero, a success: that says no more.
            Success::NonNegative => Success::NonNegative,
        }
    }

    /// Whether a result whose truth is `truthy` succeeded, if that tells.
    pub fn acquired_when(self, truthy: bool) -> Option<bool> {
        match self {
            Success::Nonzero => Some(truthy),
            Success::Zero => Some(!truthy),
            Success::NonNegative => (!truthy).then_some(true),
        }
    }
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
    /// Tests that return nonzero when the lock is held (`mutex_is_locked`).
    #[serde(default)]
    pub held_test: Vec<String>,
    /// Sparse context statements (`__acquire`, `__release`).
    #[serde(default)]
    pub context_statement: Vec<String>,
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
    /// For a try-acquire: the argument that, when NULL, makes it always
    /// succeed (`ww_mutex_lock(lock, NULL)` is a plain `mutex_lock()`).
    #[serde(default)]
    pub certain_if_null: Option<usize>,
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
    /// `container_of(ptr, type, member)` and its kin: the object that holds
    /// what `ptr` points to as its `member` (the third argument).
    #[serde(default)]
    pub containers: Vec<String>,
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
    /// Tests of the build configuration in C (`IS_ENABLED(CONFIG_X)`): one
    /// answer per build, as an `#if` has.
    #[serde(default)]
    pub config_tests: Vec<String>,
    /// Errnos with which a try-acquire says the acquire context it was
    /// given holds the lock already (`ww_mutex_lock()`'s `EALREADY`).
    #[serde(default)]
    pub already_held: Vec<String>,
    /// The one errno each of these try-acquires fails with, by errno
    /// (`EINTR = ["mutex_lock_interruptible", …]`): a result compared with
    /// it is tested both ways, a different value being success.
    #[serde(default)]
    pub fails_only_with: HashMap<String, Vec<String>>,
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
    /// Initialisers that give a lock object its count (`sema_init(&s, n)`,
    /// `DEFINE_SEMAPHORE(s, n)`: object first, count second). An object
    /// given a count other than 1 counts, it does not exclude: a slot pool
    /// or a signal, not a lock.
    #[serde(default)]
    pub counting_inits: Vec<String>,
    /// Lock kinds one context may release for another (a semaphore, which
    /// has no owner): one that a function with no caller in the analysed
    /// code (a thread, an interrupt handler, a completion callback)
    /// releases without taking it is a signal between contexts, not a lock.
    #[serde(default)]
    pub signal_kinds: Vec<String>,
    /// Directories of the tree built as programs of their own, apart from
    /// the kernel (user-space tools, host programs), by root-relative
    /// prefix: a call resolves to a definition in the caller's program.
    #[serde(default)]
    pub programs: Vec<String>,
    /// Calls that link an object into a container (`list_add_tail(&obj->
    /// link, &ww->obj_list)`: the object's member first, the container
    /// second). A locked object linked where callers reach it is theirs to
    /// release, by walking the container.
    #[serde(default)]
    pub links: Vec<String>,
    /// Calls that store into their first argument, an lvalue
    /// (`WRITE_ONCE(page->private, 0)`): a write of it.
    #[serde(default)]
    pub stores: Vec<String>,
    /// Acquires that say the caller holds other locks of the lock's class
    /// (`mutex_lock_nested(&vqs[i]->mutex, i)`): lockdep's annotation for
    /// taking several elements of one array of locks at once.
    #[serde(default)]
    pub nesting: Vec<String>,
    /// Calls that never return NULL when an argument carries one of some
    /// flags (`mempool_alloc(pool, GFP_NOIO)` waits for an element): the
    /// result needs no test, and a path that tests it NULL does not happen.
    #[serde(default)]
    pub never_null: Vec<NeverNull>,
}

/// See [`FlowMacros::never_null`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeverNull {
    pub functions: Vec<String>,
    /// The argument that carries the flags.
    pub arg: usize,
    /// Any of them, in the argument's text (`GFP_KERNEL | __GFP_NOFAIL`) or
    /// known set on the path in a variable passed (`gfp & __GFP_NOFAIL`).
    pub flags: Vec<String>,
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
        f.containers.extend(other.flow.containers);
        f.error_values.extend(other.flow.error_values);
        f.error_tests.extend(other.flow.error_tests);
        f.pure_predicates.extend(other.flow.pure_predicates);
        f.config_tests.extend(other.flow.config_tests);
        f.already_held.extend(other.flow.already_held);
        for (errno, names) in other.flow.fails_only_with {
            f.fails_only_with.entry(errno).or_default().extend(names);
        }
        f.lock_status_flags.extend(other.flow.lock_status_flags);
        f.guard.extend(other.flow.guard);
        f.scoped_guard.extend(other.flow.scoped_guard);
        f.scoped_cond_guard.extend(other.flow.scoped_cond_guard);
        f.counting_inits.extend(other.flow.counting_inits);
        f.signal_kinds.extend(other.flow.signal_kinds);
        f.programs.extend(other.flow.programs);
        f.links.extend(other.flow.links);
        f.stores.extend(other.flow.stores);
        f.nesting.extend(other.flow.nesting);
        f.never_null.extend(other.flow.never_null);
        self.family.extend(other.family);
        self.function.extend(other.function);
        self.guard_classes.extend(other.guard_classes);
    }

    /// Compiles every entry into the [`Summary`] a call to it applies: the
    /// same kind of summary the engine infers for analysed functions, so a
    /// call site does not care whether its callee is a primitive.
    pub fn compile(&self) -> LockApi {
        let mut primitives = HashMap::new();
        let named_recursive = |name: &str| {
            self.family
                .iter()
                .any(|f| f.named.as_deref() == Some(name) && f.recursive)
        };
        for fam in &self.family {
            let lock = match &fam.named {
                Some(name) => LockRef::named(name),
                None => LockRef::arg(fam.arg, fam.deref.unwrap_or(1)),
            };
            // `ptl = pmd_lock(…)`: the lock is what the result points to.
            let returned = LockRef::returned();
            let groups: [(&Vec<String>, Effect, Success, &LockRef); 10] = [
                (&fam.acquire, Effect::Acquire, Success::Nonzero, &lock),
                (&fam.release, Effect::Release, Success::Nonzero, &lock),
                (
                    &fam.try_acquire,
                    Effect::TryAcquire,
                    Success::Nonzero,
                    &lock,
                ),
                (
                    &fam.try_acquire_zero,
                    Effect::TryAcquire,
                    Success::Zero,
                    &lock,
                ),
                (
                    &fam.assert_held,
                    Effect::AssertHeld,
                    Success::Nonzero,
                    &lock,
                ),
                (
                    &fam.assert_not_held,
                    Effect::AssertNotHeld,
                    Success::Nonzero,
                    &lock,
                ),
                (&fam.held_test, Effect::HeldTest, Success::Nonzero, &lock),
                (
                    &fam.context_statement,
                    Effect::ContextStatement,
                    Success::Nonzero,
                    &lock,
                ),
                (
                    &fam.acquire_returned,
                    Effect::Acquire,
                    Success::Nonzero,
                    &returned,
                ),
                (
                    &fam.try_acquire_returned,
                    Effect::TryAcquire,
                    Success::Nonzero,
                    &returned,
                ),
            ];
            for (names, effect, success, lock) in groups {
                for name in names {
                    let primitive = Primitive {
                        effect,
                        success,
                        kind: &fam.kind,
                        recursive: fam.recursive,
                    };
                    // Sparse names a context as the author likes: the
                    // lock's address (`&cq->lock`), a pointer to it, or the
                    // lock itself (`__acquire(rcq->cq_lock)`): both readings.
                    let also = (effect == Effect::ContextStatement && fam.named.is_none())
                        .then(|| (LockRef::arg(fam.arg, 0), false));
                    primitives.insert(name.clone(), primitive.summary(lock.clone(), also));
                }
            }
        }
        for entry in &self.function {
            let also = entry
                .also
                .as_ref()
                .map(|name| (LockRef::named(name), named_recursive(name)));
            let primitive = Primitive {
                effect: entry.effect,
                success: entry.success,
                kind: &entry.kind,
                recursive: entry.recursive,
            };
            let lock = LockRef::arg(entry.arg, entry.deref.unwrap_or(1));
            let mut summary = primitive.summary(lock, also);
            if let (Some(arg), Effect::TryAcquire) = (entry.certain_if_null, entry.effect) {
                // Taken outright when the argument is NULL, tried otherwise.
                let on = LockRef::arg(arg, 0);
                let tries = std::mem::take(&mut summary.effects);
                for effect in tries {
                    summary.effects.push(SummaryEffect {
                        change: Change::Acquire,
                        when: Some((on.clone(), false)),
                        ..effect.clone()
                    });
                    summary.effects.push(SummaryEffect {
                        when: Some((on.clone(), true)),
                        ..effect
                    });
                }
            }
            primitives.insert(entry.name.clone(), summary);
        }
        let set = |v: &Vec<String>| v.iter().cloned().collect();
        LockApi {
            primitives,
            guard_classes: self.guard_classes.clone(),
            condition_wrappers: set(&self.flow.condition_wrappers),
            noreturn_if: set(&self.flow.noreturn_if),
            same_lock: set(&self.flow.same_lock),
            containers: set(&self.flow.containers),
            error_values: set(&self.flow.error_values),
            error_tests: set(&self.flow.error_tests),
            pure_predicates: self.flow.pure_predicates.clone(),
            config_tests: set(&self.flow.config_tests),
            already_held: set(&self.flow.already_held),
            fails_only_with: self
                .flow
                .fails_only_with
                .iter()
                .flat_map(|(errno, names)| names.iter().map(move |n| (n.clone(), errno.clone())))
                .collect(),
            lock_status_flags: set(&self.flow.lock_status_flags),
            guard: set(&self.flow.guard),
            scoped_guard: set(&self.flow.scoped_guard),
            scoped_cond_guard: set(&self.flow.scoped_cond_guard),
            counting_inits: set(&self.flow.counting_inits),
            signal_kinds: set(&self.flow.signal_kinds),
            programs: self.flow.programs.clone(),
            links: set(&self.flow.links),
            stores: set(&self.flow.stores),
            nesting: set(&self.flow.nesting),
            never_null: self
                .flow
                .never_null
                .iter()
                .flat_map(|n| {
                    n.functions
                        .iter()
                        .map(move |f| (f.clone(), (n.arg, n.flags.clone())))
                })
                .collect(),
        }
    }
}

/// One API entry on its way to a summary.
struct Primitive<'a> {
    effect: Effect,
    success: Success,
    kind: &'a str,
    recursive: bool,
}

impl Primitive<'_> {
    /// The summary of a call: its effect on `lock`, and on `also` (a named
    /// lock taken or dropped with it, with its recursion).
    fn summary(&self, lock: LockRef, also: Option<(LockRef, bool)>) -> Summary {
        let change = match self.effect {
            Effect::Acquire => Some(Change::Acquire),
            Effect::Release => Some(Change::Release),
            Effect::TryAcquire => Some(Change::TryAcquire(self.success)),
            Effect::AssertHeld => Some(Change::Require),
            Effect::AssertNotHeld => Some(Change::NotHeld),
            Effect::HeldTest => Some(Change::HeldTest),
            Effect::ContextStatement => Some(Change::Unknown),
            Effect::MayRelease => None,
        };
        let effect = |lock: LockRef, recursive: bool| SummaryEffect {
            lock,
            change: change.expect("an effect on a lock"),
            recursive,
            site: None,
            when: None,
            kind: Some(self.kind.to_owned()),
        };
        let mut effects = Vec::new();
        if change.is_some() {
            effects.extend(also.map(|(lock, recursive)| effect(lock, recursive)));
            effects.push(effect(lock, self.recursive));
        }
        Summary {
            effects,
            may_drop: match self.effect {
                Effect::MayRelease => vec![self.kind.to_owned()],
                _ => Vec::new(),
            },
            primitive: true,
            ..Summary::default()
        }
    }
}

/// [`LockApiConfig`] compiled for lookups.
#[derive(Clone, Debug, Default)]
pub struct LockApi {
    primitives: HashMap<String, Summary>,
    guard_classes: HashMap<String, String>,
    condition_wrappers: HashSet<String>,
    noreturn_if: HashSet<String>,
    same_lock: HashSet<String>,
    containers: HashSet<String>,
    error_values: HashSet<String>,
    error_tests: HashSet<String>,
    pure_predicates: Vec<String>,
    config_tests: HashSet<String>,
    already_held: HashSet<String>,
    /// Try-acquire → the one errno it fails with.
    fails_only_with: HashMap<String, String>,
    lock_status_flags: HashSet<String>,
    guard: HashSet<String>,
    scoped_guard: HashSet<String>,
    scoped_cond_guard: HashSet<String>,
    counting_inits: HashSet<String>,
    signal_kinds: HashSet<String>,
    programs: Vec<String>,
    links: HashSet<String>,
    stores: HashSet<String>,
    nesting: HashSet<String>,
    never_null: HashMap<String, (usize, Vec<String>)>,
}

impl LockApi {
    /// The summary of a lock primitive.
    pub fn primitive(&self, name: &str) -> Option<&Summary> {
        self.primitives.get(name)
    }

    /// The primitive a guard class stands for (`spinlock_irqsave` →
    /// `spin_lock_irqsave`), with its summary.
    pub fn guard_class(&self, class: &str) -> Option<(&str, &Summary)> {
        let name = self.guard_classes.get(class)?;
        Some((name.as_str(), self.primitives.get(name)?))
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

    pub fn is_container(&self, name: &str) -> bool {
        self.containers.contains(name)
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

    /// Whether `name` acquires a lock while others of its class are held
    /// by design (`spin_lock_nested`).
    pub fn is_nesting(&self, name: &str) -> bool {
        self.nesting.contains(name)
    }

    pub fn is_pure_predicate(&self, name: &str) -> bool {
        self.pure_predicates
            .iter()
            .any(|p| match p.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == p,
            })
    }

    /// Whether `name` tests the build configuration (`IS_ENABLED`).
    pub fn is_config_test(&self, name: &str) -> bool {
        self.config_tests.contains(name)
    }

    /// The one errno the try-acquire `name` fails with, if the lock API
    /// says (`mutex_lock_interruptible()`: `EINTR`).
    pub fn fails_only_with(&self, name: &str) -> Option<&str> {
        self.fails_only_with.get(name).map(String::as_str)
    }

    /// Whether a try result equal to `-name` says the acquire context held
    /// the lock already (`EALREADY`).
    pub fn is_already_held(&self, name: &str) -> bool {
        self.already_held.contains(name)
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

    /// Whether `name` stores into its first argument (`WRITE_ONCE`).
    pub fn is_store(&self, name: &str) -> bool {
        self.stores.contains(name)
    }

    /// Whether `name` links an object into a container (`list_add_tail`).
    pub fn is_link(&self, name: &str) -> bool {
        self.links.contains(name)
    }

    /// For a call that never returns NULL given some flags: the argument
    /// that carries them, and the flags.
    pub fn never_null(&self, name: &str) -> Option<(usize, &[String])> {
        self.never_null
            .get(name)
            .map(|(arg, flags)| (*arg, flags.as_slice()))
    }

    /// Whether locks of `kind` may be released by a context that did not take them.
    pub fn is_signal_kind(&self, kind: &str) -> bool {
        self.signal_kinds.contains(kind)
    }

    /// The program a root-relative file is built into: 0 for the kernel,
    /// else one past the index of the first `programs` prefix it is under.
    pub fn program_of(&self, path: &std::path::Path) -> usize {
        self.programs
            .iter()
            .position(|prefix| path.starts_with(prefix))
            .map_or(0, |i| i + 1)
    }

    /// The calls that give a lock object its count.
    pub fn counting_inits(&self) -> impl Iterator<Item = &str> {
        self.counting_inits.iter().map(String::as_str)
    }

    /// Whether `name` gives a lock object its count (`sema_init`).
    pub fn is_counting_init(&self, name: &str) -> bool {
        self.counting_inits.contains(name)
    }

    /// Every primitive's name, for rule-file validation.
    pub fn function_names(&self) -> impl Iterator<Item = &str> {
        self.primitives.keys().map(String::as_str)
    }
}
