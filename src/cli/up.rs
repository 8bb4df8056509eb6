//! `muster up SELECTION`: check, regenerate the Compose file if stale, export secrets, lock
//! the project, create what changed with one `compose up --no-start`, then start services
//! phase by phase through the Engine API, each as soon as what it needs is ready, and tell
//! what failed and why.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::output::table;
use super::stack::{self, Interrupt, Masker, Stack};
use super::{CmdResult, Exit, Failure, Global, Printer};
use crate::graph::{resolve_selection, selection::groups_of};
use crate::registry::values::format_duration;
use crate::runtime::compose::{ComposeCli, UpRequest, creation_batches};
use crate::runtime::diagnose::{self, Diagnosis};
use crate::runtime::docker::{Engine, now_nanos};
use crate::runtime::execute::{self, Batch, Options, Prepared};
use crate::runtime::progress::Progress;
use crate::runtime::{hosts, observe, plan, state};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services, groups or phases, or `all`
    #[arg(required = true, value_name = "SELECTION")]
    selection: Vec<String>,
    /// Start this environment (its merged registry and compose/stack.<env>.yml)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Print one JSON event per line instead of the live view
    #[arg(long)]
    json: bool,
    /// Let non-critical failures end as DEGRADED and start everything else
    #[arg(long)]
    keep_going: bool,
    /// Run jobs again even when their definition did not change
    #[arg(long)]
    rerun_jobs: bool,
    /// Refuse instead of waiting when another muster works on this project
    #[arg(long)]
    no_wait: bool,
}

impl Args {
    /// `muster up SERVICES [--env ENV]` with every other option at its default.
    pub fn services(services: Vec<String>, env: Option<String>) -> Args {
        Args {
            selection: services,
            env,
            json: false,
            keep_going: false,
            rerun_jobs: false,
            no_wait: false,
        }
    }
}

pub fn run(global: &Global, printer: &Printer, args: Args) -> CmdResult {
    let stack = stack::load(global, printer, args.env.as_deref())?;
    let selected = resolve_selection(&stack.reg, &args.selection).map_err(|e| {
        Failure::could_not(e.to_string())
            .hint("`muster services list` shows the services; groups and phases are in muster.yaml")
    })?;
    let rt = stack::runtime()?;
    rt.block_on(up(global, printer, &args, &stack, &selected))
}

