//! One Datamancy service as a muster service.
//!
//! Datamancy services are Compose services with a few words of their own (`version`,
//! `subdomain`, `additional_aliases`, `network_aliases`, `health_check`, `phase_order`,
//! `resources`, `gpu`, `security_note`). The Compose words muster shares keep their meaning
//! and are copied as written; the fields are laid out in the order of REGISTRY.md.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_norway::{Mapping, Value};

use super::fields;
use super::top::Phases;
use crate::diagnostic::{Code, Diagnostic};
use crate::import::reader::{Reader, insert, key_text, seq, verbatim};
use crate::import::{Draft, relocate};
use crate::registry::yaml::{self, Node};
use crate::source::Span;

/// Compose fields muster has under the same name and meaning: copied as written.
const SAME_AS_COMPOSE: &[&str] = &[
    "hostname",
    "expose",
    "working_dir",
    "labels",
    "read_only",
    "init",
    "stop_grace_period",
    "cap_drop",
    "cap_add",
    "security_opt",
    "privileged",
    "devices",
    "pid",
    "dns",
    "extra_hosts",
    "sysctls",
    "ulimits",
    "logging",
];

/// The fields that follow `restart` in REGISTRY.md, in its order.
const AFTER_RESTART: &[&str] = &[
    "read_only",
    "init",
    "stop_grace_period",
    "cap_drop",
    "cap_add",
    "security_opt",
    "privileged",
    "devices",
    "tmpfs",
    "shm_size",
    "pid",
    "dns",
    "extra_hosts",
    "sysctls",
    "ulimits",
    "logging",
];

/// Fields this importer maps itself.
const MAPPED: &[&str] = &[
    "image",
    "version",
    "container_name",
    "subdomain",
    "additional_aliases",
    "network_aliases",
    "networks",
    "ports",
    "depends_on",
    "health_check",
    "phase",
    "phase_order",
    "resources",
    "deploy",
    "gpu",
    "environment",
    "env_file",
    "volumes",
    "command",
    "entrypoint",
    "user",
    "restart",
    "tmpfs",
    "shm_size",
    "security_note",
];

/// The public names a service answers to, for finding the proxy.
pub struct Hosts {
    /// `subdomain`, with where it is written.
    pub subdomain: Option<(String, Span)>,
    /// `additional_aliases`, each with where it is written.
    pub aliases: Vec<(String, Span)>,
}

/// The services read so far.
pub struct Services {
    pub names: Vec<String>,
    pub hosts: Vec<(String, Hosts)>,
    /// The folder of the source, which its relative paths are relative to.
    from: PathBuf,
    /// The folder of the registry being written.
    to: PathBuf,
}

impl Services {
    pub fn new(from: PathBuf, to: PathBuf) -> Services {
        Services {
            names: Vec::new(),
            hosts: Vec::new(),
            from,
            to,
        }
    }

