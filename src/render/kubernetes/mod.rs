//! Kubernetes manifests: the registry as a kustomize base, one overlay per environment, and
//! a deploy script that applies phases in order.
//!
//! Files (paths relative to the output folder):
//! - `kubernetes/base/kustomization.yaml`: the namespace, the resources below, and a
//!   `secretGenerator` per service that receives secrets (see `secrets.rs`).
//! - `kubernetes/base/namespace.yaml`, `network-policies.yaml` (see `network.rs`),
//!   `volumes.yaml` (standalone claims, see `storage.rs`, when there are any).
//! - `kubernetes/base/services/<service>.yaml`: the objects of one service: its ConfigMap,
//!   workload (`workload.rs`), Service, Ingress and the policy admitting the ingress controller.
//! - `kubernetes/overlays/<env>/kustomization.yaml` (+ `patches/`, + files of services that
//!   exist only there): exactly what the environment changes, as JSON patches of base objects,
//!   delete patches and added resources (see `overlay.rs`).
//! - `kubernetes/deploy.sh`: builds one kustomization and applies it phase by phase, waiting
//!   on readiness (see `deploy.rs`).
//!
//! Every object carries labels naming the stack, the service, its phase and its groups;
//! the workload records the service's dependencies in the annotation
//! `muster.dev/depends-on` (Kubernetes has no startup order: `deploy.sh` has, by phase).
//! Names are DNS labels (`names.rs`); `${VAR}` is resolved at generation time (`text.rs`).
//!
//! Objects are typed `k8s-openapi` values, serialized with serde into JSON values (where
//! `extra.kubernetes` merges in), written with [`yaml`] with keys sorted:
//! the same registry gives the same bytes whatever order a map had.

mod deploy;
mod kustomize;
mod names;
mod network;
mod overlay;
mod patch;
mod probe;
mod resources;
mod secrets;
mod storage;
mod text;
mod workload;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value as Json;

use crate::generate::{GeneratedFile, Syntax};
use crate::graph::selection::all_group_members;
use crate::registry::model::{DEFAULT_PHASE_TIMEOUT, Registry, Service};
use crate::render::yaml;

pub use names::{DEPENDS_ON, PHASE, SERVICE, STACK};
pub use secrets::RUNTIME_DIR;

/// The folder every Kubernetes file goes in, relative to the output folder.
const DIR: &str = "kubernetes";

/// All Kubernetes files, paths relative to the output folder (`kubernetes/...`).
pub fn render(base: &Registry, environments: &[(String, Registry)]) -> Vec<GeneratedFile> {
    // Each environment is a whole stack of objects to build and compare: side by side.
    let (stack, env_stacks) = std::thread::scope(|scope| {
        let handles: Vec<_> = environments
            .iter()
            .map(|(_, env)| scope.spawn(move || Stack::new(env)))
            .collect();
        let stack = Stack::new(base);
        let env_stacks: Vec<Stack> = handles
            .into_iter()
            .map(|h| h.join().expect("building a stack does not panic"))
            .collect();
        (stack, env_stacks)
    });
    let mut files = kustomize::base_files(base, &stack);
    let mut scripts = vec![deploy::Target::new(None, &stack)];
    for ((name, _), env_stack) in environments.iter().zip(&env_stacks) {
        files.extend(overlay::files(base, name, &stack, env_stack));
        scripts.push(deploy::Target::new(Some(name), env_stack));
    }
    let mut script = GeneratedFile::new(
        format!("{DIR}/deploy.sh"),
        Syntax::Hash,
        deploy::script(&base.name.value, &scripts),
    );
    script.executable = true;
    files.push(script);
    files
}

/// One Kubernetes object, as JSON, with what the overlays need to find it again.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The same object in another environment has the same id: `Kind/name`, except Jobs,
    /// whose names carry a digest (`Job/<service>`).
    pub id: String,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// The file (without `.yaml`) it is written to, relative to the kustomization.
    pub file: String,
    pub value: Json,
}

impl Object {
    fn of<K: k8s_openapi::Resource + serde::Serialize>(k: &K) -> Object {
        let value = serde_json::to_value(k).expect("Kubernetes objects serialize");
        let name = value
            .pointer("/metadata/name")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        Object {
            id: format!("{}/{name}", K::KIND),
            api_version: K::API_VERSION.to_string(),
            kind: K::KIND.to_string(),
            name,
            file: String::new(),
            value,
        }
    }

