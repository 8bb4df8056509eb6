//! The Compose files muster generates, checked by the real tools (see `../shared/TOOLS.md`):
//! the Compose spec's JSON Schema (always, with the `jsonschema` crate; and with
//! `check-jsonschema` when installed), `docker-compose config` (Compose v1 1.29: the flat
//! files, and the split files against the flat one), a round trip of hostile values, what
//! `--profile` really creates on a Docker daemon, and the health probes run against a live
//! HTTP server with one tool at a time.
//!
//! A test that needs a tool prints why it skips and returns, except under `CI=true`, where a
//! missing tool fails it.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use muster::check::check_one;
use muster::generate::GeneratedFile;
use muster::graph::{DepGraph, Selected, selection::group_members};
use muster::registry::Registry;
use muster::render::compose::render;
use muster::render::yaml::to_string as to_yaml;
use muster::source::SourceFile;
use serde_json::Value as Json;
use serde_norway::Value;

const EXAMPLES: [&str; 4] = ["homelab", "microservices", "nomad", "selfhosted"];

/// The shipped examples and the fixture that uses every service field.
fn projects() -> Vec<(&'static str, Project)> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/valid/compose-kitchen-sink/muster.yaml");
    EXAMPLES
        .iter()
        .map(|name| (*name, Project::example(name)))
        .chain([(
            "kitchen sink",
            Project::load(SourceFile::read(&fixture).expect("fixture")),
        )])
        .collect()
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (returns false) or, in CI, fails when a tool is missing.
fn require(available: bool, what: &str) -> bool {
    if !available {
        assert!(!in_ci(), "{what} is required under CI=true");
        eprintln!("skipped: {what} is not available");
    }
    available
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn have_compose() -> bool {
    require(
        runs("docker-compose", &["version"]),
        "docker-compose (Debian package docker-compose)",
    )
}

fn have_docker() -> bool {
    require(runs("docker", &["info"]), "a Docker daemon (`docker info`)") && have_compose()
}

fn check_jsonschema() -> Option<PathBuf> {
    let from_venv = std::env::var_os("MUSTER_TOOLS_VENV")
        .map(|v| PathBuf::from(v).join("bin/check-jsonschema"))
        .filter(|p| p.is_file());
    let found = from_venv.or_else(|| {
        runs("check-jsonschema", &["--version"]).then(|| PathBuf::from("check-jsonschema"))
    });
    require(
        found.is_some(),
        "check-jsonschema (pip install check-jsonschema; set MUSTER_TOOLS_VENV to its venv)",
    )
    .then(|| found.unwrap())
}

fn checked(source: Arc<SourceFile>, env: Option<&str>) -> Registry {
    let report = check_one(source, env);
    let errors: Vec<&str> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.as_str())
        .collect();
    assert!(errors.is_empty(), "{env:?}: {errors:#?}");
    report.loaded.registry.expect("a registry")
}

struct Project {
    base: Registry,
    environments: Vec<(String, Registry)>,
    files: Vec<GeneratedFile>,
}

impl Project {
    fn load(source: Arc<SourceFile>) -> Project {
        let base = checked(source.clone(), None);
        let environments: Vec<(String, Registry)> = base
            .environments
            .keys()
            .map(|e| (e.clone(), checked(source.clone(), Some(e))))
            .collect();
        let files = render(&base, &environments);
        Project {
            base,
            environments,
            files,
        }
    }

    fn example(name: &str) -> Project {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name)
            .join("muster.yaml");
        Project::load(SourceFile::read(&path).expect("example"))
    }

    fn from_text(text: &str) -> Project {
        Project::load(Arc::new(SourceFile::new("muster.yaml", text)))
    }

    fn file(&self, path: &str) -> &GeneratedFile {
        self.files
            .iter()
            .find(|f| f.path == Path::new(path))
            .unwrap_or_else(|| panic!("no {path}"))
    }

    fn flat_files(&self) -> Vec<String> {
        std::iter::once("stack.yml".to_string())
            .chain(
                self.environments
                    .iter()
                    .map(|(e, _)| format!("stack.{e}.yml")),
            )
            .collect()
    }

    /// The files the orchestrator includes, in order.
    fn included(&self) -> Vec<String> {
        let doc = json(&yaml(&self.file("compose/docker-compose.yml").body));
        doc["include"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["path"].as_str().unwrap().to_string())
            .collect()
    }

    /// Writes the files as `muster gen` would, under `<root>/<output>/`, with `muster.yaml`'s
    /// folder being `root`, plus everything the files point at that Compose v1 insists on:
    /// build contexts, env files, runtime env files, secret files. Returns the compose folder.
    fn write(&self, root: &Path) -> PathBuf {
        let output = root.join(&self.base.output);
        for f in &self.files {
            let path = output.join(&f.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &f.body).unwrap();
        }
        let compose = output.join("compose");
        let mut dotenv = String::new();
        for (name, v) in &self.base.variables {
            let value = match name.as_str() {
                "DATA_ROOT" | "MEDIA_ROOT" => root.join("data").display().to_string(),
                _ => v
                    .example
                    .clone()
                    .or_else(|| v.default.clone())
                    .unwrap_or_else(|| "x".into()),
            };
            dotenv.push_str(&format!("{name}={value}\n"));
        }
        std::fs::write(root.join(".env"), dotenv).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        for flat in self.flat_files() {
            let doc = json(&yaml(&self.file(&format!("compose/{flat}")).body));
            for service in doc["services"].as_object().unwrap().values() {
                if let Some(context) = service["build"]["context"].as_str() {
                    std::fs::create_dir_all(compose.join(context)).unwrap();
                }
                for env_file in service["env_file"].as_array().into_iter().flatten() {
                    touch(&compose.join(env_file.as_str().unwrap()));
                }
            }
            for secret in doc["secrets"].as_object().into_iter().flatten() {
                touch(&compose.join(secret.1["file"].as_str().unwrap()));
            }
        }
        compose
    }
}

