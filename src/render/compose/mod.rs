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
//!   file for `-f docker-compose.yml -f environments/<env>.yml` (see [`overrides`]).
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
//! - `http` and `tcp` checks become shell probes ([`probe`]), explained under `x-muster`
//!   (Compose ignores `x-` keys; YAML comments are the writer's business).
//! - `placement`, `tags`, `critical`, `phase` and `description` have no Compose meaning here:
//!   `muster up` reads them from the registry.
//!
//! Everything is built as typed data ([`model`]), turned into `serde_norway` values (where
//! `extra.compose` and `x-` keys merge in), and written by [`yaml`], which quotes for YAML 1.1
//! readers too.

mod model;
mod overrides;
pub mod paths;
mod probe;
mod profiles;
mod resources;
mod service;
pub mod yaml;

use indexmap::IndexMap;
use serde_norway::{Mapping, Value};

use crate::generate::{GeneratedFile, Syntax};
use crate::registry::model::{Registry, Verbatim};
use crate::registry::values::parse_template;

use paths::Layout;
use service::Context;

/// The folder every Compose file goes in, relative to the output folder.
const DIR: &str = "compose";
/// The category of a service with neither `category` nor `phase`.
const DEFAULT_CATEGORY: &str = "services";

/// All Compose files, paths relative to the output folder (`compose/...`).
pub fn render(base: &Registry, environments: &[(String, Registry)]) -> Vec<GeneratedFile> {
    let layout = Layout::new(&base.output);
    let base_doc = Project::new(base, &layout);
    let mut files = Vec::new();

    let mut include: Vec<String> = Vec::new();
    let core = base_doc.resources();
    if !core.is_empty() {
        include.push("core/networks.yml".into());
        files.push(file("core/networks.yml", core));
    }
    for (category, services) in base_doc.categories() {
        let path = format!("{category}.yml");
        let mut doc = Mapping::new();
        doc.insert("services".into(), Value::Mapping(services));
        files.push(file(&path, doc));
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
    orchestrator.extend(base_doc.extensions.clone());
    files.push(file("docker-compose.yml", orchestrator));
    files.push(file("stack.yml", base_doc.flat()));

    let base_full = base_doc.full();
    for (name, env) in environments {
        let doc = Project::new(env, &layout);
        files.push(file(&format!("stack.{name}.yml"), doc.flat()));
        let changes = overrides::diff(&base_full, &doc.full());
        files.push(file(&format!("environments/{name}.yml"), changes));
    }
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
        Ok(t) => t.render(&|h: &str| h.to_string(), &|_: &str| String::new()),
        // `check` reports a malformed placeholder; keep the text rather than guess.
        Err(_) => s.to_string(),
    }
}

/// Verbatim registry data (`extra.compose`, `x-` keys) as a YAML value.
fn verbatim(v: &Verbatim) -> Value {
    serde_norway::to_value(v).expect("JSON values serialize")
}

/// One registry as a Compose project.
struct Project {
    /// Enabled services in registry order: name, category, the Compose v2 form.
    services: Vec<(String, String, Value)>,
    networks: Mapping,
    volumes: Mapping,
    secrets: Mapping,
    extensions: Mapping,
}

impl Project {
    fn new(reg: &Registry, layout: &Layout) -> Project {
        let ctx = Context::new(reg, layout);
        let services: Vec<(String, String, Value)> = reg
            .enabled_services()
            .map(|s| {
                let category = s
                    .category
                    .as_ref()
                    .or(s.phase.as_ref())
                    .map(|c| c.value.clone())
                    .unwrap_or_else(|| DEFAULT_CATEGORY.to_string());
                (s.name.value.clone(), category, service::service(&ctx, s))
            })
            .collect();
        let values: Vec<Value> = services.iter().map(|(_, _, v)| v.clone()).collect();
        Project {
            networks: resources::networks(reg),
            volumes: resources::volumes(reg, layout),
            secrets: resources::secrets(&ctx, &values),
            extensions: reg
                .extensions
                .iter()
                .map(|(k, v)| (Value::String(k.clone()), verbatim(v)))
                .collect(),
            services,
        }
    }

    /// Networks, volumes and secrets, each left out when empty.
    fn resources(&self) -> Mapping {
        let mut doc = Mapping::new();
        for (key, map) in [
            ("networks", &self.networks),
            ("volumes", &self.volumes),
            ("secrets", &self.secrets),
        ] {
            if !map.is_empty() {
                doc.insert(key.into(), Value::Mapping(map.clone()));
            }
        }
        doc
    }

    /// Services by category, categories in the order their first service appears.
    fn categories(&self) -> IndexMap<&str, Mapping> {
        let mut out: IndexMap<&str, Mapping> = IndexMap::new();
        for (name, category, value) in &self.services {
            out.entry(category.as_str())
                .or_default()
                .insert(Value::String(name.clone()), value.clone());
        }
        out
    }

    /// The whole project as Compose v2 sees it after `include` (the base of overrides).
    fn full(&self) -> Mapping {
        let mut doc = Mapping::new();
        let services = self
            .services
            .iter()
            .map(|(name, _, v)| (Value::String(name.clone()), v.clone()))
            .collect();
        doc.insert("services".into(), Value::Mapping(services));
        doc.extend(self.resources());
        doc.extend(self.extensions.clone());
        doc
    }

    /// The flat file, for Compose v1 and v2.
    fn flat(&self) -> Mapping {
        let mut doc = self.full();
        if let Some(Value::Mapping(services)) = doc.get_mut("services") {
            for service in services.values_mut() {
                for_compose_v1(service);
            }
        }
        doc
    }
}

/// Leaves out what Compose v1 (1.29) refuses: optional dependencies (`required: false`) and
/// the `name` and `app_protocol` of long-syntax ports, which only label a port.
fn for_compose_v1(service: &mut Value) {
    let Value::Mapping(service) = service else {
        return;
    };
    if let Some(Value::Mapping(deps)) = service.get_mut("depends_on") {
        deps.retain(|_, d| d.get("required") != Some(&Value::Bool(false)));
        if deps.is_empty() {
            service.shift_remove("depends_on");
        }
    }
    if let Some(Value::Sequence(ports)) = service.get_mut("ports") {
        for port in ports {
            if let Value::Mapping(long) = port {
                long.shift_remove("name");
                long.shift_remove("app_protocol");
            }
        }
    }
}

#[cfg(test)]
mod tests;
