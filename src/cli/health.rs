//! `muster health [SELECTION]`: runs every check now. `http` and `tcp` checks are probed by
//! muster from the host (the published port, else the container's address); `exec` and
//! `image` checks are Docker's own. Exits 0 healthy, 1 degraded, 3 failed (2: no Docker).

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::output::table;
use super::stack::{self, Stack};
use super::{CmdResult, Failure, Global, Printer};
use crate::graph::resolve_selection;
use crate::registry::model::HealthCheck;
use crate::runtime::docker::{HealthStatus, Inspection, RunState};
use crate::runtime::observe::{self, Observed};
use crate::runtime::probe;
use crate::runtime::verdict::{self, Judged, Standing, Verdict};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services, groups or phases, or `all` (default: those of the last `up`)
    #[arg(value_name = "SELECTION")]
    selection: Vec<String>,
    /// Check this environment (default: the one of the last `up`)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Print the results as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Serialize)]
struct Checked {
    service: String,
    /// `http`, `tcp`, `exec`, `image`, `none`.
    check: &'static str,
    /// Who ran it: `muster` or `docker`.
    by: &'static str,
    standing: Standing,
    detail: String,
}

pub fn run(global: &Global, printer: &Printer, args: Args) -> CmdResult {
    let (stack, last) = stack::load_running(global, printer, args.env.as_deref())?;
    let services: Vec<String> = if args.selection.is_empty() {
        stack::judged_services(&stack, last.as_ref())
    } else {
        resolve_selection(&stack.reg, &args.selection)
            .map_err(|e| Failure::could_not(e.to_string()))?
            .into_iter()
            .map(|s| s.service)
            .collect()
    };
    let rt = stack::runtime()?;
    let results = rt.block_on(async {
        let engine = stack::connect_all(&stack).await?;
        let observed = observe::observe(&engine, stack.project())
            .await
            .map_err(|e| Failure::could_not(e.to_string()))?;
        Ok::<_, Failure>(
            futures_util::future::join_all(services.iter().map(|s| check(&stack, &observed, s)))
                .await,
        )
    })?;
    let judged: Vec<Judged> = results
        .iter()
        .map(|c| Judged {
            service: c.service.clone(),
            critical: stack.reg.services[&c.service].critical,
            standing: c.standing,
        })
        .collect();
    let judgement = verdict::judge(&judged);
    if args.json {
        let json = serde_json::json!({
            "project": stack.project(),
            "checks": results,
            "verdict": judgement.verdict,
            "summary": judgement.sentence(),
        });
        printer.out(&serde_json::to_string_pretty(&json).expect("json"));
    } else {
        let mut rows = vec![
            ["SERVICE", "CHECK", "RESULT", "DETAIL"]
                .map(String::from)
                .to_vec(),
        ];
        for c in &results {
            let result = match c.standing {
                Standing::Ok => printer.good("ok"),
                Standing::Starting => printer.warn("starting"),
                Standing::Unhealthy => printer.bad("failing"),
                Standing::Down => printer.bad("down"),
            };
            rows.push(vec![
                c.service.clone(),
                format!("{} ({})", c.check, c.by),
                result,
                c.detail.clone(),
            ]);
        }
        let sentence = judgement.sentence();
        let sentence = match judgement.verdict {
            Verdict::Healthy => printer.good(&sentence),
            Verdict::Degraded => printer.warn(&sentence),
            Verdict::Failed => printer.bad(&sentence),
        };
        printer.out(&format!("{}{sentence}", table(&rows)));
    }
    Ok(stack::verdict_exit(judgement.verdict))
}

