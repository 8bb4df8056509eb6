//! The top level of `muster.yaml` and everything declared there except services.

use std::sync::Arc;

use super::{Decoder, Fields, References, service};
use crate::diagnostic::{Code, Diagnostic};
use crate::registry::model::*;
use crate::registry::overlay::Split;
use crate::registry::yaml::{Node, Value};
use crate::source::{SourceFile, Span};

/// Where generated files go when the registry does not say.
const DEFAULT_OUTPUT: &str = "deploy";

/// The top-level keys of `muster.yaml`, in the order REGISTRY.md presents them.
pub const TOP: &[&str] = &[
    "version",
    "name",
    "description",
    "domain",
    "output",
    "targets",
    "proxy",
    "defaults",
    "variables",
    "secrets",
    "phases",
    "groups",
    "networks",
    "volumes",
    "engines",
    "environments",
    "services",
];
const DEFAULTS: &[&str] = &["restart", "health", "resources"];
const DEFAULT_HEALTH: &[&str] = &["interval", "timeout", "retries", "start_period"];
const VARIABLE: &[&str] = &["description", "required", "default", "example"];
const SECRET: &[&str] = &[
    "kind",
    "description",
    "length",
    "alphabet",
    "bytes",
    "url_safe",
    "bits",
    "prefix",
    "from",
    "file",
    "optional",
    "memory",
    "iterations",
    "parallelism",
    "on_rotate",
];
const ON_ROTATE: &[&str] = &["service", "exec"];
const PHASE: &[&str] = &["order", "timeout", "description"];
const GROUP: &[&str] = &["description", "services", "groups"];
const NETWORK: &[&str] = &["description", "subnet", "internal", "external", "name"];
const VOLUME: &[&str] = &["description", "path", "access", "size", "name", "external"];
const ENGINES: &[&str] = &["compose", "kubernetes", "nomad", "swarm"];
const ENGINE_COMPOSE: &[&str] = &["profiles_env", "hosts"];
const ENGINE_KUBERNETES: &[&str] = &[
    "ingress_class",
    "storage_class",
    "default_volume_size",
    "namespace",
];
const ENGINE_NOMAD: &[&str] = &[
    "datacenters",
    "region",
    "consul",
    "entrypoint",
    "mhz_per_cpu",
    "namespace",
];
/// An environment overlay may change anything but the identity of the stack.
pub const ENVIRONMENT: &[&str] = &[
    "description",
    "domain",
    "output",
    "targets",
    "proxy",
    "defaults",
    "variables",
    "secrets",
    "phases",
    "groups",
    "networks",
    "volumes",
    "engines",
    "services",
];

pub(super) fn known_keys() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("registry", TOP),
        ("defaults", DEFAULTS),
        ("defaultHealth", DEFAULT_HEALTH),
        ("variable", VARIABLE),
        ("secret", SECRET),
        ("onRotate", ON_ROTATE),
        ("phase", PHASE),
        ("group", GROUP),
        ("network", NETWORK),
        ("volume", VOLUME),
        ("engines", ENGINES),
        ("engineCompose", ENGINE_COMPOSE),
        ("engineKubernetes", ENGINE_KUBERNETES),
        ("engineNomad", ENGINE_NOMAD),
        ("environment", ENVIRONMENT),
    ]
}

/// Decodes a whole registry document (with any environment overlay already merged in).
pub fn decode_registry(root: &Node, src: &SourceFile) -> (Registry, References, Vec<Diagnostic>) {
    let mut d = Decoder::new(src);
    let mut reg = Registry {
        output: DEFAULT_OUTPUT.into(),
        ..Registry::default()
    };
    let Some(f) = d.fields(root, "the registry", TOP) else {
        return (reg, d.refs, d.diags);
    };
    settings(&mut d, &f, &mut reg);
    services(&mut d, &f, &mut reg);
    (reg, d.refs, d.diags)
}

/// Everything at the top level but `services`.
fn settings(d: &mut Decoder, f: &Fields, reg: &mut Registry) {
    reg.extensions = f.extensions();
    for key in TOP {
        setting(d, f, key, reg);
    }
}

