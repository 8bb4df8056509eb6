//! Nomad files: one job per enabled service, registered in Consul and routed by Traefik, plus
//! what the jobs stand on and the scripts that deploy them in phase order.
//!
//! Files (paths relative to the output folder):
//! - `nomad/jobs/<service>.nomad.hcl`: job `<stack>-<service>`: type `service` (`batch` for
//!   `job: true`, `system` for `mode: global`), one group of `replicas` copies with static
//!   ports equal to the container ports, a Consul `service` (registry tags plus Traefik
//!   router tags, a check from `health` with interval and timeout), one task (Docker driver
//!   unless `extra.nomad.task.driver` names another), and `meta` recording phase and
//!   dependencies (see [`job::keys`]).
//! - `nomad/infra/consul.hcl`, `nomad/infra/traefik.nomad.hcl`: a Consul agent and a Traefik
//!   system job reading the Consul catalog.
//! - `nomad/policies/<service>.policy.hcl`: read access to the job's own Nomad variable.
//! - `nomad/scripts/deploy.sh`, `nomad/scripts/health-check.sh` (see [`scripts`]).
//!
//! Choices where REGISTRY.md is silent:
//! - Environments: `nomad/environments/<env>/` holds the files an environment changes or
//!   adds (a job with other replicas, a service only it has) and complete scripts for it,
//!   which use those files and the base's for the rest.
//! - Variables stay variables (see [`expr`]); secrets come from Nomad Variables at the path
//!   `muster secrets export nomad` writes (see [`task`]).
//! - `restart` unset means "no", as on Compose: the group neither restarts nor reschedules.
//! - `health: image` has no Consul check (Nomad does not read Docker's HEALTHCHECK);
//!   deployments then count a running task as healthy. An `http` check's `expect` is not
//!   expressible: Consul passes any 2xx.
//! - A route's `auth` names a Traefik middleware `<auth>@consulcatalog`, which the auth
//!   service declares through its own `tags`.
//! - Not carried over: `env_files` and `configs` (both rendered on the machine running
//!   muster), `aliases`, `networks` (Nomad tasks reach each other through Consul), published
//!   host ports that differ from the container port, a GPU count of `all`.
//! - A service with only `build:` runs the image Compose would build, `<stack>-<service>`.
//!
//! Everything is built as `hcl` blocks and written by its formatter, which escapes strings;
//! `extra.nomad` merges in last (see [`extra`]).

mod consul;
mod expr;
mod extra;
mod infra;
pub mod job;
mod ports;
mod scripts;
mod task;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::generate::{GeneratedFile, Syntax};
use crate::registry::model::Registry;

/// The folder every Nomad file goes in, relative to the output folder.
const DIR: &str = "nomad";
/// The datacenter of a Nomad agent that names none.
const DEFAULT_DATACENTER: &str = "dc1";
/// Nomad's namespace when `engines.nomad.namespace` names none.
const DEFAULT_NAMESPACE: &str = "default";
/// Traefik's entry point for routes that name none, when `engines.nomad.entrypoint` is unset.
const DEFAULT_ENTRYPOINT: &str = "web";
/// MHz per CPU when `engines.nomad.mhz_per_cpu` is unset.
const DEFAULT_MHZ_PER_CPU: u32 = 1000;

/// What every file of one registry shares.
pub struct Context<'r> {
    pub reg: &'r Registry,
    pub datacenters: Vec<String>,
    pub mhz_per_cpu: u32,
    pub entrypoint: String,
}

