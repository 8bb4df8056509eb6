//! `extra.nomad.{job,group,task}`: verbatim additions merged last into the job, group and
//! task blocks (REGISTRY.md's escape hatch).
//!
//! JSON has no blocks, so the shape decides: an object is a block (merged key by key into a
//! block of that name when there is one), a list of objects is repeated blocks (replacing
//! blocks of that name), anything else is an attribute (replacing one of that name). Blocks
//! with labels (`volume "data" {...}`) cannot be written this way.

use hcl::{Attribute, Block, Body, Expression, Identifier, Structure};

use crate::registry::model::Verbatim;

/// Merges the entries of `extra` (an object; anything else is ignored) into `body`.
pub fn merge(body: &mut Body, extra: &Verbatim) {
    let Some(entries) = extra.as_object() else {
        return;
    };
    for (key, value) in entries {
        let ident = Identifier::sanitized(key);
        match value {
            Verbatim::Object(_) => {
                let existing = body.0.iter_mut().find_map(|s| match s {
                    Structure::Block(b) if b.identifier == ident && b.labels.is_empty() => Some(b),
                    _ => None,
                });
                match existing {
                    Some(block) => merge(&mut block.body, value),
                    None => {
                        remove(body, &ident);
                        body.0.push(Structure::Block(block(&ident, value)));
                    }
                }
            }
            Verbatim::Array(items)
                if !items.is_empty() && items.iter().all(Verbatim::is_object) =>
            {
                remove(body, &ident);
                for item in items {
                    body.0.push(Structure::Block(block(&ident, item)));
                }
            }
            _ => {
                let attr = Attribute::new(ident.clone(), expression(value));
                let position = body
                    .0
                    .iter()
                    .position(|s| matches!(s, Structure::Attribute(a) if a.key == ident));
                remove(body, &ident);
                match position {
                    Some(i) => body
                        .0
                        .insert(i.min(body.0.len()), Structure::Attribute(attr)),
                    None => body.0.push(Structure::Attribute(attr)),
                }
            }
        }
    }
}

/// Removes attributes and unlabelled blocks named `ident`.
fn remove(body: &mut Body, ident: &Identifier) {
    body.0.retain(|s| match s {
        Structure::Attribute(a) => a.key != *ident,
        Structure::Block(b) => !(b.identifier == *ident && b.labels.is_empty()),
    });
}

fn block(ident: &Identifier, value: &Verbatim) -> Block {
    let mut b = Block::new(ident.clone());
    merge(&mut b.body, value);
    b
}

fn expression(value: &Verbatim) -> Expression {
    // A JSON value always serializes (its keys are strings).
    hcl::to_expression(value).unwrap_or(Expression::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_blocks_and_scalars_attributes() {
        let mut body = Body::builder()
            .add_attribute(("driver", "docker"))
            .add_block(
                Block::builder("config")
                    .add_attribute(("image", "x"))
                    .build(),
            )
            .build();
        let extra = serde_json::json!({
            "driver": "exec",
            "config": { "command": "./todo", "args": ["-v"] },
            "constraint": [{ "attribute": "${attr.kernel.name}", "value": "linux" }],
            "meta": { "team": "a" },
        });
        merge(&mut body, &extra);
        let text = hcl::format::to_string(&body).unwrap();
        assert!(text.starts_with("driver = \"exec\"\n"), "{text}");
        assert!(
            text.contains("image = \"x\"\n  args = [\n    \"-v\"\n  ]\n  command = \"./todo\""),
            "{text}"
        );
        assert!(
            text.contains("constraint {\n  attribute = \"$${attr.kernel.name}\""),
            "{text}"
        );
        assert!(text.contains("meta {\n  team = \"a\"\n}"), "{text}");
    }
}
