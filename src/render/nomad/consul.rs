//! A service's Consul registration: the group's `service` block with the registry's tags,
//! Traefik's router tags for its routes (Traefik reads them through its Consul catalog
//! provider), and Consul checks from `health`.

use std::time::Duration;

use hcl::{Block, Expression};

use super::Context;
use super::expr::{Vars, consul_name};
use super::ports::Ports;
use crate::registry::model::{Command, HealthCheck, Route, Service};
use crate::registry::values::{Part, Template, format_duration};

/// Consul's check timings when neither the service nor `defaults.health` gives them: Docker's
/// own defaults, so a check is as patient as on Compose.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Failed checks in a row before Nomad restarts the task, when `retries` is not given.
const DEFAULT_RETRIES: u32 = 3;

/// The `service` block of a job's group.
pub fn service(
    ctx: &Context,
    s: &Service,
    routes: &[Route],
    ports: &Ports,
    vars: &mut Vars,
) -> Block {
    let name = consul_name(&s.name.value);
    let mut b = Block::builder("service")
        .add_attribute(("name", name.as_str()))
        .add_attribute(("provider", "consul"));
    if let Some((_, label)) = ports.first() {
        b = b.add_attribute(("port", label));
    }
    let tags = tags(ctx, s, routes, ports, vars);
    if !tags.is_empty() {
        b = b.add_attribute(("tags", Expression::Array(tags)));
    }
    if let Some(check) = check(s, ports, vars) {
        b = b.add_block(check);
        let timings = s.health.timings;
        let mut restart = Block::builder("check_restart").add_attribute((
            "limit",
            Expression::from(timings.retries.unwrap_or(DEFAULT_RETRIES).max(1)),
        ));
        if let Some(grace) = timings.start_period.filter(|d| !d.is_zero()) {
            restart = restart.add_attribute(("grace", format_duration(grace)));
        }
        b = b.add_block(restart.add_attribute(("ignore_warnings", false)).build());
    }
    b.build()
}

/// The registry's tags, then `traefik.*` tags for each route, each once.
fn tags(
    ctx: &Context,
    s: &Service,
    routes: &[Route],
    ports: &Ports,
    vars: &mut Vars,
) -> Vec<Expression> {
    let mut out: Vec<Expression> = Vec::new();
    let push = |e: Expression, out: &mut Vec<Expression>| {
        if !out.contains(&e) {
            out.push(e);
        }
    };
    for tag in &s.tags {
        push(vars.text(tag), &mut out);
    }
    if routes.is_empty() {
        return out;
    }
    push(Expression::String("traefik.enable=true".into()), &mut out);
    for (i, route) in routes.iter().enumerate() {
        let router = format!("{}-{}-{i}", ctx.reg.name.value, consul_name(&s.name.value));
        let prefix = format!("traefik.http.routers.{router}");
        let rule = rule(route, ctx.reg.domain.as_ref().map(|d| &d.value));
        let mut parts = vec![Part::Text(format!("{prefix}.rule="))];
        parts.extend(rule.parts);
        push(vars.template(&Template { parts }), &mut out);
        let entrypoints = if route.entrypoints.is_empty() {
            ctx.entrypoint.clone()
        } else {
            route.entrypoints.join(",")
        };
        push(
            Expression::String(format!("{prefix}.entrypoints={entrypoints}")),
            &mut out,
        );
        if let Some(priority) = route.priority {
            push(
                Expression::String(format!("{prefix}.priority={priority}")),
                &mut out,
            );
        }
        if let Some(tls) = route.tls {
            push(Expression::String(format!("{prefix}.tls={tls}")), &mut out);
        }
        if let Some(auth) = &route.auth {
            push(
                Expression::String(format!("{prefix}.middlewares={}@consulcatalog", auth.value)),
                &mut out,
            );
        }
        push(
            Expression::String(format!("{prefix}.service={router}")),
            &mut out,
        );
        if let Some(port) = route.port.or(ports.first().map(|(p, _)| p)) {
            push(
                Expression::String(format!(
                    "traefik.http.services.{router}.loadbalancer.server.port={port}"
                )),
                &mut out,
            );
        }
    }
    out
}

