//! Kustomizations: the typed `kustomization.yaml` (kustomize has no types in k8s-openapi),
//! and the base folder's files.

use std::collections::BTreeMap;

use serde::Serialize;

use super::secrets::Generator;
use super::{DIR, Object, Stack, documents, to_yaml};
use crate::generate::{GeneratedFile, Syntax};
use crate::registry::model::Registry;
use crate::render::compose::paths::Layout;
use crate::render::yaml;

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    pub api_version: &'static str,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<PatchRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secret_generator: Vec<GeneratorEntry>,
}

impl Kustomization {
    pub fn new() -> Kustomization {
        Kustomization {
            api_version: "kustomize.config.k8s.io/v1beta1",
            kind: "Kustomization",
            ..Kustomization::default()
        }
    }

    pub fn file(&self, path: String) -> GeneratedFile {
        let value = serde_json::to_value(self).expect("a kustomization serializes");
        GeneratedFile::new(path, Syntax::Hash, yaml::to_string(&to_yaml(&value)))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchRef {
    pub path: String,
    pub target: PatchTarget,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<PatchOptions>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchTarget {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub version: String,
    pub kind: String,
    pub name: String,
}

impl PatchTarget {
    pub fn of(o: &Object) -> PatchTarget {
        let (group, version) = match o.api_version.split_once('/') {
            Some((g, v)) => (Some(g.to_string()), v.to_string()),
            None => (None, o.api_version.clone()),
        };
        PatchTarget {
            group,
            version,
            kind: o.kind.clone(),
            name: o.name.clone(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchOptions {
    pub allow_name_change: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorEntry {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behavior: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub envs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    pub options: GeneratorOptions,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorOptions {
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_name_suffix_hash: Option<bool>,
}

impl GeneratorEntry {
    /// A generator as a kustomization at `layout` names it (paths rewritten).
    pub fn new(g: &Generator, layout: &Layout, behavior: Option<&'static str>) -> GeneratorEntry {
        GeneratorEntry {
            name: g.name.clone(),
            behavior,
            envs: g.envs.iter().map(|e| layout.path(e)).collect(),
            files: g
                .files
                .iter()
                .map(|(key, path)| format!("{key}={}", layout.path(path)))
                .collect(),
            options: GeneratorOptions {
                labels: g.labels.clone(),
                disable_name_suffix_hash: (!g.hash).then_some(true),
            },
        }
    }
}

/// How paths relative to the registry folder are written from `kubernetes/base/` or (with
/// `overlay`) from `kubernetes/overlays/<env>/`. [`Layout`] counts one folder below the
/// output folder it is given, as the compose folder is.
pub fn layout(reg: &Registry, overlay: bool) -> Layout {
    let output = reg.output.trim_end_matches('/');
    let output = if output.is_empty() { "." } else { output };
    if overlay {
        Layout::new(&format!("{output}/{DIR}/overlays"))
    } else {
        Layout::new(&format!("{output}/{DIR}"))
    }
}

/// Objects grouped by file, files in the order they first appear.
pub fn by_file<'a>(
    objects: impl IntoIterator<Item = &'a Object>,
) -> Vec<(String, Vec<&'a Object>)> {
    let mut out: Vec<(String, Vec<&Object>)> = Vec::new();
    for o in objects {
        match out.iter_mut().find(|(f, _)| *f == o.file) {
            Some((_, list)) => list.push(o),
            None => out.push((o.file.clone(), vec![o])),
        }
    }
    out
}

/// One file of objects, in a kustomization folder.
pub fn objects_file(folder: &str, file: &str, objects: &[&Object]) -> GeneratedFile {
    GeneratedFile::new(
        format!("{folder}/{file}.yaml"),
        Syntax::Hash,
        documents(objects.iter().map(|o| &o.value)),
    )
}

/// `kubernetes/base/`: the objects and the kustomization that lists them.
pub fn base_files(reg: &Registry, stack: &Stack) -> Vec<GeneratedFile> {
    let folder = format!("{DIR}/base");
    let layout = layout(reg, false);
    let mut files = Vec::new();
    let mut k = Kustomization::new();
    k.namespace = Some(stack.namespace.clone());
    for (file, objects) in by_file(&stack.objects) {
        k.resources.push(format!("{file}.yaml"));
        files.push(objects_file(&folder, &file, &objects));
    }
    k.secret_generator = stack
        .generators
        .iter()
        .map(|g| GeneratorEntry::new(g, &layout, None))
        .collect();
    files.insert(0, k.file(format!("{folder}/kustomization.yaml")));
    files
}
