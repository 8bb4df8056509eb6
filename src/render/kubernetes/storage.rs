//! Where a pod's files live: registry volumes and mounts as Kubernetes volumes.
//!
//! - A named volume without `path` is a PersistentVolumeClaim: a claim template of the
//!   service's StatefulSet (one claim per replica) when the volume is the service's own, or a
//!   standalone claim when it is `access: shared` (ReadWriteMany) or mounted by a Job or a
//!   DaemonSet, which have no claim templates. `size` (else `engines.kubernetes.
//!   default_volume_size`, else 1Gi) is the request; `storage_class` the class.
//! - An `external` volume is a claim that exists already, named by its engine-level name.
//! - A volume with `path`, and a bind mount, is a `hostPath`: the folder of the node the pod
//!   lands on, not of the machine muster ran on. The pod says so in a warning annotation.
//! - Anonymous volumes, `tmpfs` and `shm_size` are `emptyDir`s (in memory for the latter two).
//!
//! Kubernetes cannot change a StatefulSet's claim templates: an environment that gives a
//! volume another size or class needs the StatefulSet deleted (its claims stay) before
//! `deploy.sh` applies it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, HostPathVolumeSource, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{names, resources, text};
use crate::registry::model::{MountSource, Registry, Service, Volume as RegistryVolume};

/// The claim size when neither the volume nor the engine settings give one.
const DEFAULT_SIZE: &str = "1Gi";

/// Whether a service's workload can have claim templates (a StatefulSet).
pub fn has_claim_templates(s: &Service) -> bool {
    !s.job && !s.global
}

/// The name of the claim (or claim template) of a registry volume.
pub fn claim_name(v: &RegistryVolume) -> String {
    names::dns(v.engine_name.as_deref().unwrap_or(&v.name.value))
}

/// Whether a volume is a standalone claim that muster creates: shared, or mounted by a
/// workload that cannot have claim templates.
fn standalone(reg: &Registry, v: &RegistryVolume) -> bool {
    if v.external || v.path.is_some() {
        return false;
    }
    v.shared
        || reg.enabled_services().any(|s| {
            !has_claim_templates(s)
                && s.volumes
                    .iter()
                    .any(|m| matches!(&m.source, MountSource::Named(n) if n.value == v.name.value))
        })
}

fn claim_spec(reg: &Registry, v: &RegistryVolume) -> PersistentVolumeClaimSpec {
    let size = v
        .size
        .or(reg.engines.kubernetes.default_volume_size)
        .map_or_else(|| Quantity(DEFAULT_SIZE.into()), resources::memory);
    PersistentVolumeClaimSpec {
        access_modes: Some(vec![
            if v.shared {
                "ReadWriteMany"
            } else {
                "ReadWriteOnce"
            }
            .into(),
        ]),
        storage_class_name: reg.engines.kubernetes.storage_class.clone(),
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([("storage".to_string(), size)])),
            ..VolumeResourceRequirements::default()
        }),
        ..PersistentVolumeClaimSpec::default()
    }
}

fn claim(
    reg: &Registry,
    v: &RegistryVolume,
    labels: BTreeMap<String, String>,
) -> PersistentVolumeClaim {
    let annotations = v
        .description
        .as_ref()
        .map(|d| BTreeMap::from([("muster.dev/description".to_string(), d.clone())]));
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(claim_name(v)),
            labels: Some(labels),
            annotations,
            ..ObjectMeta::default()
        },
        spec: Some(claim_spec(reg, v)),
        ..PersistentVolumeClaim::default()
    }
}

/// The standalone claims of a registry, in registry order.
pub fn standalone_claims(
    reg: &Registry,
    labels: &BTreeMap<String, String>,
) -> Vec<PersistentVolumeClaim> {
    reg.volumes
        .values()
        .filter(|v| standalone(reg, v))
        .map(|v| claim(reg, v, labels.clone()))
        .collect()
}

/// The volumes, mounts and claim templates of one service's pod.
#[derive(Default)]
pub struct PodStorage {
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
    pub claim_templates: Vec<PersistentVolumeClaim>,
    pub warnings: Vec<String>,
}

impl PodStorage {
    fn add_volume(&mut self, volume: Volume) {
        if !self.volumes.iter().any(|v| v.name == volume.name) {
            self.volumes.push(volume);
        }
    }

    fn mount(&mut self, name: &str, target: &str, read_only: bool, sub_path: Option<String>) {
        self.mounts.push(VolumeMount {
            name: name.to_string(),
            mount_path: target.to_string(),
            read_only: read_only.then_some(true),
            sub_path,
            ..VolumeMount::default()
        });
    }
}

fn host_path(name: String, path: String, kind: Option<&str>) -> Volume {
    Volume {
        name,
        host_path: Some(HostPathVolumeSource {
            path,
            type_: kind.map(str::to_string),
        }),
        ..Volume::default()
    }
}

fn empty_dir(name: String, memory: bool, size: Option<Quantity>) -> Volume {
    Volume {
        name,
        empty_dir: Some(EmptyDirVolumeSource {
            medium: memory.then(|| "Memory".to_string()),
            size_limit: size,
        }),
        ..Volume::default()
    }
}

