//! `muster secrets rotate --restart`: the running services that use a rotated secret are
//! recreated so they read the new value.
//!
//! A container keeps the environment it was created with, and a bind-mounted secret file
//! keeps the inode it was created with (the store writes by rename), so neither `docker
//! restart` nor Compose's change detection (which does not see file contents) would hand the
//! new value over. The services are therefore stopped and removed, dependents first, and
//! started again by `muster up` itself: secrets exported, phases and health waited on, a
//! diagnosis on failure. The service an `on_rotate` hook ran in is recreated too: the hook
//! changed its persistent state (a database's stored password), but its container still
//! holds the old value in its environment, and the next `up` would recreate it anyway.

use super::stack::{self, Interrupt};
use super::{CmdResult, Exit, Failure, Global, Printer, down, up};
use crate::runtime::observe;

/// Recreates those of `wanted` that are running.
pub fn recreate(
    global: &Global,
    printer: &Printer,
    env: Option<&str>,
    wanted: &[String],
) -> CmdResult {
    let (stack, _) = stack::load_running(global, printer, env)?;
    let rt = stack::runtime()?;
    let stopped = rt.block_on(async {
        let interrupt = Interrupt::install();
        let engine = stack::connect_all(&stack).await?;
        let command = format!("muster secrets rotate --restart ({})", wanted.join(", "));
        let _lock = stack::take_lock(&stack, printer, &command, false, &interrupt).await?;
        let observed = observe::observe(&engine, stack.project())
            .await
            .map_err(|e| Failure::could_not(e.to_string()))?;
        let running = observed.running_services();
        let targets: Vec<String> = wanted
            .iter()
            .filter(|s| running.contains(*s))
            .cloned()
            .collect();
        for s in wanted.iter().filter(|s| !running.contains(*s)) {
            printer.note(&format!(
                "{s} is not running: it reads the new value when it starts"
            ));
        }
        down::stop_in_order(&stack, &engine, &observed, &targets, &interrupt).await
    })?;
    if stopped.is_empty() {
        return Ok(Exit::Ok);
    }
    printer.out(&format!("recreating {}", stopped.join(", ")));
    up::run(
        global,
        printer,
        up::Args::services(stopped, env.map(str::to_string)),
    )
}
