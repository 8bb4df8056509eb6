//! `schema/muster.schema.json`, the JSON Schema that `muster schema` prints, checked against
//! the loader: the same keys for every object, every example accepted, common mistakes refused,
//! and agreement with the hand-written fixtures under `tests/fixtures/invalid/`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use muster::registry::decode::known_keys;
use muster::source::SourceFile;
use serde_json::Value;

const SCHEMA: &str = include_str!("../schema/muster.schema.json");

/// Definitions of the schema that are not objects of the loader (`known_keys()`), and why.
const EXTRA_DEFS: &[(&str, &str)] = &[
    (
        "serviceOverlay",
        "a service inside an environment overlay: the fields of `service`, none required, `null` allowed",
    ),
    (
        "name",
        "names of services, networks, volumes, secrets, groups and phases",
    ),
    ("nameList", "a list of names"),
    ("text", "a scalar read as text (string, number or boolean)"),
    ("textList", "a list of scalars read as text"),
    (
        "stringMap",
        "labels, sysctls, build args: a mapping or a list of KEY=value",
    ),
    ("duration", "500ms, 90s, 2m, 1h30m"),
    ("size", "512M, 1.5G, 512Mi, or bytes"),
    ("portNumber", "1-65535, as a number or a string of digits"),
    ("command", "a string (shell form) or a list (exec form)"),
    ("restart", "the restart policies"),
];

fn schema() -> Value {
    serde_json::from_str(SCHEMA).expect("schema/muster.schema.json is not valid JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema()).expect("the schema does not compile")
}

/// YAML as the loader reads it (merge keys applied), as JSON.
fn yaml_to_json(text: &str) -> Result<Value, String> {
    let mut yaml: serde_norway::Value = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    yaml.apply_merge().map_err(|e| e.to_string())?;
    serde_json::to_value(yaml).map_err(|e| e.to_string())
}

/// What the schema finds wrong with `doc`, one line per problem.
fn schema_errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("at `{}`: {e}", e.instance_path()))
        .collect()
}

/// The errors the loader reports for `text`, with each environment merged in as well.
fn loader_errors(text: &str) -> Vec<String> {
    let source = Arc::new(SourceFile::new("muster.yaml", text));
    let mut environments = vec![None];
    if let Ok(Value::Object(doc)) = yaml_to_json(text)
        && let Some(Value::Object(envs)) = doc.get("environments")
    {
        environments.extend(
            envs.keys()
                .filter(|k| !k.starts_with("x-"))
                .cloned()
                .map(Some),
        );
    }
    let mut out = Vec::new();
    for env in environments {
        let loaded = muster::registry::load(source.clone(), env.as_deref());
        for d in loaded.diagnostics.iter().filter(|d| d.is_error()) {
            out.push(format!("{} {} (env {env:?})", d.code.as_str(), d.message));
        }
    }
    out
}

