//! One meaning across engines: for every shipped example, the Compose, Swarm, Kubernetes and
//! Nomad files are generated, parsed back (YAML with serde_norway, HCL with the `hcl` crate)
//! and reduced to what REGISTRY.md says every engine must honour: the same services, and for
//! each its image, the ports it listens on, the names of its environment variables, its health
//! check and its dependencies.
//!
//! Where each engine keeps them:
//! - services: Compose and Swarm service keys; the Kubernetes workload labelled
//!   `muster.dev/service`; the Nomad job's `meta.muster_service`.
//! - ports: `expose` plus published targets (Compose, Swarm); `containerPort`s; the `to` of
//!   each Nomad group port.
//! - env names: the variables written in the files plus the ones `muster secrets export`
//!   writes to the engine's runtime env file (Compose, Swarm, Kubernetes: a secret's value
//!   never reaches a generated file, so its name lives there); Nomad's `env` block plus the
//!   keys its `env = true` template reads from Nomad Variables.
//! - health: the probe the `x-muster` note explains (Compose, Swarm `http`/`tcp` probes are
//!   shell commands), else the `healthcheck` command; the readiness probe; the Consul check.
//!   `health: image` is Docker's own HEALTHCHECK, which no file carries: it reads as none.
//! - dependencies: Compose `depends_on` (the Compose v2 files, which keep optional ones);
//!   Swarm's `muster.depends_on` deploy label; Kubernetes' `muster.dev/depends-on`
//!   annotation; Nomad's `muster_depends_on` and `muster_optional_depends_on` meta.
//!
//! Names are compared as Kubernetes writes them (`_` as `-`).

mod secrets_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value as Json;
use serde_norway::Value;

const EXAMPLES: [&str; 4] = ["homelab", "selfhosted", "microservices", "nomad"];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Health {
    None,
    Http { port: u16, path: String },
    Tcp { port: u16 },
    Exec,
}

/// A dependency: the service, the condition it waits for, whether it is optional.
type Dependency = (String, String, bool);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Facts {
    image: String,
    ports: BTreeSet<u16>,
    env: BTreeSet<String>,
    health: Health,
    depends_on: BTreeSet<Dependency>,
}

type Engine = BTreeMap<String, Facts>;

fn dns(name: &str) -> String {
    name.replace('_', "-")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn muster(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_muster"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("MUSTER_IDENTITY", dir.join("identity"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "muster {args:?}: {}", text(&out));
    out
}

/// The example in a folder of its own with every engine's files generated and every
/// engine's runtime env files exported (external secrets get a test value).
fn prepared(example: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(example)
        .join("muster.yaml");
    std::fs::copy(&source, dir.path().join("muster.yaml")).unwrap();
    let d = dir.path();
    // Kubernetes resolves variables at generation time: the required ones need a value.
    let env = secrets_support::required_variables_env(&source);
    std::fs::write(d.join(".env"), env).unwrap();
    muster(d, &["gen", "compose", "swarm", "kubernetes", "nomad"], None);
    muster(d, &["secrets", "generate"], None);
    let list = muster(d, &["secrets", "list", "--json"], None);
    let statuses: Json = serde_json::from_slice(&list.stdout).unwrap();
    for s in statuses.as_array().unwrap() {
        if s["state"] == "external-unset" {
            let name = s["name"].as_str().unwrap();
            muster(
                d,
                &["secrets", "set", name],
                Some("TestValue0123456789abcdef"),
            );
        }
    }
    for engine in ["compose", "swarm", "kubernetes"] {
        muster(d, &["secrets", "export", engine], None);
    }
    dir
}

fn yaml(path: &Path) -> Value {
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn yaml_documents(path: &Path) -> Vec<Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// Variable names of a runtime env file (`KEY=value` lines), empty when there is none.
fn env_file_names(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k.to_string())
        .collect()
}

fn str_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

fn parse_port(s: &str) -> Vec<u16> {
    let s = s.split('/').next().unwrap();
    match s.split_once('-') {
        Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).collect(),
        None => vec![s.parse().unwrap()],
    }
}

