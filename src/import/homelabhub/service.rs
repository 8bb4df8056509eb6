//! Catalog services laid over the services the bundles define: which is which, the catalog's
//! names, and the fields only the catalog knows.

use std::collections::HashSet;

use serde_norway::{Mapping, Value};

use super::{Entry, health};
use crate::diagnostic::{Code, Diagnostic};
use crate::import::Draft;
use crate::import::draft::in_service_order;
use crate::import::reader::{Reader, insert, key_text};
use crate::registry::yaml::{self, Node};

/// Catalog fields read elsewhere (graph, groups, phases) or given by the bundles.
const ELSEWHERE: &[&str] = &[
    "name",
    "group",
    "dependencies",
    "required_for",
    "env_files",
    "startup_order",
];

fn compose_names(draft: &Draft) -> Vec<String> {
    draft
        .get(&["services"])
        .and_then(Value::as_mapping)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn text_at<'d>(draft: &'d Draft, path: &[&str]) -> Option<&'d str> {
    draft.get(path).and_then(Value::as_str)
}

/// Finds each catalog service among the bundles' services (by name, else by container name,
/// else by the catalog's `name`), renames it to the catalog's name, and reports what only
/// one side defines.
pub fn match_bundles(
    r: &mut Reader,
    draft: &mut Draft,
    services_key: &Node,
    entries: &mut [Entry],
) {
    let names = compose_names(draft);
    let mut taken: HashSet<String> = HashSet::new();
    for entry in entries.iter_mut() {
        let field = |key: &str| entry.def.get(key).and_then(|n| r.text(n));
        let container = field("container_name");
        let also = field("name");
        let found = names
            .iter()
            .find(|n| **n == entry.name)
            .or_else(|| {
                let c = container.as_deref()?;
                names
                    .iter()
                    .find(|n| text_at(draft, &["services", n, "container_name"]) == Some(c))
            })
            .or_else(|| names.iter().find(|n| Some(n.as_str()) == also.as_deref()))
            .filter(|n| !taken.contains(*n))
            .cloned();
        match found {
            Some(n) => {
                taken.insert(n.clone());
                entry.compose = Some(n);
            }
            None => r.push(
                Diagnostic::new(
                    Code::ImportUnknownName,
                    format!(
                        "`{}` has no service in the bundle Compose files; it is left out",
                        entry.name
                    ),
                )
                .at(entry.key.span, "no bundle defines it")
                .help("a registry service needs the image or build a bundle gives it"),
            ),
        }
    }
    for name in names.iter().filter(|n| !taken.contains(*n)) {
        r.push(
            Diagnostic::new(
                Code::ImportUnknownName,
                format!("the bundles define `{name}`, which the catalog does not list"),
            )
            .at(services_key.span, "not in the catalog")
            .help("it is kept, in no group (always started)"),
        );
    }
    let mut renames = Vec::new();
    for entry in entries.iter() {
        let Some(old) = &entry.compose else { continue };
        if *old == entry.name {
            continue;
        }
        if names.contains(&entry.name) {
            r.push(
                Diagnostic::new(
                    Code::ImportInconsistent,
                    format!(
                        "`{}` is the bundles' `{old}`, but the bundles also define a `{}`",
                        entry.name, entry.name
                    ),
                )
                .at(entry.key.span, "two services by this name")
                .help(format!("it keeps its Compose name `{old}`")),
            );
            continue;
        }
        draft.rename(&["services"], old, &entry.name);
        let aliases = draft
            .mapping(&["services", &entry.name])
            .entry(Value::from("aliases"))
            .or_insert_with(|| Value::Sequence(Vec::new()));
        if let Value::Sequence(list) = aliases
            && !list.contains(&Value::from(old.as_str()))
        {
            list.push(Value::from(old.as_str()));
        }
        draft.comment(
            &["services", &entry.name, "aliases"],
            format!("`{old}` is its name in the bundles, which their addresses use"),
        );
        renames.push((old.clone(), entry.name.clone()));
    }
    rename_references(draft, &renames);
}

