//! Rules about meaning: phases, cycles, wait conditions, engine fitness, and the warnings.

use std::collections::HashSet;

use crate::diagnostic::{Code, Diagnostic};
use crate::graph::DepGraph;
use crate::registry::References;
use crate::registry::model::*;

pub(super) fn check(reg: &Registry, refs: &References, out: &mut Vec<Diagnostic>) {
    phases_and_conditions(reg, out);
    cycles(reg, out);
    secret_cycles(reg, out);
    engines(reg, out);
    warnings(reg, refs, out);
}

fn phases_and_conditions(reg: &Registry, out: &mut Vec<Diagnostic>) {
    for s in reg.services.values() {
        let own_order = s.phase.as_ref().and_then(|p| reg.phase_order(&p.value));
        for dep in &s.depends_on {
            let Some(target) = reg.services.get(&dep.service.value) else {
                continue;
            };
            let target_phase = target.phase.as_ref().and_then(|p| reg.phases.get(&p.value));
            if let (Some(own), Some(tp), false) = (own_order, target_phase, dep.optional)
                && tp.order > own
            {
                let own_phase = &s.phase.as_ref().expect("has an order").value;
                out.push(
                    Diagnostic::new(
                        Code::LaterPhase,
                        format!(
                            "`{}` (phase {own_phase}, order {own}) requires `{}` (phase {}, order {})",
                            s.name.value, target.name.value, tp.name.value, tp.order
                        ),
                    )
                    .at(dep.service.span, "starts in a later phase")
                    .help(format!(
                        "move `{}` to phase `{own_phase}` or earlier, or make the dependency `{{ service: {}, optional: true }}`",
                        target.name.value, target.name.value
                    )),
                );
            }
            let Some(condition) = &dep.condition else {
                continue;
            };
            match condition.value {
                Condition::Healthy if !target.health.has_check() => out.push(
                    Diagnostic::new(
                        Code::HealthyWithoutCheck,
                        format!("`{}` waits for `{}` to be healthy, but it has no health check", s.name.value, target.name.value),
                    )
                    .at(condition.span, "never becomes healthy")
                    .help(format!("give `{}` a `health:` check, or wait for `started`", target.name.value)),
                ),
                Condition::Completed if !target.job => out.push(
                    Diagnostic::new(
                        Code::CompletedNotJob,
                        format!("`{}` waits for `{}` to complete, but it is not a job", s.name.value, target.name.value),
                    )
                    .at(condition.span, "a service does not complete")
                    .help(format!("mark `{}` with `job: true` if it runs to completion, or wait for `healthy` or `started`", target.name.value)),
                ),
                _ => {}
            }
        }
    }
}

fn cycles(reg: &Registry, out: &mut Vec<Diagnostic>) {
    for cycle in DepGraph::new(reg).cycles() {
        let first = &reg.services[cycle[0].as_str()];
        let second = cycle.get(1).cloned().unwrap_or_default();
        let span = first
            .depends_on
            .iter()
            .find(|d| d.service.value == second)
            .map(|d| d.service.span)
            .unwrap_or(first.name.span);
        let message = if cycle.len() == 2 {
            format!("`{}` depends on itself", cycle[0])
        } else {
            format!("dependency cycle: {}", cycle.join(" -> "))
        };
        out.push(
            Diagnostic::new(Code::DependencyCycle, message)
                .at(span, "first step of the cycle")
                .help("no service can start first; remove one of these dependencies or make it `optional: true` where the service copes without it"),
        );
    }
}

fn secret_cycles(reg: &Registry, out: &mut Vec<Diagnostic>) {
    let mut reported: HashSet<String> = HashSet::new();
    for secret in reg.secrets.values() {
        let mut path = vec![secret.name.value.clone()];
        let mut at = secret;
        while let Some(from) = &at.from {
            let Some(next) = reg.secrets.get(&from.value) else {
                break;
            };
            if let Some(start) = path.iter().position(|p| p == &next.name.value) {
                let mut cycle: Vec<String> = path[start..].to_vec();
                cycle.push(next.name.value.clone());
                if cycle.iter().any(|c| reported.contains(c)) {
                    break;
                }
                reported.extend(cycle.iter().cloned());
                let culprit = &reg.secrets[cycle[cycle.len() - 2].as_str()];
                out.push(
                    Diagnostic::new(
                        Code::SecretCycle,
                        format!("secrets derive from each other: {}", cycle.join(" <- ")),
                    )
                    .at(
                        culprit
                            .from
                            .as_ref()
                            .map(|f| f.span)
                            .unwrap_or(culprit.name.span),
                        "closes the cycle",
                    )
                    .help("a derived secret needs a source that is generated or set by hand"),
                );
                break;
            }
            path.push(next.name.value.clone());
            at = next;
        }
    }
}

