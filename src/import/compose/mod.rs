//! `muster import compose`: Compose files turned into a registry that regenerates them.
//!
//! [`load`] reads the project as Compose does (`-f` files merged, `include`, `extends`,
//! anchors and merge keys already resolved by the YAML reader), [`service`] and
//! [`resources`] map each part to its registry place, and whatever muster has no place for
//! stays verbatim under `extra.compose` (or an `x-compose` key), so nothing is dropped.
//! `${VAR}` references are kept as they are, and declared under `variables:`. Override files
//! given as environments become overlays ([`environments`]).

mod environments;
mod health;
mod load;
mod merge;
mod normalize;
mod paths;
mod resources;
mod service;
mod value;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value as Yaml};

use super::draft::in_service_order;
use super::{Draft, Finding, Imported};
use crate::diagnostic::{Code, Diagnostic};
use crate::registry::values::{Part, Template, parse_template};
use load::{Loader, Project};
use service::{Mapper, Peers};

/// Imports the Compose files `files` (merged in order) into a registry that will live in the
/// folder `registry_dir`. Only an unreadable file named on the command line is a failure;
/// everything else is a finding.
pub fn import(files: &[PathBuf], registry_dir: &Path) -> Result<Imported, String> {
    let mut loader = Loader::new(registry_dir);
    let project = loader.load(files)?;
    let mut findings = loader.findings;
    let draft = registry(&project, files, &mut findings);
    Ok(Imported { draft, findings })
}

/// [`import`], plus one environment per `(name, override file)`: the project imported with
/// the override file after `files`, written as what it changes.
pub fn import_with_environments(
    files: &[PathBuf],
    environments: &[(String, PathBuf)],
    registry_dir: &Path,
) -> Result<Imported, String> {
    let mut imported = import(files, registry_dir)?;
    for (name, file) in environments {
        let mut all = files.to_vec();
        all.push(file.clone());
        let with = import(&all, registry_dir)?;
        for finding in with.findings {
            let seen = imported
                .findings
                .iter()
                .any(|f| f.file.name == finding.file.name && f.diagnostic == finding.diagnostic);
            if !seen {
                imported.findings.push(finding);
            }
        }
        let overlay = environments::overlay(&imported.draft, &with.draft);
        imported
            .draft
            .set(&["environments", name], Yaml::Mapping(overlay));
        imported.draft.comment(
            &["environments", name],
            format!("what {} changes", file.display()),
        );
    }
    Ok(imported)
}

