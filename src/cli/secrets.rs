//! `muster secrets ...`: make, list, check, rotate, share and deliver secrets. Values are printed
//! only by `show NAME --reveal`.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use super::output::table;
use super::{CmdResult, Exit, Failure, Global, Printer, workspace};
use crate::registry::Registry;
use crate::registry::model::SecretKind;
use crate::secrets::env_file::{EnvFile, check_env_report};
use crate::secrets::export::{self, Engine};
use crate::secrets::identity::{self, LocalIdentity, Recipients, parse_recipient};
use crate::secrets::resolve::{Current, Values, current};
use crate::secrets::rotate::{self, DockerCli};
use crate::secrets::status::{self, State};
use crate::secrets::store::{Backend, Open, Store};
use crate::secrets::{self as sec, Paths, SecretValue, generate, kinds};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Make a value for every secret that has none (existing values are never changed)
    Generate(GenerateArgs),
    /// Every secret: kind, when it was made and rotated, and whether it is fine (never values)
    List(ListArgs),
    /// Print one secret's value (needs --reveal)
    Show(ShowArgs),
    /// Make a new value, run its `on_rotate` command, keep the old value in the history
    Rotate(RotateArgs),
    /// Fail (exit 1) on missing, malformed or placeholder secrets and on a bad .env
    Check(CheckArgs),
    /// Record a value given by hand (external secrets; read from stdin or --from-file)
    Set(SetArgs),
    /// Who can decrypt the store: list, add or remove age public keys
    #[command(subcommand)]
    Recipients(RecipientsCommand),
    /// Write the files an engine reads secret values from, under .muster/runtime/ENGINE/
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Keep a plaintext store (.muster/secrets.plain.json, 0600, ignored by git) instead of an
    /// encrypted one
    #[arg(long)]
    plaintext: bool,
    /// Use this environment's registry (merged)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print as JSON
    #[arg(long)]
    json: bool,
    /// Use this environment's registry (merged)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    name: String,
    /// Really print the value
    #[arg(long)]
    reveal: bool,
    /// Use this environment's registry (merged)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    name: String,
    /// Do not run the secret's `on_rotate` command (update the service yourself)
    #[arg(long)]
    no_hook: bool,
    /// Recreate the running services that use it, phase by phase with health waits, so
    /// they read the new value
    #[arg(long)]
    restart: bool,
    /// Use this environment's registry (merged)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Use this environment's registry (merged)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct SetArgs {
    name: String,
    /// Read the value from this file instead of stdin (trailing line breaks are dropped)
    #[arg(long, value_name = "PATH")]
    from_file: Option<PathBuf>,
    /// Use this environment's registry (merged)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum RecipientsCommand {
    /// The public keys the store is encrypted to
    List,
    /// Let another age key decrypt the store (re-encrypts it)
    Add { key: String },
    /// Stop encrypting to a key (re-encrypts the store)
    Remove {
        key: String,
        /// Also when it is your own key (you will no longer be able to decrypt the store)
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineArg {
    Compose,
    Kubernetes,
    Nomad,
    Swarm,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The engine whose runtime files to write
    #[arg(value_enum)]
    engine: EngineArg,
    /// Use this environment's registry (merged)
    #[arg(long, value_name = "NAME")]
    env: Option<String>,
}

pub fn run(global: &Global, printer: &Printer, command: Command) -> CmdResult {
    match command {
        Command::Generate(args) => generate(global, printer, args),
        Command::List(args) => list(global, printer, args),
        Command::Show(args) => show(global, printer, args),
        Command::Rotate(args) => rotate(global, printer, args),
        Command::Check(args) => check(global, printer, args),
        Command::Set(args) => set(global, printer, args),
        Command::Recipients(cmd) => recipients(global, printer, cmd),
        Command::Export(args) => export(global, printer, args),
    }
}

fn failure(e: sec::Error) -> Failure {
    Failure {
        exit: if e.bad { Exit::Bad } else { Exit::CouldNot },
        message: Some(e.message),
        hint: e.hint,
    }
}

fn load(
    global: &Global,
    printer: &Printer,
    env: Option<&str>,
) -> Result<(Registry, Paths), Failure> {
    let (source, reg) = workspace::load_valid(global, printer, env)?;
    Ok((reg, Paths::for_registry(&source.path)))
}

fn read_env(paths: &Paths) -> Result<EnvFile, Failure> {
    EnvFile::read(&paths.registry_dir).map_err(|e| {
        Failure::could_not(format!(
            "cannot read {}: {e}",
            paths.registry_dir.join(".env").display()
        ))
    })
}

/// A path as the user sees it: relative to the working folder when below it.
fn shown(path: &std::path::Path) -> String {
    crate::source::display_name(path)
}

fn store_summary(store: &Store) -> String {
    match store.backend {
        Backend::Plain => format!("{} (plaintext, 0600, not committed)", shown(store.file())),
        Backend::Encrypted => {
            let n = Recipients::read(&store.paths.recipients)
                .map(|r| r.keys.len())
                .unwrap_or(0);
            format!(
                "{} (encrypted to {n} recipient{})",
                shown(store.file()),
                if n == 1 { "" } else { "s" }
            )
        }
    }
}

fn generate(global: &Global, printer: &Printer, args: GenerateArgs) -> CmdResult {
    let (reg, paths) = load(global, printer, args.env.as_deref())?;
    let now = sec::now();
    let how = Open {
        write: true,
        plaintext: args.plaintext,
    };
    let mut store = Store::open(&paths, how, &now).map_err(failure)?;
    let mut progress = |s: &crate::registry::model::Secret| {
        if s.kind.value == SecretKind::Rsa {
            printer.note(&format!(
                "making RSA key `{}` ({})...",
                s.name.value,
                kinds::describe(s)
            ));
        }
    };
    let result = generate::generate_missing(&reg, &paths, &mut store.data, &now, &mut progress)
        .map_err(failure)?;
    for made in &result.made {
        let how = match &made.from {
            Some(from) => format!("{} of `{from}`", made.kind),
            None => made.kind.clone(),
        };
        printer.out(&format!("generated {} ({how})", made.name));
    }
    for (name, why) in &result.skipped {
        printer.note(&format!("skipped {name}: {why}"));
    }
    let created_plain = args.plaintext && store.backend == Backend::Plain && !store.existed;
    if result.made.is_empty() && !created_plain {
        let total = reg.secrets.len();
        printer.note(&format!(
            "nothing to generate: every generated secret already has a value ({total} secret{} in the registry); {} left as it is",
            if total == 1 { "" } else { "s" },
            shown(store.file())
        ));
    } else {
        for note in store.save(&now).map_err(failure)? {
            printer.note(&note);
        }
        printer.note(&format!(
            "{} secret{} generated; stored in {}",
            result.made.len(),
            if result.made.len() == 1 { "" } else { "s" },
            store_summary(&store)
        ));
    }
    let unset: Vec<String> = status::statuses(&reg, &paths, &store.data)
        .into_iter()
        .filter(|s| s.state == State::ExternalUnset && !s.optional)
        .map(|s| s.name)
        .collect();
    if !unset.is_empty() {
        printer.note(&format!(
            "external secrets still to set by hand: {} (`muster secrets set NAME`)",
            unset.join(", ")
        ));
    }
    Ok(Exit::Ok)
}

fn open_read(paths: &Paths) -> Result<Store, Failure> {
    Store::open(paths, Open::default(), &sec::now()).map_err(failure)
}

fn list(global: &Global, printer: &Printer, args: ListArgs) -> CmdResult {
    let (reg, paths) = load(global, printer, args.env.as_deref())?;
    let store = open_read(&paths)?;
    let statuses = status::statuses(&reg, &paths, &store.data);
    if args.json {
        printer.out(&serde_json::to_string_pretty(&statuses).expect("statuses serialize"));
        return Ok(Exit::Ok);
    }
    let mut rows = vec![
        ["SECRET", "KIND", "CREATED", "ROTATED", "STATUS"]
            .map(String::from)
            .to_vec(),
    ];
    // Notes grouped by what they say, so ten missing secrets make one line.
    let mut notes: Vec<(String, Vec<String>)> = Vec::new();
    let mut note = |name: &str, text: String| match notes.iter_mut().find(|(t, _)| *t == text) {
        Some((_, names)) => names.push(name.to_string()),
        None => notes.push((text, vec![name.to_string()])),
    };
    for s in &statuses {
        let mut state = s.state.as_str().to_string();
        if s.state == State::ExternalUnset && s.optional {
            state.push_str(" (optional)");
        }
        if s.pending {
            state.push_str(", rotation pending");
            note(
                &s.name,
                "a rotation was interrupted; its pending value moves to the history when you rotate again".into(),
            );
        }
        if let Some(detail) = &s.detail
            && s.failing()
        {
            note(&s.name, detail.clone());
        }
        rows.push(vec![
            s.name.clone(),
            s.kind.clone(),
            s.created.clone().unwrap_or_else(|| "-".into()),
            s.rotated.clone().unwrap_or_else(|| "-".into()),
            state,
        ]);
    }
    if statuses.is_empty() {
        printer.note("the registry declares no secrets");
    } else {
        printer.out(table(&rows).trim_end());
    }
    for (text, names) in notes {
        printer.note(&format!("{}: {text}", names.join(", ")));
    }
    let orphans = status::orphans(&reg, &store.data);
    if !orphans.is_empty() {
        printer.note(&format!(
            "kept in the store but no longer in the registry: {}",
            orphans.join(", ")
        ));
    }
    Ok(Exit::Ok)
}

fn show(global: &Global, printer: &Printer, args: ShowArgs) -> CmdResult {
    let (reg, paths) = load(global, printer, args.env.as_deref())?;
    let secret = generate::lookup(&reg, &args.name).map_err(failure)?;
    if !args.reveal {
        return Err(Failure::could_not(format!(
            "`muster secrets show` prints the value of `{}` only with --reveal",
            args.name
        ))
        .hint(format!(
            "run `muster secrets show {} --reveal` (the value will be on your screen); `muster secrets list` shows every secret without values",
            args.name
        )));
    }
    let store = open_read(&paths)?;
    match current(secret, &paths, &store.data) {
        Current::Value(v) => {
            printer.out(v.expose());
            Ok(Exit::Ok)
        }
        Current::Unset => Err(Failure::could_not(format!("`{}` has no value", args.name))
            .hint(status::unset_hint(secret))),
        Current::Unreadable(why) => Err(Failure::could_not(why)),
    }
}

fn rotate(global: &Global, printer: &Printer, args: RotateArgs) -> CmdResult {
    let (reg, paths) = load(global, printer, args.env.as_deref())?;
    let env = read_env(&paths)?;
    let now = sec::now();
    let mut store = open_for_writing(&paths, &now)?;
    let rotated = rotate::rotate(
        &reg,
        &env,
        &mut store,
        &args.name,
        !args.no_hook,
        &DockerCli,
        &now,
    )
    .map_err(failure)?;
    for note in &rotated.notes {
        printer.note(note);
    }
    printer.out(&format!("rotated {}", rotated.name));
    for name in &rotated.recomputed {
        printer.out(&format!("recomputed {name} (derived from it)"));
    }
    for (secret, service, container) in &rotated.hooks {
        printer.out(&format!(
            "ran on_rotate of {secret} in {service} (container {container})"
        ));
    }
    if args.no_hook
        && reg
            .secrets
            .get(&args.name)
            .is_some_and(|s| s.on_rotate.is_some())
    {
        printer.note("on_rotate was not run (--no-hook): update the service that checks this secret yourself");
    }
    if rotated.users.is_empty() {
        printer.note("no service uses it");
    } else {
        printer.out(if args.restart {
            "used by:"
        } else {
            "used by (`--restart` recreates the running ones so they read the new value):"
        });
        let mut rows = Vec::new();
        for u in &rotated.users {
            let via = u
                .via
                .as_ref()
                .map(|v| format!("via {v}"))
                .unwrap_or_default();
            rows.push(vec![format!("  {}", u.service), u.how.clone(), via]);
        }
        printer.out(table(&rows).trim_end());
    }
    if !args.restart || rotated.users.is_empty() {
        return Ok(Exit::Ok);
    }
    drop(store);
    let mut services: Vec<String> = Vec::new();
    for u in &rotated.users {
        if !services.contains(&u.service) {
            services.push(u.service.clone());
        }
    }
    super::restart::recreate(global, printer, args.env.as_deref(), &services)
}

fn check(global: &Global, printer: &Printer, args: CheckArgs) -> CmdResult {
    let (reg, paths) = load(global, printer, args.env.as_deref())?;
    let store = open_read(&paths)?;
    let statuses = status::statuses(&reg, &paths, &store.data);
    let failing: Vec<&status::Status> = statuses.iter().filter(|s| s.failing()).collect();
    for s in &failing {
        printer.out(&format!(
            "{}: {} is {}: {}",
            printer.bad("error"),
            s.name,
            s.state.as_str(),
            s.detail.as_deref().unwrap_or("")
        ));
    }
    let env = check_env_report(&reg, &paths.registry_dir);
    if !env.diagnostics.is_empty() {
        printer.diagnostics(&env.diagnostics, &env.file, true);
    }
    let env_errors = env.diagnostics.iter().filter(|d| d.is_error()).count();
    let env_warnings = env.diagnostics.len() - env_errors;
    let ok = statuses.len() - failing.len();
    let summary = format!(
        "{ok} of {} secret{} ok, {} with problems; .env: {env_errors} error{}, {env_warnings} warning{}",
        statuses.len(),
        if statuses.len() == 1 { "" } else { "s" },
        failing.len(),
        if env_errors == 1 { "" } else { "s" },
        if env_warnings == 1 { "" } else { "s" },
    );
    let bad = !failing.is_empty() || env_errors > 0;
    printer.out(&if bad {
        printer.bad(&summary)
    } else {
        printer.good(&summary)
    });
    Ok(if bad { Exit::Bad } else { Exit::Ok })
}

/// Reads a value typed on a terminal without echoing it (through `stty`), or piped on stdin.
fn read_value(printer: &Printer, name: &str) -> Result<String, Failure> {
    let mut text = String::new();
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        printer.note(&format!("value of {name} (not shown), then Enter:"));
        let stty = |arg: &str| {
            std::process::Command::new("stty")
                .arg(arg)
                .stdin(std::process::Stdio::inherit())
                .status()
                .is_ok_and(|s| s.success())
        };
        let hidden = stty("-echo");
        let read = stdin.read_line(&mut text);
        if hidden {
            stty("echo");
            eprintln!();
        }
        read.map_err(|e| Failure::could_not(format!("cannot read the value: {e}")))?;
    } else {
        stdin
            .lock()
            .read_to_string(&mut text)
            .map_err(|e| Failure::could_not(format!("cannot read the value from stdin: {e}")))?;
    }
    Ok(text)
}