fn touch(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
}

fn yaml(text: &str) -> Value {
    serde_norway::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn json(v: &Value) -> Json {
    serde_json::to_value(v).expect("plain YAML")
}

/// What an override file means to a reader that does not know Compose's tags: `!override X`
/// is X, a key under `!reset` is absent.
fn without_tags(v: &Value) -> Value {
    match v {
        Value::Tagged(t) => without_tags(&t.value),
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .filter(|(_, v)| !matches!(v, Value::Tagged(t) if t.tag == "reset"))
                .map(|(k, v)| (k.clone(), without_tags(v)))
                .collect(),
        ),
        Value::Sequence(s) => Value::Sequence(s.iter().map(without_tags).collect()),
        other => other.clone(),
    }
}

fn compose(compose_dir: &Path, root: &Path, args: &[&str]) -> Output {
    let env_file = root.join(".env");
    Command::new("docker-compose")
        .current_dir(compose_dir)
        .arg("--env-file")
        .arg(&env_file)
        .args(args)
        .output()
        .expect("docker-compose runs")
}

/// `docker-compose config` output as Compose v1 itself reads YAML (PyYAML, YAML 1.1), where
/// a plain `1e3` is a string, not the number a YAML 1.2 reader sees.
fn pyyaml(text: &str) -> Json {
    let mut child = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with PyYAML (a dependency of docker-compose)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = ok(child.wait_with_output().unwrap(), "PyYAML");
    serde_json::from_str(&out).unwrap()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_file_matches_the_compose_spec_schema() {
    let schema_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/schema/compose-spec.json");
    if !require(
        schema_path.is_file(),
        "../shared/corpus (the Compose spec schema)",
    ) {
        return;
    }
    let schema: Json = serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap())
        .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let mut checked = 0;
    for (name, project) in projects() {
        for f in &project.files {
            let doc = json(&without_tags(&yaml(&f.body)));
            let errors: Vec<String> = validator
                .iter_errors(&doc)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{name} {}: {errors:#?}",
                f.path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} files");
}

#[test]
fn check_jsonschema_accepts_every_file() {
    let Some(tool) = check_jsonschema() else {
        return;
    };
    for (name, project) in projects() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (i, f) in project.files.iter().enumerate() {
            // check-jsonschema's YAML reader refuses unknown tags: give it the tag-free meaning.
            let text = if f.body.contains("!override") || f.body.contains("!reset") {
                to_yaml(&without_tags(&yaml(&f.body)))
            } else {
                f.body.clone()
            };
            let path = dir.path().join(format!("{i}.yml"));
            std::fs::write(&path, text).unwrap();
            paths.push(path);
        }
        let out = Command::new(&tool)
            .args(["--builtin-schema", "vendor.compose-spec"])
            .args(&paths)
            .output()
            .expect("check-jsonschema runs");
        ok(out, &format!("check-jsonschema on {name}"));
    }
}

#[test]
fn compose_v1_reads_every_flat_file_and_the_split_files_mean_the_same() {
    if !have_compose() {
        return;
    }
    for (name, project) in projects() {
        let root = tempfile::tempdir().unwrap();
        let dir = project.write(root.path());
        for flat in project.flat_files() {
            ok(
                compose(&dir, root.path(), &["-p", "t", "-f", &flat, "config", "-q"]),
                &format!("{name} {flat}"),
            );
        }
        // Compose v1 knows no `required: false` and no port `name` or `app_protocol`: it reads
        // copies of the split files without them, which is all the flat file leaves out.
        let mut args: Vec<String> = vec![
            "-p".into(),
            "t".into(),
            "--project-directory".into(),
            ".".into(),
        ];
        for include in project.included() {
            let mut doc = yaml(&project.file(&format!("compose/{include}")).body);
            if let Some(Value::Mapping(services)) = doc.get_mut("services") {
                for service in services.values_mut() {
                    if let Some(Value::Mapping(deps)) = service.get_mut("depends_on") {
                        deps.retain(|_, d| d.get("required") != Some(&Value::Bool(false)));
                    }
                    if let Some(Value::Sequence(ports)) = service.get_mut("ports") {
                        for port in ports.iter_mut().filter_map(Value::as_mapping_mut) {
                            port.shift_remove("name");
                            port.shift_remove("app_protocol");
                        }
                    }
                    if service.get("depends_on").is_some_and(|d| {
                        d.as_mapping().is_some_and(serde_norway::Mapping::is_empty)
                    }) {
                        service.as_mapping_mut().unwrap().shift_remove("depends_on");
                    }
                }
            }
            let copy = include.replace(".yml", ".v1.yml");
            std::fs::write(dir.join(&copy), to_yaml(&doc)).unwrap();
            args.extend(["-f".into(), copy]);
        }
        args.push("config".into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let split = ok(compose(&dir, root.path(), &args), &format!("{name} split"));
        let flat = ok(
            compose(&dir, root.path(), &["-p", "t", "-f", "stack.yml", "config"]),
            &format!("{name} stack.yml"),
        );
        // Compose v1 drops a service's `x-` keys when it merges several files, merges
        // set-like lists into sorted order, writes a network joined without options as `{}`
        // instead of `null`, and `extra_hosts` as a mapping.
        let strip = |mut doc: Json| {
            for service in doc["services"].as_object_mut().unwrap().values_mut() {
                service
                    .as_object_mut()
                    .unwrap()
                    .retain(|k, _| !k.starts_with("x-"));
                if let Some(hosts) = service["extra_hosts"].as_object() {
                    service["extra_hosts"] = hosts
                        .iter()
                        .map(|(h, ip)| Json::String(format!("{h}:{}", ip.as_str().unwrap())))
                        .collect();
                }
                sort_sets(service);
                for network in service["networks"].as_object_mut().into_iter().flatten() {
                    if network.1.is_null() {
                        *network.1 = serde_json::json!({});
                    }
                }
            }
            doc
        };
        let (split, flat) = (strip(pyyaml(&split)), strip(pyyaml(&flat)));
        for (service, definition) in flat["services"].as_object().unwrap() {
            for (key, value) in definition.as_object().unwrap() {
                let got = &split["services"][service][key];
                assert_eq!(got, value, "{name} {service}.{key}");
            }
        }
        assert_eq!(split, flat, "{name}");
    }
}

/// Sorts the lists Compose v1 treats as sets when it merges files.
fn sort_sets(value: &mut Json) {
    const SETS: [&str; 13] = [
        "expose",
        "ports",
        "volumes",
        "aliases",
        "devices",
        "cap_add",
        "cap_drop",
        "dns",
        "extra_hosts",
        "tmpfs",
        "secrets",
        "security_opt",
        "env_file",
    ];
    if let Some(map) = value.as_object_mut() {
        for (key, v) in map.iter_mut() {
            match v {
                Json::Array(items) if SETS.contains(&key.as_str()) => {
                    items.sort_by_key(|i| i.to_string());
                }
                _ => sort_sets(v),
            }
        }
    }
}

/// Values that YAML or Compose could misread, each as it should reach the container.
fn hostile_values() -> Vec<String> {
    let mut values: Vec<String> = [
        "quote ' and \" both",
        "new\nline\n  indented\n",
        "dollar $5 and $HOME and ${NOT_A_VAR} and $$",
        "# not a comment",
        "a: b",
        "- dash",
        "key=value",
        "{x}",
        "[y]",
        "&anchor *alias !tag",
        "%percent @at `tick` |pipe >fold",
        "unicode: héllo ✓ 中文 🚀",
        "  padded  ",
        "tab\there",
        "back\\slash C:\\path\\",
        "yes",
        "no",
        "on",
        "off",
        "null",
        "~",
        "0755",
        "22:22",
        "1e3",
        ".inf",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    values.push("long ".repeat(2000));
    values
}

#[test]
fn hostile_values_reach_compose_unchanged() {
    if !have_compose() {
        return;
    }
    let values = hostile_values();
    // Registry text: a literal `$` is `$$` there; every value as a JSON (so YAML) string.
    let quoted = |v: &str| serde_json::to_string(&v.replace('$', "$$")).unwrap();
    let mut text = String::from(
        "version: 1\nname: hostile\nservices:\n  app:\n    image: busybox:1.36\n    env:\n",
    );
    for (i, v) in values.iter().enumerate() {
        text.push_str(&format!("      V{i}: {}\n", quoted(v)));
    }
    text.push_str("    command:\n");
    for v in &values {
        text.push_str(&format!("      - {}\n", quoted(v)));
    }
    text.push_str("    labels:\n");
    for (i, v) in values.iter().enumerate() {
        text.push_str(&format!("      l{i}: {}\n", quoted(v)));
    }
    let project = Project::from_text(&text);
    let root = tempfile::tempdir().unwrap();
    let dir = project.write(root.path());
    let out = ok(
        compose(&dir, root.path(), &["-p", "t", "-f", "stack.yml", "config"]),
        "config",
    );
    let app = &pyyaml(&out)["services"]["app"];
    // `config` prints Compose text again, where a literal `$` is `$$`.
    let escaped = |v: &str| Json::String(v.replace('$', "$$"));
    for (i, v) in values.iter().enumerate() {
        assert_eq!(app["environment"][format!("V{i}")], escaped(v), "env {v:?}");
        assert_eq!(app["labels"][format!("l{i}")], escaped(v), "label {v:?}");
        assert_eq!(app["command"][i], escaped(v), "command {v:?}");
    }
}

/// Removes what a test project created on the daemon, whatever happens to the test.
struct Cleanup {
    project: String,
    tags: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let label = format!("label=com.docker.compose.project={}", self.project);
        // Compose v1 labels containers and networks, not volumes: those go by name.
        let volumes = format!("name={}_", self.project);
        let steps: [(&[&str], &str, &[&str]); 3] = [
            (&["ps", "-aq", "--filter"], &label, &["rm", "-f"]),
            (
                &["network", "ls", "-q", "--filter"],
                &label,
                &["network", "rm"],
            ),
            (
                &["volume", "ls", "-q", "--filter"],
                &volumes,
                &["volume", "rm", "-f"],
            ),
        ];
        for (list, filter, remove) in steps {
            let ids: Vec<String> = Command::new("docker")
                .args(list)
                .arg(filter)
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .split_whitespace()
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            if !ids.is_empty() {
                let _ = Command::new("docker").args(remove).args(&ids).output();
            }
        }
        if !self.tags.is_empty() {
            let _ = Command::new("docker").arg("rmi").args(&self.tags).output();
        }
    }
}

fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}{}x{nanos}", std::process::id())
}

