use std::path::Path;

use serde_norway::Value;

use super::*;

const CATALOG: &str = "\
metadata: { version: \"1\", description: A lab }
groups:
  core: { description: Core, services: [postgres, caddy] }
  bots: { services: [bot, ghost] }
services:
  postgres:
    name: lab-postgres
    container_name: lab-postgres
    group: core
    dependencies: []
    interfaces: [{ port: 5432, protocol: tcp, internal: true }]
    placement: local_only
    health_endpoint: pg_isready
    health_check_type: command
    startup_order: 1
    required_for: [bot]
  caddy:
    group: core
    interfaces: [{ port: 443, protocol: https, public: true }]
    health_endpoint: http://localhost:80
    health_check_type: http
    startup_order: 1
  bot:
    description: A bot
    group: bots
    dependencies: [postgres]
    interfaces: [{ port: 5900, protocol: vnc }, { port: 4000, protocol: http }]
    domains: [bot.example.com]
    health_endpoint: http://localhost:4000/health
    health_check_type: http
    startup_order: 3
  plex:
    group: web
    startup_order: 3
deployment_patterns:
  minimal: { description: Least, services: [postgres] }
  core: { services: [caddy] }
";

const BUNDLE: &str = "\
services:
  lab-postgres:
    image: postgres:16
    container_name: lab-postgres
    healthcheck: { test: [\"CMD-SHELL\", \"pg_isready\"], interval: 10s }
  caddy:
    image: caddy:2
  bot:
    image: bot:1
    depends_on: { lab-postgres: { condition: service_healthy } }
    healthcheck: { test: [\"CMD\", \"curl\", \"-f\", \"-k\", \"http://localhost:4000/health\"], interval: 30s }
    environment: { DB: \"postgres://lab-postgres:5432\" }
";

fn run() -> (Imported, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("services.yaml"), CATALOG).unwrap();
    std::fs::write(dir.path().join("compose.base.yml"), BUNDLE).unwrap();
    let catalog = SourceFile::read(&dir.path().join("services.yaml")).unwrap();
    let imported = import(catalog, &[], dir.path()).unwrap();
    (imported, dir)
}

fn yaml(imported: &Imported, path: &[&str]) -> String {
    let v = imported.draft.get(path).unwrap_or(&Value::Null);
    serde_norway::to_string(v).unwrap()
}

#[test]
fn catalog_names_and_dependencies_are_laid_over_the_bundles() {
    let (imported, _dir) = run();
    let d = &imported.draft;
    assert!(d.get(&["services", "lab-postgres"]).is_none());
    assert_eq!(
        yaml(&imported, &["services", "postgres", "aliases"]),
        "- lab-postgres\n"
    );
    assert_eq!(
        yaml(&imported, &["services", "bot", "depends_on"]),
        "- postgres\n"
    );
    assert_eq!(
        yaml(&imported, &["services", "bot", "phase"]),
        "startup-3\n"
    );
    assert_eq!(yaml(&imported, &["phases", "startup-1", "order"]), "1\n");
    assert_eq!(yaml(&imported, &["groups", "bots", "services"]), "- bot\n");
    assert_eq!(
        yaml(&imported, &["groups", "minimal", "services"]),
        "- postgres\n"
    );
    assert_eq!(yaml(&imported, &["description"]), "A lab\n");
    assert_eq!(
        yaml(&imported, &["services", "postgres", "placement"]),
        "labels:\n  location: local\n"
    );
}

#[test]
fn health_endpoints_ports_and_domains() {
    let (imported, _dir) = run();
    assert_eq!(
        yaml(&imported, &["services", "bot", "health"]),
        "http:\n  port: 4000\n  path: /health\n  insecure: true\ninterval: 30s\n",
        "the bundle's curl of the same URL becomes an http check with its timings"
    );
    assert_eq!(
        yaml(&imported, &["services", "postgres", "health"]),
        "exec: pg_isready\ninterval: 10s\n"
    );
    assert_eq!(
        yaml(&imported, &["services", "caddy", "health"]),
        "http:\n  port: 80\n  path: /\n"
    );
    assert_eq!(
        yaml(&imported, &["services", "bot", "routes"]),
        "- host: bot.example.com\n  port: 4000\n"
    );
    assert_eq!(
        yaml(&imported, &["services", "bot", "expose"]),
        "- name: vnc\n  port: 5900\n  protocol: tcp\n- port: 4000\n  protocol: http\n"
    );
    assert_eq!(yaml(&imported, &["proxy"]), "caddy\n");
}

#[test]
fn what_one_side_lacks_is_reported_where_the_catalog_says_it() {
    let (imported, _dir) = run();
    let found: Vec<(&str, usize)> = imported
        .findings
        .iter()
        .filter(|f| f.file.name.ends_with("services.yaml"))
        .map(|f| {
            let line = f.file.line_col(f.diagnostic.span.unwrap().start).0;
            (f.diagnostic.code.as_str(), line)
        })
        .collect();
    assert_eq!(
        found,
        [
            ("M1023", 4),  // group bots names ghost
            ("M1020", 11), // interface `internal`, once
            ("M1020", 19), // interface `public`, once
            ("M1026", 27), // vnc is tcp
            ("M1023", 32), // plex has no bundle service
            ("M1022", 37), // pattern `core` clashes with the group
        ],
        "{:#?}",
        imported.findings
    );
}

#[test]
fn bundles_are_required() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("services.yaml"), CATALOG).unwrap();
    let catalog = SourceFile::read(&dir.path().join("services.yaml")).unwrap();
    let imported = import(catalog, &[], Path::new(".")).unwrap();
    assert!(imported.has_errors());
}
