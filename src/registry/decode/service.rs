//! One service of `muster.yaml`: every field of REGISTRY.md "A service", short and long forms.

use super::{Decoder, Fields, to_verbatim};
use crate::diagnostic::{Code, Diagnostic};
use crate::registry::model::*;
use crate::registry::values::{self, Template};
use crate::registry::yaml::{Node, Value};

/// The keys of a service, in the order REGISTRY.md presents them (importers write them so).
pub const SERVICE: &[&str] = &[
    "description",
    "enabled",
    "image",
    "version",
    "build",
    "category",
    "phase",
    "groups",
    "tags",
    "critical",
    "mode",
    "replicas",
    "container_name",
    "hostname",
    "networks",
    "network_mode",
    "aliases",
    "expose",
    "ports",
    "env",
    "secrets",
    "env_files",
    "configs",
    "volumes",
    "command",
    "entrypoint",
    "user",
    "working_dir",
    "labels",
    "restart",
    "read_only",
    "init",
    "stop_grace_period",
    "cap_drop",
    "cap_add",
    "security_opt",
    "privileged",
    "devices",
    "tmpfs",
    "shm_size",
    "pid",
    "dns",
    "extra_hosts",
    "sysctls",
    "ulimits",
    "logging",
    "health",
    "depends_on",
    "resources",
    "placement",
    "subdomain",
    "routes",
    "job",
    "extra",
];
const SERVICE_NETWORK: &[&str] = &["aliases", "ipv4_address"];
const EXPOSE: &[&str] = &["name", "port", "protocol"];
const PORT: &[&str] = &[
    "target",
    "published",
    "host_ip",
    "protocol",
    "mode",
    "name",
    "app_protocol",
];
const ENV_VALUE: &[&str] = &["secret", "as", "var"];
const CONFIG: &[&str] = &["template", "target", "mode"];
const MOUNT: &[&str] = &["type", "source", "target", "read_only"];
const ULIMIT: &[&str] = &["soft", "hard"];
const LOGGING: &[&str] = &["driver", "options"];
const HEALTH: &[&str] = &[
    "exec",
    "http",
    "tcp",
    "image",
    "none",
    "interval",
    "timeout",
    "retries",
    "start_period",
];
const HEALTH_KINDS: &[&str] = &["exec", "http", "tcp", "image", "none"];
const HTTP: &[&str] = &["port", "path", "scheme", "insecure", "expect"];
const TCP: &[&str] = &["port"];
const DEPENDENCY: &[&str] = &["service", "condition", "optional"];
const RESOURCES: &[&str] = &["cpus", "memory", "reservations", "gpus"];
const RESERVATIONS: &[&str] = &["cpus", "memory"];
const GPUS: &[&str] = &["count", "driver", "capabilities"];
const PLACEMENT: &[&str] = &["host", "labels"];
const ROUTE: &[&str] = &[
    "host",
    "path",
    "match",
    "port",
    "entrypoints",
    "priority",
    "tls",
    "auth",
];
const BUILD: &[&str] = &["context", "dockerfile", "target", "args"];
const EXTRA: &[&str] = &["compose", "kubernetes", "nomad", "swarm"];
const EXTRA_KUBERNETES: &[&str] = &["workload", "pod", "container", "service"];
const EXTRA_NOMAD: &[&str] = &["job", "group", "task"];

pub(super) fn known_keys() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("service", SERVICE),
        ("serviceNetwork", SERVICE_NETWORK),
        ("expose", EXPOSE),
        ("port", PORT),
        ("envValue", ENV_VALUE),
        ("config", CONFIG),
        ("mount", MOUNT),
        ("ulimit", ULIMIT),
        ("logging", LOGGING),
        ("health", HEALTH),
        ("httpCheck", HTTP),
        ("tcpCheck", TCP),
        ("dependency", DEPENDENCY),
        ("resources", RESOURCES),
        ("reservations", RESERVATIONS),
        ("gpus", GPUS),
        ("placement", PLACEMENT),
        ("route", ROUTE),
        ("build", BUILD),
        ("extra", EXTRA),
        ("extraKubernetes", EXTRA_KUBERNETES),
        ("extraNomad", EXTRA_NOMAD),
    ]
}

