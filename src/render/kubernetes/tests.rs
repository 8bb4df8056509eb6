use std::path::Path;
use std::sync::Arc;

use serde_norway::Value;

use super::*;
use crate::check::check_one;
use crate::source::SourceFile;

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
        .unwrap_or_else(|| {
            let all: Vec<_> = files.iter().map(|f| f.path.display().to_string()).collect();
            panic!("no {path} in {all:#?}")
        })
        .body
}

/// Every document of a YAML stream.
fn docs(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .map(|d| serde_norway::from_str(d).expect("YAML"))
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind}"))
}

const SHOP: &str = r#"
version: 1
name: shop_app
engines:
  kubernetes: { ingress_class: nginx, storage_class: fast }
phases:
  data: { order: 1, timeout: 60s }
  apps: { order: 2, timeout: 90s }
groups:
  web: { services: [api] }
networks:
  backend: { internal: true }
  edge: {}
volumes:
  pgdata: { size: 5Gi }
domain: example.com
variables:
  LEVEL: { default: info }
secrets:
  pw: { kind: password, length: 20 }
services:
  db:
    image: postgres:16
    phase: data
    networks: [backend]
    expose: [5432]
    volumes: ["pgdata:/var/lib/postgresql/data"]
    env:
      POSTGRES_PASSWORD: { secret: pw }
    health:
      exec: ["pg_isready"]
      interval: 5s
      start_period: 20s
  migrate:
    image: shop/migrate:1
    phase: data
    job: true
    networks: [backend]
    depends_on: [db]
  api:
    image: shop/api:1
    phase: apps
    replicas: 2
    networks: [backend, edge]
    expose: [8080]
    subdomain: api
    env:
      LOG_LEVEL: ${LEVEL}
      DB: ${host:db}
      CMD: "echo $$(date)"
    depends_on: [db, migrate]
    health:
      http: { port: 8080, path: /health }
    resources: { cpus: 0.5, memory: 256M }
    placement: { labels: { disk: ssd } }
environments:
  production:
    services:
      api: { replicas: 4 }
      migrate: { env: { MODE: prod } }
      extra: { image: shop/extra:1, phase: apps }
  small:
    services:
      db: { enabled: false }
      migrate: { enabled: false }
      api: { depends_on: [] }
"#;

#[test]
fn one_workload_per_service_of_the_right_kind() {
    let files = render_all(&from_text(SHOP));
    let db = docs(body(&files, "kubernetes/base/services/db.yaml"));
    let sts = kind(&db, "StatefulSet");
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"],
        "fast"
    );
    let container = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["readinessProbe"]["exec"]["command"][0],
        "pg_isready"
    );
    assert_eq!(container["startupProbe"]["failureThreshold"], 7);
    assert_eq!(container["envFrom"][0]["secretRef"]["name"], "db-secrets");
    assert_eq!(kind(&db, "Service")["spec"]["ports"][0]["port"], 5432);

    let migrate = docs(body(&files, "kubernetes/base/services/migrate.yaml"));
    let job = kind(&migrate, "Job");
    assert!(
        job["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("migrate-")
    );
    assert_eq!(job["metadata"]["annotations"][DEPENDS_ON], "db=healthy");
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");

    let api = docs(body(&files, "kubernetes/base/services/api.yaml"));
    let deployment = kind(&api, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let labels = &deployment["metadata"]["labels"];
    assert_eq!(labels[STACK], "shop-app");
    assert_eq!(labels[PHASE], "apps");
    assert_eq!(labels["group.muster.dev/web"], "true");
    let pod = &deployment["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"]["network.muster.dev/edge"], "true");
    assert_eq!(pod["spec"]["nodeSelector"]["disk"], "ssd");
    let c = &pod["spec"]["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(c["resources"]["limits"]["cpu"], "500m");
    assert_eq!(c["resources"]["limits"]["memory"], "256Mi");
    assert_eq!(
        deployment["metadata"]["annotations"][DEPENDS_ON],
        "db=healthy,migrate=completed"
    );
    let cm = kind(&api, "ConfigMap");
    assert_eq!(cm["data"]["LOG_LEVEL"], "info");
    assert_eq!(cm["data"]["DB"], "db");
    assert_eq!(cm["data"]["CMD"], "echo $(date)");
    let ingress = kind(&api, "Ingress");
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(ingress["spec"]["rules"][0]["host"], "api.example.com");
    assert_eq!(
        kind(&api, "NetworkPolicy")["metadata"]["name"],
        "api-from-ingress"
    );

    let policies = docs(body(&files, "kubernetes/base/network-policies.yaml"));
    let names: Vec<&str> = policies
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "default-deny",
            "allow-dns",
            "network-backend",
            "network-edge"
        ]
    );
    // An internal network may not leave the cluster; another may.
    assert_eq!(
        policies[2]["spec"]["egress"].as_sequence().unwrap().len(),
        1
    );
    assert_eq!(
        policies[3]["spec"]["egress"].as_sequence().unwrap().len(),
        2
    );
}

