//! Typed parsing of the scalar value notations of `muster.yaml`.
//!
//! The registry writes many values as short strings: durations (`1h30m`), sizes (`1.5G`),
//! interpolated strings (`${VAR:-x}`, `${secret:NAME}`, `${host:SERVICE}`), names, Compose short
//! port mappings and Docker image references. This module turns each notation into a typed value
//! once, with a short human reason when it is malformed, and renders it back in the notation each
//! engine expects. The rest of muster works on the typed values and never re-parses strings.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Numbers shared by durations and sizes
// ---------------------------------------------------------------------------------------------

/// Most significant fraction digits kept exactly (beyond trailing zeros).
const MAX_FRACTION_DIGITS: usize = 20;

/// `number * scale` for a decimal `number` (`12`, `1.5`, `0.25`), computed exactly in integers.
/// Returns the value rounded down and whether it was exact.
fn scale_decimal(number: &str, scale: u128) -> Result<(u128, bool), String> {
    let (int, frac) = match number.split_once('.') {
        Some((int, frac)) => (int, frac),
        None => (number, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let has_dot = number.contains('.');
    if int.is_empty() || !all_digits(int) || !all_digits(frac) || (has_dot && frac.is_empty()) {
        return Err(format!("bad number `{number}`"));
    }
    let too_large = || format!("`{number}` is too large");
    let mut whole: u128 = 0;
    for b in int.bytes() {
        whole = whole
            .checked_mul(10)
            .and_then(|w| w.checked_add(u128::from(b - b'0')))
            .ok_or_else(too_large)?;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > MAX_FRACTION_DIGITS {
        return Err(format!("too many decimal places in `{number}`"));
    }
    let mut numerator: u128 = 0;
    let mut denominator: u128 = 1;
    for b in frac.bytes() {
        numerator = numerator * 10 + u128::from(b - b'0');
        denominator *= 10;
    }
    let whole = whole.checked_mul(scale).ok_or_else(too_large)?;
    let scaled = numerator.checked_mul(scale).ok_or_else(too_large)?;
    let value = whole
        .checked_add(scaled / denominator)
        .ok_or_else(too_large)?;
    Ok((value, scaled.is_multiple_of(denominator)))
}

// ---------------------------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------------------------

const DURATION_UNIT_HINT: &str = "use ms, s, m or h";
const NANOS_PER_MILLI: u128 = 1_000_000;
const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Duration units from the largest to the smallest, with their length in nanoseconds.
const DURATION_UNITS: [(&str, u128); 4] = [
    ("h", 3_600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", NANOS_PER_MILLI),
];

/// `500ms`, `90s`, `2m`, `1h30m`, `1h`, `0s`, `1.5s`; units ms, s, m, h, concatenated from the
/// largest to the smallest unit, each at most once. A bare `0` is zero. Empty, negative, a bare
/// number without unit, or a value finer than a millisecond (`1.5ms`) are errors.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if t.starts_with('-') {
        return Err(format!("negative duration `{t}`"));
    }
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let b = t.as_bytes();
    let is_number_byte = |c: u8| c.is_ascii_digit() || c == b'.';
    let mut i = 0;
    let mut total: u128 = 0;
    let mut previous: Option<usize> = None;
    let mut spaced = false;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            spaced = true;
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let number_start = i;
        while i < b.len() && is_number_byte(b[i]) {
            i += 1;
        }
        let number = &t[number_start..i];
        if number.is_empty() {
            return Err(format!(
                "expected a number at `{}`; durations look like `90s` or `1h30m`",
                &t[i..]
            ));
        }
        while i < b.len() && b[i].is_ascii_whitespace() {
            spaced = true;
            i += 1;
        }
        let unit_start = i;
        while i < b.len() && !is_number_byte(b[i]) && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let unit = &t[unit_start..i];
        if unit.is_empty() {
            return Err(if number_start == 0 && i == b.len() {
                format!("missing unit in `{t}`; {DURATION_UNIT_HINT} (e.g. `{number}s`)")
            } else {
                format!("missing unit after `{number}`; {DURATION_UNIT_HINT}")
            });
        }
        let Some(rank) = DURATION_UNITS.iter().position(|(u, _)| *u == unit) else {
            let days = if unit == "d" {
                " (for days write hours, e.g. `24h`)"
            } else {
                ""
            };
            return Err(format!("unknown unit `{unit}`; {DURATION_UNIT_HINT}{days}"));
        };
        if let Some(previous) = previous
            && rank <= previous
        {
            return Err(if rank == previous {
                format!("unit `{unit}` appears twice in `{t}`")
            } else {
                format!("units must go from the largest to the smallest (h, m, s, ms) in `{t}`")
            });
        }
        previous = Some(rank);
        let (value, exact) = scale_decimal(number, DURATION_UNITS[rank].1)
            .map_err(|e| format!("{e} in duration `{t}`"))?;
        if !exact {
            return Err(format!("`{t}` is finer than a millisecond"));
        }
        total = total
            .checked_add(value)
            .ok_or_else(|| format!("duration `{t}` is too large"))?;
    }
    if spaced {
        let compact: String = t.split_whitespace().collect();
        return Err(format!("unexpected space in `{t}`; write `{compact}`"));
    }
    if !total.is_multiple_of(NANOS_PER_MILLI) {
        return Err(format!("`{t}` is finer than a millisecond"));
    }
    let secs =
        u64::try_from(total / NANOS_PER_SEC).map_err(|_| format!("duration `{t}` is too large"))?;
    // The remainder is below 10^9, so it fits in u32.
    Ok(Duration::new(secs, (total % NANOS_PER_SEC) as u32))
}

/// Canonical Go-style duration that Compose, Nomad and Kubernetes accept: `1h30m`, 90 s ->
/// `1m30s`, `500ms`, 1.5 s -> `1s500ms`, zero -> `0s`. Sub-millisecond remainders (which
/// [`parse_duration`] never produces) are written with Go's `us` and `ns` units.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    let components = [
        (secs / 3_600, "h"),
        (secs % 3_600 / 60, "m"),
        (secs % 60, "s"),
        (u64::from(nanos / 1_000_000), "ms"),
        (u64::from(nanos / 1_000 % 1_000), "us"),
        (u64::from(nanos % 1_000), "ns"),
    ];
    let mut out = String::new();
    for (value, unit) in components {
        if value != 0 {
            out.push_str(&value.to_string());
            out.push_str(unit);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Sizes
// ---------------------------------------------------------------------------------------------

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;
const PIB: u64 = 1 << 50;

/// Sizes: `512K`, `256M`, `4G`, `1.5G`, `512m`, `2gb`, `512Mi`, `1T`, `100` (bytes), `100b`;
/// case-insensitive, powers of 1024 (`k`, `m`, `g`, `t`, `p`, each optionally followed by `i`,
/// `b` or `ib`), one optional space between number and unit. The result is in bytes, a fraction
/// rounded down to a whole byte.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty size".into());
    }
    if t.starts_with('-') {
        return Err(format!("negative size `{t}`"));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim_start());
    if number.is_empty() {
        return Err(format!(
            "size `{t}` must start with a number, e.g. `512M` or `1.5G`"
        ));
    }
    let lower = unit.to_ascii_lowercase();
    let (prefix, suffix) = match lower.char_indices().nth(1) {
        Some((i, _)) => lower.split_at(i),
        None => (lower.as_str(), ""),
    };
    let multiplier = match (prefix, suffix) {
        ("", "") | ("b", "") => 1,
        (p, "" | "i" | "b" | "ib") if p != "b" => match p {
            "k" => KIB,
            "m" => MIB,
            "g" => GIB,
            "t" => TIB,
            "p" => PIB,
            _ => 0,
        },
        _ => 0,
    };
    if multiplier == 0 {
        return Err(format!(
            "unknown unit `{unit}`; use b, k, m, g or t (powers of 1024, e.g. `512M`, `1.5G`, `512Mi`)"
        ));
    }
    let (value, _) =
        scale_decimal(number, u128::from(multiplier)).map_err(|e| format!("{e} in size `{t}`"))?;
    u64::try_from(value).map_err(|_| format!("size `{t}` is too large"))
}