/// Decodes one service. `reg` holds what was read before `services` (defaults, domain).
pub(super) fn decode_service(
    d: &mut Decoder,
    reg: &Registry,
    name: Name,
    node: &Node,
) -> Option<Service> {
    let what = format!("service `{}`", name.value);
    let f = d.fields(node, &what, SERVICE)?;
    let mut s = Service {
        name: name.clone(),
        enabled: true,
        span: node.span,
        extensions: f.extensions(),
        ..Service::default()
    };
    s.description = f
        .get("description")
        .and_then(|n| d.string(n, "`description`"));
    s.enabled = f
        .get("enabled")
        .and_then(|n| d.bool(n, "`enabled`"))
        .unwrap_or(true);
    image(d, &f, &mut s, &what);
    s.category = f.get("category").and_then(|n| category(d, n));
    s.phase = f.get("phase").and_then(|n| d.name(n, "`phase`"));
    s.groups = f
        .get("groups")
        .map(|n| d.name_list(n, "`groups`"))
        .unwrap_or_default();
    s.tags = f
        .get("tags")
        .map(|n| d.string_list(n, "`tags`"))
        .unwrap_or_default();
    s.critical = f
        .get("critical")
        .and_then(|n| d.bool(n, "`critical`"))
        .unwrap_or(false);
    if let Some(n) = f.get("mode") {
        s.global = d
            .choice(n, "`mode`", &[("replicated", false), ("global", true)])
            .unwrap_or(false);
    }
    if let Some(n) = f.get("replicas") {
        s.replicas = d
            .uint(n, "`replicas`", 0, 10_000)
            .map(|r| Spanned::new(r, n.span));
    }
    if let Some(n) = f.get("container_name") {
        s.container_name = d
            .string(n, "`container_name`")
            .map(|c| Spanned::new(c, n.span));
    }
    s.hostname = f.get("hostname").and_then(|n| d.string(n, "`hostname`"));
    if let Some(n) = f.get("networks") {
        s.networks = networks(d, n);
    }
    if let Some(n) = f.get("network_mode") {
        s.network_mode = d
            .string(n, "`network_mode`")
            .map(|m| Spanned::new(m, n.span));
        if f.has("networks") {
            d.report(
                Diagnostic::new(
                    Code::Exclusive,
                    format!("{what} has both `network_mode` and `networks`"),
                )
                .at(
                    f.key_span("network_mode").unwrap_or(n.span),
                    "`network_mode` here",
                )
                .related(f.key_span("networks").unwrap_or(n.span), "`networks` here")
                .help(
                    "a container either joins networks or shares another network stack; keep one",
                ),
            );
        }
    }
    s.aliases = f
        .get("aliases")
        .map(|n| d.string_list(n, "`aliases`"))
        .unwrap_or_default();
    s.expose = d.items(f.get("expose"), "`expose`", expose);
    s.ports = d.items(f.get("ports"), "`ports`", port);
    if let Some(n) = f.get("env") {
        s.env = env(d, n);
    }
    s.secrets = f
        .get("secrets")
        .map(|n| d.name_list(n, "`secrets`"))
        .unwrap_or_default();
    s.env_files = f
        .get("env_files")
        .map(|n| d.string_list(n, "`env_files`"))
        .unwrap_or_default();
    s.configs = d.items(f.get("configs"), "`configs`", config);
    s.volumes = d.items(f.get("volumes"), "`volumes`", mount);
    s.command = f.get("command").and_then(|n| d.command(n, "`command`"));
    s.entrypoint = f
        .get("entrypoint")
        .and_then(|n| d.command(n, "`entrypoint`"));
    s.user = f.get("user").and_then(|n| d.text(n, "`user`"));
    s.working_dir = f
        .get("working_dir")
        .and_then(|n| d.string(n, "`working_dir`"));
    s.labels = f
        .get("labels")
        .map(|n| d.string_map(n, "`labels`"))
        .unwrap_or_default();
    s.job = f
        .get("job")
        .and_then(|n| d.bool(n, "`job`"))
        .unwrap_or(false);
    s.restart = match f.get("restart") {
        Some(n) => restart(d, n),
        None if s.job => None,
        None => reg.defaults.restart,
    };
    s.read_only = f.get("read_only").and_then(|n| d.bool(n, "`read_only`"));
    s.init = f.get("init").and_then(|n| d.bool(n, "`init`"));
    s.stop_grace_period = f
        .get("stop_grace_period")
        .and_then(|n| d.duration(n, "`stop_grace_period`"));
    s.cap_add = f
        .get("cap_add")
        .map(|n| d.string_list(n, "`cap_add`"))
        .unwrap_or_default();
    s.cap_drop = f
        .get("cap_drop")
        .map(|n| d.string_list(n, "`cap_drop`"))
        .unwrap_or_default();
    s.security_opt = f
        .get("security_opt")
        .map(|n| d.string_list(n, "`security_opt`"))
        .unwrap_or_default();
    s.privileged = f.get("privileged").and_then(|n| d.bool(n, "`privileged`"));
    s.devices = f
        .get("devices")
        .map(|n| d.string_list(n, "`devices`"))
        .unwrap_or_default();
    s.tmpfs = match f.get("tmpfs") {
        Some(n) if n.as_str().is_some() => d.string(n, "`tmpfs`").into_iter().collect(),
        Some(n) => d.string_list(n, "`tmpfs`"),
        None => Vec::new(),
    };
    s.shm_size = f.get("shm_size").and_then(|n| d.size(n, "`shm_size`"));
    s.pid = f.get("pid").and_then(|n| d.string(n, "`pid`"));
    s.dns = match f.get("dns") {
        Some(n) if n.as_str().is_some() => d.string(n, "`dns`").into_iter().collect(),
        Some(n) => d.string_list(n, "`dns`"),
        None => Vec::new(),
    };
    s.extra_hosts = match f.get("extra_hosts") {
        Some(n) if n.as_map().is_some() => d
            .string_map(n, "`extra_hosts`")
            .into_iter()
            .map(|(h, ip)| format!("{h}:{ip}"))
            .collect(),
        Some(n) => d.string_list(n, "`extra_hosts`"),
        None => Vec::new(),
    };
    s.sysctls = f
        .get("sysctls")
        .map(|n| d.string_map(n, "`sysctls`"))
        .unwrap_or_default();
    if let Some(n) = f.get("ulimits") {
        s.ulimits = ulimits(d, n);
    }
    if let Some(n) = f.get("logging")
        && let Some(l) = d.fields(n, "`logging`", LOGGING)
    {
        s.logging = Some(Logging {
            driver: l
                .get("driver")
                .and_then(|v| d.string(v, "`logging.driver`")),
            options: l
                .get("options")
                .map(|v| d.string_map(v, "`logging.options`"))
                .unwrap_or_default(),
        });
    }
    s.health = match f.get("health") {
        Some(n) => health(d, n, reg),
        None => Health {
            check: None,
            timings: reg.defaults.health,
        },
    };
    if let Some(n) = f.get("depends_on") {
        s.depends_on = depends_on(d, n);
    }
    s.resources = match f.get("resources") {
        Some(n) => resources(d, n, "`resources`").over(&reg.defaults.resources),
        None => reg.defaults.resources.clone(),
    };
    if let Some(n) = f.get("placement")
        && let Some(p) = d.fields(n, "`placement`", PLACEMENT)
    {
        s.placement.host = p.get("host").and_then(|v| d.name(v, "`placement.host`"));
        s.placement.labels = p
            .get("labels")
            .map(|v| d.string_map(v, "`placement.labels`"))
            .unwrap_or_default();
    }
    if let Some(n) = f.get("subdomain") {
        s.subdomain = d.string(n, "`subdomain`").map(|v| Spanned::new(v, n.span));
    }
    s.routes = d.items(f.get("routes"), "`routes`", route);
    if let Some(n) = f.get("build") {
        s.build = build(d, n);
    }
    if s.image.is_none() && s.build.is_none() && !f.has("image") && !f.has("build") {
        d.report(
            Diagnostic::new(
                Code::Missing,
                format!("{what} has no `image` and no `build`"),
            )
            .at(name.span, "nothing to run")
            .help("give it an `image: name:tag`, or a `build:` context"),
        );
    }
    if let Some(n) = f.get("extra") {
        s.extra = extra(d, n);
    }
    Some(s)
}