#[test]
fn base_kustomization_lists_files_and_generators() {
    let files = render_all(&from_text(SHOP));
    let k: Value =
        serde_norway::from_str(body(&files, "kubernetes/base/kustomization.yaml")).unwrap();
    assert_eq!(k["namespace"], "shop-app");
    assert_eq!(k["resources"][0], "namespace.yaml");
    let generator = &k["secretGenerator"][0];
    assert_eq!(generator["name"], "db-secrets");
    assert_eq!(
        generator["envs"][0],
        "../../../.muster/runtime/kubernetes/db.env"
    );
    assert_eq!(generator["options"]["labels"][PHASE], "data");
}

#[test]
fn overlays_carry_exactly_the_changes() {
    let files = render_all(&from_text(SHOP));
    let k: Value = serde_norway::from_str(body(
        &files,
        "kubernetes/overlays/production/kustomization.yaml",
    ))
    .unwrap();
    assert_eq!(k["resources"][0], "../../base");
    // `extra` joins the default network, which only production uses: a new policy too; the
    // job gets a ConfigMap for its new plain env.
    assert_eq!(
        k["resources"],
        serde_norway::from_str::<Value>(
            "[../../base, network-policies.yaml, services/migrate.yaml, services/extra.yaml]"
        )
        .unwrap()
    );
    let patches: Vec<&str> = k["patches"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert!(
        patches[0].starts_with("patches/job-migrate-"),
        "{patches:?}"
    );
    let api = docs(body(
        &files,
        "kubernetes/overlays/production/patches/deployment-api.yaml",
    ));
    assert_eq!(
        api[0],
        serde_norway::from_str::<Value>("[{op: replace, path: /spec/replicas, value: 4}]").unwrap()
    );
    // The job changed: a new name, allowed by the patch.
    let job = k["patches"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["target"]["kind"] == "Job")
        .unwrap();
    assert_eq!(job["options"]["allowNameChange"], true);

    let small: Value =
        serde_norway::from_str(body(&files, "kubernetes/overlays/small/kustomization.yaml"))
            .unwrap();
    let deleted: Vec<&str> = small["patches"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|p| p["path"].as_str().unwrap().contains("delete-"))
        .map(|p| p["target"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        deleted.contains(&"StatefulSet") && deleted.contains(&"Secret"),
        "{deleted:?}"
    );
}

#[test]
fn deploy_script_orders_phases() {
    let files = render_all(&from_text(SHOP));
    let script = files
        .iter()
        .find(|f| f.path == Path::new("kubernetes/deploy.sh"))
        .unwrap();
    assert!(script.executable);
    assert!(
        script
            .body
            .contains("steps=(muster.dev/phase=data:60 muster.dev/phase=apps:90)")
    );
}

#[test]
fn extra_kubernetes_merges_last() {
    let text = r#"
version: 1
name: x
services:
  a:
    image: a:1
    expose: [80]
    extra:
      kubernetes:
        workload: { spec: { revisionHistoryLimit: 2 } }
        pod: { priorityClassName: high }
        container: { imagePullPolicy: Always }
        service: { spec: { type: LoadBalancer } }
"#;
    let files = render_all(&from_text(text));
    let a = docs(body(&files, "kubernetes/base/services/a.yaml"));
    let d = kind(&a, "Deployment");
    assert_eq!(d["spec"]["revisionHistoryLimit"], 2);
    assert_eq!(d["spec"]["template"]["spec"]["priorityClassName"], "high");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "Always"
    );
    assert_eq!(kind(&a, "Service")["spec"]["type"], "LoadBalancer");
    // Without phases, the script deploys every service in one step.
    let script = body(&files, "kubernetes/deploy.sh");
    assert!(script.contains("steps=(muster.dev/service:120)"));
}

#[test]
fn every_example_renders_deterministically() {
    for name in ["homelab", "microservices", "nomad", "selfhosted"] {
        let reg = example(name);
        let files = render_all(&reg);
        assert_eq!(files, render_all(&reg), "{name}");
        for f in &files {
            if f.path.extension().is_some_and(|e| e == "yaml") {
                docs(&f.body);
            }
        }
    }
}

#[test]
fn merge_replaces_removes_and_recurses() {
    let mut a = serde_json::json!({"a": {"b": 1, "c": 2}, "d": [1]});
    merge(
        &mut a,
        &serde_json::json!({"a": {"b": null, "e": 3}, "d": [2]}),
    );
    assert_eq!(a, serde_json::json!({"a": {"c": 2, "e": 3}, "d": [2]}));
}

#[test]
fn secret_files_are_readable_by_the_numeric_user_only() {
    let text = r#"
version: 1
name: x
secrets:
  key: { kind: hex, bytes: 8 }
services:
  owned:
    image: a:1
    user: "1000:2000"
    env: { KEY_FILE: { secret: key, as: file } }
  anyone:
    image: a:1
    secrets: [key]
"#;
    let files = render_all(&from_text(text));
    let pod = |name: &str| {
        let docs = docs(body(
            &files,
            &format!("kubernetes/base/services/{name}.yaml"),
        ));
        kind(&docs, "Deployment")["spec"]["template"]["spec"].clone()
    };
    let owned = pod("owned");
    assert_eq!(owned["securityContext"]["fsGroup"], 2000);
    assert_eq!(owned["volumes"][0]["secret"]["defaultMode"], 0o440);
    assert_eq!(owned["containers"][0]["securityContext"]["runAsUser"], 1000);
    let anyone = pod("anyone");
    assert!(anyone["securityContext"].is_null());
    assert_eq!(anyone["volumes"][0]["secret"]["defaultMode"], 0o444);
}

#[test]
fn odd_extras_do_not_panic() {
    let text = r#"
version: 1
name: x
services:
  a:
    image: a:1
    job: true
    extra:
      kubernetes:
        workload: { metadata: 5, spec: [] }
        pod: 7
        container: { name: null }
        service: "x"
"#;
    let files = render_all(&from_text(text));
    assert!(!body(&files, "kubernetes/base/services/a.yaml").is_empty());
}

#[test]
fn aliases_are_more_services_for_the_same_pods() {
    let text = r#"
version: 1
name: x
networks:
  back: {}
services:
  db:
    image: postgres:16
    expose: [5432]
    aliases: [pg, "pg.internal"]
    networks: { back: { aliases: [database, web] } }
  web:
    image: web:1
    expose: [80]
    aliases: [pg]
"#;
    let files = render_all(&from_text(text));
    let db = docs(body(&files, "kubernetes/base/services/db.yaml"));
    let services: Vec<&str> = db
        .iter()
        .filter(|d| d["kind"] == "Service")
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    // `web` is a service's own name: not an alias of another.
    assert_eq!(services, ["db", "pg", "database"]);
    let warning = kind(&db, "Deployment")["metadata"]["annotations"][names::WARNING]
        .as_str()
        .unwrap();
    assert!(warning.contains("pg.internal"), "{warning}");
    // `pg` was taken by db first.
    let web = docs(body(&files, "kubernetes/base/services/web.yaml"));
    assert_eq!(web.iter().filter(|d| d["kind"] == "Service").count(), 1);
}
