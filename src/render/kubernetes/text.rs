//! Registry strings as Kubernetes values. Kubernetes has no `${VAR}` interpolation, so
//! variables are resolved at generation time (REGISTRY.md "Interpolation"): from each
//! registry's `variables` defaults, which environments may override. A string that uses a
//! variable without a value keeps its `${VAR}` text (visibly, rather than an empty value).
//! Renderers see no `.env`: values set only there reach Kubernetes once `muster gen` passes
//! them in (the lookup is `variable` below; today it reads the registry's defaults).
//! `${host:SERVICE}` becomes the name of SERVICE's Service object.
//!
//! The kubelet expands `$(VAR)` in env values, `command` and `args`, and reads `$$` as `$`:
//! [`literal`] escapes both, so such strings reach the container exactly as written.

use crate::registry::model::Registry;
use crate::registry::values::{Part, Template, parse_template};

use super::names;

/// The value of a variable for `reg`: its default, if it has one.
fn variable(reg: &Registry, name: &str) -> Option<String> {
    reg.variables.get(name).and_then(|v| v.default.clone())
}

fn host(name: &str) -> String {
    names::service(name)
}

/// A parsed registry string, resolved for Kubernetes. Secrets never reach here (callers keep
/// secret-bearing values out of generated files); they would resolve to nothing.
pub fn resolve(reg: &Registry, t: &Template) -> String {
    let vars = |n: &str| variable(reg, n);
    let missing = t
        .placeholders()
        .into_iter()
        .any(|p| matches!(p, Part::Var { name, op: None, .. } if vars(name).is_none()));
    let kept = || t.render(&host, &|_: &str| String::new());
    if missing {
        return kept();
    }
    t.resolve(&vars, &host, &|_: &str| String::new())
        .unwrap_or_else(|_| kept())
}

/// A registry string (unparsed), resolved as [`resolve`] does.
pub fn resolve_str(reg: &Registry, s: &str) -> String {
    if !s.contains('$') {
        return s.to_string();
    }
    match parse_template(s) {
        Ok(t) => resolve(reg, &t),
        // `check` reports a malformed placeholder; keep the text rather than guess.
        Err(_) => s.to_string(),
    }
}

/// `s` escaped for the fields the kubelet expands (`env` values, `command`, `args`): every `$`
/// before `(` or `$` is doubled.
pub fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$' && matches!(chars.peek(), Some('(' | '$')) {
            out.push('$');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::Variable;

    fn reg() -> Registry {
        let mut reg = Registry::default();
        for (name, default) in [("LOG_LEVEL", Some("info")), ("DOMAIN", None)] {
            reg.variables.insert(
                name.into(),
                Variable {
                    default: default.map(str::to_string),
                    ..Variable::default()
                },
            );
        }
        reg
    }

    #[test]
    fn variables_resolve_from_defaults_and_hosts_to_service_names() {
        let reg = reg();
        assert_eq!(resolve_str(&reg, "level=${LOG_LEVEL}"), "level=info");
        assert_eq!(
            resolve_str(&reg, "http://${host:my_api}:80"),
            "http://my-api:80"
        );
        assert_eq!(resolve_str(&reg, "${UNSET:-x}"), "x");
        assert_eq!(resolve_str(&reg, "api.${DOMAIN}"), "api.${DOMAIN}");
        assert_eq!(resolve_str(&reg, "${DOMAIN:?needed}"), "${DOMAIN:?needed}");
        assert_eq!(resolve_str(&reg, "plain"), "plain");
    }

    #[test]
    fn kubelet_expansion_is_escaped() {
        assert_eq!(literal("echo $(date) $$ $HOME"), "echo $$(date) $$$ $HOME");
        assert_eq!(literal("a$"), "a$");
    }
}
