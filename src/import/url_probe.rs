//! Health endpoints written as URLs (`http://localhost:8080/health`) as muster `http` checks.
//!
//! Registries of other systems name a service's health endpoint as the URL a probe inside the
//! container would fetch. Only URLs of the container itself (localhost) mean that; anything
//! else is left for the importer to report.

use serde_norway::{Mapping, Value};

use super::reader::insert;

/// `{ port, path, scheme }` of a URL of the container itself, or None.
pub fn http_check(url: &str) -> Option<Mapping> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().ok().filter(|p| *p > 0)?),
        None => (authority, default_port),
    };
    if !matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "0.0.0.0") {
        return None;
    }
    let mut m = Mapping::new();
    insert(&mut m, "port", Value::from(port));
    insert(&mut m, "path", path);
    if scheme == "https" {
        insert(&mut m, "scheme", scheme);
    }
    Some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> Option<String> {
        http_check(url).map(|m| {
            serde_norway::to_string(&m)
                .unwrap()
                .trim()
                .replace('\n', ", ")
        })
    }

    #[test]
    fn local_urls_become_checks() {
        assert_eq!(
            check("http://localhost:4000/health").as_deref(),
            Some("port: 4000, path: /health")
        );
        assert_eq!(
            check("http://localhost:80").as_deref(),
            Some("port: 80, path: /")
        );
        assert_eq!(
            check("https://127.0.0.1:8443/healthz").as_deref(),
            Some("port: 8443, path: /healthz, scheme: https")
        );
    }

    #[test]
    fn other_hosts_and_schemes_are_not_probes_of_the_container() {
        assert_eq!(check("http://example.com/health"), None);
        assert_eq!(check("ftp://localhost/"), None);
        assert_eq!(check("http://localhost:99999/"), None);
        assert_eq!(check("pg_isready -U postgres"), None);
    }
}
