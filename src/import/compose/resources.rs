//! Top-level networks, volumes, secrets and configs of a Compose project as registry entries.
//!
//! Engine-level names (`name:`) and `external` are kept, so an imported stack reattaches to
//! the data and networks it already has. A setting muster has no place for is kept under the
//! entry's `x-compose` key (the registry keeps `x-` keys and `gen` ignores them) and reported;
//! a driver that is Docker's default anyway (`bridge`, `local`) is kept there silently.

use serde_norway::{Mapping, Value as Yaml};

use super::load::{self, Located};
use super::value::to_value;
use crate::diagnostic::{Code, Diagnostic};
use crate::import::Finding;
use crate::registry::yaml::{Node, Value};

/// A registry entry and what was kept aside.
pub struct Entry {
    pub value: Mapping,
    pub comment: Option<String>,
}

pub fn network(name: &str, field: &Located, findings: &mut Vec<Finding>) -> Entry {
    let known = load::NETWORK;
    let mut out = Mapping::new();
    let mut aside = Mapping::new();
    let mut reported = Vec::new();
    for (k, v) in field.node.as_map().unwrap_or(&[]) {
        let key = k.as_str().unwrap_or_default();
        match (key, &v.value) {
            ("name", Value::Str(..)) | ("internal", Value::Bool(_)) => {
                out.insert(key.into(), to_value(v));
            }
            ("external", Value::Bool(_)) => {
                out.insert(key.into(), to_value(v));
            }
            ("external", Value::Map(_)) if v.get("name").is_some() => {
                out.insert("external".into(), Yaml::Bool(true));
                out.insert("name".into(), to_value(v.get("name").expect("checked")));
            }
            ("ipam", _) if subnet(v).is_some() => {
                out.insert("subnet".into(), Yaml::from(subnet(v).unwrap_or_default()));
            }
            ("driver", Value::Str(d, _)) if d == "bridge" => {
                aside.insert(key.into(), to_value(v));
            }
            (x, _) if x.starts_with("x-") => {
                out.insert(key.into(), to_value(v));
            }
            _ => {
                aside.insert(key.into(), to_value(v));
                // Keys Compose does not know were reported as the file was read.
                if known.contains(&key) {
                    reported.push((key.to_string(), field.span(k.span)));
                }
            }
        }
    }
    finish(name, "network", field, out, aside, reported, findings)
}

pub fn volume(name: &str, field: &Located, findings: &mut Vec<Finding>) -> Entry {
    let known = load::VOLUME;
    let mut out = Mapping::new();
    let mut aside = Mapping::new();
    let mut reported = Vec::new();
    let node = &field.node;
    let bind = bind_path(node);
    for (k, v) in node.as_map().unwrap_or(&[]) {
        let key = k.as_str().unwrap_or_default();
        match (key, &v.value) {
            ("name", Value::Str(..)) | ("external", Value::Bool(_)) => {
                out.insert(key.into(), to_value(v));
            }
            ("external", Value::Map(_)) if v.get("name").is_some() => {
                out.insert("external".into(), Yaml::Bool(true));
                out.insert("name".into(), to_value(v.get("name").expect("checked")));
            }
            ("driver", Value::Str(d, _)) if d == "local" => {
                if bind.is_none() {
                    aside.insert(key.into(), to_value(v));
                }
            }
            ("driver_opts", _) if bind.is_some() => {
                out.insert("path".into(), Yaml::from(bind.clone().unwrap_or_default()));
            }
            (x, _) if x.starts_with("x-") => {
                out.insert(key.into(), to_value(v));
            }
            _ => {
                aside.insert(key.into(), to_value(v));
                // Keys Compose does not know were reported as the file was read.
                if known.contains(&key) {
                    reported.push((key.to_string(), field.span(k.span)));
                }
            }
        }
    }
    finish(name, "volume", field, out, aside, reported, findings)
}

/// A Compose secret read from a file becomes an `external` secret muster reads from it; one
/// from a variable or outside the stack is external too, and said so.
pub fn secret(name: &str, field: &Located, findings: &mut Vec<Finding>) -> Entry {
    let known = load::SECRET;
    let mut out = Mapping::new();
    out.insert("kind".into(), Yaml::from("external"));
    let mut aside = Mapping::new();
    let mut reported = Vec::new();
    for (k, v) in field.node.as_map().unwrap_or(&[]) {
        let key = k.as_str().unwrap_or_default();
        match (key, &v.value) {
            ("file", Value::Str(..)) => {
                out.insert("file".into(), to_value(v));
            }
            (x, _) if x.starts_with("x-") => {
                out.insert(key.into(), to_value(v));
            }
            _ => {
                aside.insert(key.into(), to_value(v));
                // Keys Compose does not know were reported as the file was read.
                if known.contains(&key) {
                    reported.push((key.to_string(), field.span(k.span)));
                }
            }
        }
    }
    finish(name, "secret", field, out, aside, reported, findings)
}

fn finish(
    name: &str,
    what: &str,
    field: &Located,
    mut out: Mapping,
    aside: Mapping,
    reported: Vec<(String, crate::source::Span)>,
    findings: &mut Vec<Finding>,
) -> Entry {
    for (key, span) in &reported {
        findings.push(Finding {
            file: field.file.clone(),
            diagnostic: Diagnostic::new(
                Code::ImportNotMapped,
                format!("`{key}` of {what} `{name}` has no place in muster.yaml"),
            )
            .at(*span, "kept under `x-compose`, not generated")
            .help(format!(
                "the generated files leave it out; muster's {what}s know {}",
                match what {
                    "network" => "`name`, `external`, `internal` and one `subnet`",
                    "volume" => "`name`, `external` and a bind `path`",
                    _ => "`file` (external secrets), or secrets muster generates",
                }
            )),
        });
    }
    let comment = (!aside.is_empty()).then(|| {
        if aside.len() == 1 && aside.contains_key("driver") {
            "Docker's default driver, kept as Compose had it".to_string()
        } else {
            "`x-compose`: Compose settings muster does not generate".to_string()
        }
    });
    if !aside.is_empty() {
        out.insert("x-compose".into(), Yaml::Mapping(aside));
    }
    Entry {
        value: out,
        comment,
    }
}

/// The one subnet of an `ipam` block that says nothing else.
fn subnet(ipam: &Node) -> Option<String> {
    let entries = ipam.as_map()?;
    if entries.iter().any(|(k, _)| k.as_str() != Some("config")) {
        return None;
    }
    let [config] = ipam.get("config")?.as_seq()? else {
        return None;
    };
    let [(key, value)] = config.as_map()? else {
        return None;
    };
    (key.as_str() == Some("subnet")).then(|| value.as_str().map(str::to_string))?
}

/// The host folder of a volume that Docker's `local` driver binds (`type: none, o: bind`).
fn bind_path(volume: &Node) -> Option<String> {
    let driver = volume.get("driver").and_then(Node::as_str);
    if !matches!(driver, None | Some("local")) {
        return None;
    }
    let opts = volume.get("driver_opts")?.as_map()?;
    let get = |name: &str| {
        opts.iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .and_then(|(_, v)| v.as_str())
    };
    (opts.len() == 3 && get("type") == Some("none") && get("o") == Some("bind"))
        .then(|| get("device").map(str::to_string))?
}