/// Container ports of a Compose or Swarm service: `expose` and published targets.
fn docker_ports(service: &Value) -> BTreeSet<u16> {
    let mut out = BTreeSet::new();
    for e in service["expose"].as_sequence().into_iter().flatten() {
        out.extend(parse_port(&str_of(e)));
    }
    for p in service["ports"].as_sequence().into_iter().flatten() {
        match p {
            Value::Mapping(_) => {
                out.insert(p["target"].as_u64().unwrap() as u16);
            }
            other => {
                let short = str_of(other);
                out.extend(parse_port(short.rsplit(':').next().unwrap()));
            }
        }
    }
    out
}

/// The health check of a Compose or Swarm service: `http` and `tcp` probes are read from the
/// note explaining them, since their command is a shell chain.
fn docker_health(service: &Value) -> Health {
    let check = &service["healthcheck"];
    if check.is_null() || check["disable"] == Value::Bool(true) {
        return Health::None;
    }
    if let Some(note) = service["x-muster"]["healthcheck"].as_str() {
        if let Some(rest) = note.strip_prefix("GET ") {
            let after = rest.split_once("://127.0.0.1:").unwrap().1;
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            let path = after[digits.len()..].split(" expecting").next().unwrap();
            return Health::Http {
                port: digits.parse().unwrap(),
                path: path.to_string(),
            };
        }
        if let Some(rest) = note.strip_prefix("connects to 127.0.0.1:") {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            return Health::Tcp {
                port: digits.parse().unwrap(),
            };
        }
    }
    Health::Exec
}

fn compose(dir: &Path) -> Engine {
    let compose = dir.join("deploy/compose");
    let flat = yaml(&compose.join("stack.yml"));
    // Dependencies from the Compose v2 files, which keep optional ones.
    let mut depends: BTreeMap<String, BTreeSet<Dependency>> = BTreeMap::new();
    let orchestrator = yaml(&compose.join("docker-compose.yml"));
    for include in orchestrator["include"].as_sequence().unwrap() {
        let part = yaml(&compose.join(include["path"].as_str().unwrap()));
        for (name, s) in part["services"].as_mapping().into_iter().flatten() {
            let deps = s["depends_on"]
                .as_mapping()
                .into_iter()
                .flatten()
                .map(|(dep, how)| {
                    let condition = how["condition"].as_str().unwrap();
                    let condition = match condition {
                        "service_healthy" => "healthy",
                        "service_started" => "started",
                        "service_completed_successfully" => "completed",
                        other => panic!("{other}"),
                    };
                    (
                        dns(dep.as_str().unwrap()),
                        condition.to_string(),
                        how["required"] == Value::Bool(false),
                    )
                })
                .collect();
            depends.insert(dns(name.as_str().unwrap()), deps);
        }
    }
    flat["services"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(name, s)| {
            let name = name.as_str().unwrap();
            let mut env: BTreeSet<String> = s["environment"]
                .as_mapping()
                .into_iter()
                .flatten()
                .map(|(k, _)| str_of(k))
                .collect();
            env.extend(env_file_names(
                &dir.join(format!(".muster/runtime/compose/{name}.env")),
            ));
            let facts = Facts {
                image: str_of(&s["image"]),
                ports: docker_ports(s),
                env,
                health: docker_health(s),
                depends_on: depends.remove(&dns(name)).unwrap_or_default(),
            };
            (dns(name), facts)
        })
        .collect()
}

/// `a:healthy,b:started:optional` (Swarm) or `a:healthy` (Nomad meta).
fn colon_dependencies(list: &str, optional: bool) -> BTreeSet<Dependency> {
    list.split(',')
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut parts = d.split(':');
            let name = dns(parts.next().unwrap());
            let condition = parts.next().unwrap().to_string();
            let optional = optional || parts.next() == Some("optional");
            (name, condition, optional)
        })
        .collect()
}

