//! Things two parts of a registry cannot both have: a host port, a route, a name, a file.

use foldhash::{HashMap, HashMapExt};

use crate::diagnostic::{Code, Diagnostic};
use crate::registry::decode::subdomain_route;
use crate::registry::model::*;
use crate::registry::values::{PortMapping, Template};
use crate::source::Span;

pub(super) fn check(reg: &Registry, out: &mut Vec<Diagnostic>) {
    ports(reg, out);
    routes(reg, out);
    shared_namespace(reg, out);
    dns_names(reg, out);
    categories(reg, out);
    container_names(reg, out);
}

fn ports(reg: &Registry, out: &mut Vec<Diagnostic>) {
    let mut bound = Bound::default();
    for s in reg.enabled_services() {
        for port in &s.ports {
            let PortSpec::Mapping(m) = &port.spec else {
                continue;
            };
            if m.published.is_none() {
                continue;
            }
            if let Some((other, _, first)) = bound.first_clash(m) {
                let ip = m.host_ip.as_deref().unwrap_or("0.0.0.0");
                out.push(
                    Diagnostic::new(
                        Code::PortConflict,
                        format!(
                            "`{}` and `{other}` both publish {}/{} on {ip}",
                            s.name.value,
                            m.published.expect("checked"),
                            m.protocol
                        ),
                    )
                    .at(port.span, "already taken")
                    .related(first, format!("published by `{other}` here"))
                    .help("publish one of them on another host port, or on another address"),
                );
            } else {
                bound.add(&s.name.value, m, port.span);
            }
        }
    }
}

/// Ranges wider than this many ports are compared with every bound port one by one.
const WIDE_RANGE: u16 = 256;

/// Published ports taken so far, indexed by port number: comparing each new port with all
/// earlier ones would be quadratic in the size of the stack.
#[derive(Default)]
struct Bound<'r> {
    /// Who published what, where, in the order they were taken.
    taken: Vec<(&'r str, &'r PortMapping, Span)>,
    /// Positions in `taken` of narrow ranges, under each port they cover.
    by_port: HashMap<(&'r str, u16), Vec<usize>>,
    /// Positions in `taken` of wide ranges.
    wide: Vec<usize>,
}

impl<'r> Bound<'r> {
    /// The earliest taken port that `m` clashes with.
    fn first_clash(&self, m: &PortMapping) -> Option<(&'r str, &'r PortMapping, Span)> {
        let range = m.published?;
        let clashes = |&i: &usize| clash(self.taken[i].1, m);
        let first = if range.end - range.start > WIDE_RANGE {
            (0..self.taken.len()).find(clashes)
        } else {
            (range.start..=range.end)
                .filter_map(|p| self.by_port.get(&(m.protocol.as_str(), p)))
                .flatten()
                .chain(&self.wide)
                .copied()
                .filter(clashes)
                .min()
        };
        first.map(|i| self.taken[i])
    }

    fn add(&mut self, service: &'r str, m: &'r PortMapping, span: Span) {
        let position = self.taken.len();
        self.taken.push((service, m, span));
        let Some(range) = m.published else {
            return;
        };
        if range.end - range.start > WIDE_RANGE {
            self.wide.push(position);
        } else {
            for p in range.start..=range.end {
                self.by_port
                    .entry((m.protocol.as_str(), p))
                    .or_default()
                    .push(position);
            }
        }
    }
}

/// Two published ports clash when protocol and port overlap on the same address, or when
/// either listens on every address.
fn clash(a: &PortMapping, b: &PortMapping) -> bool {
    let (Some(pa), Some(pb)) = (a.published, b.published) else {
        return false;
    };
    let any = |ip: &Option<String>| {
        ip.as_deref()
            .is_none_or(|ip| ip == "0.0.0.0" || ip == "::" || ip.is_empty())
    };
    let same_address = any(&a.host_ip) || any(&b.host_ip) || a.host_ip == b.host_ip;
    a.protocol == b.protocol && same_address && pa.start <= pb.end && pb.start <= pa.end
}

