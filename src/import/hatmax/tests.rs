use std::sync::Arc;

use super::*;

fn run(text: &str) -> Imported {
    import(
        Arc::new(SourceFile::new("hatmax.yml", text)),
        Path::new("."),
    )
}

fn get<'a>(imported: &'a Imported, path: &[&str]) -> Option<&'a Value> {
    imported.draft.get(path)
}

const PROJECT: &str = "\
version: 0.1
name: ref
package: example.com/ref
deployment:
  platforms: [nomad]
  nomad:
    datacenter: dc1
    consul_integration: true
    default_resources: { cpu: 256, memory: 128 }
  infrastructure:
    consul: { enabled: true, address: \"127.0.0.1:8500\" }
    traefik: { enabled: true, entrypoint: web, domain: localhost }
services:
  todo:
    kind: atom
    models: {}
    deployment:
      nomad:
        port: 8080
        replicas: 2
        resources: { cpu: 500, memory: 256 }
        health_check: { path: /health, interval: 30s }
        traefik: { rule: \"PathPrefix(`/todo`)\", priority: 100 }
        consul: { service_name: todo, tags: [api, v1] }
";

#[test]
fn deployment_settings_map_to_registry_fields() {
    let imported = run(PROJECT);
    let yaml = |path: &[&str]| serde_norway::to_string(get(&imported, path).unwrap()).unwrap();
    assert_eq!(yaml(&["targets"]), "- nomad\n");
    assert_eq!(
        yaml(&["engines"]),
        "nomad:\n  datacenters:\n  - dc1\n  mhz_per_cpu: 1000\n  consul: 127.0.0.1:8500\n  entrypoint: web\n"
    );
    assert_eq!(
        yaml(&["defaults", "resources"]),
        "cpus: 0.256\nmemory: 128M\n"
    );
    assert_eq!(yaml(&["services", "todo", "tags"]), "- api\n- v1\n");
    assert_eq!(yaml(&["services", "todo", "replicas"]), "2\n");
    assert_eq!(
        yaml(&["services", "todo", "health"]),
        "http:\n  port: 8080\n  path: /health\ninterval: 30s\ntimeout: 5s\n"
    );
    assert_eq!(
        yaml(&["services", "todo", "routes"]),
        "- path: /todo\n  priority: 100\n"
    );
    assert_eq!(
        yaml(&["services", "todo", "extra"]),
        "nomad:\n  task:\n    driver: exec\n    config:\n      command: ./todo\n"
    );
    assert_eq!(
        yaml(&["services", "todo", "build"]),
        "context: ./services/todo\n"
    );
    assert_eq!(yaml(&["domain"]), "localhost\n");
}

#[test]
fn generated_code_keys_and_the_domain_are_located_warnings() {
    let imported = run(PROJECT);
    let found: Vec<(&str, (usize, usize))> = imported
        .findings
        .iter()
        .map(|f| {
            let at = f.file.line_col(f.diagnostic.span.unwrap().start);
            (f.diagnostic.code.as_str(), at)
        })
        .collect();
    assert_eq!(
        found,
        [("M1020", (3, 1)), ("M1026", (12, 56)), ("M1020", (15, 5))]
    );
    assert!(!imported.has_errors());
}

#[test]
fn rules_without_a_route_and_foreign_consul_names_are_reported() {
    let imported = run(
        "services:\n  a:\n    deployment:\n      nomad:\n        port: 1\n        traefik: { rule: \"Headers(`x`, `y`)\" }\n        consul: { service_name: b }\n",
    );
    let codes: Vec<_> = imported
        .findings
        .iter()
        .map(|f| f.diagnostic.code.as_str())
        .collect();
    assert_eq!(codes, ["M1020", "M1022"]);
    assert!(get(&imported, &["services", "a", "routes"]).is_none());
}

#[test]
fn no_services_is_an_error() {
    assert!(run("name: x\n").has_errors());
    assert!(run("services: [\n").has_errors());
}
