//! `.env` next to the registry: parsed with line positions, checked against `variables:`, and
//! scanned for placeholder values that were never filled in.
//!
//! The parser follows Compose's reading of `.env` for what people write in practice: `KEY=value`
//! lines, `#` comment lines, an optional `export ` prefix, values in single quotes (literal),
//! double quotes (`\n`, `\"`, `\\` escapes; may span lines) or bare (trimmed, ` #` starts a
//! comment). Values are taken literally: `${OTHER}` inside `.env` is not expanded.
//!
//! `.env` often holds credentials, so diagnostics are rendered against a copy of the file whose
//! values are starred out ([`EnvFile::display`]); byte offsets are the same in both.

use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::{Code, Diagnostic};
use crate::registry::Registry;
use crate::source::{SourceFile, Span};

/// The name of the variables file, next to the registry.
pub const ENV_FILE: &str = ".env";

/// One `KEY=value` assignment.
#[derive(Clone, PartialEq)]
pub struct EnvLine {
    pub key: String,
    pub value: String,
    pub key_span: Span,
    pub value_span: Span,
}

impl std::fmt::Debug for EnvLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvLine")
            .field("key", &self.key)
            .field("value", &"***")
            .field("key_span", &self.key_span)
            .finish()
    }
}

#[derive(Debug)]
pub struct EnvFile {
    /// False when there is no `.env` (every variable is then unset).
    pub exists: bool,
    pub lines: Vec<EnvLine>,
    /// Lines that could not be read, as diagnostics against [`EnvFile::display`].
    pub problems: Vec<Diagnostic>,
    /// The file with every value starred out, for rendering diagnostics.
    pub display: Arc<SourceFile>,
}

impl EnvFile {
    /// Reads `.env` from `registry_dir`; a missing file is an empty one.
    pub fn read(registry_dir: &Path) -> std::io::Result<EnvFile> {
        let path = registry_dir.join(ENV_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(EnvFile::parse(&path, &text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut file = EnvFile::parse(&path, "");
                file.exists = false;
                Ok(file)
            }
            Err(e) => Err(e),
        }
    }

    /// Parses `.env` text; `path` names it in diagnostics.
    pub fn parse(path: &Path, text: &str) -> EnvFile {
        let (lines, problems) = parse_lines(text);
        let mut masked = text.as_bytes().to_vec();
        for line in &lines {
            for b in &mut masked[line.value_span.start..line.value_span.end] {
                if !matches!(*b, b'\n' | b'\r') {
                    *b = b'*';
                }
            }
        }
        let masked = String::from_utf8(masked).unwrap_or_default();
        let mut display = SourceFile::new(crate::source::display_name(path), masked);
        display.path = path.to_path_buf();
        EnvFile {
            exists: true,
            lines,
            problems,
            display: Arc::new(display),
        }
    }

    /// The value of `key` (the last assignment wins, as in Compose).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines
            .iter()
            .rev()
            .find(|l| l.key == key)
            .map(|l| l.value.as_str())
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`, the names Compose accepts in `.env`.
pub fn is_variable_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The value of a variable for resolving templates: `.env` first, then the registry's `default`.
pub fn variable(reg: &Registry, env: &EnvFile, name: &str) -> Option<String> {
    env.get(name)
        .map(str::to_string)
        .or_else(|| reg.variables.get(name).and_then(|v| v.default.clone()))
}

fn parse_lines(text: &str) -> (Vec<EnvLine>, Vec<Diagnostic>) {
    let b = text.as_bytes();
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let line_end = text[i..].find('\n').map(|k| i + k).unwrap_or(b.len());
        let line = &text[i..line_end];
        let indent = line.len() - line.trim_start().len();
        let start = i + indent;
        let body = line.trim();
        if body.is_empty() || body.starts_with('#') {
            i = line_end + 1;
            continue;
        }
        let mut key_start = start;
        if let Some(rest) = body.strip_prefix("export")
            && rest.starts_with([' ', '\t'])
        {
            key_start = start + "export".len() + (rest.len() - rest.trim_start().len());
        }
        let Some(eq) = text[key_start..line_end].find('=') else {
            problems.push(
                Diagnostic::new(Code::Syntax, "this line of .env is not `KEY=value`")
                    .at(Span::new(start, line_end), "no `=`")
                    .help("write `KEY=value`, or start the line with `#` to make it a comment"),
            );
            i = line_end + 1;
            continue;
        };
        let key_raw = &text[key_start..key_start + eq];
        let key = key_raw.trim_end();
        let key_span = Span::new(key_start, key_start + key.len());
        if !is_variable_name(key) {
            problems.push(
                Diagnostic::new(Code::Syntax, format!("`{key}` is not a variable name"))
                    .at(key_span, "bad name")
                    .help("variable names are letters, digits and `_`, not starting with a digit"),
            );
        }
        let mut v = key_start + eq + 1;
        while v < line_end && matches!(b[v], b' ' | b'\t') {
            v += 1;
        }
        let (value, value_span, next) = match b.get(v) {
            Some(&q @ (b'\'' | b'"')) if v < line_end => match quoted(text, v, q) {
                Some((value, close)) => {
                    let after = text[close + 1..].find('\n').map(|k| close + 1 + k);
                    (value, Span::new(v, close + 1), after.unwrap_or(b.len()))
                }
                None => {
                    problems.push(
                        Diagnostic::new(Code::Syntax, "unterminated quoted value in .env")
                            .at(Span::new(v, line_end), "no closing quote")
                            .help("close the quote, or remove it"),
                    );
                    i = line_end + 1;
                    continue;
                }
            },
            _ => {
                let raw = &text[v..line_end];
                let raw = match raw.find(" #").or_else(|| raw.find("\t#")) {
                    Some(k) => &raw[..k],
                    None => raw,
                };
                let raw = raw.trim_end();
                (raw.to_string(), Span::new(v, v + raw.len()), line_end)
            }
        };
        lines.push(EnvLine {
            key: key.to_string(),
            value,
            key_span,
            value_span,
        });
        i = next + 1;
    }
    (lines, problems)
}

