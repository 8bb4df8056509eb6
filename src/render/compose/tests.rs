use std::path::Path;
use std::sync::Arc;

use serde_norway::Value;

use super::*;
use crate::check::check_one;
use crate::source::SourceFile;

/// The registry of `source`, checked: a registry with errors is never rendered.
fn checked(source: Arc<SourceFile>, env: Option<&str>) -> Registry {
    let report = check_one(source, env);
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    assert!(errors.is_empty(), "{env:?}: {errors:#?}");
    report.loaded.registry.expect("a registry")
}

/// The base registry of `source` and every environment merged, as `muster gen` passes them.
fn load(source: Arc<SourceFile>) -> (Registry, Vec<(String, Registry)>) {
    let base = checked(source.clone(), None);
    let environments = base
        .environments
        .keys()
        .map(|name| (name.clone(), checked(source.clone(), Some(name))))
        .collect();
    (base, environments)
}

fn from_text(text: &str) -> (Registry, Vec<(String, Registry)>) {
    load(Arc::new(SourceFile::new("muster.yaml", text)))
}

fn example(name: &str) -> (Registry, Vec<(String, Registry)>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name)
        .join("muster.yaml");
    load(SourceFile::read(&path).expect("example exists"))
}

fn render_all(reg: &(Registry, Vec<(String, Registry)>)) -> Vec<GeneratedFile> {
    render(&reg.0, &reg.1)
}

fn body<'a>(files: &'a [GeneratedFile], path: &str) -> &'a str {
    &files
        .iter()
        .find(|f| f.path == Path::new(path))
        .unwrap_or_else(|| panic!("no {path}"))
        .body
}

fn parsed(files: &[GeneratedFile], path: &str) -> Value {
    serde_norway::from_str(body(files, path)).unwrap()
}

/// Every file of a project, one after the other, for one snapshot per example.
fn all_files(files: &[GeneratedFile]) -> String {
    let mut out = String::new();
    for f in files {
        out.push_str(&format!("=== {}\n{}", f.path.display(), f.body));
    }
    out
}

#[test]
fn snapshot_homelab() {
    insta::assert_snapshot!(all_files(&render_all(&example("homelab"))));
}

#[test]
fn snapshot_microservices() {
    insta::assert_snapshot!(all_files(&render_all(&example("microservices"))));
}

#[test]
fn snapshot_nomad() {
    insta::assert_snapshot!(all_files(&render_all(&example("nomad"))));
}

#[test]
fn snapshot_selfhosted() {
    insta::assert_snapshot!(all_files(&render_all(&example("selfhosted"))));
}