fn swarm(dir: &Path) -> Engine {
    let stack = yaml(&dir.join("deploy/swarm/stack.yml"));
    stack["services"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(name, s)| {
            let name = name.as_str().unwrap();
            let mut env: BTreeSet<String> = s["environment"]
                .as_mapping()
                .into_iter()
                .flatten()
                .map(|(k, _)| str_of(k))
                .collect();
            env.extend(env_file_names(
                &dir.join(format!(".muster/runtime/swarm/{name}.env")),
            ));
            let deps = s["deploy"]["labels"]["muster.depends_on"]
                .as_str()
                .unwrap_or_default();
            let facts = Facts {
                image: str_of(&s["image"]),
                ports: docker_ports(s),
                env,
                health: docker_health(s),
                depends_on: colon_dependencies(deps, false),
            };
            (dns(name), facts)
        })
        .collect()
}

fn kubernetes(dir: &Path) -> Engine {
    let services = dir.join("deploy/kubernetes/base/services");
    let mut out = Engine::new();
    let mut files: Vec<_> = std::fs::read_dir(&services)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let docs = yaml_documents(&file);
        let config_maps: BTreeMap<String, &Value> = docs
            .iter()
            .filter(|d| d["kind"] == "ConfigMap")
            .map(|d| (str_of(&d["metadata"]["name"]), d))
            .collect();
        for doc in &docs {
            let kind = doc["kind"].as_str().unwrap();
            if !matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "Job") {
                continue;
            }
            let name = str_of(&doc["metadata"]["labels"]["muster.dev/service"]);
            let container = &doc["spec"]["template"]["spec"]["containers"][0];
            let ports = container["ports"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|p| p["containerPort"].as_u64().unwrap() as u16)
                .collect();
            let mut env: BTreeSet<String> = container["env"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|e| str_of(&e["name"]))
                .collect();
            for from in container["envFrom"].as_sequence().into_iter().flatten() {
                if let Some(map) = from["configMapRef"]["name"].as_str() {
                    let data = &config_maps[map]["data"];
                    env.extend(
                        data.as_mapping()
                            .into_iter()
                            .flatten()
                            .map(|(k, _)| str_of(k)),
                    );
                }
                if from["secretRef"]["name"].as_str().is_some() {
                    env.extend(env_file_names(&dir.join(format!(
                        ".muster/runtime/kubernetes/{}.env",
                        registry_name(dir, &name)
                    ))));
                }
            }
            let probe = &container["readinessProbe"];
            let health = if !probe["httpGet"].is_null() {
                Health::Http {
                    port: probe["httpGet"]["port"].as_u64().unwrap() as u16,
                    path: str_of(&probe["httpGet"]["path"]),
                }
            } else if !probe["tcpSocket"].is_null() {
                Health::Tcp {
                    port: probe["tcpSocket"]["port"].as_u64().unwrap() as u16,
                }
            } else if !probe["exec"].is_null() {
                Health::Exec
            } else {
                Health::None
            };
            let depends_on = doc["metadata"]["annotations"]["muster.dev/depends-on"]
                .as_str()
                .unwrap_or_default()
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| {
                    let (dep, condition) = d.split_once('=').unwrap();
                    let optional = condition.ends_with('?');
                    (
                        dep.to_string(),
                        condition.trim_end_matches('?').to_string(),
                        optional,
                    )
                })
                .collect();
            let facts = Facts {
                image: str_of(&container["image"]),
                ports,
                env,
                health,
                depends_on,
            };
            out.insert(name, facts);
        }
    }
    out
}

