use std::sync::Arc;

use super::*;

fn run(text: &str) -> Imported {
    import(
        Arc::new(SourceFile::new("services.registry.yaml", text)),
        Path::new("."),
    )
}

fn codes(imported: &Imported) -> Vec<&'static str> {
    imported
        .findings
        .iter()
        .map(|f| f.diagnostic.code.as_str())
        .collect()
}

const SMALL: &str = "\
networks:
  frontend: { subnet: 172.20.0.0/24, description: Public }
core:
  caddy:
    image: caddy
    version: 2.8.4
    subdomain: www
    additional_aliases: [grafana, extra]
    networks: [frontend]
    health_check: { type: docker, interval: 10s, retries: 5 }
    phase: core
    phase_order: 1
apps:
  grafana:
    image: grafana/grafana
    version: \"11.6\"
    subdomain: grafana
    additional_aliases: [api.grafana]
    depends_on: [caddy]
    environment: { GF_URL: \"https://grafana.${DOMAIN}\", N: 3 }
    volumes: [grafana_data:/var/lib/grafana, \"${ROOT}/x:/x:ro\"]
    restart: no
    resources: { memory: 4G, cpus: \"2.0\" }
    gpu: true
    phase: apps
    phase_order: 3
    security_note: Isolated
phases:
  core: { order: 1, timeout_seconds: 90, description: Core }
  apps: { order: 2, timeout_seconds: 180 }
";

#[test]
fn maps_categories_phases_networks_and_fields() {
    let imported = run(SMALL);
    let d = &imported.draft;
    let get = |path: &[&str]| d.get(path).cloned();
    assert_eq!(get(&["services", "caddy", "category"]), Some("core".into()));
    assert_eq!(
        get(&["services", "grafana", "version"]),
        Some("11.6".into())
    );
    assert_eq!(get(&["phases", "apps", "timeout"]), Some("180s".into()));
    assert_eq!(
        get(&["networks", "frontend", "subnet"]),
        Some("172.20.0.0/24".into())
    );
    assert_eq!(
        get(&["services", "caddy", "health", "image"]),
        Some(true.into())
    );
    assert_eq!(get(&["services", "grafana", "restart"]), Some("no".into()));
    assert_eq!(
        get(&["services", "grafana", "resources", "cpus"]),
        Some(2.0.into())
    );
    assert_eq!(
        get(&["services", "grafana", "resources", "gpus"]),
        Some("all".into())
    );
    assert_eq!(
        get(&["services", "grafana", "env", "N"]),
        Some("3".into()),
        "numbers keep their text"
    );
    assert_eq!(
        get(&["services", "grafana", "description"]),
        Some("Isolated".into())
    );
    assert!(d.get(&["volumes", "grafana_data"]).is_some());
    assert!(d.get(&["variables", "ROOT"]).is_some());
    assert_eq!(get(&["variables", "DOMAIN", "required"]), Some(true.into()));
}

#[test]
fn the_service_listing_other_subdomains_is_the_proxy() {
    let imported = run(SMALL);
    let d = &imported.draft;
    assert_eq!(d.get(&["proxy"]), Some(&"caddy".into()));
    assert_eq!(d.get(&["domain"]), Some(&"${DOMAIN}".into()));
    let routes =
        |s: &str| serde_norway::to_string(d.get(&["services", s, "routes"]).unwrap()).unwrap();
    assert_eq!(routes("caddy"), "- host: extra.${DOMAIN}\n");
    assert_eq!(routes("grafana"), "- host: api.grafana.${DOMAIN}\n");
}

#[test]
fn contradictions_and_unknown_fields_are_located_warnings() {
    let imported = run(SMALL);
    // grafana's phase_order 3 contradicts phase apps (order 2).
    assert_eq!(codes(&imported), ["M1022"]);
    let f = &imported.findings[0];
    assert_eq!(f.file.line_col(f.diagnostic.span.unwrap().start), (26, 18));
    let imported =
        run("core:\n  a:\n    image: x\n    magic: 1\n    phase: p\n    phase_order: 4\n");
    assert_eq!(codes(&imported), ["M1020", "M1023"]);
    assert_eq!(
        imported.draft.get(&["phases", "p", "order"]),
        Some(&4.into())
    );
}

#[test]
fn gpu_reservations_and_deploy_limits() {
    let imported = run(
        "ai:\n  vllm:\n    image: v\n    deploy:\n      resources:\n        reservations:\n          memory: 512M\n          devices:\n            - { driver: nvidia, count: 1, capabilities: [gpu] }\n    gpu: true\n",
    );
    assert!(imported.findings.is_empty(), "{:?}", imported.findings);
    let res = serde_norway::to_string(
        imported
            .draft
            .get(&["services", "vllm", "resources"])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(res, "reservations:\n  memory: 512M\ngpus: 1\n");
}

#[test]
fn broken_and_empty_files_are_errors() {
    let imported = run("core:\n  a:\n    env: \"x\"q\n");
    assert_eq!(codes(&imported), ["M0101"]);
    assert!(imported.has_errors());
    let imported = run("networks: {}\n");
    assert_eq!(codes(&imported), ["M1024"]);
}