/// Compose notation: the largest of `g`, `m`, `k` that divides exactly, else bytes with `b`:
/// 268435456 -> `256m`, 1610612736 -> `1536m`, 1073741824 -> `1g`, 1000 -> `1000b`, 0 -> `0b`.
pub fn size_compose(bytes: u64) -> String {
    if bytes != 0 {
        for (unit, suffix) in [(GIB, "g"), (MIB, "m"), (KIB, "k")] {
            if bytes.is_multiple_of(unit) {
                return format!("{}{suffix}", bytes / unit);
            }
        }
    }
    format!("{bytes}b")
}

/// Kubernetes quantity: the largest of `Ti`, `Gi`, `Mi`, `Ki` that divides exactly, else plain
/// bytes: 268435456 -> `256Mi`, 1000 -> `1000`, 0 -> `0`.
pub fn size_kubernetes(bytes: u64) -> String {
    if bytes != 0 {
        for (unit, suffix) in [(TIB, "Ti"), (GIB, "Gi"), (MIB, "Mi"), (KIB, "Ki")] {
            if bytes.is_multiple_of(unit) {
                return format!("{}{suffix}", bytes / unit);
            }
        }
    }
    bytes.to_string()
}

/// Nomad memory in whole MB (MiB), rounded up: 1 byte -> 1, 0 -> 0.
pub fn size_nomad_mb(bytes: u64) -> u64 {
    bytes.div_ceil(MIB)
}

// ---------------------------------------------------------------------------------------------
// Interpolated strings
// ---------------------------------------------------------------------------------------------

/// A string with `${...}` placeholders, parsed. `$$` is a literal `$` (stored as text `$`;
/// adjacent text is merged into one [`Part::Text`], and a parsed template has no empty text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}`, `${NAME?message}`,
    /// also bare `$NAME` (Compose allows it). `arg` is itself a Template (Compose allows nested
    /// `${A:-${B}}`); it is `Some` exactly when `op` is.
    Var {
        name: String,
        op: Option<VarOp>,
        arg: Option<Template>,
        range: Range<usize>,
    },
    /// `${secret:NAME}`
    Secret {
        name: String,
        range: Range<usize>,
    },
    /// `${host:SERVICE}`
    Host {
        name: String,
        range: Range<usize>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarOp {
    /// `:-`
    DefaultIfUnsetOrEmpty,
    /// `-`
    DefaultIfUnset,
    /// `:?`
    ErrorIfUnsetOrEmpty,
    /// `?`
    ErrorIfUnset,
}

fn op_token(op: VarOp) -> &'static str {
    match op {
        VarOp::DefaultIfUnsetOrEmpty => ":-",
        VarOp::DefaultIfUnset => "-",
        VarOp::ErrorIfUnsetOrEmpty => ":?",
        VarOp::ErrorIfUnset => "?",
    }
}

/// A malformed placeholder: `offset` is the byte offset of the problem in the input string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub reason: String,
}

/// Parses `${...}` placeholders. `range` of each part is the byte range of the whole placeholder
/// in `s` (nested ones too). A `$` followed by something that is not `{`, `$` or a name start
/// is a literal `$`.
pub fn parse_template(s: &str) -> Result<Template, TemplateError> {
    let parser = TemplateParser { s, b: s.as_bytes() };
    let (template, end) = parser.sequence(0, false)?;
    debug_assert_eq!(end, s.len());
    Ok(template)
}

struct TemplateParser<'a> {
    s: &'a str,
    b: &'a [u8],
}

fn template_error(offset: usize, reason: impl Into<String>) -> TemplateError {
    TemplateError {
        offset,
        reason: reason.into(),
    }
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl TemplateParser<'_> {
    /// Parses parts from `i` to the end of the input or, when `nested`, to the first `}` that
    /// closes no placeholder of its own. Returns the index where it stopped (that `}` or the end).
    fn sequence(&self, mut i: usize, nested: bool) -> Result<(Template, usize), TemplateError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut text_start = i;
        let flush = |parts: &mut Vec<Part>, text: &mut String, upto: &str| {
            text.push_str(upto);
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(text)));
            }
        };
        while i < self.b.len() {
            match self.b[i] {
                b'}' if nested => break,
                b'$' => match self.b.get(i + 1) {
                    Some(b'$') => {
                        text.push_str(&self.s[text_start..=i]);
                        i += 2;
                        text_start = i;
                    }
                    Some(b'{') => {
                        flush(&mut parts, &mut text, &self.s[text_start..i]);
                        let (part, end) = self.braced(i)?;
                        parts.push(part);
                        i = end;
                        text_start = i;
                    }
                    Some(&c) if is_name_start(c) => {
                        flush(&mut parts, &mut text, &self.s[text_start..i]);
                        let mut end = i + 1;
                        while end < self.b.len() && is_name_byte(self.b[end]) {
                            end += 1;
                        }
                        parts.push(Part::Var {
                            name: self.s[i + 1..end].to_string(),
                            op: None,
                            arg: None,
                            range: i..end,
                        });
                        i = end;
                        text_start = i;
                    }
                    _ => i += 1,
                },
                _ => i += 1,
            }
        }
        flush(&mut parts, &mut text, &self.s[text_start..i]);
        Ok((Template { parts }, i))
    }

    /// Parses the placeholder whose `${` starts at `start`; returns it and the index after it.
    fn braced(&self, start: usize) -> Result<(Part, usize), TemplateError> {
        let unterminated = || template_error(start, "unterminated `${`: missing `}`");
        let name_start = start + 2;
        let mut j = name_start;
        while j < self.b.len() && is_name_byte(self.b[j]) {
            j += 1;
        }
        let name = &self.s[name_start..j];
        let Some(&c) = self.b.get(j) else {
            return Err(unterminated());
        };
        let operator = |op: VarOp, arg_start: usize| -> Result<(Part, usize), TemplateError> {
            check_variable_name(name, name_start, op_token(op))?;
            let (arg, end) = self.sequence(arg_start, true)?;
            if end >= self.b.len() {
                return Err(unterminated());
            }
            let part = Part::Var {
                name: name.to_string(),
                op: Some(op),
                arg: Some(arg),
                range: start..end + 1,
            };
            Ok((part, end + 1))
        };
        let unsupported = |token: &str| {
            template_error(
                j,
                format!("operator `{token}` is not supported; use `:-`, `-`, `:?` or `?`"),
            )
        };
        match c {
            b'}' => {
                if name.is_empty() {
                    return Err(template_error(start, "empty placeholder `${}`"));
                }
                check_variable_name(name, name_start, "}")?;
                let part = Part::Var {
                    name: name.to_string(),
                    op: None,
                    arg: None,
                    range: start..j + 1,
                };
                Ok((part, j + 1))
            }
            b':' => match self.b.get(j + 1) {
                Some(b'-') => operator(VarOp::DefaultIfUnsetOrEmpty, j + 2),
                Some(b'?') => operator(VarOp::ErrorIfUnsetOrEmpty, j + 2),
                Some(b'+') => Err(unsupported(":+")),
                _ => self.prefixed(start, name, j + 1),
            },
            b'-' => operator(VarOp::DefaultIfUnset, j + 1),
            b'?' => operator(VarOp::ErrorIfUnset, j + 1),
            b'+' => Err(unsupported("+")),
            _ => {
                let ch = self.s[j..].chars().next().unwrap_or('?');
                let what = if ch.is_whitespace() {
                    "a space".to_string()
                } else {
                    format!("`{ch}`")
                };
                Err(template_error(
                    j,
                    format!(
                        "bad variable name: unexpected {what}; names are letters, digits and `_`"
                    ),
                ))
            }
        }
    }

    /// `${secret:NAME}` or `${host:SERVICE}`; `value_start` is the index after the `:`.
    fn prefixed(
        &self,
        start: usize,
        prefix: &str,
        value_start: usize,
    ) -> Result<(Part, usize), TemplateError> {
        let name_start = start + 2;
        let kind = match prefix {
            "secret" => "secret",
            "host" => "host",
            "" => {
                return Err(template_error(
                    name_start,
                    "missing name before `:`; use `${secret:NAME}`, `${host:SERVICE}` or `${VAR:-default}`",
                ));
            }
            _ => {
                return Err(template_error(
                    name_start,
                    format!(
                        "unknown prefix `{prefix}:`; use `${{secret:NAME}}`, `${{host:SERVICE}}`, or `${{{prefix}:-default}}` for a default"
                    ),
                ));
            }
        };
        let Some(close) = self.s[value_start..].find('}').map(|k| value_start + k) else {
            return Err(template_error(start, "unterminated `${`: missing `}`"));
        };
        let value = &self.s[value_start..close];
        let what = if kind == "secret" {
            "secret name"
        } else {
            "service name"
        };
        if value.is_empty() {
            return Err(template_error(
                value_start,
                format!("missing {what} after `{kind}:`"),
            ));
        }
        check_name(value)
            .map_err(|e| template_error(value_start, format!("bad {what} `{value}`: {e}")))?;
        let name = value.to_string();
        let range = start..close + 1;
        let part = if kind == "secret" {
            Part::Secret { name, range }
        } else {
            Part::Host { name, range }
        };
        Ok((part, close + 1))
    }
}