/// The value of a quoted string starting at `open`, and the index of its closing quote.
fn quoted(text: &str, open: usize, quote: u8) -> Option<(String, usize)> {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut j = open + 1;
    let mut run = j;
    while j < b.len() {
        if b[j] == quote {
            out.push_str(&text[run..j]);
            return Some((out, j));
        }
        if quote == b'"' && b[j] == b'\\' && j + 1 < b.len() {
            out.push_str(&text[run..j]);
            match b[j + 1] {
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                _ => out.push_str(&text[j..j + 2]),
            }
            j += 2;
            run = j;
            continue;
        }
        j += 1;
    }
    None
}

/// Whether a value is a placeholder someone forgot to replace, and which sort. The answer names
/// the pattern, not the value.
pub fn placeholder(value: &str) -> Option<&'static str> {
    let v = value.trim();
    let upper = v.to_ascii_uppercase();
    let words = [
        ("CHANGE_ME", "a `CHANGE_ME` marker"),
        ("CHANGE-ME", "a `CHANGE_ME` marker"),
        ("CHANGEME", "a `changeme` marker"),
        ("REPLACE_ME", "a `REPLACE_ME` marker"),
        ("REPLACE-ME", "a `REPLACE_ME` marker"),
        ("REPLACEME", "a `REPLACE_ME` marker"),
        ("REPLACE_WITH_", "a `REPLACE_WITH_...` marker"),
        ("TODO:", "a `TODO:` note"),
    ];
    for (word, what) in words {
        if upper.contains(word) {
            return Some(what);
        }
    }
    if let Some(start) = upper.find("YOUR_")
        && upper[start + 5..].contains("_HERE")
    {
        return Some("a `YOUR_..._HERE` placeholder");
    }
    if v.len() >= 3
        && v.starts_with('<')
        && v.ends_with('>')
        && !v[1..v.len() - 1].contains(['<', '>'])
    {
        return Some("a `<...>` placeholder");
    }
    None
}

/// Names Compose and Docker read from `.env` themselves: never reported as unknown.
fn is_tool_variable(name: &str) -> bool {
    name.starts_with("COMPOSE_") || name.starts_with("DOCKER_")
}

/// `.env` checked against `variables:`: every required variable set and non-empty, no
/// placeholder left, and a warning for each variable the registry does not declare. Spans point
/// into [`EnvFile::display`].
pub fn check_env(reg: &Registry, env: &EnvFile) -> Vec<Diagnostic> {
    let mut out = env.problems.clone();
    for line in &env.lines {
        if let Some(what) = placeholder(&line.value) {
            out.push(
                Diagnostic::new(
                    Code::BadValue,
                    format!("`{}` in .env is still a placeholder", line.key),
                )
                .at(line.value_span, what)
                .help(format!("set `{}` to its real value", line.key)),
            );
        }
        if !reg.variables.contains_key(&line.key) && !is_tool_variable(&line.key) {
            let help = match crate::diagnostic::did_you_mean(
                &line.key,
                reg.variables.keys().map(String::as_str),
            ) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!(
                    "declare it under `variables:` in {}, or remove it",
                    crate::registry::FILE_NAME
                ),
            };
            out.push(
                Diagnostic::new(
                    Code::UndeclaredVariable,
                    format!(
                        "`{}` is set in .env but not declared in `variables:`",
                        line.key
                    ),
                )
                .at(line.key_span, "unknown variable")
                .help(help),
            );
        }
    }
    for (name, var) in &reg.variables {
        if !var.required {
            continue;
        }
        let example = var
            .example
            .as_deref()
            .map(|e| format!(", e.g. `{name}={e}`"))
            .unwrap_or_default();
        let last = env.lines.iter().rev().find(|l| &l.key == name);
        match last {
            None => out.push(
                Diagnostic::new(
                    Code::Missing,
                    format!("required variable `{name}` is not set in .env"),
                )
                .help(format!("add a line `{name}=...` to .env{example}")),
            ),
            Some(line) if line.value.trim().is_empty() => out.push(
                Diagnostic::new(
                    Code::Missing,
                    format!("required variable `{name}` is empty"),
                )
                .at(line.key_span, "empty value")
                .help(format!("give `{name}` a value{example}")),
            ),
            Some(_) => {}
        }
    }
    crate::diagnostic::sort_and_dedup(&mut out);
    out
}

