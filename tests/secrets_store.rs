//! The store through the real binary: generated once, rotated with history, encrypted to the
//! recipients, private on disk, never overwritten when it cannot be read, and never half
//! written.

mod secrets_support;

use std::os::unix::process::ExitStatusExt;
use std::str::FromStr;

use predicates::prelude::*;
use secrets_support::{Project, decrypt_store, mode, output_text};

const REGISTRY: &str = r#"
version: 1
name: store
secrets:
  db-password: { kind: password, length: 24 }
  db-password-url: { kind: urlencode, from: db-password }
  admin: { kind: password }
  admin-hash: { kind: argon2id, from: admin, memory: 8M, iterations: 1 }
  api-key: { kind: hex, bytes: 16, prefix: "sk-" }
services:
  db:
    image: "postgres:16"
    env:
      POSTGRES_PASSWORD: { secret: db-password }
  app:
    image: "app:1"
    env:
      DATABASE_URL: "postgres://app:${secret:db-password-url}@${host:db}/app"
      ADMIN_HASH: { secret: admin-hash }
"#;

fn generated() -> Project {
    let p = Project::new(REGISTRY);
    p.muster().args(["secrets", "generate"]).assert().success();
    p
}

#[test]
fn generate_twice_changes_nothing() {
    let p = generated();
    let bytes = std::fs::read(p.store_path()).unwrap();
    let modified = std::fs::metadata(p.store_path())
        .unwrap()
        .modified()
        .unwrap();
    let before = p.store();
    std::thread::sleep(std::time::Duration::from_millis(20));
    p.muster()
        .args(["secrets", "generate"])
        .assert()
        .success()
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("nothing to generate"));
    assert_eq!(
        std::fs::read(p.store_path()).unwrap(),
        bytes,
        "store rewritten"
    );
    assert_eq!(
        std::fs::metadata(p.store_path())
            .unwrap()
            .modified()
            .unwrap(),
        modified
    );
    assert_eq!(p.store(), before);
}

#[test]
fn generate_only_adds_what_is_missing() {
    let p = generated();
    let before = p.store();
    let more = REGISTRY.replace(
        "secrets:\n",
        "secrets:\n  session: { kind: base64, bytes: 32 }\n",
    );
    p.write("muster.yaml", &more);
    p.muster()
        .args(["secrets", "generate"])
        .assert()
        .success()
        .stdout("generated session (base64)\n");
    let after = p.store();
    for name in [
        "db-password",
        "db-password-url",
        "admin",
        "admin-hash",
        "api-key",
    ] {
        assert_eq!(
            after["secrets"][name], before["secrets"][name],
            "{name} changed"
        );
    }
    assert!(after["secrets"]["session"]["value"].is_string());
    // The store records kind and creation time, RFC 3339 UTC.
    let created = after["secrets"]["session"]["created"].as_str().unwrap();
    assert!(humantime::parse_rfc3339(created).is_ok(), "{created}");
    assert_eq!(after["secrets"]["session"]["kind"], "base64");
}