/// Variable names are `[A-Za-z_][A-Za-z0-9_]*`; the parser only reads `[A-Za-z0-9_]`, so an
/// empty name or a leading digit are what is left to check.
fn check_variable_name(name: &str, offset: usize, before: &str) -> Result<(), TemplateError> {
    if name.is_empty() {
        return Err(template_error(
            offset,
            format!("missing variable name before `{before}`"),
        ));
    }
    if name.as_bytes()[0].is_ascii_digit() {
        return Err(template_error(
            offset,
            format!("bad variable name `{name}`: must not start with a digit"),
        ));
    }
    Ok(())
}

impl Template {
    /// True when the template has no placeholders at all.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// A template of one text part, without parsing (no parts at all for an empty string, as
    /// [`parse_template`] gives).
    pub fn literal(s: &str) -> Template {
        let parts = if s.is_empty() {
            Vec::new()
        } else {
            vec![Part::Text(s.to_string())]
        };
        Template { parts }
    }

    /// Every Var/Secret/Host part, including those nested in default args, in order (a variable
    /// comes before the placeholders of its own argument).
    pub fn placeholders(&self) -> Vec<&Part> {
        let mut out = Vec::new();
        self.collect_placeholders(&mut out);
        out
    }

    fn collect_placeholders<'a>(&'a self, out: &mut Vec<&'a Part>) {
        for part in &self.parts {
            match part {
                Part::Text(_) => {}
                Part::Var { arg, .. } => {
                    out.push(part);
                    if let Some(arg) = arg {
                        arg.collect_placeholders(out);
                    }
                }
                Part::Secret { .. } | Part::Host { .. } => out.push(part),
            }
        }
    }

    /// Names of `${secret:NAME}` parts, nested ones too, in order (repeats included).
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.placeholders().into_iter().filter_map(|p| match p {
            Part::Secret { name, .. } => Some(name.as_str()),
            _ => None,
        })
    }

    /// Names of `${VAR...}` and `$VAR` parts, nested ones too, in order (repeats included).
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.placeholders().into_iter().filter_map(|p| match p {
            Part::Var { name, .. } => Some(name.as_str()),
            _ => None,
        })
    }

    /// Names of `${host:SERVICE}` parts, nested ones too, in order (repeats included).
    pub fn hosts(&self) -> impl Iterator<Item = &str> {
        self.placeholders().into_iter().filter_map(|p| match p {
            Part::Host { name, .. } => Some(name.as_str()),
            _ => None,
        })
    }

    /// Render for Docker Compose: text with `$` escaped as `$$`, variables as `${NAME...}` in
    /// canonical form (`$NAME` becomes `${NAME}`), hosts as `host(name)` and secrets as
    /// `secret(name)`, both inserted as returned (not escaped).
    pub fn render(&self, host: &dyn Fn(&str) -> String, secret: &dyn Fn(&str) -> String) -> String {
        let mut out = String::new();
        self.render_into(&mut out, host, secret);
        out
    }

    fn render_into(
        &self,
        out: &mut String,
        host: &dyn Fn(&str) -> String,
        secret: &dyn Fn(&str) -> String,
    ) {
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(&text.replace('$', "$$")),
                Part::Var { name, op, arg, .. } => {
                    out.push_str("${");
                    out.push_str(name);
                    if let Some(op) = op {
                        out.push_str(op_token(*op));
                        if let Some(arg) = arg {
                            arg.render_into(out, host, secret);
                        }
                    }
                    out.push('}');
                }
                Part::Secret { name, .. } => out.push_str(&secret(name)),
                Part::Host { name, .. } => out.push_str(&host(name)),
            }
        }
    }

    /// Resolve fully to a plain string (for engines without interpolation). Variables come from
    /// `vars` with Compose semantics: unset without operator is empty; `:-`/`-` use the default
    /// when unset-or-empty/unset; `:?`/`?` give `Err` naming the variable. Defaults are resolved
    /// only when used. Hosts and secrets come from the closures. Text is not escaped. An error
    /// message never contains a secret value (`${secret:NAME}` stays as written there).
    pub fn resolve(
        &self,
        vars: &dyn Fn(&str) -> Option<String>,
        host: &dyn Fn(&str) -> String,
        secret: &dyn Fn(&str) -> String,
    ) -> Result<String, String> {
        let mut out = String::new();
        self.resolve_into(&mut out, vars, host, secret)?;
        Ok(out)
    }

    fn resolve_into(
        &self,
        out: &mut String,
        vars: &dyn Fn(&str) -> Option<String>,
        host: &dyn Fn(&str) -> String,
        secret: &dyn Fn(&str) -> String,
    ) -> Result<(), String> {
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Secret { name, .. } => out.push_str(&secret(name)),
                Part::Host { name, .. } => out.push_str(&host(name)),
                Part::Var { name, op, arg, .. } => {
                    let value = vars(name);
                    let empty = Template { parts: Vec::new() };
                    let arg = arg.as_ref().unwrap_or(&empty);
                    let set_and_non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
                    match op {
                        None => out.push_str(value.as_deref().unwrap_or("")),
                        Some(VarOp::DefaultIfUnsetOrEmpty) if !set_and_non_empty => {
                            arg.resolve_into(out, vars, host, secret)?;
                        }
                        Some(VarOp::DefaultIfUnset) if value.is_none() => {
                            arg.resolve_into(out, vars, host, secret)?;
                        }
                        Some(VarOp::ErrorIfUnsetOrEmpty | VarOp::ErrorIfUnset)
                            if value.is_none()
                                || (*op == Some(VarOp::ErrorIfUnsetOrEmpty)
                                    && !set_and_non_empty) =>
                        {
                            let problem = if value.is_none() { "not set" } else { "empty" };
                            let hide = |n: &str| format!("${{secret:{n}}}");
                            let message = arg.resolve(vars, host, &hide)?;
                            return Err(if message.is_empty() {
                                format!("variable `{name}` is {problem}")
                            } else {
                                format!("variable `{name}` is {problem}: {message}")
                            });
                        }
                        Some(_) => out.push_str(value.as_deref().unwrap_or("")),
                    }
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// Longest name, so that it fits a DNS label.
const MAX_NAME_LEN: usize = 63;

/// Names of services, networks, volumes, secrets, groups, phases: `[a-z0-9][a-z0-9_-]{0,62}`.
/// The error explains the first problem (positions count characters from 1).
pub fn check_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("name is empty".into());
    }
    for (index, c) in s.chars().enumerate() {
        let position = index + 1;
        if c.is_ascii_uppercase() {
            let lower = s.to_ascii_lowercase();
            return Err(if check_name(&lower).is_ok() {
                format!("uppercase letter `{c}` at position {position}; use `{lower}`")
            } else {
                format!("uppercase letter `{c}` at position {position}; names are lowercase")
            });
        }
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_') {
            let what = if c.is_whitespace() {
                "a space".to_string()
            } else {
                format!("bad character `{c}`")
            };
            return Err(format!(
                "{what} at position {position}; use lowercase letters, digits, `-` and `_`"
            ));
        }
        if index == 0 && (c == '-' || c == '_') {
            return Err(format!(
                "must start with a lowercase letter or digit, not `{c}`"
            ));
        }
    }
    // Only ASCII is left, so bytes are characters.
    if s.len() > MAX_NAME_LEN {
        return Err(format!("too long ({} > {MAX_NAME_LEN} chars)", s.len()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------------

/// Compose short port syntax: `80`, `8080:80`, `127.0.0.1:5432:5432`, `[::1]:80:80`,
/// `5000-5010:5000-5010`, `53:53/udp`, `127.0.0.1::80` (published empty = random).
/// `host_ip` is the canonical address text, without brackets for IPv6 (`::1`); `protocol` is
/// lowercase `tcp` (default), `udp` or `sctp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortMapping {
    pub host_ip: Option<String>,
    pub published: Option<PortRange>,
    pub target: PortRange,
    pub protocol: String,
}

/// One port (`start == end`) or an inclusive range, `start <= end`, both in 1..=65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

/// Parses a Compose short port mapping; see [`PortMapping`]. Ports are 1..=65535, ranges go
/// upwards, and a published range has the length of the target range.
pub fn parse_port_mapping(s: &str) -> Result<PortMapping, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty port mapping".into());
    }
    if t.contains('$') {
        return Err(format!(
            "placeholders are not supported in port mappings (`{t}`); write the port numbers"
        ));
    }
    let (address, protocol) = match t.rsplit_once('/') {
        Some((address, protocol)) => (address, protocol.to_ascii_lowercase()),
        None => (t, "tcp".to_string()),
    };
    match protocol.as_str() {
        "tcp" | "udp" | "sctp" => {}
        "" => return Err("missing protocol after `/`; use tcp, udp or sctp".into()),
        _ => {
            return Err(format!(
                "unknown protocol `{protocol}`; use tcp, udp or sctp"
            ));
        }
    }
    let (host_ip, published, target) = if let Some(bracketed) = address.strip_prefix('[') {
        let Some((ip, rest)) = bracketed.split_once(']') else {
            return Err("missing `]` after the IPv6 address".into());
        };
        let ip: Ipv6Addr = ip.parse().map_err(|_| format!("bad IPv6 address `{ip}`"))?;
        let ports = rest
            .strip_prefix(':')
            .ok_or("expected `:` after `]`, as in `[::1]:8080:80`")?;
        let Some((published, target)) = ports.split_once(':') else {
            return Err("expected `[IP]:PUBLISHED:TARGET`, as in `[::1]:8080:80`".into());
        };
        (Some(ip.to_string()), Some(published), target)
    } else {
        let pieces: Vec<&str> = address.split(':').collect();
        match pieces[..] {
            [target] => (None, None, target),
            [published, target] => (None, Some(published), target),
            [ip, published, target] => {
                if ip.is_empty() {
                    return Err("empty host IP before `:`".into());
                }
                let ip: Ipv4Addr = ip.parse().map_err(|_| {
                    format!("bad host IP `{ip}`; use an IPv4 address, or an IPv6 one in brackets")
                })?;
                (Some(ip.to_string()), Some(published), target)
            }
            _ => {
                return Err(format!(
                    "too many `:` in `{t}`; write an IPv6 address in brackets, as in `[::1]:8080:80`"
                ));
            }
        }
    };
    if target.is_empty() {
        return Err("missing container port".into());
    }
    let target = parse_port_range(target)?;
    let published = match published {
        None | Some("") => None,
        Some(p) => Some(parse_port_range(p)?),
    };
    if let Some(published) = published
        && published.end - published.start != target.end - target.start
    {
        return Err(format!(
            "published range `{published}` and target range `{target}` differ in length"
        ));
    }
    Ok(PortMapping {
        host_ip,
        published,
        target,
        protocol,
    })
}

