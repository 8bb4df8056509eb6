//! One registry service as a Compose service.

use std::collections::HashMap;

use indexmap::{IndexMap, IndexSet};
use serde_norway::{Mapping, Value};

use super::model::{self, Command, Mount, Port};
use super::paths::{self, Layout};
use super::{probe, template_text, text, verbatim};
use crate::registry::decode::subdomain_route;
use crate::registry::model::{
    Command as RegistryCommand, Condition, EnvValue, HealthCheck, Map, MountSource, PortSpec,
    Protocol, Registry, Service,
};
use crate::registry::values::{format_duration, size_compose};

/// What every service of one registry shares: its profiles, the route hosts each service
/// answers to, where paths lead, and which engine's runtime files it reads.
pub struct Context<'r> {
    pub reg: &'r Registry,
    pub layout: &'r Layout,
    /// The engine whose runtime files (`.muster/runtime/<engine>/`) services read: `compose`,
    /// or `swarm` when the Swarm renderer builds its services from this model.
    pub engine: &'static str,
    profiles: HashMap<&'r str, Vec<String>>,
    route_aliases: HashMap<&'r str, IndexSet<String>>,
}

impl<'r> Context<'r> {
    pub fn new(reg: &'r Registry, layout: &'r Layout) -> Context<'r> {
        Context::for_engine(reg, layout, "compose")
    }

    pub fn for_engine(reg: &'r Registry, layout: &'r Layout, engine: &'static str) -> Context<'r> {
        Context {
            reg,
            layout,
            engine,
            profiles: super::profiles::profiles(reg),
            route_aliases: route_aliases(reg),
        }
    }

    fn enabled(&self, name: &str) -> bool {
        self.reg.services.get(name).is_some_and(|s| s.enabled)
    }
}

/// Route hosts by the service that receives them as network aliases (REGISTRY.md "Routes"):
/// the `proxy` when there is one, else the routed service itself. A route without a host uses
/// the stack's `domain`; without either it names no host. `${DOMAIN}` and other variables
/// stay Compose references.
fn route_aliases(reg: &Registry) -> HashMap<&str, IndexSet<String>> {
    let domain = reg.domain.as_ref().map(|d| &d.value);
    let proxy = reg
        .proxy
        .as_ref()
        .map(|p| p.value.as_str())
        .filter(|p| reg.services.get(*p).is_some_and(|s| s.enabled));
    let mut out: HashMap<&str, IndexSet<String>> = HashMap::new();
    for s in reg.enabled_services() {
        let routes = subdomain_route(s, domain)
            .into_iter()
            .chain(s.routes.iter().cloned());
        for route in routes {
            let Some(host) = route.host.as_ref().or(domain) else {
                continue;
            };
            let host = template_text(host);
            if host.is_empty() {
                continue;
            }
            let receiver = proxy.unwrap_or(s.name.value.as_str());
            out.entry(receiver).or_default().insert(host);
        }
    }
    out
}

fn texts(items: &[String]) -> Vec<String> {
    items.iter().map(|s| text(s)).collect()
}

fn text_map(map: &Map<String>) -> IndexMap<String, String> {
    map.iter().map(|(k, v)| (k.clone(), text(v))).collect()
}

fn command(c: &RegistryCommand) -> Command {
    match c {
        RegistryCommand::Shell(s) => Command::Text(text(s)),
        RegistryCommand::Exec(args) => Command::List(texts(args)),
    }
}

/// A Compose service, optional dependencies included (as `required: false`).
pub fn service(ctx: &Context, s: &Service) -> Value {
    to_value(&model(ctx, s), s, "compose")
}

/// `out` as a YAML value, with the service's `x-` keys and its `extra.<engine>` merged last.
pub(crate) fn to_value(out: &impl serde::Serialize, s: &Service, engine: &str) -> Value {
    let mut value = serde_norway::to_value(out).expect("the model serializes");
    if let Value::Mapping(m) = &mut value {
        for (k, v) in &s.extensions {
            m.insert(Value::String(k.clone()), verbatim(v));
        }
        if let Some(extra) = s.extra.get(engine) {
            deep_merge(m, &verbatim(extra));
        }
    }
    value
}