impl<'r> Context<'r> {
    pub fn new(reg: &'r Registry) -> Context<'r> {
        let nomad = &reg.engines.nomad;
        let datacenters = if nomad.datacenters.is_empty() {
            vec![DEFAULT_DATACENTER.to_string()]
        } else {
            nomad.datacenters.clone()
        };
        Context {
            reg,
            datacenters,
            mhz_per_cpu: nomad.mhz_per_cpu.unwrap_or(DEFAULT_MHZ_PER_CPU),
            entrypoint: nomad
                .entrypoint
                .clone()
                .unwrap_or_else(|| DEFAULT_ENTRYPOINT.to_string()),
        }
    }

    /// The job ID of a service: the stack name is the prefix (REGISTRY.md `name`).
    pub fn job_id(&self, service: &str) -> String {
        format!("{}-{service}", self.reg.name.value)
    }

    /// The Nomad variable holding a service's secrets, as `muster secrets export nomad`
    /// writes it.
    pub fn variables_path(&self, service: &str) -> String {
        format!("nomad/jobs/{}/{service}", self.reg.name.value)
    }

    pub fn namespace(&self) -> String {
        self.reg
            .engines
            .nomad
            .namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
    }

    /// From a folder `depth` levels below `<output>/nomad/` back to the registry folder
    /// (`../../../` for `scripts/` and the default `output: deploy`); None when `output` is
    /// absolute or leaves the registry folder.
    pub fn back_to_registry(&self, depth: usize) -> Option<String> {
        let output = &self.reg.output;
        if output.starts_with('/') {
            return None;
        }
        let mut levels: usize = depth;
        for part in output.split('/') {
            match part {
                "" | "." => {}
                ".." => levels = levels.checked_sub(1).filter(|l| *l >= depth)?,
                _ => levels += 1,
            }
        }
        Some(vec![".."; levels].join("/"))
    }
}

/// All Nomad files, paths relative to the output folder (`nomad/...`): the base registry's,
/// then, per environment, the files it changes or adds under `nomad/environments/<env>/` and
/// that environment's scripts, which take each file from there when it exists, else from
/// the base.
pub fn render(base: &Registry, environments: &[(String, Registry)]) -> Vec<GeneratedFile> {
    let mut files = files_of(base, None);
    let bodies: HashMap<PathBuf, String> = files
        .iter()
        .map(|f| (f.path.clone(), f.body.clone()))
        .collect();
    for (name, env) in environments {
        let prefix = format!("{DIR}/environments/{name}/");
        for file in files_of(env, Some(name)) {
            let relative = file
                .path
                .strip_prefix(DIR)
                .unwrap_or(&file.path)
                .to_path_buf();
            let same = bodies.get(&file.path) == Some(&file.body);
            let script = relative.starts_with("scripts");
            if script || !same {
                files.push(GeneratedFile {
                    path: Path::new(&prefix).join(relative),
                    ..file
                });
            }
        }
    }
    files
}

/// The files of one registry, paths as for the base (`nomad/...`); `environment` names the
/// environment whose scripts these are.
fn files_of(reg: &Registry, environment: Option<&str>) -> Vec<GeneratedFile> {
    let ctx = Context::new(reg);
    let mut files = Vec::new();
    let mut variables = BTreeSet::new();
    for s in reg.enabled_services() {
        let (body, vars) = job::file(&ctx, s);
        variables.extend(vars.names().map(str::to_string));
        files.push(hcl_file(&format!("jobs/{}.nomad.hcl", s.name.value), &body));
    }
    for s in reg.enabled_services() {
        files.push(hcl_file(
            &format!("policies/{}.policy.hcl", s.name.value),
            &infra::policy(&ctx, s),
        ));
    }
    files.push(hcl_file("infra/consul.hcl", &infra::consul(&ctx)));
    files.push(hcl_file("infra/traefik.nomad.hcl", &infra::traefik(&ctx)));
    let variables: Vec<String> = variables.into_iter().collect();
    files.push(script(
        "deploy.sh",
        scripts::deploy(&ctx, environment, &variables),
    ));
    files.push(script(
        "health-check.sh",
        scripts::health_check(&ctx, environment),
    ));
    files
}

fn hcl_file(path: &str, body: &hcl::Body) -> GeneratedFile {
    // The formatter fails only on I/O errors of its writer, which a String has none of.
    let text = hcl::format::to_string(body).unwrap_or_default();
    GeneratedFile::new(format!("{DIR}/{path}"), Syntax::Hash, text)
}

fn script(name: &str, body: String) -> GeneratedFile {
    let mut file = GeneratedFile::new(format!("{DIR}/scripts/{name}"), Syntax::Hash, body);
    file.executable = true;
    file
}

#[cfg(test)]
mod tests;
