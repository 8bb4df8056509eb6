//! `muster logs SELECTION [-f]`: the services' output through the Engine API, each line
//! prefixed with its service when there are several, every known secret value masked.

use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::stack::{self, Interrupt};
use super::{CmdResult, Exit, Failure, Global, Printer};
use crate::graph::resolve_selection;
use crate::runtime::docker::{self, Engine, LogLine};
use crate::runtime::observe;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Services, groups or phases, or `all`
    #[arg(required = true, value_name = "SELECTION")]
    selection: Vec<String>,
    /// Keep printing new lines until Ctrl-C (`-f` is the global `--file`)
    #[arg(long)]
    follow: bool,
    /// Only the last N lines of each container
    #[arg(short = 'n', long, value_name = "N")]
    tail: Option<usize>,
    /// The environment (default: the one of the last `up`)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

pub fn run(global: &Global, printer: &Printer, args: Args) -> CmdResult {
    let (stack, _) = stack::load_running(global, printer, args.env.as_deref())?;
    let services: Vec<String> = resolve_selection(&stack.reg, &args.selection)
        .map_err(|e| Failure::could_not(e.to_string()))?
        .into_iter()
        .map(|s| s.service)
        .collect();
    let masker = stack::masker(&stack);
    let rt = stack::runtime()?;
    rt.block_on(async {
        let interrupt = Interrupt::install();
        let engine = stack::connect_all(&stack).await?;
        let observed = observe::observe(&engine, stack.project())
            .await
            .map_err(|e| Failure::could_not(e.to_string()))?;
        let width = services.iter().map(String::len).max().unwrap_or(0);
        let prefix = |s: &str| {
            if services.len() > 1 {
                format!("{s:<width$} | ")
            } else {
                String::new()
            }
        };
        let mut streams: Vec<BoxStream<'static, (String, docker::Result<LogLine>)>> = Vec::new();
        for s in &services {
            let containers = observed.containers(s);
            if containers.is_empty() {
                printer.note(&format!("{s} has no container"));
            }
            for c in containers {
                let name = s.clone();
                streams.push(
                    engine
                        .logs(&c.id, args.tail, args.follow)
                        .map(move |l| (name.clone(), l))
                        .boxed(),
                );
            }
        }
        let print = |service: &str, line: docker::Result<LogLine>| match line {
            Ok(l) => printer.out(&format!("{}{}", prefix(service), masker.mask(&l.text))),
            Err(e) => printer.note(&format!("{service}: {e}")),
        };
        if args.follow {
            let mut all = futures_util::stream::select_all(streams);
            loop {
                tokio::select! {
                    next = all.next() => match next {
                        Some((s, l)) => print(&s, l),
                        None => break,
                    },
                    _ = interrupt.wait() => break,
                }
            }
        } else {
            for mut stream in streams {
                while let Some((s, l)) = stream.next().await {
                    print(&s, l);
                }
            }
        }
        Ok(Exit::Ok)
    })
}
