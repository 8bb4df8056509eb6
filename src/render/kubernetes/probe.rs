//! Kubernetes probes from a registry `health` check (REGISTRY.md "Health"): `http` becomes an
//! `httpGet`, `tcp` a `tcpSocket`, `exec` an `exec` (a string runs through `sh -c`, as
//! Compose's `CMD-SHELL` does). The same check is the readiness probe (a pod receives traffic
//! and counts as ready for `deploy.sh` only when it passes) and the liveness probe (the pod is
//! restarted after `retries` failures in a row). `start_period` becomes a startup probe that
//! allows the service that long, plus `retries` intervals, before the other two begin.
//!
//! `image` checks have no Kubernetes equivalent (the image's HEALTHCHECK is Docker's), and an
//! `http` check's `expect` list cannot be told to the kubelet, which accepts any 2xx or 3xx.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ExecAction, HTTPGetAction, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::text;
use crate::registry::model::{Command, Health, HealthCheck, Registry};

/// Kubernetes' own defaults, used where the registry gives no timing.
const DEFAULT_PERIOD: u64 = 10;
const DEFAULT_TIMEOUT: u64 = 1;
const DEFAULT_FAILURES: u32 = 3;

/// Whole seconds, rounded up, at least 1.
fn seconds(d: Duration) -> i32 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(s.max(1)).unwrap_or(i32::MAX)
}

/// The readiness (and liveness) probe and the startup probe of a check, when it has one that
/// Kubernetes can run.
pub struct Probes {
    pub ready: Probe,
    pub startup: Option<Probe>,
}

pub fn probes(reg: &Registry, health: &Health) -> Option<Probes> {
    let mut probe = Probe::default();
    match &health.check.as_ref()?.value {
        HealthCheck::Http(h) => {
            probe.http_get = Some(HTTPGetAction {
                path: Some(text::resolve_str(reg, &h.path)),
                port: IntOrString::Int(i32::from(h.port)),
                scheme: Some(if h.scheme.eq_ignore_ascii_case("https") {
                    "HTTPS".into()
                } else {
                    "HTTP".into()
                }),
                ..HTTPGetAction::default()
            });
        }
        HealthCheck::Tcp { port } => {
            probe.tcp_socket = Some(TCPSocketAction {
                port: IntOrString::Int(i32::from(*port)),
                ..TCPSocketAction::default()
            });
        }
        HealthCheck::Exec(command) => {
            let command = match command {
                Command::Exec(args) => args.iter().map(|a| text::resolve_str(reg, a)).collect(),
                Command::Shell(s) => vec!["sh".into(), "-c".into(), text::resolve_str(reg, s)],
            };
            probe.exec = Some(ExecAction {
                command: Some(command),
            });
        }
        HealthCheck::Image | HealthCheck::None => return None,
    }
    let t = health.timings;
    let period = t.interval.map_or(DEFAULT_PERIOD as i32, seconds);
    let failures = t.retries.unwrap_or(DEFAULT_FAILURES).max(1);
    probe.period_seconds = Some(period);
    probe.timeout_seconds = Some(t.timeout.map_or(DEFAULT_TIMEOUT as i32, seconds));
    probe.failure_threshold = Some(i32::try_from(failures).unwrap_or(i32::MAX));
    let startup = t.start_period.filter(|d| !d.is_zero()).map(|start| {
        let budget = (seconds(start) as u32).div_ceil(period.max(1) as u32) as i32;
        let mut startup = probe.clone();
        startup.failure_threshold =
            Some(budget.saturating_add(i32::try_from(failures).unwrap_or(i32::MAX)));
        startup
    });
    Some(Probes {
        ready: probe,
        startup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::model::{HealthTimings, HttpCheck, Spanned};

    fn health(check: HealthCheck, timings: HealthTimings) -> Health {
        Health {
            check: Some(Spanned::new(check, Default::default())),
            timings,
        }
    }

    #[test]
    fn http_tcp_and_exec_map_to_their_handlers() {
        let reg = Registry::default();
        let http = HttpCheck {
            port: 8080,
            path: "/health".into(),
            scheme: "https".into(),
            insecure: true,
            expect: vec![200],
        };
        let timings = HealthTimings {
            interval: Some(Duration::from_secs(15)),
            timeout: Some(Duration::from_millis(500)),
            retries: Some(5),
            start_period: Some(Duration::from_secs(40)),
        };
        let p = probes(&reg, &health(HealthCheck::Http(http), timings)).unwrap();
        let get = p.ready.http_get.as_ref().unwrap();
        assert_eq!(get.port, IntOrString::Int(8080));
        assert_eq!(get.scheme.as_deref(), Some("HTTPS"));
        assert_eq!(p.ready.period_seconds, Some(15));
        assert_eq!(p.ready.timeout_seconds, Some(1));
        assert_eq!(p.ready.failure_threshold, Some(5));
        // 40 s in 15 s steps is 3 tries, plus the 5 retries.
        assert_eq!(p.startup.unwrap().failure_threshold, Some(8));

        let tcp = probes(
            &reg,
            &health(HealthCheck::Tcp { port: 5432 }, HealthTimings::default()),
        );
        let tcp = tcp.unwrap();
        assert!(tcp.startup.is_none());
        assert_eq!(tcp.ready.tcp_socket.unwrap().port, IntOrString::Int(5432));

        let shell = HealthCheck::Exec(Command::Shell("pg_isready -U x".into()));
        let exec = probes(&reg, &health(shell, HealthTimings::default())).unwrap();
        assert_eq!(
            exec.ready.exec.unwrap().command.unwrap(),
            ["sh", "-c", "pg_isready -U x"]
        );
    }

    #[test]
    fn image_and_none_have_no_probe() {
        let reg = Registry::default();
        for check in [HealthCheck::Image, HealthCheck::None] {
            assert!(probes(&reg, &health(check, HealthTimings::default())).is_none());
        }
        assert!(probes(&reg, &Health::default()).is_none());
    }
}
