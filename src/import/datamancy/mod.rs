//! `muster import datamancy`: the Datamancy stack's `services.registry.yaml` as a `muster.yaml`.
//!
//! Datamancy keeps one registry too: top-level sections that are categories of services
//! (`core`, `databases`, ...), plus `networks` (with subnets) and `phases` (order and timeout).
//! Its generator wrote Compose files only, so the import targets Compose. Its services name
//! their public `subdomain` and `additional_aliases`; the service whose aliases list the other
//! services' subdomains (Caddy) is the stack's reverse proxy, which in muster receives every
//! route host as a network alias.

mod fields;
mod proxy;
mod service;
mod top;

use std::path::Path;
use std::sync::Arc;

use serde_norway::Value;

use super::reader::{Reader, key_text};
use super::{Draft, Imported, relocate, variables};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::SourceFile;

/// Imports one `services.registry.yaml` for a registry written in `registry_dir` (relative
/// host paths are rewritten for it).
pub fn import(file: Arc<SourceFile>, registry_dir: &Path) -> Imported {
    let mut r = Reader::new(file);
    let mut draft = Draft::new();
    let from = relocate::normal(r.file.path.parent().unwrap_or(Path::new(".")));
    let mut services = service::Services::new(from, relocate::normal(registry_dir));
    if let Some(root) = r.parse() {
        map_root(&mut r, &mut draft, &mut services, &root);
    }
    Imported {
        draft,
        findings: r.into_findings(),
    }
}

fn map_root(
    r: &mut Reader,
    draft: &mut Draft,
    services: &mut service::Services,
    root: &crate::registry::yaml::Node,
) {
    draft.header(format!(
        "Imported from {} by `muster import datamancy`.",
        r.file.name
    ));
    draft.header(
        "Each top-level section of the source is a `category` (the Compose file its services land in);\n\
         `health_check: { type: docker }` is `health: { image: true }`: the image's own HEALTHCHECK.",
    );
    draft.set(&["version"], 1);
    draft.set(&["name"], "datamancy");
    draft.set(&["targets"], super::reader::seq(["compose"]));
    draft.comment(
        &["targets"],
        "the Datamancy generator wrote Compose files only",
    );
    let mut phases_node = None;
    let mut categories = Vec::new();
    for (key, value) in r.entries(root, "the registry") {
        match key.as_str() {
            Some("networks") => top::networks(r, draft, value),
            Some("phases") => phases_node = Some(value),
            Some(_) if value.as_map().is_some() => categories.push((key, value)),
            _ => r.unmapped(
                key,
                "the registry",
                "only `networks`, `phases` and categories of services are imported",
            ),
        }
    }
    let mut phases = top::Phases::default();
    if let Some(node) = phases_node {
        phases.declare(r, draft, node);
    }
    for (key, value) in categories {
        let category = key_text(key);
        for (name, def) in r.entries(value, &format!("category `{category}`")) {
            services.add(r, draft, &mut phases, &category, name, def);
        }
    }
    if services.names.is_empty() {
        r.push(
            Diagnostic::new(
                Code::ImportNothing,
                format!("{} defines no services", r.file.name),
            )
            .at(root.span, "no category of services here")
            .help("a Datamancy registry lists services under categories such as `core:`"),
        );
        return;
    }
    proxy::assign(r, draft, services);
    if draft.get(&["domain"]).is_some() {
        draft.set(
            &["variables", "DOMAIN", "description"],
            Value::from("Public base domain; every subdomain is a name under it"),
        );
        draft.set(&["variables", "DOMAIN", "required"], true);
    }
    variables::declare_used(draft);
}

#[cfg(test)]
mod tests;
