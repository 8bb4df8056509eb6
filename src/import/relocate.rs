//! Relative host paths of an imported file, made relative to the registry being written.
//!
//! A relative path in a foreign registry is relative to that file's folder; in `muster.yaml`
//! it is relative to the registry's folder. When the two differ (`-o elsewhere/muster.yaml`)
//! the path is rewritten so it still names the same folder.

use std::path::{Component, Path, PathBuf};

/// `path` (relative to the folder `from`) relative to the folder `to`. Absolute paths, `~`
/// and paths that start with a `${VAR}` are kept as written.
pub fn moved(path: &str, from: &Path, to: &Path) -> String {
    if !path.starts_with('.') {
        return path.to_string();
    }
    let target = normal(&from.join(path));
    let base = normal(to);
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    let text = out.to_string_lossy().into_owned();
    if text.is_empty() {
        ".".into()
    } else if text.starts_with("..") {
        text
    } else {
        format!("./{text}")
    }
}

/// `path` absolute, with `.` and `..` resolved by name.
pub fn normal(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_follow_the_registry() {
        let from = Path::new("/src/datamancy");
        assert_eq!(moved("./configs/x", from, from), "./configs/x");
        assert_eq!(
            moved("./configs/x", from, Path::new("/out")),
            "../src/datamancy/configs/x"
        );
        assert_eq!(
            moved("../shared", from, Path::new("/src/datamancy/deploy")),
            "../../shared"
        );
        assert_eq!(moved(".", from, from), ".");
    }

    #[test]
    fn absolute_home_and_variable_paths_are_kept() {
        let (a, b) = (Path::new("/a"), Path::new("/b"));
        for p in ["/etc/x", "~/x", "${ROOT}/x", "named_volume"] {
            assert_eq!(moved(p, a, b), p);
        }
    }
}
