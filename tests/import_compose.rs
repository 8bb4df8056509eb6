//! `muster import compose` against real Compose projects (../shared/corpus, read in place).
//!
//! The round trip: every awesome-compose project and every compose-go fixture that Compose v1
//! loads is copied to a temporary folder (with the build folders and env files the corpus
//! lacks created empty), imported, generated with `muster gen compose`, and the
//! `docker-compose config` of the original and of the generated `deploy/compose/stack.yml`
//! are compared as parsed documents.
//!
//! Compose v1 refuses a top-level `name:`: it reads a copy without it (the name is what `-p`
//! gives, as for muster's flat file).
//!
//! Normalised before comparing, because they only change how the same thing is written:
//! - a volume mount as `src:dst:mode` or as `{type, source, target, read_only}`;
//! - `protocol: tcp` of a port, the default;
//! - a network a service joins without settings, as `null` or `{}`;
//! - a health check `test` as a string or as `[CMD-SHELL, string]`, which Compose defines as
//!   the same;
//! - the top-level `version` Compose v1 prints (the file's, else 3.9): an obsolete marker of
//!   the schema, which muster does not write;
//! - `expose` ports and `environment` values as numbers or strings (Docker reads text);
//! - `extra_hosts` as a list of `host:ip` or a mapping;
//! - sizes (`1G` or `1g`) as bytes;
//! - an empty `default` network: Compose's own network, declared or not;
//! - `driver: bridge` of a network and `driver: local` of a volume, Docker's defaults;
//! - `x-muster` notes, which are comments for people;
//! - a secret's `file`, compared by content: muster delivers the same file from
//!   `.muster/runtime/compose/secrets/` (`muster secrets export compose` copies it there).
//!
//! Tools missing: the test prints why and passes, except under `CI=true`, where it fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_norway::{Mapping, Value};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The shared corpus, read in place; absent on a laptop (skip), required under CI.
fn corpus(relative: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(!in_ci(), "{} is missing under CI=true", path.display());
    eprintln!("skipped: {} is missing", path.display());
    None
}

fn compose_v1() -> bool {
    let ok = Command::new("docker-compose")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(!in_ci(), "docker-compose (v1) is required under CI=true");
        eprintln!("skipped: docker-compose (v1) is not installed");
    }
    ok
}

fn muster(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("muster runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

static PROJECT: AtomicUsize = AtomicUsize::new(0);

/// `docker-compose config` of `file` (run in its folder) under a unique project name;
/// creates the build folders and env files it misses, as they are absent from the corpus.
fn config(file: &Path, env_file: Option<&Path>) -> Result<Value, String> {
    let dir = file.parent().unwrap();
    let project = format!(
        "musterimport{}x{}",
        std::process::id(),
        PROJECT.fetch_add(1, Ordering::Relaxed)
    );
    for _ in 0..20 {
        let mut cmd = Command::new("docker-compose");
        cmd.arg("-p").arg(&project);
        if let Some(env) = env_file {
            cmd.arg("--env-file").arg(env);
        }
        let out = cmd
            .arg("-f")
            .arg(file.file_name().unwrap())
            .arg("config")
            .current_dir(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            return serde_norway::from_slice(&out.stdout).map_err(|e| e.to_string());
        }
        let err = text(&out.stderr);
        if let Some(path) = after(&err, "build path ") {
            std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        } else if let Some(path) = after(&err, "Couldn't find env file: ") {
            std::fs::create_dir_all(Path::new(path).parent().unwrap()).ok();
            std::fs::write(path, "").map_err(|e| e.to_string())?;
        } else {
            return Err(err.trim().to_string());
        }
    }
    Err("too many missing files".into())
}

/// The file Compose v1 reads for `file`: a copy beside it without the top-level `name:`,
/// which v1 refuses (the project name is given with `-p`, as for muster's flat file).
fn v1_copy(file: &Path) -> PathBuf {
    let text = std::fs::read_to_string(file).unwrap();
    let is_name = |l: &&str| l.split(':').next().is_some_and(|k| k.trim_end() == "name");
    if !text.lines().any(|l| is_name(&l)) {
        return file.to_path_buf();
    }
    let kept: Vec<&str> = text.lines().filter(|l| !is_name(l)).collect();
    let copy = file.with_file_name(format!(
        "v1-{}",
        file.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&copy, kept.join("\n")).unwrap();
    copy
}

/// The path that follows `marker` in an error message.
fn after<'a>(err: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &err[err.find(marker)? + marker.len()..];
    rest.split_whitespace().next()
}

struct Case {
    name: String,
    /// The folder copied to the temporary folder.
    root: PathBuf,
    /// The compose file, relative to `root`.
    file: PathBuf,
}

fn cases() -> Option<Vec<Case>> {
    let awesome = corpus("awesome-compose")?;
    let compose_go = corpus("compose-go")?;
    let mut cases = Vec::new();
    let mut projects: Vec<PathBuf> = std::fs::read_dir(&awesome)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    projects.sort();
    for project in projects {
        let file = [
            "compose.yaml",
            "compose.yml",
            "docker-compose.yml",
            "docker-compose.yaml",
        ]
        .iter()
        .find(|f| project.join(f).exists())
        .expect("a compose file in every awesome-compose project");
        cases.push(Case {
            name: format!(
                "awesome-compose/{}",
                project.file_name().unwrap().to_string_lossy()
            ),
            root: project.clone(),
            file: PathBuf::from(file),
        });
    }
    let mut fixtures = Vec::new();
    collect_yaml(&compose_go, &compose_go, &mut fixtures);
    fixtures.sort();
    for file in fixtures {
        cases.push(Case {
            name: format!("compose-go/{}", file.display()),
            root: compose_go.clone(),
            file,
        });
    }
    Some(cases)
}

fn collect_yaml(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_yaml(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path.strip_prefix(root).unwrap().to_path_buf());
        }
    }
}

