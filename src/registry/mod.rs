//! The registry: `muster.yaml` found, parsed with locations, overlaid and decoded.
//!
//! `load` is the one entry point every command uses. It never fails on bad content: it
//! returns what could be read plus every problem found, so `check` can list them all and
//! other commands can refuse with the same diagnostics.

pub mod decode;
pub mod model;
pub mod overlay;
pub mod values;
pub mod yaml;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic};
use crate::source::SourceFile;

pub use decode::References;
pub use model::Registry;

/// The file name muster looks for.
pub const FILE_NAME: &str = "muster.yaml";

/// How many syntax errors to look for before giving up on a broken file.
const SYNTAX_ERROR_LIMIT: usize = 20;

/// A registry read from its source, with everything found wrong on the way.
#[derive(Debug)]
pub struct Loaded {
    pub source: Arc<SourceFile>,
    /// None when the file is not even valid YAML.
    pub registry: Option<Registry>,
    pub references: References,
    pub diagnostics: Vec<Diagnostic>,
    /// The parsed document, so other environments can be decoded without parsing again.
    pub root: Option<Arc<yaml::Node>>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Finds the registry: `explicit` if given, else `./muster.yaml`, else the nearest
/// `muster.yaml` in a parent folder (like git finds its repository).
pub fn discover(explicit: Option<&Path>, cwd: &Path) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(format!("{} does not exist", path.display()))
        };
    }
    let mut dir = Some(cwd);
    while let Some(d) = dir {
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    Err(format!(
        "no {FILE_NAME} in {} or any parent folder; run `muster init` to write one, or pass `-f PATH`",
        cwd.display()
    ))
}

/// Parses and decodes `source`, with environment `env` merged in when given. Never fails:
/// problems (including an unknown environment) come back as diagnostics.
pub fn load(source: Arc<SourceFile>, env: Option<&str>) -> Loaded {
    let root = match parse(&source) {
        Ok(root) => root,
        Err(diagnostics) => {
            return Loaded {
                source,
                registry: None,
                references: References::default(),
                diagnostics,
                root: None,
            };
        }
    };
    decode(source, Arc::new(root), env, None)
}

/// Parses `source` as YAML with locations; every syntax error (up to a limit) comes back as
/// the diagnostic `check` prints, so importers report broken input the same way.
pub fn parse(source: &SourceFile) -> Result<yaml::Node, Vec<Diagnostic>> {
    yaml::parse_all_errors(source, SYNTAX_ERROR_LIMIT).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| syntax_diagnostic(source, e))
            .collect()
    })
}

/// Decodes another environment of an already loaded registry, without parsing it again.
/// Returns the base's syntax errors when the file did not parse.
pub fn load_environment(base: &Loaded, env: Option<&str>) -> Loaded {
    match &base.root {
        Some(root) => decode(base.source.clone(), root.clone(), env, Some(base)),
        None => Loaded {
            source: base.source.clone(),
            registry: None,
            references: References::default(),
            diagnostics: base.diagnostics.clone(),
            root: None,
        },
    }
}

/// Decodes `root`, with environment `env` merged in. With the `base` it was loaded as, an
/// environment that changes only services reuses the base's decoding of the others.
fn decode(
    source: Arc<SourceFile>,
    root: Arc<yaml::Node>,
    env: Option<&str>,
    base: Option<&Loaded>,
) -> Loaded {
    let (registry, references, diagnostics) = match env {
        None => decode::decode_registry(&root, &source),
        Some(name) => {
            let Some((overlay, mut overlay_problems)) = overlay::prepare(&root, name) else {
                let diagnostic = unknown_environment(&source, &root, name);
                return Loaded {
                    source,
                    registry: None,
                    references: References::default(),
                    diagnostics: vec![diagnostic],
                    root: Some(root),
                };
            };
            // Only a decoding of the base itself, not of another environment, is reusable.
            let reusable = base.and_then(|b| {
                let reg = b.registry.as_ref().filter(|r| r.environment.is_none())?;
                Some((reg, b))
            });
            let (mut registry, references, mut diagnostics) =
                match (reusable, overlay::split(&root, &overlay)) {
                    (Some((reg, b)), Some(split)) => decode::decode_from_base(
                        (reg, &b.references, &b.diagnostics),
                        &split,
                        &source,
                    ),
                    _ => decode::decode_registry(&overlay::merge(&root, &overlay), &source),
                };
            registry.environment = Some(name.to_string());
            diagnostics.append(&mut overlay_problems);
            for d in &mut diagnostics {
                d.environment = Some(name.to_string());
            }
            (registry, references, diagnostics)
        }
    };
    Loaded {
        source,
        registry: Some(registry),
        references,
        diagnostics,
        root: Some(root),
    }
}

