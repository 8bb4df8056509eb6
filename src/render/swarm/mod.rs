//! Docker Swarm: a stack file for `docker stack deploy`, and a script that deploys it phase
//! by phase, because Swarm ignores `depends_on`.
//!
//! Files (paths relative to the output folder), for the base registry and for each
//! environment (`.<env>` before `.yml`):
//! - `swarm/stack.yml`: the whole stack, `version: "3.8"`, within the Docker CLI's own 3.x
//!   schema (`docker stack deploy -c stack.yml NAME` deploys everything at once; Swarm's
//!   restarts converge it eventually).
//! - `swarm/phase-<NN>-<phase>.yml`: the services of one phase with every network, volume
//!   and secret of the stack. `deploy.sh` deploys phase N as `-c phase-01… -c phase-N…`, so
//!   each deploy carries every earlier phase unchanged (Swarm leaves unchanged services
//!   alone) and the last one equals `stack.yml`. The files sit next to `stack.yml` because
//!   the Docker CLI resolves relative paths against the folder of the first `-c` file.
//! - `swarm/deploy.sh [ENV]`: see `script.rs`.
//!
//! Choices where REGISTRY.md and the issue leave room:
//! - Services are the Compose services muster writes (`render::compose::service`), so
//!   images, commands, environment, health probes, networks with aliases (route hosts on the
//!   proxy) and mounts mean the same on both; what Swarm ignores or refuses is left out.
//! - Secret-bearing variables come from `.muster/runtime/swarm/<service>.env` (`env_file`,
//!   read by the Docker CLI at deploy time; the values then sit in the service spec, as any
//!   Swarm environment does). Mounted secrets (`secrets:` and `as: file`) are Swarm secrets
//!   with `file: .muster/runtime/swarm/secrets/<name>`: `docker stack deploy` creates them
//!   from the files `muster secrets export swarm` writes. Swarm secrets are immutable: after
//!   `muster secrets rotate`, remove the stack's old secret (`docker secret rm
//!   <stack>_<name>`, which needs the services using it removed or updated first) before
//!   deploying again.
//! - Networks are overlays, attachable (so `docker run --network` can join them for
//!   debugging), `internal` kept; a `network_mode: host` service joins Docker's `host`
//!   network.
//! - Jobs are replicated services that never restart (`restart_policy: none`); `deploy.sh`
//!   waits for their task to complete. Swarm redeploys a service only when its spec changed,
//!   so a job runs again only when its definition changed, as REGISTRY.md asks.
//! - Ports are published in long syntax; a port bound to a loopback address is not
//!   published at all (Swarm cannot bind one address), and says so under `x-muster`.
//! - GPUs are reserved as generic resources (`<DRIVER>-GPU`, which nodes advertise with
//!   `--node-generic-resource`); `gpus: all` has no count to reserve and is noted instead.
//! - Config templates are bind-mounted from `.muster/rendered/<service>/` as on Compose:
//!   the files exist where `muster up` rendered them, so on a cluster of several nodes a
//!   service with `configs` needs `placement` on that node.

mod model;
mod resources;
mod script;
mod service;

use serde_norway::{Mapping, Value};

use crate::generate::{GeneratedFile, Syntax};
use crate::graph::{DepGraph, resolve_selection};
use crate::registry::model::Registry;
use crate::render::compose::paths::Layout;
use crate::render::compose::service::Context;
use crate::render::yaml;

pub use service::{DEPENDS_LABEL, JOB_LABEL, PHASE_LABEL};

/// The folder every Swarm file goes in, relative to the output folder.
const DIR: &str = "swarm";
/// The stack file version: the newest the Docker CLI's schema knows before the Compose
/// specification, accepted by Docker 19.03 and later.
const VERSION: &str = "3.8";

/// Every Swarm file of the base registry and of each environment.
pub fn render(base: &Registry, environments: &[(String, Registry)]) -> Vec<GeneratedFile> {
    let layout = Layout::new(&base.output);
    let mut files = Vec::new();
    let mut plans = Vec::new();
    let stacks = std::iter::once((None, base))
        .chain(environments.iter().map(|(n, r)| (Some(n.as_str()), r)));
    for (env, reg) in stacks {
        let stack = Stack::new(reg, &layout);
        files.push(stack.file(&file_name("stack", env), None));
        let mut phases = Vec::new();
        for (i, phase) in stack.phases.iter().enumerate() {
            let name = file_name(&format!("phase-{:02}-{}", i + 1, phase.name), env);
            files.push(stack.file(&name, Some(&phase.services)));
            phases.push(script::Phase {
                name: phase.name.clone(),
                timeout_secs: phase.timeout.as_secs().max(1),
                file: name,
                services: phase
                    .services
                    .iter()
                    .map(|s| script::Member {
                        name: s.clone(),
                        job: reg.services.get(s).is_some_and(|s| s.job),
                    })
                    .collect(),
            });
        }
        plans.push(script::Plan {
            environment: env.map(str::to_string),
            phases,
            runtime: stack.uses_runtime,
            configs: reg.enabled_services().any(|s| !s.configs.is_empty()),
        });
    }
    let mut deploy = GeneratedFile::new(
        format!("{DIR}/deploy.sh"),
        Syntax::Hash,
        script::render(&base.name.value, &layout.path("."), &plans),
    );
    deploy.executable = true;
    files.push(deploy);
    files
}

