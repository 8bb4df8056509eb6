//! Docker Compose files: the registry as a Compose project, split by category for Compose
//! v2, flat for both Compose v1 and v2, and per environment.
//!
//! Files (paths relative to the output folder):
//! - `compose/docker-compose.yml`: the Compose v2 entry point: `name:` and `include:` of the
//!   files below, each with `project_directory: .`, so every file resolves relative paths
//!   against `compose/`, as `stack.yml` does.
//! - `compose/core/networks.yml`: networks, volumes and the secrets services mount.
//! - `compose/<category>.yml`: the services of a category (`category`, else the phase, else
//!   `services`; `/` makes folders).
//! - `compose/environments/<env>.yml`: what an environment changes, as a Compose v2 override
//!   file for `-f docker-compose.yml -f environments/<env>.yml` (see `overrides.rs`).
//! - `compose/stack.yml`, `compose/stack.<env>.yml`: everything in one file, with no `name:`
//!   (muster passes `-p`), no `include:` and no tags, so Compose v1 (1.29) reads it too.
//!
//! Choices where REGISTRY.md is silent:
//! - Optional dependencies are written as `depends_on: { X: { required: false } }` in the
//!   Compose v2 files: Compose starts X first when it is enabled and ignores it when it is
//!   not, which is what "used when present, never pulled in" means. Compose v1 knows no
//!   `required`, and would refuse (or start) a dependency whose profile is off, so the flat
//!   files leave optional dependencies out; `muster up` orders them itself. The flat files
//!   also leave out the `name` and `app_protocol` of a port (labels Compose v1 refuses).
//! - Secret values never appear: a variable whose value holds a secret is left out of
//!   `environment` and the service reads `../../.muster/runtime/compose/<service>.env`
//!   (written by `muster secrets export compose`) with `env_file`; the service's `x-muster`
//!   key names the variables. Secret files are Compose secrets read from
//!   `.muster/runtime/compose/secrets/<name>`, config templates are mounted read-only from
//!   `.muster/rendered/<service>/<template file name>` (see [`paths`]).
//! - A string `command` or `entrypoint` is passed as a string: Compose splits it into words
//!   (REGISTRY.md is silent, so Compose's meaning holds). A string health check is
//!   `CMD-SHELL`, as REGISTRY.md says.
//! - `http` and `tcp` checks become shell probes (`probe.rs`), explained under `x-muster`
//!   (Compose ignores `x-` keys; YAML comments are the writer's business).
//! - Profiles follow REGISTRY.md "Groups on Compose", plus one rule it leaves open: a grouped
//!   service that a core service requires is core as well (see `profiles.rs`).
//! - Route hosts become aliases of the proxy on every network it joins (its `default` network
//!   when it joins none); a service with `network_mode` cannot carry aliases.
//! - With an `output` outside the registry folder (absolute, or through `..`), the way back
//!   cannot be known without the disk: relative paths are written as the registry has them.
//! - `placement`, `tags`, `critical`, `phase` and `description` have no Compose meaning here
//!   (`muster up` reads them from the registry); a volume's `size` and `access` are for the
//!   cluster engines.
//!
//! Everything is built as typed data (`model.rs`), turned into `serde_norway` values (where
//! `extra.compose` and `x-` keys merge in), and written by [`yaml`](crate::render::yaml), which quotes for YAML 1.1
//! readers too.

pub(crate) mod model;
mod overrides;
pub mod paths;
pub(crate) mod probe;
mod profiles;
pub(crate) mod resources;
pub(crate) mod service;

use std::borrow::Cow;

use indexmap::IndexSet;
use serde_norway::{Mapping, Value};

use crate::generate::{GeneratedFile, Syntax};
use crate::registry::model::{Registry, Verbatim};
use crate::registry::values::{Template, parse_template};

use crate::render::yaml;
use paths::Layout;
use service::Context;

/// The folder every Compose file goes in, relative to the output folder.
const DIR: &str = "compose";
/// The category of a service with neither `category` nor `phase`.
const DEFAULT_CATEGORY: &str = "services";