fn keys_of(def: &Value) -> BTreeSet<String> {
    def.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn schema_is_json_and_compiles() {
    let schema = schema();
    jsonschema::meta::validate(&schema).expect("the schema does not follow its meta-schema");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(schema.get("$id").is_none(), "the schema carries no `$id`");
    assert_eq!(schema["$ref"], "#/$defs/registry");
    validator();
}

#[test]
fn every_object_of_the_loader_has_a_definition_with_the_same_keys() {
    let schema = schema();
    let defs = schema["$defs"].as_object().expect("`$defs` is an object");
    let mut problems = String::new();
    let mut expected: BTreeSet<&str> = EXTRA_DEFS.iter().map(|(name, _)| *name).collect();
    for (name, keys) in known_keys() {
        expected.insert(name);
        let Some(def) = defs.get(name) else {
            writeln!(
                problems,
                "- `$defs.{name}` is missing (the loader knows keys {keys:?})"
            )
            .unwrap();
            continue;
        };
        let loader: BTreeSet<String> = keys.iter().map(|k| k.to_string()).collect();
        let schema_keys = keys_of(def);
        let only_loader: Vec<_> = loader.difference(&schema_keys).collect();
        let only_schema: Vec<_> = schema_keys.difference(&loader).collect();
        if !only_loader.is_empty() || !only_schema.is_empty() {
            writeln!(
                problems,
                "- `$defs.{name}`: accepted by the loader but missing in the schema: {only_loader:?}; \
                 in the schema but unknown to the loader: {only_schema:?}"
            )
            .unwrap();
        }
    }
    let service = keys_of(&defs["service"]);
    let overlay = keys_of(&defs["serviceOverlay"]);
    if service != overlay {
        writeln!(
            problems,
            "- `$defs.serviceOverlay` differs from `$defs.service`: only in service {:?}; only in the overlay {:?}",
            service.difference(&overlay).collect::<Vec<_>>(),
            overlay.difference(&service).collect::<Vec<_>>()
        )
        .unwrap();
    }
    for name in defs.keys() {
        if !expected.contains(name.as_str()) {
            writeln!(
                problems,
                "- `$defs.{name}` is neither an object of the loader nor listed in EXTRA_DEFS"
            )
            .unwrap();
        }
    }
    assert!(
        problems.is_empty(),
        "the schema and the loader disagree:\n{problems}"
    );
}

/// Every object with `properties` is closed (only `x-` keys added), and every field is documented.
#[test]
fn objects_are_closed_and_fields_documented() {
    fn walk(path: &str, node: &Value, problems: &mut String) {
        match node {
            Value::Object(map) => {
                // Objects that a registry writes; `if`, `then` and `not` conditions have no `type`.
                let describes_object = map.get("type").and_then(Value::as_str) == Some("object");
                if let (true, Some(Value::Object(props))) =
                    (describes_object, map.get("properties"))
                {
                    if map.get("additionalProperties") != Some(&Value::Bool(false)) {
                        writeln!(problems, "- {path}: no `additionalProperties: false`").unwrap();
                    }
                    let x = map.get("patternProperties").and_then(|p| p.get("^x-"));
                    if x != Some(&Value::Object(Default::default())) {
                        writeln!(
                            problems,
                            "- {path}: no `patternProperties: {{\"^x-\": {{}}}}`"
                        )
                        .unwrap();
                    }
                    for (key, field) in props {
                        if path.contains("/properties/health/anyOf") {
                            continue; // the partial health of an overlay refers to `health`'s fields
                        }
                        for word in ["title", "description"] {
                            if field
                                .get(word)
                                .and_then(Value::as_str)
                                .is_none_or(str::is_empty)
                            {
                                writeln!(problems, "- {path}/properties/{key}: no {word}").unwrap();
                            }
                        }
                    }
                }
                for (key, value) in map {
                    walk(&format!("{path}/{key}"), value, problems);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(&format!("{path}/{i}"), item, problems);
                }
            }
            _ => {}
        }
    }
    let mut problems = String::new();
    walk("#", &schema(), &mut problems);
    assert!(problems.is_empty(), "{problems}");
}

fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path().join("muster.yaml"))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn accepts_every_example() {
    let validator = validator();
    let mut problems = String::new();
    let examples = examples();
    assert!(!examples.is_empty(), "no examples/*/muster.yaml found");
    for path in examples {
        let text = std::fs::read_to_string(&path).unwrap();
        match yaml_to_json(&text) {
            Ok(doc) => {
                for e in schema_errors(&validator, &doc) {
                    writeln!(problems, "- {}: {e}", path.display()).unwrap();
                }
            }
            Err(e) => writeln!(problems, "- {}: not YAML: {e}", path.display()).unwrap(),
        }
    }
    assert!(
        problems.is_empty(),
        "the schema refuses examples:\n{problems}"
    );
}

