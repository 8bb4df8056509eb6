//! The registry an importer writes: YAML values in the order a person would read them, with
//! comments where the importer made a decision.
//!
//! Importers build plain [`serde_norway::Value`]s (every importer already thinks in YAML) and
//! attach comments to key paths. [`Draft::to_yaml`] lays out the levels that carry comments
//! itself and hands every other subtree to [`crate::render::yaml`], so quoting is the same as
//! in every generated file. Top-level sections come in the order of REGISTRY.md
//! (environments last, after the services they change), services are separated by blank
//! lines, and [`in_service_order`] puts a service's fields in REGISTRY.md's order.

use std::collections::{HashMap, HashSet};

use serde_norway::{Mapping, Value};

use crate::render::yaml;

/// Sections whose entries are separated by a blank line.
const SPACED_SECTIONS: [&str; 2] = ["services", "environments"];

/// A `muster.yaml` under construction.
#[derive(Debug, Default, Clone)]
pub struct Draft {
    root: Mapping,
    header: Vec<String>,
    comments: HashMap<Vec<String>, Vec<String>>,
}

impl Draft {
    pub fn new() -> Draft {
        Draft::default()
    }

    /// A line of the comment at the top of the file.
    pub fn header(&mut self, line: impl Into<String>) {
        self.header.push(line.into());
    }

    /// Sets the value at `path` (creating the mappings on the way, replacing a non-mapping
    /// met on the way). An empty path is ignored.
    pub fn set(&mut self, path: &[&str], value: impl Into<Value>) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut map = &mut self.root;
        for key in parents {
            map = mapping_at(map, key);
        }
        map.insert(Value::String((*last).to_string()), value.into());
    }

    /// The mapping at `path`, created empty when absent.
    pub fn mapping(&mut self, path: &[&str]) -> &mut Mapping {
        let mut map = &mut self.root;
        for key in path {
            map = mapping_at(map, key);
        }
        map
    }

    /// Renames the key `from` of the mapping at `parent` to `to`, keeping its place and its
    /// comments (an importer that learns a better name after mapping).
    pub fn rename(&mut self, parent: &[&str], from: &str, to: &str) {
        let map = self.mapping(parent);
        for (key, value) in std::mem::take(map) {
            let key = match key.as_str() {
                Some(k) if k == from => Value::String(to.to_string()),
                _ => key,
            };
            map.insert(key, value);
        }
        let mut old: Vec<String> = parent.iter().map(|s| s.to_string()).collect();
        old.push(from.to_string());
        let moved: Vec<Vec<String>> = self
            .comments
            .keys()
            .filter(|path| path.starts_with(&old))
            .cloned()
            .collect();
        for path in moved {
            let lines = self.comments.remove(&path).unwrap_or_default();
            let mut renamed = path;
            renamed[old.len() - 1] = to.to_string();
            self.comments.entry(renamed).or_default().extend(lines);
        }
    }

    /// Forgets the header, for an importer that builds on another importer's draft.
    pub fn clear_header(&mut self) {
        self.header.clear();
    }

    /// The value at `path`, if set.
    pub fn get(&self, path: &[&str]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        let mut value = self.root.get(*first)?;
        for key in rest {
            value = value.as_mapping()?.get(*key)?;
        }
        Some(value)
    }

    /// A comment line written above the key at `path` (which should exist when written; a
    /// comment on a missing key is not written).
    pub fn comment(&mut self, path: &[&str], line: impl Into<String>) {
        let key = path.iter().map(|s| s.to_string()).collect();
        self.comments.entry(key).or_default().push(line.into());
    }

    /// The whole document as `muster.yaml` text.
    pub fn to_yaml(&self) -> String {
        let mut out = String::with_capacity(8192);
        for line in &self.header {
            push_comment(&mut out, line, 0);
        }
        if !self.header.is_empty() {
            out.push('\n');
        }
        let commented: HashSet<&[String]> = self
            .comments
            .keys()
            .flat_map(|path| (1..path.len()).map(move |n| &path[..n]))
            .collect();
        let layout = Layout {
            comments: &self.comments,
            commented_ancestors: &commented,
        };
        let mut sections: Vec<(&Value, &Value)> = self.root.iter().collect();
        sections.sort_by_key(|(key, _)| section_rank(key));
        let mut path = Vec::new();
        for (i, (key, value)) in sections.into_iter().enumerate() {
            if i > 0 && !is_scalar(value) {
                out.push('\n');
            }
            layout.entry(&mut out, &mut path, key, value, 0);
        }
        out
    }
}

/// A service's fields in the order REGISTRY.md presents them (unknown and `x-` keys last, in
/// their order).
pub fn in_service_order(fields: Mapping) -> Mapping {
    let keys = crate::registry::decode::SERVICE_KEYS;
    let mut entries: Vec<(Value, Value)> = fields.into_iter().collect();
    entries.sort_by_key(|(k, _)| {
        k.as_str()
            .and_then(|k| keys.iter().position(|o| *o == k))
            .unwrap_or(keys.len())
    });
    entries.into_iter().collect()
}

