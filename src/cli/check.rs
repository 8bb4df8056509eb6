//! `muster check`: every problem at once, as text with carets or as JSON.

use serde::Serialize;

use super::{CmdResult, Exit, Global, Printer, workspace};
use crate::diagnostic::{self, JsonDiagnostic};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Fail on warnings too
    #[arg(long)]
    strict: bool,
    /// Print the problems as JSON
    #[arg(long)]
    json: bool,
    /// Check only this environment (merged); by default the base and every environment
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
    /// Also ask Docker what only images can tell (tools for http/tcp health checks)
    #[arg(long)]
    live: bool,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    file: &'a str,
    services: usize,
    errors: usize,
    warnings: usize,
    ok: bool,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

pub fn run(global: &Global, printer: &Printer, args: Args) -> CmdResult {
    let source = workspace::read_source(global)?;
    let report = crate::check::check_source(source.clone(), args.env.as_deref());
    let services = report
        .loaded
        .registry
        .as_ref()
        .map(|r| r.services.len())
        .unwrap_or(0);
    let mut failed = report.errors() > 0 || (args.strict && report.warnings() > 0);
    if args.live
        && report.errors() == 0
        && let Some(reg) = &report.loaded.registry
        && !super::live::run(printer, reg, args.json)?
    {
        failed = true;
    }
    if args.json {
        let json = JsonReport {
            file: &source.name,
            services,
            errors: report.errors(),
            warnings: report.warnings(),
            ok: !failed,
            diagnostics: report
                .diagnostics
                .iter()
                .map(|d| JsonDiagnostic::new(d, &source))
                .collect(),
        };
        printer.out(&serde_json::to_string_pretty(&json).expect("diagnostics serialize"));
    } else {
        if !report.diagnostics.is_empty() {
            printer.diagnostics(&report.diagnostics, &source, true);
            printer.out("");
        }
        let summary = diagnostic::summary(&report.diagnostics, &source.name, services);
        let summary = if failed {
            printer.bad(&summary)
        } else if report.warnings() > 0 {
            printer.warn(&summary)
        } else {
            printer.good(&summary)
        };
        printer.out(&summary);
        if !failed && report.warnings() > 0 && !args.strict {
            printer.note("warnings do not fail the check; `--strict` makes them fail");
        }
    }
    Ok(if failed { Exit::Bad } else { Exit::Ok })
}
