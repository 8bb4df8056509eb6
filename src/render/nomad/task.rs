//! A service as the task of its job: the Docker driver's `config`, plain environment,
//! secrets through `template` blocks reading Nomad Variables, and resources.
//!
//! Secrets never appear in a job file. `muster secrets export nomad` writes, per service, the
//! items of the variable `nomad/jobs/<stack>/<service>`: each secret-bearing env variable by
//! its name, each file secret by the secret's name. The task reads them back: env variables
//! through one template rendered with `env = true` (values quoted with `toJSON`, which Nomad's
//! env parser reads back exactly), files through one template each in `secrets/`, mounted at
//! `/run/secrets/<name>` as REGISTRY.md says.

use hcl::{Block, Expression, Heredoc, Identifier, Object, ObjectKey};

use super::Context;
use super::expr::Vars;
use super::ports::Ports;
use crate::registry::model::{Command, EnvValue, MountSource, Service};
use crate::registry::values::{format_duration, size_nomad_mb};

/// The task driver when `extra.nomad.task.driver` names none.
pub const DOCKER: &str = "docker";

/// Where a file secret is inside the container.
fn secret_target(name: &str) -> String {
    format!("/run/secrets/{name}")
}

/// The task block (without `extra.nomad.task`, which the job merges last).
pub fn task(ctx: &Context, s: &Service, ports: &Ports, driver: &str, vars: &mut Vars) -> Block {
    let mut b = Block::builder("task")
        .add_label(s.name.value.as_str())
        .add_attribute(("driver", driver));
    if driver == DOCKER {
        b = b.add_block(docker_config(ctx, s, ports, vars));
    }
    if let Some(user) = &s.user {
        b = b.add_attribute(("user", vars.text(user)));
    }
    if let Some(grace) = s.stop_grace_period {
        b = b.add_attribute(("kill_timeout", format_duration(grace)));
    }
    let env = plain_env(s, vars);
    if !env.is_empty() {
        let mut e = Block::builder("env");
        for (k, v) in env {
            e = e.add_attribute((k, v));
        }
        b = b.add_block(e.build());
    }
    b = b.add_blocks(templates(ctx, s));
    if let Some(resources) = resources(ctx, s) {
        b = b.add_block(resources);
    }
    b.build()
}

/// The Docker driver's `config`.
fn docker_config(ctx: &Context, s: &Service, ports: &Ports, vars: &mut Vars) -> Block {
    let image = match &s.image_text {
        Some(image) => vars.text(image),
        // Only `build:`: the image Compose would build; push it where the cluster pulls from.
        None => Expression::String(format!("{}-{}", ctx.reg.name.value, s.name.value)),
    };
    let mut b = Block::builder("config").add_attribute(("image", image));
    if s.network_mode.is_none() && !ports.is_empty() {
        b = b.add_attribute(("ports", ports.labels()));
    }
    if let Some(mode) = &s.network_mode {
        b = b.add_attribute(("network_mode", vars.text(mode)));
    }
    if let Some(entrypoint) = &s.entrypoint {
        b = b.add_attribute(("entrypoint", list(vars, &command_words(entrypoint))));
    }
    if let Some(command) = &s.command {
        let words = command_words(command);
        if let Some((first, rest)) = words.split_first() {
            b = b.add_attribute(("command", vars.text(first)));
            if !rest.is_empty() {
                b = b.add_attribute(("args", list(vars, rest)));
            }
        }
    }
    let strings = [
        ("hostname", s.hostname.as_ref()),
        ("work_dir", s.working_dir.as_ref()),
        ("pid_mode", s.pid.as_ref()),
    ];
    for (key, value) in strings {
        if let Some(v) = value {
            b = b.add_attribute((key, vars.text(v)));
        }
    }
    let flags = [
        ("privileged", s.privileged),
        ("readonly_rootfs", s.read_only),
        ("init", s.init),
    ];
    for (key, value) in flags {
        if let Some(v) = value {
            b = b.add_attribute((key, v));
        }
    }
    let lists = [
        ("cap_add", &s.cap_add),
        ("cap_drop", &s.cap_drop),
        ("security_opt", &s.security_opt),
        ("dns_servers", &s.dns),
        ("extra_hosts", &s.extra_hosts),
    ];
    for (key, items) in lists {
        if !items.is_empty() {
            b = b.add_attribute((key, list(vars, items)));
        }
    }
    if let Some(shm) = s.shm_size {
        b = b.add_attribute(("shm_size", shm));
    }
    if !s.sysctls.is_empty() {
        b = b.add_attribute(("sysctl", map(vars, s.sysctls.iter())));
    }
    if !s.ulimits.is_empty() {
        let limits: Vec<(String, String)> = s
            .ulimits
            .iter()
            .map(|(k, u)| (k.clone(), format!("{}:{}", u.soft, u.hard)))
            .collect();
        b = b.add_attribute(("ulimit", map(vars, limits.iter().map(|(k, v)| (k, v)))));
    }
    if !s.labels.is_empty() {
        b = b.add_attribute(("labels", map(vars, s.labels.iter())));
    }
    if let Some(logging) = &s.logging {
        let mut l = Block::builder("logging");
        if let Some(driver) = &logging.driver {
            l = l.add_attribute(("type", driver.as_str()));
        }
        if !logging.options.is_empty() {
            l = l.add_attribute(("config", map(vars, logging.options.iter())));
        }
        let l = l.build();
        if !l.body.0.is_empty() {
            b = b.add_block(l);
        }
    }
    for device in &s.devices {
        let mut parts = device.splitn(3, ':');
        let host = parts.next().unwrap_or_default();
        let mut d = Block::builder("devices").add_attribute(("host_path", host));
        if let Some(container) = parts.next() {
            d = d.add_attribute(("container_path", container));
        }
        if let Some(permissions) = parts.next() {
            d = d.add_attribute(("cgroup_permissions", permissions));
        }
        b = b.add_block(d.build());
    }
    b = b.add_blocks(mounts(ctx, s, vars));
    let files = file_secrets(s);
    if !files.is_empty() {
        let volumes: Vec<String> = files
            .iter()
            .map(|name| format!("secrets/{name}:{}:ro", secret_target(name)))
            .collect();
        b = b.add_attribute(("volumes", volumes));
    }
    b.build()
}