/// Reads the top-level setting `key` from `f` into `reg`, replacing what `reg` held: an
/// absent optional setting gets its default. `services` and `x-` keys are read elsewhere.
fn setting(d: &mut Decoder, f: &Fields, key: &str, reg: &mut Registry) {
    let node = f.get(key);
    match key {
        "version" => match node {
            None => missing(d, f, "version", "add `version: 1` at the top"),
            Some(node) => match node.value {
                Value::Int(1) => reg.version = 1,
                Value::Int(v) => d.report(
                    Diagnostic::new(
                        Code::UnsupportedVersion,
                        format!("registry version {v} is not supported"),
                    )
                    .at(node.span, "unsupported version")
                    .help("this muster reads `version: 1`"),
                ),
                _ => d.wrong_type(node, "`version`", "the integer 1"),
            },
        },
        "name" => match node {
            None => missing(
                d,
                f,
                "name",
                "add `name: <stack-name>`; it names the Compose project, the Kubernetes namespace and the Nomad job prefix",
            ),
            Some(node) => {
                if let Some(name) = d.name(node, "`name`") {
                    d.check_name(&name);
                    reg.name = name;
                }
            }
        },
        "description" => reg.description = node.and_then(|n| d.string(n, "`description`")),
        "domain" => reg.domain = node.and_then(|n| d.template(n, "`domain`")),
        "output" => {
            reg.output = node
                .and_then(|n| d.string(n, "`output`"))
                .unwrap_or_else(|| DEFAULT_OUTPUT.into());
        }
        "targets" => {
            reg.targets = Vec::new();
            if let Some(node) = node {
                let names: Vec<(&str, Target)> =
                    Target::ALL.iter().map(|t| (t.as_str(), *t)).collect();
                for item in d.list(node, "`targets`") {
                    if let Some(t) = d.choice(item, "a target", &names) {
                        reg.targets.push(Spanned::new(t, item.span));
                    }
                }
            }
        }
        "proxy" => reg.proxy = node.and_then(|n| d.name(n, "`proxy`")),
        "defaults" => reg.defaults = node.map(|n| defaults(d, n)).unwrap_or_default(),
        "variables" => reg.variables = node.map(|n| variables(d, n)).unwrap_or_default(),
        "secrets" => reg.secrets = named(d, node, "`secrets`", secret),
        "phases" => {
            let mut position = 0;
            reg.phases = named(d, node, "`phases`", |d, name, value| {
                position += 1;
                Some(phase(d, name, value, position))
            });
        }
        "groups" => reg.groups = named(d, node, "`groups`", |d, n, v| Some(group(d, n, v))),
        "networks" => {
            reg.networks = named(d, node, "`networks`", |d, n, v| Some(network(d, n, v)));
        }
        "volumes" => reg.volumes = named(d, node, "`volumes`", |d, n, v| Some(volume(d, n, v))),
        "engines" => reg.engines = node.map(|n| engines(d, n)).unwrap_or_default(),
        "environments" => {
            reg.environments = Map::default();
            let entries = node
                .map(|n| d.named_entries(n, "`environments`"))
                .unwrap_or_default();
            for (name, value) in entries {
                // The overlay's content is checked when it is merged (see `registry::overlay`).
                if !matches!(value.value, Value::Map(_) | Value::Null) {
                    d.wrong_type(value, &format!("environment `{}`", name.value), "a mapping");
                }
                reg.environments.insert(name.value, name.span);
            }
        }
        _ => {}
    }
}

fn no_services(d: &mut Decoder, services: Span) {
    d.report(
        Diagnostic::new(Code::Missing, "the registry has no services")
            .at(services, "no services")
            .help("a registry describes at least one service"),
    );
}

/// The entries of a mapping of named things, each read by `decode` (None when it cannot
/// be used); empty when the mapping is absent.
fn named<T>(
    d: &mut Decoder,
    node: Option<&Node>,
    what: &str,
    mut decode: impl FnMut(&mut Decoder, Name, &Node) -> Option<T>,
) -> Map<T> {
    let mut out = Map::default();
    for (name, value) in node.map(|n| d.named_entries(n, what)).unwrap_or_default() {
        if let Some(thing) = decode(d, name.clone(), value) {
            out.insert(name.value, thing);
        }
    }
    out
}