fn image(d: &mut Decoder, f: &Fields, s: &mut Service, what: &str) {
    let Some(node) = f.get("image") else {
        if let Some(v) = f.get("version") {
            d.report(
                Diagnostic::new(
                    Code::Missing,
                    format!("{what} has a `version` but no `image`"),
                )
                .at(v.span, "version of what?")
                .help("`version` is the tag of `image`: add `image: <name>`"),
            );
        }
        return;
    };
    let Some(mut text) = d.string(node, "`image`") else {
        return;
    };
    let mut span = node.span;
    if let Some(v) = f.get("version") {
        match &v.value {
            Value::Str(tag, _) => {
                if text.contains('$')
                    || values::parse_image_reference(&text)
                        .is_ok_and(|r| r.tag.is_none() && r.digest.is_none())
                {
                    text = format!("{text}:{tag}");
                    span = v.span;
                } else {
                    d.report(
                        Diagnostic::new(
                            Code::Exclusive,
                            format!("{what} gives a tag twice: in `image` and in `version`"),
                        )
                        .at(v.span, "second tag")
                        .related(node.span, "image already has a tag")
                        .help("keep the tag in one place"),
                    );
                }
            }
            _ => {
                d.wrong_type(v, "`version`", "a string");
                return;
            }
        }
    }
    match values::parse_image_reference(&text) {
        Ok(r) => {
            s.image = Some(Spanned::new(r, span));
            s.image_text = Some(text);
        }
        Err(reason) => d.report(
            Diagnostic::new(Code::BadImage, format!("`{text}` is not a valid image reference: {reason}"))
                .at(span, "bad image reference")
                .help("image references look like `postgres:16.4`, `ghcr.io/org/app:1.2` or `name@sha256:<digest>`"),
        ),
    }
}

fn category(d: &mut Decoder, node: &Node) -> Option<Name> {
    let text = d.string(node, "`category`")?;
    let ok = !text.is_empty() && text.split('/').all(|part| values::check_name(part).is_ok());
    if !ok {
        d.report(
            Diagnostic::new(Code::BadName, format!("`{text}` is not a valid category"))
                .at(node.span, "bad category")
                .help(
                    "a category is one or more names separated by `/`, e.g. `databases/relational`",
                ),
        );
        return None;
    }
    Some(Spanned::new(text, node.span))
}

fn networks(d: &mut Decoder, node: &Node) -> Vec<ServiceNetwork> {
    if let Value::Seq(items) = &node.value {
        return items
            .iter()
            .filter_map(|i| d.name(i, "a network"))
            .map(|name| ServiceNetwork {
                name,
                ..ServiceNetwork::default()
            })
            .collect();
    }
    let mut out = Vec::new();
    for (name, value) in d.named_entries(node, "`networks`") {
        let mut net = ServiceNetwork {
            name: name.clone(),
            ..ServiceNetwork::default()
        };
        if let Some(f) = d.fields(
            value,
            &format!("network `{}` of the service", name.value),
            SERVICE_NETWORK,
        ) {
            net.aliases = f
                .get("aliases")
                .map(|n| d.string_list(n, "`aliases`"))
                .unwrap_or_default();
            if let Some(n) = f.get("ipv4_address")
                && let Some(ip) = d.string(n, "`ipv4_address`")
            {
                if ip.parse::<std::net::Ipv4Addr>().is_err() {
                    d.report(
                        Diagnostic::new(Code::BadValue, format!("`{ip}` is not an IPv4 address"))
                            .at(n.span, "bad address"),
                    );
                }
                net.ipv4_address = Some(ip);
            }
        }
        out.push(net);
    }
    out
}

