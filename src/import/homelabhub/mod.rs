//! `muster import homelabhub`: a HomeLabHub service catalog and its Compose bundles as one
//! `muster.yaml`.
//!
//! HomeLabHub describes its stack twice: the catalog (`orchestration/services.yaml`) says what
//! each service is for, which group it belongs to, what it needs, its ports, health endpoint,
//! placement, start order and public domains; the bundle Compose files next to it say how to
//! run it (image, environment, volumes). The bundles are imported with the Compose importer,
//! then the catalog is laid over them: services take the catalog's names (the Compose name
//! stays a network alias), and the catalog's knowledge becomes registry fields. Where the two
//! disagree, the warning says which one was kept.

mod bundles;
mod graph;
mod health;
mod order;
mod service;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::reader::{Reader, key_text};
use super::{Draft, Imported};
use crate::diagnostic::{Code, Diagnostic};
use crate::registry::yaml::Node;
use crate::source::SourceFile;

/// A catalog service: its key, its definition, and the Compose service it matched.
pub struct Entry<'n> {
    pub key: &'n Node,
    pub name: String,
    pub def: &'n Node,
    /// The name the bundles gave it, when they define it.
    pub compose: Option<String>,
}

/// Imports the catalog with the Compose files `bundles` (none: the bundle files next to the
/// catalog), for a registry written in `registry_dir`. Only an unreadable Compose file is a
/// failure; everything else is a finding.
pub fn import(
    catalog: Arc<SourceFile>,
    bundles: &[PathBuf],
    registry_dir: &Path,
) -> Result<Imported, String> {
    let mut r = Reader::new(catalog);
    let Some(root) = r.parse() else {
        return Ok(Imported {
            draft: Draft::new(),
            findings: r.findings,
        });
    };
    let bundles = if bundles.is_empty() {
        let dir = r.file.path.parent().filter(|d| !d.as_os_str().is_empty());
        bundles::discover(dir.unwrap_or(Path::new(".")))?
    } else {
        bundles.to_vec()
    };
    if bundles.is_empty() {
        r.push(
            Diagnostic::new(
                Code::ImportUnreadable,
                "no bundle Compose files (compose.*.yml) next to the catalog",
            )
            .at(root.span, "services without images")
            .help("pass the bundles with `--compose FILE`"),
        );
        return Ok(Imported {
            draft: Draft::new(),
            findings: r.findings,
        });
    }
    let compose = super::compose::import(&bundles, registry_dir)?;
    let mut draft = compose.draft;
    draft.clear_header();
    draft.header(format!(
        "Imported from {} and its bundles ({}) by `muster import homelabhub`.",
        r.file.name,
        bundles
            .iter()
            .filter_map(|b| b.file_name().and_then(|n| n.to_str()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    draft.header(
        "Images and how each service runs come from the bundles; names, groups, dependencies, ports,\n\
         health endpoints, placement, start order (phases) and domains (routes) from the catalog.",
    );
    map_catalog(&mut r, &mut draft, &root);
    let mut findings = r.into_findings();
    findings.extend(compose.findings);
    Ok(Imported { draft, findings })
}

fn map_catalog(r: &mut Reader, draft: &mut Draft, root: &Node) {
    let mut groups = None;
    let mut services = None;
    let mut patterns = None;
    for (key, value) in r.entries(root, "the catalog") {
        match key.as_str() {
            Some("metadata") => metadata(r, draft, value),
            Some("groups") => groups = Some(value),
            Some("services") => services = Some((key, value)),
            Some("deployment_patterns") => patterns = Some(value),
            _ => r.unmapped(key, "the catalog", ""),
        }
    }
    let Some((services_key, services)) = services else {
        r.push(
            Diagnostic::new(Code::ImportNothing, "the catalog has no `services`")
                .at(root.span, "no services here")
                .help("a HomeLabHub catalog lists its services under `services:`"),
        );
        return;
    };
    let mut entries: Vec<Entry> = r
        .entries(services, "`services`")
        .iter()
        .map(|(key, def)| Entry {
            key,
            name: key_text(key),
            def,
            compose: None,
        })
        .collect();
    service::match_bundles(r, draft, services_key, &mut entries);
    let mut seen = std::collections::HashSet::new();
    for entry in entries.iter().filter(|e| e.compose.is_some()) {
        service::map(r, draft, entry, &mut seen);
    }
    graph::dependencies(r, draft, &entries);
    graph::groups(r, draft, &entries, groups, patterns);
    order::phases(r, draft, &entries);
    service::proxy(draft, &entries);
    for entry in entries.iter().filter(|e| e.compose.is_some()) {
        service::reorder(draft, &entry.name);
    }
}

/// `metadata.description` describes the stack; the catalog's own version and date are not
/// part of it.
fn metadata(r: &mut Reader, draft: &mut Draft, node: &Node) {
    for (key, value) in r.entries(node, "`metadata`") {
        match key.as_str() {
            Some("description") => {
                if let Some(text) = r.string(value, "`description`") {
                    draft.set(&["description"], text);
                }
            }
            Some("version" | "generated") => {}
            _ => r.unmapped(key, "`metadata`", ""),
        }
    }
}

#[cfg(test)]
mod tests;
