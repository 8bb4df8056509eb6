//! The command line: argument types, one module per command, and the printer that owns
//! stdout and stderr. Nothing outside `cli` prints.

mod check;
mod completions;
mod diff;
mod down;
mod r#gen;
mod graph;
mod health;
mod import;
mod init;
mod live;
mod logs;
mod output;
mod plan;
mod restart;
mod schema;
mod secrets;
mod services;
mod stack;
mod status;
mod up;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

pub use output::Printer;

/// Exit codes (DESIGN.md): 0 ok; 1 the checked thing is bad; 2 muster could not do its job;
/// 3 the stack FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Bad = 1,
    CouldNot = 2,
    StackFailed = 3,
    /// Stopped by Ctrl-C.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// A command that could not do its job: what went wrong and what to do about it.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    /// None when the problem was already printed (e.g. diagnostics).
    pub message: Option<String>,
    pub hint: Option<String>,
}

impl Failure {
    pub fn could_not(message: impl Into<String>) -> Failure {
        Failure {
            exit: Exit::CouldNot,
            message: Some(message.into()),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    /// The problem was already shown to the user; only the exit code is left.
    pub fn printed(exit: Exit) -> Failure {
        Failure {
            exit,
            message: None,
            hint: None,
        }
    }
}

pub type CmdResult = Result<Exit, Failure>;

#[derive(Debug, Parser)]
#[command(
    name = "muster",
    version,
    about = "One registry for your whole stack: check it, plan it, generate every deployment file from it",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// The registry file (default: ./muster.yaml, else the nearest one in a parent folder)
    #[arg(short = 'f', long = "file", global = true, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Print only what was asked for
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more about what muster does
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to use colors
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starter muster.yaml from one of the shipped examples
    Init(init::Args),
    /// Report every problem of the registry at once
    Check(check::Args),
    /// Show the phases and services `up` would start, and why each is included
    Plan(plan::Args),
    /// List services, show one, or walk its dependencies
    #[command(subcommand)]
    Services(services::Command),
    /// Print the dependency graph as Mermaid, Graphviz dot or SVG
    Graph(graph::Args),
    /// Write the generated files: Compose, docs, graph, .env.example (with --check: verify them)
    Gen(r#gen::Args),
    /// Show what `muster gen` would change, as a unified diff
    Diff(diff::Args),
    /// Write a muster.yaml from an existing setup (Compose files, other registries)
    #[command(subcommand)]
    Import(import::Command),
    /// Start the selection phase by phase, waiting on health, with a deadline per phase
    Up(up::Args),
    /// Stop the selection in reverse order, keeping what running services still need
    Down(down::Args),
    /// Each service's state, health, phase, uptime and restarts, and the verdict
    Status(status::Args),
    /// Run every health check now; exit 0 healthy, 1 degraded, 3 failed
    Health(health::Args),
    /// Print the services' logs, secrets masked
    Logs(logs::Args),
    /// Generate, list, check, rotate, share and deliver secrets (values only with `show --reveal`)
    #[command(subcommand)]
    Secrets(secrets::Command),
    /// Print the JSON Schema of muster.yaml, for editor completion and validation
    Schema,
    /// Print shell completions
    Completions(completions::Args),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::CouldNot
            } else {
                Exit::Ok
            };
            let _ = e.print();
            return code.into();
        }
    };
    let printer = Printer::new(cli.global.color, cli.global.quiet);
    let result = match cli.command {
        Command::Init(args) => init::run(&cli.global, &printer, args),
        Command::Check(args) => check::run(&cli.global, &printer, args),
        Command::Plan(args) => plan::run(&cli.global, &printer, args),
        Command::Services(cmd) => services::run(&cli.global, &printer, cmd),
        Command::Graph(args) => graph::run(&cli.global, &printer, args),
        Command::Gen(args) => r#gen::run(&cli.global, &printer, args),
        Command::Diff(args) => diff::run(&cli.global, &printer, args),
        Command::Import(cmd) => import::run(&cli.global, &printer, cmd),
        Command::Up(args) => up::run(&cli.global, &printer, args),
        Command::Down(args) => down::run(&cli.global, &printer, args),
        Command::Status(args) => status::run(&cli.global, &printer, args),
        Command::Health(args) => health::run(&cli.global, &printer, args),
        Command::Logs(args) => logs::run(&cli.global, &printer, args),
        Command::Secrets(cmd) => secrets::run(&cli.global, &printer, cmd),
        Command::Schema => schema::run(&printer),
        Command::Completions(args) => completions::run(&printer, args),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(failure) => {
            if let Some(message) = &failure.message {
                printer.error(message, failure.hint.as_deref());
            }
            failure.exit.into()
        }
    }
}
