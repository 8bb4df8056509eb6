//! Secrets against the real Docker daemon, with a busybox image built locally (no registry is
//! reachable): `on_rotate` changes a running service's password through `docker exec`, and a
//! Compose v1 stack fed by `secrets export compose` is healthy only while its services hold the
//! same, right, values. Skipped with a reason when Docker is not usable; failing under CI.

mod secrets_support;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use secrets_support::{Project, output_text, tool_available};

const IMAGE: &str = "muster-secrets-test/busybox:1";

/// Builds the test image once: busybox-static from Debian in a `FROM scratch` image, with /tmp.
fn image() -> bool {
    static BUILT: OnceLock<bool> = OnceLock::new();
    *BUILT.get_or_init(|| {
        if !tool_available("docker", &["info"]) {
            return false;
        }
        let busybox = Path::new("/bin/busybox");
        if !busybox.exists() {
            assert!(
                std::env::var("CI").is_err(),
                "/bin/busybox (Debian busybox-static) is required under CI"
            );
            eprintln!("skipped: /bin/busybox is missing (apt-get install busybox-static)");
            return false;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(busybox, dir.path().join("busybox")).unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nRUN mkdir -p /tmp && chmod 1777 /tmp\n",
        )
        .unwrap();
        let out = Command::new("docker")
            .args(["build", "-q", "-t", IMAGE])
            .arg(dir.path())
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
        true
    })
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}{}x{nanos}", std::process::id())
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        output_text(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes the container it names when the test ends, pass or fail.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

#[test]
fn on_rotate_changes_the_running_service() {
    if !image() {
        return;
    }
    let project = unique("mstrot");
    let p = Project::new(&format!(
        r#"
version: 1
name: {project}
secrets:
  db-password:
    kind: password
    on_rotate:
      service: db
      # Like a database: it accepts the new password only from someone who knows the old one.
      exec: ["sh", "-c", "[ \"$$(cat /tmp/pw)\" = \"$$MUSTER_OLD_VALUE\" ] && printf %s \"$$MUSTER_NEW_VALUE\" > /tmp/pw"]
services:
  db:
    image: "{IMAGE}"
    env: {{ PW: {{ secret: db-password }} }}
"#
    ));
    p.muster().args(["secrets", "generate"]).assert().success();
    p.muster()
        .args(["secrets", "export", "compose"])
        .assert()
        .success();
    let env_file = p.path().join(".muster/runtime/compose/db.env");
    let id = docker(&[
        "run",
        "-d",
        "--label",
        &format!("com.docker.compose.project={project}"),
        "--label",
        "com.docker.compose.service=db",
        "--env-file",
        env_file.to_str().unwrap(),
        IMAGE,
        "sh",
        "-c",
        "printf %s \"$PW\" > /tmp/pw; exec sleep 600",
    ]);
    let _guard = Container(id.clone());
    let read_pw = || {
        Command::new("docker")
            .args(["exec", &id, "cat", "/tmp/pw"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while read_pw().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let old = p.value("db-password");
    assert_eq!(read_pw(), old);

    let out = p
        .muster()
        .args(["secrets", "rotate", "db-password"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let new = p.value("db-password");
    assert_ne!(new, old);
    assert_eq!(read_pw(), new, "the service took the new value");
    assert!(!output_text(&out).contains(&new));

    // The service no longer knows the current value: its hook fails and nothing changes.
    docker(&["exec", &id, "sh", "-c", "echo wrong > /tmp/pw"]);
    let out = p
        .muster()
        .args(["secrets", "rotate", "db-password"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(output_text(&out).contains("failed in `db`"));
    assert_eq!(p.value("db-password"), new);
    assert!(p.store()["secrets"]["db-password"].get("pending").is_none());
}

/// Stops and removes a Compose project when the test ends.
struct ComposeProject {
    dir: std::path::PathBuf,
    name: String,
}

impl ComposeProject {
    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker-compose")
            .args(["-p", &self.name, "-f", "compose.yml"])
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap()
    }

    fn health(&self, service: &str) -> String {
        let out = self.run(&["ps", "-q", service]);
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if id.is_empty() {
            return String::new();
        }
        Command::new("docker")
            .args(["inspect", "-f", "{{.State.Health.Status}}", &id])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    fn wait_for(&self, service: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let now = self.health(service);
            if now == status {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{service} is `{now}`, not `{status}`: {}",
                output_text(&self.run(&["logs", "--tail", "20"]))
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for ComposeProject {
    fn drop(&mut self) {
        let _ = self.run(&["down", "-v", "-t", "1"]);
    }
}

#[test]
fn a_compose_stack_is_healthy_only_with_the_same_secrets() {
    if !image() || !tool_available("docker-compose", &["version"]) {
        return;
    }
    let project = unique("mstup");
    let p = Project::new(&format!(
        r#"
version: 1
name: {project}
secrets:
  db-password: {{ kind: password, length: 24, alphabet: symbols }}
  admin-hash: {{ kind: argon2id, from: db-password, memory: 8M, iterations: 1 }}
  api-key: {{ kind: hex }}
services:
  db:
    image: "{IMAGE}"
    user: "1000:1000"
    env:
      PASSWORD: {{ secret: db-password }}
      HASH: {{ secret: admin-hash }}
    secrets: [api-key]
  app:
    image: "{IMAGE}"
    user: "1000:1000"
    env:
      PASSWORD: {{ secret: db-password }}
      HASH: {{ secret: admin-hash }}
      KEY_FILE: {{ secret: api-key, as: file }}
      URL: "http://app:${{secret:db-password}}@${{host:db}}:8080/"
"#
    ));
    // The Compose file the renderer would write, by hand: env files and file secrets from
    // `.muster/runtime/compose/`. db publishes what it was given; app is healthy only when it
    // holds the same values.
    p.write(
        "compose.yml",
        &format!(
            r#"version: "3.8"
services:
  db:
    image: {IMAGE}
    user: "1000:1000"
    env_file: [.muster/runtime/compose/db.env]
    secrets: [api-key]
    command: ["sh", "-c", "mkdir -p /tmp/www && printf %s \"$$PASSWORD\" > /tmp/www/pw && printf %s \"$$HASH\" > /tmp/www/hash && cat /run/secrets/api-key > /tmp/www/key && exec httpd -f -p 8080 -h /tmp/www"]
  app:
    image: {IMAGE}
    user: "1000:1000"
    env_file: [.muster/runtime/compose/app.env]
    secrets: [api-key]
    command: ["sleep", "600"]
    healthcheck:
      test: ["CMD-SHELL", "[ \"$$(wget -qO- http://db:8080/pw)\" = \"$$PASSWORD\" ] && [ \"$$(wget -qO- http://db:8080/hash)\" = \"$$HASH\" ] && [ \"$$(wget -qO- http://db:8080/key)\" = \"$$(cat $$KEY_FILE)\" ]"]
      interval: 1s
      timeout: 2s
      retries: 2
secrets:
  api-key:
    file: ./.muster/runtime/compose/secrets/api-key
"#
        ),
    );
    p.muster().args(["secrets", "generate"]).assert().success();
    p.muster()
        .args(["secrets", "export", "compose"])
        .assert()
        .success();
    let stack = ComposeProject {
        dir: p.path().to_path_buf(),
        name: project.clone(),
    };
    let out = stack.run(&["up", "-d"]);
    assert!(out.status.success(), "{}", output_text(&out));
    stack.wait_for("app", "healthy");

    // The values arrived exactly, `${secret:...}` inside a string too.
    let app = String::from_utf8_lossy(&stack.run(&["ps", "-q", "app"]).stdout)
        .trim()
        .to_string();
    assert_eq!(
        docker(&["exec", &app, "sh", "-c", "printf %s \"$URL\""]),
        format!("http://app:{}@db:8080/", p.value("db-password"))
    );
    assert_eq!(
        docker(&["exec", &app, "sh", "-c", "printf %s \"$HASH\""]),
        p.value("admin-hash")
    );

    // A new value reaches app only: it no longer matches db, and app turns unhealthy.
    p.muster()
        .args(["secrets", "rotate", "db-password"])
        .assert()
        .success();
    p.muster()
        .args(["secrets", "export", "compose"])
        .assert()
        .success();
    let out = stack.run(&["up", "-d", "--no-deps", "app"]);
    assert!(out.status.success(), "{}", output_text(&out));
    stack.wait_for("app", "unhealthy");

    // Both recreated with the new values: healthy again.
    let out = stack.run(&["up", "-d"]);
    assert!(out.status.success(), "{}", output_text(&out));
    stack.wait_for("app", "healthy");
}

/// Takes a stack started with `muster up` down when the test ends.
struct MusterStack<'p>(&'p Project);

impl Drop for MusterStack<'_> {
    fn drop(&mut self) {
        let _ = self.0.muster().args(["down", "all", "--yes"]).output();
    }
}

/// The whole rotation, through the generated Compose file: `muster up`, then `rotate
/// --restart`. db's hook accepts the new password only from someone who knows the old one;
/// then both are recreated with the new value, and app's health check passes only when the
/// value it holds is the one db serves.
#[test]
fn rotate_with_restart_hands_the_new_value_to_every_user() {
    if !image() || !tool_available("docker-compose", &["version"]) {
        return;
    }
    let project = unique("mstrr");
    let p = Project::new(&format!(
        r#"
version: 1
name: {project}
secrets:
  db-password:
    kind: password
    on_rotate:
      service: db
      exec: ["sh", "-c", "[ \"$$(cat /tmp/www/pw)\" = \"$$MUSTER_OLD_VALUE\" ] && printf %s \"$$MUSTER_NEW_VALUE\" > /tmp/www/pw"]
services:
  db:
    image: "{IMAGE}"
    command: ["sh", "-c", "mkdir -p /tmp/www && printf %s \"$$PASSWORD\" > /tmp/www/pw && exec httpd -f -p 8080 -h /tmp/www"]
    env: {{ PASSWORD: {{ secret: db-password }} }}
    health:
      exec: ["sh", "-c", "test -s /tmp/www/pw"]
      interval: 1s
  app:
    image: "{IMAGE}"
    command: ["sleep", "600"]
    env: {{ PASSWORD: {{ secret: db-password }} }}
    depends_on: [{{ service: db, condition: healthy }}]
    health:
      exec: ["sh", "-c", "[ \"$$(wget -qO- http://db:8080/pw)\" = \"$$PASSWORD\" ]"]
      interval: 1s
      retries: 2
"#
    ));
    p.muster().args(["secrets", "generate"]).assert().success();
    let _stack = MusterStack(&p);
    let out = p.muster().args(["up", "all"]).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let container = |service: &str| {
        docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={project}"),
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
        ])
    };
    let (db_before, app_before) = (container("db"), container("app"));
    let old = p.value("db-password");

    let out = p
        .muster()
        .args(["secrets", "rotate", "db-password", "--restart"])
        .output()
        .unwrap();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    let new = p.value("db-password");
    assert_ne!(new, old);
    assert!(!text.contains(&new) && !text.contains(&old), "{text}");
    assert!(
        text.contains("ran on_rotate of db-password in db"),
        "{text}"
    );
    assert!(text.contains("recreating db, app"), "{text}");

    assert_ne!(container("db"), db_before, "db was recreated");
    let app = container("app");
    assert_ne!(app, app_before, "app was recreated");
    assert_eq!(
        docker(&["exec", &app, "sh", "-c", "printf %s \"$PASSWORD\""]),
        new
    );
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Health.Status}}", &app]),
        "healthy",
        "`up` waited until app accepted the new value"
    );
}
