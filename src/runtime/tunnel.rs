//! `ssh://` Docker endpoints, reached through the user's own `ssh`: the far daemon's socket is
//! forwarded to a socket of muster's own for as long as the engine is in use, so muster's
//! Docker client and the Compose CLI (v1 and v2 alike, with no SSH library of their own) both
//! talk to it as to a local `unix://` endpoint.
//!
//! The user's `ssh` brings their configuration, keys, agent and known hosts, exactly as the
//! Docker CLI's own `ssh://` support does. The far socket is Docker's default,
//! `/var/run/docker.sock`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where the far daemon listens.
const REMOTE_SOCKET: &str = "/var/run/docker.sock";
/// How long `ssh` may take to log in and open the forward.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);

/// An open forward; closed (the `ssh` stopped, the folder removed) on drop.
pub struct Tunnel {
    child: Mutex<Child>,
    dir: PathBuf,
    /// The local end, as a `unix://` endpoint.
    pub local: String,
}

/// `ssh://[user@]host[:port]` as what `ssh` is given: the destination and the port.
fn destination(endpoint: &str) -> Result<(String, Option<u16>), String> {
    let rest = endpoint
        .strip_prefix("ssh://")
        .ok_or_else(|| format!("`{endpoint}` is not an ssh:// endpoint"))?
        .trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') {
        return Err(format!(
            "`{endpoint}`: expected ssh://[USER@]HOST[:PORT] (the far socket is {REMOTE_SOCKET})"
        ));
    }
    // A bracketed IPv6 address holds colons of its own.
    let (host, port) = match rest.rfind(']') {
        Some(end) => match rest[end + 1..].strip_prefix(':') {
            Some(port) => (&rest[..=end], Some(port)),
            None => (rest, None),
        },
        None => match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        },
    };
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .map_err(|_| format!("`{endpoint}`: `{p}` is not a port"))
        })
        .transpose()?;
    Ok((host.to_string(), port))
}

/// A folder of muster's own for the local socket: private, and unique in this process.
fn private_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "muster-ssh-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    Ok(dir)
}

impl Tunnel {
    /// Opens the forward and waits until the local socket answers.
    pub async fn open(endpoint: &str) -> Result<Tunnel, String> {
        let (destination, port) = destination(endpoint)?;
        let dir = private_dir().map_err(|e| format!("cannot make a folder for the tunnel: {e}"))?;
        let socket = dir.join("docker.sock");
        let log = dir.join("ssh.log");
        let mut command = Command::new("ssh");
        command
            .args([
                "-nNT",
                "-o",
                "ExitOnForwardFailure=yes",
                "-o",
                "BatchMode=yes",
            ])
            .arg("-L")
            .arg(format!("{}:{REMOTE_SOCKET}", socket.display()));
        if let Some(port) = port {
            command.args(["-p", &port.to_string()]);
        }
        let stderr = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = command
            .arg("--")
            .arg(&destination)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(format!("cannot run ssh to reach {destination}: {e}"));
            }
        };
        let tunnel = Tunnel {
            child: Mutex::new(child),
            local: format!("unix://{}", socket.display()),
            dir,
        };
        let began = Instant::now();
        loop {
            if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                return Ok(tunnel);
            }
            if let Some(status) = tunnel.exited() {
                return Err(format!(
                    "ssh to {destination} ended ({status}): {}",
                    last_line(&log)
                ));
            }
            if began.elapsed() > OPEN_TIMEOUT {
                return Err(format!(
                    "ssh to {destination} did not open the forward within {}s: {}",
                    OPEN_TIMEOUT.as_secs(),
                    last_line(&log)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn exited(&self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        child.try_wait().ok().flatten()
    }
}

fn last_line(log: &Path) -> String {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .to_string()
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_become_a_destination_and_a_port() {
        assert_eq!(
            destination("ssh://deploy@server-a").unwrap(),
            ("deploy@server-a".to_string(), None)
        );
        assert_eq!(
            destination("ssh://deploy@server-a:2222").unwrap(),
            ("deploy@server-a".to_string(), Some(2222))
        );
        assert_eq!(
            destination("ssh://[fe80::1]:22").unwrap(),
            ("[fe80::1]".to_string(), Some(22))
        );
        assert_eq!(
            destination("ssh://[fe80::1]").unwrap(),
            ("[fe80::1]".to_string(), None)
        );
        assert!(destination("ssh://host:port").is_err());
        assert!(destination("ssh://host/run/docker.sock").is_err());
        assert!(destination("ssh://").is_err());
    }

    #[tokio::test]
    async fn a_failing_ssh_is_reported_with_its_message() {
        // No such host: ssh itself fails, and says why.
        let err = Tunnel::open("ssh://nobody@host.invalid")
            .await
            .err()
            .expect("no tunnel to an invalid host");
        assert!(err.contains("host.invalid"), "{err}");
    }
}
