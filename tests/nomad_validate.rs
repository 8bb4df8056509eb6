//! The Nomad files `muster gen nomad` writes, through the real binary, for every shipped
//! example and a registry of hostile values: every HCL file parses with python-hcl2 (see
//! `../shared/TOOLS.md`) and with the `hcl` crate, the job structure is what the registry says
//! (a job per service, checks with interval and timeout, a rule for every Traefik router,
//! well-formed tag lists, dependencies readable back, secrets only through templates), and
//! shellcheck accepts the scripts.
//!
//! No Nomad, Consul or Traefik binary exists here: the files are proved by parsing and
//! structure, not run. A test that needs a tool prints why it skips and returns, except
//! under `CI=true`, where a missing tool fails it.

mod secrets_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::Arc;

use assert_cmd::Command;
use hcl::{Block, Body, Expression};
use muster::check::check_one;
use muster::registry::Registry;
use muster::registry::model::EnvValue;
use muster::source::SourceFile;

const EXAMPLES: [&str; 4] = ["homelab", "microservices", "nomad", "selfhosted"];

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (returns false) or, in CI, fails when a tool is missing.
fn require(available: bool, what: &str) -> bool {
    if !available {
        assert!(!in_ci(), "{what} is required under CI=true");
        eprintln!("skipped: {what} is not available");
    }
    available
}

/// A Python with `hcl2` importable: the validators' venv first, then PATH.
fn python_hcl2() -> Option<PathBuf> {
    let venv = std::env::var_os("MUSTER_TOOLS_VENV").map(|v| PathBuf::from(v).join("bin/python3"));
    let found = venv
        .into_iter()
        .chain([PathBuf::from("python3")])
        .find(|p| {
            Process::new(p)
                .args(["-c", "import hcl2"])
                .output()
                .is_ok_and(|o| o.status.success())
        });
    require(
        found.is_some(),
        "python-hcl2 (`pip install python-hcl2`, in $MUSTER_TOOLS_VENV or on PATH)",
    )
    .then_some(found)
    .flatten()
}

fn have_shellcheck() -> bool {
    let found = Process::new("shellcheck")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    require(found, "shellcheck (`apt-get install shellcheck`)")
}

/// A folder with `registry` as `muster.yaml` and the output of `muster gen nomad`.
fn generate(registry: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("muster.yaml"), registry).unwrap();
    let out = Command::cargo_bin("muster")
        .unwrap()
        .env("NO_COLOR", "1")
        .current_dir(dir.path())
        .args(["gen", "nomad"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

fn example_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .join("muster.yaml");
    std::fs::read_to_string(path).unwrap()
}

fn registry(text: &str) -> Registry {
    let report = check_one(Arc::new(SourceFile::new("muster.yaml", text)), None);
    assert_eq!(report.errors(), 0);
    report.loaded.registry.unwrap()
}

fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn parse(path: &Path) -> Body {
    let text = std::fs::read_to_string(path).unwrap();
    hcl::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn blocks<'a>(body: &'a Body, name: &str) -> impl Iterator<Item = &'a Block> + 'a {
    let name = name.to_string();
    body.blocks().filter(move |b| b.identifier.as_str() == name)
}

fn block<'a>(body: &'a Body, name: &str) -> &'a Block {
    blocks(body, name)
        .next()
        .unwrap_or_else(|| panic!("no `{name}` block"))
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes()
        .find(|a| a.key.as_str() == key)
        .map(|a| &a.expr)
}

