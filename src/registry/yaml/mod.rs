//! YAML as a tree of nodes that remember where they came from.
//!
//! muster reports every problem at the exact text that causes it, so the registry is not
//! deserialized straight into structs: it is first parsed into [`Node`]s that carry byte spans,
//! keep duplicate keys (so they can be reported) and keep the text of every scalar (so
//! `version: 16.10` can be reported as written, not as `16.1`). Anchors, aliases and `<<` merge
//! keys are resolved here, so later stages see plain trees.

mod pieces;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};

use crate::source::{SourceFile, Span};

/// One YAML node: a value and the bytes it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    /// A local tag such as `!reset` or `!override`, without the `!`.
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string, and whether it was quoted in the source.
    Str(String, bool),
    Seq(Vec<Node>),
    /// Entries in source order; duplicate keys are kept for the checker to report.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// What a person would call this kind of value, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(..) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    pub fn new(value: Value, span: Span) -> Node {
        Node {
            value,
            span,
            tag: None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s, _) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The value of `key` in a mapping (the last one if the key is repeated, as YAML loaders do).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A scalar as text, the way a string field would read it (numbers and booleans as written).
    pub fn scalar_text<'a>(&'a self, source: &'a str) -> Option<&'a str> {
        match &self.value {
            Value::Str(s, _) => Some(s),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                Some(source.get(self.span.start..self.span.end)?.trim())
            }
            _ => None,
        }
    }
}

/// A syntax error, located.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Parses the first document of `file`. An empty file gives a null node. A large file is
/// parsed in pieces side by side when its shape allows (see [`pieces`]).
pub fn parse(file: &SourceFile) -> Result<Node, SyntaxError> {
    match pieces::parse(file) {
        Some(node) => Ok(node),
        None => parse_text(file, &file.text),
    }
}

/// Parses `file` and, when it has syntax errors, keeps looking for more: the line of each error
/// is blanked out (keeping every byte offset) and the text is parsed again, so a file with two
/// mistakes far apart reports both. An error within two lines of the previous one is taken as
/// an echo of it (an unclosed bracket or a run of tab-indented lines) and not reported. At most
/// `limit` errors are returned.
pub fn parse_all_errors(file: &SourceFile, limit: usize) -> Result<Node, Vec<SyntaxError>> {
    let first = match parse(file) {
        Ok(node) => return Ok(node),
        Err(e) => e,
    };
    let mut errors = vec![first];
    let mut text = file.text.clone();
    let mut last_line = file.line_col(errors[0].span.start).0;
    let mut blank_at = errors[0].span.start;
    for _ in 0..limit * 4 {
        if errors.len() >= limit {
            break;
        }
        let (line_start, line_end) = file.line_bounds(blank_at);
        if text[line_start..line_end].trim().is_empty() {
            break;
        }
        text.replace_range(line_start..line_end, &" ".repeat(line_end - line_start));
        match parse_text(file, &text) {
            Ok(_) => break,
            Err(e) => {
                let line = file.line_col(e.span.start).0;
                if line > last_line + 2 {
                    errors.push(e.clone());
                }
                last_line = last_line.max(line);
                blank_at = e.span.start;
            }
        }
    }
    Err(errors)
}

/// Parses `text`, which is `file`'s text or a stand-in of the same length.
fn parse_text(file: &SourceFile, text: &str) -> Result<Node, SyntaxError> {
    parse_piece(file, text, 0).map(|(node, _)| node)
}