fn set(global: &Global, printer: &Printer, args: SetArgs) -> CmdResult {
    let (reg, paths) = load(global, printer, args.env.as_deref())?;
    generate::lookup(&reg, &args.name).map_err(failure)?;
    let mut text = match &args.from_file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Failure::could_not(format!("cannot read {}: {e}", path.display())))?,
        None => read_value(printer, &args.name)?,
    };
    let keep = text.trim_end_matches(['\n', '\r']).len();
    text.truncate(keep);
    let value = SecretValue::new(text);
    let now = sec::now();
    let mut store = open_for_writing(&paths, &now)?;
    let recomputed = generate::set_value(&reg, &paths, &mut store.data, &args.name, value, &now)
        .map_err(failure)?;
    for note in store.save(&now).map_err(failure)? {
        printer.note(&note);
    }
    printer.out(&format!("set {}", args.name));
    for name in recomputed {
        printer.out(&format!("recomputed {name} (derived from it)"));
    }
    Ok(Exit::Ok)
}

fn own_identity() -> Option<LocalIdentity> {
    identity::identity_path()
        .ok()
        .and_then(|p| LocalIdentity::load(&p).ok().flatten())
}

fn recipients(global: &Global, printer: &Printer, command: RecipientsCommand) -> CmdResult {
    let (_, paths) = load(global, printer, None)?;
    let now = sec::now();
    match command {
        RecipientsCommand::List => {
            let list = Recipients::read(&paths.recipients).map_err(failure)?;
            let own = own_identity();
            for key in &list.keys {
                let you = if own.as_ref().is_some_and(|i| &i.public == key) {
                    "  (you)"
                } else {
                    ""
                };
                printer.out(&format!("{key}{you}"));
            }
            if list.keys.is_empty() {
                printer.note(&format!(
                    "{} lists no keys yet: the first `muster secrets generate` adds yours",
                    shown(&paths.recipients)
                ));
            }
            match own {
                Some(i) => printer.note(&format!(
                    "your identity: {} (public key {})",
                    shown(&i.path),
                    i.public
                )),
                None => printer.note("you have no identity yet: muster creates one on first use"),
            }
            Ok(Exit::Ok)
        }
        RecipientsCommand::Add { key } => {
            let key = parse_recipient(&key)
                .map_err(|e| Failure::could_not(e).hint("ask for the output of `muster secrets recipients list` (the line marked `(you)`)"))?
                .to_string();
            let mut store = open_for_writing(&paths, &now)?;
            let mut list = Recipients::read(&paths.recipients).map_err(failure)?;
            if list.contains(&key) {
                printer.note(&format!("{key} is already a recipient"));
                return Ok(Exit::Ok);
            }
            list.add(&key, None);
            reencrypt(printer, &mut store, list, &now)?;
            printer.out(&format!("added {key}"));
            Ok(Exit::Ok)
        }
        RecipientsCommand::Remove { key, force } => {
            let key = key.trim().to_string();
            let mut store = open_for_writing(&paths, &now)?;
            let mut list = Recipients::read(&paths.recipients).map_err(failure)?;
            if !list.contains(&key) {
                return Err(Failure::could_not(format!(
                    "{key} is not in {}",
                    shown(&paths.recipients)
                ))
                .hint("`muster secrets recipients list` shows them"));
            }
            if list.keys.len() == 1 {
                return Err(Failure::could_not(
                    "refusing to remove the last recipient: nobody could decrypt the store",
                )
                .hint("add the new recipient first, then remove this one"));
            }
            let own = store
                .identity(&now)
                .map(|i| i.public.clone())
                .ok()
                .or_else(|| own_identity().map(|i| i.public));
            if own.as_deref() == Some(key.as_str()) && !force {
                return Err(Failure::could_not(
                    "refusing to remove your own key: you could no longer decrypt the store",
                )
                .hint("pass --force if that is what you want"));
            }
            list.remove(&key);
            reencrypt(printer, &mut store, list, &now)?;
            printer.out(&format!("removed {key}"));
            printer.note("copies of the store encrypted before (e.g. in git history) still open with that key: rotate the secrets it could read");
            Ok(Exit::Ok)
        }
    }
}

