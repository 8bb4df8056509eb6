//! Docker behind a trait: the runtime asks an [`Engine`] for containers, their details,
//! events and logs, and to start, stop or remove them. [`DockerEngine`] speaks the Docker
//! Engine API (over the unix socket, or wherever `DOCKER_HOST` points); the fake in
//! [`fake`] lets plans and the phase runner be tested without a daemon.
//!
//! Only what muster needs crosses the trait, as muster's own types: callers never see the
//! API's models, and a daemon's quirks (old API versions, missing fields) are absorbed here.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use futures_util::stream::BoxStream;

/// Labels Compose puts on what it creates (v1 and v2 agree on these).
pub const PROJECT_LABEL: &str = "com.docker.compose.project";
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
pub const CONFIG_HASH_LABEL: &str = "com.docker.compose.config-hash";
pub const ONEOFF_LABEL: &str = "com.docker.compose.oneoff";
pub const NUMBER_LABEL: &str = "com.docker.compose.container-number";

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach Docker at {endpoint}: {message}")]
    Unreachable { endpoint: String, message: String },
    #[error("no such container: {0}")]
    NotFound(String),
    #[error("Docker refused: {0}")]
    Api(String),
}

pub type Result<T> = std::result::Result<T, DockerError>;

/// What a container is doing, as Docker says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Created,
    Running,
    Restarting,
    Paused,
    Exited,
    Dead,
    Removing,
    /// No container at all.
    Missing,
}

impl RunState {
    pub fn parse(s: &str) -> RunState {
        match s {
            "created" => RunState::Created,
            "running" => RunState::Running,
            "restarting" => RunState::Restarting,
            "paused" => RunState::Paused,
            "exited" => RunState::Exited,
            "dead" => RunState::Dead,
            "removing" => RunState::Removing,
            _ => RunState::Missing,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Created => "created",
            RunState::Running => "running",
            RunState::Restarting => "restarting",
            RunState::Paused => "paused",
            RunState::Exited => "exited",
            RunState::Dead => "dead",
            RunState::Removing => "removing",
            RunState::Missing => "missing",
        }
    }

    /// Whether a process is (about to be) running in the container.
    pub fn is_up(self) -> bool {
        matches!(self, RunState::Running | RunState::Restarting)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

/// A port published on the host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PublishedPort {
    pub container_port: u16,
    pub protocol: String,
    pub host_ip: Option<String>,
    pub host_port: Option<u16>,
}

impl PublishedPort {
    /// `127.0.0.1:8080->80/tcp`, or `80/tcp` when not published.
    pub fn display(&self) -> String {
        match self.host_port {
            Some(hp) => {
                let ip = self.host_ip.as_deref().unwrap_or("0.0.0.0");
                let ip = if ip.contains(':') {
                    format!("[{ip}]")
                } else {
                    ip.to_string()
                };
                if self.container_port == hp {
                    format!("{ip}:{hp}")
                } else {
                    format!("{ip}:{hp}->{}", self.container_port)
                }
            }
            None => format!("{}/{}", self.container_port, self.protocol),
        }
    }
}

/// One container of the project, as the list call describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub id: String,
    pub name: String,
    /// The Compose service it belongs to (from its label).
    pub service: Option<String>,
    pub state: RunState,
    /// Docker's one-line status ("Up 2 hours (healthy)").
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<PublishedPort>,
    /// Unix seconds.
    pub created: i64,
}

/// One health probe Docker ran.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Probe {
    pub exit_code: i64,
    pub output: String,
}

/// Everything muster reads from an inspection.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    pub id: String,
    pub name: String,
    pub service: Option<String>,
    pub state: RunState,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    pub oom_killed: bool,
    pub started_at: Option<SystemTime>,
    pub finished_at: Option<SystemTime>,
    /// None before the first probe, or without a health check.
    pub health: Option<HealthStatus>,
    /// Whether the container (or its image) defines a health check.
    pub has_healthcheck: bool,
    /// Newest last.
    pub probes: Vec<Probe>,
    pub restart_count: u32,
    /// Docker's restart policy name ("no", "always", "on-failure", "unless-stopped").
    pub restart_policy: String,
    pub ports: Vec<PublishedPort>,
    /// Network name -> IP address.
    pub addresses: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// Named volumes it mounts.
    pub volumes: Vec<String>,
}

impl Inspection {
    pub fn config_hash(&self) -> Option<&str> {
        self.labels.get(CONFIG_HASH_LABEL).map(String::as_str)
    }

