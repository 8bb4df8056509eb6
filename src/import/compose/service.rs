//! One Compose service as a registry service: each field in its muster place when muster
//! writes it back the same, else verbatim under `extra.compose` (merged last by `gen`), so
//! nothing is lost.

use std::collections::BTreeSet;

use serde_norway::{Mapping, Value as Yaml};

use super::health;
use super::load::{Located, Service};
use super::value::{mount_parts, scalar_text, to_value};
use crate::diagnostic::{Code, Diagnostic};
use crate::import::Finding;
use crate::registry::values;
use crate::registry::yaml::{Node, Value};
use crate::render::compose::paths::Layout;

/// What the mapping of one service produced.
#[derive(Debug, Default)]
pub struct Mapped {
    /// The registry service, without `extra`.
    pub fields: Mapping,
    /// `extra.compose`.
    pub extra: Mapping,
    /// Comments on keys of the service (paths below it).
    pub comments: Vec<(Vec<String>, String)>,
    /// The Compose profiles of the service (its groups).
    pub profiles: Vec<String>,
}

/// What the services of a project tell each other's mapping.
pub struct Peers {
    /// Services with a health check (a dependency on them defaults to `healthy` in muster).
    pub healthy: BTreeSet<String>,
    /// Services some dependency waits to complete: muster calls them jobs.
    pub jobs: BTreeSet<String>,
}

/// The registry's default output folder, which `gen` writes Compose files below: paths kept
/// verbatim under `extra.compose` are written as seen from there.
const LAYOUT_OUTPUT: &str = "deploy";

pub struct Mapper<'a> {
    pub name: &'a str,
    pub peers: &'a Peers,
    pub findings: &'a mut Vec<Finding>,
    pub out: Mapped,
}

