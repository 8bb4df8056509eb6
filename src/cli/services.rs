//! `muster services list | show S | deps S [--reverse]`: the registry, explained.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

use super::output::table;
use super::{CmdResult, Exit, Failure, Global, Printer, workspace};
use crate::diagnostic::did_you_mean;
use crate::graph::{DepGraph, selection::groups_of};
use crate::registry::Registry;
use crate::registry::model::*;
use crate::registry::values::format_duration;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// One line per service: phase, groups, image, ports, health
    List(ListArgs),
    /// Everything the registry says about one service
    Show(ShowArgs),
    /// What a service needs (or, with --reverse, what needs it), as a tree
    Deps(DepsArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only services in this group
    #[arg(long)]
    group: Option<String>,
    /// Only services in this phase
    #[arg(long)]
    phase: Option<String>,
    /// Only services with this tag
    #[arg(long)]
    tag: Option<String>,
    /// Print as JSON
    #[arg(long)]
    json: bool,
    /// Use this environment's registry (merged)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    service: String,
    /// Use this environment's registry (merged)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct DepsArgs {
    service: String,
    /// Show the services that depend on it instead
    #[arg(long)]
    reverse: bool,
    /// Use this environment's registry (merged)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

pub fn run(global: &Global, printer: &Printer, command: Command) -> CmdResult {
    match command {
        Command::List(args) => list(global, printer, args),
        Command::Show(args) => show(global, printer, args),
        Command::Deps(args) => deps(global, printer, args),
    }
}

#[derive(Serialize)]
struct JsonService<'a> {
    name: &'a str,
    enabled: bool,
    phase: Option<&'a str>,
    groups: Vec<String>,
    image: Option<&'a str>,
    ports: Vec<String>,
    health: String,
    critical: bool,
    job: bool,
    tags: &'a [String],
    depends_on: Vec<&'a str>,
}

fn list(global: &Global, printer: &Printer, args: ListArgs) -> CmdResult {
    let (_, reg) = workspace::load_valid(global, printer, args.env.as_deref())?;
    let services: Vec<&Service> = reg
        .services
        .values()
        .map(Arc::as_ref)
        .filter(|s| {
            args.phase
                .as_ref()
                .is_none_or(|p| s.phase.as_ref().is_some_and(|x| &x.value == p))
        })
        .filter(|s| args.tag.as_ref().is_none_or(|t| s.tags.contains(t)))
        .filter(|s| {
            args.group
                .as_ref()
                .is_none_or(|g| groups_of(&reg, &s.name.value).contains(g))
        })
        .collect();
    if args.json {
        let json: Vec<JsonService> = services
            .iter()
            .map(|s| JsonService {
                name: &s.name.value,
                enabled: s.enabled,
                phase: s.phase.as_ref().map(|p| p.value.as_str()),
                groups: groups_of(&reg, &s.name.value),
                image: s.image_text.as_deref(),
                ports: ports(s),
                health: health_summary(s),
                critical: s.critical,
                job: s.job,
                tags: &s.tags,
                depends_on: s
                    .depends_on
                    .iter()
                    .map(|d| d.service.value.as_str())
                    .collect(),
            })
            .collect();
        printer.out(&serde_json::to_string_pretty(&json).expect("services serialize"));
        return Ok(Exit::Ok);
    }
    let mut rows = vec![
        ["SERVICE", "PHASE", "GROUPS", "IMAGE", "PORTS", "HEALTH"]
            .map(String::from)
            .to_vec(),
    ];
    for s in &services {
        let mut name = s.name.value.clone();
        if s.critical {
            name.push_str(" *");
        }
        if !s.enabled {
            name.push_str(" (disabled)");
        }
        let groups = groups_of(&reg, &s.name.value);
        rows.push(vec![
            name,
            s.phase
                .as_ref()
                .map(|p| p.value.clone())
                .unwrap_or_else(|| "-".into()),
            if groups.is_empty() {
                "-".into()
            } else {
                groups.join(",")
            },
            s.image_text.clone().unwrap_or_else(|| "(build)".into()),
            dash(ports(s).join(",")),
            health_summary(s),
        ]);
    }
    printer.out(table(&rows).trim_end());
    printer.note(&format!(
        "{} of {} services; * critical",
        services.len(),
        reg.services.len()
    ));
    Ok(Exit::Ok)
}