/// A string attribute (plain or a template) as its text.
fn text(e: &Expression) -> String {
    match e {
        Expression::String(s) => s.clone(),
        Expression::TemplateExpr(t) => t.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

fn label(b: &Block) -> &str {
    b.labels.first().map(|l| l.as_str()).unwrap_or_default()
}

/// Every HCL file of every example (and the hostile registry) parses with python-hcl2.
#[test]
fn python_hcl2_parses_every_file() {
    let Some(python) = python_hcl2() else {
        return;
    };
    let texts: Vec<String> = EXAMPLES
        .iter()
        .map(|e| example_text(e))
        .chain([HOSTILE.to_string()])
        .collect();
    for text in texts {
        let dir = generate(&text);
        let files = files_under(&dir.path().join("deploy/nomad"), ".hcl");
        assert!(files.len() >= 4, "{files:?}");
        let out = Process::new(&python)
            .args([
                "-c",
                "import hcl2, sys\nfor f in sys.argv[1:]:\n    with open(f) as fh:\n        hcl2.load(fh)\n",
            ])
            .args(&files)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "python-hcl2: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The jobs say what the registry says.
#[test]
fn job_structure_follows_the_registry() {
    for example in EXAMPLES {
        let source = example_text(example);
        let reg = registry(&source);
        let dir = generate(&source);
        let nomad = dir.path().join("deploy/nomad");
        let jobs = files_under(&nomad.join("jobs"), ".nomad.hcl");
        let services: Vec<&str> = reg
            .enabled_services()
            .map(|s| s.name.value.as_str())
            .collect();
        assert_eq!(jobs.len(), services.len(), "{example}: one job per service");
        for s in reg.enabled_services() {
            let name = &s.name.value;
            let body = parse(&nomad.join(format!("jobs/{name}.nomad.hcl")));
            let job = block(&body, "job");
            assert_eq!(label(job), format!("{}-{name}", reg.name.value));
            let kind = text(attr(&job.body, "type").unwrap());
            let expected = if s.job {
                "batch"
            } else if s.global {
                "system"
            } else {
                "service"
            };
            assert_eq!(kind, expected, "{example}/{name}");

            // Dependencies and phase read back from meta.
            let meta = block(&job.body, "meta");
            let deps = text(attr(&meta.body, "muster_depends_on").unwrap());
            let read: Vec<&str> = deps
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| d.split(':').next().unwrap())
                .collect();
            let want: Vec<&str> = s
                .depends_on
                .iter()
                .filter(|d| !d.optional)
                .map(|d| d.service.value.as_str())
                .collect();
            assert_eq!(read, want, "{example}/{name}: dependencies");
            let phase = text(attr(&meta.body, "muster_phase").unwrap());
            assert_eq!(
                phase,
                s.phase.as_ref().map_or("default", |p| p.value.as_str())
            );

            let group = block(&job.body, "group");
            assert_eq!(label(group), name.as_str());
            let task = block(&group.body, "task");
            let env: BTreeSet<String> = blocks(&task.body, "env")
                .flat_map(|e| e.body.attributes().map(|a| a.key.to_string()))
                .collect();
            let templates: String = blocks(&task.body, "template")
                .map(|t| text(attr(&t.body, "data").unwrap()))
                .collect();
            for (var, entry) in &s.env {
                let secret = entry.value.holds_secret()
                    && !matches!(entry.value, EnvValue::Secret { as_file: true, .. });
                if secret {
                    assert!(!env.contains(var), "{example}/{name}: {var} is in env");
                    assert!(
                        templates.contains(&format!("{var}={{{{ index . \"{var}\" | toJSON }}}}")),
                        "{example}/{name}: {var} comes from a template"
                    );
                    assert!(templates.contains(&format!(
                        "nomadVar \"nomad/jobs/{}/{name}\"",
                        reg.name.value
                    )));
                } else {
                    assert!(env.contains(var), "{example}/{name}: {var} is missing");
                }
            }

            for service in blocks(&group.body, "service") {
                check_service(example, name, service);
            }
            if s.health.has_check()
                && !s.job
                && !matches!(
                    s.health.check.as_ref().map(|c| &c.value),
                    Some(muster::registry::model::HealthCheck::Image)
                )
            {
                let service = block(&group.body, "service");
                assert_eq!(
                    blocks(&service.body, "check").count(),
                    1,
                    "{example}/{name}"
                );
            }

            let policy = parse(&nomad.join(format!("policies/{name}.policy.hcl")));
            let path = block(
                &block(&block(&policy, "namespace").body, "variables").body,
                "path",
            );
            assert_eq!(label(path), format!("nomad/jobs/{}/{name}", reg.name.value));
        }
        let traefik = parse(&nomad.join("infra/traefik.nomad.hcl"));
        let group = block(&block(&traefik, "job").body, "group");
        for service in blocks(&group.body, "service") {
            check_service(example, "traefik", service);
        }
        let consul = parse(&nomad.join("infra/consul.hcl"));
        assert!(attr(&consul, "datacenter").is_some());
    }
}

/// Every check has an interval and a timeout; the tag list holds distinct non-empty strings;
/// every Traefik router has exactly one rule.
fn check_service(example: &str, name: &str, service: &Block) {
    for check in blocks(&service.body, "check") {
        for key in ["interval", "timeout", "type"] {
            assert!(
                attr(&check.body, key).is_some(),
                "{example}/{name}: check without {key}"
            );
        }
    }
    let Some(tags) = attr(&service.body, "tags") else {
        return;
    };
    let Expression::Array(tags) = tags else {
        panic!("{example}/{name}: tags is not a list: {tags:?}");
    };
    let tags: Vec<String> = tags.iter().map(text).collect();
    let unique: BTreeSet<&String> = tags.iter().collect();
    assert_eq!(unique.len(), tags.len(), "{example}/{name}: repeated tags");
    assert!(
        tags.iter().all(|t| !t.trim().is_empty()),
        "{example}/{name}: empty tag"
    );
    let routers: BTreeSet<&str> = tags
        .iter()
        .filter_map(|t| t.strip_prefix("traefik.http.routers."))
        .filter_map(|t| t.split('.').next())
        .collect();
    for router in routers {
        let rules: Vec<&String> = tags
            .iter()
            .filter(|t| t.starts_with(&format!("traefik.http.routers.{router}.rule=")))
            .collect();
        assert_eq!(
            rules.len(),
            1,
            "{example}/{name}: router {router} rules {rules:?}"
        );
        assert!(
            rules[0].contains("Host(`") || rules[0].contains("Path"),
            "{example}/{name}: {}",
            rules[0]
        );
    }
    if !unique.is_empty() && unique.iter().any(|t| t.starts_with("traefik.http")) {
        assert!(tags.contains(&"traefik.enable=true".to_string()));
    }
}

#[test]
fn shellcheck_accepts_the_scripts() {
    if !have_shellcheck() {
        return;
    }
    for example in EXAMPLES {
        let dir = generate(&example_text(example));
        // The base's scripts and each environment's.
        let scripts = files_under(&dir.path().join("deploy/nomad"), ".sh");
        assert!(scripts.len() >= 2, "{scripts:?}");
        for script in &scripts {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(script).unwrap().permissions().mode();
            assert!(mode & 0o111 != 0, "{} is not executable", script.display());
        }
        let out = Process::new("shellcheck").args(&scripts).output().unwrap();
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Values that break naive writers: quotes, backslashes, `${`, `%{`, line breaks, unicode.
const HOSTILE: &str = r#"
version: 1
name: hostile
domain: "${DOMAIN:-example.com}"
variables:
  DOMAIN: { default: example.com }
secrets:
  token: { kind: hex, bytes: 16 }
services:
  app:
    image: "busybox:1.36"
    command: ["sh", "-c", "echo \"hi\" \\ $$HOME ${DOMAIN} %{ x } $${NOMAD_ALLOC_DIR}"]
    expose: [{ name: "Web UI", port: 8080 }]
    tags: ['quote"d', 'back\slash', "dollar $${x}", "ünïcode"]
    env:
      QUOTED: 'say "hi"'
      MULTI: "line one\nline two"
      LITERAL: "$${NOT_A_VAR} and 100%{x}"
      TOKEN: { secret: token }
      END_DOLLAR: "cost: 5$$"
    health: { exec: "test -f '/tmp/ready'", interval: 1s, timeout: 1s }
    routes: [{ host: 'a.${DOMAIN}', path: "/we`ird", port: 8080 }]
"#;

/// The hostile values reach the job file intact: parsed back, each string is what the
/// registry meant.
#[test]
fn hostile_values_round_trip() {
    let dir = generate(HOSTILE);
    let body = parse(&dir.path().join("deploy/nomad/jobs/app.nomad.hcl"));
    let job = block(&body, "job");
    let group = block(&job.body, "group");
    let task = block(&group.body, "task");
    let env = block(&task.body, "env");
    let value = |k: &str| text(attr(&env.body, k).unwrap());
    assert_eq!(value("QUOTED"), "say \"hi\"");
    assert_eq!(value("MULTI"), "line one\nline two");
    assert_eq!(value("LITERAL"), "${NOT_A_VAR} and 100%{x}");
    assert!(attr(&env.body, "TOKEN").is_none());
    let config = block(&task.body, "config");
    let Some(Expression::Array(args)) = attr(&config.body, "args") else {
        panic!("no args");
    };
    assert_eq!(args.len(), 2);
    let service = block(&group.body, "service");
    check_service("hostile", "app", service);
    let raw = std::fs::read_to_string(dir.path().join("deploy/nomad/jobs/app.nomad.hcl")).unwrap();
    assert!(raw.contains("END_DOLLAR = \"cost: 5$\""), "{raw}");
}

/// What `muster secrets export nomad` writes is what the jobs read: for every service, the
/// items of its variable file are exactly the keys its templates read, and `${host:...}`
/// inside a secret value names the Consul service the job registers. The two examples with
/// env secrets, file secrets and hosts inside secret values (the others add only slow RSA
/// and argon2 generation).
#[test]
fn templates_read_what_secrets_export_writes() {
    for example in ["microservices", "nomad"] {
        let p = secrets_support::Project::example(example);
        let run = |args: &[&str]| {
            let out = p.muster().args(args).output().unwrap();
            assert!(
                out.status.success(),
                "{example}: muster {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            out
        };
        run(&["secrets", "generate"]);
        let out = run(&["secrets", "list", "--json"]);
        let statuses: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for s in statuses.as_array().unwrap() {
            if s["state"] == "external-unset" && s["optional"] == false {
                let name = s["name"].as_str().unwrap();
                let out = p
                    .muster()
                    .args(["secrets", "set", name])
                    .write_stdin("an-external-test-value")
                    .output()
                    .unwrap();
                assert!(out.status.success());
            }
        }
        run(&["secrets", "export", "nomad"]);
        run(&["gen", "nomad"]);
        let reg = registry(&std::fs::read_to_string(p.path().join("muster.yaml")).unwrap());
        let runtime = p.path().join(".muster/runtime/nomad");
        for s in reg.enabled_services() {
            let name = &s.name.value;
            let body = parse(&p.path().join(format!("deploy/nomad/jobs/{name}.nomad.hcl")));
            let task = block(&block(&block(&body, "job").body, "group").body, "task");
            let mut read: BTreeSet<String> = BTreeSet::new();
            for template in blocks(&task.body, "template") {
                let data = text(attr(&template.body, "data").unwrap());
                for piece in data.split("index . \"").skip(1) {
                    read.insert(piece.split('"').next().unwrap().to_string());
                }
            }
            let file = runtime.join(format!("{name}.vars.json"));
            let written: BTreeSet<String> = match std::fs::read(&file) {
                Ok(bytes) => {
                    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    json["Items"].as_object().unwrap().keys().cloned().collect()
                }
                Err(_) => BTreeSet::new(),
            };
            // `as: file` variables are also exported by name, as plain paths; the job sets
            // them in `env`.
            let plain_paths: BTreeSet<String> = s
                .env
                .iter()
                .filter(|(_, e)| matches!(e.value, EnvValue::Secret { as_file: true, .. }))
                .map(|(k, _)| k.clone())
                .collect();
            let written: BTreeSet<String> = written.difference(&plain_paths).cloned().collect();
            assert_eq!(read, written, "{example}/{name}");
            if let Ok(text) = std::fs::read_to_string(&file) {
                for dep in s
                    .env
                    .values()
                    .filter_map(|e| match &e.value {
                        EnvValue::Text(t) if t.secrets().next().is_some() => Some(t.hosts()),
                        _ => None,
                    })
                    .flatten()
                {
                    let consul = format!("{}.service.consul", dep.replace('_', "-"));
                    assert!(text.contains(&consul), "{example}/{name}: {consul}");
                    let target =
                        parse(&p.path().join(format!("deploy/nomad/jobs/{dep}.nomad.hcl")));
                    let group = block(&block(&target, "job").body, "group");
                    let service = block(&group.body, "service");
                    assert_eq!(
                        format!("{}.service.consul", text_of(&service.body, "name")),
                        consul
                    );
                }
            }
        }
    }
}

fn text_of(body: &Body, key: &str) -> String {
    text(attr(body, key).unwrap())
}
