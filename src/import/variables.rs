//! Declaring the `${VAR}` references an imported registry keeps.
//!
//! Importers keep interpolations as written (the values live in the user's `.env`, not in the
//! source registry), and `check` warns about every variable that is used but not declared. So
//! after mapping, every variable a service uses is declared under `variables:`, saying which
//! services use it; `.env.example` then documents them.

use std::collections::BTreeMap;

use serde_norway::Value;

use super::Draft;
use crate::registry::values::parse_template;

/// Declares every variable used under `services` (and in `domain`) that is not declared yet.
pub fn declare_used(draft: &mut Draft) {
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(domain) = draft.get(&["domain"]) {
        collect(domain, "the domain", &mut used);
    }
    if let Some(Value::Mapping(services)) = draft.get(&["services"]) {
        for (name, service) in services {
            let name = name.as_str().unwrap_or_default();
            collect(service, name, &mut used);
        }
    }
    for (var, users) in used {
        if draft.get(&["variables", &var]).is_some() {
            continue;
        }
        draft.set(
            &["variables", &var, "description"],
            format!("Used by {}", users.join(", ")),
        );
    }
}

fn collect(value: &Value, user: &str, used: &mut BTreeMap<String, Vec<String>>) {
    match value {
        Value::String(s) if s.contains('$') => {
            // A string that does not parse as a template is left to `check` to report.
            let Ok(template) = parse_template(s) else {
                return;
            };
            for var in template.variables() {
                let users = used.entry(var.to_string()).or_default();
                if !users.iter().any(|u| u == user) {
                    users.push(user.to_string());
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| collect(v, user, used)),
        Value::Mapping(map) => map.values().for_each(|v| collect(v, user, used)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declares_nested_and_default_variables_once_with_their_users() {
        let mut d = Draft::new();
        d.set(&["domain"], "${DOMAIN}");
        d.set(
            &["services", "a", "env", "X"],
            "${ROOT:-${HOME_DIR}/x} $$NOT ${secret:s}",
        );
        d.set(
            &["services", "b", "volumes"],
            Value::from(vec!["${ROOT}/b:/b"]),
        );
        d.set(&["variables", "DOMAIN", "required"], true);
        declare_used(&mut d);
        let get = |v: &str| d.get(&["variables", v, "description"]).cloned();
        assert_eq!(get("ROOT"), Some("Used by a, b".into()));
        assert_eq!(get("HOME_DIR"), Some("Used by a".into()));
        assert_eq!(get("NOT"), None);
        assert_eq!(get("DOMAIN"), None, "declared ones are left alone");
        assert!(d.get(&["variables", "s"]).is_none());
    }
}
