//! Delivery: the files each engine reads secret values from, under `.muster/runtime/<engine>/`
//! (never committed, never part of `gen`).
//!
//! - compose: `<service>.env` for each service with a secret-bearing env value, and
//!   `secrets/<name>` for `as: file` and `secrets:` mounts (bind-mounted at `/run/secrets/<name>`).
//! - kubernetes: `<service>.env` (a kustomize `secretGenerator` `envs:` file, raw `KEY=value`) and
//!   `secrets/<name>` (for `files:`).
//! - nomad: `<service>.vars.json`, `{"Items": {...}}` as `nomad var put -in json` reads it, for
//!   the variable `nomad/jobs/<name>/<service>`: env variables by their name, file secrets by the
//!   secret's name.
//! - swarm: `secrets/<name>` for every secret a service uses (the files `docker secret create`
//!   and `stack.yml` `secrets: {file: ...}` read), and `<service>.env`, raw `KEY=value` as the
//!   Docker CLI reads it (it keeps quotes as part of the value, unlike Compose).
//!
//! Every file is 0600 in 0700 folders, except Compose's mounted secret files: 0400 owned by the
//! service's numeric `user` (when every service mounting it has the same one and muster runs as
//! root), else 0444: the folder keeps other host users out, and the container's user, whoever
//! it is, can read the bind-mounted file.
//!
//! Compose env files are written so that Compose v1 (1.29, python-dotenv) and v2 (compose-go)
//! read the same value: `KEY=value` when the value has no character either treats specially,
//! else `KEY='value'`. Both interpolate `${...}` (v1 even inside single quotes: verified with
//! docker-compose 1.29.2 and python-dotenv 0.21), v2 also `$VAR` outside quotes, and they
//! differ on backslashes in single quotes; values holding `${`, `'`, `\` or a line break cannot be
//! written identically for both, and are refused with a hint to deliver them with `as: file`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::configs::{Owner, numeric_user};
use super::env_file::{EnvFile, placeholder, variable};
use super::resolve::Values;
use super::{Error, Paths, Result, files};
use crate::registry::Registry;
use crate::registry::model::{EnvValue, Service};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Compose,
    Kubernetes,
    Nomad,
    Swarm,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Compose => "compose",
            Engine::Kubernetes => "kubernetes",
            Engine::Nomad => "nomad",
            Engine::Swarm => "swarm",
        }
    }

    /// How a service reaches SERVICE on this engine (`${host:SERVICE}`).
    fn host(self, service: &str) -> String {
        match self {
            Engine::Compose | Engine::Swarm => service.to_string(),
            Engine::Kubernetes => service.replace('_', "-"),
            Engine::Nomad => format!("{}.service.consul", service.replace('_', "-")),
        }
    }
}

/// Where a file secret is inside the container (REGISTRY.md: `/run/secrets/NAME`).
pub fn secret_target(name: &str) -> String {
    format!("/run/secrets/{name}")
}

/// A file to write, relative to `.muster/runtime/<engine>/`.
pub struct OutFile {
    pub path: PathBuf,
    pub contents: Zeroizing<Vec<u8>>,
    pub mode: u32,
    /// Give it to this uid (and gid) when possible; if not, `fallback_mode`.
    pub owner: Option<Owner>,
    pub fallback_mode: u32,
}

impl fmt::Debug for OutFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutFile")
            .field("path", &self.path)
            .field("contents", &"***")
            .field("mode", &format_args!("{:o}", self.mode))
            .field("owner", &self.owner)
            .finish()
    }
}

/// One secret-bearing environment variable of a service, resolved.
struct EnvVar {
    name: String,
    value: Zeroizing<String>,
}

