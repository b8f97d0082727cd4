//! `line`: the record as read, byte for byte (the default). Never fails.

use super::Parsed;
use std::borrow::Cow;

pub fn parse(record: &[u8]) -> Parsed<'_> {
    Parsed::Text(Cow::Borrowed(record))
}
