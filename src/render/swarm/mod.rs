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
    // Each environment is a stack of its own: rendered side by side with the base.
    let rendered: Vec<(Vec<GeneratedFile>, script::Plan)> = std::thread::scope(|scope| {
        let layout = &layout;
        let handles: Vec<_> = environments
            .iter()
            .map(|(name, env)| scope.spawn(move || stack_files(env, Some(name), layout)))
            .collect();
        let mut all = vec![stack_files(base, None, layout)];
        all.extend(
            handles
                .into_iter()
                .map(|h| h.join().expect("rendering an environment does not panic")),
        );
        all
    });
    let mut files = Vec::new();
    let mut plans = Vec::new();
    for (stack_files, plan) in rendered {
        files.extend(stack_files);
        plans.push(plan);
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

/// The stack file and phase files of one registry, and its part of `deploy.sh`.
fn stack_files(
    reg: &Registry,
    env: Option<&str>,
    layout: &Layout,
) -> (Vec<GeneratedFile>, script::Plan) {
    let stack = Stack::new(reg, layout);
    let mut files = vec![stack.file(&file_name("stack", env), None)];
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
    let plan = script::Plan {
        environment: env.map(str::to_string),
        phases,
        runtime: stack.uses_runtime,
        configs: reg.enabled_services().any(|s| !s.configs.is_empty()),
    };
    (files, plan)
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

/// One registry as a Swarm stack, as text: each service is written once, and the stack
/// file and the phase files are put together from the same pieces.
struct Stack {
    /// Enabled services in registry order: name and YAML text (an entry of `services:`).
    services: Vec<(String, String)>,
    /// `networks`, `volumes`, `secrets` (when not empty) and the registry's `x-` keys.
    tail: String,
    phases: Vec<PlannedPhase>,
    /// Whether a service reads `.muster/runtime/swarm/` (env files or secrets).
    uses_runtime: bool,
}

impl Stack {
    fn new(reg: &Registry, layout: &Layout) -> Stack {
        let ctx = Context::for_engine(reg, layout, "swarm");
        let values: Mapping = reg
            .enabled_services()
            .map(|s| {
                (
                    Value::String(s.name.value.clone()),
                    service::service(&ctx, s),
                )
            })
            .collect();
        let secrets = crate::render::compose::resources::secrets(&ctx, values.values());
        let uses_runtime = !secrets.is_empty()
            || reg
                .enabled_services()
                .any(|s| s.env.values().any(|e| e.value.holds_secret()));
        let mut w = yaml::Writer::new();
        for (key, map) in [
            ("networks", resources::networks(reg, &values)),
            (
                "volumes",
                crate::render::compose::resources::volumes(reg, layout),
            ),
            ("secrets", secrets),
        ] {
            if !map.is_empty() {
                w.section(key, map.iter());
            }
        }
        for (k, v) in &reg.extensions {
            w.entry(k, &crate::render::compose::verbatim(v));
        }
        let mut tail = w.finish();
        if tail == "{}\n" {
            tail.clear();
        }
        let services = values
            .iter()
            .map(|(k, v)| {
                let name = k.as_str().unwrap_or_default().to_string();
                let mut text = String::new();
                yaml::write_entry(&mut text, &name, v, 2);
                (name, text)
            })
            .collect();
        Stack {
            services,
            tail,
            phases: phases(reg),
            uses_runtime,
        }
    }

    /// A stack file with every service, or only `only`.
    fn file(&self, name: &str, only: Option<&[String]>) -> GeneratedFile {
        let mut out = String::with_capacity(self.tail.len() + 4096);
        out.push_str(&format!("version: \"{VERSION}\"\nservices:"));
        let mut any = false;
        for (service, text) in &self.services {
            if only.is_none_or(|names| names.contains(service)) {
                if !any {
                    out.push('\n');
                    any = true;
                }
                out.push_str(text);
            }
        }
        if !any {
            out.push_str(" {}\n");
        }
        out.push_str(&self.tail);
        GeneratedFile::new(format!("{DIR}/{name}"), Syntax::Hash, out)
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
