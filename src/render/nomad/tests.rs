use std::sync::Arc;

use super::*;
use crate::check::check_one;
use crate::source::SourceFile;

fn registry(text: &str) -> Registry {
    registry_in(text, None)
}

fn registry_in(text: &str, env: Option<&str>) -> Registry {
    let report = check_one(Arc::new(SourceFile::new("muster.yaml", text)), env);
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    report.loaded.registry.expect("a registry")
}

fn file<'a>(files: &'a [GeneratedFile], path: &str) -> &'a str {
    files
        .iter()
        .find(|f| f.path.to_str() == Some(path))
        .map(|f| f.body.as_str())
        .unwrap_or_else(|| panic!("no {path}"))
}

const STACK: &str = r#"
version: 1
name: demo
domain: ${DOMAIN}
engines:
  compose: { hosts: { node-1: "ssh://deploy@node-1" } }
variables:
  DOMAIN: { required: true }
secrets:
  db-password: { kind: password, length: 24 }
  tls-key: { kind: ed25519 }
phases:
  data: { order: 1, timeout: 60s }
  apps: { order: 2 }
services:
  db:
    image: postgres:16
    phase: data
    restart: always
    expose: [5432]
    env:
      POSTGRES_PASSWORD: { secret: db-password }
    health: { exec: ["pg_isready"], interval: 5s }
    placement: { host: node-1, labels: { disk: ssd } }
  migrate:
    image: app:1
    phase: apps
    job: true
    command: "app migrate --yes"
    depends_on: [db]
  web_ui:
    image: app:1
    phase: apps
    replicas: 2
    tags: [web]
    expose: [{ name: http, port: 8080 }]
    env:
      DB_URL: "postgres://app:${secret:db-password}@${host:db}:5432/app"
      PUBLIC: "https://${DOMAIN}"
      KEY_FILE: { secret: tls-key, as: file }
    health: { http: { port: 8080, path: /health } }
    subdomain: www
    routes: [{ path: /api, port: 8080, auth: sso, priority: 5 }]
    depends_on: [db, { service: migrate, condition: completed }]
    resources: { cpus: 1.5, memory: 300M, reservations: { memory: 100M } }
    extra:
      nomad:
        job: { priority: 70 }
        task: { driver: exec, config: { command: /bin/web } }
  agent:
    image: agent:1
    phase: data
    mode: global
  sso:
    image: sso:1
    phase: data
    expose: [9091]
"#;

#[test]
fn every_service_gets_a_job_and_a_policy() {
    let files = render(&registry(STACK), &[]);
    for service in ["db", "migrate", "web_ui", "agent"] {
        let job = file(&files, &format!("nomad/jobs/{service}.nomad.hcl"));
        assert!(job.contains(&format!("job \"demo-{service}\"")), "{job}");
        let policy = file(&files, &format!("nomad/policies/{service}.policy.hcl"));
        assert!(policy.contains(&format!("path \"nomad/jobs/demo/{service}\"")));
    }
    for path in [
        "nomad/infra/consul.hcl",
        "nomad/infra/traefik.nomad.hcl",
        "nomad/scripts/deploy.sh",
        "nomad/scripts/health-check.sh",
    ] {
        file(&files, path);
    }
    assert!(files.iter().filter(|f| f.executable).count() == 2);
}

#[test]
fn job_types_counts_and_policies() {
    let files = render(&registry(STACK), &[]);
    let migrate = file(&files, "nomad/jobs/migrate.nomad.hcl");
    assert!(migrate.contains("type = \"batch\""));
    assert!(
        migrate.contains("command = \"app\"\n        args = [\n          \"migrate\",\n          \"--yes\"\n        ]"),
        "{migrate}"
    );
    assert!(!migrate.contains("resources {"), "no empty blocks");
    assert!(
        !migrate.contains("service {"),
        "batch jobs register nothing"
    );
    assert!(migrate.contains("attempts = 0"));
    let agent = file(&files, "nomad/jobs/agent.nomad.hcl");
    assert!(agent.contains("type = \"system\"") && !agent.contains("count ="));
    let web = file(&files, "nomad/jobs/web_ui.nomad.hcl");
    assert!(web.contains("count = 2"));
    assert!(web.contains("muster_depends_on = \"db:healthy,migrate:completed\""));
    assert!(web.contains("muster_phase = \"apps\""));
    assert!(
        web.contains("name = \"web-ui\""),
        "Consul names have no `_`"
    );
}