/// Parses `text`, the part of `file` that starts on the line after `first_line` lines;
/// spans are offsets in the whole file. Also returns how many nodes aliases expanded to.
fn parse_piece(
    file: &SourceFile,
    text: &str,
    first_line: usize,
) -> Result<(Node, usize), SyntaxError> {
    let mut builder = TreeBuilder {
        file,
        anchors: HashMap::new(),
        expanded: 0,
        stack: Vec::new(),
        children: Vec::new(),
        root: None,
    };
    let mut parser = Parser::new_from_str(text);
    let to_byte = |line: usize, col: usize| file.char_marker_to_byte(first_line + line, col);
    loop {
        match parser.next_event() {
            None => break,
            Some(Err(e)) => return Err(scan_error(file, &e)),
            Some(Ok((event, span))) => {
                let start = to_byte(span.start.line(), span.start.col());
                let end = to_byte(span.end.line(), span.end.col());
                let done = builder.event(event, Span::new(start, end.max(start)))?;
                if done {
                    break;
                }
            }
        }
    }
    let root = builder
        .root
        .unwrap_or_else(|| Node::new(Value::Null, Span::new(0, 0)));
    Ok((root, builder.expanded))
}

fn scan_error(file: &SourceFile, e: &ScanError) -> SyntaxError {
    let mut at = file.char_marker_to_byte(e.marker().line(), e.marker().col());
    // The scanner notices a tab at the end of the token before it; point at the tab itself.
    if e.info().contains("tab")
        && let Some(tab) = file.text[file.line_bounds(at).0..].find('\t')
    {
        at = file.line_bounds(at).0 + tab;
    }
    let end = file.next_char_boundary(at);
    SyntaxError {
        message: e.info().to_string(),
        span: Span::new(at, end),
    }
}

/// A collection being read. Its children wait on the builder's `children` stack from
/// `first` on (a mapping's as key, value, key, value...), so each collection's own vector is
/// allocated once, at its exact size, when it ends.
struct Frame {
    is_map: bool,
    first: usize,
    start: usize,
    anchor: usize,
    tag: Option<String>,
}

struct TreeBuilder<'f> {
    file: &'f SourceFile,
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes created by alias expansion so far; bounded so a few lines of nested aliases
    /// (a "billion laughs" document) cannot exhaust memory.
    expanded: usize,
    stack: Vec<Frame>,
    children: Vec<Node>,
    root: Option<Node>,
}

impl TreeBuilder<'_> {
    /// Feeds one event; returns true when the first document is complete.
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<bool, SyntaxError> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| t.suffix.clone());
                let value = resolve_scalar(&text, style, tag.as_deref());
                let node = Node {
                    value,
                    span: self.trim_scalar_span(span, style),
                    tag: tag.filter(|t| !is_core_tag(t)),
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, (node.clone(), 1));
                }
                self.push(node)?;
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id).cloned() else {
                    return Err(SyntaxError {
                        message: "alias refers to an unknown anchor".into(),
                        span,
                    });
                };
                self.expanded += size;
                if self.expanded > MAX_ALIAS_EXPANSION {
                    return Err(SyntaxError {
                        message: format!(
                            "aliases expand to more than {MAX_ALIAS_EXPANSION} nodes; a registry never needs that many"
                        ),
                        span,
                    });
                }
                // The alias points at its own text, so errors inside it name the use site.
                let node = Node { span, ..node };
                self.push(node)?;
            }
            Event::SequenceStart(anchor, tag) => self.open(false, anchor, tag, span),
            Event::MappingStart(anchor, tag) => self.open(true, anchor, tag, span),
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = self.stack.pop().expect("parser balances collections");
                let mut children = self.children.drain(frame.first..);
                let value = if frame.is_map {
                    let mut entries = Vec::with_capacity(children.len() / 2);
                    // A key left without a value (never, from a balanced parser) is dropped.
                    while let (Some(key), Some(value)) = (children.next(), children.next()) {
                        entries.push((key, value));
                    }
                    drop(children);
                    Value::Map(apply_merge_keys(entries))
                } else {
                    Value::Seq(children.collect())
                };
                let end = self.collection_end(frame.start, span.end);
                let node = Node {
                    value,
                    span: Span::new(frame.start, end),
                    tag: frame.tag.filter(|t| !is_core_tag(t)),
                };
                let anchor = frame.anchor;
                if anchor > 0 {
                    self.anchors
                        .insert(anchor, (node.clone(), count_nodes(&node)));
                }
                self.push(node)?;
            }
            Event::DocumentEnd => return Ok(self.root.is_some()),
            Event::StreamEnd => return Ok(true),
            Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => {}
        }
        Ok(false)
    }

    fn open(&mut self, is_map: bool, anchor: usize, tag: Option<Cow<'_, Tag>>, span: Span) {
        self.stack.push(Frame {
            is_map,
            first: self.children.len(),
            start: span.start,
            anchor,
            tag: tag.map(|t| t.suffix.clone()),
        });
    }

    fn push(&mut self, node: Node) -> Result<(), SyntaxError> {
        if self.stack.is_empty() {
            self.root = Some(node);
        } else {
            self.children.push(node);
        }
        Ok(())
    }

    /// Scalar spans from the parser include quotes for quoted scalars; that is what we want
    /// (the caret covers the text as written). Plain scalars can carry trailing blanks.
    fn trim_scalar_span(&self, span: Span, _style: ScalarStyle) -> Span {
        let text = &self.file.text;
        let mut end = span.end.min(text.len());
        while end > span.start && text.as_bytes()[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        Span::new(span.start, end)
    }

    /// A block collection's end event sits at the start of the next token; pull it back to
    /// the end of the collection's last non-blank text.
    fn collection_end(&self, start: usize, end: usize) -> usize {
        let text = &self.file.text;
        let mut end = end.min(text.len());
        while end > start {
            let before = &text[..end];
            let trimmed = before.trim_end();
            if trimmed.len() == end {
                break;
            }
            end = trimmed.len();
        }
        end.max(start)
    }
}

