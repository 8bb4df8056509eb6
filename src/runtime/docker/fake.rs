//! A Docker that lives in memory, for testing plans and the phase runner without a daemon.
//! Containers follow a script (healthy after a while, crash, loop…) on tokio's clock, so
//! tests run on paused time and finish at once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::{
    Action, Container, DockerError, Engine, Event, HealthStatus, Inspection, LogLine, Result,
    RunState,
};

/// What a fake container does once started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behaviour {
    /// Runs, no health check.
    Runs,
    HealthyAfter(Duration),
    UnhealthyAfter(Duration),
    /// Has a health check that never passes nor fails.
    NeverHealthy,
    /// Exits with a code after a while (no restart policy).
    ExitsAfter(Duration, i64),
    /// Exits after a while and is restarted by Docker, forever.
    CrashLoop(Duration, i64),
}

struct Inner {
    containers: BTreeMap<String, (Inspection, Behaviour)>,
    journal: Vec<(Duration, String, Action)>,
}

#[derive(Clone)]
pub struct FakeEngine {
    inner: Arc<Mutex<Inner>>,
    events: broadcast::Sender<Event>,
    epoch: Instant,
}

impl Default for FakeEngine {
    fn default() -> Self {
        FakeEngine::new()
    }
}

impl FakeEngine {
    pub fn new() -> FakeEngine {
        FakeEngine {
            inner: Arc::new(Mutex::new(Inner {
                containers: BTreeMap::new(),
                journal: Vec::new(),
            })),
            events: broadcast::channel(1024).0,
            epoch: Instant::now(),
        }
    }

    /// Adds a created (not started) container for `service`; returns its id.
    pub fn add(&self, service: &str, behaviour: Behaviour) -> String {
        let id = format!("{service}-1");
        let inspection = Inspection {
            id: id.clone(),
            name: format!("p_{service}_1"),
            service: Some(service.to_string()),
            state: RunState::Created,
            exit_code: None,
            error: None,
            oom_killed: false,
            started_at: None,
            finished_at: None,
            health: None,
            has_healthcheck: matches!(
                behaviour,
                Behaviour::HealthyAfter(_) | Behaviour::UnhealthyAfter(_) | Behaviour::NeverHealthy
            ),
            probes: Vec::new(),
            restart_count: 0,
            restart_policy: if matches!(behaviour, Behaviour::CrashLoop(..)) {
                "always".into()
            } else {
                "no".into()
            },
            ports: Vec::new(),
            addresses: BTreeMap::new(),
            labels: BTreeMap::new(),
            volumes: Vec::new(),
        };
        self.inner
            .lock()
            .unwrap()
            .containers
            .insert(id.clone(), (inspection, behaviour));
        id
    }

    /// Sets what an inspection says (e.g. a job that exited 0 earlier).
    pub fn set(&self, id: &str, f: impl FnOnce(&mut Inspection)) {
        let mut inner = self.inner.lock().unwrap();
        f(&mut inner.containers.get_mut(id).expect("container").0);
    }

    /// Everything that happened: when (since the fake was made), to which service, what.
    pub fn journal(&self) -> Vec<(Duration, String, Action)> {
        self.inner.lock().unwrap().journal.clone()
    }

    /// When `service` first did `action`.
    pub fn when(&self, service: &str, action: &Action) -> Option<Duration> {
        self.journal()
            .into_iter()
            .find(|(_, s, a)| s == service && a == action)
            .map(|(t, _, _)| t)
    }

