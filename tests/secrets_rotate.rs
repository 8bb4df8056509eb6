//! `rotate` with an `on_rotate` command, against a stand-in `docker` (`MUSTER_DOCKER`) that
//! records its command lines and environment: the hook gets the values through its environment
//! only, the new value is pending while it runs, becomes current only on success, and nothing
//! changes when the service is not running. `secrets_docker.rs` does the same against the real
//! Docker daemon.

mod secrets_support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use predicates::prelude::*;
use secrets_support::{Project, decrypt_store, output_text};

const REGISTRY: &str = r#"
version: 1
name: rot
secrets:
  db-password:
    kind: password
    length: 20
    on_rotate:
      service: db
      exec: ["sh", "-c", "psql -c \"ALTER USER app PASSWORD '$$MUSTER_NEW_VALUE'\""]
  db-password-url: { kind: urlencode, from: db-password }
  other: { kind: hex }
services:
  db:
    image: "postgres:16"
    env: { POSTGRES_PASSWORD: { secret: db-password } }
  app:
    image: "app:1"
    env: { URL: "postgres://app:${secret:db-password-url}@${host:db}/x" }
"#;

/// A project with a generated store and a fake `docker` in `<home>/fake`.
struct Fixture {
    p: Project,
    fake: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let p = Project::new(REGISTRY);
        p.muster().args(["secrets", "generate"]).assert().success();
        let fake = p.home.path().join("fake");
        std::fs::create_dir_all(&fake).unwrap();
        let script = fake.join("docker");
        std::fs::write(
            &script,
            r#"#!/bin/sh
d="$FAKE_DOCKER_DIR"
printf '%s\n' "$*" >> "$d/argv.log"
case "$1" in
  ps)
    [ -f "$d/running" ] && echo fakecontainer1
    exit 0 ;;
  exec)
    cp "$FAKE_STORE" "$d/store-during-hook"
    printf '%s|%s|%s' "$MUSTER_NEW_VALUE" "$MUSTER_OLD_VALUE" "$MUSTER_SECRET_NAME" > "$d/env"
    echo "hook says new=$MUSTER_NEW_VALUE old=$MUSTER_OLD_VALUE"
    [ -f "$d/die" ] && kill -9 $PPID
    exit "$(cat "$d/exit_code" 2>/dev/null || echo 0)" ;;
esac
exit 2
"#,
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Fixture { p, fake }
    }

    fn rotate(&self, extra: &[&str]) -> std::process::Output {
        self.p
            .muster()
            .env("MUSTER_DOCKER", self.fake.join("docker"))
            .env("FAKE_DOCKER_DIR", &self.fake)
            .env("FAKE_STORE", self.p.store_path())
            .args(["secrets", "rotate", "db-password"])
            .args(extra)
            .output()
            .unwrap()
    }

    fn flag(&self, name: &str, content: &str) {
        std::fs::write(self.fake.join(name), content).unwrap();
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.fake.join(name)).unwrap_or_default()
    }
}

