//! The registry as typed data: what `muster.yaml` means, with the spans needed to point back
//! at it. Everything muster derives (checks, graphs, generated files, runtime plans) reads
//! these types; nothing downstream looks at YAML again.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

/// The registry's maps by name: in source order, hashed with foldhash (lookups by name are
/// a large part of checking a big registry, and SipHash's resistance is not needed for
/// them to stay fast: foldhash is seeded per process).
pub type Map<V> = IndexMap<String, V, foldhash::fast::RandomState>;

use crate::registry::values::{ImageRef, PortMapping, Template};
use crate::source::Span;

/// A value and the text it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Spanned<T> {
        Spanned { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

pub type Name = Spanned<String>;

/// Verbatim data kept for engines (`extra`, `labels` values, `x-` keys): ordered JSON.
pub type Verbatim = serde_json::Value;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Registry {
    pub version: u32,
    pub name: Name,
    pub description: Option<String>,
    pub domain: Option<Spanned<Template>>,
    pub output: String,
    /// Engines the stack is meant for; empty means all of them.
    pub targets: Vec<Spanned<Target>>,
    pub proxy: Option<Name>,
    pub defaults: Defaults,
    pub variables: Map<Variable>,
    pub secrets: Map<Secret>,
    pub phases: Map<Phase>,
    pub groups: Map<Group>,
    pub networks: Map<Network>,
    pub volumes: Map<Volume>,
    pub engines: Engines,
    /// Environment names and where they are declared; their overlays are applied by `resolve`.
    pub environments: Map<Span>,
    pub services: Map<Arc<Service>>,
    /// `x-` keys at the top level, kept for engines that understand them.
    pub extensions: Map<Verbatim>,
    /// The environment merged into this registry, if any.
    pub environment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    Compose,
    Swarm,
    Kubernetes,
    Nomad,
}

impl Target {
    pub const ALL: [Target; 4] = [
        Target::Compose,
        Target::Swarm,
        Target::Kubernetes,
        Target::Nomad,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::Compose => "compose",
            Target::Swarm => "swarm",
            Target::Kubernetes => "kubernetes",
            Target::Nomad => "nomad",
        }
    }

    pub fn parse(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn is_cluster(self) -> bool {
        matches!(self, Target::Swarm | Target::Kubernetes | Target::Nomad)
    }
}

impl Registry {
    /// The engines this stack targets (all of them when `targets` is absent).
    pub fn target_engines(&self) -> Vec<Target> {
        if self.targets.is_empty() {
            Target::ALL.to_vec()
        } else {
            self.targets.iter().map(|t| t.value).collect()
        }
    }

    /// Services that take part in `all` and in generated files.
    pub fn enabled_services(&self) -> impl Iterator<Item = &Service> {
        self.services
            .values()
            .map(Arc::as_ref)
            .filter(|s| s.enabled)
    }

    pub fn phase_order(&self, phase: &str) -> Option<i64> {
        self.phases.get(phase).map(|p| p.order)
    }

    /// The condition a dependency waits for, with the defaults of REGISTRY.md: `healthy` if
    /// the target has a health check, `completed` if it is a job, else `started`.
    pub fn effective_condition(&self, dep: &Dependency) -> Condition {
        if let Some(c) = dep.condition {
            return c.value;
        }
        match self.services.get(&dep.service.value) {
            Some(target) if target.job => Condition::Completed,
            Some(target) if target.health.has_check() => Condition::Healthy,
            _ => Condition::Started,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Defaults {
    pub restart: Option<Spanned<Restart>>,
    pub health: HealthTimings,
    pub resources: Resources,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Variable {
    pub name: Name,
    pub description: Option<String>,
    pub required: bool,
    pub default: Option<String>,
    pub example: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Secret {
    pub name: Name,
    pub kind: Spanned<SecretKind>,
    pub description: Option<String>,
    /// password: number of characters.
    pub length: Option<Spanned<u32>>,
    pub alphabet: Option<Alphabet>,
    /// hex, base64: number of random bytes.
    pub bytes: Option<Spanned<u32>>,
    /// base64: use the URL-safe alphabet.
    pub url_safe: bool,
    /// rsa: key size.
    pub bits: Option<Spanned<u32>>,
    pub prefix: Option<String>,
    /// derived kinds: the secret this one is computed from.
    pub from: Option<Name>,
    /// external: a file to read the value from.
    pub file: Option<String>,
    /// external: may stay empty.
    pub optional: bool,
    pub argon2: Argon2Params,
    pub on_rotate: Option<OnRotate>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    Password,
    Hex,
    Base64,
    Uuid,
    Rsa,
    Ed25519,
    Argon2id,
    Ssha,
    Urlencode,
    External,
}

impl SecretKind {
    pub const ALL: [(&'static str, SecretKind); 10] = [
        ("password", SecretKind::Password),
        ("hex", SecretKind::Hex),
        ("base64", SecretKind::Base64),
        ("uuid", SecretKind::Uuid),
        ("rsa", SecretKind::Rsa),
        ("ed25519", SecretKind::Ed25519),
        ("argon2id", SecretKind::Argon2id),
        ("ssha", SecretKind::Ssha),
        ("urlencode", SecretKind::Urlencode),
        ("external", SecretKind::External),
    ];

    pub fn as_str(self) -> &'static str {
        SecretKind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }

    /// Kinds computed from another secret (`from:`).
    pub fn is_derived(self) -> bool {
        matches!(
            self,
            SecretKind::Argon2id | SecretKind::Ssha | SecretKind::Urlencode
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// Letters and digits: safe in URLs, shells and connection strings (the default).
    Alnum,
    /// Lowercase letters and digits.
    Lower,
    Hex,
    /// Letters, digits and punctuation, without space, quotes, backslash or `$`.
    Symbols,
}

impl Alphabet {
    pub const ALL: [(&'static str, Alphabet); 4] = [
        ("alnum", Alphabet::Alnum),
        ("lower", Alphabet::Lower),
        ("hex", Alphabet::Hex),
        ("symbols", Alphabet::Symbols),
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Argon2Params {
    pub memory_kib: Option<u32>,
    pub iterations: Option<u32>,
    pub parallelism: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OnRotate {
    pub service: Name,
    pub exec: Command,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub name: Name,
    pub order: i64,
    pub timeout: Duration,
    pub description: Option<String>,
}

/// The phase timeout when a phase gives none.
pub const DEFAULT_PHASE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    pub name: Name,
    pub description: Option<String>,
    pub services: Vec<Name>,
    pub groups: Vec<Name>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Network {
    pub name: Name,
    pub description: Option<String>,
    pub subnet: Option<String>,
    pub internal: bool,
    pub external: bool,
    /// The engine-level name, when it differs from the registry name.
    pub engine_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Volume {
    pub name: Name,
    pub description: Option<String>,
    /// Bind-backed: the host folder holding the data.
    pub path: Option<Template>,
    pub shared: bool,
    pub size: Option<u64>,
    pub external: bool,
    pub engine_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Engines {
    pub compose: ComposeEngine,
    pub kubernetes: KubernetesEngine,
    pub nomad: NomadEngine,
    pub swarm: Map<Verbatim>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ComposeEngine {
    pub profiles_env: bool,
    /// Docker endpoints by host name (`ssh://…`, `tcp://…`, `unix://…`).
    pub hosts: Map<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct KubernetesEngine {
    pub ingress_class: Option<String>,
    pub storage_class: Option<String>,
    pub default_volume_size: Option<u64>,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NomadEngine {
    pub datacenters: Vec<String>,
    pub region: Option<String>,
    pub consul: Option<String>,
    pub entrypoint: Option<String>,
    pub mhz_per_cpu: Option<u32>,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Service {
    pub name: Name,
    pub description: Option<String>,
    pub enabled: bool,
    pub image: Option<Spanned<ImageRef>>,
    /// The image reference as written (with `version` appended), for engines.
    pub image_text: Option<String>,
    pub category: Option<Name>,
    pub phase: Option<Name>,
    pub groups: Vec<Name>,
    pub tags: Vec<String>,
    pub critical: bool,
    pub global: bool,
    pub replicas: Option<Spanned<u32>>,
    pub container_name: Option<Spanned<String>>,
    pub hostname: Option<String>,
    pub networks: Vec<ServiceNetwork>,
    pub network_mode: Option<Spanned<String>>,
    pub aliases: Vec<String>,
    pub expose: Vec<Expose>,
    pub ports: Vec<Port>,
    pub env: Map<EnvEntry>,
    pub secrets: Vec<Name>,
    pub env_files: Vec<String>,
    pub configs: Vec<ConfigFile>,
    pub volumes: Vec<Mount>,
    pub command: Option<Command>,
    pub entrypoint: Option<Command>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub labels: Map<String>,
    pub restart: Option<Spanned<Restart>>,
    pub read_only: Option<bool>,
    pub init: Option<bool>,
    pub stop_grace_period: Option<Duration>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub privileged: Option<bool>,
    pub devices: Vec<String>,
    pub tmpfs: Vec<String>,
    pub shm_size: Option<u64>,
    pub pid: Option<String>,
    pub dns: Vec<String>,
    pub extra_hosts: Vec<String>,
    pub sysctls: Map<String>,
    pub ulimits: Map<Ulimit>,
    pub logging: Option<Logging>,
    pub health: Health,
    pub depends_on: Vec<Dependency>,
    pub resources: Resources,
    pub placement: Placement,
    pub subdomain: Option<Spanned<String>>,
    pub routes: Vec<Route>,
    pub build: Option<Build>,
    pub job: bool,
    pub extra: Map<Verbatim>,
    pub extensions: Map<Verbatim>,
    /// The whole service definition in the source.
    pub span: Span,
}

impl Service {
    pub fn replica_count(&self) -> u32 {
        self.replicas.as_ref().map(|r| r.value).unwrap_or(1)
    }

    /// The ports the container listens on: `expose` plus the targets of `ports`.
    pub fn container_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.expose.iter().map(|e| e.port).collect();
        for p in &self.ports {
            if let PortSpec::Mapping(m) = &p.spec {
                for port in m.target.start..=m.target.end {
                    if !ports.contains(&port) {
                        ports.push(port);
                    }
                }
            }
        }
        ports
    }

    pub fn restart_policy(&self) -> Option<Restart> {
        if self.job {
            return Some(Restart::No);
        }
        self.restart.as_ref().map(|r| r.value)
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceNetwork {
    pub name: Name,
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expose {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Http,
    Https,
    Grpc,
}

impl Protocol {
    pub const ALL: [(&'static str, Protocol); 5] = [
        ("tcp", Protocol::Tcp),
        ("udp", Protocol::Udp),
        ("http", Protocol::Http),
        ("https", Protocol::Https),
        ("grpc", Protocol::Grpc),
    ];

    /// The transport protocol under it.
    pub fn transport(self) -> &'static str {
        match self {
            Protocol::Udp => "udp",
            _ => "tcp",
        }
    }
}

/// A published port, short (`"127.0.0.1:5432:5432"`) or long form.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub spec: PortSpec,
    /// Long-form extras: `name`, `mode`, `app_protocol`.
    pub name: Option<String>,
    pub mode: Option<String>,
    pub app_protocol: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PortSpec {
    Mapping(PortMapping),
    /// Holds `${VAR}`: checked and published as written.
    Interpolated(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnvEntry {
    pub name: Spanned<String>,
    pub value: EnvValue,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EnvValue {
    /// A plain value, possibly with placeholders. Numbers and booleans keep their text.
    Text(Template),
    Secret {
        name: Name,
        as_file: bool,
    },
    Var(Name),
}

impl EnvValue {
    /// Whether the value carries a secret, whole or inside a string.
    pub fn holds_secret(&self) -> bool {
        match self {
            EnvValue::Text(t) => t.secrets().next().is_some(),
            EnvValue::Secret { .. } => true,
            EnvValue::Var(_) => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigFile {
    pub template: Spanned<String>,
    pub target: String,
    pub mode: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub source: MountSource,
    pub target: String,
    pub read_only: bool,
    /// Short-form options other than `ro`/`rw` (e.g. `z`, `cached`), kept for Compose.
    pub options: Vec<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MountSource {
    /// A volume declared under `volumes:`.
    Named(Name),
    /// A host path (relative paths are relative to the registry).
    Bind(String),
    /// No source: a fresh anonymous volume.
    Anonymous,
    Tmpfs,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A string. For `command`/`entrypoint` it is split into words as Compose does (no
    /// shell); for a health check it is run by a shell (`CMD-SHELL`).
    Shell(String),
    /// A list: run as is.
    Exec(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    No,
    Always,
    OnFailure,
    UnlessStopped,
}

impl Restart {
    pub const ALL: [(&'static str, Restart); 4] = [
        ("no", Restart::No),
        ("always", Restart::Always),
        ("on-failure", Restart::OnFailure),
        ("unless-stopped", Restart::UnlessStopped),
    ];

    pub fn as_str(self) -> &'static str {
        Restart::ALL
            .iter()
            .find(|(_, r)| *r == self)
            .map(|(n, _)| *n)
            .unwrap_or("no")
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Logging {
    pub driver: Option<String>,
    pub options: Map<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Health {
    pub check: Option<Spanned<HealthCheck>>,
    pub timings: HealthTimings,
}

impl Health {
    /// Whether something actually probes the service (`none` and no check do not).
    pub fn has_check(&self) -> bool {
        matches!(
            self.check.as_ref().map(|c| &c.value),
            Some(
                HealthCheck::Exec(_)
                    | HealthCheck::Http(_)
                    | HealthCheck::Tcp { .. }
                    | HealthCheck::Image
            )
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum HealthCheck {
    Exec(Command),
    Http(HttpCheck),
    Tcp { port: u16 },
    Image,
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpCheck {
    pub port: u16,
    pub path: String,
    pub scheme: String,
    pub insecure: bool,
    pub expect: Vec<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HealthTimings {
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub start_period: Option<Duration>,
}

impl HealthTimings {
    /// Field by field: `self` wins, `defaults` fills the gaps.
    pub fn over(self, defaults: HealthTimings) -> HealthTimings {
        HealthTimings {
            interval: self.interval.or(defaults.interval),
            timeout: self.timeout.or(defaults.timeout),
            retries: self.retries.or(defaults.retries),
            start_period: self.start_period.or(defaults.start_period),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub service: Name,
    pub condition: Option<Spanned<Condition>>,
    pub optional: bool,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Condition {
    Healthy,
    Started,
    Completed,
}

impl Condition {
    pub const ALL: [(&'static str, Condition); 3] = [
        ("healthy", Condition::Healthy),
        ("started", Condition::Started),
        ("completed", Condition::Completed),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Healthy => "healthy",
            Condition::Started => "started",
            Condition::Completed => "completed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resources {
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
    pub reservations: Reservations,
    pub gpus: Option<Gpus>,
}

impl Resources {
    /// Field by field: `self` wins, `defaults` fills the gaps.
    pub fn over(&self, defaults: &Resources) -> Resources {
        Resources {
            cpus: self.cpus.or(defaults.cpus),
            memory: self.memory.or(defaults.memory),
            reservations: Reservations {
                cpus: self.reservations.cpus.or(defaults.reservations.cpus),
                memory: self.reservations.memory.or(defaults.reservations.memory),
            },
            gpus: self.gpus.clone().or_else(|| defaults.gpus.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Reservations {
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gpus {
    /// None means all GPUs.
    pub count: Option<u32>,
    pub driver: String,
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Placement {
    pub host: Option<Name>,
    pub labels: Map<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub host: Option<Template>,
    pub path: String,
    pub prefix: bool,
    pub port: Option<u16>,
    pub entrypoints: Vec<String>,
    pub priority: Option<i64>,
    pub tls: Option<bool>,
    pub auth: Option<Name>,
    /// Whether this route came from `subdomain:`.
    pub from_subdomain: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Build {
    pub context: String,
    pub dockerfile: Option<String>,
    pub target: Option<String>,
    pub args: Map<String>,
}
