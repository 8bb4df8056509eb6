//! How pods are reached: container ports, the Service of each service, its Ingress, and the
//! NetworkPolicies that keep registry networks apart.
//!
//! - Ports are `expose` plus the container side of `ports`. Publishing on the host is a
//!   Compose notion: on Kubernetes the Service (ClusterIP) carries every port, and routes go
//!   through the Ingress (`extra.kubernetes.service` can make a Service a LoadBalancer).
//! - Aliases (`aliases`, network aliases) are more Services with the same pods behind them,
//!   when they are valid Service names and no other service or alias has taken them.
//! - One Ingress per routed service, with the class of `engines.kubernetes.ingress_class`:
//!   `match: prefix` is a `Prefix` path, else `Exact`; a route without host uses `domain`;
//!   `tls: true` asks for a certificate in the Secret `<service>-tls` (cert-manager or the
//!   user provides it). `entrypoints`, `priority` and `auth` are Traefik and proxy notions
//!   the Ingress API has no field for.
//! - NetworkPolicies: everything in the namespace is denied by default; a pod may reach and
//!   be reached by pods sharing a registry network (a `network.muster.dev/<net>` label each),
//!   may resolve names through the cluster DNS, and a routed pod accepts the ingress
//!   controller (from any namespace, since where the controller runs is not known, on its
//!   routed ports only). A pod on a network that is not `internal` may also leave the
//!   cluster, as on Compose. An `external` network is a label like any other: pods of other
//!   namespaces are not reached through it.
//! - A StatefulSet names its Service as its governing Service; that Service is a plain
//!   ClusterIP one (one stable name for the service, as on Compose), not a headless one.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ContainerPort, Service as KubeService, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, IPBlock, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, NetworkPolicy, NetworkPolicyEgressRule,
    NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
    ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{names, text};
use crate::registry::decode::subdomain_route;
use crate::registry::model::{PortSpec, Protocol, Registry, Service};

/// The network a service joins when it names none (REGISTRY.md `networks`).
pub const DEFAULT_NETWORK: &str = "default";

/// One port a container listens on.
#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub port: u16,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: &'static str,
    pub name: String,
    pub app_protocol: Option<&'static str>,
}

fn transport(p: &str) -> &'static str {
    match p {
        "udp" => "UDP",
        "sctp" => "SCTP",
        _ => "TCP",
    }
}

/// The ports of a service, each port and protocol once, with names unique within it.
pub fn ports(s: &Service) -> Vec<Port> {
    let mut out: Vec<Port> = Vec::new();
    let mut add =
        |port: u16, protocol: &'static str, name: Option<&str>, app: Option<&'static str>| {
            if out.iter().any(|p| p.port == port && p.protocol == protocol) {
                return;
            }
            let fallback = format!("{}-{port}", protocol.to_ascii_lowercase());
            let name = name
                .and_then(names::port_name)
                .filter(|n| !out.iter().any(|p| &p.name == n))
                .unwrap_or(fallback);
            out.push(Port {
                port,
                protocol,
                name,
                app_protocol: app,
            });
        };
    for e in &s.expose {
        let app = match e.protocol {
            Protocol::Http => Some("http"),
            Protocol::Https => Some("https"),
            Protocol::Grpc => Some("grpc"),
            Protocol::Tcp | Protocol::Udp => None,
        };
        add(
            e.port,
            transport(e.protocol.transport()),
            e.name.as_deref(),
            app,
        );
    }
    for p in &s.ports {
        if let PortSpec::Mapping(m) = &p.spec {
            for port in m.target.start..=m.target.end {
                add(port, transport(&m.protocol), p.name.as_deref(), None);
            }
        }
    }
    out
}

pub fn container_ports(ports: &[Port]) -> Vec<ContainerPort> {
    ports
        .iter()
        .map(|p| ContainerPort {
            container_port: i32::from(p.port),
            name: Some(p.name.clone()),
            protocol: Some(p.protocol.into()),
            ..ContainerPort::default()
        })
        .collect()
}

/// The Service of a service with ports.
pub fn service(
    s: &Service,
    ports: &[Port],
    meta: ObjectMeta,
    selector: &BTreeMap<String, String>,
) -> Option<KubeService> {
    if ports.is_empty() || s.job {
        return None;
    }
    let ports = ports
        .iter()
        .map(|p| ServicePort {
            name: Some(p.name.clone()),
            port: i32::from(p.port),
            target_port: Some(IntOrString::Int(i32::from(p.port))),
            protocol: Some(p.protocol.into()),
            app_protocol: p.app_protocol.map(str::to_string),
            ..ServicePort::default()
        })
        .collect();
    Some(KubeService {
        metadata: ObjectMeta {
            name: Some(names::service(&s.name.value)),
            ..meta
        },
        spec: Some(ServiceSpec {
            selector: Some(selector.clone()),
            ports: Some(ports),
            ..ServiceSpec::default()
        }),
        ..KubeService::default()
    })
}