enum Outcome {
    /// Compose v1 cannot load the original: not counted.
    NotLoadable(String),
    Equal,
    Different(Vec<String>),
    /// `muster check` refused the import (with its report).
    CheckFailed(String),
}

fn round_trip(case: &Case, tmp: &Path) -> Outcome {
    let slug = case.name.replace(['/', '.'], "-");
    let root = tmp.join(&slug);
    copy_dir(&case.root, &root);
    let file = root.join(&case.file);
    let dir = file.parent().unwrap().to_path_buf();
    let env_file = dir.join(".env");
    let env_file = env_file.exists().then_some(env_file);
    let original = match config(&v1_copy(&file), env_file.as_deref()) {
        Ok(v) => v,
        Err(e) => return Outcome::NotLoadable(e.lines().last().unwrap_or_default().to_string()),
    };
    let name = case.file.file_name().unwrap().to_str().unwrap();
    let out = muster(&dir, &["import", "compose", name, "-o", "muster.yaml"]);
    if !out.status.success() {
        return Outcome::CheckFailed(format!("import failed: {}", text(&out.stderr)));
    }
    let check = muster(&dir, &["check"]);
    if !check.status.success() {
        return Outcome::CheckFailed(text(&check.stdout));
    }
    let out = muster(&dir, &["gen", "compose"]);
    if !out.status.success() {
        return Outcome::CheckFailed(format!("gen failed: {}", text(&out.stderr)));
    }
    // Secret files the corpus lacks are created (Compose v1 does not read them; muster
    // refuses an empty external secret).
    if let Some(secrets) = original.get("secrets").and_then(Value::as_mapping) {
        for s in secrets.values() {
            if let Some(f) = s.get("file").and_then(Value::as_str)
                && !Path::new(f).exists()
            {
                std::fs::create_dir_all(Path::new(f).parent().unwrap()).ok();
                std::fs::write(f, "a secret the corpus lacks").unwrap();
            }
        }
        let out = muster(&dir, &["secrets", "export", "compose"]);
        if !out.status.success() {
            return Outcome::CheckFailed(format!("secrets export failed: {}", text(&out.stderr)));
        }
    }
    let generated = match config(&dir.join("deploy/compose/stack.yml"), env_file.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            return Outcome::Different(vec![format!("the generated file does not load: {e}")]);
        }
    };
    let (a, b) = (normalise(original), normalise(generated));
    let mut diffs = Vec::new();
    diff("", &a, &b, &mut diffs);
    if diffs.is_empty() {
        Outcome::Equal
    } else {
        Outcome::Different(diffs)
    }
}