/// Dependencies and group members that name a renamed service.
fn rename_references(draft: &mut Draft, renames: &[(String, String)]) {
    let new_name = |v: &mut Value| {
        if let Some((_, to)) = renames.iter().find(|(from, _)| v.as_str() == Some(from)) {
            *v = Value::from(to.as_str());
        }
    };
    for section in ["services", "groups"] {
        let field = if section == "services" {
            "depends_on"
        } else {
            "services"
        };
        for (_, def) in draft.mapping(&[section]).iter_mut() {
            let Some(Value::Sequence(items)) = def.get_mut(field) else {
                continue;
            };
            for item in items {
                match item {
                    Value::Mapping(m) => {
                        if let Some(v) = m.get_mut("service") {
                            new_name(v);
                        }
                    }
                    v => new_name(v),
                }
            }
        }
    }
}

/// The catalog fields of one matched service. `seen` holds the interface keys already
/// reported, so each is reported once.
pub fn map(r: &mut Reader, draft: &mut Draft, entry: &Entry, seen: &mut HashSet<String>) {
    let name = entry.name.as_str();
    let owner = format!("`{name}`");
    let mut health_done = false;
    let mut interfaces = None;
    let mut domains = None;
    for (k, v) in r.entries(entry.def, &format!("service {owner}")) {
        let field = key_text(k);
        match field.as_str() {
            f if ELSEWHERE.contains(&f) => {}
            "container_name" => {
                let ours = text_at(draft, &["services", name, "container_name"]).map(String::from);
                if let Some(c) = r.text(v)
                    && ours.as_deref() != Some(c.as_str())
                {
                    r.push(
                        Diagnostic::new(
                            Code::ImportInconsistent,
                            format!("the catalog names the container of {owner} `{c}`, the bundles do not"),
                        )
                        .at(v.span, "another container name")
                        .help("the bundles' container name is kept"),
                    );
                }
            }
            "description" => {
                if let Some(text) = r.string(v, "`description`") {
                    draft.set(&["services", name, "description"], text);
                }
            }
            "enabled" | "privileged" => match v.value {
                yaml::Value::Bool(b) => {
                    let differs = field == "enabled" && !b || field == "privileged" && b;
                    if differs {
                        draft.set(&["services", name, &field], b);
                    }
                }
                _ => r.bad_shape(v, &format!("`{field}`"), "true or false"),
            },
            "note" => {
                if let Some(text) = r.string(v, "`note`") {
                    draft.comment(&["services", name], text);
                }
            }
            "interfaces" => interfaces = Some(v),
            "domains" => domains = Some(v),
            "placement" => placement(r, draft, name, v),
            "health_endpoint" | "health_check_type" => {
                if !health_done {
                    health::map(r, draft, name, entry.def);
                    health_done = true;
                }
            }
            "volumes" => r.push(
                Diagnostic::new(
                    Code::ImportUnmapped,
                    format!("the catalog's `volumes` of {owner} describe mounts; the bundles' volumes are imported"),
                )
                .at(k.span, "descriptions, not mounts"),
            ),
            _ => r.unmapped(k, &format!("service {owner}"), ""),
        }
    }
    let web_port = interfaces.and_then(|n| expose(r, draft, name, n, seen));
    if let Some(domains) = domains {
        routes(r, draft, name, domains, web_port);
    }
}