fn unknown_environment(source: &SourceFile, root: &yaml::Node, name: &str) -> Diagnostic {
    let environments = root.get("environments");
    let known: Vec<&str> = environments
        .and_then(|e| e.as_map())
        .map(|m| m.iter().filter_map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    let mut d = Diagnostic::new(
        Code::UnknownEnvironment,
        format!("{} has no environment `{name}`", source.name),
    );
    if let Some((key, _)) = root
        .as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some("environments")))
    {
        d = d.at(key.span, "environments are declared here");
    }
    match crate::diagnostic::did_you_mean(name, known.iter().copied()) {
        Some(close) => d.help(format!("did you mean `{close}`?")),
        None if known.is_empty() => d.help("declare it under `environments:` to give it overrides"),
        None => d.help(format!("environments: {}", known.join(", "))),
    }
}

fn syntax_diagnostic(source: &SourceFile, e: yaml::SyntaxError) -> Diagnostic {
    let (start, end) = source.line_bounds(e.span.start);
    let line = &source.text[start..end];
    let help = if e.message.contains("trailing content after") {
        "remove what follows the closing quote, or quote the whole value".to_string()
    } else if in_flow_collection_with_placeholder(line) {
        "`{` starts a mapping inside `[...]` or `{...}`: quote values holding `${...}`, e.g. [\"${VAR}\"]".into()
    } else if line.contains('\t') {
        "YAML indents with spaces, never tabs".into()
    } else {
        "check the quoting and indentation on this line and the one before".into()
    };
    let message = format!("YAML syntax error: {}", e.message);
    Diagnostic::new(Code::Syntax, message)
        .at(e.span, "here")
        .help(help)
}

