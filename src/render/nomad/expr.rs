//! Registry strings as HCL expressions of a Nomad job file.
//!
//! Nomad has its own interpolation for the registry's `${VAR}`: HCL2 input variables. A
//! variable a job uses is declared at the top of its file (`variable "DOMAIN" {...}`) and
//! referenced as `${var.DOMAIN}`; `nomad job run` takes its value from `-var`, `-var-file` or
//! `NOMAD_VAR_DOMAIN` (which `deploy.sh` fills from the registry's `.env`), and refuses to run
//! without a value for a variable the registry declares `required` with no default. So the
//! job files stay free of values, like the Compose files keep `${VAR}`.
//!
//! `${VAR:-x}` and `${VAR-x}` both become `var.VAR != "" ? var.VAR : "x"`: an HCL variable is
//! always set (to `""` when the registry gives no default), so unset and empty are one case.
//! `${host:NAME}` is NAME's Consul DNS name, as `muster secrets export nomad` resolves it.
//! Literal text is escaped by the HCL writer, so a registry `$${X}` reaches Nomad as `${X}`
//! (Nomad's runtime interpolation, e.g. `${NOMAD_ALLOC_DIR}`).

use std::collections::BTreeSet;

use hcl::expr::{BinaryOp, BinaryOperator, Conditional, Traversal, Variable};
use hcl::template::{Interpolation, Template as HclTemplate};
use hcl::{Block, Expression, TemplateExpr};

use crate::registry::model::Registry;
use crate::registry::values::{Part, Template, VarOp, parse_template};

/// How a task reaches `service`: its Consul DNS name (`postgres.service.consul`), the name it
/// registers under (`_` is not allowed in Consul service names).
pub fn host(service: &str) -> String {
    format!("{}.service.consul", consul_name(service))
}

/// The Consul service name of a registry service.
pub fn consul_name(service: &str) -> String {
    service.replace('_', "-")
}

/// The registry variables one job file uses, for its `variable` blocks.
#[derive(Debug, Default)]
pub struct Vars {
    used: BTreeSet<String>,
}

impl Vars {
    /// A registry string (with placeholders) as an expression; secrets are left out (callers
    /// keep secret-bearing values out of job files).
    pub fn text(&mut self, s: &str) -> Expression {
        if !s.contains('$') {
            return Expression::String(s.to_string());
        }
        match parse_template(s) {
            Ok(t) => self.template(&t),
            // `check` reports a malformed placeholder; keep the text rather than guess.
            Err(_) => Expression::String(s.to_string()),
        }
    }

    /// A parsed registry string as an expression: a plain string when it has no variable,
    /// else an HCL template.
    pub fn template(&mut self, t: &Template) -> Expression {
        if t.variables().next().is_none() {
            let plain = t
                .resolve(&|_| None, &host, &|_| String::new())
                .unwrap_or_default();
            return Expression::String(plain);
        }
        let mut out = HclTemplate::new();
        for part in &t.parts {
            out = match part {
                Part::Text(text) => literal(out, text),
                Part::Host { name, .. } => literal(out, &host(name)),
                Part::Secret { .. } => out,
                Part::Var { name, op, arg, .. } => {
                    let var = self.var(name);
                    let expr = match (op, arg) {
                        (Some(VarOp::DefaultIfUnset | VarOp::DefaultIfUnsetOrEmpty), Some(arg)) => {
                            let fallback = self.template(arg);
                            let set = BinaryOp::new(
                                var.clone(),
                                BinaryOperator::NotEq,
                                Expression::String(String::new()),
                            );
                            Expression::from(Conditional::new(set, var, fallback))
                        }
                        _ => var,
                    };
                    out.add_interpolation(Interpolation::new(expr))
                }
            };
        }
        Expression::from(TemplateExpr::QuotedString(out.to_string()))
    }

    /// `var.NAME`, remembered as used.
    pub fn var(&mut self, name: &str) -> Expression {
        self.used.insert(name.to_string());
        Expression::from(
            Traversal::builder(Variable::unchecked("var"))
                .attr(name)
                .build(),
        )
    }

