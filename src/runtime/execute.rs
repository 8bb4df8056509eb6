//! The phase runner: phases in order; inside a phase each service is started as soon as
//! what it needs reached its condition, and the phase ends when every service reached its
//! own condition, at the first failure, or at the phase deadline.
//!
//! Everything it waits for comes from Docker's event stream (start, die, health status),
//! never from polling: a container that turns healthy unblocks its dependents at once, and
//! one that turns unhealthy or exits fails its phase at once instead of at the deadline.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use indexmap::IndexMap;
use tokio::time::Instant;

use super::docker::{self, Action, Engine, HealthStatus, Inspection, RunState};
use super::plan::{RunPlan, RunService};
use super::progress::{Progress, ServiceState};
use crate::registry::model::Condition;

/// Restarts within a phase that make a restart loop.
pub const RESTART_LOOP: u32 = 3;

/// How long a service without a health check must stay up after its start before it
/// counts as started for its phase: long enough to see a crash loop begin (Docker restarts
/// after 100 ms, 200 ms, 400 ms…). Dependents do not wait for it.
pub const SETTLE: Duration = Duration::from_secs(1);

/// What the runner starts from: the containers Compose created (or kept) for each planned
/// service, and which jobs must run again.
#[derive(Debug, Default)]
pub struct Prepared {
    pub containers: HashMap<String, Vec<Inspection>>,
    /// Jobs whose definition changed, or all jobs with `--rerun-jobs`.
    pub rerun: HashSet<String>,
    /// Services whose containers are still being created; they arrive through `later`
    /// (Compose v1 needs more than one call, made while earlier phases run).
    pub pending: HashSet<String>,
    pub later: Option<tokio::sync::mpsc::UnboundedReceiver<Batch>>,
}

/// The containers of some services, and the jobs among them to run again.
pub type Created = (HashMap<String, Vec<Inspection>>, HashSet<String>);

/// Containers created after the run began.
#[derive(Debug)]
pub struct Batch {
    pub services: Vec<String>,
    /// What was created, or why Compose failed.
    pub result: Result<Created, String>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Non-critical failures do not stop the run (their dependents are skipped).
    pub keep_going: bool,
}

/// Why a service failed its phase.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    Unhealthy,
    /// A service (not a job) exited and Docker will not restart it.
    Exited {
        code: i64,
    },
    JobFailed {
        code: i64,
    },
    RestartLoop {
        restarts: u32,
        code: i64,
    },
    /// Started, but did not reach its condition before the phase deadline.
    Deadline {
        after: Duration,
        waiting_for: Condition,
    },
    /// Never started: still waiting for these at the deadline.
    NotStarted {
        waiting_on: Vec<String>,
    },
    NoContainer,
    Docker(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Unhealthy => write!(f, "its health check failed (unhealthy)"),
            Failure::Exited { code } => write!(f, "exited with code {code} and is not restarted"),
            Failure::JobFailed { code } => write!(f, "job exited with code {code}"),
            Failure::RestartLoop { restarts, code } => write!(
                f,
                "restart loop: exited {restarts} times within the phase (last exit code {code})"
            ),
            Failure::Deadline { after, waiting_for } => write!(
                f,
                "not {} at the phase deadline ({})",
                waiting_for.as_str(),
                crate::registry::values::format_duration(*after)
            ),
            Failure::NotStarted { waiting_on } => write!(
                f,
                "never started: still waiting for {} at the phase deadline",
                waiting_on.join(", ")
            ),
            Failure::NoContainer => write!(f, "Compose created no container for it"),
            Failure::Docker(message) => write!(f, "{message}"),
        }
    }
}

/// How one planned service ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceOutcome {
    pub phase: String,
    pub critical: bool,
    pub state: ServiceState,
    pub failure: Option<Failure>,
    /// For skipped services: the failed service they need.
    pub skipped_because: Option<String>,
    /// Whether the run reached this service's phase at all.
    pub reached: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunResult {
    /// Every service reached its condition.
    Passed,
    /// With `--keep-going`: non-critical services failed or were skipped.
    Degraded,
    Failed,
    Interrupted,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub result: RunResult,
    pub failed_phase: Option<String>,
    pub services: IndexMap<String, ServiceOutcome>,
}

