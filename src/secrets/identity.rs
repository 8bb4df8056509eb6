//! Who can open the store: the local age identity and the committed list of recipients.
//!
//! The identity (an age X25519 secret key) lives outside the project, at `$MUSTER_IDENTITY` or
//! `~/.config/muster/identity`, created on first use with mode 0600 in a 0700 folder. The store
//! is encrypted to every public key in `.muster/recipients`, so a teammate or CI added there can
//! decrypt it too and losing one identity loses nothing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;

use super::files;
use super::{Error, Result};

/// Overrides where the identity is read from and created.
pub const IDENTITY_ENV: &str = "MUSTER_IDENTITY";

/// Where the local identity is (or will be created): `$MUSTER_IDENTITY`, else
/// `$HOME/.config/muster/identity`.
pub fn identity_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(IDENTITY_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".config/muster/identity")),
        None => Err(Error::could_not(
            "cannot find the muster identity: neither MUSTER_IDENTITY nor HOME is set",
        )
        .hint("set MUSTER_IDENTITY to the path of your age identity file")),
    }
}

/// The local age identity.
pub struct LocalIdentity {
    pub path: PathBuf,
    key: age::x25519::Identity,
    /// Its public key (`age1...`), the line to add to `.muster/recipients`.
    pub public: String,
}

