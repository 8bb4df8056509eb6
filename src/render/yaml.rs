//! YAML text for generated files, written so that every YAML reader (Compose v1 and v2, kubectl, the Docker CLI) reads back
//! exactly the value that was written.
//!
//! Compose v2 reads YAML 1.2; Compose v1 reads YAML 1.1 (PyYAML), where a plain `no` is a
//! boolean and a plain `2222:22` is the base-60 integer 133342. serde_norway's emitter quotes
//! only what YAML 1.2 would misread, so `restart: no` and `- 2222:22` would come out plain and
//! break Compose v1. This writer emits a [`serde_norway::Value`] (the model is still built
//! with serde and serde_norway) with a conservative rule: a string is written plain only when
//! it starts with a letter, `_` or `/`, holds nothing but letters, digits and `_ . / @ + - :`
//! (a `:` never last and never before a space) and is not a YAML 1.1 boolean or null word;
//! every other string is double-quoted with escapes. Tags (`!override`, `!reset`) are written
//! in front of their value.

use serde_norway::{Mapping, Value};

const INDENT: usize = 2;

/// The document as YAML text, ending with a newline.
pub fn to_string(value: &Value) -> String {
    let mut out = String::with_capacity(4096);
    match value {
        Value::Mapping(m) if !m.is_empty() => write_mapping(&mut out, m, 0, false),
        Value::Sequence(s) if !s.is_empty() => write_sequence(&mut out, s, 0, false),
        other => {
            write_inline(&mut out, other);
            out.push('\n');
        }
    }
    out
}

/// A document written top-level entry by entry from borrowed values, so large documents
/// need not be assembled (and their values copied) first.
#[derive(Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    pub fn new() -> Writer {
        Writer {
            out: String::with_capacity(1 << 16),
        }
    }

    /// `key: value`.
    pub fn entry(&mut self, key: &str, value: &Value) {
        write_string(&mut self.out, key);
        self.out.push(':');
        write_after_indicator(&mut self.out, value, 0);
    }

    /// `key:` followed by a mapping of `entries` (`key: {}` when there are none).
    pub fn section<'a>(
        &mut self,
        key: &str,
        entries: impl IntoIterator<Item = (&'a Value, &'a Value)>,
    ) {
        self.section_with(key, entries, |out, value| {
            write_after_indicator(out, value, INDENT);
        });
    }

    /// `key:` followed by a mapping of `entries` whose values are mappings given as their
    /// own entries, so a value can be written with a few fields replaced without being
    /// copied whole. Writes what [`Writer::section`] writes for the assembled mappings.
    pub fn section_of_mappings<'a, F>(
        &mut self,
        key: &str,
        entries: impl IntoIterator<Item = (&'a Value, F)>,
    ) where
        F: IntoIterator<Item = (&'a Value, &'a Value)>,
    {
        self.section_with(key, entries, |out, fields| {
            let mut fields = fields.into_iter().peekable();
            if fields.peek().is_none() {
                out.push_str(" {}\n");
                return;
            }
            out.push('\n');
            for (field, value) in fields {
                pad(out, 2 * INDENT);
                write_inline(out, field);
                out.push(':');
                write_after_indicator(out, value, 2 * INDENT);
            }
        });
    }

    /// `key:` followed by a mapping of `entries`, each value written by `write_value` just
    /// after its `key:`.
    fn section_with<'a, V>(
        &mut self,
        key: &str,
        entries: impl IntoIterator<Item = (&'a Value, V)>,
        mut write_value: impl FnMut(&mut String, V),
    ) {
        write_string(&mut self.out, key);
        self.out.push(':');
        let mut any = false;
        for (k, v) in entries {
            if !any {
                self.out.push('\n');
                any = true;
            }
            pad(&mut self.out, INDENT);
            write_inline(&mut self.out, k);
            self.out.push(':');
            write_value(&mut self.out, v);
        }
        if !any {
            self.out.push_str(" {}\n");
        }
    }

    /// The text; `{}` for a document without entries.
    pub fn finish(mut self) -> String {
        if self.out.is_empty() {
            self.out.push_str("{}\n");
        }
        self.out
    }
}

