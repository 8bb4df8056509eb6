//! Config templates (`configs:`), rendered for `up` into `.muster/rendered/<service>/`.
//!
//! A template is any text file. Only braced placeholders are muster's: `${VAR}` (with Compose's
//! `:-`, `-`, `:?`, `?` forms), `${secret:NAME}` and `${host:SERVICE}`; `$${` writes a literal
//! `${`, and every other `$` (shell `$1`, nginx `$host`, Caddy `{$VAR}`) is left alone, so
//! existing config files stay valid templates. Every placeholder that cannot be resolved is
//! reported with `file:line`, and then nothing is written.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::files;
use super::resolve::Values;
use crate::registry::Registry;
use crate::registry::model::Service;
use crate::registry::values::{Part, Template, parse_template};

/// One rendered config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedConfig {
    pub service: String,
    /// The template, as the registry names it.
    pub template: String,
    /// Where the service sees it.
    pub target: String,
    /// The rendered file, `.muster/rendered/<service>/<template file name>`.
    pub path: PathBuf,
    pub mode: Option<u32>,
}

/// A placeholder that could not be resolved: template file, line (1-based), what is wrong.
pub type Unresolved = (PathBuf, usize, String);

/// A numeric uid and optional gid, from a service's `user:`.
pub type Owner = (u32, Option<u32>);

