use std::path::Path;
use std::sync::Arc;

use serde_norway::Value;

use super::*;
use crate::check::check_one;
use crate::source::SourceFile;

/// The registry of `source`, checked: a registry with errors is never rendered.
fn checked(source: Arc<SourceFile>, env: Option<&str>) -> Registry {
    let report = check_one(source, env);
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    assert!(errors.is_empty(), "{env:?}: {errors:#?}");
    report.loaded.registry.expect("a registry")
}

/// The base registry of `source` and every environment merged, as `muster gen` passes them.
fn load(source: Arc<SourceFile>) -> (Registry, Vec<(String, Registry)>) {
    let base = checked(source.clone(), None);
    let environments = base
        .environments
        .keys()
        .map(|name| (name.clone(), checked(source.clone(), Some(name))))
        .collect();
    (base, environments)
}

fn from_text(text: &str) -> (Registry, Vec<(String, Registry)>) {
    load(Arc::new(SourceFile::new("muster.yaml", text)))
}

fn example(name: &str) -> (Registry, Vec<(String, Registry)>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .join("muster.yaml");
    load(SourceFile::read(&path).expect("example exists"))
}

fn render_all(reg: &(Registry, Vec<(String, Registry)>)) -> Vec<GeneratedFile> {
    render(&reg.0, &reg.1)
}

fn body<'a>(files: &'a [GeneratedFile], path: &str) -> &'a str {
    &files
        .iter()
        .find(|f| f.path == Path::new(path))
        .unwrap_or_else(|| panic!("no {path}"))
        .body
}

fn parsed(files: &[GeneratedFile], path: &str) -> Value {
    serde_norway::from_str(body(files, path)).unwrap()
}

/// Every file of a project, one after the other, for one snapshot per example.
fn all_files(files: &[GeneratedFile]) -> String {
    let mut out = String::new();
    for f in files {
        out.push_str(&format!("=== {}\n{}", f.path.display(), f.body));
    }
    out
}

#[test]
fn snapshot_homelab() {
    insta::assert_snapshot!(all_files(&render_all(&example("homelab"))));
}

#[test]
fn snapshot_microservices() {
    insta::assert_snapshot!(all_files(&render_all(&example("microservices"))));
}

#[test]
fn snapshot_nomad() {
    insta::assert_snapshot!(all_files(&render_all(&example("nomad"))));
}

#[test]
fn snapshot_selfhosted() {
    insta::assert_snapshot!(all_files(&render_all(&example("selfhosted"))));
}

fn json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).expect("plain YAML converts to JSON")
}

/// One registry that uses every service field REGISTRY.md lists.
const KITCHEN_SINK: &str =
    include_str!("../../../tests/fixtures/valid/compose-kitchen-sink/muster.yaml");

#[test]
fn snapshot_kitchen_sink() {
    insta::assert_snapshot!(all_files(&render_all(&from_text(KITCHEN_SINK))));
}

