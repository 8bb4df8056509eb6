//! The example registries shipped in the binary, for `muster init --example NAME`.

/// An example: its name, what it shows, and its registry text.
pub struct Example {
    pub name: &'static str,
    pub summary: &'static str,
    pub text: &'static str,
}

pub const EXAMPLES: &[Example] = &[
    Example {
        name: "homelab",
        summary: "about 15 services of a home lab: proxy, databases, bots, automation, dev tools",
        text: include_str!("../examples/homelab/muster.yaml"),
    },
    Example {
        name: "selfhosted",
        summary: "a large self-hosted stack: 40+ services in 6 phases, networks, secrets, subdomains",
        text: include_str!("../examples/selfhosted/muster.yaml"),
    },
    Example {
        name: "microservices",
        summary: "two APIs, a gateway, mongo, redis and monitoring, with development/staging/production",
        text: include_str!("../examples/microservices/muster.yaml"),
    },
    Example {
        name: "nomad",
        summary: "a small stack with Traefik routes and Consul tags, meant for Nomad",
        text: include_str!("../examples/nomad/muster.yaml"),
    },
];

pub fn find(name: &str) -> Option<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name)
}