enum Piece<'a> {
    Text(&'a str),
    /// A `${...}` placeholder and its byte offset.
    Placeholder(&'a str, usize),
}

/// Splits a template into text and `${...}` placeholders (balanced braces, so defaults may
/// nest); `$${` becomes text `${`. An unterminated `${` is an error at its offset.
fn scan(text: &str) -> Result<Vec<Piece<'_>>, usize> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        if b.get(i + 1) == Some(&b'$') && b.get(i + 2) == Some(&b'{') {
            out.push(Piece::Text(&text[run..i]));
            out.push(Piece::Text("${"));
            i += 3;
            run = i;
            continue;
        }
        if b.get(i + 1) != Some(&b'{') {
            i += 1;
            continue;
        }
        let mut depth = 1;
        let mut j = i + 2;
        while j < b.len() && depth > 0 {
            if b[j] == b'$' && b.get(j + 1) == Some(&b'{') {
                depth += 1;
                j += 2;
                continue;
            }
            if b[j] == b'}' {
                depth -= 1;
            }
            j += 1;
        }
        if depth > 0 {
            return Err(i);
        }
        out.push(Piece::Text(&text[run..i]));
        out.push(Piece::Placeholder(&text[i..j], i));
        i = j;
        run = i;
    }
    out.push(Piece::Text(&text[run..]));
    Ok(out)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The names of the `${secret:NAME}` placeholders of a template (for `rotate`'s list of users).
pub fn secret_names(text: &str) -> Vec<String> {
    let Ok(pieces) = scan(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for piece in pieces {
        if let Piece::Placeholder(p, _) = piece
            && let Ok(t) = parse_template(p)
        {
            out.extend(t.secrets().map(str::to_string));
        }
    }
    out
}

/// Renders one template's text. `vars` gives variables (`.env`, then registry defaults).
pub fn render_text(
    reg: &Registry,
    text: &str,
    file: &Path,
    vars: &dyn Fn(&str) -> Option<String>,
    values: &Values,
) -> Result<Zeroizing<String>, Vec<Unresolved>> {
    let mut problems = Vec::new();
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let pieces = scan(text).map_err(|offset| {
        vec![(
            file.to_path_buf(),
            line_of(text, offset),
            "unterminated `${`: missing `}` (write `$${` for a literal `${`)".to_string(),
        )]
    })?;
    for piece in pieces {
        let (placeholder, offset) = match piece {
            Piece::Text(t) => {
                out.push_str(t);
                continue;
            }
            Piece::Placeholder(p, offset) => (p, offset),
        };
        let line = line_of(text, offset);
        let mut problem = |message: String| problems.push((file.to_path_buf(), line, message));
        let template: Template = match parse_template(placeholder) {
            Ok(t) => t,
            Err(e) => {
                problem(format!("`{placeholder}`: {}", e.reason));
                continue;
            }
        };
        let mut ok = true;
        for part in template.placeholders() {
            match part {
                Part::Secret { name, .. } => match (reg.secrets.get(name), values.get(name)) {
                    (None, _) => {
                        problem(format!(
                            "`${{secret:{name}}}`: `{name}` is not a secret of the registry"
                        ));
                        ok = false;
                    }
                    (Some(_), None) => {
                        problem(format!(
                            "`${{secret:{name}}}`: the secret has no value (run `muster secrets generate`, or set it)"
                        ));
                        ok = false;
                    }
                    _ => {}
                },
                Part::Host { name, .. } if !reg.services.contains_key(name) => {
                    problem(format!("`${{host:{name}}}`: `{name}` is not a service"));
                    ok = false;
                }
                _ => {}
            }
        }
        // A bare `${VAR}` that is unset would silently become empty: in a config file that is
        // almost always a mistake, so it is an error here (Compose's `${VAR:-}` says "empty is fine").
        if let [Part::Var { name, op: None, .. }] = template.parts.as_slice()
            && vars(name).is_none()
        {
            problem(format!(
                "`${{{name}}}`: variable `{name}` is not set (in .env, or as a `default` under `variables:`)"
            ));
            ok = false;
        }
        if !ok {
            continue;
        }
        let secret = |n: &str| {
            values
                .get(n)
                .map(|v| v.expose().to_string())
                .unwrap_or_default()
        };
        match template.resolve(vars, &|h: &str| h.to_string(), &secret) {
            Ok(resolved) => {
                let resolved = Zeroizing::new(resolved);
                out.push_str(&resolved);
            }
            Err(message) => problem(message),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The numeric user (and group) of a service's `user:` (`"999"`, `"999:999"`), if it is numeric.
pub fn numeric_user(service: &Service) -> Option<Owner> {
    let user = service.user.as_deref()?;
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid = uid.parse().ok()?;
    let gid = match gid {
        Some(g) => Some(g.parse().ok()?),
        None => None,
    };
    Some((uid, gid))
}

/// Renders every config template of the enabled services into
/// `.muster/rendered/<service>/<template file name>` (0600; given to the service's numeric
/// `user` when muster runs as root, so the container can read it). `vars` gives variables
/// (`.env`, then registry defaults); `values` the secrets' current values. When any placeholder
/// is unresolved, every one is reported and nothing is written.
pub fn render_configs(
    reg: &Registry,
    registry_dir: &Path,
    vars: &dyn Fn(&str) -> Option<String>,
    values: &Values,
) -> Result<Vec<RenderedConfig>, Vec<Unresolved>> {
    let rendered_dir = super::Paths::new(registry_dir).rendered;
    let mut problems = Vec::new();
    let mut outputs: Vec<(RenderedConfig, Zeroizing<String>, Option<Owner>)> = Vec::new();
    for service in reg.enabled_services() {
        let mut names = BTreeSet::new();
        for config in &service.configs {
            let template = registry_dir.join(&config.template.value);
            let file_name = template
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "config".into());
            if !names.insert(file_name.clone()) {
                problems.push((
                    template.clone(),
                    1,
                    format!(
                        "service `{}` has two config templates named `{file_name}`; rename one",
                        service.name.value
                    ),
                ));
                continue;
            }
            let text = match std::fs::read_to_string(&template) {
                Ok(t) => Zeroizing::new(t),
                Err(e) => {
                    problems.push((
                        template.clone(),
                        1,
                        format!("cannot read the template: {e}"),
                    ));
                    continue;
                }
            };
            match render_text(reg, &text, &template, vars, values) {
                Ok(content) => outputs.push((
                    RenderedConfig {
                        service: service.name.value.clone(),
                        template: config.template.value.clone(),
                        target: config.target.clone(),
                        path: rendered_dir.join(&service.name.value).join(&file_name),
                        mode: config.mode,
                    },
                    content,
                    numeric_user(service),
                )),
                Err(mut p) => problems.append(&mut p),
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let io = |path: &Path, e: std::io::Error| {
        vec![(
            path.to_path_buf(),
            1,
            format!("cannot write {}: {e}", path.display()),
        )]
    };
    let muster_dir = rendered_dir.parent().unwrap_or(registry_dir).to_path_buf();
    files::ensure_gitignore(&muster_dir).map_err(|e| io(&muster_dir, e))?;
    files::private_dir(&rendered_dir, 0o700).map_err(|e| io(&rendered_dir, e))?;
    let mut written: Vec<PathBuf> = Vec::new();
    for (config, content, owner) in &outputs {
        let dir = config.path.parent().unwrap_or(&rendered_dir);
        files::private_dir(dir, 0o700).map_err(|e| io(dir, e))?;
        files::write_private(&config.path, content.as_bytes(), 0o600)
            .map_err(|e| io(&config.path, e))?;
        if let Some((uid, gid)) = owner {
            // Only root can give a file away; otherwise the file stays the caller's.
            let _ = files::chown(&config.path, *uid, *gid);
        }
        written.push(config.path.clone());
    }
    // Files of templates that are gone would otherwise linger with old secret values.
    for service in reg.enabled_services() {
        let dir = rendered_dir.join(&service.name.value);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if !written.contains(&entry.path()) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
    Ok(outputs.into_iter().map(|(c, _, _)| c).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_keeps_foreign_dollars() {
        let text = "a $1 $host {$X} $${LIT} ${A:-${B}} end";
        let pieces = scan(text).unwrap();
        let placeholders: Vec<&str> = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Placeholder(p, _) => Some(*p),
                _ => None,
            })
            .collect();
        assert_eq!(placeholders, vec!["${A:-${B}}"]);
        assert_eq!(scan("x\n${open").err(), Some(2));
        assert_eq!(line_of("x\n${open", 2), 2);
    }

    #[test]
    fn secret_names_are_found() {
        assert_eq!(
            secret_names("u=${secret:db}\n$${secret:not} ${X:-${secret:deep}}"),
            vec!["db".to_string(), "deep".to_string()]
        );
    }
}