#[test]
fn maps_every_field() {
    let files = render_all(&from_text(KITCHEN_SINK));
    let stack = json(&parsed(&files, "compose/stack.yml"));
    let services = &stack["services"];
    assert!(
        services.get("off").is_none(),
        "disabled services are left out"
    );

    let app = &services["app"];
    assert_eq!(app["image"], "registry.example.com/app:${TAG:-1}");
    // output: out/gen, so the compose folder is three levels below the registry.
    assert_eq!(
        app["build"],
        serde_json::json!({"context": "../../../app", "dockerfile": "Dockerfile.prod", "target": "prod", "args": {"V": "1"}})
    );
    assert_eq!(app["profiles"], serde_json::json!(["everything", "web"]));
    assert_eq!(app["restart"], "unless-stopped");
    assert_eq!(app["command"], "serve --port 8080");
    assert_eq!(app["entrypoint"], serde_json::json!(["/entry", "db"]));
    // Secrets never reach the file: URL holds one, so it comes from the runtime env file.
    assert!(app["environment"].get("URL").is_none());
    assert_eq!(app["environment"]["KEY_FILE"], "/run/secrets/api-key");
    assert_eq!(app["environment"]["FROM_VAR"], "${PORT}");
    assert_eq!(app["environment"]["DB_HOST"], "db");
    assert_eq!(
        app["env_file"],
        serde_json::json!([
            "../../../app.env",
            "../../../.muster/runtime/compose/app.env"
        ])
    );
    assert_eq!(app["secrets"], serde_json::json!(["tls-cert", "api-key"]));
    assert_eq!(
        stack["secrets"],
        serde_json::json!({
            "api-key": {"file": "../../../.muster/runtime/compose/secrets/api-key"},
            "tls-cert": {"file": "../../../.muster/runtime/compose/secrets/tls-cert"},
        })
    );
    assert_eq!(
        app["volumes"],
        serde_json::json!(["../../../.muster/rendered/app/app.conf:/etc/app/app.conf:ro"])
    );
    assert_eq!(app["labels"]["team"], "a: b # c");
    assert_eq!(app["labels"]["com.example.cost"], "$$5");
    assert_eq!(
        app["labels"]["extra"], "yes",
        "extra.compose merges into maps"
    );
    assert_eq!(app["stop_signal"], "SIGINT");
    assert!(
        app.get("init").is_none(),
        "null in extra.compose removes a key"
    );
    assert_eq!(app["x-note"], "kept");
    assert_eq!(app["stop_grace_period"], "1m30s");
    assert_eq!(app["read_only"], true);
    assert_eq!(app["sysctls"]["net.core.somaxconn"], "1024");
    assert_eq!(
        app["deploy"],
        serde_json::json!({
            "replicas": 2,
            "resources": {
                "limits": {"cpus": 1.5, "memory": "512m"},
                "reservations": {"cpus": 0.25, "memory": "128m",
                    "devices": [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]}
            }
        })
    );
    assert_eq!(
        app["depends_on"],
        serde_json::json!({
            "db": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }),
        "the flat file leaves the optional dependency out"
    );
    assert_eq!(
        app["networks"],
        serde_json::json!({
            "front": {"aliases": ["application"]},
            "back": {"aliases": ["application"]},
        })
    );
    let health = &app["healthcheck"];
    assert_eq!(health["test"][0], "CMD-SHELL");
    assert_eq!(health["retries"], 9);
    assert_eq!(health["interval"], "10s");
    assert_eq!(health["start_period"], "1s");

    let split = json(&parsed(&files, "compose/services.yml"));
    assert_eq!(
        split["services"]["app"]["depends_on"]["tool"],
        serde_json::json!({"condition": "service_started", "required": false}),
        "the Compose v2 files keep it, as not required"
    );

    let proxy = &services["proxy"];
    assert_eq!(
        proxy["networks"],
        serde_json::json!({
            "front": {"aliases": ["app.${DOMAIN}", "${DOMAIN}", "admin.example.org"]},
            "shared": {"aliases": ["app.${DOMAIN}", "${DOMAIN}", "admin.example.org"]},
        }),
        "route hosts are aliases of the proxy"
    );
    assert_eq!(
        proxy["ports"],
        serde_json::json!([
            "80:80",
            {"target": 443, "published": "443", "protocol": "tcp", "mode": "host"},
            "${HTTP_ALT:-8080}:8080"
        ])
    );
    assert_eq!(
        proxy["profiles"],
        serde_json::Value::Null,
        "core has no profile"
    );

    let db = &services["db"];
    assert_eq!(
        db["environment"],
        serde_json::json!({"PLAIN": "a $$literal and ${VAR:-x} and $$$$", "NUM": "5432", "BOOL": "true"})
    );
    assert_eq!(
        db["volumes"],
        serde_json::json!([
            "data:/var/lib/postgresql/data",
            "../../../init:/init:ro,z",
            "/scratch",
            {"type": "tmpfs", "target": "/run"},
            "cache:/cache",
            "old:/old"
        ])
    );
    assert_eq!(
        db["expose"],
        serde_json::json!(["5432", "5433/udp", "9187"])
    );
    assert_eq!(db["shm_size"], "1536m");
    assert_eq!(
        db["ulimits"],
        serde_json::json!({"nofile": {"soft": 1024, "hard": 2048}, "nproc": {"soft": 512, "hard": 512}})
    );
    assert_eq!(
        db["networks"],
        serde_json::json!({"back": {"aliases": ["database"], "ipv4_address": "10.6.0.5"}})
    );
    assert_eq!(
        db["healthcheck"]["test"],
        serde_json::json!(["CMD-SHELL", "pg_isready -U x"])
    );

    let tool = &services["tool"];
    assert_eq!(tool["network_mode"], "host");
    assert!(tool.get("networks").is_none());
    assert_eq!(tool["healthcheck"], serde_json::json!({"disable": true}));
    assert_eq!(
        tool["deploy"]["resources"]["reservations"]["devices"],
        serde_json::json!([{"driver": "nvidia", "count": 2, "capabilities": ["gpu", "compute"]}])
    );
    let migrate = &services["migrate"];
    assert_eq!(migrate["restart"], "no");
    assert!(
        migrate.get("healthcheck").is_none(),
        "`image` keeps the image's own check"
    );
    assert_eq!(
        migrate["command"],
        serde_json::json!(["sh", "-c", "echo $$HOME"])
    );
    assert_eq!(services["agent"]["deploy"]["mode"], "global");

    assert_eq!(
        stack["networks"],
        serde_json::json!({
            "front": {"ipam": {"config": [{"subnet": "10.5.0.0/24"}]}},
            "back": {"internal": true, "ipam": {"config": [{"subnet": "10.6.0.0/24"}]}},
            "shared": {"name": "other-net", "external": true},
        })
    );
    assert_eq!(
        stack["volumes"],
        serde_json::json!({
            "data": {"driver": "local", "driver_opts": {"type": "none", "o": "bind", "device": "../../../data"}},
            "cache": {},
            "old": {"name": "legacy_db"},
        })
    );
    assert_eq!(stack["x-top"], serde_json::json!({"kept": true}));
    assert!(stack.get("name").is_none(), "muster passes -p");

    let orchestrator = json(&parsed(&files, "compose/docker-compose.yml"));
    assert_eq!(orchestrator["name"], "kitchen");
    assert_eq!(
        orchestrator["include"],
        serde_json::json!([
            {"path": "core/networks.yml", "project_directory": "."},
            {"path": "services.yml", "project_directory": "."},
        ])
    );
}

