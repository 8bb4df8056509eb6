//! The truth about a stack in one word: HEALTHY, DEGRADED (something is down or unhealthy,
//! nothing critical) or FAILED (a critical service is down or unhealthy).

use serde::Serialize;

use super::docker::{HealthStatus, RunState};
use super::observe::ServiceStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    Healthy,
    Degraded,
    Failed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Healthy => "HEALTHY",
            Verdict::Degraded => "DEGRADED",
            Verdict::Failed => "FAILED",
        }
    }
}

/// How one service stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    Ok,
    /// Running, health check not passed yet.
    Starting,
    Unhealthy,
    Down,
}

/// Judges a service from what Docker shows. A job is fine once it exited 0 (or while it runs).
pub fn standing(status: &ServiceStatus, job: bool) -> Standing {
    match status.state {
        RunState::Exited if job && status.exit_code == Some(0) => Standing::Ok,
        RunState::Running if job => Standing::Ok,
        RunState::Running => match status.health {
            Some(HealthStatus::Unhealthy) => Standing::Unhealthy,
            Some(HealthStatus::Starting) => Standing::Starting,
            None if status.has_healthcheck => Standing::Starting,
            _ => Standing::Ok,
        },
        _ => Standing::Down,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judged {
    pub service: String,
    pub critical: bool,
    pub standing: Standing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judgement {
    pub verdict: Verdict,
    pub total: usize,
    pub down: Vec<String>,
    pub unhealthy: Vec<String>,
    pub starting: Vec<String>,
    /// Critical services among the down and unhealthy ones.
    pub critical: Vec<String>,
}

pub fn judge(services: &[Judged]) -> Judgement {
    let pick = |s: Standing| -> Vec<String> {
        services
            .iter()
            .filter(|j| j.standing == s)
            .map(|j| j.service.clone())
            .collect()
    };
    let critical: Vec<String> = services
        .iter()
        .filter(|j| j.critical && matches!(j.standing, Standing::Down | Standing::Unhealthy))
        .map(|j| j.service.clone())
        .collect();
    let (down, unhealthy, starting) = (
        pick(Standing::Down),
        pick(Standing::Unhealthy),
        pick(Standing::Starting),
    );
    let verdict = if !critical.is_empty() {
        Verdict::Failed
    } else if down.is_empty() && unhealthy.is_empty() && starting.is_empty() {
        Verdict::Healthy
    } else {
        Verdict::Degraded
    };
    Judgement {
        verdict,
        total: services.len(),
        down,
        unhealthy,
        starting,
        critical,
    }
}

impl Judgement {
    /// `DEGRADED: 1 of 3 services down (stream-bot), 1 unhealthy (discord-bot); no critical
    /// service affected`.
    pub fn sentence(&self) -> String {
        let plural = if self.total == 1 { "" } else { "s" };
        if self.verdict == Verdict::Healthy {
            return format!(
                "HEALTHY: {} of {} service{plural} up",
                self.total, self.total
            );
        }
        let mut parts = Vec::new();
        if !self.down.is_empty() {
            parts.push(format!(
                "{} of {} service{plural} down ({})",
                self.down.len(),
                self.total,
                self.down.join(", ")
            ));
        }
        if !self.unhealthy.is_empty() {
            parts.push(format!(
                "{} unhealthy ({})",
                self.unhealthy.len(),
                self.unhealthy.join(", ")
            ));
        }
        if !self.starting.is_empty() {
            parts.push(format!(
                "{} starting ({})",
                self.starting.len(),
                self.starting.join(", ")
            ));
        }
        let critical = if self.critical.is_empty() {
            "no critical service affected".to_string()
        } else {
            format!("critical: {}", self.critical.join(", "))
        };
        format!(
            "{}: {}; {critical}",
            self.verdict.as_str(),
            parts.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(service: &str, critical: bool, standing: Standing) -> Judged {
        Judged {
            service: service.into(),
            critical,
            standing,
        }
    }

    #[test]
    fn the_sample_of_the_design_reads_the_same() {
        let judgement = judge(&[
            j("postgres", true, Standing::Ok),
            j("discord-bot", false, Standing::Unhealthy),
            j("stream-bot", false, Standing::Down),
        ]);
        assert_eq!(judgement.verdict, Verdict::Degraded);
        assert_eq!(
            judgement.sentence(),
            "DEGRADED: 1 of 3 services down (stream-bot), 1 unhealthy (discord-bot); no critical service affected"
        );
    }

    #[test]
    fn critical_services_decide_failed() {
        let judgement = judge(&[
            j("postgres", true, Standing::Down),
            j("web", false, Standing::Ok),
        ]);
        assert_eq!(judgement.verdict, Verdict::Failed);
        assert!(judgement.sentence().ends_with("critical: postgres"));
        let judgement = judge(&[j("postgres", true, Standing::Starting)]);
        assert_eq!(judgement.verdict, Verdict::Degraded);
        assert_eq!(
            judge(&[j("a", false, Standing::Ok)]).verdict,
            Verdict::Healthy
        );
    }
}
