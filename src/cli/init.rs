//! `muster init`: start from a shipped example instead of an empty file.

use super::{CmdResult, Exit, Failure, Global, Printer};
use crate::examples::{EXAMPLES, find};
use crate::registry::FILE_NAME;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The example to start from (see --list)
    #[arg(long, default_value = "homelab", value_name = "NAME")]
    example: String,
    /// List the examples
    #[arg(long)]
    list: bool,
    /// Overwrite an existing muster.yaml
    #[arg(long)]
    force: bool,
}

pub fn run(global: &Global, printer: &Printer, args: Args) -> CmdResult {
    if args.list {
        let rows: Vec<Vec<String>> = EXAMPLES
            .iter()
            .map(|e| vec![e.name.to_string(), e.summary.to_string()])
            .collect();
        printer.out(&super::output::table(&rows));
        return Ok(Exit::Ok);
    }
    let Some(example) = find(&args.example) else {
        let names: Vec<&str> = EXAMPLES.iter().map(|e| e.name).collect();
        return Err(
            Failure::could_not(format!("there is no example `{}`", args.example))
                .hint(format!("examples: {}", names.join(", "))),
        );
    };
    let path = global.file.clone().unwrap_or_else(|| FILE_NAME.into());
    if path.exists() && !args.force {
        return Err(
            Failure::could_not(format!("{} already exists", path.display()))
                .hint("pass --force to replace it, or -f to write another file"),
        );
    }
    crate::fsutil::write_atomic(&path, example.text.as_bytes())
        .map_err(|e| Failure::could_not(format!("cannot write {}: {e}", path.display())))?;
    printer.out(&format!(
        "wrote {} from the `{}` example",
        path.display(),
        example.name
    ));
    printer.note("next: edit it, then `muster check` and `muster plan all`");
    Ok(Exit::Ok)
}
