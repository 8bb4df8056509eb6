//! Top-level networks, volumes and secrets.

use indexmap::IndexMap;
use serde::Serialize;
use serde_norway::{Mapping, Value};

use super::model;
use super::paths::{self, Layout};
use super::service::Context;
use crate::registry::model::Registry;

fn entry(key: &str, value: &impl Serialize) -> (Value, Value) {
    (
        Value::String(key.to_string()),
        serde_norway::to_value(value).expect("the model serializes"),
    )
}

/// Declared networks: `subnet` as IPAM config, `internal`, external ones under their
/// engine-level `name`.
pub fn networks(reg: &Registry) -> Mapping {
    reg.networks
        .iter()
        .map(|(key, n)| {
            let network = model::Network {
                name: n.engine_name.as_deref().map(super::text),
                external: n.external,
                internal: n.internal && !n.external,
                ipam: n
                    .subnet
                    .as_ref()
                    .filter(|_| !n.external)
                    .map(|subnet| model::Ipam {
                        config: vec![model::IpamConfig {
                            subnet: super::text(subnet),
                        }],
                    }),
            };
            entry(key, &network)
        })
        .collect()
}

/// Declared volumes. A volume with `path` is bind-backed: Docker's `local` driver mounts the
/// host folder (`type: none, o: bind`), so the data lives where the registry says while
/// services still name the volume. An engine-level `name` is kept.
pub fn volumes(reg: &Registry, layout: &Layout) -> Mapping {
    reg.volumes
        .iter()
        .map(|(key, v)| {
            let mut volume = model::Volume {
                name: v.engine_name.as_deref().map(super::text),
                external: v.external,
                ..model::Volume::default()
            };
            if let (Some(path), false) = (&v.path, v.external) {
                let device = super::template_text(path);
                volume.driver = Some("local");
                volume.driver_opts = IndexMap::from([
                    ("type", "none".to_string()),
                    ("o", "bind".to_string()),
                    ("device", layout.path(&device)),
                ]);
            }
            entry(key, &volume)
        })
        .collect()
}

/// Compose secrets the services mount (`secrets:` and `as: file`), read from the files
/// `muster secrets export <engine>` writes; in the order the registry declares them.
pub fn secrets<'a>(ctx: &Context, services: impl Iterator<Item = &'a Value>) -> Mapping {
    let mut used: Vec<&str> = Vec::new();
    for s in services {
        if let Some(Value::Sequence(names)) = s.get("secrets") {
            for name in names.iter().filter_map(Value::as_str) {
                if !used.contains(&name) {
                    used.push(name);
                }
            }
        }
    }
    let declared = ctx.reg.secrets.keys().map(String::as_str);
    let mut ordered: Vec<&str> = declared.filter(|s| used.contains(s)).collect();
    ordered.extend(used.iter().filter(|u| !ctx.reg.secrets.contains_key(**u)));
    ordered
        .into_iter()
        .map(|name| {
            let file = ctx.layout.path(&paths::secret_file(ctx.engine, name));
            entry(name, &model::Secret { file })
        })
        .collect()
}
