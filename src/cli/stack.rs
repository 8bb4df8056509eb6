//! What the commands that run the stack (`up`, `down`, `status`, `health`, `logs`) share:
//! the registry and where its state lives, the Docker connection, the async runtime,
//! Ctrl-C, the project lock, fresh Compose files and secret masking.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Exit, Failure, Global, Printer, workspace};
use crate::registry::Registry;
use crate::runtime::docker::DockerEngine;
use crate::runtime::lock::{self, Attempt, Holder, ProjectLock};
use crate::source::SourceFile;

/// A loaded, valid registry and the places that belong to it.
pub struct Stack {
    pub source: Arc<SourceFile>,
    pub reg: Registry,
    /// The folder of `muster.yaml` (absolute).
    pub root: PathBuf,
    /// `.muster/` beside it.
    pub state_dir: PathBuf,
}

impl Stack {
    /// The Compose project name: the registry's `name`.
    pub fn project(&self) -> &str {
        &self.reg.name.value
    }

    /// The flat Compose file `up` drives: `compose/stack.yml` or `compose/stack.<env>.yml`
    /// under the registry's output folder.
    pub fn compose_file(&self) -> PathBuf {
        let name = match &self.reg.environment {
            Some(env) => format!("stack.{env}.yml"),
            None => "stack.yml".to_string(),
        };
        self.output_dir().join("compose").join(name)
    }

    pub fn output_dir(&self) -> PathBuf {
        self.root.join(&self.reg.output)
    }

    /// The file name of the registry, as generated headers name it.
    pub fn registry_name(&self) -> String {
        self.source
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| crate::registry::FILE_NAME.to_string())
    }

    /// A path for messages: relative to the current folder when below it.
    pub fn shown(&self, path: &Path) -> String {
        let cwd = std::env::current_dir().ok();
        let relative = cwd
            .as_deref()
            .and_then(|c| path.strip_prefix(c).ok())
            .unwrap_or(path);
        relative.display().to_string()
    }
}

/// Loads the registry (refusing on errors, with the diagnostics printed).
pub fn load(global: &Global, printer: &Printer, env: Option<&str>) -> Result<Stack, Failure> {
    let (source, reg) = workspace::load_valid(global, printer, env)?;
    let absolute = std::path::absolute(&source.path).unwrap_or_else(|_| source.path.clone());
    let root = absolute
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(Stack {
        state_dir: root.join(".muster"),
        source,
        reg,
        root,
    })
}

/// A single-threaded runtime: the work is waiting on one daemon, not computing.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::could_not(format!("cannot start the async runtime: {e}")))
}

/// Connects to Docker, or says why not (exit 2).
pub async fn connect(host: Option<&str>) -> Result<DockerEngine, Failure> {
    DockerEngine::connect(host).await.map_err(|e| {
        Failure::could_not(e.to_string())
            .hint("is the Docker daemon running, and may you use its socket? `docker info` tells; DOCKER_HOST chooses another daemon")
    })
}

/// Connects to every Docker the stack uses: the local one and each host that a service is
/// placed on (`placement.host`).
pub async fn connect_all(stack: &Stack) -> Result<crate::runtime::hosts::Hosts, Failure> {
    crate::runtime::hosts::Hosts::connect(&stack.reg).await.map_err(|e| {
        Failure::could_not(e.to_string())
            .hint("is the Docker daemon running, and may you use its socket? `docker info` tells; DOCKER_HOST chooses another daemon")
    })
}

/// Ctrl-C, as a flag any number of waits can watch. Installing it means Ctrl-C no longer
/// kills muster outright: each wait decides what stopping means.
#[derive(Clone)]
pub struct Interrupt(tokio::sync::watch::Receiver<bool>);

impl Interrupt {
    /// Must run inside the runtime.
    pub fn install() -> Interrupt {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(true);
            }
        });
        Interrupt(rx)
    }

    /// Resolves when Ctrl-C is pressed.
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|v| *v).await;
    }
}

/// Takes the project lock; says who holds it and waits (or, with `no_wait`, refuses).
pub async fn take_lock(
    stack: &Stack,
    printer: &Printer,
    command: &str,
    no_wait: bool,
    interrupt: &Interrupt,
) -> Result<ProjectLock, Failure> {
    let me = Holder::me(command);
    let mut told = false;
    loop {
        let attempt = lock::try_lock(&stack.state_dir, &me).map_err(|e| {
            Failure::could_not(format!(
                "cannot lock {}: {e}",
                stack.shown(&stack.state_dir.join("lock"))
            ))
        })?;
        let holder = match attempt {
            Attempt::Acquired(lock) => return Ok(lock),
            Attempt::Held(holder) => holder,
        };
        let who = describe_holder(holder.as_ref());
        if no_wait {
            return Err(Failure::could_not(format!(
                "project `{}` is busy: {who}",
                stack.project()
            ))
            .hint("wait for it to finish, or run again without --no-wait to wait"));
        }
        if !told {
            printer.note(&format!(
                "waiting for project `{}`: {who} (Ctrl-C to give up)",
                stack.project()
            ));
            told = true;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = interrupt.wait() => return Err(Failure::printed(Exit::Interrupted)),
        }
    }
}

