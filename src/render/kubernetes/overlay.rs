//! `kubernetes/overlays/<env>/`: exactly what an environment changes versus the base.
//!
//! The environment's registry (merged by the loader) is rendered like the base, and the two
//! sets of objects are compared by identity (kind and name; Jobs by service, since their
//! names carry a digest of their definition):
//! - an object in both that differs gets a JSON patch (`patches/<kind>-<name>.yaml`, see
//!   `patch.rs`), allowed to rename it when its name changed (a Job's new digest);
//! - an object only the environment has is a resource of the overlay, in a file named like
//!   the base's (`services/<service>.yaml`);
//! - an object only the base has gets a delete patch;
//! - secret generators are added (`behavior: create`), replaced when their sources changed,
//!   or deleted with a patch of the Secret.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};

use super::kustomize::{
    self, GeneratorEntry, Kustomization, PatchOptions, PatchRef, PatchTarget, by_file, objects_file,
};
use super::{DIR, Object, Stack, patch, to_yaml};
use crate::generate::{GeneratedFile, Syntax};
use crate::registry::model::Registry;
use crate::render::yaml;

fn patch_name(kind: &str, name: &str) -> String {
    format!("patches/{}-{name}.yaml", kind.to_ascii_lowercase())
}

/// A strategic merge patch that deletes `o`.
fn delete(o: &Object) -> Json {
    let mut meta = Map::new();
    meta.insert("name".into(), Json::String(o.name.clone()));
    let mut m = Map::new();
    m.insert("apiVersion".into(), Json::String(o.api_version.clone()));
    m.insert("kind".into(), Json::String(o.kind.clone()));
    m.insert("metadata".into(), Json::Object(meta));
    m.insert("$patch".into(), Json::String("delete".into()));
    Json::Object(m)
}

fn yaml_file(path: String, value: &Json) -> GeneratedFile {
    GeneratedFile::new(path, Syntax::Hash, yaml::to_string(&to_yaml(value)))
}

/// The files of the overlay of environment `env`.
pub fn files(reg: &Registry, env: &str, base: &Stack, target: &Stack) -> Vec<GeneratedFile> {
    let folder = format!("{DIR}/overlays/{env}");
    let layout = kustomize::layout(reg, true);
    let mut files = Vec::new();
    let mut k = Kustomization::new();
    k.resources.push("../../base".into());
    // Always: objects the overlay adds are not in the base, whose namespace setting they miss.
    k.namespace = Some(target.namespace.clone());

    let in_base: HashMap<&str, &Object> = base.objects.iter().map(|o| (o.id.as_str(), o)).collect();
    let in_target: HashMap<&str, &Object> =
        target.objects.iter().map(|o| (o.id.as_str(), o)).collect();
    let mut added: Vec<&Object> = Vec::new();
    for o in &target.objects {
        let Some(before) = in_base.get(o.id.as_str()) else {
            added.push(o);
            continue;
        };
        let ops = patch::diff(&before.value, &o.value);
        if ops.is_empty() {
            continue;
        }
        let path = patch_name(&before.kind, &before.name);
        files.push(yaml_file(format!("{folder}/{path}"), &Json::Array(ops)));
        k.patches.push(PatchRef {
            path,
            target: PatchTarget::of(before),
            options: (before.name != o.name).then_some(PatchOptions {
                allow_name_change: true,
            }),
        });
    }
    for o in base
        .objects
        .iter()
        .filter(|o| !in_target.contains_key(o.id.as_str()))
    {
        let path = format!(
            "patches/delete-{}-{}.yaml",
            o.kind.to_ascii_lowercase(),
            o.name
        );
        files.push(yaml_file(format!("{folder}/{path}"), &delete(o)));
        k.patches.push(PatchRef {
            path,
            target: PatchTarget::of(o),
            options: None,
        });
    }
    for (file, objects) in by_file(added) {
        k.resources.push(format!("{file}.yaml"));
        files.push(objects_file(&folder, &file, &objects));
    }

    for g in &target.generators {
        match base.generators.iter().find(|b| b.name == g.name) {
            Some(b) if b == g => {}
            Some(_) => k
                .secret_generator
                .push(GeneratorEntry::new(g, &layout, Some("replace"))),
            None => k
                .secret_generator
                .push(GeneratorEntry::new(g, &layout, Some("create"))),
        }
    }
    for g in base
        .generators
        .iter()
        .filter(|b| !target.generators.iter().any(|g| g.name == b.name))
    {
        let secret = Object {
            id: format!("Secret/{}", g.name),
            api_version: "v1".into(),
            kind: "Secret".into(),
            name: g.name.clone(),
            file: String::new(),
            value: Json::Null,
        };
        let path = format!("patches/delete-secret-{}.yaml", g.name);
        files.push(yaml_file(format!("{folder}/{path}"), &delete(&secret)));
        k.patches.push(PatchRef {
            path,
            target: PatchTarget::of(&secret),
            options: None,
        });
    }
    files.insert(0, k.file(format!("{folder}/kustomization.yaml")));
    files
}
