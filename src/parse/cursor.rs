//! A byte cursor for the hand-written log parsers (Apache, syslog): faster and smaller than
//! regexes, and it names the exact place where a line stops matching.

use super::ParseError;

pub(crate) struct Cursor<'a> {
    pub line: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(line: &'a [u8]) -> Cursor<'a> {
        Cursor { line, pos: 0 }
    }

    pub fn rest(&self) -> &'a [u8] {
        &self.line[self.pos..]
    }

    pub fn is_done(&self) -> bool {
        self.pos >= self.line.len()
    }

    pub fn peek(&self) -> Option<u8> {
        self.line.get(self.pos).copied()
    }

    pub fn fail(&self, what: &str) -> ParseError {
        ParseError::new(format!("expected {what} at byte {}", self.pos))
    }

    /// Consumes `byte` or fails naming `what`.
    pub fn expect(&mut self, byte: u8, what: &str) -> Result<(), ParseError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.fail(what))
        }
    }

    pub fn eat(&mut self, prefix: &[u8]) -> bool {
        if self.rest().starts_with(prefix) {
            self.pos += prefix.len();
            true
        } else {
            false
        }
    }

    /// One or more spaces or tabs.
    pub fn spaces(&mut self, what: &str) -> Result<(), ParseError> {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.fail(what));
        }
        Ok(())
    }

    /// A non-empty run of non-blank bytes (`\S+`).
    pub fn token(&mut self, what: &str) -> Result<&'a [u8], ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b != b' ' && b != b'\t') {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.fail(what));
        }
        Ok(&self.line[start..self.pos])
    }

    /// Bytes up to (not including) `end`, which is consumed.
    pub fn until(&mut self, end: u8, what: &str) -> Result<&'a [u8], ParseError> {
        let start = self.pos;
        match memchr::memchr(end, self.rest()) {
            Some(i) => {
                self.pos += i + 1;
                Ok(&self.line[start..start + i])
            }
            None => Err(self.fail(what)),
        }
    }

    /// `[...]`, returning the inside.
    pub fn bracketed(&mut self, what: &str) -> Result<&'a [u8], ParseError> {
        self.expect(b'[', what)?;
        self.until(b']', what)
    }

    /// `"..."` where `\"` does not end the string (Apache escapes quotes that way); the inside
    /// is returned as written.
    pub fn quoted(&mut self, what: &str) -> Result<&'a [u8], ParseError> {
        self.expect(b'"', what)?;
        let start = self.pos;
        while let Some(i) = memchr::memchr2(b'"', b'\\', self.rest()) {
            let at = self.pos + i;
            if self.line[at] == b'\\' {
                self.pos = (at + 2).min(self.line.len());
                continue;
            }
            self.pos = at + 1;
            return Ok(&self.line[start..at]);
        }
        Err(self.fail(&format!("closing quote of {what}")))
    }

    /// Fails unless the whole line was consumed (the Java agent uses `Matcher.matches()`).
    pub fn end(&self) -> Result<(), ParseError> {
        if self.is_done() {
            Ok(())
        } else {
            Err(ParseError::new(format!(
                "unexpected text at byte {}: {:?}",
                self.pos,
                String::from_utf8_lossy(&self.rest()[..self.rest().len().min(40)])
            )))
        }
    }
}

pub(crate) fn all_digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}
