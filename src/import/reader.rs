//! Reading a foreign registry with locations, for the importers of the systems muster replaces
//! (datamancy, homelabhub, hatmax).
//!
//! Those files are YAML with their own vocabulary. An importer walks their located tree and
//! must say, at the exact text, what it could not map or found malformed; [`Reader`] keeps the
//! file and those findings together so each importer only states what it expects.

use std::sync::Arc;

use serde_norway::{Mapping, Value};

use super::Finding;
use crate::diagnostic::{Code, Diagnostic};
use crate::registry::yaml::{self, Node};
use crate::source::SourceFile;

/// One source file being imported, and what was found wrong in it so far.
pub struct Reader {
    pub file: Arc<SourceFile>,
    pub findings: Vec<Finding>,
}

impl Reader {
    pub fn new(file: Arc<SourceFile>) -> Reader {
        Reader {
            file,
            findings: Vec::new(),
        }
    }

    /// The parsed document, or None after recording every syntax error as `check` reports it.
    pub fn parse(&mut self) -> Option<Node> {
        match crate::registry::parse(&self.file) {
            Ok(root) => Some(root),
            Err(diagnostics) => {
                for d in diagnostics {
                    self.push(d);
                }
                None
            }
        }
    }

    /// The findings in file order, as `check` lists its problems.
    pub fn into_findings(mut self) -> Vec<Finding> {
        self.findings
            .sort_by_key(|f| f.diagnostic.span.map_or(usize::MAX, |s| s.start));
        self.findings
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.findings.push(Finding {
            file: self.file.clone(),
            diagnostic,
        });
    }

    /// A key muster has no place for: warned about and left out.
    pub fn unmapped(&mut self, key: &Node, owner: &str, help: &str) {
        let name = key_text(key);
        let d = Diagnostic::new(
            Code::ImportUnmapped,
            format!("`{name}` of {owner} has no place in muster.yaml; it is left out"),
        )
        .at(key.span, "not imported");
        self.push(if help.is_empty() { d } else { d.help(help) });
    }

    /// A value that is not of the expected shape.
    pub fn bad_shape(&mut self, node: &Node, what: &str, expected: &str) {
        self.push(
            Diagnostic::new(
                Code::ImportBadShape,
                format!(
                    "{what} should be {expected}, but it is {}",
                    node.value.kind()
                ),
            )
            .at(node.span, format!("expected {expected}")),
        );
    }

    /// A scalar as text, numbers and booleans as written (`2.10` stays `2.10`).
    pub fn text(&self, node: &Node) -> Option<String> {
        node.scalar_text(&self.file.text).map(str::to_string)
    }

    /// A scalar as text; anything else is reported. Null is absent, silently.
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        if node.is_null() {
            return None;
        }
        let text = self.text(node);
        if text.is_none() {
            self.bad_shape(node, what, "a string");
        }
        text
    }

    /// A list of scalars (a lone scalar counts as a list of one). Null is empty.
    pub fn strings(&mut self, node: &Node, what: &str) -> Vec<String> {
        match &node.value {
            yaml::Value::Null => Vec::new(),
            yaml::Value::Seq(items) => items
                .iter()
                .filter_map(|item| self.string(item, &format!("an entry of {what}")))
                .collect(),
            _ => self.string(node, what).into_iter().collect(),
        }
    }

    /// The entries of a mapping. Null is empty; anything else is reported and empty.
    pub fn entries<'n>(&mut self, node: &'n Node, what: &str) -> &'n [(Node, Node)] {
        match &node.value {
            yaml::Value::Map(entries) => entries,
            yaml::Value::Null => &[],
            _ => {
                self.bad_shape(node, what, "a mapping");
                &[]
            }
        }
    }
}

/// The text of a mapping key (keys that are not strings are shown as YAML would print them).
pub fn key_text(key: &Node) -> String {
    match &key.value {
        yaml::Value::Str(s, _) => s.clone(),
        yaml::Value::Int(n) => n.to_string(),
        yaml::Value::Float(f) => f.to_string(),
        yaml::Value::Bool(b) => b.to_string(),
        yaml::Value::Null => "null".into(),
        other => other.kind().into(),
    }
}

/// A located subtree as a plain YAML value, for fields copied as written (ports, commands,
/// tmpfs, ...). Scalars keep their type.
pub fn verbatim(node: &Node) -> Value {
    match &node.value {
        yaml::Value::Null => Value::Null,
        yaml::Value::Bool(b) => Value::Bool(*b),
        yaml::Value::Int(n) => Value::from(*n),
        yaml::Value::Float(f) => Value::from(*f),
        yaml::Value::Str(s, _) => Value::String(s.clone()),
        yaml::Value::Seq(items) => Value::Sequence(items.iter().map(verbatim).collect()),
        yaml::Value::Map(entries) => {
            let mut map = Mapping::new();
            for (k, v) in entries {
                map.insert(Value::String(key_text(k)), verbatim(v));
            }
            Value::Mapping(map)
        }
    }
}

/// Appends `key: value` to a mapping being filled in order.
pub fn insert(map: &mut Mapping, key: &str, value: impl Into<Value>) {
    map.insert(Value::String(key.to_string()), value.into());
}

/// A list of strings as a YAML sequence.
pub fn seq(items: impl IntoIterator<Item = impl Into<String>>) -> Value {
    Value::Sequence(items.into_iter().map(|s| Value::String(s.into())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(text: &str) -> (Reader, Node) {
        let mut r = Reader::new(Arc::new(SourceFile::new("x.yaml", text)));
        let root = r.parse().expect("valid YAML");
        (r, root)
    }

    #[test]
    fn scalars_keep_their_text_and_shapes_are_reported_where_they_are() {
        let (mut r, root) = reader("a: 2.10\nb: [x, 3]\nc: {d: 1}\n");
        assert_eq!(r.text(root.get("a").unwrap()).as_deref(), Some("2.10"));
        assert_eq!(r.strings(root.get("b").unwrap(), "`b`"), ["x", "3"]);
        assert!(r.findings.is_empty());
        assert_eq!(r.string(root.get("c").unwrap(), "`c`"), None);
        assert_eq!(r.entries(root.get("b").unwrap(), "`b`").len(), 0);
        let codes: Vec<_> = r.findings.iter().map(|f| f.diagnostic.code).collect();
        assert_eq!(codes, [Code::ImportBadShape, Code::ImportBadShape]);
        assert_eq!(
            r.file
                .line_col(r.findings[0].diagnostic.span.unwrap().start),
            (3, 4)
        );
    }

    #[test]
    fn syntax_errors_are_findings_with_the_check_code() {
        let mut r = Reader::new(Arc::new(SourceFile::new("x.yaml", "a: \"b\"q\n")));
        assert!(r.parse().is_none());
        assert_eq!(r.findings[0].diagnostic.code, Code::Syntax);
    }

    #[test]
    fn verbatim_keeps_structure_and_types() {
        let (_, root) = reader("a: [1, true, x, {b: null}]\n");
        let v = verbatim(root.get("a").unwrap());
        let expected: Value = serde_norway::from_str("[1, true, x, {b: null}]").unwrap();
        assert_eq!(v, expected);
    }
}