/// Small registries that use every short and long form the loader reads.
const VALID: &[(&str, &str)] = &[
    (
        "minimal",
        "version: 1\nname: tiny\nservices:\n  web: { image: nginx:1.27 }\n",
    ),
    (
        "short forms",
        r#"
version: 1
name: shorts
domain: ${DOMAIN}
targets: [compose, swarm]
proxy: caddy
defaults:
  restart: "no"
  health: { interval: 30s, timeout: 10s, retries: 3, start_period: 0 }
  resources: { cpus: 0.5, memory: 256M }
variables:
  DOMAIN: { description: Base domain, required: true, example: example.com }
  LOG_LEVEL: { default: info }
  PORT: { default: 8080 }
  x-note: anything
secrets:
  db-password: { kind: password, length: 32, alphabet: symbols }
  db-url-password: { kind: urlencode, from: db-password }
  token: { kind: hex, bytes: 16, prefix: "sk-" }
  key: { kind: base64, bytes: 32, url_safe: true }
  rsa: { kind: rsa, bits: 4096 }
  ed: { kind: ed25519 }
  id: { kind: uuid }
  hash: { kind: argon2id, from: db-password, memory: 64M, iterations: 3, parallelism: 4 }
  ssha: { kind: ssha, from: db-password }
  smtp: { kind: external, file: ./smtp.txt, optional: true, description: From the mail host }
services:
  x-shared: &shared { restart: always }
  caddy:
    <<: *shared
    image: caddy
    version: "2.8"
    ports: [80, "443:443", "443:443/udp", "127.0.0.1:8443:8443/tcp", "[::1]:9000:9000", "7000-7001:7000-7001", ":5000", "${PORT}:80"]
    expose: [80, "9000/udp"]
    networks: [frontend]
    command: caddy run --config /etc/caddy/Caddyfile
    entrypoint: [caddy]
    volumes: [/data, "caddy-data:/data", "./Caddyfile:/etc/caddy/Caddyfile:ro", "${HOME}/x:/x:rw,z"]
    tmpfs: /tmp
    dns: 1.1.1.1
    extra_hosts: ["host.docker.internal:host-gateway"]
    labels: ["team=web", "tier=edge"]
    health: { exec: "wget -q -O- http://localhost/ || exit 1" }
    resources: { gpus: 1, cpus: "2" }
    build: ./caddy
  api:
    image: ghcr.io/acme/api:1.2.3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    restart: no
    user: 1000
    env:
      A: text
      B: 5
      C: 1.5
      D: true
      E: { secret: db-password }
      F: { secret: token, as: file }
      G: { var: LOG_LEVEL }
      H: "postgres://app:${secret:db-url-password}@${host:db}/app"
    depends_on: [caddy]
    health: { http: { port: "8080" } }
    resources: { gpus: all }
    stop_grace_period: 1h30m
    shm_size: 1073741824
  db:
    image: localhost:5000/db
    health: { tcp: { port: 5432 } }
    depends_on:
      api: { condition: service_started }
      caddy: { condition: healthy, optional: true }
      x-skip: 1
  job:
    build: .
    job: true
    health: { none: true }
    ulimits: { nofile: 65536, nproc: { soft: 10, hard: 20 } }
  image-check:
    image: registry.example.com:443/team/app_name/x--y:latest
    health: { image: true }
    extra_hosts: { db.local: 10.0.0.2 }
"#,
    ),
    (
        "long forms and environments",
        r#"
version: 1
name: longs
description: Every long form
output: out
x-maintainers: [ops]
phases:
  core: { order: 1, timeout: 90s, description: Core }
  apps: { order: 2, timeout: 2m30s }
groups:
  web: { description: Web, services: [api], groups: [] }
networks:
  frontend: { description: Public, subnet: 172.20.0.0/24 }
  v6: { subnet: "fd00::/64", internal: true }
  shared: { external: true, name: shared-net }
volumes:
  pgdata: { description: Data, path: "${ROOT}/pg" }
  media: { access: shared, size: 200Gi }
  legacy: { name: old_data, external: true }
engines:
  compose:
    profiles_env: true
    hosts: { server-a: "ssh://deploy@server-a", local: "unix:///run/docker.sock" }
  kubernetes: { ingress_class: nginx, storage_class: standard, default_volume_size: 10Gi, namespace: apps }
  nomad: { datacenters: [dc1], region: global, consul: "127.0.0.1:8500", entrypoint: web, mhz_per_cpu: 1000, namespace: default }
  swarm: { x-later: true }
secrets:
  pw:
    kind: password
    on_rotate: { service: db, exec: ["sh", "-c", "echo $$MUSTER_NEW_VALUE"] }
services:
  x-common: &common { restart: always }
  db:
    <<: *common
    image: postgres:16.4
    phase: core
    critical: true
    health:
      exec: [pg_isready, -U, app]
      interval: 10s
      timeout: 500ms
      retries: 5
      start_period: 1m
      x-note: checked often
  api:
    description: The API
    enabled: true
    image: ghcr.io/acme/api:2.0.0
    category: apps/backend
    phase: apps
    groups: [web]
    tags: [http, 1]
    mode: replicated
    replicas: 2
    hostname: api
    networks:
      frontend: { aliases: [backend], ipv4_address: 172.20.0.10 }
      v6:
    aliases: [app]
    expose:
      - { name: http, port: 8080, protocol: http }
      - { port: "9000" }
    ports:
      - { target: 8080, published: 80, host_ip: 127.0.0.1, protocol: tcp, mode: host, name: web, app_protocol: http }
      - { target: 53, published: "5353", protocol: udp }
      - { target: 9000, host_ip: "::1" }
    env: { LOG: debug }
    secrets: [pw]
    env_files: [.env.api]
    configs:
      - { template: ./app.conf, target: /etc/app.conf, mode: "0440" }
      - { template: ./b.conf, target: /etc/b.conf, mode: 288 }
    volumes:
      - { type: volume, source: pgdata, target: /data, read_only: true }
      - { type: bind, source: ./x, target: /x }
      - { type: tmpfs, target: /cache }
      - { target: /anon }
    working_dir: /srv
    labels: { team: api, version: 2 }
    restart: on-failure
    read_only: true
    init: true
    cap_drop: [ALL]
    cap_add: [NET_BIND_SERVICE]
    security_opt: ["no-new-privileges:true"]
    privileged: false
    devices: ["/dev/dri:/dev/dri"]
    tmpfs: [/tmp, /run]
    pid: host
    dns: [1.1.1.1, 8.8.8.8]
    sysctls: { net.core.somaxconn: 1024 }
    logging: { driver: json-file, options: { max-size: 10m, max-file: 3 } }
    health:
      http: { port: 8080, path: /health, scheme: https, insecure: true, expect: [200, 204] }
    depends_on:
      - db
      - { service: db, condition: healthy }
      - { service: cache, optional: true }
    resources:
      cpus: 2
      memory: 1.5G
      reservations: { cpus: 0.25, memory: 512Mi }
      gpus: { count: all, driver: nvidia, capabilities: [gpu, compute] }
    placement: { host: server-a, labels: { disk: ssd } }
    subdomain: api
    routes:
      - { host: "api.${DOMAIN}", path: /, match: prefix, port: 8080, entrypoints: [websecure], priority: 10, tls: true, auth: db }
      - { path: /v2, match: exact }
    build: { context: ./api, dockerfile: Dockerfile, target: production, args: { VERSION: "1.2" } }
    stop_grace_period: 30s
    x-backup: daily
    extra:
      compose: { stop_signal: SIGINT }
      swarm: {}
      kubernetes: { workload: {}, pod: { hostNetwork: false }, container: {}, service: {} }
      nomad: { job: {}, group: {}, task: { driver: exec } }
environments:
  production:
    description: Production
    domain: example.com
    output: null
    variables: { LOG_LEVEL: { default: warn } }
    secrets: { pw: { length: 48 } }
    networks: { v6: null }
    services:
      api:
        replicas: 3
        resources: { cpus: 1 }
        health: { interval: 5s }
        subdomain: null
  development:
    services:
      api: { ports: ["4001:4001"], env: { LOG: trace } }
      mailhog: { image: "mailhog/mailhog:v1.0.1", phase: apps }
      db: null
"#,
    ),
];

