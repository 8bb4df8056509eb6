//! A Compose `healthcheck` as a registry `health`.
//!
//! The test is kept as written (`exec`: a list for `CMD`, a string for `CMD-SHELL` or a bare
//! string). It becomes `http` or `tcp` only when it is exactly the probe muster writes for
//! that check (see `render::compose::probe`), so that `gen` writes back the very same command:
//! a hand-written `curl -f http://localhost/health` may lack `curl` in its image, and
//! muster's probe tries other tools, which changes what runs.

use serde_norway::{Mapping, Value as Yaml};

use super::value::{scalar_text, to_value};
use crate::registry::model::HttpCheck;
use crate::registry::values;
use crate::registry::yaml::{Node, Value};
use crate::render::compose::probe;

/// What a `healthcheck` became.
#[derive(Debug, Default)]
pub struct Health {
    pub health: Option<Yaml>,
    /// A comment for the `health` key.
    pub note: Option<String>,
    /// Keys that stay Compose's (`extra.compose.healthcheck`).
    pub rest: Mapping,
}

pub fn map(node: &Node) -> Health {
    let mut out = Health::default();
    let Some(entries) = node.as_map() else {
        out.rest = Mapping::new();
        return out;
    };
    let mut health = Mapping::new();
    let disabled = matches!(
        node.get("disable").map(|d| &d.value),
        Some(Value::Bool(true))
    );
    let mut check: Option<(&str, Yaml)> = None;
    for (k, v) in entries {
        let key = k.as_str().unwrap_or_default();
        match key {
            "test" if !disabled => match test(v) {
                Some(c) => check = Some(c),
                None => {
                    out.rest.insert(key.into(), to_value(v));
                }
            },
            "disable" if disabled => {}
            "interval" | "timeout" | "start_period" if !disabled => match v.as_str() {
                Some(t) if values::parse_duration(t).is_ok() => {
                    health.insert(key.into(), Yaml::from(t));
                }
                _ => {
                    out.rest.insert(key.into(), to_value(v));
                }
            },
            "retries" if !disabled => match v.value {
                Value::Int(n) if (0..=1000).contains(&n) => {
                    health.insert(key.into(), Yaml::from(n));
                }
                _ => {
                    out.rest.insert(key.into(), to_value(v));
                }
            },
            _ => {
                out.rest.insert(key.into(), to_value(v));
            }
        }
    }
    if disabled {
        let mut none = Mapping::new();
        none.insert("none".into(), Yaml::Bool(true));
        out.health = Some(Yaml::Mapping(none));
        return out;
    }
    match check {
        Some((kind, value)) => {
            if kind != "exec" {
                out.note = Some(format!(
                    "the Compose test is the probe muster writes for this `{kind}` check"
                ));
            }
            let mut ordered = Mapping::new();
            ordered.insert(kind.into(), value);
            ordered.extend(health);
            out.health = Some(Yaml::Mapping(ordered));
        }
        None if out.rest.contains_key("test") => {
            // An unusual test stays Compose's whole, with its timings.
            for (k, v) in health {
                out.rest.insert(k, v);
            }
        }
        None => {
            // Timings without a test tune the image's own HEALTHCHECK; muster's `image`
            // check writes no timings, so they stay Compose's.
            let mut image = Mapping::new();
            image.insert("image".into(), Yaml::Bool(true));
            out.health = Some(Yaml::Mapping(image));
            for (k, v) in health {
                out.rest.insert(k, v);
            }
            out.note = Some("no test: the image's own HEALTHCHECK, with these timings".into());
        }
    }
    out
}

