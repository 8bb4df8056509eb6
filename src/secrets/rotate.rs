//! `rotate`: a new value, made current only once the services holding the old one accepted it.
//!
//! The new value (and the values derived from it) are stored as pending; each `on_rotate`
//! command runs inside its running service (`docker exec`, values in the environment only);
//! when all succeed the new values become current and the old ones go to the history. When one
//! fails, the old values stay current, no pending value is left, and the failed candidates are
//! kept in the history (the command may have changed something before it failed).

use std::process::{Command, Stdio};

use super::env_file::{EnvFile, variable};
use super::generate::{lookup, recompute_derived, source_value};
use super::kinds;
use super::resolve::derived_from;
use super::store::{Pending, Retired, Store, StoreData};
use super::usage::{Use, users};
use super::value::{SecretValue, mask};
use super::{Error, Result};
use crate::registry::Registry;
use crate::registry::model::{Command as RegCommand, OnRotate, SecretKind};
use crate::registry::values::parse_template;

/// The environment variables an `on_rotate` command receives.
pub const NEW_VALUE: &str = "MUSTER_NEW_VALUE";
pub const OLD_VALUE: &str = "MUSTER_OLD_VALUE";
pub const SECRET_NAME: &str = "MUSTER_SECRET_NAME";

/// What an `on_rotate` command did.
#[derive(Debug, Clone)]
pub struct HookRun {
    pub success: bool,
    pub code: Option<i32>,
    /// stdout and stderr; may hold values: mask before showing.
    pub output: String,
}

/// The running containers muster can exec into. Behind a trait so rotation is tested without
/// Docker too.
pub trait Containers {
    /// IDs of the running containers of `service` in Compose project `project`.
    fn running(&self, project: &str, service: &str) -> Result<Vec<String>>;
    /// Runs `argv` in `container` with `env` set; values never go on a command line.
    fn exec(
        &self,
        container: &str,
        env: &[(&str, &SecretValue)],
        argv: &[String],
    ) -> Result<HookRun>;
}

/// The Docker CLI (`docker`, or `$MUSTER_DOCKER`).
#[derive(Debug, Default)]
pub struct DockerCli;

impl DockerCli {
    fn program() -> std::ffi::OsString {
        std::env::var_os("MUSTER_DOCKER")
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "docker".into())
    }
}

/// The `docker exec` arguments for a hook: every value is passed as `-e NAME` (taken from the
/// docker CLI's own environment), never as `NAME=value`.
pub fn exec_args(container: &str, env_names: &[&str], argv: &[String]) -> Vec<String> {
    let mut args = vec!["exec".to_string()];
    for name in env_names {
        args.push("-e".into());
        args.push((*name).to_string());
    }
    args.push(container.to_string());
    args.extend(argv.iter().cloned());
    args
}

