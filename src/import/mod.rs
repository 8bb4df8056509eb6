//! `muster import`: existing setups (Compose projects, and the registries of the systems muster
//! replaces) turned into a `muster.yaml` that regenerates the same stack.
//!
//! Every importer is a pure function from source files to an [`Imported`]: the [`Draft`] of the
//! registry and what it could not map or found wrong, each located in the file it came from.
//! Importers never change meaning to make a registry pass `muster check`: a mistake of the
//! source stays in the registry, where `check` names it.

pub mod compose;
pub mod datamancy;
pub mod draft;
pub mod hatmax;
pub mod homelabhub;
mod reader;
mod relocate;
mod url_probe;
mod variables;

use std::sync::Arc;

pub use draft::Draft;

use crate::diagnostic::Diagnostic;
use crate::source::SourceFile;

/// A finding of an importer, in the source file it points into.
#[derive(Debug, Clone)]
pub struct Finding {
    pub file: Arc<SourceFile>,
    pub diagnostic: Diagnostic,
}

/// What an importer produced.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub draft: Draft,
    /// Errors (nothing is written when there is one) and warnings (what could not be mapped),
    /// in the order the sources were read.
    pub findings: Vec<Finding>,
}

impl Imported {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.diagnostic.is_error())
    }
}
