//! One service as one Nomad job file: the job (type, datacenters, constraints, update policy,
//! a `meta` block recording phase and dependencies), its one group (count, ports, Consul
//! service, restart policy) and its one task.

use std::time::Duration;

use hcl::{Block, Body, Expression};

use super::expr::Vars;
use super::ports::Ports;
use super::{Context, consul, extra, task};
use crate::registry::decode::subdomain_route;
use crate::registry::model::{DEFAULT_PHASE_TIMEOUT, Restart, Route, Service};
use crate::registry::values::format_duration;

/// What kind of Nomad job a service is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Long-running, `count` copies.
    Service,
    /// `mode: global`: one copy on every eligible client.
    System,
    /// `job: true`: runs to completion.
    Batch,
}

impl Kind {
    pub fn of(s: &Service) -> Kind {
        if s.job {
            Kind::Batch
        } else if s.global {
            Kind::System
        } else {
            Kind::Service
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Service => "service",
            Kind::System => "system",
            Kind::Batch => "batch",
        }
    }
}

/// The routes of a service: `subdomain`, then `routes`.
pub fn routes(ctx: &Context, s: &Service) -> Vec<Route> {
    let domain = ctx.reg.domain.as_ref().map(|d| &d.value);
    subdomain_route(s, domain)
        .into_iter()
        .chain(s.routes.iter().cloned())
        .collect()
}

/// The body of `jobs/<service>.nomad.hcl`: the `variable` blocks it uses, then the job; and
/// the variables it uses.
pub fn file(ctx: &Context, s: &Service) -> (Body, Vars) {
    let mut vars = Vars::default();
    let job = job(ctx, s, &mut vars);
    let body = Body::builder()
        .add_blocks(vars.blocks(ctx.reg))
        .add_block(job)
        .build();
    (body, vars)
}

fn job(ctx: &Context, s: &Service, vars: &mut Vars) -> Block {
    let kind = Kind::of(s);
    let routes = if kind == Kind::Batch {
        Vec::new()
    } else {
        routes(ctx, s)
    };
    let ports = Ports::of(s, &routes);
    let extra = s.extra.get("nomad");
    let part = |name: &str| extra.and_then(|e| e.get(name));
    let driver = part("task")
        .and_then(|t| t.get("driver"))
        .and_then(|d| d.as_str())
        .unwrap_or(task::DOCKER);

    let mut task = task::task(ctx, s, &ports, driver, vars);
    if let Some(e) = part("task") {
        extra::merge(&mut task.body, e);
    }

    let mut group = Block::builder("group").add_label(s.name.value.as_str());
    if kind != Kind::System {
        group = group.add_attribute(("count", s.replica_count()));
    }
    if let Some(network) = ports.network() {
        group = group.add_block(network);
    }
    if kind != Kind::Batch {
        group = group.add_block(consul::service(ctx, s, &routes, &ports, vars));
    }
    group = group.add_blocks(restart(s, kind));
    let mut group = group.add_block(task).build();
    if let Some(e) = part("group") {
        extra::merge(&mut group.body, e);
    }

    let mut job = Block::builder("job")
        .add_label(ctx.job_id(&s.name.value))
        .add_attribute(("type", kind.as_str()));
    if let Some(region) = &ctx.reg.engines.nomad.region {
        job = job.add_attribute(("region", region.as_str()));
    }
    if let Some(namespace) = &ctx.reg.engines.nomad.namespace {
        job = job.add_attribute(("namespace", namespace.as_str()));
    }
    job = job.add_attribute(("datacenters", ctx.datacenters.clone()));
    job = job.add_block(meta(ctx, s));
    job = job.add_blocks(constraints(s, vars));
    if let Some(update) = update(ctx, s, kind) {
        job = job.add_block(update);
    }
    let mut job = job.add_block(group).build();
    if let Some(e) = part("job") {
        extra::merge(&mut job.body, e);
    }
    job
}

/// Meta keys a deploy script and tests read back.
pub mod keys {
    pub const STACK: &str = "muster_stack";
    pub const SERVICE: &str = "muster_service";
    pub const PHASE: &str = "muster_phase";
    /// Required dependencies as `name:condition`, comma-separated, in registry order.
    pub const DEPENDS_ON: &str = "muster_depends_on";
    /// Optional dependencies, the same way.
    pub const OPTIONAL_DEPENDS_ON: &str = "muster_optional_depends_on";
    pub const CRITICAL: &str = "muster_critical";
    pub const GROUPS: &str = "muster_groups";
}

