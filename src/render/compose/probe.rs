//! Health probes for `http` and `tcp` checks, as Compose `CMD-SHELL` commands.
//!
//! Compose runs a health check inside the container, so it can only use what the image has.
//! REGISTRY.md asks for a command that tries, in order, the tools an image may have: wget,
//! curl, nc, then bash's `/dev/tcp`. Each attempt is joined with `||`: a tool that is missing
//! fails like an unhealthy answer, and the next one is tried.
//!
//! HTTP passes when the status of a response is expected: one of `expect`, or by default any
//! 2xx or 3xx (as a Kubernetes probe judges it). wget follows redirects and prints every status
//! line with `-S`, so a chain passes when one of its responses is expected; curl, nc and bash
//! look at the first response only. HTTPS needs wget or curl (`insecure` skips certificate
//! checks); nc and bash cannot speak TLS and are not tried. TCP passes when the port accepts a
//! connection: curl exits 7 only when it cannot connect (any other answer, even garbage or a
//! timeout, means something listens), busybox nc has no `-z` but exits 0 once connected, and
//! bash opens `/dev/tcp`.
//!
//! The text is the shell command as the container's `/bin/sh` runs it; the caller escapes `$`
//! for Compose.

use crate::registry::model::HttpCheck;
use crate::registry::values::{Part, Template, parse_template};

/// Shell text interleaved with the request path, rendered for Compose at the end: `$` in the
/// shell text becomes `$$`, while `${VAR}` in the registry's path stays a Compose reference.
struct Script<'a> {
    path: &'a Template,
    parts: Vec<Part>,
}

impl Script<'_> {
    fn text(&mut self, s: &str) {
        self.parts.push(Part::Text(s.to_string()));
    }

    /// The path inside a single-quoted shell word.
    fn path(&mut self) {
        for part in &self.path.parts {
            self.parts.push(match part {
                Part::Text(t) => Part::Text(t.replace('\'', r"'\''")),
                other => other.clone(),
            });
        }
    }

    fn render(self) -> String {
        super::template_text(&Template { parts: self.parts })
    }
}

fn path_template(path: &str) -> Template {
    parse_template(path).unwrap_or_else(|_| Template::literal(path))
}

fn expected_codes(check: &HttpCheck) -> Vec<String> {
    check.expect.iter().map(u16::to_string).collect()
}

/// The command for an HTTP check, as Compose text.
pub fn http(check: &HttpCheck) -> String {
    let path = path_template(&check.path);
    let mut s = Script {
        path: &path,
        parts: Vec::new(),
    };
    let codes = expected_codes(check);
    // An extended regular expression for grep and a pattern for bash's `case`.
    let (regex, glob) = if codes.is_empty() {
        ("[23][0-9][0-9]".to_string(), "[23][0-9][0-9]".to_string())
    } else {
        (format!("({})", codes.join("|")), codes.join("|"))
    };
    let status = format!("HTTP/[0-9.]+ {regex}([^0-9]|$)");
    let (wget_tls, curl_tls) = if check.scheme == "https" && check.insecure {
        (" --no-check-certificate", " -k")
    } else {
        ("", "")
    };
    let url = format!("'{}://127.0.0.1:{}", check.scheme, check.port);
    s.text(&format!("wget -S -O /dev/null{wget_tls} {url}"));
    s.path();
    s.text(&format!("' 2>&1 | grep -Eq '^ *{status}' || curl -sS -o /dev/null -w '%{{http_code}}'{curl_tls} {url}"));
    s.path();
    s.text(&format!("' | grep -Eq '^{regex}$'"));
    if check.scheme == "http" {
        let port = check.port;
        s.text(" || printf '%s\\r\\n' 'GET ");
        s.path();
        s.text(&format!(
            " HTTP/1.0' 'Host: 127.0.0.1' '' | nc -w 3 127.0.0.1 {port} 2>/dev/null | head -n 1 | grep -Eq '^{status}'"
        ));
        s.text(&format!(
            " || bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port} && printf \"%s\\r\\n\" \"$1\" \"Host: 127.0.0.1\" \"\" >&3 && read -r v c r <&3 && case \"${{c%$'\\''\\r'\\''}}\" in {glob}) exit 0;; esac; exit 1' probe 'GET "
        ));
        s.path();
        s.text(" HTTP/1.0'");
    }
    s.render()
}

/// The command for a TCP check of `port`, as Compose text.
pub fn tcp(port: u16) -> String {
    format!(
        "{{ curl -so /dev/null -m 3 http://127.0.0.1:{port}/ </dev/null; r=$?; [ $r -ne 7 ] && [ $r -lt 126 ]; }} || nc -w 3 127.0.0.1 {port} </dev/null >/dev/null 2>&1 || bash -c ': </dev/tcp/127.0.0.1/{port}'"
    )
    .replace('$', "$$")
}

/// What the probe does, for the `x-muster` note next to it (Compose text).
pub fn http_note(check: &HttpCheck) -> String {
    let codes = expected_codes(check);
    let expect = if codes.is_empty() {
        "2xx or 3xx".to_string()
    } else {
        codes.join(" or ")
    };
    let tools = if check.scheme == "https" {
        "wget, else curl (nc and bash cannot speak TLS)"
    } else {
        "wget, else curl, else nc, else bash's /dev/tcp"
    };
    let path = super::template_text(&path_template(&check.path));
    format!(
        "GET {}://127.0.0.1:{}{path} expecting {expect}, with {tools}; `muster check --live` reports an image that has none of them (then use `exec` or `image`)",
        check.scheme, check.port
    )
}

/// What the TCP probe does, for the `x-muster` note next to it.
pub fn tcp_note(port: u16) -> String {
    format!(
        "connects to 127.0.0.1:{port} with curl, else nc, else bash's /dev/tcp; `muster check --live` reports an image that has none of them (then use `exec` or `image`)"
    )
}
