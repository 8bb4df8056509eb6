//! `up`, `down`, `status`, `health`, `logs` and the lock, end to end on the real Docker
//! daemon, with a stack of busybox services built locally. Timing claims are checked with
//! Docker's own event times. Skipped (with a reason) without Docker, except under CI.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::{EventWatch, Project, docker_available, first, free_port, stack};

fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// When a service reached what its dependents wait for: healthy, completed (a job's exit)
/// or started.
fn ready_at(events: &[support::DockerEvent], service: &str, condition: &str) -> i64 {
    let action = match condition {
        "healthy" => "health_status: healthy",
        "completed" => "die",
        _ => "start",
    };
    first(events, service, action).unwrap_or_else(|| panic!("{service} never did {action}"))
}

#[test]
fn up_runs_phases_in_order_and_status_health_down_tell_the_truth() {
    if !docker_available() {
        return;
    }
    let port = free_port();
    let p = Project::new("all", &stack(port));
    let watch = EventWatch::start(&p);
    let out = p.run(&["up", "all", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let events = watch.events();

    // Phases in order: nothing of a phase starts before every service of the one before
    // reached its condition.
    let phases: [&[(&str, &str)]; 3] = [
        &[
            ("proxy", "healthy"),
            ("tcpsvc", "healthy"),
            ("db", "healthy"),
        ],
        &[("migrate", "completed"), ("cache", "healthy")],
        &[
            ("api", "healthy"),
            ("web", "healthy"),
            ("worker", "started"),
            ("extra", "started"),
            ("bot", "started"),
        ],
    ];
    for pair in phases.windows(2) {
        let done = pair[0]
            .iter()
            .map(|(s, c)| ready_at(&events, s, c))
            .max()
            .unwrap();
        for (s, _) in pair[1] {
            let started = ready_at(&events, s, "started");
            assert!(
                started >= done,
                "{s} started before the previous phase passed"
            );
        }
    }
    // Inside a phase: each service starts only after its dependencies reached their
    // condition, and (being event-driven) not long after.
    let deps: &[(&str, &[(&str, &str)])] = &[
        ("migrate", &[("db", "healthy")]),
        (
            "api",
            &[
                ("db", "healthy"),
                ("migrate", "completed"),
                ("cache", "healthy"),
            ],
        ),
        ("web", &[("api", "healthy"), ("proxy", "healthy")]),
        ("worker", &[("cache", "healthy"), ("extra", "started")]),
        ("bot", &[("tcpsvc", "healthy")]),
    ];
    for (service, needs) in deps {
        let started = ready_at(&events, service, "started");
        let last = needs
            .iter()
            .map(|(s, c)| ready_at(&events, s, c))
            .max()
            .unwrap();
        assert!(
            started >= last,
            "{service} started before its dependencies were ready"
        );
    }
    let web_wait = ready_at(&events, "web", "started") - ready_at(&events, "api", "healthy");
    assert!(
        web_wait < 1_500_000_000,
        "web started {web_wait}ns after api was healthy"
    );
    // The JSON progress has phases started and passed, in order.
    let progress = json_lines(&out);
    let passed: Vec<&str> = progress
        .iter()
        .filter(|e| e["event"] == "phase_passed")
        .map(|e| e["phase"].as_str().unwrap())
        .collect();
    assert_eq!(passed, ["core", "data", "apps"]);
    assert!(
        progress
            .iter()
            .any(|e| e["event"] == "service" && e["service"] == "db" && e["state"] == "healthy")
    );

    // Again: nothing changed, so the job does not run again and everything is ready at once.
    let watch = EventWatch::start(&p);
    let again = p.run(&["up", "all"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(
        first(&watch.events(), "migrate", "start"),
        None,
        "the unchanged job ran again"
    );
    // With --rerun-jobs it runs.
    let watch = EventWatch::start(&p);
    let rerun = p.run(&["up", "migrate", "--rerun-jobs"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", text(&rerun));
    assert!(first(&watch.events(), "migrate", "start").is_some());

    let status = p.run(&["status", "--json", "--check"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["verdict"], "HEALTHY");
    assert_eq!(json["services"].as_array().unwrap().len(), 10);
    let proxy = json["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "proxy")
        .unwrap();
    assert_eq!(proxy["ports"][0], format!("127.0.0.1:{port}->8080"));
    let health = p.run(&["health"]);
    assert_eq!(health.status.code(), Some(0), "{}", text(&health));
    assert!(text(&health).contains(&format!("HTTP 200 via published 127.0.0.1:{port}")));

    // Behind muster's back: a non-critical service dies, then a critical one.
    let kill = |service: &str| {
        let ids = p.ids(service);
        std::process::Command::new("docker")
            .arg("kill")
            .args(&ids)
            .output()
            .unwrap();
    };
    kill("cache");
    let status = p.run(&["status", "--check"]);
    assert_eq!(status.status.code(), Some(1), "{}", text(&status));
    assert!(text(&status).contains("DEGRADED: 1 of 10 services down (cache)"));
    let health = p.run(&["health", "--json"]);
    assert_eq!(health.status.code(), Some(1), "{}", text(&health));
    kill("db");
    let status = p.run(&["status", "--check"]);
    assert_eq!(status.status.code(), Some(3), "{}", text(&status));
    assert!(text(&status).contains("critical: db"));
    assert_eq!(p.run(&["health"]).status.code(), Some(3));
    // Without --check, status itself succeeded.
    assert_eq!(p.run(&["status"]).status.code(), Some(0));

    // down keeps what running services outside the selection need, and says so.
    let down = p.run(&["down", "proxy"]);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    assert!(text(&down).contains("keeping proxy: web is running and needs it"));
    assert_eq!(p.states()["proxy"], "running");
    let down = p.run(&["down", "api", "--cascade"]);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    let states = p.states();
    assert!(
        !states.contains_key("api") && !states.contains_key("web"),
        "{states:?}"
    );
    assert_eq!(states["proxy"], "running");
    let down = p.run(&["down", "all"]);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    assert!(p.states().is_empty(), "{:?}", p.states());
}

#[test]
fn selecting_a_group_starts_exactly_its_closure() {
    if !docker_available() {
        return;
    }
    let p = Project::new("grp", &stack(free_port()));
    let plan = p.run(&["plan", "frontend"]);
    assert!(text(&plan).contains("planned with what runs on Docker (0 running services"));
    let out = p.run(&["up", "frontend"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let created: BTreeSet<String> = p.states().into_keys().collect();
    let expected: BTreeSet<String> = ["proxy", "db", "migrate", "cache", "api", "web"]
        .map(String::from)
        .into();
    assert_eq!(created, expected);
    // status judges the last selection, not the whole registry.
    let status = p.run(&["status", "--check"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    assert!(text(&status).contains("HEALTHY: 6 of 6 services up"));
    // logs of a job, and of a group, prefixed by service.
    let logs = p.run(&["logs", "migrate"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "migrating\ndone\n");
    // An optional dependency that runs is taken into account by plan.
    p.run(&["up", "extra"]);
    let plan = p.run(&["plan", "worker"]);
    assert!(text(&plan).contains("extra"), "{}", text(&plan));
}

const FAILING: &str = r#"
version: 1
name: {name}
defaults:
  health: { interval: 1s, timeout: 2s, retries: 1000 }
phases:
  core: { order: 1, timeout: 6s }
  apps: { order: 2, timeout: 60s }
services:
  fine:
    image: muster-test/busybox:1
    phase: core
    init: true
    command: ["httpd", "-f", "-p", "8080", "-h", "/"]
    health: { tcp: { port: 8080 } }
  stuck:
    image: muster-test/busybox:1
    phase: core
    init: true
    command: ["sh", "-c", "echo booting the stuck service; exec sleep 100000"]
    health: { exec: ["sh", "-c", "echo not ready yet; exit 1"] }
  crashy:
    image: muster-test/busybox:1
    phase: apps
    restart: always
    command: ["sh", "-c", "echo crashing now; exit 3"]
  after-crash:
    image: muster-test/busybox:1
    phase: apps
    init: true
    command: ["sleep", "100000"]
    depends_on: [{ service: crashy, condition: started }]
  badjob:
    image: muster-test/busybox:1
    phase: apps
    job: true
    command: ["sh", "-c", "echo migration failed; exit 4"]
  after-job:
    image: muster-test/busybox:1
    phase: apps
    init: true
    command: ["sleep", "100000"]
    depends_on: [badjob]
  alone:
    image: muster-test/busybox:1
    phase: apps
    init: true
    command: ["sleep", "100000"]
"#;

#[test]
fn a_never_healthy_service_fails_its_phase_at_the_deadline_with_a_diagnosis() {
    if !docker_available() {
        return;
    }
    let p = Project::new("stuck", FAILING);
    let began = Instant::now();
    let out = p.run(&["up", "stuck", "fine"]);
    let took = began.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("stuck: not healthy at the phase deadline (6s)"),
        "{all}"
    );
    assert!(all.contains("state      running (starting)"), "{all}");
    assert!(all.contains("exit 1: not ready yet"), "{all}");
    assert!(all.contains("booting the stuck service"), "{all}");
    assert!(all.contains("FAILED: phase core failed (stuck)"), "{all}");
    // The deadline counts from the phase start; muster itself adds a second or two.
    assert!(took >= Duration::from_secs(6), "{took:?}");
    assert!(took < Duration::from_secs(6 + 5), "{took:?}");
    let json = p.run(&["up", "stuck", "--json"]);
    let failed = json_lines(&json)
        .into_iter()
        .find(|e| e["event"] == "phase_failed")
        .expect("phase_failed event");
    let elapsed = failed["elapsed_ms"].as_u64().unwrap();
    assert!(
        (6000..8000).contains(&elapsed),
        "phase failed after {elapsed} ms"
    );
}

#[test]
fn a_crash_loop_fails_fast_and_a_failing_job_fails_its_phase() {
    if !docker_available() {
        return;
    }
    let p = Project::new("crash", FAILING);
    let began = Instant::now();
    let out = p.run(&["up", "crashy"]);
    let took = began.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("crashy: restart loop: exited 3 times within the phase (last exit code 3)"),
        "{all}"
    );
    assert!(all.contains("crashing now"), "{all}");
    assert!(
        took < Duration::from_secs(15),
        "a crash loop took {took:?} (deadline 60s)"
    );

    let out = p.run(&["up", "after-job"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("badjob: job exited with code 4"), "{all}");
    assert!(all.contains("migration failed"), "{all}");
    assert_ne!(
        p.states().get("after-job").map(String::as_str),
        Some("running")
    );

    // --keep-going: a non-critical failure degrades, what needs it is skipped and
    // reported, the rest runs.
    let p = Project::new("keep", FAILING);
    let out = p.run(&["up", "after-job", "alone", "--keep-going"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("skipped: after-job (needs badjob)"), "{all}");
    assert!(
        all.contains("DEGRADED: 1 of 3 services ready, 1 failed, 1 skipped"),
        "{all}"
    );
    assert_eq!(p.states()["alone"], "running");
    assert_eq!(p.states()["after-job"], "created");
}

#[test]
fn a_second_up_waits_for_the_lock_and_no_wait_refuses() {
    if !docker_available() {
        return;
    }
    let p = Project::new("lock", FAILING);
    std::fs::create_dir_all(p.path().join(".muster")).unwrap();
    let lock_path = p.path().join(".muster/lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .unwrap();
    file.lock().unwrap();
    std::fs::write(
        &lock_path,
        r#"{"pid":4242,"host":"elsewhere","command":"muster up all","started":0}"#,
    )
    .unwrap();
    let out = p.run(&["up", "alone", "--no-wait"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("`muster up all` (pid 4242 on elsewhere)"),
        "{}",
        text(&out)
    );
    let child = p
        .muster()
        .args(["up", "alone"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(p.states().is_empty(), "up went on while the lock was held");
    drop(file);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("waiting for project"), "{}", text(&out));
    assert_eq!(p.states()["alone"], "running");
}

#[test]
fn up_exports_secrets_and_logs_mask_them() {
    if !docker_available() {
        return;
    }
    let registry = r#"
version: 1
name: {name}
secrets:
  api-token: { kind: hex, bytes: 16 }
services:
  printer:
    image: muster-test/busybox:1
    init: true
    command: ["sh", "-c", "echo token=$$API_TOKEN; exec sleep 100000"]
    env:
      API_TOKEN: { secret: api-token }
"#;
    let p = Project::new("sec", registry);
    let identity = p.path().join("identity");
    let run = |args: &[&str]| {
        let out = p
            .muster()
            .env("MUSTER_IDENTITY", &identity)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "muster {args:?}: {}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["secrets", "generate"]);
    let value = run(&["secrets", "show", "api-token", "--reveal"])
        .trim()
        .to_string();
    assert_eq!(value.len(), 32);
    run(&["up", "printer"]);
    let logs = run(&["logs", "printer"]);
    assert_eq!(logs, "token=***\n");
    assert!(!logs.contains(&value));
}

#[test]
fn check_live_reports_an_image_without_probe_tools() {
    if !docker_available() {
        return;
    }
    let bare = support::bare_image();
    let registry = format!(
        r#"
version: 1
name: {{name}}
services:
  good: {{ image: "muster-test/busybox:1", health: {{ http: {{ port: 8080 }} }} }}
  bare: {{ image: "{bare}", health: {{ tcp: {{ port: 9000 }} }} }}
"#
    );
    let p = Project::new("live", &registry);
    let out = p.run(&["check", "--live"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains(&format!("live: image {bare} (bare) has no /bin/sh")),
        "{all}"
    );
    assert!(
        all.contains("live: image muster-test/busybox:1 (good) probes with wget"),
        "{all}"
    );
    assert_eq!(p.run(&["check"]).status.code(), Some(0));
}

#[test]
fn placement_host_runs_a_service_on_another_docker() {
    if !docker_available() {
        return;
    }
    let Some(second) = support::SecondDocker::start() else {
        return;
    };
    let registry = format!(
        r#"
version: 1
name: {{name}}
engines:
  compose:
    hosts: {{ second: "{}" }}
defaults:
  health: {{ interval: 1s, timeout: 2s, retries: 3 }}
phases:
  core: {{ order: 1, timeout: 30s }}
  apps: {{ order: 2, timeout: 30s }}
services:
  db:
    image: muster-test/busybox:1
    phase: core
    init: true
    command: ["httpd", "-f", "-p", "5432", "-h", "/"]
    health: {{ tcp: {{ port: 5432 }} }}
  remote-api:
    image: muster-test/busybox:1
    phase: apps
    init: true
    placement: {{ host: second }}
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
    health: {{ http: {{ port: 8080 }} }}
    depends_on: [db]
"#,
        second.host
    );
    let p = Project::new("remote", &registry);
    let out = p.run(&["up", "all"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // db runs here, remote-api there.
    assert_eq!(p.states().keys().collect::<Vec<_>>(), ["db"]);
    assert_eq!(second.states(&p.name), ["remote-api running"]);
    let status = p.run(&["status", "--check"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let health = p.run(&["health"]);
    assert_eq!(health.status.code(), Some(0), "{}", text(&health));
    assert!(text(&health).contains("HTTP 200"), "{}", text(&health));
    let down = p.run(&["down", "all"]);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    assert!(second.states(&p.name).is_empty());
}

/// An `ssh://` host: muster forwards the far daemon's socket through the user's `ssh` (here
/// a gateway's, with its own key and config) for its own client and for Compose. The local
/// engine is the second dockerd, the far one this machine's daemon behind the gateway, so
/// each service shows where it ran.
#[test]
fn placement_host_over_ssh() {
    if !docker_available() {
        return;
    }
    let Some(second) = support::SecondDocker::start() else {
        return;
    };
    let Some(gateway) = support::SshGateway::start() else {
        return;
    };
    let registry = format!(
        r#"
version: 1
name: {{name}}
engines:
  compose:
    hosts: {{ far: "{}" }}
defaults:
  health: {{ interval: 1s, timeout: 2s, retries: 3 }}
services:
  db:
    image: muster-test/busybox:1
    init: true
    command: ["httpd", "-f", "-p", "5432", "-h", "/"]
    health: {{ tcp: {{ port: 5432 }} }}
  far-api:
    image: muster-test/busybox:1
    init: true
    placement: {{ host: far }}
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
    health: {{ exec: ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"] }}
"#,
        gateway.endpoint
    );
    let p = Project::new("overssh", &registry);
    let run = |args: &[&str]| {
        p.muster()
            .args(args)
            .env("PATH", &gateway.path)
            .env("DOCKER_HOST", &second.host)
            .output()
            .unwrap()
    };
    let out = run(&["up", "all"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(second.states(&p.name), ["db running"]);
    assert_eq!(
        p.states().into_iter().collect::<Vec<_>>(),
        [("far-api".to_string(), "running".to_string())]
    );
    let status = run(&["status", "--check"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let logs = run(&["logs", "far-api"]);
    assert_eq!(logs.status.code(), Some(0), "{}", text(&logs));
    let down = run(&["down", "all"]);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
    assert!(second.states(&p.name).is_empty());
    assert!(p.states().is_empty());
    // No ssh of muster's is left behind.
    let left = std::process::Command::new("pgrep")
        .args(["-f", "muster-ssh-"])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&left.stdout)
    );
}

#[test]
fn ctrl_c_stops_waiting_releases_the_lock_and_leaves_containers() {
    if !docker_available() {
        return;
    }
    let p = Project::new("intr", FAILING);
    let child = p
        .muster()
        .args(["up", "stuck"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the service is running (and waiting to be healthy), then press Ctrl-C.
    let began = Instant::now();
    while p.states().get("stuck").map(String::as_str) != Some("running") {
        assert!(began.elapsed() < Duration::from_secs(20), "stuck never ran");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pressed = Instant::now();
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(pressed.elapsed() < Duration::from_secs(3));
    assert!(
        text(&out).contains("containers are left as they are"),
        "{}",
        text(&out)
    );
    assert_eq!(p.states()["stuck"], "running");
    // The lock was released: another command gets it without waiting.
    let down = p.run(&["down", "stuck", "--no-wait"]);
    assert_eq!(down.status.code(), Some(0), "{}", text(&down));
}
