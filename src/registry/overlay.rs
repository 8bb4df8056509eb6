//! Environment overlays: `environments.<name>` deep-merged over the whole document.
//!
//! The merge happens on YAML nodes, before decoding, so the merged registry is decoded and
//! checked like any other and every problem still points at the text that caused it (the
//! base or the overlay). Rules (REGISTRY.md): maps merge key by key, lists replace, `null`
//! removes.

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{Code, Diagnostic};
use crate::registry::yaml::{Node, Value};
use crate::source::Span;

/// Merges `overlay` over `base`.
pub fn merge(base: &Node, overlay: &Node) -> Node {
    match (&base.value, &overlay.value) {
        (Value::Map(base_entries), Value::Map(over_entries)) => {
            let mut merged: Vec<(Node, Node)> = base_entries.clone();
            for (key, value) in over_entries {
                let existing = merged
                    .iter()
                    .position(|(k, _)| k.as_str().is_some() && k.as_str() == key.as_str());
                match (existing, value.is_null()) {
                    (Some(i), true) => {
                        merged.remove(i);
                    }
                    (Some(i), false) => merged[i].1 = merge(&merged[i].1, value),
                    (None, true) => {}
                    (None, false) => merged.push((key.clone(), value.clone())),
                }
            }
            Node {
                value: Value::Map(merged),
                span: base.span,
                tag: base.tag.clone(),
            }
        }
        _ => overlay.clone(),
    }
}

/// The document with environment `name` applied, plus problems with the overlay itself
/// (a service it names that neither exists nor is defined there). None if there is no such
/// environment.
pub fn apply(root: &Node, name: &str) -> Option<(Node, Vec<Diagnostic>)> {
    let (overlay, diagnostics) = prepare(root, name)?;
    Some((merge(root, &overlay), diagnostics))
}

/// A service an overlay changes, when services are all it changes.
#[derive(Debug)]
pub struct ServiceChange {
    pub name: String,
    /// The key that names the service in the merged document: the base's for a service the
    /// base has, else the overlay's.
    pub key: Span,
    /// The base's key and definition of the service, from the key's start to the
    /// definition's end, if the base has one.
    pub base: Option<Span>,
    /// The merged definition; None when the overlay removes the service (`null`).
    pub merged: Option<Node>,
}

/// An environment split for decoding from its base: the top-level settings and the services
/// it changes.
#[derive(Debug)]
pub struct Split {
    /// The top-level settings the overlay changes (`services` aside), each merged over the
    /// base's value under the base's key where the base has one; removed ones left out.
    pub settings: Node,
    /// The names of the settings the overlay changes, removed ones included.
    pub touched: Vec<String>,
    /// The base's entries of those settings, from the key's start to the value's end.
    pub touched_entries: Vec<Span>,
    /// The base's `services` mapping.
    pub services: Span,
    /// Whether the merged `services` mapping keeps any entry.
    pub services_left: bool,
    pub changes: Vec<ServiceChange>,
}

