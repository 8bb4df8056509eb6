//! Shared by the `secrets_*` tests: a project in a temporary folder, with its own identity and
//! home, so the real `~/.config/muster` is never touched.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::str::FromStr;

use assert_cmd::Command;

/// `.env` lines giving every required variable without a default of the registry at
/// `registry` its example (`test` without one): what an engine that resolves variables at
/// generation time (Kubernetes) needs.
pub fn required_variables_env(registry: &Path) -> String {
    let source = muster::source::SourceFile::read(registry).unwrap();
    let reg = muster::registry::load(source, None).registry.unwrap();
    reg.variables
        .values()
        .filter(|v| v.required && v.default.is_none())
        .map(|v| {
            format!(
                "{}={}\n",
                v.name.value,
                v.example.as_deref().unwrap_or("test")
            )
        })
        .collect()
}

pub struct Project {
    pub dir: tempfile::TempDir,
    /// A second temporary folder: home and identity live here, outside the project.
    pub home: tempfile::TempDir,
}

impl Project {
    pub fn new(registry: &str) -> Project {
        let project = Project {
            dir: tempfile::tempdir().unwrap(),
            home: tempfile::tempdir().unwrap(),
        };
        std::fs::write(project.path().join("muster.yaml"), registry).unwrap();
        project
    }

    /// A copy of a shipped example.
    pub fn example(name: &str) -> Project {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples")
                .join(name)
                .join("muster.yaml"),
        )
        .unwrap();
        Project::new(&text)
    }

    /// Appends [`required_variables_env`] of the project's registry to its `.env`.
    pub fn set_required_variables(&self) {
        use std::io::Write as _;
        let lines = required_variables_env(&self.path().join("muster.yaml"));
        let mut env = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path().join(".env"))
            .unwrap();
        env.write_all(lines.as_bytes()).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn identity(&self) -> PathBuf {
        self.home.path().join("identity")
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// `muster` run in the project, with this project's identity.
    pub fn muster(&self) -> Command {
        self.muster_as(&self.identity())
    }

    /// `muster` run in the project with another identity file.
    pub fn muster_as(&self, identity: &Path) -> Command {
        let mut cmd = Command::cargo_bin("muster").unwrap();
        cmd.current_dir(self.path())
            .env("NO_COLOR", "1")
            .env("HOME", self.home.path())
            .env("MUSTER_IDENTITY", identity)
            .env_remove("MUSTER_TEST_CRASH_AFTER_TEMP_WRITE")
            .env_remove("MUSTER_DOCKER");
        cmd
    }

    pub fn store_path(&self) -> PathBuf {
        self.path().join(".muster/secrets")
    }

    /// The decrypted JSON of the store, opened with this project's identity.
    pub fn store(&self) -> serde_json::Value {
        decrypt_store(&self.store_path(), &self.identity())
    }

    /// The current value of a secret, from the decrypted store.
    pub fn value(&self, name: &str) -> String {
        self.store()["secrets"][name]["value"]
            .as_str()
            .unwrap_or_else(|| panic!("no value for {name}"))
            .to_string()
    }
}

pub fn decrypt_store(store: &Path, identity: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(identity).unwrap();
    let key = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .expect("an identity line");
    let identity = age::x25519::Identity::from_str(key).unwrap();
    let bytes = std::fs::read(store).unwrap();
    let plain = age::decrypt(&identity, &bytes).expect("the store decrypts");
    serde_json::from_slice(&plain).unwrap()
}

/// Every value the store holds (current, pending, history).
pub fn all_values(store: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for entry in store["secrets"].as_object().unwrap().values() {
        out.push(entry["value"].as_str().unwrap().to_string());
        if let Some(p) = entry["pending"]["value"].as_str() {
            out.push(p.to_string());
        }
        for h in entry["history"].as_array().into_iter().flatten() {
            out.push(h["value"].as_str().unwrap().to_string());
        }
    }
    out
}

/// Panics if any value, or its base64 form, appears in `output` (values of fewer than 6
/// characters are skipped: they occur in ordinary text by chance).
pub fn assert_no_value_in(output: &str, values: &[String], what: &str) {
    use base64::Engine as _;
    for v in values {
        if v.len() < 6 {
            continue;
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(v.as_bytes());
        for line in v
            .lines()
            .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
        {
            assert!(
                !output.contains(line),
                "{what} printed a line of a secret value"
            );
        }
        assert!(
            !output.contains(v.as_str()),
            "{what} printed a secret value"
        );
        assert!(
            !output.contains(&b64),
            "{what} printed a secret value in base64"
        );
    }
}

/// stdout + stderr of a finished command.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().mode() & 0o777
}

/// Whether a tool this test needs is here; without it the test skips on a laptop and fails
/// under CI (`CI=true`).
pub fn tool_available(name: &str, probe: &[&str]) -> bool {
    let ok = std::process::Command::new(name)
        .args(probe)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").is_err(),
            "`{name}` is required under CI but is not usable here"
        );
        eprintln!("skipped: `{name}` is not usable here");
    }
    ok
}
