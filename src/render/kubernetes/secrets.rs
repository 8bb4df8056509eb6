//! A service's environment and the files it receives, without a secret value in any
//! generated file (DESIGN.md "Secrets").
//!
//! - Plain env values (text without `${secret:...}`, `{ var: NAME }`) go into a ConfigMap
//!   `<service>-env`, resolved (see `text.rs`).
//! - Secret-bearing values come from the env file `muster secrets export kubernetes` writes,
//!   `.muster/runtime/kubernetes/<service>.env`, through a kustomize `secretGenerator`
//!   `<service>-secrets`, together with the service's `env_files` (secret-bearing by
//!   REGISTRY.md, so never a ConfigMap). Kustomize reads `KEY=value` lines raw: quotes
//!   around a value in an `env_files` file become part of the value.
//! - Secrets delivered as files (`as: file`, `secrets:`) come from `.muster/runtime/
//!   kubernetes/secrets/<name>` through a generator `<service>-files`, mounted at
//!   `/run/secrets`, where the variable of an `as: file` entry points. As on Compose
//!   (DESIGN.md "Secrets"): readable by the service's numeric `user` only (mode 0440, the
//!   pod's `fsGroup` being the user's group, see `workload.rs`), else by anyone in the
//!   container (0444), since the image's own user is not known.
//! - Config templates (`configs:`) are rendered by muster into `.muster/rendered/<service>/`
//!   (they may hold secrets too) and come through a generator `<service>-configs`, each file
//!   mounted read-only at its target.
//!
//! These files live outside the kustomization folder, so `kubectl kustomize` needs
//! `--load-restrictor LoadRestrictionsNone` (as `deploy.sh` passes). Paths here are relative
//! to the registry folder; `kustomize.rs` rewrites them for each kustomization.
//! A Job's generators keep their plain names (no content hash): a Job's pod template is
//! immutable, and a rotated secret must not make re-applying an unchanged Job fail.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapEnvSource, EnvFromSource, KeyToPath, SecretEnvSource, SecretVolumeSource,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{names, text};
use crate::registry::model::{EnvValue, Registry, Service};
use crate::render::compose::paths::rendered_config;
use crate::secrets::export::secret_target;

/// Where `muster secrets export kubernetes` writes, relative to the registry folder.
pub const RUNTIME_DIR: &str = ".muster/runtime/kubernetes";

/// A kustomize `secretGenerator` entry; paths relative to the registry folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Generator {
    /// The Secret's name before kustomize adds its content hash.
    pub name: String,
    pub envs: Vec<String>,
    /// `key=path` entries.
    pub files: Vec<(String, String)>,
    pub labels: BTreeMap<String, String>,
    /// Whether kustomize appends a hash of the content to the name.
    pub hash: bool,
}

/// What a service's container receives from ConfigMaps and Secrets.
#[derive(Default)]
pub struct Delivery {
    pub config_map: Option<ConfigMap>,
    pub generators: Vec<Generator>,
    pub env_from: Vec<EnvFromSource>,
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
}

/// The secrets a service receives as files, in order, each once.
fn file_secrets(s: &Service) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let as_files = s.env.values().filter_map(|e| match &e.value {
        EnvValue::Secret {
            name,
            as_file: true,
        } => Some(&name.value),
        _ => None,
    });
    for name in as_files.chain(s.secrets.iter().map(|n| &n.value)) {
        if !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

/// The plain env of a service, resolved.
pub fn plain_env(reg: &Registry, s: &Service) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (var, entry) in &s.env {
        let value = match &entry.value {
            EnvValue::Text(t) if t.secrets().next().is_none() => text::resolve(reg, t),
            EnvValue::Var(name) => text::resolve_str(reg, &format!("${{{}}}", name.value)),
            _ => continue,
        };
        out.insert(var.clone(), value);
    }
    out
}

