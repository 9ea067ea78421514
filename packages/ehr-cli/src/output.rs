//! What a command prints: one typed value per command, rendered as JSON with `--json` (its serde
//! form) and as text for people from the same fields, so the two cannot drift apart.

use std::io::Write;

use anyhow::{bail, Result};
use serde::Serialize;

/// A command's result. People read `human()`: names and local times; the JSON carries the same
/// values with the addresses and chain times beside them.
pub trait Render: Serialize {
    fn human(&self) -> String;

    /// Writes the text people read; a decrypted record writes its bytes as they are.
    fn write_human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "{}", terminal_safe(&self.human()))
    }

    /// Why the command failed although its result is printed (a stored file that does not match
    /// the chain): the process then exits with 1.
    fn failure(&self) -> Option<String> {
        None
    }
}

/// `Render` for a value whose type the dispatcher does not know.
pub trait Printable {
    fn json(&self) -> serde_json::Result<String>;
    fn write_human(&self, out: &mut dyn Write) -> std::io::Result<()>;
    fn failure(&self) -> Option<String>;
}

impl<T: Render> Printable for T {
    fn json(&self) -> serde_json::Result<String> {
        serde_json::to_string(self)
    }

    fn write_human(&self, out: &mut dyn Write) -> std::io::Result<()> {
        Render::write_human(self, out)
    }

    fn failure(&self) -> Option<String> {
        Render::failure(self)
    }
}

pub type Output = Box<dyn Printable>;

pub fn output(value: impl Render + 'static) -> Result<Output> {
    Ok(Box::new(value))
}

/// Prints a command's result to stdout; its failure, if it has one, is the error.
pub fn print(value: &dyn Printable, json: bool) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", value.json()?)?;
    } else {
        value.write_human(&mut stdout)?;
    }
    stdout.flush()?;
    if let Some(failure) = value.failure() {
        bail!(failure);
    }
    Ok(())
}

/// What `--json` prints for a command that failed.
#[derive(Serialize)]
pub struct ErrorOutput {
    pub error: String,
}

/// Text for a terminal: control characters other than line ends (escape sequences, carriage
/// returns) and text-direction marks are shown as `\u{..}`. What people read often carries
/// strings from other parties (an imported file's resource types and errors), which must not
/// rewrite the screen.
pub fn terminal_safe(text: &str) -> String {
    let mut safe = String::with_capacity(text.len());
    for c in text.chars() {
        let hidden = (c.is_control() && c != '\n')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if hidden {
            safe.extend(c.escape_unicode());
        } else {
            safe.push(c);
        }
    }
    safe
}

/// One line per item, or `empty` when there is none.
pub fn lines<T>(items: &[T], line: impl Fn(&T) -> String, empty: &str) -> String {
    if items.is_empty() {
        return empty.to_string();
    }
    items.iter().map(line).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_direction_marks_cannot_reach_the_terminal() {
        assert_eq!(terminal_safe("line 1\nline 2"), "line 1\nline 2");
        assert_eq!(
            terminal_safe("Obs\u{1b}[2J\rDr\u{202e}evE"),
            "Obs\\u{1b}[2J\\u{d}Dr\\u{202e}evE"
        );
    }
}
