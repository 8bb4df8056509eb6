//! Secrets: generated once, stored encrypted next to the registry, delivered to services at run
//! time, never written into generated files, never printed unless asked for by name.
//!
//! One module per concern: [`kinds`] makes and checks values, [`store`] keeps them (age-encrypted,
//! with history), [`identity`] knows who may open the store, [`status`] judges every secret,
//! [`generate`] and [`rotate`] change the store, [`usage`] finds the services a secret reaches,
//! [`export`] writes the runtime files each engine reads, [`env_file`] reads and checks `.env`,
//! and [`configs`] renders config templates. Only `cli` prints.

pub mod configs;
pub mod env_file;
pub mod export;
pub mod files;
pub mod generate;
pub mod identity;
pub mod kinds;
pub mod resolve;
pub mod rotate;
pub mod status;
pub mod store;
pub mod usage;
pub mod value;

use std::fmt;
use std::path::{Path, PathBuf};

pub use env_file::{check_env_file, check_env_report};
pub use value::SecretValue;

/// Something a secrets command could not do, or refused to do. Messages never hold a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub message: String,
    pub hint: Option<String>,
    /// True when the thing checked is bad (exit 1), false when muster could not do its job
    /// (exit 2).
    pub bad: bool,
}

impl Error {
    /// Muster could not do its job (exit 2): I/O, a store it cannot read, bad usage.
    pub fn could_not(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            hint: None,
            bad: false,
        }
    }

    /// The thing asked for is refused or failed (exit 1): a failed `on_rotate`, a stopped service.
    pub fn bad(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            hint: None,
            bad: true,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Where everything lives, relative to the folder of `muster.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub registry_dir: PathBuf,
    /// `.muster/`
    pub muster_dir: PathBuf,
    /// `.muster/secrets`: the encrypted store (committed).
    pub store: PathBuf,
    /// `.muster/secrets.plain.json`: the plaintext store (never committed).
    pub plain_store: PathBuf,
    /// `.muster/recipients`: who the store is encrypted to (committed).
    pub recipients: PathBuf,
    /// `.muster/runtime/`: files `export` writes for each engine (never committed).
    pub runtime: PathBuf,
    /// `.muster/rendered/`: config templates rendered for `up` (never committed).
    pub rendered: PathBuf,
}

impl Paths {
    pub fn new(registry_dir: &Path) -> Paths {
        let muster_dir = registry_dir.join(".muster");
        Paths {
            registry_dir: registry_dir.to_path_buf(),
            store: muster_dir.join("secrets"),
            plain_store: muster_dir.join("secrets.plain.json"),
            recipients: muster_dir.join("recipients"),
            runtime: muster_dir.join("runtime"),
            rendered: muster_dir.join("rendered"),
            muster_dir,
        }
    }

    /// The paths for the registry file at `registry` (its folder, made absolute).
    pub fn for_registry(registry: &Path) -> Paths {
        let absolute = std::path::absolute(registry).unwrap_or_else(|_| registry.to_path_buf());
        let dir = absolute
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Paths::new(&dir)
    }
}

/// The current time as RFC 3339 UTC, to the second (`2026-01-31T12:00:00Z`). The store's
/// timestamps are the one place muster reads the clock.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
