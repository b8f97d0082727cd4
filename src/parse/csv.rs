//! `csv`: RFC 4180 via the `csv` crate (quotes, escaped quotes, a custom one-byte delimiter),
//! unlike the Kinesis Agent's `CSVTOJSON`, which splits on a regex without quoting. Columns are
//! named by `field_names`, or by the file's first line with `csv_header = true`; a missing
//! column is `null` (as in the agent); an extra column is kept as `column_N` (the agent drops it).
//! All values are strings unless `types` says otherwise.

use super::{Fields, ParseError, Parsed, Value};
use std::borrow::Cow;

#[derive(Debug, Clone)]
pub struct Csv {
    pub delimiter: u8,
    pub field_names: Vec<String>,
    /// The first line of a file read from its start names the columns.
    pub header: bool,
}

impl Csv {
    /// Splits one record into its fields (also used to read a header line).
    pub fn split(&self, record: &[u8]) -> Result<csv::ByteRecord, ParseError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter)
            .buffer_capacity(record.len().clamp(64, 64 * 1024))
            .from_reader(record);
        let mut row = csv::ByteRecord::new();
        match reader.read_byte_record(&mut row) {
            Ok(true) => Ok(row),
            Ok(false) => Ok(csv::ByteRecord::from(vec![""])),
            Err(e) => Err(ParseError::new(format!("invalid CSV: {e}"))),
        }
    }

    /// `names`: the header of this file if one was read, else `field_names`.
    pub fn parse<'a>(
        &'a self,
        record: &[u8],
        names: Option<&'a [String]>,
    ) -> Result<Parsed<'a>, ParseError> {
        let row = self.split(record)?;
        let names = names.unwrap_or(&self.field_names);
        let mut fields: Fields<'a> = Vec::with_capacity(names.len().max(row.len()));
        for (i, value) in row.iter().enumerate() {
            let name = match names.get(i) {
                Some(n) => Cow::Borrowed(n.as_str()),
                None => Cow::Owned(format!("column_{}", i + 1)),
            };
            fields.push((
                name,
                Value::Str(Cow::Owned(String::from_utf8_lossy(value).into_owned())),
            ));
        }
        for name in names.iter().skip(row.len()) {
            fields.push((Cow::Borrowed(name.as_str()), Value::Null));
        }
        Ok(Parsed::Fields(fields))
    }

    /// Column names from a header line.
    pub fn header_names(&self, record: &[u8]) -> Vec<String> {
        match self.split(record) {
            Ok(row) => row
                .iter()
                .map(|n| String::from_utf8_lossy(n).trim().to_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(names: &[&str]) -> Csv {
        Csv {
            delimiter: b',',
            field_names: names.iter().map(|s| s.to_string()).collect(),
            header: false,
        }
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
