//! The ports of a job's group: every port the container listens on, plus the ports its
//! health check and routes name, each with a label and a static host port equal to the
//! container port (REGISTRY.md "Addresses": `${host:S}` plus S's port works on Nomad too).

use hcl::{Block, Expression};

use crate::registry::model::{HealthCheck, Service};

/// Ports in the order the registry names them, each once.
#[derive(Debug, Default)]
pub struct Ports {
    entries: Vec<(u16, String)>,
}

impl Ports {
    pub fn of(s: &Service, routes: &[crate::registry::model::Route]) -> Ports {
        let mut ports = Ports::default();
        for e in &s.expose {
            ports.add(e.port, e.name.as_deref());
        }
        for port in s.container_ports() {
            ports.add(port, None);
        }
        match s.health.check.as_ref().map(|c| &c.value) {
            Some(HealthCheck::Http(h)) => ports.add(h.port, None),
            Some(HealthCheck::Tcp { port }) => ports.add(*port, None),
            _ => {}
        }
        for port in routes.iter().filter_map(|r| r.port) {
            ports.add(port, None);
        }
        ports
    }

    fn add(&mut self, port: u16, name: Option<&str>) {
        if self.entries.iter().any(|(p, _)| *p == port) {
            return;
        }
        let mut label = name.map(sanitize).unwrap_or_default();
        if label.is_empty() || self.entries.iter().any(|(_, l)| *l == label) {
            label = format!("p{port}");
        }
        self.entries.push((port, label));
    }

    /// The label of `port`.
    pub fn label(&self, port: u16) -> Option<&str> {
        self.entries
            .iter()
            .find(|(p, _)| *p == port)
            .map(|(_, l)| l.as_str())
    }

    /// The port a service registers in Consul under: the first one.
    pub fn first(&self) -> Option<(u16, &str)> {
        self.entries.first().map(|(p, l)| (*p, l.as_str()))
    }

    pub fn labels(&self) -> Vec<String> {
        self.entries.iter().map(|(_, l)| l.clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The group's `network` block: static ports mapped to the same container port.
    pub fn network(&self) -> Option<Block> {
        if self.entries.is_empty() {
            return None;
        }
        let mut b = Block::builder("network");
        for (port, label) in &self.entries {
            b = b.add_block(
                Block::builder("port")
                    .add_label(label.as_str())
                    .add_attribute(("static", Expression::from(*port)))
                    .add_attribute(("to", Expression::from(*port)))
                    .build(),
            );
        }
        Some(b.build())
    }
}

/// A port label from a registry port name: lowercase letters, digits and `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::{Expose, Protocol};

    #[test]
    fn labels_come_from_names_else_numbers() {
        let mut s = Service::default();
        for (name, port) in [(Some("http"), 8080), (None, 9090), (Some("http"), 8081)] {
            s.expose.push(Expose {
                name: name.map(str::to_string),
                port,
                protocol: Protocol::Tcp,
                span: Default::default(),
            });
        }
        s.health.check = Some(crate::registry::model::Spanned::new(
            HealthCheck::Tcp { port: 7000 },
            Default::default(),
        ));
        let ports = Ports::of(&s, &[]);
        assert_eq!(ports.labels(), ["http", "p9090", "p8081", "p7000"]);
        assert_eq!(ports.label(9090), Some("p9090"));
        assert_eq!(ports.first(), Some((8080, "http")));
        assert_eq!(sanitize("Web-UI"), "web_ui");
    }
}