/// A busybox image built from the host's busybox-static, without any registry.
fn busybox_image(tag: &str) -> bool {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file());
    let Some(busybox) = busybox else {
        return require(false, "busybox-static (apt-get install -y busybox-static)");
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(busybox, dir.path().join("busybox")).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCMD [\"sh\"]\n",
    )
    .unwrap();
    let out = Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", tag])
        .arg(dir.path())
        .output()
        .expect("docker build runs");
    ok(out, "docker build of the busybox test image");
    true
}

#[test]
fn each_profile_creates_its_group_what_it_needs_and_core() {
    if !have_docker() {
        return;
    }
    let project = Project::example("homelab");
    let reg = &project.base;
    let name = unique("mustertest");
    let mut cleanup = Cleanup {
        project: name.clone(),
        tags: Vec::new(),
    };
    let image = format!("{name}-busybox:1");
    if !busybox_image(&image) {
        return;
    }
    cleanup.tags.push(image.clone());
    let root = tempfile::tempdir().unwrap();
    let dir = project.write(root.path());

    // The stack as generated, except that every image name gets a prefix of this run, tagged
    // as the busybox image: no image name the daemon may really have is touched, and two
    // runs at once never remove each other's tags.
    let mut stack = yaml(&project.file("compose/stack.yml").body);
    for service in stack["services"].as_mapping_mut().unwrap().values_mut() {
        let original = service["image"]
            .as_str()
            .expect("homelab names every image");
        let renamed = format!("{name}/{original}");
        if !cleanup.tags.contains(&renamed) {
            let tag = Command::new("docker")
                .args(["tag", &image, &renamed])
                .output()
                .unwrap();
            ok(tag, "docker tag");
            cleanup.tags.push(renamed.clone());
        }
        service["image"] = Value::String(renamed);
    }
    std::fs::write(dir.join("stack.test.yml"), to_yaml(&stack)).unwrap();

    let graph = DepGraph::new(reg);
    let closure = |selected: Vec<String>| -> BTreeSet<String> {
        let selected: Vec<Selected> = selected
            .into_iter()
            .map(|service| Selected {
                service,
                by: "test".into(),
            })
            .collect();
        graph
            .closure(&selected, &Default::default())
            .services
            .into_keys()
            .collect()
    };
    let grouped: BTreeSet<String> = reg
        .groups
        .keys()
        .flat_map(|g| group_members(reg, g))
        .collect();
    let core: Vec<String> = reg
        .enabled_services()
        .map(|s| s.name.value.clone())
        .filter(|s| !grouped.contains(s))
        .collect();

    let mut profiles: Vec<Option<&str>> = vec![None];
    profiles.extend(reg.groups.keys().map(|g| Some(g.as_str())));
    for profile in profiles {
        let mut args = vec!["-p", &name, "-f", "stack.test.yml"];
        if let Some(p) = profile {
            args.extend(["--profile", p]);
        }
        // `create`, not `up --no-start`: Compose v1 waits for `service_healthy` and
        // `service_completed_successfully` even when it starts nothing.
        args.extend(["create", "--no-build"]);
        ok(
            compose(&dir, root.path(), &args),
            &format!("create {profile:?}"),
        );
        let listed = Command::new("docker")
            .args(["ps", "-a", "--filter"])
            .arg(format!("label=com.docker.compose.project={name}"))
            .args(["--format", "{{.Label \"com.docker.compose.service\"}}"])
            .output()
            .unwrap();
        let created: BTreeSet<String> = ok(listed, "docker ps").lines().map(String::from).collect();
        let mut selected = core.clone();
        if let Some(p) = profile {
            selected.extend(group_members(reg, p));
        }
        assert_eq!(created, closure(selected), "--profile {profile:?}");
        let mut rm = vec!["-p", name.as_str(), "-f", "stack.test.yml"];
        for g in reg.groups.keys() {
            rm.extend(["--profile", g.as_str()]);
        }
        rm.extend(["rm", "-f", "-s"]);
        ok(compose(&dir, root.path(), &rm), "rm");
    }
}

