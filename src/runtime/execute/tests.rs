use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::graph::resolve_selection;
use crate::registry::load;
use crate::runtime::docker::fake::{Behaviour, FakeEngine};
use crate::runtime::plan::plan;
use crate::source::SourceFile;

const STACK: &str = r#"
version: 1
name: t
phases:
  core: { order: 1, timeout: 30s }
  apps: { order: 2, timeout: 60s }
services:
  db: { image: "db:1", phase: core, critical: true, health: { exec: [ok] } }
  cache: { image: "c:1", phase: core }
  migrate: { image: "m:1", phase: core, job: true, depends_on: [db] }
  api: { image: "a:1", phase: apps, critical: true, depends_on: [db, migrate], health: { tcp: { port: 80 } } }
  worker: { image: "w:1", phase: apps, depends_on: [api, cache] }
  extra: { image: "e:1", phase: apps }
"#;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

struct Run {
    outcome: Outcome,
    events: Vec<Progress>,
}

async fn run_with(
    text: &str,
    words: &[&str],
    engine: &FakeEngine,
    prepared_extra: impl FnOnce(&mut Prepared),
    options: Options,
) -> Run {
    let loaded = load(Arc::new(SourceFile::new("muster.yaml", text)), None);
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    let reg = loaded.registry.unwrap();
    let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    let selected = resolve_selection(&reg, &words).unwrap();
    let (_, plan) = plan(&reg, &selected, &HashSet::new());
    let mut prepared = Prepared::default();
    for name in plan.services.keys() {
        let id = format!("{name}-1");
        if let Ok(c) = engine.inspect(&id).await {
            prepared.containers.insert(name.clone(), vec![c]);
        }
    }
    prepared_extra(&mut prepared);
    let mut events = Vec::new();
    let stream = engine.events("t", 0);
    let outcome = execute(
        engine,
        &plan,
        prepared,
        stream,
        options,
        &mut |p| events.push(p),
        std::future::pending(),
    )
    .await;
    Run { outcome, events }
}

fn standard(engine: &FakeEngine) {
    engine.add("db", Behaviour::HealthyAfter(secs(3)));
    engine.add("cache", Behaviour::Runs);
    engine.add("migrate", Behaviour::ExitsAfter(secs(2), 0));
    engine.add("api", Behaviour::HealthyAfter(secs(1)));
    engine.add("worker", Behaviour::Runs);
    engine.add("extra", Behaviour::Runs);
}

