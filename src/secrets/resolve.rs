//! The current value of each secret, wherever it comes from: the store, or for an external
//! secret with `file:`, that file (relative to the registry).

use std::collections::BTreeMap;

use super::Paths;
use super::store::StoreData;
use super::value::SecretValue;
use crate::registry::Registry;
use crate::registry::model::{Secret, SecretKind};

/// Where a secret's value stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Current {
    Value(SecretValue),
    /// No value: not generated yet, or an external secret nobody set.
    Unset,
    /// An external secret's file exists but cannot be read.
    Unreadable(String),
}

/// The current value of `secret`. An external secret with `file:` is read from that file, with
/// trailing line breaks removed (as `$(cat FILE)` would); any other is the store's.
pub fn current(secret: &Secret, paths: &Paths, data: &StoreData) -> Current {
    if secret.kind.value == SecretKind::External
        && let Some(file) = &secret.file
    {
        let path = paths.registry_dir.join(file);
        return match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    let trimmed = text.trim_end_matches(['\n', '\r']).len();
                    let mut text = text;
                    text.truncate(trimmed);
                    let value = SecretValue::new(text);
                    if value.is_empty() {
                        Current::Unset
                    } else {
                        Current::Value(value)
                    }
                }
                Err(_) => Current::Unreadable(format!("{} is not UTF-8 text", path.display())),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Current::Unset,
            Err(e) => Current::Unreadable(format!("cannot read {}: {e}", path.display())),
        };
    }
    match data.secrets.get(&secret.name.value) {
        Some(entry) if !entry.value.is_empty() => Current::Value(entry.value.clone()),
        _ => Current::Unset,
    }
}

/// Secrets in an order where each derived secret comes after its source (registry order
/// otherwise). `from` cycles are refused by `check` before any command gets here.
pub fn in_dependency_order(reg: &Registry) -> Vec<&Secret> {
    let mut out: Vec<&Secret> = Vec::new();
    let mut placed = std::collections::HashSet::new();
    fn place<'a>(
        reg: &'a Registry,
        secret: &'a Secret,
        out: &mut Vec<&'a Secret>,
        placed: &mut std::collections::HashSet<&'a str>,
        depth: usize,
    ) {
        if placed.contains(secret.name.value.as_str()) || depth > reg.secrets.len() {
            return;
        }
        if let Some(from) = &secret.from
            && let Some(source) = reg.secrets.get(&from.value)
        {
            place(reg, source, out, placed, depth + 1);
        }
        if placed.insert(secret.name.value.as_str()) {
            out.push(secret);
        }
    }
    for secret in reg.secrets.values() {
        place(reg, secret, &mut out, &mut placed, 0);
    }
    out
}

/// Every secret derived from `name`, directly or through another derived one, sources first.
pub fn derived_from<'a>(reg: &'a Registry, name: &str) -> Vec<&'a Secret> {
    let mut affected = vec![name.to_string()];
    let mut out = Vec::new();
    for secret in in_dependency_order(reg) {
        if let Some(from) = &secret.from
            && affected.contains(&from.value)
        {
            affected.push(secret.name.value.clone());
            out.push(secret);
        }
    }
    out
}

/// The values to deliver: every secret that has one. An optional external secret that is unset
/// is delivered empty.
#[derive(Debug, Default)]
pub struct Values {
    map: BTreeMap<String, SecretValue>,
}

impl Values {
    /// Collects every secret's current value; the names of secrets without one (and not
    /// optional) come back beside, with the reason.
    pub fn collect(
        reg: &Registry,
        paths: &Paths,
        data: &StoreData,
    ) -> (Values, Vec<(String, String)>) {
        let mut map = BTreeMap::new();
        let mut missing = Vec::new();
        for secret in reg.secrets.values() {
            match current(secret, paths, data) {
                Current::Value(v) => {
                    map.insert(secret.name.value.clone(), v);
                }
                Current::Unset if secret.optional => {
                    map.insert(secret.name.value.clone(), SecretValue::default());
                }
                Current::Unset => {
                    missing.push((secret.name.value.clone(), super::status::unset_hint(secret)))
                }
                Current::Unreadable(why) => missing.push((secret.name.value.clone(), why)),
            }
        }
        (Values { map }, missing)
    }

    pub fn get(&self, name: &str) -> Option<&SecretValue> {
        self.map.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &SecretValue)> {
        self.map.iter()
    }

    pub fn insert(&mut self, name: &str, value: SecretValue) {
        self.map.insert(name.to_string(), value);
    }
}

/// Opens the store (read-only) and collects every secret's current value: what `up` needs to
/// export runtime files and render config templates. Secrets without a value are left out
/// (the consumers report the ones they need).
pub fn load_values(reg: &Registry, paths: &Paths) -> super::Result<Values> {
    let store = super::store::Store::open(paths, super::store::Open::default(), &super::now())?;
    Ok(Values::collect(reg, paths, &store.data).0)
}
