//! The dependency graph as pictures: Mermaid (renders on GitHub and in most wikis), Graphviz
//! DOT (for people who have Graphviz) and a self-contained SVG laid out here, because a
//! picture that needs no tool at all is the one people actually look at.
//!
//! All three draw the same thing: enabled services grouped by phase (in phase order), an
//! arrow from each service to what it depends on, labelled with the condition it waits for
//! when that is not just `started`, dashed when the dependency is optional. Critical services
//! and jobs are marked.

mod svg;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::Duration;

use crate::graph::IMPLICIT_PHASE;
use crate::registry::model::{Condition, DEFAULT_PHASE_TIMEOUT, Registry, Service};
use crate::registry::values::format_duration;

pub use svg::svg;

/// The graph as a Mermaid flowchart (`flowchart RL`: dependencies on the left, as in the SVG), one subgraph per phase.
pub fn mermaid(reg: &Registry) -> String {
    let view = View::new(reg);
    let ids = unique_ids(view.nodes.iter().map(|n| n.name), "svc_");
    let phase_ids = unique_ids(view.phases.iter().map(|p| p.name), "phase_");
    let mut out = String::from("flowchart RL\n");
    for (p, phase) in view.phases.iter().enumerate() {
        let indent = if view.phased {
            let _ = writeln!(
                out,
                "    subgraph {} [\"{}\"]",
                phase_ids[p],
                mermaid_text(&phase.label())
            );
            "        "
        } else {
            "    "
        };
        for &n in &phase.nodes {
            let node = &view.nodes[n];
            let text = mermaid_text(node.name);
            let shape = if node.service.job {
                format!("([\"{text}\"])")
            } else {
                format!("[\"{text}\"]")
            };
            let _ = writeln!(out, "{indent}{}{shape}", ids[n]);
        }
        if view.phased {
            out.push_str("    end\n");
        }
    }
    for edge in &view.edges {
        let (from, to) = (&ids[edge.from], &ids[edge.to]);
        let arrow = match (edge.optional, edge.label()) {
            (false, None) => "-->".to_string(),
            (false, Some(label)) => format!("-- {label} -->"),
            (true, None) => "-.->".to_string(),
            (true, Some(label)) => format!("-. {label} .->"),
        };
        let _ = writeln!(out, "    {from} {arrow} {to}");
    }
    out.push_str("    classDef critical stroke:#c62828,stroke-width:3px,font-weight:bold\n");
    out.push_str("    classDef job stroke-dasharray:5 3\n");
    let members = |wanted: fn(&Service) -> bool| -> Vec<&str> {
        (0..view.nodes.len())
            .filter(|&i| wanted(view.nodes[i].service))
            .map(|i| ids[i].as_str())
            .collect()
    };
    for (class, list) in [
        ("critical", members(|s| s.critical)),
        ("job", members(|s| s.job)),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "    class {} {class}", list.join(","));
        }
    }
    out
}