    fn in_file(mut self, file: &str) -> Object {
        self.file = file.to_string();
        self
    }
}

/// Deep merge of `extra.kubernetes` data: mappings merge key by key, `null` removes a key,
/// anything else replaces.
fn merge(target: &mut Json, patch: &Json) {
    match (target, patch) {
        (Json::Object(t), Json::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Json::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// A JSON value as YAML, mapping keys sorted (so no map order leaks into the output).
fn to_yaml(v: &Json) -> serde_norway::Value {
    use serde_norway::Value;
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or_default())
            }
        }
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Sequence(a.iter().map(to_yaml).collect()),
        Json::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Mapping(
                keys.into_iter()
                    .map(|k| (Value::String(k.clone()), to_yaml(&m[k])))
                    .collect(),
            )
        }
    }
}

/// Objects as one YAML stream.
fn documents<'a>(objects: impl IntoIterator<Item = &'a Json>) -> String {
    let mut out = String::new();
    for (i, o) in objects.into_iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&yaml::to_string(&to_yaml(o)));
    }
    out
}

/// A phase of the deploy script: its name and timeout in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub name: String,
    pub timeout: u64,
}

/// One registry as Kubernetes objects.
pub struct Stack {
    pub namespace: String,
    pub objects: Vec<Object>,
    pub generators: Vec<secrets::Generator>,
    /// Phases with enabled services, in order; empty when the registry has no phases.
    pub phases: Vec<Phase>,
}

impl Stack {
    pub fn new(reg: &Registry) -> Stack {
        let namespace = names::dns(
            reg.engines
                .kubernetes
                .namespace
                .as_deref()
                .unwrap_or(&reg.name.value),
        );
        let stack_labels = BTreeMap::from([
            (STACK.to_string(), names::dns(&reg.name.value)),
            (
                "app.kubernetes.io/part-of".to_string(),
                names::dns(&reg.name.value),
            ),
            (
                "app.kubernetes.io/managed-by".to_string(),
                "muster".to_string(),
            ),
        ]);
        let shared = ObjectMeta {
            labels: Some(stack_labels.clone()),
            ..ObjectMeta::default()
        };
        let mut objects = vec![
            Object::of(&Namespace {
                metadata: ObjectMeta {
                    name: Some(namespace.clone()),
                    ..shared.clone()
                },
                ..Namespace::default()
            })
            .in_file("namespace"),
        ];
        objects.extend(
            network::policies(reg, &shared)
                .iter()
                .map(|p| Object::of(p).in_file("network-policies")),
        );
        objects.extend(
            storage::standalone_claims(reg, &stack_labels)
                .iter()
                .map(|c| Object::of(c).in_file("volumes")),
        );
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut all = all_group_members(reg);
        // Declared groups only, as labels.
        all.truncate(reg.groups.len());
        for (g, members) in all {
            for member in members {
                groups.entry(member).or_default().push(g.to_string());
            }
        }
        let mut generators = Vec::new();
        // Service names are one namespace: services first, then aliases in registry order.
        let mut taken: BTreeSet<String> = reg
            .enabled_services()
            .map(|s| names::service(&s.name.value))
            .collect();
        for s in reg.enabled_services() {
            let no_groups = Vec::new();
            let service_groups = groups.get(&s.name.value).unwrap_or(&no_groups);
            let (objs, gens) = service_objects(reg, s, &stack_labels, service_groups, &mut taken);
            objects.extend(objs);
            generators.extend(gens);
        }
        let mut phases: Vec<(i64, Phase)> = reg
            .phases
            .values()
            .filter(|p| {
                reg.enabled_services()
                    .any(|s| s.phase.as_ref().is_some_and(|sp| sp.value == p.name.value))
            })
            .map(|p| {
                (
                    p.order,
                    Phase {
                        name: names::dns(&p.name.value),
                        timeout: p.timeout.as_secs().max(1),
                    },
                )
            })
            .collect();
        phases.sort_by_key(|(order, _)| *order);
        Stack {
            namespace,
            objects,
            generators,
            phases: phases.into_iter().map(|(_, p)| p).collect(),
        }
    }
}