    /// Whether Docker will restart the container after it exits with `code`.
    pub fn restarts_after(&self, code: i64) -> bool {
        match self.restart_policy.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => code != 0,
            _ => false,
        }
    }
}

/// What happened to a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Create,
    Start,
    Die { exit_code: i64 },
    Healthy,
    Unhealthy,
    Restart,
    Kill,
    Stop,
    Oom,
    Destroy,
    Other(String),
}

impl Action {
    pub fn parse(action: &str, attributes: &HashMap<String, String>) -> Action {
        match action {
            "create" => Action::Create,
            "start" => Action::Start,
            "die" => Action::Die {
                exit_code: attributes
                    .get("exitCode")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(-1),
            },
            "health_status: healthy" => Action::Healthy,
            "health_status: unhealthy" => Action::Unhealthy,
            "restart" => Action::Restart,
            "kill" => Action::Kill,
            "stop" => Action::Stop,
            "oom" => Action::Oom,
            "destroy" => Action::Destroy,
            other => Action::Other(other.to_string()),
        }
    }
}

/// A container event of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub container: String,
    pub service: Option<String>,
    pub action: Action,
    /// Unix nanoseconds, by the daemon's clock.
    pub time_nanos: i64,
}

/// A line of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stderr: bool,
    pub text: String,
}

/// The Docker operations muster uses. Implementations are cheap to clone handles.
pub trait Engine: Clone + Send + Sync + 'static {
    /// Where this engine is (for messages).
    fn endpoint(&self) -> String;
    /// Every container (running or not) labelled with the Compose project.
    fn list(&self, project: &str) -> impl Future<Output = Result<Vec<Container>>> + Send;
    fn inspect(&self, id: &str) -> impl Future<Output = Result<Inspection>> + Send;
    fn start(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    fn stop(&self, id: &str, grace: Duration) -> impl Future<Output = Result<()>> + Send;
    fn remove(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Events of the project's containers from `since` (unix nanoseconds) on, and then as
    /// they happen. Asking from a moment in the past means no event between asking and the
    /// stream's first poll is lost.
    fn events(&self, project: &str, since_nanos: i64) -> BoxStream<'static, Result<Event>>;
    /// The last `tail` lines (all with None), then, with `follow`, new ones as they come.
    fn logs(
        &self,
        id: &str,
        tail: Option<usize>,
        follow: bool,
    ) -> BoxStream<'static, Result<LogLine>>;
    /// Runs `script` with `/bin/sh -c` in a throw-away container of `image` (no network),
    /// and returns its exit code and output.
    fn run_oneoff(
        &self,
        image: &str,
        script: &str,
    ) -> impl Future<Output = Result<(i64, String)>> + Send;
    /// The project's named volumes.
    fn volumes(&self, project: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
    fn remove_volume(&self, name: &str) -> impl Future<Output = Result<()>> + Send;
    /// The project's networks (names).
    fn networks(&self, project: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
    fn remove_network(&self, name: &str) -> impl Future<Output = Result<()>> + Send;
}

/// Unix nanoseconds now, by this machine's clock.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Parses Docker's RFC 3339 timestamps (`2024-05-01T12:00:00.123456789Z`); Docker's zero
/// time (`0001-01-01T00:00:00Z`) means "never".
pub fn parse_timestamp(s: &str) -> Option<SystemTime> {
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    if year < 1970 {
        return None;
    }
    let (clock, offset_secs) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0i64)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (c, off) = time.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':')?;
        (
            c,
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60),
        )
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.splitn(3, ':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let sec: i64 = t.next()?.parse().ok()?;
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().take(9).collect();
        let n: u32 = digits.parse().ok()?;
        n * 10u32.pow(9 - digits.len() as u32)
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    if secs < 0 {
        return None;
    }
    Some(UNIX_EPOCH + Duration::new(secs as u64, nanos))
}

/// The Docker Engine API through `bollard`.
#[derive(Clone)]
pub struct DockerEngine {
    client: bollard::Docker,
    endpoint: String,
    /// The forward an `ssh://` endpoint is reached through, open while the engine is in use.
    tunnel: Option<std::sync::Arc<super::tunnel::Tunnel>>,
}

impl DockerEngine {
    /// Connects to `host` (`unix://…`, `tcp://…`, `ssh://…`), or to `DOCKER_HOST`, or to the local
    /// socket, and agrees on an API version the daemon speaks.
    pub async fn connect(host: Option<&str>) -> Result<DockerEngine> {
        let endpoint = host
            .map(str::to_string)
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
        let unreachable = |message: String| DockerError::Unreachable {
            endpoint: endpoint.clone(),
            message,
        };
        let tunnel = if endpoint.starts_with("ssh://") {
            let tunnel = super::tunnel::Tunnel::open(&endpoint)
                .await
                .map_err(unreachable)?;
            Some(std::sync::Arc::new(tunnel))
        } else {
            None
        };
        let url = tunnel
            .as_ref()
            .map_or(endpoint.as_str(), |t| t.local.as_str());
        let client =
            bollard::Docker::connect_with_host(url).map_err(|e| unreachable(e.to_string()))?;
        let client = client.with_timeout(Duration::from_secs(120));
        let client = tokio::time::timeout(Duration::from_secs(5), client.negotiate_version())
            .await
            .map_err(|_| unreachable("no answer within 5s".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(DockerEngine {
            client,
            endpoint,
            tunnel,
        })
    }

    /// What a Docker tool (the Compose CLI) is given as `DOCKER_HOST` to reach this engine:
    /// the endpoint itself, or the local end of its `ssh://` tunnel.
    pub fn docker_host(&self) -> &str {
        self.tunnel
            .as_ref()
            .map_or(self.endpoint.as_str(), |t| t.local.as_str())
    }
}

fn api_error(e: bollard::errors::Error, id: &str) -> DockerError {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message,
        } if message.contains("No such container") => DockerError::NotFound(id.to_string()),
        bollard::errors::Error::DockerResponseServerError { message, .. } => {
            DockerError::Api(message)
        }
        other => DockerError::Api(other.to_string()),
    }
}

fn project_filter(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("{PROJECT_LABEL}={project}")],
    )])
}

