//! `docs/`: the service inventory (`SERVICES.md`) and the dependency graph files, so a stack
//! is documented by the same file that runs it and the documentation cannot drift.
//!
//! The inventory is one Markdown table per phase, in start order, then the groups. Cells are
//! escaped for GitHub-flavoured Markdown: `|` never ends a cell early, `<` never starts HTML.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::generate::{GeneratedFile, Syntax};
use crate::graph::IMPLICIT_PHASE;
use crate::graph::selection::all_group_members;
use crate::registry::decode::subdomain_route;
use crate::registry::model::{
    Command, DEFAULT_PHASE_TIMEOUT, HealthCheck, PortSpec, Registry, Route, Service,
};
use crate::registry::values::{Template, format_duration};

/// `docs/SERVICES.md` and the graph files.
pub fn render(reg: &Registry) -> Vec<GeneratedFile> {
    let mut files = vec![services_md(reg)];
    files.extend(graph_files(reg));
    files
}

/// `docs/graph.mmd`, `docs/graph.dot` and `docs/graph.svg`.
pub fn graph_files(reg: &Registry) -> Vec<GeneratedFile> {
    vec![
        GeneratedFile::new(
            "docs/graph.mmd",
            Syntax::Mermaid,
            super::graph::mermaid(reg),
        ),
        GeneratedFile::new("docs/graph.dot", Syntax::Slashes, super::graph::dot(reg)),
        GeneratedFile::new("docs/graph.svg", Syntax::Markup, super::graph::svg(reg)),
    ]
}

/// `docs/SERVICES.md`: every enabled service, phase by phase, and the groups.
pub fn services_md(reg: &Registry) -> GeneratedFile {
    GeneratedFile::new("docs/SERVICES.md", Syntax::Markup, inventory(reg))
}

struct PhaseRows<'r> {
    name: &'r str,
    order: Option<i64>,
    timeout: std::time::Duration,
    description: Option<&'r str>,
    services: Vec<&'r Service>,
}

/// Phases in start order (by `order`, ties in declaration order), services of no declared
/// phase last, as `plan` and the graph show them; phases without services are left out.
fn phases(reg: &Registry) -> Vec<PhaseRows<'_>> {
    let mut declared: Vec<(usize, &crate::registry::model::Phase)> =
        reg.phases.values().enumerate().collect();
    declared.sort_by_key(|(i, p)| (p.order, *i));
    let mut rows: Vec<PhaseRows> = declared
        .into_iter()
        .map(|(_, p)| PhaseRows {
            name: p.name.value.as_str(),
            order: Some(p.order),
            timeout: p.timeout,
            description: p.description.as_deref(),
            services: Vec::new(),
        })
        .collect();
    let index: HashMap<&str, usize> = rows.iter().enumerate().map(|(i, p)| (p.name, i)).collect();
    let mut implicit = Vec::new();
    for s in reg.enabled_services() {
        match s.phase.as_ref().and_then(|p| index.get(p.value.as_str())) {
            Some(&i) => rows[i].services.push(s),
            None => implicit.push(s),
        }
    }
    if !implicit.is_empty() {
        rows.push(PhaseRows {
            name: IMPLICIT_PHASE,
            order: None,
            timeout: DEFAULT_PHASE_TIMEOUT,
            description: None,
            services: implicit,
        });
    }
    rows.retain(|p| !p.services.is_empty());
    rows
}

