//! `muster secrets export ENGINE`: the runtime files of each engine, their modes and owners, and
//! Compose env files read back by Compose itself (docker-compose 1.29 here).

mod secrets_support;

use std::os::unix::fs::MetadataExt;

use predicates::prelude::*;
use secrets_support::{Project, mode, output_text, tool_available};

const REGISTRY: &str = r#"
version: 1
name: exp
variables:
  DB_NAME: { description: Database name, default: app }
  REGION: { description: Region, required: true, example: eu-west }
secrets:
  db-password: { kind: password, length: 40, alphabet: symbols }
  db-password-url: { kind: urlencode, from: db-password }
  admin: { kind: password }
  admin-hash: { kind: argon2id, from: admin, memory: 8M, iterations: 1 }
  spaced: { kind: external }
  signing: { kind: ed25519 }
  tls: { kind: external, file: ./tls.pem }
  worker-key: { kind: hex, bytes: 16 }
services:
  db:
    image: "postgres:16"
    user: "1000:1000"
    env:
      POSTGRES_PASSWORD: { secret: db-password }
      PLAIN: not-a-secret
    secrets: [tls, worker-key]
  my_app:
    image: "app:1"
    env:
      DATABASE_URL: "postgres://app:${secret:db-password-url}@${host:db}:5432/${DB_NAME}?region=${REGION}"
      ADMIN_HASH: { secret: admin-hash }
      GREETING: { secret: spaced }
      SIGNING_KEY_FILE: { secret: signing, as: file }
    secrets: [tls]
  web:
    image: "web:1"
    env:
      UPSTREAM: "http://${host:my_app}:8080"
      TOKEN_URL: "http://${host:my_app}/?t=${secret:admin}"
"#;

const SPACED: &str = "a value with spaces, $dollar and #hash";
const TLS: &str = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----";

fn project() -> Project {
    let p = Project::new(REGISTRY);
    p.write(".env", "REGION=eu-west\n");
    p.write("tls.pem", &format!("{TLS}\n"));
    p.muster().args(["secrets", "generate"]).assert().success();
    p.muster()
        .args(["secrets", "set", "spaced"])
        .write_stdin(SPACED)
        .assert()
        .success();
    p
}

fn runtime(p: &Project, engine: &str) -> std::path::PathBuf {
    p.path().join(".muster/runtime").join(engine)
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Whether this process may give files away (root): then mounted secret files are 0400 and
/// owned by the service's user, else 0444.
fn can_chown() -> bool {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::chown(f.path(), Some(1000), None).is_ok()
}

#[test]
fn compose_files_hold_the_values_with_the_right_modes() {
    let p = project();
    p.muster()
        .args(["secrets", "export", "compose"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "wrote .muster/runtime/compose/db.env",
        ));
    let dir = runtime(&p, "compose");
    let db = read(&dir.join("db.env"));
    assert_eq!(
        db,
        format!(
            "POSTGRES_PASSWORD={}\n",
            quote_if_needed(&p.value("db-password"))
        )
    );
    let app = read(&dir.join("my_app.env"));
    let url = format!(
        "postgres://app:{}@db:5432/app?region=eu-west",
        p.value("db-password-url")
    );
    assert!(app.contains(&format!("DATABASE_URL={url}\n")), "{app}");
    assert!(app.contains(&format!("ADMIN_HASH='{}'\n", p.value("admin-hash"))));
    assert!(app.contains(&format!("GREETING='{SPACED}'\n")));
    assert!(app.contains("SIGNING_KEY_FILE=/run/secrets/signing\n"));
    assert!(!app.contains("PLAIN"), "only secret-bearing values");
    let web = read(&dir.join("web.env"));
    assert_eq!(
        web,
        format!("TOKEN_URL=http://my_app/?t={}\n", p.value("admin"))
    );

    let secrets = dir.join("secrets");
    assert_eq!(mode(&secrets), 0o700);
    assert_eq!(read(&secrets.join("signing")), p.value("signing"));
    assert_eq!(read(&secrets.join("tls")), TLS);
    assert_eq!(read(&secrets.join("worker-key")), p.value("worker-key"));
    // Mounted by services with different users (or none): readable by all, in a 0700 folder.
    assert_eq!(mode(&secrets.join("tls")), 0o444);
    assert_eq!(mode(&secrets.join("signing")), 0o444);
    // Mounted only by `db` (user 1000:1000): 0400 and its own, when muster may chown.
    let key = secrets.join("worker-key");
    if can_chown() {
        assert_eq!(mode(&key), 0o400);
        let meta = std::fs::metadata(&key).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (1000, 1000));
    } else {
        assert_eq!(mode(&key), 0o444);
    }
    for env in ["db.env", "my_app.env", "web.env"] {
        assert_eq!(mode(&dir.join(env)), 0o600);
    }
    // Exporting again works over the read-only files.
    p.muster()
        .args(["secrets", "export", "compose"])
        .assert()
        .success();
}

fn quote_if_needed(v: &str) -> String {
    if v.chars().any(|c| "#$'\"\\` ".contains(c)) {
        format!("'{v}'")
    } else {
        v.to_string()
    }
}

