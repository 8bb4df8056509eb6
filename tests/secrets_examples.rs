//! Every shipped example, copied to a temporary folder: `secrets generate`, then
//! `secrets export compose` writes files holding the values (private), and no value, nor its
//! base64 form, appears in the output of any muster command run on the way.

mod secrets_support;

use std::sync::Arc;

use muster::registry::Registry;
use muster::registry::model::EnvValue;
use muster::source::SourceFile;
use secrets_support::{Project, all_values, assert_no_value_in, mode, output_text};

const EXAMPLES: [&str; 4] = ["homelab", "selfhosted", "microservices", "nomad"];

fn registry_of(p: &Project) -> Registry {
    let text = std::fs::read_to_string(p.path().join("muster.yaml")).unwrap();
    let loaded = muster::registry::load(Arc::new(SourceFile::new("muster.yaml", text)), None);
    loaded.registry.unwrap()
}

/// The value an exported env line carries (`KEY=value` or `KEY='value'`).
fn env_value(file: &str, key: &str) -> Option<String> {
    file.lines().find_map(|l| {
        let v = l.strip_prefix(key)?.strip_prefix('=')?;
        Some(
            match v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
                Some(quoted) => quoted.to_string(),
                None => v.to_string(),
            },
        )
    })
}

#[test]
fn every_example_generates_and_exports_without_leaking() {
    for name in EXAMPLES {
        let p = Project::example(name);
        let mut outputs: Vec<(String, String)> = Vec::new();
        let mut run = |args: &[&str], stdin: Option<&str>| -> std::process::Output {
            let mut cmd = p.muster();
            cmd.args(args);
            if let Some(input) = stdin {
                cmd.write_stdin(input);
            }
            let out = cmd.output().unwrap();
            outputs.push((
                format!("{name}: muster {}", args.join(" ")),
                output_text(&out),
            ));
            out
        };

        let out = run(&["secrets", "generate"], None);
        assert!(out.status.success(), "{name}: {}", output_text(&out));
        run(&["secrets", "list"], None);

        // External secrets that must be set by hand get a test value.
        let out = run(&["secrets", "list", "--json"], None);
        let statuses: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for s in statuses.as_array().unwrap() {
            if s["state"] == "external-unset" && s["optional"] == false {
                let secret = s["name"].as_str().unwrap();
                let value = format!("Ext{}Value{}", secret.len(), "x".repeat(20));
                let out = run(&["secrets", "set", secret], Some(&value));
                assert!(out.status.success(), "{name}: {}", output_text(&out));
            }
        }
        run(&["secrets", "check"], None);
        let reg = registry_of(&p);
        let first = reg.secrets.keys().next().unwrap().clone();
        let out = run(&["secrets", "show", &first], None);
        assert_eq!(out.status.code(), Some(2));

        let out = run(&["secrets", "export", "compose"], None);
        assert!(out.status.success(), "{name}: {}", output_text(&out));
        for engine in ["kubernetes", "nomad", "swarm"] {
            let out = run(&["secrets", "export", engine], None);
            assert!(
                out.status.success(),
                "{name} {engine}: {}",
                output_text(&out)
            );
        }

        // The env files hold the values.
        let store = p.store();
        let value = |secret: &str| -> String {
            store["secrets"][secret]["value"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        let runtime = p.path().join(".muster/runtime/compose");
        let mut checked = 0;
        for service in reg.enabled_services() {
            let holds_secret = service.env.values().any(|e| e.value.holds_secret());
            let env_path = runtime.join(format!("{}.env", service.name.value));
            assert_eq!(
                env_path.exists(),
                holds_secret,
                "{name}: {}",
                env_path.display()
            );
            if !holds_secret {
                continue;
            }
            assert_eq!(mode(&env_path), 0o600);
            let text = std::fs::read_to_string(&env_path).unwrap();
            for (var, entry) in &service.env {
                match &entry.value {
                    EnvValue::Secret { name: s, as_file } => {
                        let want = if *as_file {
                            let file = runtime.join("secrets").join(&s.value);
                            assert_eq!(std::fs::read_to_string(&file).unwrap(), value(&s.value));
                            format!("/run/secrets/{}", s.value)
                        } else {
                            value(&s.value)
                        };
                        assert_eq!(env_value(&text, var), Some(want), "{name} {var}");
                        checked += 1;
                    }
                    EnvValue::Text(t) if t.secrets().next().is_some() => {
                        let line = env_value(&text, var).unwrap();
                        for s in t.secrets() {
                            assert!(line.contains(&value(s)), "{name} {var} lacks {s}");
                        }
                        assert!(!line.contains("${"), "{name} {var} unresolved");
                        checked += 1;
                    }
                    _ => {}
                }
            }
            for s in &service.secrets {
                let file = runtime.join("secrets").join(&s.value);
                assert_eq!(std::fs::read_to_string(&file).unwrap(), value(&s.value));
            }
        }
        assert!(checked > 0, "{name}: nothing exported");
        for entry in std::fs::read_dir(runtime.join("secrets"))
            .into_iter()
            .flatten()
        {
            let path = entry.unwrap().path();
            assert!(
                [0o400, 0o444].contains(&mode(&path)),
                "{}: {:o}",
                path.display(),
                mode(&path)
            );
        }

        // Rotation, and its refusals, print no values either.
        let plain = reg
            .secrets
            .values()
            .find(|s| {
                s.on_rotate.is_none()
                    && s.kind.value == muster::registry::model::SecretKind::Password
            })
            .map(|s| s.name.value.clone())
            .unwrap();
        let out = run(&["secrets", "rotate", &plain], None);
        assert!(out.status.success(), "{name}: {}", output_text(&out));
        if let Some(hooked) = reg.secrets.values().find(|s| s.on_rotate.is_some()) {
            // The example's project is not running: refused, nothing changed.
            let before = p.store();
            let out = run(&["secrets", "rotate", &hooked.name.value], None);
            assert!(!out.status.success());
            assert_eq!(p.store(), before);
        }
        run(&["secrets", "rotate", "no-such-secret"], None);
        run(&["secrets", "set", &plain], Some("whatever-value-1234"));
        run(&["secrets", "check"], None);
        run(&["secrets", "recipients", "list"], None);
        run(&["secrets", "export", "compose"], None);

        let values = all_values(&p.store());
        assert!(!values.is_empty());
        // The leak check itself works: the one command allowed to print a value trips it.
        let revealed = p
            .muster()
            .args(["secrets", "show", &plain, "--reveal"])
            .output()
            .unwrap();
        let revealed = output_text(&revealed);
        assert!(
            std::panic::catch_unwind(|| assert_no_value_in(&revealed, &values, "show --reveal"))
                .is_err()
        );
        for (what, text) in &outputs {
            assert_no_value_in(text, &values, what);
        }

        // Nothing `gen` writes, for any engine, holds a value.
        p.set_required_variables();
        let out = p
            .muster()
            .args(["gen", "-o", "deploy-all"])
            .args([
                "compose",
                "swarm",
                "kubernetes",
                "nomad",
                "env",
                "docs",
                "graph",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", output_text(&out));
        let mut files = 0;
        let mut folders = vec![p.path().join("deploy-all")];
        while let Some(dir) = folders.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                assert_no_value_in(&text, &values, &path.display().to_string());
                files += 1;
            }
        }
        assert!(files > 20, "{name}: only {files} generated files");
    }
}
