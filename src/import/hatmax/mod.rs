//! `muster import hatmax`: a hatmax project's `hatmax.yml` as a `muster.yaml`.
//!
//! hatmax generates Go services and, for each, a Nomad job: the service's binary run by the
//! `exec` driver from `services/<name>`, a static port, a Consul service with an HTTP check,
//! Traefik router tags and the Consul tags the file lists. Only the deployment half of
//! `hatmax.yml` maps to muster; what describes the generated code (models, handlers,
//! repositories) is reported and left out. The project targets Nomad, with hatmax's
//! datacenter, Consul address and Traefik entry point as `engines.nomad` settings.

mod resources;
mod rule;
mod service;

use std::path::Path;
use std::sync::Arc;

use serde_norway::Value;

use super::reader::{Reader, key_text, seq};
use super::{Draft, Imported, relocate};
use crate::diagnostic::{Code, Diagnostic};
use crate::registry::yaml::{self, Node};
use crate::source::SourceFile;

/// Keys that describe the code hatmax generates, not how it is deployed.
const CODE: &[&str] = &[
    "package",
    "kind",
    "preset",
    "repo_impl",
    "auth",
    "models",
    "aggregates",
    "api",
];

/// The help of a warning about such keys.
const CODE_HELP: &str = "it describes the code hatmax generates, not how it is deployed";

/// Imports one `hatmax.yml` for a registry written in `registry_dir`.
pub fn import(file: Arc<SourceFile>, registry_dir: &Path) -> Imported {
    let mut r = Reader::new(file);
    let mut draft = Draft::new();
    if let Some(root) = r.parse() {
        let from = relocate::normal(r.file.path.parent().unwrap_or(Path::new(".")));
        let dirs = (from, relocate::normal(registry_dir));
        map_root(&mut r, &mut draft, &root, &dirs);
    }
    Imported {
        draft,
        findings: r.into_findings(),
    }
}

fn map_root(
    r: &mut Reader,
    draft: &mut Draft,
    root: &Node,
    dirs: &(std::path::PathBuf, std::path::PathBuf),
) {
    draft.header(format!(
        "Imported from {} by `muster import hatmax`.",
        r.file.name
    ));
    draft.header(
        "Each service runs as hatmax deploys it: its binary from services/<name> by Nomad's `exec` driver\n\
         (`extra.nomad.task`), so it needs no image; hatmax's generated config file and `env` are not imported.",
    );
    draft.set(&["version"], 1);
    draft.set(&["defaults", "restart"], "unless-stopped");
    draft.comment(
        &["defaults", "restart"],
        "hatmax's jobs keep Nomad's default: a service task that stops is started again",
    );
    let mut services = None;
    let mut code = Vec::new();
    for (key, value) in r.entries(root, "`hatmax.yml`") {
        match key.as_str() {
            Some("version") => {}
            Some("name") => {
                if let Some(name) = r.string(value, "`name`") {
                    draft.set(&["name"], name);
                }
            }
            Some("deployment") => deployment(r, draft, value),
            Some("services") => services = Some(value),
            Some(k) if CODE.contains(&k) => code.push(key),
            _ => r.unmapped(key, "`hatmax.yml`", ""),
        }
    }
    code_keys(r, &code, "`hatmax.yml`");
    let entries = services.map(|s| r.entries(s, "`services`")).unwrap_or(&[]);
    if entries.is_empty() {
        r.push(
            Diagnostic::new(
                Code::ImportNothing,
                format!("{} defines no services", r.file.name),
            )
            .at(services.map_or(root.span, |s| s.span), "no services here")
            .help("a hatmax project lists its services under `services:`"),
        );
        return;
    }
    for (key, def) in entries {
        service::map(r, draft, key, def, dirs);
    }
}

/// One warning for the keys of `owner` that describe generated code.
pub fn code_keys(r: &mut Reader, keys: &[&Node], owner: &str) {
    let Some(first) = keys.first() else {
        return;
    };
    let names: Vec<String> = keys.iter().map(|k| format!("`{}`", key_text(k))).collect();
    r.push(
        Diagnostic::new(
            Code::ImportUnmapped,
            format!(
                "{} of {owner} {} no place in muster.yaml; left out",
                names.join(", "),
                if names.len() == 1 { "has" } else { "have" }
            ),
        )
        .at(first.span, "not imported")
        .help(CODE_HELP),
    );
}