#[test]
fn accepts_every_form_the_loader_reads() {
    let validator = validator();
    let mut problems = String::new();
    for (label, text) in VALID {
        let doc = yaml_to_json(text).unwrap_or_else(|e| panic!("{label}: not YAML: {e}"));
        for e in schema_errors(&validator, &doc) {
            writeln!(problems, "- {label}: the schema refuses it {e}").unwrap();
        }
        for e in loader_errors(text) {
            writeln!(problems, "- {label}: the loader refuses it: {e}").unwrap();
        }
    }
    assert!(
        problems.is_empty(),
        "valid registries are refused:\n{problems}"
    );
}

#[test]
fn accepts_extension_keys_at_top_level_and_in_a_service() {
    let text = "version: 1\nname: ext\nx-owner: ops\nx-anchors: { a: [1, 2] }\nservices:\n  x-template: { whatever: true }\n  web:\n    image: nginx:1.27\n    x-backup: daily\n    x-Nested: { deep: [1] }\n";
    let doc = yaml_to_json(text).unwrap();
    let errors = schema_errors(&validator(), &doc);
    assert!(errors.is_empty(), "x- keys are refused: {errors:#?}");
    assert_eq!(loader_errors(text), Vec::<String>::new());
}

/// A valid service to build the refused registries from.
fn with_service(service: &str) -> String {
    format!("version: 1\nname: bad\nservices:\n  web:\n    image: nginx:1.27\n{service}")
}