impl fmt::Debug for LocalIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalIdentity")
            .field("path", &self.path)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl LocalIdentity {
    pub fn age(&self) -> &age::x25519::Identity {
        &self.key
    }

    /// Reads the identity at `path`; `None` when there is no file.
    pub fn load(path: &Path) -> Result<Option<LocalIdentity>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => zeroize::Zeroizing::new(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::could_not(format!(
                    "cannot read the identity {}: {e}",
                    path.display()
                )));
            }
        };
        let key = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .ok_or_else(|| {
                Error::could_not(format!(
                    "{} holds no age identity (a line `AGE-SECRET-KEY-1...`)",
                    path.display()
                ))
                .hint(format!(
                    "point {IDENTITY_ENV} at your identity file, or move this file away so muster creates a new identity"
                ))
            })?;
        let key = age::x25519::Identity::from_str(key).map_err(|_| {
            Error::could_not(format!(
                "the identity in {} is not a valid age X25519 secret key",
                path.display()
            ))
        })?;
        let public = key.to_public().to_string();
        Ok(Some(LocalIdentity {
            path: path.to_path_buf(),
            key,
            public,
        }))
    }

    /// Reads the identity at `path`, creating it (0600, folder 0700) when there is none.
    /// Returns whether it was created.
    pub fn load_or_create(path: &Path, now: &str) -> Result<(LocalIdentity, bool)> {
        if let Some(identity) = LocalIdentity::load(path)? {
            return Ok((identity, false));
        }
        let key = age::x25519::Identity::generate();
        let public = key.to_public().to_string();
        let text = zeroize::Zeroizing::new(format!(
            "# muster identity (age X25519), created {now}\n# public key: {public}\n{}\n",
            key.to_string().expose_secret()
        ));
        let io = |e: std::io::Error| {
            Error::could_not(format!(
                "cannot create the identity {}: {e}",
                path.display()
            ))
            .hint(format!("set {IDENTITY_ENV} to a writable path"))
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            files::ensure_dir(parent, 0o700).map_err(io)?;
        }
        // Write beside it, then link into place: two muster processes starting at once never
        // overwrite each other's identity, and a crash never leaves a half-written one.
        let tmp = path.with_file_name(format!(
            ".{}.new-{}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        files::write_private(&tmp, text.as_bytes(), 0o600).map_err(io)?;
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok((
                LocalIdentity {
                    path: path.to_path_buf(),
                    key,
                    public,
                },
                true,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let identity = LocalIdentity::load(path)?.ok_or_else(|| io(e))?;
                Ok((identity, false))
            }
            Err(e) => Err(io(e)),
        }
    }
}

/// Parses one public key (`age1...`).
pub fn parse_recipient(key: &str) -> std::result::Result<age::x25519::Recipient, String> {
    age::x25519::Recipient::from_str(key.trim()).map_err(|e| {
        format!(
            "`{}` is not an age public key ({e}); they look like `age1...`",
            key.trim()
        )
    })
}

/// `.muster/recipients`: one age public key per line, `#` comments.
#[derive(Debug, Clone, Default)]
pub struct Recipients {
    pub path: PathBuf,
    /// The file as it is, so edits keep the comments.
    text: String,
    /// The keys, in file order, without repeats.
    pub keys: Vec<String>,
    /// Changed since it was read.
    pub dirty: bool,
}

const RECIPIENTS_HEADER: &str = "# age public keys that can decrypt .muster/secrets, one per line (`#` starts a comment).\n# Change it with `muster secrets recipients add KEY` / `remove KEY`: muster re-encrypts the store.\n";

impl Recipients {
    /// Reads the list; a missing file is an empty list.
    pub fn read(path: &Path) -> Result<Recipients> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(Error::could_not(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let mut keys = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let key = line.split('#').next().unwrap_or("").trim();
            if key.is_empty() {
                continue;
            }
            let parsed = parse_recipient(key).map_err(|e| {
                Error::could_not(format!("{}:{}: {e}", path.display(), index + 1))
                    .hint("fix or remove that line")
            })?;
            let key = parsed.to_string();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(Recipients {
            path: path.to_path_buf(),
            text,
            keys,
            dirty: false,
        })
    }

    pub fn contains(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }

    pub fn parsed(&self) -> Vec<age::x25519::Recipient> {
        self.keys
            .iter()
            .filter_map(|k| parse_recipient(k).ok())
            .collect()
    }

    /// Adds a key (a new line at the end).
    pub fn add(&mut self, key: &str, comment: Option<&str>) {
        if self.contains(key) {
            return;
        }
        if self.text.is_empty() {
            self.text.push_str(RECIPIENTS_HEADER);
        } else if !self.text.ends_with('\n') {
            self.text.push('\n');
        }
        self.text.push_str(key);
        if let Some(c) = comment {
            self.text.push_str("  # ");
            self.text.push_str(c);
        }
        self.text.push('\n');
        self.keys.push(key.to_string());
        self.dirty = true;
    }

    /// Removes every line holding `key`.
    pub fn remove(&mut self, key: &str) {
        let mut text = String::new();
        for line in self.text.split_inclusive('\n') {
            if line.split('#').next().unwrap_or("").trim() != key {
                text.push_str(line);
            }
        }
        self.text = text;
        self.keys.retain(|k| k != key);
        self.dirty = true;
    }

    pub fn save(&self) -> Result<()> {
        if let Some(dir) = self.path.parent() {
            files::ensure_dir(dir, 0o755)
                .map_err(|e| Error::could_not(format!("cannot create {}: {e}", dir.display())))?;
        }
        crate::fsutil::write_atomic(&self.path, self.text.as_bytes())
            .map_err(|e| Error::could_not(format!("cannot write {}: {e}", self.path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn identity_is_created_once_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg/muster/identity");
        let (a, created) = LocalIdentity::load_or_create(&path, "now").unwrap();
        assert!(created);
        let (b, created) = LocalIdentity::load_or_create(&path, "now").unwrap();
        assert!(!created);
        assert_eq!(a.public, b.public);
        assert!(a.public.starts_with("age1"));
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777,
            0o700
        );
        assert!(!format!("{a:?}").contains("AGE-SECRET-KEY"));
    }

    #[test]
    fn recipients_keep_comments_and_reject_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recipients");
        let one = age::x25519::Identity::generate().to_public().to_string();
        let two = age::x25519::Identity::generate().to_public().to_string();
        std::fs::write(&path, format!("# team\n{one} # alice\n")).unwrap();
        let mut r = Recipients::read(&path).unwrap();
        assert_eq!(r.keys, vec![one.clone()]);
        r.add(&two, Some("ci"));
        r.remove(&one);
        r.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("# team\n{two}  # ci\n"));
        std::fs::write(&path, "age1nope\n").unwrap();
        let e = Recipients::read(&path).unwrap_err();
        assert!(e.message.contains(":1:"), "{}", e.message);
    }
}