impl Mapper<'_> {
    pub fn map(mut self, service: &Service) -> Mapped {
        for (key, field) in &service.fields {
            self.field(key, field);
        }
        if self.peers.jobs.contains(self.name) {
            self.set("job", Yaml::Bool(true));
            self.comment(&["job"], "a dependency waits for it to complete");
        }
        self.out
    }

    fn set(&mut self, key: &str, value: Yaml) {
        self.out.fields.insert(key.into(), value);
    }

    fn extra(&mut self, key: &str, value: Yaml) {
        self.out.extra.insert(key.into(), value);
    }

    fn comment(&mut self, path: &[&str], text: &str) {
        self.out
            .comments
            .push((path.iter().map(|s| s.to_string()).collect(), text.into()));
    }

    fn warn(&mut self, field: &Located, code: Code, message: String, label: &str) {
        self.findings.push(Finding {
            file: field.file.clone(),
            diagnostic: Diagnostic::new(code, message).at(field.key, label),
        });
    }

    fn field(&mut self, key: &str, field: &Located) {
        let node = &field.node;
        if key.starts_with("x-") {
            self.set(key, to_value(node));
            return;
        }
        let mapped = match key {
            "image" => self.string_as("image", node),
            "container_name" | "hostname" | "working_dir" | "pid" | "network_mode" | "user" => {
                self.string_as(key, node)
            }
            "privileged" | "read_only" | "init" => match node.value {
                Value::Bool(b) => {
                    self.set(key, Yaml::Bool(b));
                    true
                }
                _ => false,
            },
            "build" => self.build(node),
            "profiles" => self.profiles(node),
            "restart" => self.restart(node),
            "command" | "entrypoint" => self.command(key, node),
            "environment" => self.environment(field),
            "env_file" => self.strings_as("env_files", node),
            "labels" => self.labels(node),
            "ports" => self.ports(node),
            "expose" => self.expose(node),
            "networks" => self.networks(node),
            "volumes" => self.volumes(node),
            "tmpfs" | "devices" | "cap_add" | "cap_drop" | "security_opt" | "dns" => {
                self.strings_as(key, node)
            }
            "shm_size" => self.size(node),
            "stop_grace_period" => self.duration(node),
            "extra_hosts" => self.extra_hosts(node),
            "sysctls" => self.sysctls(node),
            "ulimits" => self.ulimits(node),
            "logging" => self.logging(node),
            "healthcheck" => {
                let h = health::map(node);
                if let Some(v) = h.health {
                    self.set("health", v);
                }
                if let Some(note) = h.note {
                    self.comment(&["health"], &note);
                }
                if !h.rest.is_empty() {
                    self.extra("healthcheck", Yaml::Mapping(h.rest));
                }
                true
            }
            "depends_on" => self.depends_on(node),
            "deploy" => self.deploy(node),
            "secrets" => self.secrets(field),
            "configs" => {
                self.set("x-compose-configs", to_value(node));
                self.warn(
                    field,
                    Code::ImportNotMapped,
                    format!(
                        "Compose configs of `{}` are kept under `x-compose-configs` and left out of generated files",
                        self.name
                    ),
                    "not generated",
                );
                true
            }
            _ => false,
        };
        if !mapped {
            self.extra(key, verbatim(key, node));
        }
    }

    fn string_as(&mut self, to: &str, node: &Node) -> bool {
        let text = match &node.value {
            Value::Str(s, _) => s.clone(),
            Value::Int(i) if to == "user" => i.to_string(),
            _ => return false,
        };
        if to == "image" && values::parse_image_reference(&text).is_err() {
            return false;
        }
        self.set(to, Yaml::String(text));
        true
    }

    /// A string or a list of strings, written as a list.
    fn strings_as(&mut self, to: &str, node: &Node) -> bool {
        let items: Vec<&Node> = match &node.value {
            Value::Str(..) => vec![node],
            Value::Seq(items) => items.iter().collect(),
            _ => return false,
        };
        let Some(texts) = items
            .iter()
            .map(|i| i.as_str().map(Yaml::from))
            .collect::<Option<Vec<_>>>()
        else {
            return false;
        };
        self.set(to, Yaml::Sequence(texts));
        true
    }

    fn build(&mut self, node: &Node) -> bool {
        let Some(entries) = node.as_map() else {
            return false;
        };
        let mut build = Mapping::new();
        let mut rest = Mapping::new();
        for (k, v) in entries {
            let key = k.as_str().unwrap_or_default();
            let first_class = match key {
                "context" | "dockerfile" | "target" => v.as_str().is_some(),
                "args" => string_map(v).is_some(),
                _ => false,
            };
            match (first_class, key) {
                (true, "args") => {
                    build.insert(key.into(), Yaml::Mapping(string_map(v).unwrap_or_default()));
                }
                (true, _) => {
                    build.insert(key.into(), to_value(v));
                }
                (false, _) => {
                    rest.insert(key.into(), to_value(v));
                }
            }
        }
        if !build.is_empty() {
            self.set("build", Yaml::Mapping(build));
        }
        if !rest.is_empty() {
            self.extra("build", Yaml::Mapping(rest));
        }
        true
    }

    fn profiles(&mut self, node: &Node) -> bool {
        let Some(items) = node.as_seq() else {
            return false;
        };
        let names: Option<Vec<String>> = items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect();
        let Some(names) = names else { return false };
        self.set(
            "groups",
            Yaml::Sequence(names.iter().cloned().map(Yaml::String).collect()),
        );
        self.out.profiles = names;
        true
    }

    fn restart(&mut self, node: &Node) -> bool {
        let text = match &node.value {
            Value::Bool(false) => "no",
            Value::Str(s, _) => s.as_str(),
            _ => return false,
        };
        if !["no", "always", "on-failure", "unless-stopped"].contains(&text) {
            return false;
        }
        self.set("restart", Yaml::from(text));
        true
    }

    fn command(&mut self, key: &str, node: &Node) -> bool {
        match &node.value {
            Value::Str(s, _) => self.set(key, Yaml::from(s.as_str())),
            Value::Seq(items) => {
                let Some(args) = items.iter().map(scalar_text).collect::<Option<Vec<_>>>() else {
                    return false;
                };
                self.set(
                    key,
                    Yaml::Sequence(args.into_iter().map(Yaml::String).collect()),
                );
            }
            _ => return false,
        }
        true
    }

    /// Variables with a name muster accepts and a value go to `env`; a variable without a
    /// value (taken from the shell by Compose) becomes `${NAME}`; the rest stays Compose's.
    fn environment(&mut self, field: &Located) -> bool {
        let Some(entries) = field.node.as_map() else {
            return false;
        };
        let mut env = Mapping::new();
        let mut rest = Mapping::new();
        for (k, v) in entries {
            let Some(name) = k.as_str() else { continue };
            if !is_variable_name(name) {
                rest.insert(name.into(), to_value(v));
                continue;
            }
            let value = match &v.value {
                Value::Null => {
                    self.findings.push(Finding {
                        file: field.file.clone(),
                        diagnostic: Diagnostic::new(
                            Code::ImportPassThrough,
                            format!("`{name}` has no value: Compose passes it from the shell; imported as `${{{name}}}`"),
                        )
                        .at(field.span(k.span), "written as a reference")
                        .help("muster reads variables from `.env`: an unset variable is now empty instead of absent"),
                    });
                    self.comment(&["env", name], "Compose took it from the shell");
                    Yaml::String(format!("${{{name}}}"))
                }
                Value::Str(s, _) => Yaml::String(s.clone()),
                Value::Int(_) | Value::Float(_) | Value::Bool(_) => to_value(v),
                _ => {
                    rest.insert(name.into(), to_value(v));
                    continue;
                }
            };
            env.insert(name.into(), value);
        }
        if !env.is_empty() {
            self.set("env", Yaml::Mapping(env));
        }
        if !rest.is_empty() {
            self.extra("environment", Yaml::Mapping(rest));
        }
        true
    }

    fn labels(&mut self, node: &Node) -> bool {
        let Some(map) = string_map(node) else {
            return false;
        };
        self.set("labels", Yaml::Mapping(map));
        true
    }

    fn ports(&mut self, node: &Node) -> bool {
        const LONG: &[&str] = &[
            "target",
            "published",
            "host_ip",
            "protocol",
            "mode",
            "name",
            "app_protocol",
        ];
        let Some(items) = node.as_seq() else {
            return false;
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::Int(i) => out.push(Yaml::String(i.to_string())),
                Value::Str(s, _) if s.contains("${") || values::parse_port_mapping(s).is_ok() => {
                    out.push(Yaml::String(s.clone()))
                }
                Value::Map(entries)
                    if entries
                        .iter()
                        .all(|(k, _)| k.as_str().is_some_and(|k| LONG.contains(&k)))
                        && item
                            .get("target")
                            .is_some_and(|t| matches!(t.value, Value::Int(_))) =>
                {
                    let mut m = Mapping::new();
                    for (k, v) in entries {
                        let value = match (k.as_str(), &v.value) {
                            (Some("published"), Value::Int(i)) => Yaml::String(i.to_string()),
                            _ => to_value(v),
                        };
                        m.insert(to_value(k), value);
                    }
                    out.push(Yaml::Mapping(m));
                }
                _ => return false,
            }
        }
        self.set("ports", Yaml::Sequence(out));
        true
    }

    fn expose(&mut self, node: &Node) -> bool {
        let Some(items) = node.as_seq() else {
            return false;
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::Int(i) if (1..=65535).contains(i) => out.push(Yaml::from(*i)),
                Value::Str(s, _) => {
                    let (port, proto) = s.split_once('/').unwrap_or((s, "tcp"));
                    match (port.parse::<u16>(), proto) {
                        (Ok(p), "tcp") if p > 0 => out.push(Yaml::from(p)),
                        (Ok(p), "udp") if p > 0 => out.push(Yaml::String(s.clone())),
                        _ => return false,
                    }
                }
                _ => return false,
            }
        }
        self.set("expose", Yaml::Sequence(out));
        true
    }

    /// Networks: a list when none has settings; aliases and addresses in muster's place,
    /// other settings of a network under `extra.compose`.
    fn networks(&mut self, node: &Node) -> bool {
        let Some(entries) = node.as_map() else {
            return false;
        };
        let mut plain = true;
        let mut nets = Mapping::new();
        let mut rest = Mapping::new();
        for (k, v) in entries {
            let Some(name) = k.as_str() else { continue };
            let mut net = Mapping::new();
            let mut other = Mapping::new();
            for (sk, sv) in v.as_map().unwrap_or(&[]) {
                let skey = sk.as_str().unwrap_or_default();
                match (skey, &sv.value) {
                    ("aliases", Value::Seq(_)) if string_list(sv).is_some() => {
                        net.insert(skey.into(), to_value(sv));
                    }
                    ("ipv4_address", Value::Str(..)) => {
                        net.insert(skey.into(), to_value(sv));
                    }
                    _ => {
                        other.insert(skey.into(), to_value(sv));
                    }
                }
            }
            if !net.is_empty() {
                plain = false;
            }
            if !other.is_empty() {
                rest.insert(name.into(), Yaml::Mapping(other));
            }
            nets.insert(name.into(), Yaml::Mapping(net));
        }
        if plain {
            self.set("networks", Yaml::Sequence(nets.keys().cloned().collect()));
        } else {
            self.set("networks", Yaml::Mapping(nets.clone()));
        }
        if !rest.is_empty() {
            if plain {
                // `gen` writes a list here, which a mapping under `extra.compose` replaces
                // whole: the mapping names every network.
                rest = nets
                    .keys()
                    .map(|k| {
                        (
                            k.clone(),
                            rest.get(k)
                                .cloned()
                                .unwrap_or_else(|| Yaml::Mapping(Mapping::new())),
                        )
                    })
                    .collect();
            }
            self.extra("networks", Yaml::Mapping(rest));
        }
        true
    }

    fn volumes(&mut self, node: &Node) -> bool {
        let Some(items) = node.as_seq() else {
            return false;
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::Str(s, _) => {
                    let parts = mount_parts(s);
                    let target = if parts.len() == 1 { parts[0] } else { parts[1] };
                    if !target.starts_with('/') {
                        return false;
                    }
                    out.push(Yaml::String(s.clone()));
                }
                Value::Map(entries) => {
                    let kind = item.get("type").and_then(Node::as_str).unwrap_or("volume");
                    let simple = entries.iter().all(|(k, v)| match k.as_str() {
                        Some("type") => ["volume", "bind", "tmpfs"].contains(&kind),
                        Some("source") | Some("target") => v.as_str().is_some(),
                        Some("read_only") => matches!(v.value, Value::Bool(_)),
                        _ => false,
                    });
                    if !simple
                        || item.get("target").is_none()
                        || (kind == "bind" && item.get("source").is_none())
                    {
                        return false;
                    }
                    out.push(to_value(item));
                }
                _ => return false,
            }
        }
        self.set("volumes", Yaml::Sequence(out));
        true
    }

    fn size(&mut self, node: &Node) -> bool {
        match scalar_text(node) {
            Some(t) if values::parse_size(&t).is_ok() => {
                self.set("shm_size", Yaml::String(t));
                true
            }
            _ => false,
        }
    }

    fn duration(&mut self, node: &Node) -> bool {
        match node.as_str() {
            Some(t) if values::parse_duration(t).is_ok() => {
                self.set("stop_grace_period", Yaml::from(t));
                true
            }
            _ => false,
        }
    }

    fn extra_hosts(&mut self, node: &Node) -> bool {
        let Some(map) = string_map(node) else {
            return false;
        };
        let hosts = map
            .iter()
            .map(|(k, v)| {
                Yaml::String(format!(
                    "{}:{}",
                    k.as_str().unwrap_or_default(),
                    v.as_str().unwrap_or_default()
                ))
            })
            .collect();
        self.set("extra_hosts", Yaml::Sequence(hosts));
        true
    }

    fn sysctls(&mut self, node: &Node) -> bool {
        let Some(map) = string_map(node) else {
            return false;
        };
        self.set("sysctls", Yaml::Mapping(map));
        true
    }

    /// `{ soft, hard }` limits in muster's place; a single number (Compose's short form)
    /// stays Compose's, since muster writes both limits.
    fn ulimits(&mut self, node: &Node) -> bool {
        let Some(entries) = node.as_map() else {
            return false;
        };
        let mut limits = Mapping::new();
        let mut rest = Mapping::new();
        for (k, v) in entries {
            let pair = v.get("soft").zip(v.get("hard"));
            match pair {
                Some((s, h))
                    if v.as_map().is_some_and(|m| m.len() == 2)
                        && matches!(s.value, Value::Int(_))
                        && matches!(h.value, Value::Int(_)) =>
                {
                    limits.insert(to_value(k), to_value(v));
                }
                _ => {
                    rest.insert(to_value(k), to_value(v));
                }
            }
        }
        if !limits.is_empty() {
            self.set("ulimits", Yaml::Mapping(limits));
        }
        if !rest.is_empty() {
            self.extra("ulimits", Yaml::Mapping(rest));
        }
        true
    }

    fn logging(&mut self, node: &Node) -> bool {
        let Some(entries) = node.as_map() else {
            return false;
        };
        let ok = entries.iter().all(|(k, v)| match k.as_str() {
            Some("driver") => v.as_str().is_some(),
            Some("options") => string_map(v).is_some(),
            _ => false,
        });
        if !ok {
            return false;
        }
        let mut out = Mapping::new();
        for (k, v) in entries {
            let value = match k.as_str() {
                Some("options") => Yaml::Mapping(string_map(v).unwrap_or_default()),
                _ => to_value(v),
            };
            out.insert(to_value(k), value);
        }
        self.set("logging", Yaml::Mapping(out));
        true
    }

    /// Dependencies with their condition; written short when muster would infer the same
    /// condition (started, unless the dependency has a health check or is a job).
    fn depends_on(&mut self, node: &Node) -> bool {
        let Some(entries) = node.as_map() else {
            return false;
        };
        let mut deps = Vec::new();
        let mut rest = Mapping::new();
        let mut inferred_notes = Vec::new();
        for (k, v) in entries {
            let Some(name) = k.as_str() else { continue };
            let condition = v
                .get("condition")
                .and_then(Node::as_str)
                .unwrap_or("service_started");
            let short = match condition {
                "service_started" => "started",
                "service_healthy" => "healthy",
                "service_completed_successfully" => "completed",
                _ => return false,
            };
            let inferred = if self.peers.healthy.contains(name) {
                "healthy"
            } else if self.peers.jobs.contains(name) {
                "completed"
            } else {
                "started"
            };
            let optional = matches!(
                v.get("required").map(|r| &r.value),
                Some(Value::Bool(false))
            );
            let mut other = Mapping::new();
            for (sk, sv) in v.as_map().unwrap_or(&[]) {
                if !matches!(sk.as_str(), Some("condition" | "required")) {
                    other.insert(to_value(sk), to_value(sv));
                }
            }
            if !other.is_empty() {
                rest.insert(name.into(), Yaml::Mapping(other));
            }
            if short == inferred && !optional {
                if short != "started" {
                    inferred_notes.push(format!("{name} {short}"));
                }
                deps.push(Yaml::from(name));
            } else {
                let mut m = Mapping::new();
                m.insert("service".into(), Yaml::from(name));
                if short != inferred {
                    m.insert("condition".into(), Yaml::from(short));
                }
                if optional {
                    m.insert("optional".into(), Yaml::Bool(true));
                }
                deps.push(Yaml::Mapping(m));
            }
        }
        self.set("depends_on", Yaml::Sequence(deps));
        if !inferred_notes.is_empty() {
            self.comment(
                &["depends_on"],
                &format!(
                    "waits as in Compose: {} (muster infers it from a health check or `job`)",
                    inferred_notes.join(", ")
                ),
            );
        }
        if !rest.is_empty() {
            self.extra("depends_on", Yaml::Mapping(rest));
        }
        true
    }

    /// `deploy`: replicas, global mode and resources in muster's place, the rest Compose's.
    fn deploy(&mut self, node: &Node) -> bool {
        let Some(entries) = node.as_map() else {
            return false;
        };
        let mut rest = Mapping::new();
        for (k, v) in entries {
            match (k.as_str(), &v.value) {
                (Some("replicas"), Value::Int(n)) if *n != 1 && *n >= 0 => {
                    self.set("replicas", Yaml::from(*n));
                }
                (Some("mode"), Value::Str(m, _)) if m == "global" => {
                    self.set("mode", Yaml::from("global"));
                }
                (Some("resources"), _) => {
                    let (resources, other) = resources(v);
                    if !resources.is_empty() {
                        self.set("resources", Yaml::Mapping(resources));
                    }
                    if !other.is_empty() {
                        rest.insert("resources".into(), Yaml::Mapping(other));
                    }
                }
                _ => {
                    rest.insert(to_value(k), to_value(v));
                }
            }
        }
        if !rest.is_empty() {
            self.extra("deploy", Yaml::Mapping(rest));
        }
        true
    }

    /// Secrets named by the service; the long form (target, uid, mode) stays Compose's, and
    /// the names are given to muster too, so `gen` declares them.
    fn secrets(&mut self, field: &Located) -> bool {
        let Some(items) = field.node.as_seq() else {
            return false;
        };
        let mut names = Vec::new();
        let mut long = false;
        for item in items {
            match &item.value {
                Value::Str(s, _) => names.push(Yaml::String(s.clone())),
                Value::Map(entries) => match item.get("source").and_then(Node::as_str) {
                    Some(s) => {
                        long |= entries.len() > 1;
                        names.push(Yaml::String(s.to_string()));
                    }
                    None => return false,
                },
                _ => return false,
            }
        }
        self.set("secrets", Yaml::Sequence(names));
        if long {
            // `gen` declares the secrets a service names, not those of a long form: the
            // long form stays aside and the secrets are mounted at /run/secrets/<name>.
            self.set("x-compose-secrets", to_value(&field.node));
            self.warn(
                field,
                Code::ImportNotMapped,
                format!(
                    "the long form of the secrets of `{}` (target, uid, gid, mode) is kept under `x-compose-secrets`; they are mounted at /run/secrets/<name>",
                    self.name
                ),
                "mounted at the default path",
            );
        }
        true
    }
}