impl Outcome {
    /// Services that failed (not skipped), in plan order.
    pub fn failed(&self) -> Vec<(&str, &Failure)> {
        self.services
            .iter()
            .filter_map(|(n, o)| o.failure.as_ref().map(|f| (n.as_str(), f)))
            .collect()
    }

    pub fn skipped(&self) -> Vec<(&str, &str)> {
        self.services
            .iter()
            .filter_map(|(n, o)| o.skipped_because.as_deref().map(|b| (n.as_str(), b)))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctr {
    /// Must be started by us.
    Created,
    Starting,
    Running,
    Healthy,
    Restarting,
    Exited(i64),
}

struct Tracked {
    ids: Vec<String>,
    ctrs: Vec<Ctr>,
    restarts: u32,
    /// Docker's restart policy, per container.
    policies: Vec<Inspection>,
    target: Condition,
    acted: bool,
    /// Whether its waiting was reported.
    announced: bool,
    /// For `started`: when the last start happened, until it has stayed up for [`SETTLE`].
    settling: Option<Instant>,
    state: ServiceState,
    failure: Option<Failure>,
    skipped_because: Option<String>,
}

impl Tracked {
    fn derive(&self) -> ServiceState {
        if self.failure.is_some() {
            return ServiceState::Failed;
        }
        if self.skipped_because.is_some() {
            return ServiceState::Skipped;
        }
        if !self.acted {
            return ServiceState::Waiting;
        }
        let all = |f: &dyn Fn(&Ctr) -> bool| !self.ctrs.is_empty() && self.ctrs.iter().all(f);
        match self.target {
            Condition::Completed if all(&|c| *c == Ctr::Exited(0)) => ServiceState::Completed,
            Condition::Healthy if all(&|c| *c == Ctr::Healthy) => ServiceState::Healthy,
            Condition::Started
                if self.settling.is_none()
                    && all(&|c| matches!(c, Ctr::Running | Ctr::Healthy)) =>
            {
                ServiceState::Started
            }
            _ if self.ctrs.contains(&Ctr::Restarting) => ServiceState::Restarting,
            _ if self
                .ctrs
                .iter()
                .any(|c| matches!(c, Ctr::Running | Ctr::Healthy)) =>
            {
                ServiceState::Running
            }
            _ => ServiceState::Starting,
        }
    }

    /// Whether it satisfies a dependent waiting for `condition`.
    fn satisfies(&self, condition: Condition) -> bool {
        if self.failure.is_some() || self.skipped_because.is_some() || !self.acted {
            return false;
        }
        let all = |f: &dyn Fn(&Ctr) -> bool| !self.ctrs.is_empty() && self.ctrs.iter().all(f);
        match condition {
            Condition::Completed => all(&|c| *c == Ctr::Exited(0)),
            Condition::Healthy => all(&|c| *c == Ctr::Healthy),
            Condition::Started => {
                all(&|c| matches!(c, Ctr::Running | Ctr::Healthy | Ctr::Exited(0)))
            }
        }
    }
}

struct Runner<'a, E: Engine> {
    engine: &'a E,
    plan: &'a RunPlan,
    tracked: IndexMap<String, Tracked>,
    by_id: HashMap<String, String>,
    report: &'a mut dyn FnMut(Progress),
    phase_started: Instant,
    rerun: HashSet<String>,
    pending: HashSet<String>,
}

/// Runs `plan`. `events` must deliver the project's container events from before the
/// first container is started; `interrupt` resolving (Ctrl-C) stops waiting at once and
/// leaves every container as it is.
pub async fn execute<E: Engine>(
    engine: &E,
    plan: &RunPlan,
    mut prepared: Prepared,
    mut events: BoxStream<'static, docker::Result<docker::Event>>,
    options: Options,
    report: &mut dyn FnMut(Progress),
    interrupt: impl Future<Output = ()>,
) -> Outcome {
    let mut tracked = IndexMap::new();
    for (name, service) in &plan.services {
        tracked.insert(
            name.clone(),
            Tracked {
                ids: Vec::new(),
                ctrs: Vec::new(),
                restarts: 0,
                policies: Vec::new(),
                target: service.target,
                acted: false,
                announced: false,
                settling: None,
                state: ServiceState::Waiting,
                failure: None,
                skipped_because: None,
            },
        );
    }
    let mut runner = Runner {
        engine,
        plan,
        tracked,
        by_id: HashMap::new(),
        report,
        phase_started: Instant::now(),
        rerun: std::mem::take(&mut prepared.rerun),
        pending: std::mem::take(&mut prepared.pending),
    };
    for (name, containers) in std::mem::take(&mut prepared.containers) {
        runner.adopt(&name, containers);
    }
    let mut later = prepared.later.take();
    tokio::pin!(interrupt);
    let mut result = RunResult::Passed;
    let mut failed_phase = None;
    let mut reached: HashSet<String> = HashSet::new();
    'phases: for phase in &plan.phases {
        runner.phase_started = Instant::now();
        let deadline = runner.phase_started + phase.timeout;
        reached.insert(phase.name.clone());
        (runner.report)(Progress::PhaseStarted {
            phase: phase.name.clone(),
            services: phase.services.clone(),
            timeout: phase.timeout,
        });
        loop {
            if runner.start_ready(&phase.services).await {
                continue;
            }
            let failed: Vec<&String> = phase
                .services
                .iter()
                .filter(|s| runner.tracked[*s].failure.is_some())
                .collect();
            let fatal = failed
                .iter()
                .any(|s| !options.keep_going || plan.services[*s].critical);
            let done = phase
                .services
                .iter()
                .all(|s| runner.tracked[s].derive().is_final());
            if fatal {
                (runner.report)(Progress::PhaseFailed {
                    phase: phase.name.clone(),
                    elapsed: runner.phase_started.elapsed(),
                    failed: failed.iter().map(|s| s.to_string()).collect(),
                });
                result = RunResult::Failed;
                failed_phase = Some(phase.name.clone());
                break 'phases;
            }
            if done {
                let degraded: Vec<String> = phase
                    .services
                    .iter()
                    .filter(|s| {
                        matches!(
                            runner.tracked[*s].derive(),
                            ServiceState::Failed | ServiceState::Skipped
                        )
                    })
                    .cloned()
                    .collect();
                if !degraded.is_empty() {
                    result = RunResult::Degraded;
                }
                (runner.report)(Progress::PhasePassed {
                    phase: phase.name.clone(),
                    elapsed: runner.phase_started.elapsed(),
                    degraded,
                });
                break;
            }
            tokio::select! {
                biased;
                _ = &mut interrupt => {
                    result = RunResult::Interrupted;
                    break 'phases;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    runner.deadline(&phase.services, phase.timeout);
                }
                _ = sleep_until_some(runner.next_settle(&phase.services)) => {
                    runner.settle(&phase.services);
                }
                batch = next_batch(&mut later) => match batch {
                    Some(batch) => runner.created(batch),
                    None => {
                        later = None;
                        let pending: Vec<String> = runner.pending.drain().collect();
                        for name in pending {
                            runner.fail(&name, Failure::Docker("Compose did not create it".into()));
                        }
                    }
                },
                event = events.next() => match event {
                    Some(Ok(event)) => runner.apply(&phase.services, event),
                    Some(Err(e)) => runner.lost_events(&phase.services, e.to_string()),
                    None => runner.lost_events(&phase.services, "the Docker event stream ended".into()),
                },
            }
        }
    }
    let services = runner
        .tracked
        .iter()
        .map(|(name, t)| {
            let service = &plan.services[name];
            (
                name.clone(),
                ServiceOutcome {
                    phase: service.phase.clone(),
                    critical: service.critical,
                    state: t.derive(),
                    failure: t.failure.clone(),
                    skipped_because: t.skipped_because.clone(),
                    reached: reached.contains(&service.phase),
                },
            )
        })
        .collect();
    Outcome {
        result,
        failed_phase,
        services,
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn next_batch(
    later: &mut Option<tokio::sync::mpsc::UnboundedReceiver<Batch>>,
) -> Option<Batch> {
    match later {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl<E: Engine> Runner<'_, E> {
    /// Takes the containers of a planned service into account.
    fn adopt(&mut self, service: &str, containers: Vec<Inspection>) {
        let Some(t) = self.tracked.get_mut(service) else {
            return;
        };
        for c in &containers {
            self.by_id.insert(c.id.clone(), service.to_string());
        }
        t.ids = containers.iter().map(|c| c.id.clone()).collect();
        t.ctrs = vec![Ctr::Created; containers.len()];
        t.policies = containers;
    }

    fn created(&mut self, batch: Batch) {
        for name in &batch.services {
            self.pending.remove(name);
        }
        match batch.result {
            Ok((containers, rerun)) => {
                self.rerun.extend(rerun);
                for name in &batch.services {
                    let cs = containers.get(name).cloned().unwrap_or_default();
                    self.adopt(name, cs);
                }
            }
            Err(e) => {
                for name in &batch.services {
                    self.fail(
                        name,
                        Failure::Docker(format!("Compose could not create it: {e}")),
                    );
                }
            }
        }
    }

    fn publish(&mut self, service: &str, detail: Option<String>) {
        let t = self.tracked.get_mut(service).expect("tracked");
        let state = t.derive();
        if state == t.state && detail.is_none() {
            return;
        }
        t.state = state;
        let detail = detail.or_else(|| match state {
            ServiceState::Failed => t.failure.as_ref().map(|f| f.to_string()),
            ServiceState::Skipped => t
                .skipped_because
                .as_ref()
                .map(|b| format!("needs {b}, which failed")),
            _ => None,
        });
        (self.report)(Progress::Service {
            phase: self.plan.services[service].phase.clone(),
            service: service.to_string(),
            state,
            elapsed: self.phase_started.elapsed(),
            detail,
        });
    }

    fn fail(&mut self, service: &str, failure: Failure) {
        let t = self.tracked.get_mut(service).expect("tracked");
        if t.failure.is_none() && t.skipped_because.is_none() {
            t.failure = Some(failure);
            self.publish(service, None);
        }
    }

    /// Skips what waits on failed services and starts what is ready. Returns whether
    /// anything changed (then the caller looks again: a completed job may unblock others).
    async fn start_ready(&mut self, services: &[String]) -> bool {
        let mut changed = false;
        let mut to_start: Vec<(String, usize, String)> = Vec::new();
        for name in services {
            if self.tracked[name].acted
                || self.tracked[name].failure.is_some()
                || self.tracked[name].skipped_because.is_some()
            {
                continue;
            }
            let run: &RunService = &self.plan.services[name];
            let broken = run.deps.iter().find(|(d, _)| {
                self.tracked
                    .get(d)
                    .is_some_and(|t| t.failure.is_some() || t.skipped_because.is_some())
            });
            if let Some((dep, _)) = broken {
                let because = self.tracked[dep]
                    .skipped_because
                    .clone()
                    .unwrap_or_else(|| dep.clone());
                self.tracked.get_mut(name).expect("tracked").skipped_because = Some(because);
                self.publish(name, None);
                changed = true;
                continue;
            }
            let ready = !self.pending.contains(name)
                && run
                    .deps
                    .iter()
                    .all(|(d, c)| self.tracked.get(d).is_none_or(|t| t.satisfies(*c)));
            if !ready {
                if !self.tracked[name].announced {
                    let mut waiting: Vec<String> = run
                        .deps
                        .iter()
                        .filter(|(d, c)| self.tracked.get(d).is_some_and(|t| !t.satisfies(*c)))
                        .map(|(d, c)| format!("{d} ({})", c.as_str()))
                        .collect();
                    if self.pending.contains(name) {
                        waiting.push("Compose to create it".into());
                    }
                    self.tracked.get_mut(name).expect("tracked").announced = true;
                    self.publish(name, Some(format!("waiting for {}", waiting.join(", "))));
                }
                continue;
            }
            changed = true;
            let rerun = self.rerun.contains(name);
            let t = self.tracked.get_mut(name).expect("tracked");
            t.acted = true;
            if t.ids.is_empty() {
                t.failure = Some(Failure::NoContainer);
                self.publish(name, None);
                continue;
            }
            let mut detail = None;
            for i in 0..t.ids.len() {
                let seen = &t.policies[i];
                if t.target == Condition::Healthy && !has_healthcheck(seen) {
                    // The image or file has no health check after all: `started` is all
                    // Docker can tell.
                    t.target = Condition::Started;
                    detail = Some("no health check in the container; waiting for started".into());
                }
                t.ctrs[i] = match seen.state {
                    RunState::Exited if run.job && !rerun && seen.exit_code == Some(0) => {
                        detail = Some("unchanged; completed earlier".into());
                        Ctr::Exited(0)
                    }
                    RunState::Running | RunState::Paused => match seen.health {
                        Some(HealthStatus::Healthy) => Ctr::Healthy,
                        Some(HealthStatus::Unhealthy) => {
                            t.failure = Some(Failure::Unhealthy);
                            Ctr::Running
                        }
                        _ => Ctr::Running,
                    },
                    RunState::Restarting => Ctr::Restarting,
                    _ => {
                        to_start.push((name.clone(), i, t.ids[i].clone()));
                        Ctr::Starting
                    }
                };
            }
            self.publish(name, detail);
        }
        if !to_start.is_empty() {
            let engine = self.engine;
            let results =
                futures_util::future::join_all(to_start.iter().map(|(_, _, id)| engine.start(id)))
                    .await;
            for ((name, _, _), r) in to_start.iter().zip(results) {
                if let Err(e) = r {
                    self.fail(
                        name,
                        Failure::Docker(format!("Docker could not start it: {e}")),
                    );
                }
            }
        }
        changed
    }

    fn apply(&mut self, phase: &[String], event: docker::Event) {
        let Some(service) = self.by_id.get(&event.container).cloned() else {
            return;
        };
        if !phase.contains(&service) {
            return;
        }
        let t = self.tracked.get_mut(&service).expect("tracked");
        if !t.acted || t.failure.is_some() {
            return;
        }
        let Some(i) = t.ids.iter().position(|id| *id == event.container) else {
            return;
        };
        let job = self.plan.services[&service].job;
        let mut failure = None;
        match event.action {
            Action::Start | Action::Restart => {
                if t.ctrs[i] != Ctr::Healthy {
                    t.ctrs[i] = Ctr::Running;
                }
                if t.target == Condition::Started && !job {
                    t.settling = Some(Instant::now() + SETTLE);
                }
            }
            Action::Healthy => t.ctrs[i] = Ctr::Healthy,
            Action::Unhealthy => failure = Some(Failure::Unhealthy),
            Action::Die { exit_code } => {
                if job {
                    t.ctrs[i] = Ctr::Exited(exit_code);
                    if exit_code != 0 {
                        failure = Some(Failure::JobFailed { code: exit_code });
                    }
                } else if t.policies[i].restarts_after(exit_code) {
                    t.restarts += 1;
                    t.ctrs[i] = Ctr::Restarting;
                    if t.restarts >= RESTART_LOOP {
                        failure = Some(Failure::RestartLoop {
                            restarts: t.restarts,
                            code: exit_code,
                        });
                    }
                } else {
                    t.ctrs[i] = Ctr::Exited(exit_code);
                    failure = Some(Failure::Exited { code: exit_code });
                }
            }
            Action::Destroy => failure = Some(Failure::Docker("its container was removed".into())),
            _ => {}
        }
        match failure {
            Some(f) => self.fail(&service, f),
            None => self.publish(&service, None),
        }
    }

    fn next_settle(&self, phase: &[String]) -> Option<Instant> {
        phase.iter().filter_map(|s| self.tracked[s].settling).min()
    }

    fn settle(&mut self, phase: &[String]) {
        let now = Instant::now();
        for name in phase {
            let t = self.tracked.get_mut(name).expect("tracked");
            if t.settling.is_some_and(|at| at <= now) {
                t.settling = None;
                self.publish(name, None);
            }
        }
    }

    fn deadline(&mut self, phase: &[String], timeout: Duration) {
        for name in phase {
            let t = &self.tracked[name];
            if t.derive().is_final() {
                continue;
            }
            let failure = if t.acted {
                Failure::Deadline {
                    after: timeout,
                    waiting_for: t.target,
                }
            } else {
                let run = &self.plan.services[name];
                Failure::NotStarted {
                    waiting_on: run
                        .deps
                        .iter()
                        .filter(|(d, c)| self.tracked.get(d).is_some_and(|t| !t.satisfies(*c)))
                        .map(|(d, _)| d.clone())
                        .collect(),
                }
            };
            self.fail(name, failure);
        }
    }

    fn lost_events(&mut self, phase: &[String], message: String) {
        for name in phase {
            if !self.tracked[name].derive().is_final() {
                self.fail(
                    name,
                    Failure::Docker(format!("lost Docker's events: {message}")),
                );
            }
        }
    }
}

fn has_healthcheck(c: &Inspection) -> bool {
    c.health.is_some() || c.has_healthcheck
}

#[cfg(test)]
mod tests;