#[test]
fn checks_and_routes() {
    let files = render(&registry(STACK), &[]);
    let db = file(&files, "nomad/jobs/db.nomad.hcl");
    assert!(db.contains("type = \"script\""));
    assert!(db.contains("task = \"db\""));
    assert!(db.contains("interval = \"5s\"") && db.contains("timeout = \"30s\""));
    assert!(db.contains("attribute = \"$${meta.disk}\""));
    assert!(db.contains("attribute = \"$${node.unique.name}\""));
    let web = file(&files, "nomad/jobs/web_ui.nomad.hcl");
    for tag in [
        "\"web\"",
        "\"traefik.enable=true\"",
        "\"traefik.http.routers.demo-web-ui-0.rule=Host(`www.${var.DOMAIN}`)\"",
        "\"traefik.http.routers.demo-web-ui-1.rule=Host(`${var.DOMAIN}`) && PathPrefix(`/api`)\"",
        "\"traefik.http.routers.demo-web-ui-1.entrypoints=web\"",
        "\"traefik.http.routers.demo-web-ui-1.priority=5\"",
        "\"traefik.http.routers.demo-web-ui-1.middlewares=sso@consulcatalog\"",
        "\"traefik.http.services.demo-web-ui-1.loadbalancer.server.port=8080\"",
    ] {
        assert!(web.contains(tag), "{tag} in {web}");
    }
    assert!(web.contains("type = \"http\"") && web.contains("port = \"http\""));
    assert!(
        web.contains("variable \"DOMAIN\" {\n  type = string\n}"),
        "{web}"
    );
}

#[test]
fn secrets_come_from_nomad_variables() {
    let files = render(&registry(STACK), &[]);
    let web = file(&files, "nomad/jobs/web_ui.nomad.hcl");
    assert!(
        !web.contains("postgres://app:"),
        "secret-bearing values stay out"
    );
    assert!(web.contains("{{ with nomadVar \"nomad/jobs/demo/web_ui\" }}\nDB_URL={{ index . \"DB_URL\" | toJSON }}\n{{ end }}"), "{web}");
    assert!(web.contains("env = true"));
    assert!(web.contains("KEY_FILE = \"/run/secrets/tls-key\""));
    assert!(web.contains("destination = \"secrets/tls-key\""));
    assert!(web.contains("PUBLIC = \"https://${var.DOMAIN}\""));
    let db = file(&files, "nomad/jobs/db.nomad.hcl");
    assert!(!db.contains("/run/secrets/"), "no file secrets, no mounts");
}

#[test]
fn resources_and_extra() {
    let files = render(&registry(STACK), &[]);
    let web = file(&files, "nomad/jobs/web_ui.nomad.hcl");
    assert!(web.contains("cpu = 1500"));
    assert!(web.contains("memory = 100\n") && web.contains("memory_max = 300"));
    assert!(web.contains("driver = \"exec\""));
    assert!(
        !web.contains("image ="),
        "a driver other than docker gets no docker config"
    );
    assert!(web.contains("command = \"/bin/web\""));
    assert!(web.contains("priority = 70"));
}

