//! Turning YAML nodes into the typed registry, reporting every problem on the way.
//!
//! Decoding never stops at the first mistake: each field that cannot be read is reported
//! with its location and left out, and decoding goes on, so `muster check` lists every
//! problem at once. The allowed keys of every object live here, next to the code that reads
//! them, and the JSON Schema is tested against these lists.

mod service;
mod top;

use std::collections::HashMap;
use std::time::Duration;

use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::registry::model::{Command, Map, Name, Spanned, Verbatim};
use crate::registry::values::{self, Part, Template};
use crate::registry::yaml::{Node, Value};
use crate::source::{SourceFile, Span};

pub use service::{SERVICE as SERVICE_KEYS, subdomain_route};
pub use top::{TOP as TOP_KEYS, decode_from_base, decode_registry};

/// Names a placeholder refers to, with where they are used; checked once everything is read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct References {
    pub variables: Vec<(String, Span)>,
    pub secrets: Vec<(String, Span)>,
    pub hosts: Vec<(String, Span)>,
}

/// Up to this many entries, a mapping's keys are compared one by one rather than indexed.
const SMALL_MAPPING: usize = 16;

pub(crate) struct Decoder<'s> {
    pub src: &'s SourceFile,
    pub diags: Vec<Diagnostic>,
    pub refs: References,
    /// Whether `${secret:...}` is allowed in the strings read right now (env values only).
    secrets_allowed: bool,
}

/// The entries of one mapping, after unknown and duplicate keys were reported.
pub(crate) struct Fields<'n> {
    entries: Vec<(&'n str, &'n Node, &'n Node)>,
    pub span: Span,
}

impl<'n> Fields<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, v)| *v)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn key_span(&self, key: &str) -> Option<Span> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, k, _)| k.span)
    }

    /// `x-` keys, which are kept verbatim.
    pub fn extensions(&self) -> Map<Verbatim> {
        self.entries
            .iter()
            .filter(|(k, _, _)| k.starts_with("x-"))
            .map(|(k, _, v)| (k.to_string(), to_verbatim(v)))
            .collect()
    }
}

impl<'s> Decoder<'s> {
    pub fn new(src: &'s SourceFile) -> Decoder<'s> {
        Decoder {
            src,
            diags: Vec::new(),
            refs: References::default(),
            secrets_allowed: false,
        }
    }

    /// Takes over what `other` found, after what this decoder found.
    pub fn absorb(&mut self, other: &mut Decoder) {
        self.diags.append(&mut other.diags);
        self.refs.variables.append(&mut other.refs.variables);
        self.refs.secrets.append(&mut other.refs.secrets);
        self.refs.hosts.append(&mut other.refs.hosts);
    }

    pub fn report(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub fn wrong_type(&mut self, node: &Node, what: &str, expected: &str) {
        let mut d = Diagnostic::new(
            Code::WrongType,
            format!("{what} must be {expected}, not {}", node.value.kind()),
        )
        .at(node.span, format!("expected {expected}"));
        if expected.contains("string")
            && matches!(node.value, Value::Int(_) | Value::Float(_) | Value::Bool(_))
        {
            let text = self.src.slice(node.span).trim();
            d = d.help(format!("quote it to keep it as written: \"{text}\""));
        }
        self.report(d);
    }

    /// Checks that `node` is a mapping whose keys are all in `known` (or start with `x-`).
    /// `null` counts as an empty mapping. Returns None (after reporting) for other types.
    pub fn fields<'n>(&mut self, node: &'n Node, what: &str, known: &[&str]) -> Option<Fields<'n>>
    where
        's: 'n,
    {
        self.mapping(node, what, Some(known))
    }

    /// The entries of a mapping keyed by names (services, networks, ...), with the names
    /// checked; `x-` keys are skipped.
    pub fn named_entries<'n>(&mut self, node: &'n Node, what: &str) -> Vec<(Name, &'n Node)>
    where
        's: 'n,
    {
        let Some(fields) = self.fields_any(node, what) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, key, value) in fields.entries {
            if name.starts_with("x-") {
                continue;
            }
            self.check_name(&Spanned::new(name.to_string(), key.span));
            out.push((Spanned::new(name.to_string(), key.span), value));
        }
        out
    }