fn meta(ctx: &Context, s: &Service) -> Block {
    let reg = ctx.reg;
    let deps = |optional: bool| -> String {
        s.depends_on
            .iter()
            .filter(|d| d.optional == optional)
            .map(|d| {
                format!(
                    "{}:{}",
                    d.service.value,
                    reg.effective_condition(d).as_str()
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut b = Block::builder("meta")
        .add_attribute((keys::STACK, reg.name.value.as_str()))
        .add_attribute((keys::SERVICE, s.name.value.as_str()))
        .add_attribute((keys::PHASE, ctx.phase(s)))
        .add_attribute((keys::DEPENDS_ON, deps(false)));
    let optional = deps(true);
    if !optional.is_empty() {
        b = b.add_attribute((keys::OPTIONAL_DEPENDS_ON, optional));
    }
    b = b.add_attribute((keys::CRITICAL, s.critical.to_string()));
    if !s.groups.is_empty() {
        let groups: Vec<&str> = s.groups.iter().map(|g| g.value.as_str()).collect();
        b = b.add_attribute((keys::GROUPS, groups.join(",")));
    }
    b.build()
}

/// `placement`: `host` is a node name, `labels` are client `meta` values.
fn constraints(s: &Service, vars: &mut Vars) -> Vec<Block> {
    let constraint = |attribute: String, value: Expression| {
        Block::builder("constraint")
            .add_attribute(("attribute", attribute))
            .add_attribute(("value", value))
            .build()
    };
    let mut out = Vec::new();
    if let Some(host) = &s.placement.host {
        out.push(constraint(
            "${node.unique.name}".into(),
            Expression::String(host.value.clone()),
        ));
    }
    for (key, value) in &s.placement.labels {
        out.push(constraint(format!("${{meta.{key}}}"), vars.text(value)));
    }
    out
}

/// Restart and reschedule: services that restart wait and retry without end; `no` (the
/// default, as on Compose) and jobs fail and stay failed.
fn restart(s: &Service, kind: Kind) -> Vec<Block> {
    let restarts = kind != Kind::Batch
        && matches!(
            s.restart_policy(),
            Some(Restart::Always | Restart::UnlessStopped | Restart::OnFailure)
        );
    if restarts {
        return vec![
            Block::builder("restart")
                .add_attribute(("attempts", 3))
                .add_attribute(("interval", "5m"))
                .add_attribute(("delay", "15s"))
                .add_attribute(("mode", "delay"))
                .build(),
        ];
    }
    let mut out = vec![
        Block::builder("restart")
            .add_attribute(("attempts", 0))
            .add_attribute(("mode", "fail"))
            .build(),
    ];
    if kind != Kind::System {
        out.push(
            Block::builder("reschedule")
                .add_attribute(("attempts", 0))
                .add_attribute(("unlimited", false))
                .build(),
        );
    }
    out
}

/// Rolling updates: one allocation at a time, healthy by its checks (or its task states
/// without checks) within its phase's timeout, reverted when it never gets there.
fn update(ctx: &Context, s: &Service, kind: Kind) -> Option<Block> {
    match kind {
        Kind::Batch => None,
        Kind::System => Some(
            Block::builder("update")
                .add_attribute(("max_parallel", 1))
                .add_attribute(("stagger", "10s"))
                .build(),
        ),
        Kind::Service => {
            let start = s.health.timings.start_period.unwrap_or_default();
            let healthy = ctx
                .phase_timeout(s)
                .max(start + Duration::from_secs(30))
                .max(Duration::from_secs(30));
            let check = if s.health.has_check() {
                "checks"
            } else {
                "task_states"
            };
            Some(
                Block::builder("update")
                    .add_attribute(("max_parallel", 1))
                    .add_attribute(("health_check", check))
                    .add_attribute(("min_healthy_time", "10s"))
                    .add_attribute(("healthy_deadline", format_duration(healthy)))
                    .add_attribute(("progress_deadline", format_duration(healthy * 2)))
                    .add_attribute(("auto_revert", true))
                    .build(),
            )
        }
    }
}

impl Context<'_> {
    /// The phase a service starts in (the implicit one when the registry has none).
    pub fn phase<'s>(&self, s: &'s Service) -> &'s str {
        s.phase
            .as_ref()
            .map_or(crate::graph::IMPLICIT_PHASE, |p| p.value.as_str())
    }

    pub fn phase_timeout(&self, s: &Service) -> Duration {
        s.phase
            .as_ref()
            .and_then(|p| self.reg.phases.get(&p.value))
            .map_or(DEFAULT_PHASE_TIMEOUT, |p| p.timeout)
    }
}
