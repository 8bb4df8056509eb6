//! One registry service as a Swarm service: the Compose service muster writes for it (same
//! image, command, environment, health probes, networks, mounts), minus what `docker stack
//! deploy` ignores or refuses, plus `deploy:` (mode, replicas, resources, placement, restart
//! and update policies) and ports in long syntax.

use indexmap::IndexMap;
use serde_norway::Value;

use super::model::{self, Deploy, Limits, Port};
use crate::registry::model::{MountSource, PortSpec, Registry, Restart, Service};
use crate::registry::values::size_compose;
use crate::render::compose::model as compose;
use crate::render::compose::service::{self as compose_service, Context};
use crate::render::compose::text;

/// The label naming the phase of a service, read by people and by `deploy.sh`'s diagnosis.
pub const PHASE_LABEL: &str = "muster.phase";
/// The label recording a service's dependencies (`NAME:CONDITION`, comma separated): Swarm
/// has no `depends_on`, `deploy.sh` orders phases instead.
pub const DEPENDS_LABEL: &str = "muster.depends_on";
/// The label marking a service that runs to completion.
pub const JOB_LABEL: &str = "muster.job";

/// The Swarm service of `s`, as a YAML value (its `x-` keys and `extra.swarm` merged last).
pub fn service(ctx: &Context, s: &Service) -> Value {
    let mut base = compose_service::model(ctx, s);
    let mut notes: Vec<(&'static str, String)> = Vec::new();
    // Compose-only keys: Swarm has no profiles, orders nothing by `depends_on` (`deploy.sh`
    // does, by phase), builds nothing, names containers itself and restarts through
    // `deploy.restart_policy`; `deploy` and `ports` are rewritten below.
    base.profiles.clear();
    base.depends_on.clear();
    base.build = None;
    base.container_name = None;
    base.restart = None;
    base.deploy = None;
    base.ports.clear();
    if let Some(mode) = base.network_mode.take() {
        if mode == "host" {
            base.networks = Some(compose::Networks::List(vec![HOST_NETWORK.to_string()]));
        } else {
            notes.push((
                "network_mode",
                format!("`network_mode: {mode}` has no Swarm equivalent and is left out"),
            ));
        }
    }
    if !base.devices.is_empty() {
        notes.push((
            "devices",
            "Swarm services cannot map devices; `devices` is kept for readers but `docker stack deploy` ignores it".into(),
        ));
    }
    let ports = ports(s, &mut base.expose, &mut notes);
    let deploy = deploy(ctx.reg, s, &mut notes);
    base.notes.extend(notes);
    compose_service::to_value(
        &model::Service {
            base,
            ports,
            deploy,
        },
        s,
        "swarm",
    )
}

/// The stack-level network a `network_mode: host` service joins: Docker's own `host`.
pub const HOST_NETWORK: &str = "host";

/// Ports in long syntax. The 3.x schema has no host address: a port bound to a loopback
/// address is left out (publishing it on every node's every interface would open what the
/// registry keeps local) and its container port stays in `expose`, any other address is
/// dropped with a note. A range becomes one entry per port; a mapping with `${VAR}` is
/// written as the registry has it.
fn ports(
    s: &Service,
    expose: &mut Vec<String>,
    notes: &mut Vec<(&'static str, String)>,
) -> Vec<Port> {
    let mut out = Vec::new();
    let mut local: Vec<String> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for p in &s.ports {
        let m = match &p.spec {
            PortSpec::Mapping(m) => m,
            PortSpec::Interpolated(text_port) => {
                out.push(Port::Short(text(text_port)));
                continue;
            }
        };
        if let Some(ip) = &m.host_ip {
            if ip.starts_with("127.") || ip == "::1" || ip == "[::1]" || ip == "localhost" {
                local.push(m.to_string());
                for target in m.target.start..=m.target.end {
                    let port = match m.protocol.as_str() {
                        "udp" => format!("{target}/udp"),
                        _ => target.to_string(),
                    };
                    if !expose.contains(&port) {
                        expose.push(port);
                    }
                }
                continue;
            }
            dropped.push(m.to_string());
        }
        for (i, target) in (m.target.start..=m.target.end).enumerate() {
            let published = m.published.map(|r| {
                let offset = u16::try_from(i).unwrap_or(u16::MAX);
                if r.start == r.end {
                    r.start
                } else {
                    r.start.saturating_add(offset).min(r.end)
                }
            });
            out.push(Port::Long(model::LongPort {
                target,
                published,
                protocol: m.protocol.clone(),
                mode: p.mode.as_deref().map(text),
            }));
        }
    }
    if !local.is_empty() {
        notes.push((
            "ports",
            format!(
                "{} bound to a loopback address: Swarm publishes a port on every interface of every node, so it is not published here",
                local.join(", ")
            ),
        ));
    }
    if !dropped.is_empty() {
        notes.push((
            "ports_host_ip",
            format!(
                "{}: Swarm cannot bind a published port to one address, so it is published on every interface",
                dropped.join(", ")
            ),
        ));
    }
    out
}

fn cpus(n: f64) -> String {
    // The 3.x schema wants a string; Rust prints 0.5 as "0.5" and 2.0 as "2".
    format!("{n}")
}

/// `deploy:`: mode and replicas, resources (GPUs as generic resources), placement
/// constraints, the restart policy (jobs never restart), a rolling update that starts the new
/// task first unless the service holds state, and labels naming its phase and dependencies.
fn deploy(reg: &Registry, s: &Service, notes: &mut Vec<(&'static str, String)>) -> Deploy {
    let r = &s.resources;
    let limits = Limits {
        cpus: r.cpus.map(cpus),
        memory: r.memory.map(size_compose),
        generic_resources: Vec::new(),
    };
    let mut reservations = Limits {
        cpus: r.reservations.cpus.map(cpus),
        memory: r.reservations.memory.map(size_compose),
        generic_resources: Vec::new(),
    };
    if let Some(gpus) = &r.gpus {
        let kind = format!("{}-GPU", text(&gpus.driver).to_ascii_uppercase());
        match gpus.count {
            Some(value) => reservations.generic_resources.push(model::GenericResource {
                discrete_resource_spec: model::DiscreteResource {
                    kind: kind.clone(),
                    value,
                },
            }),
            None => notes.push((
                "gpus",
                format!(
                    "`gpus: all` cannot be reserved on Swarm (a generic resource needs a count); advertise the node's GPUs as `{kind}` and give a number"
                ),
            )),
        }
        if let Some(count) = gpus.count {
            notes.push((
                "gpus_kind",
                format!(
                    "{count} GPU(s) reserved as the generic resource `{kind}`: each node must advertise it (dockerd `--node-generic-resource {kind}=<id>`)"
                ),
            ));
        }
    }
    let resources = (!limits.is_empty() || !reservations.is_empty()).then(|| model::Resources {
        limits: (!limits.is_empty()).then_some(limits),
        reservations: (!reservations.is_empty()).then_some(reservations),
    });

    let mut constraints: Vec<String> = Vec::new();
    if let Some(host) = &s.placement.host {
        constraints.push(format!("node.hostname == {}", host.value));
    }
    for (k, v) in &s.placement.labels {
        constraints.push(format!("node.labels.{} == {}", text(k), text(v)));
    }

    let restart_policy = if s.job {
        Some("none")
    } else {
        s.restart_policy().map(|r| match r {
            Restart::No => "none",
            Restart::OnFailure => "on-failure",
            Restart::Always | Restart::UnlessStopped => "any",
        })
    };

    let update_config = (!s.job).then(|| model::UpdateConfig {
        parallelism: 1,
        order: if holds_state(s) {
            "stop-first"
        } else {
            "start-first"
        },
        failure_action: "rollback",
    });

    let mut labels = IndexMap::new();
    if let Some(phase) = &s.phase {
        labels.insert(PHASE_LABEL, phase.value.clone());
    }
    let deps: Vec<String> = s
        .depends_on
        .iter()
        .filter(|d| {
            reg.services
                .get(&d.service.value)
                .is_some_and(|t| t.enabled)
        })
        .map(|d| {
            let mut entry = format!(
                "{}:{}",
                d.service.value,
                reg.effective_condition(d).as_str()
            );
            if d.optional {
                entry.push_str(":optional");
            }
            entry
        })
        .collect();
    if !deps.is_empty() {
        labels.insert(DEPENDS_LABEL, deps.join(","));
    }
    if s.job {
        labels.insert(JOB_LABEL, "true".into());
    }

    Deploy {
        mode: if s.global { "global" } else { "replicated" },
        replicas: (!s.global).then(|| s.replica_count()),
        resources,
        placement: (!constraints.is_empty()).then_some(model::Placement { constraints }),
        restart_policy: restart_policy.map(|condition| model::RestartPolicy { condition }),
        update_config,
        labels,
    }
}

/// Whether two tasks of `s` must never run side by side: it mounts a volume or a host folder
/// (two copies of a database on one data folder corrupt it) or publishes a port in host mode
/// (the second task could not bind it).
fn holds_state(s: &Service) -> bool {
    let mounts = s.volumes.iter().any(|m| match &m.source {
        MountSource::Named(_) | MountSource::Bind(_) => true,
        MountSource::Anonymous | MountSource::Tmpfs => false,
    });
    mounts || s.ports.iter().any(|p| p.mode.as_deref() == Some("host"))
}