/// The graph as a Graphviz digraph (`rankdir=RL`), one cluster per phase.
pub fn dot(reg: &Registry) -> String {
    let view = View::new(reg);
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_id(view.name));
    out.push_str(
        "    graph [rankdir=RL, fontname=\"Helvetica\", fontsize=12, nodesep=0.25, ranksep=0.6];\n",
    );
    out.push_str(
        "    node [shape=box, style=\"filled\", fillcolor=\"#ffffff\", color=\"#4a5568\", fontname=\"Helvetica\", fontsize=11];\n",
    );
    out.push_str("    edge [color=\"#4a5568\", fontname=\"Helvetica\", fontsize=9];\n");
    for phase in &view.phases {
        let indent = if view.phased {
            let _ = writeln!(
                out,
                "    subgraph {} {{",
                dot_id(&format!("cluster_{}", phase.name))
            );
            let _ = writeln!(out, "        label={};", dot_id(&phase.label()));
            out.push_str("        style=\"filled,rounded\";\n");
            out.push_str("        fillcolor=\"#f4f7fb\";\n");
            out.push_str("        color=\"#c3cfdd\";\n");
            "        "
        } else {
            "    "
        };
        for &n in &phase.nodes {
            let service = view.nodes[n].service;
            let mut attrs: Vec<String> = Vec::new();
            if service.job {
                attrs.push("style=\"filled,rounded,dashed\"".into());
            }
            if service.critical {
                attrs.extend([
                    "color=\"#c62828\"".into(),
                    "penwidth=2".into(),
                    "peripheries=2".into(),
                    "fontname=\"Helvetica-Bold\"".into(),
                ]);
            }
            let id = dot_id(view.nodes[n].name);
            if attrs.is_empty() {
                let _ = writeln!(out, "{indent}{id};");
            } else {
                let _ = writeln!(out, "{indent}{id} [{}];", attrs.join(", "));
            }
        }
        if view.phased {
            out.push_str("    }\n");
        }
    }
    for edge in &view.edges {
        let mut attrs: Vec<String> = Vec::new();
        if let Some(label) = edge.label() {
            attrs.push(format!("label={}", dot_id(label)));
        }
        if edge.optional {
            attrs.push("style=dashed".into());
        }
        let (from, to) = (
            dot_id(view.nodes[edge.from].name),
            dot_id(view.nodes[edge.to].name),
        );
        if attrs.is_empty() {
            let _ = writeln!(out, "    {from} -> {to};");
        } else {
            let _ = writeln!(out, "    {from} -> {to} [{}];", attrs.join(", "));
        }
    }
    out.push_str("}\n");
    out
}

/// What every picture shows, collected once: phases in start order, the enabled services in
/// each, and the dependency edges between enabled services.
struct View<'r> {
    name: &'r str,
    environment: Option<&'r str>,
    /// Whether the registry declares phases; without them the pictures draw no phase boxes
    /// (the SVG still draws one band, as `plan` shows one phase).
    phased: bool,
    /// Phases that hold at least one enabled service, in start order.
    phases: Vec<PhaseView<'r>>,
    /// Phase by phase, in registry order inside a phase.
    nodes: Vec<NodeView<'r>>,
    /// Dependent first, in node order then the order written; no duplicates.
    edges: Vec<EdgeView>,
}

struct PhaseView<'r> {
    name: &'r str,
    /// None for the implicit phase.
    order: Option<i64>,
    timeout: Duration,
    description: Option<&'r str>,
    nodes: Vec<usize>,
}

struct NodeView<'r> {
    name: &'r str,
    service: &'r Service,
    phase: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EdgeView {
    /// The dependent.
    from: usize,
    /// The dependency.
    to: usize,
    condition: Condition,
    optional: bool,
}

impl EdgeView {
    /// What the edge is labelled with: the condition, unless it is the plain `started`.
    fn label(&self) -> Option<&'static str> {
        match self.condition {
            Condition::Started => None,
            c => Some(c.as_str()),
        }
    }
}

impl PhaseView<'_> {
    /// `phase core (order 1, timeout 90s)`.
    fn label(&self) -> String {
        match self.order {
            Some(order) => format!(
                "phase {} (order {order}, timeout {})",
                self.name,
                timeout_text(self.timeout)
            ),
            None => format!(
                "phase {} (timeout {})",
                self.name,
                timeout_text(self.timeout)
            ),
        }
    }
}

