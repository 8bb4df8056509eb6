use std::collections::HashSet;
use std::sync::Arc;

use super::*;
use crate::registry::load;
use crate::source::SourceFile;

use crate::check::registry_for_test as registry;

const STACK: &str = r#"
version: 1
name: t
phases:
  core: { order: 1, timeout: 90s }
  apps: { order: 2, timeout: 3m }
groups:
  bots: { services: [discord-bot, stream-bot] }
  all-public: { groups: [bots] }
services:
  postgres: { image: "postgres:16", phase: core, health: { exec: [pg_isready] } }
  redis: { image: "redis:7", phase: core }
  migrate: { image: "app:1", phase: core, job: true, depends_on: [postgres] }
  discord-bot: { image: "bot:1", phase: apps, depends_on: [postgres, migrate] }
  stream-bot: { image: "bot:1", phase: apps, depends_on: [redis, { service: homeassistant, optional: true }] }
  homeassistant: { image: "ha:1", phase: apps }
  web: { image: "web:1", phase: apps, depends_on: [redis] }
"#;

fn select(reg: &Registry, words: &[&str]) -> Vec<Selected> {
    let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    resolve_selection(reg, &words).unwrap()
}

#[test]
fn a_group_pulls_in_its_required_dependencies_only() {
    let reg = registry(STACK);
    let g = DepGraph::new(&reg);
    let closure = g.closure(&select(&reg, &["bots"]), &HashSet::new());
    let names: Vec<&str> = closure.services.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["postgres", "redis", "migrate", "discord-bot", "stream-bot"]
    );
    assert_eq!(
        closure.services["discord-bot"],
        Reason::Selected("group bots".into())
    );
    assert_eq!(
        closure.services["postgres"],
        Reason::NeededBy(vec!["discord-bot".into(), "postgres".into()])
    );
}

#[test]
fn optional_dependencies_join_when_running_or_selected() {
    let reg = registry(STACK);
    let g = DepGraph::new(&reg);
    let running = HashSet::from(["homeassistant".to_string()]);
    let closure = g.closure(&select(&reg, &["stream-bot"]), &running);
    assert!(closure.services.contains_key("homeassistant"));
    let closure = g.closure(
        &select(&reg, &["stream-bot", "homeassistant"]),
        &HashSet::new(),
    );
    assert_eq!(
        closure.services["homeassistant"],
        Reason::Selected("selected".into())
    );
}

#[test]
fn nested_groups_select_their_members() {
    let reg = registry(STACK);
    let picked: Vec<String> = select(&reg, &["all-public"])
        .into_iter()
        .map(|s| s.service)
        .collect();
    assert_eq!(picked, ["discord-bot", "stream-bot"]);
}

#[test]
fn all_group_members_agrees_with_one_group_at_a_time() {
    // Nesting, a loop between groups, a member listed both ways, an undeclared group (an
    // error `check` reports, which renderers still meet when asked to render anyway).
    let text = STACK
        .replace(
            "all-public: { groups: [bots] }",
            "all-public: { groups: [bots, loop] }\n  loop: { groups: [all-public], services: [web] }",
        )
        .replace("web: { image: \"web:1\",", "web: { image: \"web:1\", groups: [loop, adhoc],");
    let reg = load(Arc::new(SourceFile::new("muster.yaml", text)), None)
        .registry
        .expect("decoded");
    let all = selection::all_group_members(&reg);
    let names: Vec<&str> = all.keys().copied().collect();
    assert_eq!(names, ["bots", "all-public", "loop", "adhoc"]);
    for (group, members) in &all {
        assert_eq!(members, &selection::group_members(&reg, group), "{group}");
    }
    assert_eq!(all["all-public"], ["discord-bot", "stream-bot", "web"]);
}

#[test]
fn the_plan_orders_phases_and_dependencies() {
    let reg = registry(STACK);
    let g = DepGraph::new(&reg);
    let plan = g.plan(&g.closure(&select(&reg, &["all"]), &HashSet::new()));
    let phases: Vec<(&str, Vec<&str>)> = plan
        .phases
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.services.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        phases,
        [
            ("core", vec!["postgres", "redis", "migrate"]),
            // homeassistant is selected too, so the optional dependency orders it first.
            (
                "apps",
                vec!["discord-bot", "homeassistant", "stream-bot", "web"]
            ),
        ]
    );
    assert_eq!(plan.phases[1].timeout, Duration::from_secs(180));
}

#[test]
fn dependencies_start_first_inside_a_phase() {
    let reg = registry(
        "version: 1\nname: t\nservices:\n  a: { image: 'a:1', depends_on: [b] }\n  b: { image: 'b:1', depends_on: [c] }\n  c: { image: 'c:1' }\n",
    );
    let g = DepGraph::new(&reg);
    let plan = g.plan(&g.closure(&select(&reg, &["a"]), &HashSet::new()));
    assert_eq!(plan.phases.len(), 1);
    assert_eq!(plan.phases[0].name, IMPLICIT_PHASE);
    assert_eq!(plan.phases[0].services, ["c", "b", "a"]);
}

#[test]
fn cycles_are_found_as_paths() {
    let text = "version: 1\nname: t\nservices:\n  a: { image: 'a:1', depends_on: [b] }\n  b: { image: 'b:1', depends_on: [c] }\n  c: { image: 'c:1', depends_on: [a] }\n  d: { image: 'd:1', depends_on: [d] }\n";
    let loaded = load(Arc::new(SourceFile::new("muster.yaml", text)), None);
    let reg = loaded.registry.unwrap();
    let cycles = DepGraph::new(&reg).cycles();
    assert_eq!(cycles, vec![vec!["a", "b", "c", "a"], vec!["d", "d"]]);
}

#[test]
fn unknown_selection_suggests_a_name() {
    let reg = registry(STACK);
    let err = resolve_selection(&reg, &["postgress".to_string()]).unwrap_err();
    assert_eq!(
        err,
        SelectionError::Unknown {
            name: "postgress".into(),
            suggestion: Some("postgres".into())
        }
    );
}

#[test]
fn phases_select_their_services() {
    let reg = registry(STACK);
    let picked: Vec<String> = select(&reg, &["core"])
        .into_iter()
        .map(|s| s.service)
        .collect();
    assert_eq!(picked, ["postgres", "redis", "migrate"]);
}

#[test]
fn a_dependency_written_twice_still_orders_correctly() {
    let reg = registry(
        "version: 1\nname: t\nservices:\n  a: { image: 'a:1', depends_on: [b] }\n  b: { image: 'b:1', depends_on: [c, c] }\n  c: { image: 'c:1' }\n",
    );
    let g = DepGraph::new(&reg);
    let plan = g.plan(&g.closure(&select(&reg, &["all"]), &HashSet::new()));
    assert_eq!(plan.phases[0].services, ["c", "b", "a"]);
}

#[test]
fn huge_phase_orders_do_not_overflow() {
    let reg = registry(
        "version: 1\nname: t\nphases:\n  first: { order: 1 }\n  last: { order: 9223372036854775807 }\nservices:\n  a: { image: 'a:1', phase: first }\n  b: { image: 'b:1', phase: last }\n",
    );
    let g = DepGraph::new(&reg);
    let plan = g.plan(&g.closure(&select(&reg, &["all"]), &HashSet::new()));
    let names: Vec<&str> = plan.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["first", "last"]);
}