fn expose(d: &mut Decoder, node: &Node) -> Option<Expose> {
    match &node.value {
        Value::Int(_) => Some(Expose {
            name: None,
            port: d.port(node, "an exposed port")?,
            protocol: Protocol::Tcp,
            span: node.span,
        }),
        Value::Str(text, _) => {
            let (port, proto) = text.split_once('/').unwrap_or((text, "tcp"));
            let protocol = Protocol::ALL
                .iter()
                .find(|(n, _)| *n == proto)
                .map(|(_, p)| *p);
            let number = port
                .parse::<i64>()
                .ok()
                .and_then(|n| values::parse_port_number(n).ok());
            match (number, protocol) {
                (Some(port), Some(protocol)) => Some(Expose {
                    name: None,
                    port,
                    protocol,
                    span: node.span,
                }),
                _ => {
                    d.report(
                        Diagnostic::new(Code::BadPort, format!("`{text}` is not an exposed port"))
                            .at(node.span, "bad port")
                            .help("write a port number, `9000/udp`, or `{ name: metrics, port: 9187, protocol: http }`"),
                    );
                    None
                }
            }
        }
        _ => {
            let f = d.fields(node, "an exposed port", EXPOSE)?;
            let Some(port_node) = f.get("port") else {
                d.report(
                    Diagnostic::new(Code::Missing, "an exposed port needs `port`")
                        .at(node.span, "no port"),
                );
                return None;
            };
            let port = d.port(port_node, "`port`")?;
            let protocol = match f.get("protocol") {
                Some(n) => d.choice(n, "`protocol`", &Protocol::ALL)?,
                None => Protocol::Tcp,
            };
            Some(Expose {
                name: f.get("name").and_then(|n| d.string(n, "`name`")),
                port,
                protocol,
                span: node.span,
            })
        }
    }
}

fn port(d: &mut Decoder, node: &Node) -> Option<Port> {
    let short = match &node.value {
        Value::Int(_) => Some(d.text(node, "a port")?),
        Value::Str(s, _) => {
            d.text(node, "a port");
            Some(s.clone())
        }
        _ => None,
    };
    if let Some(text) = short {
        let spec = parse_port_spec(d, node, &text)?;
        return Some(Port {
            spec,
            name: None,
            mode: None,
            app_protocol: None,
            span: node.span,
        });
    }
    let f = d.fields(node, "a port", PORT)?;
    let Some(target) = f.get("target") else {
        d.report(
            Diagnostic::new(Code::Missing, "a published port needs `target`")
                .at(node.span, "no target"),
        );
        return None;
    };
    let target = d.port(target, "`target`")?;
    let published = f.get("published").and_then(|n| d.text(n, "`published`"));
    let host_ip = f.get("host_ip").and_then(|n| d.string(n, "`host_ip`"));
    let protocol = f.get("protocol").and_then(|n| d.string(n, "`protocol`"));
    let mut short = String::new();
    if let Some(ip) = &host_ip {
        short.push_str(&if ip.contains(':') {
            format!("[{ip}]:")
        } else {
            format!("{ip}:")
        });
    }
    match &published {
        Some(p) => short.push_str(&format!("{p}:")),
        None if host_ip.is_some() => short.push(':'),
        None => {}
    }
    short.push_str(&target.to_string());
    if let Some(p) = &protocol {
        short.push_str(&format!("/{p}"));
    }
    let spec = parse_port_spec(d, node, &short)?;
    Some(Port {
        spec,
        name: f.get("name").and_then(|n| d.string(n, "`name`")),
        mode: f.get("mode").and_then(|n| d.string(n, "`mode`")),
        app_protocol: f
            .get("app_protocol")
            .and_then(|n| d.string(n, "`app_protocol`")),
        span: node.span,
    })
}

fn parse_port_spec(d: &mut Decoder, node: &Node, text: &str) -> Option<PortSpec> {
    if text.contains("${") {
        return Some(PortSpec::Interpolated(text.to_string()));
    }
    match values::parse_port_mapping(text) {
        Ok(m) => Some(PortSpec::Mapping(m)),
        Err(reason) => {
            d.report(
                Diagnostic::new(
                    Code::BadPort,
                    format!("`{text}` is not a port mapping: {reason}"),
                )
                .at(node.span, "bad port")
                .help("ports look like `8080:80`, `127.0.0.1:5432:5432` or `53:53/udp`"),
            );
            None
        }
    }
}

fn env(d: &mut Decoder, node: &Node) -> Map<EnvEntry> {
    let mut out = Map::default();
    for (key, value) in d.entries(node, "`env`") {
        if !super::top::is_variable_name(&key.value) {
            d.report(
                Diagnostic::new(
                    Code::BadName,
                    format!("`{}` is not a valid environment variable name", key.value),
                )
                .at(key.span, "bad variable name")
                .help("use letters, digits and `_`, not starting with a digit"),
            );
        }
        let what = format!("env `{}`", key.value);
        let value_node = value;
        let v = match &value_node.value {
            Value::Map(_) => env_reference(d, value_node, &what),
            Value::Str(..) | Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                d.secret_bearing_text(value_node, &what).map(EnvValue::Text)
            }
            _ => {
                d.wrong_type(
                    value_node,
                    &what,
                    "a string, number, boolean, `{ secret: NAME }` or `{ var: NAME }`",
                );
                None
            }
        };
        if let Some(v) = v {
            let span =
                crate::source::Span::new(key.span.start, value_node.span.end.max(key.span.end));
            out.insert(
                key.value.clone(),
                EnvEntry {
                    name: key,
                    value: v,
                    span,
                },
            );
        }
    }
    out
}