/// `deploy.resources` split into muster's `resources` and what stays Compose's.
fn resources(node: &Node) -> (Mapping, Mapping) {
    let mut out = Mapping::new();
    let mut rest = Mapping::new();
    for (k, v) in node.as_map().unwrap_or(&[]) {
        let key = k.as_str().unwrap_or_default();
        let mut kept = Mapping::new();
        let mut other = Mapping::new();
        for (rk, rv) in v.as_map().unwrap_or(&[]) {
            let rkey = rk.as_str().unwrap_or_default();
            let value = match rkey {
                "cpus" => scalar_text(rv)
                    .and_then(|t| t.parse::<f64>().ok())
                    .filter(|c| *c > 0.0)
                    .map(Yaml::from),
                "memory" => scalar_text(rv)
                    .filter(|t| values::parse_size(t).is_ok())
                    .map(Yaml::String),
                _ => None,
            };
            match value {
                Some(v) if key == "limits" || key == "reservations" => {
                    kept.insert(rkey.into(), v);
                }
                _ => {
                    other.insert(rkey.into(), to_value(rv));
                }
            }
        }
        if key == "limits" {
            out.extend(kept);
        } else if !kept.is_empty() {
            out.insert(key.into(), Yaml::Mapping(kept));
        }
        if !other.is_empty() {
            rest.insert(key.into(), Yaml::Mapping(other));
        }
    }
    (out, rest)
}

