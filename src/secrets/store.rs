//! The store: every secret's value, when it was made and rotated, a pending value while a
//! rotation runs, and the values it replaced.
//!
//! It lives in `.muster/secrets` next to the registry, as an ASCII-armored age file encrypted to
//! every key in `.muster/recipients`, meant to be committed. With `--plaintext` it is
//! `.muster/secrets.plain.json` (0600, ignored by git) instead; when that file exists it is the
//! store. The content is JSON (see [`StoreData`]). A store that cannot be decrypted or parsed is
//! an error, and is never written over: every write starts from a successful read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::identity::{self, LocalIdentity, Recipients};
use super::value::SecretValue;
use super::{Error, Paths, Result, files};

/// The version of the JSON inside the store.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoreData {
    pub format: u32,
    /// By secret name, sorted, so the JSON is stable.
    pub secrets: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The kind the value was made as (`password`, `external`, ...).
    pub kind: String,
    /// The current value.
    pub value: SecretValue,
    /// When the first value was made or set (RFC 3339, UTC).
    pub created: String,
    /// When the current value replaced a previous one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated: Option<String>,
    /// A new value whose `on_rotate` command has not succeeded yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// Earlier values, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Retired>,
}

impl Entry {
    pub fn new(kind: &str, value: SecretValue, now: &str) -> Entry {
        Entry {
            kind: kind.to_string(),
            value,
            created: now.to_string(),
            rotated: None,
            pending: None,
            history: Vec::new(),
        }
    }