#[test]
fn rotate_keeps_history_and_recomputes_derived() {
    let p = generated();
    let old = p.value("db-password");
    let old_url = p.value("db-password-url");
    p.muster()
        .args(["secrets", "rotate", "db-password"])
        .assert()
        .success()
        .stdout(predicate::str::contains("rotated db-password"))
        .stdout(predicate::str::contains("recomputed db-password-url"))
        .stdout(predicate::str::contains("db  "))
        .stdout(predicate::str::contains("env DATABASE_URL"))
        .stdout(predicate::str::contains("via db-password-url"));
    let store = p.store();
    let entry = &store["secrets"]["db-password"];
    let new = entry["value"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(new.len(), 24);
    assert_eq!(entry["history"][0]["value"], old.as_str());
    assert_eq!(entry["history"][0]["reason"], "rotated");
    assert!(entry["rotated"].is_string());
    assert!(entry.get("pending").is_none());
    let url = &store["secrets"]["db-password-url"];
    assert_ne!(url["value"], old_url.as_str());
    assert_eq!(url["history"][0]["value"], old_url.as_str());
    // Everything still checks (the derived value matches the new source).
    p.muster().args(["secrets", "check"]).assert().success();

    // A second rotation appends.
    p.muster()
        .args(["secrets", "rotate", "db-password"])
        .assert()
        .success();
    let store = p.store();
    assert_eq!(store["secrets"]["db-password"]["history"][1]["value"], new);
}

#[test]
fn rotating_a_derived_secret_recomputes_it_from_its_source() {
    let p = generated();
    let old = p.value("admin-hash");
    p.muster()
        .args(["secrets", "rotate", "admin-hash"])
        .assert()
        .success();
    assert_ne!(p.value("admin-hash"), old, "a fresh salt");
    p.muster().args(["secrets", "check"]).assert().success();
}

#[test]
fn a_crash_while_writing_leaves_the_old_store_readable() {
    // A large store: many secrets and an RSA key, so the write is not a single small block.
    let mut registry = REGISTRY.replace(
        "secrets:\n",
        "secrets:\n  signing: { kind: rsa, bits: 2048 }\n",
    );
    for i in 0..200 {
        registry = registry.replace(
            "secrets:\n",
            &format!("secrets:\n  bulk-{i}: {{ kind: password, length: 64 }}\n"),
        );
    }
    let p = Project::new(&registry);
    p.muster().args(["secrets", "generate"]).assert().success();
    let before = p.store();
    let bytes = std::fs::read(p.store_path()).unwrap();

    // The real binary, told to abort after writing the temporary file and before renaming it
    // over the store: what a kill or power loss at the worst moment leaves behind.
    let out = p
        .muster()
        .env("MUSTER_TEST_CRASH_AFTER_TEMP_WRITE", "1")
        .args(["secrets", "rotate", "db-password"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(6),
        "aborted: {}",
        output_text(&out)
    );
    let leftovers: Vec<String> = std::fs::read_dir(p.path().join(".muster"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("muster-tmp"))
        .collect();
    assert_eq!(leftovers.len(), 1, "the temporary file was written");
    assert_eq!(std::fs::read(p.store_path()).unwrap(), bytes);
    assert_eq!(p.store(), before, "the old store is intact");

    // muster carries on from the old store and clears the stale temporary file.
    p.muster().args(["secrets", "list"]).assert().success();
    p.muster()
        .args(["secrets", "rotate", "db-password"])
        .assert()
        .success();
    assert_ne!(
        p.value("db-password"),
        before["secrets"]["db-password"]["value"]
    );
    let leftovers = std::fs::read_dir(p.path().join(".muster"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("muster-tmp")
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn a_wrong_identity_is_a_clear_error_and_changes_nothing() {
    let p = generated();
    let bytes = std::fs::read(p.store_path()).unwrap();
    let own = std::fs::read_to_string(p.path().join(".muster/recipients")).unwrap();
    let own_key = own
        .lines()
        .find(|l| l.starts_with("age1"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let other = p.home.path().join("other/identity");
    for args in [
        vec!["secrets", "list"],
        vec!["secrets", "generate"],
        vec!["secrets", "rotate", "db-password"],
    ] {
        p.muster_as(&other)
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("cannot decrypt .muster/secrets"))
            .stderr(predicate::str::contains(other.display().to_string()))
            .stderr(predicate::str::contains(&own_key))
            .stderr(predicate::str::contains("recipients add age1"));
        assert_eq!(std::fs::read(p.store_path()).unwrap(), bytes);
    }
}

#[test]
fn a_damaged_store_is_an_error_and_never_overwritten() {
    let p = generated();
    let mut bytes = std::fs::read(p.store_path()).unwrap();
    bytes.extend_from_slice(b"garbage\n");
    std::fs::write(p.store_path(), &bytes).unwrap();
    p.muster()
        .args(["secrets", "generate"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("will not overwrite it"));
    assert_eq!(std::fs::read(p.store_path()).unwrap(), bytes);

    // Decrypts, but is not a store: said as such, with no piece of the content.
    let key = std::fs::read_to_string(p.identity()).unwrap();
    let key = key.lines().find(|l| l.starts_with("AGE-")).unwrap();
    let recipient = age::x25519::Identity::from_str(key).unwrap().to_public();
    let bad = age::encrypt(&recipient, b"{\"format\": \"top-secret-words\"}").unwrap();
    std::fs::write(p.store_path(), &bad).unwrap();
    p.muster()
        .args(["secrets", "rotate", "admin"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not valid store JSON (line 1"))
        .stderr(predicate::str::contains("top-secret-words").not());
    assert_eq!(std::fs::read(p.store_path()).unwrap(), bad);
}

#[test]
fn files_are_private() {
    let p = Project::new(REGISTRY);
    let identity = p.home.path().join("deep/config/identity");
    p.muster_as(&identity)
        .args(["secrets", "generate"])
        .assert()
        .success();
    assert_eq!(mode(&identity), 0o600);
    assert_eq!(mode(identity.parent().unwrap()), 0o700);
    assert_eq!(mode(&p.store_path()), 0o600);
    p.muster_as(&identity)
        .args(["secrets", "export", "compose"])
        .assert()
        .success();
    let runtime = p.path().join(".muster/runtime/compose");
    assert_eq!(mode(&runtime), 0o700);
    assert_eq!(mode(runtime.parent().unwrap()), 0o700);
    for file in ["db.env", "app.env"] {
        assert_eq!(mode(&runtime.join(file)), 0o600, "{file}");
    }
    let gitignore = std::fs::read_to_string(p.path().join(".muster/.gitignore")).unwrap();
    for line in ["runtime/", "rendered/", "secrets.plain.json"] {
        assert!(gitignore.lines().any(|l| l == line), "{gitignore}");
    }
}

#[test]
fn the_identity_defaults_to_home_config() {
    let p = Project::new(REGISTRY);
    p.muster()
        .env_remove("MUSTER_IDENTITY")
        .args(["secrets", "generate"])
        .assert()
        .success();
    let identity = p.home.path().join(".config/muster/identity");
    assert_eq!(mode(&identity), 0o600);
    assert_eq!(mode(identity.parent().unwrap()), 0o700);
    let text = std::fs::read_to_string(&identity).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap();
    let recipients = std::fs::read_to_string(p.path().join(".muster/recipients")).unwrap();
    assert!(recipients.contains(public), "{recipients}");
    decrypt_store(&p.store_path(), &identity);
}

#[test]
fn recipients_can_be_added_and_removed() {
    let p = generated();
    let second = p.home.path().join("second/identity");
    // The second person has an identity (made on first use) but cannot read the store yet.
    p.muster_as(&second)
        .args(["secrets", "list"])
        .assert()
        .code(2);
    let second_key = std::fs::read_to_string(&second)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
        .unwrap();
    let own_list = p
        .muster()
        .args(["secrets", "recipients", "list"])
        .output()
        .unwrap();
    let own_key = String::from_utf8_lossy(&own_list.stdout)
        .lines()
        .find(|l| l.ends_with("(you)"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();

    p.muster()
        .args(["secrets", "recipients", "add", "age1notakey"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not an age public key"));
    p.muster()
        .args(["secrets", "recipients", "add", &second_key])
        .assert()
        .success()
        .stderr(predicate::str::contains("re-encrypted"));
    let before = p.store();
    assert_eq!(decrypt_store(&p.store_path(), &second), before);
    p.muster_as(&second)
        .args(["secrets", "list"])
        .assert()
        .success();

    // Your own key only with --force; never the last one.
    p.muster()
        .args(["secrets", "recipients", "remove", &own_key])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
    p.muster()
        .args(["secrets", "recipients", "remove", &second_key])
        .assert()
        .success();
    p.muster_as(&second)
        .args(["secrets", "list"])
        .assert()
        .code(2);
    p.muster()
        .args(["secrets", "recipients", "remove", &own_key, "--force"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("last recipient"));
    assert_eq!(p.store(), before);
}

#[test]
fn a_plaintext_store_is_used_when_present() {
    let p = Project::new(REGISTRY);
    p.muster()
        .args(["secrets", "generate", "--plaintext"])
        .assert()
        .success();
    let plain = p.path().join(".muster/secrets.plain.json");
    assert_eq!(mode(&plain), 0o600);
    assert!(!p.store_path().exists());
    assert!(
        !p.identity().exists(),
        "no identity is needed for a plaintext store"
    );
    let gitignore = std::fs::read_to_string(p.path().join(".muster/.gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == "secrets.plain.json"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&plain).unwrap()).unwrap();
    let password = json["secrets"]["db-password"]["value"].as_str().unwrap();
    p.muster()
        .args(["secrets", "show", "db-password", "--reveal"])
        .assert()
        .success()
        .stdout(format!("{password}\n"));
    p.muster()
        .args(["secrets", "rotate", "db-password"])
        .assert()
        .success();
    assert!(!p.store_path().exists(), "still the plaintext store");

    let q = generated();
    q.muster()
        .args(["secrets", "generate", "--plaintext"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("muster keeps one store"));
}

#[test]
fn show_needs_reveal() {
    let p = generated();
    let out = p
        .muster()
        .args(["secrets", "show", "db-password"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = output_text(&out);
    assert!(text.contains("--reveal"), "{text}");
    assert!(!text.contains(&p.value("db-password")));
    p.muster()
        .args(["secrets", "show", "db-pasword", "--reveal"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean `db-password`?"));
    p.muster()
        .args(["secrets", "show", "api-key", "--reveal"])
        .assert()
        .success()
        .stdout(format!("{}\n", p.value("api-key")));
}

#[test]
fn statuses_and_check() {
    let p = Project::new(
        r#"
version: 1
name: statuses
secrets:
  token: { kind: external, description: From the provider }
  optional-token: { kind: external, optional: true }
  cert: { kind: external, file: ./certs/site.pem }
  pw: { kind: password, length: 16 }
services:
  app:
    image: "app:1"
    env:
      TOKEN: { secret: token }
"#,
    );
    let json = |p: &Project| -> serde_json::Value {
        let out = p
            .muster()
            .args(["secrets", "list", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let states = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["state"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        states(&json(&p)),
        [
            "external-unset",
            "external-unset",
            "external-unset",
            "missing"
        ]
    );
    p.muster()
        .args(["secrets", "check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("token is external-unset"))
        .stdout(predicate::str::contains("pw is missing"))
        .stdout(predicate::str::contains("optional-token").not());

    p.muster().args(["secrets", "generate"]).assert().success();
    p.muster()
        .args(["secrets", "set", "token"])
        .write_stdin("REPLACE_WITH_YOUR_TOKEN\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("placeholder").or(predicate::str::contains("marker")));
    p.muster()
        .args(["secrets", "set", "token"])
        .write_stdin("tok-0123456789abcdef\n")
        .assert()
        .success();
    assert_eq!(p.value("token"), "tok-0123456789abcdef");
    p.muster()
        .args(["secrets", "set", "pw"])
        .write_stdin("short\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already has a value"));
    p.write("certs/site.pem", "<paste the certificate here>\n");
    assert_eq!(
        states(&json(&p)),
        ["ok", "external-unset", "placeholder", "ok"]
    );
    p.muster()
        .args(["secrets", "check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("cert is placeholder"));
    p.write(
        "certs/site.pem",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    );
    p.muster()
        .args(["secrets", "check"])
        .assert()
        .success()
        .stdout(predicate::str::contains("4 of 4 secrets ok"));
}

#[test]
fn malformed_values_fail_check() {
    let p = Project::new(REGISTRY);
    p.muster()
        .args(["secrets", "generate", "--plaintext"])
        .assert()
        .success();
    p.muster().args(["secrets", "check"]).assert().success();
    // The registry now asks for longer passwords and more bytes than the store holds.
    p.write(
        "muster.yaml",
        &REGISTRY
            .replace("length: 24", "length: 30")
            .replace("bytes: 16", "bytes: 20"),
    );
    p.muster()
        .args(["secrets", "check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "db-password is malformed: has 24 characters; the registry asks for 30",
        ))
        .stdout(predicate::str::contains(
            "api-key is malformed: has 32 hex digits",
        ));
    // Tampering with a derived value is caught by verifying it against its source.
    let plain = p.path().join(".muster/secrets.plain.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&plain).unwrap()).unwrap();
    json["secrets"]["admin-hash"]["value"] =
        "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            .into();
    std::fs::write(&plain, serde_json::to_vec(&json).unwrap()).unwrap();
    p.muster()
        .args(["secrets", "check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "admin-hash is malformed: does not verify",
        ));
}

#[test]
fn a_recipient_added_before_the_first_store_gets_it_and_so_do_you() {
    let p = Project::new(REGISTRY);
    let ci = age::x25519::Identity::generate();
    let ci_path = p.home.path().join("ci-identity");
    std::fs::write(
        &ci_path,
        format!(
            "{}\n",
            age::secrecy::ExposeSecret::expose_secret(&ci.to_string())
        ),
    )
    .unwrap();
    p.muster()
        .args(["secrets", "recipients", "add", &ci.to_public().to_string()])
        .assert()
        .success()
        .stderr(predicate::str::contains("there is no store yet"));
    p.muster().args(["secrets", "generate"]).assert().success();
    let mine = p.store();
    assert_eq!(decrypt_store(&p.store_path(), &ci_path), mine);
    let recipients = std::fs::read_to_string(p.path().join(".muster/recipients")).unwrap();
    assert_eq!(
        recipients.lines().filter(|l| l.starts_with("age1")).count(),
        2
    );
}
