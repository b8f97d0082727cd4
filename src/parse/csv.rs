//! `csv`: RFC 4180 via `csv-core`, the `csv` crate's parser (quotes, escaped quotes, a custom one-byte delimiter),
//! unlike the Kinesis Agent's `CSVTOJSON`, which splits on a regex without quoting. Columns are
//! named by `field_names`, or by the file's first line with `csv_header = true`; a missing
//! column is `null` (as in the agent); an extra column is kept as `column_N` (the agent drops it).
//! All values are strings unless `types` says otherwise.

use super::{Fields, ParseError, Parsed, Value};
use std::borrow::Cow;
use std::sync::Mutex;

#[derive(Debug)]
pub struct Csv {
    pub delimiter: u8,
    pub field_names: Vec<String>,
    /// The first line of a file read from its start names the columns.
    pub header: bool,
    /// The push parser and its buffers, reused: building a reader per record cost
    /// 30x the parse itself. The lock is never contended (one parse task per flow).
    state: Mutex<Splitter>,
}

#[derive(Debug)]
struct Splitter {
    reader: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl Clone for Csv {
    fn clone(&self) -> Csv {
        Csv::new(self.delimiter, self.field_names.clone(), self.header)
    }
}

impl Csv {
    pub fn new(delimiter: u8, field_names: Vec<String>, header: bool) -> Csv {
        let reader = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
        Csv {
            delimiter,
            field_names,
            header,
            state: Mutex::new(Splitter {
                reader,
                out: Vec::new(),
                ends: Vec::new(),
            }),
        }
    }

    /// Splits the first CSV record of `record` into unquoted fields, passed to `each`.
    pub fn split(&self, record: &[u8], mut each: impl FnMut(&[u8])) {
        let mut state = self.state.lock().expect("csv splitter lock");
        let Splitter { reader, out, ends } = &mut *state;
        reader.reset();
        // Unquoting only shrinks a field, and there are at most len + 1 fields. Field ends are
        // positions in the record's whole output, across calls.
        out.resize(record.len() + 1, 0);
        ends.resize(record.len() + 2, 0);
        let (mut read, mut written, mut fields) = (0, 0, 0);
        loop {
            let (result, n_in, n_out, n_ends) =
                reader.read_record(&record[read..], &mut out[written..], &mut ends[fields..]);
            read += n_in;
            written += n_out;
            fields += n_ends;
            match result {
                // Called again with the rest, or with nothing, which ends the last record.
                csv_core::ReadRecordResult::InputEmpty => continue,
                csv_core::ReadRecordResult::OutputFull
                | csv_core::ReadRecordResult::OutputEndsFull => {
                    out.resize(out.len() * 2 + 16, 0);
                    ends.resize(ends.len() * 2 + 4, 0);
                }
                csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => break,
            }
        }
        if fields == 0 {
            each(b"");
        }
        let mut start = 0;
        for &end in &ends[..fields] {
            each(&out[start..end]);
            start = end;
        }
    }

    /// `names`: the header of this file if one was read, else `field_names`.
    pub fn parse<'a>(
        &'a self,
        record: &[u8],
        names: Option<&'a [String]>,
    ) -> Result<Parsed<'a>, ParseError> {
        let names = names.unwrap_or(&self.field_names);
        let mut fields: Fields<'a> = Vec::with_capacity(names.len());
        self.split(record, |value| {
            let i = fields.len();
            let name = match names.get(i) {
                Some(n) => Cow::Borrowed(n.as_str()),
                None => Cow::Owned(format!("column_{}", i + 1)),
            };
            let value = String::from_utf8_lossy(value).into_owned();
            fields.push((name, Value::Str(Cow::Owned(value))));
        });
        for name in names.iter().skip(fields.len()) {
            fields.push((Cow::Borrowed(name.as_str()), Value::Null));
        }
        Ok(Parsed::Fields(fields))
    }

    /// Column names from a header line.
    pub fn header_names(&self, record: &[u8]) -> Vec<String> {
        let mut names = Vec::new();
        self.split(record, |n| {
            names.push(String::from_utf8_lossy(n).trim().to_owned())
        });
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(names: &[&str]) -> Csv {
        Csv::new(b',', names.iter().map(|s| s.to_string()).collect(), false)
    }

    #[test]
    fn quotes_missing_and_extra_columns() {
        let c = csv(&["a", "b", "c"]);
        let Parsed::Fields(f) = c.parse(br#"1,"x, ""y""""#, None).unwrap() else {
            panic!()
        };
        assert_eq!(f[1].1, Value::Str(r#"x, "y""#.into()));
        assert_eq!(f[2].1, Value::Null);
        let Parsed::Fields(f) = c.parse(b"1,2,3,4", None).unwrap() else {
            panic!()
        };
        assert_eq!(f[3].0, "column_4");
    }
}