/// The timeout of `deploy.sh` when the registry has no phases.
pub fn default_timeout() -> u64 {
    DEFAULT_PHASE_TIMEOUT.as_secs()
}

/// `name=condition` for each dependency, `?` after optional ones.
fn depends_on(reg: &Registry, s: &Service) -> String {
    s.depends_on
        .iter()
        .map(|d| {
            format!(
                "{}={}{}",
                names::dns(&d.service.value),
                reg.effective_condition(d).as_str(),
                if d.optional { "?" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn service_objects(
    reg: &Registry,
    s: &Service,
    stack_labels: &BTreeMap<String, String>,
    groups: &[String],
    taken: &mut BTreeSet<String>,
) -> (Vec<Object>, Vec<secrets::Generator>) {
    let sname = names::dns(&s.name.value);
    let mut labels = stack_labels.clone();
    labels.insert(SERVICE.into(), sname.clone());
    labels.insert("app.kubernetes.io/name".into(), sname.clone());
    if let Some(phase) = &s.phase {
        labels.insert(PHASE.into(), names::dns(&phase.value));
    }
    for g in groups {
        labels.insert(names::prefixed_label(names::GROUP_PREFIX, g), "true".into());
    }
    let selector = BTreeMap::from([
        (STACK.to_string(), labels[STACK].clone()),
        (SERVICE.to_string(), sname.clone()),
    ]);
    let meta = ObjectMeta {
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    };
    let file = format!("services/{sname}");
    let delivery = secrets::delivery(reg, s, &meta);
    let ports = network::ports(s);
    let mut objects = Vec::new();

    let mut pod_annotations = BTreeMap::new();
    if let Some(cm) = &delivery.config_map {
        let data = serde_json::to_value(&cm.data).expect("strings serialize");
        let digest = crate::generate::writer::digest(&yaml::to_string(&to_yaml(&data)));
        pod_annotations.insert(names::CONFIG_DIGEST.to_string(), digest[..16].to_string());
        objects.push(Object::of(cm).in_file(&file));
    }
    let mut annotations = BTreeMap::new();
    let mut warnings: Vec<String> = Vec::new();
    if !s.depends_on.is_empty() {
        annotations.insert(DEPENDS_ON.to_string(), depends_on(reg, s));
    }
    if !s.tags.is_empty() {
        annotations.insert("muster.dev/tags".to_string(), s.tags.join(","));
    }
    if s.critical {
        annotations.insert("muster.dev/critical".to_string(), "true".into());
    }
    if let Some(d) = &s.description {
        annotations.insert("muster.dev/description".to_string(), d.clone());
    }
    for (k, v) in &s.labels {
        annotations.insert(k.clone(), text::resolve_str(reg, v));
    }
    let mut pod_labels = labels.clone();
    for n in network::networks(s) {
        pod_labels.insert(
            names::prefixed_label(names::NETWORK_PREFIX, &n),
            "true".into(),
        );
    }
    let mut alias_services = Vec::new();
    for alias in network::aliases(s) {
        if !network::alias_is_service_name(&alias) {
            warnings.push(format!(
                "alias {alias} is not a Service name: not reachable by it"
            ));
        } else if taken.insert(alias.clone())
            && let Some(svc) = network::service(s, &ports, meta.clone(), &selector)
        {
            let mut svc = Object::of(&svc);
            svc.value["metadata"]["name"] = serde_json::Value::String(alias.clone());
            svc.id = format!("Service/{alias}");
            svc.name = alias;
            alias_services.push(svc.in_file(&file));
        }
    }
    let parts = workload::Parts {
        warnings,
        labels: &labels,
        selector: &selector,
        annotations,
        delivery: &delivery,
        ports: &ports,
    };
    objects.push(workload::workload(reg, s, parts, pod_labels, pod_annotations).in_file(&file));
    if let Some(svc) = network::service(s, &ports, meta.clone(), &selector) {
        objects.push(workload::service_object(s, Object::of(&svc)).in_file(&file));
    }
    objects.extend(alias_services);
    if let Some(ing) = network::ingress(reg, s, meta.clone()) {
        objects.push(Object::of(&ing).in_file(&file));
    }
    if let Some(policy) = network::ingress_policy(reg, s, meta, &selector) {
        objects.push(Object::of(&policy).in_file(&file));
    }
    (objects, delivery.generators)
}

#[cfg(test)]
mod tests;