/// All Compose files, paths relative to the output folder (`compose/...`).
pub fn render(base: &Registry, environments: &[(String, Registry)]) -> Vec<GeneratedFile> {
    let layout = Layout::new(&base.output);
    // Each environment is a whole project of its own: built side by side with the base.
    let (project, per_environment) = std::thread::scope(|scope| {
        let layout = &layout;
        let handles: Vec<_> = environments
            .iter()
            .map(|(name, env)| scope.spawn(move || (name, Project::new(env, layout))))
            .collect();
        let project = Project::new(base, layout);
        let envs: Vec<(&String, Project)> = handles
            .into_iter()
            .map(|h| h.join().expect("rendering an environment does not panic"))
            .collect();
        (project, envs)
    });
    let mut files = Vec::new();

    let mut include: Vec<String> = Vec::new();
    let resources: Mapping = project
        .doc
        .iter()
        .filter(|(k, _)| RESOURCES.iter().any(|r| *k == *r))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !resources.is_empty() {
        include.push("core/networks.yml".into());
        files.push(file("core/networks.yml", resources));
    }
    for category in project.categories.iter().collect::<IndexSet<_>>() {
        let mut w = yaml::Writer::new();
        let services = project.services().iter().zip(&project.categories);
        w.section(
            "services",
            services.filter(|(_, c)| *c == category).map(|(s, _)| s),
        );
        let path = format!("{category}.yml");
        files.push(GeneratedFile::new(
            format!("{DIR}/{path}"),
            Syntax::Hash,
            w.finish(),
        ));
        include.push(path);
    }
    let mut orchestrator = Mapping::new();
    orchestrator.insert("name".into(), Value::String(base.name.value.clone()));
    let include: Vec<Value> = include
        .into_iter()
        .map(|path| {
            let mut entry = Mapping::new();
            entry.insert("path".into(), Value::String(path));
            entry.insert("project_directory".into(), ".".into());
            Value::Mapping(entry)
        })
        .collect();
    orchestrator.insert("include".into(), Value::Sequence(include));
    orchestrator.extend(
        project
            .doc
            .iter()
            .filter(|(k, _)| k.as_str().is_some_and(|k| k.starts_with("x-")))
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    files.push(file("docker-compose.yml", orchestrator));
    files.push(project.flat("stack.yml"));

    let project = &project;
    let env_files: Vec<[GeneratedFile; 2]> = std::thread::scope(|scope| {
        let handles: Vec<_> = per_environment
            .iter()
            .map(|(name, env_project)| {
                scope.spawn(move || {
                    let changes = overrides::diff(&project.doc, &env_project.doc);
                    [
                        env_project.flat(&format!("stack.{name}.yml")),
                        file(&format!("environments/{name}.yml"), changes),
                    ]
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("rendering an environment does not panic"))
            .collect()
    });
    files.extend(env_files.into_iter().flatten());
    files
}

fn file(path: &str, doc: Mapping) -> GeneratedFile {
    GeneratedFile::new(
        format!("{DIR}/{path}"),
        Syntax::Hash,
        yaml::to_string(&Value::Mapping(doc)),
    )
}

/// A registry string as Compose text: `${VAR}` references kept, `${host:NAME}` as `NAME`,
/// a literal `$` as `$$`.
pub(crate) fn text(s: &str) -> String {
    if !s.contains('$') {
        return s.to_string();
    }
    match parse_template(s) {
        Ok(t) => template_text(&t),
        // `check` reports a malformed placeholder; keep the text rather than guess.
        Err(_) => s.to_string(),
    }
}

/// A parsed registry string as Compose text (see [`text`]). Secrets never get here: callers
/// keep secret-bearing values out of files, and `check` refuses `${secret:...}` elsewhere.
pub(crate) fn template_text(t: &Template) -> String {
    t.render(&|h: &str| h.to_string(), &|_: &str| String::new())
}

/// Verbatim registry data (`extra.compose`, `x-` keys) as a YAML value.
pub(crate) fn verbatim(v: &Verbatim) -> Value {
    serde_norway::to_value(v).expect("JSON values serialize")
}

/// The top-level keys that `core/networks.yml` holds.
const RESOURCES: [&str; 3] = ["networks", "volumes", "secrets"];

/// One registry as a Compose project.
struct Project {
    /// The project as Compose v2 sees it after `include`: `services` (enabled ones, in
    /// registry order, optional dependencies included), then networks, volumes and secrets
    /// when there are any, then `x-` keys. The base of override files.
    doc: Mapping,
    /// The category of each service, in the order of `services`.
    categories: Vec<String>,
}

impl Project {
    fn new(reg: &Registry, layout: &Layout) -> Project {
        let ctx = Context::new(reg, layout);
        let mut services = Mapping::new();
        let mut categories = Vec::new();
        for s in reg.enabled_services() {
            let category = s.category.as_ref().or(s.phase.as_ref());
            categories.push(
                category
                    .map_or(DEFAULT_CATEGORY, |c| c.value.as_str())
                    .to_string(),
            );
            services.insert(
                Value::String(s.name.value.clone()),
                service::service(&ctx, s),
            );
        }
        let secrets = resources::secrets(&ctx, services.values());
        let mut doc = Mapping::new();
        doc.insert("services".into(), Value::Mapping(services));
        for (key, map) in [
            ("networks", resources::networks(reg)),
            ("volumes", resources::volumes(reg, layout)),
            ("secrets", secrets),
        ] {
            if !map.is_empty() {
                doc.insert(key.into(), Value::Mapping(map));
            }
        }
        doc.extend(
            reg.extensions
                .iter()
                .map(|(k, v)| (Value::String(k.clone()), verbatim(v))),
        );
        Project { doc, categories }
    }

    fn services(&self) -> &Mapping {
        match self.doc.get("services") {
            Some(Value::Mapping(m)) => m,
            _ => unreachable!("a project always has services"),
        }
    }

    /// The flat file, for Compose v1 and v2: no top-level `name`, and each service without
    /// what Compose v1 refuses (copied only where that changes something).
    fn flat(&self, path: &str) -> GeneratedFile {
        let mut w = yaml::Writer::new();
        let services: Vec<(&Value, Fields)> = self
            .services()
            .iter()
            .map(|(k, v)| (k, for_compose_v1(v)))
            .collect();
        w.section_of_mappings(
            "services",
            services
                .iter()
                .map(|(k, fields)| (*k, fields.iter().map(|(f, v)| (*f, v.as_ref())))),
        );
        for (key, value) in self.doc.iter().skip(1) {
            w.entry(key.as_str().unwrap_or_default(), value);
        }
        GeneratedFile::new(format!("{DIR}/{path}"), Syntax::Hash, w.finish())
    }
}

/// A service's fields, each borrowed or, where it had to change, copied.
type Fields<'a> = Vec<(&'a Value, Cow<'a, Value>)>;

/// The fields of a service without what Compose v1 (1.29) refuses: optional dependencies
/// (`required: false`) and the `name` and `app_protocol` of long-syntax ports, which only
/// label a port. Only the fields that change are copied.
fn for_compose_v1(service: &Value) -> Fields<'_> {
    let Value::Mapping(fields) = service else {
        unreachable!("a service is a mapping")
    };
    let optional = |d: &Value| d.get("required") == Some(&Value::Bool(false));
    let labelled_port = |p: &Value| p.get("name").is_some() || p.get("app_protocol").is_some();
    fields
        .iter()
        .filter_map(|(key, value)| {
            let value = match (key.as_str(), value) {
                (Some("depends_on"), Value::Mapping(deps)) if deps.values().any(optional) => {
                    let mut deps = deps.clone();
                    deps.retain(|_, d| !optional(d));
                    if deps.is_empty() {
                        return None;
                    }
                    Cow::Owned(Value::Mapping(deps))
                }
                (Some("ports"), Value::Sequence(ports)) if ports.iter().any(labelled_port) => {
                    let mut ports = ports.clone();
                    for port in ports.iter_mut().filter_map(Value::as_mapping_mut) {
                        port.shift_remove("name");
                        port.shift_remove("app_protocol");
                    }
                    Cow::Owned(Value::Sequence(ports))
                }
                _ => Cow::Borrowed(value),
            };
            Some((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests;
