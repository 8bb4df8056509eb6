//! Helpers for end-to-end tests against the real Docker daemon: the busybox test image
//! (built locally, `FROM scratch`), one Compose project per test with a unique name that is
//! always cleaned up, the `muster` binary, and Docker's own event times.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const IMAGE: &str = "muster-test/busybox:1";

/// Whether Docker is usable. Without it the test is skipped with a printed reason, except
/// under CI, where it fails.
pub fn docker_available() -> bool {
    static AVAILABLE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = AVAILABLE.get_or_init(|| {
        let info = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .stdin(Stdio::null())
            .output();
        match info {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return Err(format!(
                    "`docker info` failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Err(e) => return Err(format!("cannot run docker: {e}")),
        }
        if Command::new("docker-compose")
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
            && Command::new("docker")
                .args(["compose", "version"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| !s.success())
                .unwrap_or(true)
        {
            return Err("no Compose CLI (docker compose or docker-compose)".into());
        }
        build_image()
    });
    match result {
        Ok(()) => true,
        Err(reason) => {
            skip_unless_ci("Docker", reason);
            false
        }
    }
}

/// Says why a test cannot run here and skips it; under CI, where every tool is installed,
/// fails it instead.
fn skip_unless_ci(what: &str, reason: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is required under CI: {reason}"
    );
    eprintln!("skipped: {reason}");
}

/// Builds the test image from Debian's static busybox, once per test run.
fn build_image() -> Result<(), String> {
    build_image_on(None)
}

/// Builds the test image into the daemon at `host` (`unix://…`), or the default one.
pub fn build_image_on(host: Option<&str>) -> Result<(), String> {
    let busybox = Path::new("/bin/busybox");
    if !is_static(busybox) {
        // The package is tiny and the only way to get an image without a registry; a fresh
        // machine may need its package lists first.
        let apt = |args: &[&str]| {
            let _ = Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        apt(&["install", "-y", "-qq", "busybox-static"]);
        if !is_static(busybox) {
            apt(&["update", "-qq"]);
            apt(&["install", "-y", "-qq", "busybox-static"]);
        }
        if !is_static(busybox) {
            return Err("/bin/busybox (Debian's busybox-static) is not installed; `apt-get install -y busybox-static`".into());
        }
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::copy(busybox, dir.path().join("busybox")).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
    )
    .map_err(|e| e.to_string())?;
    let mut build = Command::new("docker");
    if let Some(host) = host {
        build.args(["-H", host]);
    }
    let out = build
        .args(["build", "-q", "-t", IMAGE, "."])
        .env("DOCKER_BUILDKIT", "0")
        .current_dir(dir.path())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "cannot build {IMAGE}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn is_static(path: &Path) -> bool {
    // A dynamically linked busybox would not run in a `FROM scratch` image: it has a
    // PT_INTERP program header (64-bit little-endian ELF, as Debian's amd64/arm64 are).
    let Ok(b) = std::fs::read(path) else {
        return false;
    };
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[32..40].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(54), u16_at(56));
    (0..phnum).all(|i| {
        let at = phoff + i * phentsize;
        at + 4 <= b.len() && u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) != 3
    })
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Compose project of its own: a folder with `muster.yaml`, a unique project name, and
/// everything Docker made for it removed on drop (even when the test failed).
pub struct Project {
    pub dir: tempfile::TempDir,
    pub name: String,
}

impl Project {
    /// `registry` may use `{name}` for the project name.
    pub fn new(tag: &str, registry: &str) -> Project {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "mrt{tag}{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("muster.yaml"),
            registry.replace("{name}", &name),
        )
        .unwrap();
        Project { dir, name }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn muster(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_muster"));
        cmd.current_dir(self.path())
            .env("NO_COLOR", "1")
            .env_remove("MUSTER_COMPOSE")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs muster with `args` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.muster().args(args).output().unwrap();
        eprintln!(
            "$ muster {} -> {:?}\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn ids(&self, service: &str) -> Vec<String> {
        let out = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=com.docker.compose.project={}", self.name),
                "--filter",
                &format!("label=com.docker.compose.service={service}"),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }

    /// The services that have a container, and their Docker state.
    pub fn states(&self) -> std::collections::BTreeMap<String, String> {
        let out = Command::new("docker")
            .args([
                "ps",
                "-a",
                "--filter",
                &format!("label=com.docker.compose.project={}", self.name),
                "--format",
                "{{.Label \"com.docker.compose.service\"}} {{.State}}",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(s, st)| (s.to_string(), st.to_string()))
            .collect()
    }

    /// Docker's own record of what happened to the project's containers between `since`
    /// and now, in order.
    pub fn events(&self, since: SystemTime) -> Vec<DockerEvent> {
        let until = SystemTime::now() + Duration::from_millis(100);
        let stamp = |t: SystemTime| {
            let d = t.duration_since(UNIX_EPOCH).unwrap();
            format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
        };
        std::thread::sleep(Duration::from_millis(150));
        let out = Command::new("docker")
            .args([
                "events",
                "--since",
                &stamp(since),
                "--until",
                &stamp(until),
                "--filter",
                "type=container",
                "--filter",
                &format!("label=com.docker.compose.project={}", self.name),
                "--format",
                "{{json .}}",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| DockerEvent {
                nanos: v["timeNano"].as_i64().unwrap_or(0),
                service: v["Actor"]["Attributes"]["com.docker.compose.service"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                action: v["Action"].as_str().unwrap_or("").to_string(),
            })
            .collect()
    }

    /// Removes everything of the project: containers, volumes, networks.
    pub fn clean(&self) {
        let label = format!("label=com.docker.compose.project={}", self.name);
        let ids = |args: &[&str]| -> Vec<String> {
            let out = Command::new("docker").args(args).output().unwrap();
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(String::from)
                .collect()
        };
        let containers = ids(&["ps", "-aq", "--filter", &label]);
        if !containers.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f", "-v"])
                .args(&containers)
                .output();
        }
        let volumes = ids(&["volume", "ls", "-q", "--filter", &label]);
        if !volumes.is_empty() {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f"])
                .args(&volumes)
                .output();
        }
        let networks = ids(&["network", "ls", "-q", "--filter", &label]);
        if !networks.is_empty() {
            let _ = Command::new("docker")
                .args(["network", "rm"])
                .args(&networks)
                .output();
        }
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        self.clean();
    }
}

/// Docker's events of a project as they happen (`docker events`, filtered to what
/// matters: create, start, die, health status), recorded from a moment before `start`.
pub struct EventWatch {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl EventWatch {
    pub fn start(project: &Project) -> EventWatch {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let mut child = Command::new("docker")
            .args([
                "events",
                "--since",
                &format!("{}.{:09}", since.as_secs(), since.subsec_nanos()),
                "--filter",
                "type=container",
                "--filter",
                &format!("label=com.docker.compose.project={}", project.name),
                "--filter",
                "event=create",
                "--filter",
                "event=start",
                "--filter",
                "event=die",
                "--filter",
                "event=health_status",
                "--format",
                "{{json .}}",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap().push(line);
            }
        });
        std::thread::sleep(Duration::from_millis(200));
        EventWatch { child, lines }
    }

    /// Everything seen so far, in order.
    pub fn events(&self) -> Vec<DockerEvent> {
        std::thread::sleep(Duration::from_millis(300));
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| DockerEvent {
                nanos: v["timeNano"].as_i64().unwrap_or(0),
                service: v["Actor"]["Attributes"]["com.docker.compose.service"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                action: v["Action"].as_str().unwrap_or("").to_string(),
            })
            .collect()
    }
}

impl Drop for EventWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerEvent {
    pub nanos: i64,
    pub service: String,
    pub action: String,
}

/// The first time `service` did `action` (e.g. "start", "health_status: healthy", "die").
pub fn first(events: &[DockerEvent], service: &str, action: &str) -> Option<i64> {
    events
        .iter()
        .find(|e| e.service == service && e.action == action)
        .map(|e| e.nanos)
}

pub fn path_of(p: &Project, relative: &str) -> PathBuf {
    p.path().join(relative)
}

/// The test stack: 10 services in 3 phases on the busybox image. HTTP services with `http`
/// checks, TCP services, a service that turns healthy only after 3 s, a job, an optional
/// dependency and two groups. `{name}` is the project, `{port}` a free host port.
pub const STACK: &str = r#"
version: 1
name: {name}
defaults:
  health: { interval: 1s, timeout: 2s, retries: 3, start_period: 0s }
phases:
  core: { order: 1, timeout: 30s }
  data: { order: 2, timeout: 30s }
  apps: { order: 3, timeout: 40s }
groups:
  frontend: { services: [web, api] }
  bots: { services: [bot] }
services:
  proxy:
    image: muster-test/busybox:1
    phase: core
    critical: true
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["127.0.0.1:{port}:8080"]
    health: { http: { port: 8080, path: / } }
  tcpsvc:
    image: muster-test/busybox:1
    phase: core
    init: true
    command: ["httpd", "-f", "-p", "9000", "-h", "/"]
    health: { tcp: { port: 9000 } }
  db:
    image: muster-test/busybox:1
    phase: core
    critical: true
    init: true
    command: ["sh", "-c", "sleep 3 && mkdir -p /tmp && touch /tmp/ready && exec sleep 100000"]
    health: { exec: ["test", "-f", "/tmp/ready"] }
  migrate:
    image: muster-test/busybox:1
    phase: data
    job: true
    command: ["sh", "-c", "echo migrating; sleep 1; echo done"]
    depends_on: [db]
  cache:
    image: muster-test/busybox:1
    phase: data
    init: true
    command: ["httpd", "-f", "-p", "6379", "-h", "/"]
    health: { tcp: { port: 6379 } }
  api:
    image: muster-test/busybox:1
    phase: apps
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo api > /www/index.html && exec httpd -f -p 8080 -h /www"]
    health: { http: { port: 8080, path: / } }
    depends_on: [db, migrate, cache]
  web:
    image: muster-test/busybox:1
    phase: apps
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    health: { http: { port: 8080, path: / } }
    depends_on: [api, proxy]
  worker:
    image: muster-test/busybox:1
    phase: apps
    init: true
    command: ["sleep", "100000"]
    depends_on: [cache, { service: extra, optional: true }]
  extra:
    image: muster-test/busybox:1
    phase: apps
    init: true
    command: ["sleep", "100000"]
  bot:
    image: muster-test/busybox:1
    phase: apps
    init: true
    command: ["sleep", "100000"]
    depends_on: [tcpsvc]
"#;

/// The test stack with its placeholders filled, for a project made with [`Project::new`].
pub fn stack(port: u16) -> String {
    STACK.replace("{port}", &port.to_string())
}

/// An image with a static busybox but no shell nor any applet link: nothing a Compose
/// `http`/`tcp` health check could use.
pub fn bare_image() -> &'static str {
    const BARE: &str = "muster-test/bare:1";
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy("/bin/busybox", dir.path().join("busybox")).unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nCMD [\"/bin/busybox\", \"sleep\", \"100000\"]\n",
        )
        .unwrap();
        let out = Command::new("docker")
            .args(["build", "-q", "-t", BARE, "."])
            .env("DOCKER_BUILDKIT", "0")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    });
    BARE
}

/// A second Docker daemon with its own socket, data and networks, standing in for a remote
/// host; stopped (by its pid) and removed on drop. Its default bridge is one of its own
/// (never `docker0`: `--bip` would readdress it and `--bridge=none` deletes it, both under
/// the main daemon's feet) and it leaves iptables alone.
pub struct SecondDocker {
    pub dir: tempfile::TempDir,
    pub host: String,
    bridge: String,
    child: std::process::Child,
}

impl SecondDocker {
    /// Starts one, and loads the test image into it. None (with the reason printed) when
    /// that is impossible here; under CI that fails the test.
    pub fn start() -> Option<SecondDocker> {
        let fail = |reason: String| -> Option<SecondDocker> {
            skip_unless_ci("a second dockerd", &reason);
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("mrt-dockerd")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        std::fs::write(d.join("daemon.json"), "{}").unwrap();
        let socket = d.join("docker.sock");
        let log = std::fs::File::create(d.join("log")).unwrap();
        // Tests of one process may each start one: names and addresses differ per instance.
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let n = STARTED.fetch_add(1, Ordering::Relaxed) % 8;
        let bridge = format!("mrtbr{}x{n}", std::process::id() % 100_000);
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let made = ip(&["link", "add", &bridge, "type", "bridge"])
            && ip(&["addr", "add", &format!("10.230.{n}.1/24"), "dev", &bridge])
            && ip(&["link", "set", &bridge, "up"]);
        if !made {
            ip(&["link", "delete", &bridge]);
            return fail(format!(
                "cannot make the bridge {bridge} (needs root and iproute2)"
            ));
        }
        let child = Command::new("dockerd")
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(["--bridge", &bridge])
            .args([
                "--iptables=false",
                "--ip-masq=false",
                "--default-address-pool",
                &format!("base=10.{}.0.0/16,size=24", 240 + n),
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                ip(&["link", "delete", &bridge]);
                return fail(format!("cannot run dockerd: {e}"));
            }
        };
        let host = format!("unix://{}", socket.display());
        let second = SecondDocker {
            dir,
            host,
            bridge,
            child,
        };
        let ready = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(200));
            Command::new("docker")
                .args(["-H", &second.host, "info"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if !ready {
            let log = std::fs::read_to_string(second.dir.path().join("log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            return fail(format!(
                "the second dockerd did not start: {}",
                tail.join(" / ")
            ));
        }
        let mut save = Command::new("docker")
            .args(["save", IMAGE])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let loaded = Command::new("docker")
            .args(["-H", &second.host, "load", "-q"])
            .stdin(save.stdout.take().unwrap())
            .output()
            .unwrap();
        let _ = save.wait();
        assert!(
            loaded.status.success(),
            "{}",
            String::from_utf8_lossy(&loaded.stderr)
        );
        Some(second)
    }

    pub fn states(&self, project: &str) -> Vec<String> {
        let out = Command::new("docker")
            .args([
                "-H",
                &self.host,
                "ps",
                "-a",
                "--filter",
                &format!("label=com.docker.compose.project={project}"),
                "--format",
                "{{.Label \"com.docker.compose.service\"}} {{.State}}",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }
}

impl Drop for SecondDocker {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["-H", &self.host, "ps", "-aq"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let ids: Vec<&str> = ids.lines().collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["-H", &self.host, "rm", "-f", "-v"])
                .args(&ids)
                .output();
        }
        // SIGTERM lets dockerd unmount its data before the folder goes.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = Command::new("ip")
            .args(["link", "delete", &self.bridge])
            .status();
    }
}

/// The host name the gateway's `ssh` config gives to its address and port, as a user names a
/// server in `~/.ssh/config`.
pub const GATEWAY_HOST: &str = "muster-gateway";

/// An SSH server on a loopback port of its own, standing in for a remote Docker host reached
/// as `ssh://root@muster-gateway` (its Docker is this machine's own daemon). `path` holds an
/// `ssh` that logs in with the gateway's own key and config, so the user's `~/.ssh` is
/// neither read nor written. Stopped on drop.
pub struct SshGateway {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    /// `PATH` for a process that should reach the gateway with its `ssh`.
    pub path: std::ffi::OsString,
    child: std::process::Child,
}

impl SshGateway {
    /// None (with the reason printed) when sshd cannot run here; under CI that fails.
    pub fn start() -> Option<SshGateway> {
        let fail = |reason: String| -> Option<SshGateway> {
            skip_unless_ci("an SSH server", &reason);
            None
        };
        let sshd = Path::new("/usr/sbin/sshd");
        if !sshd.exists() {
            return fail("/usr/sbin/sshd is missing (apt-get install openssh-server)".into());
        }
        let dir = tempfile::Builder::new()
            .prefix("mrt-sshd")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        for key in ["host_key", "client_key"] {
            let made = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .is_ok_and(|s| s.success());
            if !made {
                return fail("ssh-keygen failed".into());
            }
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        // sshd refuses to start without its privilege separation folder.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = free_port();
        let config = |name: &str, text: String| std::fs::write(d.join(name), text).unwrap();
        config(
            "sshd_config",
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
                 PidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\nStrictModes no\n\
                 UsePAM no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n",
                d = d.display()
            ),
        );
        config(
            "ssh_config",
            format!(
                "Host {GATEWAY_HOST}\n  HostName 127.0.0.1\n  Port {port}\n  \
                 IdentityFile {d}/client_key\n  IdentitiesOnly yes\n  \
                 StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n",
                d = d.display()
            ),
        );
        let bin = d.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let wrapper = bin.join("ssh");
        let ssh_config = d.join("ssh_config");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
                ssh_config.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let log = std::fs::File::create(d.join("log")).unwrap();
        let child = match Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => return fail(format!("cannot run sshd: {e}")),
        };
        let mut path = bin.into_os_string();
        path.push(":");
        path.push(std::env::var_os("PATH").unwrap_or_default());
        let gateway = SshGateway {
            endpoint: format!("ssh://root@{GATEWAY_HOST}"),
            path,
            child,
            dir,
        };
        let answers = (0..50).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            Command::new(&wrapper)
                .args([&format!("root@{GATEWAY_HOST}"), "true"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if !answers {
            let log = std::fs::read_to_string(gateway.dir.path().join("log")).unwrap_or_default();
            return fail(format!("sshd did not answer: {}", log.trim()));
        }
        Some(gateway)
    }
}

impl Drop for SshGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
