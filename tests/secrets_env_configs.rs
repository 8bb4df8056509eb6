//! `.env` checked against `variables:` (with `file:line` and never a value shown), and config
//! templates rendered with every unresolved placeholder reported at `file:line`.

mod secrets_support;

use std::path::Path;
use std::sync::Arc;

use muster::registry::Registry;
use muster::secrets::configs::render_configs;
use muster::secrets::env_file::{EnvFile, check_env_report, variable};
use muster::secrets::resolve::Values;
use muster::secrets::{SecretValue, check_env_file};
use muster::source::SourceFile;
use predicates::prelude::*;
use secrets_support::{Project, mode};

const REGISTRY: &str = r#"
version: 1
name: envs
variables:
  DOMAIN: { description: Public domain, required: true, example: example.com }
  ADMIN_EMAIL: { description: Who gets mail, required: true }
  LOG_LEVEL: { description: Verbosity, default: info }
  API_TOKEN: { description: Token of the provider }
secrets:
  db-password: { kind: password }
services:
  proxy:
    image: "caddy:2"
    env: { SITE: "${DOMAIN}" }
    configs:
      - { template: ./templates/Caddyfile, target: /etc/caddy/Caddyfile }
  db:
    image: "postgres:16"
    user: "999:999"
    env:
      LOG: "${LOG_LEVEL}"
    configs:
      - { template: ./templates/init.sql, target: /init/init.sql }
"#;

fn registry() -> Registry {
    let loaded = muster::registry::load(Arc::new(SourceFile::new("muster.yaml", REGISTRY)), None);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    loaded.registry.unwrap()
}

#[test]
fn env_problems_are_located_and_values_hidden() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "# settings\nDOMAIN=CHANGE_ME\nADMIN_EMAIL=\nAPI_TOKEN=hunter2-real-token\nSECRET_THING=super-secret-value-9\nCOMPOSE_PROFILES=web\nnot a line\n",
    )
    .unwrap();
    let reg = registry();
    let report = check_env_report(&reg, dir.path());
    let located: Vec<(String, usize)> = report
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.code.as_str().to_string(),
                d.span.map(|s| report.file.line_col(s.start).0).unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        located,
        [
            ("M0114".to_string(), 2), // placeholder
            ("M0104".to_string(), 3), // required and empty
            ("M0901".to_string(), 5), // not declared (COMPOSE_* is Compose's own)
            ("M0101".to_string(), 7), // not KEY=value
        ]
    );
    assert_eq!(check_env_file(&reg, dir.path()).len(), 4);
    // Rendered, the diagnostics point at .env:LINE and star out every value.
    let text: String = report
        .diagnostics
        .iter()
        .map(|d| muster::diagnostic::render(d, &report.file, false))
        .collect();
    assert!(text.contains(".env:5:1"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("super-secret-value"), "{text}");
}

#[test]
fn a_missing_env_file_misses_every_required_variable() {
    let dir = tempfile::tempdir().unwrap();
    let diags = check_env_file(&registry(), dir.path());
    let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "required variable `ADMIN_EMAIL` is not set in .env",
            "required variable `DOMAIN` is not set in .env",
        ]
    );
}