#[test]
fn scripts_run_phases_in_order() {
    let files = render(&registry(STACK), &[]);
    let deploy = file(&files, "nomad/scripts/deploy.sh");
    let data = deploy.find("phase data 60").unwrap();
    let apps = deploy.find("phase apps 120").unwrap();
    assert!(data < apps);
    assert!(deploy.contains("'db demo-db service 1 yes'"));
    assert!(deploy.contains("'migrate demo-migrate batch 1 no'"));
    assert!(deploy.contains("variables=DOMAIN\n"));
    assert!(deploy.contains("registry_dir=${MUSTER_REGISTRY_DIR:-$here/../../..}"));
    let health = file(&files, "nomad/scripts/health-check.sh");
    assert!(health.contains("judge web_ui demo-web_ui service 2 no"));
}

#[test]
fn way_back_to_the_registry() {
    let mut reg = Registry::default();
    for (output, back) in [
        ("deploy", Some("../../..")),
        ("out/gen", Some("../../../..")),
        (".", Some("../..")),
        ("a/../b", Some("../../..")),
        ("../x", None),
        ("/abs", None),
    ] {
        reg.output = output.into();
        assert_eq!(
            Context::new(&reg).back_to_registry(2).as_deref(),
            back,
            "{output}"
        );
    }
}

#[test]
fn deterministic_and_parsed_back() {
    let reg = registry(STACK);
    assert_eq!(render(&reg, &[]), render(&reg, &[]));
    for f in render(&reg, &[])
        .iter()
        .filter(|f| f.path.extension().is_some_and(|e| e == "hcl"))
    {
        let parsed: Result<hcl::Body, _> = hcl::parse(&f.body);
        assert!(parsed.is_ok(), "{}: {parsed:?}", f.path.display());
    }
}

#[test]
fn environments_hold_what_they_change_and_their_scripts() {
    let text = format!(
        "{STACK}environments:\n  prod:\n    services:\n      web_ui: {{ replicas: 4 }}\n      extra: {{ image: 'x:1', phase: apps }}\n"
    );
    let base = registry_in(&text, None);
    let prod = registry_in(&text, Some("prod"));
    let files = render(&base, &[("prod".to_string(), prod)]);
    let env_files: Vec<String> = files
        .iter()
        .filter_map(|f| f.path.to_str())
        .filter(|p| p.starts_with("nomad/environments/prod/"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        env_files,
        [
            "nomad/environments/prod/jobs/web_ui.nomad.hcl",
            "nomad/environments/prod/jobs/extra.nomad.hcl",
            "nomad/environments/prod/policies/extra.policy.hcl",
            "nomad/environments/prod/scripts/deploy.sh",
            "nomad/environments/prod/scripts/health-check.sh",
        ]
    );
    assert!(file(&files, "nomad/environments/prod/jobs/web_ui.nomad.hcl").contains("count = 4"));
    let deploy = file(&files, "nomad/environments/prod/scripts/deploy.sh");
    assert!(deploy.contains("'extra demo-extra service 1 no'"));
    assert!(deploy.contains("registry_dir=${MUSTER_REGISTRY_DIR:-$here/../../../../..}"));
    assert!(deploy.contains("nomad_dir=$(dirname \"$(dirname \"$env_dir\")\")"));
}

/// The generator Nomad support replaces crashed on a missing field: the barest services
/// still get complete jobs.
#[test]
fn bare_services_get_jobs() {
    let reg = registry(
        "version: 1\nname: bare\ntargets: [compose]\nservices:\n  only-image: { image: 'x:1' }\n  only-build: { build: { context: ./b } }\n",
    );
    let files = render(&reg, &[]);
    let built = file(&files, "nomad/jobs/only-build.nomad.hcl");
    assert!(built.contains("image = \"bare-only-build\""), "{built}");
    let plain = file(&files, "nomad/jobs/only-image.nomad.hcl");
    assert!(
        plain.contains("service {\n      name = \"only-image\""),
        "{plain}"
    );
    assert!(!plain.contains("check {") && !plain.contains("network {"));
    for f in &files {
        if f.path.extension().is_some_and(|e| e == "hcl") {
            assert!(hcl::parse(&f.body).is_ok(), "{}", f.path.display());
        }
    }
}
