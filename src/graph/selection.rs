//! Selections: `muster up bots postgres core` names services, groups and phases (one
//! namespace), or `all`. This turns names into the services they mean.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use crate::diagnostic::did_you_mean;
use crate::registry::model::Registry;

/// A service named by a selection, and how it was named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub service: String,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error("`{name}` is not a service, group or phase{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    Unknown {
        name: String,
        suggestion: Option<String>,
    },
    #[error("the selection is empty: name services, groups or phases, or `all`")]
    Empty,
}

/// Resolves selection words to services, in registry order, without duplicates. Disabled
/// services are selected only when named directly.
pub fn resolve_selection(
    reg: &Registry,
    words: &[String],
) -> Result<Vec<Selected>, SelectionError> {
    if words.is_empty() {
        return Err(SelectionError::Empty);
    }
    let mut picked: Vec<Selected> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut add = |service: &str, by: String| {
        if seen.insert(service.to_string()) {
            picked.push(Selected {
                service: service.to_string(),
                by,
            });
        }
    };
    for word in words {
        if word == "all" {
            for s in reg.enabled_services() {
                add(&s.name.value, "all".into());
            }
        } else if reg.services.contains_key(word) {
            add(word, "selected".into());
        } else if reg.groups.contains_key(word)
            || reg
                .services
                .values()
                .any(|s| s.groups.iter().any(|g| &g.value == word))
        {
            for s in group_members(reg, word) {
                add(&s, format!("group {word}"));
            }
        } else if reg.phases.contains_key(word) {
            for s in reg
                .enabled_services()
                .filter(|s| s.phase.as_ref().is_some_and(|p| &p.value == word))
            {
                add(&s.name.value, format!("phase {word}"));
            }
        } else {
            let names = reg
                .services
                .keys()
                .chain(reg.groups.keys())
                .chain(reg.phases.keys())
                .map(String::as_str)
                .chain(["all"]);
            return Err(SelectionError::Unknown {
                name: word.clone(),
                suggestion: did_you_mean(word, names).map(String::from),
            });
        }
    }
    let order = |s: &Selected| reg.services.get_index_of(&s.service);
    picked.sort_by_key(order);
    Ok(picked)
}

/// The enabled services of a group: its `services`, services that list the group in their
/// `groups`, and the members of groups it contains (nesting may be deep; loops are cut).
pub fn group_members(reg: &Registry, group: &str) -> Vec<String> {
    let mut groups_seen: HashSet<&str> = HashSet::new();
    let mut stack = vec![group];
    let mut members: HashSet<&str> = HashSet::new();
    while let Some(g) = stack.pop() {
        if !groups_seen.insert(g) {
            continue;
        }
        if let Some(def) = reg.groups.get(g) {
            members.extend(def.services.iter().map(|s| s.value.as_str()));
            stack.extend(def.groups.iter().map(|s| s.value.as_str()));
        }
        for s in reg.services.values() {
            if s.groups.iter().any(|x| x.value == g) {
                members.insert(s.name.value.as_str());
            }
        }
    }
    reg.enabled_services()
        .filter(|s| members.contains(s.name.value.as_str()))
        .map(|s| s.name.value.clone())
        .collect()
}

/// What [`group_members`] gives for every group at once: declared groups in declaration
/// order, then groups that services name without declaring them, in the order they are
/// first named. One pass over the services, so renderers that need every group do not pay
/// groups x services.
pub fn all_group_members(reg: &Registry) -> IndexMap<&str, Vec<String>> {
    let enabled: Vec<&str> = reg
        .enabled_services()
        .map(|s| s.name.value.as_str())
        .collect();
    let index: HashMap<&str, usize> = enabled.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut direct: IndexMap<&str, Vec<usize>> = reg
        .groups
        .iter()
        .map(|(g, def)| {
            let listed = def
                .services
                .iter()
                .filter_map(|s| index.get(s.value.as_str()).copied());
            (g.as_str(), listed.collect())
        })
        .collect();
    for s in reg.enabled_services() {
        for g in &s.groups {
            direct
                .entry(g.value.as_str())
                .or_default()
                .push(index[s.name.value.as_str()]);
        }
    }
    direct
        .keys()
        .map(|&group| {
            let mut seen: HashSet<&str> = HashSet::new();
            let mut stack = vec![group];
            let mut members: Vec<usize> = Vec::new();
            while let Some(g) = stack.pop() {
                if !seen.insert(g) {
                    continue;
                }
                members.extend(direct.get(g).into_iter().flatten());
                if let Some(def) = reg.groups.get(g) {
                    stack.extend(def.groups.iter().map(|n| n.value.as_str()));
                }
            }
            members.sort_unstable();
            members.dedup();
            let names = members.into_iter().map(|i| enabled[i].to_string());
            (group, names.collect())
        })
        .collect()
}

/// The groups a service belongs to, directly or through groups that contain its groups.
pub fn groups_of(reg: &Registry, service: &str) -> Vec<String> {
    reg.groups
        .keys()
        .filter(|g| group_members(reg, g).iter().any(|m| m == service))
        .cloned()
        .chain(
            reg.services
                .get(service)
                .into_iter()
                .flat_map(|s| s.groups.iter().map(|g| g.value.clone()))
                .filter(|g| !reg.groups.contains_key(g)),
        )
        .collect()
}