/// Where a top-level key goes: REGISTRY.md's order, except that `environments` comes last,
/// after the services its overlays change; unknown keys after everything.
fn section_rank(key: &Value) -> usize {
    let keys = crate::registry::decode::TOP_KEYS;
    match key.as_str() {
        Some("environments") => keys.len(),
        Some(k) => keys.iter().position(|s| *s == k).unwrap_or(keys.len() + 1),
        None => keys.len() + 1,
    }
}

fn mapping_at<'m>(map: &'m mut Mapping, key: &str) -> &'m mut Mapping {
    let slot = map
        .entry(Value::String(key.to_string()))
        .or_insert_with(|| Value::Mapping(Mapping::new()));
    if !slot.is_mapping() {
        *slot = Value::Mapping(Mapping::new());
    }
    slot.as_mapping_mut().expect("made a mapping above")
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Mapping(m) if !m.is_empty())
        && !matches!(value, Value::Sequence(s) if !s.is_empty())
}

fn push_comment(out: &mut String, line: &str, indent: usize) {
    for part in line.split('\n') {
        out.extend(std::iter::repeat_n(' ', indent));
        out.push('#');
        if !part.is_empty() {
            out.push(' ');
            out.push_str(part);
        }
        out.push('\n');
    }
}

struct Layout<'a> {
    comments: &'a HashMap<Vec<String>, Vec<String>>,
    /// Paths below which some key has a comment: laid out here, not by the YAML writer.
    commented_ancestors: &'a HashSet<&'a [String]>,
}

impl Layout<'_> {
    fn entry(
        &self,
        out: &mut String,
        path: &mut Vec<String>,
        key: &Value,
        value: &Value,
        indent: usize,
    ) {
        let key = match key {
            Value::String(s) => s.clone(),
            other => yaml::to_string(other).trim_end().to_string(),
        };
        path.push(key.clone());
        if let Some(lines) = self.comments.get(path.as_slice()) {
            for line in lines {
                push_comment(out, line, indent);
            }
        }
        let spaced = path.len() == 1 && SPACED_SECTIONS.contains(&key.as_str());
        match value {
            Value::Mapping(map)
                if !map.is_empty()
                    && (spaced || self.commented_ancestors.contains(path.as_slice())) =>
            {
                out.extend(std::iter::repeat_n(' ', indent));
                yaml::write_key(out, &key);
                out.push_str(":\n");
                for (i, (k, v)) in map.iter().enumerate() {
                    if spaced && i > 0 {
                        out.push('\n');
                    }
                    self.entry(out, path, k, v, indent + 2);
                }
            }
            _ => yaml::write_entry(out, &key, value, indent),
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_come_in_registry_order_with_comments_and_spaced_services() {
        let mut d = Draft::new();
        d.header("Imported from compose.yaml.");
        d.set(&["services", "web", "image"], "nginx:1.27");
        d.set(
            &["services", "web", "ports"],
            Value::Sequence(vec!["8080:80".into()]),
        );
        d.set(&["services", "db", "image"], "postgres:16");
        d.comment(&["services", "db", "image"], "kept as written");
        d.set(&["name"], "demo");
        d.set(&["variables", "TZ", "default"], "UTC");
        let text = d.to_yaml();
        assert_eq!(
            text,
            "# Imported from compose.yaml.\n\nname: demo\n\nvariables:\n  TZ:\n    default: UTC\n\n\
             services:\n  web:\n    image: nginx:1.27\n    ports:\n      - \"8080:80\"\n\n  db:\n    \
             # kept as written\n    image: postgres:16\n"
        );
    }

    #[test]
    fn the_text_loads_back_as_the_same_values() {
        let mut d = Draft::new();
        d.set(
            &["services", "a", "command"],
            "sh -c 'echo \"hi\"'\nsecond line",
        );
        d.set(&["services", "a", "env", "EMPTY"], "");
        d.comment(&["services", "a", "env"], "two\nlines");
        let text = d.to_yaml();
        let back: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(back.get("services"), d.get(&["services"]));
    }

    #[test]
    fn rename_keeps_the_place_and_the_comments() {
        let mut d = Draft::new();
        d.set(&["services", "a", "image"], "x");
        d.set(&["services", "old", "image"], "w");
        d.set(&["services", "z", "image"], "z");
        d.comment(&["services", "old", "image"], "kept");
        d.rename(&["services"], "old", "new");
        let text = d.to_yaml();
        assert!(
            text.contains("  new:\n    # kept\n    image: w\n\n  z:"),
            "{text}"
        );
        assert!(d.get(&["services", "old"]).is_none());
    }

    #[test]
    fn set_replaces_a_scalar_met_on_the_way() {
        let mut d = Draft::new();
        d.set(&["a"], "x");
        d.set(&["a", "b"], 1);
        assert_eq!(d.get(&["a", "b"]), Some(&Value::from(1)));
        d.set(&[], 2);
        assert_eq!(d.get(&[]), None);
    }
}