#[test]
fn no_networks_means_no_networks_key_and_categories_follow_phase() {
    let files = render_all(&from_text(
        "version: 1
name: tiny
phases: { first: { order: 1 } }
services:
  a: { image: busybox, phase: first, category: tools/small }
  b: { image: busybox, phase: first }
",
    ));
    let paths: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
    assert_eq!(
        paths,
        [
            "compose/tools/small.yml",
            "compose/first.yml",
            "compose/docker-compose.yml",
            "compose/stack.yml"
        ]
    );
    let stack = json(&parsed(&files, "compose/stack.yml"));
    assert_eq!(
        stack,
        serde_json::json!({"services": {"a": {"image": "busybox"}, "b": {"image": "busybox"}}})
    );
}

#[test]
fn profiles_follow_groups_and_what_needs_what() {
    let reg = from_text(
        "version: 1
name: p
groups:
  a: { services: [x] }
  b: { services: [y, g1, shared] }
  outer: { groups: [a] }
  c: { services: [opt] }
services:
  core1: { image: i, depends_on: [g1] }
  g1: { image: i, depends_on: [g2] }
  g2: { image: i, groups: [c] }
  x: { image: i, depends_on: [shared] }
  y: { image: i, depends_on: [shared, { service: opt, optional: true }] }
  shared: { image: i, depends_on: [leaf] }
  leaf: { image: i, groups: [c] }
  opt: { image: i }
  lone: { image: i }
",
    )
    .0;
    let p = profiles::profiles(&reg);
    let of = |s: &str| p.get(s).cloned().unwrap_or_default();
    assert_eq!(of("core1"), Vec::<String>::new());
    assert_eq!(
        of("g1"),
        Vec::<String>::new(),
        "required by core, so always on"
    );
    assert_eq!(of("g2"), Vec::<String>::new(), "transitively too");
    assert_eq!(of("x"), ["a", "outer"]);
    assert_eq!(of("y"), ["b"]);
    assert_eq!(of("shared"), ["a", "b", "outer"]);
    assert_eq!(of("leaf"), ["a", "b", "c", "outer"]);
    assert_eq!(of("opt"), ["c"], "optional dependencies pull nothing in");
    assert_eq!(of("lone"), Vec::<String>::new());
}

