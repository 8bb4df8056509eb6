//! Environments from Compose override files: the project imported with and without the
//! file, and what the file changes written as a muster environment overlay (maps merge key
//! by key, anything else replaces, `null` removes: REGISTRY.md "Environments").

use serde_norway::{Mapping, Value};

use crate::import::Draft;

/// The sections an environment may change that an import writes.
const SECTIONS: [&str; 6] = [
    "variables",
    "secrets",
    "groups",
    "networks",
    "volumes",
    "services",
];

/// What `env` changes in `base`, per section; empty when nothing changes.
pub fn overlay(base: &Draft, env: &Draft) -> Mapping {
    let mut out = Mapping::new();
    for section in SECTIONS {
        let empty = Value::Mapping(Mapping::new());
        let before = base.get(&[section]).unwrap_or(&empty);
        let after = env.get(&[section]).unwrap_or(&empty);
        if let Some(change) = diff(before, after) {
            out.insert(section.into(), change);
        }
    }
    out
}

/// The overlay that turns `before` into `after`, or None when they are equal.
fn diff(before: &Value, after: &Value) -> Option<Value> {
    if before == after {
        return None;
    }
    let (Value::Mapping(b), Value::Mapping(a)) = (before, after) else {
        return Some(after.clone());
    };
    let mut out = Mapping::new();
    for (k, v) in a {
        match b.get(k) {
            Some(old) => {
                if let Some(change) = diff(old, v) {
                    out.insert(k.clone(), change);
                }
            }
            None => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        out.insert(k.clone(), Value::Null);
    }
    Some(Value::Mapping(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn overlays_hold_only_the_changes() {
        let mut base = Draft::new();
        base.set(
            &["services"],
            yaml("{api: {image: 'a:1', env: {A: '1', B: '2'}, ports: ['80:80']}}"),
        );
        let mut env = Draft::new();
        env.set(
            &["services"],
            yaml("{api: {image: 'a:1', env: {A: '1', C: '3'}, ports: ['81:80']}, dev: {image: 'd:1'}}"),
        );
        env.set(&["volumes", "data"], Value::Mapping(Mapping::new()));
        assert_eq!(
            Value::Mapping(overlay(&base, &env)),
            yaml(
                "{volumes: {data: {}}, services: {api: {env: {C: '3', B: null}, ports: ['81:80']}, dev: {image: 'd:1'}}}"
            )
        );
        assert!(overlay(&base, &base).is_empty());
    }
}
