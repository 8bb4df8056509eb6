//! `muster gen swarm` against a real Swarm. The test starts a dockerd of its own (own data
//! root, exec root, pidfile, socket, bridge and address pools, no iptables), so the main
//! daemon is never put in swarm mode, runs `docker swarm init` on it and builds the busybox
//! test image into it. Then:
//! - the stack files of every shipped example (base and every environment) pass `docker
//!   stack config`, the phase files together read as the whole stack, and `docker stack
//!   deploy` accepts each example's stack;
//! - the runtime test stack (health-checked services in two phases, a secret as variable and
//!   as file, a job) is deployed by the generated `deploy.sh` after `muster secrets export
//!   swarm`: every service converges and is healthy, the job completed, and a second run
//!   changes nothing (the job does not run again);
//! - a phase that cannot converge fails the script at its timeout, names the service and
//!   shows Swarm's error, and later phases are never deployed.
//!
//! Without root or dockerd the test is skipped with the reason printed; under `CI=true` it
//! fails instead.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_norway::Value;

const EXAMPLES: [&str; 4] = ["homelab", "selfhosted", "microservices", "nomad"];
/// The address of the daemon's own bridge; its networks and Swarm's come from the pools below.
const BRIDGE_ADDRESS: &str = "10.236.0.1";
const ADDRESS_POOL: &str = "base=10.237.0.0/16,size=24";
const SWARM_POOL: &str = "10.238.0.0/16";
const GWBRIDGE: &str = "docker_gwbridge";

fn skip_or_fail(reason: String) -> Option<Swarm> {
    assert!(
        std::env::var_os("CI").is_none(),
        "a Swarm of the test's own is required under CI: {reason}"
    );
    eprintln!("skipped: {reason}");
    None
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A single-node Swarm on a dockerd of its own; everything it made is removed on drop.
struct Swarm {
    dir: tempfile::TempDir,
    host: String,
    bridge: String,
    child: Child,
}

impl Swarm {
    fn start() -> Option<Swarm> {
        if Command::new("dockerd").arg("--version").output().is_err() {
            return skip_or_fail("no dockerd (Debian docker.io)".into());
        }
        // Swarm makes `docker_gwbridge` in the host's namespace; one already there belongs to
        // someone else's Swarm.
        if ip(&["link", "show", GWBRIDGE]) {
            return skip_or_fail(format!(
                "{GWBRIDGE} exists: another Swarm runs on this host"
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("msw-dockerd")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        let bridge = format!("mswbr{}", std::process::id() % 100_000);
        let made = ip(&["link", "add", &bridge, "type", "bridge"])
            && ip(&[
                "addr",
                "add",
                &format!("{BRIDGE_ADDRESS}/24"),
                "dev",
                &bridge,
            ])
            && ip(&["link", "set", &bridge, "up"]);
        if !made {
            ip(&["link", "delete", &bridge]);
            return skip_or_fail(format!(
                "cannot make the bridge {bridge} (needs root and iproute2)"
            ));
        }
        std::fs::write(d.join("daemon.json"), "{}").unwrap();
        let log = std::fs::File::create(d.join("log")).unwrap();
        let host = format!("unix://{}", d.join("docker.sock").display());
        let child = Command::new("dockerd")
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("pid"))
            .args(["-H", &host, "--bridge", &bridge])
            .args(["--iptables=false", "--ip-masq=false"])
            .args(["--default-address-pool", ADDRESS_POOL])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                ip(&["link", "delete", &bridge]);
                return skip_or_fail(format!("cannot run dockerd: {e}"));
            }
        };
        let swarm = Swarm {
            dir,
            host,
            bridge,
            child,
        };
        let ready = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(200));
            swarm.docker(&["info"]).status.success()
        });
        if !ready {
            let log = std::fs::read_to_string(swarm.dir.path().join("log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            return skip_or_fail(format!(
                "the test's dockerd did not start: {}",
                tail.join(" / ")
            ));
        }
        let init = swarm.docker(&[
            "swarm",
            "init",
            "--advertise-addr",
            BRIDGE_ADDRESS,
            "--listen-addr",
            &format!("{BRIDGE_ADDRESS}:2377"),
            "--default-addr-pool",
            SWARM_POOL,
        ]);
        if !init.status.success() {
            return skip_or_fail(format!(
                "`docker swarm init` failed: {}",
                String::from_utf8_lossy(&init.stderr).trim()
            ));
        }
        if let Err(e) = support::build_image_on(Some(&swarm.host)) {
            return skip_or_fail(e);
        }
        Some(swarm)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", &self.host).stdin(Stdio::null());
        cmd
    }

    fn docker(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    fn lines(&self, args: &[&str]) -> Vec<String> {
        let out = self.docker(args);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }

    /// Removes a stack and waits until its services and networks are gone.
    fn remove_stack(&self, stack: &str) {
        self.docker(&["stack", "rm", stack]);
        let filter = format!("label=com.docker.stack.namespace={stack}");
        for _ in 0..60 {
            let left = self
                .lines(&["service", "ls", "-q", "--filter", &filter])
                .len()
                + self
                    .lines(&["network", "ls", "-q", "--filter", &filter])
                    .len()
                + self.lines(&["ps", "-aq", "--filter", &filter]).len();
            if left == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        for stack in self.lines(&["stack", "ls", "--format", "{{.Name}}"]) {
            self.remove_stack(&stack);
        }
        let ids = self.lines(&["ps", "-aq"]);
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids.iter().map(String::as_str));
            self.docker(&args);
        }
        self.docker(&["swarm", "leave", "--force"]);
        self.docker(&["network", "rm", GWBRIDGE]);
        // SIGTERM lets dockerd unmount its data before the folder goes.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        ip(&["link", "delete", GWBRIDGE]);
        ip(&["link", "delete", &self.bridge]);
    }
}

