//! What runs now: one list call for the project's containers, then concurrent
//! inspections for what the list lacks (health, restart count, start time, addresses).
//! Never one process per container.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::docker::{self, Engine, HealthStatus, Inspection, ONEOFF_LABEL, RunState};

/// The project's containers by Compose service.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub services: BTreeMap<String, Vec<Inspection>>,
}

/// The names of the project's services that have a running container: one list call.
pub async fn running<E: Engine>(engine: &E, project: &str) -> docker::Result<HashSet<String>> {
    Ok(engine
        .list(project)
        .await?
        .into_iter()
        .filter(|c| c.state.is_up() && !is_oneoff(&c.labels))
        .filter_map(|c| c.service)
        .collect())
}

fn is_oneoff(labels: &BTreeMap<String, String>) -> bool {
    labels
        .get(ONEOFF_LABEL)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Lists and inspects every container of the project.
pub async fn observe<E: Engine>(engine: &E, project: &str) -> docker::Result<Observed> {
    let list = engine.list(project).await?;
    let wanted: Vec<_> = list
        .into_iter()
        .filter(|c| c.service.is_some() && !is_oneoff(&c.labels))
        .collect();
    let inspections =
        futures_util::future::join_all(wanted.iter().map(|c| engine.inspect(&c.id))).await;
    let mut services: BTreeMap<String, Vec<Inspection>> = BTreeMap::new();
    for (container, inspection) in wanted.into_iter().zip(inspections) {
        let inspection = match inspection {
            Ok(i) => i,
            // Removed between the list and the inspection: it is gone.
            Err(docker::DockerError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        services
            .entry(container.service.unwrap_or_default())
            .or_default()
            .push(inspection);
    }
    for containers in services.values_mut() {
        containers.sort_by(|a, b| a.name.cmp(&b.name));
    }
    Ok(Observed { services })
}

impl Observed {
    pub fn containers(&self, service: &str) -> &[Inspection] {
        self.services.get(service).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn running_services(&self) -> HashSet<String> {
        self.services
            .iter()
            .filter(|(_, cs)| cs.iter().any(|c| c.state.is_up()))
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// One line's worth about a service (all its containers together).
    pub fn status(&self, service: &str, now: SystemTime) -> ServiceStatus {
        let cs = self.containers(service);
        let state = if cs.is_empty() {
            RunState::Missing
        } else {
            cs.iter()
                .map(|c| c.state)
                .find(|s| *s != RunState::Running)
                .unwrap_or(RunState::Running)
        };
        let exit_code = cs
            .iter()
            .find(|c| !c.state.is_up())
            .and_then(|c| c.exit_code);
        // A stopped container keeps its last health status: it means nothing any more.
        let cs_up: Vec<&Inspection> = cs.iter().filter(|c| c.state.is_up()).collect();
        let health = if cs_up.is_empty() {
            None
        } else if cs_up
            .iter()
            .any(|c| c.health == Some(HealthStatus::Unhealthy))
        {
            Some(HealthStatus::Unhealthy)
        } else if cs_up
            .iter()
            .any(|c| c.health == Some(HealthStatus::Starting))
        {
            Some(HealthStatus::Starting)
        } else if cs_up
            .iter()
            .all(|c| c.health == Some(HealthStatus::Healthy))
        {
            Some(HealthStatus::Healthy)
        } else {
            None
        };
        let uptime = if state == RunState::Running {
            cs.iter()
                .filter_map(|c| c.started_at)
                .min()
                .and_then(|t| now.duration_since(t).ok())
        } else {
            None
        };
        let mut ports: Vec<String> = cs
            .iter()
            .flat_map(|c| c.ports.iter())
            .filter(|p| p.host_port.is_some())
            .map(|p| p.display())
            .collect();
        ports.dedup();
        ServiceStatus {
            service: service.to_string(),
            containers: cs.len(),
            running: cs.iter().filter(|c| c.state == RunState::Running).count(),
            state,
            exit_code,
            health,
            has_healthcheck: cs.iter().any(|c| c.has_healthcheck),
            uptime,
            restarts: cs.iter().map(|c| c.restart_count).sum(),
            ports,
        }
    }
}

/// A service as Docker shows it now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    pub containers: usize,
    pub running: usize,
    pub state: RunState,
    pub exit_code: Option<i64>,
    pub health: Option<HealthStatus>,
    #[serde(skip)]
    pub has_healthcheck: bool,
    #[serde(serialize_with = "secs_opt")]
    pub uptime: Option<Duration>,
    pub restarts: u32,
    pub ports: Vec<String>,
}

fn secs_opt<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs()),
        None => s.serialize_none(),
    }
}

impl ServiceStatus {
    /// `running`, `exited(1)`, `missing`…
    pub fn state_text(&self) -> String {
        match (self.state, self.exit_code) {
            (RunState::Exited, Some(code)) => format!("exited({code})"),
            (state, _) if self.containers > 1 && state == RunState::Running => {
                format!("running {}/{}", self.running, self.containers)
            }
            (state, _) => state.as_str().to_string(),
        }
    }
}

/// `2h11m`, `45s`, `3d4h`: the two largest units, like `docker ps`.
pub fn format_uptime(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, mins, secs) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d{hours}h")
    } else if hours > 0 {
        format!("{hours}h{mins:02}m")
    } else if mins > 0 {
        format!("{mins}m{secs:02}s")
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_like_docker_ps() {
        assert_eq!(format_uptime(Duration::from_secs(7860)), "2h11m");
        assert_eq!(format_uptime(Duration::from_secs(45)), "45s");
        assert_eq!(format_uptime(Duration::from_secs(90_000)), "1d1h");
    }
}