/// The registry name of a service Kubernetes names `dns_name` (its runtime files keep it).
fn registry_name(dir: &Path, dns_name: &str) -> String {
    let reg = yaml(&dir.join("muster.yaml"));
    reg["services"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(Value::as_str)
        .find(|n| dns(n) == dns_name)
        .unwrap_or(dns_name)
        .to_string()
}

/// Repeated HCL blocks read back as an array, a single one as an object.
fn each(v: &Json) -> Vec<&Json> {
    match v {
        Json::Array(items) => items.iter().collect(),
        Json::Null => Vec::new(),
        other => vec![other],
    }
}

/// The bodies of labelled blocks `{ "label": {...} }`, however many.
fn labelled(v: &Json) -> Vec<(&String, &Json)> {
    each(v)
        .into_iter()
        .flat_map(|m| m.as_object().into_iter().flatten())
        .flat_map(|(label, body)| each(body).into_iter().map(move |b| (label, b)))
        .collect()
}

fn nomad(dir: &Path) -> Engine {
    let jobs = dir.join("deploy/nomad/jobs");
    let mut out = Engine::new();
    for entry in std::fs::read_dir(&jobs).unwrap() {
        let path = entry.unwrap().path();
        let doc: Json = hcl::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (_, job) in labelled(&doc["job"]) {
            let meta = &job["meta"];
            let name = dns(meta["muster_service"].as_str().unwrap());
            let mut depends_on = colon_dependencies(
                meta["muster_depends_on"].as_str().unwrap_or_default(),
                false,
            );
            depends_on.extend(colon_dependencies(
                meta["muster_optional_depends_on"]
                    .as_str()
                    .unwrap_or_default(),
                true,
            ));
            let mut ports = BTreeSet::new();
            let mut labels: BTreeMap<String, u16> = BTreeMap::new();
            let mut health = Health::None;
            let mut image = String::new();
            let mut env = BTreeSet::new();
            for (_, group) in labelled(&job["group"]) {
                for network in each(&group["network"]) {
                    for (label, port) in labelled(&network["port"]) {
                        let to = port["to"].as_u64().or(port["static"].as_u64()).unwrap();
                        ports.insert(to as u16);
                        labels.insert(label.clone(), to as u16);
                    }
                }
                for service in each(&group["service"]) {
                    for check in each(&service["check"]) {
                        let port = check["port"].as_str().map(|l| labels[l]);
                        health = match check["type"].as_str().unwrap() {
                            "http" => Health::Http {
                                port: port.unwrap(),
                                path: check["path"].as_str().unwrap().to_string(),
                            },
                            "tcp" => Health::Tcp {
                                port: port.unwrap(),
                            },
                            _ => Health::Exec,
                        };
                    }
                }
                for (_, task) in labelled(&group["task"]) {
                    for service in each(&task["service"]) {
                        for check in each(&service["check"]) {
                            if check["type"] == "script" {
                                health = Health::Exec;
                            }
                        }
                    }
                    image = task["config"]["image"].as_str().unwrap_or_default().into();
                    for block in each(&task["env"]) {
                        env.extend(block.as_object().unwrap().keys().cloned());
                    }
                    for template in each(&task["template"]) {
                        if template["env"] != Json::Bool(true) {
                            continue;
                        }
                        for line in template["data"].as_str().unwrap().lines() {
                            if let Some((key, _)) = line.split_once('=')
                                && !key.is_empty()
                                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                            {
                                env.insert(key.to_string());
                            }
                        }
                    }
                }
            }
            let facts = Facts {
                image,
                ports,
                env,
                health,
                depends_on,
            };
            out.insert(name, facts);
        }
    }
    out
}

#[test]
fn every_engine_means_the_same_stack() {
    for example in EXAMPLES {
        let dir = prepared(example);
        let engines: Vec<(&str, Engine)> = vec![
            ("compose", compose(dir.path())),
            ("swarm", swarm(dir.path())),
            ("kubernetes", kubernetes(dir.path())),
            ("nomad", nomad(dir.path())),
        ];
        let (_, reference) = &engines[0];
        assert!(!reference.is_empty(), "{example}: no services");
        // What was compared, so an empty reading cannot pass unnoticed.
        let count = |f: &dyn Fn(&Facts) -> usize| reference.values().map(f).sum::<usize>();
        let (ports, env, deps) = (
            count(&|f| f.ports.len()),
            count(&|f| f.env.len()),
            count(&|f| f.depends_on.len()),
        );
        let checks = count(&|f| usize::from(f.health != Health::None));
        eprintln!(
            "{example}: {} services, {ports} ports, {env} env names, {checks} health checks, {deps} dependencies agree on 4 engines",
            reference.len()
        );
        assert!(ports > 0 && env > 0 && checks > 0 && deps > 0, "{example}");
        for (engine, services) in &engines[1..] {
            let names = |e: &Engine| e.keys().cloned().collect::<Vec<_>>();
            assert_eq!(
                names(services),
                names(reference),
                "{example}: services of {engine} and compose"
            );
            for (name, facts) in services {
                let expected = &reference[name];
                assert_eq!(
                    facts, expected,
                    "{example}: `{name}` on {engine} (left) and compose (right)"
                );
            }
        }
    }
}