#[test]
fn output_is_deterministic() {
    let reg = example("selfhosted");
    assert_eq!(render_all(&reg), render_all(&reg));
}

#[test]
fn no_secret_reference_reaches_a_file() {
    for name in ["homelab", "microservices", "nomad", "selfhosted"] {
        for f in render_all(&example(name)) {
            assert!(!f.body.contains("${secret:"), "{name} {}", f.path.display());
            assert!(!f.body.contains("${host:"), "{name} {}", f.path.display());
        }
    }
}

// --- Compose v2's view of the split files, modelled on compose-go's loader ----------------

/// The project `docker compose -f docker-compose.yml [-f environments/ENV.yml]` loads: the
/// included files' resources imported, then the override applied the way compose-go does it
/// (`!reset` and `!override` paths dropped from what is loaded so far, then a merge where
/// mappings merge by key, `command`, `entrypoint` and `healthcheck.test` are replaced, and
/// other sequences are appended).
fn compose_v2_project(files: &[GeneratedFile], env: Option<&str>) -> serde_json::Value {
    let orchestrator = json(&parsed(files, "compose/docker-compose.yml"));
    let mut project = serde_json::Map::new();
    for include in orchestrator["include"].as_array().unwrap() {
        assert_eq!(include["project_directory"], ".");
        let path = format!("compose/{}", include["path"].as_str().unwrap());
        let doc = json(&parsed(files, &path));
        for (kind, entries) in doc.as_object().unwrap() {
            let target = project
                .entry(kind.clone())
                .or_insert_with(|| serde_json::json!({}));
            for (name, value) in entries.as_object().unwrap() {
                let previous = target
                    .as_object_mut()
                    .unwrap()
                    .insert(name.clone(), value.clone());
                assert!(previous.is_none(), "{kind}.{name} is defined twice");
            }
        }
    }
    for (key, value) in orchestrator.as_object().unwrap() {
        if key.starts_with("x-") {
            project.insert(key.clone(), value.clone());
        }
    }
    let mut project = serde_json::Value::Object(project);
    if let Some(env) = env {
        let mut overlay = parsed(files, &format!("compose/environments/{env}.yml"));
        let mut tagged_paths = Vec::new();
        untag(&mut overlay, &mut Vec::new(), &mut tagged_paths);
        for path in &tagged_paths {
            remove_path(&mut project, path);
        }
        merge(&mut project, json(&overlay), &mut Vec::new());
    }
    project
}

/// Strips `!reset` (the key goes) and `!override` (the value stays) and records their paths.
fn untag(value: &mut Value, path: &mut Vec<String>, found: &mut Vec<Vec<String>>) {
    if let Value::Mapping(m) = value {
        let keys: Vec<Value> = m.keys().cloned().collect();
        for key in keys {
            path.push(key.as_str().unwrap().to_string());
            let entry = m.get_mut(&key).unwrap();
            if let Value::Tagged(t) = entry {
                found.push(path.clone());
                if t.tag == "reset" {
                    m.shift_remove(&key);
                } else {
                    assert!(t.tag == "override", "unknown tag {}", t.tag);
                    *entry = t.value.clone();
                }
            } else {
                untag(entry, path, found);
            }
            path.pop();
        }
    }
}