/// The names other services may reach `s` by besides its own: `aliases` and the aliases of
/// each of its networks (Compose network aliases), in order, each once.
pub fn aliases(s: &Service) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let all = s
        .aliases
        .iter()
        .chain(s.networks.iter().flat_map(|n| n.aliases.iter()));
    for a in all {
        if !out.contains(a) {
            out.push(a.clone());
        }
    }
    out
}

/// Whether an alias can name a Service (a DNS-1035 label: no dots, starts with a letter).
pub fn alias_is_service_name(alias: &str) -> bool {
    alias.len() <= 63
        && alias.starts_with(|c: char| c.is_ascii_lowercase())
        && !alias.ends_with('-')
        && alias
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// One resolved route: host (may be empty: every host), path, exact or prefix, port.
struct Route {
    host: String,
    path: String,
    prefix: bool,
    port: u16,
    tls: bool,
}

fn routes(reg: &Registry, s: &Service) -> Vec<Route> {
    let domain = reg.domain.as_ref().map(|d| &d.value);
    subdomain_route(s, domain)
        .into_iter()
        .chain(s.routes.iter().cloned())
        .filter_map(|r| {
            let port = r.port.or_else(|| s.container_ports().first().copied())?;
            let host = r
                .host
                .as_ref()
                .or(domain)
                .map(|h| text::resolve(reg, h))
                .unwrap_or_default();
            Some(Route {
                host,
                path: if r.path.is_empty() {
                    "/".into()
                } else {
                    r.path.clone()
                },
                prefix: r.prefix,
                port,
                tls: r.tls == Some(true),
            })
        })
        .collect()
}

/// The ports a service receives routed traffic on.
pub fn routed_ports(reg: &Registry, s: &Service) -> Vec<u16> {
    let mut ports: Vec<u16> = routes(reg, s).iter().map(|r| r.port).collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The Ingress of a routed service.
pub fn ingress(reg: &Registry, s: &Service, meta: ObjectMeta) -> Option<Ingress> {
    let routes = routes(reg, s);
    if routes.is_empty() {
        return None;
    }
    let backend_name = names::service(&s.name.value);
    let mut rules: Vec<IngressRule> = Vec::new();
    for r in &routes {
        let path = HTTPIngressPath {
            path: Some(r.path.clone()),
            path_type: if r.prefix { "Prefix" } else { "Exact" }.into(),
            backend: IngressBackend {
                service: Some(IngressServiceBackend {
                    name: backend_name.clone(),
                    port: Some(ServiceBackendPort {
                        number: Some(i32::from(r.port)),
                        ..ServiceBackendPort::default()
                    }),
                }),
                ..IngressBackend::default()
            },
        };
        let host = (!r.host.is_empty()).then(|| r.host.clone());
        match rules.iter_mut().find(|rule| rule.host == host) {
            Some(rule) => {
                if let Some(http) = rule.http.as_mut()
                    && !http
                        .paths
                        .iter()
                        .any(|p| p.path == path.path && p.path_type == path.path_type)
                {
                    http.paths.push(path);
                }
            }
            None => rules.push(IngressRule {
                host,
                http: Some(HTTPIngressRuleValue { paths: vec![path] }),
            }),
        }
    }
    let mut tls_hosts: Vec<String> = routes
        .iter()
        .filter(|r| r.tls && !r.host.is_empty())
        .map(|r| r.host.clone())
        .collect();
    tls_hosts.dedup();
    let tls = (!tls_hosts.is_empty()).then(|| {
        vec![IngressTLS {
            hosts: Some(tls_hosts),
            secret_name: Some(names::suffixed(&s.name.value, "-tls")),
        }]
    });
    Some(Ingress {
        metadata: ObjectMeta {
            name: Some(names::dns(&s.name.value)),
            ..meta
        },
        spec: Some(IngressSpec {
            ingress_class_name: reg.engines.kubernetes.ingress_class.clone(),
            rules: Some(rules),
            tls,
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    })
}

/// The registry networks a service's pods join (none with `network_mode`).
pub fn networks(s: &Service) -> Vec<String> {
    if s.network_mode.is_some() {
        return Vec::new();
    }
    if s.networks.is_empty() {
        return vec![DEFAULT_NETWORK.to_string()];
    }
    s.networks.iter().map(|n| n.name.value.clone()).collect()
}

fn selector(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: (!labels.is_empty()).then_some(labels),
        ..LabelSelector::default()
    }
}

fn policy(name: &str, meta: &ObjectMeta, spec: NetworkPolicySpec) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..meta.clone()
        },
        spec: Some(spec),
    }
}

