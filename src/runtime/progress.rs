//! What the phase runner reports while it works. The CLI turns these into a live view, plain
//! lines or JSON lines; the runner never prints.

use std::time::Duration;

use serde::Serialize;

/// Where a service is in its start-up, as the runner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    /// Waiting for its dependencies.
    Waiting,
    /// Asked Docker to start it.
    Starting,
    /// Running; waiting for its health check to pass.
    Running,
    /// Exited and restarted by Docker's restart policy.
    Restarting,
    /// Reached `started` (no health check): done.
    Started,
    Healthy,
    /// A job that exited 0.
    Completed,
    Failed,
    /// Not started because something it needs failed.
    Skipped,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Waiting => "waiting",
            ServiceState::Starting => "starting",
            ServiceState::Running => "running",
            ServiceState::Restarting => "restarting",
            ServiceState::Started => "started",
            ServiceState::Healthy => "healthy",
            ServiceState::Completed => "completed",
            ServiceState::Failed => "failed",
            ServiceState::Skipped => "skipped",
        }
    }

    /// Whether the service will not change any more in this run.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ServiceState::Started
                | ServiceState::Healthy
                | ServiceState::Completed
                | ServiceState::Failed
                | ServiceState::Skipped
        )
    }
}

fn millis(d: &Duration) -> u64 {
    d.as_millis() as u64
}

fn serialize_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(millis(d))
}

/// One thing that happened during `up`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    PhaseStarted {
        phase: String,
        services: Vec<String>,
        #[serde(rename = "timeout_ms", serialize_with = "serialize_ms")]
        timeout: Duration,
    },
    Service {
        phase: String,
        service: String,
        state: ServiceState,
        /// Since the phase started.
        #[serde(rename = "elapsed_ms", serialize_with = "serialize_ms")]
        elapsed: Duration,
        /// Why, for waiting, failed and skipped services.
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    PhasePassed {
        phase: String,
        #[serde(rename = "elapsed_ms", serialize_with = "serialize_ms")]
        elapsed: Duration,
        /// Non-critical services that failed or were skipped (with `--keep-going`).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        degraded: Vec<String>,
    },
    PhaseFailed {
        phase: String,
        #[serde(rename = "elapsed_ms", serialize_with = "serialize_ms")]
        elapsed: Duration,
        failed: Vec<String>,
    },
}
