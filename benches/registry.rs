//! How long muster takes to understand a registry: load, check (base and every environment)
//! and dependency graph (cycles, closure of `all`, phase plan), on synthetic registries of 50,
//! 500 and 5,000 services shaped like real stacks. Every command starts with these steps, so
//! their cost is the floor of every command's latency.
//!
//! `cargo bench --bench registry` prints a table: the median of several runs after warm-up,
//! per-service cost, the budget and whether it is met, and how the cost grows from 500 to
//! 5,000 services (10x the services should cost about 10x the time). Numbers given after `--`
//! pick the sizes to run, e.g. `cargo bench --bench registry -- 5000` under a profiler.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use muster::check::check_source;
use muster::diagnostic::render;
use muster::graph::{DepGraph, resolve_selection};
use muster::registry;
use muster::source::SourceFile;

/// The allocator the `muster` binary uses, so the numbers are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PHASES: [&str; 6] = ["core", "databases", "auth", "apps", "ai", "monitoring"];

/// A valid registry of `n` services: phases, groups (some of groups), networks, volumes,
/// secrets (some derived), variables, env with `${VAR}`, `{ secret: }`, `${secret:}` and
/// `${host:}`, health checks of every kind, published ports that never clash, routes, and
/// dependencies only on earlier services (so no cycles and no later-phase dependency).
fn registry_text(n: usize) -> String {
    let mut y = String::with_capacity(n * 1_200);
    let w = &mut y;
    let name = |i: usize| format!("svc-{i:05}");
    // Services are spread over the phases in order, so an earlier service is never in a
    // later phase.
    let phase = |i: usize| PHASES[i * PHASES.len() / n];
    let group_count = n.div_ceil(10);

    w.push_str("version: 1\nname: bench\ndescription: Synthetic stack for benchmarks\n");
    w.push_str("domain: ${DOMAIN}\n");
    w.push_str("defaults:\n  restart: unless-stopped\n");
    w.push_str("  health: { interval: 30s, timeout: 5s, retries: 3 }\n");
    w.push_str("  resources: { cpus: 0.5, memory: 256M }\n");
    w.push_str("variables:\n");
    w.push_str(
        "  DOMAIN: { description: Public base domain, required: true, example: example.com }\n",
    );
    w.push_str("  LOG_LEVEL: { description: Log verbosity, default: info }\n");
    w.push_str("  TZ: { description: Time zone, default: Etc/UTC }\n");
    w.push_str("  DATA_ROOT: { description: Data folder, default: /srv/bench }\n");

    w.push_str("secrets:\n");
    for i in 0..n {
        let s = name(i);
        let _ = writeln!(w, "  {s}-password: {{ kind: password, length: 32 }}");
        if i % 5 == 0 {
            let _ = writeln!(
                w,
                "  {s}-password-url: {{ kind: urlencode, from: {s}-password }}"
            );
        }
        if i % 50 == 0 {
            let _ = writeln!(w, "  {s}-key: {{ kind: hex, bytes: 32 }}");
        }
    }

    w.push_str("phases:\n");
    for (order, p) in PHASES.iter().enumerate() {
        let timeout = 60 + 30 * order;
        let _ = writeln!(w, "  {p}: {{ order: {}, timeout: {timeout}s }}", order + 1);
    }

    w.push_str("groups:\n");
    for g in 0..group_count {
        let members: Vec<String> = (g * 10..((g + 1) * 10).min(n))
            .step_by(2)
            .map(name)
            .collect();
        let _ = writeln!(
            w,
            "  team-{g}: {{ description: Team {g}, services: [{}] }}",
            members.join(", ")
        );
    }
    for g in (0..group_count).step_by(5) {
        let inner: Vec<String> = (g..(g + 5).min(group_count))
            .map(|k| format!("team-{k}"))
            .collect();
        let _ = writeln!(w, "  division-{g}: {{ groups: [{}] }}", inner.join(", "));
    }

    w.push_str("networks:\n");
    w.push_str("  frontend: { description: Behind the proxy, subnet: 172.20.0.0/16 }\n");
    w.push_str("  backend: { internal: true }\n");
    w.push_str("  data: { internal: true }\n");

    w.push_str("volumes:\n");
    for i in 0..n {
        if i % 3 == 0 {
            let _ = writeln!(
                w,
                "  {}-data: {{ path: \"${{DATA_ROOT}}/{}\" }}",
                name(i),
                name(i)
            );
        } else {
            let _ = writeln!(
                w,
                "  {}-data: {{ description: State of {} }}",
                name(i),
                name(i)
            );
        }
    }

    w.push_str("environments:\n  production:\n    domain: example.com\n");
    w.push_str("    variables: { LOG_LEVEL: { default: warn } }\n    services:\n");
    for i in (0..n).step_by(7) {
        let _ = writeln!(
            w,
            "      {}: {{ replicas: 2, resources: {{ cpus: 1, memory: 512M }} }}",
            name(i)
        );
    }
    w.push_str("  development:\n    services:\n");
    for i in (0..n).step_by(10) {
        let _ = writeln!(
            w,
            "      {}: {{ ports: [\"127.0.0.1:{}:8080\"], env: {{ LOG_LEVEL: debug }} }}",
            name(i),
            30_000 + i
        );
    }

    w.push_str("services:\n");
    for i in 0..n {
        let s = name(i);
        let _ = writeln!(w, "  {s}:");
        let _ = writeln!(w, "    description: Service number {i}");
        let _ = writeln!(
            w,
            "    image: registry.example.com/team-{}/app-{i}:1.{}.0",
            i / 10,
            i % 10
        );
        let _ = writeln!(w, "    phase: {}", phase(i));
        let _ = writeln!(w, "    category: team-{}/apps", i / 100);
        if i % 4 == 1 {
            let _ = writeln!(w, "    groups: [team-{}]", i / 10);
        }
        let _ = writeln!(w, "    tags: [bench, tier-{}]", i % 3);
        if i % 20 == 0 {
            w.push_str("    critical: true\n");
        }
        w.push_str("    networks: [frontend, backend]\n");
        w.push_str("    expose: [8080, { name: metrics, port: 9100, protocol: tcp }]\n");
        if i % 4 == 0 {
            let _ = writeln!(w, "    ports: [\"127.0.0.1:{}:8080\"]", 10_000 + i);
        }
        w.push_str("    env:\n");
        w.push_str("      LOG_LEVEL: ${LOG_LEVEL}\n");
        w.push_str("      TZ: { var: TZ }\n");
        let _ = writeln!(w, "      APP_PASSWORD: {{ secret: {s}-password }}");
        let _ = writeln!(w, "      PUBLIC_URL: \"https://{s}.${{DOMAIN}}\"");
        let deps = dependencies(i);
        if let Some(&d) = deps.first() {
            let _ = writeln!(w, "      UPSTREAM: \"http://${{host:{}}}:8080\"", name(d));
            if d % 5 == 0 {
                let _ = writeln!(
                    w,
                    "      UPSTREAM_URL: \"http://app:${{secret:{}-password-url}}@${{host:{}}}:8080/\"",
                    name(d),
                    name(d)
                );
            }
        }
        let _ = writeln!(
            w,
            "    volumes: [\"{s}-data:/var/lib/app\", \"./config/{s}:/etc/app:ro\"]"
        );
        match i % 4 {
            0 | 1 => w.push_str(
                "    health: { http: { port: 8080, path: /health }, start_period: 10s }\n",
            ),
            2 => w.push_str("    health: { tcp: { port: 8080 } }\n"),
            _ => w.push_str(
                "    health:\n      exec: [\"/bin/app\", \"healthcheck\"]\n      interval: 10s\n",
            ),
        }
        if !deps.is_empty() {
            w.push_str("    depends_on:\n");
            for (k, d) in deps.iter().enumerate() {
                if k == 2 {
                    let _ = writeln!(w, "      - {{ service: {}, optional: true }}", name(*d));
                } else if k == 1 {
                    let _ = writeln!(w, "      - {{ service: {}, condition: healthy }}", name(*d));
                } else {
                    let _ = writeln!(w, "      - {}", name(*d));
                }
            }
        }
        w.push_str("    resources: { cpus: 0.25, memory: 128M }\n");
        if i % 5 == 0 {
            let _ = writeln!(w, "    subdomain: {s}");
        }
        if i % 25 == 3 {
            let _ = writeln!(
                w,
                "    routes:\n      - {{ host: \"api-{i}.${{DOMAIN}}\", path: /api, port: 8080 }}"
            );
        }
        if i % 10 == 0 {
            w.push_str("    labels: { team: bench }\n");
        }
    }
    y
}

