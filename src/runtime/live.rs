//! `check --live`: what only the images can tell. An `http` or `tcp` check runs on Compose
//! as a command inside the container that tries wget, curl, nc and bash's /dev/tcp in turn
//! (REGISTRY.md, Health); an image with none of them can never pass it.

use std::collections::BTreeMap;

use super::docker::{DockerError, Engine};
use crate::registry::model::{HealthCheck, Registry};

/// The tools a Compose `http`/`tcp` health check may use, in the order it tries them.
pub const TOOLS: [&str; 4] = ["wget", "curl", "nc", "bash"];

const SCRIPT: &str =
    "for t in wget curl nc bash; do command -v \"$t\" >/dev/null 2>&1 && echo \"$t\"; done; exit 0";

/// What probing one image found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageTools {
    /// The tools found (possibly none).
    Found(Vec<String>),
    /// The image has no `/bin/sh` to ask with (then it has none of the tools either, as
    /// the check command itself runs under a shell).
    NoShell,
    /// Not on this Docker (not pulled or built yet).
    Missing,
    Error(String),
}

/// The images whose services have an `http` or `tcp` check, with those services.
pub fn images_to_probe(reg: &Registry) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in reg.enabled_services() {
        let probed = matches!(
            s.health.check.as_ref().map(|c| &c.value),
            Some(HealthCheck::Http(_) | HealthCheck::Tcp { .. })
        );
        if let (true, Some(image)) = (probed, &s.image_text) {
            out.entry(image.clone())
                .or_default()
                .push(s.name.value.clone());
        }
    }
    out
}

/// Asks each image which tools it has, all at once.
pub async fn probe_images<E: Engine>(
    engine: &E,
    images: impl Iterator<Item = &String>,
) -> Vec<(String, ImageTools)> {
    let images: Vec<&String> = images.collect();
    let results =
        futures_util::future::join_all(images.iter().map(|i| engine.run_oneoff(i, SCRIPT))).await;
    images
        .into_iter()
        .zip(results)
        .map(|(image, r)| {
            let found = match r {
                Ok((0, out)) => ImageTools::Found(
                    out.lines()
                        .map(str::trim)
                        .filter(|l| TOOLS.contains(l))
                        .map(String::from)
                        .collect(),
                ),
                Ok((code, out)) => ImageTools::Error(format!("exit {code}: {}", out.trim())),
                Err(DockerError::Api(m)) if m.contains("No such image") => ImageTools::Missing,
                Err(DockerError::Api(m))
                    if m.contains("/bin/sh") || m.contains("executable file not found") =>
                {
                    ImageTools::NoShell
                }
                Err(e) => ImageTools::Error(e.to_string()),
            };
            (image.clone(), found)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::runtime::docker::fake::FakeEngine;

    #[tokio::test]
    async fn only_images_of_probed_services_are_asked() {
        let text = "version: 1\nname: t\nservices:\n  web: { image: 'web:1', health: { http: { port: 80 } } }\n  db: { image: 'bare:1', health: { tcp: { port: 5432 } } }\n  job: { image: 'j:1', job: true }\n";
        let loaded = crate::registry::load(
            Arc::new(crate::source::SourceFile::new("muster.yaml", text)),
            None,
        );
        let reg = loaded.registry.unwrap();
        let images = images_to_probe(&reg);
        assert_eq!(images.keys().collect::<Vec<_>>(), ["bare:1", "web:1"]);
        let found = probe_images(&FakeEngine::new(), images.keys()).await;
        assert_eq!(found[0].1, ImageTools::Found(vec![]));
        assert_eq!(
            found[1].1,
            ImageTools::Found(vec!["wget".into(), "nc".into()])
        );
    }
}
