//! `muster gen [TARGET...]`: the registry's generated files, written so that nobody's work is
//! lost: only changed files are written, hand-edited or foreign files need `--force` (and are
//! kept as `.orig`), and files muster no longer generates are removed only if muster wrote
//! them. `--check` writes nothing and fails when anything is not up to date, for CI.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{CmdResult, Exit, Failure, Global, Printer, workspace};
use crate::check;
use crate::generate::targets::{self, Inputs, Target};
use crate::generate::writer::{self, Entry, Plan, State};
use crate::registry::Registry;
use crate::secrets::env_file::{ENV_FILE, EnvFile};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub(super) select: Selection,
    /// Write nothing; exit 1 if a generated file is missing, out of date, edited by hand or
    /// no longer generated
    #[arg(long, conflicts_with = "force")]
    check: bool,
    /// Overwrite (or remove) files edited by hand or not written by muster, keeping each as
    /// <file>.orig
    #[arg(long)]
    force: bool,
}

/// What to generate, and where: shared by `gen` and `diff`.
#[derive(Debug, clap::Args)]
pub(super) struct Selection {
    /// What to generate (default: every target that exists, engines only when the registry's
    /// `targets` names them)
    #[arg(value_enum, value_name = "TARGET")]
    targets: Vec<Target>,
    /// Describe this environment in docs, graph and .env.example (engine files always cover
    /// every environment)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Output folder (default: the registry's `output`, next to the registry)
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: Option<PathBuf>,
}

/// The plan for the selected targets, and how to name its files for people.
pub(super) struct Prepared {
    pub plan: Plan,
    /// The output folder as shown in messages.
    pub shown_root: String,
}

impl Prepared {
    pub fn shown(&self, entry: &Entry) -> String {
        let relative = entry
            .path
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        format!("{}/{relative}", self.shown_root)
    }
}

/// Loads the registries the selected targets need, renders them and compares the result
/// with the output folder.
pub(super) fn prepare(
    global: &Global,
    printer: &Printer,
    select: &Selection,
) -> Result<Prepared, Failure> {
    let source = workspace::read_source(global)?;
    let registry_dir = source.path.parent().unwrap_or(Path::new(""));
    // Renderers write paths relative to the registry's `output`; `-o` moves it for all.
    let output = select
        .output
        .as_deref()
        .map(|dir| output_relative_to(dir, registry_dir));
    let base_report = check::check_one(source.clone(), None);
    let environment_names: Vec<String> = base_report
        .loaded
        .registry
        .iter()
        .flat_map(|r| r.environments.keys().cloned())
        .collect();
    // The chosen environment (`--env`) and, for engines that write per-environment files,
    // every environment: checked side by side from the one parse of the base.
    let mut wanted: Vec<&str> =
        if select.targets.is_empty() || select.targets.iter().any(|t| t.needs_environments()) {
            environment_names.iter().map(String::as_str).collect()
        } else {
            Vec::new()
        };
    if let Some(env) = select.env.as_deref()
        && !wanted.contains(&env)
    {
        wanted.push(env);
    }
    let env_reports: Vec<(&str, check::Report)> = if base_report.errors() > 0 {
        Vec::new()
    } else {
        std::thread::scope(|scope| {
            let base = &base_report.loaded;
            let handles: Vec<_> = wanted
                .iter()
                .map(|&name| scope.spawn(move || (name, check::check_environment(base, name))))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("checking an environment does not panic"))
                .collect()
        })
    };
    let consequence = "; nothing was generated";
    let mut base = workspace::refuse_errors(printer, &source, base_report, None, consequence)?;
    if let Some(output) = &output {
        base.output = output.clone();
    }
    let mut chosen = None;
    let mut environments = Vec::new();
    for (name, report) in env_reports {
        let mut reg = workspace::refuse_errors(printer, &source, report, Some(name), consequence)?;
        // Engine files for every environment land in the base's folder.
        reg.output = base.output.clone();
        if select.env.as_deref() == Some(name) {
            chosen = Some(reg.clone());
        }
        if environment_names.iter().any(|n| n == name) {
            environments.push((name.to_string(), reg));
        }
    }
    let registry = chosen.as_ref().unwrap_or(&base);
    let selected = if select.targets.is_empty() {
        Target::defaults(registry)
    } else {
        select.targets.clone()
    };
    if let Some(t) = selected.iter().find(|t| !t.is_supported()) {
        return Err(unsupported(*t));
    }
    if !selected.iter().any(|t| t.needs_environments()) {
        environments.clear();
    }
    let variables = if selected.contains(&Target::Kubernetes) {
        variable_values(registry_dir, &base, &environments)?
    } else {
        BTreeMap::new()
    };
    let inputs = Inputs {
        registry,
        base: &base,
        environments: &environments,
        variables: &variables,
    };
    let files = targets::render(&selected, &inputs).map_err(|e| unsupported(e.0))?;

    let root = registry_dir.join(&registry.output);
    let shown_root = shown(&root);
    let registry_name = source
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| crate::registry::FILE_NAME.to_string());
    let plan = writer::plan(&root, &files.files, &files.folders, &registry_name)
        .map_err(|e| Failure::could_not(e.to_string()))?;
    Ok(Prepared { plan, shown_root })
}