    /// Maps the service `key: def` of `category` into the draft.
    pub fn add(
        &mut self,
        r: &mut Reader,
        draft: &mut Draft,
        phases: &mut Phases,
        category: &str,
        key: &Node,
        def: &Node,
    ) {
        let name = key_text(key);
        if self.names.contains(&name) {
            r.push(
                Diagnostic::new(
                    Code::ImportInconsistent,
                    format!("service `{name}` is defined twice"),
                )
                .at(key.span, "defined again here")
                .help("the first definition is kept"),
            );
            return;
        }
        let owner = format!("`{name}`");
        let mut f: HashMap<&str, &Node> = HashMap::new();
        for (k, v) in r.entries(def, &format!("service {owner}")) {
            match k.as_str() {
                Some(field) if MAPPED.contains(&field) || SAME_AS_COMPOSE.contains(&field) => {
                    f.insert(field, v);
                }
                _ => r.unmapped(k, &format!("service {owner}"), ""),
            }
        }
        let mut m = Mapping::new();
        if let Some(note) = f
            .get("security_note")
            .and_then(|n| r.string(n, "`security_note`"))
        {
            insert(&mut m, "description", note);
        }
        if let Some(image) = f.get("image").and_then(|n| r.string(n, "`image`")) {
            insert(&mut m, "image", image);
        }
        if let Some(version) = f.get("version").and_then(|n| r.string(n, "`version`")) {
            insert(&mut m, "version", version);
        }
        insert(&mut m, "category", category);
        if let Some(phase) = f.get("phase") {
            if let Some(p) = phases.used(r, draft, &name, phase, f.get("phase_order").copied()) {
                insert(&mut m, "phase", p);
            }
        } else if let Some(order) = f.get("phase_order") {
            r.push(
                Diagnostic::new(
                    Code::ImportInconsistent,
                    format!("{owner} has a `phase_order` but no `phase`"),
                )
                .at(order.span, "order of which phase?")
                .help("it is left out; give the service a `phase` in muster.yaml"),
            );
        }
        if let Some(c) = f
            .get("container_name")
            .and_then(|n| r.string(n, "`container_name`"))
        {
            insert(&mut m, "container_name", c);
        }
        if let Some(n) = f.get("hostname") {
            insert(&mut m, "hostname", verbatim(n));
        }
        if let Some(n) = f.get("networks") {
            let value = match &n.value {
                yaml::Value::Map(_) => verbatim(n),
                _ => seq(r.strings(n, "`networks`")),
            };
            insert(&mut m, "networks", value);
        }
        if let Some(n) = f.get("network_aliases") {
            insert(&mut m, "aliases", seq(r.strings(n, "`network_aliases`")));
        }
        for field in ["expose", "ports"] {
            if let Some(n) = f.get(field) {
                insert(&mut m, field, verbatim(n));
            }
        }
        if let Some(n) = f.get("environment") {
            let env = fields::environment(r, n, &owner);
            if !env.is_empty() {
                insert(&mut m, "env", env);
            }
        }
        if let Some(n) = f.get("env_file") {
            let files = r.strings(n, "`env_file`");
            let files = files
                .iter()
                .map(|f| relocate::moved(f, &self.from, &self.to));
            insert(&mut m, "env_files", seq(files));
        }
        if let Some(n) = f.get("volumes") {
            insert(
                &mut m,
                "volumes",
                fields::volumes(r, draft, n, (&self.from, &self.to)),
            );
        }
        for field in ["command", "entrypoint"] {
            if let Some(value) = f.get(field).and_then(|n| fields::command(r, n, field)) {
                insert(&mut m, field, value);
            }
        }
        if let Some(user) = f.get("user").and_then(|n| r.string(n, "`user`")) {
            insert(&mut m, "user", user);
        }
        for field in ["working_dir", "labels"] {
            if let Some(n) = f.get(field) {
                insert(&mut m, field, verbatim(n));
            }
        }
        let restart = f.get("restart").and_then(|n| fields::restart(r, n));
        if let Some(restart) = &restart {
            insert(&mut m, "restart", restart.as_str());
        }
        for field in AFTER_RESTART {
            let Some(n) = f.get(field) else {
                continue;
            };
            match *field {
                "tmpfs" => insert(&mut m, field, seq(r.strings(n, "`tmpfs`"))),
                "shm_size" => {
                    if let Some(size) = r.string(n, "`shm_size`") {
                        insert(&mut m, field, size);
                    }
                }
                _ => insert(&mut m, field, verbatim(n)),
            }
        }
        if let Some(health) = f
            .get("health_check")
            .and_then(|n| fields::health(r, n, &owner))
        {
            insert(&mut m, "health", health);
        }
        if let Some(n) = f.get("depends_on") {
            let deps = r.strings(n, "`depends_on`");
            if !deps.is_empty() {
                insert(&mut m, "depends_on", seq(deps));
            }
        }
        let gpu_only = fields::resources(r, &f, &mut m, &owner);
        let subdomain = f
            .get("subdomain")
            .and_then(|n| Some((r.string(n, "`subdomain`")?, n.span)));
        if let Some((sub, _)) = &subdomain {
            insert(&mut m, "subdomain", sub.as_str());
        }
        let mut aliases = Vec::new();
        if let Some(n) = f.get("additional_aliases") {
            for item in n.as_seq().unwrap_or_default() {
                if let Some(alias) = r.string(item, "an additional alias") {
                    aliases.push((alias, item.span));
                }
            }
            if n.as_seq().is_none() && !n.is_null() {
                r.bad_shape(n, "`additional_aliases`", "a list");
            }
        }
        draft.set(&["services", &name], Value::Mapping(m));
        if gpu_only {
            draft.comment(
                &["services", &name, "resources"],
                "`gpu: true` without a device reservation: every GPU of the host",
            );
        }
        if restart.as_deref() == Some("no") {
            draft.comment(
                &["services", &name, "restart"],
                "runs once? `job: true` makes the services that depend on it wait until it completes",
            );
        }
        self.names.push(name.clone());
        self.hosts.push((name, Hosts { subdomain, aliases }));
    }
}
