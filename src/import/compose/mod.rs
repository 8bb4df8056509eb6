//! `muster import compose`: Compose files turned into a registry that regenerates them.

use std::path::PathBuf;

use serde_norway::Value;

use super::{Draft, Finding, Imported};
use crate::diagnostic::{Code, Diagnostic};
use crate::registry::yaml;
use crate::source::SourceFile;

/// Imports the Compose files `files`, merged in order. An unreadable top-level file is the
/// only failure; everything else is a finding.
pub fn import(files: &[PathBuf]) -> Result<Imported, String> {
    let mut imported = Imported {
        draft: Draft::new(),
        findings: Vec::new(),
    };
    imported.draft.set(&["version"], 1);
    for path in files {
        let file =
            SourceFile::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        match yaml::parse(&file) {
            Ok(root) => {
                for (name, service) in root.get("services").and_then(|s| s.as_map()).unwrap_or(&[])
                {
                    if let (Some(name), Some(image)) =
                        (name.as_str(), service.get("image").and_then(|i| i.as_str()))
                    {
                        imported
                            .draft
                            .set(&["services", name, "image"], Value::from(image));
                    }
                }
            }
            Err(e) => imported.findings.push(Finding {
                diagnostic: Diagnostic::new(Code::Syntax, e.message).at(e.span, "here"),
                file,
            }),
        }
    }
    Ok(imported)
}