/// Compose itself reads the env files back as the exact values.
#[test]
fn docker_compose_reads_the_env_files_as_written() {
    if !tool_available("docker-compose", &["version"]) {
        return;
    }
    let p = project();
    p.muster()
        .args(["secrets", "export", "compose"])
        .assert()
        .success();
    p.write(
        "compose.yml",
        "version: \"3.8\"\nservices:\n  db:\n    image: busybox\n    env_file: [.muster/runtime/compose/db.env]\n  my_app:\n    image: busybox\n    env_file: [.muster/runtime/compose/my_app.env]\n",
    );
    let out = std::process::Command::new("docker-compose")
        .args(["-f", "compose.yml", "-p", "exp", "config"])
        .current_dir(p.path())
        .env_remove("REGION")
        .env_remove("DB_NAME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let config: serde_norway::Value = serde_norway::from_slice(&out.stdout).unwrap();
    // `config` prints a literal `$` as `$$`.
    let env = |service: &str, var: &str| -> String {
        config["services"][service]["environment"][var]
            .as_str()
            .unwrap_or_else(|| panic!("{service}.{var} missing"))
            .replace("$$", "$")
    };
    assert_eq!(env("db", "POSTGRES_PASSWORD"), p.value("db-password"));
    assert_eq!(env("my_app", "ADMIN_HASH"), p.value("admin-hash"));
    assert!(p.value("admin-hash").starts_with("$argon2id$"));
    assert_eq!(env("my_app", "GREETING"), SPACED);
    assert_eq!(
        env("my_app", "DATABASE_URL"),
        format!(
            "postgres://app:{}@db:5432/app?region=eu-west",
            p.value("db-password-url")
        )
    );
}

#[test]
fn values_compose_cannot_read_identically_are_refused() {
    let p = project();
    p.muster()
        .args(["secrets", "set", "spaced"])
        .write_stdin("it's ${HOME}")
        .assert()
        .success();
    p.muster()
        .args(["secrets", "export", "compose"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "env GREETING of `my_app`: the value contains a single quote",
        ))
        .stderr(predicate::str::contains("as: file"))
        .stderr(predicate::str::contains("it's").not());
    assert!(!runtime(&p, "compose").exists(), "nothing written");
    // Kustomize takes the rest of the line as is: fine there.
    p.muster()
        .args(["secrets", "export", "kubernetes"])
        .assert()
        .success();
    assert!(
        read(&runtime(&p, "kubernetes").join("my_app.env")).contains("GREETING=it's ${HOME}\n")
    );
}

#[test]
fn missing_values_are_reported_and_nothing_is_written() {
    let p = Project::new(REGISTRY);
    p.write(".env", "REGION=eu-west\n");
    p.muster()
        .args(["secrets", "export", "compose"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "secret `db-password` (env POSTGRES_PASSWORD of `db`) has no value",
        ))
        .stderr(predicate::str::contains("secret `tls` has no value"));
    assert!(!p.path().join(".muster/runtime").exists());
}

#[test]
fn kubernetes_nomad_and_swarm_files() {
    let p = project();
    for engine in ["kubernetes", "nomad", "swarm"] {
        p.muster()
            .args(["secrets", "export", engine])
            .assert()
            .success();
    }
    let k = runtime(&p, "kubernetes");
    let web = read(&k.join("web.env"));
    assert_eq!(
        web,
        format!("TOKEN_URL=http://my-app/?t={}\n", p.value("admin"))
    );
    let app = read(&k.join("my_app.env"));
    assert!(
        app.contains(&format!("ADMIN_HASH={}\n", p.value("admin-hash"))),
        "{app}"
    );
    assert!(app.contains(&format!("GREETING={SPACED}\n")));
    assert_eq!(read(&k.join("secrets/signing")), p.value("signing"));
    assert_eq!(mode(&k.join("secrets/signing")), 0o600);

    let n = runtime(&p, "nomad");
    let vars: serde_json::Value = serde_json::from_str(&read(&n.join("my_app.vars.json"))).unwrap();
    let items = &vars["Items"];
    assert_eq!(vars.as_object().unwrap().len(), 1, "only Items");
    assert_eq!(
        items["DATABASE_URL"],
        format!(
            "postgres://app:{}@db.service.consul:5432/app?region=eu-west",
            p.value("db-password-url")
        )
        .as_str()
    );
    assert_eq!(items["SIGNING_KEY_FILE"], "/run/secrets/signing");
    assert_eq!(items["signing"], p.value("signing").as_str());
    assert_eq!(items["tls"], TLS);
    let web: serde_json::Value = serde_json::from_str(&read(&n.join("web.vars.json"))).unwrap();
    assert_eq!(
        web["Items"]["TOKEN_URL"],
        format!("http://my-app.service.consul/?t={}", p.value("admin")).as_str()
    );
    assert_eq!(mode(&n.join("web.vars.json")), 0o600);

    let s = runtime(&p, "swarm").join("secrets");
    let mut names: Vec<String> = std::fs::read_dir(&s)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "admin",
            "admin-hash",
            "db-password",
            "db-password-url",
            "signing",
            "spaced",
            "tls",
            "worker-key"
        ]
    );
    for name in &names {
        assert_eq!(mode(&s.join(name)), 0o600);
    }
    assert_eq!(read(&s.join("spaced")), SPACED);
    // The Docker CLI reads env files raw: a quoted value would keep its quotes.
    let app = read(&runtime(&p, "swarm").join("my_app.env"));
    assert!(app.contains(&format!("GREETING={SPACED}\n")), "{app}");
}

#[test]
fn files_no_longer_needed_are_removed() {
    let p = project();
    p.muster()
        .args(["secrets", "export", "compose"])
        .assert()
        .success();
    let dir = runtime(&p, "compose");
    assert!(dir.join("web.env").exists());
    let without = REGISTRY
        .replace(
            "      TOKEN_URL: \"http://${host:my_app}/?t=${secret:admin}\"\n",
            "",
        )
        .replace("    secrets: [tls, worker-key]\n", "    secrets: [tls]\n");
    p.write("muster.yaml", &without);
    p.muster()
        .args(["secrets", "export", "compose"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "removed .muster/runtime/compose/web.env",
        ));
    assert!(!dir.join("web.env").exists());
    assert!(!dir.join("secrets/worker-key").exists());
    assert!(dir.join("secrets/tls").exists());
}