fn env_reference(d: &mut Decoder, node: &Node, what: &str) -> Option<EnvValue> {
    let f = d.fields(node, what, ENV_VALUE)?;
    match (f.get("secret"), f.get("var")) {
        (Some(secret), None) => {
            let name = d.name(secret, "`secret`")?;
            let as_file = match f.get("as") {
                Some(n) => d.choice(n, "`as`", &[("env", false), ("file", true)])?,
                None => false,
            };
            Some(EnvValue::Secret { name, as_file })
        }
        (None, Some(var)) => {
            if let Some(a) = f.key_span("as") {
                d.report(
                    Diagnostic::new(Code::Exclusive, "`as` applies to secrets only")
                        .at(a, "not for `var`"),
                );
            }
            let text = d.string(var, "`var`")?;
            if !super::top::is_variable_name(&text) {
                d.report(
                    Diagnostic::new(
                        Code::BadName,
                        format!("`{text}` is not a valid variable name"),
                    )
                    .at(var.span, "bad variable name"),
                );
            }
            Some(EnvValue::Var(Spanned::new(text, var.span)))
        }
        (Some(_), Some(_)) => {
            d.report(
                Diagnostic::new(
                    Code::Exclusive,
                    format!("{what} names both a secret and a variable"),
                )
                .at(node.span, "pick one")
                .help("use `{ secret: NAME }` or `{ var: NAME }`"),
            );
            None
        }
        (None, None) => {
            d.report(
                Diagnostic::new(Code::Missing, format!("{what} needs `secret` or `var`"))
                    .at(node.span, "empty reference")
                    .help("use `{ secret: NAME }` or `{ var: NAME }`"),
            );
            None
        }
    }
}

fn config(d: &mut Decoder, node: &Node) -> Option<ConfigFile> {
    let f = d.fields(node, "a config file", CONFIG)?;
    let (Some(template), Some(target)) = (f.get("template"), f.get("target")) else {
        d.report(
            Diagnostic::new(Code::Missing, "a config file needs `template` and `target`")
                .at(node.span, "incomplete")
                .help("e.g. `{ template: ./templates/app.conf, target: /etc/app/app.conf }`"),
        );
        return None;
    };
    let template = Spanned::new(d.string(template, "`template`")?, template.span);
    let target = d.string(target, "`target`")?;
    let mode = match f.get("mode") {
        Some(n) => match &n.value {
            Value::Int(i) if (0..=0o7777).contains(i) => Some(*i as u32),
            Value::Str(s, _) => u32::from_str_radix(s, 8).ok().filter(|m| *m <= 0o7777),
            _ => None,
        }
        .or_else(|| {
            d.report(
                Diagnostic::new(
                    Code::BadValue,
                    "`mode` must be a file mode such as \"0440\"",
                )
                .at(n.span, "bad mode"),
            );
            None
        }),
        None => None,
    };
    Some(ConfigFile {
        template,
        target,
        mode,
    })
}

fn mount(d: &mut Decoder, node: &Node) -> Option<Mount> {
    if let Value::Str(text, _) = &node.value {
        d.text(node, "a volume");
        return short_mount(d, node, text);
    }
    let f = d.fields(node, "a volume", MOUNT)?;
    let kind = match f.get("type") {
        Some(n) => d.choice(
            n,
            "`type`",
            &[("volume", "volume"), ("bind", "bind"), ("tmpfs", "tmpfs")],
        )?,
        None => "volume",
    };
    let Some(target) = f.get("target").and_then(|n| d.string(n, "`target`")) else {
        d.report(
            Diagnostic::new(Code::Missing, "a volume needs `target`").at(node.span, "no target"),
        );
        return None;
    };
    let source_text = f.get("source").and_then(|n| d.string(n, "`source`"));
    let source = match (kind, source_text) {
        ("tmpfs", _) => MountSource::Tmpfs,
        ("bind", Some(path)) => MountSource::Bind(path),
        ("volume", Some(name)) => {
            let span = f.get("source").map(|n| n.span).unwrap_or(node.span);
            MountSource::Named(Spanned::new(name, span))
        }
        ("volume", None) => MountSource::Anonymous,
        _ => {
            d.report(
                Diagnostic::new(Code::Missing, "a bind mount needs `source`")
                    .at(node.span, "no source"),
            );
            return None;
        }
    };
    Some(Mount {
        source,
        target,
        read_only: f
            .get("read_only")
            .and_then(|n| d.bool(n, "`read_only`"))
            .unwrap_or(false),
        options: Vec::new(),
        span: node.span,
    })
}

