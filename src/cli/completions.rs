//! `muster completions SHELL`: completion scripts generated from the argument definitions.

use clap::CommandFactory;

use super::{Cli, CmdResult, Exit, Printer};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to complete for
    shell: clap_complete::Shell,
}

pub fn run(_printer: &Printer, args: Args) -> CmdResult {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "muster", &mut std::io::stdout());
    Ok(Exit::Ok)
}