/// `volumes` and `tmpfs` as Docker mounts. A named volume with `path` is a bind of that host
/// folder (the Docker client needs `docker.volumes.enabled`); without one it is a Docker volume
/// named as on Compose (`<stack>_<volume>`), local to the node.
fn mounts(ctx: &Context, s: &Service, vars: &mut Vars) -> Vec<Block> {
    let mut out = Vec::new();
    for m in &s.volumes {
        let (kind, source) = match &m.source {
            MountSource::Named(name) => match ctx.reg.volumes.get(&name.value) {
                Some(v) => match &v.path {
                    Some(path) => ("bind", Some(vars.template(path))),
                    None => (
                        "volume",
                        Some(Expression::String(v.engine_name.clone().unwrap_or_else(
                            || format!("{}_{}", ctx.reg.name.value, name.value),
                        ))),
                    ),
                },
                None => ("volume", Some(Expression::String(name.value.clone()))),
            },
            MountSource::Bind(path) => ("bind", Some(vars.text(path))),
            MountSource::Anonymous => ("volume", None),
            MountSource::Tmpfs => ("tmpfs", None),
        };
        let mut b = Block::builder("mount")
            .add_attribute(("type", kind))
            .add_attribute(("target", m.target.as_str()));
        if let Some(source) = source {
            b = b.add_attribute(("source", source));
        }
        out.push(b.add_attribute(("readonly", m.read_only)).build());
    }
    for target in &s.tmpfs {
        let path = target.split(':').next().unwrap_or(target);
        out.push(
            Block::builder("mount")
                .add_attribute(("type", "tmpfs"))
                .add_attribute(("target", path))
                .add_attribute(("readonly", false))
                .build(),
        );
    }
    out
}

/// Env values that carry no secret, in registry order; `as: file` secrets are the path of
/// their file.
fn plain_env(s: &Service, vars: &mut Vars) -> Vec<(String, Expression)> {
    let mut out = Vec::new();
    for (name, entry) in &s.env {
        let value = match &entry.value {
            EnvValue::Secret {
                name: secret,
                as_file: true,
            } => Expression::String(secret_target(&secret.value)),
            v if v.holds_secret() => continue,
            EnvValue::Text(t) => vars.template(t),
            EnvValue::Var(v) => vars.var(&v.value),
            EnvValue::Secret { .. } => continue,
        };
        out.push((name.clone(), value));
    }
    out
}

