//! `muster check`: every problem of a registry at once.
//!
//! Decoding (in `registry`) already reports what is malformed field by field; the checks here
//! judge the registry as a whole: references between its parts, the dependency graph,
//! clashes between services, and fitness for the engines it targets. Every environment is
//! checked merged, not only the base, and each problem is reported once.

mod conflicts;
mod references;
mod rules;

use std::sync::Arc;

use crate::diagnostic::{Diagnostic, sort_and_dedup};
use crate::registry::{self, Loaded, References, Registry};
use crate::source::SourceFile;

/// The semantic checks of one (possibly environment-merged) registry.
pub fn check_registry(reg: &Registry, refs: &References) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    references::check(reg, refs, &mut out);
    rules::check(reg, refs, &mut out);
    conflicts::check(reg, &mut out);
    out
}

/// The outcome of checking a registry file.
pub struct Report {
    /// The base registry as loaded (None when the file is not valid YAML).
    pub loaded: Loaded,
    /// Every problem, base and environments, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Loads and checks the registry in `source` as one environment (or the base), without
/// looking at other environments: what a command that uses this registry needs.
pub fn check_one(source: Arc<SourceFile>, env: Option<&str>) -> Report {
    judge(registry::load(source, env), env)
}

/// Checks environment `env` of an already loaded registry, without parsing it again.
pub fn check_environment(base: &Loaded, env: &str) -> Report {
    judge(registry::load_environment(base, Some(env)), Some(env))
}

/// Adds the whole-registry checks to what loading found.
fn judge(loaded: Loaded, env: Option<&str>) -> Report {
    let diagnostics = findings(&loaded, env);
    Report {
        loaded,
        diagnostics,
    }
}

/// What loading found plus the whole-registry checks, in file order.
fn findings(loaded: &Loaded, env: Option<&str>) -> Vec<Diagnostic> {
    let mut diagnostics = loaded.diagnostics.clone();
    if let Some(reg) = &loaded.registry {
        let mut found = check_registry(reg, &loaded.references);
        if let Some(name) = env {
            for d in &mut found {
                d.environment = Some(name.to_string());
            }
        }
        diagnostics.extend(found);
    }
    sort_and_dedup(&mut diagnostics);
    diagnostics
}

/// Loads and checks the registry in `source`: the base and every environment merged (or,
/// with `env`, only that environment). A problem seen in several is reported once.
pub fn check_source(source: Arc<SourceFile>, env: Option<&str>) -> Report {
    if env.is_some() {
        return check_one(source, env);
    }
    let loaded = registry::load(source, None);
    let environments: Vec<String> = loaded
        .registry
        .iter()
        .flat_map(|r| r.environments.keys().cloned())
        .collect();
    // The base and the environments are independent: judge them side by side.
    let base = &loaded;
    let mut diagnostics = std::thread::scope(|scope| {
        let handles: Vec<_> = environments
            .iter()
            .map(|name| scope.spawn(move || check_environment(base, name).diagnostics))
            .collect();
        let mut diagnostics = findings(base, None);
        for handle in handles {
            diagnostics.extend(
                handle
                    .join()
                    .expect("checking an environment does not panic"),
            );
        }
        diagnostics
    });
    sort_and_dedup(&mut diagnostics);
    Report {
        loaded,
        diagnostics,
    }
}

/// A registry for unit tests elsewhere in the crate: loaded and checked, with no errors.
#[cfg(test)]
pub(crate) fn registry_for_test(text: &str) -> Registry {
    let source = Arc::new(SourceFile::new("muster.yaml", text));
    let report = check_one(source, None);
    assert_eq!(report.errors(), 0, "{:#?}", report.diagnostics);
    report
        .loaded
        .registry
        .expect("a registry without errors was decoded")
}
