//! One `up` or `down` at a time per project: an advisory lock on `.muster/lock`, which the
//! kernel releases when the holder exits however it exits, so a crash never leaves a stale
//! lock behind. The file also says who holds it, for the one who waits.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub command: String,
    /// Unix seconds.
    pub started: u64,
}

impl Holder {
    /// This process, running `command`.
    pub fn me(command: &str) -> Holder {
        Holder {
            pid: std::process::id(),
            host: hostname(),
            command: command.to_string(),
            started: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct ProjectLock {
    file: File,
    pub path: PathBuf,
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

pub enum Attempt {
    Acquired(ProjectLock),
    /// Held by someone else (None while the holder has not written its name yet).
    Held(Option<Holder>),
}

/// Tries to take the lock in `state_dir` (`.muster/`), creating the folder if needed.
pub fn try_lock(state_dir: &Path, me: &Holder) -> io::Result<Attempt> {
    std::fs::create_dir_all(state_dir)?;
    let path = state_dir.join("lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(serde_json::to_string(me).unwrap_or_default().as_bytes())?;
            file.flush()?;
            Ok(Attempt::Acquired(ProjectLock { file, path }))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            Ok(Attempt::Held(serde_json::from_str(&text).ok()))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_sees_the_holder_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let me = Holder::me("muster up all");
        let Attempt::Acquired(lock) = try_lock(dir.path(), &me).unwrap() else {
            panic!("free lock not acquired");
        };
        match try_lock(dir.path(), &Holder::me("muster down all")).unwrap() {
            Attempt::Held(Some(holder)) => assert_eq!(holder, me),
            _ => panic!("held lock acquired twice"),
        }
        drop(lock);
        assert!(matches!(
            try_lock(dir.path(), &me).unwrap(),
            Attempt::Acquired(_)
        ));
    }
}
