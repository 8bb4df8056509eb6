//! `muster import`: turn an existing setup into a `muster.yaml`.
//!
//! Each source is one subcommand; they share the output options and the way findings are
//! shown: rendered like `muster check` does, errors mean nothing is written (exit 1), and an
//! existing output file is replaced only with `--force`.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::{CmdResult, Exit, Failure, Global, Printer};
use crate::import::{Finding, Imported};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One or several Compose files, merged as `docker compose -f A -f B` merges them
    Compose {
        /// The Compose files, in the order `-f` would take them
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// An override file that makes an environment: `production=compose.prod.yml`
        #[arg(long = "env", value_name = "NAME=FILE", value_parser = environment)]
        environments: Vec<(String, PathBuf)>,
        #[command(flatten)]
        output: Output,
    },
    /// A Datamancy `services.registry.yaml`
    Datamancy {
        /// The Datamancy registry
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        output: Output,
    },
    /// A HomeLabHub service catalog (`orchestration/services.yaml`) with its Compose bundles
    Homelabhub {
        /// The service catalog
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The bundle Compose files (default: the compose*.yml next to the catalog that no
        /// other one includes)
        #[arg(long = "compose", value_name = "FILE")]
        compose: Vec<PathBuf>,
        #[command(flatten)]
        output: Output,
    },
    /// A hatmax project's `hatmax.yml`
    Hatmax {
        /// The hatmax project file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        output: Output,
    },
}

/// Where the imported registry goes.
#[derive(Debug, clap::Args)]
pub struct Output {
    /// The registry file to write
    #[arg(short, long, value_name = "PATH", default_value = crate::registry::FILE_NAME)]
    output: PathBuf,
    /// Replace the output file if it exists
    #[arg(long)]
    force: bool,
}

pub fn run(global: &Global, printer: &Printer, command: Command) -> CmdResult {
    match command {
        Command::Compose {
            files,
            environments,
            output,
        } => {
            if let Some(file) = &global.file {
                // `docker compose -f` habits: muster's `-f` names the registry it reads.
                return Err(Failure::could_not(format!(
                    "`-f {}` names the registry muster reads; `import` writes one (`-o`)",
                    file.display()
                ))
                .hint("give the Compose files as arguments, in `-f` order: `muster import compose compose.yml compose.override.yml`"));
            }
            refuse_existing(&output)?;
            let dir = registry_dir(&output.output)?;
            let imported =
                crate::import::compose::import_with_environments(&files, &environments, &dir)
                    .map_err(Failure::could_not)?;
            finish(printer, &output, imported, &describe(&files))
        }
        Command::Datamancy { file, output } => {
            refuse_existing(&output)?;
            let dir = registry_dir(&output.output)?;
            let imported = crate::import::datamancy::import(read(&file)?, &dir);
            finish(printer, &output, imported, &file.display().to_string())
        }
        Command::Homelabhub {
            file,
            compose,
            output,
        } => {
            refuse_existing(&output)?;
            let dir = registry_dir(&output.output)?;
            let imported = crate::import::homelabhub::import(read(&file)?, &compose, &dir)
                .map_err(Failure::could_not)?;
            finish(printer, &output, imported, &file.display().to_string())
        }
        Command::Hatmax { file, output } => {
            refuse_existing(&output)?;
            let dir = registry_dir(&output.output)?;
            let imported = crate::import::hatmax::import(read(&file)?, &dir);
            finish(printer, &output, imported, &file.display().to_string())
        }
    }
}

/// The folder the registry will be written in, absolute (registry paths are relative to it).
fn registry_dir(output: &Path) -> Result<PathBuf, Failure> {
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::could_not(format!("cannot read the current folder: {e}")))?;
    Ok(match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => cwd.join(p),
        _ => cwd,
    })
}

/// `NAME=FILE` of `--env`.
fn environment(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, file)) if !name.is_empty() && !file.is_empty() => {
            Ok((name.to_string(), PathBuf::from(file)))
        }
        _ => Err("expected NAME=FILE, e.g. production=compose.prod.yml".into()),
    }
}

/// The sources named in messages: `a.yml` or `a.yml + b.yml`.
fn describe(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(" + ")
}

fn refuse_existing(output: &Output) -> Result<(), Failure> {
    if output.output.exists() && !output.force {
        return Err(
            Failure::could_not(format!("{} already exists", output.output.display()))
                .hint("pass --force to replace it, or -o to write another file"),
        );
    }
    Ok(())
}

/// Shows the findings, then writes the registry unless there was an error.
fn finish(printer: &Printer, output: &Output, imported: Imported, source: &str) -> CmdResult {
    show_findings(printer, &imported.findings);
    let errors = imported
        .findings
        .iter()
        .filter(|f| f.diagnostic.is_error())
        .count();
    let warnings = imported.findings.len() - errors;
    if errors > 0 {
        return Err(Failure {
            exit: Exit::Bad,
            message: Some(format!(
                "{source} has {errors} error{}; nothing was written",
                plural(errors)
            )),
            hint: Some("fix the source, then import again".into()),
        });
    }
    write(&output.output, &imported.draft.to_yaml())?;
    let services = imported
        .draft
        .get(&["services"])
        .and_then(|s| s.as_mapping())
        .map_or(0, |m| m.len());
    printer.out(&format!(
        "wrote {} from {source} ({services} service{}, {warnings} warning{})",
        output.output.display(),
        plural(services),
        plural(warnings)
    ));
    printer.note("next: `muster check`, then `muster gen` and compare with the source");
    Ok(Exit::Ok)
}

/// Renders the findings on stderr, one run per file they point into.
fn show_findings(printer: &Printer, findings: &[Finding]) {
    for run in findings.chunk_by(|a, b| std::sync::Arc::ptr_eq(&a.file, &b.file)) {
        let diagnostics: Vec<_> = run.iter().map(|f| f.diagnostic.clone()).collect();
        printer.diagnostics(&diagnostics, &run[0].file, false);
    }
}

/// A source file the importers of other systems' registries read.
fn read(path: &Path) -> Result<std::sync::Arc<crate::source::SourceFile>, Failure> {
    crate::source::SourceFile::read(path)
        .map_err(|e| Failure::could_not(format!("cannot read {}: {e}", path.display())))
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    crate::fsutil::write_atomic(path, text.as_bytes())
        .map_err(|e| Failure::could_not(format!("cannot write {}: {e}", path.display())))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
