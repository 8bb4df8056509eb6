//! One hatmax service and its `deployment.nomad` settings as a muster service.

use std::path::PathBuf;

use serde_norway::{Mapping, Value};

use super::{CODE, code_keys, resources, rule};
use crate::diagnostic::{Code, Diagnostic};
use crate::import::Draft;
use crate::import::reader::{Reader, insert, key_text, seq};
use crate::import::relocate;
use crate::registry::yaml::{self, Node};

/// The Consul check timeout of hatmax's generated jobs, which `hatmax.yml` does not set.
const CHECK_TIMEOUT: &str = "5s";

/// The Nomad port label of hatmax's generated jobs.
const PORT_NAME: &str = "http";

pub fn map(r: &mut Reader, draft: &mut Draft, key: &Node, def: &Node, dirs: &(PathBuf, PathBuf)) {
    let name = key_text(key);
    let owner = format!("service `{name}`");
    let mut code = Vec::new();
    let mut nomad = None;
    for (k, v) in r.entries(def, &owner) {
        match k.as_str() {
            Some("deployment") => {
                for (dk, dv) in r.entries(v, &format!("`deployment` of {owner}")) {
                    match dk.as_str() {
                        Some("nomad") => nomad = Some(dv),
                        _ => r.unmapped(dk, &format!("`deployment` of {owner}"), ""),
                    }
                }
            }
            Some(field) if CODE.contains(&field) => code.push(k),
            _ => r.unmapped(k, &owner, ""),
        }
    }
    code_keys(r, &code, &owner);

    let mut m = Mapping::new();
    let mut build = Mapping::new();
    let context = relocate::moved(&format!("./services/{name}"), &dirs.0, &dirs.1);
    insert(&mut build, "context", context);
    insert(&mut m, "build", build);
    let mut settings = Settings::default();
    if let Some(nomad) = nomad {
        settings.read(r, nomad, &name);
    }
    if !settings.tags.is_empty() {
        insert(&mut m, "tags", seq(settings.tags.clone()));
    }
    if let Some(replicas) = settings.replicas {
        insert(&mut m, "replicas", replicas);
    }
    if let Some(port) = settings.port {
        let mut expose = Mapping::new();
        insert(&mut expose, "name", PORT_NAME);
        insert(&mut expose, "port", port);
        insert(&mut expose, "protocol", "http");
        insert(
            &mut m,
            "expose",
            Value::Sequence(vec![Value::Mapping(expose)]),
        );
    }
    let health = settings.health(r);
    let defaulted_timeout = health.as_ref().is_some_and(|(_, d)| *d);
    if let Some((health, _)) = health {
        insert(&mut m, "health", health);
    }
    if let Some(res) = settings.resources {
        insert(&mut m, "resources", res);
    }
    if let Some(route) = settings.route {
        insert(&mut m, "routes", Value::Sequence(vec![route]));
    }
    insert(&mut m, "extra", exec_task(&name));
    draft.set(&["services", &name], Value::Mapping(m));
    if defaulted_timeout {
        draft.comment(
            &["services", &name, "health"],
            format!("hatmax's generated checks time out after {CHECK_TIMEOUT}"),
        );
    }
}

/// hatmax runs the service's own binary with Nomad's `exec` driver.
fn exec_task(name: &str) -> Value {
    let mut config = Mapping::new();
    insert(&mut config, "command", format!("./{name}"));
    let mut task = Mapping::new();
    insert(&mut task, "driver", "exec");
    insert(&mut task, "config", config);
    let mut nomad = Mapping::new();
    insert(&mut nomad, "task", task);
    let mut extra = Mapping::new();
    insert(&mut extra, "nomad", nomad);
    Value::Mapping(extra)
}

/// What `deployment.nomad` of a service says.
#[derive(Default)]
struct Settings<'n> {
    port: Option<i64>,
    replicas: Option<i64>,
    resources: Option<Value>,
    health_check: Option<&'n Node>,
    tags: Vec<String>,
    route: Option<Value>,
}