fn describe_holder(holder: Option<&Holder>) -> String {
    let Some(h) = holder else {
        return "another muster holds its lock".into();
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let ago =
        crate::runtime::observe::format_uptime(Duration::from_secs(now.saturating_sub(h.started)));
    format!(
        "`{}` (pid {} on {}) has held its lock for {ago}",
        h.command, h.pid, h.host
    )
}

/// Writes the flat Compose file `up` needs when the registry changed since it was
/// generated. Refuses to overwrite a file edited by hand (that is `muster gen --force`).
pub fn ensure_compose_file(
    stack: &Stack,
    printer: &Printer,
    source_base: impl FnOnce() -> Result<Registry, Failure>,
) -> Result<PathBuf, Failure> {
    use crate::generate::writer::{self, State};
    let path = stack.compose_file();
    let (base, envs) = match &stack.reg.environment {
        Some(env) => (source_base()?, vec![(env.clone(), stack.reg.clone())]),
        None => (stack.reg.clone(), Vec::new()),
    };
    let wanted = stack
        .output_dir()
        .join("compose")
        .strip_prefix(stack.output_dir())
        .map(Path::to_path_buf)
        .unwrap_or_default()
        .join(path.file_name().unwrap_or_default());
    let files = crate::render::compose::render(&base, &envs);
    let Some(file) = files.into_iter().find(|f| f.path == wanted) else {
        return Err(Failure::could_not(format!(
            "the Compose renderer did not produce {}",
            wanted.display()
        )));
    };
    let plan = writer::plan(
        &stack.output_dir(),
        std::slice::from_ref(&file),
        &[],
        &stack.registry_name(),
    )
    .map_err(|e| Failure::could_not(e.to_string()))?;
    let entry = &plan.entries[0];
    match entry.state {
        State::UpToDate => {}
        State::Edited | State::Foreign | State::StaleEdited => {
            return Err(Failure {
                exit: Exit::Bad,
                message: Some(format!(
                    "{} is out of date and was {}",
                    stack.shown(&path),
                    if entry.state == State::Foreign {
                        "not written by muster"
                    } else {
                        "edited by hand"
                    }
                )),
                hint: Some(
                    "`muster diff compose` shows the difference; `muster gen compose --force` replaces it (keeping a .orig copy)".into(),
                ),
            });
        }
        State::Missing | State::Outdated | State::Stale => {
            writer::apply(&plan, false).map_err(|e| Failure::could_not(e.to_string()))?;
            printer.note(&format!("wrote {}", stack.shown(&path)));
        }
    }
    Ok(path)
}

/// Every known secret value, to mask in what containers print.
pub struct Masker {
    values: Vec<String>,
}

impl Masker {
    pub fn none() -> Masker {
        Masker { values: Vec::new() }
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            if !v.is_empty() && out.contains(v.as_str()) {
                out = out.replace(v.as_str(), "***");
            }
        }
        out
    }
}