fn file_name(stem: &str, env: Option<&str>) -> String {
    match env {
        Some(env) => format!("{stem}.{env}.yml"),
        None => format!("{stem}.yml"),
    }
}

/// One phase of the start plan: its services in start order.
struct PlannedPhase {
    name: String,
    timeout: std::time::Duration,
    services: Vec<String>,
}

/// One registry as a Swarm stack.
struct Stack {
    /// Enabled services, in registry order, as YAML values.
    services: Mapping,
    /// `networks`, `volumes`, `secrets` when not empty.
    resources: Vec<(&'static str, Mapping)>,
    /// `x-` keys of the registry.
    extensions: Mapping,
    phases: Vec<PlannedPhase>,
    /// Whether a service reads `.muster/runtime/swarm/` (env files or secrets).
    uses_runtime: bool,
}

impl Stack {
    fn new(reg: &Registry, layout: &Layout) -> Stack {
        let ctx = Context::for_engine(reg, layout, "swarm");
        let services: Mapping = reg
            .enabled_services()
            .map(|s| {
                (
                    Value::String(s.name.value.clone()),
                    service::service(&ctx, s),
                )
            })
            .collect();
        let secrets = crate::render::compose::resources::secrets(&ctx, services.values());
        let uses_runtime = !secrets.is_empty()
            || reg
                .enabled_services()
                .any(|s| s.env.values().any(|e| e.value.holds_secret()));
        let mut resources = Vec::new();
        for (key, map) in [
            ("networks", resources::networks(reg, &services)),
            (
                "volumes",
                crate::render::compose::resources::volumes(reg, layout),
            ),
            ("secrets", secrets),
        ] {
            if !map.is_empty() {
                resources.push((key, map));
            }
        }
        let extensions = reg
            .extensions
            .iter()
            .map(|(k, v)| {
                (
                    Value::String(k.clone()),
                    crate::render::compose::verbatim(v),
                )
            })
            .collect();
        Stack {
            services,
            resources,
            extensions,
            phases: phases(reg),
            uses_runtime,
        }
    }

    /// A stack file with every service, or only `only`.
    fn file(&self, name: &str, only: Option<&[String]>) -> GeneratedFile {
        let mut w = yaml::Writer::new();
        w.entry("version", &Value::String(VERSION.into()));
        let wanted = |k: &Value| {
            only.is_none_or(|names| k.as_str().is_some_and(|k| names.iter().any(|n| n == k)))
        };
        w.section("services", self.services.iter().filter(|(k, _)| wanted(k)));
        for (key, map) in &self.resources {
            w.entry(key, &Value::Mapping(map.clone()));
        }
        for (key, value) in &self.extensions {
            w.entry(key.as_str().unwrap_or_default(), value);
        }
        GeneratedFile::new(format!("{DIR}/{name}"), Syntax::Hash, w.finish())
    }
}

/// The start plan of every enabled service: phases in order, services in start order.
fn phases(reg: &Registry) -> Vec<PlannedPhase> {
    let Ok(selected) = resolve_selection(reg, &["all".to_string()]) else {
        return Vec::new();
    };
    let graph = DepGraph::new(reg);
    let closure = graph.closure(&selected, &std::collections::HashSet::new());
    // `all` pulls in no disabled service unless one is required; a disabled service has no
    // stack entry, so it is left out of the plan too (`check` reports the requirement).
    graph
        .plan(&closure)
        .phases
        .into_iter()
        .map(|p| PlannedPhase {
            services: p
                .services
                .into_iter()
                .filter(|s| reg.services.get(s).is_some_and(|s| s.enabled))
                .collect(),
            name: p.name,
            timeout: p.timeout,
        })
        .filter(|p| !p.services.is_empty())
        .collect()
}

#[cfg(test)]
mod tests;