/// The values of `.env` next to the registry, for engines that get variables resolved at
/// generation time; fails when a required variable has neither a value there nor a default
/// (in the base or any environment).
fn variable_values(
    registry_dir: &Path,
    base: &Registry,
    environments: &[(String, Registry)],
) -> Result<BTreeMap<String, String>, Failure> {
    let env = EnvFile::read(registry_dir).map_err(|e| {
        Failure::could_not(format!(
            "cannot read {}: {e}",
            registry_dir.join(ENV_FILE).display()
        ))
    })?;
    let values: BTreeMap<String, String> = env
        .lines
        .iter()
        .map(|l| (l.key.clone(), l.value.clone()))
        .collect();
    let mut unset: Vec<String> = Vec::new();
    for reg in std::iter::once(base).chain(environments.iter().map(|(_, r)| r)) {
        for (name, v) in &reg.variables {
            if v.required
                && v.default.is_none()
                && !values.contains_key(name)
                && !unset.contains(name)
            {
                unset.push(name.clone());
            }
        }
    }
    if unset.is_empty() {
        return Ok(values);
    }
    Err(Failure {
        exit: Exit::Bad,
        message: Some(format!(
            "Kubernetes manifests have no interpolation, so every required variable is resolved now, and {} {} no value",
            unset.join(", "),
            if unset.len() == 1 { "has" } else { "have" }
        )),
        hint: Some(format!(
            "set {} in {} next to the registry; nothing was generated",
            if unset.len() == 1 { "it" } else { "them" },
            ENV_FILE
        )),
    })
}

fn unsupported(target: Target) -> Failure {
    let available: Vec<&str> = Target::ALL
        .into_iter()
        .filter(|t| t.is_supported())
        .map(Target::as_str)
        .collect();
    Failure::could_not(format!(
        "`muster gen {target}` is not yet supported: its renderer is still being built"
    ))
    .hint(format!("targets available now: {}", available.join(", ")))
}

/// `dir` (given relative to the current folder) as the registry's `output` would name it:
/// relative to the registry folder when inside it, else absolute.
fn output_relative_to(dir: &Path, registry_dir: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let dir = normalize(&cwd.join(dir));
    let registry_dir = normalize(&cwd.join(registry_dir));
    match dir.strip_prefix(&registry_dir) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_string(),
        Ok(rel) => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        Err(_) => dir.display().to_string(),
    }
}

/// `.` and `..` resolved without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// A path for messages: relative to the current folder when it is inside it.
fn shown(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf));
    let path = match relative {
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Some(p) => p,
        None => path.to_path_buf(),
    };
    let text = path.display().to_string();
    text.strip_suffix('/').map(str::to_string).unwrap_or(text)
}