/// `deployment`: the target platforms, the Nomad settings and the infrastructure.
fn deployment(r: &mut Reader, draft: &mut Draft, node: &Node) {
    for (key, value) in r.entries(node, "`deployment`") {
        match key.as_str() {
            Some("platforms") => platforms(r, draft, value),
            Some("nomad") => nomad(r, draft, value),
            Some("infrastructure") => infrastructure(r, draft, value),
            _ => r.unmapped(key, "`deployment`", ""),
        }
    }
}

fn platforms(r: &mut Reader, draft: &mut Draft, node: &Node) {
    let mut targets = Vec::new();
    for item in node.as_seq().unwrap_or_default() {
        let Some(platform) = r.string(item, "a platform") else {
            continue;
        };
        match platform.as_str() {
            "nomad" | "kubernetes" | "swarm" | "compose" => targets.push(platform),
            "k8s" => targets.push("kubernetes".into()),
            "docker" | "docker-compose" => targets.push("compose".into()),
            _ => r.push(
                Diagnostic::new(
                    Code::ImportUnmapped,
                    format!("the platform `{platform}` is not an engine muster generates for"),
                )
                .at(item.span, "not imported")
                .help("muster targets compose, swarm, kubernetes and nomad"),
            ),
        }
    }
    if node.as_seq().is_none() {
        r.bad_shape(node, "`platforms`", "a list");
    }
    if !targets.is_empty() {
        draft.set(&["targets"], seq(targets));
    }
}

/// `deployment.nomad`: datacenter, integrations and default resources.
fn nomad(r: &mut Reader, draft: &mut Draft, node: &Node) {
    for (key, value) in r.entries(node, "`deployment.nomad`") {
        match key.as_str() {
            Some("datacenter") => {
                if let Some(dc) = r.string(value, "`datacenter`") {
                    draft.set(&["engines", "nomad", "datacenters"], seq([dc]));
                }
            }
            Some("consul_integration" | "traefik_integration") => {
                if !matches!(value.value, yaml::Value::Bool(true)) {
                    r.push(
                        Diagnostic::new(
                            Code::ImportUnmapped,
                            format!("`{}` other than `true` cannot be imported", key_text(key)),
                        )
                        .at(value.span, "not imported")
                        .help("muster's Nomad jobs always register in Consul, with Traefik tags for routes"),
                    );
                }
            }
            Some("default_resources") => {
                if let Some(res) = resources::map(r, value, "`default_resources`") {
                    draft.set(&["defaults", "resources"], res);
                    resources::declare_mhz(draft);
                }
            }
            _ => r.unmapped(key, "`deployment.nomad`", ""),
        }
    }
}

/// `deployment.infrastructure`: Consul's address and Traefik's entry point and domain.
fn infrastructure(r: &mut Reader, draft: &mut Draft, node: &Node) {
    for (key, value) in r.entries(node, "`deployment.infrastructure`") {
        let part = key_text(key);
        if part != "consul" && part != "traefik" {
            r.unmapped(key, "`deployment.infrastructure`", "");
            continue;
        }
        let owner = format!("`infrastructure.{part}`");
        for (k, v) in r.entries(value, &owner) {
            match (part.as_str(), key_text(k).as_str()) {
                (_, "enabled") => {
                    if !matches!(v.value, yaml::Value::Bool(true)) {
                        r.push(
                            Diagnostic::new(
                                Code::ImportUnmapped,
                                format!("{owner} is not enabled, which muster cannot express"),
                            )
                            .at(v.span, "not imported")
                            .help("muster's Nomad files always include Consul and Traefik"),
                        );
                    }
                }
                ("consul", "address") => {
                    if let Some(address) = r.string(v, "`address`") {
                        draft.set(&["engines", "nomad", "consul"], address);
                    }
                }
                ("traefik", "entrypoint") => {
                    if let Some(entrypoint) = r.string(v, "`entrypoint`") {
                        draft.set(&["engines", "nomad", "entrypoint"], entrypoint);
                    }
                }
                ("traefik", "domain") => {
                    if let Some(domain) = r.string(v, "`domain`") {
                        r.push(
                            Diagnostic::new(
                                Code::ImportApproximated,
                                "hatmax's Traefik rules without `Host` match any host; muster's routes without a host match the stack's `domain`",
                            )
                            .at(v.span, "becomes `domain`")
                            .help(format!("each such rule gains Host(`{domain}`); give a route its own `host` to change that")),
                        );
                        draft.set(&["domain"], Value::String(domain));
                    }
                }
                _ => r.unmapped(k, &owner, ""),
            }
        }
    }
}

#[cfg(test)]
mod tests;