/// The most nodes alias expansion may create in one document.
const MAX_ALIAS_EXPANSION: usize = 100_000;

fn count_nodes(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(count_nodes).sum(),
        Value::Map(entries) => entries
            .iter()
            .map(|(k, v)| count_nodes(k) + count_nodes(v))
            .sum(),
        _ => 0,
    }
}

fn is_core_tag(tag: &str) -> bool {
    matches!(
        tag,
        "str" | "int" | "float" | "bool" | "null" | "map" | "seq" | "binary" | "timestamp"
    )
}

/// Applies YAML merge keys (`<<: *base` or `<<: [*a, *b]`): entries written in the mapping win
/// over merged ones, and earlier merge sources win over later ones.
fn apply_merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    if !entries
        .iter()
        .any(|(k, _)| k.as_str() == Some("<<") && k.tag.is_none())
    {
        return entries;
    }
    let mut own = Vec::new();
    let mut merged: Vec<(Node, Node)> = Vec::new();
    for (key, value) in entries {
        if key.as_str() != Some("<<") {
            own.push((key, value));
            continue;
        }
        let sources: Vec<Node> = match value.value {
            Value::Seq(items) => items,
            _ => vec![value],
        };
        for source in sources {
            if let Value::Map(source_entries) = source.value {
                for (k, v) in source_entries {
                    if !merged.iter().any(|(m, _)| same_key(m, &k)) {
                        merged.push((k, v));
                    }
                }
            } else {
                // Not a mapping: keep it so the decoder reports a type error at its text.
                own.push((
                    Node::new(Value::Str("<<".into(), false), source.span),
                    source,
                ));
            }
        }
    }
    merged.retain(|(k, _)| !own.iter().any(|(o, _)| same_key(o, k)));
    merged.extend(own);
    merged
}

fn same_key(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Str(x, _), Value::Str(y, _)) => x == y,
        (x, y) => x == y,
    }
}

/// The YAML 1.2 core schema: plain scalars may be null, booleans or numbers; quoted scalars
/// are always strings. `!!str` forces a string.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&str>) -> Value {
    if style != ScalarStyle::Plain || tag == Some("str") {
        return Value::Str(text.to_string(), style != ScalarStyle::Plain);
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(int) = parse_int(text) {
        return Value::Int(int);
    }
    if looks_like_float(text)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text.to_string(), false)
}

