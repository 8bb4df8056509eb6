//! hatmax's Nomad resources (`cpu` in MHz, `memory` in MB) as muster resources.
//!
//! muster counts CPUs and converts them to MHz with `engines.nomad.mhz_per_cpu`; the import
//! fixes that at 1000, so `cpu: 256` becomes `cpus: 0.256` and is generated as 256 MHz again.

use serde_norway::{Mapping, Value};

use crate::import::Draft;
use crate::import::reader::{Reader, insert, key_text};
use crate::registry::yaml::{self, Node};

/// MHz per CPU the imported registry declares.
const MHZ_PER_CPU: i64 = 1000;

/// `{ cpu, memory }` as `{ cpus, memory }`.
pub fn map(r: &mut Reader, node: &Node, what: &str) -> Option<Value> {
    let mut out = Mapping::new();
    for (k, v) in r.entries(node, what) {
        let field = key_text(k);
        let yaml::Value::Int(n) = v.value else {
            match field.as_str() {
                "cpu" | "memory" => {
                    r.bad_shape(v, &format!("`{field}` of {what}"), "a whole number")
                }
                _ => r.unmapped(k, what, ""),
            }
            continue;
        };
        match field.as_str() {
            "cpu" => insert(&mut out, "cpus", n as f64 / MHZ_PER_CPU as f64),
            "memory" => insert(&mut out, "memory", format!("{n}M")),
            _ => r.unmapped(k, what, ""),
        }
    }
    (!out.is_empty()).then_some(Value::Mapping(out))
}

/// Declares the MHz per CPU the converted values assume.
pub fn declare_mhz(draft: &mut Draft) {
    draft.set(&["engines", "nomad", "mhz_per_cpu"], MHZ_PER_CPU);
    draft.comment(
        &["engines", "nomad", "mhz_per_cpu"],
        "hatmax gives CPU in MHz: `cpus` here are those MHz / 1000",
    );
}