fn muster(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_muster"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("MUSTER_IDENTITY", dir.join("identity"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "muster {args:?}: {}", text(&out));
    out
}

fn example_dir(example: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(example)
        .join("muster.yaml");
    std::fs::copy(source, dir.path().join("muster.yaml")).unwrap();
    dir
}

fn yaml(path: &Path) -> Value {
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Stands in for `muster secrets export swarm` and `up`'s rendered configs: a placeholder at
/// every path a stack file reads (env files, secret files), so the Docker CLI can load it.
fn placeholders(swarm_dir: &Path, stack: &Value) {
    let mut files: Vec<&str> = Vec::new();
    for service in stack["services"].as_mapping().unwrap().values() {
        if let Some(Value::Sequence(list)) = service.get("env_file") {
            files.extend(list.iter().filter_map(Value::as_str));
        }
    }
    if let Some(Value::Mapping(secrets)) = stack.get("secrets") {
        files.extend(secrets.values().filter_map(|s| s["file"].as_str()));
    }
    for file in files {
        let path = swarm_dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "PLACEHOLDER=x\n").unwrap();
    }
}

/// Every variable a registry declares, with a value any field accepts (a port, a name).
fn variables(registry: &Path) -> Vec<(String, String)> {
    let doc = yaml(registry);
    doc.get("variables")
        .and_then(Value::as_mapping)
        .map(|vars| {
            vars.keys()
                .filter_map(Value::as_str)
                .map(|k| (k.to_string(), "10080".to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn stack_files(swarm_dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(swarm_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

/// `docker stack config` of `files` (normalised by the CLI: merged, interpolated).
fn stack_config(swarm: &Swarm, dir: &Path, vars: &[(String, String)], files: &[&str]) -> Value {
    let mut cmd = swarm.command();
    cmd.current_dir(dir).args(["stack", "config"]);
    for f in files {
        cmd.args(["-c", f]);
    }
    cmd.envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "stack config {files:?}: {}",
        text(&out)
    );
    serde_norway::from_slice(&out.stdout).unwrap()
}

fn examples_are_accepted(swarm: &Swarm) {
    for (i, example) in EXAMPLES.into_iter().enumerate() {
        let dir = example_dir(example);
        muster(dir.path(), &["gen", "swarm"]);
        let swarm_dir = dir.path().join("deploy/swarm");
        let vars = variables(&dir.path().join("muster.yaml"));
        let files = stack_files(&swarm_dir);
        let name = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
        let stacks: Vec<String> = files
            .iter()
            .map(name)
            .filter(|n| n.starts_with("stack."))
            .collect();
        assert!(stacks.contains(&"stack.yml".to_string()), "{example}");
        for stack in &stacks {
            placeholders(&swarm_dir, &yaml(&swarm_dir.join(stack)));
            let whole = stack_config(swarm, &swarm_dir, &vars, &[stack]);
            // The phase files of the same environment, in order, make the same stack.
            let suffix = stack.trim_start_matches("stack");
            let phases: Vec<String> = files
                .iter()
                .map(name)
                .filter(|n| {
                    n.starts_with("phase-")
                        && n.ends_with(suffix)
                        && n.matches('.').count() == suffix.matches('.').count()
                })
                .collect();
            assert!(!phases.is_empty(), "{example} {stack}");
            let phase_refs: Vec<&str> = phases.iter().map(String::as_str).collect();
            let merged = stack_config(swarm, &swarm_dir, &vars, &phase_refs);
            assert_eq!(merged, whole, "{example}: {phases:?} differ from {stack}");
        }
        let stack_name = format!("mswex{}x{i}", std::process::id());
        let mut deploy = swarm.command();
        deploy
            .current_dir(&swarm_dir)
            .args([
                "stack",
                "deploy",
                "--resolve-image",
                "never",
                "-c",
                "stack.yml",
            ])
            .arg(&stack_name)
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let out = deploy.output().unwrap();
        swarm.remove_stack(&stack_name);
        assert!(out.status.success(), "{example}: {}", text(&out));
    }
}

const RUNTIME_STACK: &str = r#"
version: 1
name: {name}
targets: [swarm]
defaults:
  health: { interval: 1s, timeout: 2s, retries: 3, start_period: 0s }
phases:
  core: { order: 1, timeout: 60s }
  apps: { order: 2, timeout: 60s }
secrets:
  api-token: { kind: hex, bytes: 16 }
services:
  db:
    image: muster-test/busybox:1
    phase: core
    command: ["sh", "-c", "sleep 2 && mkdir -p /tmp && touch /tmp/ready && exec sleep 100000"]
    health: { exec: ["test", "-f", "/tmp/ready"] }
  cache:
    image: muster-test/busybox:1
    phase: core
    command: ["httpd", "-f", "-p", "6379", "-h", "/"]
    health: { tcp: { port: 6379 } }
  migrate:
    image: muster-test/busybox:1
    phase: apps
    job: true
    command: ["sh", "-c", "echo migrating; sleep 1; echo done"]
    depends_on: [db]
  api:
    image: muster-test/busybox:1
    phase: apps
    replicas: 2
    secrets: [api-token]
    env:
      API_TOKEN: { secret: api-token }
    # Serves only when the variable and the mounted file hold the same, non-empty value.
    command: ["sh", "-c", "[ -n \"$$API_TOKEN\" ] && [ \"$$API_TOKEN\" = \"$$(cat /run/secrets/api-token)\" ] || exit 3; mkdir -p /www && echo api > /www/index.html && exec httpd -f -p 8080 -h /www"]
    health: { http: { port: 8080, path: / } }
    depends_on: [db, cache, migrate]
"#;

fn deploy_script(swarm: &Swarm, dir: &Path) -> Output {
    Command::new("sh")
        .arg(dir.join("deploy/swarm/deploy.sh"))
        .env("DOCKER_HOST", &swarm.host)
        .env("MUSTER_RESOLVE_IMAGE", "never")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn runtime_stack_converges(swarm: &Swarm) {
    let stack = format!("mswrt{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("muster.yaml"),
        RUNTIME_STACK.replace("{name}", &stack),
    )
    .unwrap();
    muster(dir.path(), &["gen", "swarm"]);
    muster(dir.path(), &["secrets", "generate"]);
    muster(dir.path(), &["secrets", "export", "swarm"]);

    let out = deploy_script(swarm, dir.path());
    let log = text(&out);
    if !out.status.success() {
        swarm.remove_stack(&stack);
    }
    assert!(out.status.success(), "{log}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let core = stdout
        .find("phase core: converged")
        .expect("core converged");
    let apps = stdout.find("phase apps: deploying").expect("apps deployed");
    assert!(core < apps, "{log}");

    let replicas = swarm.lines(&[
        "service",
        "ls",
        "--filter",
        &format!("label=com.docker.stack.namespace={stack}"),
        "--format",
        "{{.Name}} {{.Replicas}}",
    ]);
    let mut replicas: Vec<String> = replicas;
    replicas.sort();
    assert_eq!(
        replicas,
        [
            format!("{stack}_api 2/2"),
            format!("{stack}_cache 1/1"),
            format!("{stack}_db 1/1"),
            format!("{stack}_migrate 0/1"),
        ],
        "{log}"
    );
    let statuses = swarm.lines(&[
        "ps",
        "--filter",
        &format!("label=com.docker.stack.namespace={stack}"),
        "--format",
        "{{.Label \"com.docker.swarm.service.name\"}} {{.Status}}",
    ]);
    assert_eq!(statuses.len(), 4, "{statuses:?}");
    for status in &statuses {
        assert!(status.ends_with("(healthy)"), "{status}");
    }
    let job = swarm.lines(&[
        "service",
        "ps",
        "--format",
        "{{.CurrentState}}",
        &format!("{stack}_migrate"),
    ]);
    assert_eq!(job.len(), 1, "{job:?}");
    assert!(job[0].starts_with("Complete"), "{job:?}");

    // Deploying again changes nothing: every phase converges at once, the job stays done.
    let again = deploy_script(swarm, dir.path());
    assert!(again.status.success(), "{}", text(&again));
    let job = swarm.lines(&[
        "service",
        "ps",
        "--format",
        "{{.CurrentState}}",
        &format!("{stack}_migrate"),
    ]);
    assert_eq!(job.len(), 1, "the job ran again: {job:?}");
    swarm.remove_stack(&stack);
}

const SICK_STACK: &str = r#"
version: 1
name: {name}
targets: [swarm]
phases:
  core: { order: 1, timeout: 6s }
  apps: { order: 2, timeout: 30s }
services:
  sick:
    image: muster-test/busybox:1
    phase: core
    command: ["sleep", "100000"]
    health: { exec: ["false"], interval: 1s, timeout: 1s, retries: 1 }
  later:
    image: muster-test/busybox:1
    phase: apps
    command: ["sleep", "100000"]
"#;

fn unconverged_phase_fails_with_a_diagnosis(swarm: &Swarm) {
    let stack = format!("mswsick{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("muster.yaml"),
        SICK_STACK.replace("{name}", &stack),
    )
    .unwrap();
    muster(dir.path(), &["gen", "swarm"]);
    let started = std::time::Instant::now();
    let out = deploy_script(swarm, dir.path());
    let elapsed = started.elapsed();
    let services = swarm.lines(&[
        "service",
        "ls",
        "--filter",
        &format!("label=com.docker.stack.namespace={stack}"),
        "--format",
        "{{.Name}}",
    ]);
    swarm.remove_stack(&stack);
    let log = text(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("phase core failed: not converged after 6s: sick"),
        "{log}"
    );
    assert!(stderr.contains(&format!("task {stack}_sick.1")), "{log}");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    assert_eq!(services, [format!("{stack}_sick")], "apps was deployed");
}

#[test]
fn swarm_deploys_the_generated_stacks() {
    let Some(swarm) = Swarm::start() else {
        return;
    };
    examples_are_accepted(&swarm);
    runtime_stack_converges(&swarm);
    unconverged_phase_fails_with_a_diagnosis(&swarm);
}

#[test]
fn every_deploy_script_passes_shellcheck() {
    if Command::new("shellcheck")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "shellcheck is required under CI"
        );
        eprintln!("skipped: no shellcheck (`apt-get install -y shellcheck`)");
        return;
    }
    for example in EXAMPLES {
        let dir = example_dir(example);
        muster(dir.path(), &["gen", "swarm"]);
        let out = Command::new("shellcheck")
            .arg(dir.path().join("deploy/swarm/deploy.sh"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{example}: {}", text(&out));
    }
}
