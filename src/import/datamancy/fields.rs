//! The Datamancy service fields that need more than a copy: environment, volumes, commands,
//! restart, health checks and resources (with GPU reservations).

use std::collections::HashMap;
use std::path::Path;

use serde_norway::{Mapping, Value};

use crate::diagnostic::{Code, Diagnostic};
use crate::import::reader::{Reader, insert, key_text, seq, verbatim};
use crate::import::url_probe;
use crate::import::{Draft, relocate};
use crate::registry::yaml::{self, Node};

/// `environment`, as a mapping or a `KEY=value` list. A key without a value takes the
/// variable of the same name, as Compose takes it from the environment.
pub fn environment(r: &mut Reader, node: &Node, owner: &str) -> Mapping {
    let mut env = Mapping::new();
    match &node.value {
        yaml::Value::Map(entries) => {
            for (k, v) in entries {
                let key = key_text(k);
                let value = if v.is_null() {
                    format!("${{{key}}}")
                } else {
                    match r.string(v, &format!("`{key}` in the environment of {owner}")) {
                        Some(text) => text,
                        None => continue,
                    }
                };
                insert(&mut env, &key, value);
            }
        }
        yaml::Value::Seq(_) => {
            for item in r.strings(node, "`environment`") {
                match item.split_once('=') {
                    Some((key, value)) => insert(&mut env, key, value),
                    None => insert(&mut env, &item, format!("${{{item}}}")),
                }
            }
        }
        yaml::Value::Null => {}
        _ => r.bad_shape(node, &format!("`environment` of {owner}"), "a mapping"),
    }
    env
}

/// `volumes` as written, relative host paths moved `(from, to)` the registry's folder; named
/// volumes are declared at the top level.
pub fn volumes(
    r: &mut Reader,
    draft: &mut Draft,
    node: &Node,
    (from, to): (&Path, &Path),
) -> Value {
    let Some(items) = node.as_seq() else {
        if !node.is_null() {
            r.bad_shape(node, "`volumes`", "a list");
        }
        return Value::Sequence(Vec::new());
    };
    let mut out = Vec::new();
    for item in items {
        match &item.value {
            yaml::Value::Map(_) => {
                let is_volume = item.get("type").and_then(Node::as_str) == Some("volume");
                if let (true, Some(source)) = (is_volume, item.get("source").and_then(Node::as_str))
                {
                    draft.mapping(&["volumes", source]);
                }
                out.push(verbatim(item));
            }
            _ => {
                let Some(text) = r.string(item, "an entry of `volumes`") else {
                    continue;
                };
                if let Some(name) = named_volume(&text) {
                    draft.mapping(&["volumes", name]);
                    out.push(Value::String(text));
                } else {
                    let (source, rest) = text.split_once(':').unwrap_or((&text, ""));
                    let moved = relocate::moved(source, from, to);
                    out.push(Value::String(if rest.is_empty() {
                        moved
                    } else {
                        format!("{moved}:{rest}")
                    }));
                }
            }
        }
    }
    Value::Sequence(out)
}

