//! Every name that points at something else must point at something that exists.

use foldhash::HashSet;

use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::registry::References;
use crate::registry::model::*;

pub(super) fn check(reg: &Registry, refs: &References, out: &mut Vec<Diagnostic>) {
    let services = names(reg.services.keys());
    let secrets = names(reg.secrets.keys());
    let declared_groups: HashSet<&str> = reg.groups.keys().map(String::as_str).collect();

    for group in reg.groups.values() {
        for member in &group.services {
            if !reg.services.contains_key(&member.value) {
                out.push(unknown(
                    Code::UnknownGroupMember,
                    member,
                    &format!(
                        "group `{}` lists `{}`, which is not a service",
                        group.name.value, member.value
                    ),
                    "not a service",
                    &services,
                ));
            }
        }
        for member in &group.groups {
            if !reg.groups.contains_key(&member.value) {
                out.push(unknown(
                    Code::UnknownGroupMember,
                    member,
                    &format!(
                        "group `{}` includes `{}`, which is not a group",
                        group.name.value, member.value
                    ),
                    "not a group",
                    &names(reg.groups.keys()),
                ));
            }
        }
    }

    for s in reg.services.values() {
        let who = &s.name.value;
        match &s.phase {
            Some(phase) if !reg.phases.contains_key(&phase.value) => {
                let mut d = unknown(
                    Code::UnknownPhase,
                    phase,
                    &format!(
                        "`{who}` is in phase `{}`, which is not declared",
                        phase.value
                    ),
                    "unknown phase",
                    &names(reg.phases.keys()),
                );
                if reg.phases.is_empty() {
                    d = d.help("declare it under `phases:` with an `order` and a `timeout`");
                }
                out.push(d);
            }
            None if !reg.phases.is_empty() => {
                let phases: Vec<&str> = reg.phases.keys().map(String::as_str).collect();
                out.push(
                    Diagnostic::new(Code::Missing, format!("`{who}` has no phase"))
                        .at(s.name.span, "no `phase`")
                        .help(format!(
                            "this registry declares phases, so every service names one: {}",
                            phases.join(", ")
                        )),
                );
            }
            _ => {}
        }
        for g in &s.groups {
            if !declared_groups.contains(g.value.as_str()) {
                out.push(unknown(
                    Code::UnknownGroupMember,
                    g,
                    &format!("`{who}` is in group `{}`, which is not declared", g.value),
                    "unknown group",
                    &names(reg.groups.keys()),
                ));
            }
        }
        for dep in &s.depends_on {
            if !reg.services.contains_key(&dep.service.value) {
                out.push(unknown(
                    Code::UnknownDependency,
                    &dep.service,
                    &format!(
                        "`{who}` depends on `{}`, which is not a service",
                        dep.service.value
                    ),
                    "unknown service",
                    &services,
                ));
            }
        }
        let networks = names(reg.networks.keys());
        for net in &s.networks {
            let implicit_default = reg.networks.is_empty() && net.name.value == "default";
            if !reg.networks.contains_key(&net.name.value) && !implicit_default {
                let mut d = unknown(
                    Code::UnknownNetwork,
                    &net.name,
                    &format!(
                        "`{who}` joins network `{}`, which is not declared",
                        net.name.value
                    ),
                    "unknown network",
                    &networks,
                );
                if reg.networks.is_empty() {
                    d = d.help("declare it under the top-level `networks:`");
                }
                out.push(d);
            }
        }
        for mount in &s.volumes {
            if let MountSource::Named(vol) = &mount.source
                && !reg.volumes.contains_key(&vol.value)
            {
                let mut d = unknown(
                    Code::UnknownVolume,
                    vol,
                    &format!(
                        "`{who}` mounts volume `{}`, which is not declared",
                        vol.value
                    ),
                    "unknown volume",
                    &names(reg.volumes.keys()),
                );
                if d.help.is_none() {
                    d = d.help(format!(
                        "declare it under the top-level `volumes:`, or write `./{}` for a folder next to muster.yaml",
                        vol.value
                    ));
                }
                out.push(d);
            }
        }
        for secret in &s.secrets {
            check_secret(secret, who, &secrets, reg, out);
        }
        for entry in s.env.values() {
            match &entry.value {
                EnvValue::Secret { name, .. } => check_secret(name, who, &secrets, reg, out),
                EnvValue::Var(var) if !reg.variables.contains_key(&var.value) => {
                    out.push(unknown(
                        Code::UnknownVariable,
                        var,
                        &format!(
                            "`{who}` reads variable `{}`, which is not declared",
                            var.value
                        ),
                        "unknown variable",
                        &names(reg.variables.keys()),
                    ));
                }
                _ => {}
            }
        }
        if let Some(host) = &s.placement.host
            && !reg.engines.compose.hosts.contains_key(&host.value)
            && reg.target_engines().contains(&Target::Compose)
        {
            let mut d = unknown(
                Code::UnknownEngineHost,
                host,
                &format!(
                    "`{who}` is placed on host `{}`, which `engines.compose.hosts` does not name",
                    host.value
                ),
                "unknown host",
                &names(reg.engines.compose.hosts.keys()),
            );
            if d.help.is_none() {
                d = d.help(format!(
                    "add it: `engines: {{ compose: {{ hosts: {{ {}: \"ssh://user@{}\" }} }} }}`",
                    host.value, host.value
                ));
            }
            out.push(d);
        }
        for route in &s.routes {
            if let Some(auth) = &route.auth
                && !reg.services.contains_key(&auth.value)
            {
                out.push(unknown(
                    Code::UnknownServiceRef,
                    auth,
                    &format!(
                        "a route of `{who}` is protected by `{}`, which is not a service",
                        auth.value
                    ),
                    "unknown service",
                    &services,
                ));
            }
        }
    }

    if let Some(proxy) = &reg.proxy
        && !reg.services.contains_key(&proxy.value)
    {
        out.push(unknown(
            Code::UnknownServiceRef,
            proxy,
            &format!("the proxy `{}` is not a service", proxy.value),
            "unknown service",
            &services,
        ));
    }

    for secret in reg.secrets.values() {
        if let Some(from) = &secret.from
            && !reg.secrets.contains_key(&from.value)
        {
            out.push(unknown(
                Code::UnknownSecret,
                from,
                &format!(
                    "secret `{}` is derived from `{}`, which is not a secret",
                    secret.name.value, from.value
                ),
                "unknown secret",
                &secrets,
            ));
        }
        if let Some(rotate) = &secret.on_rotate
            && !reg.services.contains_key(&rotate.service.value)
        {
            out.push(unknown(
                Code::UnknownServiceRef,
                &rotate.service,
                &format!(
                    "`on_rotate` of `{}` runs in `{}`, which is not a service",
                    secret.name.value, rotate.service.value
                ),
                "unknown service",
                &services,
            ));
        }
    }

    for (name, span) in &refs.secrets {
        if !reg.secrets.contains_key(name) {
            let at = Spanned::new(name.clone(), *span);
            out.push(unknown(
                Code::UnknownSecret,
                &at,
                &format!("`${{secret:{name}}}` names a secret that is not declared"),
                "unknown secret",
                &secrets,
            ));
        }
    }
    for (name, span) in &refs.hosts {
        if !reg.services.contains_key(name) {
            let at = Spanned::new(name.clone(), *span);
            out.push(unknown(
                Code::UnknownHost,
                &at,
                &format!("`${{host:{name}}}` names a service that does not exist"),
                "unknown service",
                &services,
            ));
        }
    }
}

fn check_secret(
    secret: &Name,
    who: &str,
    secrets: &[&str],
    reg: &Registry,
    out: &mut Vec<Diagnostic>,
) {
    if !reg.secrets.contains_key(&secret.value) {
        let mut d = unknown(
            Code::UnknownSecret,
            secret,
            &format!(
                "`{who}` uses secret `{}`, which is not declared",
                secret.value
            ),
            "unknown secret",
            secrets,
        );
        if d.help.is_none() {
            d = d.help(format!(
                "declare it under `secrets:`, e.g. `{}: {{ kind: password, length: 32 }}`",
                secret.value
            ));
        }
        out.push(d);
    }
}

fn names<'a>(keys: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    keys.map(String::as_str).collect()
}

/// A reference to something that does not exist, with a "did you mean" when one is close.
fn unknown(
    code: Code,
    at: &Spanned<String>,
    message: &str,
    label: &str,
    candidates: &[&str],
) -> Diagnostic {
    let d = Diagnostic::new(code, message).at(at.span, label);
    match did_you_mean(&at.value, candidates.iter().copied()) {
        Some(close) => d.help(format!("did you mean `{close}`?")),
        None => d,
    }
}