/// Up to three distinct earlier services: the one before, and two further back.
fn dependencies(i: usize) -> Vec<usize> {
    let mut deps: Vec<usize> = Vec::new();
    for d in [i.checked_sub(1), Some(i / 2), Some(i / 3)]
        .into_iter()
        .flatten()
    {
        if d < i && !deps.contains(&d) {
            deps.push(d);
        }
    }
    deps
}

/// The times of one full pass, stage by stage.
#[derive(Clone, Copy)]
struct Sample {
    load: Duration,
    check: Duration,
    graph: Duration,
}

impl Sample {
    fn total(&self) -> Duration {
        self.check + self.graph
    }
}

/// One pass: `check_source` (which loads the base and every environment) and the graph of the
/// base registry. `load` is timed separately, as part of the breakdown only.
fn run(source: &Arc<SourceFile>) -> Sample {
    let t = Instant::now();
    black_box(registry::load(source.clone(), None));
    let load = t.elapsed();

    let t = Instant::now();
    let report = check_source(source.clone(), None);
    let check = t.elapsed();

    let t = Instant::now();
    let reg = report.loaded.registry.as_ref().expect("the registry loads");
    let graph = DepGraph::new(reg);
    let cycles = graph.cycles();
    let selected = resolve_selection(reg, &["all".to_string()]).expect("`all` resolves");
    let closure = graph.closure(&selected, &HashSet::new());
    let plan = graph.plan(&closure);
    let graph_time = t.elapsed();

    assert!(cycles.is_empty(), "the registry has cycles: {cycles:?}");
    assert_eq!(closure.services.len(), reg.enabled_services().count());
    black_box((plan, report.diagnostics));
    Sample {
        load,
        check,
        graph: graph_time,
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

struct Size {
    services: usize,
    budget: Option<Duration>,
    runs: usize,
}

/// Measures one registry and prints its row; returns the median total.
fn measure(label: &str, source: &Arc<SourceFile>, runs: usize, budget: Option<Duration>) -> Row {
    // A benchmark of the error path would measure the wrong thing.
    let report = check_source(source.clone(), None);
    let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        for d in errors.iter().take(5) {
            eprintln!("{}", render(d, source, false));
        }
        panic!("{label}: the registry has {} errors", errors.len());
    }
    let services = report
        .loaded
        .registry
        .as_ref()
        .map_or(0, |r| r.services.len());
    let environments = report
        .loaded
        .registry
        .as_ref()
        .map_or(0, |r| r.environments.len());
    let warnings = report.diagnostics.len();

    for _ in 0..2 {
        run(source);
    }
    let samples: Vec<Sample> = (0..runs).map(|_| run(source)).collect();
    let total = median(samples.iter().map(Sample::total).collect());
    let load = median(samples.iter().map(|s| s.load).collect());
    let check = median(samples.iter().map(|s| s.check).collect());
    let graph = median(samples.iter().map(|s| s.graph).collect());
    let per_service = total.as_secs_f64() * 1e6 / services.max(1) as f64;
    let (budget_text, verdict) = match budget {
        Some(b) if total <= b => (format!("{} ms", b.as_millis()), "OK"),
        Some(b) => (format!("{} ms", b.as_millis()), "OVER"),
        None => ("-".to_string(), "-"),
    };
    println!(
        "{label:>10} | {services:>8} | {:>5} | {:>4} | {:>12.2} | {:>14.1} | {:>7} | {:>6} | {:>10.2} | {:>13.2} | {:>8.2}",
        source.text.len() / 1024,
        runs,
        ms(total),
        per_service,
        budget_text,
        verdict,
        ms(load),
        ms(check),
        ms(graph)
    );
    println!(
        "{:>10}   ({environments} environments; {warnings} warnings, no errors)",
        ""
    );
    Row {
        services,
        total,
        over: verdict == "OVER",
    }
}

struct Row {
    services: usize,
    total: Duration,
    over: bool,
}

fn main() {
    // `cargo bench --bench registry -- 5000` runs only that size (e.g. under a profiler).
    let only: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = [
        Size {
            services: 50,
            budget: Some(Duration::from_millis(5)),
            runs: 41,
        },
        Size {
            services: 500,
            budget: None,
            runs: 15,
        },
        Size {
            services: 5_000,
            budget: Some(Duration::from_millis(300)),
            runs: 7,
        },
    ];

    println!(
        "load + check + graph: `check_source` (loads and checks the base and every environment),"
    );
    println!(
        "then DepGraph::new + cycles + closure of `all` + plan; median of N runs after 2 warm-up runs."
    );
    println!("The last three columns break the median down: one base `load` alone (for scale),");
    println!(
        "`check_source` (which includes a load per environment and the base), and the graph.\n"
    );
    println!(
        "{:>10} | {:>8} | {:>5} | {:>4} | {:>12} | {:>14} | {:>7} | {:>6} | {:>10} | {:>13} | {:>8}",
        "registry",
        "services",
        "KiB",
        "runs",
        "median ms",
        "per-service µs",
        "budget",
        "result",
        "1 load ms",
        "check_src ms",
        "graph ms"
    );
    let mut rows: Vec<Row> = Vec::new();
    for size in sizes
        .iter()
        .filter(|s| only.is_empty() || only.contains(&s.services))
    {
        let source = Arc::new(SourceFile::new("muster.yaml", registry_text(size.services)));
        rows.push(measure("synthetic", &source, size.runs, size.budget));
    }
    // A real registry of about the smallest size, for comparison with the synthetic one.
    if only.is_empty() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/selfhosted/muster.yaml"
        );
        if let Ok(source) = SourceFile::read(std::path::Path::new(path)) {
            measure("selfhosted", &source, 41, None);
        }
    }

    let time_of = |n: usize| rows.iter().find(|r| r.services == n).map(|r| r.total);
    if let (Some(small), Some(large)) = (time_of(500), time_of(5_000)) {
        let ratio = large.as_secs_f64() / small.as_secs_f64();
        let shape = if ratio <= 13.0 {
            "about linear"
        } else if ratio <= 30.0 {
            "worse than linear"
        } else {
            "close to quadratic or worse"
        };
        println!("\nlinearity: time(5000) / time(500) = {ratio:.1} (10 is linear): {shape}");
    }
    if rows.iter().any(|r| r.over) {
        println!("\nOVER BUDGET: the stage columns show where the time goes");
    }
    generation_table(&only);
    engines_table(&only);
    import_table(&only);
}