/// Whether a line holds an unquoted `${...}` inside `[...]` or `{...}`, where YAML reads the
/// `{` as the start of a mapping.
fn in_flow_collection_with_placeholder(line: &str) -> bool {
    let Some(at) = line.find("${") else {
        return false;
    };
    let before = &line[..at];
    let opens_flow = before.contains('[') || before.replace("${", "").contains('{');
    let quoted = before.matches('"').count() % 2 == 1 || before.matches('\'').count() % 2 == 1;
    opens_flow && !quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment decoded from its base (reusing the services it leaves alone) and one
    /// decoded from scratch must agree in everything.
    fn assert_same_both_ways(text: &str, env: &str) {
        let source = Arc::new(SourceFile::new("muster.yaml", text));
        let scratch = load(source.clone(), Some(env));
        let reused = load_environment(&load(source, None), Some(env));
        assert_eq!(reused.registry, scratch.registry, "{env}");
        let sorted = |refs: &[(String, crate::source::Span)]| {
            let mut refs = refs.to_vec();
            refs.sort_by_key(|(name, span)| (span.start, name.clone()));
            refs
        };
        let (a, b) = (&reused.references, &scratch.references);
        assert_eq!(sorted(&a.variables), sorted(&b.variables), "{env}");
        assert_eq!(sorted(&a.secrets), sorted(&b.secrets), "{env}");
        assert_eq!(sorted(&a.hosts), sorted(&b.hosts), "{env}");
        let (mut a, mut b) = (reused.diagnostics, scratch.diagnostics);
        crate::diagnostic::sort_and_dedup(&mut a);
        crate::diagnostic::sort_and_dedup(&mut b);
        assert_eq!(a, b, "{env}");
    }

    #[test]
    fn a_mount_source_may_hold_a_placeholder_with_a_default() {
        let text = "version: 1\nname: t\nvariables: { DOCKER_SOCKET: { default: /var/run/docker.sock } }\nservices:\n  a:\n    image: a:1\n    volumes: [\"${DOCKER_SOCKET:-/var/run/docker.sock}:/var/run/docker.sock:ro\"]\n";
        let loaded = load(Arc::new(SourceFile::new("muster.yaml", text)), None);
        assert!(loaded.diagnostics.is_empty(), "{:#?}", loaded.diagnostics);
        let mount = &loaded.registry.unwrap().services["a"].volumes[0];
        assert_eq!(
            mount.source,
            model::MountSource::Bind("${DOCKER_SOCKET:-/var/run/docker.sock}".into())
        );
        assert_eq!(mount.target, "/var/run/docker.sock");
        assert!(mount.read_only);
    }

    #[test]
    fn environments_decode_the_same_from_the_base_as_from_scratch() {
        for example in crate::examples::EXAMPLES {
            let source = Arc::new(SourceFile::new("muster.yaml", example.text));
            let base = load(source, None);
            for env in base.registry.iter().flat_map(|r| r.environments.keys()) {
                assert_same_both_ways(example.text, env);
            }
        }
        let text = r#"
version: 1
name: t
defaults: { restart: always }
variables: { A_VAR: { default: "1" }, bad-name: {} }
secrets: { s1: { kind: hex }, broken: { kind: nope } }
volumes: { v1: { path: "${A_VAR}/v1" } }
groups: { g1: { services: [a, nosuch] } }
proxy: a
bogus: 0
services:
  a: { image: "a:1", env: { URL: "http://${host:b}:${PORT}" } }
  b: { image: "b:1", env: { K: "${A_VAR}" } }
  c: { image: "c:1", imagee: typo }
  Bad_Name: { image: "x:1" }
  x-shared: { anything: 1 }
environments:
  changes:
    services:
      b: { env: { K: "${B_VAR}", S: { secret: nope } }, ports: ["notaport"] }
      c: null
      d: { image: "d:1", depends_on: [b] }
      New_Bad: { image: "n:1" }
      ghost: { env: { A: 1 } }
      gone: null
      x-note: { free: form }
  fixes:
    services:
      c: { image: "c:2" }
      Bad_Name: null
  renamed:
    services:
      Bad_Name: { image: "x:2" }
      a: null
  settings:
    defaults: { restart: no }
    services:
      a: { image: "a:2" }
  top:
    domain: "${DOMAIN}.example.com"
    variables: { PORT: { default: "80" } }
    proxy: nope
    services:
      a: { image: "a:3" }
  sections:
    secrets: { s2: { kind: hex }, worse: { kind: never } }
    volumes: null
    groups: { g2: { services: [b] } }
    output: elsewhere
    targets: [compose, nope]
    bogus: 1
    unheard: 2
  removals:
    variables: null
    proxy: null
    secrets: null
  extension:
    x-note: { free: form }
  empty: {}
  nothing:
"#;
        let root = yaml::parse(&SourceFile::new("muster.yaml", text)).unwrap();
        for (env, reuses) in [
            ("changes", true),
            ("fixes", true),
            ("settings", false),
            ("top", true),
            ("renamed", true),
            ("sections", true),
            ("removals", true),
            ("extension", false),
            ("empty", true),
            ("nothing", true),
        ] {
            let (overlay, _) = overlay::prepare(&root, env).unwrap();
            assert_eq!(overlay::split(&root, &overlay).is_some(), reuses, "{env}");
            assert_same_both_ways(text, env);
        }
    }
}
