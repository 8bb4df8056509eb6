//! The catalog's health endpoint (`health_endpoint` with `health_check_type`) as `health`.
//!
//! A URL of the container itself becomes an `http` check, which every engine can run; a
//! command becomes `exec`. The bundles often probe the same thing already: the bundle's
//! timings are kept, and a bundle command that fetches the very URL gives way to the `http`
//! check (keeping `-k` as `insecure`). A bundle probe of something else is kept, and said so.

use serde_norway::{Mapping, Value};

use crate::diagnostic::{Code, Diagnostic};
use crate::import::Draft;
use crate::import::reader::{Reader, insert};
use crate::import::url_probe;
use crate::registry::yaml::Node;

/// Check kinds a `health` mapping holds one of.
const KINDS: &[&str] = &["exec", "http", "tcp", "image", "none"];

pub fn map(r: &mut Reader, draft: &mut Draft, name: &str, def: &Node) {
    let kind_node = def.get("health_check_type");
    let kind = kind_node.and_then(|n| r.text(n));
    let endpoint = def.get("health_endpoint").filter(|n| !n.is_null());
    let Some(endpoint) = endpoint else {
        return;
    };
    let Some(target) = r.string(endpoint, "`health_endpoint`") else {
        return;
    };
    let bundle = draft
        .get(&["services", name, "health"])
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    let bundle_probe = bundle.get("exec").map(command_text);
    let (key, check) = match kind.as_deref() {
        Some("http") => {
            let Some(mut check) = url_probe::http_check(&target) else {
                r.push(
                    Diagnostic::new(
                        Code::ImportUnmapped,
                        format!(
                            "the health endpoint of `{name}` is not a URL of the container itself"
                        ),
                    )
                    .at(endpoint.span, "not imported")
                    .help("an `http` check probes the container: http://localhost:PORT/PATH"),
                );
                return;
            };
            if let Some(probe) = &bundle_probe {
                if !probe.contains(target.trim_end_matches('/')) {
                    return differs(r, endpoint, name, probe);
                }
                if ["-k", "--insecure", "--no-check-certificate"]
                    .iter()
                    .any(|flag| probe.split_whitespace().any(|w| w == *flag))
                {
                    insert(&mut check, "insecure", true);
                }
            }
            ("http", Value::Mapping(check))
        }
        Some("command") => {
            if let Some(probe) = &bundle_probe {
                if probe != target.trim() {
                    return differs(r, endpoint, name, probe);
                }
                return;
            }
            ("exec", Value::String(target))
        }
        _ => {
            let at = kind_node.unwrap_or(endpoint);
            r.push(
                Diagnostic::new(
                    Code::ImportUnmapped,
                    format!(
                        "the health check type `{}` of `{name}` has no place in muster.yaml; left out",
                        kind.as_deref().unwrap_or("(none)")
                    ),
                )
                .at(at.span, "not imported")
                .help("`http` (a URL) and `command` are imported"),
            );
            return;
        }
    };
    let mut health = Mapping::new();
    insert(&mut health, key, check);
    for (k, v) in bundle {
        if !k.as_str().is_some_and(|k| KINDS.contains(&k)) {
            health.insert(k, v);
        }
    }
    draft.set(&["services", name, "health"], health);
    if bundle_probe.is_some() && key == "http" {
        draft.comment(
            &["services", name, "health"],
            "the catalog's health endpoint, which the bundle's command probed too",
        );
    }
}

/// A bundle probe that checks something else than the catalog says: the bundle's is kept.
fn differs(r: &mut Reader, endpoint: &Node, name: &str, probe: &str) {
    r.push(
        Diagnostic::new(
            Code::ImportInconsistent,
            format!("the catalog's health endpoint of `{name}` differs from its bundle's check `{probe}`"),
        )
        .at(endpoint.span, "another check")
        .help("the bundle's check is kept: it is what runs"),
    );
}

/// An `exec` check as one line of text (a list joined by spaces).
fn command_text(v: &Value) -> String {
    match v {
        Value::Sequence(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        Value::String(s) => s.trim().to_string(),
        _ => String::new(),
    }
}
