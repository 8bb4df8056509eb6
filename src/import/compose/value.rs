//! Located YAML nodes as the plain values a registry draft is built from.

use serde_norway::{Mapping, Value as Yaml};

use crate::registry::yaml::{Node, Value};

/// `node` as a plain YAML value (spans and tags dropped; keys as they are).
pub fn to_value(node: &Node) -> Yaml {
    match &node.value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Bool(*b),
        Value::Int(i) => Yaml::from(*i),
        Value::Float(f) => Yaml::from(*f),
        Value::Str(s, _) => Yaml::String(s.clone()),
        Value::Seq(items) => Yaml::Sequence(items.iter().map(to_value).collect()),
        Value::Map(entries) => {
            let mut map = Mapping::new();
            for (k, v) in entries {
                map.insert(to_value(k), to_value(v));
            }
            Yaml::Mapping(map)
        }
    }
}

/// A scalar as the text Compose reads (numbers and booleans as YAML writes them).
pub fn scalar_text(node: &Node) -> Option<String> {
    match &node.value {
        Value::Str(s, _) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The `:`-separated parts of a short mount (`source:target[:options]`), leaving alone the
/// colons inside `${VAR:-default}` placeholders.
pub fn mount_parts(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    let bytes = s.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_split_outside_placeholders() {
        assert_eq!(
            mount_parts("${DATA:-./d}:/data:ro"),
            ["${DATA:-./d}", "/data", "ro"]
        );
        assert_eq!(mount_parts("/data"), ["/data"]);
        assert_eq!(mount_parts("a:/b"), ["a", "/b"]);
    }
}