/// The secret-bearing env values of `service`, resolved for `engine`; problems (without
/// values) are appended to `problems`.
fn secret_env(
    reg: &Registry,
    service: &Service,
    engine: Engine,
    env: &EnvFile,
    values: &Values,
    problems: &mut Vec<String>,
) -> Vec<EnvVar> {
    let mut out = Vec::new();
    let sname = &service.name.value;
    let value_of = |secret: &str, var: &str, problems: &mut Vec<String>| match values.get(secret) {
        Some(v) => {
            if let Some(what) = placeholder(v.expose()) {
                problems.push(format!(
                    "secret `{secret}` (env {var} of `{sname}`) holds {what}; set its real value"
                ));
            }
            Some(v.expose().to_string())
        }
        None => {
            problems.push(format!(
                "secret `{secret}` (env {var} of `{sname}`) has no value; run `muster secrets generate`, or `muster secrets check` to see what is missing"
            ));
            None
        }
    };
    for (var, entry) in &service.env {
        match &entry.value {
            EnvValue::Secret {
                name,
                as_file: false,
            } => {
                if let Some(v) = value_of(&name.value, var, problems) {
                    out.push(EnvVar {
                        name: var.clone(),
                        value: Zeroizing::new(v),
                    });
                }
            }
            EnvValue::Secret {
                name,
                as_file: true,
            } => out.push(EnvVar {
                name: var.clone(),
                value: Zeroizing::new(secret_target(&name.value)),
            }),
            EnvValue::Text(t) if t.secrets().next().is_some() => {
                let mut ok = true;
                for secret in t.secrets() {
                    ok &= value_of(secret, var, problems).is_some();
                }
                if !ok {
                    continue;
                }
                let vars = |n: &str| variable(reg, env, n);
                let secret = |n: &str| {
                    values
                        .get(n)
                        .map(|v| v.expose().to_string())
                        .unwrap_or_default()
                };
                match t.resolve(&vars, &|h: &str| engine.host(h), &secret) {
                    Ok(v) => out.push(EnvVar {
                        name: var.clone(),
                        value: Zeroizing::new(v),
                    }),
                    Err(message) => problems.push(format!("env {var} of `{sname}`: {message}")),
                }
            }
            _ => {}
        }
    }
    out
}

/// The secrets a service receives as files (`as: file` and `secrets:` mounts), in order.
fn file_secrets(service: &Service) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in service.env.values() {
        if let EnvValue::Secret {
            name,
            as_file: true,
        } = &entry.value
            && !out.contains(&name.value)
        {
            out.push(name.value.clone());
        }
    }
    for name in &service.secrets {
        if !out.contains(&name.value) {
            out.push(name.value.clone());
        }
    }
    out
}

/// Every secret a service uses, by name or inside a string.
fn used_secrets(service: &Service) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = file_secrets(service).into_iter().collect();
    for entry in service.env.values() {
        match &entry.value {
            EnvValue::Secret { name, .. } => {
                out.insert(name.value.clone());
            }
            EnvValue::Text(t) => out.extend(t.secrets().map(str::to_string)),
            EnvValue::Var(_) => {}
        }
    }
    out
}

/// A line of a Compose env file that v1 and v2 read as the same value, or why there is none.
pub fn compose_env_line(name: &str, value: &str) -> std::result::Result<String, String> {
    if value.contains(['\n', '\r']) {
        return Err("contains a line break".into());
    }
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '$' | '#' | '\'' | '"' | '\\' | '`'));
    if plain || value.is_empty() {
        return Ok(format!("{name}={value}\n"));
    }
    if value.contains('\'') {
        return Err("contains a single quote".into());
    }
    if value.contains('\\') {
        return Err("contains a backslash".into());
    }
    if value.contains("${") {
        return Err("contains `${`, which Compose v1 expands even in quotes".into());
    }
    Ok(format!("{name}='{value}'\n"))
}

/// A line of an env file read raw after the first `=` (no quotes, no expansion): kustomize's
/// `envs:` files and the Docker CLI's `env_file` for `docker stack deploy`. Or why there is
/// none.
pub fn raw_env_line(name: &str, value: &str) -> std::result::Result<String, String> {
    if value.contains(['\n', '\r']) {
        return Err("contains a line break".into());
    }
    Ok(format!("{name}={value}\n"))
}

