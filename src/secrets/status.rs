//! How each secret stands: present and well-formed, missing, unset, malformed or a placeholder.
//! `list` shows it, `check` fails on it; neither ever shows a value.

use serde::Serialize;

use super::Paths;
use super::env_file::placeholder;
use super::kinds;
use super::resolve::{Current, current};
use super::store::StoreData;
use crate::registry::Registry;
use crate::registry::model::{Secret, SecretKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Ok,
    Missing,
    ExternalUnset,
    Malformed,
    Placeholder,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Missing => "missing",
            State::ExternalUnset => "external-unset",
            State::Malformed => "malformed",
            State::Placeholder => "placeholder",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub name: String,
    /// The kind with its settings, e.g. `password(32, alnum)`.
    pub kind: String,
    pub created: Option<String>,
    pub rotated: Option<String>,
    pub state: State,
    /// What is wrong, and what to do (never the value).
    pub detail: Option<String>,
    /// An external secret that may stay empty.
    pub optional: bool,
    /// A rotation was interrupted and left a pending value.
    pub pending: bool,
}

impl Status {
    /// Whether `check` fails on it: everything but `ok` and an optional secret left unset.
    pub fn failing(&self) -> bool {
        match self.state {
            State::Ok => false,
            State::ExternalUnset => !self.optional,
            _ => true,
        }
    }
}

/// What to do about a secret without a value.
pub fn unset_hint(secret: &Secret) -> String {
    let name = &secret.name.value;
    match (&secret.kind.value, &secret.file) {
        (SecretKind::External, Some(file)) => format!("create {file} with the value"),
        (SecretKind::External, None) => {
            format!("set it by hand: `muster secrets set {name}` (reads the value from stdin)")
        }
        _ => "run `muster secrets generate`".to_string(),
    }
}

pub fn status_of(reg: &Registry, secret: &Secret, paths: &Paths, data: &StoreData) -> Status {
    let name = secret.name.value.clone();
    let entry = data.secrets.get(&name);
    let mut status = Status {
        name,
        kind: kinds::describe(secret),
        created: entry.map(|e| e.created.clone()),
        rotated: entry.and_then(|e| e.rotated.clone()),
        state: State::Ok,
        detail: None,
        optional: secret.optional,
        pending: entry.is_some_and(|e| e.pending.is_some()),
    };
    let external = secret.kind.value == SecretKind::External;
    let value = match current(secret, paths, data) {
        Current::Value(v) => v,
        Current::Unset => {
            status.state = if external {
                State::ExternalUnset
            } else {
                State::Missing
            };
            status.detail = Some(if secret.optional {
                "optional, not set".to_string()
            } else {
                unset_hint(secret)
            });
            return status;
        }
        Current::Unreadable(why) => {
            status.state = State::ExternalUnset;
            status.detail = Some(why);
            return status;
        }
    };
    if let Some(what) = placeholder(value.expose()) {
        status.state = State::Placeholder;
        status.detail = Some(format!("holds {what}; {}", unset_hint(secret)));
        return status;
    }
    if let Some(entry) = entry
        && !external
        && entry.kind != secret.kind.value.as_str()
    {
        status.state = State::Malformed;
        status.detail = Some(format!(
            "stored as a {} secret, the registry now says {}; make a new value with `muster secrets rotate {}`",
            entry.kind,
            secret.kind.value.as_str(),
            secret.name.value
        ));
        return status;
    }
    let source = secret
        .from
        .as_ref()
        .and_then(|from| reg.secrets.get(&from.value))
        .and_then(|source| match current(source, paths, data) {
            Current::Value(v) => Some(v),
            _ => None,
        });
    if let Err(why) = kinds::validate(secret, &value, source.as_ref()) {
        status.state = State::Malformed;
        let fix = match &secret.from {
            Some(from) => format!(
                "recompute it with `muster secrets rotate {}` (or rotate `{}`)",
                secret.name.value, from.value
            ),
            None if external => "set the right value".to_string(),
            None => format!(
                "make a new value with `muster secrets rotate {}`",
                secret.name.value
            ),
        };
        status.detail = Some(format!("{why}; {fix}"));
    }
    status
}

/// Every secret of the registry, in registry order.
pub fn statuses(reg: &Registry, paths: &Paths, data: &StoreData) -> Vec<Status> {
    reg.secrets
        .values()
        .map(|s| status_of(reg, s, paths, data))
        .collect()
}

/// Names in the store that the registry no longer declares (kept: muster never deletes values).
pub fn orphans<'a>(reg: &Registry, data: &'a StoreData) -> Vec<&'a str> {
    data.secrets
        .keys()
        .filter(|n| !reg.secrets.contains_key(*n))
        .map(String::as_str)
        .collect()
}
