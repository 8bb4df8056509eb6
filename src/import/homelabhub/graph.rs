//! The catalog's dependencies (`dependencies`, checked against `required_for` and the
//! bundles' `depends_on`), its groups and its deployment patterns.
//!
//! Everything the catalog or the bundles say one service needs is kept: the union is what
//! `./homelab deploy X` and `docker compose up X` together would start. Disagreements are
//! reported where the catalog states them.

use std::collections::HashSet;

use serde_norway::Value;

use super::Entry;
use crate::diagnostic::{Code, Diagnostic};
use crate::import::Draft;
use crate::import::reader::{Reader, key_text, seq};
use crate::registry::yaml::Node;

/// The names the bundles' `depends_on` of `name` gives.
fn bundle_deps(draft: &Draft, name: &str) -> Vec<String> {
    let Some(Value::Sequence(items)) = draft.get(&["services", name, "depends_on"]) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|i| match i {
            Value::Mapping(m) => m.get("service").and_then(Value::as_str),
            v => v.as_str(),
        })
        .map(String::from)
        .collect()
}

fn add_dependency(draft: &mut Draft, name: &str, dep: &str) {
    let list = draft
        .mapping(&["services", name])
        .entry(Value::from("depends_on"))
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if let Value::Sequence(items) = list {
        items.push(Value::from(dep));
    }
}

/// The catalog names a list of `owner` gives, each with where it is written; names that are
/// not catalog services with a bundle are reported and left out.
fn members<'n>(
    r: &mut Reader,
    node: &'n Node,
    owner: &str,
    entries: &[Entry],
) -> Vec<(String, &'n Node)> {
    let mut out = Vec::new();
    for item in node.as_seq().unwrap_or_default() {
        let Some(name) = r.string(item, &format!("an entry of {owner}")) else {
            continue;
        };
        match entries.iter().find(|e| e.name == name) {
            Some(e) if e.compose.is_some() => out.push((name, item)),
            // A catalog service without a bundle was reported already.
            Some(_) => {}
            None => r.push(
                Diagnostic::new(
                    Code::ImportUnknownName,
                    format!("{owner} names `{name}`, which is not a service of the catalog"),
                )
                .at(item.span, "unknown service")
                .help("it is left out"),
            ),
        }
    }
    if node.as_seq().is_none() && !node.is_null() {
        r.bad_shape(node, owner, "a list");
    }
    out
}

pub fn dependencies(r: &mut Reader, draft: &mut Draft, entries: &[Entry]) {
    for entry in entries.iter().filter(|e| e.compose.is_some()) {
        let name = entry.name.as_str();
        let bundle = bundle_deps(draft, name);
        let had_bundle_deps = !bundle.is_empty();
        let mut catalog = Vec::new();
        if let Some(node) = entry.def.get("dependencies") {
            for (dep, item) in members(r, node, &format!("the dependencies of `{name}`"), entries) {
                if !bundle.contains(&dep) {
                    add_dependency(draft, name, &dep);
                    if had_bundle_deps {
                        r.push(
                            Diagnostic::new(
                                Code::ImportInconsistent,
                                format!(
                                    "`{name}` depends on `{dep}` in the catalog, not in its bundle"
                                ),
                            )
                            .at(item.span, "only in the catalog")
                            .help("the dependency is kept"),
                        );
                    }
                }
                catalog.push(dep);
            }
        }
        for dep in bundle.iter().filter(|d| !catalog.contains(d)) {
            r.push(
                Diagnostic::new(
                    Code::ImportInconsistent,
                    format!("the bundle makes `{name}` wait for `{dep}`, which its catalog `dependencies` do not list"),
                )
                .at(entry.key.span, "a dependency the catalog does not list")
                .help("the dependency is kept"),
            );
        }
    }
    // `required_for` says the same from the other side.
    for entry in entries.iter().filter(|e| e.compose.is_some()) {
        let Some(node) = entry.def.get("required_for") else {
            continue;
        };
        let owner = format!("`required_for` of `{}`", entry.name);
        for (user, item) in members(r, node, &owner, entries) {
            if bundle_deps(draft, &user).contains(&entry.name) {
                continue;
            }
            add_dependency(draft, &user, &entry.name);
            r.push(
                Diagnostic::new(
                    Code::ImportInconsistent,
                    format!(
                        "`{}` is required for `{user}`, whose dependencies do not list it",
                        entry.name
                    ),
                )
                .at(item.span, "only said here")
                .help("the dependency is kept"),
            );
        }
    }
}