/// Builds every file of `engine` in memory. Problems are collected for all services at once;
/// then no file is returned.
pub fn plan(
    engine: Engine,
    reg: &Registry,
    env: &EnvFile,
    values: &Values,
) -> std::result::Result<Vec<OutFile>, Vec<String>> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    // Which services mount each file secret, for its owner and mode.
    let mut mounted_by: BTreeMap<String, Vec<&Service>> = BTreeMap::new();
    let mut swarm_secrets: BTreeSet<String> = BTreeSet::new();
    for service in reg.enabled_services() {
        let sname = &service.name.value;
        let vars = secret_env(reg, service, engine, env, values, &mut problems);
        let files_of = file_secrets(service);
        for name in &files_of {
            mounted_by.entry(name.clone()).or_default().push(service);
        }
        if engine == Engine::Swarm {
            swarm_secrets.extend(used_secrets(service));
        }
        match engine {
            Engine::Compose | Engine::Swarm | Engine::Kubernetes => {
                if vars.is_empty() {
                    continue;
                }
                let mut text = Zeroizing::new(String::new());
                for var in &vars {
                    let line = if matches!(engine, Engine::Kubernetes | Engine::Swarm) {
                        raw_env_line(&var.name, &var.value)
                    } else {
                        compose_env_line(&var.name, &var.value)
                    };
                    match line {
                        Ok(line) => text.push_str(&line),
                        Err(why) => problems.push(format!(
                            "env {} of `{sname}`: the value {why}, so it cannot go into an env file; deliver it as a file instead: `{}: {{ secret: NAME, as: file }}` (the variable then holds /run/secrets/NAME)",
                            var.name, var.name
                        )),
                    }
                }
                out.push(OutFile {
                    path: PathBuf::from(format!("{sname}.env")),
                    contents: Zeroizing::new(text.as_bytes().to_vec()),
                    mode: 0o600,
                    owner: None,
                    fallback_mode: 0o600,
                });
            }
            Engine::Nomad => {
                if vars.is_empty() && files_of.is_empty() {
                    continue;
                }
                let mut items = serde_json::Map::new();
                for var in &vars {
                    items.insert(
                        var.name.clone(),
                        serde_json::Value::String(var.value.to_string()),
                    );
                }
                for name in &files_of {
                    if items.contains_key(name) {
                        problems.push(format!(
                            "`{sname}` has an env variable named like its file secret `{name}`; rename one"
                        ));
                        continue;
                    }
                    if let Some(v) = values.get(name) {
                        items.insert(name.clone(), serde_json::Value::String(v.expose().into()));
                    } else {
                        problems.push(format!(
                            "secret `{name}` (a file of `{sname}`) has no value; run `muster secrets generate`"
                        ));
                    }
                }
                let json = serde_json::json!({ "Items": items });
                let mut text =
                    Zeroizing::new(serde_json::to_vec_pretty(&json).expect("variables serialize"));
                text.push(b'\n');
                out.push(OutFile {
                    path: PathBuf::from(format!("{sname}.vars.json")),
                    contents: text,
                    mode: 0o600,
                    owner: None,
                    fallback_mode: 0o600,
                });
            }
        }
    }
    let secret_file = |name: &str, problems: &mut Vec<String>| match values.get(name) {
        Some(v) => Some(Zeroizing::new(v.expose().as_bytes().to_vec())),
        None => {
            problems.push(format!(
                "secret `{name}` has no value; run `muster secrets generate`, or `muster secrets check` to see what is missing"
            ));
            None
        }
    };
    match engine {
        Engine::Compose => {
            for (name, services) in &mounted_by {
                let Some(contents) = secret_file(name, &mut problems) else {
                    continue;
                };
                let owners: BTreeSet<Option<Owner>> =
                    services.iter().map(|s| numeric_user(s)).collect();
                let owner = match owners.into_iter().collect::<Vec<_>>().as_slice() {
                    [Some(owner)] => Some(*owner),
                    _ => None,
                };
                out.push(OutFile {
                    path: Path::new("secrets").join(name),
                    contents,
                    mode: if owner.is_some() { 0o400 } else { 0o444 },
                    owner,
                    fallback_mode: 0o444,
                });
            }
        }
        Engine::Kubernetes => {
            for name in mounted_by.keys() {
                if let Some(contents) = secret_file(name, &mut problems) {
                    out.push(private(Path::new("secrets").join(name), contents));
                }
            }
        }
        Engine::Swarm => {
            for name in &swarm_secrets {
                if let Some(contents) = secret_file(name, &mut problems) {
                    out.push(private(Path::new("secrets").join(name), contents));
                }
            }
        }
        Engine::Nomad => {}
    }
    problems.sort();
    problems.dedup();
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn private(path: PathBuf, contents: Zeroizing<Vec<u8>>) -> OutFile {
    OutFile {
        path,
        contents,
        mode: 0o600,
        owner: None,
        fallback_mode: 0o600,
    }
}

