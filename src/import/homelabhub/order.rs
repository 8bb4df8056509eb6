//! The catalog's `startup_order` as phases: one phase per order, `startup-<n>`, each service
//! in the phase of its order.

use std::collections::BTreeSet;

use super::Entry;
use crate::diagnostic::{Code, Diagnostic};
use crate::import::Draft;
use crate::import::reader::Reader;
use crate::registry::yaml::{self};

fn phase_name(order: i64) -> String {
    format!("startup-{order}")
}

pub fn phases(r: &mut Reader, draft: &mut Draft, entries: &[Entry]) {
    let mut orders = BTreeSet::new();
    let mut missing = Vec::new();
    for entry in entries.iter().filter(|e| e.compose.is_some()) {
        match entry.def.get("startup_order").map(|n| (n, &n.value)) {
            Some((_, yaml::Value::Int(order))) => {
                orders.insert(*order);
                draft.set(&["services", &entry.name, "phase"], phase_name(*order));
            }
            Some((node, _)) => r.bad_shape(node, "`startup_order`", "a whole number"),
            None => missing.push(entry),
        }
    }
    if orders.is_empty() {
        return;
    }
    for order in &orders {
        let name = phase_name(*order);
        draft.set(&["phases", &name, "order"], *order);
        draft.set(
            &["phases", &name, "description"],
            format!("startup_order {order} of the catalog"),
        );
    }
    for entry in missing {
        r.push(
            Diagnostic::new(
                Code::ImportUnknownName,
                format!("`{}` has no `startup_order`, but the others do", entry.name),
            )
            .at(entry.key.span, "in no phase")
            .help("with phases, every service needs one; give it a `phase` in muster.yaml"),
        );
    }
}