fn labels_of(map: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    map.unwrap_or_default().into_iter().collect()
}

impl Engine for DockerEngine {
    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    async fn list(&self, project: &str) -> Result<Vec<Container>> {
        use bollard::query_parameters::ListContainersOptionsBuilder;
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&project_filter(project))
            .build();
        let list = self
            .client
            .list_containers(Some(options))
            .await
            .map_err(|e| api_error(e, project))?;
        Ok(list
            .into_iter()
            .map(|c| {
                let labels = labels_of(c.labels);
                Container {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .map(|n| n.trim_start_matches('/').to_string())
                        .unwrap_or_default(),
                    service: labels.get(SERVICE_LABEL).cloned(),
                    state: RunState::parse(&c.state.map(|s| s.to_string()).unwrap_or_default()),
                    status: c.status.unwrap_or_default(),
                    ports: c
                        .ports
                        .unwrap_or_default()
                        .into_iter()
                        .map(|p| PublishedPort {
                            container_port: p.private_port,
                            protocol: p.typ.map(|t| t.to_string()).unwrap_or("tcp".into()),
                            host_ip: p.ip,
                            host_port: p.public_port,
                        })
                        .collect(),
                    labels,
                    created: c.created.unwrap_or(0),
                }
            })
            .collect())
    }

    async fn inspect(&self, id: &str) -> Result<Inspection> {
        let c = self
            .client
            .inspect_container(id, None)
            .await
            .map_err(|e| api_error(e, id))?;
        let state = c.state.unwrap_or_default();
        let config = c.config.unwrap_or_default();
        let labels = labels_of(config.labels);
        let health = state.health.clone().unwrap_or_default();
        let health_status = match health.status.map(|s| s.to_string()).as_deref() {
            Some("starting") => Some(HealthStatus::Starting),
            Some("healthy") => Some(HealthStatus::Healthy),
            Some("unhealthy") => Some(HealthStatus::Unhealthy),
            _ => None,
        };
        let network = c.network_settings.unwrap_or_default();
        let mut ports = Vec::new();
        for (key, bindings) in network.ports.unwrap_or_default() {
            let (port, protocol) = key.split_once('/').unwrap_or((&key, "tcp"));
            let Ok(container_port) = port.parse::<u16>() else {
                continue;
            };
            match bindings.filter(|b| !b.is_empty()) {
                Some(bindings) => {
                    for b in bindings {
                        ports.push(PublishedPort {
                            container_port,
                            protocol: protocol.to_string(),
                            host_ip: b.host_ip.filter(|s| !s.is_empty()),
                            host_port: b.host_port.and_then(|p| p.parse().ok()),
                        });
                    }
                }
                None => ports.push(PublishedPort {
                    container_port,
                    protocol: protocol.to_string(),
                    host_ip: None,
                    host_port: None,
                }),
            }
        }
        ports.sort_by(|a, b| {
            (a.container_port, &a.host_ip, a.host_port).cmp(&(
                b.container_port,
                &b.host_ip,
                b.host_port,
            ))
        });
        let addresses = network
            .networks
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(name, e)| {
                e.ip_address
                    .filter(|ip| !ip.is_empty())
                    .map(|ip| (name, ip))
            })
            .collect();
        let volumes = c
            .mounts
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.typ.as_ref().map(|t| t.to_string()).as_deref() == Some("volume"))
            .filter_map(|m| m.name)
            .collect();
        Ok(Inspection {
            id: c.id.unwrap_or_else(|| id.to_string()),
            name: c
                .name
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            service: labels.get(SERVICE_LABEL).cloned(),
            state: RunState::parse(&state.status.map(|s| s.to_string()).unwrap_or_default()),
            exit_code: state.exit_code,
            error: state.error.filter(|e| !e.is_empty()),
            oom_killed: state.oom_killed.unwrap_or(false),
            started_at: state.started_at.as_deref().and_then(parse_timestamp),
            finished_at: state.finished_at.as_deref().and_then(parse_timestamp),
            health: health_status,
            has_healthcheck: config
                .healthcheck
                .as_ref()
                .and_then(|h| h.test.as_ref())
                .and_then(|t| t.first())
                .is_some_and(|t| t != "NONE"),
            probes: health
                .log
                .unwrap_or_default()
                .into_iter()
                .map(|p| Probe {
                    exit_code: p.exit_code.unwrap_or(-1),
                    output: p.output.unwrap_or_default(),
                })
                .collect(),
            restart_count: c.restart_count.unwrap_or(0).max(0) as u32,
            restart_policy: c
                .host_config
                .and_then(|h| h.restart_policy)
                .and_then(|p| p.name)
                .map(|n| n.to_string())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "no".into()),
            ports,
            addresses,
            labels,
            volumes,
        })
    }

    async fn start(&self, id: &str) -> Result<()> {
        match self.client.start_container(id, None).await {
            Ok(()) => Ok(()),
            // 304: already started.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(api_error(e, id)),
        }
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<()> {
        use bollard::query_parameters::StopContainerOptionsBuilder;
        let options = StopContainerOptionsBuilder::default()
            .t(grace.as_secs().min(i32::MAX as u64) as i32)
            .build();
        match self.client.stop_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(api_error(e, id)),
        }
    }

    async fn remove(&self, id: &str) -> Result<()> {
        use bollard::query_parameters::RemoveContainerOptionsBuilder;
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.client.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) => match api_error(e, id) {
                DockerError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    fn events(&self, project: &str, since_nanos: i64) -> BoxStream<'static, Result<Event>> {
        use bollard::query_parameters::EventsOptionsBuilder;
        let mut filters = project_filter(project);
        filters.insert("type".into(), vec!["container".into()]);
        // Not the exec_* events of every health probe: only what changes a container's state.
        filters.insert(
            "event".into(),
            [
                "create",
                "start",
                "restart",
                "die",
                "kill",
                "stop",
                "oom",
                "destroy",
                "pause",
                "unpause",
                "health_status",
            ]
            .map(String::from)
            .to_vec(),
        );
        let since = format!(
            "{}.{:09}",
            since_nanos.div_euclid(1_000_000_000),
            since_nanos.rem_euclid(1_000_000_000)
        );
        let options = EventsOptionsBuilder::default()
            .since(&since)
            .filters(&filters)
            .build();
        self.client
            .events(Some(options))
            .map(|e| {
                let e = e.map_err(|e| DockerError::Api(e.to_string()))?;
                let actor = e.actor.unwrap_or_default();
                let attributes = actor.attributes.unwrap_or_default();
                Ok(Event {
                    container: actor.id.unwrap_or_default(),
                    service: attributes.get(SERVICE_LABEL).cloned(),
                    action: Action::parse(e.action.as_deref().unwrap_or(""), &attributes),
                    time_nanos: e
                        .time_nano
                        .or(e.time.map(|t| t * 1_000_000_000))
                        .unwrap_or(0),
                })
            })
            .boxed()
    }

    fn logs(
        &self,
        id: &str,
        tail: Option<usize>,
        follow: bool,
    ) -> BoxStream<'static, Result<LogLine>> {
        use bollard::container::LogOutput;
        use bollard::query_parameters::LogsOptionsBuilder;
        let tail = tail.map(|n| n.to_string()).unwrap_or_else(|| "all".into());
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(follow)
            .tail(&tail)
            .build();
        let id = id.to_string();
        // Docker sends chunks, not lines: split them, keeping a partial line for later.
        let mut pending: HashMap<bool, String> = HashMap::new();
        self.client
            .logs(&id, Some(options))
            .map(move |chunk| -> Result<Vec<LogLine>> {
                let chunk = chunk.map_err(|e| api_error(e, &id))?;
                let (stderr, bytes) = match chunk {
                    LogOutput::StdErr { message } => (true, message),
                    LogOutput::StdOut { message }
                    | LogOutput::Console { message }
                    | LogOutput::StdIn { message } => (false, message),
                };
                let buffer = pending.entry(stderr).or_default();
                buffer.push_str(&String::from_utf8_lossy(&bytes));
                let mut lines = Vec::new();
                while let Some(at) = buffer.find('\n') {
                    let line: String = buffer.drain(..=at).collect();
                    lines.push(LogLine {
                        stderr,
                        text: line.trim_end_matches(['\n', '\r']).to_string(),
                    });
                }
                Ok(lines)
            })
            .flat_map(|r| match r {
                Ok(lines) => futures_util::stream::iter(lines.into_iter().map(Ok)).boxed(),
                Err(e) => futures_util::stream::iter([Err(e)]).boxed(),
            })
            .boxed()
    }

    async fn run_oneoff(&self, image: &str, script: &str) -> Result<(i64, String)> {
        let body = bollard::models::ContainerCreateBody {
            image: Some(image.to_string()),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            cmd: Some(vec![script.to_string()]),
            network_disabled: Some(true),
            labels: Some(HashMap::from([(
                "dev.muster.probe".to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        };
        let created = self
            .client
            .create_container(
                None::<bollard::query_parameters::CreateContainerOptions>,
                body,
            )
            .await
            .map_err(|e| api_error(e, image))?;
        let id = created.id;
        let run = async {
            self.client
                .start_container(&id, None)
                .await
                .map_err(|e| api_error(e, &id))?;
            let code = match self.client.wait_container(&id, None).next().await {
                Some(Ok(r)) => r.status_code,
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
                Some(Err(e)) => return Err(api_error(e, &id)),
                None => -1,
            };
            let lines: Vec<String> = self
                .logs(&id, None, false)
                .filter_map(|l| async move { l.ok().map(|l| l.text) })
                .collect()
                .await;
            Ok((code, lines.join("\n")))
        };
        let result = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .unwrap_or_else(|_| {
                Err(DockerError::Api(
                    "the probe did not finish within 30s".into(),
                ))
            });
        let _ = self.remove(&id).await;
        result
    }

    async fn volumes(&self, project: &str) -> Result<Vec<String>> {
        use bollard::query_parameters::ListVolumesOptionsBuilder;
        let options = ListVolumesOptionsBuilder::default()
            .filters(&project_filter(project))
            .build();
        let list = self
            .client
            .list_volumes(Some(options))
            .await
            .map_err(|e| api_error(e, project))?;
        let mut names: Vec<String> = list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.name)
            .collect();
        names.sort();
        Ok(names)
    }

    async fn remove_volume(&self, name: &str) -> Result<()> {
        self.client
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await
            .map_err(|e| api_error(e, name))
    }

    async fn networks(&self, project: &str) -> Result<Vec<String>> {
        use bollard::query_parameters::ListNetworksOptionsBuilder;
        let options = ListNetworksOptionsBuilder::default()
            .filters(&project_filter(project))
            .build();
        let list = self
            .client
            .list_networks(Some(options))
            .await
            .map_err(|e| api_error(e, project))?;
        let mut names: Vec<String> = list.into_iter().filter_map(|n| n.name).collect();
        names.sort();
        Ok(names)
    }

    async fn remove_network(&self, name: &str) -> Result<()> {
        self.client
            .remove_network(name)
            .await
            .map_err(|e| api_error(e, name))
    }
}

#[cfg(test)]
pub mod fake;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_with_nanos_and_offsets() {
        let t = parse_timestamp("2024-05-01T12:00:00.5Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap(),
            Duration::new(1_714_564_800, 500_000_000)
        );
        let t = parse_timestamp("2024-05-01T14:00:00+02:00").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_714_564_800
        );
        assert_eq!(parse_timestamp("0001-01-01T00:00:00Z"), None);
    }

    #[test]
    fn ports_display_like_status_does() {
        let p = PublishedPort {
            container_port: 5432,
            protocol: "tcp".into(),
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(5432),
        };
        assert_eq!(p.display(), "127.0.0.1:5432");
        let p = PublishedPort {
            host_port: Some(18080),
            container_port: 8080,
            ..p
        };
        assert_eq!(p.display(), "127.0.0.1:18080->8080");
    }
}
