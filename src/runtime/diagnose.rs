//! Why a service failed, in the user's terms: its state, the last health-check outputs,
//! its exit code and the last lines it logged.

use futures_util::StreamExt;
use serde::Serialize;

use super::docker::{Engine, Inspection, Probe, RunState};

/// Log lines shown per failing container.
pub const LOG_LINES: usize = 20;
/// Health-check outputs shown per failing container.
pub const PROBES: usize = 3;

#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub service: String,
    pub reason: String,
    pub containers: Vec<ContainerReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContainerReport {
    pub name: String,
    pub state: String,
    pub exit_code: Option<i64>,
    pub restarts: u32,
    pub oom_killed: bool,
    pub error: Option<String>,
    pub probes: Vec<Probe>,
    pub logs: Vec<String>,
}

/// Describes a container's state in a few words: `running (unhealthy)`, `exited(1)`.
pub fn describe_state(c: &Inspection) -> String {
    match (c.state, c.health) {
        (RunState::Exited, _) => format!("exited({})", c.exit_code.unwrap_or(-1)),
        (state, Some(h)) => format!("{} ({})", state.as_str(), h.as_str()),
        (state, None) => state.as_str().to_string(),
    }
}

/// Inspects the containers `ids` of `service` and reads their last log lines.
pub async fn diagnose<E: Engine>(
    engine: &E,
    service: &str,
    ids: &[String],
    reason: String,
) -> Diagnosis {
    let mut containers = Vec::new();
    for id in ids {
        let Ok(c) = engine.inspect(id).await else {
            continue;
        };
        let logs: Vec<String> = engine
            .logs(id, Some(LOG_LINES), false)
            .filter_map(|l| async move { l.ok().map(|l| l.text) })
            .collect()
            .await;
        let skip = c.probes.len().saturating_sub(PROBES);
        containers.push(ContainerReport {
            name: c.name.clone(),
            state: describe_state(&c),
            exit_code: if c.state == RunState::Running {
                None
            } else {
                c.exit_code
            },
            restarts: c.restart_count,
            oom_killed: c.oom_killed,
            error: c.error.clone(),
            probes: c.probes[skip..].to_vec(),
            logs,
        });
    }
    Diagnosis {
        service: service.to_string(),
        reason,
        containers,
    }
}
