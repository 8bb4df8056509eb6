//! Writing files that hold secret material: private from their first byte, atomic, durable.
//!
//! `fsutil::write_atomic` creates its temporary file with the default mode, so a secret would be
//! world-readable for a moment; here the temporary file is created with its final mode, synced,
//! renamed over the target and the folder synced, so a crash leaves the old file or the new one.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Set to `1` in tests only: the process aborts after writing a temporary file and before
/// renaming it over the target, as a crash at the worst moment would.
pub const CRASH_AFTER_TEMP_WRITE: &str = "MUSTER_TEST_CRASH_AFTER_TEMP_WRITE";

/// Marks the temporary files of [`write_private`]: `.<name>.muster-tmp-<pid>`.
const TEMP_MARK: &str = ".muster-tmp-";

/// Creates `dir` and its missing parents; the folders it creates get `mode`.
pub fn ensure_dir(dir: &Path, mode: u32) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
    {
        ensure_dir(parent, mode)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates `dir` if needed and sets its mode (also when it already existed).
pub fn private_dir(dir: &Path, mode: u32) -> std::io::Result<()> {
    ensure_dir(dir, mode)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

/// Writes `contents` to `path` with `mode`, atomically: a temporary file beside it (created
/// with `mode`), fsync, rename, fsync of the folder.
pub fn write_private(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}{TEMP_MARK}{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have narrowed the mode; the caller asked for exactly this one.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        if std::env::var_os(CRASH_AFTER_TEMP_WRITE).is_some_and(|v| v == "1") {
            std::process::abort();
        }
        std::fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes temporary files that an interrupted [`write_private`] of `path` left behind. Call it
/// only while holding the lock that serialises writers.
pub fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".{}{TEMP_MARK}", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The lines muster keeps in `.muster/.gitignore`: everything in `.muster/` that holds plain
/// secret material or is local state. The encrypted store and the recipients are committed.
pub const GITIGNORE_LINES: [&str; 5] = [
    "runtime/",
    "rendered/",
    "secrets.plain.json",
    ".lock",
    ".*.muster-tmp-*",
];

/// Makes sure `.muster/.gitignore` ignores [`GITIGNORE_LINES`], keeping whatever else it says.
pub fn ensure_gitignore(muster_dir: &Path) -> std::io::Result<()> {
    let path = muster_dir.join(".gitignore");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let present: Vec<&str> = existing.lines().map(str::trim).collect();
    let missing: Vec<&str> = GITIGNORE_LINES
        .iter()
        .copied()
        .filter(|l| !present.contains(l))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut text = existing.clone();
    if text.is_empty() {
        text.push_str(
            "# Written by muster: plain secret material and local state, never committed.\n",
        );
    } else if !text.ends_with('\n') {
        text.push('\n');
    }
    for line in missing {
        text.push_str(line);
        text.push('\n');
    }
    ensure_dir(muster_dir, 0o755)?;
    crate::fsutil::write_atomic(&path, text.as_bytes())
}

/// Takes the writers' lock of a `.muster` folder (released when the file is dropped), so two
/// muster processes never interleave read-modify-write cycles of the store.
pub fn lock(muster_dir: &Path) -> std::io::Result<File> {
    ensure_dir(muster_dir, 0o755)?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(muster_dir.join(".lock"))?;
    file.lock()?;
    Ok(file)
}

/// Gives `path` to `uid` (and `gid`, when given). Fails with `PermissionDenied` when not root.
pub fn chown(path: &Path, uid: u32, gid: Option<u32>) -> std::io::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), gid)
}

pub fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn private_writes_have_their_mode_and_no_temp_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/secret");
        ensure_dir(path.parent().unwrap(), 0o700).unwrap();
        write_private(&path, b"one", 0o600).unwrap();
        write_private(&path, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777,
            0o700
        );
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn gitignore_keeps_user_lines_and_adds_ours_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".gitignore"), "mine\nruntime/").unwrap();
        ensure_gitignore(dir.path()).unwrap();
        ensure_gitignore(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(".gitignore")).unwrap();
        assert!(text.starts_with("mine\nruntime/\n"), "{text}");
        for line in GITIGNORE_LINES {
            assert_eq!(text.lines().filter(|l| *l == line).count(), 1, "{text}");
        }
    }
}
