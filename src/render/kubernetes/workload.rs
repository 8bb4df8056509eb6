//! The workload of one service: a Job for `job: true` (named with a digest of its
//! definition, REGISTRY.md "Jobs"), a DaemonSet for `mode: global`, a StatefulSet when the
//! service has claim templates (its own named volumes), else a Deployment; its pod and
//! container.
//!
//! Registry fields without a Kubernetes meaning are left out: `restart` of a long-running
//! service (pods of a Deployment always restart), `init`, `devices`, `ulimits`, `logging`,
//! `security_opt`, a non-numeric `user` (only ids can be asked for: the pod says so in a
//! warning annotation) and `extra_hosts` entries naming `host-gateway`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec,
};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, HostAlias, PodDNSConfig, PodSecurityContext, PodSpec, PodTemplateSpec,
    SecurityContext, Sysctl,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde_json::Value as Json;

use super::storage::{self, PodStorage};
use super::{Object, merge, names, network, probe, resources, secrets, text, to_yaml};
use crate::registry::model::{Command, Registry, Restart, Service};
use crate::render::yaml;

/// What the workload is built from, besides the service.
pub struct Parts<'a> {
    /// Labels of every object of the service.
    pub labels: &'a BTreeMap<String, String>,
    /// Labels that select its pods (never changed once deployed).
    pub selector: &'a BTreeMap<String, String>,
    /// Annotations of the workload.
    pub annotations: BTreeMap<String, String>,
    pub delivery: &'a secrets::Delivery,
    pub ports: &'a [network::Port],
    /// What the caller found the engine cannot honour (see [`names::WARNING`]).
    pub warnings: Vec<String>,
}

