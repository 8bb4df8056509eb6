//! Filling the store: `generate` makes what is missing and never touches an existing value;
//! `set` records a value given by hand (external secrets, or importing a value that exists
//! elsewhere already).

use super::env_file::placeholder;
use super::kinds;
use super::resolve::{Current, current, derived_from, in_dependency_order};
use super::store::{Entry, StoreData};
use super::value::SecretValue;
use super::{Error, Paths, Result};
use crate::registry::Registry;
use crate::registry::model::{Secret, SecretKind};

/// A value `generate` made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    pub name: String,
    pub kind: String,
    /// For a derived secret, the secret it was computed from.
    pub from: Option<String>,
}

/// What `generate` did.
#[derive(Debug, Default)]
pub struct Generated {
    pub made: Vec<Made>,
    /// Secrets it could not make, and why (a derived secret whose external source is unset).
    pub skipped: Vec<(String, String)>,
}

/// Makes a value for every secret that has none, sources before the secrets derived from them.
/// Existing values are never changed. `progress` is called before each value is made.
pub fn generate_missing(
    reg: &Registry,
    paths: &Paths,
    data: &mut StoreData,
    now: &str,
    progress: &mut dyn FnMut(&Secret),
) -> Result<Generated> {
    let mut out = Generated::default();
    for secret in in_dependency_order(reg) {
        let name = &secret.name.value;
        if secret.kind.value == SecretKind::External {
            continue;
        }
        if data.secrets.get(name).is_some_and(|e| !e.value.is_empty()) {
            continue;
        }
        let source = match source_value(reg, secret, paths, data) {
            Ok(source) => source,
            Err(why) => {
                out.skipped.push((name.clone(), why));
                continue;
            }
        };
        progress(secret);
        let value = kinds::generate(secret, source.as_ref())
            .map_err(|e| Error::could_not(format!("cannot make `{name}`: {e}")))?;
        data.secrets.insert(
            name.clone(),
            Entry::new(secret.kind.value.as_str(), value, now),
        );
        out.made.push(Made {
            name: name.clone(),
            kind: secret.kind.value.as_str().to_string(),
            from: secret.from.as_ref().map(|f| f.value.clone()),
        });
    }
    Ok(out)
}

/// The current value of the source of a derived secret (`None` for other kinds); an error
/// saying why when the source has no value.
pub fn source_value(
    reg: &Registry,
    secret: &Secret,
    paths: &Paths,
    data: &StoreData,
) -> std::result::Result<Option<SecretValue>, String> {
    let Some(from) = &secret.from else {
        return Ok(None);
    };
    let Some(source) = reg.secrets.get(&from.value) else {
        return Err(format!("its source `{}` is not a secret", from.value));
    };
    match current(source, paths, data) {
        Current::Value(v) => Ok(Some(v)),
        Current::Unset => Err(format!(
            "its source `{}` has no value yet ({})",
            from.value,
            super::status::unset_hint(source)
        )),
        Current::Unreadable(why) => Err(format!("its source `{}`: {why}", from.value)),
    }
}

/// Recomputes every secret derived from `name` (after `name` changed), keeping the previous
/// values in their history. Returns the names recomputed.
pub fn recompute_derived(
    reg: &Registry,
    paths: &Paths,
    data: &mut StoreData,
    name: &str,
    now: &str,
) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for secret in derived_from(reg, name) {
        let derived = &secret.name.value;
        let source = source_value(reg, secret, paths, data)
            .map_err(|why| Error::could_not(format!("cannot recompute `{derived}`: {why}")))?;
        let value = kinds::generate(secret, source.as_ref())
            .map_err(|e| Error::could_not(format!("cannot recompute `{derived}`: {e}")))?;
        match data.secrets.get_mut(derived) {
            Some(entry) if !entry.value.is_empty() => {
                entry.replace(value, now, "rotated");
                entry.kind = secret.kind.value.as_str().to_string();
            }
            _ => {
                data.secrets.insert(
                    derived.clone(),
                    Entry::new(secret.kind.value.as_str(), value, now),
                );
            }
        }
        done.push(derived.clone());
    }
    Ok(done)
}

/// The registry's secret called `name`, or an error with a suggestion.
pub fn lookup<'a>(reg: &'a Registry, name: &str) -> Result<&'a Secret> {
    reg.secrets.get(name).ok_or_else(|| {
        let e = Error::could_not(format!("`{name}` is not a secret of this registry"));
        match crate::diagnostic::did_you_mean(name, reg.secrets.keys().map(String::as_str)) {
            Some(close) => e.hint(format!("did you mean `{close}`?")),
            None => e.hint("`muster secrets list` shows them all"),
        }
    })
}

/// Records a value given by hand. External secrets (without `file:`) may be set and re-set;
/// other generated kinds only while they have no value (to import one that is already in use
/// elsewhere), and only in their kind's format. Derived secrets are recomputed. Returns the
/// names of the derived secrets recomputed.
pub fn set_value(
    reg: &Registry,
    paths: &Paths,
    data: &mut StoreData,
    name: &str,
    value: SecretValue,
    now: &str,
) -> Result<Vec<String>> {
    let secret = lookup(reg, name)?;
    let kind = secret.kind.value;
    if let Some(from) = &secret.from {
        return Err(Error::could_not(format!(
            "`{name}` is computed from `{}`; it cannot be set by hand",
            from.value
        ))
        .hint(format!("set or rotate `{}` instead", from.value)));
    }
    if let (SecretKind::External, Some(file)) = (kind, &secret.file) {
        return Err(Error::could_not(format!(
            "`{name}` is read from {file}; it cannot be set in the store"
        ))
        .hint(format!("write the value into {file}")));
    }
    if value.is_empty() {
        return Err(Error::could_not(format!("no value given for `{name}`"))
            .hint("pipe the value on stdin, or pass --from-file PATH"));
    }
    if let Some(what) = placeholder(value.expose()) {
        return Err(Error::bad(format!(
            "the value given for `{name}` looks like {what}, not a real value"
        )));
    }
    let existing = data.secrets.get(name).filter(|e| !e.value.is_empty());
    if kind != SecretKind::External {
        if existing.is_some() {
            return Err(
                Error::could_not(format!("`{name}` already has a value")).hint(format!(
                    "`muster secrets rotate {name}` replaces it (and keeps the old one)"
                )),
            );
        }
        kinds::validate(secret, &value, None).map_err(|why| {
            Error::bad(format!(
                "the value given for `{name}` {why}; the registry asks for {}",
                kinds::describe(secret)
            ))
        })?;
    }
    match data.secrets.get_mut(name) {
        Some(entry) if !entry.value.is_empty() => entry.replace(value, now, "replaced"),
        _ => {
            data.secrets
                .insert(name.to_string(), Entry::new(kind.as_str(), value, now));
        }
    }
    recompute_derived(reg, paths, data, name, now)
}
