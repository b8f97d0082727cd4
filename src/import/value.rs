//! The agent's value conventions (numbers as strings, yes/no booleans, case-sensitive enums,
//! JSON with comments) and a small TOML writer that keeps comments next to their keys.

use serde_json::Value;
use std::fmt::Write as _;

/// Removes `//` and `/* */` comments outside strings (Jackson's ALLOW_COMMENTS).
pub fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

/// A number, also when written as a string (`"maxBufferAgeMillis": "1000"`, agent issue #17).
pub fn number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The agent's `BooleanConverter`: true/yes/t/y/1 and false/no/f/n/0.
pub fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().and_then(|n| match n {
            1 => Some(true),
            0 => Some(false),
            _ => None,
        }),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "t" | "y" | "1" => Some(true),
            "false" | "no" | "f" | "n" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

pub fn string(value: &Value) -> Option<&str> {
    value.as_str()
}

/// A TOML string: a literal `'...'` when possible (regexes stay readable), else basic.
pub fn toml_str(s: &str) -> String {
    if !s.contains('\'') && !s.contains('\n') && !s.chars().any(char::is_control) {
        format!("'{s}'")
    } else {
        toml::Value::String(s.to_owned()).to_string()
    }
}

/// Milliseconds as a humantime string.
pub fn millis(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("\"{}s\"", ms / 1000)
    } else {
        format!("\"{ms}ms\"")
    }
}

/// TOML text being written.
#[derive(Default)]
pub struct Toml {
    text: String,
}

impl Toml {
    /// Comments echo agent.json text (unknown keys, regex errors): control characters, which
    /// TOML comments may not hold, are written escaped (found by the fuzz target).
    pub fn comment(&mut self, text: &str) {
        for line in text.lines() {
            self.text.push_str("# ");
            for c in line.chars() {
                if c.is_control() && c != '\t' {
                    let _ = write!(self.text, "{}", c.escape_unicode());
                } else {
                    self.text.push(c);
                }
            }
            self.text.push('\n');
        }
    }

    /// `key = value` (value already TOML), with an optional comment above it.
    pub fn key(&mut self, key: &str, value: &str, note: Option<&str>) {
        if let Some(note) = note {
            self.comment(note);
        }
        let _ = writeln!(self.text, "{key} = {value}");
    }

    pub fn table(&mut self, header: &str) {
        let _ = writeln!(self.text, "\n{header}");
    }

    pub fn finish(self) -> String {
        self.text
    }
}