fn words(reg: &Registry, c: &Command) -> Vec<String> {
    let args = match c {
        Command::Exec(args) => args.clone(),
        // Compose splits a string command into words without a shell; so does this.
        Command::Shell(s) => {
            shlex::split(s).unwrap_or_else(|| s.split_whitespace().map(str::to_string).collect())
        }
    };
    args.iter()
        .map(|a| text::literal(&text::resolve_str(reg, a)))
        .collect()
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

fn capability(c: &str) -> String {
    let c = c.to_ascii_uppercase();
    c.strip_prefix("CAP_").map(str::to_string).unwrap_or(c)
}

/// `uid[:gid]` as numbers, when it is numeric.
fn numeric_user(user: &str) -> Option<(i64, Option<i64>)> {
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid = uid.parse().ok()?;
    let gid = match gid {
        Some(g) => Some(g.parse().ok()?),
        None => None,
    };
    Some((uid, gid))
}

/// The service's `user` as ids, when it is numeric.
pub fn numeric_user_of(s: &Service) -> Option<(i64, Option<i64>)> {
    s.user.as_deref().and_then(numeric_user)
}

fn security_context(s: &Service, warnings: &mut Vec<String>) -> Option<SecurityContext> {
    let mut sc = SecurityContext {
        read_only_root_filesystem: s.read_only.filter(|r| *r),
        privileged: s.privileged.filter(|p| *p),
        ..SecurityContext::default()
    };
    if !s.cap_add.is_empty() || !s.cap_drop.is_empty() {
        sc.capabilities = Some(Capabilities {
            add: non_empty(s.cap_add.iter().map(|c| capability(c)).collect()),
            drop: non_empty(s.cap_drop.iter().map(|c| capability(c)).collect()),
        });
    }
    if let Some(user) = &s.user {
        match numeric_user(user) {
            Some((uid, gid)) => {
                sc.run_as_user = Some(uid);
                sc.run_as_group = gid;
            }
            None => warnings.push(format!(
                "user {user} is not numeric: Kubernetes runs the image's user"
            )),
        }
    }
    (sc != SecurityContext::default()).then_some(sc)
}

fn container(
    reg: &Registry,
    s: &Service,
    parts: &Parts,
    st: &PodStorage,
    warnings: &mut Vec<String>,
) -> Container {
    let probes = if s.job {
        None
    } else {
        probe::probes(reg, &s.health)
    };
    let mut mounts = st.mounts.clone();
    mounts.extend(parts.delivery.mounts.iter().cloned());
    Container {
        name: names::dns(&s.name.value),
        image: s.image_text.as_deref().map(|i| text::resolve_str(reg, i)),
        command: s.entrypoint.as_ref().map(|c| words(reg, c)),
        args: s.command.as_ref().map(|c| words(reg, c)),
        env_from: non_empty(parts.delivery.env_from.clone()),
        ports: non_empty(network::container_ports(parts.ports)),
        readiness_probe: probes.as_ref().map(|p| p.ready.clone()),
        liveness_probe: probes.as_ref().map(|p| p.ready.clone()),
        startup_probe: probes.and_then(|p| p.startup),
        resources: resources::requirements(&s.resources),
        volume_mounts: non_empty(mounts),
        working_dir: s.working_dir.as_deref().map(|w| text::resolve_str(reg, w)),
        security_context: security_context(s, warnings),
        ..Container::default()
    }
}

fn host_aliases(s: &Service) -> Vec<HostAlias> {
    let mut out: Vec<HostAlias> = Vec::new();
    for entry in &s.extra_hosts {
        // `name:ip` or `name=ip`; the ip may itself hold colons (IPv6).
        let Some((name, ip)) = entry.split_once(['=', ':']) else {
            continue;
        };
        if ip == "host-gateway" {
            continue;
        }
        match out.iter_mut().find(|a| a.ip == ip) {
            Some(a) => a.hostnames.get_or_insert_with(Vec::new).push(name.into()),
            None => out.push(HostAlias {
                ip: ip.trim_matches(['[', ']']).into(),
                hostnames: Some(vec![name.into()]),
            }),
        }
    }
    out
}

fn pod_spec(
    reg: &Registry,
    s: &Service,
    parts: &Parts,
    st: &PodStorage,
    warnings: &mut Vec<String>,
) -> PodSpec {
    let mut node_selector: BTreeMap<String, String> = s
        .placement
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), text::resolve_str(reg, v)))
        .collect();
    if let Some(host) = &s.placement.host {
        node_selector.insert("kubernetes.io/hostname".into(), host.value.clone());
    }
    let mut volumes = st.volumes.clone();
    volumes.extend(parts.delivery.volumes.iter().cloned());
    let sysctls: Vec<Sysctl> = s
        .sysctls
        .iter()
        .map(|(name, value)| Sysctl {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    let restart = match s.restart_policy() {
        _ if !s.job => None,
        Some(Restart::OnFailure) => Some("OnFailure".to_string()),
        _ => Some("Never".to_string()),
    };
    PodSpec {
        containers: vec![container(reg, s, parts, st, warnings)],
        volumes: non_empty(volumes),
        restart_policy: restart,
        node_selector: (!node_selector.is_empty()).then_some(node_selector),
        host_network: s
            .network_mode
            .as_ref()
            .is_some_and(|m| m.value == "host")
            .then_some(true),
        host_pid: s
            .pid
            .as_deref()
            .is_some_and(|p| p == "host")
            .then_some(true),
        hostname: s.hostname.as_deref().map(names::dns),
        dns_config: (!s.dns.is_empty()).then(|| PodDNSConfig {
            nameservers: Some(s.dns.clone()),
            ..PodDNSConfig::default()
        }),
        host_aliases: non_empty(host_aliases(s)),
        termination_grace_period_seconds: s
            .stop_grace_period
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        security_context: pod_security(s, sysctls),
        ..PodSpec::default()
    }
}

/// Sysctls, and the group that mounted secret files belong to: the numeric user's group
/// (else its uid), so that user reads them (see `secrets.rs`).
fn pod_security(s: &Service, sysctls: Vec<Sysctl>) -> Option<PodSecurityContext> {
    let fs_group = numeric_user_of(s).map(|(uid, gid)| gid.unwrap_or(uid));
    let sc = PodSecurityContext {
        sysctls: non_empty(sysctls),
        fs_group,
        ..PodSecurityContext::default()
    };
    (sc != PodSecurityContext::default()).then_some(sc)
}

/// Joins the warnings into the annotation `muster.dev/warning`.
fn warn(annotations: &mut BTreeMap<String, String>, warnings: &[String]) {
    if !warnings.is_empty() {
        annotations.insert(names::WARNING.into(), warnings.join("; "));
    }
}

/// The service's `extra.kubernetes.<key>`, when it is a mapping.
fn extra<'a>(s: &'a Service, key: &str) -> Option<&'a Json> {
    s.extra
        .get("kubernetes")
        .and_then(|k| k.get(key))
        .filter(|v| v.is_object())
}

