//! Every file `muster gen` writes for every shipped example, as a snapshot: a change to any
//! renderer shows up here as a reviewable diff.

use std::path::Path;
use std::sync::Arc;

use muster::check::check_one;
use muster::generate::GeneratedFile;
use muster::generate::targets::{self, Inputs, Target};
use muster::registry::Registry;
use muster::source::SourceFile;

fn load(example: &str, env: Option<&str>) -> Registry {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(example)
        .join("muster.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let report = check_one(Arc::new(SourceFile::new("muster.yaml", text)), env);
    assert_eq!(report.errors(), 0, "{example} has errors");
    report.loaded.registry.unwrap()
}

/// The files of `wanted` for an example, with every environment of it merged.
fn render(example: &str, wanted: &[Target]) -> Vec<GeneratedFile> {
    let base = load(example, None);
    let environments: Vec<(String, Registry)> = base
        .environments
        .keys()
        .map(|name| (name.clone(), load(example, Some(name))))
        .collect();
    let inputs = Inputs {
        registry: &base,
        base: &base,
        environments: &environments,
        variables: &Default::default(),
    };
    targets::render(wanted, &inputs).unwrap().files
}

#[test]
fn every_generated_file_of_every_example() {
    for example in ["homelab", "selfhosted", "microservices", "nomad"] {
        let all = [
            Target::Compose,
            Target::Swarm,
            Target::Kubernetes,
            Target::Nomad,
            Target::Env,
            Target::Docs,
            Target::Graph,
        ];
        let files = render(example, &all);
        assert!(files.len() >= 6, "{example}: {} files", files.len());
        for file in &files {
            let name = format!("{example}__{}", file.path.display()).replace(['/', '.'], "_");
            insta::with_settings!({
                snapshot_path => "fixtures/generated",
                prepend_module_to_snapshot => false,
                omit_expression => true,
                description => file.path.display().to_string(),
            }, {
                insta::assert_snapshot!(name, &file.body);
            });
        }
    }
}

#[test]
fn generation_is_deterministic() {
    for example in ["homelab", "microservices"] {
        let wanted = [
            Target::Compose,
            Target::Kubernetes,
            Target::Env,
            Target::Docs,
        ];
        assert_eq!(render(example, &wanted), render(example, &wanted));
    }
}