impl<'r> View<'r> {
    fn new(reg: &'r Registry) -> View<'r> {
        // Phases start by `order`, ties in declaration order (as `plan` does); services of
        // no (or an unknown) phase come last, in the implicit phase.
        let mut declared: Vec<(usize, &String, &crate::registry::model::Phase)> = reg
            .phases
            .iter()
            .enumerate()
            .map(|(i, (name, phase))| (i, name, phase))
            .collect();
        declared.sort_by_key(|(i, _, phase)| (phase.order, *i));
        let mut phases: Vec<PhaseView> = declared
            .iter()
            .map(|(_, name, phase)| PhaseView {
                name: name.as_str(),
                order: Some(phase.order),
                timeout: phase.timeout,
                description: phase.description.as_deref(),
                nodes: Vec::new(),
            })
            .collect();
        let position: HashMap<&str, usize> = phases
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name, i))
            .collect();
        let mut members: Vec<Vec<&Service>> = vec![Vec::new(); phases.len()];
        let mut implicit: Vec<&Service> = Vec::new();
        for service in reg.enabled_services() {
            let declared = service
                .phase
                .as_ref()
                .and_then(|p| position.get(p.value.as_str()));
            match declared {
                Some(&p) => members[p].push(service),
                None => implicit.push(service),
            }
        }
        if !implicit.is_empty() {
            phases.push(PhaseView {
                name: IMPLICIT_PHASE,
                order: None,
                timeout: DEFAULT_PHASE_TIMEOUT,
                description: None,
                nodes: Vec::new(),
            });
            members.push(implicit);
        }

        let mut kept: Vec<PhaseView> = Vec::new();
        let mut nodes: Vec<NodeView> = Vec::new();
        for (mut phase, services) in phases.into_iter().zip(members) {
            if services.is_empty() {
                continue;
            }
            for service in services {
                phase.nodes.push(nodes.len());
                nodes.push(NodeView {
                    name: service.name.value.as_str(),
                    service,
                    phase: kept.len(),
                });
            }
            kept.push(phase);
        }

        let index: HashMap<&str, usize> =
            nodes.iter().enumerate().map(|(i, n)| (n.name, i)).collect();
        let mut seen: HashSet<(usize, usize)> = HashSet::new();
        let mut edges = Vec::new();
        for (from, node) in nodes.iter().enumerate() {
            for dep in &node.service.depends_on {
                let Some(&to) = index.get(dep.service.value.as_str()) else {
                    continue;
                };
                if seen.insert((from, to)) {
                    edges.push(EdgeView {
                        from,
                        to,
                        condition: reg.effective_condition(dep),
                        optional: dep.optional,
                    });
                }
            }
        }

        View {
            name: reg.name.value.as_str(),
            environment: reg.environment.as_deref(),
            phased: !reg.phases.is_empty(),
            phases: kept,
            nodes,
            edges,
        }
    }
}

/// `90s`, `180s` (as `plan` prints phases); durations that are not whole seconds in Go
/// notation (`1s500ms`).
fn timeout_text(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format_duration(d)
    }
}

/// Identifiers safe in Mermaid (letters, digits, `_`, with a prefix so no name can be a
/// keyword such as `end`), one per name, distinct even when two names map to the same text.
fn unique_ids<'a>(names: impl Iterator<Item = &'a str>, prefix: &str) -> Vec<String> {
    let mut used: HashSet<String> = HashSet::new();
    let mut ids = Vec::new();
    for name in names {
        let base: String = std::iter::once(prefix.to_string())
            .chain(name.chars().map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c.to_string()
                } else {
                    "_".to_string()
                }
            }))
            .collect();
        let mut id = base.clone();
        let mut n = 2;
        while !used.insert(id.clone()) {
            id = format!("{base}_{n}");
            n += 1;
        }
        ids.push(id);
    }
    ids
}

