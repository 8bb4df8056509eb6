//! Relative paths moved from the folder of the Compose file that wrote them to the folder of
//! `muster.yaml`, which registry paths are relative to. This happens as each file is read,
//! before files are merged, because after `include` and `extends` one service may hold paths
//! of several folders.

use std::path::{Component, Path, PathBuf};

use super::load::absolute;
use crate::registry::yaml::{Node, Value};

/// Rewrites the paths of service field `key` (read in `dir`) for the registry folder `to`.
pub fn service_field(key: &str, node: &Node, dir: &Path, to: &Path) -> Node {
    let mut node = node.clone();
    match key {
        "build" => {
            if let Value::Map(entries) = &mut node.value {
                // Compose builds in the file's folder when no context is given.
                if !entries.iter().any(|(k, _)| k.as_str() == Some("context")) {
                    let at = node.span;
                    entries.insert(
                        0,
                        (
                            Node::new(Value::Str("context".into(), false), at),
                            Node::new(Value::Str(".".into(), false), at),
                        ),
                    );
                }
                for (k, v) in entries.iter_mut() {
                    if k.as_str() == Some("context") {
                        rewrite(v, dir, to, false);
                    }
                }
            }
        }
        "env_file" | "label_file" => each(&mut node, |item| match &mut item.value {
            Value::Map(entries) => {
                for (k, v) in entries.iter_mut() {
                    if k.as_str() == Some("path") {
                        rewrite(v, dir, to, false);
                    }
                }
            }
            _ => rewrite(item, dir, to, false),
        }),
        "volumes" => each(&mut node, |item| match &mut item.value {
            Value::Str(s, _) => {
                if let Some((source, rest)) = s.split_once(':')
                    && source.starts_with('.')
                {
                    *s = format!("{}:{rest}", moved(source, dir, to, true));
                }
            }
            Value::Map(entries) => {
                let bind = entries
                    .iter()
                    .any(|(k, v)| k.as_str() == Some("type") && v.as_str() == Some("bind"));
                for (k, v) in entries.iter_mut() {
                    if bind && k.as_str() == Some("source") {
                        rewrite(v, dir, to, true);
                    }
                }
            }
            _ => {}
        }),
        _ => {}
    }
    node
}

/// Rewrites `file:` of a top-level secret or config read in `dir`.
pub fn resource(node: &Node, dir: &Path, to: &Path) -> Node {
    let mut node = node.clone();
    if let Value::Map(entries) = &mut node.value {
        for (k, v) in entries.iter_mut() {
            if k.as_str() == Some("file") {
                rewrite(v, dir, to, true);
            }
        }
    }
    node
}

fn each(node: &mut Node, mut f: impl FnMut(&mut Node)) {
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(f),
        _ => f(node),
    }
}

fn rewrite(node: &mut Node, dir: &Path, to: &Path, dotted: bool) {
    if let Value::Str(s, _) = &mut node.value {
        *s = moved(s, dir, to, dotted);
    }
}

/// `path` (relative to `dir`) relative to `to`. Absolute paths, `~`, `${VAR}` and URLs are
/// kept. `dotted` keeps a leading `./`, which tells a bind mount from a volume name.
pub fn moved(path: &str, dir: &Path, to: &Path, dotted: bool) -> String {
    let kept = path.starts_with('/')
        || path.starts_with('~')
        || path.starts_with('$')
        || path.contains("://")
        || path.starts_with("git@")
        || path.is_empty();
    if kept {
        return path.to_string();
    }
    let from = absolute(&dir.join(path));
    let to = absolute(to);
    let rel = relative(&from, &to);
    let text = rel.to_string_lossy().into_owned();
    match text.as_str() {
        "" => ".".to_string(),
        t if t.starts_with("..") => t.to_string(),
        t if dotted || path.starts_with("./") => format!("./{t}"),
        t => t.to_string(),
    }
}

/// `path` relative to the folder `base` (both absolute, already normalised).
fn relative(path: &Path, base: &Path) -> PathBuf {
    let p: Vec<Component> = path.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_move_to_the_registry_folder() {
        let reg = Path::new("/p");
        assert_eq!(moved("./app", Path::new("/p"), reg, false), "./app");
        assert_eq!(moved("app", Path::new("/p"), reg, false), "app");
        assert_eq!(moved("app", Path::new("/p"), reg, true), "./app");
        assert_eq!(moved(".", Path::new("/p"), reg, false), ".");
        assert_eq!(moved("../../api", Path::new("/p/a/b"), reg, false), "api");
        assert_eq!(moved("./x", Path::new("/p/a"), reg, true), "./a/x");
        assert_eq!(moved("../x", Path::new("/p"), reg, true), "../x");
        assert_eq!(moved("/abs", Path::new("/p/a"), reg, true), "/abs");
        assert_eq!(moved("${D}/x", Path::new("/p/a"), reg, true), "${D}/x");
    }
}
