//! Public names: `subdomain` and `additional_aliases` as routes, and the reverse proxy.
//!
//! Datamancy's generator turned every public name into a network alias `<name>.${DOMAIN}` of
//! the service, and listed the same names again under Caddy's `additional_aliases`, so that
//! internal traffic to a public name reaches Caddy. muster says this once: `proxy: caddy`
//! gives the proxy every route host as an alias. The proxy is the service whose aliases name
//! other services' subdomains; its own other aliases stay routes of its own.

use std::collections::HashMap;

use serde_norway::{Mapping, Value};

use super::service::Services;
use crate::diagnostic::{Code, Diagnostic};
use crate::import::Draft;
use crate::import::reader::{Reader, insert};

pub fn assign(r: &mut Reader, draft: &mut Draft, services: &Services) {
    // Which services answer to each public name.
    let mut listed_by: HashMap<&str, Vec<&str>> = HashMap::new();
    for (name, hosts) in &services.hosts {
        let names = hosts
            .subdomain
            .iter()
            .map(|(s, _)| s)
            .chain(hosts.aliases.iter().map(|(a, _)| a));
        for host in names {
            listed_by
                .entry(host.as_str())
                .or_default()
                .push(name.as_str());
        }
    }
    let listed_by_other = |host: &str, name: &str| {
        listed_by
            .get(host)
            .is_some_and(|owners| owners.iter().any(|o| *o != name))
    };
    let proxy = services
        .hosts
        .iter()
        .find(|(name, hosts)| hosts.aliases.iter().any(|(a, _)| listed_by_other(a, name)))
        .map(|(name, hosts)| (name.as_str(), hosts));
    if !listed_by.is_empty() {
        draft.set(&["domain"], "${DOMAIN}");
    }
    for (name, hosts) in &services.hosts {
        let is_proxy = proxy.is_some_and(|(p, _)| p == name);
        let routes: Vec<Value> = hosts
            .aliases
            .iter()
            .filter(|(alias, _)| !is_proxy || !listed_by_other(alias, name))
            .map(|(alias, _)| {
                let mut route = Mapping::new();
                insert(&mut route, "host", format!("{alias}.${{DOMAIN}}"));
                Value::Mapping(route)
            })
            .collect();
        if !routes.is_empty() {
            draft.set(&["services", name, "routes"], Value::Sequence(routes));
            draft.comment(&["services", name, "routes"], "from `additional_aliases`");
        }
    }
    let Some((proxy, proxy_hosts)) = proxy else {
        return;
    };
    draft.set(&["proxy"], proxy);
    draft.comment(
        &["proxy"],
        format!(
            "{proxy}'s `additional_aliases` name other services' subdomains: it is the reverse proxy,\n\
             and receives every route host as a network alias (the services themselves do not)"
        ),
    );
    for (name, hosts) in &services.hosts {
        let Some((sub, span)) = &hosts.subdomain else {
            continue;
        };
        if name == proxy || proxy_hosts.aliases.iter().any(|(a, _)| a == sub) {
            continue;
        }
        r.push(
            Diagnostic::new(
                Code::ImportInconsistent,
                format!(
                    "`{name}` has subdomain `{sub}`, which the proxy `{proxy}` does not list in its `additional_aliases`"
                ),
            )
            .at(*span, "not an alias of the proxy")
            .help(format!(
                "as muster's `proxy`, `{proxy}` receives `{sub}.${{DOMAIN}}` too, like every route host"
            )),
        );
    }
}