/// A mapping key, quoted as every string this writer writes.
pub fn write_key(out: &mut String, key: &str) {
    write_string(out, key);
}

/// Writes `key:` and then `value` as [`to_string`] would below a key at `indent`, ending with
/// a newline: for writers that lay out some levels themselves (to put comments between
/// entries) and leave the rest to this one.
pub fn write_entry(out: &mut String, key: &str, value: &Value, indent: usize) {
    pad(out, indent);
    write_string(out, key);
    out.push(':');
    write_after_indicator(out, value, indent);
}

/// Whether a value is written on the line of its key (scalars and empty collections).
fn is_inline(value: &Value) -> bool {
    match value {
        Value::Mapping(m) => m.is_empty(),
        Value::Sequence(s) => s.is_empty(),
        Value::Tagged(t) => is_inline(&t.value),
        _ => true,
    }
}

fn write_inline(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s),
        Value::Sequence(_) => out.push_str("[]"),
        Value::Mapping(_) => out.push_str("{}"),
        Value::Tagged(t) => {
            out.push_str(&t.tag.to_string());
            out.push(' ');
            write_inline(out, &t.value);
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// The value after `key:` or `- `: inline on the same line, or a block on the next lines.
fn write_after_indicator(out: &mut String, value: &Value, indent: usize) {
    let (tag, inner) = match value {
        Value::Tagged(t) => (Some(t.tag.to_string()), &t.value),
        other => (None, other),
    };
    if is_inline(inner) {
        out.push(' ');
        write_inline(out, value);
        out.push('\n');
        return;
    }
    if let Some(tag) = tag {
        out.push(' ');
        out.push_str(&tag);
    }
    out.push('\n');
    match inner {
        Value::Mapping(m) => write_mapping(out, m, indent + INDENT, false),
        Value::Sequence(s) => write_sequence(out, s, indent + INDENT, false),
        _ => unreachable!("scalars are inline"),
    }
}

/// A block mapping at `indent`; with `continued`, the first key goes on the current line
/// (after a sequence's `- `).
fn write_mapping(out: &mut String, m: &Mapping, indent: usize, continued: bool) {
    for (i, (key, value)) in m.iter().enumerate() {
        if i > 0 || !continued {
            pad(out, indent);
        }
        write_inline(out, key);
        out.push(':');
        write_after_indicator(out, value, indent);
    }
}

fn write_sequence(out: &mut String, s: &[Value], indent: usize, continued: bool) {
    for (i, item) in s.iter().enumerate() {
        if i > 0 || !continued {
            pad(out, indent);
        }
        out.push('-');
        match item {
            Value::Mapping(m) if !m.is_empty() => {
                out.push(' ');
                write_mapping(out, m, indent + INDENT, true);
            }
            Value::Sequence(inner) if !inner.is_empty() => {
                out.push(' ');
                write_sequence(out, inner, indent + INDENT, true);
            }
            other => write_after_indicator(out, other, indent),
        }
    }
}

/// Words that YAML 1.1 reads as booleans or null when plain (compared without case).
const AMBIGUOUS_WORDS: [&str; 12] = [
    "y", "n", "yes", "no", "true", "false", "on", "off", "null", "none", "nil", "nan",
];

fn plain_is_safe(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == b'_' || first == b'/') {
        return false;
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"_./@+-:".contains(&b);
    if !bytes.iter().all(|&b| allowed(b)) || bytes.last() == Some(&b':') {
        return false;
    }
    !AMBIGUOUS_WORDS.iter().any(|w| w.eq_ignore_ascii_case(s))
}

fn write_string(out: &mut String, s: &str) {
    if plain_is_safe(s) {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Printable in both YAML versions and not a line break: written as is.
            ' '..='~' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..
                if !matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') =>
            {
                out.push(c)
            }
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_norway::value::{Tag, TaggedValue};

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Mapping(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    fn tagged(tag: &str, value: Value) -> Value {
        Value::Tagged(Box::new(TaggedValue {
            tag: Tag::new(tag),
            value,
        }))
    }

    #[test]
    fn layout() {
        let doc = map(vec![
            ("name", "shop".into()),
            (
                "services",
                map(vec![(
                    "api",
                    map(vec![
                        ("restart", "no".into()),
                        ("ports", Value::Sequence(vec!["2222:22".into()])),
                        ("expose", Value::Sequence(vec![])),
                        ("labels", map(vec![])),
                        (
                            "depends_on",
                            map(vec![(
                                "db",
                                map(vec![("condition", "service_healthy".into())]),
                            )]),
                        ),
                        (
                            "volumes",
                            Value::Sequence(vec![map(vec![
                                ("type", "tmpfs".into()),
                                ("target", "/tmp".into()),
                            ])]),
                        ),
                        ("environment", tagged("reset", Value::Null)),
                        (
                            "command",
                            tagged("override", Value::Sequence(vec!["a".into()])),
                        ),
                        ("cpus", Value::from(0.5)),
                        ("read_only", true.into()),
                    ]),
                )]),
            ),
        ]);
        let text = to_string(&doc);
        assert_eq!(
            text,
            "name: shop
services:
  api:
    restart: \"no\"
    ports:
      - \"2222:22\"
    expose: []
    labels: {}
    depends_on:
      db:
        condition: service_healthy
    volumes:
      - type: tmpfs
        target: /tmp
    environment: !reset null
    command: !override
      - a
    cpus: 0.5
    read_only: true
"
        );
        assert_eq!(serde_norway::from_str::<Value>(&text).unwrap(), doc);
    }

    #[test]
    fn writer_matches_to_string() {
        let services = map(vec![
            ("a", map(vec![("image", "x:1".into())])),
            ("b", map(vec![])),
        ]);
        let mut w = Writer::new();
        let Value::Mapping(entries) = &services else {
            unreachable!()
        };
        w.section("services", entries);
        w.section("networks", []);
        w.entry("name", &"n".into());
        let doc = map(vec![
            ("services", services.clone()),
            ("networks", map(vec![])),
            ("name", "n".into()),
        ]);
        assert_eq!(w.finish(), to_string(&doc));
        assert_eq!(Writer::new().finish(), "{}\n");
    }

    #[test]
    fn quoting() {
        for plain in [
            "postgres",
            "service_healthy",
            "/srv/data",
            "a.b/c@d+e-f",
            "http://x:80/y",
        ] {
            assert!(plain_is_safe(plain), "{plain}");
        }
        for quoted in [
            "",
            "no",
            "No",
            "ON",
            "y",
            "Null",
            "~",
            "5432",
            "0755",
            "1.5",
            ".5",
            "1e3",
            "-1",
            "2222:22",
            "22:22",
            "2001-12-14",
            "a b",
            "a: b",
            "a #b",
            "${DOMAIN}",
            "x:",
            "=",
            "<<",
            "*x",
            "&x",
            "!x",
            "[a]",
            "{a}",
            "'q'",
            "\"q\"",
            "%x",
            "@x",
            "`x`",
            "a,b",
            "-",
            "-x",
        ] {
            assert!(!plain_is_safe(quoted), "{quoted:?}");
        }
        let mut out = String::new();
        write_string(
            &mut out,
            "a\"b\\c\nd\te\r\u{1}\u{85}\u{2028}\u{feff}é✓\u{1F600}",
        );
        assert_eq!(
            out,
            "\"a\\\"b\\\\c\\nd\\te\\r\\x01\\x85\\u2028\\ufeffé✓\u{1F600}\""
        );
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<String>().prop_map(Value::String),
            "[a-z0-9 :#$'\"{}\\[\\],&*!|>%@`-]{0,12}".prop_map(Value::String),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            Just(Value::Null),
        ]
    }

    fn tree() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Sequence),
                prop::collection::vec(("[a-zA-Z0-9_ :.-]{0,8}", inner), 0..5).prop_map(|e| {
                    Value::Mapping(e.into_iter().map(|(k, v)| (Value::String(k), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trips(doc in tree()) {
            let text = to_string(&doc);
            let back: Value = serde_norway::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(back, doc, "{}", text);
        }
    }
}
