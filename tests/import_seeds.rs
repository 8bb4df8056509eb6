//! `muster import datamancy | homelabhub | hatmax` on the real registries of the systems
//! muster replaces (../shared/corpus/seed-projects, read in place), through the binary.
//!
//! Each import is snapshotted, then judged by what muster does with it: `check` names the
//! source's own mistakes (and nothing else), `plan` gives the source's dependency closures,
//! and the generated files carry every service the source describes.
//!
//! The corpus missing: the test prints why and passes, except under `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_norway::Value;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A folder of the seed projects, read in place; absent on a laptop (skip), required in CI.
fn seed(relative: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/seed-projects")
        .join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(!in_ci(), "{} is missing under CI=true", path.display());
    eprintln!("skipped: {} is missing", path.display());
    None
}

/// Runs muster in `dir`.
fn muster(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_muster"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("muster runs")
}

/// Both output streams, for looking for a message wherever it was printed.
fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what} failed:\n{}", text(&out));
    text(&out)
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn service_names(doc: &Value) -> Vec<String> {
    doc.get("services")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Imports `file` (relative to `source_dir`, so messages and the header name it the same way
/// everywhere) into `out/muster.yaml` and returns the text written.
fn import(kind: &str, source_dir: &Path, file: &str, out: &Path, extra: &[&str]) -> String {
    let target = out.join("muster.yaml");
    let target = target.to_str().expect("utf-8 temp path");
    let mut args = vec!["import", kind, file, "-o", target];
    args.extend_from_slice(extra);
    ok(muster(source_dir, &args), &format!("import {kind} {file}"));
    std::fs::read_to_string(out.join("muster.yaml")).expect("the registry was written")
}

mod datamancy {
    use super::*;

    #[test]
    fn imports_all_43_services_and_check_names_the_real_mistake_with_a_one_line_fix() {
        let Some(dir) = seed("datamancy/2026-01-04") else {
            return;
        };
        let out = tempfile::tempdir().unwrap();
        let registry = import("datamancy", &dir, "services.registry.yaml", out.path(), &[]);
        insta::assert_snapshot!("datamancy_2026_01_04", registry);
        let services = service_names(&yaml(&out.path().join("muster.yaml")));
        assert_eq!(services.len(), 43, "{services:?}");

        // The project's real mistake, and nothing else.
        let check = muster(out.path(), &["check", "--json"]);
        assert!(!check.status.success());
        let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
        let diagnostics = report["diagnostics"].as_array().unwrap();
        assert_eq!(diagnostics.len(), 1, "{report:#}");
        let d = &diagnostics[0];
        assert_eq!(d["code"], "M0301");
        assert!(
            d["message"].as_str().unwrap().starts_with(
                "`open-webui` (phase applications, order 4) requires `litellm` (phase ai, order 5)"
            ),
            "{d:#}"
        );

        // Apply the one-line fix the hint proposes: the first `...` of the help, in place of
        // the dependency the error points at.
        let help = d["help"].as_str().unwrap();
        let fix = help.split('`').nth(1).unwrap();
        assert_eq!(fix, "{ service: litellm, optional: true }", "{help}");
        let path = out.path().join("muster.yaml");
        let mut lines: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        let line = d["line"].as_u64().unwrap() as usize - 1;
        let (start, end) = (
            d["column"].as_u64().unwrap() as usize - 1,
            d["end_column"].as_u64().unwrap() as usize - 1,
        );
        assert_eq!(&lines[line][start..end], "litellm");
        lines[line].replace_range(start..end, fix);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        ok(muster(out.path(), &["check"]), "check after the fix");

        // Every service is generated, including the two the original generator dropped.
        ok(muster(out.path(), &["gen", "compose"]), "gen compose");
        let stack = yaml(&out.path().join("deploy/compose/stack.yml"));
        let generated = service_names(&stack);
        assert_eq!(generated.len(), 43);
        for name in &services {
            assert!(generated.contains(name), "{name} is not generated");
        }
        for name in ["authelia", "mailserver"] {
            assert!(generated.iter().any(|g| g == name));
        }
        compose_accepts(&out.path().join("deploy/compose/stack.yml"));
        let aliases = &stack["services"]["caddy"]["networks"]["frontend"]["aliases"];
        assert!(
            aliases
                .as_sequence()
                .unwrap()
                .contains(&Value::from("grafana.${DOMAIN}")),
            "the proxy answers to every route host: {aliases:?}"
        );
    }

    /// Compose v1 itself reads the generated stack (skipped without it, except in CI).
    fn compose_accepts(stack: &Path) {
        let version = Command::new("docker-compose").arg("version").output();
        if !version.is_ok_and(|o| o.status.success()) {
            assert!(!in_ci(), "docker-compose (v1) is required under CI=true");
            eprintln!("skipped: docker-compose (v1) is not installed");
            return;
        }
        let config = Command::new("docker-compose")
            .args(["-p", "datamancy", "-f"])
            .arg(stack)
            .args(["config", "-q"])
            .env("DOMAIN", "example.com")
            .output()
            .expect("docker-compose runs");
        assert!(
            config.status.success(),
            "docker-compose config refused {}:\n{}",
            stack.display(),
            text(&config)
        );
    }

    #[test]
    fn the_broken_registry_gives_located_syntax_errors_at_both_lines() {
        let Some(dir) = seed("datamancy/2026-01-19-invalid") else {
            return;
        };
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("muster.yaml");
        let run = muster(
            &dir,
            &[
                "import",
                "datamancy",
                "services.registry.yaml",
                "-o",
                target.to_str().unwrap(),
            ],
        );
        assert_eq!(run.status.code(), Some(1), "{}", text(&run));
        let shown = text(&run);
        for at in [
            "services.registry.yaml:155:48",
            "services.registry.yaml:493:50",
        ] {
            assert!(shown.contains(at), "no error at {at}:\n{shown}");
        }
        assert_eq!(shown.matches("error[M0101]").count(), 2, "{shown}");
        assert!(!target.exists(), "nothing is written from a broken source");
    }
}

mod hatmax {
    use super::*;

    /// A block's body by identifier, searched depth first.
    fn find<'b>(body: &'b hcl::Body, ident: &str) -> Option<&'b hcl::Block> {
        body.blocks().find_map(|b| {
            if b.identifier.as_str() == ident {
                Some(b)
            } else {
                find(&b.body, ident)
            }
        })
    }

    fn attr(block: &hcl::Block, key: &str) -> Option<String> {
        block
            .body
            .attributes()
            .find(|a| a.key.as_str() == key)
            .map(|a| match &a.expr {
                hcl::Expression::String(s) => s.clone(),
                other => other.to_string(),
            })
    }

    fn strings(block: &hcl::Block, key: &str) -> Vec<String> {
        match block
            .body
            .attributes()
            .find(|a| a.key.as_str() == key)
            .map(|a| &a.expr)
        {
            Some(hcl::Expression::Array(items)) => items
                .iter()
                .filter_map(|e| match e {
                    hcl::Expression::String(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// What a job says about Consul and Traefik: the check, the plain tags, and per Traefik
    /// router setting its value (`rule`, `entrypoints`).
    struct Registration {
        check: [Option<String>; 4],
        tags: Vec<String>,
        rule: String,
        entrypoints: String,
    }

    /// The `service { ... }` block of a job file's text, found by its braces: hatmax's own
    /// jobs are not valid HCL as a whole (their `env` block nests unescaped quotes), but
    /// their service block is.
    fn service_block(text: &str) -> &str {
        let start = text.find("service {").expect("a service block");
        let mut depth = 0;
        for (i, c) in text[start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return &text[start..=start + i];
                    }
                }
                _ => {}
            }
        }
        panic!("the service block does not close")
    }

    fn registration(path: &Path) -> Registration {
        let text = std::fs::read_to_string(path).unwrap();
        let body: hcl::Body = hcl::from_str(service_block(&text))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let service = find(&body, "service").expect("a service block");
        let check = find(&service.body, "check").expect("a check");
        let tags = strings(service, "tags");
        let router = |setting: &str| {
            tags.iter()
                .find_map(|t| {
                    let (key, value) = t.split_once('=')?;
                    (key.starts_with("traefik.http.routers.") && key.ends_with(setting))
                        .then(|| value.to_string())
                })
                .unwrap_or_default()
        };
        Registration {
            check: ["type", "path", "interval", "timeout"].map(|k| attr(check, k)),
            rule: router(".rule"),
            entrypoints: router(".entrypoints"),
            tags: tags
                .iter()
                .filter(|t| !t.starts_with("traefik."))
                .cloned()
                .collect(),
        }
    }

    fn imports_and_generates_a_job_per_service(version: &str) {
        let Some(dir) = seed(&format!("hatmax/{version}")) else {
            return;
        };
        let out = tempfile::tempdir().unwrap();
        let registry = import("hatmax", &dir, "hatmax.yml", out.path(), &[]);
        // Build contexts point back at the project from the temporary folder: they name the
        // project's services/<name>, and the snapshot shows them from `<project>`.
        let imported = yaml(&out.path().join("muster.yaml"));
        let project = std::fs::canonicalize(&dir).unwrap();
        let mut shown = registry.clone();
        for name in service_names(&imported) {
            let context = imported["services"][name.as_str()]["build"]["context"]
                .as_str()
                .unwrap();
            let resolved = std::fs::canonicalize(out.path())
                .unwrap()
                .join(context)
                .components()
                .fold(PathBuf::new(), |mut p, c| {
                    match c {
                        std::path::Component::ParentDir => {
                            p.pop();
                        }
                        c => p.push(c),
                    }
                    p
                });
            assert_eq!(resolved, project.join("services").join(&name));
            shown = shown.replace(context, &format!("<project>/services/{name}"));
        }
        insta::assert_snapshot!(format!("hatmax_{}", version.replace('-', "_")), shown);
        ok(muster(out.path(), &["check", "--strict"]), "check");
        ok(muster(out.path(), &["gen", "nomad"]), "gen nomad");

        let source = yaml(&dir.join("hatmax.yml"));
        let services = service_names(&source);
        assert!(!services.is_empty());
        let originals = dir.join("examples/ref/deployments/nomad/jobs");
        let mut compared = 0;
        for name in &services {
            let job = out
                .path()
                .join(format!("deploy/nomad/jobs/{name}.nomad.hcl"));
            let whole = std::fs::read_to_string(&job).unwrap();
            hcl::from_str::<hcl::Body>(&whole)
                .unwrap_or_else(|e| panic!("{} is not HCL: {e}", job.display()));
            let generated = registration(&job);
            let nomad = &source["services"][name.as_str()]["deployment"]["nomad"];
            let tags: Vec<String> = nomad["consul"]["tags"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect();
            assert_eq!(generated.tags, tags, "{name}");
            let rule = nomad["traefik"]["rule"].as_str().unwrap();
            // hatmax's rules name no host; muster's host-less routes match `domain` (a
            // reported approximation), so the generated rule is the original plus a host.
            assert_eq!(
                generated.rule,
                format!("Host(`localhost`) && {rule}"),
                "{name}"
            );
            assert_eq!(generated.entrypoints, "web");
            let original = originals.join(format!("{name}.nomad"));
            if original.exists() {
                let original = registration(&original);
                assert_eq!(generated.check, original.check, "{name}");
                assert_eq!(generated.tags, original.tags, "{name}");
                assert_eq!(
                    format!("Host(`localhost`) && {}", original.rule),
                    generated.rule
                );
                assert_eq!(generated.entrypoints, original.entrypoints);
                compared += 1;
            }
        }
        assert!(
            compared > 0,
            "no original job to compare with in {}",
            originals.display()
        );
    }

    #[test]
    fn head_imports_and_matches_the_original_jobs() {
        imports_and_generates_a_job_per_service("HEAD");
    }

    #[test]
    fn the_2025_10_15_version_imports_and_matches_the_original_jobs() {
        imports_and_generates_a_job_per_service("2025-10-15");
    }
}

mod homelabhub {
    use std::collections::BTreeSet;

    use super::*;

    /// `path` relative to the folder `from` (both absolute, without `..`).
    fn relative(path: &Path, from: &Path) -> String {
        let p: Vec<_> = path.components().collect();
        let f: Vec<_> = from.components().collect();
        let common = p.iter().zip(&f).take_while(|(a, b)| a == b).count();
        let mut out = PathBuf::new();
        for _ in common..f.len() {
            out.push("..");
        }
        for c in &p[common..] {
            out.push(c);
        }
        out.to_string_lossy().into_owned()
    }

    /// The catalog's closure of `selection`: a group's services (or the service), and every
    /// service their `dependencies` name, transitively.
    fn catalog_closure(catalog: &Value, selection: &str) -> BTreeSet<String> {
        let names = |v: &Value| -> Vec<String> {
            v.as_sequence()
                .map(|s| {
                    s.iter()
                        .filter_map(|n| n.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut todo = match catalog["groups"].get(selection) {
            Some(group) => names(&group["services"]),
            None => vec![selection.to_string()],
        };
        let mut out = BTreeSet::new();
        while let Some(s) = todo.pop() {
            if out.insert(s.clone()) {
                todo.extend(names(&catalog["services"][s.as_str()]["dependencies"]));
            }
        }
        out
    }

    fn planned(dir: &Path, selection: &str) -> BTreeSet<String> {
        let out = ok(muster(dir, &["plan", selection, "--json"]), "plan");
        let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
        plan["phases"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["services"].as_array().unwrap().iter())
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn catalog_and_bundles_import_and_plan_gives_the_catalogs_closures() {
        let Some(project) = seed("homelabhub/2025-11-23") else {
            return;
        };
        let dir = project.join("orchestration");
        let out = tempfile::tempdir().unwrap();
        let registry = import("homelabhub", &dir, "services.yaml", out.path(), &[]);
        // Host paths point back at the project from the temporary folder (from the registry,
        // and from deploy/compose for settings kept verbatim): shown from `<project>`.
        let root = std::fs::canonicalize(&project).unwrap();
        let here = std::fs::canonicalize(out.path()).unwrap();
        let mut shown = registry.clone();
        for from in [here.join("deploy/compose"), here.clone()] {
            shown = shown.replace(&relative(&root, &from), "<project>");
        }
        insta::assert_snapshot!("homelabhub_2025_11_23", shown);

        // The one mistake of the source: the web bundle gives homeassistant both
        // `network_mode: host` and `networks`, which Compose refuses too.
        let check = muster(out.path(), &["check", "--json"]);
        let report: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
        let errors: Vec<&serde_json::Value> = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["severity"] == "error")
            .collect();
        assert_eq!(errors.len(), 1, "{report:#}");
        assert_eq!(errors[0]["code"], "M0113");
        let line = errors[0]["line"].as_u64().unwrap() as usize - 1;
        let path = out.path().join("muster.yaml");
        let mut lines: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        assert_eq!(lines[line].trim(), "network_mode: host");
        lines.remove(line);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        ok(muster(out.path(), &["check"]), "check after the fix");

        let catalog = yaml(&dir.join("services.yaml"));
        for selection in ["bots", "dashboard"] {
            let expected = catalog_closure(&catalog, selection);
            assert_eq!(planned(out.path(), selection), expected, "plan {selection}");
        }
        assert_eq!(
            planned(out.path(), "bots"),
            BTreeSet::from(["discord-bot", "stream-bot", "postgres"].map(String::from))
        );
    }
}