/// What `export` wrote.
#[derive(Debug)]
pub struct Exported {
    /// `.muster/runtime/<engine>/`
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
    /// Files that could not be given to their service's user (muster is not root): 0444.
    pub not_chowned: Vec<PathBuf>,
    /// Files of an earlier export that are no longer needed, removed.
    pub removed: Vec<PathBuf>,
}

/// Writes the planned files under `.muster/runtime/<engine>/` and removes the ones an earlier
/// export wrote that are no longer needed.
pub fn write(engine: Engine, paths: &Paths, planned: &[OutFile]) -> Result<Exported> {
    let dir = paths.runtime.join(engine.as_str());
    let io = |path: &Path, e: std::io::Error| {
        Error::could_not(format!("cannot write {}: {e}", path.display()))
    };
    files::ensure_dir(&paths.muster_dir, 0o755).map_err(|e| io(&paths.muster_dir, e))?;
    files::ensure_gitignore(&paths.muster_dir)
        .map_err(|e| io(&paths.muster_dir.join(".gitignore"), e))?;
    files::private_dir(&paths.runtime, 0o700).map_err(|e| io(&paths.runtime, e))?;
    files::private_dir(&dir, 0o700).map_err(|e| io(&dir, e))?;
    let mut report = Exported {
        dir: dir.clone(),
        files: Vec::new(),
        not_chowned: Vec::new(),
        removed: Vec::new(),
    };
    for file in planned {
        let path = dir.join(&file.path);
        if let Some(parent) = path.parent() {
            files::private_dir(parent, 0o700).map_err(|e| io(parent, e))?;
        }
        // A read-only file from an earlier export cannot be opened for writing, but it can be
        // replaced by rename: `write_private` does exactly that.
        files::write_private(&path, &file.contents, file.mode).map_err(|e| io(&path, e))?;
        if let Some((uid, gid)) = file.owner
            && files::chown(&path, uid, gid).is_err()
        {
            files::set_mode(&path, file.fallback_mode).map_err(|e| io(&path, e))?;
            report.not_chowned.push(path.clone());
        }
        report.files.push(path);
    }
    for sub in [dir.clone(), dir.join("secrets")] {
        let Ok(entries) = std::fs::read_dir(&sub) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() && !report.files.contains(&path) {
                std::fs::remove_file(&path).map_err(|e| {
                    Error::could_not(format!("cannot remove {}: {e}", path.display()))
                })?;
                report.removed.push(path);
            }
        }
    }
    Ok(report)
}

/// `secrets export ENGINE` in one call (for `up`): reads `.env` and the store, plans, writes.
/// Problems (never values) come back joined in one error.
pub fn export(engine: Engine, reg: &Registry, paths: &Paths) -> Result<Exported> {
    let env = EnvFile::read(&paths.registry_dir).map_err(|e| {
        Error::could_not(format!(
            "cannot read {}: {e}",
            paths.registry_dir.join(super::env_file::ENV_FILE).display()
        ))
    })?;
    let values = super::resolve::load_values(reg, paths)?;
    let planned = plan(engine, reg, &env, &values).map_err(|problems| {
        Error::bad(problems.join("\n"))
            .hint("`muster secrets check` lists the state of every secret")
    })?;
    write(engine, paths, &planned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_lines_quote_only_when_needed() {
        assert_eq!(compose_env_line("A", "abc123").unwrap(), "A=abc123\n");
        assert_eq!(compose_env_line("A", "").unwrap(), "A=\n");
        assert_eq!(
            compose_env_line("A", "postgres://u:p@db:5432/x?a=b").unwrap(),
            "A=postgres://u:p@db:5432/x?a=b\n"
        );
        assert_eq!(
            compose_env_line("H", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").unwrap(),
            "H='$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA'\n"
        );
        assert_eq!(compose_env_line("A", "a#b c").unwrap(), "A='a#b c'\n");
        for bad in ["a'b", "a\\b", "x${Y}", "l1\nl2", "cr\r"] {
            assert!(compose_env_line("A", bad).is_err(), "{bad}");
        }
    }
}