fn inventory(reg: &Registry) -> String {
    let mut all = all_group_members(reg);
    // The inventory lists declared groups only.
    all.truncate(reg.groups.len());
    let (groups, members): (Vec<&str>, Vec<Vec<String>>) = all.into_iter().unzip();
    // Computed once for all services: per-service lookups would cost services x groups.
    let mut groups_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for (g, names) in groups.iter().zip(&members) {
        for name in names {
            groups_of.entry(name.as_str()).or_default().push(g);
        }
    }
    let phases = phases(reg);
    let count = reg.enabled_services().count();

    let mut out = String::new();
    let _ = writeln!(out, "# {}: services\n", text(&reg.name.value));
    if let Some(description) = &reg.description {
        let _ = writeln!(out, "{}\n", text(description));
    }
    let mut facts = vec![plural(count, "service", "services")];
    if !reg.phases.is_empty() {
        facts.push(plural(reg.phases.len(), "phase", "phases"));
    }
    if !groups.is_empty() {
        facts.push(plural(groups.len(), "group", "groups"));
    }
    let mut summary = facts.join(", ");
    if let Some(env) = &reg.environment {
        let _ = write!(summary, "; environment `{env}`");
    }
    if let Some(domain) = &reg.domain {
        let _ = write!(summary, "; domain {}", code(&template(&domain.value)));
    }
    let _ = writeln!(out, "{summary}.\n");
    out.push_str(
        "Phases start in order; a phase is done when each of its services reached what its \
         dependents wait for (healthy, completed or started) before the phase's timeout. \
         Variables and secrets are listed in [`.env.example`](../.env.example).\n\n",
    );
    out.push_str("![Dependency graph](graph.svg)\n");

    for phase in &phases {
        out.push('\n');
        let heading = if reg.phases.is_empty() {
            "Services".to_string()
        } else {
            match phase.order {
                Some(order) => format!(
                    "Phase `{}` (order {order}, timeout {})",
                    phase.name,
                    format_duration(phase.timeout)
                ),
                None => format!(
                    "No phase (timeout {}, after the others)",
                    format_duration(phase.timeout)
                ),
            }
        };
        let _ = writeln!(out, "## {heading}\n");
        if let Some(description) = phase.description {
            let _ = writeln!(out, "{}\n", text(description));
        }
        out.push_str("| Service | Description | Image | Groups | Ports | Routes | Depends on | Health | Critical |\n");
        out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for s in &phase.services {
            let groups = groups_of
                .get(s.name.value.as_str())
                .map(|g| g.join(", "))
                .unwrap_or_default();
            let cells = [
                service_cell(s),
                s.description.as_deref().map(text).unwrap_or_default(),
                image(s),
                text(&groups),
                ports(s),
                routes(reg, s),
                dependencies(reg, s),
                health(s),
                if s.critical { "yes" } else { "no" }.to_string(),
            ];
            out.push('|');
            for cell in cells {
                out.push(' ');
                out.push_str(if cell.is_empty() { "-" } else { &cell });
                out.push_str(" |");
            }
            out.push('\n');
        }
    }

    if !groups.is_empty() {
        out.push_str("\n## Groups\n\n");
        out.push_str(
            "Select a group with `muster up GROUP`; a group also starts what its services need.\n\n",
        );
        out.push_str("| Group | Description | Services | Includes |\n");
        out.push_str("| --- | --- | --- | --- |\n");
        for (g, names) in groups.iter().zip(&members) {
            let def = reg.groups.get(*g);
            let description = def
                .and_then(|d| d.description.as_deref())
                .map(text)
                .unwrap_or_default();
            let includes = def
                .map(|d| {
                    d.groups
                        .iter()
                        .map(|x| x.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let cells = [g.to_string(), description, names.join(", "), includes];
            out.push('|');
            for cell in cells {
                out.push(' ');
                out.push_str(if cell.is_empty() { "-" } else { &cell });
                out.push_str(" |");
            }
            out.push('\n');
        }
    }
    out
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Plain text in a table cell: one line, `|` escaped, no HTML.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out.trim().to_string()
}

/// A code span that survives backticks in `s`, with `|` escaped (GitHub removes the
/// backslash inside table cells, code spans included).
fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ").replace('|', "\\|");
    let longest = s
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    let fence = "`".repeat(longest + 1);
    if longest > 0 || s.starts_with(' ') || s.ends_with(' ') {
        format!("{fence} {s} {fence}")
    } else {
        format!("{fence}{s}{fence}")
    }
}

/// A template as written in the registry.
fn template(t: &Template) -> String {
    t.render(&|h| format!("${{host:{h}}}"), &|s| {
        format!("${{secret:{s}}}")
    })
}

fn service_cell(s: &Service) -> String {
    let mut notes = Vec::new();
    if s.job {
        notes.push("job".to_string());
    }
    if s.global {
        notes.push("one per host".to_string());
    }
    if s.replica_count() != 1 {
        notes.push(format!("{} replicas", s.replica_count()));
    }
    if notes.is_empty() {
        format!("**{}**", s.name.value)
    } else {
        format!("**{}** ({})", s.name.value, notes.join(", "))
    }
}

fn image(s: &Service) -> String {
    let image = s.image_text.as_deref().map(code);
    let build = s
        .build
        .as_ref()
        .map(|b| format!("built from {}", code(&b.context)));
    match (image, build) {
        (Some(i), Some(b)) => format!("{i}, {b}"),
        (Some(i), None) => i,
        (None, Some(b)) => b,
        (None, None) => String::new(),
    }
}

fn ports(s: &Service) -> String {
    s.ports
        .iter()
        .map(|p| match &p.spec {
            PortSpec::Mapping(m) => code(&m.to_string()),
            PortSpec::Interpolated(t) => code(t),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn routes(reg: &Registry, s: &Service) -> String {
    let domain = reg.domain.as_ref().map(|d| &d.value);
    subdomain_route(s, domain)
        .iter()
        .chain(&s.routes)
        .map(|r| route(domain, r))
        .collect::<Vec<_>>()
        .join(", ")
}

fn route(domain: Option<&Template>, r: &Route) -> String {
    let host = r.host.as_ref().or(domain).map(template).unwrap_or_default();
    let mut out = code(&format!("{host}{}", r.path));
    if let Some(port) = r.port {
        let _ = write!(out, " → {port}");
    }
    let mut notes = Vec::new();
    if !r.prefix {
        notes.push("exact path".to_string());
    }
    if let Some(auth) = &r.auth {
        notes.push(format!("auth by {}", auth.value));
    }
    if !notes.is_empty() {
        let _ = write!(out, " ({})", notes.join(", "));
    }
    out
}

fn dependencies(reg: &Registry, s: &Service) -> String {
    s.depends_on
        .iter()
        .map(|d| {
            let condition = reg.effective_condition(d).as_str();
            if d.optional {
                format!("{} ({condition}, optional)", d.service.value)
            } else {
                format!("{} ({condition})", d.service.value)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn health(s: &Service) -> String {
    match s.health.check.as_ref().map(|c| &c.value) {
        None => String::new(),
        Some(HealthCheck::Exec(Command::Exec(args))) => format!("exec {}", code(&shell_join(args))),
        Some(HealthCheck::Exec(Command::Shell(line))) => format!("shell {}", code(line)),
        Some(HealthCheck::Http(h)) => {
            let mut out = format!("{} {}", h.scheme, code(&format!(":{}{}", h.port, h.path)));
            if !h.expect.is_empty() {
                let codes: Vec<String> = h.expect.iter().map(u16::to_string).collect();
                let _ = write!(out, " expects {}", codes.join("/"));
            }
            out
        }
        Some(HealthCheck::Tcp { port }) => format!("tcp {}", code(&format!(":{port}"))),
        Some(HealthCheck::Image) => "the image's own".to_string(),
        Some(HealthCheck::None) => "none".to_string(),
    }
}

/// An exec-form command as one shell line, quoting the arguments that need it, so
/// `["sh", "-c", "a | b"]` reads as `sh -c 'a | b'`.
fn shell_join(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
            if plain {
                a.clone()
            } else if a.contains('\'') && !a.contains(['"', '$', '`', '\\']) {
                format!("\"{a}\"")
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_pipes_and_html() {
        assert_eq!(text("a | b <c>\nd"), "a \\| b &lt;c&gt; d");
        assert_eq!(code("sh -c 'a | b'"), "`sh -c 'a \\| b'`");
        assert_eq!(code("a`b"), "`` a`b ``");
        let args = ["sh", "-c", "echo 'hi' | cat", ""].map(String::from);
        assert_eq!(shell_join(&args), "sh -c \"echo 'hi' | cat\" ''");
        let args = ["sh", "-c", "echo '$x'"].map(String::from);
        assert_eq!(shell_join(&args), r#"sh -c 'echo '\''$x'\'''"#);
    }

    use crate::check::registry_for_test as load;

    #[test]
    fn a_registry_without_phases_has_one_table() {
        let reg = load(
            "version: 1\nname: t\nservices:\n  web:\n    image: nginx:1\n    health: { exec: \"curl -f localhost | grep ok\" }\n",
        );
        let md = services_md(&reg).body;
        assert!(md.contains("## Services\n"), "{md}");
        assert!(md.contains("shell `curl -f localhost \\| grep ok`"), "{md}");
        assert!(!md.contains("## Groups"));
    }

    /// The shipped examples, as users will first see them.
    #[test]
    fn snapshots_of_the_examples() {
        for example in crate::examples::EXAMPLES {
            let reg = load(example.text);
            insta::assert_snapshot!(
                format!("services_md_{}", example.name),
                services_md(&reg).body
            );
        }
    }
}