impl Containers for DockerCli {
    fn running(&self, project: &str, service: &str) -> Result<Vec<String>> {
        let output = Command::new(Self::program())
            .args([
                "ps",
                "--filter",
                &format!("label=com.docker.compose.project={project}"),
                "--filter",
                &format!("label=com.docker.compose.service={service}"),
                "--filter",
                "status=running",
                "--format",
                "{{.ID}}",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                Error::could_not(format!("cannot run docker: {e}"))
                    .hint("install the Docker CLI, or pass --no-hook and run the change yourself")
            })?;
        if !output.status.success() {
            return Err(Error::could_not(format!(
                "`docker ps` failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ))
            .hint("is the Docker daemon running and reachable (DOCKER_HOST)?"));
        }
        let mut ids: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        ids.sort();
        Ok(ids)
    }

    fn exec(
        &self,
        container: &str,
        env: &[(&str, &SecretValue)],
        argv: &[String],
    ) -> Result<HookRun> {
        let names: Vec<&str> = env.iter().map(|(n, _)| *n).collect();
        let mut command = Command::new(Self::program());
        command
            .args(exec_args(container, &names, argv))
            .stdin(Stdio::null());
        for (name, value) in env {
            command.env(name, value.expose());
        }
        let output = command
            .output()
            .map_err(|e| Error::could_not(format!("cannot run docker: {e}")))?;
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        Ok(HookRun {
            success: output.status.success(),
            code: output.status.code(),
            output: text,
        })
    }
}

/// The command line of an `on_rotate` hook: placeholders resolved as Compose would (`$$` is a
/// literal `$`, so `$$MUSTER_NEW_VALUE` reaches the container's shell as `$MUSTER_NEW_VALUE`;
/// `${VAR}` from `.env`, `${host:S}` is `S`). `${secret:...}` is refused: it would put a value
/// on a command line.
pub fn hook_argv(reg: &Registry, env: &EnvFile, hook: &OnRotate) -> Result<Vec<String>> {
    let args: Vec<String> = match &hook.exec {
        RegCommand::Exec(args) => args.clone(),
        RegCommand::Shell(s) => vec!["sh".into(), "-c".into(), s.clone()],
    };
    let shell_form = matches!(hook.exec, RegCommand::Shell(_));
    args.iter()
        .enumerate()
        .map(|(i, arg)| {
            if shell_form && i < 2 {
                return Ok(arg.clone());
            }
            let t = parse_template(arg).map_err(|e| {
                Error::could_not(format!("`on_rotate.exec` argument {}: {}", i + 1, e.reason))
            })?;
            if t.secrets().next().is_some() {
                return Err(Error::could_not(
                    "`on_rotate.exec` must not contain `${secret:...}`: it would put a value on a command line",
                )
                .hint(format!("read the values from ${NEW_VALUE} and ${OLD_VALUE} (write `$$` in the registry)")));
            }
            t.resolve(&|n: &str| variable(reg, env, n), &|h: &str| h.to_string(), &|_| {
                String::new()
            })
            .map_err(|e| Error::could_not(format!("`on_rotate.exec`: {e}")))
        })
        .collect()
}

/// What a rotation did.
#[derive(Debug, Default)]
pub struct Rotated {
    pub name: String,
    /// Derived secrets recomputed with it.
    pub recomputed: Vec<String>,
    /// (secret, service, container) of each `on_rotate` that ran.
    pub hooks: Vec<(String, String, String)>,
    /// Services using the secret (directly or through a derived one): they need a restart.
    pub users: Vec<Use>,
    pub notes: Vec<String>,
}

struct PlannedHook {
    secret: String,
    service: String,
    container: String,
    argv: Vec<String>,
}

/// Rotates `name` in the opened (for writing) `store`. `run_hooks: false` is `--no-hook`.
pub fn rotate(
    reg: &Registry,
    env: &EnvFile,
    store: &mut Store,
    name: &str,
    run_hooks: bool,
    containers: &dyn Containers,
    now: &str,
) -> Result<Rotated> {
    let paths = store.paths.clone();
    let secret = lookup(reg, name)?;
    if secret.kind.value == SecretKind::External {
        return Err(Error::could_not(format!(
            "`{name}` is external: muster cannot make a new value for it"
        ))
        .hint(match &secret.file {
            Some(file) => format!("write the new value into {file}"),
            None => format!("set the new value with `muster secrets set {name}`"),
        }));
    }
    if store
        .data
        .secrets
        .get(name)
        .is_none_or(|e| e.value.is_empty())
    {
        return Err(Error::could_not(format!(
            "`{name}` has no value yet, so there is nothing to rotate"
        ))
        .hint("run `muster secrets generate`"));
    }

    // A pending value left by an interrupted rotation may be what a service holds now: keep
    // it in the history before starting over.
    let mut changed = vec![name.to_string()];
    changed.extend(derived_from(reg, name).iter().map(|s| s.name.value.clone()));
    for secret_name in &changed {
        if let Some(entry) = store.data.secrets.get_mut(secret_name)
            && let Some(stale) = entry.pending.take()
        {
            entry.history.push(Retired {
                value: stale.value,
                since: stale.started,
                until: now.to_string(),
                reason: "abandoned".into(),
            });
        }
    }

    // The new values, computed on a copy: the store changes only below.
    let mut next: StoreData = store.data.clone();
    let source = source_value(reg, secret, &paths, &next)
        .map_err(|why| Error::could_not(format!("cannot recompute `{name}`: {why}")))?;
    let fresh = kinds::generate(secret, source.as_ref())
        .map_err(|e| Error::could_not(format!("cannot make a new value for `{name}`: {e}")))?;
    let entry = next.secrets.get_mut(name).expect("checked above");
    entry.replace(fresh, now, "rotated");
    entry.kind = secret.kind.value.as_str().to_string();
    let recomputed = recompute_derived(reg, &paths, &mut next, name, now)?;
    debug_assert_eq!(recomputed[..], changed[1..]);

    // Every hook's container is found before anything is written.
    let mut hooks = Vec::new();
    if run_hooks {
        for secret_name in &changed {
            let Some(hook) = reg
                .secrets
                .get(secret_name)
                .and_then(|s| s.on_rotate.as_ref())
            else {
                continue;
            };
            let service = hook.service.value.clone();
            let running = containers.running(&reg.name.value, &service)?;
            let Some(container) = running.into_iter().next() else {
                return Err(Error::bad(format!(
                    "`{secret_name}` has an `on_rotate` command for `{service}`, but `{service}` is not running in Compose project `{}`; nothing was changed",
                    reg.name.value
                ))
                .hint(format!(
                    "start it first (`docker compose -p {} ... up -d {service}`), or pass --no-hook to rotate without running the command and update `{service}` yourself",
                    reg.name.value
                )));
            };
            hooks.push(PlannedHook {
                secret: secret_name.clone(),
                service,
                container,
                argv: hook_argv(reg, env, hook)?,
            });
        }
    }

    let mut out = Rotated {
        name: name.to_string(),
        recomputed,
        users: users(reg, &paths, name),
        ..Rotated::default()
    };

    if !hooks.is_empty() {
        // Record the candidates as pending first: if muster dies while a hook runs, the value
        // the service may already have accepted is still in the store.
        for secret_name in &changed {
            let candidate = next.secrets[secret_name].value.clone();
            // A derived secret that had no value yet gets its first one at the end.
            if let Some(entry) = store.data.secrets.get_mut(secret_name) {
                entry.pending = Some(Pending {
                    value: candidate,
                    started: now.to_string(),
                });
            }
        }
        out.notes.extend(store.save(now)?);
        let mut done: Vec<String> = Vec::new();
        for hook in &hooks {
            let old = store
                .data
                .secrets
                .get(&hook.secret)
                .map(|e| e.value.clone())
                .unwrap_or_default();
            let new = next.secrets[&hook.secret].value.clone();
            let secret_name = SecretValue::from(hook.secret.as_str());
            let env = [
                (NEW_VALUE, &new),
                (OLD_VALUE, &old),
                (SECRET_NAME, &secret_name),
            ];
            let run = containers.exec(&hook.container, &env, &hook.argv);
            let failure = match run {
                Ok(run) if run.success => None,
                Ok(run) => {
                    let known: Vec<SecretValue> = store
                        .data
                        .secrets
                        .values()
                        .chain(next.secrets.values())
                        .map(|e| e.value.clone())
                        .collect();
                    let output = mask(run.output.trim(), known.iter());
                    let tail: Vec<&str> = output.lines().rev().take(20).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    let code = run
                        .code
                        .map(|c| format!("exit code {c}"))
                        .unwrap_or_else(|| "killed by a signal".into());
                    Some(if tail.is_empty() {
                        format!("{code}, no output")
                    } else {
                        format!("{code}:\n    {}", tail.join("\n    "))
                    })
                }
                Err(e) => Some(e.message),
            };
            if let Some(why) = failure {
                for secret_name in &changed {
                    let Some(entry) = store.data.secrets.get_mut(secret_name) else {
                        continue;
                    };
                    if let Some(p) = entry.pending.take() {
                        entry.history.push(Retired {
                            value: p.value,
                            since: p.started,
                            until: now.to_string(),
                            reason: "rotation-failed".into(),
                        });
                    }
                }
                store.save(now)?;
                let already = if done.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (the `on_rotate` of {} already ran with the new values)",
                        done.join(", ")
                    )
                };
                return Err(Error::bad(format!(
                    "`on_rotate` of `{}` failed in `{}` (container {}): {why}\n`{name}` keeps its current value{already}",
                    hook.secret, hook.service, hook.container
                ))
                .hint("fix the command or the service, then rotate again"));
            }
            done.push(format!("`{}`", hook.secret));
            out.hooks.push((
                hook.secret.clone(),
                hook.service.clone(),
                hook.container.clone(),
            ));
        }
    }

    for secret_name in &changed {
        let mut entry = next.secrets[secret_name].clone();
        entry.pending = None;
        store.data.secrets.insert(secret_name.clone(), entry);
    }
    out.notes.extend(store.save(now)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_args_never_hold_values() {
        let args = exec_args(
            "abc",
            &[NEW_VALUE, OLD_VALUE, SECRET_NAME],
            &["sh".into(), "-c".into(), "echo $MUSTER_NEW_VALUE".into()],
        );
        assert_eq!(
            args,
            [
                "exec",
                "-e",
                "MUSTER_NEW_VALUE",
                "-e",
                "MUSTER_OLD_VALUE",
                "-e",
                "MUSTER_SECRET_NAME",
                "abc",
                "sh",
                "-c",
                "echo $MUSTER_NEW_VALUE"
            ]
        );
    }
}
