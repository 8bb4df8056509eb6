//! Top-level networks of a stack: every registry network as an overlay, plus the networks
//! Swarm would otherwise create with defaults (`default`) or that already exist (`host`).
//! Volumes and secrets are Compose's (`render::compose::resources`).

use serde_norway::{Mapping, Value};

use super::model::Network;
use super::service::HOST_NETWORK;
use crate::registry::model::Registry;
use crate::render::compose::{model::Ipam, model::IpamConfig, text};

/// The network a service that names none joins, as on Compose.
const DEFAULT_NETWORK: &str = "default";

fn entry(key: &str, network: &Network) -> (Value, Value) {
    (
        Value::String(key.to_string()),
        serde_norway::to_value(network).expect("the model serializes"),
    )
}

/// Declared networks as attachable overlays (`internal` and `subnet` kept, external ones
/// under their engine-level name); `default` when a service joins no declared network, and
/// Docker's `host` network when a service asked for `network_mode: host`.
pub fn networks(reg: &Registry, services: &Mapping) -> Mapping {
    let mut out: Mapping = reg
        .networks
        .iter()
        .map(|(key, n)| {
            let network = if n.external {
                Network {
                    name: n.engine_name.as_deref().map(text),
                    external: true,
                    ..Network::default()
                }
            } else {
                Network {
                    name: n.engine_name.as_deref().map(text),
                    driver: Some("overlay"),
                    attachable: true,
                    internal: n.internal,
                    ipam: n.subnet.as_ref().map(|subnet| Ipam {
                        config: vec![IpamConfig {
                            subnet: text(subnet),
                        }],
                    }),
                    ..Network::default()
                }
            };
            entry(key, &network)
        })
        .collect();
    let joins = |name: &str| {
        services.values().any(|s| match s.get("networks") {
            None => name == DEFAULT_NETWORK,
            Some(Value::Sequence(list)) => list.iter().any(|n| n.as_str() == Some(name)),
            Some(Value::Mapping(map)) => map.contains_key(name),
            Some(_) => false,
        })
    };
    if !reg.networks.contains_key(DEFAULT_NETWORK) && joins(DEFAULT_NETWORK) {
        let network = Network {
            driver: Some("overlay"),
            attachable: true,
            ..Network::default()
        };
        let (k, v) = entry(DEFAULT_NETWORK, &network);
        out.insert(k, v);
    }
    if !reg.networks.contains_key(HOST_NETWORK) && joins(HOST_NETWORK) {
        let (k, v) = entry(
            HOST_NETWORK,
            &Network {
                name: Some(HOST_NETWORK.into()),
                external: true,
                ..Network::default()
            },
        );
        out.insert(k, v);
    }
    out
}