fn parse_port_range(s: &str) -> Result<PortRange, String> {
    match s.split_once('-') {
        Some((start, end)) => {
            let (start, end) = (parse_port_text(start)?, parse_port_text(end)?);
            if start > end {
                return Err(format!("port range `{s}` goes backwards"));
            }
            Ok(PortRange { start, end })
        }
        None => {
            let port = parse_port_text(s)?;
            Ok(PortRange {
                start: port,
                end: port,
            })
        }
    }
}

fn parse_port_text(s: &str) -> Result<u16, String> {
    if s.is_empty() {
        return Err("missing port number".into());
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("bad port `{s}`: not a number"));
    }
    match s.parse::<i64>() {
        Ok(n) => parse_port_number(n),
        Err(_) => Err(format!("port {s} is out of range (1-65535)")),
    }
}

/// A port given as a YAML number: 1..=65535.
pub fn parse_port_number(n: i64) -> Result<u16, String> {
    match u16::try_from(n) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(format!("port {n} is out of range (1-65535)")),
    }
}

/// Canonical Compose short syntax: `127.0.0.1:5432:5432`, `[::1]:80:80`, `127.0.0.1::80`,
/// `8080:80`, `53:53/udp` (`/tcp` omitted).
impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = &self.host_ip {
            if ip.contains(':') {
                write!(f, "[{ip}]:")?;
            } else {
                write!(f, "{ip}:")?;
            }
            if let Some(published) = self.published {
                write!(f, "{published}")?;
            }
            write!(f, ":")?;
        } else if let Some(published) = self.published {
            write!(f, "{published}:")?;
        }
        write!(f, "{}", self.target)?;
        if self.protocol != "tcp" {
            write!(f, "/{}", self.protocol)?;
        }
        Ok(())
    }
}

/// `80` or `5000-5010`.
impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Image references
// ---------------------------------------------------------------------------------------------

/// Longest repository name (registry host included), as Docker allows.
const MAX_IMAGE_NAME_LEN: usize = 255;
/// Longest tag.
const MAX_TAG_LEN: usize = 128;

/// A Docker image reference: `name` is `[registry-host[:port]/]path`, `tag` is without its
/// `:`, `digest` is `algorithm:hex`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// Docker image reference grammar:
/// `[registry-host[:port]/]path-component(/path-component)*[:tag][@digest]`. The first component
/// is the registry host when it contains `.` or `:` or is `localhost`. A reference with
/// placeholders (`${...}` or `$VAR`) is accepted as is: `name` is the whole string, no tag.
pub fn parse_image_reference(s: &str) -> Result<ImageRef, String> {
    if s.is_empty() {
        return Err("empty image reference".into());
    }
    if s.contains('$') {
        match parse_template(s) {
            Ok(template) if !template.is_literal() => {
                return Ok(ImageRef {
                    name: s.to_string(),
                    tag: None,
                    digest: None,
                });
            }
            Ok(_) => {} // only `$$` or a lone `$`: checked (and refused) as a plain reference
            Err(e) => return Err(e.reason),
        }
    }
    if s.chars().any(char::is_whitespace) {
        return Err(format!("image reference `{s}` contains a space"));
    }
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (s, None),
    };
    let last_component = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_component..].find(':') {
        Some(i) => (
            &rest[..last_component + i],
            Some(&rest[last_component + i + 1..]),
        ),
        None => (rest, None),
    };
    check_repository(name)?;
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    if let Some(digest) = digest {
        check_digest(digest)?;
    }
    Ok(ImageRef {
        name: name.to_string(),
        tag: tag.map(str::to_string),
        digest: digest.map(str::to_string),
    })
}

fn check_repository(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("missing repository name".into());
    }
    if name.len() > MAX_IMAGE_NAME_LEN {
        return Err(format!(
            "repository name too long ({} > {MAX_IMAGE_NAME_LEN} chars)",
            name.len()
        ));
    }
    let components: Vec<&str> = name.split('/').collect();
    let first = components[0];
    let path = if components.len() > 1
        && (first.contains('.') || first.contains(':') || first == "localhost")
    {
        check_registry_host(first)?;
        &components[1..]
    } else {
        &components[..]
    };
    for component in path {
        check_path_component(&component.to_ascii_lowercase(), name)?;
    }
    if path
        .iter()
        .any(|c| c.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(format!(
            "repository name must be lowercase: `{}`",
            name.to_ascii_lowercase()
        ));
    }
    Ok(())
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn check_path_component(component: &str, name: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err(format!("empty path component in image name `{name}`"));
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = component.as_bytes();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return Err(format!(
            "bad image name `{name}`: `{component}` must start and end with a letter or digit"
        ));
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let valid = matches!(separator, "." | "_" | "__") || separator.bytes().all(|c| c == b'-');
        if !valid {
            return Err(format!(
                "bad image name `{name}`: `{separator}` in `{component}`; path components are lowercase letters and digits separated by `.`, `_`, `__` or `-`"
            ));
        }
    }
    Ok(())
}

