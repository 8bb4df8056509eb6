//! `muster diff [TARGET...]`: what `muster gen` would change, as a unified diff, deletions
//! included. It only reads, so it always exits 0 when it could compare.

use super::r#gen::{Selection, prepare};
use super::{CmdResult, Exit, Global, Printer};
use crate::generate::writer;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    select: Selection,
}

pub fn run(global: &Global, printer: &Printer, args: Args) -> CmdResult {
    let prepared = prepare(global, printer, &args.select)?;
    let mut out = String::new();
    for entry in prepared.plan.changes() {
        let shown = prepared.shown(entry);
        if entry.state.is_conflict() {
            printer.note(&format!(
                "{shown}: {}; `muster gen` changes it only with --force",
                super::r#gen::why(entry.state)
            ));
        }
        out.push_str(&writer::unified_diff(entry, &shown));
    }
    if out.is_empty() {
        printer.note(&format!(
            "no changes: {} is up to date",
            prepared.shown_root
        ));
    } else {
        printer.out(&colored(printer, &out));
    }
    Ok(Exit::Ok)
}

/// A unified diff with additions and removals colored, when stdout wants colors.
pub(super) fn colored(printer: &Printer, diff: &str) -> String {
    let mut out = String::with_capacity(diff.len());
    for line in diff.split_inclusive('\n') {
        let (text, newline) = match line.strip_suffix('\n') {
            Some(t) => (t, "\n"),
            None => (line, ""),
        };
        let painted = if text.starts_with("+++") || text.starts_with("---") {
            printer.heading(text)
        } else if text.starts_with('+') {
            printer.good(text)
        } else if text.starts_with('-') {
            printer.bad(text)
        } else if text.starts_with("@@") {
            printer.dim(text)
        } else {
            text.to_string()
        };
        out.push_str(&painted);
        out.push_str(newline);
    }
    out
}