#[test]
fn the_hook_gets_values_in_its_environment_and_the_value_is_pending_meanwhile() {
    let f = Fixture::new();
    f.flag("running", "");
    let old = f.p.value("db-password");
    let old_url = f.p.value("db-password-url");
    let out = f.rotate(&[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let text = output_text(&out);
    assert!(
        text.contains("ran on_rotate of db-password in db (container fakecontainer1)"),
        "{text}"
    );
    let new = f.p.value("db-password");
    assert_ne!(new, old);

    assert_eq!(f.read("env"), format!("{new}|{old}|db-password"));
    let argv = f.read("argv.log");
    assert_eq!(
        argv,
        "ps --filter label=com.docker.compose.project=rot --filter label=com.docker.compose.service=db --filter status=running --format {{.ID}}\n\
         exec -e MUSTER_NEW_VALUE -e MUSTER_OLD_VALUE -e MUSTER_SECRET_NAME fakecontainer1 sh -c psql -c \"ALTER USER app PASSWORD '$MUSTER_NEW_VALUE'\"\n"
    );
    assert!(!argv.contains(&new) && !argv.contains(&old));
    assert!(!text.contains(&new) && !text.contains(&old));

    // While the hook ran, the store held the new value as pending and the old one as current.
    let during = decrypt_store(&f.fake.join("store-during-hook"), &f.p.identity());
    assert_eq!(during["secrets"]["db-password"]["value"], old.as_str());
    assert_eq!(
        during["secrets"]["db-password"]["pending"]["value"],
        new.as_str()
    );

    let store = f.p.store();
    let entry = &store["secrets"]["db-password"];
    assert!(entry.get("pending").is_none());
    assert_eq!(entry["history"][0]["value"], old.as_str());
    assert_ne!(f.p.value("db-password-url"), old_url, "derived recomputed");
    f.p.muster().args(["secrets", "check"]).assert().success();
}

#[test]
fn a_failing_hook_keeps_the_old_value() {
    let f = Fixture::new();
    f.flag("running", "");
    f.flag("exit_code", "3");
    let old = f.p.value("db-password");
    let old_url = f.p.value("db-password-url");
    let out = f.rotate(&[]);
    assert_eq!(out.status.code(), Some(1));
    let text = output_text(&out);
    assert!(
        text.contains("`on_rotate` of `db-password` failed in `db`"),
        "{text}"
    );
    assert!(text.contains("exit code 3"), "{text}");
    assert!(text.contains("hook says new=*** old=***"), "{text}");
    assert!(
        text.contains("`db-password` keeps its current value"),
        "{text}"
    );
    let tried = f.read("env");
    let candidate = tried.split('|').next().unwrap();
    assert!(!text.contains(candidate) && !text.contains(&old));

    let store = f.p.store();
    let entry = &store["secrets"]["db-password"];
    assert_eq!(entry["value"], old.as_str());
    assert!(entry.get("pending").is_none(), "no pending value left");
    let last = entry["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["reason"], "rotation-failed");
    assert_eq!(last["value"], candidate);
    assert_eq!(f.p.value("db-password-url"), old_url);
    f.p.muster().args(["secrets", "check"]).assert().success();
}

#[test]
fn a_stopped_service_refuses_the_rotation() {
    let f = Fixture::new();
    let bytes = std::fs::read(f.p.store_path()).unwrap();
    let out = f.rotate(&[]);
    assert_eq!(out.status.code(), Some(1));
    let text = output_text(&out);
    assert!(
        text.contains("`db` is not running in Compose project `rot`"),
        "{text}"
    );
    assert!(text.contains("--no-hook"), "{text}");
    assert_eq!(std::fs::read(f.p.store_path()).unwrap(), bytes);
    assert!(!f.read("argv.log").contains("exec"));
}

#[test]
fn no_hook_rotates_without_docker() {
    let f = Fixture::new();
    let old = f.p.value("db-password");
    let out = f.rotate(&["--no-hook"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(output_text(&out).contains("on_rotate was not run"));
    assert_eq!(f.read("argv.log"), "", "docker was not called");
    assert_ne!(f.p.value("db-password"), old);
}

#[test]
fn an_interrupted_rotation_keeps_its_pending_value() {
    let f = Fixture::new();
    f.flag("running", "");
    f.flag("die", "");
    let old = f.p.value("db-password");
    let out = f.rotate(&[]);
    assert!(!out.status.success());
    let tried = f.read("env");
    let candidate = tried.split('|').next().unwrap().to_string();
    // muster died while the hook ran: the candidate is pending, the old value current.
    let store = f.p.store();
    assert_eq!(store["secrets"]["db-password"]["value"], old.as_str());
    assert_eq!(
        store["secrets"]["db-password"]["pending"]["value"],
        candidate.as_str()
    );
    f.p.muster()
        .args(["secrets", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("rotation pending"));

    std::fs::remove_file(f.fake.join("die")).unwrap();
    let out = f.rotate(&[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let store = f.p.store();
    let history = store["secrets"]["db-password"]["history"]
        .as_array()
        .unwrap();
    let reasons: Vec<&str> = history
        .iter()
        .map(|h| h["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["abandoned", "rotated"]);
    assert_eq!(history[0]["value"], candidate.as_str());
    assert_eq!(history[1]["value"], old.as_str());
}

#[test]
fn external_and_unknown_secrets_are_not_rotated() {
    let p = Project::new(&REGISTRY.replace(
        "  other: { kind: hex }\n",
        "  other: { kind: hex }\n  token: { kind: external }\n",
    ));
    p.muster().args(["secrets", "generate"]).assert().success();
    p.muster()
        .args(["secrets", "rotate", "token"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("muster secrets set token"));
    p.muster()
        .args(["secrets", "rotate", "otherr"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean `other`?"));
}
