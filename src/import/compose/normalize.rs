//! The one shape of each service field that Compose accepts in two: lists of `KEY=VALUE` as
//! mappings, `depends_on` and `networks` lists as mappings. Compose merges files in these
//! shapes, and the importer maps one shape instead of two.

use crate::registry::yaml::{Node, Value};
use crate::source::Span;

/// Every key of a Compose service (the Compose Specification's, and Compose v1's own).
pub const SERVICE_KEYS: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "labels",
    "label_file",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volumes",
    "volumes_from",
    "working_dir",
];

/// A service field in its mapping shape where Compose has one.
pub fn field(key: &str, node: &Node) -> Node {
    match key {
        "environment" | "labels" | "annotations" | "sysctls" => pairs(node, '='),
        "extra_hosts" => extra_hosts(node),
        "depends_on" => names(node, |span| {
            Node::new(
                Value::Map(vec![(
                    Node::new(Value::Str("condition".into(), false), span),
                    Node::new(Value::Str("service_started".into(), false), span),
                )]),
                span,
            )
        }),
        "networks" => names(node, |span| Node::new(Value::Null, span)),
        "build" => match &node.value {
            Value::Str(..) => Node::new(
                Value::Map(vec![(
                    Node::new(Value::Str("context".into(), false), node.span),
                    node.clone(),
                )]),
                node.span,
            ),
            Value::Map(entries) => {
                let entries = entries
                    .iter()
                    .map(|(k, v)| match k.as_str() {
                        Some("args" | "labels") => (k.clone(), pairs(v, '=')),
                        _ => (k.clone(), v.clone()),
                    })
                    .collect();
                Node::new(Value::Map(entries), node.span)
            }
            _ => node.clone(),
        },
        _ => node.clone(),
    }
}

/// `[KEY=VALUE, KEY]` as `{KEY: VALUE, KEY: null}`; a mapping as it is.
fn pairs(node: &Node, sep: char) -> Node {
    let Some(items) = node.as_seq() else {
        return node.clone();
    };
    let entries = items
        .iter()
        .filter_map(|item| {
            let text = item.as_str()?;
            let (k, v) = match text.split_once(sep) {
                Some((k, v)) => (k, Value::Str(v.to_string(), true)),
                None => (text, Value::Null),
            };
            Some((
                Node::new(Value::Str(k.to_string(), false), item.span),
                Node::new(v, item.span),
            ))
        })
        .collect();
    Node::new(Value::Map(entries), node.span)
}

/// `extra_hosts` as a mapping of host to address (`host:ip` or `host=ip` items; an IPv6
/// address keeps its colons).
fn extra_hosts(node: &Node) -> Node {
    let Some(items) = node.as_seq() else {
        return node.clone();
    };
    let entries = items
        .iter()
        .filter_map(|item| {
            let text = item.as_str()?;
            let (k, v) = text
                .split_once('=')
                .or_else(|| text.split_once(':'))
                .unwrap_or((text, ""));
            Some((
                Node::new(Value::Str(k.to_string(), false), item.span),
                Node::new(Value::Str(v.to_string(), true), item.span),
            ))
        })
        .collect();
    Node::new(Value::Map(entries), node.span)
}

/// A list of names as a mapping of each name to `empty(span)`.
fn names(node: &Node, empty: impl Fn(Span) -> Node) -> Node {
    let Some(items) = node.as_seq() else {
        return node.clone();
    };
    let entries = items
        .iter()
        .filter_map(|item| {
            Some((item.clone(), empty(item.span))).filter(|_| item.as_str().is_some())
        })
        .collect();
    Node::new(Value::Map(entries), node.span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::yaml::parse;
    use crate::source::SourceFile;

    fn node(text: &str) -> Node {
        parse(&SourceFile::new("t.yml", text)).unwrap()
    }

    #[test]
    fn lists_become_mappings() {
        let env = field("environment", &node("[A=1, B, C=x=y]"));
        let keys: Vec<_> = env
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().unwrap().to_string(),
                    v.as_str().map(str::to_string),
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("A".into(), Some("1".into())),
                ("B".into(), None),
                ("C".into(), Some("x=y".into()))
            ]
        );
        let deps = field("depends_on", &node("[db]"));
        assert_eq!(
            deps.get("db")
                .and_then(|d| d.get("condition"))
                .and_then(Node::as_str),
            Some("service_started")
        );
        let hosts = field("extra_hosts", &node("[\"h:1.2.3.4\", \"v6=::1\"]"));
        assert_eq!(hosts.get("v6").and_then(Node::as_str), Some("::1"));
        let build = field("build", &node("{context: ., args: [A=1]}"));
        assert_eq!(
            build
                .get("args")
                .and_then(|a| a.get("A"))
                .and_then(Node::as_str),
            Some("1")
        );
        let build = field("build", &node("./app"));
        assert_eq!(build.get("context").and_then(Node::as_str), Some("./app"));
    }
}