    fn emit(&self, id: &str, action: Action) {
        let mut inner = self.inner.lock().unwrap();
        let Some((c, _)) = inner.containers.get_mut(id) else {
            return;
        };
        match &action {
            Action::Start => c.state = RunState::Running,
            Action::Healthy => c.health = Some(HealthStatus::Healthy),
            Action::Unhealthy => c.health = Some(HealthStatus::Unhealthy),
            Action::Die { exit_code } => {
                c.state = RunState::Exited;
                c.exit_code = Some(*exit_code);
            }
            _ => {}
        }
        let service = c.service.clone().unwrap_or_default();
        let at = self.epoch.elapsed();
        inner.journal.push((at, service.clone(), action.clone()));
        let _ = self.events.send(Event {
            container: id.to_string(),
            service: Some(service),
            action,
            time_nanos: at.as_nanos() as i64,
        });
    }
}

impl Engine for FakeEngine {
    fn endpoint(&self) -> String {
        "fake".into()
    }

    async fn list(&self, _project: &str) -> Result<Vec<Container>> {
        let inner = self.inner.lock().unwrap();
        Ok(inner
            .containers
            .values()
            .map(|(c, _)| Container {
                id: c.id.clone(),
                name: c.name.clone(),
                service: c.service.clone(),
                state: c.state,
                status: String::new(),
                labels: c.labels.clone(),
                ports: c.ports.clone(),
                created: 0,
            })
            .collect())
    }

    async fn inspect(&self, id: &str) -> Result<Inspection> {
        let inner = self.inner.lock().unwrap();
        inner
            .containers
            .get(id)
            .map(|(c, _)| c.clone())
            .ok_or_else(|| DockerError::NotFound(id.to_string()))
    }

    async fn start(&self, id: &str) -> Result<()> {
        let behaviour = {
            let inner = self.inner.lock().unwrap();
            inner
                .containers
                .get(id)
                .map(|(_, b)| *b)
                .ok_or_else(|| DockerError::NotFound(id.to_string()))?
        };
        self.emit(id, Action::Start);
        let me = self.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            match behaviour {
                Behaviour::Runs | Behaviour::NeverHealthy => {}
                Behaviour::HealthyAfter(d) => {
                    tokio::time::sleep(d).await;
                    me.emit(&id, Action::Healthy);
                }
                Behaviour::UnhealthyAfter(d) => {
                    tokio::time::sleep(d).await;
                    me.emit(&id, Action::Unhealthy);
                }
                Behaviour::ExitsAfter(d, code) => {
                    tokio::time::sleep(d).await;
                    me.emit(&id, Action::Die { exit_code: code });
                }
                Behaviour::CrashLoop(d, code) => loop {
                    tokio::time::sleep(d).await;
                    me.emit(&id, Action::Die { exit_code: code });
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    me.emit(&id, Action::Start);
                },
            }
        });
        Ok(())
    }

    async fn stop(&self, id: &str, _grace: Duration) -> Result<()> {
        self.emit(id, Action::Stop);
        self.emit(id, Action::Die { exit_code: 0 });
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<()> {
        self.emit(id, Action::Destroy);
        self.inner.lock().unwrap().containers.remove(id);
        Ok(())
    }

    fn events(&self, _project: &str, _since: i64) -> BoxStream<'static, Result<Event>> {
        let rx = self.events.subscribe();
        futures_util::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(e) => return Some((Ok(e), rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }

    fn logs(
        &self,
        id: &str,
        _tail: Option<usize>,
        _follow: bool,
    ) -> BoxStream<'static, Result<LogLine>> {
        let line = LogLine {
            stderr: false,
            text: format!("log of {id}"),
        };
        futures_util::stream::iter([Ok(line)]).boxed()
    }

    async fn run_oneoff(&self, image: &str, _script: &str) -> Result<(i64, String)> {
        // Images named "bare…" have no tool a probe could use.
        if image.starts_with("bare") {
            Ok((0, String::new()))
        } else {
            Ok((0, "wget\nnc".into()))
        }
    }

    async fn volumes(&self, _project: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    async fn remove_volume(&self, _name: &str) -> Result<()> {
        Ok(())
    }

    async fn networks(&self, _project: &str) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    async fn remove_network(&self, _name: &str) -> Result<()> {
        Ok(())
    }
}