    /// Makes `value` current; the old one goes to the history.
    pub fn replace(&mut self, value: SecretValue, now: &str, reason: &str) {
        let old = std::mem::replace(&mut self.value, value);
        self.history.push(Retired {
            value: old,
            since: self.rotated.clone().unwrap_or_else(|| self.created.clone()),
            until: now.to_string(),
            reason: reason.to_string(),
        });
        self.rotated = Some(now.to_string());
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub value: SecretValue,
    pub started: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Retired {
    pub value: SecretValue,
    /// When it became current (for a value that never did: when it was made).
    pub since: String,
    /// When it stopped being current.
    pub until: String,
    /// `rotated`, `replaced` (set by hand), `rotation-failed` (a candidate whose `on_rotate`
    /// failed: kept in case the command changed something before failing), `abandoned` (a
    /// pending value left by an interrupted rotation).
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Encrypted,
    Plain,
}

/// An opened store. Opened for writing, it holds the `.muster` lock until dropped.
#[derive(Debug)]
pub struct Store {
    pub paths: Paths,
    pub backend: Backend,
    pub data: StoreData,
    /// Whether the store file existed when it was opened.
    pub existed: bool,
    identity: Option<LocalIdentity>,
    _lock: Option<File>,
}

/// How to open the store.
#[derive(Debug, Clone, Copy, Default)]
pub struct Open {
    /// Take the lock: the caller will save.
    pub write: bool,
    /// Create a plaintext store when there is no store yet (`generate --plaintext`).
    pub plaintext: bool,
}

impl Store {
    pub fn open(paths: &Paths, how: Open, now: &str) -> Result<Store> {
        let lock = if how.write {
            Some(files::lock(&paths.muster_dir).map_err(|e| {
                Error::could_not(format!(
                    "cannot lock {}: {e}",
                    paths.muster_dir.join(".lock").display()
                ))
            })?)
        } else {
            None
        };
        let mut store = Store {
            paths: paths.clone(),
            backend: Backend::Encrypted,
            data: StoreData {
                format: FORMAT,
                secrets: BTreeMap::new(),
            },
            existed: false,
            identity: None,
            _lock: lock,
        };
        if paths.plain_store.exists() {
            store.backend = Backend::Plain;
            store.existed = true;
            let bytes = Zeroizing::new(read(&paths.plain_store)?);
            store.data = parse(&bytes, &crate::source::display_name(&paths.plain_store))?;
        } else if how.plaintext {
            if paths.store.exists() {
                return Err(Error::could_not(format!(
                    "{} already exists (encrypted); muster keeps one store",
                    paths.store.display()
                ))
                .hint("drop `--plaintext` to keep using the encrypted store"));
            }
            store.backend = Backend::Plain;
        } else if paths.store.exists() {
            store.existed = true;
            let identity_path = identity::identity_path()?;
            let (identity, _) = LocalIdentity::load_or_create(&identity_path, now)?;
            let bytes = read(&paths.store)?;
            let plain = decrypt(paths, &bytes, &identity)?;
            store.data = parse(&plain, &crate::source::display_name(&paths.store))?;
            store.identity = Some(identity);
        }
        if store.data.format > FORMAT {
            return Err(Error::could_not(format!(
                "the store was written by a newer muster (format {}; this one reads {FORMAT})",
                store.data.format
            ))
            .hint("update muster"));
        }
        Ok(store)
    }

    /// The file the store lives in.
    pub fn file(&self) -> &std::path::Path {
        match self.backend {
            Backend::Encrypted => &self.paths.store,
            Backend::Plain => &self.paths.plain_store,
        }
    }

    /// The local identity, loading (or creating) it when the store did not need it yet.
    pub fn identity(&mut self, now: &str) -> Result<&LocalIdentity> {
        if self.identity.is_none() {
            let path = identity::identity_path()?;
            self.identity = Some(LocalIdentity::load_or_create(&path, now)?.0);
        }
        Ok(self.identity.as_ref().expect("just loaded"))
    }

    /// Writes the store. An encrypted store is encrypted to `.muster/recipients`; when the store
    /// is new or that list is empty, the local identity's public key is added to it first.
    /// Returns notes for the user.
    pub fn save(&mut self, now: &str) -> Result<Vec<String>> {
        let recipients = Recipients::read(&self.paths.recipients)?;
        self.save_to(recipients, now)
    }

    /// Writes the store encrypted to `recipients` and then writes that list to
    /// `.muster/recipients` (for `recipients add/remove`).
    pub fn save_to(&mut self, mut recipients: Recipients, now: &str) -> Result<Vec<String>> {
        let mut notes = Vec::new();
        debug_assert!(self._lock.is_some(), "the store was opened for writing");
        let json =
            Zeroizing::new(serde_json::to_vec_pretty(&self.data).expect("the store serializes"));
        let io = |path: &std::path::Path, e: std::io::Error| {
            Error::could_not(format!("cannot write {}: {e}", path.display()))
        };
        files::ensure_dir(&self.paths.muster_dir, 0o755)
            .map_err(|e| io(&self.paths.muster_dir, e))?;
        files::ensure_gitignore(&self.paths.muster_dir)
            .map_err(|e| io(&self.paths.muster_dir.join(".gitignore"), e))?;
        match self.backend {
            Backend::Plain => {
                let path = self.paths.plain_store.clone();
                files::remove_stale_temps(&path);
                files::write_private(&path, &json, 0o600).map_err(|e| io(&path, e))?;
            }
            Backend::Encrypted => {
                let own = self.identity(now)?.public.clone();
                // A new store must open for the one who made it; so must a store whose
                // recipient list was emptied (nobody could open it otherwise).
                if (recipients.keys.is_empty() || !self.existed) && !recipients.contains(&own) {
                    recipients.add(&own, Some("added by muster on first use"));
                    notes.push(format!(
                        "added your public key {own} to {}",
                        self.paths.recipients.display()
                    ));
                }
                let armored = encrypt(&recipients, &json)?;
                let path = self.paths.store.clone();
                files::remove_stale_temps(&path);
                files::write_private(&path, &armored, 0o600).map_err(|e| io(&path, e))?;
                if recipients.dirty || !self.paths.recipients.exists() {
                    recipients.save()?;
                }
            }
        }
        self.existed = true;
        Ok(notes)
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| Error::could_not(format!("cannot read {}: {e}", path.display())))
}

fn parse(bytes: &[u8], what: &str) -> Result<StoreData> {
    serde_json::from_slice(bytes).map_err(|e| {
        // serde_json's message may quote a piece of the input: only say where.
        Error::could_not(format!(
            "cannot read the secrets in {what}: not valid store JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
        .hint("the store was damaged or edited by hand; restore it from git (`git checkout -- .muster/`) or a backup; muster will not overwrite it")
    })
}

fn encrypt(recipients: &Recipients, plain: &[u8]) -> Result<Vec<u8>> {
    let keys = recipients.parsed();
    let fail =
        |e: &dyn std::fmt::Display| Error::could_not(format!("cannot encrypt the store: {e}"));
    let encryptor = age::Encryptor::with_recipients(keys.iter().map(|k| k as &dyn age::Recipient))
        .map_err(|e| fail(&e))?;
    let mut out = Vec::new();
    let armor = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(|e| fail(&e))?;
    let mut writer = encryptor.wrap_output(armor).map_err(|e| fail(&e))?;
    writer.write_all(plain).map_err(|e| fail(&e))?;
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .map_err(|e| fail(&e))?;
    Ok(out)
}

fn decrypt(paths: &Paths, bytes: &[u8], identity: &LocalIdentity) -> Result<Zeroizing<Vec<u8>>> {
    let shown = |p: &std::path::Path| crate::source::display_name(p);
    let store = shown(&paths.store);
    let keep = "muster will not overwrite it";
    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(bytes)).map_err(|e| {
        Error::could_not(format!("{store} is not a readable age file: {e}"))
            .hint(format!("restore it from git or a backup; {keep}"))
    })?;
    let reader = decryptor.decrypt(std::iter::once(identity.age() as &dyn age::Identity));
    let mut reader = match reader {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => {
            let recipients = Recipients::read(&paths.recipients)
                .map(|r| r.keys)
                .unwrap_or_default();
            let listed = if recipients.is_empty() {
                format!("{} lists no keys", shown(&paths.recipients))
            } else {
                format!(
                    "it is encrypted to the keys in {} (age files do not record their recipients; this is the list muster encrypted to): {}",
                    shown(&paths.recipients),
                    recipients.join(", ")
                )
            };
            return Err(Error::could_not(format!(
                "cannot decrypt {store} with the identity at {} (public key {}); {listed}",
                shown(&identity.path),
                identity.public
            ))
            .hint(format!(
                "set {} to an identity that is one of those recipients, or ask someone who can decrypt the store to run `muster secrets recipients add {}`; {keep}",
                identity::IDENTITY_ENV,
                identity.public
            )));
        }
        Err(e) => {
            return Err(Error::could_not(format!("cannot decrypt {store}: {e}"))
                .hint(format!("restore it from git or a backup; {keep}")));
        }
    };
    let mut plain = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut plain).map_err(|e| {
        Error::could_not(format!("{store} is damaged: {e}"))
            .hint(format!("restore it from git or a backup; {keep}"))
    })?;
    Ok(plain)
}
