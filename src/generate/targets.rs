//! The targets of `muster gen`: which renderers make which files, and which folders each
//! target owns (the only places where files it no longer produces are looked for).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::GeneratedFile;
use crate::registry::model::{self, Registry};

/// What `muster gen` can be asked to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Target {
    /// Docker Compose files under compose/
    Compose,
    /// Docker Swarm stack, phase files and deploy script under swarm/
    Swarm,
    /// Kustomize base and overlays, and a deploy script, under kubernetes/
    Kubernetes,
    /// Nomad jobs and infrastructure under nomad/
    Nomad,
    /// .env.example: every variable, documented
    Env,
    /// docs/: SERVICES.md and the dependency graph
    Docs,
    /// docs/graph.mmd, graph.dot and graph.svg only
    Graph,
}

impl Target {
    pub const ALL: [Target; 7] = [
        Target::Compose,
        Target::Swarm,
        Target::Kubernetes,
        Target::Nomad,
        Target::Env,
        Target::Docs,
        Target::Graph,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::Compose => "compose",
            Target::Swarm => "swarm",
            Target::Kubernetes => "kubernetes",
            Target::Nomad => "nomad",
            Target::Env => "env",
            Target::Docs => "docs",
            Target::Graph => "graph",
        }
    }

    /// The engine a target deploys to, for the engine targets.
    pub fn engine(self) -> Option<model::Target> {
        match self {
            Target::Compose => Some(model::Target::Compose),
            Target::Swarm => Some(model::Target::Swarm),
            Target::Kubernetes => Some(model::Target::Kubernetes),
            Target::Nomad => Some(model::Target::Nomad),
            Target::Env | Target::Docs | Target::Graph => None,
        }
    }

    /// Whether a renderer exists for the target yet.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Target::Compose
                | Target::Swarm
                | Target::Kubernetes
                | Target::Nomad
                | Target::Env
                | Target::Docs
                | Target::Graph
        )
    }

    /// Whether the target needs every environment's merged registry, not only one.
    pub fn needs_environments(self) -> bool {
        matches!(
            self,
            Target::Compose | Target::Swarm | Target::Kubernetes | Target::Nomad
        )
    }

    /// Folders (relative to the output folder) that only this target writes into: a file
    /// there with a muster header that the target no longer produces is stale.
    pub fn folders(self) -> Vec<PathBuf> {
        match self {
            Target::Compose => vec!["compose".into()],
            Target::Swarm => vec!["swarm".into()],
            Target::Kubernetes => vec!["kubernetes".into()],
            Target::Nomad => vec!["nomad".into()],
            Target::Docs => vec!["docs".into()],
            // Fixed file names, always produced: nothing of theirs can go stale.
            Target::Env | Target::Graph => Vec::new(),
        }
    }

    /// What `muster gen` writes when no target is named: every supported target, engines
    /// only when the registry is meant for them (`targets:`).
    pub fn defaults(reg: &Registry) -> Vec<Target> {
        let engines = reg.target_engines();
        Target::ALL
            .into_iter()
            .filter(|t| t.is_supported())
            .filter(|t| t.engine().is_none_or(|e| engines.contains(&e)))
            .collect()
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A target was named whose renderer does not exist yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("generating {0} files is not yet supported")]
pub struct Unsupported(pub Target);

/// The registries the renderers read.
pub struct Inputs<'a> {
    /// The registry that docs, the graph and `.env.example` describe: the base, or the
    /// environment chosen with `--env`.
    pub registry: &'a Registry,
    /// The base registry, without any environment (engines that write per-environment files).
    pub base: &'a Registry,
    /// Every environment merged over the base, in declaration order; empty unless a selected
    /// target [needs them](Target::needs_environments).
    pub environments: &'a [(String, Registry)],
    /// Variable values from `.env`, for engines without interpolation of their own, which get
    /// variables resolved at generation time (REGISTRY.md "Interpolation").
    pub variables: &'a BTreeMap<String, String>,
}

/// `reg` as an engine without interpolation sees it: each declared variable that `.env`
/// sets takes that value in place of its default.
fn with_values(reg: &Registry, values: &BTreeMap<String, String>) -> Registry {
    let mut reg = reg.clone();
    for (name, variable) in reg.variables.iter_mut() {
        if let Some(value) = values.get(name) {
            variable.default = Some(value.clone());
        }
    }
    reg
}

