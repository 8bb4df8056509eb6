//! Requests and limits from a service's `resources` (defaults already merged in by the
//! loader): `cpus` and `memory` are limits, `reservations` are requests. GPUs are a limit of
//! the vendor's extended resource (`nvidia.com/gpu` for the nvidia driver); `count: all`
//! cannot be said to Kubernetes, which schedules whole devices by number, and is left out.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::registry::model::Resources;
use crate::registry::values::size_kubernetes;

/// CPUs as a quantity: whole CPUs when exact, else millicores (at least 1m).
pub fn cpu(cpus: f64) -> Quantity {
    let milli = (cpus * 1000.0).round().max(1.0) as u64;
    Quantity(if milli.is_multiple_of(1000) {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    })
}

pub fn memory(bytes: u64) -> Quantity {
    Quantity(size_kubernetes(bytes))
}

pub fn requirements(r: &Resources) -> Option<ResourceRequirements> {
    let mut limits = BTreeMap::new();
    let mut requests = BTreeMap::new();
    if let Some(c) = r.cpus.filter(|c| *c > 0.0) {
        limits.insert("cpu".to_string(), cpu(c));
    }
    if let Some(m) = r.memory {
        limits.insert("memory".to_string(), memory(m));
    }
    if let Some(c) = r.reservations.cpus.filter(|c| *c > 0.0) {
        requests.insert("cpu".to_string(), cpu(c));
    }
    if let Some(m) = r.reservations.memory {
        requests.insert("memory".to_string(), memory(m));
    }
    if let Some(gpus) = &r.gpus
        && let Some(count) = gpus.count
    {
        let resource = if gpus.driver.is_empty() || gpus.driver == "nvidia" {
            "nvidia.com/gpu".to_string()
        } else {
            format!("{}.com/gpu", gpus.driver)
        };
        limits.insert(resource, Quantity(count.to_string()));
    }
    if limits.is_empty() && requests.is_empty() {
        return None;
    }
    Some(ResourceRequirements {
        limits: (!limits.is_empty()).then_some(limits),
        requests: (!requests.is_empty()).then_some(requests),
        ..ResourceRequirements::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::{Gpus, Reservations};

    #[test]
    fn quantities() {
        assert_eq!(cpu(2.0).0, "2");
        assert_eq!(cpu(0.5).0, "500m");
        assert_eq!(cpu(0.0001).0, "1m");
        assert_eq!(memory(256 << 20).0, "256Mi");
    }

    #[test]
    fn limits_and_requests() {
        assert!(requirements(&Resources::default()).is_none());
        let r = Resources {
            cpus: Some(1.5),
            memory: Some(1 << 30),
            reservations: Reservations {
                cpus: Some(0.25),
                memory: Some(128 << 20),
            },
            gpus: Some(Gpus {
                count: Some(1),
                driver: "nvidia".into(),
                capabilities: vec![],
            }),
        };
        let req = requirements(&r).unwrap();
        let limits = req.limits.unwrap();
        assert_eq!(limits["cpu"].0, "1500m");
        assert_eq!(limits["memory"].0, "1Gi");
        assert_eq!(limits["nvidia.com/gpu"].0, "1");
        assert_eq!(req.requests.unwrap()["cpu"].0, "250m");
    }
}