/// A route as a Traefik rule: `Host(...)` for its host (else the stack's domain), and
/// `PathPrefix(...)` or `Path(...)` unless it is the whole site.
pub fn rule(route: &Route, domain: Option<&Template>) -> Template {
    let mut parts = Vec::new();
    if let Some(host) = route
        .host
        .as_ref()
        .or(domain)
        .filter(|h| !h.parts.is_empty())
    {
        parts.push(Part::Text("Host(`".into()));
        parts.extend(host.parts.iter().cloned());
        parts.push(Part::Text("`)".into()));
    }
    let whole_site = route.prefix && route.path.trim_end_matches('/').is_empty();
    if !whole_site || parts.is_empty() {
        if !parts.is_empty() {
            parts.push(Part::Text(" && ".into()));
        }
        let matcher = if route.prefix { "PathPrefix" } else { "Path" };
        let path = if route.path.is_empty() {
            "/"
        } else {
            &route.path
        };
        parts.push(Part::Text(format!("{matcher}({})", rule_string(path))));
    }
    Template { parts }
}

/// A literal in a Traefik rule: in backticks, or in double quotes (Go syntax) when it holds
/// a backtick.
fn rule_string(s: &str) -> String {
    if s.contains('`') {
        format!("{s:?}")
    } else {
        format!("`{s}`")
    }
}

/// The Consul check of `health`, with interval and timeout always set. `image` (Docker's
/// own HEALTHCHECK) and `none` have no Consul check.
fn check(s: &Service, ports: &Ports, vars: &mut Vars) -> Option<Block> {
    let check = &s.health.check.as_ref()?.value;
    let mut b = Block::builder("check").add_attribute(("name", format!("{} health", s.name.value)));
    b = match check {
        HealthCheck::Http(h) => {
            let mut b = b
                .add_attribute(("type", "http"))
                .add_attribute(("port", ports.label(h.port)?))
                .add_attribute(("path", vars.text(&h.path)));
            if h.scheme != "http" {
                b = b.add_attribute(("protocol", h.scheme.as_str()));
            }
            if h.insecure {
                b = b.add_attribute(("tls_skip_verify", true));
            }
            b
        }
        HealthCheck::Tcp { port } => b
            .add_attribute(("type", "tcp"))
            .add_attribute(("port", ports.label(*port)?)),
        HealthCheck::Exec(command) => {
            let words: Vec<String> = match command {
                Command::Exec(words) => words.clone(),
                Command::Shell(sh) => vec!["/bin/sh".into(), "-c".into(), sh.clone()],
            };
            let (first, rest) = words.split_first()?;
            b.add_attribute(("type", "script"))
                .add_attribute(("task", s.name.value.as_str()))
                .add_attribute(("command", vars.text(first)))
                .add_attribute((
                    "args",
                    Expression::Array(rest.iter().map(|a| vars.text(a)).collect()),
                ))
        }
        HealthCheck::Image | HealthCheck::None => return None,
    };
    let timings = s.health.timings;
    Some(
        b.add_attribute((
            "interval",
            format_duration(timings.interval.unwrap_or(DEFAULT_INTERVAL)),
        ))
        .add_attribute((
            "timeout",
            format_duration(timings.timeout.unwrap_or(DEFAULT_TIMEOUT)),
        ))
        .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::values::parse_template;

    fn route(host: Option<&str>, path: &str, prefix: bool) -> Route {
        Route {
            host: host.map(|h| parse_template(h).unwrap()),
            path: path.into(),
            prefix,
            port: None,
            entrypoints: Vec::new(),
            priority: None,
            tls: None,
            auth: None,
            from_subdomain: false,
            span: Default::default(),
        }
    }

    fn rule_text(r: &Route, domain: Option<&str>) -> String {
        let domain = domain.map(|d| parse_template(d).unwrap());
        let mut vars = Vars::default();
        let e = vars.template(&rule(r, domain.as_ref()));
        hcl::format::to_string(&hcl::Body::builder().add_attribute(("r", e)).build()).unwrap()
    }

    #[test]
    fn rules_name_host_and_path() {
        assert_eq!(
            rule_text(&route(Some("a.example.com"), "/", true), None),
            "r = \"Host(`a.example.com`)\"\n"
        );
        assert_eq!(
            rule_text(&route(None, "/api", true), Some("${DOMAIN}")),
            "r = \"Host(`${var.DOMAIN}`) && PathPrefix(`/api`)\"\n"
        );
        assert_eq!(
            rule_text(&route(None, "/x", false), None),
            "r = \"Path(`/x`)\"\n"
        );
        assert_eq!(
            rule_text(&route(None, "/", true), None),
            "r = \"PathPrefix(`/`)\"\n"
        );
        assert_eq!(
            rule_text(&route(None, "/a`b", true), None),
            "r = \"PathPrefix(\\\"/a`b\\\")\"\n"
        );
    }
}
