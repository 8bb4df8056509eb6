//! Names as Kubernetes accepts them: object names (DNS-1123 labels), Service names (DNS-1035
//! labels, which must start with a letter), port names (IANA service names) and the label keys
//! muster puts on every object.
//!
//! Registry names are `[a-z0-9][a-z0-9_-]{0,62}`: REGISTRY.md maps `_` to `-` (and `check`
//! reports names that collide after the mapping). Two cases the mapping leaves invalid get one
//! more rule each: a name ending in `-` ends in `-x` instead, and a Service name starting with
//! a digit gets an `s-` prefix (shortened to stay within 63 characters).

/// Label naming the stack (the registry's `name`).
pub const STACK: &str = "muster.dev/stack";
/// Label naming the registry service an object belongs to.
pub const SERVICE: &str = "muster.dev/service";
/// Label naming the service's phase: `deploy.sh` applies objects phase by phase with it.
pub const PHASE: &str = "muster.dev/phase";
/// Prefix of the labels naming each group a service belongs to (`group.muster.dev/<g>: "true"`).
pub const GROUP_PREFIX: &str = "group.muster.dev/";
/// Prefix of the pod labels naming each registry network a pod joins; NetworkPolicies select them.
pub const NETWORK_PREFIX: &str = "network.muster.dev/";
/// Annotation recording a service's dependencies: `name=condition` items, comma separated,
/// `?` after optional ones.
pub const DEPENDS_ON: &str = "muster.dev/depends-on";
/// Annotation on a pod template: digest of the service's plain env, so a change rolls pods.
pub const CONFIG_DIGEST: &str = "muster.dev/config-digest";
/// Annotation explaining something an engine cannot honour as the registry says.
pub const WARNING: &str = "muster.dev/warning";

/// Longest DNS label.
const MAX: usize = 63;

/// A registry name as a DNS-1123 label: `_` becomes `-`, and a trailing `-` is followed by `x`.
pub fn dns(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect();
    if out.is_empty() {
        out.push('x');
    }
    if !out.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        out.insert(0, 'x');
    }
    if out.len() > MAX {
        out.truncate(MAX);
    }
    if out.ends_with('-') {
        if out.len() == MAX {
            out.pop();
        }
        out.push('x');
    }
    out
}

/// The name of a Service (and so the host other pods reach it by): [`dns`], and `s-` in front
/// of a name starting with a digit.
pub fn service(name: &str) -> String {
    let base = dns(name);
    if base.starts_with(|c: char| c.is_ascii_digit()) {
        dns(&format!("s-{base}"))
    } else {
        base
    }
}

/// `name` with `suffix` (`-env`, `-files`...), shortened so the result is a DNS label.
pub fn suffixed(name: &str, suffix: &str) -> String {
    let mut base = dns(name);
    base.truncate(MAX - suffix.len());
    let base = base.trim_end_matches('-');
    format!("{base}{suffix}")
}

/// A port name Kubernetes accepts (at most 15 characters of `[a-z0-9-]`, a letter among them,
/// no `-` at either end or twice in a row), or None.
pub fn port_name(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    ok.then(|| name.to_string())
}

/// A label key under `prefix` for a registry name (the name part must end alphanumerically).
pub fn prefixed_label(prefix: &str, name: &str) -> String {
    let mut part = dns(name);
    while part.ends_with('-') {
        part.pop();
    }
    format!("{prefix}{part}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_become_dns_labels() {
        assert_eq!(dns("postgres"), "postgres");
        assert_eq!(dns("my_db"), "my-db");
        assert_eq!(dns("api-"), "api-x");
        assert_eq!(dns(""), "x");
        assert_eq!(dns(&"a".repeat(70)).len(), 63);
        let long = format!("{}-", "a".repeat(62));
        assert_eq!(dns(&long), format!("{}x", "a".repeat(62)));
        assert_eq!(service("2fa"), "s-2fa");
        assert_eq!(service("web_ui"), "web-ui");
        assert_eq!(suffixed(&"b".repeat(63), "-env").len(), 63);
        assert_eq!(suffixed("api", "-env"), "api-env");
    }

    #[test]
    fn port_names() {
        assert_eq!(port_name("metrics").as_deref(), Some("metrics"));
        for bad in [
            "",
            "8080",
            "-a",
            "a-",
            "a--b",
            "Web",
            "a_b",
            "averyveryverylongname",
        ] {
            assert_eq!(port_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn label_keys() {
        assert_eq!(
            prefixed_label(GROUP_PREFIX, "bots"),
            "group.muster.dev/bots"
        );
        assert_eq!(
            prefixed_label(NETWORK_PREFIX, "back_"),
            "network.muster.dev/back-x"
        );
    }
}
