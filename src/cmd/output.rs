//! Printing for client commands: tables, JSON, colours, and escaping.
//!
//! Colour only when the stream is a terminal and `NO_COLOR` is unset (the
//! `console` crate checks both). User data — job names, commands — is
//! printed with control characters escaped, so a name cannot move the cursor
//! or recolour the terminal. Job output (`jobctl logs`) is the exception and
//! is written raw elsewhere.

use std::io::{self, Write};

use console::{Style, measure_text_width};
use serde::Serialize;

use crate::domain::JobStatus;

/// Writes one line to stdout.
pub fn print_line(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Pretty JSON on stdout.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> io::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()
}

/// Escapes control characters (and backslashes, so the escape is unambiguous).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// A status word, coloured when stdout is a terminal.
pub fn status(status: JobStatus) -> String {
    let style = match status {
        JobStatus::Pending => Style::new().yellow(),
        JobStatus::Running => Style::new().cyan().bold(),
        JobStatus::Completed => Style::new().green(),
        JobStatus::Failed => Style::new().red().bold(),
        JobStatus::Cancelled => Style::new().magenta(),
    };
    style.apply_to(status.as_str()).to_string()
}

/// Dim text, for secondary details.
pub fn dim(text: &str) -> String {
    Style::new().dim().apply_to(text).to_string()
}

/// A left-aligned table with a bold header, columns sized to their widest
/// cell (colour codes do not count).
pub fn print_table(header: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(measure_text_width(cell));
        }
    }
    let mut out = io::stdout().lock();
    let bold = Style::new().bold();
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            s.push_str(cell);
            if i < last {
                s.push_str(&" ".repeat(w.saturating_sub(measure_text_width(cell)) + 2));
            }
        }
        s
    };
    writeln!(
        out,
        "{}",
        line(
            header
                .iter()
                .map(|h| bold.apply_to(h).to_string())
                .collect()
        )
    )?;
    for row in rows {
        writeln!(out, "{}", line(row.clone()))?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("plain name"), "plain name");
        assert_eq!(escape("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(escape("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape("back\\slash"), "back\\\\slash");
        assert_eq!(escape("<img src=x>"), "<img src=x>");
    }
}
