//! The kernel-macro vocabulary the frontend uses, as data.
//!
//! The built-in list lives in `rules/syntax.toml` (a `[syntax]` table); rule
//! files may add to it. Nothing here says what a macro *means* beyond its
//! shape: whether it is blanked, kept as a fact for later stages, or defines
//! a function.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

/// How the arguments of a function-defining macro map to a C declarator.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ParamShape {
    /// `NAME(fn_name, …)`: only the function name is known; parameters are dropped.
    #[default]
    Name,
    /// `NAME(fn_name, type1, name1, type2, name2, …)` as in `SYSCALL_DEFINEn`.
    TypeNamePairs,
}

/// A family of function-defining macros, matched by name prefix.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FunctionMacro {
    /// Name prefix, e.g. `SYSCALL_DEFINE` matches `SYSCALL_DEFINE3`.
    pub prefix: String,
    /// How the arguments are laid out.
    #[serde(default)]
    pub params: ParamShape,
}

/// A file-scope macro that defines a variable, e.g. `DEFINE_SPINLOCK(name)`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DefinerMacro {
    /// The macro name.
    pub name: String,
    /// The C type of the variable it defines, e.g. `spinlock_t`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Which argument (0-based) is the variable's name.
    #[serde(default)]
    pub name_arg: usize,
}

/// The `[syntax]` table of a rule file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MacroConfig {
    /// Bare annotation words blanked before parsing (`__init`, `__user`, …).
    #[serde(default)]
    pub attributes: Vec<String>,
    /// Annotation macros blanked together with their argument list
    /// (`__attribute__((…))`, `__printf(1, 2)`, …).
    #[serde(default)]
    pub attribute_calls: Vec<String>,
    /// Annotation macros blanked like `attribute_calls` but recorded as
    /// [`crate::Fact`]s for later stages (`__acquires(x)`, …).
    #[serde(default)]
    pub fact_calls: Vec<String>,
    /// Function-defining macros with a known parameter layout. A file-scope
    /// `NAME(args) {` not listed here is still read as a function definition
    /// named by its first argument.
    #[serde(default)]
    pub function_macros: Vec<FunctionMacro>,
    /// File-scope variable-defining macros.
    #[serde(default)]
    pub definer_macros: Vec<DefinerMacro>,
    /// Calls that never return (`BUG()`, `panic()`, …); the flow stage uses them.
    #[serde(default)]
    pub noreturn_calls: Vec<String>,
}

impl MacroConfig {
    /// Adds every entry of `other` to `self`.
    pub fn extend(&mut self, other: MacroConfig) {
        self.attributes.extend(other.attributes);
        self.attribute_calls.extend(other.attribute_calls);
        self.fact_calls.extend(other.fact_calls);
        self.function_macros.extend(other.function_macros);
        self.definer_macros.extend(other.definer_macros);
        self.noreturn_calls.extend(other.noreturn_calls);
    }

    /// Builds the lookup tables the idiom pass uses.
    pub fn compile(&self) -> CompiledMacros {
        CompiledMacros {
            attributes: self.attributes.iter().cloned().collect(),
            attribute_calls: self.attribute_calls.iter().cloned().collect(),
            fact_calls: self.fact_calls.iter().cloned().collect(),
            function_macros: self.function_macros.clone(),
            definers: self
                .definer_macros
                .iter()
                .map(|d| (d.name.clone(), (d.ty.clone(), d.name_arg)))
                .collect(),
            noreturn: self.noreturn_calls.iter().cloned().collect(),
        }
    }
}

/// [`MacroConfig`] in the form the idiom pass looks things up in.
#[derive(Clone, Debug, Default)]
pub struct CompiledMacros {
    attributes: HashSet<String>,
    attribute_calls: HashSet<String>,
    fact_calls: HashSet<String>,
    function_macros: Vec<FunctionMacro>,
    definers: HashMap<String, (String, usize)>,
    noreturn: HashSet<String>,
}

impl CompiledMacros {
    /// The type and name-argument index of a variable-defining macro.
    pub fn definer(&self, name: &str) -> Option<(&str, usize)> {
        self.definers.get(name).map(|(ty, arg)| (ty.as_str(), *arg))
    }

    /// Whether a call to `name` never returns.
    pub fn is_noreturn(&self, name: &str) -> bool {
        self.noreturn.contains(name)
    }

    pub fn is_attribute(&self, name: &str) -> bool {
        self.attributes.contains(name)
    }

    pub fn is_attribute_call(&self, name: &str) -> bool {
        self.attribute_calls.contains(name)
    }

    pub fn is_fact_call(&self, name: &str) -> bool {
        self.fact_calls.contains(name)
    }

    /// The parameter layout of a function-defining macro; [`ParamShape::Name`]
    /// for one not listed.
    pub fn function_shape(&self, name: &str) -> ParamShape {
        self.function_macros
            .iter()
            .find(|m| name.starts_with(&m.prefix))
            .map_or(ParamShape::Name, |m| m.params)
    }
}