#[tokio::test(start_paused = true)]
async fn services_start_when_their_dependencies_reach_their_condition() {
    let engine = FakeEngine::new();
    standard(&engine);
    let run = run_with(STACK, &["all"], &engine, |_| {}, Options::default()).await;
    assert_eq!(run.outcome.result, RunResult::Passed, "{:#?}", run.outcome);
    let t = |s: &str, a: Action| engine.when(s, &a).unwrap_or_else(|| panic!("{s} {a:?}"));
    // Phase core: db and cache at once, migrate once db is healthy.
    assert_eq!(t("db", Action::Start), t("cache", Action::Start));
    assert!(t("migrate", Action::Start) >= t("db", Action::Healthy));
    // Phase apps only after migrate completed; worker only after api is healthy.
    let migrated = t("migrate", Action::Die { exit_code: 0 });
    assert!(t("api", Action::Start) >= migrated);
    assert!(t("extra", Action::Start) >= migrated);
    assert!(t("worker", Action::Start) >= t("api", Action::Healthy));
    // Nothing was waited for longer than needed: db 3s + migrate 2s + api 1s.
    assert_eq!(t("worker", Action::Start), secs(6));
    let phases: Vec<&str> = run
        .events
        .iter()
        .filter_map(|e| match e {
            Progress::PhasePassed { phase, .. } => Some(phase.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(phases, ["core", "apps"]);
}

#[tokio::test(start_paused = true)]
async fn unhealthy_fails_the_phase_at_once() {
    let engine = FakeEngine::new();
    standard(&engine);
    engine.add("db", Behaviour::UnhealthyAfter(secs(4)));
    let run = run_with(STACK, &["all"], &engine, |_| {}, Options::default()).await;
    assert_eq!(run.outcome.result, RunResult::Failed);
    assert_eq!(run.outcome.failed_phase.as_deref(), Some("core"));
    assert_eq!(run.outcome.failed(), vec![("db", &Failure::Unhealthy)]);
    assert_eq!(engine.when("api", &Action::Start), None);
    assert!(
        run.events
            .iter()
            .any(|e| matches!(e, Progress::PhaseFailed { elapsed, .. } if *elapsed == secs(4)))
    );
}

#[tokio::test(start_paused = true)]
async fn a_restart_loop_fails_well_before_the_deadline() {
    let engine = FakeEngine::new();
    standard(&engine);
    engine.add("cache", Behaviour::CrashLoop(Duration::from_millis(500), 1));
    let run = run_with(STACK, &["all"], &engine, |_| {}, Options::default()).await;
    assert_eq!(run.outcome.result, RunResult::Failed);
    assert_eq!(
        run.outcome.failed(),
        vec![(
            "cache",
            &Failure::RestartLoop {
                restarts: 3,
                code: 1
            }
        )]
    );
    let failed_at = run
        .events
        .iter()
        .find_map(|e| match e {
            Progress::PhaseFailed { elapsed, .. } => Some(*elapsed),
            _ => None,
        })
        .unwrap();
    assert!(failed_at < secs(3), "{failed_at:?}");
}

#[tokio::test(start_paused = true)]
async fn a_never_healthy_service_fails_at_the_deadline() {
    let engine = FakeEngine::new();
    standard(&engine);
    engine.add("db", Behaviour::NeverHealthy);
    let run = run_with(STACK, &["all"], &engine, |_| {}, Options::default()).await;
    assert_eq!(
        run.outcome.failed()[..1],
        [(
            "db",
            &Failure::Deadline {
                after: secs(30),
                waiting_for: Condition::Healthy
            }
        )]
    );
    // migrate never started: it is reported as failing the phase too.
    assert_eq!(
        run.outcome.services["migrate"].failure,
        Some(Failure::NotStarted {
            waiting_on: vec!["db".into()]
        })
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_job_fails_its_phase() {
    let engine = FakeEngine::new();
    standard(&engine);
    engine.add("migrate", Behaviour::ExitsAfter(secs(1), 3));
    let run = run_with(STACK, &["all"], &engine, |_| {}, Options::default()).await;
    assert_eq!(
        run.outcome.failed(),
        vec![("migrate", &Failure::JobFailed { code: 3 })]
    );
}

#[tokio::test(start_paused = true)]
async fn keep_going_degrades_and_skips_dependents() {
    let engine = FakeEngine::new();
    standard(&engine);
    engine.add("cache", Behaviour::ExitsAfter(secs(1), 2));
    let run = run_with(
        STACK,
        &["all"],
        &engine,
        |_| {},
        Options { keep_going: true },
    )
    .await;
    assert_eq!(
        run.outcome.result,
        RunResult::Degraded,
        "{:#?}",
        run.outcome
    );
    assert_eq!(run.outcome.skipped(), vec![("worker", "cache")]);
    assert_eq!(engine.when("worker", &Action::Start), None);
    assert!(engine.when("extra", &Action::Start).is_some());
    // A critical failure still stops everything.
    let engine = FakeEngine::new();
    standard(&engine);
    engine.add("db", Behaviour::ExitsAfter(secs(1), 2));
    let run = run_with(
        STACK,
        &["all"],
        &engine,
        |_| {},
        Options { keep_going: true },
    )
    .await;
    assert_eq!(run.outcome.result, RunResult::Failed);
}

#[tokio::test(start_paused = true)]
async fn an_unchanged_completed_job_is_not_run_again() {
    let engine = FakeEngine::new();
    standard(&engine);
    engine.set("migrate-1", |c| {
        c.state = RunState::Exited;
        c.exit_code = Some(0);
    });
    let run = run_with(STACK, &["api"], &engine, |_| {}, Options::default()).await;
    assert_eq!(run.outcome.result, RunResult::Passed);
    assert_eq!(engine.when("migrate", &Action::Start), None);
    // With the job marked for a rerun, it runs.
    let engine = FakeEngine::new();
    standard(&engine);
    engine.set("migrate-1", |c| {
        c.state = RunState::Exited;
        c.exit_code = Some(0);
    });
    let run = run_with(
        STACK,
        &["api"],
        &engine,
        |p| {
            p.rerun.insert("migrate".into());
        },
        Options::default(),
    )
    .await;
    assert_eq!(run.outcome.result, RunResult::Passed);
    assert!(engine.when("migrate", &Action::Start).is_some());
}

#[tokio::test(start_paused = true)]
async fn interrupting_stops_waiting_and_touches_nothing() {
    let engine = FakeEngine::new();
    standard(&engine);
    engine.add("db", Behaviour::NeverHealthy);
    let loaded = load(Arc::new(SourceFile::new("muster.yaml", STACK)), None);
    let reg = loaded.registry.unwrap();
    let selected = resolve_selection(&reg, &["all".to_string()]).unwrap();
    let (_, plan) = plan(&reg, &selected, &HashSet::new());
    let mut prepared = Prepared::default();
    for name in plan.services.keys() {
        prepared.containers.insert(
            name.clone(),
            vec![engine.inspect(&format!("{name}-1")).await.unwrap()],
        );
    }
    let outcome = execute(
        &engine,
        &plan,
        prepared,
        engine.events("t", 0),
        Options::default(),
        &mut |_| {},
        tokio::time::sleep(secs(2)),
    )
    .await;
    assert_eq!(outcome.result, RunResult::Interrupted);
    assert!(
        engine
            .journal()
            .iter()
            .all(|(_, _, a)| !matches!(a, Action::Stop | Action::Destroy))
    );
}
