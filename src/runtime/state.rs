//! What the last `up` selected, in `.muster/state.json`: `status` judges those services
//! (and not every service of the registry) when no selection is given.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpState {
    pub project: String,
    pub environment: Option<String>,
    /// The words given to `up`.
    pub selection: Vec<String>,
    /// The services `up` started (closures of every `up` since the services were last
    /// taken down), in registry order.
    pub services: Vec<String>,
    /// Unix seconds.
    pub at: u64,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("state.json")
}

pub fn load(state_dir: &Path) -> io::Result<Option<UpState>> {
    match std::fs::read_to_string(path(state_dir)) {
        Ok(text) => Ok(serde_json::from_str(&text).ok()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Records an `up`: its selection, and its services added to those of earlier `up`s that
/// `down` has not taken away (in `order`).
pub fn record(
    state_dir: &Path,
    mut state: UpState,
    order: impl Fn(&str) -> usize,
) -> io::Result<()> {
    if let Some(previous) = load(state_dir)?
        .filter(|p| p.project == state.project && p.environment == state.environment)
    {
        for s in previous.services {
            if !state.services.contains(&s) {
                state.services.push(s);
            }
        }
    }
    state.services.sort_by_key(|s| order(s));
    save(state_dir, &state)
}

pub fn save(state_dir: &Path, state: &UpState) -> io::Result<()> {
    std::fs::create_dir_all(state_dir)?;
    let text = serde_json::to_string_pretty(state).expect("state serializes");
    crate::fsutil::write_atomic(&path(state_dir), format!("{text}\n").as_bytes())
}

/// Forgets `services` (after `down`); forgets the whole record when nothing is left.
pub fn forget(state_dir: &Path, services: &[String]) -> io::Result<()> {
    let Some(mut state) = load(state_dir)? else {
        return Ok(());
    };
    state.services.retain(|s| !services.contains(s));
    if state.services.is_empty() {
        match std::fs::remove_file(path(state_dir)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    } else {
        save(state_dir, &state)
    }
}