// --- health probes ------------------------------------------------------------------------

/// A tiny HTTP server: `/ok` 200, `/redirect` 302 to `/missing`, `/missing` 404, `/error`
/// 500, `/bare` 204 without a reason phrase.
fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    port
}

fn answer(mut stream: TcpStream) {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&request);
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let status = match path {
        "/ok" => "200 OK",
        "/redirect" => "302 Found\r\nLocation: /missing",
        "/error" => "500 Internal Server Error",
        "/bare" => "204",
        _ => "404 Not Found",
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The CMD-SHELL command muster writes for `health`, as the container's shell receives it.
fn probe(health: &str) -> String {
    let project = Project::from_text(&format!(
        "version: 1\nname: probe\nservices:\n  app:\n    image: busybox:1.36\n    health: {health}\n"
    ));
    let stack = json(&yaml(&project.file("compose/stack.yml").body));
    let test = &stack["services"]["app"]["healthcheck"]["test"];
    assert_eq!(test[0], "CMD-SHELL");
    test[1].as_str().unwrap().replace("$$", "$")
}

/// Runs `script` with `sh` and only the named tools (plus grep and head) on the PATH.
fn run_with(tools: &[(&str, &str)], script: &str) -> bool {
    let bin = tempfile::tempdir().unwrap();
    let base = [
        ("sh", "/bin/sh"),
        ("grep", "/bin/grep"),
        ("head", "/usr/bin/head"),
    ];
    for (name, target) in base.iter().chain(tools) {
        std::os::unix::fs::symlink(target, bin.path().join(name)).unwrap();
    }
    Command::new("/usr/bin/timeout")
        .args(["30", "/bin/sh", "-c", script])
        .env_clear()
        .env("PATH", bin.path())
        .output()
        .expect("sh runs")
        .status
        .success()
}

#[test]
fn health_probes_judge_with_whichever_tool_the_image_has() {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    let needed = [
        "/usr/bin/curl",
        "/bin/bash",
        "/bin/grep",
        "/usr/bin/head",
        "/usr/bin/timeout",
    ];
    let have = busybox.is_some() && needed.iter().all(|p| Path::new(p).is_file());
    if !require(have, "busybox-static, curl and bash on the host") {
        return;
    }
    let busybox = busybox.unwrap();
    let mut toolsets: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("busybox wget", vec![("wget", busybox)]),
        ("curl", vec![("curl", "/usr/bin/curl")]),
        ("busybox nc", vec![("nc", busybox)]),
        ("bash", vec![("bash", "/bin/bash")]),
    ];
    // GNU wget prints its status lines differently from busybox's: checked too when present.
    if Path::new("/usr/bin/wget").is_file() {
        toolsets.push(("GNU wget", vec![("wget", "/usr/bin/wget")]));
    }
    let port = http_server();
    let closed = closed_port();
    let http = |path: &str, extra: &str, p: u16| {
        probe(&format!(
            "{{ http: {{ port: {p}, path: \"{path}\"{extra} }} }}"
        ))
    };
    let cases = [
        (http("/ok", "", port), true),
        (http("/redirect", "", port), true),
        (http("/bare", "", port), true),
        (http("/missing", "", port), false),
        (http("/error", "", port), false),
        (http("/ok", "", closed), false),
        (http("/ok", ", expect: [200, 204]", port), true),
        (http("/bare", ", expect: [200, 204]", port), true),
        (http("/redirect", ", expect: [200, 204]", port), false),
        (http("/redirect", ", expect: [302]", port), true),
        (http("/missing", ", expect: [302]", port), false),
    ];
    for (tools, set) in &toolsets {
        for (script, healthy) in &cases {
            assert_eq!(run_with(set, script), *healthy, "{tools}: {script}");
        }
    }
    for (script, _) in &cases {
        assert!(!run_with(&[], script), "no tool at all: {script}");
    }
    let tcp_open = probe(&format!("{{ tcp: {{ port: {port} }} }}"));
    let tcp_closed = probe(&format!("{{ tcp: {{ port: {closed} }} }}"));
    for (tools, set) in toolsets.iter().filter(|(t, _)| !t.ends_with("wget")) {
        assert!(run_with(set, &tcp_open), "{tools}: open port");
        assert!(!run_with(set, &tcp_closed), "{tools}: closed port");
    }
    assert!(!run_with(&[], &tcp_open), "no tool at all");
}