impl<'n> Settings<'n> {
    fn read(&mut self, r: &mut Reader, node: &'n Node, service: &str) {
        let owner = format!("`deployment.nomad` of `{service}`");
        for (k, v) in r.entries(node, &owner) {
            match k.as_str() {
                Some(field @ ("port" | "replicas")) => match v.value {
                    yaml::Value::Int(n) => {
                        if field == "port" {
                            self.port = Some(n);
                        } else {
                            self.replicas = Some(n);
                        }
                    }
                    _ => r.bad_shape(v, &format!("`{field}`"), "a whole number"),
                },
                Some("resources") => self.resources = resources::map(r, v, "`resources`"),
                Some("health_check") => self.health_check = Some(v),
                Some("traefik") => self.route = traefik(r, v),
                Some("consul") => self.tags = consul(r, v, service),
                _ => r.unmapped(k, &owner, ""),
            }
        }
    }

    /// `health_check: { path, interval, timeout }` as an `http` check on the service's port,
    /// and whether the timeout is hatmax's default.
    fn health(&self, r: &mut Reader) -> Option<(Value, bool)> {
        let node = self.health_check?;
        let mut http = Mapping::new();
        let mut timings = Mapping::new();
        for (k, v) in r.entries(node, "`health_check`") {
            let field = key_text(k);
            match field.as_str() {
                "path" => {
                    if let Some(path) = r.string(v, "`path`") {
                        insert(&mut http, "path", path);
                    }
                }
                "interval" | "timeout" => {
                    if let Some(text) = r.string(v, &format!("`{field}`")) {
                        insert(&mut timings, &field, text);
                    }
                }
                _ => r.unmapped(k, "`health_check`", ""),
            }
        }
        let Some(port) = self.port else {
            r.push(
                Diagnostic::new(
                    Code::ImportUnmapped,
                    "a health check without the service's `port` has nothing to probe",
                )
                .at(node.span, "not imported")
                .help("give the service a `port`"),
            );
            return None;
        };
        let mut check = Mapping::new();
        insert(&mut check, "port", port);
        check.extend(http);
        let mut health = Mapping::new();
        insert(&mut health, "http", check);
        let defaulted = !timings.contains_key("timeout");
        if defaulted {
            insert(&mut timings, "timeout", CHECK_TIMEOUT);
        }
        for key in ["interval", "timeout"] {
            if let Some(v) = timings.remove(key) {
                insert(&mut health, key, v);
            }
        }
        Some((Value::Mapping(health), defaulted))
    }
}

/// `traefik: { rule, priority }` as one route.
fn traefik(r: &mut Reader, node: &Node) -> Option<Value> {
    let mut route = Mapping::new();
    let mut priority = None;
    let mut ok = false;
    for (k, v) in r.entries(node, "`traefik`") {
        match k.as_str() {
            Some("rule") => {
                let Some(text) = r.string(v, "`rule`") else {
                    continue;
                };
                match rule::parse(&text) {
                    Ok(m) => {
                        if let Some(host) = m.host {
                            insert(&mut route, "host", host);
                        }
                        insert(&mut route, "path", m.path.unwrap_or_else(|| "/".into()));
                        if !m.prefix {
                            insert(&mut route, "match", "exact");
                        }
                        ok = true;
                    }
                    Err(why) => r.push(
                        Diagnostic::new(
                            Code::ImportUnmapped,
                            format!("the Traefik rule `{text}` cannot become a route: {why}"),
                        )
                        .at(v.span, "not imported")
                        .help("write the route in muster.yaml: `routes: [{ host, path, match }]`"),
                    ),
                }
            }
            Some("priority") => match v.value {
                yaml::Value::Int(n) => priority = Some(n),
                _ => r.bad_shape(v, "`priority`", "a whole number"),
            },
            _ => r.unmapped(k, "`traefik`", ""),
        }
    }
    if !ok {
        return None;
    }
    if let Some(p) = priority {
        insert(&mut route, "priority", p);
    }
    Some(Value::Mapping(route))
}

/// `consul: { service_name, tags }`: the tags; a service name other than the service's own
/// is reported (muster registers every service under its own name).
fn consul(r: &mut Reader, node: &Node, service: &str) -> Vec<String> {
    let mut tags = Vec::new();
    for (k, v) in r.entries(node, "`consul`") {
        match k.as_str() {
            Some("tags") => tags = r.strings(v, "`tags`"),
            Some("service_name") => {
                if let Some(name) = r.string(v, "`service_name`")
                    && name != service
                {
                    r.push(
                        Diagnostic::new(
                            Code::ImportInconsistent,
                            format!("`{service}` registers in Consul as `{name}`"),
                        )
                        .at(v.span, "another name")
                        .help(format!("muster registers it as `{service}`, its own name")),
                    );
                }
            }
            _ => r.unmapped(k, "`consul`", ""),
        }
    }
    tags
}