/// Everything `s` mounts, except secrets and configs (see `secrets.rs`).
pub fn pod_storage(reg: &Registry, s: &Service) -> PodStorage {
    let mut out = PodStorage::default();
    for (i, m) in s.volumes.iter().enumerate() {
        let target = text::resolve_str(reg, &m.target);
        match &m.source {
            MountSource::Named(n) => {
                let Some(v) = reg.volumes.get(&n.value) else {
                    continue;
                };
                let name = names::dns(&n.value);
                if let Some(path) = &v.path {
                    let path = text::resolve(reg, path);
                    out.warnings.push(format!(
                        "volume {} is the folder {path} of the node the pod runs on (hostPath)",
                        n.value
                    ));
                    out.add_volume(host_path(name.clone(), path, Some("DirectoryOrCreate")));
                } else if v.external || standalone(reg, v) {
                    out.add_volume(Volume {
                        name: name.clone(),
                        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                            claim_name: claim_name(v),
                            read_only: None,
                        }),
                        ..Volume::default()
                    });
                } else if !out
                    .claim_templates
                    .iter()
                    .any(|c| c.metadata.name.as_ref() == Some(&name))
                {
                    let mut template = claim(reg, v, BTreeMap::new());
                    template.metadata.labels = None;
                    template.metadata.name = Some(name.clone());
                    out.claim_templates.push(template);
                }
                out.mount(&name, &target, m.read_only, None);
            }
            MountSource::Bind(path) => {
                let name = format!("muster-bind-{i}");
                let path = text::resolve_str(reg, path);
                out.warnings.push(format!(
                    "bind mount {path} is a folder of the node the pod runs on (hostPath)"
                ));
                out.add_volume(host_path(name.clone(), path, None));
                out.mount(&name, &target, m.read_only, None);
            }
            MountSource::Anonymous => {
                let name = format!("muster-anonymous-{i}");
                out.add_volume(empty_dir(name.clone(), false, None));
                out.mount(&name, &target, m.read_only, None);
            }
            MountSource::Tmpfs => {
                let name = format!("muster-tmpfs-{i}");
                out.add_volume(empty_dir(name.clone(), true, None));
                out.mount(&name, &target, m.read_only, None);
            }
        }
    }
    for (i, entry) in s.tmpfs.iter().enumerate() {
        let target = entry.split(':').next().unwrap_or(entry);
        let name = format!("muster-tmp-{i}");
        out.add_volume(empty_dir(name.clone(), true, None));
        out.mount(&name, &text::resolve_str(reg, target), false, None);
    }
    if let Some(size) = s.shm_size {
        out.add_volume(empty_dir(
            "muster-shm".into(),
            true,
            Some(resources::memory(size)),
        ));
        out.mount("muster-shm", "/dev/shm", false, None);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::{Mount, Spanned};
    use crate::registry::values::Template;
    use std::sync::Arc;

    fn mount(source: MountSource, target: &str) -> Mount {
        Mount {
            source,
            target: target.into(),
            read_only: false,
            options: vec![],
            span: Default::default(),
        }
    }

    fn named(name: &str) -> MountSource {
        MountSource::Named(Spanned::new(name.into(), Default::default()))
    }

    fn registry() -> Registry {
        let mut reg = Registry::default();
        for (name, shared, path) in [
            ("data", false, None),
            ("media", true, None),
            ("host", false, Some("/srv/x")),
        ] {
            reg.volumes.insert(
                name.into(),
                RegistryVolume {
                    name: Spanned::new(name.into(), Default::default()),
                    shared,
                    path: path.map(Template::literal),
                    size: (name == "data").then_some(5 << 30),
                    ..RegistryVolume::default()
                },
            );
        }
        reg
    }

    #[test]
    fn own_volumes_are_claim_templates_shared_ones_claims_paths_host_paths() {
        let mut reg = registry();
        let s = Service {
            name: Spanned::new("db".into(), Default::default()),
            enabled: true,
            volumes: vec![
                mount(named("data"), "/data"),
                mount(named("media"), "/media"),
                mount(named("host"), "/host"),
                mount(MountSource::Tmpfs, "/run"),
            ],
            shm_size: Some(64 << 20),
            ..Service::default()
        };
        reg.services.insert("db".into(), Arc::new(s.clone()));
        let st = pod_storage(&reg, &s);
        assert_eq!(st.claim_templates.len(), 1);
        let spec = st.claim_templates[0].spec.as_ref().unwrap();
        assert_eq!(
            spec.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0,
            "5Gi"
        );
        assert_eq!(st.mounts.len(), 5);
        assert_eq!(st.warnings.len(), 1);
        let claims = standalone_claims(&reg, &BTreeMap::new());
        assert_eq!(claims.len(), 1);
        assert_eq!(
            claims[0].spec.as_ref().unwrap().access_modes.as_deref(),
            Some(&["ReadWriteMany".to_string()][..])
        );
    }

    #[test]
    fn jobs_get_standalone_claims() {
        let mut reg = registry();
        let job = Service {
            name: Spanned::new("migrate".into(), Default::default()),
            enabled: true,
            job: true,
            volumes: vec![mount(named("data"), "/data")],
            ..Service::default()
        };
        reg.services.insert("migrate".into(), Arc::new(job.clone()));
        assert!(pod_storage(&reg, &job).claim_templates.is_empty());
        assert_eq!(standalone_claims(&reg, &BTreeMap::new()).len(), 2);
    }
}