#[test]
fn secrets_check_includes_env() {
    let p = Project::new(REGISTRY);
    p.write(
        ".env",
        "DOMAIN=<your domain>\nADMIN_EMAIL=ops@example.com\n",
    );
    p.muster().args(["secrets", "generate"]).assert().success();
    p.muster()
        .args(["secrets", "check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "error[M0114]: `DOMAIN` in .env is still a placeholder",
        ))
        .stdout(predicate::str::contains(".env:1:8"))
        .stdout(predicate::str::contains("your domain").not());
    p.write(
        ".env",
        "DOMAIN=example.org\nADMIN_EMAIL=ops@example.com\nEXTRA=1\n",
    );
    p.muster()
        .args(["secrets", "check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("warning[M0901]"))
        .stdout(predicate::str::contains(".env: 0 errors, 1 warning"));
}

fn values(pairs: &[(&str, &str)]) -> Values {
    let mut v = Values::default();
    for (name, value) in pairs {
        v.insert(name, SecretValue::from(*value));
    }
    v
}

fn write_templates(dir: &Path, caddy: &str, sql: &str) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(dir.join("templates/Caddyfile"), caddy).unwrap();
    std::fs::write(dir.join("templates/init.sql"), sql).unwrap();
}

#[test]
fn configs_are_rendered_privately() {
    let dir = tempfile::tempdir().unwrap();
    write_templates(
        dir.path(),
        "${DOMAIN} {\n  reverse_proxy ${host:db}:5432\n  header X-Real-IP {$REMOTE} $host\n  log ${LOG_LEVEL}\n  respond \"$${NOT_MINE}\"\n}\n",
        "ALTER ROLE app PASSWORD '${secret:db-password}';\n-- ${MISSING:-fallback}\n",
    );
    std::fs::write(dir.path().join(".env"), "DOMAIN=example.org\n").unwrap();
    let reg = registry();
    let env = EnvFile::read(dir.path()).unwrap();
    let vars = |n: &str| variable(&reg, &env, n);
    let rendered = render_configs(
        &reg,
        dir.path(),
        &vars,
        &values(&[("db-password", "pw-Secret-123")]),
    )
    .unwrap();
    assert_eq!(rendered.len(), 2);
    let caddy = dir.path().join(".muster/rendered/proxy/Caddyfile");
    assert_eq!(rendered[0].path, caddy);
    assert_eq!(rendered[0].target, "/etc/caddy/Caddyfile");
    assert_eq!(
        std::fs::read_to_string(&caddy).unwrap(),
        "example.org {\n  reverse_proxy db:5432\n  header X-Real-IP {$REMOTE} $host\n  log info\n  respond \"${NOT_MINE}\"\n}\n"
    );
    let sql = dir.path().join(".muster/rendered/db/init.sql");
    assert_eq!(
        std::fs::read_to_string(&sql).unwrap(),
        "ALTER ROLE app PASSWORD 'pw-Secret-123';\n-- fallback\n"
    );
    assert_eq!(mode(&caddy), 0o600);
    assert_eq!(mode(&sql), 0o600);
    assert_eq!(mode(&dir.path().join(".muster/rendered")), 0o700);
    let gitignore = std::fs::read_to_string(dir.path().join(".muster/.gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == "rendered/"));
}

#[test]
fn every_unresolved_placeholder_is_reported_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    write_templates(
        dir.path(),
        "${DOMAIN} {\n  reverse_proxy ${host:dbb}:5432\n  tls ${ADMIN_EMAIL:?set ADMIN_EMAIL}\n}\n",
        "line one\nPASSWORD '${secret:db-password}'\nOTHER '${secret:nope}'\n${UNSET_VAR}\n${bad name}\n",
    );
    let reg = registry();
    let env = EnvFile::read(dir.path()).unwrap();
    let vars = |n: &str| variable(&reg, &env, n);
    let problems = render_configs(&reg, dir.path(), &vars, &values(&[])).unwrap_err();
    let located: Vec<(String, usize)> = problems
        .iter()
        .map(|(file, line, _)| {
            (
                file.file_name().unwrap().to_string_lossy().into_owned(),
                *line,
            )
        })
        .collect();
    assert_eq!(
        located,
        [
            ("Caddyfile".to_string(), 1),
            ("Caddyfile".to_string(), 2),
            ("Caddyfile".to_string(), 3),
            ("init.sql".to_string(), 2),
            ("init.sql".to_string(), 3),
            ("init.sql".to_string(), 4),
            ("init.sql".to_string(), 5),
        ],
        "{problems:?}"
    );
    let messages: Vec<&str> = problems.iter().map(|(_, _, m)| m.as_str()).collect();
    assert!(
        messages[0].contains("variable `DOMAIN` is not set"),
        "{messages:?}"
    );
    assert!(messages[1].contains("`dbb` is not a service"));
    assert!(messages[2].contains("set ADMIN_EMAIL"));
    assert!(messages[3].contains("has no value"));
    assert!(messages[4].contains("`nope` is not a secret"));
    assert!(
        !dir.path().join(".muster/rendered").exists(),
        "nothing written"
    );
}