/// `overlay` (as [`prepare`] returns it) split so that what it leaves alone need not be
/// decoded again: the settings it does not change decode as in the base, and so do the
/// services it does not change as long as `defaults` (the only setting a service's decoding
/// reads) is unchanged. None when the overlay changes `defaults` or a top-level `x-` key, or
/// when the document or the overlay has a top-level key or a service name twice (the
/// general merge handles those).
pub fn split(root: &Node, overlay: &Node) -> Option<Split> {
    let top = root.as_map()?;
    let overlay_entries = overlay.as_map()?;
    let mut base_keys: HashMap<&str, &(Node, Node)> = HashMap::with_capacity(top.len());
    for entry in top {
        if base_keys.insert(entry.0.as_str()?, entry).is_some() {
            return None;
        }
    }
    let mut overlay_keys: HashSet<&str> = HashSet::with_capacity(overlay_entries.len());
    for (key, _) in overlay_entries {
        if !overlay_keys.insert(key.as_str()?) {
            return None;
        }
    }
    let is_services = |k: &Node| k.as_str() == Some("services");
    let (_, services) = base_keys.get("services")?;
    let base_services = services.as_map()?;
    let mut settings = Vec::new();
    let mut touched: Vec<String> = Vec::new();
    let mut touched_entries = Vec::new();
    for (key, value) in overlay_entries.iter().filter(|(k, _)| !is_services(k)) {
        let name = key.as_str()?;
        if name == "defaults" || name.starts_with("x-") {
            return None;
        }
        touched.push(name.to_string());
        let base = base_keys.get(name);
        if let Some((base_key, base_value)) = base {
            touched_entries.push(Span::new(
                base_key.span.start,
                base_value.span.end.max(base_key.span.end),
            ));
        }
        match (base, value.is_null()) {
            (_, true) => {}
            (Some((base_key, base_value)), false) => {
                settings.push((base_key.clone(), merge(base_value, value)));
            }
            (None, false) => settings.push((key.clone(), value.clone())),
        }
    }
    let settings = Node::new(Value::Map(settings), overlay.span);
    let changed: &[(Node, Node)] = match overlay_entries.iter().find(|(k, _)| is_services(k)) {
        None => &[],
        Some((_, changed)) => changed.as_map()?,
    };
    if base_services.is_empty() {
        return None;
    }
    // Each base service by name; None for a name written twice.
    let mut by_name: HashMap<&str, Option<&(Node, Node)>> =
        HashMap::with_capacity(base_services.len());
    for entry in base_services {
        by_name
            .entry(entry.0.as_str()?)
            .and_modify(|seen| *seen = None)
            .or_insert(Some(entry));
    }
    let mut changes: Vec<ServiceChange> = Vec::with_capacity(changed.len());
    let mut seen: HashSet<&str> = HashSet::with_capacity(changed.len());
    // How many entries the merged `services` mapping keeps.
    let mut entries_left = base_services.len();
    for (key, value) in changed {
        let name = key.as_str()?;
        if !seen.insert(name) {
            return None;
        }
        match (by_name.contains_key(name), value.is_null()) {
            (true, true) => entries_left -= 1,
            (false, false) => entries_left += 1,
            _ => {}
        }
        if name.starts_with("x-") {
            continue;
        }
        let base = match by_name.get(name) {
            None => None,
            Some(None) => return None,
            Some(Some(entry)) => Some(*entry),
        };
        let merged = match (base, value.is_null()) {
            (None, true) => continue,
            (Some(_), true) => None,
            (Some((_, b)), false) => Some(merge(b, value)),
            (None, false) => Some(value.clone()),
        };
        changes.push(ServiceChange {
            name: name.to_string(),
            key: base.map_or(key.span, |(k, _)| k.span),
            base: base.map(|(k, b)| Span::new(k.span.start, b.span.end.max(k.span.end))),
            merged,
        });
    }
    Some(Split {
        settings,
        touched,
        touched_entries,
        services: services.span,
        services_left: entries_left > 0,
        changes,
    })
}

