//! Reading a Compose project the way Compose does: every `-f` file merged in order, `include`
//! followed (paths relative to the including file, the included file's folder its project
//! folder), `extends` resolved, so later stages see one project.
//!
//! Every value keeps the file it came from and the folder its relative paths are relative
//! to: after `include` and `extends`, one service may hold fields of several files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;

use super::merge;
use super::normalize;
use super::paths;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::import::Finding;
use crate::registry::yaml::{Node, Value};
use crate::source::{SourceFile, Span};

/// A value of a Compose file, with where it came from.
#[derive(Debug, Clone)]
pub struct Located {
    pub file: Arc<SourceFile>,
    /// The span of the key that holds the value.
    pub key: Span,
    pub node: Node,
    /// The value merges several files: spans inside `node` may point into another file, so
    /// findings point at `key`.
    pub merged: bool,
}

impl Located {
    /// Where a finding about the part of the value at `inner` points: there when the value
    /// comes from one file, else at its key.
    pub fn span(&self, inner: Span) -> Span {
        if self.merged { self.key } else { inner }
    }
}

/// One service: its fields, each from the file that set it last.
#[derive(Debug, Clone)]
pub struct Service {
    pub file: Arc<SourceFile>,
    pub name_span: Span,
    pub fields: IndexMap<String, Located>,
}

/// The whole project, merged.
#[derive(Debug, Default)]
pub struct Project {
    pub name: Option<Located>,
    pub services: IndexMap<String, Service>,
    pub networks: IndexMap<String, Located>,
    pub volumes: IndexMap<String, Located>,
    pub secrets: IndexMap<String, Located>,
    pub configs: IndexMap<String, Located>,
    /// Top-level `x-` keys.
    pub extensions: IndexMap<String, Located>,
    /// The obsolete `version:` of the files, as written (the last one).
    pub version: Option<String>,
}

/// The top-level keys of a Compose file.
const TOP: &[&str] = &[
    "version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models",
];

/// Keys of a top-level network, volume, secret or config entry, by section.
pub const NETWORK: &[&str] = &[
    "driver",
    "driver_opts",
    "attachable",
    "enable_ipv6",
    "enable_ipv4",
    "ipam",
    "internal",
    "labels",
    "name",
    "external",
];
pub const VOLUME: &[&str] = &["driver", "driver_opts", "external", "labels", "name"];
pub const SECRET: &[&str] = &[
    "file",
    "environment",
    "content",
    "external",
    "name",
    "driver",
    "driver_opts",
    "template_driver",
    "labels",
];

pub struct Loader {
    pub findings: Vec<Finding>,
    /// The folder of the registry being written: relative paths are moved there.
    registry_dir: PathBuf,
    files: HashMap<PathBuf, Arc<SourceFile>>,
    trees: HashMap<PathBuf, Option<Node>>,
    /// Files being included, to report cycles.
    including: Vec<PathBuf>,
    /// Services whose `extends` is being resolved, to report cycles.
    extending: Vec<(PathBuf, String)>,
}

impl Loader {
    pub fn new(registry_dir: &Path) -> Loader {
        Loader {
            findings: Vec::new(),
            registry_dir: registry_dir.to_path_buf(),
            files: HashMap::new(),
            trees: HashMap::new(),
            including: Vec::new(),
            extending: Vec::new(),
        }
    }

    fn report(&mut self, file: &Arc<SourceFile>, diagnostic: Diagnostic) {
        self.findings.push(Finding {
            file: file.clone(),
            diagnostic,
        });
    }

    /// Reads and parses `path` once; a syntax error is a finding and gives `None`.
    fn read(&mut self, path: &Path) -> std::io::Result<(Arc<SourceFile>, Option<Node>)> {
        let key = absolute(path);
        if let Some(file) = self.files.get(&key) {
            return Ok((file.clone(), self.trees.get(&key).cloned().flatten()));
        }
        let file = SourceFile::read(path)?;
        let tree = match crate::registry::parse(&file) {
            Ok(node) => Some(node),
            Err(diagnostics) => {
                for d in diagnostics {
                    self.report(&file, d);
                }
                None
            }
        };
        self.files.insert(key.clone(), file.clone());
        self.trees.insert(key, tree.clone());
        Ok((file, tree))
    }