/// The presentation-only normalisations listed in the module comment.
fn normalise(mut doc: Value) -> Value {
    if let Value::Mapping(m) = &mut doc {
        m.shift_remove("version");
    }
    if let Some(Value::Mapping(services)) = doc.get_mut("services") {
        for service in services.values_mut() {
            let Value::Mapping(s) = service else { continue };
            s.shift_remove("x-muster");
            if let Some(Value::Sequence(vols)) = s.get_mut("volumes") {
                for v in vols.iter_mut() {
                    *v = mount(v);
                }
            }
            if let Some(Value::Mapping(nets)) = s.get_mut("networks") {
                for v in nets.values_mut() {
                    if v.as_mapping().is_some_and(Mapping::is_empty) {
                        *v = Value::Null;
                    }
                }
            }
            if let Some(Value::Sequence(ports)) = s.get_mut("ports") {
                for p in ports.iter_mut().filter_map(Value::as_mapping_mut) {
                    if p.get("protocol").and_then(Value::as_str) == Some("tcp") {
                        p.shift_remove("protocol");
                    }
                }
            }
            if let Some(Value::Sequence(expose)) = s.get_mut("expose") {
                for e in expose.iter_mut() {
                    *e = Value::String(scalar(e));
                }
            }
            if let Some(Value::Mapping(env)) = s.get_mut("environment") {
                for v in env.values_mut() {
                    if !v.is_null() {
                        *v = Value::String(scalar(v));
                    }
                }
            }
            if let Some(Value::Sequence(hosts)) = s.get("extra_hosts") {
                let map: Mapping = hosts
                    .iter()
                    .filter_map(Value::as_str)
                    .filter_map(|h| h.split_once(':'))
                    .map(|(k, v)| (Value::from(k), Value::from(v)))
                    .collect();
                s.insert("extra_hosts".into(), Value::Mapping(map));
            }
            if let Some(Value::String(test)) = s.get("healthcheck").and_then(|h| h.get("test")) {
                let shell = Value::Sequence(vec!["CMD-SHELL".into(), test.as_str().into()]);
                if let Some(Value::Mapping(h)) = s.get_mut("healthcheck") {
                    h.insert("test".into(), shell);
                }
            }
            if let Some(v) = s.get_mut("shm_size") {
                *v = size(v);
            }
            for kind in ["limits", "reservations"] {
                if let Some(v) = s
                    .get_mut("deploy")
                    .and_then(|d| d.get_mut("resources"))
                    .and_then(|r| r.get_mut(kind))
                    .and_then(|l| l.get_mut("memory"))
                {
                    *v = size(v);
                }
            }
        }
    }
    if let Some(Value::Mapping(networks)) = doc.get_mut("networks") {
        if networks
            .get("default")
            .is_some_and(|d| d.is_null() || d.as_mapping().is_some_and(Mapping::is_empty))
        {
            networks.shift_remove("default");
        }
        if networks.is_empty()
            && let Value::Mapping(m) = &mut doc
        {
            m.shift_remove("networks");
        }
    }
    for (section, default) in [("networks", "bridge"), ("volumes", "local")] {
        if let Some(Value::Mapping(entries)) = doc.get_mut(section) {
            for entry in entries.values_mut() {
                if let Value::Mapping(e) = entry
                    && e.get("driver").and_then(Value::as_str) == Some(default)
                {
                    e.shift_remove("driver");
                }
            }
        }
    }
    if let Some(Value::Mapping(secrets)) = doc.get_mut("secrets") {
        for secret in secrets.values_mut() {
            if let Some(Value::String(f)) = secret.get("file").cloned() {
                let content = std::fs::read_to_string(&f).unwrap_or_else(|e| format!("<{e}>"));
                secret.as_mapping_mut().unwrap().insert(
                    "file".into(),
                    Value::String(format!("content: {content:?}")),
                );
            }
        }
    }
    doc
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_norway::to_string(other).unwrap().trim().to_string(),
    }
}

/// A size in bytes (`1G`, `1g`, `1024m` alike).
fn size(v: &Value) -> Value {
    let s = scalar(v).to_lowercase();
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    let factor: f64 = match unit.trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return v.clone(),
    };
    match digits.parse::<f64>() {
        Ok(n) => Value::from((n * factor) as u64),
        Err(_) => v.clone(),
    }
}