async fn check(stack: &Stack, observed: &Observed, name: &str) -> Checked {
    let service = &stack.reg.services[name];
    let containers = observed.containers(name);
    let kind = match service.health.check.as_ref().map(|c| &c.value) {
        Some(HealthCheck::Http(h)) if h.scheme == "http" => "http",
        Some(HealthCheck::Http(_)) => "https",
        Some(HealthCheck::Tcp { .. }) => "tcp",
        Some(HealthCheck::Exec(_)) => "exec",
        Some(HealthCheck::Image) => "image",
        Some(HealthCheck::None) | None => "none",
    };
    let mut checked = Checked {
        service: name.to_string(),
        check: kind,
        by: if matches!(kind, "http" | "tcp") {
            "muster"
        } else {
            "docker"
        },
        standing: Standing::Ok,
        detail: String::new(),
    };
    let status = observed.status(name, SystemTime::now());
    if service.job {
        checked.check = "job";
        checked.by = "docker";
        checked.standing = verdict::standing(&status, true);
        checked.detail = status.state_text();
        return checked;
    }
    let running: Vec<&Inspection> = containers
        .iter()
        .filter(|c| c.state == RunState::Running)
        .collect();
    if running.is_empty() || running.len() < containers.len() {
        checked.standing = Standing::Down;
        checked.detail = format!("not running ({})", status.state_text());
        return checked;
    }
    let timeout = service
        .health
        .timings
        .over(stack.reg.defaults.health)
        .timeout
        .unwrap_or(Duration::from_secs(5))
        .min(Duration::from_secs(10));
    let remote = crate::runtime::hosts::host_of(&stack.reg, name)
        .and_then(|h| crate::runtime::hosts::endpoint(&stack.reg, h))
        .and_then(probe::remote_host);
    let remote = remote.as_deref();
    let mut details = Vec::new();
    for c in running {
        let probed = match service.health.check.as_ref().map(|c| &c.value) {
            Some(HealthCheck::Http(h)) if h.scheme == "http" => {
                match probe::target(c, h.port, remote) {
                    Some(t) => Some(
                        probe::http(t.addr, h, timeout)
                            .await
                            .map(|ok| format!("{ok} via {}", t.via))
                            .map_err(|e| format!("{e} via {}", t.via)),
                    ),
                    None => Some(Err("no address to reach it from the host".into())),
                }
            }
            Some(HealthCheck::Tcp { port }) => match probe::target(c, *port, remote) {
                Some(t) => Some(
                    probe::tcp(t.addr, timeout)
                        .await
                        .map(|ok| format!("{ok} via {}", t.via))
                        .map_err(|e| format!("{e} via {}", t.via)),
                ),
                None => Some(Err("no address to reach it from the host".into())),
            },
            _ => None,
        };
        let (standing, detail) = match probed {
            Some(Ok(d)) => (Standing::Ok, d),
            Some(Err(d)) => (Standing::Unhealthy, d),
            None => docker_health(c),
        };
        if standing_rank(standing) > standing_rank(checked.standing) {
            checked.standing = standing;
        }
        details.push(detail);
    }
    details.dedup();
    checked.detail = details.join("; ");
    checked
}

/// What Docker's last probe said, for checks muster does not run itself.
fn docker_health(c: &Inspection) -> (Standing, String) {
    let last = c
        .probes
        .last()
        .map(|p| {
            let out = p.output.trim().replace('\n', " | ");
            if out.is_empty() {
                format!("exit {}", p.exit_code)
            } else {
                format!("exit {}: {out}", p.exit_code)
            }
        })
        .unwrap_or_default();
    match c.health {
        Some(HealthStatus::Healthy) => (Standing::Ok, format!("healthy ({last})")),
        Some(HealthStatus::Unhealthy) => (Standing::Unhealthy, format!("unhealthy ({last})")),
        Some(HealthStatus::Starting) => (Standing::Starting, "starting".into()),
        None if c.has_healthcheck => (Standing::Starting, "no result yet".into()),
        None => (Standing::Ok, "running (no health check)".into()),
    }
}

fn standing_rank(s: Standing) -> u8 {
    match s {
        Standing::Ok => 0,
        Standing::Starting => 1,
        Standing::Unhealthy => 2,
        Standing::Down => 3,
    }
}