/// A name muster accepts for a variable: letters, digits and `_`, not starting with a digit.
fn is_variable_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A mapping whose values are all scalars, as strings.
fn string_map(node: &Node) -> Option<Mapping> {
    let mut out = Mapping::new();
    for (k, v) in node.as_map()? {
        out.insert(Yaml::String(scalar_text(k)?), Yaml::String(scalar_text(v)?));
    }
    Some(out)
}

fn string_list(node: &Node) -> Option<Vec<String>> {
    node.as_seq()?
        .iter()
        .map(|i| i.as_str().map(str::to_string))
        .collect()
}

/// A field kept as Compose has it, with relative paths written as seen from the generated
/// Compose folder (where `gen` puts it, unchanged).
fn verbatim(key: &str, node: &Node) -> Yaml {
    let layout = Layout::new(LAYOUT_OUTPUT);
    let mut value = to_value(node);
    // Absolute paths, `~`, `${VAR}` and URLs are kept by `Layout::path`.
    let fix = |v: &mut Yaml| {
        if let Yaml::String(s) = v {
            *s = layout.path(s);
        }
    };
    match (key, &mut value) {
        ("volumes", Yaml::Sequence(items)) => {
            for item in items {
                match item {
                    Yaml::String(s) if s.starts_with('.') => {
                        if let Some((src, rest)) = s.split_once(':') {
                            *s = format!("{}:{rest}", layout.path(src));
                        }
                    }
                    Yaml::Mapping(m) if m.get("type").and_then(Yaml::as_str) == Some("bind") => {
                        if let Some(src) = m.get_mut("source") {
                            fix(src);
                        }
                    }
                    _ => {}
                }
            }
        }
        ("env_file", Yaml::Sequence(items)) => {
            for item in items {
                match item {
                    Yaml::Mapping(m) => {
                        if let Some(p) = m.get_mut("path") {
                            fix(p);
                        }
                    }
                    other => fix(other),
                }
            }
        }
        ("env_file", other) => fix(other),
        _ => {}
    }
    value
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::registry::yaml::parse;
    use crate::source::SourceFile;

    /// Maps the service `text` (a Compose service body, already in normalised shape).
    fn map(text: &str, healthy: &[&str]) -> (Yaml, Vec<Finding>) {
        let file = Arc::new(SourceFile::new("compose.yaml", text));
        let root = parse(&file).unwrap();
        let mut fields = indexmap::IndexMap::new();
        for (k, v) in root.as_map().unwrap() {
            let key = k.as_str().unwrap();
            fields.insert(
                key.to_string(),
                Located {
                    file: file.clone(),
                    key: k.span,
                    node: super::super::normalize::field(key, v),
                    merged: false,
                },
            );
        }
        let service = Service {
            file: file.clone(),
            name_span: root.span,
            fields,
        };
        let peers = Peers {
            healthy: healthy.iter().map(|s| s.to_string()).collect(),
            jobs: BTreeSet::new(),
        };
        let mut findings = Vec::new();
        let mapped = Mapper {
            name: "web",
            peers: &peers,
            findings: &mut findings,
            out: Mapped::default(),
        }
        .map(&service);
        let mut out = mapped.fields;
        if !mapped.extra.is_empty() {
            out.insert("extra".into(), Yaml::Mapping(mapped.extra));
        }
        (Yaml::Mapping(out), findings)
    }

    fn yaml(text: &str) -> Yaml {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn what_muster_has_no_place_for_stays_compose() {
        let (s, findings) = map(
            "image: nginx:1.27\nenvironment: [A=1, discovery.type=single-node]\nulimits: { nofile: 1024, nproc: { soft: 1, hard: 2 } }\nstdin_open: true\nrestart: on-failure:3\n",
            &[],
        );
        assert_eq!(
            s,
            yaml(
                "{image: 'nginx:1.27', env: {A: '1'}, ulimits: {nproc: {soft: 1, hard: 2}}, extra: {environment: {discovery.type: single-node}, ulimits: {nofile: 1024}, stdin_open: true, restart: 'on-failure:3'}}"
            )
        );
        assert!(findings.is_empty());
    }

    #[test]
    fn dependencies_are_short_where_muster_infers_the_same_condition() {
        let (s, _) = map(
            "image: a:1\ndepends_on: { db: { condition: service_healthy }, cache: { condition: service_started }, queue: { condition: service_started, restart: true } }\n",
            &["db", "queue"],
        );
        assert_eq!(
            s["depends_on"],
            yaml("[db, cache, {service: queue, condition: started}]")
        );
        assert_eq!(s["extra"]["depends_on"], yaml("{queue: {restart: true}}"));
    }

    #[test]
    fn network_settings_beside_a_list_name_every_network() {
        let (s, _) = map(
            "image: a:1\nnetworks: { front: { priority: 5 }, back: }\n",
            &[],
        );
        assert_eq!(s["networks"], yaml("[front, back]"));
        assert_eq!(
            s["extra"]["networks"],
            yaml("{front: {priority: 5}, back: {}}")
        );
    }

    #[test]
    fn paths_kept_verbatim_are_written_from_the_compose_folder() {
        let (s, _) = map(
            "image: a:1\nvolumes: [{ type: bind, source: ./conf, target: /c, bind: { propagation: rshared } }, data:/d]\nenv_file: [{ path: config/app.env, required: false }]\n",
            &[],
        );
        assert_eq!(
            s["extra"]["volumes"],
            yaml(
                "[{type: bind, source: ../../conf, target: /c, bind: {propagation: rshared}}, 'data:/d']"
            )
        );
        assert_eq!(
            s["extra"]["env_file"],
            yaml("[{path: ../../config/app.env, required: false}]")
        );
    }

    #[test]
    fn a_variable_without_value_is_a_reference_and_a_warning() {
        let (s, findings) = map("image: a:1\nenvironment: [TOKEN]\n", &[]);
        assert_eq!(s["env"], yaml("{TOKEN: '${TOKEN}'}"));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].diagnostic.code, Code::ImportPassThrough);
    }
}