/// The volume name of a short-form mount whose source is a named volume.
fn named_volume(mount: &str) -> Option<&str> {
    let (source, _) = mount.split_once(':')?;
    let mut chars = source.chars();
    let first = chars.next()?;
    (first.is_ascii_alphanumeric()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    .then_some(source)
}

/// `command` or `entrypoint`: a string (split into words as Compose does) or a list.
pub fn command(r: &mut Reader, node: &Node, field: &str) -> Option<Value> {
    match &node.value {
        yaml::Value::Seq(_) => Some(seq(r.strings(node, &format!("`{field}`")))),
        _ => r.string(node, &format!("`{field}`")).map(Value::String),
    }
}

/// `restart`; a bare `no` is YAML's `false`, which means the policy "no".
pub fn restart(r: &mut Reader, node: &Node) -> Option<String> {
    match &node.value {
        yaml::Value::Bool(false) => Some("no".into()),
        yaml::Value::Str(s, _) => Some(s.clone()),
        _ => {
            r.bad_shape(node, "`restart`", "a restart policy");
            None
        }
    }
}

/// `health_check: { type, interval, timeout, retries, start_period, ... }` as `health`.
pub fn health(r: &mut Reader, node: &Node, owner: &str) -> Option<Value> {
    let what = format!("the health check of {owner}");
    let mut kind = None;
    let mut probe: HashMap<String, &Node> = HashMap::new();
    let mut timings = Mapping::new();
    for (k, v) in r.entries(node, &what) {
        let field = key_text(k);
        match field.as_str() {
            "type" => kind = r.string(v, "`type`").map(|t| (t, v)),
            "interval" | "timeout" | "start_period" => {
                if let Some(text) = r.string(v, &format!("`{field}`")) {
                    insert(&mut timings, &field, text);
                }
            }
            "retries" => insert(&mut timings, "retries", verbatim(v)),
            "url" | "endpoint" | "path" | "port" | "command" | "test" => {
                probe.insert(field, v);
            }
            _ => r.unmapped(k, &what, ""),
        }
    }
    let Some((kind, kind_node)) = kind else {
        r.push(
            Diagnostic::new(Code::ImportUnmapped, format!("{what} has no `type`"))
                .at(node.span, "what kind of check?")
                .help("it is left out; write a `health:` check in muster.yaml"),
        );
        return None;
    };
    let check = match kind.as_str() {
        "docker" => Some(("image", Value::Bool(true))),
        "none" => Some(("none", Value::Bool(true))),
        "http" => http_probe(r, &probe).map(|m| ("http", Value::Mapping(m))),
        "tcp" => probe
            .get("port")
            .map(|p| ("tcp", Value::Mapping(port_only(p)))),
        "exec" | "command" | "cmd" => probe
            .get("command")
            .or(probe.get("test"))
            .and_then(|c| command(r, c, "command"))
            .map(|c| ("exec", c)),
        _ => None,
    };
    let Some((key, value)) = check else {
        r.push(
            Diagnostic::new(
                Code::ImportUnmapped,
                format!("{what} (`type: {kind}`) cannot be mapped"),
            )
            .at(kind_node.span, "no muster check for this")
            .help("`docker`, `none`, `http` with `url` or `port`, `tcp` with `port` and `exec` with `command` are mapped; this one is left out"),
        );
        return None;
    };
    let mut health = Mapping::new();
    insert(&mut health, key, value);
    for (k, v) in timings {
        health.insert(k, v);
    }
    Some(Value::Mapping(health))
}

fn port_only(port: &Node) -> Mapping {
    let mut m = Mapping::new();
    insert(&mut m, "port", verbatim(port));
    m
}

fn http_probe(r: &Reader, probe: &HashMap<String, &Node>) -> Option<Mapping> {
    let url = probe.get("url").or(probe.get("endpoint"));
    if let Some(url) = url.and_then(|n| r.text(n))
        && url.contains("://")
    {
        return url_probe::http_check(&url);
    }
    let mut m = port_only(probe.get("port")?);
    let path = probe
        .get("path")
        .or(probe.get("endpoint"))
        .and_then(|n| r.text(n));
    insert(&mut m, "path", path.unwrap_or_else(|| "/".into()));
    Some(m)
}

/// `resources` (limits), `deploy.resources` (limits and reservations, GPU devices) and
/// `gpu: true`, as one muster `resources`. Returns whether `gpu: true` alone asked for GPUs.
pub fn resources(r: &mut Reader, f: &HashMap<&str, &Node>, out: &mut Mapping, owner: &str) -> bool {
    let mut limits = Mapping::new();
    if let Some(n) = f.get("resources") {
        cpus_and_memory(r, n, &format!("`resources` of {owner}"), &mut limits);
    }
    let mut reservations = Mapping::new();
    let mut gpus = None;
    if let Some(deploy) = f.get("deploy") {
        for (k, v) in r.entries(deploy, &format!("`deploy` of {owner}")) {
            if k.as_str() != Some("resources") {
                r.unmapped(k, &format!("`deploy` of {owner}"), "");
                continue;
            }
            for (k2, v2) in r.entries(v, "`deploy.resources`") {
                match k2.as_str() {
                    Some("limits") => {
                        let mut more = Mapping::new();
                        cpus_and_memory(r, v2, "`deploy.resources.limits`", &mut more);
                        for (key, value) in more {
                            if limits.contains_key(&key) {
                                r.push(
                                    Diagnostic::new(
                                        Code::ImportInconsistent,
                                        format!("{owner} sets its limits in `resources` and in `deploy.resources.limits`"),
                                    )
                                    .at(v2.span, "a second limit")
                                    .help("the value under `resources` is kept"),
                                );
                            } else {
                                limits.insert(key, value);
                            }
                        }
                    }
                    Some("reservations") => {
                        for (k3, v3) in r.entries(v2, "`deploy.resources.reservations`") {
                            match k3.as_str() {
                                Some("devices") => gpus = gpu_devices(r, v3),
                                Some("cpus" | "memory") => {
                                    cpus_and_memory_entry(r, k3, v3, &mut reservations)
                                }
                                _ => r.unmapped(k3, "`deploy.resources.reservations`", ""),
                            }
                        }
                    }
                    _ => r.unmapped(k2, "`deploy.resources`", ""),
                }
            }
        }
    }
    let gpu = matches!(
        f.get("gpu").map(|n| &n.value),
        Some(yaml::Value::Bool(true))
    );
    if let Some(n) = f.get("gpu")
        && !matches!(n.value, yaml::Value::Bool(_))
    {
        r.bad_shape(n, &format!("`gpu` of {owner}"), "true or false");
    }
    let gpu_only = gpu && gpus.is_none();
    if gpu_only {
        gpus = Some(Value::from("all"));
    }
    let mut res = limits;
    if !reservations.is_empty() {
        insert(&mut res, "reservations", reservations);
    }
    if let Some(g) = gpus {
        insert(&mut res, "gpus", g);
    }
    if !res.is_empty() {
        insert(out, "resources", res);
    }
    gpu_only
}

fn cpus_and_memory(r: &mut Reader, node: &Node, what: &str, out: &mut Mapping) {
    for (k, v) in r.entries(node, what) {
        match k.as_str() {
            Some("cpus" | "memory") => cpus_and_memory_entry(r, k, v, out),
            _ => r.unmapped(k, what, ""),
        }
    }
}

fn cpus_and_memory_entry(r: &mut Reader, key: &Node, value: &Node, out: &mut Mapping) {
    let Some(text) = r.string(value, &format!("`{}`", key_text(key))) else {
        return;
    };
    if key.as_str() == Some("cpus") {
        match text.parse::<f64>() {
            Ok(cpus) => insert(out, "cpus", cpus),
            Err(_) => r.bad_shape(value, "`cpus`", "a number"),
        }
    } else {
        insert(out, "memory", text);
    }
}

/// `devices: [{ driver, count, capabilities: [gpu] }]` as `gpus`.
fn gpu_devices(r: &mut Reader, node: &Node) -> Option<Value> {
    let mut found = None;
    for device in node.as_seq().unwrap_or_default() {
        let caps = device
            .get("capabilities")
            .map(|c| r.strings(c, "`capabilities`"))
            .unwrap_or_default();
        if !caps.iter().any(|c| c == "gpu") {
            r.push(
                Diagnostic::new(
                    Code::ImportUnmapped,
                    "a device reservation without the `gpu` capability has no place in muster.yaml",
                )
                .at(device.span, "not imported"),
            );
            continue;
        }
        let driver = device
            .get("driver")
            .and_then(|d| r.text(d))
            .unwrap_or_else(|| "nvidia".into());
        let count = device.get("count").map(verbatim);
        for (k, _) in device.as_map().unwrap_or_default() {
            if !matches!(k.as_str(), Some("driver" | "count" | "capabilities")) {
                r.unmapped(k, "a GPU reservation", "");
            }
        }
        found = Some(if driver == "nvidia" && caps == ["gpu"] {
            match count {
                Some(Value::Number(n)) => Value::Number(n),
                _ => Value::from("all"),
            }
        } else {
            let mut m = Mapping::new();
            insert(&mut m, "count", count.unwrap_or_else(|| Value::from("all")));
            insert(&mut m, "driver", driver);
            insert(&mut m, "capabilities", seq(caps));
            Value::Mapping(m)
        });
    }
    found
}