fn services(d: &mut Decoder, f: &Fields, reg: &mut Registry) {
    match f.get("services") {
        None => missing(
            d,
            f,
            "services",
            "add a `services:` mapping with at least one service",
        ),
        Some(node) => {
            let entries = d.named_entries(node, "`services`");
            if entries.is_empty() && (node.is_null() || node.as_map().is_some_and(|m| m.is_empty()))
            {
                no_services(d, node.span);
            }
            for (name, service) in decode_services(d, reg, entries) {
                if let Some(s) = service {
                    reg.services.insert(name, Arc::new(s));
                }
            }
        }
    }
}

/// Services by name, in order; None for one that could not be decoded.
type Decoded = Vec<(String, Option<Service>)>;

/// Below this many services, threads would cost more than they save.
const SERVICES_PER_THREAD: usize = 256;

/// Decodes `entries` in order. Services decode independently of each other (they read only
/// the registry's settings), so a large registry decodes them in runs side by side, each
/// with a decoder of its own, and joins the runs' findings in order: the result is the same
/// as decoding one after the other.
fn decode_services(d: &mut Decoder, reg: &Registry, entries: Vec<(Name, &Node)>) -> Decoded {
    let decode_run = |d: &mut Decoder, run: &[(Name, &Node)]| -> Decoded {
        run.iter()
            .map(|(name, node)| {
                let service = service::decode_service(d, reg, name.clone(), node);
                (name.value.clone(), service)
            })
            .collect()
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(entries.len() / SERVICES_PER_THREAD);
    if threads < 2 {
        return decode_run(d, &entries);
    }
    let src = d.src;
    let runs: Vec<&[(Name, &Node)]> = entries.chunks(entries.len().div_ceil(threads)).collect();
    let decoded: Vec<(Decoded, Decoder)> = std::thread::scope(|scope| {
        let handles: Vec<_> = runs[1..]
            .iter()
            .map(|run| {
                scope.spawn(move || {
                    let mut own = Decoder::new(src);
                    let services = decode_run(&mut own, run);
                    (services, own)
                })
            })
            .collect();
        let mut own = Decoder::new(src);
        let first = (decode_run(&mut own, runs[0]), own);
        std::iter::once(first)
            .chain(
                handles
                    .into_iter()
                    .map(|h| h.join().expect("decoding a service does not panic")),
            )
            .collect()
    });
    let mut services = Vec::with_capacity(entries.len());
    for (run, mut own) in decoded {
        services.extend(run);
        d.absorb(&mut own);
    }
    services
}

/// An environment decoded from its base: the base's registry, references and diagnostics,
/// with what belonged to the settings and services the environment changes replaced by their
/// merged definitions decoded anew. Gives what [`decode_registry`] gives for the merged
/// document (see `overlay::split` for when that holds) without decoding what the
/// environment leaves alone.
pub fn decode_from_base(
    base: (&Registry, &References, &[Diagnostic]),
    split: &Split,
    src: &SourceFile,
) -> (Registry, References, Vec<Diagnostic>) {
    let (base, base_refs, base_diags) = base;
    // The base's text the environment changes: entries of the top level and of `services`,
    // so they never overlap.
    let mut replaced: Vec<Span> = split
        .changes
        .iter()
        .filter_map(|c| c.base)
        .chain(split.touched_entries.iter().copied())
        .collect();
    replaced.sort_by_key(|r| r.start);
    // What the base found outside what the environment changes.
    let kept = |span: Span| {
        let before = replaced.partition_point(|r| r.start <= span.start);
        before == 0 || replaced[before - 1].end < span.end
    };
    let mut d = Decoder::new(src);
    let mut reg = base.clone();
    if let Some(f) = d.fields(&split.settings, "the registry", TOP) {
        for key in &split.touched {
            setting(&mut d, &f, key, &mut reg);
        }
    }
    for (into, from) in [
        (&mut d.refs.variables, &base_refs.variables),
        (&mut d.refs.secrets, &base_refs.secrets),
        (&mut d.refs.hosts, &base_refs.hosts),
    ] {
        into.extend(from.iter().filter(|(_, span)| kept(*span)).cloned());
    }
    d.diags.extend(
        base_diags
            .iter()
            .filter(|diag| diag.span.is_none_or(kept))
            .cloned(),
    );
    if !split.services_left {
        no_services(&mut d, split.services);
    }
    for change in &split.changes {
        let decoded = change.merged.as_ref().and_then(|node| {
            // The base's findings about this service, its name included, were dropped.
            let name = Spanned::new(change.name.clone(), change.key);
            d.check_name(&name);
            service::decode_service(&mut d, &reg, name, node)
        });
        match (decoded, reg.services.get_mut(&change.name)) {
            (Some(s), Some(slot)) => *slot = Arc::new(s),
            (Some(s), None) => {
                reg.services.insert(change.name.clone(), Arc::new(s));
            }
            (None, _) => {
                reg.services.shift_remove(&change.name);
            }
        }
    }
    (reg, d.refs, d.diags)
}

fn missing(d: &mut Decoder, f: &Fields, key: &str, help: &str) {
    let span = Span::new(f.span.start, f.span.start);
    d.report(
        Diagnostic::new(Code::Missing, format!("the registry has no `{key}`"))
            .at(span, format!("`{key}` is required"))
            .help(help.to_string()),
    );
}

fn defaults(d: &mut Decoder, node: &Node) -> Defaults {
    let mut out = Defaults::default();
    let Some(f) = d.fields(node, "`defaults`", DEFAULTS) else {
        return out;
    };
    if let Some(n) = f.get("restart") {
        out.restart = service::restart(d, n);
    }
    if let Some(n) = f.get("health")
        && let Some(h) = d.fields(n, "`defaults.health`", DEFAULT_HEALTH)
    {
        out.health = service::health_timings(d, &h);
    }
    if let Some(n) = f.get("resources") {
        out.resources = service::resources(d, n, "`defaults.resources`");
    }
    out
}

fn variables(d: &mut Decoder, node: &Node) -> Map<Variable> {
    let mut out = Map::default();
    for (name, value) in d.entries(node, "`variables`") {
        if name.value.starts_with("x-") {
            continue;
        }
        if !is_variable_name(&name.value) {
            d.report(
                Diagnostic::new(Code::BadName, format!("`{}` is not a valid variable name", name.value))
                    .at(name.span, "bad variable name")
                    .help("variable names are letters, digits and `_`, not starting with a digit (e.g. `DOMAIN`)"),
            );
        }
        let mut var = Variable {
            name: name.clone(),
            ..Variable::default()
        };
        let what = format!("variable `{}`", name.value);
        if let Some(f) = d.fields(value, &what, VARIABLE) {
            var.description = f
                .get("description")
                .and_then(|n| d.string(n, "`description`"));
            var.required = f
                .get("required")
                .and_then(|n| d.bool(n, "`required`"))
                .unwrap_or(false);
            var.default = f.get("default").and_then(|n| d.text(n, "`default`"));
            var.example = f.get("example").and_then(|n| d.text(n, "`example`"));
            if var.required && var.default.is_some() {
                d.report(
                    Diagnostic::new(
                        Code::Exclusive,
                        format!("{what} is required and has a default"),
                    )
                    .at(
                        f.key_span("default").unwrap_or(name.span),
                        "a default makes it optional",
                    )
                    .help("drop `required: true`, or drop the default and give an `example`"),
                );
            }
        }
        out.insert(name.value, var);
    }
    out
}

pub fn is_variable_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn secret(d: &mut Decoder, name: Name, node: &Node) -> Option<Secret> {
    let what = format!("secret `{}`", name.value);
    let f = d.fields(node, &what, SECRET)?;
    let kind = match f.get("kind") {
        // A bad kind is reported; the secret is kept (as external) so uses of it are not
        // reported as unknown too.
        Some(n) => Spanned::new(
            d.choice(n, &format!("the kind of {what}"), &SecretKind::ALL)
                .unwrap_or(SecretKind::External),
            n.span,
        ),
        None => {
            let kinds: Vec<&str> = SecretKind::ALL.iter().map(|(n, _)| *n).collect();
            d.report(
                Diagnostic::new(Code::Missing, format!("{what} has no `kind`"))
                    .at(name.span, "`kind` is required")
                    .help(format!("kinds: {}", kinds.join(", "))),
            );
            return None;
        }
    };
    let mut s = Secret {
        name,
        kind,
        description: f
            .get("description")
            .and_then(|n| d.string(n, "`description`")),
        length: None,
        alphabet: None,
        bytes: None,
        url_safe: false,
        bits: None,
        prefix: f.get("prefix").and_then(|n| d.string(n, "`prefix`")),
        from: None,
        file: None,
        optional: false,
        argon2: Argon2Params::default(),
        on_rotate: None,
        span: node.span,
    };
    let k = kind.value;
    // Each setting belongs to some kinds only: report it elsewhere rather than ignore it.
    let applies: &[(&str, &[SecretKind])] = &[
        ("length", &[SecretKind::Password]),
        ("alphabet", &[SecretKind::Password]),
        ("bytes", &[SecretKind::Hex, SecretKind::Base64]),
        ("url_safe", &[SecretKind::Base64]),
        ("bits", &[SecretKind::Rsa]),
        (
            "from",
            &[
                SecretKind::Argon2id,
                SecretKind::Ssha,
                SecretKind::Urlencode,
            ],
        ),
        ("file", &[SecretKind::External]),
        ("optional", &[SecretKind::External]),
        ("memory", &[SecretKind::Argon2id]),
        ("iterations", &[SecretKind::Argon2id]),
        ("parallelism", &[SecretKind::Argon2id]),
    ];
    for (key, kinds) in applies {
        if f.has(key) && !kinds.contains(&k) {
            let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            d.report(
                Diagnostic::new(
                    Code::Exclusive,
                    format!("`{key}` does not apply to a {} secret", k.as_str()),
                )
                .at(f.key_span(key).unwrap_or(s.span), "not for this kind")
                .help(format!("`{key}` is for kind {}", names.join(" or "))),
            );
        }
    }
    if let Some(n) = f.get("length") {
        s.length = d
            .uint(n, "a password `length`", 1, 4096)
            .map(|v| Spanned::new(v, n.span));
    }
    if let Some(n) = f.get("alphabet") {
        s.alphabet = d.choice(n, "`alphabet`", &Alphabet::ALL);
    }
    if let Some(n) = f.get("bytes") {
        s.bytes = d
            .uint(n, "`bytes`", 1, 8192)
            .map(|v| Spanned::new(v, n.span));
    }
    s.url_safe = f
        .get("url_safe")
        .and_then(|n| d.bool(n, "`url_safe`"))
        .unwrap_or(false);
    if let Some(n) = f.get("bits") {
        s.bits = d
            .uint(n, "RSA `bits`", 2048, 16384)
            .map(|v| Spanned::new(v, n.span));
    }
    s.from = f.get("from").and_then(|n| d.name(n, "`from`"));
    if k.is_derived() && s.from.is_none() && !f.has("from") {
        d.report(
            Diagnostic::new(
                Code::Missing,
                format!("{what} is derived but has no `from`"),
            )
            .at(s.kind.span, "derived kind")
            .help("name the secret it is computed from, e.g. `from: admin-password`"),
        );
    }
    s.file = f.get("file").and_then(|n| d.string(n, "`file`"));
    s.optional = f
        .get("optional")
        .and_then(|n| d.bool(n, "`optional`"))
        .unwrap_or(false);
    if let Some(n) = f.get("memory") {
        s.argon2.memory_kib = d
            .size(n, "argon2 `memory`")
            .map(|b| (b / 1024).min(u64::from(u32::MAX)) as u32);
    }
    if let Some(n) = f.get("iterations") {
        s.argon2.iterations = d.uint(n, "argon2 `iterations`", 1, 100);
    }
    if let Some(n) = f.get("parallelism") {
        s.argon2.parallelism = d.uint(n, "argon2 `parallelism`", 1, 64);
    }
    if let Some(n) = f.get("on_rotate")
        && let Some(r) = d.fields(n, "`on_rotate`", ON_ROTATE)
    {
        let service = r
            .get("service")
            .and_then(|n| d.name(n, "`on_rotate.service`"));
        let exec = r.get("exec").and_then(|n| d.command(n, "`on_rotate.exec`"));
        match (service, exec) {
            (Some(service), Some(exec)) => s.on_rotate = Some(OnRotate { service, exec }),
            _ if !r.has("service") || !r.has("exec") => d.report(
                Diagnostic::new(Code::Missing, "`on_rotate` needs `service` and `exec`")
                    .at(n.span, "incomplete")
                    .help("e.g. `on_rotate: { service: postgres, exec: [psql, ...] }`"),
            ),
            _ => {}
        }
    }
    Some(s)
}

fn phase(d: &mut Decoder, name: Name, node: &Node, position: i64) -> Phase {
    let mut p = Phase {
        name: name.clone(),
        order: position,
        timeout: DEFAULT_PHASE_TIMEOUT,
        description: None,
    };
    let what = format!("phase `{}`", name.value);
    if let Some(f) = d.fields(node, &what, PHASE) {
        if let Some(o) = f.get("order").and_then(|n| d.int(n, "a phase `order`")) {
            p.order = o;
        }
        if let Some(t) = f
            .get("timeout")
            .and_then(|n| d.duration(n, "a phase `timeout`"))
        {
            p.timeout = t;
        }
        p.description = f
            .get("description")
            .and_then(|n| d.string(n, "`description`"));
    }
    p
}

fn group(d: &mut Decoder, name: Name, node: &Node) -> Group {
    let mut g = Group {
        name: name.clone(),
        ..Group::default()
    };
    let what = format!("group `{}`", name.value);
    if let Some(f) = d.fields(node, &what, GROUP) {
        g.description = f
            .get("description")
            .and_then(|n| d.string(n, "`description`"));
        g.services = f
            .get("services")
            .map(|n| d.name_list(n, "`services`"))
            .unwrap_or_default();
        g.groups = f
            .get("groups")
            .map(|n| d.name_list(n, "`groups`"))
            .unwrap_or_default();
    }
    g
}

fn network(d: &mut Decoder, name: Name, node: &Node) -> Network {
    let mut n = Network {
        name: name.clone(),
        ..Network::default()
    };
    let what = format!("network `{}`", name.value);
    if let Some(f) = d.fields(node, &what, NETWORK) {
        n.description = f
            .get("description")
            .and_then(|v| d.string(v, "`description`"));
        if let Some(v) = f.get("subnet")
            && let Some(subnet) = d.string(v, "`subnet`")
        {
            if !is_cidr(&subnet) {
                d.report(
                    Diagnostic::new(Code::BadValue, format!("`{subnet}` is not a subnet"))
                        .at(v.span, "expected an address block")
                        .help("write it in CIDR notation, e.g. `172.20.0.0/24`"),
                );
            }
            n.subnet = Some(subnet);
        }
        n.internal = f
            .get("internal")
            .and_then(|v| d.bool(v, "`internal`"))
            .unwrap_or(false);
        n.external = f
            .get("external")
            .and_then(|v| d.bool(v, "`external`"))
            .unwrap_or(false);
        n.engine_name = f.get("name").and_then(|v| d.string(v, "`name`"));
    }
    n
}

fn is_cidr(s: &str) -> bool {
    let Some((addr, bits)) = s.split_once('/') else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits.parse::<u8>().is_ok_and(|b| b <= 32),
        Ok(std::net::IpAddr::V6(_)) => bits.parse::<u8>().is_ok_and(|b| b <= 128),
        Err(_) => false,
    }
}