    /// A mapping with free keys (only duplicates are reported).
    pub fn fields_any<'n>(&mut self, node: &'n Node, what: &str) -> Option<Fields<'n>>
    where
        's: 'n,
    {
        self.mapping(node, what, None)
    }

    /// The entries of a mapping, with duplicate keys reported and, when `known` is given,
    /// unknown keys too. Scalar keys of other types are read as written (`8080: ...`).
    fn mapping<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        known: Option<&[&str]>,
    ) -> Option<Fields<'n>>
    where
        's: 'n,
    {
        let entries = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => {
                return Some(Fields {
                    entries: Vec::new(),
                    span: node.span,
                });
            }
            _ => {
                self.wrong_type(node, what, "a mapping");
                return None;
            }
        };
        let mut fields = Fields {
            entries: Vec::with_capacity(entries.len()),
            span: node.span,
        };
        // Keys taken so far, by name: looked up in the entries themselves for a small
        // mapping (most of them), in an index for a large one.
        let mut index: Option<HashMap<&str, Span>> =
            (entries.len() > SMALL_MAPPING).then(|| HashMap::with_capacity(entries.len()));
        for (key, value) in entries {
            let name = match &key.value {
                Value::Str(s, _) => s.as_str(),
                Value::Int(_) | Value::Float(_) | Value::Bool(_) if known.is_none() => {
                    self.src.slice(key.span).trim()
                }
                _ => {
                    self.wrong_type(key, &format!("a key of {what}"), "a string");
                    continue;
                }
            };
            let first = match &index {
                Some(index) => index.get(name).copied(),
                None => fields
                    .entries
                    .iter()
                    .find(|(taken, _, _)| *taken == name)
                    .map(|(_, key, _)| key.span),
            };
            if let Some(first) = first {
                self.report(
                    Diagnostic::new(
                        Code::DuplicateKey,
                        format!("`{name}` is given twice in {what}"),
                    )
                    .at(key.span, "given again here")
                    .related(first, "first given here")
                    .help("remove one of them; YAML keeps only the last"),
                );
                continue;
            }
            if let Some(known) = known
                && !name.starts_with("x-")
                && !known.contains(&name)
            {
                let d =
                    Diagnostic::new(Code::UnknownKey, format!("unknown key `{name}` in {what}"))
                        .at(key.span, "unknown key");
                self.report(match did_you_mean(name, known.iter().copied()) {
                    Some(close) => d.help(format!("did you mean `{close}`?")),
                    None => d.help(format!(
                        "allowed keys: {}; keys starting with `x-` are kept and ignored",
                        known.join(", ")
                    )),
                });
                continue;
            }
            if let Some(index) = &mut index {
                index.insert(name, key.span);
            }
            fields.entries.push((name, key, value));
        }
        Some(fields)
    }

    /// The items of an optional list field, each read by `item` (bad items are reported and
    /// skipped).
    pub fn items<T>(
        &mut self,
        node: Option<&Node>,
        what: &str,
        mut item: impl FnMut(&mut Self, &Node) -> Option<T>,
    ) -> Vec<T> {
        let Some(node) = node else {
            return Vec::new();
        };
        self.list(node, what)
            .iter()
            .filter_map(|i| item(self, i))
            .collect()
    }

    /// Iterates the entries of a free mapping.
    pub fn entries<'n>(&mut self, node: &'n Node, what: &str) -> Vec<(Spanned<String>, &'n Node)>
    where
        's: 'n,
    {
        self.fields_any(node, what)
            .map(|f| {
                f.entries
                    .into_iter()
                    .map(|(k, key, v)| (Spanned::new(k.to_string(), key.span), v))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A string. Placeholders in it are parsed and recorded.
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s, _) => {
                self.scan_placeholders(node, s);
                Some(s.clone())
            }
            _ => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    /// A scalar read as text: numbers and booleans keep the text they were written as.
    pub fn text(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Str(s, _) => {
                self.scan_placeholders(node, s);
                Some(s.clone())
            }
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                Some(self.src.slice(node.span).trim().to_string())
            }
            _ => {
                self.wrong_type(node, what, "a string, number or boolean");
                None
            }
        }
    }

    pub fn template(&mut self, node: &Node, what: &str) -> Option<Spanned<Template>> {
        let text = self.string(node, what)?;
        values::parse_template(&text)
            .ok()
            .map(|t| Spanned::new(t, node.span))
    }

    /// Like [`Decoder::text`], parsed as a template, with `${secret:...}` allowed.
    pub fn secret_bearing_text(&mut self, node: &Node, what: &str) -> Option<Template> {
        self.secrets_allowed = true;
        let text = self.text(node, what);
        self.secrets_allowed = false;
        let text = text?;
        Some(match node.value {
            Value::Str(..) => {
                values::parse_template(&text).unwrap_or_else(|_| Template::literal(&text))
            }
            _ => Template::literal(&text),
        })
    }

    /// A name that refers to something declared elsewhere. Its syntax is not checked here:
    /// a bad name is reported once, where it is declared, and an undeclared one by `check`.
    pub fn name(&mut self, node: &Node, what: &str) -> Option<Name> {
        match &node.value {
            Value::Str(s, _) => Some(Spanned::new(s.clone(), node.span)),
            _ => {
                self.wrong_type(node, what, "a name (string)");
                None
            }
        }
    }

    /// Reports a declared name that breaks the naming rule.
    pub fn check_name(&mut self, name: &Name) {
        if let Err(reason) = values::check_name(&name.value) {
            self.report(
                Diagnostic::new(Code::BadName, format!("`{}` is not a valid name: {reason}", name.value))
                    .at(name.span, "bad name")
                    .help("names are lowercase letters, digits, `-` and `_`, starting with a letter or digit, at most 63 characters"),
            );
        }
    }

    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.wrong_type(node, what, "true or false");
                None
            }
        }
    }

    pub fn int(&mut self, node: &Node, what: &str) -> Option<i64> {
        match node.value {
            Value::Int(i) => Some(i),
            _ => {
                self.wrong_type(node, what, "an integer");
                None
            }
        }
    }

    /// An integer within `min..=max`.
    pub fn uint(&mut self, node: &Node, what: &str, min: u32, max: u32) -> Option<u32> {
        let i = self.int(node, what)?;
        if i < i64::from(min) || i > i64::from(max) {
            self.report(
                Diagnostic::new(
                    Code::OutOfRange,
                    format!("{what} must be between {min} and {max}, not {i}"),
                )
                .at(node.span, "out of range"),
            );
            return None;
        }
        Some(i as u32)
    }

    pub fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
        match &node.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) if f.is_finite() => Some(*f),
            Value::Str(s, _) if s.parse::<f64>().is_ok_and(f64::is_finite) => s.parse().ok(),
            _ => {
                self.wrong_type(node, what, "a number");
                None
            }
        }
    }

    pub fn port(&mut self, node: &Node, what: &str) -> Option<u16> {
        let n = match &node.value {
            Value::Int(i) => *i,
            Value::Str(s, _) if s.parse::<i64>().is_ok() => s.parse().unwrap_or_default(),
            _ => {
                self.wrong_type(node, what, "a port number");
                return None;
            }
        };
        match values::parse_port_number(n) {
            Ok(p) => Some(p),
            Err(reason) => {
                self.report(
                    Diagnostic::new(Code::OutOfRange, format!("{what}: {reason}"))
                        .at(node.span, "not a port number")
                        .help("ports are 1 to 65535"),
                );
                None
            }
        }
    }

    pub fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let text = match &node.value {
            Value::Str(s, _) => s.clone(),
            Value::Int(0) => "0s".into(),
            Value::Int(_) | Value::Float(_) => {
                self.report(
                    Diagnostic::new(Code::BadDuration, format!("{what} needs a unit"))
                        .at(node.span, "no unit")
                        .help(format!(
                            "write it with a unit, e.g. `{}s`",
                            self.src.slice(node.span).trim()
                        )),
                );
                return None;
            }
            _ => {
                self.wrong_type(node, what, "a duration such as `30s`");
                return None;
            }
        };
        match values::parse_duration(&text) {
            Ok(d) => Some(d),
            Err(reason) => {
                self.report(
                    Diagnostic::new(
                        Code::BadDuration,
                        format!("{what}: `{text}` is not a duration: {reason}"),
                    )
                    .at(node.span, "bad duration")
                    .help("durations look like `500ms`, `90s`, `2m` or `1h30m`"),
                );
                None
            }
        }
    }

    pub fn size(&mut self, node: &Node, what: &str) -> Option<u64> {
        let text = match &node.value {
            Value::Str(s, _) => s.clone(),
            Value::Int(i) if *i >= 0 => i.to_string(),
            _ => {
                self.wrong_type(node, what, "a size such as `512M`");
                return None;
            }
        };
        match values::parse_size(&text) {
            Ok(s) => Some(s),
            Err(reason) => {
                self.report(
                    Diagnostic::new(
                        Code::BadSize,
                        format!("{what}: `{text}` is not a size: {reason}"),
                    )
                    .at(node.span, "bad size")
                    .help(
                        "sizes look like `512K`, `256M`, `4G`, `1.5G` or `512Mi` (powers of 1024)",
                    ),
                );
                None
            }
        }
    }

    /// A list of items; a lone scalar is a type error.
    pub fn list<'n>(&mut self, node: &'n Node, what: &str) -> &'n [Node] {
        match &node.value {
            Value::Seq(items) => items,
            Value::Null => &[],
            _ => {
                self.wrong_type(node, what, "a list");
                &[]
            }
        }
    }

    pub fn string_list(&mut self, node: &Node, what: &str) -> Vec<String> {
        self.list(node, what)
            .iter()
            .filter_map(|item| self.text(item, &format!("an item of {what}")))
            .collect()
    }

    pub fn name_list(&mut self, node: &Node, what: &str) -> Vec<Name> {
        self.list(node, what)
            .iter()
            .filter_map(|item| self.name(item, &format!("an item of {what}")))
            .collect()
    }

    /// A string map, written as a mapping or as a list of `KEY=value`.
    pub fn string_map(&mut self, node: &Node, what: &str) -> Map<String> {
        if let Value::Seq(items) = &node.value {
            let mut out = Map::default();
            for item in items {
                let Some(text) = self.string(item, &format!("an item of {what}")) else {
                    continue;
                };
                let (k, v) = text.split_once('=').unwrap_or((text.as_str(), ""));
                out.insert(k.to_string(), v.to_string());
            }
            return out;
        }
        self.entries(node, what)
            .into_iter()
            .filter_map(|(k, v)| {
                let value = self.text(v, &format!("`{}` in {what}", k.value))?;
                Some((k.value, value))
            })
            .collect()
    }

    /// A command: a string (shell form) or a list (exec form).
    pub fn command(&mut self, node: &Node, what: &str) -> Option<Command> {
        match &node.value {
            Value::Str(s, _) => {
                self.scan_placeholders(node, s);
                Some(Command::Shell(s.clone()))
            }
            Value::Seq(items) => Some(Command::Exec(
                items
                    .iter()
                    .filter_map(|i| self.text(i, &format!("an argument of {what}")))
                    .collect(),
            )),
            _ => {
                self.wrong_type(node, what, "a string or a list of strings");
                None
            }
        }
    }

    /// One of a fixed set of words.
    pub fn choice<T: Copy>(&mut self, node: &Node, what: &str, choices: &[(&str, T)]) -> Option<T> {
        let text = match &node.value {
            Value::Str(s, _) => s.as_str(),
            _ => {
                self.wrong_type(node, what, "a string");
                return None;
            }
        };
        if let Some((_, v)) = choices.iter().find(|(n, _)| *n == text) {
            return Some(*v);
        }
        let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
        let mut d = Diagnostic::new(Code::BadValue, format!("{what} cannot be `{text}`"))
            .at(node.span, format!("expected one of {}", names.join(", ")));
        if let Some(close) = did_you_mean(text, names.iter().copied()) {
            d = d.help(format!("did you mean `{close}`?"));
        }
        self.report(d);
        None
    }

    /// Parses `${...}` placeholders in a string scalar: reports bad syntax and records what
    /// they refer to, for the reference checks.
    fn scan_placeholders(&mut self, node: &Node, text: &str) {
        if !text.contains('$') {
            return;
        }
        let raw = self.src.slice(node.span);
        let base = raw.find(text);
        match values::parse_template(text) {
            Ok(template) => {
                for part in template.placeholders() {
                    match part {
                        Part::Var { name, range, .. } => {
                            let span = self.span_in(node, text, base, range.clone());
                            self.refs.variables.push((name.clone(), span));
                        }
                        Part::Secret { name, range } => {
                            let span = self.span_in(node, text, base, range.clone());
                            if !self.secrets_allowed {
                                self.report(
                                    Diagnostic::new(Code::Exclusive, format!("`${{secret:{name}}}` cannot be used here"))
                                        .at(span, "secret outside an env value")
                                        .help("secrets reach a service through `env` values, `secrets:` mounts or `configs:` templates, so they never land in generated files"),
                                );
                            }
                            self.refs.secrets.push((name.clone(), span));
                        }
                        Part::Host { name, range } => {
                            let span = self.span_in(node, text, base, range.clone());
                            self.refs.hosts.push((name.clone(), span));
                        }
                        Part::Text(_) => {}
                    }
                }
            }
            Err(e) => {
                let span = self.span_in(node, text, base, e.offset..e.offset + 1);
                self.report(
                    Diagnostic::new(Code::BadInterpolation, format!("bad placeholder: {}", e.reason))
                        .at(span, "here")
                        .help("placeholders are `${VAR}`, `${VAR:-default}`, `${VAR:?message}`, `${secret:NAME}` or `${host:SERVICE}`; write `$$` for a literal `$`"),
                );
            }
        }
    }

    /// The source span of `range` inside the string value of `node`, when the value appears
    /// verbatim in the source (no escapes); else the whole node.
    pub fn sub_span(&self, node: &Node, value: &str, range: std::ops::Range<usize>) -> Span {
        let raw = self.src.slice(node.span);
        let base = if value.is_empty() {
            None
        } else {
            raw.find(value)
        };
        self.span_in(node, value, base, range)
    }

    /// Like [`Decoder::sub_span`] with the value's offset in the node's text already found
    /// (searching once per string, not once per placeholder). Spans stay on char boundaries.
    fn span_in(
        &self,
        node: &Node,
        value: &str,
        base: Option<usize>,
        range: std::ops::Range<usize>,
    ) -> Span {
        let Some(at) = base else {
            return node.span;
        };
        let floor = |mut i: usize| {
            i = i.min(value.len());
            while !value.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let ceil = |mut i: usize| {
            i = i.min(value.len());
            while !value.is_char_boundary(i) {
                i += 1;
            }
            i
        };
        let start = node.span.start + at + floor(range.start);
        let end = node.span.start + at + ceil(range.end);
        Span::new(start, end.max(start))
    }
}

/// A node as plain JSON, for data kept verbatim (`extra`, `x-` keys).
pub fn to_verbatim(node: &Node) -> Verbatim {
    match &node.value {
        Value::Null => Verbatim::Null,
        Value::Bool(b) => Verbatim::Bool(*b),
        Value::Int(i) => Verbatim::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Verbatim::Number)
            .unwrap_or(Verbatim::Null),
        Value::Str(s, _) => Verbatim::String(s.clone()),
        Value::Seq(items) => Verbatim::Array(items.iter().map(to_verbatim).collect()),
        Value::Map(entries) => Verbatim::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match &k.value {
                        Value::Str(s, _) => s.clone(),
                        other => to_verbatim(&Node::new(other.clone(), k.span)).to_string(),
                    };
                    (key, to_verbatim(v))
                })
                .collect(),
        ),
    }
}

/// Every allowed key of every object, by the name used in `muster schema`'s definitions;
/// the schema test checks both agree.
pub fn known_keys() -> Vec<(&'static str, &'static [&'static str])> {
    let mut all = top::known_keys();
    all.extend(service::known_keys());
    all
}
