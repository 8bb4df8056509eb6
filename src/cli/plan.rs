//! `muster plan SELECTION`: what `up` would start, phase by phase, and why each service is in.

use std::collections::HashSet;

use serde::Serialize;

use super::output::table;
use super::{CmdResult, Exit, Failure, Global, Printer, workspace};
use crate::graph::{DepGraph, Reason, resolve_selection};
use crate::registry::values::format_duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services, groups or phases, or `all`
    #[arg(required = true, value_name = "SELECTION")]
    selection: Vec<String>,
    /// Plan with this environment merged
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Print the plan as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct JsonPlan {
    selection: Vec<String>,
    environment: Option<String>,
    phases: Vec<JsonPhase>,
}

#[derive(Serialize)]
struct JsonPhase {
    name: String,
    order: Option<i64>,
    timeout: String,
    services: Vec<JsonService>,
}

#[derive(Serialize)]
struct JsonService {
    name: String,
    /// "selected" or "needed".
    reason: &'static str,
    /// How it was selected ("group bots"), or the dependency path that pulled it in.
    by: Option<String>,
    path: Option<Vec<String>>,
}

pub fn run(global: &Global, printer: &Printer, args: Args) -> CmdResult {
    let (_, reg) = workspace::load_valid(global, printer, args.env.as_deref())?;
    let selected = resolve_selection(&reg, &args.selection).map_err(|e| {
        Failure::could_not(e.to_string())
            .hint("`muster services list` shows the services; groups and phases are in muster.yaml")
    })?;
    let graph = DepGraph::new(&reg);
    let running = super::stack::running_services(&reg.name.value);
    let closure = graph.closure(&selected, running.as_ref().unwrap_or(&HashSet::new()));
    let plan = graph.plan(&closure);
    if args.json {
        let json = JsonPlan {
            selection: args.selection.clone(),
            environment: args.env.clone(),
            phases: plan
                .phases
                .iter()
                .map(|p| JsonPhase {
                    name: p.name.clone(),
                    order: p.order,
                    timeout: format_duration(p.timeout),
                    services: p
                        .services
                        .iter()
                        .map(|s| match &closure.services[s] {
                            Reason::Selected(by) => JsonService {
                                name: s.clone(),
                                reason: "selected",
                                by: Some(by.clone()),
                                path: None,
                            },
                            Reason::NeededBy(path) => JsonService {
                                name: s.clone(),
                                reason: "needed",
                                by: None,
                                path: Some(path.clone()),
                            },
                        })
                        .collect(),
                })
                .collect(),
        };
        printer.out(&serde_json::to_string_pretty(&json).expect("plan serializes"));
        return Ok(Exit::Ok);
    }
    let mut text = String::new();
    for phase in &plan.phases {
        text.push_str(&printer.heading(&format!(
            "phase {} (timeout {})",
            phase.name,
            format_duration(phase.timeout)
        )));
        text.push('\n');
        let rows: Vec<Vec<String>> = phase
            .services
            .iter()
            .map(|s| {
                let why = match &closure.services[s] {
                    Reason::Selected(by) if by == "selected" => "selected".to_string(),
                    Reason::Selected(by) => format!("selected ({by})"),
                    Reason::NeededBy(path) => format!("needed by {}", path.join(" -> ")),
                };
                vec![format!("  {s}"), why]
            })
            .collect();
        text.push_str(&table(&rows));
    }
    printer.out(text.trim_end());
    let services: usize = plan.phases.iter().map(|p| p.services.len()).sum();
    printer.note(&format!(
        "{services} service{} in {} phase{}; {}",
        if services == 1 { "" } else { "s" },
        plan.phases.len(),
        if plan.phases.len() == 1 { "" } else { "s" },
        match &running {
            Some(r) => format!(
                "planned with what runs on Docker ({} running service{} of project `{}`)",
                r.len(),
                if r.len() == 1 { "" } else { "s" },
                reg.name.value
            ),
            None => "planned from the registry alone (Docker is not reachable)".to_string(),
        }
    ));
    Ok(Exit::Ok)
}
