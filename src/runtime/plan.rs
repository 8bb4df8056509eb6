//! From a registry and a selection to what the phase runner needs: per phase, per service,
//! the condition it must reach and the conditions it waits for. Pure: no Docker here.

use std::collections::HashSet;
use std::time::Duration;

use indexmap::IndexMap;

use crate::graph::{Closure, DepGraph, Selected};
use crate::registry::model::{Condition, Registry};

#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    pub phases: Vec<RunPhase>,
    /// Every planned service, in start order.
    pub services: IndexMap<String, RunService>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunPhase {
    pub name: String,
    pub timeout: Duration,
    /// In start order.
    pub services: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunService {
    pub name: String,
    pub phase: String,
    pub job: bool,
    pub critical: bool,
    /// What it must reach for its phase to pass.
    pub target: Condition,
    /// Planned services it waits for, and for what.
    pub deps: Vec<(String, Condition)>,
}

/// The condition a service itself must reach: `completed` for a job, `healthy` with a
/// health check, else `started`.
pub fn own_condition(reg: &Registry, service: &str) -> Condition {
    match reg.services.get(service) {
        Some(s) if s.job => Condition::Completed,
        Some(s) if s.health.has_check() => Condition::Healthy,
        _ => Condition::Started,
    }
}

/// Plans `selected` (closure with `running` services used for optional dependencies).
pub fn plan(
    reg: &Registry,
    selected: &[Selected],
    running: &HashSet<String>,
) -> (Closure, RunPlan) {
    let graph = DepGraph::new(reg);
    let closure = graph.closure(selected, running);
    let phases = graph.plan(&closure);
    let mut services = IndexMap::new();
    let mut run_phases = Vec::new();
    let mut earlier_or_same: HashSet<&str> = HashSet::new();
    for phase in &phases.phases {
        earlier_or_same.extend(phase.services.iter().map(String::as_str));
        for name in &phase.services {
            let s = &reg.services[name];
            let deps = s
                .depends_on
                .iter()
                // A dependency outside the plan (optional, not running) is not waited for,
                // nor is one of a later phase (`check` reports a required one).
                .filter(|d| earlier_or_same.contains(d.service.value.as_str()))
                .filter(|d| d.service.value != *name)
                .map(|d| (d.service.value.clone(), reg.effective_condition(d)))
                .collect();
            services.insert(
                name.clone(),
                RunService {
                    name: name.clone(),
                    phase: phase.name.clone(),
                    job: s.job,
                    critical: s.critical,
                    target: own_condition(reg, name),
                    deps,
                },
            );
        }
        run_phases.push(RunPhase {
            name: phase.name.clone(),
            timeout: phase.timeout,
            services: phase.services.clone(),
        });
    }
    (
        closure,
        RunPlan {
            phases: run_phases,
            services,
        },
    )
}

impl RunPlan {
    /// Planned services that need `service`, directly or not.
    pub fn dependents_of(&self, service: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut stack = vec![service.to_string()];
        while let Some(s) = stack.pop() {
            for (name, run) in &self.services {
                if run.deps.iter().any(|(d, _)| *d == s) && !out.contains(name) {
                    out.push(name.clone());
                    stack.push(name.clone());
                }
            }
        }
        out
    }
}