/// `groups`, the services' own `group`, and `deployment_patterns` (named selections, which
/// are groups too unless their name is taken).
pub fn groups(
    r: &mut Reader,
    draft: &mut Draft,
    entries: &[Entry],
    groups: Option<&Node>,
    patterns: Option<&Node>,
) {
    let mut declared: Vec<String> = Vec::new();
    for (key, def) in groups.map(|g| r.entries(g, "`groups`")).unwrap_or_default() {
        let group = key_text(key);
        let owner = format!("group `{group}`");
        draft.mapping(&["groups", &group]);
        let mut services = Vec::new();
        for (k, v) in r.entries(def, &owner) {
            match k.as_str() {
                Some("description") => {
                    if let Some(text) = r.string(v, "`description`") {
                        draft.set(&["groups", &group, "description"], text);
                    }
                }
                Some("services") => {
                    services = members(r, v, &owner, entries)
                        .into_iter()
                        .map(|(n, _)| n)
                        .collect();
                }
                _ => r.unmapped(k, &owner, ""),
            }
        }
        draft.set(&["groups", &group, "services"], seq(services));
        declared.push(group);
    }
    for entry in entries.iter().filter(|e| e.compose.is_some()) {
        let Some(node) = entry.def.get("group") else {
            continue;
        };
        let Some(group) = r.string(node, "`group`") else {
            continue;
        };
        let listed = draft
            .get(&["groups", &group, "services"])
            .and_then(Value::as_sequence)
            .is_some_and(|s| s.contains(&Value::from(entry.name.as_str())));
        if listed {
            continue;
        }
        let help = if declared.contains(&group) {
            "the group's list does not name it; it is added"
        } else {
            "the group is not under `groups`; it is declared with this service"
        };
        r.push(
            Diagnostic::new(
                Code::ImportInconsistent,
                format!("`{}` belongs to group `{group}`", entry.name),
            )
            .at(node.span, "only said here")
            .help(help),
        );
        let list = draft
            .mapping(&["groups", &group])
            .entry(Value::from("services"))
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if let Value::Sequence(items) = list {
            items.push(Value::from(entry.name.as_str()));
        }
        declared.push(group);
    }
    if let Some(patterns) = patterns {
        deployment_patterns(r, draft, entries, patterns, &declared);
    }
}

fn deployment_patterns(
    r: &mut Reader,
    draft: &mut Draft,
    entries: &[Entry],
    node: &Node,
    groups: &[String],
) {
    let services: HashSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    for (key, def) in r.entries(node, "`deployment_patterns`") {
        let name = key_text(key);
        if groups.contains(&name) || services.contains(name.as_str()) {
            r.push(
                Diagnostic::new(
                    Code::ImportInconsistent,
                    format!("the deployment pattern `{name}` has the name of a group or service"),
                )
                .at(key.span, "name taken")
                .help(
                    "groups, services and patterns share names in muster; the pattern is left out",
                ),
            );
            continue;
        }
        let owner = format!("deployment pattern `{name}`");
        draft.mapping(&["groups", &name]);
        for (k, v) in r.entries(def, &owner) {
            match k.as_str() {
                Some("description") => {
                    if let Some(text) = r.string(v, "`description`") {
                        draft.set(&["groups", &name, "description"], text);
                    }
                }
                Some("services") => {
                    let list: Vec<String> = members(r, v, &owner, entries)
                        .into_iter()
                        .map(|(n, _)| n)
                        .collect();
                    draft.set(&["groups", &name, "services"], seq(list));
                }
                Some("groups") => {
                    let mut list = Vec::new();
                    for item in v.as_seq().unwrap_or_default() {
                        match r.string(item, "a group") {
                            Some(g) if groups.contains(&g) => list.push(g),
                            Some(g) => r.push(
                                Diagnostic::new(
                                    Code::ImportUnknownName,
                                    format!("{owner} names `{g}`, which is not a group"),
                                )
                                .at(item.span, "unknown group")
                                .help("it is left out"),
                            ),
                            None => {}
                        }
                    }
                    draft.set(&["groups", &name, "groups"], seq(list));
                }
                _ => r.unmapped(k, &owner, ""),
            }
        }
        draft.comment(&["groups", &name], "a deployment pattern of the catalog");
    }
}