fn parse_int(text: &str) -> Option<i64> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut seen_digit = false;
    for (i, b) in body.bytes().enumerate() {
        match b {
            b'0'..=b'9' => seen_digit = true,
            b'.' => {}
            b'e' | b'E' => {
                return seen_digit
                    && body[i + 1..]
                        .strip_prefix(['-', '+'])
                        .unwrap_or(&body[i + 1..])
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                    && i + 1 < body.len();
            }
            _ => return false,
        }
    }
    seen_digit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Node {
        parse(&SourceFile::new("t.yaml", text)).expect("valid yaml")
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let n = load("a: 16.10\nb: '16.10'\nc: no\nd: true\ne: ~\nf: 0x1f\ng: 1e3\nh: 1.2.3\n");
        assert_eq!(n.get("a").unwrap().value, Value::Float(16.1));
        assert_eq!(n.get("b").unwrap().value, Value::Str("16.10".into(), true));
        assert_eq!(n.get("c").unwrap().value, Value::Str("no".into(), false));
        assert_eq!(n.get("d").unwrap().value, Value::Bool(true));
        assert!(n.get("e").unwrap().is_null());
        assert_eq!(n.get("f").unwrap().value, Value::Int(31));
        assert_eq!(n.get("g").unwrap().value, Value::Float(1000.0));
        assert_eq!(n.get("h").unwrap().value, Value::Str("1.2.3".into(), false));
    }

    #[test]
    fn spans_point_at_the_text() {
        let text = "services:\n  api:\n    image: \"nginx:1.27\"\n";
        let file = SourceFile::new("t.yaml", text);
        let n = parse(&file).unwrap();
        let image = n
            .get("services")
            .unwrap()
            .get("api")
            .unwrap()
            .get("image")
            .unwrap();
        assert_eq!(&text[image.span.start..image.span.end], "\"nginx:1.27\"");
        let (line, col) = file.line_col(image.span.start);
        assert_eq!((line, col), (3, 12));
    }

    #[test]
    fn scalar_text_keeps_numbers_as_written() {
        let text = "v: 16.10\n";
        let n = load(text);
        assert_eq!(n.get("v").unwrap().scalar_text(text), Some("16.10"));
    }

    #[test]
    fn anchors_and_merge_keys_resolve() {
        let n = load("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nlist: [*b]\n");
        let used = n.get("use").unwrap();
        assert_eq!(used.get("x").unwrap().value, Value::Int(1));
        assert_eq!(used.get("y").unwrap().value, Value::Int(3));
        assert_eq!(used.as_map().unwrap().len(), 2);
        assert_eq!(n.get("list").unwrap().as_seq().unwrap().len(), 1);
    }

    #[test]
    fn duplicate_keys_are_kept() {
        let n = load("a: 1\na: 2\n");
        assert_eq!(n.as_map().unwrap().len(), 2);
        assert_eq!(n.get("a").unwrap().value, Value::Int(2));
    }

    #[test]
    fn local_tags_are_kept() {
        let n = load("ports: !reset []\n");
        assert_eq!(n.get("ports").unwrap().tag.as_deref(), Some("reset"));
    }

    #[test]
    fn unicode_before_an_error_keeps_byte_offsets_right() {
        let text = "a: \"é\"\nb: \"x\"q\n";
        let file = SourceFile::new("t.yaml", text);
        let err = parse(&file).unwrap_err();
        assert_eq!(file.line_col(err.span.start).0, 2);
    }

    #[test]
    fn several_syntax_errors_are_found() {
        let text = "a:\n  b: \"x\"q\n  c: 1\n  d: 2\n  e: \"y\"z\n  f: 3\n";
        let file = SourceFile::new("t.yaml", text);
        let errors = parse_all_errors(&file, 10).unwrap_err();
        let lines: Vec<usize> = errors
            .iter()
            .map(|e| file.line_col(e.span.start).0)
            .collect();
        assert_eq!(lines, vec![2, 5]);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            text.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let err = parse(&SourceFile::new("t", text.as_str())).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{}", err.message);
    }

    #[test]
    fn empty_document_is_null() {
        assert!(load("").is_null());
        assert!(load("# only a comment\n").is_null());
    }
}