/// The check a Compose `test` is: `("exec", command)`, `("http", {...})`, `("tcp", {...})`
/// or `("none", true)`.
fn test(node: &Node) -> Option<(&'static str, Yaml)> {
    match &node.value {
        Value::Str(s, _) => Some(shell(s)),
        Value::Seq(items) => {
            let words: Vec<String> = items.iter().map(scalar_text).collect::<Option<_>>()?;
            match words.split_first() {
                Some((first, rest)) if first == "CMD" && !rest.is_empty() => Some((
                    "exec",
                    Yaml::Sequence(rest.iter().cloned().map(Yaml::String).collect()),
                )),
                Some((first, [command])) if first == "CMD-SHELL" => Some(shell(command)),
                Some((first, [])) if first == "NONE" => Some(("none", Yaml::Bool(true))),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A shell test: `http` or `tcp` when it is muster's own probe, else `exec` as written.
fn shell(command: &str) -> (&'static str, Yaml) {
    if let Some(check) = http_probe(command) {
        let mut m = Mapping::new();
        m.insert("port".into(), Yaml::from(check.port));
        if check.path != "/" {
            m.insert("path".into(), Yaml::from(check.path.as_str()));
        }
        if check.scheme != "http" {
            m.insert("scheme".into(), Yaml::from(check.scheme.as_str()));
        }
        if check.insecure {
            m.insert("insecure".into(), Yaml::Bool(true));
        }
        if !check.expect.is_empty() {
            m.insert(
                "expect".into(),
                Yaml::Sequence(check.expect.iter().map(|c| Yaml::from(*c)).collect()),
            );
        }
        return ("http", Yaml::Mapping(m));
    }
    if let Some(port) = tcp_probe(command) {
        let mut m = Mapping::new();
        m.insert("port".into(), Yaml::from(port));
        return ("tcp", Yaml::Mapping(m));
    }
    ("exec", Yaml::from(command))
}

/// The HTTP check whose probe is exactly `command`, if there is one.
fn http_probe(command: &str) -> Option<HttpCheck> {
    let rest = command.strip_prefix("wget -S -O /dev/null ")?;
    let insecure = rest.starts_with("--no-check-certificate ");
    let url = rest.split('\'').nth(1)?;
    let (scheme, rest) = url.split_once("://127.0.0.1:")?;
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let port: u16 = rest[..digits].parse().ok()?;
    let path = rest[digits..].replace("'\\''", "'");
    let expect = command
        .split("grep -Eq '^(")
        .nth(1)
        .and_then(|codes| codes.split(')').next())
        .map(|codes| codes.split('|').filter_map(|c| c.parse().ok()).collect())
        .unwrap_or_default();
    let check = HttpCheck {
        port,
        path: if path.is_empty() { "/".into() } else { path },
        scheme: scheme.to_string(),
        insecure,
        expect,
    };
    (probe::http(&check) == command).then_some(check)
}

/// The TCP port whose probe is exactly `command`, if there is one.
fn tcp_probe(command: &str) -> Option<u16> {
    let rest = command.split("http://127.0.0.1:").nth(1)?;
    let port: u16 = rest.split('/').next()?.parse().ok()?;
    (probe::tcp(port) == command).then_some(port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::yaml::parse;
    use crate::source::SourceFile;

    fn health(text: &str) -> Health {
        map(&parse(&SourceFile::new("c.yml", text)).unwrap())
    }

    fn yaml(text: &str) -> Yaml {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn tests_stay_as_written() {
        let h = health("{test: [CMD, pg_isready], interval: 10s, retries: 5}");
        assert_eq!(
            h.health,
            Some(yaml("{exec: [pg_isready], interval: 10s, retries: 5}"))
        );
        let h = health("{test: [CMD-SHELL, curl -f http://localhost/ || exit 1]}");
        assert_eq!(
            h.health,
            Some(yaml("{exec: 'curl -f http://localhost/ || exit 1'}"))
        );
        let h = health("{disable: true}");
        assert_eq!(h.health, Some(yaml("{none: true}")));
        let h = health("{interval: 5s}");
        assert_eq!(h.health, Some(yaml("{image: true}")));
        assert_eq!(Yaml::Mapping(h.rest), yaml("{interval: 5s}"));
        let h = health("{test: [CMD, a], start_interval: 1s}");
        assert_eq!(Yaml::Mapping(h.rest), yaml("{start_interval: 1s}"));
    }

    #[test]
    fn muster_probes_are_recognised_exactly() {
        let check = HttpCheck {
            port: 8080,
            path: "/health".into(),
            scheme: "http".into(),
            insecure: false,
            expect: vec![200, 204],
        };
        let command = probe::http(&check);
        assert_eq!(http_probe(&command), Some(check.clone()));
        assert_eq!(http_probe(&format!("{command} ")), None);
        let https = HttpCheck {
            scheme: "https".into(),
            insecure: true,
            expect: Vec::new(),
            ..check
        };
        assert_eq!(http_probe(&probe::http(&https)), Some(https));
        assert_eq!(tcp_probe(&probe::tcp(5432)), Some(5432));
        let (kind, _) = shell(&probe::tcp(5432));
        assert_eq!(kind, "tcp");
        let (kind, _) = shell("curl -f http://127.0.0.1:8080/health");
        assert_eq!(kind, "exec");
    }
}