/// A mount in the long form, whichever form Compose printed.
fn mount(v: &Value) -> Value {
    let Value::String(s) = v else {
        let mut m = v.as_mapping().cloned().unwrap_or_default();
        if m.get("read_only") == Some(&Value::Bool(false)) {
            m.shift_remove("read_only");
        }
        return Value::Mapping(m);
    };
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, ""),
        [s, t] => (Some(*s), *t, ""),
        [s, t, m, ..] => (Some(*s), *t, *m),
        [] => return v.clone(),
    };
    let mut m = Mapping::new();
    let kind = match source {
        Some(s) if s.starts_with('/') => "bind",
        _ => "volume",
    };
    if let Some(s) = source {
        m.insert("source".into(), s.into());
    }
    m.insert("target".into(), target.into());
    m.insert("type".into(), kind.into());
    if mode.split(',').any(|o| o == "ro") {
        m.insert("read_only".into(), true.into());
    }
    Value::Mapping(m)
}

fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Mapping(x), Value::Mapping(y)) => {
            let keys: BTreeMap<String, ()> =
                x.keys().chain(y.keys()).map(|k| (scalar(k), ())).collect();
            for key in keys.keys() {
                let k = Value::String(key.clone());
                let here = format!("{path}.{key}");
                match (x.get(&k), y.get(&k)) {
                    (Some(p), Some(q)) => diff(&here, p, q, out),
                    (Some(p), None) => {
                        out.push(format!("{here}: only in the original: {}", flat(p)))
                    }
                    (None, Some(q)) => {
                        out.push(format!("{here}: only in the generated file: {}", flat(q)))
                    }
                    (None, None) => {}
                }
            }
        }
        _ if a == b => {}
        _ => out.push(format!(
            "{path}: {} (original) vs {} (generated)",
            flat(a),
            flat(b)
        )),
    }
}

fn flat(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Why a remaining difference is there: the known limits of what muster carries, else a bug.
fn reason(difference: &str) -> &'static str {
    const KNOWN: &[(&str, &str)] = &[
        (
            ".profiles",
            "muster gives a grouped service the groups of the services that need it (REGISTRY.md \"Groups on Compose\")",
        ),
        (
            ".configs",
            "Compose configs are kept under `x-compose-configs`, not generated",
        ),
        (
            ".driver",
            "a network or volume driver muster has no place for (kept under `x-compose`)",
        ),
        (
            ".ipam",
            "an address plan beyond one subnet (kept under `x-compose`)",
        ),
        (
            ".labels",
            "labels of a network or volume (kept under `x-compose`)",
        ),
    ];
    KNOWN
        .iter()
        .find(|(pattern, _)| difference.contains(pattern))
        .map_or("not explained: an importer bug", |(_, why)| why)
}

/// Projects compared at the same time (each runs `docker-compose` a few times).
const WORKERS: usize = 3;