fn route_key(host: &Option<Template>, domain: Option<&Template>) -> String {
    let no = |_: &str| String::new();
    let text = |t: &Template| t.render(&|h: &str| h.to_string(), &no);
    match (host, domain) {
        (Some(h), _) => text(h),
        (None, Some(d)) => text(d),
        (None, None) => String::new(),
    }
}

fn routes(reg: &Registry, out: &mut Vec<Diagnostic>) {
    let domain = reg.domain.as_ref().map(|d| &d.value);
    let mut claimed: HashMap<(String, String), (&str, Span)> = HashMap::new();
    for s in reg.enabled_services() {
        let all: Vec<Route> = subdomain_route(s, domain)
            .into_iter()
            .chain(s.routes.iter().cloned())
            .collect();
        for route in &all {
            let key = (route_key(&route.host, domain), route.path.clone());
            if let Some((other, first)) = claimed.get(&key) {
                if *other == s.name.value {
                    continue;
                }
                out.push(
                    Diagnostic::new(
                        Code::RouteConflict,
                        format!(
                            "`{}` and `{other}` both claim {}{}",
                            s.name.value, key.0, key.1
                        ),
                    )
                    .at(route.span, "already claimed")
                    .related(*first, format!("claimed by `{other}` here"))
                    .help("give one of them another host or path"),
                );
            } else {
                claimed.insert(key, (&s.name.value, route.span));
            }
        }
    }
}

fn shared_namespace(reg: &Registry, out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, (&str, Span)> = HashMap::new();
    let all = reg
        .services
        .values()
        .map(|s| ("service", &s.name))
        .chain(reg.groups.values().map(|g| ("group", &g.name)))
        .chain(reg.phases.values().map(|p| ("phase", &p.name)));
    let mut entries: Vec<(&str, &Name)> = all.collect();
    entries.sort_by_key(|(_, n)| n.span.start);
    for (kind, name) in entries {
        if let Some((other_kind, first)) = seen.get(name.value.as_str()) {
            out.push(
                Diagnostic::new(
                    Code::NameClash,
                    format!("`{}` is both a {other_kind} and a {kind}", name.value),
                )
                .at(name.span, format!("{kind} named here"))
                .related(*first, format!("{other_kind} named here"))
                .help("services, groups and phases share one namespace, because `muster up NAME` may name any of them; rename one"),
            );
        } else {
            seen.insert(&name.value, (kind, name.span));
        }
    }
}

fn dns_names(reg: &Registry, out: &mut Vec<Diagnostic>) {
    let namespaces: Vec<(&str, Vec<&Name>)> = vec![
        (
            "service, group or phase",
            reg.services
                .values()
                .map(|s| &s.name)
                .chain(reg.groups.values().map(|g| &g.name))
                .chain(reg.phases.values().map(|p| &p.name))
                .collect(),
        ),
        ("network", reg.networks.values().map(|n| &n.name).collect()),
        ("volume", reg.volumes.values().map(|v| &v.name).collect()),
        ("secret", reg.secrets.values().map(|s| &s.name).collect()),
    ];
    for (kind, mut names) in namespaces {
        names.sort_by_key(|n| n.span.start);
        let mut seen: HashMap<String, &Name> = HashMap::new();
        for name in names {
            let dns = name.value.replace('_', "-");
            match seen.get(&dns) {
                Some(first) if first.value != name.value => out.push(
                    Diagnostic::new(
                        Code::DnsCollision,
                        format!("`{}` and `{}` become the same name `{dns}` on Kubernetes and in hostnames", first.value, name.value),
                    )
                    .at(name.span, format!("this {kind}"))
                    .related(first.span, "collides with this one")
                    .help("names map `_` to `-` where DNS rules apply; rename one"),
                ),
                Some(_) => {}
                None => {
                    seen.insert(dns, name);
                }
            }
        }
    }
}