async fn up(
    global: &Global,
    printer: &Printer,
    args: &Args,
    stack: &Stack,
    selected: &[crate::graph::Selected],
) -> CmdResult {
    let began = Instant::now();
    let interrupt = Interrupt::install();
    let engine = stack::connect_all(stack).await?;
    let compose_file = stack::ensure_compose_file(stack, printer, || {
        super::workspace::load_valid(global, printer, None).map(|(_, r)| r)
    })?;
    stack::export_secrets(stack, printer)?;
    let compose = ComposeCli::find().map_err(|e| {
        Failure::could_not(e)
            .hint("install Docker Compose, or set MUSTER_COMPOSE to the command to use")
    })?;
    let command = format!("muster up {}", args.selection.join(" "));
    let _lock = stack::take_lock(stack, printer, &command, args.no_wait, &interrupt).await?;

    let project = stack.project().to_string();
    let before = observe::observe(&engine, &project)
        .await
        .map_err(|e| Failure::could_not(e.to_string()))?;
    let (_, plan) = plan::plan(&stack.reg, selected, &before.running_services());
    let services: Vec<String> = plan.services.keys().cloned().collect();
    state::record(
        &stack.state_dir,
        state::UpState {
            project: project.clone(),
            environment: stack.reg.environment.clone(),
            selection: args.selection.clone(),
            services: services.clone(),
            at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        },
        |s| stack.reg.services.get_index_of(s).unwrap_or(usize::MAX),
    )
    .map_err(|e| Failure::could_not(format!("cannot record the selection: {e}")))?;

    // Create (or recreate what changed) without starting anything, through Compose: the
    // first phase in one call, the rest in the background while it starts (see
    // `creation_batches`).
    let mut profiles: Vec<String> = Vec::new();
    for s in &services {
        for g in groups_of(&stack.reg, s) {
            if !profiles.contains(&g) {
                profiles.push(g);
            }
        }
    }
    let env_file = stack.root.join(".env");
    let request = UpRequest {
        project: project.clone(),
        files: vec![compose_file.clone()],
        env_file: env_file.is_file().then_some(env_file),
        profiles,
        services: Vec::new(),
    };
    // Where each service runs: the local engine, or its `placement.host` (through its ssh
    // tunnel for an ssh:// endpoint).
    let endpoints: HashMap<String, Option<String>> = services
        .iter()
        .map(|s| {
            let endpoint = hosts::host_of(&stack.reg, s).and_then(|h| engine.docker_host(h));
            (s.clone(), endpoint)
        })
        .collect();
    let mut batches = creation_batches(&plan, compose.flavor()).into_iter();
    let first = batches.next().unwrap_or_default();
    if global.verbose > 0 {
        printer.note(&format!(
            "creating with {}: {}",
            compose.display(),
            first.join(" ")
        ));
    }
    tokio::select! {
        created = create(&compose, &request, &first, &endpoints, &stack.root) => {
            created.map_err(|message| Failure {
                exit: Exit::Bad,
                message: Some(message),
                hint: Some(format!(
                    "the file is {}; `docker-compose -f FILE config` checks it",
                    stack.shown(&compose_file)
                )),
            })?
        }
        _ = interrupt.wait() => return Ok(interrupted(printer)),
    };

    let since = now_nanos();
    let after = observe::observe(&engine, &project)
        .await
        .map_err(|e| Failure::could_not(e.to_string()))?;
    let jobs: HashSet<String> = plan
        .services
        .values()
        .filter(|s| s.job)
        .map(|s| s.name.clone())
        .collect();
    let old_ids: HashMap<String, HashSet<String>> = before
        .services
        .iter()
        .map(|(s, cs)| (s.clone(), cs.iter().map(|c| c.id.clone()).collect()))
        .collect();
    let rerun_jobs = args.rerun_jobs;
    // A job runs again when Compose replaced its container (its definition changed).
    let pick = move |observed: &observe::Observed, services: &[String]| {
        let mut containers = HashMap::new();
        let mut rerun = HashSet::new();
        for name in services {
            let cs = observed.containers(name).to_vec();
            if jobs.contains(name) {
                let old = old_ids.get(name);
                let changed = cs.iter().any(|c| old.is_none_or(|o| !o.contains(&c.id)));
                if changed || rerun_jobs {
                    rerun.insert(name.clone());
                }
            }
            containers.insert(name.clone(), cs);
        }
        (containers, rerun)
    };
    let (containers, rerun) = pick(&after, &first);
    let mut prepared = Prepared {
        containers,
        rerun,
        ..Prepared::default()
    };
    let later: Vec<Vec<String>> = batches.collect();
    if !later.is_empty() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        prepared.pending = later.iter().flatten().cloned().collect();
        prepared.later = Some(rx);
        let (compose, engine, root, project) = (
            compose.clone(),
            engine.clone(),
            stack.root.clone(),
            project.clone(),
        );
        tokio::spawn(async move {
            for services in later {
                let result = match create(&compose, &request, &services, &endpoints, &root).await {
                    Ok(()) => observe::observe(&engine, &project)
                        .await
                        .map(|o| pick(&o, &services))
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(last_lines(&e, 6)),
                };
                let failed = result.is_err();
                if tx.send(Batch { services, result }).is_err() || failed {
                    break;
                }
            }
        });
    }

    let events = engine.events(&project, since);
    let mut view = View::new(printer, args.json, global.quiet);
    let outcome = execute::execute(
        &engine,
        &plan,
        prepared,
        events,
        Options {
            keep_going: args.keep_going,
        },
        &mut |p| view.show(&p),
        interrupt.wait(),
    )
    .await;
    view.finish();

    if outcome.result == execute::RunResult::Interrupted {
        return Ok(interrupted(printer));
    }
    let masker = stack::masker(stack);
    let failed = outcome.failed();
    let mut diagnoses = Vec::new();
    if !failed.is_empty() {
        let now = observe::observe(&engine, &project)
            .await
            .unwrap_or_default();
        for (name, failure) in &failed {
            let ids: Vec<String> = now.containers(name).iter().map(|c| c.id.clone()).collect();
            diagnoses.push(diagnose::diagnose(&engine, name, &ids, failure.to_string()).await);
        }
    }
    let elapsed = began.elapsed();
    if args.json {
        for d in &diagnoses {
            let mut value = serde_json::to_value(d).expect("diagnosis serializes");
            value["event"] = "diagnosis".into();
            printer.out(&masker.mask(&value.to_string()));
        }
        let summary = serde_json::json!({
            "event": "finished",
            "result": result_word(outcome.result),
            "failed_phase": outcome.failed_phase,
            "skipped": outcome.skipped().iter().map(|(s, b)| serde_json::json!({"service": s, "needs": b})).collect::<Vec<_>>(),
            "elapsed_ms": elapsed.as_millis() as u64,
        });
        printer.out(&summary.to_string());
    } else {
        for d in &diagnoses {
            printer.out(&render_diagnosis(printer, d, &masker));
        }
        let skipped = outcome.skipped();
        if !skipped.is_empty() {
            let list: Vec<String> = skipped
                .iter()
                .map(|(s, b)| format!("{s} (needs {b})"))
                .collect();
            printer.out(&format!("skipped: {}", list.join(", ")));
        }
        let started = outcome
            .services
            .values()
            .filter(|o| o.state.is_final() && o.failure.is_none() && o.skipped_because.is_none())
            .count();
        let line = match outcome.result {
            execute::RunResult::Passed => printer.good(&format!(
                "up: {started} of {} services ready in {}",
                outcome.services.len(),
                seconds(elapsed)
            )),
            execute::RunResult::Degraded => printer.warn(&format!(
                "DEGRADED: {started} of {} services ready, {} failed, {} skipped; no critical service affected ({})",
                outcome.services.len(),
                failed.len(),
                skipped.len(),
                seconds(elapsed)
            )),
            _ => printer.bad(&format!(
                "FAILED: phase {} failed ({}); containers are left as they are for inspection",
                outcome.failed_phase.as_deref().unwrap_or("?"),
                failed
                    .iter()
                    .map(|(s, _)| *s)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        printer.out(&line);
    }
    Ok(match outcome.result {
        execute::RunResult::Passed => Exit::Ok,
        _ => Exit::Bad,
    })
}

/// Creates `services` with Compose on the engine each one is placed on (all hosts at once).
async fn create(
    compose: &ComposeCli,
    request: &UpRequest,
    services: &[String],
    endpoints: &HashMap<String, Option<String>>,
    root: &std::path::Path,
) -> Result<(), String> {
    let mut groups: Vec<(Option<String>, Vec<String>)> = Vec::new();
    for s in services {
        let endpoint = endpoints.get(s).cloned().flatten();
        match groups.iter_mut().find(|(e, _)| *e == endpoint) {
            Some((_, members)) => members.push(s.clone()),
            None => groups.push((endpoint, vec![s.clone()])),
        }
    }
    let runs = groups.iter().map(|(endpoint, members)| async move {
        let args = compose.create_args(&UpRequest {
            services: members.clone(),
            ..request.clone()
        });
        let ran = compose.run(&args, root, endpoint.as_deref()).await;
        (args, endpoint, ran)
    });
    for (args, endpoint, ran) in futures_util::future::join_all(runs).await {
        let ran = ran?;
        if !ran.success {
            return Err(format!(
                "`{} {}`{} failed (exit {}):\n{}",
                compose.display(),
                args.join(" "),
                endpoint
                    .as_ref()
                    .map(|e| format!(" (DOCKER_HOST={e})"))
                    .unwrap_or_default(),
                ran.code
                    .map(|c| c.to_string())
                    .unwrap_or("by a signal".into()),
                ran.stderr.trim_end()
            ));
        }
    }
    Ok(())
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn interrupted(printer: &Printer) -> Exit {
    printer.note("interrupted: stopped waiting; containers are left as they are");
    Exit::Interrupted
}

fn result_word(r: execute::RunResult) -> &'static str {
    match r {
        execute::RunResult::Passed => "passed",
        execute::RunResult::Degraded => "degraded",
        execute::RunResult::Failed => "failed",
        execute::RunResult::Interrupted => "interrupted",
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The failure report of one service: why, state, health-check outputs, exit code, last logs.
pub fn render_diagnosis(printer: &Printer, d: &Diagnosis, masker: &Masker) -> String {
    let mut text = format!(
        "{} {}: {}\n",
        printer.bad("✗"),
        printer.heading(&d.service),
        d.reason
    );
    for c in &d.containers {
        let mut rows = vec![vec!["  container".to_string(), c.name.clone()]];
        rows.push(vec!["  state".into(), c.state.clone()]);
        if let Some(code) = c.exit_code {
            rows.push(vec!["  exit code".into(), code.to_string()]);
        }
        if c.restarts > 0 {
            rows.push(vec!["  restarts".into(), c.restarts.to_string()]);
        }
        if c.oom_killed {
            rows.push(vec!["  killed".into(), "out of memory".into()]);
        }
        if let Some(e) = &c.error {
            rows.push(vec!["  error".into(), masker.mask(e)]);
        }
        text.push_str(&table(&rows));
        if !c.probes.is_empty() {
            text.push_str("  last health checks:\n");
            for p in &c.probes {
                let output = masker.mask(p.output.trim());
                let output = if output.is_empty() {
                    "(no output)".to_string()
                } else {
                    output.replace('\n', " | ")
                };
                text.push_str(&format!("    exit {}: {output}\n", p.exit_code));
            }
        }
        if c.logs.is_empty() {
            text.push_str("  no log output\n");
        } else {
            text.push_str(&format!("  last {} log lines:\n", c.logs.len()));
            for l in &c.logs {
                text.push_str(&format!("    {}\n", printer.dim(&masker.mask(l))));
            }
        }
    }
    text.trim_end().to_string()
}

/// How progress reaches the user: a live view on a terminal, plain lines otherwise, JSON
/// lines with `--json`.
enum View<'p> {
    Json(&'p Printer),
    Plain(&'p Printer),
    Live {
        multi: MultiProgress,
        /// The current phase's services, in start order.
        bars: Vec<(String, ProgressBar, Option<Duration>)>,
    },
    Quiet,
}

impl<'p> View<'p> {
    fn new(printer: &'p Printer, json: bool, quiet: bool) -> View<'p> {
        if json {
            View::Json(printer)
        } else if quiet {
            View::Quiet
        } else if std::io::stderr().is_terminal() {
            View::Live {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Vec::new(),
            }
        } else {
            View::Plain(printer)
        }
    }

    fn show(&mut self, p: &Progress) {
        match self {
            View::Quiet => {}
            View::Json(printer) => {
                printer.out(&serde_json::to_string(p).expect("event serializes"))
            }
            View::Plain(printer) => printer.note(&plain(p)),
            View::Live { multi, bars } => match p {
                Progress::PhaseStarted {
                    phase,
                    services,
                    timeout,
                } => {
                    let _ = multi.println(format!(
                        "phase {phase} (timeout {})",
                        format_duration(*timeout)
                    ));
                    let width = services.iter().map(|s| s.len()).max().unwrap_or(0);
                    let style =
                        ProgressStyle::with_template("  {spinner} {prefix} {msg} {elapsed:>4}")
                            .expect("template")
                            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏✓");
                    for s in services {
                        let bar = multi.add(ProgressBar::new_spinner());
                        bar.set_style(style.clone());
                        bar.set_prefix(format!("{s:<width$}"));
                        bar.set_message("waiting");
                        bar.enable_steady_tick(Duration::from_millis(120));
                        bars.push((s.clone(), bar, None));
                    }
                }
                Progress::Service {
                    service,
                    state,
                    detail,
                    elapsed,
                    ..
                } => {
                    if let Some((_, bar, done)) = bars.iter_mut().find(|(s, _, _)| s == service) {
                        if state.is_final() {
                            *done = Some(*elapsed);
                        }
                        let msg = match detail {
                            Some(d) => format!("{:<10} {d}", state.as_str()),
                            None => state.as_str().to_string(),
                        };
                        if state.is_final() {
                            bar.finish_with_message(msg);
                        } else {
                            bar.set_message(msg);
                        }
                    }
                }
                Progress::PhasePassed { .. } | Progress::PhaseFailed { .. } => {
                    // The phase's lines stay on screen as plain text; the live area is
                    // only for the phase under way.
                    for (_, bar, done) in bars.drain(..) {
                        let line = format!(
                            "  {} {} {} {}",
                            if bar.is_finished() { "✓" } else { "·" },
                            bar.prefix(),
                            bar.message(),
                            seconds(done.unwrap_or_else(|| bar.elapsed()))
                        );
                        multi.remove(&bar);
                        let _ = multi.println(line);
                    }
                    let _ = multi.println(plain(p));
                }
            },
        }
    }

    fn finish(&mut self) {
        if let View::Live { bars, .. } = self {
            for (_, bar, _) in bars.iter() {
                bar.abandon();
            }
        }
    }
}

fn plain(p: &Progress) -> String {
    match p {
        Progress::PhaseStarted {
            phase,
            services,
            timeout,
        } => format!(
            "phase {phase} (timeout {}): {}",
            format_duration(*timeout),
            services.join(", ")
        ),
        Progress::Service {
            service,
            state,
            elapsed,
            detail,
            ..
        } => {
            let mut line = format!(
                "  {service:<20} {:<10} {:>6}",
                state.as_str(),
                seconds(*elapsed)
            );
            if let Some(d) = detail {
                line.push_str("  ");
                line.push_str(d);
            }
            line
        }
        Progress::PhasePassed {
            phase,
            elapsed,
            degraded,
        } if degraded.is_empty() => {
            format!("phase {phase} passed in {}", seconds(*elapsed))
        }
        Progress::PhasePassed {
            phase,
            elapsed,
            degraded,
        } => format!(
            "phase {phase} passed DEGRADED in {} (not ready: {})",
            seconds(*elapsed),
            degraded.join(", ")
        ),
        Progress::PhaseFailed {
            phase,
            elapsed,
            failed,
        } => format!(
            "phase {phase} FAILED after {} ({})",
            seconds(*elapsed),
            failed.join(", ")
        ),
    }
}
