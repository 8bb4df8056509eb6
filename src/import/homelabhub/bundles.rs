//! Which Compose files hold a homelabhub catalog's services.
//!
//! The catalog (`orchestration/services.yaml`) does not name its bundle files; they sit next
//! to it as `compose.<bundle>.yml`, and one of them (`compose.all.yml`) includes the others.
//! Compose refuses a service defined twice, so the bundles are the Compose files of the
//! catalog's folder that no other one of them includes.

use std::path::{Path, PathBuf};

use crate::import::relocate::normal;
use crate::registry::yaml::{self, Node};
use crate::source::SourceFile;

/// The bundle files next to the catalog in `dir`, sorted by name.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut candidates: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_compose_file(p))
        .collect();
    candidates.sort();
    let included: Vec<PathBuf> = candidates.iter().flat_map(|p| includes(p)).collect();
    Ok(candidates
        .into_iter()
        .filter(|p| !included.contains(&normal(p)))
        .collect())
}

fn is_compose_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    (name.starts_with("compose") || name.starts_with("docker-compose"))
        && (name.ends_with(".yml") || name.ends_with(".yaml"))
}

/// The files `path` includes, absolute. A file that cannot be read or parsed includes
/// nothing here; the Compose importer reports it.
fn includes(path: &Path) -> Vec<PathBuf> {
    let Ok(file) = SourceFile::read(path) else {
        return Vec::new();
    };
    let Ok(root) = yaml::parse(&file) else {
        return Vec::new();
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let entries = root
        .get("include")
        .and_then(Node::as_seq)
        .unwrap_or_default();
    entries
        .iter()
        .flat_map(|entry| match entry.as_str() {
            Some(one) => vec![one.to_string()],
            None => match entry.get("path") {
                Some(p) => match p.as_seq() {
                    Some(many) => many
                        .iter()
                        .filter_map(|n| n.as_str().map(String::from))
                        .collect(),
                    None => p.as_str().map(String::from).into_iter().collect(),
                },
                None => Vec::new(),
            },
        })
        .map(|p| normal(&dir.join(p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_included_by_another_bundle_are_not_bundles_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "compose.all.yml",
            "include:\n  - compose.a.yml\n  - path: [compose.b.yml]\n",
        );
        write("compose.a.yml", "services: {}\n");
        write("compose.b.yml", "services: {}\n");
        write("services.yaml", "services: {}\n");
        let found = discover(dir.path()).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["compose.all.yml"]);
        std::fs::remove_file(dir.path().join("compose.all.yml")).unwrap();
        assert_eq!(discover(dir.path()).unwrap().len(), 2);
    }
}