/// `text` split at every `:` outside `${...}`, so `${SOCKET:-/run/docker.sock}:/sock` is
/// two parts.
fn split_mount(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'{' if i > 0 && bytes[i - 1] == b'$' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn short_mount(d: &mut Decoder, node: &Node, text: &str) -> Option<Mount> {
    let parts = split_mount(text);
    let (source, target, opts) = match parts.as_slice() {
        [target] => (None, *target, &[][..]),
        [source, target] => (Some(*source), *target, &[][..]),
        [source, target, rest @ ..] => (Some(*source), *target, rest),
        [] => unreachable!("split yields at least one part"),
    };
    if !target.starts_with('/') {
        d.report(
            Diagnostic::new(Code::BadValue, format!("`{text}`: the path in the container must be absolute"))
                .at(node.span, "bad mount")
                .help("volumes look like `pgdata:/var/lib/postgresql/data` or `./init:/docker-entrypoint-initdb.d:ro`"),
        );
        return None;
    }
    let source = match source {
        None => MountSource::Anonymous,
        Some(s) if s.starts_with(['.', '/', '~', '$']) => MountSource::Bind(s.to_string()),
        Some(s) => {
            let span = d.sub_span(node, text, 0..s.len());
            MountSource::Named(Spanned::new(s.to_string(), span))
        }
    };
    let mut read_only = false;
    let mut options = Vec::new();
    for opt in opts.iter().flat_map(|o| o.split(',')) {
        match opt {
            "ro" => read_only = true,
            "rw" => {}
            other => options.push(other.to_string()),
        }
    }
    Some(Mount {
        source,
        target: target.to_string(),
        read_only,
        options,
        span: node.span,
    })
}

pub(super) fn restart(d: &mut Decoder, node: &Node) -> Option<Spanned<Restart>> {
    // A bare `no` is a string in YAML 1.2, but YAML 1.1 tools write `false`: both mean "no".
    if node.value == Value::Bool(false) {
        return Some(Spanned::new(Restart::No, node.span));
    }
    d.choice(node, "`restart`", &Restart::ALL)
        .map(|r| Spanned::new(r, node.span))
}

fn ulimits(d: &mut Decoder, node: &Node) -> Map<Ulimit> {
    let mut out = Map::default();
    for (name, value) in d.entries(node, "`ulimits`") {
        let limit = match &value.value {
            Value::Int(i) => Some(Ulimit { soft: *i, hard: *i }),
            _ => d
                .fields(value, &format!("ulimit `{}`", name.value), ULIMIT)
                .and_then(|f| {
                    let soft = f.get("soft").and_then(|n| d.int(n, "`soft`"));
                    let hard = f.get("hard").and_then(|n| d.int(n, "`hard`"));
                    if !f.has("soft") || !f.has("hard") {
                        d.report(
                            Diagnostic::new(Code::Missing, format!("ulimit `{}` needs `soft` and `hard`", name.value))
                                .at(value.span, "incomplete")
                                .help("e.g. `nofile: { soft: 65536, hard: 65536 }`, or a single number for both"),
                        );
                    }
                    match (soft, hard) {
                        (Some(soft), Some(hard)) => Some(Ulimit { soft, hard }),
                        _ => None,
                    }
                }),
        };
        if let Some(l) = limit {
            out.insert(name.value, l);
        }
    }
    out
}

pub(super) fn health_timings(d: &mut Decoder, f: &Fields) -> HealthTimings {
    HealthTimings {
        interval: f.get("interval").and_then(|n| d.duration(n, "`interval`")),
        timeout: f.get("timeout").and_then(|n| d.duration(n, "`timeout`")),
        retries: f
            .get("retries")
            .and_then(|n| d.uint(n, "`retries`", 0, 1000)),
        start_period: f
            .get("start_period")
            .and_then(|n| d.duration(n, "`start_period`")),
    }
}

fn health(d: &mut Decoder, node: &Node, reg: &Registry) -> Health {
    let mut h = Health {
        check: None,
        timings: reg.defaults.health,
    };
    let Some(f) = d.fields(node, "`health`", HEALTH) else {
        return h;
    };
    h.timings = health_timings(d, &f).over(reg.defaults.health);
    let kinds: Vec<&str> = HEALTH_KINDS.iter().copied().filter(|k| f.has(k)).collect();
    if kinds.len() > 1 {
        let second = f.key_span(kinds[1]).unwrap_or(node.span);
        d.report(
            Diagnostic::new(
                Code::Exclusive,
                format!(
                    "`health` has {} checks: {}",
                    kinds.len(),
                    kinds.join(" and ")
                ),
            )
            .at(second, "second check")
            .related(f.key_span(kinds[0]).unwrap_or(node.span), "first check")
            .help("a health check is exactly one of exec, http, tcp, image or none"),
        );
        return h;
    }
    let Some(kind) = kinds.first() else {
        d.report(
            Diagnostic::new(Code::Missing, "`health` gives timings but no check")
                .at(node.span, "what should be checked?")
                .help("add one of `exec: [...]`, `http: { port: ... }`, `tcp: { port: ... }`, `image: true` or `none: true`"),
        );
        return h;
    };
    let value = f.get(kind).expect("kind was found among the keys");
    let check = match *kind {
        "exec" => d.command(value, "`health.exec`").map(HealthCheck::Exec),
        "http" => http_check(d, value),
        "tcp" => d
            .fields(value, "`health.tcp`", TCP)
            .and_then(|t| match t.get("port") {
                Some(p) => d
                    .port(p, "`tcp.port`")
                    .map(|port| HealthCheck::Tcp { port }),
                None => {
                    d.report(
                        Diagnostic::new(Code::Missing, "`tcp` needs `port`")
                            .at(value.span, "no port"),
                    );
                    None
                }
            }),
        "image" => flag(d, value, "`health.image`").then_some(HealthCheck::Image),
        _ => flag(d, value, "`health.none`").then_some(HealthCheck::None),
    };
    h.check = check.map(|c| Spanned::new(c, f.key_span(kind).unwrap_or(node.span)));
    h
}

/// `image: true` / `none: true`: anything but `true` is a mistake worth saying.
fn flag(d: &mut Decoder, node: &Node, what: &str) -> bool {
    match d.bool(node, what) {
        Some(true) => true,
        Some(false) => {
            d.report(
                Diagnostic::new(Code::BadValue, format!("{what} can only be `true`"))
                    .at(node.span, "remove the key instead"),
            );
            false
        }
        None => false,
    }
}

fn http_check(d: &mut Decoder, node: &Node) -> Option<HealthCheck> {
    let f = d.fields(node, "`health.http`", HTTP)?;
    let Some(port) = f.get("port") else {
        d.report(
            Diagnostic::new(Code::Missing, "`http` needs `port`")
                .at(node.span, "no port")
                .help("e.g. `http: { port: 8080, path: /health }`"),
        );
        return None;
    };
    let port = d.port(port, "`http.port`")?;
    let path = f
        .get("path")
        .and_then(|n| d.string(n, "`path`"))
        .unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        d.report(
            Diagnostic::new(
                Code::BadValue,
                format!("the health path `{path}` must start with `/`"),
            )
            .at(
                f.get("path").map(|n| n.span).unwrap_or(node.span),
                "relative path",
            ),
        );
    }
    let scheme = match f.get("scheme") {
        Some(n) => d
            .choice(n, "`scheme`", &[("http", "http"), ("https", "https")])?
            .to_string(),
        None => "http".into(),
    };
    let expect = match f.get("expect") {
        Some(n) => {
            let mut codes = Vec::new();
            let items: Vec<Node> = match &n.value {
                Value::Seq(items) => items.clone(),
                _ => vec![n.clone()],
            };
            for item in &items {
                if let Some(code) = d.uint(item, "an expected status", 100, 599) {
                    codes.push(code as u16);
                }
            }
            codes
        }
        None => Vec::new(),
    };
    Some(HealthCheck::Http(HttpCheck {
        port,
        path,
        scheme,
        insecure: f
            .get("insecure")
            .and_then(|n| d.bool(n, "`insecure`"))
            .unwrap_or(false),
        expect,
    }))
}