/// Env variables whose value is (or holds) a secret: the items of the service's variable.
fn secret_env(s: &Service) -> Vec<&str> {
    s.env
        .iter()
        .filter(|(_, e)| {
            e.value.holds_secret() && !matches!(e.value, EnvValue::Secret { as_file: true, .. })
        })
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Secrets the service receives as files, in order: `as: file` env values, then `secrets:`.
fn file_secrets(s: &Service) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let from_env = s.env.values().filter_map(|e| match &e.value {
        EnvValue::Secret {
            name,
            as_file: true,
        } => Some(name.value.as_str()),
        _ => None,
    });
    for name in from_env.chain(s.secrets.iter().map(|n| n.value.as_str())) {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Whether the service reads anything from Nomad Variables.
pub fn has_secrets(s: &Service) -> bool {
    !secret_env(s).is_empty() || !file_secrets(s).is_empty()
}

/// The `template` blocks that read the service's secrets from its Nomad variable.
fn templates(ctx: &Context, s: &Service) -> Vec<Block> {
    let path = ctx.variables_path(&s.name.value);
    let open = format!("{{{{ with nomadVar {} }}}}\n", go_string(&path));
    let mut out = Vec::new();
    let env = secret_env(s);
    if !env.is_empty() {
        let mut data = open.clone();
        for name in env {
            data.push_str(&format!(
                "{name}={{{{ index . {} | toJSON }}}}\n",
                go_string(name)
            ));
        }
        data.push_str("{{ end }}\n");
        out.push(
            Block::builder("template")
                .add_attribute(("destination", "secrets/muster.env"))
                .add_attribute(("env", true))
                .add_attribute(("change_mode", "restart"))
                .add_attribute(("data", heredoc(data)))
                .build(),
        );
    }
    for name in file_secrets(s) {
        let data = format!(
            "{}{{{{ index . {} }}}}{{{{ end }}}}",
            open.trim_end(),
            go_string(name)
        );
        out.push(
            Block::builder("template")
                .add_attribute(("destination", format!("secrets/{name}")))
                .add_attribute(("perms", "0400"))
                .add_attribute(("change_mode", "restart"))
                .add_attribute(("data", Expression::String(data)))
                .build(),
        );
    }
    out
}

/// A Go template string literal (names and paths here are letters, digits, `_`, `-`, `/`).
fn go_string(s: &str) -> String {
    format!("{s:?}")
}

fn heredoc(text: String) -> Expression {
    let delimiter = Identifier::new("EOT").expect("a valid identifier");
    Expression::from(Heredoc::new(delimiter, text))
}

/// `resources`: CPU in MHz (`cpus` x `engines.nomad.mhz_per_cpu`), memory in whole MB. With a
/// memory reservation, that is what Nomad reserves and the limit becomes `memory_max`.
/// None when the registry sets nothing (Nomad's defaults then hold).
fn resources(ctx: &Context, s: &Service) -> Option<Block> {
    let r = &s.resources;
    let mut b = Block::builder("resources");
    if let Some(cpus) = r.cpus.or(r.reservations.cpus) {
        let mhz = (cpus * f64::from(ctx.mhz_per_cpu)).ceil().max(1.0) as u64;
        b = b.add_attribute(("cpu", mhz));
    }
    match (r.reservations.memory, r.memory) {
        (Some(reserved), Some(limit)) if reserved < limit => {
            b = b
                .add_attribute(("memory", size_nomad_mb(reserved).max(1)))
                .add_attribute(("memory_max", size_nomad_mb(limit)));
        }
        (reserved, limit) => {
            if let Some(memory) = limit.or(reserved) {
                b = b.add_attribute(("memory", size_nomad_mb(memory).max(1)));
            }
        }
    }
    if let Some(gpus) = &r.gpus {
        let mut d = Block::builder("device").add_label(format!("{}/gpu", gpus.driver));
        if let Some(count) = gpus.count {
            d = d.add_attribute(("count", count));
        }
        b = b.add_block(d.build());
    }
    let b = b.build();
    (!b.body.0.is_empty()).then_some(b)
}

/// A string `command` or `entrypoint` split into words as Compose does (REGISTRY.md is
/// silent, so Compose's meaning holds): the Docker driver takes a command and arguments,
/// never a string for a shell. A list is used as it is.
fn command_words(c: &Command) -> Vec<String> {
    match c {
        Command::Exec(words) => words.clone(),
        Command::Shell(s) => {
            shlex::split(s).unwrap_or_else(|| s.split_whitespace().map(str::to_string).collect())
        }
    }
}

fn list(vars: &mut Vars, items: &[String]) -> Expression {
    Expression::Array(items.iter().map(|i| vars.text(i)).collect())
}

fn map<'a>(vars: &mut Vars, entries: impl Iterator<Item = (&'a String, &'a String)>) -> Expression {
    let mut object = Object::new();
    for (k, v) in entries {
        object.insert(
            ObjectKey::Expression(Expression::String(k.clone())),
            vars.text(v),
        );
    }
    Expression::Object(object)
}
