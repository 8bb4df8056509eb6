//! The first commands, through the real binary: exit codes, output, file discovery.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn muster() -> Command {
    let mut cmd = Command::cargo_bin("muster").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .join("muster.yaml")
}

/// The shared corpus, read in place; absent on a laptop (skip), required under CI.
fn corpus(relative: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").is_err(),
        "{} is missing under CI",
        path.display()
    );
    eprintln!("skipped: {} is not here", path.display());
    None
}

#[test]
fn every_example_passes_strict_check() {
    for name in ["homelab", "selfhosted", "microservices", "nomad"] {
        muster()
            .args(["check", "--strict", "-f"])
            .arg(example(name))
            .assert()
            .success()
            .stdout(predicate::str::contains("0 errors, 0 warnings"));
    }
}

#[test]
fn check_exits_1_with_located_errors_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("muster.yaml");
    std::fs::write(
        &file,
        "version: 1\nname: t\nservices:\n  postgres: { image: 'postgres:16' }\n  api:\n    image: 'api:1'\n    depends_on: [postgress]\n",
    )
    .unwrap();
    muster()
        .arg("check")
        .current_dir(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("error[M0203]"))
        .stdout(predicate::str::contains("muster.yaml:7:18"))
        .stdout(predicate::str::contains("did you mean `postgres`?"));
    let out = muster()
        .args(["check", "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["errors"], 1);
    assert_eq!(json["diagnostics"][0]["code"], "M0203");
    assert_eq!(json["diagnostics"][0]["line"], 7);
    assert_eq!(json["diagnostics"][0]["column"], 18);
}

#[test]
fn warnings_fail_only_with_strict() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("muster.yaml"),
        "version: 1\nname: t\nservices:\n  web: { image: 'nginx:1.27', env: { HOST: '${HOSTNAME}' } }\n",
    )
    .unwrap();
    muster()
        .arg("check")
        .current_dir(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("1 warning"));
    muster()
        .args(["check", "--strict"])
        .current_dir(dir.path())
        .assert()
        .code(1);
}

#[test]
fn the_registry_is_found_in_a_parent_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(example("homelab"), dir.path().join("muster.yaml")).unwrap();
    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested).unwrap();
    muster()
        .arg("check")
        .current_dir(&nested)
        .assert()
        .success();
}

#[test]
fn no_registry_is_exit_2_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    muster()
        .arg("check")
        .current_dir(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("muster init"));
}

#[test]
fn plan_explains_why_each_service_is_included() {
    let out = muster()
        .args(["plan", "bots", "-f"])
        .arg(example("homelab"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("selected (group bots)"), "{text}");
    assert!(text.contains("needed by"), "{text}");
    // Phases in order.
    let data = text.find("phase data").unwrap();
    let apps = text.find("phase apps").unwrap();
    assert!(data < apps, "{text}");
    // Nothing outside the closure.
    assert!(!text.contains("homeassistant"), "{text}");
}

#[test]
fn plan_json_and_unknown_selection() {
    let out = muster()
        .args(["plan", "all", "--json", "-f"])
        .arg(example("selfhosted"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let phases = json["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 6);
    muster()
        .args(["plan", "postgress", "-f"])
        .arg(example("homelab"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean `postgres`?"));
}

#[test]
fn plan_refuses_an_invalid_registry() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("muster.yaml"),
        "version: 1\nname: t\nservices:\n  a: { image: 'a:1', depends_on: [b] }\n",
    )
    .unwrap();
    muster()
        .args(["plan", "all"])
        .current_dir(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("M0203"));
}

#[test]
fn environments_merge_for_plan_and_services() {
    let out = muster()
        .args(["services", "list", "--env", "development", "-f"])
        .arg(example("microservices"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("mailhog"));
    let base = muster()
        .args(["services", "list", "-f"])
        .arg(example("microservices"))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&base.stdout).contains("mailhog"));
    muster()
        .args(["plan", "all", "--env", "nowhere", "-f"])
        .arg(example("microservices"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("M0212"));
}

#[test]
fn services_show_and_deps() {
    muster()
        .args(["services", "show", "postgres", "-f"])
        .arg(example("homelab"))
        .assert()
        .success()
        .stdout(predicate::str::contains("image:"))
        .stdout(predicate::str::contains("needed by:"));
    let out = muster()
        .args(["services", "deps", "discord-bot", "-f"])
        .arg(example("homelab"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("postgres"), "{text}");
    assert!(
        text.contains("(healthy)") || text.contains("(completed)"),
        "{text}"
    );
    let out = muster()
        .args(["services", "deps", "postgres", "--reverse", "-f"])
        .arg(example("homelab"))
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains("migrate"));
    // No secret value can appear: show prints secret references, never values.
    muster()
        .args(["services", "show", "postgress", "-f"])
        .arg(example("homelab"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean `postgres`?"));
}

#[test]
fn graph_formats() {
    for (format, marker) in [
        ("mermaid", "flowchart"),
        ("dot", "digraph"),
        ("svg", "<svg"),
    ] {
        muster()
            .args(["graph", "--format", format, "-f"])
            .arg(example("homelab"))
            .assert()
            .success()
            .stdout(predicate::str::contains(marker));
    }
}

#[test]
fn schema_is_json() {
    let out = muster().arg("schema").output().unwrap();
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema.is_object());
}

#[test]
fn init_writes_an_example_that_checks_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    muster()
        .args(["init", "--example", "nomad"])
        .current_dir(dir.path())
        .assert()
        .success();
    muster()
        .args(["check", "--strict"])
        .current_dir(dir.path())
        .assert()
        .success();
    muster()
        .arg("init")
        .current_dir(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
    muster()
        .args(["init", "--force"])
        .current_dir(dir.path())
        .assert()
        .success();
    muster()
        .args(["init", "--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("selfhosted"));
    muster()
        .args(["init", "--example", "nope"])
        .current_dir(dir.path())
        .assert()
        .code(2);
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        muster()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("muster"));
    }
}

#[test]
fn bad_usage_is_exit_2() {
    muster().arg("frobnicate").assert().code(2);
}

/// The seed project's registry that its own project never noticed was broken: both syntax
/// errors are reported at their line and column.
#[test]
fn datamancy_invalid_registry_reports_both_syntax_errors() {
    let Some(path) = corpus("seed-projects/datamancy/2026-01-19-invalid/services.registry.yaml")
    else {
        return;
    };
    let out = muster()
        .args(["check", "--json", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<(u64, u64, String)> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["line"].as_u64().unwrap(),
                d["column"].as_u64().unwrap(),
                d["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (155, 48, "M0101".to_string()),
            (493, 50, "M0101".to_string())
        ],
        "{found:?}"
    );
}
