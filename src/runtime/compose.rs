//! The user's Compose CLI: `docker compose` (v2) when the Docker CLI has it, else
//! `docker-compose` (v1); `MUSTER_COMPOSE` overrides both (e.g. `podman-compose`).
//! muster only asks it to create containers (`up --no-start`): starting and waiting are
//! done through the Engine API, where events are.

use std::path::{Path, PathBuf};
use std::process::Stdio;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeCli {
    /// The program and its leading arguments (`["docker", "compose"]`).
    pub argv: Vec<String>,
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

    pub fn display(&self) -> String {
        self.argv.join(" ")
    }

    /// The arguments after the program for `up --no-start --no-deps`: create (or recreate
    /// what changed) without starting anything and without pulling in dependencies, which
    /// muster has already planned.
    pub fn up_no_start_args(request: &UpRequest) -> Vec<String> {
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
        let args = ComposeCli::up_no_start_args(&UpRequest {
            project: "lab".into(),
            files: vec!["deploy/compose/stack.yml".into()],
            env_file: None,
            profiles: vec!["bots".into(), "web".into()],
            services: vec!["postgres".into(), "discord-bot".into()],
        });
        assert_eq!(
            args.join(" "),
            "-p lab -f deploy/compose/stack.yml --profile bots --profile web up --no-start --no-deps postgres discord-bot"
        );
    }
}