/// `muster gen compose docs env` without the CLI: load and check the base and every
/// environment, render the Compose files, docs (with the graph files) and `.env.example`,
/// then write them with digests into an empty folder. Median of N runs, each into a fresh
/// folder.
fn generation_table(only: &[usize]) {
    use muster::generate::targets::{self, Inputs, Target};
    use muster::generate::writer;
    println!(
        "\ngen compose docs env: check the base, then every environment side by side, render, write into an empty folder"
    );
    println!(
        "{:>8} | {:>4} | {:>9} | {:>9} | {:>9} | {:>7} | {:>6}",
        "services", "runs", "files", "median ms", "render ms", "budget", "result"
    );
    for (services, runs, budget) in [(50, 21, 20.0), (500, 7, f64::NAN), (5_000, 5, 1000.0)] {
        if !only.is_empty() && !only.contains(&services) {
            continue;
        }
        let source = Arc::new(SourceFile::new("muster.yaml", registry_text(services)));
        let mut totals = Vec::new();
        let mut renders = Vec::new();
        let mut files = 0;
        for _ in 0..runs + 1 {
            let dir = tempfile::tempdir().expect("temp dir");
            let start = Instant::now();
            let base = muster::check::check_one(source.clone(), None);
            let reg = base.loaded.registry.as_ref().expect("valid registry");
            // As `muster gen` does: environments checked side by side from the base's parse.
            let environments: Vec<(String, muster::registry::Registry)> =
                std::thread::scope(|scope| {
                    let handles: Vec<_> = reg
                        .environments
                        .keys()
                        .map(|name| {
                            let loaded = &base.loaded;
                            scope.spawn(move || {
                                let env = muster::check::check_environment(loaded, name);
                                (
                                    name.clone(),
                                    env.loaded.registry.expect("valid environment"),
                                )
                            })
                        })
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("no panic"))
                        .collect()
                });
            let rendering = Instant::now();
            let inputs = Inputs {
                registry: reg,
                base: reg,
                environments: &environments,
                variables: &Default::default(),
            };
            if std::env::var_os("MUSTER_BENCH_STAGES").is_some() {
                for t in [Target::Compose, Target::Docs, Target::Graph, Target::Env] {
                    let at = Instant::now();
                    targets::render(&[t], &inputs).expect("supported");
                    eprintln!("  {services} services: {t} {:.1} ms", ms(at.elapsed()));
                }
            }
            let set = targets::render(&[Target::Compose, Target::Docs, Target::Env], &inputs)
                .expect("supported targets");
            renders.push(rendering.elapsed());
            let plan =
                writer::plan(dir.path(), &set.files, &set.folders, "muster.yaml").expect("plan");
            writer::apply(&plan, false).expect("write");
            totals.push(start.elapsed());
            files = set.files.len();
        }
        // The first run warms caches and the allocator.
        totals.remove(0);
        renders.remove(0);
        let total = ms(median(totals));
        let verdict = if budget.is_nan() {
            "-"
        } else if total <= budget {
            "OK"
        } else {
            "OVER"
        };
        let budget = if budget.is_nan() {
            "-".to_string()
        } else {
            format!("{budget} ms")
        };
        println!(
            "{services:>8} | {runs:>4} | {files:>9} | {total:>9.2} | {:>9.2} | {budget:>7} | {verdict:>6}",
            ms(median(renders))
        );
    }
}

