//! Which services a secret reaches, and how: so `rotate` can say who needs a restart.

use serde::Serialize;

use super::Paths;
use super::resolve::derived_from;
use crate::registry::Registry;
use crate::registry::model::EnvValue;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Use {
    pub service: String,
    /// `env POSTGRES_PASSWORD`, `file /run/secrets/x (env X_FILE)`, `mount /run/secrets/x`,
    /// `config /etc/app.conf`.
    pub how: String,
    /// The derived secret that carries it, when the service uses a value computed from it.
    pub via: Option<String>,
}

/// Every use of secret `name` by a service, directly or through the secrets derived from it,
/// in registry order.
pub fn users(reg: &Registry, paths: &Paths, name: &str) -> Vec<Use> {
    let mut carriers = vec![name.to_string()];
    carriers.extend(derived_from(reg, name).iter().map(|s| s.name.value.clone()));
    let mut out = Vec::new();
    for service in reg.services.values() {
        for carrier in &carriers {
            let via = (carrier != name).then(|| carrier.clone());
            let mut add = |how: String| {
                out.push(Use {
                    service: service.name.value.clone(),
                    how,
                    via: via.clone(),
                })
            };
            for (var, entry) in &service.env {
                match &entry.value {
                    EnvValue::Secret { name, as_file } if name.value == *carrier => {
                        if *as_file {
                            add(format!("file /run/secrets/{carrier} (env {var})"));
                        } else {
                            add(format!("env {var}"));
                        }
                    }
                    EnvValue::Text(t) if t.secrets().any(|s| s == carrier) => {
                        add(format!("env {var}"));
                    }
                    _ => {}
                }
            }
            if service.secrets.iter().any(|s| s.value == *carrier) {
                add(format!("mount /run/secrets/{carrier}"));
            }
            for config in &service.configs {
                let path = paths.registry_dir.join(&config.template.value);
                if let Ok(text) = std::fs::read_to_string(&path)
                    && super::configs::secret_names(&text)
                        .iter()
                        .any(|s| s == carrier)
                {
                    add(format!("config {}", config.target));
                }
            }
        }
    }
    out
}
