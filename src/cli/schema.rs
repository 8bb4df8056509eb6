//! `muster schema`: the JSON Schema of muster.yaml (tested against the loader's key lists).

use super::{CmdResult, Exit, Printer};

pub const SCHEMA: &str = include_str!("../../schema/muster.schema.json");

pub fn run(printer: &Printer) -> CmdResult {
    printer.out(SCHEMA);
    Ok(Exit::Ok)
}