    /// A `variable` block for every variable used, sorted by name: with the registry's
    /// default; none when the registry requires a value and gives no default (Nomad then
    /// refuses to run the job without one); `""` otherwise.
    pub fn blocks(&self, reg: &Registry) -> Vec<Block> {
        self.used
            .iter()
            .map(|name| {
                let declared = reg.variables.get(name);
                let mut b = Block::builder("variable")
                    .add_label(name.as_str())
                    .add_attribute(("type", Expression::Variable(Variable::unchecked("string"))));
                if let Some(d) = declared.and_then(|v| v.description.as_ref()) {
                    b = b.add_attribute(("description", d.as_str()));
                }
                let default = match declared {
                    Some(v) => v.default.clone().or((!v.required).then(String::new)),
                    None => Some(String::new()),
                };
                if let Some(default) = default {
                    b = b.add_attribute(("default", default));
                }
                b.build()
            })
            .collect()
    }

    /// The names used, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.used.iter().map(String::as_str)
    }
}

/// Adds literal text to a template. A `$` or `%` right before an interpolation would read as
/// the escape `$${` or `%%{`, so a trailing one is written as the interpolation `${"$"}`.
fn literal(t: HclTemplate, text: &str) -> HclTemplate {
    match text.char_indices().last() {
        Some((i, c @ ('$' | '%'))) => {
            let t = if i > 0 {
                t.add_literal(quoted_literal(&text[..i]))
            } else {
                t
            };
            t.add_interpolation(Interpolation::new(Expression::String(c.to_string())))
        }
        _ => t.add_literal(quoted_literal(text)),
    }
}

/// Literal text for a quoted HCL template: quotes, backslashes and control characters
/// escaped here; the template writer escapes `${` and `%{` itself.
fn quoted_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::Variable as RegistryVariable;

    fn render(e: &Expression) -> String {
        let body = hcl::Body::builder().add_attribute(("v", e.clone())).build();
        hcl::format::to_string(&body).unwrap()
    }

    #[test]
    fn plain_strings_are_escaped_by_the_writer() {
        let mut vars = Vars::default();
        assert_eq!(render(&vars.text("a\"b")), "v = \"a\\\"b\"\n");
        assert_eq!(
            render(&vars.text("$${NOMAD_ALLOC_DIR}/x")),
            "v = \"$${NOMAD_ALLOC_DIR}/x\"\n"
        );
        assert_eq!(
            render(&vars.text("redis://${host:my_cache}:6379")),
            "v = \"redis://my-cache.service.consul:6379\"\n"
        );
        assert_eq!(vars.names().count(), 0);
    }

    #[test]
    fn variables_become_hcl_variables() {
        let mut vars = Vars::default();
        assert_eq!(
            render(&vars.text("https://api.${DOMAIN}/\"x\"")),
            "v = \"https://api.${var.DOMAIN}/\\\"x\\\"\"\n"
        );
        assert_eq!(
            render(&vars.text("${LEVEL:-info}")),
            "v = \"${var.LEVEL != \"\" ? var.LEVEL : \"info\"}\"\n"
        );
        let mut reg = Registry::default();
        reg.variables.insert(
            "DOMAIN".into(),
            RegistryVariable {
                required: true,
                description: Some("Public domain".into()),
                ..Default::default()
            },
        );
        let blocks: Vec<String> = vars
            .blocks(&reg)
            .into_iter()
            .map(|b| hcl::format::to_string(&hcl::Body::builder().add_block(b).build()).unwrap())
            .collect();
        assert_eq!(
            blocks,
            [
                "variable \"DOMAIN\" {\n  type = string\n  description = \"Public domain\"\n}\n",
                "variable \"LEVEL\" {\n  type = string\n  default = \"\"\n}\n",
            ]
        );
    }

    #[test]
    fn templates_parse_back() {
        let mut vars = Vars::default();
        let e = vars.text("a\\b ${X:-${Y}} \t %{ z } ${host:db} $$${X}");
        assert!(render(&e).contains("${\"$\"}${var.X}"), "{}", render(&e));
        let text = render(&e);
        let body: hcl::Body = hcl::parse(&text).unwrap();
        assert_eq!(body.attributes().count(), 1);
    }
}