fn dash(s: String) -> String {
    if s.is_empty() { "-".into() } else { s }
}

fn ports(s: &Service) -> Vec<String> {
    s.ports
        .iter()
        .map(|p| match &p.spec {
            PortSpec::Mapping(m) => m.to_string(),
            PortSpec::Interpolated(text) => text.clone(),
        })
        .collect()
}

fn health_summary(s: &Service) -> String {
    match s.health.check.as_ref().map(|c| &c.value) {
        None => "-".into(),
        Some(HealthCheck::Exec(_)) => "exec".into(),
        Some(HealthCheck::Http(h)) => format!("http :{}{}", h.port, h.path),
        Some(HealthCheck::Tcp { port }) => format!("tcp :{port}"),
        Some(HealthCheck::Image) => "image".into(),
        Some(HealthCheck::None) => "none".into(),
    }
}

fn find_service<'r>(reg: &'r Registry, name: &str) -> Result<&'r Service, Failure> {
    reg.services.get(name).map(Arc::as_ref).ok_or_else(|| {
        let mut f = Failure::could_not(format!("`{name}` is not a service"));
        if let Some(close) = did_you_mean(name, reg.services.keys().map(String::as_str)) {
            f = f.hint(format!("did you mean `{close}`?"));
        }
        f
    })
}

fn show(global: &Global, printer: &Printer, args: ShowArgs) -> CmdResult {
    let (_, reg) = workspace::load_valid(global, printer, args.env.as_deref())?;
    let s = find_service(&reg, &args.service)?;
    let mut out = String::new();
    let mut field = |key: &str, value: String| {
        if !value.is_empty() {
            let _ = writeln!(out, "{:<14}{value}", format!("{key}:"));
        }
    };
    field("service", s.name.value.clone());
    field("description", s.description.clone().unwrap_or_default());
    field("image", s.image_text.clone().unwrap_or_default());
    if let Some(b) = &s.build {
        field("build", b.context.clone());
    }
    field(
        "phase",
        s.phase
            .as_ref()
            .map(|p| p.value.clone())
            .unwrap_or_default(),
    );
    field("groups", groups_of(&reg, &s.name.value).join(", "));
    field("tags", s.tags.join(", "));
    let mut flags = Vec::new();
    if s.critical {
        flags.push("critical");
    }
    if s.job {
        flags.push("job");
    }
    if s.global {
        flags.push("global");
    }
    if !s.enabled {
        flags.push("disabled");
    }
    field("flags", flags.join(", "));
    if s.replica_count() != 1 {
        field("replicas", s.replica_count().to_string());
    }
    field("ports", ports(s).join(", "));
    field(
        "listens on",
        s.container_ports()
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    );
    field(
        "networks",
        s.networks
            .iter()
            .map(|n| n.name.value.clone())
            .collect::<Vec<_>>()
            .join(", "),
    );
    let t = s.health.timings;
    let timing =
        |d: Option<std::time::Duration>| d.map(format_duration).unwrap_or_else(|| "default".into());
    if s.health.check.is_some() {
        field(
            "health",
            format!(
                "{} (interval {}, timeout {}, retries {}, start period {})",
                health_summary(s),
                timing(t.interval),
                timing(t.timeout),
                t.retries
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "default".into()),
                timing(t.start_period)
            ),
        );
    }
    field(
        "restart",
        s.restart_policy()
            .map(|r| r.as_str().to_string())
            .unwrap_or_default(),
    );
    let deps: Vec<String> = s
        .depends_on
        .iter()
        .map(|d| {
            let mut text = format!(
                "{} ({})",
                d.service.value,
                reg.effective_condition(d).as_str()
            );
            if d.optional {
                text.push_str(", optional");
            }
            text
        })
        .collect();
    field("depends on", deps.join(", "));
    let graph = DepGraph::new(&reg);
    field("needed by", graph.dependents(&s.name.value).join(", "));
    let env: Vec<String> = s
        .env
        .values()
        .map(|e| match &e.value {
            EnvValue::Secret { name, as_file } => {
                format!(
                    "{}=<secret {}{}>",
                    e.name.value,
                    name.value,
                    if *as_file { " as file" } else { "" }
                )
            }
            EnvValue::Var(v) => format!("{}=${{{}}}", e.name.value, v.value),
            EnvValue::Text(t) => format!(
                "{}={}",
                e.name.value,
                t.render(&|h| h.to_string(), &|name| format!("<secret {name}>"))
            ),
        })
        .collect();
    field("env", env.join("\n              "));
    let routes: Vec<String> =
        crate::registry::decode::subdomain_route(s, reg.domain.as_ref().map(|d| &d.value))
            .into_iter()
            .chain(s.routes.iter().cloned())
            .map(|r| {
                let host = r
                    .host
                    .map(|h| h.render(&|x| x.to_string(), &|_| String::new()))
                    .unwrap_or_default();
                format!(
                    "{host}{}{}",
                    r.path,
                    r.port.map(|p| format!(" -> :{p}")).unwrap_or_default()
                )
            })
            .collect();
    field("routes", routes.join(", "));
    printer.out(out.trim_end());
    Ok(Exit::Ok)
}

