//! Generated files: what every renderer returns, and (in `writer`) how they reach the disk
//! with a digest header, edit protection and atomic writes.

pub mod targets;
pub mod writer;

use std::path::PathBuf;

/// The comment syntax of a generated file, so the writer can add its header structurally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// `#` comments: YAML, shell scripts, env files, HCL.
    Hash,
    /// `<!-- -->` comments: Markdown, SVG (after the XML declaration, if any).
    Markup,
    /// `%%` comments: Mermaid.
    Mermaid,
    /// `//` comments: Graphviz dot.
    Slashes,
}

/// One file a renderer produced: where it goes (relative to the registry's `output` folder),
/// how comments are written in it, and its content without the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: PathBuf,
    pub syntax: Syntax,
    pub body: String,
    /// Scripts are written with mode 0755.
    pub executable: bool,
}

impl GeneratedFile {
    pub fn new(path: impl Into<PathBuf>, syntax: Syntax, body: impl Into<String>) -> GeneratedFile {
        GeneratedFile {
            path: path.into(),
            syntax,
            body: body.into(),
            executable: false,
        }
    }
}