/// The typed Compose service, optional dependencies included (as `required: false`).
pub(crate) fn model(ctx: &Context, s: &Service) -> model::Service {
    let reg = ctx.reg;
    let layout = ctx.layout;
    let name = s.name.value.as_str();
    let mut out = model::Service {
        image: s.image_text.as_deref().map(text),
        build: s.build.as_ref().map(|b| model::Build {
            context: layout.path(&text(&b.context)),
            dockerfile: b.dockerfile.as_deref().map(text),
            target: b.target.as_deref().map(text),
            args: text_map(&b.args),
        }),
        container_name: s.container_name.as_ref().map(|c| text(c)),
        hostname: s.hostname.as_deref().map(text),
        profiles: ctx.profiles.get(name).cloned().unwrap_or_default(),
        restart: s.restart_policy().map(|r| r.as_str()),
        entrypoint: s.entrypoint.as_ref().map(command),
        command: s.command.as_ref().map(command),
        working_dir: s.working_dir.as_deref().map(text),
        user: s.user.as_deref().map(text),
        env_file: s.env_files.iter().map(|f| layout.path(&text(f))).collect(),
        expose: expose(s),
        ports: ports(s),
        network_mode: s.network_mode.as_ref().map(|m| text(m)),
        tmpfs: texts(&s.tmpfs),
        devices: texts(&s.devices),
        cap_add: texts(&s.cap_add),
        cap_drop: texts(&s.cap_drop),
        security_opt: texts(&s.security_opt),
        privileged: s.privileged,
        read_only: s.read_only,
        init: s.init,
        pid: s.pid.as_deref().map(text),
        shm_size: s.shm_size.map(size_compose),
        stop_grace_period: s.stop_grace_period.map(format_duration),
        dns: texts(&s.dns),
        extra_hosts: texts(&s.extra_hosts),
        sysctls: text_map(&s.sysctls),
        ulimits: s
            .ulimits
            .iter()
            .map(|(k, u)| {
                (
                    k.clone(),
                    model::Ulimit {
                        soft: u.soft,
                        hard: u.hard,
                    },
                )
            })
            .collect(),
        logging: s.logging.as_ref().map(|l| model::Logging {
            driver: l.driver.as_deref().map(text),
            options: text_map(&l.options),
        }),
        labels: text_map(&s.labels),
        ..model::Service::default()
    };
    for dep in &s.depends_on {
        // A dependency on a service that is left out (disabled) cannot be written; `check`
        // reports a required one.
        if !ctx.enabled(&dep.service.value) {
            continue;
        }
        let condition = match reg.effective_condition(dep) {
            Condition::Healthy => "service_healthy",
            Condition::Started => "service_started",
            Condition::Completed => "service_completed_successfully",
        };
        out.depends_on.insert(
            dep.service.value.clone(),
            model::DependsOn {
                condition,
                required: dep.optional.then_some(false),
            },
        );
    }
    environment(ctx, s, &mut out);
    networks(ctx, s, &mut out);
    volumes(ctx, s, &mut out);
    healthcheck(s, &mut out);
    out.deploy = deploy(s);
    out
}

