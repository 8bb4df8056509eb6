//! The sections of a Datamancy registry that are not services: `networks` and `phases`.

use indexmap::IndexMap;

use crate::diagnostic::{Code, Diagnostic};
use crate::import::Draft;
use crate::import::reader::{Reader, key_text};
use crate::registry::yaml::Node;

/// `networks: { NAME: { subnet, description } }` maps one to one.
pub fn networks(r: &mut Reader, draft: &mut Draft, node: &Node) {
    for (key, value) in r.entries(node, "`networks`") {
        let name = key_text(key);
        let owner = format!("network `{name}`");
        draft.mapping(&["networks", &name]);
        for (k, v) in r.entries(value, &owner) {
            let field = key_text(k);
            match field.as_str() {
                "description" | "subnet" => {
                    if let Some(text) = r.string(v, &format!("`{field}` of {owner}")) {
                        draft.set(&["networks", &name, &field], text);
                    }
                }
                "internal" | "external" => match v.value {
                    crate::registry::yaml::Value::Bool(b) => {
                        draft.set(&["networks", &name, &field], b)
                    }
                    _ => r.bad_shape(v, &format!("`{field}` of {owner}"), "true or false"),
                },
                _ => r.unmapped(k, &owner, ""),
            }
        }
    }
}

/// The phases: those the source declares, and those its services name without declaring.
#[derive(Default)]
pub struct Phases {
    /// Name -> order, as declared (or derived from the first service's `phase_order`).
    orders: IndexMap<String, Option<i64>>,
}

impl Phases {
    /// `phases: { NAME: { order, description, timeout_seconds } }`.
    pub fn declare(&mut self, r: &mut Reader, draft: &mut Draft, node: &Node) {
        for (key, value) in r.entries(node, "`phases`") {
            let name = key_text(key);
            let owner = format!("phase `{name}`");
            let mut order = None;
            draft.mapping(&["phases", &name]);
            for (k, v) in r.entries(value, &owner) {
                match key_text(k).as_str() {
                    "order" => match v.value {
                        crate::registry::yaml::Value::Int(n) => {
                            order = Some(n);
                            draft.set(&["phases", &name, "order"], n);
                        }
                        _ => r.bad_shape(v, &format!("`order` of {owner}"), "a whole number"),
                    },
                    "timeout_seconds" => match v.value {
                        crate::registry::yaml::Value::Int(n) if n >= 0 => {
                            draft.set(&["phases", &name, "timeout"], format!("{n}s"));
                        }
                        _ => r.bad_shape(
                            v,
                            &format!("`timeout_seconds` of {owner}"),
                            "a number of seconds",
                        ),
                    },
                    "description" => {
                        if let Some(text) = r.string(v, &format!("`description` of {owner}")) {
                            draft.set(&["phases", &name, "description"], text);
                        }
                    }
                    _ => r.unmapped(k, &owner, ""),
                }
            }
            self.orders.insert(name, order);
        }
    }

    /// A service's `phase` (and `phase_order`, which Datamancy's controller sorts by): an
    /// undeclared phase is declared with that order, and an order that contradicts the
    /// phase's is reported (the phase's own order is kept).
    pub fn used(
        &mut self,
        r: &mut Reader,
        draft: &mut Draft,
        service: &str,
        phase: &Node,
        phase_order: Option<&Node>,
    ) -> Option<String> {
        let name = r.string(phase, &format!("`phase` of `{service}`"))?;
        let given = phase_order.and_then(|n| match n.value {
            crate::registry::yaml::Value::Int(v) => Some((v, n)),
            _ => {
                r.bad_shape(
                    n,
                    &format!("`phase_order` of `{service}`"),
                    "a whole number",
                );
                None
            }
        });
        match (self.orders.get(&name), given) {
            (None, given) => {
                let order = given.map(|(v, _)| v);
                self.orders.insert(name.clone(), order);
                if let Some(order) = order {
                    draft.set(&["phases", &name, "order"], order);
                }
                draft.comment(
                    &["phases", &name],
                    format!("not declared in the source; order from `phase_order` of {service}"),
                );
                r.push(
                    Diagnostic::new(
                        Code::ImportUnknownName,
                        format!("phase `{name}` of `{service}` is not declared under `phases:`"),
                    )
                    .at(phase.span, "undeclared phase")
                    .help(match order {
                        Some(o) => format!("it is declared with order {o} (this service's `phase_order`) and the default timeout"),
                        None => "it is declared without an order; give it one in muster.yaml".into(),
                    }),
                );
            }
            (Some(Some(declared)), Some((given, node))) if *declared != given => {
                r.push(
                    Diagnostic::new(
                        Code::ImportInconsistent,
                        format!(
                            "`{service}` has phase_order {given}, but phase `{name}` has order {declared}"
                        ),
                    )
                    .at(node.span, "contradicts the phase")
                    .help(format!("the phase's order {declared} is kept; muster orders phases, not services")),
                );
            }
            _ => {}
        }
        Some(name)
    }
}