/// Writes the runtime files the Compose file reads (`muster secrets export compose`: env
/// files and secret files under `.muster/runtime/compose/`) and renders config templates
/// into `.muster/rendered/`, when the registry has any.
pub fn export_secrets(stack: &Stack, printer: &Printer) -> Result<(), Failure> {
    use crate::secrets::{self, Paths};
    let to_failure = |e: secrets::Error| Failure {
        exit: if e.bad { Exit::Bad } else { Exit::CouldNot },
        message: Some(e.message),
        hint: e.hint,
    };
    let paths = Paths::for_registry(&stack.source.path);
    if !stack.reg.secrets.is_empty() {
        let exported =
            secrets::export::export(secrets::export::Engine::Compose, &stack.reg, &paths)
                .map_err(to_failure)?;
        if !exported.files.is_empty() {
            printer.note(&format!(
                "exported {} secret file{} for Compose",
                exported.files.len(),
                if exported.files.len() == 1 { "" } else { "s" }
            ));
        }
    }
    if stack.reg.enabled_services().any(|s| !s.configs.is_empty()) {
        let values = if stack.reg.secrets.is_empty() {
            secrets::resolve::Values::default()
        } else {
            secrets::resolve::load_values(&stack.reg, &paths).map_err(to_failure)?
        };
        let env = secrets::env_file::EnvFile::read(&stack.root)
            .map_err(|e| Failure::could_not(format!("cannot read .env: {e}")))?;
        let vars = |name: &str| secrets::env_file::variable(&stack.reg, &env, name);
        secrets::configs::render_configs(&stack.reg, &stack.root, &vars, &values).map_err(
            |problems| Failure {
                exit: Exit::Bad,
                message: Some(
                    problems
                        .iter()
                        .map(|(file, line, what)| format!("{}:{line}: {what}", stack.shown(file)))
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
                hint: Some(
                    "config templates are rendered at `up`; fix the placeholders above".into(),
                ),
            },
        )?;
    }
    Ok(())
}

fn values_push(values: &mut Vec<String>, v: &str) {
    // Very short values would mask ordinary text and hide nothing worth hiding.
    if v.len() >= 4 {
        values.push(v.to_string());
    }
}

/// The masker for this stack's secret values (none when the store cannot be opened: then
/// muster knows no value to hide).
pub fn masker(stack: &Stack) -> Masker {
    use crate::secrets::{Paths, resolve};
    if stack.reg.secrets.is_empty() {
        return Masker::none();
    }
    let paths = Paths::for_registry(&stack.source.path);
    let Ok(known) = resolve::load_values(&stack.reg, &paths) else {
        return Masker::none();
    };
    let mut values: Vec<String> = Vec::new();
    for (_, v) in known.iter() {
        let v = v.expose();
        values_push(&mut values, v);
        // Logs come line by line: a multi-line value (a PEM key) is masked line by line.
        if v.contains('\n') {
            for line in v.lines().filter(|l| l.len() >= 16) {
                values_push(&mut values, line);
            }
        }
    }
    // Longest first, so a value containing another is masked whole.
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    values.dedup();
    Masker { values }
}

/// Loads the registry the way the commands that look at a running stack do: in the
/// environment given, else the one the last `up` used. Returns the last `up` too.
pub fn load_running(
    global: &Global,
    printer: &Printer,
    env: Option<&str>,
) -> Result<(Stack, Option<crate::runtime::state::UpState>), Failure> {
    let source = workspace::read_source(global)?;
    let absolute = std::path::absolute(&source.path).unwrap_or_else(|_| source.path.clone());
    let state_dir = absolute
        .parent()
        .map(|p| p.join(".muster"))
        .unwrap_or_else(|| PathBuf::from(".muster"));
    let last = crate::runtime::state::load(&state_dir).ok().flatten();
    let env = env
        .map(str::to_string)
        .or_else(|| last.as_ref().and_then(|s| s.environment.clone()));
    let stack = load(global, printer, env.as_deref())?;
    let last = last.filter(|s| s.project == stack.project());
    Ok((stack, last))
}

/// The services `status` and `health` judge without a selection: those of the last `up`
/// (still in the registry), else every enabled service.
pub fn judged_services(
    stack: &Stack,
    last: Option<&crate::runtime::state::UpState>,
) -> Vec<String> {
    match last {
        Some(state) => {
            let mut services: Vec<String> = state
                .services
                .iter()
                .filter(|s| stack.reg.services.contains_key(*s))
                .cloned()
                .collect();
            services.sort_by_key(|s| stack.reg.services.get_index_of(s));
            services
        }
        None => stack
            .reg
            .enabled_services()
            .map(|s| s.name.value.clone())
            .collect(),
    }
}

/// The phase a service belongs to, for display.
pub fn phase_of(stack: &Stack, service: &str) -> String {
    stack
        .reg
        .services
        .get(service)
        .and_then(|s| s.phase.as_ref())
        .map(|p| p.value.clone())
        .unwrap_or_else(|| "-".into())
}

/// The exit code a verdict means (DESIGN: 0 healthy, 1 degraded, 3 failed).
pub fn verdict_exit(verdict: crate::runtime::verdict::Verdict) -> Exit {
    match verdict {
        crate::runtime::verdict::Verdict::Healthy => Exit::Ok,
        crate::runtime::verdict::Verdict::Degraded => Exit::Bad,
        crate::runtime::verdict::Verdict::Failed => Exit::StackFailed,
    }
}

/// The project's running services, or None when Docker cannot be reached (for `plan`,
/// which works without Docker and says which way it planned).
pub fn running_services(project: &str) -> Option<std::collections::HashSet<String>> {
    let rt = runtime().ok()?;
    rt.block_on(async {
        let engine = tokio::time::timeout(Duration::from_secs(3), DockerEngine::connect(None))
            .await
            .ok()?
            .ok()?;
        crate::runtime::observe::running(&engine, project)
            .await
            .ok()
    })
}