fn volume(d: &mut Decoder, name: Name, node: &Node) -> Volume {
    let mut v = Volume {
        name: name.clone(),
        ..Volume::default()
    };
    let what = format!("volume `{}`", name.value);
    if let Some(f) = d.fields(node, &what, VOLUME) {
        v.description = f
            .get("description")
            .and_then(|n| d.string(n, "`description`"));
        v.path = f
            .get("path")
            .and_then(|n| d.template(n, "`path`"))
            .map(|t| t.value);
        if let Some(n) = f.get("access") {
            v.shared = d
                .choice(n, "`access`", &[("single", false), ("shared", true)])
                .unwrap_or(false);
        }
        v.size = f.get("size").and_then(|n| d.size(n, "`size`"));
        v.external = f
            .get("external")
            .and_then(|n| d.bool(n, "`external`"))
            .unwrap_or(false);
        v.engine_name = f.get("name").and_then(|n| d.string(n, "`name`"));
        if v.external && v.path.is_some() {
            d.report(
                Diagnostic::new(
                    Code::Exclusive,
                    format!("{what} is external and bind-backed"),
                )
                .at(
                    f.key_span("path").unwrap_or(name.span),
                    "`path` with `external`",
                )
                .help("an external volume exists outside this stack; drop `path` or `external`"),
            );
        }
    }
    v
}

