//! `single_line`: joins the lines of a multiline record into one, the Kinesis Agent's
//! `SINGLELINE`: each line is trimmed of bytes <= U+0020 (Java's `String.trim()`) and the lines
//! are joined with nothing; `single_line_trim = false` is the agent's `NO_TRIM` and
//! `single_line_escape_newlines = true` its `ESCAPE_NEW_LINE` (joined with the two characters
//! `\n`). Never fails.

use super::Parsed;
use std::borrow::Cow;

#[derive(Debug, Clone)]
pub struct SingleLine {
    pub trim: bool,
    pub escape_newlines: bool,
}

impl SingleLine {
    pub fn parse<'a>(&self, record: &'a [u8]) -> Parsed<'a> {
        if memchr::memchr(b'\n', record).is_none() && !self.trim {
            return Parsed::Text(Cow::Borrowed(record));
        }
        let mut out = Vec::with_capacity(record.len());
        for (i, line) in record.split(|b| *b == b'\n').enumerate() {
            if i > 0 && self.escape_newlines {
                out.extend_from_slice(b"\\n");
            }
            out.extend_from_slice(if self.trim { java_trim(line) } else { line });
        }
        Parsed::Text(Cow::Owned(out))
    }
}

fn java_trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if *first > b' ' {
            break;
        }
        b = rest;
    }
    while let [rest @ .., last] = b {
        if *last > b' ' {
            break;
        }
        b = rest;
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(trim: bool, escape: bool, input: &str) -> String {
        let p = SingleLine {
            trim,
            escape_newlines: escape,
        };
        match p.parse(input.as_bytes()) {
            Parsed::Text(t) => String::from_utf8(t.into_owned()).unwrap(),
            _ => panic!(),
        }
    }

    /// `DataConverterTest.java`: the agent's documented SINGLELINE outputs (minus the `\n` it
    /// appends, see `append_newline`).
    #[test]
    fn matches_the_kinesis_agent_singleline_modes() {
        let input = "{\n  \"a\": 1,\n  \"b\": 2\n}";
        assert_eq!(run(true, false, input), "{\"a\": 1,\"b\": 2}");
        assert_eq!(run(false, false, input), "{  \"a\": 1,  \"b\": 2}");
        assert_eq!(run(true, true, input), "{\\n\"a\": 1,\\n\"b\": 2\\n}");
    }
}
