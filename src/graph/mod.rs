//! The dependency graph: what a selection pulls in, in which order things start, and the
//! structural mistakes (cycles) that make a stack impossible to start.
//!
//! Everything here is pure and deterministic: ties are broken by registry order, so `plan`,
//! `up` and the generated files agree run after run.

pub mod selection;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use indexmap::IndexMap;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::registry::model::{DEFAULT_PHASE_TIMEOUT, Registry};

pub use selection::{Selected, SelectionError, resolve_selection};

/// The name of the phase that holds every service when a registry declares no phases.
pub const IMPLICIT_PHASE: &str = "default";

/// Services and their dependency edges (dependent -> dependency), in registry order.
pub struct DepGraph<'r> {
    reg: &'r Registry,
    graph: DiGraph<&'r str, bool>,
    index: foldhash::HashMap<&'r str, NodeIndex>,
}

impl<'r> DepGraph<'r> {
    /// Builds the graph of every service (enabled or not); edges to unknown services are
    /// left out (the checker reports them).
    pub fn new(reg: &'r Registry) -> DepGraph<'r> {
        let mut graph = DiGraph::new();
        let mut index = foldhash::HashMap::default();
        for name in reg.services.keys() {
            index.insert(name.as_str(), graph.add_node(name.as_str()));
        }
        for (name, service) in &reg.services {
            for dep in &service.depends_on {
                if let Some(&to) = index.get(dep.service.value.as_str()) {
                    graph.add_edge(index[name.as_str()], to, dep.optional);
                }
            }
        }
        DepGraph { reg, graph, index }
    }

    /// Every dependency cycle, each as a path that starts and ends at the same service,
    /// starting from the service declared first. Optional dependencies count: Compose would
    /// refuse them too.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let position = |n: NodeIndex| self.reg.services.get_index_of(self.graph[n]).unwrap_or(0);
        let mut cycles = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            let self_loop = scc.len() == 1 && self.graph.contains_edge(scc[0], scc[0]);
            if scc.len() < 2 && !self_loop {
                continue;
            }
            let members: HashSet<NodeIndex> = scc.iter().copied().collect();
            let start = *scc.iter().min_by_key(|n| position(**n)).expect("non-empty");
            cycles.push(self.cycle_path(start, &members, &position));
        }
        cycles.sort_by_key(|c| self.reg.services.get_index_of(c[0].as_str()));
        cycles
    }

    /// A shortest cycle through `start` inside one strongly connected component.
    fn cycle_path(
        &self,
        start: NodeIndex,
        members: &HashSet<NodeIndex>,
        position: &dyn Fn(NodeIndex) -> usize,
    ) -> Vec<String> {
        let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            let mut next: Vec<NodeIndex> = self
                .graph
                .neighbors(node)
                .filter(|n| members.contains(n))
                .collect();
            next.sort_by_key(|n| position(*n));
            for n in next {
                if n == start {
                    let mut path = vec![self.graph[start].to_string()];
                    let mut at = node;
                    while at != start {
                        path.push(self.graph[at].to_string());
                        at = parent[&at];
                    }
                    path.push(self.graph[start].to_string());
                    let last = path.len() - 1;
                    path[1..last].reverse();
                    return path;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(n) {
                    e.insert(node);
                    queue.push_back(n);
                }
            }
        }
        vec![self.graph[start].to_string()]
    }

    /// The required dependencies of `service` (and optional ones that `include_optional`
    /// accepts), in the order written.
    fn dependencies<'a>(
        &'a self,
        service: &str,
        include_optional: &'a dyn Fn(&str) -> bool,
    ) -> impl Iterator<Item = &'r str> + 'a {
        let reg = self.reg;
        reg.services
            .get(service)
            .into_iter()
            .flat_map(|s| s.depends_on.iter())
            .filter(move |d| !d.optional || include_optional(&d.service.value))
            .filter_map(move |d| {
                reg.services
                    .get_key_value(d.service.value.as_str())
                    .map(|(k, _)| k.as_str())
            })
    }

    /// Services that depend on `service` (directly), in registry order.
    pub fn dependents(&self, service: &str) -> Vec<&'r str> {
        let Some(&node) = self.index.get(service) else {
            return Vec::new();
        };
        let mut out: Vec<&str> = self
            .graph
            .neighbors_directed(node, petgraph::Direction::Incoming)
            .map(|n| self.graph[n])
            .collect();
        out.sort_by_key(|n| self.reg.services.get_index_of(*n));
        out.dedup();
        out
    }

    /// Everything `selected` needs: required dependencies transitively, optional ones only
    /// when they are selected too or in `running`. Each service comes with why it is there.
    pub fn closure(&self, selected: &[Selected], running: &HashSet<String>) -> Closure {
        let chosen: HashSet<&str> = selected.iter().map(|s| s.service.as_str()).collect();
        let include_optional = |name: &str| chosen.contains(name) || running.contains(name);
        let mut reasons: IndexMap<String, Reason> = IndexMap::new();
        let mut queue: VecDeque<(String, Vec<String>)> = VecDeque::new();
        for s in selected {
            if !reasons.contains_key(&s.service) {
                reasons.insert(s.service.clone(), Reason::Selected(s.by.clone()));
                queue.push_back((s.service.clone(), vec![s.service.clone()]));
            }
        }
        // Breadth first, so each pulled-in service is explained by a shortest path.
        while let Some((service, path)) = queue.pop_front() {
            for dep in self.dependencies(&service, &include_optional) {
                if reasons.contains_key(dep) {
                    continue;
                }
                let mut dep_path = path.clone();
                dep_path.push(dep.to_string());
                reasons.insert(dep.to_string(), Reason::NeededBy(dep_path.clone()));
                queue.push_back((dep.to_string(), dep_path));
            }
        }
        reasons.sort_by_cached_key(|name, _| self.reg.services.get_index_of(name.as_str()));
        Closure { services: reasons }
    }

    /// The startup plan of a closure: phases in order, and inside each phase the services
    /// in an order where every service comes after its dependencies.
    pub fn plan(&self, closure: &Closure) -> Plan {
        let mut phases: Vec<PlannedPhase> = Vec::new();
        // Sorted by (declared?, order, declaration position): undeclared phases go last.
        let phase_of = |service: &str| -> (PhaseKey, String) {
            let s = &self.reg.services[service];
            match s
                .phase
                .as_ref()
                .and_then(|p| self.reg.phases.get_full(&p.value))
            {
                Some((position, name, phase)) => ((false, phase.order, position), name.clone()),
                None => ((true, 0, 0), IMPLICIT_PHASE.to_string()),
            }
        };
        let mut by_phase: IndexMap<String, (PhaseKey, Vec<&str>)> = IndexMap::new();
        for name in closure.services.keys() {
            let (key, phase) = phase_of(name);
            by_phase
                .entry(phase)
                .or_insert((key, Vec::new()))
                .1
                .push(name.as_str());
        }
        by_phase.sort_by(|_, a, _, b| a.0.cmp(&b.0));
        for (phase, (_, members)) in by_phase {
            let declared = self.reg.phases.get(&phase);
            phases.push(PlannedPhase {
                timeout: declared.map(|p| p.timeout).unwrap_or(DEFAULT_PHASE_TIMEOUT),
                order: declared.map(|p| p.order),
                services: self.topological(&members),
                name: phase,
            });
        }
        Plan { phases }
    }

    /// Kahn's algorithm over `members`, ties broken by registry order; members left in a
    /// cycle are appended in registry order (the checker reports the cycle). Linear in the
    /// members and their edges (plus a log factor for the ready queue).
    fn topological(&self, members: &[&str]) -> Vec<String> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let position = |name: &str| self.reg.services.get_index_of(name).unwrap_or(usize::MAX);
        let set: HashSet<&str> = members.iter().copied().collect();
        let include_all = |_: &str| true;
        let mut pending: HashMap<&str, usize> = HashMap::new();
        let mut dependents: HashMap<&str, Vec<&str>> = HashMap::new();
        for &m in members {
            // A dependency written twice is one edge.
            let deps: HashSet<&str> = self
                .dependencies(m, &include_all)
                .filter(|d| set.contains(d) && *d != m)
                .collect();
            pending.insert(m, deps.len());
            for d in deps {
                dependents.entry(d).or_default().push(m);
            }
        }
        let mut ready: BinaryHeap<Reverse<(usize, &str)>> = members
            .iter()
            .filter(|m| pending[**m] == 0)
            .map(|m| Reverse((position(m), *m)))
            .collect();
        let mut order = Vec::with_capacity(members.len());
        let mut done: HashSet<&str> = HashSet::new();
        while let Some(Reverse((_, next))) = ready.pop() {
            done.insert(next);
            order.push(next.to_string());
            for &dependent in dependents.get(next).map(Vec::as_slice).unwrap_or(&[]) {
                let count = pending.get_mut(dependent).expect("member");
                *count -= 1;
                if *count == 0 {
                    ready.push(Reverse((position(dependent), dependent)));
                }
            }
        }
        order.extend(
            members
                .iter()
                .filter(|m| !done.contains(**m))
                .map(|m| m.to_string()),
        );
        order
    }
}

/// Sorts phases: (undeclared, order, declaration position); undeclared phases go last.
type PhaseKey = (bool, i64, usize);

/// Why a service is part of a closure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Named by the selection (how: "selected", "group bots", "phase core", "all").
    Selected(String),
    /// Pulled in: the path from a selected service down to this one.
    NeededBy(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    /// In registry order.
    pub services: IndexMap<String, Reason>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub phases: Vec<PlannedPhase>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPhase {
    pub name: String,
    /// None for the implicit phase of a registry without phases.
    pub order: Option<i64>,
    pub timeout: Duration,
    /// In start order.
    pub services: Vec<String>,
}

#[cfg(test)]
mod tests;
