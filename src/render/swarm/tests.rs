use std::path::Path;
use std::sync::Arc;

use serde_norway::Value;

use super::*;
use crate::check::check_one;
use crate::source::SourceFile;

fn checked(text: &str, env: Option<&str>) -> Registry {
    let report = check_one(Arc::new(SourceFile::new("muster.yaml", text)), env);
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    assert!(errors.is_empty(), "{env:?}: {errors:#?}");
    report.loaded.registry.expect("a registry")
}

fn render_text(text: &str) -> Vec<GeneratedFile> {
    let base = checked(text, None);
    let envs: Vec<(String, Registry)> = base
        .environments
        .keys()
        .map(|n| (n.clone(), checked(text, Some(n))))
        .collect();
    render(&base, &envs)
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

const STACK: &str = r#"
version: 1
name: shop
targets: [swarm]
phases:
  core: { order: 1, timeout: 90s }
  apps: { order: 2, timeout: 3m }
networks:
  edge: {}
  backend: { internal: true, subnet: 10.9.0.0/24 }
volumes:
  data: {}
secrets:
  db-password: { kind: password, length: 16 }
  tls: { kind: external }
services:
  db:
    image: postgres:16
    phase: core
    networks: [backend]
    ports: ["127.0.0.1:5432:5432"]
    volumes: ["data:/var/lib/postgresql/data"]
    env:
      POSTGRES_PASSWORD: { secret: db-password }
    health: { exec: ["pg_isready"], interval: 5s }
    resources: { cpus: 2, memory: 1G, reservations: { cpus: 0.5, memory: 512M }, gpus: 1 }
    placement: { host: node-a, labels: { disk: ssd } }
    restart: always
  migrate:
    image: shop/api:1
    phase: core
    job: true
    networks: [backend]
    depends_on: [db]
  api:
    image: shop/api:1
    phase: apps
    replicas: 3
    networks: [edge, backend]
    ports: ["8000-8001:80-81/udp", "9000:9000"]
    secrets: [tls]
    env:
      KEY_FILE: { secret: db-password, as: file }
      MODE: fast
    health: { http: { port: 80, path: /health } }
    depends_on: [db, migrate]
  agent:
    image: agent:1
    mode: global
    phase: apps
    network_mode: host
    restart: on-failure
"#;

#[test]
fn deploy_carries_mode_resources_placement_restart_and_update() {
    let files = render_text(STACK);
    let doc = parsed(&files, "swarm/stack.yml");
    assert_eq!(doc["version"], Value::from("3.8"));
    let db = &doc["services"]["db"]["deploy"];
    assert_eq!(db["mode"], Value::from("replicated"));
    assert_eq!(db["replicas"], Value::from(1));
    assert_eq!(db["resources"]["limits"]["cpus"], Value::from("2"));
    assert_eq!(db["resources"]["limits"]["memory"], Value::from("1g"));
    assert_eq!(db["resources"]["reservations"]["cpus"], Value::from("0.5"));
    let gpu = &db["resources"]["reservations"]["generic_resources"][0]["discrete_resource_spec"];
    assert_eq!(gpu["kind"], Value::from("NVIDIA-GPU"));
    assert_eq!(gpu["value"], Value::from(1));
    assert_eq!(
        db["placement"]["constraints"],
        serde_norway::from_str::<Value>("[node.hostname == node-a, node.labels.disk == ssd]")
            .unwrap()
    );
    assert_eq!(db["restart_policy"]["condition"], Value::from("any"));
    // A database on a volume never runs twice during an update.
    assert_eq!(db["update_config"]["order"], Value::from("stop-first"));
    assert_eq!(db["labels"][PHASE_LABEL], Value::from("core"));

    let migrate = &doc["services"]["migrate"]["deploy"];
    assert_eq!(migrate["restart_policy"]["condition"], Value::from("none"));
    assert_eq!(migrate["labels"][JOB_LABEL], Value::from("true"));
    assert_eq!(migrate["labels"][DEPENDS_LABEL], Value::from("db:healthy"));
    assert!(migrate.get("update_config").is_none());

    let api = &doc["services"]["api"]["deploy"];
    assert_eq!(api["replicas"], Value::from(3));
    assert_eq!(api["update_config"]["order"], Value::from("start-first"));
    assert_eq!(
        api["labels"][DEPENDS_LABEL],
        Value::from("db:healthy,migrate:completed")
    );

    let agent = &doc["services"]["agent"];
    assert_eq!(agent["deploy"]["mode"], Value::from("global"));
    assert!(agent["deploy"].get("replicas").is_none());
    assert_eq!(
        agent["deploy"]["restart_policy"]["condition"],
        Value::from("on-failure")
    );
    assert_eq!(agent["networks"][0], Value::from("host"));
    assert!(agent.get("network_mode").is_none());
}

#[test]
fn compose_only_keys_are_left_out() {
    let files = render_text(STACK);
    let doc = parsed(&files, "swarm/stack.yml");
    for (name, service) in doc["services"].as_mapping().unwrap() {
        for key in [
            "depends_on",
            "profiles",
            "restart",
            "build",
            "container_name",
        ] {
            assert!(service.get(key).is_none(), "{name:?} has {key}");
        }
    }
}

#[test]
fn ports_are_long_and_loopback_ones_stay_unpublished() {
    let files = render_text(STACK);
    let doc = parsed(&files, "swarm/stack.yml");
    let db = &doc["services"]["db"];
    assert!(db.get("ports").is_none());
    assert_eq!(db["expose"][0], Value::from("5432"));
    assert!(
        db["x-muster"]["ports"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:5432:5432")
    );
    let ports: Vec<(u64, u64, String)> = doc["services"]["api"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["target"].as_u64().unwrap(),
                p["published"].as_u64().unwrap(),
                p["protocol"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        vec![
            (80, 8000, "udp".into()),
            (81, 8001, "udp".into()),
            (9000, 9000, "tcp".into())
        ]
    );
}

#[test]
fn secrets_and_env_files_come_from_the_swarm_runtime_folder() {
    let files = render_text(STACK);
    let doc = parsed(&files, "swarm/stack.yml");
    assert_eq!(
        doc["services"]["db"]["env_file"][0],
        Value::from("../../.muster/runtime/swarm/db.env")
    );
    assert!(
        doc["services"]["db"]["environment"]
            .get("POSTGRES_PASSWORD")
            .is_none()
    );
    assert_eq!(
        doc["services"]["api"]["environment"]["KEY_FILE"],
        Value::from("/run/secrets/db-password")
    );
    let secrets = doc["secrets"].as_mapping().unwrap();
    let names: Vec<&str> = secrets.keys().filter_map(Value::as_str).collect();
    assert_eq!(names, ["db-password", "tls"]);
    assert_eq!(
        doc["secrets"]["tls"]["file"],
        Value::from("../../.muster/runtime/swarm/secrets/tls")
    );
    let script = body(&files, "swarm/deploy.sh");
    assert!(script.contains("needs_runtime=yes"));
    for file in &files {
        assert!(!file.body.contains("runtime/compose"), "{:?}", file.path);
    }
}

#[test]
fn networks_are_attachable_overlays() {
    let files = render_text(STACK);
    let doc = parsed(&files, "swarm/stack.yml");
    let edge = &doc["networks"]["edge"];
    assert_eq!(edge["driver"], Value::from("overlay"));
    assert_eq!(edge["attachable"], Value::from(true));
    let backend = &doc["networks"]["backend"];
    assert_eq!(backend["internal"], Value::from(true));
    assert_eq!(
        backend["ipam"]["config"][0]["subnet"],
        Value::from("10.9.0.0/24")
    );
    assert_eq!(doc["networks"]["host"]["external"], Value::from(true));
    assert!(doc["networks"].get("default").is_none());

    let plain = render_text("version: 1\nname: x\nservices:\n  a: { image: a:1 }\n");
    let doc = parsed(&plain, "swarm/stack.yml");
    assert_eq!(doc["networks"]["default"]["driver"], Value::from("overlay"));
}

#[test]
fn phase_files_split_the_stack_and_the_script_walks_them_in_order() {
    let files = render_text(STACK);
    let core = parsed(&files, "swarm/phase-01-core.yml");
    let apps = parsed(&files, "swarm/phase-02-apps.yml");
    let whole = parsed(&files, "swarm/stack.yml");
    let names = |v: &Value| -> Vec<String> {
        v["services"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&core), ["db", "migrate"]);
    assert_eq!(names(&apps), ["api", "agent"]);
    for phase in [&core, &apps] {
        for key in ["networks", "volumes", "secrets"] {
            assert_eq!(phase[key], whole[key], "{key}");
        }
        for (name, service) in phase["services"].as_mapping().unwrap() {
            assert_eq!(service, &whole["services"][name]);
        }
    }
    let script = body(&files, "swarm/deploy.sh");
    let core_line = "core 90 phase-01-core.yml db migrate:job\n";
    let apps_line = "apps 180 phase-02-apps.yml api agent\n";
    assert!(script.contains(core_line), "{script}");
    assert!(script.find(core_line) < script.find(apps_line));
    let deploy = files
        .iter()
        .find(|f| f.path == Path::new("swarm/deploy.sh"));
    assert!(deploy.unwrap().executable);
}

#[test]
fn every_environment_gets_its_stack_and_phases() {
    let text = format!(
        "{STACK}environments:\n  production:\n    services:\n      api: {{ replicas: 5 }}\n      extra: {{ image: x:1, phase: apps }}\n"
    );
    let files = render_text(&text);
    let prod = parsed(&files, "swarm/stack.production.yml");
    assert_eq!(
        prod["services"]["api"]["deploy"]["replicas"],
        Value::from(5)
    );
    let apps = parsed(&files, "swarm/phase-02-apps.production.yml");
    assert!(apps["services"].get("extra").is_some());
    let script = body(&files, "swarm/deploy.sh");
    assert!(script.contains("    'production')\n"));
    assert!(script.contains("apps 180 phase-02-apps.production.yml api agent extra\n"));
}

#[test]
fn gpus_all_is_noted_not_reserved() {
    let files = render_text(
        "version: 1\nname: x\nservices:\n  a: { image: a:1, resources: { gpus: all } }\n",
    );
    let doc = parsed(&files, "swarm/stack.yml");
    let a = &doc["services"]["a"];
    assert!(a["deploy"].get("resources").is_none());
    assert!(
        a["x-muster"]["gpus"]
            .as_str()
            .unwrap()
            .contains("gpus: all")
    );
}

#[test]
fn output_is_deterministic() {
    assert_eq!(render_text(STACK), render_text(STACK));
}
