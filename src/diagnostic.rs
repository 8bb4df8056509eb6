//! Problems found in user input, with stable codes and locations.
//!
//! Loading, checking and importing never stop at the first problem: they collect
//! [`Diagnostic`]s, which the CLI renders rustc-style (`file:line:column`, the source line, a
//! caret, a hint) or prints as JSON. The codes are documented in `docs/diagnostics.md`.

use std::fmt::Write as _;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::source::{SourceFile, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

macro_rules! codes {
    ($($name:ident = $code:literal, $severity:ident;)*) => {
        /// The stable code of each kind of problem (see `docs/diagnostics.md`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($name,)* }

        impl Code {
            pub const ALL: &[Code] = &[$(Code::$name,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$name => $code,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$name => Severity::$severity,)* }
            }
        }
    };
}

codes! {
    Syntax = "M0101", Error;
    UnknownKey = "M0102", Error;
    WrongType = "M0103", Error;
    Missing = "M0104", Error;
    DuplicateKey = "M0105", Error;
    UnsupportedVersion = "M0106", Error;
    BadName = "M0107", Error;
    BadDuration = "M0108", Error;
    BadSize = "M0109", Error;
    BadPort = "M0110", Error;
    BadImage = "M0111", Error;
    BadInterpolation = "M0112", Error;
    Exclusive = "M0113", Error;
    BadValue = "M0114", Error;
    OutOfRange = "M0115", Error;
    UnknownPhase = "M0201", Error;
    UnknownGroupMember = "M0202", Error;
    UnknownDependency = "M0203", Error;
    UnknownNetwork = "M0204", Error;
    UnknownVolume = "M0205", Error;
    UnknownSecret = "M0206", Error;
    UnknownVariable = "M0207", Error;
    UnknownHost = "M0208", Error;
    OverlayUnknownService = "M0209", Error;
    UnknownEngineHost = "M0210", Error;
    UnknownServiceRef = "M0211", Error;
    UnknownEnvironment = "M0212", Error;
    LaterPhase = "M0301", Error;
    DependencyCycle = "M0302", Error;
    SecretCycle = "M0303", Error;
    PortConflict = "M0401", Error;
    RouteConflict = "M0402", Error;
    NameClash = "M0403", Error;
    DnsCollision = "M0404", Error;
    CategoryCollision = "M0405", Error;
    ContainerNameReplicas = "M0406", Error;
    BuildOnlyOnCluster = "M0501", Error;
    HealthyWithoutCheck = "M0502", Error;
    CompletedNotJob = "M0503", Error;
    UndeclaredVariable = "M0901", Warning;
    CriticalWithoutHealth = "M0902", Warning;
    EmptyPhase = "M0903", Warning;
    ImageHealthUnsupported = "M0904", Warning;
    ImportMissingFile = "M1001", Error;
    ImportCycle = "M1002", Error;
    ImportUnknownService = "M1003", Error;
    ImportConflict = "M1004", Error;
    ImportUnknownKey = "M1010", Warning;
    ImportNotMapped = "M1011", Warning;
    ImportPassThrough = "M1012", Warning;
    ImportUnmapped = "M1020", Warning;
    ImportBadShape = "M1021", Error;
    ImportInconsistent = "M1022", Warning;
    ImportUnknownName = "M1023", Warning;
    ImportNothing = "M1024", Error;
    ImportUnreadable = "M1025", Error;
    ImportApproximated = "M1026", Warning;
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One problem: what, where, and what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub span: Option<Span>,
    /// The short text under the caret.
    pub label: String,
    /// Other places that explain the problem (e.g. the first of two clashing ports).
    pub related: Vec<(Span, String)>,
    pub help: Option<String>,
    /// Where this diagnostic applies only to one merged environment, its name.
    pub environment: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            span: None,
            label: String::new(),
            related: Vec::new(),
            help: None,
            environment: None,
        }
    }

    pub fn at(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.span = Some(span);
        self.label = label.into();
        self
    }

    pub fn related(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.related.push((span, label.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics into file order (then by code) and drops exact repeats, which arise when
/// one mistake is seen through several environments.
pub fn sort_and_dedup(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| {
        let pos = |d: &Diagnostic| d.span.map(|s| s.start).unwrap_or(usize::MAX);
        pos(a)
            .cmp(&pos(b))
            .then(a.code.cmp(&b.code))
            .then(a.message.cmp(&b.message))
    });
    diagnostics.dedup_by(|a, b| a.code == b.code && a.span == b.span && a.message == b.message);
}

/// Suggests the candidate closest to `wrong`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(wrong, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Renders one diagnostic in the rustc style. `color` adds ANSI styling.
pub fn render(diagnostic: &Diagnostic, file: &SourceFile, color: bool) -> String {
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let title = match &diagnostic.environment {
        Some(env) => format!("{} (environment `{env}`)", diagnostic.message),
        None => diagnostic.message.clone(),
    };
    let mut group = Group::with_title(
        level
            .primary_title(title.as_str())
            .id(diagnostic.code.as_str()),
    );
    if let Some(span) = diagnostic.span {
        let mut snippet = Snippet::source(file.text.as_str())
            .path(file.name.as_str())
            .annotation(
                AnnotationKind::Primary
                    .span(clamp(span, file))
                    .label(diagnostic.label.as_str()),
            );
        for (span, label) in &diagnostic.related {
            snippet = snippet.annotation(
                AnnotationKind::Context
                    .span(clamp(*span, file))
                    .label(label.as_str()),
            );
        }
        group = group.element(snippet);
    } else {
        group = group.element(annotate_snippets::Origin::path(file.name.as_str()));
    }
    if let Some(help) = &diagnostic.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    renderer.render(&[group])
}

/// A span that lies inside the file and covers at least one character, so the renderer
/// always has something to point at.
fn clamp(span: Span, file: &SourceFile) -> std::ops::Range<usize> {
    let len = file.text.len();
    let mut start = span.start.min(len);
    while !file.text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, len);
    while !file.text.is_char_boundary(end) {
        end += 1;
    }
    if end > start {
        start..end
    } else if start < len {
        start..file.next_char_boundary(start)
    } else {
        start..start
    }
}

/// The closing line of `check`: "2 errors, 1 warning in muster.yaml (52 services)".
pub fn summary(diagnostics: &[Diagnostic], file: &str, services: usize) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let mut out = String::new();
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("{n} {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    let _ = write!(
        out,
        "{}, {} in {file} ({})",
        plural(errors, "error"),
        plural(warnings, "warning"),
        plural(services, "service")
    );
    out
}

