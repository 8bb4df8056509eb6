//! The one place that writes to the terminal: data to stdout, messages to stderr, colors
//! only where the user wants them.

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};

use super::ColorChoice;
use crate::diagnostic::{self, Diagnostic};
use crate::source::SourceFile;

pub struct Printer {
    color_out: bool,
    color_err: bool,
    quiet: bool,
}

const BOLD: Style = Style::new().bold();
const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
const GREEN: Style = AnsiColor::Green.on_default().bold();
const CYAN: Style = AnsiColor::Cyan.on_default();
const DIM: Style = Style::new().dimmed();

impl Printer {
    pub fn new(choice: ColorChoice, quiet: bool) -> Printer {
        let wants = |tty: bool| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        };
        Printer {
            color_out: wants(std::io::stdout().is_terminal()),
            color_err: wants(std::io::stderr().is_terminal()),
            quiet,
        }
    }

    /// Data the command was asked for (always printed, even with `-q`).
    pub fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = stdout.write_all(b"\n");
        }
    }

    /// A progress or status note on stderr (silenced by `-q`).
    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{}", self.paint_err(DIM, text));
        }
    }

    pub fn error(&self, message: &str, hint: Option<&str>) {
        eprintln!("{}: {message}", self.paint_err(RED, "error"));
        if let Some(hint) = hint {
            eprintln!("  {}: {hint}", self.paint_err(CYAN, "hint"));
        }
    }

    /// Renders diagnostics for a file, to stdout (`check`) or stderr (other commands refusing).
    pub fn diagnostics(&self, diagnostics: &[Diagnostic], file: &SourceFile, to_stdout: bool) {
        let color = if to_stdout {
            self.color_out
        } else {
            self.color_err
        };
        let mut text = String::new();
        for d in diagnostics {
            text.push_str(&diagnostic::render(d, file, color));
            text.push_str("\n\n");
        }
        if to_stdout {
            self.out(text.trim_end());
        } else {
            eprintln!("{}", text.trim_end());
        }
    }

    pub fn heading(&self, text: &str) -> String {
        self.paint_out(BOLD, text)
    }

    pub fn good(&self, text: &str) -> String {
        self.paint_out(GREEN, text)
    }

    pub fn bad(&self, text: &str) -> String {
        self.paint_out(RED, text)
    }

    pub fn warn(&self, text: &str) -> String {
        self.paint_out(YELLOW, text)
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint_out(DIM, text)
    }

    fn paint_out(&self, style: Style, text: &str) -> String {
        paint(self.color_out, style, text)
    }

    fn paint_err(&self, style: Style, text: &str) -> String {
        paint(self.color_err, style, text)
    }
}

fn paint(color: bool, style: Style, text: &str) -> String {
    if color {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// Pads cells into aligned columns (header first). Widths count characters, and colors
/// are applied after padding so escape codes never skew the alignment.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
