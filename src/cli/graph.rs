//! `muster graph`: the dependency graph for people (SVG) and for other tools (Mermaid, dot).

use super::{CmdResult, Exit, Global, Printer, workspace};
use crate::render;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Mermaid,
    Dot,
    Svg,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    format: Format,
    /// Use this environment's registry (merged)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

pub fn run(global: &Global, printer: &Printer, args: Args) -> CmdResult {
    let (_, reg) = workspace::load_valid(global, printer, args.env.as_deref())?;
    let text = match args.format {
        Format::Mermaid => render::graph::mermaid(&reg),
        Format::Dot => render::graph::dot(&reg),
        Format::Svg => render::graph::svg(&reg),
    };
    printer.out(&text);
    Ok(Exit::Ok)
}
