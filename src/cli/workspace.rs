//! Finding and loading the registry the way every command does.

use std::sync::Arc;

use super::{Exit, Failure, Global, Printer};
use crate::registry::{self, Registry};
use crate::source::SourceFile;

/// Finds and reads the registry file.
pub fn read_source(global: &Global) -> Result<Arc<SourceFile>, Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::could_not(format!("cannot read the current folder: {e}")))?;
    let path = registry::discover(global.file.as_deref(), &cwd).map_err(Failure::could_not)?;
    SourceFile::read(&path)
        .map_err(|e| Failure::could_not(format!("cannot read {}: {e}", path.display())))
}

/// Loads the registry (with `env` merged) and refuses, printing the problems, when it has
/// errors: commands other than `check` only work on a valid registry.
pub fn load_valid(
    global: &Global,
    printer: &Printer,
    env: Option<&str>,
) -> Result<(Arc<SourceFile>, Registry), Failure> {
    let source = read_source(global)?;
    let registry = valid(printer, &source, env, "")?;
    Ok((source, registry))
}

/// The registry in `source` with `env` merged, or a refusal (its errors printed, then a
/// message ending in `consequence`, e.g. "; nothing was generated").
pub fn valid(
    printer: &Printer,
    source: &Arc<SourceFile>,
    env: Option<&str>,
    consequence: &str,
) -> Result<Registry, Failure> {
    refuse_errors(
        printer,
        source,
        crate::check::check_one(source.clone(), env),
        env,
        consequence,
    )
}

/// The registry of a checked `report`, or a refusal listing its errors.
pub fn refuse_errors(
    printer: &Printer,
    source: &Arc<SourceFile>,
    report: crate::check::Report,
    env: Option<&str>,
    consequence: &str,
) -> Result<Registry, Failure> {
    let errors: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    if !errors.is_empty() {
        printer.diagnostics(&errors, source, false);
        let place = match env {
            Some(env) => format!("{} (environment `{env}`)", source.name),
            None => source.name.clone(),
        };
        return Err(Failure {
            exit: Exit::Bad,
            message: Some(format!(
                "{place} has {} error{}{consequence}",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            )),
            hint: Some("fix them first; `muster check` lists every problem".into()),
        });
    }
    Ok(report
        .loaded
        .registry
        .expect("a registry without errors was decoded"))
}
