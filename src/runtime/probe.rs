//! `http` and `tcp` health checks run by muster itself, from the host: to the port the
//! container publishes, else to the container's address on its network. What a check says
//! now, not what Docker's last probe said a while ago.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::docker::Inspection;
use crate::registry::model::HttpCheck;

/// Where muster reaches a container port from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    /// "published 127.0.0.1:18080" or "172.18.0.3 on lab_default".
    pub via: String,
}

/// The published port when there is one (an unspecified host address means loopback, or
/// the remote host for a container of another machine), else, on this machine only, the
/// container's address on its first network.
pub fn target(c: &Inspection, port: u16, remote: Option<&str>) -> Option<Target> {
    if let Some(p) = c
        .ports
        .iter()
        .find(|p| p.container_port == port && p.protocol == "tcp" && p.host_port.is_some())
    {
        let ip: IpAddr = match (p.host_ip.as_deref(), remote) {
            (None | Some("0.0.0.0" | "::" | ""), Some(host)) => resolve(host)?,
            (None | Some("0.0.0.0") | Some(""), None) => IpAddr::from([127, 0, 0, 1]),
            (Some("::"), None) => "::1".parse().expect("loopback"),
            (Some(ip), _) => ip.parse().ok()?,
        };
        let addr = SocketAddr::new(ip, p.host_port?);
        return Some(Target {
            via: format!("published {addr}"),
            addr,
        });
    }
    if remote.is_some() {
        return None;
    }
    let (network, ip) = c.addresses.iter().next()?;
    let addr = SocketAddr::new(ip.parse().ok()?, port);
    Some(Target {
        via: format!("{ip} on {network}"),
        addr,
    })
}

/// The machine of a Docker endpoint (`tcp://host:2376`, `ssh://user@host`); None for a
/// local socket.
pub fn remote_host(endpoint: &str) -> Option<String> {
    let rest = endpoint
        .strip_prefix("tcp://")
        .or_else(|| endpoint.strip_prefix("ssh://"))
        .or_else(|| endpoint.strip_prefix("http://"))
        .or_else(|| endpoint.strip_prefix("https://"))?;
    let rest = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    let host = rest.split('/').next().unwrap_or(rest);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    Some(host.trim_matches(['[', ']']).to_string())
}

fn resolve(host: &str) -> Option<IpAddr> {
    use std::net::ToSocketAddrs;
    if let Ok(ip) = host.parse() {
        return Some(ip);
    }
    (host, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

/// Connects, and closes: the port accepts connections.
pub async fn tcp(addr: SocketAddr, timeout: Duration) -> Result<String, String> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok("port open".into()),
        Ok(Err(e)) => Err(format!("connection failed: {e}")),
        Err(_) => Err(format!("no answer within {}s", timeout.as_secs_f32())),
    }
}

/// One HTTP/1.0 GET; passes on an expected status (any 2xx or 3xx when none is given).
pub async fn http(
    addr: SocketAddr,
    check: &HttpCheck,
    timeout: Duration,
) -> Result<String, String> {
    let work = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connection failed: {e}"))?;
        let request = format!(
            "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: muster\r\nConnection: close\r\n\r\n",
            if check.path.is_empty() {
                "/"
            } else {
                &check.path
            },
            addr
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("cannot send the request: {e}"))?;
        let mut head = Vec::new();
        let mut buf = [0u8; 512];
        while !head.contains(&b'\n') && head.len() < 4096 {
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|e| format!("cannot read the answer: {e}"))?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        let line = line.lines().next().unwrap_or("");
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| {
                format!(
                    "not an HTTP answer: {:?}",
                    line.chars().take(60).collect::<String>()
                )
            })?;
        let ok = if check.expect.is_empty() {
            (200..400).contains(&status)
        } else {
            check.expect.contains(&status)
        };
        if ok {
            Ok(format!("HTTP {status}"))
        } else {
            Err(format!("HTTP {status}, expected {}", expected(check)))
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {}s", timeout.as_secs_f32())),
    }
}

fn expected(check: &HttpCheck) -> String {
    if check.expect.is_empty() {
        "2xx or 3xx".into()
    } else {
        check
            .expect
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn serve(answer: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        addr
    }

    fn check(expect: Vec<u16>) -> HttpCheck {
        HttpCheck {
            port: 80,
            path: "/health".into(),
            scheme: "http".into(),
            insecure: false,
            expect,
        }
    }

    #[test]
    fn remote_hosts_come_from_endpoints() {
        assert_eq!(
            remote_host("tcp://10.0.0.5:2376").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(
            remote_host("ssh://deploy@server-a").as_deref(),
            Some("server-a")
        );
        assert_eq!(remote_host("unix:///var/run/docker.sock"), None);
    }

    #[tokio::test]
    async fn http_checks_judge_the_status() {
        let ok = serve("HTTP/1.0 204 No Content\r\n\r\n").await;
        let t = Duration::from_secs(2);
        assert_eq!(http(ok, &check(vec![]), t).await, Ok("HTTP 204".into()));
        assert!(http(ok, &check(vec![200]), t).await.is_err());
        let bad = serve("HTTP/1.1 503 Unavailable\r\n\r\n").await;
        assert_eq!(
            http(bad, &check(vec![]), t).await,
            Err("HTTP 503, expected 2xx or 3xx".into())
        );
        assert!(tcp(bad, t).await.is_ok());
    }
}