/// Text for inside a double-quoted Mermaid label: characters that Mermaid or its HTML
/// labels would read as syntax become entity codes (`#34;`), line breaks become spaces.
fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' | '#' | '<' | '>' | '&' | '`' | '\\' | '|' | '[' | ']' | '{' | '}' => {
                let _ = write!(out, "#{};", c as u32);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A double-quoted DOT identifier or label: `"` and `\` escaped, line breaks as `\n`.
fn dot_id(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {

    use super::*;
    use std::sync::Arc;

    /// Seven enabled services in three phases: two critical, a job, an optional dependency,
    /// each kind of condition; plus a disabled service that must not appear.
    pub(super) const DEMO: &str = r#"
version: 1
name: demo
phases:
  core:    { order: 1, timeout: 90s, description: Proxy and data stores }
  prepare: { order: 2, timeout: 1m }
  apps:    { order: 3, timeout: 180s }
services:
  proxy:
    image: caddy:2.8
    phase: core
    critical: true
    health: { tcp: { port: 443 } }
  postgres:
    image: postgres:16.4
    phase: core
    critical: true
    health: { exec: ["pg_isready"] }
  cache:
    image: valkey/valkey:8.0
    phase: core
  migrate:
    image: example/migrate:1.0
    phase: prepare
    job: true
    depends_on: [postgres]
  api:
    image: example/api:1.0
    phase: apps
    health: { http: { port: 8080, path: /health } }
    depends_on:
      - postgres
      - migrate
      - { service: cache, optional: true }
  web:
    image: example/web:1.0
    phase: apps
    depends_on: [api, { service: proxy, condition: started }]
  worker:
    image: example/worker:1.0
    phase: apps
    depends_on: [api, cache]
  legacy:
    image: example/legacy:1.0
    phase: apps
    enabled: false
    depends_on: [postgres]
"#;

    pub(super) use crate::check::registry_for_test as registry;

    const ENABLED: [&str; 7] = [
        "proxy", "postgres", "cache", "migrate", "api", "web", "worker",
    ];
    /// (dependent, dependency, condition label, optional)
    const EDGES: [(&str, &str, Option<&str>, bool); 8] = [
        ("migrate", "postgres", Some("healthy"), false),
        ("api", "postgres", Some("healthy"), false),
        ("api", "migrate", Some("completed"), false),
        ("api", "cache", None, true),
        ("web", "api", Some("healthy"), false),
        ("web", "proxy", None, false),
        ("worker", "api", Some("healthy"), false),
        ("worker", "cache", None, false),
    ];

    /// Where each needle first occurs; panics when one is missing.
    fn positions(text: &str, needles: &[&str]) -> Vec<usize> {
        needles
            .iter()
            .map(|n| {
                text.find(n)
                    .unwrap_or_else(|| panic!("`{n}` missing from\n{text}"))
            })
            .collect()
    }

    fn assert_increasing(positions: &[usize]) {
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    }

    #[test]
    fn view_orders_phases_and_keeps_enabled_services() {
        let reg = registry(DEMO);
        let view = View::new(&reg);
        let phases: Vec<&str> = view.phases.iter().map(|p| p.name).collect();
        assert_eq!(phases, ["core", "prepare", "apps"]);
        let names: Vec<&str> = view.nodes.iter().map(|n| n.name).collect();
        assert_eq!(names, ENABLED);
        let edges: Vec<(&str, &str, Option<&str>, bool)> = view
            .edges
            .iter()
            .map(|e| {
                (
                    view.nodes[e.from].name,
                    view.nodes[e.to].name,
                    e.label(),
                    e.optional,
                )
            })
            .collect();
        assert_eq!(edges, EDGES);
        assert_eq!(view.phases[0].label(), "phase core (order 1, timeout 90s)");
        assert_eq!(
            view.phases[1].label(),
            "phase prepare (order 2, timeout 60s)"
        );
    }

    #[test]
    fn phases_follow_order_not_declaration() {
        let reg = registry(
            "version: 1\nname: x\nphases:\n  late: { order: 5 }\n  early: { order: 1 }\n  tie: { order: 5 }\nservices:\n  a: { image: a:1, phase: late }\n  b: { image: b:1, phase: early }\n  c: { image: c:1, phase: tie }\n",
        );
        let view = View::new(&reg);
        let phases: Vec<&str> = view.phases.iter().map(|p| p.name).collect();
        assert_eq!(phases, ["early", "late", "tie"]);
        assert_increasing(&positions(
            &mermaid(&reg),
            &["phase early", "phase late", "phase tie"],
        ));
        assert_increasing(&positions(
            &dot(&reg),
            &["phase early", "phase late", "phase tie"],
        ));
        assert_increasing(&positions(
            &svg(&reg),
            &[">phase early<", ">phase late<", ">phase tie<"],
        ));
    }

    #[test]
    fn mermaid_has_every_service_once_and_every_edge() {
        let reg = registry(DEMO);
        let text = mermaid(&reg);
        assert!(text.starts_with("flowchart RL\n"));
        for name in ENABLED {
            let label = format!("\"{name}\"");
            assert_eq!(text.matches(&label).count(), 1, "{name} in\n{text}");
        }
        assert!(!text.contains("legacy"));
        for (from, to, label, optional) in EDGES {
            let arrow = match (optional, label) {
                (false, None) => "-->".to_string(),
                (false, Some(l)) => format!("-- {l} -->"),
                (true, None) => "-.->".to_string(),
                (true, Some(l)) => format!("-. {l} .->"),
            };
            let line = format!("    svc_{from} {arrow} svc_{to}\n");
            assert!(text.contains(&line), "{line:?} in\n{text}");
        }
        assert!(
            text.contains("svc_migrate([\"migrate\"])"),
            "jobs are stadiums"
        );
        assert!(text.contains("class svc_proxy,svc_postgres critical\n"));
        assert!(text.contains("class svc_migrate job\n"));
        assert_increasing(&positions(
            &text,
            &[
                "subgraph phase_core [\"phase core (order 1, timeout 90s)\"]",
                "subgraph phase_prepare [\"phase prepare (order 2, timeout 60s)\"]",
                "subgraph phase_apps [\"phase apps (order 3, timeout 180s)\"]",
            ],
        ));
        assert_eq!(
            text.matches("subgraph ").count(),
            text.matches("    end\n").count()
        );
    }

    #[test]
    fn dot_has_every_service_once_and_every_edge() {
        let reg = registry(DEMO);
        let text = dot(&reg);
        assert!(text.starts_with("digraph \"demo\" {\n"));
        assert!(text.contains("rankdir=RL"));
        for name in ENABLED {
            let decl = format!("        \"{name}\"");
            assert_eq!(text.matches(&decl).count(), 1, "{name} in\n{text}");
        }
        assert!(!text.contains("legacy"));
        for (from, to, label, optional) in EDGES {
            let mut attrs = Vec::new();
            if let Some(l) = label {
                attrs.push(format!("label=\"{l}\""));
            }
            if optional {
                attrs.push("style=dashed".to_string());
            }
            let line = if attrs.is_empty() {
                format!("    \"{from}\" -> \"{to}\";\n")
            } else {
                format!("    \"{from}\" -> \"{to}\" [{}];\n", attrs.join(", "))
            };
            assert!(text.contains(&line), "{line:?} in\n{text}");
        }
        assert!(text.contains("\"proxy\" [color=\"#c62828\", penwidth=2, peripheries=2"));
        assert!(text.contains("\"migrate\" [style=\"filled,rounded,dashed\"]"));
        assert_increasing(&positions(
            &text,
            &[
                "subgraph \"cluster_core\"",
                "subgraph \"cluster_prepare\"",
                "subgraph \"cluster_apps\"",
            ],
        ));
        assert_eq!(text.matches('{').count(), text.matches('}').count());
    }

    #[test]
    fn svg_has_every_service_once_and_every_edge() {
        let reg = registry(DEMO);
        let text = svg(&reg);
        assert_well_formed(&text);
        for name in ENABLED {
            let label = format!(">{name}</text>");
            assert_eq!(text.matches(&label).count(), 1, "{name}");
        }
        assert!(!text.contains("legacy"));
        for (from, to, label, optional) in EDGES {
            let mut tip = format!("<title>{from} needs {to}");
            if let Some(l) = label {
                tip.push_str(&format!(" ({l})"));
            }
            if optional {
                tip.push_str(", optional");
            }
            tip.push_str("</title>");
            let line = text
                .lines()
                .find(|l| l.contains(&tip))
                .unwrap_or_else(|| panic!("no edge {tip}"));
            assert_eq!(
                line.contains("class=\"edge") && line.contains(" optional\""),
                optional,
                "{line}"
            );
        }
        assert_eq!(
            text.matches("<path class=\"edge").count(),
            EDGES.len() + 4,
            "edges plus legend arrows"
        );
        // One label per bundle: the edges into one service that wait for one condition.
        assert_eq!(
            text.matches("<text class=\"cond healthy\"").count(),
            2,
            "into postgres, into api"
        );
        assert_eq!(
            text.matches("<text class=\"cond completed\"").count(),
            1,
            "into migrate"
        );
        assert_increasing(&positions(
            &text,
            &[">phase core<", ">phase prepare<", ">phase apps<"],
        ));
        assert!(text.contains(">order 1 \u{b7} timeout 90s<"));
        assert_eq!(
            text.matches("class=\"svc critical\"").count(),
            2 + 1,
            "two services and the legend"
        );
        assert_eq!(
            text.matches("class=\"svc job\"").count(),
            1 + 1,
            "one job and the legend"
        );
    }

    #[test]
    fn odd_names_are_escaped() {
        let mut reg = registry(DEMO);
        let rename = |reg: &mut Registry, old: &str, new: &str| {
            let (index, _, mut service) = reg.services.shift_remove_full(old).expect("service");
            Arc::make_mut(&mut service).name.value = new.to_string();
            reg.services.shift_insert(index, new.to_string(), service);
            for s in reg.services.values_mut() {
                for d in &mut Arc::make_mut(s).depends_on {
                    if d.service.value == old {
                        d.service.value = new.to_string();
                    }
                }
            }
        };
        rename(&mut reg, "api", "a\"p<i>&#1;");
        rename(&mut reg, "web", "end");
        rename(&mut reg, "worker", "back\\slash\nline");
        reg.name.value = "demo \"<&>\"".into();
        let (index, _, mut phase) = reg.phases.shift_remove_full("core").expect("phase");
        phase.description = Some("<script>alert('x')</script> & more".into());
        for s in reg.services.values_mut() {
            if s.phase.as_ref().is_some_and(|p| p.value == "core") {
                Arc::make_mut(s).phase.as_mut().expect("phase").value = "co\"re".into();
            }
        }
        reg.phases.shift_insert(index, "co\"re".into(), phase);

        let m = mermaid(&reg);
        assert!(m.contains("[\"a#34;p#60;i#62;#38;#35;1;\"]"), "{m}");
        assert!(m.contains("svc_end[\"end\"]"), "{m}");
        assert!(m.contains("[\"back#92;slash line\"]"), "{m}");
        assert!(
            m.contains("subgraph phase_co_re [\"phase co#34;re (order 1, timeout 90s)\"]"),
            "{m}"
        );
        for line in m.lines() {
            let quotes = line.matches('"').count();
            assert_eq!(quotes % 2, 0, "unbalanced quotes in {line:?}");
        }

        let d = dot(&reg);
        assert!(d.starts_with("digraph \"demo \\\"<&>\\\"\" {"), "{d}");
        assert!(d.contains("\"a\\\"p<i>&#1;\" -> \"postgres\""), "{d}");
        assert!(d.contains("\"back\\\\slash\\nline\""), "{d}");
        assert!(d.contains("subgraph \"cluster_co\\\"re\""), "{d}");

        let s = svg(&reg);
        assert_well_formed(&s);
        assert!(s.contains(">a&quot;p&lt;i&gt;&amp;#1;</text>"), "{s}");
        assert!(s.contains("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; more"));
        assert!(!s.contains("<script"));
    }

    #[test]
    fn registry_without_phases_draws_one_band() {
        let reg = registry(
            "version: 1\nname: flat\nservices:\n  db: { image: postgres:16.4 }\n  app: { image: app:1, depends_on: [db] }\n  off: { image: off:1, enabled: false }\n",
        );
        let m = mermaid(&reg);
        assert!(!m.contains("subgraph"), "{m}");
        assert!(m.contains("    svc_app --> svc_db\n"), "{m}");
        let d = dot(&reg);
        assert!(!d.contains("cluster"), "{d}");
        let s = svg(&reg);
        assert_well_formed(&s);
        assert_eq!(s.matches("class=\"band\"").count(), 1);
        assert!(s.contains(">phase default<") && s.contains(">timeout 120s<"));
    }

    #[test]
    fn empty_registry_still_renders() {
        let reg = registry(
            "version: 1\nname: none\nservices:\n  off: { image: off:1, enabled: false }\n",
        );
        assert_eq!(
            mermaid(&reg),
            "flowchart RL\n    classDef critical stroke:#c62828,stroke-width:3px,font-weight:bold\n    classDef job stroke-dasharray:5 3\n"
        );
        assert!(dot(&reg).ends_with("{\n    graph [rankdir=RL, fontname=\"Helvetica\", fontsize=12, nodesep=0.25, ranksep=0.6];\n    node [shape=box, style=\"filled\", fillcolor=\"#ffffff\", color=\"#4a5568\", fontname=\"Helvetica\", fontsize=11];\n    edge [color=\"#4a5568\", fontname=\"Helvetica\", fontsize=9];\n}\n"));
        let s = svg(&reg);
        assert_well_formed(&s);
        assert!(s.contains("no enabled services"));
    }

    #[test]
    fn output_is_deterministic() {
        let text = synthetic(45);
        let a = registry(&text);
        let b = registry(&text);
        assert_eq!(svg(&a), svg(&b));
        assert_eq!(mermaid(&a), mermaid(&b));
        assert_eq!(dot(&a), dot(&b));
    }

    #[test]
    fn large_registry_svg_is_well_formed_and_complete() {
        let reg = registry(&synthetic(45));
        let s = svg(&reg);
        assert_well_formed(&s);
        for name in reg.services.keys() {
            assert_eq!(s.matches(&format!(">{name}</text>")).count(), 1, "{name}");
        }
        let edges: usize = reg.services.values().map(|s| s.depends_on.len()).sum();
        assert_eq!(s.matches("<path class=\"edge").count(), edges + 4);
    }

    #[test]
    fn snapshot_mermaid() {
        insta::assert_snapshot!(mermaid(&registry(DEMO)));
    }

    #[test]
    fn snapshot_dot() {
        insta::assert_snapshot!(dot(&registry(DEMO)));
    }

    #[test]
    fn snapshot_svg() {
        insta::assert_snapshot!(svg(&registry(DEMO)));
    }

    /// A registry of `n` services in four phases, with dependencies chosen by a fixed
    /// pseudo-random sequence: a few shared stores, jobs, optional dependencies, critical
    /// services.
    pub(super) fn synthetic(n: usize) -> String {
        let mut text = String::from(
            "version: 1\nname: synthetic\nphases:\n  edge: { order: 1, timeout: 60s }\n  data: { order: 2, timeout: 120s }\n  init: { order: 3, timeout: 300s }\n  apps: { order: 4, timeout: 180s }\nservices:\n",
        );
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |m: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m as u64) as usize
        };
        let phase_of = |i: usize| match i * 20 / n {
            0 => "edge",
            1..=4 => "data",
            5..=6 => "init",
            _ => "apps",
        };
        let names: Vec<String> = (0..n)
            .map(|i| {
                let stem = [
                    "proxy",
                    "postgres",
                    "valkey",
                    "minio",
                    "migrate",
                    "seed",
                    "api",
                    "web",
                    "worker",
                    "bot",
                    "grafana",
                    "search",
                    "mail-relay",
                    "auth",
                ][i % 14];
                format!("{stem}-{i}")
            })
            .collect();
        for i in 0..n {
            let phase = phase_of(i);
            let _ = write!(
                text,
                "  {}:\n    image: example/{}:1.0\n    phase: {phase}\n",
                names[i], names[i]
            );
            if phase == "init" {
                text.push_str("    job: true\n");
            }
            if phase != "apps" || next(5) == 0 {
                text.push_str("    health: { tcp: { port: 80 } }\n");
            }
            if i % 7 == 1 {
                text.push_str("    critical: true\n");
            }
            // Dependencies only on earlier services of this or earlier phases.
            let mut deps: Vec<usize> = Vec::new();
            if i > 0 {
                for _ in 0..next(4) {
                    let d = next(i);
                    if !deps.contains(&d) {
                        deps.push(d);
                    }
                }
            }
            if !deps.is_empty() {
                text.push_str("    depends_on:\n");
                for d in deps {
                    if next(6) == 0 {
                        let _ =
                            writeln!(text, "      - {{ service: {}, optional: true }}", names[d]);
                    } else {
                        let _ = writeln!(text, "      - {}", names[d]);
                    }
                }
            }
        }
        text
    }

    /// A small XML well-formedness check: one root element, balanced and properly nested
    /// tags, quoted attributes, no raw `<` or stray `&` in text or attribute values.
    pub(super) fn assert_well_formed(xml: &str) {
        let mut rest = xml;
        if let Some(decl) = rest.strip_prefix("<?xml") {
            let end = decl.find("?>").expect("declaration ends");
            rest = &decl[end + 2..];
        }
        let mut stack: Vec<&str> = Vec::new();
        let mut roots = 0;
        while !rest.is_empty() {
            let Some(open) = rest.find('<') else {
                check_text(rest);
                break;
            };
            check_text(&rest[..open]);
            if stack.is_empty() {
                assert!(
                    rest[..open].trim().is_empty(),
                    "text outside the root: {:?}",
                    &rest[..open]
                );
            }
            rest = &rest[open..];
            if let Some(comment) = rest.strip_prefix("<!--") {
                let end = comment.find("-->").expect("comment ends");
                rest = &comment[end + 3..];
                continue;
            }
            let close = rest.find('>').expect("tag ends");
            let tag = &rest[1..close];
            rest = &rest[close + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack
                    .pop()
                    .unwrap_or_else(|| panic!("</{name}> closes nothing"));
                assert_eq!(open, name.trim(), "mismatched tags");
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name_end = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
            let name = &body[..name_end];
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_:".contains(c)),
                "bad tag name {name:?}"
            );
            check_attributes(&body[name_end..]);
            if stack.is_empty() {
                roots += 1;
            }
            if !self_closing {
                stack.push(name);
            }
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        assert_eq!(roots, 1, "one root element");
    }

    fn check_text(text: &str) {
        assert!(!text.contains('<'), "raw < in {text:?}");
        let mut rest = text;
        while let Some(amp) = rest.find('&') {
            rest = &rest[amp + 1..];
            let end = rest
                .find(';')
                .unwrap_or_else(|| panic!("unterminated entity in {text:?}"));
            let entity = &rest[..end];
            let known = ["amp", "lt", "gt", "quot", "apos"].contains(&entity)
                || (entity.starts_with('#')
                    && entity[1..].chars().all(|c| c.is_ascii_digit())
                    && entity.len() > 1);
            assert!(known, "unknown entity &{entity}; in {text:?}");
        }
    }

    fn check_attributes(mut attrs: &str) {
        let mut seen: Vec<&str> = Vec::new();
        loop {
            attrs = attrs.trim_start();
            if attrs.is_empty() {
                return;
            }
            let eq = attrs
                .find('=')
                .unwrap_or_else(|| panic!("attribute without value: {attrs:?}"));
            let name = attrs[..eq].trim();
            assert!(!seen.contains(&name), "duplicate attribute {name}");
            seen.push(name);
            let value = &attrs[eq + 1..];
            let quote = value.chars().next().expect("a value");
            assert!(quote == '"' || quote == '\'', "unquoted attribute {name}");
            let end = value[1..].find(quote).expect("closing quote") + 1;
            check_text(&value[1..end]);
            attrs = &value[end + 1..];
        }
    }

    #[test]
    fn well_formedness_check_catches_mistakes() {
        assert_well_formed("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t &amp; u</a>\n");
        for bad in [
            "<a><b></a></b>",
            "<a>",
            "<a x=1/>",
            "<a>1 < 2</a>",
            "<a>&nope;</a>",
            "<a/><b/>",
            "<a x=\"<\"/>",
        ] {
            assert!(
                std::panic::catch_unwind(|| assert_well_formed(bad)).is_err(),
                "{bad}"
            );
        }
    }
}
