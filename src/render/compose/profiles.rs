//! Groups as Compose profiles (REGISTRY.md "Groups on Compose").
//!
//! A service in no group is core: no profile, always on. A grouped service's profiles are its
//! groups (including every group that contains one of them) plus the profiles of every service
//! that requires it, transitively, so `--profile bots` starts the bots and what they need and
//! nothing of other groups. One case the rule leaves open: a core service that requires a
//! grouped one. Core is always on, so what it needs must be always on too, or Compose would
//! start core without its dependency (v1 refuses, v2 fails the project). Such a service is
//! core as well: no profiles. Optional dependencies pull nothing in, so they play no part.

use std::collections::{BTreeSet, HashMap};

use crate::graph::selection::all_group_members;
use crate::registry::model::Registry;

/// Profiles per enabled service, sorted; an absent or empty entry means core.
pub fn profiles(reg: &Registry) -> HashMap<&str, Vec<String>> {
    let names: Vec<&str> = reg
        .enabled_services()
        .map(|s| s.name.value.as_str())
        .collect();
    let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();

    // Membership, through nested groups too. Services may name groups that are not
    // declared under `groups:`; those count as groups all the same.
    let mut groups: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); names.len()];
    for (g, members) in all_group_members(reg) {
        for member in members {
            if let Some(&i) = index.get(member.as_str()) {
                groups[i].insert(g);
            }
        }
    }

    // Required edges between enabled services: service -> what it requires.
    let requires: Vec<Vec<usize>> = reg
        .enabled_services()
        .map(|s| {
            let mut deps: Vec<usize> = s
                .depends_on
                .iter()
                .filter(|d| !d.optional)
                .filter_map(|d| index.get(d.service.value.as_str()).copied())
                .filter(|&d| names[d] != s.name.value)
                .collect();
            deps.sort_unstable();
            deps.dedup();
            deps
        })
        .collect();
    let mut dependents = vec![0usize; names.len()];
    for deps in &requires {
        for &d in deps {
            dependents[d] += 1;
        }
    }

    // Dependents before their dependencies (Kahn's order on the reversed edges), carrying
    // what each service's dependents contribute. Services left in a cycle (an error `check`
    // reports) keep what reached them.
    let mut core = vec![false; names.len()];
    let mut inherited: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); names.len()];
    let mut ready: Vec<usize> = (0..names.len()).filter(|&i| dependents[i] == 0).collect();
    while let Some(i) = ready.pop() {
        core[i] = core[i] || groups[i].is_empty();
        let own: BTreeSet<&str> = if core[i] {
            BTreeSet::new()
        } else {
            groups[i].union(&inherited[i]).copied().collect()
        };
        for &d in &requires[i] {
            if core[i] {
                core[d] = true;
            } else {
                inherited[d].extend(own.iter().copied());
            }
            dependents[d] -= 1;
            if dependents[d] == 0 {
                ready.push(d);
            }
        }
        inherited[i] = own;
    }
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| !(core[*i] || groups[*i].is_empty()))
        .map(|(i, name)| {
            let all: BTreeSet<&str> = groups[i].union(&inherited[i]).copied().collect();
            (*name, all.into_iter().map(String::from).collect())
        })
        .collect()
}