fn depends_on(d: &mut Decoder, node: &Node) -> Vec<Dependency> {
    // Compose's map form is accepted too: `{ postgres: { condition: healthy } }`.
    if node.as_map().is_some() {
        return d
            .named_entries(node, "`depends_on`")
            .into_iter()
            .filter_map(|(name, value)| {
                let f = d.fields(
                    value,
                    &format!("dependency `{}`", name.value),
                    &DEPENDENCY[1..],
                )?;
                Some(dependency_from(d, name, &f, value))
            })
            .collect();
    }
    let mut out = Vec::new();
    for item in d.list(node, "`depends_on`") {
        if item.as_str().is_some() {
            if let Some(name) = d.name(item, "a dependency") {
                out.push(Dependency {
                    service: name,
                    condition: None,
                    optional: false,
                    span: item.span,
                });
            }
            continue;
        }
        let Some(f) = d.fields(item, "a dependency", DEPENDENCY) else {
            continue;
        };
        let Some(name) = f.get("service").and_then(|n| d.name(n, "`service`")) else {
            if !f.has("service") {
                d.report(
                    Diagnostic::new(Code::Missing, "a dependency needs `service`")
                        .at(item.span, "depends on what?"),
                );
            }
            continue;
        };
        out.push(dependency_from(d, name, &f, item));
    }
    out
}

fn dependency_from(d: &mut Decoder, name: Name, f: &Fields, node: &Node) -> Dependency {
    let condition = f.get("condition").and_then(|n| {
        // Compose spells them service_healthy, service_started, service_completed_successfully.
        let text = n.as_str().unwrap_or_default();
        let compose = match text {
            "service_healthy" => Some(Condition::Healthy),
            "service_started" => Some(Condition::Started),
            "service_completed_successfully" => Some(Condition::Completed),
            _ => None,
        };
        compose
            .or_else(|| d.choice(n, "`condition`", &Condition::ALL))
            .map(|c| Spanned::new(c, n.span))
    });
    Dependency {
        service: name,
        condition,
        optional: f
            .get("optional")
            .and_then(|n| d.bool(n, "`optional`"))
            .unwrap_or(false),
        span: node.span,
    }
}

pub(super) fn resources(d: &mut Decoder, node: &Node, what: &str) -> Resources {
    let mut r = Resources::default();
    let Some(f) = d.fields(node, what, RESOURCES) else {
        return r;
    };
    r.cpus = f.get("cpus").and_then(|n| positive(d, n, "`cpus`"));
    r.memory = f.get("memory").and_then(|n| d.size(n, "`memory`"));
    if let Some(n) = f.get("reservations")
        && let Some(res) = d.fields(n, "`reservations`", RESERVATIONS)
    {
        r.reservations.cpus = res
            .get("cpus")
            .and_then(|n| positive(d, n, "`reservations.cpus`"));
        r.reservations.memory = res
            .get("memory")
            .and_then(|n| d.size(n, "`reservations.memory`"));
    }
    if let Some(n) = f.get("gpus") {
        r.gpus = gpus(d, n);
    }
    r
}