/// `host[:port]` where host is a DNS name, an IPv4 address or `[IPv6]`.
fn check_registry_host(domain: &str) -> Result<(), String> {
    let bad = || format!("bad registry host `{domain}`");
    let (host, port) = if let Some(bracketed) = domain.strip_prefix('[') {
        let (ip, rest) = bracketed.split_once(']').ok_or_else(bad)?;
        ip.parse::<Ipv6Addr>().map_err(|_| bad())?;
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':').ok_or_else(bad)?),
        };
        (None, port)
    } else {
        match domain.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(domain), None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("bad registry port `{port}` in `{domain}`"));
    }
    if let Some(host) = host {
        for label in host.split('.') {
            let b = label.as_bytes();
            let valid = !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-');
            if !valid {
                return Err(bad());
            }
        }
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("empty tag after `:`".into());
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    let first = chars.next().unwrap_or('_');
    if !word(first) || !chars.all(|c| word(c) || c == '.' || c == '-') {
        return Err(format!(
            "bad tag `{tag}`: use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
        ));
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(format!(
            "tag too long ({} > {MAX_TAG_LEN} chars)",
            tag.len()
        ));
    }
    Ok(())
}

/// `algorithm:hex`; sha256/sha384/sha512 need 64/96/128 lowercase hex digits, any other
/// algorithm at least 32 hex digits.
fn check_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!(
            "bad digest `{digest}`: expected ALGORITHM:HEX, as in `sha256:` and 64 hex digits"
        ));
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.split(['+', '.', '_', '-']).all(|component| {
            let mut chars = component.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric())
        });
    if !algorithm_ok {
        return Err(format!("bad digest algorithm `{algorithm}`"));
    }
    let exact = match algorithm {
        "sha256" => Some(64),
        "sha384" => Some(96),
        "sha512" => Some(128),
        _ => None,
    };
    match exact {
        Some(len) => {
            let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
            if hex.len() != len || !hex.bytes().all(lower_hex) {
                return Err(format!(
                    "bad {algorithm} digest: expected {len} lowercase hex digits, got `{hex}`"
                ));
            }
        }
        None => {
            if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "bad {algorithm} digest: expected at least 32 hex digits, got `{hex}`"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn err_of<T: fmt::Debug>(r: Result<T, String>) -> String {
        r.expect_err("expected an error")
    }

    // --- durations ---------------------------------------------------------------------------

    #[test]
    fn durations_parse() {
        let cases = [
            ("500ms", ms(500)),
            ("90s", ms(90_000)),
            ("2m", ms(120_000)),
            ("1h30m", ms(5_400_000)),
            ("1h", ms(3_600_000)),
            ("0s", ms(0)),
            ("0", ms(0)),
            ("0ms", ms(0)),
            ("1.5s", ms(1_500)),
            ("0.5s", ms(500)),
            ("1.5h", ms(5_400_000)),
            ("0.25m", ms(15_000)),
            ("1.0010s", ms(1_001)),
            ("1h2m3s4ms", ms(3_723_004)),
            ("1m500ms", ms(60_500)),
            (" 30s ", ms(30_000)),
            ("100000h", ms(360_000_000_000)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_duration(input), Ok(expected), "{input}");
        }
    }

    #[test]
    fn durations_refused() {
        let cases = [
            ("", "empty duration"),
            ("   ", "empty duration"),
            ("-5s", "negative duration `-5s`"),
            ("10", "missing unit in `10`; use ms, s, m or h (e.g. `10s`)"),
            ("0.0", "missing unit in `0.0`"),
            ("1h30", "missing unit after `30`"),
            ("10 seconds", "unknown unit `seconds`; use ms, s, m or h"),
            (
                "2d",
                "unknown unit `d`; use ms, s, m or h (for days write hours, e.g. `24h`)",
            ),
            ("5S", "unknown unit `S`"),
            ("5us", "unknown unit `us`"),
            ("1h 30m", "unexpected space in `1h 30m`; write `1h30m`"),
            ("5 s", "unexpected space in `5 s`; write `5s`"),
            ("30m1h", "units must go from the largest to the smallest"),
            ("1s1s", "unit `s` appears twice in `1s1s`"),
            ("1.5ms", "`1.5ms` is finer than a millisecond"),
            ("0.0001s", "finer than a millisecond"),
            ("1.2.3s", "bad number `1.2.3` in duration `1.2.3s`"),
            ("1.s", "bad number `1.`"),
            (".5s", "bad number `.5`"),
            ("s", "expected a number at `s`"),
            ("+5s", "expected a number at `+5s`"),
            ("99999999999999999999999999999999999999999h", "too large"),
            ("5124095576030432h", "too large"),
        ];
        for (input, expected) in cases {
            let e = err_of(parse_duration(input));
            assert!(e.contains(expected), "{input}: {e}");
        }
    }

    #[test]
    fn durations_format() {
        let cases = [
            (ms(5_400_000), "1h30m"),
            (ms(90_000), "1m30s"),
            (ms(500), "500ms"),
            (ms(1_500), "1s500ms"),
            (ms(0), "0s"),
            (ms(3_600_000), "1h"),
            (ms(3_723_004), "1h2m3s4ms"),
            (ms(90_000_000), "25h"),
            (Duration::from_nanos(1_500), "1us500ns"),
            (Duration::new(1, 1), "1s1ns"),
        ];
        for (d, expected) in cases {
            assert_eq!(format_duration(d), expected);
        }
    }

    #[test]
    fn durations_round_trip() {
        for input in [
            "1h30m", "90s", "500ms", "1.5s", "0s", "2m", "36h", "1h0m1ms",
        ] {
            let d = parse_duration(input).unwrap();
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{input}");
        }
    }

    // --- sizes -------------------------------------------------------------------------------

    #[test]
    fn sizes_parse() {
        let cases = [
            ("512K", 512 * KIB),
            ("256M", 256 * MIB),
            ("4G", 4 * GIB),
            ("1.5G", 1_610_612_736),
            ("512m", 512 * MIB),
            ("2gb", 2 * GIB),
            ("2GB", 2 * GIB),
            ("512Mi", 512 * MIB),
            ("512MiB", 512 * MIB),
            ("1T", TIB),
            ("1ti", TIB),
            ("1P", PIB),
            ("100", 100),
            ("100b", 100),
            ("100B", 100),
            ("0", 0),
            ("0.5k", 512),
            ("1.5", 1),
            ("0.3k", 307),
            ("512 MB", 512 * MIB),
            (" 1g ", GIB),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_size(input), Ok(expected), "{input}");
        }
        assert_eq!(parse_size("16383P"), Ok(16_383 * PIB));
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn sizes_refused() {
        let cases = [
            ("", "empty size"),
            ("-1G", "negative size `-1G`"),
            ("G", "size `G` must start with a number"),
            ("10x", "unknown unit `x`; use b, k, m, g or t"),
            ("1gbb", "unknown unit `gbb`"),
            ("1bi", "unknown unit `bi`"),
            ("1e3", "unknown unit `e3`"),
            ("1.2.3M", "bad number `1.2.3` in size `1.2.3M`"),
            ("1.M", "bad number `1.`"),
            ("16384P", "size `16384P` is too large"),
            ("18446744073709551616", "too large"),
            ("1.000000000000000000001G", "too many decimal places"),
        ];
        for (input, expected) in cases {
            let e = err_of(parse_size(input));
            assert!(e.contains(expected), "{input}: {e}");
        }
    }

    #[test]
    fn sizes_per_engine() {
        assert_eq!(size_compose(268_435_456), "256m");
        assert_eq!(size_compose(1_610_612_736), "1536m");
        assert_eq!(size_compose(1_073_741_824), "1g");
        assert_eq!(size_compose(1000), "1000b");
        assert_eq!(size_compose(2048), "2k");
        assert_eq!(size_compose(TIB), "1024g");
        assert_eq!(size_compose(0), "0b");

        assert_eq!(size_kubernetes(268_435_456), "256Mi");
        assert_eq!(size_kubernetes(TIB), "1Ti");
        assert_eq!(size_kubernetes(GIB), "1Gi");
        assert_eq!(size_kubernetes(1_610_612_736), "1536Mi");
        assert_eq!(size_kubernetes(512 * KIB), "512Ki");
        assert_eq!(size_kubernetes(1000), "1000");
        assert_eq!(size_kubernetes(0), "0");

        assert_eq!(size_nomad_mb(0), 0);
        assert_eq!(size_nomad_mb(1), 1);
        assert_eq!(size_nomad_mb(MIB), 1);
        assert_eq!(size_nomad_mb(MIB + 1), 2);
        assert_eq!(size_nomad_mb(256 * MIB), 256);
        assert_eq!(size_nomad_mb(1_610_612_736), 1536);
        assert_eq!(size_nomad_mb(u64::MAX), 1 << 44);
    }

    // --- templates ---------------------------------------------------------------------------

    fn text(s: &str) -> Part {
        Part::Text(s.to_string())
    }

    fn var(name: &str, range: Range<usize>) -> Part {
        Part::Var {
            name: name.to_string(),
            op: None,
            arg: None,
            range,
        }
    }

    fn tpl(s: &str) -> Template {
        parse_template(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    fn terr(s: &str) -> TemplateError {
        parse_template(s).expect_err(s)
    }

    fn no_host(name: &str) -> String {
        panic!("unexpected host {name}")
    }

    fn no_secret(name: &str) -> String {
        panic!("unexpected secret {name}")
    }

    #[test]
    fn templates_literal() {
        assert_eq!(tpl("").parts, vec![]);
        assert_eq!(tpl("plain"), Template::literal("plain"));
        assert_eq!(Template::literal(""), tpl(""));
        assert!(tpl("plain").is_literal());
        assert!(Template::literal("${NOT_PARSED}").is_literal());
        assert_eq!(tpl("$$").parts, vec![text("$")]);
        assert_eq!(tpl("a$$b").parts, vec![text("a$b")]);
        assert_eq!(tpl("$${NOT_A_VAR}").parts, vec![text("${NOT_A_VAR}")]);
        assert_eq!(tpl("$$$$").parts, vec![text("$$")]);
        assert_eq!(tpl("cost $5").parts, vec![text("cost $5")]);
        assert_eq!(tpl("$").parts, vec![text("$")]);
        assert_eq!(tpl("a $ b $").parts, vec![text("a $ b $")]);
        assert_eq!(tpl("}{").parts, vec![text("}{")]);
        assert_eq!(tpl("é$$ü").parts, vec![text("é$ü")]);
        assert!(tpl("$$HOME").is_literal());
    }

    #[test]
    fn templates_variables() {
        assert_eq!(tpl("${VAR}").parts, vec![var("VAR", 0..6)]);
        assert_eq!(
            tpl("x${A}y$B_2.z").parts,
            vec![
                text("x"),
                var("A", 1..5),
                text("y"),
                var("B_2", 6..10),
                text(".z")
            ]
        );
        assert_eq!(tpl("$_x").parts, vec![var("_x", 0..3)]);
        assert_eq!(tpl("${lower_case}").parts, vec![var("lower_case", 0..13)]);
        assert_eq!(tpl("é${A}").parts, vec![text("é"), var("A", 2..6)]);
        assert!(!tpl("${A}").is_literal());

        let ops = [
            ("${A:-x}", VarOp::DefaultIfUnsetOrEmpty),
            ("${A-x}", VarOp::DefaultIfUnset),
            ("${A:?x}", VarOp::ErrorIfUnsetOrEmpty),
            ("${A?x}", VarOp::ErrorIfUnset),
        ];
        for (input, op) in ops {
            let expected = Part::Var {
                name: "A".into(),
                op: Some(op),
                arg: Some(Template::literal("x")),
                range: 0..input.len(),
            };
            assert_eq!(tpl(input).parts, vec![expected], "{input}");
        }
        // Empty argument, and an argument with spaces, colons, braces and dollars.
        let Part::Var { arg, .. } = &tpl("${A:-}").parts[0] else {
            panic!()
        };
        assert_eq!(arg, &Some(Template { parts: vec![] }));
        let Part::Var { arg, .. } = &tpl("${A:?set A: see {docs} $$ $}").parts[0] else {
            panic!()
        };
        assert_eq!(arg, &Some(Template::literal("set A: see {docs")));
        assert_eq!(tpl("${A:?set A: see {docs} $$ $}").parts.len(), 2);
        // `secret` without a `:NAME` is an ordinary variable name.
        assert_eq!(tpl("${secret}").parts, vec![var("secret", 0..9)]);
        assert!(matches!(
            &tpl("${secret:-x}").parts[0],
            Part::Var { name, op: Some(VarOp::DefaultIfUnsetOrEmpty), .. } if name == "secret"
        ));
    }

    #[test]
    fn templates_nested() {
        let t = tpl("${A:-${B}}");
        let expected = Part::Var {
            name: "A".into(),
            op: Some(VarOp::DefaultIfUnsetOrEmpty),
            arg: Some(Template {
                parts: vec![var("B", 5..9)],
            }),
            range: 0..10,
        };
        assert_eq!(t.parts, vec![expected]);

        let t = tpl("url=${A:-http://${host:web}:${PORT-80}/$$x}!");
        assert_eq!(t.variables().collect::<Vec<_>>(), ["A", "PORT"]);
        assert_eq!(t.hosts().collect::<Vec<_>>(), ["web"]);
        let ranges: Vec<Range<usize>> = t
            .placeholders()
            .iter()
            .map(|p| match p {
                Part::Var { range, .. } | Part::Secret { range, .. } | Part::Host { range, .. } => {
                    range.clone()
                }
                Part::Text(_) => unreachable!(),
            })
            .collect();
        assert_eq!(ranges, vec![4..43, 16..27, 28..38]);
        let s = "url=${A:-http://${host:web}:${PORT-80}/$$x}!";
        assert_eq!(&s[16..27], "${host:web}");
        assert_eq!(&s[28..38], "${PORT-80}");
        assert_eq!(t.parts.last(), Some(&text("!")));
    }

    #[test]
    fn templates_secrets_and_hosts() {
        let t = tpl("postgresql://admin:${secret:db-pass}@${host:postgres}:5432/app");
        assert_eq!(
            t.parts,
            vec![
                text("postgresql://admin:"),
                Part::Secret {
                    name: "db-pass".into(),
                    range: 19..36
                },
                text("@"),
                Part::Host {
                    name: "postgres".into(),
                    range: 37..53
                },
                text(":5432/app"),
            ]
        );
        assert_eq!(t.secrets().collect::<Vec<_>>(), ["db-pass"]);
        assert_eq!(t.hosts().collect::<Vec<_>>(), ["postgres"]);
        assert_eq!(t.variables().count(), 0);
        assert_eq!(t.placeholders().len(), 2);

        let t = tpl("${A:-${secret:x}}${secret:y_2}${B:?${secret:x}}");
        assert_eq!(t.secrets().collect::<Vec<_>>(), ["x", "y_2", "x"]);
        assert_eq!(t.variables().collect::<Vec<_>>(), ["A", "B"]);
    }

    #[test]
    fn templates_refused() {
        let cases = [
            ("${", 0, "unterminated `${`"),
            ("ab${VAR", 2, "unterminated `${`"),
            ("${VAR:-unterminated", 0, "unterminated `${`: missing `}`"),
            ("x ${A:-${B}", 2, "unterminated"),
            ("${A:-${B", 5, "unterminated"),
            ("${secret:x", 0, "unterminated"),
            ("${}", 0, "empty placeholder `${}`"),
            ("a${:-x}", 3, "missing variable name before `:-`"),
            ("${-x}", 2, "missing variable name before `-`"),
            ("${?x}", 2, "missing variable name before `?`"),
            ("${:x}", 2, "missing name before `:`"),
            (
                "${1A}",
                2,
                "bad variable name `1A`: must not start with a digit",
            ),
            ("${A.B}", 3, "bad variable name: unexpected `.`"),
            ("${ A}", 2, "unexpected a space"),
            ("${Aé}", 3, "unexpected `é`"),
            (
                "${foo:bar}",
                2,
                "unknown prefix `foo:`; use `${secret:NAME}`, `${host:SERVICE}`, or `${foo:-default}` for a default",
            ),
            ("${SECRET:x}", 2, "unknown prefix `SECRET:`"),
            ("${A:+x}", 3, "operator `:+` is not supported"),
            ("${A+x}", 3, "operator `+` is not supported"),
            ("${secret:}", 9, "missing secret name after `secret:`"),
            ("${host:}", 7, "missing service name after `host:`"),
            (
                "${secret:DB}",
                9,
                "bad secret name `DB`: uppercase letter `D` at position 1; use `db`",
            ),
            (
                "${host:a.b}",
                7,
                "bad service name `a.b`: bad character `.`",
            ),
            ("${secret:${X}}", 9, "bad secret name `${X`"),
            ("ok ${A:-${1}}", 10, "must not start with a digit"),
        ];
        for (input, offset, reason) in cases {
            let e = terr(input);
            assert_eq!(e.offset, offset, "{input}: {e:?}");
            assert!(e.reason.contains(reason), "{input}: {e:?}");
        }
    }

    #[test]
    fn templates_render() {
        let host = |n: &str| format!("{n}.service.consul");
        let secret = |n: &str| format!("${{MUSTER_SECRET_{}}}", n.replace('-', "_").to_uppercase());
        let cases = [
            ("plain", "plain"),
            ("$$", "$$"),
            ("cost $5", "cost $$5"),
            ("$${NOT_A_VAR}", "$${NOT_A_VAR}"),
            ("$HOME/x", "${HOME}/x"),
            ("${A}", "${A}"),
            ("${A:-x}", "${A:-x}"),
            ("${A-}", "${A-}"),
            ("${A:?set A}", "${A:?set A}"),
            ("${A?$$}", "${A?$$}"),
            ("${A:-${B:-$C}}", "${A:-${B:-${C}}}"),
            ("${host:db}:5432", "db.service.consul:5432"),
            ("${secret:db-pass}", "${MUSTER_SECRET_DB_PASS}"),
            ("${A:-${host:db}}", "${A:-db.service.consul}"),
        ];
        for (input, expected) in cases {
            assert_eq!(tpl(input).render(&host, &secret), expected, "{input}");
            // Rendering plain parts again parses to the same placeholders.
            if !input.contains("secret:") && !input.contains("host:") {
                let again = tpl(expected);
                assert_eq!(again.render(&no_host, &no_secret), expected);
            }
        }
    }

    #[test]
    fn templates_resolve() {
        let vars = |n: &str| match n {
            "SET" => Some("value".to_string()),
            "EMPTY" => Some(String::new()),
            "DOLLAR" => Some("$x".to_string()),
            _ => None,
        };
        let host = |n: &str| format!("{n}.svc");
        let secret = |n: &str| format!("<{n}>");
        let ok = [
            ("plain $$ $5", "plain $ $5"),
            ("${SET}", "value"),
            ("$SET/$UNSET/", "value//"),
            ("${UNSET}", ""),
            ("${EMPTY}", ""),
            ("${DOLLAR}", "$x"),
            ("${SET:-d}", "value"),
            ("${EMPTY:-d}", "d"),
            ("${UNSET:-d}", "d"),
            ("${SET-d}", "value"),
            ("${EMPTY-d}", ""),
            ("${UNSET-d}", "d"),
            ("${UNSET:-${SET}}", "value"),
            ("${UNSET:-${UNSET2:-deep $$}}", "deep $"),
            ("${SET:?m}", "value"),
            ("${EMPTY?m}", ""),
            ("${SET:-${MISSING:?never evaluated}}", "value"),
            ("${host:db}:${secret:pw}", "db.svc:<pw>"),
            ("${UNSET:-${secret:pw}}", "<pw>"),
        ];
        for (input, expected) in ok {
            assert_eq!(
                tpl(input).resolve(&vars, &host, &secret),
                Ok(expected.to_string()),
                "{input}"
            );
        }
        let refused = [
            (
                "${UNSET:?set UNSET in .env}",
                "variable `UNSET` is not set: set UNSET in .env",
            ),
            (
                "${EMPTY:?must not be empty}",
                "variable `EMPTY` is empty: must not be empty",
            ),
            ("${UNSET?}", "variable `UNSET` is not set"),
            ("${UNSET:?}", "variable `UNSET` is not set"),
            (
                "${UNSET:-${UNSET2?inner}}",
                "variable `UNSET2` is not set: inner",
            ),
            (
                "${UNSET?msg ${SET}}",
                "variable `UNSET` is not set: msg value",
            ),
            (
                "${UNSET?leak ${secret:pw}}",
                "variable `UNSET` is not set: leak ${secret:pw}",
            ),
        ];
        for (input, expected) in refused {
            assert_eq!(
                tpl(input).resolve(&vars, &host, &secret),
                Err(expected.to_string()),
                "{input}"
            );
        }
    }

    // --- names -------------------------------------------------------------------------------

    #[test]
    fn names() {
        for ok in [
            "postgres",
            "a",
            "0",
            "db-1",
            "my_app",
            "a-",
            "x".repeat(63).as_str(),
        ] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("", "name is empty".to_string()),
            (
                "Postgres",
                "uppercase letter `P` at position 1; use `postgres`".into(),
            ),
            (
                "myApp",
                "uppercase letter `A` at position 3; use `myapp`".into(),
            ),
            (
                "My.app",
                "uppercase letter `M` at position 1; names are lowercase".into(),
            ),
            (
                "my.app",
                "bad character `.` at position 3; use lowercase letters, digits, `-` and `_`"
                    .into(),
            ),
            ("my app", "a space at position 3".into()),
            ("café", "bad character `é` at position 4".into()),
            (
                "-db",
                "must start with a lowercase letter or digit, not `-`".into(),
            ),
            (
                "_db",
                "must start with a lowercase letter or digit, not `_`".into(),
            ),
            (&"x".repeat(64), "too long (64 > 63 chars)".into()),
        ];
        for (input, expected) in &cases {
            let e = err_of(check_name(input));
            assert!(e.starts_with(expected.as_str()), "{input}: {e}");
        }
    }

    // --- ports -------------------------------------------------------------------------------

    fn range(start: u16, end: u16) -> PortRange {
        PortRange { start, end }
    }

    fn mapping(
        ip: Option<&str>,
        published: Option<PortRange>,
        target: PortRange,
        protocol: &str,
    ) -> PortMapping {
        PortMapping {
            host_ip: ip.map(str::to_string),
            published,
            target,
            protocol: protocol.to_string(),
        }
    }

    #[test]
    fn ports_parse_and_display() {
        let cases = [
            ("80", mapping(None, None, range(80, 80), "tcp"), "80"),
            (
                "8080:80",
                mapping(None, Some(range(8080, 8080)), range(80, 80), "tcp"),
                "8080:80",
            ),
            (
                "127.0.0.1:5432:5432",
                mapping(
                    Some("127.0.0.1"),
                    Some(range(5432, 5432)),
                    range(5432, 5432),
                    "tcp",
                ),
                "127.0.0.1:5432:5432",
            ),
            (
                "[::1]:80:80",
                mapping(Some("::1"), Some(range(80, 80)), range(80, 80), "tcp"),
                "[::1]:80:80",
            ),
            (
                "[0:0:0:0:0:0:0:1]::80/udp",
                mapping(Some("::1"), None, range(80, 80), "udp"),
                "[::1]::80/udp",
            ),
            (
                "5000-5010:5000-5010",
                mapping(None, Some(range(5000, 5010)), range(5000, 5010), "tcp"),
                "5000-5010:5000-5010",
            ),
            (
                "53:53/udp",
                mapping(None, Some(range(53, 53)), range(53, 53), "udp"),
                "53:53/udp",
            ),
            (
                "127.0.0.1::80",
                mapping(Some("127.0.0.1"), None, range(80, 80), "tcp"),
                "127.0.0.1::80",
            ),
            (
                "8080:80/tcp",
                mapping(None, Some(range(8080, 8080)), range(80, 80), "tcp"),
                "8080:80",
            ),
            (
                "8080:80/TCP",
                mapping(None, Some(range(8080, 8080)), range(80, 80), "tcp"),
                "8080:80",
            ),
            (
                "9999/sctp",
                mapping(None, None, range(9999, 9999), "sctp"),
                "9999/sctp",
            ),
            (":80", mapping(None, None, range(80, 80), "tcp"), "80"),
            (
                "3000-3005",
                mapping(None, None, range(3000, 3005), "tcp"),
                "3000-3005",
            ),
            (
                "65535:1",
                mapping(None, Some(range(65535, 65535)), range(1, 1), "tcp"),
                "65535:1",
            ),
            (" 80 ", mapping(None, None, range(80, 80), "tcp"), "80"),
        ];
        for (input, expected, display) in cases {
            let parsed = parse_port_mapping(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed, expected, "{input}");
            assert_eq!(parsed.to_string(), display, "{input}");
            assert_eq!(parse_port_mapping(display), Ok(parsed), "{input}");
        }
    }

    #[test]
    fn ports_refused() {
        let cases = [
            ("", "empty port mapping"),
            ("99999:80", "port 99999 is out of range (1-65535)"),
            ("0:80", "port 0 is out of range (1-65535)"),
            ("80:0", "port 0 is out of range"),
            ("8080:", "missing container port"),
            ("80/", "missing protocol after `/`"),
            ("80/http", "unknown protocol `http`; use tcp, udp or sctp"),
            ("http:80", "bad port `http`: not a number"),
            ("-80", "missing port number"),
            ("5010-5000:80-90", "port range `5010-5000` goes backwards"),
            (
                "5000-5010:5000-5009",
                "published range `5000-5010` and target range `5000-5009` differ in length",
            ),
            ("8000-8010:80", "differ in length"),
            ("8080:80-81", "differ in length"),
            ("localhost:80:80", "bad host IP `localhost`"),
            ("300.0.0.1:80:80", "bad host IP `300.0.0.1`"),
            (":80:80", "empty host IP before `:`"),
            ("::1:80:80", "too many `:`"),
            ("[::1:80:80", "missing `]`"),
            ("[::1]80:80", "expected `:` after `]`"),
            ("[::1]:80", "expected `[IP]:PUBLISHED:TARGET`"),
            ("[zz]:80:80", "bad IPv6 address `zz`"),
            ("[::1]:80:80:90", "bad port `80:90`"),
            (
                "${PORT}:80",
                "placeholders are not supported in port mappings",
            ),
            ("99999999999999999999", "out of range"),
            ("+80", "bad port `+80`"),
            ("8 0", "bad port"),
        ];
        for (input, expected) in cases {
            let e = err_of(parse_port_mapping(input));
            assert!(e.contains(expected), "{input}: {e}");
        }
    }

    #[test]
    fn port_numbers() {
        assert_eq!(parse_port_number(1), Ok(1));
        assert_eq!(parse_port_number(80), Ok(80));
        assert_eq!(parse_port_number(65535), Ok(65535));
        assert_eq!(
            parse_port_number(0),
            Err("port 0 is out of range (1-65535)".to_string())
        );
        assert!(parse_port_number(65536).is_err());
        assert!(parse_port_number(-1).is_err());
        assert!(parse_port_number(i64::MAX).is_err());
        assert_eq!(range(80, 80).to_string(), "80");
        assert_eq!(range(5000, 5010).to_string(), "5000-5010");
    }

    // --- images ------------------------------------------------------------------------------

    fn image(name: &str, tag: Option<&str>, digest: Option<&str>) -> ImageRef {
        ImageRef {
            name: name.to_string(),
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        }
    }

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn images_parse() {
        let digest = SHA.to_string();
        let with_digest = format!("ghcr.io/org/app@{SHA}");
        let with_both = format!("postgres:16@{SHA}");
        let cases = [
            ("postgres", image("postgres", None, None)),
            ("postgres:16.11", image("postgres", Some("16.11"), None)),
            ("postgres:latest", image("postgres", Some("latest"), None)),
            (
                "localhost:5000/my/app:1.2",
                image("localhost:5000/my/app", Some("1.2"), None),
            ),
            (
                "localhost:5000/app",
                image("localhost:5000/app", None, None),
            ),
            ("localhost/app", image("localhost/app", None, None)),
            ("localhost:5000", image("localhost", Some("5000"), None)),
            (
                with_digest.as_str(),
                image("ghcr.io/org/app", None, Some(&digest)),
            ),
            (
                with_both.as_str(),
                image("postgres", Some("16"), Some(&digest)),
            ),
            (
                "mailhog/mailhog:v1.0.1",
                image("mailhog/mailhog", Some("v1.0.1"), None),
            ),
            (
                "a__b/c.d_e---f:_Tag-1.X",
                image("a__b/c.d_e---f", Some("_Tag-1.X"), None),
            ),
            (
                "Registry.Example.com/app",
                image("Registry.Example.com/app", None, None),
            ),
            ("[::1]:5000/app:1", image("[::1]:5000/app", Some("1"), None)),
            (
                "192.168.1.2:5000/a/b/c",
                image("192.168.1.2:5000/a/b/c", None, None),
            ),
            (
                "x/y@md5:0123456789abcdef0123456789ABCDEF",
                image("x/y", None, Some("md5:0123456789abcdef0123456789ABCDEF")),
            ),
            ("${IMAGE}", image("${IMAGE}", None, None)),
            (
                "postgres:${PG_VERSION:-16}",
                image("postgres:${PG_VERSION:-16}", None, None),
            ),
            ("app:$TAG", image("app:$TAG", None, None)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_image_reference(input), Ok(expected), "{input}");
        }
        let long_tag = format!("app:{}", "t".repeat(128));
        assert!(parse_image_reference(&long_tag).is_ok());
        let long_name = format!("a/{}", "b".repeat(253));
        assert!(parse_image_reference(&long_name).is_ok());
    }

    #[test]
    fn images_refused() {
        let long_tag = format!("app:{}", "t".repeat(129));
        let long_name = format!("a/{}", "b".repeat(254));
        let short_sha = format!("app@{}", &SHA[..SHA.len() - 1]);
        let upper_sha = format!("app@{}", SHA.to_uppercase().replace("SHA256", "sha256"));
        let cases = [
            ("", "empty image reference"),
            (
                "Postgres:latest",
                "repository name must be lowercase: `postgres`",
            ),
            (
                "ghcr.io/Org/App:1",
                "repository name must be lowercase: `ghcr.io/org/app`",
            ),
            ("Org/app", "repository name must be lowercase: `org/app`"),
            ("a/b:latest:x", "bad tag `latest:x`"),
            ("postgres:", "empty tag after `:`"),
            ("postgres:.x", "bad tag `.x`"),
            (&long_tag, "tag too long (129 > 128 chars)"),
            (&long_name, "repository name too long (256 > 255 chars)"),
            (":latest", "missing repository name"),
            ("a//b", "empty path component in image name `a//b`"),
            ("/a", "empty path component"),
            ("a/", "empty path component"),
            ("my..app", "`..` in `my..app`"),
            ("my-_app", "`-_`"),
            ("-app", "must start and end with a letter or digit"),
            ("app_", "must start and end with a letter or digit"),
            ("my app", "contains a space"),
            ("ex_ample.com/app", "bad registry host `ex_ample.com`"),
            ("-x.com/app", "bad registry host"),
            (
                "host.com:port/app",
                "bad registry port `port` in `host.com:port`",
            ),
            ("host.com:/app", "bad registry port"),
            ("[::zz]:5000/app", "bad registry host"),
            ("app@sha256", "bad digest `sha256`: expected ALGORITHM:HEX"),
            (
                &short_sha,
                "bad sha256 digest: expected 64 lowercase hex digits",
            ),
            (&upper_sha, "bad sha256 digest"),
            (
                "app@md5:abc",
                "bad md5 digest: expected at least 32 hex digits",
            ),
            (
                "app@1x:0123456789abcdef0123456789abcdef",
                "bad digest algorithm `1x`",
            ),
            (
                "app@:0123456789abcdef0123456789abcdef",
                "bad digest algorithm ``",
            ),
            ("app:$$", "bad tag `$$`"),
            ("${foo:bar}", "unknown prefix `foo:`"),
        ];
        for (input, expected) in cases {
            let e = err_of(parse_image_reference(input));
            assert!(e.contains(expected), "{input}: {e}");
        }
    }
}