/// `extra.compose`: maps merge key by key, anything else replaces, `null` removes.
fn deep_merge(base: &mut Mapping, patch: &Value) {
    let Value::Mapping(patch) = patch else {
        return;
    };
    for (k, v) in patch {
        match (base.get_mut(k), v) {
            (_, Value::Null) => {
                base.shift_remove(k);
            }
            (Some(Value::Mapping(inner)), Value::Mapping(_)) => deep_merge(inner, v),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The variables of a service. A value that holds a secret is never written: it goes to the
/// runtime env file that `muster secrets export compose` writes (0600, outside `deploy/`),
/// which the service reads with `env_file`. `{ secret: X, as: file }` mounts the Compose
/// secret X and the variable holds its path.
fn environment(ctx: &Context, s: &Service, out: &mut model::Service) {
    let mut secret_vars: Vec<&str> = Vec::new();
    let mut file_secrets: Vec<String> = Vec::new();
    for (key, entry) in &s.env {
        match &entry.value {
            EnvValue::Secret {
                name,
                as_file: true,
            } => {
                out.environment
                    .insert(key.clone(), format!("/run/secrets/{}", name.value));
                file_secrets.push(name.value.clone());
            }
            v if v.holds_secret() => secret_vars.push(key),
            EnvValue::Text(t) => {
                out.environment.insert(key.clone(), template_text(t));
            }
            EnvValue::Var(v) => {
                out.environment
                    .insert(key.clone(), format!("${{{}}}", v.value));
            }
            EnvValue::Secret { .. } => secret_vars.push(key),
        }
    }
    for name in s.secrets.iter().map(|n| &n.value).chain(&file_secrets) {
        if !out.secrets.contains(name) {
            out.secrets.push(name.clone());
        }
    }
    if !secret_vars.is_empty() {
        let file = ctx
            .layout
            .path(&paths::runtime_env_file(ctx.engine, &s.name.value));
        let (holds, values, them) = match secret_vars.len() {
            1 => ("holds a secret", "its value is", "it"),
            _ => ("hold secrets", "their values are", "them"),
        };
        let note = format!(
            "{} {holds}, so {values} not in this file: `muster secrets export {}` writes {them} to {file}",
            secret_vars.join(", "),
            ctx.engine
        );
        out.notes.insert("env_file", note);
        out.env_file.push(file);
    }
}

fn expose(s: &Service) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in &s.expose {
        let port = match e.protocol {
            Protocol::Udp => format!("{}/udp", e.port),
            _ => e.port.to_string(),
        };
        if !out.contains(&port) {
            out.push(port);
        }
    }
    out
}

/// Short syntax, except when the registry gives long-form extras (`name`, `mode`,
/// `app_protocol`) for a single port.
fn ports(s: &Service) -> Vec<Port> {
    s.ports
        .iter()
        .map(|p| {
            let extras = p.name.is_some() || p.mode.is_some() || p.app_protocol.is_some();
            match &p.spec {
                PortSpec::Mapping(m) if extras && m.target.start == m.target.end => {
                    Port::Long(model::LongPort {
                        name: p.name.as_deref().map(text),
                        target: m.target.start,
                        published: m.published.map(|r| r.to_string()),
                        host_ip: m.host_ip.clone(),
                        protocol: Some(m.protocol.clone()),
                        app_protocol: p.app_protocol.as_deref().map(text),
                        mode: p.mode.as_deref().map(text),
                    })
                }
                PortSpec::Mapping(m) => Port::Short(m.to_string()),
                PortSpec::Interpolated(s) => Port::Short(text(s)),
            }
        })
        .collect()
}

/// Networks with their aliases: the network's own, the service's `aliases` on every network
/// it joins, and the route hosts it receives. A service that joins no declared network is on
/// Compose's `default` one, which then carries its aliases. `network_mode` shares another
/// network stack, where aliases cannot apply.
fn networks(ctx: &Context, s: &Service, out: &mut model::Service) {
    if s.network_mode.is_some() {
        return;
    }
    let routes = ctx.route_aliases.get(s.name.value.as_str());
    let shared = || {
        s.aliases
            .iter()
            .map(|a| text(a))
            .chain(routes.into_iter().flatten().cloned())
    };
    if s.networks.is_empty() {
        let aliases = dedup(shared());
        if !aliases.is_empty() {
            let mut map = IndexMap::new();
            map.insert(
                "default".to_string(),
                model::ServiceNetwork {
                    aliases,
                    ipv4_address: None,
                },
            );
            out.networks = Some(model::Networks::Map(map));
        }
        return;
    }
    let detailed = s
        .networks
        .iter()
        .any(|n| !n.aliases.is_empty() || n.ipv4_address.is_some())
        || !s.aliases.is_empty()
        || routes.is_some_and(|r| !r.is_empty());
    out.networks = Some(if detailed {
        model::Networks::Map(
            s.networks
                .iter()
                .map(|n| {
                    let aliases = dedup(n.aliases.iter().map(|a| text(a)).chain(shared()));
                    let net = model::ServiceNetwork {
                        aliases,
                        ipv4_address: n.ipv4_address.as_deref().map(text),
                    };
                    (n.name.value.clone(), net)
                })
                .collect(),
        )
    } else {
        model::Networks::List(s.networks.iter().map(|n| n.name.value.clone()).collect())
    });
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    items.collect::<IndexSet<String>>().into_iter().collect()
}

/// Mounts in short syntax (`source:target[:ro,opts]`), tmpfs in long syntax, and the config
/// files `up` renders, mounted read-only from `.muster/rendered/<service>/`.
fn volumes(ctx: &Context, s: &Service, out: &mut model::Service) {
    for m in &s.volumes {
        let mut options: Vec<&str> = Vec::new();
        if m.read_only {
            options.push("ro");
        }
        options.extend(m.options.iter().map(String::as_str));
        let target = text(&m.target);
        let source = match &m.source {
            MountSource::Named(n) => Some(n.value.clone()),
            MountSource::Bind(p) => Some(ctx.layout.path(&text(p))),
            MountSource::Anonymous => None,
            MountSource::Tmpfs => {
                out.volumes.push(Mount::Long(model::LongMount {
                    kind: "tmpfs",
                    target,
                    read_only: m.read_only,
                }));
                continue;
            }
        };
        let mut short = match source {
            Some(source) => format!("{source}:{target}"),
            None => target,
        };
        if !options.is_empty() {
            short.push(':');
            short.push_str(&options.join(","));
        }
        out.volumes.push(Mount::Short(short));
    }
    for c in &s.configs {
        let source = ctx
            .layout
            .path(&paths::rendered_config(&s.name.value, &c.template.value));
        out.volumes
            .push(Mount::Short(format!("{source}:{}:ro", text(&c.target))));
    }
}

fn healthcheck(s: &Service, out: &mut model::Service) {
    let Some(check) = &s.health.check else {
        return;
    };
    let test = match &check.value {
        HealthCheck::Image => return,
        HealthCheck::None => {
            out.healthcheck = Some(model::Healthcheck {
                disable: true,
                ..model::Healthcheck::default()
            });
            return;
        }
        HealthCheck::Exec(RegistryCommand::Exec(args)) => {
            let mut test = vec!["CMD".to_string()];
            test.extend(texts(args));
            test
        }
        HealthCheck::Exec(RegistryCommand::Shell(sh)) => {
            vec!["CMD-SHELL".to_string(), text(sh)]
        }
        HealthCheck::Http(http) => {
            out.notes.insert("healthcheck", probe::http_note(http));
            vec!["CMD-SHELL".to_string(), probe::http(http)]
        }
        HealthCheck::Tcp { port } => {
            out.notes.insert("healthcheck", probe::tcp_note(*port));
            vec!["CMD-SHELL".to_string(), probe::tcp(*port)]
        }
    };
    let t = s.health.timings;
    out.healthcheck = Some(model::Healthcheck {
        test,
        interval: t.interval.map(format_duration),
        timeout: t.timeout.map(format_duration),
        retries: t.retries,
        start_period: t.start_period.map(format_duration),
        disable: false,
    });
}

fn deploy(s: &Service) -> Option<model::Deploy> {
    let r = &s.resources;
    let limits = model::Limits {
        cpus: r.cpus,
        memory: r.memory.map(size_compose),
        devices: Vec::new(),
    };
    let reservations = model::Limits {
        cpus: r.reservations.cpus,
        memory: r.reservations.memory.map(size_compose),
        devices: r
            .gpus
            .iter()
            .map(|g| model::Device {
                driver: text(&g.driver),
                count: match g.count {
                    Some(n) => model::GpuCount::Number(n),
                    None => model::GpuCount::All("all"),
                },
                capabilities: if g.capabilities.is_empty() {
                    vec!["gpu".to_string()]
                } else {
                    texts(&g.capabilities)
                },
            })
            .collect(),
    };
    let resources = (!limits.is_empty() || !reservations.is_empty()).then(|| model::Resources {
        limits: (!limits.is_empty()).then_some(limits),
        reservations: (!reservations.is_empty()).then_some(reservations),
    });
    let deploy = model::Deploy {
        mode: s.global.then_some("global"),
        replicas: s
            .replicas
            .as_ref()
            .map(|r| r.value)
            .filter(|&r| r != 1 && !s.global),
        resources,
    };
    (!deploy.is_empty()).then_some(deploy)
}