/// `interfaces` as `expose`; returns the first HTTP(S) port, where the domains are served.
fn expose(
    r: &mut Reader,
    draft: &mut Draft,
    name: &str,
    node: &Node,
    seen: &mut HashSet<String>,
) -> Option<i64> {
    let mut out = Vec::new();
    let mut web = None;
    for item in node.as_seq().unwrap_or_default() {
        let mut port = None;
        let mut protocol = "tcp".to_string();
        for (k, v) in r.entries(item, "an interface") {
            let field = key_text(k);
            match field.as_str() {
                "port" => match v.value {
                    yaml::Value::Int(n) => port = Some(n),
                    _ => r.bad_shape(v, "`port`", "a port number"),
                },
                "protocol" => protocol = r.string(v, "`protocol`").unwrap_or(protocol),
                _ => {
                    if seen.insert(field.clone()) {
                        r.push(
                            Diagnostic::new(
                                Code::ImportUnmapped,
                                format!("`{field}` of the catalog's interfaces has no place in muster.yaml; left out"),
                            )
                            .at(k.span, "not imported (here and in every interface)")
                            .help("interfaces become `expose`; the bundles decide what is published, `health_endpoint` what is probed"),
                        );
                    }
                }
            }
        }
        let Some(port) = port else { continue };
        let mut e = Mapping::new();
        if !matches!(protocol.as_str(), "tcp" | "udp" | "http" | "https" | "grpc") {
            r.push(
                Diagnostic::new(
                    Code::ImportApproximated,
                    format!(
                        "`{name}` exposes {port} as `{protocol}`, which muster knows as plain TCP"
                    ),
                )
                .at(item.span, "exposed as tcp")
                .help(format!(
                    "the port is named `{protocol}`, its protocol is tcp"
                )),
            );
            insert(&mut e, "name", protocol.as_str());
            protocol = "tcp".into();
        }
        if web.is_none() && matches!(protocol.as_str(), "http" | "https") {
            web = Some(port);
        }
        insert(&mut e, "port", port);
        insert(&mut e, "protocol", protocol);
        out.push(Value::Mapping(e));
    }
    if node.as_seq().is_none() && !node.is_null() {
        r.bad_shape(node, "`interfaces`", "a list");
    }
    if !out.is_empty() {
        draft.set(&["services", name, "expose"], Value::Sequence(out));
    }
    web
}

/// `domains` as routes to the service's web port.
fn routes(r: &mut Reader, draft: &mut Draft, name: &str, node: &Node, port: Option<i64>) {
    let hosts = r.strings(node, "`domains`");
    let routes: Vec<Value> = hosts
        .into_iter()
        .map(|host| {
            let mut route = Mapping::new();
            insert(&mut route, "host", host);
            if let Some(p) = port {
                insert(&mut route, "port", p);
            }
            Value::Mapping(route)
        })
        .collect();
    if !routes.is_empty() {
        draft.set(&["services", name, "routes"], Value::Sequence(routes));
    }
}

/// `placement: local_only` keeps a service on the home machine: on a cluster, nodes labelled
/// `location: local`. `local_or_remote` places nothing.
fn placement(r: &mut Reader, draft: &mut Draft, name: &str, node: &Node) {
    match r.string(node, "`placement`").as_deref() {
        Some("local_or_remote") | None => {}
        Some("local_only") => {
            draft.set(
                &["services", name, "placement", "labels", "location"],
                "local",
            );
            draft.comment(
                &["services", name, "placement"],
                "catalog `placement: local_only`: Compose runs every service locally; a cluster only on nodes labelled location=local",
            );
        }
        Some(other) => r.push(
            Diagnostic::new(
                Code::ImportUnmapped,
                format!(
                    "the placement `{other}` of `{name}` has no place in muster.yaml; left out"
                ),
            )
            .at(node.span, "not imported")
            .help("`local_only` and `local_or_remote` are imported"),
        ),
    }
}

/// The proxy: the service that publishes HTTPS to the world (`public: true` on 443), when
/// some service has domains to route.
pub fn proxy(draft: &mut Draft, entries: &[Entry]) {
    let routed = entries
        .iter()
        .any(|e| draft.get(&["services", &e.name, "routes"]).is_some());
    let public_https = |e: &&Entry| {
        e.def
            .get("interfaces")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .any(|i| {
                matches!(i.get("port").map(|p| &p.value), Some(yaml::Value::Int(443)))
                    && matches!(
                        i.get("public").map(|p| &p.value),
                        Some(yaml::Value::Bool(true))
                    )
            })
    };
    if !routed {
        return;
    }
    if let Some(entry) = entries
        .iter()
        .filter(|e| e.compose.is_some())
        .find(public_https)
    {
        draft.set(&["proxy"], entry.name.as_str());
        draft.comment(
            &["proxy"],
            format!("{} publishes HTTPS (`public: true` on 443): it receives every route host as a network alias", entry.name),
        );
    }
}

/// Lays a service's fields out in REGISTRY.md's order.
pub fn reorder(draft: &mut Draft, name: &str) {
    let service = draft.mapping(&["services", name]);
    *service = in_service_order(std::mem::take(service));
}