/// Rendering every engine's files for one registry (the base and its environments, checked
/// once beforehand): each engine that has a renderer, then all of them together, which the
/// issue wants under 1 s for 500 services. Median of N runs after a warm-up run.
fn engines_table(only: &[usize]) {
    use muster::generate::targets::{self, Inputs, Target};
    const ENGINES: [Target; 4] = [
        Target::Compose,
        Target::Swarm,
        Target::Kubernetes,
        Target::Nomad,
    ];
    let services = 500;
    if !only.is_empty() && !only.contains(&services) {
        return;
    }
    let runs = 7;
    let budget = 1000.0;
    println!(
        "
gen engines: render only (no check, no writing), {services} services"
    );
    println!(
        "{:>30} | {:>4} | {:>6} | {:>9} | {:>7} | {:>6}",
        "engines", "runs", "files", "median ms", "budget", "result"
    );
    let source = Arc::new(SourceFile::new("muster.yaml", registry_text(services)));
    let base = muster::check::check_one(source, None);
    let reg = base.loaded.registry.as_ref().expect("valid registry");
    let environments: Vec<(String, muster::registry::Registry)> = reg
        .environments
        .keys()
        .map(|name| {
            let env = muster::check::check_environment(&base.loaded, name);
            (
                name.clone(),
                env.loaded.registry.expect("valid environment"),
            )
        })
        .collect();
    let inputs = Inputs {
        registry: reg,
        base: reg,
        environments: &environments,
        variables: &Default::default(),
    };
    let supported: Vec<Target> = ENGINES.into_iter().filter(|t| t.is_supported()).collect();
    let mut rows: Vec<(String, Vec<Target>)> = supported
        .iter()
        .map(|t| (t.to_string(), vec![*t]))
        .collect();
    let names: Vec<&str> = supported.iter().map(|t| t.as_str()).collect();
    rows.push((names.join("+"), supported.clone()));
    for (label, wanted) in rows {
        let mut times = Vec::new();
        let mut files = 0;
        for _ in 0..runs + 1 {
            let start = Instant::now();
            let set = targets::render(&wanted, &inputs).expect("supported targets");
            times.push(start.elapsed());
            files = black_box(set.files.len());
        }
        times.remove(0);
        let total = ms(median(times));
        let all = wanted.len() == supported.len() && wanted.len() > 1;
        let (budget, verdict) = match (all, total <= budget) {
            (true, true) => (format!("{budget} ms"), "OK"),
            (true, false) => (format!("{budget} ms"), "OVER"),
            (false, _) => ("-".to_string(), "-"),
        };
        println!(
            "{label:>30} | {runs:>4} | {files:>6} | {total:>9.2} | {budget:>7} | {verdict:>6}"
        );
    }
}

