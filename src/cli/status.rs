//! `muster status`: every judged service, running or not (state, health, phase, uptime,
//! restarts, ports), and the verdict HEALTHY / DEGRADED / FAILED. One list call plus
//! concurrent inspections; `--watch` redraws on Docker events.

use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use serde::Serialize;

use super::output::table;
use super::stack::{self, Interrupt, Stack};
use super::{CmdResult, Exit, Failure, Global, Printer};
use crate::runtime::docker::{Engine, now_nanos};
use crate::runtime::hosts::Hosts;
use crate::runtime::observe::{self, ServiceStatus, format_uptime};
use crate::runtime::verdict::{self, Judged, Judgement, Standing, Verdict};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the services and the verdict as JSON
    #[arg(long)]
    json: bool,
    /// Keep the view up to date until Ctrl-C
    #[arg(long)]
    watch: bool,
    /// Judge every enabled service, not only those of the last `up`
    #[arg(long)]
    all: bool,
    /// Exit with the verdict: 0 HEALTHY, 1 DEGRADED, 3 FAILED
    #[arg(long)]
    check: bool,
    /// Judge this environment (default: the one of the last `up`)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

#[derive(Serialize)]
struct JsonService<'a> {
    #[serde(flatten)]
    status: &'a ServiceStatus,
    phase: String,
    critical: bool,
    job: bool,
    standing: Standing,
}

#[derive(Serialize)]
struct JsonStatus<'a> {
    project: &'a str,
    services: Vec<JsonService<'a>>,
    verdict: Verdict,
    summary: String,
    judgement: &'a Judgement,
}

pub fn run(global: &Global, printer: &Printer, args: Args) -> CmdResult {
    let (stack, last) = stack::load_running(global, printer, args.env.as_deref())?;
    let services = if args.all {
        stack
            .reg
            .enabled_services()
            .map(|s| s.name.value.clone())
            .collect()
    } else {
        stack::judged_services(&stack, last.as_ref())
    };
    let rt = stack::runtime()?;
    rt.block_on(async {
        let engine = stack::connect_all(&stack).await?;
        if !args.watch {
            let verdict = show(printer, &args, &stack, &engine, &services, false).await?;
            return Ok(if args.check {
                stack::verdict_exit(verdict)
            } else {
                Exit::Ok
            });
        }
        let interrupt = Interrupt::install();
        let clear = !args.json && std::io::stdout().is_terminal();
        let mut events = engine.events(stack.project(), now_nanos());
        loop {
            let verdict = show(printer, &args, &stack, &engine, &services, clear).await?;
            // Redraw on the next event (after a short pause to batch bursts) or every 2s
            // for the uptimes.
            tokio::select! {
                _ = interrupt.wait() => {
                    return Ok(if args.check { stack::verdict_exit(verdict) } else { Exit::Ok });
                }
                _ = events.next() => tokio::time::sleep(Duration::from_millis(100)).await,
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
    })
}

async fn show(
    printer: &Printer,
    args: &Args,
    stack: &Stack,
    engine: &Hosts,
    services: &[String],
    clear: bool,
) -> Result<Verdict, Failure> {
    let observed = observe::observe(engine, stack.project())
        .await
        .map_err(|e| Failure::could_not(e.to_string()))?;
    let now = SystemTime::now();
    let rows: Vec<(ServiceStatus, Judged)> = services
        .iter()
        .map(|s| {
            let status = observed.status(s, now);
            let service = &stack.reg.services[s];
            let judged = Judged {
                service: s.clone(),
                critical: service.critical,
                standing: verdict::standing(&status, service.job),
            };
            (status, judged)
        })
        .collect();
    let judged: Vec<Judged> = rows.iter().map(|(_, j)| j.clone()).collect();
    let judgement = verdict::judge(&judged);
    if args.json {
        let json = JsonStatus {
            project: stack.project(),
            services: rows
                .iter()
                .map(|(status, j)| JsonService {
                    status,
                    phase: stack::phase_of(stack, &status.service),
                    critical: j.critical,
                    job: stack.reg.services[&status.service].job,
                    standing: j.standing,
                })
                .collect(),
            verdict: judgement.verdict,
            summary: judgement.sentence(),
            judgement: &judgement,
        };
        let text = serde_json::to_string(&json).expect("status serializes");
        if args.watch {
            printer.out(&text);
        } else {
            printer.out(&serde_json::to_string_pretty(&json).expect("status serializes"));
        }
        return Ok(judgement.verdict);
    }
    let mut table_rows = vec![
        [
            "SERVICE", "PHASE", "STATE", "HEALTH", "UPTIME", "RESTARTS", "PORTS",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for (status, _) in &rows {
        table_rows.push(vec![
            status.service.clone(),
            stack::phase_of(stack, &status.service),
            status.state_text(),
            status
                .health
                .map(|h| h.as_str().to_string())
                .unwrap_or_else(|| "-".into()),
            status
                .uptime
                .map(format_uptime)
                .unwrap_or_else(|| "-".into()),
            status.restarts.to_string(),
            if status.ports.is_empty() {
                "-".into()
            } else {
                status.ports.join(", ")
            },
        ]);
    }
    let sentence = judgement.sentence();
    let sentence = match judgement.verdict {
        Verdict::Healthy => printer.good(&sentence),
        Verdict::Degraded => printer.warn(&sentence),
        Verdict::Failed => printer.bad(&sentence),
    };
    let mut text = String::new();
    if clear {
        text.push_str("\x1b[H\x1b[2J");
    }
    text.push_str(&table(&table_rows));
    text.push_str(&sentence);
    printer.out(&text);
    Ok(judgement.verdict)
}