/// The overlay of environment `name` as it applies: keys an environment cannot set, and
/// services already reported as undefined, taken out; plus those problems. None if there is
/// no such environment.
pub fn prepare(root: &Node, name: &str) -> Option<(Node, Vec<Diagnostic>)> {
    let overlay = root.get("environments")?.get(name)?;
    let mut diagnostics = Vec::new();
    let mut undefined: Vec<String> = Vec::new();
    if let (Some(services), Some(base_services)) = (overlay.get("services"), root.get("services"))
        && let Some(entries) = services.as_map()
    {
        let base_names: HashSet<&str> = base_services
            .as_map()
            .into_iter()
            .flatten()
            .filter_map(|(k, _)| k.as_str())
            .collect();
        for (key, value) in entries {
            let Some(service) = key.as_str() else {
                continue;
            };
            let defines = value.get("image").is_some() || value.get("build").is_some();
            if !base_names.contains(service) && !defines && !value.is_null() {
                let known = base_services
                    .as_map()
                    .map(|m| m.iter().filter_map(|(k, _)| k.as_str()).collect::<Vec<_>>())
                    .unwrap_or_default();
                let mut d = Diagnostic::new(
                    Code::OverlayUnknownService,
                    format!(
                        "environment `{name}` changes service `{service}`, which does not exist"
                    ),
                )
                .at(key.span, "no such service");
                d = match crate::diagnostic::did_you_mean(service, known) {
                    Some(close) => d.help(format!("did you mean `{close}`? To add a service here, give it an `image` or `build`")),
                    None => d.help("to add a service in this environment only, give it an `image` or `build`"),
                };
                diagnostics.push(d);
                undefined.push(service.to_string());
            }
        }
    }
    // An environment written without a body (`staging:`) changes nothing.
    let mut overlay = match overlay.value {
        Value::Null => Node::new(Value::Map(Vec::new()), overlay.span),
        _ => overlay.clone(),
    };
    if let Value::Map(entries) = &mut overlay.value {
        // An overlay cannot change which registry this is, nor nest environments.
        entries.retain(|(k, _)| !matches!(k.as_str(), Some("version" | "name" | "environments")));
        // A service already reported as undefined is left out, so it is not reported again
        // for lacking an image.
        for (k, v) in entries.iter_mut() {
            if k.as_str() == Some("services")
                && let Value::Map(services) = &mut v.value
            {
                services.retain(|(name, _)| !undefined.iter().any(|u| name.as_str() == Some(u)));
            }
        }
    }
    let bad_keys: Vec<Diagnostic> = root
        .get("environments")?
        .get(name)?
        .as_map()
        .into_iter()
        .flatten()
        .filter(|(k, _)| matches!(k.as_str(), Some("version" | "name" | "environments")))
        .map(|(k, _)| {
            Diagnostic::new(
                Code::UnknownKey,
                format!("environment `{name}` cannot set `{}`", k.as_str().unwrap_or_default()),
            )
            .at(k.span, "not allowed in an environment")
            .help("an environment changes services, variables and settings, not the registry's identity")
        })
        .collect();
    diagnostics.extend(bad_keys);
    Some((overlay, diagnostics))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::yaml::parse;
    use crate::source::SourceFile;

    fn doc(text: &str) -> Node {
        parse(&SourceFile::new("t", text)).unwrap()
    }

    #[test]
    fn maps_merge_lists_replace_null_removes() {
        let base = doc("a: {x: 1, y: 2}\nl: [1, 2]\nr: 5\n");
        let over = doc("a: {y: 3, z: 4}\nl: [9]\nr: null\n");
        let m = merge(&base, &over);
        assert_eq!(m.get("a").unwrap().get("x").unwrap().value, Value::Int(1));
        assert_eq!(m.get("a").unwrap().get("y").unwrap().value, Value::Int(3));
        assert_eq!(m.get("a").unwrap().get("z").unwrap().value, Value::Int(4));
        assert_eq!(m.get("l").unwrap().as_seq().unwrap().len(), 1);
        assert!(m.get("r").is_none());
    }

    #[test]
    fn overlay_on_unknown_service_is_reported() {
        let root = doc(
            "services:\n  api: {image: a:1}\nenvironments:\n  dev:\n    services:\n      apj: {replicas: 2}\n      mail: {image: m:1}\n",
        );
        let (merged, diags) = apply(&root, "dev").unwrap();
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, Code::OverlayUnknownService);
        assert!(merged.get("services").unwrap().get("mail").is_some());
    }

    #[test]
    fn an_environment_without_a_body_changes_nothing() {
        let root =
            doc("version: 1\nname: t\nservices:\n  a: {image: a:1}\nenvironments:\n  staging:\n");
        let (merged, diagnostics) = apply(&root, "staging").unwrap();
        assert!(diagnostics.is_empty());
        assert_eq!(merged, root);
    }
}
