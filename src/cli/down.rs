//! `muster down SELECTION`: stop (and remove) what `up SELECTION` would start, dependents
//! before what they need, and never a service that a running service outside the selection
//! still requires (it says so); `--cascade` stops those dependents too. `--volumes` removes
//! the named volumes of what it removed, after asking.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use super::stack::{self, Interrupt, Stack};
use super::{CmdResult, Exit, Failure, Global, Printer};
use crate::graph::{DepGraph, resolve_selection};
use crate::registry::Registry;
use crate::runtime::docker::Engine;
use crate::runtime::hosts::Hosts;
use crate::runtime::{observe, state};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services, groups or phases, or `all`
    #[arg(required = true, value_name = "SELECTION")]
    selection: Vec<String>,
    /// Also stop running services outside the selection that need what it stops
    #[arg(long)]
    cascade: bool,
    /// Also remove the named volumes of the removed containers (asks first)
    #[arg(long)]
    volumes: bool,
    /// Do not ask before removing volumes
    #[arg(long, short = 'y')]
    yes: bool,
    /// The environment (default: the one of the last `up`)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Refuse instead of waiting when another muster works on this project
    #[arg(long)]
    no_wait: bool,
}

/// Which services to stop, which to keep and why: pure, from the registry and what runs.
pub fn decide(
    reg: &Registry,
    closure: &[String],
    running: &HashSet<String>,
    cascade: bool,
) -> (Vec<String>, BTreeMap<String, String>) {
    let requires = |r: &str, s: &str| {
        reg.services.get(r).is_some_and(|svc| {
            svc.depends_on
                .iter()
                .any(|d| !d.optional && d.service.value == s)
        })
    };
    // In registry order, so the dependent named for a kept service is always the same.
    let mut running: Vec<&String> = running.iter().collect();
    running.sort_by_key(|r| reg.services.get_index_of(r.as_str()));
    let mut stop: Vec<String> = closure.to_vec();
    let mut kept: BTreeMap<String, String> = BTreeMap::new();
    if cascade {
        loop {
            let extra: Vec<String> = running
                .iter()
                .filter(|r| !stop.contains(r))
                .filter(|r| stop.iter().any(|s| requires(r, s)))
                .map(|r| r.to_string())
                .collect();
            if extra.is_empty() {
                break;
            }
            stop.extend(extra);
        }
    } else {
        loop {
            let mut changed = false;
            for s in stop.clone() {
                let needed_by = running
                    .iter()
                    .filter(|r| !stop.contains(r) || kept.contains_key(r.as_str()))
                    .filter(|r| ***r != s)
                    .find(|r| requires(r, &s));
                if let Some(r) = needed_by {
                    stop.retain(|x| *x != s);
                    kept.insert(s.clone(), r.to_string());
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }
    stop.sort_by_key(|s| reg.services.get_index_of(s));
    (stop, kept)
}

pub fn run(global: &Global, printer: &Printer, args: Args) -> CmdResult {
    let (stack, _) = stack::load_running(global, printer, args.env.as_deref())?;
    let selected = resolve_selection(&stack.reg, &args.selection)
        .map_err(|e| Failure::could_not(e.to_string()))?;
    let graph = DepGraph::new(&stack.reg);
    let closure = graph.closure(&selected, &HashSet::new());
    let closure: Vec<String> = closure.services.keys().cloned().collect();
    let rt = stack::runtime()?;
    rt.block_on(async {
        let interrupt = Interrupt::install();
        let engine = stack::connect_all(&stack).await?;
        let command = format!("muster down {}", args.selection.join(" "));
        let _lock = stack::take_lock(&stack, printer, &command, args.no_wait, &interrupt).await?;
        let observed = observe::observe(&engine, stack.project())
            .await
            .map_err(|e| Failure::could_not(e.to_string()))?;
        let running = observed.running_services();
        let (stop, kept) = decide(&stack.reg, &closure, &running, args.cascade);
        for (service, by) in &kept {
            printer.note(&format!(
                "keeping {service}: {by} is running and needs it (--cascade stops {by} too)"
            ));
        }
        let volumes: Vec<String> = if args.volumes {
            let project_volumes = engine
                .volumes(stack.project())
                .await
                .map_err(|e| Failure::could_not(e.to_string()))?;
            let mut vs: Vec<String> = stop
                .iter()
                .flat_map(|s| {
                    observed
                        .containers(s)
                        .iter()
                        .flat_map(|c| c.volumes.clone())
                })
                .filter(|v| project_volumes.contains(v))
                .collect();
            vs.sort();
            vs.dedup();
            vs
        } else {
            Vec::new()
        };
        if !volumes.is_empty() && !args.yes {
            confirm(printer, &volumes)?;
        }
        let stopped = stop_in_order(&stack, &engine, &observed, &stop, &interrupt).await?;
        let mut removed_volumes = Vec::new();
        for v in &volumes {
            match engine.remove_volume(v).await {
                Ok(()) => removed_volumes.push(v.clone()),
                Err(e) => printer.note(&format!("kept volume {v}: {e}")),
            }
        }
        // Networks go with the last container of the project.
        let left = engine
            .list(stack.project())
            .await
            .map_err(|e| Failure::could_not(e.to_string()))?;
        if left.is_empty() {
            for n in engine.networks(stack.project()).await.unwrap_or_default() {
                let _ = engine.remove_network(&n).await;
            }
        }
        state::forget(&stack.state_dir, &stop).map_err(|e| {
            Failure::could_not(format!("cannot update the recorded selection: {e}"))
        })?;
        let mut summary = if stopped.is_empty() {
            "nothing to stop".to_string()
        } else {
            format!("stopped {}", stopped.join(", "))
        };
        if !kept.is_empty() {
            summary.push_str(&format!(
                "; kept {}",
                kept.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if !removed_volumes.is_empty() {
            summary.push_str(&format!("; removed volumes {}", removed_volumes.join(", ")));
        }
        printer.out(&summary);
        Ok(Exit::Ok)
    })
}

fn confirm(printer: &Printer, volumes: &[String]) -> Result<(), Failure> {
    let list = volumes.join(", ");
    if !std::io::stdin().is_terminal() {
        return Err(Failure::could_not(format!(
            "removing volumes ({list}) deletes their data, and there is no terminal to ask"
        ))
        .hint("pass --yes to remove them"));
    }
    printer.note(&format!("remove volumes {list}? Their data is lost. [y/N]"));
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Failure::printed(Exit::Bad))
    }
}

/// Stops and removes the containers of `stop`: each service once every service of `stop`
/// that needs it is down, independent ones together.
pub(super) async fn stop_in_order(
    stack: &Stack,
    engine: &Hosts,
    observed: &observe::Observed,
    stop: &[String],
    interrupt: &Interrupt,
) -> Result<Vec<String>, Failure> {
    let mut left: Vec<String> = stop.to_vec();
    let mut done = Vec::new();
    while !left.is_empty() {
        let wave: Vec<String> = left
            .iter()
            .filter(|s| {
                !left.iter().any(|other| {
                    stack.reg.services.get(other).is_some_and(|o| {
                        o.depends_on.iter().any(|d| d.service.value == **s) && *other != **s
                    })
                })
            })
            .cloned()
            .collect();
        // A cycle (reported by `check`) must not stall: take the rest at once.
        let wave = if wave.is_empty() { left.clone() } else { wave };
        let work = wave.iter().map(|s| async move {
            let grace = stack.reg.services[s]
                .stop_grace_period
                .unwrap_or(Duration::from_secs(10));
            let mut result = Ok(());
            for c in observed.containers(s) {
                if let Err(e) = engine.stop(&c.id, grace).await {
                    result = Err(e);
                } else if let Err(e) = engine.remove(&c.id).await {
                    result = Err(e);
                }
            }
            result
        });
        let results = tokio::select! {
            r = futures_util::future::join_all(work) => r,
            _ = interrupt.wait() => return Err(Failure::printed(Exit::Interrupted)),
        };
        for (s, r) in wave.iter().zip(results) {
            r.map_err(|e| Failure::could_not(format!("cannot stop {s}: {e}")))?;
            if !observed.containers(s).is_empty() {
                done.push(s.clone());
            }
        }
        left.retain(|s| !wave.contains(s));
    }
    done.sort_by_key(|s| stack.reg.services.get_index_of(s));
    Ok(done)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn reg() -> Registry {
        let text = "version: 1\nname: t\nservices:\n  db: { image: 'd:1' }\n  cache: { image: 'c:1' }\n  api: { image: 'a:1', depends_on: [db, cache] }\n  web: { image: 'w:1', depends_on: [api] }\n  report: { image: 'r:1', depends_on: [db, { service: web, optional: true }] }\n";
        let loaded = crate::registry::load(
            Arc::new(crate::source::SourceFile::new("muster.yaml", text)),
            None,
        );
        loaded.registry.unwrap()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keeps_what_running_services_outside_need_and_cascade_stops_them() {
        let reg = reg();
        let running: HashSet<String> = names(&["db", "cache", "api", "web", "report"])
            .into_iter()
            .collect();
        // `down api` = api and what it needs; web needs api, which needs cache and db.
        let (stop, kept) = decide(&reg, &names(&["db", "cache", "api"]), &running, false);
        assert!(stop.is_empty());
        assert_eq!(kept["api"], "web");
        assert_eq!(kept["cache"], "api");
        assert_eq!(kept["db"], "report");
        // Without web running, only db is held (by report).
        let some: HashSet<String> = names(&["db", "cache", "api", "report"])
            .into_iter()
            .collect();
        let (stop, kept) = decide(&reg, &names(&["db", "cache", "api"]), &some, false);
        assert_eq!(stop, names(&["cache", "api"]));
        assert_eq!(kept.len(), 1);
        // --cascade stops web (needs api) and report (needs db), not through optional deps.
        let (stop, kept) = decide(&reg, &names(&["db", "cache", "api"]), &running, true);
        assert_eq!(stop, names(&["db", "cache", "api", "web", "report"]));
        assert!(kept.is_empty());
        // A stopped dependent does not hold anything.
        let running: HashSet<String> = names(&["db", "cache", "api"]).into_iter().collect();
        let (stop, _) = decide(&reg, &names(&["db", "cache", "api"]), &running, false);
        assert_eq!(stop, names(&["db", "cache", "api"]));
    }
}
