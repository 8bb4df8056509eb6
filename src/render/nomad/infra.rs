//! What the jobs stand on: a Consul agent configuration, a Traefik job that routes by the
//! Consul catalog (the `traefik.*` tags of every service), and one ACL policy per job that
//! lets its tasks read their own Nomad variable.

use hcl::{Block, Body, Expression};

use super::Context;
use super::expr::consul_name;
use crate::registry::model::Service;

/// Traefik's image. Pinned: generated files must not change under the user's feet.
const TRAEFIK_IMAGE: &str = "traefik:v3.1";
/// Consul's HTTP address when `engines.nomad.consul` gives none.
const DEFAULT_CONSUL: &str = "127.0.0.1:8500";
/// The entry points the Traefik job listens on, with their ports.
const ENTRYPOINTS: [(&str, u16); 2] = [("web", 80), ("websecure", 443)];

/// `infra/consul.hcl`: a single-server Consul agent for the stack's datacenter, its HTTP API
/// where `engines.nomad.consul` says, DNS on 8600 (forward `.consul` there so that
/// `<service>.service.consul` resolves in tasks).
pub fn consul(ctx: &Context) -> Body {
    let (host, port) = consul_address(ctx);
    let datacenter = ctx.datacenters.first().cloned().unwrap_or_default();
    Body::builder()
        .add_attribute(("datacenter", datacenter))
        .add_attribute(("data_dir", "/opt/consul/data"))
        .add_attribute(("server", true))
        .add_attribute(("bootstrap_expect", 1))
        .add_attribute(("bind_addr", "{{ GetPrivateInterfaces | attr \"address\" }}"))
        .add_attribute(("client_addr", host))
        .add_block(
            Block::builder("ports")
                .add_attribute(("http", port))
                .add_attribute(("dns", 8600))
                .add_attribute(("grpc", 8502))
                .build(),
        )
        .add_block(
            Block::builder("ui_config")
                .add_attribute(("enabled", true))
                .build(),
        )
        .build()
}

/// `engines.nomad.consul` as host and port.
fn consul_address(ctx: &Context) -> (String, u16) {
    let address = ctx
        .reg
        .engines
        .nomad
        .consul
        .as_deref()
        .unwrap_or(DEFAULT_CONSUL);
    let address = address
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    match address.rsplit_once(':') {
        Some((host, port)) => (host.to_string(), port.parse().unwrap_or(8500)),
        None => (address.to_string(), 8500),
    }
}

/// `infra/traefik.nomad.hcl`: Traefik on every client (a system job, host network), reading
/// routers from the Consul catalog, for services that opt in with `traefik.enable=true`.
/// Its dashboard and ping listen on the first port from 8081 that no service uses.
pub fn traefik(ctx: &Context) -> Body {
    let (host, port) = consul_address(ctx);
    let used: Vec<u16> = ctx
        .reg
        .enabled_services()
        .flat_map(Service::container_ports)
        .collect();
    let admin = (8081..u16::MAX).find(|p| !used.contains(p)).unwrap_or(8081);
    let mut args = vec![
        "--providers.consulcatalog=true".to_string(),
        "--providers.consulcatalog.exposedByDefault=false".to_string(),
        format!("--providers.consulcatalog.endpoint.address={host}:{port}"),
    ];
    for (name, port) in ENTRYPOINTS {
        args.push(format!("--entrypoints.{name}.address=:{port}"));
    }
    args.push(format!("--entrypoints.traefik.address=:{admin}"));
    args.push("--api.dashboard=true".into());
    args.push("--ping=true".into());

    let mut network = Block::builder("network");
    for (name, port) in ENTRYPOINTS.into_iter().chain([("traefik", admin)]) {
        network = network.add_block(
            Block::builder("port")
                .add_label(name)
                .add_attribute(("static", port))
                .build(),
        );
    }
    let service = Block::builder("service")
        .add_attribute((
            "name",
            format!("{}-traefik", consul_name(&ctx.reg.name.value)),
        ))
        .add_attribute(("provider", "consul"))
        .add_attribute(("port", "web"))
        .add_block(
            Block::builder("check")
                .add_attribute(("name", "traefik ping"))
                .add_attribute(("type", "http"))
                .add_attribute(("port", "traefik"))
                .add_attribute(("path", "/ping"))
                .add_attribute(("interval", "10s"))
                .add_attribute(("timeout", "2s"))
                .build(),
        )
        .build();
    let task = Block::builder("task")
        .add_label("traefik")
        .add_attribute(("driver", "docker"))
        .add_block(
            Block::builder("config")
                .add_attribute(("image", TRAEFIK_IMAGE))
                .add_attribute(("network_mode", "host"))
                .add_attribute(("args", args))
                .build(),
        )
        .add_block(
            Block::builder("resources")
                .add_attribute(("cpu", 200))
                .add_attribute(("memory", 128))
                .build(),
        )
        .build();
    let group = Block::builder("group")
        .add_label("traefik")
        .add_block(network.build())
        .add_block(service)
        .add_block(task)
        .build();
    let mut job = Block::builder("job")
        .add_label(format!("{}-traefik", ctx.reg.name.value))
        .add_attribute(("type", "system"));
    if let Some(region) = &ctx.reg.engines.nomad.region {
        job = job.add_attribute(("region", region.as_str()));
    }
    if let Some(namespace) = &ctx.reg.engines.nomad.namespace {
        job = job.add_attribute(("namespace", namespace.as_str()));
    }
    job = job.add_attribute(("datacenters", ctx.datacenters.clone()));
    Body::builder()
        .add_block(job.add_block(group).build())
        .build()
}

/// `policies/<service>.policy.hcl`: read access to the job's own variable, for
/// `nomad acl policy apply -job <job>` (what `deploy.sh` does when ACLs are on).
pub fn policy(ctx: &Context, s: &Service) -> Body {
    let path = Block::builder("path")
        .add_label(ctx.variables_path(&s.name.value))
        .add_attribute(("capabilities", Expression::Array(vec!["read".into()])))
        .build();
    Body::builder()
        .add_block(
            Block::builder("namespace")
                .add_label(ctx.namespace())
                .add_block(Block::builder("variables").add_block(path).build())
                .build(),
        )
        .build()
}