/// The machine-readable form of a diagnostic, for `--json`.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub code: Code,
    pub severity: Severity,
    pub message: &'a str,
    pub file: &'a str,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub end_line: Option<usize>,
    pub end_column: Option<usize>,
    pub label: &'a str,
    pub help: Option<&'a str>,
    pub environment: Option<&'a str>,
}

impl<'a> JsonDiagnostic<'a> {
    pub fn new(d: &'a Diagnostic, file: &'a SourceFile) -> JsonDiagnostic<'a> {
        let start = d.span.map(|s| file.line_col(s.start));
        let end = d.span.map(|s| file.line_col(s.end));
        JsonDiagnostic {
            code: d.code,
            severity: d.severity,
            message: &d.message,
            file: &file.name,
            line: start.map(|p| p.0),
            column: start.map(|p| p.1),
            end_line: end.map(|p| p.0),
            end_column: end.map(|p| p.1),
            label: &d.label,
            help: d.help.as_deref(),
            environment: d.environment.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_documented() {
        let doc = include_str!("../docs/diagnostics.md");
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {}", code.as_str());
            let severity = match code.severity() {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let row = format!("| {} | {severity} |", code.as_str());
            assert!(doc.contains(&row), "docs/diagnostics.md lacks `{row}`");
        }
    }

    #[test]
    fn renders_location_caret_and_help() {
        let file = SourceFile::new(
            "muster.yaml",
            "services:\n  api:\n    depends_on: [postgress]\n",
        );
        let d = Diagnostic::new(
            Code::UnknownDependency,
            "`api` depends on `postgress`, which is not a service",
        )
        .at(Span::new(34, 43), "unknown service")
        .help("did you mean `postgres`?");
        let text = render(&d, &file, false);
        assert!(text.contains("error[M0203]"), "{text}");
        assert!(text.contains("muster.yaml:3:18"), "{text}");
        assert!(text.contains("^^^^^^^^^ unknown service"), "{text}");
        assert!(text.contains("help: did you mean `postgres`?"), "{text}");
    }

    #[test]
    fn suggestions_need_to_be_close() {
        assert_eq!(
            did_you_mean("postgress", ["postgres", "redis"]),
            Some("postgres")
        );
        assert_eq!(
            did_you_mean("servics", ["services", "secrets"]),
            Some("services")
        );
        assert_eq!(did_you_mean("zzz", ["postgres"]), None);
    }
}