fn reencrypt(
    printer: &Printer,
    store: &mut Store,
    list: Recipients,
    now: &str,
) -> Result<(), Failure> {
    match (store.backend, store.existed) {
        (Backend::Encrypted, true) => {
            for note in store.save_to(list, now).map_err(failure)? {
                printer.note(&note);
            }
            printer.note(&format!("re-encrypted {}", store_summary(store)));
        }
        (Backend::Plain, _) => {
            list.save().map_err(failure)?;
            printer.note("the store is plaintext (.muster/secrets.plain.json): the list applies to an encrypted store only");
        }
        (Backend::Encrypted, false) => {
            list.save().map_err(failure)?;
            printer.note("there is no store yet: it will be encrypted to this list (and to you) when it is made");
        }
    }
    Ok(())
}

fn export(global: &Global, printer: &Printer, args: ExportArgs) -> CmdResult {
    let (reg, paths) = load(global, printer, args.env.as_deref())?;
    let engine = match args.engine {
        EngineArg::Compose => Engine::Compose,
        EngineArg::Kubernetes => Engine::Kubernetes,
        EngineArg::Nomad => Engine::Nomad,
        EngineArg::Swarm => Engine::Swarm,
    };
    let env = read_env(&paths)?;
    let store = open_read(&paths)?;
    let (values, _) = Values::collect(&reg, &paths, &store.data);
    let planned = match export::plan(engine, &reg, &env, &values) {
        Ok(planned) => planned,
        Err(problems) => {
            for p in &problems {
                printer.error(p, None);
            }
            return Err(Failure {
                exit: Exit::Bad,
                message: Some(format!(
                    "nothing was written to {}: {} problem{}",
                    shown(&paths.runtime.join(engine.as_str())),
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                )),
                hint: Some("`muster secrets check` lists the state of every secret".into()),
            });
        }
    };
    let report = export::write(engine, &paths, &planned).map_err(failure)?;
    for file in &report.files {
        printer.out(&format!("wrote {}", shown(file)));
    }
    for file in &report.removed {
        printer.note(&format!("removed {} (no longer needed)", shown(file)));
    }
    if !report.not_chowned.is_empty() {
        printer.note(&format!(
            "{} file{} could not be given to the service's user (muster is not root): left readable by all (0444) inside the 0700 folder",
            report.not_chowned.len(),
            if report.not_chowned.len() == 1 { "" } else { "s" }
        ));
    }
    if report.files.is_empty() {
        printer.note("no enabled service receives a secret");
    }
    if engine == Engine::Nomad {
        for file in &report.files {
            if let Some(service) = file
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".vars.json"))
            {
                printer.note(&format!(
                    "load with: nomad var put -in json nomad/jobs/{}/{service} @{}",
                    reg.name.value,
                    shown(file)
                ));
            }
        }
    }
    Ok(Exit::Ok)
}

/// Opens the existing store (encrypted or plain, whichever is there) to change it.
fn open_for_writing(paths: &Paths, now: &str) -> Result<Store, Failure> {
    Store::open(
        paths,
        Open {
            write: true,
            plaintext: false,
        },
        now,
    )
    .map_err(failure)
}
