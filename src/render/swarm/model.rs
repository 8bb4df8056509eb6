//! What a Swarm stack file has beyond the Compose service model, as typed data, within the
//! Docker CLI's own 3.x schema (`docker stack deploy` validates against it): CPU counts are
//! strings there, published ports whole numbers, and a port has no host address.

use indexmap::IndexMap;
use serde::Serialize;

use crate::render::compose::model as compose;

/// A Swarm service: the Compose service muster writes for the same registry service, with
/// what Swarm ignores or refuses taken out (see `service.rs`), then Swarm's own `ports` and
/// `deploy`.
#[derive(Debug, Serialize)]
pub struct Service {
    #[serde(flatten)]
    pub base: compose::Service,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    pub deploy: Deploy,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Port {
    /// A mapping that holds `${VAR}`, written as the registry has it.
    Short(String),
    Long(LongPort),
}

#[derive(Debug, Serialize)]
pub struct LongPort {
    pub target: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<u16>,
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Deploy {
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_config: Option<UpdateConfig>,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<&'static str, String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Resources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservations: Option<Limits>,
}

#[derive(Debug, Default, Serialize)]
pub struct Limits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub generic_resources: Vec<GenericResource>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.cpus.is_none() && self.memory.is_none() && self.generic_resources.is_empty()
    }
}

#[derive(Debug, Serialize)]
pub struct GenericResource {
    pub discrete_resource_spec: DiscreteResource,
}

#[derive(Debug, Serialize)]
pub struct DiscreteResource {
    pub kind: String,
    pub value: u32,
}

#[derive(Debug, Serialize)]
pub struct Placement {
    pub constraints: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct RestartPolicy {
    pub condition: &'static str,
}

#[derive(Debug, Serialize)]
pub struct UpdateConfig {
    pub parallelism: u32,
    pub order: &'static str,
    pub failure_action: &'static str,
}

#[derive(Debug, Default, Serialize)]
pub struct Network {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub attachable: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipam: Option<compose::Ipam>,
}