#[test]
fn refuses_common_mistakes() {
    let svc = with_service;
    // (what is wrong, registry, whether the loader itself reports it: some rules belong to `check`)
    let cases: Vec<(&str, String, bool)> = vec![
        ("an unknown top-level key", "version: 1\nname: bad\nservics: {}\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("an unknown service key", "version: 1\nname: bad\nservices:\n  web: { imgae: nginx:1.27, build: . }\n".into(), true),
        ("an unknown key in health", svc("    health: { exec: [true], intervall: 5s }\n"), true),
        ("an uppercase service name", "version: 1\nname: bad\nservices:\n  Web: { image: a:1 }\n".into(), true),
        ("version 2", "version: 2\nname: bad\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("no name", "version: 1\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("no version", "name: bad\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("no services", "version: 1\nname: bad\n".into(), true),
        ("empty services", "version: 1\nname: bad\nservices: {}\n".into(), true),
        ("a service without image or build", "version: 1\nname: bad\nservices:\n  web: { replicas: 1 }\n".into(), true),
        ("two health check kinds", svc("    health: { exec: [true], http: { port: 80 } }\n"), true),
        ("health timings without a check", svc("    health: { interval: 5s }\n"), true),
        ("a check kind in defaults.health", "version: 1\nname: bad\ndefaults: { health: { exec: [true] } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("an unknown key in an env reference", svc("    env: { A: { secret: x, bogus: 1 } }\n"), true),
        ("an env reference to a secret and a variable", svc("    env: { A: { secret: x, var: B } }\n"), true),
        ("`as` with a variable", svc("    env: { A: { var: B, as: file } }\n"), true),
        ("an empty env reference", svc("    env: { A: {} }\n"), true),
        ("a list as env value", svc("    env: { A: [1, 2] }\n"), true),
        ("a bad env variable name", svc("    env: { 1A: x }\n"), true),
        ("a duration without unit", svc("    stop_grace_period: 30\n"), true),
        ("a duration in words", svc("    stop_grace_period: 10 seconds\n"), true),
        ("units in the wrong order", svc("    stop_grace_period: 30s1m\n"), true),
        ("a size in words", svc("    shm_size: 4 gigs\n"), true),
        ("a decimal comma in a size", svc("    shm_size: 1,5G\n"), true),
        ("an unknown restart policy", svc("    restart: sometimes\n"), true),
        ("an unknown protocol", svc("    expose: [{ port: 21, protocol: ftp }]\n"), true),
        ("an unknown condition", svc("    depends_on: [{ service: db, condition: ready }]\n"), true),
        ("a dependency without service", svc("    depends_on: [{ condition: healthy }]\n"), true),
        ("`service` in the mapping form of depends_on", svc("    depends_on: { db: { service: db } }\n"), true),
        ("an unknown secret kind", "version: 1\nname: bad\nsecrets: { k: { kind: pgp } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("a secret without kind", "version: 1\nname: bad\nsecrets: { k: { length: 3 } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("a setting of another kind of secret", "version: 1\nname: bad\nsecrets: { k: { kind: hex, length: 3 } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("a derived secret without from", "version: 1\nname: bad\nsecrets: { k: { kind: argon2id } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("too few RSA bits", "version: 1\nname: bad\nsecrets: { k: { kind: rsa, bits: 100 } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("a password of length 0", "version: 1\nname: bad\nsecrets: { k: { kind: password, length: 0 } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("negative replicas", svc("    replicas: -1\n"), true),
        ("replicas as a word", svc("    replicas: three\n"), true),
        ("a health port above 65535", svc("    health: { http: { port: 70000 } }\n"), true),
        ("a letter in a port mapping", svc("    ports: [\"8o80:80\"]\n"), true),
        ("a host port above 65535", svc("    ports: [\"99999:80\"]\n"), true),
        ("ports as a mapping", svc("    ports: { web: 80 }\n"), true),
        ("a published port without target", svc("    ports: [{ published: 80 }]\n"), true),
        ("a relative container path in a mount", svc("    volumes: [\"data:data\"]\n"), true),
        ("a bind mount without source", svc("    volumes: [{ type: bind, target: /x }]\n"), true),
        ("a numeric image version", "version: 1\nname: bad\nservices:\n  web: { image: postgres, version: 16.10 }\n".into(), true),
        ("a version without image", "version: 1\nname: bad\nservices:\n  web: { build: ., version: \"1\" }\n".into(), true),
        ("an uppercase image repository", "version: 1\nname: bad\nservices:\n  web: { image: ghcr.io/Acme/app:1 }\n".into(), true),
        ("network_mode with networks", svc("    network_mode: host\n    networks: [default]\n"), true),
        ("a relative route path", svc("    routes: [{ path: api }]\n"), true),
        ("a relative health path", svc("    health: { http: { port: 80, path: health } }\n"), true),
        ("services as a list", "version: 1\nname: bad\nservices:\n  - { name: web, image: a:1 }\n".into(), true),
        ("a bad network subnet", "version: 1\nname: bad\nnetworks: { n: { subnet: 172.20.0.0 } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("an external bind-backed volume", "version: 1\nname: bad\nvolumes: { v: { external: true, path: /x } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("a required variable with a default", "version: 1\nname: bad\nvariables: { A: { required: true, default: x } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("a Docker endpoint without scheme", "version: 1\nname: bad\nengines: { compose: { hosts: { a: server-a } } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("a key in engines.swarm", "version: 1\nname: bad\nengines: { swarm: { mode: x } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("an unknown key in extra.kubernetes", svc("    extra: { kubernetes: { deployment: {} } }\n"), true),
        ("`name` in an environment", "version: 1\nname: bad\nenvironments: { prod: { name: other } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        ("an unknown key in an environment's service", "version: 1\nname: bad\nenvironments: { prod: { services: { web: { replica: 2 } } } }\nservices:\n  web: { image: a:1 }\n".into(), true),
        // Rules of `muster check` that a single document shows, so the schema has them too.
        ("a service without phase when phases exist", "version: 1\nname: bad\nphases: { core: { order: 1 } }\nservices:\n  web: { image: a:1 }\n".into(), false),
        ("container_name with replicas", svc("    container_name: web\n    replicas: 2\n"), false),
    ];
    let validator = validator();
    let mut problems = String::new();
    for (what, text, loader_too) in &cases {
        let doc = yaml_to_json(text).unwrap_or_else(|e| panic!("{what}: not YAML: {e}"));
        if schema_errors(&validator, &doc).is_empty() {
            writeln!(problems, "- the schema accepts {what}").unwrap();
        }
        if *loader_too && loader_errors(text).is_empty() {
            writeln!(
                problems,
                "- the loader accepts {what}, so the schema must not refuse it"
            )
            .unwrap();
        }
    }
    assert!(problems.is_empty(), "{problems}");
}

/// Codes of problems that one document shows by its shape: keys, types, required fields,
/// names, durations, sizes, ports, image references, exclusive fields, enums and ranges, plus
/// `container_name` with replicas.
const SCHEMA_CODES: &[&str] = &[
    "M0102", "M0103", "M0104", "M0106", "M0107", "M0108", "M0109", "M0110", "M0111", "M0113",
    "M0114", "M0115", "M0406",
];
/// Codes of files the schema never sees as documents (YAML syntax, duplicate keys).
const NOT_A_DOCUMENT: &[&str] = &["M0101", "M0105"];
/// Fixtures with one of SCHEMA_CODES that the schema cannot catch, and why.
const NOT_CAUGHT: &[(&str, &str)] = &[(
    "env_production_replicas_with_container_name.yaml",
    "the problem exists only once the overlay is merged",
)];

#[test]
fn agrees_with_the_invalid_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    files.sort();
    let validator = validator();
    let mut problems = String::new();
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let codes: Vec<&str> = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect:"))
            .map(|l| l.split_whitespace().collect())
            .unwrap_or_default();
        if codes.iter().any(|c| NOT_A_DOCUMENT.contains(c)) {
            continue;
        }
        let doc = match yaml_to_json(&text) {
            Ok(doc) => doc,
            Err(e) => {
                writeln!(problems, "- {file}: not YAML: {e}").unwrap();
                continue;
            }
        };
        let errors = schema_errors(&validator, &doc);
        let structural = codes.iter().any(|c| SCHEMA_CODES.contains(c));
        let exempt = NOT_CAUGHT.iter().any(|(f, _)| *f == file);
        if structural && !exempt && errors.is_empty() {
            writeln!(
                problems,
                "- {file} ({}): the schema accepts it",
                codes.join(" ")
            )
            .unwrap();
        }
        if !structural && !errors.is_empty() {
            writeln!(
                problems,
                "- {file} ({}) is refused, but its problems are not about shape:\n    {}",
                codes.join(" "),
                errors.join("\n    ")
            )
            .unwrap();
        }
    }
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    assert!(problems.is_empty(), "{problems}");
}