#[test]
fn probes_run_by_docker_tell_healthy_from_unhealthy() {
    if !have_docker() {
        return;
    }
    let name = unique("musterprobe");
    let mut cleanup = Cleanup {
        project: name.clone(),
        tags: Vec::new(),
    };
    let image = format!("{name}-busybox:1");
    if !busybox_image(&image) {
        return;
    }
    cleanup.tags.push(image.clone());
    // busybox httpd serves the container's own files; the image has wget and nc, no curl.
    let service = |health: &str| {
        format!(
            "    image: {image}\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/\"]\n    health: {{ {health}, interval: 1s, timeout: 5s, retries: 2 }}\n"
        )
    };
    let text = format!(
        "version: 1\nname: probe\nservices:\n  http-ok:\n{}  http-missing:\n{}  http-expect:\n{}  tcp-open:\n{}  tcp-closed:\n{}",
        service("http: { port: 8080, path: /etc/hostname }"),
        service("http: { port: 8080, path: /no/such/file }"),
        service("http: { port: 8080, path: /no/such/file, expect: [404] }"),
        service("tcp: { port: 8080 }"),
        service("tcp: { port: 9999 }"),
    );
    let project = Project::from_text(&text);
    let root = tempfile::tempdir().unwrap();
    let dir = project.write(root.path());
    ok(
        compose(
            &dir,
            root.path(),
            &["-p", &name, "-f", "stack.yml", "up", "-d"],
        ),
        "up",
    );
    let expected = [
        ("http-ok", "healthy"),
        ("http-missing", "unhealthy"),
        ("http-expect", "healthy"),
        ("tcp-open", "healthy"),
        ("tcp-closed", "unhealthy"),
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let states: Vec<(String, String)> = expected
            .iter()
            .map(|(service, _)| {
                let out = Command::new("docker")
                    .args(["inspect", "--format", "{{.State.Health.Status}}"])
                    .arg(format!("{name}_{service}_1"))
                    .output()
                    .unwrap();
                let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
                (service.to_string(), state)
            })
            .collect();
        let settled = states.iter().all(|(_, s)| s != "starting");
        if settled || std::time::Instant::now() > deadline {
            let want: Vec<(String, String)> = expected
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            assert_eq!(states, want);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}
