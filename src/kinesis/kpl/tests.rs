use super::*;
use proptest::prelude::*;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn worked_example_from_the_format_notes() {
    // A worked example: key table ["h"], records {0, "x"} and {0, "yz"}.
    let mut aggregate = KplAggregate::new("h".into());
    aggregate.push("h", b"x");
    aggregate.push("h", b"yz");
    let encoded = aggregate.encode();
    assert_eq!(hex(&encoded[4..22]), "0a01681a0508001a01781a0608001a02797a");
    assert_eq!(hex(&encoded[22..]), "a7978d7b02713b547686bc6c8eaf699b");
    assert_eq!(encoded.len(), 38);
    assert_eq!(
        aggregate.size(),
        38 + 1,
        "the outer partition key counts too"
    );
}

#[test]
fn required_fields_are_written_even_when_zero_or_empty() {
    let mut aggregate = KplAggregate::new("k".into());
    aggregate.push("k", b"");
    let encoded = aggregate.encode();
    // record: 1A 04 | 08 00 | 1A 00
    assert_eq!(hex(&encoded[7..13]), "1a0408001a00");
    assert_eq!(decode(&encoded).unwrap()[0].data, b"");
}

#[test]
fn a_lone_record_is_available_unaggregated() {
    let mut aggregate = KplAggregate::new("k".into());
    aggregate.push("k", b"only");
    assert_eq!(aggregate.single_record(), Some(&b"only"[..]));
    aggregate.push("k", b"two");
    assert_eq!(aggregate.single_record(), None);
}

#[test]
fn damaged_or_plain_records_pass_through() {
    let mut aggregate = KplAggregate::new("k".into());
    aggregate.push("k", b"line");
    let mut encoded = aggregate.encode();
    assert!(decode(&encoded).is_some());
    let last = encoded.len() - 1;
    encoded[last] ^= 1;
    assert!(decode(&encoded).is_none(), "bad MD5");
    assert!(
        decode(b"plain log line that is long enough").is_none(),
        "no magic"
    );
    assert!(decode(&MAGIC).is_none(), "too short");
}

#[test]
fn hash_key_is_md5_big_endian() {
    // MD5("a") = 0cc175b9c0f1b6a831c399e269772661
    assert_eq!(hash_key("a"), 0x0cc175b9c0f1b6a831c399e269772661);
}

proptest! {
    #[test]
    fn encoding_round_trips_and_sizes_are_exact(
        outer in "[a-z0-9]{1,40}",
        records in proptest::collection::vec(("[a-z]{0,3}", proptest::collection::vec(any::<u8>(), 0..300)), 1..60),
    ) {
        let mut aggregate = KplAggregate::new(outer.clone());
        for (key, data) in &records {
            let predicted = aggregate.size_with(key, data.len());
            aggregate.push(key, data);
            prop_assert_eq!(aggregate.size(), predicted);
        }
        let encoded = aggregate.encode();
        prop_assert_eq!(encoded.len() + outer.len(), aggregate.size());
        let decoded = decode(&encoded).expect("valid aggregate");
        let expected: Vec<UserRecord> = records.iter().map(|(k, d)| UserRecord { partition_key: k.clone(), explicit_hash_key: None, data: d.clone() }).collect();
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn varint_length_matches_encoding(n in any::<u64>()) {
        let mut out = Vec::new();
        put_varint(&mut out, n);
        prop_assert_eq!(out.len(), varint_len(n));
        prop_assert_eq!(Reader { bytes: &out }.varint(), Some(n));
    }
}

#[test]
fn records_keyed_like_the_aggregate_encode_as_with_their_key_spelled_out() {
    let mut by_outer = KplAggregate::new("host-a".into());
    let mut spelled = KplAggregate::new("host-a".into());
    for (key, data) in [("host-a", &b"1"[..]), ("other", b"2"), ("host-a", b"3")] {
        if key == "host-a" {
            by_outer.push_outer(data);
        } else {
            by_outer.push(key, data);
        }
        spelled.push(key, data);
        assert_eq!(by_outer.size(), spelled.size());
        assert_eq!(
            by_outer.size_with("host-a", 9),
            spelled.size_with("host-a", 9)
        );
    }
    assert_eq!(by_outer.encode(), spelled.encode());
}
