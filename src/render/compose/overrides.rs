//! Per-environment override files: what an environment changes, written so that Compose v2's
//! own merge of `docker-compose.yml` and the override gives exactly the environment's model.
//!
//! Compose merges an override file key by key, but not always the way the registry merges an
//! environment (maps merge, lists replace, `null` removes). Compose appends most sequences or
//! merges them by a key of its own (`ports`, `volumes`, `environment` in list form,
//! `networks.*.aliases`, ...), and merges some mappings by special rules (`build`, `logging`
//! per driver, `depends_on`, service `networks`, `ulimits`). So an override writes:
//! - a changed scalar as is (Compose replaces scalars);
//! - `command`, `entrypoint` and `healthcheck.test` as is (Compose replaces those too);
//! - a changed mapping of plain key-by-key merge (services, a service, `deploy` and its
//!   resources, `healthcheck`, `environment`, `labels`, a network, volume or secret) as the
//!   difference, key by key;
//! - any other changed sequence or mapping under `!override`, so Compose replaces it whole;
//! - a key the environment removed as `!reset null`.

use serde_norway::value::{Tag, TaggedValue};
use serde_norway::{Mapping, Value};

fn tagged(tag: &str, value: Value) -> Value {
    Value::Tagged(Box::new(TaggedValue {
        tag: Tag::new(tag),
        value,
    }))
}

/// Whether Compose merges the mapping at `path` key by key with no special rule.
fn merges_by_key(path: &[&str]) -> bool {
    matches!(
        path,
        [] | ["services" | "networks" | "volumes" | "secrets" | "configs"]
            | ["services" | "networks" | "volumes" | "secrets", _]
            | [
                "services",
                _,
                "deploy" | "healthcheck" | "environment" | "labels"
            ]
            | ["services", _, "deploy", "resources"]
            | [
                "services",
                _,
                "deploy",
                "resources",
                "limits" | "reservations"
            ]
    )
}

/// Whether Compose replaces the value at `path` instead of merging it.
fn replaced_by_compose(path: &[&str]) -> bool {
    matches!(
        path,
        ["services", _, "command" | "entrypoint"] | ["services", _, "healthcheck", "test"]
    )
}

/// The override that turns `base` into `env` under Compose's merge.
pub fn diff(base: &Mapping, env: &Mapping) -> Mapping {
    diff_mapping(&mut Vec::new(), base, env)
}

fn diff_mapping<'a>(path: &mut Vec<&'a str>, base: &'a Mapping, env: &'a Mapping) -> Mapping {
    let mut out = Mapping::new();
    for (key, new) in env {
        match base.get(key) {
            None => {
                out.insert(key.clone(), new.clone());
            }
            Some(old) if old == new => {}
            Some(old) => {
                path.push(key.as_str().unwrap_or(""));
                let value = diff_value(path, old, new);
                path.pop();
                out.insert(key.clone(), value);
            }
        }
    }
    for key in base.keys() {
        if !env.contains_key(key) {
            out.insert(key.clone(), tagged("reset", Value::Null));
        }
    }
    out
}

fn diff_value<'a>(path: &mut Vec<&'a str>, old: &'a Value, new: &'a Value) -> Value {
    let collection = |v: &Value| matches!(v, Value::Mapping(_) | Value::Sequence(_));
    match (old, new) {
        (Value::Mapping(o), Value::Mapping(n)) if merges_by_key(path) => {
            Value::Mapping(diff_mapping(path, o, n))
        }
        _ if replaced_by_compose(path) => new.clone(),
        _ if !collection(old) && !collection(new) => new.clone(),
        _ => tagged("override", new.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Mapping {
        serde_norway::from_str(s).unwrap()
    }

    #[test]
    fn writes_only_differences_with_tags_where_compose_merges_otherwise() {
        let base = yaml(
            "
services:
  api:
    image: api:1
    command: [serve]
    ports: ['8080:80']
    environment: { A: '1', B: '2' }
    deploy: { resources: { limits: { cpus: 1, memory: 256m } } }
    labels: { team: a }
  gone:
    image: x
networks:
  backend: { internal: true }
",
        );
        let env = yaml(
            "
services:
  api:
    image: api:2
    command: [serve, --debug]
    ports: ['9090:80']
    environment: { A: '1', C: '3' }
    deploy: { resources: { limits: { cpus: 2, memory: 256m } } }
    labels: { team: a }
  new:
    image: \"y\"
    ports: ['1:1']
networks:
  backend: {}
",
        );
        let out = crate::render::yaml::to_string(&Value::Mapping(diff(&base, &env)));
        assert_eq!(
            out,
            "services:
  api:
    image: api:2
    command:
      - serve
      - \"--debug\"
    ports: !override
      - \"9090:80\"
    environment:
      C: \"3\"
      B: !reset null
    deploy:
      resources:
        limits:
          cpus: 2
  new:
    image: \"y\"
    ports:
      - \"1:1\"
  gone: !reset null
networks:
  backend:
    internal: !reset null
"
        );
        assert!(diff(&base, &base).is_empty());
    }
}
