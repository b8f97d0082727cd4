//! Packed records by partition key, for keys read from each record (`{field.NAME}`): the lines
//! of one key share a record (`lines`) or an aggregate (`kpl`), so every line keeps its key
//! through packing and one key's lines stay in order. All groups are sealed together, so the
//! progress of a batch covers everything cut before it.

use super::Entry;
use crate::kinesis::kpl::KplAggregate;
use std::collections::BTreeMap;

/// Keys open at once: beyond, the groups are sealed (memory stays bounded whatever the
/// number of distinct keys).
pub const MAX_OPEN_KEYS: usize = 64;

enum Packed {
    Lines(Vec<u8>),
    Kpl(KplAggregate),
}

impl Packed {
    fn size_with(&self, len: usize) -> usize {
        match self {
            Packed::Lines(data) => data.len() + len + 1,
            Packed::Kpl(aggregate) => aggregate.size_with(aggregate.outer_key(), len),
        }
    }
}

#[derive(Default)]
pub struct KeyGroups {
    groups: BTreeMap<String, Packed>,
    bytes: usize,
}

impl KeyGroups {
    /// Whether a line of `len` bytes with `key` can join the open groups: its group stays
    /// within `record_budget`, all groups within `total_budget`, and the keys within
    /// [`MAX_OPEN_KEYS`].
    pub fn fits(&self, key: &str, len: usize, record_budget: usize, total_budget: usize) -> bool {
        let record = match self.groups.get(key) {
            Some(group) => group.size_with(len),
            None if self.groups.len() >= MAX_OPEN_KEYS => return false,
            None => len + 1,
        };
        record <= record_budget && self.bytes + len < total_budget
    }

    /// Adds a line to its key's record, a KPL aggregate if `kpl`.
    pub fn push(&mut self, key: &str, line: &[u8], kpl: bool) {
        self.bytes += line.len() + 1;
        if !self.groups.contains_key(key) {
            let packed = match kpl {
                true => Packed::Kpl(KplAggregate::new(key.to_owned())),
                false => Packed::Lines(Vec::new()),
            };
            self.groups.insert(key.to_owned(), packed);
        }
        match self.groups.get_mut(key).expect("inserted above") {
            Packed::Lines(data) => {
                data.extend_from_slice(line);
                data.push(b'\n');
            }
            Packed::Kpl(aggregate) => aggregate.push_outer(line),
        }
    }

    /// Seals every group into an entry keyed by its key.
    pub fn drain(&mut self) -> Vec<Entry> {
        self.bytes = 0;
        std::mem::take(&mut self.groups)
            .into_iter()
            .map(|(key, packed)| match packed {
                Packed::Lines(data) => Entry::new(data, key),
                Packed::Kpl(aggregate) => match aggregate.single_record() {
                    Some(data) => Entry::new(data.to_vec(), key),
                    None => Entry::new(aggregate.encode(), key),
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinesis::kpl;

    #[test]
    fn lines_of_a_key_share_a_record_and_keep_their_order() {
        let mut groups = KeyGroups::default();
        for (key, line) in [("a", "1"), ("b", "2"), ("a", "3")] {
            assert!(groups.fits(key, line.len(), 100, 1000));
            groups.push(key, line.as_bytes(), false);
        }
        let entries = groups.drain();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            (entries[0].partition_key.as_str(), &entries[0].data[..]),
            ("a", &b"1\n3\n"[..])
        );
        assert_eq!(
            (entries[1].partition_key.as_str(), &entries[1].data[..]),
            ("b", &b"2\n"[..])
        );
        assert!(groups.drain().is_empty(), "drained");
    }

    #[test]
    fn kpl_groups_hold_one_key_per_aggregate() {
        let mut groups = KeyGroups::default();
        for (key, line) in [("u1", "x"), ("u2", "y"), ("u1", "z")] {
            groups.push(key, line.as_bytes(), true);
        }
        let entries = groups.drain();
        let users = kpl::decode(&entries[0].data).expect("an aggregate");
        assert!(users.iter().all(|u| u.partition_key == "u1"));
        assert_eq!(
            users.iter().map(|u| &u.data[..]).collect::<Vec<_>>(),
            [b"x", b"z"]
        );
        assert_eq!(
            &entries[1].data[..],
            b"y",
            "a lone record is sent as itself"
        );
    }

    #[test]
    fn budgets_and_the_key_count_bound_the_groups() {
        let mut groups = KeyGroups::default();
        groups.push("a", &[b'x'; 10], false);
        assert!(!groups.fits("a", 10, 15, 1000), "the record budget");
        assert!(!groups.fits("b", 10, 100, 15), "the total budget");
        for n in 1..MAX_OPEN_KEYS {
            groups.push(&n.to_string(), b"x", false);
        }
        assert!(!groups.fits("new", 1, 100, 1000), "the key count");
        assert!(groups.fits("a", 1, 100, 1000), "an open key still fits");
    }
}
