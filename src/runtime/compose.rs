//! The user's Compose CLI: `docker compose` (v2) when the Docker CLI has it, else
//! `docker-compose` (v1); `MUSTER_COMPOSE` overrides both (e.g. `podman-compose`).
//! muster only asks it to create containers: starting and waiting are done through the
//! Engine API, where events are.
//!
//! Compose v1's `up --no-start` still checks `depends_on` conditions between the services it
//! is given: `service_completed_successfully` on a job that nothing starts never comes true,
//! so it would wait forever. With v1 the services that wait for a planned job are created by
//! a later call than the job (see [`creation_batches`]); `create` is no way out, as it does
//! not make the project's networks.

use std::path::{Path, PathBuf};
use std::process::Stdio;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeCli {
    /// The program and its leading arguments (`["docker", "compose"]`).
    pub argv: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `docker-compose` 1.x (Python).
    V1,
    /// `docker compose` and anything else that speaks its language.
    V2,
}

/// What Compose is asked to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpRequest {
    pub project: String,
    pub files: Vec<PathBuf>,
    pub env_file: Option<PathBuf>,
    pub profiles: Vec<String>,
    pub services: Vec<String>,
}

#[derive(Debug)]
pub struct Ran {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ComposeCli {
    /// Finds the Compose CLI to use.
    pub fn find() -> Result<ComposeCli, String> {
        if let Ok(value) = std::env::var("MUSTER_COMPOSE") {
            let argv: Vec<String> = value.split_whitespace().map(String::from).collect();
            if !argv.is_empty() {
                return Ok(ComposeCli { argv });
            }
        }
        let v2 = std::process::Command::new("docker")
            .args(["compose", "version"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if v2 {
            return Ok(ComposeCli {
                argv: vec!["docker".into(), "compose".into()],
            });
        }
        if find_in_path("docker-compose").is_some() {
            return Ok(ComposeCli {
                argv: vec!["docker-compose".into()],
            });
        }
        Err("found neither `docker compose` nor `docker-compose`".into())
    }

    pub fn flavor(&self) -> Flavor {
        let program = Path::new(&self.argv[0])
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if program == "docker-compose" {
            Flavor::V1
        } else {
            Flavor::V2
        }
    }

    pub fn display(&self) -> String {
        self.argv.join(" ")
    }

    /// The arguments after the program that create (or recreate what changed) the planned
    /// services (networks and volumes too) without starting anything, and without pulling in
    /// dependencies, which muster has already planned: `up --no-start --no-deps`.
    pub fn create_args(&self, request: &UpRequest) -> Vec<String> {
        let mut args: Vec<String> = vec!["-p".into(), request.project.clone()];
        for f in &request.files {
            args.push("-f".into());
            args.push(f.display().to_string());
        }
        if let Some(env) = &request.env_file {
            args.push("--env-file".into());
            args.push(env.display().to_string());
        }
        for p in &request.profiles {
            args.push("--profile".into());
            args.push(p.clone());
        }
        args.extend(["up", "--no-start", "--no-deps"].map(String::from));
        args.extend(request.services.iter().cloned());
        args
    }

    /// Runs the CLI with `args` in `cwd`, capturing its output, with `docker_host` as
    /// `DOCKER_HOST` when given.
    pub async fn run(
        &self,
        args: &[String],
        cwd: &Path,
        docker_host: Option<&str>,
    ) -> Result<Ran, String> {
        let mut cmd = tokio::process::Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..])
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(host) = docker_host {
            cmd.env("DOCKER_HOST", host);
        }
        let out = cmd
            .output()
            .await
            .map_err(|e| format!("cannot run `{}`: {e}", self.display()))?;
        Ok(Ran {
            success: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

/// The services of `plan` in creation batches: the first phase alone first, so that it can
/// start as soon as possible, the rest later (created while the first phase runs). With
/// Compose v1, a service that waits for a planned job to complete also goes in a later
/// batch than the job: v1 would otherwise wait (forever) for the job, which nothing starts,
/// to complete.
pub fn creation_batches(plan: &super::plan::RunPlan, flavor: Flavor) -> Vec<Vec<String>> {
    use crate::registry::model::Condition;
    let first_phase = plan.phases.first().map(|p| p.name.as_str());
    let mut layer: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    // Plan order puts dependencies first, so one pass suffices.
    for (name, service) in &plan.services {
        let base = usize::from(Some(service.phase.as_str()) != first_phase);
        let after_jobs = match flavor {
            Flavor::V2 => 0,
            Flavor::V1 => service
                .deps
                .iter()
                .filter(|(_, c)| *c == Condition::Completed)
                .filter_map(|(d, _)| layer.get(d.as_str()).map(|l| l + 1))
                .max()
                .unwrap_or(0),
        };
        layer.insert(name, base.max(after_jobs));
    }
    let count = layer.values().max().map(|m| m + 1).unwrap_or(0);
    let mut batches = vec![Vec::new(); count];
    for name in plan.services.keys() {
        batches[layer[name.as_str()]].push(name.clone());
    }
    batches.retain(|b| !b.is_empty());
    batches
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_creates_only_the_planned_services_with_their_profiles() {
        let request = UpRequest {
            project: "lab".into(),
            files: vec!["deploy/compose/stack.yml".into()],
            env_file: None,
            profiles: vec!["bots".into(), "web".into()],
            services: vec!["postgres".into(), "discord-bot".into()],
        };
        let v2 = ComposeCli {
            argv: vec!["docker".into(), "compose".into()],
        };
        assert_eq!(
            v2.create_args(&request).join(" "),
            "-p lab -f deploy/compose/stack.yml --profile bots --profile web up --no-start --no-deps postgres discord-bot"
        );
        let v1 = ComposeCli {
            argv: vec!["/usr/bin/docker-compose".into()],
        };
        assert_eq!(v1.flavor(), Flavor::V1);
        assert_eq!(v1.create_args(&request), v2.create_args(&request));
    }

    #[test]
    fn v1_creates_what_waits_for_a_job_after_the_job() {
        use std::sync::Arc;
        let text = "version: 1\nname: t\nservices:\n  db: { image: 'd:1' }\n  migrate: { image: 'm:1', job: true, depends_on: [db] }\n  api: { image: 'a:1', depends_on: [migrate, db] }\n  web: { image: 'w:1', depends_on: [api] }\n";
        let loaded = crate::registry::load(
            Arc::new(crate::source::SourceFile::new("muster.yaml", text)),
            None,
        );
        let reg = loaded.registry.unwrap();
        let selected = crate::graph::resolve_selection(&reg, &["all".to_string()]).unwrap();
        let (_, plan) = super::super::plan::plan(&reg, &selected, &Default::default());
        assert_eq!(
            creation_batches(&plan, Flavor::V1),
            vec![vec!["db", "migrate", "web"], vec!["api"]]
        );
        assert_eq!(creation_batches(&plan, Flavor::V2).len(), 1);
        // With phases, the first phase is created alone.
        let text = "version: 1\nname: t\nphases:\n  core: { order: 1 }\n  apps: { order: 2 }\nservices:\n  db: { image: 'd:1', phase: core }\n  migrate: { image: 'm:1', phase: apps, job: true, depends_on: [db] }\n  api: { image: 'a:1', phase: apps, depends_on: [migrate] }\n  web: { image: 'w:1', phase: apps }\n";
        let loaded = crate::registry::load(
            Arc::new(crate::source::SourceFile::new("muster.yaml", text)),
            None,
        );
        let reg = loaded.registry.unwrap();
        let selected = crate::graph::resolve_selection(&reg, &["all".to_string()]).unwrap();
        let (_, plan) = super::super::plan::plan(&reg, &selected, &Default::default());
        assert_eq!(
            creation_batches(&plan, Flavor::V1),
            vec![vec!["db"], vec!["migrate", "web"], vec!["api"]]
        );
        assert_eq!(
            creation_batches(&plan, Flavor::V2),
            vec![vec!["db"], vec!["migrate", "api", "web"]]
        );
    }
}
