//! Traefik router rules as muster routes.
//!
//! A muster route is a host and a path (prefix or exact), which is what Traefik's `Host`,
//! `PathPrefix` and `Path` matchers joined by `&&` say. Other matchers, `||`, negation and
//! several values in one matcher have no route to become; the importer reports them.

/// What a rule matches: an optional host and path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Matched {
    pub host: Option<String>,
    pub path: Option<String>,
    /// `PathPrefix` (true) or `Path` (false).
    pub prefix: bool,
}

/// The route a rule describes, or why it has none.
pub fn parse(rule: &str) -> Result<Matched, String> {
    if rule.contains("||") || rule.contains('!') {
        return Err("`||` and `!` have no muster route".into());
    }
    let mut m = Matched {
        prefix: true,
        ..Matched::default()
    };
    for part in rule.split("&&") {
        let part = part.trim();
        let (matcher, rest) = part
            .split_once('(')
            .ok_or_else(|| format!("`{part}` is not a matcher"))?;
        let arg = rest
            .strip_suffix(')')
            .ok_or_else(|| format!("`{part}` does not close its `(`"))?;
        let value = literal(arg.trim())
            .ok_or_else(|| format!("`{matcher}` takes one value in backticks or quotes"))?;
        let slot = match matcher.trim() {
            "Host" => &mut m.host,
            "PathPrefix" => &mut m.path,
            "Path" => {
                m.prefix = false;
                &mut m.path
            }
            other => return Err(format!("the matcher `{other}` has no muster route")),
        };
        if slot.replace(value).is_some() {
            return Err(format!("`{}` appears twice", matcher.trim()));
        }
    }
    if m.host.is_none() && m.path.is_none() {
        return Err("the rule matches neither a host nor a path".into());
    }
    Ok(m)
}

/// One string literal: `` `x` `` or `"x"` (no escapes, no second value).
fn literal(s: &str) -> Option<String> {
    let quote = s.chars().next().filter(|c| *c == '`' || *c == '"')?;
    let inner = s.strip_prefix(quote)?.strip_suffix(quote)?;
    (!inner.contains(quote) && !inner.contains('\\')).then(|| inner.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_path_matchers_become_a_route() {
        assert_eq!(
            parse("PathPrefix(`/todo`)"),
            Ok(Matched {
                host: None,
                path: Some("/todo".into()),
                prefix: true
            })
        );
        assert_eq!(
            parse("Host(\"a.example\") && Path(`/x`)"),
            Ok(Matched {
                host: Some("a.example".into()),
                path: Some("/x".into()),
                prefix: false
            })
        );
    }

    #[test]
    fn what_a_route_cannot_say_is_refused_with_a_reason() {
        for rule in [
            "PathPrefix(`/a`) || PathPrefix(`/b`)",
            "Headers(`X`, `y`)",
            "Host(`a`, `b`)",
            "PathPrefix(`/a`) && PathPrefix(`/b`)",
            "PathPrefix(/a)",
            "",
        ] {
            assert!(parse(rule).is_err(), "{rule}");
        }
    }
}