fn remove_path(value: &mut serde_json::Value, path: &[String]) {
    let (last, parents) = path.split_last().unwrap();
    let mut at = value;
    for p in parents {
        match at.get_mut(p) {
            Some(next) => at = next,
            None => return,
        }
    }
    if let Some(m) = at.as_object_mut() {
        m.remove(last);
    }
}

fn merge(base: &mut serde_json::Value, over: serde_json::Value, path: &mut Vec<String>) {
    let replaced = matches!(
        path.iter().map(String::as_str).collect::<Vec<_>>()[..],
        ["services", _, "command" | "entrypoint"] | ["services", _, "healthcheck", "test"]
    );
    match (base, over) {
        (b, o) if replaced => *b = o,
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => {
                        path.push(k);
                        merge(existing, v, path);
                        path.pop();
                    }
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (serde_json::Value::Array(b), serde_json::Value::Array(o)) => {
            for item in o {
                if !b.contains(&item) {
                    b.push(item);
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// The project as the flat files give it: without what Compose v1 refuses.
fn without_optional(mut project: serde_json::Value) -> serde_json::Value {
    for service in project["services"].as_object_mut().unwrap().values_mut() {
        let service = service.as_object_mut().unwrap();
        for port in service
            .get_mut("ports")
            .and_then(|p| p.as_array_mut())
            .into_iter()
            .flatten()
        {
            if let Some(long) = port.as_object_mut() {
                long.remove("name");
                long.remove("app_protocol");
            }
        }
        if let Some(deps) = service
            .get_mut("depends_on")
            .and_then(|d| d.as_object_mut())
        {
            deps.retain(|_, d| d.get("required") != Some(&serde_json::Value::Bool(false)));
            if deps.is_empty() {
                service.remove("depends_on");
            }
        }
    }
    project
}

#[test]
fn split_files_and_overrides_give_the_flat_files() {
    let projects = ["homelab", "microservices", "nomad", "selfhosted"]
        .map(|name| (name, example(name)))
        .into_iter()
        .chain([("kitchen sink", from_text(KITCHEN_SINK))]);
    for (name, reg) in projects {
        let files = render_all(&reg);
        assert_eq!(
            without_optional(compose_v2_project(&files, None)),
            json(&parsed(&files, "compose/stack.yml")),
            "{name}"
        );
        for (env, _) in &reg.1 {
            assert_eq!(
                without_optional(compose_v2_project(&files, Some(env))),
                json(&parsed(&files, &format!("compose/stack.{env}.yml"))),
                "{name} {env}"
            );
        }
    }
}

#[test]
fn overrides_replace_what_compose_would_append_and_reset_what_is_gone() {
    let reg = from_text(
        r#"version: 1
name: env
networks: { a: {}, b: {} }
services:
  api:
    image: api:1
    ports: ["8080:80"]
    networks: [a, b]
    env: { KEEP: "1", DROP: "2" }
    command: [serve]
    dns: [1.1.1.1]
    labels: { x: "1" }
    logging: { driver: json-file, options: { max-size: 10m } }
  gone: { image: busybox }
environments:
  prod:
    services:
      api:
        ports: ["9090:80"]
        networks: [a]
        env: { DROP: null, ADD: "3" }
        command: [serve, --prod]
        dns: [8.8.8.8]
        labels: null
        logging: { driver: local }
      gone: null
      extra: { image: busybox, ports: ["1:1"] }
"#,
    );
    let files = render_all(&reg);
    assert_eq!(
        without_optional(compose_v2_project(&files, Some("prod"))),
        json(&parsed(&files, "compose/stack.prod.yml"))
    );
    let text = body(&files, "compose/environments/prod.yml");
    for expected in [
        "ports: !override",
        "networks: !override",
        "dns: !override",
        "DROP: !reset null",
        "labels: !reset null",
        "logging: !override",
        "gone: !reset null",
    ] {
        assert!(text.contains(expected), "{expected} missing in\n{text}");
    }
    assert!(
        !text.contains("command: !override"),
        "Compose replaces commands itself"
    );
}