    /// Loads the `-f` files in order, merged into one project.
    pub fn load(&mut self, paths: &[PathBuf]) -> Result<Project, String> {
        let mut project = Project::default();
        // Relative paths of every `-f` file are relative to the first file's folder, the
        // project folder (those of included and extended files to their own).
        let dir = paths.first().map(|p| parent(p)).unwrap_or_default();
        for path in paths {
            let (file, tree) = self
                .read(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if let Some(tree) = tree {
                let part = self.document(&file, &tree, &dir);
                self.merge_project(&mut project, part, false);
            }
        }
        self.resolve_extends(&mut project);
        Ok(project)
    }

    /// One file's project: its includes, then its own definitions (extends not yet resolved).
    fn document(&mut self, file: &Arc<SourceFile>, root: &Node, dir: &Path) -> Project {
        let mut project = Project::default();
        let Some(entries) = root.as_map() else {
            if !root.is_null() {
                self.report(
                    file,
                    Diagnostic::new(Code::WrongType, "a Compose file is a mapping")
                        .at(root.span, format!("found {}", root.value.kind())),
                );
            }
            return project;
        };
        if let Some(include) = root.get("include") {
            self.includes(&mut project, file, include, dir);
        }
        let at = |key: &Node, node: &Node| Located {
            file: file.clone(),
            key: key.span,
            node: node.clone(),
            merged: false,
        };
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            match name {
                "name" => project.name = Some(at(key, value)),
                "services" => {
                    for (svc, body) in self.entries(file, value, "`services`") {
                        let service = self.service(file, dir, svc, body);
                        let name = svc.as_str().unwrap_or_default().to_string();
                        match project.services.get_mut(&name) {
                            Some(existing) => merge::service(existing, service),
                            None => {
                                project.services.insert(name, service);
                            }
                        }
                    }
                }
                "networks" | "volumes" | "secrets" | "configs" => {
                    let keys = match name {
                        "networks" => NETWORK,
                        "volumes" => VOLUME,
                        _ => SECRET,
                    };
                    for (entry, body) in self.entries(file, value, &format!("`{name}`")) {
                        self.check_keys(
                            file,
                            body,
                            keys,
                            &format!("a Compose {}", &name[..name.len() - 1]),
                        );
                        let map = match name {
                            "networks" => &mut project.networks,
                            "volumes" => &mut project.volumes,
                            "secrets" => &mut project.secrets,
                            _ => &mut project.configs,
                        };
                        let mut located = at(entry, body);
                        if matches!(name, "secrets" | "configs") {
                            located.node = paths::resource(body, dir, &self.registry_dir);
                        }
                        merge::resource(map, entry.as_str().unwrap_or_default(), located);
                    }
                }
                "version" => project.version = super::value::scalar_text(value),
                "include" => {}
                x if x.starts_with("x-") => {
                    project.extensions.insert(x.to_string(), at(key, value));
                }
                other => {
                    let mut d = Diagnostic::new(
                        Code::ImportUnknownKey,
                        format!("`{other}` is not a top-level key of a Compose file"),
                    )
                    .at(key.span, "not Compose; left out");
                    if let Some(s) = did_you_mean(other, TOP.iter().copied()) {
                        d = d.help(format!("did you mean `{s}`?"));
                    }
                    self.report(file, d);
                }
            }
        }
        project
    }