/// The files of the selected targets, and the folders they own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSet {
    /// Each path once, in the order the targets produced them.
    pub files: Vec<GeneratedFile>,
    pub folders: Vec<PathBuf>,
}

/// Runs the renderers of `targets`. Fails, before rendering anything, on a target without
/// a renderer.
pub fn render(targets: &[Target], inputs: &Inputs) -> Result<FileSet, Unsupported> {
    if let Some(&t) = targets.iter().find(|t| !t.is_supported()) {
        return Err(Unsupported(t));
    }
    let mut targets = targets.to_vec();
    targets.sort();
    targets.dedup();
    // Docs already holds the graph files: drawing them twice would only cost time.
    if targets.contains(&Target::Docs) {
        targets.retain(|&t| t != Target::Graph);
    }
    // Targets are independent: rendered side by side, gathered in target order.
    let produced: Vec<Vec<GeneratedFile>> = std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|&target| scope.spawn(move || render_one(target, inputs)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a renderer does not panic"))
            .collect()
    });
    let mut files: Vec<GeneratedFile> = Vec::new();
    let mut folders = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (target, produced) in targets.into_iter().zip(produced) {
        for file in produced {
            if seen.insert(file.path.clone()) {
                files.push(file);
            }
        }
        folders.extend(target.folders());
    }
    Ok(FileSet { files, folders })
}

fn render_one(target: Target, inputs: &Inputs) -> Vec<GeneratedFile> {
    match target {
        Target::Env => vec![crate::render::env_example::render(inputs.registry)],
        Target::Docs => crate::render::docs::render(inputs.registry),
        Target::Graph => crate::render::docs::graph_files(inputs.registry),
        Target::Compose => crate::render::compose::render(inputs.base, inputs.environments),
        Target::Kubernetes => {
            let base = with_values(inputs.base, inputs.variables);
            let environments: Vec<(String, Registry)> = inputs
                .environments
                .iter()
                .map(|(name, reg)| (name.clone(), with_values(reg, inputs.variables)))
                .collect();
            crate::render::kubernetes::render(&base, &environments)
        }
        Target::Nomad => crate::render::nomad::render(inputs.base, inputs.environments),
        Target::Swarm => crate::render::swarm::render(inputs.base, inputs.environments),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_registry_targets_and_what_exists() {
        let mut reg = Registry::default();
        let supported: Vec<Target> = Target::ALL
            .into_iter()
            .filter(|t| t.is_supported())
            .collect();
        assert_eq!(Target::defaults(&reg), supported);
        reg.targets = vec![model::Spanned::new(
            model::Target::Nomad,
            crate::source::Span::default(),
        )];
        let defaults = Target::defaults(&reg);
        assert!(!defaults.contains(&Target::Compose));
        assert!(defaults.contains(&Target::Nomad) && defaults.contains(&Target::Docs));
    }

    #[test]
    fn kubernetes_renders_every_environment_into_its_folder() {
        assert!(Target::Kubernetes.is_supported() && Target::Kubernetes.needs_environments());
        let reg = Registry {
            name: model::Spanned::new("shop".into(), crate::source::Span::default()),
            ..Registry::default()
        };
        let environments = vec![("prod".to_string(), reg.clone())];
        let inputs = Inputs {
            registry: &reg,
            base: &reg,
            environments: &environments,
            variables: &BTreeMap::new(),
        };
        let set = render(&[Target::Kubernetes], &inputs).unwrap();
        assert_eq!(set.folders, [PathBuf::from("kubernetes")]);
        let paths: Vec<_> = set.files.iter().map(|f| f.path.clone()).collect();
        assert!(paths.contains(&PathBuf::from("kubernetes/base/kustomization.yaml")));
        assert!(paths.contains(&PathBuf::from(
            "kubernetes/overlays/prod/kustomization.yaml"
        )));
        assert!(paths.contains(&PathBuf::from("kubernetes/deploy.sh")));
    }

    #[test]
    fn unsupported_targets_are_refused_by_name() {
        // Meaningful only while some engine still has no renderer.
        let Some(missing) = Target::ALL.into_iter().find(|t| !t.is_supported()) else {
            return;
        };
        let reg = Registry::default();
        let inputs = Inputs {
            registry: &reg,
            base: &reg,
            environments: &[],
            variables: &BTreeMap::new(),
        };
        let err = render(&[Target::Docs, missing], &inputs).unwrap_err();
        assert_eq!(err, Unsupported(missing));
        assert_eq!(
            err.to_string(),
            format!("generating {missing} files is not yet supported")
        );
    }
}
