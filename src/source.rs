//! Source text and positions in it.
//!
//! Every diagnostic muster prints points at `file:line:column`; this module owns the one
//! mapping between byte offsets (what spans store), lines and columns (what people read).

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A byte range in a [`SourceFile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

/// A file that was read, with the line table needed to locate offsets in it.
#[derive(Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// The name shown in diagnostics (a path relative to where muster runs, when possible).
    pub name: String,
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
    /// All ASCII: characters are bytes, so positions need no decoding.
    ascii: bool,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let name = name.into();
        let text = text.into();
        // Lines end at `\n`, `\r\n` or a lone `\r`, as the YAML parser counts them.
        let bytes = text.as_bytes();
        let line_starts = std::iter::once(0)
            .chain(bytes.iter().enumerate().filter_map(|(i, b)| match b {
                b'\n' => Some(i + 1),
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => Some(i + 1),
                _ => None,
            }))
            .collect();
        SourceFile {
            path: PathBuf::from(&name),
            name,
            ascii: text.is_ascii(),
            text,
            line_starts,
        }
    }

    pub fn read(path: &Path) -> std::io::Result<Arc<SourceFile>> {
        let text = std::fs::read_to_string(path)?;
        let mut file = SourceFile::new(display_name(path), text);
        file.path = path.to_path_buf();
        Ok(Arc::new(file))
    }

    /// 1-based line and 1-based column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = self.text[start..self.floor_char_boundary(offset)]
            .chars()
            .count();
        (line + 1, col + 1)
    }

    /// Byte bounds of the line holding `offset`, without its newline.
    pub fn line_bounds(&self, offset: usize) -> (usize, usize) {
        let (line, _) = self.line_col(offset);
        let start = self.line_starts[line - 1];
        let next = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        let end = start + self.text[start..next].trim_end_matches(['\n', '\r']).len();
        (start, end)
    }

    /// The parser counts lines from 1 and columns from 0 in characters; spans need bytes.
    pub fn char_marker_to_byte(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        if self.ascii {
            return (start + col).min(self.text.len());
        }
        let rest = &self.text[start..];
        rest.char_indices()
            .nth(col)
            .map(|(i, _)| start + i)
            .unwrap_or(self.text.len())
    }

    /// The offset just after the character at `offset` (for one-character carets).
    pub fn next_char_boundary(&self, offset: usize) -> usize {
        if offset >= self.text.len() {
            return self.text.len();
        }
        let mut end = offset + 1;
        while !self.text.is_char_boundary(end) {
            end += 1;
        }
        end
    }

    fn floor_char_boundary(&self, offset: usize) -> usize {
        let mut at = offset;
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    /// The text a span covers (empty when the span is out of bounds).
    pub fn slice(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }
}

/// Shows a path relative to the working directory when it lies below it.
pub fn display_name(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf));
    relative
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_are_one_based() {
        let f = SourceFile::new("x", "ab\ncdé\nf");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col(7), (2, 4));
        assert_eq!(f.line_col(8), (3, 1));
        assert_eq!(f.line_bounds(4), (3, 7));
    }

    #[test]
    fn a_lone_carriage_return_ends_a_line() {
        let f = SourceFile::new("x", "\ra: 1\r\nb: 2\n");
        assert_eq!(f.line_col(1), (2, 1));
        assert_eq!(f.line_col(7), (3, 1));
        assert_eq!(f.line_bounds(1), (1, 5));
    }

    #[test]
    fn parser_markers_map_to_bytes() {
        let f = SourceFile::new("x", "é: 1\nb: 2\n");
        assert_eq!(f.char_marker_to_byte(1, 1), 2);
        assert_eq!(f.char_marker_to_byte(2, 0), 6);
        assert_eq!(f.char_marker_to_byte(9, 0), f.text.len());
    }
}