pub fn delivery(reg: &Registry, s: &Service, meta: &ObjectMeta) -> Delivery {
    let mut out = Delivery::default();
    let labels = meta.labels.clone().unwrap_or_default();
    let generator = |suffix: &str| Generator {
        name: names::suffixed(&s.name.value, suffix),
        envs: Vec::new(),
        files: Vec::new(),
        labels: labels.clone(),
        hash: !s.job,
    };

    let plain = plain_env(reg, s);
    if !plain.is_empty() {
        let name = names::suffixed(&s.name.value, "-env");
        out.env_from.push(EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: name.clone(),
                optional: None,
            }),
            ..EnvFromSource::default()
        });
        out.config_map = Some(ConfigMap {
            metadata: ObjectMeta {
                name: Some(name),
                ..meta.clone()
            },
            data: Some(plain),
            ..ConfigMap::default()
        });
    }

    let mut env = generator("-secrets");
    if s.env.values().any(|e| e.value.holds_secret()) {
        env.envs.push(format!("{RUNTIME_DIR}/{}.env", s.name.value));
    }
    env.envs
        .extend(s.env_files.iter().map(|f| text::resolve_str(reg, f)));
    if !env.envs.is_empty() {
        out.env_from.push(EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: env.name.clone(),
                optional: None,
            }),
            ..EnvFromSource::default()
        });
        out.generators.push(env);
    }

    let mut files = generator("-files");
    for name in file_secrets(s) {
        files
            .files
            .push((name.clone(), format!("{RUNTIME_DIR}/secrets/{name}")));
    }
    if !files.files.is_empty() {
        let volume = "muster-secrets".to_string();
        out.volumes.push(Volume {
            name: volume.clone(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(files.name.clone()),
                default_mode: Some(if super::workload::numeric_user_of(s).is_some() {
                    0o440
                } else {
                    0o444
                }),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        let dir = secret_target("");
        out.mounts.push(VolumeMount {
            name: volume,
            mount_path: dir.trim_end_matches('/').to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
        out.generators.push(files);
    }

    let mut configs = generator("-configs");
    let mut items = Vec::new();
    for c in &s.configs {
        let path = rendered_config(&s.name.value, &c.template.value);
        let key = path.rsplit('/').next().unwrap_or("config").to_string();
        if configs.files.iter().any(|(k, _)| *k == key) {
            continue;
        }
        items.push(KeyToPath {
            key: key.clone(),
            path: key.clone(),
            mode: c.mode.and_then(|m| i32::try_from(m).ok()),
        });
        out.mounts.push(VolumeMount {
            name: "muster-configs".into(),
            mount_path: text::resolve_str(reg, &c.target),
            sub_path: Some(key.clone()),
            read_only: Some(true),
            ..VolumeMount::default()
        });
        configs.files.push((key, path));
    }
    if !configs.files.is_empty() {
        out.volumes.push(Volume {
            name: "muster-configs".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(configs.name.clone()),
                items: Some(items),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        out.generators.push(configs);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::{ConfigFile, EnvEntry, Spanned};
    use crate::registry::values::parse_template;

    fn entry(name: &str, value: EnvValue) -> (String, EnvEntry) {
        (
            name.to_string(),
            EnvEntry {
                name: Spanned::new(name.into(), Default::default()),
                value,
                span: Default::default(),
            },
        )
    }

    #[test]
    fn plain_values_in_a_config_map_secrets_from_the_exported_files() {
        let reg = Registry::default();
        let secret = |name: &str, as_file| EnvValue::Secret {
            name: Spanned::new(name.into(), Default::default()),
            as_file,
        };
        let s = Service {
            name: Spanned::new("api".into(), Default::default()),
            env: [
                entry("MODE", EnvValue::Text(parse_template("prod").unwrap())),
                entry(
                    "DB",
                    EnvValue::Text(parse_template("x:${secret:pw}@${host:db}").unwrap()),
                ),
                entry("KEY_FILE", secret("key", true)),
                entry("TOKEN", secret("token", false)),
            ]
            .into_iter()
            .collect(),
            env_files: vec![".env.api".into()],
            configs: vec![ConfigFile {
                template: Spanned::new("./conf/app.ini".into(), Default::default()),
                target: "/etc/app.ini".into(),
                mode: None,
            }],
            ..Service::default()
        };
        let d = delivery(&reg, &s, &ObjectMeta::default());
        let data = d.config_map.unwrap().data.unwrap();
        assert_eq!(data.keys().collect::<Vec<_>>(), ["MODE"]);
        let names: Vec<&str> = d.generators.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["api-secrets", "api-files", "api-configs"]);
        assert_eq!(
            d.generators[0].envs,
            [".muster/runtime/kubernetes/api.env", ".env.api"]
        );
        assert_eq!(
            d.generators[1].files,
            [(
                "key".to_string(),
                ".muster/runtime/kubernetes/secrets/key".to_string()
            )]
        );
        assert_eq!(d.generators[2].files[0].1, ".muster/rendered/api/app.ini");
        assert_eq!(d.env_from.len(), 2);
        assert_eq!(d.mounts.len(), 2);
        assert!(d.generators.iter().all(|g| g.hash));
    }
}