/// `muster import compose` of a 50-service Compose file shaped like real ones (build and
/// image services, ports, env lists and maps, health checks, conditional dependencies,
/// volumes, networks, profiles, deploy resources, an anchor merged into every service):
/// read, merge, map, and write the registry text. Median of N runs after a warm-up run.
fn import_table(only: &[usize]) {
    let services = 50;
    if !only.is_empty() && !only.contains(&services) {
        return;
    }
    let (runs, budget) = (21, 50.0);
    let dir = std::env::temp_dir().join(format!("muster-bench-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary folder");
    let file = dir.join("compose.yaml");
    std::fs::write(&file, compose_text(services)).expect("compose file written");
    println!("\nimport compose: read, merge, map and write the registry of one Compose file");
    println!(
        "{:>8} | {:>4} | {:>9} | {:>7} | {:>6}",
        "services", "runs", "median ms", "budget", "result"
    );
    let mut times = Vec::new();
    for _ in 0..runs + 1 {
        let start = Instant::now();
        let imported = muster::import::compose::import(std::slice::from_ref(&file), &dir)
            .expect("the file reads");
        black_box(imported.draft.to_yaml());
        times.push(start.elapsed());
        assert!(!imported.has_errors(), "the benchmark file imports cleanly");
    }
    times.remove(0);
    let total = ms(median(times));
    let verdict = if total <= budget { "OK" } else { "OVER" };
    println!("{services:>8} | {runs:>4} | {total:>9.2} | {budget:>4} ms | {verdict:>6}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn compose_text(n: usize) -> String {
    let mut out = String::from(
        "x-common: &common\n  restart: unless-stopped\n  logging:\n    driver: json-file\n    options: { max-size: 10m }\n\nservices:\n",
    );
    for i in 0..n {
        let _ = writeln!(out, "  svc{i}:\n    <<: *common");
        if i % 3 == 0 {
            let _ = writeln!(
                out,
                "    build:\n      context: ./svc{i}\n      args: [\"VERSION=${{VERSION:-1}}\"]"
            );
        } else {
            let _ = writeln!(out, "    image: registry.example.com/team/svc{i}:1.{i}");
        }
        let _ = writeln!(
            out,
            "    ports: [\"{}:8080\"]\n    environment:\n      - LOG_LEVEL=${{LOG_LEVEL:-info}}\n      - PEER=svc{}\n    volumes: [\"data{i}:/data\", \"./conf/svc{i}:/etc/svc:ro\"]\n    networks: [front, back]",
            10_000 + i,
            i.saturating_sub(1)
        );
        let _ = writeln!(
            out,
            "    healthcheck:\n      test: [CMD, wget, -q, -O-, http://localhost:8080/health]\n      interval: 10s\n      retries: 5"
        );
        if i > 0 {
            let _ = writeln!(
                out,
                "    depends_on:\n      svc{}:\n        condition: service_healthy",
                i - 1
            );
        }
        if i % 5 == 0 {
            let _ = writeln!(out, "    profiles: [group{}]", i % 4);
        }
        let _ = writeln!(
            out,
            "    deploy:\n      resources:\n        limits: {{ cpus: '0.5', memory: 256M }}"
        );
    }
    out.push_str("networks:\n  front: {}\n  back: { internal: true }\nvolumes:\n");
    for i in 0..n {
        let _ = writeln!(out, "  data{i}: {{ name: legacy_data{i} }}");
    }
    out
}