fn port(protocol: &str, port: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.into()),
        port: Some(IntOrString::Int(i32::from(port))),
        ..NetworkPolicyPort::default()
    }
}

/// The namespace-wide policies: deny by default, DNS, and one per registry network in use.
pub fn policies(reg: &Registry, meta: &ObjectMeta) -> Vec<NetworkPolicy> {
    let mut out = vec![
        policy(
            "default-deny",
            meta,
            NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
                ..NetworkPolicySpec::default()
            },
        ),
        policy(
            "allow-dns",
            meta,
            NetworkPolicySpec {
                pod_selector: Some(LabelSelector::default()),
                policy_types: Some(vec!["Egress".into()]),
                egress: Some(vec![NetworkPolicyEgressRule {
                    to: Some(vec![NetworkPolicyPeer {
                        namespace_selector: Some(selector(BTreeMap::from([(
                            "kubernetes.io/metadata.name".to_string(),
                            "kube-system".to_string(),
                        )]))),
                        pod_selector: Some(selector(BTreeMap::from([(
                            "k8s-app".to_string(),
                            "kube-dns".to_string(),
                        )]))),
                        ..NetworkPolicyPeer::default()
                    }]),
                    ports: Some(vec![port("UDP", 53), port("TCP", 53)]),
                }]),
                ..NetworkPolicySpec::default()
            },
        ),
    ];
    let mut used: Vec<String> = Vec::new();
    for s in reg.enabled_services() {
        for n in networks(s) {
            if !used.contains(&n) {
                used.push(n);
            }
        }
    }
    for n in used {
        let members = selector(BTreeMap::from([(
            names::prefixed_label(names::NETWORK_PREFIX, &n),
            "true".to_string(),
        )]));
        let peer = NetworkPolicyPeer {
            pod_selector: Some(members.clone()),
            ..NetworkPolicyPeer::default()
        };
        let mut egress = vec![NetworkPolicyEgressRule {
            to: Some(vec![peer.clone()]),
            ports: None,
        }];
        let internal = reg.networks.get(&n).is_some_and(|net| net.internal);
        if !internal {
            let anywhere = |cidr: &str| NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: cidr.into(),
                    except: None,
                }),
                ..NetworkPolicyPeer::default()
            };
            egress.push(NetworkPolicyEgressRule {
                to: Some(vec![anywhere("0.0.0.0/0"), anywhere("::/0")]),
                ports: None,
            });
        }
        out.push(policy(
            &names::suffixed(&format!("network-{}", names::dns(&n)), ""),
            meta,
            NetworkPolicySpec {
                pod_selector: Some(members),
                policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    from: Some(vec![peer]),
                    ports: None,
                }]),
                egress: Some(egress),
            },
        ));
    }
    out
}

/// The policy letting the ingress controller reach a routed service's ports.
pub fn ingress_policy(
    reg: &Registry,
    s: &Service,
    meta: ObjectMeta,
    pods: &BTreeMap<String, String>,
) -> Option<NetworkPolicy> {
    let ports = routed_ports(reg, s);
    if ports.is_empty() {
        return None;
    }
    Some(policy(
        &names::suffixed(&s.name.value, "-from-ingress"),
        &meta,
        NetworkPolicySpec {
            pod_selector: Some(selector(pods.clone())),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(LabelSelector::default()),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: Some(ports.into_iter().map(|p| port("TCP", p)).collect()),
            }]),
            ..NetworkPolicySpec::default()
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::{Expose, Port as RegistryPort, Spanned};
    use crate::registry::values::parse_port_mapping;

    #[test]
    fn ports_merge_expose_and_published_targets() {
        let s = Service {
            expose: vec![
                Expose {
                    name: Some("metrics".into()),
                    port: 9100,
                    protocol: Protocol::Http,
                    span: Default::default(),
                },
                Expose {
                    name: None,
                    port: 53,
                    protocol: Protocol::Udp,
                    span: Default::default(),
                },
            ],
            ports: vec![RegistryPort {
                spec: PortSpec::Mapping(parse_port_mapping("127.0.0.1:9100:9100").unwrap()),
                name: None,
                mode: None,
                app_protocol: None,
                span: Default::default(),
            }],
            ..Service::default()
        };
        let p = ports(&s);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "metrics");
        assert_eq!(p[0].app_protocol, Some("http"));
        assert_eq!(p[1].name, "udp-53");
        assert_eq!(p[1].protocol, "UDP");
    }

    #[test]
    fn services_without_networks_join_default() {
        let mut s = Service::default();
        assert_eq!(networks(&s), ["default"]);
        s.network_mode = Some(Spanned::new("host".into(), Default::default()));
        assert!(networks(&s).is_empty());
    }
}