fn positive(d: &mut Decoder, node: &Node, what: &str) -> Option<f64> {
    let v = d.number(node, what)?;
    if v <= 0.0 {
        d.report(
            Diagnostic::new(Code::OutOfRange, format!("{what} must be more than 0"))
                .at(node.span, "not positive"),
        );
        return None;
    }
    Some(v)
}

fn gpus(d: &mut Decoder, node: &Node) -> Option<Gpus> {
    let nvidia = |count| Gpus {
        count,
        driver: "nvidia".into(),
        capabilities: vec!["gpu".into()],
    };
    match &node.value {
        Value::Int(_) => d.uint(node, "`gpus`", 1, 64).map(|n| nvidia(Some(n))),
        Value::Str(s, _) if s == "all" => Some(nvidia(None)),
        Value::Map(_) => {
            let f = d.fields(node, "`gpus`", GPUS)?;
            let count = match f.get("count") {
                Some(n) if n.as_str() == Some("all") => None,
                Some(n) => Some(d.uint(n, "`gpus.count`", 1, 64)?),
                None => None,
            };
            let mut g = nvidia(count);
            if let Some(driver) = f.get("driver").and_then(|n| d.string(n, "`driver`")) {
                g.driver = driver;
            }
            if let Some(caps) = f.get("capabilities") {
                g.capabilities = d.string_list(caps, "`capabilities`");
            }
            Some(g)
        }
        _ => {
            d.wrong_type(
                node,
                "`gpus`",
                "a count, `all`, or `{ count, driver, capabilities }`",
            );
            None
        }
    }
}

fn route(d: &mut Decoder, node: &Node) -> Option<Route> {
    let f = d.fields(node, "a route", ROUTE)?;
    let host = f
        .get("host")
        .and_then(|n| d.template(n, "`host`"))
        .map(|t| t.value);
    let path = f
        .get("path")
        .and_then(|n| d.string(n, "`path`"))
        .unwrap_or_else(|| "/".into());
    if !path.starts_with('/') {
        d.report(
            Diagnostic::new(
                Code::BadValue,
                format!("the route path `{path}` must start with `/`"),
            )
            .at(
                f.get("path").map(|n| n.span).unwrap_or(node.span),
                "relative path",
            ),
        );
    }
    let prefix = match f.get("match") {
        Some(n) => d
            .choice(n, "`match`", &[("prefix", true), ("exact", false)])
            .unwrap_or(true),
        None => true,
    };
    Some(Route {
        host,
        path,
        prefix,
        port: f.get("port").and_then(|n| d.port(n, "`port`")),
        entrypoints: f
            .get("entrypoints")
            .map(|n| d.string_list(n, "`entrypoints`"))
            .unwrap_or_default(),
        priority: f.get("priority").and_then(|n| d.int(n, "`priority`")),
        tls: f.get("tls").and_then(|n| d.bool(n, "`tls`")),
        auth: f.get("auth").and_then(|n| d.name(n, "`auth`")),
        from_subdomain: false,
        span: node.span,
    })
}

fn build(d: &mut Decoder, node: &Node) -> Option<Build> {
    if let Value::Str(context, _) = &node.value {
        return Some(Build {
            context: context.clone(),
            ..Build::default()
        });
    }
    let f = d.fields(node, "`build`", BUILD)?;
    Some(Build {
        context: f
            .get("context")
            .and_then(|n| d.string(n, "`context`"))
            .unwrap_or_else(|| ".".into()),
        dockerfile: f
            .get("dockerfile")
            .and_then(|n| d.string(n, "`dockerfile`")),
        target: f.get("target").and_then(|n| d.string(n, "`target`")),
        args: f
            .get("args")
            .map(|n| d.string_map(n, "`args`"))
            .unwrap_or_default(),
    })
}

fn extra(d: &mut Decoder, node: &Node) -> Map<Verbatim> {
    let mut out = Map::default();
    let Some(f) = d.fields(node, "`extra`", EXTRA) else {
        return out;
    };
    for engine in EXTRA {
        let Some(value) = f.get(engine) else { continue };
        let allowed = match *engine {
            "kubernetes" => Some(EXTRA_KUBERNETES),
            "nomad" => Some(EXTRA_NOMAD),
            _ => None,
        };
        let ok = match allowed {
            Some(keys) => d
                .fields(value, &format!("`extra.{engine}`"), keys)
                .is_some(),
            None => d.fields_any(value, &format!("`extra.{engine}`")).is_some(),
        };
        if ok {
            out.insert(engine.to_string(), to_verbatim(value));
        }
    }
    out
}

/// The routes of a service, with `subdomain` turned into a route on the stack's domain.
pub fn subdomain_route(s: &Service, domain: Option<&Template>) -> Option<Route> {
    let sub = s.subdomain.as_ref()?;
    let mut host = Template::literal(&format!("{}.", sub.value));
    if let Some(domain) = domain {
        host.parts.extend(domain.parts.iter().cloned());
    }
    Some(Route {
        host: Some(host),
        path: "/".into(),
        prefix: true,
        port: s.container_ports().first().copied(),
        entrypoints: Vec::new(),
        priority: None,
        tls: None,
        auth: None,
        from_subdomain: true,
        span: sub.span,
    })
}