pub fn run(global: &Global, printer: &Printer, args: Args) -> CmdResult {
    let prepared = prepare(global, printer, &args.select)?;
    if args.check {
        return check(printer, &prepared);
    }
    let plan = &prepared.plan;
    let conflicts: Vec<&Entry> = plan.conflicts().collect();
    if !conflicts.is_empty() && !args.force {
        let mut diffs = String::new();
        for entry in &conflicts {
            diffs.push_str(&writer::unified_diff(entry, &prepared.shown(entry)));
        }
        printer.out(&super::diff::colored(printer, &diffs));
        let list: Vec<String> = conflicts
            .iter()
            .map(|e| format!("  {} ({})", prepared.shown(e), why(e.state)))
            .collect();
        return Err(Failure {
            exit: Exit::Bad,
            message: Some(format!(
                "{} changed outside muster (diff above); nothing was written:\n{}",
                if conflicts.len() == 1 {
                    "1 file was".to_string()
                } else {
                    format!("{} files were", conflicts.len())
                },
                list.join("\n")
            )),
            hint: Some(
                "move the change into the registry, or run `muster gen --force` to overwrite; each file is kept as <file>.orig"
                    .into(),
            ),
        });
    }
    let done = writer::apply(plan, args.force).map_err(|e| Failure::could_not(e.to_string()))?;
    let mut lines = String::new();
    let (mut created, mut updated, mut removed) = (0, 0, 0);
    for d in &done {
        let entry = plan
            .entries
            .iter()
            .find(|e| e.path == d.path)
            .expect("done entries come from the plan");
        let verb = match d.state {
            State::Missing => {
                created += 1;
                "created"
            }
            State::Outdated => {
                updated += 1;
                "updated"
            }
            State::Edited | State::Foreign => {
                updated += 1;
                "replaced"
            }
            State::Stale | State::StaleEdited => {
                removed += 1;
                "removed"
            }
            State::UpToDate => continue,
        };
        let mut notes: Vec<String> = Vec::new();
        match d.state {
            State::Stale => notes.push("no longer generated".into()),
            State::Edited | State::Foreign | State::StaleEdited => notes.push(why(d.state).into()),
            _ => {}
        }
        if let Some(kept) = &d.kept {
            let name = kept.file_name().unwrap_or_default().to_string_lossy();
            notes.push(format!("kept as {name}"));
        }
        let note = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        lines.push_str(&format!("{verb:<9} {}{note}\n", prepared.shown(entry)));
    }
    let unchanged = plan
        .entries
        .iter()
        .filter(|e| e.state == State::UpToDate)
        .count();
    if done.is_empty() {
        printer.out(&format!(
            "{} is up to date ({})",
            prepared.shown_root,
            count(unchanged, "file", "files")
        ));
        return Ok(Exit::Ok);
    }
    lines.push_str(&format!(
        "{}: {created} created, {updated} updated, {removed} removed, {unchanged} unchanged",
        prepared.shown_root
    ));
    printer.out(&lines);
    Ok(Exit::Ok)
}

fn check(printer: &Printer, prepared: &Prepared) -> CmdResult {
    let plan = &prepared.plan;
    let total = plan.entries.iter().filter(|e| e.wanted.is_some()).count();
    let bad: Vec<&Entry> = plan.changes().collect();
    if bad.is_empty() {
        printer.out(&format!(
            "{} is up to date ({})",
            prepared.shown_root,
            count(total, "file", "files")
        ));
        return Ok(Exit::Ok);
    }
    let mut lines = String::new();
    for e in &bad {
        let (word, note) = match e.state {
            State::Missing => ("missing", String::new()),
            State::Outdated => ("outdated", String::new()),
            State::Edited => ("edited", format!(" ({})", why(e.state))),
            State::Foreign => ("foreign", format!(" ({})", why(e.state))),
            State::Stale => ("extra", " (no longer generated)".to_string()),
            State::StaleEdited => ("extra", format!(" ({})", why(e.state))),
            State::UpToDate => continue,
        };
        lines.push_str(&format!("{word:<9} {}{note}\n", prepared.shown(e)));
    }
    printer.out(lines.trim_end());
    Err(Failure {
        exit: Exit::Bad,
        message: Some(format!(
            "{} in {} not up to date",
            count(bad.len(), "file is", "files are"),
            prepared.shown_root
        )),
        hint: Some("run `muster gen` to update them; `muster diff` shows the changes".into()),
    })
}

pub(super) fn why(state: State) -> &'static str {
    match state {
        State::Edited => "edited by hand",
        State::Foreign => "not written by muster",
        State::StaleEdited => "no longer generated, and edited by hand",
        _ => "",
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_folder_is_named_from_the_registry_folder() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(output_relative_to(Path::new("out"), Path::new("")), "out");
        assert_eq!(output_relative_to(Path::new("."), Path::new("")), ".");
        assert_eq!(
            output_relative_to(Path::new("stack/deploy/../gen"), Path::new("stack")),
            "gen"
        );
        assert_eq!(
            output_relative_to(Path::new("elsewhere"), Path::new("stack")),
            cwd.join("elsewhere").display().to_string()
        );
    }
}