/// The result of checking `.env`: the (starred-out) file the diagnostics point into, and them.
#[derive(Debug)]
pub struct EnvCheck {
    pub file: Arc<SourceFile>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reads and checks `.env` next to the registry (for `muster check` and `muster secrets check`).
pub fn check_env_report(reg: &Registry, registry_dir: &Path) -> EnvCheck {
    match EnvFile::read(registry_dir) {
        Ok(env) => {
            let diagnostics = check_env(reg, &env);
            EnvCheck {
                file: env.display.clone(),
                diagnostics,
            }
        }
        Err(e) => {
            let path = registry_dir.join(ENV_FILE);
            let mut file = SourceFile::new(crate::source::display_name(&path), "");
            file.path = path;
            EnvCheck {
                file: Arc::new(file),
                diagnostics: vec![Diagnostic::new(
                    Code::Syntax,
                    format!("cannot read .env: {e}"),
                )],
            }
        }
    }
}

/// [`check_env_report`]'s diagnostics alone. Their spans point into the starred-out `.env`
/// that [`check_env_report`] returns with them.
pub fn check_env_file(reg: &Registry, registry_dir: &Path) -> Vec<Diagnostic> {
    check_env_report(reg, registry_dir).diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> EnvFile {
        EnvFile::parse(Path::new(".env"), text)
    }

    #[test]
    fn reads_compose_style_lines() {
        let env = parse(
            "# comment\n\nA=plain\nexport B = spaced  \nC='single $x # kept'\nD=\"dq \\\"q\\\" \\n\"\nE=bare # comment\nF=\nG=a=b\nH=\"multi\nline\"\nI=x#y\n",
        );
        let get = |k: &str| env.get(k).map(str::to_string);
        assert_eq!(get("A").as_deref(), Some("plain"));
        assert_eq!(get("B").as_deref(), Some("spaced"));
        assert_eq!(get("C").as_deref(), Some("single $x # kept"));
        assert_eq!(get("D").as_deref(), Some("dq \"q\" \n"));
        assert_eq!(get("E").as_deref(), Some("bare"));
        assert_eq!(get("F").as_deref(), Some(""));
        assert_eq!(get("G").as_deref(), Some("a=b"));
        assert_eq!(get("H").as_deref(), Some("multi\nline"));
        assert_eq!(get("I").as_deref(), Some("x#y"));
        assert!(env.problems.is_empty(), "{:?}", env.problems);
    }

    #[test]
    fn display_copy_hides_values_but_keeps_offsets() {
        let text = "KEY=hunter2\nOTHER='quoted secret'\n";
        let env = parse(text);
        assert_eq!(env.display.text.len(), text.len());
        assert!(!env.display.text.contains("hunter2"));
        assert!(!env.display.text.contains("quoted"));
        let line = &env.lines[1];
        assert_eq!(env.display.slice(line.key_span), "OTHER");
    }

    #[test]
    fn bad_lines_are_located() {
        let env = parse("GOOD=1\nnot an assignment\n1BAD=x\nQ='open\n");
        let lines: Vec<usize> = env
            .problems
            .iter()
            .map(|d| env.display.line_col(d.span.unwrap().start).0)
            .collect();
        assert_eq!(lines, vec![2, 3, 4]);
    }

    #[test]
    fn placeholders() {
        for p in [
            "CHANGE_ME",
            "changeme",
            "please-changeme-now",
            "REPLACE_ME",
            "REPLACE_WITH_YOUR_TOKEN",
            "YOUR_API_KEY_HERE",
            "<your password>",
            "TODO: ask ops",
        ] {
            assert!(placeholder(p).is_some(), "{p}");
        }
        for fine in ["hunter2", "a<b>c", "<>", "example.com", "your-host", "todo"] {
            assert!(placeholder(fine).is_none(), "{fine}");
        }
    }
}