/// The workload object of a service, with `extra.kubernetes` merged in.
pub fn workload(
    reg: &Registry,
    s: &Service,
    mut parts: Parts,
    pod_labels: BTreeMap<String, String>,
    pod_annotations: BTreeMap<String, String>,
) -> Object {
    let st = storage::pod_storage(reg, s);
    let mut warnings = std::mem::take(&mut parts.warnings);
    warnings.extend(st.warnings.iter().cloned());
    if s.image_text.is_none() {
        warnings.push("no image: clusters cannot build one".into());
    }
    let spec = pod_spec(reg, s, &parts, &st, &mut warnings);
    warn(&mut parts.annotations, &warnings);
    let template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels),
            annotations: (!pod_annotations.is_empty()).then_some(pod_annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(spec),
    };
    let meta = ObjectMeta {
        name: Some(names::dns(&s.name.value)),
        labels: Some(parts.labels.clone()),
        annotations: (!parts.annotations.is_empty()).then(|| parts.annotations.clone()),
        ..ObjectMeta::default()
    };
    let selector = LabelSelector {
        match_labels: Some(parts.selector.clone()),
        ..LabelSelector::default()
    };
    let replicas = Some(i32::try_from(s.replica_count()).unwrap_or(i32::MAX));
    let mut object = if s.job {
        let backoff = if s.restart_policy() == Some(Restart::OnFailure) {
            3
        } else {
            0
        };
        Object::of(&Job {
            metadata: meta,
            spec: Some(JobSpec {
                template,
                backoff_limit: Some(backoff),
                ..JobSpec::default()
            }),
            ..Job::default()
        })
    } else if s.global {
        Object::of(&DaemonSet {
            metadata: meta,
            spec: Some(DaemonSetSpec {
                selector,
                template,
                ..DaemonSetSpec::default()
            }),
            ..DaemonSet::default()
        })
    } else if !st.claim_templates.is_empty() {
        Object::of(&StatefulSet {
            metadata: meta,
            spec: Some(StatefulSetSpec {
                replicas,
                selector,
                service_name: Some(names::service(&s.name.value)),
                template,
                volume_claim_templates: Some(st.claim_templates.clone()),
                ..StatefulSetSpec::default()
            }),
            ..StatefulSet::default()
        })
    } else {
        Object::of(&Deployment {
            metadata: meta,
            spec: Some(DeploymentSpec {
                replicas,
                selector,
                template,
                ..DeploymentSpec::default()
            }),
            ..Deployment::default()
        })
    };
    if let Some(pod) = object.value.pointer_mut("/spec/template/spec") {
        if let Some(extra) = extra(s, "pod") {
            merge(pod, extra);
        }
        if let (Some(extra), Some(c)) = (extra(s, "container"), pod.pointer_mut("/containers/0")) {
            merge(c, extra);
        }
    }
    if let Some(extra) = extra(s, "workload") {
        merge(&mut object.value, extra);
    }
    if s.job {
        // A Job's pod template cannot change: a changed definition is a new Job.
        // Over the written form (keys sorted), so no map order changes the name.
        let digest = crate::generate::writer::digest(&yaml::to_string(&to_yaml(&object.value)));
        let name = names::suffixed(&s.name.value, &format!("-{}", &digest[..8]));
        // `extra.kubernetes.workload` may have replaced `metadata` with anything.
        if let Some(meta) = object
            .value
            .get_mut("metadata")
            .and_then(Json::as_object_mut)
        {
            meta.insert("name".into(), Json::String(name.clone()));
        }
        object.name = name;
        object.id = format!("Job/{}", names::dns(&s.name.value));
    } else {
        object.name = names::dns(&s.name.value);
    }
    object
}

/// The Service object of `s`, with `extra.kubernetes.service` merged in.
pub fn service_object(s: &Service, mut service: Object) -> Object {
    if let Some(extra) = extra(s, "service") {
        merge(&mut service.value, extra);
    }
    service
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_capabilities() {
        assert_eq!(numeric_user("999:998"), Some((999, Some(998))));
        assert_eq!(numeric_user("1000"), Some((1000, None)));
        assert_eq!(numeric_user("postgres"), None);
        assert_eq!(capability("cap_net_admin"), "NET_ADMIN");
    }

    #[test]
    fn extra_hosts_group_by_address() {
        let s = Service {
            extra_hosts: vec![
                "a:10.0.0.1".into(),
                "b:10.0.0.1".into(),
                "host.docker.internal:host-gateway".into(),
                "v6:::1".into(),
            ],
            ..Service::default()
        };
        let aliases = host_aliases(&s);
        assert_eq!(aliases.len(), 2);
        assert_eq!(aliases[0].hostnames.as_deref().unwrap(), ["a", "b"]);
        assert_eq!(aliases[1].ip, "::1");
    }
}
