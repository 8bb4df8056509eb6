//! Compose's merge rules, for several `-f` files, `include` and `extends`: mappings merge key
//! by key, the commands replace, mounts and devices merge by their path in the container,
//! secrets and configs by their source, other lists append what they do not have yet, and a
//! value tagged `!reset` removes the key while `!override` replaces it whole.

use indexmap::IndexMap;

use super::load::{Located, Service};
use super::value::{mount_parts, to_value};
use crate::registry::yaml::{Node, Value};

/// Lists that the later file replaces rather than extends.
const REPLACED: &[&str] = &["command", "entrypoint", "test"];

/// Merges `over` (a later file, or the service that extends) into `base`.
pub fn service(base: &mut Service, over: Service) {
    for (key, field) in over.fields {
        match field.node.tag.as_deref() {
            Some("reset") => {
                base.fields.shift_remove(&key);
            }
            Some("override") => {
                base.fields.insert(key, field);
            }
            _ => match base.fields.get_mut(&key) {
                Some(existing) => {
                    let node = value(&key, &existing.node, &field.node);
                    *existing = Located {
                        node,
                        merged: true,
                        ..field
                    };
                }
                None => {
                    base.fields.insert(key, field);
                }
            },
        }
    }
    base.file = over.file;
    base.name_span = over.name_span;
}

/// A top-level network, volume, secret, config or `x-` key defined again: merged.
pub fn resource(map: &mut IndexMap<String, Located>, name: &str, entry: Located) {
    match map.get_mut(name) {
        Some(existing) if entry.node.tag.is_none() => {
            let node = value(name, &existing.node, &entry.node);
            *existing = Located {
                node,
                merged: true,
                ..entry
            };
        }
        _ => {
            map.insert(name.to_string(), entry);
        }
    }
}

/// The value of `key` in `over` merged over `base`.
fn value(key: &str, base: &Node, over: &Node) -> Node {
    if over.tag.as_deref() == Some("override") {
        return over.clone();
    }
    match (&base.value, &over.value) {
        (Value::Map(b), Value::Map(o)) => {
            let mut entries: Vec<(Node, Node)> = b.clone();
            for (k, v) in o {
                let name = k.as_str().unwrap_or_default();
                let at = entries.iter().position(|(bk, _)| bk.as_str() == Some(name));
                match (at, v.tag.as_deref()) {
                    (Some(i), Some("reset")) => {
                        entries.remove(i);
                    }
                    (None, Some("reset")) => {}
                    (Some(i), _) => entries[i].1 = value(name, &entries[i].1, v),
                    (None, _) => entries.push((k.clone(), v.clone())),
                }
            }
            Node::new(Value::Map(entries), over.span)
        }
        (Value::Seq(b), Value::Seq(o)) if !REPLACED.contains(&key) => {
            let identity: fn(&Node) -> Option<String> = match key {
                "volumes" | "devices" => mount_target,
                "secrets" | "configs" => source_name,
                _ => |_| None,
            };
            let mut items = b.clone();
            for item in o {
                let id = identity(item);
                let same = items.iter().position(|i| match (&id, identity(i)) {
                    (Some(a), Some(b)) => *a == b,
                    _ => to_value(i) == to_value(item),
                });
                match (same, id) {
                    (Some(at), Some(_)) => items[at] = item.clone(),
                    (Some(_), None) => {}
                    (None, _) => items.push(item.clone()),
                }
            }
            Node::new(Value::Seq(items), over.span)
        }
        _ => over.clone(),
    }
}

/// The path in the container of a mount or device (`src:/target[:opts]` or `{ target }`).
fn mount_target(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(s, _) => {
            let parts = mount_parts(s);
            Some(match parts.as_slice() {
                [only] => only.to_string(),
                [_, target, ..] => target.to_string(),
                [] => return None,
            })
        }
        _ => node
            .get("target")
            .and_then(Node::as_str)
            .map(str::to_string),
    }
}

/// The secret or config a service entry names (`name` or `{ source }`).
fn source_name(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(s, _) => Some(s.clone()),
        _ => node
            .get("source")
            .and_then(Node::as_str)
            .map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::yaml::parse;
    use crate::source::SourceFile;

    fn merged(key: &str, a: &str, b: &str) -> serde_norway::Value {
        let a = parse(&SourceFile::new("a.yml", a)).unwrap();
        let b = parse(&SourceFile::new("b.yml", b)).unwrap();
        to_value(&value(key, &a, &b))
    }

    fn yaml(text: &str) -> serde_norway::Value {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn compose_merge_rules() {
        assert_eq!(
            merged("environment", "{A: 1, B: 2}", "{B: 3}"),
            yaml("{A: 1, B: 3}")
        );
        assert_eq!(merged("command", "[a, b]", "[c]"), yaml("[c]"));
        assert_eq!(
            merged("ports", "['80:80']", "['80:80', '443:443']"),
            yaml("['80:80', '443:443']")
        );
        assert_eq!(
            merged("volumes", "['a:/data', './x:/x']", "['b:/data']"),
            yaml("['b:/data', './x:/x']")
        );
        assert_eq!(
            merged(
                "healthcheck",
                "{test: [CMD, a], retries: 3}",
                "{test: [CMD, b]}"
            ),
            yaml("{test: [CMD, b], retries: 3}")
        );
        assert_eq!(
            merged("ports", "['80:80']", "!override ['81:81']"),
            yaml("['81:81']")
        );
        assert_eq!(
            merged("environment", "{A: 1, B: 2}", "{B: !reset null}"),
            yaml("{A: 1}")
        );
    }
}