fn engines(d: &mut Decoder, node: &Node) -> Engines {
    let mut e = Engines::default();
    let Some(f) = d.fields(node, "`engines`", ENGINES) else {
        return e;
    };
    if let Some(n) = f.get("compose")
        && let Some(c) = d.fields(n, "`engines.compose`", ENGINE_COMPOSE)
    {
        e.compose.profiles_env = c
            .get("profiles_env")
            .and_then(|v| d.bool(v, "`profiles_env`"))
            .unwrap_or(false);
        if let Some(hosts) = c.get("hosts") {
            for (name, value) in d.named_entries(hosts, "`engines.compose.hosts`") {
                if let Some(url) = d.string(value, "a Docker endpoint") {
                    if !["ssh://", "tcp://", "unix://"]
                        .iter()
                        .any(|p| url.starts_with(p))
                    {
                        d.report(
                            Diagnostic::new(
                                Code::BadValue,
                                format!("`{url}` is not a Docker endpoint"),
                            )
                            .at(value.span, "expected ssh://, tcp:// or unix://")
                            .help("e.g. `ssh://deploy@server-a` or `unix:///run/docker.sock`"),
                        );
                    }
                    e.compose
                        .hosts
                        .insert(name.value, Spanned::new(url, value.span));
                }
            }
        }
    }
    if let Some(n) = f.get("kubernetes")
        && let Some(k) = d.fields(n, "`engines.kubernetes`", ENGINE_KUBERNETES)
    {
        e.kubernetes.ingress_class = k
            .get("ingress_class")
            .and_then(|v| d.string(v, "`ingress_class`"));
        e.kubernetes.storage_class = k
            .get("storage_class")
            .and_then(|v| d.string(v, "`storage_class`"));
        e.kubernetes.default_volume_size = k
            .get("default_volume_size")
            .and_then(|v| d.size(v, "`default_volume_size`"));
        e.kubernetes.namespace = k.get("namespace").and_then(|v| d.string(v, "`namespace`"));
    }
    if let Some(n) = f.get("nomad")
        && let Some(k) = d.fields(n, "`engines.nomad`", ENGINE_NOMAD)
    {
        e.nomad.datacenters = k
            .get("datacenters")
            .map(|v| d.string_list(v, "`datacenters`"))
            .unwrap_or_default();
        e.nomad.region = k.get("region").and_then(|v| d.string(v, "`region`"));
        e.nomad.consul = k.get("consul").and_then(|v| d.string(v, "`consul`"));
        e.nomad.entrypoint = k
            .get("entrypoint")
            .and_then(|v| d.string(v, "`entrypoint`"));
        e.nomad.mhz_per_cpu = k
            .get("mhz_per_cpu")
            .and_then(|v| d.uint(v, "`mhz_per_cpu`", 1, 100_000));
        e.nomad.namespace = k.get("namespace").and_then(|v| d.string(v, "`namespace`"));
    }
    if let Some(n) = f.get("swarm")
        && let Some(s) = d.fields(n, "`engines.swarm`", &[])
    {
        e.swarm = s.extensions();
    }
    e
}