    /// The entries of a mapping section, with string keys; anything else is reported.
    fn entries<'n>(
        &mut self,
        file: &Arc<SourceFile>,
        node: &'n Node,
        what: &str,
    ) -> Vec<(&'n Node, &'n Node)> {
        if node.is_null() {
            return Vec::new();
        }
        let Some(entries) = node.as_map() else {
            self.report(
                file,
                Diagnostic::new(Code::WrongType, format!("{what} is a mapping"))
                    .at(node.span, format!("found {}", node.value.kind())),
            );
            return Vec::new();
        };
        entries
            .iter()
            .filter(|(k, _)| k.as_str().is_some())
            .map(|(k, v)| (k, v))
            .collect()
    }

    /// Warns about keys Compose does not know in a network, volume, secret or config, where
    /// keys of a service often land when indentation slips.
    fn check_keys(&mut self, file: &Arc<SourceFile>, node: &Node, known: &[&str], what: &str) {
        for (key, _) in node.as_map().unwrap_or(&[]) {
            let Some(k) = key.as_str() else { continue };
            if known.contains(&k) || k.starts_with("x-") {
                continue;
            }
            let mut d = Diagnostic::new(
                Code::ImportUnknownKey,
                format!("`{k}` is not a key of {what}"),
            )
            .at(
                key.span,
                "not Compose; kept under `x-compose`, not generated",
            );
            d = if normalize::SERVICE_KEYS.contains(&k) {
                d.help(format!(
                    "`{k}` is a key of a service: its indentation puts it under {what}"
                ))
            } else if let Some(s) = did_you_mean(k, known.iter().copied()) {
                d.help(format!("did you mean `{s}`?"))
            } else {
                d
            };
            self.report(file, d);
        }
    }

    fn service(&mut self, file: &Arc<SourceFile>, dir: &Path, name: &Node, body: &Node) -> Service {
        let mut fields = IndexMap::new();
        match body.as_map() {
            Some(entries) => {
                for (key, value) in entries {
                    let Some(k) = key.as_str() else { continue };
                    if !normalize::SERVICE_KEYS.contains(&k) && !k.starts_with("x-") {
                        let mut d = Diagnostic::new(
                            Code::ImportUnknownKey,
                            format!("`{k}` is not a key of a Compose service"),
                        )
                        .at(key.span, "kept under `extra.compose`");
                        if let Some(s) = did_you_mean(k, normalize::SERVICE_KEYS.iter().copied()) {
                            d = d.help(format!("did you mean `{s}`?"));
                        }
                        self.report(file, d);
                    }
                    fields.insert(
                        k.to_string(),
                        Located {
                            file: file.clone(),
                            key: key.span,
                            node: paths::service_field(
                                k,
                                &normalize::field(k, value),
                                dir,
                                &self.registry_dir,
                            ),
                            merged: false,
                        },
                    );
                }
            }
            None if body.is_null() => {}
            None => self.report(
                file,
                Diagnostic::new(Code::WrongType, "a service is a mapping")
                    .at(body.span, format!("found {}", body.value.kind())),
            ),
        }
        Service {
            file: file.clone(),
            name_span: name.span,
            fields,
        }
    }

    /// `include`: each entry's files merged as `-f` files, then added to the project;
    /// what the including file defines itself comes after.
    fn includes(&mut self, project: &mut Project, file: &Arc<SourceFile>, node: &Node, dir: &Path) {
        let items: Vec<&Node> = match &node.value {
            Value::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        for item in items {
            let (paths, project_dir) = match &item.value {
                Value::Str(p, _) => (vec![(p.clone(), item.span)], None),
                Value::Map(_) => {
                    let paths = match item.get("path").map(|p| &p.value) {
                        Some(Value::Str(p, _)) => vec![(p.clone(), item.span)],
                        Some(Value::Seq(ps)) => ps
                            .iter()
                            .filter_map(|p| p.as_str().map(|s| (s.to_string(), p.span)))
                            .collect(),
                        _ => Vec::new(),
                    };
                    if let Some((k, _)) = item
                        .as_map()
                        .unwrap_or(&[])
                        .iter()
                        .find(|(k, _)| k.as_str() == Some("env_file"))
                    {
                        self.report(
                            file,
                            Diagnostic::new(
                                Code::ImportNotMapped,
                                "`env_file` of an `include` is not imported",
                            )
                            .at(k.span, "left out")
                            .help("muster reads variables from `.env` next to muster.yaml: move them there"),
                        );
                    }
                    let project_dir = item
                        .get("project_directory")
                        .and_then(Node::as_str)
                        .map(|d| join(dir, d));
                    (paths, project_dir)
                }
                _ => {
                    self.report(
                        file,
                        Diagnostic::new(
                            Code::WrongType,
                            "an `include` entry is a path or a mapping with `path`",
                        )
                        .at(item.span, format!("found {}", item.value.kind())),
                    );
                    continue;
                }
            };
            let mut included = Project::default();
            for (path, span) in paths {
                let full = join(dir, &path);
                let key = absolute(&full);
                if self.including.contains(&key) {
                    self.report(
                        file,
                        Diagnostic::new(Code::ImportCycle, format!("`{path}` includes itself"))
                            .at(span, "include cycle"),
                    );
                    continue;
                }
                let (inc_file, tree) = match self.read(&full) {
                    Ok(read) => read,
                    Err(e) => {
                        self.report(
                            file,
                            Diagnostic::new(
                                Code::ImportMissingFile,
                                format!("cannot read `{path}`: {e}"),
                            )
                            .at(span, "included here"),
                        );
                        continue;
                    }
                };
                let Some(tree) = tree else { continue };
                self.including.push(key);
                let inc_dir = project_dir.clone().unwrap_or_else(|| parent(&full));
                let part = self.document(&inc_file, &tree, &inc_dir);
                self.including.pop();
                self.merge_project(&mut included, part, false);
            }
            self.merge_project(project, included, true);
        }
    }

    /// Adds `part` to `project`: as a later `-f` file (merged), or as an include (a service
    /// both define is an error, as in Compose).
    fn merge_project(&mut self, project: &mut Project, part: Project, include: bool) {
        // A later `-f` file renames the project; an included file only names one that has
        // no name yet.
        if (part.name.is_some() && !include) || project.name.is_none() {
            project.name = part.name;
        }
        if part.version.is_some() {
            project.version = part.version;
        }
        for (name, service) in part.services {
            match project.services.get_mut(&name) {
                Some(_) if include => {
                    let file = service.file.clone();
                    self.report(
                        &file,
                        Diagnostic::new(
                            Code::ImportConflict,
                            format!(
                                "service `{name}` is defined by an included file and again here"
                            ),
                        )
                        .at(service.name_span, "defined twice")
                        .help(
                            "Compose refuses a service that an included file defines too; keep one",
                        ),
                    );
                }
                Some(existing) => merge::service(existing, service),
                None => {
                    project.services.insert(name, service);
                }
            }
        }
        for (map, from) in [
            (&mut project.networks, part.networks),
            (&mut project.volumes, part.volumes),
            (&mut project.secrets, part.secrets),
            (&mut project.configs, part.configs),
            (&mut project.extensions, part.extensions),
        ] {
            for (k, v) in from {
                merge::resource(map, &k, v);
            }
        }
    }

    /// Replaces every service that `extends` another by the merge of the two.
    fn resolve_extends(&mut self, project: &mut Project) {
        let names: Vec<String> = project.services.keys().cloned().collect();
        for name in names {
            let service = project.services[&name].clone();
            let resolved = self.extended(&service, &name, &project.services);
            project.services.insert(name, resolved);
        }
    }

    /// `service` with what it extends merged under it, recursively.
    fn extended(
        &mut self,
        service: &Service,
        name: &str,
        siblings: &IndexMap<String, Service>,
    ) -> Service {
        let mut service = service.clone();
        let Some(ext) = service.fields.shift_remove("extends") else {
            return service;
        };
        let (base_name, file_ref) = match &ext.node.value {
            Value::Str(s, _) => (s.clone(), None),
            Value::Map(_) => (
                ext.node
                    .get("service")
                    .and_then(Node::as_str)
                    .unwrap_or_default()
                    .to_string(),
                ext.node
                    .get("file")
                    .and_then(Node::as_str)
                    .map(str::to_string),
            ),
            _ => (String::new(), None),
        };
        if base_name.is_empty() {
            self.report(
                &ext.file,
                Diagnostic::new(
                    Code::WrongType,
                    "`extends` names a service: `extends: NAME` or `{ service: NAME, file: PATH }`",
                )
                .at(ext.node.span, "extends what?"),
            );
            return service;
        }
        let (base, base_siblings) = match &file_ref {
            None => match siblings.get(&base_name) {
                Some(base) => (base.clone(), siblings.clone()),
                None => {
                    self.unknown_base(&ext, &base_name, siblings.keys());
                    return service;
                }
            },
            Some(path) => {
                // Relative to the file that says `extends`, whichever `-f` file it is.
                let full = join(&parent(&ext.file.path), path);
                let (file, tree) = match self.read(&full) {
                    Ok(read) => read,
                    Err(e) => {
                        self.report(
                            &ext.file,
                            Diagnostic::new(
                                Code::ImportMissingFile,
                                format!("cannot read `{path}`: {e}"),
                            )
                            .at(ext.node.span, "extended here"),
                        );
                        return service;
                    }
                };
                let Some(tree) = tree else { return service };
                let part = self.document(&file, &tree, &parent(&full));
                match part.services.get(&base_name) {
                    Some(base) => (base.clone(), part.services.clone()),
                    None => {
                        self.unknown_base(&ext, &base_name, part.services.keys());
                        return service;
                    }
                }
            }
        };
        let key = (absolute(&base.file.path), base_name.clone());
        if self.extending.contains(&key) || (file_ref.is_none() && base_name == name) {
            self.report(
                &ext.file,
                Diagnostic::new(
                    Code::ImportCycle,
                    format!("`{name}` extends itself through `{base_name}`"),
                )
                .at(ext.node.span, "extends cycle"),
            );
            return service;
        }
        self.extending.push(key);
        let mut merged = self.extended(&base, &base_name, &base_siblings);
        self.extending.pop();
        merged.file = service.file.clone();
        merged.name_span = service.name_span;
        merge::service(&mut merged, service);
        merged
    }

    fn unknown_base<'a>(
        &mut self,
        ext: &Located,
        base: &str,
        names: impl Iterator<Item = &'a String>,
    ) {
        let names: Vec<&str> = names.map(String::as_str).collect();
        let mut d = Diagnostic::new(
            Code::ImportUnknownService,
            format!("`extends` names `{base}`, which is not a service there"),
        )
        .at(ext.node.span, "unknown service");
        if let Some(s) = did_you_mean(base, names) {
            d = d.help(format!("did you mean `{s}`?"));
        }
        self.report(&ext.file, d);
    }
}

/// `path` in `dir`, without the `.` parts a relative path may start with.
fn join(dir: &Path, path: &str) -> PathBuf {
    let mut out = dir.to_path_buf();
    for part in Path::new(path).components() {
        if part != std::path::Component::CurDir {
            out.push(part);
        }
    }
    out
}

/// The folder of `path` (`.` for a bare file name).
pub fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `path` made absolute against the current folder, `.` and `..` resolved by name.
pub fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
