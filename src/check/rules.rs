//! Rules about meaning: phases, cycles, wait conditions, engine fitness, and the warnings.

use foldhash::{HashSet, HashSetExt};

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

/// The fix for a dependency on a later phase. Moving the target is one edit only when
/// nothing it requires starts later than the new phase; otherwise the one-line fix is to make
/// the dependency optional, and moving means moving what the target requires too.
fn later_phase_help(reg: &Registry, target: &Service, own_phase: &str, own: i64) -> String {
    let name = &target.name.value;
    let mut later = Vec::new();
    let mut seen: HashSet<&str> = [name.as_str()].into_iter().collect();
    let mut stack = vec![target];
    while let Some(s) = stack.pop() {
        for dep in s.depends_on.iter().filter(|d| !d.optional) {
            let Some(next) = reg.services.get(&dep.service.value) else {
                continue;
            };
            if !seen.insert(next.name.value.as_str()) {
                continue;
            }
            let order = next.phase.as_ref().and_then(|p| reg.phase_order(&p.value));
            if order.is_some_and(|o| o > own) {
                later.push(format!("`{}`", next.name.value));
            }
            stack.push(next);
        }
    }
    if later.is_empty() {
        return format!(
            "move `{name}` to phase `{own_phase}` or earlier, or make the dependency `{{ service: {name}, optional: true }}`"
        );
    }
    later.sort();
    format!(
        "make the dependency `{{ service: {name}, optional: true }}`; moving `{name}` to phase `{own_phase}` would need {} moved too",
        later.join(", ")
    )
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
                    .help(later_phase_help(reg, target, own_phase, own)),
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

/// Whether Nomad runs the service from an image: with the Docker (or Podman) driver, the
/// default; a task with another driver (`extra.nomad.task.driver: exec`, ...) runs none.
fn runs_image_on_nomad(s: &Service) -> bool {
    let driver = s
        .extra
        .get("nomad")
        .and_then(|n| n.get("task"))
        .and_then(|t| t.get("driver"))
        .and_then(|d| d.as_str());
    driver.is_none_or(|d| matches!(d, "docker" | "podman"))
}

fn engines(reg: &Registry, out: &mut Vec<Diagnostic>) {
    let targets = reg.target_engines();
    let clusters: Vec<&str> = targets
        .iter()
        .filter(|t| t.is_cluster())
        .map(|t| t.as_str())
        .collect();
    for s in reg.services.values() {
        let pulling: Vec<&str> = clusters
            .iter()
            .copied()
            .filter(|engine| *engine != "nomad" || runs_image_on_nomad(s))
            .collect();
        if s.image.is_none() && s.build.is_some() && !pulling.is_empty() {
            let mut d = Diagnostic::new(
                Code::BuildOnlyOnCluster,
                format!(
                    "`{}` has only `build:`, but this registry targets {}",
                    s.name.value,
                    pulling.join(", ")
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::source::SourceFile;

    fn later_phase_help(text: &str) -> String {
        let report = crate::check::check_one(Arc::new(SourceFile::new("m.yaml", text)), None);
        let d = report
            .diagnostics
            .iter()
            .find(|d| d.code == crate::diagnostic::Code::LaterPhase)
            .expect("a later-phase error");
        d.help.clone().unwrap_or_default()
    }

    const REGISTRY: &str = "version: 1\nname: t\nphases:\n  apps: { order: 1 }\n  ai: { order: 2 }\n\
        services:\n  web: { image: w, phase: apps, depends_on: [llm] }\n  llm: { image: l, phase: ai, depends_on: [DEP] }\n  \
        gpu: { image: g, phase: ai }\n  db: { image: d, phase: apps }\n";

    #[test]
    fn a_nomad_task_without_an_image_driver_needs_no_image() {
        let errors = |driver: &str| {
            let text = format!(
                "version: 1\nname: t\ntargets: [nomad]\nservices:\n  a:\n    build: {{ context: . }}\n    \
                 extra: {{ nomad: {{ task: {{ driver: {driver}, config: {{ command: ./a }} }} }} }}\n"
            );
            crate::check::check_one(Arc::new(SourceFile::new("m.yaml", text)), None).errors()
        };
        assert_eq!(errors("exec"), 0);
        assert_eq!(errors("docker"), 1);
    }

    #[test]
    fn the_hint_moves_the_target_when_that_is_one_edit() {
        let help = later_phase_help(&REGISTRY.replace("DEP", "db"));
        assert!(
            help.starts_with("move `llm` to phase `apps` or earlier"),
            "{help}"
        );
    }

    #[test]
    fn the_hint_leads_with_optional_when_the_target_needs_a_later_phase_too() {
        let help = later_phase_help(&REGISTRY.replace("DEP", "gpu"));
        assert_eq!(
            help,
            "make the dependency `{ service: llm, optional: true }`; moving `llm` to phase `apps` would need `gpu` moved too"
        );
    }
}