fn deps(global: &Global, printer: &Printer, args: DepsArgs) -> CmdResult {
    let (_, reg) = workspace::load_valid(global, printer, args.env.as_deref())?;
    let s = find_service(&reg, &args.service)?;
    let graph = DepGraph::new(&reg);
    let mut out = String::new();
    out.push_str(&s.name.value);
    out.push('\n');
    let mut on_path = HashSet::from([s.name.value.clone()]);
    tree(
        &reg,
        &graph,
        &s.name.value,
        args.reverse,
        "",
        &mut on_path,
        &mut out,
    );
    if out.lines().count() == 1 {
        out.push_str(if args.reverse {
            "  (nothing depends on it)\n"
        } else {
            "  (no dependencies)\n"
        });
    }
    printer.out(out.trim_end());
    Ok(Exit::Ok)
}

/// Draws the dependency tree below `service` with box-drawing branches; a service already
/// on the current path is marked instead of followed, so cycles cannot loop.
fn tree(
    reg: &Registry,
    graph: &DepGraph,
    service: &str,
    reverse: bool,
    prefix: &str,
    on_path: &mut HashSet<String>,
    out: &mut String,
) {
    let children: Vec<(String, String)> = if reverse {
        graph
            .dependents(service)
            .into_iter()
            .map(|d| {
                let dep = reg.services[d]
                    .depends_on
                    .iter()
                    .find(|x| x.service.value == service);
                let note = dep.map(|x| describe(reg, x)).unwrap_or_default();
                (d.to_string(), note)
            })
            .collect()
    } else {
        reg.services[service]
            .depends_on
            .iter()
            .filter(|d| reg.services.contains_key(&d.service.value))
            .map(|d| (d.service.value.clone(), describe(reg, d)))
            .collect()
    };
    for (i, (child, note)) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let branch = if last { "└── " } else { "├── " };
        let looped = on_path.contains(child);
        let _ = writeln!(
            out,
            "{prefix}{branch}{child} {note}{}",
            if looped { " (cycle)" } else { "" }
        );
        if !looped {
            on_path.insert(child.clone());
            let next = format!("{prefix}{}", if last { "    " } else { "│   " });
            tree(reg, graph, child, reverse, &next, on_path, out);
            on_path.remove(child);
        }
    }
}

fn describe(reg: &Registry, dep: &Dependency) -> String {
    let mut text = format!("({}", reg.effective_condition(dep).as_str());
    if dep.optional {
        text.push_str(", optional");
    }
    text.push(')');
    text
}