#[test]
fn round_trip_of_real_compose_projects() {
    if !compose_v1() {
        return;
    }
    let Some(cases) = cases() else { return };
    let tmp = std::env::temp_dir().join(format!("muster-import-rt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let next = AtomicUsize::new(0);
    let mut outcomes: Vec<(usize, Outcome)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(case) = cases.get(i) else { break };
                        done.push((i, round_trip(case, &tmp)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a round-trip worker"))
            .collect()
    });
    outcomes.sort_by_key(|(i, _)| *i);
    let _ = std::fs::remove_dir_all(&tmp);
    let (mut equal, mut total) = (0, 0);
    let mut report = String::new();
    let mut refused = Vec::new();
    for (i, outcome) in outcomes {
        let case = &cases[i];
        match outcome {
            Outcome::NotLoadable(why) => {
                report.push_str(&format!(
                    "skip   {}: Compose v1 cannot load it: {why}\n",
                    case.name
                ));
                continue;
            }
            Outcome::Equal => {
                equal += 1;
                report.push_str(&format!("equal  {}\n", case.name));
            }
            Outcome::Different(diffs) => {
                report.push_str(&format!("differ {}\n", case.name));
                for d in diffs {
                    report.push_str(&format!(
                        "         {d}\n           reason: {}\n",
                        reason(&d)
                    ));
                }
            }
            Outcome::CheckFailed(why) => {
                report.push_str(&format!("check  {}:\n{why}\n", case.name));
                if case.name.starts_with("awesome-compose/") {
                    refused.push(case.name.clone());
                }
            }
        }
        total += 1;
    }
    eprintln!("{report}");
    eprintln!("round trip: {equal}/{total} equal");
    assert!(
        refused.is_empty(),
        "every imported awesome-compose registry passes `muster check`: {refused:?}"
    );
    // All 39 awesome-compose projects (one through a copy without `name:`) and the 16
    // compose-go fixtures Compose v1 loads.
    let floor = 55;
    assert!(
        total >= floor && equal >= floor,
        "round trip: {equal}/{total} equal, expected at least {floor}/{floor}"
    );
}

/// A temporary folder of this test process, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("muster-import-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const CODIESVIBE_BASE: [&str; 2] = [
    "docker-compose/docker-compose.yml",
    "docker-compose/infrastructure/docker-compose.infra.yml",
];

#[test]
fn codiesvibe_imports_with_its_environments_and_passes_check() {
    let Some(src) = corpus("seed-projects/codiesvibe/pr21-head") else {
        return;
    };
    let tmp = Scratch::new("codiesvibe");
    let dir = tmp.0.join("codiesvibe");
    copy_dir(&src, &dir);
    let mut args = vec!["import", "compose"];
    args.extend(CODIESVIBE_BASE);
    args.extend([
        "--env",
        "development=docker-compose/environments/docker-compose.development.yml",
        "--env",
        "production=docker-compose/environments/docker-compose.production.yml",
    ]);
    let out = muster(&dir, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let registry: Value =
        serde_norway::from_str(&std::fs::read_to_string(dir.join("muster.yaml")).unwrap()).unwrap();
    let services = registry["services"].as_mapping().unwrap();
    // The root file's `include` (services/) and the infrastructure file.
    for name in [
        "nestjs-api",
        "fastify-api",
        "gateway",
        "mongodb",
        "redis",
        "mcp-server",
    ] {
        assert!(services.contains_key(name), "no service {name}");
    }
    // `extends` of the environment files, as overlays.
    let prod = &registry["environments"]["production"]["services"]["nestjs-api"];
    assert_eq!(prod["build"]["target"], Value::from("production"));
    assert_eq!(prod["read_only"], Value::Bool(true));
    let dev = &registry["environments"]["development"]["services"]["nestjs-api"];
    assert_eq!(dev["build"]["target"], Value::from("development"));
    // Engine-level names kept, so the network reattaches.
    assert_eq!(
        registry["networks"]["codiesvibe-network"]["name"],
        Value::from("codiesvibe-network")
    );
    let check = muster(&dir, &["check"]);
    assert!(check.status.success(), "{}", text(&check.stdout));
    let out = muster(&dir, &["gen", "compose"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn codiesvibe_with_monitoring_names_the_sources_port_clash() {
    let Some(src) = corpus("seed-projects/codiesvibe/pr21-head") else {
        return;
    };
    let tmp = Scratch::new("codiesvibe-monitoring");
    let mut args = vec!["import", "compose"];
    args.extend(CODIESVIBE_BASE);
    args.push("docker-compose/infrastructure/docker-compose.monitoring.yml");
    copy_dir(&src, &tmp.0);
    let out = muster(&tmp.0, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Both files publish Grafana on host port 3002: the source's own mistake, and the only
    // thing `check` reports.
    let check = muster(&tmp.0, &["check"]);
    let report = text(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{report}");
    assert!(
        report.contains("error[M0401]: `grafana-extended` and `grafana` both publish 3002/tcp"),
        "{report}"
    );
    assert!(report.contains("1 error, 0 warnings"), "{report}");
}

#[test]
fn service_keys_nested_under_networks_are_located() {
    let Some(src) = corpus("seed-projects/codiesvibe/pr21-first-invalid") else {
        return;
    };
    let tmp = Scratch::new("codiesvibe-invalid");
    copy_dir(&src, &tmp.0);
    let mut args = vec!["import", "compose"];
    args.extend(CODIESVIBE_BASE);
    let out = muster(&tmp.0, &args);
    let stderr = text(&out.stderr);
    for (file, line) in [
        ("docker-compose/services/docker-compose.nestjs.yml", 20),
        ("docker-compose/services/docker-compose.fastify.yml", 20),
        ("docker-compose/services/docker-compose.gateway.yml", 20),
    ] {
        assert!(
            stderr.contains(&format!("--> {file}:{line}:5")),
            "{file}:{line} in\n{stderr}"
        );
    }
    assert!(
        stderr.contains("warning[M1010]: `restart` is not a key of a Compose network"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "`healthcheck` is a key of a service: its indentation puts it under a Compose network"
        ),
        "{stderr}"
    );
}

#[test]
fn snapshot_of_an_imported_registry() {
    let Some(src) = corpus("awesome-compose/nginx-golang-mysql") else {
        return;
    };
    let tmp = Scratch::new("snapshot");
    let dir = tmp.0.join("nginx-golang-mysql");
    copy_dir(&src, &dir);
    let out = muster(&dir, &["import", "compose", "compose.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    insta::assert_snapshot!(
        "nginx-golang-mysql",
        std::fs::read_to_string(dir.join("muster.yaml")).unwrap()
    );
}

#[test]
fn include_is_followed_and_a_cycle_is_an_error() {
    let Some(src) = corpus("compose-go/testdata") else {
        return;
    };
    let tmp = Scratch::new("include");
    copy_dir(&src, &tmp.0);
    let out = muster(
        &tmp.0,
        &[
            "import",
            "compose",
            "compose-include.yaml",
            "-o",
            "inc.yaml",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let registry: Value =
        serde_norway::from_str(&std::fs::read_to_string(tmp.0.join("inc.yaml")).unwrap()).unwrap();
    let services: Vec<&str> = registry["services"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        services.contains(&"bar") && services.len() > 1,
        "{services:?}"
    );

    let out = muster(
        &tmp.0,
        &[
            "import",
            "compose",
            "compose-include-cycle.yaml",
            "-o",
            "cycle.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error[M1002]"), "{stderr}");
    assert!(
        stderr.contains("compose-include-cycle.yaml:2:5"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(!tmp.0.join("cycle.yaml").exists());
}

#[test]
fn an_existing_registry_is_replaced_only_with_force() {
    let tmp = Scratch::new("force");
    std::fs::write(
        tmp.0.join("compose.yaml"),
        "services:\n  web:\n    image: nginx:1.27\n",
    )
    .unwrap();
    std::fs::write(tmp.0.join("muster.yaml"), "mine\n").unwrap();
    let out = muster(&tmp.0, &["import", "compose", "compose.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("muster.yaml already exists"));
    assert_eq!(
        std::fs::read_to_string(tmp.0.join("muster.yaml")).unwrap(),
        "mine\n"
    );
    let out = muster(&tmp.0, &["import", "compose", "compose.yaml", "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(tmp.0.join("muster.yaml"))
            .unwrap()
            .contains("image: nginx:1.27")
    );
}

#[test]
fn bad_input_gets_located_errors_and_nothing_is_written() {
    let tmp = Scratch::new("bad");
    std::fs::write(
        tmp.0.join("compose.yaml"),
        "services:\n  web:\n    image: nginx\n    extends: { service: bsae }\n  base:\n    image: x\n",
    )
    .unwrap();
    std::fs::write(tmp.0.join("broken.yaml"), "services:\n  web: [\n").unwrap();
    let out = muster(&tmp.0, &["import", "compose", "compose.yaml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error[M1003]: `extends` names `bsae`"),
        "{stderr}"
    );
    assert!(stderr.contains("compose.yaml:4:14"), "{stderr}");
    assert!(stderr.contains("did you mean `base`?"), "{stderr}");
    let out = muster(&tmp.0, &["import", "compose", "broken.yaml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error[M0101]"), "{stderr}");
    assert!(stderr.contains("broken.yaml:"), "{stderr}");
    assert!(!tmp.0.join("muster.yaml").exists());
    // `docker compose -f` habits get a hint, not a registry written from nothing.
    let out = muster(
        &tmp.0,
        &["import", "compose", "-f", "compose.yaml", "broken.yaml"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("give the Compose files as arguments"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn every_corpus_compose_file_imports_without_panic_and_findings_point_into_their_files() {
    let Some(root) = corpus("") else { return };
    let mut files = Vec::new();
    for folder in ["compose-go", "awesome-compose", "seed-projects/codiesvibe"] {
        collect_yaml(&root.join(folder), &root.join(folder), &mut files);
        let prefix = root.join(folder);
        for f in files.iter_mut().filter(|f| f.is_relative()) {
            *f = prefix.join(&*f);
        }
    }
    assert!(files.len() > 50, "{} files", files.len());
    let tmp = Scratch::new("every");
    for file in &files {
        let imported = muster::import::compose::import(std::slice::from_ref(file), &tmp.0)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for f in &imported.findings {
            if let Some(span) = f.diagnostic.span {
                assert!(
                    span.end <= f.file.text.len(),
                    "{}: a finding points past the end of {}",
                    file.display(),
                    f.file.name
                );
            }
        }
        if !imported.has_errors() {
            let text = imported.draft.to_yaml();
            serde_norway::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("{}: the registry does not parse: {e}", file.display()));
        }
    }
}

/// Two `-f` files with what Compose merges in its own way, profiles, conditions, `extends`
/// and variables: the same round trip as for the corpus, with `-f base -f override`.
#[test]
fn round_trip_of_merged_files() {
    if !compose_v1() {
        return;
    }
    let tmp = Scratch::new("merged");
    let dir = tmp.0.join("merged");
    std::fs::create_dir_all(dir.join("api")).unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        r#"x-logging: &logging
  driver: json-file
  options: { max-size: 10m }
services:
  base-app:
    image: ${REGISTRY:-registry.example.com}/app:1.4
    environment: [LOG_LEVEL=info, "GREETING=hello $$USER"]
    logging: *logging
  api:
    extends: base-app
    build: { context: ./api, args: [VERSION=1] }
    command: [serve, --port, "8080"]
    ports: ["8080:8080"]
    volumes: ["data:/data", "./api:/src:ro"]
    depends_on:
      db: { condition: service_healthy }
      migrate: { condition: service_completed_successfully }
    healthcheck:
      test: [CMD, wget, -q, -O-, http://localhost:8080/health]
      interval: 1m30s
  migrate:
    image: registry.example.com/app:1.4
    command: migrate
    restart: "no"
  db:
    image: postgres:16.4
    healthcheck: { test: pg_isready, interval: 5s }
    volumes: ["pg:/var/lib/postgresql/data"]
    shm_size: 1G
  toolbox:
    image: busybox:1.36
    profiles: [debug]
    depends_on: [api]
    networks:
      front: { priority: 10 }
      back:
networks:
  front: {}
  back: { internal: true }
volumes:
  data: { name: legacy_data }
  pg: {}
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("compose.override.yaml"),
        r#"services:
  api:
    command: [serve, --port, "9090"]
    environment: { LOG_LEVEL: debug, EXTRA: "1" }
    ports: ["9090:9090"]
    volumes: ["other:/data"]
    deploy: { resources: { limits: { cpus: "0.5", memory: 512M } } }
  db:
    environment: { POSTGRES_DB: app }
volumes:
  other: { external: true }
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("compose.prod.yaml"),
        r#"services:
  api:
    image: registry.example.com/app:2.0
    environment: { LOG_LEVEL: warn }
    deploy: { replicas: 3 }
  db:
    shm_size: 2G
  cache:
    image: valkey/valkey:8.0
"#,
    )
    .unwrap();
    let project = format!("musterimportmerged{}", std::process::id());
    let v1 = |args: &[&str]| {
        let out = Command::new("docker-compose")
            .arg("-p")
            .arg(&project)
            .args(args)
            .arg("config")
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_norway::from_slice::<Value>(&out.stdout).unwrap()
    };
    let original = v1(&["-f", "compose.yaml", "-f", "compose.override.yaml"]);
    let out = muster(
        &dir,
        &[
            "import",
            "compose",
            "compose.yaml",
            "compose.override.yaml",
            "--env",
            "prod=compose.prod.yaml",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let registry: Value =
        serde_norway::from_str(&std::fs::read_to_string(dir.join("muster.yaml")).unwrap()).unwrap();
    assert_eq!(
        registry["services"]["toolbox"]["groups"],
        serde_norway::from_str::<Value>("[debug]").unwrap()
    );
    assert_eq!(registry["services"]["migrate"]["job"], Value::Bool(true));
    assert!(registry["variables"]["REGISTRY"].is_mapping());
    let check = muster(&dir, &["check"]);
    assert!(check.status.success(), "{}", text(&check.stdout));
    let out = muster(&dir, &["gen", "compose"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let generated = v1(&["-f", "deploy/compose/stack.yml"]);
    let mut diffs = Vec::new();
    diff("", &normalise(original), &normalise(generated), &mut diffs);
    assert!(diffs.is_empty(), "{diffs:#?}");
    // The override file as an environment: the same as Compose's merge of all three.
    let original = v1(&[
        "-f",
        "compose.yaml",
        "-f",
        "compose.override.yaml",
        "-f",
        "compose.prod.yaml",
    ]);
    let generated = v1(&["-f", "deploy/compose/stack.prod.yml"]);
    diff("", &normalise(original), &normalise(generated), &mut diffs);
    assert!(diffs.is_empty(), "environment prod: {diffs:#?}");
}

mod hostile {
    //! Mutated corpus files (lines dropped, repeated, re-indented, tokens inserted, cut
    //! short) never make the importer panic, and its findings stay inside their files.

    use super::*;
    use proptest::prelude::*;

    const TOKENS: &[&str] = &[
        ": ",
        "- ",
        "{",
        "[",
        "]",
        "*a",
        "&a ",
        "<<: *a",
        "${",
        "!reset ",
        "!override ",
        "extends: web",
        "extends: { file: missing.yml, service: x }",
        "include: [compose.yaml]",
        "null",
        "\"",
        "depends_on: [self]",
        "healthcheck: { test: [] }",
    ];

    #[derive(Debug, Clone)]
    enum Mutation {
        DropLine(usize),
        RepeatLine(usize),
        Indent(usize, usize),
        Insert(usize, usize),
        Truncate(usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            any::<usize>().prop_map(Mutation::DropLine),
            any::<usize>().prop_map(Mutation::RepeatLine),
            (any::<usize>(), 0..12usize).prop_map(|(l, n)| Mutation::Indent(l, n)),
            (any::<usize>(), 0..TOKENS.len()).prop_map(|(p, t)| Mutation::Insert(p, t)),
            any::<usize>().prop_map(Mutation::Truncate),
        ]
    }

    fn apply(text: &str, m: &Mutation) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.is_empty() {
            return String::new();
        }
        let n = lines.len();
        match m {
            Mutation::DropLine(l) => {
                lines.remove(l % n);
            }
            Mutation::RepeatLine(l) => {
                let line = lines[l % n].clone();
                lines.insert(l % n, line);
            }
            Mutation::Indent(l, spaces) => {
                let line = lines[l % n].trim_start().to_string();
                lines[l % n] = format!("{}{line}", " ".repeat(*spaces));
            }
            Mutation::Insert(p, t) => {
                let line = &mut lines[p % n];
                let mut at = (p / n) % (line.len() + 1);
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                line.insert_str(at, TOKENS[*t]);
            }
            Mutation::Truncate(p) => lines.truncate(p % n + 1),
        }
        lines.join("\n")
    }

    fn sources() -> Vec<(PathBuf, String)> {
        let Some(root) = corpus("") else {
            return Vec::new();
        };
        let mut files = Vec::new();
        for folder in ["compose-go/testdata", "awesome-compose"] {
            let mut found = Vec::new();
            collect_yaml(&root.join(folder), &root.join(folder), &mut found);
            files.extend(found.into_iter().map(|f| root.join(folder).join(f)));
        }
        files
            .into_iter()
            .map(|f| {
                let text = std::fs::read_to_string(&f).unwrap();
                (f, text)
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn mutated_compose_files_never_panic(
            pick in any::<usize>(),
            mutations in proptest::collection::vec(mutation(), 1..5),
        ) {
            let sources = sources();
            if sources.is_empty() {
                return Ok(());
            }
            let (_, text) = &sources[pick % sources.len()];
            let mut text = text.clone();
            for m in &mutations {
                text = apply(&text, m);
            }
            // In a folder of its own: files it names are missing, a finding like any other.
            let tmp = Scratch::new(&format!("hostile-{pick}"));
            let file = tmp.0.join("compose.yaml");
            std::fs::write(&file, &text).unwrap();
            let imported = muster::import::compose::import(std::slice::from_ref(&file), &tmp.0)
                .expect("the file was written");
            for f in &imported.findings {
                if let Some(span) = f.diagnostic.span {
                    prop_assert!(span.end <= f.file.text.len());
                }
            }
            let _ = imported.draft.to_yaml();
        }
    }
}