fn registry(project: &Project, files: &[PathBuf], findings: &mut Vec<Finding>) -> Draft {
    let mut d = Draft::new();
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    d.header(format!(
        "Imported from {} by `muster import compose`.",
        names.join(" + ")
    ));
    d.header("`muster gen compose` writes the same project back to deploy/compose/stack.yml.");
    if let Some(version) = &project.version {
        d.header(format!(
            "The Compose `version: {version}` is left out: Compose ignores it."
        ));
    }
    d.set(&["version"], 1);
    let (name, from_folder) = project_name(project, files);
    d.set(&["name"], name.as_str());
    if from_folder {
        d.comment(
            &["name"],
            "the Compose project name (from the folder): keeps volume and network names",
        );
    }

    d.set(&["targets"], Yaml::Sequence(vec!["compose".into()]));
    d.comment(
        &["targets"],
        "a Compose project; name other engines once every service has an image to pull",
    );

    let peers = peers(project);
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut variables = BTreeSet::new();
    for (name, svc) in &project.services {
        let mapped = Mapper {
            name,
            peers: &peers,
            findings,
            out: Default::default(),
        }
        .map(svc);
        for profile in &mapped.profiles {
            groups
                .entry(profile.clone())
                .or_default()
                .push(name.clone());
        }
        let mut fields = in_service_order(mapped.fields);
        if !mapped.extra.is_empty() {
            let mut extra = Mapping::new();
            extra.insert("compose".into(), Yaml::Mapping(mapped.extra));
            fields.insert("extra".into(), Yaml::Mapping(extra));
        }
        collect_variables(&Yaml::Mapping(fields.clone()), &mut variables);
        d.set(&["services", name], Yaml::Mapping(fields));
        if d.get(&["services", name, "extra"]).is_some() {
            d.comment(
                &["services", name, "extra"],
                "Compose settings muster has no field for, as Compose had them",
            );
        }
        for (path, text) in mapped.comments {
            let mut full = vec!["services", name.as_str()];
            full.extend(path.iter().map(String::as_str));
            d.comment(&full, text);
        }
    }
    for (group, members) in &groups {
        d.set(
            &["groups", group, "description"],
            format!("Compose profile `{group}`: {}", members.join(", ")),
        );
    }
    for (section, entries) in [
        ("networks", &project.networks),
        ("volumes", &project.volumes),
        ("secrets", &project.secrets),
    ] {
        for (name, field) in entries {
            let name = name.as_str();
            let entry = match section {
                "networks" => resources::network(name, field, findings),
                "volumes" => resources::volume(name, field, findings),
                _ => resources::secret(name, field, findings),
            };
            collect_variables(&Yaml::Mapping(entry.value.clone()), &mut variables);
            d.set(&[section, name], Yaml::Mapping(entry.value));
            if let Some(comment) = entry.comment {
                d.comment(&[section, name], comment);
            }
            if section == "secrets" && d.get(&[section, name, "file"]).is_some() {
                d.comment(
                    &[section, name, "file"],
                    "the file Compose read; `muster secrets export compose` delivers it",
                );
            }
        }
    }
    let names_default = project.services.values().any(|s| {
        s.fields
            .get("networks")
            .is_some_and(|n| n.node.get("default").is_some())
    });
    if names_default && !project.networks.contains_key("default") {
        d.set(&["networks", "default"], Yaml::Mapping(Mapping::new()));
        d.comment(
            &["networks", "default"],
            "Compose's own network, which a service names",
        );
    }
    if !project.configs.is_empty() {
        let mut configs = Mapping::new();
        for (name, field) in &project.configs {
            configs.insert(name.as_str().into(), value::to_value(&field.node));
            findings.push(Finding {
                file: field.file.clone(),
                diagnostic: Diagnostic::new(
                    Code::ImportNotMapped,
                    format!("Compose config `{name}` is kept under `x-compose-configs` and left out of generated files"),
                )
                .at(field.key, "not generated")
                .help("muster mounts config files it renders from templates: see `configs` of a service in REGISTRY.md"),
            });
        }
        d.set(&["x-compose-configs"], Yaml::Mapping(configs));
        d.comment(
            &["x-compose-configs"],
            "Compose configs, kept but not generated",
        );
    }
    for (key, field) in &project.extensions {
        d.set(&[key], value::to_value(&field.node));
    }
    for var in variables {
        d.set(&["variables", &var], Yaml::Mapping(Mapping::new()));
    }
    d
}

/// The project name: `name:`, else the folder of the first file, as Compose derives it
/// (lower case, only letters, digits, `-` and `_`). Says whether it came from the folder.
fn project_name(project: &Project, files: &[PathBuf]) -> (String, bool) {
    if let Some(name) = project.name.as_ref().and_then(|n| n.node.as_str()) {
        return (name.to_string(), false);
    }
    let folder = files
        .first()
        .map(|f| load::absolute(&load::parent(f)))
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let name: String = folder
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .skip_while(|c| !c.is_ascii_alphanumeric())
        .collect();
    (
        if name.is_empty() {
            "default".into()
        } else {
            name
        },
        true,
    )
}

/// Which services have a health check, and which some dependency waits to complete.
fn peers(project: &Project) -> Peers {
    let mut peers = Peers {
        healthy: BTreeSet::new(),
        jobs: BTreeSet::new(),
    };
    for (name, svc) in &project.services {
        if let Some(h) = svc.fields.get("healthcheck")
            && health::map(&h.node)
                .health
                .is_some_and(|v| v.get("none").is_none())
        {
            peers.healthy.insert(name.clone());
        }
        for (dep, spec) in svc
            .fields
            .get("depends_on")
            .and_then(|d| d.node.as_map())
            .unwrap_or(&[])
        {
            let completed = spec
                .get("condition")
                .and_then(|c| c.as_str())
                .is_some_and(|c| c == "service_completed_successfully");
            if completed && let Some(dep) = dep.as_str() {
                peers.jobs.insert(dep.to_string());
            }
        }
    }
    peers
}

/// The `${VAR}` names used in the strings of `value`.
fn collect_variables(value: &Yaml, out: &mut BTreeSet<String>) {
    match value {
        Yaml::String(s) if s.contains('$') => {
            if let Ok(t) = parse_template(s) {
                template_variables(&t, out);
            }
        }
        Yaml::Sequence(items) => items.iter().for_each(|i| collect_variables(i, out)),
        Yaml::Mapping(m) => m.values().for_each(|v| collect_variables(v, out)),
        _ => {}
    }
}

fn template_variables(t: &Template, out: &mut BTreeSet<String>) {
    for part in &t.parts {
        if let Part::Var { name, arg, .. } = part {
            out.insert(name.clone());
            if let Some(arg) = arg {
                template_variables(arg, out);
            }
        }
    }
}