fn engines(reg: &Registry, out: &mut Vec<Diagnostic>) {
    let targets = reg.target_engines();
    let clusters: Vec<&str> = targets
        .iter()
        .filter(|t| t.is_cluster())
        .map(|t| t.as_str())
        .collect();
    for s in reg.services.values() {
        if s.image.is_none() && s.build.is_some() && !clusters.is_empty() {
            let mut d = Diagnostic::new(
                Code::BuildOnlyOnCluster,
                format!(
                    "`{}` has only `build:`, but this registry targets {}",
                    s.name.value,
                    clusters.join(", ")
                ),
            )
            .at(s.name.span, "no image for the cluster to pull")
            .help(
                "add `image:` naming where the built image is pushed, or set `targets: [compose]`",
            );
            if reg.targets.is_empty() {
                d = d.help("add `image:` naming where the built image is pushed, or set `targets: [compose]` (without `targets`, every engine is targeted)");
            }
            out.push(d);
        }
        if let (Some(subdomain), None) = (&s.subdomain, &reg.domain) {
            out.push(
                Diagnostic::new(
                    Code::Missing,
                    format!(
                        "`{}` has a subdomain, but the registry has no `domain`",
                        s.name.value
                    ),
                )
                .at(subdomain.span, "subdomain of what?")
                .help("set the top-level `domain:`, e.g. `domain: ${DOMAIN}`"),
            );
        }
        for route in &s.routes {
            if route.host.is_none() && reg.domain.is_none() {
                out.push(
                    Diagnostic::new(
                        Code::Missing,
                        format!(
                            "a route of `{}` has no host and the registry has no `domain`",
                            s.name.value
                        ),
                    )
                    .at(route.span, "no host")
                    .help("give the route a `host:`, or set the top-level `domain:`"),
                );
            }
        }
    }
}

fn warnings(reg: &Registry, refs: &References, out: &mut Vec<Diagnostic>) {
    let mut warned: HashSet<&str> = HashSet::new();
    for (name, span) in &refs.variables {
        if reg.variables.contains_key(name) || !warned.insert(name.as_str()) {
            continue;
        }
        out.push(
            Diagnostic::new(Code::UndeclaredVariable, format!("variable `{name}` is used but not declared"))
                .at(*span, "not under `variables:`")
                .help(format!(
                    "declare it so `.env.example` documents it: `variables: {{ {name}: {{ description: ..., required: true }} }}`"
                )),
        );
    }
    for s in reg.services.values() {
        if s.critical && !s.health.has_check() {
            out.push(
                Diagnostic::new(Code::CriticalWithoutHealth, format!("critical service `{}` has no health check", s.name.value))
                    .at(s.name.span, "critical, but never probed")
                    .help("without a check, muster can only tell that it runs, not that it works; add `health:`"),
            );
        }
    }
    for phase in reg.phases.values() {
        if !reg.services.values().any(|s| {
            s.phase
                .as_ref()
                .is_some_and(|p| p.value == phase.name.value)
        }) {
            out.push(
                Diagnostic::new(
                    Code::EmptyPhase,
                    format!("phase `{}` has no services", phase.name.value),
                )
                .at(phase.name.span, "empty phase")
                .help("remove it, or assign services to it"),
            );
        }
    }
    let without_image_health: Vec<&str> = reg
        .target_engines()
        .into_iter()
        .filter(|t| matches!(t, Target::Kubernetes | Target::Nomad))
        .map(|t| t.as_str())
        .collect();
    if !without_image_health.is_empty() {
        for s in reg.services.values() {
            if let Some(check) = &s.health.check
                && check.value == HealthCheck::Image
            {
                out.push(
                    Diagnostic::new(
                        Code::ImageHealthUnsupported,
                        format!(
                            "`{}` relies on the image's health check, which {} cannot run",
                            s.name.value,
                            without_image_health.join(" and ")
                        ),
                    )
                    .at(check.span, "image health check")
                    .help("use `exec`, `http` or `tcp` so every engine can probe it"),
                );
            }
        }
    }
}