/// The compose file a service lands in: its category, else its phase, else `services`.
pub fn effective_category(s: &Service) -> String {
    s.category
        .as_ref()
        .map(|c| c.value.clone())
        .or_else(|| s.phase.as_ref().map(|p| p.value.clone()))
        .unwrap_or_else(|| "services".into())
}

fn categories(reg: &Registry, out: &mut Vec<Diagnostic>) {
    for s in reg.enabled_services() {
        let category = effective_category(s);
        let taken = match category.as_str() {
            "docker-compose" => Some("the orchestrator docker-compose.yml"),
            "stack" => Some("the flat stack.yml"),
            "core/networks" => Some("core/networks.yml, which holds networks and volumes"),
            c if c == "environments" || c.starts_with("environments/") => {
                Some("the environment overrides under environments/")
            }
            _ => None,
        };
        if let Some(file) = taken {
            let span = s
                .category
                .as_ref()
                .map(|c| c.span)
                .or(s.phase.as_ref().map(|p| p.span))
                .unwrap_or(s.name.span);
            out.push(
                Diagnostic::new(
                    Code::CategoryCollision,
                    format!(
                        "`{}` would be written to compose/{category}.yml, which is {file}",
                        s.name.value
                    ),
                )
                .at(span, "collides with a generated file")
                .help("choose another `category`"),
            );
        }
    }
}

fn container_names(reg: &Registry, out: &mut Vec<Diagnostic>) {
    for s in reg.services.values() {
        if let (Some(name), Some(replicas)) = (&s.container_name, &s.replicas)
            && replicas.value > 1
        {
            out.push(
                Diagnostic::new(
                    Code::ContainerNameReplicas,
                    format!(
                        "`{}` has a fixed container name and {} replicas",
                        s.name.value, replicas.value
                    ),
                )
                .at(replicas.span, "more than one container")
                .related(name.span, "but one name")
                .help("containers need unique names: drop `container_name`, or keep one replica"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::registry;
    use crate::source::SourceFile;

    /// The port conflicts of a registry whose services publish `ports` (one list each), as
    /// (clashing service, service it clashes with).
    fn port_conflicts(lists: &[&str]) -> Vec<(String, String)> {
        let mut text = String::from("version: 1\nname: t\nservices:\n");
        for (i, list) in lists.iter().enumerate() {
            text.push_str(&format!("  s{i}: {{ image: \"a:1\", ports: {list} }}\n"));
        }
        let loaded = registry::load(Arc::new(SourceFile::new("muster.yaml", text)), None);
        assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
        let mut out = Vec::new();
        ports(loaded.registry.as_ref().expect("decoded"), &mut out);
        out.iter()
            .map(|d| {
                let (a, b) = d.message.split_once("` and `").expect("two services");
                let b = b.split_once('`').expect("closing quote").0;
                (a.trim_start_matches('`').to_string(), b.to_string())
            })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn the_earliest_clashing_port_is_named() {
        let found = port_conflicts(&[
            r#"["8000-9000:8000-9000"]"#,
            r#"["127.0.0.1:8080:80"]"#,
            r#"["8080:80", "8080:80/udp"]"#,
            r#"["10.0.0.1:7000:70", "10.0.0.2:7000:70"]"#,
            r#"["10.0.0.1:7000:70", "9000:90/udp"]"#,
        ]);
        assert_eq!(found, pairs(&[("s1", "s0"), ("s2", "s0"), ("s4", "s3")]));
    }

    #[test]
    fn narrow_and_wide_ranges_find_each_other() {
        let found = port_conflicts(&[
            r#"["3000-3003:3000-3003"]"#,
            r#"["2000-2999:2000-2999"]"#,
            r#"["2999:1"]"#,
            r#"["2500-3000:2500-3000"]"#,
            r#"["3003-3004:1-2"]"#,
            r#"["3005:1", "4000-4100:4000-4100"]"#,
        ]);
        assert_eq!(found, pairs(&[("s2", "s1"), ("s3", "s0"), ("s4", "s0")]));
    }
}
